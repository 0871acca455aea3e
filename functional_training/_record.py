"""The plain trajectory record: the trajectory contract (docs/design.md) as Python floats.

What every ``comparisons`` backend returns, what reports, manifests and reruns
store as JSON (the ``TRAJ`` object), and what :func:`record_from_trajectory`
makes of a JAX :class:`functional_training.Trajectory`.

For an experiment of ``S`` optimizer steps:

- ``params[name][k]``, k = 0..S: parameter ``name`` before step k (k = S: final).
- ``grads[name][k]``, k = 0..S-1: the gradient taken at ``params[k]`` on batch k
  (for accumulation experiments: the gradient buffer as the framework holds it).
- ``batch_loss[k]``, k = 0..S-1: the loss whose gradient was taken at step k.
- ``train_loss[k]``, ``val_loss[k]``, k = 0..S: full train / validation loss at
  ``params[k]`` (``val_loss`` is ``None`` without a validation set).
- ``predictions[k]``, k = 0..S: the model's predictions on the training inputs at
  ``params[k]`` (``None`` for experiments that print none).
- ``batches[k]``: example indices used at step k (``None`` = full batch).
- ``extras[key]``: experiment-specific recorded series, compared like every other
  quantity: finite-difference gradients of the gradient-check experiment
  (``numeric.<name>``, S values), the scheduled rate of each step
  (``learning_rate``, S values) and, for classification losses, the accuracy at
  each ``params[k]`` (``train_accuracy``, ``val_accuracy``, S + 1 values).

Values are Python floats (float64); non-finite values are data. A large run's
``params`` and ``grads`` series (more than :data:`ARRAYS_FROM` values in all) are
read-only 1-D NumPy float64 arrays instead (:func:`holds_arrays`), views of one
block per quantity, read the same way (index, ``len``, iteration).

A run that records only some steps (``train --eval-every E``) sets
``record_steps`` to the ``R`` recorded steps (``0 = k_0 < ... < k_{R-1} = S - 1``):
every series then has ``R`` entries (``R + 1`` for those with a final entry,
the last being step ``S``), ``batches`` holds the recorded steps' batches, and
``nonfinite_after[r]`` is the first step in ``[k_r, k_{r+1})`` (``k_R = S``)
whose batch loss is non-finite, or -1, so ``first_nonfinite_step`` is exact for
the batch loss even between records. ``record_steps`` and ``nonfinite_after`` are
``None`` (and absent from the JSON) when every step is recorded.

Parameter names follow one rule for every model kind (:func:`named_series`):
a scalar leaf is its name (``w``, ``b``); an array leaf adds its index
(``w[0]``, ``w[1]``; ``layers.0.w[1,2]``); nested leaves join their path with
dots (``layers.0.b[3]``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import jax
import numpy as np

from functional_training._names import path_name, scalar_name
from functional_training._trajectory import earliest_step


@dataclass(frozen=True)
class TrajectoryRecord:
    """One run, step by step, as plain floats (see the module docstring)."""

    params: dict[str, list[float]]
    grads: dict[str, list[float]]
    batch_loss: list[float]
    train_loss: list[float]
    val_loss: list[float] | None = None
    predictions: list[list[float]] | None = None
    batches: list[list[int]] | None = None
    extras: dict[str, list[float]] = field(default_factory=dict)
    record_steps: list[int] | None = None
    nonfinite_after: list[int] | None = None

    @property
    def steps(self) -> int:
        """Number of optimizer steps ``S`` (recorded or not)."""
        if self.record_steps is not None:
            return self.record_steps[-1] + 1
        return len(self.batch_loss)

    @property
    def recorded_steps(self) -> list[int]:
        """The step of each record: ``record_steps``, or ``0..S-1`` when every step is."""
        return list(range(self.steps)) if self.record_steps is None else list(self.record_steps)

    def series(self) -> Iterator[tuple[str, list]]:
        """Every compared series as ``(label, values)``; labels like ``params.w``, ``batch_loss``.

        ``values[k]`` is a float, or a list of floats (``predictions``).
        """
        for name, values in self.params.items():
            yield f"params.{name}", values
        for name, values in self.grads.items():
            yield f"grads.{name}", values
        yield "batch_loss", self.batch_loss
        yield "train_loss", self.train_loss
        if self.val_loss is not None:
            yield "val_loss", self.val_loss
        if self.predictions is not None:
            yield "predictions", self.predictions
        for name, values in self.extras.items():
            yield f"extras.{name}", values

    @property
    def first_nonfinite_step(self) -> int | None:
        """First (recorded) step k where any recorded value is inf or NaN, else ``None``."""
        first = None
        by_length: dict[int, list] = {}  # many series of one length: checked as one block
        for _, values in self.series():
            if isinstance(values, (list, np.ndarray)) and len(values) and not isinstance(
                    values[0], list):
                by_length.setdefault(len(values), []).append(values)
                continue
            k = _first_nonfinite(values)
            if k is not None:
                first = k if first is None else min(first, k)
        for series in by_length.values():
            k = _first_nonfinite(np.stack([np.asarray(v, dtype=np.float64) for v in series],
                                          axis=1))
            if k is not None:
                first = k if first is None else min(first, k)
        if self.record_steps is None:
            return first
        if first is not None:
            first = self.record_steps[first] if first < len(self.record_steps) else self.steps
        return earliest_step(first, self.nonfinite_after)

    @property
    def grad_norm(self) -> list[float]:
        """Global gradient norm per record, ``sqrt(sum over params of g^2)`` (overflow-safe)."""
        if any(isinstance(g, np.ndarray) for g in self.grads.values()):
            return _norms(self.grads.values(), len(self.batch_loss))
        return [math.hypot(*(g[k] for g in self.grads.values()))
                for k in range(len(self.batch_loss))]

    def check_lengths(self) -> None:
        """Raise ``ValueError`` unless every series has the contract's length."""
        s = len(self.batch_loss)
        if self.record_steps is not None:
            steps = self.record_steps
            if len(steps) != s or any(b <= a for a, b in zip(steps, steps[1:], strict=False)) \
                    or (steps and steps[0] != 0):
                raise ValueError(f"record_steps must be {s} increasing steps from 0, "
                                 f"got {len(steps)}")
        expected = {"params": s + 1, "grads": s, "batch_loss": s, "train_loss": s + 1,
                    "val_loss": s + 1, "predictions": s + 1}
        for label, values in self.series():
            kind = label.split(".")[0]
            if kind in expected and len(values) != expected[kind]:
                raise ValueError(
                    f"{label} has {len(values)} entries, the contract says {expected[kind]}"
                )
        if self.batches is not None and len(self.batches) != s:
            raise ValueError(f"batches has {len(self.batches)} entries, the contract says {s}")

    def to_json(self) -> dict:
        """The report's ``TRAJ`` object (non-finite floats as ``"NaN"``, ``"Infinity"``, ...)."""
        return {
            "params": {k: [json_float(v) for v in vs] for k, vs in self.params.items()},
            "grads": {k: [json_float(v) for v in vs] for k, vs in self.grads.items()},
            "batch_loss": [json_float(v) for v in self.batch_loss],
            "train_loss": [json_float(v) for v in self.train_loss],
            "val_loss": None if self.val_loss is None else [json_float(v) for v in self.val_loss],
            "predictions": None
            if self.predictions is None
            else [[json_float(v) for v in row] for row in self.predictions],
            "batches": self.batches,
            "extras": {k: [json_float(v) for v in vs] for k, vs in self.extras.items()},
            "grad_norm": [json_float(v) for v in self.grad_norm],
            "first_nonfinite_step": self.first_nonfinite_step,
        } | ({} if self.record_steps is None else {"record_steps": list(self.record_steps)}) \
          | ({} if self.nonfinite_after is None else
             {"nonfinite_after": list(self.nonfinite_after)})

    @classmethod
    def from_json(cls, data: dict) -> TrajectoryRecord:
        """Inverse of :meth:`to_json`."""
        def floats(values):
            return None if values is None else [from_json_float(v) for v in values]

        return cls(
            params={k: floats(v) for k, v in data["params"].items()},
            grads={k: floats(v) for k, v in data["grads"].items()},
            batch_loss=floats(data["batch_loss"]),
            train_loss=floats(data["train_loss"]),
            val_loss=floats(data.get("val_loss")),
            predictions=None
            if data.get("predictions") is None
            else [floats(row) for row in data["predictions"]],
            batches=data.get("batches"),
            extras={k: floats(v) for k, v in data.get("extras", {}).items()},
            record_steps=data.get("record_steps"),
            nonfinite_after=data.get("nonfinite_after"),
        )


