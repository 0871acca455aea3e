"""The engine backend: the loss graph built with the scalar autograd ``Value`` every step.

Per step, as the lesson writes it: every parameter is a leaf ``Value`` that
lives for the whole run (one per weight: ``w[0]``, ``w[1]``, ..., ``b``); the
step clears their gradients with ``zero_grad``, builds
``L = (sum over the batch of 0.5 * (f(theta, x) - y) ** 2) / n`` with the model
kind's graph (``engine_predict`` of ``comparisons.models``), calls
``L.backward()`` and reads each leaf's ``.grad``; the optimizer
(:mod:`comparisons.backends.update_rules`) then moves the leaves' ``.data``.
Full losses and predictions are the engine's forward values (``.data``), and
the gradient check's finite differences use engine forwards too.

For the accumulation experiment the leaves are cleared only where
``zero_grad[k]`` says so, and ``grads[k]`` is the leaf buffer as it stands
after the backward pass. For shared-path the graph is the lesson's ``a * a``.

The engine computes in Python floats (float64) whatever ``dtype`` says.

Example:
  >>> from comparisons.experiments import REGISTRY
  >>> traj = run(REGISTRY["gradient-accumulation"])
  >>> traj.grads["w"]
  [-8.0, -16.0, -8.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from comparisons.backends import _common
from comparisons.backends.update_rules import update_rule
from comparisons.engine import Value, zero_grad
from comparisons.experiments import Experiment, batch_order
from comparisons.models import model_pieces
from functional_training import TrajectoryRecord

DESCRIPTION = "the scalar autograd engine (comparisons.engine.Value): graph, backward(), .grad"
REQUIRES: tuple[str, ...] = ()
INSTALL_HINT = "nothing to install (standard library only)"
COMPUTES_IN = "float64 (Python floats)"
"""The precision of every run, whatever ``dtype`` asks for."""


def mean_loss(model, leaves: Mapping[str, Value], records: Sequence[Sequence[float]]) -> Value:
    """The graph of ``(1/n) sum 0.5 * (f(theta, x) - y) ** 2`` over ``records``.

    Example:
      >>> from comparisons.models import model_pieces
      >>> w, b = Value(1.0), Value(0.0)
      >>> loss = mean_loss(model_pieces("linear"), {"w": w, "b": b}, [(2.0, 6.0)])
      >>> loss.backward()
      >>> loss.data, w.grad, b.grad
      (8.0, -8.0, -4.0)
    """
    return _mean_half_squared_error([model.engine_predict(leaves, x) for *x, _ in records],
                                    records)


def _mean_half_squared_error(predictions: Sequence[Value], records) -> Value:
    """``(1/n) sum 0.5 * (p_i - y_i) ** 2`` as a graph over the prediction nodes."""
    total = sum(0.5 * (p - row[-1]) ** 2 for p, row in zip(predictions, records, strict=True))
    return total / len(records)


def _forward(model, values: Mapping[str, float], records) -> float:
    return mean_loss(model, {n: Value(v) for n, v in values.items()}, records).data


def _run_train(experiment: Experiment) -> TrajectoryRecord:
    model = model_pieces(experiment.model)
    records, validation = list(experiment.train), experiment.validation
    batches = batch_order(experiment)
    leaves = {n: Value(experiment.init[n]) for n in experiment.parameter_names}
    trainable = _common.trainable_names(experiment)
    accumulation = experiment.kind == "accumulation"
    if not accumulation:
        rule = update_rule(experiment.optimizer, **_common.optimizer_settings(experiment))
        state = rule.init({n: leaves[n].data for n in trainable})
    rec = _common.recorder_for(experiment)

    def record_state() -> None:
        # One forward graph per example gives both the predictions and the full loss.
        predictions = [model.engine_predict(leaves, row[:-1]) for row in records]
        rec.state(
            {n: leaf.data for n, leaf in leaves.items()},
            train_loss=_mean_half_squared_error(predictions, records).data,
            val_loss=None if validation is None else mean_loss(model, leaves, validation).data,
            predictions=[p.data for p in predictions],
        )

    for k in range(experiment.steps):
        record_state()
        if not accumulation or experiment.zero_grad[k]:
            zero_grad(leaves.values())
        batch = records if batches is None else [records[i] for i in batches[k]]
        loss = mean_loss(model, leaves, batch)
        loss.backward()
        grads = {n: leaf.grad for n, leaf in leaves.items()}
        extras = None
        if experiment.kind == "gradient-check":
            eps = float(experiment.fd_epsilon)
            values = {n: leaf.data for n, leaf in leaves.items()}
            extras = {
                f"numeric.{n}": (_forward(model, {**values, n: v + eps}, batch)
                                 - _forward(model, {**values, n: v - eps}, batch)) / (2 * eps)
                for n, v in values.items()
            }
        rec.step(grads, batch_loss=loss.data, extras=extras)
        if not accumulation:
            updates, state = rule.update({n: grads[n] for n in trainable}, state,
                                         {n: leaves[n].data for n in trainable})
            for n, u in updates.items():
                leaves[n].data = leaves[n].data + u
    record_state()
    return rec.trajectory(batches=batches)


def _run_shared_path(experiment: Experiment) -> TrajectoryRecord:
    a = Value(experiment.init["a"])
    rec = _common.recorder_for(experiment)
    for _ in range(experiment.steps):
        rec.state({"a": a.data}, train_loss=(a * a).data)
        zero_grad([a])
        square = a * a
        square.backward()
        rec.step({"a": a.grad}, batch_loss=square.data)
    rec.state({"a": a.data}, train_loss=(a * a).data)
    return rec.trajectory(batches=None)


def run(experiment: Experiment, *, dtype: str = "float64") -> TrajectoryRecord:
    """Run ``experiment`` through the scalar autograd engine (always float64).

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
