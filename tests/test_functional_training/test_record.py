"""functional_training/_record.py: the trajectory contract (lengths, non-finite steps, JSON),
and at scale: NumPy series for large runs, read like lists."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import functional_training as ft
from functional_training import TrajectoryRecord
from functional_training._record import from_json_float, json_float


def _two_steps(**changes) -> TrajectoryRecord:
    fields = dict(params={"w": [1.0, 1.8, 2.2], "b": [0.0, 0.4, 0.6]},
                  grads={"w": [-8.0, -4.0], "b": [-4.0, -2.0]}, batch_loss=[8.0, 2.0],
                  train_loss=[8.0, 2.0, 0.5])
    return TrajectoryRecord(**{**fields, **changes})


def test_the_contracts_lengths_and_the_gradient_norm():
    t = _two_steps()
    t.check_lengths()
    assert t.steps == 2 and t.recorded_steps == [0, 1]
    assert t.grad_norm == [math.hypot(-8.0, -4.0), math.hypot(-4.0, -2.0)]
    with pytest.raises(ValueError, match="^train_loss has 2 entries, the contract says 3$"):
        _two_steps(train_loss=[8.0, 2.0]).check_lengths()


def test_the_first_non_finite_step_is_the_earliest_over_every_series():
    assert _two_steps().first_nonfinite_step is None
    t = _two_steps(grads={"w": [-8.0, math.inf], "b": [-4.0, -2.0]},
                   train_loss=[8.0, 2.0, math.nan])
    assert t.first_nonfinite_step == 1


def test_strict_json_round_trip_keeps_non_finite_values():
    t = _two_steps(batch_loss=[8.0, math.inf])
    text = json.dumps(t.to_json(), allow_nan=False)  # strict JSON: no bare NaN or Infinity
    back = TrajectoryRecord.from_json(json.loads(text))
    assert back.batch_loss[1] == math.inf and back.params == t.params
    assert [json_float(v) for v in (1.5, -math.inf)] == [1.5, "-Infinity"]
    assert math.isnan(from_json_float(json_float(math.nan)))


def test_holds_arrays_past_a_million_values():
    assert not ft.holds_arrays(9_999, 99)  # 999,900 values: Python floats, as ever
    assert ft.holds_arrays(10_000, 100)  # 1,010,000 values: NumPy views
    assert ft.ARRAYS_FROM == 1_000_000


def test_a_large_run_records_read_only_views_of_one_block():
    w = np.arange(3 * 400_000, dtype=np.float64).reshape(3, 400_000)
    trajectory = ft.Trajectory(params={"w": w}, grads={"w": w[:2]}, batch_loss=np.zeros(2),
                               train_loss=np.zeros(3), val_loss=None)
    record = ft.record_from_trajectory(trajectory)
    series = record.params["w[7]"]
    assert isinstance(series, np.ndarray) and not series.flags.writeable
    assert series.tolist() == [7.0, 400_007.0, 800_007.0]
    assert record.grads["w[399999]"].tolist() == [399_999.0, 799_999.0]
    small = ft.record_from_trajectory(ft.Trajectory(
        params={"w": w[:, :2]}, grads={"w": w[:2, :2]}, batch_loss=np.zeros(2),
        train_loss=np.zeros(3), val_loss=None))
    assert small.params == {"w[0]": [0.0, 400_000.0, 800_000.0],
                            "w[1]": [1.0, 400_001.0, 800_001.0]}


@pytest.mark.parametrize("where", [None, (1, "a"), (2, "b"), (0, "predictions")])
def test_first_nonfinite_step_and_grad_norm_are_the_same_for_arrays_and_lists(where):
    # Expected values from the definitions: math.hypot per step, the first step holding
    # an inf or NaN in any series.
    a = [3.0, 1.0, 2.0]
    b = [4.0, 1e308, 5.0]
    predictions = [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]]
    if where is not None:
        step, name = where
        if name == "predictions":
            predictions[step][1] = math.nan
        else:
            (a if name == "a" else b)[step] = math.inf
    lists = TrajectoryRecord(params={"a": [*a, 0.0], "b": [*b, 0.0]}, grads={"a": a, "b": b},
                             batch_loss=[1.0] * 3, train_loss=[1.0] * 4,
                             predictions=predictions)
    arrays = TrajectoryRecord(
        params={k: np.asarray(v) for k, v in lists.params.items()},
        grads={k: np.asarray(v) for k, v in lists.grads.items()},
        batch_loss=lists.batch_loss, train_loss=lists.train_loss, predictions=predictions)
    assert arrays.first_nonfinite_step == lists.first_nonfinite_step == (
        None if where is None else where[0])
    expected = [math.hypot(x, y) for x, y in zip(a, b, strict=True)]
    # Arrays: sqrt of the scaled sum of squares, within a few ulps of hypot (rel 1e-15).
    assert arrays.grad_norm == pytest.approx(expected, rel=1e-15)
    assert lists.grad_norm == expected
