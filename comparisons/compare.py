"""Trajectories -> an agreement verdict: every quantity, every step, one tolerance policy.

Each backend's :class:`functional_training.TrajectoryRecord` is compared with the
reference backend's (default ``manual``, the lesson's own formulas), series by
series (``params.w``, ``grads.b``, ``batch_loss``, ``train_loss``, ``val_loss``,
``predictions``, ``extras.*``; the batch order too) and step by step. The rule
is :func:`functional_training.tolerance`'s, the project's one precision policy
(its docstring and ``docs/design.md`` give the reasoning). A value ``a`` agrees
with the reference value ``r`` at step ``k`` when

    |a - r| <= tol * (1 + max(|r|, s_k)),    tol = tolerance(dtype, steps[, b2])

(``b2`` for Adam and AdamW: their float32 bias correction loses digits), and
where ``s_k``, the value's *scale*, is the largest finite ``|reference value|``
its group has held at steps ``0..k``; a group is every parameter, every
gradient, every prediction, or one loss series (:func:`_scales`). Rounding
errors are made relative to the values a step computes and a stable iteration
carries them forward, so the scale is what they are relative to: a gradient
shrinking to 0 near a minimum still carries the rounding of the per-example
terms that cancelled, a bias that stays small while the weight grows carries
the rounding of the weight. Both same non-finite values (both NaN, or the same
infinity) agree.

Non-finite values are data. Once the reference and a backend have both gone
non-finite (each at its first step holding an inf or NaN in any series,
``TrajectoryRecord.first_nonfinite_step``), they agree from the later of the
two steps ``K`` on: at ``K`` only the values finite on both sides are
compared, and later steps are not compared at all (the batch order still is).
Past an overflow the values are rounding artefacts near the dtype's maximum:
whether a sum of per-example terms overflows to inf or stays just below it
depends on the order of operations, which differs between correct backends
(observed: diverging momentum runs that overflow at the same step on every
backend, and a few hundred steps later hold -1.755e308 on one and -inf on
another).

The overflow step itself may shift. A value that is non-finite on one side
while the other side holds a finite value of the same sign at or past the
*overflow edge*, ``functional_training.overflow_edge(dtype, n)`` = the dtype's
largest value / (4 n) with ``n`` the most examples a loss averages over, is
not compared: a correct implementation computes a mean loss through the sum
of the ``n`` squared errors, which overflows there while the exact mean is
still finite (observed: six shipments, SGD past the stability limit, float32:
torch's ``batch_loss`` is inf at step 71, as an independent NumPy float32 loop
gives, while the float64 reference rounded to float32 is 1.03e38 there and
overflows at step 73). A backend that goes non-finite where the other side is
finite and below the edge is a mismatch.

In a run that is not float64 (``--dtype float32``), every trajectory is first
rounded to the run's dtype (:func:`rounded_to`) and the rounded values are
compared. The ``manual`` reference and the ``engine`` compute in Python floats
(float64) whatever the dtype; the float32 backends cannot hold a value beyond
float32's finite range (3.4e38) and record ``inf`` there. Rounded, a reference
value beyond the dtype's range is an overflow (+-inf) like the backend's; a
genuinely different float32 trajectory still differs from the rounded
reference. Rounding float32 values to float32 changes nothing.

Example:
  >>> from comparisons.experiments import REGISTRY
  >>> from functional_training import TrajectoryRecord
  >>> def one_step(grad_w):
  ...     return TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [grad_w]},
  ...                       batch_loss=[8.0], train_loss=[8.0, 2.0])
  >>> verdict = compare_trajectories(
  ...     REGISTRY["single-update"], {"manual": one_step(-8.0), "broken": one_step(-4.0)})
  >>> verdict.agree, verdict.first_mismatch.step, verdict.first_mismatch.quantity
  (False, 0, 'grads.w')
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

import comparisons.backends
from comparisons.backends import BackendUnavailable, backend_names
from comparisons.experiments import Experiment
from functional_training import (
    TrajectoryRecord,
    json_float,
    optimizer_hyperparameters,
    overflow_edge,
    tolerance,
)

__all__ = [
    "BackendVerdict",
    "ExperimentVerdict",
    "Mismatch",
    "compare_supplied",
    "compare_trajectories",
    "rounded_to",
    "run_and_compare",
    "values_agree",
]


@dataclass(frozen=True)
class Mismatch:
    """Where a backend first leaves the reference.

    Attributes:
      backend: the backend that differs.
      step: the step index ``k`` of the series (``params[k]``, ``grads[k]``, ...).
      quantity: the series label, e.g. ``grads.w``, ``predictions[2]``, ``batches``.
      expected: the reference backend's value (``None`` when it has none there).
      actual: the backend's value (``None`` when it has none there).
    """

    backend: str
    step: int
    quantity: str
    expected: float | list[int] | None
    actual: float | list[int] | None

    def describe(self, experiment: str, reference: str) -> str:
        """One line naming experiment, backend, step, quantity and both values.

        Example:
          >>> Mismatch("torch", 3, "grads.w", -1.0, -1.5).describe("five-steps", "manual")
          'five-steps: torch differs from manual at step 3, grads.w: expected -1.0, got -1.5'
        """
        return (
            f"{experiment}: {self.backend} differs from {reference} at step {self.step}, "
            f"{self.quantity}: expected {_show(self.expected)}, got {_show(self.actual)}"
        )

    def to_json(self) -> dict:
        """The report's ``first_mismatch`` object (non-finite floats as strings)."""
        return {
            "backend": self.backend,
            "step": self.step,
            "quantity": self.quantity,
            "expected": _json_value(self.expected),
            "actual": _json_value(self.actual),
        }


