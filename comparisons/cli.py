r"""Command line: the lesson's experiments through every backend, compared step by step.

Examples:
  python -m comparisons all                       # everything; the summary at the end
  python -m comparisons run                       # every experiment, every backend
  python -m comparisons run --experiment five-steps --backend torch
  python -m comparisons run --experiment optimizer --json report.json --markdown report.md
  python -m comparisons run --spec examples/shipments-adam.toml
  python -m comparisons run --dtype float32       # tolerances from float32's eps
  python -m comparisons run --json report.json --manifest run.manifest.json
  python -m comparisons rerun run.manifest.json   # same trajectories again, bit for bit?
  python -m comparisons rerun report.json         # ... and name the first differing value
  python -m comparisons lesson --backend engine   # the lesson's printed lines, by the engine
  python -m comparisons lesson --check            # every backend against the lesson's lines
  python -m comparisons faults                    # the bug gallery, each bug caught
  python -m comparisons check --spec examples/student-loop/spec.toml \
      --trajectory examples/student-loop/buggy.csv  # your own loop: agree? which bug?
  python -m comparisons run --backend numpy       # a plug-in backend (docs/backends.md)
  python -m comparisons figures                   # the course figures
  python -m comparisons figures --spec examples/logistic-inline.toml   # a spec's own figures
  python -m comparisons run --help

Exit codes: 0 everything agrees, 1 a mismatch or a failed check, 2 bad usage or
bad input (one line on stderr, no traceback, no output file written), 130
interrupted with Ctrl-C (one line). For ``rerun`` (the same command as
``python -m functional_training rerun``, for any tool's manifest): 0 every
trajectory is identical, 1 one differs (or an experiment changed), 2 the file is
not a valid manifest or report.

The parser and the error handling are ``functional_training.runs``' command-line
machinery, shared with ``python -m functional_training``.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

import comparisons.backends
import comparisons.compare
import comparisons.faults
import comparisons.figures
import comparisons.lesson_outputs
from comparisons.backends import (
    BACKEND_NAMES,
    ENTRY_POINT_GROUP,
    backend_names,
    plugin_problems,
)
from comparisons.backends._common import check_run
from comparisons.check_cli import add_check_parser
from comparisons.experiments import REGISTRY, Experiment
from comparisons.manifest import comparison_manifest, experiment_record
from comparisons.report import (
    dumps_json,
    json_report,
    markdown_report,
    verdict_notes,
    verdict_table,
)
from comparisons.spec import SpecError, load_spec
from comparisons.transcript import LESSON_BLOCKS, block_experiments, check_transcript, transcript
from functional_training.runs import (
    ArgumentParser,
    add_dtype_option,
    add_json_option,
    add_rerun_command,
    check_output_paths,
    make_console,
    one_line,
    print_table,
    progress,
    rerun_command,
    run_handler,
    write_atomic,
)

__all__ = ["build_parser", "main"]


class UsageError(ValueError):
    """Bad usage or bad input: exit 2 with this one-line message."""


# --- pure helpers ----------------------------------------------------------------------


def select_experiments(names: Sequence[str], *, dtype: str = "float64") -> list[Experiment]:
    """Registry experiments by name, or every one of a group (``optimizer``, ``learning-rates``).

    With no names: every experiment (in float32 the float64-only gradient
    checks are left out). Unknown names raise :class:`UsageError`.

    Example:
      >>> [e.name for e in select_experiments(["optimizer"])][:2]
      ['optimizer/momentum', 'optimizer/nesterov']
    """
    if not names:
        return [e for e in REGISTRY.values() if dtype == "float64" or e.kind != "gradient-check"]
    chosen: dict[str, Experiment] = {}
    for name in names:
        group = [e for e in REGISTRY.values() if e.name == name or e.name.startswith(name + "/")]
        if not group:
            raise UsageError(
                f"unknown experiment {name!r}; known: {', '.join(REGISTRY)} "
                "(or a group: learning-rates, optimizer)"
            )
        for e in group:
            if dtype != "float64" and e.kind == "gradient-check":
                raise UsageError(f"{e.name}: finite-difference gradient checks are float64 only")
            chosen[e.name] = e
    return list(chosen.values())


def _available(names: Sequence[str], *, explicit: bool) -> tuple[list[str], dict[str, str]]:
    """``(usable backends, {unusable: hint})``; an explicitly requested unusable one is an error."""
    status = comparisons.backends.available_backends()
    usable = [n for n in names if status[n] is None]
    missing = {n: status[n] for n in names if status[n] is not None}
    if explicit and missing:
        name, hint = next(iter(missing.items()))
        raise UsageError(f"backend {name!r} is not available here: {hint}")
    return usable, missing


def _backend_name(names: Sequence[str]):
    """An argparse ``type``: one of ``names``, else one line naming them and how plug-ins come."""
    def backend(text: str) -> str:
        if text not in names:
            raise argparse.ArgumentTypeError(
                f"unknown backend {text!r}; known here: {', '.join(names)} (another backend is a "
                f"plug-in package registering the {ENTRY_POINT_GROUP!r} entry point, e.g. "
                "pip install -e examples/numpy-backend for 'numpy')")
        return text
    backend.__name__ = "backend"  # argparse names the type in its messages
    return backend


def _check_outputs(args: argparse.Namespace, inputs: dict | None = None) -> None:
    """The report files can be written, none twice, none an input (``{option: path}``)."""
    try:
        check_output_paths({f"--{option}": getattr(args, option, None)
                            for option in ("json", "markdown", "manifest")}, inputs)
    except ValueError as err:
        raise UsageError(str(err)) from None


# --- running and reporting ----------------------------------------------------------------


@dataclass
class RunOutcome:
    """Everything ``run`` (and the run step of ``all``) produced."""

    results: list = field(default_factory=list)  # [(trajectories by backend, verdict)]
    dtype: str = "float64"
    experiments: list = field(default_factory=list)  # [Experiment], in results' order
    backends: list = field(default_factory=list)  # the backends asked for
    reference: str = "manual"
    spec_files: dict = field(default_factory=dict)  # experiment name -> --spec path given
    tool: str = "comparisons run"

    @property
    def agree(self) -> bool:
        return all(verdict.agree for _, verdict in self.results)


ENGINE_SECONDS_PER_OPERATION = 1.5e-5
"""Measured cost of one scalar operation of the engine backend (10 to 22 us on a 2-core
CPU, pure-Python ``Value`` nodes and their backward pass)."""

SLOW_ENGINE_SECONDS = 30.0
"""Estimated engine time above which ``run`` says so up front."""


def engine_operations(experiment: Experiment) -> int:
    """Scalar operations the engine backend builds for ``experiment``: examples x features x steps.

    Every step builds one graph node per example and feature (and the bias) for
    the batch, the full training set and the validation set.

    Example:
      >>> engine_operations(REGISTRY["full-batch"])  # 21 states x (3 + 3) rows x (1 + 1)
      252
    """
    if experiment.kind == "shared-path":
        return experiment.steps + 1
    rows = len(experiment.train)
    examples = rows + len(experiment.validation or ()) + (experiment.batch_size or rows)
    return (experiment.steps + 1) * examples * (experiment.features + 1)


def engine_warning(experiments: Sequence[Experiment], backends: Sequence[str]) -> str | None:
    """One line saying the engine backend will be slow, and how to skip it; else ``None``.

    Example:
      >>> big = Experiment("big", "", ((1.0, 2.0),) * 2000, {"w": 0.0, "b": 0.0}, "sgd",
      ...                  {"learning_rate": 0.01}, 1000)
      >>> line = engine_warning([big], ["manual", "engine", "torch", "jax"])
      >>> line[:line.index(" (8.0e+06")]
      'warning: the engine backend (scalar autograd in pure Python) will take about 2 min here'
      >>> line[line.index("; ") + 2:]
      '--backend manual --backend torch --backend jax runs the others without it'
    """
    if "engine" not in backends:
        return None
    counts = {e.name: engine_operations(e) for e in experiments}
    seconds = sum(counts.values()) * ENGINE_SECONDS_PER_OPERATION
    if seconds <= SLOW_ENGINE_SECONDS:
        return None
    most = max(counts, key=counts.__getitem__)
    others = " ".join(f"--backend {name}" for name in backends if name != "engine")
    skip = (f"{others} runs the others without it" if others
            else "--backend NAME chooses other backends")
    return (
        f"warning: the engine backend (scalar autograd in pure Python) will take about "
        f"{_duration(seconds)} here ({sum(counts.values()):.1e} scalar operations: examples x "
        f"features x steps, most in {most}); {skip}"
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _run_experiments(
    experiments: Sequence[Experiment], backends: Sequence[str], *, reference: str, dtype: str,
    err: Console, spec_files: dict[str, str] | None = None, tool: str = "comparisons run",
    show_progress: bool = False,
) -> RunOutcome:
    """Run and compare every experiment; progress per experiment and backend on ``err``."""
    outcome = RunOutcome(dtype=dtype, experiments=list(experiments), backends=list(backends),
                         reference=reference, spec_files=dict(spec_files or {}), tool=tool)
    order = list(backends) if reference in backends else [reference, *backends]
    warning = engine_warning(experiments, order)
    if warning is not None:
        _say(err, warning)
    count = len(experiments)
    with progress(count * len(order), "running", console=err, force=show_progress) as advance:
        for i, experiment in enumerate(experiments, 1):
            tick = _BackendTicks(advance, f"{i}/{count} {experiment.name}")
            outcome.results.append(comparisons.compare.run_and_compare(
                experiment, backends=backends, reference=reference, dtype=dtype,
                on_backend=tick,
            ))
            tick.finish()
    return outcome


class _BackendTicks:
    """``run_and_compare``'s ``on_backend``: each backend's start shows, its end advances."""

    def __init__(self, advance, label: str):
        self.advance, self.label, self.running = advance, label, False

    def __call__(self, backend: str) -> None:
        self.advance(f"{self.label}: {backend}", done=int(self.running))
        self.running = True

    def finish(self) -> None:
        self.advance(f"{self.label}: done", done=int(self.running))
        self.running = False


def _print_run(outcome: RunOutcome, out: Console) -> None:
    print_table(out, verdict_table(outcome.results, dtype=outcome.dtype, caption=False))
    for line in verdict_notes(outcome.results, dtype=outcome.dtype):
        _say(out, line)
    for _, verdict in outcome.results:
        if verdict.first_mismatch is not None:
            _say(out, f"first mismatch: {verdict.describe()}")
    unavailable = {}  # every distinct (backend, reason): a plug-in may decline per experiment
    for _, verdict in outcome.results:
        for name, hint in verdict.unavailable.items():
            unavailable.setdefault((name, hint), None)
    for name, hint in unavailable:
        _say(out, f"{name}: not available here ({hint})")


def run_manifest(outcome: RunOutcome) -> dict:
    """The manifest of a run (see :mod:`comparisons.manifest`): one entry per experiment."""
    records = [
        experiment_record(
            experiment, trajectories,
            origin="spec" if experiment.name in outcome.spec_files else "registry",
            backends=outcome.backends, reference=outcome.reference,
            unavailable=verdict.unavailable, spec_file=outcome.spec_files.get(experiment.name),
        )
        for experiment, (trajectories, verdict) in zip(
            outcome.experiments, outcome.results, strict=True)
    ]
    return comparison_manifest(records, tool=outcome.tool, dtype=outcome.dtype)


def _write_reports(outcome: RunOutcome, args: argparse.Namespace) -> None:
    manifest = None
    if args.json is not None or args.manifest is not None:
        manifest = run_manifest(outcome)
    if args.manifest is not None:
        write_atomic(args.manifest, dumps_json(manifest))
    if args.json is not None:
        report = json_report(outcome.results, dtype=outcome.dtype, manifest=manifest)
        write_atomic(args.json, dumps_json(report))
    if args.markdown is not None:
        write_atomic(args.markdown, markdown_report(outcome.results, dtype=outcome.dtype))


def _cmd_run(args: argparse.Namespace, out: Console, err: Console) -> int:
    experiments = (
        select_experiments(args.experiment or [], dtype=args.dtype)
        if args.experiment or not args.spec
        else []
    )
    spec_files: dict[str, str] = {}
    inputs: dict[str, str] = {}
    for path in args.spec or []:
        try:
            spec = load_spec(path)
        except SpecError as error:
            raise UsageError(str(error)) from None
        if any(e.name == spec.name for e in experiments):
            raise UsageError(f"{path}: experiment name {spec.name!r} is already in this run")
        experiments.append(spec)
        spec_files[spec.name] = str(path)
        inputs[f"--spec {path}"] = path
        inputs.update({f"[data].{role} of --spec {path}": data
                       for role, data in spec.files.items()})
    _check_runnable(experiments, args.dtype)
    _check_outputs(args, inputs)
    requested = list(dict.fromkeys(args.backend)) if args.backend else list(backend_names())
    if set(requested) <= {args.reference}:
        raise UsageError(f"--backend {args.reference}: that is the reference (--reference "
                         f"{args.reference}), so nothing would be compared; name another "
                         "backend too, e.g. --backend jax")
    for problem in plugin_problems():
        _say(err, f"warning: {problem}")
    _available([args.reference, *(args.backend or [])], explicit=True)
    outcome = _run_experiments(
        experiments, requested, reference=args.reference, dtype=args.dtype, err=err,
        spec_files=spec_files, show_progress=args.progress,
    )
    _print_run(outcome, out)
    if not args.experiment and not args.spec:
        skipped = [e.name for e in REGISTRY.values() if e not in experiments]
        if skipped:
            _say(out, f"skipped in {args.dtype}: {', '.join(skipped)} "
                      "(finite-difference gradient checks are float64 only)")
    _write_reports(outcome, args)
    return 0 if outcome.agree else 1


def _check_runnable(experiments: Sequence[Experiment], dtype: str) -> None:
    """Refuse, before anything runs, what the backends would refuse for every experiment."""
    for experiment in experiments:
        try:
            check_run(experiment, dtype)
        except (TypeError, ValueError) as error:
            raise UsageError(f"{experiment.name}: {error}") from None


def _cmd_rerun(args: argparse.Namespace, out: Console, err: Console) -> int:
    """``rerun``: ``functional_training.runs.rerun_command``, for any tool's manifest."""
    return rerun_command(args)


