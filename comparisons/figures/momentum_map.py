"""The momentum map: steps to converge for heavy ball over learning rate x momentum.

Heavy ball (torch.optim.SGD's convention, optax's ``trace``):
``v <- beta v + g``, ``theta <- theta - lr v``. On a quadratic
``f(theta) = 1/2 theta^T H theta`` each eigen-direction of ``H`` (eigenvalue
``lambda``) follows ``e_{k+1} = (1 + beta - lr lambda) e_k - beta e_{k-1}``,
whose characteristic roots both lie inside the unit circle iff
``0 <= beta < 1`` and ``0 < lr lambda < 2 (1 + beta)``. So the run converges iff
``lr < 2 (1 + beta) / lambda_max``: momentum widens plain gradient descent's
``2 / lambda_max`` by ``1 + beta``. Polyak's fastest setting is
``lr* = 4 / (sqrt(lambda_max) + sqrt(lambda_min))^2``,
``beta* = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2`` with
``kappa = lambda_max / lambda_min``.

The quadratic is the lesson's linear model on designed data: rows
``(+-2, 0)``, ``(0, +-0.5)`` with target 0 (:data:`QUADRATIC`). The features have
mean 0, so half squared error is ``1/2 theta^T H theta`` in
``theta = (w_1, w_2, b)`` with ``H = mean([x; 1][x; 1]^T) = diag(2, 0.125, 1)``:
``lambda_max = 2``, ``lambda_min = 0.125``, ``kappa = 16``, so the closed-form
boundary is ``lr = 1 + beta``, and ``lr* = 1.28``, ``beta* = 0.36``. (With
``kappa = 4``, ``diag(2, 0.5)``, the grid point ``lr = 1``, ``beta = 0.5`` would end
every run in exactly two steps, a coincidence of exact arithmetic, not momentum.)

The data (:func:`momentum_map_data`) is one vmapped sweep over
:data:`RATES` x :data:`MOMENTA` (``functional_training.sweep`` with a momentum
hyperparameter axis), float64, :data:`STEPS` steps from :data:`START`. A run
*converged at step k* when ``k`` is the first step whose loss is
``<= CONVERGED x`` the initial loss; it *diverged at step k* when ``k`` is the
first step whose loss is non-finite or ``> DIVERGED x`` the initial loss
(whichever comes first); otherwise it did neither within :data:`STEPS` steps.
Checked before anything is drawn, refusing with
:class:`~comparisons.figures.verified.UnverifiedTrajectoryError`:

- the runs at :data:`VERIFIED_CELLS` are registry-style experiments run on
  every backend (:func:`~comparisons.figures.verified.verify_experiment`), and
  the sweep's losses at those cells equal their verified trajectories;
- the sweep's heavy ball reproduces the verified ``optimizer/momentum`` run;
- the whole grid equals an independent NumPy float64 heavy-ball loop: every
  cell's outcome and step exactly, every loss within :data:`GRID_RTOL`.

The stored data holds only integers and exactly rounded floats (rates as
correctly rounded powers of ten, momenta as ``i / 50``), so it has the same
bits on every machine.

Example:
  >>> len(RATES), len(MOMENTA), float(RATES[40]), MOMENTA[45]
  (53, 50, 1.0, 0.9)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction

import numpy as np

import functional_training as ft
from comparisons import plots
from comparisons.experiments import REGISTRY, Experiment
from comparisons.figures.kind import FigureSpec, draw_single
from comparisons.figures.lr_sweep import log_spaced
from comparisons.figures.verified import (
    UnverifiedTrajectoryError,
    VerifiedRuns,
    require_close,
    verify_experiment,
)
from comparisons.figures.wording import backends_phrase, num, signed

__all__ = [
    "CONVERGED",
    "DIVERGED",
    "GRID_RTOL",
    "MOMENTA",
    "MOMENTUM_MAP_FIGURES",
    "QUADRATIC",
    "RATES",
    "START",
    "STEPS",
    "VERIFIED_CELLS",
    "momentum_map_data",
    "outcomes",
]

QUADRATIC = ((2.0, 0.0, 0.0), (-2.0, 0.0, 0.0), (0.0, 0.5, 0.0), (0.0, -0.5, 0.0))
"""Rows ``(x_1, x_2, y)``: mean-zero features, target 0; ``H = diag(2, 0.125, 1)`` in ``(w, b)``."""

START = {"w[0]": 1.0, "w[1]": 1.0, "b": 0.0}
"""Every run's initial point: loss ``1/2 (2 + 0.125) = 1.0625``."""

