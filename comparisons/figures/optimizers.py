"""The optimizer figures: paths on an ill-conditioned quadratic, and the learning-rate schedules.

Two :class:`~comparisons.figures.kind.FigureSpec` rows in :data:`OPTIMIZER_FIGURES`,
each drawn from experiments this module defines (:data:`PATH_RUNS`,
:data:`SCHEDULE_RUNS`; figure-only, so not in the comparison registry) and
verifies on every backend just before drawing, like every course figure.

``optimizer-paths``: d2l's ``f(x) = 0.1 x_1^2 + 2 x_2^2`` (its ``show_trace_2d``
examples) is the lesson's own linear model on designed data. Four examples
``(x_1, x_2, y) = (±a, 0, 0), (0, ±c, 0)``, mean-zero features and zero
targets, make the half squared error

    L(w, b) = 1/2 mean_i (w · x_i + b - y_i)^2 = 1/2 w^T H w + 1/2 b^2,
    H = diag(a^2 / 2, c^2 / 2),

so ``a = sqrt(0.4)``, ``c = sqrt(8)`` give ``H = diag(0.2, 4)`` (to rounding:
``H`` is computed from the rows, :func:`quadratic_hessian`) and
``L = 0.1 w_1^2 + 2 w_2^2``: condition number 20, a long shallow valley along
``w_1``. The bias is frozen at 0 (``trainable = ("w",)``), so the path lives
in ``(w_1, w_2)``. SGD, momentum, Nesterov (both ``mu = 0.5``, d2l's momentum
value) and Adam (``b1 = 0.9, b2 = 0.999, eps = 1e-8``) start at d2l's
``(-5, -2)`` and take :data:`PATH_STEPS` full-batch steps, each at its own
tuned rate: the rate of :data:`TUNING_GRID` (``0.05, 0.10, ..., 1.00``) with
the lowest loss after :data:`PATH_STEPS` steps (the test file checks this
with its own NumPy simulation). Every recorded loss must equal
``1/2 w^T H w`` at the recorded ``w`` (the designed quadratic, verified).

``schedules``: the five schedules the project runs (``functional_training.SCHEDULES``,
with ``exponential`` also staircased), each driving a short SGD run on the same
data. Every backend records the rate each update used: ``jax`` from optax's
schedule, ``torch`` from ``torch.optim.lr_scheduler`` (the scheduler
:mod:`comparisons.backends.torch_backend` builds, named in :data:`TORCH_SCHEDULERS`),
``manual`` and ``engine`` from the hand-written rule
(:func:`comparisons.backends.update_rules.schedule_rule`). The comparison
checks them equal at every step (rtol = atol = the verification tolerance,
1e-12 in float64); the figure draws the hand-written rule's line with every
backend's markers on it.

Example:
  >>> [row.name for row in OPTIMIZER_FIGURES]
  ['optimizer-paths', 'schedules']
  >>> [round(h, 12) for h in quadratic_hessian(PATH_RUNS[0])]
  [0.2, 4.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from matplotlib.figure import Figure

import functional_training as ft
from comparisons import plots
from comparisons.experiments import Experiment
from comparisons.figures.kind import FigureSpec
from comparisons.figures.verified import VerifiedRuns, require_close
from comparisons.figures.wording import backends_phrase, num

__all__ = [
    "OPTIMIZER_FIGURES",
    "PATH_RUNS",
    "PATH_START",
    "PATH_STEPS",
    "QUADRATIC_ROWS",
    "SCHEDULE_RUNS",
    "SCHEDULE_STEPS",
    "TORCH_SCHEDULERS",
    "TUNING_GRID",
    "quadratic_hessian",
]

QUADRATIC_ROWS = ((math.sqrt(0.4), 0.0, 0.0), (-math.sqrt(0.4), 0.0, 0.0),
                  (0.0, math.sqrt(8.0), 0.0), (0.0, -math.sqrt(8.0), 0.0))
"""``(x_1, x_2, y)``: the four examples whose half squared error is ``0.1 w_1^2 + 2 w_2^2``."""

PATH_START = {"w[0]": -5.0, "w[1]": -2.0, "b": 0.0}
"""d2l's start ``(-5, -2)``; the bias is frozen at 0."""

