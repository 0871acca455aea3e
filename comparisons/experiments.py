"""The lesson's experiments as data, and the batch order every backend replays.

An :class:`Experiment` is a frozen description; backends turn it into a
:class:`functional_training.TrajectoryRecord`. Adding an experiment is one entry
in :data:`REGISTRY` (or one user spec file, see :mod:`comparisons.spec`).

Kinds:

- ``train``: a model of kind ``model`` (``linear``: ``prediction = x @ w + b``,
  ``w * x + b`` for one feature) with mean half squared error, trained by
  ``optimizer`` for ``steps`` steps.
- ``gradient-check``: like ``train`` (its ``steps`` optimizer steps), plus
  centered finite differences of the loss at ``params[k]`` with step
  ``fd_epsilon``, recorded per step as ``extras["numeric.<name>"]`` per parameter.
- ``shared-path``: the lesson's ``a * a``: one parameter ``a``, loss ``a * a``,
  gradient by each backend's own machinery, no update (``optimizer = "none"``).
- ``accumulation``: the lesson's gradient-buffer example: ``steps`` backward
  passes at fixed parameters (``optimizer = "none"``); before step k the buffer
  is cleared when ``zero_grad[k]`` is true, and ``grads[k]`` is the buffer after
  the backward pass, as the framework holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import as_file, files

import numpy as np

from functional_training import (
    MANY_SHIPMENTS,
    NORMAL_WEEK,
    ONE_SHIPMENT,
    PEAK_SEASON,
    SHIPMENTS,
    epoch_batches,
    initial_values,
    read_table,
    two_moons,
)
from functional_training.runs import FROM_TRAJECTORY, RunSpec

KINDS = ("train", "gradient-check", "shared-path", "accumulation")


@dataclass(frozen=True)
class Experiment(RunSpec):
    """A training experiment every backend can run: a run description plus what to compare.

    An ``Experiment`` *is* a :class:`functional_training.runs.RunSpec` (the one
    run description: ``name``, ``description``, ``train``, ``init``, ``optimizer``,
    ``hyperparams``, ``steps``, ``validation``, ``trainable``, ``batch_size``,
    ``seed``, ``model``, ``model_settings``, ``loss``, ``l2``, ``schedule``, and
    the properties ``features``, ``model_config``, ``outputs``, ``x_rows``, ...;
    see its docstring), with the comparison-only fields below. ``init`` may name
    ``{"a": ..}`` for shared-path; ``optimizer`` may be ``none``. A spec file's run
    becomes one with ``Experiment.of(run_spec)``.

    Attributes:
      kind: one of :data:`KINDS`.
      zero_grad: accumulation experiments only: clear the buffer before step k?
      fd_epsilon: gradient-check experiments only: the finite-difference step.
      lesson_block: the lesson block this experiment regenerates, if any.
    """

    kind: str = "train"
    zero_grad: tuple[bool, ...] | None = None
    fd_epsilon: float | None = None
    lesson_block: str | None = None

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The scalar parameter names of the contract, in the model kind's order
        (shared-path: its own ``a``)."""
        if self.kind == "shared-path":
            return tuple(self.init)
        return super().parameter_names


