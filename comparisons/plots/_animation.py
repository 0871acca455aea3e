"""Training over time: the loss per update with chosen steps marked, and accuracy beside it.

Used by the training animation (one moving marker per frame) and its static
small multiples (a marker per snapshot); the decision regions beside it are
:func:`comparisons.plots.plot_decision_regions`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.ticker import PercentFormatter

from comparisons import figure_style as style

__all__ = ["plot_training_progress", "shrink_markers"]


def plot_training_progress(ax: Axes, *, loss: Sequence[float], accuracy: Sequence[float],
                           marked: Sequence[int], loss_label: str = "mean loss") -> None:
    """The training loss per update (log scale where positive), accuracy on a right axis.

    Args:
      ax: the Axes to draw on (a twin Axes is added for the accuracy).
      loss: full training loss at ``params[k]``, k = 0..S.
      accuracy: training accuracy at ``params[k]``, k = 0..S.
      marked: the steps to mark on the loss curve (a frame's step, or the snapshots').
      loss_label: the loss's name, for the axis.
    """
    steps = np.arange(len(loss))
    values = np.asarray(loss, dtype=np.float64)
    ax.plot(steps, values, color=style.OKABE_ITO["black"], linewidth=1.8, gid="train loss",
            label="training loss")
    chosen = [k for k in marked if math.isfinite(values[k])]
    ax.plot(chosen, values[chosen], linestyle="none", marker="o", markersize=11,
            color=style.OKABE_ITO["vermillion"], markeredgecolor="black", zorder=5,
            gid="marked steps")
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0.0:
        ax.set_yscale("log")
    ax.set_xlabel("updates taken, k")
    ax.set_ylabel(loss_label)
    right = ax.twinx()
    right.plot(steps, accuracy, color=style.GOOD, drawstyle="steps-post", linewidth=1.4,
               gid="train accuracy", label="classified right")
    right.set_ylim(-0.03, 1.03)
    right.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    right.set_ylabel("classified right", color=style.GOOD)
    right.grid(False)
    ax.set_title("loss and accuracy", fontsize=13)


def shrink_markers(ax: Axes, factor: float) -> None:
    """Scale the area of every scatter marker on ``ax`` by ``factor`` (small multiples)."""
    for collection in ax.collections:
        if isinstance(collection, PathCollection):
            collection.set_sizes(collection.get_sizes() * factor)
