"""Classifier grids: a trained classifier's outputs on a grid, and its examples, verified.

A decision-region figure draws the trained model's outputs on a grid of two
features. They are computed from the verified final parameters with the
hand-written forward (:func:`comparisons.models.model_pieces`, Python floats:
the same bits on every machine) and recomputed at every grid point by the JAX
:class:`functional_training.Objective`, which must agree within the
verification tolerance (:class:`Forward`). The forward must also reproduce the
outputs the trajectory recorded at the training examples, and the share of
examples on their own class's side must equal the recorded
``train_accuracy``/``val_accuracy`` exactly (:func:`classifier_points`).
Anything else is refused with
:class:`~comparisons.figures.verified.UnverifiedTrajectoryError`.

The grid's ends are round numbers just outside the examples
(:func:`grid_bounds`), its coordinates plain float arithmetic
(:func:`grid_axis`), its cells square where the features' ranges allow
(:func:`grid_axes`).

Example:
  >>> grid_bounds([0.1, 4.8]), grid_axis(0.0, 5.0, 4)
  ((0.0, 5.0), [0.0, 1.25, 2.5, 3.75, 5.0])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

import functional_training as ft
from comparisons.experiments import Experiment
from comparisons.figures.verified import UnverifiedTrajectoryError, require_close
from comparisons.losses import loss_pieces
from comparisons.models import model_pieces
from functional_training import TrajectoryRecord

__all__ = [
    "Forward",
    "class_values",
    "classifier_points",
    "final_values",
    "grid_axes",
    "grid_axis",
    "grid_bounds",
    "region_grid",
    "regions",
]


def final_values(trajectory: TrajectoryRecord) -> dict[str, float]:
    """Every parameter's value after the last update, ``{name: params[name][S]}``."""
    return {name: values[-1] for name, values in trajectory.params.items()}


def class_values(experiment: Experiment) -> list[float]:
    """The classes of a classifier in its targets' coding, negative class first.

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> class_values(REGISTRY["mlp/moons"]), class_values(REGISTRY["softmax/delay-class"])
      ([-1.0, 1.0], [0.0, 1.0, 2.0])
    """
    targets = ft.LOSS_KINDS[experiment.loss].targets
    if targets == "sign":
        return [-1.0, 1.0]
    if targets == "binary":
        return [0.0, 1.0]
    return [float(c) for c in range(experiment.outputs)]


def _nice_unit(span: float) -> float:
    """Half a power of ten no bigger than ``span`` (``4.7 -> 0.5``), the grid's rounding unit."""
    if not span > 0.0:
        return 1.0
    return 10.0 ** math.floor(math.log10(span)) / 2


def grid_bounds(values: Sequence[float]) -> tuple[float, float]:
    """Round ends covering ``values``: their extremes widened by 2% of their span, rounded out.

    The rounding unit is :func:`_nice_unit` of the span (``4.7 -> 0.5``).

    Example:
      >>> grid_bounds([0.1, 4.8]), grid_bounds([-1.13, 2.09])
      ((0.0, 5.0), (-1.5, 2.5))
    """
    low, high = min(values), max(values)
    unit = _nice_unit(high - low)
    pad = 0.02 * (high - low)
    lo = math.floor((low - pad) / unit) * unit
    hi = math.ceil((high + pad) / unit) * unit
    return (lo - unit, hi + unit) if hi <= lo else (lo, hi)


def grid_axis(lo: float, hi: float, cells: int) -> list[float]:
    """``cells + 1`` evenly spaced coordinates from ``lo`` to ``hi``.

    Each is ``lo + (hi - lo) i / cells`` in plain float arithmetic: the same bits
    on every machine.

    Example:
      >>> grid_axis(0.0, 5.0, 4)
      [0.0, 1.25, 2.5, 3.75, 5.0]
    """
    return [lo + (hi - lo) * i / cells for i in range(cells + 1)]


def grid_axes(points: Sequence[Sequence[float]], cells: int) -> tuple[list, list]:
    """Both features' grid coordinates: ``cells`` along the wider range, square cells if it can."""
    (x_lo, x_hi), (y_lo, y_hi) = (grid_bounds([p[i] for p in points]) for i in (0, 1))
    wide = max(x_hi - x_lo, y_hi - y_lo)
    return (grid_axis(x_lo, x_hi, max(4, round(cells * (x_hi - x_lo) / wide))),
            grid_axis(y_lo, y_hi, max(4, round(cells * (y_hi - y_lo) / wide))))


class Forward:
    """The trained model's outputs at any inputs: the manual forward, cross-checked with JAX.

    The manual forward (:func:`comparisons.models.model_pieces`, Python floats) gives
    the same bits on every machine, so the committed grids do too; the JAX
    :class:`functional_training.Objective` computes every point again, and each
    output must agree within the verification tolerance.
    """

    def __init__(self, experiment: Experiment, values: Mapping[str, float]) -> None:
        self.experiment = experiment
        self.values = dict(values)
        self.config = experiment.model_config
        self.model = model_pieces(experiment.model)
        self.objective = ft.objective(experiment.model, loss=experiment.loss, l2=experiment.l2,
                                      **self.config)

    def __call__(self, inputs: Sequence[Sequence[float]], *, figure: str, what: str,
                 tol: float) -> list:
        """The outputs at ``inputs`` (a float, or ``k`` logits, each); refuses a disagreement."""
        manual = [self.model.manual_predict(self.values, list(x), **self.config) for x in inputs]
        with ft.float64():
            params = ft.params_from_values(self.experiment.model, self.values, **self.config)
            checked = np.asarray(self.objective.outputs(params, np.asarray(inputs,
                                                                           dtype=np.float64)))
        for x, ours, theirs in zip(inputs, manual, checked.tolist(), strict=True):
            pairs = zip(ours, theirs, strict=True) if isinstance(ours, list) else [(ours, theirs)]
            for expected, actual in pairs:
                require_close(figure, f"the JAX objective's output {what} at "
                               f"{tuple(float(v) for v in x)}", expected, actual, tol)
        return manual


