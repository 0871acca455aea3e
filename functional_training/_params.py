"""The model's parameters as a pytree."""

from __future__ import annotations

from typing import Any, NamedTuple

PARAM_NAMES = ("w", "b")


class LinearParams(NamedTuple):
    """Parameters of the lesson's model ``prediction = w * x + b``.

    A ``NamedTuple`` is a JAX pytree, so ``jax.grad``, ``optax`` and
    ``jax.tree.map`` treat ``w`` and ``b`` as two leaves.

    Attributes:
      w: weight; a scalar for one feature, shape ``(d,)`` for ``d`` features.
      b: bias, a scalar.

    Example:
      >>> LinearParams(w=1.0, b=0.0)
      LinearParams(w=1.0, b=0.0)
    """

    w: Any
    b: Any
