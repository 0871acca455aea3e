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
its own devices from its own copy of the inputs, so the same code runs on several
hosts (one JAX process each, joined by ``jax.distributed.initialize``; the caller
starts them, this module never does). Every process must then pass the same inputs:
where the mesh spans several processes, :func:`check_same_on_every_process` compares
a digest of the data and of the runs' starting state across them first, and refuses
a sweep whose processes differ (otherwise each host's runs would silently train on
its own data). :func:`to_host` gathers the results to every process.

Example:
  >>> import jax
  >>> devices, sharding = mesh([jax.devices()[0]])
  >>> len(devices), sharding is None
  (1, True)
"""

from __future__ import annotations

import hashlib
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
    """The host state on the devices: split by run, or on ``device`` alone.

    Raises ValueError where processes hold different starting states (rates, initial
    parameters; :func:`check_same_on_every_process`).
    """
    if sharding is None:
        return jax.device_put(state, device)
    # The record buffer starts as zeros of the shape every process computed: its shape only.
    check_same_on_every_process(
        (jax.tree.leaves(state._replace(losses=None)), state.losses.shape), sharding,
        "the runs' learning rates, seeds, initial parameters or record count")
    return jax.tree.map(
        lambda a, s: jax.make_array_from_callback(a.shape, s, lambda index, a=a: a[index]),
        state,
        state_shardings(state, sharding),
    )


def replicate(data: tuple, sharding: NamedSharding | None, device) -> tuple:
    """The host arrays ``data`` on every device of the mesh (or on ``device`` alone).

    Raises ValueError where processes hold different data
    (:func:`check_same_on_every_process`).
    """
    if sharding is None:
        return jax.device_put(data, device)
    check_same_on_every_process(data, sharding, "the data (x, y or the batch order)")
    replicated = NamedSharding(sharding.mesh, PartitionSpec())
    return tuple(
        jax.make_array_from_callback(a.shape, replicated, lambda index, a=a: a[index])
        for a in data
    )


def check_same_on_every_process(tree, sharding: NamedSharding, what: str) -> None:
    """Refuse ``tree`` (host arrays and shapes) unless every process of the mesh holds the same.

    Each process hashes its own ``tree`` (SHA-256 of every leaf's dtype, shape and
    bytes: about 0.4 GiB/s on one core of a loaded 2-core machine, a second or two per
    GiB of data); one 16-byte digest row per mesh device is gathered to every process
    (``process_allgather``: one small collective, over the mesh's processes only).
    A mesh within one process returns at once.

    Raises:
      ValueError: one line naming ``what`` and the processes that differ from the
        first; every process raises it, so none waits on the others.

    Example:
      >>> one = NamedSharding(Mesh(np.array(jax.devices()[:1]), (MESH_AXIS,)),
      ...                     PartitionSpec(MESH_AXIS))
      >>> check_same_on_every_process(([1.0, 2.0],), one, "the data")  # one process: no-op
    """
    if sharding.is_fully_addressable:
        return
    digest = np.frombuffer(_digest(tree), np.uint8)
    rows = (sharding.mesh.devices.size, digest.size)
    stacked = jax.make_array_from_callback(
        rows, NamedSharding(sharding.mesh, PartitionSpec(MESH_AXIS)),
        lambda index: np.broadcast_to(digest, rows)[index])
    gathered = np.asarray(multihost_utils.process_allgather(stacked, tiled=True))
    processes = [device.process_index for device in sharding.mesh.devices.flat]
    differ = sorted({process for process, row in zip(processes, gathered, strict=True)
                     if not np.array_equal(row, gathered[0])})
    if differ:
        raise ValueError(
            f"{what} differ between processes: process(es) {', '.join(map(str, differ))} "
            f"hold other values than process {processes[0]}; every process must call the "
            "sweep with the same arguments")


def _digest(tree) -> bytes:
    """16 bytes of the SHA-256 of every leaf of ``tree``: its dtype, shape and bytes.

    (SHA-256 rather than BLAKE2b: CPUs hash it in hardware; 2x faster measured here.)
    """
    hasher = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        array = np.ascontiguousarray(leaf)
        hasher.update(f"{array.dtype.str}{array.shape};".encode())
        hasher.update(array.reshape(-1).view(np.uint8))
    return hasher.digest()[:16]


def to_host(state):
    """Every leaf as one host NumPy array (gathered from every process where needed)."""
    def fetch(a):
        if a.is_fully_addressable:
            return np.asarray(a)
        return np.asarray(multihost_utils.process_allgather(a, tiled=True))

    return jax.tree.map(fetch, state)
