"""``functional_training.sweep`` (and its alias ``sweep_learning_rates``): every run equals
``train`` alone with its rate and initial values, for the lesson's line and every kind.

The compiled program's recording: ``test_sweep_program.py``; the moments path:
``test_sweep_moments.py``; sharding: ``test_sweep_sharding.py``.
"""

from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest
import torch
from numpy_reference import numpy_linear, numpy_sgd
from sweep_checks import (
    ONE_SHIPMENT,
    SHIPMENTS,
    TOL64,
    assert_matches_train,
    random_data,
)

import functional_training as ft

TOL = 1e-12  # float64 verification tolerance: the same operations, vmapped or not


@pytest.mark.parametrize("method", ["moments", "autodiff"])
@pytest.mark.parametrize(
    ("data", "init"),
    [(ONE_SHIPMENT, (1.0, 0.0)), (SHIPMENTS, (0.0, 0.0)), (random_data(3), (0.5, -0.2))],
)
def test_sweep_equals_train_rate_by_rate(x64, method, data, init):
    x, y = data
    rates = [0.01, 0.08, 0.1, 0.3, 0.5]
    init = ft.LinearParams(*init)
    result = ft.sweep_learning_rates(init, x, y, rates, steps=25, method=method)
    assert result.method == method
    assert result.losses.shape == (5, 26)
    assert_matches_train(result, init, x, y)


def test_sweep_matches_lesson_learning_rates(x64):
    # The lesson's printed losses for lr = 0.01, 0.1, 0.5 over five steps.
    result = ft.sweep_learning_rates(ft.LinearParams(1.0, 0.0), *ONE_SHIPMENT,
                                     [0.01, 0.1, 0.5], steps=5)
    printed = [
        f"lr={rate:.2f}: " + ", ".join(f"{v:.3f}" for v in losses[:5])
        for rate, losses in zip(result.learning_rates, result.losses, strict=True)
    ]
    from lesson_fixture import lesson_blocks

    assert printed == lesson_blocks()["learning-rates"]


def test_sweep_against_numpy_reference(x64):
    x, y = random_data(11, n=40)
    rates = np.geomspace(1e-3, 0.3, 9)
    result = ft.sweep_learning_rates(ft.LinearParams(0.0, 0.0), x, y, rates, steps=60,
                                     method="autodiff")
    for i, rate in enumerate(rates):
        ref = numpy_sgd(0.0, 0.0, x, y, rate, 60)
        np.testing.assert_allclose(result.losses[i], ref["train_loss"], rtol=TOL64, atol=TOL64)
        np.testing.assert_allclose(result.final_params.w[i], ref["w"][-1], rtol=TOL64,
                                   atol=TOL64)


def test_minibatch_sweep_equals_train(x64):
    data = ft.synthetic_shipments(50, seed=4)
    order = ft.minibatch_indices(50, batch_size=8, steps=30, seed=4)
    init = ft.LinearParams(0.0, 0.0)
    result = ft.sweep_learning_rates(init, data.x, data.y, [0.003, 0.03, 0.08], steps=30,
                                     batch_indices=order, record_every=5)
    assert result.method == "autodiff"
    assert_matches_train(result, init, data.x, data.y, batch_indices=order)


def test_several_features_sweep_equals_train(x64):
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(12, 3)), rng.normal(size=12)
    init = ft.LinearParams(np.zeros(3), 0.0)
    result = ft.sweep_learning_rates(init, x, y, [0.05, 0.2], steps=15)
    assert result.method == "autodiff" and result.final_params.w.shape == (2, 3)
    for i, rate in enumerate(result.learning_rates):
        traj = ft.train(init, x, y, optimizer=float(rate), steps=15)
        np.testing.assert_allclose(result.final_params.w[i], traj.params.w[-1], rtol=TOL64,
                                   atol=TOL64)
        np.testing.assert_allclose(result.losses[i], traj.train_loss, rtol=TOL64, atol=TOL64)


