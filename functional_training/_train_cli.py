"""``python -m functional_training train``: long runs with checkpoints, resume and manifests.

Examples:
  python -m functional_training train --data shipments --optimizer sgd --learning-rate 0.08 \\
      --steps 20
  python -m functional_training train --data synthetic:100000 --optimizer adam \\
      --learning-rate 0.01 --batch-size 32 --epochs 3 --seed 7 \\
      --checkpoint-dir ckpt --checkpoint-every 1000 --json run.json --manifest run.manifest.json
  python -m functional_training train ...same flags... --resume   # after an interruption
  python -m functional_training rerun run.json                     # same trajectory again?

The run is cut into chunks of ``--checkpoint-every`` steps (1000 without
checkpoints); each chunk is one call of one compiled ``lax.scan`` program,
carrying parameters and optimizer state from chunk to chunk. After each chunk
the run logs the loss and gradient norm and, with ``--checkpoint-dir``, saves
a checkpoint (parameters, optimizer state, step, batch-order position and the
chunk's trajectory segment) named by its content hash. ``--resume`` verifies
the chain of checkpoints and continues from the latest; chunk boundaries are
multiples of ``--checkpoint-every`` whether or not the run was interrupted,
so a resumed run computes exactly what the uninterrupted run computes.

Cost: every step records the full training loss (the trajectory contract), so
each step reads all N examples whatever ``--batch-size`` is: with
``--data synthetic:10000000 --batch-size 32`` a step costs what a full-batch
step costs. For loss curves of large data sets use ``sweep --record-every``.

Exit codes: 0 trained (a run that diverges still exits 0: divergence is data),
2 bad usage or bad input (one line, no traceback, no output file written),
130 interrupted with Ctrl-C (one line; ``--resume`` continues from the last checkpoint).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_training._arguments import name_value, nonnegative_int, positive_float, positive_int
from functional_training._checkpoint import (
    checkpoint_chain,
    checkpoint_id,
    checkpoint_metadata,
    latest_checkpoint,
    list_checkpoints,
    save_checkpoint,
)
from functional_training._datasets import NamedData, data_argument, named_data
from functional_training._manifest import (
    build_manifest,
    check_output_path,
    data_record,
    run_record,
    trajectory_digest,
    write_json_atomic,
    write_manifest,
)
from functional_training._optimizers import (
    OPTIMIZER_NAMES,
    check_learning_rate,
    check_learning_rate_fits,
    make_optimizer,
    optimizer_hyperparameters,
)
from functional_training._params import LinearParams
from functional_training._precision import float64
from functional_training._synthetic import minibatch_indices
from functional_training._train import check_data, full_losses, train_chunk

TOOL = "functional_training train"
DEFAULT_CHUNK_STEPS = 1000
"""Steps per compiled chunk without ``--checkpoint-every``: progress is reported per chunk."""


DTYPES = ("float64", "float32")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TrainSettings:
    """Everything that determines a training run's trajectory.

    Attributes:
      data: the ``--data`` name.
      optimizer: one of ``functional_training.OPTIMIZER_NAMES``.
      learning_rate: finite and > 0.
      hyperparameters: every other optimizer setting, defaults filled in.
      steps: optimizer steps ``S``.
      epochs: the ``--epochs`` asked for, or ``None`` when ``--steps`` was given.
      batch_size: examples per step, ``None`` for full batch.
      seed: batch-order seed, ``None`` for full batch.
      dtype: ``"float64"`` or ``"float32"``.
      chunk_steps: steps per compiled chunk (= ``--checkpoint-every``).
      init: initial ``(w, b)``.
    """

    data: str
    optimizer: str
    learning_rate: float
    steps: int
    chunk_steps: int
    init: tuple[float, float]
    hyperparameters: dict[str, float] = field(default_factory=dict)
    epochs: int | None = None
    batch_size: int | None = None
    seed: int | None = None
    dtype: str = "float64"

    def fingerprint(self, data_version: str) -> dict:
        """What a checkpoint must share with a run to be resumed by it.

        ``steps`` is part of it: the last chunk of a finished run is shorter
        than ``chunk_steps``, and XLA may round a scan of another length
        differently in the last bit, so continuing a finished run to more
        steps would not reproduce an uninterrupted run of that length.
        """
        return {
            "data": self.data,
            "data_version": data_version,
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "hyperparameters": dict(sorted(self.hyperparameters.items())),
            "batch_size": self.batch_size,
            "seed": self.seed,
            "dtype": self.dtype,
            "chunk_steps": self.chunk_steps,
            "init": list(self.init),
            "steps": self.steps,
        }


def make_settings(
    data: NamedData,
    *,
    optimizer: str,
    learning_rate: float,
    hyperparameters: dict[str, float] | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    dtype: str = "float64",
    chunk_steps: int | None = None,
    init: tuple[float, float] | None = None,
) -> TrainSettings:
    """Validate a run's settings against its data and fill in what follows from them.

    Exactly one of ``steps`` and ``epochs``; an epoch is ``n // batch_size``
    steps (one step with full batch). ``seed`` needs ``batch_size`` and
    defaults to 0 with it. Every error is one line naming the flag.

    Example:
      >>> s = make_settings(named_data("shipments"), optimizer="sgd", learning_rate=0.08,
      ...                   epochs=20)
      >>> s.steps, s.chunk_steps, s.seed, s.hyperparameters
      (20, 20, None, {})
    """
    n = int(data.y.shape[0])
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of --steps and --epochs")
    for flag, value in (("--steps", steps), ("--epochs", epochs), ("--batch-size", batch_size),
                        ("--checkpoint-every", chunk_steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value <= 0):
            raise ValueError(f"{flag} must be an integer > 0, got {value!r}")
    if batch_size is not None and batch_size > n:
        raise ValueError(
            f"--batch-size {batch_size} is larger than the {n} training examples of {data.name}"
        )
    if seed is not None:
        if batch_size is None:
            raise ValueError("--seed sets the mini-batch order; it needs --batch-size")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"--seed must be an integer >= 0, got {seed!r}")
    elif batch_size is not None:
        seed = 0
    if dtype not in DTYPES:
        raise ValueError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if optimizer not in OPTIMIZER_NAMES:
        raise ValueError(
            f"--optimizer: unknown optimizer {optimizer!r}; expected one of "
            f"{', '.join(OPTIMIZER_NAMES)}"
        )
    try:
        check_learning_rate_fits(check_learning_rate(learning_rate), dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"--learning-rate: {err}") from None
    hyper = dict(hyperparameters or {})
    if "learning_rate" in hyper:
        raise ValueError("--hyperparameter: set the learning rate with --learning-rate")
    try:
        make_optimizer(optimizer, learning_rate=learning_rate, **hyper)  # validates the rest
    except (TypeError, ValueError) as err:
        raise ValueError(f"--hyperparameter: {err}") from None
    hyper = {**optimizer_hyperparameters(optimizer), **{k: float(v) for k, v in hyper.items()}}
    if epochs is not None:
        steps = epochs * (1 if batch_size is None else n // batch_size)
    return TrainSettings(
        data=data.name,
        optimizer=optimizer,
        learning_rate=float(learning_rate),
        hyperparameters=hyper,
        steps=steps,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        dtype=dtype,
        chunk_steps=chunk_steps or min(steps, DEFAULT_CHUNK_STEPS),
        init=tuple(float(v) for v in (init or data.init)),
    )


# --------------------------------------------------------------------------- training


class TrainOutcome(NamedTuple):
    """What :func:`run_training` produced.

    Attributes:
      trajectory: the run as a ``comparisons.trajectory.Trajectory``.
      checkpoint: identifier of the last checkpoint written or resumed from, or ``None``.
      resumed_from: identifier of the checkpoint the run continued from, or ``None``.
    """

    trajectory: Any
    checkpoint: str | None
    resumed_from: str | None


Progress = Callable[[int, int, dict], None]
"""``progress(step, steps, segment)`` after each chunk; ``segment`` holds the chunk's records."""


