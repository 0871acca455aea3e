"""The compiled program of a sweep: every run's steps as one jitted loop.

``R`` independent runs (rates x seeds) are one ``vmap`` axis; steps are a
``fori_loop`` inside one compiled program, so the cost of a sweep is one
compilation plus ``S`` fused steps over all runs. Run ``r`` follows
``theta_{k+1} = theta_k + update(g_k; lr_r)`` with its rate injected into the
optimizer's state (``optax.inject_hyperparams``): on the autodiff path the step is
:func:`functional_training._step.optimizer_step`, the one step ``train`` takes; on
the moments path (:mod:`functional_training._sweep_moments`) it is
``theta - lr * grad`` from the data's moments.

Recording: ``losses[r, run]`` is the full training loss at ``theta_{r K}`` for
``r = 0..S // K`` (``K = record_every``), written into a preallocated
``(S // K + 1, R)`` buffer (one contiguous row per record), so memory is bounded
by what is recorded, not by ``S``. ``final_loss`` is the full training loss at
``theta_S`` (also when ``K`` does not divide ``S``). ``first_bad`` follows
``Trajectory.first_nonfinite_step`` over what the sweep sees: the parameters,
batch loss and gradient at every step (tracked in the loop carry, so exact
between records), and the full training loss at the recorded steps
``0, K, 2K, ...`` and at ``S``. With full batches the batch loss is the full
loss, so it equals ``train``'s at every step; with mini-batches a full loss that
overflows between records while every batch quantity stays finite is seen at the
next record.

On several devices the program is a ``jax.shard_map`` of the one-device program:
each device steps its own runs (in run groups on a CPU, :func:`run_group`) and the
devices never communicate. Which devices a sweep with ``devices=None`` uses is
:func:`default_devices`.

:func:`execute` compiles the program once and runs it whole, or in at most
:data:`PROGRESS_CHUNKS` chunks of records (the same compiled program) when a
progress callback is given.
"""

from __future__ import annotations

import functools
import inspect
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec

from functional_training._models import model_kind
from functional_training._objective import Objective
from functional_training._optimizers import (
    optimizer_factory,
    optimizer_hyperparameters,
    weight_decay_kind,
)
from functional_training._step import optimizer_step
from functional_training._sweep_moments import moment_statistics, moments_loss_and_grad
from functional_training._sweep_sharding import (
    constrain,
    replicate,
    state_shardings,
    to_host,
)

PROGRESS_CHUNKS = 100
"""At most this many progress callbacks per sweep (one per chunk of records)."""

RUN_GROUP_BYTES = 2**20
"""Target size of one per-run activation array of a run group on a CPU (see :func:`run_group`)."""


class ProgramSpec(NamedTuple):
    """Everything static about a sweep program (hashable; part of the jit cache key)."""

    method: str
    optimizer: str
    hyperparams: tuple
    record_every: int
    remainder: int
    minibatch: bool
    sharding: NamedSharding | None
    objective: Objective
    run_group: int = 0
    """Runs per group on one CPU device (0: all runs at once); see :func:`run_group`."""


class SweepState(NamedTuple):
    """The loop carry. Every leaf has the (padded) run axis first, except ``losses``,
    shape ``(records + 1, R)``, so that writing one record is one contiguous row."""

    params: Any
    opt_state: Any
    first_bad: jax.Array
    final_loss: jax.Array
    losses: jax.Array


def injected_optimizer(name: str, hyper: tuple) -> optax.GradientTransformation:
    """``name``'s optax transformation with the learning rate as a state hyperparameter.

    ``hyper`` holds ``(setting, value)`` pairs; a value of ``None`` marks a per-run
    setting (a hyperparameter axis of the sweep): like the rate, its value lives in
    each run's state (:func:`initial_state` writes it), so one compiled program runs
    every value. A per-run coupled ``weight_decay`` is :func:`_per_run_decay`.
    """
    factory = optimizer_factory(name)
    per_run = {key for key, value in hyper if value is None}
    settings = {**optimizer_hyperparameters(name),
                **{key: 0.0 if value is None else value for key, value in hyper}}
    if name == "nesterov":
        settings["nesterov"] = True
    # weight_decay is static unless per-run: the factory chains optax.add_decayed_weights
    # only when > 0.
    static = ("nesterov",) if "weight_decay" in per_run else ("nesterov", "weight_decay")
    if "weight_decay" in per_run and weight_decay_kind(name) == "coupled":
        factory = _per_run_decay(factory)
    return optax.inject_hyperparams(factory, static_args=static)(learning_rate=1.0, **settings)


