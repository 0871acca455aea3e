"""Diagnosis: a hand-written buggy loop's trajectory is named as its bug; correct ones get none.

Every trajectory diagnosed here comes from this file's own training loop,
:func:`numpy_loop` (NumPy float64, written from the formulas: forward, loss,
backpropagation with matrices, batch mean, L2, SGD / Adam / AdamW, the batch
order's rule of one ``default_rng(seed).permutation(n)`` per epoch), never from
comparisons' code. Each fault is one ``bug == ...`` line in it, written the way a
user writes the bug; ``bug=None`` is the correct loop, which must agree with the
manual reference and get no diagnosis. The overwriting ``*`` has a ten-line node
class of its own (:class:`_Node`).

Tolerance: the comparator's float64 rule (``functional_training.tolerance``,
1e-12 relative to each group's scale). NumPy sums in another order (BLAS,
pairwise sums) and writes ``tanh' = 1 - t^2``, so the loops here differ from the
reference by a few ulp: far inside it, and each bug is far outside it.

The test experiments are small and chosen so that the faults that apply to each
are told apart by the whole trajectory. On part of one they can coincide: on
batches of 2 with L2, ``sum-not-mean`` (``2 mean + 2 alpha theta``) and
``loss-missing-half`` (the same gradient, a doubled loss) move the parameters
alike, so a parameters-only trajectory of either is diagnosed as both.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import comparisons.faults.diagnosis as diagnosis_module
from comparisons.backends import get_backend
from comparisons.compare import compare_trajectories, rounded_to
from comparisons.experiments import REGISTRY, Experiment
from comparisons.faults import (
    VARIANTS,
    Diagnosis,
    check_faults,
    diagnose,
    fault_differences,
    fault_variants,
    run_variant,
)
from functional_training import TrajectoryRecord

# --- the test's experiments -------------------------------------------------------------------

LINE = Experiment(
    "line[diagnosis]", "a line on six shipments, batches of 2, validation, L2, SGD",
    REGISTRY["mini-batch"].train[:6], {"w": 0.5, "b": 0.25}, "sgd", {"learning_rate": 0.05}, 7,
    validation=REGISTRY["full-batch"].train, batch_size=2, seed=3, l2=0.01)
"""Thirteen faults apply: every one of the linear model's, L2's, the batches' and the
validation set's. 3 batches per epoch, so the second epoch starts at step 3."""

ADAMW = Experiment(
    "adamw[diagnosis]", "a line on three shipments, AdamW with decay 0.1, bias starting at 1",
    REGISTRY["full-batch"].train, {"w": 0.5, "b": 1.0}, "adamw",
    {"learning_rate": 0.1, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 0.1}, 4)

TANH = dataclasses.replace(REGISTRY["mlp/tanh-regression"], name="tanh[diagnosis]", steps=6)
"""1-8-1 tanh, Adam, batches of 2 of 10 shipments (a second epoch from step 5), validation."""

_MOONS = REGISTRY["mlp/moons"]
RELU = dataclasses.replace(_MOONS, name="relu[diagnosis]", train=_MOONS.train[:12], steps=3,
                           schedule=None, hyperparams={"learning_rate": 0.5})
"""micrograd's 2-16-16-1 ReLU network, hinge + L2 1e-4, on 12 points for 3 SGD steps."""

_SOFTMAX = REGISTRY["softmax/delay-class"]
SOFTMAX = dataclasses.replace(_SOFTMAX, name="softmax[diagnosis]", steps=2, optimizer="sgd",
                              hyperparams={"learning_rate": 0.05},
                              init={n: 1000.0 * v for n, v in _SOFTMAX.init.items()})
"""Three delay classes, logits in the thousands (``exp`` overflows past 709.78), SGD."""

ACCUMULATION = REGISTRY["gradient-accumulation"]
SHARED = REGISTRY["shared-path"]

EXPERIMENTS = {e.name: e for e in (LINE, ADAMW, TANH, RELU, SOFTMAX, ACCUMULATION)}


# --- the test's own training loop -------------------------------------------------------------


def _leaves(e: Experiment) -> dict[str, np.ndarray]:
    """The parameters as arrays: ``w (d,)``, ``b ()``; ``layers.l.w (fan_in, fan_out)``, ``.b``."""
    if e.model == "linear":
        d = e.features
        w = [e.init["w"]] if d == 1 else [e.init[f"w[{i}]"] for i in range(d)]
        return {"w": np.array(w), "b": np.array(e.init["b"])}
    sizes, leaves = e.model_settings["sizes"], {}
    for n, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        leaves[f"layers.{n}.w"] = np.array([[e.init[f"layers.{n}.w[{i},{j}]"]
                                             for j in range(fan_out)] for i in range(fan_in)])
        leaves[f"layers.{n}.b"] = np.array([e.init[f"layers.{n}.b[{j}]"] for j in range(fan_out)])
    return leaves


