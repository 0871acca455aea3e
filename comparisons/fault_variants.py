"""Faults as variants of the reference: the manual backend's run with one bug, on any experiment.

:class:`_Loop` is a copy of the manual backend's training loop
(:mod:`comparisons.backends.manual`: hand-written losses, backpropagation,
batch means, L2, update rules and schedules on Python floats) cut into named
pieces: one example's loss and backward, the batch reduction, the penalty, the
rows and batch order, the gradient buffer, the step, the update. Without a
fault it computes the manual backend's trajectory exactly (tested: every
registry experiment, largest difference 0.0). Each fault is a subclass that
replaces one piece, so the bug is a few lines under its name, and it runs on
every experiment it applies to, a user's spec included:

====================================  ==================================  ==========================
fault                                 the bug                             applies when
====================================  ==================================  ==========================
overwrite-not-accumulate              the engine's ``*`` backward         kind ``shared-path``
                                      assigns (``=``) instead of adding
                                      (``+=``)
gradients-not-cleared                 the gradient buffer is never        a gradient is taken at 2+
                                      cleared: step k uses g_0 + ... +    steps
                                      g_k (accumulation: ``zero_grad``
                                      ignored)
bias-gradient-sign                    every bias gradient has its sign    a gradient is taken
                                      flipped: ``dL/db = -mean(delta)``
loss-missing-half                     ``(s - y)^2``, no 1/2: the loss     half-squared-error
                                      and its data gradient doubled
sum-not-mean                          the batch gradient is the sum over  batches of 2+ examples
                                      the batch, not the mean
update-before-loss                    the batch loss recorded after the   an optimizer steps
                                      update (at the new parameters)
tanh-derivative-missing-square        ``tanh' = 1 - tanh``, not           an ``mlp``, tanh hidden
                                      ``1 - tanh^2``                      layers
bias-gradient-not-summed              the bias gradients are the batch's  batches of 2+ examples
                                      last example's, not the batch mean
softmax-without-max-subtraction       ``exp(z) / sum exp(z)``, no         softmax-cross-entropy
                                      ``- max z`` (overflows past
                                      709.78)
relu-gradient-where-negative          ``relu' = 1`` also where            an ``mlp``, relu hidden
                                      ``z <= 0``                          layers
l2-missing-from-gradient              ``alpha sum theta^2`` in the loss,  ``l2 > 0``
                                      its ``2 alpha theta`` not in the
                                      gradient
learning-rate-applied-twice           the step is ``lr * (-lr u)``: the   an optimizer steps
                                      optimizer's update (already
                                      ``-lr u``) scaled by the rate
                                      again
batch-size-divided-twice              the batch-mean gradient divided by  batches of 2+ examples
                                      the batch size again
update-in-place-before-all-gradients  leaf by leaf, each leaf's gradient  an optimizer steps 2+
                                      taken at the parameters this step   parameter leaves
                                      has already moved, then the leaf
                                      updated
batch-order-not-reshuffled            every epoch replays the first       mini-batches, 2+ epochs
                                      epoch's permutation
validation-in-gradient                the validation rows join the        a validation set
                                      training rows the batches are
                                      drawn from
bias-left-out-of-weight-decay         the biases get no L2 penalty and    ``l2 > 0``, or ``adamw``
                                      no AdamW decay                      with weight decay > 0
====================================  ==================================  ==========================

How each bug's secondary effects are defined (a diagnosis is exact, so this matters):

- Reductions (``sum-not-mean``, ``batch-size-divided-twice``,
  ``bias-gradient-not-summed``) change the gradient of the data term only: the
  recorded loss is still the batch mean, and L2's ``2 alpha theta`` is added
  after the reduction, once. The hand-written ``grad_w = sum(e * x)`` (no ``/ n``)
  beside ``loss = mean(...)``, the ``/ n`` typed twice, the ``db = delta`` inside
  the loop instead of ``db += delta``.
- ``loss-missing-half`` and ``softmax-without-max-subtraction`` replace the loss
  function itself, so every recorded loss (batch, train, validation) has the bug.
- ``learning-rate-applied-twice``: ``u`` is whatever the optimizer computes
  (Adam's, AdamW's decay included); the rate of step ``k`` (``lr(k)`` with a
  schedule) multiplies ``-lr(k) u``. This is the optax mistake
  ``apply_updates(params, lr * updates)`` and the hand-written ``g = lr * grad``
  followed by ``w -= lr * g``. Calling ``optimizer.step()`` twice is another bug
  (Adam's moments would advance twice) and not this one.
- ``update-in-place-before-all-gradients``: in the parameters' order (``w`` then
  ``b``; ``layers.0.w``, ``layers.0.b``, ``layers.1.w``, ...), each leaf's
  gradient comes from a full forward and backward at the parameters as they are
  at that moment, as in ``for leaf in params: params[leaf] -= lr *
  grad(loss)(params)[leaf]``; the recorded batch loss is the first one (at
  ``params[k]``), the recorded gradient of each leaf the one it was updated
  with. Each leaf keeps its own optimizer state (every rule here is elementwise,
  so without the bug this is the reference's update).
- ``validation-in-gradient``: every batch is drawn from the training rows
  followed by the validation rows (the batch order over ``n + m`` examples, same
  seed; ``batches`` records indices into that list); the recorded losses are still
  evaluated on the experiment's training and validation sets.
- ``bias-left-out-of-weight-decay`` is a fault against this project's
  convention, which decays every parameter, biases included, as micrograd's demo
  does (``sum(p * p for p in model.parameters())``), as ``optax.adamw`` does with
  its default ``mask=None``, and as ``torch.optim.AdamW(model.parameters())``
  does. Many courses and codebases exclude biases (d2l's ``l2_penalty(w)``,
  scikit-learn's unpenalised intercept, the ``no_decay = ["bias", ...]`` parameter
  groups of BERT-style training): a user following them gets a trajectory the
  reference does not, and this names it. With ``l2 > 0`` the penalty's value and
  gradient cover the weights only; with AdamW the bias leaves get Adam's update
  without ``wd theta``. ("Weight decay applied to the bias" is the reference's own
  behaviour here, so it cannot be a fault of it.)

Applying is structural (the experiment has the piece the bug is in); whether a
variant's trajectory actually differs from the reference's on an experiment is
measured by :func:`fault_differences` (``softmax-without-max-subtraction`` on
logits of ordinary size differs by rounding only, ``learning-rate-applied-twice``
at rate 1 not at all). The engine's ``*`` fault runs the lesson's ``a * a``
only: a spec (always kind ``train``) never has a shared path.

:func:`diagnose` runs every applicable variant and returns the faults whose
trajectory agrees with the one given, by the same comparator that found the
mismatch. Each variant is one run of the reference's cost
(``update-in-place-before-all-gradients`` one per parameter leaf).

Example:
  >>> from comparisons.experiments import REGISTRY
  >>> full_batch = REGISTRY["full-batch"]
  >>> buggy = fault_variants(full_batch)["sum-not-mean"]()
  >>> [d.fault for d in diagnose(full_batch, buggy)]
  ['sum-not-mean']
  >>> diagnose(full_batch, run_variant(full_batch, None))
  []
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import comparisons.backends
from comparisons.backends import (
    check_run,
    learning_rate,
    optimizer_settings,
    recorder_for,
    trainable_names,
)
from comparisons.backends.update_rules import (
    UpdateRule,
    apply_updates,
    ieee_div,
    update_rule,
)
from comparisons.compare import Mismatch, compare_trajectories
from comparisons.engine import Value, ieee_exp, ieee_log
from comparisons.experiments import Experiment
from comparisons.losses import loss_pieces, manual_l2
from comparisons.models import model_pieces
from functional_training import TrajectoryRecord, minibatch_indices

__all__ = [
    "VARIANTS",
    "Diagnosis",
    "FaultVariant",
    "diagnose",
    "fault_differences",
    "fault_variants",
    "run_variant",
]

Rows = Sequence[Sequence[float]]
Floats = Mapping[str, float]


# --- the reference's loop, one method per piece ------------------------------------------


def _leaf(name: str) -> str:
    """``w[2]`` -> ``w``; ``layers.0.b[1]`` -> ``layers.0.b``."""
    return name.split("[")[0]


def _is_bias(name: str) -> bool:
    """``b``, ``layers.l.b[j]``: a bias (the last part of its leaf is ``b``)."""
    return _leaf(name).rsplit(".", 1)[-1] == "b"



def _relu(z: float) -> float:
    return 0.0 if z <= 0.0 else z


def _sigmoid(z: float) -> float:
    if z >= 0.0:
        return 1.0 / (1.0 + ieee_exp(-z))
    e = ieee_exp(z)
    return e / (1.0 + e)


def _tanh_back(z: float, t: float, upstream: float) -> float:
    return upstream * ((1.0 - t) * (1.0 + t))  # 1 - tanh^2, from the output t


def _relu_back(z: float, a: float, upstream: float) -> float:
    return 0.0 if z <= 0.0 else upstream


def _sigmoid_back(z: float, s: float, upstream: float) -> float:
    return upstream * (1.0 - s) * s


_ACTIVATIONS = {"tanh": (math.tanh, _tanh_back), "relu": (_relu, _relu_back),
                "sigmoid": (_sigmoid, _sigmoid_back)}
"""``(f, back)`` per activation, ``back(z, f(z), upstream) = f'(z) * upstream``: the
formulas of :mod:`comparisons.models.mlp`, again, so a fault can swap ``back``."""


class _Loop:
    """The manual backend's run of ``experiment`` (kinds train, gradient-check, accumulation).

    The arithmetic and its order are the manual backend's (``Problem`` and
    ``_run_train``); the mlp's backpropagation is
    :func:`comparisons.models.mlp.manual_gradients` written again with the
    activation's derivative as a piece of its own (:meth:`activation_back`).
    A fault subclasses this and replaces one method.
    """

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        self.model = model_pieces(experiment.model)
        self.config = experiment.model_config
        self.pieces = loss_pieces(experiment.loss)
        rate = None if experiment.kind == "accumulation" else learning_rate(experiment)
        self.rate_setting = rate
        self.rate = rate if callable(rate) or rate is None else (lambda k: rate)
        self.leaves: dict[str, list[str]] = {}
        for name in experiment.parameter_names:
            self.leaves.setdefault(_leaf(name), []).append(name)
        trainable = set(trainable_names(experiment))
        self.trainable = [leaf for leaf, names in self.leaves.items() if names[0] in trainable]
        self.rules: dict[str, UpdateRule] = {}
        self.states: dict[str, object] = {}
        self.buffer: dict[str, float] = {}

    # --- one example ---------------------------------------------------------------------

    def outputs(self, params: Floats, x) -> float | list[float]:
        """The model's output for one example (a float, or ``k`` logits)."""
        return self.model.manual_predict(params, x, **self.config)

    def loss(self, outputs, target: float) -> tuple[float, object]:
        """One example's loss and ``dl/doutputs``."""
        return self.pieces.manual(outputs, target)

    def backward(self, params: Floats, x, signal) -> dict[str, float]:
        """One example's gradient ``{name: signal * doutput/dname}``, by hand."""
        if self.experiment.model != "mlp":
            return self.model.manual_gradients(params, x, signal, **self.config)
        return self._mlp_backward(params, x, signal)

    def activation_back(self, z: float, a: float, upstream: float) -> float:
        """``f'(z) * upstream`` for the hidden layers' activation ``f`` (``a = f(z)``)."""
        return _ACTIVATIONS[self.config.get("activation", "tanh")][1](z, a, upstream)

    def _mlp_backward(self, params: Floats, x, signal) -> dict[str, float]:
        sizes = self.config["sizes"]
        f = _ACTIVATIONS[self.config.get("activation", "tanh")][0]
        layers = [([[f"layers.{n}.w[{i},{j}]" for j in range(fan_out)] for i in range(fan_in)],
                   [f"layers.{n}.b[{j}]" for j in range(fan_out)])
                  for n, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))]
        inputs, pre = [[float(v) for v in x]], []
        for depth, (w, b) in enumerate(layers):
            a, z = inputs[-1], []
            for j, b_name in enumerate(b):
                total = a[0] * params[w[0][j]]
                for i in range(1, len(a)):
                    total = total + a[i] * params[w[i][j]]
                z.append(total + params[b_name])
            pre.append(z)
            if depth < len(layers) - 1:
                inputs.append([f(v) for v in z])
        delta = [float(signal)] if isinstance(signal, (int, float)) else [float(g) for g in signal]
        per_layer: list[dict[str, float]] = [{} for _ in layers]
        for depth in range(len(layers) - 1, -1, -1):
            w, b = layers[depth]
            a = inputs[depth]
            grads = {w[i][j]: a[i] * delta[j] for i in range(len(a)) for j in range(len(delta))}
            grads.update(zip(b, delta, strict=True))
            per_layer[depth] = grads
            if depth:
                upstream = []
                for i in range(len(w)):
                    total = params[w[i][0]] * delta[0]
                    for j in range(1, len(delta)):
                        total = total + params[w[i][j]] * delta[j]
                    upstream.append(total)
                delta = [self.activation_back(pre[depth - 1][i], inputs[depth][i], upstream[i])
                         for i in range(len(upstream))]
        return {name: g for grads in per_layer for name, g in grads.items()}

    # --- one batch -----------------------------------------------------------------------

    def reduce(self, summed: Floats, last: Floats, n: int) -> dict[str, float]:
        """The data gradient of a batch of ``n`` from the per-example sum (and the last's)."""
        return {name: g / n for name, g in summed.items()}

    def penalty(self, params: Floats) -> tuple[float, dict[str, float]]:
        """L2: ``alpha sum theta^2`` and its gradient ``2 alpha theta`` (used when ``l2 > 0``)."""
        return manual_l2(params, self.experiment.l2)

    def loss_and_grads(self, params: Floats, rows: Rows) -> tuple[float, dict[str, float]]:
        """The batch's mean loss (plus the penalty) and its gradient."""
        total, summed, last = 0.0, dict.fromkeys(params, 0.0), {}
        for *x, y in rows:
            value, signal = self.loss(self.outputs(params, x), y)
            total += value
            last = self.backward(params, x, signal)
            for name, g in last.items():
                summed[name] += g
        loss, grads = total / len(rows), self.reduce(summed, last, len(rows))
        if self.experiment.l2:
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
        return loss + self.penalty(params)[0] if self.experiment.l2 else loss

    # --- the data ------------------------------------------------------------------------

    def gradient_rows(self) -> list:
        """The rows the batches are drawn from."""
        return list(self.experiment.train)

    def batches(self) -> list[list[int]] | None:
        """Each step's indices into :meth:`gradient_rows` (``None``: full batch)."""
        e = self.experiment
        if e.batch_size is None:
            return None
        return minibatch_indices(len(self.gradient_rows()), batch_size=e.batch_size,
                                 steps=e.steps, seed=e.seed).tolist()

    # --- one step ------------------------------------------------------------------------

    def clears(self, k: int) -> bool:
        """Whether the gradient buffer is cleared before step ``k``'s backward pass."""
        if self.experiment.kind == "accumulation":
            return bool(self.experiment.zero_grad[k])
        return True

    def rule(self, leaf: str) -> UpdateRule:
        """The update rule of one parameter leaf (the experiment's optimizer and rate)."""
        settings = optimizer_settings(self.experiment)
        settings.pop("learning_rate", None)
        return update_rule(self.experiment.optimizer, learning_rate=self.rate_setting,
                           **settings)

    def apply(self, k: int, params: Floats, updates: Floats) -> dict[str, float]:
        """``theta + u`` with the rule's update ``u = -lr(k) * ...``."""
        return apply_updates(params, updates)

    def update_leaf(self, k: int, leaf: str, params: Floats, grads: Floats) -> dict[str, float]:
        """One trainable leaf moved by its rule (its own optimizer state)."""
        names = self.leaves[leaf]
        updates, self.states[leaf] = self.rules[leaf].update(
            {n: grads[n] for n in names}, self.states[leaf], {n: params[n] for n in names})
        return self.apply(k, params, updates)

    def step(self, k: int, params: Floats, rows: Rows) -> tuple[float, dict, dict]:
        """Step ``k``: ``(batch loss, recorded gradient, new parameters)``."""
        loss, grads = self.loss_and_grads(params, rows)
        clear = self.clears(k)
        self.buffer = {n: g if clear else self.buffer[n] + g for n, g in grads.items()}
        for leaf in self.rules:
            params = self.update_leaf(k, leaf, params, self.buffer)
        return loss, self.buffer, dict(params)

    # --- the run -------------------------------------------------------------------------

    def accuracy(self, params: Floats, rows: Rows) -> float:
        label = self.pieces.manual_label
        return sum(label(self.outputs(params, x)) == y for *x, y in rows) / len(rows)

    def run(self) -> TrajectoryRecord:
        """The whole run as the trajectory contract (the manual backend's series)."""
        e = self.experiment
        check_run(e, "float64")
        rows, order = self.gradient_rows(), self.batches()
        params = {n: float(e.init[n]) for n in e.parameter_names}
        if e.kind != "accumulation":
            self.rules = {leaf: self.rule(leaf) for leaf in self.trainable}
            self.states = {leaf: self.rules[leaf].init({n: params[n] for n in self.leaves[leaf]})
                           for leaf in self.trainable}
        self.buffer = dict.fromkeys(params, 0.0)
        rec = recorder_for(e)

        def record_state() -> None:
            accuracy = {}
            if e.classifies:
                accuracy["train_accuracy"] = self.accuracy(params, e.train)
                if e.validation is not None:
                    accuracy["val_accuracy"] = self.accuracy(params, e.validation)
            outputs = [self.outputs(params, row[:-1]) for row in e.train]
            rec.state(params, train_loss=self.mean_loss(params, e.train),
                      val_loss=None if e.validation is None else self.mean_loss(params,
                                                                                e.validation),
                      predictions=[v for out in outputs
                                   for v in (out if isinstance(out, list) else [out])],
                      extras=accuracy)

        for k in range(e.steps):
            record_state()
            batch = rows if order is None else [rows[i] for i in order[k]]
            extras = {}
            if e.kind == "gradient-check":
                eps = float(e.fd_epsilon)
                extras = {f"numeric.{n}": (self.mean_loss({**params, n: v + eps}, batch)
                                           - self.mean_loss({**params, n: v - eps}, batch))
                          / (2 * eps) for n, v in params.items()}
            loss, grads, params = self.step(k, params, batch)
            if e.schedule is not None:
                extras["learning_rate"] = self.rate(k)
            rec.step(grads, batch_loss=loss, extras=extras)
        record_state()
        return rec.trajectory(batches=order)


