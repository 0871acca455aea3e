"""functional_training._optimizers: the optimizer table, make_optimizer, weight decay."""

from __future__ import annotations

import dataclasses

import numpy as np
import optax
import pytest

import functional_training as ft

SHIPMENTS_X, SHIPMENTS_Y = [1.0, 2.0, 3.0], [3.0, 5.0, 7.0]
# float64 reference comparisons: an independent NumPy loop of a few dozen flops per
# step differs from optax by a few ulps per step; ft.tolerance("float64", S) is the
# project's policy for S steps (1e-12 at S = 0, growing with S) and still catches any
# formula difference (a missing or decoupled decay moves w by ~1e-3 here).
STEPS = 12
TOL = ft.tolerance("float64", STEPS)


def test_every_optimizer_trains():
    # Not under strict promotion: optax's Adam bias correction mixes its int32 step count
    # with floats, which only standard promotion allows.
    with ft.float64():
        _every_optimizer_trains()


def _every_optimizer_trains():
    for name in ft.OPTIMIZER_NAMES:
        opt = ft.make_optimizer(name, learning_rate=0.05)
        traj = ft.train(ft.LinearParams(0.0, 0.0), SHIPMENTS_X, SHIPMENTS_Y, optimizer=opt,
                        steps=30)
        assert traj.train_loss[-1] < traj.train_loss[0], name


@pytest.mark.parametrize(
    "name,hyper,match",
    [
        ("adam", {"b1": 1.0}, r"^optimizer 'adam': b1 must lie in \[0, 1\), got 1.0$"),
        ("adamw", {"b2": 1.5}, r"^optimizer 'adamw': b2 must lie in \[0, 1\), got 1.5$"),
        ("momentum", {"momentum": 1.0},
         r"^optimizer 'momentum': momentum must lie in \[0, 1\), got 1.0$"),
        ("nesterov", {"momentum": 0.0}, r"^optimizer 'nesterov': nesterov needs momentum > 0"),
        ("adam", {"eps": -1e-8}, r"^optimizer 'adam': eps must be finite and >= 0"),
        ("adamw", {"weight_decay": -0.1}, r"^optimizer 'adamw': weight_decay must be finite"),
    ],
)
def test_make_optimizer_refuses_settings_out_of_bounds(name, hyper, match):
    with pytest.raises(ValueError, match=match):
        ft.make_optimizer(name, learning_rate=0.1, **hyper)


def test_make_optimizer_bounds_match_the_comparison_specs():
    # One rule set: every value comparisons' optimizer_settings accepts or refuses,
    # make_optimizer accepts or refuses too (momentum >= 1 is refused by both spec files
    # and make_optimizer; comparisons' _common allows it, see the report).
    from comparisons.backends._common import optimizer_settings
    from comparisons.experiments import REGISTRY

    base = REGISTRY["optimizer/adam"]
    for key, value in [("b1", 0.0), ("b1", 0.999), ("b1", 1.0), ("b2", -0.1), ("eps", 0.0),
                       ("eps", -1.0)]:
        experiment = dataclasses.replace(base, hyperparams={**base.hyperparams, key: value})
        try:
            optimizer_settings(experiment)
            accepted = True
        except ValueError:
            accepted = False
        try:
            ft.make_optimizer("adam", learning_rate=0.1, **{key: value})
            ours = True
        except ValueError:
            ours = False
        assert ours == accepted, (key, value)


