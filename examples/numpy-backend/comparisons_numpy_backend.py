"""An example plug-in backend for ``python -m comparisons``: the linear model on NumPy arrays.

Written outside the project, against the backend contract of docs/backends.md.
Installed, its entry point (pyproject.toml) makes it the backend ``numpy``::

    [project.entry-points."comparisons.backends"]
    numpy = "comparisons_numpy_backend"

and ``python -m comparisons run --backend numpy --experiment five-steps``
compares its trajectory, value by value and step by step, with the manual reference.

The model is the line ``s = x @ w + b`` for ``d`` features, the parameters one
vector ``theta = (w_1, ..., w_d, b)``. For a batch ``X`` (``n x d``) with targets
``t``, a per-example loss ``l(s, t)`` with derivative ``g = dl/ds`` and the L2
weight ``alpha``:

    L      = mean_i l(s_i, t_i) + alpha |theta|^2
    dL/dw  = X^T g / n + 2 alpha w
    dL/db  = mean_i g_i + 2 alpha b

The losses are :data:`LOSSES`; the optimizers (:data:`OPTIMIZERS`) follow
optax's conventions, with every state starting at zero and ``theta <- theta -
rate * u``. The rate (a constant or a schedule's value at step ``k``) and the
checks every backend makes come from ``comparisons.backends``; the batch order
is the experiment's, replayed (``comparisons.experiments.batch_order``).
Everything is computed in the ``dtype`` asked for (float64 or float32), and a
run that diverges records ``inf`` and ``nan``: they are data, not errors.

It runs the experiment kinds ``train``, ``gradient-check`` and ``accumulation``
on the linear model; :func:`supports` says why it runs nothing else (networks,
``shared-path``, softmax).

Example:
  >>> from comparisons.experiments import REGISTRY
  >>> traj = run(REGISTRY["single-update"])
  >>> traj.batch_loss, traj.grads, traj.params
  ([8.0], {'w': [-8.0], 'b': [-4.0]}, {'w': [1.0, 1.8], 'b': [0.0, 0.4]})
  >>> supports(REGISTRY["mlp/moons"])
  "it runs the linear model only, not 'mlp'"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from comparisons.backends import check_run, learning_rate, optimizer_settings, recorder_for
from comparisons.experiments import Experiment, batch_order
from functional_training import TrajectoryRecord, leaf_of

DESCRIPTION = "example plug-in: the linear model on NumPy arrays, gradients by hand"
REQUIRES = ("numpy",)
INSTALL_HINT = "pip install numpy"


# --- losses: one row each ----------------------------------------------------------------


def _sigmoid(s: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(s))  # <= 1: never overflows
    return np.where(s >= 0, 1 / (1 + e), e / (1 + e))


class Loss(NamedTuple):
    """Per-example value ``l(s, t)``, derivative ``dl/ds``, and the predicted class (or None)."""

    value: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray]
    label: Callable[[np.ndarray], np.ndarray] | None = None


LOSSES = {
    "half-squared-error": Loss(lambda s, t: 0.5 * (s - t) ** 2, lambda s, t: s - t),
    "squared-error": Loss(lambda s, t: (s - t) ** 2, lambda s, t: 2 * (s - t)),
    "binary-cross-entropy": Loss(lambda s, t: np.logaddexp(0, s) - s * t,  # s is a logit
                                 lambda s, t: _sigmoid(s) - t,
                                 lambda s: np.where(s > 0, 1.0, 0.0)),
    "hinge": Loss(lambda s, t: np.maximum(1 - t * s, 0),  # t in {-1, 1}
                  lambda s, t: -t * (1 - t * s > 0),  # 0 at the kink, as the reference
                  lambda s: np.where(s > 0, 1.0, -1.0)),
}
"""The losses this backend runs, by the experiment's loss name."""


# --- optimizers: the direction u of a step theta <- theta - rate * u -------------------


def _sgd(g, state, theta, count, h):
    return g, state


def _momentum(g, state, theta, count, h):
    v = g + h["momentum"] * state[0]
    return v, (v,)


def _nesterov(g, state, theta, count, h):
    v = g + h["momentum"] * state[0]
    return g + h["momentum"] * v, (v,)


def _adam(g, state, theta, count, h):
    m = (1 - h["b1"]) * g + h["b1"] * state[0]
    v = (1 - h["b2"]) * (g * g) + h["b2"] * state[1]
    m_hat, v_hat = m / (1 - h["b1"] ** count), v / (1 - h["b2"] ** count)
    return m_hat / (np.sqrt(v_hat) + h["eps"]), (m, v)  # eps outside the root


def _adamw(g, state, theta, count, h):
    u, state = _adam(g, state, theta, count, h)
    return u + h["weight_decay"] * theta, state  # decoupled: never enters m or v


OPTIMIZERS = {"sgd": (_sgd, 0), "momentum": (_momentum, 1), "nesterov": (_nesterov, 1),
              "adam": (_adam, 2), "adamw": (_adamw, 2)}
"""Name -> ``(direction(g, state, theta, count, settings) -> (u, state), zero buffers)``;
``count`` is the step number from 1."""


# --- the contract: supports and run ----------------------------------------------------


