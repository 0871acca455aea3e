"""Each backend's own arithmetic for every loss kind: one table row per loss.

The loss kinds are ``functional_training``'s (:data:`functional_training.LOSS_KINDS`,
where JAX computes them; the tests check both tables have the same keys); a row
here adds what the other backends compute independently. With model output ``s``
(``z``: a row of ``k`` logits) and target ``t`` of one example:

==========================  ===============================  =======================
loss                        value                            dL/ds
==========================  ===============================  =======================
``half-squared-error``      ``0.5 (s - t)^2``                ``s - t``
``squared-error``           ``(s - t)^2``                    ``2 (s - t)``
``binary-cross-entropy``    ``logaddexp(0, s) - s t``        ``sigmoid(s) - t``
``softmax-cross-entropy``   ``log sum_i exp(z_i - m)         ``softmax(z) - onehot(t)``
                            - (z_t - m)``, ``m = max z``
``hinge``                   ``max(0, 1 - t s)``              ``-t`` where ``1 - t s > 0``,
                                                             else 0
==========================  ===============================  =======================

Per row (:class:`LossPieces`): ``manual`` (value and derivative for one example
on Python floats, written by hand), ``engine`` (the value as a ``Value`` graph;
its ``backward`` gives the derivative), ``torch`` (the framework's own loss
function, per example) and the label functions for accuracy. The L2 penalty
``alpha * sum_j theta_j^2`` of every weight and bias, gradient ``2 alpha theta_j``,
is one function per backend (:func:`manual_l2`, :func:`engine_l2`, :func:`torch_l2`).

Hand-written arithmetic never raises where IEEE floats give ``inf`` (a diverging
run records ``inf``, not a crash): squares are ``e * e`` (Python's ``e ** 2``
raises ``OverflowError``) and ``exp`` returns ``inf`` on overflow.

The one kink where the backends differ: the hinge's derivative at ``t s = 1``
exactly. ``manual`` and ``engine`` (``relu'(0) = 0``) give 0; torch's
``clamp(min=0)`` passes the gradient where its input is ``>= 0``, so ``-t``; JAX's
``jnp.maximum(0, .)`` splits a tie evenly, so ``-t / 2``. Everywhere else all four
agree.

Example:
  >>> loss_pieces("hinge").manual(0.25, 1.0)
  (0.75, -1.0)
  >>> loss_pieces("softmax-cross-entropy").manual([1000.0, 1000.0], 1.0)
  (0.6931471805599453, [0.5, -0.5])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from comparisons.engine import Value, ieee_exp
from functional_training import lookup

Outputs = float | Sequence[float]


class LossPieces(NamedTuple):
    """One loss as each backend computes it.

    Attributes:
      name: the loss kind's name (a key of ``functional_training.LOSS_KINDS``).
      manual: ``manual(outputs, target) -> (loss, dL/doutputs)`` for one example on
        Python floats: ``outputs`` a float (or a list of ``k`` logits for softmax),
        the derivative likewise.
      engine: ``engine(outputs, target) -> Value``: the one example's loss as a graph
        over the output node (or the list of ``k`` nodes).
      torch: ``torch(torch, outputs, targets) -> tensor (n,)``: per-example losses;
        ``outputs`` is ``(n,)`` (``(n, k)`` for softmax), ``targets`` ``(n,)`` floats.
      manual_label: ``manual_label(outputs) -> float``: the predicted class in the
        targets' coding (the engine applies it to ``.data``); ``None`` for regression.
      torch_label: ``torch_label(torch, outputs) -> tensor (n,)``, same coding; ``None``
        for regression.
    """

    name: str
    manual: Callable[[Any, float], tuple[float, Any]]
    engine: Callable[[Any, float], Value]
    torch: Callable[..., Any]
    manual_label: Callable[[Any], float] | None = None
    torch_label: Callable[..., Any] | None = None


# --- Python floats: never raise where IEEE gives inf ------------------------------------



def _sigmoid(s: float) -> float:
    """``1 / (1 + e^-s)``, written so neither branch's ``exp`` can overflow."""
    if s >= 0.0:
        return 1.0 / (1.0 + ieee_exp(-s))
    e = ieee_exp(s)
    return e / (1.0 + e)


def _log1p_exp(s: float) -> float:
    """``logaddexp(0, s) = log(1 + e^s)``: ``s + log1p(e^-s)`` if ``s > 0``, else ``log1p(e^s)``."""
    if s > 0.0:
        return s + math.log1p(ieee_exp(-s))
    return math.log1p(ieee_exp(s))


