"""One JAX process of the multi-host sweep test: start JAX, run two sweeps, save the results.

Started by ``tests/test_functional_training/test_sweep_sharding.py``; by hand, from the
repository root (``docs/accelerators.md``, "Sweeps that outgrow one machine", quotes these)::

    python tests/multihost_sweep.py p0.npz --processes 2 --process-id 0 --port 12355 &
    python tests/multihost_sweep.py p1.npz --processes 2 --process-id 1 --port 12355
    python tests/multihost_sweep.py one.npz --devices 2     # one process, two devices

With ``--processes 2`` each process calls ``jax.distributed.initialize`` (CPU
collectives: gloo, over TCP within this machine) with ``--devices`` local CPU devices, so
``jax.devices()`` lists the devices of both processes and the sweeps split their runs
over all of them. Every process calls the sweeps with the same arguments and saves
what it got: the full result of every sweep (:func:`sweep_results`); with several
processes, also the message of a sweep refused because each process passed other
data (:func:`refusal`).
"""

from __future__ import annotations

import argparse
import sys

import jax
import numpy as np

import functional_training as ft

INITIALIZATION_TIMEOUT_S = 60
"""How long a process waits for the others to join (JAX's default is 300 s)."""


def sweep_results(devices=None) -> dict[str, np.ndarray]:
    """Every array of two sweeps over ``devices`` (``None``: the sweep's own choice).

    - ``mlp_*``: a 2-4-1 tanh network (hinge loss) on 24 points of two moons, 5 rates
      x 3 seeds = 15 runs (padded to 16 on 2 devices), mini-batches of 6, float32,
      SGD, 40 steps, a record every 4;
    - ``line_*``: the lesson's line on 40 shipments, 7 rates (padded to 8) of which the
      two largest overflow, full batch (the exact moments path), float64, 30 steps.

    ``*_device_processes`` is the process of each device the sweep split its runs over.
    """
    x, labels = ft.two_moons(24, noise=0.2, seed=1)
    net = ft.objective("mlp", loss="hinge", sizes=(2, 4, 1), activation="tanh")
    mlp = ft.sweep(net, (x, labels), learning_rates=np.geomspace(1e-3, 0.3, 5),
                   seeds=[0, 1, 2], steps=40, record_every=4,
                   batch_size=6, devices=devices)
    data = ft.synthetic_shipments(40, seed=2)
    with ft.float64():
        line = ft.sweep_learning_rates(ft.LinearParams(0.0, 0.0), data.x, data.y,
                                       np.geomspace(1e-3, 1e6, 7), steps=30,
                                       record_every=3, devices=devices)
    results = {}
    for name, result in (("mlp", mlp), ("line", line)):
        results[f"{name}_losses"] = result.losses
        results[f"{name}_final_loss"] = result.final_loss
        results[f"{name}_first_nonfinite_step"] = result.first_nonfinite_step
        results[f"{name}_device_processes"] = np.array([d.process_index for d in result.devices])
        for path, leaf in jax.tree_util.tree_leaves_with_path(result.final_params):
            results[f"{name}_params{jax.tree_util.keystr(path)}"] = leaf
    return results


def refusal() -> str:
    """The message of a sweep whose data differ between processes (``""``: not refused)."""
    data = ft.synthetic_shipments(8, seed=2)
    try:
        ft.sweep_learning_rates(ft.LinearParams(0.0, 0.0), data.x + jax.process_index(), data.y,
                                [0.01, 0.1], steps=2)
    except ValueError as error:
        return str(error)
    return ""


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the .npz file this process writes")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--process-id", type=int, default=0)
    parser.add_argument("--port", type=int, help="the coordinator's port on 127.0.0.1")
    parser.add_argument("--devices", type=int, default=1, help="CPU devices of this process")
    args = parser.parse_args(argv)
    # Configuration belongs to the program, before JAX starts: never to the library.
    jax.config.update("jax_platforms", "cpu")
    jax.config.update("jax_num_cpu_devices", args.devices)
    if args.processes > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        # The coordinator listens on the loopback interface only (JAX's default: every one).
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{args.port}",
                                   coordinator_bind_address=f"127.0.0.1:{args.port}",
                                   num_processes=args.processes, process_id=args.process_id,
                                   initialization_timeout=INITIALIZATION_TIMEOUT_S)
    expected = (args.processes * args.devices, args.devices)
    seen = (len(jax.devices()), len(jax.local_devices()))
    if seen != expected:
        sys.exit(f"expected (global, local) devices {expected}, JAX sees {seen}")
    # every device, named: on one process's CPU devices a sweep this small would stay on
    # one device by default (functional_training._sweep_program.default_devices)
    results = sweep_results(jax.devices())
    if args.processes > 1:
        results["refusal"] = np.array(refusal())
    np.savez(args.out, **results)


if __name__ == "__main__":
    main(sys.argv[1:])