class _SharedPath:
    """The lesson's ``a * a`` through the scalar engine: ``dL/da`` by ``backward``."""

    number: type = Value

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment

    def run(self) -> TrajectoryRecord:
        e = self.experiment
        check_run(e, "float64")
        a0 = float(e.init["a"])
        rec = recorder_for(e)
        for _ in range(e.steps):
            a = self.number(a0)
            square = a * a
            square.backward()
            rec.state({"a": a0}, train_loss=square.data)
            rec.step({"a": a.grad}, batch_loss=square.data)
        rec.state({"a": a0}, train_loss=a0 * a0)
        return rec.trajectory(batches=None)


def _reference_loop(experiment: Experiment) -> type:
    return _SharedPath if experiment.kind == "shared-path" else _Loop


# --- the faults: each replaces one piece ---------------------------------------------------


class _OverwritingValue(Value):
    """An engine Value whose ``*`` backward assigns instead of accumulating (the bug)."""

    __slots__ = ()

    def __mul__(self, other):
        if not isinstance(other, Value):
            return super().__mul__(other)
        out = _OverwritingValue(self.data * other.data)
        out._prev, out._op = (self, other), "*"

        def _backward(g: float) -> None:
            self.grad = g * other.data  # BUG: `=` loses the other path's contribution
            other.grad = g * self.data

        out._backward = _backward
        return out