@pytest.mark.parametrize(
    ("name", "hyper"),
    [("momentum", {"momentum": 0.8}), ("nesterov", {}), ("adam", {"b1": 0.8}), ("adamw", {})],
)
def test_optimizer_sweeps_equal_train(name, hyper):
    # float64 without the strict-promotion fixture: optax's Adam mixes weak types.
    x, y = SHIPMENTS
    init = ft.LinearParams(0.0, 0.0)
    rates = [0.01, 0.05, 0.2]
    with ft.float64():
        result = ft.sweep_learning_rates(init, x, y, rates, steps=20, optimizer=name,
                                         hyperparams=hyper, record_every=4)
        for i, rate in enumerate(rates):
            opt = ft.make_optimizer(name, learning_rate=rate, **hyper)
            traj = ft.train(init, x, y, optimizer=opt, steps=20)
            np.testing.assert_allclose(result.losses[i], traj.train_loss[::4], rtol=TOL64,
                                       atol=TOL64)
            np.testing.assert_allclose(result.final_params.b[i], traj.params.b[-1], rtol=TOL64,
                                       atol=TOL64)
    assert result.method == "autodiff"


@pytest.mark.parametrize("method", ["moments", "autodiff"])
def test_divergent_rates_are_data(x64, method):
    # lr = 1.0 and 2.0 on one shipment (limit 0.4): the loss grows by (lr*5 - 1)^2 per step
    # and overflows float64 after a few hundred steps; no exception, the step is recorded.
    init = ft.LinearParams(1.0, 0.0)
    result = ft.sweep_learning_rates(init, *ONE_SHIPMENT, [0.1, 0.41, 1.0, 2.0], steps=600,
                                     record_every=50, method=method)
    first = result.first_nonfinite_step
    assert first[0] == -1 and first[1] == -1  # stable, and barely unstable but still finite
    assert 0 < first[3] < first[2] < 600
    assert not np.isfinite(result.final_loss[2:]).any()
    assert_matches_train(result, init, *ONE_SHIPMENT, exact_tail=(method == "autodiff"))


def test_divergence_in_float32_is_recorded():
    result = ft.sweep_learning_rates(ft.LinearParams(1.0, 0.0), *ONE_SHIPMENT, [0.1, 1.0],
                                     steps=200)
    assert result.losses.dtype == np.float32
    assert result.first_nonfinite_step[0] == -1
    traj = ft.train(ft.LinearParams(1.0, 0.0), *ONE_SHIPMENT, optimizer=1.0, steps=200)
    assert result.first_nonfinite_step[1] == traj.first_nonfinite_step


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"learning_rates": []}, "non-empty"),
        ({"learning_rates": [0.1, -0.1]}, "finite and > 0"),
        ({"learning_rates": [0.1, float("nan")]}, "finite and > 0"),
        ({"learning_rates": [[0.1]]}, "1-D"),
        ({"steps": 0}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"record_every": 0}, "record_every"),
        ({"method": "fast"}, "method"),
        ({"optimizer": "lbfgs"}, "unknown optimizer"),
        ({"hyperparams": {"learning_rate": 0.1}}, "per rate"),
        ({"hyperparams": {"momentum": 0.9}}, "does not take momentum"),
        ({"batch_indices": [[0], [1]]}, "shape"),
        ({"batch_indices": [[0], [1], [3]]}, r"\[0, 3\)"),
        ({"batch_indices": [[0.0], [1.0], [2.0]]}, "integers"),
        ({"params": ft.LinearParams([0.0, 0.0], 0.0)}, "do not fit"),
        ({"devices": []}, "at least one device"),
        ({"steps": 2**31}, r"steps must be < 2\*\*31"),
        ({"learning_rates": [0.1] * 100, "steps": 2**31 - 1},
         r"GiB .*raise record_every \(--record-every\) or sweep fewer learning rates"),
        ({"learning_rates": [1e300]}, r"learning_rate = 1e\+300 overflows float32"),
        ({"hyperparams": {"momentum": 1.0}, "optimizer": "momentum"},
         r"momentum must lie in \[0, 1\)"),
        ({"params": ft.LinearParams(0, 0)}, "params must be floating point"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, message):
    args = {"params": ft.LinearParams(0.0, 0.0), "learning_rates": [0.1], "steps": 3}
    args.update(kwargs)
    params, rates = args.pop("params"), args.pop("learning_rates")
    with pytest.raises((ValueError, TypeError), match=message):
        ft.sweep_learning_rates(params, *SHIPMENTS, rates, **args)


