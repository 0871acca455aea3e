"""Training as one jitted ``lax.scan``."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from functional_training._loss import check_params
from functional_training._losses import check_targets, loss_kind
from functional_training._models import model_kind
from functional_training._objective import Objective, objective
from functional_training._optimizers import check_learning_rate, check_learning_rate_fits
from functional_training._params import LinearParams
from functional_training._record_plan import (
    MAX_RECORD_BYTES,
    Plan,
    check_eval_every,
    check_record_memory,
    default_eval_every,
    plan_records,
    plan_steps,
    record_count,
    record_plan,
    record_steps,
)
from functional_training._step import check_batch_indices, optimizer_step
from functional_training._trajectory import Trajectory

# Plain SGD with its learning rate held in the optimizer state (a traced value),
# so `train(..., optimizer=0.1)` and `optimizer=0.5` share one compiled program.
# An immutable constant: two pure functions, no state.
_PLAIN_SGD = optax.inject_hyperparams(optax.sgd)(learning_rate=1.0)


def check_data(x, y, *, name: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Validate a data set: ``x`` of shape ``(n,)`` or ``(n, d)``, ``y`` of shape ``(n,)``.

    Raises ``ValueError`` naming the problem for empty, ragged, mismatched or
    non-finite data. Returns the arrays as NumPy (dtype unchanged).
    """
    try:
        x_np, y_np = np.asarray(x), np.asarray(y)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} data is ragged: {err}") from None
    if x_np.ndim not in (1, 2) or y_np.ndim != 1:
        raise ValueError(
            f"{name} data: x must have shape (n,) or (n, d) and y shape (n,), "
            f"got x {x_np.shape} and y {y_np.shape}"
        )
    if x_np.shape[0] != y_np.shape[0]:
        raise ValueError(f"{name} data: x has {x_np.shape[0]} examples but y has {y_np.shape[0]}")
    if y_np.shape[0] == 0:
        raise ValueError(f"{name} data is empty")
    for label, values in (("x", x_np), ("y", y_np)):
        if not np.issubdtype(values.dtype, np.number):
            raise TypeError(f"{name} data: {label} must be numbers, got dtype {values.dtype}")
        if not np.isfinite(values).all():
            raise ValueError(f"{name} data: {label} contains non-finite values")
    return x_np, y_np


def float_params(params):
    """``params`` as a pytree of JAX arrays, and the run's dtype (their result type).

    For ``LinearParams`` one array per field: a list-valued ``w`` (several
    features) is one leaf, not a subtree; any other pytree (an ``MLPParams``)
    keeps its leaves. Every leaf must be floating point (``jax.grad`` takes no
    integers): otherwise a one-line ``TypeError`` naming the leaf.

    Example:
      >>> float_params(LinearParams(1, 0.0))
      Traceback (most recent call last):
      ...
      TypeError: params must be floating point, got w of dtype int32
    """
    if isinstance(params, LinearParams):
        arrays = LinearParams(*(jnp.asarray(p) for p in params))
    else:
        arrays = jax.tree.map(jnp.asarray, params)
    leaves = jax.tree_util.tree_flatten_with_path(arrays)[0]
    if not leaves:
        raise ValueError("params has no leaves")
    for path, value in leaves:
        if not jnp.issubdtype(value.dtype, jnp.floating):
            name = jax.tree_util.keystr(path, simple=True, separator=".")
            raise TypeError(f"params must be floating point, got {name} of dtype {value.dtype}")
    return arrays, jnp.result_type(*(leaf for _, leaf in leaves))


def _lesson_objective(x: np.ndarray) -> Objective:
    """The lesson's objective for ``x`` of shape ``(n,)`` or ``(n, d)``: the line, half SE."""
    return objective("linear", features=1 if x.ndim == 1 else x.shape[1])