class _OverwriteNotAccumulate(_SharedPath):
    number = _OverwritingValue


class _GradientsNotCleared(_Loop):
    def clears(self, k: int) -> bool:
        return False  # BUG: no zero_grad(): the buffer keeps every earlier step's gradient


class _BiasGradientSign(_Loop):
    def backward(self, params: Floats, x, signal) -> dict[str, float]:
        grads = super().backward(params, x, signal)
        return {n: -g if _is_bias(n) else g for n, g in grads.items()}  # BUG: -delta


def _squared_error(s: float, t: float) -> tuple[float, float]:
    e = s - t
    return e * e, 2.0 * e


class _LossMissingHalf(_Loop):
    def loss(self, outputs, target: float) -> tuple[float, float]:
        return _squared_error(outputs, target)  # BUG: (s - t)^2, not 0.5 (s - t)^2


class _SumNotMean(_Loop):
    def reduce(self, summed: Floats, last: Floats, n: int) -> dict[str, float]:
        return dict(summed)  # BUG: no / n


class _UpdateBeforeLoss(_Loop):
    def step(self, k: int, params: Floats, rows: Rows) -> tuple[float, dict, dict]:
        _, grads, params = super().step(k, params, rows)
        return self.mean_loss(params, rows), grads, params  # BUG: the updated parameters' loss