def _train_one(objective, x, y, rate, seed, *, steps, optimizer, hyper, batches):
    config = objective.settings
    params = ft.params_from_values(objective.model, ft.initial_values(
        objective.model, init="seeded", seed=seed, **config), **config)
    opt = ft.make_optimizer(optimizer, learning_rate=rate, **hyper)
    return ft.train(params, x, y, optimizer=opt, steps=steps, objective=objective,
                    batch_indices=batches)


@pytest.mark.parametrize(("objective", "optimizer", "hyper", "batch_size"), [
    (("mlp", "hinge", 1e-4, {"sizes": (2, 6, 6, 1), "activation": "tanh"}), "sgd", {}, None),
    (("mlp", "binary-cross-entropy", 0.0, {"sizes": (2, 4, 1), "activation": "relu"}),
     "momentum", {"momentum": 0.9}, 5),
    (("mlp", "softmax-cross-entropy", 1e-3, {"sizes": (2, 5, 3), "activation": "sigmoid"}),
     "adam", {"b1": 0.9, "b2": 0.999, "eps": 1e-8}, 4),
    (("linear", "half-squared-error", 0.0, {"features": 2}), "nesterov", {"momentum": 0.5},
     None),
])
def test_every_run_equals_train_alone(objective, optimizer, hyper, batch_size):
    kind, loss, l2, config = objective
    x, labels = ft.two_moons(20, noise=0.2, seed=3)
    y = {"hinge": labels, "binary-cross-entropy": (labels + 1) / 2,
         "softmax-cross-entropy": np.arange(20) % 3.0,
         "half-squared-error": x[:, 0] - x[:, 1]}[loss]
    rates, seeds, steps, every = [0.01, 0.2, 3.0], [0, 5], 12, 5
    with ft.float64():
        obj = ft.objective(kind, loss=loss, l2=l2, **config)
        result = ft.sweep(obj, (x, y), learning_rates=rates, seeds=seeds, optimizer=optimizer,
                          hyperparameters=hyper, steps=steps, batch_size=batch_size,
                          record_every=every)
        batches = None if batch_size is None else ft.minibatch_indices(
            20, batch_size=batch_size, steps=steps, seed=0)
        assert result.losses.shape == (3, 2, steps // every + 1)
        np.testing.assert_array_equal(result.recorded_steps, [0, 5, 10])
        for i, rate in enumerate(rates):
            for j, seed in enumerate(seeds):
                alone = _train_one(obj, x, y, rate, seed, steps=steps, optimizer=optimizer,
                                   hyper=hyper, batches=batches)
                np.testing.assert_allclose(result.losses[i, j], alone.train_loss[::every],
                                           rtol=TOL, atol=TOL, err_msg=f"rate {rate} seed {seed}")
                np.testing.assert_allclose(result.final_loss[i, j], alone.train_loss[-1],
                                           rtol=TOL, atol=TOL)
                for got, want in zip(jax.tree.leaves(result.final_params),
                                     jax.tree.leaves(alone.params), strict=True):
                    np.testing.assert_allclose(got[i, j], want[-1], rtol=TOL, atol=TOL)
                first = alone.first_nonfinite_step
                if batch_size is None or first is None:  # mini-batches: the full loss is
                    # checked only at records, so an overflow between them shows later
                    assert result.first_nonfinite_step[i, j] == (-1 if first is None else first)


def test_a_diverging_rate_is_data():
    x, y = ft.two_moons(20, noise=0.1, seed=0)
    obj = ft.objective("mlp", loss="squared-error", sizes=(2, 8, 1), activation="relu")
    with ft.float64():
        result = ft.sweep(obj, (x, y), learning_rates=[0.05, 1e3], seeds=[0], steps=30)
    assert result.first_nonfinite_step[0, 0] == -1
    assert 0 < result.first_nonfinite_step[1, 0] <= 30
    assert not np.isfinite(result.final_loss[1, 0])


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"learning_rates": []}, ValueError, "learning_rates must be a non-empty"),
    ({"seeds": [-1]}, ValueError, "seeds must be a non-empty list of integers >= 0"),
    ({"seeds": [0.5]}, ValueError, "seeds must be"),
    ({"steps": 0}, ValueError, "steps must be an integer > 0"),
    ({"record_every": 0}, ValueError, "record_every must be an integer > 0"),
    ({"batch_size": 99}, ValueError, r"batch_size must be an integer in \[1, 20\]"),
    ({"optimizer": "rmsprop"}, ValueError, "unknown optimizer"),
    ({"hyperparameters": {"learning_rate": 0.1}}, TypeError, "must not set learning_rate"),
])
def test_bad_arguments_are_one_line_errors(kwargs, error, message):
    x, y = ft.two_moons(20, noise=0.1, seed=0)
    obj = ft.objective("mlp", loss="hinge", sizes=(2, 3, 1), activation="tanh")
    arguments = {"learning_rates": [0.1], "steps": 3, **kwargs}
    with pytest.raises(error, match=message) as caught:
        ft.sweep(obj, (x, y), **arguments)
    assert "\n" not in str(caught.value)