def test_make_optimizer_returns_one_object_per_setting_and_train_compiles_once(x64):
    ft.make_optimizer.cache_clear()
    a = ft.make_optimizer("momentum", learning_rate=0.05, momentum=0.5, frozen=["b"])
    b = ft.make_optimizer("momentum", momentum=0.5, learning_rate=0.05, frozen=("b",))
    assert a is b and ft.make_optimizer.cache_info().hits == 1
    assert ft.make_optimizer("momentum", learning_rate=0.05, momentum=0.6) is not a
    ft.train(ft.LinearParams(0.0, 0.0), [1.0], [2.0], optimizer=a, steps=3)
    before = ft._train._train_scan._cache_size()
    again = ft.make_optimizer("momentum", learning_rate=0.05, momentum=0.5, frozen=["b"])
    ft.train(ft.LinearParams(0.0, 0.0), [1.0], [2.0], optimizer=again, steps=3)
    assert ft._train._train_scan._cache_size() == before  # no new compilation
    ft.make_optimizer.cache_clear()
    assert ft.make_optimizer.cache_info().currsize == 0
    assert ft.make_optimizer("momentum", learning_rate=0.05, momentum=0.5, frozen=["b"]) is not a


def test_make_optimizer_rejects_foreign_hyperparameter():
    with pytest.raises(TypeError, match="does not take momentum"):
        ft.make_optimizer("adam", learning_rate=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="unknown optimizer"):
        ft.make_optimizer("rmsprop", learning_rate=0.1)


# --- weight decay: torch.optim's meaning per optimizer --------------------------------


