"""Course figures, rendered only from trajectories the comparison suite has just verified.

Every figure's data comes from :func:`comparisons.compare.run_and_compare`
(every available backend against the ``manual`` reference, float64); if any
backend disagrees, rendering refuses with :class:`UnverifiedTrajectoryError`
naming the experiment and the first mismatch, before any file is written. The
learning-rate sweep comes from one vmapped call of
:func:`functional_training.sweep_learning_rates`, checked step by step against
the verified ``learning-rates/*`` trajectories at the lesson's three rates; its
final losses are stored exactly (closed form in rational arithmetic, checked
against the sweep), so the committed data has the same bits on every machine.

The classifier figures (``moons-*``, ``logistic-boundary``, ``softmax-regions``)
draw a grid of the trained model's outputs computed from the verified final
parameters with the hand-written forward (Python floats: the same bits on every
machine) and recomputed at every grid point by the JAX
:class:`functional_training.Objective`, which must agree within the verification
tolerance; the forward must also reproduce the outputs the trajectory recorded
at the training examples, and the share of examples on their own class's side
must equal the recorded ``train_accuracy``/``val_accuracy`` exactly. The softmax
model has three features; its regions are drawn in three panels over
disruption and distance, each holding the weight at the mean of a third of the
training shipments (one slice at the mean weight would put many shipments in
regions their own weight does not give them).

A user's spec (``figures --spec FILE``, :func:`render_spec`) is verified the same
way, then drawn as :data:`SPEC_FIGURES`: loss per update, parameter paths (norms
per leaf beyond :data:`MAX_PARAMETER_PATHS`) and, for a classifier of exactly two
features, its decision regions.

Outputs in ``DIR`` (default ``figures/``): ``<name>.png`` (1920 px wide) and
``<name>.svg`` per figure, ``README.md`` (captions and alt text) and
:data:`DATA_FILE`, the exact data each figure drew (tests compare it with a
fresh render). Every file is written atomically.

Examples:
  python -m comparisons figures                       # every figure into figures/
  python -m comparisons figures --out /tmp/figs --format svg
  python -m comparisons figures --spec examples/logistic-inline.toml   # logistic-inline-figures/
  python -m comparisons all                           # the full suite, figures included

Example:
  >>> parse_formats("svg, png")
  ('svg', 'png')
  >>> parse_formats("pdf")
  Traceback (most recent call last):
  ...
  ValueError: unknown figure format 'pdf'; choose from png, svg
"""

from __future__ import annotations

import argparse
import decimal
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

import functional_training as ft
import functional_training.runs as ft_runs
from comparisons import figure_style as style
from comparisons import plots
from comparisons.compare import ExperimentVerdict, run_and_compare, values_agree
from comparisons.engine import Value, to_dot
from comparisons.experiments import REGISTRY, Experiment
from comparisons.least_squares import least_squares_line
from comparisons.losses import loss_pieces
from comparisons.models import model_pieces
from functional_training import TrajectoryRecord, json_float

__all__ = [
    "DATA_FILE",
    "DEFAULT_OUT",
    "FIGURES",
    "FIGURE_NAMES",
    "LESSON_RATES",
    "MAX_PARAMETER_PATHS",
    "README_FILE",
    "SPEC_FIGURES",
    "SWEEP_RATES",
    "SWEEP_STEPS",
    "FigureSpec",
    "UnverifiedTrajectoryError",
    "VerifiedRuns",
    "add_figure_arguments",
    "check_output_directory",
    "class_values",
    "data_json",
    "draw_figure",
    "draws_regions",
    "figure_data",
    "final_values",
    "grid_axis",
    "grid_bounds",
    "output_directory",
    "parse_formats",
    "readme_text",
    "render_all",
    "render_spec",
    "rendered_with",
    "spec_figure_data",
    "spec_output_directory",
    "verified_runs",
    "verify_experiment",
    "weight_slices",
    "write_figures",
    "write_spec_figures",
]

DEFAULT_OUT = Path("figures")
DATA_FILE = "figure-data.json"
README_FILE = "README.md"
LESSON_RATES = ("learning-rates/lr=0.01", "learning-rates/lr=0.1", "learning-rates/lr=0.5")

SWEEP_STEPS = 100
"""Updates per rate in the sweep: enough for growth by ``|1 - lr lambda_max|^(2S)`` to overflow."""

SWEEP_CHECK_RTOL = 1e-9
"""How close the sweep's final loss must be to the exact one at every rate. Where the
error after S updates is not tiny, forming ``2 w + b - 6`` rounds it by ~1e-15 of
itself and S = 100 updates add ~100 ulps; 1e-9 (rtol = atol) leaves room for both."""


def log_spaced(start_exponent: int, stop_exponent: float, count: int) -> np.ndarray:
    """``count`` rates ``10 ** e``, ``e`` evenly spaced, each the same bits on every machine.

    Computed in 40-digit decimal arithmetic and rounded once to float64.
    ``np.geomspace`` calls the CPU's ``pow``, whose last bit differs between
    machines (SIMD and FMA variants), and the rates are stored in the
    committed figure data.

    Example:
      >>> log_spaced(-3, 1.5, 1201)[[0, 800, 1200]].tolist()
      [0.001, 1.0, 31.622776601683793]
    """
    with decimal.localcontext() as context:
        context.prec = 40
        start, stop = decimal.Decimal(start_exponent), decimal.Decimal(stop_exponent)
        return np.array([float(decimal.Decimal(10) ** (start + (stop - start) * i / (count - 1)))
                         for i in range(count)])


SWEEP_RATES = log_spaced(-3, 1.5, 1201)
"""1,201 log-spaced rates from 0.001 to 31.6 (the lesson's three rates are added to these)."""


class UnverifiedTrajectoryError(RuntimeError):
    """A figure's data did not pass verification (names the experiment and the mismatch)."""


# ------------------------------------------------------------------ verified data


def verified_runs(
    name: str, *, backends: Sequence[str] | None = None
) -> tuple[dict[str, TrajectoryRecord], ExperimentVerdict]:
    """Run registry experiment ``name`` on every backend and return its trajectories if they agree.

    Raises:
      UnverifiedTrajectoryError: a backend disagrees with the reference.
    """
    return verify_experiment(REGISTRY[name], backends=backends)


def _require_close(figure: str, what: str, expected: float, actual: float, tol: float) -> None:
    ok, _ = values_agree(float(expected), float(actual), tol)
    if not ok:
        raise UnverifiedTrajectoryError(
            f"refusing to draw {figure}: {what} is {actual!r} but the verified value is "
            f"{expected!r} (tolerance {tol:g})"
        )


def _passes(zero_grad: Sequence[bool]) -> list[str]:
    ordinal = {1: "1st", 2: "2nd", 3: "3rd"}
    labels = []
    for k, cleared in enumerate(zero_grad):
        what = "buffer not cleared" if not cleared else (
            "buffer cleared" if k == 0 else "cleared again")
        labels.append(f"{ordinal.get(k + 1, f'{k + 1}th')} backward\n({what})")
    return labels


def _loss_formula(experiment: Experiment) -> str:
    """The one-example loss as a reader writes it, e.g. ``0.5 (2w − 6)²``.

    Example:
      >>> _loss_formula(REGISTRY["gradient-accumulation"])
      '0.5 (2w − 6)²'
      >>> _loss_formula(REGISTRY["five-steps"])
      '0.5 (2w + b − 6)²'
    """
    (x, y), = experiment.train
    bias = " + b" if "b" in experiment.trainable else ""
    return f"0.5 ({x:g}w{bias} − {y:g})²"


def _least_squares(experiment: Experiment) -> tuple[float, float]:
    """The line the run converges to, exactly (the same bits on every machine)."""
    return least_squares_line(experiment.xs, experiment.ys)


def _engine_graph(experiment: Experiment) -> tuple[list[dict], list[list[int]], dict]:
    """The lesson's loss built with the scalar engine, as nodes and edges read from ``to_dot``.

    Subtraction is written as the engine defines it, ``a + (-b)``, so its
    negation node can be named. Structure and operation labels come from
    :func:`comparisons.engine.to_dot`; data and gradients from the Values.
    """
    (x_value, y_value), = experiment.train
    x, target = Value(x_value), Value(y_value)
    w, b = Value(experiment.init["w"]), Value(experiment.init["b"])
    product = w * x
    prediction = product + b
    negated = -target
    error = prediction + negated
    square = error**2
    loss = 0.5 * square
    loss.backward()
    roles = {x: "x", w: "w", b: "b", target: "target", product: "w·x",
             prediction: "prediction", negated: "−target", error: "error", square: "error²",
             loss: "loss"}
    kinds = {w: "parameter", b: "parameter", x: "data", target: "data", loss: "loss"}
    by_role = {role: value for value, role in roles.items()}
    node_line = re.compile(r'^\s*n(\d+) \[label="\{(.*) \| data \S+ \| grad \S+\}"\];$')
    edge_line = re.compile(r"^\s*n(\d+) -> n(\d+);$")

    def parse(dot: str) -> tuple[dict[int, str], list[list[int]]]:
        titles, edges = {}, []
        for line in dot.splitlines():
            if match := node_line.match(line):
                titles[int(match[1])] = re.sub(r"\\(.)", r"\1", match[2])
            elif match := edge_line.match(line):
                edges.append([int(match[1]), int(match[2])])
        return titles, edges

    role_titles, edges = parse(to_dot(loss, names=roles))
    op_titles, _ = parse(to_dot(loss))
    nodes = []
    for i in sorted(role_titles):
        value = by_role[role_titles[i]]
        nodes.append({
            "id": i, "label": role_titles[i], "op": "" if op_titles[i] == "leaf" else op_titles[i],
            "kind": kinds.get(value, "operation"), "data": value.data, "grad": value.grad,
        })
    values = {"loss": loss.data, "prediction": prediction.data, "w.grad": w.grad,
              "b.grad": b.grad}
    return nodes, edges, values


