"""Faults as variants of the reference: the manual backend's run with one bug, on any experiment.

A variant is the manual backend's own run, :func:`comparisons.backends._loop.run_loop`
around :class:`comparisons.backends.manual.ManualMaths`, with one piece replaced:
a method of the maths (one example's loss, the activation's derivative, the
batch reduction, the penalty, a leaf's update rule, the update's application,
the shared path's ``a * a``) or of the loop (the rows, the batch order,
clearing the buffer, the step). There is no second loop and no second
backward: without a fault a variant *is* the manual backend. Each bug is a few
lines under its name, and it runs on every experiment it applies to, a user's
spec included:

====================================  ==================================  ==========================
fault                                 the bug                             applies when
====================================  ==================================  ==========================
overwrite-not-accumulate              the engine's backward rules assign  always (the shared path;
                                      (``=``) instead of adding           any model, as a user's
                                      (``+=``)                            engine builds its graph)
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
tanh-derivative-missing-square        ``tanh' = 1 - tanh``, not           hidden layers with tanh
                                      ``1 - tanh^2``
bias-gradient-not-summed              the bias gradients are the batch's  batches of 2+ examples
                                      last example's, not the batch mean
softmax-without-max-subtraction       ``exp(z) / sum exp(z)``, no         class targets (softmax
                                      ``- max z`` (overflows past         over k logits)
                                      709.78)
relu-gradient-where-negative          ``relu' = 1`` also where            hidden layers with relu
                                      ``z <= 0``
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
bias-left-out-of-weight-decay         the biases get no L2 penalty and    ``l2 > 0``, or a
                                      no weight decay (AdamW's, or a      ``weight_decay > 0``
                                      coupled one)
sum-not-mean-loss-summed              ``reduction='sum'``: the loss       batches of 2+ examples
                                      (every recorded loss) and its
                                      gradient are sums over the
                                      examples
relu-gradient-where-negative-hinge    the relu of the hinge               the hinge loss
                                      ``max(0, 1 - t s)``, and of any
                                      relu hidden layer, passes the
                                      gradient where its input is
                                      ``<= 0``
double-softmax                        ``cross_entropy(softmax(z), t)``:   class targets
                                      the loss's own softmax over the
                                      probabilities
sigmoid-applied-twice                 ``BCEWithLogitsLoss`` given         binary cross-entropy
                                      ``sigmoid(s)``: the probability
                                      taken for the logit
hidden-layer-detached                 the first hidden layer's output     hidden layers
                                      detached: that layer gets no data
                                      gradient
last-hidden-layer-detached            the last hidden layer's output      2+ hidden layers
                                      detached: no layer below the
                                      output layer gets a data gradient
gradients-cleared-before-step         ``zero_grad()`` between             an optimizer steps
                                      ``backward()`` and ``step()``: the
                                      step sees no gradient, no
                                      parameter moves
update-sign-flipped                   ``theta - u``, not ``theta + u``:   an optimizer steps
                                      gradient ascent
wrong-learning-rate                   the rate is ``c`` times the spec's  an optimizer steps
                                      (``c = 10``;
                                      :func:`wrong_learning_rate` for
                                      others)
stale-gradient                        step ``k`` applies step             an optimizer steps 2+
                                      ``k - 1``'s gradient; step 0        times
                                      applies zeros
stale-gradient-step-before-backward   ``step()`` before ``backward()``:   an optimizer steps 2+
                                      the previous batch's gradient at    times
                                      the current parameters; step 0
                                      none
l2-applied-twice                      the penalty added to the loss       ``l2 > 0``
                                      twice: ``2 alpha sum theta^2``,
                                      gradient ``4 alpha theta``
l2-also-as-weight-decay               the penalty in the loss, and        ``l2 > 0``, an optimizer
                                      ``2 alpha theta`` added again by    steps
                                      the optimizer (``weight_decay``)
weight-decay-also-in-loss             a coupled ``weight_decay = lam``    a coupled
                                      and ``lam/2 sum theta^2`` in the    ``weight_decay > 0``
                                      loss too: ``.grad`` has
                                      ``lam theta``, the step adds it
                                      again
l2-as-weight-decay                    the spec's L2 applied as torch's    ``l2 > 0``, an optimizer
                                      ``weight_decay = 2 alpha``: in the  steps
                                      step only, not in the loss nor
                                      ``.grad``
schedule-not-stepped                  the schedule never stepped: every   a schedule, 2+ steps
                                      step at its initial rate
step-called-twice                     ``optimizer.step()`` twice per      an optimizer steps
                                      batch, with the same gradient
adamw-not-adam                        ``AdamW`` where Adam was meant:     optimizer ``adam``
                                      decoupled decay ``0.01`` (torch's
                                      default)
last-batch-skipped                    the last batch of every epoch is    mini-batches in the spec's
                                      skipped (the short one, with        order, 2+ per epoch,
                                      ``last_batch = "keep"``)            reaching one's last
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
  (``step-called-twice``: Adam's moments advance twice).
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
  without ``wd theta``, with a coupled ``weight_decay`` (sgd, momentum, nesterov,
  adam) their rule gets ``.grad`` without ``lam theta``. ("Weight decay applied to
  the bias" is the reference's own behaviour here, so it cannot be a fault of it.)

The kinds added for issue 20, and the forms of a family (:attr:`FaultVariant.family`
names the bug a form belongs to):

- ``overwrite-not-accumulate`` on a training run is the graph the engine backend
  builds (:class:`comparisons.backends.engine.Problem`: per example the model's
  graph and the loss's, their sum over ``n``, then the penalty) swept newest node
  first with every rule assigning, so a node ends with the share of its *oldest*
  consumer alone: a parameter used by every example gets the batch's first
  example's share (over ``n``; with half squared error a line's ``dL/dw`` is
  ``e_0 x_0 / n``), a hidden unit feeding several neurons the first neuron's path,
  and the penalty's share (newer than the data's) is lost. A loss's square is one
  op (``e ** 2``, as micrograd and hand-written engines write it): its rule gives
  ``2 e``. On the shared path the bug is the lesson's: ``*`` assigns ``g a`` to
  ``a`` twice, so ``a * a`` gets 3, not 6.
- ``sum-not-mean-loss-summed`` (family ``sum-not-mean``): ``nn.MSELoss(reduction='sum')``
  as the loss, so every recorded loss (batch, train, validation) is the sum over its
  rows, the data gradient the sum over the batch, and L2 added once after the sum.
  Against a ``half-squared-error`` spec, torch's ``MSELoss`` is this and
  ``loss-missing-half`` together (two bugs); against ``squared-error``, this alone.
- ``relu-gradient-where-negative-hinge`` (family ``relu-gradient-where-negative``):
  one broken relu used everywhere, as in micrograd, whose hinge is
  ``(1 - t s).relu()``: the loss value is right, ``dL/ds = -t`` for every example
  (also where ``1 - t s <= 0``), and relu hidden layers pass ``relu' = 1`` too.
- ``double-softmax`` and ``sigmoid-applied-twice`` replace the loss function, so every
  recorded loss has the bug: with ``p = softmax(z)``, ``L = logsumexp(p) - p_t`` and
  ``dL/dz = J(z)^T (softmax(p) - onehot(t))`` (``J = diag(p) - p p^T``); with
  ``p = sigmoid(s)``, ``L = log(1 + e^p) - p t`` and ``dL/ds = (sigmoid(p) - t) p (1 - p)``.
- ``hidden-layer-detached``: ``h = layer0(x).detach()``, so the first layer's
  leaves get an exact 0 from the data (torch's ``.grad`` is ``None``, recorded as
  0); ``last-hidden-layer-detached`` (same family) detaches the output layer's input,
  so every layer below it gets 0. A layer is the kind's leaves up to its bias leaf
  (``bias_leaves``: one per layer, in order). The penalty's ``2 alpha theta`` still
  reaches them (its graph is not detached); SGD, momentum and Adam on zero
  gradients from step 0 never move them.
- What ``grads`` records where the step does not use the gradient ``backward()``
  just computed: in the torch forms, what the step used, as a recorder hooked to
  ``optimizer.step()`` sees ``.grad``:
  ``gradients-cleared-before-step`` records zeros (torch's default
  ``zero_grad(set_to_none=True)`` then makes ``step()`` skip every parameter: nothing
  moves, not even AdamW's decay, and the optimizer's state never advances);
  ``stale-gradient`` (a NumPy loop that keeps the gradient and applies it one step
  late) applies step ``k - 1``'s gradient, taken at ``params[k - 1]`` on batch
  ``k - 1``, and zeros at step 0 (an update of zeros: Adam's count advances), and
  records the gradient it computed at step ``k``, as such a loop does;
  ``stale-gradient-step-before-backward`` (same family; torch's ``step()`` called
  before ``backward()``) applies at step ``k`` the gradient of batch ``k - 1`` taken
  at the current ``params[k]``, makes no update at step 0 (``.grad`` is ``None``),
  records that gradient (0 at step 0), and records the batch loss of batch ``k`` at
  the parameters after its step.
- ``update-sign-flipped`` flips the whole update (AdamW's decay included);
  ``wrong-learning-rate`` multiplies every step's rate (a schedule's too) and
  ``schedule-not-stepped`` holds the rate at ``lr(0)``: the recorded
  ``learning_rate`` is the rate the run used.
- ``l2-applied-twice``: ``+ alpha sum theta^2`` written twice, so every recorded loss
  has ``2 alpha sum theta^2`` and the gradient ``4 alpha theta``;
  ``l2-also-as-weight-decay`` (same family) is the penalty in the loss once (the
  losses and ``.grad`` are the reference's) and torch's coupled ``weight_decay = 2
  alpha`` too: each step's rule gets ``.grad + 2 alpha theta``;
  ``weight-decay-also-in-loss`` (same family) is the other way round, a spec's
  coupled ``weight_decay = lam`` with ``lam/2 sum theta^2`` added to the loss too: the
  batch loss and ``.grad`` carry it (``lam theta``), the rule adds ``lam theta`` again
  (the full train and validation losses are the spec's). ``l2-as-weight-decay`` is
  the spec's ``l2`` written as torch's ``weight_decay = 2 alpha`` alone: the
  parameters are the reference's, the losses and ``.grad`` lack the penalty -- the
  spec should say ``[optimizer] weight_decay`` (docs/conventions.md).
- ``step-called-twice``: both calls of step ``k`` use step ``k``'s rate (torch's
  scheduler steps once per batch) and the same ``.grad``; Adam's count and
  moments, momentum's buffer, advance twice; SGD moves ``2 lr g``.
- ``adamw-not-adam``: the spec's Adam (``b1``, ``b2``, ``eps``) run as AdamW with
  :data:`TORCH_ADAMW_WEIGHT_DECAY` (the spec's Adam ``weight_decay``, decoupled,
  where it gives one).
- ``last-batch-skipped``: each epoch's permutation is the reference's (same seed),
  its last batch left out (the short one, with ``last_batch = "keep"``); the run
  still takes ``steps`` steps, so it reaches later epochs, and ``batches`` records
  what it trained on. The batch-order faults apply to the spec's own order only,
  never to a replayed run's explicit ``batches``.

A spec that declares ``[loss] reduction = "sum"`` records sums by convention: the
reduction faults (``sum-not-mean`` and its form, ``batch-size-divided-twice``,
``bias-gradient-not-summed``) apply to a mean loss only, and the faults that replace
the loop's step record what the loop's own step records (``n`` times the backend's
mean loss and gradient) and step as it does (the sum over the nominal batch size).

Applying is structural (the experiment has the piece the bug is in); whether a
variant's trajectory actually differs from the reference's on an experiment is
measured by :func:`comparisons.faults.diagnosis.fault_differences`
(``softmax-without-max-subtraction`` on logits of ordinary size differs by
rounding only, ``learning-rate-applied-twice`` at rate 1 not at all).

What a model kind has (hidden activations, bias leaves) is what the kind's
module in :mod:`comparisons.models` states (``hidden_activations``,
``bias_leaves``), never its name. Each variant is one run of the reference's
cost (``update-in-place-before-all-gradients`` one per parameter leaf;
``overwrite-not-accumulate`` on a model builds the engine backend's graph, about
as slow as that backend: some 8 times the manual run).

Adding a fault: a subclass of :class:`~comparisons.backends.manual.ManualMaths`
or of :class:`~comparisons.backends._loop.Loop` that overrides one method (the
bug, marked ``# BUG``), and one :class:`FaultVariant` line in :data:`VARIANTS`
saying when it applies; the gallery (:mod:`comparisons.faults.gallery`) pairs
it with an experiment that shows it.

Example:
  >>> from comparisons.experiments import REGISTRY
  >>> run_variant(REGISTRY["full-batch"], "sum-not-mean").grads["w"][0]
  -34.0
  >>> run_variant(REGISTRY["full-batch"], None).grads["w"][0]
  -11.333333333333334
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from comparisons.backends._common import optimizer_settings
from comparisons.backends._loop import (
    Batch,
    Loop,
    run_loop,
    steps_optimizer,
    takes_gradients,
)
from comparisons.backends.engine import Problem
from comparisons.backends.manual import ManualMaths
from comparisons.backends.update_rules import UpdateRule, apply_updates, ieee_div, update_rule
from comparisons.engine import Value, ancestry, ieee_exp, ieee_log
from comparisons.experiments import Experiment
from comparisons.losses import manual_l2
from comparisons.models import activations, bias_leaves, hidden_activations
from functional_training import (
    DEFAULT_LOSS,
    TrajectoryRecord,
    epoch_batches,
    leaf_of,
    loss_kind,
    weight_decay_kind,
)

__all__ = [
    "TORCH_ADAMW_WEIGHT_DECAY",
    "VARIANTS",
    "FaultVariant",
    "fault_variants",
    "run_variant",
    "wrong_learning_rate",
]

TORCH_ADAMW_WEIGHT_DECAY = 1e-2
"""``torch.optim.AdamW``'s default ``weight_decay`` (what ``adamw-not-adam`` decays by)."""

