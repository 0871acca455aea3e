"""The lesson's optimizers as hand-written update rules on Python floats.

Which optimizers exist and which settings each takes is the one table,
:data:`functional_training.OPTIMIZERS`; the arithmetic below is written by hand.

The same ``init`` / ``update`` pair shape as optax, on dicts ``{name: float}``
instead of pytrees, so the rules read like the maths. With gradient ``g``,
rate ``lr`` and every state starting at zero:

- ``sgd``: ``u = g``.
- ``momentum`` (``mu``): ``v = g + mu v``; ``u = v`` (optax ``trace``).
- ``nesterov`` (``mu``): ``v = g + mu v``; ``u = g + mu v`` (with the new ``v``).
- ``adam`` (``b1``, ``b2``, ``eps``), step count ``t`` from 1:
  ``m = (1 - b1) g + b1 m``, ``s = (1 - b2) g^2 + b2 s``,
  ``u = (m / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps)`` (eps outside the root).
- ``adamw`` (adam's plus ``weight_decay = wd``): ``u = adam's u + wd theta``
  (decoupled: the decay never enters ``m`` or ``s``).
- ``weight_decay = lam`` of sgd, momentum, nesterov and adam is coupled
  (``functional_training.weight_decay_kind``): ``g <- g + lam theta`` before the
  rule, as ``torch.optim.SGD``/``Adam`` and ``optax.add_decayed_weights`` do it
  (nothing is added when ``lam = 0``).

and the step is ``theta <- theta + (-lr u)``, as optax's ``scale_by_learning_rate``
applies it. This is the mathematics ``functional_training.make_optimizer``
documents; docs/conventions.md relates it to ``torch.optim``.

Plain Python raises where IEEE arithmetic gives ``inf``/``nan`` (``1 / 0.0``,
``math.sqrt(-1)``); the rules avoid those operations or guard them, so a run
that diverges records non-finite values instead of raising.

Example:
  >>> rule = update_rule("momentum", learning_rate=0.1, momentum=0.5)
  >>> params, state = {"w": 1.0}, rule.init({"w": 1.0})
  >>> for _ in range(2):
  ...     updates, state = rule.update({"w": 2.0}, state, params)
  ...     params = apply_updates(params, updates)
  >>> updates, params  # v = 2 then 2 + 0.5 * 2 = 3; w = 1 - 0.2 - 0.3
  ({'w': -0.30000000000000004}, {'w': 0.5})
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from functional_training import optimizer_hyperparameters, optimizer_keys, weight_decay_kind

Floats = Mapping[str, float]


class UpdateRule(NamedTuple):
    """An optimizer as two pure functions (the optax shape).

    Attributes:
      init: ``init(params) -> state``.
      update: ``update(grads, state, params) -> (updates, new_state)``; add the
        updates to the parameters with :func:`apply_updates`.
    """

    init: Callable[[Floats], Any]
    update: Callable[[Floats, Any, Floats], tuple[dict[str, float], Any]]


class TraceState(NamedTuple):
    """Momentum buffer ``v`` per parameter."""

    trace: dict[str, float]


class AdamState(NamedTuple):
    """Adam's step count and first / second moment estimates per parameter."""

    count: int
    mu: dict[str, float]
    nu: dict[str, float]


def ieee_div(a: float, b: float) -> float:
    """``a / b`` with IEEE results where Python raises: ``1/0 = inf``, ``0/0 = nan``.

    Example:
      >>> ieee_div(1.0, 0.0), ieee_div(-1.0, 0.0), ieee_div(0.0, 0.0)
      (inf, -inf, nan)
    """
    try:
        return a / b
    except ZeroDivisionError:
        if math.isnan(a) or a == 0.0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _sgd() -> UpdateRule:
    def init(params: Floats) -> tuple:
        return ()

    def update(grads: Floats, state: tuple, params: Floats):
        return dict(grads), state

    return UpdateRule(init, update)


