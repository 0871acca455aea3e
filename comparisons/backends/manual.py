"""The manual backend: the lesson's formulas on Python floats, derivatives by hand.

For a batch ``B`` of ``n`` examples and error ``e_i = w x_i + b - y_i``:

    L = (1/n) sum_i 0.5 e_i^2,   dL/dw = (1/n) sum_i e_i x_i,   dL/db = (1/n) sum_i e_i

The optimizers are :mod:`comparisons.backends.update_rules`. Python floats are
IEEE float64, so this trajectory is the float64 reference every other backend
is compared with, for float32 runs too (``dtype`` is accepted for the common
interface and changes nothing here). Squares are written ``e * e``: Python's
``**`` raises ``OverflowError`` where IEEE gives ``inf``, and a diverging run
must record ``inf``, not crash.

Example:
  >>> from comparisons.experiments import REGISTRY
  >>> traj = run(REGISTRY["single-update"])
  >>> traj.batch_loss, traj.grads, traj.params
  ([8.0], {'w': [-8.0], 'b': [-4.0]}, {'w': [1.0, 1.8], 'b': [0.0, 0.4]})
"""

from __future__ import annotations

from collections.abc import Sequence

from comparisons.backends import _common
from comparisons.backends.update_rules import apply_updates, update_rule
from comparisons.experiments import Experiment, batch_order
from functional_training import TrajectoryRecord

DESCRIPTION = "the lesson's formulas on Python floats, derivatives written by hand"
REQUIRES: tuple[str, ...] = ()
INSTALL_HINT = "nothing to install (standard library only)"
COMPUTES_IN = "float64 (Python floats)"
"""The precision of every run, whatever ``dtype`` asks for."""


def mean_loss(w: float, b: float, records: Sequence[tuple[float, float]]) -> float:
    """``(1/n) sum 0.5 (w x + b - y)^2`` over ``records`` of ``(x, y)``.

    Example:
      >>> mean_loss(1.0, 0.0, [(2.0, 6.0)])
      8.0
    """
    total = 0.0
    for x, y in records:
        error = w * x + b - y
        total += 0.5 * (error * error)
    return total / len(records)


def loss_and_grads(
    w: float, b: float, records: Sequence[tuple[float, float]]
) -> tuple[float, dict[str, float]]:
    """The mean loss and its hand-written gradient ``{"w": dL/dw, "b": dL/db}``.

    Example:
      >>> loss_and_grads(0.0, 0.0, [(1.0, 3.0), (2.0, 5.0), (3.0, 7.0)])[1]
      {'w': -11.333333333333334, 'b': -5.0}
    """
    loss = grad_w = grad_b = 0.0
    for x, y in records:
        error = w * x + b - y
        loss += 0.5 * (error * error)
        grad_w += error * x
        grad_b += error
    n = len(records)
    return loss / n, {"w": grad_w / n, "b": grad_b / n}


def _numeric_grads(
    w: float, b: float, records: Sequence[tuple[float, float]], eps: float
) -> dict[str, float]:
    """Centered differences ``(L(p + eps) - L(p - eps)) / (2 eps)`` per parameter."""
    return {
        "numeric.w": (mean_loss(w + eps, b, records) - mean_loss(w - eps, b, records))
        / (2 * eps),
        "numeric.b": (mean_loss(w, b + eps, records) - mean_loss(w, b - eps, records))
        / (2 * eps),
    }


def _run_linear(experiment: Experiment) -> TrajectoryRecord:
    records, validation = list(experiment.train), experiment.validation
    batches = batch_order(experiment)
    settings = _common.optimizer_settings(experiment)
    trainable = [n for n in _common.LINEAR_PARAMS if n in experiment.trainable]
    rule = None
    if experiment.kind != "accumulation":
        rule = update_rule(experiment.optimizer, **settings)
        state = rule.init({n: experiment.init[n] for n in trainable})
    params = {n: float(experiment.init[n]) for n in _common.LINEAR_PARAMS}
    buffer = {n: 0.0 for n in params}
    rec = _common.recorder_for(experiment)

    def record_state() -> None:
        w, b = params["w"], params["b"]
        rec.state(
            params, train_loss=mean_loss(w, b, records),
            val_loss=None if validation is None else mean_loss(w, b, validation),
            predictions=[w * x + b for x, _ in records],
        )

    for k in range(experiment.steps):
        record_state()
        batch = records if batches is None else [records[i] for i in batches[k]]
        w, b = params["w"], params["b"]
        loss, grads = loss_and_grads(w, b, batch)
        extras = None
        if experiment.kind == "gradient-check":
            extras = _numeric_grads(w, b, batch, float(experiment.fd_epsilon))
        if rule is None:  # accumulation: the buffer a framework would hold
            buffer = {n: (0.0 if experiment.zero_grad[k] else buffer[n]) + g
                      for n, g in grads.items()}
            rec.step(buffer, batch_loss=loss)
            continue
        rec.step(grads, batch_loss=loss, extras=extras)
        updates, state = rule.update({n: grads[n] for n in trainable}, state,
                                     {n: params[n] for n in trainable})
        params = apply_updates(params, updates)
    record_state()
    return rec.trajectory(batches=batches)


def _run_shared_path(experiment: Experiment) -> TrajectoryRecord:
    """``L = a * a``; by hand ``dL/da = a + a`` (one term per path)."""
    a = float(experiment.init["a"])
    rec = _common.recorder_for(experiment)
    for _ in range(experiment.steps):
        rec.state({"a": a}, train_loss=a * a)
        rec.step({"a": a + a}, batch_loss=a * a)
    rec.state({"a": a}, train_loss=a * a)
    return rec.trajectory(batches=None)


def run(experiment: Experiment, *, dtype: str = "float64") -> TrajectoryRecord:
    """Run ``experiment`` with the lesson's formulas (always float64: Python floats).

    Args:
      experiment: any :class:`~comparisons.experiments.Experiment`.
      dtype: ``"float64"`` or ``"float32"``; validated, then ignored, except that
        a gradient check in float32 is refused like in every backend.

    Returns:
      The :class:`functional_training.TrajectoryRecord`; non-finite values are recorded.

    Raises:
      ValueError: the experiment cannot be run (message names the field).
    """
    _common.check_run(experiment, dtype)
    if experiment.kind == "shared-path":
        return _run_shared_path(experiment)
    return _run_linear(experiment)
