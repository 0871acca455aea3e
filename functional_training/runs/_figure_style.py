"""The one figure style of the project: palette, roles, size, resolution, rcParams.

Owned here, below both front doors, so that ``sweep --plot`` (this package) and
the course figures (:mod:`comparisons.figure_style`, which builds on it) look
alike. Colours are the Okabe–Ito palette (Okabe & Ito, "Color Universal
Design", 2008), distinguishable with every common colour-vision deficiency.
Figures are ``10 x 5.625`` inches (16:9) saved at 192 dpi: 1920 x 1080 pixels.

Nothing here imports matplotlib at import time (a run without a plot does not
pay for it): :func:`rc_params` builds the rcParams, colour cycle included, when a
figure is drawn, for ``matplotlib.rc_context`` (no global state is touched).

Example:
  >>> params = rc_params(salt="demo")
  >>> params["svg.hashsalt"], params["font.family"], FIGURE_SIZE[0] * SAVE_DPI
  ('demo', 'DejaVu Sans', 1920.0)
"""

from __future__ import annotations

import re

__all__ = ["FIGURE_SIZE", "OKABE_ITO", "SAVE_DPI", "rc_params", "stable_svg"]

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
"""The Okabe–Ito colour-blind-safe palette, by name."""

# Roles used across figures, so one idea has one colour everywhere.
SLOW = OKABE_ITO["blue"]  # too small a rate
GOOD = OKABE_ITO["bluish green"]  # a rate that settles
UNSTABLE = OKABE_ITO["vermillion"]  # a rate that diverges; the analytic limit
TRAIN = OKABE_ITO["blue"]
VALIDATION = OKABE_ITO["orange"]
PARAM_W = OKABE_ITO["blue"]
PARAM_B = OKABE_ITO["orange"]
MUTED = "#6B6B6B"  # reference lines, annotations

FIGURE_SIZE = (10.0, 5.625)
"""Inches, 16:9."""

SAVE_DPI = 192
"""PNG resolution: ``10 in * 192 dpi = 1920 px`` wide."""

_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 13,
    "axes.titlesize": 14,
    "axes.titleweight": "bold",
    "axes.labelsize": 13,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 11,
    "legend.framealpha": 0.92,
    "figure.titlesize": 16,
    "figure.titleweight": "bold",
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#D0D0D0",
    "grid.linewidth": 0.8,
    "lines.linewidth": 2.2,
    "image.cmap": "cividis",
    "svg.fonttype": "path",
    "savefig.facecolor": "white",
}


def rc_params(*, salt: str) -> dict:
    """The rcParams every figure is drawn and saved under, with the palette as colour cycle.

    Args:
      salt: ``svg.hashsalt``: SVG element ids are hashes salted by it (random
        otherwise), so the same figure gives the same bytes.
    """
    from cycler import cycler  # matplotlib's own dependency: imported when a figure is drawn

    return {**_RC, "axes.prop_cycle": cycler(color=list(OKABE_ITO.values())),
            "svg.hashsalt": salt}


_CLIP_ID = re.compile(rb'(?<=id=")p[0-9a-f]{10}(?=")|(?<=url\(#)p[0-9a-f]{10}(?=\))')


def stable_svg(svg: bytes) -> bytes:
    """``svg`` (matplotlib's) with its clip-path ids numbered ``clip0, clip1, ...`` in order.

    matplotlib names a clip rectangle ``p`` + a salted hash of its corners at full
    float precision. Those corners come out of the layout and can differ in the
    last bit from one CPU to another (NumPy picks SIMD kernels by CPU) while every
    coordinate written to the file, rounded to 6 decimals, is the same: the ids
    alone would make a figure's bytes depend on the machine. Numbered by first
    appearance they depend only on the drawing.

    Example:
      >>> stable_svg(b'<g clip-path="url(#p0123456789)"/><clipPath id="p0123456789">')
      b'<g clip-path="url(#clip0)"/><clipPath id="clip0">'
    """
    names: dict[bytes, bytes] = {}

    def renamed(match: re.Match) -> bytes:
        return names.setdefault(match.group(), b"clip%d" % len(names))

    return _CLIP_ID.sub(renamed, svg)
