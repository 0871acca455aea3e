"""Check your own training loop against the reference: every value you recorded, nothing else.

:func:`check` runs the reference backend (``manual`` by default) on an
experiment (a spec file, a registry name or an :class:`Experiment`) and compares
the values of your :class:`~comparisons.trajectory.Trajectory` with it:
every quantity you supplied at every step you supplied, and nothing you did
not. The comparison is :func:`comparisons.compare.compare_trajectories`'
(``docs/design.md``, "The precision policy"): the same tolerance, the same
scales, the same non-finite rules as a full comparison of two backends.

How a partial trajectory gets exactly the full comparison's rule
(:func:`compare_partial`): your values are written into a copy of the reference
trajectory, which is then compared with the reference as any backend is. A value
you did not supply is the reference's own and agrees with itself (difference 0);
each value's scale, the largest magnitude its group has held so far, comes from
the whole reference trajectory whatever you supplied, so a value you did supply
meets the tolerance it would meet in a full comparison. One consequence for a
diverging run: a series you did not supply holds the reference's values, so
where those go non-finite counts as where your run does too (supply every
series of a diverging run to compare exactly where yours goes non-finite). Where the
reference is finite throughout, the same verdict is computed on your values alone
(:func:`comparisons.compare.compare_supplied`), without the copy: a large model's check
compares the values you recorded, not every value the reference holds.

What the spec leaves out, the reference replays from your trajectory
(:func:`replay_of`): a spec without initial values starts from your step-0
``params``; a spec without a batch order (no ``batch_size``, or ``[run] batches =
"trajectory"``) trains on your ``batches``, step by step, whatever their order and
sizes. A spec that does imply an order (``batch_size``, ``seed``) is the reference's
order: a batch of yours that differs from it is the first mismatch at its step
(``batches``, both index lists), never a gradient. The verdict says what came
from your trajectory (:class:`Replay`).

When your trajectory differs, the diagnosis runs the reference with each known
bug of the gallery that applies to the experiment planted in it, and names the
variants your values agree with (:func:`comparisons.faults.diagnosis.diagnose`,
given :func:`compare_partial` so that it too compares only what you supplied): it
names one fault with the evidence, or says "no known fault" and lists candidates.

Example:
  >>> verdict = check("single-update", {"params": {"w": [1.0, 1.8]}, "grads": {"w": [-8.0]}})
  >>> verdict.agree, verdict.coverage.values
  (True, 3)
  >>> print(verdict.coverage.describe()[1])
  not compared: params.b 0..1; grads.b 0; batch_loss 0; train_loss 0..1; predictions 0..1
  >>> check("single-update", {"grads": {"w": [-4.0]}}, diagnosis=False).describe()
  'single-update: your trajectory differs from manual at step 0, grads.w: expected -8.0, got -4.0'
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import comparisons.backends
from comparisons.compare import (
    ExperimentVerdict,
    Mismatch,
    compare_supplied,
    compare_trajectories,
    rounded_to,
)
from comparisons.dtype_hint import float32_hint, relative_diff
from comparisons.experiments import REGISTRY, Experiment
from comparisons.faults.diagnosis import Diagnosis, describe_diagnoses, diagnosable, diagnose
from comparisons.reference_choice import choose_reference
from comparisons.report import package_versions
from comparisons.spec import SpecError, load_spec
from comparisons.trajectory import INDEXED, NAMED, Trajectory, TrajectoryError
from comparisons.trajectory_files import read_trajectory
from functional_training import TrajectoryRecord, json_float
from functional_training.runs import FROM_TRAJECTORY

__all__ = [
    "YOURS",
    "Coverage",
    "Replay",
    "Verdict",
    "as_trajectory",
    "check",
    "compare_partial",
    "coverage_of",
    "describe_diagnosis",
    "filled",
    "replay_of",
    "resolve_experiment",
    "step_ranges",
]

YOURS = "your trajectory"
"""The name your trajectory has in the comparison (and in its mismatch's ``backend``)."""


# --- what was compared ---------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """What a trajectory held, against what the reference records.

    Series are the comparator's (``params.w``, ``batch_loss``, ``predictions``,
    ``batches``, ``extras.numeric.w``), in the reference's order.

    Attributes:
      supplied: series -> the steps at which you supplied at least one value.
      recorded: series -> the number of steps the reference records for it.
      values: how many values you supplied.
      recorded_values: how many values the reference records.
      partial_rows: ``predictions`` / ``batches`` -> (values supplied, values the
        reference holds at those steps), where you supplied part of some rows.
      nonfinite_from: the step from which both runs are non-finite, when values
        you supplied lie past it (they are not compared); else ``None``.
    """

    supplied: dict[str, tuple[int, ...]]
    recorded: dict[str, int]
    values: int
    recorded_values: int
    partial_rows: dict[str, tuple[int, int]] = field(default_factory=dict)
    nonfinite_from: int | None = None

    @property
    def complete(self) -> bool:
        """Every value the reference records was supplied."""
        return self.values == self.recorded_values

    @property
    def not_supplied(self) -> tuple[str, ...]:
        """The reference's series you supplied no value of."""
        return tuple(label for label in self.recorded if label not in self.supplied)

    def missing_steps(self, label: str) -> tuple[int, ...]:
        """The steps of series ``label`` the reference records and you did not supply."""
        held = set(self.supplied.get(label, ()))
        return tuple(k for k in range(self.recorded[label]) if k not in held)

    def describe(self) -> list[str]:
        """Two lines: ``compared: ...`` and ``not compared: ...``, series grouped by kind.

        A kind whose every series was supplied at the same steps is one item
        (``params (w, b) 0..20``); otherwise each series is its own.
        """
        compared, missing = [], []
        for kind, labels in _kinds(self.recorded).items():
            held = [label for label in labels if label in self.supplied]
            steps = {self.supplied[label] for label in held}
            if len(labels) > 1 and len(held) in (0, len(labels)) and len(steps) <= 1:
                shown = f"{kind} ({_few([label[len(kind) + 1:] for label in labels])})"
                if held:
                    compared.append(f"{shown} {step_ranges(self.supplied[labels[0]])}")
                gaps = self.missing_steps(labels[0])
                if gaps:
                    missing.append(f"{shown} {step_ranges(gaps)}")
                continue
            for label in labels:
                if label in self.supplied:
                    note = ""
                    if label in self.partial_rows:
                        have, of = self.partial_rows[label]
                        note = f" ({have} of {of} values)"
                    compared.append(f"{label} {step_ranges(self.supplied[label])}{note}")
                gaps = self.missing_steps(label)
                if gaps:
                    missing.append(f"{label} {step_ranges(gaps)}")
        if self.nonfinite_from is not None:
            missing.append(f"anything after step {self.nonfinite_from} (both runs non-finite "
                           "from there)")
        return [
            f"compared: {'; '.join(compared)} ({self.values} of {self.recorded_values} values)",
            f"not compared: {'; '.join(missing) if missing else 'nothing: every value was given'}",
        ]

    def to_json(self) -> dict:
        """``{"supplied": {series: [[first, last], ...]}, "not_supplied": [...], ...}``."""
        return {
            "supplied": {label: _runs(steps) for label, steps in self.supplied.items()},
            "recorded_steps": dict(self.recorded),
            "not_supplied": list(self.not_supplied),
            "values": self.values,
            "recorded_values": self.recorded_values,
            "partial_rows": {label: list(pair) for label, pair in self.partial_rows.items()},
            "nonfinite_from": self.nonfinite_from,
        }


