"""functional_training/_datasets.py: the one data grammar and the data sets it names.

Expected values: the lesson's numbers, ``synthetic_shipments`` called directly, and a
CSV written here.
"""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from functional_training import synthetic_shipments
from functional_training._datasets import data_argument, named_data, parse_data_name


@pytest.mark.parametrize(("text", "canonical"), [
    ("one-shipment", "one-shipment"),
    ("shipments", "shipments"),
    ("synthetic:1", "synthetic:1"),
    ("synthetic:1_000", "synthetic:1000"),
    ("synthetic:007", "synthetic:7"),
    ("runs/data.csv", "runs/data.csv"),
    ("table.NPZ", "table.NPZ"),
])
def test_the_grammar_returns_one_spelling(text, canonical):
    assert parse_data_name(text) == canonical


@pytest.mark.parametrize("text", ["synthetic:0", "synthetic:", "synthetic:1e3", "synthetic:-2",
                                  "shipment", "data.txt", ""])
def test_anything_else_is_one_line_naming_the_text(text):
    with pytest.raises(ValueError) as caught:
        parse_data_name(text)
    message = str(caught.value)
    assert message.startswith(f"unknown data {text!r}; expected one-shipment, shipments, ")
    assert "\n" not in message
    with pytest.raises(argparse.ArgumentTypeError, match="unknown data"):
        data_argument(text)


def test_the_lessons_data_and_starting_points():
    one = named_data("one-shipment")
    assert (one.x.tolist(), one.y.tolist(), one.init) == ([2.0], [6.0], (1.0, 0.0))
    three = named_data("shipments")
    assert (three.x.tolist(), three.y.tolist(), three.init) == ([1.0, 2.0, 3.0],
                                                                [3.0, 5.0, 7.0], (0.0, 0.0))
    assert three.x.dtype == np.float64 and three.x_val is None and three.files == ()


def test_synthetic_is_synthetic_shipments_with_the_given_seed():
    data = named_data("synthetic:1_000", seed=3)
    expected = synthetic_shipments(1000, seed=3)
    assert data.name == "synthetic:1000"
    np.testing.assert_array_equal(data.x, expected.x)
    np.testing.assert_array_equal(data.y, expected.y)
    assert data.split.startswith("all 1000 examples train (synthetic_shipments seed 3)")


def test_a_file_names_its_columns_and_its_digest(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n1,2,3\n4,5,6\n")
    data = named_data(str(path), features=["a", "b"], target="y")
    np.testing.assert_array_equal(data.x, [[1.0, 2.0], [4.0, 5.0]])
    assert data.y.tolist() == [3.0, 6.0] and (data.features, data.target) == (("a", "b"), "y")
    assert [role for role, _ in data.files] == ["train"]
    assert data.files[0][1].startswith("sha256:")
    one = named_data(str(path), features=["a"], target="y")
    assert one.x.shape == (2,)  # one feature: the lesson's scalar w takes (n,)


def test_features_and_target_are_for_files_only():
    with pytest.raises(ValueError, match="^data: features and target name columns of a data "
                                         "file, not of shipments$"):
        named_data("shipments", target="y")
    with pytest.raises(ValueError, match="^data: unknown data 'nope'"):
        named_data("nope")
