"""``python -m functional_training train``: long runs with checkpoints, resume and manifests.

Examples:
  python -m functional_training train --data shipments --optimizer sgd --learning-rate 0.08 \\
      --steps 20
  python -m functional_training train --data synthetic:100000 --optimizer adam \\
      --learning-rate 0.01 --batch-size 32 --epochs 3 --seed 7 \\
      --checkpoint-dir ckpt --checkpoint-every 1000 --json run.json --manifest run.manifest.json
  python -m functional_training train --data synthetic:100000 --optimizer adam \\
      --learning-rate 0.01 --batch-size 32 --epochs 3 --seed 7 \\
      --checkpoint-dir ckpt --checkpoint-every 1000 --resume     # after an interruption
  python -m functional_training rerun run.manifest.json        # the same trajectory again?
  python -m functional_training train --data deliveries.csv --features disruption,weight_t \\
      --target delay_h --optimizer adam --learning-rate 0.05 --steps 60 --batch-size 4
  python -m functional_training train --spec examples/moons-small.toml --steps 400 \\
      --batch-size 20 --checkpoint-dir moons-ckpt --checkpoint-every 100 \\
      --manifest moons.manifest.json

What runs: ``--spec FILE`` trains the run a spec file describes (the format
``python -m comparisons run --spec`` and ``sweep --spec`` read): any model kind,
loss, L2, learning-rate schedule and trainable parameters. The flags ``--data
--optimizer --learning-rate [--hyperparameter]`` are shorthand for a spec of the
lesson's line (``prediction = x @ w + b``, half squared error, every weight
starting at the data's initial values); with ``--spec`` they are refused (the
spec names the data, the model and the optimizer). ``--steps`` or ``--epochs``,
``--batch-size`` and ``--seed`` replace the spec's ``[run]`` values (a training
run may be longer than a spec's cross-check); ``--dtype`` and the checkpoint,
record and output options say how the run is carried out. The manifest records
the spec's text and the run description read from it, so ``rerun`` trains it again.

The run is cut into chunks of ``--checkpoint-every`` steps (1000 without
checkpoints); each chunk is one call of one compiled ``lax.scan`` program,
carrying parameters and optimizer state from chunk to chunk. After each chunk
the run logs the loss and gradient norm and, with ``--checkpoint-dir``, saves
a checkpoint (parameters and optimizer state, step, batch-order position and
the trajectory recorded so far) named by its content hash, and removes all but
the newest ``--keep-checkpoints`` (default 3; the newest alone resumes the
run). ``--resume`` verifies the checkpoint and continues from the latest; chunk
boundaries are multiples of ``--checkpoint-every`` whether or not the run was
interrupted, so a resumed run computes exactly what the uninterrupted run computes.

Records: the batch loss, gradient, parameters and the full training (and
validation) loss, which reads all N examples (and the scheduled rate and the
accuracies where a run has them), are recorded every ``--eval-every`` steps and
at the last step; the steps between only train, so they cost what their batch
costs. The default records every step while N x steps is small (the lesson's
runs) and a bounded number of steps otherwise (at most 100,000; about 2**24 / N
when N is large), so memory is bounded by the records, not the steps;
``--eval-every 1`` records every step and is refused up front when those
records would not fit in 4 GiB. Chunks begin at recorded steps, so an explicit
``--eval-every`` must divide ``--checkpoint-every``; without it the default is
fitted to ``--checkpoint-every`` (a divisor of it near the default).

Exit codes: 0 trained (a run that diverges still exits 0: divergence is data),
2 bad usage or bad input (one line, no traceback, no output file written),
130 interrupted with Ctrl-C (one line; ``--resume`` continues from the last checkpoint).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from functional_training._data_files import is_data_file
from functional_training._datasets import named_data
from functional_training._interrupts import raise_if_interrupted
from functional_training.runs._arguments import (
    add_batch_size_option,
    add_column_arguments,
    add_data_option,
    add_dtype_option,
    add_hyperparameter_option,
    add_json_option,
    add_optimizer_option,
    add_seed_option,
    add_steps_option,
    name_values,
    positive_float,
    positive_int,
)
from functional_training.runs._checkpoint import latest_checkpoint
from functional_training.runs._cli import EXIT_INTERRUPTED, make_console
from functional_training.runs._io import check_not_inputs, check_output_paths, write_json_atomic
from functional_training.runs._manifest import write_manifest
from functional_training.runs._spec import SpecError, parse_run_spec, read_spec_text
from functional_training.runs._sweep_cli import describe_model
from functional_training.runs._train_manifest import train_manifest
from functional_training.runs._train_settings import (
    SettingError,
    TrainSettings,
    make_settings,
    spec_settings,
)
from functional_training.runs._training import (
    TrainOutcome,
    prepare_checkpoint_dir,
    run_training,
)

DEFAULT_KEEP_CHECKPOINTS = 3
"""Checkpoints ``train`` keeps by default: a few, in case the newest is damaged."""

FLAGS = {
    "data": "--data",
    "features": "--features",
    "target": "--target",
    "spec": "--spec",
    "steps": "--steps",
    "epochs": "--epochs",
    "batch_size": "--batch-size",
    "seed": "--seed",
    "dtype": "--dtype",
    "optimizer": "--optimizer",
    "learning_rate": "--learning-rate",
    "hyperparameters": "--hyperparameter",
    "chunk_steps": "--checkpoint-every",
    "eval_every": "--eval-every",
    "checkpoint_dir": "--checkpoint-dir",
    "resume": "--resume",
}
"""The flag of each run-library argument: a :class:`SettingError` is re-raised naming flags."""

# --------------------------------------------------------------------------- reporting


class _Reporter:
    """Progress after each chunk: a rich bar on a terminal (or ``--progress``), else plain lines.

    Plain mode writes about ten lines per run to stderr, every ``n`` chunks:
    ``k/S steps done; step k-1 (before its update): batch_loss=... train_loss=...
    grad_norm=...``. The values are the last step's records: the batch loss and
    gradient taken at ``params[k-1]`` and the full training loss at ``params[k-1]``,
    before that step's update (the loss at the new ``params[k]`` is the next step's,
    or the summary's train_loss "after step S-1").
    """

    def __init__(self, steps: int, *, chunk: int, bar: bool):
        self.steps = steps
        self.bar = None
        self.next_line = 0
        # A whole number of chunks, so the lines fall at evenly spaced chunk ends.
        self.stride = chunk * max(1, math.ceil(steps / chunk / 10))
        if bar:
            self.bar = Progress(
                TextColumn("train"),
                BarColumn(bar_width=20),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=make_console(stderr=True),
            )
            self.task = self.bar.add_task("train", total=steps, status="")

    def __enter__(self) -> _Reporter:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, step: int, steps: int, segment: dict) -> None:
        raise_if_interrupted()  # a Ctrl-C that library code swallowed still stops the run
        batch_loss, train_loss, norm = _latest(segment)
        at = int(segment["record_steps"][-1]) if "record_steps" in segment else step - 1
        if self.bar is not None:
            status = (f"step {at} (before its update): loss={batch_loss:.4g} "
                      f"grad_norm={norm:.4g}")
            self.bar.update(self.task, completed=step, status=status)
        elif step >= self.next_line or step == steps:
            print(f"{step}/{steps} steps done; step {at} (before its update): "
                  f"batch_loss={batch_loss:.6g} train_loss={train_loss:.6g} grad_norm={norm:.6g}",
                  file=sys.stderr, flush=True)
            self.next_line = (step // self.stride + 1) * self.stride


def _latest(segment: dict) -> tuple[float, float, float]:
    """The last step's batch loss, train loss and gradient norm in a chunk's records."""
    last_grad = np.concatenate([np.asarray(values[-1], np.float64).ravel()
                                for name, values in segment.items() if name.startswith("grads.")])
    norm = float(np.hypot.reduce(np.abs(last_grad)))  # hypot: no overflow for large finite g
    return float(segment["batch_loss"][-1]), float(segment["train_loss"][-1]), norm


def summary_lines(settings: TrainSettings, outcome: TrainOutcome) -> list[str]:
    """What ``train`` prints when it finishes: losses, gradient norms, divergence, checkpoint.

    Every number says where it was taken: ``train_loss A before step 0 -> B after
    step S-1`` (at the initial and the final parameters) and ``grad_norm C at step
    0 -> D at step S-1`` (each taken before its step's update, like the progress
    lines' values).
    """
    traj = outcome.trajectory
    norms = traj.grad_norm
    batch = "full batch" if settings.batch_size is None else (
        f"batch size {settings.batch_size}, seed {settings.seed}"
    )
    params = " ".join(f"{name}={values[-1]:.6g}" for name, values in
                      list(traj.params.items())[:SHOWN_PARAMETERS])
    if len(traj.params) > SHOWN_PARAMETERS:
        params += f" ... ({len(traj.params)} parameters; all in --json)"
    at = traj.recorded_steps
    recorded = "" if traj.record_steps is None else (
        f"; recorded {len(at)} steps (every {settings.eval_every} and the last)")
    run = settings.run
    rate = (f"lr={settings.learning_rate:g}" if run.schedule is None else
            f"{run.schedule['kind']} schedule")
    what = f"data {settings.data}" if settings.spec is None else (
        f"spec {settings.data}: {describe_model(run.objective())}")
    lines = [
        f"trained {traj.steps} steps: {settings.optimizer} {rate}, "
        f"{batch}, {settings.dtype}, {what}{recorded}",
        f"train_loss {traj.train_loss[0]:.6g} before step 0 -> {traj.train_loss[-1]:.6g} "
        f"after step {traj.steps - 1}; grad_norm {norms[0]:.6g} at step 0 -> {norms[-1]:.6g} "
        f"at step {traj.steps - 1}",
        f"final {params}",
    ]
    first = traj.first_nonfinite_step
    if first is None:
        lines.append("first non-finite step: none")
    else:
        upto = [r for r, k in enumerate(at) if k <= first][-5:]
        shown = ", ".join(f"{at[r]}: {norms[r]:.3g}" for r in upto)
        lines.append(f"first non-finite step: {first} (diverged); grad_norm by "
                     f"{'step' if traj.record_steps is None else 'recorded step'}: {shown}")
    if outcome.resumed_from is not None:
        lines.append(f"resumed from checkpoint {outcome.resumed_from}")
    if outcome.checkpoint is not None:
        lines.append(f"checkpoint: {outcome.checkpoint}")
    return lines


# --------------------------------------------------------------------------- command line


SHOWN_PARAMETERS = 8
"""Final parameter values the summary prints (a layered model has many; ``--json`` holds all)."""

SPEC_REPLACES = {"data": "--data", "features": "--features", "target": "--target",
                 "optimizer": "--optimizer", "learning_rate": "--learning-rate"}
"""The line's flags a spec replaces: combined with ``--spec`` they are refused."""

LINE_NEEDS = ("data", "optimizer", "learning_rate")
"""The flags a run without ``--spec`` needs (the spec's part of the line's shorthand)."""


def add_train_command(subparsers) -> argparse.ArgumentParser:
    """Register ``train`` on ``subparsers`` (from ``add_subparsers``); its handler returns 0."""
    summary = __doc__.split("\n\n")[0]
    parser = subparsers.add_parser(
        "train",
        help="train any spec's model (or the line) with progress, checkpoints, resume, a JSON "
             "trajectory and a manifest",
        description=summary,
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--spec", metavar="FILE",
                        help="a TOML spec file: the run it describes (any model kind, loss, "
                             "schedule, L2); replaces --data, --optimizer, --learning-rate")
    add_data_option(parser, note="the line's shorthand; needed without --spec")
    add_column_arguments(parser)
    add_optimizer_option(parser, note="the line's shorthand; needed without --spec")
    parser.add_argument("--learning-rate", type=positive_float, metavar="LR",
                        help="the constant learning rate (the line's shorthand; needed "
                             "without --spec)")
    add_hyperparameter_option(parser)
    add_batch_size_option(parser, note="with --spec: replaces [run].batch_size")
    parser.add_argument("--eval-every", type=positive_int, metavar="E",
                        help="record (and compute the O(N) full losses) every E steps and at "
                             "the last step (default: every step for small runs, a bounded "
                             "number of records otherwise, fitted to --checkpoint-every)")
    length = parser.add_mutually_exclusive_group()
    add_steps_option(length, note="needed without --spec; with it, replaces [run].steps")
    length.add_argument("--epochs", type=positive_int, metavar="E",
                        help="passes over the training data: E x (N // batch size) steps")
    add_seed_option(parser, note="needs --batch-size or the spec's; default 0, or the "
                                 "spec's [run].seed")
    add_dtype_option(parser)
    parser.add_argument("--checkpoint-dir", metavar="DIR",
                        help="save a checkpoint every --checkpoint-every steps here "
                             "(needs --checkpoint-every)")
    parser.add_argument("--checkpoint-every", type=positive_int, metavar="K",
                        help="steps between checkpoints (needs --checkpoint-dir)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the latest checkpoint in --checkpoint-dir")
    parser.add_argument("--keep-checkpoints", type=_keep_count, metavar="N",
                        default=DEFAULT_KEEP_CHECKPOINTS,
                        help=f"keep the newest N checkpoints, or 'all' (default "
                             f"{DEFAULT_KEEP_CHECKPOINTS}; the newest holds the whole "
                             "history, so it alone resumes the run)")
    add_json_option(parser, what='{"manifest": ..., "trajectory": ...}')
    parser.add_argument("--manifest", metavar="PATH", help="write the run manifest here")
    parser.add_argument("--progress", action="store_true",
                        help="show a progress bar even when stderr is not a terminal")
    parser.set_defaults(handler=train_command)
    return parser


def train_command(args: argparse.Namespace) -> int:
    """Handler of ``train``: validate everything, train, print a summary, write the outputs.

    Raises:
      ValueError: bad input, one line naming the flag (the run library's
        :class:`SettingError` is re-raised with :data:`FLAGS`' names).
    """
    try:
        return _train(args)
    except SettingError as err:
        raise ValueError(err.naming(FLAGS)) from None


def _train(args: argparse.Namespace) -> int:
    if args.spec is not None:
        given = [flag for dest, flag in SPEC_REPLACES.items() if getattr(args, dest) is not None]
        if args.hyperparameter:
            given.append("--hyperparameter")
        if given:
            raise ValueError(f"{given[0]} cannot be combined with --spec (the spec file names "
                             "the data, the model and the optimizer)")
    else:
        missing = [FLAGS[dest] for dest in LINE_NEEDS if getattr(args, dest) is None]
        if missing:
            raise ValueError(f"the following arguments are required without --spec: "
                             f"{', '.join(missing)}")
        if args.steps is None and args.epochs is None:
            raise ValueError("one of the arguments --steps --epochs is required")
    if args.checkpoint_every is not None and args.checkpoint_dir is None:
        raise ValueError("--checkpoint-every needs --checkpoint-dir")
    if args.checkpoint_dir is not None and args.checkpoint_every is None:
        raise ValueError("--checkpoint-dir needs --checkpoint-every")
    if args.keep_checkpoints != DEFAULT_KEEP_CHECKPOINTS and args.checkpoint_dir is None:
        raise ValueError("--keep-checkpoints needs --checkpoint-dir")
    if args.resume and args.checkpoint_dir is None:
        raise ValueError("--resume needs --checkpoint-dir (and --checkpoint-every)")
    hyper = name_values(args.hyperparameter)
    outputs = {"--json": args.json, "--manifest": args.manifest}
    inputs = {"--data": args.data if args.data is not None and is_data_file(args.data) else None,
              "--spec": args.spec, "--checkpoint-dir": args.checkpoint_dir}
    check_output_paths(outputs, inputs)
    if args.spec is not None:
        text = read_spec_text(args.spec)
        try:
            spec = parse_run_spec(text, base=Path(args.spec).parent)
        except SpecError as err:
            raise SpecError(f"{args.spec}: {err}") from None
        check_not_inputs(outputs, {f"[data].{role} (in --spec)": path
                                     for role, path in spec.files.items()})
        settings = spec_settings(
            spec, path=args.spec, text=text, steps=args.steps, epochs=args.epochs,
            batch_size=args.batch_size, seed=args.seed, dtype=args.dtype,
            chunk_steps=args.checkpoint_every, eval_every=args.eval_every,
        )
        data = settings.run
    else:
        data = _named_data(args)
        settings = make_settings(
            data,
            optimizer=args.optimizer,
            learning_rate=args.learning_rate,
            hyperparameters=hyper,
            steps=args.steps,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            dtype=args.dtype,
            chunk_steps=args.checkpoint_every,
            eval_every=args.eval_every,
        )
    directory = None
    if args.checkpoint_dir is not None:
        directory = prepare_checkpoint_dir(args.checkpoint_dir, resume=args.resume)
    try:
        with _Reporter(settings.steps, chunk=settings.chunk_steps,
                       bar=args.progress or sys.stderr.isatty()) as reporter:
            outcome = run_training(settings, data, checkpoint_dir=directory, resume=args.resume,
                                   progress=reporter, keep_checkpoints=args.keep_checkpoints)
    except KeyboardInterrupt:
        print(f"interrupted: {_resume_hint(directory)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print("\n".join(summary_lines(settings, outcome)))
    if args.json is None and args.manifest is None:
        return 0  # a manifest (data hash, environment) is built only when it is written
    manifest = train_manifest(settings, data, outcome)
    if args.json is not None:
        write_json_atomic(args.json, {"manifest": manifest,
                                      "trajectory": outcome.trajectory.to_json()})
    if args.manifest is not None:
        write_manifest(args.manifest, manifest)
    return 0


def _keep_count(text: str) -> int | None:
    """``--keep-checkpoints``: an integer >= 1, or ``all`` (``None``: keep every one)."""
    if text == "all":
        return None
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected an integer >= 1 or 'all', got {text!r}") from None


def _resume_hint(directory: Path | None) -> str:
    """What an interrupted run can do next: resume only from a checkpoint that exists."""
    if directory is None:
        return "no checkpoints were written (add --checkpoint-dir and --checkpoint-every to " \
               "make a long run resumable)"
    if latest_checkpoint(directory) is None:
        return (f"stopped before the first checkpoint, so {directory} holds none to resume "
                "from; run the same command again without --resume to start over")
    return (f"run the same command with --resume to continue from the latest checkpoint "
            f"in {directory}")


def _named_data(args: argparse.Namespace):
    """The data set ``--data`` names; the library's ``data: ...`` errors name the flag."""
    try:
        return named_data(args.data, features=args.features, target=args.target)
    except ValueError as err:
        message = str(err)
        if message.startswith("data:"):
            message = FLAGS["data"] + message.removeprefix("data")
        elif is_data_file(args.data) and not message.startswith(args.data):
            message = f"--data {args.data}: {message}"
        raise ValueError(message) from None
