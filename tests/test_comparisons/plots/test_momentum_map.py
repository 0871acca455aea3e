"""comparisons/plots/_momentum_map.py: the cells, the closed-form boundary, the legend."""

from __future__ import annotations

import matplotlib
import numpy as np

from comparisons.figure_style import STYLE, new_figure
from comparisons.plots import plot_momentum_map
from comparisons.plots._momentum_map import cell_edges, closed_form_boundary

TINY = {
    "learning_rates": [0.1, 1.0, 10.0], "momenta": [0.0, 0.5], "steps": 100,
    # rate 0.1: converged in 40 and 20 steps; rate 1: neither, then 7 steps; rate 10: diverged
    "converged_step": [[40, 20], [None, 7], [None, None]],
    "diverged_step": [[None, None], [None, None], [3, 5]],
    "converged_below": 1e-6, "diverged_above": 1e12, "eigenvalues": [0.5, 2.0],
    "fastest_theory": {"learning_rate": 0.9, "momentum": 0.1},
    "fastest_measured": {"learning_rate": 1.0, "momentum": 0.5, "steps": 7},
    "verified_cells": [{"learning_rate": 0.1, "momentum": 0.5}],
    "verified_backends": ["manual", "jax"], "initial_loss": 1.0,
}


def _drawn():
    with matplotlib.rc_context(STYLE):
        ax = new_figure().add_subplot()
        plot_momentum_map(ax, **TINY)
    return ax


def test_the_closed_form_and_the_cell_edges():
    # heavy ball on eigenvalue 2 converges iff lr < 2 (1 + beta) / 2 = 1 + beta
    assert closed_form_boundary(0.0, 2.0) == 1.0 and closed_form_boundary(0.9, 2.0) == 1.9
    np.testing.assert_allclose(cell_edges(np.array([0.0, 0.5, 1.0]), log=False),
                               [-0.25, 0.25, 0.75, 1.25], rtol=0, atol=1e-15)
    np.testing.assert_allclose(cell_edges(np.array([0.01, 0.1, 1.0]), log=True),
                               10 ** np.array([-2.5, -1.5, -0.5, 0.5]), rtol=1e-14)


def test_each_cell_is_drawn_in_its_layer():
    ax = _drawn()
    flat, steps = ax.collections  # diverged/undecided underneath, converged steps on top
    # pcolormesh takes (momenta x rates): row = momentum, column = rate
    np.testing.assert_array_equal(np.ma.getmaskarray(steps.get_array()),
                                  [[False, True, True], [False, False, True]])
    np.testing.assert_array_equal(steps.get_array().compressed(), [40, 20, 7])
    assert np.ma.getdata(flat.get_array()).tolist()[0][1:] == [0.0, 1.0]  # undecided, diverged
    assert steps.norm.vmin == 1 and steps.norm.vmax == 100


def test_the_boundary_marks_and_legend():
    ax = _drawn()
    boundary = next(line for line in ax.get_lines() if line.get_gid() == "closed-form-boundary")
    np.testing.assert_allclose(boundary.get_xdata(), 1 + boundary.get_ydata(), rtol=1e-15)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == [
        "closed form: lr · λmax = 2 (1 + β), λmax = 2",
        "fastest in theory: lr = 0.9, β = 0.1",
        "fastest measured: 7 steps",
        "runs verified on 2 backends",
        "diverged: loss > $10^{12}$ × initial or non-finite",
        "neither within 100 steps",
    ]
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "momentum β"
