"""``sweep --plot``: what the figure shows (legend, lines, marks), its suffixes, size and bytes."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from functional_training.runs import _figure_style as style
from functional_training.runs._sweep_plot import (
    PLOT_FORMATS,
    check_plot_path,
    sweep_figure,
    write_sweep_plot,
)


@pytest.mark.parametrize("path", [None, "a.png", "a.SVG", "dir/a.pdf"])
def test_known_suffixes_in_any_case_pass(path):
    check_plot_path(path)


@pytest.mark.parametrize(("path", "found"), [("a.jpg", "'.jpg'"), ("plot", "'(none)'")])
def test_other_suffixes_are_one_line(path, found):
    with pytest.raises(ValueError) as caught:
        check_plot_path(path)
    assert str(caught.value) == (f"--plot {path}: unknown suffix {found}; "
                                 "expected .png, .svg or .pdf")
    assert set(PLOT_FORMATS) == {".png", ".svg", ".pdf"}

ONE_SEED = dict(rates=[0.1, 0.5, 1.0, 2.0], initial_loss=[[2.0]] * 4,
                final_loss=[[1.0], [0.5], [np.inf], [np.nan]],
                first_nonfinite_step=[[-1], [-1], [7], [3]], log=False, title="demo")


def _labels(figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].get_legend().get_texts()]


def test_one_seed_is_one_line_not_a_median_over_one_seed():
    labels = _labels(sweep_figure(**ONE_SEED))
    assert "final training loss" in labels
    assert not any("median" in label for label in labels)


def test_nonfinite_runs_are_marked_and_counted_not_missing():
    figure = sweep_figure(**ONE_SEED)
    assert "non-finite: 2 runs at 2 rates" in _labels(figure)
    marks = [line for line in figure.axes[0].lines if line.get_marker() == "X"]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [1.0, 2.0]


def test_the_analytic_limit_is_drawn_when_known():
    figure = sweep_figure(**ONE_SEED, limit=0.75)
    assert "analytic limit 2/λmax = 0.75" in _labels(figure)
    dashed = [line for line in figure.axes[0].lines if line.get_linestyle() == "--"]
    assert [list(line.get_xdata()) for line in dashed] == [[0.75, 0.75]]
    assert not any("analytic" in label for label in _labels(sweep_figure(**ONE_SEED)))


def test_several_seeds_have_a_median_and_a_line_each():
    figure = sweep_figure(rates=[0.1, 0.2], initial_loss=[[2.0, 2.0]] * 2,
                          final_loss=[[1.0, 1.2], [0.5, 0.7]],
                          first_nonfinite_step=[[-1, -1]] * 2, log=True, title="t",
                          seeds=[3, 4])
    assert _labels(figure)[:3] == ["seed 3", "seed 4", "median over 2 seeds"]


def test_the_png_is_the_course_figures_size(tmp_path):
    path = write_sweep_plot(tmp_path / "sweep.png", **ONE_SEED)
    width, height = struct.unpack(">II", path.read_bytes()[16:24])  # the IHDR chunk
    assert (width, height) == (round(style.FIGURE_SIZE[0] * style.SAVE_DPI),
                               round(style.FIGURE_SIZE[1] * style.SAVE_DPI)) == (1920, 1080)


def test_an_svg_is_well_formed_undated_and_the_same_bytes_twice(tmp_path):
    first = write_sweep_plot(tmp_path / "a.svg", **ONE_SEED).read_text()
    ET.fromstring(first)
    assert "<dc:date>" not in first  # no date in the file: reruns compare by content
    assert write_sweep_plot(tmp_path / "b.svg", **ONE_SEED).read_text() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.svg", "b.svg"]  # nothing else
