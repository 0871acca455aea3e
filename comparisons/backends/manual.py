"""The manual backend: the lesson's formulas on Python floats, derivatives by hand.

For a batch ``B`` of ``n`` examples, output ``s_i = f(theta, x_i)`` (the model
kind's forward, ``comparisons.models``), per-example loss ``l(s_i, y_i)`` and its
hand-written derivative ``g_i = dl/ds_i`` (the loss kind's, ``comparisons.losses``):

    L = (1/n) sum_i l(s_i, y_i) + alpha sum_j theta_j^2
    dL/dtheta = (1/n) sum_i g_i ds_i/dtheta + 2 alpha theta

where ``g_i ds_i/dtheta`` is the kind's hand-written backpropagation
(``manual_gradients``). For the lesson's line and half squared error,
``g_i = e_i = s_i - y_i``, ``dL/dw = (1/n) sum_i e_i x_i`` and ``dL/db = (1/n) sum_i e_i``.

The optimizers and learning-rate schedules are :mod:`comparisons.backends.update_rules`,
one rule per parameter leaf (every rule is elementwise, so this is one rule over
all of them). The run is :func:`comparisons.backends._loop.run_loop` around
:class:`ManualMaths`, whose every piece (one example's output, loss and
backward, the activation's derivative, the batch reduction, the penalty, the
update rule of a leaf, the update's application) is a method a fault
(:mod:`comparisons.faults`) may replace. Python floats are
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
from comparisons.backends._loop import Batch, Evaluation, Maths, run_loop
from comparisons.backends.update_rules import UpdateRule, apply_updates, update_rule
from comparisons.experiments import Experiment
from comparisons.losses import loss_pieces, manual_l2
from comparisons.models import activations, hidden_activations, model_pieces
from functional_training import DEFAULT_LOSS, TrajectoryRecord, leaf_of

DESCRIPTION = "the lesson's formulas on Python floats, derivatives written by hand"
REQUIRES: tuple[str, ...] = ()
INSTALL_HINT = "nothing to install (standard library only)"
COMPUTES_IN = "float64 (Python floats)"
"""The precision of every run, whatever ``dtype`` asks for."""

Rows = Sequence[Sequence[float]]
Floats = Mapping[str, float]


class ManualMaths(Maths):
    """The manual backend's maths on Python floats, one method per piece.

    ``L_B = (1/n) sum_i l(f(theta, x_i), y_i) + alpha sum_j theta_j^2`` with the
    model kind's hand-written forward and derivative (``comparisons.models``)
    and the loss kind's hand-written value and ``dl/ds`` (``comparisons.losses``).
    A fault subclasses this and replaces one method.
    """

    def __init__(self, experiment: Experiment, dtype: str = "float64") -> None:
        super().__init__(experiment, dtype)
        self.model = model_pieces(experiment.model)
        self.config = experiment.model_config
        self.pieces = loss_pieces(experiment.loss)
        self.l2 = experiment.l2
        self.params = {n: float(experiment.init[n]) for n in experiment.parameter_names}
        self.leaves: dict[str, list[str]] = {}
        for name in experiment.parameter_names:
            self.leaves.setdefault(leaf_of(name), []).append(name)
        self.trainable = [leaf for leaf in self.leaves if leaf in experiment.trainable]
        self._hooks = ({"activation_back": self.activation_back}
                       if hidden_activations(experiment.model, self.config) else {})
        self.rules: dict[str, UpdateRule] = {}
        self.states: dict[str, object] = {}
        self.buffer: dict[str, float] | None = dict.fromkeys(self.params, 0.0)
        self.rate_setting = None

    # --- one example ---------------------------------------------------------------------

    def outputs(self, params: Floats, x) -> float | list[float]:
        """The model's output for one example (a float, or ``k`` logits)."""
        return self.model.manual_predict(params, x, **self.config)

    def loss(self, outputs, target: float) -> tuple[float, object]:
        """One example's loss and ``dl/doutputs``."""
        return self.pieces.manual(outputs, target)

    def activation_back(self, activation: str, z: float, a: float, upstream: float) -> float:
        """``f'(z) * upstream`` for a hidden layer's activation ``f`` (``a = f(z)``)."""
        return activations.derivative(activation, z, a, upstream)

    def example_gradient(self, params: Floats, x, signal) -> dict[str, float]:
        """One example's gradient ``{name: signal * doutput/dname}``, by hand."""
        return self.model.manual_gradients(params, x, signal, **self.config, **self._hooks)

    # --- one batch -----------------------------------------------------------------------

    def reduce(self, summed: Floats, last: Floats, n: int) -> dict[str, float]:
        """The data gradient of a batch of ``n`` from the per-example sum (and the last's)."""
        return {name: g / n for name, g in summed.items()}

    def penalty(self, params: Floats) -> tuple[float, dict[str, float]]:
        """L2: ``alpha sum theta^2`` and its gradient ``2 alpha theta`` (used when ``l2 > 0``)."""
        return manual_l2(params, self.l2)

    def loss_and_grads(self, params: Floats, rows: Rows) -> tuple[float, dict[str, float]]:
        """The batch's mean loss (plus the penalty) and its gradient."""
        total, summed, last = 0.0, dict.fromkeys(params, 0.0), {}
        for *x, y in rows:
            value, signal = self.loss(self.outputs(params, x), y)
            total += value
            last = self.example_gradient(params, x, signal)
            for name, g in last.items():
                summed[name] += g
        loss, grads = total / len(rows), self.reduce(summed, last, len(rows))
        if self.l2:
            penalty, penalty_grads = self.penalty(params)
            loss += penalty
            grads = {name: g + penalty_grads[name] for name, g in grads.items()}
        return loss, grads

    def mean_loss(self, params: Floats, rows: Rows) -> float:
        """The mean loss over ``rows`` (plus the penalty)."""
        total = 0.0
        for *x, y in rows:
            total += self.loss(self.outputs(params, x), y)[0]
        loss = total / len(rows)
        return loss + self.penalty(params)[0] if self.l2 else loss

    # --- the loop's calls ----------------------------------------------------------------

    def start(self, batches) -> None:
        e = self.experiment
        if e.optimizer == "none":  # nothing moves the parameters (accumulation)
            return
        self.rate_setting = _common.learning_rate(e)
        self.rules = {leaf: self.rule(leaf) for leaf in self.trainable}
        self.states = {leaf: self.rules[leaf].init({n: self.params[n] for n in self.leaves[leaf]})
                       for leaf in self.trainable}

    def values(self) -> dict[str, float]:
        return dict(self.params)

    def evaluate(self, split: str, *, accuracy: bool) -> Evaluation:
        rows = self.experiment.train if split == "train" else self.experiment.validation
        outputs = [self.outputs(self.params, row[:-1]) for row in rows]
        total = 0.0
        for out, row in zip(outputs, rows, strict=True):
            total += self.loss(out, row[-1])[0]
        loss = total / len(rows)
        if self.l2:
            loss = loss + self.penalty(self.params)[0]
        right = None
        if accuracy:
            label = self.pieces.manual_label
            right = sum(label(out) == row[-1] for out, row in zip(outputs, rows, strict=True))
            right = right / len(rows)
        flat = [v for out in outputs for v in (out if isinstance(out, list) else [out])]
        return Evaluation(loss, flat, right)

    def forward(self, batch: Batch, moved: tuple[str, float] | None = None) -> float:
        params = self.params
        if moved is not None:
            name, delta = moved
            params = {**params, name: params[name] + delta}
        return self.mean_loss(params, batch.rows)

    def zero_grad(self) -> None:
        self.buffer = None

    def backward(self, batch: Batch) -> tuple[float, dict[str, float]]:
        loss, grads = self.loss_and_grads(self.params, batch.rows)
        if self.buffer is not None:  # not cleared: add to what the buffer holds
            grads = {n: self.buffer[n] + g for n, g in grads.items()}
        self.buffer = grads
        return loss, grads

    def rule(self, leaf: str) -> UpdateRule:
        """The update rule of one parameter leaf (the experiment's optimizer and rate)."""
        settings = _common.optimizer_settings(self.experiment)
        settings.pop("learning_rate", None)
        return update_rule(self.experiment.optimizer, learning_rate=self.rate_setting,
                           **settings)

    def apply(self, k: int, params: Floats, updates: Floats) -> dict[str, float]:
        """``theta + u`` with the rule's update ``u = -lr(k) * ...``."""
        return apply_updates(params, updates)

    def update_leaf(self, k: int, leaf: str, grads: Floats) -> None:
        """One trainable leaf moved by its rule (its own optimizer state)."""
        names = self.leaves[leaf]
        updates, self.states[leaf] = self.rules[leaf].update(
            {n: grads[n] for n in names}, self.states[leaf], {n: self.params[n] for n in names})
        self.params = self.apply(k, self.params, updates)

    def update(self, k: int, grads: Floats) -> None:
        for leaf in self.rules:
            self.update_leaf(k, leaf, grads)

    def scaled_update(self, k: int, grads: Floats, scale: float) -> None:
        self.update(k, {name: scale * g for name, g in grads.items()})

    def learning_rate(self, k: int) -> float:
        rate = self.rate_setting
        return rate(k) if callable(rate) else rate

    def square(self, a: float) -> tuple[float, float, float]:
        """``L = a * a``; by hand ``dL/da = a + a`` (one term per path)."""
        return a, a * a, a + a


