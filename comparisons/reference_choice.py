"""Which backend a check compares with: ``manual`` where it is fast, ``jax`` beyond.

The ``manual`` backend (the lesson's formulas on Python floats) is the reference
of every comparison, but its cost grows as parameters x examples x steps: a
784-500-10 MLP (397,510 parameters) over 100 steps on 1,000 examples is about
4 * 10^10 multiply-adds in Python, hours. ``check`` therefore takes the ``jax``
backend in float64 (``functional_training``: one jitted ``lax.scan``, the same
arithmetic the comparisons verify against ``manual`` on every registry experiment)
when the work :func:`manual_work` estimates passes :data:`MANUAL_WORK_LIMIT`, and
says so in its output; ``--reference`` (``check(reference=...)``) overrides the choice.

Example:
  >>> from comparisons.experiments import REGISTRY
  >>> choose_reference(REGISTRY["five-steps"])
  ReferenceChoice(name='manual', reason=None)
"""

from __future__ import annotations

import math
from typing import NamedTuple

from comparisons.experiments import Experiment
from functional_training import model_kind

__all__ = ["MANUAL_WORK_LIMIT", "ReferenceChoice", "choose_reference", "manual_work",
           "parameter_count"]

MANUAL_WORK_LIMIT = 20_000_000
"""The most parameter x example x step products the ``manual`` reference is chosen for:
measured on 2 cores, about 10 s of Python (``benchmarks/large_check.py``)."""

LARGE_REFERENCE = "jax"
"""The reference of a check past :data:`MANUAL_WORK_LIMIT` (run in float64)."""


class ReferenceChoice(NamedTuple):
    """The reference backend and, when it was chosen for the run's size, why."""

    name: str
    reason: str | None


def parameter_count(experiment: Experiment) -> int:
    """How many scalar parameters the model has: ``len(experiment.parameter_names)``,
    from the kind's leaf shapes (not 397,510 names built to be counted).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> parameter_count(REGISTRY["single-update"])
      2
    """
    if experiment.kind == "shared-path":
        return len(experiment.parameter_names)
    shapes = model_kind(experiment.model).shapes(**experiment.model_config)
    return sum(math.prod(shape) for shape in shapes.values())


def manual_work(experiment: Experiment) -> int:
    """Parameters x examples evaluated per step x (steps + 1): what ``manual``'s time follows.

    Each step evaluates the full training (and validation) loss and the batch's gradient.

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> manual_work(REGISTRY["single-update"])  # 2 parameters, 1 row + 1 in the batch, 2
      8
    """
    if experiment.kind == "shared-path":
        return 1
    rows = len(experiment.train) + len(experiment.validation or ())
    batch = experiment.batch_size or len(experiment.train)
    return parameter_count(experiment) * (rows + batch) * (experiment.steps + 1)


def choose_reference(experiment: Experiment) -> ReferenceChoice:
    """``manual``, or ``jax`` with the reason when :func:`manual_work` passes the limit."""
    work = manual_work(experiment)
    if work <= MANUAL_WORK_LIMIT:
        return ReferenceChoice("manual", None)
    return ReferenceChoice(
        LARGE_REFERENCE,
        f"{LARGE_REFERENCE} in float64, chosen for the size: "
        f"{parameter_count(experiment):,} parameters x examples x steps = {work:.1e} is past "
        f"manual's {MANUAL_WORK_LIMIT:.0e} (--reference manual to insist)")
