"""functional_training/_record.py: the trajectory contract (lengths, non-finite steps, JSON)."""

from __future__ import annotations

import json
import math

import pytest

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