def test_targets_that_do_not_fit_the_loss_are_refused():
    x, y = ft.two_moons(20, noise=0.1, seed=0)
    obj = ft.objective("mlp", loss="binary-cross-entropy", sizes=(2, 3, 1), activation="tanh")
    with pytest.raises(ValueError, match=r"binary-cross-entropy: target row \d+ is -1.0"):
        ft.sweep(obj, (x, y), learning_rates=[0.1], steps=2)


def test_the_line_through_sweep_is_the_alias_bit_for_bit(x64):
    # sweep(the lesson's objective, seeds=None, initial_params=pytree) is sweep_learning_rates;
    # with a seed axis (and x as one column) the one column holds the same numbers: one program.
    init = ft.LinearParams(0.5, -0.2)
    x, y = random_data(4)
    line = ft.objective("linear", features=1)
    alias = ft.sweep_learning_rates(init, x, y, [0.05, 0.3], steps=9, record_every=2)
    direct = ft.sweep(line, (x, y), learning_rates=[0.05, 0.3], seeds=None, initial_params=init,
                      steps=9, record_every=2)
    column = ft.sweep(line, (x[:, None], y), learning_rates=[0.05, 0.3], seeds=[0],
                      initial_params={"w": 0.5, "b": -0.2}, steps=9, record_every=2)
    assert alias.method == direct.method == column.method == "moments"
    assert alias.grid == (2,) and alias.seeds is None and column.grid == (2, 1)
    np.testing.assert_array_equal(direct.losses, alias.losses)
    np.testing.assert_array_equal(column.losses[:, 0], alias.losses)
    np.testing.assert_array_equal(column.final_params.w[:, 0], alias.final_params.w)
    np.testing.assert_array_equal(column.first_nonfinite_step[:, 0], alias.first_nonfinite_step)


@pytest.mark.parametrize("batch_size", [None, 3])
def test_a_seeded_line_equals_train_for_every_seed(x64, batch_size):
    # Full batch: the sweep takes the moments path itself; mini-batches: autodiff.
    x, y = random_data(2, n=9)
    line = ft.objective("linear", features=1)
    rates, seeds, steps = [0.05, 0.4], [1, 2], 12
    result = ft.sweep(line, (x, y), learning_rates=rates, seeds=seeds, steps=steps,
                      batch_size=batch_size, record_every=4)
    assert result.method == ("moments" if batch_size is None else "autodiff")
    assert result.losses.shape == (2, 2, 4)
    order = None if batch_size is None else ft.minibatch_indices(9, batch_size=3, steps=steps)
    for i, rate in enumerate(rates):
        for j, seed in enumerate(seeds):
            values = ft.initial_values("linear", init="seeded", seed=seed, features=1)
            params = ft.params_from_values("linear", values, features=1)
            traj = ft.train(params, x, y, optimizer=rate, steps=steps, batch_indices=order)
            np.testing.assert_allclose(result.losses[i, j], traj.train_loss[::4], rtol=TOL64,
                                       atol=TOL64)
            np.testing.assert_allclose(result.final_loss[i, j], traj.train_loss[-1],
                                       rtol=TOL64, atol=TOL64)