Floats = Mapping[str, float]


class _BiasMaths(ManualMaths):
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


class _OverwriteNotAccumulate(ManualMaths):
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


class _GradientsNotCleared(Loop):
    def clears(self, k: int) -> bool:
        return False  # BUG: no zero_grad(): the buffer keeps every earlier step's gradient


class _BiasGradientSign(_BiasMaths):
    def example_gradient(self, params: Floats, x, signal) -> dict[str, float]:
        grads = super().example_gradient(params, x, signal)
        return {n: -g if self.is_bias(n) else g for n, g in grads.items()}  # BUG: -delta


def _squared_error(s: float, t: float) -> tuple[float, float]:
    e = s - t
    return e * e, 2.0 * e


class _LossMissingHalf(ManualMaths):
    def loss(self, outputs, target: float) -> tuple[float, float]:
        return _squared_error(outputs, target)  # BUG: (s - t)^2, not 0.5 (s - t)^2


class _SumNotMean(ManualMaths):
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


class _UpdateBeforeLoss(Loop):
    def step(self, k: int, batch: Batch) -> tuple[float, dict[str, float]]:
        _, grads = super().step(k, batch)
        after = self.maths.forward(batch)  # BUG: the updated parameters' loss
        return _recorded(self, batch, after, {})[0], grads


