"""Precision policy: how to run in float64, and the tolerances every comparison uses."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax
import numpy as np

DTYPES = ("float64", "float32")
"""The precisions a run can compute in: float64 (verification) and float32 (accelerators).

Every command line's ``--dtype``, the run settings, the backends and the manifest
schema accept exactly these."""

FLOAT64_TOLERANCE = 1e-12
"""rtol = atol for float64 verification.

Every lesson experiment is a few dozen multiply-adds per step on numbers of
order 1..1e3; independent float64 implementations differ by a few ulps
(eps64 = 2.2e-16) per step, so 1e-12 leaves three orders of magnitude of
headroom while still catching any real convention difference (which shows up
at 1e-3 or larger)."""

FLOAT32_ULPS_PER_STEP = 32
"""Rounding budget per optimizer step in float32, in units of eps32.

One step of the lesson's models is a handful of fused multiply-adds, a mean
over the batch and an update; each rounds to within eps/2. 32 eps per step
bounds those roundings plus the reduction-order differences between XLA,
PyTorch and NumPy, and errors of a stable (non-diverging) iteration add up at
most linearly in the number of steps."""


@contextlib.contextmanager
def float64() -> Iterator[None]:
    """Run the enclosed JAX code with 64-bit floats enabled.

    The one documented way to run ``functional_training`` in float64: it sets
    ``jax_enable_x64`` for the enclosed block only and restores it afterwards,
    so importing this package never changes global JAX config.

    Example:
      >>> import jax.numpy as jnp
      >>> with float64():
      ...     print(jnp.asarray(1.0).dtype)
      float64
      >>> print(jnp.asarray(1.0).dtype)
      float32
    """
    with jax.enable_x64(True):
        yield


def precision(dtype) -> contextlib.AbstractContextManager[None]:
    """The context a run in ``dtype`` needs: :func:`float64` for float64, else nothing.

    Example:
      >>> import jax.numpy as jnp
      >>> with precision("float64"):
      ...     print(jnp.asarray(1.0).dtype)
      float64
      >>> with precision("float32"):
      ...     print(jnp.asarray(1.0).dtype)
      float32
    """
    return float64() if np.dtype(dtype) == np.float64 else contextlib.nullcontext()


def tolerance(dtype, steps: int) -> float:
    """rtol = atol used to compare two implementations' trajectories.

    float64 uses :data:`FLOAT64_TOLERANCE` whatever the step count. Lower
    precisions use ``FLOAT32_ULPS_PER_STEP * eps(dtype) * (steps + 1)``: each
    optimizer step can add a bounded number of roundings, and a stable
    iteration adds them up at most linearly.

    Args:
      dtype: the floating dtype the runs were computed in.
      steps: the number of optimizer steps in the trajectories compared.

    Returns:
      The relative and absolute tolerance, as one float.

    Example:
      >>> tolerance("float64", 20)
      1e-12
      >>> round(tolerance("float32", 9) / float(np.finfo(np.float32).eps))
      320
    """
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return FLOAT64_TOLERANCE
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"tolerance: dtype must be a floating dtype, got {dtype}")
    if steps < 0:
        raise ValueError(f"tolerance: steps must be >= 0, got {steps}")
    return FLOAT32_ULPS_PER_STEP * float(np.finfo(dtype).eps) * (steps + 1)
