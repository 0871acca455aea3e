"""Training runs in checkpointed chunks: settings, the run loop, resume, and the run's manifest.

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

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_training._datasets import NamedData, named_data
from functional_training._losses import DEFAULT_LOSS
from functional_training._models import model_kind, params_from_values
from functional_training._optimizers import (
    OPTIMIZER_NAMES,
    check_learning_rate,
    check_learning_rate_fits,
    make_optimizer,
    optimizer_hyperparameters,
)
from functional_training._precision import DTYPES, precision
from functional_training._record import record_from_trajectory
from functional_training._record_plan import (
    MAX_RECORD_BYTES,
    check_eval_every,
    default_eval_every,
    points_in,
    record_count,
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
    leaf_names,
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
    run_spec_record,
    spec_from_options,
    spec_options,
)
from functional_training.runs._spec import RunSpec
from functional_training.runs._sweep_record import spec_data_record

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
    """A training run: its run description plus how ``train`` runs it.

    The run description (:class:`~functional_training.runs.RunSpec`, the type
    spec files are read into) says what is computed: data, model kind and
    configuration, initial values, trainable leaves, loss and L2, optimizer and
    schedule, steps, batch size and batch-order seed. ``train --spec FILE`` reads
    it from a spec file; the line's flags (``--data --optimizer ...``) build
    the same description for the lesson's line (:func:`line_run_spec`).
    The other attributes say how the run is carried out and recorded; none
    changes a recorded value.

    Attributes:
      run: the run description.
      data: the ``--data`` name, or the spec file's path for a spec run.
      chunk_steps: steps per compiled chunk (= ``--checkpoint-every``).
      eval_every: steps between records (the last step is always recorded).
      dtype: ``"float64"`` or ``"float32"``.
      epochs: the ``--epochs`` asked for, or ``None`` when steps were given.
      features, target: a ``--data`` file's feature and target columns (``None`` else).
      spec: a spec run's file text (``None`` for the line's flags).
    """

    run: RunSpec
    data: str
    chunk_steps: int
    eval_every: int = 1
    dtype: str = "float64"
    epochs: int | None = None
    features: tuple[str, ...] | None = None
    target: str | None = None
    spec: str | None = None

    @property
    def optimizer(self) -> str:
        """The optimizer's name."""
        return self.run.optimizer

    @property
    def learning_rate(self) -> float | None:
        """The constant learning rate, or ``None`` when a schedule sets the rate."""
        return self.run.hyperparams.get("learning_rate")

    @property
    def hyperparameters(self) -> dict[str, float]:
        """Every optimizer setting but the learning rate, defaults included."""
        return {k: v for k, v in self.run.hyperparams.items() if k != "learning_rate"}

    @property
    def steps(self) -> int:
        """Optimizer steps ``S``."""
        return self.run.steps

    @property
    def batch_size(self) -> int | None:
        """Examples per step, ``None`` for full batch."""
        return self.run.batch_size

    @property
    def seed(self) -> int | None:
        """The batch-order seed, ``None`` for full batch (no order is drawn)."""
        return None if self.run.batch_size is None else self.run.seed

    @property
    def init(self) -> dict[str, float]:
        """Initial values by scalar parameter name."""
        return dict(self.run.init)

    def fingerprint(self, data_version: str) -> dict:
        """What a checkpoint must share with a run to be resumed by it.

        The run description (:func:`run_spec_record`), the data's version and the
        chunking. ``steps`` is part of it: the last chunk of a finished run is
        shorter than ``chunk_steps``, and XLA may round a scan of another length
        differently in the last bit, so continuing a finished run to more steps
        would not reproduce an uninterrupted run of that length.
        """
        run = run_spec_record(self.run)
        return {
            "data": self.data,
            "data_version": data_version,
            "model": run["model"],
            "model_settings": run["model_settings"],
            "loss": run["loss"],
            "l2": run["l2"],
            "trainable": run["trainable"],
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "hyperparameters": dict(sorted(self.hyperparameters.items())),
            "schedule": run["schedule"],
            "batch_size": self.batch_size,
            "seed": self.seed,
            "dtype": self.dtype,
            "chunk_steps": self.chunk_steps,
            "init": run["init"],
            "features": None if self.features is None else list(self.features),
            "target": self.target,
            "steps": self.steps,
            "eval_every": self.eval_every,
        }


