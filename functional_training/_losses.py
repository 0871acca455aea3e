"""Loss kinds: how a model's outputs are scored against targets (one table, :data:`LOSS_KINDS`).

With model output ``s`` (a prediction, a logit, a score; ``z`` a row of ``k``
logits) and target ``t``, the per-example losses are:

- ``half-squared-error``: ``0.5 (s - t)^2`` (the lesson's; ``dL/ds = s - t``);
- ``squared-error``: ``(s - t)^2`` (``dL/ds = 2 (s - t)``);
- ``binary-cross-entropy``: on a logit, targets 0/1: ``log(1 + exp(s)) - s t``
  (``logaddexp(0, s) - s t``), which equals
  ``-t log sigmoid(s) - (1 - t) log(1 - sigmoid(s))`` without overflow for any
  ``s`` (``dL/ds = sigmoid(s) - t``);
- ``softmax-cross-entropy``: logits ``z`` of ``k`` classes, integer targets
  ``0..k-1``: ``logsumexp(z) - z_t``, computed as ``log sum exp(z - m) - (z_t - m)``
  with ``m = max z`` so no exponent overflows (``dL/dz = softmax(z) - onehot(t)``);
- ``hinge``: scores, targets -1/+1: ``max(0, 1 - t s)`` (``dL/ds = -t`` where
  ``1 - t s > 0``, else 0).

A run's loss is the mean over the batch, plus an optional ``l2 = alpha`` penalty
``alpha * sum of squares of every weight and bias`` (:func:`l2_penalty`).
Targets that do not fit the loss are refused row by row (:func:`check_targets`).

Example:
  >>> import jax.numpy as jnp
  >>> float(mean_loss_of("hinge", jnp.array([0.5, -2.0]), jnp.array([1.0, -1.0])))
  0.25
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_training._loss import half_squared_error
from functional_training._registry import lookup


class LossKind(NamedTuple):
    """One loss of the table.

    Attributes:
      name: registry key, e.g. ``"hinge"``.
      description: one line for tables and help.
      per_example: ``per_example(outputs, targets) -> losses`` in JAX, one per example.
      targets: what targets it takes: ``"real"``, ``"binary"`` (0/1), ``"sign"``
        (-1/+1) or ``"class"`` (integers ``0..k-1``).
      classifies: whether accuracy is meaningful (a classification loss).
      predicted: for a classification loss, ``predicted(outputs) -> labels``: the
        class the outputs choose, in the targets' own coding (``s > 0`` gives 1,
        else 0 for ``binary``; +1 / -1 for ``sign``; ``argmax`` of the row, first
        on ties, for ``class``); ``None`` for regression losses.
    """

    name: str
    description: str
    per_example: Callable[[jax.Array, jax.Array], jax.Array]
    targets: str
    classifies: bool
    predicted: Callable[[jax.Array], jax.Array] | None = None

    def outputs_problem(self, outputs: int) -> str | None:
        """Why a model with ``outputs`` outputs per example cannot feed this loss, or ``None``.

        A ``"class"`` loss needs one logit per class (``k >= 2``); every other loss
        scores one output per example.

        Example:
          >>> LOSS_KINDS["softmax-cross-entropy"].outputs_problem(1)
          'softmax-cross-entropy needs k >= 2 outputs (one logit per class), the model has 1'
          >>> LOSS_KINDS["hinge"].outputs_problem(1) is None
          True
        """
        if self.targets == "class":
            if outputs < 2:
                return (f"{self.name} needs k >= 2 outputs (one logit per class), "
                        f"the model has {outputs}")
            return None
        if outputs != 1:
            return f"{self.name} scores one output per example, the model has {outputs}"
        return None

    @property
    def outputs_wanted(self) -> str:
        """The outputs this loss takes, in words for messages (what :meth:`outputs_problem` checks).

        Example:
          >>> LOSS_KINDS["softmax-cross-entropy"].outputs_wanted
          'needs k >= 2 outputs (one per class)'
          >>> LOSS_KINDS["hinge"].outputs_wanted
          'takes one output per example (k = 1)'
        """
        if self.targets == "class":
            return "needs k >= 2 outputs (one per class)"
        return "takes one output per example (k = 1)"


def squared_error(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """``(s - t)^2`` per example (shapes must match).

    Example:
      >>> float(squared_error(jnp.array(3.0), jnp.array(1.0)))
      4.0
    """
    _same_shape("squared_error", outputs, targets)
    return (outputs - targets) ** 2


def binary_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """``log(1 + exp(s)) - s t`` per example, as ``logaddexp(0, s) - s t``: stable for any logit.

    ``logaddexp`` never overflows and its derivative is ``sigmoid(s)`` everywhere; the
    equal form ``max(s, 0) - s t + log1p(exp(-|s|))`` would get ``s = 0`` (every logit
    of a zero-initialised model) wrong under ``jax.grad``, whose ``max`` and ``abs``
    split their kinks differently.

    Example:
      >>> round(float(binary_cross_entropy(jnp.array(0.0), jnp.array(1.0))), 6)  # log 2
      0.693147
      >>> float(binary_cross_entropy(jnp.array(1000.0), jnp.array(1.0)))  # no overflow
      0.0
    """
    _same_shape("binary_cross_entropy", logits, targets)
    return jnp.logaddexp(0.0, logits) - logits * targets


def softmax_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """``logsumexp(z) - z_t`` per row of ``(n, k)`` logits, integer class targets ``(n,)``.

    The maximum is subtracted before exponentiating, so logits of 1000 do not overflow.

    Example:
      >>> z = jnp.array([[1000.0, 1000.0]])
      >>> round(float(softmax_cross_entropy(z, jnp.array([0]))[0]), 6)  # log 2
      0.693147
    """
    if jnp.ndim(logits) != 2 or jnp.shape(targets) != jnp.shape(logits)[:1]:
        raise ValueError(
            f"softmax_cross_entropy: logits must be (n, k) and targets (n,), got "
            f"{jnp.shape(logits)} and {jnp.shape(targets)}; refusing to broadcast"
        )
    shifted = logits - jax.lax.stop_gradient(jnp.max(logits, axis=1, keepdims=True))
    chosen = jnp.take_along_axis(shifted, targets.astype(jnp.int32)[:, None], axis=1)[:, 0]
    return jnp.log(jnp.sum(jnp.exp(shifted), axis=1)) - chosen


def hinge(scores: jax.Array, targets: jax.Array) -> jax.Array:
    """``max(0, 1 - t s)`` per example, targets -1/+1.

    Example:
      >>> float(hinge(jnp.array(0.25), jnp.array(1.0)))
      0.75
    """
    _same_shape("hinge", scores, targets)
    return jnp.maximum(0.0, 1.0 - targets * scores)


def _same_shape(name: str, outputs, targets) -> None:
    if jnp.shape(outputs) != jnp.shape(targets):
        raise ValueError(
            f"{name}: outputs shape {jnp.shape(outputs)} != targets shape "
            f"{jnp.shape(targets)}; refusing to broadcast"
        )


def _binary_label(scores: jax.Array) -> jax.Array:
    return jnp.where(scores > 0, 1.0, 0.0)


def _sign_label(scores: jax.Array) -> jax.Array:
    return jnp.where(scores > 0, 1.0, -1.0)


def _class_label(logits: jax.Array) -> jax.Array:
    return jnp.argmax(logits, axis=-1).astype(logits.dtype)


LOSS_KINDS: dict[str, LossKind] = {
    "half-squared-error": LossKind("half-squared-error", "0.5 (s - t)^2, the lesson's",
                                   half_squared_error, "real", False),
    "squared-error": LossKind("squared-error", "(s - t)^2", squared_error, "real", False),
    "binary-cross-entropy": LossKind("binary-cross-entropy", "cross-entropy on a logit, t in 0/1",
                                     binary_cross_entropy, "binary", True, _binary_label),
    "softmax-cross-entropy": LossKind("softmax-cross-entropy",
                                      "cross-entropy on k logits, t in 0..k-1",
                                      softmax_cross_entropy, "class", True, _class_label),
    "hinge": LossKind("hinge", "max(0, 1 - t s), t in -1/+1", hinge, "sign", True, _sign_label),
}
"""Every loss kind by name. Adding one: a function here and one row in this table."""

DEFAULT_LOSS = "half-squared-error"

REDUCTIONS = ("mean", "sum")
"""How a training loop holds its batch loss and gradient (``[loss] reduction`` of a spec):

