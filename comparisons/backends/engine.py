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

The run is :func:`comparisons.backends._loop.run_loop` around :class:`EngineMaths`,
inside :func:`comparisons.engine.no_cycle_collection` (graphs hold no reference
cycle, so the cyclic collector only costs time: about 4x on ``mlp/moons``).
Where the loop clears (every step, or where an accumulation experiment's
``zero_grad[k]`` says so) the leaves' ``.grad`` are zeroed; ``grads[k]`` is the
leaf buffer as it stands after the backward pass. For shared-path the graph is
the lesson's ``a * a``.

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
from comparisons.backends._loop import Batch, Evaluation, Maths, run_loop
from comparisons.backends.update_rules import update_rule
from comparisons.engine import Value, no_cycle_collection, zero_grad
from comparisons.experiments import Experiment
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


class EngineMaths(Maths):
    """Leaf ``Value`` objects that live for the whole run; each forward a fresh graph."""

    def __init__(self, experiment: Experiment, dtype: str) -> None:
        super().__init__(experiment, dtype)
        self.problem = Problem(model_pieces(experiment.model), experiment.loss, experiment.l2,
                               experiment.model_config)
        self.leaves = {n: Value(experiment.init[n]) for n in experiment.parameter_names}
        self.trainable = _common.trainable_names(experiment)
        self.rule = self.rate = None
        self._train_outputs = None  # the training rows' output nodes at the current leaves

    def start(self, batches) -> None:
        if self.experiment.optimizer == "none":
            return
        self.rate = _common.learning_rate(self.experiment)
        settings = _common.optimizer_settings(self.experiment)
        settings.pop("learning_rate", None)
        self.rule = update_rule(self.experiment.optimizer, learning_rate=self.rate, **settings)
        self.state = self.rule.init({n: self.leaves[n].data for n in self.trainable})

    def values(self) -> dict[str, float]:
        return {n: leaf.data for n, leaf in self.leaves.items()}

    def evaluate(self, split: str, *, accuracy: bool) -> Evaluation:
        # One forward graph per example gives the predictions, the full loss and accuracy.
        rows = self.experiment.train if split == "train" else self.experiment.validation
        outputs = self.problem.outputs(self.leaves, rows)
        if split == "train":
            self._train_outputs = outputs
        flat = [v for out in outputs for v in (_data(out) if isinstance(out, list)
                                               else [out.data])]
        return Evaluation(self.problem.loss_of(self.leaves, outputs, rows).data, flat,
                          self.problem.accuracy(outputs, rows) if accuracy else None)

    def forward(self, batch: Batch, moved: tuple[str, float] | None = None) -> float:
        values = self.values()
        if moved is not None:
            name, delta = moved
            values[name] = values[name] + delta
        return self.problem.mean_loss({n: Value(v) for n, v in values.items()}, batch.rows).data

    def zero_grad(self) -> None:
        zero_grad(self.leaves.values())

    def backward(self, batch: Batch) -> tuple[float, dict[str, float]]:
        train = self.experiment.train
        if batch.rows is train and self._train_outputs is not None:
            # Full batch: the graph of the full training loss is the batch loss's graph too.
            loss = self.problem.loss_of(self.leaves, self._train_outputs, train)
        else:
            loss = self.problem.mean_loss(self.leaves, batch.rows)
        loss.backward()
        return loss.data, {n: leaf.grad for n, leaf in self.leaves.items()}

    def update(self, k: int, grads: Mapping[str, float]) -> None:
        self._train_outputs = None
        updates, self.state = self.rule.update({n: grads[n] for n in self.trainable}, self.state,
                                               {n: self.leaves[n].data for n in self.trainable})
        for n, u in updates.items():
            self.leaves[n].data = self.leaves[n].data + u

    def scaled_update(self, k: int, grads: Mapping[str, float], scale: float) -> None:
        self.update(k, {name: scale * g for name, g in grads.items()})

    def learning_rate(self, k: int) -> float:
        return self.rate(k) if callable(self.rate) else self.rate

    def square(self, a: float) -> tuple[float, float, float]:
        leaf = Value(a)
        square = leaf * leaf
        square.backward()
        return leaf.data, square.data, leaf.grad


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
    with no_cycle_collection():  # graphs are acyclic: reference counting frees each step's
        return run_loop(experiment, EngineMaths, dtype=dtype)
