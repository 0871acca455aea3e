"""functional_training/_numbers.py: integers and numbers, never booleans."""

from __future__ import annotations

import math

import numpy as np
import pytest

from functional_training._numbers import is_int, is_number


@pytest.mark.parametrize(("value", "integer", "number"), [
    (0, True, True),
    (-3, True, True),
    (10**30, True, True),
    (2.0, False, True),
    (math.nan, False, True),  # NaN is a float: a number, refused elsewhere where it matters
    (math.inf, False, True),
    (True, False, False),
    (False, False, False),
    ("1", False, False),
    (None, False, False),
    (np.float64(1.5), False, True),  # a subclass of float
    (np.int64(3), False, False),  # not a Python int: settings come from TOML and JSON
])
def test_is_int_and_is_number(value, integer, number):
    assert (is_int(value), is_number(value)) == (integer, number)
