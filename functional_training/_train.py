"""Training as one jitted ``lax.scan``."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from functional_training._loss import check_params, loss_and_grad, mean_loss
from functional_training._optimizers import check_learning_rate, check_learning_rate_fits
from functional_training._params import LinearParams
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


def float_params(params) -> tuple[LinearParams, np.dtype]:
    """``params`` as a ``LinearParams`` of JAX arrays, and the run's dtype (their result type).

    One array per field: a list-valued ``w`` (several features) is one leaf, not a
    subtree. Every field must be floating point (``jax.grad`` takes no integers):
    otherwise a one-line ``TypeError`` naming the field.

    Example:
      >>> float_params(LinearParams(1, 0.0))
      Traceback (most recent call last):
      ...
      TypeError: params must be floating point, got w of dtype int32
    """
    arrays = LinearParams(*(jnp.asarray(p) for p in params))
    for name, value in zip(arrays._fields, arrays, strict=True):
        if not jnp.issubdtype(value.dtype, jnp.floating):
            raise TypeError(f"params must be floating point, got {name} of dtype {value.dtype}")
    return arrays, jnp.result_type(*arrays)


def train(
    params: LinearParams,
    x,
    y,
    *,
    optimizer: optax.GradientTransformation | float,
    steps: int,
    batch_indices=None,
    x_val=None,
    y_val=None,
) -> Trajectory:
    """Train the linear model and record every step.

    Each step ``k`` takes batch ``B_k`` (all examples, or ``batch_indices[k]``),
    computes ``batch_loss[k] = L_{B_k}(theta_k)`` and ``g_k = dL_{B_k}/dtheta(theta_k)``,
    and applies ``theta_{k+1} = theta_k + optimizer.update(g_k)``. The whole loop
    is one jitted ``jax.lax.scan``; calling again with the same optimizer
    object and data of the same shapes and dtypes reuses the compiled program.

    Args:
      params: initial ``LinearParams``, floating point; their dtype sets the
        run's precision (use :func:`functional_training.float64` for float64).
      x: features, shape ``(n,)`` or ``(n, d)``.
      y: targets, shape ``(n,)``.
      optimizer: an ``optax.GradientTransformation`` (compiled once per object:
        :func:`make_optimizer` returns the same object for equal settings), or a
        float meaning plain SGD with that learning rate (traced, so rates share
        one compilation; it must be finite in the params' dtype).
      steps: number of optimizer steps ``S`` > 0.
      batch_indices: optional int array ``(S, batch_size)`` replaying a batch
        order made elsewhere; ``None`` means full batch.
      x_val, y_val: optional validation set, never used for gradients.

    Returns:
      A :class:`Trajectory`. Non-finite values are recorded, not raised.

    Example:
      >>> traj = train(LinearParams(1.0, 0.0), [2.0], [6.0], optimizer=0.1, steps=5)
      >>> [round(float(v), 3) for v in traj.batch_loss]
      [8.0, 2.0, 0.5, 0.125, 0.031]
    """
    check_params(params, where="train")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be an integer > 0, got {steps!r}")
    x_np, y_np = check_data(x, y)
    has_val = x_val is not None or y_val is not None
    if has_val:
        if x_val is None or y_val is None:
            raise ValueError("validation data needs both x_val and y_val")
        xv_np, _ = check_data(x_val, y_val, name="validation")
        if xv_np.shape[1:] != x_np.shape[1:]:
            raise ValueError(
                f"validation data has {xv_np.shape[1:] or 'one'} feature(s) per example "
                f"but train data has {x_np.shape[1:] or 'one'}"
            )
    if batch_indices is not None:
        batch_indices = np.asarray(batch_indices)
        if batch_indices.ndim != 2 or batch_indices.shape[0] != steps:
            raise ValueError(
                f"batch_indices must have shape (steps={steps}, batch_size), "
                f"got {batch_indices.shape}"
            )
        if not np.issubdtype(batch_indices.dtype, np.integer):
            raise TypeError(f"batch_indices must be integers, got {batch_indices.dtype}")
        if batch_indices.size and (
            batch_indices.min() < 0 or batch_indices.max() >= x_np.shape[0]
        ):
            raise ValueError(f"batch_indices must lie in [0, {x_np.shape[0]})")
        if batch_indices.shape[1] == 0:
            raise ValueError("batch_indices: batch size must be > 0")

    params, dtype = float_params(params)
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
    return _train_scan(optimizer, steps, params, opt_state, x, y, batch_indices, x_val, y_val)


@functools.partial(jax.jit, static_argnums=(0, 1))
def train_chunk(optimizer, length, params, opt_state, x, y, batch_indices, x_val, y_val):
    """``length`` optimizer steps as one jitted ``lax.scan``, continuing from ``opt_state``.

    The step of :func:`train`: at ``theta_k`` take the batch loss and gradient
    and the full train (and validation) losses, then apply the optax update.
    Long runs call this chunk after chunk (checkpointing between chunks); the
    optimizer and ``length`` are static, so every chunk of one run reuses one
    compiled program.

    Returns:
      ``(params, opt_state, records)`` after the chunk, where ``records`` is
      ``(params_k, grads_k, batch_loss_k, train_loss_k, val_loss_k)`` stacked
      over the chunk's steps (``val_loss_k`` is ``None`` without validation).
    """

    def step(carry, indices):
        params, opt_state = carry
        xb, yb = (x, y) if indices is None else (x[indices], y[indices])
        batch_loss, grads = loss_and_grad(params, xb, yb)
        train_loss, val_loss = full_losses(params, x, y, x_val, y_val)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        record = (params, grads, batch_loss, train_loss, val_loss)
        return (optax.apply_updates(params, updates), opt_state), record

    (params, opt_state), records = jax.lax.scan(
        step, (params, opt_state), batch_indices, length=length
    )
    return params, opt_state, records


@jax.jit
def full_losses(params, x, y, x_val, y_val):
    """Mean loss on the whole training set, and on the validation set (``None`` without one)."""
    return mean_loss(params, x, y), None if x_val is None else mean_loss(params, x_val, y_val)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _train_scan(optimizer, steps, params, opt_state, x, y, batch_indices, x_val, y_val):
    final, _, records = train_chunk(
        optimizer, steps, params, opt_state, x, y, batch_indices, x_val, y_val
    )
    history, grads, batch_loss, train_loss, val_loss = records
    final_train, final_val = full_losses(final, x, y, x_val, y_val)

    def append(series, last):
        return None if series is None else jnp.concatenate([series, last[None]])

    return Trajectory(
        params=jax.tree.map(append, history, final),
        grads=grads,
        batch_loss=batch_loss,
        train_loss=append(train_loss, final_train),
        val_loss=append(val_loss, final_val),
    )
