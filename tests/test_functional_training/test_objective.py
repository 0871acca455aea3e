"""The JAX core for any model kind: Objective, train, loss_and_grad, schedules, freezing.

Expected values come from the tests' NumPy float64 MLP (``numpy_reference.numpy_mlp``,
written from the formulas, not from the package).
"""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest
from numpy_reference import numpy_mlp

import functional_training as ft

TOL = 1e-12  # float64: the project's verification tolerance (a few ulps per step, 1e3 headroom)

def _mlp(sizes, activation, seed):
    values = ft.initial_values("mlp", init="seeded", seed=seed, sizes=sizes,
                               activation=activation)
    return ft.params_from_values("mlp", values, sizes=sizes, activation=activation)


@pytest.mark.parametrize(("sizes", "activation", "loss", "l2"), [
    ((2, 5, 1), "tanh", "half-squared-error", 0.0),
    ((2, 6, 4, 1), "relu", "hinge", 1e-3),
    ((2, 4, 1), "sigmoid", "binary-cross-entropy", 0.0),
    ((2, 4, 3), "tanh", "softmax-cross-entropy", 1e-2),
])
def test_train_any_mlp_matches_a_numpy_loop_step_by_step(x64, sizes, activation, loss, l2):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(12, 2))
    y = {"half-squared-error": x[:, 0] - x[:, 1] ** 2, "hinge": np.sign(x[:, 0] + 0.1),
         "binary-cross-entropy": (x[:, 1] > 0).astype(float),
         "softmax-cross-entropy": rng.integers(0, 3, 12).astype(float)}[loss]
    steps = 15
    schedule = ft.make_schedule("cosine", init_value=0.5, decay_steps=10, alpha=0.2)
    objective = ft.objective("mlp", loss=loss, l2=l2, sizes=sizes, activation=activation)
    params = _mlp(sizes, activation, seed=1)
    traj = ft.train(params, x, y, optimizer=optax.sgd(schedule), steps=steps,
                    objective=objective, schedule=schedule)

    rates = [float(schedule(k)) for k in range(steps)]
    layers = [(np.asarray(layer.w), np.asarray(layer.b)) for layer in params.layers]
    ref = numpy_mlp(layers, x, y, activation=activation, loss=loss, l2=l2, rates=rates)
    for k, (value, grads, at) in enumerate(zip(ref["batch_loss"], ref["grads"],
                                               ref["params"][:-1], strict=True)):
        np.testing.assert_allclose(traj.batch_loss[k], value, rtol=TOL, atol=TOL)
        for layer, (g_w, g_b) in enumerate(grads):
            np.testing.assert_allclose(traj.grads.layers[layer].w[k], g_w, rtol=TOL, atol=TOL)
            np.testing.assert_allclose(traj.grads.layers[layer].b[k], g_b, rtol=TOL, atol=TOL)
            np.testing.assert_allclose(traj.params.layers[layer].w[k], at[layer][0],
                                       rtol=TOL, atol=TOL)
    for layer, (w, b) in enumerate(ref["params"][-1]):
        np.testing.assert_allclose(traj.params.layers[layer].w[-1], w, rtol=TOL, atol=TOL)
        np.testing.assert_allclose(traj.params.layers[layer].b[-1], b, rtol=TOL, atol=TOL)
    # The compiled scan's cos and the eager one may differ in the last bit (XLA fuses them).
    np.testing.assert_allclose(traj.learning_rate, rates, rtol=4e-16, atol=0)
    assert traj.train_loss.shape == (steps + 1,)
    if objective.classifies:
        outputs = np.asarray(jax.vmap(objective.outputs, in_axes=(0, None))(traj.params, x))
        predicted = (np.argmax(outputs, axis=-1) if outputs.ndim == 3
                     else np.where(outputs > 0, 1.0, 0.0 if loss != "hinge" else -1.0))
        # XLA divides by the constant n as a multiply by 1/n: one ulp from count / n.
        np.testing.assert_allclose(traj.train_accuracy, np.mean(predicted == y, axis=1),
                                   rtol=2.3e-16, atol=0)
    else:
        assert traj.train_accuracy is None


def test_schedules_run_at_float64_rates_under_x64(x64):
    # optax counts in int32 and JAX divides int32 by an int in float32, even with x64.
    schedule = ft.make_schedule("linear", init_value=1.0, end_value=0.1, transition_steps=10)
    assert float(schedule(1)) == 0.91
    assert float(optax.linear_schedule(1.0, 0.1, 10)(np.int32(1))) != 0.91  # the trap avoided
    assert schedule == ft.make_schedule("linear", init_value=1.0, end_value=0.1,
                                        transition_steps=10)  # hashable by value: one compile


def test_frozen_mlp_leaf_never_moves_and_still_has_its_gradient():
    with ft.float64():  # optax's Adam computes b1 ** count, which strict promotion refuses
        _frozen_leaf_run()


def _frozen_leaf_run():
    sizes = (1, 3, 1)
    objective = ft.objective("mlp", sizes=sizes, activation="tanh")
    params = _mlp(sizes, "tanh", seed=0)
    optimizer = ft.make_optimizer("adam", learning_rate=0.1, frozen=["layers.0.w"])
    x = np.linspace(-1, 1, 5)[:, None]
    traj = ft.train(params, x, x[:, 0] ** 2, optimizer=optimizer, steps=4, objective=objective)
    np.testing.assert_array_equal(traj.params.layers[0].w, np.repeat(
        np.asarray(params.layers[0].w)[None], 5, axis=0))
    assert np.all(np.abs(traj.grads.layers[0].w) > 0)
    assert not np.allclose(traj.params.layers[1].w[0], traj.params.layers[1].w[-1])