def line_run_spec(data: NamedData, *, optimizer: str, hyperparameters: dict[str, float],
                  steps: int, batch_size: int | None, seed: int | None,
                  init: tuple[float, float]) -> RunSpec:
    """The run description the line's flags stand for: the lesson's line on ``data``.

    ``prediction = x @ w + b`` with half squared error, no L2, every weight
    starting at ``init[0]`` and the bias at ``init[1]``, every parameter trained,
    a constant rate (``hyperparameters["learning_rate"]``).

    Example:
      >>> spec = line_run_spec(named_data("shipments"), optimizer="sgd",
      ...                      hyperparameters={"learning_rate": 0.08}, steps=20,
      ...                      batch_size=None, seed=None, init=(0.0, 0.0))
      >>> spec.model, spec.x.shape, spec.init, spec.trainable
      ('linear', (3, 1), {'w': 0.0, 'b': 0.0}, ('w', 'b'))
    """
    n = int(data.y.shape[0])
    features = int(np.asarray(data.x).reshape(n, -1).shape[1])
    return RunSpec.from_arrays(
        data.x, data.y, data.x_val, data.y_val,
        name="train", description=f"the line on --data {data.name}", model=LINE,
        model_settings={},
        init=line_init(init, features), init_kind="explicit", init_seed=0,
        trainable=tuple(model_kind(LINE).shapes(features=features)), loss=DEFAULT_LOSS,
        l2=0.0, optimizer=optimizer, hyperparams=dict(hyperparameters), schedule=None,
        steps=steps, batch_size=batch_size, seed=0 if seed is None else seed, files={})


LINE = "linear"
"""The model kind the line's flags describe (``--data --optimizer --learning-rate``)."""


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
    """The line's run on ``data`` (the flags' shorthand), validated, defaults filled in.

    Exactly one of ``steps`` and ``epochs``; an epoch is ``n // batch_size``
    steps (one step with full batch). ``seed`` needs ``batch_size`` and
    defaults to 0 with it. ``eval_every`` and ``chunk_steps`` as in
    :func:`spec_settings`.

    Raises:
      SettingError: one line naming the argument (``steps``, ``batch_size``, ...).

    Example:
      >>> s = make_settings(named_data("shipments"), optimizer="sgd", learning_rate=0.08,
      ...                   epochs=20)
      >>> s.steps, s.chunk_steps, s.seed, s.hyperparameters, s.eval_every
      (20, 20, None, {}, 1)
    """
    if (steps is None) == (epochs is None):
        raise SettingError("give exactly one of {steps} and {epochs}")
    if seed is not None and batch_size is None:
        raise SettingError("{seed} sets the mini-batch order; it needs {batch_size}")
    if optimizer not in OPTIMIZER_NAMES:
        raise SettingError(
            f"{{optimizer}}: unknown optimizer {_literal(repr(optimizer))}; expected one of "
            f"{', '.join(OPTIMIZER_NAMES)}"
        )
    try:
        check_learning_rate(learning_rate)
    except (TypeError, ValueError) as err:
        raise SettingError(f"{{learning_rate}}: {_literal(err)}") from None
    hyper = dict(hyperparameters or {})
    if "learning_rate" in hyper:
        raise SettingError("{hyperparameters}: set the learning rate with {learning_rate}")
    try:
        make_optimizer(optimizer, learning_rate=learning_rate, **hyper)  # validates the rest
    except (TypeError, ValueError) as err:
        raise SettingError(f"{{hyperparameters}}: {_literal(err)}") from None
    hyper = {"learning_rate": float(learning_rate), **optimizer_hyperparameters(optimizer),
             **{k: float(v) for k, v in hyper.items()}}
    _check_length(steps=steps, epochs=epochs, batch_size=batch_size, chunk_steps=chunk_steps)
    run = line_run_spec(data, optimizer=optimizer, hyperparameters=hyper, steps=steps or 1,
                        batch_size=batch_size, seed=seed, init=init or data.init)
    return _complete(run, data.name, steps=steps, epochs=epochs, batch_size=batch_size,
                     seed=seed, dtype=dtype, chunk_steps=chunk_steps, eval_every=eval_every,
                     features=data.features, target=data.target)