def _numpy_path(name: str, settings: dict, steps: int) -> np.ndarray:
    """``(w, b)`` before each step: the line on the shipments, mean half squared error,
    optimizer ``name`` written from torch.optim's documented algorithms in NumPy float64.

    Coupled decay (SGD, Adam with ``weight_decay``): ``g <- g + lam theta`` first; AdamW:
    ``theta <- theta - lr (adam + lam theta)`` with the pre-step ``theta``.
    """
    x, y = np.asarray(SHIPMENTS_X), np.asarray(SHIPMENTS_Y)
    theta = np.zeros(2)
    lr, lam = settings["learning_rate"], settings.get("weight_decay", 0.0)
    mu = settings.get("momentum", 0.0)
    b1, b2, eps = settings.get("b1"), settings.get("b2"), settings.get("eps")
    v, m, s = np.zeros(2), np.zeros(2), np.zeros(2)
    path = [theta.copy()]
    for t in range(1, steps + 1):
        e = theta[0] * x + theta[1] - y
        g = np.array([np.mean(e * x), np.mean(e)])
        if name != "adamw":
            g = g + lam * theta
        if name == "sgd":
            step = g
        elif name in ("momentum", "nesterov"):
            v = mu * v + g
            step = g + mu * v if name == "nesterov" else v
        else:
            m = b1 * m + (1 - b1) * g
            s = b2 * s + (1 - b2) * g * g
            step = (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
            if name == "adamw":
                step = step + lam * theta
        theta = theta - lr * step
        path.append(theta.copy())
    return np.asarray(path)


DECAY_SETTINGS = {
    "sgd": {"learning_rate": 0.05, "weight_decay": 0.3},
    "momentum": {"learning_rate": 0.02, "momentum": 0.8, "weight_decay": 0.3},
    "nesterov": {"learning_rate": 0.02, "momentum": 0.8, "weight_decay": 0.3},
    "adam": {"learning_rate": 0.1, "b1": 0.8, "b2": 0.99, "eps": 1e-8, "weight_decay": 0.3},
    "adamw": {"learning_rate": 0.1, "b1": 0.8, "b2": 0.99, "eps": 1e-8, "weight_decay": 0.3},
}


@pytest.mark.parametrize("name", ft.OPTIMIZER_NAMES)
def test_weight_decay_means_what_torch_optim_means(name):
    """make_optimizer's weight_decay against a NumPy loop of torch.optim's algorithm."""
    settings = DECAY_SETTINGS[name]
    with ft.float64():
        opt = ft.make_optimizer(name, **settings)
        traj = ft.train(ft.LinearParams(np.float64(0.0), np.float64(0.0)), SHIPMENTS_X,
                        SHIPMENTS_Y, optimizer=opt, steps=STEPS)
    got = np.stack([np.asarray(traj.params.w), np.asarray(traj.params.b)], axis=1)
    expected = _numpy_path(name, settings, STEPS)
    np.testing.assert_allclose(got, expected, rtol=TOL, atol=TOL)
    # the decay matters: without it the path is visibly elsewhere
    assert np.max(np.abs(expected - _numpy_path(name, {**settings, "weight_decay": 0.0},
                                                STEPS))) > 1e-3


def test_weight_decay_kinds_and_defaults():
    assert {name: ft.weight_decay_kind(name) for name in ft.OPTIMIZER_NAMES} == {
        "sgd": "coupled", "momentum": "coupled", "nesterov": "coupled", "adam": "coupled",
        "adamw": "decoupled"}
    # every optimizer takes weight_decay; adamw's default is optax's 1e-4, the coupled
    # ones' is 0 and stays unwritten (a run without decay reads as before)
    assert all("weight_decay" in ft.optimizer_keys(name) for name in ft.OPTIMIZER_NAMES)
    assert ft.check_hyperparameters("adamw", {})["weight_decay"] == 1e-4
    assert ft.check_hyperparameters("momentum", {}) == {"momentum": 0.9}
    assert ft.check_hyperparameters("sgd", {"weight_decay": 0.5}) == {"weight_decay": 0.5}


def test_zero_weight_decay_is_the_plain_optax_optimizer():
    """lam = 0 adds no transformation (the state is optax.sgd's own; no 0 * theta term
    that would turn an infinite parameter's update into NaN)."""
    plain = optax.sgd(0.1, momentum=0.9)
    ours = ft.optimizer_factory("momentum")(learning_rate=0.1, momentum=0.9, weight_decay=0.0)
    params = np.array([np.inf, 1.0])
    assert type(ours.init(params)) is type(plain.init(params))
    updates, _ = ours.update(np.array([1.0, 1.0]), ours.init(params), params)
    assert np.all(np.isfinite(updates))


def test_sgd_weight_decay_is_twice_the_l2_weight():
    """For plain SGD, weight_decay = 2 l2: the same steps (the recorded gradients differ:
    the L2 term is in the loss's gradient, the decay only in the step)."""
    with ft.float64():
        decayed = ft.train(ft.LinearParams(np.float64(0.0), np.float64(0.0)), SHIPMENTS_X,
                           SHIPMENTS_Y, steps=STEPS,
                           optimizer=ft.make_optimizer("sgd", learning_rate=0.05,
                                                       weight_decay=0.2))
        penalised = ft.train(ft.LinearParams(np.float64(0.0), np.float64(0.0)), SHIPMENTS_X,
                             SHIPMENTS_Y, steps=STEPS,
                             optimizer=ft.make_optimizer("sgd", learning_rate=0.05),
                             objective=ft.objective("linear", features=1, l2=0.1))
    np.testing.assert_allclose(decayed.params.w, penalised.params.w, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(decayed.params.b, penalised.params.b, rtol=TOL, atol=TOL)


def test_sweep_takes_coupled_weight_decay():
    """The sweep's injected optimizer takes weight_decay too (static), and never takes the
    moments path with it (that path is plain SGD)."""
    with ft.float64():
        result = ft.sweep_learning_rates(
            ft.LinearParams(np.float64(0.0), np.float64(0.0)), SHIPMENTS_X, SHIPMENTS_Y,
            [0.05], steps=STEPS, optimizer="sgd", hyperparams={"weight_decay": 0.3})
    assert result.method == "autodiff"
    expected = _numpy_path("sgd", DECAY_SETTINGS["sgd"], STEPS)
    loss = np.mean(0.5 * (expected[-1, 0] * np.asarray(SHIPMENTS_X) + expected[-1, 1]
                          - np.asarray(SHIPMENTS_Y)) ** 2)
    np.testing.assert_allclose(result.final_loss[0], loss,
                               rtol=TOL, atol=TOL)
