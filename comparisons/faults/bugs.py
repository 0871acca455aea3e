"""The broken pieces: each classic bug as one replaced method of the manual run.

Each class here is the manual backend's maths (:class:`~comparisons.backends.manual.ManualMaths`)
or the one loop (:class:`~comparisons.backends._loop.Loop`) with one method replaced by
the broken code, a few lines under the bug's name; :mod:`comparisons.faults.variants`
names them, says when each applies and runs them. Without a bug a variant *is* the
manual backend: there is no second loop and no second backward.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from comparisons.backends._common import optimizer_settings
from comparisons.backends._loop import (
    Batch,
    Loop,
)
from comparisons.backends.engine import Problem
from comparisons.backends.manual import ManualMaths
from comparisons.backends.update_rules import UpdateRule, apply_updates, ieee_div, update_rule
from comparisons.engine import Value, ancestry, ieee_exp, ieee_log
from comparisons.experiments import Experiment
from comparisons.losses import manual_l2
from comparisons.models import activations, bias_leaves
from functional_training import (
    epoch_batches,
    leaf_of,
)

TORCH_ADAMW_WEIGHT_DECAY = 1e-2
"""``torch.optim.AdamW``'s default ``weight_decay`` (what ``adamw-not-adam`` decays by)."""

Floats = Mapping[str, float]


class BiasMaths(ManualMaths):
    """The manual maths, knowing which parameters are biases (the kind's ``bias_leaves``)."""

    @functools.cached_property
    def biases(self) -> frozenset[str]:
        return frozenset(bias_leaves(self.experiment.model, self.config))

    def is_bias(self, name: str) -> bool:
        return leaf_of(name) in self.biases


# --- the faults: each replaces one piece of the manual maths or of the loop ----------------


def _overwriting_backward(root: Value, *, square_assigns_twice: bool) -> None:
    """``root.backward()`` in an engine whose every backward rule assigns (``=``), not adds.

    Newest node first (the engine's order), each rule runs with its parents'
    gradients cleared, so a node ends with the contribution of the consumer
    visited last (the oldest), not the sum over its consumers. A rule that reaches
    one parent twice (``a * a``) gives it ``2 g a`` as one square op would (a loss's
    ``e ** 2``), or, with ``square_assigns_twice``, ``g a``: the lesson's ``*``
    assigning ``g a`` to the same node twice.
    """
    nodes = ancestry(root)
    nodes.sort(key=lambda node: node._stamp, reverse=True)
    for node in nodes:
        node.grad = 0.0
    root.grad = 1.0
    for node in nodes:
        if node._backward is None:
            continue
        parents = node._prev
        for parent in parents:
            parent.grad = 0.0  # BUG: `=`: this rule's share replaces what others gave
        node._backward(node.grad)
        if square_assigns_twice and len(parents) == 2 and parents[0] is parents[1]:
            parents[0].grad = parents[0].grad / 2  # a * a: g a assigned twice is g a


class OverwriteNotAccumulate(ManualMaths):
    def square(self, a: float) -> tuple[float, float, float]:
        held = Value(a)  # the engine's a * a, swept by the broken backward
        square = held * held
        _overwriting_backward(square, square_assigns_twice=True)
        return a, square.data, held.grad

    def loss_and_grads(self, params: Floats, rows) -> tuple[float, dict[str, float]]:
        leaves = {n: Value(v) for n, v in params.items()}  # the engine backend's graph
        loss = Problem(self.model, self.experiment.loss, self.l2, self.config).mean_loss(
            leaves, rows)
        _overwriting_backward(loss, square_assigns_twice=False)
        return loss.data, {n: leaf.grad for n, leaf in leaves.items()}


