"""The lesson's printed outputs for the tests: read from the one packaged copy.

The lines are typed once, in :mod:`comparisons.lesson_outputs` (the CLI's
``lesson --check`` needs them on an installed copy, where ``tests/`` is absent).
"""

from __future__ import annotations

import re

from comparisons.lesson_outputs import lesson_blocks

__all__ = ["lesson_blocks", "numbers"]


def numbers(line: str) -> list[float]:
    """Every decimal number printed on a lesson line, in order (step counters included)."""
    return [float(token) for token in re.findall(r"-?\d+\.\d+|-?\d+", line.split(":", 1)[-1])]