@pytest.mark.parametrize(("model", "kwargs", "message"), [
    (("linear", {"features": 1, "l2": 0.1}), {"method": "moments"}, "not the lesson's line"),
    (("linear", {"features": 1}), {"method": "moments", "batch_size": 1}, "mini-batches"),
    (("linear", {"features": 1}), {"seeds": None}, "seeds=None needs initial_params"),
    (("linear", {"features": 1}), {"batch_size": 1, "batch_indices": [[0], [1]]},
     "batch_size or batch_indices, not both"),
    (("linear", {"features": 1}), {"batch_indices": [[0], [2]]}, r"must lie in \[0, 2\)"),
    (("linear", {"features": 1}), {"initial_params": ft.LinearParams([0.0, 0.0], 0.0),
                                   "seeds": None}, r"w has shape \(2,\), expected \(\)"),
    (("linear", {"features": 1}), {"initial_params": {"w": 0.0, "b": 0.0}, "seeds": [0, 1]},
     "give one seed, not 2"),
])
def test_the_one_sweep_refuses_what_does_not_fit(model, kwargs, message):
    kind, config = model
    obj = ft.objective(kind, **config)
    with pytest.raises(ValueError, match=message) as caught:
        ft.sweep(obj, ([1.0, 2.0], [1.0, 3.0]), learning_rates=[0.1], steps=2, **kwargs)
    assert "\n" not in str(caught.value)


# --- hyperparameter axes: one run per value, in the run's own optimizer state ----------

# The lesson's line on designed data: rows (+-a, 0), (0, +-c), y = 0. The features have
# mean 0 and y = 0, so the bias's gradient is b itself (0 at the start, 0 for ever) and the
# loss is f(w) = 1/2 w^T H w with H = mean(x x^T) = diag(a^2 / 2, c^2 / 2) = diag(2, 0.5).
QUADRATIC_X = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
QUADRATIC_Y = np.zeros(4)
QUADRATIC_W0 = np.array([1.0, -2.0])


def _numpy_heavy_ball(rate: float, beta: float, steps: int) -> tuple[np.ndarray, int]:
    """Heavy ball in NumPy float64 from the formulas (torch.optim.SGD's convention):
    ``g = H w``, ``v = beta v + g``, ``w = w - rate v``; returns the losses ``1/2 w^T H w``
    at steps ``0..S`` and the first step whose weights, loss or gradient are non-finite."""
    hessian = QUADRATIC_X.T @ QUADRATIC_X / len(QUADRATIC_X)
    w, v = QUADRATIC_W0.copy(), np.zeros(2)
    losses, first = [], -1
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            g = hessian @ w
            losses.append(0.5 * w @ g)
            if first < 0 and not (np.isfinite(w).all() and np.isfinite(g).all()
                                  and np.isfinite(losses[-1])):
                first = k
            v = beta * v + g
            w = w - rate * v
    return np.array(losses), first


def _torch_heavy_ball(rate: float, beta: float, steps: int) -> np.ndarray:
    """The same runs by torch.optim.SGD(momentum=beta) in float64: the losses at 0..S."""
    x = torch.tensor(QUADRATIC_X, dtype=torch.float64)
    w = torch.tensor(QUADRATIC_W0, dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=rate, momentum=beta)
    losses = []
    for _ in range(steps + 1):
        opt.zero_grad()
        loss = 0.5 * ((x @ w + b) ** 2).mean()
        losses.append(loss.item())
        loss.backward()
        opt.step()
    return np.array(losses)


