"""Optimizers: the optax transformations the lesson and the parity runs use."""

from __future__ import annotations

import math
from collections.abc import Iterable

import optax

from functional_training._params import PARAM_NAMES, LinearParams

# name -> (optax factory, its hyperparameters and their defaults). Defaults are
# optax's own; torch.optim's differ for adamw's weight decay (see the docs'
# convention table), so parity experiments always set every value explicitly.
_OPTIMIZERS = {
    "sgd": (optax.sgd, {}),
    "momentum": (optax.sgd, {"momentum": 0.9}),
    "nesterov": (optax.sgd, {"momentum": 0.9}),
    "adam": (optax.adam, {"b1": 0.9, "b2": 0.999, "eps": 1e-8}),
    "adamw": (optax.adamw, {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 1e-4}),
}

OPTIMIZER_NAMES = tuple(_OPTIMIZERS)


def optimizer_hyperparameters(name: str) -> dict[str, float]:
    """The hyperparameters ``name`` takes besides ``learning_rate``, with defaults.

    Example:
      >>> optimizer_hyperparameters("adam")
      {'b1': 0.9, 'b2': 0.999, 'eps': 1e-08}
    """
    if name not in _OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(_OPTIMIZERS)}")
    return dict(_OPTIMIZERS[name][1])


def optimizer_factory(name: str):
    """The optax factory behind ``name`` (e.g. ``optax.sgd`` for ``momentum``), for callers
    that wrap it themselves (``optax.inject_hyperparams`` in sweeps).

    Example:
      >>> optimizer_factory("nesterov") is optax.sgd
      True
    """
    optimizer_hyperparameters(name)  # validates the name
    return _OPTIMIZERS[name][0]


def check_learning_rate(learning_rate: float) -> float:
    """``learning_rate`` as a float, or ``ValueError`` unless it is finite and > 0."""
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)):
        raise TypeError(f"learning_rate must be a number, got {type(learning_rate).__name__}")
    if not math.isfinite(learning_rate) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be finite and > 0, got {learning_rate}")
    return float(learning_rate)


def make_optimizer(
    name: str, *, learning_rate: float, frozen: Iterable[str] = (), **hyperparams: float
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

    Args:
      name: one of ``sgd``, ``momentum``, ``nesterov``, ``adam``, ``adamw``.
      learning_rate: finite and > 0.
      frozen: parameter names (``"w"``, ``"b"``) whose updates are zeroed with
        ``optax.multi_transform`` / ``optax.set_to_zero``: their gradient is
        still computed and recorded, they just never move.
      **hyperparams: the optimizer's own keywords (see above); any other is an error.

    Returns:
      An ``optax.GradientTransformation``.

    Example:
      >>> import jax.numpy as jnp
      >>> opt = make_optimizer("sgd", learning_rate=0.1, frozen=["b"])
      >>> params = LinearParams(jnp.array(1.0), jnp.array(0.0))
      >>> grads = LinearParams(jnp.array(-8.0), jnp.array(-4.0))
      >>> updates, _ = opt.update(grads, opt.init(params), params)
      >>> round(float(updates.w), 6), float(updates.b)
      (0.8, 0.0)
    """
    defaults = optimizer_hyperparameters(name)
    unknown = sorted(set(hyperparams) - set(defaults))
    if unknown:
        takes = ", ".join(["learning_rate", *defaults]) or "learning_rate"
        raise TypeError(f"optimizer {name!r} does not take {', '.join(unknown)}; it takes {takes}")
    for key, value in hyperparams.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"optimizer {name!r}: {key} must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"optimizer {name!r}: {key} must be finite and >= 0, got {value}")
    factory, _ = _OPTIMIZERS[name]
    settings = {**defaults, **hyperparams, "learning_rate": check_learning_rate(learning_rate)}
    if name == "nesterov":
        settings["nesterov"] = True
    optimizer = factory(**settings)
    return freeze(optimizer, frozen)


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
    unknown = [name for name in frozen if name not in PARAM_NAMES]
    if unknown:
        raise ValueError(f"cannot freeze {unknown}: parameters are {', '.join(PARAM_NAMES)}")
    if not frozen:
        return optimizer
    labels = LinearParams(*("frozen" if n in frozen else "trained" for n in PARAM_NAMES))
    return optax.multi_transform({"trained": optimizer, "frozen": optax.set_to_zero()}, labels)