def _lr_sweep_data(reference_runs: Sequence[TrajectoryRecord]) -> dict:
    """The sweep over :data:`SWEEP_RATES` plus the lesson's rates, checked against their runs.

    Args:
      reference_runs: the verified reference trajectories of :data:`LESSON_RATES`, in order.
    """
    one = REGISTRY[LESSON_RATES[0]]
    lesson_rates = [REGISTRY[n].learning_rate for n in LESSON_RATES]
    with ft.float64():
        sweep = ft.sweep_learning_rates(
            ft.LinearParams(one.init["w"], one.init["b"]), one.xs, one.ys,
            np.union1d(SWEEP_RATES, lesson_rates), steps=SWEEP_STEPS,
        )
    tol = ft.tolerance("float64", SWEEP_STEPS)
    for rate, trajectory in zip(lesson_rates, reference_runs, strict=True):
        row = sweep.losses[int(np.flatnonzero(sweep.learning_rates == rate)[0])]
        for k, expected in enumerate(trajectory.train_loss):
            _require_close("lr-sweep", f"the sweep's loss at lr={rate:g}, step {k}",
                           expected, row[k], tol)
    return {
        "learning_rates": [float(r) for r in sweep.learning_rates],
        "final_loss": _exact_final_losses(one, sweep),
        "first_nonfinite_step": [None if s < 0 else int(s) for s in sweep.first_nonfinite_step],
        "steps": SWEEP_STEPS,
        "initial_loss": reference_runs[0].train_loss[0],
        "stability_limit": _exact_stability_limit(one),
        "divergence_rate": ft.observed_divergence(
            sweep.learning_rates, sweep.losses, sweep.first_nonfinite_step),
        "lesson_rates": lesson_rates,
    }


def _exact_stability_limit(experiment: Experiment) -> float:
    """``2 / lambda_max`` for one example ``(x, y)``: ``H = [[x^2, x], [x, 1]]``, top ``x^2 + 1``.

    Exact and rounded once (LAPACK's eigenvalue can differ in the last bit between
    CPUs), checked against :func:`functional_training.stability_limit`.
    """
    ((x, y),) = experiment.train
    limit = float(2 / (Fraction(x) ** 2 + 1))
    _require_close("lr-sweep", "the stability limit", limit,
                   ft.stability_limit(experiment.xs, experiment.ys), ft.tolerance("float64", 0))
    return limit


def _exact_final_losses(experiment: Experiment, sweep) -> list[float]:
    """The loss after the sweep's updates at every rate, exact where the sweep's is finite.

    One example ``(x, y)``, full-batch SGD: the error ``e = w x + b - y`` is
    multiplied by ``1 - lr (x^2 + 1)`` at each update, so the loss after ``S``
    updates is ``0.5 e_0^2 (1 - lr (x^2 + 1))^(2 S)``. It is computed in exact
    rational arithmetic (``fractions``) from the float inputs and rounded once,
    so the committed figure data has the same bits on every machine, where the
    sweep's XLA arithmetic may differ in the last bit between CPUs. Each
    value is checked against the sweep's (:data:`SWEEP_CHECK_RTOL`); where the
    sweep overflowed (inf or NaN), its value is kept once the exact loss is
    past the overflow edge (``functional_training.overflow_edge``).

    Raises:
      UnverifiedTrajectoryError: the sweep and the closed form disagree somewhere.
    """
    ((x, y),) = experiment.train
    x, y = Fraction(x), Fraction(y)
    error = Fraction(experiment.init["w"]) * x + Fraction(experiment.init["b"]) - y
    edge = ft.overflow_edge("float64", 1)
    losses = []
    for rate, value in zip(sweep.learning_rates, sweep.final_loss, strict=True):
        exact = error * error / 2 * (1 - Fraction(float(rate)) * (x * x + 1)) ** (2 * sweep.steps)
        if not np.isfinite(value):
            if exact < edge:
                raise UnverifiedTrajectoryError(
                    f"refusing to draw lr-sweep: the sweep's final loss at lr={rate:g} is "
                    f"{value} but the exact loss is {float(exact)!r}")
            losses.append(float(value))
            continue
        loss = float(exact) if exact <= Fraction(np.finfo(np.float64).max) else math.inf
        _require_close("lr-sweep", f"the sweep's final loss at lr={rate:g}", loss, float(value),
                       SWEEP_CHECK_RTOL)
        losses.append(loss)
    return losses


def _autograd_graph_data(verified: TrajectoryRecord, tol: float) -> dict:
    """The engine's graph of the lesson's loss, checked against the verified scalar-autograd run."""
    nodes, edges, values = _engine_graph(REGISTRY["scalar-autograd"])
    checks = [("loss", verified.batch_loss[0]), ("w.grad", verified.grads["w"][0]),
              ("b.grad", verified.grads["b"][0])]
    if verified.predictions is not None:
        checks.append(("prediction", verified.predictions[0][0]))
    for what, expected in checks:
        _require_close("autograd-graph", f"the graph's {what}", expected, values[what], tol)
    return {"nodes": nodes, "edges": edges}


@dataclass(frozen=True)
class VerifiedRuns:
    """Trajectories that passed verification, by experiment and backend (what figures draw).

    Attributes:
      runs: experiment name -> backend -> trajectory; every backend agreed with the reference.
      reference: the backend the others were compared with (``manual``).
      backends: the backends every run has, in run order.
      tolerance: the largest tolerance any verdict used (rtol = atol, float64).
    """

    runs: Mapping[str, Mapping[str, TrajectoryRecord]]
    reference: str
    backends: tuple[str, ...]
    tolerance: float

    def ref(self, name: str) -> TrajectoryRecord:
        """The reference trajectory of experiment ``name``."""
        return self.runs[name][self.reference]


def _learning_rates_data(v: VerifiedRuns) -> dict:
    return {
        "reference": v.reference,
        "runs": [{"learning_rate": REGISTRY[n].learning_rate,
                  "losses": {b: v.runs[n][b].train_loss for b in v.backends}}
                 for n in LESSON_RATES],
    }


def _lr_trajectories_data(v: VerifiedRuns) -> dict:
    one = REGISTRY[LESSON_RATES[0]]
    return {
        "x": one.xs, "y": one.ys,
        "runs": [{"learning_rate": REGISTRY[n].learning_rate, "w": v.ref(n).params["w"],
                  "b": v.ref(n).params["b"], "losses": v.ref(n).train_loss}
                 for n in LESSON_RATES],
    }


def _full_batch_data(v: VerifiedRuns) -> dict:
    target_w, target_b = _least_squares(REGISTRY["full-batch"])
    run = v.ref("full-batch")
    return {"loss": run.train_loss, "w": run.params["w"], "b": run.params["b"],
            "target_w": target_w, "target_b": target_b}


def _accumulation_data(v: VerifiedRuns) -> dict:
    accumulation = REGISTRY["gradient-accumulation"]
    return {
        "passes": _passes(accumulation.zero_grad),
        "grads": {b: v.runs["gradient-accumulation"][b].grads["w"] for b in v.backends},
        "loss": f"{_loss_formula(accumulation)}, w = {accumulation.init['w']:g}",
    }


def _mini_batch_data(v: VerifiedRuns) -> dict:
    mini = REGISTRY["mini-batch"]
    return {"batch_loss": v.ref("mini-batch").batch_loss,
            "train_loss": v.ref("mini-batch").train_loss,
            "batch_size": mini.batch_size, "examples": len(mini.train)}


# ------------------------------------------------------------------ classifiers

MOONS = "mlp/moons"
LOGISTIC = "logistic/late-shipments"
SOFTMAX = "softmax/delay-class"
SHIPMENT_FEATURES = ("route-disruption score", "distance (100 km)", "weight (t)")
"""The shipped delivery files' features (columns disruption, distance_100km, weight_t)."""
DELAY_CLASSES = ("under 6 h", "6 to 8 h", "8 h or more")
"""The softmax lesson's classes 0, 1, 2 (:func:`comparisons.experiments.delay_class`)."""
REGION_CELLS = {MOONS: 80, LOGISTIC: 20, SOFTMAX: 20}
"""Grid cells along the longer feature of each decision-region figure (the other in
proportion). A linear model's outputs are linear between grid points, so a coarse grid
draws its lines exactly (softmax's margins bend only where a third class takes over);
the ReLU network's are piecewise linear, so 80 cells (of 0.05) follow its kinks."""
SPEC_REGION_CELLS = 60
"""Grid cells along the longer feature of a spec's decision regions."""


def final_values(trajectory: TrajectoryRecord) -> dict[str, float]:
    """Every parameter's value after the last update, ``{name: params[name][S]}``."""
    return {name: values[-1] for name, values in trajectory.params.items()}


