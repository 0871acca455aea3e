"""Learning-rate schedules as data: a kind and optax's own parameter names (:data:`SCHEDULES`).

The rate at step ``k`` (counted from 0, the step whose update it scales):

- ``constant`` (``value``): ``value``;
- ``linear`` (``init_value``, ``end_value``, ``transition_steps``, ``transition_begin = 0``):
  ``init + (end - init) * clip((k - begin) / steps, 0, 1)``;
- ``cosine`` (``init_value``, ``decay_steps``, ``alpha = 0``, ``exponent = 1``):
  ``init * ((1 - alpha) * (0.5 (1 + cos(pi min(k, steps) / steps)))^exponent + alpha)``;
- ``exponential`` (``init_value``, ``transition_steps``, ``decay_rate``,
  ``transition_begin = 0``, ``staircase = false``):
  ``init * decay_rate^(max(k - begin, 0) / steps)`` (the exponent floored with ``staircase``).

:func:`make_schedule` builds the optax schedule (evaluated at a float count, see
:class:`Schedule`); the hand-written backends
implement the same formulas themselves.

Example:
  >>> schedule = make_schedule("linear", init_value=1.0, end_value=0.1, transition_steps=100)
  >>> round(float(schedule(50)), 6)
  0.55
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax.numpy as jnp
import optax

from functional_training._registry import lookup


class ScheduleKind(NamedTuple):
    """One schedule of the table.

    Attributes:
      factory: the optax function that builds it.
      required: parameters without a default.
      defaults: the optional parameters and optax's defaults.
      steps: the parameters that count steps (integers > 0; ``transition_begin`` >= 0).
    """

    factory: Callable[..., optax.Schedule]
    required: tuple[str, ...]
    defaults: dict[str, Any]
    steps: tuple[str, ...]


SCHEDULES: dict[str, ScheduleKind] = {
    "constant": ScheduleKind(optax.constant_schedule, ("value",), {}, ()),
    "linear": ScheduleKind(optax.linear_schedule, ("init_value", "end_value", "transition_steps"),
                           {"transition_begin": 0}, ("transition_steps", "transition_begin")),
    "cosine": ScheduleKind(optax.cosine_decay_schedule, ("init_value", "decay_steps"),
                           {"alpha": 0.0, "exponent": 1.0}, ("decay_steps",)),
    "exponential": ScheduleKind(
        optax.exponential_decay, ("init_value", "transition_steps", "decay_rate"),
        {"transition_begin": 0, "staircase": False}, ("transition_steps", "transition_begin")),
}
"""Every schedule kind by name, with optax's parameter names."""


def check_schedule(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with defaults filled in, or a one-line error naming the bad parameter.

    Rates must be finite and > 0 (``end_value`` and ``alpha`` may be 0, ``decay_rate``
    must be > 0); step counts integers (``transition_begin`` >= 0, the others > 0);
    ``staircase`` a boolean.

    Example:
      >>> check_schedule("cosine", {"init_value": 0.1, "decay_steps": 10})
      {'init_value': 0.1, 'decay_steps': 10, 'alpha': 0.0, 'exponent': 1.0}
      >>> check_schedule("linear", {"init_value": 1.0, "end_value": 0.1})
      Traceback (most recent call last):
      ...
      ValueError: schedule 'linear' needs transition_steps
    """
    table = lookup(SCHEDULES, kind, what="schedule")
    known = (*table.required, *table.defaults)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(
            f"schedule {kind!r} does not take {', '.join(unknown)}; it takes {', '.join(known)}"
        )
    for key in table.required:
        if key not in params:
            raise ValueError(f"schedule {kind!r} needs {key}")
    settings = {**{k: params[k] for k in table.required}, **table.defaults,
                **{k: v for k, v in params.items() if k in table.defaults}}
    for key, value in settings.items():
        if key == "staircase":
            if not isinstance(value, bool):
                raise ValueError(f"schedule {kind!r}: staircase must be true or false")
            continue
        if key in table.steps:
            low = 0 if key == "transition_begin" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"schedule {kind!r}: {key} must be an integer >= {low}, "
                                 f"got {value!r}")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"schedule {kind!r}: {key} must be a number, got {value!r}")
        may_be_zero = key in ("end_value", "alpha")
        if not math.isfinite(value) or value < 0 or (value == 0 and not may_be_zero):
            bound = ">= 0" if may_be_zero else "> 0"
            raise ValueError(f"schedule {kind!r}: {key} must be finite and {bound}, got {value}")
        settings[key] = float(value)
    return settings


class Schedule(NamedTuple):
    """A checked schedule: ``schedule(count) -> rate``, hashable by value (a static jit argument).

    The count is converted to the default float dtype before optax's formula sees
    it: optax's counters are int32, and JAX divides int32 by an int in float32
    even with 64-bit enabled, so a float64 run would otherwise use rates rounded
    to float32 (``linear`` from 1.0 to 0.1 over 10 steps gives 0.90999997 at
    step 1, not 0.91).

    Attributes:
      kind: a key of :data:`SCHEDULES`.
      settings: its parameters, defaults filled in, as sorted ``(name, value)`` pairs.
    """

    kind: str
    settings: tuple[tuple[str, Any], ...]

    def __call__(self, count):
        schedule = SCHEDULES[self.kind].factory(**dict(self.settings))
        return schedule(jnp.asarray(count, dtype=jnp.result_type(float)))

    def as_dict(self) -> dict[str, Any]:
        """``{"kind": .., **settings}``: the spec's ``[schedule]`` table."""
        return {"kind": self.kind, **dict(self.settings)}


def make_schedule(kind: str, **params: Any) -> Schedule:
    """The optax schedule ``kind`` with ``params`` (checked by :func:`check_schedule`).

    Example:
      >>> float(make_schedule("exponential", init_value=1.0, transition_steps=2,
      ...                     decay_rate=0.25)(4))
      0.0625
    """
    settings = check_schedule(kind, params)
    return Schedule(kind, tuple(sorted(settings.items())))