class _TanhDerivativeMissingSquare(_Loop):
    def activation_back(self, z: float, t: float, upstream: float) -> float:
        return upstream * (1.0 - t)  # BUG: 1 - tanh, not 1 - tanh^2


class _BiasGradientNotSummed(_Loop):
    def reduce(self, summed: Floats, last: Floats, n: int) -> dict[str, float]:
        grads = super().reduce(summed, last, n)
        grads.update({name: g for name, g in last.items() if _is_bias(name)})  # BUG: db = delta
        return grads



class _SoftmaxWithoutMaxSubtraction(_Loop):
    def loss(self, z: Sequence[float], target: float) -> tuple[float, list[float]]:
        exps = [ieee_exp(v) for v in z]  # BUG: exp(z), not exp(z - max z): inf past z ~ 709.78
        total = exps[0]
        for e in exps[1:]:
            total = total + e
        grad = [ieee_div(e, total) for e in exps]  # inf / inf = nan, as IEEE
        grad[int(target)] -= 1.0
        return ieee_log(total) - z[int(target)], grad


class _ReluGradientWhereNegative(_Loop):
    def activation_back(self, z: float, a: float, upstream: float) -> float:
        return upstream  # BUG: passes where z <= 0 too


class _L2MissingFromGradient(_Loop):
    def penalty(self, params: Floats) -> tuple[float, dict[str, float]]:
        value, grads = super().penalty(params)
        return value, dict.fromkeys(grads, 0.0)  # BUG: in the loss, not in the gradient


