"""Which steps of a training run are recorded, and what the records cost in memory.

A run of ``S`` steps that evaluates every ``E`` steps (``eval_every``) records
at the steps

    P(S, E) = {0, E, 2E, ...} ∩ [0, S)  ∪  {S - 1}

(always the first and the last step): there the batch loss, the gradient, the
parameters and the full training/validation losses; the final parameters and
their losses at ``S`` are recorded as well. ``E = 1`` records every step (the
trajectory contract). Between two recorded steps the run only trains, so a
step costs what the batch costs, not ``O(N)``.

A compiled scan needs static shapes, so the steps ``[start, stop)`` are cut
into segments (a recorded or unrecorded first step, then unrecorded steps) and
equal segments are run-length encoded into a *plan*: a tuple of
``(count, length, recorded)`` pieces, each one ``lax.scan`` of ``count``
segments of ``length`` steps. A run's plan has at most four pieces.
"""

from __future__ import annotations

import math

import numpy as np

EVALUATION_BUDGET = 2**24
"""Examples the default ``eval_every`` lets full-loss evaluations read, all together
(about 1.7e7: the lesson's 3 examples x 20 steps read 60; one epoch of 10**6
examples in batches of 32 may evaluate 16 times)."""

MAX_DEFAULT_RECORDS = 100_000
"""The default ``eval_every`` records at most this many steps (plus the last)."""

MAX_RECORD_BYTES = 2**32
"""Largest memory a run's records may take (4 GiB): larger runs are refused up front."""

Plan = tuple[tuple[int, int, bool], ...]


def default_eval_every(examples: int, steps: int) -> int:
    """``eval_every`` when none is given: every step while that is cheap, else bounded.

    ``E = ceil(S / R)`` with ``R = min(S, max(2, EVALUATION_BUDGET // examples),
    MAX_DEFAULT_RECORDS)`` evaluations, where ``examples`` is what one full
    evaluation reads (training plus validation examples). So ``E = 1`` whenever
    ``examples * S <= EVALUATION_BUDGET`` and ``S <= MAX_DEFAULT_RECORDS``.

    Example:
      >>> default_eval_every(3, 20), default_eval_every(10**6, 31_250), default_eval_every(3, 10**9)
      (1, 1954, 10000)
    """
    for name, value in (("examples", examples), ("steps", steps)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    evaluations = min(steps, max(2, EVALUATION_BUDGET // examples), MAX_DEFAULT_RECORDS)
    return math.ceil(steps / evaluations)


def check_eval_every(eval_every, *, name: str = "eval_every") -> int:
    """``eval_every`` as an int >= 1, else a one-line ``ValueError`` naming it."""
    if isinstance(eval_every, bool) or not isinstance(eval_every, (int, np.integer)) \
            or eval_every < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {eval_every!r}")
    return int(eval_every)


def record_count(steps: int, eval_every: int) -> int:
    """``|P(S, E)|``: how many steps a run records (the final parameters not counted).

    Example:
      >>> record_count(10, 1), record_count(10, 3), record_count(10, 9), record_count(10, 20)
      (10, 4, 2, 2)
    """
    multiples = -(-steps // eval_every)
    return multiples + ((steps - 1) % eval_every != 0)


def record_steps(steps: int, eval_every: int) -> np.ndarray:
    """``P(S, E)`` in increasing order, as ``int64``.

    Example:
      >>> record_steps(10, 3).tolist(), record_steps(10, 1).tolist()[-2:]
      ([0, 3, 6, 9], [8, 9])
      >>> record_steps(10, 4).tolist()
      [0, 4, 8, 9]
    """
    points = np.arange(0, steps, eval_every, dtype=np.int64)
    if points[-1] != steps - 1:
        points = np.append(points, np.int64(steps - 1))
    return points


def record_plan(start: int, stop: int, points: np.ndarray) -> Plan:
    """The plan of steps ``[start, stop)`` given the recorded steps ``points`` (sorted).

    Segments begin at ``start`` and at every recorded step inside ``[start, stop)``;
    a segment is recorded when it begins at a recorded step. Runs of equal
    ``(length, recorded)`` segments become one piece ``(count, length, recorded)``.

    Example:
      >>> record_plan(0, 10, record_steps(10, 4))
      ((2, 4, True), (2, 1, True))
      >>> record_plan(0, 5, record_steps(5, 1))
      ((5, 1, True),)
      >>> record_plan(2, 8, record_steps(10, 4))
      ((1, 2, False), (1, 4, True))
    """
    if not 0 <= start < stop:
        raise ValueError(f"record_plan needs 0 <= start < stop, got [{start}, {stop})")
    inside = points_in(points, start, stop)
    bounds = np.unique(np.concatenate([[start], inside, [stop]]))
    lengths = np.diff(bounds)
    recorded = np.isin(bounds[:-1], inside)
    plan: list[list] = []
    for length, rec in zip(lengths.tolist(), recorded.tolist(), strict=True):
        if plan and plan[-1][1] == length and plan[-1][2] == rec:
            plan[-1][0] += 1
        else:
            plan.append([1, length, rec])
    return tuple((count, length, rec) for count, length, rec in plan)


def points_in(points: np.ndarray, start: int, stop: int) -> np.ndarray:
    """The recorded steps in ``[start, stop)`` of the sorted ``points``: a slice found by
    binary search, so a run of many chunks does not scan every record per chunk.

    Example:
      >>> points_in(record_steps(10, 4), 4, 9).tolist()
      [4, 8]
    """
    points = np.asarray(points, dtype=np.int64)
    return points[np.searchsorted(points, start):np.searchsorted(points, stop)]


def plan_steps(plan: Plan) -> int:
    """Steps a plan covers: ``sum(count * length)``.

    Example:
      >>> plan_steps(((2, 4, True), (2, 1, True)))
      10
    """
    return sum(count * length for count, length, _ in plan)


def plan_records(plan: Plan) -> int:
    """Steps a plan records: the count of its recorded pieces.

    Example:
      >>> plan_records(((1, 2, False), (1, 4, True)))
      1
    """
    return sum(count for count, _, recorded in plan if recorded)


def check_record_memory(records: int, values_per_record: int, bytes_per_value: int, *,
                        what: str, fix: str) -> None:
    """Refuse, before a run starts, records that would take over :data:`MAX_RECORD_BYTES`.

    Raises:
      ValueError: one line: ``what`` records, their size, the limit, and ``fix``.

    Example:
      >>> check_record_memory(10**9, 6, 8, what="train: 1e9 steps", fix="pass eval_every")
      Traceback (most recent call last):
      ...
      ValueError: train: 1e9 steps would record 1000000000 steps of 6 values, about 44.7 GiB, \
over the 4 GiB limit: pass eval_every
    """
    size = records * values_per_record * bytes_per_value
    if size > MAX_RECORD_BYTES:
        raise ValueError(
            f"{what} would record {records} steps of {values_per_record} values, about "
            f"{size / 2**30:.3g} GiB, over the {MAX_RECORD_BYTES / 2**30:g} GiB limit: {fix}"
        )
