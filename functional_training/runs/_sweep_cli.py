"""``python -m functional_training sweep``: a learning-rate sweep from the command line.

Examples:
  python -m functional_training sweep --learning-rates 0.01:0.5:50 --steps 100
  python -m functional_training sweep --learning-rates 1e-4:1:10000 --log --steps 1000 \\
      --data shipments --dtype float64 --json sweep.json
  python -m functional_training sweep --learning-rates 0.001:0.3:64 --steps 200 \\
      --data synthetic:1000000 --batch-size 1024 --record-every 20 --progress

Prints the device(s), compile and run time, the best rate, the observed
divergence point and the analytic limit ``2 / lambda_max``. Bad input exits
with status 2 and one line on stderr; ``--json`` is written atomically.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from typing import NamedTuple

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from functional_training._datasets import data_argument, named_data
from functional_training._optimizers import OPTIMIZER_NAMES
from functional_training._params import LinearParams
from functional_training._precision import DTYPES, precision
from functional_training._record import named_series
from functional_training._stability import observed_divergence, stability_limit
from functional_training._sweep import METHODS as SWEEP_METHODS
from functional_training._sweep import sweep_learning_rates
from functional_training._synthetic import minibatch_indices
from functional_training.runs._arguments import (
    add_column_arguments,
    nonnegative_int,
    positive_int,
)
from functional_training.runs._io import check_output_paths, json_floats, write_json_atomic
from functional_training.runs._manifest import write_manifest
from functional_training.runs._sweep_record import sweep_manifest

MAX_RECORDS = 100
"""Default ``--record-every`` keeps at most ``MAX_RECORDS + 1`` recorded losses per rate."""


class RateRange(NamedTuple):
    """A parsed ``START:STOP:COUNT``."""

    start: float
    stop: float
    count: int

    def values(self, *, log: bool) -> np.ndarray:
        """``count`` rates from ``start`` to ``stop`` inclusive, evenly or geometrically spaced.

        Example:
          >>> RateRange(0.001, 0.1, 3).values(log=True).tolist()
          [0.001, 0.01, 0.1]
        """
        space = np.geomspace if log else np.linspace
        return space(self.start, self.stop, self.count)


def parse_rate_range(text: str) -> RateRange:
    """Parse ``START:STOP:COUNT`` with ``0 < START <= STOP`` and ``COUNT >= 1``.

    ``START == STOP`` only with ``COUNT == 1``. Raises ``argparse.ArgumentTypeError``
    (one line) otherwise.

    Example:
      >>> parse_rate_range("0.01:0.5:50")
      RateRange(start=0.01, stop=0.5, count=50)
    """
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected START:STOP:COUNT, got {text!r}")
    try:
        start, stop = float(parts[0]), float(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"START and STOP must be numbers, got {text!r}") from None
    try:
        count = int(parts[2])
    except ValueError:
        raise argparse.ArgumentTypeError(f"COUNT must be an integer, got {parts[2]!r}") from None
    if not (math.isfinite(start) and math.isfinite(stop)) or start <= 0:
        raise argparse.ArgumentTypeError(f"rates must be finite and > 0, got {text!r}")
    if count < 1:
        raise argparse.ArgumentTypeError(f"COUNT must be >= 1, got {count} (an empty sweep)")
    if start > stop:
        raise argparse.ArgumentTypeError(f"START must not exceed STOP, got {start} > {stop}")
    if start == stop and count > 1:
        raise argparse.ArgumentTypeError(f"START == STOP repeats one rate {count} times")
    return RateRange(start, stop, count)


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand to ``python -m functional_training``."""
    parser = commands.add_parser(
        "sweep",
        help="train once per learning rate, all rates in one compiled program",
        description="Train once per learning rate, all rates in one compiled program.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--learning-rates", required=True, type=parse_rate_range,
                        metavar="START:STOP:COUNT", help="COUNT rates from START to STOP")
    parser.add_argument("--log", action="store_true", help="space the rates geometrically")
    parser.add_argument("--steps", required=True, type=positive_int, help="optimizer steps")
    parser.add_argument("--data", default="one-shipment", type=data_argument,
                        help="one-shipment (default), shipments, synthetic:N, or a data file "
                             "(.csv with a header row, .parquet, .npy, .npz)")
    add_column_arguments(parser)
    parser.add_argument("--seed", default=0, type=nonnegative_int,
                        help="seed of the mini-batch order (default 0); synthetic:N data always "
                             "uses seed 0, as in `train`")
    parser.add_argument("--batch-size", type=positive_int,
                        help="mini-batch size (default: full batch)")
    parser.add_argument("--dtype", default="float32", choices=DTYPES,
                        help="precision of the run (default float32)")
    parser.add_argument("--record-every", type=positive_int, metavar="K",
                        help=f"record the loss every K steps (default: steps // {MAX_RECORDS})")
    parser.add_argument("--optimizer", default="sgd", choices=OPTIMIZER_NAMES,
                        help="default sgd; others with their optax defaults")
    parser.add_argument("--method", default="auto", choices=SWEEP_METHODS,
                        help="auto (default): the exact O(L)-per-step moments path for "
                             "full-batch SGD on one feature, else autodiff")
    parser.add_argument("--json", metavar="PATH",
                        help="write the full result as JSON (with the manifest under 'manifest')")
    parser.add_argument("--manifest", metavar="PATH",
                        help="write the run's manifest (rerun it with `rerun PATH`)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: only when stderr is a terminal)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the sweep the arguments describe and print its summary."""
    check_output_paths({"--json": args.json, "--manifest": args.manifest})
    try:
        data = named_data(args.data, features=args.features, target=args.target)
    except ValueError as err:
        message = str(err)
        if message.startswith("data:"):
            message = "--data" + message.removeprefix("data")
        raise ValueError(message) from None
    x, y, init = data.x, data.y, data.init
    batches = None
    if args.batch_size is not None:
        if args.batch_size > x.shape[0]:
            raise ValueError(
                f"--batch-size {args.batch_size} is larger than the data ({x.shape[0]} examples)"
            )
        batches = minibatch_indices(x.shape[0], batch_size=args.batch_size,
                                       steps=args.steps, seed=args.seed)
    rates = args.learning_rates.values(log=args.log)
    record_every = args.record_every or max(1, args.steps // MAX_RECORDS)
    if record_every > args.steps:
        raise ValueError(
            f"--record-every {record_every} is larger than --steps {args.steps}: "
            "nothing after the initial loss would be recorded"
        )
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress

    with precision(args.dtype), _progress_bar(show_progress, args.steps) as on_progress:
        result = sweep_learning_rates(
            LinearParams(init[0] if x.ndim == 1 else [init[0]] * x.shape[1], init[1]), x, y, rates,
            steps=args.steps, optimizer=args.optimizer,
            batch_indices=batches, record_every=record_every, method=args.method,
            progress=on_progress,
        )
    summary = summarize(result, x, y)
    lines = [
        f"devices: {_describe_devices(result.devices)}",
        f"data: {args.data} (N={x.shape[0]}), "
        + ("full batch" if batches is None else f"mini-batches of {args.batch_size}")
        + f", {args.dtype}, {args.optimizer}, method {result.method}",
        f"rates: {rates.size} {'log' if args.log else 'linearly'}-spaced in "
        f"[{rates[0]:.6g}, {rates[-1]:.6g}]; {args.steps} steps, loss recorded every "
        f"{record_every}",
        f"compile: {result.compile_seconds:.3f} s",
        f"run: {result.run_seconds:.3f} s",
        _best_line(summary),
        _divergence_line(summary["observed_divergence"]),
        f"analytic limit: {summary['stability_limit']:.6g} "
        "(2 / lambda_max of the loss Hessian, full-batch gradient descent)",
    ]
    manifest = None  # built (data hashed, environment collected) only when it is written
    if args.json is not None or args.manifest is not None:
        manifest = sweep_manifest(
            data=args.data, result=result, init=init, optimizer=args.optimizer,
            batch_size=args.batch_size, seed=args.seed, method=args.method, dtype=args.dtype,
            features=args.features, target=args.target,
        )
    if args.json is not None:
        payload = to_json(result, summary, args=vars(args) | {"record_every": record_every})
        write_json_atomic(args.json, {"manifest": manifest, **payload})
        lines.append(f"json: {args.json}")
    if args.manifest is not None:
        write_manifest(args.manifest, manifest)
        lines.append(f"manifest: {args.manifest}")
    print("\n".join(lines))
    return 0


def summarize(result, x, y) -> dict:
    """Best rate(s), observed divergence and analytic limit of a sweep.

    Both use the loss at the final step ``S`` (``result.final_loss``) as well as
    the recorded ones, so a ``record_every`` that does not divide ``S`` cannot
    hide a divergence. Rates whose final loss ties the best one exactly (e.g.
    many rates reach 0 in float arithmetic) are counted, not silently reduced
    to the smallest.
    """
    final = result.final_loss
    finite = np.isfinite(final) & (result.first_nonfinite_step < 0)
    best = int(np.argmin(np.where(finite, final, np.inf))) if finite.any() else None
    tied = np.flatnonzero(finite & (final == final[best])) if best is not None else []
    losses = np.column_stack([result.losses, final])
    return {
        "best_rate": None if best is None else float(result.learning_rates[best]),
        "best_final_loss": None if best is None else float(final[best]),
        "best_rates_tied": int(len(tied)),
        "best_rates_range": None if best is None else [
            float(result.learning_rates[tied].min()), float(result.learning_rates[tied].max())
        ],
        "observed_divergence": observed_divergence(
            result.learning_rates, losses, result.first_nonfinite_step
        ),
        "stability_limit": stability_limit(x, y),
    }


def _best_line(summary: dict) -> str:
    if summary["best_rate"] is None:
        return "best rate: none (every rate went non-finite)"
    if summary["best_rates_tied"] > 1:
        low, high = summary["best_rates_range"]
        return (f"best rate: {summary['best_rates_tied']} rates tie at final loss "
                f"{summary['best_final_loss']:.6g} ({low:.6g} to {high:.6g})")
    return (f"best rate: {summary['best_rate']:.6g} "
            f"(final loss {summary['best_final_loss']:.6g})")


def _divergence_line(observed: float | None) -> str:
    if observed is None:
        return "observed divergence: none in the swept range"
    return (f"observed divergence: {observed:.6g} "
            "(smallest rate whose loss grew or went non-finite)")


def _describe_devices(devices) -> str:
    kinds = sorted({f"{d.platform} ({d.device_kind})" for d in devices})
    return f"{len(devices)} x {', '.join(kinds)}"


@contextlib.contextmanager
def _progress_bar(enabled: bool, steps: int):
    """Yield a ``progress(done, total)`` callback drawing a rich bar on stderr, or None."""
    if not enabled:
        yield None
        return
    console = Console(stderr=True, force_terminal=True)
    with Progress(TextColumn("sweep"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task("sweep", total=steps)
        yield lambda done, total: bar.update(task, completed=done)


def to_json(result, summary: dict, *, args: dict) -> dict:
    """The sweep as a strict-JSON-ready dict (non-finite floats as strings)."""
    return {
        "command": {k: v for k, v in args.items() if k != "handler"}
        | {"learning_rates": list(args["learning_rates"])},
        "devices": [str(d) for d in result.devices],
        "method": result.method,
        "steps": result.steps,
        "record_every": result.record_every,
        "recorded_steps": result.recorded_steps.tolist(),
        "learning_rates": result.learning_rates.tolist(),
        "losses": json_floats(result.losses),
        "first_nonfinite_step": result.first_nonfinite_step.tolist(),
        "final_params": {name: json_floats(values)
                         for name, values in named_series(result.final_params).items()},
        "compile_seconds": result.compile_seconds,
        "run_seconds": result.run_seconds,
        **summary,
    }
