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

Each subcommand beyond demo/devices lives in its own module and is only
registered here (sweep: _sweep_cli.py, train: _train_cli.py, rerun: _rerun.py).

Exit codes: 0 success, 1 a failed check, 2 bad usage or bad input (one line, no traceback).
"""

from __future__ import annotations

import argparse
import sys

from functional_training import _rerun, _sweep_cli, _train_cli


def demo_lines() -> list[str]:
    """The lesson's first update (x=2, y=6, w=1, b=0, lr=0.1), computed by JAX in float64."""
    import jax

    from functional_training import LinearParams, float64, predict, sgd_step

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
    import jax

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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m functional_training",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    demo = commands.add_parser("demo", help="print the lesson's first update computed by JAX")
    demo.set_defaults(handler=_demo)
    devices = commands.add_parser("devices", help="list the devices JAX sees")
    devices.set_defaults(handler=_devices)
    _sweep_cli.register(commands)
    _train_cli.add_train_command(commands)
    _rerun.add_rerun_command(commands)
    parser.set_defaults(handler=_demo)
    return parser


def _attach_negative_values(argv: list[str]) -> list[str]:
    """``--learning-rates -0.1:0.5:5`` as ``--learning-rates=-0.1:0.5:5``.

    argparse takes a value starting with ``-`` for an option and answers
    "expected one argument"; attaching it lets the option's own check say what
    is wrong with the range.

    Example:
      >>> _attach_negative_values(["sweep", "--learning-rates", "-0.1:0.5:5"])
      ['sweep', '--learning-rates=-0.1:0.5:5']
    """
    fixed: list[str] = []
    for token in argv:
        if fixed and fixed[-1] == "--learning-rates" and token.startswith("-") and ":" in token:
            fixed[-1] = f"--learning-rates={token}"
        else:
            fixed.append(token)
    return fixed


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(_attach_negative_values(argv))
    try:
        return args.handler(args)
    except (ValueError, TypeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except MemoryError as err:  # e.g. numpy's ArrayMemoryError for a run too large to hold
        print(f"error: out of memory: {err}", file=sys.stderr)
        return 2
    except OverflowError as err:  # a number too large for its dtype (e.g. int32 indices)
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