# --- half squared error ------------------------------------------------------------------


def _half_manual(s: float, t: float) -> tuple[float, float]:
    e = s - t
    return 0.5 * (e * e), e


def _half_engine(s: Value, t: float) -> Value:
    e = s - t
    return 0.5 * (e * e)


def _half_torch(torch, outputs, targets):
    _same_shape("half-squared-error", outputs, targets)
    return 0.5 * torch.nn.functional.mse_loss(outputs, targets, reduction="none")


# --- squared error -----------------------------------------------------------------------


def _squared_manual(s: float, t: float) -> tuple[float, float]:
    e = s - t
    return e * e, 2.0 * e


def _squared_engine(s: Value, t: float) -> Value:
    e = s - t
    return e * e


def _squared_torch(torch, outputs, targets):
    _same_shape("squared-error", outputs, targets)
    return torch.nn.functional.mse_loss(outputs, targets, reduction="none")


# --- binary cross-entropy on a logit -----------------------------------------------------


def _bce_manual(s: float, t: float) -> tuple[float, float]:
    return _log1p_exp(s) - s * t, _sigmoid(s) - t


def _bce_engine(s: Value, t: float) -> Value:
    # The engine has no log1p: log(1 + e) drops an e below 1e-16 of 1, an absolute
    # error under 1e-16 that the float64 tolerance (1e-12 absolute) covers.
    if s.data > 0.0:
        return s + (1.0 + (-s).exp()).log() - s * t
    return (1.0 + s.exp()).log() - s * t


def _bce_torch(torch, outputs, targets):
    _same_shape("binary-cross-entropy", outputs, targets)
    return torch.nn.functional.binary_cross_entropy_with_logits(outputs, targets,
                                                                reduction="none")


def _binary_label(s: float) -> float:
    return 1.0 if s > 0.0 else 0.0


def _binary_label_torch(torch, outputs):
    return (outputs > 0).to(outputs.dtype)


# --- softmax cross-entropy over k logits -------------------------------------------------


def _class_index(z: Sequence, t: float) -> int:
    index = int(t)
    if index != t or not 0 <= index < len(z):
        raise ValueError(f"softmax-cross-entropy: target {t!r} is not a class 0..{len(z) - 1}")
    return index


def _softmax_manual(z: Sequence[float], t: float) -> tuple[float, list[float]]:
    target = _class_index(z, t)
    m = max(z)
    exps = [ieee_exp(v - m) for v in z]
    total = exps[0]
    for e in exps[1:]:
        total = total + e
    value = math.log(total) - (z[target] - m)
    grad = [e / total for e in exps]
    grad[target] -= 1.0
    return value, grad


def _softmax_engine(z: Sequence[Value], t: float) -> Value:
    target = _class_index(z, t)
    m = max(v.data for v in z)  # a constant: no gradient flows through the max
    shifted = [v - m for v in z]
    total = shifted[0].exp()
    for v in shifted[1:]:
        total = total + v.exp()
    return total.log() - shifted[target]


def _softmax_torch(torch, outputs, targets):
    if outputs.ndim != 2 or tuple(targets.shape) != tuple(outputs.shape[:1]):
        raise ValueError(f"softmax-cross-entropy: logits must be (n, k) and targets (n,), got "
                         f"{tuple(outputs.shape)} and {tuple(targets.shape)}")
    return torch.nn.functional.cross_entropy(outputs, targets.long(), reduction="none")


def _class_label(z: Sequence[float]) -> float:
    best = 0
    for i in range(1, len(z)):
        # argmax, first on ties; a nan counts as the largest (as NumPy, JAX and torch)
        if z[i] > z[best] or (z[i] != z[i] and z[best] == z[best]):
            best = i
    return float(best)


def _class_label_torch(torch, outputs):
    return torch.argmax(outputs, dim=-1).to(outputs.dtype)


# --- hinge --------------------------------------------------------------------------------


def _hinge_manual(s: float, t: float) -> tuple[float, float]:
    margin = 1.0 - t * s
    if margin <= 0.0:  # at the kink (margin = 0) the derivative is taken as 0
        return 0.0, 0.0
    return margin, -t


def _hinge_engine(s: Value, t: float) -> Value:
    return (1.0 - t * s).relu()


