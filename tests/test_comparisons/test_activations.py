"""The hidden layers' activations on Python floats and their hand-written derivatives.

Expected values: the closed forms (``tanh' = 1 - tanh^2``, ``sigmoid' = s (1 - s)``,
``relu' = [z > 0]``) computed here with ``math``, and centered differences of the
forward (``h = 1e-6``: truncation ``O(h^2) ~ 1e-12``, rounding ``u / h ~ 1e-10``, so
agreement to 1e-8 is well inside both).
"""

from __future__ import annotations

import math

import pytest

from comparisons.models.activations import ACTIVATIONS, derivative, forward

POINTS = (-3.0, -0.5, 0.25, 2.0)


def test_the_forwards_are_the_closed_forms():
    for z in POINTS:
        assert forward("tanh", z) == math.tanh(z)
        assert forward("relu", z) == max(z, 0.0)
        assert forward("sigmoid", z) == pytest.approx(1.0 / (1.0 + math.exp(-z)), rel=1e-15)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_each_derivative_is_the_forwards_slope(name):
    h = 1e-6  # see the module docstring for the tolerance
    for z in POINTS:
        slope = (forward(name, z + h) - forward(name, z - h)) / (2 * h)
        assert derivative(name, z, forward(name, z), 1.0) == pytest.approx(slope, abs=1e-8)
        assert derivative(name, z, forward(name, z), 3.0) == pytest.approx(3.0 * slope, abs=3e-8)


def test_relu_has_slope_zero_at_zero_and_no_nan_from_an_infinite_upstream():
    assert derivative("relu", 0.0, 0.0, 1.0) == 0.0
    assert derivative("relu", -1.0, 0.0, math.inf) == 0.0


def test_an_unknown_activation_is_one_line():
    with pytest.raises(ValueError, match="activation") as err:
        derivative("gelu", 0.0, 0.0, 1.0)
    assert "\n" not in str(err.value)
