"""comparisons/backends/_common.py: what every backend checks and reads the same way."""

from __future__ import annotations

import dataclasses
import math

import pytest

from comparisons.backends._common import (
    check_dtype,
    frozen_names,
    learning_rate,
    optimizer_settings,
    trainable_names,
)
from comparisons.experiments import REGISTRY


def test_dtypes():
    assert check_dtype("float64") == "float64"
    with pytest.raises(ValueError, match="^dtype must be one of float64, float32, got 'float16'$"):
        check_dtype("float16")


def test_optimizer_settings_fill_in_the_tables_defaults():
    adam = optimizer_settings(REGISTRY["optimizer/adam"])
    assert {"learning_rate", "b1", "b2", "eps"} <= set(adam)
    assert optimizer_settings(REGISTRY["five-steps"])["learning_rate"] == 0.1
    assert learning_rate(REGISTRY["five-steps"]) == 0.1


@pytest.mark.parametrize("rate", [0.0, -0.1, math.inf, math.nan])
def test_a_rate_that_is_not_finite_and_positive_is_refused(rate):
    bad = dataclasses.replace(REGISTRY["five-steps"], hyperparams={"learning_rate": rate})
    with pytest.raises(ValueError, match="learning_rate"):
        optimizer_settings(bad)


def test_frozen_and_trainable_leaves_split_the_parameters():
    experiment = REGISTRY["train-validation"]  # the lesson freezes b there
    assert frozen_names(experiment) == ("b",) and trainable_names(experiment) == ["w"]
    five = REGISTRY["five-steps"]
    assert frozen_names(five) == () and trainable_names(five) == ["w", "b"]
