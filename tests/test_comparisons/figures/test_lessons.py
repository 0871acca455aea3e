"""The lesson figures (comparisons.figures.lessons): verified trajectories, the lesson's numbers.

Expected values come from the lesson's printed numbers, from the trajectories
``run_and_compare`` returned (recorded by the ``trajectories`` fixture,
independently of the figures code), from the NumPy float64 reference
(``tests/numpy_reference.py``) and from closed forms of the one-shipment
problem (error after k updates ``e_k = -4 (1 - 5 lr)^k``).
"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_fixture import lesson_blocks
from numpy_reference import numpy_sgd

import functional_training as ft
from comparisons import plots
from comparisons.experiments import REGISTRY, batch_order
from comparisons.figures import LESSON_RATES
from comparisons.figures.lessons import LESSON_FIGURES

from .drawn import by_gid, draw, visible_texts

LESSON = lesson_blocks()
# float64 policy (functional_training.tolerance): independent float64 implementations of
# these few-flop steps differ by a few ulps per step, far below 1e-12; any formula
# difference shows at 1e-3 or more.
TOL64 = ft.tolerance("float64", 0)
RATES = LESSON_RATES


def test_the_lesson_table_lists_eight_figures_each_naming_its_experiments():
    assert [row.name for row in LESSON_FIGURES] == [
        "learning-rates", "lr-trajectories", "lr-sweep", "full-batch", "train-validation",
        "gradient-accumulation", "mini-batch", "autograd-graph"]
    for row in LESSON_FIGURES:
        assert row.experiments and all(name in REGISTRY for name in row.experiments), row.name


def test_learning_rates_draws_every_backends_verified_losses(data, trajectories):
    fig = draw("learning-rates", data)
    assert fig.axes[0].get_yscale() == "log"
    for name, printed in zip(RATES, LESSON["learning-rates"], strict=True):
        rate = REGISTRY[name].learning_rate
        runs = trajectories(name)
        assert {"manual", "engine", "jax"} <= set(runs)
        assert set(data["figures"]["learning-rates"]["runs"][RATES.index(name)]["losses"]) == set(
            runs)
        for backend, trajectory in runs.items():
            line = by_gid(fig, f"{backend} lr={rate}")
            assert list(line.get_xdata()) == list(range(6))
            assert list(line.get_ydata()) == trajectory.train_loss  # the same floats, drawn
        reference = by_gid(fig, f"line lr={rate}")
        assert list(reference.get_ydata()) == runs["manual"].train_loss
        losses = runs["manual"].batch_loss
        assert f"lr={rate:.2f}: " + ", ".join(f"{v:.3f}" for v in losses) == printed


def test_lr_trajectories_draws_the_verified_paths(data, trajectories):
    fig = draw("lr-trajectories", data)
    assert len(fig.axes) == 3
    for name in RATES:
        rate = REGISTRY[name].learning_rate
        manual = trajectories(name)["manual"]
        path = by_gid(fig, f"path lr={rate}")
        np.testing.assert_array_equal(path.get_xydata(),
                                      np.column_stack([manual.params["w"], manual.params["b"]]))
        reference = numpy_sgd(1.0, 0.0, [2.0], [6.0], rate, 5)
        np.testing.assert_allclose(path.get_xdata(), reference["w"], rtol=TOL64, atol=TOL64)
        np.testing.assert_allclose(path.get_ydata(), reference["b"], rtol=TOL64, atol=TOL64)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["lr = 0.01: creeps", "lr = 0.1: settles", "lr = 0.5: overshoots"]


def test_lr_trajectories_are_drawn_as_the_caption_says(data):
    """Equal scales, straight steps, labels apart, and a legend only where its entries show."""
    fig = draw("lr-trajectories", data)
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    runs = data["figures"]["lr-trajectories"]["runs"]
    for ax, run in zip(fig.axes, runs, strict=True):
        rate = run["learning_rate"]
        # One data unit is as long on the w axis as on the b axis (right angles stay right).
        (x0, y0), (x1, y1) = ax.transData.transform([(0.0, 0.0), (1.0, 1.0)])
        assert x1 - x0 == pytest.approx(y1 - y0, rel=1e-9)
        for k in range(len(run["w"]) - 1):  # straight from theta_k to theta_k+1
            step = by_gid(fig, f"step {k} lr={rate}")
            assert step.xy == (run["w"][k + 1], run["b"][k + 1])
            assert step.xyann == (run["w"][k], run["b"][k])
            assert getattr(step.arrow_patch.get_connectionstyle(), "rad", 0.0) == 0.0
        labels = [a for a in ax.texts if str(a.get_gid()).startswith("label k=")]
        assert {"label k=0", f"label k={len(run['w']) - 1}"} <= {
            a.get_gid().removesuffix(f" lr={rate}") for a in labels}
        boxes = [a.get_window_extent(renderer) for a in labels]
        assert not any(p.overlaps(q) for i, p in enumerate(boxes) for q in boxes[i + 1:])
        legend = ax.get_legend()
        if legend is not None and any(t.get_text() == "loss = 0" for t in legend.get_texts()):
            valley = by_gid(fig, f"valley lr={rate}")
            low, high = sorted(valley.get_ydata())
            assert low <= ax.get_ylim()[1] and high >= ax.get_ylim()[0], rate  # in view
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert len(legends) == 1
    assert fig.axes[0].get_legend() is None  # the valley is out of view at lr = 0.01



def test_full_batch_draws_the_verified_run_and_the_lessons_numbers(data, trajectories):
    manual = trajectories("full-batch")["manual"]
    fig = draw("full-batch", data)
    assert list(by_gid(fig, "train loss").get_ydata()) == manual.train_loss
    assert list(by_gid(fig, "param w").get_ydata()) == manual.params["w"]
    assert list(by_gid(fig, "param b").get_ydata()) == manual.params["b"]
    printed = [
        f"step {k:2d}: loss={manual.batch_loss[k]:.4f} w={manual.params['w'][k + 1]:.3f} "
        f"b={manual.params['b'][k + 1]:.3f}"
        for k in (0, 1, 19)
    ]
    assert printed == LESSON["full-batch"]
    # The data are exactly delay = 2 x + 1: the least-squares fit the run heads for.
    figure = data["figures"]["full-batch"]
    assert abs(figure["target_w"] - 2.0) <= TOL64 and abs(figure["target_b"] - 1.0) <= TOL64


def test_train_validation_draws_both_losses_and_shades_the_gap(data, trajectories):
    manual = trajectories("train-validation")["manual"]
    fig = draw("train-validation", data)
    train = by_gid(fig, "train loss").get_ydata()
    val = by_gid(fig, "validation loss").get_ydata()
    assert list(train) == manual.train_loss and list(val) == manual.val_loss
    printed = [
        f"step {k}: train={manual.train_loss[k + 1]:.3f} "
        f"validation={manual.val_loss[k + 1]:.3f} w={manual.params['w'][k + 1]:.3f}"
        for k in range(4)
    ]
    assert printed == LESSON["train-validation"]
    gap = by_gid(fig, "gap").get_paths()[0].vertices
    for k in range(len(train)):  # the shaded band spans both curves at every step
        at_k = gap[np.isclose(gap[:, 0], k, rtol=0, atol=TOL64), 1]
        assert np.isclose(at_k.max(), train[k], rtol=TOL64) and np.isclose(at_k.min(), val[k],
                                                                            rtol=TOL64)


def test_gradient_accumulation_draws_each_backends_buffer(data, trajectories):
    runs = trajectories("gradient-accumulation")
    fig = draw("gradient-accumulation", data)
    lesson = [float(line.rsplit(":", 1)[1]) for line in LESSON["gradient-accumulation"]]
    assert lesson == [-8.0, -16.0, -8.0]
    for backend, trajectory in runs.items():
        bars = sorted(fig.findobj(lambda a, b=backend: a.get_gid() == f"bars {b}"),
                      key=lambda bar: bar.get_x())
        assert [bar.get_height() for bar in bars] == trajectory.grads["w"] == lesson


def test_mini_batch_draws_batch_and_full_losses(data, trajectories):
    manual = trajectories("mini-batch")["manual"]
    experiment = REGISTRY["mini-batch"]
    fig = draw("mini-batch", data)
    batch = by_gid(fig, "batch loss").get_ydata()
    full = by_gid(fig, "train loss").get_ydata()
    assert list(batch) == manual.batch_loss and list(full) == manual.train_loss
    reference = numpy_sgd(0.0, 0.0, experiment.xs, experiment.ys, experiment.learning_rate,
                          experiment.steps, batch_indices=batch_order(experiment))
    np.testing.assert_allclose(batch, reference["batch_loss"], rtol=TOL64, atol=TOL64)
    np.testing.assert_allclose(full, reference["train_loss"], rtol=TOL64, atol=TOL64)
    assert not np.allclose(batch, full[:-1], rtol=0.05)  # the batch loss really is noisier


def test_autograd_graph_is_the_engines_graph_with_verified_numbers(data, trajectories):
    graph = data["figures"]["autograd-graph"]
    nodes = {node["label"]: node for node in graph["nodes"]}
    assert set(nodes) == {"x", "w", "b", "target", "w·x", "prediction", "−target", "error",
                          "error²", "loss"}
    assert len(graph["edges"]) == 9  # one per operand use
    ops = {label: node["op"] for label, node in nodes.items()}
    assert ops == {"x": "", "w": "", "b": "", "target": "", "w·x": "*", "prediction": "+",
                   "−target": "*", "error": "+", "error²": "**", "loss": "*"}
    scalar = trajectories("scalar-autograd")["manual"]
    # Closed form at x = 2, y = 6, w = 1, b = 0: error -4, loss 8, dL/dw = -8, dL/db = -4.
    assert nodes["loss"]["data"] == scalar.batch_loss[0] == 8.0
    assert nodes["w"]["grad"] == scalar.grads["w"][0] == -8.0
    assert nodes["b"]["grad"] == scalar.grads["b"][0] == -4.0
    assert nodes["prediction"]["data"] == 2.0 and nodes["error"]["grad"] == -4.0
    printed = [f"prediction={nodes['prediction']['data']:.1f} loss={nodes['loss']['data']:.1f}",
               f"dL/dw={nodes['w']['grad']:.1f} dL/db={nodes['b']['grad']:.1f}"]
    assert printed == LESSON["scalar-autograd"]

    fig = draw("autograd-graph", data)
    texts = visible_texts(fig)
    assert "grad −8" in texts and "grad −4" in texts and "data 8" in texts
    positions = plots.layout_graph(graph["nodes"], graph["edges"])
    columns = {node["label"]: positions[node["id"]][0] for node in graph["nodes"]}
    assert columns["loss"] == max(columns.values())
    for parent, child in graph["edges"]:  # every arrow points to the right
        assert positions[parent][0] < positions[child][0]
    assert len(fig.findobj(lambda a: str(a.get_gid()).startswith("node "))) == 10