RATES = log_spaced(-2, 0.6, 53)
"""53 learning rates ``10^e``, ``e = -2, -1.95, ..., 0.6`` (0.01 to 3.98), correctly rounded."""

MOMENTA = tuple(float(Fraction(i, 50)) for i in range(50))
"""50 momenta ``beta = 0, 0.02, ..., 0.98``."""

STEPS = 1000
"""Steps per run: enough for ``beta = 0.98`` (loss ~ ``beta^k``) to fall by 1e-6."""

CONVERGED = 1e-6
"""A run converged at the first step whose loss is ``<= CONVERGED x`` its initial loss."""

DIVERGED = 1e12
"""A run diverged at the first step whose loss is non-finite or ``> DIVERGED x`` its initial
loss (far above any transient growth of a converging run)."""

GRID_RTOL = 1e-8
"""How close the sweep's losses must be to the NumPy loop's (rtol; atol ``GRID_RTOL`` x the
initial loss). Independent float64 loops differ by ulps a step; over 1,000 steps of a
diverging (or slowly converging) mode the relative difference grows to ~1e-12; 1e-8 leaves
room, while any difference in the update rule shows at 1e-2 within a few steps."""

VERIFIED_CELLS = ((20, 45), (40, 25), (48, 25))
"""``(rate index, momentum index)`` of the runs verified on every backend: lr 0.1 with
beta 0.9 (converges), lr 1 with beta 0.5 (converges), lr 2.512 with beta 0.5 (diverges)."""

VERIFIED_STEPS = 40
"""Steps of each run verified on every backend (the sweep's first 40 steps are compared)."""

_REGISTRY_RUN = "optimizer/momentum"
"""The registry's heavy-ball parity run, which the sweep's heavy ball must reproduce."""


def _eigenvalues() -> list[float]:
    """The eigenvalues of ``H = mean([x; 1][x; 1]^T)`` of :data:`QUADRATIC`, exactly.

    ``H`` is diagonal (mean-zero features, no cross terms), so its eigenvalues are
    its diagonal, computed in rational arithmetic.
    """
    rows = [[Fraction(v) for v in row[:-1]] + [Fraction(1)] for row in QUADRATIC]
    size = len(rows[0])
    hessian = [[sum(r[i] * r[j] for r in rows) / len(rows) for j in range(size)]
               for i in range(size)]
    if any(hessian[i][j] for i in range(size) for j in range(size) if i != j):
        raise ValueError("QUADRATIC's Hessian must be diagonal")
    return sorted(float(hessian[i][i]) for i in range(size))


def _experiment(rate_index: int, momentum_index: int) -> Experiment:
    rate, momentum = float(RATES[rate_index]), MOMENTA[momentum_index]
    return Experiment(f"momentum-map/lr={rate:.4g},beta={momentum:g}",
                      f"heavy ball on the designed quadratic, lr {rate:.4g}, beta {momentum:g}",
                      QUADRATIC, START, "momentum", {"learning_rate": rate, "momentum": momentum},
                      VERIFIED_STEPS)


