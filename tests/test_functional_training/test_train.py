"""functional_training against the lesson's printed numbers and a NumPy float64 reference."""

from __future__ import annotations

import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from lesson_fixture import lesson_blocks
from numpy_reference import numpy_sgd

import functional_training as ft

LESSON = lesson_blocks()
# float64 reference comparisons: independent float64 implementations of a few
# dozen flops per step differ by a few ulps; 1e-12 is the project's policy
# (functional_training.tolerance) and still catches any formula difference.
TOL64 = ft.tolerance("float64", 0)
SHIPMENTS_X, SHIPMENTS_Y = [1.0, 2.0, 3.0], [3.0, 5.0, 7.0]


@pytest.mark.slow
def test_import_leaves_jax_config_alone():
    code = "import functional_training, jax; print(jax.config.jax_enable_x64)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_float64_context_is_scoped():
    with ft.float64():
        assert jnp.asarray(1.0).dtype == jnp.float64
    assert jnp.asarray(1.0).dtype == jnp.float32


def test_single_update_matches_lesson(x64):
    params = ft.LinearParams(1.0, 0.0)
    new, loss, grads = ft.sgd_step(params, 2.0, 6.0, 0.1)
    _, new_loss, _ = ft.sgd_step(new, 2.0, 6.0, 0.1)
    printed = [
        f"before: prediction={float(ft.predict(params, 2.0)):.1f} loss={float(loss):.1f}",
        f"gradients: dL/dw={float(grads.w):.1f} dL/db={float(grads.b):.1f}",
        f"after: prediction={float(ft.predict(new, 2.0)):.1f} loss={float(new_loss):.1f}",
    ]
    assert printed == LESSON["single-update"]
    # Closed form: error = 2 - 6 = -4, loss = 0.5 * 16, dL/dw = -4 * 2, dL/db = -4.
    assert (float(loss), float(grads.w), float(grads.b), float(new_loss)) == (8.0, -8.0, -4.0, 2.0)


def test_forward_and_backward_separately(x64):
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([3.0, 5.0, 7.0])
    params = ft.LinearParams(0.3, -0.2)
    err = 0.3 * x - 0.2 - y
    np.testing.assert_allclose(ft.predict(params, x), 0.3 * x - 0.2, rtol=TOL64, atol=TOL64)
    np.testing.assert_allclose(ft.mean_loss(params, x, y), np.mean(0.5 * err**2), rtol=TOL64)
    loss, grads = ft.loss_and_grad(params, x, y)
    np.testing.assert_allclose(grads.w, np.mean(err * x), rtol=TOL64)
    np.testing.assert_allclose(grads.b, np.mean(err), rtol=TOL64)


def test_half_squared_error_refuses_broadcasting():
    with pytest.raises(ValueError, match="refusing to broadcast"):
        ft.half_squared_error(jnp.zeros(3), jnp.zeros((3, 1)))


def test_five_steps_table(x64):
    traj = ft.train(ft.LinearParams(1.0, 0.0), [2.0], [6.0], optimizer=0.1, steps=5)
    w, b = np.asarray(traj.params.w), np.asarray(traj.params.b)
    predictions = w * 2.0 + b
    printed = [
        f"step {k}: prediction={predictions[k]:.3f} loss={float(traj.batch_loss[k]):.3f} "
        f"w={w[k + 1]:.3f} b={b[k + 1]:.3f}"
        for k in range(5)
    ]
    assert printed == LESSON["five-steps"]


def test_learning_rate_losses(x64):
    printed = []
    for rate in (0.01, 0.1, 0.5):
        traj = ft.train(ft.LinearParams(1.0, 0.0), [2.0], [6.0], optimizer=rate, steps=5)
        printed.append(f"lr={rate:.2f}: " + ", ".join(f"{v:.3f}" for v in traj.batch_loss))
        ref = numpy_sgd(1.0, 0.0, [2.0], [6.0], rate, 5)
        np.testing.assert_allclose(traj.batch_loss, ref["batch_loss"], rtol=TOL64, atol=TOL64)
    assert printed == LESSON["learning-rates"]


def test_full_batch_twenty_steps(x64):
    traj = ft.train(ft.LinearParams(0.0, 0.0), SHIPMENTS_X, SHIPMENTS_Y, optimizer=0.08, steps=20)
    w, b = np.asarray(traj.params.w), np.asarray(traj.params.b)
    printed = [
        f"step {k:2d}: loss={float(traj.batch_loss[k]):.4f} w={w[k + 1]:.3f} b={b[k + 1]:.3f}"
        for k in (0, 1, 19)
    ]
    assert printed == LESSON["full-batch"]
    ref = numpy_sgd(0.0, 0.0, SHIPMENTS_X, SHIPMENTS_Y, 0.08, 20)
    for got, key in ((w, "w"), (b, "b"), (traj.grads.w, "grad_w"), (traj.grads.b, "grad_b"),
                     (traj.batch_loss, "batch_loss"), (traj.train_loss, "train_loss")):
        np.testing.assert_allclose(got, ref[key], rtol=TOL64, atol=TOL64, err_msg=key)


