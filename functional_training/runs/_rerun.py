"""Run a recorded run again from its manifest and compare what it produces, bit for bit.

Examples:
  python -m functional_training train --data shipments --optimizer sgd --learning-rate 0.08 \\
      --steps 20 --json run.json --manifest run.manifest.json
  python -m functional_training rerun run.manifest.json   # compares trajectory digests
  python -m functional_training rerun run.json            # also names the first differing value
  python -m comparisons run --json report.json && python -m comparisons rerun report.json

``PATH`` is a manifest (``--manifest``) or a ``--json`` report, which embeds
the same manifest under ``"manifest"`` next to the recorded trajectories. Both
front doors (``python -m functional_training rerun`` and ``python -m comparisons
rerun``) accept any tool's manifest: :func:`rerun` dispatches on the manifest's
``tool`` to a rerunner, built in (``functional_training train``,
``functional_training sweep``) or installed under the entry-point group
``functional_training.rerunners`` (``comparisons run``, ``comparisons all``).
A rerunner rebuilds the run from the manifest alone, runs it again and
compares each result digest with the recorded one; with a report, a
difference names the first differing value (:func:`first_difference`).
Differences in package versions, devices or sources are printed as ``note:``
lines: they explain a difference, they are not one.

Exit codes: 0 every result is identical, 1 one differs (or its data or
experiment changed), 2 the file is not a valid manifest or report (one line,
no traceback, nothing rerun).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import struct
from collections.abc import Callable, Mapping
from typing import NamedTuple, Protocol

import jax.numpy as jnp

from functional_training._datasets import named_data
from functional_training._params import LinearParams
from functional_training._precision import precision
from functional_training._record import TrajectoryRecord, aligned_values
from functional_training._sweep import sweep, sweep_learning_rates
from functional_training._synthetic import minibatch_indices
from functional_training.runs._cli import progress
from functional_training.runs._digests import trajectory_digest
from functional_training.runs._environment import environment_notes
from functional_training.runs._io import read_json
from functional_training.runs._manifest import (
    data_name_for_rerun,
    data_record,
    line_init_from,
    run_spec_record,
    spec_from_options,
    validate_manifest,
)
from functional_training.runs._sweep_record import SWEEP_TOOL, sweep_digest
from functional_training.runs._train_manifest import TOOL as TRAIN_TOOL
from functional_training.runs._train_manifest import settings_from_run
from functional_training.runs._train_settings import settings_data
from functional_training.runs._training import run_training

ENTRY_POINT_GROUP = "functional_training.rerunners"
"""Entry-point group of installed rerunners: entry-point name = the manifest ``tool``."""


class RerunReport(NamedTuple):
    """Outcome of :func:`rerun`.

    Attributes:
      equal: every recorded result was reproduced bit for bit (and its data
        and settings are unchanged).
      lines: what to print, one finding per line.
    """

    equal: bool
    lines: list[str]


class Rerunner(Protocol):
    """``rerunner(manifest, *, recorded=None, advance=None) -> RerunReport`` for one ``tool``.

    ``manifest`` is validated (``validate_manifest``); ``recorded`` is the
    ``--json`` report it was read from, or ``None``; ``advance(name)`` is called
    after each run (a progress bar). A rerunner raises ``ValueError`` (one line)
    for a manifest or report it cannot rerun, before anything runs, and leaves the
    environment notes to :func:`rerun`.
    """

    def __call__(
        self,
        manifest: Mapping,
        *,
        recorded: Mapping | None = None,
        advance: Callable[[str], None] | None = None,
    ) -> RerunReport: ...


# --------------------------------------------------------------------------- dispatch


def rerun(
    manifest: Mapping,
    *,
    recorded: Mapping | None = None,
    advance: Callable[[str], None] | None = None,
) -> RerunReport:
    """Run a manifest's runs again and compare what they produce with what was recorded.

    Args:
      manifest: a validated manifest (:func:`read_rerun_file`), of any tool that
        has a rerunner (see :func:`rerunner_for`).
      recorded: the ``--json`` report the manifest came from: a difference then
        names its first differing step and quantity. ``None`` compares digests.
      advance: called with each run's name after it ran (a progress bar).

    Returns:
      A :class:`RerunReport`: ``note:`` lines for environment differences, then
      the rerunner's lines.

    Raises:
      ValueError: no rerunner knows the manifest's tool, or the manifest or
        report cannot be rerun (one line).
    """
    report = rerunner_for(manifest["tool"])(manifest, recorded=recorded, advance=advance)
    return RerunReport(report.equal, environment_notes(manifest) + report.lines)


def rerunner_for(tool: str) -> Rerunner:
    """The rerunner of manifests written by ``tool``: built in, or an installed entry point.

    Raises:
      ValueError: no rerunner is known for ``tool`` (the message lists those known).

    Example:
      >>> rerunner_for("functional_training train").__name__
      'rerun_train'
      >>> rerunner_for("make")  # doctest: +ELLIPSIS
      Traceback (most recent call last):
      ...
      ValueError: manifest was written by 'make': no rerunner is installed for it (known: ...)
    """
    if tool in BUILT_IN:
        return BUILT_IN[tool]
    found = _entry_points().select(name=tool)
    for entry_point in found:
        return entry_point.load()
    raise ValueError(
        f"manifest was written by {tool!r}: no rerunner is installed for it "
        f"(known: {', '.join(known_tools())})"
    )


def known_tools() -> list[str]:
    """Every ``tool`` a rerunner is known for, sorted.

    Example:
      >>> {"functional_training train", "functional_training sweep"} <= set(known_tools())
      True
    """
    return sorted({*BUILT_IN, *(entry_point.name for entry_point in _entry_points())})


def _entry_points() -> importlib.metadata.EntryPoints:
    return importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)


# --------------------------------------------------------------------------- reading


def read_rerun_file(path) -> tuple[dict, dict | None]:
    """Read a manifest or a ``--json`` report (the file is read and parsed once).

    Returns:
      ``(manifest, report)``: the validated manifest, and the whole report when
      the file is one (``{"manifest": ..., ...}``), else ``None``.

    Raises:
      ValueError: one line naming the file and what is wrong with it.
    """
    data = read_json(path, what="manifest")
    report = data if isinstance(data, dict) and "manifest" in data and "format" not in data \
        else None
    try:
        manifest = validate_manifest(data if report is None else report["manifest"])
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    return manifest, report


# --------------------------------------------------------------------------- comparing


def same_bits(a, b) -> bool:
    """Whether two recorded values are identical: floats by bit pattern (NaN equals NaN).

    Example:
      >>> same_bits(0.0, -0.0), same_bits(float("nan"), float("nan")), same_bits(1, 1.0)
      (False, True, False)
    """
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    return a == b and type(a) is type(b)


def first_difference(recorded: TrajectoryRecord, now: TrajectoryRecord) -> str | None:
    """Where two trajectories first differ in any bit: the earliest step, then series order.

    Values are compared by bit pattern (:func:`same_bits`: NaN equals NaN,
    ``0.0`` and ``-0.0`` differ); a series or step present on one side only is
    a difference ("nothing" on the other).

    Returns:
      ``"step k, quantity: recorded X, now Y"``, or ``None`` when every value
      has the same bits.

    Example:
      >>> old = TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]},
      ...                        batch_loss=[8.0], train_loss=[8.0, 2.0])
      >>> new = TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]},
      ...                        batch_loss=[8.0], train_loss=[8.0, 2.0000000000000004])
      >>> first_difference(old, new)
      'step 1, train_loss: recorded 2.0, now 2.0000000000000004'
      >>> first_difference(old, old) is None
      True
    """
    first = None
    for rank, (_, quantity, k, old, new) in enumerate(aligned_values(recorded, now)):
        if not same_bits(old, new) and (first is None or (k, rank) < first[0]):
            first = ((k, rank), quantity, old, new)
    if first is None:
        return None
    (k, _), quantity, old, new = first
    return f"step {k}, {quantity}: recorded {_show(old)}, now {_show(new)}"


def _show(value) -> str:
    return "nothing" if value is None else repr(value)


# --------------------------------------------------------------------------- built-in rerunners


def _single_run(manifest: Mapping, result_key: str) -> dict:
    runs = manifest["runs"]
    if len(runs) != 1:
        raise ValueError(
            f"manifest: a {manifest['tool']} manifest holds one run, found {len(runs)}"
        )
    run = runs[0]
    if result_key not in run["results"]:
        raise ValueError(f"manifest: runs[0].results has no {result_key!r} digest to compare with")
    return run


def _data_check(run: dict, named) -> tuple[bool, str]:
    now = data_record(named.name, named.x, named.y, named.x_val, named.y_val)["version"]
    recorded = run["data"]["version"]
    if now == recorded:
        return True, f"data: {named.name} {now} (same version)"
    return False, f"data: DIFFERENT version for {named.name}: recorded {recorded}, now {now}"


def _recorded_trajectory(report: Mapping | None, expected: str) -> TrajectoryRecord | None:
    """The report's ``"trajectory"``, checked against the manifest's digest (``None``: none)."""
    if report is None or report.get("trajectory") is None:
        return None
    data = report["trajectory"]
    if not isinstance(data, dict):
        raise ValueError("report: \"trajectory\" must be a JSON object")
    try:
        same = trajectory_digest(data) == expected
        trajectory = TrajectoryRecord.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError):
        same = False
    if not same:
        raise ValueError(
            "the report's trajectory does not match its manifest's digest; the report was edited"
        )
    return trajectory


def rerun_train(
    manifest: Mapping,
    *,
    recorded: Mapping | None = None,
    advance: Callable[[str], None] | None = None,
) -> RerunReport:
    """The rerunner of ``functional_training train`` manifests (see :class:`Rerunner`)."""
    run = _single_run(manifest, "trajectory")
    settings = settings_from_run(run, dtype=manifest["dtype"])
    named = settings_data(settings)
    expected = run["results"]["trajectory"]
    old = _recorded_trajectory(recorded, expected)
    same_data, line = _data_check(run, named)
    if not same_data:
        return RerunReport(False, [line, "trajectory: not rerun (the data changed)"])
    described = run["options"].get("run")
    if described is not None and described != run_spec_record(settings.run):
        now = run_spec_record(settings.run)
        key = next(k for k in sorted({*described, *now}) if described.get(k) != now.get(k))
        return RerunReport(False, [line, f"run description: DIFFERENT {key}: recorded "
                                         f"{described.get(key)!r}, the spec now reads "
                                         f"{now.get(key)!r}",
                                   "trajectory: not rerun (the run description changed)"])
    trajectory = run_training(settings, named).trajectory
    if advance is not None:
        advance(run["name"])
    digest = trajectory_digest(trajectory)
    if digest == expected:
        return RerunReport(True, [
            line, f"trajectory: EQUAL to the recorded one ({trajectory.steps} steps, {digest})"
        ])
    lines = [line, f"trajectory: DIFFERENT: recorded {expected}, now {digest}"]
    where = None if old is None else first_difference(old, trajectory)
    if where is not None:
        lines.append(f"first difference: {where}")
    return RerunReport(False, lines)


def rerun_sweep(
    manifest: Mapping,
    *,
    recorded: Mapping | None = None,
    advance: Callable[[str], None] | None = None,
) -> RerunReport:
    """The rerunner of ``functional_training sweep`` manifests (see :class:`Rerunner`).

    A sweep's report holds no per-step trajectory, so ``recorded`` is not used:
    the sweep's digest is compared. A ``sweep --spec`` manifest (``options.spec``)
    is rerun by :func:`rerun_model_sweep`.
    """
    run = _single_run(manifest, "sweep")
    options = run["options"]
    if "spec" in options:
        return rerun_model_sweep(manifest, advance=advance)
    for key in ("data", "record_every", "method"):
        if key not in options:
            raise ValueError(
                f"manifest: runs[0].options has no {key!r} (a sweep manifest needs it)"
            )
    data_seed = options.get("data_seed", 0)
    if isinstance(data_seed, bool) or not isinstance(data_seed, int) or data_seed < 0:
        raise ValueError("manifest: runs[0].options.data_seed must be an integer >= 0")
    named = named_data(data_name_for_rerun(options), seed=data_seed,
                       features=options.get("features"),
                       target=options.get("target"))
    w0, b0 = line_init_from(run["init"], 1 if named.x.ndim == 1 else int(named.x.shape[1]))
    same_data, line = _data_check(run, named)
    if not same_data:
        return RerunReport(False, [line, "sweep: not rerun (the data changed)"])
    order = None
    if run["batch_size"] is not None:
        order = minibatch_indices(named.y.size, batch_size=run["batch_size"], steps=run["steps"],
                                  seed=run["seed"] or 0)
    dtype = manifest["dtype"]
    with precision(dtype):
        params = LinearParams(jnp.full(named.x.shape[1:], w0, dtype), jnp.asarray(b0, dtype))
        result = sweep_learning_rates(
            params, named.x, named.y, run["learning_rates"], steps=run["steps"],
            optimizer=run["optimizer"], hyperparams=dict(run["hyperparameters"]),
            batch_indices=order, record_every=options["record_every"], method=options["method"],
        )
    if advance is not None:
        advance(run["name"])
    return _sweep_verdict(line, run["results"]["sweep"], sweep_digest(result))


def rerun_model_sweep(
    manifest: Mapping,
    *,
    advance: Callable[[str], None] | None = None,
) -> RerunReport:
    """Rerun a ``sweep --spec`` manifest: the recorded spec text, seeds and settings.

    The spec is read from ``options.spec`` (data files relative to the recorded
    ``options.spec_path``), its data checked against the recorded version, and
    the sweep's digest (:func:`sweep_digest`) compared. A manifest that records no
    ``method`` ran the autodiff path (written before a spec's sweep chose its path).
    """
    run = _single_run(manifest, "sweep")
    options = run["options"]
    for key, kind in (("spec", str), ("spec_path", str), ("record_every", int)):
        if not isinstance(options.get(key), kind):
            raise ValueError(f"manifest: runs[0].options.{key} is missing or not a {kind.__name__}")
    seeds = options.get("seeds")
    if seeds is not None and not (isinstance(seeds, list) and seeds and all(
            isinstance(z, int) and not isinstance(z, bool) and z >= 0 for z in seeds)):
        raise ValueError("manifest: runs[0].options.seeds must be a list of integers >= 0 or null")
    spec = spec_from_options(options)
    same_data, line = _data_check(run, spec)  # a RunSpec has name, x, y, x_val, y_val
    if not same_data:
        return RerunReport(False, [line, "sweep: not rerun (the data changed)"])
    with precision(manifest["dtype"]):
        result = sweep(
            spec.objective(), (spec.x, spec.y), learning_rates=run["learning_rates"],
            seeds=seeds or (0,), optimizer=run["optimizer"],
            hyperparameters=dict(run["hyperparameters"]), steps=run["steps"],
            batch_size=run["batch_size"], batch_seed=run["seed"] or 0,
            record_every=options["record_every"],
            initial_params=spec.init if seeds is None else None,
            method=options.get("method", "autodiff"),
        )
    if advance is not None:
        advance(run["name"])
    return _sweep_verdict(line, run["results"]["sweep"], sweep_digest(result))


def _sweep_verdict(line: str, expected: str, digest: str) -> RerunReport:
    """EQUAL when the rerun's sweep digest is the recorded one, else DIFFERENT with both."""
    if digest == expected:
        return RerunReport(True, [line, f"sweep: EQUAL to the recorded one ({digest})"])
    return RerunReport(False, [line, f"sweep: DIFFERENT: recorded {expected}, now {digest}"])


BUILT_IN: dict[str, Rerunner] = {TRAIN_TOOL: rerun_train, SWEEP_TOOL: rerun_sweep}
"""The rerunners of this package's own tools, by manifest ``tool``."""


# --------------------------------------------------------------------------- command line


def add_rerun_command(subparsers) -> argparse.ArgumentParser:
    """Register ``rerun`` on ``subparsers``; its handler (:func:`rerun_command`) takes ``args``."""
    parser = subparsers.add_parser(
        "rerun",
        help="run a manifest (or --json report) of any tool again; exit 0 if bit-identical",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", metavar="PATH", help="a --manifest file or a --json report")
    parser.set_defaults(handler=rerun_command)
    return parser


def rerun_command(args: argparse.Namespace) -> int:
    """Handler of ``rerun``: 0 equal, 1 different; ``ValueError`` (exit 2) for a bad file."""
    manifest, report = read_rerun_file(args.path)
    with progress(len(manifest["runs"]), "rerunning") as advance:
        outcome = rerun(manifest, recorded=report, advance=advance)
    print(f"rerun of {manifest['tool']} from {args.path} ({manifest['dtype']})")
    print("\n".join(outcome.lines))
    return 0 if outcome.equal else 1
