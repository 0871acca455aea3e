"""comparisons/plots/_learning_rates.py: what the learning-rate figures compute, against closed
forms (everything else they draw is verified data; the figure tests check that)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import functional_training as ft
from comparisons import figure_style as style
from comparisons import plots
from comparisons.plots._learning_rates import RATE_COLORS, rate_color

# float64 policy (functional_training.tolerance): a few-flop quadratic form, a few ulps apart.
TOL64 = ft.tolerance("float64", 0)


def test_loss_surface_is_the_hessian_quadratic_form():
    # One shipment (x = 2, y = 6): zero loss at (3, 0); L = 0.5 d^T H d with H = [[4, 2], [2, 1]].
    w, b = np.meshgrid(np.linspace(-2, 5, 7), np.linspace(-3, 4, 5))
    d = np.stack([w - 3.0, b], axis=-1)
    quadratic = 0.5 * np.einsum("...i,ij,...j->...", d, np.array([[4.0, 2.0], [2.0, 1.0]]), d)
    np.testing.assert_allclose(plots.loss_surface(w, b, [2.0], [6.0]), quadratic,
                               rtol=TOL64, atol=TOL64)


@pytest.mark.parametrize(("losses", "word"), [
    ([8.0, 18.0], "overshoots"),
    ([8.0, math.inf], "overshoots"),
    ([8.0, math.nan], "overshoots"),
    ([8.0, 0.079], "settles"),  # below 1% of the first loss
    ([8.0, 0.08], "creeps"),  # exactly 1% is not below it
    ([8.0, 8.0], "creeps"),
])
def test_describe_run_reads_the_first_and_last_loss(losses, word):
    assert plots.describe_run(losses) == word


def test_rates_are_coloured_slow_good_unstable():
    assert RATE_COLORS == (style.SLOW, style.GOOD, style.UNSTABLE)
    assert [rate_color(i) for i in range(3)] == list(RATE_COLORS)
