"""The learning-rate sweep's data: one vmapped sweep, checked, stored exactly.

The ``lr-sweep`` figure draws the loss after :data:`SWEEP_STEPS` full-batch
updates at each of :data:`SWEEP_RATES` plus the lesson's three rates
(:data:`LESSON_RATES`), from one vmapped call of
:func:`functional_training.sweep_learning_rates`. The sweep's per-step losses
at the lesson's rates must equal the verified ``learning-rates/*``
trajectories; its final losses are stored as the closed form computed in
rational arithmetic (checked against the sweep), and the rates as correctly
rounded powers of ten, so the committed figure data has the same bits on every
machine.

Example:
  >>> SWEEP_RATES.size, float(SWEEP_RATES[0]), SWEEP_STEPS
  (1201, 0.001, 100)
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

import functional_training as ft
from comparisons.experiments import REGISTRY, Experiment
from comparisons.figures.verified import UnverifiedTrajectoryError, require_close
from functional_training import TrajectoryRecord

__all__ = [
    "LESSON_RATES",
    "SWEEP_CHECK_RTOL",
    "SWEEP_RATES",
    "SWEEP_STEPS",
    "exact_final_losses",
    "exact_stability_limit",
    "log_spaced",
    "lr_sweep_data",
]

LESSON_RATES = ("learning-rates/lr=0.01", "learning-rates/lr=0.1", "learning-rates/lr=0.5")
"""The learning-rates lesson's three runs (the sweep is checked against them)."""

SWEEP_STEPS = 100
"""Updates per rate in the sweep: enough for growth by ``|1 - lr lambda_max|^(2S)`` to overflow."""

SWEEP_CHECK_RTOL = 1e-9
"""How close the sweep's final loss must be to the exact one at every rate. Where the
error after S updates is not tiny, forming ``2 w + b - 6`` rounds it by ~1e-15 of
itself and S = 100 updates add ~100 ulps; 1e-9 (rtol = atol) leaves room for both."""


def log_spaced(start_exponent: int, stop_exponent: float, count: int) -> np.ndarray:
    """``count`` rates ``10 ** e``, ``e`` evenly spaced, each the same bits on every machine.

    Computed in 40-digit decimal arithmetic and rounded once to float64.
    ``np.geomspace`` calls the CPU's ``pow``, whose last bit differs between
    machines (SIMD and FMA variants), and the rates are stored in the
    committed figure data.

    Example:
      >>> log_spaced(-3, 1.5, 1201)[[0, 800, 1200]].tolist()
      [0.001, 1.0, 31.622776601683793]
    """
    with decimal.localcontext() as context:
        context.prec = 40
        start, stop = decimal.Decimal(start_exponent), decimal.Decimal(stop_exponent)
        return np.array([float(decimal.Decimal(10) ** (start + (stop - start) * i / (count - 1)))
                         for i in range(count)])


SWEEP_RATES = log_spaced(-3, 1.5, 1201)
"""1,201 log-spaced rates from 0.001 to 31.6 (the lesson's three rates are added to these)."""

def lr_sweep_data(reference_runs: Sequence[TrajectoryRecord]) -> dict:
    """The sweep over :data:`SWEEP_RATES` plus the lesson's rates, checked against their runs.

    Args:
      reference_runs: the verified reference trajectories of :data:`LESSON_RATES`, in order.
    """
    one = REGISTRY[LESSON_RATES[0]]
    lesson_rates = [REGISTRY[n].learning_rate for n in LESSON_RATES]
    with ft.float64():
        sweep = ft.sweep_learning_rates(
            ft.LinearParams(one.init["w"], one.init["b"]), one.xs, one.ys,
            np.union1d(SWEEP_RATES, lesson_rates), steps=SWEEP_STEPS,
        )
    tol = ft.tolerance("float64", SWEEP_STEPS)
    for rate, trajectory in zip(lesson_rates, reference_runs, strict=True):
        row = sweep.losses[int(np.flatnonzero(sweep.learning_rates == rate)[0])]
        for k, expected in enumerate(trajectory.train_loss):
            require_close("lr-sweep", f"the sweep's loss at lr={rate:g}, step {k}",
                           expected, row[k], tol)
    return {
        "learning_rates": [float(r) for r in sweep.learning_rates],
        "final_loss": exact_final_losses(one, sweep),
        "first_nonfinite_step": [None if s < 0 else int(s) for s in sweep.first_nonfinite_step],
        "steps": SWEEP_STEPS,
        "initial_loss": reference_runs[0].train_loss[0],
        "stability_limit": exact_stability_limit(one),
        "divergence_rate": ft.observed_divergence(
            sweep.learning_rates, sweep.losses, sweep.first_nonfinite_step),
        "lesson_rates": lesson_rates,
    }


def exact_stability_limit(experiment: Experiment) -> float:
    """``2 / lambda_max`` for one example ``(x, y)``: ``H = [[x^2, x], [x, 1]]``, top ``x^2 + 1``.

    Exact and rounded once (LAPACK's eigenvalue can differ in the last bit between
    CPUs), checked against :func:`functional_training.stability_limit`.
    """
    ((x, y),) = experiment.train
    limit = float(2 / (Fraction(x) ** 2 + 1))
    require_close("lr-sweep", "the stability limit", limit,
                   ft.stability_limit(experiment.xs, experiment.ys), ft.tolerance("float64", 0))
    return limit


def exact_final_losses(experiment: Experiment, sweep) -> list[float]:
    """The loss after the sweep's updates at every rate, exact where the sweep's is finite.

    One example ``(x, y)``, full-batch SGD: the error ``e = w x + b - y`` is
    multiplied by ``1 - lr (x^2 + 1)`` at each update, so the loss after ``S``
    updates is ``0.5 e_0^2 (1 - lr (x^2 + 1))^(2 S)``. It is computed in exact
    rational arithmetic (``fractions``) from the float inputs and rounded once,
    so the committed figure data has the same bits on every machine, where the
    sweep's XLA arithmetic may differ in the last bit between CPUs. Each
    value is checked against the sweep's (:data:`SWEEP_CHECK_RTOL`); where the
    sweep overflowed (inf or NaN), its value is kept once the exact loss is
    past the overflow edge (``functional_training.overflow_edge``).

    Raises:
      UnverifiedTrajectoryError: the sweep and the closed form disagree somewhere.
    """
    ((x, y),) = experiment.train
    x, y = Fraction(x), Fraction(y)
    error = Fraction(experiment.init["w"]) * x + Fraction(experiment.init["b"]) - y
    edge = ft.overflow_edge("float64", 1)
    losses = []
    for rate, value in zip(sweep.learning_rates, sweep.final_loss, strict=True):
        exact = error * error / 2 * (1 - Fraction(float(rate)) * (x * x + 1)) ** (2 * sweep.steps)
        if not np.isfinite(value):
            if exact < edge:
                raise UnverifiedTrajectoryError(
                    f"refusing to draw lr-sweep: the sweep's final loss at lr={rate:g} is "
                    f"{value} but the exact loss is {float(exact)!r}")
            losses.append(float(value))
            continue
        loss = float(exact) if exact <= Fraction(np.finfo(np.float64).max) else math.inf
        require_close("lr-sweep", f"the sweep's final loss at lr={rate:g}", loss, float(value),
                       SWEEP_CHECK_RTOL)
        losses.append(loss)
    return losses

