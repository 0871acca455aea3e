"""A user's spec drawn as figures: ``python -m comparisons figures --spec FILE``.

The spec's experiment is verified on every available backend like a course
experiment (:func:`~comparisons.figures.verified.verify_experiment`), then drawn
as :data:`SPEC_FIGURES`: ``loss`` (training loss per update, validation and
mini-batch losses where they exist, accuracy beside it for a classifier),
``parameters`` (every parameter, or per-leaf norms beyond
:data:`MAX_PARAMETER_PATHS`) and, for a classifier of exactly two features
(:func:`draws_regions`), ``decision-regions``, a grid from the verified final
parameters checked against JAX at every point
(:func:`comparisons.figures.grids.regions`).

Two more are drawn when named (``--only NAME``, :func:`spec_figure_names`), since
they train or draw more than the spec's own run: ``lr-finder``, the spec's
learning-rate range test (its model, data, start, optimizer and batches on the
ramp, verified on every backend, and whole runs of the spec at constant rates:
:mod:`comparisons.figures.lr_finder`), for any training spec with an optimizer;
and ``training-animation``, its decision boundary and loss per update (a GIF and
small multiples: :mod:`comparisons.figures.animation`), for a classifier of two
features. Naming one that does not apply is refused in one line saying why.

Example:
  >>> list(SPEC_FIGURES)
  ['loss', 'parameters', 'decision-regions', 'lr-finder', 'training-animation']
  >>> DEFAULT_SPEC_FIGURES
  ('loss', 'parameters', 'decision-regions')
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

import functional_training as ft
from comparisons import figure_style as style
from comparisons import plots
from comparisons.experiments import Experiment
from comparisons.figures.animation import (
    animation_alt,
    animation_caption,
    animation_files,
    draw_small_multiples,
    frame_data,
)
from comparisons.figures.classifiers import draw_regions
from comparisons.figures.files import DATA_FILE, parse_formats, readme, write_files
from comparisons.figures.grids import class_values, final_values, regions
from comparisons.figures.kind import FigureSpec, figure_table
from comparisons.figures.lr_finder import (
    finder_applies,
    lr_finder_alt,
    lr_finder_caption,
    lr_finder_data,
)
from comparisons.figures.training import draw_lr_finder, lr_finder_title
from comparisons.figures.verified import verify_experiment
from comparisons.figures.wording import (
    backends_phrase,
    misclassified_count,
    num,
    percent,
    points_phrase,
)
from functional_training import TrajectoryRecord

__all__ = [
    "DEFAULT_SPEC_FIGURES",
    "MAX_PARAMETER_PATHS",
    "SPEC_FRAMES",
    "SPEC_FIGURES",
    "SPEC_REGION_CELLS",
    "draws_regions",
    "render_spec",
    "spec_figure_data",
    "spec_figure_names",
    "write_spec_figures",
]

SPEC_REGION_CELLS = 60
"""Grid cells along the longer feature of a spec's decision regions."""

MAX_PARAMETER_PATHS = 8
"""A spec's parameter figure draws every parameter up to this many; beyond, one line per
leaf (``w``, ``layers.0.w``, ...): its Euclidean norm, which moves when any of its
parameters does, where dozens of lines would be unreadable."""


SPEC_FRAMES = 20
"""A spec's animation has at most this many frames after the first (every ``ceil(S / 20)``
updates, and the last)."""

DEFAULT_SPEC_FIGURES = ("loss", "parameters", "decision-regions")
"""What ``figures --spec FILE`` draws without ``--only`` (regions only where they apply)."""


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


def _regions_problem(figure: str, experiment: Experiment) -> str | None:
    """Why ``figure`` (decision regions) cannot be drawn for ``experiment``, or ``None``."""
    if not experiment.classifies:
        return (f"{figure} draws decision regions: it needs a classifier (a classification "
                f"loss), and {experiment.name} uses {experiment.loss}")
    if experiment.features != 2:
        return (f"{figure} draws decision regions over two features; {experiment.name} has "
                f"{experiment.features}")
    return None


