"""Classifier figures: decision regions, loss and accuracy per step, parameter paths.

The decision-region plots draw a grid of model outputs that
:mod:`comparisons.figures` computed from verified final parameters; here a
grid only becomes regions: for ``k`` outputs per point (logits) class ``c``
owns the points where its margin ``m_c = z_c - max_{c' != c} z_c'`` is
positive, for one output (a score ``s``) the positive class owns ``s > 0``
(margins ``-s`` and ``s``). Each region is a filled contour of its margin at
0, so its edge is the linear interpolation of the outputs between grid points
(exact for a linear model, and within one grid cell of the truth for a ReLU
network, whose outputs are piecewise linear). A grid of logits is first refined
(:func:`refine`, :data:`REFINE` points per cell) because a margin bends where a
third class takes over. Axis limits are set by hand near float64's maximum
(a diverged run), where matplotlib's own autoscaling overflows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter

from comparisons import figure_style as style
from functional_training import leaf_of

BINARY_COLORS = (style.OKABE_ITO["blue"], style.OKABE_ITO["vermillion"])
"""Colours of a two-class figure's classes: negative (or 0) blue, positive vermillion."""

CLASS_COLORS = (style.OKABE_ITO["blue"], style.OKABE_ITO["bluish green"],
                style.OKABE_ITO["vermillion"], style.OKABE_ITO["orange"],
                style.OKABE_ITO["reddish purple"], style.OKABE_ITO["sky blue"])
"""Colours of the classes of a figure with three or more, in class order (cool to warm
for the first three, whose light fills stay apart)."""

CLASS_MARKERS = ("o", "s", "^", "D", "v", "P")
"""Marker of class ``i``: shapes tell the classes apart in greyscale too."""

REGION_ALPHA = 0.2
"""Opacity of a region's fill: light enough that points of every class stay visible."""


def class_color(index: int, count: int) -> str:
    """The colour of class number ``index`` of ``count`` classes.

    Example:
      >>> class_color(1, 2) == style.OKABE_ITO["vermillion"]
      True
      >>> class_color(1, 3) == style.OKABE_ITO["bluish green"]
      True
    """
    colors = BINARY_COLORS if count == 2 else CLASS_COLORS
    return colors[index % len(colors)]