class _TanhDerivativeMissingSquare(ManualMaths):
    def activation_back(self, activation: str, z: float, t: float, upstream: float) -> float:
        if activation != "tanh":
            return super().activation_back(activation, z, t, upstream)
        return upstream * (1.0 - t)  # BUG: 1 - tanh, not 1 - tanh^2


class _BiasGradientNotSummed(_BiasMaths):
    def reduce(self, summed: Floats, last: Floats, n: int) -> dict[str, float]:
        grads = super().reduce(summed, last, n)
        grads.update({name: g for name, g in last.items() if self.is_bias(name)})  # BUG
        return grads  # db = delta of the last example, not the batch's mean


class _SoftmaxWithoutMaxSubtraction(ManualMaths):
    def loss(self, z: Sequence[float], target: float) -> tuple[float, list[float]]:
        exps = [ieee_exp(v) for v in z]  # BUG: exp(z), not exp(z - max z): inf past z ~ 709.78
        total = exps[0]
        for e in exps[1:]:
            total = total + e
        grad = [ieee_div(e, total) for e in exps]  # inf / inf = nan, as IEEE
        grad[int(target)] -= 1.0
        return ieee_log(total) - z[int(target)], grad


class _ReluGradientWhereNegative(ManualMaths):
    def activation_back(self, activation: str, z: float, a: float, upstream: float) -> float:
        if activation != "relu":
            return super().activation_back(activation, z, a, upstream)
        return upstream  # BUG: passes where z <= 0 too