@dataclass(frozen=True)
class BackendVerdict:
    """One backend against the reference.

    Attributes:
      backend: the backend's name.
      agree: every value of every series within tolerance (or the same non-finite value).
      max_abs_diff: per series label (``predictions`` and ``extras.*`` aggregated per
        label), the largest ``|a - r|`` over steps; 0 where both are the same
        non-finite value, ``inf`` where only one is finite or a value is missing.
        The batch order is not a number: it has no entry here (see ``batches_differ``).
      first_mismatch: the earliest mismatch (by step; within a step the batch
        first, since a different batch explains everything else there; then
        series order), or ``None``.
      batches_differ: how many steps' batches differ from the reference's
        (index lists compared as they are: equal or not).
    """

    backend: str
    agree: bool
    max_abs_diff: dict[str, float]
    first_mismatch: Mismatch | None
    batches_differ: int = 0

    @property
    def largest_diff(self) -> float:
        """The largest difference over every series (0.0 when there are none)."""
        return max(self.max_abs_diff.values(), default=0.0)


@dataclass(frozen=True)
class ExperimentVerdict:
    """Every compared backend against the reference, for one experiment.

    Attributes:
      experiment: the experiment's name.
      agree: every compared backend agrees with the reference.
      reference: the reference backend's name.
      dtype: the precision the runs were made in.
      tolerance: rtol = atol used (from :func:`functional_training.tolerance`).
      max_abs_diff: per series label, the largest difference over all backends.
      first_mismatch: the earliest mismatch over all backends (by step, then
        backend order), or ``None``.
      backends: the per-backend verdicts (the reference itself excluded).
      unavailable: backends that could not run here, with an install hint.

    ``batches_differ`` is the most steps' batches any backend has differing.
    """

    experiment: str
    agree: bool
    reference: str
    dtype: str
    tolerance: float
    max_abs_diff: dict[str, float]
    first_mismatch: Mismatch | None
    backends: dict[str, BackendVerdict] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    @property
    def largest_diff(self) -> float:
        """The largest difference over every series and backend (0.0 when none)."""
        return max(self.max_abs_diff.values(), default=0.0)

    @property
    def batches_differ(self) -> int:
        """The most steps whose batches differ from the reference's, over the backends."""
        return max((b.batches_differ for b in self.backends.values()), default=0)

    def describe(self) -> str:
        """One line: agreement, or the first mismatch with both values."""
        if self.first_mismatch is not None:
            return self.first_mismatch.describe(self.experiment, self.reference)
        compared = ", ".join(self.backends) or "no other backend"
        return (
            f"{self.experiment}: {compared} agree with {self.reference} "
            f"(max |diff| {self.largest_diff:.1e}, tolerance {self.tolerance:.0e})"
        )


def values_agree(expected: float, actual: float, tol: float, *,
                 scale: float = 0.0) -> tuple[bool, float]:
    """Whether ``actual`` agrees with the reference value ``expected``, and ``|actual - expected|``.

    Finite values agree when ``|actual - expected| <= tol + tol * max(|expected|, scale)``,
    ``scale`` the largest magnitude the value's group has held so far (see the
    module docstring); non-finite values agree only with the same non-finite
    value (difference 0).

    Example:
      >>> values_agree(1.0, 1.0 + 1e-13, 1e-12)
      (True, 9.992007221626409e-14)
      >>> values_agree(float("nan"), float("nan"), 1e-12), values_agree(1.0, float("inf"), 1e-12)
      ((True, 0.0), (False, inf))
      >>> values_agree(0.0, 1e-9, 1e-12), values_agree(0.0, 1e-9, 1e-12, scale=1e4)
      ((False, 1e-09), (True, 1e-09))
    """
    if not (math.isfinite(expected) and math.isfinite(actual)):
        same = expected == actual or (math.isnan(expected) and math.isnan(actual))
        return same, 0.0 if same else math.inf
    diff = abs(actual - expected)
    return diff <= tol + tol * max(abs(expected), scale), diff