PATH_STEPS = 20
"""Full-batch steps per optimizer (d2l's ``train_2d`` takes 20)."""

TUNING_GRID = tuple(i / 20 for i in range(1, 21))
"""The rates each optimizer's was tuned over: 0.05, 0.10, ..., 1.00."""

_ADAM = {"b1": 0.9, "b2": 0.999, "eps": 1e-8}

_PATH_OPTIMIZERS = (
    ("sgd", "SGD", {"learning_rate": 0.45}),
    ("momentum", "momentum", {"learning_rate": 0.5, "momentum": 0.5}),
    ("nesterov", "Nesterov", {"learning_rate": 0.3, "momentum": 0.5}),
    ("adam", "Adam", {"learning_rate": 0.8, **_ADAM}),
)
"""Optimizer, label, hyperparameters (each rate the best of :data:`TUNING_GRID`)."""

PATH_RUNS: tuple[Experiment, ...] = tuple(
    Experiment(f"optimizer-paths/{name}", f"{label} on 0.1 w1^2 + 2 w2^2 from (-5, -2)",
               QUADRATIC_ROWS, PATH_START, name, hyperparams, PATH_STEPS, trainable=("w",))
    for name, label, hyperparams in _PATH_OPTIMIZERS
)
"""The ``optimizer-paths`` runs, one per optimizer, every hyperparameter explicit."""

SCHEDULE_STEPS = 40
"""SGD steps per schedule run: the rate of each is drawn for steps 0..39."""

_SCHEDULES = (
    ("constant", {"kind": "constant", "value": 0.3}),
    ("linear", {"kind": "linear", "init_value": 0.4, "end_value": 0.05,
                "transition_steps": 25, "transition_begin": 5}),
    ("cosine", {"kind": "cosine", "init_value": 0.4, "decay_steps": 30, "alpha": 0.1}),
    ("exponential", {"kind": "exponential", "init_value": 0.4, "transition_steps": 8,
                     "decay_rate": 0.5}),
    ("staircase", {"kind": "exponential", "init_value": 0.4, "transition_steps": 8,
                   "decay_rate": 0.5, "staircase": True}),
)

SCHEDULE_RUNS: tuple[Experiment, ...] = tuple(
    Experiment(f"schedules/{name}", f"SGD on 0.1 w1^2 + 2 w2^2, {name} schedule",
               QUADRATIC_ROWS, PATH_START, "sgd", {}, SCHEDULE_STEPS, trainable=("w",),
               schedule=schedule)
    for name, schedule in _SCHEDULES
)
"""The ``schedules`` runs, one per schedule (every rate below SGD's limit 2 / 4 = 0.5)."""

TORCH_SCHEDULERS = {
    "constant": "none (the optimizer's lr)",
    "linear": "LambdaLR (holding 1), then LinearLR",
    "cosine": "CosineAnnealingLR, then ConstantLR",
    "exponential": "ExponentialLR",
    "staircase": "StepLR",
}
"""What :mod:`comparisons.backends.torch_backend` builds for each schedule run (tested)."""


def quadratic_hessian(experiment: Experiment) -> tuple[float, float]:
    """``(H_11, H_22) = (mean x_1^2, mean x_2^2)`` of the rows (``H`` is diagonal: see the module).

    Example:
      >>> [round(h, 12) for h in quadratic_hessian(PATH_RUNS[0])]
      [0.2, 4.0]
    """
    rows = experiment.train
    return tuple(math.fsum(row[i] ** 2 for row in rows) / len(rows) for i in (0, 1))


