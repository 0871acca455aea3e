"""The engine backend: the loss graph built with the scalar autograd ``Value`` every step.

Per step, as the lesson writes it: ``w`` and ``b`` are leaf ``Value`` s that
live for the whole run; the step clears their gradients with ``zero_grad``,
builds ``L = (sum over the batch of 0.5 * (w * x + b - y) ** 2) / n``, calls
``L.backward()`` and reads ``w.grad`` and ``b.grad``; the optimizer
(:mod:`comparisons.backends.update_rules`) then moves ``w.data`` and ``b.data``.
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

from collections.abc import Sequence

from comparisons.backends import _common
from comparisons.backends.update_rules import update_rule
from comparisons.engine import Value, zero_grad
from comparisons.experiments import Experiment, batch_order
from functional_training import TrajectoryRecord

DESCRIPTION = "the scalar autograd engine (comparisons.engine.Value): graph, backward(), .grad"
REQUIRES: tuple[str, ...] = ()
INSTALL_HINT = "nothing to install (standard library only)"
COMPUTES_IN = "float64 (Python floats)"
"""The precision of every run, whatever ``dtype`` asks for."""


def mean_loss(w: Value, b: Value, records: Sequence[tuple[float, float]]) -> Value:
    """The graph of ``(1/n) sum 0.5 * (w * x + b - y) ** 2`` over ``records``.

    Example:
      >>> w, b = Value(1.0), Value(0.0)
      >>> loss = mean_loss(w, b, [(2.0, 6.0)])
      >>> loss.backward()
      >>> loss.data, w.grad, b.grad
      (8.0, -8.0, -4.0)
    """
    total = sum(0.5 * (w * x + b - y) ** 2 for x, y in records)
    return total / len(records)


def _forward(w: float, b: float, records: Sequence[tuple[float, float]]) -> float:
    return mean_loss(Value(w), Value(b), records).data


def _run_linear(experiment: Experiment) -> TrajectoryRecord:
    records, validation = list(experiment.train), experiment.validation
    batches = batch_order(experiment)
    leaves = {n: Value(experiment.init[n]) for n in _common.LINEAR_PARAMS}
    w, b = leaves["w"], leaves["b"]
    trainable = [n for n in _common.LINEAR_PARAMS if n in experiment.trainable]
    accumulation = experiment.kind == "accumulation"
    if not accumulation:
        rule = update_rule(experiment.optimizer, **_common.optimizer_settings(experiment))
        state = rule.init({n: leaves[n].data for n in trainable})
    rec = _common.recorder_for(experiment)

    def record_state() -> None:
        rec.state(
            {n: leaf.data for n, leaf in leaves.items()},
            train_loss=mean_loss(w, b, records).data,
            val_loss=None if validation is None else mean_loss(w, b, validation).data,
            predictions=[(w * x + b).data for x, _ in records],
        )

    for k in range(experiment.steps):
        record_state()
        if not accumulation or experiment.zero_grad[k]:
            zero_grad(leaves.values())
        batch = records if batches is None else [records[i] for i in batches[k]]
        loss = mean_loss(w, b, batch)
        loss.backward()
        grads = {n: leaf.grad for n, leaf in leaves.items()}
        extras = None
        if experiment.kind == "gradient-check":
            eps = float(experiment.fd_epsilon)
            extras = {
                "numeric.w": (_forward(w.data + eps, b.data, batch)
                              - _forward(w.data - eps, b.data, batch)) / (2 * eps),
                "numeric.b": (_forward(w.data, b.data + eps, batch)
                              - _forward(w.data, b.data - eps, batch)) / (2 * eps),
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
    return _run_linear(experiment)