def rounded_to(trajectory: TrajectoryRecord, dtype: str) -> TrajectoryRecord:
    """``trajectory`` with every float rounded to ``dtype``, back as Python floats.

    A value beyond ``dtype``'s finite range becomes +-inf (an overflow, as a
    backend computing in ``dtype`` records it); NaN stays NaN. float64 returns
    ``trajectory`` itself.

    Example:
      >>> run = TrajectoryRecord(params={"w": [0.1, 1e39]}, grads={"w": [-1e39]},
      ...                  batch_loss=[2.0], train_loss=[2.0, float("nan")])
      >>> small = rounded_to(run, "float32")
      >>> small.params["w"], small.grads["w"], small.first_nonfinite_step
      ([0.10000000149011612, inf], [-inf], 0)
    """
    if np.dtype(dtype) == np.float64:
        return trajectory

    def rounded(values):
        with np.errstate(over="ignore"):  # overflow to inf is the point, not a warning
            out = np.asarray(values, dtype=np.float64).astype(dtype).astype(np.float64)
        return out if isinstance(values, np.ndarray) else out.tolist()  # a large run's arrays

    def each(series: Mapping[str, list[float]]) -> dict[str, list[float]]:
        return {name: rounded(values) for name, values in series.items()}

    return dataclasses.replace(
        trajectory,
        params=each(trajectory.params),
        grads=each(trajectory.grads),
        batch_loss=rounded(trajectory.batch_loss),
        train_loss=rounded(trajectory.train_loss),
        val_loss=None if trajectory.val_loss is None else rounded(trajectory.val_loss),
        predictions=None if trajectory.predictions is None
        else [rounded(row) for row in trajectory.predictions],
        extras=each(trajectory.extras),
    )


def compare_trajectories(
    experiment: Experiment,
    trajectories: Mapping[str, TrajectoryRecord],
    *,
    reference: str = "manual",
    dtype: str = "float64",
    unavailable: Mapping[str, str] | None = None,
    tol: float | None = None,
) -> ExperimentVerdict:
    """Compare every trajectory with the reference backend's, step by step.

    Args:
      experiment: the experiment all trajectories ran (its step count sets the
        float32 tolerance).
      trajectories: backend name -> trajectory; must include ``reference``.
      reference: the backend every other one is compared with.
      dtype: the precision the runs were made in (``float64`` or ``float32``);
        outside float64 every trajectory is compared rounded to it (:func:`rounded_to`).
      unavailable: backends that could not run, name -> install hint (recorded only).
      tol: rtol = atol to use instead of :func:`functional_training.tolerance`'s, for a
        caller that has measured how much its run amplifies rounding (the learning-rate
        finder's unstable rates: :func:`comparisons.figures.lr_finder.rounding_growth`).

    Returns:
      An :class:`ExperimentVerdict`.

    Raises:
      ValueError: ``reference`` has no trajectory.
    """
    if reference not in trajectories:
        raise ValueError(
            f"{experiment.name}: reference backend {reference!r} has no trajectory "
            f"(have: {', '.join(trajectories) or 'none'})"
        )
    if tol is None:
        tol = tolerance(dtype, experiment.steps, b2=_adam_b2(experiment))
    edge = overflow_edge(dtype, _examples(experiment))
    expected = rounded_to(trajectories[reference], dtype)
    verdicts = {
        name: _compare_one(name, expected, rounded_to(actual, dtype), tol, edge,
                           experiment.fd_epsilon)
        for name, actual in trajectories.items()
        if name != reference
    }
    overall: dict[str, float] = {}
    for verdict in verdicts.values():
        for label, diff in verdict.max_abs_diff.items():
            overall[label] = max(overall.get(label, 0.0), diff)
    mismatches = [v.first_mismatch for v in verdicts.values() if v.first_mismatch is not None]
    first = min(mismatches, key=lambda m: m.step, default=None)  # min is stable: backend order
    return ExperimentVerdict(
        experiment=experiment.name,
        agree=first is None,
        reference=reference,
        dtype=str(dtype),
        tolerance=tol,
        max_abs_diff=overall,
        first_mismatch=first,
        backends=verdicts,
        unavailable=dict(unavailable or {}),
    )


