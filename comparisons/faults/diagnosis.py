"""Diagnosis: which known faults a mismatching trajectory agrees with.

:func:`diagnose` runs every fault variant that applies to the experiment
(:func:`comparisons.faults.variants.fault_variants`) and returns the faults whose
trajectory agrees with the one given, by the same comparator that found the
mismatch; :func:`fault_differences` says where each variant first differs from
the correct reference (``None``: on this experiment it cannot be told apart).

Example:
  >>> from comparisons.experiments import REGISTRY
  >>> from comparisons.faults.variants import run_variant
  >>> full_batch = REGISTRY["full-batch"]
  >>> buggy = run_variant(full_batch, "sum-not-mean")
  >>> [d.fault for d in diagnose(full_batch, buggy)]
  ['sum-not-mean']
  >>> diagnose(full_batch, run_variant(full_batch, None))
  []
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import comparisons.backends
from comparisons.compare import Mismatch, compare_trajectories
from comparisons.experiments import Experiment
from comparisons.faults.variants import VARIANTS, fault_variants
from functional_training import TrajectoryRecord

__all__ = ["Diagnosis", "diagnose", "fault_differences"]


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
