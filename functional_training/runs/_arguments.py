"""What the command-line subcommands share: argument types and the common options.

Argument types (argparse ``type=`` callables) raise ``argparse.ArgumentTypeError``
with a message naming what was expected; argparse prefixes the option's name,
and the CLI prints that one line and exits 2.

The options every program that runs training has (``--data --steps --seed
--batch-size --dtype --optimizer --json``) are declared here once, each by an
``add_*_option(parser)`` function with one type, metavar and default; a caller
adds a ``note`` to the help for what the option means in its program (``default:
the spec's``). A default that must differ is given with its reason, which the
help shows (:func:`add_dtype_option`).

Example:
  >>> parser = argparse.ArgumentParser()
  >>> add_steps_option(parser)
  >>> add_dtype_option(parser)
  >>> args = parser.parse_args(["--steps", "20"])
  >>> args.steps, args.dtype
  (20, 'float64')
"""

from __future__ import annotations

import argparse
import math

from functional_training._datasets import data_argument
from functional_training._optimizers import OPTIMIZER_NAMES
from functional_training._precision import DTYPES

DEFAULT_DTYPE = "float64"
"""The precision every program runs in unless it says why not (``--dtype``): float64, so
runs are compared with the float64 references bit for bit or within 1e-12."""


def _integer(text: str, *, minimum: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer {expected}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be an integer {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer > 0 (steps, batch sizes, intervals).

    Example:
      >>> positive_int("3")
      3
    """
    return _integer(text, minimum=1, expected="> 0")


def nonnegative_int(text: str) -> int:
    """An integer >= 0 (seeds).

    Example:
      >>> nonnegative_int("0")
      0
    """
    return _integer(text, minimum=0, expected=">= 0")


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rates).

    Example:
      >>> positive_float("0.08")
      0.08
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be finite and > 0, got {text!r}")
    return value


def name_value(text: str) -> tuple[str, float]:
    """``NAME=VALUE`` with a numeric value (optimizer hyperparameters).

    Example:
      >>> name_value("momentum=0.9")
      ('momentum', 0.9)
    """
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: expected a number, got {value!r}") from None
    return name.strip(), number


def name_values(pairs, *, flag: str = "--hyperparameter") -> dict[str, float]:
    """The repeated ``NAME=VALUE`` pairs of ``flag`` as a dict; a name given twice is refused.

    Example:
      >>> name_values([("momentum", 0.9), ("nesterov", 1.0)])
      {'momentum': 0.9, 'nesterov': 1.0}
      >>> name_values([("b1", 0.8), ("b1", 0.9)])
      Traceback (most recent call last):
      ...
      ValueError: --hyperparameter: b1 given twice
    """
    values: dict[str, float] = {}
    for name, value in pairs:
        if name in values:
            raise ValueError(f"{flag}: {name} given twice")
        values[name] = value
    return values


def column_names(text: str) -> list[str]:
    """Comma-separated column names (``--features a,b,c``), none empty.

    Example:
      >>> column_names("disruption, distance_100km")
      ['disruption', 'distance_100km']
    """
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated column names like a,b,c, got {text!r}"
        )
    return names


def add_column_arguments(parser: argparse.ArgumentParser) -> None:
    """``--features a,b,c`` and ``--target y``: the columns of a ``--data`` file."""
    parser.add_argument("--features", type=column_names, metavar="A,B,...",
                        help="feature columns of a --data file (default: every column but the "
                             "target)")
    parser.add_argument("--target", metavar="COLUMN",
                        help="target column of a --data file (default: the last column)")


# --------------------------------------------------------------------------- shared options


def _help(text: str, note: str | None) -> str:
    return text if note is None else f"{text} ({note})"


def add_data_option(parser, *, note: str | None = None) -> None:
    """``--data NAME``: a named data set or a data file (:func:`functional_training.named_data`)."""
    parser.add_argument("--data", type=data_argument, metavar="NAME", help=_help(
        "one-shipment, shipments, synthetic:N (N may be written 1_000), or a data file: .csv "
        "(with a header row), .parquet, .npy, .npz", note))


def add_steps_option(parser, *, note: str | None = None) -> None:
    """``--steps S``: optimizer steps, an integer > 0 (``parser`` may be a group)."""
    parser.add_argument("--steps", type=positive_int, metavar="S",
                        help=_help("optimizer steps", note))


def add_seed_option(parser, *, note: str | None = None) -> None:
    """``--seed K``: the mini-batch order's seed, an integer >= 0."""
    parser.add_argument("--seed", type=nonnegative_int, metavar="K",
                        help=_help("seed of the mini-batch order", note))


def add_batch_size_option(parser, *, note: str | None = None) -> None:
    """``--batch-size B``: examples per step, an integer > 0 (default: full batch)."""
    parser.add_argument("--batch-size", type=positive_int, metavar="B",
                        help=_help("examples per gradient step",
                                   "default: full batch" + ("" if note is None else f"; {note}")))


def add_dtype_option(parser, *, default: str = DEFAULT_DTYPE, why: str | None = None) -> None:
    """``--dtype``: float64 (:data:`DEFAULT_DTYPE`) or float32.

    A program whose default differs passes it with ``why``, shown in the help.

    Raises:
      ValueError: a default other than :data:`DEFAULT_DTYPE` without a reason.
    """
    if default != DEFAULT_DTYPE and not why:
        raise ValueError(f"--dtype: a default other than {DEFAULT_DTYPE} needs its reason")
    reason = why or "runs are checked against float64 references bit for bit or within 1e-12"
    parser.add_argument("--dtype", choices=DTYPES, default=default,
                        help=f"precision of the run (default {default}: {reason})")


def add_optimizer_option(parser, *, note: str | None = None) -> None:
    """``--optimizer NAME``: one of :data:`functional_training.OPTIMIZER_NAMES`."""
    parser.add_argument("--optimizer", choices=OPTIMIZER_NAMES,
                        help=_help("the optimizer, with optax's defaults for its other "
                                   "settings", note))


def add_json_option(parser, *, what: str) -> None:
    """``--json PATH``: write ``what`` (a strict-JSON report, manifest inside) to ``PATH``."""
    parser.add_argument("--json", metavar="PATH", help=f"write {what} to PATH")


def add_hyperparameter_option(parser) -> None:
    """``--hyperparameter NAME=VALUE`` (repeatable): another optimizer setting."""
    parser.add_argument("--hyperparameter", action="append", type=name_value, default=[],
                        metavar="NAME=VALUE",
                        help="another optimizer setting, e.g. momentum=0.9 (repeatable)")
