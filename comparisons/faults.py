"""The fault gallery: classic training bugs, each caught by the comparator at a named step.

Each :class:`Fault` is a small run function with one deliberate bug, switched
on by ``broken=True``; with ``broken=False`` the same code is correct. Both
variants run one experiment and are compared with the reference backend
(``manual``) by :func:`comparisons.compare.compare_trajectories`. A fault is
*caught* when the broken variant mismatches and the correct variant agrees, so
the mismatch comes from the bug and not from the harness.

===============================  ==================================  =============================
fault                            the bug                             where it shows
===============================  ==================================  =============================
overwrite-not-accumulate         ``*`` backward assigns (``=``)      step 0, grads.a
                                 instead of adding (``+=``):
                                 ``a * a`` gets 3, not 6
gradients-not-cleared            no ``zero_grad()`` between          step 1, grads.w
                                 optimizer steps
bias-gradient-sign               hand-written                        step 0, grads.b
                                 ``dL/db = -mean(error)``
loss-missing-half                ``mean(error ** 2)``, no 1/2        step 0, grads.w
sum-not-mean                     batch gradient summed, not          step 0, grads.w
                                 averaged
update-before-loss               loss recorded after the update      step 0, batch_loss
tanh-derivative-missing-square   ``tanh' = 1 - tanh``, not           step 0, grads.layers.0.w[0,0]
                                 ``1 - tanh^2``
bias-gradient-not-summed         ``dL/db`` of the batch's last       step 0, grads.layers.0.b[0]
                                 example, not the batch mean
softmax-without-max-subtraction  ``exp(z) / sum exp(z)``, no         step 0, grads.layers.0.w[0,2]
                                 ``- max z``: ``inf / inf = nan``
relu-gradient-where-negative     ``relu' = 1`` everywhere, also      step 0, grads.layers.0.w[0,0]
                                 where the input is negative
l2-missing-from-gradient         ``alpha sum theta^2`` in the        step 0, grads.layers.0.w[0,0]
                                 loss, its ``2 alpha theta`` not
                                 in the gradient
===============================  ==================================  =============================

The first six run the lesson's ``shared-path`` and ``full-batch``. The last five
train the next lessons' ``mlp`` by hand (forward, backpropagation, batch mean,
L2 and softmax on Python floats; the optimizers are the manual backend's
:mod:`comparisons.backends.update_rules`): ``mlp/tanh-regression`` (1-8-1 tanh,
Adam, batches of 2), ``softmax/delay-class`` (batches of 4), and two copies of
registry experiments made by :attr:`Fault.experiment_factory`:
``softmax/delay-class[weights x1000]`` (logits in the thousands, where ``exp``
overflows: past ``z = 709.78``) and ``mlp/moons[20 points, 10 steps]`` (the
2-16-16-1 ReLU network, hinge + L2 ``1e-4``, on its first 20 points for its
first 10 steps: a fraction of a second in pure Python), which the ReLU and L2
faults share. At ``1e-4`` the missing ``2 alpha theta`` is ``3.9e-5`` in the
first weight's gradient, seven orders of magnitude above the float64 tolerance.

Example:
  >>> fault = FAULTS["overwrite-not-accumulate"]
  >>> fault.run(fault.experiment(), broken=True).grads["a"], fault.run(
  ...     fault.experiment(), broken=False).grads["a"]
  ([3.0], [6.0])
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import comparisons.backends
from comparisons.backends.update_rules import ieee_div, schedule_rule, update_rule
from comparisons.compare import ExperimentVerdict, compare_trajectories
from comparisons.engine import Value, zero_grad
from comparisons.experiments import REGISTRY, Experiment, batch_order
from comparisons.losses import loss_pieces
from functional_training import TrajectoryRecord

__all__ = ["FAULTS", "Fault", "FaultResult", "check_fault", "check_faults"]


@dataclass(frozen=True)
class Fault:
    """One classic bug as a runnable broken variant.

    Attributes:
      name: short identifier, e.g. ``gradients-not-cleared``.
      bug: one line: what the broken code does wrong.
      experiment_name: the name of the experiment it runs: a registry key, or the
        name of the experiment ``experiment_factory`` builds (never a registry key,
        so a reference run of a registry experiment is never taken for it).
      run: ``run(experiment, *, broken) -> TrajectoryRecord``; ``broken=False`` is the
        same code without the bug.
      experiment_factory: ``None`` to run the registry experiment, or a function
        returning the experiment to run (a registry experiment cut down or changed
        with :func:`dataclasses.replace`, named ``experiment_name``).
    """

    name: str
    bug: str
    experiment_name: str
    run: Callable[..., TrajectoryRecord]
    experiment_factory: Callable[[], Experiment] | None = None

    def experiment(self) -> Experiment:
        """The experiment this fault runs: the registry's, or the factory's."""
        if self.experiment_factory is None:
            return REGISTRY[self.experiment_name]
        experiment = self.experiment_factory()
        if experiment.name != self.experiment_name:
            raise ValueError(f"fault {self.name}: its factory builds {experiment.name!r}, "
                             f"not {self.experiment_name!r}")
        return experiment


@dataclass(frozen=True)
class FaultResult:
    """The comparator's verdicts on a fault's broken and correct variants.

    Attributes:
      fault: the fault.
      broken: verdict of the broken variant (backend ``broken``) vs the reference.
      correct: verdict of the correct variant (backend ``correct``) vs the reference.
    """

    fault: Fault
    broken: ExperimentVerdict
    correct: ExperimentVerdict

    @property
    def caught(self) -> bool:
        """The broken variant mismatches while the correct one agrees."""
        return not self.broken.agree and self.correct.agree

    def where(self) -> str:
        """Where the comparator caught it: step, quantity, both values."""
        m = self.broken.first_mismatch
        if m is None:
            return "not caught: the broken variant agrees with the reference"
        return f"step {m.step}, {m.quantity}: expected {m.expected!r}, got {m.actual!r}"


def check_fault(
    fault: Fault,
    *,
    reference: str = "manual",
    reference_trajectory: TrajectoryRecord | None = None,
) -> FaultResult:
    """Run a fault's broken and correct variants and compare both with the reference.

    Args:
      fault: the fault.
      reference: the reference backend's name.
      reference_trajectory: the reference's trajectory of ``fault.experiment()``
        if already computed; by default the reference backend runs it.
    """
    experiment = fault.experiment()
    if reference_trajectory is None:
        reference_trajectory = comparisons.backends.get_backend(reference).run(
            experiment, dtype="float64"
        )
    verdicts = {}
    for label, broken in (("broken", True), ("correct", False)):
        runs = {reference: reference_trajectory, label: fault.run(experiment, broken=broken)}
        verdicts[label] = compare_trajectories(experiment, runs, reference=reference)
    return FaultResult(fault, verdicts["broken"], verdicts["correct"])


def check_faults(
    *, reference: str = "manual", reference_trajectories: dict[str, TrajectoryRecord] | None = None
) -> list[FaultResult]:
    """:func:`check_fault` for every fault in :data:`FAULTS`, reusing given reference runs.

    The reference runs each experiment once, however many faults run it.

    Args:
      reference: the reference backend's name.
      reference_trajectories: experiment name -> reference trajectory, where known.
    """
    known = dict(reference_trajectories or {})
    results = []
    for fault in FAULTS.values():
        if fault.experiment_name not in known:
            known[fault.experiment_name] = comparisons.backends.get_backend(reference).run(
                fault.experiment(), dtype="float64")
        results.append(check_fault(fault, reference=reference,
                                   reference_trajectory=known[fault.experiment_name]))
    return results


# --- the broken variants -------------------------------------------------------------------


class _OverwritingValue(Value):
    """An engine Value whose ``*`` backward assigns instead of accumulating (the bug)."""

    __slots__ = ()

    def __mul__(self, other):
        if not isinstance(other, Value):
            return super().__mul__(other)
        out = _OverwritingValue(self.data * other.data)
        out._prev, out._op = (self, other), "*"

        def _backward(g: float) -> None:
            self.grad = g * other.data  # BUG: `=` loses the other path's contribution
            other.grad = g * self.data

        out._backward = _backward
        return out


def _shared_path(experiment: Experiment, *, broken: bool) -> TrajectoryRecord:
    """The lesson's ``a * a`` through the engine; ``broken`` uses the overwriting ``*``."""
    a0 = experiment.init["a"]
    a = (_OverwritingValue if broken else Value)(a0)
    square = a * a
    square.backward()
    return TrajectoryRecord(
        params={"a": [a0, a0]},
        grads={"a": [a.grad]},
        batch_loss=[square.data],
        train_loss=[square.data, square.data],
    )