def compare_supplied(
    experiment: Experiment,
    reference_trajectory: TrajectoryRecord,
    supplied: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    backend: str,
    reference: str = "manual",
    dtype: str = "float64",
) -> ExperimentVerdict | None:
    """:func:`compare_trajectories` of a run that holds ``supplied`` and the reference's own
    values everywhere else, computed on the supplied values alone; ``None`` where that
    shortcut does not apply.

    The same verdict as comparing ``{reference: R, backend: F}``, ``F`` being ``R`` with
    each supplied value in its place (``comparisons.check.filled``), without building
    ``F`` or comparing ``R`` with itself value by value: a large model's check supplies
    parameters every tenth step and compares 4 million values, not the 80 million the
    reference holds. Where ``R`` (rounded to ``dtype``) is finite everywhere, no step
    is past a divergence, so a value not supplied is compared with itself (difference 0,
    agrees) and each supplied value meets exactly the rule it meets in the full
    comparison: the same tolerance, its group's scale from the whole of ``R``, the
    same overflow edge (:func:`_agreement`, the one rule on arrays).

    Args:
      experiment: the experiment ``R`` ran (its steps set the tolerance).
      reference_trajectory: ``R``.
      supplied: ``(label, steps, values)``: a series label of ``R`` (``params.w``,
        ``batch_loss``, ``extras.train_accuracy``), increasing steps within it, the values.
      backend: the other run's name (its mismatch's ``backend``).
      reference: ``R``'s backend name.
      dtype: as :func:`compare_trajectories`' (both sides rounded to it).

    Returns:
      The :class:`ExperimentVerdict`, or ``None`` (compare the filled run instead) when
      ``R`` holds a non-finite value in ``dtype``, or a supplied series is not one of
      ``R``'s numeric series (``predictions``, ``batches``, finite differences, a name
      or a step ``R`` lacks).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> ref = TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]},
      ...                        batch_loss=[8.0], train_loss=[8.0, 2.0])
      >>> verdict = compare_supplied(REGISTRY["single-update"], ref,
      ...                            [("train_loss", np.array([1]), np.array([2.5]))],
      ...                            backend="yours")
      >>> verdict.first_mismatch.describe("single-update", "manual")
      'single-update: yours differs from manual at step 1, train_loss: expected 2.0, got 2.5'
    """
    if reference_trajectory.record_steps is not None:  # non-finite between records?
        return None
    blocks = _group_blocks(reference_trajectory, dtype)
    if blocks is None:
        return None
    by_steps: dict[tuple, list] = {}  # the supplied series of one group at the same steps
    columns: dict[str, dict[str, int]] = {}  # group -> a series' name -> its column
    known: dict[int, tuple] = {}  # id of a steps object -> (it, as int64, its bytes)
    for label, steps, values in supplied:
        group, name = _group_and_name(label)
        held = blocks.get(group)
        if held is None or group == "predictions" or group.startswith("extras.numeric."):
            return None
        if held.names is not None:
            column = columns.get(group) or columns.setdefault(
                group, {n: j for j, n in enumerate(held.names)})
            if name not in column:
                return None
        if id(steps) not in known:
            array = np.asarray(steps, dtype=np.int64)
            known[id(steps)] = (steps, array, array.tobytes())
        _, steps, key = known[id(steps)]
        if not len(steps):
            continue
        if steps[-1] >= len(held.block):
            return None
        by_steps.setdefault((group, key), []).append((name, steps, values))
    tol = tolerance(dtype, experiment.steps, b2=_adam_b2(experiment))
    edge = overflow_edge(dtype, _examples(experiment))
    max_diff = {}
    for held in blocks.values():  # the values not supplied: the reference's own, diff 0
        if len(held.block):
            max_diff.update(dict.fromkeys(held.labels, 0.0))
    bad: list[tuple[int, str, float, float]] = []  # (step, label, r, a) of each series' first
    for (group, _), series in by_steps.items():
        held = blocks[group]
        steps = series[0][1]
        actual = _rounded_array(np.stack([np.asarray(v, dtype=np.float64)
                                          for _, _, v in series], axis=1), dtype)
        if held.names is None:
            r, labels = held.block[steps][:, None], held.labels
        else:
            at = [columns[group][name] for name, _, _ in series]
            r, labels = held.block[np.ix_(steps, at)], [held.labels[j] for j in at]
        scale = held.scale()[steps][:, None]
        diff, ok, kept = _agreement(r, actual, scale, tol, edge, None)
        any_kept = kept.any(axis=0)
        largest = np.where(kept, diff, 0.0).max(axis=0)  # a difference is >= 0
        if len(steps) < len(held.block) or any_kept.all():
            max_diff.update(zip(labels, largest.tolist(), strict=True))
        else:  # every value supplied, and none of some series compared: no difference
            for j, label in enumerate(labels):
                if any_kept[j]:
                    max_diff[label] = float(largest[j])
                else:
                    del max_diff[label]
        wrong = kept & ~ok
        first = np.argmax(wrong, axis=0)
        bad += [(int(steps[first[j]]), labels[j], float(r[first[j], j]),
                 float(actual[first[j], j])) for j in np.flatnonzero(wrong.any(axis=0)).tolist()]
    mismatch = None
    if bad:
        step = min(k for k, _, _, _ in bad)
        position = {label: i for i, label in enumerate(max_diff)}  # the series' order
        _, label, r, a = min((b for b in bad if b[0] == step), key=lambda b: position[b[1]])
        mismatch = Mismatch(backend, step, label, r, a)
    verdict = BackendVerdict(backend, mismatch is None, max_diff, mismatch, 0)
    return ExperimentVerdict(
        experiment=experiment.name, agree=mismatch is None, reference=reference,
        dtype=str(dtype), tolerance=tol, max_abs_diff=dict(max_diff), first_mismatch=mismatch,
        backends={backend: verdict})


