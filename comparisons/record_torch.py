"""Record a PyTorch training loop from its model and optimizer: :class:`TorchRecorder`.

The recorder hooks the optimizer's ``step()`` (``register_step_pre_hook`` /
``register_step_post_hook``): before each step it records the parameters and
their ``.grad`` (``params[k]``, ``grads[k]``: the gradient as the framework
holds it when ``step()`` uses it; zeros where ``.grad`` is ``None``), after it
the parameters (the last such record is ``params[S]``). One call per step adds
the loss and the batch's example indices; :meth:`TorchRecorder.watch` wraps a
``DataLoader`` so that the indices its sampler draws are recorded without a call::

    rec = TorchRecorder(net, optimizer, loss=loss_fn, data=(features, labels))
    loader = rec.watch(loader)                 # DataLoader(..., shuffle=True) as it was
    for x, y in loader:
        ...; loss.backward(); optimizer.step()
        rec.step(loss)                         # the loss whose gradient was stepped
    rec.save("run.json", spec="run.toml")      # the trajectory and the spec it infers

Parameters are named by the project's rule: an ``nn.Linear`` alone (or alone in an
``nn.Sequential``) is the ``linear`` kind (``w``, ``b``; ``w[i]`` for several
features; ``outputs = k``, ``w[i,j]``, ``b[j]`` for ``k >= 2`` outputs), an
``nn.Sequential`` (or a module whose children, in order, are) ``Linear`` layers with
one of ``Tanh``, ``ReLU``, ``Sigmoid`` between them is the ``mlp`` kind
(``layers.l.w[i,j]``, ``layers.l.b[j]``). ``nn.Linear`` holds its weight ``(fan_out,
fan_in)``; the project's is ``(fan_in, fan_out)`` (``x @ w + b``), so weights and
their gradients are transposed. Leading ``nn.Flatten`` layers are allowed; a last
``nn.Sigmoid`` is allowed with ``nn.BCELoss`` (the model's logit is then what the
``binary-cross-entropy`` loss scores). Whether the module computes what its children
say is checked once on a probe input.

The spec it infers (:meth:`TorchRecorder.experiment`, :meth:`TorchRecorder.spec_text`):

==========================  =========================================================
torch                       spec
==========================  =========================================================
the layers above            ``[model] kind``, ``sizes``, ``activation``
``SGD(lr, momentum,         ``sgd`` (momentum 0), ``momentum``, ``nesterov``, with
nesterov, weight_decay)``   ``learning_rate``, ``momentum``, ``weight_decay``
``Adam(lr, betas, eps,      ``adam`` / ``adamw``: ``b1``, ``b2``, ``eps``,
weight_decay)``, ``AdamW``  ``weight_decay``
``nn.MSELoss()``            ``squared-error`` (torch's mean ``(s - y)^2``, no 1/2)
``nn.BCEWithLogitsLoss()``  ``binary-cross-entropy``; ``nn.BCELoss()`` after a last
                            ``nn.Sigmoid`` too
``nn.CrossEntropyLoss()``   ``softmax-cross-entropy``
a loss kind's name          that kind (a loss written by hand: ``"half-squared-error"``)
``data=(x, y)``             ``[data] train`` (``x`` flattened to ``(n, d)``)
==========================  =========================================================

Anything else (a summed ``MSELoss``, ``dampening``, ``amsgrad``, several param
groups that differ, a learning-rate scheduler's changes) is refused with one
line, or not seen: a scheduler changes ``lr`` between steps, which the spec's
``[optimizer] learning_rate`` cannot say. Initial values and the batch order
are not written into the spec: the trajectory holds them (``params`` at step 0,
``batches``), and ``check`` replays them.

torch is an optional dependency: this module imports it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler

from comparisons.check import Verdict, check
from comparisons.experiments import Experiment
from comparisons.record import Recorder, RecordError, write_trajectory
from comparisons.spec import dump_spec, parse_spec
from comparisons.trajectory import Trajectory
from functional_training import model_kind
from functional_training.runs import FROM_TRAJECTORY

__all__ = ["TorchLayout", "TorchRecorder", "loss_kind_of", "optimizer_of", "torch_layout"]

ACTIVATIONS = {nn.Tanh: "tanh", nn.ReLU: "relu", nn.Sigmoid: "sigmoid"}
"""The hidden activations a recorded ``mlp`` may use, by module type."""

PROBE_TOLERANCE = 1e-5
"""How closely the module's output must match its children's composition on the probe
(relative to the output's scale): loose enough for float32 rounding, far below any
difference a missing or reordered layer makes."""


@dataclasses.dataclass(frozen=True)
class TorchLayout:
    """How a torch model maps onto a model kind.

    Attributes:
      kind: the model kind (``linear`` or ``mlp``).
      settings: the kind's settings besides the feature count (``mlp``: sizes, activation).
      features: ``d``, the inputs per example.
      linears: the ``nn.Linear`` layers, first to last.
      sigmoid_output: the model ends in ``nn.Sigmoid`` (its output is a probability).
    """

    kind: str
    settings: dict
    features: int
    linears: tuple
    sigmoid_output: bool = False

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The kind's leaf shapes, e.g. ``{"layers.0.w": (2, 3), ...}``."""
        return model_kind(self.kind).shapes(**self.config)

    @property
    def config(self) -> dict:
        """The kind's full configuration (``features`` included where the kind takes it)."""
        config = dict(self.settings)
        if "features" in model_kind(self.kind).config_keys:
            config["features"] = self.features
        return config

    def leaves(self, attr: str = "data") -> dict[str, np.ndarray]:
        """Every leaf's value (``data``) or gradient (``grad``), float64 in the kind's shapes.

        A parameter whose ``.grad`` is ``None`` (``zero_grad()`` between
        ``backward()`` and ``step()``) has a zero gradient: ``step()`` skips it, as
        if its gradient were zero (plain SGD; momentum and Adam keep moving it, which
        the recorded zeros then show as a mismatch).
        """
        values = []
        for layer in self.linears:
            pair = []
            for tensor in (layer.weight, layer.bias):
                value = tensor.grad if attr == "grad" else tensor
                if value is None:  # step() skips it: the step used no gradient, zeros
                    value = torch.zeros_like(tensor)
                array = value.detach().cpu().double().numpy()
                pair.append(array.T.copy() if array.ndim == 2 else array.copy())
            values += pair
        return {name: value.reshape(shape) for (name, shape), value
                in zip(self.shapes.items(), values, strict=True)}


def torch_layout(model: nn.Module, *, sigmoid_allowed: bool = False) -> TorchLayout:
    """The model kind of ``model``: an ``nn.Linear``, or Linear layers with activations between.

    Args:
      model: an ``nn.Linear``, an ``nn.Sequential``, or a module whose children
        (in registration order) are the layers.
      sigmoid_allowed: a last ``nn.Sigmoid`` is allowed (``nn.BCELoss``'s probabilities).

    Raises:
      RecordError: any other architecture (one line naming what does not fit).

    Example:
      >>> layout = torch_layout(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)))
      >>> layout.kind, layout.settings, layout.shapes["layers.0.w"]
      ('mlp', {'sizes': (2, 3, 1), 'activation': 'tanh'}, (2, 3))
    """
    parts = [model] if isinstance(model, nn.Linear) else list(model.children())
    while parts and isinstance(parts[0], nn.Flatten):
        parts = parts[1:]
    sigmoid_output = bool(parts) and isinstance(parts[-1], nn.Sigmoid) and sigmoid_allowed \
        and len(parts) > 1
    if sigmoid_output:
        parts = parts[:-1]
    linears = parts[0::2]
    between = parts[1::2]
    name = type(model).__name__
    if not parts or len(parts) % 2 == 0 or not all(isinstance(p, nn.Linear) for p in linears):
        raise RecordError(
            f"cannot name the parameters of {name}: expected nn.Linear layers with one of "
            f"Tanh, ReLU, Sigmoid between them (got {', '.join(type(p).__name__ for p in parts)}"
            "); record another model with comparisons.record.Recorder")
    kinds = {ACTIVATIONS.get(type(p)) for p in between}
    if None in kinds or len(kinds) > 1:
        raise RecordError(f"cannot name the parameters of {name}: the hidden layers need one "
                          "activation, Tanh, ReLU or Sigmoid, got "
                          f"{', '.join(type(p).__name__ for p in between)}")
    if any(layer.bias is None for layer in linears):
        raise RecordError(f"{name}: a Linear layer without a bias; the project's layers have one")
    for before, after in zip(linears, linears[1:], strict=False):
        if before.out_features != after.in_features:
            raise RecordError(f"{name}: a Linear of {before.out_features} outputs feeds one of "
                              f"{after.in_features} inputs")
    features, outputs = linears[0].in_features, linears[-1].out_features
    if len(linears) == 1:
        layout = TorchLayout("linear", {} if outputs == 1 else {"outputs": outputs}, features,
                             tuple(linears), sigmoid_output)
    else:
        sizes = (features, *(layer.out_features for layer in linears))
        layout = TorchLayout("mlp", {"sizes": sizes, "activation": kinds.pop()}, features,
                             tuple(linears), sigmoid_output)
    if not _computes(model, layout):
        with_sigmoid = dataclasses.replace(layout, sigmoid_output=True)
        if not (sigmoid_allowed and not sigmoid_output and _computes(model, with_sigmoid)):
            raise RecordError(f"{name}'s forward is not its children in order (Linear, "
                              "activation, ..., Linear); record it with "
                              "comparisons.record.Recorder")
        layout = with_sigmoid  # forward applies torch.sigmoid itself
    return layout


def _computes(model: nn.Module, layout: TorchLayout) -> bool:
    """Whether ``model``'s output on a probe input is ``layout``'s composition of its layers."""
    first = layout.linears[0].weight
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, layout.features, generator=generator).to(first.dtype)
    with torch.no_grad():
        out = x
        for index, layer in enumerate(layout.linears):
            out = layer(out)
            if index < len(layout.linears) - 1:
                out = {"tanh": torch.tanh, "relu": torch.relu,
                       "sigmoid": torch.sigmoid}[layout.settings["activation"]](out)
        if layout.sigmoid_output:
            out = torch.sigmoid(out)
        try:
            theirs = model(x)
        except Exception as error:  # noqa: BLE001 - any failure means the layout is wrong
            raise RecordError(f"{type(model).__name__} does not take a (n, {layout.features}) "
                              f"input: {str(error).splitlines()[0]}") from None
    return tuple(theirs.shape) == tuple(out.shape) and bool(torch.allclose(
        theirs, out, rtol=PROBE_TOLERANCE, atol=PROBE_TOLERANCE))


