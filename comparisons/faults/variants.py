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
measured by :func:`comparisons.faults.diagnosis.fault_differences`
(``softmax-without-max-subtraction`` on logits of ordinary size differs by
rounding only, ``learning-rate-applied-twice`` at rate 1 not at all). The engine's
``*`` fault runs the lesson's ``a * a``
only: a spec (always kind ``train``) never has a shared path.

What a model kind has (hidden activations, bias leaves) is what the kind's
module in :mod:`comparisons.models` states (``hidden_activations``,
``bias_leaves``), never its name. Each variant is one run of the reference's
cost (``update-in-place-before-all-gradients`` one per parameter leaf).

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
from comparisons.backends._loop import is_shared_path as _is_shared_path
from comparisons.backends.manual import ManualMaths
from comparisons.backends.update_rules import UpdateRule, apply_updates, ieee_div, update_rule
from comparisons.engine import Value, ieee_exp, ieee_log
from comparisons.experiments import Experiment
from comparisons.losses import manual_l2
from comparisons.models import bias_leaves, hidden_activations
from functional_training import DEFAULT_LOSS, TrajectoryRecord, leaf_of, loss_kind

__all__ = ["VARIANTS", "FaultVariant", "fault_variants", "run_variant"]

Floats = Mapping[str, float]


class _BiasMaths(ManualMaths):
    """The manual maths, knowing which parameters are biases (the kind's ``bias_leaves``)."""

    @functools.cached_property
    def biases(self) -> frozenset[str]:
        return frozenset(bias_leaves(self.experiment.model, self.config))

    def is_bias(self, name: str) -> bool:
        return leaf_of(name) in self.biases


# --- the faults: each replaces one piece of the manual maths or of the loop ----------------


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


class _OverwriteNotAccumulate(ManualMaths):
    def square(self, a: float) -> tuple[float, float, float]:
        held = _OverwritingValue(a)  # the engine's a * a with the broken * backward
        square = held * held
        square.backward()
        return a, square.data, held.grad


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


class _UpdateBeforeLoss(Loop):
    def step(self, k: int, batch: Batch) -> tuple[float, dict[str, float]]:
        _, grads = super().step(k, batch)
        return self.maths.forward(batch), grads  # BUG: the updated parameters' loss


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
        maths, loss, used = self.maths, None, {}
        for leaf, names in maths.leaves.items():
            value, grads = maths.loss_and_grads(maths.params, batch.rows)  # BUG: at params
            loss = value if loss is None else loss                        # already moved
            used.update((n, grads[n]) for n in names)
            if leaf in maths.rules:
                maths.update_leaf(k, leaf, grads)
        return loss, used


class _BatchOrderNotReshuffled(Loop):
    def batches(self) -> list[list[int]] | None:
        order = super().batches()
        per_epoch = len(self.gradient_rows()) // self.experiment.batch_size
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
        if self.experiment.optimizer != "adamw" or leaf not in self.biases:
            return super().rule(leaf)
        settings = optimizer_settings(self.experiment)
        settings.pop("learning_rate", None)
        settings.pop("weight_decay")  # BUG: the biases get Adam, without AdamW's decay
        return update_rule("adam", learning_rate=self.rate_setting, **settings)


# --- when a fault applies ----------------------------------------------------------------


def _batches_of_several(e: Experiment) -> bool:
    return takes_gradients(e) and (e.batch_size or len(e.train)) > 1


def _has_biases(e: Experiment) -> bool:
    return takes_gradients(e) and bool(bias_leaves(e.model, e.model_config))


def _hidden(activation: str) -> Callable[[Experiment], bool]:
    def applies(e: Experiment) -> bool:
        return takes_gradients(e) and activation in hidden_activations(e.model, e.model_config)
    return applies


def _decays(e: Experiment) -> bool:
    if not _has_biases(e):
        return False
    return e.l2 > 0 or (e.optimizer == "adamw" and optimizer_settings(e)["weight_decay"] > 0)


def _several_epochs(e: Experiment) -> bool:
    return (steps_optimizer(e) and e.batch_size is not None
            and e.steps > len(e.train) // e.batch_size)


def _several_leaves(e: Experiment) -> bool:
    return steps_optimizer(e) and len({leaf_of(n) for n in e.parameter_names}) > 1


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
    """

    name: str
    bug: str
    applies_when: str
    applies: Callable[[Experiment], bool]
    maths: type[ManualMaths] = ManualMaths
    loop: type[Loop] = Loop

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


VARIANTS: dict[str, FaultVariant] = {
    v.name: v
    for v in (
        FaultVariant("overwrite-not-accumulate",
                     "the engine's * backward assigns instead of adding: a * a gets 3, not 6",
                     "the experiment is the shared-path kind", _is_shared_path,
                     maths=_OverwriteNotAccumulate),
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
                     "batches hold 2 or more examples", _batches_of_several, maths=_SumNotMean),
        FaultVariant("update-before-loss", "the update is applied before the loss is recorded",
                     "an optimizer steps", steps_optimizer, loop=_UpdateBeforeLoss),
        FaultVariant("tanh-derivative-missing-square",
                     "tanh's derivative is written 1 - tanh instead of 1 - tanh^2",
                     "hidden layers with tanh", _hidden("tanh"),
                     maths=_TanhDerivativeMissingSquare),
        FaultVariant("bias-gradient-not-summed",
                     "the bias gradient is the batch's last example's, not the batch mean",
                     "batches hold 2 or more examples, and the model has biases",
                     lambda e: _batches_of_several(e) and _has_biases(e),
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
                     "batches hold 2 or more examples", _batches_of_several,
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
                     "the biases are left out of the L2 penalty / AdamW weight decay, which "
                     "the reference applies to every parameter",
                     "l2 > 0, or adamw with weight_decay > 0, and the model has biases",
                     _decays, maths=_BiasLeftOutOfWeightDecay),
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


