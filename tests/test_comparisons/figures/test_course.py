"""The course figures (comparisons.figures.course): all written, deterministic, up to date.

The course's eighteen figures are rendered once per session (the ``rendered``
fixture) from the verified data; the committed ``figures/`` directory must hold
exactly what the code renders now.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from comparisons import figure_style as style
from comparisons import figures
from comparisons.figures import course
from functional_training import from_json_float

COMMITTED = Path(__file__).resolve().parents[3] / "figures"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk (bytes 16..24, big-endian)."""
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


def test_every_figure_is_written_as_png_and_svg_at_slide_size(rendered):
    out, written = rendered.out, rendered.written
    expected = [out / f"{name}.{fmt}" for name in figures.FIGURE_NAMES
                for fmt in ("png", "svg", "gif")
                if fmt != "gif" or figures.FIGURES[name].extra_files is not None]
    assert written == [*expected, out / figures.README_FILE, out / figures.DATA_FILE]
    assert len(figures.FIGURE_NAMES) == 18
    for name in figures.FIGURE_NAMES:
        width, height = png_size(out / f"{name}.png")
        assert width >= 1600, name  # the floor for a slide
        assert (width, height) == (1920, 1080), name  # 10 x 5.625 in at 192 dpi
        svg = ET.parse(out / f"{name}.svg").getroot()
        assert (svg.get("width"), svg.get("height")) == ("720pt", "405pt"), name
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)  # no temp files



@pytest.fixture
def gif_drawn_once(monkeypatch, rendered):
    """The course GIF as ``rendered`` drew it, for the tests here that render every figure again.

    Drawing its frames is the slowest part of a render (about 20 s); its bytes are
    checked against the committed GIF (below), and test_animation.py draws a GIF twice
    and compares the bytes, so the tests of the rest of a render reuse it.
    """
    name = "moons-training-animation"
    payload = (rendered.out / f"{name}.gif").read_bytes()
    monkeypatch.setitem(figures.FIGURES, name, dataclasses.replace(
        figures.FIGURES[name], extra_files=lambda d: {"gif": payload}))