def _optimizer_paths_data(v: VerifiedRuns) -> dict:
    """Each optimizer's verified path, each loss checked against ``1/2 w^T H w``."""
    hessian = quadratic_hessian(PATH_RUNS[0])
    runs = []
    for experiment, (name, label, hyperparams) in zip(PATH_RUNS, _PATH_OPTIMIZERS, strict=True):
        run = v.ref(experiment.name)
        w1, w2 = run.params["w[0]"], run.params["w[1]"]
        for k, loss in enumerate(run.train_loss):
            quadratic = 0.5 * (hessian[0] * w1[k] ** 2 + hessian[1] * w2[k] ** 2)
            require_close("optimizer-paths", f"1/2 w^T H w of {name} at step {k}", loss,
                          quadratic, v.tolerance)
        runs.append({"optimizer": name, "label": label, "hyperparams": dict(hyperparams),
                     "w1": w1, "w2": w2, "loss": run.train_loss})
    return {"hessian": list(hessian), "steps": PATH_STEPS, "runs": runs,
            "tuning_grid": [TUNING_GRID[0], TUNING_GRID[-1], TUNING_GRID[1] - TUNING_GRID[0]]}


def _schedules_data(v: VerifiedRuns) -> dict:
    """Each schedule's rate per step as every backend recorded it (verified equal)."""
    schedules = []
    for experiment, (name, _) in zip(SCHEDULE_RUNS, _SCHEDULES, strict=True):
        table = dict(experiment.schedule)
        kind = table.pop("kind")
        settings = ft.check_schedule(kind, table)
        schedules.append({
            "name": name, "kind": kind, "settings": settings,
            "optax": ft.SCHEDULES[kind].factory.__name__, "torch": TORCH_SCHEDULERS[name],
            "rates": {b: v.runs[experiment.name][b].extras["learning_rate"] for b in v.backends},
        })
    return {"steps": SCHEDULE_STEPS, "reference": v.reference, "schedules": schedules}


def _draw_optimizer_paths(fig: Figure, data: Mapping) -> None:
    axes = fig.subplots(2, 2, sharex=True, sharey=True)
    plots.plot_optimizer_paths(list(axes.flat), **data)


def _draw_schedules(fig: Figure, data: Mapping) -> None:
    axes = list(fig.subplots(2, 3, sharex=True, sharey=True).flat)
    legend_ax = axes.pop()
    legend_ax.set_axis_off()
    plots.plot_schedules(axes, legend_ax=legend_ax, **data)


def _settings_phrase(run: Mapping) -> str:
    """``lr = 0.5, momentum 0.5`` for a run's hyperparameters."""
    extra = {k: v for k, v in run["hyperparams"].items() if k != "learning_rate"}
    parts = [f"lr = {run['hyperparams']['learning_rate']:g}"]
    parts += [f"{'μ' if k == 'momentum' else k} = {value:g}" for k, value in extra.items()]
    return ", ".join(parts)


def _paths_caption(d: Mapping, c: Mapping) -> str:
    h1, h2 = d["hessian"]
    low, high, step = d["tuning_grid"]
    runs = "; ".join(f"{run['label']} ({_settings_phrase(run)}): loss {num(run['loss'][0])} → "
                     f"{num(run['loss'][-1], 3)}" for run in d["runs"])
    return (
        f"{d['steps']} full-batch steps of each optimizer from (w₁, w₂) = "
        f"({d['runs'][0]['w1'][0]:g}, {d['runs'][0]['w2'][0]:g}) on the contours of "
        f"L = 0.1 w₁² + 2 w₂², d2l's show_trace_2d function, here the lesson's linear model on "
        "four designed examples (±√0.4, 0) and (0, ±√8) with target 0, bias frozen at 0: "
        f"L = ½ wᵀHw with H = diag({num(h1)}, {num(h2)}), a valley 20 times flatter along w₁. "
        f"Each rate is tuned: the best of {low:g}, {low + step:g}, …, {high:g} after "
        f"{d['steps']} steps. {runs}. SGD's rate is capped by the steep w₂ direction "
        f"(lr < 2/{num(h2)}), so it zigzags across the valley and crawls along it; momentum "
        "adds up the small, consistent gradient along w₁ while the alternating w₂ gradients "
        "cancel, so it runs down the valley; Nesterov evaluates the step after the momentum "
        "one and damps the zigzag; Adam divides by each coordinate's gradient scale, so both "
        f"coordinates move at about the same speed, and its momentum carries it past the "
        f"minimum. Paths are verified reference trajectories "
        f"({backends_phrase(c)}), and every loss equals ½ wᵀHw at its w."
    )