def spec_figure_names(experiment: Experiment, only: Collection[str] | None = None
                      ) -> tuple[str, ...]:
    """The figures to draw for ``experiment``: ``only`` (checked), or the default set.

    Without ``only``: :data:`DEFAULT_SPEC_FIGURES`. With it: those names in
    :data:`SPEC_FIGURES` order; each must be a spec figure that applies to the
    experiment (``decision-regions`` and ``training-animation``: a classifier of two
    features; ``lr-finder``: :func:`comparisons.figures.lr_finder.finder_applies`).

    Raises:
      ValueError: an unknown name, or a figure that does not apply (one line saying why).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> spec_figure_names(REGISTRY["mlp/moons"], ["training-animation", "loss"])
      ('loss', 'training-animation')
      >>> spec_figure_names(REGISTRY["full-batch"], ["training-animation"])
      Traceback (most recent call last):
      ...
      ValueError: training-animation draws decision regions: it needs a classifier (a \
classification loss), and full-batch uses half-squared-error
    """
    if only is None:
        return DEFAULT_SPEC_FIGURES
    wanted = set(only)
    unknown = sorted(wanted - set(SPEC_FIGURES))
    if unknown:
        raise ValueError(f"unknown spec figure {unknown[0]!r}; known: {', '.join(SPEC_FIGURES)}")
    problems = {"decision-regions": _regions_problem("decision-regions", experiment),
                "training-animation": _regions_problem("training-animation", experiment),
                "lr-finder": finder_applies(experiment)}
    for name in SPEC_FIGURES:
        if name in wanted and problems.get(name) is not None:
            raise ValueError(problems[name])
    return tuple(name for name in SPEC_FIGURES if name in wanted)


def _animation_data(experiment: Experiment, run: TrajectoryRecord, tol: float) -> dict:
    frames = frame_data("training-animation", experiment, run, tol,
                        every=max(1, math.ceil(run.steps / SPEC_FRAMES)))
    return {**frames, "experiment": experiment.name,
            "class_names": [_class_name(c, experiment.loss) for c in class_values(experiment)],
            "x_label": _feature_label(experiment, 0), "y_label": _feature_label(experiment, 1),
            "equal_aspect": False, "loss_label": _loss_name(experiment)}


def _loss_name(experiment: Experiment) -> str:
    return experiment.loss + (" + L2 penalty" if experiment.l2 else "")