def batch_order(experiment: Experiment, *, examples: int | None = None
                ) -> list[list[int]] | None:
    """Example indices for each step, or ``None`` for full batch: the one batch rule.

    An explicit :attr:`~functional_training.runs.RunSpec.order` (a replayed run's:
    any sampler, batches of any sizes) is the order itself. Otherwise, with a
    ``batch_size``, the rule of :func:`functional_training.epoch_batches`: each
    epoch draws ``numpy.random.default_rng(seed).permutation(n)`` (one generator
    for the whole run, so epochs differ) and cuts it into batches of
    ``batch_size``, the remainder dropped (``last_batch = "drop"``, every batch
    the same size) or kept as the epoch's short last batch (``"keep"``); epochs
    repeat until ``steps`` batches exist. Generated once here and replayed by
    every backend (:meth:`comparisons.backends._loop.Loop.batches`): frameworks
    never share random streams.

    Args:
      experiment: the run.
      examples: ``n``, the rows the batches index (default: its training rows).

    Raises:
      ValueError: the order is left to a trajectory (``[run] batches = "trajectory"``).

    Example:
      >>> e = REGISTRY["mini-batch"]
      >>> order = batch_order(e)
      >>> len(order), len(order[0]), sorted(sum(order[:5], []))
      (15, 2, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    if experiment.order == FROM_TRAJECTORY:
        raise ValueError(f"{experiment.name}: the batches are left to a trajectory "
                         '([run] batches = "trajectory"); only a check can replay them')
    if experiment.order is not None:
        return [list(row) for row in experiment.order]
    if experiment.batch_size is None:
        return None
    return epoch_batches(len(experiment.train) if examples is None else examples,
                         batch_size=experiment.batch_size, steps=experiment.steps,
                         seed=experiment.seed, last_batch=experiment.last_batch)


def _sgd(rate: float) -> dict[str, float]:
    return {"learning_rate": rate}


def _lesson_experiments() -> list[Experiment]:
    one = {"w": 1.0, "b": 0.0}
    zero = {"w": 0.0, "b": 0.0}
    experiments = [
        Experiment("single-update", "one SGD step on one shipment (x=2, y=6)", ONE_SHIPMENT,
                   one, "sgd", _sgd(0.1), 1, lesson_block="single-update"),
        Experiment("five-steps", "five SGD steps on one shipment", ONE_SHIPMENT, one, "sgd",
                   _sgd(0.1), 5, lesson_block="five-steps"),
    ]
    for rate in ("0.01", "0.1", "0.5"):
        experiments.append(
            Experiment(f"learning-rates/lr={rate}", f"five steps at learning rate {rate}",
                       ONE_SHIPMENT, one, "sgd", _sgd(float(rate)), 5,
                       lesson_block="learning-rates")
        )
    experiments += [
        Experiment("gradient-check", "analytic gradient vs centered finite difference",
                   ONE_SHIPMENT, one, "sgd", _sgd(0.1), 1, kind="gradient-check",
                   fd_epsilon=1e-5, lesson_block="gradient-check"),
        Experiment("scalar-autograd", "forward and backward through the scalar graph",
                   ONE_SHIPMENT, one, "sgd", _sgd(0.1), 1, lesson_block="scalar-autograd"),
        Experiment("shared-path", "a * a: gradients of a value used twice add up", (),
                   {"a": 3.0}, "none", {}, 1, trainable=("a",), kind="shared-path",
                   lesson_block="shared-path"),
        Experiment("full-batch", "20 full-batch SGD steps on three shipments", SHIPMENTS, zero,
                   "sgd", _sgd(0.08), 20, lesson_block="full-batch"),
        Experiment("train-validation", "peak-season training, normal-week validation, no bias",
                   PEAK_SEASON, {"w": 2.0, "b": 0.0}, "sgd", _sgd(0.02), 4,
                   validation=NORMAL_WEEK, trainable=("w",), lesson_block="train-validation"),
        Experiment("pytorch-step", "one optimizer step of nn.Linear on three shipments",
                   SHIPMENTS, zero, "sgd", _sgd(0.08), 1, lesson_block="pytorch-step"),
        Experiment("gradient-accumulation", "backward twice without zeroing, then zero again",
                   ONE_SHIPMENT, one, "none", {}, 3, trainable=("w",), kind="accumulation",
                   zero_grad=(True, False, True), lesson_block="gradient-accumulation"),
        Experiment("mini-batch", "ten shipments, batches of 2 shuffled per epoch, 3 epochs",
                   MANY_SHIPMENTS, zero, "sgd", _sgd(0.02), 15, batch_size=2, seed=2026),
        # Optimizer parity: every hyperparameter set explicitly, so optax's and
        # torch.optim's differing defaults cannot matter (see docs/conventions.md).
        Experiment("optimizer/momentum", "heavy-ball momentum 0.9", SHIPMENTS, zero, "momentum",
                   {"learning_rate": 0.02, "momentum": 0.9}, 20),
        Experiment("optimizer/nesterov", "Nesterov momentum 0.9", SHIPMENTS, zero, "nesterov",
                   {"learning_rate": 0.02, "momentum": 0.9}, 20),
        Experiment("optimizer/adam", "Adam, eps outside the square root", SHIPMENTS, zero, "adam",
                   {"learning_rate": 0.1, "b1": 0.9, "b2": 0.999, "eps": 1e-8}, 20),
        Experiment("optimizer/adamw", "AdamW, decoupled weight decay 0.01", SHIPMENTS, zero,
                   "adamw", {"learning_rate": 0.1, "b1": 0.9, "b2": 0.999, "eps": 1e-8,
                             "weight_decay": 0.01}, 20),
    ]
    return experiments


def d2l_regression(n: int = 1000, *, seed: int = 0) -> tuple[tuple[float, ...], ...]:
    """d2l's synthetic linear regression: ``y = x @ [2, -3.4] + 4.2 + noise``.

    ``x ~ N(0, 1)`` of shape ``(n, 2)`` and noise ``~ N(0, 0.01^2)``, drawn from
    ``numpy.random.default_rng(seed)`` (features first, then noise).

    Example:
      >>> rows = d2l_regression(3)
      >>> len(rows), len(rows[0])
      (3, 3)
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(n, 2))
    y = x @ np.array([2.0, -3.4]) + 4.2 + rng.normal(0.0, 0.01, size=n)
    return tuple(tuple(row) for row in np.column_stack([x, y]).tolist())


DELIVERIES = files("comparisons") / "data"
"""The shipped multi-feature data: ``deliveries-train.csv`` and ``deliveries-validation.csv``
(columns ``disruption``, ``distance_100km``, ``weight_t`` and the target ``delay_h``)."""


def _file_rows(name: str) -> tuple[tuple[float, ...], ...]:
    with as_file(DELIVERIES / name) as path:
        table = read_table(path)
    return tuple(tuple(row) for row in np.column_stack([table.x, table.y]).tolist())


