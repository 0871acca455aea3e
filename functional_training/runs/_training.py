"""Training runs in checkpointed chunks: the run loop and resume.

The library behind ``python -m functional_training train`` (and ``rerun``), for every
model kind, loss, L2, schedule and set of trainable leaves: :class:`TrainSettings`
holds the run description (a spec's :class:`~functional_training.runs.RunSpec`;
the line's flags build one with :func:`line_run_spec`). A run is cut into chunks of
``chunk_steps`` steps, each one call of one compiled
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

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_training._models import model_kind, params_from_values
from functional_training._names import leaf_names
from functional_training._optimizers import (
    make_optimizer,
)
from functional_training._precision import precision
from functional_training._record import record_from_trajectory
from functional_training._record_plan import (
    points_in,
    record_plan,
    record_steps,
)
from functional_training._schedules import make_schedule
from functional_training._synthetic import MinibatchOrder
from functional_training._train import (
    accuracies,
    check_data,
    check_objective_data,
    full_losses,
    train_chunk,
)
from functional_training._trajectory import Trajectory
from functional_training.runs._checkpoint import (
    checkpoint_chain,
    checkpoint_id,
    checkpoint_metadata,
    latest_checkpoint,
    list_checkpoints,
    prune_checkpoints,
    save_checkpoint,
)
from functional_training.runs._io import check_output_path
from functional_training.runs._manifest import (
    data_record,
)
from functional_training.runs._train_settings import SettingError, TrainSettings, literal

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

SERIES = ("batch_loss", "train_loss", "val_loss", "learning_rate", "train_accuracy",
          "val_accuracy")
"""The recorded series besides parameters and gradients (those a run does not have are absent)."""


def _segment(records, batches, steps: np.ndarray | None) -> dict[str, np.ndarray]:
    """A chunk's records as named arrays: ``params.<leaf>``, ``grads.<leaf>``, the series,
    ``batches``, and ``record_steps`` (``steps``; ``None``: every step is recorded)."""
    records = jax.device_get(records)
    segment = {}
    for part in ("params", "grads"):
        tree = getattr(records, part)
        for name, leaf in zip(leaf_names(tree), jax.tree.leaves(tree), strict=True):
            segment[f"{part}.{name}"] = leaf
    for name in SERIES:
        if getattr(records, name) is not None:
            segment[name] = getattr(records, name)
    if batches is not None:
        segment["batches"] = batches
    if steps is not None:
        segment["record_steps"] = steps
        segment["nonfinite_after"] = records.nonfinite_after
    # Copies: a zero-copy view would keep each chunk's device buffer alive for the whole run.
    return {name: np.array(values, copy=True) for name, values in segment.items()}


def model_input(objective, params, x):
    """``x`` in the layout the objective's model takes: rows of ``d`` values, or a vector.

    A run description holds ``x`` as ``(n, d)``; a kind whose one-feature weight
    is a scalar (the line's ``w``) takes ``x`` of shape ``(n,)``. Which layout is
    read from the kind's outputs (``jax.eval_shape``), not from its name.
    """
    if x is None or x.ndim != 2 or x.shape[1] != 1:
        return x
    wanted = model_kind(objective.model).outputs(**objective.settings)
    shape = jax.eval_shape(objective.outputs, params, x).shape
    expected = (x.shape[0],) if wanted == 1 else (x.shape[0], wanted)
    return x if shape == expected else x[:, 0]


def prepare_checkpoint_dir(directory, *, resume: bool) -> Path:
    """Check (and create) the checkpoint directory before a run starts.

    A fresh run refuses a directory that already holds checkpoints (mixing two
    runs' chains would make resuming ambiguous); ``resume`` needs one.

    Raises:
      SettingError: naming ``checkpoint_dir`` or ``resume``.
    """
    directory = Path(directory)
    where = literal(directory)
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
                f"{{checkpoint_dir}}: directory {literal(directory.parent)} does not exist"
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
        raise SettingError("{checkpoint_dir}" + literal(detail)) from None
    return directory


def run_training(
    settings: TrainSettings,
    data,
    *,
    checkpoint_dir=None,
    resume: bool = False,
    progress: Progress | None = None,
    keep_checkpoints: int | None = None,
) -> TrainOutcome:
    """Train in chunks of ``settings.chunk_steps`` steps, checkpointing after each.

    Any model kind, loss, L2, schedule and trainable leaves (the run
    description, ``settings.run``). Step ``k`` uses batch ``k`` of
    ``minibatch_indices(n, batch_size, steps, seed)`` (full batch without a
    batch size), records the trajectory contract's quantities at ``theta_k``,
    and applies the optimizer. Chunk ``j`` covers steps ``[j K, min((j + 1) K, S))``.

    Args:
      settings: from :func:`make_settings` or :func:`spec_settings`.
      data: the data the settings were made for (:func:`settings_data`): a
        ``NamedData`` for the line's flags, the run description for a spec run;
        its arrays are trained on and hashed (the data version).
      checkpoint_dir: a directory prepared by :func:`prepare_checkpoint_dir`,
        or ``None`` for no checkpoints.
      resume: continue from the latest checkpoint in ``checkpoint_dir``.
      progress: called after each chunk.
      keep_checkpoints: keep only the newest this many checkpoints (``None``: all).
        Each checkpoint holds the whole history so far, so the newest alone
        resumes the run; older ones are removed only after it is written.

    Returns:
      A :class:`TrainOutcome`. Non-finite values are recorded, not raised.

    Raises:
      ValueError: data that do not fit the model or loss, or a checkpoint that is
        corrupt, incomplete, or from another run.

    Example:
      >>> from functional_training._datasets import named_data
      >>> from functional_training.runs._train_settings import make_settings
      >>> data = named_data("one-shipment")
      >>> settings = make_settings(data, optimizer="sgd", learning_rate=0.1, steps=5,
      ...                          chunk_steps=2)
      >>> traj = run_training(settings, data).trajectory
      >>> [round(v, 3) for v in traj.batch_loss]
      [8.0, 2.0, 0.5, 0.125, 0.031]
    """

    run = settings.run
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
    objective = run.objective()
    schedule = None if run.schedule is None else make_schedule(**run.schedule)
    with precision(settings.dtype):
        dtype = jnp.dtype(settings.dtype)
        params = jax.tree.map(lambda leaf: jnp.asarray(leaf, dtype), params_from_values(
            run.model, run.init, **run.model_config))
        x, y = check_data(data.x, data.y)
        check_objective_data(objective, x, y, "train")
        x, y = (jnp.asarray(values, dtype) for values in (x, y))
        x_val = y_val = None
        if data.x_val is not None:
            x_val, y_val = check_data(data.x_val, data.y_val, name="validation")
            check_objective_data(objective, x_val, y_val, "validation")
            x_val, y_val = (jnp.asarray(v, dtype) for v in (x_val, y_val))
        x, x_val = model_input(objective, params, x), model_input(objective, params, x_val)
        optimizer = make_optimizer(
            run.optimizer, learning_rate=settings.learning_rate if schedule is None else schedule,
            frozen=[leaf for leaf in leaf_names(params) if leaf not in run.trainable],
            **settings.hyperparameters,
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
                x_val, y_val, objective=objective, schedule=schedule, start=step,
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
                    records=_joined(segments),
                    whole_history=True,
                )
                parent, last_id = path.name, checkpoint_id(path)
                prune_checkpoints(checkpoint_dir, keep_checkpoints)
            if progress is not None:
                progress(step, steps, segments[-1])
        final_train, final_val = jax.device_get(
            full_losses(params, x, y, x_val, y_val, objective=objective))
        final_accuracy, final_val_accuracy = jax.device_get(
            accuracies(params, x, y, x_val, y_val, objective=objective))
        final = jax.device_get(params)

    def series(name: str, last=None) -> np.ndarray | None:
        if name not in segments[0]:
            return None
        values = [segment[name] for segment in segments]
        if last is not None:
            values.append(np.asarray(last)[None])
        return np.concatenate(values)

    names, treedef = leaf_names(final), jax.tree.structure(final)
    trajectory = Trajectory(
        params=jax.tree.unflatten(treedef, [series(f"params.{name}", leaf) for name, leaf
                                            in zip(names, jax.tree.leaves(final), strict=True)]),
        grads=jax.tree.unflatten(treedef, [series(f"grads.{name}") for name in names]),
        batch_loss=series("batch_loss"),
        train_loss=series("train_loss", final_train),
        val_loss=series("val_loss", final_val),
        learning_rate=series("learning_rate"),
        train_accuracy=series("train_accuracy", final_accuracy),
        val_accuracy=series("val_accuracy", final_val_accuracy),
        record_steps=points if sparse else None,
        nonfinite_after=series("nonfinite_after") if sparse else None,
    )
    record = record_from_trajectory(trajectory, batches=None if order is None else np.concatenate(
        [segment["batches"] for segment in segments]).tolist())
    return TrainOutcome(record, last_id, resumed_from)


def _joined(segments: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The records of every segment so far as one segment: the whole history."""
    return {name: np.concatenate([segment[name] for segment in segments])
            for name in segments[-1]}


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
                f"{{resume}}: {literal(path.name)} was written by a different run: "
                f"{literal(key)} is {literal(repr(run.get(key)))} there and "
                f"{literal(repr(value))} here"
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
            f"{{resume}}: the checkpoints in {literal(latest.path.parent)} record {found} "
            f"steps of history but the run records {expected.size} steps before step "
            f"{latest.step}; the chain is incomplete"
        )