def test_freezing_an_unknown_leaf_names_the_leaves(x64):
    optimizer = ft.make_optimizer("sgd", learning_rate=0.1, frozen=["layers.9.w"])
    with pytest.raises(ValueError, match=r"cannot freeze \['layers.9.w'\]: parameters are "
                                         r"layers.0.w, layers.0.b"):
        optimizer.init(_mlp((1, 2, 1), "tanh", seed=0))


def test_loss_and_grad_and_mean_loss_take_any_objective(x64):
    objective = ft.objective("mlp", loss="hinge", l2=0.5, sizes=(2, 1), activation="tanh")
    params = ft.params_from_values("mlp", {"layers.0.w[0,0]": 1.0, "layers.0.w[1,0]": -1.0,
                                           "layers.0.b[0]": 0.5}, sizes=(2, 1))
    x, y = np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([1.0, -1.0])
    # scores -0.5 and 0.5: hinge 1.5 and 1.5; l2 = 0.5 * (1 + 1 + 0.25)
    loss, grads = ft.loss_and_grad(params, x, y, objective=objective)
    assert float(loss) == 1.5 + 1.125
    assert float(ft.mean_loss(params, x, y, objective=objective)) == 1.5 + 1.125
    # dL/dw = mean(-t x) over active margins + 2 * 0.5 * w
    np.testing.assert_allclose(np.asarray(grads.layers[0].w)[:, 0],
                               [-0.5 * 1.0 + 1.0, -0.5 * 2.0 - 1.0], rtol=0, atol=1e-15)


def test_check_gradients_on_an_mlp_objective(x64):
    objective = ft.objective("mlp", loss="softmax-cross-entropy", l2=1e-3, sizes=(2, 3, 3),
                             activation="sigmoid")
    x = np.random.default_rng(0).normal(size=(6, 2))
    check = ft.check_gradients(objective.mean_loss, _mlp((2, 3, 3), "sigmoid", 2), x,
                               np.array([0.0, 1.0, 2.0, 2.0, 1.0, 0.0]))
    assert check.passed(1e-8)  # central differences at eps 1e-5: truncation + rounding ~1e-10


@pytest.mark.parametrize(("objective", "x", "y", "message"), [
    (("mlp", {"loss": "hinge", "sizes": (2, 1)}), np.zeros((3, 2)), [1.0, 0.5, -1.0],
     r"train data: hinge: target row 1 is 0.5; hinge takes -1 or \+1"),
    (("mlp", {"loss": "softmax-cross-entropy", "sizes": (2, 3)}), np.zeros((2, 2)), [0.0, 3.0],
     r"train data: softmax-cross-entropy: target row 1 is 3.0; .* integer class 0..2"),
    (("mlp", {"sizes": (3, 1)}), np.zeros((2, 2)), [0.0, 1.0],
     r"train data: the mlp model takes 3 feature\(s\), so x must have shape \(n, 3\), "
     r"got \(2, 2\)"),
    (("linear", {"loss": "binary-cross-entropy", "features": 1}), np.zeros(2), [0.0, 2.0],
     r"train data: binary-cross-entropy: target row 1 is 2.0"),
])
def test_train_refuses_data_that_does_not_fit_the_objective(x64, objective, x, y, message):
    model, config = objective
    loss = config.pop("loss", ft.DEFAULT_LOSS)
    obj = ft.objective(model, loss=loss, activation="tanh", **config) if model == "mlp" else \
        ft.objective(model, loss=loss, **config)
    params = (ft.LinearParams(0.0, 0.0) if model == "linear"
              else _mlp(config["sizes"], "tanh", 0))
    with pytest.raises(ValueError, match=message):
        ft.train(params, x, y, optimizer=0.1, steps=1, objective=obj)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: ft.objective("mlp", sizes=(2, 1), width=3), "model 'mlp' does not take width"),
    (lambda: ft.objective("mlp", loss="hinge", l2=-1.0, sizes=(2, 1), activation="relu"),
     "l2 must be a finite"),
    (lambda: ft.objective("mlp", loss="cross-entropy", sizes=(2, 1)), "unknown loss"),
    (lambda: ft.objective("cnn"), "unknown model kind 'cnn'"),
])
def test_objective_refuses_bad_parts_in_one_line(call, message):
    with pytest.raises(ValueError, match=message) as caught:
        call()
    assert "\n" not in str(caught.value)


def test_equal_objectives_share_one_compiled_program(x64):
    x, y = np.linspace(-1, 1, 4)[:, None], np.array([1.0, -1.0, 1.0, -1.0])
    params = _mlp((1, 2, 1), "relu", 0)
    optimizer = ft.make_optimizer("sgd", learning_rate=0.1)

    def run():
        objective = ft.objective("mlp", loss="hinge", sizes=[1, 2, 1], activation="relu")
        return ft.train(params, x, y, optimizer=optimizer, steps=3, objective=objective)

    run()
    before = ft._train._train_scan._cache_size()
    run()
    assert ft._train._train_scan._cache_size() == before
