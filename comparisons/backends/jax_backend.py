"""The jax backend: ``functional_training`` (pure JAX) and optax.

The run is :func:`comparisons.backends._loop.run_loop` around :class:`JaxMaths`.
Training experiments run as one jitted ``lax.scan`` through
``functional_training.train`` on the model kind's parameters
(``functional_training.params_from_values``), with ``make_optimizer(name, frozen=...)``
(frozen parameters get zero updates from ``optax.set_to_zero``, their
gradients are still recorded); batches of different sizes (a replayed order,
a short last batch) do not stack into the scan's ``(S, batch_size)`` indices, so
such a run takes the same optax step eagerly, one step per loop step; the
trajectory becomes the plain record through
``functional_training.record_from_trajectory`` (the one converter); predictions
are the kind's forward at each recorded step (``lax.map``); the gradient check's
finite differences (the loop's) evaluate the objective's batch loss at each ``params[k]``.
float64 runs inside ``functional_training.float64()``, which enables 64-bit
JAX for the call only; float32 runs use float32 arrays explicitly.

JAX has no gradient buffers: ``jax.grad`` returns a fresh gradient every call.
The accumulation experiment therefore emulates the framework's buffer,
``buffer = (0 if cleared else buffer) + grad``, which is exactly what
``.grad`` accumulation in PyTorch and the engine computes. shared-path is
``jax.value_and_grad(lambda a: a * a)``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

import functional_training as ft
from comparisons.backends import _common
from comparisons.backends._loop import Batch, Evaluation, Loop, Maths, run_loop
from comparisons.experiments import Experiment
from comparisons.reference_choice import parameter_count

DESCRIPTION = "JAX: functional_training (jax.grad, optax, one jitted lax.scan)"
REQUIRES = ("jax", "optax")
INSTALL_HINT = "pip install 'jax>=0.4.30' 'optax>=0.2.3'"


def _scalar_inputs(experiment: Experiment) -> bool:
    """Each example's input is one number: the kind takes one input and every parameter
    is a scalar (the lesson's line ``w * x + b``), as the kind's shapes state."""
    kind, config = ft.model_kind(experiment.model), experiment.model_config
    return kind.inputs(**config) == 1 and all(
        shape == () for shape in kind.shapes(**config).values())


def _arrays(experiment: Experiment, rows, dtype) -> tuple[jax.Array, jax.Array]:
    """Features ``(n,)`` when inputs are scalars (:func:`_scalar_inputs`), else ``(n, d)``; y."""
    x = np.asarray([row[:-1] for row in rows], dtype=np.float64)
    if _scalar_inputs(experiment):
        x = x[:, 0]
    return jnp.asarray(x, dtype), jnp.asarray([row[-1] for row in rows], dtype)


def _initial_params(experiment: Experiment, dtype):
    return jax.tree.map(
        lambda leaf: jnp.asarray(leaf, dtype),
        ft.params_from_values(experiment.model, experiment.init, **experiment.model_config),
    )


def _schedule(experiment: Experiment) -> ft.Schedule | None:
    """The experiment's schedule as optax's (``functional_training.make_schedule``), or None."""
    table = _common.schedule_settings(experiment)
    if table is None:
        return None
    kind = table.pop("kind")
    return ft.make_schedule(kind, **table)


def _named(tree) -> dict[str, float]:
    return {name: float(v) for name, v in ft.named_series(tree, leading=0).items()}


def _summed_steps(experiment: Experiment, batches, optimizer):
    """``optimizer`` stepping on ``(n_k / B)`` of step ``k``'s gradient for a summed loss
    (``reduction = "sum"``: the sum divided by the nominal batch size ``B``) where a batch
    is short; ``optimizer`` itself where every batch is full (the loop's
    ``Loop.step_scale``, compiled: ``optax.scale_by_schedule`` of the step count)."""
    if experiment.reduction != "sum" or batches is None:
        return optimizer
    nominal = experiment.batch_size or len(experiment.train)
    scales = np.asarray([len(rows) / nominal for rows in batches], dtype=np.float64)
    if np.all(scales == 1.0):
        return optimizer
    table = jnp.asarray(scales)
    return optax.chain(optax.scale_by_schedule(lambda count: table[count]), optimizer)


def _record(traj: ft.Trajectory, experiment: Experiment, *, predictions,
            batches) -> ft.TrajectoryRecord:
    """``functional_training.record_from_trajectory`` of the compiled run.

    A large run's (:func:`functional_training.holds_arrays`) ``params`` and ``grads``
    are each taken as one ``(series, steps)`` block, its rows named by
    ``experiment.parameter_names`` (the kind's leaves in order, each leaf's elements in
    C order: the naming rule's order), rather than named element by element: the same
    read-only float64 series, 400,000 of them in a fraction of a second.
    """
    steps = len(traj.batch_loss)
    if not ft.holds_arrays(parameter_count(experiment), steps):
        return ft.record_from_trajectory(traj, predictions=predictions, batches=batches)
    names = experiment.parameter_names

    def named(tree) -> dict[str, np.ndarray]:
        leaves = jax.tree.leaves(tree)
        block = np.concatenate([np.asarray(leaf, dtype=np.float64).reshape(len(leaf), -1)
                                for leaf in leaves], axis=1)
        block.flags.writeable = False
        return dict(zip(names, block.T, strict=True))  # column views, as the converter's

    record = ft.record_from_trajectory(traj._replace(params={}, grads={}),
                                       predictions=predictions, batches=batches)
    record = dataclasses.replace(record, params=named(traj.params), grads=named(traj.grads))
    record.check_lengths()
    return record


class JaxMaths(Maths):
    """``functional_training``'s objective and optax.

    When an optimizer steps, :meth:`start` runs every step at once as
    ``functional_training.train``'s one jitted ``lax.scan`` (stepping it from Python
    would compile other arithmetic), and the loop's calls read that run step by
    step. Without an optimizer (accumulation) each call is an eager JAX computation.
    """

    def __init__(self, experiment: Experiment, dtype: str) -> None:
        super().__init__(experiment, dtype)
        self.jax_dtype = jnp.float64 if dtype == "float64" else jnp.float32
        self.record: ft.TrajectoryRecord | None = None
        self.k = 0

    def start(self, batches) -> None:
        """Run every step as one ``lax.scan`` (batches of one size), or set up step by step."""
        experiment = self.experiment
        self.objective = _common.objective_of(experiment)
        self.params = _initial_params(experiment, self.jax_dtype)
        self.splits = {"train": _arrays(experiment, experiment.train, self.jax_dtype)}
        if experiment.validation is not None:
            self.splits["validation"] = _arrays(experiment, experiment.validation,
                                                self.jax_dtype)
        self.buffer = jax.tree.map(jnp.zeros_like, self.params)
        e = self.experiment
        if e.optimizer == "none":
            return
        settings = _common.optimizer_settings(e)
        schedule = _schedule(e)
        if schedule is not None:
            settings["learning_rate"] = schedule
        optimizer = ft.make_optimizer(e.optimizer, frozen=_common.frozen_names(e), **settings)
        optimizer = _summed_steps(e, batches, optimizer)
        if batches is not None and len({len(row) for row in batches}) > 1:
            # Batches of different sizes (a replayed order, a short last batch) do not
            # stack into lax.scan's (S, batch_size) array: step by step, eagerly (a summed
            # loss's n_k / B is in the optimizer's chain, _summed_steps).
            self.schedule, self.optimizer = schedule, optimizer
            self.opt_state = optimizer.init(self.params)
            return
        (x, y), (x_val, y_val) = self.splits["train"], self.splits.get("validation",
                                                                      (None, None))
        traj = ft.train(
            self.params, x, y, optimizer=optimizer, steps=e.steps,
            batch_indices=None if batches is None else np.asarray(batches, dtype=np.int64),
            x_val=x_val, y_val=y_val, objective=self.objective, schedule=schedule,
            eval_every=1,  # the trajectory contract: every step, whatever N * S is
        )
        # each step's forward as one plain matmul (lax.map; vmap's batched one is slower)
        predictions = jax.lax.map(lambda params: self.objective.outputs(params, x), traj.params)
        self.record = _record(traj, e, predictions=predictions, batches=batches)

    def values(self) -> dict[str, float]:
        if self.record is None:
            return _named(self.params)
        return {name: series[self.k] for name, series in self.record.params.items()}

    def evaluate(self, split: str, *, accuracy: bool) -> Evaluation:
        record, k = self.record, self.k
        if record is not None:
            right = record.extras[f"{'train' if split == 'train' else 'val'}_accuracy"][k] \
                if accuracy else None
            if split == "train":
                return Evaluation(record.train_loss[k], record.predictions[k], right)
            return Evaluation(record.val_loss[k], [], right)
        x, y = self.splits[split]
        objective = self.objective
        right = objective.accuracy(self.params, x, y) if accuracy else None
        outputs = []
        if split == "train":
            outputs = np.asarray(objective.outputs(self.params, x),
                                 dtype=np.float64).reshape(-1).tolist()
        return Evaluation(objective.mean_loss(self.params, x, y), outputs, right)

    def forward(self, batch: Batch, moved: tuple[str, float] | None = None) -> float:
        values = self.values()
        if moved is not None:
            name, delta = moved
            values[name] = values[name] + delta
        params = jax.tree.map(lambda leaf: jnp.asarray(leaf, self.jax_dtype), ft.params_from_values(
            self.experiment.model, values, **self.experiment.model_config))
        return float(self.objective.mean_loss(params, *self._batch(batch)))

    def _batch(self, batch: Batch):
        x, y = self.splits["train"]
        if batch.indices is None:
            return x, y
        index = np.asarray(batch.indices)
        return x[index], y[index]

    def zero_grad(self) -> None:
        self.buffer = jax.tree.map(jnp.zeros_like, self.buffer)

    def backward(self, batch: Batch) -> tuple[float, dict[str, float]]:
        if self.record is not None:
            k = self.k
            return (self.record.batch_loss[k],
                    {name: series[k] for name, series in self.record.grads.items()})
        loss, grads = self.objective.loss_and_grad(self.params, *self._batch(batch))
        self.buffer = jax.tree.map(jnp.add, self.buffer, grads)
        return loss, _named(self.buffer)

    def update(self, k: int, grads) -> None:
        if self.record is not None:
            self.k = k + 1  # the compiled run has taken the step already
            return
        updates, self.opt_state = self.optimizer.update(self.buffer, self.opt_state,
                                                        self.params)
        self.params = optax.apply_updates(self.params, updates)

    def scaled_update(self, k: int, grads, scale: float) -> None:
        # the optimizer's chain scales this step's gradient by n_k / B (_summed_steps),
        # in the compiled run and eagerly alike
        self.update(k, grads)

    def learning_rate(self, k: int) -> float:
        if self.record is None:
            return float(self.schedule(k))
        return self.record.extras["learning_rate"][k]

    def square(self, a: float) -> tuple[float, float, float]:
        held = jnp.asarray(a, self.jax_dtype)
        square, grad = jax.value_and_grad(lambda a: a * a)(held)
        return held, square, grad


class WholeRun(Loop):
    """A large training run (:func:`functional_training.holds_arrays`): the compiled run's
    record as :meth:`JaxMaths.start` made it, not read back value by value.

    The loop would record exactly these values (a test compares the two on a small
    run); a record of NumPy arrays is not copied into hundreds of millions of floats.
    A gradient check (finite differences) and accumulation still run the loop.
    """

    def run(self) -> ft.TrajectoryRecord:
        if not self.steps_optimizer or self.checks_gradients:
            return super().run()
        self.maths.start(self.batches())
        return self.maths.record


def whole_run(experiment: Experiment) -> bool:
    """Whether ``experiment`` runs as :class:`WholeRun` (a large model over its steps).

    Only where the compiled run records what the loop would: a mean loss (a summed
    one is recorded ``n`` times by the loop, :meth:`Loop.summed`) on batches of one
    size (batches of different sizes step eagerly through the loop).
    """
    ragged = experiment.last_batch == "keep" or (
        isinstance(experiment.order, tuple) and len({len(rows) for rows in experiment.order}) > 1)
    return (experiment.kind == "train" and experiment.model in ft.MODEL_KINDS
            and experiment.reduction == "mean" and not ragged
            and ft.holds_arrays(parameter_count(experiment), experiment.steps))


def run(experiment: Experiment, *, dtype: str = "float64") -> ft.TrajectoryRecord:
    """Run ``experiment`` with JAX and optax (CPU or whatever JAX's default device is).

    Args:
      experiment: any :class:`~comparisons.experiments.Experiment`.
      dtype: ``"float64"`` (verification, inside ``functional_training.float64()``)
        or ``"float32"``.

    Returns:
      The :class:`functional_training.TrajectoryRecord`; non-finite values are recorded.

    Raises:
      ValueError: the experiment cannot be run (message names the field).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> traj = run(REGISTRY["shared-path"])
      >>> traj.train_loss, traj.grads
      ([9.0, 9.0], {'a': [6.0]})
    """
    _common.check_dtype(dtype)
    # Several features make x @ w a matmul, which recent GPUs would run in TF32 in
    # float32: ask for full precision (docs/accelerators.md).
    with ft.precision(dtype), jax.default_matmul_precision("highest"):
        return run_loop(experiment, JaxMaths, dtype=dtype,
                        loop=WholeRun if whole_run(experiment) else Loop)