class _L2MissingFromGradient(ManualMaths):
    def penalty(self, params: Floats) -> tuple[float, dict[str, float]]:
        value, grads = super().penalty(params)
        return value, dict.fromkeys(grads, 0.0)  # BUG: in the loss, not in the gradient


class _LearningRateAppliedTwice(ManualMaths):
    def apply(self, k: int, params: Floats, updates: Floats) -> dict[str, float]:
        rate = self.learning_rate(k)
        return apply_updates(params, {n: rate * u for n, u in updates.items()})  # BUG


class _BatchSizeDividedTwice(ManualMaths):
    def reduce(self, summed: Floats, last: Floats, n: int) -> dict[str, float]:
        return {name: g / n / n for name, g in summed.items()}  # BUG: / n once too often


class _UpdateInPlaceBeforeAllGradients(Loop):
    def step(self, k: int, batch: Batch) -> tuple[float, dict[str, float]]:
        maths, loss, used, scale = self.maths, None, {}, self.step_scale(batch)
        for leaf, names in maths.leaves.items():
            value, grads = maths.loss_and_grads(maths.params, batch.rows)  # BUG: at params
            loss = value if loss is None else loss                        # already moved
            used.update((n, grads[n]) for n in names)
            if leaf in maths.rules:
                maths.update_leaf(k, leaf, {n: scale * g for n, g in grads.items()})
        return _recorded(self, batch, loss, used)


def _per_epoch(e: Experiment, n: int) -> int:
    """Batches an epoch of ``n`` rows holds under the spec's rule (``last_batch``)."""
    return n // e.batch_size if e.last_batch == "drop" else -(-n // e.batch_size)


class _BatchOrderNotReshuffled(Loop):
    def batches(self) -> list[list[int]] | None:
        order = super().batches()
        per_epoch = _per_epoch(self.experiment, len(self.gradient_rows()))
        return [order[k % per_epoch] for k in range(len(order))]  # BUG: one permutation


class _ValidationInGradient(Loop):
    def gradient_rows(self) -> list:
        return [*self.experiment.train, *self.experiment.validation]  # BUG: validation rows too


class _BiasLeftOutOfWeightDecay(_BiasMaths):
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


class _SumNotMeanLossSummed(_SumNotMean):
    def reduce_loss(self, total: float, n: int) -> float:
        return total  # BUG: reduction='sum': the loss is the sum too


class _ReluGradientWhereNegativeInHinge(_ReluGradientWhereNegative):
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


class _DoubleSoftmax(ManualMaths):
    def loss(self, z: Sequence[float], target: float) -> tuple[float, list[float]]:
        p = _softmax(z)
        value, dp = super().loss(p, target)  # BUG: cross-entropy's softmax over probabilities
        inner = 0.0
        for pi, gi in zip(p, dp, strict=True):
            inner = inner + pi * gi
        return value, [pi * (gi - inner) for pi, gi in zip(p, dp, strict=True)]  # dp/dz^T dp


class _SigmoidAppliedTwice(ManualMaths):
    def loss(self, s: float, target: float) -> tuple[float, float]:
        p = activations.forward("sigmoid", s)
        value, dp = super().loss(p, target)  # BUG: BCE-with-logits given the probability
        return value, dp * ((1.0 - p) * p)