# --- what the reference took from your trajectory ------------------------------------------


@dataclass(frozen=True)
class Replay:
    """What the reference took from your trajectory because the spec leaves it out.

    Attributes:
      initial_values: the reference starts from your step-0 ``params``.
      batch_sizes: each step's batch size when the reference trains on your
        ``batches`` (``None``: the spec's batches).

    Example:
      >>> for line in Replay(True, (4, 4, 2)).lines():
      ...     print(line)
      initial values: from your trajectory's step 0
      batches: from your trajectory (3 steps, 2 to 4 examples)
    """

    initial_values: bool = False
    batch_sizes: tuple[int, ...] | None = None

    def lines(self) -> list[str]:
        """``initial values: ...`` and ``batches: ...`` lines for what was replayed."""
        lines = []
        if self.initial_values:
            lines.append("initial values: from your trajectory's step 0")
        if self.batch_sizes is not None:
            lines.append(f"batches: from your trajectory ({self._sizes()})")
        return lines

    def _sizes(self) -> str:
        sizes = self.batch_sizes or ()
        low, high = min(sizes, default=0), max(sizes, default=0)
        steps = f"{len(sizes)} step{'' if len(sizes) == 1 else 's'}"
        return (f"{steps}, {low} example{'' if low == 1 else 's'} each" if low == high
                else f"{steps}, {low} to {high} examples")

    def to_json(self) -> dict:
        """``{"initial_values": bool, "batches": null | {"steps", "smallest", "largest"}}``."""
        sizes = self.batch_sizes
        return {"initial_values": self.initial_values,
                "batches": None if sizes is None else {
                    "steps": len(sizes), "smallest": min(sizes, default=0),
                    "largest": max(sizes, default=0)}}


