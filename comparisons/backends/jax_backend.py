"""The jax backend: ``functional_training`` (pure JAX) and optax.

Training experiments run as one jitted ``lax.scan`` through
``functional_training.train`` on the model kind's parameters
(``functional_training.params_from_values``), with ``make_optimizer(name, frozen=...)``
(frozen parameters get zero updates from ``optax.set_to_zero``, their
gradients are still recorded); the trajectory becomes the plain record through
``functional_training.record_from_trajectory`` (the one converter); predictions
are the kind's forward vmapped over the recorded parameters; the gradient check is
``functional_training.check_gradients`` on the batch loss at each ``params[k]``.
float64 runs inside ``functional_training.float64()``, which enables 64-bit
JAX for the call only; float32 runs use float32 arrays explicitly.

JAX has no gradient buffers: ``jax.grad`` returns a fresh gradient every call.
The accumulation experiment therefore emulates the framework's buffer,
``buffer = (0 if zero_grad[k] else buffer) + grad``, which is exactly what
``.grad`` accumulation in PyTorch and the engine computes. shared-path is
``jax.value_and_grad(lambda a: a * a)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import functional_training as ft
from comparisons.backends import _common
from comparisons.experiments import Experiment, batch_order

DESCRIPTION = "JAX: functional_training (jax.grad, optax, one jitted lax.scan)"
REQUIRES = ("jax", "optax")
INSTALL_HINT = "pip install 'jax>=0.4.30' 'optax>=0.2.3'"


def _arrays(experiment: Experiment, rows, dtype) -> tuple[jax.Array, jax.Array]:
    """Features ``(n,)`` for the line on one feature (its scalar ``w``), else ``(n, d)``; y."""
    x = np.asarray([row[:-1] for row in rows], dtype=np.float64)
    if experiment.features == 1 and experiment.model == "linear":
        x = x[:, 0]
    return jnp.asarray(x, dtype), jnp.asarray([row[-1] for row in rows], dtype)


def _batch(x, y, batches, k: int):
    """The examples of step ``k`` (all of them for full batch)."""
    if batches is None:
        return x, y
    index = np.asarray(batches[k])
    return x[index], y[index]


def _initial_params(experiment: Experiment, dtype):
    return jax.tree.map(
        lambda leaf: jnp.asarray(leaf, dtype),
        ft.params_from_values(experiment.model, experiment.init, **experiment.model_config),
    )


def _schedule(experiment: Experiment) -> ft.Schedule | None:
    """The experiment's schedule as optax's (``functional_training.make_schedule``), or None."""
    table = _common.schedule_settings(experiment)
    if table is None:
        return None
    kind = table.pop("kind")
    return ft.make_schedule(kind, **table)


def _run_train(experiment: Experiment, dtype) -> ft.TrajectoryRecord:
    objective = _common.objective_of(experiment)
    settings = _common.optimizer_settings(experiment)
    schedule = _schedule(experiment)
    if schedule is not None:
        settings["learning_rate"] = schedule
    optimizer = ft.make_optimizer(
        experiment.optimizer, frozen=_common.frozen_names(experiment), **settings
    )
    params = _initial_params(experiment, dtype)
    x, y = _arrays(experiment, experiment.train, dtype)
    batches = batch_order(experiment)
    x_val = y_val = None
    if experiment.validation is not None:
        x_val, y_val = _arrays(experiment, experiment.validation, dtype)
    traj = ft.train(
        params, x, y, optimizer=optimizer, steps=experiment.steps,
        batch_indices=None if batches is None else np.asarray(batches, dtype=np.int64),
        x_val=x_val, y_val=y_val, objective=objective, schedule=schedule,
        eval_every=1,  # the trajectory contract: every step, whatever N * S is
    )
    predictions = jax.vmap(objective.outputs, in_axes=(0, None))(traj.params, x)
    extras = {}
    if experiment.kind == "gradient-check":
        numeric: dict[str, list[float]] = {}
        for k in range(experiment.steps):
            at = jax.tree.map(lambda leaf, k=k: leaf[k], traj.params)
            xb, yb = _batch(x, y, batches, k)
            check = ft.check_gradients(objective.mean_loss, at, xb, yb,
                                       eps=float(experiment.fd_epsilon))
            for name, value in ft.named_series(check.numeric, leading=0).items():
                numeric.setdefault(f"numeric.{name}", []).append(float(value))
        extras = numeric
    return ft.record_from_trajectory(traj, predictions=predictions, batches=batches,
                                     extras=extras)


def _run_accumulation(experiment: Experiment, dtype) -> ft.TrajectoryRecord:
    objective = _common.objective_of(experiment)
    params = _initial_params(experiment, dtype)
    x, y = _arrays(experiment, experiment.train, dtype)
    validation = experiment.validation
    if validation is not None:
        x_val, y_val = _arrays(experiment, validation, dtype)
    batches = batch_order(experiment)
    rec = _common.recorder_for(experiment)

    def named(tree) -> dict[str, float]:
        return {name: float(v) for name, v in ft.named_series(tree, leading=0).items()}

    def record_state() -> None:
        extras = {}
        if experiment.classifies:
            extras["train_accuracy"] = objective.accuracy(params, x, y)
            if validation is not None:
                extras["val_accuracy"] = objective.accuracy(params, x_val, y_val)
        rec.state(
            named(params), train_loss=objective.mean_loss(params, x, y),
            val_loss=None if validation is None else objective.mean_loss(params, x_val, y_val),
            predictions=np.asarray(objective.outputs(params, x), dtype=np.float64)
            .reshape(-1).tolist(), extras=extras,
        )

    buffer = jax.tree.map(jnp.zeros_like, params)
    for k in range(experiment.steps):
        record_state()
        xb, yb = _batch(x, y, batches, k)
        loss, grads = objective.loss_and_grad(params, xb, yb)
        if experiment.zero_grad[k]:
            buffer = jax.tree.map(jnp.zeros_like, buffer)
        buffer = jax.tree.map(jnp.add, buffer, grads)
        rec.step(named(buffer), batch_loss=loss)
    record_state()
    return rec.trajectory(batches=batches)


def _run_shared_path(experiment: Experiment, dtype) -> ft.TrajectoryRecord:
    a = jnp.asarray(experiment.init["a"], dtype)
    rec = _common.recorder_for(experiment)
    for _ in range(experiment.steps):
        rec.state({"a": a}, train_loss=a * a)
        square, grad = jax.value_and_grad(lambda a: a * a)(a)
        rec.step({"a": grad}, batch_loss=square)
    rec.state({"a": a}, train_loss=a * a)
    return rec.trajectory(batches=None)


def run(experiment: Experiment, *, dtype: str = "float64") -> ft.TrajectoryRecord:
    """Run ``experiment`` with JAX and optax (CPU or whatever JAX's default device is).

    Args:
      experiment: any :class:`~comparisons.experiments.Experiment`.
      dtype: ``"float64"`` (verification, inside ``functional_training.float64()``)
        or ``"float32"``.

    Returns:
      The :class:`functional_training.TrajectoryRecord`; non-finite values are recorded.

    Raises:
      ValueError: the experiment cannot be run (message names the field).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> traj = run(REGISTRY["shared-path"])
      >>> traj.train_loss, traj.grads
      ([9.0, 9.0], {'a': [6.0]})
    """
    _common.check_run(experiment, dtype)
    # Several features make x @ w a matmul, which recent GPUs would run in TF32 in
    # float32: ask for full precision (docs/accelerators.md).
    with ft.precision(dtype), jax.default_matmul_precision("highest"):
        jax_dtype = jnp.float64 if dtype == "float64" else jnp.float32
        if experiment.kind == "shared-path":
            return _run_shared_path(experiment, jax_dtype)
        if experiment.kind == "accumulation":
            return _run_accumulation(experiment, jax_dtype)
        return _run_train(experiment, jax_dtype)
