"""The float32 hint: a trajectory that carries float32 rounding, checked at float64, says so.

A loop that trains in float32 (torch's default dtype, JAX without x64) and is
checked at the default ``--dtype float64`` differs from the float64 reference at
step 0 by float32's rounding (relative ~6e-8), far beyond float64's tolerance.
That is not a bug of the loop but of the check's settings, so the verdict adds one
line suggesting ``--dtype float32`` when the values show either sign of float32:

- **float32 numbers**: every finite value supplied is exactly a float32 number
  (``float(numpy.float32(v)) == v``), and at least :data:`EVIDENCE` of them are not
  short binary fractions (more than :data:`SHORT_BITS` significant bits), which a
  float64 computation gives only by chance (about 2^-29 per value);
- **float32 agreement**: compared in float32 (both sides rounded to float32, float32's
  tolerance) the trajectory agrees, and its first float64 mismatch is relatively
  larger than :data:`FLOAT64_NOISE` (a float64 loop that differs only in the last
  bits is not a float32 loop).

It is a hint, never a verdict: the mismatch stays a mismatch, and a loop that
carries float32 rounding *and* a bug still shows the bug when checked at float32.

Example:
  >>> import numpy as np
  >>> values = [float(np.float32(v)) for v in (0.1, 1.7, -2.3, 8.0)]
  >>> float32_hint(values, dtype="float64", agree=False, agrees_at_float32=lambda: False,
  ...              first_relative_diff=3e-8)
  'hint: every value you supplied is a float32 number: your loop looks float32; check it \
with --dtype float32'
  >>> float32_hint([0.1, 1.7, -2.3], dtype="float64", agree=False,
  ...              agrees_at_float32=lambda: False, first_relative_diff=0.5) is None
  True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

EVIDENCE = 3
"""How many long float32 numbers (not short binary fractions) the first sign needs."""

SHORT_BITS = 16
"""Significant bits a value may have and still be a 'short' number (``1.0``, ``0.375``,
``8.5``), which float64 and float32 computations both give exactly."""

FLOAT64_NOISE = 1e-9
"""Relative differences below this are float64 rounding, not float32's (~6e-8)."""


def is_float32(value: float) -> bool:
    """Whether ``value`` is exactly a float32 number (finite values only).

    Example:
      >>> is_float32(0.1), is_float32(float(np.float32(0.1)))
      (False, True)
    """
    with np.errstate(over="ignore"):
        return math.isfinite(value) and float(np.float32(value)) == value


def significant_bits(value: float) -> int:
    """The bits of ``value``'s binary significand up to its last 1 (0 for 0.0).

    Example:
      >>> significant_bits(1.0), significant_bits(0.375), significant_bits(0.1)
      (1, 2, 52)
    """
    if value == 0.0:
        return 0
    mantissa, _ = math.frexp(abs(value))  # value = mantissa * 2^e, 0.5 <= mantissa < 1
    numerator, _ = mantissa.as_integer_ratio()  # denominator a power of two, odd numerator
    return numerator.bit_length()


def looks_float32(values: Iterable[float]) -> bool:
    """Every finite value is a float32 number, and :data:`EVIDENCE` of them are long.

    Example:
      >>> looks_float32([float(np.float32(v)) for v in (0.1, 0.2, 0.3)])
      True
      >>> looks_float32([1.0, 0.5, 8.0])  # short numbers: float64 gives them exactly too
      False
    """
    long = 0
    for value in values:
        if not math.isfinite(value):
            continue
        if not is_float32(value):
            return False
        long += significant_bits(value) > SHORT_BITS
    return long >= EVIDENCE


def float32_hint(values: Iterable[float], *, dtype: str, agree: bool,
                 agrees_at_float32: Callable[[], bool],
                 first_relative_diff: float | None) -> str | None:
    """The one-line hint for a float64 check of a trajectory that looks float32, or ``None``.

    Args:
      values: every value the trajectory supplied (its numbers; batches excluded).
      dtype: the precision the check compared in (only ``float64`` checks get a hint).
      agree: whether the check agreed (an agreeing check gets no hint).
      agrees_at_float32: compares the same trajectory at ``float32`` (called only when
        the values are not float32 numbers themselves).
      first_relative_diff: ``|yours - reference| / |reference|`` at the first mismatch
        (``None``: not a number there).
    """
    if dtype != "float64" or agree:
        return None
    if looks_float32(values):
        return ("hint: every value you supplied is a float32 number: your loop looks "
                "float32; check it with --dtype float32")
    if (first_relative_diff is not None and first_relative_diff > FLOAT64_NOISE
            and agrees_at_float32()):
        return ("hint: your trajectory agrees with the reference at float32's tolerance: "
                "your loop looks float32; check it with --dtype float32")
    return None


def relative_diff(expected, actual) -> float | None:
    """``|actual - expected| / |expected|`` of a mismatch's two numbers, or ``None``.

    Example:
      >>> relative_diff(2.0, 2.5), relative_diff(None, 1.0)
      (0.25, None)
    """
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (expected, actual)):
        return None
    if expected == 0:
        return math.inf if actual != 0 else 0.0
    return abs(actual - expected) / abs(expected)