def train(
    params,
    x,
    y,
    *,
    optimizer: optax.GradientTransformation | float,
    steps: int,
    batch_indices=None,
    x_val=None,
    y_val=None,
    objective: Objective | None = None,
    schedule: optax.Schedule | None = None,
    eval_every: int | None = None,
) -> Trajectory:
    """Train a model, recording every step or every ``eval_every`` steps.

    Each step ``k`` takes batch ``B_k`` (all examples, or ``batch_indices[k]``,
    gathered on the device inside the compiled loop), computes
    ``batch_loss[k] = L_{B_k}(theta_k)`` and ``g_k = dL_{B_k}/dtheta(theta_k)``,
    and applies ``theta_{k+1} = theta_k + optimizer.update(g_k)``. ``L`` is the
    objective's: the lesson's mean half squared error of the line by default, or
    any model kind, loss kind and L2 weight (:func:`functional_training.objective`).
    The whole loop is one jitted ``jax.lax.scan``; calling again with the same
    optimizer object, an equal objective, ``eval_every``, and data of the same
    shapes and dtypes reuses the compiled program.

    Records are taken at the steps ``P(S, E) = {0, E, 2E, ...} ∪ {S - 1}``
    (:func:`functional_training.record_steps`): there the batch loss, gradient,
    parameters, rate and the full training (and validation) loss and accuracy,
    which read all ``N`` examples; the steps between only train. Memory is
    bounded by the number of records, and records that would take over 4 GiB
    are refused before anything runs.

    Args:
      params: initial parameters, floating point: ``LinearParams`` for the line,
        the kind's pytree otherwise (:func:`functional_training.params_from_values`);
        their dtype sets the run's precision (use :func:`functional_training.float64`
        for float64).
      x: features, shape ``(n,)`` or ``(n, d)``.
      y: targets, shape ``(n,)`` (class indices as floats for softmax cross-entropy).
      optimizer: an ``optax.GradientTransformation`` (compiled once per object:
        :func:`make_optimizer` returns the same object for equal settings), or a
        float meaning plain SGD with that learning rate (traced, so rates share
        one compilation; it must be finite in the params' dtype).
      steps: number of optimizer steps ``S`` > 0.
      batch_indices: optional int array ``(S, batch_size)`` replaying a batch
        order made elsewhere; ``None`` means full batch.
      x_val, y_val: optional validation set, never used for gradients.
      objective: what is minimised; ``None`` is the lesson's line with half
        squared error. Targets that do not fit its loss are refused (one line
        naming the row).
      schedule: the learning-rate schedule the optimizer was built with, if any
        (``optax`` counts updates from 0, so step ``k`` uses ``schedule(k)``);
        the trajectory then records ``learning_rate[k]``.
      eval_every: ``E`` >= 1, steps between records; ``None`` chooses
        :func:`functional_training.default_eval_every` of the examples one
        evaluation reads and ``S``: every step while ``N * S`` is small (the
        lesson), a bounded number of evaluations otherwise.

    Returns:
      A :class:`Trajectory`; its ``record_steps`` is ``None`` when every step
      is recorded, else ``P(S, E)`` (and ``nonfinite_after`` locates the first
      non-finite batch loss between records). Non-finite values are recorded, not raised.
      Classification objectives also record the accuracy at every recorded ``params``.

    Example:
      >>> traj = train(LinearParams(1.0, 0.0), [2.0], [6.0], optimizer=0.1, steps=5)
      >>> [round(float(v), 3) for v in traj.batch_loss]
      [8.0, 2.0, 0.5, 0.125, 0.031]
    """
    if objective is None:
        check_params(params, where="train")
    else:
        objective.check_params(params, where="train")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be an integer > 0, got {steps!r}")
    x_np, y_np = check_data(x, y)
    has_val = x_val is not None or y_val is not None
    if has_val:
        if x_val is None or y_val is None:
            raise ValueError("validation data needs both x_val and y_val")
        xv_np, yv_np = check_data(x_val, y_val, name="validation")
        if xv_np.shape[1:] != x_np.shape[1:]:
            raise ValueError(
                f"validation data has {xv_np.shape[1:] or 'one'} feature(s) per example "
                f"but train data has {x_np.shape[1:] or 'one'}"
            )
    if objective is None:
        objective = _lesson_objective(x_np)
    elif not isinstance(objective, Objective):
        raise TypeError(f"objective must be an Objective (functional_training.objective), "
                        f"got {type(objective).__name__}")
    check_objective_data(objective, x_np, y_np, "train")
    if has_val:
        check_objective_data(objective, xv_np, yv_np, "validation")
    batch_indices = check_batch_indices(batch_indices, steps, x_np.shape[0])
    if schedule is not None and not callable(schedule):
        raise TypeError(f"schedule must be an optax schedule (a function of the step), "
                        f"got {type(schedule).__name__}")
    examples = x_np.shape[0] + (yv_np.shape[0] if has_val else 0)
    eval_every = (default_eval_every(examples, steps) if eval_every is None
                  else check_eval_every(eval_every))

    params, dtype = float_params(params)
    per_record = 2 * sum(int(np.size(leaf)) for leaf in jax.tree.leaves(params)) + 6
    itemsize = jnp.dtype(dtype).itemsize
    fits = MAX_RECORD_BYTES // (per_record * itemsize)
    check_record_memory(record_count(steps, eval_every) + 1, per_record, itemsize,
                        what=f"train: {steps} steps with eval_every={eval_every}",
                        fix=f"pass eval_every >= {-(-steps // max(1, fits - 2))}")
    points = record_steps(steps, eval_every)  # after the check: it holds one int per record
    x, y = jnp.asarray(x_np, dtype), jnp.asarray(y_np, dtype)
    if has_val:
        x_val, y_val = jnp.asarray(x_val, dtype), jnp.asarray(y_val, dtype)

    if isinstance(optimizer, optax.GradientTransformation):
        opt_state = optimizer.init(params)
    elif isinstance(optimizer, (int, float)) and not isinstance(optimizer, bool):
        rate = check_learning_rate_fits(check_learning_rate(optimizer), dtype)
        opt_state = _PLAIN_SGD.init(params)
        opt_state.hyperparams["learning_rate"] = jnp.asarray(rate, dtype)
        optimizer = _PLAIN_SGD
    else:
        raise TypeError(
            "optimizer must be an optax.GradientTransformation or a learning rate, "
            f"got {type(optimizer).__name__}"
        )
    plan = record_plan(0, steps, points)
    trajectory = _train_scan(optimizer, plan, objective, schedule, params, opt_state, x, y,
                             batch_indices, x_val, y_val)
    if points.size == steps:  # every step recorded: the records say where divergence began
        return trajectory._replace(nonfinite_after=None)
    return trajectory._replace(record_steps=points)