def _hinge_torch(torch, outputs, targets):
    # torch has no hinge of this form: nn.HingeEmbeddingLoss scores distances
    # (x if t = 1, max(0, margin - x) if t = -1) and nn.MultiMarginLoss is the
    # multi-class margin over k scores. clamp's gradient is 1 where its input is
    # >= 0, so at t s = 1 this gives -t where manual and engine give 0.
    _same_shape("hinge", outputs, targets)
    return torch.clamp(1.0 - targets * outputs, min=0.0)


def _sign_label(s: float) -> float:
    return 1.0 if s > 0.0 else -1.0


def _sign_label_torch(torch, outputs):
    return 2.0 * (outputs > 0).to(outputs.dtype) - 1.0


def _same_shape(name: str, outputs, targets) -> None:
    if tuple(outputs.shape) != tuple(targets.shape):
        raise ValueError(f"{name}: outputs shape {tuple(outputs.shape)} != targets shape "
                         f"{tuple(targets.shape)}; refusing to broadcast")


LOSS_PIECES: dict[str, LossPieces] = {
    "half-squared-error": LossPieces("half-squared-error", _half_manual, _half_engine,
                                     _half_torch),
    "squared-error": LossPieces("squared-error", _squared_manual, _squared_engine,
                                _squared_torch),
    "binary-cross-entropy": LossPieces("binary-cross-entropy", _bce_manual, _bce_engine,
                                       _bce_torch, _binary_label, _binary_label_torch),
    "softmax-cross-entropy": LossPieces("softmax-cross-entropy", _softmax_manual,
                                        _softmax_engine, _softmax_torch, _class_label,
                                        _class_label_torch),
    "hinge": LossPieces("hinge", _hinge_manual, _hinge_engine, _hinge_torch, _sign_label,
                        _sign_label_torch),
}
"""Every loss kind's backend pieces by name (the keys of ``functional_training.LOSS_KINDS``)."""

def loss_pieces(name: str) -> LossPieces:
    """The backend pieces of loss ``name``, or a one-line ``ValueError`` listing the known ones.

    Example:
      >>> loss_pieces("binary-cross-entropy").manual(0.0, 1.0)
      (0.6931471805599453, -0.5)
      >>> loss_pieces("squared-error").manual_label is None
      True
    """
    return lookup(LOSS_PIECES, name, what="loss")


# --- the L2 penalty -------------------------------------------------------------------------


def manual_l2(params: Mapping[str, float], alpha: float) -> tuple[float, dict[str, float]]:
    """``alpha * sum_j p_j^2`` (summed in the parameters' order) and ``{name: 2 alpha p}``.

    ``alpha = 0`` gives exact zeros (no ``0 * inf`` for a diverged parameter), as the
    JAX objective leaves the penalty out.

    Example:
      >>> manual_l2({"w": 1.0, "b": 2.0}, 0.5)
      (2.5, {'w': 1.0, 'b': 2.0})
    """
    if alpha == 0.0:
        return 0.0, dict.fromkeys(params, 0.0)
    total = 0.0
    for p in params.values():
        total = total + p * p
    return alpha * total, {name: 2.0 * alpha * p for name, p in params.items()}


def engine_l2(leaves: Mapping[str, Value], alpha: float) -> Value:
    """``alpha * sum_j p_j^2`` as a graph over the leaves (``Value(0.0)`` when ``alpha = 0``).

    Example:
      >>> w = Value(3.0)
      >>> penalty = engine_l2({"w": w}, 0.5)
      >>> penalty.backward()
      >>> penalty.data, w.grad
      (4.5, 3.0)
    """
    if alpha == 0.0 or not leaves:
        return Value(0.0)
    values = list(leaves.values())
    total = values[0] * values[0]
    for p in values[1:]:
        total = total + p * p
    return alpha * total


def torch_l2(torch, tensors, alpha: float):
    """``alpha * sum over tensors of p.pow(2).sum()`` (a 0-d tensor; exact 0 when ``alpha = 0``).

    ``tensors`` are the parameter tensors (``torch_leaves(module).values()``, or
    ``module.parameters()``). No doctest: torch is an optional dependency.
    """
    tensors = list(tensors)
    if alpha == 0.0 or not tensors:
        dtype = tensors[0].dtype if tensors else torch.float64
        return torch.zeros((), dtype=dtype)
    total = tensors[0].pow(2).sum()
    for p in tensors[1:]:
        total = total + p.pow(2).sum()
    return alpha * total
