"""The figures of watching training: the learning-rate finder and the moons training animation.

Two :class:`FigureSpec` rows in :data:`TRAINING_FIGURES`, on micrograd's moons
network (``mlp/moons``):

- ``lr-finder``: a learning-rate range test verified on every backend, its
  steepest and valley suggestions, and the final loss of a whole run at each
  constant rate (:mod:`comparisons.figures.lr_finder`);
- ``moons-training-animation``: the decision boundary and the loss over the
  verified run's updates, a GIF beside a static small-multiples figure
  (:mod:`comparisons.figures.animation`).

Example:
  >>> [row.name for row in TRAINING_FIGURES]
  ['lr-finder', 'moons-training-animation']
"""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib.figure import Figure

from comparisons import plots
from comparisons.experiments import REGISTRY
from comparisons.figures.animation import (
    animation_alt,
    animation_caption,
    animation_files,
    draw_small_multiples,
    frame_data,
)
from comparisons.figures.classifiers import MOONS
from comparisons.figures.kind import FigureSpec
from comparisons.figures.lr_finder import (
    course_lr_finder_data,
    lr_finder_alt,
    lr_finder_caption,
)
from comparisons.figures.verified import VerifiedRuns
from comparisons.figures.wording import backends_phrase, num

__all__ = ["ANIMATION_LOOK", "TRAINING_FIGURES", "draw_lr_finder", "lr_finder_title"]

ANIMATION_LOOK = {"class_names": ["−1", "+1"], "x_label": "x₁", "y_label": "x₂",
                  "equal_aspect": True, "loss_label": "hinge loss + L2"}
"""How the moons frames are labelled (the classes and features of micrograd's demo)."""


def draw_lr_finder(fig: Figure, data: Mapping) -> None:
    """Two panels sharing the log learning-rate axis (:func:`comparisons.plots.plot_lr_finder`)."""
    axes = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    plots.plot_lr_finder(list(axes), learning_rates=data["learning_rates"],
                         batch_loss=data["batch_loss"], smoothed=data["smoothed"],
                         stop_step=data["stop_step"], steepest=data["steepest"],
                         valley=data["valley"], final=data["final"],
                         loss_label=data.get("loss_label", "loss"))


def lr_finder_title(d: Mapping) -> str:
    """The lr-finder's title: its suggestions."""
    parts = [f"{name} {num(d[name]['rate'], 2)}" for name in ("steepest", "valley")
             if d[name] is not None]
    return ("Range test: " + (", ".join(parts) if parts else "no suggestion")
            + "; whole runs below judge them")


def _moons_animation_data(v: VerifiedRuns) -> dict:
    return {**frame_data("moons-training-animation", REGISTRY[MOONS], v.ref(MOONS),
                         v.tolerance), **ANIMATION_LOOK}


def _animation_title(d: Mapping) -> str:
    return "Watching the moons network learn: its boundary bends update by update"


def _moons_animation_caption(d: Mapping, c: Mapping) -> str:
    run = (f"The verified mlp/moons run (the run of moons-decision-boundary and moons-training: "
           f"a 2-16-16-1 ReLU network, full-batch SGD, {d['steps']} updates).")
    return animation_caption(d, c, run=run) + f" {backends_phrase(c)}."


TRAINING_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "lr-finder", lr_finder_title, draw_lr_finder, lr_finder_caption, lr_finder_alt,
        (MOONS,), lambda v: {**course_lr_finder_data(v, MOONS),
                             "loss_label": "hinge loss + L2"},
        summary="a learning-rate range test on the moons network, its suggestions judged by "
                "whole runs",
    ),
    FigureSpec(
        "moons-training-animation", _animation_title, draw_small_multiples,
        _moons_animation_caption, animation_alt, (MOONS,), _moons_animation_data,
        extra_files=lambda d: animation_files(d, _animation_title(d)),
        summary="the moons network's decision boundary and loss over the updates, as a GIF",
    ),
)
"""The training figures, after the classifier figures (one row per figure)."""
