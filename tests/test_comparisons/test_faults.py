"""The fault gallery: every classic bug is caught, where it should be, and only because of the bug.

Expected values come from the independent NumPy reference (tests/numpy_reference.py)
or from the lesson's printed numbers, never from the code under test.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from lesson_fixture import lesson_blocks, numbers
from numpy_reference import numpy_sgd

import comparisons.faults
from comparisons.backends import get_backend
from comparisons.experiments import REGISTRY
from comparisons.faults import FAULTS, Fault, check_fault, check_faults

TOLERANCE = 1e-12  # the float64 policy: independent float64 computations agree to ~1e-15


def _full_batch_reference():
    experiment = FAULTS["bias-gradient-sign"].experiment()
    return numpy_sgd(
        experiment.init["w"], experiment.init["b"], experiment.xs, experiment.ys,
        experiment.learning_rate, experiment.steps,
    )


def test_the_gallery_has_the_six_classic_bugs_then_the_next_lessons_five():
    assert list(FAULTS) == [
        "overwrite-not-accumulate", "gradients-not-cleared", "bias-gradient-sign",
        "loss-missing-half", "sum-not-mean", "update-before-loss",
        "tanh-derivative-missing-square", "bias-gradient-not-summed",
        "softmax-without-max-subtraction", "relu-gradient-where-negative",
        "l2-missing-from-gradient",
    ]


def _documented_places() -> dict[str, tuple[int, str]]:
    """The module docstring's table: fault -> (step, quantity) of "where it shows"."""
    rows = re.findall(r"^([a-z0-9-]+) .* step (\d+), (\S+)$", comparisons.faults.__doc__,
                      flags=re.MULTILINE)
    return {name: (int(step), quantity) for name, step, quantity in rows}


def test_the_docstring_table_says_where_each_fault_shows_as_measured():
    documented = _documented_places()
    assert list(documented) == list(FAULTS)
    for result in check_faults():
        m = result.broken.first_mismatch
        assert (m.step, m.quantity) == documented[result.fault.name], result.fault.name


def test_a_fault_runs_the_registry_experiment_or_its_factorys_named_one():
    assert FAULTS["sum-not-mean"].experiment() is REGISTRY["full-batch"]
    for fault in FAULTS.values():
        experiment = fault.experiment()
        assert experiment.name == fault.experiment_name
        # A changed copy never carries a registry name, so no registry reference is reused.
        assert (fault.experiment_factory is None) == (experiment.name in REGISTRY)
    wrong = Fault("misnamed", "a factory whose experiment has another name", "full-batch",
                  FAULTS["sum-not-mean"].run, lambda: REGISTRY["five-steps"])
    with pytest.raises(ValueError, match="builds 'five-steps', not 'full-batch'"):
        wrong.experiment()


@pytest.mark.parametrize("name", list(FAULTS))
def test_every_fault_is_caught_and_its_correct_variant_agrees(name):
    result = check_fault(FAULTS[name])
    assert result.caught
    assert not result.broken.agree
    assert result.correct.agree, result.correct.describe()
    assert result.correct.largest_diff <= TOLERANCE


def test_overwrite_fault_gives_a_times_a_the_gradient_of_one_path():
    result = check_fault(FAULTS["overwrite-not-accumulate"])
    m = result.broken.first_mismatch
    # The lesson prints d(a*a)/da=6.0; one path alone is a = 3.
    (lesson_gradient,) = numbers(lesson_blocks()["shared-path"][1])
    assert (m.step, m.quantity, m.expected, m.actual) == (0, "grads.a", lesson_gradient, 3.0)


def test_uncleared_gradients_show_at_step_one_as_the_sum_of_two_gradients():
    ref = _full_batch_reference()
    m = check_fault(FAULTS["gradients-not-cleared"]).broken.first_mismatch
    assert (m.step, m.quantity) == (1, "grads.w")
    assert m.expected == pytest.approx(ref["grad_w"][1], rel=TOLERANCE, abs=TOLERANCE)
    assert m.actual == pytest.approx(ref["grad_w"][0] + ref["grad_w"][1], rel=TOLERANCE)


def test_wrong_bias_sign_shows_at_step_zero_with_the_sign_flipped():
    ref = _full_batch_reference()
    m = check_fault(FAULTS["bias-gradient-sign"]).broken.first_mismatch
    assert (m.step, m.quantity) == (0, "grads.b")
    assert m.expected == pytest.approx(ref["grad_b"][0], rel=TOLERANCE)
    assert m.actual == pytest.approx(-ref["grad_b"][0], rel=TOLERANCE)


@pytest.mark.parametrize(("name", "factor"), [("loss-missing-half", 2.0), ("sum-not-mean", 3.0)])
def test_scaled_gradients_show_at_step_zero(name, factor):
    # No 1/2: the gradient doubles. Sum over the three shipments instead of mean: x3.
    ref = _full_batch_reference()
    m = check_fault(FAULTS[name]).broken.first_mismatch
    assert (m.step, m.quantity) == (0, "grads.w")
    assert m.expected == pytest.approx(ref["grad_w"][0], rel=TOLERANCE)
    assert m.actual == pytest.approx(factor * ref["grad_w"][0], rel=TOLERANCE)


def test_loss_recorded_after_the_update_is_the_next_steps_loss():
    ref = _full_batch_reference()
    m = check_fault(FAULTS["update-before-loss"]).broken.first_mismatch
    assert (m.step, m.quantity) == (0, "batch_loss")
    # The lesson's printed losses: 13.8333 before the first update, 4.2812 after it.
    lesson = [numbers(line) for line in lesson_blocks()["full-batch"]]
    assert m.expected == pytest.approx(lesson[0][0], abs=5e-5)  # printed to 4 decimals
    assert m.actual == pytest.approx(lesson[1][0], abs=5e-5)
    assert m.actual == pytest.approx(ref["train_loss"][1], rel=TOLERANCE)


def test_check_faults_reuses_given_reference_trajectories():
    manual = get_backend("manual")
    references = {f.experiment_name: manual.run(f.experiment()) for f in FAULTS.values()}
    results = check_faults(reference_trajectories=references)
    assert [r.fault.name for r in results] == list(FAULTS)
    assert all(r.caught for r in results)


def test_a_reference_that_does_not_match_the_correct_variant_means_not_caught():
    # If the harness itself disagreed (here: a reference run of another experiment), a
    # mismatch would prove nothing: the fault must then count as not caught.
    fault = FAULTS["sum-not-mean"]
    other = get_backend("manual").run(FAULTS["overwrite-not-accumulate"].experiment())
    result = check_fault(fault, reference_trajectory=other)
    assert not result.correct.agree
    assert not result.caught


def test_faulty_runs_record_the_contract_lengths():
    for fault in FAULTS.values():
        for broken in (True, False):
            trajectory = fault.run(fault.experiment(), broken=broken)
            trajectory.check_lengths()
            assert trajectory.steps == fault.experiment().steps
            # Only the softmax overflow is non-finite, and only in its broken variant.
            overflows = broken and fault.name == "softmax-without-max-subtraction"
            assert np.isfinite(trajectory.batch_loss).all() != overflows, fault.name