def aligned_values(
    first: TrajectoryRecord, second: TrajectoryRecord
) -> Iterator[tuple[str, str, int, object, object]]:
    """Every value of two trajectories side by side: ``(label, quantity, step, a, b)``.

    ``label`` is the series (``params.w``, ``batch_loss``, ``predictions``,
    ``batches``); ``quantity`` names the value (``predictions[3]`` for one
    prediction). Series present on one side only, and steps or predictions beyond
    the shorter side, pair a value with ``None``. The one alignment the comparator
    (tolerances) and reruns (bit patterns) both walk.

    Example:
      >>> a = TrajectoryRecord(params={"w": [1.0, 2.0]}, grads={"w": [0.5]},
      ...                      batch_loss=[1.0], train_loss=[1.0, 0.5])
      >>> [row for row in aligned_values(a, a) if row[0] == "grads.w"]
      [('grads.w', 'grads.w', 0, 0.5, 0.5)]
    """
    def labelled(trajectory: TrajectoryRecord) -> dict[str, list]:
        series = dict(trajectory.series())
        if trajectory.batches is not None:
            series["batches"] = trajectory.batches
        return series

    one, two = labelled(first), labelled(second)
    for label in [*one, *(k for k in two if k not in one)]:
        a_values, b_values = one.get(label, []), two.get(label, [])
        for k in range(max(len(a_values), len(b_values))):
            a = a_values[k] if k < len(a_values) else None
            b = b_values[k] if k < len(b_values) else None
            if label != "predictions":
                yield label, label, k, a, b
                continue
            a_row, b_row = a or [], b or []
            for i in range(max(len(a_row), len(b_row), 1)):
                yield (label, f"predictions[{i}]", k, a_row[i] if i < len(a_row) else None,
                       b_row[i] if i < len(b_row) else None)


