"""The trajectory every backend returns: the contract of DESIGN.md as plain Python data.

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
- ``extras[key]``: experiment-specific recorded series (e.g. finite-difference
  gradients of the gradient-check experiment), compared like every other quantity.

Values are Python floats (float64); non-finite values are data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Trajectory:
    """One backend's record of one experiment (see the module docstring)."""

    params: dict[str, list[float]]
    grads: dict[str, list[float]]
    batch_loss: list[float]
    train_loss: list[float]
    val_loss: list[float] | None = None
    predictions: list[list[float]] | None = None
    batches: list[list[int]] | None = None
    extras: dict[str, list[float]] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        """Number of optimizer steps ``S``."""
        return len(self.batch_loss)

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
        """First step k where any recorded value is inf or NaN, else ``None``."""
        first = None
        for _, values in self.series():
            for k, value in enumerate(values):
                if not all(math.isfinite(v) for v in _flat(value)):
                    first = k if first is None else min(first, k)
                    break
        return first

    @property
    def grad_norm(self) -> list[float]:
        """Global gradient norm per step, ``sqrt(sum over params of g^2)`` (overflow-safe)."""
        return [math.hypot(*(g[k] for g in self.grads.values())) for k in range(self.steps)]

    def check_lengths(self) -> None:
        """Raise ``ValueError`` unless every series has the contract's length."""
        s = self.steps
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
        }

    @classmethod
    def from_json(cls, data: dict) -> Trajectory:
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
        )


def _flat(value) -> Iterable[float]:
    return value if isinstance(value, list) else (value,)


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
