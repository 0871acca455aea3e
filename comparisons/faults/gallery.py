"""The fault gallery: classic training bugs, each caught by the comparator at a named step.

Each :class:`Fault` is one of :data:`comparisons.faults.variants.VARIANTS` (the
reference's own run with one bug, runnable on any experiment it applies to)
paired with the experiment that demonstrates it. ``broken=True`` runs the
variant, ``broken=False`` the same loop without the bug; both are compared
with the reference backend (``manual``) by
:func:`comparisons.compare.compare_trajectories`. A fault is *caught* when the
broken variant mismatches and the correct variant agrees, so the mismatch
comes from the bug and not from the harness.

====================================  ==============================  =============================
fault                                 the bug                         where it shows
====================================  ==============================  =============================
overwrite-not-accumulate              ``*`` backward assigns (``=``)  step 0, grads.a
                                      instead of adding (``+=``):
                                      ``a * a`` gets 3, not 6
gradients-not-cleared                 no ``zero_grad()`` between      step 1, grads.w
                                      optimizer steps
bias-gradient-sign                    hand-written                    step 0, grads.b
                                      ``dL/db = -mean(error)``
loss-missing-half                     ``mean(error ** 2)``, no 1/2    step 0, grads.w
sum-not-mean                          batch gradient summed, not      step 0, grads.w
                                      averaged
update-before-loss                    loss recorded after the update  step 0, batch_loss
tanh-derivative-missing-square        ``tanh' = 1 - tanh``, not       step 0, grads.layers.0.w[0,0]
                                      ``1 - tanh^2``
bias-gradient-not-summed              ``dL/db`` of the batch's last   step 0, grads.layers.0.b[0]
                                      example, not the batch mean
softmax-without-max-subtraction       ``exp(z) / sum exp(z)``, no     step 0, grads.layers.0.w[0,2]
                                      ``- max z``:
                                      ``inf / inf = nan``
relu-gradient-where-negative          ``relu' = 1`` everywhere, also  step 0, grads.layers.0.w[0,0]
                                      where the input is negative
l2-missing-from-gradient              ``alpha sum theta^2`` in the    step 0, grads.layers.0.w[0,0]
                                      loss, its ``2 alpha theta``
                                      not in the gradient
learning-rate-applied-twice           ``theta + lr * (-lr g)``: the   step 1, params.w
                                      step is ``lr^2 g``
batch-size-divided-twice              ``sum(e x) / n / n``            step 0, grads.w
update-in-place-before-all-gradients  ``w`` updated, then ``dL/db``   step 0, grads.b
                                      computed at the new ``w``
batch-order-not-reshuffled            each epoch replays epoch 0's    step 5, batches
                                      permutation
validation-in-gradient                the gradient averages over      step 0, grads.w
                                      train + validation rows
bias-left-out-of-weight-decay         AdamW's ``wd theta`` left out   step 2, params.b
                                      for the bias (the reference
                                      decays every parameter)
====================================  ==============================  =============================

The lesson's line carries most of them: ``shared-path``, ``full-batch`` (three
shipments, SGD 0.08; where the bias starts at 0, so a decay of it shows only
once it has moved: ``optimizer/adamw``'s bias is 0 before step 1 and the
missing ``wd b`` moves ``params.b`` at step 2), ``mini-batch`` (ten shipments,
batches of 2: the second epoch starts at step 5), ``train-validation`` and
``optimizer/adamw``. The next lessons' ``mlp`` faults run
``mlp/tanh-regression`` (1-8-1 tanh, Adam, batches of 2),
``softmax/delay-class`` (batches of 4), and two copies of registry experiments
made by :attr:`Fault.experiment_factory`: ``softmax/delay-class[weights x1000]``
(logits in the thousands, where ``exp`` overflows: past ``z = 709.78``; on
logits of ordinary size the missing ``- max z`` changes the last bit only, and
no comparison can see it) and ``mlp/moons[20 points, 10 steps]`` (the 2-16-16-1
ReLU network, hinge + L2 ``1e-4``, on its first 20 points for its first 10
steps: a fraction of a second in pure Python), which the ReLU and L2 faults
share. At ``1e-4`` the missing ``2 alpha theta`` is ``3.9e-5`` in the first
weight's gradient, seven orders of magnitude above the float64 tolerance.

What each bug does beyond its one line (the recorded losses, the optimizer
state, the order of the leaves), and on which experiments it applies, is
:mod:`comparisons.faults.variants`'s table.

Example:
  >>> fault = FAULTS["overwrite-not-accumulate"]
  >>> fault.run(fault.experiment(), broken=True).grads["a"], fault.run(
  ...     fault.experiment(), broken=False).grads["a"]
  ([3.0], [6.0])
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

import comparisons.backends
from comparisons.compare import ExperimentVerdict, compare_trajectories
from comparisons.experiments import REGISTRY, Experiment
from comparisons.faults.variants import VARIANTS
from functional_training import TrajectoryRecord

__all__ = ["FAULTS", "Fault", "FaultResult", "check_fault", "check_faults"]


@dataclass(frozen=True)
class Fault:
    """One classic bug as a runnable broken variant.

    Attributes:
      name: short identifier, e.g. ``gradients-not-cleared``.
      bug: one line: what the broken code does wrong.
      experiment_name: the name of the experiment it runs: a registry key, or the
        name of the experiment ``experiment_factory`` builds (never a registry key,
        so a reference run of a registry experiment is never taken for it).
      run: ``run(experiment, *, broken) -> TrajectoryRecord``; ``broken=False`` is the
        same code without the bug.
      experiment_factory: ``None`` to run the registry experiment, or a function
        returning the experiment to run (a registry experiment cut down or changed
        with :func:`dataclasses.replace`, named ``experiment_name``).
    """

    name: str
    bug: str
    experiment_name: str
    run: Callable[..., TrajectoryRecord]
    experiment_factory: Callable[[], Experiment] | None = None

    def experiment(self) -> Experiment:
        """The experiment this fault runs: the registry's, or the factory's."""
        if self.experiment_factory is None:
            return REGISTRY[self.experiment_name]
        experiment = self.experiment_factory()
        if experiment.name != self.experiment_name:
            raise ValueError(f"fault {self.name}: its factory builds {experiment.name!r}, "
                             f"not {self.experiment_name!r}")
        return experiment


@dataclass(frozen=True)
class FaultResult:
    """The comparator's verdicts on a fault's broken and correct variants.

    Attributes:
      fault: the fault.
      broken: verdict of the broken variant (backend ``broken``) vs the reference.
      correct: verdict of the correct variant (backend ``correct``) vs the reference.
    """

    fault: Fault
    broken: ExperimentVerdict
    correct: ExperimentVerdict

    @property
    def caught(self) -> bool:
        """The broken variant mismatches while the correct one agrees."""
        return not self.broken.agree and self.correct.agree

    def where(self) -> str:
        """Where the comparator caught it: step, quantity, both values."""
        m = self.broken.first_mismatch
        if m is None:
            return "not caught: the broken variant agrees with the reference"
        return f"step {m.step}, {m.quantity}: expected {m.expected!r}, got {m.actual!r}"


def check_fault(
    fault: Fault,
    *,
    reference: str = "manual",
    reference_trajectory: TrajectoryRecord | None = None,
) -> FaultResult:
    """Run a fault's broken and correct variants and compare both with the reference.

    Args:
      fault: the fault.
      reference: the reference backend's name.
      reference_trajectory: the reference's trajectory of ``fault.experiment()``
        if already computed; by default the reference backend runs it.
    """
    experiment = fault.experiment()
    if reference_trajectory is None:
        reference_trajectory = comparisons.backends.get_backend(reference).run(
            experiment, dtype="float64"
        )
    verdicts = {}
    for label, broken in (("broken", True), ("correct", False)):
        runs = {reference: reference_trajectory, label: fault.run(experiment, broken=broken)}
        verdicts[label] = compare_trajectories(experiment, runs, reference=reference)
    return FaultResult(fault, verdicts["broken"], verdicts["correct"])


def check_faults(
    *, reference: str = "manual", reference_trajectories: dict[str, TrajectoryRecord] | None = None
) -> list[FaultResult]:
    """:func:`check_fault` for every fault in :data:`FAULTS`, reusing given reference runs.

    The reference runs each experiment once, however many faults run it.

    Args:
      reference: the reference backend's name.
      reference_trajectories: experiment name -> reference trajectory, where known.
    """
    known = dict(reference_trajectories or {})
    results = []
    for fault in FAULTS.values():
        if fault.experiment_name not in known:
            known[fault.experiment_name] = comparisons.backends.get_backend(reference).run(
                fault.experiment(), dtype="float64")
        results.append(check_fault(fault, reference=reference,
                                   reference_trajectory=known[fault.experiment_name]))
    return results


# --- the gallery's experiments --------------------------------------------------------------


@functools.cache
def _small_moons() -> Experiment:
    """``mlp/moons`` on its first 20 points for its first 10 steps (same network, loss, rates)."""
    moons = REGISTRY["mlp/moons"]
    return dataclasses.replace(
        moons, name="mlp/moons[20 points, 10 steps]", train=moons.train[:20], steps=10,
        description="mlp/moons cut down: its first 20 points, its first 10 steps")


@functools.cache
def _large_logits() -> Experiment:
    """``softmax/delay-class`` with its initial weights x1000: logits in the thousands."""
    softmax = REGISTRY["softmax/delay-class"]
    return dataclasses.replace(
        softmax, name="softmax/delay-class[weights x1000]",
        init={n: 1000.0 * v for n, v in softmax.init.items()},
        description="softmax/delay-class with initial weights x1000 (logits in the thousands)")


_GALLERY: tuple[tuple[str, str, Callable[[], Experiment] | None], ...] = (
    ("overwrite-not-accumulate", "shared-path", None),
    ("gradients-not-cleared", "full-batch", None),
    ("bias-gradient-sign", "full-batch", None),
    ("loss-missing-half", "full-batch", None),
    ("sum-not-mean", "full-batch", None),
    ("update-before-loss", "full-batch", None),
    ("tanh-derivative-missing-square", "mlp/tanh-regression", None),
    ("bias-gradient-not-summed", "softmax/delay-class", None),
    ("softmax-without-max-subtraction", _large_logits().name, _large_logits),
    ("relu-gradient-where-negative", _small_moons().name, _small_moons),
    ("l2-missing-from-gradient", _small_moons().name, _small_moons),
    ("learning-rate-applied-twice", "full-batch", None),
    ("batch-size-divided-twice", "full-batch", None),
    ("update-in-place-before-all-gradients", "full-batch", None),
    ("batch-order-not-reshuffled", "mini-batch", None),
    ("validation-in-gradient", "train-validation", None),
    ("bias-left-out-of-weight-decay", "optimizer/adamw", None),
)
"""Each fault and the experiment that demonstrates it (a registry key, or a factory's)."""

FAULTS: dict[str, Fault] = {
    name: Fault(name, VARIANTS[name].bug, experiment_name, VARIANTS[name].run, factory)
    for name, experiment_name, factory in _GALLERY
}
"""Every fault by name, in the gallery's order."""