def replay_of(experiment: Experiment, trajectory: Trajectory) -> tuple[Experiment, Replay]:
    """The experiment the reference runs for ``trajectory``: what the spec leaves out, filled.

    - initial values (``experiment.init`` is ``None``: the spec gives none): your
      step-0 ``params``, every scalar of the model;
    - the batches (``experiment.order`` is ``"trajectory"``, or there is no order at
      all, no ``batch_size``, and your trajectory holds ``batches``): your
      ``batches``, one complete row for every step ``0..S-1``, any order and sizes.

    A spec that gives them keeps them (your values are then compared with them).

    Raises:
      TrajectoryError: the spec leaves out what your trajectory does not hold
        either (one line naming what is missing).

    Example:
      >>> e = REGISTRY["five-steps"].replaying()
      >>> e = dataclasses.replace(e, init=None)
      >>> replayed, replay = replay_of(e, Trajectory(params={"w": [3.0], "b": [0.5]}))
      >>> replayed.init, replay.lines()
      ({'w': 3.0, 'b': 0.5}, ["initial values: from your trajectory's step 0"])
    """
    init = None
    if experiment.init is None:
        names = experiment.parameter_names
        first = {name: values[0].item() for quantity, name, steps, values
                 in trajectory.series_arrays() if quantity == "params" and steps[0] == 0}
        missing = [name for name in names if name not in first]
        if missing:
            raise TrajectoryError(
                f"initial values: {experiment.name} gives none and your trajectory has no "
                f"step-0 params for {_listing(missing)} (record params at step 0, or give "
                "the initial values in the spec's [model])")
        init = {name: first[name] for name in names}
    rows: dict[int, dict[int, int]] = {}
    for quantity, name, steps, values in trajectory.series_arrays():
        if quantity == "batches":
            for step, value in zip(steps.tolist(), values.tolist(), strict=True):
                rows.setdefault(step, {})[int(name)] = value
    order = None
    if experiment.order == FROM_TRAJECTORY or (
            experiment.order is None and experiment.batch_size is None and rows
            and experiment.kind != "shared-path"):
        order = _trajectory_order(experiment, rows)
    replay = Replay(init is not None, None if order is None else tuple(map(len, order)))
    return experiment.replaying(init=init, order=order), replay


def _trajectory_order(experiment: Experiment, rows: dict[int, dict[int, int]]) -> list[list[int]]:
    """Your batches as the reference's order: every step, every position, indices in range."""
    if not rows:
        raise TrajectoryError(f'batches: {experiment.name} leaves the batches to your trajectory '
                              '([run] batches = "trajectory") and it holds none')
    steps = experiment.steps
    gaps = [k for k in range(steps) if k not in rows]
    if gaps:
        raise TrajectoryError(
            f"batches: your trajectory has no batch at step {step_ranges(gaps)}; the reference "
            f"trains on your batches, so it needs every step's (0..{steps - 1})")
    n = len(experiment.train)
    order = []
    for k in range(steps):
        row = rows[k]
        holes = [j for j in range(max(row) + 1) if j not in row]
        if holes:
            raise TrajectoryError(f"batches at step {k}: no example at position {holes[0]} "
                                  f"(the reference trains on your batch: give positions "
                                  f"0..{max(row)})")
        batch = [row[j] for j in range(len(row))]
        outside = [i for i in batch if i >= n]
        if outside:
            raise TrajectoryError(f"batches at step {k}: example index {outside[0]} is outside "
                                  f"{experiment.name}'s {n} training examples")
        order.append(batch)
    return order


