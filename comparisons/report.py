"""Verdicts as a terminal table, a strict-JSON report and a Markdown table.

The JSON report (``python -m comparisons run --json PATH``) has this shape::

    {"dtype", "device", "versions": {package: version}, "all_agree": bool,
     "computed_in": {NAME: precision},        e.g. "float64 (Python floats)" for manual
     "experiments": [{"name", "agree", "reference", "tolerance",
                      "backends": {NAME: TRAJ}, "max_abs_diff": {quantity: number},
                      "backend_max_abs_diff": {NAME: {quantity: number}},
                      "first_nonfinite_step": {NAME: step | null},
                      "batches_differ": {NAME: count}  (mini-batch runs: how many steps'
                                                        batches differ; never a float diff)
                      "first_mismatch": null | {"backend", "step", "quantity",
                                                "expected", "actual"},
                      "unavailable": {NAME: install hint}}],
     "manifest": MANIFEST}                    (when given: see comparisons.manifest)

``TRAJ`` is :meth:`functional_training.TrajectoryRecord.to_json` (which holds the
per-step ``grad_norm`` and the ``first_nonfinite_step`` too), as the backend
computed it. An experiment's ``first_nonfinite_step`` is the one compared: in
a float32 run the float64 backends' values are compared rounded to float32
(``comparisons.compare.rounded_to``), so there a value beyond float32's range
is already an overflow; tables and reports say which backends computed in
float64 (:func:`precision_note`). It is strict
JSON: non-finite numbers are the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"``, and the encoder runs with ``allow_nan=False`` so a stray float
NaN is an error, never invalid output.

Example:
  >>> from comparisons.experiments import REGISTRY
  >>> from comparisons.compare import compare_trajectories
  >>> from functional_training import TrajectoryRecord
  >>> run = TrajectoryRecord(params={"a": [3.0, 3.0]}, grads={"a": [6.0]},
  ...                  batch_loss=[9.0], train_loss=[9.0, 9.0])
  >>> runs = {"manual": run, "engine": run}
  >>> verdict = compare_trajectories(REGISTRY["shared-path"], runs)
  >>> report = json_report([(runs, verdict)], dtype="float64", device="cpu", versions={})
  >>> report["all_agree"], report["experiments"][0]["max_abs_diff"]["grads.a"]
  (True, 0.0)
  >>> print(markdown_report([(runs, verdict)], dtype="float64").splitlines()[4])
  | shared-path | agree 0e+00 |
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import jax
from rich import box
from rich.table import Table
from rich.text import Text

from comparisons.backends import backend_names, computes_in
from comparisons.compare import ExperimentVerdict, rounded_to
from functional_training import TrajectoryRecord, json_float
from functional_training.runs import package_versions as installed_versions

__all__ = [
    "REPORTED_PACKAGES",
    "computed_in",
    "describe_device",
    "divergence",
    "divergence_summary",
    "json_report",
    "markdown_report",
    "package_versions",
    "precision_note",
    "verdict_notes",
    "verdict_table",
]

Result = tuple[Mapping[str, TrajectoryRecord], ExperimentVerdict]
"""One experiment's trajectories by backend and its verdict, as ``run_and_compare`` returns."""

REPORTED_PACKAGES = ("jax", "jaxlib", "optax", "chex", "numpy", "torch", "rich")
"""Packages whose versions a report records (those installed)."""


def package_versions() -> dict[str, str]:
    """Python's and each installed reported package's version (uninstalled ones omitted).

    Read with ``functional_training.runs.package_versions``, the project's one version reader.
    """
    versions = installed_versions(REPORTED_PACKAGES)
    return {name: version for name, version in versions.items() if version is not None}


def describe_device() -> str:
    """The device JAX computes on, e.g. ``cpu (cpu)`` (the other backends run on the CPU)."""
    device = jax.devices()[0]
    return f"{device.platform} ({device.device_kind})"


def divergence(trajectory: TrajectoryRecord) -> str:
    """Where a run goes non-finite, with the grad norm at the last finite step ('' if never).

    Example:
      >>> inf = float("inf")
      >>> run = TrajectoryRecord(params={"w": [1.0, 1e200, inf]}, grads={"w": [-1e200, inf]},
      ...                  batch_loss=[1.0, inf], train_loss=[1.0, 1e300, inf])
      >>> divergence(run)
      'step 1 (|grad| 1.0e+200 at step 0)'
    """
    first = trajectory.first_nonfinite_step
    if first is None:
        return ""
    text = f"step {first}"
    if 0 < first <= trajectory.steps:
        text += f" (|grad| {trajectory.grad_norm[first - 1]:.1e} at step {first - 1})"
    return text


