"""Every core of a CPU at work: one JAX CPU device per core, so a sweep splits its runs.

One XLA:CPU device uses the cores only partly for a sweep's loop body (on the
2-core machine of benchmarks/README.md, size (f), a device per core is 1.8x faster
than one device), and a sweep splits its runs over the devices it is given
(``devices=None``: :func:`functional_training._sweep_program.default_devices`,
where splitting pays; :mod:`functional_training._sweep_sharding`), each device stepping its own runs
(:mod:`functional_training._sweep_program`). One JAX CPU device per core therefore
puts every core to work on a sweep; everything else (``train``, the comparisons'
checks) runs on the default device, ``jax.devices()[0]``, as with one device.

JAX makes its CPU devices once, when its backend starts (the first array, jitted
call or ``jax.devices()``), so the count is set before that, through JAX's own
option ``jax_num_cpu_devices``:

- :func:`use_all_cores`: the one line for a Python program, right after the imports;
- :func:`default_to_all_cores`: what ``python -m functional_training`` and
  ``python -m comparisons`` (and their console scripts) do at start-up, unless the
  user chose a count: ``XLA_FLAGS`` with :data:`HOST_DEVICE_FLAG`, or
  ``JAX_NUM_CPU_DEVICES`` / ``jax.config.update("jax_num_cpu_devices", n)``.

Importing this package changes no setting.

Example:
  >>> user_chose_cpu_devices({"XLA_FLAGS": "--xla_force_host_platform_device_count=4"})
  True
  >>> user_chose_cpu_devices({"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"})
  False
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import jax

HOST_DEVICE_FLAG = "--xla_force_host_platform_device_count"
"""The XLA flag that sets the number of CPU devices (a user's own choice; never overridden)."""

_OPTION = "jax_num_cpu_devices"
"""JAX's option for the number of CPU devices (-1: not set, XLA's flag or 1 decides)."""


def cpu_cores() -> int:
    """The cores this process may run on (its CPU affinity; ``os.cpu_count()`` without one).

    Example:
      >>> cpu_cores() >= 1
      True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on this platform (macOS, Windows)
        return os.cpu_count() or 1


def use_all_cores(cores: int | None = None) -> int:
    """Give JAX one CPU device per core, so that :func:`functional_training.sweep` uses them all.

    Call it once, right after the imports and before anything JAX computes::

        import functional_training as ft
        ft.use_all_cores()

    A sweep with ``devices=None`` then splits its runs over the devices where that
    pays (:func:`functional_training._sweep_program.default_devices`), each device
    stepping its own runs with the same per-run arithmetic: the results equal one
    device's to rounding (bit for bit where each device's run groups have one
    device's width). Everything else runs on ``jax.devices()[0]``.
    On a GPU or TPU this changes only the host's CPU devices, which JAX does not use
    by default. This sets JAX's option ``jax_num_cpu_devices``, which wins over
    ``XLA_FLAGS=--xla_force_host_platform_device_count``.

    Args:
      cores: how many CPU devices; default :func:`cpu_cores`.

    Returns:
      The number of CPU devices JAX will make.

    Raises:
      RuntimeError: JAX's backend has already started with another number of CPU
        devices (one line: call it earlier).
      ValueError: ``cores`` is not an integer >= 1.
    """
    count = cpu_cores() if cores is None else cores
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"cores must be an integer >= 1, got {cores!r}")
    try:
        jax.config.update(_OPTION, count)
    except RuntimeError:
        raise RuntimeError(
            f"use_all_cores() came after JAX started (with {len(jax.devices('cpu'))} CPU "
            "device(s)): call it right after the imports, before any JAX array, jitted call "
            "or jax.devices()") from None
    return count


def user_chose_cpu_devices(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the user set the number of CPU devices: ``XLA_FLAGS`` or ``jax_num_cpu_devices``.

    ``environ`` defaults to ``os.environ``; JAX reads ``JAX_NUM_CPU_DEVICES`` into its
    option when it is imported.
    """
    environ = os.environ if environ is None else environ
    flags = environ.get("XLA_FLAGS", "")
    return HOST_DEVICE_FLAG in flags or getattr(jax.config, _OPTION) != -1


def default_to_all_cores() -> int | None:
    """The command lines' start-up: :func:`use_all_cores` unless the user chose, or JAX started.

    Returns:
      The number of CPU devices set, or ``None`` where nothing was changed: the
      user's own count stands (:func:`user_chose_cpu_devices`), or JAX's backend had
      already started (a program that imported the command line and computed first).
    """
    if user_chose_cpu_devices():
        return None
    try:
        return use_all_cores()
    except RuntimeError:
        return None