def run_and_compare(
    experiment: Experiment,
    *,
    backends: Sequence[str] | None = None,
    reference: str = "manual",
    dtype: str = "float64",
    on_backend: Callable[[str], None] | None = None,
) -> tuple[dict[str, TrajectoryRecord], ExperimentVerdict]:
    """Run ``experiment`` on each backend (the reference always included) and compare.

    Backends that cannot run here (``BackendUnavailable``: e.g. torch not
    installed) are recorded in ``verdict.unavailable`` with their install hint
    instead of failing the run.

    Args:
      experiment: the experiment to run.
      backends: backend names; default every backend in ``backend_names()`` (plug-ins too).
      reference: the backend the others are compared with.
      dtype: ``float64`` (verification) or ``float32``.
      on_backend: called with each backend's name just before it runs (progress).

    Returns:
      ``(trajectories by backend, verdict)``.

    Raises:
      comparisons.backends.BackendUnavailable: the reference backend cannot run.
      ValueError: an unknown backend name, or input the backends refuse.
    """
    names = list(backend_names() if backends is None else backends)
    if reference not in names:
        names.insert(0, reference)
    trajectories: dict[str, TrajectoryRecord] = {}
    unavailable: dict[str, str] = {}
    for name in names:
        if on_backend is not None:
            on_backend(name)
        try:
            trajectories[name] = comparisons.backends.get_backend(name).run(experiment,
                                                                           dtype=dtype)
        except BackendUnavailable as err:
            if name == reference:
                raise
            unavailable[name] = str(err)
    verdict = compare_trajectories(
        experiment, trajectories, reference=reference, dtype=dtype, unavailable=unavailable
    )
    return trajectories, verdict


# --- one backend against the reference ------------------------------------------------


def _compare_one(backend: str, expected: TrajectoryRecord, actual: TrajectoryRecord, tol: float,
                 edge: float = math.inf, fd_epsilon: float | None = None):
    """One backend against the reference, series by series.

    The order is :func:`functional_training.aligned_values`' (series, then step, then a
    prediction's index), and the first mismatch the earliest by step, then that order.
    A series whose two sides hold the same number of values (rows of one width, for
    predictions) is compared as whole NumPy arrays (:func:`_compare_arrays`); any
    other (missing on one side, of another length) value by value, with the same rule
    (:func:`_compare_values`). ``batches`` are index lists, equal or not
    (:func:`_compare_batches`): counted, never a difference, and first in their step.
    """
    found: dict[int, tuple] = {}  # series position -> (max |diff| or None, first bad or None)
    differing_batches = 0
    # Both sides non-finite from here on: compare nothing later (see the module docstring).
    starts = (expected.first_nonfinite_step, actual.first_nonfinite_step)
    diverged = None if None in starts else max(starts)
    scales = _scales(expected, fd_epsilon)
    one, two = _labelled(expected), _labelled(actual)
    labels = [*one, *(k for k in two if k not in one)]
    plain: dict[int, list[int]] = {}  # length -> positions of plain series of that length
    for position, label in enumerate(labels):
        r_values, a_values = one.get(label), two.get(label)
        if (label not in ("batches", "predictions") and r_values is not None
                and a_values is not None and len(r_values) == len(a_values) > 0):
            plain.setdefault(len(r_values), []).append(position)
            continue
        if label == "batches":  # index lists: equal or not, no difference
            differing_batches, bad = _compare_batches(r_values or [], a_values or [])
            found[position] = (None, bad)
            continue
        arrays = _same_shape(r_values, a_values)
        if arrays is not None:
            found[position] = _compare_arrays(
                *arrays, np.asarray(scales[label], dtype=np.float64), tol, edge, diverged)
        else:
            found[position] = _compare_values(label, r_values or [], a_values or [],
                                              scales.get(label), tol, edge, diverged)
    for length, positions in plain.items():
        names = [labels[p] for p in positions]
        block = _compare_block(
            np.stack([np.asarray(one[n], dtype=np.float64) for n in names], axis=1),
            np.stack([np.asarray(two[n], dtype=np.float64) for n in names], axis=1),
            np.stack([np.asarray(scales[n], dtype=np.float64)[:length] for n in names], axis=1),
            tol, edge, diverged)
        found.update(zip(positions, block, strict=True))
    max_diff: dict[str, float] = {}
    first: tuple | None = None  # (step, series position, index in the step, Mismatch)
    for position, label in enumerate(labels):
        diff, bad = found[position]
        if diff is not None:
            max_diff[label] = diff
        # within a step the batch comes first: a different batch explains the rest there
        rank = -1 if label == "batches" else position
        if bad is not None and (first is None or (bad[0], rank, bad[1]) < first[:3]):
            k, index, r, a = bad
            quantity = f"predictions[{index}]" if label == "predictions" else label
            first = (k, rank, index, Mismatch(backend, k, quantity, r, a))
    return BackendVerdict(backend, first is None, max_diff, None if first is None else first[3],
                          differing_batches)