def _multi_feature_experiments() -> list[Experiment]:
    d2l_init = np.random.default_rng(1).normal(0.0, 0.01, size=2)  # d2l: w ~ N(0, 0.01^2)
    return [
        Experiment("multi-feature/d2l", "d2l's synthetic regression: 2 features, batches of 10",
                   d2l_regression(), {"w[0]": float(d2l_init[0]), "w[1]": float(d2l_init[1]),
                                      "b": 0.0},
                   "sgd", _sgd(0.03), 300, batch_size=10, seed=0),
        Experiment("multi-feature/shipments",
                   "3 features from CSV files, validation file, Adam, batches of 4",
                   _file_rows("deliveries-train.csv"), {"w[0]": 0.0, "w[1]": 0.0, "w[2]": 0.0,
                                                        "b": 0.0},
                   "adam", {"learning_rate": 0.05, "b1": 0.9, "b2": 0.999, "eps": 1e-8}, 60,
                   validation=_file_rows("deliveries-validation.csv"), batch_size=4, seed=3),
    ]


def moons_rows(n: int = 100, *, noise: float = 0.1, seed: int = 0) -> tuple[tuple[float, ...], ...]:
    """micrograd's demo data: :func:`functional_training.two_moons` as rows ``(x_1, x_2, label)``.

    Example:
      >>> rows = moons_rows(4)
      >>> len(rows), sorted({row[-1] for row in rows})
      (4, [-1.0, 1.0])
    """
    x, y = two_moons(n, noise=noise, seed=seed)
    return tuple(tuple(row) for row in np.column_stack([x, y]).tolist())


def _relabelled(name: str, columns: tuple[int, ...], label) -> tuple[tuple[float, ...], ...]:
    """Rows of a shipped file with the chosen feature columns and a derived target."""
    return tuple((*(row[i] for i in columns), label(row[-1])) for row in _file_rows(name))


def late(delay: float) -> float:
    """1 for a shipment more than 7 hours late, else 0 (the logistic lesson's target)."""
    return 1.0 if delay > 7.0 else 0.0


def delay_class(delay: float) -> float:
    """0: under 6 hours; 1: 6 to under 8; 2: 8 hours or more (the softmax lesson's classes)."""
    return 0.0 if delay < 6.0 else 1.0 if delay < 8.0 else 2.0


def _seeded(model: str, seed: int = 0, **config) -> dict[str, float]:
    return initial_values(model, init="seeded", seed=seed, **config)


def _next_lesson_experiments() -> list[Experiment]:
    moons = {"sizes": (2, 16, 16, 1), "activation": "relu"}
    tanh = {"sizes": (1, 8, 1), "activation": "tanh"}
    softmax = {"sizes": (3, 3), "activation": "tanh"}  # no hidden layer: the activation is unused
    adam = {"learning_rate": 0.05, "b1": 0.9, "b2": 0.999, "eps": 1e-8}
    leaves = tuple(f"layers.{layer}.{p}" for layer in range(3) for p in ("w", "b"))
    return [
        Experiment("mlp/moons", "micrograd's demo: 2-16-16-1 ReLU, hinge + l2, SGD 1.0 -> 0.1",
                   moons_rows(), _seeded("mlp", 0, **moons), "sgd", {}, 100,
                   trainable=leaves, model="mlp", model_settings=moons, loss="hinge", l2=1e-4,
                   schedule={"kind": "linear", "init_value": 1.0, "end_value": 0.1,
                             "transition_steps": 100, "transition_begin": 0}),
        Experiment("mlp/tanh-regression", "a 1-8-1 tanh network on ten shipments, Adam, "
                   "batches of 2", MANY_SHIPMENTS, _seeded("mlp", 1, **tanh), "adam", adam, 40,
                   validation=SHIPMENTS, trainable=leaves[:4], batch_size=2, seed=7,
                   model="mlp", model_settings=tanh),
        Experiment("logistic/late-shipments", "late (> 7 h) or not from disruption and "
                   "distance: binary cross-entropy", _relabelled("deliveries-train.csv", (0, 1),
                                                                 late),
                   {"w[0]": 0.0, "w[1]": 0.0, "b": 0.0}, "sgd", {"learning_rate": 0.5}, 50,
                   validation=_relabelled("deliveries-validation.csv", (0, 1), late),
                   loss="binary-cross-entropy"),
        Experiment("softmax/delay-class", "three delay classes from three features: softmax "
                   "cross-entropy, momentum, batches of 4",
                   _relabelled("deliveries-train.csv", (0, 1, 2), delay_class),
                   _seeded("mlp", 2, **softmax), "momentum",
                   {"learning_rate": 0.05, "momentum": 0.9}, 60,
                   validation=_relabelled("deliveries-validation.csv", (0, 1, 2), delay_class),
                   trainable=leaves[:2], batch_size=4, seed=5, model="mlp",
                   model_settings=softmax, loss="softmax-cross-entropy"),
    ]


REGISTRY: dict[str, Experiment] = {
    e.name: e for e in [*_lesson_experiments(), *_multi_feature_experiments(),
                        *_next_lesson_experiments()]
}
"""Every built-in experiment by name (read-only by convention; user specs are loaded separately)."""
