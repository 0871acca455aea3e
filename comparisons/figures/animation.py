"""Training you can watch: a classifier's decision boundary and loss over its updates.

The frames are grids of the model's outputs at recorded steps (every
:data:`FRAME_EVERY` updates and the last), each from the verified trajectory's
parameters at that step: computed with the hand-written forward and checked
against the JAX objective at every grid point, as the final regions are
(:class:`comparisons.figures.grids.Forward`). At each frame the forward must
also reproduce the outputs the trajectory recorded at the training examples,
and the share it classifies right must equal the recorded ``train_accuracy``
(:func:`frame_data`).

Files: the figure itself is a static small-multiples panel for print
(:data:`SNAPSHOTS` steps and the loss curve); :func:`animation_files` adds the
animation, ``<name>.gif``, written with matplotlib's
:class:`~matplotlib.animation.PillowWriter` (:data:`GIF_DPI`, :data:`GIF_FPS`;
a frame per recorded step, the last held for :data:`HOLD_LAST` frames), and
``<name>.mp4`` only where ffmpeg is on ``PATH`` (:func:`mp4_available`). Frames
are drawn by Agg at a fixed size and dpi and Pillow's GIF encoder adds no
timestamp, so the GIF's bytes depend only on the data and the library versions.

Example:
  >>> frame_steps(100, 5)[:3], frame_steps(100, 5)[-1], frame_steps(7, 5)
  ([0, 5, 10], 100, [0, 5, 7])
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
from matplotlib import animation
from matplotlib.figure import Figure

from comparisons import figure_style as style
from comparisons import plots
from comparisons.experiments import Experiment
from comparisons.figures.grids import Forward, class_values, grid_axes, region_grid
from comparisons.figures.verified import UnverifiedTrajectoryError, require_close
from comparisons.figures.wording import num, percent
from comparisons.losses import loss_pieces
from functional_training import TrajectoryRecord

__all__ = [
    "ANIMATION_CELLS",
    "FRAME_EVERY",
    "GIF_DPI",
    "GIF_FPS",
    "HOLD_LAST",
    "MAX_GIF_BYTES",
    "SMALL_MARKERS",
    "SNAPSHOTS",
    "animation_files",
    "draw_frame",
    "draw_small_multiples",
    "frame_data",
    "frame_steps",
    "gif_bytes",
    "mp4_available",
]

FRAME_EVERY = 5
"""Updates between frames (the last step is always a frame): 21 frames for 100 updates."""

ANIMATION_CELLS = 30
"""Grid cells along the longer feature of each frame (the committed data stores every frame)."""

SNAPSHOTS = (0.0, 0.05, 0.1, 0.2, 0.35, 0.6, 1.0)
"""The static small-multiples figure's frames: those nearest these fractions of the run
(learning is fastest early, so early moments are closer together)."""

SMALL_MARKERS = 0.3
"""Marker areas in the small multiples, as a share of the full-size regions figure's."""

GIF_DPI = 96
"""The GIF's frames: the figure size at 96 dpi, 960 x 540 pixels."""

GIF_FPS = 4
"""Frames per second of the animation."""

HOLD_LAST = 4
"""The last frame is shown this many frame times (1 s), so the result can be read (Pillow
merges the identical copies into one frame of that duration)."""

MAX_GIF_BYTES = 3_000_000
"""The GIF must stay under 3 MB (checked when it is written)."""


def frame_steps(steps: int, every: int = FRAME_EVERY) -> list[int]:
    """The steps drawn as frames: ``0, every, 2 every, ...`` and ``steps``."""
    return sorted({*range(0, steps + 1, every), steps})


def _at(trajectory: TrajectoryRecord, step: int) -> dict[str, float]:
    return {name: values[step] for name, values in trajectory.params.items()}


def _recorded(experiment: Experiment, trajectory: TrajectoryRecord, step: int) -> list:
    flat = trajectory.predictions[step]
    k = experiment.outputs
    return flat if k == 1 else [flat[i:i + k] for i in range(0, len(flat), k)]


