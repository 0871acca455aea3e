"""The rerunner of ``comparisons run|all`` manifests: rebuild each experiment, run, compare.

``python -m comparisons rerun PATH`` and ``python -m functional_training rerun
PATH`` are one command (``functional_training.runs.rerun``); for a manifest whose
``tool`` is ``comparisons run`` or ``comparisons all`` it calls
:func:`rerun_comparisons`, registered in ``pyproject.toml`` under the entry-point
group ``functional_training.rerunners``. ``PATH`` is a manifest (``run
--manifest``) or a ``--json`` report, which embeds the same manifest under
``"manifest"`` next to every trajectory. Each recorded experiment is rebuilt
and run again on the recorded backends, in the recorded dtype, with the
recorded reference:

- a built-in experiment is taken from :data:`~comparisons.experiments.REGISTRY`
  by name, and only if the registry entry still describes the recorded
  experiment (same data version, same every other field); otherwise the
  experiment is reported as CHANGED and not rerun;
- a spec-file experiment is rebuilt from the description stored in the
  manifest, so the spec file need not exist any more.

Every new trajectory's ``trajectory_digest`` is compared with the recorded
one: equal digests mean every value has the same bits. With a report, a
difference names the first differing step and quantity
(``functional_training.runs.first_difference``: bits compared directly, NaN
equal to NaN, ``0.0`` and ``-0.0`` different).

Exit codes (of ``rerun``): 0 every trajectory is identical, 1 one differs, an
experiment changed or a recorded backend cannot run here, 2 the file is not a
valid manifest or report (one line, nothing rerun).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from comparisons.backends import BackendUnavailable, backend_names
from comparisons.backends._common import check_run
from comparisons.compare import run_and_compare
from comparisons.experiments import REGISTRY, Experiment
from comparisons.manifest import (
    ORIGINS,
    TOOLS,
    experiment_data,
    experiment_from_json,
    experiment_record,
    experiment_to_json,
)
from comparisons.spec import dump_spec, parse_spec
from functional_training import TrajectoryRecord
from functional_training.runs import RerunReport, first_difference, trajectory_digest

__all__ = ["recorded_trajectories", "rerun_comparisons"]

_RECORD_KEYS = ("data", "split", "init", "optimizer", "hyperparameters", "learning_rates",
                "steps", "epochs", "batch_size", "seed", "checkpoint")
"""Run-record keys that follow from the stored experiment: an edit to one is refused."""


@dataclass(frozen=True)
class _Plan:
    """One recorded experiment, checked, ready to run (or why it is not rerun)."""

    name: str
    experiment: Experiment | None
    backends: list[str]
    reference: str
    results: dict[str, str]
    changed: str | None


# --- reading --------------------------------------------------------------------------------


def recorded_trajectories(
    manifest: Mapping, report: Mapping
) -> dict[str, dict[str, TrajectoryRecord]]:
    """A ``--json`` report's trajectories by experiment name, then backend.

    Each must match its manifest's digest, so an edited report is refused
    rather than compared.

    Raises:
      ValueError: one line naming what is wrong with the report.
    """
    experiments = report.get("experiments")
    if not isinstance(experiments, list) or not all(isinstance(e, dict) for e in experiments):
        raise ValueError("report: \"experiments\" must be a list of objects")
    digests = {run["name"]: run["results"] for run in manifest["runs"]}
    recorded: dict[str, dict[str, TrajectoryRecord]] = {}
    for i, entry in enumerate(experiments):
        name, backends = entry.get("name"), entry.get("backends")
        if name not in digests or not isinstance(backends, dict):
            raise ValueError(f"report: experiments[{i}] is not an experiment of its manifest")
        recorded[name] = {}
        for backend, traj in backends.items():
            try:
                same = trajectory_digest(traj) == digests[name].get(backend)
                recorded[name][backend] = TrajectoryRecord.from_json(traj)
            except (KeyError, TypeError, ValueError, AttributeError):
                same = False
            if not same:
                raise ValueError(
                    f"report: the trajectory of {name}/{backend} does not match its manifest's "
                    "digest; the report was edited"
                )
    return recorded


def _plan(i: int, run: dict, dtype: str) -> _Plan:
    """Check run ``i`` of a manifest and find the experiment to rerun; ``ValueError`` if bad."""
    where = f"manifest: runs[{i}]"
    options = run["options"]
    for key in ("origin", "spec_file", "experiment", "backends", "reference", "unavailable"):
        if key not in options:
            raise ValueError(f"{where}.options: missing key {key!r} (a comparisons run needs it)")
    origin, backends, reference = options["origin"], options["backends"], options["reference"]
    if origin not in ORIGINS:
        raise ValueError(f"{where}.options.origin must be one of {', '.join(ORIGINS)}, "
                         f"got {origin!r}")
    known = backend_names()  # built-ins and the plug-ins installed here
    if not isinstance(backends, list) or not backends or not all(
        b in known for b in backends
    ):
        raise ValueError(f"{where}.options.backends must be a non-empty list of "
                         f"{', '.join(known)}")
    if reference not in known:
        raise ValueError(f"{where}.options.reference must be one of {', '.join(known)}, "
                         f"got {reference!r}")
    results = run["results"]
    unknown = [b for b in results if b not in known]
    if unknown or reference not in results:
        raise ValueError(f"{where}.results must hold a digest per backend that ran, the "
                         f"reference {reference!r} included; got {', '.join(results) or 'none'}")
    spec_file = options["spec_file"]
    if spec_file is not None and not isinstance(spec_file, str):
        raise ValueError(f"{where}.options.spec_file must be a string or null")

    recorded = experiment_from_json(options["experiment"], where=f"{where}.options.experiment")
    if recorded.name != run["name"]:
        raise ValueError(f"{where}.name {run['name']!r} is not its experiment's name "
                         f"{recorded.name!r}; the manifest was edited")
    try:
        check_run(recorded, dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}.options.experiment: {err}") from None
    expected = experiment_record(recorded, {}, origin=origin, backends=backends,
                                 reference=reference, spec_file=spec_file)
    for key in _RECORD_KEYS:
        if expected[key] != run[key]:
            raise ValueError(f"{where}.{key} does not match options.experiment; "
                             "the manifest was edited")

    changed = None
    experiment = recorded
    if origin == "spec":
        try:
            same = parse_spec(dump_spec(recorded)) == recorded
        except ValueError as err:
            raise ValueError(f"{where}.options.experiment: {err}") from None
        if not same:
            raise ValueError(f"{where}.options.experiment is not what a spec file describes")
    else:
        experiment = REGISTRY.get(recorded.name)
        changed = _registry_change(recorded, experiment, data=run["data"])
    return _Plan(run["name"], experiment, backends, reference, dict(results), changed)


def _registry_change(recorded: Experiment, current: Experiment | None, *, data: dict) -> str | None:
    """Why the registry's experiment is no longer the recorded one (``None``: it is)."""
    if current is None:
        return "no longer in the registry"
    now = experiment_data(current, source=data["source"])["version"]
    if now != data["version"]:
        return f"its data changed: recorded version {data['version']}, now {now}"
    then, now_json = experiment_to_json(recorded), experiment_to_json(current)
    for key, value in then.items():
        if now_json[key] != value:
            return f"its {key} changed: recorded {value!r}, now {now_json[key]!r}"
    return None


