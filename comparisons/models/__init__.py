"""Per model kind, the pieces each backend needs: one module per kind, one registry line.

The kind itself (parameter names and shapes, initialisers, the JAX forward) is
``functional_training``'s (:data:`functional_training.MODEL_KINDS`); a module
here adds what the other backends compute independently:

- ``manual_predict(params, x, **config) -> float | list[float]`` and
  ``manual_gradients(params, x, g, **config) -> {name: float}``: the forward and
  its hand-written derivative on Python floats. The output is a float when the
  model has one output, else a list of its ``k`` values (logits); ``g =
  dL/doutput`` for one example is likewise a float or a list of ``k`` (the
  backend sums and averages). ``**config`` is the kind's configuration as
  keywords (``features=d``; ``sizes=[...], activation=...``);
- ``engine_predict(leaves, x, **config) -> Value | list[Value]``: the forward as a
  scalar autograd graph (``leaves`` one ``Value`` per scalar name);
- ``torch_module(torch, dtype=..., **config) -> nn.Module`` (outputs ``(n, k)``) and
  ``torch_parameters(module) -> {name: (tensor, index)}``: the framework's own
  layers, and where each named scalar lives in them; ``torch_leaves(module)
  -> {leaf: tensor}`` for freezing whole leaves.

Optional, for the fault variants (:mod:`comparisons.faults`), read through
:func:`hidden_activations` and :func:`bias_leaves` (a kind without them has none):

- ``hidden_activations(**config) -> tuple[str, ...]``: the activations of
  :mod:`comparisons.models.activations` its hidden layers apply; a kind that has
  any takes ``activation_back`` in ``manual_gradients`` (the derivative it applies);
- ``bias_leaves(**config) -> tuple[str, ...]``: its bias leaves.

Example:
  >>> model_pieces("linear").manual_predict({"w": 1.0, "b": 0.0}, (2.0,))
  2.0
"""

from __future__ import annotations

from types import ModuleType

from comparisons.models import linear, mlp
from functional_training import lookup

MODELS: dict[str, ModuleType] = {
    "linear": linear,
    "mlp": mlp,
}
"""Every kind's backend pieces by kind name (the keys of ``functional_training.MODEL_KINDS``)."""


def model_pieces(kind: str) -> ModuleType:
    """The backend pieces of model kind ``kind``, or a one-line ``ValueError``.

    Example:
      >>> model_pieces("linear").__name__
      'comparisons.models.linear'
    """
    return lookup(MODELS, kind, what="model kind")


def hidden_activations(kind: str, config: dict) -> tuple[str, ...]:
    """The activations model kind ``kind``'s hidden layers apply (``()`` if it states none).

    Example:
      >>> hidden_activations("mlp", {"sizes": [1, 8, 1], "activation": "tanh"})
      ('tanh',)
    """
    stated = getattr(model_pieces(kind), "hidden_activations", None)
    return () if stated is None else tuple(stated(**config))


def bias_leaves(kind: str, config: dict) -> tuple[str, ...]:
    """The bias leaves of model kind ``kind`` (``()`` if it states none).

    Example:
      >>> bias_leaves("linear", {"features": 2})
      ('b',)
    """
    stated = getattr(model_pieces(kind), "bias_leaves", None)
    return () if stated is None else tuple(stated(**config))
