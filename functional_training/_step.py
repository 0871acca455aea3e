"""One optimizer step, and the one check of a batch order: shared by ``train`` and ``sweep``.

At parameters ``theta_k`` with optimizer state ``s_k``, on the examples ``B_k`` of
step ``k`` (every example when there is no batch order):

    L_k, g_k       = L_{B_k}(theta_k), dL_{B_k}/dtheta (theta_k)
    u_k, s_{k+1}   = optimizer.update(g_k, s_k, theta_k)
    theta_{k+1}    = theta_k + u_k                     (optax.apply_updates)

:func:`optimizer_step` is that step and nothing else: no recording, no check of
finiteness. :func:`functional_training.train` scans it (recording at its recorded
steps) and :func:`functional_training.sweep` vmaps it over runs, so the two take
the same step by construction.

A batch order is an integer array ``(S, batch_size)``: row ``k`` holds the example
indices of step ``k``, made once on the host (:func:`functional_training.minibatch_indices`)
and gathered on the device. :func:`check_batch_indices` is its one check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import optax


def optimizer_step(
    loss_and_grad: Callable[[Any, Any, Any], tuple[Any, Any]],
    optimizer: optax.GradientTransformation,
    params,
    opt_state,
    x,
    y,
    indices=None,
):
    """One step: batch loss and gradient at ``params``, then the optax update.

    Pure and traceable (``jit``, ``vmap``, ``lax.scan``).

    Args:
      loss_and_grad: ``loss_and_grad(params, x, y) -> (loss, grads)``, e.g.
        :meth:`functional_training.Objective.loss_and_grad`.
      optimizer: an ``optax.GradientTransformation``.
      params, opt_state: ``theta_k`` and the optimizer's state ``s_k``.
      x, y: the whole training set.
      indices: the examples of this step (a row of a batch order), or ``None``
        for the full batch.

    Returns:
      ``(new_params, new_opt_state, loss, grads)``: ``theta_{k+1}``, ``s_{k+1}``,
      and the batch loss and gradient taken at ``theta_k``.

    Example:
      >>> import functional_training as ft
      >>> opt = ft.make_optimizer("sgd", learning_rate=0.1)
      >>> lesson = ft.objective("linear", features=1)
      >>> params = ft.LinearParams(1.0, 0.0)
      >>> new, _, loss, grads = optimizer_step(lesson.loss_and_grad, opt, params,
      ...                                      opt.init(params), [2.0], [6.0])
      >>> round(float(new.w), 6), round(float(new.b), 6), float(loss)
      (1.8, 0.4, 8.0)
    """
    xb, yb = (x, y) if indices is None else (x[indices], y[indices])
    loss, grads = loss_and_grad(params, xb, yb)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss, grads


def check_batch_indices(batch_indices, steps: int, examples: int) -> np.ndarray | None:
    """``batch_indices`` as a NumPy integer array ``(steps, batch_size)``, or ``None``.

    Raises a one-line ``ValueError`` (``TypeError`` for non-integers) naming what
    is wrong: the shape, an empty batch, an index outside ``[0, examples)``.

    Example:
      >>> check_batch_indices([[0, 2], [1, 1]], 2, 3).tolist()
      [[0, 2], [1, 1]]
      >>> check_batch_indices([[0], [3]], 2, 3)
      Traceback (most recent call last):
      ...
      ValueError: batch_indices must lie in [0, 3)
    """
    if batch_indices is None:
        return None
    batches = np.asarray(batch_indices)
    if batches.ndim != 2 or batches.shape[0] != steps:
        raise ValueError(f"batch_indices must have shape (steps={steps}, batch_size), "
                         f"got {batches.shape}")
    if batches.shape[1] == 0:
        raise ValueError("batch_indices: batch size must be > 0")
    if not np.issubdtype(batches.dtype, np.integer):
        raise TypeError(f"batch_indices must be integers, got {batches.dtype}")
    if batches.min() < 0 or batches.max() >= examples:
        raise ValueError(f"batch_indices must lie in [0, {examples})")
    return batches
