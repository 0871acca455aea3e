"""The ``linear`` model kind: ``outputs = x @ w + b`` with ``d >= 1`` features, ``k >= 1`` outputs.

With one output (``outputs = 1``, the default: the lesson's line or plane) the
parameters are ``w`` of shape ``(d,)`` (a scalar when ``d = 1``, so the lesson's
model keeps its names ``w`` and ``b``) and the scalar bias ``b``; the prediction
has shape ``(n,)``. With ``k >= 2`` outputs (softmax regression: one logit per
class) ``w`` has shape ``(d, k)`` (``(fan_in, fan_out)``, as every layer of an
``mlp``) and ``b`` shape ``(k,)``; the outputs have shape ``(n, k)``. The pytree
is :class:`functional_training.LinearParams` either way. Seeded initial values:
``w ~ uniform(-1, 1) / sqrt(d)`` per weight from the generator, ``b = 0`` (the
fan-in scaling keeps the initial outputs' spread independent of ``d``).

Example:
  >>> shapes(features=1), shapes(features=3), shapes(features=2, outputs=3)
  ({'w': (), 'b': ()}, {'w': (3,), 'b': ()}, {'w': (2, 3), 'b': (3,)})
"""

from __future__ import annotations

from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from functional_training._loss import predict
from functional_training._numbers import is_int
from functional_training._params import LinearParams

DESCRIPTION = "outputs = x @ w + b (d features, k outputs: 1, the line, or k logits)"
CONFIG_KEYS = ("features", "outputs")
DEFAULTS = {"outputs": 1}
"""Configuration a spec may leave out (``outputs``: one, the lesson's line)."""


def _check(features, outputs) -> tuple[int, int]:
    if not is_int(features) or features < 1:
        raise ValueError(f"linear model: features must be an integer >= 1, got {features!r}")
    if not is_int(outputs) or outputs < 1:
        raise ValueError(f"linear: outputs must be an integer >= 1, got {outputs!r}")
    return features, outputs


def shapes(*, features: int, outputs: int = 1) -> dict[str, tuple[int, ...]]:
    """``{"w": (d,) or (), "b": ()}`` for one output; ``{"w": (d, k), "b": (k,)}`` for ``k``."""
    d, k = _check(features, outputs)
    if k == 1:
        return {"w": () if d == 1 else (d,), "b": ()}
    return {"w": (d, k), "b": (k,)}


def inputs(*, features: int, outputs: int = 1) -> int:
    """The input width ``d``: rows of ``x`` have ``features`` values."""
    return _check(features, outputs)[0]


def outputs(*, features: int, outputs: int = 1) -> int:  # noqa: A002 (the setting's name)
    """The outputs per example: ``k`` (1: the prediction ``x @ w + b``)."""
    return _check(features, outputs)[1]


def stated_by(*, features: int, outputs: int = 1) -> dict[str, tuple[str, str]]:
    """What the weights' count and the outputs follow, in words.

    Example:
      >>> stated_by(features=3)
      {'w': ('features', 'one per feature of the 3')}
      >>> stated_by(features=2, outputs=3)["outputs"]
      ('outputs', 'is 3')
    """
    d, k = _check(features, outputs)
    if k == 1:
        return {"w": ("features", "one weight: the data has one feature" if d == 1
                      else f"one per feature of the {d}")}
    return {"w": ("outputs", f"a row per feature of the {d}, a column per output of the {k}"),
            "b": ("outputs", f"one per output of the {k}"),
            "outputs": ("outputs", f"is {k}")}


def build(leaves: Mapping[str, np.ndarray]) -> LinearParams:
    """``LinearParams(w, b)`` from the leaves."""
    return LinearParams(leaves["w"], leaves["b"])


def seeded(rng: np.random.Generator, *, features: int,
           outputs: int = 1) -> dict[str, np.ndarray]:
    """``w ~ uniform(-1, 1, (d,) or (d, k)) / sqrt(d)``, ``b = 0``."""
    d, k = _check(features, outputs)
    if k == 1:
        w = rng.uniform(-1.0, 1.0, size=d) / np.sqrt(d)
        return {"w": w[0] if d == 1 else w, "b": np.asarray(0.0)}
    return {"w": rng.uniform(-1.0, 1.0, size=(d, k)) / np.sqrt(d), "b": np.zeros(k)}


def _logits(params: LinearParams, x) -> jnp.ndarray:
    """``x @ w + b`` of shape ``(n, k)`` (``x`` of shape ``(n, d)``; ``(n,)`` when ``d = 1``)."""
    w = jnp.asarray(params.w)
    x = jnp.asarray(x)
    return jnp.reshape(x, (-1, w.shape[0])) @ w + jnp.asarray(params.b)[None, :]


def forward(*, features: int, outputs: int = 1):
    """The forward ``apply(params, x)``: :func:`functional_training.predict` for one output,
    ``x @ w + b`` of shape ``(n, k)`` for ``k``."""
    k = _check(features, outputs)[1]
    return predict if k == 1 else _logits
