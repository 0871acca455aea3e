"""The hidden layers' activations on Python floats, and their hand-written derivatives.

Each activation ``f`` is a pair ``(f, back)`` with ``back(z, f(z), upstream) =
f'(z) * upstream``, the derivative taken from the layer's own values:

- ``tanh' = (1 - t)(1 + t)`` for the output ``t`` (not ``1 - t t``, whose rounding
  of ``t t`` loses the digits near ``|t| = 1``; the engine's rule is the same);
- ``sigmoid' = (1 - s) s`` for the output ``s``;
- ``relu'(z) = 1`` where ``z > 0``, else 0 -- so 0 at ``z = 0`` exactly, as in
  ``jax.nn.relu``, ``torch.relu`` and the engine's ``relu``; where ``relu'`` is 0
  the result is an exact 0 even when ``upstream`` is infinite (no ``0 * inf = nan``).

A model kind whose backward applies these names them in its
``hidden_activations(**config)`` and takes ``activation_back`` (the manual
backend's :meth:`~comparisons.backends.manual.ManualMaths.activation_back`,
which a fault may replace) in its ``manual_gradients``.

Example:
  >>> forward("relu", -2.0), derivative("tanh", 0.0, 0.0, 3.0)
  (0.0, 3.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable

from comparisons.engine import ieee_exp
from functional_training import lookup


def _relu(z: float) -> float:
    return 0.0 if z <= 0.0 else z  # nan stays nan, as in torch, jax and the engine


def _sigmoid(z: float) -> float:
    if z >= 0.0:
        return 1.0 / (1.0 + ieee_exp(-z))
    e = ieee_exp(z)  # z < 0: exp(-z) could overflow; exp(z) cannot
    return e / (1.0 + e)


def _tanh_back(z: float, t: float, upstream: float) -> float:
    return upstream * ((1.0 - t) * (1.0 + t))


def _relu_back(z: float, a: float, upstream: float) -> float:
    return 0.0 if z <= 0.0 else upstream  # relu'(0) = 0


def _sigmoid_back(z: float, s: float, upstream: float) -> float:
    return upstream * (1.0 - s) * s


ACTIVATIONS: dict[str, tuple[Callable[[float], float], Callable[[float, float, float], float]]]
ACTIVATIONS = {
    "tanh": (math.tanh, _tanh_back),
    "relu": (_relu, _relu_back),
    "sigmoid": (_sigmoid, _sigmoid_back),
}
"""``(f, back)`` per activation: ``back(z, f(z), upstream) = f'(z) * upstream``."""


def forward(activation: str, z: float) -> float:
    """``f(z)`` for the activation named ``activation``."""
    return lookup(ACTIVATIONS, activation, what="activation")[0](z)


def derivative(activation: str, z: float, a: float, upstream: float) -> float:
    """``f'(z) * upstream`` for the activation named ``activation``, with ``a = f(z)``."""
    return lookup(ACTIVATIONS, activation, what="activation")[1](z, a, upstream)
