"""The one optimizer step (``train`` and ``sweep`` both take it) and the one batch-order check.

Expected values are NumPy float64 from the formulas: ``g = mean((w x + b - y) x)``,
``mean(w x + b - y)``; heavy-ball momentum ``v <- mu v + g``, ``theta <- theta - lr v``.
"""

from __future__ import annotations

import numpy as np
import pytest

import functional_training as ft
from functional_training._step import check_batch_indices, optimizer_step

TOL = 1e-12  # float64: the same few flops in another order


def test_steps_of_momentum_against_numpy(x64):
    x, y = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.5, 7.0, 8.0])
    order = np.array([[0, 2], [1, 3], [3, 0]])
    lr, mu = 0.05, 0.9
    opt = ft.make_optimizer("momentum", learning_rate=lr, momentum=mu)
    lesson = ft.objective("linear", features=1)
    params = ft.LinearParams(np.float64(0.5), np.float64(-0.5))
    state = opt.init(params)
    w, b, vw, vb = 0.5, -0.5, 0.0, 0.0
    for k in range(3):
        params, state, loss, grads = optimizer_step(lesson.loss_and_grad, opt, params, state,
                                                    x, y, order[k])
        xb, yb = x[order[k]], y[order[k]]
        e = w * xb + b - yb
        gw, gb = np.mean(e * xb), np.mean(e)
        np.testing.assert_allclose([float(loss), float(grads.w), float(grads.b)],
                                   [np.mean(0.5 * e**2), gw, gb], rtol=TOL, atol=TOL)
        vw, vb = mu * vw + gw, mu * vb + gb
        w, b = w - lr * vw, b - lr * vb
        np.testing.assert_allclose([float(params.w), float(params.b)], [w, b], rtol=TOL,
                                   atol=TOL)


def test_without_indices_the_step_takes_the_full_batch(x64):
    opt = ft.make_optimizer("sgd", learning_rate=0.1)
    lesson = ft.objective("linear", features=1)
    params = ft.LinearParams(np.float64(1.0), np.float64(0.0))
    full = optimizer_step(lesson.loss_and_grad, opt, params, opt.init(params), [1.0, 3.0],
                          [2.0, 2.0])
    every = optimizer_step(lesson.loss_and_grad, opt, params, opt.init(params),
                           np.array([1.0, 3.0]), np.array([2.0, 2.0]), np.array([0, 1]))
    assert float(full[2]) == float(every[2]) == 0.5  # errors -1 and 1: mean 0.5 (1 + 1) / 2


BAD = [
    ([[0], [1]], 3, r"shape \(steps=3, batch_size\), got \(2, 1\)"),
    ([0, 1, 2], 3, r"shape \(steps=3, batch_size\), got \(3,\)"),
    (np.zeros((3, 0), int), 3, "batch size must be > 0"),
    ([[0.0], [1.0], [2.0]], 3, "must be integers"),
    ([[0], [1], [4]], 3, r"must lie in \[0, 4\)"),
    ([[0], [-1], [2]], 3, r"must lie in \[0, 4\)"),
]


@pytest.mark.parametrize(("order", "steps", "message"), BAD)
def test_a_bad_batch_order_is_one_line_and_the_same_for_train_and_sweep(order, steps, message):
    with pytest.raises((ValueError, TypeError), match=message):
        check_batch_indices(order, steps, 4)
    x, y = [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]
    with pytest.raises((ValueError, TypeError), match=message):
        ft.train(ft.LinearParams(0.0, 0.0), x, y, optimizer=0.1, steps=steps,
                 batch_indices=order)
    with pytest.raises((ValueError, TypeError), match=message):
        ft.sweep_learning_rates(ft.LinearParams(0.0, 0.0), x, y, [0.1], steps=steps,
                                batch_indices=order)


def test_no_order_is_the_full_batch():
    assert check_batch_indices(None, 5, 10) is None