@pytest.mark.slow
def test_two_renders_in_a_row_are_byte_identical(data, rendered, tmp_path, gif_drawn_once):
    written = rendered.written
    again = figures.write_figures(data, tmp_path)
    for first, second in zip(written, again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_readme_has_a_caption_and_alt_text_for_every_figure(data, rendered):
    out = rendered.out
    readme = (out / figures.README_FILE).read_text()
    for name, spec in figures.FIGURES.items():
        alt = spec.alt(data["figures"][name])
        assert f"## {name}" in readme
        assert f"![{alt}]({name}.png)" in readme
        assert f"*Alt text:* {alt}" in readme
        assert f"[SVG]({name}.svg)" in readme
        assert len(alt) > 80, name  # says what the figure shows, not just its name


def test_unknown_figure_names_are_refused():
    with pytest.raises(ValueError, match="unknown figure 'moons'; known: learning-rates"):
        figures.figure_data(only=("moons",))


def _assert_same_data(committed, fresh, tol: float, where: str = "figures") -> None:
    """Same structure, strings and integers equal, floats within rtol = atol = ``tol``."""
    if isinstance(fresh, dict):
        assert isinstance(committed, dict) and committed.keys() == fresh.keys(), where
        for key in fresh:
            _assert_same_data(committed[key], fresh[key], tol, f"{where}.{key}")
    elif isinstance(fresh, (list, tuple)):
        assert isinstance(committed, list) and len(committed) == len(fresh), where
        for i, (c, f) in enumerate(zip(committed, fresh, strict=True)):
            _assert_same_data(c, f, tol, f"{where}[{i}]")
    elif isinstance(fresh, float):
        c = from_json_float(committed)
        same_special = (math.isnan(c) and math.isnan(fresh)) or c == fresh
        assert same_special or abs(c - fresh) <= tol + tol * abs(fresh), (where, c, fresh)
    else:
        assert committed == fresh, where


def _committed_record() -> dict:
    path = COMMITTED / figures.DATA_FILE
    if not path.exists():
        pytest.fail(f"{path} is missing: run python -m comparisons figures and commit figures/")
    return json.loads(path.read_text())


def test_committed_figures_draw_the_data_the_code_draws_now(data):
    """The committed ``figures/`` must show what the code renders now.

    Compared: the data each figure draws (``figure-data.json``, regenerated
    here) at the float64 tolerance of the project's policy, and the README
    text exactly. The data, not the image bytes, is the contract: bytes
    change with matplotlib, FreeType and the fonts they ship even when every
    plotted number is the same, while a stale figure always shows up as
    different data. (Byte identity is checked on pinned versions below.)
    """
    committed = _committed_record()
    if committed["backends"] != data["backends"]:
        pytest.skip(f"committed figures drew backends {committed['backends']}, "
                    f"this install runs {data['backends']}")
    fresh = json.loads(figures.data_json(data))  # the same JSON round trip as the file
    _assert_same_data(committed["figures"], fresh["figures"], fresh["tolerance"])
    readme = (COMMITTED / figures.README_FILE).read_text()
    assert readme == figures.readme_text(data), "re-render: python -m comparisons figures"
    for name in figures.FIGURE_NAMES:
        for fmt in style.FORMATS:
            assert (COMMITTED / f"{name}.{fmt}").is_file(), f"{name}.{fmt} is not committed"


def test_committed_figures_are_byte_identical_on_the_pinned_versions(rendered):
    """With the library versions the committed files record, every file's bytes must match.

    ``python -m comparisons all`` writes exactly these files (``render_all``: the
    same ``figure_data`` and ``write_figures``) into ``figures/`` and nothing else
    into the tree, so this is the test that it leaves ``git status`` clean: PNG,
    SVG, README.md and figure-data.json, byte for byte.
    """
    committed = _committed_record()
    if committed["rendered_with"] != figures.rendered_with():
        pytest.skip(f"figures/ was rendered with {committed['rendered_with']}, "
                    f"this install has {figures.rendered_with()}")
    out, paths = rendered.out, rendered.written
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(Path(p).name for p in paths)
    for name in written:
        assert (COMMITTED / name).read_bytes() == (out / name).read_bytes(), (
            f"{name} is stale: run python -m comparisons figures")


@pytest.mark.slow
def test_command_line_renders_every_figure(tmp_path, capsys, data, monkeypatch, gif_drawn_once):
    from comparisons import cli  # `python -m comparisons figures` is cli.main(["figures", ...])

    # The module's verified data stands in for a second verification run (figure_data with
    # its verification runs once per suite, in conftest.py's course_run fixture).
    monkeypatch.setattr(course, "figure_data", lambda **_: data)
    out = tmp_path / "figs"
    assert cli.main(["figures", "--out", str(out), "--format", "svg"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{name}.svg" for name in figures.FIGURE_NAMES] + [figures.README_FILE, figures.DATA_FILE]
        + ["moons-training-animation.gif"])
    with pytest.raises(SystemExit) as caught:  # argparse: usage error, exit code 2
        cli.main(["figures", "--out", str(out), "--format", "pdf"])
    assert caught.value.code == 2


@pytest.mark.slow
def test_all_renders_the_figures_and_counts_them_in_its_summary(tmp_path, capsys, data,
                                                                 monkeypatch, gif_drawn_once):
    from comparisons import cli  # `python -m comparisons all` is cli.main(["all", ...])
    from comparisons.experiments import REGISTRY

    # `all` draws through render_all (figure_data, then write_figures): the module's verified
    # data stands in for figure_data's second verification run, and the lesson's experiments
    # for the registry (the whole registry runs in test_backends.py).
    monkeypatch.setattr(course, "figure_data", lambda **_: data)
    monkeypatch.setattr(cli, "REGISTRY", {name: e for name, e in REGISTRY.items()
                                          if e.lesson_block is not None})
    out = tmp_path / "figs"
    capsys.readouterr()
    assert cli.main(["all", "--out", str(out), "--format", "svg"]) == 0
    summary = capsys.readouterr().out.rstrip().splitlines()[-2:]
    files = sorted([f"{name}.svg" for name in figures.FIGURE_NAMES]
                   + [figures.README_FILE, figures.DATA_FILE, "moons-training-animation.gif"])
    assert sorted(p.name for p in out.iterdir()) == files
    assert summary == [f"figures: {len(files)} files in {out}", "all:     everything agrees"]


def test_the_list_gives_every_figure_one_line_in_registry_order():
    lines = figures.figure_list()
    assert [line.split()[0] for line in lines] == list(figures.FIGURE_NAMES)
    for line, (name, spec) in zip(lines, figures.FIGURES.items(), strict=True):
        assert "\n" not in line and len(line.split(None, 1)[1]) > 20, name
        # a row without a summary is listed by the experiments it draws
        assert line.endswith(spec.summary or ", ".join(
            e if isinstance(e, str) else e.name for e in spec.experiments)), name
    described = ["learning-rates", "lr-sweep", "moons-decision-boundary", "optimizer-paths",
                 "schedules", "loss-landscape"]
    assert all(figures.FIGURES[name].summary for name in described)


def _only(data, names):
    return {**data, "figures": {n: data["figures"][n] for n in names}}


def test_merged_data_keeps_only_figures_verified_and_rendered_the_same_way(data, tmp_path):
    record = json.loads(figures.data_json({**_only(data, ["full-batch", "lr-sweep"]),
                                           "rendered_with": figures.rendered_with()}))
    (tmp_path / figures.DATA_FILE).write_text(json.dumps(record))
    merged = course.merged_data(_only(data, ["schedules", "full-batch"]), tmp_path)
    assert list(merged["figures"]) == ["lr-sweep", "full-batch", "schedules"]  # registry order
    assert merged["figures"]["full-batch"] is data["figures"]["full-batch"]  # the new one wins
    # read back, non-finite values are floats again (the lr-sweep's overflowed losses)
    assert figures.data_json(merged["figures"]["lr-sweep"]) == figures.data_json(
        data["figures"]["lr-sweep"])
    assert any(math.isinf(v) for v in merged["figures"]["lr-sweep"]["final_loss"])
    for other in ({**record, "backends": ["manual", "jax"]},
                  {**record, "rendered_with": {**record["rendered_with"], "numpy": "0"}}):
        (tmp_path / figures.DATA_FILE).write_text(json.dumps(other))
        assert list(course.merged_data(_only(data, ["schedules"]), tmp_path)["figures"]) == [
            "schedules"]
    (tmp_path / figures.DATA_FILE).write_text("not json")
    assert list(course.merged_data(_only(data, ["schedules"]), tmp_path)["figures"]) == [
        "schedules"]
