"""Per model kind, the pieces each backend needs: one module per kind, one registry line.

The kind itself (parameter names and shapes, initialisers, the JAX forward) is
``functional_training``'s (:data:`functional_training.MODEL_KINDS`); a module
here adds what the other backends compute independently:

- ``manual_predict(params, x) -> float`` and ``manual_gradients(params, x, g)
  -> {name: float}``: the forward and its hand-written derivative on Python
  floats (``g = dL/dprediction`` for one example; the backend sums and averages);
- ``engine_predict(leaves, x) -> Value``: the forward as a scalar autograd graph;
- ``torch_module(torch, dtype=..., **config) -> nn.Module`` and
  ``torch_parameters(module) -> {name: (tensor, index)}``: the framework's own
  layers, and where each named scalar lives in them; ``torch_leaves(module)
  -> {leaf: tensor}`` for freezing whole leaves.

Example:
  >>> model_pieces("linear").manual_predict({"w": 1.0, "b": 0.0}, (2.0,))
  2.0
"""

from __future__ import annotations

from types import ModuleType

from comparisons.models import linear
from functional_training import lookup

MODELS: dict[str, ModuleType] = {
    "linear": linear,
}
"""Every kind's backend pieces by kind name (the keys of ``functional_training.MODEL_KINDS``)."""


def model_pieces(kind: str) -> ModuleType:
    """The backend pieces of model kind ``kind``, or a one-line ``ValueError``.

    Example:
      >>> model_pieces("linear").__name__
      'comparisons.models.linear'
    """
    return lookup(MODELS, kind, what="model kind")
