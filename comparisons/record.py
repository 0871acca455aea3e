"""Record any training loop's trajectory in a few lines: :class:`Recorder`.

A loop written in any framework (NumPy, JAX/optax, a scalar autograd engine
such as micrograd, PyTorch tensors updated by hand) hands the recorder what it
computed at each optimizer step, and the recorder names every scalar by the
project's one rule (:mod:`functional_training._names`: a leaf's path joined with
dots, then its element index in brackets: ``w[0]``, ``layers.0.w[1,2]``) and
writes a :class:`~comparisons.trajectory.Trajectory` that ``python -m
comparisons check`` compares with the reference::

    rec = Recorder()                                     # before the loop
    rec.step(params=params, grads=grads, loss=loss, batch=indices)   # each step,
    rec.final(params)                                    # before the update; after it:
    rec.save("run.json")                                 # or rec.check(spec)

What each argument may be:

- ``params``, ``grads``: a pytree (dicts, lists, tuples, NamedTuples; flax and
  equinox parameters are dicts named by path) of NumPy or JAX arrays, Python
  numbers, torch tensors, or objects with ``.data`` and ``.grad`` (a scalar
  autograd ``Value``). A list or tuple whose items are all numbers (or such
  objects, at any depth) is one array leaf: ``{"w": [v0, v1]}`` names ``w[0]``,
  ``w[1]``. When ``grads`` is left out and the parameters carry gradients
  (``.grad`` of a ``Value`` or a tensor), those are recorded as the gradients.
- ``loss``: the loss whose gradient was taken (``batch_loss``): a number, a
  0-d array, a tensor or a ``Value``.
- ``batch``: the example indices of the step's batch, in order (``batches``):
  a list, an array or a tensor of whole numbers.

Everything is copied when it is given, so a loop may update its arrays in place.
With ``spec`` (a spec file, a registry name or an
:class:`~comparisons.experiments.Experiment`), leaves take the spec's shapes when
they hold as many values (a ``(2, 1)`` weight column checks against a linear
model's ``w`` of shape ``(2,)``), a top-level list of leaves is named in the
model's leaf order (d2l's ``params = [w, b]``), a pytree with other names but as
many leaves (flax's ``params.Dense_0.kernel``) is matched by shape (each of the
model's leaves, in order, takes the first unused leaf of its shape, in flatten
order), and a leaf the spec does not have is refused at the step that gives it.
:func:`layers_of` names a micrograd-style network
(``model.layers[l].neurons[j].w[i]``, ``.b``) by the ``mlp`` kind's rule.

Example:
  >>> import numpy as np
  >>> rec = Recorder()
  >>> w, b = np.zeros(2), 0.0
  >>> for indices in ([0, 1], [2]):
  ...     grad_w, grad_b = np.ones(2), 0.5
  ...     rec.step(params={"w": w, "b": b}, grads={"w": grad_w, "b": grad_b}, loss=1.0,
  ...              batch=indices)
  ...     w -= 0.1 * grad_w                      # in place: the record keeps its copy
  ...     b -= 0.1 * grad_b
  >>> rec.final({"w": w, "b": b})
  >>> mine = rec.trajectory()
  >>> mine.labels
  ('params.b', 'params.w[0]', 'params.w[1]', 'grads.b', 'grads.w[0]', 'grads.w[1]', \
'batch_loss', 'batches[0]', 'batches[1]')
  >>> mine.to_json()["params"]["w[0]"], mine.to_json()["batches"]
  ([0.0, -0.1, -0.2], [[0, 1], [2]])
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from pathlib import Path

import jax
import numpy as np

from comparisons.check import Verdict, check, resolve_experiment
from comparisons.experiments import Experiment
from comparisons.trajectory import Trajectory
from comparisons.trajectory_files import trajectory_csv
from functional_training import model_kind, named_series
from functional_training._names import path_name

__all__ = ["RecordError", "Recorder", "layers_of", "leaves_of_tree", "write_trajectory"]


class RecordError(ValueError):
    """A value the recorder cannot record: one line naming the step and the leaf."""


class Recorder:
    """A trajectory recorded step by step from any loop (see the module docstring).

    Args:
      spec: optional: a spec file's path, a registry experiment's name or an
        :class:`Experiment`, whose model's leaf names and shapes the recorded
        leaves are fitted to.

    Example:
      >>> rec = Recorder()
      >>> rec.step(params={"w": 1.0}, loss=0.5)
      >>> rec.steps, rec.trajectory().to_json()
      (1, {'params': {'w': [1.0]}, 'batch_loss': [0.5]})
    """

    def __init__(self, *, spec=None):
        self._shapes = None
        if spec is not None:
            experiment = spec if isinstance(spec, Experiment) else resolve_experiment(spec)
            self._shapes = model_kind(experiment.model).shapes(**experiment.model_config)
        self._records: dict[int, dict] = {}
        self._steps = 0

    @property
    def steps(self) -> int:
        """How many optimizer steps :meth:`step` has recorded."""
        return self._steps

    def step(self, *, params=None, grads=None, loss=None, batch=None) -> None:
        """Record optimizer step ``k`` (the ``k``-th call): what the update is about to use.

        Call it after the gradient is computed and before the parameters are
        updated. Any argument may be left out.

        Args:
          params: the parameters at which the gradient was taken (``params[k]``).
          grads: the gradient (``grads[k]``); left out, the parameters' own
            ``.grad`` when they carry one.
          loss: the loss whose gradient it is (``batch_loss[k]``).
          batch: the example indices of the batch (``batches[k]``).

        Raises:
          RecordError: a value that is not numeric, a leaf the spec does not have.
        """
        self.record(self._steps, params=params, grads=grads, loss=loss, batch=batch)
        self._steps += 1

    def final(self, params) -> None:
        """Record the parameters after the last step (``params[S]``, S = :attr:`steps`)."""
        self.record(self._steps, params=params, own_grads=False)

    def record(self, step: int, *, params=None, grads=None, loss=None, batch=None,
               own_grads: bool = True) -> None:
        """Record values at step ``step`` explicitly (what :meth:`step` does at the next step).

        A value given twice for the same step replaces the first. ``own_grads``:
        record the parameters' own ``.grad`` when ``grads`` is left out.
        """
        entry = self._records.setdefault(step, {})
        where = f"step {step}"
        if params is not None:
            entry["params"] = self._fitted(leaves_of_tree(params, "data", where), where)
        if grads is not None:
            entry["grads"] = self._fitted(leaves_of_tree(grads, "data", where), where)
        elif params is not None and own_grads and _carries_grads(params):
            entry["grads"] = self._fitted(leaves_of_tree(params, "grad", where), where)
        if loss is not None:
            entry["loss"] = _number(loss, "data", f"the loss at {where}")
        if batch is not None:
            entry["batch"] = _indices(batch, where)

    def trajectory(self) -> Trajectory:
        """Everything recorded, as a :class:`~comparisons.trajectory.Trajectory`."""
        steps = sorted(self._records)
        named = {quantity: self._series(quantity, steps) for quantity in ("params", "grads")}
        losses = {k: self._records[k]["loss"] for k in steps if "loss" in self._records[k]}
        batches = {k: self._records[k]["batch"] for k in steps if "batch" in self._records[k]}
        return Trajectory(params=named["params"], grads=named["grads"],
                          batch_loss=_listed(losses) or None, batches=_listed(batches) or None)

    def _series(self, quantity: str, steps: list[int]) -> dict[str, object] | None:
        """``{scalar name: {step: value}}`` of ``params`` or ``grads`` (``None``: none recorded).

        A series held at steps ``0..n-1`` is a list (the form Trajectory reads fastest).

        Steps whose leaves have the same names and shapes are named once, stacked.
        """
        held = [(step, self._records[step][quantity]) for step in steps
                if quantity in self._records[step]]
        series: dict[str, dict[int, float]] = {}
        while held:
            layout = {leaf: value.shape for leaf, value in held[0][1].items()}
            alike = [(step, leaves) for step, leaves in held
                     if {leaf: value.shape for leaf, value in leaves.items()} == layout]
            stacked = {leaf: np.stack([leaves[leaf] for _, leaves in alike]) for leaf in layout}
            at = [step for step, _ in alike]
            for name, values in named_series(stacked, leading=1).items():
                series.setdefault(name, {}).update(zip(at, values.tolist(), strict=True))
            held = [(step, leaves) for step, leaves in held if step not in set(at)]
        return {name: _listed(values) for name, values in series.items()} or None

    def save(self, path) -> Path:
        """Write the trajectory file: long CSV for a ``.csv`` path, else JSON. Returns the path."""
        return write_trajectory(path, self.trajectory())

    def check(self, spec, **options) -> Verdict:
        """:func:`comparisons.check` of this trajectory against ``spec`` (same options)."""
        return check(spec, self.trajectory(), **options)

    def _fitted(self, leaves: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
        """The leaves under the spec's names and in its shapes (unchanged without a spec)."""
        if self._shapes is None:
            return leaves
        shapes = self._shapes
        names = list(leaves)
        if names == [str(i) for i in range(len(names))] and len(names) == len(shapes):
            leaves = dict(zip(shapes, leaves.values(), strict=True))  # d2l's [w, b]
        elif not set(names) <= set(shapes) and len(names) == len(shapes):
            leaves = _by_shape(leaves, shapes) or leaves  # flax's params.Dense_0.kernel
        fitted = {}
        for name, value in leaves.items():
            if name not in shapes:
                raise RecordError(f"unknown parameter leaf {name!r} at {where} (the spec's "
                                  f"model has {', '.join(shapes)})")
            shape = shapes[name]
            if value.size != math.prod(shape):
                raise RecordError(f"leaf {name!r} at {where} has shape {value.shape}, the "
                                  f"spec's model has {shape}")
            fitted[name] = value.reshape(shape)
        return fitted


