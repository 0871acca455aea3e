"""The one training loop every backend runs: a backend supplies only its maths.

A backend's ``run(experiment, *, dtype)`` is ``run_loop(experiment, SomeMaths, dtype=dtype)``.
:func:`run_loop` checks the experiment (:func:`~comparisons.backends._common.check_run`),
dispatches on its kind, draws the batches, and records every quantity of the
trajectory contract (docs/design.md, "The trajectory contract"); the backend's
:class:`Maths` computes:

- its parameters as named floats (:meth:`Maths.values`);
- forward: the full loss, outputs and accuracy on the training or validation
  rows (:meth:`Maths.evaluate`), and a batch's loss with one parameter moved
  (:meth:`Maths.forward`, for finite differences);
- backward: the batch loss and the gradient as the backend holds it after the
  backward pass (:meth:`Maths.backward`, with :meth:`Maths.zero_grad` before it
  on the steps that clear);
- update: one optimizer step (:meth:`Maths.update`) and the rate that step uses
  (:meth:`Maths.learning_rate`);
- the lesson's shared path ``a * a`` and its derivative (:meth:`Maths.square`).

Each step ``k`` of a training experiment (kinds ``train``, ``gradient-check``,
``accumulation``) is, in this order::

    record params[k], train_loss[k], val_loss[k], predictions[k], accuracy[k]
    batch k (Loop.batches: the experiment's order; Loop.gradient_rows: the rows)
    zero_grad()                       where Loop.clears(k) (every step but in accumulation)
    numeric.<name>[k] = (forward(+eps) - forward(-eps)) / (2 eps)   (gradient-check)
    learning_rate[k]                  (a schedule)
    batch_loss[k], grads[k] = Loop.step(k): backward(), then update()  (an optimizer steps)

then the final state ``params[S]``. A fault (:mod:`comparisons.faults`) replaces
one method of :class:`Loop` (the order of batches, the rows, clearing, the step)
or of the manual backend's maths; nothing else is written twice.

Example:
  >>> from comparisons.backends.manual import ManualMaths
  >>> from comparisons.experiments import REGISTRY
  >>> run_loop(REGISTRY["single-update"], ManualMaths).params
  {'w': [1.0, 1.8], 'b': [0.0, 0.4]}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from comparisons.backends._common import Recorder, check_run
from comparisons.experiments import Experiment, batch_order
from functional_training import TrajectoryRecord

Row = Sequence[float]


class Batch(NamedTuple):
    """The examples of one step.

    Attributes:
      rows: the examples, ``(x_1, ..., x_d, target)`` each.
      indices: their positions in the experiment's training rows, or ``None``
        for the full batch (``rows`` is then those rows themselves).
    """

    rows: Sequence[Row]
    indices: list[int] | None


class Evaluation(NamedTuple):
    """The forward on a whole split at the current parameters.

    Attributes:
      loss: the mean loss (plus the L2 penalty).
      outputs: every example's outputs, flat (``n * k`` values).
      accuracy: the fraction classified right (``None`` unless asked for).
    """

    loss: float
    outputs: list[float]
    accuracy: float | None


class Maths:
    """What a backend computes for one run; the loop does everything else.

    A subclass is built as ``Maths(experiment, dtype)`` (the experiment already
    checked) and implements the methods below that its experiments reach:
    :meth:`start` (set up the model and optimizer) and every training method for
    kinds ``train``, ``gradient-check`` and ``accumulation``; only :meth:`square`
    for ``shared-path``, which has no model (``start`` is not called). Values
    handed to the loop are whatever the backend computed (a tensor's ``.item()``,
    a ``Value``'s ``.data``); the loop records them as Python floats.
    """

    def __init__(self, experiment: Experiment, dtype: str) -> None:
        self.experiment = experiment
        self.dtype = dtype

    def start(self, batches: list[list[int]] | None) -> None:
        """Set up the model and optimizer; called once before step 0 of a training run.

        ``batches`` is every step's indices (``None``: full batch). A backend that
        runs all steps as one compiled program runs it here.
        """

    def values(self) -> dict[str, float]:
        """The current parameters, one float per scalar name."""
        raise NotImplementedError

    def evaluate(self, split: str, *, accuracy: bool) -> Evaluation:
        """The forward on ``split`` (``"train"`` or ``"validation"``) at the current parameters."""
        raise NotImplementedError

    def forward(self, batch: Batch, moved: tuple[str, float] | None = None) -> float:
        """The batch's loss; with ``moved = (name, delta)``, that parameter moved by ``delta``."""
        raise NotImplementedError

    def zero_grad(self) -> None:
        """Clear the gradient buffer (the next :meth:`backward` starts from zero)."""
        raise NotImplementedError

    def backward(self, batch: Batch) -> tuple[float, dict[str, float]]:
        """The batch loss and the gradient buffer after this backward pass, by scalar name."""
        raise NotImplementedError

    def update(self, k: int, grads: Mapping[str, float]) -> None:
        """Step ``k`` of the optimizer with ``grads`` (frozen leaves never move)."""
        raise NotImplementedError

    def scaled_update(self, k: int, grads: Mapping[str, float], scale: float) -> None:
        """Step ``k`` with ``scale * grads``, ``grads`` being what :meth:`backward` returned.

        Asked only for a summed loss (``reduction = "sum"``) on a batch shorter than the
        nominal ``batch_size``: the loop's step divides the summed gradient by the
        nominal size, so the optimizer sees ``(n / B)`` times the mean's gradient.
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot step a summed loss on a short batch")

    def learning_rate(self, k: int) -> float:
        """The rate step ``k``'s update uses (asked before :meth:`update`, with a schedule)."""
        raise NotImplementedError

    def square(self, a: float) -> tuple[float, float, float]:
        """The shared path: ``(a as held, a * a, d(a * a)/da)`` in the backend's arithmetic."""
        raise NotImplementedError


def is_shared_path(experiment: Experiment) -> bool:
    """The experiment is the lesson's shared path ``a * a`` (no data, no optimizer).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> is_shared_path(REGISTRY["shared-path"]), is_shared_path(REGISTRY["five-steps"])
      (True, False)
    """
    return experiment.kind == "shared-path"


def takes_gradients(experiment: Experiment) -> bool:
    """A model's gradient is taken on data (every kind but the shared path)."""
    return not is_shared_path(experiment)


def steps_optimizer(experiment: Experiment) -> bool:
    """An optimizer moves the parameters (kinds ``train`` and ``gradient-check``)."""
    return experiment.kind in ("train", "gradient-check")


def checks_gradients(experiment: Experiment) -> bool:
    """Finite differences are recorded beside the gradient (kind ``gradient-check``)."""
    return experiment.kind == "gradient-check"


def clears(experiment: Experiment, k: int) -> bool:
    """Whether the gradient buffer is cleared before step ``k``: always, but in an
    accumulation experiment where its ``zero_grad[k]`` says so."""
    if experiment.kind == "accumulation":
        return bool(experiment.zero_grad[k])
    return True


def recorder_for(experiment: Experiment) -> Recorder:
    """A :class:`Recorder` with the series ``experiment``'s kind records.

    Beyond the contract's core: ``numeric.<name>`` for a gradient check,
    ``learning_rate`` per step with a schedule, and ``train_accuracy`` (and
    ``val_accuracy`` with validation data) for a classification loss, in the
    order :data:`functional_training.RECORDED_EXTRAS` lists them.
    """
    if is_shared_path(experiment):
        return Recorder(("a",), validation=False, predictions=False)
    names = experiment.parameter_names
    extras = tuple(f"numeric.{n}" for n in names) if checks_gradients(experiment) else ()
    if experiment.schedule is not None:
        extras = (*extras, "learning_rate")
    state_extras = ()
    if experiment.classifies:
        state_extras = ("train_accuracy",) + (
            ("val_accuracy",) if experiment.validation is not None else ())
    return Recorder(
        names, validation=experiment.validation is not None, predictions=True, extras=extras,
        state_extras=state_extras,
    )


class Loop:
    """One run of an experiment around a backend's :class:`Maths`.

    Every method is a piece a fault may replace (a subclass overriding one).
    """

    def __init__(self, experiment: Experiment, maths: Maths) -> None:
        self.experiment = experiment
        self.maths = maths

    # --- what the experiment's kind asks for (read in one place: the functions below) ---

    @property
    def shared_path(self) -> bool:
        """The lesson's ``a * a``: no data, no optimizer."""
        return is_shared_path(self.experiment)

    @property
    def steps_optimizer(self) -> bool:
        """An optimizer moves the parameters."""
        return steps_optimizer(self.experiment)

    @property
    def checks_gradients(self) -> bool:
        """Finite differences are recorded beside the gradient."""
        return checks_gradients(self.experiment)

    def clears(self, k: int) -> bool:
        """Whether the gradient buffer is cleared before step ``k``'s backward pass."""
        return clears(self.experiment, k)

    # --- the data ------------------------------------------------------------------------

    def gradient_rows(self) -> Sequence[Row]:
        """The rows the batches are drawn from (the training rows)."""
        return self.experiment.train

    def batches(self) -> list[list[int]] | None:
        """Each step's indices into :meth:`gradient_rows` (``None``: full batch).

        The one place a run's batches are decided: the experiment's explicit
        order (a replayed run's, rows of any sizes), else the rule of
        :func:`comparisons.experiments.batch_order` on :meth:`gradient_rows`.
        """
        return batch_order(self.experiment, examples=len(self.gradient_rows()))

    # --- one step ------------------------------------------------------------------------

    def summed(self, batch: Batch) -> float:
        """What the recorded batch loss and gradient are of the backend's mean ones: ``n`` for
        a summed loss (``reduction = "sum"``, ``n`` the batch's examples), else 1."""
        return float(len(batch.rows)) if self.experiment.reduction == "sum" else 1.0

    def step_scale(self, batch: Batch) -> float:
        """The factor of the mean's gradient the optimizer steps on: ``n / B`` for a summed
        loss, whose step divides the sum by the nominal batch size ``B`` (the spec's
        ``batch_size``, every training row for full batches, even for a short batch),
        else 1. Exactly 1 on every full batch."""
        if self.experiment.reduction != "sum":
            return 1.0
        nominal = self.experiment.batch_size or len(self.gradient_rows())
        return len(batch.rows) / nominal

    def step(self, k: int, batch: Batch) -> tuple[float, dict[str, float]]:
        """Step ``k``: ``(batch loss, recorded gradient)``; backward, then the update.

        The backend computes the batch's mean loss and its gradient; with
        ``reduction = "sum"`` the loop records ``n`` times both (:meth:`summed`: d2l's
        ``l.sum().backward()``) and the optimizer steps on the sum divided by the nominal
        batch size (:meth:`step_scale`: ``param -= lr * param.grad / batch_size``).
        """
        loss, grads = self.maths.backward(batch)
        if self.steps_optimizer:
            scale = self.step_scale(batch)
            if scale == 1.0:
                self.maths.update(k, grads)
            else:
                self.maths.scaled_update(k, grads, scale)
        n = self.summed(batch)
        if n == 1.0:
            return loss, grads
        return n * loss, {name: n * g for name, g in grads.items()}

    def finite_differences(self, batch: Batch) -> dict[str, float]:
        """``numeric.<name> = (L(theta + eps e) - L(theta - eps e)) / (2 eps)`` per parameter."""
        eps = float(self.experiment.fd_epsilon)
        forward = self.maths.forward
        return {f"numeric.{name}": (forward(batch, (name, eps)) - forward(batch, (name, -eps)))
                / (2 * eps) for name in self.maths.values()}

    def record_state(self, rec: Recorder) -> None:
        """``params[k]``, the full losses, predictions and accuracy at the current parameters."""
        e = self.experiment
        train = self.maths.evaluate("train", accuracy=e.classifies)
        extras, val_loss = {}, None
        if e.classifies:
            extras["train_accuracy"] = train.accuracy
        if e.validation is not None:
            validation = self.maths.evaluate("validation", accuracy=e.classifies)
            val_loss = validation.loss
            if e.classifies:
                extras["val_accuracy"] = validation.accuracy
        rec.state(self.maths.values(), train_loss=train.loss, val_loss=val_loss,
                  predictions=train.outputs, extras=extras)

    # --- the run -------------------------------------------------------------------------

    def run(self) -> TrajectoryRecord:
        """The whole run as the trajectory contract."""
        if self.shared_path:
            return self._run_shared_path()
        e, maths = self.experiment, self.maths
        rows, order = self.gradient_rows(), self.batches()
        maths.start(order)
        rec = recorder_for(e)
        for k in range(e.steps):
            self.record_state(rec)
            batch = (Batch(rows, None) if order is None
                     else Batch([rows[i] for i in order[k]], order[k]))
            if self.clears(k):
                maths.zero_grad()
            extras = self.finite_differences(batch) if self.checks_gradients else {}
            if self.steps_optimizer and e.schedule is not None:
                extras["learning_rate"] = maths.learning_rate(k)
            loss, grads = self.step(k, batch)
            rec.step(grads, batch_loss=loss, extras=extras)
        self.record_state(rec)
        return rec.trajectory(batches=order)

    def _run_shared_path(self) -> TrajectoryRecord:
        a0 = float(self.experiment.init["a"])
        rec = recorder_for(self.experiment)
        for _ in range(self.experiment.steps):
            a, square, grad = self.maths.square(a0)
            rec.state({"a": a}, train_loss=square)
            rec.step({"a": grad}, batch_loss=square)
        a, square, _ = self.maths.square(a0)
        rec.state({"a": a}, train_loss=square)
        return rec.trajectory(batches=None)


def run_loop(experiment: Experiment, maths: type[Maths], *, dtype: str = "float64",
             loop: type[Loop] = Loop) -> TrajectoryRecord:
    """Run ``experiment`` with a backend's ``maths`` (a :class:`Maths` subclass) in ``loop``.

    Raises:
      ValueError: the experiment cannot be run in ``dtype`` (message names the field).
    """
    check_run(experiment, dtype)
    return loop(experiment, maths(experiment, dtype)).run()
