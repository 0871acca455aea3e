"""The drawing layer (comparisons.plots): the few things it computes, against closed forms.

Everything else the plot functions draw is the verified data they are given; the
figure tests (``tests/test_comparisons/figures/``) check that.
"""

from __future__ import annotations

import numpy as np

import functional_training as ft
from comparisons import plots

# float64 policy (functional_training.tolerance): a few-flop quadratic form, a few ulps apart.
TOL64 = ft.tolerance("float64", 0)


def test_loss_surface_is_the_hessian_quadratic_form():
    # One shipment (x = 2, y = 6): zero loss at (3, 0); L = 0.5 d^T H d with H = [[4, 2], [2, 1]].
    w, b = np.meshgrid(np.linspace(-2, 5, 7), np.linspace(-3, 4, 5))
    d = np.stack([w - 3.0, b], axis=-1)
    quadratic = 0.5 * np.einsum("...i,ij,...j->...", d, np.array([[4.0, 2.0], [2.0, 1.0]]), d)
    np.testing.assert_allclose(plots.loss_surface(w, b, [2.0], [6.0]), quadratic,
                               rtol=TOL64, atol=TOL64)


def test_parameter_groups_and_margins_are_plain_functions():
    groups = plots.parameter_groups(["layers.0.w[0,0]", "layers.0.w[1,0]", "layers.0.b[0]"])
    assert groups == {"layers.0.w": ["layers.0.w[0,0]", "layers.0.w[1,0]"],
                      "layers.0.b": ["layers.0.b[0]"]}
    logits = np.array([[[3.0, 1.0, 2.0], [0.0, 0.0, 5.0]]])
    m = plots.margins(logits, scores=False)
    assert m.shape == (3, 1, 2)
    assert m[:, 0, 0].tolist() == [1.0, -2.0, -1.0] and m[:, 0, 1].tolist() == [-5.0, -5.0, 5.0]
