"""The one loop (``comparisons.backends._loop``): what it asks of a backend's maths, in
which order, and every backend run through it on every model kind: each optimizer,
loss, schedule, frozen layers, mini-batches with validation, gradient accumulation and
gradient checks on an mlp.

The first tests drive the loop with a maths written here (the lesson's line on one
example, derivatives by hand): expected values are the lesson's closed forms
(``L = 0.5 (w x + b - y)^2`` at ``x = 2, y = 6``, ``w = 1, b = 0``: ``dL/dw = -8``,
``dL/db = -4``), exact in float64.

Small experiments built here (a 2-3-2 or 1-3-1 network on a handful of rows) so each
runs through all four backends in well under a second; the registry's experiments
(tests/test_comparisons/test_backends.py) cover the course-sized ones. Agreement is
the comparator's float64 verdict (rtol = atol = 1e-12, scale-aware: docs/design.md).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

import functional_training as ft
from comparisons.backends import Evaluation, Loop, Maths, get_backend, run_loop
from comparisons.compare import run_and_compare
from comparisons.experiments import REGISTRY, Experiment, batch_order


class LineMaths(Maths):
    """The lesson's line and half squared error on Python floats, SGD; logs every call."""

    def __init__(self, experiment, dtype):
        super().__init__(experiment, dtype)
        self.calls: list[str] = []
        self.buffer = None
        LineMaths.last = self

    def _loss(self, rows, w, b):
        return sum(0.5 * (w * x + b - y) ** 2 for x, y in rows) / len(rows)

    def start(self, batches):  # not called for the shared path, which has no w, b
        self.calls.append("start")
        self.w, self.b = self.experiment.init["w"], self.experiment.init["b"]

    def values(self):
        return {"w": self.w, "b": self.b}

    def evaluate(self, split, *, accuracy):
        self.calls.append(f"evaluate {split}")
        rows = self.experiment.train
        return Evaluation(self._loss(rows, self.w, self.b),
                          [self.w * x + self.b for x, _ in rows], None)

    def forward(self, batch, moved=None):
        self.calls.append("forward")
        w, b = self.w, self.b
        if moved is not None:
            w, b = (w + moved[1], b) if moved[0] == "w" else (w, b + moved[1])
        return self._loss(batch.rows, w, b)

    def zero_grad(self):
        self.calls.append("zero_grad")
        self.buffer = None

    def backward(self, batch):
        self.calls.append("backward")
        n = len(batch.rows)
        gw = sum((self.w * x + self.b - y) * x for x, y in batch.rows) / n
        gb = sum(self.w * x + self.b - y for x, y in batch.rows) / n
        if self.buffer is not None:
            gw, gb = self.buffer["w"] + gw, self.buffer["b"] + gb
        self.buffer = {"w": gw, "b": gb}
        return self._loss(batch.rows, self.w, self.b), dict(self.buffer)

    def update(self, k, grads):
        self.calls.append("update")
        rate = self.experiment.hyperparams["learning_rate"]
        self.w, self.b = self.w - rate * grads["w"], self.b - rate * grads["b"]

    def square(self, a):
        return a, a * a, 2.0 * a


def test_a_maths_of_its_own_runs_through_the_loop():
    traj = run_loop(REGISTRY["five-steps"], LineMaths)
    # Each step quarters the loss: 8 / 4^k. The first steps are exact in float64; later
    # ones carry the rounding of a few operations per step (rel 1e-12 is the float64 policy).
    assert traj.batch_loss == pytest.approx([8.0, 2.0, 0.5, 0.125, 0.03125], rel=1e-12)
    assert traj.batch_loss[:2] == [8.0, 2.0]
    assert traj.grads["w"][0] == -8.0 and traj.grads["b"][0] == -4.0
    assert traj.params["w"][:2] == [1.0, 1.8]
    assert traj.train_loss[-1] == pytest.approx(0.0078125, rel=1e-12)
    assert traj.batches is None


def test_the_loop_calls_the_maths_in_the_contracts_order():
    run_loop(REGISTRY["gradient-check"], LineMaths)  # one step, finite differences
    assert LineMaths.last.calls == [
        "start", "evaluate train", "zero_grad", "forward", "forward", "forward", "forward",
        "backward", "update", "evaluate train"]


def test_accumulation_clears_only_where_zero_grad_says_and_never_updates():
    traj = run_loop(REGISTRY["gradient-accumulation"], LineMaths)  # zero_grad (T, F, T)
    assert traj.grads["w"] == [-8.0, -16.0, -8.0]  # the buffer: g, g + g, g
    assert "update" not in LineMaths.last.calls
    assert LineMaths.last.calls.count("zero_grad") == 2


def test_the_shared_path_asks_only_for_the_square():
    traj = run_loop(REGISTRY["shared-path"], LineMaths)  # a = 3
    assert traj.grads == {"a": [6.0]} and traj.train_loss == [9.0, 9.0]


