"""The classifier figures: the moons network, logistic regression, softmax regions.

Four figures of the classifier lessons, one :class:`FigureSpec` row each in
:data:`CLASSIFIER_FIGURES`: ``moons-decision-boundary`` and ``moons-training``
(micrograd's demo, a 2-16-16-1 ReLU network), ``logistic-boundary`` and
``softmax-regions``. Their grids of model outputs and their examples come from
:mod:`comparisons.figures.grids`, verified against the trajectories and the JAX
objective. The softmax model has three features; its regions are drawn in
three panels over disruption and distance, each holding the weight at the mean
of a third of the training shipments (:func:`weight_slices`; one slice at the
mean weight would put many shipments in regions their own weight does not give
them).

To add a classifier figure: write its data function (``VerifiedRuns -> dict``,
usually :func:`~comparisons.figures.grids.regions` of its experiment), its draw
function, caption and alt text, and add its row to :data:`CLASSIFIER_FIGURES`.

Example:
  >>> [row.name for row in CLASSIFIER_FIGURES]
  ['moons-decision-boundary', 'moons-training', 'logistic-boundary', 'softmax-regions']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from comparisons import figure_style as style
from comparisons import plots
from comparisons.experiments import REGISTRY
from comparisons.figures.grids import (
    Forward,
    class_values,
    classifier_points,
    final_values,
    grid_axes,
    region_grid,
    regions,
)
from comparisons.figures.kind import FigureSpec
from comparisons.figures.verified import VerifiedRuns
from comparisons.figures.wording import (
    backends_phrase,
    misclassified_count,
    num,
    percent,
    points_phrase,
    signed,
)

__all__ = [
    "CLASSIFIER_FIGURES",
    "DELAY_CLASSES",
    "LOGISTIC",
    "MOONS",
    "REGION_CELLS",
    "SHIPMENT_FEATURES",
    "SOFTMAX",
    "draw_regions",
    "weight_slices",
]


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


def _moons_boundary_data(v: VerifiedRuns) -> dict:
    experiment = REGISTRY[MOONS]
    return {
        "regions": regions("moons-decision-boundary", experiment, v.ref(MOONS), v.tolerance,
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
        "regions": regions("logistic-boundary", experiment, run, v.tolerance,
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
    forward = Forward(experiment, final_values(run))
    train, validation = classifier_points(figure, experiment, run, forward, v.tolerance)
    rows = [*experiment.train, *(experiment.validation or ())]
    slices = weight_slices([row[2] for row in experiment.train], 3)
    xs, ys = grid_axes([row[:2] for row in rows], REGION_CELLS[SOFTMAX])

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
                "outputs": region_grid(figure, forward, xs, ys, v.tolerance, fixed={2: held}),
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


def draw_regions(fig: Figure, data: Mapping) -> None:
    """Draw ``data["regions"]`` (:func:`comparisons.figures.grids.regions`) on one panel."""
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


def _logistic_line(weights: Mapping) -> str:
    """``1.183 disruption − 0.2796 distance − 1.931 = 0``, the learned boundary."""
    w0, w1, b = weights["w[0]"], weights["w[1]"], weights["b"]
    sign = lambda v: "−" if v < 0 else "+"  # noqa: E731 -- one line, used three times below
    return (f"{num(w0)} · disruption {sign(w1)} {num(abs(w1))} · distance "
            f"{sign(b)} {num(abs(b))} = 0")


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
        f"two-moons points ({points_phrase(regions)}). Shading is the class the trained "
        "network predicts (the sign of its score) on a grid of "
        f"{len(regions['xs'])} × {len(regions['ys'])} points, computed from the verified final "
        "parameters with the hand-written forward and checked point by point against the JAX "
        f"objective; the black line is score = 0. It classifies {percent(d['train_accuracy'])}"
        " of the points right, the verified train_accuracy. The boundary is piecewise "
        f"straight, as ReLU units make it. {backends_phrase(c)}."
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
        f"(shaded {_colour(0, 2)}, {percent(neg_share)} of the plot) and {pos} region "
        f"({_colour(1, 2)}, {percent(pos_share)}). A black boundary of short straight pieces "
        f"winds between the two crescents, so {percent(d['train_accuracy'])} of the points "
        "lie in their own class's region."
    )


def _moons_training_caption(d: Mapping, c: Mapping) -> str:
    first = _moons_first_full(d)
    return (
        f"The same run as moons-decision-boundary, per update. Top left: the full training "
        "loss (mean hinge loss plus the L2 penalty, log scale) falls from "
        f"{num(d['train_loss'][0])} to {num(d['train_loss'][-1])}. Right: the share of the "
        f"{len(REGISTRY[MOONS].train)} points classified right, from "
        f"{percent(d['train_accuracy'][0])} to {percent(d['train_accuracy'][-1])}"
        + (f" (every point from update {first} on)" if first is not None else "")
        + ". Bottom left: the learning rate each update used, the recorded extras of the "
        f"trajectory ({_schedule_phrase()}). Loss and accuracy are recorded at the "
        f"parameters before each update and after the last. {backends_phrase(c)}."
    )


def _moons_training_alt(d: Mapping) -> str:
    first = _moons_first_full(d)
    return (
        f"Three line charts over {len(d['learning_rate'])} updates. The training loss falls "
        f"from {num(d['train_loss'][0])} to {num(d['train_loss'][-1])} on a log scale; the "
        f"accuracy climbs in steps from {percent(d['train_accuracy'][0])} to "
        f"{percent(d['train_accuracy'][-1])}"
        + (f", reaching 100% at update {first}" if first is not None else "")
        + f"; the learning rate falls in a straight line from {d['learning_rate'][0]:g} to "
        f"{d['learning_rate'][-1]:.3g}."
    )


def _logistic_caption(d: Mapping, c: Mapping) -> str:
    regions = d["regions"]
    experiment = REGISTRY[LOGISTIC]
    return (
        f"Logistic regression on {len(regions['train']['x'])} shipments "
        f"({points_phrase(regions)}; late means more than 7 hours): a linear model's logit "
        "s = w · x + b scored by binary cross-entropy, full-batch SGD at learning rate "
        f"{experiment.learning_rate:g} for {d['steps']} updates. The black line is the "
        f"learned boundary {_logistic_line(d['weights'])}, where the predicted probability "
        "of being late, sigmoid(s), is 0.5; the dashed lines are p = 0.1 and p = 0.9. "
        f"Filled markers are training shipments ({percent(d['train_accuracy'])} right, the "
        f"verified train_accuracy), hollow ones the {len(regions['validation']['x'])} "
        f"validation shipments ({percent(d['val_accuracy'])} right); ringed ones are on "
        f"the wrong side. {backends_phrase(c)}."
    )


def _logistic_alt(d: Mapping) -> str:
    regions = d["regions"]
    return (
        "Scatter plot of shipments by route-disruption score (x axis) and distance (y axis): "
        f"on-time shipments ({_class_look(regions, 0)}) sit mostly at low disruption, late "
        f"ones ({_class_look(regions, 1)}) at high disruption. A steep black line, "
        f"{_logistic_line(d['weights'])}, splits the plane into an on-time region (shaded "
        f"{_colour(0, 2)}, left) and a late region ({_colour(1, 2)}, right), with dashed lines "
        f"for probability 0.1 and 0.9 on either side. "
        f"{misclassified_count(regions['train'])} training and "
        f"{misclassified_count(regions['validation'])} validation shipments are ringed as "
        "misclassified."
    )


def _softmax_caption(d: Mapping, c: Mapping) -> str:
    experiment = REGISTRY[SOFTMAX]
    held = ", ".join(f"{p['held']:.2f}" for p in d["panels"])
    weights = ", ".join(signed(float(num(w, 3))) for w in d["weights"])
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
        f"Training accuracy {percent(d['train_accuracy'])}, validation "
        f"{percent(d['val_accuracy'])} (the verified extras). {backends_phrase(c)}."
    )


def _softmax_alt(d: Mapping) -> str:
    first = d["panels"][0]["regions"]
    count = len(first["classes"])
    looks = ", ".join(f"{name} ({_colour(i, count)}, {_class_look(first, i).split()[-1]})"
                      for i, name in enumerate(first["class_names"]))
    parts = []
    for p in d["panels"]:
        regions = p["regions"]
        shares = ", ".join(f"{name} {percent(share)}" for name, share in _region_shares(regions)
                           if share > 0)
        ringed = (misclassified_count(regions["train"])
                  + misclassified_count(regions["validation"]))
        parts.append(f"weight {p['held']:.2f} t: regions {shares} of the plane; "
                     f"{len(regions['train']['x'])} training and "
                     f"{len(regions['validation']['x'])} validation shipments, "
                     f"{ringed} ringed")
    return (
        f"Three panels side by side, each a plane of route-disruption score (x) and distance "
        f"(y) split by straight boundaries into shaded regions of the classes {looks}. "
        + "; ".join(parts) + "."
    )


CLASSIFIER_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "moons-decision-boundary",
        lambda d: (f"A ReLU network bends its boundary between the moons: "
                   f"{percent(d['train_accuracy'])} right"),
        draw_regions, _moons_caption, _moons_alt,
        (MOONS,), _moons_boundary_data,
        summary="the trained 2-16-16-1 ReLU network's regions on the two moons",
    ),
    FigureSpec(
        "moons-training",
        lambda d: "Hinge loss falls and accuracy climbs while the learning rate decays",
        _draw_moons_training, _moons_training_caption, _moons_training_alt,
        (MOONS,), _moons_training_data,
        summary="the moons network's loss, accuracy and decaying learning rate",
    ),
    FigureSpec(
        "logistic-boundary",
        lambda d: "Logistic regression draws one straight line where p(late) = 0.5",
        draw_regions, _logistic_caption, _logistic_alt,
        (LOGISTIC,), _logistic_data,
        summary="logistic regression's p(late) = 0.5 line on two shipment features",
    ),
    FigureSpec(
        "softmax-regions",
        lambda d: "Softmax splits the plane into three regions, one per delay class",
        _draw_softmax_regions, _softmax_caption, _softmax_alt,
        (SOFTMAX,), _softmax_data,
        summary="softmax regression's three delay-class regions, sliced by weight",
    ),
)
"""The classifier figures, after the lesson figures (one row per figure)."""