def test_a_momentum_axis_is_heavy_ball_for_every_rate_and_beta(x64):
    # lambda_max = 2: heavy ball converges iff rate * 2 < 2 (1 + beta). Rate 1.5 diverges
    # for beta = 0 and converges for beta >= 0.6; rate 5 diverges for every beta below 1;
    # rate 1e100 overflows float64 within a few steps (first_nonfinite_step is compared).
    rates, betas, steps = [0.1, 0.5, 1.5, 5.0, 1e100], [0.0, 0.6, 0.9, 0.99], 40
    line = ft.objective("linear", features=2)
    result = ft.sweep(line, (QUADRATIC_X, QUADRATIC_Y), learning_rates=rates, seeds=None,
                      initial_params=ft.LinearParams(QUADRATIC_W0, 0.0), optimizer="momentum",
                      hyperparameters={"momentum": betas}, steps=steps)
    assert result.grid == (5, 4) and result.losses.shape == (5, 4, steps + 1)
    assert result.method == "autodiff"
    np.testing.assert_array_equal(result.hyperparameter_axes["momentum"], betas)
    for i, rate in enumerate(rates):
        for j, beta in enumerate(betas):
            expected, first = _numpy_heavy_ball(rate, beta, steps)
            assert result.first_nonfinite_step[i, j] == first, (rate, beta)
            keep = slice(None) if first < 0 else slice(first)
            # float64, a few flops a step: independent loops agree to ulps; grown losses
            # (rate 5: ~1e30 after 40 steps) are compared relatively
            np.testing.assert_allclose(result.losses[i, j, keep], expected[keep], rtol=1e-10,
                                       atol=TOL, err_msg=f"rate {rate} beta {beta}")
    grew = result.final_loss > result.losses[..., 0]
    assert grew[2, :3].tolist() == [True, False, False]  # rate 1.5: beta = 0 diverges
    assert grew[3].all() and (result.first_nonfinite_step[4] >= 0).all()
    assert (result.final_loss[1:3, 1] < 1e-3 * result.losses[1:3, 1, 0]).all()  # beta 0.6


@pytest.mark.parametrize(("rate", "beta"), [(0.5, 0.9), (1.5, 0.0), (1.5, 0.5)])
def test_a_momentum_axis_equals_torch_sgd_momentum(x64, rate, beta):
    # torch.optim.SGD(momentum=beta), float64, independent of optax (1e-10: relative, the
    # diverging (1.5, 0) run grows to ~1e7 in 20 steps)
    line = ft.objective("linear", features=2)
    result = ft.sweep(line, (QUADRATIC_X, QUADRATIC_Y), learning_rates=[rate], seeds=[0],
                      initial_params=ft.LinearParams(QUADRATIC_W0, 0.0), optimizer="momentum",
                      hyperparameters={"momentum": [0.3, beta]}, steps=20)
    assert result.grid == (1, 2, 1)
    np.testing.assert_allclose(result.losses[0, 1, 0], _torch_heavy_ball(rate, beta, 20),
                               rtol=1e-10, atol=TOL)


