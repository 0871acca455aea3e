"""The torch backend: the kind's ``nn`` modules, torch's own losses, ``torch.optim`` and
``torch.optim.lr_scheduler``.

Per step, as the lesson's PyTorch block does it: clear the gradients,
``loss = loss_fn(model(x_batch), y_batch).mean()`` (plus ``alpha * sum p.pow(2).sum()``
with ``l2``), ``loss.backward()``, read every parameter's ``.grad``,
``optimizer.step()``, ``scheduler.step()``. The model is ``nn.Linear(d, 1)`` for the
line and ``nn.Sequential`` of ``nn.Linear`` and ``nn.Tanh``/``nn.ReLU``/``nn.Sigmoid``
for an mlp; the loss is torch's (``0.5 * mse_loss``, ``mse_loss``,
``binary_cross_entropy_with_logits``, ``cross_entropy``; the hinge, which torch
lacks, is ``clamp(1 - t s, min=0)``: ``comparisons.losses``). Accuracy compares
the predicted class with the target on the recorded states. A schedule is one of
torch's own schedulers (:func:`_scheduler`); the rate recorded for step ``k`` is
``optimizer.param_groups[0]["lr"]`` as the step uses it.
The model is the kind's ``torch_module`` (``comparisons.models``), built with
``torch.nn.utils.skip_init`` and filled with the experiment's initial values
element by element (``torch_parameters`` says where ``w[i]`` lives), so
torch's global random generator is never touched. Everything runs on the CPU
in float64 (or float32 when asked).

Optimizers, every hyperparameter explicit so no torch default can differ from
optax's (docs/conventions.md has the full table):

- ``sgd``: ``SGD(lr, momentum=0, dampening=0, weight_decay=lam, nesterov=False)``.
  torch's own ``weight_decay`` is the coupled decay of sgd, momentum, nesterov and
  adam (``g + lam theta`` enters the optimizer; ``.grad`` never holds it).
- ``momentum``: ``SGD(lr, momentum=mu, dampening=0)``: ``v = mu v + g``,
  ``theta -= lr v`` (the first step stores ``v = g``), the same maths as optax ``trace``.
- ``nesterov``: ``SGD(..., nesterov=True)``: ``theta -= lr (g + mu v)`` with the new ``v``.
- ``adam``: ``Adam(lr, betas=(b1, b2), eps, weight_decay=lam, amsgrad=False,
  decoupled_weight_decay=False)``:
  bias-corrected, ``eps`` added outside the square root, as optax's ``eps_root=0``.
- ``adamw``: ``AdamW(..., weight_decay=wd)``. torch first shrinks
  ``theta <- theta (1 - lr wd)`` and then takes the Adam step computed from the
  same gradient; optax adds ``wd theta`` to the Adam direction before scaling by
  ``-lr``. Both give ``theta - lr (adam_update + wd theta)`` with ``theta`` the
  value before the step: the same mathematics, rounded in a different order.

Frozen parameters keep ``requires_grad=True`` (the contract records their
gradient) and are left out of the optimizer's parameter list, so no update,
weight decay or optimizer state ever touches them. Because
``optimizer.zero_grad()`` only clears the optimizer's own parameters, each
step clears every parameter with ``model.zero_grad()`` instead.

The run is :func:`comparisons.backends._loop.run_loop` around :class:`TorchMaths`.
Where the loop clears (every step, or where an accumulation experiment's
``zero_grad[k]`` says so) it is ``model.zero_grad()``; ``.grad`` is recorded as
it stands. shared-path is the lesson's
``a = torch.tensor(3.0, requires_grad=True); (a * a).backward()``.
The gradient check's finite differences evaluate the loss with each parameter
moved by ``+- eps`` in place under ``no_grad`` and restored bit for bit (float64 only).
"""

from __future__ import annotations

from collections.abc import Sequence

from comparisons.backends import _common
from comparisons.backends._loop import Batch, Evaluation, Maths, run_loop
from comparisons.backends.update_rules import schedule_rule
from comparisons.experiments import Experiment
from comparisons.losses import loss_pieces, torch_l2
from comparisons.models import model_pieces
from functional_training import TrajectoryRecord