def _named(leaves: dict[str, np.ndarray]) -> dict[str, float]:
    """``{"w": .., "b": ..}``, ``w[i]``, ``layers.l.w[i,j]``, ``layers.l.b[j]``."""
    named = {}
    for leaf, value in leaves.items():
        if value.ndim == 0 or (leaf == "w" and value.size == 1):
            named[leaf] = float(value.reshape(()))
        elif value.ndim == 1:
            named.update({f"{leaf}[{i}]": float(v) for i, v in enumerate(value)})
        else:
            named.update({f"{leaf}[{i},{j}]": float(value[i, j])
                          for i in range(value.shape[0]) for j in range(value.shape[1])})
    return named


def _is_bias(leaf: str) -> bool:
    return leaf.rsplit(".", 1)[-1] == "b"


def _forward(e: Experiment, p, x: np.ndarray):
    """Outputs ``(n, k)`` and, per layer, its input ``A_l`` and pre-activation ``Z_l``."""
    if e.model == "linear":
        return (x @ p["w"] + p["b"])[:, None], [x], []
    activation = e.model_settings.get("activation", "tanh")
    f = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0)}[activation]
    layers = len(e.model_settings["sizes"]) - 1
    inputs, pre, a = [], [], x
    for n in range(layers):
        z = a @ p[f"layers.{n}.w"] + p[f"layers.{n}.b"]
        inputs.append(a)
        pre.append(z)
        a = f(z) if n < layers - 1 else z
    return pre[-1], inputs, pre


def _losses(e: Experiment, out: np.ndarray, y: np.ndarray, bug):
    """Per example: the loss ``(n,)`` and its derivative in the outputs ``(n, k)``."""
    with np.errstate(over="ignore", invalid="ignore"):
        if e.loss == "half-squared-error":
            error = out[:, 0] - y
            if bug == "loss-missing-half":
                return error * error, 2.0 * error[:, None]  # BUG: no 1/2
            return 0.5 * error * error, error[:, None]
        if e.loss == "hinge":
            margin = 1.0 - y * out[:, 0]
            return np.maximum(margin, 0.0), np.where(margin > 0.0, -y, 0.0)[:, None]
        assert e.loss == "softmax-cross-entropy"
        shift = 0.0 if bug == "softmax-without-max-subtraction" else out.max(axis=1,
                                                                              keepdims=True)
        exps = np.exp(out - shift)  # BUG without the shift: inf past 709.78
        total = exps.sum(axis=1, keepdims=True)
        onehot = np.eye(out.shape[1])[y.astype(int)]
        return np.log(total[:, 0]) - ((out - shift) * onehot).sum(axis=1), exps / total - onehot


def _per_example_grads(e: Experiment, p, x: np.ndarray, signal: np.ndarray, bug):
    """Backpropagation: per leaf, the ``n`` examples' gradients stacked on axis 0."""
    _, inputs, pre = _forward(e, p, x)
    if e.model == "linear":
        return {"w": signal[:, :1] * x, "b": signal[:, 0]}
    activation = e.model_settings.get("activation", "tanh")
    grads, delta = {}, signal
    for n in range(len(inputs) - 1, -1, -1):
        grads[f"layers.{n}.w"] = inputs[n][:, :, None] * delta[:, None, :]
        grads[f"layers.{n}.b"] = delta
        if n:
            upstream = delta @ p[f"layers.{n}.w"].T
            t = inputs[n]
            if bug == "tanh-derivative-missing-square":
                slope = 1.0 - t  # BUG: 1 - tanh, not 1 - tanh^2
            elif bug == "relu-gradient-where-negative":
                slope = 1.0  # BUG: relu' = 1 everywhere
            elif activation == "tanh":
                slope = 1.0 - t * t
            else:
                slope = (pre[n - 1] > 0.0).astype(float)
            delta = slope * upstream
    return {leaf: grads[leaf] for leaf in p}


def _decayed(leaf: str, bug) -> bool:
    return not (bug == "bias-left-out-of-weight-decay" and _is_bias(leaf))  # BUG when False


