"""The run axis split over devices: a sharded sweep equals the one-device sweep.

Also over processes: two JAX processes joined by ``jax.distributed.initialize`` (CPU
collectives) give the one-process result bit for bit.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax
import multihost_sweep
import numpy as np
import pytest
from sweep_checks import TOL64

import functional_training as ft
from functional_training._sweep_sharding import mesh, padded_runs

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
                                           record_every=3, devices=jax.devices(), **kwargs)
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
        # a network over rates x seeds: 5 x 2 = 10 runs over 4 devices, padded to 12
        x, labels = ft.two_moons(24, noise=0.2, seed=1)
        net = ft.objective("mlp", loss="hinge", sizes=(2, 4, 1), activation="tanh")
        runs = [ft.sweep(net, (x, labels), learning_rates=rates[::2], seeds=[0, 1], steps=30,
                         record_every=3, batch_size=6, devices=devices)
                for devices in (jax.devices(), jax.devices()[:1])]
        many, one = runs
        report["mlp"] = {
            "devices": [len(many.devices), len(one.devices)],
            "shapes": [many.losses.shape, one.losses.shape],
            "losses": np.nan_to_num(np.abs(many.losses - one.losses)).max().item(),
            "w": max(np.abs(a - b).max().item() for a, b in zip(
                jax.tree.leaves(many.final_params), jax.tree.leaves(one.final_params))),
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
        shape = [5, 2, 11] if label == "mlp" else [10, 11]
        assert row["shapes"] == [shape, shape], label
        assert row["first"], label
        # Same per-rate arithmetic on each device; 1e-12 relative to the largest loss.
        assert row["losses"] <= TOL64 * max(1.0, row["scale"]), (label, row)
        assert row["w"] <= TOL64, (label, row)


def test_padding_and_the_one_device_mesh():
    assert [padded_runs(runs, 4) for runs in (1, 4, 10, 12)] == [4, 4, 12, 12]
    devices, sharding = mesh(jax.devices()[:1])
    assert len(devices) == 1 and sharding is None  # one device: no mesh, no padding
    with pytest.raises(ValueError, match="devices must name at least one device"):
        mesh([])
    with pytest.raises(ValueError, match="at least one device"):
        ft.sweep_learning_rates(ft.LinearParams(0.0, 0.0), [2.0], [6.0], [0.1], steps=1,
                                devices=[])


# ------------------------------------------------------------------ several processes

MULTIHOST_TIMEOUT_S = 240
"""Wall-clock limit for the three processes together (each takes about 4 s of CPU, most
of it importing JAX and compiling; the machine may be loaded)."""


def _free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_together(commands: dict[str, list[str]], logs: Path) -> str | None:
    """Start every command at once and wait for all; on the first failure or at
    :data:`MULTIHOST_TIMEOUT_S` kill the rest. ``None`` when every one exited 0, else
    a report with every process's exit status and stderr."""
    env = {key: value for key, value in os.environ.items() if key != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    processes = {}
    deadline = time.monotonic() + MULTIHOST_TIMEOUT_S
    try:
        for name, command in commands.items():
            with open(logs / f"{name}.stderr", "w") as stderr:
                processes[name] = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                                   stderr=stderr, env=env)
        while any(process.poll() is None for process in processes.values()):
            if time.monotonic() > deadline or any(process.poll() not in (None, 0)
                                                  for process in processes.values()):
                break
            time.sleep(0.05)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
            process.wait()
    report = "\n".join(
        f"--- {name}: exit {process.returncode}; stderr:\n"
        f"{(logs / f'{name}.stderr').read_text()[-3000:]}" for name, process in processes.items())
    if all(process.returncode == 0 for process in processes.values()):
        return None
    late = " (out of time)" if time.monotonic() > deadline else ""
    return (f"not every process exited 0 within {MULTIHOST_TIMEOUT_S} s{late}; exit -9: "
            f"killed by this test after another failed or at the limit\n{report}")


@pytest.mark.slow
def test_two_processes_sweep_equals_one_process_bit_for_bit(tmp_path):
    helper = Path(multihost_sweep.__file__)
    two = [tmp_path / f"process{rank}.npz" for rank in range(2)]
    one = tmp_path / "one_process.npz"
    for _ in range(2):  # once more only if the port was taken before the coordinator bound it
        port = str(_free_port())
        failure = _run_together({
            **{f"process{rank}": [sys.executable, str(helper), str(out), "--processes", "2",
                                  "--process-id", str(rank), "--port", port]
               for rank, out in enumerate(two)},
            "one-process": [sys.executable, str(helper), str(one), "--devices", "2"],
        }, tmp_path)
        if failure is None or "Failed to add port" not in failure:
            break
    assert failure is None, failure
    reference = dict(np.load(one))
    assert reference["mlp_losses"].shape == (5, 3, 11)
    assert reference["line_first_nonfinite_step"].tolist() == [-1] * 5 + [28, 22]
    for out in two:
        got = dict(np.load(out))
        # Data that differ between processes are refused on both, naming the one that differs.
        assert str(got.pop("refusal")) == (
            "the data (x, y or the batch order) differ between processes: process(es) 1 hold "
            "other values than process 0; every process must call the sweep with the same "
            "arguments")
        # The sweeps really spanned both processes, one device each; the reference's, one.
        for sweep in ("mlp", "line"):
            assert got.pop(f"{sweep}_device_processes").tolist() == [0, 1]
            assert reference[f"{sweep}_device_processes"].tolist() == [0, 0]
        assert got.keys() == reference.keys() - {"mlp_device_processes",
                                                 "line_device_processes"}
        for name, value in got.items():
            # Bit for bit: every process holds the whole result, the same 2-shard
            # layout as one process with two devices, so the same compiled arithmetic.
            np.testing.assert_array_equal(value, reference[name], err_msg=name)
            assert value.dtype == reference[name].dtype and (
                value.tobytes() == reference[name].tobytes()), name  # NaN and -0.0 too
