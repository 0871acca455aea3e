"""The least-squares line through ``(x, y)`` points, exactly (the target a run converges to).

``w* = sum (x - mean x)(y - mean y) / sum (x - mean x)^2`` and
``b* = mean y - w* mean x``, computed in exact rational arithmetic
(``fractions.Fraction`` of the floats) and rounded once to float64. The result
is the correctly rounded least-squares solution, the same on every machine:
``numpy.linalg.lstsq`` goes through LAPACK, whose rounding depends on the BLAS
build and thread count, so a figure's data computed that way could change by
itself from one machine to the next.

Example:
  >>> least_squares_line([1.0, 2.0, 3.0], [3.0, 5.0, 7.0])
  (2.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

__all__ = ["least_squares_line"]


def least_squares_line(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """``(w*, b*)`` minimising ``sum (w x_i + b - y_i)^2``, correctly rounded to float64.

    Raises:
      ValueError: fewer than two distinct ``x`` values (the line is not determined),
        or ``x`` and ``y`` of different lengths.
    """
    if len(x) != len(y):
        raise ValueError(f"least_squares_line: {len(x)} x values but {len(y)} y values")
    xs, ys = [Fraction(v) for v in x], [Fraction(v) for v in y]
    n = len(xs)
    if n < 2 or len(set(xs)) < 2:
        raise ValueError("least_squares_line: needs at least two distinct x values")
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    spread = sum((v - mean_x) ** 2 for v in xs)
    w = sum((u - mean_x) * (v - mean_y) for u, v in zip(xs, ys, strict=True)) / spread
    return float(w), float(mean_y - w * mean_x)
