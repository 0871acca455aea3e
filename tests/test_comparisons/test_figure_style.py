"""comparisons/figure_style.py: one palette, distinct backend marks, deterministic files."""

from __future__ import annotations

import matplotlib
import pytest

from comparisons import figure_style as style


def test_the_palette_is_okabe_ito():
    # Okabe & Ito (2008), the eight colours as published (hex of their RGB values)
    assert style.OKABE_ITO == {
        "black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9",
        "bluish green": "#009E73", "yellow": "#F0E442", "blue": "#0072B2",
        "vermillion": "#D55E00", "reddish purple": "#CC79A7"}


def test_every_backend_has_its_own_mark_and_colour():
    names = ["manual", "engine", "torch", "jax"]
    assert len({style.backend_marker(n)["marker"] for n in names}) == 4
    assert len({style.backend_color(n) for n in names}) == 4
    assert set(map(style.backend_color, names)) <= set(style.OKABE_ITO.values())
    # nested shapes of decreasing size, so agreeing values stay visible
    sizes = [style.backend_marker(n)["markersize"] for n in names]
    assert sizes == sorted(sizes, reverse=True)


def test_a_new_backend_gets_a_fallback_that_cycles():
    first, second = style.backend_marker("new", 0), style.backend_marker("new", 1)
    assert first["marker"] != second["marker"]
    assert first["marker"] not in {m["marker"] for m in style.BACKEND_MARKERS.values()}
    colors = [style.backend_color("new", i) for i in range(4)]
    assert colors[0] == colors[3] and len(set(colors[:3])) == 3


@pytest.mark.slow
def test_a_figure_is_written_the_same_bytes_twice_at_slide_size(tmp_path):
    def draw(stem):
        with matplotlib.rc_context(style.STYLE):
            fig = style.new_figure()
            fig.add_subplot().plot([0, 1], [1, 0])
            return style.save_figure(fig, stem)

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = draw(tmp_path / "a" / "f"), draw(tmp_path / "b" / "f")
    assert [p.name for p in first] == ["f.png", "f.svg"]
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes(), one.name
    png = first[0].read_bytes()
    assert int.from_bytes(png[16:20], "big") == 1920 and int.from_bytes(png[20:24], "big") == 1080