def loss_kind_of(loss, *, sigmoid_output: bool = False) -> str:
    """The spec's loss kind of a torch loss module (or a loss kind's name, returned as it is).

    Raises:
      RecordError: a loss the spec cannot state (one line saying why).

    Example:
      >>> loss_kind_of(nn.MSELoss()), loss_kind_of(nn.CrossEntropyLoss())
      ('squared-error', 'softmax-cross-entropy')
    """
    if isinstance(loss, str):
        return loss
    name = type(loss).__name__
    if getattr(loss, "reduction", "mean") != "mean":
        raise RecordError(
            f"{name}(reduction={loss.reduction!r}) stepped by torch.optim is the mean loss at a "
            "learning rate times the batch size; the spec states mean losses: use "
            "reduction='mean' (or the spec's [loss] reduction = \"sum\" for a loop that divides "
            "by the batch size itself)")
    if sigmoid_output and not isinstance(loss, nn.BCELoss):
        raise RecordError(f"the model ends in Sigmoid, which only nn.BCELoss fits, not {name}")
    if isinstance(loss, nn.MSELoss):
        return "squared-error"
    if isinstance(loss, nn.BCEWithLogitsLoss):
        if loss.weight is not None or loss.pos_weight is not None:
            raise RecordError("BCEWithLogitsLoss with weight or pos_weight: the spec's "
                              "binary-cross-entropy has none")
        return "binary-cross-entropy"
    if isinstance(loss, nn.BCELoss):
        if not sigmoid_output:
            raise RecordError("nn.BCELoss takes probabilities: the model must end in nn.Sigmoid "
                              "(or use BCEWithLogitsLoss on the logits)")
        if loss.weight is not None:
            raise RecordError("BCELoss with weight: the spec's binary-cross-entropy has none")
        return "binary-cross-entropy"
    if isinstance(loss, nn.CrossEntropyLoss):
        if loss.weight is not None or loss.label_smoothing != 0.0:
            raise RecordError("CrossEntropyLoss with weight or label_smoothing: the spec's "
                              "softmax-cross-entropy has neither")
        return "softmax-cross-entropy"
    raise RecordError(f"no spec loss for {name}: give loss= one of MSELoss, BCEWithLogitsLoss, "
                      "BCELoss (after Sigmoid), CrossEntropyLoss, or a loss kind's name")


