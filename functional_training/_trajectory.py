"""The trajectory every backend returns (JAX side)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from functional_training._params import LinearParams


def first_nonfinite(*series) -> int | None:
    """First index k where any array in ``series`` (leading axis = step) is non-finite.

    Arrays may have different lengths (``S`` or ``S + 1``) and trailing axes;
    ``None`` entries are skipped. Returns ``None`` when every value is finite.

    Example:
      >>> first_nonfinite(np.array([1.0, np.inf]), np.array([1.0, 2.0, np.nan]))
      1
    """
    first = None
    for values in series:
        if values is None:
            continue
        values = np.asarray(values)
        bad = ~np.isfinite(values.reshape(values.shape[0], -1)).all(axis=1)
        if bad.any():
            step = int(np.argmax(bad))
            first = step if first is None else min(first, step)
    return first


class Trajectory(NamedTuple):
    """One training run, step by step (the trajectory contract of docs/design.md).

    For ``S`` optimizer steps:

    Attributes:
      params: ``LinearParams`` whose leaves have a leading axis of ``S + 1``:
        ``params.w[k]`` is ``w`` before step ``k`` (``k = S``: the final value).
      grads: ``LinearParams`` with leading axis ``S``: the gradient taken at
        ``params[k]`` on batch ``k``.
      batch_loss: shape ``(S,)``: the loss whose gradient was taken at step ``k``.
      train_loss: shape ``(S + 1,)``: full training loss at ``params[k]``.
      val_loss: shape ``(S + 1,)``, or ``None`` without a validation set.
      learning_rate: shape ``(S,)``: the scheduled rate of step ``k``, or ``None``
        (a constant rate, recorded in the optimizer's settings instead).
      train_accuracy, val_accuracy: shape ``(S + 1,)``: accuracy at ``params[k]``
        for classification objectives, else ``None``.
      record_steps: ``None`` when every step is recorded (the shapes above);
        otherwise the ``R`` recorded steps ``k_0 = 0 < ... < k_{R-1} = S - 1``
        (``train(..., eval_every=E)``): every series then holds record ``r``
        at index ``r`` (``S`` becomes ``R`` above), and index ``R`` of
        ``params``, ``train_loss``, ``val_loss`` and the accuracies is step ``S``.
      nonfinite_after: with ``record_steps``, shape ``(R,)`` int: the first step in
        ``[k_r, k_{r+1})`` (``k_R = S``) whose batch loss is non-finite, or -1; so
        divergence between records is located to the step. ``None`` otherwise.

    ``params`` and ``grads`` are ``LinearParams`` for the line and the model
    kind's pytree (e.g. ``MLPParams``) otherwise.
    """

    params: LinearParams
    grads: LinearParams
    batch_loss: jax.Array
    train_loss: jax.Array
    val_loss: jax.Array | None
    learning_rate: jax.Array | None = None
    train_accuracy: jax.Array | None = None
    val_accuracy: jax.Array | None = None
    record_steps: np.ndarray | None = None
    nonfinite_after: np.ndarray | None = None

    @property
    def steps(self) -> int:
        """Number of optimizer steps ``S`` (recorded or not)."""
        if self.record_steps is not None:
            return int(self.record_steps[-1]) + 1
        return int(np.shape(self.batch_loss)[0])

    @property
    def recorded_steps(self) -> np.ndarray:
        """The step of each record: ``record_steps``, or ``0..S-1`` when every step is recorded."""
        if self.record_steps is not None:
            return np.asarray(self.record_steps)
        return np.arange(self.steps)

    @property
    def grad_norm(self) -> np.ndarray:
        """Global gradient norm per record, ``sqrt(sum over leaves of g^2)``, shape ``(R,)``."""
        records = int(np.shape(self.batch_loss)[0])
        flat = np.concatenate(
            [np.asarray(g, dtype=np.float64).reshape(records, -1)
             for g in jax.tree.leaves(self.grads)], axis=1
        )
        # hypot never squares, so a finite gradient of 1e200 has a finite norm.
        return np.hypot.reduce(np.abs(flat), axis=1)

    @property
    def first_nonfinite_step(self) -> int | None:
        """First step ``k`` at which any recorded quantity is non-finite, else ``None``.

        Divergence is data: training never raises on overflow, it records
        ``inf``/``nan`` and this property says where it started. With
        ``record_steps`` it is the earlier of the first recorded step with a
        non-finite value and the first step whose batch loss is non-finite
        (``nonfinite_after``, which sees every step).
        """
        first = first_nonfinite(
            *jax.tree.leaves(self.params), *jax.tree.leaves(self.grads), self.batch_loss,
            self.train_loss, self.val_loss
        )
        if self.record_steps is None:
            return first
        if first is not None:
            first = int(self.record_steps[first]) if first < len(self.record_steps) \
                else self.steps
        return earliest_step(first, self.nonfinite_after)


def earliest_step(first: int | None, nonfinite_after) -> int | None:
    """The earlier of ``first`` and the smallest step >= 0 in ``nonfinite_after`` (``None``: none).

    Example:
      >>> earliest_step(40, [-1, 17, 33]), earliest_step(None, [-1, -1]), earliest_step(5, None)
      (17, None, 5)
    """
    steps = [] if nonfinite_after is None else [int(k) for k in np.ravel(nonfinite_after) if k >= 0]
    if first is not None:
        steps.append(first)
    return min(steps) if steps else None
