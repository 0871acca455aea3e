"""The lesson's data sets, typed once: ``(x, target)`` pairs of shipments.

``x`` is a disruption score, the target the extra delay in hours. Both
packages read them from here: ``functional_training``'s named data
(``--data one-shipment``, ``--data shipments``) and ``comparisons``'
experiment registry.

Example:
  >>> SHIPMENTS
  ((1.0, 3.0), (2.0, 5.0), (3.0, 7.0))
"""

from __future__ import annotations

ONE_SHIPMENT = ((2.0, 6.0),)
"""The lesson's first example: ``x = 2``, ``y = 6`` (start at ``w = 1, b = 0``)."""

SHIPMENTS = ((1.0, 3.0), (2.0, 5.0), (3.0, 7.0))
"""Three shipments on the line ``extra_delay = 2 * disruption + 1`` (start at zero)."""

PEAK_SEASON = ((1.0, 4.0), (2.0, 8.0), (3.0, 12.0))
"""Training data of the train/validation block: delays double in peak season."""

NORMAL_WEEK = ((1.0, 2.0), (2.0, 4.0), (3.0, 6.0))
"""Validation data of the train/validation block: a normal week."""

MANY_SHIPMENTS = (
    (0.5, 2.1), (1.0, 2.8), (1.5, 4.3), (2.0, 4.9), (2.5, 6.2),
    (3.0, 6.8), (3.5, 8.1), (4.0, 9.2), (4.5, 9.8), (5.0, 11.3),
)
"""Ten shipments for the mini-batch run: roughly ``2 x + 1`` with real records' scatter."""
