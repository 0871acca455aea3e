"""Spec files: the TOML value checks every table uses, and the one error type.

Each check returns the value or raises :class:`SpecError` with a one-line message
that starts with the key (``[run].steps: must be an integer > 0, got 0``);
booleans are never numbers (:func:`functional_training.is_number`).
"""

from __future__ import annotations

import math

from functional_training._numbers import is_int, is_number


class SpecError(ValueError):
    """A spec file that cannot be read or does not describe a valid run."""


def key_path(table: str, key: str) -> str:
    """How messages name a key: ``[table].key``, or ``key`` at the top level.

    Example:
      >>> key_path("run", "steps"), key_path("", "name")
      ('[run].steps', 'name')
    """
    return f"[{table}].{key}" if table else key


def only_keys(table: str, data: dict, allowed: tuple[str, ...]) -> None:
    """Refuse the first key of ``data`` that is not ``allowed``."""
    for key in data:
        if key not in allowed:
            raise SpecError(f"{key_path(table, key)}: unknown key; expected {', '.join(allowed)}")


def table_of(data: dict, key: str, *, optional: bool = False) -> dict | None:
    """The table ``[key]`` of ``data`` (``None`` when ``optional`` and absent)."""
    if key not in data:
        if optional:
            return None
        raise SpecError(f"[{key}]: missing table")
    if not isinstance(data[key], dict):
        raise SpecError(f"[{key}]: expected a table, got {kind_words(data[key])}")
    return data[key]


def string_at(data: dict, table: str, key: str) -> str:
    """A required non-empty string."""
    if key not in data:
        raise SpecError(f"{key_path(table, key)}: missing")
    value = data[key]
    if not isinstance(value, str):
        raise SpecError(f"{key_path(table, key)}: expected a string, got {kind_words(value)}")
    if not value:
        raise SpecError(f"{key_path(table, key)}: is empty")
    return value


def number_at(value, where: str) -> float:
    """A finite number (not a boolean) as a float; ``where`` names it in the message."""
    if not is_number(value):
        raise SpecError(f"{where}: expected a number, got {kind_words(value)}")
    if not math.isfinite(value):
        raise SpecError(f"{where}: must be finite, got {value}")
    return float(value)


def finite_at(data: dict, table: str, key: str) -> float:
    """A required finite number."""
    if key not in data:
        raise SpecError(f"{key_path(table, key)}: missing")
    return number_at(data[key], key_path(table, key))


def integer_at(data: dict, table: str, key: str, *, low: int, high: int | None) -> int:
    """A required integer in ``[low, high]`` (no upper bound when ``high`` is ``None``).

    Example:
      >>> integer_at({"steps": 0}, "run", "steps", low=1, high=None)
      Traceback (most recent call last):
      ...
      functional_training.runs._spec_toml.SpecError: [run].steps: must be an integer > 0, got 0
    """
    where = key_path(table, key)
    if key not in data:
        raise SpecError(f"{where}: missing")
    value = data[key]
    bound = "an integer > 0" if low == 1 else f"an integer >= {low}"
    if not is_int(value):
        raise SpecError(f"{where}: must be {bound}, got {kind_words(value)}")
    if value < low:
        raise SpecError(f"{where}: must be {bound}, got {value}")
    if high is not None and value > high:
        raise SpecError(f"{where}: must be at most {high}, got {value}")
    return value


def kind_words(value) -> str:
    """What a TOML value is, in words (``"a string"``, ``"a table"``)."""
    kinds = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
             list: "a list", dict: "a table"}
    return kinds.get(type(value), type(value).__name__)


def shortened(value) -> str:
    """``repr(value)``, cut to 40 characters for a one-line message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