class GradientsNotCleared(Loop):
    """Never cleared: the buffer holds every earlier step's gradient as the loop took it.

    With a summed loss (``reduction = "sum"``) that is the sum of each batch's *summed*
    gradient, ``n_0 m_0 + ... + n_k m_k`` (``m_j`` a batch's mean gradient), which the
    step divides by the nominal batch size: batches of different sizes weigh in with
    their own ``n_j``, so the buffer is kept here, as the user's loop keeps ``.grad``.
    """

    def __init__(self, experiment: Experiment, maths) -> None:
        super().__init__(experiment, maths)
        self.held: dict[str, float] = {}  # a summed loss's buffer (step)

    def clears(self, k: int) -> bool:
        # a summed loss: the backend clears, this loop accumulates the sums itself (step)
        return self.experiment.reduction == "sum"  # else BUG: no zero_grad()

    def step(self, k: int, batch: Batch) -> tuple[float, dict[str, float]]:
        if self.experiment.reduction != "sum":
            return super().step(k, batch)
        loss, grads = self.maths.backward(batch)  # this batch's mean loss and gradient
        n = len(batch.rows)
        self.held = {name: self.held.get(name, 0.0) + n * g
                     for name, g in grads.items()}  # BUG: += on .grad, never cleared
        if self.steps_optimizer:
            nominal = self.experiment.batch_size or len(self.gradient_rows())
            self.maths.update(k, {name: g / nominal for name, g in self.held.items()})
        return n * loss, dict(self.held)


class BiasGradientSign(BiasMaths):
    def example_gradient(self, params: Floats, x, signal) -> dict[str, float]:
        grads = super().example_gradient(params, x, signal)
        return {n: -g if self.is_bias(n) else g for n, g in grads.items()}  # BUG: -delta


def _squared_error(s: float, t: float) -> tuple[float, float]:
    e = s - t
    return e * e, 2.0 * e


class LossMissingHalf(ManualMaths):
    def loss(self, outputs, target: float) -> tuple[float, float]:
        return _squared_error(outputs, target)  # BUG: (s - t)^2, not 0.5 (s - t)^2


class SumNotMean(ManualMaths):
    def reduce(self, summed: Floats, last: Floats, n: int) -> dict[str, float]:
        return dict(summed)  # BUG: no / n


def _recorded(loop: Loop, batch: Batch, loss: float, grads: Floats) -> tuple[float, dict]:
    """What ``loop`` records of the backend's mean loss and gradient on ``batch`` (``n``
    times both for a summed loss, ``reduction = "sum"``), as its own ``step`` does."""
    n = loop.summed(batch)
    if n == 1.0:
        return loss, dict(grads)
    return n * loss, {name: n * g for name, g in grads.items()}


def _step_on(loop: Loop, k: int, batch: Batch, grads: Floats) -> None:
    """``loop``'s update with the gradient of ``batch`` (a summed loss's step divides it by
    the nominal batch size), as its own ``step`` does."""
    scale = loop.step_scale(batch)
    if scale == 1.0:
        loop.maths.update(k, grads)
    else:
        loop.maths.scaled_update(k, grads, scale)


class UpdateBeforeLoss(Loop):
    def step(self, k: int, batch: Batch) -> tuple[float, dict[str, float]]:
        _, grads = super().step(k, batch)
        after = self.maths.forward(batch)  # BUG: the updated parameters' loss
        return _recorded(self, batch, after, {})[0], grads


class TanhDerivativeMissingSquare(ManualMaths):
    def activation_back(self, activation: str, z: float, t: float, upstream: float) -> float:
        if activation != "tanh":
            return super().activation_back(activation, z, t, upstream)
        return upstream * (1.0 - t)  # BUG: 1 - tanh, not 1 - tanh^2


class BiasGradientNotSummed(BiasMaths):
    def reduce(self, summed: Floats, last: Floats, n: int) -> dict[str, float]:
        grads = super().reduce(summed, last, n)
        grads.update({name: g for name, g in last.items() if self.is_bias(name)})  # BUG
        return grads  # db = delta of the last example, not the batch's mean


