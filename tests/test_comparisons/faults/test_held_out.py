"""The held-out table: bugs planted in loops written apart from the gallery, caught and named.

Each row is a bug planted in a user's own loop (:mod:`held_out_numpy`, NumPy;
:mod:`held_out_torch`, PyTorch, where installed; :mod:`held_out_engine`, a scalar
autograd engine of its own: each written from the formulas or the framework's
documentation and never from comparisons' code or its fault variants), the
experiment it runs, and the gallery fault it is (``None``: no gallery entry covers
it; a kind the gallery does not hold counts as ``None``, so the right diagnosis for
it is "no known fault"). The loop's trajectory (parameters, the gradient each
step used, the batch loss, the batches where there are mini-batches: what a
user records) goes through :func:`comparisons.check` as a user's would. The
table's measure:

- caught: every planted bug mismatches (100%), every correct loop agrees;
- named (top-1): the diagnosis names the row's fault, or, for a bug with no
  gallery entry, names none ("no known fault"): at least 95% of rows;
- wrong names: a named fault that is not the row's: none.

The figure is printed (``-s``) and written to ``held_out.json`` under pytest's
``tmp_path`` for the docs. The same rows with only the parameters supplied (and the
batches) may leave more bugs unnamed -- a rate twice the spec's and ``step()`` twice
move SGD's parameters alike -- but still name no wrong one.

Tolerance: the comparator's float64 rule (``functional_training.tolerance``, 1e-12
relative to each group's scale). NumPy's matrix products sum in another order
than the reference's loops: a few ulp, far inside it; every bug is far outside it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json

import numpy as np
import pytest

from comparisons.check import check
from comparisons.experiments import REGISTRY
from comparisons.faults import VARIANTS
from test_comparisons.faults import held_out_engine, held_out_numpy

if importlib.util.find_spec("torch") is not None:  # torch is an extra: its rows need it
    from test_comparisons.faults import held_out_torch
else:
    held_out_torch = None

# --- the experiments: small, so that every applicable variant runs in milliseconds -------------


def _mlp_init(sizes, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    init = {}
    for n, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        w = rng.normal(0.0, 1.0 / np.sqrt(fan_in), size=(fan_in, fan_out))
        init.update({f"layers.{n}.w[{i},{j}]": float(w[i, j])
                     for i in range(fan_in) for j in range(fan_out)})
        b = rng.normal(0.0, 0.1, size=fan_out)
        init.update({f"layers.{n}.b[{j}]": float(b[j]) for j in range(fan_out)})
    return init


def _mlp_leaves(sizes) -> tuple[str, ...]:
    return tuple(f"layers.{n}.{p}" for n in range(len(sizes) - 1) for p in ("w", "b"))


_MINI = REGISTRY["mini-batch"]
LINE = dataclasses.replace(
    _MINI, name="held-out/line", train=_MINI.train[:6], init={"w": 0.5, "b": 0.25},
    hyperparams={"learning_rate": 0.05}, steps=7, batch_size=2, seed=3,
    validation=REGISTRY["full-batch"].train)
"""A line, six shipments in batches of 2 (3 per epoch: a second epoch from step 3), SGD."""

LINE3 = dataclasses.replace(LINE, name="held-out/line-batches-of-3", batch_size=3, steps=4,
                            validation=None)
"""The same line in batches of 3, no validation set."""

_SHIPMENTS = REGISTRY["multi-feature/shipments"]
MULTI_L2 = dataclasses.replace(
    _SHIPMENTS, name="held-out/3-features-l2", train=_SHIPMENTS.train[:8], validation=None,
    init={"w[0]": 0.3, "w[1]": -0.2, "w[2]": 0.1, "b": 0.5}, optimizer="sgd",
    hyperparams={"learning_rate": 0.02}, steps=4, l2=0.05, batch_size=None)
"""Three features, eight shipments full batch, SGD, L2 0.05."""

_FULL = REGISTRY["full-batch"]
ADAM = dataclasses.replace(
    REGISTRY["optimizer/adam"], name="held-out/adam", init={"w": 0.5, "b": 1.0}, steps=4)
"""The lesson's three shipments, Adam, from (0.5, 1.0)."""

SCHEDULE = dataclasses.replace(
    _FULL, name="held-out/schedule", init={"w": 0.5, "b": 0.25}, steps=4, hyperparams={},
    schedule={"kind": "linear", "init_value": 0.05, "end_value": 0.01, "transition_steps": 4,
              "transition_begin": 0})