def margins(outputs: np.ndarray, *, scores: bool) -> np.ndarray:
    """Per class, ``m_c = z_c - max_{c' != c} z_c'`` (class ``c`` wins where ``m_c > 0``).

    Args:
      outputs: ``(..., k)`` logits, or (``scores``) one output per point.
      scores: whether ``outputs`` holds one score per point (margins ``-s`` and ``s``).

    Returns:
      ``(k, ...)`` margins (``k = 2`` for scores).

    Example:
      >>> margins(np.array([[2.0, 0.5, 1.0]]), scores=False).tolist()
      [[1.0], [-1.5], [-1.0]]
      >>> margins(np.array([-0.5, 3.0]), scores=True).tolist()
      [[0.5, -3.0], [-0.5, 3.0]]
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if scores:
        return np.stack([-outputs, outputs])
    logits = np.moveaxis(outputs, -1, 0)
    return np.stack([logits[c] - np.delete(logits, c, axis=0).max(axis=0)
                     for c in range(logits.shape[0])])


_HUGE = 1e300
"""Past this, an axis margin of a few percent could overflow float64."""

_LOG_TOP = 1e250
"""The highest top of a log axis: the log tick locator reaches dozens of decades past it."""

REFINE = 8
"""Logit grids are refined this many times per cell before their margins are taken."""


def refine(coords: Sequence[float], values: np.ndarray, axis: int, factor: int) -> tuple:
    """Linear interpolation of ``values`` along ``axis`` at ``factor`` points per grid cell.

    Exact for outputs linear in the features (a linear model's logits), so the
    margins of the refined grid are the true margins there: the corner where a
    third class takes over, which a coarse grid cuts, is drawn to within
    ``1/factor`` of a cell.

    Example:
      >>> xs, v = refine([0.0, 1.0], np.array([0.0, 2.0]), 0, 4)
      >>> xs.tolist(), v.tolist()
      ([0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 0.5, 1.0, 1.5, 2.0])
    """
    coords = np.asarray(coords, dtype=np.float64)
    cells = len(coords) - 1
    t = np.arange(cells * factor + 1) / factor
    low = np.minimum(np.floor(t).astype(int), cells - 1)
    frac = t - low
    fine = coords[low] + (coords[low + 1] - coords[low]) * frac
    values = np.moveaxis(np.asarray(values, dtype=np.float64), axis, 0)
    shape = (-1,) + (1,) * (values.ndim - 1)
    out = values[low] * (1.0 - frac).reshape(shape) + values[low + 1] * frac.reshape(shape)
    return fine, np.moveaxis(out, 0, axis)


def _points(ax: Axes, points: Mapping, classes: Sequence[float], *, hollow: bool,
            prefix: str) -> None:
    label = np.asarray(points["label"])
    xs, ys = np.asarray(points["x"]), np.asarray(points["y"])
    for i, value in enumerate(classes):
        chosen = label == value
        if not chosen.any():
            continue
        color = class_color(i, len(classes))
        ax.scatter(xs[chosen], ys[chosen], s=70 if hollow else 60, marker=CLASS_MARKERS[i],
                   facecolors="white" if hollow else color,
                   edgecolors=color if hollow else "black", linewidths=1.8 if hollow else 0.7,
                   zorder=4, gid=f"{prefix} class {value:g}")
    wrong = np.asarray(points["predicted"]) != label
    if wrong.any():
        ax.scatter(xs[wrong], ys[wrong], s=260, marker="o", facecolors="none",
                   edgecolors="black", linewidths=1.5, zorder=5, gid=f"{prefix} misclassified")


def plot_decision_regions(
    ax: Axes, *, xs: Sequence[float], ys: Sequence[float], outputs: Sequence,
    classes: Sequence[float], class_names: Sequence[str], train: Mapping,
    x_label: str, y_label: str, validation: Mapping | None = None,
    probability_levels: Sequence[float] = (), equal_aspect: bool = False,
    title: str | None = None, legend: bool = True,
) -> None:
    """A trained classifier's regions over two features, with the examples on top.

    Args:
      ax: the Axes to draw on.
      xs, ys: the grid's coordinates along the two features.
      outputs: ``outputs[j][i]`` at ``(xs[i], ys[j])``: a score (one output) or ``k`` logits.
      classes: the class values in the targets' coding, e.g. ``[-1, 1]`` or ``[0, 1, 2]``
        (for one output: the negative class first).
      class_names: what each class means, for the legend.
      train: the training examples: ``{"x", "y", "label", "predicted"}`` lists
        (``predicted``: the trained model's class for the example); a wrong
        prediction is ringed.
      x_label, y_label: the features, with units.
      validation: validation examples in the same form (drawn hollow), or ``None``.
      probability_levels: for one output read as a logit, the probabilities
        ``p`` whose contours ``s = log(p / (1 - p))`` to draw dashed.
      equal_aspect: one unit as long on both axes (features of the same kind).
      title: the panel's title, if any.
      legend: add the legend (:func:`region_legend`) to the figure, outside on the
        right (constrained layout makes room for a figure legend, also beside a panel
        of fixed aspect).
    """
    values = np.asarray(outputs, dtype=np.float64)
    scores = values.ndim == 2
    fine_x, fine_y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    if not scores:  # k logits: their margins bend where a third class takes over
        fine_x, values = refine(xs, values, 1, REFINE)
        fine_y, values = refine(ys, values, 0, REFINE)
    grid_x, grid_y = np.meshgrid(fine_x, fine_y)
    class_margins = margins(values, scores=scores)
    for i, margin in enumerate(class_margins):
        top = float(np.max(margin))
        if top > 0.0:
            ax.contourf(grid_x, grid_y, margin, levels=[0.0, top + 1.0],
                        colors=[class_color(i, len(classes))], alpha=REGION_ALPHA)
    for field in [values] if scores else list(class_margins):
        if float(np.min(field)) < 0.0 < float(np.max(field)):
            contour = ax.contour(grid_x, grid_y, field, levels=[0.0], colors="black",
                                 linewidths=2.0)
            contour.set_gid("decision boundary")
    for p in probability_levels if scores else ():
        logit = math.log(p / (1.0 - p))
        if float(np.min(values)) < logit < float(np.max(values)):
            contour = ax.contour(grid_x, grid_y, values, levels=[logit], colors=style.MUTED,
                                 linewidths=1.4, linestyles="dashed")
            contour.set_gid(f"p = {p:g}")
            ax.clabel(contour, fmt={logit: f"p = {p:g}"}, fontsize=11, inline=True)
    _points(ax, train, classes, hollow=False, prefix="train")
    if validation is not None:
        _points(ax, validation, classes, hollow=True, prefix="validation")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    if equal_aspect:
        ax.set_aspect("equal")
    ax.grid(False)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    if title:
        ax.set_title(title)
    if legend:
        handles, labels = region_legend(class_names, validation=validation is not None,
                                        misclassified=misclassified(train, validation),
                                        probabilities=probability_levels if scores else ())
        ax.get_figure().legend(handles, labels, loc="outside right center", handlelength=3.0)


def misclassified(train: Mapping, validation: Mapping | None = None) -> bool:
    """Whether any example's predicted class differs from its target."""
    parts = (train,) if validation is None else (train, validation)
    return any(p != t for part in parts
               for p, t in zip(part["predicted"], part["label"], strict=True))


def region_legend(class_names: Sequence[str], *, validation: bool, misclassified: bool,
                  probabilities: Sequence[float] = ()) -> tuple[list, list[str]]:
    """Handles and labels of a decision-region legend: one entry per class, then the marks.

    A class's entry shows its region's fill and its marker together; ``probabilities``
    adds the dashed contours of the positive class's probability.

    Example:
      >>> region_legend(["on time", "late"], validation=True, misclassified=False)[1]
      ['on time', 'late', 'hollow: validation', 'decision boundary']
    """
    count = len(class_names)
    handles: list = []
    labels = list(class_names)
    for i in range(count):
        color = class_color(i, count)
        handles.append((Patch(facecolor=color, alpha=REGION_ALPHA + 0.1, edgecolor="none"),
                        Line2D([], [], linestyle="none", marker=CLASS_MARKERS[i], markersize=9,
                               markerfacecolor=color, markeredgecolor="black")))
    if validation:
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=9,
                              markerfacecolor="white", markeredgecolor=style.MUTED,
                              markeredgewidth=1.8))
        labels.append("hollow: validation")
    if misclassified:
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=15,
                              markerfacecolor="none", markeredgecolor="black",
                              markeredgewidth=1.5))
        labels.append("ringed: misclassified")
    handles.append(Line2D([], [], color="black", linewidth=2.0))
    labels.append("decision boundary")
    if probabilities:
        handles.append(Line2D([], [], color=style.MUTED, linewidth=1.4, linestyle="dashed"))
        labels.append(f"p({class_names[-1]}) = " + ", ".join(f"{p:g}" for p in probabilities))
    return handles, labels