# --- the verdict ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Your trajectory against the reference: agreement, what was compared, the diagnosis.

    Attributes:
      experiment: the experiment's name.
      agree: every value you supplied agrees with the reference's.
      reference: the reference backend's name.
      dtype: the precision compared in (``float32``: both rounded to float32).
      tolerance: rtol = atol (:func:`functional_training.tolerance`).
      first_mismatch: the earliest differing value (by step, then series), or ``None``.
      max_abs_diff: per series you supplied, the largest ``|yours - reference|``.
      coverage: what was compared and what was not.
      diagnoses: when you disagree, the known fault your values show (one, ``named``)
        or up to three candidates for it (:func:`comparisons.faults.diagnose`; empty:
        no known fault comes close; always empty when you agree).
      trajectory: yours, as given.
      reference_trajectory: the reference's whole trajectory.
      hint: one line about the check's settings, or ``None``: a float64 check of a
        trajectory that carries float32 rounding suggests ``--dtype float32``
        (:mod:`comparisons.dtype_hint`).
      replay: what the reference took from your trajectory (:func:`replay_of`).
      batches_differ: ``(differing, compared)``: of the steps whose batch you
        supplied, how many differ from the reference's (``None``: no batch
        supplied). Batches are index lists, equal or not: no ``max_abs_diff``.
      reference_reason: why ``reference`` was chosen, when it was chosen for the run's
        size (:func:`comparisons.reference_choice.choose_reference`); else ``None``.
    """

    experiment: str
    agree: bool
    reference: str
    dtype: str
    tolerance: float
    first_mismatch: Mismatch | None
    max_abs_diff: dict[str, float]
    coverage: Coverage
    diagnoses: tuple[Diagnosis, ...] = ()
    trajectory: Trajectory | None = field(default=None, repr=False, compare=False)
    reference_reason: str | None = None
    reference_trajectory: TrajectoryRecord | None = field(default=None, repr=False,
                                                          compare=False)
    hint: str | None = None
    replay: Replay = field(default_factory=Replay)
    batches_differ: tuple[int, int] | None = None

    @property
    def largest_diff(self) -> float:
        """The largest difference over every series you supplied (0.0 when none)."""
        return max(self.max_abs_diff.values(), default=0.0)

    def describe(self) -> str:
        """One line: agreement over what was compared, or the first mismatch with both values."""
        if self.first_mismatch is not None:
            return self.first_mismatch.describe(self.experiment, self.reference)
        return (f"{self.experiment}: your trajectory agrees with {self.reference} on the "
                f"{self.coverage.values} values it holds (max |diff| {self.largest_diff:.1e}, "
                f"tolerance {self.tolerance:.0e})")

    def diagnosis_lines(self) -> list[str]:
        """``diagnosis: <fault>: <bug> (evidence: ...)`` or ``diagnosis: no known fault; ...``.

        One line, empty when you agree (:func:`comparisons.faults.describe_diagnoses`).
        """
        if self.agree:
            return []
        return [f"diagnosis: {describe_diagnoses(self.diagnoses)}"]

    def lines(self) -> list[str]:
        """The whole verdict as text: header, coverage, verdict, diagnosis."""
        return [
            f"{self.experiment}: your trajectory against {self.reference} ({self.dtype}, "
            f"rtol = atol = {self.tolerance:.0e})",
            *self.replay.lines(),
            *([f"reference: {self.reference_reason}"] if self.reference_reason else []),
            *self.coverage.describe(),
            *([self._batches_line()] if self.batches_differ is not None
              and self.batches_differ[0] else []),
            ("agree: " if self.agree else "MISMATCH: ")
            + self.describe().removeprefix(f"{self.experiment}: "),
            *self.diagnosis_lines(),
            *([self.hint] if self.hint else []),
        ]

    def _batches_line(self) -> str:
        """``batches: 3 of 25 differ from the spec's order (...)``, with how to replay yours."""
        differ, compared = self.batches_differ or (0, 0)
        return (f"batches: {differ} of {compared} differ from the spec's order (to train the "
                'reference on your own batches, set [run] batches = "trajectory")')

    def to_json(self) -> dict:
        """The ``check`` report object (strict JSON: non-finite numbers as strings)."""
        return {
            "tool": "comparisons check",
            "experiment": self.experiment,
            "agree": self.agree,
            "reference": self.reference,
            "reference_reason": self.reference_reason,
            "dtype": self.dtype,
            "tolerance": self.tolerance,
            "first_mismatch": None if self.first_mismatch is None
            else self.first_mismatch.to_json(),
            "max_abs_diff": {label: json_float(v) for label, v in self.max_abs_diff.items()},
            "batches_differ": None if self.batches_differ is None else dict(
                zip(("differ", "compared"), self.batches_differ, strict=True)),
            "from_trajectory": self.replay.to_json(),
            "coverage": self.coverage.to_json(),
            "diagnosis": None if self.agree else [_diagnosis_json(d) for d in self.diagnoses],
            "hint": self.hint,
            "versions": package_versions(),
            "trajectory": None if self.trajectory is None else self.trajectory.to_json(),
            "reference_trajectory": None if self.reference_trajectory is None
            else self.reference_trajectory.to_json(),
        }

    def markdown(self) -> str:
        """The verdict as Markdown: a table row per series of the reference, then the diagnosis."""
        coverage = self.coverage
        lines = [
            f"Your trajectory against {self.reference} on {self.experiment} ({self.dtype}, "
            f"rtol = atol = {self.tolerance:.0e}): "
            + ("**agree**" if self.agree else "**MISMATCH**"),
            "",
            f"{coverage.values} of {coverage.recorded_values} values compared.",
            "",
            *[f"- {line}" for line in self.replay.lines()],
            *([""] if self.replay.lines() else []),
            "| series | steps compared | steps recorded | max \\|diff\\| |",
            "|---|---|---|---|",
        ]
        for label, count in coverage.recorded.items():
            steps = coverage.supplied.get(label)
            diff = self.max_abs_diff.get(label)
            shown = '' if diff is None or steps is None else f'{diff:.1e}'
            if label == "batches" and steps and self.batches_differ is not None:
                differ, compared = self.batches_differ
                shown = f"{differ or 'none'} of {compared} differ"
            lines.append(f"| {label} | {step_ranges(steps) if steps else 'not supplied'} | "
                         f"{step_ranges(range(count))} | {shown} |")
        lines += ["", f"- {self.describe()}"]
        lines += [f"- {line}" for line in self.diagnosis_lines()]
        lines += [f"- {self.hint}"] if self.hint else []
        if coverage.nonfinite_from is not None:
            lines.append(f"- values after step {coverage.nonfinite_from} are not compared: "
                         "both runs are non-finite from there")
        return "\n".join(lines) + "\n"