class SoftmaxWithoutMaxSubtraction(ManualMaths):
    def loss(self, z: Sequence[float], target: float) -> tuple[float, list[float]]:
        exps = [ieee_exp(v) for v in z]  # BUG: exp(z), not exp(z - max z): inf past z ~ 709.78
        total = exps[0]
        for e in exps[1:]:
            total = total + e
        grad = [ieee_div(e, total) for e in exps]  # inf / inf = nan, as IEEE
        grad[int(target)] -= 1.0
        return ieee_log(total) - z[int(target)], grad


class ReluGradientWhereNegative(ManualMaths):
    def activation_back(self, activation: str, z: float, a: float, upstream: float) -> float:
        if activation != "relu":
            return super().activation_back(activation, z, a, upstream)
        return upstream  # BUG: passes where z <= 0 too


class L2MissingFromGradient(ManualMaths):
    def penalty(self, params: Floats) -> tuple[float, dict[str, float]]:
        value, grads = super().penalty(params)
        return value, dict.fromkeys(grads, 0.0)  # BUG: in the loss, not in the gradient


class LearningRateAppliedTwice(ManualMaths):
    def apply(self, k: int, params: Floats, updates: Floats) -> dict[str, float]:
        rate = self.learning_rate(k)
        return apply_updates(params, {n: rate * u for n, u in updates.items()})  # BUG


class BatchSizeDividedTwice(ManualMaths):
    def reduce(self, summed: Floats, last: Floats, n: int) -> dict[str, float]:
        return {name: g / n / n for name, g in summed.items()}  # BUG: / n once too often


class UpdateInPlaceBeforeAllGradients(Loop):
    def step(self, k: int, batch: Batch) -> tuple[float, dict[str, float]]:
        maths, loss, used, scale = self.maths, None, {}, self.step_scale(batch)
        for leaf, names in maths.leaves.items():
            value, grads = maths.loss_and_grads(maths.params, batch.rows)  # BUG: at params
            loss = value if loss is None else loss                        # already moved
            used.update((n, grads[n]) for n in names)
            if leaf in maths.rules:
                maths.update_leaf(k, leaf, {n: scale * g for n, g in grads.items()})
        return _recorded(self, batch, loss, used)


def epoch_length(e: Experiment, n: int) -> int:
    """Batches an epoch of ``n`` rows holds under the spec's rule (``last_batch``)."""
    return n // e.batch_size if e.last_batch == "drop" else -(-n // e.batch_size)


class BatchOrderNotReshuffled(Loop):
    def batches(self) -> list[list[int]] | None:
        order = super().batches()
        per_epoch = epoch_length(self.experiment, len(self.gradient_rows()))
        return [order[k % per_epoch] for k in range(len(order))]  # BUG: one permutation


class ValidationInGradient(Loop):
    def gradient_rows(self) -> list:
        return [*self.experiment.train, *self.experiment.validation]  # BUG: validation rows too


class BiasLeftOutOfWeightDecay(BiasMaths):
    def penalty(self, params: Floats) -> tuple[float, dict[str, float]]:
        weights = {n: p for n, p in params.items() if not self.is_bias(n)}  # BUG: no bias
        value, grads = manual_l2(weights, self.l2)
        return value, {n: grads.get(n, 0.0) for n in params}

    def rule(self, leaf: str) -> UpdateRule:
        settings = optimizer_settings(self.experiment)
        if leaf not in self.biases or not settings.get("weight_decay"):
            return super().rule(leaf)
        settings.pop("learning_rate", None)
        settings.pop("weight_decay")  # BUG: the biases' parameter group has no decay
        name = "adam" if self.experiment.optimizer == "adamw" else self.experiment.optimizer
        return update_rule(name, learning_rate=self.rate_setting, **settings)


class SumNotMeanLossSummed(SumNotMean):
    def reduce_loss(self, total: float, n: int) -> float:
        return total  # BUG: reduction='sum': the loss is the sum too


