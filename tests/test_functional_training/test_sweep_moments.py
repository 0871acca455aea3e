"""The exact full-batch path of the lesson's line: the moments against NumPy, the path
against autodiff (non-finite steps included), and where ``auto`` takes it.
"""

from __future__ import annotations

import numpy as np
import pytest
from sweep_checks import SHIPMENTS, TOL64, finite_prefix, random_data

import functional_training as ft
from functional_training._sweep_moments import (
    LESSON_OBJECTIVE,
    moments_exact,
    moments_problem,
)


@pytest.mark.parametrize("seed", range(6))
def test_moments_path_equals_autodiff_path(x64, seed):
    x, y = random_data(seed, n=5 + 20 * seed)
    limit = ft.stability_limit(x, y)
    rates = limit * np.array([0.01, 0.3, 0.9, 0.999, 1.001, 1.2, 3.0])
    init = ft.LinearParams(0.7, -0.4)
    steps = 400
    a = ft.sweep_learning_rates(init, x, y, rates, steps=steps, method="moments")
    b = ft.sweep_learning_rates(init, x, y, rates, steps=steps, method="autodiff")
    np.testing.assert_array_equal(a.first_nonfinite_step, b.first_nonfinite_step)
    for i in range(rates.size):
        stop = a.first_nonfinite_step[i]
        np.testing.assert_allclose(finite_prefix(a.losses[i], stop),
                                   finite_prefix(b.losses[i], stop), rtol=TOL64, atol=TOL64)
    finite = a.first_nonfinite_step < 0
    np.testing.assert_allclose(a.final_params.w[finite], b.final_params.w[finite], rtol=TOL64,
                               atol=TOL64)


def test_auto_picks_moments_only_where_exact(x64):
    init = ft.LinearParams(0.0, 0.0)
    x, y = SHIPMENTS
    assert ft.sweep_learning_rates(init, x, y, [0.1], steps=2).method == "moments"
    order = ft.minibatch_indices(3, batch_size=1, steps=2)
    assert ft.sweep_learning_rates(init, x, y, [0.1], steps=2,
                                   batch_indices=order).method == "autodiff"
    assert ft.sweep_learning_rates(init, x, y, [0.1], steps=2,
                                   optimizer="momentum").method == "autodiff"
    with pytest.raises(ValueError, match="mini-batches"):
        ft.sweep_learning_rates(init, x, y, [0.1], steps=2, batch_indices=order,
                                method="moments")
    with pytest.raises(ValueError, match="'adam'"):
        ft.sweep_learning_rates(init, x, y, [0.1], steps=2, optimizer="adam", method="moments")


def test_moment_statistics_against_numpy():
    # NumPy float64 from the definitions; the identity the path rests on, at a point (w, b):
    # sum_i 0.5 e_i^2 = ((w - beta) scale_w)^2 + half_residual + (c scale_c)^2. rtol 1e-12:
    # the same few float64 sums in another order.
    x, y = random_data(7, n=30)
    stats = ft.moment_statistics(x, y)
    u, v = x - x.mean(), y - y.mean()
    np.testing.assert_allclose([stats.n, stats.x_mean, stats.y_mean, stats.var_x, stats.beta],
                               [30, x.mean(), y.mean(), (u * u).mean(),
                                (u * v).mean() / (u * u).mean()], rtol=1e-12, atol=1e-12)
    assert (stats.x_low, stats.x_high) == (x.min(), x.max())
    w, b = 0.3, -1.1
    c = w * x.mean() + b - y.mean()
    total = ((w - stats.beta) * stats.scale_w) ** 2 + stats.half_residual + (c * stats.scale_c) ** 2
    np.testing.assert_allclose(total, np.sum(0.5 * (w * x + b - y) ** 2), rtol=1e-12)
    assert ft.moment_statistics(x[:, None], y) == stats  # one feature as a column


@pytest.mark.parametrize(("model", "optimizer", "minibatch", "reason"), [
    (LESSON_OBJECTIVE, "sgd", False, None),
    (LESSON_OBJECTIVE, "momentum", False, "'momentum'"),
    (LESSON_OBJECTIVE, "sgd", True, "mini-batches"),
    (ft.objective("linear", features=2), "sgd", False, "not the lesson's line"),
    (ft.objective("linear", features=1, l2=0.1), "sgd", False, "not the lesson's line"),
    (ft.objective("mlp", sizes=[1, 2, 1], activation="tanh"), "sgd", False,
     "not the lesson's line"),
])
def test_moments_problem_names_why(model, optimizer, minibatch, reason):
    problem = moments_problem(model, optimizer, minibatch)
    assert problem is None if reason is None else reason in problem


def test_moments_exact_up_to_the_fourth_root_of_the_largest_float():
    bound = float(np.finfo(np.float32).max) ** 0.25  # about 4.3e9
    assert moments_exact([0.99 * bound], [-0.99 * bound], np.float32)
    assert not moments_exact([1.01 * bound], [0.0], np.float32)
    assert not moments_exact([0.0], [1.01 * bound], np.float32)
    assert moments_exact([1.01 * bound], [0.0], np.float64)
    x, y = SHIPMENTS
    assert ft.sweep_learning_rates(ft.LinearParams(0.0, 0.0), [1e10, 2.0], [0.0, 1.0], [0.1],
                                   steps=1).method == "autodiff"  # float32, beyond the bound
    assert ft.sweep_learning_rates(ft.LinearParams(0.0, 0.0), x, y, [0.1],
                                   steps=1).method == "moments"