def spec_settings(
    spec: RunSpec,
    *,
    path,
    text: str,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    dtype: str = "float64",
    chunk_steps: int | None = None,
    eval_every: int | None = None,
) -> TrainSettings:
    """A spec file's run (any model kind, loss, schedule, L2), with ``train``'s overrides.

    ``steps`` or ``epochs`` replace ``[run].steps`` (a training run may be longer
    than a spec's cross-check); ``batch_size`` and ``seed`` replace the spec's.
    ``eval_every`` defaults to :func:`functional_training.default_eval_every` of the
    examples one evaluation reads (training and validation) and the steps, then
    to a divisor of an explicit ``chunk_steps`` (:func:`eval_every_for_chunks`);
    ``chunk_steps`` must be a multiple of ``eval_every`` (or cover the whole
    run) and defaults to the multiple nearest above :data:`DEFAULT_CHUNK_STEPS`.

    Args:
      spec: the run description (:func:`functional_training.runs.parse_run_spec`).
      path: the spec file (recorded in the manifest; data files are relative to it).
      text: the spec file's text (recorded in the manifest: ``rerun`` reads it back).

    Raises:
      SettingError: one line naming the argument.
    """
    if steps is not None and epochs is not None:
        raise SettingError("give at most one of {steps} and {epochs}")
    if seed is not None and batch_size is None and spec.batch_size is None:
        raise SettingError("{seed} sets the mini-batch order; it needs {batch_size}")
    _check_length(steps=steps, epochs=epochs, batch_size=batch_size, chunk_steps=chunk_steps)
    batch = spec.batch_size if batch_size is None else batch_size
    run = dataclasses.replace(spec, batch_size=batch, seed=spec.seed if seed is None else seed)
    if steps is None and epochs is None:
        steps = spec.steps
    return _complete(run, str(path), steps=steps, epochs=epochs, batch_size=batch,
                     seed=run.seed if batch is not None else None, dtype=dtype,
                     chunk_steps=chunk_steps, eval_every=eval_every, spec=text)


def _check_length(**values) -> None:
    for name, value in values.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value <= 0):
            raise SettingError(f"{{{name}}} must be an integer > 0, got {_literal(repr(value))}")


