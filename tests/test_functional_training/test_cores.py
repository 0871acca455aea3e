"""One JAX CPU device per core: the API's one line, and the command lines' default."""

from __future__ import annotations

import os

import jax
import pytest
from cli_helpers import run_module

import functional_training as ft
from functional_training._cores import HOST_DEVICE_FLAG, user_chose_cpu_devices


def _listed_devices(out: str) -> int:
    """The device lines of ``python -m functional_training devices`` ("0: cpu cpu ...")."""
    return sum(line.split(":")[0].isdigit() for line in out.splitlines())


def test_use_all_cores_after_jax_started_says_so_in_one_line():
    jax.devices()  # this process's backend is up (never flip the test process's devices)
    with pytest.raises(RuntimeError, match=r"^use_all_cores\(\) came after JAX started .*"
                                           r"before any JAX array") as refused:
        ft.use_all_cores(len(jax.devices("cpu")) + 1)
    assert "\n" not in str(refused.value)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="cores must be an integer >= 1"):
            ft.use_all_cores(bad)


def test_a_users_own_count_is_seen():
    assert user_chose_cpu_devices({"XLA_FLAGS": f"--foo {HOST_DEVICE_FLAG}=4"})
    # nothing set in the environment, and this test process never sets jax_num_cpu_devices
    assert not user_chose_cpu_devices({"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"})
    assert not user_chose_cpu_devices({})


@pytest.mark.parametrize(("env", "expected"), [
    ({}, len(os.sched_getaffinity(0))),  # the default: one device per core this process may use
    ({"XLA_FLAGS": f"{HOST_DEVICE_FLAG}=3"}, 3),  # the user's flag stands
    ({"JAX_NUM_CPU_DEVICES": "1"}, 1),  # and JAX's own option
])
def test_the_command_line_gives_jax_one_device_per_core(env, expected):
    out = run_module("functional_training", "devices", env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert _listed_devices(out.stdout) == expected, out.stdout
