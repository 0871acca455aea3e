"""The trajectory type (comparisons.trajectory): whole or partial, from plain values or rows.

A trajectory holds exactly the values given, in any of the accepted shapes
(lists with ``None`` gaps, ``{step: value}`` dicts, NumPy and JAX arrays, long
rows); bad values are one line naming the key or row; what does not fit an
experiment's reference is one line saying what the experiment has.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from comparisons.backends import get_backend
from comparisons.experiments import REGISTRY
from comparisons.trajectory import ROW_FIELDS, Trajectory, TrajectoryError, label_of
from functional_training import TrajectoryRecord

FULL_BATCH = REGISTRY["full-batch"]


def _manual(experiment):
    return get_backend("manual").run(experiment, dtype="float64")


def test_a_trajectory_from_lists_dicts_and_none_holds_exactly_the_values_given():
    mine = Trajectory(params={"w": [1.0, None, 3.0]}, grads={"b": {2: -4.0, "5": 0.5}},
                      predictions={1: [None, 2.5]}, batches=[[0, 2]], train_loss=[None])
    assert mine.values == {
        ("params", "w", 0): 1.0, ("params", "w", 2): 3.0,
        ("grads", "b", 2): -4.0, ("grads", "b", 5): 0.5,
        ("predictions", "1", 1): 2.5,
        ("batches", "0", 0): 0, ("batches", "1", 0): 2,
    }
    assert mine.labels == ("params.w", "grads.b", "predictions[1]", "batches[0]", "batches[1]")
    assert mine.steps_of("grads.b") == (2, 5)
    assert mine.quantities == ("params", "grads", "predictions", "batches")
    assert len(mine) == 7


def test_numpy_and_jax_values_are_accepted_as_a_notebook_holds_them():
    import jax.numpy as jnp

    mine = Trajectory(params={"w": np.array([1.0, 1.8], dtype=np.float32),
                              "b": [np.float64(0.0), jnp.asarray(0.4)]},
                      predictions=jnp.zeros((2, 3)), batches=np.array([[2, 0]]))
    assert mine.values[("params", "b", 1)] == float(np.float32(0.4))
    assert mine.values[("params", "w", 1)] == float(np.float32(1.8))
    assert mine.values[("batches", "0", 0)] == 2 and len(mine) == 12
    with pytest.raises(TrajectoryError, match=r"^non-numeric value \[1\.\] in params\.w\[0\]$"):
        Trajectory(params={"w": [np.array([1.0])]})


def test_non_finite_values_are_data_as_floats_or_the_reports_strings():
    mine = Trajectory.from_dict({"train_loss": [math.inf, "Infinity", "-Infinity", "NaN"]})
    values = [mine.values[("train_loss", "", k)] for k in range(4)]
    assert values[:3] == [math.inf, math.inf, -math.inf] and math.isnan(values[3])



def test_a_whole_record_is_a_trajectory_of_every_value():
    record = _manual(FULL_BATCH)
    mine = Trajectory.from_record(record)
    assert len(mine) == 2 * 21 + 2 * 20 + 20 + 21 + 21 * 3
    assert Trajectory.from_dict(record.to_json()) == mine  # grad_norm etc. are ignored


@pytest.mark.parametrize(("data", "message"), [
    ({"grad": {"w": [1.0]}}, r"^unknown quantity 'grad' in the top-level keys \(expected params, "
                             r"grads, batch_loss"),
    ({"params": {"w": [1.0, "abc"]}}, r"^non-numeric value 'abc' in params\.w\[1\]$"),
    ({"params": {"w": [True]}}, r"^non-numeric value True in params\.w\[0\]$"),
    ({"params": {"w": {"-1": 1.0}}}, r"^step '-1' in params\.w is not a whole number >= 0$"),
    ({"params": {"w": {"x": 1.0}}}, r"^step 'x' in params\.w is not a whole number >= 0$"),
    ({"params": [1.0]}, r"^params must be an object of named series, got a list$"),
    ({"params": {"": [1.0]}}, r"^params needs a parameter name in params\.$"),
    ({"batch_loss": 8.0}, r"^batch_loss must be a list or an object of steps, got a float$"),
    ({"batches": [[0.5]]}, r"^example index 0\.5 in batches\[0\]\[0\] is not a whole number"),
    ({"predictions": [[1.0, {"a": 1}]]},
     r"^non-numeric value \{'a': 1\} in predictions\[0\]\[1\]$"),
    ([1.0], r"^a trajectory is an object of quantities, got a list$"),
])
def test_bad_values_are_one_line_naming_the_key(data, message):
    with pytest.raises(TrajectoryError) as caught:
        Trajectory.from_dict(data)
    assert "\n" not in str(caught.value)
    assert re.search(message, str(caught.value)), str(caught.value)


def test_rows_name_their_row_and_refuse_a_second_value_for_one_step():
    rows = [("0", "grads", "w", "1.0"), ("0", "grads", "b", "2.0"), ("0", "grads", "w", "3.0")]
    with pytest.raises(TrajectoryError, match=r"^a second value for grads\.w at step 0 in row 4 "
                                              r"\(the first is in row 2\)$"):
        Trajectory.from_rows(rows, first_row=2)


def test_rows_round_trip_and_labels_name_each_series():
    mine = Trajectory(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]}, batch_loss=[8.0],
                      predictions=[[2.0]])
    rows = mine.rows()
    assert rows[0] == (0, "params", "w", 1.0) and all(len(row) == len(ROW_FIELDS) for row in rows)
    assert Trajectory.from_rows(rows) == mine
    assert [label_of(q, n) for _, q, n, _ in rows[:4]] == [
        "params.w", "grads.w", "batch_loss", "predictions[0]"]


def test_values_that_do_not_fit_the_reference_are_one_line_saying_what_it_has():
    reference = TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]},
                                 batch_loss=[8.0], train_loss=[8.0, 2.0])
    Trajectory(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]}).check_fits(reference)
    cases = [
        (Trajectory(params={"v": [1.0]}), r"^unknown parameter 'v' in params\.v\[0\] "
                                          r"\(the experiment has w\)$"),
        (Trajectory(val_loss=[1.0]), r"^val_loss in val_loss\[0\]: the experiment has no "
                                     r"validation set$"),
        (Trajectory(batches=[[0]]), r"^batches in batches\[0\]\[0\]: the experiment trains on "
                                    r"the full batch"),
        (Trajectory(), r"^the trajectory holds no values"),
    ]
    for trajectory, message in cases:
        with pytest.raises(TrajectoryError) as caught:
            trajectory.check_fits(reference)
        assert re.search(message, str(caught.value)), str(caught.value)


# --- held one column per series (large runs) ---------------------------------------------


def test_series_arrays_give_each_series_whole_in_the_order_given():
    mine = Trajectory(params={"w": np.array([1.0, 1.8])}, grads={"w": {1: 0.5, 0: -8.0}},
                      batches=[[2, 0], [1, 3]])
    got = [(q, n, s.tolist(), v.tolist()) for q, n, s, v in mine.series_arrays()]
    assert got == [("params", "w", [0, 1], [1.0, 1.8]), ("grads", "w", [0, 1], [-8.0, 0.5]),
                   ("batches", "0", [0, 1], [2, 1]), ("batches", "1", [0, 1], [0, 3])]
    # One value at a time, the same values, in the order given (the dict's 1 before its 0).
    assert list(mine.values)[:4] == [("params", "w", 0), ("params", "w", 1),
                                     ("grads", "w", 1), ("grads", "w", 0)]
    assert mine.values[("grads", "w", 1)] == 0.5
    assert mine.where(("batches", "1", 1)) == "batches[1][1]"


def test_an_array_series_is_held_as_given_read_only():
    w = np.linspace(0.0, 1.0, 5)
    held = next(Trajectory(params={"w": w}).series_arrays())[3]
    assert np.shares_memory(held, w)  # not copied: a large run's arrays cost nothing more
    assert not held.flags.writeable
    assert w.flags.writeable  # the caller's own array is left alone


@pytest.mark.parametrize(("series", "message"), [
    (np.array(["1.0"]), "non-numeric value '1.0' in params.w[0]"),
    (np.array([True]), "non-numeric value True in params.w[0]"),
])
def test_an_array_of_other_things_is_read_value_by_value(series, message):
    with pytest.raises(TrajectoryError, match=re.escape(message)):
        Trajectory(params={"w": series})


def test_a_large_trajectory_is_built_from_arrays_quickly():
    # 100,000 series of 51 steps: one column each, values held in the given block.
    block = np.arange(51 * 100_000, dtype=np.float64).reshape(51, 100_000)
    names = [f"w[{i}]" for i in range(100_000)]
    mine = Trajectory(params=dict(zip(names, block.T, strict=True)))
    assert len(mine) == block.size
    last = list(mine.series_arrays())[-1]
    assert last[1] == "w[99999]" and np.array_equal(last[3], block[:, -1])


def test_whole_blocks_hold_what_the_keyword_form_holds():
    """from_blocks (the NPZ layout: one series a row, the steps recorded) against the same
    values given series by series, and its one-line refusals."""
    block = np.array([[1.0, 0.5, 0.25], [0.0, -1.0, -2.0]])
    steps = np.array([0, 10, 20])
    mine = Trajectory.from_blocks([("params", ["w", "b"], steps, block),
                                   ("batch_loss", None, None, np.array([3.0, 2.0]))])
    given = Trajectory(params={"w": {0: 1.0, 10: 0.5, 20: 0.25}, "b": {0: 0.0, 10: -1.0,
                                                                   20: -2.0}},
                       batch_loss=[3.0, 2.0])
    assert mine.rows() == given.rows()
    assert mine.steps_of("params.b") == (0, 10, 20)
    for blocks, message in [
        ([("params", ["w"], steps, block)], "params: 2 series, 1 names"),
        ([("params", ["w", "b"], np.array([0, 20, 10]), block)],
         "params: steps must increase from 0 or more, got 0, 20, 10"),
        ([("batches", ["0"], None, np.array([[1, -1]]))], "example indices are whole numbers"),
        ([("loss", None, None, np.zeros(2))], "unknown quantity 'loss'"),
    ]:
        with pytest.raises(TrajectoryError, match=re.escape(message)):
            Trajectory.from_blocks(blocks)