def describe_diagnosis(diagnosis: Diagnosis) -> str:
    """``<fault>: <bug> (evidence: ...)`` named, ``<fault> (<evidence>)`` a candidate."""
    return diagnosis.describe()


# --- checking --------------------------------------------------------------------------------


def check(
    spec_or_experiment,
    trajectory,
    *,
    reference: str | None = None,
    dtype: str = "float64",
    diagnosis: bool = True,
) -> Verdict:
    """Compare your trajectory, whole or partial, with the reference backend's.

    Args:
      spec_or_experiment: an :class:`Experiment`, a TOML spec file's path, or a
        registry experiment's name (:func:`resolve_experiment`).
      trajectory: a :class:`Trajectory`, a dict in the report's ``TRAJ`` shape (any
        part of it), a whole :class:`functional_training.TrajectoryRecord`, or a
        trajectory file's path (JSON or long CSV; :func:`as_trajectory`).
      reference: the backend to compare with; default ``manual``, or ``jax`` (float64) for a
        run too large for it (:func:`comparisons.reference_choice.choose_reference`; the
        verdict's ``reference_reason`` says so). The diagnosis runs where
        :func:`comparisons.faults.diagnosis.diagnosable` (its variants on ``manual``
        or, for large runs, ``jax`` in float64); past that size it is not run.
      dtype: ``float64``, or ``float32`` for a float32 implementation (both
        sides are compared rounded to float32, with float32's tolerance).
      diagnosis: when you disagree, name the known faults your values match.

    Returns:
      A :class:`Verdict`.

    Raises:
      comparisons.trajectory.TrajectoryError: the trajectory does not fit
        the experiment (an unknown parameter, a step out of range, ...) or is bad.
      comparisons.spec.SpecError: a bad spec file.
      ValueError: an experiment the reference cannot run in ``dtype``, an unknown backend.
      comparisons.backends.BackendUnavailable: the reference cannot run here.
    """
    theirs = as_trajectory(trajectory)
    try:
        experiment, replay = replay_of(resolve_experiment(spec_or_experiment), theirs)
    except TrajectoryError as error:
        if isinstance(trajectory, (str, os.PathLike)):  # read here: name the file
            raise TrajectoryError(f"{trajectory}: {error}") from None
        raise
    choice = choose_reference(experiment)
    reason = choice.reason if reference is None else None
    reference = reference or choice.name
    if choice.reason is not None and diagnosis and not diagnosable(experiment):  # by size
        diagnosis = False
        reason = f"{reason or f'{reference}, as asked'}; diagnosis not run at this size"
    backend = comparisons.backends.get_backend(reference)  # unknown: ValueError as it is
    try:  # the backend's run checks the experiment first (check_run), once
        expected = backend.run(experiment, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{experiment.name}: {error}") from None
    try:
        theirs.check_fits(expected, what=experiment.name)
    except TrajectoryError as error:
        if isinstance(trajectory, (str, os.PathLike)):  # read here: name the file
            raise TrajectoryError(f"{trajectory}: {error}") from None
        raise
    compared, reference_finite = _compared(experiment, expected, theirs, reference=reference,
                                           dtype=dtype)
    found: tuple[Diagnosis, ...] = ()
    if diagnosis and not compared.agree:
        found = diagnose(  # a tuple of Diagnosis, with the trajectory's signature
            experiment, theirs, dtype=dtype,
            reference=expected if reference == "manual" or (  # a float64 reference
                reference == "jax" and dtype == "float64") else None,
            compare=lambda e, ref, yours: compare_partial(e, ref, yours, reference=reference,
                                                          dtype=dtype),
        )
    series = list(theirs.series_arrays())  # (quantity, name, steps, values), whole
    held = {_series_label(q, n) for q, n, _, _ in series}
    batch_steps = {int(step) for quantity, _, steps, _ in series
                   if quantity == "batches" for step in steps}
    yours = compared.backends[YOURS]
    return Verdict(
        experiment=experiment.name,
        agree=compared.agree,
        reference=reference,
        dtype=str(dtype),
        tolerance=compared.tolerance,
        first_mismatch=compared.first_mismatch,
        max_abs_diff={label: diff for label, diff in compared.max_abs_diff.items()
                      if label in held},
        coverage=coverage_of(theirs, expected, dtype=dtype, reference_finite=reference_finite),
        diagnoses=found,
        trajectory=theirs,
        reference_reason=reason,
        reference_trajectory=expected,
        hint=float32_hint(
            (v for q, _, _, values in series if q != "batches"
             for v in values), dtype=dtype,
            agree=compared.agree, first_relative_diff=None if compared.first_mismatch is None
            else relative_diff(compared.first_mismatch.expected, compared.first_mismatch.actual),
            agrees_at_float32=lambda: compare_partial(experiment, expected, theirs,
                                                      reference=reference, dtype="float32").agree),
        replay=replay,
        batches_differ=(yours.batches_differ, len(batch_steps)) if batch_steps else None,
    )


def compare_partial(
    experiment: Experiment,
    reference_trajectory: TrajectoryRecord,
    trajectory: Trajectory,
    *,
    reference: str = "manual",
    dtype: str = "float64",
) -> ExperimentVerdict:
    """``compare_trajectories`` of ``trajectory``'s values only, with the full comparison's rule.

    ``trajectory``'s values replace the reference's own in a copy of
    ``reference_trajectory`` (:func:`filled`), which is compared with
    ``reference_trajectory``: values not supplied agree with themselves, and every
    scale comes from the whole reference. A value with no place in the reference
    (another model's parameter, a step past its end) is a mismatch.

    Example:
      >>> ref = TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]},
      ...                        batch_loss=[8.0], train_loss=[8.0, 2.0])
      >>> verdict = compare_partial(REGISTRY["single-update"], ref, Trajectory(
      ...     train_loss={1: 2.5}))
      >>> verdict.agree, verdict.first_mismatch.quantity, verdict.max_abs_diff["train_loss"]
      (False, 'train_loss', 0.5)
    """
    return _compared(experiment, reference_trajectory, trajectory, reference=reference,
                     dtype=dtype)[0]


def _compared(experiment: Experiment, reference_trajectory: TrajectoryRecord,
              trajectory: Trajectory, *, reference: str, dtype: str
              ) -> tuple[ExperimentVerdict, bool]:
    """:func:`compare_partial`'s verdict, and whether the reference is finite throughout.

    The supplied values alone are compared (:func:`comparisons.compare.compare_supplied`:
    the same verdict, without the filled copy) wherever that applies; else the filled
    copy is (predictions, batches, finite differences, a value with no place in the
    reference, a reference that goes non-finite).
    """
    supplied = []
    for quantity, name, steps, values in trajectory.series_arrays():
        if quantity in INDEXED:
            supplied = None
            break
        supplied.append((_series_label(quantity, name), steps, values))
    verdict = None if supplied is None else compare_supplied(
        experiment, reference_trajectory, supplied, backend=YOURS, reference=reference,
        dtype=dtype)
    if verdict is not None:
        return verdict, True
    runs = {reference: reference_trajectory, YOURS: filled(reference_trajectory, trajectory)}
    return compare_trajectories(experiment, runs, reference=reference, dtype=dtype), False


def filled(reference: TrajectoryRecord, trajectory: Trajectory) -> TrajectoryRecord:
    """A copy of ``reference`` with ``trajectory``'s values in their places.

    A value beyond the reference's series (an unknown name, a step past the
    end) extends them, padded with NaN, so that the comparison reports it.

    Example:
      >>> ref = TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]},
      ...                        batch_loss=[8.0], train_loss=[8.0, 2.0])
      >>> filled(ref, Trajectory(grads={"w": [-4.0]})).grads
      {'w': [-4.0]}
    """
    named = {quantity: {name: _copied(values) for name, values in
                        getattr(reference, quantity).items()} for quantity in NAMED}
    losses = {quantity: None if getattr(reference, quantity) is None
              else _copied(getattr(reference, quantity))
              for quantity in ("batch_loss", "train_loss", "val_loss")}
    rows = {quantity: None if getattr(reference, quantity) is None
            else [list(row) for row in getattr(reference, quantity)] for quantity in INDEXED}
    by_index: dict[str, dict[int, tuple]] = {quantity: {} for quantity in INDEXED}
    for quantity, name, steps, values in trajectory.series_arrays():
        if quantity in INDEXED:
            by_index[quantity][int(name)] = (steps, values)
    for quantity, columns in by_index.items():
        block = _row_block(rows[quantity], columns)
        if block is not None:
            rows[quantity] = block
            by_index[quantity] = {}
    for quantity, name, steps, values in trajectory.series_arrays():
        if quantity in NAMED:
            named[quantity][name] = _placed(named[quantity].get(name), steps, values)
        elif quantity in INDEXED and not by_index[quantity]:
            continue
        elif quantity in INDEXED:
            table = rows[quantity] = rows[quantity] if rows[quantity] is not None else []
            for step, value in zip(steps.tolist(), values.tolist(), strict=True):
                _place(table, step, None, [])
                if table[step] is None:
                    table[step] = []
                _place(table[step], int(name), value,
                       math.nan if quantity == "predictions" else -1)
        else:
            losses[quantity] = _placed(losses[quantity], steps, values)
    return dataclasses.replace(reference, **named, **losses, **rows)


def coverage_of(trajectory: Trajectory, reference: TrajectoryRecord, *,
                dtype: str = "float64", reference_finite: bool = False) -> Coverage:
    """What ``trajectory`` holds of ``reference``'s series (see :class:`Coverage`).

    ``reference_finite``: the caller knows ``reference`` (in ``dtype``) holds no
    non-finite value, so no value lies past both runs' divergence (not looked for again).
    """
    series = _reference_series(reference)
    recorded = {label: len(values) for label, values in series.items()}
    supplied: dict[str, list[np.ndarray]] = {}
    counts: dict[str, int] = {}
    latest = -1
    shared: dict[int, tuple] = {}  # id of a steps array -> (it, its steps as one tuple)
    for quantity, name, steps, _ in trajectory.series_arrays():
        latest = max(latest, int(steps[-1]))
        if quantity not in INDEXED:  # one series a label
            if id(steps) not in shared:
                shared[id(steps)] = (steps, tuple(steps.tolist()))
            supplied[_series_label(quantity, name)] = shared[id(steps)][1]
            continue
        supplied.setdefault(quantity, []).append(steps)
        counts[quantity] = counts.get(quantity, 0) + len(steps)
    partial = {}
    for label in INDEXED:
        if label in supplied:
            supplied[label] = tuple(np.unique(np.concatenate(supplied[label])).tolist())
        if label in supplied and label in series:
            width = sum(len(series[label][k]) for k in supplied[label] if k < len(series[label]))
            if counts[label] < width:
                partial[label] = (counts[label], width)
    recorded_values = sum(
        sum(len(row) for row in series[label]) if label in INDEXED else count
        for label, count in recorded.items())
    after = None
    if not reference_finite:
        start = rounded_to(reference, dtype).first_nonfinite_step
        if start is not None:
            yours = rounded_to(filled(reference, trajectory), dtype).first_nonfinite_step
            after = None if yours is None else max(start, yours)
    beyond = after is not None and latest > after
    return Coverage(
        supplied={**{label: supplied[label] for label in recorded if label in supplied},
                  **{label: steps for label, steps in supplied.items() if label not in recorded}},
        recorded=recorded,
        values=len(trajectory),
        recorded_values=recorded_values,
        partial_rows=partial,
        nonfinite_from=after if beyond else None,
    )


def resolve_experiment(spec_or_experiment) -> Experiment:
    """The experiment itself, a TOML spec file's (``load_spec``) or a registry experiment.

    A spec file is read for a check (``from_trajectory=True``): it may leave the
    initial values and the batches to the trajectory (:func:`replay_of`).

    A string that names a registry experiment and no existing file is that
    experiment; any other string or path is a TOML spec file. A name close to a
    registry experiment's that is no file is refused with the suggestion.

    Example:
      >>> resolve_experiment("full-batch").steps
      20
      >>> resolve_experiment("full_batch")
      Traceback (most recent call last):
      ...
      functional_training.runs._spec_toml.SpecError: full_batch: no such spec file, nor a \
registry experiment; did you mean 'full-batch'?
    """
    if isinstance(spec_or_experiment, Experiment):
        return spec_or_experiment
    if isinstance(spec_or_experiment, (str, os.PathLike)):
        if (isinstance(spec_or_experiment, str) and spec_or_experiment in REGISTRY
                and not Path(spec_or_experiment).is_file()):
            return REGISTRY[spec_or_experiment]
        near = difflib.get_close_matches(str(spec_or_experiment), list(REGISTRY), n=1)
        if near and not Path(spec_or_experiment).exists():
            raise SpecError(f"{spec_or_experiment}: no such spec file, nor a registry "
                            f"experiment; did you mean {near[0]!r}?")
        return load_spec(spec_or_experiment, from_trajectory=True)
    raise TypeError("expected an Experiment, a spec file's path or a registry experiment's "
                    f"name, got {type(spec_or_experiment).__name__}")


def as_trajectory(trajectory) -> Trajectory:
    """A :class:`Trajectory` from one, a ``TRAJ``-shaped dict, a whole record or a file path."""
    if isinstance(trajectory, Trajectory):
        return trajectory
    if isinstance(trajectory, TrajectoryRecord):
        return Trajectory.from_record(trajectory)
    if isinstance(trajectory, Mapping):
        return Trajectory.from_dict(trajectory)
    if isinstance(trajectory, (str, os.PathLike)):
        return read_trajectory(trajectory)
    raise TypeError("expected a Trajectory, a dict of quantities, a TrajectoryRecord or a "
                    f"trajectory file's path, got {type(trajectory).__name__}")


# --- helpers -----------------------------------------------------------------------------------


def step_ranges(steps: Sequence[int] | range) -> str:
    """Sorted steps as runs: ``0..4, 7, 9..12``.

    Example:
      >>> step_ranges([0, 1, 2, 3, 4, 7, 9, 10, 11, 12]), step_ranges([]), step_ranges(range(1))
      ('0..4, 7, 9..12', 'none', '0')
    """
    runs = _runs(steps)
    return ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in runs) or "none"