def optimizer_of(optimizer: torch.optim.Optimizer) -> tuple[str, dict[str, float]]:
    """The spec's optimizer name and hyperparameters of a ``torch.optim`` optimizer.

    Raises:
      RecordError: an optimizer or a setting the spec cannot state.

    Example:
      >>> w = nn.Parameter(torch.zeros(2))
      >>> optimizer_of(torch.optim.SGD([w], lr=0.1, momentum=0.9))
      ('momentum', {'learning_rate': 0.1, 'momentum': 0.9})
      >>> optimizer_of(torch.optim.AdamW([w], lr=0.01))
      ('adamw', {'learning_rate': 0.01, 'b1': 0.9, 'b2': 0.999, 'eps': 1e-08, 'weight_decay': 0.01})
    """
    groups = [{k: v for k, v in group.items() if k != "params"} for group in
              optimizer.param_groups]
    if any(group != groups[0] for group in groups):
        raise RecordError("param groups with different settings: the spec has one optimizer "
                          "setting for every parameter")
    group = groups[0]
    name = type(optimizer).__name__
    if group.get("maximize"):
        raise RecordError(f"{name}(maximize=True): the spec's optimizers minimise")
    rate = {"learning_rate": float(group["lr"])}
    decay = float(group.get("weight_decay", 0.0))
    if isinstance(optimizer, torch.optim.SGD):
        if group.get("dampening", 0.0):
            raise RecordError("SGD(dampening != 0): the spec's momentum has no dampening")
        momentum = float(group.get("momentum", 0.0))
        kind = "sgd" if momentum == 0 else "nesterov" if group.get("nesterov") else "momentum"
        settings = {} if kind == "sgd" else {"momentum": momentum}
    elif isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
        if group.get("amsgrad"):
            raise RecordError(f"{name}(amsgrad=True): the spec's adam has no amsgrad")
        kind = "adamw" if isinstance(optimizer, torch.optim.AdamW) else "adam"
        b1, b2 = group["betas"]
        settings = {"b1": float(b1), "b2": float(b2), "eps": float(group["eps"])}
    else:
        raise RecordError(f"no spec optimizer for {name}: SGD (with momentum, nesterov), "
                          "Adam or AdamW")
    if decay or kind == "adamw":
        settings["weight_decay"] = decay
    return kind, {**rate, **settings}