def _engine_sgd(
    experiment: Experiment,
    *,
    clear_gradients: bool = True,
    half: float = 0.5,
    record_after_update: bool = False,
) -> TrajectoryRecord:
    """SGD with engine gradients; each flag turned off/changed is one classic bug."""
    params = {name: Value(value) for name, value in experiment.init.items()}
    order = batch_order(experiment)
    record = _Recorder(experiment)
    for k in range(experiment.steps):
        record.params(params)
        batch = order[k] if order is not None else range(len(experiment.train))
        if clear_gradients:
            zero_grad(params.values())
        loss = _engine_loss(params, [experiment.train[i] for i in batch], half)
        loss.backward()
        record.grads({name: p.grad for name, p in params.items()})
        for name in experiment.trainable:
            params[name].data -= experiment.learning_rate * params[name].grad
        if record_after_update:  # BUG: the loss of the already-updated parameters
            loss = _engine_loss(params, [experiment.train[i] for i in batch], half)
        record.batch_loss(loss.data)
    record.params(params)
    return record.trajectory()


def _engine_loss(params: dict[str, Value], batch, half: float) -> Value:
    total = Value(0.0)
    for x, target in batch:
        error = params["w"] * x + params["b"] - target
        total = total + half * error**2
    return total / len(batch)


