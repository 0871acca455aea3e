"""What every backend checks and records the same way (no backend lives here).

- :func:`check_run`: the dtype, the experiment's kind and its fields, before any work.
- :func:`optimizer_settings`: the optimizer's hyperparameters, every value explicit.
- :class:`Recorder`: collects per-step values into a
  :class:`functional_training.TrajectoryRecord` of the contract's shape (which
  series an experiment records is :func:`comparisons.backends._loop.recorder_for`'s).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from comparisons.backends.update_rules import schedule_rule
from comparisons.experiments import KINDS, Experiment
from functional_training import (
    DTYPES,
    MODEL_KINDS,
    OPTIMIZER_NAMES,
    REDUCTIONS,
    SCHEDULES,
    Objective,
    TrajectoryRecord,
    check_hyperparameters,
    check_schedule,
    check_targets,
    leaf_of,
    leaves_of,
    loss_kind,
    model_kind,
    objective,
)

FLOAT_MAX = {"float64": sys.float_info.max, "float32": 3.4028234663852886e38}
"""Largest finite value per dtype (``numpy.finfo(dtype).max``)."""


def check_dtype(dtype: str) -> str:
    """``dtype`` if it is one of :data:`DTYPES`, else ``ValueError``.

    Example:
      >>> check_dtype("float32")
      'float32'
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return dtype