def _listed(values: dict[int, object]) -> dict[int, object] | list:
    """``{step: value}`` as a list when the steps are ``0..n-1`` in order (the faster form)."""
    return list(values.values()) if list(values) == list(range(len(values))) else values


def _by_shape(leaves: dict[str, np.ndarray], shapes: dict) -> dict[str, np.ndarray] | None:
    """The leaves under the spec's names, each spec leaf taking the first unused leaf of its
    shape in flatten order; ``None`` when some spec leaf finds none."""
    unused = list(leaves)
    renamed = {}
    for name, shape in shapes.items():
        match = next((leaf for leaf in unused if leaves[leaf].shape == tuple(shape)), None)
        if match is None:
            return None
        unused.remove(match)
        renamed[name] = leaves[match]
    return renamed


def write_trajectory(path, trajectory: Trajectory) -> Path:
    """Write ``trajectory`` to ``path``: long CSV for ``.csv``, else strict JSON. Returns the path.

    :func:`comparisons.trajectory_files.read_trajectory` reads either back equal.
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        text = trajectory_csv(trajectory)
    else:
        text = json.dumps(trajectory.to_json(), allow_nan=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def layers_of(model) -> dict:
    """A micrograd-style network's parameters as the ``mlp`` kind's pytree.

    The network is duck-typed: ``model.layers[l].neurons[j]`` has weights
    ``.w[i]`` (one per input ``i``) and a bias ``.b``. Layer ``l``'s ``w`` is the
    ``(fan_in, fan_out)`` table ``w[i][j] = neurons[j].w[i]``, its ``b`` the
    neurons' biases: ``layers.l.w[i,j]``, ``layers.l.b[j]``. The objects
    themselves are returned (not their values), so ``.data`` and ``.grad`` are
    read when :meth:`Recorder.step` records them.

    Example:
      >>> from types import SimpleNamespace as N
      >>> net = N(layers=[N(neurons=[N(w=[1.0, 2.0], b=0.5), N(w=[3.0, 4.0], b=0.0)])])
      >>> layers_of(net)
      {'layers': [{'w': [[1.0, 3.0], [2.0, 4.0]], 'b': [0.5, 0.0]}]}
    """
    try:
        tree = []
        for layer in model.layers:
            neurons = list(layer.neurons)
            fan_in = len(neurons[0].w)
            tree.append({"w": [[n.w[i] for n in neurons] for i in range(fan_in)],
                         "b": [n.b for n in neurons]})
    except (AttributeError, IndexError, TypeError):
        raise RecordError("layers_of: expected model.layers[l].neurons[j] with .w (a list) "
                          "and .b") from None
    return {"layers": tree}


def leaves_of_tree(tree, attr: str = "data", where: str = "") -> dict[str, np.ndarray]:
    """``{leaf name: float64 array copy}`` of a parameter pytree (``attr``: ``data`` or ``grad``).

    Leaves are named by :func:`functional_training._names.path_name`, in JAX's
    flatten order (a dict's keys sorted); a list or tuple of numbers (or of
    ``.data``/``.grad`` objects) is one array leaf.

    Example:
      >>> leaves_of_tree({"layers": [{"w": [[1.0, 2.0]], "b": [0.0, 1.0]}]})
      {'layers.0.b': array([0., 1.]), 'layers.0.w': array([[1., 2.]])}
    """
    flat = jax.tree_util.tree_flatten_with_path(tree, is_leaf=_is_array_leaf)[0]
    if not flat:
        raise RecordError(f"no parameters at {where}: the pytree has no leaves")
    leaves = {}
    for path, leaf in flat:
        name = path_name(path) or "value"
        leaves[name] = _array(leaf, attr, f"{name} at {where}")
    return leaves


# --- converting one leaf -----------------------------------------------------------------------


def _is_scalar(value) -> bool:
    """A number, a 0-d array, or a scalar autograd object (``.data`` and ``.grad``)."""
    if isinstance(value, (numbers.Real, np.generic)):
        return True
    if isinstance(value, (np.ndarray, jax.Array)):
        return value.ndim == 0
    return not _is_tensor(value) and hasattr(value, "data") and hasattr(value, "grad")


def _is_array_leaf(node) -> bool:
    """A leaf of the recorder's pytrees: arrays, tensors, scalars and lists of scalars."""
    if isinstance(node, (list, tuple)) and not hasattr(node, "_fields"):
        return bool(node) and all(_is_array_leaf(item) and not isinstance(item, Mapping)
                                  and not _is_tensor(item) and _is_nested_scalars(item)
                                  for item in node)
    return _is_scalar(node) or _is_tensor(node) or isinstance(node, (np.ndarray, jax.Array))