def _trace(momentum: float, *, nesterov: bool) -> UpdateRule:
    def init(params: Floats) -> TraceState:
        return TraceState({name: 0.0 for name in params})

    def update(grads: Floats, state: TraceState, params: Floats):
        trace = {n: g + momentum * state.trace[n] for n, g in grads.items()}
        if nesterov:
            return {n: g + momentum * trace[n] for n, g in grads.items()}, TraceState(trace)
        return dict(trace), TraceState(trace)

    return UpdateRule(init, update)


def _adam(b1: float, b2: float, eps: float, weight_decay: float | None) -> UpdateRule:
    def init(params: Floats) -> AdamState:
        return AdamState(0, {n: 0.0 for n in params}, {n: 0.0 for n in params})

    def update(grads: Floats, state: AdamState, params: Floats):
        count = state.count + 1
        mu = {n: (1 - b1) * g + b1 * state.mu[n] for n, g in grads.items()}
        nu = {n: (1 - b2) * (g * g) + b2 * state.nu[n] for n, g in grads.items()}
        correction1, correction2 = 1 - b1**count, 1 - b2**count  # b < 1: both > 0
        updates = {}
        for n in grads:
            mu_hat = mu[n] / correction1
            nu_hat = nu[n] / correction2  # >= 0 or nan: sqrt never sees a negative
            updates[n] = ieee_div(mu_hat, math.sqrt(nu_hat) + eps)
            if weight_decay is not None:
                updates[n] = updates[n] + weight_decay * params[n]
        return updates, AdamState(count, mu, nu)

    return UpdateRule(init, update)


def _coupled_decay(rule: UpdateRule, weight_decay: float) -> UpdateRule:
    """``g -> g + lam theta`` before ``rule`` (``rule`` itself when ``lam = 0``)."""
    if weight_decay == 0:
        return rule

    def update(grads: Floats, state: Any, params: Floats):
        decayed = {n: g + weight_decay * params[n] for n, g in grads.items()}
        return rule.update(decayed, state, params)

    return UpdateRule(rule.init, update)


def _scale(rule: UpdateRule, learning_rate: float | Callable[[int], float]) -> UpdateRule:
    """``u -> -lr u``; with a schedule, update ``k`` (counted from 0) uses ``lr(k)``."""
    rate = learning_rate if callable(learning_rate) else (lambda count: learning_rate)

    def init(params: Floats):
        return (0, rule.init(params))

    def update(grads: Floats, state: Any, params: Floats):
        count, inner = state
        updates, inner = rule.update(grads, inner, params)
        lr = rate(count)
        return {n: -lr * u for n, u in updates.items()}, (count + 1, inner)

    return UpdateRule(init, update)


