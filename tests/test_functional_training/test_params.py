"""functional_training/_params.py: the lesson's parameters are a pytree of two named leaves."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from functional_training._params import PARAM_NAMES, LinearParams


def test_the_leaves_are_w_then_b():
    params = LinearParams(w=1.5, b=-0.5)
    assert LinearParams._fields == PARAM_NAMES == ("w", "b")
    assert jax.tree.leaves(params) == [1.5, -0.5]


def test_grad_of_a_function_of_the_params_is_params_shaped(x64):
    # d/dw (w x + b - y)^2 / 2 = (w x + b - y) x; d/db = (w x + b - y): at x = 2, y = 6,
    # w = 1, b = 0 the error is -4, so (-8, -4) (the lesson's first gradient).
    def loss(p):
        return 0.5 * (p.w * 2.0 + p.b - 6.0) ** 2

    grads = jax.grad(loss)(LinearParams(jnp.float64(1.0), jnp.float64(0.0)))
    assert isinstance(grads, LinearParams)
    assert (float(grads.w), float(grads.b)) == (-8.0, -4.0)


def test_a_vector_w_for_several_features():
    params = LinearParams(w=jnp.zeros(3), b=jnp.float32(0.0))
    assert [leaf.shape for leaf in jax.tree.leaves(params)] == [(3,), ()]
