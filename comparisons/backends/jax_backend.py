"""The jax backend: ``functional_training`` (pure JAX) and optax.

Training experiments run as one jitted ``lax.scan`` through
``functional_training.train`` with ``make_optimizer(name, frozen=...)``
(frozen parameters get zero updates from ``optax.set_to_zero``, their
gradients are still recorded); predictions are ``functional_training.predict``
vmapped over the recorded parameters; the gradient check is
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

from comparisons.backends import _common
from comparisons.experiments import Experiment, batch_order
from functional_training import TrajectoryRecord

DESCRIPTION = "JAX: functional_training (jax.grad, optax, one jitted lax.scan)"
REQUIRES = ("jax", "optax")
INSTALL_HINT = "pip install 'jax>=0.4.30' 'optax>=0.2.3'"


def _floats(array) -> list:
    """A JAX array as (nested) Python floats, exactly."""
    import numpy as np

    return np.asarray(array, dtype=np.float64).tolist()


def _run_train(experiment: Experiment, dtype) -> TrajectoryRecord:
    import jax
    import jax.numpy as jnp
    import numpy as np

    import functional_training as ft

    settings = _common.optimizer_settings(experiment)
    optimizer = ft.make_optimizer(
        experiment.optimizer, frozen=_common.frozen_names(experiment), **settings
    )
    params = ft.LinearParams(*(jnp.asarray(experiment.init[n], dtype) for n in ("w", "b")))
    x = jnp.asarray(experiment.xs, dtype)
    y = jnp.asarray(experiment.ys, dtype)
    batches = batch_order(experiment)
    x_val = y_val = None
    if experiment.validation is not None:
        x_val = [r[0] for r in experiment.validation]
        y_val = [r[1] for r in experiment.validation]
    traj = ft.train(
        params, np.asarray(experiment.xs), np.asarray(experiment.ys), optimizer=optimizer,
        steps=experiment.steps,
        batch_indices=None if batches is None else np.asarray(batches, dtype=np.int64),
        x_val=x_val, y_val=y_val,
    )
    predictions = jax.vmap(ft.predict, in_axes=(0, None))(traj.params, x)
    extras = {}
    if experiment.kind == "gradient-check":
        numeric = {"numeric.w": [], "numeric.b": []}
        for k in range(experiment.steps):
            at = ft.LinearParams(traj.params.w[k], traj.params.b[k])
            xb, yb = (x, y) if batches is None else (x[batches[k]], y[batches[k]])
            check = ft.check_gradients(ft.mean_loss, at, xb, yb, eps=float(experiment.fd_epsilon))
            numeric["numeric.w"].append(float(check.numeric.w))
            numeric["numeric.b"].append(float(check.numeric.b))
        extras = numeric
    trajectory = TrajectoryRecord(
        params={"w": _floats(traj.params.w), "b": _floats(traj.params.b)},
        grads={"w": _floats(traj.grads.w), "b": _floats(traj.grads.b)},
        batch_loss=_floats(traj.batch_loss),
        train_loss=_floats(traj.train_loss),
        val_loss=None if traj.val_loss is None else _floats(traj.val_loss),
        predictions=_floats(predictions),
        batches=batches,
        extras=extras,
    )
    trajectory.check_lengths()
    return trajectory


def _run_accumulation(experiment: Experiment, dtype) -> TrajectoryRecord:
    import jax
    import jax.numpy as jnp

    import functional_training as ft

    params = ft.LinearParams(*(jnp.asarray(experiment.init[n], dtype) for n in ("w", "b")))
    x, y = jnp.asarray(experiment.xs, dtype), jnp.asarray(experiment.ys, dtype)
    validation = experiment.validation
    if validation is not None:
        x_val = jnp.asarray([r[0] for r in validation], dtype)
        y_val = jnp.asarray([r[1] for r in validation], dtype)
    batches = batch_order(experiment)
    rec = _common.recorder_for(experiment)

    def record_state() -> None:
        rec.state(
            params._asdict(), train_loss=ft.mean_loss(params, x, y),
            val_loss=None if validation is None else ft.mean_loss(params, x_val, y_val),
            predictions=_floats(ft.predict(params, x)),
        )

    buffer = jax.tree.map(jnp.zeros_like, params)
    for k in range(experiment.steps):
        record_state()
        xb, yb = (x, y) if batches is None else (x[batches[k]], y[batches[k]])
        loss, grads = ft.loss_and_grad(params, xb, yb)
        if experiment.zero_grad[k]:
            buffer = jax.tree.map(jnp.zeros_like, buffer)
        buffer = jax.tree.map(jnp.add, buffer, grads)
        rec.step(buffer._asdict(), batch_loss=loss)
    record_state()
    return rec.trajectory(batches=batches)


def _run_shared_path(experiment: Experiment, dtype) -> TrajectoryRecord:
    import jax
    import jax.numpy as jnp

    a = jnp.asarray(experiment.init["a"], dtype)
    rec = _common.recorder_for(experiment)
    for _ in range(experiment.steps):
        rec.state({"a": a}, train_loss=a * a)
        square, grad = jax.value_and_grad(lambda a: a * a)(a)
        rec.step({"a": grad}, batch_loss=square)
    rec.state({"a": a}, train_loss=a * a)
    return rec.trajectory(batches=None)


def run(experiment: Experiment, *, dtype: str = "float64") -> TrajectoryRecord:
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
    import jax
    import jax.numpy as jnp

    import functional_training as ft

    # The lesson's model has no matmul (w is a scalar), but a spec with one would
    # otherwise run float32 dots in TF32 on recent GPUs: ask for full precision.
    with ft.precision(dtype), jax.default_matmul_precision("highest"):
        jax_dtype = jnp.float64 if dtype == "float64" else jnp.float32
        if experiment.kind == "shared-path":
            return _run_shared_path(experiment, jax_dtype)
        if experiment.kind == "accumulation":
            return _run_accumulation(experiment, jax_dtype)
        return _run_train(experiment, jax_dtype)
