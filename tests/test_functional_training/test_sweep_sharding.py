"""The run axis split over devices: a sharded sweep equals the one-device sweep.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import jax
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