def _lesson_trajectories(backend: str, err: Console) -> dict:
    experiments = [e for block in LESSON_BLOCKS for e in block_experiments(block)]
    runner = comparisons.backends.get_backend(backend)
    runs = {}
    with progress(len(experiments), f"{backend}: lesson", console=err) as advance:
        for experiment in experiments:
            runs[experiment.name] = runner.run(experiment, dtype="float64")
            advance(experiment.name)
    return runs


def _lesson_check(trajectories: dict) -> str | None:
    """``None`` when the transcript of ``trajectories`` is the lesson's, else the difference."""
    return check_transcript(transcript(trajectories), comparisons.lesson_outputs.lesson_blocks())


def _cmd_lesson(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.backend:
        backends, _ = _available([args.backend], explicit=True)
    else:
        backends, missing = _available(list(BACKEND_NAMES), explicit=False)
        for name, hint in missing.items():
            _say(err, f"{name}: not available here ({hint})")
    failures = 0
    for backend in backends:
        runs = _lesson_trajectories(backend, err)
        if args.check:
            problem = _lesson_check(runs)
            failures += problem is not None
            verdict = "matches the lesson" if problem is None else f"DIFFERS: {problem}"
            _say(out, f"lesson transcript of {backend}: {verdict}")
            continue
        if len(backends) > 1:
            _say(out, f"# backend: {backend}")
        for block, lines in transcript(runs).items():
            _say(out, f"## {block}")
            for line in lines:
                _say(out, line)
    return 1 if failures else 0


def _fault_table(results) -> Table:
    table = Table(
        title="Fault gallery: each bug's first mismatch with the manual reference",
        box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,  # 17 faults: 100 columns
    )
    for column in ("fault", "caught at", "expected", "got", "control"):
        table.add_column(column, no_wrap=True)
    for result in results:
        m = result.broken.first_mismatch
        where = ("[bold red]NOT CAUGHT[/]", "", "") if m is None else (
            f"step {m.step}, {m.quantity}", _number(m.expected), _number(m.actual))
        table.add_row(
            result.fault.name if result.caught else f"[bold red]{result.fault.name}[/]",
            *where,
            "agrees" if result.correct.agree else "[bold red]DIFFERS[/]",
        )
    return table


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _cmd_faults(args: argparse.Namespace, out: Console, err: Console) -> int:
    results = comparisons.faults.check_faults()
    print_table(out, _fault_table(results))
    _say(out, "control: the same code without the bug, compared with the same reference")
    for result in results:
        _say(out, f"{result.fault.name} ({result.fault.experiment_name}): {result.fault.bug}")
    caught = sum(r.caught for r in results)
    _say(out, f"faults: {caught} of {len(comparisons.faults.FAULTS)} caught")
    return 0 if caught == len(comparisons.faults.FAULTS) else 1


def _render_figures(args: argparse.Namespace) -> list[Path]:
    """Render every figure (``figures --only``: those) from freshly verified trajectories."""
    # `--out`, `--format` and `--only` are comparisons.figures' own options
    # (add_figure_arguments).
    only = getattr(args, "only", None)
    subset = {} if only is None else {"only": tuple(only)}
    return comparisons.figures.render_all(_figure_output(args), tuple(args.format), **subset)


def _figure_output(args: argparse.Namespace) -> Path:
    """``--out``, or its default (``figures/``; with ``figures --spec FILE``, FILE's own)."""
    return comparisons.figures.output_directory(args.out, getattr(args, "spec", None))


def _check_figure_output(args: argparse.Namespace) -> None:
    """Refuse an ``--out`` the figures cannot be written to, before anything is computed."""
    try:
        comparisons.figures.check_output_directory(_figure_output(args), option="--out")
    except ValueError as err:
        raise UsageError(str(err)) from None


def _cmd_figures(args: argparse.Namespace, out: Console, err: Console) -> int:
    if getattr(args, "list", False):
        for line in comparisons.figures.figure_list():
            _say(out, line)
        return 0
    spec = None
    if getattr(args, "spec", None) is None:
        for name in getattr(args, "only", None) or ():  # course figures' names here
            try:
                comparisons.figures.figure_name(name)
            except argparse.ArgumentTypeError as error:
                raise UsageError(str(error)) from None
    else:
        try:
            spec = load_spec(args.spec)
        except SpecError as error:
            raise UsageError(str(error)) from None
        _check_runnable([spec], "float64")
        only = getattr(args, "only", None)  # --only (repeatable): spec figures' names here
        try:  # checked before anything runs
            comparisons.figures.spec_figure_names(spec, only)
        except ValueError as error:
            raise UsageError(str(error)) from None
    _check_figure_output(args)
    try:
        if spec is None:
            paths = _render_figures(args)
        else:
            paths = comparisons.figures.render_spec(spec, _figure_output(args),
                                                    tuple(args.format), only=only)
    except comparisons.figures.UnverifiedTrajectoryError as error:  # a backend disagreed
        _say(err, f"figures: not rendered: {one_line(str(error))}")
        return 1
    for path in paths:
        _say(out, str(path))
    return 0


def _cmd_all(args: argparse.Namespace, out: Console, err: Console) -> int:
    _check_outputs(args)
    if not args.no_figures:
        _check_figure_output(args)
    summary: list[str] = []
    ok = True

    backends, missing = _available(list(BACKEND_NAMES), explicit=False)
    outcome = _run_experiments(
        list(REGISTRY.values()), list(BACKEND_NAMES), reference="manual", dtype="float64",
        err=err, tool="comparisons all", show_progress=args.progress,
    )
    _print_run(outcome, out)
    _write_reports(outcome, args)
    agreeing = sum(v.agree for _, v in outcome.results)
    tolerances = "/".join(sorted({f"{v.tolerance:.0e}" for _, v in outcome.results}))
    summary.append(
        f"run:     {agreeing} of {len(outcome.results)} experiments agree across "
        f"{', '.join(backends)} (float64, rtol = atol = {tolerances})"
        + (f"; not available: {', '.join(missing)}" if missing else "")
    )
    ok &= outcome.agree

    lesson_parts = []
    for backend in backends:
        runs = {v.experiment: t[backend] for t, v in outcome.results if backend in t}
        problem = _lesson_check(runs)
        ok &= problem is None
        lesson_parts.append(f"{backend} ok" if problem is None else f"{backend} DIFFERS: {problem}")
    summary.append("lesson:  " + "; ".join(lesson_parts))

    references = {v.experiment: t["manual"] for t, v in outcome.results}
    results = comparisons.faults.check_faults(reference_trajectories=references)
    print_table(out, _fault_table(results))
    caught = sum(r.caught for r in results)
    ok &= caught == len(comparisons.faults.FAULTS)
    summary.append(f"faults:  {caught} of {len(comparisons.faults.FAULTS)} caught")

    if args.no_figures:
        summary.append("figures: skipped (--no-figures)")
    else:
        try:
            paths = _render_figures(args)
            folders = sorted({str(p.parent) for p in paths})
            summary.append(f"figures: {len(paths)} files in {', '.join(folders) or '-'}")
        except Exception as error:  # noqa: BLE001 -- any failure is reported, the summary still prints
            ok = False
            summary.append(f"figures: FAILED: {type(error).__name__}: {one_line(str(error))}")

    summary.append("all:     " + ("everything agrees" if ok else "FAILED (see above)"))
    _say(out, "")
    for line in summary:
        _say(out, line)
    return 0 if ok else 1


def _say(console: Console, text: str) -> None:
    """Print ``text`` exactly: no markup, no highlighting, no wrapping."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


# --- the parser -----------------------------------------------------------------------------


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    add_json_option(parser, what="the strict-JSON report (trajectories included)")
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="write the verdict as a Markdown table to PATH")
    parser.add_argument("--manifest", type=Path, metavar="PATH",
                        help="write the run manifest (what `rerun` needs) to PATH; the --json "
                        "report embeds the same object")


def _add_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", action="store_true",
                        help="show progress per experiment and backend on stderr even when it "
                        "is not a terminal (on a terminal it always shows)")


def build_parser(*, figure_arguments: bool = True) -> argparse.ArgumentParser:
    """The ``python -m comparisons`` parser (every subcommand has ``--help``).

    Args:
      figure_arguments: add ``comparisons.figures``' own options (``--out``,
        ``--format``) to ``figures`` and ``all``.
    """
    parser = ArgumentParser(
        prog="python -m comparisons",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run experiments on backends and compare every step with the reference",
        description="Run experiments on backends and compare every quantity at every step "
        "with the reference backend. Exit 1 on any mismatch.",
    )
    run.add_argument("--experiment", action="append", metavar="NAME",
                     help="an experiment or group (repeatable; default: all, or none when "
                     f"--spec is given). Known: {', '.join(REGISTRY)}")
    names = backend_names()  # the built-ins, then plug-ins (entry-point group comparisons.backends)
    run.add_argument("--backend", action="append", type=_backend_name(names), metavar="NAME",
                     help=f"a backend (repeatable; default: all of {', '.join(names)})")
    run.add_argument("--spec", action="append", type=Path, metavar="FILE",
                     help="add a user experiment from a TOML spec file (repeatable)")
    run.add_argument("--reference", type=_backend_name(names), default="manual", metavar="NAME",
                     help="the backend the others are compared with (default: manual)")
    add_dtype_option(run)
    _add_report_options(run)
    _add_progress_option(run)
    run.set_defaults(handler=_cmd_run)

    lesson = commands.add_parser(
        "lesson", help="print the lesson's outputs, computed by a backend",
        description="Print each lesson block's output, computed by a backend, exactly as the "
        "lesson prints it, each block under a '## <name>' line.",
    )
    lesson.add_argument("--backend", choices=BACKEND_NAMES, metavar="NAME",
                        help="the backend (default: every available backend)")
    lesson.add_argument("--check", action="store_true",
                        help="compare with the lesson's printed lines instead; exit 1 on a "
                        "difference")
    lesson.set_defaults(handler=_cmd_lesson)

    faults = commands.add_parser(
        "faults", help="run the classic bugs and show the comparator catches each",
        description="Run each classic training bug as a broken variant and show where the "
        "comparator catches it. Exit 0 only when every fault is caught.",
    )
    faults.set_defaults(handler=_cmd_faults)

    add_check_parser(commands)

    figures = commands.add_parser(
        "figures", help="render the course figures, or a spec's own (--spec FILE)",
        description=textwrap.fill(
            "Render the course figures (PNG and SVG) from fresh trajectories, "
            "verified on every available backend before anything is drawn. With --spec FILE: "
            "verify that experiment the same way, then draw its loss per update, its "
            "parameter paths and, for a classifier of two features, its decision regions. "
            "Exit 1 (nothing written) when the backends disagree; 2 for a bad spec or option.",
            79),
        epilog=comparisons.figures.FIGURES_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if figure_arguments:
        _add_figure_arguments(figures, spec=True)
    figures.set_defaults(handler=_cmd_figures)

    everything = commands.add_parser(
        "all", help="run, lesson check for every backend, faults, figures; one summary",
        description="Everything: run every experiment on every available backend, check each "
        "backend's lesson transcript, run the fault gallery, render the figures, and print one "
        "summary. Exit 0 only when all of it passes.",
    )
    _add_report_options(everything)
    everything.add_argument("--no-figures", action="store_true",
                            help="skip rendering the figures")
    _add_progress_option(everything)
    if figure_arguments:
        _add_figure_arguments(everything)
    everything.set_defaults(handler=_cmd_all)

    # The one rerun (functional_training.runs): any tool's manifest. A comparisons manifest's
    # experiments are rebuilt and rerun by comparisons.rerun, through the entry point.
    again = add_rerun_command(commands)
    again.set_defaults(handler=_cmd_rerun)
    return parser


def _add_figure_arguments(parser: argparse.ArgumentParser, *, spec: bool = False) -> None:
    comparisons.figures.add_figure_arguments(parser, spec=spec)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return run_handler(args.handler, args, make_console(), make_console(stderr=True))


if __name__ == "__main__":
    sys.exit(main())
