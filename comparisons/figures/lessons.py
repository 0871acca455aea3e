"""The lesson figures: learning rates, the sweep, full batch, validation, accumulation, graph.

Eight figures of the course's first lessons, one :class:`FigureSpec` row each in
:data:`LESSON_FIGURES`, with the functions that take each figure's data from the
verified runs (:class:`~comparisons.figures.verified.VerifiedRuns`), draw it
(:mod:`comparisons.plots`) and word its caption and alt text. Every number a
figure shows is a verified trajectory's, or checked against one: the
learning-rate sweep (:mod:`comparisons.figures.lr_sweep`) and the autograd
graph, built again with the scalar engine, whose values must equal the verified
``scalar-autograd`` run.

To add a lesson figure: write its data function (``VerifiedRuns -> dict``), its
draw function (or :func:`~comparisons.figures.kind.draw_single` of a plot
function), its caption and alt text, and add its row to :data:`LESSON_FIGURES`.

Example:
  >>> [row.name for row in LESSON_FIGURES][:3]
  ['learning-rates', 'lr-trajectories', 'lr-sweep']
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from comparisons import plots
from comparisons.engine import Value, to_dot
from comparisons.experiments import REGISTRY, Experiment
from comparisons.figures.kind import FigureSpec, draw_single
from comparisons.figures.lr_sweep import LESSON_RATES, SWEEP_CHECK_RTOL, lr_sweep_data
from comparisons.figures.verified import VerifiedRuns, require_close
from comparisons.figures.wording import backends_phrase, num, signed
from comparisons.least_squares import least_squares_line
from functional_training import TrajectoryRecord

__all__ = ["LESSON_FIGURES"]


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


def _autograd_graph_data(verified: TrajectoryRecord, tol: float) -> dict:
    """The engine's graph of the lesson's loss, checked against the verified scalar-autograd run."""
    nodes, edges, values = _engine_graph(REGISTRY["scalar-autograd"])
    checks = [("loss", verified.batch_loss[0]), ("w.grad", verified.grads["w"][0]),
              ("b.grad", verified.grads["b"][0])]
    if verified.predictions is not None:
        checks.append(("prediction", verified.predictions[0][0]))
    for what, expected in checks:
        require_close("autograd-graph", f"the graph's {what}", expected, values[what], tol)
    return {"nodes": nodes, "edges": edges}


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


def _graph_grad(data: Mapping, label: str) -> float:
    return next(node["grad"] for node in data["nodes"] if node["label"] == label)


def _draw_lr_trajectories(fig: Figure, data: Mapping) -> None:
    plots.plot_lr_trajectories(list(fig.subplots(1, len(data["runs"]))), **data)


def _draw_lr_sweep(fig: Figure, data: Mapping) -> None:
    axes = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    plots.plot_lr_sweep(list(axes), **data)


def _draw_full_batch(fig: Figure, data: Mapping) -> None:
    plots.plot_full_batch(list(fig.subplots(1, 2)), **data)


def _rate_list(data: Mapping) -> str:
    return ", ".join(f"{run['learning_rate']:g}" for run in data["runs"])


def _rates_alt(data: Mapping) -> str:
    parts = []
    for run in data["runs"]:
        losses = run["losses"][data["reference"]]
        parts.append(f"lr = {run['learning_rate']:g} goes from {num(losses[0])} to "
                     f"{num(losses[-1])} after {len(losses) - 1} updates")
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
        f"after update {updates} ({', '.join(num(v[-1]) for v in losses)})."
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
    tail = (f" Runs with lr ≥ {num(min(overflowed), 3)} overflow to infinity; the lower panel "
            "shows the step where that happens, earlier for larger rates."
            if overflowed else "")
    divergence = data["divergence_rate"]
    return (
        f"Log-log plot of the loss after {data['steps']} updates against "
        f"{len(data['learning_rates'])} learning rates: the loss falls to almost zero for "
        "rates up to about "
        f"{num(data['stability_limit'], 3)} and grows past the initial "
        f"{num(data['initial_loss'])} above it. A dashed line marks the analytic limit "
        f"2/λmax = {num(data['stability_limit'], 3)}, a dotted line beside it the sweep's "
        f"first rate that stops lowering the loss, {num(divergence) if divergence else 'none'}."
        + tail
    )


LESSON_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "learning-rates",
        lambda d: "Same data, same start: the learning rate decides creep, settle or blow up",
        draw_single(plots.plot_learning_rates),
        lambda d, c: (
            "Loss after each of five SGD updates on one shipment (x = 2, y = 6 hours, start "
            "w = 1, b = 0) at learning rates "
            f"{_rate_list(d)}. Too small a rate "
            "creeps, a useful one settles, too large a one overshoots and the error grows "
            f"each step. {_lesson_print_clause(d)} "
            f"Markers are each backend's own values: {backends_phrase(c)}."
        ),
        _rates_alt,
        LESSON_RATES, _learning_rates_data,
        summary="loss per SGD update at three learning rates, every backend overlaid",
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
            f"({backends_phrase(c)})."
        ),
        _trajectories_alt,
        LESSON_RATES, _lr_trajectories_data,
        summary="each rate's (w, b) path over the contours of the one-shipment loss",
    ),
    FigureSpec(
        "lr-sweep",
        lambda d: (f"SGD is stable only below 2/λmax of the loss Hessian: "
                   f"{num(d['stability_limit'], 3)} for x = 2"),
        _draw_lr_sweep,
        lambda d, c: (
            f"Loss after {d['steps']} full-batch SGD updates for {len(d['learning_rates'])} "
            "learning rates, computed in one vmapped JAX call "
            "(functional_training.sweep_learning_rates) and drawn as the exact loss "
            f"8 (1 − 5 lr)^{2 * d['steps']} (rational arithmetic, the same on every machine), "
            f"which the sweep matches within {SWEEP_CHECK_RTOL:g} at every rate. The Hessian "
            "of 0.5 (w x + b − y)² in (w, b) is [[x², x], [x, 1]], with largest eigenvalue "
            "x² + 1 = 5 at x = 2, so "
            f"SGD converges only for lr < 2/λmax = {num(d['stability_limit'], 3)} (dashed). "
            "The sweep finds the loss stops falling at lr = "
            f"{num(d['divergence_rate']) if d['divergence_rate'] else 'none'} (dotted), the "
            "first swept rate past the limit. The lower panel gives, for runs that overflow, "
            "the first step with a non-finite value. The sweep's per-step losses at the "
            "lesson's rates equal the verified trajectories of the learning-rates figure."
        ),
        _sweep_alt,
        LESSON_RATES, lambda v: lr_sweep_data([v.ref(n) for n in LESSON_RATES]),
        summary="loss after 100 updates against about 1,200 learning rates, 2/λmax marked",
    ),
    FigureSpec(
        "full-batch",
        lambda d: (f"Full-batch gradient descent on 3 shipments heads for w = "
                   f"{num(d['target_w'], 3)}, b = {num(d['target_b'], 3)}"),
        _draw_full_batch,
        lambda d, c: (
            f"{len(d['loss']) - 1} full-batch SGD updates (lr = "
            f"{REGISTRY['full-batch'].learning_rate:g}) on "
            f"{len(REGISTRY['full-batch'].train)} shipments whose delay is exactly "
            f"{num(d['target_w'], 3)} × disruption + {num(d['target_b'], 3)} hours. "
            "Left: mean loss (log scale) "
            f"falls from {num(d['loss'][0])} to {num(d['loss'][-1], 2)}. Right: w and b "
            "approach the least-squares fit (dashed); b is slower: the loss is flattest along "
            f"a direction that is mostly b. {backends_phrase(c)}."
        ),
        lambda d: (
            f"Two line charts over {len(d['loss']) - 1} updates. Left: loss falls from "
            f"{num(d['loss'][0])} to {num(d['loss'][-1], 2)} on a log scale. Right: w rises "
            f"from {d['w'][0]:g} to {d['w'][-1]:.3f} (target {num(d['target_w'], 3)}) and b "
            f"from {d['b'][0]:g} to {d['b'][-1]:.3f} (target {num(d['target_b'], 3)})."
        ),
        ("full-batch",), _full_batch_data,
        summary="full-batch gradient descent on three shipments: loss, w and b per update",
    ),
    FigureSpec(
        "train-validation",
        lambda d: "Training loss falls while validation loss rises: a warning, not a diagnosis",
        draw_single(plots.plot_train_validation),
        lambda d, c: (
            "Fitting peak-season shipments (train) from a model that matches a normal week "
            f"(validation), learning rate {REGISTRY['train-validation'].learning_rate:g}, w "
            "only. Each update lowers the training loss "
            f"(from {d['train_loss'][0]:.3f} to {d['train_loss'][-1]:.3f}) and raises the "
            f"validation loss (from {d['val_loss'][0]:.3f} to {d['val_loss'][-1]:.3f}); the "
            "shaded band is the gap between them. Validation examples are evaluated, never "
            f"used for gradients. {backends_phrase(c)}."
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
        summary="training loss falls while validation loss rises",
    ),
    FigureSpec(
        "gradient-accumulation",
        lambda d: ("Gradients accumulate until cleared: "
                   + ", ".join(signed(v) for v in next(iter(d["grads"].values())))),
        draw_single(plots.plot_gradient_accumulation),
        lambda d, c: (
            f"The gradient dL/dw held in w.grad after {len(d['passes'])} backward passes of "
            f"the same loss {d['loss']}. The second pass runs without clearing the buffer, "
            "so it adds a second copy: "
            + ", ".join(signed(v) for v in next(iter(d["grads"].values())))
            + ". Clear gradients before every independent step unless accumulation is "
            f"deliberate. One bar per backend: {backends_phrase(c)}."
        ),
        lambda d: (
            f"Grouped bar chart, {len(d['passes'])} groups of one bar per backend ("
            + ", ".join(d["grads"]) + "): every backend holds "
            + ", ".join(signed(v) for v in next(iter(d["grads"].values())))
            + " after the passes: "
            + "; ".join(label.replace("\n", " ") for label in d["passes"]) + "."
        ),
        ("gradient-accumulation",), _accumulation_data,
        summary="w.grad after backward passes with and without clearing, per backend",
    ),
    FigureSpec(
        "mini-batch",
        lambda d: "Each mini-batch loss is a noisy estimate of the full-batch loss",
        draw_single(plots.plot_mini_batch),
        lambda d, c: (
            f"SGD on {d['examples']} shipments with batches of {d['batch_size']}, shuffled "
            f"each epoch ({len(d['batch_loss'])} updates, lr = "
            f"{REGISTRY['mini-batch'].learning_rate:g}). Diamonds: the loss of "
            "the batch whose gradient made each update; black line: the loss on all "
            "shipments at the same parameters. The batch loss scatters around the full "
            f"loss while both fall. {backends_phrase(c)}."
        ),
        lambda d: (
            f"Line chart over {len(d['batch_loss'])} updates (log scale): the full-batch loss "
            f"falls smoothly from {num(d['train_loss'][0])} to {num(d['train_loss'][-1])}; "
            "the mini-batch losses zigzag above and below it. Dotted lines mark epochs."
        ),
        ("mini-batch",), _mini_batch_data,
        summary="each mini-batch's loss against the full-batch loss, per update",
    ),
    FigureSpec(
        "autograd-graph",
        lambda d: (f"Backpropagation: dL/dw = {signed(_graph_grad(d, 'w'))} and dL/db = "
                   f"{signed(_graph_grad(d, 'b'))} flow back from the loss"),
        draw_single(plots.plot_autograd_graph),
        lambda d, c: (
            "The computation graph of prediction = w · x + b and loss = 0.5 (prediction − "
            "target)², as the scalar autograd engine (comparisons.engine) builds it "
            "(subtraction is a + (−b), so the target is negated by a × −1 node), after "
            "loss.backward(). Each box shows its value (data) and dL/dnode (grad); the "
            "numbers equal the verified scalar-autograd trajectory "
            f"({backends_phrase(c)}). Drawn with matplotlib, no Graphviz."
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
        summary="the scalar engine's computation graph with every value and gradient",
    ),
)
"""The lesson figures, in the order the course shows them (one row per figure)."""