def _per_run_decay(factory):
    """``factory`` with coupled weight decay ``lam`` as a traced value: ``g + lam theta``
    where ``lam != 0``, ``g`` itself where ``lam == 0`` (as the factory's own branch:
    no ``0 * inf`` NaN), chained before the optimizer's own update."""

    def with_decay(learning_rate, weight_decay=0.0, **settings):
        def decay(updates, state, params):
            return jax.tree.map(lambda g, p: jnp.where(weight_decay == 0, g, g + weight_decay * p),
                                updates, params), state

        inner = factory(learning_rate=learning_rate, weight_decay=0.0, **settings)
        return optax.chain(optax.GradientTransformation(lambda _: optax.EmptyState(), decay),
                           inner)

    with_decay.__signature__ = inspect.signature(factory)  # inject_hyperparams binds by it
    return with_decay


def initial_state(spec: ProgramSpec, params, rates: np.ndarray, padded: int, records: int,
                  dtype, hyperparameters: dict | None = None) -> SweepState:
    """The loop carry before step 0, as host NumPy arrays (placed on devices by the caller).

    ``params`` is a pytree whose leaves have the run axis first (``len(rates)`` runs);
    ``hyperparameters`` maps each per-run setting (``None`` in ``spec.hyperparams``) to
    its ``len(rates)`` values, written into each run's injected optimizer state beside
    its rate; runs are padded to ``padded`` by repeating the last one.
    """
    dtype = np.dtype(dtype)

    def padded_runs(values):
        values = np.asarray(values, dtype)
        return np.concatenate([values, np.repeat(values[-1:], padded - len(values), 0)])

    lr = padded_runs(rates)
    per_run = {key: padded_runs(values) for key, values in (hyperparameters or {}).items()}
    batched = jax.tree.map(padded_runs, params)
    if spec.method == "moments":
        opt_state = lr
    else:
        opt = injected_optimizer(spec.optimizer, spec.hyperparams)

        def init_one(p, rate, settings):
            state = opt.init(p)
            return state._replace(hyperparams={**state.hyperparams, "learning_rate": rate,
                                               **settings})

        opt_state = jax.tree.map(np.asarray, jax.vmap(init_one)(batched, lr, per_run))
    return SweepState(
        params=batched,
        opt_state=opt_state,
        first_bad=np.full((padded,), -1, np.int32),
        final_loss=np.zeros((padded,), dtype),
        losses=np.zeros((records + 1, padded), dtype),
    )


def device_data(spec: ProgramSpec, x, y, batches, dtype, devices) -> tuple:
    """The data as the compiled program takes it, replicated on every device.

    The moments path takes the moments of the data as the run sees it (rounded to
    ``dtype``, like the autodiff path); the autodiff path takes ``x``, ``y`` and
    the batch order.
    """
    if spec.method == "moments":
        data = (np.asarray(moment_statistics(np.asarray(x, dtype), np.asarray(y, dtype)),
                           dtype),)
    else:
        data = (np.asarray(x, dtype), np.asarray(y, dtype))
        if batches is not None:
            data += (batches,)
    return replicate(data, spec.sharding, devices[0])


def _all_finite(*trees) -> jax.Array:
    leaves = jax.tree.leaves(trees)
    return functools.reduce(jnp.logical_and, [jnp.all(jnp.isfinite(leaf)) for leaf in leaves])