class TorchRecorder:
    """Record a torch loop through its optimizer's step hooks (see the module docstring).

    Args:
      model: the ``nn.Module`` trained (see :func:`torch_layout`).
      optimizer: its ``torch.optim`` optimizer; hooked until :meth:`close`.
      loss: the torch loss module (or a loss kind's name), for the inferred spec.
      data: ``(x, y)`` tensors or arrays of the whole training set, for the spec.
      name: the spec's name.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, *, loss=None,
                 data=None, name: str = "torch-loop"):
        self.layout = torch_layout(model, sigmoid_allowed=isinstance(loss, nn.BCELoss))
        self.optimizer = optimizer
        self.loss = loss
        self.data = data
        self.name = name
        self._recorder = Recorder()
        self._taken = 0
        self._calls = 0
        self._drawn: list[list[int]] = []
        self._last = None
        self._handles = (optimizer.register_step_pre_hook(self._before_step),
                         optimizer.register_step_post_hook(self._after_step))

    @property
    def steps(self) -> int:
        """Optimizer steps recorded so far."""
        return self._taken

    def _before_step(self, optimizer, args, kwargs) -> None:
        self._recorder.record(self._taken, params=self.layout.leaves("data"),
                              grads=self.layout.leaves("grad"))

    def _after_step(self, optimizer, args, kwargs) -> None:
        self._taken += 1
        self._last = self.layout.leaves("data")

    def step(self, loss=None, batch=None) -> None:
        """Record this step's loss and the batch's example indices (one call per step).

        The ``k``-th call belongs to the ``k``-th optimizer step, whether it comes
        before or after ``optimizer.step()``.
        """
        self._recorder.record(self._calls, loss=loss, batch=batch)
        self._calls += 1

    def watch(self, loader: DataLoader) -> DataLoader:
        """The same ``DataLoader``, recording the example indices of each batch it yields.

        The loader's own batch sampler (its ``shuffle``, ``drop_last``, generator)
        draws the batches; batch ``k`` drawn is the batch of optimizer step ``k``.

        Raises:
          RecordError: the loader has no batch sampler (``batch_size=None``).
        """
        if loader.batch_sampler is None:
            raise RecordError("watch: the DataLoader has no batch sampler (batch_size=None)")
        return DataLoader(loader.dataset, batch_sampler=_Drawn(loader.batch_sampler, self._drawn),
                          num_workers=loader.num_workers, collate_fn=loader.collate_fn,
                          pin_memory=loader.pin_memory, timeout=loader.timeout,
                          worker_init_fn=loader.worker_init_fn)

    def close(self) -> None:
        """Remove the optimizer hooks (recording stops)."""
        for handle in self._handles:
            handle.remove()

    def trajectory(self) -> Trajectory:
        """What was recorded: params 0..S, grads 0..S-1, losses and batches given or drawn."""
        if self._last is not None:
            self._recorder.record(self._taken, params=self._last, own_grads=False)
        for step, batch in enumerate(self._drawn[:self._taken]):
            self._recorder.record(step, batch=batch)
        return self._recorder.trajectory()

    def experiment(self) -> Experiment:
        """The spec this run states: model, loss, optimizer, data and steps (checked).

        Initial values are left out, and so is the batch order when batches were
        recorded (``[run] batches = "trajectory"``): ``check`` replays them from the
        trajectory. A run with no batches recorded is a full-batch run.

        Raises:
          RecordError: no ``data``, no ``loss``, nothing recorded, or a setting
            the spec cannot state.
        """
        if self.data is None:
            raise RecordError("the spec needs the training data: TorchRecorder(..., data=(x, y))")
        if self.loss is None:
            raise RecordError("the spec needs the loss: TorchRecorder(..., loss=loss_fn)")
        if self._taken == 0:
            raise RecordError("no optimizer step was recorded")
        kind, hyperparams = optimizer_of(self.optimizer)
        loss = loss_kind_of(self.loss, sigmoid_output=self.layout.sigmoid_output)
        x, y = (_numpy(part) for part in self.data)
        x = x.reshape(len(x), -1)
        layout = self.layout
        drawn = bool(self._drawn) or "batches" in self.trajectory().quantities
        experiment = Experiment.from_arrays(
            x, y.reshape(-1), name=self.name,
            description=f"recorded from {type(self.optimizer).__name__} on a torch model",
            init=None, optimizer=kind, hyperparams=hyperparams, steps=self._taken,
            trainable=tuple(layout.shapes), model=layout.kind, model_settings=layout.settings,
            loss=loss, order=FROM_TRAJECTORY if drawn else None)
        try:
            return parse_spec(dump_spec(experiment), from_trajectory=True)
        except ValueError as error:
            raise RecordError(f"the inferred spec is refused: {error}") from None

    def spec_text(self) -> str:
        """The inferred spec as TOML (:func:`comparisons.spec.dump_spec`)."""
        return dump_spec(self.experiment())

    def save(self, path, *, spec=None) -> Path:
        """Write the trajectory to ``path`` (JSON, or CSV for ``.csv``) and the spec to ``spec``."""
        if spec is not None:
            Path(spec).write_text(self.spec_text(), encoding="utf-8")
        return write_trajectory(path, self.trajectory())

    @property
    def dtype(self) -> str:
        """The precision the model computes in: ``float32`` or ``float64`` (its first weight's)."""
        return "float64" if self.layout.linears[0].weight.dtype == torch.float64 else "float32"

    def check(self, spec=None, *, dtype: str | None = None, **options) -> Verdict:
        """:func:`comparisons.check` of the trajectory against ``spec`` (default: the inferred).

        ``dtype`` defaults to the model's own (:attr:`dtype`): a float32 model is
        compared in float32.
        """
        return check(self.experiment() if spec is None else spec, self.trajectory(),
                     dtype=dtype or self.dtype, **options)


class _Drawn(Sampler):
    """A batch sampler that notes each batch of indices its inner batch sampler yields."""

    def __init__(self, inner, drawn: list):
        self.inner = inner
        self.drawn = drawn

    def __iter__(self):
        for batch in self.inner:
            self.drawn.append([int(i) for i in batch])
            yield batch

    def __len__(self) -> int:
        return len(self.inner)


def _numpy(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)