def _finite_number(value: object, label: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{label} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{label} must be finite, got {value}")
    return float(value)


def optimizer_settings(experiment: Experiment) -> dict[str, float]:
    """The experiment's optimizer hyperparameters, validated, defaults filled in.

    ``learning_rate`` must be finite and > 0 (a huge rate is allowed: divergence
    is data); every other setting is checked against the one optimizer table,
    :data:`functional_training.OPTIMIZERS`, by
    :func:`functional_training.check_hyperparameters` (``b1``, ``b2``,
    ``momentum`` in [0, 1); ``eps``, ``weight_decay`` finite and >= 0;
    Nesterov needs ``momentum > 0``). Every backend calls this, so they accept
    and reject the same experiments as the JAX core and the spec reader.

    Returns:
      ``{"learning_rate": .., **hyperparameters}``; ``{}`` for optimizer ``none``.

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> optimizer_settings(REGISTRY["optimizer/momentum"])
      {'learning_rate': 0.02, 'momentum': 0.9}
    """
    name, given = experiment.optimizer, dict(experiment.hyperparams)
    if name == "none":
        if given:
            raise ValueError(f"optimizer 'none' takes no hyperparameters, got {sorted(given)}")
        return {}
    if name not in OPTIMIZER_NAMES:
        raise ValueError(
            f"unknown optimizer {name!r}; expected one of none, {', '.join(OPTIMIZER_NAMES)}"
        )
    rate = {}
    if experiment.schedule is not None:
        if "learning_rate" in given:
            raise ValueError("give the learning rate as the schedule or as learning_rate, "
                             "not both")
    else:
        if "learning_rate" not in given:
            raise ValueError(f"optimizer {name!r} needs a learning_rate")
        rate = {"learning_rate": _finite_number(given.pop("learning_rate"), "learning_rate")}
        if rate["learning_rate"] <= 0:
            raise ValueError(f"learning_rate must be > 0, got {rate['learning_rate']}")
    try:
        return {**rate, **check_hyperparameters(name, given)}
    except TypeError as err:  # a key the optimizer does not take: the experiment is invalid
        raise ValueError(str(err)) from None


def schedule_settings(experiment: Experiment) -> dict | None:
    """The experiment's schedule table with every default filled in, or ``None``.

    Checked against :data:`functional_training.SCHEDULES` by
    :func:`functional_training.check_schedule` (one-line ``ValueError``).

    Example:
      >>> from dataclasses import replace
      >>> from comparisons.experiments import REGISTRY
      >>> e = replace(REGISTRY["five-steps"], hyperparams={},
      ...             schedule={"kind": "constant", "value": 0.1})
      >>> schedule_settings(e)
      {'kind': 'constant', 'value': 0.1}
    """
    if experiment.schedule is None:
        return None
    table = dict(experiment.schedule)
    kind = table.pop("kind", None)
    if not isinstance(kind, str):
        raise ValueError(f"schedule needs a kind, one of {', '.join(SCHEDULES)}")
    return {"kind": kind, **check_schedule(kind, table)}


def learning_rate(experiment: Experiment) -> float | Callable[[int], float]:
    """The rate the hand-written rules apply: the constant, or the schedule's rule by step.

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> learning_rate(REGISTRY["five-steps"])
      0.1
    """
    schedule = schedule_settings(experiment)
    if schedule is None:
        return optimizer_settings(experiment)["learning_rate"]
    return schedule_rule(schedule)


def check_run(experiment: Experiment, dtype: str) -> None:
    """Raise ``ValueError`` naming the first thing that makes ``experiment`` unrunnable.

    Checks the dtype, the kind, the data, the parameters and the kind's own
    fields. Every hyperparameter must be finite in ``dtype`` (a rate of 1e300
    exists in float64, not in float32). Gradient checks are float64 only
    (centered differences in float32 are dominated by rounding: ``u / eps``
    with ``u = 6e-8``).
    """
    check_dtype(dtype)
    if experiment.reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}, "
                         f"got {experiment.reduction!r}")
    if experiment.reduction != "mean" and experiment.kind != "train":
        raise ValueError(f"reduction {experiment.reduction!r} applies to train experiments, "
                         f"not {experiment.kind}")
    if experiment.reduction == "sum" and experiment.batch_size is None and (
            experiment.order is not None):
        raise ValueError("reduction 'sum' divides by the batch size: a replayed batch order "
                         "needs [run] batch_size")
    for key, value in optimizer_settings(experiment).items():
        if abs(value) > FLOAT_MAX[dtype]:
            raise ValueError(f"{key} = {value:g} overflows {dtype} (largest {FLOAT_MAX[dtype]:g})")
    schedule = schedule_settings(experiment)
    if schedule is not None and experiment.optimizer == "none":
        raise ValueError("a schedule needs an optimizer, got 'none'")
    kind = experiment.kind
    if kind not in KINDS:
        raise ValueError(f"unknown experiment kind {kind!r}; expected one of {', '.join(KINDS)}")
    if isinstance(experiment.steps, bool) or not isinstance(experiment.steps, int) or (
        experiment.steps <= 0
    ):
        raise ValueError(f"steps must be an integer > 0, got {experiment.steps!r}")
    if kind == "gradient-check":
        if dtype != "float64":
            raise ValueError(
                "gradient-check runs in float64 only (finite differences in "
                f"{dtype} are rounding noise), got dtype {dtype!r}"
            )
        eps = experiment.fd_epsilon
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (
            math.isfinite(eps) and eps > 0
        ):
            raise ValueError(f"gradient-check needs fd_epsilon > 0, got {eps!r}")
    if kind == "shared-path":
        if set(experiment.init) != {"a"}:
            raise ValueError(f"shared-path needs init {{'a': ..}}, got {sorted(experiment.init)}")
        _finite_number(experiment.init["a"], "init a")
        if experiment.optimizer != "none":
            raise ValueError(f"shared-path takes optimizer 'none', got {experiment.optimizer!r}")
        return
    if experiment.model not in MODEL_KINDS:
        raise ValueError(
            f"unknown model kind {experiment.model!r}; expected one of {', '.join(MODEL_KINDS)}"
        )
    _check_rows(experiment)
    _check_objective(experiment)
    _check_replayed(experiment)
    names = experiment.parameter_names
    if set(experiment.init) != set(names):
        raise ValueError(f"{kind} needs init for {', '.join(names)}, got {sorted(experiment.init)}")
    for name in names:
        _finite_number(experiment.init[name], f"init {name}")
    leaves = leaves_of(names)
    unknown = sorted(set(experiment.trainable) - set(leaves))
    if unknown:
        raise ValueError(
            f"trainable names unknown parameters {unknown}; parameters are {', '.join(leaves)}"
        )
    if kind == "accumulation":
        if experiment.optimizer != "none":
            raise ValueError(f"accumulation takes optimizer 'none', got {experiment.optimizer!r}")
        flags = experiment.zero_grad
        if flags is None or len(flags) != experiment.steps:
            raise ValueError(
                f"accumulation needs zero_grad with one flag per step ({experiment.steps}), "
                f"got {flags!r}"
            )
    elif experiment.optimizer == "none":
        raise ValueError(f"{kind} needs an optimizer, got 'none'")
    if experiment.batch_size is not None and not (
        isinstance(experiment.batch_size, int)
        and 0 < experiment.batch_size <= len(experiment.train)
    ):
        raise ValueError(
            f"batch_size must be an integer in [1, {len(experiment.train)}], "
            f"got {experiment.batch_size!r}"
        )


