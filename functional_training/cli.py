"""Command line for functional_training.

Examples:
  python -m functional_training            # the lesson's first update, and the device that ran it
  python -m functional_training demo
  python -m functional_training devices    # what JAX sees
  python -m functional_training sweep --learning-rates 0.01:0.5:50 --steps 100
  python -m functional_training train --data shipments --optimizer sgd --learning-rate 0.08 \\
      --steps 20 --manifest run.json
  python -m functional_training rerun run.json
  python -m functional_training --help

Each subcommand beyond demo/devices lives in its own module of
``functional_training.runs`` and is only registered here (sweep: ``_sweep_cli``,
train: ``_train_cli``, rerun: ``_rerun``, which reruns any tool's manifest,
``comparisons`` ones included). The parser and error handling are
``functional_training.runs``' command-line machinery, shared with ``python -m comparisons``.

Exit codes: 0 success, 1 a failed check, 2 bad usage or bad input (one line, no
traceback), 130 interrupted with Ctrl-C (one line).
"""

from __future__ import annotations

import argparse
import sys

import jax

from functional_training import LinearParams, float64, predict, sgd_step
from functional_training.runs import (
    ArgumentParser,
    _sweep_cli,
    _train_cli,
    add_rerun_command,
    attach_negative_values,
    run_handler,
)


def demo_lines() -> list[str]:
    """The lesson's first update (x=2, y=6, w=1, b=0, lr=0.1), computed by JAX in float64."""
    with float64():
        params = LinearParams(1.0, 0.0)
        new, loss, grads = sgd_step(params, 2.0, 6.0, 0.1)
        prediction = predict(params, 2.0)
        new_prediction = predict(new, 2.0)
        _, new_loss, _ = sgd_step(new, 2.0, 6.0, 0.1)
        device = jax.devices()[0]
    return [
        f"before: prediction={float(prediction):.1f} loss={float(loss):.1f}",
        f"gradients: dL/dw={float(grads.w):.1f} dL/db={float(grads.b):.1f}",
        f"after: prediction={float(new_prediction):.1f} loss={float(new_loss):.1f}",
        f"device: {device.platform} ({device.device_kind})",
    ]


def device_lines() -> list[str]:
    """One line per device JAX sees, plus the default backend."""
    lines = [
        f"default backend: {jax.default_backend()}",
        f"processes: {jax.process_count()} (this is process {jax.process_index()})",
    ]
    for device in jax.devices():
        lines.append(
            f"{device.id}: {device.platform} {device.device_kind} (process {device.process_index})"
        )
    return lines


def _demo(args: argparse.Namespace) -> int:
    print("\n".join(demo_lines()))
    return 0


def _devices(args: argparse.Namespace) -> int:
    print("\n".join(device_lines()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m functional_training`` parser (every subcommand has ``--help``)."""
    parser = ArgumentParser(
        prog="python -m functional_training",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command")
    demo = commands.add_parser("demo", help="print the lesson's first update computed by JAX")
    demo.set_defaults(handler=_demo)
    devices = commands.add_parser("devices", help="list the devices JAX sees")
    devices.set_defaults(handler=_devices)
    _sweep_cli.register(commands)
    _train_cli.add_train_command(commands)
    add_rerun_command(commands)
    parser.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(attach_negative_values(argv))
    return run_handler(args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