class _LearningRateAppliedTwice(_Loop):
    def apply(self, k: int, params: Floats, updates: Floats) -> dict[str, float]:
        return apply_updates(params, {n: self.rate(k) * u for n, u in updates.items()})  # BUG


class _BatchSizeDividedTwice(_Loop):
    def reduce(self, summed: Floats, last: Floats, n: int) -> dict[str, float]:
        return {name: g / n / n for name, g in summed.items()}  # BUG: / n once too often


class _UpdateInPlaceBeforeAllGradients(_Loop):
    def step(self, k: int, params: Floats, rows: Rows) -> tuple[float, dict, dict]:
        loss, used = None, {}
        for leaf, names in self.leaves.items():
            value, grads = self.loss_and_grads(params, rows)  # BUG: at params already moved
            loss = value if loss is None else loss
            used.update((n, grads[n]) for n in names)
            if leaf in self.rules:
                params = self.update_leaf(k, leaf, params, grads)
        return loss, used, dict(params)


class _BatchOrderNotReshuffled(_Loop):
    def batches(self) -> list[list[int]] | None:
        order = super().batches()
        per_epoch = len(self.gradient_rows()) // self.experiment.batch_size
        return [order[k % per_epoch] for k in range(len(order))]  # BUG: one permutation


class _ValidationInGradient(_Loop):
    def gradient_rows(self) -> list:
        return [*self.experiment.train, *self.experiment.validation]  # BUG: validation rows too


