"""Model kinds: what a model's parameters are called, their shapes, how they start, its forward.

A model kind is a small description (:class:`ModelKind`), one module per kind
in this package and one line in :data:`MODEL_KINDS`. Everything else is
derived here, the same way for every kind:

- :func:`parameter_names`: the scalar parameter names of the trajectory
  contract (``w``, ``b`` for one feature; ``w[0]``, ``w[1]``, ... for several;
  ``layers.0.w[i,j]`` for layered kinds), by
  :func:`functional_training.named_series`'s rule applied to the kind's shapes.
- :func:`initial_values`: ``"zeros"``, or ``"seeded"`` values made once with
  NumPy from a seed, as ``{scalar name: float}``, handed to every backend
  (frameworks never share random streams).
- :func:`params_from_values`: the kind's pytree from ``{scalar name: float}``.

Example:
  >>> parameter_names("linear", features=3)
  ('w[0]', 'w[1]', 'w[2]', 'b')
  >>> initial_values("linear", features=1)
  {'w': 0.0, 'b': 0.0}
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from functional_training._models import linear, mlp
from functional_training._names import scalar_name
from functional_training._numbers import is_int
from functional_training._record import named_series
from functional_training._registry import lookup


@functools.cache
def _required_keywords(function: Callable) -> tuple[str, ...]:
    """``function``'s keyword-only parameters without a default (``inspect`` is slow: remembered
    per function, of which there is one per model kind)."""
    return tuple(name for name, p in inspect.signature(function).parameters.items()
                 if p.kind is p.KEYWORD_ONLY and p.default is p.empty)


class ModelKind(NamedTuple):
    """One kind of model.

    Attributes:
      name: registry key, e.g. ``"linear"``.
      description: one line for tables and help.
      shapes: ``shapes(**config) -> {leaf: shape}``: every parameter leaf (a path
        of ``named_series``) and its array shape, in the kind's order.
      build: ``build({leaf: array}) -> pytree``: the parameters as the kind's pytree.
      seeded: ``seeded(rng, **config) -> {leaf: array}``: seeded initial values
        drawn from a ``numpy.random.Generator`` (the scheme is the kind's docstring's).
      forward: ``forward(**config) -> apply`` with ``apply(params, x) -> outputs``:
        the forward computation in JAX (outputs ``(n,)``, or ``(n, k)`` for ``k``
        outputs).
      config_keys: the configuration keywords ``shapes``, ``seeded`` and
        ``forward`` take.
      inputs: ``inputs(**config) -> d``: the width of a row of ``x`` the kind takes.
      outputs: ``outputs(**config) -> k``: the outputs per example (1: shape ``(n,)``;
        ``k >= 2``: ``(n, k)``, one logit per class). Checks of data and losses read
        these two, never the kind's name or configuration keys.
      stated_by: ``stated_by(**config) -> {what: (key, words)}``, for messages: which
        configuration key states ``"inputs"``, ``"outputs"``, the size of a leaf
        (``"w"``) or the count of a leaf group (``"layers"``: the ``[[model.layers]]``
        tables of a spec), and how in words
        (``{"inputs": ("sizes", "starts with d = 2")}``). A quantity missing
        from it is not a setting the user wrote (the data's width, or fixed by the
        kind), and messages name the data or the loss instead. ``None``: nothing.
      defaults: configuration keys that may be left out, with the value they then take
        (``linear``'s ``outputs = 1``); a spec may omit them.
    """

    name: str
    description: str
    shapes: Callable[..., dict[str, tuple[int, ...]]]
    build: Callable[[Mapping[str, Any]], Any]
    seeded: Callable[..., dict[str, np.ndarray]]
    forward: Callable[..., Callable[[Any, Any], Any]]
    config_keys: tuple[str, ...]
    inputs: Callable[..., int]
    outputs: Callable[..., int]
    stated_by: Callable[..., dict[str, tuple[str, str]]] | None = None
    defaults: Mapping[str, Any] = {}

    @property
    def required_keys(self) -> tuple[str, ...]:
        """The configuration keywords without a default (:attr:`forward`'s signature says which).

        The shapes may not need them all (an ``mlp``'s leaves do not depend on its
        activation), but a model that computes does.

        Example:
          >>> MODEL_KINDS["mlp"].required_keys
          ('sizes', 'activation')
        """
        return _required_keywords(self.forward)

    def stated(self, what: str, **config) -> tuple[str, str] | None:
        """``(key, words)`` of :attr:`stated_by` for ``what``, or ``None`` (see the attributes).

        Example:
          >>> MODEL_KINDS["mlp"].stated("inputs", sizes=[2, 3, 1], activation="tanh")
          ('sizes', 'starts with d = 2')
          >>> MODEL_KINDS["linear"].stated("inputs", features=2) is None
          True
        """
        return None if self.stated_by is None else self.stated_by(**config).get(what)


MODEL_KINDS: dict[str, ModelKind] = {
    "linear": ModelKind("linear", linear.DESCRIPTION, linear.shapes, linear.build,
                        linear.seeded, linear.forward, linear.CONFIG_KEYS, linear.inputs,
                        linear.outputs, linear.stated_by, linear.DEFAULTS),
    "mlp": ModelKind("mlp", mlp.DESCRIPTION, mlp.shapes, mlp.build, mlp.seeded,
                     mlp.make_apply_for, mlp.CONFIG_KEYS, mlp.inputs, mlp.outputs,
                     mlp.stated_by),
}
"""Every model kind by name. Adding a kind: one module here, one line in this table."""

DEFAULT_MODEL = "linear"
"""The model kind a spec or an experiment that names none is (the lesson's line)."""

INITS = ("zeros", "seeded")
"""The named initialisations :func:`initial_values` knows (besides explicit values)."""


def model_kind(name: str) -> ModelKind:
    """The kind called ``name``, or a one-line ``ValueError`` listing the known kinds.

    Example:
      >>> model_kind("linear").name
      'linear'
    """
    return lookup(MODEL_KINDS, name, what="model kind")


def _zeros(shapes: Callable, build: Callable, config: Mapping[str, Any]):
    """A kind's pytree of zeros, from its ``shapes`` and ``build`` (its own leaf order, which
    names follow)."""
    return build({leaf: np.zeros(shape) for leaf, shape in shapes(**config).items()})


def frozen_config(config: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The configuration as sorted, hashable pairs (lists become tuples).

    Example:
      >>> frozen_config({"sizes": [2, 3, 1], "activation": "tanh"})
      (('activation', 'tanh'), ('sizes', (2, 3, 1)))
    """
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in config.items()))


def parameter_names(kind: str | ModelKind, **config) -> tuple[str, ...]:
    """The scalar parameter names of ``kind`` with ``config``, in the kind's order.

    Remembered per kind and configuration (a 784-500-10 MLP has 397,510 names,
    0.4 s to build, and a check asks for them several times).

    Example:
      >>> parameter_names("linear", features=1)
      ('w', 'b')
    """
    kind = model_kind(kind) if isinstance(kind, str) else kind
    try:
        key = frozen_config(config)
        hash(key)
    except TypeError:  # a setting that cannot be hashed: built, not remembered
        return tuple(named_series(_zeros(kind.shapes, kind.build, config), leading=0))
    return _names(kind.shapes, kind.build, key)


@functools.lru_cache(maxsize=16)
def _names(shapes: Callable, build: Callable, config: tuple[tuple[str, Any], ...]
           ) -> tuple[str, ...]:
    """The names of the kind whose leaves ``shapes`` gives and ``build`` assembles (all the
    names depend on; ``_names.cache_clear()`` forgets)."""
    return tuple(named_series(_zeros(shapes, build, dict(config)), leading=0))


def initial_values(
    kind: str | ModelKind, *, init: str = "zeros", seed: int = 0, **config
) -> dict[str, float]:
    """Initial parameter values as ``{scalar name: float}``, made once on the host.

    Args:
      kind: a model kind or its name.
      init: ``"zeros"``, or ``"seeded"``: the kind's scheme drawn from
        ``numpy.random.default_rng(seed)``.
      seed: the seed of ``"seeded"``.
      **config: the kind's configuration (``features=d`` for ``linear``).

    Example:
      >>> values = initial_values("linear", init="seeded", seed=0, features=2)
      >>> list(values), values["b"]
      (['w[0]', 'w[1]', 'b'], 0.0)
    """
    kind = model_kind(kind) if isinstance(kind, str) else kind
    if init == "zeros":
        leaves = _zeros(kind.shapes, kind.build, config)
    elif init == "seeded":
        if not is_int(seed) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        leaves = kind.build(kind.seeded(np.random.default_rng(seed), **config))
    else:
        raise ValueError(f"unknown init {init!r}; expected one of {', '.join(INITS)}")
    return {name: float(value) for name, value in named_series(leaves, leading=0).items()}


def params_from_values(
    kind: str | ModelKind, values: Mapping[str, float], *, dtype=np.float64, **config
):
    """The kind's parameter pytree from ``{scalar name: float}`` (inverse of the naming rule).

    Raises:
      ValueError: a name is missing or unknown (one line naming it).

    Example:
      >>> params_from_values("linear", {"w[0]": 1.0, "w[1]": 2.0, "b": 0.5}, features=2)
      LinearParams(w=array([1., 2.]), b=array(0.5))
    """
    kind = model_kind(kind) if isinstance(kind, str) else kind
    names = parameter_names(kind, **config)
    known = set(names)
    missing = [n for n in names if n not in values]
    unknown = [n for n in values if n not in known]
    if missing or unknown:
        problem = f"missing {missing[0]!r}" if missing else f"unknown {unknown[0]!r}"
        raise ValueError(
            f"{kind.name} parameters: {problem}; expected {', '.join(names)}"
        )
    leaves = {}
    for leaf, shape in kind.shapes(**config).items():
        if shape:
            array = np.asarray([values[scalar_name(leaf, index)] for index in np.ndindex(*shape)],
                               dtype=dtype).reshape(shape)
        else:
            array = np.asarray(values[leaf], dtype=dtype)
        leaves[leaf] = array
    return kind.build(leaves)
