"""Learning-rate sweeps against single `train` runs, NumPy float64 and the one-device result."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from numpy_reference import numpy_sgd

import functional_training as ft

# float64 comparisons: the project's one tolerance (functional_training.tolerance):
# independent float64 implementations of these few-flop steps differ by a few ulps
# per step, far below 1e-12, while any formula difference shows at 1e-3 or above.
TOL64 = ft.tolerance("float64", 0)
ONE_SHIPMENT = ([2.0], [6.0])
SHIPMENTS = ([1.0, 2.0, 3.0], [3.0, 5.0, 7.0])


def _random_data(seed: int, n: int = 7):
    rng = np.random.default_rng(seed)
    x = rng.normal(rng.uniform(-1.5, 1.5), rng.uniform(0.3, 1.5), size=n)
    y = rng.uniform(-2, 2) * x + rng.uniform(-1, 1) + rng.normal(0, 0.3, size=n)
    return x, y


def _finite_prefix(series: np.ndarray, first_bad: int) -> np.ndarray:
    """The entries before the first non-finite step (all of them when first_bad is -1)."""
    return series if first_bad < 0 else series[:first_bad]


def _assert_matches_train(result, init, x, y, *, batch_indices=None, exact_tail=True):
    """Rate by rate: the sweep equals `ft.train` with that rate (float64, 1e-12)."""
    k = result.record_every
    for i, rate in enumerate(result.learning_rates):
        traj = ft.train(init, x, y, optimizer=float(rate), steps=result.steps,
                        batch_indices=batch_indices)
        expected_first = traj.first_nonfinite_step
        if batch_indices is not None:
            # Trajectory's definition over what the sweep sees: params, grads and batch loss
            # at every step, the full loss at the recorded steps (0, K, 2K, ...) and at S.
            step = np.arange(result.steps + 1)
            seen = (step % k == 0) | (step == result.steps)
            full_loss = np.where(seen, traj.train_loss, 0)
            expected_first = ft.first_nonfinite(*traj.params, *traj.grads, traj.batch_loss,
                                                full_loss)
        expected_first = -1 if expected_first is None else expected_first
        assert result.first_nonfinite_step[i] == expected_first, rate
        recorded = np.asarray(traj.train_loss)[:: k][: result.losses.shape[1]]
        got = result.losses[i]
        final = {"w": np.asarray(traj.params.w)[-1], "b": np.asarray(traj.params.b)[-1]}
        if not exact_tail and expected_first >= 0:
            keep = (np.arange(got.size) * k) < expected_first
            got, recorded = got[keep], recorded[keep]
        else:
            np.testing.assert_allclose(result.final_loss[i], traj.train_loss[-1], rtol=TOL64,
                                       atol=TOL64)
            np.testing.assert_allclose(result.final_params.w[i], final["w"], rtol=TOL64,
                                       atol=TOL64)
            np.testing.assert_allclose(result.final_params.b[i], final["b"], rtol=TOL64,
                                       atol=TOL64)
        np.testing.assert_allclose(got, recorded, rtol=TOL64, atol=TOL64, err_msg=str(rate))


@pytest.mark.parametrize("method", ["moments", "autodiff"])
@pytest.mark.parametrize(
    ("data", "init"),
    [(ONE_SHIPMENT, (1.0, 0.0)), (SHIPMENTS, (0.0, 0.0)), (_random_data(3), (0.5, -0.2))],
)
def test_sweep_equals_train_rate_by_rate(x64, method, data, init):
    x, y = data
    rates = [0.01, 0.08, 0.1, 0.3, 0.5]
    init = ft.LinearParams(*init)
    result = ft.sweep_learning_rates(init, x, y, rates, steps=25, method=method)
    assert result.method == method
    assert result.losses.shape == (5, 26)
    _assert_matches_train(result, init, x, y)


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
    x, y = _random_data(11, n=40)
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
    _assert_matches_train(result, init, data.x, data.y, batch_indices=order)


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


@pytest.mark.parametrize(("steps", "record_every"), [(10, 1), (10, 3), (10, 5), (10, 10),
                                                     (10, 11), (7, 2)])
def test_record_every_shapes_and_values(x64, steps, record_every):
    init = ft.LinearParams(0.0, 0.0)
    rates = [0.02, 0.1, 0.25, 0.33]
    for method in ("moments", "autodiff"):
        result = ft.sweep_learning_rates(init, *SHIPMENTS, rates, steps=steps,
                                         record_every=record_every, method=method)
        assert result.losses.shape == (4, steps // record_every + 1)
        assert result.recorded_steps.tolist() == list(range(0, steps + 1, record_every))
        assert result.final_params.w.shape == (4,) and result.first_nonfinite_step.shape == (4,)
        _assert_matches_train(result, init, *SHIPMENTS)


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
    _assert_matches_train(result, init, *ONE_SHIPMENT, exact_tail=(method == "autodiff"))


def test_divergence_in_float32_is_recorded():
    result = ft.sweep_learning_rates(ft.LinearParams(1.0, 0.0), *ONE_SHIPMENT, [0.1, 1.0],
                                     steps=200)
    assert result.losses.dtype == np.float32
    assert result.first_nonfinite_step[0] == -1
    traj = ft.train(ft.LinearParams(1.0, 0.0), *ONE_SHIPMENT, optimizer=1.0, steps=200)
    assert result.first_nonfinite_step[1] == traj.first_nonfinite_step


@pytest.mark.parametrize("record_every", [1, 2])
def test_minibatch_sweep_sees_a_full_loss_that_overflows_at_a_record(record_every):
    # float32: 0.5 * (1e20)^2 overflows, but the batch (example 0) stays finite throughout.
    x, y = np.float32([1.0, 1e20]), np.float32([0.0, 0.0])
    init = ft.LinearParams(np.float32(1.0), np.float32(0.0))
    result = ft.sweep_learning_rates(init, x, y, [0.1], steps=3, batch_indices=[[0]] * 3,
                                     record_every=record_every)
    traj = ft.train(init, x, y, optimizer=0.1, steps=3, batch_indices=[[0]] * 3)
    assert not np.isfinite(result.losses).any()
    assert traj.first_nonfinite_step == 0
    assert result.first_nonfinite_step.tolist() == [0]


def test_minibatch_overflow_between_records_is_seen_at_the_next_record(x64):
    # The full loss overflows from step 1 on (w grows on example 0 only); with K = 2 the
    # sweep sees it at step 2, the first record after it, while train sees every step.
    x, y = np.array([1.0, 1e160]), np.array([0.0, 0.0])
    init = ft.LinearParams(1e-10, 0.0)
    order = [[0]] * 4
    traj = ft.train(init, x, y, optimizer=1e10, steps=4, batch_indices=order)
    assert np.isfinite(traj.train_loss[0]) and not np.isfinite(traj.train_loss[1])
    assert np.isfinite(traj.batch_loss).all()
    result = ft.sweep_learning_rates(init, x, y, [1e10], steps=4, batch_indices=order,
                                     record_every=2)
    assert traj.first_nonfinite_step == 1 and result.first_nonfinite_step.tolist() == [2]
    _assert_matches_train(result, init, x, y, batch_indices=order)


@pytest.mark.parametrize("method", ["moments", "autodiff"])
def test_final_loss_is_the_loss_at_the_last_step(x64, method):
    # S = 7, K = 3: records at 0, 3, 6; final_loss is at step 7 (not 6), as train's last.
    init = ft.LinearParams(0.0, 0.0)
    result = ft.sweep_learning_rates(init, *SHIPMENTS, [0.02, 0.1], steps=7, record_every=3,
                                     method=method)
    for i, rate in enumerate(result.learning_rates):
        traj = ft.train(init, *SHIPMENTS, optimizer=float(rate), steps=7)
        assert abs(result.final_loss[i] - traj.train_loss[6]) > 1e-6  # the old value: not it
        np.testing.assert_allclose(result.final_loss[i], traj.train_loss[7], rtol=TOL64,
                                   atol=TOL64)


@pytest.mark.parametrize("seed", range(6))
def test_moments_path_equals_autodiff_path(x64, seed):
    x, y = _random_data(seed, n=5 + 20 * seed)
    limit = ft.stability_limit(x, y)
    rates = limit * np.array([0.01, 0.3, 0.9, 0.999, 1.001, 1.2, 3.0])
    init = ft.LinearParams(0.7, -0.4)
    steps = 400
    a = ft.sweep_learning_rates(init, x, y, rates, steps=steps, method="moments")
    b = ft.sweep_learning_rates(init, x, y, rates, steps=steps, method="autodiff")
    np.testing.assert_array_equal(a.first_nonfinite_step, b.first_nonfinite_step)
    for i in range(rates.size):
        stop = a.first_nonfinite_step[i]
        np.testing.assert_allclose(_finite_prefix(a.losses[i], stop),
                                   _finite_prefix(b.losses[i], stop), rtol=TOL64, atol=TOL64)
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


def test_progress_runs_in_chunks_of_one_compiled_program(x64, caplog):
    init = ft.LinearParams(0.0, 0.0)
    rates = np.linspace(0.01, 0.3, 6)
    # Shapes not used by any other test, so the first call here compiles.
    plain = ft.sweep_learning_rates(init, *SHIPMENTS, rates, steps=1003, record_every=4)
    calls = []
    with caplog.at_level(logging.WARNING), jax.log_compiles(True):
        chunked = ft.sweep_learning_rates(init, *SHIPMENTS, rates, steps=1003, record_every=4,
                                          progress=lambda done, total: calls.append((done, total)))
    compiles = [r.getMessage() for r in caplog.records if "Compiling jit(" in r.getMessage()]
    assert not any("_sweep_program" in m for m in compiles), compiles  # reused, not recompiled
    assert calls[-1] == (1003, 1003)
    assert len(calls) == 100  # 250 records in 100 chunks; the last one finishes the run
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    np.testing.assert_array_equal(chunked.losses, plain.losses)
    np.testing.assert_array_equal(chunked.final_params.w, plain.final_params.w)
    assert chunked.compile_seconds >= 0 and chunked.run_seconds > 0


_SHARDED_SCRIPT = textwrap.dedent(
    """
    import json, jax, numpy as np
    import functional_training as ft

    assert len(jax.devices()) == 4, jax.devices()
    data = ft.synthetic_shipments(40, seed=2)
    order = ft.minibatch_indices(40, batch_size=8, steps=30, seed=2)
    rates = np.geomspace(1e-3, 0.5, 10)  # 10 rates over 4 devices: padded to 12, trimmed
    report = {}
    with ft.float64():
        init = ft.LinearParams(0.0, 0.0)
        for label, kwargs in [("moments", {}), ("autodiff", {"method": "autodiff"}),
                              ("minibatch", {"batch_indices": order}),
                              ("adam", {"optimizer": "adam"})]:
            many = ft.sweep_learning_rates(init, data.x, data.y, rates, steps=30,
                                           record_every=3, **kwargs)
            one = ft.sweep_learning_rates(init, data.x, data.y, rates, steps=30,
                                          record_every=3, devices=jax.devices()[:1], **kwargs)
            report[label] = {
                "devices": [len(many.devices), len(one.devices)],
                "shapes": [many.losses.shape, one.losses.shape],
                "losses": np.nan_to_num(np.abs(many.losses - one.losses)).max().item(),
                "w": np.abs(many.final_params.w - one.final_params.w).max().item(),
                "first": (many.first_nonfinite_step == one.first_nonfinite_step).all().item(),
                "scale": np.abs(one.losses).max().item(),
            }
    print(json.dumps(report))
    """
)


@pytest.mark.slow
def test_sharded_sweep_on_four_devices_equals_one_device():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
           "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", _SHARDED_SCRIPT], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    for label, row in report.items():
        assert row["devices"] == [4, 1], label
        assert row["shapes"] == [[10, 11], [10, 11]], label
        assert row["first"], label
        # Same per-rate arithmetic on each device; 1e-12 relative to the largest loss.
        assert row["losses"] <= TOL64 * max(1.0, row["scale"]), (label, row)
        assert row["w"] <= TOL64, (label, row)
