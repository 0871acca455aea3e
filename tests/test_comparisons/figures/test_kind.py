"""The figure kind (comparisons.figures.kind): every row draws a titled, labelled, readable figure.

Checked on every course figure, drawn from the verified data: a title, labelled axes
with units, only the colour-blind-safe palette, and drawing that never imports pyplot.
"""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import pytest

from comparisons import figure_style as style
from comparisons import figures, plots
from comparisons.figures.kind import FigureSpec, draw_single, figure_table

from .drawn import draw


def test_a_row_renders_a_titled_figure_and_a_table_refuses_two_rows_of_one_name():
    row = FigureSpec("demo", lambda d: f"{len(d['train_loss'])} points",
                     draw_single(plots.plot_train_validation), lambda d, c: "", lambda d: "")
    fig = row.render({"train_loss": [9.0, 7.0], "val_loss": [0.0, 0.5]})
    assert fig.get_suptitle() == "2 points" and len(fig.axes) == 1
    assert list(figure_table(row)) == ["demo"]
    with pytest.raises(ValueError, match="two figures named 'demo'"):
        figure_table(row, row)


CLASSIFIER_FIGURES = ("moons-decision-boundary", "moons-training", "logistic-boundary",
                      "softmax-regions", "lr-finder", "moons-training-animation")
"""Figures of classifiers: their losses (hinge, cross-entropy) have no unit."""


def test_every_figure_has_a_title_and_labelled_axes_with_units(data):
    for name in figures.FIGURE_NAMES:
        fig = draw(name, data)
        assert fig.get_suptitle(), name
        insets = [child for ax in fig.axes for child in ax.child_axes]
        panels = [ax for ax in fig.axes if ax.axison and ax not in insets]
        if name == "autograd-graph":
            assert panels == []  # a diagram: no axes to label
            continue
        assert any(ax.get_xlabel() for ax in panels), name
        for ax in panels:
            ylabel = ax.get_ylabel()
            # A panel sharing its y axis with a labelled one left of it may leave the label off.
            shared = [other for other in ax.get_shared_y_axes().get_siblings(ax) if other is not ax]
            assert ylabel or any(other.get_ylabel() for other in shared), name
            if "loss" in ylabel and name not in CLASSIFIER_FIGURES:
                assert "(h²)" in ylabel, (name, ylabel)


def test_data_is_drawn_in_the_colour_blind_safe_palette(data):
    allowed = {c.lower() for c in style.OKABE_ITO.values()} | {style.MUTED.lower()}
    for name in figures.FIGURE_NAMES:
        fig = draw(name, data)
        drawn = fig.findobj(lambda a: a.get_gid() is not None)
        assert drawn, name
        for artist in drawn:
            if isinstance(artist, matplotlib.lines.Line2D):
                colour = artist.get_color()
            elif isinstance(artist, matplotlib.patches.Rectangle):
                colour = artist.get_facecolor()
            else:
                continue
            assert matplotlib.colors.to_hex(colour) in allowed, (name, artist.get_gid())


@pytest.mark.slow
def test_drawing_never_touches_pyplot():
    code = (
        "import io, sys\n"
        "from comparisons import figures\n"
        "fig = figures.draw_figure('train-validation', "
        "{'train_loss': [9.0, 7.0], 'val_loss': [0.0, 0.5]})\n"
        "fig.savefig(io.BytesIO(), format='png')\n"
        "print(type(fig.canvas).__name__, 'matplotlib.pyplot' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["FigureCanvasAgg", "False"]
