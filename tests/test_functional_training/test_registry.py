"""functional_training/_registry.py: one lookup and one message for every kinds table."""

from __future__ import annotations

import pytest

import functional_training as ft
from functional_training._registry import lookup


def test_lookup_returns_the_row():
    table = {"a": 1, "b": 2}
    assert lookup(table, "b", what="thing") == 2


@pytest.mark.parametrize("name", ["c", "", None, 3])
def test_an_unknown_name_is_one_line_listing_the_known_ones_in_order(name):
    with pytest.raises(ValueError) as caught:
        lookup({"zeta": 1, "alpha": 2}, name, what="optimizer")
    assert str(caught.value) == f"unknown optimizer {name!r}; expected one of zeta, alpha"


def test_the_kinds_tables_answer_through_it():
    with pytest.raises(ValueError, match=r"^unknown model kind 'poly'; expected one of .*mlp"):
        ft.model_kind("poly")
