"""Training runs in checkpointed chunks: settings, the run loop, resume, and the run's manifest.

The library behind ``python -m functional_training train`` (and ``rerun``): a run is
cut into chunks of ``chunk_steps`` steps, each one call of one compiled
``lax.scan`` (:func:`functional_training.train_chunk`), carrying parameters and
optimizer state across chunks; with a checkpoint directory each chunk ends in a
content-hashed checkpoint, and resuming verifies the chain and continues from
the latest, so a resumed run computes exactly what the uninterrupted run computes.
A run records every ``eval_every`` steps (and its last step,
:func:`functional_training.record_steps`), so its memory is bounded by its
records; the batch order is made one epoch at a time on the host
(:class:`functional_training.MinibatchOrder`) and gathered on the device.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_training._datasets import NamedData, named_data
from functional_training._optimizers import (
    OPTIMIZER_NAMES,
    check_learning_rate,
    check_learning_rate_fits,
    make_optimizer,
    optimizer_hyperparameters,
)
from functional_training._params import LinearParams
from functional_training._precision import DTYPES, precision
from functional_training._record import TrajectoryRecord
from functional_training._record_plan import (
    MAX_RECORD_BYTES,
    check_eval_every,
    default_eval_every,
    points_in,
    record_count,
    record_plan,
    record_steps,
)
from functional_training._synthetic import MinibatchOrder
from functional_training._train import check_data, full_losses, train_chunk
from functional_training.runs._checkpoint import (
    checkpoint_chain,
    checkpoint_id,
    checkpoint_metadata,
    latest_checkpoint,
    list_checkpoints,
    save_checkpoint,
)
from functional_training.runs._digests import trajectory_digest
from functional_training.runs._io import check_output_path
from functional_training.runs._manifest import (
    build_manifest,
    data_file_option,
    data_name_for_rerun,
    data_record,
    line_init,
    line_init_from,
    named_data_record,
    run_record,
)

TOOL = "functional_training train"
DEFAULT_CHUNK_STEPS = 1000
"""Steps per compiled chunk without ``--checkpoint-every`` (rounded up to a multiple of
``eval_every``): progress is reported per chunk."""

RECORD_BYTES_PER_VALUE = 48
"""Memory per recorded value at its peak: 8 bytes in the chunk's array, 8 more when
the chunks are joined, 32 as a Python float in the trajectory's list (object and
pointer)."""


class SettingError(ValueError):
    """A refused run setting, as one line naming the argument(s) it concerns.

    The message is a template whose ``{name}`` fields are argument names
    (``{batch_size}``); ``str(err)`` spells each as the library's argument
    (``batch_size``) and :meth:`naming` as a caller chooses (a command line's
    ``--batch-size``).

    Example:
      >>> err = SettingError("{seed} sets the mini-batch order; it needs {batch_size}")
      >>> str(err)
      'seed sets the mini-batch order; it needs batch_size'
      >>> err.naming({"seed": "--seed", "batch_size": "--batch-size"})
      '--seed sets the mini-batch order; it needs --batch-size'
    """

    def __init__(self, template: str):
        super().__init__(template.format_map(_Names()))
        self.template = template

    def naming(self, names: Mapping[str, str]) -> str:
        """The message with each argument spelled ``names[argument]`` (itself if absent)."""
        return self.template.format_map(_Names(names))


class _Names(dict):
    def __missing__(self, key: str) -> str:
        return key


def _literal(value) -> str:
    """``str(value)`` safe inside a :class:`SettingError` template (braces doubled)."""
    return str(value).replace("{", "{{").replace("}", "}}")


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
      eval_every: steps between records (the last step is always recorded).
      init: initial ``(w, b)``.
      features, target: a data file's feature and target columns (``None`` for named data).
    """

    data: str
    optimizer: str
    learning_rate: float
    steps: int
    chunk_steps: int
    init: tuple[float, float]
    features: tuple[str, ...] | None = None
    target: str | None = None
    hyperparameters: dict[str, float] = field(default_factory=dict)
    epochs: int | None = None
    batch_size: int | None = None
    seed: int | None = None
    dtype: str = "float64"
    eval_every: int = 1

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
            "features": None if self.features is None else list(self.features),
            "target": self.target,
            "steps": self.steps,
            "eval_every": self.eval_every,
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
    eval_every: int | None = None,
) -> TrainSettings:
    """Validate a run's settings against its data and fill in what follows from them.

    Exactly one of ``steps`` and ``epochs``; an epoch is ``n // batch_size``
    steps (one step with full batch). ``seed`` needs ``batch_size`` and
    defaults to 0 with it. ``eval_every`` defaults to
    :func:`functional_training.default_eval_every` of the examples one evaluation
    reads (training and validation) and the steps; ``chunk_steps`` must be a
    multiple of it (or cover the whole run) and defaults to the multiple
    nearest above :data:`DEFAULT_CHUNK_STEPS`.

    Raises:
      SettingError: one line naming the argument (``steps``, ``batch_size``, ...).

    Example:
      >>> s = make_settings(named_data("shipments"), optimizer="sgd", learning_rate=0.08,
      ...                   epochs=20)
      >>> s.steps, s.chunk_steps, s.seed, s.hyperparameters, s.eval_every
      (20, 20, None, {}, 1)
    """
    n = int(data.y.shape[0])
    if (steps is None) == (epochs is None):
        raise SettingError("give exactly one of {steps} and {epochs}")
    for name, value in (("steps", steps), ("epochs", epochs), ("batch_size", batch_size),
                        ("chunk_steps", chunk_steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value <= 0):
            raise SettingError(f"{{{name}}} must be an integer > 0, got {_literal(repr(value))}")
    if batch_size is not None and batch_size > n:
        raise SettingError(
            f"{{batch_size}} {batch_size} is larger than the {n} training examples of "
            f"{_literal(data.name)}"
        )
    if seed is not None:
        if batch_size is None:
            raise SettingError("{seed} sets the mini-batch order; it needs {batch_size}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise SettingError(f"{{seed}} must be an integer >= 0, got {_literal(repr(seed))}")
    elif batch_size is not None:
        seed = 0
    if dtype not in DTYPES:
        raise SettingError(
            f"{{dtype}} must be one of {', '.join(DTYPES)}, got {_literal(repr(dtype))}"
        )
    if optimizer not in OPTIMIZER_NAMES:
        raise SettingError(
            f"{{optimizer}}: unknown optimizer {_literal(repr(optimizer))}; expected one of "
            f"{', '.join(OPTIMIZER_NAMES)}"
        )
    try:
        check_learning_rate_fits(check_learning_rate(learning_rate), dtype)
    except (TypeError, ValueError) as err:
        raise SettingError(f"{{learning_rate}}: {_literal(err)}") from None
    hyper = dict(hyperparameters or {})
    if "learning_rate" in hyper:
        raise SettingError("{hyperparameters}: set the learning rate with {learning_rate}")
    try:
        make_optimizer(optimizer, learning_rate=learning_rate, **hyper)  # validates the rest
    except (TypeError, ValueError) as err:
        raise SettingError(f"{{hyperparameters}}: {_literal(err)}") from None
    hyper = {**optimizer_hyperparameters(optimizer), **{k: float(v) for k, v in hyper.items()}}
    if epochs is not None:
        steps = epochs * (1 if batch_size is None else n // batch_size)
    if eval_every is None:
        examples = n + (0 if data.y_val is None else int(data.y_val.shape[0]))
        eval_every = default_eval_every(examples, steps)
    else:
        try:
            eval_every = check_eval_every(eval_every)
        except ValueError as err:
            raise SettingError("{eval_every}" + _literal(str(err).removeprefix("eval_every"))) \
                from None
    if chunk_steps is None:
        chunk_steps = min(steps, -(-DEFAULT_CHUNK_STEPS // eval_every) * eval_every)
    elif chunk_steps % eval_every and chunk_steps < steps:
        raise SettingError(
            f"{{chunk_steps}} {chunk_steps} must be a multiple of {{eval_every}} {eval_every} "
            "(chunks begin at recorded steps)"
        )
    _check_record_size(data, steps=steps, batch_size=batch_size, eval_every=eval_every,
                       length="{steps}" if epochs is None else "{epochs}")
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
        chunk_steps=chunk_steps,
        eval_every=eval_every,
        init=tuple(float(v) for v in (init or data.init)),
        features=data.features,
        target=data.target,
    )


def record_values_per_step(data: NamedData, *, batch_size: int | None) -> int:
    """Values a run records per recorded step: parameters and gradients, losses, the batch.

    Example:
      >>> record_values_per_step(named_data("shipments"), batch_size=None)
      6
    """
    features = 1 if data.x.ndim == 1 else int(data.x.shape[1])
    return (2 * (features + 1) + 2 + (data.x_val is not None)
            + (0 if batch_size is None else batch_size))


def record_bytes(data: NamedData, *, steps: int, batch_size: int | None,
                 eval_every: int = 1) -> int:
    """Memory the records of a ``steps``-step run take at their peak (an estimate, bytes).

    Records are taken at :func:`functional_training.record_steps` ``(steps, eval_every)``.

    Example:
      >>> record_bytes(named_data("shipments"), steps=1000, batch_size=None)
      288000
      >>> record_bytes(named_data("shipments"), steps=1000, batch_size=None, eval_every=100)
      3168
    """
    return (record_count(steps, eval_every) * record_values_per_step(data, batch_size=batch_size)
            * RECORD_BYTES_PER_VALUE)


def _check_record_size(data: NamedData, *, steps: int, batch_size: int | None,
                       eval_every: int, length: str) -> None:
    size = record_bytes(data, steps=steps, batch_size=batch_size, eval_every=eval_every)
    if size > MAX_RECORD_BYTES:
        per_step = record_values_per_step(data, batch_size=batch_size)
        fit = MAX_RECORD_BYTES // (per_step * RECORD_BYTES_PER_VALUE)
        records = record_count(steps, eval_every)
        raise SettingError(
            f"{length}: {steps} steps recorded every {eval_every} would record "
            f"{records * per_step:.3g} values ({per_step} per recorded step), about "
            f"{size / 2**30:.3g} GiB in memory, over the {MAX_RECORD_BYTES / 2**30:g} GiB "
            f"limit: at most {fit} recorded steps fit; pass {{eval_every}} >= "
            f"{-(-steps // max(1, fit - 1))}"
        )


def _features(data: NamedData) -> int:
    return 1 if data.x.ndim == 1 else int(data.x.shape[1])


def settings_data(settings: TrainSettings) -> NamedData:
    """The data set ``settings`` were made for, read again (a file is read and hashed anew)."""
    return named_data(settings.data, features=settings.features, target=settings.target)


# --------------------------------------------------------------------------- training


class TrainOutcome(NamedTuple):
    """What :func:`run_training` produced.

    Attributes:
      trajectory: the run as a ``functional_training.TrajectoryRecord``.
      checkpoint: identifier of the last checkpoint written or resumed from, or ``None``.
      resumed_from: identifier of the checkpoint the run continued from, or ``None``.
    """

    trajectory: Any
    checkpoint: str | None
    resumed_from: str | None


Progress = Callable[[int, int, dict], None]
"""``progress(step, steps, segment)`` after each chunk; ``segment`` holds the chunk's records."""


def _segment(records, batches, steps: np.ndarray | None) -> dict[str, np.ndarray]:
    """A chunk's records as named arrays; ``steps``: the recorded steps (``None``: every step)."""
    records = jax.device_get(records)
    params, grads, batch_loss, train_loss, val_loss = (
        records.params, records.grads, records.batch_loss, records.train_loss, records.val_loss)
    segment = {
        "params.w": params.w, "params.b": params.b, "grads.w": grads.w, "grads.b": grads.b,
        "batch_loss": batch_loss, "train_loss": train_loss,
    }
    if val_loss is not None:
        segment["val_loss"] = val_loss
    if batches is not None:
        segment["batches"] = batches
    if steps is not None:
        segment["record_steps"] = steps
        segment["nonfinite_after"] = records.nonfinite_after
    # Copies: a zero-copy view would keep each chunk's device buffer alive for the whole run.
    return {name: np.array(values, copy=True) for name, values in segment.items()}


def prepare_checkpoint_dir(directory, *, resume: bool) -> Path:
    """Check (and create) the checkpoint directory before a run starts.

    A fresh run refuses a directory that already holds checkpoints (mixing two
    runs' chains would make resuming ambiguous); ``resume`` needs one.

    Raises:
      SettingError: naming ``checkpoint_dir`` or ``resume``.
    """
    directory = Path(directory)
    where = _literal(directory)
    if directory.exists() and not directory.is_dir():
        raise SettingError(f"{{checkpoint_dir}}: {where} is not a directory")
    if resume:
        if not directory.is_dir():
            raise SettingError(f"{{resume}}: checkpoint directory {where} does not exist")
        if latest_checkpoint(directory) is None:
            raise SettingError(f"{{resume}}: no checkpoint in {where}")
        return directory
    if not directory.exists():
        if not directory.parent.is_dir():
            raise SettingError(
                f"{{checkpoint_dir}}: directory {_literal(directory.parent)} does not exist"
            )
        directory.mkdir()
    elif list_checkpoints(directory):
        raise SettingError(
            f"{{checkpoint_dir}}: {where} already holds checkpoints; pass {{resume}} to "
            "continue that run, or choose an empty directory"
        )
    try:
        check_output_path(directory / "checkpoint.probe", option="checkpoint_dir")
    except ValueError as err:
        detail = str(err).removeprefix("checkpoint_dir")
        raise SettingError("{checkpoint_dir}" + _literal(detail)) from None
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

    n, steps, chunk = int(data.y.shape[0]), settings.steps, settings.chunk_steps
    points = record_steps(steps, settings.eval_every)
    sparse = points.size != steps  # recorded steps are named only when some are skipped
    fingerprint = None  # the data hash: only a checkpointed run needs it
    if checkpoint_dir is not None:
        version = data_record(data.name, data.x, data.y, data.x_val, data.y_val)["version"]
        fingerprint = settings.fingerprint(version)
    order = None
    if settings.batch_size is not None:
        order = MinibatchOrder(n, batch_size=settings.batch_size, seed=settings.seed)
    with precision(settings.dtype):
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
            _check_resumable(chain, points)
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
            batches = None if order is None else order.rows(step, end)
            chunk_points = points_in(points, step, end)
            params, opt_state, records = train_chunk(
                optimizer, record_plan(step, end, points), params, opt_state, x, y, batches,
                x_val, y_val,
            )
            recorded_batches = None if batches is None else batches[chunk_points - step]
            segments.append(_segment(records, recorded_batches,
                                     chunk_points if sparse else None))
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
    trajectory = TrajectoryRecord(
        params=params_json,
        grads=grads_json,
        batch_loss=series("batch_loss").tolist(),
        train_loss=series("train_loss", final_train).tolist(),
        val_loss=None if final_val is None else series("val_loss", final_val).tolist(),
        batches=None if order is None else np.concatenate(
            [segment["batches"] for segment in segments]
        ).tolist(),
        record_steps=points.tolist() if sparse else None,
        nonfinite_after=np.concatenate(
            [segment["nonfinite_after"] for segment in segments]).tolist() if sparse else None,
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
            raise SettingError(
                f"{{resume}}: {_literal(path.name)} was written by a different run: "
                f"{_literal(key)} is {_literal(repr(run.get(key)))} there and "
                f"{_literal(repr(value))} here"
            )


def _check_resumable(chain, points: np.ndarray) -> None:
    """The chain's records are exactly the run's records up to its latest step."""
    latest = chain[-1]
    expected = points_in(points, 0, latest.step)
    covered = [np.asarray(link.records["record_steps"]) if "record_steps" in link.records
               else None for link in chain]
    if all(c is None for c in covered):  # every step recorded
        found = sum(int(np.shape(link.records.get("batch_loss", []))[0]) for link in chain)
        complete = found == expected.size
    else:
        found = sum(0 if c is None else c.size for c in covered)
        complete = all(c is not None for c in covered) and np.array_equal(
            np.concatenate(covered), expected)
    if not complete:
        raise SettingError(
            f"{{resume}}: the checkpoints in {_literal(latest.path.parent)} record {found} "
            f"steps of history but the run records {expected.size} steps before step "
            f"{latest.step}; the chain is incomplete"
        )


# --------------------------------------------------------------------------- manifest


def train_manifest(settings: TrainSettings, data: NamedData, outcome: TrainOutcome) -> dict:
    """The manifest of a training run (see :mod:`functional_training.runs._manifest`)."""
    run = run_record(
        name="train",
        data=named_data_record(data),
        split=data.split,
        init=line_init(settings.init, _features(data)),
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
            **data_file_option(settings.data),
            "features": None if settings.features is None else list(settings.features),
            "target": settings.target,
            "chunk_steps": settings.chunk_steps,
            "eval_every": settings.eval_every,
            "resumed_from": outcome.resumed_from,
        },
        results={"trajectory": trajectory_digest(outcome.trajectory)},
    )
    return build_manifest(tool=TOOL, runs=[run], dtype=settings.dtype)


def settings_from_run(run: dict, *, dtype: str) -> TrainSettings:
    """Rebuild the settings of a training run from its manifest entry (for ``rerun``)."""
    options = run["options"]
    data_name, chunk = data_name_for_rerun(options), options.get("chunk_steps")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk <= 0:
        raise ValueError("manifest: runs[0].options.chunk_steps must be an integer > 0")
    if len(run["learning_rates"]) != 1:
        raise ValueError("manifest: runs[0].learning_rates must hold exactly one rate")
    features, target = options.get("features"), options.get("target")
    if features is not None and (
        not isinstance(features, list) or not all(isinstance(f, str) for f in features)
    ):
        raise ValueError("manifest: runs[0].options.features must be a list of column names")
    if target is not None and not isinstance(target, str):
        raise ValueError("manifest: runs[0].options.target must be a column name")
    eval_every = options.get("eval_every", 1)  # manifests before eval_every recorded every step
    if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every <= 0:
        raise ValueError("manifest: runs[0].options.eval_every must be an integer > 0")
    data = named_data(data_name, features=features, target=target)
    init = line_init_from(run["init"], _features(data))
    try:
        return make_settings(
            data,
            optimizer=run["optimizer"],
            learning_rate=run["learning_rates"][0],
            hyperparameters=dict(run["hyperparameters"]),
            steps=run["steps"],
            batch_size=run["batch_size"],
            seed=run["seed"],
            dtype=dtype,
            chunk_steps=chunk,
            init=init,
            eval_every=eval_every,
        )
    except SettingError as err:
        raise ValueError(f"manifest: {err.naming(_MANIFEST_KEYS)}") from None


_MANIFEST_KEYS = {
    "steps": "runs[0].steps", "batch_size": "runs[0].batch_size", "seed": "runs[0].seed",
    "optimizer": "runs[0].optimizer", "learning_rate": "runs[0].learning_rates",
    "hyperparameters": "runs[0].hyperparameters", "chunk_steps": "runs[0].options.chunk_steps",
    "eval_every": "runs[0].options.eval_every",
}
"""Where a manifest keeps each setting :func:`make_settings` may refuse (``dtype`` is checked
when the manifest is read)."""