def spec_figure_data(experiment: Experiment, *, backends: Sequence[str] | None = None,
                     only: Collection[str] | None = None) -> dict:
    """Verify a user's experiment on every backend and collect what its figures draw.

    Figures (:data:`SPEC_FIGURES`): ``loss`` (training loss per step, validation
    and mini-batch losses where they exist, accuracy beside it for a classifier),
    ``parameters`` (every parameter, or per-leaf norms beyond
    :data:`MAX_PARAMETER_PATHS`) and, where :func:`draws_regions`,
    ``decision-regions`` (a grid from the verified final parameters, checked
    against JAX at every point, as the course's region figures are); with
    ``only`` (:func:`spec_figure_names`), exactly those, ``lr-finder`` and
    ``training-animation`` included.

    Returns:
      ``{"experiment", "description", "backends", "reference", "tolerance",
      "unavailable", "figures": {name: data}}``, JSON-ready.

    Raises:
      ValueError: ``only`` names an unknown figure or one that does not apply.
      UnverifiedTrajectoryError: the backends disagree, or a figure's data does
        not match the verified trajectory.
    """
    chosen = spec_figure_names(experiment, only)
    trajectories, verdict = verify_experiment(experiment, backends=backends)
    run = trajectories[verdict.reference]
    common = {"experiment": experiment.name, "steps": run.steps,
              "first_nonfinite_step": run.first_nonfinite_step}
    loss_name = _loss_name(experiment)
    loss = {**common, "train_loss": run.train_loss, "val_loss": run.val_loss,
            "batch_loss": None if experiment.batch_size is None else run.batch_loss,
            "loss_name": loss_name,
            "log": _log_scale(run.train_loss, run.val_loss, run.batch_loss),
            "train_accuracy": run.extras.get("train_accuracy"),
            "val_accuracy": run.extras.get("val_accuracy")}
    figures = {"loss": loss, "parameters": {**common, **_parameter_series(experiment, run),
                                            "count": len(experiment.parameter_names)}}
    if "decision-regions" in chosen and draws_regions(experiment, run):
        names = [_class_name(c, experiment.loss) for c in class_values(experiment)]
        figures["decision-regions"] = {
            **common,
            "regions": regions("decision-regions", experiment, run, verdict.tolerance,
                                cells=SPEC_REGION_CELLS, class_names=names,
                                x_label=_feature_label(experiment, 0),
                                y_label=_feature_label(experiment, 1)),
            "train_accuracy": run.extras["train_accuracy"][-1],
            "val_accuracy": (run.extras["val_accuracy"][-1]
                             if "val_accuracy" in run.extras else None),
        }
    if "training-animation" in chosen:
        figures["training-animation"] = _animation_data(experiment, run, verdict.tolerance)
    if "lr-finder" in chosen:
        figures["lr-finder"] = {**lr_finder_data(experiment, backends=list(trajectories)),
                                "loss_label": loss_name}
    figures = {name: figures[name] for name in chosen if name in figures}
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
    return text + _nonfinite_clause(d) + f" {backends_phrase(c)}."


def _spec_loss_alt(d: Mapping) -> str:
    lines = [f"training loss goes from {num(d['train_loss'][0])} to {num(d['train_loss'][-1])}"]
    if d["val_loss"] is not None:
        lines.append(f"validation loss from {num(d['val_loss'][0])} to "
                     f"{num(d['val_loss'][-1])}")
    if d["train_accuracy"] is not None:
        lines.append(f"training accuracy from {percent(d['train_accuracy'][0])} to "
                     f"{percent(d['train_accuracy'][-1])}")
    return f"Line chart over {d['steps']} updates: " + "; ".join(lines) + "."


def _spec_parameters_caption(d: Mapping, c: Mapping) -> str:
    what = (f"The Euclidean norm of each parameter leaf (the model has {d['count']} "
            f"parameters, more than {MAX_PARAMETER_PATHS} lines can show)"
            if d["norms"] else f"Each of the {d['count']} parameters")
    return (f"{what} before each of the {d['steps']} updates and after the last, from the "
            f"verified reference trajectory.{_nonfinite_clause(d)} {backends_phrase(c)}.")


def _spec_parameters_alt(d: Mapping) -> str:
    moves = "; ".join(f"{'norm of ' if d['norms'] else ''}{name} from {num(v[0])} to "
                      f"{num(v[-1])}" for name, v in d["series"].items())
    return f"Line chart over {d['steps']} updates: {moves}."


def _spec_regions_caption(d: Mapping, c: Mapping) -> str:
    regions = d["regions"]
    validation = ("" if d["val_accuracy"] is None else
                  f", validation {percent(d['val_accuracy'])} (hollow markers)")
    return (
        f"The classes the trained model predicts over its two features after {d['steps']} "
        f"updates, on a grid of {len(regions['xs'])} × {len(regions['ys'])} points computed "
        "from the verified final parameters with the hand-written forward and checked point "
        "by point against the JAX objective; the black line is the decision boundary. Training "
        f"accuracy {percent(d['train_accuracy'])}{validation}; ringed examples are "
        f"misclassified. {backends_phrase(c)}."
    )


def _spec_regions_alt(d: Mapping) -> str:
    regions = d["regions"]
    return (
        f"Scatter plot of {len(regions['train']['x'])} training examples "
        f"({points_phrase(regions)}) over the model's shaded class regions, split by a black "
        f"decision boundary; {_ringed(regions)} ringed as misclassified."
    )


