"""Learning-rate schedules: optax's schedules against the formulas written here in NumPy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from functional_training._schedules import SCHEDULES, check_schedule, make_schedule

STEPS = np.arange(0, 130)


def _formula(kind: str, p: dict, k: int) -> float:
    """The documented rate at step k, written independently of optax."""
    if kind == "constant":
        return p["value"]
    if kind == "linear":
        frac = min(max((k - p.get("transition_begin", 0)) / p["transition_steps"], 0.0), 1.0)
        return p["init_value"] + (p["end_value"] - p["init_value"]) * frac
    if kind == "cosine":
        alpha, exponent = p.get("alpha", 0.0), p.get("exponent", 1.0)
        cos = 0.5 * (1 + math.cos(math.pi * min(k, p["decay_steps"]) / p["decay_steps"]))
        return p["init_value"] * ((1 - alpha) * cos**exponent + alpha)
    exponent = max(k - p.get("transition_begin", 0), 0) / p["transition_steps"]
    if p.get("staircase", False):
        exponent = math.floor(exponent)
    return p["init_value"] * p["decay_rate"] ** exponent


CASES = [
    ("constant", {"value": 0.3}),
    ("linear", {"init_value": 1.0, "end_value": 0.1, "transition_steps": 100}),
    ("linear", {"init_value": 0.5, "end_value": 0.0, "transition_steps": 40,
                "transition_begin": 10}),
    ("cosine", {"init_value": 0.2, "decay_steps": 100}),
    ("cosine", {"init_value": 0.2, "decay_steps": 50, "alpha": 0.1, "exponent": 2.0}),
    ("exponential", {"init_value": 1.0, "transition_steps": 10, "decay_rate": 0.5}),
    ("exponential", {"init_value": 1.0, "transition_steps": 10, "decay_rate": 0.5,
                     "staircase": True, "transition_begin": 5}),
]


@pytest.mark.parametrize("kind, params", CASES)
def test_optax_schedules_follow_the_documented_formulas(x64, kind, params):
    schedule = make_schedule(kind, **params)
    got = [float(schedule(int(k))) for k in STEPS]
    expected = [_formula(kind, params, int(k)) for k in STEPS]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)  # float64, a few ops


def test_every_kind_is_tested():
    assert {kind for kind, _ in CASES} == set(SCHEDULES)


@pytest.mark.parametrize("kind, params, message", [
    ("linear", {"init_value": 1.0, "end_value": 0.1}, "needs transition_steps"),
    ("linear", {"init_value": 1.0, "end_value": 0.1, "transition_steps": 0},
     "transition_steps must be an integer >= 1"),
    ("cosine", {"init_value": -0.1, "decay_steps": 5}, "init_value must be finite and > 0"),
    ("exponential", {"init_value": 1.0, "transition_steps": 2, "decay_rate": 0.0},
     "decay_rate must be finite and > 0"),
    ("constant", {"value": 1.0, "warmup": 3}, "does not take warmup; it takes value"),
    ("step", {}, "unknown schedule 'step'; expected one of constant, linear, cosine, exponential"),
])
def test_bad_schedules_are_one_line(kind, params, message):
    with pytest.raises(ValueError) as caught:
        check_schedule(kind, params)
    assert message in str(caught.value) and "\n" not in str(caught.value)