def _steps(ax: Axes, label: str = "updates taken, k") -> None:
    ax.set_xlabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10]))


def _bounded_limits(ax: Axes, series: Sequence[Sequence[float] | None], *, log: bool) -> None:
    """Set the y limits (and log scale) by hand when values come near float64's maximum.

    Matplotlib's autoscale margins and log tick locator overflow next to
    ``1.8e308`` (a diverging run's last finite values); the axis then stops at
    :data:`_HUGE` (:data:`_LOG_TOP` on a log axis) and larger values leave the
    top of the panel.
    """
    finite = [v for values in series if values is not None for v in values
              if math.isfinite(v) and (v > 0.0 or not log)]
    huge = bool(finite) and max(map(abs, finite)) > _HUGE / 10
    if finite and log:
        low, high = min(finite), max(finite)
        ax.set_ylim(low / 2, min(high * 2, _LOG_TOP))
    elif huge:
        ax.set_ylim(max(min(finite), -_HUGE), min(max(finite), _HUGE))
    if log:
        ax.set_yscale("log")


def plot_loss_curves(
    ax: Axes, *, train_loss: Sequence[float], val_loss: Sequence[float] | None = None,
    batch_loss: Sequence[float] | None = None, ylabel: str = "mean loss", log: bool = False,
) -> None:
    """Full training loss per step, the validation loss and each batch's loss where they exist.

    Args:
      ax: the Axes to draw on.
      train_loss: full training loss at ``params[k]``, k = 0..S.
      val_loss: validation loss at ``params[k]``, or ``None``.
      batch_loss: the loss of batch k at ``params[k]`` (its gradient made update k),
        k = 0..S-1, or ``None`` (full batch: it equals ``train_loss[k]``).
      ylabel: the loss and its unit.
      log: a log-scaled loss axis.
    """
    steps = np.arange(len(train_loss))
    if batch_loss is not None:
        ax.plot(np.arange(len(batch_loss)), batch_loss, color=style.OKABE_ITO["vermillion"],
                linewidth=1.0, marker="D", markersize=4, alpha=0.8, gid="batch loss",
                label="mini-batch loss (the batch each update used)")
    ax.plot(steps, train_loss, color=style.TRAIN, gid="train loss", label="training loss")
    if val_loss is not None:
        ax.plot(steps, val_loss, color=style.VALIDATION, linestyle="dashed",
                gid="validation loss", label="validation loss (never used for updates)")
    _bounded_limits(ax, (train_loss, val_loss, batch_loss), log=log)
    ax.set_ylabel(ylabel)
    _steps(ax)
    ax.legend(loc="best")


