"""The momentum map: heavy ball's steps to converge over learning rate x momentum.

Drawn from :mod:`comparisons.figures.momentum_map`'s data: converged runs coloured by
their step (log scale), diverged and undecided runs flat, the closed-form boundary
``lr = 2 (1 + beta) / lambda_max`` dashed over them, Polyak's fastest setting, the
fastest measured run and the runs verified on every backend marked.

Example:
  >>> closed_form_boundary(0.5, 2.0)  # lr < 2 (1 + beta) / lambda_max
  1.5
  >>> cell_edges(np.array([0.1, 1.0, 10.0]), log=True).round(4).tolist()
  [0.0316, 0.3162, 3.1623, 31.6228]
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.patches import Patch

from comparisons import figure_style as style

__all__ = ["cell_edges", "closed_form_boundary", "plot_momentum_map"]

UNDECIDED = "#D9D9D9"
"""Light grey: runs that neither converged nor diverged within the steps."""


def closed_form_boundary(momentum, lambda_max: float):
    """The largest rate at which heavy ball converges: ``2 (1 + beta) / lambda_max``."""
    return 2 * (1 + momentum) / lambda_max


def cell_edges(centres: np.ndarray, *, log: bool) -> np.ndarray:
    """Cell edges around evenly spaced centres (evenly spaced logarithms when ``log``)."""
    values = np.log10(centres) if log else centres
    middle = (values[1:] + values[:-1]) / 2
    edges = np.concatenate([[2 * values[0] - middle[0]], middle, [2 * values[-1] - middle[-1]]])
    return 10**edges if log else edges


def plot_momentum_map(ax, *, learning_rates, momenta, steps, converged_step, diverged_step,
                      converged_below, diverged_above, eigenvalues, fastest_theory,
                      fastest_measured, verified_cells, verified_backends, **_) -> None:
    """Draw the map on ``ax`` (and its colour bar beside it).

    Args:
      learning_rates, momenta: the grid's axes (``L`` rates, log-spaced; ``B`` momenta).
      steps: the steps each run took.
      converged_step, diverged_step: ``L x B`` lists, the deciding step or ``None``.
      converged_below, diverged_above: the thresholds (multiples of the initial loss).
      eigenvalues: of the quadratic's Hessian, ascending.
      fastest_theory, fastest_measured: ``{"learning_rate", "momentum"}`` (measured: and
        ``"steps"``).
      verified_cells: ``[{"learning_rate", "momentum"}]`` runs verified on every backend.
      verified_backends: their backends.
    """
    rates, betas = np.asarray(learning_rates), np.asarray(momenta)
    converged = np.array([[np.nan if s is None else s for s in row] for row in converged_step],
                         np.float64)
    diverged = np.array([[s is not None for s in row] for row in diverged_step])
    undecided = np.isnan(converged) & ~diverged
    x_edges, y_edges = cell_edges(rates, log=True), cell_edges(betas, log=False)
    ax.grid(False)  # the cells are the data; grid lines would cut through them
    flat = np.where(diverged, 1.0, np.where(undecided, 0.0, np.nan))
    ax.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(flat).T, rasterized=True,
                  cmap=ListedColormap([UNDECIDED, style.UNSTABLE]), vmin=0.0, vmax=1.0)
    mesh = ax.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(converged).T, rasterized=True,
                         cmap="cividis_r", norm=LogNorm(1, steps))
    bar = ax.figure.colorbar(mesh, ax=ax, pad=0.01)
    bar.set_label(f"steps to converge (≤ {_power(converged_below)} × the initial value)")
    lambda_max = eigenvalues[-1]
    line_betas = np.linspace(0.0, 1.0, 101)
    ax.plot(closed_form_boundary(line_betas, lambda_max), line_betas,
            color=style.OKABE_ITO["black"],
            linestyle="dashed", linewidth=2.2, gid="closed-form-boundary",
            label=f"closed form: lr · λmax = 2 (1 + β), λmax = {lambda_max:.4g}")
    ax.plot(fastest_theory["learning_rate"], fastest_theory["momentum"], marker="*",
            markersize=18, color=style.OKABE_ITO["yellow"], markeredgecolor="black",
            linestyle="none",
            gid="fastest-theory",
            label=f"fastest in theory: lr = {fastest_theory['learning_rate']:.4g}, "
                  f"β = {fastest_theory['momentum']:.4g}")
    ax.plot(fastest_measured["learning_rate"], fastest_measured["momentum"], marker="o",
            markersize=11, color=style.OKABE_ITO["black"], markerfacecolor="none",
            markeredgewidth=2.5, linestyle="none", gid="fastest-measured",
            label=f"fastest measured: {fastest_measured['steps']} steps")
    ax.plot([c["learning_rate"] for c in verified_cells], [c["momentum"] for c in verified_cells],
            marker="P", markersize=11, color=style.OKABE_ITO["sky blue"],
            markeredgecolor="black", linestyle="none", gid="verified-cells",
            label=f"runs verified on {len(verified_backends)} backends")
    ax.set_xscale("log")
    ax.set_xlim(x_edges[0], x_edges[-1])
    ax.set_ylim(y_edges[0], y_edges[-1])
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("momentum β")
    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color=style.UNSTABLE, label=f"diverged: loss > {_power(diverged_above)}"
                                                  " × initial or non-finite"),
                Patch(color=UNDECIDED, label=f"neither within {steps} steps")]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3,
              fontsize=9)


def _power(value: float) -> str:
    """A power of ten as figure text, a mathtext superscript (drawn with a true minus).

    Example:
      >>> _power(1e-6), _power(1e12)
      ('$10^{-6}$', '$10^{12}$')
    """
    return f"$10^{{{round(math.log10(value))}}}$"