def check_objective_data(objective: Objective, x: np.ndarray, y: np.ndarray, name: str) -> None:
    """The data fit the objective: rows as wide as the kind's inputs, targets its loss takes.

    ``x`` and ``y`` are :func:`check_data`'s arrays (finite numbers). Reads only what
    the kind states (``inputs``, ``outputs``): no branch on its name.
    """
    kind = model_kind(objective.model)
    settings = objective.settings
    d = kind.inputs(**settings)
    if not ((x.ndim == 1 and d == 1) or (x.ndim == 2 and x.shape[1] == d)):
        raise ValueError(f"{name} data: the {kind.name} model takes {d} feature(s), so x must "
                         f"have shape (n, {d}), got {x.shape}")
    if loss_kind(objective.loss).targets == "real":
        return  # real targets need only be finite: check_data has checked them
    try:
        check_targets(objective.loss, y, classes=kind.outputs(**settings))
    except ValueError as err:
        raise ValueError(f"{name} data: {err}") from None




class StepRecords(NamedTuple):
    """What :func:`train_chunk` records per step (leading axis: the chunk's steps).

    Attributes:
      params, grads: pytrees like the parameters: ``theta_k`` and ``g_k``.
      batch_loss, train_loss: ``L_{B_k}(theta_k)`` and the full training loss there.
      val_loss: the validation loss at ``theta_k`` (``None`` without validation).
      learning_rate: ``schedule(k)``, the rate of step ``k`` (``None`` without a schedule).
      train_accuracy, val_accuracy: accuracy at ``theta_k`` (``None`` unless the
        objective classifies; ``val_accuracy`` also ``None`` without validation).
      nonfinite_after: int32: the first step of the segment this record begins
        (the record's step and the quiet steps up to the next record) whose batch
        loss is non-finite, or -1: divergence located to the step between records.
    """

    params: Any
    grads: Any
    batch_loss: jax.Array
    train_loss: jax.Array
    val_loss: jax.Array | None
    learning_rate: jax.Array | None = None
    train_accuracy: jax.Array | None = None
    val_accuracy: jax.Array | None = None
    nonfinite_after: jax.Array | None = None