def plot_accuracy(
    ax: Axes, *, train_accuracy: Sequence[float], val_accuracy: Sequence[float] | None = None,
) -> None:
    """The fraction of examples classified right, per step (at ``params[k]``), in percent.

    Args:
      ax: the Axes to draw on.
      train_accuracy: training accuracy at ``params[k]``, k = 0..S.
      val_accuracy: validation accuracy at ``params[k]``, or ``None``.
    """
    steps = np.arange(len(train_accuracy))
    ax.plot(steps, train_accuracy, color=style.TRAIN, drawstyle="steps-post",
            gid="train accuracy", label="training examples")
    if val_accuracy is not None:
        ax.plot(steps, val_accuracy, color=style.VALIDATION, linestyle="dashed",
                drawstyle="steps-post", gid="validation accuracy",
                label="validation examples")
    ax.set_ylim(-0.03, 1.03)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_ylabel("classified right (%)")
    _steps(ax)
    ax.legend(loc="lower right")


def all_right_from(accuracy: Sequence[float]) -> int | None:
    """The first step from which every later accuracy is 1 (``None`` if the last is not).

    Example:
      >>> all_right_from([0.5, 1.0, 0.9, 1.0, 1.0]), all_right_from([1.0, 0.5])
      (3, None)
    """
    if not accuracy or accuracy[-1] != 1.0:
        return None
    k = len(accuracy) - 1
    while k > 0 and accuracy[k - 1] == 1.0:
        k -= 1
    return k


