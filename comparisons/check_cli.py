"""``python -m comparisons check``: your own implementation's trajectory against the reference.

Examples:
  python -m comparisons check --spec examples/student-loop/spec.toml \\
      --trajectory examples/student-loop/correct.json       # exit 0: agrees
  python -m comparisons check --spec examples/student-loop/spec.toml \\
      --trajectory examples/student-loop/buggy.csv          # exit 1, and the diagnosis
  python -m comparisons check --spec my-run.toml --trajectory mine.csv --dtype float32 \\
      --json check.json --markdown check.md

THEIRS is the report's trajectory JSON (any part of it) or a long CSV with the
columns ``step,quantity,name,value`` (``docs/checking.md``). Only the values it
holds are compared, with the comparator's tolerances; the output says what was
compared and what was not.

Exit codes: 0 every value agrees, 1 a value differs (the first is named, and the
known faults it matches), 2 bad input: a bad spec, or a trajectory with an unknown
quantity or parameter, a step out of range or a non-numeric value (one line on
stderr naming the row or key; nothing written).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

import comparisons.backends
from comparisons.check import check
from comparisons.report import dumps_json
from comparisons.spec import load_spec
from comparisons.trajectory import TrajectoryError
from comparisons.trajectory_files import read_trajectory
from functional_training import DTYPES
from functional_training.runs import check_output_paths, write_atomic

__all__ = ["add_check_parser", "cmd_check"]


def add_check_parser(commands) -> argparse.ArgumentParser:
    """Add the ``check`` subcommand to ``commands`` (an ``add_subparsers`` object).

    Returns the subparser, whose handler default is :func:`cmd_check`.
    """
    parser = commands.add_parser(
        "check", help="compare your own implementation's trajectory with the reference",
        description="Run the reference backend on a spec and compare every value of your "
        "trajectory (JSON or long CSV; any quantities, any steps) with it, with the "
        "comparator's tolerances. Says what was compared and what was not; on a mismatch, "
        "names the first differing value and the known faults your values match. Exit 0 "
        "agree, 1 mismatch, 2 bad input (one line naming the row or key).",
        epilog=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--spec", type=Path, metavar="FILE", required=True,
                        help="the experiment, a TOML spec file (see docs/checking.md)")
    parser.add_argument("--trajectory", type=Path, metavar="THEIRS", required=True,
                        help="your trajectory: the report's trajectory JSON (.json) or a long "
                        "CSV with columns step,quantity,name,value (.csv)")
    parser.add_argument("--reference", default="manual", metavar="NAME",
                        help="the backend to compare with (default: manual)")
    parser.add_argument("--dtype", choices=DTYPES, default="float64",
                        help="the precision your implementation computes in: float32 compares "
                        "both sides rounded to float32, with float32's tolerance (default: "
                        "float64)")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="write the check's JSON report (verdict, coverage, diagnosis, "
                        "both trajectories) to PATH")
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="write the verdict as Markdown (one row per series) to PATH")
    parser.set_defaults(handler=cmd_check)
    return parser


def cmd_check(args: argparse.Namespace, out: Console, err: Console) -> int:
    """``check``: 0 agree, 1 mismatch; bad input raises ``ValueError`` (exit 2, one line)."""
    experiment = load_spec(args.spec, from_trajectory=True)  # SpecError: exit 2
    theirs = read_trajectory(args.trajectory)
    check_output_paths({"--json": args.json, "--markdown": args.markdown})
    problem = comparisons.backends.get_backend(args.reference).missing()  # unknown: exit 2
    if problem is not None:
        raise ValueError(f"--reference {args.reference}: not available here ({problem})")
    try:
        verdict = check(experiment, theirs, reference=args.reference, dtype=args.dtype)
    except TrajectoryError as error:  # it does not fit the spec: name the file
        raise TrajectoryError(f"{args.trajectory}: {error}") from None
    except comparisons.backends.BackendUnavailable as error:  # e.g. it does not run this kind
        raise ValueError(str(error)) from None
    for line in verdict.lines():
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    if args.json is not None:
        report = verdict.to_json()
        report["spec"] = str(args.spec)
        report["trajectory_file"] = str(args.trajectory)
        write_atomic(args.json, dumps_json(report))
    if args.markdown is not None:
        write_atomic(args.markdown, verdict.markdown())
    return 0 if verdict.agree else 1
