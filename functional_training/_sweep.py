"""Learning-rate sweeps: many rates in one jitted program, sharded over devices.

For rates ``lr_1..lr_L`` and ``S`` steps the sweep runs ``L`` independent
trainings of the linear model ``prediction = w * x + b`` from the same initial
parameters on the same batches, ``theta^l_{k+1} = theta^l_k + update(g^l_k; lr_l)``.
Rates are a ``vmap`` axis and steps a loop inside one compiled program, so the
cost of a sweep is one compilation plus ``S`` fused steps over all rates.

Two exact ways to take a step (``method``):

- ``"autodiff"``: ``jax.value_and_grad`` of the mean half squared error on the
  step's batch; any optimizer, full batch or mini-batch, one or ``d`` features.
- ``"moments"``: full-batch SGD on one feature only. With ``u = x - mean(x)``,
  ``v = y - mean(y)``, ``Vx = mean(u^2)``, ``beta = mean(u v) / Vx``,
  ``R = mean((v - beta u)^2)`` and the mean residual ``c = w mean(x) + b - mean(y)``,

      L(w, b)  = (Vx (w - beta)^2 + R + c^2) / 2
      dL/dw    = Vx (w - beta) + mean(x) c
      dL/db    = c

  which is the same function as ``mean(0.5 (w x + b - y)^2)`` written with the
  data's moments (computed once, in float64, on the host), so a step costs
  ``O(L)`` whatever ``N`` is. Every term is non-negative (no cancellation). To
  go non-finite at the same step as the autodiff path's ``mean(0.5 * e**2)``,
  the loss is formed as a sum over examples divided by ``N`` (the sum overflows
  at the same point) and is ``inf`` once the residual of the smallest- or
  largest-``x`` example squares to ``inf`` (where some ``e_i**2`` first
  overflows). The paths agree to 1e-12 in float64, non-finite steps included
  (``tests/test_sweep.py``); ``"auto"`` picks this path only where that holds:
  full-batch SGD, one feature, ``|x|, |y| <= max_float ** 0.25``.

Recording: ``losses[l, r]`` is the full training loss at ``theta^l_{r K}`` for
``r = 0..S // K`` (``K = record_every``); recorded values are written into a
preallocated ``(S // K + 1, L)`` buffer (one contiguous row per record), so
memory is bounded by what is recorded, not by ``S`` (and refused above
:data:`MAX_RECORDED_BYTES`). ``final_loss[l]`` is the full training loss at
``theta^l_S`` (also when ``K`` does not divide ``S``).
``first_nonfinite_step[l]`` follows ``Trajectory.first_nonfinite_step`` (the
first step where any recorded quantity is non-finite) over what the sweep
sees: the parameters, batch loss and gradient at every step (tracked in the
loop carry, so exact between records), and the full training loss at the
recorded steps ``0, K, 2K, ...`` and at ``S``. With full batches the batch
loss is the full loss, so it equals ``train``'s at every step; with
mini-batches a full loss that overflows between records while every batch
quantity stays finite is seen at the next record.

Sharding: with several devices, every per-rate array is split along the rate
axis of a one-axis mesh (see :func:`sweep_learning_rates`); data is replicated.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from functional_training._loss import loss_and_grad, mean_loss
from functional_training._models import initial_values, params_from_values
from functional_training._objective import Objective
from functional_training._optimizers import (
    check_hyperparameters,
    check_learning_rate_fits,
    optimizer_factory,
    optimizer_hyperparameters,
)
from functional_training._params import LinearParams
from functional_training._record_plan import MAX_RECORD_BYTES
from functional_training._synthetic import minibatch_indices
from functional_training._train import _check_objective_data, check_data, float_params

METHODS = ("auto", "moments", "autodiff")
MESH_AXIS = "rates"
"""Name of the mesh axis the rate axis is split over."""

PROGRESS_CHUNKS = 100
"""At most this many progress callbacks per sweep (one per chunk of records)."""

MAX_STEPS = 2**31 - 1
"""Largest ``steps``: step indices are int32 inside the compiled program."""

MAX_RECORDED_BYTES = MAX_RECORD_BYTES
"""Largest recorded-loss buffer, ``L x (S // K + 1) x itemsize`` bytes (4 GiB, the one
limit on records, :data:`functional_training.MAX_RECORD_BYTES`): it lives on the device
and on the host; a larger one is refused before anything is allocated."""


class SweepResult(NamedTuple):
    """Result of :func:`sweep_learning_rates` (host NumPy arrays).

    Attributes:
      learning_rates: shape ``(L,)``.
      losses: shape ``(L, S // K + 1)``: full training loss at the parameters
        before step ``r * K`` (``K = record_every``); column 0 is the initial loss.
      final_params: ``LinearParams`` with leaves of shape ``(L,)`` (``w``:
        ``(L, d)`` with ``d`` features): parameters after all ``S`` steps.
      final_loss: shape ``(L,)``: full training loss at ``final_params`` (step
        ``S``, whether or not ``K`` divides ``S``).
      first_nonfinite_step: shape ``(L,)`` int: first step ``k`` at which any
        quantity the sweep sees is non-finite, as ``Trajectory.first_nonfinite_step``:
        the parameters, batch loss or gradient at step ``k``, or the full
        training loss if ``k`` is a recorded step (``0, K, 2K, ...``) or ``S``;
        -1 where none.
      steps: ``S``.
      record_every: ``K``.
      method: ``"moments"`` or ``"autodiff"``: the path that ran.
      devices: the devices the rate axis was split over.
      compile_seconds: time to trace and compile; when the program is already
        in JAX's cache this is the cache look-up (about 1e-4 s), not 0.
      run_seconds: time to run the compiled program(s), until the results were ready.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    final_params: LinearParams
    final_loss: np.ndarray
    first_nonfinite_step: np.ndarray
    steps: int
    record_every: int
    method: str
    devices: tuple
    compile_seconds: float
    run_seconds: float

    @property
    def recorded_steps(self) -> np.ndarray:
        """The step index of each column of ``losses``: ``0, K, 2K, ...``."""
        return np.arange(self.losses.shape[1]) * self.record_every


class _Spec(NamedTuple):
    """Everything static about a sweep program (hashable; part of the jit cache key)."""

    method: str
    optimizer: str
    hyperparams: tuple
    record_every: int
    remainder: int
    minibatch: bool
    sharding: NamedSharding | None
    objective: Objective | None = None
    run_group: int = 0
    """Runs per group on one CPU device (0: all runs at once); see :func:`_run_group`."""


class _State(NamedTuple):
    """The loop carry. Every leaf has the (padded) rate axis first, except ``losses``,
    shape ``(records + 1, L)``, so that writing one record is one contiguous row."""

    params: Any
    opt_state: Any
    first_bad: jax.Array
    final_loss: jax.Array
    losses: jax.Array


def sweep_learning_rates(
    params: LinearParams,
    x,
    y,
    learning_rates,
    *,
    steps: int,
    optimizer: str = "sgd",
    hyperparams: Mapping[str, float] | None = None,
    batch_indices=None,
    record_every: int = 1,
    devices: Sequence[jax.Device] | None = None,
    method: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Train once per learning rate, all rates in one compiled program.

    Every rate starts from ``params`` and sees the same batches; rate ``l``
    follows ``theta_{k+1} = theta_k + optimizer_update(g_k; lr_l)`` exactly as
    :func:`functional_training.train` does with that rate (to 1e-12 in float64).

    With several devices the rate axis is split over a one-axis
    ``jax.sharding.Mesh`` (axis ``"rates"``) with ``NamedSharding(mesh,
    PartitionSpec("rates"))``: ``L`` is padded up to a multiple of the device
    count by repeating the last rate, and the padding is trimmed from the
    result, so any ``L`` works and the result equals the one-device result.

    Args:
      params: initial ``LinearParams``; their dtype sets the sweep's precision.
      x: features, shape ``(n,)`` or ``(n, d)``.
      y: targets, shape ``(n,)``.
      learning_rates: shape ``(L,)``, each finite and > 0.
      steps: ``S``, ``0 < S <= MAX_STEPS`` (int32 step indices).
      optimizer: ``"sgd"`` (default), or any name of
        :data:`functional_training.OPTIMIZER_NAMES`: its learning rate becomes a
        per-rate traced value through ``optax.inject_hyperparams``.
      hyperparams: the optimizer's other settings (see :func:`make_optimizer`).
      batch_indices: optional int array ``(S, batch_size)``: the examples of
        each step, made on the host (e.g. :func:`minibatch_indices`); ``None``
        is full batch.
      record_every: ``K`` >= 1: record the training loss every ``K`` steps;
        the record buffer, ``L x (S // K + 1)`` values, must fit in
        :data:`MAX_RECORDED_BYTES`.
      devices: devices to split the rates over; ``None`` means ``jax.devices()``.
      method: ``"auto"``, ``"moments"`` or ``"autodiff"`` (see the module
        docstring); ``"auto"`` takes ``"moments"`` for full-batch SGD with one
        feature, where it is exact, else ``"autodiff"``.
      progress: optional ``progress(steps_done, steps)`` callback; when given,
        the run is split into at most :data:`PROGRESS_CHUNKS` chunks of the
        same compiled program and the callback runs after each; its last
        call is ``progress(steps, steps)``.

    Returns:
      A :class:`SweepResult`. Divergent rates are data: their non-finite values
      are recorded and ``first_nonfinite_step`` says where they started.

    Raises:
      ValueError, TypeError: for bad arguments, naming the problem.

    Example:
      >>> import functional_training as ft
      >>> with ft.float64():
      ...     result = ft.sweep_learning_rates(
      ...         ft.LinearParams(1.0, 0.0), [2.0], [6.0], [0.01, 0.1, 0.5], steps=4)
      >>> result.losses.round(3).tolist()[1]
      [8.0, 2.0, 0.5, 0.125, 0.031]
      >>> result.method, result.first_nonfinite_step.tolist()
      ('moments', [-1, -1, -1])
    """
    _check_steps(steps, record_every)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    rates = _check_rates(learning_rates)
    x_np, y_np = check_data(x, y)
    hyper = _check_optimizer(optimizer, hyperparams)
    batches = _check_batches(batch_indices, steps, x_np.shape[0])
    params, dtype = float_params(params)  # a list w stays one leaf
    check_learning_rate_fits(float(rates.max()), dtype)
    method = _choose_method(method, optimizer, batches is not None, x_np, y_np, dtype)
    if jnp.shape(params.w) != x_np.shape[1:] or jnp.shape(params.b) != ():
        raise ValueError(
            f"params do not fit the data: w has shape {jnp.shape(params.w)} and b "
            f"{jnp.shape(params.b)}, expected w {x_np.shape[1:]} and b ()"
        )

    device_list, sharding = _mesh(devices)
    padded = -(-rates.size // len(device_list)) * len(device_list)

    records, remainder = divmod(steps, record_every)
    _check_record_size(padded, records + 1, np.dtype(dtype).itemsize)
    spec = _Spec(method, optimizer, hyper, record_every, remainder, batches is not None, sharding)
    state = _initial_state(spec, params, rates, padded, records, dtype)
    data = _device_data(spec, x_np, y_np, batches, dtype, device_list)
    state = _place(state, sharding, device_list[0])

    host, compile_seconds, run_seconds = _execute(spec, state, data, records, steps, progress)
    trim = slice(0, rates.size)
    return SweepResult(
        learning_rates=rates,
        losses=host.losses[:, trim].T,  # a view: no copy of a large record
        final_params=LinearParams(*(leaf[trim] for leaf in host.params)),
        final_loss=host.final_loss[trim],
        first_nonfinite_step=host.first_bad[trim].astype(np.int64),
        steps=steps,
        record_every=record_every,
        method=method,
        devices=device_list,
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
    )


class ModelSweep(NamedTuple):
    """Result of :func:`sweep`: every (learning rate, initial seed) run of one model (NumPy).

    Attributes:
      learning_rates: shape ``(L,)``.
      seeds: shape ``(Z,)``: the seeds of the initial parameters.
      losses: shape ``(L, Z, S // K + 1)``: full training loss (the objective's,
        penalty included) before step ``r * K``; ``[..., 0]`` is the initial loss.
      final_params: the model's pytree with leaves of shape ``(L, Z, *leaf)``.
      final_loss: shape ``(L, Z)``: the full training loss after all ``S`` steps.
      first_nonfinite_step: shape ``(L, Z)`` int, -1 where none (as
        :class:`SweepResult`'s, per run).
      steps, record_every: ``S`` and ``K``.
      devices: the devices the run axis was split over.
      compile_seconds, run_seconds: as :class:`SweepResult`'s.
    """

    learning_rates: np.ndarray
    seeds: np.ndarray
    losses: np.ndarray
    final_params: Any
    final_loss: np.ndarray
    first_nonfinite_step: np.ndarray
    steps: int
    record_every: int
    devices: tuple
    compile_seconds: float
    run_seconds: float

    @property
    def recorded_steps(self) -> np.ndarray:
        """The step index of each column of ``losses``: ``0, K, 2K, ...``."""
        return np.arange(self.losses.shape[-1]) * self.record_every


def sweep(
    model: Objective,
    data,
    *,
    learning_rates,
    seeds=(0,),
    optimizer: str = "sgd",
    hyperparameters: Mapping[str, float] | None = None,
    steps: int,
    batch_size: int | None = None,
    batch_seed: int = 0,
    record_every: int = 1,
    devices: Sequence[jax.Device] | None = None,
    progress: Callable[[int, int], None] | None = None,
    initial_params: Mapping[str, float] | None = None,
) -> ModelSweep:
    """Train any model once per (learning rate, initial seed), all runs in one compiled program.

    Run ``(l, z)`` starts from ``initial_values(kind, init="seeded", seed=seeds[z])``
    (the kind's documented NumPy scheme, made once on the host), or from
    ``initial_params`` when given, and follows
    ``theta_{k+1} = theta_k + optimizer_update(dL_{B_k}/dtheta; lr_l)`` on the
    objective ``L`` (:func:`functional_training.objective`: model kind, loss, L2),
    exactly as :func:`functional_training.train` does with that rate and those
    initial values. Rates and seeds are one ``vmap`` axis of ``L x Z`` runs
    (run ``l * Z + z``), split over ``devices`` like :func:`sweep_learning_rates`'s
    rates; steps are a loop inside the program; the full training loss is
    recorded every ``K`` steps into a preallocated buffer, so memory is bounded
    by ``L x Z x (S // K + 1)`` values.

    Args:
      model: the objective (``functional_training.objective("mlp", loss="hinge",
        l2=1e-4, sizes=[2, 16, 16, 1], activation="tanh")``).
      data: ``(x, y)``: features ``(n, d)`` (``(n,)`` for the line on one feature)
        and targets ``(n,)`` that fit the loss.
      learning_rates: shape ``(L,)``, each finite and > 0.
      seeds: the initial parameters' seeds, integers >= 0.
      optimizer: a name of :data:`functional_training.OPTIMIZER_NAMES`; its rate is a
        per-run traced value (``optax.inject_hyperparams``).
      hyperparameters: the optimizer's other settings.
      steps: ``S`` > 0.
      batch_size: examples per step, ``None`` for full batch; the batch order is
        :func:`functional_training.minibatch_indices` with ``batch_seed``, the same
        for every run.
      record_every: ``K`` >= 1.
      devices: devices to split the runs over; ``None`` means ``jax.devices()``.
      progress: optional ``progress(steps_done, steps)`` callback.
      initial_params: one initial point for every run instead of the seeded ones:
        ``{scalar name: float}`` (:func:`functional_training.initial_values`' form,
        e.g. a spec file's explicit values); ``seeds`` must then hold one seed,
        which only labels the one column (``Z = 1``).

    Returns:
      A :class:`ModelSweep`. Divergent runs are data.

    Example:
      >>> import functional_training as ft
      >>> x, y = ft.two_moons(20, noise=0.1, seed=0)
      >>> net = ft.objective("mlp", loss="hinge", sizes=[2, 4, 1], activation="tanh")
      >>> result = ft.sweep(net, (x, y), learning_rates=[0.1, 1.0], seeds=[0, 1, 2], steps=10)
      >>> result.losses.shape, result.first_nonfinite_step.tolist()
      ((2, 3, 11), [[-1, -1, -1], [-1, -1, -1]])
    """
    if not isinstance(model, Objective):
        raise TypeError(f"model must be an Objective (functional_training.objective), got "
                        f"{type(model).__name__}")
    _check_steps(steps, record_every)
    rates = _check_rates(learning_rates)
    seeds = _check_seeds(seeds)
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError("data must be (x, y)")
    x_np, y_np = check_data(*data)
    _check_objective_data(model, x_np, y_np, "train")
    hyper = _check_optimizer(optimizer, hyperparameters)
    batches = None
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not (
                0 < batch_size <= x_np.shape[0]):
            raise ValueError(f"batch_size must be an integer in [1, {x_np.shape[0]}], "
                             f"got {batch_size!r}")
        batches = minibatch_indices(x_np.shape[0], batch_size=batch_size, steps=steps,
                                    seed=batch_seed).astype(np.int32)
    dtype = np.dtype(jnp.result_type(float))
    check_learning_rate_fits(float(rates.max()), dtype)

    config = model.settings
    if initial_params is not None and seeds.size != 1:
        raise ValueError(f"initial_params fix one initial point: give one seed, not {seeds.size}")
    initial = [params_from_values(model.model, initial_values(
        model.model, init="seeded", seed=int(seed), **config) if initial_params is None
        else initial_params, **config) for seed in seeds]
    runs = rates.size * seeds.size
    per_run = jax.tree.map(lambda *leaves: np.stack([np.asarray(leaf) for leaf in leaves]),
                           *initial)
    per_run = jax.tree.map(lambda leaf: np.tile(leaf, (rates.size,) + (1,) * (leaf.ndim - 1)),
                           per_run)
    run_rates = np.repeat(rates, seeds.size)

    device_list, sharding = _mesh(devices)
    padded = -(-runs // len(device_list)) * len(device_list)
    records, remainder = divmod(steps, record_every)
    _check_record_size(padded, records + 1, dtype.itemsize)
    spec = _Spec("autodiff", optimizer, hyper, record_every, remainder, batches is not None,
                 sharding, model)
    state = _initial_state(spec, per_run, run_rates, padded, records, dtype, per_run=True)
    x_data = x_np[:, 0] if model.model == "linear" and x_np.ndim == 2 and x_np.shape[1] == 1 \
        and config.get("features") == 1 else x_np
    data_on_device = _device_data(spec, x_data, y_np, batches, dtype, device_list)
    state = _place(state, sharding, device_list[0])
    host, compile_seconds, run_seconds = _execute(spec, state, data_on_device, records, steps,
                                                  progress)

    def grid(leaf):
        return leaf[:runs].reshape(rates.size, seeds.size, *leaf.shape[1:])

    return ModelSweep(
        learning_rates=rates,
        seeds=seeds,
        losses=grid(np.ascontiguousarray(host.losses.T)),
        final_params=jax.tree.map(grid, host.params),
        final_loss=grid(host.final_loss),
        first_nonfinite_step=grid(host.first_bad.astype(np.int64)),
        steps=steps,
        record_every=record_every,
        devices=device_list,
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
    )


def _check_seeds(seeds) -> np.ndarray:
    values = np.asarray(seeds)
    if values.ndim != 1 or values.size == 0 or not np.issubdtype(values.dtype, np.integer) or (
            values < 0).any():
        raise ValueError(f"seeds must be a non-empty list of integers >= 0, got {seeds!r}")
    return values.astype(np.int64)


def _execute(spec: _Spec, state: _State, data, records: int, steps: int, progress):
    """Compile the sweep program, run it (in chunks when reporting progress), fetch it.

    Returns ``(host state, compile seconds, run seconds)``.
    """
    start_compile = time.perf_counter()
    spec = spec._replace(run_group=_run_group(spec, state, data))
    bounds = (np.int32(0), np.int32(records))
    program = _sweep_program.lower(state, data, *bounds, spec=spec).compile()
    compile_seconds = time.perf_counter() - start_compile

    start_run = time.perf_counter()
    if progress is None or records == 0:
        state = jax.block_until_ready(program(state, data, *bounds))
        if progress is not None:
            progress(steps, steps)
    else:
        chunks = np.linspace(0, records, min(records, PROGRESS_CHUNKS) + 1).round().astype(int)
        for lo, hi in zip(chunks[:-1], chunks[1:], strict=True):
            state = jax.block_until_ready(program(state, data, np.int32(lo), np.int32(hi)))
            progress(steps if hi == records else int(hi) * spec.record_every, steps)
    run_seconds = time.perf_counter() - start_run
    return _to_host(state), compile_seconds, run_seconds


RUN_GROUP_BYTES = 2**20
"""Target size of one per-run activation array of a run group on a CPU (see :func:`_run_group`)."""


def _run_group(spec: _Spec, state: _State, data) -> int:
    """How many runs a CPU program steps together (0: all of them), a divisor of the run count.

    Vectorised over all ``R`` runs, every activation of a step is an ``(R, batch,
    width)`` array (32 MiB for 512 runs of a 16-wide layer on 1,000 examples): each
    step streams a dozen such arrays through memory, and XLA:CPU runs at memory
    speed. Groups of runs small enough that one such array takes about
    :data:`RUN_GROUP_BYTES` run their whole loop one group after another inside the
    same program (``lax.map``), with the activations in cache. Runs are independent,
    so the result is the same run for run (up to the order of floating-point sums).
    Only for networks (``mlp``) on the autodiff path on one CPU device: accelerators
    want the widest batch, and sharded runs are already split.
    """
    if spec.method != "autodiff" or spec.sharding is not None:
        return 0
    if spec.objective is None or spec.objective.model != "mlp":
        return 0  # the line's step is one fused pass per run already: groups measured no faster
    if any(device.platform != "cpu" for device in jax.tree.leaves(state)[0].devices()):
        return 0
    runs = state.first_bad.shape[0]
    batch = data[2].shape[1] if spec.minibatch else data[0].shape[0]
    width = max(spec.objective.settings["sizes"])  # the widest layer's activations
    per_run = batch * width * state.losses.dtype.itemsize
    target = RUN_GROUP_BYTES // per_run
    if target >= runs // 2:
        return 0  # the whole sweep is about one group already
    group = max(d for d in range(1, max(1, target) + 1) if runs % d == 0)
    return group if 2 * group >= target else 0  # no divisor near the target: one group


def _mesh(devices: Sequence[jax.Device] | None) -> tuple[tuple, NamedSharding | None]:
    """The devices and, for several, the sharding of the run axis over a one-axis mesh."""
    device_list = tuple(jax.devices() if devices is None else devices)
    if not device_list:
        raise ValueError("devices must name at least one device")
    if len(device_list) == 1:
        return device_list, None
    mesh = Mesh(np.array(device_list), (MESH_AXIS,))
    return device_list, NamedSharding(mesh, PartitionSpec(MESH_AXIS))


# ---------------------------------------------------------------- validation


def _check_steps(steps, record_every) -> None:
    """``steps`` in ``1..MAX_STEPS`` (int32 step indices) and ``record_every`` >= 1."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be an integer > 0, got {steps!r}")
    if steps > MAX_STEPS:
        raise ValueError(f"steps must be < 2**31 (int32 step indices), got {steps}")
    if isinstance(record_every, bool) or not isinstance(record_every, int) or record_every <= 0:
        raise ValueError(f"record_every must be an integer > 0, got {record_every!r}")


def _check_rates(learning_rates) -> np.ndarray:
    rates = np.asarray(learning_rates)
    if rates.ndim != 1 or rates.size == 0:
        raise ValueError(f"learning_rates must be a non-empty 1-D array, got shape {rates.shape}")
    if not np.issubdtype(rates.dtype, np.number) or np.issubdtype(rates.dtype, np.complexfloating):
        raise TypeError(f"learning_rates must be real numbers, got dtype {rates.dtype}")
    rates = rates.astype(np.float64)
    if not (np.isfinite(rates).all() and (rates > 0).all()):
        raise ValueError("learning_rates must all be finite and > 0")
    return rates


def _check_record_size(rates: int, records: int, itemsize: int) -> None:
    size = rates * records * itemsize
    if size > MAX_RECORDED_BYTES:
        raise ValueError(
            f"the recorded losses would take {size / 2**30:.3g} GiB ({rates} rates x "
            f"{records} records x {itemsize} bytes), over the "
            f"{MAX_RECORDED_BYTES / 2**30:g} GiB limit: raise record_every (--record-every) "
            "or sweep fewer learning rates (--learning-rates)"
        )


def _check_optimizer(optimizer: str, hyperparams: Mapping[str, float] | None) -> tuple:
    hyper = dict(hyperparams or {})
    if "learning_rate" in hyper:
        raise TypeError("hyperparams must not set learning_rate: the sweep sets it per rate")
    check_hyperparameters(optimizer, hyper)  # validates the name and settings
    return tuple(sorted((k, float(v)) for k, v in hyper.items()))


def _check_batches(batch_indices, steps: int, n: int) -> np.ndarray | None:
    if batch_indices is None:
        return None
    batches = np.asarray(batch_indices)
    if batches.ndim != 2 or batches.shape[0] != steps or batches.shape[1] == 0:
        raise ValueError(
            f"batch_indices must have shape (steps={steps}, batch_size > 0), got {batches.shape}"
        )
    if not np.issubdtype(batches.dtype, np.integer):
        raise TypeError(f"batch_indices must be integers, got {batches.dtype}")
    if batches.min() < 0 or batches.max() >= n:
        raise ValueError(f"batch_indices must lie in [0, {n})")
    return batches.astype(np.int32)


def _choose_method(method: str, optimizer: str, minibatch: bool, x, y, dtype) -> str:
    reasons = []
    if optimizer != "sgd":
        reasons.append(f"optimizer is {optimizer!r}, not 'sgd'")
    if minibatch:
        reasons.append("batches are mini-batches, not the full batch")
    if x.ndim != 1:
        reasons.append("x has several features")
    if method == "moments" and reasons:
        raise ValueError(f"method='moments' needs full-batch SGD on one feature: {reasons[0]}")
    if method == "auto":
        exact = not reasons and _moments_exact(x, y, dtype)
        return "moments" if exact else "autodiff"
    return method


# ---------------------------------------------------------------- setup


def _injected_optimizer(name: str, hyper: tuple) -> optax.GradientTransformation:
    """``name``'s optax transformation with the learning rate as a state hyperparameter."""
    factory = optimizer_factory(name)
    settings = {**optimizer_hyperparameters(name), **dict(hyper)}
    if name == "nesterov":
        settings["nesterov"] = True
    return optax.inject_hyperparams(factory, static_args=("nesterov",))(
        learning_rate=1.0, **settings
    )


def _initial_state(spec: _Spec, params, rates: np.ndarray, padded: int, records: int, dtype,
                   *, per_run: bool = False):
    """The loop carry before step 0, as host NumPy arrays (placed on devices by ``_place``).

    ``params`` is one parameter pytree every run starts from, or, with ``per_run``,
    a pytree whose leaves already have the run axis (``len(rates)`` runs).
    """
    dtype = np.dtype(dtype)
    lr = np.concatenate([rates, np.full(padded - rates.size, rates[-1])]).astype(dtype)
    if per_run:
        batched = jax.tree.map(lambda p: np.concatenate(
            [np.asarray(p, dtype), np.repeat(np.asarray(p, dtype)[-1:], padded - len(p), 0)]),
            params)
    else:
        batched = jax.tree.map(
            lambda p: np.broadcast_to(np.asarray(p, dtype), (padded, *np.shape(p))), params)
    if spec.method == "moments":
        opt_state = lr
    else:
        opt = _injected_optimizer(spec.optimizer, spec.hyperparams)

        def init_one(p, rate):
            state = opt.init(p)
            return state._replace(hyperparams={**state.hyperparams, "learning_rate": rate})

        opt_state = jax.tree.map(np.asarray, jax.vmap(init_one)(batched, lr))
    return _State(
        params=batched,
        opt_state=opt_state,
        first_bad=np.full((padded,), -1, np.int32),
        final_loss=np.zeros((padded,), dtype),
        losses=np.zeros((records + 1, padded), dtype),
    )


class MomentStatistics(NamedTuple):
    """What full-batch SGD on one feature needs from the data (see :func:`moment_statistics`).

    Attributes:
      n: number of examples ``N``.
      x_mean, y_mean: ``mean(x)``, ``mean(y)``.
      var_x: ``Vx = mean(u^2)`` with ``u = x - mean(x)``.
      beta: ``mean(u v) / Vx`` with ``v = y - mean(y)`` (0 when ``Vx = 0``).
      scale_w: ``sqrt(N Vx / 2)``.
      scale_c: ``sqrt(N / 2)``.
      half_residual: ``N R / 2`` with ``R = mean((v - beta u)^2)``.
      x_low, y_low: the example with the smallest ``x``.
      x_high, y_high: the example with the largest ``x``.
    """

    n: Any
    x_mean: Any
    y_mean: Any
    var_x: Any
    beta: Any
    scale_w: Any
    scale_c: Any
    half_residual: Any
    x_low: Any
    y_low: Any
    x_high: Any
    y_high: Any


def moment_statistics(x, y) -> MomentStatistics:
    """The data's moments, computed once in float64 with two-pass (centred) sums.

    The sum of the per-example losses is then, with ``c = w mean(x) + b - mean(y)``,
    ``sum_i 0.5 e_i^2 = ((w - beta) scale_w)^2 + half_residual + (c scale_c)^2``,
    three non-negative terms. The two extreme examples decide when some
    ``e_i^2`` overflows: ``e_i = w x_i + b - y_i`` is monotone in ``x_i`` once
    ``|e_i|`` dwarfs ``|y_i|``, so the largest ``|e_i|`` is at ``x_low`` or ``x_high``.

    Example:
      >>> stats = moment_statistics([1.0, 2.0, 3.0], [3.0, 5.0, 7.0])
      >>> stats.n, stats.x_mean, round(stats.var_x, 4), stats.beta, stats.half_residual
      (3.0, 2.0, 0.6667, 2.0, 0.0)
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    n = float(x.size)
    x_mean, y_mean = float(np.mean(x)), float(np.mean(y))
    u, v = x - x_mean, y - y_mean
    var_x = float(np.mean(u * u))
    beta = float(np.mean(u * v)) / var_x if var_x > 0 else 0.0
    residual = float(np.mean((v - beta * u) ** 2))
    low, high = int(np.argmin(x)), int(np.argmax(x))
    return MomentStatistics(
        n, x_mean, y_mean, var_x, beta, math.sqrt(n * var_x / 2), math.sqrt(n / 2),
        n * residual / 2, float(x[low]), float(y[low]), float(x[high]), float(y[high]),
    )


def _moments_exact(x: np.ndarray, y: np.ndarray, dtype) -> bool:
    """True where the moments path reproduces the autodiff path's non-finite steps too.

    Overflow of a loss or gradient starts at ``|e_i| ~ sqrt(max float)``; the
    argument in :func:`moment_statistics` needs ``|y_i|`` below the rounding
    unit there and ``|x_i| e_i`` not to overflow first. Data up to
    ``max float ** 0.25`` (4e9 in float32, 1e77 in float64) satisfies both.
    """
    bound = float(np.finfo(dtype).max) ** 0.25
    return bool(np.abs(x).max() <= bound and np.abs(y).max() <= bound)


def _device_data(spec: _Spec, x, y, batches, dtype, devices):
    """The data as the compiled program takes it, replicated on every device."""
    if spec.method == "moments":
        # from the data as the run sees it (rounded to dtype), like the autodiff path
        stats = moment_statistics(np.asarray(x, dtype), np.asarray(y, dtype))
        data = (np.asarray(stats, dtype),)
    else:
        data = (np.asarray(x, dtype), np.asarray(y, dtype))
        if batches is not None:
            data += (batches,)
    if spec.sharding is None:
        return jax.device_put(data, devices[0])
    replicated = NamedSharding(spec.sharding.mesh, PartitionSpec())
    # from_callback: each process fills only its own devices (works multi-host too)
    return tuple(
        jax.make_array_from_callback(a.shape, replicated, lambda index, a=a: a[index])
        for a in data
    )


def _place(state: _State, sharding: NamedSharding | None, device) -> _State:
    if sharding is None:
        return jax.device_put(state, device)
    host = state
    return jax.tree.map(
        lambda a, s: jax.make_array_from_callback(a.shape, s, lambda index, a=a: a[index]),
        host,
        _state_shardings(host, sharding),
    )


def _to_host(state: _State) -> _State:
    def fetch(a):
        if a.is_fully_addressable:
            return np.asarray(a)
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(a, tiled=True))

    return jax.tree.map(fetch, state)


# ---------------------------------------------------------------- the compiled program


def _all_finite(*trees) -> jax.Array:
    leaves = jax.tree.leaves(trees)
    return functools.reduce(jnp.logical_and, [jnp.all(jnp.isfinite(leaf)) for leaf in leaves])


def _moments_loss_and_grad(params: LinearParams, stats: jax.Array):
    m = MomentStatistics(*stats)
    c = params.w * m.x_mean + params.b - m.y_mean
    dw = params.w - m.beta
    total = (dw * m.scale_w) ** 2 + m.half_residual + (c * m.scale_c) ** 2  # = sum_i 0.5 e_i^2
    e_low = params.w * m.x_low + params.b - m.y_low
    e_high = params.w * m.x_high + params.b - m.y_high
    squares_finite = jnp.isfinite(e_low * e_low) & jnp.isfinite(e_high * e_high)
    # autodiff's mean(0.5 * e**2) is inf once some e_i**2 overflows (nan stays nan)
    loss = jnp.where(squares_finite, total / m.n, total / m.n + jnp.inf)
    return loss, LinearParams(w=m.var_x * dw + m.x_mean * c, b=c)


def _rules(spec: _Spec, data):
    """Per-rate ``step`` and ``full_loss`` for the spec's method."""
    if spec.method == "moments":
        (stats,) = data

        def step(params, lr, indices):
            loss, grads = _moments_loss_and_grad(params, stats)
            new = jax.tree.map(lambda p, g: p - lr * g, params, grads)
            return new, lr, loss, grads

        def full_loss(params):
            return _moments_loss_and_grad(params, stats)[0]

        return step, full_loss

    x, y = data[0], data[1]
    opt = _injected_optimizer(spec.optimizer, spec.hyperparams)
    value_and_grad = loss_and_grad if spec.objective is None else spec.objective.loss_and_grad
    loss_of = mean_loss if spec.objective is None else spec.objective.mean_loss

    def step(params, opt_state, indices):
        xb, yb = (x, y) if indices is None else (x[indices], y[indices])
        loss, grads = value_and_grad(params, xb, yb)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss, grads

    def full_loss(params):
        return loss_of(params, x, y)

    return step, full_loss


def _state_shardings(state: _State, sharding: NamedSharding) -> _State:
    """The rate axis split over the mesh: axis 0 of every leaf, axis 1 of ``losses``."""
    by_rate = jax.tree.map(lambda _: sharding, state._replace(losses=None))
    return by_rate._replace(losses=NamedSharding(sharding.mesh, PartitionSpec(None, MESH_AXIS)))


def _constrain(state: _State, spec: _Spec) -> _State:
    if spec.sharding is None:
        return state
    return jax.lax.with_sharding_constraint(state, _state_shardings(state, spec.sharding))


def _loop_parts(spec: _Spec, data):
    """``one_step(k, carry)`` over all rates (carry: params, opt_state, first_bad, loss) and
    ``full_loss(params)``, both vmapped over the rate axis."""
    step, full_loss = _rules(spec, data)
    step = jax.vmap(step, in_axes=(0, 0, None))
    batches = data[2] if spec.minibatch else None

    def one_step(k, carry):
        params, opt_state, first_bad, _ = carry
        indices = None if batches is None else batches[k]
        new, opt_state, loss, grads = step(params, opt_state, indices)
        ok = jax.vmap(_all_finite)(params, loss, grads)
        first_bad = jnp.where((first_bad < 0) & ~ok, k, first_bad)
        return new, opt_state, first_bad, loss

    return one_step, jax.vmap(full_loss)


@functools.partial(jax.jit, static_argnames=("spec",), donate_argnums=(0,))
def _sweep_program(state: _State, data, start, stop, *, spec: _Spec) -> _State:
    """The one compiled program: records ``[start, stop)``, then, if ``stop`` is the
    last record, the rest of the run. Chunked runs (progress) call it repeatedly."""
    state = _constrain(state, spec)
    records = state.losses.shape[0] - 1

    def run(state: _State) -> _State:
        state = _advance(state, data, start, stop, spec)
        return jax.lax.cond(stop == records, lambda s: _finish(s, data, spec), lambda s: s, state)

    if spec.run_group:
        state = _ungroup(jax.lax.map(run, _group(state, spec.run_group)))
    else:
        state = run(state)
    return _constrain(state, spec)


def _group(state: _State, size: int) -> _State:
    """``state`` with the run axis split into ``(groups, size)``: leading axis the group."""
    runs = state.first_bad.shape[0]
    grouped = jax.tree.map(lambda a: a.reshape(runs // size, size, *a.shape[1:]),
                           state._replace(losses=None))
    losses = state.losses.reshape(state.losses.shape[0], runs // size, size).transpose(1, 0, 2)
    return grouped._replace(losses=losses)


def _ungroup(state: _State) -> _State:
    """The inverse of :func:`_group`."""
    flat = jax.tree.map(lambda a: a.reshape(a.shape[0] * a.shape[1], *a.shape[2:]),
                        state._replace(losses=None))
    groups, rows, size = state.losses.shape
    return flat._replace(losses=state.losses.transpose(1, 0, 2).reshape(rows, groups * size))


def _advance(state: _State, data, start, stop, spec: _Spec) -> _State:
    """Records ``r`` in ``[start, stop)``: write the loss at step ``r K``, then take ``K`` steps."""
    one_step, full_loss = _loop_parts(spec, data)
    k_steps = spec.record_every

    def one_record(r, state: _State) -> _State:
        k0 = r * k_steps
        placeholder = jnp.zeros(state.first_bad.shape, state.losses.dtype)
        carry = (state.params, state.opt_state, state.first_bad, placeholder)
        if spec.minibatch:  # the batch loss is not the full loss: check the record too
            record = full_loss(state.params)
            first_bad = _mark(state.first_bad, record, k0)
            carry = (state.params, state.opt_state, first_bad, placeholder)
            peeled = 0
        else:  # full batch: step k0's batch loss is the training loss at step k0
            carry = one_step(k0, carry)
            record = carry[3]
            peeled = 1
        if k_steps > peeled:  # static; no empty inner loop (its overhead shows at K = 1)
            carry = jax.lax.fori_loop(k0 + peeled, k0 + k_steps, one_step, carry)
        params, opt_state, first_bad, _ = carry
        losses = jax.lax.dynamic_update_slice(state.losses, record[None, :], (r, jnp.int32(0)))
        return _State(params, opt_state, first_bad, state.final_loss, losses)

    return jax.lax.fori_loop(start, stop, one_record, state)


def _finish(state: _State, data, spec: _Spec) -> _State:
    """The last record (step ``R K``), the ``S - R K`` remaining steps, and the final check."""
    one_step, full_loss = _loop_parts(spec, data)
    records = state.losses.shape[0] - 1
    k0 = records * spec.record_every
    record = full_loss(state.params)
    first_bad = _mark(state.first_bad, record, jnp.int32(k0))
    carry = (state.params, state.opt_state, first_bad, record)
    params, opt_state, first_bad, _ = jax.lax.fori_loop(
        jnp.int32(k0), jnp.int32(k0 + spec.remainder), one_step, carry
    )
    final_loss = record if spec.remainder == 0 else full_loss(params)
    ok = jax.vmap(_all_finite)(params, final_loss)
    first_bad = jnp.where((first_bad < 0) & ~ok, jnp.int32(k0 + spec.remainder), first_bad)
    losses = state.losses.at[records].set(record)
    return _State(params, opt_state, first_bad, final_loss, losses)


def _mark(first_bad: jax.Array, loss: jax.Array, k) -> jax.Array:
    """``first_bad`` with step ``k`` marked where it is unset and ``loss`` is non-finite."""
    return jnp.where((first_bad < 0) & ~jnp.isfinite(loss), k, first_bad)