# --- rerunning -------------------------------------------------------------------------------


def rerun_comparisons(
    manifest: Mapping,
    *,
    recorded: Mapping | None = None,
    advance: Callable[[str], None] | None = None,
) -> RerunReport:
    """Run every experiment of a comparisons manifest again and compare with the record.

    The rerunner of ``comparisons run`` and ``comparisons all`` manifests
    (``functional_training.runs.Rerunner``); call it through
    ``functional_training.runs.rerun``, which adds the environment notes.

    Args:
      manifest: a validated manifest with a ``tool`` of :data:`~comparisons.manifest.TOOLS`.
      recorded: the ``--json`` report the manifest came from, so a difference
        names its step and quantity; ``None`` compares digests only.
      advance: called with each experiment's name after it ran (a progress bar).

    Returns:
      A ``functional_training.runs.RerunReport``.

    Raises:
      ValueError: the manifest is another tool's, or a run in it (or the report)
        is malformed or edited (checked for every run before anything runs).
    """
    tool = manifest["tool"]
    if tool not in TOOLS:
        raise ValueError(f"manifest was written by {tool!r}: not a comparisons manifest")
    dtype = manifest["dtype"]
    plans = [_plan(i, run, dtype) for i, run in enumerate(manifest["runs"])]
    trajectories = {} if recorded is None else recorded_trajectories(manifest, recorded)

    lines: list[str] = []
    first: str | None = None
    equal = 0
    for plan in plans:
        problems: list[str] = []
        if plan.changed is not None:
            problems.append(f"CHANGED: {plan.changed} (not rerun)")
        else:
            try:
                runs, _ = run_and_compare(plan.experiment, backends=plan.backends,
                                          reference=plan.reference, dtype=dtype)
            except BackendUnavailable as err:
                runs = {}
                problems.append(f"the reference cannot run here: {err}")
            for backend, digest in plan.results.items():
                if backend not in runs:
                    if runs:
                        problems.append(f"{backend}: not available here, nothing to compare")
                    continue
                now = trajectory_digest(runs[backend])
                if now == digest:
                    continue
                old = trajectories.get(plan.name, {}).get(backend)
                where = None if old is None else first_difference(old, runs[backend])
                problems.append(
                    f"DIFFERENT: {backend} at {where}" if where is not None else
                    f"DIFFERENT: {backend}: trajectory digest recorded {digest}, now {now}"
                )
            for backend in runs:
                if backend not in plan.results:
                    lines.append(f"note: {plan.name}: {backend} ran now but was not available "
                                 "when recorded (not compared)")
        if advance is not None:
            advance(plan.name)
        if problems:
            first = first or f"{plan.name}: {problems[0]}"
            lines.extend(f"{plan.name}: {problem}" for problem in problems)
        else:
            equal += 1
            lines.append(f"{plan.name}: EQUAL ({', '.join(plan.results)}: every value, "
                         "bit for bit)")
    total = len(plans)
    if first is None:
        subject = "the experiment is" if total == 1 else f"all {total} experiments are"
        lines.append(f"rerun: {subject} EQUAL to the recorded trajectories")
    else:
        lines.append(f"rerun: {equal} of {total} experiments equal; first difference: {first}")
    return RerunReport(first is None, lines)
