"""comparisons/least_squares.py: the least-squares line, exactly and correctly rounded."""

from __future__ import annotations

import numpy as np
import pytest

from comparisons.least_squares import least_squares_line
from functional_training import MANY_SHIPMENTS


def test_points_on_a_line_give_the_line_exactly():
    assert least_squares_line([1.0, 2.0, 3.0], [3.0, 5.0, 7.0]) == (2.0, 1.0)
    assert least_squares_line([0.5, -1.0], [0.0, 3.0]) == (-2.0, 1.0)


def test_scattered_points_agree_with_numpy_lstsq():
    x, y = np.array(MANY_SHIPMENTS).T
    design = np.stack([x, np.ones_like(x)], axis=1)
    expected = np.linalg.lstsq(design, y, rcond=None)[0]
    # LAPACK's float64 solve of a well-conditioned 10 x 2 problem: within a few ulps
    np.testing.assert_allclose(least_squares_line(list(x), list(y)), expected, rtol=1e-12)


def test_the_result_does_not_depend_on_the_order_of_the_points():
    x, y = np.array(MANY_SHIPMENTS).T
    forward = least_squares_line(list(x), list(y))
    assert least_squares_line(list(x[::-1]), list(y[::-1])) == forward  # exact arithmetic


@pytest.mark.parametrize(("x", "y", "message"), [
    ([1.0], [2.0], "needs at least two distinct x values"),
    ([1.0, 1.0], [2.0, 3.0], "needs at least two distinct x values"),
    ([1.0, 2.0], [2.0], "2 x values but 1 y values"),
])
def test_an_undetermined_line_is_refused(x, y, message):
    with pytest.raises(ValueError, match=f"^least_squares_line: {message}$"):
        least_squares_line(x, y)
