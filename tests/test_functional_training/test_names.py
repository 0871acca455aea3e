"""The naming rule and its inverse (functional_training._names), and the number checks.

Expected names are written out by hand from the rule in docs/design.md's trajectory
contract (path joined with dots, element index in brackets); no tolerance: exact strings.
"""

from __future__ import annotations

import numpy as np
import pytest

import functional_training as ft
from functional_training import leaf_of, leaves_of, scalar_name, split_name


@pytest.mark.parametrize("leaf, index, name", [
    ("b", (), "b"),
    ("w", (0,), "w[0]"),
    ("w", (12,), "w[12]"),
    ("layers.0.w", (1, 2), "layers.0.w[1,2]"),
    ("layers.3.b", (0,), "layers.3.b[0]"),
])
def test_scalar_name_and_split_name_are_inverses(leaf, index, name):
    assert scalar_name(leaf, index) == name
    assert split_name(name) == (leaf, index)
    assert leaf_of(name) == leaf


@pytest.mark.parametrize("bad", ["w[", "w[]", "w[a]", "w[1,]", "w[-1]", "w[1]x"])
def test_split_name_refuses_what_the_rule_never_writes_in_one_line(bad):
    with pytest.raises(ValueError) as caught:
        split_name(bad)
    assert "\n" not in str(caught.value) and repr(bad) in str(caught.value)


def test_the_names_of_every_kind_read_back_to_their_leaves():
    config = {"sizes": [2, 3, 2], "activation": "tanh"}
    names = ft.parameter_names("mlp", **config)
    shapes = ft.model_kind("mlp").shapes(**config)
    assert leaves_of(names) == tuple(shapes)
    for name in names:
        leaf, index = split_name(name)
        assert len(index) == len(shapes[leaf]) and all(
            0 <= i < n for i, n in zip(index, shapes[leaf], strict=True))
    assert set(names) == {scalar_name(leaf, index) for leaf, shape in shapes.items()
                          for index in np.ndindex(*shape)}


@pytest.mark.parametrize("value, integer, number", [
    (0, True, True), (-3, True, True), (2.5, False, True), (float("nan"), False, True),
    (True, False, False), (False, False, False), ("1", False, False), (None, False, False),
    ([1], False, False),
])
def test_number_checks_never_take_a_boolean(value, integer, number):
    assert ft.is_int(value) is integer
    assert ft.is_number(value) is number
