"""The figures' files (comparisons.figures.files): one atomic writer, no dates, strict formats.
"""

from __future__ import annotations

import json
import math

import matplotlib
import pytest

from comparisons import figure_style as style
from comparisons import figures


def test_every_file_goes_through_the_projects_one_atomic_writer(rendered):
    # functional_training.runs.write_atomic also fsyncs the directory and sets mode 0644; the
    # figures use it (no second writer). The session's render recorded its calls, into an
    # --out directory that did not exist (``new/figs``): it is created.
    written = rendered.written
    animations = sum(row.extra_files is not None for row in figures.FIGURES.values())
    assert rendered.atomic == written
    assert len(written) == 2 * len(figures.FIGURE_NAMES) + animations + 2  # + README, data
    assert rendered.out.parent.name == "new" and rendered.out.is_dir()
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in written)
    assert not hasattr(style, "write_atomically")


def test_files_carry_no_date_and_no_library_version(rendered):
    out = rendered.out
    for name in figures.FIGURE_NAMES:
        svg = (out / f"{name}.svg").read_bytes()
        png = (out / f"{name}.png").read_bytes()
        assert b"<dc:date>" not in svg
        for raw in (svg, png):
            assert matplotlib.__version__.encode() not in raw, name
            assert b"comparisons.figures" in raw, name  # our fixed creator string


@pytest.mark.parametrize("text", ["", " , ", "pdf", "png,gif"])
def test_bad_formats_are_one_line_value_errors(text, tmp_path):
    with pytest.raises(ValueError) as caught:
        figures.parse_formats(text)
    assert "\n" not in str(caught.value) and "png, svg" in str(caught.value)
    with pytest.raises(ValueError):
        figures.render_all(tmp_path / "out", (text,))
    assert not (tmp_path / "out").exists()


def test_formats_parse_in_order_without_repeats():
    assert figures.parse_formats("SVG, png,svg") == ("svg", "png")
    assert figures.parse_formats(("png",)) == ("png",)


def test_the_data_file_is_strict_json_with_non_finite_values_as_strings():
    text = figures.data_json({"loss": [1.0, math.inf, -math.inf, math.nan], "steps": 3})
    assert json.loads(text) == {"loss": [1.0, "Infinity", "-Infinity", "NaN"], "steps": 3}
    assert text.endswith("\n") and "NaN," not in text.replace('"NaN"', "")


def test_an_output_directory_below_a_file_is_refused_before_anything_runs(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(ValueError, match=r"^--out: .*afile is not a directory$"):
        figures.check_output_directory(tmp_path / "afile" / "figs")
    assert figures.check_output_directory(tmp_path / "new" / "figs") == tmp_path / "new" / "figs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # nothing created