def _runs(steps) -> list[list[int]]:
    runs: list[list[int]] = []
    for step in sorted(steps):
        if runs and step == runs[-1][1] + 1:
            runs[-1][1] = step
        else:
            runs.append([step, step])
    return runs


def _series_label(quantity: str, name: str) -> str:
    """The comparator's series of a value: ``params.w``, ``predictions`` (not ``[2]``)."""
    if quantity in NAMED:
        return f"{quantity}.{name}"
    return quantity


def _reference_series(reference: TrajectoryRecord) -> dict[str, list]:
    series = dict(reference.series())
    if reference.batches is not None:
        series["batches"] = reference.batches
    return series


def _kinds(recorded: Mapping[str, int]) -> dict[str, list[str]]:
    """Series grouped by kind: ``params`` -> ``[params.w, params.b]``; each extras key alone."""
    kinds: dict[str, list[str]] = {}
    for label in recorded:
        kind = label.split(".")[0] if label.split(".")[0] in ("params", "grads") else label
        kinds.setdefault(kind, []).append(label)
    return kinds


def _listing(names: Sequence[str], most: int = 4) -> str:
    """``w, b``; ``w[0], w[1], w[2], w[3] and 8 more``."""
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


def _few(names: Sequence[str], most: int = 4) -> str:
    """``w, b``; ``all 12`` for more than ``most`` names."""
    return ", ".join(names) if len(names) <= most else f"all {len(names)}"