def test_a_gradient_check_records_the_centered_differences():
    traj = run_loop(REGISTRY["gradient-check"], LineMaths)
    # L is quadratic, so the centered difference is exact up to rounding of L(theta +- eps).
    assert abs(traj.extras["numeric.w"][0] - -8.0) < 1e-6  # eps = 1e-5: rounding ~ u / eps
    assert abs(traj.extras["numeric.b"][0] - -4.0) < 1e-6


torch = pytest.importorskip("torch")

ROWS = ((0.2, -1.0, 1.0), (1.5, 0.3, -1.0), (-0.7, 0.8, 1.0), (0.9, 1.1, -1.0),
        (-1.2, -0.4, 1.0), (0.4, 0.6, -1.0))
VALIDATION = ((0.1, 0.1, 1.0), (-0.5, 1.0, -1.0))
LEAVES = ("layers.0.w", "layers.0.b", "layers.1.w", "layers.1.b")
OPTIMIZERS = {
    "sgd": {"learning_rate": 0.3},
    "momentum": {"learning_rate": 0.1, "momentum": 0.9},
    "nesterov": {"learning_rate": 0.1, "momentum": 0.8},
    "adam": {"learning_rate": 0.05, "b1": 0.9, "b2": 0.999, "eps": 1e-8},
    "adamw": {"learning_rate": 0.05, "b1": 0.8, "b2": 0.99, "eps": 1e-7, "weight_decay": 0.1},
}


def _mlp(rows=ROWS, *, sizes=(2, 3, 1), activation="tanh", loss="hinge", **fields) -> Experiment:
    settings = {"sizes": sizes, "activation": activation}
    init = ft.initial_values("mlp", init="seeded", seed=3, **settings)
    defaults = {"optimizer": "sgd", "hyperparams": {"learning_rate": 0.3}, "steps": 8,
                "trainable": LEAVES}
    return Experiment("small-mlp", "a small network", rows, init, model="mlp",
                      model_settings=settings, loss=loss, **{**defaults, **fields})


def _agree(experiment: Experiment) -> None:
    trajectories, verdict = run_and_compare(experiment)
    assert verdict.unavailable == {}
    assert verdict.agree, verdict.describe()
    assert set(trajectories) == {"manual", "engine", "torch", "jax"}


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_every_optimizer_and_activation_with_batches_validation_and_a_frozen_layer(
        optimizer, activation):
    _agree(_mlp(activation=activation, optimizer=optimizer,
                hyperparams=OPTIMIZERS[optimizer], batch_size=2, seed=4,
                validation=VALIDATION, trainable=LEAVES[1:], l2=1e-3))


REGRESSION = tuple((x1, x2, 0.5 * x1 - x2 * x2) for x1, x2, _ in ROWS)
BINARY = tuple((x1, x2, (1.0 + t) / 2) for x1, x2, t in ROWS)
CLASSES = tuple((x1, x2, float(i % 3)) for i, (x1, x2, _) in enumerate(ROWS))


@pytest.mark.parametrize(("loss", "rows", "sizes"), [
    ("half-squared-error", REGRESSION, (2, 3, 1)),
    ("squared-error", REGRESSION, (2, 3, 1)),
    ("binary-cross-entropy", BINARY, (2, 3, 1)),
    ("softmax-cross-entropy", CLASSES, (2, 3, 3)),
    ("hinge", ROWS, (2, 3, 1)),
])
@pytest.mark.parametrize("schedule", [
    None,
    {"kind": "constant", "value": 0.2},
    {"kind": "linear", "init_value": 0.5, "end_value": 0.05, "transition_steps": 5,
     "transition_begin": 1},
    {"kind": "cosine", "init_value": 0.4, "decay_steps": 6, "alpha": 0.1, "exponent": 2.0},
    {"kind": "exponential", "init_value": 0.4, "transition_steps": 2, "decay_rate": 0.5,
     "transition_begin": 0, "staircase": True},
])
def test_every_loss_with_every_schedule(loss, rows, sizes, schedule):
    hyperparams = {"momentum": 0.5} if schedule else {"learning_rate": 0.2, "momentum": 0.5}
    experiment = _mlp(rows, sizes=sizes, loss=loss, optimizer="momentum",
                      hyperparams=hyperparams, schedule=schedule, l2=1e-2)
    _agree(experiment)


def test_the_recorded_rate_is_the_schedule_and_accuracy_is_recorded():
    schedule = {"kind": "linear", "init_value": 1.0, "end_value": 0.1, "transition_steps": 4,
                "transition_begin": 0}
    trajectories, verdict = run_and_compare(_mlp(hyperparams={}, schedule=schedule,
                                                 validation=VALIDATION))
    assert verdict.agree, verdict.describe()
    expected = [1.0, 0.775, 0.55, 0.325, 0.1, 0.1, 0.1, 0.1]  # 1 - 0.9 k / 4, then held
    for name, trajectory in trajectories.items():
        # torch's LinearLR updates the rate by a factor per step: a few ulps of drift
        assert trajectory.extras["learning_rate"] == pytest.approx(expected, rel=1e-14), name
        assert len(trajectory.extras["train_accuracy"]) == 9
        assert len(trajectory.extras["val_accuracy"]) == 9
        assert all(v in (0.0, 0.5, 1.0) for v in trajectory.extras["val_accuracy"])