class _BiasLeftOutOfWeightDecay(_Loop):
    def penalty(self, params: Floats) -> tuple[float, dict[str, float]]:
        weights = {n: p for n, p in params.items() if not _is_bias(n)}  # BUG: no bias
        value, grads = manual_l2(weights, self.experiment.l2)
        return value, {n: grads.get(n, 0.0) for n in params}

    def rule(self, leaf: str) -> UpdateRule:
        if self.experiment.optimizer != "adamw" or not _is_bias(leaf):
            return super().rule(leaf)
        settings = optimizer_settings(self.experiment)
        settings.pop("learning_rate", None)
        settings.pop("weight_decay")  # BUG: the biases get Adam, without AdamW's decay
        return update_rule("adam", learning_rate=self.rate_setting, **settings)


# --- when a fault applies ----------------------------------------------------------------


def _takes_gradients(e: Experiment) -> bool:
    return e.kind in ("train", "gradient-check", "accumulation")


def _steps_optimizer(e: Experiment) -> bool:
    return e.kind in ("train", "gradient-check")


def _batches_of_several(e: Experiment) -> bool:
    return _takes_gradients(e) and (e.batch_size or len(e.train)) > 1


def _hidden(activation: str) -> Callable[[Experiment], bool]:
    def applies(e: Experiment) -> bool:
        return (_takes_gradients(e) and e.model == "mlp" and len(e.model_settings["sizes"]) > 2
                and e.model_settings.get("activation", "tanh") == activation)
    return applies


def _decays(e: Experiment) -> bool:
    if not _takes_gradients(e):
        return False
    return e.l2 > 0 or (e.optimizer == "adamw" and optimizer_settings(e)["weight_decay"] > 0)


