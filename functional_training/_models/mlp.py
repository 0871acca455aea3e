"""The ``mlp`` model kind: hidden layers with a nonlinearity, then a linear last layer.

With ``sizes = [d, h_1, ..., k]`` and activation ``f`` (``tanh``, ``relu`` or
``sigmoid``) on every hidden layer:

    a_0 = x,   a_l = f(a_{l-1} @ w_l + b_l)  (l < L),   output = a_{L-1} @ w_L + b_L

Weights are stored ``(fan_in, fan_out)`` so a layer is ``x @ w + b``; parameter
names are ``layers.{l}.w[i,j]`` and ``layers.{l}.b[j]`` (layers counted from 0).
The output has shape ``(n,)`` when ``k = 1`` (a prediction, logit or score per
example) and ``(n, k)`` otherwise (logits per class). Seeded initial values:
``w ~ uniform(-1, 1) / sqrt(fan_in)`` per weight, layer by layer from the one
generator, and ``b = 0``.

Example:
  >>> shapes(sizes=[2, 3, 1])
  {'layers.0.w': (2, 3), 'layers.0.b': (3,), 'layers.1.w': (3, 1), 'layers.1.b': (1,)}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_training._numbers import is_int

DESCRIPTION = "sizes = [d, h1, ..., k]: hidden layers f(x @ w + b), then x @ w + b"
CONFIG_KEYS = ("sizes", "activation")

ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu, "sigmoid": jax.nn.sigmoid}
"""The hidden layers' nonlinearity by name."""


class Layer(NamedTuple):
    """One layer's parameters: ``w`` of shape ``(fan_in, fan_out)``, ``b`` of ``(fan_out,)``."""

    w: Any
    b: Any


class MLPParams(NamedTuple):
    """The parameters of an ``mlp``: a tuple of :class:`Layer` (a pytree; paths name them)."""

    layers: tuple[Layer, ...]


def check_config(sizes: Sequence[int], activation: str = "tanh") -> tuple[int, ...]:
    """``sizes`` as a tuple, or a one-line ``ValueError`` naming what is wrong.

    Example:
      >>> check_config([2, 0, 1])
      Traceback (most recent call last):
      ...
      ValueError: mlp: sizes must be integers >= 1, got [2, 0, 1]
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) < 2:
        raise ValueError(f"mlp: sizes must list at least [d, k], got {sizes!r}")
    if not all(is_int(n) and n >= 1 for n in sizes):
        raise ValueError(f"mlp: sizes must be integers >= 1, got {list(sizes)!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"mlp: unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}"
        )
    return tuple(sizes)


def shapes(*, sizes: Sequence[int], activation: str = "tanh") -> dict[str, tuple[int, ...]]:
    """``{"layers.l.w": (fan_in, fan_out), "layers.l.b": (fan_out,)}`` for every layer."""
    sizes = check_config(sizes, activation)
    leaves: dict[str, tuple[int, ...]] = {}
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        leaves[f"layers.{layer}.w"] = (fan_in, fan_out)
        leaves[f"layers.{layer}.b"] = (fan_out,)
    return leaves


def inputs(*, sizes: Sequence[int], activation: str = "tanh") -> int:
    """The input width ``d = sizes[0]``."""
    return check_config(sizes, activation)[0]


def outputs(*, sizes: Sequence[int], activation: str = "tanh") -> int:
    """The output count ``k = sizes[-1]`` (one score, or ``k`` logits)."""
    return check_config(sizes, activation)[-1]


def stated_by(*, sizes: Sequence[int], activation: str = "tanh") -> dict[str, tuple[str, str]]:
    """Which setting states the input width, the outputs and the layer count, in words.

    Example:
      >>> stated_by(sizes=[2, 3, 1])["outputs"]
      ('sizes', 'ends in k = 1 output')
    """
    sizes = check_config(sizes, activation)
    k = sizes[-1]
    return {"inputs": ("sizes", f"starts with d = {sizes[0]}"),
            "outputs": ("sizes", f"ends in k = {k} output{'' if k == 1 else 's'}"),
            "layers": ("sizes", f"one per layer of sizes {list(sizes)}")}


def build(leaves: Mapping[str, Any]) -> MLPParams:
    """:class:`MLPParams` from ``{"layers.l.w": array, "layers.l.b": array}``."""
    count = len(leaves) // 2
    return MLPParams(tuple(Layer(leaves[f"layers.{layer}.w"], leaves[f"layers.{layer}.b"])
                           for layer in range(count)))


def seeded(rng: np.random.Generator, *, sizes: Sequence[int],
           activation: str = "tanh") -> dict[str, np.ndarray]:
    """``w ~ uniform(-1, 1, (fan_in, fan_out)) / sqrt(fan_in)`` layer by layer, ``b = 0``."""
    leaves = {}
    for leaf, shape in shapes(sizes=sizes, activation=activation).items():
        if leaf.endswith(".w"):
            leaves[leaf] = rng.uniform(-1.0, 1.0, size=shape) / np.sqrt(shape[0])
        else:
            leaves[leaf] = np.zeros(shape)
    return leaves


def make_apply(activation: str):
    """The forward ``apply(params, x)`` with ``activation`` on the hidden layers."""
    f = ACTIVATIONS[activation]

    def apply(params: MLPParams, x: jax.Array) -> jax.Array:
        a = jnp.asarray(x)
        a = a[:, None] if a.ndim == 1 else a
        *hidden, last = params.layers
        for layer in hidden:
            a = f(a @ layer.w + layer.b[None, :])  # explicit rank: no silent broadcasting
        out = a @ last.w + last.b[None, :]
        return out[:, 0] if out.shape[-1] == 1 else out

    return apply


def make_apply_for(*, sizes: Sequence[int], activation: str):
    """``forward(**config)`` of the kind table: :func:`make_apply` after checking the config."""
    check_config(sizes, activation)
    return make_apply(activation)


def apply(params: MLPParams, x: jax.Array, *, activation: str = "tanh") -> jax.Array:
    """The forward computation (see the module docstring); ``x`` is ``(n, d)``.

    Example:
      >>> p = build({"layers.0.w": jnp.ones((2, 1)), "layers.0.b": jnp.zeros(1)})
      >>> apply(p, jnp.array([[1.0, 2.0]])).tolist()
      [3.0]
    """
    return make_apply(activation)(params, x)