def outcomes(losses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(converged_step, diverged_step)`` per run, -1 where none (the module's definitions).

    ``losses`` has the steps last (``[..., 0]`` the initial loss). A run's outcome is
    whichever threshold it crosses first; the other is -1.

    Example:
      >>> c, d = outcomes(np.array([[1.0, 0.5, 1e-7], [1.0, 2.0, np.inf], [1.0, 1.0, 1.0]]))
      >>> c.tolist(), d.tolist()
      ([2, -1, -1], [-1, 2, -1])
    """
    initial = losses[..., :1]
    with np.errstate(invalid="ignore"):
        low = losses <= CONVERGED * initial
        high = ~np.isfinite(losses) | (losses > DIVERGED * initial)
    first_low = np.where(low.any(-1), low.argmax(-1), -1)
    first_high = np.where(high.any(-1), high.argmax(-1), -1)
    converged = (first_low >= 0) & ((first_high < 0) | (first_low < first_high))
    diverged = (first_high >= 0) & ~converged
    return np.where(converged, first_low, -1), np.where(diverged, first_high, -1)


def _numpy_heavy_ball() -> np.ndarray:
    """Every run of the grid in NumPy float64 from the formulas: losses ``(L, B, S + 1)``.

    ``e = X theta - y``, ``L = mean(e^2) / 2``, ``g = X^T e / n`` (``X`` with a column
    of ones for the bias), ``v = beta v + g``, ``theta = theta - lr v``.
    """
    rows = np.asarray(QUADRATIC, np.float64)
    x = np.column_stack([rows[:, :-1], np.ones(len(rows))])
    y = rows[:, -1]
    rate = np.asarray(RATES)[:, None, None]
    beta = np.asarray(MOMENTA)[None, :, None]
    theta = np.broadcast_to(np.array([START["w[0]"], START["w[1]"], START["b"]]),
                            (len(RATES), len(MOMENTA), 3)).copy()
    velocity = np.zeros_like(theta)
    losses = np.empty((len(RATES), len(MOMENTA), STEPS + 1))
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(STEPS + 1):
            error = np.einsum("lbp,np->lbn", theta, x) - y
            losses[..., k] = 0.5 * np.mean(error**2, axis=-1)
            velocity = beta * velocity + np.einsum("lbn,np->lbp", error, x) / len(y)
            theta = theta - rate * velocity
    return losses


def _check_grid(swept: np.ndarray) -> None:
    """The sweep's losses against the NumPy loop: outcomes exactly, values within GRID_RTOL."""
    expected = _numpy_heavy_ball()
    for name, got, want in zip(("converged", "diverged"), outcomes(swept), outcomes(expected),
                               strict=True):
        if not np.array_equal(got, want):
            i, j = np.argwhere(got != want)[0]
            raise UnverifiedTrajectoryError(
                f"refusing to draw momentum-map: the sweep's {name} step at lr={RATES[i]:.4g}, "
                f"beta={MOMENTA[j]:g} is {got[i, j]}, the NumPy float64 loop's {want[i, j]}")
    initial = expected[..., :1]
    with np.errstate(invalid="ignore"):
        compared = np.isfinite(expected) & (expected <= DIVERGED * initial)
        close = np.isclose(swept, expected, rtol=GRID_RTOL, atol=GRID_RTOL * initial)
    bad = compared & ~close
    if bad.any():
        i, j, k = np.argwhere(bad)[0]
        raise UnverifiedTrajectoryError(
            f"refusing to draw momentum-map: the sweep's loss at lr={RATES[i]:.4g}, "
            f"beta={MOMENTA[j]:g}, step {k} is {swept[i, j, k]!r}, the NumPy float64 loop's "
            f"{expected[i, j, k]!r} (rtol {GRID_RTOL:g})")


def _check_registry_run(verified: VerifiedRuns, tol: float) -> None:
    """The sweep's heavy ball on the registry's momentum run equals its verified trajectory."""
    run = REGISTRY[_REGISTRY_RUN]
    reference = verified.ref(_REGISTRY_RUN)
    with ft.float64():
        sweep = ft.sweep(ft.objective("linear", features=1), (run.xs, run.ys),
                         learning_rates=[run.hyperparams["learning_rate"]], seeds=None,
                         initial_params=ft.LinearParams(run.init["w"], run.init["b"]),
                         optimizer="momentum",
                         hyperparameters={"momentum": [run.hyperparams["momentum"]]},
                         steps=run.steps)
    for k, expected in enumerate(reference.train_loss):
        require_close("momentum-map", f"the sweep's loss on {_REGISTRY_RUN}, step {k}",
                      expected, sweep.losses[0, 0, k], tol)


def momentum_map_data(verified: VerifiedRuns) -> dict:
    """The map's data: one vmapped sweep over rates x momenta, checked (see the module).

    Args:
      verified: holds the verified ``optimizer/momentum`` run; its backends run the
        map's own :data:`VERIFIED_CELLS`.

    Raises:
      UnverifiedTrajectoryError: a backend, the NumPy loop or the registry run disagrees.
    """
    tol = ft.tolerance("float64", STEPS)
    _check_registry_run(verified, tol)
    rows = np.asarray(QUADRATIC, np.float64)
    with ft.float64():
        sweep = ft.sweep(ft.objective("linear", features=2), (rows[:, :-1], rows[:, -1]),
                         learning_rates=RATES, seeds=None,
                         initial_params=ft.LinearParams(np.array([START["w[0]"], START["w[1]"]]),
                                                        START["b"]),
                         optimizer="momentum", hyperparameters={"momentum": list(MOMENTA)},
                         steps=STEPS)
    backends = None
    for i, j in VERIFIED_CELLS:
        experiment = _experiment(i, j)
        trajectories, _ = verify_experiment(experiment, backends=list(verified.backends))
        backends = list(trajectories)
        reference = trajectories[verified.reference]
        for k, expected in enumerate(reference.train_loss):
            require_close("momentum-map", f"the sweep's loss of {experiment.name} at step {k}",
                          expected, sweep.losses[i, j, k], tol)
    _check_grid(sweep.losses)
    converged, diverged = outcomes(sweep.losses)
    eigenvalues = _eigenvalues()
    fastest = np.unravel_index(np.argmin(np.where(converged >= 0, converged, STEPS + 1)),
                               converged.shape)
    # Polyak: IEEE-rounded +, /, sqrt of exact eigenvalues: the same bits on every machine
    top, bottom = eigenvalues[-1], eigenvalues[0]
    cross = 2 * math.sqrt(top * bottom)
    return {
        "learning_rates": [float(r) for r in RATES],
        "momenta": list(MOMENTA),
        "steps": STEPS,
        "initial_loss": float(sweep.losses[0, 0, 0]),
        "converged_below": CONVERGED,
        "diverged_above": DIVERGED,
        "eigenvalues": eigenvalues,
        "converged_step": [[None if s < 0 else int(s) for s in row] for row in converged],
        "diverged_step": [[None if s < 0 else int(s) for s in row] for row in diverged],
        "fastest_measured": {"learning_rate": float(RATES[fastest[0]]),
                             "momentum": MOMENTA[fastest[1]],
                             "steps": int(converged[fastest])},
        "fastest_theory": {"learning_rate": 4 / (top + bottom + cross),
                           "momentum": (top + bottom - cross) / (top + bottom + cross)},
        "verified_cells": [{"learning_rate": float(RATES[i]), "momentum": MOMENTA[j]}
                           for i, j in VERIFIED_CELLS],
        "verified_backends": backends,
    }


def _power(value: float) -> str:
    """A power of ten in words' notation: ``1e-06`` -> ``10^−6``.

    Example:
      >>> _power(1e-6), _power(1e12)
      ('10^−6', '10^12')
    """
    return f"10^{signed(round(math.log10(value)))}"


def _examples() -> str:
    """The designed examples in words: ``(±2, 0), (0, ±0.5)``."""
    pairs = dict.fromkeys(tuple(abs(v) for v in row[:-1]) for row in QUADRATIC)
    return ", ".join("(" + ", ".join(f"±{v:g}" if v else "0" for v in pair) + ")"
                     for pair in pairs)


def _caption(data: Mapping, context: Mapping) -> str:
    rates, momenta = data["learning_rates"], data["momenta"]
    converged = sum(s is not None for row in data["converged_step"] for s in row)
    diverged = sum(s is not None for row in data["diverged_step"] for s in row)
    cells = len(rates) * len(momenta)
    lam = data["eigenvalues"]
    limit = 2 / lam[-1]
    boundary = "1 + β" if limit == 1 else f"{num(limit)} (1 + β)"
    marked = "; ".join(f"lr {num(c['learning_rate'])}, β {num(c['momentum'])}"
                       for c in data["verified_cells"])
    return (
        f"Heavy-ball momentum (v ← β v + g, θ ← θ − lr v, torch.optim.SGD's convention) on a "
        "quadratic: the lesson's linear model with half squared error on four designed "
        f"examples {_examples()}, target 0, from w = (1, 1), b = 0, is ½ θᵀHθ in θ = (w, b) "
        "with H = mean([x; 1][x; 1]ᵀ), whose eigenvalues are "
        f"{', '.join(num(v) for v in sorted(lam, reverse=True))}. {cells} runs, "
        f"{len(rates)} learning rates from {num(rates[0])} to {num(rates[-1])} (log-spaced) × "
        f"{len(momenta)} momenta from 0 to {num(momenta[-1])}, {data['steps']} steps each, are "
        "one vmapped float64 sweep (functional_training.sweep with a momentum hyperparameter "
        "axis). A run converged at the first step whose loss is ≤ "
        f"{_power(data['converged_below'])} × its initial loss (colour: that step); it "
        "diverged at the first step whose loss is non-finite or > "
        f"{_power(data['diverged_above'])} × its initial loss (red); grey: neither within "
        f"{data['steps']} steps. {converged} runs converged, {diverged} diverged. Dashed: the "
        "closed form, from the eigenvalues: heavy ball converges iff 0 ≤ β < 1 and "
        "0 < lr λ < 2 (1 + β) for every eigenvalue λ, i.e. lr < 2 (1 + β)/λmax = "
        f"{boundary}; the measured region ends at it. Star: Polyak's fastest setting, "
        "lr = 4/(√λmax + √λmin)², β = ((√κ − 1)/(√κ + 1))², "
        f"κ = λmax/λmin = {num(lam[-1] / lam[0])}; circle: the fastest measured run "
        f"({data['fastest_measured']['steps']} steps). Every cell's step equals an independent "
        f"NumPy float64 heavy-ball loop's; the marked runs ({marked}) were also trained on "
        f"every backend, whose first {VERIFIED_STEPS} losses equal the sweep's: "
        f"{backends_phrase(context)}."
    )


def _alt(data: Mapping) -> str:
    lam_max = data["eigenvalues"][-1]
    rates = data["learning_rates"]
    return (
        f"Heat map, learning rate on a log x axis from {num(rates[0])} to {num(rates[-1])}, "
        f"momentum β from 0 to {num(data['momenta'][-1])} on the y axis. Coloured cells (runs "
        "that converged) fill most of the plot: few steps (bright) just left of the boundary "
        "at moderate momentum, many (dark) at small learning rates and at momentum near 1; a "
        "grey triangle at the smallest rates and low momentum did not converge within "
        f"{data['steps']} steps. Right of a dashed line from lr = {num(2 / lam_max)} at β = 0 "
        f"to lr = {num(4 / lam_max)} at β = 1 every cell is red (diverged), with a few grey "
        "cells along the line. A star marks the fastest setting in theory, lr = "
        f"{num(data['fastest_theory']['learning_rate'])}, β = "
        f"{num(data['fastest_theory']['momentum'])}, next to a circle at the fastest measured "
        f"run ({data['fastest_measured']['steps']} steps); three crosses mark the runs "
        "verified on every backend."
    )


MOMENTUM_MAP_FIGURES = (
    FigureSpec(
        "momentum-map",
        lambda d: "Momentum widens the stable rates: heavy ball needs lr < 2 (1 + β)/λmax",
        draw_single(plots.plot_momentum_map), _caption, _alt, (_REGISTRY_RUN,),
        momentum_map_data,
        summary="heavy ball's steps to converge over rate x momentum, the closed form drawn over",
    ),
)
"""The momentum map's row (the registry, :data:`comparisons.figures.course.FIGURES`, lists it)."""
