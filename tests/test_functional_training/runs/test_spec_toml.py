"""functional_training/runs/_spec_toml.py: a spec's TOML values read with one-line messages.

Every message names the key as ``[table].key`` and says what was found, in words.
"""

from __future__ import annotations

import math

import pytest

from functional_training.runs._spec_toml import (
    SpecError,
    finite_at,
    integer_at,
    kind_words,
    only_keys,
    shortened,
    string_at,
    table_of,
)


def _refused(call, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        call()
    assert str(caught.value) == message


def test_tables_and_keys():
    assert table_of({"run": {"steps": 1}}, "run") == {"steps": 1}
    assert table_of({}, "schedule", optional=True) is None
    _refused(lambda: table_of({}, "data"), "[data]: missing table")
    _refused(lambda: table_of({"data": [1]}, "data"), "[data]: expected a table, got a list")
    only_keys("run", {"steps": 1}, ("steps", "seed"))
    _refused(lambda: only_keys("run", {"step": 1}, ("steps", "seed")),
             "[run].step: unknown key; expected steps, seed")
    _refused(lambda: only_keys("", {"nmae": "x"}, ("name",)), "nmae: unknown key; expected name")


def test_strings():
    assert string_at({"name": "a"}, "", "name") == "a"
    _refused(lambda: string_at({}, "", "name"), "name: missing")
    _refused(lambda: string_at({"name": ""}, "", "name"), "name: is empty")
    _refused(lambda: string_at({"kind": 3}, "model", "kind"),
             "[model].kind: expected a string, got an integer")


def test_numbers_are_finite_and_never_booleans():
    assert finite_at({"learning_rate": 1}, "optimizer", "learning_rate") == 1.0
    _refused(lambda: finite_at({"w": True}, "model", "w"), "[model].w: expected a number, "
                                                           "got a boolean")
    _refused(lambda: finite_at({"w": math.inf}, "model", "w"), "[model].w: must be finite, got inf")
    _refused(lambda: finite_at({}, "model", "w"), "[model].w: missing")


@pytest.mark.parametrize(("value", "low", "high", "message"), [
    (0, 1, None, "[run].steps: must be an integer > 0, got 0"),
    (-1, 0, None, "[run].steps: must be an integer >= 0, got -1"),
    (1.0, 1, None, "[run].steps: must be an integer > 0, got a float"),
    (True, 1, None, "[run].steps: must be an integer > 0, got a boolean"),
    (11, 1, 10, "[run].steps: must be at most 10, got 11"),
])
def test_integers_in_their_range(value, low, high, message):
    _refused(lambda: integer_at({"steps": value}, "run", "steps", low=low, high=high), message)
    assert integer_at({"steps": 10}, "run", "steps", low=1, high=10) == 10


def test_kind_words_and_shortened():
    assert [kind_words(v) for v in (True, 1, 1.0, "s", [], {})] == [
        "a boolean", "an integer", "a float", "a string", "a list", "a table"]
    assert kind_words(None) == "NoneType"
    assert shortened("abc") == "'abc'"
    long = shortened("x" * 100)
    assert len(long) == 40 and long.endswith("...") and long.startswith("'xxx")
