"""functional_training/_lesson_data.py: the lesson's data sets are the lines the lesson states.

Checked against the lesson's words (closed forms), not against anything the package computes.
"""

from __future__ import annotations

import numpy as np

from functional_training._lesson_data import (
    MANY_SHIPMENTS,
    NORMAL_WEEK,
    ONE_SHIPMENT,
    PEAK_SEASON,
    SHIPMENTS,
)


def test_one_shipment_is_x_2_y_6():
    assert ONE_SHIPMENT == ((2.0, 6.0),)


def test_the_three_small_sets_lie_exactly_on_their_lines():
    # exact: small integers and their doubles are exact in binary floating point
    assert all(y == 2 * x + 1 for x, y in SHIPMENTS)  # extra_delay = 2 disruption + 1
    assert all(y == 4 * x for x, y in PEAK_SEASON)  # delays double in peak season
    assert all(y == 2 * x for x, y in NORMAL_WEEK)  # a normal week
    assert [x for x, _ in PEAK_SEASON] == [x for x, _ in NORMAL_WEEK] == [1.0, 2.0, 3.0]


def test_many_shipments_scatter_around_2x_plus_1():
    x, y = np.array(MANY_SHIPMENTS).T
    slope, intercept = np.polyfit(x, y, 1)  # NumPy float64 least squares
    assert len(MANY_SHIPMENTS) == 10 and list(x) == [0.5 * k for k in range(1, 11)]
    # "roughly 2 x + 1": within 0.1 of the slope and 0.3 of the intercept, and scattered
    assert abs(slope - 2) < 0.1 and abs(intercept - 1) < 0.3
    assert np.max(np.abs(y - (2 * x + 1))) > 0.1


def test_every_set_is_a_tuple_of_float_pairs():
    for rows in (ONE_SHIPMENT, SHIPMENTS, PEAK_SEASON, NORMAL_WEEK, MANY_SHIPMENTS):
        assert isinstance(rows, tuple)
        assert all(len(row) == 2 and all(type(v) is float for v in row) for row in rows)