def _is_nested_scalars(node) -> bool:
    if isinstance(node, (list, tuple)) and not hasattr(node, "_fields"):
        return bool(node) and all(_is_nested_scalars(item) for item in node)
    return _is_scalar(node)


def _is_tensor(value) -> bool:
    """A torch tensor (duck-typed: this module does not import torch)."""
    return hasattr(value, "detach") and hasattr(value, "requires_grad")


def _array(leaf, attr: str, where: str) -> np.ndarray:
    if isinstance(leaf, (list, tuple)):
        return np.array([_array(item, attr, where) for item in leaf], dtype=np.float64)
    if _is_tensor(leaf):
        value = leaf.grad if attr == "grad" else leaf
        if value is None:
            raise RecordError(f"{where}: the tensor has no .grad (call backward() first)")
        return np.array(value.detach().cpu().double().numpy(), dtype=np.float64)
    return np.asarray(_number(leaf, attr, where), dtype=np.float64) if _is_scalar(leaf) \
        and not isinstance(leaf, (np.ndarray, jax.Array)) else _plain(leaf, where)


def _plain(leaf, where: str) -> np.ndarray:
    try:
        return np.array(leaf, dtype=np.float64)  # a copy: the loop may update in place
    except (TypeError, ValueError):
        raise RecordError(f"{where}: not numeric ({type(leaf).__name__})") from None


