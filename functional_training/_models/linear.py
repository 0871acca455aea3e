"""The ``linear`` model kind: ``prediction = x @ w + b`` with ``d >= 1`` features.

Parameters: ``w`` of shape ``(d,)`` (a scalar when ``d = 1``, so the lesson's
model keeps its names ``w`` and ``b``) and the scalar bias ``b``; the pytree is
:class:`functional_training.LinearParams`. Seeded initial values:
``w ~ uniform(-1, 1) / sqrt(d)`` per weight from the generator, ``b = 0``
(the fan-in scaling keeps the initial prediction's spread independent of ``d``).

Example:
  >>> shapes(features=1), shapes(features=3)
  ({'w': (), 'b': ()}, {'w': (3,), 'b': ()})
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from functional_training._loss import predict
from functional_training._numbers import is_int
from functional_training._params import LinearParams

DESCRIPTION = "prediction = x @ w + b (d features; w, b for one feature)"
CONFIG_KEYS = ("features",)


def _check_features(features) -> int:
    if not is_int(features) or features < 1:
        raise ValueError(f"linear model: features must be an integer >= 1, got {features!r}")
    return features


def shapes(*, features: int) -> dict[str, tuple[int, ...]]:
    """``{"w": (d,) or (), "b": ()}``: a scalar weight for one feature."""
    d = _check_features(features)
    return {"w": () if d == 1 else (d,), "b": ()}


def inputs(*, features: int) -> int:
    """The input width ``d``: rows of ``x`` have ``features`` values."""
    return _check_features(features)


def outputs(*, features: int) -> int:
    """One output per example: the prediction ``x @ w + b``."""
    _check_features(features)
    return 1


def stated_by(*, features: int) -> dict[str, tuple[str, str]]:
    """What the weights' count follows, in words (the data's feature count).

    Example:
      >>> stated_by(features=3)
      {'w': ('features', 'one per feature of the 3')}
    """
    d = _check_features(features)
    return {"w": ("features", "one weight: the data has one feature" if d == 1
                  else f"one per feature of the {d}")}


def build(leaves: Mapping[str, np.ndarray]) -> LinearParams:
    """``LinearParams(w, b)`` from the leaves."""
    return LinearParams(leaves["w"], leaves["b"])


def seeded(rng: np.random.Generator, *, features: int) -> dict[str, np.ndarray]:
    """``w ~ uniform(-1, 1, d) / sqrt(d)``, ``b = 0``."""
    d = _check_features(features)
    w = rng.uniform(-1.0, 1.0, size=d) / np.sqrt(d)
    return {"w": w[0] if d == 1 else w, "b": np.asarray(0.0)}


def forward(*, features: int):
    """The forward computation ``apply(params, x)``: :func:`functional_training.predict`."""
    _check_features(features)
    return predict
