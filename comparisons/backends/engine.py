"""The engine backend: the loss graph built with the scalar autograd ``Value`` every step.

Per step, as the lesson writes it: every parameter is a leaf ``Value`` that
lives for the whole run (one per weight: ``w[0]``, ``w[1]``, ..., ``b``); the
step clears their gradients with ``zero_grad``, builds
``L = (sum over the batch of l(f(theta, x), y)) / n + alpha * sum p * p`` with the
model kind's graph (``engine_predict`` of ``comparisons.models``: for an mlp one
``weighted_sum`` node per neuron, then the activation's node) and the loss kind's
graph (``comparisons.losses``: the lesson's ``0.5 * (s - y) ** 2``, the hinge as
``(1 - y s).relu()``, cross-entropies from ``exp`` and ``log`` nodes), calls
``L.backward()`` and reads each leaf's ``.grad``; the optimizer and schedule
(:mod:`comparisons.backends.update_rules`) then move the leaves' ``.data``.
Full losses, predictions and accuracy are the engine's forward values (``.data``;
with full batches the step's graph is the full loss's), and the gradient
check's finite differences use engine forwards too.

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
from comparisons.losses import engine_l2, loss_pieces
from comparisons.models import model_pieces
from functional_training import DEFAULT_LOSS, TrajectoryRecord

DESCRIPTION = "the scalar autograd engine (comparisons.engine.Value): graph, backward(), .grad"
REQUIRES: tuple[str, ...] = ()
INSTALL_HINT = "nothing to install (standard library only)"
COMPUTES_IN = "float64 (Python floats)"
"""The precision of every run, whatever ``dtype`` asks for."""


class Problem:
    """What one run minimises, as a ``Value`` graph built fresh each time.

    ``L_B = (1/n) sum_i l(f(theta, x_i), y_i) + alpha sum_j theta_j^2`` with the
    model kind's graph (``engine_predict``) and the loss kind's graph
    (``comparisons.losses``); ``backward()`` gives every leaf's gradient.
    """

    def __init__(self, model, loss: str, l2: float, config: Mapping | None = None) -> None:
        self.model, self.loss, self.l2 = model, loss_pieces(loss), l2
        self.config = dict(config or {})

    def outputs(self, leaves: Mapping[str, Value], records) -> list:
        """The output node(s) per example (one forward graph per example)."""
        return [self.model.engine_predict(leaves, row[:-1], **self.config) for row in records]

    def loss_of(self, leaves: Mapping[str, Value], outputs: Sequence, records) -> Value:
        """The graph of ``L_B`` over the given output nodes."""
        total = sum(self.loss.engine(out, row[-1])
                    for out, row in zip(outputs, records, strict=True))
        loss = total / len(records)
        return loss + engine_l2(leaves, self.l2) if self.l2 else loss

    def mean_loss(self, leaves: Mapping[str, Value], records) -> Value:
        """The graph of ``L_B`` over ``records``."""
        return self.loss_of(leaves, self.outputs(leaves, records), records)

    def accuracy(self, outputs: Sequence, records) -> float:
        """The fraction of examples whose predicted class (from ``.data``) is the target."""
        right = sum(self.loss.manual_label(_data(out)) == row[-1]
                    for out, row in zip(outputs, records, strict=True))
        return right / len(records)


def _data(out):
    """The forward values of an output node or a list of ``k`` of them."""
    return [node.data for node in out] if isinstance(out, list) else out.data


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
    return Problem(model, DEFAULT_LOSS, 0.0).mean_loss(leaves, records)


def _forward(problem: Problem, values: Mapping[str, float], records) -> float:
    return problem.mean_loss({n: Value(v) for n, v in values.items()}, records).data


def _run_train(experiment: Experiment) -> TrajectoryRecord:
    problem = Problem(model_pieces(experiment.model), experiment.loss, experiment.l2,
                      experiment.model_config)
    records, validation = list(experiment.train), experiment.validation
    batches = batch_order(experiment)
    leaves = {n: Value(experiment.init[n]) for n in experiment.parameter_names}
    trainable = _common.trainable_names(experiment)
    accumulation = experiment.kind == "accumulation"
    if not accumulation:
        rate = _common.learning_rate(experiment)
        settings = _common.optimizer_settings(experiment)
        settings.pop("learning_rate", None)
        rule = update_rule(experiment.optimizer, learning_rate=rate, **settings)
        state = rule.init({n: leaves[n].data for n in trainable})
    rec = _common.recorder_for(experiment)

    def record_state(outputs=None) -> None:
        # One forward graph per example gives the predictions, the full loss and accuracy.
        outputs = problem.outputs(leaves, records) if outputs is None else outputs
        extras = {}
        val_loss = None
        if validation is not None:
            val_outputs = problem.outputs(leaves, validation)
            val_loss = problem.loss_of(leaves, val_outputs, validation).data
        if experiment.classifies:
            extras["train_accuracy"] = problem.accuracy(outputs, records)
            if validation is not None:
                extras["val_accuracy"] = problem.accuracy(val_outputs, validation)
        flat = [v for out in outputs for v in (_data(out) if isinstance(out, list)
                                               else [out.data])]
        rec.state(
            {n: leaf.data for n, leaf in leaves.items()},
            train_loss=problem.loss_of(leaves, outputs, records).data,
            val_loss=val_loss, predictions=flat, extras=extras,
        )

    for k in range(experiment.steps):
        # Full batch: the graph of the full training loss is the batch loss's graph too.
        outputs = problem.outputs(leaves, records) if batches is None else None
        record_state(outputs)
        if not accumulation or experiment.zero_grad[k]:
            zero_grad(leaves.values())
        batch = records if batches is None else [records[i] for i in batches[k]]
        loss = (problem.loss_of(leaves, outputs, records) if batches is None
                else problem.mean_loss(leaves, batch))
        loss.backward()
        grads = {n: leaf.grad for n, leaf in leaves.items()}
        extras = {}
        if experiment.kind == "gradient-check":
            eps = float(experiment.fd_epsilon)
            values = {n: leaf.data for n, leaf in leaves.items()}
            extras = {
                f"numeric.{n}": (_forward(problem, {**values, n: v + eps}, batch)
                                 - _forward(problem, {**values, n: v - eps}, batch)) / (2 * eps)
                for n, v in values.items()
            }
        if not accumulation and experiment.schedule is not None:
            extras["learning_rate"] = rate(k)
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
