"""The lesson's experiments through four backends, compared step by step.

Backends (``comparisons.backends``: manual formulas, the scalar autograd
engine, PyTorch, JAX) each run an :class:`Experiment` into a
:class:`TrajectoryRecord`; :func:`compare_trajectories` checks every quantity at
every step against the reference backend and names the first mismatch. Your own
implementation's trajectory, whole or partial (a :class:`Trajectory`), is checked
against the reference by :func:`check` (``docs/checking.md``). The
command line is ``python -m comparisons`` (see :mod:`comparisons.cli`).

Example:
  >>> import comparisons
  >>> spec = comparisons.parse_spec('''
  ... name = "one-step"
  ... [data]
  ... train = [[2.0, 6.0]]
  ... [model]
  ... w = 1.0
  ... b = 0.0
  ... [optimizer]
  ... name = "sgd"
  ... learning_rate = 0.1
  ... [run]
  ... steps = 1
  ... ''')
  >>> spec.train, spec.hyperparams
  (((2.0, 6.0),), {'learning_rate': 0.1})
"""

import functional_training._interrupts  # noqa: F401 -- first: Ctrl-C in start-up, one line
from comparisons.check import Verdict, check
from comparisons.compare import (
    BackendVerdict,
    ExperimentVerdict,
    Mismatch,
    compare_trajectories,
    run_and_compare,
)
from comparisons.experiments import REGISTRY, Experiment, batch_order
from comparisons.faults import FAULTS, Fault, FaultResult, check_fault, check_faults
from comparisons.lesson_outputs import lesson_blocks
from comparisons.record import Recorder, RecordError
from comparisons.spec import SpecError, dump_spec, load_spec, parse_spec
from comparisons.trajectory import Trajectory, TrajectoryError
from comparisons.transcript import transcript
from functional_training import TrajectoryRecord

__all__ = [
    "FAULTS",
    "REGISTRY",
    "BackendVerdict",
    "Experiment",
    "ExperimentVerdict",
    "Fault",
    "FaultResult",
    "Mismatch",
    "RecordError",
    "Recorder",
    "SpecError",
    "Trajectory",
    "TrajectoryError",
    "TrajectoryRecord",
    "Verdict",
    "batch_order",
    "check",
    "check_fault",
    "check_faults",
    "compare_trajectories",
    "dump_spec",
    "lesson_blocks",
    "load_spec",
    "parse_spec",
    "run_and_compare",
    "transcript",
]