def test_train_validation_with_frozen_bias(x64):
    train_x, train_y = [1.0, 2.0, 3.0], [4.0, 8.0, 12.0]
    val_x, val_y = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
    opt = ft.make_optimizer("sgd", learning_rate=0.02, frozen=["b"])
    traj = ft.train(ft.LinearParams(2.0, 0.0), train_x, train_y, optimizer=opt, steps=4,
                    x_val=val_x, y_val=val_y)
    printed = [
        f"step {k}: train={float(traj.train_loss[k + 1]):.3f} "
        f"validation={float(traj.val_loss[k + 1]):.3f} w={float(traj.params.w[k + 1]):.3f}"
        for k in range(4)
    ]
    assert printed == LESSON["train-validation"]
    assert np.all(np.asarray(traj.params.b) == 0.0)  # frozen: never moved
    assert np.all(np.asarray(traj.grads.b) != 0.0)  # ... though its gradient is recorded
    ref = numpy_sgd(2.0, 0.0, train_x, train_y, 0.02, 4, train_bias=False)
    np.testing.assert_allclose(traj.params.w, ref["w"], rtol=TOL64, atol=TOL64)
    val_ref = [np.mean(0.5 * (w * np.array(val_x) - np.array(val_y)) ** 2) for w in ref["w"]]
    np.testing.assert_allclose(traj.val_loss, val_ref, rtol=TOL64, atol=TOL64)


def test_gradient_check_lesson(x64):
    check = ft.check_gradients(ft.mean_loss, ft.LinearParams(1.0, 0.0), 2.0, 6.0)
    printed = [
        f"dL/dw analytic={float(check.analytic.w):.6f} numeric={float(check.numeric.w):.6f}",
        f"dL/db analytic={float(check.analytic.b):.6f} numeric={float(check.numeric.b):.6f}",
        f"checks pass: {check.passed(1e-8)}",
    ]
    assert printed == LESSON["gradient-check"]


def test_gradient_check_vector_params(x64):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=5)
    params = ft.LinearParams(jnp.asarray(rng.normal(size=3)), jnp.asarray(0.5))
    check = ft.check_gradients(ft.mean_loss, params, x, y)
    err = x @ np.asarray(params.w) + 0.5 - y
    np.testing.assert_allclose(check.analytic.w, x.T @ err / 5, rtol=TOL64, atol=TOL64)
    # Central differences at eps = 1e-5 on O(1) values: truncation ~eps^2, rounding ~u/eps ~ 1e-11.
    assert check.passed(1e-8)


def test_gradient_check_refuses_float32():
    with pytest.raises(ValueError, match="float64"):
        ft.check_gradients(ft.mean_loss, ft.LinearParams(1.0, 0.0), 2.0, 6.0)


def test_jit_and_eager_steps_agree(x64):
    params = ft.LinearParams(jnp.asarray(0.3), jnp.asarray(-0.1))
    args = (jnp.asarray(SHIPMENTS_X), jnp.asarray(SHIPMENTS_Y), jnp.asarray(0.05))
    eager = ft.sgd_step(params, *args)
    jitted = jax.jit(ft.sgd_step)(params, *args)
    chex.assert_trees_all_close(eager, jitted, rtol=TOL64, atol=TOL64)


def test_sgd_step_vmaps_over_learning_rate(x64):
    rates = jnp.asarray([0.01, 0.1, 0.5])
    params = ft.LinearParams(jnp.asarray(1.0), jnp.asarray(0.0))
    new, loss, _ = jax.vmap(ft.sgd_step, in_axes=(None, None, None, 0))(params, 2.0, 6.0, rates)
    # One step from w=1, b=0 on (2, 6): grad (-8, -4) so w' = 1 + 8 lr, b' = 4 lr.
    np.testing.assert_allclose(new.w, 1.0 + 8.0 * np.asarray(rates), rtol=TOL64)
    np.testing.assert_allclose(new.b, 4.0 * np.asarray(rates), rtol=TOL64)


def test_train_does_not_retrace_on_new_data(x64):
    # Wrap the scan's optimizer update: it is traced once per compilation of `train`.
    base = ft.make_optimizer("momentum", learning_rate=0.05, momentum=0.5)

    @chex.assert_max_traces(n=1)
    def update(grads, state, params=None):
        return base.update(grads, state, params)

    opt = optax.GradientTransformation(base.init, update)
    rng = np.random.default_rng(1)
    for _ in range(3):
        ft.train(ft.LinearParams(0.0, 0.0), rng.normal(size=4), rng.normal(size=4),
                 optimizer=opt, steps=6)


