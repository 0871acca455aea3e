"""The figures command's own options: ``--out DIR``, ``--format png,svg``, ``--spec FILE``,
``--only NAME`` (repeatable) and ``--list``.

``python -m comparisons figures`` and ``python -m comparisons all`` add these
with :func:`add_figure_arguments` (``--spec``, ``--only`` and ``--list`` only
for ``figures``); :func:`output_directory` resolves where the files go:
``--out`` if given, else ``<spec stem>-figures`` beside the spec for
``--spec``, else :data:`DEFAULT_OUT`. :data:`FIGURES_EXAMPLES` is the
``figures --help`` epilog.

Example:
  >>> output_directory(None, Path("runs/my-run.toml"))
  PosixPath('runs/my-run-figures')
"""

from __future__ import annotations

import argparse
from pathlib import Path

from comparisons import figure_style as style
from comparisons.figures.course import FIGURE_NAMES
from comparisons.figures.files import parse_formats
from comparisons.figures.spec import MAX_PARAMETER_PATHS

__all__ = [
    "DEFAULT_OUT",
    "FIGURES_EXAMPLES",
    "add_figure_arguments",
    "figure_name",
    "output_directory",
    "spec_output_directory",
]

FIGURES_EXAMPLES = """\
Examples:
  python -m comparisons figures --list
  python -m comparisons figures --only full-batch --only train-validation --out figs
"""
"""The ``figures --help`` epilog: each line runs in the tests."""

DEFAULT_OUT = Path("figures")
"""Where the course figures go without ``--out``."""


def spec_output_directory(spec_file: str | Path) -> Path:
    """Where a spec's figures go without ``--out``: ``<file stem>-figures`` beside the spec.

    Example:
      >>> spec_output_directory("examples/logistic-inline.toml")
      PosixPath('examples/logistic-inline-figures')
    """
    spec_file = Path(spec_file)
    return spec_file.with_name(f"{spec_file.stem}-figures")


def figure_name(text: str) -> str:
    """A course figure's name (``--only``), or ``ArgumentTypeError`` naming the known ones.

    Example:
      >>> figure_name("schedules")
      'schedules'
      >>> figure_name("moons")
      Traceback (most recent call last):
      ...
      argparse.ArgumentTypeError: unknown figure 'moons'; known: learning-rates, ...
    """
    if text not in FIGURE_NAMES:
        raise argparse.ArgumentTypeError(
            f"unknown figure {text!r}; known: {', '.join(FIGURE_NAMES)}")
    return text


def add_figure_arguments(parser: argparse.ArgumentParser, *, spec: bool = False) -> None:
    """Add ``--out DIR`` (default ``figures/``) and ``--format png,svg`` to ``parser``.

    With ``spec`` (the ``figures`` command), also ``--spec FILE`` (a user's spec,
    drawn by :func:`render_spec`), ``--only NAME`` (repeatable: render those
    course figures; the directory's README and data file keep its other
    figures) and ``--list`` (print each course figure's name and one line, render
    nothing); ``--out`` then defaults to ``None``: :func:`output_directory` resolves it.

    Example:
      >>> parser = argparse.ArgumentParser(prog="figures")
      >>> add_figure_arguments(parser)
      >>> args = parser.parse_args(["--format", "svg"])
      >>> args.out, args.format
      (PosixPath('figures'), ('svg',))
      >>> parser = argparse.ArgumentParser(prog="figures")
      >>> add_figure_arguments(parser, spec=True)
      >>> args = parser.parse_args(["--spec", "my-run.toml"])
      >>> args.out, output_directory(args.out, args.spec)
      (None, PosixPath('my-run-figures'))
      >>> output_directory(None, Path("runs/my-run.toml"))
      PosixPath('runs/my-run-figures')
      >>> parser.parse_args(["--only", "schedules", "--only", "loss-landscape"]).only
      ['schedules', 'loss-landscape']
    """

    def formats(text: str) -> tuple[str, ...]:
        try:
            return parse_formats(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    default = "figures/"
    if spec:
        default += "; with --spec path/my-run.toml: path/my-run-figures/, beside the spec"
    parser.add_argument("--out", metavar="DIR", type=Path, default=None if spec else DEFAULT_OUT,
                        help=f"directory to write the figures into (default: {default})")
    parser.add_argument("--format", metavar="png,svg", type=formats, default=style.FORMATS,
                        help="comma-separated file formats (default: png,svg)")
    if spec:
        parser.add_argument(
            "--spec", metavar="FILE", type=Path,
            help="instead of the course figures, draw a TOML spec's own run, verified on "
            "every available backend first: loss per update (train, validation and batch "
            "losses, accuracy for a classifier), parameter paths (each parameter, or each "
            f"leaf's norm beyond {MAX_PARAMETER_PATHS}) and, for a classifier of exactly two "
            "features, its decision regions")
        parser.add_argument(
            "--only", metavar="NAME", action="append",
            help="render only this course figure (repeatable; see --list); README.md and "
            "the data file in --out keep the other figures already there. With --spec: "
            "only this one of the spec's figures (loss, parameters, decision-regions, "
            "lr-finder, training-animation)")
        parser.add_argument("--list", action="store_true",
                            help="print every course figure's name and what it shows, render "
                            "nothing")


def output_directory(out: Path | None, spec_file: Path | None) -> Path:
    """``--out`` if given, else :func:`spec_output_directory` with ``--spec``, else ``figures/``.

    Example:
      >>> output_directory(None, None), output_directory(Path("x"), Path("a.toml"))
      (PosixPath('figures'), PosixPath('x'))
    """
    if out is not None:
        return Path(out)
    return DEFAULT_OUT if spec_file is None else spec_output_directory(spec_file)