def divergence_summary(trajectories: Mapping[str, TrajectoryRecord], reference: str) -> str:
    """Where the reference diverges, and every backend that diverges at another step ('' if none).

    Backends that go non-finite at the reference's step agree (their values
    are compared like any other); one that goes non-finite earlier or later is
    a mismatch, and is named here with its own step and gradient norm.

    Example:
      >>> inf = float("inf")
      >>> ok = TrajectoryRecord(params={"w": [1.0, 2.0]}, grads={"w": [3.0]},
      ...                 batch_loss=[1.0], train_loss=[1.0, 1.0])
      >>> bad = TrajectoryRecord(params={"w": [1.0, inf]}, grads={"w": [3.0]},
      ...                  batch_loss=[1.0], train_loss=[1.0, inf])
      >>> divergence_summary({"manual": ok, "torch": bad}, "manual")
      'torch: step 1 (|grad| 3.0e+00 at step 0)'
    """
    ref = trajectories.get(reference)
    ref_step = None if ref is None else ref.first_nonfinite_step
    parts = [] if ref_step is None else [divergence(ref)]
    for name, trajectory in trajectories.items():
        if name != reference and trajectory.first_nonfinite_step != ref_step:
            parts.append(f"{name}: " + (divergence(trajectory) or "never"))
    return "; ".join(parts)


def computed_in(results: Sequence[Result], *, dtype: str) -> dict[str, str]:
    """Every backend of ``results`` -> the precision it computed in for a ``dtype`` run.

    A name that is not a known backend (a test double) is taken to compute in ``dtype``.
    """
    names = dict.fromkeys(name for trajectories, _ in results for name in trajectories)
    known = backend_names()
    return {name: computes_in(name, dtype) if name in known else dtype for name in names}


def precision_note(results: Sequence[Result], *, dtype: str) -> str:
    """One line naming the backends that did not compute in ``dtype`` ('' when all did).

    Example:
      >>> run = TrajectoryRecord(params={"w": [1.0]}, grads={"w": []}, batch_loss=[],
      ...                  train_loss=[1.0])
      >>> precision_note([({"manual": run, "engine": run, "jax": run}, None)], dtype="float32")
      'manual, engine: float64 (Python floats); compared rounded to float32'
      >>> precision_note([({"manual": run}, None)], dtype="float64")
      ''
    """
    other: dict[str, list[str]] = {}
    for name, precision in computed_in(results, dtype=dtype).items():
        if precision.split(" ")[0] != dtype:  # "float64 (Python floats)" is float64
            other.setdefault(precision, []).append(name)
    return "; ".join(f"{', '.join(names)}: {precision}" for precision, names in other.items()) + (
        f"; compared rounded to {dtype}" if other else ""
    )


def _as_compared(
    trajectories: Mapping[str, TrajectoryRecord], dtype: str
) -> dict[str, TrajectoryRecord]:
    """The trajectories as the comparator saw them (rounded to the run's dtype)."""
    return {name: rounded_to(t, dtype) for name, t in trajectories.items()}


def json_report(
    results: Sequence[Result],
    *,
    dtype: str,
    device: str | None = None,
    versions: Mapping[str, str] | None = None,
    manifest: Mapping | None = None,
) -> dict:
    """The JSON report object (see the module docstring) of ``results``.

    Args:
      results: ``(trajectories by backend, verdict)`` per experiment.
      dtype: the precision of the runs.
      device: recorded as is; default :func:`describe_device`.
      versions: recorded as is; default :func:`package_versions`.
      manifest: the run's manifest (``comparisons.manifest``), embedded under
        ``"manifest"`` so ``python -m comparisons rerun REPORT`` can rerun it.
    """
    experiments = []
    for trajectories, verdict in results:
        compared = _as_compared(trajectories, verdict.dtype)
        experiments.append({
            "name": verdict.experiment,
            "agree": verdict.agree,
            "reference": verdict.reference,
            "tolerance": verdict.tolerance,
            "backends": {name: t.to_json() for name, t in trajectories.items()},
            "max_abs_diff": _json_numbers(verdict.max_abs_diff),
            "backend_max_abs_diff": {
                name: _json_numbers(b.max_abs_diff) for name, b in verdict.backends.items()
            },
            "first_nonfinite_step": {
                name: t.first_nonfinite_step for name, t in compared.items()
            },
            **({"batches_differ": {name: b.batches_differ for name, b in
                                   verdict.backends.items()}}
               if any(t.batches is not None for t in trajectories.values()) else {}),
            "first_mismatch": None
            if verdict.first_mismatch is None
            else verdict.first_mismatch.to_json(),
            "unavailable": dict(verdict.unavailable),
        })
    report = {
        "dtype": dtype,
        "device": describe_device() if device is None else device,
        "versions": package_versions() if versions is None else dict(versions),
        "all_agree": all(verdict.agree for _, verdict in results),
        "computed_in": computed_in(results, dtype=dtype),
        "experiments": experiments,
    }
    if manifest is not None:
        report["manifest"] = dict(manifest)
    return report