def schedule_rule(schedule: Mapping[str, Any]) -> Callable[[int], float]:
    """The rate of step ``k`` of a schedule table ``{"kind": .., **optax's parameters}``.

    Written by hand on Python floats, in the order optax evaluates it (so the two
    round alike); ``functional_training.SCHEDULES`` names the parameters, which
    the caller has checked (:func:`functional_training.check_schedule`):

    - ``constant``: ``value``;
    - ``linear``: ``c = min(max(k - begin, 0), steps)``,
      ``(init - end) * (1 - c / steps) + end``;
    - ``cosine``: ``c = min(k, decay_steps)``,
      ``init * ((1 - alpha) * (0.5 (1 + cos(pi c / decay_steps)))^exponent + alpha)``;
    - ``exponential``: ``p = (k - begin) / steps`` (floored with ``staircase``),
      ``init * decay_rate^p`` for ``k > begin``, else ``init``.

    Example:
      >>> rate = schedule_rule({"kind": "linear", "init_value": 1.0, "end_value": 0.1,
      ...                       "transition_steps": 100, "transition_begin": 0})
      >>> rate(0), round(rate(50), 12), rate(100), rate(150)
      (1.0, 0.55, 0.1, 0.1)
    """
    kind = schedule["kind"]
    if kind == "constant":
        value = float(schedule["value"])
        return lambda count: value
    if kind == "linear":
        init, end = float(schedule["init_value"]), float(schedule["end_value"])
        steps, begin = schedule["transition_steps"], schedule["transition_begin"]

        def linear(count: int) -> float:
            done = min(max(count - begin, 0), steps)
            return (init - end) * (1.0 - done / steps) + end

        return linear
    if kind == "cosine":
        init, decay = float(schedule["init_value"]), schedule["decay_steps"]
        alpha, exponent = float(schedule["alpha"]), float(schedule["exponent"])

        def cosine(count: int) -> float:
            done = min(count, decay)
            cosine_decay = 0.5 * (1.0 + math.cos(math.pi * done / decay))
            return init * ((1.0 - alpha) * cosine_decay**exponent + alpha)

        return cosine
    if kind == "exponential":
        init, rate = float(schedule["init_value"]), float(schedule["decay_rate"])
        steps, begin = schedule["transition_steps"], schedule["transition_begin"]
        staircase = schedule["staircase"]

        def exponential(count: int) -> float:
            if count <= begin:
                return init
            power = (count - begin) / steps
            return init * rate ** (math.floor(power) if staircase else power)

        return exponential
    raise ValueError(f"unknown schedule {kind!r}")


def update_rule(
    name: str, *, learning_rate: float | Callable[[int], float], **hyperparams: float
) -> UpdateRule:
    """Build one of the lesson's optimizers (see the module docstring for the maths).

    Args:
      name: ``sgd``, ``momentum``, ``nesterov``, ``adam`` or ``adamw``.
      learning_rate: the step size ``lr``, or a function of the update count
        ``k`` (from 0) such as :func:`schedule_rule` returns.
      **hyperparams: the optimizer's settings: ``momentum`` (momentum, nesterov);
        ``b1``, ``b2``, ``eps`` (adam, adamw); ``weight_decay`` (every one; coupled
        but for adamw). One left out takes the table's default
        (:func:`functional_training.optimizer_hyperparameters`; a coupled
        ``weight_decay`` 0); an unknown one is a
        ``TypeError``. Validation of the values is the caller's.

    Returns:
      An :class:`UpdateRule` whose updates already include ``-lr``.

    Example:
      >>> rule = update_rule("adam", learning_rate=0.1, b1=0.9, b2=0.999, eps=0.0)
      >>> updates, _ = rule.update({"w": -8.0}, rule.init({"w": 1.0}), {"w": 1.0})
      >>> updates  # the first Adam step moves by lr in the sign of -g
      {'w': 0.1}
    """
    defaults = optimizer_hyperparameters(name)  # the one table; unknown names refused
    takes = optimizer_keys(name)
    unknown = sorted(set(hyperparams) - set(takes))
    if unknown:
        raise TypeError(
            f"optimizer {name!r} takes {', '.join(takes)} besides learning_rate, "
            f"got {', '.join(unknown)}"
        )
    settings = {"weight_decay": 0.0, **defaults, **hyperparams}
    coupled = weight_decay_kind(name) == "coupled"
    if name == "sgd":
        rule = _sgd()
    elif name in ("momentum", "nesterov"):
        rule = _trace(settings["momentum"], nesterov=name == "nesterov")
    else:
        rule = _adam(settings["b1"], settings["b2"], settings["eps"],
                     None if coupled else settings["weight_decay"])
    if coupled:
        rule = _coupled_decay(rule, settings["weight_decay"])
    return _scale(rule, learning_rate)


def apply_updates(params: Floats, updates: Floats) -> dict[str, float]:
    """``theta + u`` for the parameters that have an update; the others unchanged.

    Example:
      >>> apply_updates({"w": 1.0, "b": 0.0}, {"w": 0.8})
      {'w': 1.8, 'b': 0.0}
    """
    return {n: p + updates[n] if n in updates else p for n, p in params.items()}