def frame_data(figure: str, experiment: Experiment, trajectory: TrajectoryRecord, tol: float,
               *, cells: int = ANIMATION_CELLS, every: int = FRAME_EVERY) -> dict:
    """Every frame of a 2-feature classifier's run, verified (see the module docstring).

    A run whose values become non-finite at step ``b`` has frames up to step ``b - 1``.

    Returns:
      ``{"xs", "ys", "classes", "points": {"x", "y", "label"}, "steps", "loss",
      "accuracy", "frames": [{"step", "outputs", "predicted"}]}``; ``loss`` and
      ``accuracy`` are the whole run's, per step.

    Raises:
      UnverifiedTrajectoryError: a frame's outputs or accuracy differ from the run's.
    """
    label_of = loss_pieces(experiment.loss).manual_label
    rows = experiment.train
    xs, ys = grid_axes([row[:2] for row in (*rows, *(experiment.validation or ()))], cells)
    frames = []
    bad = trajectory.first_nonfinite_step
    for step in frame_steps(trajectory.steps if bad is None else bad - 1, every):
        forward = Forward(experiment, _at(trajectory, step))
        ours = forward(experiment.x_rows, figure=figure, what=f"at step {step}", tol=tol)
        recorded = _recorded(experiment, trajectory, step)
        for expected, actual in zip(recorded, ours, strict=True):
            pairs = (zip(expected, actual, strict=True) if isinstance(expected, list)
                     else [(expected, actual)])
            for e, a in pairs:
                require_close(figure, f"the forward's output at a training example, step {step}",
                              e, a, tol)
        predicted = [label_of(out) for out in recorded]
        right = sum(p == row[-1] for p, row in zip(predicted, rows, strict=True)) / len(rows)
        if right != trajectory.extras["train_accuracy"][step]:
            raise UnverifiedTrajectoryError(
                f"refusing to draw {figure}: {right!r} of the examples are right at step {step}, "
                f"but the verified train_accuracy is {trajectory.extras['train_accuracy'][step]!r}")
        frames.append({"step": step, "predicted": predicted,
                       "outputs": region_grid(figure, forward, xs, ys, tol)})
    return {
        "xs": xs, "ys": ys, "classes": class_values(experiment),
        "points": {"x": [row[0] for row in rows], "y": [row[1] for row in rows],
                   "label": [row[-1] for row in rows]},
        "steps": trajectory.steps, "loss": list(trajectory.train_loss),
        "accuracy": list(trajectory.extras["train_accuracy"]), "frames": frames,
    }


def _snapshots(frames: Sequence[Mapping]) -> list[Mapping]:
    """The frames nearest each fraction of :data:`SNAPSHOTS` of the run (each once)."""
    last = frames[-1]["step"]
    chosen = []
    for fraction in SNAPSHOTS:
        frame = min(frames, key=lambda f: (abs(f["step"] - fraction * last), f["step"]))
        if frame not in chosen:
            chosen.append(frame)
    return chosen


def _regions(data: Mapping, frame: Mapping) -> dict:
    points = data["points"]
    return {"xs": data["xs"], "ys": data["ys"], "outputs": frame["outputs"],
            "classes": data["classes"], "class_names": data["class_names"],
            "train": {**points, "predicted": frame["predicted"]},
            "x_label": data["x_label"], "y_label": data["y_label"],
            "equal_aspect": data["equal_aspect"]}


def _frame_title(data: Mapping, frame: Mapping, *, short: bool = False) -> str:
    step = frame["step"]
    if short:
        return f"k = {step}: {percent(data['accuracy'][step])} right"
    return (f"after {step} update{'' if step == 1 else 's'}: "
            f"{percent(data['accuracy'][step])} right")


def draw_small_multiples(fig: Figure, data: Mapping) -> None:
    """The static figure: :data:`SNAPSHOTS` frames' regions and the loss curve, 2 rows of 4."""
    chosen = _snapshots(data["frames"])
    axes = fig.subplots(2, 4).ravel()
    for ax, frame in zip(axes, chosen, strict=False):
        plots.plot_decision_regions(ax, **_regions(data, frame), legend=False)
        ax.set_title(_frame_title(data, frame, short=True), fontsize=13)
        plots.shrink_markers(ax, SMALL_MARKERS)
        ax.set_xlabel(data["x_label"], fontsize=10, labelpad=1)
        ax.set_ylabel(data["y_label"], fontsize=10, labelpad=1)
        ax.tick_params(labelsize=9)
    for ax in axes[len(chosen):-1]:
        ax.set_axis_off()
    plots.plot_training_progress(axes[-1], loss=data["loss"], accuracy=data["accuracy"],
                                 marked=[f["step"] for f in chosen],
                                 loss_label=data["loss_label"])


def draw_frame(fig: Figure, data: Mapping, frame: Mapping) -> None:
    """One animation frame on ``fig`` (cleared first): the regions, and the loss with a marker."""
    fig.clear()
    left, right = fig.subplots(1, 2, width_ratios=[1.1, 1])
    plots.plot_decision_regions(left, **_regions(data, frame), legend=False,
                                title=_frame_title(data, frame))
    plots.plot_training_progress(right, loss=data["loss"], accuracy=data["accuracy"],
                                 marked=[frame["step"]], loss_label=data["loss_label"])