def dumps_json(report: dict) -> str:
    """Strict JSON text (``allow_nan=False``), indented, ending in a newline."""
    return json.dumps(report, indent=1, allow_nan=False) + "\n"


def markdown_report(results: Sequence[Result], *, dtype: str) -> str:
    """The verdict as a Markdown table for course pages, then any first mismatches."""
    backends = _backend_columns(results)
    all_agree = all(verdict.agree for _, verdict in results)
    lines = [
        f"Every backend against {_references(results)} ({dtype}), max |difference| and "
        "verdict: " + ("**all agree**" if all_agree else "**MISMATCH**"),
        "",
    ]
    note = precision_note(results, dtype=dtype)
    if note:
        lines += [f"Computed in: {note}.", ""]
    lines += [
        "| experiment | " + " | ".join(backends) + " |",
        "|---|" + "---|" * len(backends),
    ]
    for trajectories, verdict in results:
        cells = [_cell(verdict, name, trajectories)[0] for name in backends]
        lines.append(f"| {verdict.experiment} | " + " | ".join(cells) + " |")
    mismatches = [v for _, v in results if v.first_mismatch is not None]
    if mismatches:
        lines += ["", "First mismatches:", ""]
        lines += [f"- {v.describe()}" for v in mismatches]
    return "\n".join(lines) + "\n"


def verdict_notes(results: Sequence[Result], *, dtype: str) -> list[str]:
    """The lines under the verdict table: what computed in another precision, what agree means.

    Example:
      >>> verdict_notes([], dtype="float64")[0][:51]
      'agree: every value within atol + rtol * |reference|'
    """
    note = precision_note(results, dtype=dtype)
    return [
        *([f"computed in: {note}"] if note else []),
        "agree: every value within atol + rtol * |reference| at its series' scale, or past an "
        "overflow (functional_training.tolerance); max |diff| is absolute, so it is large where "
        "values are large",
    ]


def verdict_table(results: Sequence[Result], *, dtype: str, caption: bool = True) -> Table:
    """A rich table: experiment x backend (max abs difference, verdict), and divergence.

    The reference backend has no column (it is named in the title); a caption
    (:func:`verdict_notes`; ``caption=False`` leaves it to the caller) names the
    backends that computed in another precision than ``dtype``
    (:func:`precision_note`); a ``diverges at`` column appears when any run diverges
    (as compared, i.e. rounded to the run's dtype): the reference's first
    non-finite step with the gradient norm at the step before, then any backend
    that goes non-finite at another step (:func:`divergence_summary`).
    """
    backends = _backend_columns(results)
    diverging = {
        verdict.experiment: divergence_summary(
            _as_compared(trajectories, verdict.dtype), verdict.reference)
        for trajectories, verdict in results
    }
    table = Table(
        title=f"Every backend against {_references(results)} ({dtype}): max |diff|, verdict",
        caption="\n".join(verdict_notes(results, dtype=dtype)) if caption else None,
        box=box.SIMPLE_HEAD,
    )
    table.add_column("experiment", no_wrap=True)
    for name in backends:
        table.add_column(name, no_wrap=True)
    if any(diverging.values()):
        table.add_column("diverges at")
    for trajectories, verdict in results:
        cells = [Text(*_cell(verdict, name, trajectories)) for name in backends]
        if any(diverging.values()):
            cells.append(Text(diverging.get(verdict.experiment, "")))
        table.add_row(verdict.experiment, *cells)
    return table


def _json_numbers(values: Mapping[str, float]) -> dict[str, float | str]:
    return {key: json_float(value) for key, value in values.items()}


def _backend_columns(results: Sequence[Result]) -> list[str]:
    """Every compared or unavailable backend, the reference left out."""
    names: list[str] = []
    for trajectories, verdict in results:
        for name in [*trajectories, *verdict.unavailable]:
            if name not in names and name != verdict.reference:
                names.append(name)
    return names


def _references(results: Sequence[Result]) -> str:
    return ", ".join(dict.fromkeys(verdict.reference for _, verdict in results)) or "-"


def _cell(verdict: ExperimentVerdict, name: str, trajectories) -> tuple[str, str]:
    """(text, rich style) of one table cell."""
    if name in verdict.unavailable:
        return "unavailable", "dim"
    if name not in verdict.backends:
        return "-", "dim"
    backend = verdict.backends[name]
    if backend.agree:
        return f"agree {backend.largest_diff:.0e}", "green"
    return f"MISMATCH step {backend.first_mismatch.step}", "bold red"