def _loss_and_grads(e: Experiment, p, rows: np.ndarray, bug):
    x, y = rows[:, :-1], rows[:, -1]
    out = _forward(e, p, x)[0]
    values, signal = _losses(e, out, y, bug)
    per_example = _per_example_grads(e, p, x, signal, bug)
    n = len(rows)
    grads = {}
    for leaf, g in per_example.items():
        if bug == "sum-not-mean":
            grads[leaf] = g.sum(axis=0)  # BUG: no / n
        elif bug == "batch-size-divided-twice":
            grads[leaf] = g.mean(axis=0) / n  # BUG: / n again
        elif bug == "bias-gradient-not-summed" and _is_bias(leaf):
            grads[leaf] = g[-1]  # BUG: db = delta in the loop, not db += delta
        else:
            grads[leaf] = g.mean(axis=0)
        if bug == "bias-gradient-sign" and _is_bias(leaf):
            grads[leaf] = -grads[leaf]  # BUG: the bias gradient's sign
    loss = values.mean()
    if e.l2:
        loss = loss + e.l2 * sum(np.sum(v * v) for leaf, v in p.items() if _decayed(leaf, bug))
        if bug != "l2-missing-from-gradient":  # BUG when it is: the penalty's gradient left out
            grads = {leaf: g + 2.0 * e.l2 * p[leaf] if _decayed(leaf, bug) else g
                     for leaf, g in grads.items()}
    return loss, grads


def _mean_loss(e: Experiment, p, rows: np.ndarray, bug) -> float:
    return float(_loss_and_grads(e, p, rows, bug)[0])


