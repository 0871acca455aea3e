"""Diagnosis: which known fault a mismatching trajectory shows, with the evidence, or none.

:func:`diagnose` runs every fault variant that applies to the experiment
(:func:`comparisons.faults.variants.fault_variants`) and weighs each against the
trajectory given, by the same comparator that found the mismatch. The evidence,
strongest first:

==================  ==========================================================  =========
confidence          the variant's run ...                                       named?
==================  ==========================================================  =========
``exact``           agrees with every value supplied                            if alone
``training``        agrees with every parameter and gradient supplied; only     if alone,
                    the recorded losses (or predictions) differ: the same       and none
                    training, another recording convention (a loss recorded     stronger
                    as a sum, after the update, ...)
``parameters``      agrees with every parameter supplied, not with the          if alone,
                    gradients: the same updates, another gradient recorded      and none
                    (``.grad`` zeroed before ``step()``, the stale gradient     stronger
                    used, not the one recorded, ...)
``first-steps``     agrees with every value supplied up to and including the    never
                    step where the trajectory first leaves the reference, and
                    differs later
==================  ==========================================================  =========

A fault is *named* only when it alone reaches the strongest level any fault
reaches (``exact``, ``training`` or ``parameters``); the forms of one bug (a
variant's ``family``: ``reduction='sum'`` with or without the loss summed) count
as one, and the diagnosis names the family. Otherwise the diagnosis is "no known fault",
with up to three *candidates* (the faults that reach a level, those that agree
longest first) and the evidence for each: a wrong name is worse than none. Two
faults that coincide on what was supplied (on batches of 2, ``sum-not-mean`` and
``loss-missing-half`` move the parameters alike, and only the recorded losses
tell them apart) are both candidates, neither named.

Besides the gallery's variants, the signature suggests one: a first difference
in the updates by one factor ``c`` on every leaf is weighed as
:func:`~comparisons.faults.variants.wrong_learning_rate` at ``c``. Its setting is
*fitted* to the trajectory, so at the same level a variant with nothing fitted
wins (a rate applied twice is a rate ``lr`` times the spec's, ``step()`` twice on
SGD a rate twice the spec's: those are named, not ``wrong-learning-rate``) --
where gradients were supplied. Without them, a wrong rate cannot be told from a
gradient scaled by the same factor (a sum over the batch, a ``/ (n - 1)``): a
fitted variant is then never named, and ties with the others at its level.

Every diagnosis carries the trajectory's *signature*, :func:`signature`: which
quantity first differs from the correct reference and at which step, on which
leaves (biases only? one layer?), and the ratio of the first differing values to
the reference's (``x2``: a missing half or a sum over 2; ``x-1``: a sign; the
batch size: a sum, not a mean; for parameters, the ratio of the update: a wrong
rate), and whether the parameters move at all.

:func:`fault_differences` says where each variant first differs from the correct
reference (``None``: on this experiment it cannot be told apart).

The variants run on one of two paths (:data:`VARIANT_RUNNERS`), chosen by size
(:func:`choose_variants`) or by ``diagnose(..., variants=...)``: ``manual``, each
variant a pure-Python run, up to :data:`MANUAL_VARIANT_WORK`; ``jax`` past it where
:mod:`comparisons.faults.jax_variants` applies, every knob-expressed fault in one
compiled float64 program (the others on ``manual`` up to :data:`MAX_VARIANT_WORK`,
else *not weighed*, which the result says). The diagnosis is the same on either path
where both weigh the same faults (the variants agree to rounding).

Example:
  >>> from comparisons.experiments import REGISTRY
  >>> from comparisons.faults.variants import run_variant
  >>> full_batch = REGISTRY["full-batch"]
  >>> (found,) = diagnose(full_batch, run_variant(full_batch, "sum-not-mean"))
  >>> found.fault, found.named, found.confidence
  ('sum-not-mean', True, 'exact')
  >>> print(found.evidence)
  every value supplied agrees with the reference run with this bug; first differs at step 0, \
grads: x3 the reference's on every leaf
  >>> diagnose(full_batch, run_variant(full_batch, None))
  ()
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

import comparisons.backends
from comparisons.compare import Mismatch, compare_trajectories
from comparisons.experiments import Experiment
from comparisons.faults.jax_variants import jax_faults, run_jax_variants, unsupported
from comparisons.faults.variants import (
    VARIANTS,
    FaultVariant,
    fault_variants,
    wrong_learning_rate,
)
from comparisons.models import bias_leaves
from comparisons.trajectory import Trajectory
from functional_training import TrajectoryRecord, leaf_of

__all__ = ["CONFIDENCES", "MANUAL_VARIANT_WORK", "MAX_JAX_VALUES", "MAX_VARIANT_WORK",
           "VARIANT_RUNNERS", "Diagnoses", "Diagnosis", "choose_variants", "describe_diagnoses",
           "diagnosable", "diagnose", "fault_differences", "signature"]

CONFIDENCES = ("exact", "training", "parameters", "first-steps")
"""The levels of evidence, strongest first (see the module docstring)."""

MOST_CANDIDATES = 3
"""How many candidates "no known fault" lists at most."""

MAX_VARIANT_WORK = 1_000_000
"""The most parameter-example-steps (parameters x examples per step x steps) for which
:func:`diagnose` runs a variant on the manual path: each is a run of the manual
reference in pure Python (the 2-16-16-1 network on 20 points for 10 steps, 67,400,
takes 0.4 s). Past it, on the manual path, the diagnosis is the signature alone and
says the known faults were not tried; on the jax path, the faults that are not knobs
(:data:`comparisons.faults.jax_variants.STRUCTURAL`) are not weighed, and the
diagnosis says so."""

MANUAL_VARIANT_WORK = 100_000
"""Up to this many parameter-example-steps :func:`choose_variants` keeps the manual
path (its ~25 variants cost about as much as the jax path's one compile, 2-5 s);
past it, the jax path where it applies."""

MAX_JAX_VALUES = 10_000_000
"""The most values (variants x parameters x (steps + 1)) the jax path holds for one
diagnosis (80 MB of float64 parameters alone, and as many values compared per variant); past
it the faults are not tried."""

VARIANT_RUNNERS = ("manual", "jax")
"""What may run the fault variants: ``manual`` (each variant the manual backend with
its bug, Python floats) or ``jax`` (the knob-expressed faults as one compiled
float64 program, :mod:`comparisons.faults.jax_variants`)."""

_TRAINING = ("params", "grads")


class Diagnosis(NamedTuple):
    """A fault a trajectory shows (``named``), or a candidate for it.

    Attributes:
      fault: the fault's name (a key of :data:`VARIANTS`).
      bug: its one-line description.
      step: the step where the fault's variant first differs from the correct reference.
      quantity: the series there (``grads.w``, ``batch_loss``, ...).
      evidence: one line: how far the variant's run agrees with the trajectory, and
        the trajectory's :func:`signature`.
      confidence: one of :data:`CONFIDENCES`.
      named: ``True``: the diagnosis names this fault; ``False``: only a candidate.
    """

    fault: str
    bug: str
    step: int
    quantity: str
    evidence: str = ""
    confidence: str = "exact"
    named: bool = True

    def describe(self) -> str:
        """One line for a report.

        Example:
          >>> Diagnosis("sum-not-mean", "the batch gradient is a sum", 0, "grads.w",
          ...           "first differs at step 0, grads: x3").describe()
          'sum-not-mean: the batch gradient is a sum (evidence: first differs at step 0, \
grads: x3)'
          >>> Diagnosis("sum-not-mean", "the batch gradient is a sum", 0, "grads.w", "x3",
          ...           named=False).describe()
          'sum-not-mean (x3)'
        """
        if self.named:
            return f"{self.fault}: {self.bug} (evidence: {self.evidence})"
        return f"{self.fault} ({self.evidence})"


class Diagnoses(tuple):
    """What :func:`diagnose` found: one named :class:`Diagnosis`, candidates, or none.

    A tuple of :class:`Diagnosis` with the trajectory's :func:`signature` as
    ``signature`` (``""`` when the trajectory agrees), so that "no known fault" can
    still say where and how the trajectory leaves the reference.

    Example:
      >>> found = Diagnoses((), "first differs at step 0, grads: x2 the reference's")
      >>> found == (), found.signature
      (True, "first differs at step 0, grads: x2 the reference's")
    """

    def __new__(cls, items=(), signature: str = "", variants: str = "manual",
                not_weighed: tuple[str, ...] = ()):
        self = super().__new__(cls, items)
        self.signature = signature
        self.variants = variants  # which ran the fault variants (VARIANT_RUNNERS)
        self.not_weighed = tuple(not_weighed)  # faults that apply but were not run
        return self

    def weighed_note(self) -> str:
        """``""`` for the manual path; else which ran the variants and what was not weighed.

        Example:
          >>> Diagnoses((), "x", "jax", ("overwrite-not-accumulate",)).weighed_note()
          'fault variants weighed on jax in float64; not weighed at this size: \
overwrite-not-accumulate'
        """
        parts = []
        if self.variants == "jax":
            parts.append("fault variants weighed on jax in float64")
        if self.not_weighed:
            parts.append("not weighed at this size: " + ", ".join(self.not_weighed))
        return "; ".join(parts)


def describe_diagnoses(diagnoses: Sequence[Diagnosis]) -> str:
    """``<fault>: <bug> (evidence: ...)`` or ``no known fault; candidates: ...``.

    With no candidates, the :class:`Diagnoses`' signature (when it has one) follows
    in parentheses; in brackets, where the variants ran on jax or some were not
    weighed, :meth:`Diagnoses.weighed_note`.

    Example:
      >>> describe_diagnoses([])
      'no known fault'
      >>> describe_diagnoses(Diagnoses((), "first differs at step 2, updates"))
      'no known fault (first differs at step 2, updates)'
      >>> describe_diagnoses([Diagnosis("a", "bug a", 0, "grads.w", "x2", "training", False),
      ...                     Diagnosis("b", "bug b", 0, "grads.w", "x2", "training", False)])
      'no known fault; candidates: a (x2); b (x2)'
    """
    note = diagnoses.weighed_note() if isinstance(diagnoses, Diagnoses) else ""
    note = f" [{note}]" if note else ""
    named = [d for d in diagnoses if d.named]
    if named:
        return named[0].describe() + note
    if not diagnoses:
        signature = getattr(diagnoses, "signature", "")
        return (f"no known fault ({signature})" if signature else "no known fault") + note
    return "no known fault; candidates: " + "; ".join(d.describe() for d in diagnoses) + note


Compare = Callable[[Experiment, TrajectoryRecord, object], object]
"""``compare(experiment, reference, theirs) -> verdict`` with ``.agree``, ``.first_mismatch``
and ``.tolerance``."""


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


# --- the trajectory's signature -------------------------------------------------------------


def _values(trajectory) -> Mapping[tuple[str, str, int], float]:
    if isinstance(trajectory, TrajectoryRecord):
        return Trajectory.from_record(trajectory).values
    return trajectory.values


def _reference_value(reference: TrajectoryRecord, quantity: str, name: str, step: int):
    if quantity in _TRAINING:
        series = getattr(reference, quantity).get(name)
    elif quantity in ("batch_loss", "train_loss", "val_loss"):
        series = getattr(reference, quantity)
    else:
        return None
    if series is None or step >= len(series):
        return None
    return series[step]


def _ratio(pairs: Sequence[tuple[float, float]]) -> tuple[str | None, float | None]:
    """``("x<c>", c)`` when every ``theirs / reference`` is one constant (to 1e-6)."""
    ratios = [a / r for a, r in pairs if math.isfinite(a) and math.isfinite(r) and r != 0.0]
    if not ratios or len(ratios) < len(pairs) - sum(1 for _, r in pairs if r == 0.0):
        return None, None
    c = ratios[0] + 0.0  # -0.0 reads as 0
    if all(abs(q - c) <= 1e-6 * max(1.0, abs(c)) for q in ratios):
        return f"x{c:.4g}", c
    if all(q < 0 for q in ratios):
        return "every sign flipped, no common ratio", None
    return None, None


def _leaves_phrase(differing: set[str], supplied: set[str], biases: set[str]) -> str:
    if differing == supplied:
        return "on every leaf"
    if differing <= biases:
        return "on the biases only (" + ", ".join(sorted(differing)) + ")"
    layers = {leaf.rsplit(".", 1)[0] for leaf in differing}
    if len(layers) == 1 and len(supplied) > len(differing) and "." in next(iter(differing)):
        return f"on {next(iter(layers))} only"
    return "on " + ", ".join(sorted(differing)) + " only"


class _Signature(NamedTuple):
    line: str
    quantity: str  # params, grads, batch_loss, ...
    step: int
    factor: float | None  # the common ratio of the first differing values (updates), if any
    every_leaf: bool  # every leaf supplied at that step differs


def signature(experiment: Experiment, reference: TrajectoryRecord, theirs,
              first: Mismatch, *, tolerance: float = 1e-12) -> str:
    """One line: where ``theirs`` first leaves ``reference``, on which leaves, by what ratio.

    For gradients and losses the ratio is of the values, ``theirs / reference``;
    for parameters at step ``k >= 1``, of the updates ``params[k] - params[k-1]``
    (``x10``: a rate ten times the spec's, ``x-1``: the update's sign). A value
    differs when it is outside ``10 * tolerance`` relative to the largest reference
    value of its step. Also says whether the parameters never move.

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> from comparisons.faults.variants import run_variant
      >>> e = REGISTRY["full-batch"]
      >>> ref, bad = run_variant(e, None), run_variant(e, "bias-gradient-sign")
      >>> first = compare_trajectories(e, {"manual": ref, "bad": bad}).first_mismatch
      >>> signature(e, ref, bad, first)
      "first differs at step 0, grads: x-1 the reference's on the biases only (b)"
    """
    return _signature(experiment, reference, theirs, first, tolerance).line


def _signature(experiment: Experiment, reference: TrajectoryRecord, theirs, first: Mismatch,
               tolerance: float) -> _Signature:
    values = _values(theirs)
    step, quantity = first.step, first.quantity.split(".")[0]
    pairs, leaves, supplied = [], set(), set()
    keys = [(q, n, k) for (q, n, k) in values if q == quantity and k == step]
    reference_at = [_reference_value(reference, q, n, k) for q, n, k in keys]
    scale = max((abs(r) for r in reference_at if r is not None and math.isfinite(r)), default=0.0)
    for (q, n, k), r in zip(keys, reference_at, strict=True):
        if r is None:
            continue
        a = values[(q, n, k)]
        supplied.add(leaf_of(n) if q in _TRAINING else q)
        if math.isfinite(a) and math.isfinite(r) and abs(a - r) <= 10 * tolerance * (1 + scale):
            continue
        leaves.add(leaf_of(n) if q in _TRAINING else q)
        before = (q, n, k - 1)
        if q == "params" and k >= 1 and before in values:
            pairs.append((a - values[before], r - _reference_value(reference, q, n, k - 1)))
        else:
            pairs.append((a, r))
    what = "updates" if quantity == "params" and step >= 1 and pairs else quantity
    line = f"first differs at step {step}, {what}"
    ratio, factor = _ratio(pairs)
    if ratio is not None:
        line += f": {ratio} the reference's"
    if quantity in _TRAINING and leaves:
        biases = set(bias_leaves(experiment.model, experiment.model_config)) if (
            experiment.kind == "train") else set()
        line += " " + _leaves_phrase(leaves, supplied, biases)
    if _never_moves(theirs) and reference.params and _moves(reference):
        line += "; your parameters never move"
    return _Signature(line, quantity, step, factor, bool(leaves) and leaves == supplied)


def _never_moves(theirs) -> bool:
    """Every parameter supplied holds one value, at two or more steps."""
    if isinstance(theirs, TrajectoryRecord):
        theirs = Trajectory(params=theirs.params)
    steps: set[int] = set()
    for q, _, at, values in theirs.series_arrays():
        if q == "params":
            steps.update(at.tolist())
            if len(values) and not np.all(values == values[0]):
                return False
    return len(steps) >= 2


def _moves(reference: TrajectoryRecord) -> bool:
    return any(len(set(v)) > 1 for v in reference.params.values())


# --- weighing each fault ---------------------------------------------------------------------


def _only(theirs, like: TrajectoryRecord, quantities: tuple[str, ...]):
    """``theirs``'s values of ``quantities`` only (a record: ``like``'s other series).

    A :class:`Trajectory` keeps its whole series as arrays (a series from step 0 on
    without a gap as it is; else by step), so this is cheap for large runs too.
    """
    if isinstance(theirs, TrajectoryRecord):
        return dataclasses.replace(like, **{q: getattr(theirs, q) for q in quantities})
    kept: dict[str, dict[str, object]] = {q: {} for q in quantities}
    for q, n, steps, values in theirs.series_arrays():
        if q in quantities:
            whole = np.array_equal(steps, np.arange(len(steps)))
            kept[q][n] = values if whole else dict(zip(steps.tolist(), values.tolist(),
                                                       strict=True))
    return Trajectory(**kept)


def _holds(theirs, quantities: tuple[str, ...]) -> bool:
    if isinstance(theirs, TrajectoryRecord):
        return any(getattr(theirs, q) for q in quantities)
    return any(q in quantities for q, _, _ in theirs.values)


class _Weighed(NamedTuple):
    level: int  # index into CONFIDENCES
    agrees_until: float  # the step of the first disagreement with theirs (inf: none)
    order: int
    variant: FaultVariant
    differs: Mismatch | None  # where the variant first differs from the correct reference
    evidence: str
    fitted: bool = False  # the variant's setting was read off the trajectory (weaker)

    @property
    def family(self) -> str:
        return getattr(self.variant, "family", None) or self.variant.name


_SUBSETS = ((1, ("params", "grads"), "every parameter and gradient"),
            (2, ("params",), "every parameter"))
"""The ``training`` and ``parameters`` levels: the values that must agree with the variant."""


def _weigh(experiment, compare, theirs, first: Mismatch, order: int, fault: FaultVariant,
           variant: TrajectoryRecord, leaves_reference: dict[tuple[str, ...], bool]
           ) -> _Weighed | None:
    """``variant``'s level of evidence for ``theirs``, or ``None`` (``differs`` filled later).

    ``leaves_reference[quantities]``: ``theirs``'s values of ``quantities`` differ
    from the correct reference (only those subsets ``theirs`` holds).
    """
    verdict = compare(experiment, variant, theirs)
    if verdict.agree:
        return _Weighed(0, math.inf, order, fault, None,
                        "every value supplied agrees with the reference run with this bug")
    mismatch = verdict.first_mismatch
    for level, quantities, what in _SUBSETS:
        if not leaves_reference.get(quantities) or mismatch.quantity.split(".")[0] in quantities:
            continue  # nothing of theirs to explain there, or the first mismatch is in it
        if compare(experiment, variant, _only(theirs, variant, quantities)).agree:
            return _Weighed(level, mismatch.step, order, fault, None,
                            f"{what} supplied agrees with the reference run with this bug, "
                            f"the recorded {mismatch.quantity} does not (step {mismatch.step})")
    if mismatch.step > first.step:
        return _Weighed(3, mismatch.step, order, fault, None,
                        f"agrees with the reference run with this bug up to step "
                        f"{mismatch.step - 1}, not at step {mismatch.step}, {mismatch.quantity}")
    return None


def choose_variants(experiment: Experiment) -> str:
    """``manual`` where its variants are fast, ``jax`` beyond (where the jax path applies).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> choose_variants(REGISTRY["full-batch"]), choose_variants(REGISTRY["mlp/moons"])
      ('manual', 'jax')
    """
    if _variant_work(experiment) <= MANUAL_VARIANT_WORK or unsupported(experiment) is not None:
        return "manual"
    return "jax"


def diagnosable(experiment: Experiment) -> bool:
    """Whether :func:`diagnose` weighs any variant of ``experiment`` (by its size).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> diagnosable(REGISTRY["mlp/moons"])
      True
    """
    if _variant_work(experiment) <= MAX_VARIANT_WORK:
        return True
    return unsupported(experiment) is None and _jax_values(experiment) <= MAX_JAX_VALUES


def _jax_values(experiment: Experiment) -> int:
    """At most this many parameter values the jax path holds (every fault, and none)."""
    return (len(VARIANTS) + 1) * len(experiment.parameter_names) * (experiment.steps + 1)


class _JaxRuns:
    """The jax path's records: one batch of every knob fault that applies (and the run
    without any); a fault fitted later (a wrong rate) runs in a batch of the same width,
    so the compiled program is the same."""

    def __init__(self, experiment: Experiment, runs: Mapping[str, TrajectoryRecord]) -> None:
        self.experiment = experiment
        applying = [VARIANTS[name] for name in fault_variants(experiment)]
        self.faults = [f.name for f in jax_faults(experiment, applying)
                       if f.name not in runs]
        self.records = dict(run_jax_variants(experiment, [None, *self.faults]))
        self.records.update(runs)

    @property
    def reference(self) -> TrajectoryRecord:
        return self.records[None]

    def run(self, fault: FaultVariant) -> TrajectoryRecord:
        """The record of ``fault`` (a fitted one runs now, padded to the batch's width)."""
        if fault.name in self.records and fault is VARIANTS.get(fault.name):
            return self.records[fault.name]
        width = len(self.faults) + 1
        return run_jax_variants(self.experiment, [fault], width=width)[fault.name]


def diagnose(
    experiment: Experiment,
    trajectory: object,
    *,
    dtype: str = "float64",
    reference: TrajectoryRecord | None = None,
    compare: Compare | None = None,
    runs: Mapping[str, TrajectoryRecord] | None = None,
    variants: str | None = None,
) -> Diagnoses:
    """The known fault ``trajectory`` shows (one, ``named``), or up to three candidates.

    A trajectory that agrees with the correct reference gets no diagnosis; so does
    one that agrees with a variant only where the variant equals the reference.
    See the module docstring for the levels of evidence and when a fault is named.

    Args:
      experiment: the experiment ``trajectory`` claims to have run.
      trajectory: theirs, whole or partial: what ``compare`` takes as its third
        argument (a :class:`functional_training.TrajectoryRecord` for the default,
        or a :class:`comparisons.trajectory.Trajectory` with a partial comparator).
      dtype: the precision of ``trajectory``; sets the default comparator's
        tolerance and the one that decides where a variant differs from the reference.
      reference: the correct reference trajectory of ``experiment`` in float64, if
        already computed (default: the manual backend's, or on the jax path the jax
        program's run without a fault).
      compare: ``compare(experiment, reference_like, theirs) -> verdict`` (``.agree``,
        ``.first_mismatch``, ``.tolerance``); default
        :func:`comparisons.compare.compare_trajectories` at ``dtype``, every series.
        Pass a partial comparator to compare only what ``trajectory`` has.
      runs: the variants' trajectories of ``experiment`` by fault name, where already
        computed (diagnosing several trajectories of one experiment); the others run.
      variants: what runs the fault variants, one of :data:`VARIANT_RUNNERS`; default
        :func:`choose_variants` (``manual`` where fast). On ``jax`` the faults that are
        knobs run as one compiled float64 program; the others run on ``manual`` up to
        :data:`MAX_VARIANT_WORK` and are otherwise not weighed (the result's
        ``not_weighed``). The diagnosis is the same either way where both weigh the
        same faults: the variants agree to rounding, far inside the comparator's
        tolerance.

    Returns:
      :class:`Diagnoses`: empty (agrees, or no fault's evidence reaches any level),
      one :class:`Diagnosis` with ``named=True``, or candidates (``named=False``),
      strongest first; with the trajectory's signature, which path ran the variants
      (``variants``) and what was not weighed. Each says where its variant first
      differs from the correct reference (over every series, at ``dtype``).

    Raises:
      ValueError: an unknown ``variants``, or ``jax`` for an experiment its program
        does not run (:func:`comparisons.faults.jax_variants.unsupported`).
    """
    runner = variants or choose_variants(experiment)
    if runner not in VARIANT_RUNNERS:
        raise ValueError(f"variants must be one of {', '.join(VARIANT_RUNNERS)}, got {runner!r}")
    problem = unsupported(experiment) if runner == "jax" else None
    if problem is not None:
        raise ValueError(f"{experiment.name}: the jax fault variants take {problem}")
    compare = compare or _full_compare(dtype)
    known = runs or {}
    jax_runs = None
    if reference is None and runner == "jax" and _jax_values(experiment) <= MAX_JAX_VALUES:
        jax_runs = _JaxRuns(experiment, known)
        reference = jax_runs.reference
    reference = _reference(experiment, reference)
    verdict = compare(experiment, reference, trajectory)
    if verdict.agree:
        return Diagnoses(variants=runner)
    first = verdict.first_mismatch
    facts = _signature(experiment, reference, trajectory, first, verdict.tolerance)
    shows = facts.line
    work = _variant_work(experiment)
    if runner == "manual" and work > MAX_VARIANT_WORK:
        return Diagnoses((), f"{shows}; the known faults were not tried: {work:.1e} "
                             f"parameter-example-steps, over {MAX_VARIANT_WORK:.0e}")
    if runner == "jax" and _jax_values(experiment) > MAX_JAX_VALUES:
        return Diagnoses((), f"{shows}; the known faults were not tried: "
                             f"{_jax_values(experiment):.1e} values, over {MAX_JAX_VALUES:.0e}",
                         runner)
    suspects = _suspects(experiment, facts)
    not_weighed: list[str] = []
    own_reference = {}  # the fault's name -> the reference it is measured against
    if runner == "jax":
        jax_runs = jax_runs or _JaxRuns(experiment, known)
        knobs = {f.name for f in jax_faults(experiment, [f for f, _, _ in suspects])}
        kept = []
        for fault, run, fitted in suspects:
            if fault.name in knobs:
                kept.append((fault, functools.partial(jax_runs.run, fault), fitted))
                own_reference[fault.name] = jax_runs.reference
            elif work <= MAX_VARIANT_WORK:
                kept.append((fault, run, fitted))
            else:
                not_weighed.append(fault.name)
        suspects = kept
    leaves_reference = {
        quantities: not compare(experiment, reference,
                                _only(trajectory, reference, quantities)).agree
        for _, quantities, _ in _SUBSETS if _holds(trajectory, quantities)}
    weighed = []
    for order, (fault, run, fitted) in enumerate(suspects):
        variant = known[fault.name] if not fitted and fault.name in known else run()
        found = _weigh(experiment, compare, trajectory, first, order, fault, variant,
                       leaves_reference)
        if found is None:
            continue
        differs = _difference(experiment, own_reference.get(fault.name, reference), variant,
                              dtype)
        if differs is not None:  # else on this experiment the fault is the reference itself
            weighed.append(found._replace(differs=differs, fitted=fitted))
    return _conclude(weighed, trajectory, shows, runner, not_weighed)


def _conclude(weighed: list[_Weighed], trajectory, shows: str, runner: str,
              not_weighed: list[str]) -> Diagnoses:
    """The named fault or the candidates, from the weighed variants (module docstring)."""
    def result(items):
        return Diagnoses(items, shows, runner, not_weighed)

    if not weighed:
        return result(())
    weighed.sort(key=lambda w: (w.level, w.fitted, -w.agrees_until, w.order))
    seen: set[str] = set()
    weighed = [w for w in weighed if not (w.family in seen or seen.add(w.family))]  # a family once
    # A fitted variant fits any run whose updates scale by one factor; only gradients can
    # tell a wrong rate from a gradient scaled by the same factor. So without gradients a
    # fitted variant is never named, and one reaching the best level ties with the rest.
    grads_held = _holds(trajectory, ("grads",))
    if grads_held:
        best = [w for w in weighed if (w.level, w.fitted) == (weighed[0].level,
                                                                weighed[0].fitted)]
    else:
        best = [w for w in weighed if w.level == weighed[0].level]
    if (len(best) == 1 and best[0].level < CONFIDENCES.index("first-steps")
            and (grads_held or not best[0].fitted)):
        (w,) = best
        return result([_diagnosis(w, shows, named=True)])
    alike = len(best) > 1 and best[0].level < CONFIDENCES.index("first-steps")
    if not alike:
        return result([_diagnosis(w, shows) for w in weighed[:MOST_CANDIDATES]])
    best.sort(key=lambda w: w.order)
    return result([_diagnosis(w, shows, also=[o.family for o in best if o is not w])
                   for w in best[:MOST_CANDIDATES]])


def _variant_work(experiment: Experiment) -> int:
    """Parameters x examples per step x steps: what one variant's run costs."""
    per_step = experiment.batch_size or len(experiment.train) or 1
    return len(experiment.parameter_names) * per_step * max(experiment.steps, 1)


def _suspects(experiment: Experiment, facts: _Signature
              ) -> list[tuple[FaultVariant, Callable[[], TrajectoryRecord], bool]]:
    """Every variant that applies, in the gallery's order, then those the signature suggests.

    A first difference in the updates by one factor ``c`` on every leaf suggests
    :func:`~comparisons.faults.variants.wrong_learning_rate` at ``c`` (to 6 digits):
    *fitted* to the trajectory, so weaker evidence than a variant with nothing to fit
    (the rate applied twice is a rate ``lr`` times the spec's; on SGD, ``step()`` twice
    is a rate twice the spec's: those are named).
    """
    found = [(VARIANTS[name], run, False) for name, run in fault_variants(experiment).items()]
    if (facts.quantity == "params" and facts.step >= 1 and facts.every_leaf
            and facts.factor is not None and facts.factor > 0
            and abs(facts.factor - 1.0) > 1e-6):
        variant = wrong_learning_rate(float(f"{facts.factor:.6g}"))
        if variant.applies(experiment):
            found.append((variant, functools.partial(variant.run, experiment), True))
    return found


def _diagnosis(w: _Weighed, shows: str, *, named: bool = False, also=()) -> Diagnosis:
    """The family's name and bug; the evidence names the form where it is not the family."""
    name = w.variant.name
    form = f" (form {name})" if name != w.family else ""
    evidence = w.evidence + form + (", as for " + ", ".join(also) if also else "")
    own = name == w.family or w.family not in VARIANTS  # the family's own form: its bug line
    bug = w.variant.bug if own else VARIANTS[w.family].bug
    return Diagnosis(w.family, bug, w.differs.step, w.differs.quantity, f"{evidence}; {shows}",
                     CONFIDENCES[w.level], named)
