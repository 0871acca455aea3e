"""Where a sweep's arrays live: the run axis split over devices, the data replicated.

With ``D`` devices the sweep's ``R`` runs (rates x seeds) are padded to a multiple
of ``D`` (by repeating the last run; the padding is trimmed from the result) and
every per-run array is split along its run axis over a one-axis
``jax.sharding.Mesh`` (axis :data:`MESH_AXIS`) with
``NamedSharding(mesh, PartitionSpec("rates"))``; the record buffer, shape
``(records + 1, R)``, is split along its second axis. The data (or the moments of
the exact path) is replicated on every device. Each run's arithmetic is the same
on any device, so a sharded sweep equals the one-device sweep.

Arrays are placed with ``jax.make_array_from_callback``: each process fills only
its own devices, so the same code runs on several hosts.

Example:
  >>> import jax
  >>> devices, sharding = mesh([jax.devices()[0]])
  >>> len(devices), sharding is None
  (1, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

MESH_AXIS = "rates"
"""Name of the mesh axis the run axis is split over."""


def mesh(devices: Sequence[jax.Device] | None) -> tuple[tuple, NamedSharding | None]:
    """The devices and, for several, the sharding of the run axis over a one-axis mesh."""
    device_list = tuple(jax.devices() if devices is None else devices)
    if not device_list:
        raise ValueError("devices must name at least one device")
    if len(device_list) == 1:
        return device_list, None
    return device_list, NamedSharding(Mesh(np.array(device_list), (MESH_AXIS,)),
                                      PartitionSpec(MESH_AXIS))


def padded_runs(runs: int, devices: int) -> int:
    """``runs`` rounded up to a multiple of ``devices``.

    Example:
      >>> padded_runs(10, 4)
      12
    """
    return -(-runs // devices) * devices


def state_shardings(state, sharding: NamedSharding):
    """The run axis split over the mesh: axis 0 of every leaf, axis 1 of ``losses``."""
    by_run = jax.tree.map(lambda _: sharding, state._replace(losses=None))
    return by_run._replace(losses=NamedSharding(sharding.mesh, PartitionSpec(None, MESH_AXIS)))


def constrain(state, sharding: NamedSharding | None):
    """``state`` constrained to :func:`state_shardings` inside a compiled program."""
    if sharding is None:
        return state
    return jax.lax.with_sharding_constraint(state, state_shardings(state, sharding))


def place_state(state, sharding: NamedSharding | None, device):
    """The host state on the devices: split by run, or on ``device`` alone."""
    if sharding is None:
        return jax.device_put(state, device)
    return jax.tree.map(
        lambda a, s: jax.make_array_from_callback(a.shape, s, lambda index, a=a: a[index]),
        state,
        state_shardings(state, sharding),
    )


def replicate(data: tuple, sharding: NamedSharding | None, device) -> tuple:
    """The host arrays ``data`` on every device of the mesh (or on ``device`` alone)."""
    if sharding is None:
        return jax.device_put(data, device)
    replicated = NamedSharding(sharding.mesh, PartitionSpec())
    return tuple(
        jax.make_array_from_callback(a.shape, replicated, lambda index, a=a: a[index])
        for a in data
    )


def to_host(state):
    """Every leaf as one host NumPy array (gathered from every process where needed)."""
    def fetch(a):
        if a.is_fully_addressable:
            return np.asarray(a)
        return np.asarray(multihost_utils.process_allgather(a, tiled=True))

    return jax.tree.map(fetch, state)
