"""Optimizer figures: paths over a quadratic's contours, and learning-rate schedules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from comparisons import figure_style as style

PATH_COLORS = {
    "sgd": style.OKABE_ITO["vermillion"],
    "momentum": style.OKABE_ITO["blue"],
    "nesterov": style.OKABE_ITO["bluish green"],
    "adam": style.OKABE_ITO["reddish purple"],
}
"""Colour per optimizer (a palette fallback for others)."""



def path_limits(runs: Sequence[Mapping]) -> tuple[tuple[float, float], tuple[float, float]]:
    """``(w_1, w_2)`` limits holding every run's path and the minimum ``(0, 0)``, padded by 0.5.

    Example:
      >>> path_limits([{"w1": [-5.0, 1.0], "w2": [-2.0, 0.5]}])
      ((-5.5, 1.5), (-2.5, 2.5))
    """
    w1 = [v for run in runs for v in run["w1"]] + [0.0]
    w2 = [abs(v) for run in runs for v in run["w2"]]
    return (min(w1) - 0.5, max(w1) + 0.5), (-max(w2) - 0.5, max(w2) + 0.5)


def quadratic_surface(w1: np.ndarray, w2: np.ndarray, hessian: Sequence[float]) -> np.ndarray:
    """``1/2 (H_11 w_1^2 + H_22 w_2^2)`` on a grid (a diagonal Hessian).

    Example:
      >>> quadratic_surface(np.array([1.0]), np.array([2.0]), [0.2, 4.0])
      array([8.1])
    """
    return 0.5 * (hessian[0] * np.square(w1) + hessian[1] * np.square(w2))


def plot_optimizer_path(ax: Axes, *, run: Mapping, hessian: Sequence[float], color: str,
                        limits: tuple[tuple[float, float], tuple[float, float]]) -> None:
    """One optimizer's path over the contours of ``1/2 w^T H w``, axes at equal scale.

    Args:
      ax: the Axes to draw on.
      run: ``{"optimizer", "label", "hyperparams", "w1", "w2", "loss"}`` (``S + 1``
        values each of ``w1``, ``w2`` and ``loss``).
      hessian: ``(H_11, H_22)``.
      color: the path's colour.
      limits: ``((w1_lo, w1_hi), (w2_lo, w2_hi))``, the panel's (:func:`path_limits`).
    """
    (w1_lo, w1_hi), (w2_lo, w2_hi) = limits
    grid1, grid2 = np.meshgrid(np.linspace(w1_lo, w1_hi, 141), np.linspace(w2_lo, w2_hi, 105))
    surface = quadratic_surface(grid1, grid2, hessian)
    levels = 0.5 * np.linspace(0.0, float(np.sqrt(2.0 * surface.max())), 14) ** 2
    ax.contourf(grid1, grid2, surface, levels=levels, cmap="cividis_r", alpha=0.45)
    ax.contour(grid1, grid2, surface, levels=levels[1:], colors="white", linewidths=0.7)
    name = run["optimizer"]
    ax.plot(run["w1"], run["w2"], color=color, linewidth=1.8, marker="o", markersize=5,
            zorder=3, gid=f"path {name}")
    ax.plot(run["w1"][:1], run["w2"][:1], linestyle="none", marker="o", markersize=10,
            color="black", markerfacecolor="white", markeredgewidth=2, zorder=4)
    ax.plot([0.0], [0.0], linestyle="none", marker="X", markersize=11, color=style.MUTED,
            zorder=2, gid=f"minimum {name}")
    ax.set_xlim(w1_lo, w1_hi)
    ax.set_ylim(w2_lo, w2_hi)
    ax.set_aspect("equal", adjustable="box")
    ax.grid(False)
    rate = run["hyperparams"]["learning_rate"]
    ax.set_title(f"{run['label']} (lr = {rate:g}): loss {run['loss'][-1]:.3g} after "
                 f"{len(run['loss']) - 1} steps", fontsize=12.5)


def plot_optimizer_paths(axes: Sequence[Axes], *, runs: Sequence[Mapping],
                         hessian: Sequence[float], steps: int, **_unused) -> None:
    """Each optimizer's path on its own panel over the same contours (see
    :func:`plot_optimizer_path`); ``w_1`` labels the bottom row, ``w_2`` the left column.

    Args:
      axes: one Axes per run, row by row (a 2 x 2 grid for four).
      runs: the runs (``plot_optimizer_path``'s ``run``).
      hessian: ``(H_11, H_22)``.
      steps: steps per run (for the labels).
    """
    fallback = [c for c in style.OKABE_ITO.values() if c not in PATH_COLORS.values()]
    limits = path_limits(runs)
    for i, (ax, run) in enumerate(zip(axes, runs, strict=True)):
        color = PATH_COLORS.get(run["optimizer"], fallback[i % len(fallback)])
        plot_optimizer_path(ax, run=run, hessian=hessian, color=color, limits=limits)
    columns = 2 if len(axes) > 1 else 1
    for i, ax in enumerate(axes):
        if i >= len(axes) - columns:
            ax.set_xlabel("w₁ (the flat direction)")
        if i % columns == 0:
            ax.set_ylabel("w₂ (steep)")


RATE_SOURCES = {"manual": "hand-written rule", "engine": "hand-written rule",
                "torch": "torch.optim.lr_scheduler", "jax": "optax schedule"}
"""Where each backend's recorded rate comes from (the schedules figure's legend)."""


def plot_schedules(axes: Sequence[Axes], *, schedules: Sequence[Mapping], reference: str,
                   steps: int, legend_ax: Axes | None = None) -> None:
    """Each schedule's rate against step: the reference's line, every backend's markers on it.

    Args:
      axes: one Axes per schedule.
      schedules: ``{"name", "optax", "torch", "rates": {backend: [lr_0, ..., lr_{S-1}]}}``.
      reference: the backend whose rates the line follows.
      steps: ``S``, the number of rates per backend.
      legend_ax: an empty Axes for the backends' legend (default: the last panel).
    """
    backend_handles = {}
    top = 1.08 * max(max(schedule["rates"][reference]) for schedule in schedules)
    for ax, schedule in zip(axes, schedules, strict=True):
        rates = schedule["rates"]
        k = np.arange(len(rates[reference]))
        ax.plot(k, rates[reference], color=style.OKABE_ITO["black"], linewidth=1.6, zorder=2,
                drawstyle="steps-post" if schedule["name"] == "staircase" else "default",
                gid=f"line {schedule['name']}")
        for j, (backend, values) in enumerate(rates.items()):
            marker = {**style.backend_marker(backend, j)}
            marker["markersize"] = marker["markersize"] * 0.55
            ax.plot(k, values, linestyle="none", color=style.backend_color(backend, j),
                    zorder=3, gid=f"{backend} {schedule['name']}", **marker)
            backend_handles.setdefault(backend, Line2D(
                [], [], linestyle="none", color=style.backend_color(backend, j),
                label=backend, **marker))
        torch = schedule["torch"].replace(", then ", " → ")
        ax.set_title(f"{schedule['name']}\noptax.{schedule['optax']}\ntorch: {torch}",
                     fontsize=10)
        if ax.get_subplotspec() is None or ax.get_subplotspec().is_last_row():
            ax.set_xlabel("step k")
        if ax.get_subplotspec() is None or ax.get_subplotspec().is_first_col():
            ax.set_ylabel("rate of update k")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        ax.set_xlim(-1, steps)
        ax.set_ylim(0.0, top)
    if legend_ax is None:
        legend_ax = axes[-1]
    legend_ax.legend(handles=list(backend_handles.values()), title="backend (rates from)",
                     labels=[f"{b}: {RATE_SOURCES.get(b, 'its own')}" for b in backend_handles],
                     loc="center", frameon=False)
