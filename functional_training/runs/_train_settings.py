"""Training-run settings: the run description plus how ``train`` carries it out, checked.

:class:`TrainSettings` holds the run description (a
:class:`~functional_training.runs.RunSpec`; the line's flags build one with
:func:`line_run_spec`) and what changes no recorded value: the data's name or the
spec file, ``chunk_steps``, ``eval_every``, ``dtype``. :func:`make_settings` (the
line's flags) and :func:`spec_settings` (a spec with ``train``'s overrides) build it
and refuse bad settings with a :class:`SettingError` naming the argument; the
records' memory is checked here, before anything runs.
"""


from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from functional_training._datasets import NamedData, named_data
from functional_training._losses import DEFAULT_LOSS
from functional_training._models import model_kind
from functional_training._optimizers import (
    OPTIMIZER_NAMES,
    check_learning_rate,
    check_learning_rate_fits,
    make_optimizer,
    optimizer_hyperparameters,
)
from functional_training._precision import DTYPES
from functional_training._record_plan import (
    MAX_RECORD_BYTES,
    check_eval_every,
    default_eval_every,
    record_count,
)
from functional_training.runs._manifest import (
    line_init,
    run_spec_record,
)
from functional_training.runs._spec import RunSpec

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


def literal(value) -> str:
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
            f"{{optimizer}}: unknown optimizer {literal(repr(optimizer))}; expected one of "
            f"{', '.join(OPTIMIZER_NAMES)}"
        )
    try:
        check_learning_rate(learning_rate)
    except (TypeError, ValueError) as err:
        raise SettingError(f"{{learning_rate}}: {literal(err)}") from None
    hyper = dict(hyperparameters or {})
    if "learning_rate" in hyper:
        raise SettingError("{hyperparameters}: set the learning rate with {learning_rate}")
    try:
        make_optimizer(optimizer, learning_rate=learning_rate, **hyper)  # validates the rest
    except (TypeError, ValueError) as err:
        raise SettingError(f"{{hyperparameters}}: {literal(err)}") from None
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
            raise SettingError(f"{{{name}}} must be an integer > 0, got {literal(repr(value))}")


def _complete(run: RunSpec, data_name: str, *, steps, epochs, batch_size, seed, dtype,
              chunk_steps, eval_every, features=None, target=None,
              spec=None) -> TrainSettings:
    """Check what the run description and ``train``'s options say together; fill in defaults."""
    n = int(run.y.shape[0])
    if batch_size is not None and batch_size > n:
        raise SettingError(
            f"{{batch_size}} {batch_size} is larger than the {n} training examples of "
            f"{literal(data_name)}"
        )
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise SettingError(f"{{seed}} must be an integer >= 0, got {literal(repr(seed))}")
    elif batch_size is not None:
        seed = 0
    if dtype not in DTYPES:
        raise SettingError(
            f"{{dtype}} must be one of {', '.join(DTYPES)}, got {literal(repr(dtype))}"
        )
    rate = run.hyperparams.get("learning_rate")
    if rate is not None:
        try:
            check_learning_rate_fits(rate, dtype)
        except (TypeError, ValueError) as err:
            raise SettingError(f"{{learning_rate}}: {literal(err)}") from None
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
            raise SettingError("{eval_every}" + literal(str(err).removeprefix("eval_every"))) \
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
        parameters = feature_count(data) + 1
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


def feature_count(data) -> int:
    return 1 if data.x.ndim == 1 else int(data.x.shape[1])


def settings_data(settings: TrainSettings):
    """The data ``settings`` were made for, read again (a file is read and hashed anew).

    A ``NamedData`` for the line's flags; for a spec run the run description itself,
    whose data the spec reader read.
    """
    if settings.spec is not None:
        return settings.run
    return named_data(settings.data, features=settings.features, target=settings.target)