class ReluGradientWhereNegativeInHinge(ReluGradientWhereNegative):
    def loss(self, outputs, target: float) -> tuple[float, float]:
        value, _ = super().loss(outputs, target)
        return value, -target  # BUG: the hinge's relu passes where 1 - t s <= 0 too


def _softmax(z: Sequence[float]) -> list[float]:
    """``exp(z - max z) / sum exp(z - max z)``, summed left to right."""
    top = max(z)
    exps = [ieee_exp(v - top) for v in z]
    total = exps[0]
    for e in exps[1:]:
        total = total + e
    return [e / total for e in exps]


class DoubleSoftmax(ManualMaths):
    def loss(self, z: Sequence[float], target: float) -> tuple[float, list[float]]:
        p = _softmax(z)
        value, dp = super().loss(p, target)  # BUG: cross-entropy's softmax over probabilities
        inner = 0.0
        for pi, gi in zip(p, dp, strict=True):
            inner = inner + pi * gi
        return value, [pi * (gi - inner) for pi, gi in zip(p, dp, strict=True)]  # dp/dz^T dp


class SigmoidAppliedTwice(ManualMaths):
    def loss(self, s: float, target: float) -> tuple[float, float]:
        p = activations.forward("sigmoid", s)
        value, dp = super().loss(p, target)  # BUG: BCE-with-logits given the probability
        return value, dp * ((1.0 - p) * p)


class DetachedHiddenLayer(ManualMaths):
    """``.detach()`` on the output of hidden layer ``depth`` (0: the first; -1: the last)."""

    depth = 0

    @functools.cached_property
    def detached(self) -> frozenset[str]:
        """The leaves of layers ``0..depth``: the kind's leaves up to that layer's bias."""
        ends = bias_leaves(self.experiment.model, self.config)  # one per layer, in order
        leaves = list(self.leaves)
        last = leaves.index(ends[:-1][self.depth])
        return frozenset(leaves[:last + 1])

    def example_gradient(self, params: Floats, x, signal) -> dict[str, float]:
        grads = super().example_gradient(params, x, signal)
        return {n: 0.0 if leaf_of(n) in self.detached else g  # BUG: nothing flows below
                for n, g in grads.items()}


class DetachedLastHiddenLayer(DetachedHiddenLayer):
    depth = -1


class ZeroGradBeforeStep(Loop):
    def step(self, k: int, batch: Batch) -> tuple[float, dict[str, float]]:
        loss, grads = self.maths.backward(batch)
        cleared = dict.fromkeys(grads, 0.0)  # BUG: zero_grad() before step(): None, skipped
        return _recorded(self, batch, loss, cleared)


class UpdateSignFlipped(ManualMaths):
    def apply(self, k: int, params: Floats, updates: Floats) -> dict[str, float]:
        return apply_updates(params, {n: -u for n, u in updates.items()})  # BUG: ascent


class RateChanged(ManualMaths):
    """The manual maths whose update rules run at :meth:`changed_rate` of the spec's rate."""

    def changed_rate(self, rate):
        raise NotImplementedError

    def start(self, batches) -> None:
        super().start(batches)
        if self.rules:
            self.rate_setting = self.changed_rate(self.rate_setting)
            self.rules = {leaf: self.rule(leaf) for leaf in self.trainable}


class WrongLearningRate(RateChanged):
    factor = 10.0

    def changed_rate(self, rate):
        factor = self.factor
        if callable(rate):
            return lambda count: factor * rate(count)  # BUG: not the spec's rate
        return factor * rate  # BUG: not the spec's rate


class ScheduleNotStepped(RateChanged):
    def changed_rate(self, rate):
        return rate(0) if callable(rate) else rate  # BUG: scheduler.step() never called


