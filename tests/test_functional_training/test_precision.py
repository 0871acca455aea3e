"""functional_training/_precision.py: float64 contexts, the tolerance rule, the overflow edge.

Expected values are the documented formulas evaluated with NumPy's ``finfo``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functional_training as ft
from functional_training._precision import (
    FLOAT32_ULPS_PER_STEP,
    FLOAT64_TOLERANCE,
    OVERFLOW_HEADROOM,
    overflow_edge,
    tolerance,
)

EPS32 = float(np.finfo(np.float32).eps)


def test_float64_turns_x64_on_inside_and_restores_it():
    before = jax.config.jax_enable_x64
    with ft.float64():
        assert jnp.zeros(()).dtype == jnp.float64
    assert jax.config.jax_enable_x64 == before


@pytest.mark.parametrize("steps", [0, 1, 20, 10**6])
def test_float64_tolerance_does_not_grow_with_steps(steps):
    assert tolerance("float64", steps) == FLOAT64_TOLERANCE == 1e-12


@pytest.mark.parametrize("steps", [0, 9, 299])
def test_float32_tolerance_grows_linearly_with_steps(steps):
    assert tolerance("float32", steps) == FLOAT32_ULPS_PER_STEP * EPS32 * (steps + 1)
    assert tolerance(np.float32, steps) == tolerance("float32", steps)


def test_adams_bias_correction_term_is_added():
    b2 = 0.999
    assert tolerance("float32", 9, b2=b2) == pytest.approx(
        FLOAT32_ULPS_PER_STEP * EPS32 * 10 + EPS32 * b2 / (1 - b2), rel=1e-15)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: tolerance("int32", 3), "dtype must be a floating dtype"),
    (lambda: tolerance("float32", -1), "steps must be >= 0"),
    (lambda: tolerance("float32", 3, b2=1.0), r"b2 must be in \[0, 1\)"),
])
def test_tolerance_refuses_what_it_cannot_bound(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


@pytest.mark.parametrize(("dtype", "examples"), [("float32", 6), ("float64", 1000)])
def test_overflow_edge_is_the_largest_value_over_headroom_times_examples(dtype, examples):
    expected = float(np.finfo(dtype).max) / (OVERFLOW_HEADROOM * examples)
    assert overflow_edge(dtype, examples) == expected