def _first_nonfinite(values) -> int | None:
    """The first step of a series (or of rows of predictions) holding an inf or NaN."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (ValueError, TypeError):  # ragged rows
        bad = [k for k, row in enumerate(values) if not all(math.isfinite(v) for v in row)]
        return bad[0] if bad else None
    if not array.size:
        return None
    finite = np.isfinite(array).reshape(len(array), -1).all(axis=1)
    return None if finite.all() else int(np.argmin(finite))


def _norms(series: Iterable, steps: int) -> list[float]:
    """``sqrt(sum of squares)`` per step over array series, scaled so that it cannot overflow."""
    block = np.stack([np.asarray(g, dtype=np.float64)[:steps] for g in series], axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        top = np.max(np.abs(block), axis=1, initial=0.0)
        safe = np.where(np.isfinite(top) & (top > 0), top, 1.0)
        norms = safe * np.sqrt(np.sum((block / safe[:, None]) ** 2, axis=1))
    nonfinite = ~np.isfinite(block).all(axis=1)
    infinite = np.isinf(block).any(axis=1)
    norms = np.where(nonfinite, np.where(infinite, np.inf, np.nan), norms)
    return norms.tolist()


def json_float(value: float) -> float | str:
    """A float for strict JSON: finite as is, else ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``.

    Example:
      >>> json_float(1.5), json_float(float("inf")), json_float(float("nan"))
      (1.5, 'Infinity', 'NaN')
    """
    value = float(value)
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def from_json_float(value: float | str) -> float:
    """Inverse of :func:`json_float` (``float`` parses ``"NaN"`` and ``"Infinity"``)."""
    return float(value)


def named_series(tree, *, leading: int = 1) -> dict[str, np.ndarray]:
    """Every scalar of a parameter pytree as a named float64 series.

    The naming rule of the trajectory contract: a leaf's path joined with dots
    (``NamedTuple`` fields, dict keys, list indices), then, for an array leaf,
    its element index in brackets (``w[0]``; ``w[1,2]`` for a matrix).

    Args:
      tree: a pytree of arrays whose first ``leading`` axes are not part of the
        parameter (1: a leading step axis; 0: a single parameter value).
      leading: how many leading axes to keep.

    Returns:
      ``{name: array}`` with each array of the leading shape, float64.

    Example:
      >>> import numpy as np
      >>> from functional_training._params import LinearParams
      >>> names = named_series(LinearParams(np.zeros((3, 2)), np.zeros(3)))
      >>> sorted(names), names["b"].shape
      (['b', 'w[0]', 'w[1]'], (3,))
      >>> list(named_series({"layers": [{"w": np.zeros((2, 1))}]}, leading=0))
      ['layers.0.w[0,0]', 'layers.0.w[1,0]']
    """
    series: dict[str, np.ndarray] = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = path_name(path)
        values = np.asarray(leaf, dtype=np.float64)
        lead, shape = values.shape[:leading], values.shape[leading:]
        if not shape:
            series[name] = values
            continue
        flat = values.reshape(*lead, -1)
        for position, index in enumerate(np.ndindex(*shape)):
            series[scalar_name(name, index)] = flat[..., position]
    return series


ARRAYS_FROM = 1_000_000
"""A record of more parameter values than this (parameters x recorded steps) holds each
``params`` and ``grads`` series as a read-only 1-D NumPy float64 view of one block
(:func:`holds_arrays`): 8 bytes a value instead of a Python float's 32, and no
conversion. Read such a series by index, ``len``, iteration or ``numpy.asarray``."""


def holds_arrays(parameters: int, steps: int) -> bool:
    """Whether a record of ``parameters`` scalars over ``steps`` steps holds NumPy series.

    Example:
      >>> holds_arrays(2, 20), holds_arrays(397_510, 100)
      (False, True)
    """
    return parameters * (steps + 1) > ARRAYS_FROM


RECORDED_EXTRAS = ("learning_rate", "train_accuracy", "val_accuracy")
"""The optional series a trajectory may carry beyond the contract's core, recorded as extras
under these names: the scheduled rate of each step (``S`` values) and the accuracy at each
``params[k]`` of a classification run (``S + 1`` values)."""


def record_from_trajectory(
    trajectory,
    *,
    predictions=None,
    batches: list[list[int]] | None = None,
    extras: Mapping[str, Iterable[float]] | None = None,
) -> TrajectoryRecord:
    """The one converter from a JAX :class:`functional_training.Trajectory` to a record.

    Args:
      trajectory: ``params`` and ``grads`` pytrees with a leading step axis,
        ``batch_loss``, ``train_loss`` and optional ``val_loss`` arrays.
      predictions: optional array ``(S + 1, n)`` of predictions at each ``params[k]``
        (``(S + 1, n, k)`` outputs of ``k`` logits are flattened row by row).
      batches: the batch order replayed, or ``None`` for full batch.
      extras: optional extra series by name.

    Returns:
      A :class:`TrajectoryRecord` with the contract's lengths (checked).

    Example:
      >>> import functional_training as ft
      >>> with ft.float64():
      ...     traj = ft.train(ft.LinearParams(1.0, 0.0), [2.0], [6.0], optimizer=0.1, steps=1)
      >>> record = record_from_trajectory(traj)
      >>> record.params, record.grads
      ({'w': [1.0, 1.8], 'b': [0.0, 0.4]}, {'w': [-8.0], 'b': [-4.0]})
    """
    def floats(values):
        return None if values is None else np.asarray(values, dtype=np.float64).tolist()

    recorded = {key: getattr(trajectory, key, None) for key in RECORDED_EXTRAS}
    extras = {**{k: [float(v) for v in vs] for k, vs in (extras or {}).items()},
              **{k: floats(v) for k, v in recorded.items() if v is not None}}
    params = named_series(trajectory.params)
    large = holds_arrays(len(params), len(trajectory.batch_loss))

    def series(values: np.ndarray):
        if not large:
            return values.tolist()
        values = values.view()
        values.flags.writeable = False
        return values

    record = TrajectoryRecord(
        params={k: series(v) for k, v in params.items()},
        grads={k: series(v) for k, v in named_series(trajectory.grads).items()},
        batch_loss=floats(trajectory.batch_loss),
        train_loss=floats(trajectory.train_loss),
        val_loss=floats(trajectory.val_loss),
        predictions=None if predictions is None else floats(
            np.reshape(np.asarray(predictions), (np.shape(predictions)[0], -1))),
        batches=batches,
        extras=extras,
        record_steps=None if getattr(trajectory, "record_steps", None) is None
        else [int(k) for k in trajectory.record_steps],
        nonfinite_after=None if getattr(trajectory, "nonfinite_after", None) is None
        else [int(k) for k in np.asarray(trajectory.nonfinite_after)],
    )
    record.check_lengths()
    return record
