"""The fault gallery: classic training bugs, each caught by the comparator at a named step.

Each :class:`Fault` is a small run function with one deliberate bug, switched
on by ``broken=True``; with ``broken=False`` the same code is correct. Both
variants run one lesson experiment and are compared with the reference
backend (``manual``) by :func:`comparisons.compare.compare_trajectories`. A
fault is *caught* when the broken variant mismatches and the correct variant
agrees, so the mismatch comes from the bug and not from the harness.

==========================  ==========================================  ===================
fault                       the bug                                     where it shows
==========================  ==========================================  ===================
overwrite-not-accumulate    ``*`` backward assigns (``=``) instead of    step 0, grads.a
                            adding (``+=``): ``a * a`` gets 3, not 6
gradients-not-cleared       no ``zero_grad()`` between optimizer steps   step 1, grads.w
bias-gradient-sign          hand-written ``dL/db = -mean(error)``        step 0, grads.b
loss-missing-half           ``mean(error ** 2)``, no 1/2 factor          step 0, grads.w
sum-not-mean                batch gradient summed, not averaged          step 0, grads.w
update-before-loss          loss recorded after the update               step 0, batch_loss
==========================  ==========================================  ===================

Example:
  >>> fault = FAULTS["overwrite-not-accumulate"]
  >>> fault.run(fault.experiment(), broken=True).grads["a"], fault.run(
  ...     fault.experiment(), broken=False).grads["a"]
  ([3.0], [6.0])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import comparisons.backends
from comparisons.compare import ExperimentVerdict, compare_trajectories
from comparisons.engine import Value, zero_grad
from comparisons.experiments import REGISTRY, Experiment, batch_order
from functional_training import TrajectoryRecord

__all__ = ["FAULTS", "Fault", "FaultResult", "check_fault", "check_faults"]


@dataclass(frozen=True)
class Fault:
    """One classic bug as a runnable broken variant.

    Attributes:
      name: short identifier, e.g. ``gradients-not-cleared``.
      bug: one line: what the broken code does wrong.
      experiment_name: the registry experiment it runs.
      run: ``run(experiment, *, broken) -> TrajectoryRecord``; ``broken=False`` is the
        same code without the bug.
    """

    name: str
    bug: str
    experiment_name: str
    run: Callable[..., TrajectoryRecord]

    def experiment(self) -> Experiment:
        """The registry experiment this fault runs."""
        return REGISTRY[self.experiment_name]


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

    Args:
      reference: the reference backend's name.
      reference_trajectories: experiment name -> reference trajectory, where known.
    """
    known = reference_trajectories or {}
    return [
        check_fault(f, reference=reference, reference_trajectory=known.get(f.experiment_name))
        for f in FAULTS.values()
    ]


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
    )
}
"""Every fault by name, in the gallery's order."""