@functools.partial(jax.jit, static_argnums=(0, 1), static_argnames=("objective", "schedule"))
def train_chunk(optimizer, plan, params, opt_state, x, y, batch_indices, x_val, y_val, *,
                objective: Objective | None = None, schedule=None, start=0):
    """Optimizer steps as one jitted program, continuing from ``opt_state``.

    The step of :func:`train`: at ``theta_k`` take the batch loss and gradient
    (the batch ``x[batch_indices[k]]`` gathered on the device), apply the optax
    update, and at recorded steps also the full train (and validation) losses.
    ``plan`` says which steps record: an int ``length`` records every one of
    ``length`` steps; a plan from :func:`functional_training.record_plan` (a
    tuple of ``(count, length, recorded)`` pieces) runs each piece as a
    ``lax.scan`` of ``count`` segments whose first step records when
    ``recorded`` and whose other ``length - 1`` steps only train.
    Long runs call this chunk after chunk (checkpointing between chunks); the
    optimizer, the plan, the objective (default the lesson's line) and the
    schedule are static, so chunks with one plan reuse one compiled program.
    ``start`` is the step count before the chunk (for the recorded rate).

    Returns:
      ``(params, opt_state, records)`` after the chunk, where ``records`` is a
      :class:`StepRecords` stacked over the chunk's recorded steps.

    Raises:
      ValueError: a plan that records nothing, or ``batch_indices`` whose rows
        are not the plan's steps.
    """
    objective = objective or _lesson_objective(np.empty(x.shape[:2] if x.ndim == 2 else (0,)))
    plan = _as_plan(plan)
    if plan_records(plan) == 0:
        raise ValueError(f"train_chunk: plan {plan} records no step")
    steps = plan_steps(plan)
    if batch_indices is not None and batch_indices.shape[0] != steps:
        raise ValueError(f"train_chunk: batch_indices has {batch_indices.shape[0]} rows "
                         f"for a plan of {steps} steps")

    def train_step(carry, indices):
        params, opt_state, count, bad = carry
        new_params, new_opt_state, batch_loss, grads = optimizer_step(
            objective.loss_and_grad, optimizer, params, opt_state, x, y, indices)
        bad = jnp.where((bad < 0) & ~jnp.isfinite(batch_loss), count, bad)
        return (new_params, new_opt_state, count + 1, bad), (batch_loss, grads)

    def recorded_step(carry, indices):
        params, _, count, _ = carry
        new_carry, (batch_loss, grads) = train_step(carry, indices)
        train_loss, val_loss = full_losses(params, x, y, x_val, y_val, objective=objective)
        record = StepRecords(
            params, grads, batch_loss, train_loss, val_loss,
            None if schedule is None else jnp.asarray(schedule(count), batch_loss.dtype),
            *accuracies(params, x, y, x_val, y_val, objective=objective),
        )
        return new_carry, record

    def quiet_steps(carry, indices, length):
        if length == 0:
            return carry
        return jax.lax.scan(lambda c, i: (train_step(c, i)[0], None), carry, indices,
                            length=length)[0]

    def segment_of(length, recorded):
        def segment(carry, indices):
            first = None if indices is None else indices[0]
            rest = None if indices is None else indices[1:]
            carry = (*carry[:3], jnp.asarray(-1, jnp.int32))  # no non-finite step seen yet
            if recorded:
                carry, record = recorded_step(carry, first)
            else:
                carry, record = train_step(carry, first)[0], None
            carry = quiet_steps(carry, rest, length - 1)
            if record is not None:
                record = record._replace(nonfinite_after=carry[3])
            return carry, record
        return segment

    carry = (params, opt_state, jnp.asarray(start, jnp.int32), jnp.asarray(-1, jnp.int32))
    pieces, offset = [], 0
    for count, length, recorded in plan:
        block = None
        if batch_indices is not None:
            block = batch_indices[offset:offset + count * length].reshape(
                count, length, *batch_indices.shape[1:])
        carry, records = jax.lax.scan(segment_of(length, recorded), carry, block, length=count)
        if recorded:
            pieces.append(records)
        offset += count * length
    records = pieces[0] if len(pieces) == 1 else jax.tree.map(
        lambda *parts: jnp.concatenate(parts), *pieces)
    params, opt_state, _, _ = carry
    return params, opt_state, records


