"""Optimizers: the optax transformations the lesson and the parity runs use."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import jax
import numpy as np
import optax

from functional_training._names import leaf_names, path_name
from functional_training._schedules import Schedule

WEIGHT_DECAY_KINDS = ("coupled", "decoupled")
"""How an optimizer's ``weight_decay = lam`` enters its step (torch.optim's and optax's
own meaning per optimizer):

- ``coupled``: ``g <- g + lam theta`` before the optimizer's own update (its momentum
  or moments see it), as ``torch.optim.SGD``/``Adam(weight_decay=lam)`` and
  ``optax.chain(optax.add_decayed_weights(lam), optax.sgd/adam(...))`` do. For plain
  SGD this is the gradient of ``(lam / 2) sum theta^2``: ``weight_decay = 2 * l2``.
- ``decoupled``: ``theta <- theta - lr (update + lam theta)``, the decay never in the
  moments (``optax.adamw``, ``torch.optim.AdamW``).

Either way the decay is the optimizer's, not the loss's: the recorded gradient and
batch loss hold no decay term (torch's ``.grad`` does not include it)."""


def coupled_weight_decay(factory: Callable[..., optax.GradientTransformation]):
    """``factory`` taking ``weight_decay = lam`` as torch.optim's SGD and Adam mean it.

    The result is ``optax.chain(optax.add_decayed_weights(lam), factory(...))``:
    ``g + lam theta`` goes into the optimizer. With ``lam = 0`` it is ``factory(...)``
    itself (the same state, no ``0 * theta`` term that would turn an infinite
    parameter's update into NaN).

    Example:
      >>> import jax.numpy as jnp
      >>> sgd = coupled_weight_decay(optax.sgd)(learning_rate=0.1, weight_decay=0.5)
      >>> updates, _ = sgd.update(jnp.array(1.0), sgd.init(jnp.array(2.0)), jnp.array(2.0))
      >>> round(float(updates), 6)  # -0.1 (1 + 0.5 * 2)
      -0.2
    """

    def with_decay(learning_rate, weight_decay: float = 0.0, **settings):
        inner = factory(learning_rate=learning_rate, **settings)
        if weight_decay == 0:
            return inner
        return optax.chain(optax.add_decayed_weights(weight_decay), inner)

    with_decay.__name__ = f"{factory.__name__}_with_coupled_weight_decay"
    # The factory's own signature plus weight_decay, for callers that read it
    # (optax.inject_hyperparams binds its arguments by the signature).
    signature = inspect.signature(factory)
    decay = inspect.Parameter("weight_decay", inspect.Parameter.KEYWORD_ONLY,
                              default=0.0)
    with_decay.__signature__ = signature.replace(
        parameters=[*signature.parameters.values(), decay])
    return with_decay


class OptimizerKind(NamedTuple):
    """One optimizer of the table: the optax factory behind it and its settings.

    Attributes:
      factory: the optax factory (``optax.sgd`` for sgd, momentum and nesterov,
        wrapped by :func:`coupled_weight_decay`), taking every setting as a keyword.
      defaults: every hyperparameter besides ``learning_rate``, with optax's default.
      fixed: keywords the factory always gets (``nesterov=True`` for nesterov).
      weight_decay: how ``weight_decay`` enters the step, one of
        :data:`WEIGHT_DECAY_KINDS`.
    """

    factory: Callable[..., optax.GradientTransformation]
    defaults: dict[str, float]
    fixed: dict[str, Any]
    weight_decay: str = "coupled"


OPTIMIZERS: dict[str, OptimizerKind] = {
    "sgd": OptimizerKind(coupled_weight_decay(optax.sgd), {}, {}),
    "momentum": OptimizerKind(coupled_weight_decay(optax.sgd), {"momentum": 0.9}, {}),
    "nesterov": OptimizerKind(coupled_weight_decay(optax.sgd), {"momentum": 0.9},
                              {"nesterov": True}),
    "adam": OptimizerKind(coupled_weight_decay(optax.adam),
                          {"b1": 0.9, "b2": 0.999, "eps": 1e-8}, {}),
    "adamw": OptimizerKind(
        optax.adamw, {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 1e-4}, {},
        "decoupled",
    ),
}
"""The one optimizer table: names, optax factories, hyperparameters and defaults.

Defaults are optax's own (and torch.optim's, but for AdamW's weight decay: 1e-2
there, see docs/conventions.md), so parity experiments set every value
explicitly. ``weight_decay`` is every optimizer's (:func:`optimizer_keys`): decoupled
for adamw, a default of its own; coupled for sgd, momentum, nesterov and adam
(:data:`WEIGHT_DECAY_KINDS`), where it is optional: absent means 0 (torch's default
too) and is not written into settings, so a run without decay reads as before.
The JAX core, the hand-written backends (``comparisons``' update rules) and the
spec reader all read this table and :func:`hyperparameter_problem`."""

OPTIMIZER_NAMES = tuple(OPTIMIZERS)

UNIT_INTERVAL = ("momentum", "b1", "b2")
"""Decay rates, in ``[0, 1)``: 1 would never forget (or divide by zero in Adam's bias
correction)."""


def optimizer_hyperparameters(name: str) -> dict[str, float]:
    """The hyperparameters ``name`` takes besides ``learning_rate``, with defaults.

    Example:
      >>> optimizer_hyperparameters("adam")
      {'b1': 0.9, 'b2': 0.999, 'eps': 1e-08}
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")
    return dict(OPTIMIZERS[name].defaults)


def optimizer_factory(name: str):
    """The optax factory behind ``name`` (``optax.sgd`` with coupled weight decay for
    ``momentum``), for callers that wrap it themselves (``optax.inject_hyperparams`` in
    sweeps, with ``weight_decay`` static: the factory branches on it).

    Example:
      >>> optimizer_factory("nesterov").__name__
      'sgd_with_coupled_weight_decay'
    """
    optimizer_hyperparameters(name)  # validates the name
    return OPTIMIZERS[name].factory


def optimizer_keys(name: str) -> tuple[str, ...]:
    """Every setting ``name`` takes besides ``learning_rate``: its defaults' keys, plus the
    optional coupled ``weight_decay`` (absent: 0) where the defaults lack it.

    Example:
      >>> optimizer_keys("momentum"), optimizer_keys("adamw")
      (('momentum', 'weight_decay'), ('b1', 'b2', 'eps', 'weight_decay'))
    """
    defaults = optimizer_hyperparameters(name)
    return (*defaults, *(() if "weight_decay" in defaults else ("weight_decay",)))


def weight_decay_kind(name: str) -> str:
    """How optimizer ``name``'s ``weight_decay`` enters its step (:data:`WEIGHT_DECAY_KINDS`).

    Example:
      >>> weight_decay_kind("adam"), weight_decay_kind("adamw")
      ('coupled', 'decoupled')
    """
    optimizer_hyperparameters(name)  # validates the name
    return OPTIMIZERS[name].weight_decay


def check_learning_rate(learning_rate: float) -> float:
    """``learning_rate`` as a float, or ``ValueError`` unless it is finite and > 0."""
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)):
        raise TypeError(f"learning_rate must be a number, got {type(learning_rate).__name__}")
    if not math.isfinite(learning_rate) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be finite and > 0, got {learning_rate}")
    return float(learning_rate)


def hyperparameter_problem(key: str, value: float) -> str | None:
    """What is wrong with one numeric hyperparameter value, or ``None``.

    The bounds: ``b1``, ``b2`` and ``momentum`` in ``[0, 1)``; every other
    setting (``eps``, ``weight_decay``) finite and ``>= 0``. Callers prefix the
    key their own way (``optimizer 'adam': b1 ...``, ``[optimizer].b1: ...``).

    Example:
      >>> hyperparameter_problem("b1", 1.0)
      'must lie in [0, 1), got 1.0'
      >>> hyperparameter_problem("eps", 1e-8) is None
      True
    """
    if not math.isfinite(value) or value < 0:
        return f"must be finite and >= 0, got {value}"
    if key in UNIT_INTERVAL and value >= 1:
        return f"must lie in [0, 1), got {value}"
    return None


def settings_problem(name: str, settings: Mapping[str, float]) -> tuple[str, str] | None:
    """A problem between settings (not of one value alone) as ``(key, problem)``, or ``None``.

    Example:
      >>> settings_problem("nesterov", {"momentum": 0.0})
      ('momentum', 'nesterov needs momentum > 0 (with 0 it is plain sgd)')
    """
    if name == "nesterov" and settings.get("momentum") == 0:
        return "momentum", "nesterov needs momentum > 0 (with 0 it is plain sgd)"
    return None


def check_hyperparameters(name: str, hyperparams: dict[str, float]) -> dict[str, float]:
    """``name``'s settings with defaults filled in, or a one-line error naming the bad one.

    The bounds are :func:`hyperparameter_problem`'s and :func:`settings_problem`'s
    (``b1``, ``b2``, ``momentum`` in ``[0, 1)``; nesterov's ``momentum > 0``;
    ``eps``, ``weight_decay`` finite and ``>= 0``); a key not in :func:`optimizer_keys`
    is a ``TypeError``. An optional coupled ``weight_decay`` stays absent unless given.

    Example:
      >>> check_hyperparameters("adam", {"b1": 0.8})
      {'b1': 0.8, 'b2': 0.999, 'eps': 1e-08}
      >>> check_hyperparameters("sgd", {"weight_decay": 0.01})
      {'weight_decay': 0.01}
      >>> check_hyperparameters("adam", {"b1": 1.0})
      Traceback (most recent call last):
      ...
      ValueError: optimizer 'adam': b1 must lie in [0, 1), got 1.0
    """
    defaults = optimizer_hyperparameters(name)
    unknown = sorted(set(hyperparams) - set(optimizer_keys(name)))
    if unknown:
        takes = ", ".join(["learning_rate", *optimizer_keys(name)])
        raise TypeError(f"optimizer {name!r} does not take {', '.join(unknown)}; it takes {takes}")
    for key, value in hyperparams.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"optimizer {name!r}: {key} must be a number, got {value!r}")
        problem = hyperparameter_problem(key, value)
        if problem is not None:
            raise ValueError(f"optimizer {name!r}: {key} {problem}")
    settings = {**defaults, **{key: float(value) for key, value in hyperparams.items()}}
    problem = settings_problem(name, settings)
    if problem is not None:
        raise ValueError(f"optimizer {name!r}: {problem[1]}")
    return settings


def check_learning_rate_fits(learning_rate: float, dtype) -> float:
    """``learning_rate`` if it is finite in ``dtype``, else a one-line ``ValueError``.

    A rate of 1e300 is a float64 number but ``inf`` in float32; a run in
    ``dtype`` must be refused before the cast, not train with an infinite rate.

    Example:
      >>> check_learning_rate_fits(1e300, "float32")
      Traceback (most recent call last):
      ...
      ValueError: learning_rate = 1e+300 overflows float32 (largest 3.40282e+38)
    """
    largest = float(np.finfo(dtype).max)
    if abs(learning_rate) > largest:
        raise ValueError(
            f"learning_rate = {learning_rate:g} overflows {np.dtype(dtype)} (largest {largest:g})"
        )
    return learning_rate


def make_optimizer(
    name: str, *, learning_rate: float | Schedule, frozen: Iterable[str] = (),
    **hyperparams: float
) -> optax.GradientTransformation:
    """Build one of the lesson's optimizers from optax.

    With gradient ``g``, rate ``lr``, and state starting at zero:

    - ``sgd``: ``theta -= lr g``.
    - ``momentum`` (``momentum=mu``, default 0.9): ``v = mu v + g``; ``theta -= lr v``
      (optax ``trace``; the same maths as ``torch.optim.SGD(momentum=mu)``).
    - ``nesterov`` (``momentum=mu``): ``v = mu v + g``; ``theta -= lr (g + mu v)``.
    - ``adam`` (``b1``, ``b2``, ``eps``): ``m = b1 m + (1-b1) g``,
      ``s = b2 s + (1-b2) g^2``, ``theta -= lr mhat / (sqrt(shat) + eps)`` with
      bias-corrected ``mhat``, ``shat``.
    - ``adamw`` (adam's plus ``weight_decay=wd``, optax default 1e-4):
      ``theta -= lr (mhat / (sqrt(shat) + eps) + wd theta)`` (decoupled decay).

    sgd, momentum, nesterov and adam also take ``weight_decay=lam`` (default 0),
    coupled as ``torch.optim.SGD``/``Adam`` couple it: ``g`` above is
    ``g + lam theta`` (``optax.add_decayed_weights`` chained before the transform;
    :func:`coupled_weight_decay`).

    Settings are checked by :func:`check_hyperparameters` (``b1``, ``b2``,
    ``momentum`` in ``[0, 1)``, nesterov's ``momentum > 0``, ``eps`` and
    ``weight_decay >= 0``).

    Cache: equal arguments return the *same* object (an ``functools.lru_cache``
    of up to :data:`OPTIMIZER_CACHE_SIZE` entries keyed by name, rate, frozen
    names and settings), so ``jax.jit`` programs keyed on the optimizer, like
    :func:`functional_training.train`'s, compile once per setting rather than
    once per call. The objects are immutable pairs of pure functions;
    ``make_optimizer.cache_clear()`` empties the cache (``cache_info()``
    reports it).

    Args:
      name: one of ``sgd``, ``momentum``, ``nesterov``, ``adam``, ``adamw``.
      learning_rate: finite and > 0, or a :class:`functional_training.Schedule`
        (:func:`functional_training.make_schedule`): the rate of update ``k`` is
        ``schedule(k)``.
      frozen: parameter leaves (``"w"``, ``"b"``; ``"layers.0.w"``: a leaf's path
        as :func:`functional_training.named_series` joins it) whose updates are zeroed with
        ``optax.multi_transform`` / ``optax.set_to_zero``: their gradient is
        still computed and recorded, they just never move.
      **hyperparams: the optimizer's own keywords (see above); any other is an error.

    Returns:
      An ``optax.GradientTransformation``.

    Example:
      >>> import jax.numpy as jnp
      >>> from functional_training import LinearParams
      >>> opt = make_optimizer("sgd", learning_rate=0.1, frozen=["b"])
      >>> params = LinearParams(jnp.array(1.0), jnp.array(0.0))
      >>> grads = LinearParams(jnp.array(-8.0), jnp.array(-4.0))
      >>> updates, _ = opt.update(grads, opt.init(params), params)
      >>> round(float(updates.w), 6), float(updates.b)
      (0.8, 0.0)
      >>> opt is make_optimizer("sgd", learning_rate=0.1, frozen=("b",))
      True
    """
    settings = check_hyperparameters(name, hyperparams)
    rate = learning_rate if isinstance(learning_rate, Schedule) else check_learning_rate(
        learning_rate)
    frozen = tuple(frozen)
    _check_frozen(frozen)
    return _cached_optimizer(name, rate, tuple(sorted(set(frozen))),
                             tuple(sorted(settings.items())))


OPTIMIZER_CACHE_SIZE = 256
"""Most optimizers :func:`make_optimizer` keeps (least recently used dropped first)."""


@functools.lru_cache(maxsize=OPTIMIZER_CACHE_SIZE)
def _cached_optimizer(
    name: str, learning_rate: float, frozen: tuple[str, ...], settings: tuple
) -> optax.GradientTransformation:
    kind = OPTIMIZERS[name]
    kwargs = {**dict(settings), **kind.fixed, "learning_rate": learning_rate}
    return freeze(kind.factory(**kwargs), frozen)


make_optimizer.cache_clear = _cached_optimizer.cache_clear
make_optimizer.cache_info = _cached_optimizer.cache_info


def _check_frozen(frozen: tuple) -> None:
    bad = [name for name in frozen if not isinstance(name, str) or not name]
    if bad:
        raise ValueError(f"frozen must name parameter leaves (strings like 'w'), got {bad[0]!r}")


def _labels(frozen: tuple[str, ...]):
    """``params -> labels``: ``"frozen"`` for the named leaves, ``"trained"`` for the rest."""

    def labels(params):
        leaves = leaf_names(params)
        unknown = [name for name in frozen if name not in leaves]
        if unknown:
            raise ValueError(f"cannot freeze {unknown}: parameters are {', '.join(leaves)}")
        return jax.tree_util.tree_map_with_path(
            lambda path, _: "frozen" if path_name(path) in frozen else "trained", params)

    return labels


def freeze(
    optimizer: optax.GradientTransformation, frozen: Iterable[str]
) -> optax.GradientTransformation:
    """Wrap ``optimizer`` so the named parameters get zero updates.

    Uses ``optax.multi_transform`` with ``optax.set_to_zero()`` for the frozen
    labels; with nothing frozen the optimizer is returned unchanged.

    Example:
      >>> opt = freeze(optax.sgd(0.1), ["b"])
      >>> isinstance(opt, optax.GradientTransformation)
      True
    """
    frozen = tuple(frozen)
    _check_frozen(frozen)
    if not frozen:
        return optimizer
    return optax.multi_transform({"trained": optimizer, "frozen": optax.set_to_zero()},
                                 _labels(frozen))