- ``mean`` (the default): ``L_B = (1/n) sum_i l_i + alpha sum theta^2`` on a batch of
  ``n``, and its gradient; the optimizer steps on that gradient.
- ``sum``: the loop records ``n L_B`` and its gradient (``l.sum().backward()``: each
  example's loss, the penalty included per example, summed) and divides by the
  nominal ``batch_size`` ``B`` in its step (``param -= lr * param.grad / B``), so the
  optimizer sees ``(n / B) dL_B/dtheta``: the mean's gradient on every full batch,
  ``n / B`` of it on a short last one.

The full losses (``train_loss``, ``val_loss``) are means either way."""


def loss_kind(name: str) -> LossKind:
    """The loss called ``name``, or a one-line ``ValueError`` listing the known ones.

    Example:
      >>> loss_kind("hinge").targets
      'sign'
    """
    return lookup(LOSS_KINDS, name, what="loss")


def mean_loss_of(name: str, outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """The mean over the batch of loss ``name``.

    Example:
      >>> float(mean_loss_of("squared-error", jnp.array([1.0, 3.0]), jnp.array([0.0, 0.0])))
      5.0
    """
    return jnp.mean(loss_kind(name).per_example(outputs, targets))


def accuracy_of(name: str, outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """The fraction of examples whose predicted class equals the target (classification losses).

    A score or logit ``s > 0`` predicts the positive class (1, or +1 for hinge);
    ``k`` logits predict their ``argmax`` (the first on ties).

    Raises:
      ValueError: ``name`` is a regression loss (accuracy means nothing there).

    Example:
      >>> float(accuracy_of("hinge", jnp.array([0.5, 0.2, -1.0, 3.0]),
      ...                   jnp.array([1.0, -1.0, -1.0, -1.0])))
      0.5
    """
    kind = loss_kind(name)
    if kind.predicted is None:
        raise ValueError(f"{name} is a regression loss; accuracy needs a classification loss")
    return jnp.mean((kind.predicted(outputs) == targets).astype(jnp.result_type(outputs)))


def l2_penalty(params, alpha: float) -> jax.Array:
    """``alpha * sum of squares of every parameter`` (every weight and bias, as micrograd's demo).

    Example:
      >>> float(l2_penalty({"w": jnp.array([1.0, 2.0]), "b": jnp.array(2.0)}, 0.5))
      4.5
    """
    return alpha * sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree.leaves(params))


def check_targets(name: str, targets, *, classes: int | None = None) -> None:
    """Nothing if ``targets`` fit loss ``name``, else one line naming the first row that does not.

    Checked in the targets' own dtype (numbers are compared exactly; no float64
    copy of a large target array).

    Args:
      name: a loss kind.
      targets: the targets, shape ``(n,)``.
      classes: for ``softmax-cross-entropy``, the number of classes ``k``.

    Raises:
      ValueError: the first target that does not fit, e.g.
        ``hinge: target row 2 is 0.5; hinge takes -1 or +1``.

    Example:
      >>> check_targets("binary-cross-entropy", [0.0, 1.0, 2.0])
      Traceback (most recent call last):
      ...
      ValueError: binary-cross-entropy: target row 2 is 2.0; binary-cross-entropy takes 0 or 1
    """
    kind = loss_kind(name)
    values = np.asarray(targets)
    if values.dtype.kind not in "biuf":  # anything else is read as float64, or refused
        values = np.asarray(targets, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"{name}: targets must have shape (n,), got {values.shape}")
    if kind.targets == "real":
        bad, wanted = ~np.isfinite(values), "a finite number"
    elif kind.targets == "binary":
        bad, wanted = ~np.isin(values, (0.0, 1.0)), "0 or 1"
    elif kind.targets == "sign":
        bad, wanted = ~np.isin(values, (-1.0, 1.0)), "-1 or +1"
    else:
        if classes is None or classes < 2:
            raise ValueError(f"{name}: needs a model with k >= 2 outputs (one per class)")
        bad = ~((values == np.round(values)) & (values >= 0) & (values < classes))
        wanted = f"an integer class 0..{classes - 1}"
    if bad.any():
        row = int(np.argmax(bad))
        value = float(values[row])
        raise ValueError(f"{name}: target row {row} is {value!r}; {name} takes {wanted}")