def _compare_batches(reference, actual) -> tuple[int, tuple | None]:
    """``(steps whose batches differ, (step, 0, reference's, actual's) at the first or None)``.

    Example:
      >>> _compare_batches([[0, 1], [2, 3]], [[0, 1], [3, 2]])
      (1, (1, 0, [2, 3], [3, 2]))
    """
    differ, first = 0, None
    for k in range(max(len(reference), len(actual))):
        r = list(reference[k]) if k < len(reference) and reference[k] is not None else None
        a = list(actual[k]) if k < len(actual) and actual[k] is not None else None
        if r != a:
            differ += 1
            first = first or (k, 0, r, a)
    return differ, first


def _labelled(trajectory: TrajectoryRecord) -> dict[str, object]:
    """Every compared series by label (``batches`` last), as ``aligned_values`` walks them."""
    series = dict(trajectory.series())
    if trajectory.batches is not None:
        series["batches"] = trajectory.batches
    return series


def _same_shape(reference, actual) -> tuple[np.ndarray, np.ndarray] | None:
    """Both series as float64 arrays of one shape (predictions: ``(steps, outputs)``), or None."""
    if reference is None or actual is None or len(reference) != len(actual):
        return None
    try:
        r = np.asarray(reference, dtype=np.float64)
        a = np.asarray(actual, dtype=np.float64)
    except (ValueError, TypeError):  # ragged prediction rows
        return None
    if r.shape != a.shape or r.ndim not in (1, 2) or (r.ndim == 2 and r.shape[1] == 0):
        return None
    return r, a


def _agreement(r: np.ndarray, a: np.ndarray, scale: np.ndarray, tol: float, edge: float,
               diverged: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`values_agree` over arrays whose rows are steps: ``(|diff|, agrees, compared)``.

    ``compared`` is False where the module docstring's rules skip a value (both runs
    non-finite from ``diverged`` on; an overflow shift past ``edge``).
    """
    steps = np.arange(len(r)).reshape(-1, *([1] * (r.ndim - 1)))
    finite_r, finite_a = np.isfinite(r), np.isfinite(a)
    both = finite_r & finite_a
    skip = np.zeros(r.shape, dtype=bool)
    if diverged is not None:
        skip |= (steps > diverged) | ((steps == diverged) & ~both)
    with np.errstate(invalid="ignore", over="ignore"):
        value, other = np.where(finite_r, r, a), np.where(finite_r, a, r)
        skip |= (finite_r != finite_a) & (np.abs(value) >= edge) & (
            np.isnan(other) | ((other > 0) == (value > 0)))
        diff = np.abs(a - r)
        same = (r == a) | (np.isnan(r) & np.isnan(a))
        ok = np.where(both, diff <= tol + tol * np.maximum(np.abs(r), scale), same)
        diff = np.where(both, diff, np.where(same, 0.0, np.inf))
    return diff, ok, ~skip


def _compare_arrays(r: np.ndarray, a: np.ndarray, scale: np.ndarray, tol: float, edge: float,
                    diverged: int | None):
    """One series as whole arrays (predictions: rows are steps, columns the outputs).

    Returns ``(max |diff| or None when every value was skipped, (step, index, r, a) of the
    first disagreeing value or None)``.
    """
    scale = scale[:len(r)].reshape(-1, *([1] * (r.ndim - 1)))
    diff, ok, kept = _agreement(r, a, scale, tol, edge, diverged)
    if not kept.any():
        return None, None
    largest = float(diff[kept].max())
    bad = kept & ~ok
    if not bad.any():
        return largest, None
    at = int(np.argmax(bad.reshape(-1)))  # row-major: the earliest step, then index
    k, index = divmod(at, r.shape[1]) if r.ndim == 2 else (at, 0)
    where = (k, index) if r.ndim == 2 else (k,)
    return largest, (k, index, float(r[where]), float(a[where]))


def _compare_block(r: np.ndarray, a: np.ndarray, scale: np.ndarray, tol: float, edge: float,
                   diverged: int | None) -> list[tuple]:
    """Many series of one length at once (columns of ``(steps, series)`` blocks).

    Returns :func:`_compare_arrays`' result for each column.
    """
    diff, ok, kept = _agreement(r, a, scale, tol, edge, diverged)
    any_kept = kept.any(axis=0)
    largest = np.where(kept, diff, -np.inf).max(axis=0)
    bad = kept & ~ok
    any_bad = bad.any(axis=0)
    first = np.argmax(bad, axis=0)
    out = [(diff_j if kept_j else None, None)
           for diff_j, kept_j in zip(largest.tolist(), any_kept.tolist(), strict=True)]
    for j in np.flatnonzero(any_bad).tolist():
        k = int(first[j])
        out[j] = (out[j][0], (k, 0, float(r[k, j]), float(a[k, j])))
    return out


def _compare_values(label: str, r_values, a_values, scale, tol: float, edge: float,
                    diverged: int | None):
    """:func:`_compare_arrays`' result for one series, value by value (any shapes)."""
    largest, first = None, None
    for k in range(max(len(r_values), len(a_values))):
        r = r_values[k] if k < len(r_values) else None
        a = a_values[k] if k < len(a_values) else None
        if label == "predictions":
            r_row, a_row = r or [], a or []
            pairs = [(i, r_row[i] if i < len(r_row) else None, a_row[i] if i < len(a_row)
                      else None) for i in range(max(len(r_row), len(a_row), 1))]
        else:
            pairs = [(0, r, a)]
        for index, r_value, a_value in pairs:
            if r_value is None or a_value is None:
                ok, diff = False, math.inf
            elif diverged is not None and (k > diverged or (k == diverged and not (
                    math.isfinite(r_value) and math.isfinite(a_value)))):
                continue
            elif _overflow_shift(float(r_value), float(a_value), edge):
                continue
            else:
                ok, diff = values_agree(float(r_value), float(a_value), tol,
                                        scale=float(scale[k]))
            largest = diff if largest is None else max(largest, diff)
            if not ok and first is None:
                first = (k, index, _plain(r_value), _plain(a_value))
    return largest, first