def _as_plan(plan) -> Plan:
    """An int ``length`` as the plan recording each of ``length`` steps; a plan as itself."""
    if isinstance(plan, (int, np.integer)) and not isinstance(plan, bool):
        if plan < 1:
            raise ValueError(f"train_chunk: length must be >= 1, got {plan}")
        return ((int(plan), 1, True),)
    return tuple(tuple(piece) for piece in plan)


@functools.partial(jax.jit, static_argnames=("objective",))
def full_losses(params, x, y, x_val, y_val, *, objective: Objective | None = None):
    """Mean loss on the whole training set, and on the validation set (``None`` without one).

    ``objective`` defaults to the lesson's line with half squared error.
    """
    objective = objective or _lesson_objective(np.empty(x.shape[:2] if x.ndim == 2 else (0,)))
    return (objective.mean_loss(params, x, y),
            None if x_val is None else objective.mean_loss(params, x_val, y_val))


def accuracies(params, x, y, x_val, y_val, *, objective: Objective):
    """Train and validation accuracy at ``params`` (``None`` where it means nothing)."""
    if not objective.classifies:
        return None, None
    return (objective.accuracy(params, x, y),
            None if x_val is None else objective.accuracy(params, x_val, y_val))


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _train_scan(optimizer, plan, objective, schedule, params, opt_state, x, y, batch_indices,
                x_val, y_val):
    final, _, records = train_chunk(
        optimizer, plan, params, opt_state, x, y, batch_indices, x_val, y_val,
        objective=objective, schedule=schedule,
    )
    final_train, final_val = full_losses(final, x, y, x_val, y_val, objective=objective)
    final_accuracy, final_val_accuracy = accuracies(final, x, y, x_val, y_val,
                                                    objective=objective)

    def append(series, last):
        return None if series is None else jnp.concatenate([series, last[None]])

    return Trajectory(
        params=jax.tree.map(append, records.params, final),
        grads=records.grads,
        batch_loss=records.batch_loss,
        train_loss=append(records.train_loss, final_train),
        val_loss=append(records.val_loss, final_val),
        learning_rate=records.learning_rate,
        train_accuracy=append(records.train_accuracy, final_accuracy),
        val_accuracy=append(records.val_accuracy, final_val_accuracy),
        nonfinite_after=records.nonfinite_after,
    )
