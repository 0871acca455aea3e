"""``functional_training.sweep``: any model kind over learning rates x initial seeds.

Each run must equal ``functional_training.train`` run alone with that rate and those
initial values (the issue's acceptance: rtol 1e-12 in float64): the same objective,
the same optax update with the rate injected, the same batches.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import functional_training as ft

TOL = 1e-12  # float64 verification tolerance: the same operations, vmapped or not


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