DESCRIPTION = "PyTorch: nn.Linear(d, 1), 0.5 * nn.MSELoss, loss.backward(), torch.optim"
REQUIRES = ("torch",)
INSTALL_HINT = "pip install torch==2.13.0"

def _optimizer(torch, name: str, settings: dict[str, float], params: list):
    """The ``torch.optim`` optimizer matching ``name``, every value set explicitly."""
    lr = settings["learning_rate"]
    if name in ("sgd", "momentum", "nesterov"):
        return torch.optim.SGD(
            params, lr=lr, momentum=settings.get("momentum", 0.0), dampening=0.0,
            weight_decay=settings.get("weight_decay", 0.0), nesterov=name == "nesterov",
            maximize=False, foreach=False,
        )
    adam = {
        "lr": lr, "betas": (settings["b1"], settings["b2"]), "eps": settings["eps"],
        "amsgrad": False, "maximize": False, "foreach": False, "capturable": False,
        "differentiable": False, "fused": False,
    }
    # torch applies Adam's step as addcdiv_(m, denom, value=-lr / (1 - b1^t)), a
    # Python scalar that must fit the parameter dtype; 1 - b1^t >= 1 - b1.
    largest = torch.finfo(params[0].dtype).max
    if lr / (1.0 - settings["b1"]) > largest:
        raise ValueError(
            f"torch.optim.{'Adam' if name == 'adam' else 'AdamW'} cannot take learning_rate "
            f"{lr:g} with b1 {settings['b1']:g}: its step size lr / (1 - b1) overflows "
            f"{str(params[0].dtype).removeprefix('torch.')}"
        )
    if name == "adam":
        return torch.optim.Adam(params, weight_decay=settings.get("weight_decay", 0.0),
                                decoupled_weight_decay=False, **adam)
    return torch.optim.AdamW(params, weight_decay=settings["weight_decay"], **adam)


def _base_rate(schedule: dict) -> float:
    """The optimizer's ``lr`` that :func:`_scheduler`'s factors multiply."""
    if schedule["kind"] == "constant":
        return schedule["value"]
    if schedule["kind"] == "linear":
        return max(schedule["init_value"], schedule["end_value"])
    if _native_cosine(schedule) or _native_exponential(schedule):
        return schedule["init_value"]
    return 1.0  # LambdaLR: lr_k = 1 * rate(k)


def _native_cosine(schedule: dict) -> bool:
    return schedule["kind"] == "cosine" and schedule["exponent"] == 1.0


def _native_exponential(schedule: dict) -> bool:
    return schedule["kind"] == "exponential" and schedule["decay_rate"] <= 1.0