class StepCalledTwice(RateChanged):
    def changed_rate(self, rate):
        if callable(rate):  # both calls of step k at the rate of step k, as torch's scheduler
            return lambda count: rate(count // 2)
        return rate

    def learning_rate(self, k: int) -> float:
        rate = self.rate_setting  # the rate recorded is step k's, the spec's
        return rate(2 * k) if callable(rate) else rate

    def update(self, k: int, grads: Floats) -> None:
        super().update(k, grads)
        super().update(k, grads)  # BUG: optimizer.step() twice with the same .grad


class StaleGradient(Loop):
    late: tuple[Batch, dict[str, float]] | None = None

    def step(self, k: int, batch: Batch) -> tuple[float, dict[str, float]]:
        loss, grads = self.maths.backward(batch)
        used = (batch, dict.fromkeys(grads, 0.0)) if self.late is None else self.late
        _step_on(self, k, *used)  # BUG: the previous step's gradient (zeros at step 0)
        self.late = batch, grads
        return _recorded(self, batch, loss, grads)


class StepBeforeBackward(Loop):
    late: tuple[Batch, dict[str, float]] | None = None

    def step(self, k: int, batch: Batch) -> tuple[float, dict[str, float]]:
        if self.late is not None:
            _step_on(self, k, *self.late)  # BUG: step() before backward(): last .grad
        loss, grads = self.maths.backward(batch)  # at the parameters just moved
        used, self.late = self.late, (batch, grads)
        loss = _recorded(self, batch, loss, {})[0]
        if used is None:
            return loss, dict.fromkeys(grads, 0.0)
        return loss, _recorded(self, used[0], 0.0, used[1])[1]


class L2AlsoAsWeightDecay(ManualMaths):
    def update(self, k: int, grads: Floats) -> None:
        _, decay = self.penalty(self.params)
        super().update(k, {n: g + decay[n] for n, g in grads.items()})  # BUG: 2 alpha theta again


class L2AppliedTwice(ManualMaths):
    def penalty(self, params: Floats) -> tuple[float, dict[str, float]]:
        value, grads = super().penalty(params)
        return value + value, {n: g + g for n, g in grads.items()}  # BUG: added twice


class L2AsWeightDecay(ManualMaths):
    def penalty(self, params: Floats) -> tuple[float, dict[str, float]]:
        return 0.0, dict.fromkeys(params, 0.0)  # BUG: not in the loss, nor in .grad ...

    def update(self, k: int, grads: Floats) -> None:
        _, decay = super().penalty(self.params)  # ... but torch's weight_decay = 2 alpha
        super().update(k, {n: g + decay[n] for n, g in grads.items()})


class WeightDecayAlsoInLoss(ManualMaths):
    def loss_and_grads(self, params: Floats, rows) -> tuple[float, dict[str, float]]:
        loss, grads = super().loss_and_grads(params, rows)
        value, decay = manual_l2(params, optimizer_settings(self.experiment)["weight_decay"] / 2)
        return loss + value, {n: g + decay[n] for n, g in grads.items()}  # BUG: lam/2 theta^2


class AdamWNotAdam(ManualMaths):
    def rule(self, leaf: str) -> UpdateRule:
        settings = optimizer_settings(self.experiment)
        settings.pop("learning_rate", None)
        decay = settings.pop("weight_decay", 0.0) or TORCH_ADAMW_WEIGHT_DECAY
        return update_rule("adamw", learning_rate=self.rate_setting,  # BUG: AdamW, not Adam
                           weight_decay=decay, **settings)


class LastBatchSkipped(Loop):
    def batches(self) -> list[list[int]] | None:
        e, n = self.experiment, len(self.gradient_rows())
        per_epoch = epoch_length(e, n)
        epochs = -(-e.steps // (per_epoch - 1))
        order = epoch_batches(n, batch_size=e.batch_size, steps=epochs * per_epoch,
                              seed=e.seed, last_batch=e.last_batch)
        kept = [b for k, b in enumerate(order) if k % per_epoch != per_epoch - 1]  # BUG
        return kept[:e.steps]
