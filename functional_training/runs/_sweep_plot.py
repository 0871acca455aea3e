"""``sweep --plot PATH``: final loss against learning rate, one line per seed, the median bold.

For rates ``lr_1..lr_L`` and seeds ``z = 1..Z`` the figure draws the final training
loss ``L_S(l, z)`` of every run against ``lr_l`` (one thin line per seed), the median
over seeds ``m_l = median_z L_S(l, z)`` as one thick line, a dotted line at the
median initial loss, and a dashed vertical line at the divergence point: the smallest
rate at which some seed diverged (its first non-finite step is set, or its final loss
is non-finite or above its initial loss;
:func:`functional_training.observed_divergence`). The y axis is
logarithmic when every finite final loss is > 0 (losses span decades), the x axis
when the rates were spaced geometrically (``--log``). Non-finite losses are gaps.

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


def write_sweep_plot(path, *, rates, initial_loss, final_loss, first_nonfinite_step,
                     log: bool, title: str, seeds=None) -> Path:
    """Draw the sweep figure (see the module docstring) and write it atomically to ``path``.

    Args:
      path: a file name ending in ``.png``, ``.svg`` or ``.pdf``.
      rates: shape ``(L,)``.
      initial_loss, final_loss, first_nonfinite_step: shape ``(L, Z)``.
      log: draw the rate axis logarithmically.
      title: the figure's title (the data and model in words).
      seeds: the ``Z`` seed labels of the legend, or ``None`` (no per-seed labels).

    Returns:
      ``path`` as a ``Path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    check_plot_path(str(path))
    rates = np.asarray(rates, np.float64)
    final = np.asarray(final_loss, np.float64)
    initial = np.asarray(initial_loss, np.float64)
    shown = np.where(np.isfinite(final), final, np.nan)
    figure = Figure(figsize=(7.0, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for z in range(final.shape[1]):
        label = None if seeds is None or final.shape[1] == 1 else f"seed {seeds[z]}"
        axes.plot(rates, shown[:, z], linewidth=0.8, alpha=0.6, label=label)
    # a non-finite run counts as +inf: the median is a gap once half the seeds diverged
    median = np.median(np.where(np.isfinite(final), final, np.inf), axis=1)
    axes.plot(rates, np.where(np.isfinite(median), median, np.nan), color="black",
              linewidth=2.5, label=f"median over {final.shape[1]} seed"
              + ("s" if final.shape[1] != 1 else ""))
    start = float(np.median(initial[np.isfinite(initial)])) if np.isfinite(initial).any() else None
    if start is not None:
        axes.axhline(start, color="grey", linestyle=":", linewidth=1.0,
                     label=f"initial loss {start:.3g}")
    edge = observed_divergence(rates, np.stack([initial, final], axis=-1),
                               first_nonfinite_step)
    if edge is not None:
        axes.axvline(edge, color="tab:red", linestyle="--", linewidth=1.2,
                     label=f"divergence at {edge:.3g}")
    finite = final[np.isfinite(final)]
    if finite.size and (finite > 0).all():
        axes.set_yscale("log")
    if log:
        axes.set_xscale("log")
    axes.set_xlabel("learning rate")
    axes.set_ylabel("final training loss")
    axes.set_title(textwrap.fill(title, 90), fontsize=9)  # long titles on two lines
    axes.legend(fontsize=8, loc="best")
    axes.grid(True, linewidth=0.3, alpha=0.5)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=PLOT_FORMATS[Path(path).suffix.lower()],
                   metadata=_NO_DATES.get(Path(path).suffix.lower()))
    return write_atomic(path, buffer.getvalue())


_NO_DATES = {".svg": {"Date": None}, ".pdf": {"CreationDate": None}}
"""Metadata that keeps a figure's bytes the same from run to run (no dates)."""

