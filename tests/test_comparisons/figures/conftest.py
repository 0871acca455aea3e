"""The course figures' verified data, computed once for every test module of the package.

``figure_data()`` runs every experiment the figures draw on every backend (the
slow part: about two minutes on two cores). The session-scoped :func:`course_run`
fixture runs it once, recording what :func:`comparisons.compare.run_and_compare`
returned for each experiment (a deep copy, so nothing the figures code does can
change the reference): the tests compare each figure's data with those
trajectories, not with anything the code under test computed from them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import functional_training.runs as ft_runs
from comparisons.compare import run_and_compare
from comparisons.figures import course, verified
from functional_training import TrajectoryRecord


@dataclass(frozen=True)
class Rendered:
    """The course figures written once: the directory, the paths written, the atomic writes."""

    out: Path
    written: list[Path]
    atomic: list[Path]


@pytest.fixture(scope="session")
def course_run() -> tuple[dict, dict[str, dict[str, TrajectoryRecord]]]:
    """``(figure_data(), {experiment: {backend: trajectory}})``, every backend, one run."""
    seen: dict[str, dict[str, TrajectoryRecord]] = {}

    def recording(experiment, *, backends=None):
        trajectories, verdict = run_and_compare(experiment, backends=backends)
        assert verdict.agree, verdict.describe()
        seen[experiment.name] = copy.deepcopy(trajectories)
        return trajectories, verdict

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(verified, "run_and_compare", recording)
        data = course.figure_data()
    return data, seen


@pytest.fixture(scope="session")
def data(course_run) -> dict:
    """What every course figure draws (``figure_data()``), verified."""
    return course_run[0]


@pytest.fixture(scope="session")
def trajectories(course_run) -> Callable[[str], dict[str, TrajectoryRecord]]:
    """Experiment name -> its trajectories by backend, as ``run_and_compare`` returned them."""
    return course_run[1].__getitem__


@pytest.fixture(scope="session")
def rendered(data, tmp_path_factory):
    """Every course figure written once into a new directory (``out``): the paths
    ``write_figures`` returned (``written``) and those ``functional_training.runs.write_atomic``
    was called with (``atomic``; ``test_files.py`` checks every file went through it)."""
    calls = []
    real = ft_runs.write_atomic

    def recording(path, payload):
        calls.append(Path(path))
        return real(path, payload)

    out = tmp_path_factory.mktemp("figures") / "new" / "figs"  # a missing --out is created
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ft_runs, "write_atomic", recording)
        written = course.write_figures(data, out)
    return Rendered(out, written, calls)
