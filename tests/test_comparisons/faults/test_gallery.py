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

import comparisons.faults.gallery
from comparisons.backends import get_backend
from comparisons.experiments import REGISTRY
from comparisons.faults import FAULTS, VARIANTS, Fault, check_fault, check_faults

TOLERANCE = 1e-12  # the float64 policy: independent float64 computations agree to ~1e-15


def _full_batch_reference():
    experiment = FAULTS["bias-gradient-sign"].experiment()
    return numpy_sgd(
        experiment.init["w"], experiment.init["b"], experiment.xs, experiment.ys,
        experiment.learning_rate, experiment.steps,
    )


def test_the_gallery_has_the_six_classic_bugs_the_next_lessons_five_then_six_more():
    assert list(FAULTS) == [
        "overwrite-not-accumulate", "gradients-not-cleared", "bias-gradient-sign",
        "loss-missing-half", "sum-not-mean", "update-before-loss",
        "tanh-derivative-missing-square", "bias-gradient-not-summed",
        "softmax-without-max-subtraction", "relu-gradient-where-negative",
        "l2-missing-from-gradient",
        "learning-rate-applied-twice", "batch-size-divided-twice",
        "update-in-place-before-all-gradients", "batch-order-not-reshuffled",
        "validation-in-gradient", "bias-left-out-of-weight-decay",
    ]
    assert list(FAULTS) == list(VARIANTS)  # every variant has its demonstration


def _documented_places() -> dict[str, tuple[int, str]]:
    """The module docstring's table: fault -> (step, quantity) of "where it shows"."""
    rows = re.findall(r"^([a-z0-9-]+) .* step (\d+), (\S+)$", comparisons.faults.gallery.__doc__,
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


# --- the six faults users make that the first gallery lacked ---------------------------------


def _mismatch(name):
    return check_fault(FAULTS[name]).broken.first_mismatch


def test_rate_applied_twice_moves_by_lr_squared_times_the_gradient():
    ref = _full_batch_reference()
    experiment = FAULTS["learning-rate-applied-twice"].experiment()
    m = _mismatch("learning-rate-applied-twice")
    assert (m.step, m.quantity) == (1, "params.w")  # step 0's values are all taken before it
    assert m.expected == pytest.approx(ref["w"][1], rel=TOLERANCE)
    lr = experiment.learning_rate
    assert m.actual == pytest.approx(ref["w"][0] - lr * lr * ref["grad_w"][0], rel=TOLERANCE)


def test_batch_size_divided_twice_shrinks_the_gradient_by_n():
    ref = _full_batch_reference()
    m = _mismatch("batch-size-divided-twice")
    assert (m.step, m.quantity) == (0, "grads.w")
    assert m.actual == pytest.approx(ref["grad_w"][0] / 3, rel=TOLERANCE)  # three shipments


def test_update_in_place_takes_the_bias_gradient_at_the_moved_weight():
    ref = _full_batch_reference()
    experiment = FAULTS["update-in-place-before-all-gradients"].experiment()
    x, y = np.array(experiment.xs), np.array(experiment.ys)
    m = _mismatch("update-in-place-before-all-gradients")
    assert (m.step, m.quantity) == (0, "grads.b")
    assert m.expected == pytest.approx(ref["grad_b"][0], rel=TOLERANCE)
    moved_w = ref["w"][0] - experiment.learning_rate * ref["grad_w"][0]
    assert m.actual == pytest.approx(np.mean(moved_w * x + ref["b"][0] - y), rel=TOLERANCE)


def test_unshuffled_epochs_replay_the_first_epochs_batches():
    experiment = FAULTS["batch-order-not-reshuffled"].experiment()
    order = np.random.default_rng(experiment.seed).permutation(len(experiment.train))
    first_epoch = order.reshape(-1, experiment.batch_size)  # 10 shipments: 5 batches of 2
    replayed = [first_epoch[k % len(first_epoch)] for k in range(experiment.steps)]
    ref = numpy_sgd(experiment.init["w"], experiment.init["b"], experiment.xs, experiment.ys,
                    experiment.learning_rate, experiment.steps, batch_indices=replayed)
    m = _mismatch("batch-order-not-reshuffled")
    # The second epoch's first batch differs: reported as the batch, not the gradient it moves.
    assert (m.step, m.quantity) == (len(first_epoch), "batches")
    assert m.actual == replayed[m.step].tolist()
    broken = FAULTS["batch-order-not-reshuffled"].run(experiment, broken=True)
    assert broken.batches == [batch.tolist() for batch in replayed]
    assert broken.grads["w"][m.step] == pytest.approx(ref["grad_w"][m.step], rel=TOLERANCE)


def test_validation_in_gradient_averages_over_both_sets():
    experiment = FAULTS["validation-in-gradient"].experiment()
    rows = np.array(experiment.train + experiment.validation)
    w, b = experiment.init["w"], experiment.init["b"]
    error = w * rows[:, 0] + b - rows[:, 1]
    m = _mismatch("validation-in-gradient")
    assert (m.step, m.quantity) == (0, "grads.w")
    assert m.actual == pytest.approx(np.mean(error * rows[:, 0]), rel=TOLERANCE)
    broken = FAULTS["validation-in-gradient"].run(experiment, broken=True)
    reference = get_backend("manual").run(experiment)
    assert broken.val_loss[0] == reference.val_loss[0]  # still evaluated on the validation set


def _numpy_adamw(experiment, *, decay_bias):
    """AdamW on the line from the formulas; ``decay_bias=False`` leaves ``wd b`` out."""
    hp = experiment.hyperparams
    x, y = np.array(experiment.xs), np.array(experiment.ys)
    theta = np.array([experiment.init["w"], experiment.init["b"]])
    mask = np.array([1.0, 1.0 if decay_bias else 0.0])
    m, v, thetas = np.zeros(2), np.zeros(2), [theta]
    for t in range(1, experiment.steps + 1):
        error = theta[0] * x + theta[1] - y
        g = np.array([np.mean(error * x), np.mean(error)])
        m = hp["b1"] * m + (1 - hp["b1"]) * g
        v = hp["b2"] * v + (1 - hp["b2"]) * g * g
        u = (m / (1 - hp["b1"] ** t)) / (np.sqrt(v / (1 - hp["b2"] ** t)) + hp["eps"])
        theta = theta - hp["learning_rate"] * (u + hp["weight_decay"] * mask * theta)
        thetas.append(theta)
    return np.array(thetas)


def test_bias_left_out_of_weight_decay_is_adamw_without_wd_b():
    experiment = FAULTS["bias-left-out-of-weight-decay"].experiment()
    assert experiment.optimizer == "adamw" and experiment.init["b"] == 0.0
    broken = FAULTS["bias-left-out-of-weight-decay"].run(experiment, broken=True)
    decayed = _numpy_adamw(experiment, decay_bias=True)
    undecayed = _numpy_adamw(experiment, decay_bias=False)
    np.testing.assert_allclose(broken.params["b"], undecayed[:, 1], rtol=TOLERANCE)
    np.testing.assert_allclose(broken.params["w"], undecayed[:, 0], rtol=TOLERANCE)
    m = _mismatch("bias-left-out-of-weight-decay")
    # b = 0 before step 0, so wd b = 0 there: the missing decay first moves b at step 2.
    assert (m.step, m.quantity) == (2, "params.b")
    assert m.expected == pytest.approx(decayed[2, 1], rel=TOLERANCE)