class _DetachedHiddenLayer(ManualMaths):
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


class _DetachedLastHiddenLayer(_DetachedHiddenLayer):
    depth = -1


class _ZeroGradBeforeStep(Loop):
    def step(self, k: int, batch: Batch) -> tuple[float, dict[str, float]]:
        loss, grads = self.maths.backward(batch)
        cleared = dict.fromkeys(grads, 0.0)  # BUG: zero_grad() before step(): None, skipped
        return _recorded(self, batch, loss, cleared)


class _UpdateSignFlipped(ManualMaths):
    def apply(self, k: int, params: Floats, updates: Floats) -> dict[str, float]:
        return apply_updates(params, {n: -u for n, u in updates.items()})  # BUG: ascent


class _RateChanged(ManualMaths):
    """The manual maths whose update rules run at :meth:`changed_rate` of the spec's rate."""

    def changed_rate(self, rate):
        raise NotImplementedError

    def start(self, batches) -> None:
        super().start(batches)
        if self.rules:
            self.rate_setting = self.changed_rate(self.rate_setting)
            self.rules = {leaf: self.rule(leaf) for leaf in self.trainable}


class _WrongLearningRate(_RateChanged):
    factor = 10.0

    def changed_rate(self, rate):
        factor = self.factor
        if callable(rate):
            return lambda count: factor * rate(count)  # BUG: not the spec's rate
        return factor * rate  # BUG: not the spec's rate


class _ScheduleNotStepped(_RateChanged):
    def changed_rate(self, rate):
        return rate(0) if callable(rate) else rate  # BUG: scheduler.step() never called


class _StepCalledTwice(_RateChanged):
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


class _StaleGradient(Loop):
    late: tuple[Batch, dict[str, float]] | None = None

    def step(self, k: int, batch: Batch) -> tuple[float, dict[str, float]]:
        loss, grads = self.maths.backward(batch)
        used = (batch, dict.fromkeys(grads, 0.0)) if self.late is None else self.late
        _step_on(self, k, *used)  # BUG: the previous step's gradient (zeros at step 0)
        self.late = batch, grads
        return _recorded(self, batch, loss, grads)


class _StepBeforeBackward(Loop):
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


class _L2AlsoAsWeightDecay(ManualMaths):
    def update(self, k: int, grads: Floats) -> None:
        _, decay = self.penalty(self.params)
        super().update(k, {n: g + decay[n] for n, g in grads.items()})  # BUG: 2 alpha theta again


class _L2AppliedTwice(ManualMaths):
    def penalty(self, params: Floats) -> tuple[float, dict[str, float]]:
        value, grads = super().penalty(params)
        return value + value, {n: g + g for n, g in grads.items()}  # BUG: added twice


class _L2AsWeightDecay(ManualMaths):
    def penalty(self, params: Floats) -> tuple[float, dict[str, float]]:
        return 0.0, dict.fromkeys(params, 0.0)  # BUG: not in the loss, nor in .grad ...

    def update(self, k: int, grads: Floats) -> None:
        _, decay = super().penalty(self.params)  # ... but torch's weight_decay = 2 alpha
        super().update(k, {n: g + decay[n] for n, g in grads.items()})


class _WeightDecayAlsoInLoss(ManualMaths):
    def loss_and_grads(self, params: Floats, rows) -> tuple[float, dict[str, float]]:
        loss, grads = super().loss_and_grads(params, rows)
        value, decay = manual_l2(params, optimizer_settings(self.experiment)["weight_decay"] / 2)
        return loss + value, {n: g + decay[n] for n, g in grads.items()}  # BUG: lam/2 theta^2


class _AdamWNotAdam(ManualMaths):
    def rule(self, leaf: str) -> UpdateRule:
        settings = optimizer_settings(self.experiment)
        settings.pop("learning_rate", None)
        decay = settings.pop("weight_decay", 0.0) or TORCH_ADAMW_WEIGHT_DECAY
        return update_rule("adamw", learning_rate=self.rate_setting,  # BUG: AdamW, not Adam
                           weight_decay=decay, **settings)