def mean_loss(model, params: Mapping[str, float], records: Rows) -> float:
    """``(1/n) sum 0.5 (f(theta, x) - y)^2`` over ``records`` of ``(x_1, ..., x_d, y)``.

    Example:
      >>> from comparisons.models import model_pieces
      >>> mean_loss(model_pieces("linear"), {"w": 1.0, "b": 0.0}, [(2.0, 6.0)])
      8.0
    """
    total = 0.0
    for *x, y in records:
        total += loss_pieces(DEFAULT_LOSS).manual(model.manual_predict(params, x), y)[0]
    return total / len(records)


def loss_and_grads(model, params: Mapping[str, float], records: Rows) -> tuple[float, dict]:
    """The mean half squared error and its hand-written gradient ``{name: dL/dname}``.

    Example:
      >>> from comparisons.models import model_pieces
      >>> rows = [(1.0, 3.0), (2.0, 5.0), (3.0, 7.0)]
      >>> loss_and_grads(model_pieces("linear"), {"w": 0.0, "b": 0.0}, rows)[1]
      {'w': -11.333333333333334, 'b': -5.0}
    """
    pieces = loss_pieces(DEFAULT_LOSS)
    loss, grads = 0.0, dict.fromkeys(params, 0.0)
    for *x, y in records:
        value, signal = pieces.manual(model.manual_predict(params, x), y)
        loss += value
        for name, g in model.manual_gradients(params, x, signal).items():
            grads[name] += g
    n = len(records)
    return loss / n, {name: g / n for name, g in grads.items()}


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
    return run_loop(experiment, ManualMaths, dtype=dtype)
