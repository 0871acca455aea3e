"""The exact full-batch path of a sweep of the lesson's line: a step from the data's moments.

Full-batch SGD on the lesson's objective (the line on one feature, half squared
error, no L2) needs only a few numbers from the data. With ``u = x - mean(x)``,
``v = y - mean(y)``, ``Vx = mean(u^2)``, ``beta = mean(u v) / Vx``,
``R = mean((v - beta u)^2)`` and the mean residual ``c = w mean(x) + b - mean(y)``,

    L(w, b)  = (Vx (w - beta)^2 + R + c^2) / 2
    dL/dw    = Vx (w - beta) + mean(x) c
    dL/db    = c

which is the same function as ``mean(0.5 (w x + b - y)^2)`` written with the
data's moments (computed once, in float64, on the host), so a step costs ``O(1)``
per run whatever ``N`` is. Every term is non-negative (no cancellation). To go
non-finite at the same step as the autodiff path's ``mean(0.5 * e**2)``, the loss
is formed as a sum over examples divided by ``N`` (the sum overflows at the same
point) and is ``inf`` once the residual of the smallest- or largest-``x`` example
squares to ``inf`` (where some ``e_i**2`` first overflows). The two paths agree to
1e-12 in float64, non-finite steps included (``tests/test_sweep_moments.py``).

:func:`moments_problem` says why a sweep cannot take this path (``None`` when it
can); :func:`functional_training.sweep` with ``method="auto"`` takes it exactly
where it returns ``None`` and :func:`moments_exact` holds.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from functional_training._objective import Objective, objective
from functional_training._params import LinearParams

LESSON_OBJECTIVE = objective("linear", features=1)
"""The one objective the moments path computes: the lesson's line, half squared error, no L2."""


class MomentStatistics(NamedTuple):
    """What full-batch SGD on one feature needs from the data (see :func:`moment_statistics`).

    Attributes:
      n: number of examples ``N``.
      x_mean, y_mean: ``mean(x)``, ``mean(y)``.
      var_x: ``Vx = mean(u^2)`` with ``u = x - mean(x)``.
      beta: ``mean(u v) / Vx`` with ``v = y - mean(y)`` (0 when ``Vx = 0``).
      scale_w: ``sqrt(N Vx / 2)``.
      scale_c: ``sqrt(N / 2)``.
      half_residual: ``N R / 2`` with ``R = mean((v - beta u)^2)``.
      x_low, y_low: the example with the smallest ``x``.
      x_high, y_high: the example with the largest ``x``.
    """

    n: Any
    x_mean: Any
    y_mean: Any
    var_x: Any
    beta: Any
    scale_w: Any
    scale_c: Any
    half_residual: Any
    x_low: Any
    y_low: Any
    x_high: Any
    y_high: Any


def moment_statistics(x, y) -> MomentStatistics:
    """The data's moments, computed once in float64 with two-pass (centred) sums.

    The sum of the per-example losses is then, with ``c = w mean(x) + b - mean(y)``,
    ``sum_i 0.5 e_i^2 = ((w - beta) scale_w)^2 + half_residual + (c scale_c)^2``,
    three non-negative terms. The two extreme examples decide when some
    ``e_i^2`` overflows: ``e_i = w x_i + b - y_i`` is monotone in ``x_i`` once
    ``|e_i|`` dwarfs ``|y_i|``, so the largest ``|e_i|`` is at ``x_low`` or ``x_high``.
    ``x`` of shape ``(n, 1)`` is one feature too.

    Example:
      >>> stats = moment_statistics([1.0, 2.0, 3.0], [3.0, 5.0, 7.0])
      >>> stats.n, stats.x_mean, round(stats.var_x, 4), stats.beta, stats.half_residual
      (3.0, 2.0, 0.6667, 2.0, 0.0)
    """
    x = np.asarray(x, np.float64).reshape(-1)
    y = np.asarray(y, np.float64).reshape(-1)
    n = float(x.size)
    x_mean, y_mean = float(np.mean(x)), float(np.mean(y))
    u, v = x - x_mean, y - y_mean
    var_x = float(np.mean(u * u))
    beta = float(np.mean(u * v)) / var_x if var_x > 0 else 0.0
    residual = float(np.mean((v - beta * u) ** 2))
    low, high = int(np.argmin(x)), int(np.argmax(x))
    return MomentStatistics(
        n, x_mean, y_mean, var_x, beta, math.sqrt(n * var_x / 2), math.sqrt(n / 2),
        n * residual / 2, float(x[low]), float(y[low]), float(x[high]), float(y[high]),
    )


def moments_problem(model: Objective, optimizer: str, minibatch: bool, *,
                    weight_decay: float = 0.0) -> str | None:
    """Why the moments path cannot run this sweep (one clause), or ``None`` when it can.

    Example:
      >>> moments_problem(LESSON_OBJECTIVE, "adam", False)
      "optimizer is 'adam', not 'sgd'"
      >>> moments_problem(LESSON_OBJECTIVE, "sgd", False) is None
      True
      >>> moments_problem(LESSON_OBJECTIVE, "sgd", False, weight_decay=0.1)
      'sgd has weight_decay 0.1, not 0'
    """
    if optimizer != "sgd":
        return f"optimizer is {optimizer!r}, not 'sgd'"
    if weight_decay:
        return f"sgd has weight_decay {weight_decay:g}, not 0"
    if minibatch:
        return "batches are mini-batches, not the full batch"
    if model != LESSON_OBJECTIVE:
        return ("the objective is not the lesson's line on one feature "
                "(half squared error, no L2)")
    return None


def moments_exact(x, y, dtype) -> bool:
    """True where the moments path reproduces the autodiff path's non-finite steps too.

    Overflow of a loss or gradient starts at ``|e_i| ~ sqrt(max float)``; the
    argument in :func:`moment_statistics` needs ``|y_i|`` below the rounding
    unit there and ``|x_i| e_i`` not to overflow first. Data up to
    ``max float ** 0.25`` (4e9 in float32, 1e77 in float64) satisfies both.

    Example:
      >>> moments_exact([2.0], [6.0], np.float32), moments_exact([1e10], [6.0], np.float32)
      (True, False)
    """
    bound = float(np.finfo(dtype).max) ** 0.25
    return bool(np.abs(x).max() <= bound and np.abs(y).max() <= bound)


def moments_loss_and_grad(params: LinearParams, stats):
    """The full-batch loss and gradient at ``params`` from the statistics (traceable).

    ``stats`` is :class:`MomentStatistics` as one array (its fields in order).

    Example:
      >>> stats = np.asarray(moment_statistics([2.0], [6.0]))
      >>> loss, grads = moments_loss_and_grad(LinearParams(1.0, 0.0), stats)
      >>> round(float(loss), 6), float(grads.w), float(grads.b)
      (8.0, -8.0, -4.0)
    """
    m = MomentStatistics(*stats)
    c = params.w * m.x_mean + params.b - m.y_mean
    dw = params.w - m.beta
    total = (dw * m.scale_w) ** 2 + m.half_residual + (c * m.scale_c) ** 2  # = sum_i 0.5 e_i^2
    e_low = params.w * m.x_low + params.b - m.y_low
    e_high = params.w * m.x_high + params.b - m.y_high
    squares_finite = jnp.isfinite(e_low * e_low) & jnp.isfinite(e_high * e_high)
    # autodiff's mean(0.5 * e**2) is inf once some e_i**2 overflows (nan stays nan)
    loss = jnp.where(squares_finite, total / m.n, total / m.n + jnp.inf)
    return loss, LinearParams(w=m.var_x * dw + m.x_mean * c, b=c)
