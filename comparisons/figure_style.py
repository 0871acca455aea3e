"""The one style every course figure shares: palette, fonts, sizes, deterministic output.

Colours are the Okabe–Ito palette (Okabe & Ito, "Color Universal Design",
2008), distinguishable with every common colour-vision deficiency and in
greyscale when paired with the marker shapes below. Figures are
``10 x 5.625`` inches (16:9) saved at 192 dpi: a 1920 x 1080 PNG, readable on
a slide. Text is drawn with DejaVu Sans, the font matplotlib ships, and SVG
text is stored as glyph paths, so output does not depend on the fonts a
machine has installed.

Determinism: ``svg.hashsalt`` is fixed (SVG element ids are hashes salted by
it, random otherwise) and the metadata carries no date and no library version
(:data:`SVG_METADATA`, :data:`PNG_METADATA`), so rendering the same data twice
with the same library versions gives byte-identical files. Clip-path ids, hashes of
full-precision layout floats that differ in the last bit between CPUs, are
renumbered (:func:`functional_training.runs._figure_style.stable_svg`), so the
bytes do not depend on the machine either.

Nothing here touches global matplotlib state: :data:`STYLE` is applied with
``matplotlib.rc_context`` around one figure, and figures are
``matplotlib.figure.Figure`` objects drawn by the Agg canvas, never pyplot.

Example:
  >>> import matplotlib
  >>> with matplotlib.rc_context(STYLE):
  ...     fig = new_figure()
  >>> [round(v * SAVE_DPI) for v in fig.get_size_inches()]
  [1920, 1080]
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import functional_training.runs as ft_runs
from functional_training.runs import _figure_style as figure_style

__all__ = [
    "BACKEND_COLORS",
    "BACKEND_MARKERS",
    "FIGURE_SIZE",
    "FORMATS",
    "OKABE_ITO",
    "PNG_METADATA",
    "SAVE_DPI",
    "STYLE",
    "SVG_METADATA",
    "backend_color",
    "backend_marker",
    "new_figure",
    "save_figure",
]

# The palette, the colour roles, the size and the rcParams are functional_training's
# (functional_training.runs._figure_style), so `sweep --plot` looks like these figures.
OKABE_ITO = figure_style.OKABE_ITO
SLOW, GOOD, UNSTABLE = figure_style.SLOW, figure_style.GOOD, figure_style.UNSTABLE
TRAIN, VALIDATION = figure_style.TRAIN, figure_style.VALIDATION
PARAM_W, PARAM_B, MUTED = figure_style.PARAM_W, figure_style.PARAM_B, figure_style.MUTED

BACKEND_MARKERS = {
    "manual": {"marker": "o", "markersize": 15, "markerfacecolor": "none", "markeredgewidth": 1.6},
    "engine": {"marker": "s", "markersize": 10, "markerfacecolor": "none", "markeredgewidth": 1.6},
    "torch": {"marker": "^", "markersize": 8, "markerfacecolor": "none", "markeredgewidth": 1.6},
    "jax": {"marker": "x", "markersize": 6, "markeredgewidth": 1.8},
}
"""Marker per backend: nested shapes of decreasing size, so agreeing values stay visible."""

BACKEND_COLORS = {
    "manual": OKABE_ITO["sky blue"],
    "engine": OKABE_ITO["bluish green"],
    "torch": OKABE_ITO["orange"],
    "jax": OKABE_ITO["reddish purple"],
}
"""Colour per backend where backends are told apart by colour (bars)."""

_SPARE_COLORS = (OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["yellow"])

_EXTRA_MARKERS = ("D", "v", "P", "*", "<", ">")

FIGURE_SIZE = figure_style.FIGURE_SIZE
"""Inches, 16:9."""

SAVE_DPI = figure_style.SAVE_DPI
"""PNG resolution: ``10 in * 192 dpi = 1920 px`` wide."""

FORMATS = ("png", "svg")
"""File formats :func:`save_figure` writes."""

SVG_METADATA = {"Creator": "comparisons.figures", "Date": None}
"""No date and no version string in SVG files (byte-identical re-renders)."""

PNG_METADATA = {"Software": "comparisons.figures"}
"""No version string in PNG files (matplotlib writes no date into PNGs)."""

STYLE = figure_style.rc_params(salt="comparisons-figures")
"""rcParams every figure is drawn and saved under (``matplotlib.rc_context(STYLE)``)."""


def backend_marker(name: str, index: int = 0) -> dict:
    """Marker keyword arguments for a backend's overlay (a fallback shape for new backends).

    Example:
      >>> backend_marker("jax")["marker"], backend_marker("new", 1)["marker"]
      ('x', 'v')
    """
    if name in BACKEND_MARKERS:
        return dict(BACKEND_MARKERS[name])
    return {
        "marker": _EXTRA_MARKERS[index % len(_EXTRA_MARKERS)],
        "markersize": 7,
        "markerfacecolor": "none",
        "markeredgewidth": 1.4,
    }


def backend_color(name: str, index: int = 0) -> str:
    """Colour for a backend (a palette fallback for new backends).

    Example:
      >>> backend_color("torch"), backend_color("new", 0)
      ('#E69F00', '#0072B2')
    """
    if name in BACKEND_COLORS:
        return BACKEND_COLORS[name]
    return _SPARE_COLORS[index % len(_SPARE_COLORS)]


def new_figure(size: Sequence[float] = FIGURE_SIZE) -> Figure:
    """A ``Figure`` on an Agg canvas with constrained layout (no pyplot, no screen).

    Call inside ``matplotlib.rc_context(STYLE)`` so the style applies.
    """
    fig = Figure(figsize=tuple(size), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``fig`` as ``stem.<format>`` for each format, each file atomically.

    Each format is rendered into memory, then written with
    :func:`functional_training.runs.write_atomic` (temporary file in the same
    directory, flushed, fsynced, ``os.replace``, directory fsynced), so a reader
    never sees a half-written figure. Call inside ``matplotlib.rc_context(STYLE)``
    (the SVG hash salt is read at save time).

    Args:
      fig: the figure to save.
      stem: output path without suffix, e.g. ``figures/learning-rates``; its
        directory must exist.
      formats: a subset of :data:`FORMATS`.

    Returns:
      The paths written, in ``formats`` order.
    """
    written = []
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"unknown figure format {fmt!r}; choose from {', '.join(FORMATS)}")
        metadata = SVG_METADATA if fmt == "svg" else PNG_METADATA
        path = stem.with_name(f"{stem.name}.{fmt}")
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=SAVE_DPI, metadata=metadata)
        data = buffer.getvalue()
        ft_runs.write_atomic(path, figure_style.stable_svg(data) if fmt == "svg" else data)
        written.append(path)
    return written