def _batch_order(n: int, e: Experiment, bug) -> list[list[int]] | None:
    """One ``default_rng(seed).permutation(n)`` per epoch, cut into ``n // batch_size`` batches."""
    if e.batch_size is None:
        return None
    rng, order, perm = np.random.default_rng(e.seed), [], None
    while len(order) < e.steps:
        if perm is None or bug != "batch-order-not-reshuffled":  # BUG: shuffled once only
            perm = rng.permutation(n)
        for j in range(n // e.batch_size):
            if len(order) < e.steps:
                order.append(perm[j * e.batch_size:(j + 1) * e.batch_size].tolist())
    return order


class _Optimizer:
    """SGD, Adam or AdamW per leaf from the formulas (``theta -= lr u``)."""

    def __init__(self, e: Experiment, leaves, bug) -> None:
        self.e, self.bug = e, bug
        self.m = {leaf: np.zeros_like(v) for leaf, v in leaves.items()}
        self.v = {leaf: np.zeros_like(v) for leaf, v in leaves.items()}
        self.t = dict.fromkeys(leaves, 0)

    def step(self, leaf: str, theta: np.ndarray, g: np.ndarray) -> np.ndarray:
        hp = self.e.hyperparams
        lr = hp["learning_rate"]
        if self.e.optimizer == "sgd":
            u = g
        else:
            self.t[leaf] += 1
            t = self.t[leaf]
            self.m[leaf] = hp["b1"] * self.m[leaf] + (1 - hp["b1"]) * g
            self.v[leaf] = hp["b2"] * self.v[leaf] + (1 - hp["b2"]) * g * g
            u = (self.m[leaf] / (1 - hp["b1"] ** t)) / (
                np.sqrt(self.v[leaf] / (1 - hp["b2"] ** t)) + hp["eps"])
            if self.e.optimizer == "adamw" and _decayed(leaf, self.bug):
                u = u + hp["weight_decay"] * theta
        if self.bug == "learning-rate-applied-twice":
            return theta - lr * (lr * u)  # BUG: the rate twice
        return theta - lr * u


def numpy_loop(e: Experiment, bug: str | None = None) -> TrajectoryRecord:
    """Train ``e`` (kind train or accumulation, no schedule) with one bug, or none.

    Records the trajectory contract: parameters, gradients, losses, predictions,
    batches, and the accuracies of a classifier.
    """
    assert e.schedule is None and e.kind in ("train", "accumulation")
    p = _leaves(e)
    train = np.array(e.train)
    validation = None if e.validation is None else np.array(e.validation)
    rows = train
    if bug == "validation-in-gradient":
        rows = np.concatenate([train, validation])  # BUG: the validation rows trained on
    order = _batch_order(len(rows), e, bug)
    optimizer = _Optimizer(e, p, bug)
    trainable = [leaf for leaf in p if leaf in e.trainable]
    record = {key: [] for key in ("params", "grads", "batch_loss", "train_loss", "val_loss",
                                  "predictions", "train_accuracy", "val_accuracy")}
    buffer = None

    def label(out):
        return np.where(out[:, 0] > 0.0, 1.0, -1.0) if e.loss == "hinge" else np.argmax(out,
                                                                                       axis=1)

    def state():
        record["params"].append(_named(p))
        record["train_loss"].append(_mean_loss(e, p, train, bug))
        out = _forward(e, p, train[:, :-1])[0]
        record["predictions"].append(out.reshape(-1).tolist())
        if validation is not None:
            record["val_loss"].append(_mean_loss(e, p, validation, bug))
        if e.classifies:
            record["train_accuracy"].append(float(np.mean(label(out) == train[:, -1])))
            if validation is not None:
                val_out = _forward(e, p, validation[:, :-1])[0]
                record["val_accuracy"].append(float(np.mean(label(val_out) == validation[:, -1])))

    for k in range(e.steps):
        state()
        batch = rows if order is None else rows[order[k]]
        if bug == "update-in-place-before-all-gradients":
            used, losses = {}, []
            for leaf in p:
                value, grads = _loss_and_grads(e, p, batch, bug)  # BUG: after earlier updates
                losses.append(value)
                used[leaf] = grads[leaf]
                if leaf in trainable:
                    p = {**p, leaf: optimizer.step(leaf, p[leaf], grads[leaf])}
            record["batch_loss"].append(float(losses[0]))  # the loss before any update
            record["grads"].append(_named(used))
            continue
        loss, grads = _loss_and_grads(e, p, batch, bug)
        clear = e.zero_grad[k] if e.kind == "accumulation" else True
        if buffer is None or (clear and bug != "gradients-not-cleared"):  # BUG: never cleared
            buffer = grads
        else:
            buffer = {leaf: buffer[leaf] + g for leaf, g in grads.items()}
        record["grads"].append(_named(buffer))
        if e.kind == "train":
            p = {leaf: optimizer.step(leaf, v, buffer[leaf]) if leaf in trainable else v
                 for leaf, v in p.items()}
        if bug == "update-before-loss":
            loss = _mean_loss(e, p, batch, bug)  # BUG: the loss after the update
        record["batch_loss"].append(float(loss))
    state()
    names = list(record["params"][0])
    extras = {}
    if e.classifies:
        extras["train_accuracy"] = record["train_accuracy"]
        if validation is not None:
            extras["val_accuracy"] = record["val_accuracy"]
    return TrajectoryRecord(
        params={n: [step[n] for step in record["params"]] for n in names},
        grads={n: [step[n] for step in record["grads"]] for n in names},
        batch_loss=record["batch_loss"], train_loss=record["train_loss"],
        val_loss=None if validation is None else record["val_loss"],
        predictions=record["predictions"], batches=order, extras=extras)


class _Node:
    """A scalar with ``*`` and a backward pass; ``overwrite=True`` assigns (the bug)."""

    def __init__(self, data: float, *, overwrite: bool = False) -> None:
        self.data, self.grad, self.overwrite, self.parents = data, 0.0, overwrite, ()

    def __mul__(self, other: _Node) -> _Node:
        out = _Node(self.data * other.data, overwrite=self.overwrite)
        out.parents = ((self, other.data), (other, self.data))  # (parent, d out / d parent)
        return out

    def backward(self) -> None:
        for parent, local in self.parents:
            if self.overwrite:
                parent.grad = local  # BUG: = instead of +=
            else:
                parent.grad += local


def shared_path_loop(e: Experiment, bug: str | None = None) -> TrajectoryRecord:
    a = _Node(e.init["a"], overwrite=bug == "overwrite-not-accumulate")
    square = a * a
    square.backward()
    return TrajectoryRecord(params={"a": [a.data, a.data]}, grads={"a": [a.grad]},
                            batch_loss=[square.data], train_loss=[square.data, square.data])


# --- the cases: every fault, on an experiment where its own loop shows it ---------------------

CASES = [
    ("overwrite-not-accumulate", SHARED),
    ("gradients-not-cleared", LINE),
    ("gradients-not-cleared", ACCUMULATION),
    ("bias-gradient-sign", LINE),
    ("bias-gradient-sign", TANH),
    ("loss-missing-half", LINE),
    ("sum-not-mean", LINE),
    ("update-before-loss", LINE),
    ("tanh-derivative-missing-square", TANH),
    ("bias-gradient-not-summed", LINE),
    ("bias-gradient-not-summed", RELU),
    ("softmax-without-max-subtraction", SOFTMAX),
    ("relu-gradient-where-negative", RELU),
    ("l2-missing-from-gradient", LINE),
    ("l2-missing-from-gradient", RELU),
    ("learning-rate-applied-twice", LINE),
    ("learning-rate-applied-twice", TANH),
    ("batch-size-divided-twice", LINE),
    ("update-in-place-before-all-gradients", LINE),
    ("update-in-place-before-all-gradients", TANH),
    ("batch-order-not-reshuffled", LINE),
    ("batch-order-not-reshuffled", TANH),
    ("validation-in-gradient", LINE),
    ("validation-in-gradient", TANH),
    ("bias-left-out-of-weight-decay", LINE),
    ("bias-left-out-of-weight-decay", ADAMW),
]


def _loop(e: Experiment, bug: str | None = None) -> TrajectoryRecord:
    return (shared_path_loop if e.kind == "shared-path" else numpy_loop)(e, bug)


@pytest.fixture(scope="module")
def references():
    manual = get_backend("manual")
    return {e.name: manual.run(e) for e in (*EXPERIMENTS.values(), SHARED)}


ADDED_FOR_ISSUE_20 = {  # new kinds and forms (comparisons.faults.variants); their own loops
    "sum-not-mean-loss-summed", "relu-gradient-where-negative-hinge", "double-softmax",
    "sigmoid-applied-twice", "hidden-layer-detached", "gradients-cleared-before-step",
    "update-sign-flipped", "wrong-learning-rate", "stale-gradient", "l2-applied-twice",
    "schedule-not-stepped", "step-called-twice", "adamw-not-adam", "last-batch-skipped",
    "last-hidden-layer-detached", "stale-gradient-step-before-backward",
    "l2-also-as-weight-decay", "weight-decay-also-in-loss", "l2-as-weight-decay"}


def test_every_fault_has_a_case():
    assert {name for name, _ in CASES} == set(VARIANTS) - ADDED_FOR_ISSUE_20


@pytest.mark.parametrize(("fault", "experiment"), CASES,
                         ids=[f"{f}-{e.name}" for f, e in CASES])
def test_a_hand_written_buggy_loop_is_diagnosed_as_its_bug(references, fault, experiment):
    reference = references[experiment.name]
    theirs = _loop(experiment, fault)
    assert not compare_trajectories(experiment, {"manual": reference, "theirs": theirs}).agree
    found = diagnose(experiment, theirs, reference=reference)
    # A form is named by its family (forms of one family can coincide: no hinge margin <= 0
    # on RELU's 3 steps).
    family = VARIANTS[fault].family
    assert [(d.fault, d.named, d.confidence) for d in found] == [(family, True, "exact")]
    (diagnosis,) = found
    assert diagnosis.bug == VARIANTS[family].bug
    # Where the fault first shows: where one of its family's variants leaves the reference.
    differences = fault_differences(experiment, reference=reference)
    assert (diagnosis.step, diagnosis.quantity) in {
        (m.step, m.quantity) for name, m in differences.items()
        if VARIANTS[name].family == family and m is not None}


@pytest.mark.parametrize("experiment", [*EXPERIMENTS.values(), SHARED], ids=lambda e: e.name)
def test_a_correct_hand_written_loop_agrees_and_gets_no_diagnosis(references, experiment):
    reference = references[experiment.name]
    theirs = _loop(experiment)
    verdict = compare_trajectories(experiment, {"manual": reference, "theirs": theirs})
    assert verdict.agree, verdict.describe()
    assert diagnose(experiment, theirs, reference=reference) == ()


@pytest.mark.slow  # every variant on every gallery experiment, once: ~40 s
def test_the_gallerys_own_broken_runs_are_diagnosed_where_the_gallery_catches_them():
    # One table of variants behind both: diagnosing the gallery's broken run of a fault names
    # that fault's family (alone) at the gallery's "where it shows".
    runs: dict[str, dict] = {}  # per experiment, its variants' runs: computed once
    for result in check_faults():
        experiment = result.fault.experiment()
        broken = result.fault.run(experiment, broken=True)
        m = result.broken.first_mismatch
        if experiment.name not in runs:
            runs[experiment.name] = {name: run() for name, run in
                                     fault_variants(experiment).items()}
        found = diagnose(experiment, broken, runs=runs[experiment.name])
        assert [(d.fault, d.named, d.step, d.quantity) for d in found] == [
            (VARIANTS[result.fault.name].family, True, m.step, m.quantity)]


# --- partial trajectories ------------------------------------------------------------------------


def partial(trajectory: TrajectoryRecord, *, series=("params", "grads", "batch_loss",
                                                      "train_loss"), steps=None):
    """Only some series, and only steps ``0..steps - 1`` of them (``params`` to ``steps``)."""
    def cut(values, extra=0):
        return list(values) if steps is None else list(values)[:steps + extra]
    return TrajectoryRecord(
        params={n: cut(v, 1) for n, v in trajectory.params.items()} if "params" in series
        else {},
        grads={n: cut(v) for n, v in trajectory.grads.items()} if "grads" in series else {},
        batch_loss=cut(trajectory.batch_loss) if "batch_loss" in series else [],
        train_loss=cut(trajectory.train_loss, 1) if "train_loss" in series else [])


def partial_compare(experiment, reference, theirs):
    """The comparator on what ``theirs`` holds: the reference cut to its series and steps."""
    like = TrajectoryRecord(
        params={n: reference.params[n][:len(v)] for n, v in theirs.params.items()},
        grads={n: reference.grads[n][:len(v)] for n, v in theirs.grads.items()},
        batch_loss=reference.batch_loss[:len(theirs.batch_loss)],
        train_loss=reference.train_loss[:len(theirs.train_loss)])
    return compare_trajectories(experiment, {"manual": like, "theirs": theirs})


def _diagnosed(experiment, theirs, references):
    """The fault named (a one-item list), or the candidates' names in ``()``."""
    found = diagnose(experiment, theirs, reference=references[experiment.name],
                     compare=partial_compare)
    if any(d.named for d in found):
        return [d.fault for d in found]
    return tuple(d.fault for d in found)


def test_parameters_alone_are_enough_to_name_a_fault(references):
    theirs = partial(numpy_loop(LINE, "bias-gradient-sign"), series=("params",))
    assert _diagnosed(LINE, theirs, references) == ["bias-gradient-sign"]


def test_a_rate_read_off_the_updates_needs_the_gradients_to_be_named(references):
    # lr * (-lr u) is a rate lr times the spec's: the gallery's fault (nothing fitted) is
    # named where the gradients show the rate, not the gradient, is off.
    run = numpy_loop(LINE, "learning-rate-applied-twice")
    assert _diagnosed(LINE, partial(run, series=("params", "grads")), references) == [
        "learning-rate-applied-twice"]
    # Parameters alone cannot tell a wrong rate from a gradient scaled alike: candidates.
    assert _diagnosed(LINE, partial(run, series=("params",)), references) == (
        "learning-rate-applied-twice", "wrong-learning-rate")


def test_faults_that_coincide_on_the_parameters_are_both_candidates_neither_named(references):
    # Batches of 2 with L2: sum(g) + 2 alpha theta = 2 mean(g) + 2 alpha theta, the gradient
    # without the 1/2. Only the recorded losses tell them apart -- and on batches of 2 the
    # summed half squared error (reduction='sum') is the mean squared error, so the batch
    # loss tells loss-missing-half from sum-not-mean only (the train loss tells the rest).
    for fault, with_loss in (("sum-not-mean", ["sum-not-mean"]),
                             ("loss-missing-half", ("loss-missing-half", "sum-not-mean"))):
        params_only = partial(numpy_loop(LINE, fault), series=("params",))
        assert _diagnosed(LINE, params_only, references) == ("loss-missing-half",
                                                             "sum-not-mean")
        with_losses = partial(numpy_loop(LINE, fault), series=("params", "batch_loss"))
        assert _diagnosed(LINE, with_losses, references) == with_loss


def test_a_batch_loss_alone_names_the_loss_recorded_after_the_update(references):
    theirs = numpy_loop(LINE, "update-before-loss")
    assert _diagnosed(LINE, partial(theirs, series=("batch_loss",)),
                      references) == ["update-before-loss"]
    # Its parameters are the reference's: nothing to diagnose in them.
    assert _diagnosed(LINE, partial(theirs, series=("params",)), references) == ()


def test_only_the_first_steps(references):
    theirs = numpy_loop(LINE, "batch-order-not-reshuffled")
    # The first epoch (steps 0..2) is the reference's own; the replay shows from step 3.
    assert _diagnosed(LINE, partial(theirs, steps=3), references) == ()
    assert _diagnosed(LINE, partial(theirs, steps=4), references) == [
        "batch-order-not-reshuffled"]


def test_a_float32_trajectory_is_diagnosed_at_float32s_tolerance(references):
    theirs = rounded_to(numpy_loop(LINE, "batch-size-divided-twice"), "float32")
    assert [d.fault for d in diagnose(LINE, theirs, dtype="float32")] == [
        "batch-size-divided-twice"]
    correct = rounded_to(numpy_loop(LINE), "float32")
    assert diagnose(LINE, correct, dtype="float32") == ()
    # The float64 rule sees the rounding itself as a mismatch, and no fault in it.
    assert diagnose(LINE, correct, reference=references[LINE.name]) == ()


def test_a_trajectory_of_two_bugs_names_no_fault(references):
    theirs = numpy_loop(LINE, "sum-not-mean")
    other = numpy_loop(LINE, "update-before-loss")
    both = dataclasses.replace(theirs, batch_loss=other.batch_loss)  # two bugs, one run
    found = diagnose(LINE, both, reference=references[LINE.name])
    assert not any(d.named for d in found)
    # Its training is sum-not-mean's (and loss-missing-half's: they coincide here).
    assert [(d.fault, d.confidence) for d in found] == [("loss-missing-half", "training"),
                                                        ("sum-not-mean", "training")]


# --- which faults apply, and where they can be seen ---------------------------------------------


def test_faults_apply_where_their_piece_exists():
    assert list(fault_variants(SHARED)) == ["overwrite-not-accumulate"]
    assert set(fault_variants(LINE)) == set(VARIANTS) - {
        "tanh-derivative-missing-square", "softmax-without-max-subtraction",
        "relu-gradient-where-negative", "relu-gradient-where-negative-hinge",
        "double-softmax", "sigmoid-applied-twice", "hidden-layer-detached",
        "last-hidden-layer-detached", "schedule-not-stepped", "adamw-not-adam",
        "weight-decay-also-in-loss"}
    assert set(fault_variants(REGISTRY["single-update"])) == {  # one example, one step
        "overwrite-not-accumulate", "bias-gradient-sign", "loss-missing-half",
        "update-before-loss", "learning-rate-applied-twice",
        "update-in-place-before-all-gradients", "gradients-cleared-before-step",
        "update-sign-flipped", "wrong-learning-rate", "step-called-twice"}
    softmax = fault_variants(REGISTRY["softmax/delay-class"])
    assert "softmax-without-max-subtraction" in softmax
    assert "tanh-derivative-missing-square" not in softmax  # no hidden layer: tanh unused
    assert "loss-missing-half" not in softmax
    moons = fault_variants(REGISTRY["mlp/moons"])
    assert {"relu-gradient-where-negative", "l2-missing-from-gradient",
            "bias-left-out-of-weight-decay"} <= set(moons)
    assert "batch-order-not-reshuffled" not in moons  # full batch
    assert set(fault_variants(ACCUMULATION)) == {"gradients-not-cleared", "bias-gradient-sign",
                                                 "loss-missing-half", "overwrite-not-accumulate"}
    assert "bias-left-out-of-weight-decay" in fault_variants(REGISTRY["optimizer/adamw"])
    assert "bias-left-out-of-weight-decay" not in fault_variants(REGISTRY["optimizer/adam"])


def test_a_fault_refuses_an_experiment_it_does_not_apply_to():
    with pytest.raises(ValueError, match="does not apply to softmax/delay-class: it applies "
                                         "when the loss is half-squared-error"):
        VARIANTS["loss-missing-half"].run(REGISTRY["softmax/delay-class"])


def test_a_variant_can_equal_the_reference_and_then_diagnoses_nothing():
    # Logits of ordinary size: exp(z) without - max z changes the last bit at most.
    softmax = dataclasses.replace(REGISTRY["softmax/delay-class"], steps=5)
    assert fault_differences(softmax)["softmax-without-max-subtraction"] is None
    # At rate 1, lr * (-lr u) is -lr u.
    rate_one = dataclasses.replace(REGISTRY["full-batch"], hyperparams={"learning_rate": 1.0},
                                   steps=3)
    assert fault_differences(rate_one)["learning-rate-applied-twice"] is None
    theirs = fault_variants(rate_one)["learning-rate-applied-twice"]()
    assert diagnose(rate_one, theirs) == ()


def test_without_a_fault_the_loop_is_the_manual_backend_bit_for_bit():
    manual = get_backend("manual")
    sigmoid = dataclasses.replace(
        REGISTRY["mlp/tanh-regression"], name="sigmoid", steps=5,
        model_settings={**REGISTRY["mlp/tanh-regression"].model_settings,
                        "activation": "sigmoid"})
    cut = [dataclasses.replace(e, steps=min(e.steps, 8)) if e.kind == "train" else e
           for e in REGISTRY.values()]
    for experiment in [*cut, sigmoid, LINE, ADAMW]:
        assert run_variant(experiment, None) == manual.run(experiment), experiment.name


def test_the_diagnosis_gives_its_evidence():
    d = Diagnosis("sum-not-mean", VARIANTS["sum-not-mean"].bug, 0, "grads.w", "x2")
    assert d.describe() == ("sum-not-mean: the batch gradient is a sum over the batch, not a "
                            "mean (evidence: x2)")


def test_a_summed_loss_with_a_summed_gradient_is_named_sum_not_mean(references):
    # reduction='sum': the loss and its gradient both summed over the batch of 3, stepped as
    # they are. The variant keeps a mean loss; the training (params, grads) is the same. (On
    # batches of 2 without L2 this is loss-missing-half exactly: both are candidates there.)
    threes = dataclasses.replace(LINE, name="line[batches of 3]", batch_size=3, l2=0.0)
    theirs = numpy_loop(threes, "sum-not-mean")
    summed = dataclasses.replace(theirs, batch_loss=[3 * v for v in theirs.batch_loss])
    found = diagnose(threes, summed)
    names = [(d.fault, d.named, d.confidence) for d in found]
    assert names in ([("sum-not-mean", True, "exact")], [("sum-not-mean", True, "training")])


def test_the_signature_says_biases_only_and_the_ratio(references):
    theirs = numpy_loop(LINE, "bias-gradient-sign")
    (found,) = diagnose(LINE, theirs, reference=references[LINE.name])
    # L2's 2 alpha b is added after the flipped data gradient: not quite x-1.
    assert found.evidence.endswith("first differs at step 0, grads: x-1.002 the reference's on "
                                   "the biases only (b)")


# --- levels of evidence ---------------------------------------------------------------------------


def test_the_updates_alone_name_a_fault_whose_gradients_were_recorded_otherwise(references):
    # The parameters are learning-rate-applied-twice's; the recorded gradients are zeros
    # (what a hook sees after a zero_grad()): the parameters level names it.
    theirs = numpy_loop(LINE, "learning-rate-applied-twice")
    zeroed = dataclasses.replace(theirs, grads={n: [0.0] * len(v) for n, v in theirs.grads.items()})
    (found,) = diagnose(LINE, zeroed, reference=references[LINE.name])
    assert (found.fault, found.named, found.confidence) == (
        "learning-rate-applied-twice", True, "parameters")
    assert found.evidence.startswith("every parameter supplied agrees with the reference run "
                                     "with this bug, the recorded grads.w does not (step 0)")


def test_agreeing_on_the_first_steps_only_makes_a_candidate_not_a_name(references):
    theirs = numpy_loop(LINE, "learning-rate-applied-twice")
    later = {n: v[:4] + [x * 1.001 for x in v[4:]] for n, v in theirs.params.items()}
    found = diagnose(LINE, dataclasses.replace(theirs, params=later),
                     reference=references[LINE.name])
    assert not any(d.named for d in found)
    assert found[0].fault == "learning-rate-applied-twice"
    assert found[0].confidence == "first-steps"
    assert found[0].evidence.startswith("agrees with the reference run with this bug up to step "
                                        "3, not at step 4, params.w")
    assert len(found) <= 3


def test_past_the_work_limit_the_known_faults_are_not_tried(references, monkeypatch):
    monkeypatch.setattr(diagnosis_module, "MAX_VARIANT_WORK", 10)  # LINE: 2 x 2 x 7 = 28
    found = diagnose(LINE, numpy_loop(LINE, "bias-gradient-sign"),
                     reference=references[LINE.name])
    assert found == ()
    assert found.signature.endswith("the known faults were not tried: 2.8e+01 "
                                    "parameter-example-steps, over 1e+01")


def test_the_variants_run_on_manual_where_fast_and_on_jax_beyond():
    # 337 parameters x 100 examples x 100 steps: past MANUAL_VARIANT_WORK, and the jax
    # program runs it; the lesson's runs stay on manual; the shared path has no jax form.
    assert diagnosis_module.choose_variants(REGISTRY["mlp/moons"]) == "jax"
    assert diagnosis_module.choose_variants(LINE) == "manual"
    assert diagnosis_module.choose_variants(REGISTRY["shared-path"]) == "manual"
    big = dataclasses.replace(REGISTRY["gradient-accumulation"], steps=10**6)  # no jax form
    assert diagnosis_module.choose_variants(big) == "manual"


def test_diagnosable_by_size_on_either_path():
    moons = REGISTRY["mlp/moons"]
    assert diagnosis_module.diagnosable(LINE)
    assert diagnosis_module.diagnosable(moons)  # on jax: 38 x 337 x 101 values
    assert not diagnosis_module.diagnosable(dataclasses.replace(moons, steps=1000))  # 1.3e7
    assert not diagnosis_module.diagnosable(
        dataclasses.replace(REGISTRY["gradient-accumulation"], steps=10**6))
