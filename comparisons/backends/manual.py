"""The manual backend: the lesson's formulas on Python floats, derivatives by hand.

For a batch ``B`` of ``n`` examples, output ``s_i = f(theta, x_i)`` (the model
kind's forward, ``comparisons.models``), per-example loss ``l(s_i, y_i)`` and its
hand-written derivative ``g_i = dl/ds_i`` (the loss kind's, ``comparisons.losses``):

    L = (1/n) sum_i l(s_i, y_i) + alpha sum_j theta_j^2
    dL/dtheta = (1/n) sum_i g_i ds_i/dtheta + 2 alpha theta

where ``g_i ds_i/dtheta`` is the kind's hand-written backpropagation
(``manual_gradients``). For the lesson's line and half squared error,
``g_i = e_i = s_i - y_i``, ``dL/dw = (1/n) sum_i e_i x_i`` and ``dL/db = (1/n) sum_i e_i``.

The optimizers and learning-rate schedules are :mod:`comparisons.backends.update_rules`;
the rate of step ``k`` is recorded as ``extras["learning_rate"]`` when the
experiment has a schedule, and the accuracy at every ``params[k]`` as
``extras["train_accuracy"]`` (``val_accuracy``) for a classification loss. Python floats are
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
from comparisons.losses import loss_pieces, manual_l2
from comparisons.models import model_pieces
from functional_training import DEFAULT_LOSS, TrajectoryRecord

DESCRIPTION = "the lesson's formulas on Python floats, derivatives written by hand"
REQUIRES: tuple[str, ...] = ()
INSTALL_HINT = "nothing to install (standard library only)"
COMPUTES_IN = "float64 (Python floats)"
"""The precision of every run, whatever ``dtype`` asks for."""

Rows = Sequence[Sequence[float]]


class Problem:
    """What one run minimises, in the manual backend's own arithmetic.

    ``L_B = (1/n) sum_i l(f(theta, x_i), y_i) + alpha sum_j theta_j^2`` with the
    model kind's hand-written forward and derivative (``comparisons.models``)
    and the loss kind's hand-written value and ``dl/ds`` (``comparisons.losses``).
    """

    def __init__(self, model, loss: str, l2: float, config: Mapping | None = None) -> None:
        self.model, self.loss, self.l2 = model, loss_pieces(loss), l2
        self.config = dict(config or {})

    def outputs(self, params: Mapping[str, float], x) -> list[float]:
        """The model's outputs for one example as a flat list (``k`` values)."""
        out = self.model.manual_predict(params, x, **self.config)
        return list(out) if isinstance(out, list) else [out]

    def mean_loss(self, params: Mapping[str, float], records: Rows) -> float:
        """``L_B(theta)`` over ``records`` of ``(x_1, ..., x_d, y)``."""
        total = 0.0
        for *x, y in records:
            total += self.loss.manual(self.model.manual_predict(params, x, **self.config), y)[0]
        loss = total / len(records)
        return loss + manual_l2(params, self.l2)[0] if self.l2 else loss

    def loss_and_grads(self, params: Mapping[str, float], records: Rows) -> tuple[float, dict]:
        """``L_B(theta)`` and its hand-written gradient ``{name: dL/dname}``."""
        loss = 0.0
        grads = dict.fromkeys(params, 0.0)
        for *x, y in records:
            value, signal = self.loss.manual(self.model.manual_predict(params, x, **self.config), y)
            loss += value
            for name, g in self.model.manual_gradients(params, x, signal, **self.config).items():
                grads[name] += g
        n = len(records)
        loss, grads = loss / n, {name: g / n for name, g in grads.items()}
        if self.l2:
            penalty, penalty_grads = manual_l2(params, self.l2)
            loss += penalty
            grads = {name: g + penalty_grads[name] for name, g in grads.items()}
        return loss, grads

    def accuracy(self, params: Mapping[str, float], records: Rows) -> float:
        """The fraction of ``records`` whose predicted class is the target."""
        right = sum(self.loss.manual_label(self.model.manual_predict(params, x, **self.config)) == y
                    for *x, y in records)
        return right / len(records)


def mean_loss(model, params: Mapping[str, float], records: Rows) -> float:
    """``(1/n) sum 0.5 (f(theta, x) - y)^2`` over ``records`` of ``(x_1, ..., x_d, y)``.

    Example:
      >>> from comparisons.models import model_pieces
      >>> mean_loss(model_pieces("linear"), {"w": 1.0, "b": 0.0}, [(2.0, 6.0)])
      8.0
    """
    return Problem(model, DEFAULT_LOSS, 0.0).mean_loss(params, records)


def loss_and_grads(model, params: Mapping[str, float], records: Rows) -> tuple[float, dict]:
    """The mean half squared error and its hand-written gradient ``{name: dL/dname}``.

    Example:
      >>> from comparisons.models import model_pieces
      >>> rows = [(1.0, 3.0), (2.0, 5.0), (3.0, 7.0)]
      >>> loss_and_grads(model_pieces("linear"), {"w": 0.0, "b": 0.0}, rows)[1]
      {'w': -11.333333333333334, 'b': -5.0}
    """
    return Problem(model, DEFAULT_LOSS, 0.0).loss_and_grads(params, records)


def _numeric_grads(problem: Problem, params: Mapping[str, float], records: Rows,
                   eps: float) -> dict:
    """Centered differences ``(L(p + eps) - L(p - eps)) / (2 eps)`` per parameter."""
    return {
        f"numeric.{name}": (problem.mean_loss({**params, name: value + eps}, records)
                            - problem.mean_loss({**params, name: value - eps}, records))
        / (2 * eps)
        for name, value in params.items()
    }


def _run_train(experiment: Experiment) -> TrajectoryRecord:
    problem = Problem(model_pieces(experiment.model), experiment.loss, experiment.l2,
                      experiment.model_config)
    records, validation = list(experiment.train), experiment.validation
    batches = batch_order(experiment)
    settings = _common.optimizer_settings(experiment)
    trainable = _common.trainable_names(experiment)
    params = {n: float(experiment.init[n]) for n in experiment.parameter_names}
    rule = rate = None
    if experiment.kind != "accumulation":
        rate = _common.learning_rate(experiment)
        settings.pop("learning_rate", None)
        rule = update_rule(experiment.optimizer, learning_rate=rate, **settings)
        state = rule.init({n: params[n] for n in trainable})
    buffer = dict.fromkeys(params, 0.0)
    rec = _common.recorder_for(experiment)

    def record_state() -> None:
        accuracy = {}
        if experiment.classifies:
            accuracy["train_accuracy"] = problem.accuracy(params, records)
            if validation is not None:
                accuracy["val_accuracy"] = problem.accuracy(params, validation)
        rec.state(
            params, train_loss=problem.mean_loss(params, records),
            val_loss=None if validation is None else problem.mean_loss(params, validation),
            predictions=[v for row in records for v in problem.outputs(params, row[:-1])],
            extras=accuracy,
        )

    for k in range(experiment.steps):
        record_state()
        batch = records if batches is None else [records[i] for i in batches[k]]
        loss, grads = problem.loss_and_grads(params, batch)
        extras = {}
        if experiment.kind == "gradient-check":
            extras = _numeric_grads(problem, params, batch, float(experiment.fd_epsilon))
        if rule is None:  # accumulation: the buffer a framework would hold
            buffer = {n: (0.0 if experiment.zero_grad[k] else buffer[n]) + g
                      for n, g in grads.items()}
            rec.step(buffer, batch_loss=loss)
            continue
        if experiment.schedule is not None:
            extras["learning_rate"] = rate(k)
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
