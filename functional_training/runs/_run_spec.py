"""The run description: one training run as plain values (:class:`RunSpec`).

Read from a spec file by :func:`functional_training.runs.parse_run_spec`;
``comparisons``' experiments are built on it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from functional_training._models import MODEL_KINDS, model_kind
from functional_training._objective import Objective, objective


class RunSpec(NamedTuple):
    """One spec file's run as plain values (every default filled in).

    Attributes:
      name, description: the spec's ``name`` and one-line ``description``.
      x: training features, float64 ``(n, d)`` (2-D also for ``d = 1``).
      y: training targets, float64 ``(n,)``.
      x_val, y_val: the validation set (same widths), or ``None``.
      model: the model kind (a key of :data:`functional_training.MODEL_KINDS`).
      model_settings: the kind's configuration besides the data's feature count
        (``mlp``: ``{"sizes": (d, h_1, ..., k), "activation": "tanh"}``; ``{}`` for
        ``linear``), lists as tuples.
      init: initial values by scalar parameter name (the naming rule's order).
      init_kind: how ``init`` was given: ``"explicit"`` (``w``/``b`` or
        ``[[model.layers]]`` values), ``"zeros"`` or ``"seeded"``.
      init_seed: the seed of ``"seeded"`` (0 otherwise).
      trainable: the parameter leaves the optimizer moves, in the kind's order.
      loss, l2: the loss kind and ``alpha`` of the L2 penalty.
      optimizer: the optimizer's name.
      hyperparams: every optimizer setting, defaults filled in; ``learning_rate``
        included unless there is a schedule.
      schedule: ``{"kind": ..., **optax parameters}`` or ``None``.
      steps: ``S``.
      batch_size: examples per step, or ``None`` for full batch.
      seed: the batch-order seed (``[run].seed``, default 0).
      files: role (``"train"``, ``"validation"``) -> the data file's path as read.
    """

    name: str
    description: str
    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    model: str
    model_settings: dict[str, Any]
    init: dict[str, float]
    init_kind: str
    init_seed: int
    trainable: tuple[str, ...]
    loss: str
    l2: float
    optimizer: str
    hyperparams: dict[str, float]
    schedule: dict | None
    steps: int
    batch_size: int | None
    seed: int
    files: dict[str, str]

    @property
    def features(self) -> int:
        """``d``, the features per example."""
        return int(self.x.shape[1])

    @property
    def model_config(self) -> dict[str, Any]:
        """The kind's full configuration (``{"features": d}`` for ``linear``)."""
        config = dict(self.model_settings)
        if "features" in MODEL_KINDS[self.model].config_keys:
            config["features"] = self.features
        return config

    @property
    def leaves(self) -> tuple[str, ...]:
        """Every parameter leaf of the model, in the kind's order."""
        return tuple(model_kind(self.model).shapes(**self.model_config))

    def objective(self) -> Objective:
        """What the run minimises: :func:`functional_training.objective` of the spec."""
        return objective(self.model, loss=self.loss, l2=self.l2, **self.model_config)


def rows_of(x: np.ndarray | None, y: np.ndarray | None) -> tuple[tuple[float, ...], ...] | None:
    """Rows ``(x_1, ..., x_d, target)`` of Python floats (``None`` for no data).

    Example:
      >>> rows_of(np.array([[1.0], [2.0]]), np.array([3.0, 5.0]))
      ((1.0, 3.0), (2.0, 5.0))
    """
    if x is None:
        return None
    return tuple(tuple(row) for row in np.column_stack([x, y]).tolist())
