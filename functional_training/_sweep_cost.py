"""What a sweep will cost, estimated before anything is compiled: work and memory.

A sweep of ``R`` runs (rates x hyperparameter settings x seeds: every value of
every hyperparameter axis multiplies ``R``), ``S`` steps, ``B`` examples a step
(``n`` for full batch), ``P`` parameters a run and ``O`` optimizer-state values
a run (``jax.eval_shape`` of the optimizer's ``init``, so any optimizer is
counted exactly; with ``A >= 1`` hyperparameter axes, ``1 + A`` more: the run's
rate and its value of each swept setting, kept in its state) holds, in ``b``-byte numbers (4 for
float32, 8 for float64):

- state: ``R (2 P + O) b``: the parameters, their gradient, the optimizer state;
- records: ``R (S // K + 1) b``: the recorded losses (every ``K`` steps);
- activations: ``3 R B W b``: every layer's outputs for a batch (``W``, the sum
  of the widths the kind's leaves produce), kept for the backward pass, and
  their gradients, with one more copy as slack;
- data: ``n (d + 1) b``.

The work is ``R S B`` example-steps (each a forward and backward pass of one
example through ``P`` parameters, about ``6 P`` floating-point operations).
These are estimates of the order of magnitude, good enough to refuse a sweep
that cannot fit (:func:`check_sweep_memory`) and to tell the user what is
coming (:meth:`SweepCost.describe`), not a measurement.

Example:
  >>> import functional_training as ft
  >>> cost = sweep_cost(ft.objective("linear", features=1), examples=6, batch=6, runs=10,
  ...                   steps=100, record_every=1, optimizer="sgd", itemsize=4)
  >>> cost.parameters, cost.example_steps
  (2, 6000)
  >>> cost.describe()
  'sweep: 10 runs x 100 steps x 6 examples = 6,000 example-steps (2 parameters a run); \
memory about 4.9 KiB'
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping
from typing import NamedTuple

import jax
import numpy as np

from functional_training._messages import size_text
from functional_training._models import model_kind
from functional_training._objective import Objective
from functional_training._optimizers import make_optimizer

__all__ = ["SweepCost", "check_sweep_memory", "physical_memory", "sweep_cost"]


class SweepCost(NamedTuple):
    """A sweep's estimated work and memory (see the module docstring for each term).

    Attributes:
      runs: ``R``, rates x hyperparameter settings x seeds.
      steps: ``S``.
      batch: ``B``, examples a step.
      parameters: ``P``, a run's parameters.
      state_bytes, record_bytes, activation_bytes, data_bytes: the memory terms.
    """

    runs: int
    steps: int
    batch: int
    parameters: int
    state_bytes: int
    record_bytes: int
    activation_bytes: int
    data_bytes: int

    @property
    def example_steps(self) -> int:
        """``R S B``: one example through one step of one run."""
        return self.runs * self.steps * self.batch

    @property
    def total_bytes(self) -> int:
        """Every memory term added up."""
        return self.state_bytes + self.record_bytes + self.activation_bytes + self.data_bytes

    def describe(self) -> str:
        """One line: the work and the memory, for a user about to wait."""
        return (f"sweep: {_many(self.runs, 'run')} x {_many(self.steps, 'step')} x "
                f"{_many(self.batch, 'example')} = {_count(self.example_steps)} example-steps "
                f"({_many(self.parameters, 'parameter')} a run); "
                f"memory about {size_text(self.total_bytes)}")


def sweep_cost(model: Objective, *, examples: int, batch: int, runs: int, steps: int,
               record_every: int, optimizer: str,
               hyperparameters: Mapping[str, float] | None = None,
               itemsize: int) -> SweepCost:
    """The estimate for a sweep of ``model`` (see the module docstring).

    Args:
      model: the objective.
      examples: ``n``, the training examples.
      batch: ``B``, the examples a step (``n`` for full batch).
      runs, steps, record_every: ``R``, ``S``, ``K``.
      optimizer, hyperparameters: the optimizer (its state is counted exactly); a
        hyperparameter given as a list of values is an axis of the sweep, already
        counted in ``runs``: each run keeps its value (and its rate) in its state.
      itemsize: bytes a number (4 or 8).
    """
    kind = model_kind(model.model)
    shapes = kind.shapes(**model.settings)
    parameters = sum(math.prod(shape) for shape in shapes.values())
    settings = dict(hyperparameters or {})
    axes = [key for key, value in settings.items() if np.ndim(value) > 0]
    first = {key: float(np.ravel(settings[key])[0]) for key in axes}
    optimizer_values = _optimizer_state_values(
        optimizer, tuple((leaf, tuple(shape)) for leaf, shape in shapes.items()),
        tuple(sorted((key, _scalar(value)) for key, value in {**settings, **first}.items()))
    ) + (1 + len(axes) if axes else 0)
    widths = sum(shape[-1] for shape in shapes.values() if len(shape) >= 1) or 1
    inputs = kind.inputs(**model.settings)
    return SweepCost(
        runs=runs, steps=steps, batch=batch, parameters=parameters,
        state_bytes=runs * (2 * parameters + optimizer_values) * itemsize,
        record_bytes=runs * (steps // record_every + 1) * itemsize,
        activation_bytes=3 * runs * batch * widths * itemsize,
        data_bytes=examples * (inputs + 1) * itemsize,
    )


def _scalar(value):
    """A hyperparameter as a hashable Python scalar (a NumPy scalar or 0-d array's item)."""
    return value.item() if isinstance(value, (np.ndarray, np.generic)) else value


@functools.lru_cache(maxsize=64)
def _optimizer_state_values(optimizer: str, shapes: tuple, settings: tuple) -> int:
    """``O``: the numbers in ``optimizer``'s state for parameters of ``shapes`` (``eval_shape``).

    Remembered (``_optimizer_state_values.cache_clear()`` forgets): tracing ``init``
    costs about half a millisecond, more than a small sweep's whole run.
    """
    params = {leaf: jax.ShapeDtypeStruct(shape, np.float32) for leaf, shape in shapes}
    transform = make_optimizer(optimizer, learning_rate=0.1, **dict(settings))
    state = jax.eval_shape(transform.init, params)
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(state))


def physical_memory() -> int | None:
    """This machine's physical memory in bytes (``None`` where the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not POSIX, or the name is unknown
        return None


def check_sweep_memory(cost: SweepCost, limit: int | None = None) -> None:
    """Refuse, before compiling, a sweep whose estimate exceeds ``limit`` (default: RAM).

    Raises:
      ValueError: one line with the estimate, the limit, and what to reduce.

    Example:
      >>> check_sweep_memory(SweepCost(10**6, 10, 6, 10**4, 8 * 10**10, 0, 0, 0), limit=2**34)
      Traceback (most recent call last):
      ...
      ValueError: the sweep needs about 75 GiB (1,000,000 runs of 10,000 parameters), more \
than the 16 GiB of memory here: sweep fewer rates, hyperparameter values or seeds, or a \
smaller model
    """
    limit = physical_memory() if limit is None else limit
    if limit is not None and cost.total_bytes > limit:
        raise ValueError(
            f"the sweep needs about {size_text(cost.total_bytes)} ({cost.runs:,} runs of "
            f"{cost.parameters:,} parameters), more than the {size_text(limit)} of memory here: "
            "sweep fewer rates, hyperparameter values or seeds, or a smaller model")


def _many(n: int, noun: str) -> str:
    """``1 run``, ``1,000 runs``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _count(n: int) -> str:
    """``6,000``; ``6.0e+12`` from a million up."""
    return f"{n:,}" if n < 10**6 else f"{n:.1e}"