def plot_classifier_training(
    axes: Sequence[Axes], *, train_loss: Sequence[float], train_accuracy: Sequence[float],
    learning_rate: Sequence[float] | None = None, loss_label: str = "mean loss",
    step_label: str = "updates taken, k",
) -> None:
    """Loss and accuracy of a classifier per step, and the scheduled learning rate.

    Args:
      axes: the loss panel, the accuracy panel and (with ``learning_rate``) the rate's.
      train_loss: full training loss (penalty included) at ``params[k]``, k = 0..S.
      train_accuracy: training accuracy at ``params[k]``, k = 0..S.
      learning_rate: the rate update k used, k = 0..S-1, or ``None``.
      loss_label: the loss's name, for the axis.
      step_label: the x axis' label (what an update is).
    """
    loss_ax, accuracy_ax, *rest = axes
    steps = np.arange(len(train_loss))
    loss_ax.plot(steps, train_loss, color=style.OKABE_ITO["black"], gid="train loss")
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel(loss_label)
    loss_ax.set_title("training loss")
    _steps(loss_ax, step_label)
    plot_accuracy(accuracy_ax, train_accuracy=train_accuracy)
    accuracy_ax.set_xlabel(step_label)
    accuracy_ax.get_legend().remove()
    accuracy_ax.set_title("training accuracy")
    settled = all_right_from(train_accuracy)
    if settled is not None:
        accuracy_ax.axvline(settled, color=style.MUTED, linestyle="dotted", linewidth=1.4,
                            gid="all right from")
        accuracy_ax.annotate(f"every example right\nfrom update {settled} on",
                             xy=(settled, 0.5), xytext=(-8, 0), textcoords="offset points",
                             color=style.MUTED, fontsize=11, ha="right", va="center")
    if rest and learning_rate is not None:
        rate_ax = rest[0]
        loss_ax.tick_params(labelbottom=False)
        loss_ax.set_xlabel("")
        rate_ax.plot(np.arange(len(learning_rate)), learning_rate, color=style.GOOD,
                     drawstyle="steps-post", gid="learning rate")
        rate_ax.set_ylabel("rate")
        rate_ax.set_ylim(0.0, max(learning_rate) * 1.15)
        rate_ax.set_title(f"learning rate: {learning_rate[0]:g} → {learning_rate[-1]:.3g}",
                          fontsize=12, fontweight="normal", loc="left")
        _steps(rate_ax, step_label)


def parameter_groups(names: Sequence[str]) -> dict[str, list[str]]:
    """Scalar parameter names grouped by leaf: ``layers.0.w[1,2]`` -> ``layers.0.w``.

    Example:
      >>> parameter_groups(["layers.0.w[0,0]", "layers.0.w[0,1]", "layers.0.b[0]", "w", "b"])
      {'layers.0.w': ['layers.0.w[0,0]', 'layers.0.w[0,1]'], 'layers.0.b': ['layers.0.b[0]'], \
'w': ['w'], 'b': ['b']}
    """
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(leaf_of(name), []).append(name)
    return groups


def plot_parameter_paths(
    ax: Axes, *, series: Mapping[str, Sequence[float]], norms: bool,
) -> None:
    """Every parameter's value per step, or (for many) each leaf's Euclidean norm.

    Args:
      ax: the Axes to draw on.
      series: name -> values at ``params[k]``, k = 0..S: scalar parameters, or
        (``norms``) leaves such as ``layers.0.w`` with ``sqrt(sum of squares)``.
      norms: whether ``series`` holds leaf norms.
    """
    colors = [c for name, c in style.OKABE_ITO.items() if name != "yellow"][1:]
    colors.append(style.OKABE_ITO["black"])  # yellow is too faint for a thin line on white
    linestyles = ("solid", "dashed", "dotted", "dashdot")
    for i, (name, values) in enumerate(series.items()):
        label = f"‖{name}‖" if norms else name
        ax.plot(np.arange(len(values)), values, color=colors[i % len(colors)],
                linestyle=linestyles[(i // len(colors)) % len(linestyles)],
                gid=f"param {name}", label=f"{label}: {values[0]:.3g} → {values[-1]:.3g}")
    _bounded_limits(ax, list(series.values()), log=False)
    ax.set_ylabel("Euclidean norm of the leaf" if norms else "parameter value")
    _steps(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
              ncols=1 if len(series) <= 12 else 2)
