"""Finite-difference gradient checks against ``jax.grad``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class GradientCheck(NamedTuple):
    """Per-leaf result of :func:`check_gradients` (each field is a pytree like ``params``).

    Attributes:
      analytic: ``jax.grad(fn)(params, *args)``.
      numeric: central differences ``(f(p + eps e_i) - f(p - eps e_i)) / (2 eps)``.
      error: ``|analytic - numeric|`` elementwise.
    """

    analytic: Any
    numeric: Any
    error: Any

    @property
    def max_error(self) -> float:
        """Largest absolute error over every leaf and element."""
        return max(float(np.max(e, initial=0.0)) for e in jax.tree.leaves(self.error))

    def passed(self, tolerance: float) -> bool:
        """True when every element's absolute error is below ``tolerance``."""
        return self.max_error < tolerance


def check_gradients(
    fn: Callable[..., jax.Array], params: Any, *args: Any, eps: float = 1e-5
) -> GradientCheck:
    """Compare ``jax.grad(fn)`` with central finite differences, element by element.

    For each scalar ``p_i`` in every leaf of ``params``:
    ``numeric_i = (fn(p + eps e_i) - fn(p - eps e_i)) / (2 eps)``, whose
    truncation error is ``O(eps^2)`` and rounding error ``O(u / eps)``; with
    ``u = 2.2e-16`` (float64) and ``eps = 1e-5`` both stay near 1e-10, which
    is why this check is float64 only.

    Args:
      fn: scalar function ``fn(params, *args)``.
      params: any pytree of float64 arrays or Python floats.
      *args: passed through to ``fn``.
      eps: the finite-difference step.

    Returns:
      A :class:`GradientCheck` of NumPy float64 pytrees shaped like ``params``.

    Raises:
      ValueError: if float64 is not enabled or any leaf is not float64.

    Example:
      >>> from functional_training import LinearParams, float64, mean_loss
      >>> with float64():
      ...     check = check_gradients(mean_loss, LinearParams(1.0, 0.0), 2.0, 6.0)
      >>> float(check.analytic.w), round(float(check.numeric.w), 6), check.passed(1e-8)
      (-8.0, -8.0, True)
    """
    if not jax.config.jax_enable_x64:
        raise ValueError(
            "check_gradients needs float64 (finite differences in float32 are noise-dominated); "
            "run it inside `with functional_training.float64():`"
        )
    params = jax.tree.map(jnp.asarray, params)
    for leaf in jax.tree.leaves(params):
        if leaf.dtype != jnp.float64:
            raise ValueError(f"check_gradients needs float64 params, got a {leaf.dtype} leaf")
    if not (isinstance(eps, float) and eps > 0):
        raise ValueError(f"eps must be a float > 0, got {eps!r}")

    analytic = jax.grad(fn)(params, *args)
    leaves, treedef = jax.tree.flatten(params)

    def loss_with(leaf_index: int, flat_index: int, delta: float) -> float:
        moved = list(leaves)
        leaf = leaves[leaf_index]
        moved[leaf_index] = leaf.ravel().at[flat_index].add(delta).reshape(leaf.shape)
        return float(fn(jax.tree.unflatten(treedef, moved), *args))

    numeric_leaves = []
    for i, leaf in enumerate(leaves):
        numeric = np.empty(leaf.size, dtype=np.float64)
        for j in range(leaf.size):
            numeric[j] = (loss_with(i, j, eps) - loss_with(i, j, -eps)) / (2 * eps)
        numeric_leaves.append(numeric.reshape(leaf.shape))
    numeric = jax.tree.unflatten(treedef, numeric_leaves)
    analytic = jax.tree.map(lambda a: np.asarray(a, dtype=np.float64), analytic)
    error = jax.tree.map(lambda a, n: np.abs(a - n), analytic, numeric)
    return GradientCheck(analytic, numeric, error)