def _numpy_decayed(x, y, rate: float, decay: float, steps: int, *, adamw: bool) -> np.ndarray:
    """The line ``x @ w + b`` with weight decay as torch.optim means it, NumPy float64, from
    zero (w and b alike): SGD coupled, ``theta -= rate (g + decay theta)``; AdamW decoupled
    (b1 0.9, b2 0.999, eps 1e-8), ``theta -= rate (mhat / (sqrt(vhat) + eps) + decay theta)``.
    Returns the losses at steps 0..S."""
    theta, losses = np.zeros(x.shape[1] + 1), []
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t in range(1, steps + 2):
        error = x @ theta[:-1] + theta[-1] - y
        losses.append(np.mean(0.5 * error**2))
        g = np.append(x.T @ error / len(y), np.mean(error))
        if not adamw:
            theta = theta - rate * (g + decay * theta)
            continue
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g**2
        step = (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        theta = theta - rate * (step + decay * theta)
    return np.array(losses[: steps + 1])


def test_two_adam_axes_and_decay_axes_against_numpy():
    # ft.float64, not the strict x64 fixture: optax's adam takes b1 ** count (float ** int32)
    with ft.float64():
        x, _ = ft.two_moons(8, noise=0.2, seed=1)
        y = x @ [1.5, -0.5] + 0.3
        line, start = ft.objective("linear", features=2), ft.LinearParams([0.0, 0.0], 0.0)
        b1s, b2s, steps = [0.5, 0.9], [0.9, 0.999], 6
        # the axes in the mapping's order, b2 before b1; eps fixed
        adam = ft.sweep(line, (x, y), learning_rates=[0.05, 0.3], seeds=None, initial_params=start,
                        optimizer="adam", hyperparameters={"b2": b2s, "eps": 1e-6, "b1": b1s},
                        steps=steps)
        assert adam.grid == (2, 2, 2) and list(adam.hyperparameter_axes) == ["b2", "b1"]
        for (i, rate), (j, b2), (k, b1) in itertools.product(
                enumerate([0.05, 0.3]), enumerate(b2s), enumerate(b1s)):
            expected = numpy_linear([0.0, 0.0], 0.0, x, y, steps=steps, learning_rate=rate,
                                    optimizer="adam", b1=b1, b2=b2, eps=1e-6)["train_loss"]
            # float64: the same few flops a step in another order; 1e-12 as TOL
            np.testing.assert_allclose(adam.losses[i, j, k], expected, rtol=TOL, atol=TOL)
        for optimizer, decays in (("sgd", [0.0, 0.3, 2.0]), ("adamw", [0.0, 0.05])):
            decayed = ft.sweep(line, (x, y), learning_rates=[0.1], seeds=[0],
                               initial_params=start, optimizer=optimizer,
                               hyperparameters={"weight_decay": decays}, steps=steps)
            for j, decay in enumerate(decays):
                expected = _numpy_decayed(x, y, 0.1, decay, steps, adamw=optimizer == "adamw")
                np.testing.assert_allclose(decayed.losses[0, j, 0], expected, rtol=TOL, atol=TOL,
                                           err_msg=f"{optimizer} weight_decay {decay}")


@pytest.mark.parametrize(("hyper", "error", "message"), [
    ({"momentum": []}, ValueError, r"hyperparameters\['momentum'\] must be a number or a "
                                   "non-empty list"),
    ({"momentum": [[0.5]]}, ValueError, "non-empty list of numbers, got shape"),
    ({"momentum": ["a"]}, TypeError, "must hold real numbers"),
    ({"momentum": [0.5, 1.0]}, ValueError, r"momentum must lie in \[0, 1\), got 1.0"),
    ({"b1": [0.5]}, TypeError, "optimizer 'momentum' does not take b1"),
])
def test_bad_axes_are_one_line_errors(hyper, error, message):
    x, y = ft.two_moons(20, noise=0.1, seed=0)
    obj = ft.objective("mlp", loss="hinge", sizes=(2, 3, 1), activation="tanh")
    with pytest.raises(error, match=message) as caught:
        ft.sweep(obj, (x, y), learning_rates=[0.1], steps=3, optimizer="momentum",
                 hyperparameters=hyper)
    assert "\n" not in str(caught.value)


def test_an_axis_on_the_line_takes_autodiff_and_refuses_moments(x64):
    init = ft.LinearParams(0.0, 0.0)
    with pytest.raises(ValueError, match="method='moments' needs .*a hyperparameter axis "
                                         r"\(weight_decay\) runs on the autodiff path"):
        ft.sweep_learning_rates(init, *SHIPMENTS, [0.1], steps=2, method="moments",
                                hyperparams={"weight_decay": [0.0, 0.1]})
    result = ft.sweep_learning_rates(init, *SHIPMENTS, [0.1, 0.2], steps=2,
                                     hyperparams={"weight_decay": [0.0, 0.1, 0.2]})
    assert result.method == "autodiff" and result.losses.shape == (2, 3, 3)
    # weight decay 0 on the axis is plain SGD: the moments path's numbers
    plain = ft.sweep_learning_rates(init, *SHIPMENTS, [0.1, 0.2], steps=2)
    np.testing.assert_allclose(result.losses[:, 0], plain.losses, rtol=TOL, atol=TOL)