def _check_replayed(experiment: Experiment) -> None:
    """Nothing is left to a trajectory, and an explicit order has one batch per step in range."""
    left = experiment.left_to_trajectory()
    if left:
        raise ValueError(f"the spec gives no {' and no '.join(left)} (left to a trajectory: "
                         "only `comparisons check` takes them from the trajectory it checks)")
    if experiment.order is None:
        return
    if len(experiment.order) != experiment.steps:
        raise ValueError(f"the batch order has {len(experiment.order)} batches for "
                         f"{experiment.steps} steps")
    n = len(experiment.train)
    for k, row in enumerate(experiment.order):
        if not row:
            raise ValueError(f"batch {k} of the batch order is empty")
        bad = [i for i in row if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n]
        if bad:
            raise ValueError(f"batch {k} of the batch order holds example index {bad[0]!r}, "
                             f"outside the {n} training examples")


def _check_rows(experiment: Experiment) -> None:
    """Every train and validation row is ``(x_1, ..., x_d, target)`` of finite numbers, one d."""
    width = None
    for label, records in (("train", experiment.train), ("validation", experiment.validation)):
        if records is None and label == "validation":
            continue
        if not records:
            raise ValueError(f"{label} data is empty")
        if _plain_rows(records, width):  # every value a finite float, one width: no message
            width = len(records[0])
            continue
        for i, row in enumerate(records):
            if not isinstance(row, (tuple, list)) or len(row) < 2:
                raise ValueError(f"{label} record {i} must be (x_1, ..., x_d, target), got {row!r}")
            if width is None:
                width = len(row)
            elif len(row) != width:
                raise ValueError(
                    f"{label} record {i} has {len(row) - 1} features, the first train record "
                    f"has {width - 1}"
                )
            for value in row:
                _finite_number(value, f"{label} record {i}")


def _plain_rows(records, width: int | None) -> bool:
    """Rows of floats (``tuple``/``list``), all of one width (``width`` if given), all finite:
    checked at once for a large data set; anything else goes value by value for the message."""
    first = records[0]
    if not isinstance(first, (tuple, list)) or len(first) < 2 or (
            width is not None and len(first) != width):
        return False
    if not all(isinstance(row, (tuple, list)) and len(row) == len(first) for row in records):
        return False
    if not all(type(value) is float for row in records for value in row):
        return False
    return bool(np.isfinite(np.asarray(records, dtype=np.float64)).all())


def objective_of(experiment: Experiment) -> Objective:
    """The experiment's model kind, configuration, loss and L2 weight as one checked value.

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> objective_of(REGISTRY["five-steps"]).loss
      'half-squared-error'
    """
    try:
        return objective(experiment.model, loss=experiment.loss, l2=experiment.l2,
                         **experiment.model_config)
    except TypeError as err:
        raise ValueError(str(err)) from None


def _check_objective(experiment: Experiment) -> None:
    """The model takes the data's features, and every target fits the loss.

    The model kind states its input width and output count
    (``ModelKind.inputs``/``outputs``), the loss kind the outputs it needs
    (``LossKind.outputs_problem``); nothing here reads a kind's name or settings.
    """
    kind, config = model_kind(experiment.model), experiment.model_config
    width = kind.inputs(**config)
    if width != experiment.features:
        raise ValueError(f"the {experiment.model} takes {width} feature(s) but "
                         f"the data has {experiment.features}")
    for label, records in (("train", experiment.train), ("validation", experiment.validation)):
        if records is None:
            continue
        try:
            check_targets(experiment.loss, [row[-1] for row in records],
                          classes=experiment.outputs)
        except ValueError as err:
            raise ValueError(f"{label} data: {err}") from None
    problem = loss_kind(experiment.loss).outputs_problem(kind.outputs(**config))
    if problem is not None:
        raise ValueError(f"loss {problem}")