def _examples(experiment: Experiment, rows, outputs: Sequence, features: tuple[int, int]) -> dict:
    """The examples as a region figure draws them: two features, target, predicted class."""
    label = loss_pieces(experiment.loss).manual_label
    return {
        "x": [row[features[0]] for row in rows],
        "y": [row[features[1]] for row in rows],
        "label": [row[-1] for row in rows],
        "predicted": [label(out) for out in outputs],
    }


def _accuracy(points: Mapping) -> float:
    right = sum(p == t for p, t in zip(points["predicted"], points["label"], strict=True))
    return right / len(points["label"])


def _recorded_outputs(experiment: Experiment, trajectory: TrajectoryRecord) -> list:
    """The final outputs at the training examples, as the verified trajectory recorded them."""
    flat = trajectory.predictions[-1]
    k = experiment.outputs
    return flat if k == 1 else [flat[i:i + k] for i in range(0, len(flat), k)]


def classifier_points(figure: str, experiment: Experiment, trajectory: TrajectoryRecord,
                      forward: Forward, tol: float, *,
                      features: tuple[int, int] = (0, 1)) -> tuple[dict, dict | None]:
    """Training and validation examples with the trained model's class for each, verified.

    The training examples' classes come from the outputs the verified trajectory
    recorded after the last update (``predictions[S]``), which the figure's forward
    must reproduce; the validation examples' from the forward. Each set's fraction
    of right answers must equal the recorded ``train_accuracy[S]`` /
    ``val_accuracy[S]`` exactly (both count the same examples).

    Raises:
      UnverifiedTrajectoryError: a recomputed output or accuracy differs.
    """
    recorded = _recorded_outputs(experiment, trajectory)
    ours = forward(experiment.x_rows, figure=figure, what="at a training example", tol=tol)
    for expected, actual in zip(recorded, ours, strict=True):
        pairs = (zip(expected, actual, strict=True) if isinstance(expected, list)
                 else [(expected, actual)])
        for e, a in pairs:
            require_close(figure, "the forward's output at a training example", e, a, tol)
    train = _examples(experiment, experiment.train, recorded, features)
    checks = [("train_accuracy", train)]
    validation = None
    if experiment.validation is not None:
        outputs = forward([row[:-1] for row in experiment.validation], figure=figure,
                          what="at a validation example", tol=tol)
        validation = _examples(experiment, experiment.validation, outputs, features)
        checks.append(("val_accuracy", validation))
    for key, points in checks:
        recorded_accuracy = trajectory.extras[key][-1]
        if _accuracy(points) != recorded_accuracy:
            raise UnverifiedTrajectoryError(
                f"refusing to draw {figure}: {_accuracy(points)!r} of the examples are on the "
                f"right side, but the verified {key} is {recorded_accuracy!r}")
    return train, validation


def region_grid(figure: str, forward: Forward, xs: Sequence[float], ys: Sequence[float],
                tol: float, *, features: tuple[int, int] = (0, 1),
                fixed: Mapping[int, float] | None = None) -> list:
    """The trained model's outputs on the grid: ``grid[j][i]`` at ``(xs[i], ys[j])``.

    Args:
      figure: the figure's name (for a refusal).
      forward: the trained model (manual forward, every point checked against JAX).
      xs, ys: the coordinates of the two drawn features.
      tol: the verification tolerance the JAX outputs must meet.
      features: the indices of the drawn features among the model's inputs.
      fixed: every other feature's index -> the value it is held at.
    """
    fixed = dict(fixed or {})
    width = len(features) + len(fixed)

    def point(x: float, y: float) -> list[float]:
        row = [0.0] * width
        row[features[0]], row[features[1]] = x, y
        for index, value in fixed.items():
            row[index] = value
        return row

    inputs = [point(x, y) for y in ys for x in xs]
    outputs = forward(inputs, figure=figure, what="on the grid", tol=tol)
    return [outputs[j * len(xs):(j + 1) * len(xs)] for j in range(len(ys))]


def regions(figure: str, experiment: Experiment, trajectory: TrajectoryRecord, tol: float, *,
             cells: int, class_names: Sequence[str], x_label: str, y_label: str,
             equal_aspect: bool = False) -> dict:
    """Everything :func:`comparisons.plots.plot_decision_regions` draws for a 2-feature model."""
    forward = Forward(experiment, final_values(trajectory))
    train, validation = classifier_points(figure, experiment, trajectory, forward, tol)
    everything = [row[:2] for row in (*experiment.train, *(experiment.validation or ()))]
    xs, ys = grid_axes(everything, cells)
    return {
        "xs": xs, "ys": ys, "outputs": region_grid(figure, forward, xs, ys, tol),
        "classes": class_values(experiment), "class_names": list(class_names),
        "train": train, "validation": validation, "x_label": x_label, "y_label": y_label,
        "probability_levels": [0.1, 0.9] if experiment.loss == "binary-cross-entropy" else [],
        "equal_aspect": equal_aspect,
    }