"""Three shipments, SGD with a linear schedule 0.05 -> 0.01 over 4 steps."""

_TANH = REGISTRY["mlp/tanh-regression"]
TANH = dataclasses.replace(
    _TANH, name="held-out/tanh", train=_TANH.train[:6], validation=None, steps=4, seed=11,
    model_settings={"sizes": (1, 4, 1), "activation": "tanh"},
    init=_mlp_init((1, 4, 1), 1), trainable=_mlp_leaves((1, 4, 1)))
"""1-4-1 tanh, Adam, six shipments in batches of 2."""

RELU = dataclasses.replace(
    MULTI_L2, name="held-out/relu", train=tuple((*r[:2], r[3]) for r in _SHIPMENTS.train[:8]),
    model="mlp", model_settings={"sizes": (2, 4, 1), "activation": "relu"},
    init=_mlp_init((2, 4, 1), 2), trainable=_mlp_leaves((2, 4, 1)), l2=0.001, steps=3,
    hyperparams={"learning_rate": 0.01})
"""2-4-1 ReLU regression on two features of eight shipments, SGD, L2 0.001."""

_MOONS = REGISTRY["mlp/moons"]
HINGE = dataclasses.replace(
    _MOONS, name="held-out/hinge", train=_MOONS.train[:12], schedule=None,
    hyperparams={"learning_rate": 0.5}, steps=3, l2=0.001,
    model_settings={"sizes": (2, 4, 1), "activation": "relu"},
    init=_mlp_init((2, 4, 1), 3), trainable=_mlp_leaves((2, 4, 1)))
"""2-4-1 ReLU, hinge + L2 0.001, twelve moons points, SGD 0.5."""

_SOFTMAX = REGISTRY["softmax/delay-class"]
SOFTMAX = dataclasses.replace(
    _SOFTMAX, name="held-out/softmax", train=_SOFTMAX.train[:8], validation=None,
    optimizer="sgd", hyperparams={"learning_rate": 0.05}, steps=3, batch_size=4)
"""Three delay classes from three features (softmax regression), batches of 4, SGD."""

SOFTMAX_BIG = dataclasses.replace(
    SOFTMAX, name="held-out/softmax-large-logits", steps=2, batch_size=None,
    init={n: 1000.0 * v for n, v in SOFTMAX.init.items()})
"""The same with weights x1000: logits in the thousands."""

_LOGISTIC = REGISTRY["logistic/late-shipments"]
LOGISTIC = dataclasses.replace(
    _LOGISTIC, name="held-out/logistic", train=_LOGISTIC.train[:8], validation=None, steps=3,
    init={"w[0]": 0.1, "w[1]": -0.2, "b": 0.05})
"""Late or not from two features, binary cross-entropy on a logit, SGD 0.5."""

SQUARED = dataclasses.replace(LINE3, name="held-out/squared-error", loss="squared-error")
"""The line in batches of 3 with ``(s - t)^2`` (``nn.MSELoss``'s loss)."""

EXPERIMENTS = (LINE, LINE3, MULTI_L2, ADAM, SCHEDULE, TANH, RELU, HINGE, SOFTMAX, SOFTMAX_BIG,
               LOGISTIC, SQUARED)

# --- the table ---------------------------------------------------------------------------------

