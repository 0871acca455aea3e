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


OVERFLOW_HEADROOM = 4
"""How far below a dtype's largest value, per example averaged, a value is at the overflow edge.

A mean loss over ``n`` examples is computed through the sum of the ``n``
halved squares (up to ``n`` times the mean) and each square before it is
halved (2 times): a correct implementation overflows to ``inf`` once the exact
value passes ``max / (2 n)``, another one (a different order of the same
operations) only at ``max``. 4 = 2 x 2 leaves a factor of 2 for the rest."""


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


def tolerance(dtype, steps: int, *, b2: float | None = None) -> float:
    """rtol = atol used to compare two implementations' trajectories.

    float64 uses :data:`FLOAT64_TOLERANCE` whatever the step count. Lower
    precisions use ``FLOAT32_ULPS_PER_STEP * eps(dtype) * (steps + 1)``: each
    optimizer step can add a bounded number of roundings, and a stable
    iteration adds them up at most linearly. For Adam and AdamW (pass their
    ``b2``) add ``eps(dtype) * b2 / (1 - b2)``: the bias correction
    ``1 - b2**t`` loses that many ulps to cancellation in its first steps when
    it is computed in the run's dtype (optax does; torch.optim computes it in
    Python floats), and the update carries half of it (float32, b2 = 0.999,
    one step of rate 2 on one example: 1.3e-5 in the bias, 2.6e-5 of the
    next loss, against a 7.6e-6 budget without this term).

    The rule the comparator (``comparisons.compare``) applies with it, in every dtype:

    - Trajectories not in float64 are compared rounded to their dtype: the
      float64 reference (the best estimate of the exact values) rounded is what
      a float32 run must approach within its rounding budget.
    - A finite value ``a`` agrees with the reference ``r`` at step ``k`` when
      ``|a - r| <= tol * (1 + max(|r|, s_k))``, with ``s_k`` the largest
      ``|r|`` its group (every parameter, every gradient, every prediction,
      one loss series) has held at steps ``0..k``. Each step's roundings are
      relative to the values that step computes, and a stable iteration
      carries earlier errors forward without growth, so the error at step
      ``k`` is bounded by the rounding budget times the largest magnitudes
      met so far, not by ``|r_k|``: a gradient that shrinks to 0 still holds
      the rounding of the per-example terms that cancelled; in a diverging
      run a parameter that stays small holds the rounding of the one that grows.
    - Overflow: where one side is non-finite and the other finite with the
      same sign and ``|value| >= overflow_edge(dtype, n)``, the value is not
      compared: a correct implementation overflows as soon as an intermediate
      (the sum of ``n`` squared errors behind a mean loss) passes the dtype's
      largest value, so the overflow step shifts between correct orders of
      the same operations (float32, six examples: step 71 against 73). Once
      both sides are non-finite, later steps are not compared.

    Why not a float32 reference computed in float32 arithmetic: where a
    float32 sum overflows depends on the order of operations (autodiff scales
    by ``1/n`` before summing, the hand-written formulas sum first), so no one
    float32 reference reproduces every correct implementation; the rule above
    accepts exactly the shift that order can cause. Limits: the budget is per
    step and knows nothing else of a problem's conditioning. On data whose
    features differ by orders of magnitude, or where an Adam gradient falls to
    the rounding level (a run landing exactly on a fit: Adam divides the
    gradient by its own magnitude, so rounding noise decides the step), a
    correct float32 run can differ by more: verify those in float64.

    Args:
      dtype: the floating dtype the runs were computed in.
      steps: the number of optimizer steps in the trajectories compared.
      b2: Adam's second-moment decay, for Adam and AdamW runs; ``None`` otherwise.

    Returns:
      The relative and absolute tolerance, as one float.

    Example:
      >>> tolerance("float64", 20)
      1e-12
      >>> round(tolerance("float32", 9) / float(np.finfo(np.float32).eps))
      320
      >>> round(tolerance("float32", 9, b2=0.999) / float(np.finfo(np.float32).eps))
      1319
    """
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return FLOAT64_TOLERANCE
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"tolerance: dtype must be a floating dtype, got {dtype}")
    if steps < 0:
        raise ValueError(f"tolerance: steps must be >= 0, got {steps}")
    eps = float(np.finfo(dtype).eps)
    budget = FLOAT32_ULPS_PER_STEP * eps * (steps + 1)
    if b2 is None:
        return budget
    if not 0.0 <= b2 < 1.0:
        raise ValueError(f"tolerance: b2 must be in [0, 1), got {b2}")
    return budget + eps * b2 / (1.0 - b2)


def overflow_edge(dtype, examples: int) -> float:
    """The magnitude past which a correct run in ``dtype`` may already have overflowed.

    ``finfo(dtype).max / (OVERFLOW_HEADROOM * examples)``, with ``examples``
    the most examples one loss averages over. Where one trajectory holds
    ``inf`` (or NaN) and another holds a finite value of at least this
    magnitude (same sign), the overflow step has shifted, not the mathematics:
    see :func:`tolerance` for the rule and :data:`OVERFLOW_HEADROOM` for the factor.

    Example:
      >>> overflow_edge("float32", 6) == float(np.finfo(np.float32).max) / 24
      True
    """
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"overflow_edge: dtype must be a floating dtype, got {dtype}")
    if examples < 1:
        raise ValueError(f"overflow_edge: examples must be >= 1, got {examples}")
    return float(np.finfo(dtype).max) / (OVERFLOW_HEADROOM * examples)
