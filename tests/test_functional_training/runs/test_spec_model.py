"""functional_training/runs/_spec_model.py: the [model] table and the size a check may have."""

from __future__ import annotations

import pytest

from functional_training.runs import SpecError
from functional_training.runs._spec_model import (
    BYTES_PER_PARAMETER,
    BYTES_PER_VALUE,
    check_bytes,
    memory_limit,
    model_table,
    size_problem,
)


def test_check_bytes_is_parameters_and_gradients_at_every_step():
    # parameters x (fixed cost + params and grads at steps + 1 records): counted by hand
    assert check_bytes(10, 4) == 10 * (BYTES_PER_PARAMETER + 2 * 5 * BYTES_PER_VALUE)


def test_a_check_too_large_for_this_machine_is_one_line():
    assert size_problem(2, 20) is None
    parameters = memory_limit() // check_bytes(1, 1) + 1
    problem = size_problem(parameters, 1)
    assert problem.startswith(f"{parameters:,} parameters over 1 step need about ")
    assert problem.endswith("this machine allows (half its memory)") and "\n" not in problem


def test_the_model_table_gives_values_kind_and_trainable():
    kind, settings, (values, how, seed), trainable = model_table({"w": 2.0, "b": 0.5},
                                                                features=1)
    assert (kind, settings, values, how, trainable) == (
        "linear", {}, {"w": 2.0, "b": 0.5}, "explicit", ("w", "b"))


def test_missing_values_are_left_to_a_trajectory_only_for_a_check():
    assert model_table({}, features=1, from_trajectory=True)[2] == (None, "trajectory", 0)
    with pytest.raises(SpecError, match=r"^\[model\]\.w: missing"):
        model_table({}, features=1)


def test_values_and_init_together_are_refused():
    with pytest.raises(SpecError, match=r"give initial values or init, not both"):
        model_table({"w": 1.0, "b": 0.0, "init": "zeros"}, features=1)