def _number(value, attr: str, where: str) -> float:
    """One scalar: a number, a 0-d array or tensor, or an object's ``.data``/``.grad``."""
    if _is_tensor(value):
        value = value.grad if attr == "grad" else value
        if value is None:
            raise RecordError(f"{where}: the tensor has no .grad (call backward() first)")
        if value.numel() != 1:
            raise RecordError(f"{where}: expected one number, got a tensor of shape "
                              f"{tuple(value.shape)} (the loss: reduce it first)")
        return float(value.detach().cpu().double().item())
    if not isinstance(value, (numbers.Real, np.generic, np.ndarray, jax.Array)) and \
            hasattr(value, "data"):
        value = getattr(value, attr)
    if isinstance(value, bool) or isinstance(value, str):
        raise RecordError(f"{where}: not a number ({value!r})")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise RecordError(f"{where}: not a number ({type(value).__name__})") from None
    if array.size != 1:
        raise RecordError(f"{where}: expected one number, got shape {array.shape}")
    return float(array.reshape(()))


def _indices(batch, where: str) -> list[int]:
    if _is_tensor(batch):
        batch = batch.detach().cpu().numpy()
    array = np.asarray(batch).reshape(-1)
    if array.dtype.kind not in "iu" and not (
            array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array % 1 == 0)):
        raise RecordError(f"the batch at {where}: expected whole-number example indices, "
                          f"got {array.dtype} values")
    if array.size and array.min() < 0:
        raise RecordError(f"the batch at {where}: a negative example index {int(array.min())}")
    return [int(i) for i in array]


def _carries_grads(tree) -> bool:
    """Whether the leaves carry their own gradients (``Value`` objects, tensors with ``.grad``)."""
    found = []

    def visit(node):
        if isinstance(node, Mapping):
            for item in node.values():
                visit(item)
        elif isinstance(node, (list, tuple)):
            for item in node:
                visit(item)
        elif _is_tensor(node):
            found.append(bool(node.is_leaf) and node.grad is not None)
        elif hasattr(node, "data") and hasattr(node, "grad") and not isinstance(
                node, (np.ndarray, jax.Array, np.generic)):
            found.append(True)
    visit(tree)
    return bool(found) and all(found)