def _manual_sgd(experiment: Experiment, *, bias_sign: float = 1.0, mean: bool = True):
    """SGD with hand-written gradients ``mean(e x)``, ``mean(e)``; the flags plant bugs."""
    w, b = experiment.init["w"], experiment.init["b"]
    order = batch_order(experiment)
    record = _Recorder(experiment)
    for k in range(experiment.steps):
        record.params({"w": w, "b": b})
        batch = order[k] if order is not None else range(len(experiment.train))
        examples = [experiment.train[i] for i in batch]
        errors = [w * x + b - y for x, y in examples]
        scale = len(examples) if mean else 1  # BUG when mean=False: a sum, not a mean
        grad_w = sum(e * x for e, (x, _) in zip(errors, examples, strict=True)) / scale
        grad_b = bias_sign * sum(errors) / scale  # BUG when bias_sign=-1
        record.grads({"w": grad_w, "b": grad_b})
        record.batch_loss(sum(0.5 * e * e for e in errors) / len(examples))
        if "w" in experiment.trainable:
            w -= experiment.learning_rate * grad_w
        if "b" in experiment.trainable:
            b -= experiment.learning_rate * grad_b
    record.params({"w": w, "b": b})
    return record.trajectory()


class _Recorder:
    """Collects a linear-model run into the trajectory contract (losses, predictions in floats)."""

    def __init__(self, experiment: Experiment):
        self.experiment = experiment
        self.values: dict[str, list[float]] = {"w": [], "b": []}
        self.gradients: dict[str, list[float]] = {"w": [], "b": []}
        self.losses: list[float] = []
        self.train: list[float] = []
        self.predictions: list[list[float]] = []
        self.val: list[float] | None = None if experiment.validation is None else []

    def params(self, params) -> None:
        w, b = (p.data if isinstance(p, Value) else p for p in (params["w"], params["b"]))
        self.values["w"].append(w)
        self.values["b"].append(b)
        self.train.append(_mean_loss(w, b, self.experiment.train))
        self.predictions.append([w * x + b for x, _ in self.experiment.train])
        if self.val is not None:
            self.val.append(_mean_loss(w, b, self.experiment.validation))

    def grads(self, grads: dict[str, float]) -> None:
        for name in ("w", "b"):
            self.gradients[name].append(grads[name])

    def batch_loss(self, loss: float) -> None:
        self.losses.append(loss)

    def trajectory(self) -> TrajectoryRecord:
        return TrajectoryRecord(
            params=self.values,
            grads=self.gradients,
            batch_loss=self.losses,
            train_loss=self.train,
            val_loss=self.val,
            predictions=self.predictions,
            batches=batch_order(self.experiment),
        )