def _complete(run: RunSpec, data_name: str, *, steps, epochs, batch_size, seed, dtype,
              chunk_steps, eval_every, features=None, target=None,
              spec=None) -> TrainSettings:
    """Check what the run description and ``train``'s options say together; fill in defaults."""
    n = int(run.y.shape[0])
    if batch_size is not None and batch_size > n:
        raise SettingError(
            f"{{batch_size}} {batch_size} is larger than the {n} training examples of "
            f"{_literal(data_name)}"
        )
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise SettingError(f"{{seed}} must be an integer >= 0, got {_literal(repr(seed))}")
    elif batch_size is not None:
        seed = 0
    if dtype not in DTYPES:
        raise SettingError(
            f"{{dtype}} must be one of {', '.join(DTYPES)}, got {_literal(repr(dtype))}"
        )
    rate = run.hyperparams.get("learning_rate")
    if rate is not None:
        try:
            check_learning_rate_fits(rate, dtype)
        except (TypeError, ValueError) as err:
            raise SettingError(f"{{learning_rate}}: {_literal(err)}") from None
    if epochs is not None:
        steps = epochs * (1 if batch_size is None else n // batch_size)
    examples = n + (0 if run.y_val is None else int(run.y_val.shape[0]))
    if eval_every is None:
        eval_every = default_eval_every(examples, steps)
        if chunk_steps is not None and chunk_steps < steps:
            eval_every = eval_every_for_chunks(eval_every, chunk_steps)
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
    run = dataclasses.replace(run, steps=steps, batch_size=batch_size,
                              seed=0 if seed is None else seed)
    _check_record_size(run, steps=steps, batch_size=batch_size, eval_every=eval_every,
                       length="{steps}" if epochs is None else "{epochs}")
    return TrainSettings(run=run, data=data_name, chunk_steps=chunk_steps,
                         eval_every=eval_every, dtype=dtype, epochs=epochs,
                         features=features, target=target, spec=spec)


def eval_every_for_chunks(default: int, chunk_steps: int) -> int:
    """The default ``eval_every`` fitted to an explicit ``chunk_steps``: a divisor of it.

    Chunks begin at recorded steps, so ``eval_every`` must divide ``chunk_steps``;
    a default must never make an explicit option invalid. The largest divisor
    not above ``default`` is chosen when it is at least ``default / 2`` (at most
    twice the default's records), else the smallest divisor above it (fewer
    records; at worst one per chunk); ``chunk_steps`` itself when it is below the default.

    Example:
      >>> eval_every_for_chunks(57, 1000), eval_every_for_chunks(57, 997)
      (50, 997)
      >>> eval_every_for_chunks(1, 1000), eval_every_for_chunks(610, 500)
      (1, 500)
      >>> eval_every_for_chunks(3000, 500)
      500
    """
    divisors = sorted({d for i in range(1, math.isqrt(chunk_steps) + 1) if chunk_steps % i == 0
                       for d in (i, chunk_steps // i)})
    below = max(d for d in divisors if d <= default)
    above = [d for d in divisors if d > default]
    if 2 * below >= default or not above:
        return below
    return above[0]


def record_values_per_step(data, *, batch_size: int | None, parameters: int | None = None,
                           extras: int = 0) -> int:
    """Values a run records per recorded step: parameters and gradients, losses, the batch.

    Args:
      data: the run's data (``NamedData`` or a run description: ``x``, ``x_val``).
      batch_size: examples per step (their indices are recorded), ``None`` for full batch.
      parameters: scalar parameters of the model (default the line's, ``d + 1``).
      extras: further series per record (a scheduled rate, accuracies).

    Example:
      >>> record_values_per_step(named_data("shipments"), batch_size=None)
      6
    """
    if parameters is None:
        parameters = _features(data) + 1
    return (2 * parameters + 2 + (data.x_val is not None) + extras
            + (0 if batch_size is None else batch_size))


def record_bytes(data, *, steps: int, batch_size: int | None, eval_every: int = 1,
                 parameters: int | None = None, extras: int = 0) -> int:
    """Memory the records of a ``steps``-step run take at their peak (an estimate, bytes).

    Records are taken at :func:`functional_training.record_steps` ``(steps, eval_every)``;
    ``parameters`` and ``extras`` as in :func:`record_values_per_step`.

    Example:
      >>> record_bytes(named_data("shipments"), steps=1000, batch_size=None)
      288000
      >>> record_bytes(named_data("shipments"), steps=1000, batch_size=None, eval_every=100)
      3168
    """
    per_step = record_values_per_step(data, batch_size=batch_size, parameters=parameters,
                                      extras=extras)
    return record_count(steps, eval_every) * per_step * RECORD_BYTES_PER_VALUE


def _record_shape(run: RunSpec) -> tuple[int, int]:
    """Scalar parameters of the run's model, and its extra series per record."""
    objective = run.objective()
    extras = (run.schedule is not None) + (2 if objective.classifies else 0)
    return len(run.init), extras


def _check_record_size(run: RunSpec, *, steps: int, batch_size: int | None,
                       eval_every: int, length: str) -> None:
    parameters, extras = _record_shape(run)
    size = record_bytes(run, steps=steps, batch_size=batch_size, eval_every=eval_every,
                        parameters=parameters, extras=extras)
    if size > MAX_RECORD_BYTES:
        per_step = record_values_per_step(run, batch_size=batch_size, parameters=parameters,
                                          extras=extras)
        fit = MAX_RECORD_BYTES // (per_step * RECORD_BYTES_PER_VALUE)
        records = record_count(steps, eval_every)
        raise SettingError(
            f"{length}: {steps} steps recorded every {eval_every} would record "
            f"{records * per_step:.3g} values ({per_step} per recorded step), about "
            f"{size / 2**30:.3g} GiB in memory, over the {MAX_RECORD_BYTES / 2**30:g} GiB "
            f"limit: at most {fit} recorded steps fit; pass {{eval_every}} >= "
            f"{-(-steps // max(1, fit - 1))}"
        )


def _features(data) -> int:
    return 1 if data.x.ndim == 1 else int(data.x.shape[1])


def settings_data(settings: TrainSettings):
    """The data ``settings`` were made for, read again (a file is read and hashed anew).

    A ``NamedData`` for the line's flags; for a spec run the run description itself,
    whose data the spec reader read.
    """
    if settings.spec is not None:
        return settings.run
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
    data,
    *,
    checkpoint_dir=None,
    resume: bool = False,
    progress: Progress | None = None,
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

    Returns:
      A :class:`TrainOutcome`. Non-finite values are recorded, not raised.

    Raises:
      ValueError: data that do not fit the model or loss, or a checkpoint that is
        corrupt, incomplete, or from another run.

    Example:
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
                    records=segments[-1],
                )
                parent, last_id = path.name, checkpoint_id(path)
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


def train_manifest(settings: TrainSettings, data, outcome: TrainOutcome) -> dict:
    """The manifest of a training run (see :mod:`functional_training.runs._manifest`).

    A run of the line's flags records them in ``options`` (``data``, ``features``,
    ``target``: the form manifests have always had, so old ones rerun); a spec run
    records its spec (:func:`~functional_training.runs._manifest.spec_options`)
    and the run description it was read into (``options.run``,
    :func:`~functional_training.runs._manifest.run_spec_record`).
    """
    common = {
        "name": "train",
        "init": settings.init,
        "optimizer": settings.optimizer,
        "hyperparameters": settings.hyperparameters,
        "learning_rates": [] if settings.learning_rate is None else [settings.learning_rate],
        "steps": settings.steps,
        "epochs": settings.epochs,
        "batch_size": settings.batch_size,
        "seed": settings.seed,
        "checkpoint": outcome.checkpoint,
        "results": {"trajectory": trajectory_digest(outcome.trajectory)},
    }
    chunks = {"chunk_steps": settings.chunk_steps, "eval_every": settings.eval_every,
              "resumed_from": outcome.resumed_from}
    if settings.spec is None:
        run = run_record(
            **common, data=named_data_record(data), split=data.split,
            options={
                "data": settings.data,
                **data_file_option(settings.data),
                "features": None if settings.features is None else list(settings.features),
                "target": settings.target,
                **chunks,
            },
        )
    else:
        validation = "no validation set" if data.y_val is None else (
            f"{data.y_val.shape[0]} validation examples, never used for gradients")
        run = run_record(
            **common, data=spec_data_record(data, settings.data),
            split=f"all examples train; {validation}",
            options={**spec_options(settings.spec, settings.data),
                     "run": run_spec_record(settings.run), **chunks},
        )
    return build_manifest(tool=TOOL, runs=[run], dtype=settings.dtype)


def settings_from_run(run: dict, *, dtype: str) -> TrainSettings:
    """Rebuild the settings of a training run from its manifest entry (for ``rerun``).

    A spec run (``options.spec``) is read back from its recorded spec text, with the
    recorded steps, batch size and seed; the line's flags from ``options.data``.

    Raises:
      ValueError: one line naming the manifest key that cannot be rerun.
    """
    options = run["options"]
    chunk = options.get("chunk_steps")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk <= 0:
        raise ValueError("manifest: runs[0].options.chunk_steps must be an integer > 0")
    eval_every = options.get("eval_every", 1)  # manifests before eval_every recorded every step
    if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every <= 0:
        raise ValueError("manifest: runs[0].options.eval_every must be an integer > 0")
    if "spec" in options:
        spec = spec_from_options(options)
        try:
            return spec_settings(spec, path=options["spec_path"], text=options["spec"],
                                 steps=run["steps"], batch_size=run["batch_size"],
                                 seed=run["seed"], dtype=dtype, chunk_steps=chunk,
                                 eval_every=eval_every)
        except SettingError as err:
            raise ValueError(f"manifest: {err.naming(_MANIFEST_KEYS)}") from None
    data_name = data_name_for_rerun(options)
    if len(run["learning_rates"]) != 1:
        raise ValueError("manifest: runs[0].learning_rates must hold exactly one rate")
    features, target = options.get("features"), options.get("target")
    if features is not None and (
        not isinstance(features, list) or not all(isinstance(f, str) for f in features)
    ):
        raise ValueError("manifest: runs[0].options.features must be a list of column names")
    if target is not None and not isinstance(target, str):
        raise ValueError("manifest: runs[0].options.target must be a column name")
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