@contextlib.contextmanager
def _precision(dtype: str) -> Iterator[None]:
    if dtype == "float64":
        with float64():
            yield
    else:
        yield


def _segment(records, batches) -> dict[str, np.ndarray]:
    params, grads, batch_loss, train_loss, val_loss = jax.device_get(records)
    segment = {
        "params.w": params.w, "params.b": params.b, "grads.w": grads.w, "grads.b": grads.b,
        "batch_loss": batch_loss, "train_loss": train_loss,
    }
    if val_loss is not None:
        segment["val_loss"] = val_loss
    if batches is not None:
        segment["batches"] = batches
    return {name: np.asarray(values) for name, values in segment.items()}


def prepare_checkpoint_dir(directory, *, resume: bool) -> Path:
    """Check (and create) the checkpoint directory before a run starts.

    A fresh run refuses a directory that already holds checkpoints (mixing two
    runs' chains would make resuming ambiguous); ``--resume`` needs one.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"--checkpoint-dir: {directory} is not a directory")
    if resume:
        if not directory.is_dir():
            raise ValueError(f"--resume: checkpoint directory {directory} does not exist")
        if latest_checkpoint(directory) is None:
            raise ValueError(f"--resume: no checkpoint in {directory}")
        return directory
    if not directory.exists():
        if not directory.parent.is_dir():
            raise ValueError(f"--checkpoint-dir: directory {directory.parent} does not exist")
        directory.mkdir()
    elif list_checkpoints(directory):
        raise ValueError(
            f"--checkpoint-dir: {directory} already holds checkpoints; pass --resume to "
            "continue that run, or choose an empty directory"
        )
    check_output_path(directory / "checkpoint.probe", option="--checkpoint-dir")
    return directory


def run_training(
    settings: TrainSettings,
    data: NamedData,
    *,
    checkpoint_dir=None,
    resume: bool = False,
    progress: Progress | None = None,
) -> TrainOutcome:
    """Train in chunks of ``settings.chunk_steps`` steps, checkpointing after each.

    Step ``k`` uses batch ``k`` of ``minibatch_indices(n, batch_size, steps, seed)``
    (full batch without a batch size), records the trajectory contract's
    quantities at ``theta_k``, and applies the optimizer. Chunk ``j`` covers
    steps ``[j K, min((j + 1) K, S))``.

    Args:
      settings: from :func:`make_settings`.
      data: from :func:`named_data`.
      checkpoint_dir: a directory prepared by :func:`prepare_checkpoint_dir`,
        or ``None`` for no checkpoints.
      resume: continue from the latest checkpoint in ``checkpoint_dir``.
      progress: called after each chunk.

    Returns:
      A :class:`TrainOutcome`. Non-finite values are recorded, not raised.

    Raises:
      ValueError: a checkpoint that is corrupt, incomplete, or from another run.

    Example:
      >>> data = named_data("one-shipment")
      >>> settings = make_settings(data, optimizer="sgd", learning_rate=0.1, steps=5,
      ...                          chunk_steps=2)
      >>> traj = run_training(settings, data).trajectory
      >>> [round(v, 3) for v in traj.batch_loss]
      [8.0, 2.0, 0.5, 0.125, 0.031]
    """
    from comparisons.trajectory import Trajectory

    version = data_record(data.name, data.x, data.y, data.x_val, data.y_val)["version"]
    fingerprint = settings.fingerprint(version)
    n, steps, chunk = int(data.y.shape[0]), settings.steps, settings.chunk_steps
    order = None
    if settings.batch_size is not None:
        order = minibatch_indices(
            n, batch_size=settings.batch_size, steps=steps, seed=settings.seed
        )
    with _precision(settings.dtype):
        dtype = jnp.dtype(settings.dtype)
        x, y = (jnp.asarray(values, dtype) for values in check_data(data.x, data.y))
        x_val = y_val = None
        if data.x_val is not None:
            x_val, y_val = (jnp.asarray(v, dtype) for v in check_data(data.x_val, data.y_val))
        w0 = jnp.full(x.shape[1:], settings.init[0], dtype)
        params = LinearParams(w0, jnp.asarray(settings.init[1], dtype))
        optimizer = make_optimizer(
            settings.optimizer, learning_rate=settings.learning_rate, **settings.hyperparameters
        )
        opt_state = optimizer.init(params)

        segments: list[dict[str, np.ndarray]] = []
        step, parent, last_id, resumed_from = 0, None, None, None
        if resume:
            latest_path = latest_checkpoint(checkpoint_dir)
            _check_same_run(latest_path, checkpoint_metadata(latest_path)["run"], fingerprint)
            chain = checkpoint_chain(latest_path, params=params, opt_state=opt_state)
            _check_resumable(chain)
            segments = [link.records for link in chain]
            latest = chain[-1]
            step, parent, last_id = latest.step, latest.path.name, latest.id
            resumed_from = latest.id
            params = jax.tree.map(jnp.asarray, latest.params)
            opt_state = jax.tree.map(jnp.asarray, latest.opt_state)
            if progress is not None:
                progress(step, steps, segments[-1])
        while step < steps:
            end = min(steps, (step // chunk + 1) * chunk)
            batches = None if order is None else order[step:end]
            params, opt_state, records = train_chunk(
                optimizer, end - step, params, opt_state, x, y, batches, x_val, y_val
            )
            segments.append(_segment(records, batches))
            step = end
            if checkpoint_dir is not None:
                path = save_checkpoint(
                    checkpoint_dir,
                    step=step,
                    params=params,
                    opt_state=opt_state,
                    position=_position(settings, n, step),
                    run=fingerprint,
                    parent=parent,
                    records=segments[-1],
                )
                parent, last_id = path.name, checkpoint_id(path)
            if progress is not None:
                progress(step, steps, segments[-1])
        final_train, final_val = jax.device_get(full_losses(params, x, y, x_val, y_val))
        final = jax.device_get(params)

    def series(name: str, last=None) -> np.ndarray:
        values = [segment[name] for segment in segments]
        if last is not None:
            values.append(np.asarray(last)[None])
        return np.concatenate(values).astype(np.float64)

    params_json = _named_series("w", series("params.w", final.w))
    params_json.update(_named_series("b", series("params.b", final.b)))
    grads_json = _named_series("w", series("grads.w"))
    grads_json.update(_named_series("b", series("grads.b")))
    trajectory = Trajectory(
        params=params_json,
        grads=grads_json,
        batch_loss=series("batch_loss").tolist(),
        train_loss=series("train_loss", final_train).tolist(),
        val_loss=None if final_val is None else series("val_loss", final_val).tolist(),
        batches=None if order is None else np.concatenate(
            [segment["batches"] for segment in segments]
        ).tolist(),
    )
    trajectory.check_lengths()
    return TrainOutcome(trajectory, last_id, resumed_from)


def _named_series(name: str, values: np.ndarray) -> dict[str, list[float]]:
    if values.ndim == 1:
        return {name: values.tolist()}
    return {f"{name}[{i}]": values[:, i].tolist() for i in range(values.shape[1])}


def _position(settings: TrainSettings, n: int, step: int) -> dict:
    """Where the batch order stands after ``step`` steps (one permutation per epoch)."""
    if settings.batch_size is None:
        return {"step": step, "order": "full batch"}
    per_epoch = n // settings.batch_size
    return {
        "step": step,
        "order": "minibatch_indices",
        "seed": settings.seed,
        "epoch": step // per_epoch,
        "batch_in_epoch": step % per_epoch,
    }


def _check_same_run(path: Path, run: dict, fingerprint: dict) -> None:
    for key, value in fingerprint.items():
        if run.get(key) != value:
            raise ValueError(
                f"--resume: {path.name} was written by a different run: "
                f"{key} is {run.get(key)!r} there and {value!r} here"
            )


def _check_resumable(chain) -> None:
    latest = chain[-1]
    covered = sum(int(np.shape(link.records.get("batch_loss", []))[0]) for link in chain)
    if covered != latest.step:
        raise ValueError(
            f"--resume: the checkpoints in {latest.path.parent} record {covered} steps of "
            f"history but the latest is at step {latest.step}; the chain is incomplete"
        )


# --------------------------------------------------------------------------- manifest


def train_manifest(settings: TrainSettings, data: NamedData, outcome: TrainOutcome) -> dict:
    """The manifest of a training run (see :mod:`functional_training._manifest`)."""
    run = run_record(
        name="train",
        data=data_record(data.name, data.x, data.y, data.x_val, data.y_val),
        split=data.split,
        init={"w": settings.init[0], "b": settings.init[1]},
        optimizer=settings.optimizer,
        hyperparameters=settings.hyperparameters,
        learning_rates=[settings.learning_rate],
        steps=settings.steps,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        seed=settings.seed,
        checkpoint=outcome.checkpoint,
        options={
            "data": settings.data,
            "chunk_steps": settings.chunk_steps,
            "resumed_from": outcome.resumed_from,
        },
        results={"trajectory": trajectory_digest(outcome.trajectory)},
    )
    return build_manifest(tool=TOOL, runs=[run], dtype=settings.dtype)


def settings_from_run(run: dict, *, dtype: str) -> TrainSettings:
    """Rebuild the settings of a training run from its manifest entry (for ``rerun``)."""
    options = run["options"]
    data_name, chunk = options.get("data"), options.get("chunk_steps")
    if not isinstance(data_name, str):
        raise ValueError("manifest: runs[0].options.data must be a --data name")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk <= 0:
        raise ValueError("manifest: runs[0].options.chunk_steps must be an integer > 0")
    if len(run["learning_rates"]) != 1:
        raise ValueError("manifest: runs[0].learning_rates must hold exactly one rate")
    init = run["init"] or {}
    if set(init) != {"w", "b"}:
        raise ValueError("manifest: runs[0].init must give w and b")
    data = named_data(data_name)
    hyper = dict(run["hyperparameters"])
    settings = make_settings(
        data,
        optimizer=run["optimizer"],
        learning_rate=run["learning_rates"][0],
        hyperparameters=hyper,
        steps=run["steps"],
        batch_size=run["batch_size"],
        seed=run["seed"],
        dtype=dtype,
        chunk_steps=chunk,
        init=(init["w"], init["b"]),
    )
    return settings


# --------------------------------------------------------------------------- reporting


class _Reporter:
    """Progress after each chunk: a rich bar on a terminal (or ``--progress``), else plain lines.

    Plain mode writes about ten lines per run to stderr, every ``n`` chunks:
    ``k/S steps done; step k-1: batch_loss=... train_loss=... grad_norm=...``. The
    values are the last step's records: the batch loss and gradient taken at
    ``params[k-1]`` and the full training loss at ``params[k-1]`` (the loss at the
    new ``params[k]`` is the next step's, or the summary's final train_loss).
    """

    def __init__(self, steps: int, *, chunk: int, bar: bool):
        self.steps = steps
        self.bar = None
        self.next_line = 0
        # A whole number of chunks, so the lines fall at evenly spaced chunk ends.
        self.stride = chunk * max(1, math.ceil(steps / chunk / 10))
        if bar:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("train"),
                BarColumn(bar_width=20),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=Console(file=sys.stderr),
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
        batch_loss, train_loss, norm = _latest(segment)
        if self.bar is not None:
            status = f"step {step - 1}: loss={batch_loss:.4g} grad_norm={norm:.4g}"
            self.bar.update(self.task, completed=step, status=status)
        elif step >= self.next_line or step == steps:
            print(f"{step}/{steps} steps done; step {step - 1}: batch_loss={batch_loss:.6g} "
                  f"train_loss={train_loss:.6g} grad_norm={norm:.6g}", file=sys.stderr,
                  flush=True)
            self.next_line = (step // self.stride + 1) * self.stride


def _latest(segment: dict) -> tuple[float, float, float]:
    """The last step's batch loss, train loss and gradient norm in a chunk's records."""
    last_grad = np.append(np.asarray(segment["grads.w"][-1], np.float64).ravel(),
                          np.float64(segment["grads.b"][-1]))
    norm = float(np.hypot.reduce(np.abs(last_grad)))  # hypot: no overflow for large finite g
    return float(segment["batch_loss"][-1]), float(segment["train_loss"][-1]), norm


def summary_lines(settings: TrainSettings, outcome: TrainOutcome) -> list[str]:
    """What ``train`` prints when it finishes: losses, gradient norms, divergence, checkpoint."""
    traj = outcome.trajectory
    norms = traj.grad_norm
    batch = "full batch" if settings.batch_size is None else (
        f"batch size {settings.batch_size}, seed {settings.seed}"
    )
    params = " ".join(f"{name}={values[-1]:.6g}" for name, values in traj.params.items())
    lines = [
        f"trained {traj.steps} steps: {settings.optimizer} lr={settings.learning_rate:g}, "
        f"{batch}, {settings.dtype}, data {settings.data}",
        f"train_loss {traj.train_loss[0]:.6g} -> {traj.train_loss[-1]:.6g}; "
        f"grad_norm {norms[0]:.6g} -> {norms[-1]:.6g}",
        f"final {params}",
    ]
    first = traj.first_nonfinite_step
    if first is None:
        lines.append("first non-finite step: none")
    else:
        lo = max(0, first - 4)
        shown = ", ".join(f"{k}: {norms[k]:.3g}" for k in range(lo, min(first + 1, traj.steps)))
        lines.append(f"first non-finite step: {first} (diverged); grad_norm by step: {shown}")
    if outcome.resumed_from is not None:
        lines.append(f"resumed from checkpoint {outcome.resumed_from}")
    if outcome.checkpoint is not None:
        lines.append(f"checkpoint: {outcome.checkpoint}")
    return lines


# --------------------------------------------------------------------------- command line






def add_train_command(subparsers) -> argparse.ArgumentParser:
    """Register ``train`` on ``subparsers`` (from ``add_subparsers``); its handler returns 0."""
    summary = __doc__.split("\n\n")[0]
    parser = subparsers.add_parser(
        "train",
        help="train with progress, checkpoints, resume, a JSON trajectory and a manifest",
        description=summary,
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", required=True, metavar="NAME", type=data_argument,
                        help="one-shipment, shipments or synthetic:N (N may be written 1_000)")
    parser.add_argument("--optimizer", required=True, choices=OPTIMIZER_NAMES)
    parser.add_argument("--learning-rate", required=True, type=positive_float, metavar="LR")
    parser.add_argument("--hyperparameter", action="append", type=name_value, default=[],
                        metavar="NAME=VALUE",
                        help="another optimizer setting, e.g. momentum=0.9 (repeatable)")
    parser.add_argument("--batch-size", type=positive_int, metavar="B",
                        help="examples per gradient step (default: full batch); the full "
                             "training loss is still computed at every step, O(N)")
    length = parser.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=positive_int, metavar="S")
    length.add_argument("--epochs", type=positive_int, metavar="E")
    parser.add_argument("--seed", type=nonnegative_int, metavar="K",
                        help="batch-order seed (needs --batch-size; default 0)")
    parser.add_argument("--dtype", choices=DTYPES, default="float64",
                        help="precision of the run (default float64, for verification; "
                             "`sweep` defaults to float32, the accelerators' precision)")
    parser.add_argument("--checkpoint-dir", metavar="DIR",
                        help="save a checkpoint every --checkpoint-every steps here "
                             "(needs --checkpoint-every)")
    parser.add_argument("--checkpoint-every", type=positive_int, metavar="K",
                        help="steps between checkpoints (needs --checkpoint-dir)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the latest checkpoint in --checkpoint-dir")
    parser.add_argument("--json", metavar="PATH",
                        help='write {"manifest": ..., "trajectory": ...} here')
    parser.add_argument("--manifest", metavar="PATH", help="write the run manifest here")
    parser.add_argument("--progress", action="store_true",
                        help="show a progress bar even when stderr is not a terminal")
    parser.set_defaults(handler=train_command)
    return parser


def train_command(args: argparse.Namespace) -> int:
    """Handler of ``train``: validate everything, train, print a summary, write the outputs."""
    if args.checkpoint_every is not None and args.checkpoint_dir is None:
        raise ValueError("--checkpoint-every needs --checkpoint-dir")
    if args.checkpoint_dir is not None and args.checkpoint_every is None:
        raise ValueError("--checkpoint-dir needs --checkpoint-every")
    if args.resume and args.checkpoint_dir is None:
        raise ValueError("--resume needs --checkpoint-dir (and --checkpoint-every)")
    hyper: dict[str, float] = {}
    for name, value in args.hyperparameter:
        if name in hyper:
            raise ValueError(f"--hyperparameter: {name} given twice")
        hyper[name] = value
    for option, path in (("--json", args.json), ("--manifest", args.manifest)):
        if path is not None:
            check_output_path(path, option=option)
    data = named_data(args.data)
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
    )
    directory = None
    if args.checkpoint_dir is not None:
        directory = prepare_checkpoint_dir(args.checkpoint_dir, resume=args.resume)
    try:
        with _Reporter(settings.steps, chunk=settings.chunk_steps,
                       bar=args.progress or sys.stderr.isatty()) as reporter:
            outcome = run_training(settings, data, checkpoint_dir=directory, resume=args.resume,
                                   progress=reporter)
    except KeyboardInterrupt:
        hint = (f"run the same command with --resume to continue from the latest checkpoint "
                f"in {directory}" if directory is not None else "no checkpoints were written")
        print(f"interrupted: {hint}", file=sys.stderr)
        return 130
    print("\n".join(summary_lines(settings, outcome)))
    manifest = train_manifest(settings, data, outcome)
    if args.json is not None:
        write_json_atomic(args.json, {"manifest": manifest,
                                      "trajectory": outcome.trajectory.to_json()})
    if args.manifest is not None:
        write_manifest(args.manifest, manifest)
    return 0