class _LastBatchSkipped(Loop):
    def batches(self) -> list[list[int]] | None:
        e, n = self.experiment, len(self.gradient_rows())
        per_epoch = _per_epoch(e, n)
        epochs = -(-e.steps // (per_epoch - 1))
        order = epoch_batches(n, batch_size=e.batch_size, steps=epochs * per_epoch,
                              seed=e.seed, last_batch=e.last_batch)
        kept = [b for k, b in enumerate(order) if k % per_epoch != per_epoch - 1]  # BUG
        return kept[:e.steps]


# --- when a fault applies ----------------------------------------------------------------


def _batches_of_several(e: Experiment) -> bool:
    return takes_gradients(e) and (e.batch_size or len(e.train)) > 1


def _mean_batches_of_several(e: Experiment) -> bool:  # a declared sum is no reduction bug
    return _batches_of_several(e) and e.reduction == "mean"


def _has_biases(e: Experiment) -> bool:
    return takes_gradients(e) and bool(bias_leaves(e.model, e.model_config))


def _hidden(activation: str) -> Callable[[Experiment], bool]:
    def applies(e: Experiment) -> bool:
        return takes_gradients(e) and activation in hidden_activations(e.model, e.model_config)
    return applies


def _decays(e: Experiment) -> bool:
    if not _has_biases(e):
        return False
    return e.l2 > 0 or optimizer_settings(e).get("weight_decay", 0.0) > 0


def _spec_order(e: Experiment) -> bool:
    """Mini-batches in the spec's own order (not a replayed run's explicit one)."""
    return steps_optimizer(e) and e.batch_size is not None and e.order is None


def _several_epochs(e: Experiment) -> bool:
    return _spec_order(e) and e.steps > _per_epoch(e, len(e.train))


def _several_leaves(e: Experiment) -> bool:
    return steps_optimizer(e) and len({leaf_of(n) for n in e.parameter_names}) > 1


def _loss_targets(targets: str) -> Callable[[Experiment], bool]:
    def applies(e: Experiment) -> bool:
        return takes_gradients(e) and loss_kind(e.loss).targets == targets
    return applies


def _hidden_layers(e: Experiment) -> bool:
    return takes_gradients(e) and bool(hidden_activations(e.model, e.model_config))


def _hidden_layers_several(e: Experiment) -> bool:  # a bias leaf per layer, the last the output
    return _hidden_layers(e) and len(bias_leaves(e.model, e.model_config)) > 2


def _several_steps(e: Experiment) -> bool:
    return steps_optimizer(e) and e.steps > 1


def _scheduled(e: Experiment) -> bool:
    return _several_steps(e) and e.schedule is not None


def _l2(e: Experiment) -> bool:
    return takes_gradients(e) and e.l2 > 0


def _coupled_decay(e: Experiment) -> bool:
    return (steps_optimizer(e) and weight_decay_kind(e.optimizer) == "coupled"
            and optimizer_settings(e).get("weight_decay", 0.0) > 0)


def _reaches_an_epochs_last_batch(e: Experiment) -> bool:
    if not _spec_order(e):
        return False
    per_epoch = _per_epoch(e, len(e.train))
    return per_epoch > 1 and e.steps >= per_epoch


@dataclass(frozen=True)
class FaultVariant:
    """One classic bug as the reference with that bug, runnable on any experiment it applies to.

    Attributes:
      name: short identifier, e.g. ``sum-not-mean``.
      bug: one line: what the broken code does wrong.
      applies_when: one line: the experiments it applies to.
      applies: ``applies(experiment) -> bool``, the same in code.
      maths: the manual backend's maths with the bug (a subclass replacing one
        method), or :class:`~comparisons.backends.manual.ManualMaths` itself.
      loop: the loop with the bug, or :class:`~comparisons.backends._loop.Loop` itself.
      family: the bug this is one form of (``sum-not-mean-loss-summed`` is a form of
        ``sum-not-mean``); its own name by default.
    """

    name: str
    bug: str
    applies_when: str
    applies: Callable[[Experiment], bool]
    maths: type[ManualMaths] = ManualMaths
    loop: type[Loop] = Loop
    family: str = ""

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", self.name)

    def run(self, experiment: Experiment, *, broken: bool = True) -> TrajectoryRecord:
        """The reference with this bug on ``experiment`` (``broken=False``: without it).

        Raises:
          ValueError: the fault does not apply to ``experiment``, or the experiment
            cannot be run.
        """
        if not self.applies(experiment):
            raise ValueError(f"fault {self.name} does not apply to {experiment.name}: "
                             f"it applies when {self.applies_when}")
        if not broken:
            return run_loop(experiment, ManualMaths)
        return run_loop(experiment, self.maths, loop=self.loop)


def wrong_learning_rate(factor: float) -> FaultVariant:
    """``wrong-learning-rate`` at ``factor`` times the spec's rate (schedule: every step's).

    :data:`VARIANTS` holds the ``10x`` form; any other factor is one call.

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> wrong_learning_rate(0.5).run(REGISTRY["single-update"]).params["w"]
      [1.0, 1.4]
    """
    maths = type(f"_WrongLearningRate{factor:g}", (_WrongLearningRate,), {"factor": factor})
    return FaultVariant("wrong-learning-rate",
                        f"the learning rate is {factor:g} times the spec's",
                        "an optimizer steps", steps_optimizer, maths=maths)


VARIANTS: dict[str, FaultVariant] = {
    v.name: v
    for v in (
        FaultVariant("overwrite-not-accumulate",
                     "the engine's backward rules assign (=) instead of adding (+=): "
                     "a * a gets 3, not 6",
                     "always (the shared path, and any model's graph in a user's engine)",
                     lambda e: True, maths=_OverwriteNotAccumulate),
        FaultVariant("gradients-not-cleared", "gradients are not cleared between optimizer steps",
                     "a gradient is taken at 2 or more steps",
                     lambda e: takes_gradients(e) and e.steps > 1, loop=_GradientsNotCleared),
        FaultVariant("bias-gradient-sign", "the hand-written bias gradient has the wrong sign",
                     "a gradient is taken of a model with biases", _has_biases,
                     maths=_BiasGradientSign),
        FaultVariant("loss-missing-half", "the loss is missing its 1/2 factor",
                     "the loss is half-squared-error",
                     lambda e: takes_gradients(e) and e.loss == DEFAULT_LOSS,
                     maths=_LossMissingHalf),
        FaultVariant("sum-not-mean", "the batch gradient is a sum over the batch, not a mean",
                     "batches hold 2 or more examples, a mean loss",
                     _mean_batches_of_several, maths=_SumNotMean),
        FaultVariant("update-before-loss", "the update is applied before the loss is recorded",
                     "an optimizer steps", steps_optimizer, loop=_UpdateBeforeLoss),
        FaultVariant("tanh-derivative-missing-square",
                     "tanh's derivative is written 1 - tanh instead of 1 - tanh^2",
                     "hidden layers with tanh", _hidden("tanh"),
                     maths=_TanhDerivativeMissingSquare),
        FaultVariant("bias-gradient-not-summed",
                     "the bias gradient is the batch's last example's, not the batch mean",
                     "batches hold 2 or more examples, a mean loss, and the model has biases",
                     lambda e: _mean_batches_of_several(e) and _has_biases(e),
                     maths=_BiasGradientNotSummed),
        FaultVariant("softmax-without-max-subtraction",
                     "softmax is exp(z) / sum exp(z) without subtracting max z: overflows",
                     "the loss takes class targets (softmax over k logits)",
                     lambda e: takes_gradients(e) and loss_kind(e.loss).targets == "class",
                     maths=_SoftmaxWithoutMaxSubtraction),
        FaultVariant("relu-gradient-where-negative",
                     "ReLU's backward passes the gradient where its input is negative too",
                     "hidden layers with relu", _hidden("relu"),
                     maths=_ReluGradientWhereNegative),
        FaultVariant("l2-missing-from-gradient",
                     "the L2 penalty is added to the loss but left out of its gradient",
                     "l2 > 0", lambda e: takes_gradients(e) and e.l2 > 0,
                     maths=_L2MissingFromGradient),
        FaultVariant("learning-rate-applied-twice",
                     "the optimizer's update -lr u is multiplied by the learning rate again",
                     "an optimizer steps", steps_optimizer, maths=_LearningRateAppliedTwice),
        FaultVariant("batch-size-divided-twice",
                     "the batch-mean gradient is divided by the batch size again",
                     "batches hold 2 or more examples, a mean loss", _mean_batches_of_several,
                     maths=_BatchSizeDividedTwice),
        FaultVariant("update-in-place-before-all-gradients",
                     "each parameter leaf is updated as soon as its gradient is computed, so "
                     "later leaves' gradients see the moved parameters",
                     "an optimizer steps a model of 2 or more parameter leaves",
                     _several_leaves, loop=_UpdateInPlaceBeforeAllGradients),
        FaultVariant("batch-order-not-reshuffled",
                     "every epoch replays the first epoch's shuffled order",
                     "mini-batches over more than one epoch", _several_epochs,
                     loop=_BatchOrderNotReshuffled),
        FaultVariant("validation-in-gradient",
                     "the validation examples are used in the gradient too",
                     "the experiment has a validation set",
                     lambda e: takes_gradients(e) and e.validation is not None,
                     loop=_ValidationInGradient),
        FaultVariant("bias-left-out-of-weight-decay",
                     "the biases are left out of the L2 penalty / the weight decay, which "
                     "the reference applies to every parameter",
                     "l2 > 0, or weight_decay > 0, and the model has biases",
                     _decays, maths=_BiasLeftOutOfWeightDecay),
        FaultVariant("sum-not-mean-loss-summed",
                     "reduction='sum': the loss and its gradient are sums over the batch",
                     "batches hold 2 or more examples, a mean loss", _mean_batches_of_several,
                     maths=_SumNotMeanLossSummed, family="sum-not-mean"),
        FaultVariant("relu-gradient-where-negative-hinge",
                     "the relu of the hinge max(0, 1 - t s) (and of any relu hidden layer) "
                     "passes the gradient where its input is negative too",
                     "the hinge loss", _loss_targets("sign"),
                     maths=_ReluGradientWhereNegativeInHinge,
                     family="relu-gradient-where-negative"),
        FaultVariant("double-softmax",
                     "softmax is applied to the logits, then cross-entropy (which applies "
                     "its own softmax) to the probabilities",
                     "the loss takes class targets (softmax over k logits)",
                     _loss_targets("class"), maths=_DoubleSoftmax),
        FaultVariant("sigmoid-applied-twice",
                     "BCEWithLogitsLoss is given sigmoid(s), a probability, not the logit s",
                     "binary cross-entropy", _loss_targets("binary"),
                     maths=_SigmoidAppliedTwice),
        FaultVariant("hidden-layer-detached",
                     "the first hidden layer's output is detached: that layer gets no "
                     "gradient from the data", "hidden layers", _hidden_layers,
                     maths=_DetachedHiddenLayer),
        FaultVariant("last-hidden-layer-detached",
                     "the last hidden layer's output is detached: every layer below the "
                     "output layer gets no gradient from the data",
                     "2 or more hidden layers", _hidden_layers_several,
                     maths=_DetachedLastHiddenLayer, family="hidden-layer-detached"),
        FaultVariant("gradients-cleared-before-step",
                     "zero_grad() is called between backward() and step(): nothing moves",
                     "an optimizer steps", steps_optimizer, loop=_ZeroGradBeforeStep),
        FaultVariant("update-sign-flipped",
                     "the update is added with the wrong sign: gradient ascent",
                     "an optimizer steps", steps_optimizer, maths=_UpdateSignFlipped),
        wrong_learning_rate(10.0),
        FaultVariant("stale-gradient",
                     "each step applies the previous step's gradient (step 0 zeros)",
                     "an optimizer steps 2 or more times", _several_steps,
                     loop=_StaleGradient),
        FaultVariant("stale-gradient-step-before-backward",
                     "step() before backward(): each step applies the gradient of the "
                     "previous batch at the current parameters (step 0 none)",
                     "an optimizer steps 2 or more times", _several_steps,
                     loop=_StepBeforeBackward, family="stale-gradient"),
        FaultVariant("l2-applied-twice",
                     "the L2 penalty is added to the loss twice: 2 alpha sum theta^2, "
                     "gradient 4 alpha theta", "l2 > 0", _l2, maths=_L2AppliedTwice),
        FaultVariant("l2-also-as-weight-decay",
                     "the L2 penalty in the loss and as the optimizer's weight decay too: "
                     "the step adds 2 alpha theta to .grad, which already has it",
                     "l2 > 0 and an optimizer steps", lambda e: _l2(e) and steps_optimizer(e),
                     maths=_L2AlsoAsWeightDecay, family="l2-applied-twice"),
        FaultVariant("weight-decay-also-in-loss",
                     "the optimizer's coupled weight_decay lam, and lam/2 sum theta^2 in the "
                     "loss too: .grad has lam theta, and the step adds it again",
                     "a coupled weight_decay > 0 (sgd, momentum, nesterov, adam)",
                     _coupled_decay, maths=_WeightDecayAlsoInLoss, family="l2-applied-twice"),
        FaultVariant("l2-as-weight-decay",
                     "the spec's L2 applied as torch's weight_decay = 2 alpha: not in the "
                     "loss nor in .grad, only in the step",
                     "l2 > 0 and an optimizer steps", lambda e: _l2(e) and steps_optimizer(e),
                     maths=_L2AsWeightDecay),
        FaultVariant("schedule-not-stepped",
                     "the learning-rate schedule is never stepped: every step uses its "
                     "initial rate", "a schedule, over 2 or more steps", _scheduled,
                     maths=_ScheduleNotStepped),
        FaultVariant("step-called-twice",
                     "optimizer.step() is called twice per batch with the same gradient",
                     "an optimizer steps", steps_optimizer, maths=_StepCalledTwice),
        FaultVariant("adamw-not-adam",
                     "AdamW (torch's default weight_decay 0.01) where Adam was meant",
                     "the optimizer is adam", lambda e: steps_optimizer(e)
                     and e.optimizer == "adam", maths=_AdamWNotAdam),
        FaultVariant("last-batch-skipped",
                     "the last batch of every epoch is skipped",
                     "mini-batches, 2 or more per epoch, reaching an epoch's last batch",
                     _reaches_an_epochs_last_batch, loop=_LastBatchSkipped),
    )
}
"""Every fault by name (the gallery's order, :data:`comparisons.faults.FAULTS`)."""


# --- running ----------------------------------------------------------------------------


def run_variant(experiment: Experiment, fault: str | None) -> TrajectoryRecord:
    """The reference's run of ``experiment`` with ``fault`` (``None``: without any).

    ``run_variant(e, None)`` is the manual backend's trajectory of ``e``.

    Raises:
      KeyError: an unknown fault name.
      ValueError: the fault does not apply to ``experiment``, or it cannot be run.
    """
    if fault is None:
        return run_loop(experiment, ManualMaths)
    return VARIANTS[fault].run(experiment)


def fault_variants(experiment: Experiment) -> dict[str, Callable[[], TrajectoryRecord]]:
    """Every fault that applies to ``experiment``, mapped to a thunk running the reference with it.

    Variants whose trajectory equals the reference's on this experiment are included
    (see :func:`comparisons.faults.diagnosis.fault_differences`).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> list(fault_variants(REGISTRY["shared-path"]))
      ['overwrite-not-accumulate']
      >>> fault_variants(REGISTRY["shared-path"])["overwrite-not-accumulate"]().grads
      {'a': [3.0]}
    """
    return {name: functools.partial(run_variant, experiment, name)
            for name, variant in VARIANTS.items() if variant.applies(experiment)}