def _mean_loss(w: float, b: float, data: Sequence[tuple[float, float]]) -> float:
    return sum(0.5 * (w * x + b - y) ** 2 for x, y in data) / len(data)


def _variant(run: Callable[..., TrajectoryRecord], **bug) -> Callable[..., TrajectoryRecord]:
    """``run`` with keyword settings ``bug`` applied only when ``broken=True``."""

    def variant(experiment: Experiment, *, broken: bool) -> TrajectoryRecord:
        return run(experiment, **(bug if broken else {}))

    return variant


# --- the next lessons: a multi-layer perceptron by hand -------------------------------------
#
# The formulas of comparisons.models.mlp (forward z_l = a_l @ w_l + b_l, a_{l+1} = f(z_l);
# backprop delta_{l-1} = f'(z_{l-1}) * (w_l @ delta_l)), written again on Python floats so
# that each bug is a line of its own. Sums are left folds in the reference's order (i
# ascending, then + b; not Python 3.12's compensated sum()), so the correct variant
# agrees with the reference bit for bit (measured: largest difference 0.0).


def _fold(terms) -> float:
    """``((t_0 + t_1) + t_2) + ...``: the reference's order of additions."""
    total = 0.0
    for t in terms:
        total = total + t
    return total


def _tanh_back(z: float, t: float, upstream: float) -> float:
    return upstream * ((1.0 - t) * (1.0 + t))  # tanh' = 1 - tanh^2, from the output t


def _tanh_back_missing_square(z: float, t: float, upstream: float) -> float:
    return upstream * (1.0 - t)  # BUG: 1 - tanh, not 1 - tanh^2


def _relu(z: float) -> float:
    return 0.0 if z <= 0.0 else z


def _relu_back(z: float, a: float, upstream: float) -> float:
    return upstream if z > 0.0 else 0.0  # relu' = 1 where z > 0, else 0


def _relu_back_everywhere(z: float, a: float, upstream: float) -> float:
    return upstream  # BUG: the gradient passes where z <= 0 too


_ACTIVATIONS = {"tanh": (math.tanh, _tanh_back), "relu": (_relu, _relu_back)}
"""``(f, back)`` per activation: ``back(z, f(z), upstream) = f'(z) * upstream``."""


