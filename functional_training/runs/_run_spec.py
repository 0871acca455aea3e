"""The run description: one training run as plain values (:class:`RunSpec`), for both programs.

A spec file is read into a :class:`RunSpec` (:func:`functional_training.runs.parse_run_spec`);
``comparisons``' :class:`~comparisons.experiments.Experiment` *is* a ``RunSpec``
(a subclass adding the comparison-only fields ``kind``, ``zero_grad``,
``fd_epsilon``, ``lesson_block``), so the run is described once and no field is
copied from one type to another. Manifests and reruns of both programs write and
read it with one pair, :func:`functional_training.runs.run_spec_to_json` and
:func:`functional_training.runs.run_spec_from_json`.

The data are stored as rows ``(x_1, ..., x_d, target)`` of Python floats (what
every backend reads); :attr:`RunSpec.x`, :attr:`~RunSpec.y`, :attr:`~RunSpec.x_val`
and :attr:`~RunSpec.y_val` are the same values as float64 arrays, made once.

Example:
  >>> spec = RunSpec("two", "two shipments", ((1.0, 3.0), (2.0, 5.0)), {"w": 0.0, "b": 0.0},
  ...                "sgd", {"learning_rate": 0.1}, 3)
  >>> spec.x.shape, spec.y.tolist(), spec.features, spec.parameter_names
  ((2, 1), [3.0, 5.0], 1, ('w', 'b'))
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import numpy as np

from functional_training._losses import DEFAULT_LOSS, loss_kind
from functional_training._models import DEFAULT_MODEL, MODEL_KINDS, model_kind, parameter_names
from functional_training._objective import Objective, objective

Rows = tuple[tuple[float, ...], ...]
"""Examples as rows ``(x_1, ..., x_d, target)`` of Python floats."""

_Spec = TypeVar("_Spec", bound="RunSpec")

FROM_TRAJECTORY = "trajectory"
""":attr:`RunSpec.order` when the spec leaves the batch order to the trajectory checked
(``[run] batches = "trajectory"``)."""

LAST_BATCH = ("drop", "keep")
"""The values of :attr:`RunSpec.last_batch`."""


@dataclass(frozen=True)
class RunSpec:
    """One training run as plain values (every default filled in).

    Attributes:
      name, description: the run's name and one-line description.
      train: training rows ``(x_1, ..., x_d, target)``.
      init: initial values by scalar parameter name (the naming rule's order), or
        ``None``: the spec gives none, and a check takes them from the trajectory's
        step-0 ``params`` (:meth:`left_to_trajectory`; nothing else runs it).
      optimizer: the optimizer's name (``"none"`` for runs without updates).
      hyperparams: every optimizer setting, defaults filled in; ``learning_rate``
        included unless there is a schedule.
      steps: ``S``.
      validation: rows of the same width, only evaluated, or ``None``.
      trainable: the parameter leaves the optimizer moves, in the kind's order
        (default ``("w", "b")``, the lesson's line).
      batch_size: examples per step, or ``None`` for full batch.
      seed: the batch-order seed.
      order: each step's example indices, given explicitly (a replayed run: any
        sampler, batches of different sizes), which then decide the batches
        whatever ``batch_size`` and ``seed`` say; :data:`FROM_TRAJECTORY`: the
        spec leaves the order to the trajectory a check replays
        (:meth:`left_to_trajectory`); ``None``: generated from ``batch_size``
        and ``seed`` (full batch without ``batch_size``).
      last_batch: ``"drop"`` (every generated batch has ``batch_size`` examples:
        an epoch's remainder is dropped) or ``"keep"`` (each epoch ends with the
        remainder as a short batch, as ``torch.utils.data.DataLoader`` does by
        default); see :func:`functional_training.minibatch_indices`.
      model: the model kind (a key of :data:`functional_training.MODEL_KINDS`).
      model_settings: the kind's configuration besides the data's feature count
        (``mlp``: ``{"sizes": (d, h_1, ..., k), "activation": "tanh"}``; ``{}`` for
        ``linear``), lists as tuples.
      loss, l2: the loss kind and ``alpha`` of the L2 penalty.
      reduction: how the run's loop holds its batch loss and gradient, one of
        :data:`functional_training.REDUCTIONS` (``"sum"``: sums over the batch,
        divided by ``batch_size`` in the step).
      schedule: ``{"kind": ..., **optax parameters}`` or ``None``.
      init_kind: how ``init`` was given: ``"explicit"`` (values), ``"zeros"``,
        ``"seeded"`` or ``"trajectory"`` (left to, or taken from, a trajectory's
        step 0); with ``init_seed``, the seed of ``"seeded"``. Provenance: not
        part of equality (``init`` holds the values either way).
      files: role (``"train"``, ``"validation"``) -> the data file's path as read
        (provenance: not part of equality, not serialised; the rows are the data).
    """

    name: str
    description: str
    train: Rows
    init: dict[str, float] | None
    optimizer: str
    hyperparams: dict[str, float]
    steps: int
    validation: Rows | None = None
    trainable: tuple[str, ...] = ("w", "b")
    batch_size: int | None = None
    seed: int = 0
    model: str = DEFAULT_MODEL
    model_settings: dict = field(default_factory=dict)
    loss: str = DEFAULT_LOSS
    l2: float = 0.0
    reduction: str = "mean"
    schedule: dict | None = None
    init_kind: str = field(default="explicit", compare=False)
    init_seed: int = field(default=0, compare=False)
    files: dict[str, str] = field(default_factory=dict, compare=False)
    order: tuple[tuple[int, ...], ...] | str | None = None
    last_batch: str = "drop"

    @classmethod
    def of(cls: type[_Spec], spec: RunSpec, **more: Any) -> _Spec:
        """``spec``'s run description as a ``cls`` (a subclass adding fields), plus ``more``.

        Example:
          >>> spec = RunSpec("one", "", ((2.0, 6.0),), {"w": 1.0, "b": 0.0}, "sgd",
          ...                {"learning_rate": 0.1}, 1)
          >>> RunSpec.of(spec) == spec
          True
        """
        return cls(**{f.name: getattr(spec, f.name) for f in dataclasses.fields(RunSpec)}, **more)

    @classmethod
    def from_arrays(cls: type[_Spec], x: np.ndarray, y: np.ndarray, x_val: np.ndarray | None = None,
                    y_val: np.ndarray | None = None, **fields: Any) -> _Spec:
        """A run description on data given as arrays (``x (n, d)``, ``y (n,)``), plus ``fields``.

        The rows are made from the arrays, and the arrays are kept as :attr:`x`,
        :attr:`y`, :attr:`x_val`, :attr:`y_val` (no conversion back).

        Example:
          >>> spec = RunSpec.from_arrays(np.array([[1.0]]), np.array([3.0]), name="one",
          ...                            description="", init={"w": 0.0, "b": 0.0},
          ...                            optimizer="sgd", hyperparams={"learning_rate": 0.1},
          ...                            steps=1)
          >>> spec.train, spec.x.shape
          (((1.0, 3.0),), (1, 1))
        """
        x = np.asarray(x, np.float64).reshape(len(y), -1)
        y = np.asarray(y, np.float64)
        if x_val is not None:
            x_val = np.asarray(x_val, np.float64).reshape(len(y_val), -1)
            y_val = np.asarray(y_val, np.float64)
        spec = cls(train=rows_of(x, y), validation=rows_of(x_val, y_val), **fields)
        spec.__dict__.update(x=x, y=y, x_val=x_val, y_val=y_val)  # the cached arrays
        return spec

    # --- what a check fills in from the trajectory ----------------------------------

    def left_to_trajectory(self) -> tuple[str, ...]:
        """What the spec leaves to a trajectory: ``"initial values"``, ``"batches"`` (or nothing).

        Such a run cannot run on its own; ``comparisons check`` fills them from the
        trajectory it checks (:meth:`replaying`).

        Example:
          >>> spec = RunSpec("one", "", ((2.0, 6.0),), None, "sgd", {"learning_rate": 0.1}, 1,
          ...                order=FROM_TRAJECTORY)
          >>> spec.left_to_trajectory()
          ('initial values', 'batches')
        """
        return tuple(what for what, missing in (("initial values", self.init is None),
                                                ("batches", self.order == FROM_TRAJECTORY))
                     if missing)

    def replaying(self: _Spec, *, init: dict[str, float] | None = None,
                  order=None) -> _Spec:
        """This run starting from ``init`` and/or stepping through ``order`` (given ones only).

        ``order`` is each step's example indices (rows of any lengths).

        Example:
          >>> spec = RunSpec("one", "", ((2.0, 6.0), (1.0, 3.0)), None, "sgd",
          ...                {"learning_rate": 0.1}, 2)
          >>> again = spec.replaying(init={"w": 1.0, "b": 0.0}, order=[[1], [0, 1]])
          >>> again.init, again.order, again.left_to_trajectory()
          ({'w': 1.0, 'b': 0.0}, ((1,), (0, 1)), ())
        """
        changes: dict[str, Any] = {}
        if init is not None:
            changes.update(init={name: float(init[name]) for name in init},
                           init_kind=FROM_TRAJECTORY)
        if order is not None:
            changes["order"] = tuple(tuple(int(i) for i in row) for row in order)
        return dataclasses.replace(self, **changes)

    # --- the data -------------------------------------------------------------------

    @property
    def features(self) -> int:
        """``d``, the features per example (1 when there are no rows)."""
        return len(self.train[0]) - 1 if self.train else 1

    @cached_property
    def x(self) -> np.ndarray:
        """Training features, float64 ``(n, d)`` (2-D also for ``d = 1``)."""
        return _features(self.train, self.features)

    @cached_property
    def y(self) -> np.ndarray:
        """Training targets, float64 ``(n,)``."""
        return _targets(self.train)

    @cached_property
    def x_val(self) -> np.ndarray | None:
        """Validation features like :attr:`x`, or ``None``."""
        return None if self.validation is None else _features(self.validation, self.features)

    @cached_property
    def y_val(self) -> np.ndarray | None:
        """Validation targets like :attr:`y`, or ``None``."""
        return None if self.validation is None else _targets(self.validation)

    @property
    def x_rows(self) -> list[tuple[float, ...]]:
        """The training features, one tuple of ``d`` values per example."""
        return [tuple(row[:-1]) for row in self.train]

    @property
    def xs(self) -> list[float]:
        """The training feature of a one-feature run (the lesson's ``x``)."""
        if self.features != 1:
            raise ValueError(f"{self.name} has {self.features} features; use x_rows")
        return [row[0] for row in self.train]

    @property
    def ys(self) -> list[float]:
        """The training targets."""
        return [row[-1] for row in self.train]

    # --- the model and the objective -----------------------------------------------

    @property
    def model_config(self) -> dict[str, Any]:
        """The kind's full configuration (``{"features": d}`` for ``linear``).

        Kinds whose configuration names ``features`` take it from the data; the
        rest is :attr:`model_settings`.
        """
        config = dict(self.model_settings)
        if "features" in MODEL_KINDS[self.model].config_keys:
            config["features"] = self.features
        return config

    @property
    def leaves(self) -> tuple[str, ...]:
        """Every parameter leaf of the model, in the kind's order."""
        return tuple(model_kind(self.model).shapes(**self.model_config))

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The scalar parameter names of the contract, in the model kind's order."""
        return parameter_names(self.model, **self.model_config)

    @property
    def outputs(self) -> int:
        """The model's outputs ``k`` per example, as its kind states them."""
        return model_kind(self.model).outputs(**self.model_config)

    @property
    def classifies(self) -> bool:
        """Whether the loss is a classification loss (accuracy is recorded)."""
        return loss_kind(self.loss).classifies

    @property
    def learning_rate(self) -> float:
        """The constant learning rate (0 when there is none: a schedule, or no optimizer)."""
        return float(self.hyperparams.get("learning_rate", 0.0))

    def objective(self) -> Objective:
        """What the run minimises: :func:`functional_training.objective` of the run."""
        return objective(self.model, loss=self.loss, l2=self.l2, **self.model_config)


def _features(rows: Rows, features: int) -> np.ndarray:
    return np.asarray([row[:-1] for row in rows], dtype=np.float64).reshape(len(rows), features)


def _targets(rows: Rows) -> np.ndarray:
    return np.asarray([row[-1] for row in rows], dtype=np.float64).reshape(len(rows))


def rows_of(x: np.ndarray | None, y: np.ndarray | None) -> Rows | None:
    """Rows ``(x_1, ..., x_d, target)`` of Python floats (``None`` for no data).

    Example:
      >>> rows_of(np.array([[1.0], [2.0]]), np.array([3.0, 5.0]))
      ((1.0, 3.0), (2.0, 5.0))
    """
    if x is None:
        return None
    return tuple(tuple(row) for row in np.column_stack([x, y]).tolist())