def _written(writer: animation.AbstractMovieWriter, suffix: str, data: Mapping,
             title: str) -> bytes:
    """Every frame of ``data``, the last shown :data:`HOLD_LAST` times, through ``writer``.

    The figure is :data:`~comparisons.figure_style.FIGURE_SIZE` at :data:`GIF_DPI`
    under the shared style; matplotlib's writers write to a named file, so they
    write into a temporary directory and the bytes are read back.
    """
    frames = list(data["frames"]) + [data["frames"][-1]] * (HOLD_LAST - 1)
    with matplotlib.rc_context(style.STYLE), tempfile.TemporaryDirectory() as tmp:
        fig = style.new_figure()
        path = Path(tmp) / f"animation.{suffix}"
        with writer.saving(fig, str(path), dpi=GIF_DPI):
            for frame in frames:
                draw_frame(fig, data, frame)
                fig.suptitle(title)
                writer.grab_frame()
        return path.read_bytes()


def gif_bytes(data: Mapping, title: str) -> bytes:
    """The animation as GIF bytes: every frame of ``data`` with matplotlib's PillowWriter.

    Raises:
      ValueError: the GIF would be :data:`MAX_GIF_BYTES` or larger.
    """
    payload = _written(animation.PillowWriter(fps=GIF_FPS), "gif", data, title)
    if len(payload) >= MAX_GIF_BYTES:
        raise ValueError(f"the animation is {len(payload)} bytes, over {MAX_GIF_BYTES}")
    return payload


def mp4_available() -> bool:
    """Whether ffmpeg is on ``PATH`` (matplotlib's ffmpeg writer), so an MP4 can be written."""
    return shutil.which("ffmpeg") is not None and animation.writers.is_available("ffmpeg")


def mp4_bytes(data: Mapping, title: str) -> bytes:
    """The animation as MP4 bytes with matplotlib's ffmpeg writer (bit-exact flags, no metadata).

    Only called where :func:`mp4_available`.
    """
    writer = animation.FFMpegWriter(
        fps=GIF_FPS, codec="libx264",
        extra_args=["-pix_fmt", "yuv420p", "-fflags", "+bitexact", "-flags:v", "+bitexact",
                    "-map_metadata", "-1"])
    return _written(writer, "mp4", data, title)


def animation_files(data: Mapping, title: str) -> dict[str, bytes]:
    """``{"gif": ...}``, and ``"mp4"`` where :func:`mp4_available`: the animation's own files."""
    files = {"gif": gif_bytes(data, title)}
    if mp4_available():
        files["mp4"] = mp4_bytes(data, title)
    return files


def _first_all_right(accuracy: Sequence[float]) -> int | None:
    return plots.all_right_from(accuracy)


def animation_caption(d: Mapping, c: Mapping, *, run: str) -> str:
    """The README caption: what the frames are, how they are verified, the files."""
    first = _first_all_right(d["accuracy"])
    steps = [f["step"] for f in _snapshots(d["frames"])]
    return (
        f"{run} Static figure (for print): the regions the model predicts after "
        + ", ".join(str(s) for s in steps[:-1]) + f" and {steps[-1]} updates, and (bottom "
        "right) the full training loss per update with those steps marked. The animation "
        f"(GIF, {len(d['frames'])} frames at {GIF_FPS} per second, every {FRAME_EVERY} updates "
        "and the last) shows every frame beside the loss curve with a moving marker. Each frame "
        f"is a grid of {len(d['xs'])} × {len(d['ys'])} model outputs from the verified "
        "parameters at that step, computed with the hand-written forward and checked point by "
        "point against the JAX objective; the forward reproduces the outputs the trajectory "
        "recorded at every training example, and its accuracy the recorded train_accuracy. "
        f"Ringed points are misclassified at that step. Accuracy goes from "
        f"{percent(d['accuracy'][0])} to {percent(d['accuracy'][-1])}"
        + (f" (every point from update {first} on)" if first is not None else "")
        + f"; the loss from {num(d['loss'][0])} to {num(d['loss'][-1])}."
    )


def animation_alt(d: Mapping) -> str:
    """The alt text of the static figure (the GIF shows the same frames in turn)."""
    chosen = _snapshots(d["frames"])
    parts = "; ".join(f"after {f['step']} updates {percent(d['accuracy'][f['step']])} right"
                      for f in chosen)
    return (
        f"{len(chosen)} small scatter plots of the training points over the model's shaded "
        "class regions, one per moment of training, and a line chart of the loss: the "
        f"boundary starts {_start_phrase(d)} and bends until it separates the classes; "
        f"{parts}. The loss falls from {num(d['loss'][0])} to {num(d['loss'][-1])}, with the "
        "shown steps marked on it."
    )


def _start_phrase(d: Mapping) -> str:
    classes = {(v > 0.0) if not isinstance(v, list) else v.index(max(v))
               for row in d["frames"][0]["outputs"] for v in row}
    return "with one class everywhere" if len(classes) == 1 else "as a rough line"
