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