def class_values(experiment: Experiment) -> list[float]:
    """The classes of a classifier in its targets' coding, negative class first.

    Example:
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


def _grid_axes(points: Sequence[Sequence[float]], cells: int) -> tuple[list, list]:
    """Both features' grid coordinates: ``cells`` along the wider range, square cells if it can."""
    (x_lo, x_hi), (y_lo, y_hi) = (grid_bounds([p[i] for p in points]) for i in (0, 1))
    wide = max(x_hi - x_lo, y_hi - y_lo)
    return (grid_axis(x_lo, x_hi, max(4, round(cells * (x_hi - x_lo) / wide))),
            grid_axis(y_lo, y_hi, max(4, round(cells * (y_hi - y_lo) / wide))))


class _Forward:
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
                _require_close(figure, f"the JAX objective's output {what} at "
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


def _classifier_points(figure: str, experiment: Experiment, trajectory: TrajectoryRecord,
                      forward: _Forward, tol: float, *,
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
            _require_close(figure, "the forward's output at a training example", e, a, tol)
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


def _region_grid(figure: str, forward: _Forward, xs: Sequence[float], ys: Sequence[float],
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


def _regions(figure: str, experiment: Experiment, trajectory: TrajectoryRecord, tol: float, *,
             cells: int, class_names: Sequence[str], x_label: str, y_label: str,
             equal_aspect: bool = False) -> dict:
    """Everything :func:`comparisons.plots.plot_decision_regions` draws for a 2-feature model."""
    forward = _Forward(experiment, final_values(trajectory))
    train, validation = _classifier_points(figure, experiment, trajectory, forward, tol)
    everything = [row[:2] for row in (*experiment.train, *(experiment.validation or ()))]
    xs, ys = _grid_axes(everything, cells)
    return {
        "xs": xs, "ys": ys, "outputs": _region_grid(figure, forward, xs, ys, tol),
        "classes": class_values(experiment), "class_names": list(class_names),
        "train": train, "validation": validation, "x_label": x_label, "y_label": y_label,
        "probability_levels": [0.1, 0.9] if experiment.loss == "binary-cross-entropy" else [],
        "equal_aspect": equal_aspect,
    }


def _moons_boundary_data(v: VerifiedRuns) -> dict:
    experiment = REGISTRY[MOONS]
    return {
        "regions": _regions("moons-decision-boundary", experiment, v.ref(MOONS), v.tolerance,
                            cells=REGION_CELLS[MOONS], class_names=("−1", "+1"),
                            x_label="x₁", y_label="x₂", equal_aspect=True),
        "steps": experiment.steps,
        "train_accuracy": v.ref(MOONS).extras["train_accuracy"][-1],
    }


def _moons_training_data(v: VerifiedRuns) -> dict:
    run = v.ref(MOONS)
    return {"train_loss": run.train_loss, "train_accuracy": run.extras["train_accuracy"],
            "learning_rate": run.extras["learning_rate"]}


def _logistic_data(v: VerifiedRuns) -> dict:
    experiment, run = REGISTRY[LOGISTIC], v.ref(LOGISTIC)
    return {
        "regions": _regions("logistic-boundary", experiment, run, v.tolerance,
                            cells=REGION_CELLS[LOGISTIC], class_names=("on time", "late"),
                            x_label=SHIPMENT_FEATURES[0], y_label=SHIPMENT_FEATURES[1]),
        "weights": final_values(run),
        "steps": experiment.steps,
        "train_accuracy": run.extras["train_accuracy"][-1],
        "val_accuracy": run.extras["val_accuracy"][-1],
    }


def weight_slices(weights: Sequence[float], panels: int) -> list[float]:
    """The held weight of each panel: the mean of each of ``panels`` equal groups by weight.

    The training weights, sorted, are cut into ``panels`` groups of (nearly)
    equal size; each panel holds the third feature at its group's mean.

    Example:
      >>> weight_slices([3.0, 1.0, 2.0, 6.0, 4.0, 5.0], 3)
      [1.5, 3.5, 5.5]
    """
    ordered = sorted(weights)
    bounds = [round(len(ordered) * p / panels) for p in range(panels + 1)]
    return [math.fsum(ordered[a:b]) / (b - a) for a, b in zip(bounds, bounds[1:], strict=False)]


def _nearest(value: float, slices: Sequence[float]) -> int:
    return min(range(len(slices)), key=lambda i: (abs(value - slices[i]), i))


def _softmax_data(v: VerifiedRuns) -> dict:
    figure, experiment, run = "softmax-regions", REGISTRY[SOFTMAX], v.ref(SOFTMAX)
    forward = _Forward(experiment, final_values(run))
    train, validation = _classifier_points(figure, experiment, run, forward, v.tolerance)
    rows = [*experiment.train, *(experiment.validation or ())]
    slices = weight_slices([row[2] for row in experiment.train], 3)
    xs, ys = _grid_axes([row[:2] for row in rows], REGION_CELLS[SOFTMAX])

    def shown(points: Mapping, source, panel: int) -> dict:
        keep = [i for i, row in enumerate(source) if _nearest(row[2], slices) == panel]
        return {key: [values[i] for i in keep] for key, values in points.items()}

    panels = []
    for p, held in enumerate(slices):
        weights = [row[2] for row in rows if _nearest(row[2], slices) == p]
        panels.append({
            "held": held, "shown_weights": [min(weights), max(weights)],
            "regions": {
                "xs": xs, "ys": ys,
                "outputs": _region_grid(figure, forward, xs, ys, v.tolerance, fixed={2: held}),
                "classes": class_values(experiment), "class_names": list(DELAY_CLASSES),
                "train": shown(train, experiment.train, p),
                "validation": shown(validation, experiment.validation, p),
                "x_label": SHIPMENT_FEATURES[0], "y_label": SHIPMENT_FEATURES[1],
                "probability_levels": [], "equal_aspect": False,
            },
        })
    return {
        "panels": panels, "steps": experiment.steps,
        "weights": [final_values(run)[f"layers.0.w[2,{c}]"] for c in range(experiment.outputs)],
        "train_accuracy": run.extras["train_accuracy"][-1],
        "val_accuracy": run.extras["val_accuracy"][-1],
    }


# ------------------------------------------------------------------ collecting


def verify_experiment(
    experiment: Experiment, *, backends: Sequence[str] | None = None
) -> tuple[dict[str, TrajectoryRecord], ExperimentVerdict]:
    """Run ``experiment`` (a registry entry or a user's spec) on every backend; refuse disagreement.

    Raises:
      UnverifiedTrajectoryError: a backend disagrees with the reference (one line
        naming the experiment and the first mismatch).
    """
    trajectories, verdict = run_and_compare(experiment, backends=backends)
    if not verdict.agree:
        # describe() starts with the experiment's name and names the first mismatch.
        raise UnverifiedTrajectoryError(
            f"refusing to draw unverified trajectories: {verdict.describe()}")
    return trajectories, verdict


def figure_data(*, backends: Sequence[str] | None = None,
                only: Sequence[str] | None = None) -> dict:
    """Verify every experiment the figures draw and collect exactly what each figure plots.

    Args:
      backends: backends to run (default: every backend; unavailable ones are skipped).
      only: figure names to collect (default :data:`FIGURE_NAMES`); only the
        experiments those figures draw are run.

    Returns:
      ``{"backends": [...], "reference": "manual", "tolerance": 1e-12,
      "figures": {name: what the figure's draw function takes}}``,
      JSON-ready (see :data:`DATA_FILE`).

    Raises:
      ValueError: an unknown figure name in ``only``.
      UnverifiedTrajectoryError: an experiment's backends disagree, or a
        figure's data does not match the verified trajectories.
    """
    chosen = FIGURE_NAMES if only is None else tuple(only)
    for name in chosen:
        if name not in FIGURES:
            raise ValueError(f"unknown figure {name!r}; known: {', '.join(FIGURE_NAMES)}")
    runs: dict[str, tuple[dict[str, TrajectoryRecord], ExperimentVerdict]] = {}
    for figure in chosen:
        for name in FIGURES[figure].experiments:
            if name not in runs:
                runs[name] = verified_runs(name, backends=backends)
    verdicts = [verdict for _, verdict in runs.values()]
    first = next(iter(runs.values()))[0]
    verified = VerifiedRuns(
        runs={name: trajectories for name, (trajectories, _) in runs.items()},
        reference=verdicts[0].reference,
        backends=tuple(n for n in first if all(n in t for t, _ in runs.values())),
        tolerance=max(verdict.tolerance for verdict in verdicts),
    )
    figures = {name: FIGURES[name].data(verified) for name in chosen}
    return {"backends": list(verified.backends), "reference": verified.reference,
            "tolerance": verified.tolerance, "figures": figures}


# ------------------------------------------------------------------ figures


@dataclass(frozen=True)
class FigureSpec:
    """One figure.

    Attributes:
      name: file stem, e.g. ``"learning-rates"``.
      title: the lesson's point, as the figure's title (may use the data: ``title(data)``).
      draw: ``draw(fig, data)``: makes the Axes and calls the figure's plot function.
      caption: ``caption(data, context)`` -> the README caption.
      alt: ``alt(data)`` -> the alt text (what a reader who cannot see it needs).
      experiments: the registry experiments whose verified runs the data comes from.
      data: ``data(verified)`` -> what ``draw`` takes, from :class:`VerifiedRuns`
        holding ``experiments`` (``None`` for a spec's figures, whose data
        :func:`spec_figure_data` collects).
    """

    name: str
    title: Callable[[Mapping], str]
    draw: Callable[[Figure, Mapping], None]
    caption: Callable[[Mapping, Mapping], str]
    alt: Callable[[Mapping], str]
    experiments: tuple[str, ...] = ()
    data: Callable[[VerifiedRuns], dict] | None = None


def _num(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}g}"


def _signed(value: float) -> str:
    """A number for figure text, with a true minus sign: ``−8`` not ``-8``."""
    return f"{value:g}".replace("-", "\N{MINUS SIGN}")


def _graph_grad(data: Mapping, label: str) -> float:
    return next(node["grad"] for node in data["nodes"] if node["label"] == label)


def _draw_single(plot) -> Callable[[Figure, Mapping], None]:
    def draw(fig: Figure, data: Mapping) -> None:
        plot(fig.add_subplot(), **data)

    return draw


def _draw_lr_trajectories(fig: Figure, data: Mapping) -> None:
    plots.plot_lr_trajectories(list(fig.subplots(1, len(data["runs"]))), **data)


def _draw_lr_sweep(fig: Figure, data: Mapping) -> None:
    axes = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    plots.plot_lr_sweep(list(axes), **data)


def _draw_full_batch(fig: Figure, data: Mapping) -> None:
    plots.plot_full_batch(list(fig.subplots(1, 2)), **data)


def _backends_phrase(context: Mapping) -> str:
    return (f"{', '.join(context['backends'])} agree at every step to within "
            f"rtol = atol = {context['tolerance']:g} (float64)")


def _rate_list(data: Mapping) -> str:
    return ", ".join(f"{run['learning_rate']:g}" for run in data["runs"])


def _rates_alt(data: Mapping) -> str:
    parts = []
    for run in data["runs"]:
        losses = run["losses"][data["reference"]]
        parts.append(f"lr = {run['learning_rate']:g} goes from {_num(losses[0])} to "
                     f"{_num(losses[-1])} after {len(losses) - 1} updates")
    return (
        "Line chart of loss (log scale) against SGD updates for three learning rates on one "
        f"shipment: {'; '.join(parts)}. Every backend's marker sits on the same points."
    )


def _lesson_print_clause(data: Mapping) -> str:
    """Why the lesson's printed losses stop one short of the figure's last point."""
    losses = [run["losses"][data["reference"]] for run in data["runs"]]
    updates = len(losses[0]) - 1
    return (
        f"The lesson prints the loss before each of its {updates} updates, so its lists end "
        f"at {', '.join(f'{v[-2]:.3f}' for v in losses)}; the figure also shows the loss "
        f"after update {updates} ({', '.join(_num(v[-1]) for v in losses)})."
    )


def _valley(data: Mapping) -> str:
    (x,), (y,) = data["x"], data["y"]
    return f"{x:g}w + b = {y:g}"


def _trajectories_alt(data: Mapping) -> str:
    parts = []
    for run in data["runs"]:
        verdict = plots.describe_run(run["losses"])
        parts.append(f"lr = {run['learning_rate']:g} {verdict}, moving from (w, b) = "
                     f"({run['w'][0]:g}, {run['b'][0]:g}) to ({run['w'][-1]:.3f}, "
                     f"{run['b'][-1]:.3f})")
    return (
        f"{len(data['runs'])} contour plots of the loss over w and b; the loss is zero along "
        f"a straight valley ({_valley(data)}) and every path moves at right angles to the "
        f"contours. {'; '.join(parts)}. A run that overshoots jumps across the valley, "
        "further each time."
    )


def _sweep_alt(data: Mapping) -> str:
    overflowed = [r for r, s in zip(data["learning_rates"], data["first_nonfinite_step"],
                                    strict=True) if s is not None]
    tail = (f" Runs with lr ≥ {_num(min(overflowed), 3)} overflow to infinity; the lower panel "
            "shows the step where that happens, earlier for larger rates."
            if overflowed else "")
    divergence = data["divergence_rate"]
    return (
        f"Log-log plot of the loss after {data['steps']} updates against "
        f"{len(data['learning_rates'])} learning rates: the loss falls to almost zero for "
        "rates up to about "
        f"{_num(data['stability_limit'], 3)} and grows past the initial "
        f"{_num(data['initial_loss'])} above it. A dashed line marks the analytic limit "
        f"2/λmax = {_num(data['stability_limit'], 3)}, a dotted line beside it the sweep's "
        f"first rate that stops lowering the loss, {_num(divergence) if divergence else 'none'}."
        + tail
    )


def _draw_regions(fig: Figure, data: Mapping) -> None:
    plots.plot_decision_regions(fig.add_subplot(), **data["regions"])


def _draw_moons_training(fig: Figure, data: Mapping) -> None:
    axes = fig.subplot_mosaic([["loss", "accuracy"], ["rate", "accuracy"]],
                              height_ratios=[3, 1])
    axes["rate"].sharex(axes["loss"])
    plots.plot_classifier_training([axes["loss"], axes["accuracy"], axes["rate"]],
                                   loss_label="mean hinge loss + L2 penalty",
                                   step_label="SGD updates taken, k", **data)


def _draw_softmax_regions(fig: Figure, data: Mapping) -> None:
    panels = data["panels"]
    axes = fig.subplots(1, len(panels), sharex=True, sharey=True)
    for i, (ax, panel) in enumerate(zip(axes, panels, strict=True)):
        low, high = panel["shown_weights"]
        plots.plot_decision_regions(
            ax, **panel["regions"], legend=False,
            title=f"weight held at {panel['held']:.2f} t\n(shown: {low:g} to {high:g} t)")
        if i:
            ax.set_ylabel("")
            ax.tick_params(labelleft=False)
    first = panels[0]["regions"]
    wrong = any(plots.misclassified(p["regions"]["train"], p["regions"]["validation"])
                for p in panels)
    handles, labels = plots.region_legend(first["class_names"],
                                          validation=first["validation"] is not None,
                                          misclassified=wrong)
    fig.legend(handles, labels, loc="outside lower center", ncols=math.ceil(len(labels) / 2),
               handlelength=3.0)


def _percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def _points_phrase(regions: Mapping) -> str:
    train = regions["train"]
    counts = [sum(label == c for label in train["label"]) for c in regions["classes"]]
    return ", ".join(f"{n} {name}" for n, name in zip(counts, regions["class_names"],
                                                       strict=True))


def _wrong(points: Mapping | None) -> int:
    if points is None:
        return 0
    return sum(p != t for p, t in zip(points["predicted"], points["label"], strict=True))


def _logistic_line(weights: Mapping) -> str:
    """``1.183 disruption − 0.2796 distance − 1.931 = 0``, the learned boundary."""
    w0, w1, b = weights["w[0]"], weights["w[1]"], weights["b"]
    sign = lambda v: "−" if v < 0 else "+"  # noqa: E731 -- one line, used three times below
    return (f"{_num(w0)} · disruption {sign(w1)} {_num(abs(w1))} · distance "
            f"{sign(b)} {_num(abs(b))} = 0")


def _moons_first_full(data: Mapping) -> int | None:
    return plots.all_right_from(data["train_accuracy"])


def _schedule_phrase() -> str:
    schedule = REGISTRY[MOONS].schedule
    return (f"{schedule['kind']} from {schedule['init_value']:g} to {schedule['end_value']:g} "
            f"over {schedule['transition_steps']} updates")


def _moons_caption(d: Mapping, c: Mapping) -> str:
    regions = d["regions"]
    return (
        "micrograd's demo, re-run through every backend: a 2-16-16-1 ReLU network "
        f"(hinge loss + L2 penalty {REGISTRY[MOONS].l2:g}, full-batch SGD, learning rate "
        f"{_schedule_phrase()}) after {d['steps']} updates on {len(regions['train']['x'])} "
        f"two-moons points ({_points_phrase(regions)}). Shading is the class the trained "
        "network predicts (the sign of its score) on a grid of "
        f"{len(regions['xs'])} × {len(regions['ys'])} points, computed from the verified final "
        "parameters with the hand-written forward and checked point by point against the JAX "
        f"objective; the black line is score = 0. It classifies {_percent(d['train_accuracy'])}"
        " of the points right, the verified train_accuracy. The boundary is piecewise "
        f"straight, as ReLU units make it. {_backends_phrase(c)}."
    )


def _colour(index: int, count: int) -> str:
    """The name of class ``index``'s colour (of ``count`` classes), for alt text."""
    hex_colour = plots.class_color(index, count)
    return next(name for name, value in style.OKABE_ITO.items() if value == hex_colour)


def _class_look(regions: Mapping, index: int) -> str:
    """``blue circles``: how class ``index``'s training examples are drawn."""
    shape = {"o": "circles", "s": "squares", "^": "triangles", "D": "diamonds",
             "v": "down triangles", "P": "crosses"}[plots.CLASS_MARKERS[index]]
    return f"{_colour(index, len(regions['classes']))} {shape}"


def _region_shares(regions: Mapping) -> list[tuple[str, float]]:
    """Each class's share of the grid's points (where it is predicted), in class order."""
    outputs = np.asarray(regions["outputs"], dtype=np.float64)
    if outputs.ndim == 2:
        predicted = (outputs > 0).astype(int).ravel()
    else:
        predicted = np.argmax(outputs, axis=-1).ravel()
    counts = np.bincount(predicted, minlength=len(regions["classes"]))
    return [(name, int(n) / predicted.size) for name, n in zip(regions["class_names"], counts,
                                                                strict=True)]


def _moons_alt(d: Mapping) -> str:
    regions = d["regions"]
    (neg, neg_share), (pos, pos_share) = _region_shares(regions)
    return (
        f"Scatter plot of {len(regions['train']['x'])} points in two interleaved crescents, "
        f"the upper-left crescent labelled {neg} ({_class_look(regions, 0)}) and the "
        f"lower-right one {pos} ({_class_look(regions, 1)}), over the network's {neg} region "
        f"(shaded {_colour(0, 2)}, {_percent(neg_share)} of the plot) and {pos} region "
        f"({_colour(1, 2)}, {_percent(pos_share)}). A black boundary of short straight pieces "
        f"winds between the two crescents, so {_percent(d['train_accuracy'])} of the points "
        "lie in their own class's region."
    )


def _moons_training_caption(d: Mapping, c: Mapping) -> str:
    first = _moons_first_full(d)
    return (
        f"The same run as moons-decision-boundary, per update. Top left: the full training "
        "loss (mean hinge loss plus the L2 penalty, log scale) falls from "
        f"{_num(d['train_loss'][0])} to {_num(d['train_loss'][-1])}. Right: the share of the "
        f"{len(REGISTRY[MOONS].train)} points classified right, from "
        f"{_percent(d['train_accuracy'][0])} to {_percent(d['train_accuracy'][-1])}"
        + (f" (every point from update {first} on)" if first is not None else "")
        + ". Bottom left: the learning rate each update used, the recorded extras of the "
        f"trajectory ({_schedule_phrase()}). Loss and accuracy are recorded at the "
        f"parameters before each update and after the last. {_backends_phrase(c)}."
    )


def _moons_training_alt(d: Mapping) -> str:
    first = _moons_first_full(d)
    return (
        f"Three line charts over {len(d['learning_rate'])} updates. The training loss falls "
        f"from {_num(d['train_loss'][0])} to {_num(d['train_loss'][-1])} on a log scale; the "
        f"accuracy climbs in steps from {_percent(d['train_accuracy'][0])} to "
        f"{_percent(d['train_accuracy'][-1])}"
        + (f", reaching 100% at update {first}" if first is not None else "")
        + f"; the learning rate falls in a straight line from {d['learning_rate'][0]:g} to "
        f"{d['learning_rate'][-1]:.3g}."
    )


def _logistic_caption(d: Mapping, c: Mapping) -> str:
    regions = d["regions"]
    experiment = REGISTRY[LOGISTIC]
    return (
        f"Logistic regression on {len(regions['train']['x'])} shipments "
        f"({_points_phrase(regions)}; late means more than 7 hours): a linear model's logit "
        "s = w · x + b scored by binary cross-entropy, full-batch SGD at learning rate "
        f"{experiment.learning_rate:g} for {d['steps']} updates. The black line is the "
        f"learned boundary {_logistic_line(d['weights'])}, where the predicted probability "
        "of being late, sigmoid(s), is 0.5; the dashed lines are p = 0.1 and p = 0.9. "
        f"Filled markers are training shipments ({_percent(d['train_accuracy'])} right, the "
        f"verified train_accuracy), hollow ones the {len(regions['validation']['x'])} "
        f"validation shipments ({_percent(d['val_accuracy'])} right); ringed ones are on "
        f"the wrong side. {_backends_phrase(c)}."
    )


def _logistic_alt(d: Mapping) -> str:
    regions = d["regions"]
    return (
        "Scatter plot of shipments by route-disruption score (x axis) and distance (y axis): "
        f"on-time shipments ({_class_look(regions, 0)}) sit mostly at low disruption, late "
        f"ones ({_class_look(regions, 1)}) at high disruption. A steep black line, "
        f"{_logistic_line(d['weights'])}, splits the plane into an on-time region (shaded "
        f"{_colour(0, 2)}, left) and a late region ({_colour(1, 2)}, right), with dashed lines "
        f"for probability 0.1 and 0.9 on either side. {_wrong(regions['train'])} training and "
        f"{_wrong(regions['validation'])} validation shipments are ringed as misclassified."
    )


def _softmax_caption(d: Mapping, c: Mapping) -> str:
    experiment = REGISTRY[SOFTMAX]
    held = ", ".join(f"{p['held']:.2f}" for p in d["panels"])
    weights = ", ".join(_signed(float(_num(w, 3))) for w in d["weights"])
    return (
        f"Softmax regression on {len(experiment.train)} shipments with three features "
        "(disruption, distance, weight) and three delay classes (under 6 h, 6 to 8 h, 8 h or "
        "more): three logits z = x W + b, softmax cross-entropy, momentum SGD in batches of "
        f"{experiment.batch_size} for {d['steps']} updates. Each shaded region is where its "
        "class has the largest logit. A plane of two features needs the third held fixed, "
        f"and the weight matters here (its logit weights are {weights} per tonne), so each "
        f"panel holds it at the mean weight of a third of the training shipments ({held} t) "
        "and shows the shipments whose weight is nearest that value. Filled markers are "
        "training shipments, hollow ones validation; ringed ones are misclassified by the "
        "model at their own weight (so a ringed marker may sit in its own class's region). "
        f"Training accuracy {_percent(d['train_accuracy'])}, validation "
        f"{_percent(d['val_accuracy'])} (the verified extras). {_backends_phrase(c)}."
    )


def _softmax_alt(d: Mapping) -> str:
    first = d["panels"][0]["regions"]
    count = len(first["classes"])
    looks = ", ".join(f"{name} ({_colour(i, count)}, {_class_look(first, i).split()[-1]})"
                      for i, name in enumerate(first["class_names"]))
    parts = []
    for p in d["panels"]:
        regions = p["regions"]
        shares = ", ".join(f"{name} {_percent(share)}" for name, share in _region_shares(regions)
                           if share > 0)
        parts.append(f"weight {p['held']:.2f} t: regions {shares} of the plane; "
                     f"{len(regions['train']['x'])} training and "
                     f"{len(regions['validation']['x'])} validation shipments, "
                     f"{_wrong(regions['train']) + _wrong(regions['validation'])} ringed")
    return (
        f"Three panels side by side, each a plane of route-disruption score (x) and distance "
        f"(y) split by straight boundaries into shaded regions of the classes {looks}. "
        + "; ".join(parts) + "."
    )


FIGURES: dict[str, FigureSpec] = {spec.name: spec for spec in (
    FigureSpec(
        "learning-rates",
        lambda d: "Same data, same start: the learning rate decides creep, settle or blow up",
        _draw_single(plots.plot_learning_rates),
        lambda d, c: (
            "Loss after each of five SGD updates on one shipment (x = 2, y = 6 hours, start "
            "w = 1, b = 0) at learning rates "
            f"{_rate_list(d)}. Too small a rate "
            "creeps, a useful one settles, too large a one overshoots and the error grows "
            f"each step. {_lesson_print_clause(d)} "
            f"Markers are each backend's own values: {_backends_phrase(c)}."
        ),
        _rates_alt,
        LESSON_RATES, _learning_rates_data,
    ),
    FigureSpec(
        "lr-trajectories",
        lambda d: "Each update steps against the gradient; too big a step jumps the valley",
        _draw_lr_trajectories,
        lambda d, c: (
            "The (w, b) path of each learning rate over the contours of the loss "
            f"{_loss_formula(REGISTRY[LESSON_RATES[0]])}. With one example the loss has a "
            f"straight valley of zero loss ({_valley(d)}); "
            "both axes have the same scale, so each update, drawn as a straight arrow from "
            "one (w, b) to the next, visibly moves at right angles to the contours, by a step "
            "proportional to the rate. Paths are the verified reference trajectories "
            f"({_backends_phrase(c)})."
        ),
        _trajectories_alt,
        LESSON_RATES, _lr_trajectories_data,
    ),
    FigureSpec(
        "lr-sweep",
        lambda d: (f"SGD is stable only below 2/λmax of the loss Hessian: "
                   f"{_num(d['stability_limit'], 3)} for x = 2"),
        _draw_lr_sweep,
        lambda d, c: (
            f"Loss after {d['steps']} full-batch SGD updates for {len(d['learning_rates'])} "
            "learning rates, computed in one vmapped JAX call "
            "(functional_training.sweep_learning_rates) and drawn as the exact loss "
            f"8 (1 − 5 lr)^{2 * d['steps']} (rational arithmetic, the same on every machine), "
            f"which the sweep matches within {SWEEP_CHECK_RTOL:g} at every rate. The Hessian "
            "of 0.5 (w x + b − y)² in (w, b) is [[x², x], [x, 1]], with largest eigenvalue "
            "x² + 1 = 5 at x = 2, so "
            f"SGD converges only for lr < 2/λmax = {_num(d['stability_limit'], 3)} (dashed). "
            "The sweep finds the loss stops falling at lr = "
            f"{_num(d['divergence_rate']) if d['divergence_rate'] else 'none'} (dotted), the "
            "first swept rate past the limit. The lower panel gives, for runs that overflow, "
            "the first step with a non-finite value. The sweep's per-step losses at the "
            "lesson's rates equal the verified trajectories of the learning-rates figure."
        ),
        _sweep_alt,
        LESSON_RATES, lambda v: _lr_sweep_data([v.ref(n) for n in LESSON_RATES]),
    ),
    FigureSpec(
        "full-batch",
        lambda d: (f"Full-batch gradient descent on 3 shipments heads for w = "
                   f"{_num(d['target_w'], 3)}, b = {_num(d['target_b'], 3)}"),
        _draw_full_batch,
        lambda d, c: (
            f"{len(d['loss']) - 1} full-batch SGD updates (lr = "
            f"{REGISTRY['full-batch'].learning_rate:g}) on "
            f"{len(REGISTRY['full-batch'].train)} shipments whose delay is exactly "
            f"{_num(d['target_w'], 3)} × disruption + {_num(d['target_b'], 3)} hours. "
            "Left: mean loss (log scale) "
            f"falls from {_num(d['loss'][0])} to {_num(d['loss'][-1], 2)}. Right: w and b "
            "approach the least-squares fit (dashed); b is slower: the loss is flattest along "
            f"a direction that is mostly b. {_backends_phrase(c)}."
        ),
        lambda d: (
            f"Two line charts over {len(d['loss']) - 1} updates. Left: loss falls from "
            f"{_num(d['loss'][0])} to {_num(d['loss'][-1], 2)} on a log scale. Right: w rises "
            f"from {d['w'][0]:g} to {d['w'][-1]:.3f} (target {_num(d['target_w'], 3)}) and b "
            f"from {d['b'][0]:g} to {d['b'][-1]:.3f} (target {_num(d['target_b'], 3)})."
        ),
        ("full-batch",), _full_batch_data,
    ),
    FigureSpec(
        "train-validation",
        lambda d: "Training loss falls while validation loss rises: a warning, not a diagnosis",
        _draw_single(plots.plot_train_validation),
        lambda d, c: (
            "Fitting peak-season shipments (train) from a model that matches a normal week "
            f"(validation), learning rate {REGISTRY['train-validation'].learning_rate:g}, w "
            "only. Each update lowers the training loss "
            f"(from {d['train_loss'][0]:.3f} to {d['train_loss'][-1]:.3f}) and raises the "
            f"validation loss (from {d['val_loss'][0]:.3f} to {d['val_loss'][-1]:.3f}); the "
            "shaded band is the gap between them. Validation examples are evaluated, never "
            f"used for gradients. {_backends_phrase(c)}."
        ),
        lambda d: (
            f"Line chart over {len(d['train_loss']) - 1} updates: training loss falls from "
            f"{d['train_loss'][0]:.3f} to {d['train_loss'][-1]:.3f} while validation loss "
            f"rises from {d['val_loss'][0]:.3f} to {d['val_loss'][-1]:.3f}; the band between "
            "the two lines is shaded."
        ),
        ("train-validation",),
        lambda v: {"train_loss": v.ref("train-validation").train_loss,
                   "val_loss": v.ref("train-validation").val_loss},
    ),
    FigureSpec(
        "gradient-accumulation",
        lambda d: ("Gradients accumulate until cleared: "
                   + ", ".join(_signed(v) for v in next(iter(d["grads"].values())))),
        _draw_single(plots.plot_gradient_accumulation),
        lambda d, c: (
            f"The gradient dL/dw held in w.grad after {len(d['passes'])} backward passes of "
            f"the same loss {d['loss']}. The second pass runs without clearing the buffer, "
            "so it adds a second copy: "
            + ", ".join(_signed(v) for v in next(iter(d["grads"].values())))
            + ". Clear gradients before every independent step unless accumulation is "
            f"deliberate. One bar per backend: {_backends_phrase(c)}."
        ),
        lambda d: (
            f"Grouped bar chart, {len(d['passes'])} groups of one bar per backend ("
            + ", ".join(d["grads"]) + "): every backend holds "
            + ", ".join(_signed(v) for v in next(iter(d["grads"].values())))
            + " after the passes: "
            + "; ".join(label.replace("\n", " ") for label in d["passes"]) + "."
        ),
        ("gradient-accumulation",), _accumulation_data,
    ),
    FigureSpec(
        "mini-batch",
        lambda d: "Each mini-batch loss is a noisy estimate of the full-batch loss",
        _draw_single(plots.plot_mini_batch),
        lambda d, c: (
            f"SGD on {d['examples']} shipments with batches of {d['batch_size']}, shuffled "
            f"each epoch ({len(d['batch_loss'])} updates, lr = "
            f"{REGISTRY['mini-batch'].learning_rate:g}). Diamonds: the loss of "
            "the batch whose gradient made each update; black line: the loss on all "
            "shipments at the same parameters. The batch loss scatters around the full "
            f"loss while both fall. {_backends_phrase(c)}."
        ),
        lambda d: (
            f"Line chart over {len(d['batch_loss'])} updates (log scale): the full-batch loss "
            f"falls smoothly from {_num(d['train_loss'][0])} to {_num(d['train_loss'][-1])}; "
            "the mini-batch losses zigzag above and below it. Dotted lines mark epochs."
        ),
        ("mini-batch",), _mini_batch_data,
    ),
    FigureSpec(
        "autograd-graph",
        lambda d: (f"Backpropagation: dL/dw = {_signed(_graph_grad(d, 'w'))} and dL/db = "
                   f"{_signed(_graph_grad(d, 'b'))} flow back from the loss"),
        _draw_single(plots.plot_autograd_graph),
        lambda d, c: (
            "The computation graph of prediction = w · x + b and loss = 0.5 (prediction − "
            "target)², as the scalar autograd engine (comparisons.engine) builds it "
            "(subtraction is a + (−b), so the target is negated by a × −1 node), after "
            "loss.backward(). Each box shows its value (data) and dL/dnode (grad); the "
            "numbers equal the verified scalar-autograd trajectory "
            f"({_backends_phrase(c)}). Drawn with matplotlib, no Graphviz."
        ),
        lambda d: (
            "Computation graph, inputs on the left, loss on the right: "
            + "; ".join(f"{n['label']} (data {n['data']:g}, grad {n['grad']:g})"
                        for n in d["nodes"])
            + ". Arrows: " + ", ".join(
                f"{d['nodes'][p]['label']} → {d['nodes'][q]['label']}" for p, q in d["edges"])
            + "."
        ),
        ("scalar-autograd",),
        lambda v: _autograd_graph_data(v.ref("scalar-autograd"), v.tolerance),
    ),
    FigureSpec(
        "moons-decision-boundary",
        lambda d: (f"A ReLU network bends its boundary between the moons: "
                   f"{_percent(d['train_accuracy'])} right"),
        _draw_regions, _moons_caption, _moons_alt,
        (MOONS,), _moons_boundary_data,
    ),
    FigureSpec(
        "moons-training",
        lambda d: "Hinge loss falls and accuracy climbs while the learning rate decays",
        _draw_moons_training, _moons_training_caption, _moons_training_alt,
        (MOONS,), _moons_training_data,
    ),
    FigureSpec(
        "logistic-boundary",
        lambda d: "Logistic regression draws one straight line where p(late) = 0.5",
        _draw_regions, _logistic_caption, _logistic_alt,
        (LOGISTIC,), _logistic_data,
    ),
    FigureSpec(
        "softmax-regions",
        lambda d: "Softmax splits the plane into three regions, one per delay class",
        _draw_softmax_regions, _softmax_caption, _softmax_alt,
        (SOFTMAX,), _softmax_data,
    ),
)}

FIGURE_NAMES = tuple(FIGURES)


def draw_figure(name: str, data: Mapping, *, specs: Mapping[str, FigureSpec] = FIGURES) -> Figure:
    """Draw figure ``name`` from its data (a value of ``figure_data()["figures"]``).

    Uses the shared style and an Agg canvas; never touches pyplot. Save it
    inside ``matplotlib.rc_context(style.STYLE)`` (``render_all`` does).

    Args:
      name: the figure's name.
      data: what it draws.
      specs: where ``name`` is looked up: :data:`FIGURES`, or :data:`SPEC_FIGURES`
        for a spec's figures (data from :func:`spec_figure_data`).
    """
    spec = specs[name]
    with matplotlib.rc_context(style.STYLE):
        fig = style.new_figure()
        spec.draw(fig, data)
        fig.suptitle(spec.title(data))
    return fig


# ------------------------------------------------------------------ a user's spec

MAX_PARAMETER_PATHS = 8
"""A spec's parameter figure draws every parameter up to this many; beyond, one line per
leaf (``w``, ``layers.0.w``, ...): its Euclidean norm, which moves when any of its
parameters does, where dozens of lines would be unreadable."""


def draws_regions(experiment: Experiment, trajectory: TrajectoryRecord) -> bool:
    """Whether a spec's figures include decision regions.

    Only for a classifier (a classification loss) of exactly two features whose
    final parameters are finite (a diverged run has no regions to draw).
    """
    return (experiment.classifies and experiment.features == 2
            and all(math.isfinite(v) for v in final_values(trajectory).values()))


def _class_name(value: float, loss: str) -> str:
    """``class −1``/``class +1`` for the hinge's signs, ``class 0``, ``class 1``, ... otherwise."""
    if ft.LOSS_KINDS[loss].targets == "sign":
        return "class −1" if value < 0 else "class +1"
    return f"class {value:g}"


def _log_scale(*series: Sequence[float] | None) -> bool:
    """A log axis where every finite value is positive and they span at least a factor 10."""
    values = [v for s in series if s is not None for v in s if math.isfinite(v)]
    return bool(values) and min(values) > 0.0 and max(values) >= 10 * min(values)


def _parameter_series(experiment: Experiment, trajectory: TrajectoryRecord) -> dict:
    names = list(experiment.parameter_names)
    if len(names) <= MAX_PARAMETER_PATHS:
        return {"series": {n: trajectory.params[n] for n in names}, "norms": False}
    series = {}
    for leaf, members in plots.parameter_groups(names).items():
        series[leaf] = [math.hypot(*(trajectory.params[n][k] for n in members))
                        for k in range(trajectory.steps + 1)]
    return {"series": series, "norms": True}


def spec_figure_data(experiment: Experiment, *, backends: Sequence[str] | None = None) -> dict:
    """Verify a user's experiment on every backend and collect what its figures draw.

    Figures (:data:`SPEC_FIGURES`): ``loss`` (training loss per step, validation
    and mini-batch losses where they exist, accuracy beside it for a classifier),
    ``parameters`` (every parameter, or per-leaf norms beyond
    :data:`MAX_PARAMETER_PATHS`) and, where :func:`draws_regions`,
    ``decision-regions`` (a grid from the verified final parameters, checked
    against JAX at every point, as the course's region figures are).

    Returns:
      ``{"experiment", "description", "backends", "reference", "tolerance",
      "unavailable", "figures": {name: data}}``, JSON-ready.

    Raises:
      UnverifiedTrajectoryError: the backends disagree, or a figure's data does
        not match the verified trajectory.
    """
    trajectories, verdict = verify_experiment(experiment, backends=backends)
    run = trajectories[verdict.reference]
    common = {"experiment": experiment.name, "steps": run.steps,
              "first_nonfinite_step": run.first_nonfinite_step}
    loss_name = experiment.loss + (" + L2 penalty" if experiment.l2 else "")
    loss = {**common, "train_loss": run.train_loss, "val_loss": run.val_loss,
            "batch_loss": None if experiment.batch_size is None else run.batch_loss,
            "loss_name": loss_name,
            "log": _log_scale(run.train_loss, run.val_loss, run.batch_loss),
            "train_accuracy": run.extras.get("train_accuracy"),
            "val_accuracy": run.extras.get("val_accuracy")}
    figures = {"loss": loss, "parameters": {**common, **_parameter_series(experiment, run),
                                            "count": len(experiment.parameter_names)}}
    if draws_regions(experiment, run):
        names = [_class_name(c, experiment.loss) for c in class_values(experiment)]
        figures["decision-regions"] = {
            **common,
            "regions": _regions("decision-regions", experiment, run, verdict.tolerance,
                                cells=SPEC_REGION_CELLS, class_names=names,
                                x_label="feature x[0]", y_label="feature x[1]"),
            "train_accuracy": run.extras["train_accuracy"][-1],
            "val_accuracy": (run.extras["val_accuracy"][-1]
                             if "val_accuracy" in run.extras else None),
        }
    return {"experiment": experiment.name, "description": experiment.description,
            "backends": list(trajectories), "reference": verdict.reference,
            "tolerance": verdict.tolerance, "unavailable": dict(verdict.unavailable),
            "figures": figures}


def _draw_spec_loss(fig: Figure, data: Mapping) -> None:
    classifier = data["train_accuracy"] is not None
    axes = fig.subplots(1, 2) if classifier else [fig.add_subplot()]
    plots.plot_loss_curves(axes[0], train_loss=data["train_loss"], val_loss=data["val_loss"],
                           batch_loss=data["batch_loss"], ylabel=f"mean {data['loss_name']}",
                           log=data["log"])
    if classifier:
        axes[0].set_title("loss")
        plots.plot_accuracy(axes[1], train_accuracy=data["train_accuracy"],
                            val_accuracy=data["val_accuracy"])
        axes[1].set_title("accuracy")


def _draw_spec_parameters(fig: Figure, data: Mapping) -> None:
    plots.plot_parameter_paths(fig.add_subplot(), series=data["series"], norms=data["norms"])


def _nonfinite_clause(d: Mapping) -> str:
    k = d["first_nonfinite_step"]
    return ("" if k is None else
            f" A value first becomes non-finite at step {k}; the lines stop there, or leave "
            "the top of the panel before it.")


def _spec_loss_caption(d: Mapping, c: Mapping) -> str:
    parts = [f"training loss ({d['loss_name']}) at the parameters before each of the "
             f"{d['steps']} updates and after the last"]
    if d["val_loss"] is not None:
        parts.append("validation loss (evaluated, never used for updates)")
    if d["batch_loss"] is not None:
        parts.append("the loss of the mini-batch whose gradient made each update")
    text = "Per update: " + "; ".join(parts) + (" (log scale)." if d["log"] else ".")
    if d["train_accuracy"] is not None:
        text += " Right: the share of examples classified right."
    return text + _nonfinite_clause(d) + f" {_backends_phrase(c)}."


def _spec_loss_alt(d: Mapping) -> str:
    lines = [f"training loss goes from {_num(d['train_loss'][0])} to {_num(d['train_loss'][-1])}"]
    if d["val_loss"] is not None:
        lines.append(f"validation loss from {_num(d['val_loss'][0])} to "
                     f"{_num(d['val_loss'][-1])}")
    if d["train_accuracy"] is not None:
        lines.append(f"training accuracy from {_percent(d['train_accuracy'][0])} to "
                     f"{_percent(d['train_accuracy'][-1])}")
    return f"Line chart over {d['steps']} updates: " + "; ".join(lines) + "."


def _spec_parameters_caption(d: Mapping, c: Mapping) -> str:
    what = (f"The Euclidean norm of each parameter leaf (the model has {d['count']} "
            f"parameters, more than {MAX_PARAMETER_PATHS} lines can show)"
            if d["norms"] else f"Each of the {d['count']} parameters")
    return (f"{what} before each of the {d['steps']} updates and after the last, from the "
            f"verified reference trajectory.{_nonfinite_clause(d)} {_backends_phrase(c)}.")


def _spec_parameters_alt(d: Mapping) -> str:
    moves = "; ".join(f"{'norm of ' if d['norms'] else ''}{name} from {_num(v[0])} to "
                      f"{_num(v[-1])}" for name, v in d["series"].items())
    return f"Line chart over {d['steps']} updates: {moves}."


def _spec_regions_caption(d: Mapping, c: Mapping) -> str:
    regions = d["regions"]
    validation = ("" if d["val_accuracy"] is None else
                  f", validation {_percent(d['val_accuracy'])} (hollow markers)")
    return (
        f"The classes the trained model predicts over its two features after {d['steps']} "
        f"updates, on a grid of {len(regions['xs'])} × {len(regions['ys'])} points computed "
        "from the verified final parameters with the hand-written forward and checked point "
        "by point against the JAX objective; the black line is the decision boundary. Training "
        f"accuracy {_percent(d['train_accuracy'])}{validation}; ringed examples are "
        f"misclassified. {_backends_phrase(c)}."
    )


def _spec_regions_alt(d: Mapping) -> str:
    regions = d["regions"]
    return (
        f"Scatter plot of {len(regions['train']['x'])} training examples "
        f"({_points_phrase(regions)}) over the model's shaded class regions, split by a black "
        f"decision boundary; {_wrong(regions['train'])} training and "
        f"{_wrong(regions['validation'])} validation examples are ringed as misclassified."
    )


SPEC_FIGURES: dict[str, FigureSpec] = {spec.name: spec for spec in (
    FigureSpec("loss", lambda d: f"{d['experiment']}: loss per update",
               _draw_spec_loss, _spec_loss_caption, _spec_loss_alt),
    FigureSpec("parameters",
               lambda d: (f"{d['experiment']}: "
                          + ("parameter norms" if d["norms"] else "parameters") + " per update"),
               _draw_spec_parameters, _spec_parameters_caption, _spec_parameters_alt),
    FigureSpec("decision-regions",
               lambda d: f"{d['experiment']}: decision regions after {d['steps']} updates",
               _draw_regions, _spec_regions_caption, _spec_regions_alt),
)}
"""The figures ``python -m comparisons figures --spec FILE`` draws (regions only where
:func:`draws_regions`)."""


def spec_output_directory(spec_file: str | Path) -> Path:
    """Where a spec's figures go without ``--out``: ``<file stem>-figures`` here (the cwd).

    Example:
      >>> spec_output_directory("examples/logistic-inline.toml")
      PosixPath('logistic-inline-figures')
    """
    return Path(f"{Path(spec_file).stem}-figures")


def write_spec_figures(data: Mapping, out_dir: Path,
                       formats: Sequence[str] = style.FORMATS) -> list[Path]:
    """Draw and write a spec's figures (data from :func:`spec_figure_data`), README and data.

    Returns:
      Every path written: figures in :data:`SPEC_FIGURES` order, then README and data.
    """
    formats = parse_formats(formats)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SPEC_FIGURES:
        if name in data["figures"]:
            fig = draw_figure(name, data["figures"][name], specs=SPEC_FIGURES)
            with matplotlib.rc_context(style.STYLE):
                written += style.save_figure(fig, out_dir / name, formats)
    header = [
        f"# Figures of {data['experiment']}",
        "",
        f"Rendered by `python -m comparisons figures --spec` from trajectories verified in "
        f"float64 just before drawing: {_backends_phrase(data)}, reference "
        f"{data['reference']}. `{DATA_FILE}` holds exactly the data each figure draws.",
        "",
    ]
    readme = "\n".join(header + _sections(SPEC_FIGURES, data, formats))
    record = {**data, "rendered_with": rendered_with()}
    for filename, text in ((README_FILE, readme), (DATA_FILE, data_json(record))):
        path = out_dir / filename
        ft_runs.write_atomic(path, text.encode("utf-8"))
        written.append(path)
    return written


def render_spec(experiment: Experiment, out_dir: Path, formats: Sequence[str] = style.FORMATS,
                *, backends: Sequence[str] | None = None) -> list[Path]:
    """Verify a user's experiment, then write its figures, ``README.md`` and :data:`DATA_FILE`.

    Nothing is written unless every backend agrees.

    Raises:
      ValueError: an unknown or empty format list.
      UnverifiedTrajectoryError: the backends disagree (one line naming the mismatch).
    """
    formats = parse_formats(formats)
    return write_spec_figures(spec_figure_data(experiment, backends=backends), out_dir, formats)


# ------------------------------------------------------------------ files


def parse_formats(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"png,svg"`` (or a sequence) -> ``("png", "svg")``; one-line ``ValueError`` otherwise."""
    items = text.split(",") if isinstance(text, str) else list(text)
    formats = tuple(item.strip().lower() for item in items if item.strip())
    if not formats:
        raise ValueError(f"no figure format given; choose from {', '.join(style.FORMATS)}")
    for fmt in formats:
        if fmt not in style.FORMATS:
            raise ValueError(
                f"unknown figure format {fmt!r}; choose from {', '.join(style.FORMATS)}")
    return tuple(dict.fromkeys(formats))


def readme_text(data: Mapping, formats: Sequence[str] = style.FORMATS) -> str:
    """``README.md`` of the figures directory: every figure with its caption and alt text."""
    lines = [
        "# Course figures",
        "",
        "Rendered by `python -m comparisons figures` (also part of `python -m comparisons all`)"
        " from trajectories the comparison suite verified in float64 just before drawing: "
        f"{_backends_phrase(data)}, reference {data['reference']}. Do not edit these files; "
        f"re-render them. `{DATA_FILE}` holds exactly the data each figure draws.",
        "",
    ]
    return "\n".join(lines + _sections(FIGURES, data, formats))


def _sections(specs: Mapping[str, FigureSpec], data: Mapping, formats: Sequence[str]) -> list:
    """Per figure of ``data``: heading, image, bold title and caption, alt text, files."""
    image = "png" if "png" in formats else formats[0]
    lines = []
    for name, spec in specs.items():
        if name not in data["figures"]:
            continue
        figure = data["figures"][name]
        alt = spec.alt(figure)
        files = " · ".join(f"[{fmt.upper()}]({name}.{fmt})" for fmt in formats)
        lines += [
            f"## {name}",
            "",
            f"![{alt}]({name}.{image})",
            "",
            f"**{spec.title(figure)}.** {spec.caption(figure, data)}",
            "",
            f"*Alt text:* {alt}",
            "",
            f"Files: {files}",
            "",
        ]
    return lines


def _jsonable(value):
    if isinstance(value, float):
        return json_float(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def data_json(data: Mapping) -> str:
    """The :data:`DATA_FILE` text: strict JSON, non-finite floats as ``"Infinity"``/``"NaN"``."""
    return json.dumps(_jsonable(data), indent=1, allow_nan=False) + "\n"


RENDERING_PACKAGES = ("matplotlib", "numpy", "jax", "jaxlib", "torch")
"""The libraries whose versions decide the bytes of a rendered figure."""


def rendered_with() -> dict[str, str]:
    """Versions of :data:`RENDERING_PACKAGES` (``"not installed"`` for a missing one).

    Read with ``functional_training.runs.package_versions``, the project's one
    version reader.
    """
    versions = ft_runs.package_versions(RENDERING_PACKAGES)
    return {name: versions[name] or "not installed" for name in RENDERING_PACKAGES}


def write_figures(
    data: Mapping, out_dir: Path, formats: Sequence[str] = style.FORMATS
) -> list[Path]:
    """Draw and write every figure of ``data`` (from :func:`figure_data`), README and data file.

    Each file is written atomically. :data:`DATA_FILE` also records
    :func:`rendered_with`, the versions the files were rendered with.

    Returns:
      Every path written: figures in :data:`FIGURE_NAMES` order (those ``data``
      holds: all, or ``figure_data(only=...)``'s), then README and data.
    """
    formats = parse_formats(formats)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in (n for n in FIGURE_NAMES if n in data["figures"]):
        fig = draw_figure(name, data["figures"][name])
        with matplotlib.rc_context(style.STYLE):
            written += style.save_figure(fig, out_dir / name, formats)
    record = {**data, "rendered_with": rendered_with()}
    for filename, text in ((README_FILE, readme_text(data, formats)),
                           (DATA_FILE, data_json(record))):
        path = out_dir / filename
        ft_runs.write_atomic(path, text.encode("utf-8"))
        written.append(path)
    return written


def check_output_directory(out_dir: str | Path, *, option: str = "--out") -> Path:
    """``out_dir`` if the figures can be written there, else ``ValueError`` naming ``option``.

    Checked before any trajectory is computed. ``out_dir`` need not exist
    (:func:`write_figures` creates it): it must not be a file, and its nearest
    existing ancestor must be a directory that accepts a new file (probed with
    :func:`functional_training.runs.check_output_path`, which creates and removes a
    temporary file; nothing is left behind and no directory is created).

    Example:
      >>> import tempfile
      >>> with tempfile.NamedTemporaryFile() as handle:
      ...     check_output_directory(Path(handle.name) / "figures")
      Traceback (most recent call last):
      ...
      ValueError: --out: ... is not a directory
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{option}: {out_dir} is not a directory")
    existing = out_dir.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{option}: {existing} is not a directory")
    ft_runs.check_output_path(existing / README_FILE, option=option)
    return out_dir


def render_all(out_dir: Path, formats: tuple[str, ...] = style.FORMATS) -> list[Path]:
    """Verify, then write every figure, ``README.md`` and :data:`DATA_FILE` into ``out_dir``.

    Nothing is written unless every experiment verifies; each file is written
    atomically (temp file in ``out_dir``, flush, ``os.replace``).

    Args:
      out_dir: the directory to write (created if missing).
      formats: a subset of ``("png", "svg")``.

    Returns:
      Every path written: figures in :data:`FIGURE_NAMES` order, then README and data.

    Raises:
      ValueError: an unknown or empty format list.
      UnverifiedTrajectoryError: a figure's data failed verification.
    """
    formats = parse_formats(formats)
    return write_figures(figure_data(), out_dir, formats)


def add_figure_arguments(parser: argparse.ArgumentParser, *, spec: bool = False) -> None:
    """Add ``--out DIR`` (default ``figures/``) and ``--format png,svg`` to ``parser``.

    With ``spec``, also ``--spec FILE`` (a user's spec, drawn by :func:`render_spec`),
    and ``--out`` defaults to ``None``: :func:`output_directory` resolves it.

    Example:
      >>> parser = argparse.ArgumentParser(prog="figures")
      >>> add_figure_arguments(parser)
      >>> args = parser.parse_args(["--format", "svg"])
      >>> args.out, args.format
      (PosixPath('figures'), ('svg',))
      >>> parser = argparse.ArgumentParser(prog="figures")
      >>> add_figure_arguments(parser, spec=True)
      >>> args = parser.parse_args(["--spec", "my-run.toml"])
      >>> args.out, output_directory(args.out, args.spec)
      (None, PosixPath('my-run-figures'))
    """

    def formats(text: str) -> tuple[str, ...]:
        try:
            return parse_formats(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    default = "figures/"
    if spec:
        default += "; with --spec path/my-run.toml: my-run-figures/"
    parser.add_argument("--out", metavar="DIR", type=Path, default=None if spec else DEFAULT_OUT,
                        help=f"directory to write the figures into (default: {default})")
    parser.add_argument("--format", metavar="png,svg", type=formats, default=style.FORMATS,
                        help="comma-separated file formats (default: png,svg)")
    if spec:
        parser.add_argument(
            "--spec", metavar="FILE", type=Path,
            help="instead of the course figures, draw a TOML spec's own run, verified on "
            "every available backend first: loss per update (train, validation and batch "
            "losses, accuracy for a classifier), parameter paths (each parameter, or each "
            f"leaf's norm beyond {MAX_PARAMETER_PATHS}) and, for a classifier of exactly two "
            "features, its decision regions")


def output_directory(out: Path | None, spec_file: Path | None) -> Path:
    """``--out`` if given, else :func:`spec_output_directory` with ``--spec``, else ``figures/``.

    Example:
      >>> output_directory(None, None), output_directory(Path("x"), Path("a.toml"))
      (PosixPath('figures'), PosixPath('x'))
    """
    if out is not None:
        return Path(out)
    return DEFAULT_OUT if spec_file is None else spec_output_directory(spec_file)
