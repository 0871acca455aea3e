"""Looking a kind up in its registry table, with the one message for an unknown name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


def lookup(table: Mapping[str, T], name: str, *, what: str) -> T:
    """``table[name]``, or a one-line ``ValueError`` listing the known names.

    Example:
      >>> lookup({"sgd": 1}, "sgd", what="optimizer")
      1
      >>> lookup({"sgd": 1}, "rmsprop", what="optimizer")
      Traceback (most recent call last):
      ...
      ValueError: unknown optimizer 'rmsprop'; expected one of sgd
    """
    if not isinstance(name, str) or name not in table:
        raise ValueError(f"unknown {what} {name!r}; expected one of {', '.join(table)}")
    return table[name]
