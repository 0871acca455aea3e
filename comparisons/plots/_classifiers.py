"""Classifier figures: decision regions, loss and accuracy per step, parameter paths.

The decision-region plots draw a grid of model outputs that
:mod:`comparisons.figures` computed from verified final parameters; here a
grid only becomes regions: for ``k`` outputs per point (logits) class ``c``
owns the points where its margin ``m_c = z_c - max_{c' != c} z_c'`` is
positive, for one output (a score ``s``) the positive class owns ``s > 0``
(margins ``-s`` and ``s``). Each region is a filled contour of its margin at
0, so its edge is the linear interpolation of the outputs between grid points
(exact for a linear model, and within one grid cell of the truth for a ReLU
network, whose outputs are piecewise linear).
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

CLASS_COLORS = (style.OKABE_ITO["blue"], style.OKABE_ITO["orange"],
                style.OKABE_ITO["vermillion"], style.OKABE_ITO["bluish green"],
                style.OKABE_ITO["reddish purple"], style.OKABE_ITO["sky blue"])
"""Colour of class ``i`` (its index in the figure's ``classes``), everywhere in a figure."""

CLASS_MARKERS = ("o", "s", "^", "D", "v", "P")
"""Marker of class ``i``: shapes tell the classes apart in greyscale too."""

REGION_ALPHA = 0.2
"""Opacity of a region's fill: light enough that points of every class stay visible."""


def class_color(index: int) -> str:
    """The colour of class number ``index``.

    Example:
      >>> class_color(0) == style.OKABE_ITO["blue"]
      True
    """
    return CLASS_COLORS[index % len(CLASS_COLORS)]


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


def _points(ax: Axes, points: Mapping, classes: Sequence[float], *, hollow: bool,
            prefix: str) -> None:
    label = np.asarray(points["label"])
    xs, ys = np.asarray(points["x"]), np.asarray(points["y"])
    for i, value in enumerate(classes):
        chosen = label == value
        if not chosen.any():
            continue
        ax.scatter(xs[chosen], ys[chosen], s=70 if hollow else 60, marker=CLASS_MARKERS[i],
                   facecolors="white" if hollow else class_color(i), edgecolors=class_color(i)
                   if hollow else "black", linewidths=1.6 if hollow else 0.7, zorder=4,
                   gid=f"{prefix} class {value:g}")
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
      legend: draw the legend on this panel.
    """
    grid_x, grid_y = np.meshgrid(np.asarray(xs, dtype=np.float64),
                                 np.asarray(ys, dtype=np.float64))
    values = np.asarray(outputs, dtype=np.float64)
    scores = values.ndim == 2
    class_margins = margins(values, scores=scores)
    for i, margin in enumerate(class_margins):
        top = float(np.max(margin))
        if top > 0.0:
            ax.contourf(grid_x, grid_y, margin, levels=[0.0, top + 1.0], colors=[class_color(i)],
                        alpha=REGION_ALPHA, antialiased=True)
    lines = [values] if scores else list(class_margins)
    for field in lines:
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
        ax.legend(handles=_region_legend(classes, class_names, train, validation),
                  loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def _region_legend(classes, class_names, train, validation) -> list:
    handles = []
    for i, name in enumerate(class_names):
        handles.append(Patch(facecolor=class_color(i), alpha=REGION_ALPHA + 0.15,
                             edgecolor="none", label=f"predicted {name}"))
    for i, name in enumerate(class_names):
        handles.append(Line2D([], [], linestyle="none", marker=CLASS_MARKERS[i], markersize=8,
                              markerfacecolor=class_color(i), markeredgecolor="black",
                              label=f"{name} (training)"))
    if validation is not None:
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=8,
                              markerfacecolor="white", markeredgecolor=style.MUTED,
                              markeredgewidth=1.6, label="hollow: validation"))
    wrong = [p != t for part in (train, validation or {"label": [], "predicted": []})
             for p, t in zip(part["predicted"], part["label"], strict=True)]
    if any(wrong):
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=14,
                              markerfacecolor="none", markeredgecolor="black",
                              markeredgewidth=1.5, label="ringed: misclassified"))
    handles.append(Line2D([], [], color="black", linewidth=2.0, label="decision boundary"))
    return handles


def _steps(ax: Axes, label: str = "SGD updates taken, k") -> None:
    ax.set_xlabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


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
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    _steps(ax)
    ax.legend(loc="upper right")


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


def plot_classifier_training(
    axes: Sequence[Axes], *, train_loss: Sequence[float], train_accuracy: Sequence[float],
    learning_rate: Sequence[float] | None = None, loss_label: str = "mean loss",
) -> None:
    """Loss and accuracy of a classifier per step, and the scheduled learning rate.

    Args:
      axes: the loss panel, the accuracy panel and (with ``learning_rate``) the rate's.
      train_loss: full training loss (penalty included) at ``params[k]``, k = 0..S.
      train_accuracy: training accuracy at ``params[k]``, k = 0..S.
      learning_rate: the rate update k used, k = 0..S-1, or ``None``.
      loss_label: the loss's name, for the axis.
    """
    loss_ax, accuracy_ax, *rest = axes
    steps = np.arange(len(train_loss))
    loss_ax.plot(steps, train_loss, color=style.OKABE_ITO["black"], gid="train loss")
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel(loss_label)
    loss_ax.set_title("training loss")
    _steps(loss_ax)
    plot_accuracy(accuracy_ax, train_accuracy=train_accuracy)
    accuracy_ax.get_legend().remove()
    accuracy_ax.set_title("training accuracy")
    first_full = next((k for k, a in enumerate(train_accuracy) if a == 1.0), None)
    if first_full is not None:
        accuracy_ax.axvline(first_full, color=style.MUTED, linestyle="dotted", linewidth=1.4,
                            gid="first 100%")
        accuracy_ax.annotate(f"100% from update {first_full}", xy=(first_full, 1.0),
                             xytext=(8, -24), textcoords="offset points", color=style.MUTED,
                             fontsize=11)
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
        _steps(rate_ax)


def parameter_groups(names: Sequence[str]) -> dict[str, list[str]]:
    """Scalar parameter names grouped by leaf: ``layers.0.w[1,2]`` -> ``layers.0.w``.

    Example:
      >>> parameter_groups(["layers.0.w[0,0]", "layers.0.w[0,1]", "layers.0.b[0]", "w", "b"])
      {'layers.0.w': ['layers.0.w[0,0]', 'layers.0.w[0,1]'], 'layers.0.b': ['layers.0.b[0]'], \
'w': ['w'], 'b': ['b']}
    """
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(name.split("[", 1)[0], []).append(name)
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
    colors = list(style.OKABE_ITO.values())[1:] + [style.OKABE_ITO["black"]]
    linestyles = ("solid", "dashed", "dotted", "dashdot")
    for i, (name, values) in enumerate(series.items()):
        label = f"‖{name}‖" if norms else name
        ax.plot(np.arange(len(values)), values, color=colors[i % len(colors)],
                linestyle=linestyles[(i // len(colors)) % len(linestyles)],
                gid=f"param {name}", label=f"{label}: {values[0]:.3g} → {values[-1]:.3g}")
    ax.set_ylabel("Euclidean norm of the leaf" if norms else "parameter value")
    _steps(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
              ncols=1 if len(series) <= 12 else 2)