def frozen_names(experiment: Experiment) -> tuple[str, ...]:
    """Parameter leaves the optimizer never moves (their gradients are still recorded).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> frozen_names(REGISTRY["train-validation"])
      ('b',)
    """
    return tuple(leaf for leaf in leaves_of(experiment.parameter_names)
                 if leaf not in experiment.trainable)


def trainable_names(experiment: Experiment) -> list[str]:
    """The scalar parameter names the optimizer moves (those of trainable leaves).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> trainable_names(REGISTRY["train-validation"])
      ['w']
    """
    return [n for n in experiment.parameter_names if leaf_of(n) in experiment.trainable]


class Recorder:
    """Collects one run into the trajectory contract.

    Call :meth:`state` for ``params[k]`` (k = 0..S) and :meth:`step` for the
    gradient taken there (k = 0..S-1), alternating, then :meth:`trajectory`.
    ``extras`` name series recorded per step (``S`` values: finite differences,
    the scheduled ``learning_rate``), ``state_extras`` series recorded at every
    ``params[k]`` (``S + 1`` values: ``train_accuracy``, ``val_accuracy``).

    Example:
      >>> rec = Recorder(("w",), validation=False, predictions=False)
      >>> rec.state({"w": 1.0}, train_loss=8.0)
      >>> rec.step({"w": -8.0}, batch_loss=8.0)
      >>> rec.state({"w": 1.8}, train_loss=2.0)
      >>> traj = rec.trajectory(batches=None)
      >>> traj.params, traj.grads, traj.train_loss
      ({'w': [1.0, 1.8]}, {'w': [-8.0]}, [8.0, 2.0])
    """

    def __init__(
        self, names: Sequence[str], *, validation: bool, predictions: bool,
        extras: Sequence[str] = (), state_extras: Sequence[str] = (),
    ) -> None:
        self._params: dict[str, list[float]] = {name: [] for name in names}
        self._grads: dict[str, list[float]] = {name: [] for name in names}
        self._batch_loss: list[float] = []
        self._train_loss: list[float] = []
        self._val_loss: list[float] | None = [] if validation else None
        self._predictions: list[list[float]] | None = [] if predictions else None
        self._extras: dict[str, list[float]] = {key: [] for key in extras}
        self._state_extras: dict[str, list[float]] = {key: [] for key in state_extras}

    def state(
        self, params: Mapping[str, float], *, train_loss: float, val_loss: float | None = None,
        predictions: Sequence[float] | None = None, extras: Mapping[str, float] | None = None,
    ) -> None:
        """Record ``params[k]``, the full losses (and predictions, and state extras) there."""
        for name, values in self._params.items():
            values.append(float(params[name]))
        self._train_loss.append(float(train_loss))
        if self._val_loss is not None:
            self._val_loss.append(float(val_loss))
        if self._predictions is not None:
            self._predictions.append([float(p) for p in predictions])
        for key, values in self._state_extras.items():
            values.append(float(extras[key]))

    def step(
        self, grads: Mapping[str, float], *, batch_loss: float,
        extras: Mapping[str, float] | None = None,
    ) -> None:
        """Record the gradient (or buffer) and batch loss of step k, and its extras."""
        for name, values in self._grads.items():
            values.append(float(grads[name]))
        self._batch_loss.append(float(batch_loss))
        for key, values in self._extras.items():
            values.append(float(extras[key]))

    def trajectory(self, *, batches: list[list[int]] | None) -> TrajectoryRecord:
        """The recorded run; raises ``ValueError`` if a series has the wrong length."""
        trajectory = TrajectoryRecord(
            params=self._params, grads=self._grads, batch_loss=self._batch_loss,
            train_loss=self._train_loss, val_loss=self._val_loss,
            predictions=self._predictions, batches=batches,
            extras={**self._extras, **self._state_extras},
        )
        trajectory.check_lengths()
        return trajectory