def _exp(x: float) -> float:
    """``e ** x``, ``inf`` where IEEE overflows (``math.exp`` raises past ~709.78)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _log(x: float) -> float:
    """``log x``, ``-inf`` at 0 as in IEEE (``math.log(0)`` raises)."""
    return -math.inf if x == 0.0 else math.log(x)


def _softmax_cross_entropy(z: Sequence[float], t: float, *,
                           subtract_max: bool = True) -> tuple[float, list[float]]:
    """``log sum_i exp(z_i - m) - (z_t - m)`` and ``softmax(z) - onehot(t)``, ``m = max z``."""
    m = max(z) if subtract_max else 0.0  # BUG when False: exp(z) is inf past z ~ 709.78
    exps = [_exp(v - m) for v in z]
    total = exps[0]
    for e in exps[1:]:
        total = total + e
    grad = [ieee_div(e, total) for e in exps]  # inf / inf = nan, as IEEE
    grad[int(t)] -= 1.0
    return _log(total) - (z[int(t)] - m), grad


def _mlp_run(
    experiment: Experiment,
    *,
    back: Callable[[float, float, float], float] | None = None,
    bias_from_last_example: bool = False,
    l2_in_gradient: bool = True,
    subtract_max: bool = True,
) -> TrajectoryRecord:
    """An ``mlp`` experiment trained by hand; each setting changed is one classic bug.

    Args:
      experiment: an experiment of model kind ``mlp`` (``tanh`` or ``relu``).
      back: the activation's backward ``back(z, f(z), upstream)``; ``None`` for the
        correct one.
      bias_from_last_example: the bias gradients are the last example's, not the
        batch mean (the bug).
      l2_in_gradient: ``False`` leaves the L2 penalty out of the gradient (the bug).
      subtract_max: ``False`` computes softmax as ``exp(z) / sum exp(z)`` (the bug).
    """
    sizes, activation = experiment.model_settings["sizes"], experiment.model_settings.get(
        "activation", "tanh")
    f, correct_back = _ACTIVATIONS[activation]
    back = back or correct_back
    pieces, alpha = loss_pieces(experiment.loss), experiment.l2
    loss = (functools.partial(_softmax_cross_entropy, subtract_max=subtract_max)
            if experiment.loss == "softmax-cross-entropy" else pieces.manual)
    layers = [([[f"layers.{n}.w[{i},{j}]" for j in range(fan_out)] for i in range(fan_in)],
               [f"layers.{n}.b[{j}]" for j in range(fan_out)])
              for n, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))]

    def forward(p: Mapping[str, float], x) -> tuple[list[list[float]], list[list[float]]]:
        """Every layer's input ``a_l`` and pre-activation ``z_l`` (the last ``z`` is the output)."""
        a, inputs, pre = [float(v) for v in x], [], []
        for w, b in layers:
            z = [_fold(a[i] * p[w[i][j]] for i in range(len(a))) + p[b[j]] for j in range(len(b))]
            inputs.append(a)
            pre.append(z)
            a = [f(v) for v in z]
        return inputs, pre

    def output(z: list[float]):
        return z[0] if len(z) == 1 else z

    def example_grads(p: Mapping[str, float], x, y: float) -> tuple[float, dict[str, float]]:
        inputs, pre = forward(p, x)
        value, signal = loss(output(pre[-1]), y)
        delta = [signal] if len(pre[-1]) == 1 else list(signal)
        grads: dict[str, float] = {}
        for n in range(len(layers) - 1, -1, -1):
            w, b = layers[n]
            grads.update({w[i][j]: inputs[n][i] * delta[j]
                          for i in range(len(w)) for j in range(len(b))})
            grads.update(zip(b, delta, strict=True))
            if n:
                delta = [back(pre[n - 1][i], inputs[n][i],
                              _fold(p[w[i][j]] * delta[j] for j in range(len(b))))
                         for i in range(len(w))]
        return value, grads

    def penalty(p: Mapping[str, float]) -> float:
        return alpha * _fold(v * v for v in p.values())

    def loss_and_grads(p: Mapping[str, float], rows) -> tuple[float, dict[str, float]]:
        value, total = 0.0, dict.fromkeys(p, 0.0)
        for *x, y in rows:
            example_value, grads = example_grads(p, x, y)
            value += example_value
            for name, g in grads.items():
                total[name] += g
        mean = {name: g / len(rows) for name, g in total.items()}
        if bias_from_last_example:  # BUG: the last example's bias gradient, not the batch mean
            mean.update({name: g for name, g in grads.items() if ".b[" in name})
        value = value / len(rows)
        if alpha:
            value += penalty(p)
            if l2_in_gradient:  # BUG when False: the penalty is in the loss, not in the gradient
                mean = {name: g + 2.0 * alpha * p[name] for name, g in mean.items()}
        return value, mean

    def state(p: Mapping[str, float], rows) -> tuple[float, list, float]:
        """Mean loss, outputs and accuracy (``nan`` for regression) of ``rows`` at ``p``."""
        outs = [output(forward(p, row[:-1])[1][-1]) for row in rows]
        value = _fold(loss(out, row[-1])[0] for out, row in zip(outs, rows, strict=True))
        value = value / len(rows) + (penalty(p) if alpha else 0.0)
        right = (sum(pieces.manual_label(out) == row[-1] for out, row in zip(outs, rows,
                                                                                strict=True))
                 if pieces.manual_label else math.nan)
        return value, outs, right / len(rows)

    names = experiment.parameter_names
    trainable = [n for n in names if n.split("[")[0] in experiment.trainable]
    rate = (schedule_rule(experiment.schedule) if experiment.schedule is not None
            else experiment.learning_rate)
    rule = update_rule(experiment.optimizer, learning_rate=rate,
                       **{k: v for k, v in experiment.hyperparams.items() if k != "learning_rate"})
    params = {n: float(experiment.init[n]) for n in names}
    opt_state = rule.init({n: params[n] for n in trainable})
    order = batch_order(experiment)
    extras = ["learning_rate"] if experiment.schedule is not None else []
    if experiment.classifies:
        extras += ["train_accuracy"] + ([] if experiment.validation is None else ["val_accuracy"])
    record = TrajectoryRecord(params={n: [] for n in names}, grads={n: [] for n in names},
                              batch_loss=[], train_loss=[], predictions=[], batches=order,
                              val_loss=None if experiment.validation is None else [],
                              extras={key: [] for key in extras})

    def record_state() -> None:
        for n in names:
            record.params[n].append(params[n])
        train_value, outs, train_accuracy = state(params, experiment.train)
        record.train_loss.append(train_value)
        record.predictions.append([v for out in outs for v in (out if isinstance(out, list)
                                                                else [out])])
        if experiment.classifies:
            record.extras["train_accuracy"].append(train_accuracy)
        if experiment.validation is not None:
            val_value, _, val_accuracy = state(params, experiment.validation)
            record.val_loss.append(val_value)
            if experiment.classifies:
                record.extras["val_accuracy"].append(val_accuracy)

    for k in range(experiment.steps):
        record_state()
        rows = experiment.train if order is None else [experiment.train[i] for i in order[k]]
        value, grads = loss_and_grads(params, rows)
        record.batch_loss.append(value)
        for n in names:
            record.grads[n].append(grads[n])
        if experiment.schedule is not None:
            record.extras["learning_rate"].append(rate(k))
        updates, opt_state = rule.update({n: grads[n] for n in trainable}, opt_state,
                                         {n: params[n] for n in trainable})
        params = {n: p + updates[n] if n in updates else p for n, p in params.items()}
    record_state()
    return record


