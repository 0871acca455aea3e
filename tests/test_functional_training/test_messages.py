"""functional_training/_messages.py: the three ways text becomes one line of a message."""

from __future__ import annotations

import pytest

from functional_training._messages import clipped_line, first_line, one_line


@pytest.mark.parametrize(("text", "expected"), [
    ("plain", "plain"),
    ("  padded\t", "padded"),
    ("a\nb\r\nc", "a b c"),
    ("tab\tand  spaces", "tab and spaces"),
    ("", ""),
    (ValueError("line 1\nline 2"), "line 1 line 2"),  # any object: its str()
])
def test_one_line_squashes_every_run_of_whitespace_and_drops_nothing(text, expected):
    assert one_line(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("No module named 'x'\nTraceback (most recent call last): ...", "No module named 'x'"),
    ("\n\n  headline  \n detail", "headline"),
    ("one", "one"),
    ("   ", ""),
])
def test_first_line_keeps_the_headline_only(text, expected):
    assert first_line(text) == expected


def test_clipped_line_is_one_line_cut_to_its_limit():
    assert clipped_line("a\nb", 10) == "a b"  # short: as one_line
    exact = "x" * 10
    assert clipped_line(exact, 10) == exact  # the limit itself is kept whole
    long = "row " * 100
    clipped = clipped_line(long, 20)
    assert len(clipped) == 20 and clipped == one_line(long)[:17] + "..."
