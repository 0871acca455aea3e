"""What counts as an integer or a number in settings, spec values and JSON: one owner.

Python's ``bool`` is a subclass of ``int``; a setting such as ``steps = true``
or ``"l2": false`` is a mistake, never the number 1 or 0, so both checks
refuse booleans.

Example:
  >>> is_int(3), is_int(True), is_int(3.0)
  (True, False, False)
  >>> is_number(0.5), is_number(2), is_number(False), is_number("1")
  (True, True, False, False)
"""

from __future__ import annotations


def is_int(value) -> bool:
    """Whether ``value`` is a Python ``int`` and not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    """Whether ``value`` is a Python ``int`` or ``float`` and not a ``bool`` (NaN included)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