@functools.cache
def _small_moons() -> Experiment:
    """``mlp/moons`` on its first 20 points for its first 10 steps (same network, loss, rates)."""
    moons = REGISTRY["mlp/moons"]
    return dataclasses.replace(
        moons, name="mlp/moons[20 points, 10 steps]", train=moons.train[:20], steps=10,
        description="mlp/moons cut down: its first 20 points, its first 10 steps")


@functools.cache
def _large_logits() -> Experiment:
    """``softmax/delay-class`` with its initial weights x1000: logits in the thousands."""
    softmax = REGISTRY["softmax/delay-class"]
    return dataclasses.replace(
        softmax, name="softmax/delay-class[weights x1000]",
        init={n: 1000.0 * v for n, v in softmax.init.items()},
        description="softmax/delay-class with initial weights x1000 (logits in the thousands)")


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("overwrite-not-accumulate",
              "the engine's * backward assigns instead of adding: a * a gets 3, not 6",
              "shared-path", _shared_path),
        Fault("gradients-not-cleared", "gradients are not cleared between optimizer steps",
              "full-batch", _variant(_engine_sgd, clear_gradients=False)),
        Fault("bias-gradient-sign", "the hand-written bias gradient has the wrong sign",
              "full-batch", _variant(_manual_sgd, bias_sign=-1.0)),
        Fault("loss-missing-half", "the loss is missing its 1/2 factor",
              "full-batch", _variant(_engine_sgd, half=1.0)),
        Fault("sum-not-mean", "the batch gradient is a sum over the batch, not a mean",
              "full-batch", _variant(_manual_sgd, mean=False)),
        Fault("update-before-loss", "the update is applied before the loss is recorded",
              "full-batch", _variant(_engine_sgd, record_after_update=True)),
        Fault("tanh-derivative-missing-square",
              "tanh's derivative is written 1 - tanh instead of 1 - tanh^2",
              "mlp/tanh-regression", _variant(_mlp_run, back=_tanh_back_missing_square)),
        Fault("bias-gradient-not-summed",
              "the bias gradient is the batch's last example's, not the batch mean",
              "softmax/delay-class", _variant(_mlp_run, bias_from_last_example=True)),
        Fault("softmax-without-max-subtraction",
              "softmax is exp(z) / sum exp(z) without subtracting max z: overflows",
              _large_logits().name, _variant(_mlp_run, subtract_max=False), _large_logits),
        Fault("relu-gradient-where-negative",
              "ReLU's backward passes the gradient where its input is negative too",
              _small_moons().name, _variant(_mlp_run, back=_relu_back_everywhere), _small_moons),
        Fault("l2-missing-from-gradient",
              "the L2 penalty is added to the loss but left out of its gradient",
              _small_moons().name, _variant(_mlp_run, l2_in_gradient=False), _small_moons),
    )
}
"""Every fault by name, in the gallery's order."""
