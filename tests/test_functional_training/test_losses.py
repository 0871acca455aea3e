"""Loss kinds (functional_training._losses), against NumPy float64.

The next lessons' building blocks in the JAX core; expected values are NumPy float64
formulas written here, and derivatives the closed forms the module documents.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functional_training as ft
from functional_training._losses import LOSS_KINDS, check_targets, l2_penalty, mean_loss_of

S = np.array([-3.0, -0.5, 0.0, 0.25, 2.0])
TOL = 1e-13  # float64, a handful of elementary operations per value


def _numpy_loss(name: str, s: np.ndarray, t: np.ndarray) -> np.ndarray:
    if name == "half-squared-error":
        return 0.5 * (s - t) ** 2
    if name == "squared-error":
        return (s - t) ** 2
    if name == "binary-cross-entropy":
        p = 1.0 / (1.0 + np.exp(-s))
        return -(t * np.log(p) + (1.0 - t) * np.log(1.0 - p))
    if name == "hinge":
        return np.maximum(0.0, 1.0 - t * s)
    raise AssertionError(name)


TARGETS = {"half-squared-error": np.array([1.0, 2.0, -1.0, 0.5, 3.0]),
           "squared-error": np.array([1.0, 2.0, -1.0, 0.5, 3.0]),
           "binary-cross-entropy": np.array([0.0, 1.0, 1.0, 0.0, 1.0]),
           "hinge": np.array([-1.0, 1.0, 1.0, -1.0, 1.0])}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_scalar_output_losses_match_numpy_and_their_documented_derivative(x64, name):
    t = TARGETS[name]
    per_example = LOSS_KINDS[name].per_example(jnp.asarray(S), jnp.asarray(t))
    np.testing.assert_allclose(per_example, _numpy_loss(name, S, t), rtol=TOL, atol=TOL)
    grad = jax.grad(lambda s: jnp.sum(LOSS_KINDS[name].per_example(s, jnp.asarray(t))))(
        jnp.asarray(S))
    expected = {"half-squared-error": S - t, "squared-error": 2 * (S - t),
                "binary-cross-entropy": 1 / (1 + np.exp(-S)) - t,
                "hinge": np.where(1 - t * S > 0, -t, 0.0)}[name]
    np.testing.assert_allclose(grad, expected, rtol=TOL, atol=TOL)


def test_softmax_cross_entropy_matches_numpy_and_never_overflows(x64):
    z = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    t = np.array([1, 2])
    log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    got = LOSS_KINDS["softmax-cross-entropy"].per_example(jnp.asarray(z), jnp.asarray(t))
    np.testing.assert_allclose(got, -log_softmax[[0, 1], t], rtol=TOL, atol=TOL)
    grad = jax.grad(lambda z: mean_loss_of("softmax-cross-entropy", z, jnp.asarray(t)))(
        jnp.asarray(z))
    softmax = np.exp(log_softmax)
    np.testing.assert_allclose(grad, (softmax - np.eye(3)[t]) / 2, rtol=TOL, atol=TOL)
    big = LOSS_KINDS["softmax-cross-entropy"].per_example(
        jnp.asarray([[1000.0, 1000.0, -1000.0]]), jnp.asarray([0]))
    np.testing.assert_allclose(big, [np.log(2.0)], rtol=TOL)  # exp(1000) would be inf


def test_binary_cross_entropy_is_stable_at_large_logits(x64):
    s = jnp.asarray([1000.0, -1000.0])
    got = LOSS_KINDS["binary-cross-entropy"].per_example(s, jnp.asarray([1.0, 1.0]))
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, [0.0, 1000.0], rtol=TOL, atol=TOL)


@pytest.mark.parametrize("name, targets, classes, message", [
    ("binary-cross-entropy", [0.0, 0.5], None, "target row 1 is 0.5; binary-cross-entropy "
                                               "takes 0 or 1"),
    ("hinge", [1.0, -1.0, 0.0], None, "target row 2 is 0.0; hinge takes -1 or +1"),
    ("softmax-cross-entropy", [0.0, 3.0], 3, "target row 1 is 3.0; softmax-cross-entropy takes "
                                             "an integer class 0..2"),
    ("softmax-cross-entropy", [0.5], 3, "target row 0 is 0.5"),
    ("half-squared-error", [1.0, np.nan], None, "target row 1 is nan"),
])
def test_targets_that_do_not_fit_the_loss_name_the_row(name, targets, classes, message):
    with pytest.raises(ValueError) as caught:
        check_targets(name, targets, classes=classes)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_l2_penalty_is_alpha_times_every_square(x64):
    params = ft.params_from_values("mlp", ft.initial_values("mlp", init="seeded", seed=3,
                                                            sizes=[2, 4, 1]), sizes=[2, 4, 1])
    squares = sum(float(np.sum(np.square(leaf))) for leaf in jax.tree.leaves(params))
    np.testing.assert_allclose(l2_penalty(params, 1e-4), 1e-4 * squares, rtol=TOL)
