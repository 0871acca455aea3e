"""Sweeps: one model trained once per (learning rate, hyperparameters, initial seed),
all runs in one program.

For rates ``lr_1..lr_L``, optional hyperparameter axes (values ``h^1_1..h^1_{H_1}``
of one optimizer setting, ``h^2`` of another, ...) and initial points
``theta^z_0`` (``z = 1..Z``) a sweep runs ``L x H_1 x ... x Z`` independent
trainings of one objective (any model kind, loss and L2:
:func:`functional_training.objective`) on the same batches,
``theta_{k+1} = theta_k + update(dL_{B_k}/dtheta; lr_l, h_i, ...)``, each exactly as
:func:`functional_training.train` runs it with those settings and initial point.

:func:`sweep` is the one entry point and :class:`SweepResult` the one result. The
work is split by concept:

- this module: the API, its argument checks, and the result;
- :mod:`functional_training._sweep_moments`: the exact ``O(1)``-per-step path
  for full-batch SGD on the lesson's line, which ``method="auto"`` picks itself
  where it reproduces the autodiff path (non-finite steps included);
- :mod:`functional_training._sweep_program`: the compiled program (steps, records,
  divergence tracking, run groups on a CPU); its step is
  :func:`functional_training._step.optimizer_step`, the one ``train`` takes;
- :mod:`functional_training._sweep_sharding`: the run axis split over devices.

:func:`sweep_learning_rates` is the lesson's line over rates alone, a thin alias of
:func:`sweep` (no seed axis: arrays per rate).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_training._models import initial_values as kind_initial_values
from functional_training._models import model_kind, params_from_values
from functional_training._objective import Objective, objective
from functional_training._optimizers import check_hyperparameters, check_learning_rate_fits
from functional_training._params import LinearParams
from functional_training._record_plan import MAX_RECORD_BYTES
from functional_training._step import check_batch_indices
from functional_training._sweep_cost import SweepCost, check_sweep_memory, sweep_cost
from functional_training._sweep_moments import moments_exact, moments_problem
from functional_training._sweep_program import (
    ProgramSpec,
    default_devices,
    device_data,
    execute,
    initial_state,
)
from functional_training._sweep_sharding import mesh, padded_runs, place_state
from functional_training._synthetic import minibatch_indices
from functional_training._train import check_data, check_objective_data, float_params

METHODS = ("auto", "moments", "autodiff")
"""How a sweep takes its steps: ``"auto"`` picks ``"moments"`` where it is exact."""

MAX_STEPS = 2**31 - 1
"""Largest ``steps``: step indices are int32 inside the compiled program."""

MAX_RECORDED_BYTES = MAX_RECORD_BYTES
"""Largest recorded-loss buffer, ``R x (S // K + 1) x itemsize`` bytes (4 GiB, the one
limit on records, :data:`functional_training.MAX_RECORD_BYTES`): it lives on the device
and on the host; a larger one is refused before anything is allocated."""


class SweepResult(NamedTuple):
    """Result of :func:`sweep` (host NumPy arrays), every run on the grid of rates x seeds.

    The grid is ``(L, Z)`` (rates x seeds), or ``(L,)`` for a sweep without a seed
    axis (``seeds=None``: :func:`sweep_learning_rates`, the lesson's line). Each
    hyperparameter axis (:attr:`hyperparameter_axes`, in its order) sits between the
    rates and the seeds: ``(L, H_1, ..., H_n, Z)``, or ``(L, H_1, ..., H_n)``.

    Attributes:
      learning_rates: shape ``(L,)``.
      losses: shape ``grid + (S // K + 1,)``: full training loss (the objective's,
        penalty included) at the parameters before step ``r * K`` (``K =
        record_every``); ``[..., 0]`` is the initial loss.
      final_params: the model's pytree with leaves of shape ``grid + leaf shape``
        (``LinearParams`` with ``w`` of shape ``(L,)``, or ``(L, d)``, for the line):
        parameters after all ``S`` steps.
      final_loss: shape ``grid``: full training loss at ``final_params`` (step
        ``S``, whether or not ``K`` divides ``S``).
      first_nonfinite_step: shape ``grid`` int: first step ``k`` at which any
        quantity the sweep sees is non-finite, as ``Trajectory.first_nonfinite_step``:
        the parameters, batch loss or gradient at step ``k``, or the full
        training loss if ``k`` is a recorded step (``0, K, 2K, ...``) or ``S``;
        -1 where none.
      steps: ``S``.
      record_every: ``K``.
      method: ``"moments"`` or ``"autodiff"``: the path that ran.
      devices: the devices the run axis was split over.
      compile_seconds: time to trace and compile; when the program is already
        in JAX's cache this is the cache look-up (about 1e-4 s), not 0.
      run_seconds: time to run the compiled program(s), until the results were ready.
      seeds: shape ``(Z,)``: the seeds of the initial parameters (the label of the one
        column when ``initial_params`` fixed them), or ``None``: no seed axis.
      hyperparameter_axes: ``{setting: values}`` (shape ``(H_i,)`` each), the swept
        optimizer settings in the grid's order; empty when none is swept.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    final_params: Any
    final_loss: np.ndarray
    first_nonfinite_step: np.ndarray
    steps: int
    record_every: int
    method: str
    devices: tuple
    compile_seconds: float
    run_seconds: float
    seeds: np.ndarray | None = None
    hyperparameter_axes: Mapping[str, np.ndarray] = MappingProxyType({})

    @property
    def grid(self) -> tuple[int, ...]:
        """The runs' shape: ``(L, H_1, ..., H_n, Z)``, or without the seed axis."""
        return self.final_loss.shape

    @property
    def recorded_steps(self) -> np.ndarray:
        """The step index of each entry of ``losses``' last axis: ``0, K, 2K, ...``."""
        return np.arange(self.losses.shape[-1]) * self.record_every


def sweep(
    model: Objective,
    data,
    *,
    learning_rates,
    seeds=(0,),
    optimizer: str = "sgd",
    hyperparameters: Mapping[str, float | Sequence[float]] | None = None,
    steps: int,
    batch_size: int | None = None,
    batch_seed: int = 0,
    batch_indices=None,
    record_every: int = 1,
    devices: Sequence[jax.Device] | None = None,
    progress: Callable[[int, int], None] | None = None,
    initial_params=None,
    method: str = "auto",
    on_cost: Callable[[SweepCost], None] | None = None,
) -> SweepResult:
    """Train ``model`` once per (learning rate, hyperparameters, seed), all in one compiled program.

    Run ``(l, z)`` starts from ``initial_values(kind, init="seeded", seed=seeds[z])``
    (the kind's documented NumPy scheme, made once on the host), or from
    ``initial_params`` when given, and follows
    ``theta_{k+1} = theta_k + optimizer_update(dL_{B_k}/dtheta; lr_l)`` on the
    objective ``L``, exactly as :func:`functional_training.train` does with that rate
    and those initial values (to 1e-12 in float64). Rates and seeds are one ``vmap``
    axis of ``L x Z`` runs (run ``l * Z + z``; with hyperparameter axes the runs are
    the grid ``(L, H_1, ..., Z)`` in C order, each run's settings in its own
    optimizer state); steps are a loop inside the program;
    the full training loss is recorded every ``K`` steps into a preallocated buffer,
    so memory is bounded by ``L x Z x (S // K + 1)`` values.

    With several devices the run axis is split over a one-axis ``jax.sharding.Mesh``
    (:mod:`functional_training._sweep_sharding`): runs are padded up to a multiple of
    the device count and the padding is trimmed, so the result equals the one-device
    result.

    Args:
      model: the objective (``functional_training.objective("mlp", loss="hinge",
        l2=1e-4, sizes=[2, 16, 16, 1], activation="tanh")``).
      data: ``(x, y)``: features ``(n, d)`` (``(n,)`` for the line on one feature)
        and targets ``(n,)`` that fit the loss.
      learning_rates: shape ``(L,)``, each finite and > 0.
      seeds: the initial parameters' seeds, integers >= 0; ``None`` (with
        ``initial_params``): no seed axis, every array is per rate.
      optimizer: a name of :data:`functional_training.OPTIMIZER_NAMES`; its rate is a
        per-run traced value (``optax.inject_hyperparams``).
      hyperparameters: the optimizer's other settings: a number is one setting of
        every run; a non-empty list of numbers is a hyperparameter axis, one run per
        value (``{"momentum": [0.5, 0.9, 0.99]}``), in the mapping's order after the
        rates (see :class:`SweepResult`). Every value is checked as
        :func:`functional_training.make_optimizer` checks it. A sweep with an axis
        takes the autodiff path.
      steps: ``S``, ``0 < S <= MAX_STEPS`` (int32 step indices).
      batch_size: examples per step, ``None`` for full batch; the batch order is
        :func:`functional_training.minibatch_indices` with ``batch_seed``, the same
        for every run.
      batch_indices: instead of ``batch_size``, the batch order itself: an int
        array ``(S, batch_size)`` made on the host.
      record_every: ``K`` >= 1; the record buffer, ``L x Z x (S // K + 1)`` values,
        must fit in :data:`MAX_RECORDED_BYTES`.
      devices: devices to split the runs over; ``None``: ``jax.devices()``, on one
        process's CPU devices only where splitting pays
        (:func:`functional_training._sweep_program.default_devices`).
      progress: optional ``progress(steps_done, steps)`` callback; when given, the
        run is split into at most ``PROGRESS_CHUNKS`` chunks of the same compiled
        program and the callback runs after each; its last call is
        ``progress(steps, steps)``.
      initial_params: one initial point for every run instead of the seeded ones:
        ``{scalar name: float}`` (:func:`functional_training.initial_values`' form,
        e.g. a spec file's explicit values), or the kind's parameter pytree (its
        dtype then sets the sweep's precision); ``seeds`` must then hold one seed,
        which only labels the one column, or be ``None``.
      method: ``"auto"`` (default), ``"moments"`` or ``"autodiff"``. ``"auto"``
        takes the exact moments path (:mod:`functional_training._sweep_moments`)
        for full-batch SGD on the lesson's line (one feature, half squared error,
        no L2) on data where it is exact, else autodiff; ``"moments"`` elsewhere is
        refused, naming why.
      on_cost: called with the :class:`~functional_training._sweep_cost.SweepCost`
        estimate once every argument is checked, before anything is compiled (a
        sweep over the machine's memory is refused before that, in one line).

    Returns:
      A :class:`SweepResult`. Divergent runs are data: their non-finite values are
      recorded and ``first_nonfinite_step`` says where they started.

    Raises:
      ValueError, TypeError: for bad arguments, one line naming the problem.

    Example:
      >>> import functional_training as ft
      >>> x, y = ft.two_moons(20, noise=0.1, seed=0)
      >>> net = ft.objective("mlp", loss="hinge", sizes=[2, 4, 1], activation="tanh")
      >>> result = ft.sweep(net, (x, y), learning_rates=[0.1, 1.0], seeds=[0, 1, 2], steps=10)
      >>> result.losses.shape, result.method, result.first_nonfinite_step.tolist()
      ((2, 3, 11), 'autodiff', [[-1, -1, -1], [-1, -1, -1]])
      >>> heavy = ft.sweep(net, (x, y), learning_rates=[0.1, 1.0], seeds=[0, 1, 2], steps=10,
      ...                  optimizer="momentum", hyperparameters={"momentum": [0.5, 0.9]})
      >>> heavy.grid, heavy.hyperparameter_axes["momentum"].tolist()
      ((2, 2, 3), [0.5, 0.9])
    """
    if not isinstance(model, Objective):
        raise TypeError(f"model must be an Objective (functional_training.objective), got "
                        f"{type(model).__name__}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    _check_steps(steps, record_every)
    rates = _check_rates(learning_rates)
    seed_axis = seeds is not None
    if not seed_axis and initial_params is None:
        raise ValueError("seeds=None needs initial_params (the one initial point of every run)")
    seeds = _check_seeds(seeds) if seed_axis else np.array([0])
    if initial_params is not None and seeds.size != 1:
        raise ValueError(f"initial_params fix one initial point: give one seed, not {seeds.size}")
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError("data must be (x, y)")
    x_np, y_np = check_data(*data)
    check_objective_data(model, x_np, y_np, "train")
    hyper, axes = check_sweep_hyperparameters(optimizer, hyperparameters)
    settings = math.prod(values.size for values in axes.values())
    batches = _batches(batch_size, batch_seed, batch_indices, steps, x_np.shape[0])
    initial, dtype = _initial_points(model, seeds, initial_params)
    check_learning_rate_fits(float(rates.max()), dtype)
    method = _choose_method(method, model, optimizer, batches is not None, x_np, y_np, dtype,
                            weight_decay=dict(hyper).get("weight_decay") or 0.0, axes=axes)

    runs = rates.size * settings * seeds.size
    if devices is None:  # on one process's CPU devices: split only where it pays
        devices = default_devices(method, model, runs=runs, steps=steps, batch=x_np.shape[0]
                                  if batches is None else int(np.shape(batches)[1]))
    device_list, sharding = mesh(devices)
    padded = padded_runs(runs, len(device_list))
    records, remainder = divmod(steps, record_every)
    _check_record_size(padded, records + 1, np.dtype(dtype).itemsize)
    cost = sweep_cost(
        model, examples=x_np.shape[0], batch=x_np.shape[0] if batches is None else
        int(np.shape(batches)[1]), runs=padded, steps=steps, record_every=record_every,
        optimizer=optimizer, hyperparameters={**{k: v for k, v in hyper if v is not None},
                                              **axes}, itemsize=np.dtype(dtype).itemsize)
    check_sweep_memory(cost)
    if on_cost is not None:
        on_cost(cost)  # every argument checked; nothing compiled yet
    per_run = jax.tree.map(lambda *leaves: np.stack([np.asarray(leaf) for leaf in leaves]),
                           *initial)
    per_run = jax.tree.map(
        lambda leaf: np.tile(leaf, (rates.size * settings,) + (1,) * (leaf.ndim - 1)), per_run)
    spec = ProgramSpec(method, optimizer, hyper, record_every, remainder, batches is not None,
                       sharding, model)
    grid = (rates.size, *(values.size for values in axes.values()),
            *((seeds.size,) if seed_axis else ()))
    # every run's rate and settings: the grid's coordinates, flattened in C order
    coordinates = np.meshgrid(rates, *axes.values(), seeds, indexing="ij")
    state = initial_state(spec, per_run, coordinates[0].ravel(), padded, records, dtype,
                          {key: values.ravel() for key, values in
                           zip(axes, coordinates[1:-1], strict=True)})
    on_device = device_data(spec, x_np, y_np, batches, dtype, device_list)
    state = place_state(state, sharding, device_list[0])
    host, compile_seconds, run_seconds = execute(spec, state, on_device, records, steps,
                                                 progress)

    def on_grid(leaf):
        return leaf[:runs].reshape(*grid, *leaf.shape[1:])

    # without a seed axis the records stay a transposed view: no copy of a large record
    losses = host.losses[:, :runs].T if len(grid) == 1 else on_grid(
        np.ascontiguousarray(host.losses.T))
    return SweepResult(
        learning_rates=rates,
        losses=losses,
        final_params=jax.tree.map(on_grid, host.params),
        final_loss=on_grid(host.final_loss),
        first_nonfinite_step=on_grid(host.first_bad.astype(np.int64)),
        steps=steps,
        record_every=record_every,
        method=method,
        devices=device_list,
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        seeds=seeds if seed_axis else None,
        hyperparameter_axes=MappingProxyType(axes),
    )


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
    """The lesson's line over learning rates: :func:`sweep` from one initial ``(w, b)``.

    A thin alias: ``sweep(objective("linear", features=d), (x, y),
    learning_rates=learning_rates, seeds=None, initial_params=params, ...)`` with
    ``d`` the data's features; arrays are per rate (no seed axis): ``losses`` has
    shape ``(L, S // K + 1)``, ``final_params.w`` ``(L,)`` (``(L, d)``). ``params``'
    dtype sets the sweep's precision; ``hyperparams`` are :func:`sweep`'s
    ``hyperparameters`` (a list of values is an axis after the rates: ``losses`` then has
    shape ``(L, H, S // K + 1)``), ``batch_indices`` its batch order (``None``: full batch).

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
    try:  # the features, for the objective; sweep checks the data once (check_data)
        x = np.asarray(x)
        features = int(x.shape[1]) if x.ndim == 2 else 1
    except ValueError:  # ragged: sweep's check_data names it
        features = 1
    return sweep(_line(features), (x, y), learning_rates=learning_rates, seeds=None,
                 optimizer=optimizer, hyperparameters=hyperparams, steps=steps,
                 batch_indices=batch_indices, record_every=record_every, devices=devices,
                 progress=progress, initial_params=params, method=method)


@functools.cache
def _line(features: int) -> Objective:
    """The lesson's line with ``features`` inputs (an immutable ``Objective``, built once)."""
    return objective("linear", features=features)


# ---------------------------------------------------------------- the runs' starting points


def _initial_points(model: Objective, seeds: np.ndarray, initial_params) -> tuple[list, Any]:
    """One parameter pytree per seed, and the sweep's dtype.

    Seeded and named values run in the default float dtype (``float64`` inside
    :func:`functional_training.float64`); a pytree of parameters in its own dtype.
    """
    config = model.settings
    if initial_params is None or isinstance(initial_params, Mapping):
        initial = [params_from_values(model.model, kind_initial_values(
            model.model, init="seeded", seed=int(seed), **config) if initial_params is None
            else initial_params, **config) for seed in seeds]
        return initial, np.dtype(jnp.result_type(float))
    params, dtype = float_params(initial_params)  # a list w stays one leaf
    _check_fits(model, params)
    return [params], np.dtype(dtype)


def _check_fits(model: Objective, params) -> None:
    """``ValueError`` unless ``params`` has the kind's leaves and shapes (one line)."""
    shapes = model_kind(model.model).shapes(**model.settings)
    got = [(jax.tree_util.keystr(path, simple=True, separator="."), jnp.shape(leaf))
           for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]]
    expected = list(shapes.items())
    if [name for name, _ in got] != [name for name, _ in expected]:
        raise ValueError(f"params do not fit the {model.model} model: leaves "
                         f"{', '.join(name for name, _ in got)}, expected "
                         f"{', '.join(name for name, _ in expected)}")
    for (name, shape), (_, want) in zip(got, expected, strict=True):
        if tuple(shape) != tuple(want):
            raise ValueError(f"params do not fit the data: {name} has shape {tuple(shape)}, "
                             f"expected {tuple(want)} for the {model.model} model")


def _choose_method(method: str, model: Objective, optimizer: str, minibatch: bool, x, y,
                   dtype, *, weight_decay: float = 0.0, axes: Mapping = MappingProxyType({})
                   ) -> str:
    problem = moments_problem(model, optimizer, minibatch, weight_decay=weight_decay)
    if problem is None and axes:
        problem = f"a hyperparameter axis ({', '.join(axes)}) runs on the autodiff path"
    if method == "moments" and problem:
        raise ValueError(f"method='moments' needs full-batch SGD on the lesson's line: {problem}")
    if method == "auto":
        return "moments" if problem is None and moments_exact(x, y, dtype) else "autodiff"
    return method


# ---------------------------------------------------------------- validation


def _batches(batch_size, batch_seed: int, batch_indices, steps: int, n: int):
    """The batch order as int32 ``(S, batch_size)``, or ``None`` for full batch."""
    if batch_size is not None and batch_indices is not None:
        raise ValueError("give batch_size or batch_indices, not both")
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not (
                0 < batch_size <= n):
            raise ValueError(f"batch_size must be an integer in [1, {n}], got {batch_size!r}")
        batch_indices = minibatch_indices(n, batch_size=batch_size, steps=steps, seed=batch_seed)
    batches = check_batch_indices(batch_indices, steps, n)
    return None if batches is None else batches.astype(np.int32)


def _check_seeds(seeds) -> np.ndarray:
    values = np.asarray(seeds)
    if values.ndim != 1 or values.size == 0 or not np.issubdtype(values.dtype, np.integer) or (
            values < 0).any():
        raise ValueError(f"seeds must be a non-empty list of integers >= 0, got {seeds!r}")
    return values.astype(np.int64)


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


def check_sweep_hyperparameters(optimizer: str, hyperparams: Mapping | None
                                ) -> tuple[tuple, dict]:
    """The program's settings and the hyperparameter axes of :func:`sweep`'s ``hyperparameters``.

    Returns ``(hyper, axes)``: ``hyper`` the sorted ``(setting, value)`` pairs with
    ``None`` for a per-run setting (an axis; see
    :func:`functional_training._sweep_program.injected_optimizer`), ``axes``
    ``{setting: float64 values}`` in the given order. Every value of an axis is
    checked with the other settings as
    :func:`functional_training._optimizers.check_hyperparameters` checks one setting
    (one line naming the setting and value).

    Example:
      >>> hyper, axes = check_sweep_hyperparameters("adam", {"b2": [0.9, 0.99], "eps": 1e-6})
      >>> hyper, axes["b2"].tolist()
      ((('b2', None), ('eps', 1e-06)), [0.9, 0.99])
      >>> check_sweep_hyperparameters("momentum", {"momentum": [0.5, 1.0]})
      Traceback (most recent call last):
      ...
      ValueError: optimizer 'momentum': momentum must lie in [0, 1), got 1.0
    """
    hyper = dict(hyperparams or {})
    if "learning_rate" in hyper:
        raise TypeError("hyperparams must not set learning_rate: the sweep sets it per rate")
    axes = {key: _axis_values(key, value) for key, value in hyper.items()
            if _is_axis(value)}
    fixed = {key: value for key, value in hyper.items() if key not in axes}
    first = {key: float(values[0]) for key, values in axes.items()}
    check_hyperparameters(optimizer, {**fixed, **first})  # validates the name and settings
    for key, values in axes.items():
        for value in values[1:]:
            check_hyperparameters(optimizer, {**fixed, **first, key: float(value)})
    pairs = [(k, float(v)) for k, v in fixed.items()] + [(k, None) for k in axes]
    return tuple(sorted(pairs, key=lambda pair: pair[0])), axes


def _is_axis(value) -> bool:
    """A list, tuple or array of values (an axis), not one number."""
    return isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim > 0)


def _axis_values(key: str, values) -> np.ndarray:
    """One hyperparameter axis as float64 values: a non-empty 1-D list of real numbers."""
    array = np.asarray(values)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"hyperparameters[{key!r}] must be a number or a non-empty list of "
                         f"numbers, got shape {array.shape}")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number) or np.issubdtype(
            array.dtype, np.complexfloating):
        raise TypeError(f"hyperparameters[{key!r}] must hold real numbers, got {values!r}")
    return array.astype(np.float64)
