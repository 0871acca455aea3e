"""The manual backend: the lesson's formulas on Python floats, derivatives by hand.

For a batch ``B`` of ``n`` examples, prediction ``p_i = f(theta, x_i)`` (the
model kind's forward, ``comparisons.models``) and error ``e_i = p_i - y_i``:

    L = (1/n) sum_i 0.5 e_i^2,   dL/dtheta = (1/n) sum_i e_i dp_i/dtheta

where ``e_i dp_i/dtheta`` is the kind's hand-written derivative
(``manual_gradients``); for the lesson's line ``dL/dw = (1/n) sum_i e_i x_i``
and ``dL/db = (1/n) sum_i e_i``.

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

from collections.abc import Mapping, Sequence

from comparisons.backends import _common
from comparisons.backends.update_rules import apply_updates, update_rule
from comparisons.experiments import Experiment, batch_order
from comparisons.models import model_pieces
from functional_training import TrajectoryRecord

DESCRIPTION = "the lesson's formulas on Python floats, derivatives written by hand"
REQUIRES: tuple[str, ...] = ()
INSTALL_HINT = "nothing to install (standard library only)"
COMPUTES_IN = "float64 (Python floats)"
"""The precision of every run, whatever ``dtype`` asks for."""

Rows = Sequence[Sequence[float]]


def mean_loss(model, params: Mapping[str, float], records: Rows) -> float:
    """``(1/n) sum 0.5 (f(theta, x) - y)^2`` over ``records`` of ``(x_1, ..., x_d, y)``.

    Example:
      >>> from comparisons.models import model_pieces
      >>> mean_loss(model_pieces("linear"), {"w": 1.0, "b": 0.0}, [(2.0, 6.0)])
      8.0
    """
    total = 0.0
    for *x, y in records:
        error = model.manual_predict(params, x) - y
        total += 0.5 * (error * error)
    return total / len(records)


def loss_and_grads(model, params: Mapping[str, float], records: Rows) -> tuple[float, dict]:
    """The mean loss and its hand-written gradient ``{name: dL/dname}``.

    Example:
      >>> from comparisons.models import model_pieces
      >>> rows = [(1.0, 3.0), (2.0, 5.0), (3.0, 7.0)]
      >>> loss_and_grads(model_pieces("linear"), {"w": 0.0, "b": 0.0}, rows)[1]
      {'w': -11.333333333333334, 'b': -5.0}
    """
    loss = 0.0
    grads = dict.fromkeys(params, 0.0)
    for *x, y in records:
        error = model.manual_predict(params, x) - y
        loss += 0.5 * (error * error)
        for name, g in model.manual_gradients(params, x, error).items():
            grads[name] += g
    n = len(records)
    return loss / n, {name: g / n for name, g in grads.items()}


def _numeric_grads(model, params: Mapping[str, float], records: Rows, eps: float) -> dict:
    """Centered differences ``(L(p + eps) - L(p - eps)) / (2 eps)`` per parameter."""
    return {
        f"numeric.{name}": (mean_loss(model, {**params, name: value + eps}, records)
                            - mean_loss(model, {**params, name: value - eps}, records))
        / (2 * eps)
        for name, value in params.items()
    }


def _run_train(experiment: Experiment) -> TrajectoryRecord:
    model = model_pieces(experiment.model)
    records, validation = list(experiment.train), experiment.validation
    batches = batch_order(experiment)
    settings = _common.optimizer_settings(experiment)
    trainable = _common.trainable_names(experiment)
    params = {n: float(experiment.init[n]) for n in experiment.parameter_names}
    rule = None
    if experiment.kind != "accumulation":
        rule = update_rule(experiment.optimizer, **settings)
        state = rule.init({n: params[n] for n in trainable})
    buffer = dict.fromkeys(params, 0.0)
    rec = _common.recorder_for(experiment)

    def record_state() -> None:
        rec.state(
            params, train_loss=mean_loss(model, params, records),
            val_loss=None if validation is None else mean_loss(model, params, validation),
            predictions=[model.manual_predict(params, row[:-1]) for row in records],
        )

    for k in range(experiment.steps):
        record_state()
        batch = records if batches is None else [records[i] for i in batches[k]]
        loss, grads = loss_and_grads(model, params, batch)
        extras = None
        if experiment.kind == "gradient-check":
            extras = _numeric_grads(model, params, batch, float(experiment.fd_epsilon))
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
    return _run_train(experiment)
