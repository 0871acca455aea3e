"""functional_training/_gradcheck.py: autodiff against central differences, float64 only.

Expected gradients are closed forms; the tolerance 1e-8 covers central differences at
eps = 1e-5 (truncation O(eps^2) ~ 1e-10 times the third derivative, rounding O(u / eps) ~ 1e-11).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import functional_training as ft
from functional_training._gradcheck import check_gradients


def _cubic(params, x):
    # f = sum(w^3 x) + sin(b): df/dw = 3 w^2 x, df/db = cos(b)
    return jnp.sum(params["w"] ** 3 * x) + jnp.sin(params["b"])


def test_every_element_matches_the_closed_form(x64):
    w, b, x = np.array([0.5, -1.0, 2.0]), 0.3, np.array([1.0, 2.0, -0.5])
    check = check_gradients(_cubic, {"w": w, "b": b}, x)
    np.testing.assert_allclose(check.analytic["w"], 3 * w**2 * x, rtol=1e-15)
    np.testing.assert_allclose(check.numeric["w"], 3 * w**2 * x, rtol=1e-8)
    np.testing.assert_allclose(check.numeric["b"], np.cos(b), rtol=1e-8)
    assert check.passed(1e-8) and check.max_error < 1e-8
    assert check.error["w"].shape == (3,)


def test_a_wrong_gradient_shows_in_the_error():
    check = ft.GradientCheck(analytic={"w": np.array([1.0])}, numeric={"w": np.array([1.5])},
                             error={"w": np.array([0.5])})
    assert check.max_error == 0.5 and not check.passed(0.1)


def test_float32_is_refused():
    with pytest.raises(ValueError, match="check_gradients needs float64"):
        check_gradients(_cubic, {"w": np.zeros(2, np.float32), "b": 0.0}, np.ones(2))


@pytest.mark.parametrize("eps", [0.0, -1e-5, 1])
def test_a_bad_eps_is_refused(x64, eps):
    with pytest.raises(ValueError, match="eps must be a float > 0"):
        check_gradients(_cubic, {"w": np.zeros(2), "b": 0.0}, np.ones(2), eps=eps)
