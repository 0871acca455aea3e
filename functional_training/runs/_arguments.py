"""Argument types shared by the command-line subcommands (argparse ``type=`` callables).

Each raises ``argparse.ArgumentTypeError`` with a message naming what was expected;
argparse prefixes the option's name, and the CLI prints that one line and exits 2.
"""

from __future__ import annotations

import argparse
import math


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