def _plain(value):
    """A value as a mismatch shows it: a Python float, a list of indices, or None."""
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, (tuple, np.ndarray)):
        return list(value)
    return float(value)


def _overflow_shift(expected: float, actual: float, edge: float) -> bool:
    """One side non-finite where the other is finite at or past the overflow edge, same sign.

    Example:
      >>> _overflow_shift(1.0e38, math.inf, 1.0e37), _overflow_shift(1.0e36, math.inf, 1.0e37)
      (True, False)
      >>> _overflow_shift(-1.0e38, math.inf, 1.0e37), _overflow_shift(math.nan, 2e37, 1.0e37)
      (False, True)
    """
    if math.isfinite(expected) == math.isfinite(actual):
        return False
    value, other = (expected, actual) if math.isfinite(expected) else (actual, expected)
    return abs(value) >= edge and (math.isnan(other) or (other > 0) == (value > 0))


def _group(label: str) -> str:
    """The values that share one scale: every parameter, every gradient, every prediction."""
    head = label.split(".")[0]
    return head if head in ("params", "grads", "predictions") else label


def _scales(reference: TrajectoryRecord, fd_epsilon: float | None = None
            ) -> dict[str, list[float]]:
    """Per series label and step k, the largest finite ``|value|`` of its group at steps <= k.

    Finite differences ``extras.numeric.*`` (a gradient check) are differences of
    two losses divided by ``2 eps``: each loss carries rounding relative to
    itself, so their scale is ``|batch_loss[k]| / (2 eps)`` (or their own, if
    larger). Two correct implementations' forwards round differently by an ulp
    or two of the loss, which the division by ``2 eps`` turns into ~1e-11 for a
    loss of order 1 at ``eps = 1e-5``; the lesson's line computes its losses
    exactly, a network's ``tanh`` and ``exp`` do not.
    """
    per_step: dict[str, np.ndarray] = {}
    labels = []
    for group, series in _grouped(reference):
        largest = per_step.get(group, np.zeros(0))
        for values in series:
            magnitude = _finite_magnitude(values)
            if len(magnitude) > len(largest):
                largest = np.concatenate([largest, np.zeros(len(magnitude) - len(largest))])
            largest[:len(magnitude)] = np.maximum(largest[:len(magnitude)], magnitude)
        per_step[group] = largest
    labels = [label for label, _ in reference.series()]
    if fd_epsilon:
        batch_loss = np.asarray(reference.batch_loss, dtype=np.float64)
        with np.errstate(over="ignore"):
            losses = np.where(np.isfinite(batch_loss), np.abs(batch_loss) / (2 * fd_epsilon), 0.0)
        for group, values in per_step.items():
            if group.startswith("extras.numeric."):
                n = min(len(values), len(losses))
                per_step[group] = np.maximum(values[:n], losses[:n])
    running = {group: np.maximum.accumulate(values) if len(values) else values
               for group, values in per_step.items()}
    return {label: running[_group(label)] for label in labels}