def _feature_label(experiment, i: int) -> str:
    """The axis label of feature ``i``: the data file's column name, else ``feature x[i]``."""
    names = experiment.feature_names
    return names[i] if names is not None and i < len(names) else f"feature x[{i}]"


def _ringed(regions: Mapping) -> str:
    """``3 training and 1 validation examples are``; validation only where there is a set.

    Example:
      >>> _ringed({"train": {"predicted": [0, 1], "label": [1, 1]}, "validation": None})
      '1 training example is'
    """
    train = misclassified_count(regions["train"])
    if not regions.get("validation"):
        return f"{train} training example{' is' if train == 1 else 's are'}"
    return (f"{train} training and {misclassified_count(regions['validation'])} validation "
            "examples are")


SPEC_FIGURES: dict[str, FigureSpec] = figure_table(
    FigureSpec("loss", lambda d: f"{d['experiment']}: loss per update",
               _draw_spec_loss, _spec_loss_caption, _spec_loss_alt),
    FigureSpec("parameters",
               lambda d: (f"{d['experiment']}: "
                          + ("parameter norms" if d["norms"] else "parameters") + " per update"),
               _draw_spec_parameters, _spec_parameters_caption, _spec_parameters_alt),
    FigureSpec("decision-regions",
               lambda d: f"{d['experiment']}: decision regions after {d['steps']} updates",
               draw_regions, _spec_regions_caption, _spec_regions_alt),
    FigureSpec("lr-finder", lr_finder_title, draw_lr_finder, lr_finder_caption, lr_finder_alt),
    FigureSpec("training-animation",
               lambda d: f"{d['experiment']}: decision regions update by update",
               draw_small_multiples,
               lambda d, c: animation_caption(
                   d, c, run=f"The verified run of {d['experiment']} ({d['steps']} updates).")
               + f" {backends_phrase(c)}.",
               animation_alt,
               extra_files=lambda d: animation_files(
                   d, f"{d['experiment']}: decision regions update by update")),
)
"""The figures ``python -m comparisons figures --spec FILE`` draws (regions only where
:func:`draws_regions`)."""


def write_spec_figures(data: Mapping, out_dir: Path,
                       formats: Sequence[str] = style.FORMATS) -> list[Path]:
    """Draw and write a spec's figures (data from :func:`spec_figure_data`), README and data.

    Returns:
      Every path written: figures in :data:`SPEC_FIGURES` order, then README and data.
    """
    formats = parse_formats(formats)
    intro = (f"Rendered by `python -m comparisons figures --spec` from trajectories verified in "
             f"float64 just before drawing: {backends_phrase(data)}, reference "
             f"{data['reference']}. `{DATA_FILE}` holds exactly the data each figure draws.")
    text = readme(SPEC_FIGURES, data, formats, title=f"Figures of {data['experiment']}",
                  intro=intro)
    return write_files(SPEC_FIGURES, data, out_dir, formats, text)


def render_spec(experiment: Experiment, out_dir: Path, formats: Sequence[str] = style.FORMATS,
                *, backends: Sequence[str] | None = None,
                only: Collection[str] | None = None) -> list[Path]:
    """Verify a user's experiment, then write its figures, ``README.md`` and :data:`DATA_FILE`.

    Nothing is written unless every backend agrees. ``only``: the figures to draw
    (:func:`spec_figure_names`; default :data:`DEFAULT_SPEC_FIGURES`).

    Raises:
      ValueError: an unknown or empty format list; ``only`` names an unknown figure
        or one that does not apply.
      UnverifiedTrajectoryError: the backends disagree (one line naming the mismatch).
    """
    formats = parse_formats(formats)
    return write_spec_figures(spec_figure_data(experiment, backends=backends, only=only),
                              out_dir, formats)
