"""comparisons/experiments.py: the registry's data, its generators and its batch order.

Expected values: the documented generators redrawn with NumPy, least squares on d2l's data
(the stated line within its noise), the lesson's numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

from comparisons.experiments import (
    REGISTRY,
    batch_order,
    d2l_regression,
    delay_class,
    late,
    moons_rows,
)
from functional_training import minibatch_indices, two_moons


def test_d2l_regression_is_its_stated_line_plus_small_noise():
    rows = np.array(d2l_regression(1000))
    x, y = rows[:, :2], rows[:, 2]
    rng = np.random.default_rng(0)  # features first, then noise
    np.testing.assert_array_equal(x, rng.normal(0.0, 1.0, size=(1000, 2)))
    fit = np.linalg.lstsq(np.column_stack([x, np.ones(1000)]), y, rcond=None)[0]
    # noise sd 0.01 over 1000 examples: the fit's standard error is about 3e-4
    np.testing.assert_allclose(fit, [2.0, -3.4, 4.2], atol=2e-3)
    assert d2l_regression(5, seed=1) != d2l_regression(5, seed=2)


def test_moons_rows_are_two_moons_as_rows():
    x, y = two_moons(10, noise=0.1, seed=4)
    rows = np.array(moons_rows(10, seed=4))
    np.testing.assert_array_equal(rows, np.column_stack([x, y]))


@pytest.mark.parametrize(("delay", "is_late", "cls"), [
    (5.99, 0.0, 0.0), (6.0, 0.0, 1.0), (7.0, 0.0, 1.0), (7.01, 1.0, 1.0), (8.0, 1.0, 2.0)])
def test_the_classifiers_targets_at_their_edges(delay, is_late, cls):
    assert (late(delay), delay_class(delay)) == (is_late, cls)


def test_batch_order_is_minibatch_indices_or_full_batch():
    assert batch_order(REGISTRY["five-steps"]) is None
    e = REGISTRY["mini-batch"]
    expected = minibatch_indices(len(e.train), batch_size=e.batch_size, steps=e.steps,
                                 seed=e.seed)
    assert batch_order(e) == expected.tolist()


def test_the_lessons_experiments_start_where_the_lesson_does():
    single = REGISTRY["single-update"]
    assert single.train == ((2.0, 6.0),) and single.init == {"w": 1.0, "b": 0.0}
    assert all(e.name == name for name, e in REGISTRY.items())