def _grouped(reference: TrajectoryRecord) -> list[tuple[str, list]]:
    """The reference's series by scale group (:func:`_group`), in the series' order.

    Many series of one length in a group (a large model's parameters) are stacked into
    one 2-D array, rows being steps, so that their magnitudes are taken at once.
    """
    groups: dict[str, list] = {}
    for label, values in reference.series():
        groups.setdefault(_group(label), []).append(values)
    out = []
    for group, series in groups.items():
        if group != "predictions" and len(series) > 1 and len({len(v) for v in series}) == 1:
            series = [np.stack([np.asarray(v, dtype=np.float64) for v in series], axis=1)]
        out.append((group, series))
    return out


def _finite_magnitude(values) -> np.ndarray:
    """Per step, the largest finite ``|value|`` (0 where none): a series, rows, or a 2-D block."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (ValueError, TypeError):  # ragged prediction rows
        return np.asarray([_finite_magnitude(row).max(initial=0.0) if len(row) else 0.0
                           for row in values], dtype=np.float64)
    if array.ndim == 1:
        return np.where(np.isfinite(array), np.abs(array), 0.0)
    if array.size == 0:
        return np.zeros(len(array))
    return np.where(np.isfinite(array), np.abs(array), 0.0).max(axis=1)


class _GroupBlock(NamedTuple):
    """One scale group of the reference (:func:`_group`), its series as one array.

    ``block`` is ``(steps, series)`` (``names``: the series' names, column by column) or
    one 1-D series (``names`` ``None``); ``labels`` the series' labels, in the record's order.
    """

    labels: list[str]
    block: np.ndarray
    names: list[str] | None

    def scale(self) -> np.ndarray:
        """Per step, the largest ``|value|`` of the group so far (every value finite)."""
        magnitude = np.abs(self.block)
        if magnitude.ndim == 2:
            magnitude = magnitude.max(axis=1, initial=0.0)
        return np.maximum.accumulate(magnitude) if len(magnitude) else magnitude


def _group_blocks(reference: TrajectoryRecord, dtype: str) -> dict[str, _GroupBlock] | None:
    """The reference's series by scale group, rounded to ``dtype``, in the series' order;
    ``None`` when a value is non-finite or a group's series differ in length
    (:func:`compare_supplied` does not apply there)."""
    blocks: dict[str, _GroupBlock] = {}
    try:
        for quantity in ("params", "grads"):
            series = getattr(reference, quantity)
            if series:
                block = np.stack([np.asarray(v, dtype=np.float64) for v in series.values()],
                                 axis=1)
                blocks[quantity] = _GroupBlock(
                    [f"{quantity}.{name}" for name in series], _rounded_array(block, dtype),
                    list(series))
        for label, values in reference.series():
            if not label.startswith(("params.", "grads.")):
                blocks[label] = _GroupBlock([label], _rounded_array(
                    np.asarray(values, dtype=np.float64), dtype), None)
    except ValueError:  # series of different lengths, ragged prediction rows
        return None
    if not all(np.isfinite(held.block).all() and (held.block.ndim == 1 or held.block.size)
               for held in blocks.values()):
        return None  # (the full comparison reads a row of no predictions as one missing)
    return blocks


def _group_and_name(label: str) -> tuple[str, str]:
    """``params.w`` -> ``("params", "w")``; any other label is its own group, unnamed."""
    quantity, _, name = label.partition(".")
    return (quantity, name) if quantity in ("params", "grads") else (label, "")


def _rounded_array(values: np.ndarray, dtype: str) -> np.ndarray:
    """:func:`rounded_to`'s rounding of one float64 array (itself in float64)."""
    if np.dtype(dtype) == np.float64:
        return values
    with np.errstate(over="ignore"):
        return values.astype(dtype).astype(np.float64)


def _adam_b2(experiment: Experiment) -> float | None:
    """Adam's (or AdamW's) ``b2`` for the tolerance's bias-correction term; else ``None``."""
    if experiment.optimizer not in ("adam", "adamw"):
        return None
    default = optimizer_hyperparameters(experiment.optimizer)["b2"]
    return float(experiment.hyperparams.get("b2", default))


def _examples(experiment: Experiment) -> int:
    """The most examples one loss of ``experiment`` averages over (1 for ``shared-path``)."""
    sizes = [len(rows) for rows in (experiment.train, experiment.validation) if rows]
    return max(sizes, default=1)


def _show(value) -> str:
    return "nothing" if value is None else repr(value)


def _json_value(value):
    if value is None or isinstance(value, list):
        return value
    return json_float(value)
