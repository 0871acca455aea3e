"""Shipments at scale: a seeded synthetic data set and the mini-batch order over it.

Everything here runs on the host with NumPy, once, before any training: the
batch order is data that every backend replays, never a random stream drawn
inside a compiled step loop.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

NORMAL_WEEK = (2.0, 1.0)
"""(slope, intercept) of the normal-week regime: ``delay = 2 x + 1`` (the lesson's shipments)."""

PEAK_SEASON = (4.0, 0.0)
"""(slope, intercept) of the peak-season regime: ``delay = 4 x`` (the lesson's peak season)."""

MAX_DISRUPTION = 5.0
"""Disruption scores are uniform on ``[0, MAX_DISRUPTION)``."""


class Shipments(NamedTuple):
    """A synthetic shipments data set.

    Attributes:
      x: disruption score per shipment, shape ``(n,)``.
      y: extra delay in hours, shape ``(n,)``.
      peak: True where the shipment belongs to the peak-season regime.
    """

    x: np.ndarray
    y: np.ndarray
    peak: np.ndarray


def synthetic_shipments(
    n: int,
    *,
    seed: int = 0,
    peak_fraction: float = 0.25,
    noise: float = 0.5,
    dtype=np.float64,
) -> Shipments:
    """``n`` shipments drawn from two regimes, fixed by ``seed``.

    With ``x ~ Uniform[0, 5)``, regime ``peak ~ Bernoulli(peak_fraction)`` and
    ``eps ~ Normal(0, noise^2)``, all from ``numpy.random.default_rng(seed)`` in
    that order::

        y = 4 x + eps          (peak season)
        y = 2 x + 1 + eps      (normal week)

    The same ``(n, seed, peak_fraction, noise)`` always gives the same arrays,
    bit for bit. About 24 bytes per shipment (``n = 10**7``: 240 MB in float64).

    Args:
      n: number of shipments, >= 1.
      seed: NumPy seed.
      peak_fraction: probability of the peak-season regime, in ``[0, 1]``.
      noise: standard deviation of the delay noise in hours, >= 0.
      dtype: float dtype of ``x`` and ``y`` (drawn in float64, then cast).

    Returns:
      :class:`Shipments`.

    Example:
      >>> data = synthetic_shipments(4, seed=1)
      >>> data.x.shape, data.y.dtype, data.peak.dtype
      ((4,), dtype('float64'), dtype('bool'))
      >>> bool((synthetic_shipments(4, seed=1).y == data.y).all())
      True
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not (isinstance(peak_fraction, (int, float)) and 0.0 <= peak_fraction <= 1.0):
        raise ValueError(f"peak_fraction must be in [0, 1], got {peak_fraction!r}")
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be finite and >= 0, got {noise!r}")
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"dtype must be a floating dtype, got {np.dtype(dtype)}")
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, MAX_DISRUPTION, size=n)
    peak = rng.random(n) < peak_fraction
    slope = np.where(peak, PEAK_SEASON[0], NORMAL_WEEK[0])
    intercept = np.where(peak, PEAK_SEASON[1], NORMAL_WEEK[1])
    y = slope * x + intercept + rng.normal(0.0, noise, size=n)
    return Shipments(x.astype(dtype, copy=False), y.astype(dtype, copy=False), peak)


def minibatch_indices(n: int, *, batch_size: int, steps: int, seed: int = 0) -> np.ndarray:
    """The example indices of each step: shape ``(steps, batch_size)``.

    Each epoch draws ``numpy.random.default_rng(seed).permutation(n)`` (one
    generator for the whole run, so epochs differ) and cuts it into
    ``n // batch_size`` batches, dropping the remainder so every batch has the
    same size; epochs repeat until ``steps`` batches exist.
    ``comparisons.experiments.batch_order`` calls this, so every backend replays it. One
    permutation per epoch on the host: a permutation of 10**6 indices costs
    about 10 ms in NumPy, against about 0.7 s for ``jax.random.permutation``
    on this project's 2-core CPU.

    Args:
      n: number of examples.
      batch_size: examples per step, in ``[1, n]``.
      steps: number of steps, >= 1.
      seed: NumPy seed.

    Returns:
      An ``int32`` array (``int64`` when ``n >= 2**31``).

    Example:
      >>> order = minibatch_indices(5, batch_size=2, steps=3, seed=0)
      >>> order.shape, sorted(order[:2].ravel().tolist()) != sorted(order[2].tolist())
      ((3, 2), True)

    Long runs take the same order a chunk at a time from :class:`MinibatchOrder`.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    return MinibatchOrder(n, batch_size=batch_size, seed=seed).rows(0, steps)


def epoch_batches(n: int, *, batch_size: int, steps: int, seed: int = 0,
                  last_batch: str = "drop") -> list[list[int]]:
    """Each step's example indices, as lists: :func:`minibatch_indices`, or with short batches.

    ``last_batch="drop"`` is :func:`minibatch_indices` (every batch holds
    ``batch_size`` examples). ``last_batch="keep"`` cuts the same permutations
    (one of ``numpy.random.default_rng(seed)`` per epoch) into
    ``ceil(n / batch_size)`` batches, the last of each epoch holding the
    ``n % batch_size`` left over when it is not 0 (``torch.utils.data.DataLoader``'s
    default ``drop_last=False``).

    Example:
      >>> [len(b) for b in epoch_batches(5, batch_size=2, steps=4, last_batch="keep")]
      [2, 2, 1, 2]
      >>> epoch_batches(5, batch_size=2, steps=2) == minibatch_indices(
      ...     5, batch_size=2, steps=2).tolist()
      True
    """
    if last_batch == "drop":
        return minibatch_indices(n, batch_size=batch_size, steps=steps, seed=seed).tolist()
    if last_batch != "keep":
        raise ValueError(f"last_batch must be 'drop' or 'keep', got {last_batch!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    MinibatchOrder(n, batch_size=batch_size, seed=seed)  # the same checks of n and batch_size
    rng, batches = np.random.default_rng(seed), []
    while len(batches) < steps:
        perm = rng.permutation(n).tolist()
        batches += [perm[start:start + batch_size] for start in range(0, n, batch_size)]
    return batches[:steps]


class MinibatchOrder:
    """The batch order of :func:`minibatch_indices`, made one epoch at a time on the host.

    ``rows(start, stop)`` equals ``minibatch_indices(n, batch_size=b, steps=S,
    seed=seed)[start:stop]`` for any ``S >= stop`` while holding one epoch's
    permutation (``n`` indices) at a time, so a run of 10**9 steps needs no
    10**9-row array. Reading forward is cheap; reading backward restarts the
    generator from the seed (each earlier epoch is drawn again).

    Example:
      >>> order = MinibatchOrder(5, batch_size=2, seed=0)
      >>> bool((order.rows(1, 3) == minibatch_indices(5, batch_size=2, steps=3, seed=0)[1:]).all())
      True
    """

    def __init__(self, n: int, *, batch_size: int, seed: int = 0):
        for name, value in (("n", n), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if batch_size > n:
            raise ValueError(f"batch size {batch_size} is larger than the data set ({n} examples)")
        self.n, self.batch_size, self.seed = int(n), int(batch_size), seed
        self.per_epoch = self.n // self.batch_size
        self._dtype = np.int32 if n < 2**31 else np.int64
        self._restart()

    def _restart(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._epoch = -1
        self._batches = np.empty((0, self.batch_size), self._dtype)

    def _epoch_rows(self, epoch: int) -> np.ndarray:
        if epoch < self._epoch:
            self._restart()
        while self._epoch < epoch:
            perm = self._rng.permutation(self.n)
            self._epoch += 1
            if self._epoch == epoch:
                self._batches = perm[: self.per_epoch * self.batch_size].reshape(
                    self.per_epoch, self.batch_size).astype(self._dtype)
        return self._batches

    def rows(self, start: int, stop: int) -> np.ndarray:
        """The batches of steps ``[start, stop)``: shape ``(stop - start, batch_size)``."""
        if not 0 <= start < stop:
            raise ValueError(f"rows needs 0 <= start < stop, got [{start}, {stop})")
        parts, step = [], start
        while step < stop:
            epoch, within = divmod(step, self.per_epoch)
            take = min(self.per_epoch - within, stop - step)
            parts.append(self._epoch_rows(epoch)[within:within + take])
            step += take
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def two_moons(n: int = 100, *, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, the classic toy classification set (micrograd's demo).

    ``n // 2`` points on the upper half circle ``(cos t, sin t)``, ``t`` evenly
    spaced on ``[0, pi]``, with label ``-1``; the other ``n - n // 2`` on the
    lower one ``(1 - cos t, 0.5 - sin t)`` with label ``+1``; then Gaussian noise
    of standard deviation ``noise`` on both coordinates and one shuffle, both
    drawn from ``numpy.random.default_rng(seed)`` (noise first, then the
    permutation). Labels are -1/+1, as the hinge loss takes them.

    Returns:
      ``(x, y)``: ``x`` of shape ``(n, 2)``, ``y`` of shape ``(n,)``, float64.

    Example:
      >>> x, y = two_moons(6, noise=0.0, seed=0)
      >>> x.shape, sorted(y.tolist())
      ((6, 2), [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0])
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"two_moons: n must be an integer >= 2, got {n!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not (
        0.0 <= noise < math.inf
    ):
        raise ValueError(f"two_moons: noise must be a finite number >= 0, got {noise!r}")
    upper, lower = n // 2, n - n // 2
    t_upper, t_lower = np.linspace(0.0, np.pi, upper), np.linspace(0.0, np.pi, lower)
    x = np.concatenate([
        np.column_stack([np.cos(t_upper), np.sin(t_upper)]),
        np.column_stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)]),
    ])
    y = np.concatenate([-np.ones(upper), np.ones(lower)])
    rng = np.random.default_rng(seed)
    x = x + rng.normal(0.0, noise, size=x.shape)
    order = rng.permutation(n)
    return x[order], y[order]