def test_float_rates_share_one_compilation(x64):
    ft.train(ft.LinearParams(0.0, 0.0), [1.0], [2.0], optimizer=0.1, steps=3)
    before = ft._train._train_scan._cache_size()
    ft.train(ft.LinearParams(0.0, 0.0), [1.0], [2.0], optimizer=0.2, steps=3)
    assert ft._train._train_scan._cache_size() == before


def test_mini_batch_replays_given_indices(x64):
    rng = np.random.default_rng(7)
    x, y = rng.uniform(0, 4, size=10), rng.uniform(0, 10, size=10)
    order = np.concatenate([rng.permutation(10) for _ in range(3)])[:28].reshape(14, 2)
    traj = ft.train(ft.LinearParams(0.5, 0.5), x, y, optimizer=0.05, steps=14, batch_indices=order)
    ref = numpy_sgd(0.5, 0.5, x, y, 0.05, 14, batch_indices=order)
    np.testing.assert_allclose(traj.batch_loss, ref["batch_loss"], rtol=TOL64, atol=TOL64)
    np.testing.assert_allclose(traj.train_loss, ref["train_loss"], rtol=TOL64, atol=TOL64)
    np.testing.assert_allclose(traj.params.w, ref["w"], rtol=TOL64, atol=TOL64)
    np.testing.assert_allclose(traj.grads.b, ref["grad_b"], rtol=TOL64, atol=TOL64)


@pytest.mark.parametrize("dtype,steps", [(np.float32, 200), (np.float64, 1000)])
def test_divergence_is_recorded_not_raised(dtype, steps):
    # lr 0.5 on (2, 6): error multiplies by 1 - 0.5 * (2^2 + 1) = -1.5 each step until overflow.
    ref = numpy_sgd(1.0, 0.0, [2.0], [6.0], 0.5, steps, dtype=dtype)
    expected = int(np.argmax(~np.isfinite(ref["batch_loss"])))
    assert expected > 0
    with jax.enable_x64(dtype == np.float64):
        traj = ft.train(ft.LinearParams(dtype(1.0), dtype(0.0)), [2.0], [6.0], optimizer=0.5,
                        steps=steps)
    assert traj.batch_loss.dtype == dtype
    assert traj.first_nonfinite_step == expected
    assert np.isfinite(traj.grad_norm[expected - 1])


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"optimizer": 0.1, "steps": 0}, ValueError, "steps"),
        ({"optimizer": -0.1, "steps": 3}, ValueError, "learning_rate"),
        ({"optimizer": float("nan"), "steps": 3}, ValueError, "learning_rate"),
        ({"optimizer": "sgd", "steps": 3}, TypeError, "optimizer"),
        ({"optimizer": 0.1, "steps": 3, "batch_indices": [[0, 5]] * 3}, ValueError, "lie in"),
        ({"optimizer": 0.1, "steps": 3, "batch_indices": [[0]] * 2}, ValueError, "batch_indices"),
        ({"optimizer": 0.1, "steps": 3, "x_val": [1.0]}, ValueError, "validation"),
        ({"optimizer": 1e300, "steps": 3}, ValueError,
         r"^learning_rate = 1e\+300 overflows float32 \(largest 3.40282e\+38\)$"),
    ],
)
def test_train_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ft.train(ft.LinearParams(0.0, 0.0), SHIPMENTS_X, SHIPMENTS_Y, **kwargs)


@pytest.mark.parametrize(
    "params,field",
    [(ft.LinearParams(0, 0), "w of dtype int"), (ft.LinearParams(0.0, True), "b of dtype bool")],
)
def test_train_refuses_non_float_params_in_one_line(params, field):
    with pytest.raises(TypeError, match=rf"^params must be floating point, got {field}"):
        ft.train(params, SHIPMENTS_X, SHIPMENTS_Y, optimizer=0.1, steps=3)


@pytest.mark.slow
def test_demo_cli_prints_first_update():
    out = subprocess.run([sys.executable, "-m", "functional_training"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.splitlines()[:3] == LESSON["single-update"]
    assert out.stdout.splitlines()[3].startswith("device: ")


def test_several_features_match_numpy(x64):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=6)
    traj = ft.train(ft.LinearParams([0.5, -0.5], 0.1), x, y, optimizer=0.1, steps=4)
    w, b = np.array([0.5, -0.5]), 0.1
    for k in range(4):  # NumPy float64: grad_w = X^T e / n, grad_b = mean(e)
        np.testing.assert_allclose(traj.params.w[k], w, rtol=TOL64, atol=TOL64)
        err = x @ w + b - y
        np.testing.assert_allclose(traj.grads.w[k], x.T @ err / 6, rtol=TOL64, atol=TOL64)
        w, b = w - 0.1 * x.T @ err / 6, b - 0.1 * err.mean()
    assert traj.params.w.shape == (5, 2)
