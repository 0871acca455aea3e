"""The sweep's compiled program: records, the final loss, divergence between records,
chunks of one program, and run groups.
"""

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
from sweep_checks import SHIPMENTS, TOL64, assert_matches_train

import functional_training as ft
from functional_training import _sweep_program


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
        assert_matches_train(result, init, *SHIPMENTS)


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
    assert_matches_train(result, init, x, y, batch_indices=order)


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


def test_widest_activation_reads_the_kind_s_leaf_shapes():
    widest = _sweep_program.widest_activation
    assert widest(ft.objective("mlp", sizes=[2, 16, 8, 1], activation="tanh")) == 16
    assert widest(ft.objective("mlp", sizes=[64, 4, 1], activation="relu")) == 64
    assert widest(ft.objective("linear", features=5)) == 0  # no weight matrix: no groups


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="run groups are for one CPU device")
def test_run_groups_step_the_same_runs(monkeypatch):
    # 16 runs of a 2-8-1 network on 40 examples: one run's widest activation is 40 x 8 x 8
    # bytes; a target of 4 such arrays makes groups of 4 runs (lax.map over 4 groups).
    # Runs are independent, so grouped and all-at-once agree run for run; 1e-12 in float64
    # allows the order of a vectorised sum to differ.
    x, y = ft.two_moons(40, noise=0.2, seed=1)
    net = ft.objective("mlp", loss="hinge", sizes=(2, 8, 1), activation="tanh")
    groups = []
    real = _sweep_program.run_group

    def spy(*args):
        groups.append(real(*args))
        return groups[-1]

    monkeypatch.setattr(_sweep_program, "run_group", spy)
    results = []
    with ft.float64():
        for target in (2**62, 4 * 40 * 8 * 8):
            monkeypatch.setattr(_sweep_program, "RUN_GROUP_BYTES", target)
            results.append(ft.sweep(net, (x, y), learning_rates=[0.01, 0.1, 0.5, 1.0],
                                    seeds=[0, 1, 2, 3], steps=6, record_every=2,
                                    devices=jax.devices()[:1]))
    assert groups == [0, 4]
    whole, grouped = results
    np.testing.assert_allclose(grouped.losses, whole.losses, rtol=1e-12, atol=1e-12)
    for a, b in zip(jax.tree.leaves(grouped.final_params), jax.tree.leaves(whole.final_params),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_a_per_run_weight_decay_of_zero_adds_no_zero_times_theta():
    # A swept weight decay is traced (one program for every value); lam = 0 must leave the
    # update as plain SGD's, -lr g, also where theta is infinite (0 * inf would be NaN),
    # and lam > 0 must be torch's coupled decay, -lr (g + lam theta).
    opt = _sweep_program.injected_optimizer("sgd", (("weight_decay", None),))
    params = np.array([np.inf, 2.0])
    grads = np.array([1.0, 1.0])
    for decay, expected in ((0.0, [-0.5, -0.5]), (0.25, [-np.inf, -0.5 * (1 + 0.25 * 2.0)])):
        state = opt.init(params)
        state = state._replace(hyperparams={**state.hyperparams, "learning_rate": 0.5,
                                            "weight_decay": decay})
        updates, _ = opt.update(grads, state, params)
        np.testing.assert_array_equal(np.asarray(updates), expected)
_SPLIT_THEN_GROUP = textwrap.dedent(
    """
    import json, jax, numpy as np
    import functional_training as ft
    from functional_training import _sweep_program

    assert ft.use_all_cores(2) == 2 and len(jax.devices()) == 2, jax.devices()
    groups = []
    real = _sweep_program.run_group
    def spy(*args):
        groups.append(real(*args))
        return groups[-1]
    _sweep_program.run_group = spy
    x, y = ft.two_moons(40, noise=0.2, seed=1)
    net = ft.objective("mlp", loss="hinge", sizes=(2, 8, 1), activation="tanh")
    report = {}
    for dtype, itemsize, huge in (("float32", 4, 1e38),):
        _sweep_program.RUN_GROUP_BYTES = 2 * 40 * 8 * itemsize  # groups of 2 runs
        with ft.precision(dtype):
            many, one = [ft.sweep(net, (x, y), learning_rates=[0.01, 0.1, 0.5, 1.0, huge],
                                  seeds=[0, 1, 2, 3], steps=6, record_every=2, devices=devices)
                         for devices in (jax.devices(), jax.devices()[:1])]
        report[dtype] = {
            "devices": [len(many.devices), len(one.devices)],
            "losses": bool(np.array_equal(many.losses, one.losses, equal_nan=True)),
            "params": all(np.array_equal(a, b, equal_nan=True) for a, b in zip(
                jax.tree.leaves(many.final_params), jax.tree.leaves(one.final_params))),
            "first": many.first_nonfinite_step.tolist() == one.first_nonfinite_step.tolist(),
            "diverged": int((one.first_nonfinite_step >= 0).sum()),
        }
    report["groups"] = groups
    big = ft.objective("mlp", loss="hinge", sizes=[2, 16, 16, 1], activation="tanh")
    line = ft.objective("linear", features=1)
    report["default"] = [len(_sweep_program.default_devices(method, model, **size)) for
                         method, model, size in [
        ("autodiff", big, dict(runs=512, steps=500, batch=1000)),  # size (f): split
        ("autodiff", big, dict(runs=1, steps=500, batch=1000)),  # one run: no duplicate
        ("autodiff", net, dict(runs=20, steps=6, batch=40)),  # too little work
        ("moments", line, dict(runs=10_000, steps=1_000, batch=3)),  # O(1) steps
        ("autodiff", line, dict(runs=64, steps=200, batch=100_000)),  # (c) on autodiff
    ]]
    print(json.dumps(report))
    """
)


def test_split_runs_are_grouped_on_each_device_and_equal_one_device():
    # Two CPU devices (ft.use_all_cores(2) in a fresh process): 20 runs split 10 a device,
    # each device steps groups of 2 (shard_map of the one-device program), as one device
    # steps its 20 runs in groups of 2. Each run meets the same arithmetic in a group of
    # the same width, so the results are equal bit for bit in float32 (the command line's
    # precision), divergent runs included (the rate 1e38 overflows). (At different widths
    # they agree to rounding only: test_sweep_sharding.py checks that case to 1e-12.)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    out = subprocess.run([sys.executable, "-c", _SPLIT_THEN_GROUP], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["groups"] == [2, 2]  # per device: 10 runs in groups of 2; one: 20
    for dtype in ("float32",):
        row = report[dtype]
        assert row["devices"] == [2, 1] and row["diverged"] > 0, (dtype, row)
        assert row["losses"] and row["params"] and row["first"], (dtype, row)
    assert report["default"] == [2, 1, 1, 1, 2]
