"""The loss-landscape figure: a loss surface on a 2-D slice, the projected training path on it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm

from comparisons import figure_style as style


def log_levels(low: float, high: float, count: int = 16) -> list[float]:
    """``count`` log-spaced contour levels from ``low`` to ``high`` (both > 0).

    Example:
      >>> log_levels(0.01, 100.0, 5)
      [0.01, 0.1, 1.0, 10.0, 100.0]
    """
    a, b = math.log10(low), math.log10(high)
    return [float(f"{10 ** (a + (b - a) * i / (count - 1)):.12g}") for i in range(count)]


def _colorbar_ticks(low: float, high: float) -> list[float]:
    """1-2-3-5 values between ``low`` and ``high``.

    Example:
      >>> _colorbar_ticks(0.0215, 1.88)
      [0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0]
    """
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for m in (1, 2, 3, 5):
            value = float(f"{m * 10.0 ** exponent:.12g}")
            if low <= value <= high:
                ticks.append(value)
    return ticks


def plot_landscape_slice(ax: Axes, *, alphas: Sequence[float], betas: Sequence[float],
                         loss: Sequence[Sequence[float]], path_alpha: Sequence[float],
                         path_beta: Sequence[float], path_loss: Sequence[float],
                         title: str, labels: bool, span: float | None = None) -> None:
    """Filled log-spaced contours of ``loss[j][i]`` at ``(alphas[i], betas[j])``, the path on top.

    Args:
      ax: the Axes to draw on.
      alphas, betas: the grid's coordinates along the two directions.
      loss: the loss on the grid, row ``j`` at ``betas[j]``.
      path_alpha, path_beta: the training path's projection, ``S + 1`` points.
      path_loss: the path's own losses (the start's and the end's are labelled).
      title: the panel's title.
      labels: whether to label the path's start and end with their losses.
      span: the grid's half-width (unused; the coordinates give it).
    """
    grid = np.asarray(loss, dtype=np.float64)
    low, high = float(grid.min()), float(grid.max())
    levels = log_levels(low, high)
    filled = ax.contourf(alphas, betas, grid, levels=levels, norm=LogNorm(), cmap="cividis",
                         gid=f"surface {title}")
    ax.contour(alphas, betas, grid, levels=levels, colors="white", linewidths=0.6, alpha=0.8)
    cbar = ax.figure.colorbar(filled, ax=ax, pad=0.02, shrink=0.72)
    cbar.set_ticks(_colorbar_ticks(low, high), labels=[
        f"{v:g}" for v in _colorbar_ticks(low, high)])
    cbar.ax.minorticks_off()
    cbar.set_label("mean hinge + L2 penalty (log scale)")
    color = style.OKABE_ITO["vermillion"]
    ax.plot(path_alpha, path_beta, color=color, linewidth=1.6, marker="o", markersize=3.5,
            zorder=3, gid=f"path {title}")
    ends = ((0, "start", "white", (12, 8)), (len(path_alpha) - 1, "θ*", color, (12, -16)))
    for k, label, face, offset in ends:
        ax.plot([path_alpha[k]], [path_beta[k]], linestyle="none", marker="o", markersize=10,
                color="black", markerfacecolor=face, markeredgewidth=2, zorder=4)
        if labels:
            ax.annotate(f"{label}: loss {path_loss[k]:.3g}", xy=(path_alpha[k], path_beta[k]),
                        xytext=offset, textcoords="offset points", fontsize=11, zorder=5,
                        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white",
                              "edgecolor": "none", "alpha": 0.8})
    ax.set_xlim(alphas[0], alphas[-1])
    ax.set_ylim(betas[0], betas[-1])
    ax.set_aspect("equal", adjustable="box")
    ax.grid(False)
    ax.set_title(title, fontsize=12.5)
    ax.set_xlabel("α (along direction d₁)")
    ax.set_ylabel("β (along direction d₂)")


def plot_loss_landscape(axes: Sequence[Axes], *, wide: Mapping, zoom: Mapping,
                        path_alpha: Sequence[float], path_beta: Sequence[float],
                        path_loss: Sequence[float]) -> None:
    """The slice (left) and the slice zoomed on the projected path (right), each with the path.

    Args:
      axes: two Axes.
      wide, zoom: ``{"span", "alphas", "betas", "loss"}`` of each grid.
      path_alpha, path_beta, path_loss: the projected path and its own losses.
    """
    path = {"path_alpha": path_alpha, "path_beta": path_beta, "path_loss": path_loss}
    plot_landscape_slice(axes[0], **wide, **path, labels=False,
                         title=f"the slice, ±{wide['span']:g}")
    plot_landscape_slice(axes[1], **zoom, **path, labels=True,
                         title=f"zoomed on the projected path, ±{zoom['span']:g}")
