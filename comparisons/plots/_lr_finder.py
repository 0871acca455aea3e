"""The learning-rate finder: a range test's losses against rate, and each rate's whole run.

Both panels share a log learning-rate axis. The top one draws the range test
(each step's mini-batch loss and the smoothed loss that
:mod:`comparisons.figures.lr_finder` computed), the bottom one the final loss of
a whole run at each constant rate; the two suggested rates are vertical lines
through both, so a reader sees what each suggestion's own run reached.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from comparisons import figure_style as style

__all__ = ["STEEPEST_COLOR", "VALLEY_COLOR", "plot_lr_finder"]

STEEPEST_COLOR = style.OKABE_ITO["vermillion"]
VALLEY_COLOR = style.OKABE_ITO["bluish green"]
_SMOOTHED = style.OKABE_ITO["blue"]


def _mark(axes: Sequence[Axes], rate: float, *, color: str, linestyle: str, label: str,
          gid: str) -> None:
    for i, ax in enumerate(axes):
        ax.axvline(rate, color=color, linestyle=linestyle, linewidth=1.8,
                   label=label if i == 0 else None, gid=f"{gid} line {i}")


def _finite_positive(values: Sequence[float]) -> list[float]:
    return [v for v in values if math.isfinite(v) and v > 0.0]


def _sparse_label(value: float, _position=None) -> str:
    """A log axis' minor tick as a plain number (``0.3``, not ``3 × 10^-1``), only at 2, 3, 5.

    Example:
      >>> _sparse_label(0.3), _sparse_label(0.7), _sparse_label(20.0)
      ('0.3', '', '20')
    """
    if not value > 0.0:
        return ""
    leading = round(value / 10.0 ** math.floor(math.log10(value)))
    return f"{value:g}" if leading in (2, 3, 5) else ""


def plot_lr_finder(
    axes: Sequence[Axes], *, learning_rates: Sequence[float], batch_loss: Sequence[float],
    smoothed: Sequence[float], stop_step: int | None, steepest: Mapping | None,
    valley: Mapping | None, final: Mapping, loss_label: str = "loss",
) -> None:
    """Draw the range test on ``axes[0]`` and the final loss per constant rate on ``axes[1]``.

    Args:
      axes: two Axes sharing their x axis.
      learning_rates: the rate of each step of the range test.
      batch_loss: each step's mini-batch loss (the batch its update used).
      smoothed: the smoothed loss of each step.
      stop_step: the step the test stops at (its loss drawn faint: the test's last), or
        ``None``.
      steepest: ``{"step", "rate"}`` of the steepest-descent suggestion, or ``None``.
      valley: ``{"start", "end", "step", "rate"}`` of the valley suggestion, or ``None``.
      final: ``{"learning_rates", "final_loss", "steps", ...}``: each constant rate's
        training loss after a whole run (non-finite: drawn as a triangle at the top).
      loss_label: the loss's name for the y labels.
    """
    top, bottom = axes
    rates = np.asarray(learning_rates, dtype=np.float64)
    used = len(rates) if stop_step is None else stop_step
    top.scatter(rates[:used], np.asarray(batch_loss)[:used], s=14, color=style.MUTED,
                alpha=0.6, gid="batch loss", label="each step's mini-batch loss")
    top.plot(rates[:used], np.asarray(smoothed)[:used], color=_SMOOTHED, linewidth=2.4,
             gid="smoothed loss", label="smoothed loss")
    if stop_step is not None:
        top.scatter(rates[stop_step:], np.asarray(batch_loss)[stop_step:], s=14,
                    color=style.MUTED, alpha=0.25)
        top.axvline(rates[stop_step], color=style.MUTED, linestyle=(0, (1, 1)), linewidth=1.4,
                    gid="stop", label="stop")
    if valley is not None:
        top.axvspan(rates[valley["start"]], rates[valley["end"]], color=VALLEY_COLOR,
                    alpha=0.12, gid="valley stretch")
        _mark(axes, valley["rate"], color=VALLEY_COLOR, linestyle="dotted",
              label=f"valley: {valley['rate']:.3g}", gid="valley")
    if steepest is not None:
        _mark(axes, steepest["rate"], color=STEEPEST_COLOR, linestyle="dashed",
              label=f"steepest: {steepest['rate']:.3g}", gid="steepest")
    visible = _finite_positive([*smoothed[:used], *batch_loss[:used]])
    if visible:
        top.set_ylim(0.0, 1.1 * max(visible))
    top.set_xscale("log")
    top.set_ylabel(f"{loss_label}\n(range test)")
    top.legend(loc="upper left", fontsize=11)

    final_rates = np.asarray(final["learning_rates"], dtype=np.float64)
    losses = np.asarray(final["final_loss"], dtype=np.float64)
    finite = np.isfinite(losses)
    bottom.plot(final_rates[finite], losses[finite], color=style.OKABE_ITO["black"], marker="o",
                markersize=4, linewidth=1.4, gid="final loss",
                label=f"after {final['steps']} steps at that constant rate")
    positive = _finite_positive(losses.tolist())
    if positive and max(positive) >= 10 * min(positive):
        bottom.set_yscale("log")
        bottom.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        bottom.yaxis.set_minor_formatter(FuncFormatter(_sparse_label))
    if not finite.all():
        y_top = bottom.get_ylim()[1]
        bottom.scatter(final_rates[~finite], np.full(int((~finite).sum()), y_top), marker="^",
                       color=STEEPEST_COLOR, gid="diverged", label="diverged (not finite)",
                       clip_on=False)
    for gid, suggestion, color in (("steepest", steepest, STEEPEST_COLOR),
                                   ("valley", valley, VALLEY_COLOR)):
        if suggestion is not None:
            index = int(np.flatnonzero(final_rates == suggestion["rate"])[0])
            if finite[index]:
                bottom.plot([suggestion["rate"]], [losses[index]], marker="D", markersize=10,
                            color=color, linestyle="none", gid=f"{gid} run")
    bottom.set_xscale("log")
    bottom.set_xlabel("learning rate (log scale)")
    bottom.set_ylabel(f"{loss_label}\n(whole run)")
    bottom.legend(loc="upper left", fontsize=11)
