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
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

import comparisons.backends
from comparisons.backends import BackendUnavailable, backend_names
from comparisons.experiments import Experiment
from functional_training import (
    TrajectoryRecord,
    aligned_values,
    json_float,
    optimizer_hyperparameters,
    overflow_edge,
    tolerance,
)

__all__ = [
    "BackendVerdict",
    "ExperimentVerdict",
    "Mismatch",
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
            return np.asarray(values, dtype=np.float64).astype(dtype).astype(np.float64).tolist()

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
    max_diff: dict[str, float] = {}
    first: Mismatch | None = None
    first_rank = None
    # Both sides non-finite from here on: compare nothing later (see the module docstring).
    starts = (expected.first_nonfinite_step, actual.first_nonfinite_step)
    diverged = None if None in starts else max(starts)
    scales = _scales(expected, fd_epsilon)
    differing_batches = 0
    for rank, (label, sub, k, r, a) in enumerate(aligned_values(expected, actual)):
        if label == "batches":  # index lists: equal or not, no difference; first in its step
            if r == a:
                continue
            differing_batches += 1
            ok, rank = False, -1
        elif r is None or a is None:
            ok, diff = False, math.inf
        elif diverged is not None and (
            k > diverged or (k == diverged and not (math.isfinite(r) and math.isfinite(a)))
        ):
            continue
        elif _overflow_shift(float(r), float(a), edge):
            continue
        else:
            ok, diff = values_agree(float(r), float(a), tol, scale=scales[label][k])
        if label != "batches":
            max_diff[label] = max(max_diff.get(label, 0.0), diff)
        if not ok and (first is None or (k, rank) < (first.step, first_rank)):
            first, first_rank = Mismatch(backend, k, sub, r, a), rank
    return BackendVerdict(backend, first is None, max_diff, first, differing_batches)


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
    per_step: dict[str, list[float]] = {}
    for label, values in reference.series():
        group = per_step.setdefault(_group(label), [])
        for k, value in enumerate(values):
            finite = [abs(v) for v in (value if isinstance(value, list) else [value])
                      if math.isfinite(v)]
            if k == len(group):
                group.append(0.0)
            group[k] = max(group[k], *finite, 0.0)
    if fd_epsilon:
        losses = [abs(v) / (2 * fd_epsilon) if math.isfinite(v) else 0.0
                  for v in reference.batch_loss]
        for group, values in per_step.items():
            if group.startswith("extras.numeric."):
                per_step[group] = [max(v, loss) for v, loss in zip(values, losses, strict=False)]
    running = {group: list(itertools.accumulate(values, max))
               for group, values in per_step.items()}
    return {label: running[_group(label)] for label, _ in reference.series()}


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