def _copied(values):
    """A series' own copy: a list's, or a NumPy array as it is (never written in place)."""
    return values if isinstance(values, np.ndarray) else list(values)


def _placed(series, steps, values):
    """``series`` (a list, an array or ``None``) with ``values`` at ``steps``, padded with NaN.

    A list stays a list of floats, an array an array (a large run's series).
    """
    length = 0 if series is None else len(series)
    if len(steps) == length and length and int(steps[-1]) == length - 1:  # every step: yours
        return values if isinstance(series, np.ndarray) else values.tolist()
    base = np.asarray([] if series is None else series, dtype=np.float64)
    out = np.full(max(len(base), int(steps[-1]) + 1), math.nan)
    out[:len(base)] = base
    out[steps] = values
    return out if isinstance(series, np.ndarray) else out.tolist()


def _row_block(rows: list | None, columns: dict[int, tuple]) -> list | None:
    """Reference rows of one width with every supplied column placed at once, or ``None``.

    ``None`` (place value by value) when there is nothing to place, or the rows or the
    supplied values reach past a rectangle: ragged rows, a step or index beyond them.
    """
    if not columns or not rows or len({len(row) for row in rows}) != 1:
        return None
    width = len(rows[0])
    if not width or max(columns) >= width or any(
            len(steps) and int(steps[-1]) >= len(rows) for steps, _ in columns.values()):
        return None
    block = np.array(rows)
    for index, (steps, values) in columns.items():
        block[steps, index] = values
    return block.tolist()


def _place(values: list, index: int, value, pad) -> None:
    """``values[index] = value``, padding with ``pad`` (``value`` ``None``: only pad)."""
    while len(values) <= index:
        values.append(pad)
    if value is not None:
        values[index] = value


def _diagnosis_json(diagnosis: Diagnosis) -> dict:
    return {"fault": diagnosis.fault, "bug": diagnosis.bug, "step": diagnosis.step,
            "quantity": diagnosis.quantity, "named": diagnosis.named,
            "confidence": diagnosis.confidence, "evidence": diagnosis.evidence}

