"""The shared figure style: rcParams and machine-independent SVG bytes."""

from __future__ import annotations

import io
import math
import re

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from functional_training.runs import _figure_style as style


def _svg(left: float) -> bytes:
    """A one-axes figure whose clip rectangle starts at ``left`` (figure fraction)."""
    with matplotlib.rc_context(style.rc_params(salt="test")):
        fig = Figure(figsize=style.FIGURE_SIZE)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((left, 0.1, 0.8, 0.8))
        ax.plot([0.0, 1.0, 2.0], [1.0, 0.5, 0.25])
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def test_a_last_bit_change_in_the_layout_changes_only_clip_ids_and_stable_svg_removes_it():
    # What a CPU with other SIMD kernels does to a layout float: one ulp.
    first, second = _svg(0.1), _svg(math.nextafter(0.1, 1.0))
    assert first != second  # matplotlib hashes the unrounded clip rectangle into its ids
    assert style.stable_svg(first) == style.stable_svg(second)
    assert b'clip-path="url(#clip0)"' in style.stable_svg(first)
    assert b'id="clip0"' in style.stable_svg(first)


def test_every_clip_reference_still_names_a_defined_clip_path():
    svg = style.stable_svg(_svg(0.1)).decode()
    used = set(re.findall(r'url\(#(clip\d+)\)', svg))
    defined = set(re.findall(r'<clipPath id="(clip\d+)"', svg))
    assert used and used == defined