def _scheduler(torch, optimizer, schedule: dict):
    """``torch.optim.lr_scheduler``'s own schedulers for optax's schedules (see the module).

    - ``constant``: none (the optimizer's ``lr`` is the value).
    - ``linear``: ``LinearLR`` from ``init / base`` to ``end / base`` over
      ``transition_steps`` (``base = max(init, end)``: torch's factors lie in
      [0, 1]), after ``ConstantLR`` holds the start for ``transition_begin`` steps.
    - ``cosine`` with ``exponent = 1``: ``CosineAnnealingLR(T_max = decay_steps,
      eta_min = alpha init)``, then ``ConstantLR`` at ``alpha`` (optax holds the
      end where torch's cosine would rise again).
    - ``exponential`` with ``decay_rate <= 1``: ``ExponentialLR(gamma =
      decay_rate^(1 / transition_steps))``, or ``StepLR(transition_steps,
      decay_rate)`` with ``staircase``, after ``transition_begin`` constant steps.
    - anything else (a cosine ``exponent``, a growing exponential): ``LambdaLR``
      with the closed form of :func:`comparisons.backends.update_rules.schedule_rule`.

    torch's schedulers update the rate recursively (``lr_k = lr_{k-1} * factor``),
    so their rates differ from optax's closed forms by a few ulps after many steps:
    the same mathematics, rounded another way.
    """
    lr = torch.optim.lr_scheduler
    kind = schedule["kind"]
    if kind == "constant":
        return None
    if kind == "linear":
        base = _base_rate(schedule)
        main = lr.LinearLR(optimizer, start_factor=schedule["init_value"] / base,
                           end_factor=schedule["end_value"] / base,
                           total_iters=schedule["transition_steps"])
        return _after_constant(torch, optimizer, main, schedule["transition_begin"],
                               schedule["init_value"] / base)
    if _native_cosine(schedule):
        steps, alpha = schedule["decay_steps"], schedule["alpha"]
        cosine = lr.CosineAnnealingLR(optimizer, T_max=steps,
                                      eta_min=alpha * schedule["init_value"])
        held = lr.ConstantLR(optimizer, factor=alpha, total_iters=2**62) if alpha else \
            lr.LambdaLR(optimizer, lambda _: 0.0)
        return lr.SequentialLR(optimizer, [cosine, held], milestones=[steps])
    if _native_exponential(schedule):
        steps, rate = schedule["transition_steps"], schedule["decay_rate"]
        main = (lr.StepLR(optimizer, step_size=steps, gamma=rate) if schedule["staircase"]
                else lr.ExponentialLR(optimizer, gamma=rate ** (1.0 / steps)))
        return _after_constant(torch, optimizer, main, schedule["transition_begin"], 1.0)
    return lr.LambdaLR(optimizer, schedule_rule(schedule))


def _after_constant(torch, optimizer, main, begin: int, factor: float):
    """``main`` after ``begin`` steps held at ``factor`` of the base rate."""
    if begin == 0:
        return main
    lr = torch.optim.lr_scheduler
    hold = lr.ConstantLR(optimizer, factor=factor, total_iters=begin) if factor != 1.0 else \
        lr.LambdaLR(optimizer, lambda _: 1.0)
    return lr.SequentialLR(optimizer, [hold, main], milestones=[begin])


