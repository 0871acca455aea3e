"""``sweep --plot PATH``: final loss against learning rate, one line per seed, the median bold.

For rates ``lr_1..lr_L`` and seeds ``z = 1..Z`` the figure draws the final training
loss ``L_S(l, z)`` of every run against ``lr_l`` (one thin line per seed and the
median over seeds ``m_l = median_z L_S(l, z)`` as one thick line; one line when
``Z = 1``), a dotted line at the median initial loss, a dotted vertical line at the
sweep's divergence point: the smallest rate at which some seed diverged (its first
non-finite step is set, or its final loss is non-finite or above its initial loss;
:func:`functional_training.observed_divergence`), and, where it is known (the
lesson's line), a dashed vertical line at the analytic limit ``2 / lambda_max``.
Runs that went non-finite are not silently missing: a cross on the top edge marks
each rate with one, and the legend counts them. The y axis is logarithmic when
every finite final loss is > 0 (losses span decades), the x axis when the rates
were spaced geometrically (``--log``). The style, size (1920 x 1080 pixels) and
palette are the course figures' (:mod:`functional_training.runs._figure_style`).

The figure is a ``matplotlib.figure.Figure`` drawn by the Agg canvas (never pyplot,
no global ``rcParams`` touched), saved to a buffer in the format the suffix names
(:data:`PLOT_FORMATS`) and written atomically (``runs._io.write_atomic``).
matplotlib is imported only when a plot is drawn, so a sweep without ``--plot``
does not pay for it.

Example:
  >>> import numpy as np, tempfile, pathlib
  >>> with tempfile.TemporaryDirectory() as tmp:
  ...     path = write_sweep_plot(pathlib.Path(tmp) / "sweep.png", rates=[0.1, 0.5, 1.0],
  ...         initial_loss=[[2.0], [2.0], [2.0]], final_loss=[[1.0], [0.5], [np.inf]],
  ...         first_nonfinite_step=[[-1], [-1], [7]], log=False, title="demo")
  ...     path.read_bytes()[:4]
  b'\\x89PNG'
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np

from functional_training._stability import observed_divergence
from functional_training.runs import _figure_style as style
from functional_training.runs._io import write_atomic

PLOT_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
"""Plot file suffix (any case) -> the format matplotlib writes."""


def check_plot_path(path: str | None) -> None:
    """Refuse a ``--plot`` path whose suffix is not one of :data:`PLOT_FORMATS` (one line).

    Called before anything runs, so a typo costs no training.

    Example:
      >>> check_plot_path("sweep.svg")
      >>> check_plot_path("sweep.jpg")
      Traceback (most recent call last):
      ...
      ValueError: --plot sweep.jpg: unknown suffix '.jpg'; expected .png, .svg or .pdf
    """
    if path is None:
        return
    suffix = Path(path).suffix.lower()
    if suffix not in PLOT_FORMATS:
        listed = ", ".join(PLOT_FORMATS)
        expected = listed.rsplit(", ", 1)[0] + " or " + listed.rsplit(", ", 1)[1]
        raise ValueError(f"--plot {path}: unknown suffix {suffix or '(none)'!r}; "
                         f"expected {expected}")


def write_sweep_plot(path, **figure) -> Path:
    """Draw the sweep figure (:func:`sweep_figure`'s keywords) and write it atomically to ``path``.

    Args:
      path: a file name ending in ``.png``, ``.svg`` or ``.pdf`` (PNG: 1920 x 1080 pixels).
      **figure: :func:`sweep_figure`'s arguments.

    Returns:
      ``path`` as a ``Path``.
    """
    import matplotlib

    check_plot_path(str(path))
    suffix = Path(path).suffix.lower()
    with matplotlib.rc_context(_rc()):  # the SVG hash salt is read at save time
        drawn = sweep_figure(**figure)
        buffer = io.BytesIO()
        drawn.savefig(buffer, format=PLOT_FORMATS[suffix], dpi=style.SAVE_DPI,
                      metadata=_NO_DATES.get(suffix))
    data = buffer.getvalue()
    return write_atomic(path, style.stable_svg(data) if suffix == ".svg" else data)


def sweep_figure(*, rates, initial_loss, final_loss, first_nonfinite_step, log: bool,
                 title: str, seeds=None, limit: float | None = None, labels=None):
    """The sweep figure (see the module docstring) as a ``matplotlib.figure.Figure``.

    Args:
      rates: shape ``(L,)``.
      initial_loss, final_loss, first_nonfinite_step: shape ``(L, Z)``.
      log: draw the rate axis logarithmically.
      title: the figure's title (the data and model in words).
      seeds: the ``Z`` seed labels of the legend, or ``None`` (no per-seed labels).
      labels: instead of ``seeds``, the ``Z`` columns' whole legend labels (a sweep
        with hyperparameter axes: one column per setting and seed,
        ``momentum=0.9, seed 0``); the median is then over ``Z`` runs.
      limit: the analytic stability limit ``2 / lambda_max``, drawn where known.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rates = np.asarray(rates, np.float64)
    final = np.asarray(final_loss, np.float64)
    initial = np.asarray(initial_loss, np.float64)
    shown = np.where(np.isfinite(final), final, np.nan)
    several = final.shape[1] > 1
    with matplotlib.rc_context(_rc()):
        figure = Figure(figsize=style.FIGURE_SIZE, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        if several:
            for z in range(final.shape[1]):
                label = (labels[z] if labels is not None else
                         None if seeds is None else f"seed {seeds[z]}")
                axes.plot(rates, shown[:, z], linewidth=1.0, alpha=0.6, label=label)
            # a non-finite run counts as +inf: the median is a gap once half the seeds diverged
            median = np.median(np.where(np.isfinite(final), final, np.inf), axis=1)
            axes.plot(rates, np.where(np.isfinite(median), median, np.nan), color="black",
                      linewidth=2.8, label=f"median over {final.shape[1]} "
                                           f"{'runs' if labels is not None else 'seeds'}")
        else:
            axes.plot(rates, shown[:, 0], color="black", linewidth=2.2,
                      label="final training loss")
        finite = final[np.isfinite(final)]
        logarithmic = bool(finite.size and (finite > 0).all())
        if logarithmic:
            axes.set_yscale("log")
        if log:
            axes.set_xscale("log")
        _mark_nonfinite(axes, rates, final, first_nonfinite_step)
        start = (float(np.median(initial[np.isfinite(initial)])) if np.isfinite(initial).any()
                 else None)
        if start is not None:
            axes.axhline(start, color=style.MUTED, linestyle=":", linewidth=1.4,
                         label=f"initial loss {start:.3g}")
        edge = observed_divergence(rates, np.stack([initial, final], axis=-1),
                                   first_nonfinite_step)
        if edge is not None:
            axes.axvline(edge, color=style.OKABE_ITO["blue"], linestyle="dotted", linewidth=2.4,
                         label=f"sweep: divergence at {edge:.3g}")
        if limit is not None and np.isfinite(limit):
            axes.axvline(limit, color=style.UNSTABLE, linestyle="dashed", linewidth=2,
                         label=f"analytic limit 2/λmax = {limit:.4g}")
        axes.set_xlabel("learning rate" + (" (log scale)" if log else ""))
        axes.set_ylabel("final training loss" + (" (log scale)" if logarithmic else ""))
        axes.set_title(textwrap.fill(title, 100), fontsize=12)  # long titles on two lines
        axes.legend(loc="best", fontsize=10)
    return figure


def _rc() -> dict:
    return style.rc_params(salt="functional-training-sweep")


def _mark_nonfinite(axes, rates: np.ndarray, final: np.ndarray, first_nonfinite_step) -> None:
    """Runs whose final loss is non-finite: a cross on the top edge at their rate, counted."""
    bad = ~np.isfinite(final) | (np.asarray(first_nonfinite_step) >= 0)
    rows = bad.any(axis=1)
    if not rows.any():
        return
    axes.plot(rates[rows], np.ones(int(rows.sum())), linestyle="none", marker="X",
              markersize=8, color=style.UNSTABLE, clip_on=False,
              transform=axes.get_xaxis_transform(), zorder=5,
              label=f"non-finite: {int(bad.sum())} run{'s' if bad.sum() != 1 else ''} "
                    f"at {int(rows.sum())} rate{'s' if rows.sum() != 1 else ''}")


_NO_DATES = {".svg": {"Date": None}, ".pdf": {"CreationDate": None}}
"""Metadata that keeps a figure's bytes the same from run to run (no dates)."""

