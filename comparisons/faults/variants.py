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
as slow as that backend: some 8 times the manual run); for large runs most of them
also run as knobs of one compiled JAX program, :mod:`comparisons.faults.jax_variants`,
which must equal these.

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
from collections.abc import Callable
from dataclasses import dataclass

from comparisons.backends._common import optimizer_settings
from comparisons.backends._loop import (
    Loop,
    run_loop,
    steps_optimizer,
    takes_gradients,
)
from comparisons.backends.manual import ManualMaths
from comparisons.experiments import Experiment
from comparisons.faults import bugs
from comparisons.faults.bugs import TORCH_ADAMW_WEIGHT_DECAY
from comparisons.models import bias_leaves, hidden_activations
from functional_training import (
    DEFAULT_LOSS,
    TrajectoryRecord,
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
    return _spec_order(e) and e.steps > bugs.epoch_length(e, len(e.train))


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
    per_epoch = bugs.epoch_length(e, len(e.train))
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
    maths = type(f"bugs.WrongLearningRate{factor:g}", (bugs.WrongLearningRate,), {"factor": factor})
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
                     lambda e: True, maths=bugs.OverwriteNotAccumulate),
        FaultVariant("gradients-not-cleared", "gradients are not cleared between optimizer steps",
                     "a gradient is taken at 2 or more steps",
                     lambda e: takes_gradients(e) and e.steps > 1, loop=bugs.GradientsNotCleared),
        FaultVariant("bias-gradient-sign", "the hand-written bias gradient has the wrong sign",
                     "a gradient is taken of a model with biases", _has_biases,
                     maths=bugs.BiasGradientSign),
        FaultVariant("loss-missing-half", "the loss is missing its 1/2 factor",
                     "the loss is half-squared-error",
                     lambda e: takes_gradients(e) and e.loss == DEFAULT_LOSS,
                     maths=bugs.LossMissingHalf),
        FaultVariant("sum-not-mean", "the batch gradient is a sum over the batch, not a mean",
                     "batches hold 2 or more examples, a mean loss",
                     _mean_batches_of_several, maths=bugs.SumNotMean),
        FaultVariant("update-before-loss", "the update is applied before the loss is recorded",
                     "an optimizer steps", steps_optimizer, loop=bugs.UpdateBeforeLoss),
        FaultVariant("tanh-derivative-missing-square",
                     "tanh's derivative is written 1 - tanh instead of 1 - tanh^2",
                     "hidden layers with tanh", _hidden("tanh"),
                     maths=bugs.TanhDerivativeMissingSquare),
        FaultVariant("bias-gradient-not-summed",
                     "the bias gradient is the batch's last example's, not the batch mean",
                     "batches hold 2 or more examples, a mean loss, and the model has biases",
                     lambda e: _mean_batches_of_several(e) and _has_biases(e),
                     maths=bugs.BiasGradientNotSummed),
        FaultVariant("softmax-without-max-subtraction",
                     "softmax is exp(z) / sum exp(z) without subtracting max z: overflows",
                     "the loss takes class targets (softmax over k logits)",
                     lambda e: takes_gradients(e) and loss_kind(e.loss).targets == "class",
                     maths=bugs.SoftmaxWithoutMaxSubtraction),
        FaultVariant("relu-gradient-where-negative",
                     "ReLU's backward passes the gradient where its input is negative too",
                     "hidden layers with relu", _hidden("relu"),
                     maths=bugs.ReluGradientWhereNegative),
        FaultVariant("l2-missing-from-gradient",
                     "the L2 penalty is added to the loss but left out of its gradient",
                     "l2 > 0", lambda e: takes_gradients(e) and e.l2 > 0,
                     maths=bugs.L2MissingFromGradient),
        FaultVariant("learning-rate-applied-twice",
                     "the optimizer's update -lr u is multiplied by the learning rate again",
                     "an optimizer steps", steps_optimizer, maths=bugs.LearningRateAppliedTwice),
        FaultVariant("batch-size-divided-twice",
                     "the batch-mean gradient is divided by the batch size again",
                     "batches hold 2 or more examples, a mean loss", _mean_batches_of_several,
                     maths=bugs.BatchSizeDividedTwice),
        FaultVariant("update-in-place-before-all-gradients",
                     "each parameter leaf is updated as soon as its gradient is computed, so "
                     "later leaves' gradients see the moved parameters",
                     "an optimizer steps a model of 2 or more parameter leaves",
                     _several_leaves, loop=bugs.UpdateInPlaceBeforeAllGradients),
        FaultVariant("batch-order-not-reshuffled",
                     "every epoch replays the first epoch's shuffled order",
                     "mini-batches over more than one epoch", _several_epochs,
                     loop=bugs.BatchOrderNotReshuffled),
        FaultVariant("validation-in-gradient",
                     "the validation examples are used in the gradient too",
                     "the experiment has a validation set",
                     lambda e: takes_gradients(e) and e.validation is not None,
                     loop=bugs.ValidationInGradient),
        FaultVariant("bias-left-out-of-weight-decay",
                     "the biases are left out of the L2 penalty / the weight decay, which "
                     "the reference applies to every parameter",
                     "l2 > 0, or weight_decay > 0, and the model has biases",
                     _decays, maths=bugs.BiasLeftOutOfWeightDecay),
        FaultVariant("sum-not-mean-loss-summed",
                     "reduction='sum': the loss and its gradient are sums over the batch",
                     "batches hold 2 or more examples, a mean loss", _mean_batches_of_several,
                     maths=bugs.SumNotMeanLossSummed, family="sum-not-mean"),
        FaultVariant("relu-gradient-where-negative-hinge",
                     "the relu of the hinge max(0, 1 - t s) (and of any relu hidden layer) "
                     "passes the gradient where its input is negative too",
                     "the hinge loss", _loss_targets("sign"),
                     maths=bugs.ReluGradientWhereNegativeInHinge,
                     family="relu-gradient-where-negative"),
        FaultVariant("double-softmax",
                     "softmax is applied to the logits, then cross-entropy (which applies "
                     "its own softmax) to the probabilities",
                     "the loss takes class targets (softmax over k logits)",
                     _loss_targets("class"), maths=bugs.DoubleSoftmax),
        FaultVariant("sigmoid-applied-twice",
                     "BCEWithLogitsLoss is given sigmoid(s), a probability, not the logit s",
                     "binary cross-entropy", _loss_targets("binary"),
                     maths=bugs.SigmoidAppliedTwice),
        FaultVariant("hidden-layer-detached",
                     "the first hidden layer's output is detached: that layer gets no "
                     "gradient from the data", "hidden layers", _hidden_layers,
                     maths=bugs.DetachedHiddenLayer),
        FaultVariant("last-hidden-layer-detached",
                     "the last hidden layer's output is detached: every layer below the "
                     "output layer gets no gradient from the data",
                     "2 or more hidden layers", _hidden_layers_several,
                     maths=bugs.DetachedLastHiddenLayer, family="hidden-layer-detached"),
        FaultVariant("gradients-cleared-before-step",
                     "zero_grad() is called between backward() and step(): nothing moves",
                     "an optimizer steps", steps_optimizer, loop=bugs.ZeroGradBeforeStep),
        FaultVariant("update-sign-flipped",
                     "the update is added with the wrong sign: gradient ascent",
                     "an optimizer steps", steps_optimizer, maths=bugs.UpdateSignFlipped),
        wrong_learning_rate(10.0),
        FaultVariant("stale-gradient",
                     "each step applies the previous step's gradient (step 0 zeros)",
                     "an optimizer steps 2 or more times", _several_steps,
                     loop=bugs.StaleGradient),
        FaultVariant("stale-gradient-step-before-backward",
                     "step() before backward(): each step applies the gradient of the "
                     "previous batch at the current parameters (step 0 none)",
                     "an optimizer steps 2 or more times", _several_steps,
                     loop=bugs.StepBeforeBackward, family="stale-gradient"),
        FaultVariant("l2-applied-twice",
                     "the L2 penalty is added to the loss twice: 2 alpha sum theta^2, "
                     "gradient 4 alpha theta", "l2 > 0", _l2, maths=bugs.L2AppliedTwice),
        FaultVariant("l2-also-as-weight-decay",
                     "the L2 penalty in the loss and as the optimizer's weight decay too: "
                     "the step adds 2 alpha theta to .grad, which already has it",
                     "l2 > 0 and an optimizer steps", lambda e: _l2(e) and steps_optimizer(e),
                     maths=bugs.L2AlsoAsWeightDecay, family="l2-applied-twice"),
        FaultVariant("weight-decay-also-in-loss",
                     "the optimizer's coupled weight_decay lam, and lam/2 sum theta^2 in the "
                     "loss too: .grad has lam theta, and the step adds it again",
                     "a coupled weight_decay > 0 (sgd, momentum, nesterov, adam)",
                     _coupled_decay, maths=bugs.WeightDecayAlsoInLoss, family="l2-applied-twice"),
        FaultVariant("l2-as-weight-decay",
                     "the spec's L2 applied as torch's weight_decay = 2 alpha: not in the "
                     "loss nor in .grad, only in the step",
                     "l2 > 0 and an optimizer steps", lambda e: _l2(e) and steps_optimizer(e),
                     maths=bugs.L2AsWeightDecay),
        FaultVariant("schedule-not-stepped",
                     "the learning-rate schedule is never stepped: every step uses its "
                     "initial rate", "a schedule, over 2 or more steps", _scheduled,
                     maths=bugs.ScheduleNotStepped),
        FaultVariant("step-called-twice",
                     "optimizer.step() is called twice per batch with the same gradient",
                     "an optimizer steps", steps_optimizer, maths=bugs.StepCalledTwice),
        FaultVariant("adamw-not-adam",
                     "AdamW (torch's default weight_decay 0.01) where Adam was meant",
                     "the optimizer is adam", lambda e: steps_optimizer(e)
                     and e.optimizer == "adam", maths=bugs.AdamWNotAdam),
        FaultVariant("last-batch-skipped",
                     "the last batch of every epoch is skipped",
                     "mini-batches, 2 or more per epoch, reaching an epoch's last batch",
                     _reaches_an_epochs_last_batch, loop=bugs.LastBatchSkipped),
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