def _paths_alt(d: Mapping) -> str:
    parts = [f"{run['label']} goes from ({run['w1'][0]:g}, {run['w2'][0]:g}) to "
             f"({num(run['w1'][-1], 2)}, {num(run['w2'][-1], 2)}), loss "
             f"{num(run['loss'][-1], 3)}"
             for run in d["runs"]]
    return (
        "Four contour plots of the elongated elliptical loss 0.1 w₁² + 2 w₂², minimum at the "
        f"origin, each with one optimizer's {d['steps']}-step path from the left: "
        + "; ".join(parts) + ". SGD zigzags up and down across the narrow valley while "
        "creeping right; momentum and Nesterov swing less and get closer to the minimum; Adam "
        "first moves diagonally, both coordinates at similar speed, then overshoots past the "
        "minimum along w₁ and curls back."
    )


def _schedule_formula(s: Mapping) -> str:
    """The schedule's settings as a reader writes them."""
    return ", ".join(f"{k} {v:g}" if not isinstance(v, bool) else f"{k} {str(v).lower()}"
                     for k, v in s["settings"].items())


def _schedules_caption(d: Mapping, c: Mapping) -> str:
    parts = "; ".join(f"{s['name']} (optax.{s['optax']}: {_schedule_formula(s)}; torch: "
                      f"{s['torch']})" for s in d["schedules"])
    return (
        f"The learning rate each of {d['steps']} SGD updates used, one panel per schedule: "
        f"{parts}. The line is the hand-written rule's rates (the {d['reference']} backend); "
        "the markers on it are the rates every backend recorded: jax from optax's schedule, "
        "torch from torch.optim.lr_scheduler (its recursive updates differ from optax's closed "
        "forms by a few ulps at most), manual and engine from the hand-written rule. The "
        f"comparison checked every point equal: {backends_phrase(c)}."
    )


def _schedules_alt(d: Mapping) -> str:
    parts = []
    for s in d["schedules"]:
        rates = s["rates"][d["reference"]]
        parts.append(f"{s['name']} from {num(rates[0], 3)} to {num(rates[-1], 3)}")
    return (
        f"{len(d['schedules'])} line charts of learning rate against step 0 to "
        f"{d['steps'] - 1}: " + "; ".join(parts) + ". Linear falls in a straight ramp after "
        "holding its start, cosine follows half a cosine wave down to a floor, exponential "
        "halves smoothly every few steps, the staircase halves in sudden steps. Every "
        "backend's markers sit on the same line."
    )


OPTIMIZER_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "optimizer-paths",
        lambda d: "In a narrow valley SGD zigzags; momentum carries the steps along it",
        _draw_optimizer_paths, _paths_caption, _paths_alt,
        PATH_RUNS, _optimizer_paths_data,
        summary="SGD, momentum, Nesterov and Adam on the contours of 0.1 w₁² + 2 w₂²",
    ),
    FigureSpec(
        "schedules",
        lambda d: "Five schedules, three implementations, the same rate at every step",
        _draw_schedules, _schedules_caption, _schedules_alt,
        SCHEDULE_RUNS, _schedules_data,
        summary="five learning-rate schedules from optax, torch.optim.lr_scheduler and by hand",
    ),
)
"""The optimizer figures (one row per figure)."""