def supports(experiment: Experiment) -> str | None:
    """Why this backend does not run ``experiment`` (``None``: it does).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> supports(REGISTRY["five-steps"]) is None, supports(REGISTRY["shared-path"])
      (True, 'it runs no shared-path experiment (a * a has no model to run)')
    """
    if experiment.kind == "shared-path":
        return "it runs no shared-path experiment (a * a has no model to run)"
    if experiment.model != "linear":
        return f"it runs the linear model only, not {experiment.model!r}"
    if experiment.loss not in LOSSES:
        return f"it has no loss {experiment.loss!r} (it has {', '.join(LOSSES)})"
    return None


def run(experiment: Experiment, *, dtype: str = "float64") -> TrajectoryRecord:
    """Run ``experiment`` on NumPy arrays of ``dtype``.

    Raises:
      ValueError: the experiment is invalid (the message names the field, as
        every backend's does), or this backend does not run it (:func:`supports`).
    """
    check_run(experiment, dtype)
    reason = supports(experiment)
    if reason is not None:
        raise ValueError(f"the numpy backend cannot run {experiment.name}: {reason}")
    with np.errstate(all="ignore"):  # overflow to inf, inf - inf = nan: recorded, not raised
        return _run(experiment, np.dtype(dtype))


def _arrays(rows, dtype) -> tuple[np.ndarray, np.ndarray]:
    data = np.asarray(rows, dtype=dtype)
    return data[:, :-1], data[:, -1]  # X (n x d), t (n)


def _run(experiment: Experiment, dtype: np.dtype) -> TrajectoryRecord:
    loss, alpha = LOSSES[experiment.loss], experiment.l2
    names = experiment.parameter_names  # w (or w[0], ..., w[d-1]), then b
    theta = np.array([experiment.init[n] for n in names], dtype=dtype)
    movable = np.array([leaf_of(n) in experiment.trainable for n in names])
    x, t = _arrays(experiment.train, dtype)
    validation = None if experiment.validation is None else _arrays(experiment.validation, dtype)
    batches = batch_order(experiment)

    def named(vector):  # the contract's {name: value}
        return dict(zip(names, vector.tolist(), strict=True))

    def outputs(theta, x):
        return x @ theta[:-1] + theta[-1]

    def penalty(theta):  # none at all when alpha = 0: 0 * inf would be nan
        return (alpha * np.sum(theta * theta), 2 * alpha * theta) if alpha else (0, 0)

    def mean_loss(theta, x, t):
        return np.mean(loss.value(outputs(theta, x), t)) + penalty(theta)[0]

    def loss_and_grad(theta, x, t):
        s, (value, grad) = outputs(theta, x), penalty(theta)
        g = loss.grad(s, t)
        return np.mean(loss.value(s, t)) + value, np.append(x.T @ g, np.sum(g)) / len(t) + grad

    rec = recorder_for(experiment)

    def record_state(theta):
        accuracy = {}
        if loss.label is not None:
            accuracy["train_accuracy"] = np.mean(loss.label(outputs(theta, x)) == t)
            if validation is not None:
                accuracy["val_accuracy"] = np.mean(
                    loss.label(outputs(theta, validation[0])) == validation[1])
        rec.state(named(theta), train_loss=mean_loss(theta, x, t),
                  val_loss=None if validation is None else mean_loss(theta, *validation),
                  predictions=outputs(theta, x).tolist(), extras=accuracy)

    if experiment.kind == "accumulation":  # no optimizer: the gradient buffer is the record
        buffer = np.zeros_like(theta)
        for k in range(experiment.steps):
            record_state(theta)
            rows = slice(None) if batches is None else batches[k]
            value, grad = loss_and_grad(theta, x[rows], t[rows])
            buffer = (0 if experiment.zero_grad[k] else buffer) + grad
            rec.step(named(buffer), batch_loss=value)
        record_state(theta)
        return rec.trajectory(batches=batches)

    settings, rate = optimizer_settings(experiment), learning_rate(experiment)
    direction, buffers = OPTIMIZERS[experiment.optimizer]
    coupled_decay = settings.get("weight_decay", 0.0) if experiment.optimizer != "adamw" else 0.0
    state = tuple(np.zeros_like(theta) for _ in range(buffers))
    for k in range(experiment.steps):
        record_state(theta)
        rows = slice(None) if batches is None else batches[k]
        value, grad = loss_and_grad(theta, x[rows], t[rows])
        extras = {}
        if experiment.kind == "gradient-check":  # centered differences, one parameter at a time
            eps = experiment.fd_epsilon
            for j, name in enumerate(names):
                step = np.zeros_like(theta)
                step[j] = eps
                up, down = mean_loss(theta + step, x[rows], t[rows]), mean_loss(
                    theta - step, x[rows], t[rows])
                extras[f"numeric.{name}"] = (up - down) / (2 * eps)
        rate_k = rate(k) if callable(rate) else rate
        if experiment.schedule is not None:
            extras["learning_rate"] = rate_k
        rec.step(named(grad), batch_loss=value, extras=extras)
        if coupled_decay:  # torch.optim.SGD/Adam's weight_decay: g + lam theta, unrecorded
            grad = grad + coupled_decay * theta
        u, state = direction(grad, state, theta, k + 1, settings)
        theta = np.where(movable, theta - rate_k * u, theta)  # frozen leaves never move
    record_state(theta)
    return rec.trajectory(batches=batches)