def _rules(spec: ProgramSpec, data):
    """Per-run ``step`` and ``full_loss`` for the spec's method."""
    if spec.method == "moments":
        (stats,) = data

        def moments_step(params, lr, indices):
            loss, grads = moments_loss_and_grad(params, stats)
            new = jax.tree.map(lambda p, g: p - lr * g, params, grads)
            return new, lr, loss, grads

        return moments_step, lambda params: moments_loss_and_grad(params, stats)[0]

    x, y = data[0], data[1]
    opt = injected_optimizer(spec.optimizer, spec.hyperparams)

    def step(params, opt_state, indices):
        return optimizer_step(spec.objective.loss_and_grad, opt, params, opt_state, x, y,
                              indices)

    return step, lambda params: spec.objective.mean_loss(params, x, y)


def _loop_parts(spec: ProgramSpec, data):
    """``one_step(k, carry)`` over all runs (carry: params, opt_state, first_bad, loss) and
    ``full_loss(params)``, both vmapped over the run axis."""
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
def _sweep_program(state: SweepState, data, start, stop, *, spec: ProgramSpec) -> SweepState:
    """The one compiled program: records ``[start, stop)``, then, if ``stop`` is the
    last record, the rest of the run. Chunked runs (progress) call it repeatedly."""
    state = constrain(state, spec.sharding)
    records = state.losses.shape[0] - 1

    def on_one_device(state: SweepState, data, start, stop) -> SweepState:
        def run(state: SweepState) -> SweepState:
            state = _advance(state, data, start, stop, spec)
            return jax.lax.cond(stop == records, lambda s: _finish(s, data, spec), lambda s: s,
                                state)

        if spec.run_group:
            return _ungroup(jax.lax.map(run, _group(state, spec.run_group)))
        return run(state)

    if spec.sharding is None:
        return on_one_device(state, data, start, stop)
    # each device runs the one-device program (run groups included) on its own runs;
    # runs are independent, so the devices never communicate
    specs = jax.tree.map(lambda s: s.spec, state_shardings(state, spec.sharding))
    per_device = jax.shard_map(on_one_device, mesh=spec.sharding.mesh,
                               in_specs=(specs, PartitionSpec(), PartitionSpec(), PartitionSpec()),
                               out_specs=specs, check_vma=False)
    return constrain(per_device(state, data, start, stop), spec.sharding)