TABLE = [
    # (experiment, planted bug, the gallery's fault or None)
    (LINE, "no-zero-grad", "gradients-not-cleared"),
    (LINE, "bias-sign", "bias-gradient-sign"),
    (LINE3, "no-half", "loss-missing-half"),  # on batches of 2: reduction='sum' exactly
    (LINE, "grad-sum", "sum-not-mean"),
    (LINE, "loss-after-update", "update-before-loss"),
    (LINE, "bias-last-example", "bias-gradient-not-summed"),
    (LINE, "lr-squared", "learning-rate-applied-twice"),
    (LINE, "divided-twice", "batch-size-divided-twice"),
    (LINE, "in-place-leaf-by-leaf", "update-in-place-before-all-gradients"),
    (LINE, "same-order-every-epoch", "batch-order-not-reshuffled"),
    (LINE, "validation-trained-on", "validation-in-gradient"),
    (LINE, "update-sign", "update-sign-flipped"),
    (LINE, "lr-times-10", "wrong-learning-rate"),
    (LINE, "lr-halved", "wrong-learning-rate"),
    (ADAM, "lr-halved", "wrong-learning-rate"),
    (LINE, "stale-gradient", "stale-gradient"),
    (LINE, "zero-grad-before-step", "gradients-cleared-before-step"),
    (LINE, "step-twice", "step-called-twice"),
    (LINE, "last-batch-skipped", "last-batch-skipped"),
    (LINE, "momentum", None),
    (LINE, "clip-norm", None),
    (LINE, "target-shift", None),
    (LINE, "weights-doubled", None),
    (LINE, "noise", None),
    (LINE, "bias-rate-x10", None),
    (LINE, "lr-decay", None),
    (LINE, "frozen-bias", None),
    (LINE, "first-batch-always", None),
    (LINE3, "reduction-sum", "sum-not-mean"),
    (LINE3, "grad-sum", "sum-not-mean"),
    (LINE3, "n-minus-one", None),
    (MULTI_L2, "l2-not-in-gradient", "l2-missing-from-gradient"),
    (MULTI_L2, "l2-twice", "l2-applied-twice"),
    (MULTI_L2, "l2-written-twice", "l2-applied-twice"),
    (MULTI_L2, "l2-only-as-decay", "l2-as-weight-decay"),
    (MULTI_L2, "l2-weights-only", "bias-left-out-of-weight-decay"),
    (MULTI_L2, "l1-not-l2", None),
    (MULTI_L2, "bias-sign", "bias-gradient-sign"),
    (ADAM, "adamw-default-decay", "adamw-not-adam"),
    (ADAM, "lr-squared", "learning-rate-applied-twice"),
    (ADAM, "step-twice", "step-called-twice"),
    (ADAM, "eps-inside-sqrt", None),
    (ADAM, "no-bias-correction", None),
    (SCHEDULE, "schedule-not-stepped", "schedule-not-stepped"),
    (TANH, "tanh-1-minus-t", "tanh-derivative-missing-square"),
    (TANH, "bias-sign", "bias-gradient-sign"),
    (TANH, "detach-hidden", "hidden-layer-detached"),
    (TANH, "in-place-leaf-by-leaf", "update-in-place-before-all-gradients"),
    (TANH, "no-zero-grad", "gradients-not-cleared"),
    (RELU, "relu-mask-missing", "relu-gradient-where-negative"),
    (RELU, "l2-not-in-gradient", "l2-missing-from-gradient"),
    (RELU, "detach-hidden", "hidden-layer-detached"),
    (HINGE, "relu-mask-missing", "relu-gradient-where-negative"),
    (HINGE, "relu-everywhere", "relu-gradient-where-negative"),
    (SOFTMAX, "double-softmax", "double-softmax"),
    (SOFTMAX, "bias-last-example", "bias-gradient-not-summed"),
    (SOFTMAX, "weights-doubled", None),
    (SOFTMAX_BIG, "no-max-shift", "softmax-without-max-subtraction"),
    (LOGISTIC, "bce-on-probabilities", "sigmoid-applied-twice"),
    (LOGISTIC, "bias-sign", "bias-gradient-sign"),
    (LOGISTIC, "noise", None),
]
"""The NumPy loop's rows (:mod:`held_out_numpy`)."""

TORCH_TABLE = [
    (LINE, "no-zero-grad", "gradients-not-cleared"),
    (LINE, "zero-grad-before-step", "gradients-cleared-before-step"),
    (LINE, "step-twice", "step-called-twice"),
    (LINE, "stale-gradient", "stale-gradient"),
    (LINE, "update-sign", "update-sign-flipped"),
    (LINE, "momentum", None),
    (LINE, "clip-norm", None),
    (LINE3, "mse-for-half", "loss-missing-half"),
    (SQUARED, "mse-reduction-sum", "sum-not-mean"),
    (MULTI_L2, "l2-and-weight-decay", "l2-applied-twice"),
    (RELU, "l2-only-as-decay", "l2-as-weight-decay"),
    (ADAM, "adamw-default-decay", "adamw-not-adam"),
    (SCHEDULE, "schedule-not-stepped", "schedule-not-stepped"),
    (TANH, "detach-hidden", "hidden-layer-detached"),
    (RELU, "detach-hidden", "hidden-layer-detached"),
    (SOFTMAX, "double-softmax", "double-softmax"),
    (SOFTMAX, "label-smoothing", None),
    (LOGISTIC, "bce-on-probabilities", "sigmoid-applied-twice"),
]
"""The PyTorch loop's rows (:mod:`held_out_torch`), where torch is installed."""

