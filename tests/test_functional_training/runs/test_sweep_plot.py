"""functional_training/runs/_sweep_plot.py: the sweep's figure, its suffixes and its bytes."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from functional_training.runs._sweep_plot import PLOT_FORMATS, check_plot_path, write_sweep_plot


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


def _write(path):
    rates = np.array([0.01, 0.1, 1.0])
    final = np.array([[0.5, 0.6], [0.01, 0.02], [math.inf, math.nan]])  # the last rate diverged
    return write_sweep_plot(path, rates=rates, initial_loss=np.full((3, 2), 2.0),
                            final_loss=final, first_nonfinite_step=np.array([[-1, -1], [-1, -1],
                                                                             [3, 2]]),
                            log=True, title="a sweep", seeds=[0, 1])


def test_the_figure_draws_every_seed_the_median_and_the_start(tmp_path):
    svg = _write(tmp_path / "a.svg")
    text = svg.read_text()
    ET.fromstring(text)  # well-formed SVG
    for label in ("median over 2 seeds", "initial loss 2", "seed 0", "seed 1", "a sweep"):
        assert label in text, label
    assert "<dc:date>" not in text  # no date in the file: reruns compare by content
    png = _write(tmp_path / "a.PNG")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.PNG", "a.svg"]  # nothing else