def _group(state: SweepState, size: int) -> SweepState:
    """``state`` with the run axis split into ``(groups, size)``: leading axis the group."""
    runs = state.first_bad.shape[0]
    grouped = jax.tree.map(lambda a: a.reshape(runs // size, size, *a.shape[1:]),
                           state._replace(losses=None))
    losses = state.losses.reshape(state.losses.shape[0], runs // size, size).transpose(1, 0, 2)
    return grouped._replace(losses=losses)


def _ungroup(state: SweepState) -> SweepState:
    """The inverse of :func:`_group`."""
    flat = jax.tree.map(lambda a: a.reshape(a.shape[0] * a.shape[1], *a.shape[2:]),
                        state._replace(losses=None))
    groups, rows, size = state.losses.shape
    return flat._replace(losses=state.losses.transpose(1, 0, 2).reshape(rows, groups * size))


def _advance(state: SweepState, data, start, stop, spec: ProgramSpec) -> SweepState:
    """Records ``r`` in ``[start, stop)``: write the loss at step ``r K``, then take ``K`` steps."""
    one_step, full_loss = _loop_parts(spec, data)
    k_steps = spec.record_every

    def one_record(r, state: SweepState) -> SweepState:
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
        return SweepState(params, opt_state, first_bad, state.final_loss, losses)

    return jax.lax.fori_loop(start, stop, one_record, state)


def _finish(state: SweepState, data, spec: ProgramSpec) -> SweepState:
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
    return SweepState(params, opt_state, first_bad, final_loss, losses)


def _mark(first_bad: jax.Array, loss: jax.Array, k) -> jax.Array:
    """``first_bad`` with step ``k`` marked where it is unset and ``loss`` is non-finite."""
    return jnp.where((first_bad < 0) & ~jnp.isfinite(loss), k, first_bad)


def execute(spec: ProgramSpec, state: SweepState, data, records: int, steps: int, progress):
    """Compile the sweep program, run it (in chunks when reporting progress), fetch it.

    Returns ``(host state, compile seconds, run seconds)``.
    """
    start_compile = time.perf_counter()
    spec = spec._replace(run_group=run_group(spec, state, data))
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
    return to_host(state), compile_seconds, run_seconds


SPLIT_WORK = 2**27
"""Least work, ``R S B max(W, 1)`` activation values (:func:`default_devices`), worth
splitting over several CPU devices: below it the devices' start-up costs more than they save."""


def default_devices(method: str, model: Objective, *, runs: int, steps: int,
                    batch: int) -> tuple:
    """The devices a sweep with ``devices=None`` splits its runs over: all, or the first alone.

    Every device of ``jax.devices()``, except on one process's CPU devices (one per
    core: :func:`functional_training.use_all_cores`), where a sweep keeps to
    ``jax.devices()[0]`` unless splitting pays: the autodiff path (the moments path's
    step is a few operations per run, measured no faster split and 2.5x slower on
    the 3 rates of the lesson), at least one run per device (no padded duplicates),
    and at least :data:`SPLIT_WORK` activation values in all, ``R S B max(W, 1)``
    (``W``: :func:`widest_activation`).

    Example:
      >>> import jax, functional_training as ft
      >>> line = ft.objective("linear", features=1)
      >>> default_devices("moments", line, runs=10_000, steps=1_000, batch=3) == (
      ...     jax.devices()[0],)
      True
    """
    devices = tuple(jax.devices())
    if len(devices) == 1 or jax.process_count() > 1 or any(
            device.platform != "cpu" for device in devices):
        return devices
    work = runs * steps * batch * max(widest_activation(model), 1)
    if method != "autodiff" or runs < len(devices) or work < SPLIT_WORK:
        return devices[:1]
    return devices


def widest_activation(model: Objective) -> int:
    """The widest per-example activation a step of ``model`` makes, read from its leaf shapes.

    A weight matrix ``(fan_in, fan_out)`` makes activations ``fan_out`` wide from
    rows ``fan_in`` wide: the answer is the largest axis of any leaf with two or more
    axes, and 0 for a kind without one (a line's step is one fused pass per run).

    Example:
      >>> from functional_training._objective import objective
      >>> widest_activation(objective("mlp", sizes=[2, 16, 8, 1], activation="tanh"))
      16
      >>> widest_activation(objective("linear", features=3))
      0
    """
    shapes = model_kind(model.model).shapes(**model.settings).values()
    return max((max(shape) for shape in shapes if len(shape) >= 2), default=0)


def run_group(spec: ProgramSpec, state: SweepState, data) -> int:
    """How many runs a CPU device steps together (0: all of its runs), a divisor of its runs.

    Vectorised over all ``R`` runs, every activation of a step is an ``(R, batch,
    width)`` array (32 MiB for 512 runs of a 16-wide layer on 1,000 examples): each
    step streams a dozen such arrays through memory, and XLA:CPU runs at memory
    speed. Groups of runs small enough that one such array takes about
    :data:`RUN_GROUP_BYTES` run their whole loop one group after another inside the
    same program (``lax.map``), with the activations in cache. Runs are independent,
    so the result is the same run for run (up to the order of floating-point sums).
    With several devices each device groups its own ``R / D`` runs (the run axis is
    split first, then grouped). Only for kinds with weight matrices
    (:func:`widest_activation` > 0) on the autodiff path on CPU devices: accelerators
    want the widest batch.
    """
    if spec.method != "autodiff":
        return 0
    width = widest_activation(spec.objective)
    if width == 0:
        return 0  # the line's step is one fused pass per run already: groups measured no faster
    devices = jax.tree.leaves(state)[0].devices()
    if any(device.platform != "cpu" for device in devices):
        return 0
    runs = state.first_bad.shape[0] // len(devices)  # the runs of one device
    batch = data[2].shape[1] if spec.minibatch else data[0].shape[0]
    per_run = batch * width * state.losses.dtype.itemsize
    target = RUN_GROUP_BYTES // per_run
    if target >= runs // 2:
        return 0  # the device's runs are about one group already
    group = max(d for d in range(1, max(1, target) + 1) if runs % d == 0)
    return group if 2 * group >= target else 0  # no divisor near the target: one group