def test_gradient_accumulation_on_an_mlp():
    _agree(replace(_mlp(CLASSES, sizes=(2, 3, 3), loss="softmax-cross-entropy"),
                   kind="accumulation", optimizer="none", hyperparams={}, steps=3,
                   zero_grad=(True, False, True), batch_size=3))


def test_gradient_check_on_an_mlp_matches_every_backends_own_gradient():
    experiment = replace(_mlp(CLASSES, sizes=(2, 3, 3), activation="sigmoid",
                              loss="softmax-cross-entropy"),
                         kind="gradient-check", fd_epsilon=1e-5, steps=2)
    trajectories, verdict = run_and_compare(experiment)
    assert verdict.agree, verdict.describe()
    manual = trajectories["manual"]
    for name in experiment.parameter_names:
        for k in range(2):
            # central differences at eps 1e-5: O(eps^2) truncation + O(u / eps) rounding ~1e-10
            assert manual.extras[f"numeric.{name}"][k] == pytest.approx(
                manual.grads[name][k], abs=1e-8)


def test_a_linear_model_classifies_too():
    init = {"w[0]": 0.0, "w[1]": 0.0, "b": 0.0}
    _agree(Experiment("logistic", "logistic regression", BINARY, init, "adam",
                      OPTIMIZERS["adam"], 10, validation=VALIDATION[:1] + ((0.3, 0.3, 0.0),),
                      loss="binary-cross-entropy", batch_size=3))


# --- batches of different sizes: a replayed order, a short last batch ---------------------

RAGGED = ((3, 0, 5), (1,), (2, 4), (5, 5, 0, 1), (4,), (0, 2, 3, 1, 5, 4))
"""Six steps of any sizes, a repeated index, an index in two batches: a replayed sampler's."""

LINE_ROWS = ((0.5, 2.1), (1.0, 2.8), (2.0, 4.9), (3.0, 6.8), (4.0, 9.2), (5.0, 11.3))


def _numpy_line(rows, order, *, rate, momentum, w=0.0, b=0.0):
    """Heavy-ball momentum on the line, half squared error, float64 NumPy: written here from
    the formulas (``g = mean((w x + b - y) * [x, 1])``, ``v = mu v + g``, ``p -= lr v``)."""
    import numpy as np
    data = np.asarray(rows, dtype=np.float64)
    p, v = np.array([w, b]), np.zeros(2)
    params, grads = [p.copy()], []
    for batch in order:
        x, y = data[list(batch), 0], data[list(batch), 1]
        error = p[0] * x + p[1] - y
        g = np.array([np.mean(error * x), np.mean(error)])
        v = momentum * v + g
        p = p - rate * v
        grads.append(g)
        params.append(p.copy())
    return np.asarray(params), np.asarray(grads)


@pytest.mark.parametrize("backend", ["manual", "engine", "torch", "jax"])
def test_every_backend_runs_batches_of_different_sizes_as_a_numpy_loop(backend):
    experiment = Experiment("ragged", "a replayed order", LINE_ROWS, {"w": 0.0, "b": 0.0},
                            "momentum", {"learning_rate": 0.02, "momentum": 0.9},
                            len(RAGGED), order=RAGGED)
    run = get_backend(backend).run(experiment)
    params, grads = _numpy_line(LINE_ROWS, RAGGED, rate=0.02, momentum=0.9)
    assert run.batches == [list(batch) for batch in RAGGED]
    # The same float64 formulas in another summation order: within 1e-12 of values <= ~30.
    for i, name in enumerate(("w", "b")):
        assert run.params[name] == pytest.approx(params[:, i].tolist(), rel=1e-12, abs=1e-12)
        assert run.grads[name] == pytest.approx(grads[:, i].tolist(), rel=1e-12, abs=1e-12)


def test_every_backend_agrees_on_a_ragged_order_on_an_mlp_with_a_schedule():
    order = tuple(RAGGED[k % len(RAGGED)] for k in range(8))
    _agree(_mlp(order=order, optimizer="adam", hyperparams={"b1": 0.9, "b2": 0.999,
                                                             "eps": 1e-8},
                schedule={"kind": "cosine", "init_value": 0.1, "decay_steps": 8},
                validation=VALIDATION, trainable=LEAVES[2:]))


def test_a_kept_last_batch_is_the_epochs_remainder_on_every_backend():
    experiment = _mlp(batch_size=4, seed=2, last_batch="keep", steps=6)
    order = batch_order(experiment)
    assert [len(batch) for batch in order] == [4, 2, 4, 2, 4, 2]  # 6 rows: 4 + 2 per epoch
    for first in (0, 2, 4):  # each epoch is one permutation of the six rows
        assert sorted(order[first] + order[first + 1]) == list(range(6))
    _agree(experiment)


def test_an_explicit_order_decides_the_batches_whatever_batch_size_says():
    experiment = _mlp(batch_size=2, seed=1, order=RAGGED, steps=len(RAGGED))
    assert Loop(experiment, None).batches() == [list(batch) for batch in RAGGED]