ENGINE_TABLE = [
    (LINE, "overwrite", "overwrite-not-accumulate"),
    (LINE3, "overwrite", "overwrite-not-accumulate"),
]
"""The own-engine loop's rows (:mod:`held_out_engine`): ``+=`` -> ``=`` on a spec."""

LOOPS = {"numpy": held_out_numpy, "torch": held_out_torch, "engine": held_out_engine}
ROWS = [("numpy", *row) for row in TABLE] + [("engine", *row) for row in ENGINE_TABLE] + (
    [("torch", *row) for row in TORCH_TABLE] if held_out_torch is not None else [])


def parameters_only(trajectory: dict) -> dict:
    """The parameters (and the batches, where recorded): the least a user may supply."""
    return {key: trajectory[key] for key in ("params", "batches") if key in trajectory}


class Row:
    """One planted bug's outcome: caught? which fault named (``None``: no known fault)?"""

    def __init__(self, loop: str, experiment, bug: str, kind: str | None, *,
                 supplied=lambda trajectory: trajectory) -> None:
        verdict = check(experiment, supplied(LOOPS[loop].train(experiment, bug)))
        self.experiment, self.bug = f"{loop}: {experiment.name}", bug
        # A kind the gallery does not hold is rightly "no known fault".
        self.expected = kind if kind in VARIANTS else None
        self.caught = not verdict.agree
        named = [d.fault for d in verdict.diagnoses if d.named]
        self.named = named[0] if named else None
        self.line = verdict.diagnosis_lines()[0] if self.caught else "(agrees)"

    @property
    def right(self) -> bool:
        return self.caught and self.named == self.expected

    @property
    def wrong_name(self) -> bool:
        return self.named is not None and self.named != self.expected


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return [Row(*row) for row in ROWS]


def test_the_table_is_large_and_covers_the_gallery():
    assert len(TABLE) >= 40
    assert sum(1 for _, _, expected in TABLE if expected is None) >= 8
    rows = [*TABLE, *TORCH_TABLE, *ENGINE_TABLE]
    named = {expected for _, _, expected in rows if expected is not None}
    # Every gallery fault (a family's forms by the family's name) has a row.
    assert {getattr(v, "family", None) or name for name, v in VARIANTS.items()} <= named


@pytest.mark.parametrize("loop", ["numpy", "torch", "engine"])
@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda e: e.name)
def test_each_correct_loop_agrees(loop, experiment):
    if LOOPS[loop] is None:
        pytest.skip("torch is not installed")
    if loop == "engine" and experiment not in (LINE, LINE3):
        pytest.skip("the engine loop trains the line with SGD only")
    verdict = check(experiment, LOOPS[loop].train(experiment), diagnosis=False)
    assert verdict.agree, verdict.describe()


def test_every_planted_bug_is_caught_and_named(rows, tmp_path):
    caught = sum(r.caught for r in rows)
    right = sum(r.right for r in rows)
    wrong = [r for r in rows if r.wrong_name]
    accuracy = right / len(rows)
    report = {"rows": len(rows), "caught": caught, "top1": right, "accuracy": accuracy,
              "wrong_names": len(wrong),
              "misses": [f"{r.experiment} {r.bug}: expected {r.expected}, {r.line}"
                         for r in rows if not r.right]}
    (tmp_path / "held_out.json").write_text(json.dumps(report, indent=1))
    print(f"\nheld-out table: {len(rows)} planted bugs, {caught} caught, {right} named right "
          f"(top-1 {accuracy:.1%}), {len(wrong)} wrong names")
    for miss in report["misses"]:
        print("  miss:", miss)
    assert caught == len(rows), [r.bug for r in rows if not r.caught]
    assert not wrong, [(r.experiment, r.bug, r.named) for r in wrong]
    assert accuracy >= 0.95, report["misses"]


def test_with_only_the_parameters_no_bug_gets_a_wrong_name():
    rows = [Row(*row, supplied=parameters_only) for row in ROWS]
    wrong = [(r.experiment, r.bug, r.named) for r in rows if r.wrong_name]
    right = sum(r.right for r in rows)
    print(f"\nheld-out table, parameters only: {len(rows)} planted bugs, "
          f"{sum(r.caught for r in rows)} caught, {right} named right, {len(wrong)} wrong names")
    assert not wrong
