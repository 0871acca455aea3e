"""The jax path's fault variants equal the manual ones, and diagnose alike.

Each knob-expressed fault's run (:func:`comparisons.faults.jax_variants.run_jax_variants`,
one compiled float64 program per experiment) is compared with the manual variant
(:func:`comparisons.faults.variants.run_variant`, the bug as one replaced method of the
pure-Python reference, an independent computation) over every recorded series.

Tolerance: the comparator's float64 rule (``compare_trajectories`` at float64: 1e-12
relative to each group's scale), the criterion the diagnosis itself applies to a
variant. JAX sums per-example terms in another order (XLA's reductions and matrix
products, ``g_sum / n`` for ``sum / n``, ``lr * (rule at rate 1)`` for ``rule at lr``)
than the manual left folds: the two differ by a few ulp of the summed terms, far
inside it, while every fault here moves a value by orders of magnitude more (the
gallery's table).

Four small experiments cover every knob (:data:`EXPERIMENTS`; a test checks that each
knob-expressed fault of :data:`VARIANTS` runs on one of them), each one compile,
shared by every test here through ``lru_cache`` and ``jax.jit``'s cache: the
diagnosis's own batch (every knob fault that applies, and the run without any) is
the batch the equality tests run.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import comparisons.reference_choice as reference_choice
from comparisons.check import check
from comparisons.compare import compare_trajectories
from comparisons.experiments import REGISTRY
from comparisons.faults import VARIANTS, diagnose, fault_variants, run_variant
from comparisons.faults import diagnosis as diagnosis_module
from comparisons.faults.jax_variants import (
    STRUCTURAL,
    jax_faults,
    run_jax_variants,
    unsupported,
)
from functional_training import initial_values

_MOONS = REGISTRY["mlp/moons"]
_TANH = REGISTRY["mlp/tanh-regression"]
_SOFTMAX = REGISTRY["softmax/delay-class"]
_LOGISTIC = REGISTRY["logistic/late-shipments"]

_SMALL = {"sizes": (2, 4, 4, 1), "activation": "relu"}
RELU_HINGE = dataclasses.replace(
    _MOONS, name="moons[2-4-4-1, 8 points, 4 steps]", train=_MOONS.train[:8], steps=4,
    l2=1e-2, model_settings=_SMALL, init=initial_values("mlp", init="seeded", seed=0, **_SMALL),
    schedule={"kind": "linear", "init_value": 1.0, "end_value": 0.1, "transition_steps": 4,
              "transition_begin": 0})
"""2-4-4-1 ReLU, hinge, L2, SGD on a falling rate, full batch: the ReLU, hinge, L2,
schedule and detached-layer faults."""

TANH_ADAM = dataclasses.replace(
    _TANH, name="tanh[adam, decay, l2, 8 steps]", steps=8, l2=1e-3,
    hyperparams={**_TANH.hyperparams, "weight_decay": 0.01})
"""1-8-1 tanh, half squared error, Adam with a coupled decay, L2, batches of 2 over two
epochs, validation: tanh, the loss's half, the reductions, the batch order, Adam's."""

SOFTMAX = dataclasses.replace(_SOFTMAX, name="softmax[3 steps]", steps=3)
"""Softmax cross-entropy, momentum, batches of 4: the softmax faults."""

LARGE_LOGITS = dataclasses.replace(
    SOFTMAX, name="softmax[weights x1000, 3 steps]",
    init={n: 1000.0 * v if ".w" in n else v for n, v in SOFTMAX.init.items()})
"""The same with logits in the thousands: ``exp`` overflows without ``- max z`` (the
same shapes: the same compiled program)."""

LOGISTIC_ADAMW = dataclasses.replace(
    _LOGISTIC, name="logistic[adamw, 5 steps]", steps=5, optimizer="adamw",
    hyperparams={"learning_rate": 0.1, "b1": 0.9, "b2": 0.999, "eps": 1e-8,
                 "weight_decay": 0.1})
"""A line on two features, binary cross-entropy, AdamW: the sigmoid and decoupled decay."""

EXPERIMENTS = (RELU_HINGE, TANH_ADAM, SOFTMAX, LARGE_LOGITS, LOGISTIC_ADAMW)


def _knob_faults(experiment) -> list[str]:
    applying = [VARIANTS[name] for name in fault_variants(experiment)]
    return [f.name for f in jax_faults(experiment, applying)]


@pytest.fixture(scope="module")
def runs():
    """Per experiment: the manual runs of every fault that applies, and the jax batch."""
    found = {}
    for e in EXPERIMENTS:
        manual = {name: run_variant(e, name) for name in fault_variants(e)}
        manual[None] = run_variant(e, None)
        found[e.name] = manual, run_jax_variants(e, [None, *_knob_faults(e)])
    return found


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda e: e.name)
def test_every_knob_fault_equals_its_manual_variant(runs, experiment):
    manual, jax_runs = runs[experiment.name]
    assert len(jax_runs) > 1
    differ = {}
    for fault, record in jax_runs.items():
        verdict = compare_trajectories(experiment, {"manual": manual[fault], "jax": record})
        if not verdict.agree:
            differ[fault] = verdict.first_mismatch
    assert differ == {}


def test_every_fault_but_the_structural_ones_is_a_knob_of_some_experiment():
    covered = {name for e in EXPERIMENTS for name in _knob_faults(e)}
    assert covered == set(VARIANTS) - set(STRUCTURAL)


def test_the_overflow_without_max_subtraction_is_the_manual_one(runs):
    # The broken softmax's inf / inf = nan reaches the gradient at step 0 on both paths.
    manual, jax_runs = runs[LARGE_LOGITS.name]
    fault = "softmax-without-max-subtraction"
    first = next(iter(jax_runs[fault].grads))
    assert np.isnan(jax_runs[fault].grads[first][0]) == np.isnan(manual[fault].grads[first][0])
    assert any(np.isnan(series[0]) for series in jax_runs[fault].grads.values())


def test_a_fitted_wrong_rate_is_a_knob_too(runs):
    # run in a batch of the diagnosis's width: the compiled program is the fixture's
    variant = diagnosis_module.wrong_learning_rate(0.25)
    width = len(_knob_faults(TANH_ADAM)) + 1
    record = run_jax_variants(TANH_ADAM, [variant], width=width)["wrong-learning-rate"]
    verdict = compare_trajectories(TANH_ADAM, {"manual": variant.run(TANH_ADAM), "jax": record})
    assert verdict.agree, verdict.first_mismatch


def test_what_the_program_cannot_run_is_said():
    assert unsupported(RELU_HINGE) is None
    assert unsupported(REGISTRY["shared-path"]) == ("a training run (kind train) only, "
                                                    "not shared-path")
    assert unsupported(REGISTRY["gradient-accumulation"]).startswith("a training run")
    summed = dataclasses.replace(TANH_ADAM, reduction="sum")
    assert unsupported(summed).startswith("a mean loss only")
    kept = dataclasses.replace(TANH_ADAM, train=TANH_ADAM.train[:9], last_batch="keep")
    assert unsupported(kept) == "batches of one size only (a lax.scan over (S, B) indices)"
    with pytest.raises(ValueError, match="fault overwrite-not-accumulate is not a knob"):
        run_jax_variants(RELU_HINGE, ["overwrite-not-accumulate"])


# --- the diagnosis is the same whichever path ran the variants -------------------------------

DIAGNOSED = [  # (experiment, the fault planted in the trajectory: the manual variant's run)
    (RELU_HINGE, "relu-gradient-where-negative-hinge"),
    (RELU_HINGE, "stale-gradient-step-before-backward"),
    (TANH_ADAM, "adamw-not-adam"),
    (TANH_ADAM, "batch-order-not-reshuffled"),
    (TANH_ADAM, "overwrite-not-accumulate"),  # manual on both paths (not a knob)
    (SOFTMAX, "double-softmax"),
    (LOGISTIC_ADAMW, "bias-left-out-of-weight-decay"),
    (LOGISTIC_ADAMW, None),  # agrees: no diagnosis
]


def _outcome(found) -> tuple:
    return tuple(found), found.signature


@pytest.mark.parametrize(("experiment", "fault"), DIAGNOSED,
                         ids=[f"{e.name}-{f}" for e, f in DIAGNOSED])
def test_the_diagnosis_is_the_same_on_either_path(runs, experiment, fault):
    manual, _ = runs[experiment.name]
    theirs = manual[fault]
    on_manual = diagnose(experiment, theirs, reference=manual[None], variants="manual",
                         runs={n: r for n, r in manual.items() if n is not None})
    on_jax = diagnose(experiment, theirs, reference=manual[None], variants="jax")
    assert _outcome(on_jax) == _outcome(on_manual)
    assert (on_manual.variants, on_jax.variants) == ("manual", "jax")
    if fault is not None:
        (named,) = [d for d in on_jax if d.named]
        assert named.fault == VARIANTS[fault].family


def test_a_partial_trajectory_later_off_gets_the_same_candidates(runs):
    # The planted fault's run, off by 1e-3 from step 2: no fault agrees throughout, so
    # the candidates are those agreeing longest, on either path.
    manual, _ = runs[TANH_ADAM.name]
    theirs = manual["step-called-twice"]
    later = {n: list(v[:2]) + [x * 1.001 for x in v[2:]] for n, v in theirs.params.items()}
    theirs = dataclasses.replace(theirs, params=later)
    known = {n: r for n, r in manual.items() if n is not None}
    on_manual = diagnose(TANH_ADAM, theirs, reference=manual[None], variants="manual",
                         runs=known)
    on_jax = diagnose(TANH_ADAM, theirs, reference=manual[None], variants="jax")
    assert not any(d.named for d in on_jax)
    assert _outcome(on_jax) == _outcome(on_manual)


def test_past_the_manual_limit_the_structural_faults_are_not_weighed(runs, monkeypatch):
    monkeypatch.setattr(diagnosis_module, "MAX_VARIANT_WORK", 10)
    manual, _ = runs[TANH_ADAM.name]
    found = diagnose(TANH_ADAM, manual["sum-not-mean"], reference=manual[None],
                     variants="jax")
    assert found.not_weighed == ("overwrite-not-accumulate",
                                 "update-in-place-before-all-gradients",
                                 "validation-in-gradient")
    assert [d.fault for d in found if d.named] == ["sum-not-mean"]
    line = diagnosis_module.describe_diagnoses(found)
    assert line.endswith("[fault variants weighed on jax in float64; not weighed at this "
                         "size: overwrite-not-accumulate, update-in-place-before-all-gradients, "
                         "validation-in-gradient]")


def test_the_jax_path_refuses_what_it_cannot_run():
    with pytest.raises(ValueError, match="shared-path: the jax fault variants take a "
                                         "training run"):
        diagnose(REGISTRY["shared-path"], run_variant(REGISTRY["shared-path"], None),
                 variants="jax")
    with pytest.raises(ValueError, match="variants must be one of manual, jax, got 'torch'"):
        diagnose(RELU_HINGE, run_variant(RELU_HINGE, None), variants="torch")


def test_check_diagnoses_a_run_past_the_manual_reference_where_diagnosable(runs, monkeypatch):
    # check's reference is jax (float64) past manual's limit; the diagnosis still runs
    # where its variants can (here on manual: the run is small) and names the fault.
    monkeypatch.setattr(reference_choice, "MANUAL_WORK_LIMIT", 1)
    manual, _ = runs[LOGISTIC_ADAMW.name]
    theirs = manual["bias-gradient-sign"]
    verdict = check(LOGISTIC_ADAMW, {"params": dict(theirs.params),
                                     "grads": dict(theirs.grads)})
    assert verdict.reference == "jax"
    assert not verdict.reference_reason.endswith("diagnosis not run at this size")
    assert [d.fault for d in verdict.diagnoses if d.named] == ["bias-gradient-sign"]
