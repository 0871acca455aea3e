"""Classic training bugs as variants of the reference, their diagnosis, and the gallery.

One concept per module:

- :mod:`comparisons.faults.variants`: each bug as the manual backend's run with
  one piece replaced (:data:`VARIANTS`, :func:`run_variant`, :func:`fault_variants`;
  a bug's forms share a :attr:`FaultVariant.family`; :func:`wrong_learning_rate`
  builds the wrong-rate bug at any factor);
- :mod:`comparisons.faults.jax_variants`: the same variants, where a bug is a
  number of the step, as knobs of one compiled float64 JAX program (every variant
  at once; the diagnosis's path for large runs);
- :mod:`comparisons.faults.diagnosis`: which variants a mismatching trajectory
  agrees with (:func:`diagnose`, :func:`fault_differences`);
- :mod:`comparisons.faults.gallery`: each bug on an experiment that shows it,
  caught by the comparator (:data:`FAULTS`, :func:`check_fault`, :func:`check_faults`).

Example:
  >>> len(FAULTS) == len(VARIANTS)
  True
"""

from comparisons.faults.diagnosis import (
    Diagnoses,
    Diagnosis,
    describe_diagnoses,
    diagnose,
    fault_differences,
)
from comparisons.faults.gallery import FAULTS, Fault, FaultResult, check_fault, check_faults
from comparisons.faults.variants import (
    VARIANTS,
    FaultVariant,
    fault_variants,
    run_variant,
    wrong_learning_rate,
)

__all__ = [
    "FAULTS",
    "VARIANTS",
    "Diagnoses",
    "Diagnosis",
    "Fault",
    "FaultResult",
    "FaultVariant",
    "check_fault",
    "check_faults",
    "describe_diagnoses",
    "diagnose",
    "fault_differences",
    "fault_variants",
    "run_variant",
    "wrong_learning_rate",
]