class TorchMaths(Maths):
    """The kind's ``nn`` module, torch's losses, ``torch.optim`` and its schedulers."""

    def __init__(self, experiment: Experiment, dtype: str) -> None:
        super().__init__(experiment, dtype)
        import torch

        self.torch = torch
        self.torch_dtype = torch.float64 if dtype == "float64" else torch.float32
        self.optimizer = self.scheduler = None

    def start(self, batches) -> None:
        torch, experiment = self.torch, self.experiment
        model_kind = model_pieces(experiment.model)
        self.loss_pieces = loss_pieces(experiment.loss)
        self.splits = {"train": self._tensors(experiment.train)}
        if experiment.validation is not None:
            self.splits["validation"] = self._tensors(experiment.validation)
        self.model = model_kind.torch_module(torch, dtype=self.torch_dtype,
                                             **experiment.model_config)
        self.located = model_kind.torch_parameters(self.model)
        with torch.no_grad():
            for name, (tensor, index) in self.located.items():
                tensor[index] = experiment.init[name]
        leaves = model_kind.torch_leaves(self.model)
        self.trainable = [tensor for leaf, tensor in leaves.items()
                          if leaf in experiment.trainable]
        self._start_optimizer()

    def _tensors(self, rows: Sequence[Sequence[float]]):
        torch = self.torch
        x = torch.tensor([list(row[:-1]) for row in rows], dtype=self.torch_dtype, device="cpu")
        y = torch.tensor([row[-1] for row in rows], dtype=self.torch_dtype, device="cpu")
        return x, y

    def _forward(self, features):
        out = self.model(features)
        return out[:, 0] if out.shape[1] == 1 else out  # (n,) for one output, else (n, k)

    def _loss_on(self, features, targets):
        value = self.loss_pieces.torch(self.torch, self._forward(features), targets).mean()
        if self.experiment.l2:
            value = value + torch_l2(self.torch, list(self.model.parameters()),
                                     self.experiment.l2)
        return value

    def _batch(self, batch: Batch):
        x, y = self.splits["train"]
        return (x, y) if batch.indices is None else (x[batch.indices], y[batch.indices])

    def _start_optimizer(self) -> None:
        e = self.experiment
        if e.optimizer == "none" or not self.trainable:
            return
        settings = _common.optimizer_settings(e)
        schedule = _common.schedule_settings(e)
        if schedule is not None:
            settings["learning_rate"] = _base_rate(schedule)
        self.optimizer = _optimizer(self.torch, e.optimizer, settings, self.trainable)
        if schedule is not None:
            self.scheduler = _scheduler(self.torch, self.optimizer, schedule)

    def values(self, which: str = "data") -> dict[str, float]:
        return {name: (tensor if which == "data" else tensor.grad)[index].item()
                for name, (tensor, index) in self.located.items()}

    def evaluate(self, split: str, *, accuracy: bool) -> Evaluation:
        x, y = self.splits[split]
        with self.torch.no_grad():
            right = None
            if accuracy:
                labels = self.loss_pieces.torch_label(self.torch, self._forward(x))
                right = (labels == y).sum().item() / len(y)
            loss = self._loss_on(x, y).item()
            outputs = self.model(x).flatten().tolist() if split == "train" else []
        return Evaluation(loss, outputs, right)

    def forward(self, batch: Batch, moved: tuple[str, float] | None = None) -> float:
        """The batch loss; a moved parameter is moved in place under ``no_grad`` and
        restored from a saved copy (the recorded gradients are untouched)."""
        xb, yb = self._batch(batch)
        with self.torch.no_grad():
            if moved is None:
                return self._loss_on(xb, yb).item()
            name, delta = moved
            tensor, index = self.located[name]
            saved = tensor[index].clone()
            tensor[index] += delta
            value = self._loss_on(xb, yb).item()
            tensor[index] = saved
            return value

    def zero_grad(self) -> None:
        # model.zero_grad, not optimizer.zero_grad: frozen leaves are not the optimizer's.
        self.model.zero_grad(set_to_none=True)

    def backward(self, batch: Batch) -> tuple[float, dict[str, float]]:
        xb, yb = self._batch(batch)
        batch_loss = self._loss_on(xb, yb)
        batch_loss.backward()
        return batch_loss.item(), self.values("grad")

    def update(self, k: int, grads) -> None:
        if self.optimizer is not None:
            self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()

    def scaled_update(self, k: int, grads, scale: float) -> None:
        # A summed loss's step: .grad / batch_size, as d2l divides it (n / B of the mean's).
        with self.torch.no_grad():
            for tensor in self.trainable:
                tensor.grad.mul_(scale)
        self.update(k, grads)

    def learning_rate(self, k: int) -> float:
        return self.optimizer.param_groups[0]["lr"]  # the rate this step's update uses

    def square(self, a: float) -> tuple[float, float, float]:
        leaf = self.torch.tensor(a, dtype=self.torch_dtype, requires_grad=True)
        square = leaf * leaf
        square.backward()
        return leaf.item(), square.item(), leaf.grad.item()


def run(experiment: Experiment, *, dtype: str = "float64") -> TrajectoryRecord:
    """Run ``experiment`` with PyTorch on the CPU.

    Args:
      experiment: any :class:`~comparisons.experiments.Experiment`.
      dtype: ``"float64"`` (verification) or ``"float32"``.

    Returns:
      The :class:`functional_training.TrajectoryRecord` (values via ``.item()``,
      exact in Python floats); non-finite values are recorded.

    Raises:
      ValueError: the experiment cannot be run (message names the field).
      ImportError: torch is not installed (``comparisons.backends.get_backend``
        turns this into ``BackendUnavailable`` before calling).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> traj = run(REGISTRY["pytorch-step"])
      >>> [round(traj.grads[n][0], 3) for n in ("w", "b")], round(traj.train_loss[1], 3)
      ([-11.333, -5.0], 4.281)
    """
    return run_loop(experiment, TorchMaths, dtype=dtype)
