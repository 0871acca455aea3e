"""Verified runs: the trajectories a figure may draw, and the refusal when they disagree.

Every figure's data comes from :func:`comparisons.compare.run_and_compare`
(every available backend against the ``manual`` reference, float64); if any
backend disagrees, :func:`verify_experiment` raises
:class:`UnverifiedTrajectoryError` naming the experiment and the first
mismatch, before anything is drawn or written. Whatever a figure computes
beyond the trajectories (a sweep, a grid of model outputs, a graph's values)
is checked against them with :func:`require_close`, which refuses the same way.

Example:
  >>> require_close("lr-sweep", "the stability limit", 0.4, 0.4 + 1e-14, 1e-12)
  >>> require_close("lr-sweep", "the stability limit", 0.4, 0.41, 1e-12)
  Traceback (most recent call last):
  ...
  comparisons.figures.verified.UnverifiedTrajectoryError: refusing to draw lr-sweep: \
the stability limit is 0.41 but the verified value is 0.4 (tolerance 1e-12)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from comparisons.compare import ExperimentVerdict, run_and_compare, values_agree
from comparisons.experiments import REGISTRY, Experiment
from functional_training import TrajectoryRecord

__all__ = [
    "UnverifiedTrajectoryError",
    "VerifiedRuns",
    "require_agreement",
    "require_close",
    "verified_runs",
    "verify_experiment",
    "verify_runs",
]


class UnverifiedTrajectoryError(RuntimeError):
    """A figure's data did not pass verification (names the experiment and the mismatch)."""


def require_close(figure: str, what: str, expected: float, actual: float, tol: float) -> None:
    """Refuse to draw ``figure`` unless ``actual`` is within ``tol`` of the verified ``expected``.

    Raises:
      UnverifiedTrajectoryError: one line naming the figure, ``what`` and both values.
    """
    ok, _ = values_agree(float(expected), float(actual), tol)
    if not ok:
        raise UnverifiedTrajectoryError(
            f"refusing to draw {figure}: {what} is {actual!r} but the verified value is "
            f"{expected!r} (tolerance {tol:g})"
        )


def verify_experiment(
    experiment: Experiment, *, backends: Sequence[str] | None = None
) -> tuple[dict[str, TrajectoryRecord], ExperimentVerdict]:
    """Run ``experiment`` (a registry entry or a user's spec) on every backend; refuse disagreement.

    Raises:
      UnverifiedTrajectoryError: a backend disagrees with the reference (one line
        naming the experiment and the first mismatch).
    """
    trajectories, verdict = run_and_compare(experiment, backends=backends)
    require_agreement(verdict)
    return trajectories, verdict


def require_agreement(verdict: ExperimentVerdict) -> None:
    """Refuse to draw unless every backend of ``verdict`` agreed with the reference.

    Raises:
      UnverifiedTrajectoryError: one line, the verdict's description (it starts with
        the experiment's name and names the first mismatch).
    """
    if not verdict.agree:
        raise UnverifiedTrajectoryError(
            f"refusing to draw unverified trajectories: {verdict.describe()}")


def verified_runs(
    name: str, *, backends: Sequence[str] | None = None
) -> tuple[dict[str, TrajectoryRecord], ExperimentVerdict]:
    """Run registry experiment ``name`` on every backend and return its trajectories if they agree.

    Raises:
      UnverifiedTrajectoryError: a backend disagrees with the reference.
    """
    return verify_experiment(REGISTRY[name], backends=backends)


@dataclass(frozen=True)
class VerifiedRuns:
    """Trajectories that passed verification, by experiment and backend (what figures draw).

    Attributes:
      runs: experiment name -> backend -> trajectory; every backend agreed with the reference.
      reference: the backend the others were compared with (``manual``).
      backends: the backends every run has, in run order.
      tolerance: the largest tolerance any verdict used (rtol = atol, float64).
    """

    runs: Mapping[str, Mapping[str, TrajectoryRecord]]
    reference: str
    backends: tuple[str, ...]
    tolerance: float

    def ref(self, name: str) -> TrajectoryRecord:
        """The reference trajectory of experiment ``name``."""
        return self.runs[name][self.reference]


def verify_runs(names: Iterable[str | Experiment], *,
                backends: Sequence[str] | None = None) -> VerifiedRuns:
    """Verify experiments (each once, in order) into one :class:`VerifiedRuns`.

    Each is a registry name, or an :class:`~comparisons.experiments.Experiment`
    a figure defines itself (kept by its ``name``). Its ``backends`` are those
    every run has; its ``tolerance`` the largest any verdict used.

    Raises:
      UnverifiedTrajectoryError: an experiment's backends disagree.
    """
    runs: dict[str, tuple[dict[str, TrajectoryRecord], ExperimentVerdict]] = {}
    for item in names:
        experiment = item if isinstance(item, Experiment) else REGISTRY[item]
        if experiment.name not in runs:
            runs[experiment.name] = verify_experiment(experiment, backends=backends)
    verdicts = [verdict for _, verdict in runs.values()]
    first = next(iter(runs.values()))[0]
    return VerifiedRuns(
        runs={name: trajectories for name, (trajectories, _) in runs.items()},
        reference=verdicts[0].reference,
        backends=tuple(n for n in first if all(n in t for t, _ in runs.values())),
        tolerance=max(verdict.tolerance for verdict in verdicts),
    )