def _several_epochs(e: Experiment) -> bool:
    return (_steps_optimizer(e) and e.batch_size is not None
            and e.steps > len(e.train) // e.batch_size)


@dataclass(frozen=True)
class FaultVariant:
    """One classic bug as the reference with that bug, runnable on any experiment it applies to.

    Attributes:
      name: short identifier, e.g. ``sum-not-mean``.
      bug: one line: what the broken code does wrong.
      applies_when: one line: the experiments it applies to.
      applies: ``applies(experiment) -> bool``, the same in code.
      loop: the reference loop with the bug (a subclass replacing one piece).
    """

    name: str
    bug: str
    applies_when: str
    applies: Callable[[Experiment], bool]
    loop: type

    def run(self, experiment: Experiment, *, broken: bool = True) -> TrajectoryRecord:
        """The reference with this bug on ``experiment`` (``broken=False``: without it).

        Raises:
          ValueError: the fault does not apply to ``experiment``, or the experiment
            cannot be run.
        """
        if not self.applies(experiment):
            raise ValueError(f"fault {self.name} does not apply to {experiment.name}: "
                             f"it applies when {self.applies_when}")
        return (self.loop if broken else _reference_loop(experiment))(experiment).run()


VARIANTS: dict[str, FaultVariant] = {
    v.name: v
    for v in (
        FaultVariant("overwrite-not-accumulate",
                     "the engine's * backward assigns instead of adding: a * a gets 3, not 6",
                     "the experiment is the shared-path kind",
                     lambda e: e.kind == "shared-path", _OverwriteNotAccumulate),
        FaultVariant("gradients-not-cleared", "gradients are not cleared between optimizer steps",
                     "a gradient is taken at 2 or more steps",
                     lambda e: _takes_gradients(e) and e.steps > 1, _GradientsNotCleared),
        FaultVariant("bias-gradient-sign", "the hand-written bias gradient has the wrong sign",
                     "a gradient is taken", _takes_gradients, _BiasGradientSign),
        FaultVariant("loss-missing-half", "the loss is missing its 1/2 factor",
                     "the loss is half-squared-error",
                     lambda e: _takes_gradients(e) and e.loss == "half-squared-error",
                     _LossMissingHalf),
        FaultVariant("sum-not-mean", "the batch gradient is a sum over the batch, not a mean",
                     "batches hold 2 or more examples", _batches_of_several, _SumNotMean),
        FaultVariant("update-before-loss", "the update is applied before the loss is recorded",
                     "an optimizer steps", _steps_optimizer, _UpdateBeforeLoss),
        FaultVariant("tanh-derivative-missing-square",
                     "tanh's derivative is written 1 - tanh instead of 1 - tanh^2",
                     "an mlp with tanh hidden layers", _hidden("tanh"),
                     _TanhDerivativeMissingSquare),
        FaultVariant("bias-gradient-not-summed",
                     "the bias gradient is the batch's last example's, not the batch mean",
                     "batches hold 2 or more examples", _batches_of_several,
                     _BiasGradientNotSummed),
        FaultVariant("softmax-without-max-subtraction",
                     "softmax is exp(z) / sum exp(z) without subtracting max z: overflows",
                     "the loss is softmax-cross-entropy",
                     lambda e: _takes_gradients(e) and e.loss == "softmax-cross-entropy",
                     _SoftmaxWithoutMaxSubtraction),
        FaultVariant("relu-gradient-where-negative",
                     "ReLU's backward passes the gradient where its input is negative too",
                     "an mlp with relu hidden layers", _hidden("relu"),
                     _ReluGradientWhereNegative),
        FaultVariant("l2-missing-from-gradient",
                     "the L2 penalty is added to the loss but left out of its gradient",
                     "l2 > 0", lambda e: _takes_gradients(e) and e.l2 > 0,
                     _L2MissingFromGradient),
        FaultVariant("learning-rate-applied-twice",
                     "the optimizer's update -lr u is multiplied by the learning rate again",
                     "an optimizer steps", _steps_optimizer, _LearningRateAppliedTwice),
        FaultVariant("batch-size-divided-twice",
                     "the batch-mean gradient is divided by the batch size again",
                     "batches hold 2 or more examples", _batches_of_several,
                     _BatchSizeDividedTwice),
        FaultVariant("update-in-place-before-all-gradients",
                     "each parameter leaf is updated as soon as its gradient is computed, so "
                     "later leaves' gradients see the moved parameters",
                     "an optimizer steps a model of 2 or more parameter leaves",
                     lambda e: _steps_optimizer(e) and len({_leaf(n)
                                                            for n in e.parameter_names}) > 1,
                     _UpdateInPlaceBeforeAllGradients),
        FaultVariant("batch-order-not-reshuffled",
                     "every epoch replays the first epoch's shuffled order",
                     "mini-batches over more than one epoch", _several_epochs,
                     _BatchOrderNotReshuffled),
        FaultVariant("validation-in-gradient",
                     "the validation examples are used in the gradient too",
                     "the experiment has a validation set",
                     lambda e: _takes_gradients(e) and e.validation is not None,
                     _ValidationInGradient),
        FaultVariant("bias-left-out-of-weight-decay",
                     "the biases are left out of the L2 penalty / AdamW weight decay, which "
                     "the reference applies to every parameter",
                     "l2 > 0, or adamw with weight_decay > 0", _decays,
                     _BiasLeftOutOfWeightDecay),
    )
}
"""Every fault by name (the gallery's order, :data:`comparisons.faults.FAULTS`)."""


# --- running and diagnosing ----------------------------------------------------------------


def run_variant(experiment: Experiment, fault: str | None) -> TrajectoryRecord:
    """The reference's run of ``experiment`` with ``fault`` (``None``: without any).

    ``run_variant(e, None)`` is the manual backend's trajectory of ``e``.

    Raises:
      KeyError: an unknown fault name.
      ValueError: the fault does not apply to ``experiment``, or it cannot be run.
    """
    if fault is None:
        return _reference_loop(experiment)(experiment).run()
    return VARIANTS[fault].run(experiment)


def fault_variants(experiment: Experiment) -> dict[str, Callable[[], TrajectoryRecord]]:
    """Every fault that applies to ``experiment``, mapped to a thunk running the reference with it.

    Variants whose trajectory equals the reference's on this experiment are included
    (see :func:`fault_differences`).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> list(fault_variants(REGISTRY["shared-path"]))
      ['overwrite-not-accumulate']
      >>> fault_variants(REGISTRY["shared-path"])["overwrite-not-accumulate"]().grads
      {'a': [3.0]}
    """
    return {name: functools.partial(run_variant, experiment, name)
            for name, variant in VARIANTS.items() if variant.applies(experiment)}


class Diagnosis(NamedTuple):
    """A fault whose variant a trajectory agrees with.

    Attributes:
      fault: the fault's name (a key of :data:`VARIANTS`).
      bug: its one-line description.
      step: the step where the fault's variant first differs from the correct reference.
      quantity: the series there (``grads.w``, ``batch_loss``, ...).
    """

    fault: str
    bug: str
    step: int
    quantity: str

    def describe(self) -> str:
        """One line for a report.

        Example:
          >>> Diagnosis("sum-not-mean", "the batch gradient is a sum", 0, "grads.w").describe()
          'matches the reference with sum-not-mean (the batch gradient is a sum); that fault \
first differs from the correct reference at step 0, grads.w'
        """
        return (f"matches the reference with {self.fault} ({self.bug}); that fault first "
                f"differs from the correct reference at step {self.step}, {self.quantity}")


Compare = Callable[[Experiment, TrajectoryRecord, object], object]
"""``compare(experiment, reference, theirs) -> verdict`` with ``.agree`` and ``.first_mismatch``."""


def _full_compare(dtype: str) -> Compare:
    def compare(experiment, reference, theirs):
        return compare_trajectories(experiment, {"manual": reference, "theirs": theirs},
                                    dtype=dtype)
    return compare


def _reference(experiment: Experiment, reference: TrajectoryRecord | None) -> TrajectoryRecord:
    if reference is not None:
        return reference
    return comparisons.backends.get_backend("manual").run(experiment, dtype="float64")


def _difference(experiment: Experiment, reference: TrajectoryRecord, variant: TrajectoryRecord,
                dtype: str) -> Mismatch | None:
    return compare_trajectories(experiment, {"manual": reference, "variant": variant},
                                dtype=dtype).first_mismatch


def fault_differences(
    experiment: Experiment, *, reference: TrajectoryRecord | None = None,
    dtype: str = "float64",
) -> dict[str, Mismatch | None]:
    """Where each applicable fault's variant first differs from the correct reference.

    Every series the reference records is compared, by
    :func:`comparisons.compare.compare_trajectories` at ``dtype``'s tolerance.
    ``None``: on this experiment the fault cannot be told from the correct reference.

    Args:
      experiment: the experiment.
      reference: the manual backend's trajectory of it, if already computed.
      dtype: the precision whose tolerance decides.

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> m = fault_differences(REGISTRY["full-batch"])["learning-rate-applied-twice"]
      >>> m.step, m.quantity
      (1, 'params.w')
    """
    reference = _reference(experiment, reference)
    return {name: _difference(experiment, reference, run(), dtype)
            for name, run in fault_variants(experiment).items()}


def diagnose(
    experiment: Experiment,
    trajectory: object,
    *,
    dtype: str = "float64",
    reference: TrajectoryRecord | None = None,
    compare: Compare | None = None,
) -> list[Diagnosis]:
    """The known faults whose variant ``trajectory`` agrees with, in the gallery's order.

    A trajectory that agrees with the correct reference gets no diagnosis; so does
    one that agrees with a variant only where the variant equals the reference.
    More than one diagnosis means those faults coincide on the series compared (on
    batches of 2, ``sum-not-mean`` and ``loss-missing-half`` both double the data
    gradient, and only the recorded losses tell them apart); an empty list means
    the trajectory matches no known fault.

    Args:
      experiment: the experiment ``trajectory`` claims to have run.
      trajectory: theirs, whole or partial: what ``compare`` takes as its third
        argument (a :class:`functional_training.TrajectoryRecord` for the default).
      dtype: the precision of ``trajectory``; sets the default comparator's
        tolerance and the one that decides where a variant differs from the reference.
      reference: the manual backend's trajectory of ``experiment``, if already computed.
      compare: ``compare(experiment, reference_like, theirs) -> verdict`` (``.agree``);
        default :func:`comparisons.compare.compare_trajectories` at ``dtype``, every
        series. Pass a partial comparator to compare only what ``trajectory`` has.

    Returns:
      One :class:`Diagnosis` per fault matched, with where its variant first differs
      from the correct reference (over every series, at ``dtype``).
    """
    compare = compare or _full_compare(dtype)
    reference = _reference(experiment, reference)
    if compare(experiment, reference, trajectory).agree:
        return []
    found = []
    for name, run in fault_variants(experiment).items():
        variant = run()
        if not compare(experiment, variant, trajectory).agree:
            continue
        differs = _difference(experiment, reference, variant, dtype)
        if differs is not None:
            found.append(Diagnosis(name, VARIANTS[name].bug, differs.step, differs.quantity))
    return found
