"""The classifier figures (comparisons.figures.classifiers) draw the verified models exactly.

Expected values are computed here independently of ``comparisons.figures``: the
model's forward in NumPy float64 from the verified final parameters (a ReLU MLP,
a line, softmax logits), the accuracy by counting, the learning-rate schedule
in closed form (``1 + (0.1 - 1) k / 100``), the weight slices as the means of
sorted thirds. Every closeness check states its tolerance: the verification
tolerance, float64 rtol = atol = 1e-12 (functional_training.tolerance), which
two float64 evaluations of these few-hundred-flop forwards meet by ~1e3.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import functional_training as ft
from comparisons import figures, plots
from comparisons.experiments import REGISTRY
from comparisons.figures.classifiers import CLASSIFIER_FIGURES, weight_slices

from .drawn import by_gid

NEW = tuple(row.name for row in CLASSIFIER_FIGURES)
TOL = ft.tolerance("float64", 0)


def final(trajectory) -> dict[str, float]:
    return {name: values[-1] for name, values in trajectory.params.items()}


def mlp_numpy(values: dict[str, float], x: np.ndarray, sizes, activation) -> np.ndarray:
    """The mlp kind's forward in NumPy: ``f(a @ w + b)`` per hidden layer, then linear."""
    act = {"relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh}[activation]
    a = np.asarray(x, dtype=np.float64)
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        w = np.array([[values[f"layers.{layer}.w[{i},{j}]"] for j in range(fan_out)]
                      for i in range(fan_in)])
        b = np.array([values[f"layers.{layer}.b[{j}]"] for j in range(fan_out)])
        a = a @ w + b if layer == len(sizes) - 2 else act(a @ w + b)
    return a[:, 0] if sizes[-1] == 1 else a


def grid_points(regions) -> np.ndarray:
    gx, gy = np.meshgrid(regions["xs"], regions["ys"])
    return np.column_stack([gx.ravel(), gy.ravel()])



def test_the_classifier_table_lists_four_figures():
    assert NEW == ("moons-decision-boundary", "moons-training", "logistic-boundary",
                   "softmax-regions")
    assert weight_slices([3.0, 1.0, 2.0, 6.0, 4.0, 5.0], 2) == [2.0, 5.0]  # sorted halves' means


# --- moons ----------------------------------------------------------------------------------


def test_moons_grid_is_the_verified_networks_score(data, trajectories):
    experiment = REGISTRY["mlp/moons"]
    regions = data["figures"]["moons-decision-boundary"]["regions"]
    values = final(trajectories("mlp/moons")["manual"])
    sizes, activation = experiment.model_settings["sizes"], experiment.model_settings["activation"]
    expected = mlp_numpy(values, grid_points(regions), sizes, activation)
    drawn = np.asarray(regions["outputs"]).ravel()
    assert drawn.shape == expected.shape == (len(regions["xs"]) * len(regions["ys"]),)
    np.testing.assert_allclose(drawn, expected, rtol=TOL, atol=TOL)
    # The grid covers every point, its corners round, one grid step apart on both axes.
    x, y = np.array(experiment.x_rows).T
    assert regions["xs"][0] < x.min() and regions["xs"][-1] > x.max()
    assert regions["ys"][0] < y.min() and regions["ys"][-1] > y.max()
    assert (regions["xs"][0], regions["xs"][-1], regions["ys"][0], regions["ys"][-1]) == (
        -1.5, 2.5, -1.0, 1.5)
    for axis in ("xs", "ys"):  # square cells of 0.05, 80 along x1
        assert np.diff(regions[axis]) == pytest.approx(0.05, rel=TOL)
    assert (len(regions["xs"]), len(regions["ys"])) == (81, 51)


def test_the_right_side_of_the_boundary_is_the_recorded_accuracy_exactly(data, trajectories):
    # The function drawn on the grid, evaluated at the 100 points: the fraction on their own
    # label's side is the verified train_accuracy[S], as a count over 100, exactly.
    experiment = REGISTRY["mlp/moons"]
    run = trajectories("mlp/moons")["manual"]
    settings = experiment.model_settings
    scores = mlp_numpy(final(run), np.array(experiment.x_rows), settings["sizes"],
                       settings["activation"])
    labels = np.array(experiment.ys)
    right = np.sum(np.where(scores > 0, 1.0, -1.0) == labels)
    assert right / len(labels) == run.extras["train_accuracy"][-1] == 1.0
    figure = data["figures"]["moons-decision-boundary"]
    train = figure["regions"]["train"]
    assert train["label"] == experiment.ys and train["x"] == [r[0] for r in experiment.x_rows]
    assert train["predicted"] == np.where(scores > 0, 1.0, -1.0).tolist()
    assert figure["train_accuracy"] == run.extras["train_accuracy"][-1]
    # No score sits within the tolerance of 0: the signs cannot depend on rounding.
    assert np.abs(scores).min() > 1e3 * TOL


def test_moons_figure_draws_regions_boundary_and_points(data):
    fig = figures.draw_figure("moons-decision-boundary", data["figures"]["moons-decision-boundary"])
    ax = fig.axes[0]
    assert ax.get_aspect() == 1.0  # x1 and x2 are the same kind of number
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x₁", "x₂")
    boundary = by_gid(fig, "decision boundary")
    assert boundary.allsegs[0], "the zero contour has segments"
    for value in (-1.0, 1.0):
        points = by_gid(fig, f"train class {value:g}")
        assert len(points.get_offsets()) == 50
    assert not fig.findobj(lambda a: a.get_gid() == "train misclassified")
    assert "100% right" in fig.get_suptitle()


def test_moons_training_draws_the_recorded_loss_accuracy_and_rate(data, trajectories):
    run = trajectories("mlp/moons")["manual"]
    figure = data["figures"]["moons-training"]
    assert figure["train_loss"] == run.train_loss
    assert figure["train_accuracy"] == run.extras["train_accuracy"]
    assert len(figure["learning_rate"]) == REGISTRY["mlp/moons"].steps == 100
    closed_form = [1.0 + (0.1 - 1.0) * k / 100 for k in range(100)]  # optax linear_schedule
    np.testing.assert_allclose(figure["learning_rate"], closed_form, rtol=TOL, atol=TOL)
    fig = figures.draw_figure("moons-training", figure)
    assert list(by_gid(fig, "train loss").get_ydata()) == run.train_loss
    assert list(by_gid(fig, "train accuracy").get_ydata()) == run.extras["train_accuracy"]
    assert list(by_gid(fig, "learning rate").get_ydata()) == figure["learning_rate"]
    settled = plots.all_right_from(figure["train_accuracy"])
    assert by_gid(fig, "all right from").get_xdata()[0] == settled
    assert all(a == 1.0 for a in figure["train_accuracy"][settled:])
    assert figure["train_accuracy"][settled - 1] < 1.0


# --- logistic regression ------------------------------------------------------------------


def test_logistic_line_is_the_verified_final_weights(data, trajectories):
    experiment = REGISTRY["logistic/late-shipments"]
    run = trajectories("logistic/late-shipments")["manual"]
    figure = data["figures"]["logistic-boundary"]
    assert figure["weights"] == final(run)
    w = np.array([figure["weights"]["w[0]"], figure["weights"]["w[1]"]])
    b = figure["weights"]["b"]
    regions = figure["regions"]
    np.testing.assert_allclose(np.asarray(regions["outputs"]).ravel(),
                               grid_points(regions) @ w + b, rtol=TOL, atol=TOL)
    for rows, key, points in ((experiment.train, "train_accuracy", regions["train"]),
                              (experiment.validation, "val_accuracy", regions["validation"])):
        logits = np.array([r[:2] for r in rows]) @ w + b
        predicted = np.where(logits > 0, 1.0, 0.0)
        assert points["predicted"] == predicted.tolist()
        right = np.sum(predicted == np.array([r[-1] for r in rows]))
        assert right / len(rows) == run.extras[key][-1] == figure[key]
    assert (figure["train_accuracy"], figure["val_accuracy"]) == (20 / 24, 1.0)


def test_logistic_contours_lie_on_the_lines_of_probability_half_tenth_and_nine_tenths(data):
    figure = data["figures"]["logistic-boundary"]
    w0, w1, b = (figure["weights"][n] for n in ("w[0]", "w[1]", "b"))
    fig = figures.draw_figure("logistic-boundary", figure)
    for gid, p in (("decision boundary", 0.5), ("p = 0.1", 0.1), ("p = 0.9", 0.9)):
        vertices = np.concatenate(by_gid(fig, gid).allsegs[0])
        logit = np.log(p / (1 - p))
        # A linear field is interpolated exactly along grid edges: vertices sit on the line.
        np.testing.assert_allclose(w0 * vertices[:, 0] + w1 * vertices[:, 1] + b, logit,
                                   rtol=0, atol=1e-9)
    wrong = by_gid(fig, "train misclassified").get_offsets()
    assert len(wrong) == 4 and not fig.findobj(lambda a: a.get_gid() == "validation misclassified")
    readme = figures.FIGURES["logistic-boundary"].caption(figure, data)
    assert "1.183 · disruption − 0.2796 · distance − 1.931 = 0" in readme


# --- softmax regression -------------------------------------------------------------------


def test_softmax_panels_hold_the_weight_at_the_means_of_thirds(data, trajectories):
    experiment = REGISTRY["softmax/delay-class"]
    figure = data["figures"]["softmax-regions"]
    weights = sorted(row[2] for row in experiment.train)
    thirds = [np.mean(weights[i:i + 8]) for i in (0, 8, 16)]
    assert [p["held"] for p in figure["panels"]] == pytest.approx(thirds, rel=TOL, abs=TOL)
    values = final(trajectories("softmax/delay-class")["manual"])
    w = np.array([[values[f"layers.0.w[{i},{j}]"] for j in range(3)] for i in range(3)])
    b = np.array([values[f"layers.0.b[{j}]"] for j in range(3)])
    for panel in figure["panels"]:
        regions = panel["regions"]
        points = grid_points(regions)
        x = np.column_stack([points, np.full(len(points), panel["held"])])
        np.testing.assert_allclose(np.asarray(regions["outputs"]).reshape(-1, 3), x @ w + b,
                                   rtol=TOL, atol=TOL)


def test_softmax_points_are_each_shown_once_with_their_own_prediction(data, trajectories):
    experiment = REGISTRY["softmax/delay-class"]
    run = trajectories("softmax/delay-class")["manual"]
    figure = data["figures"]["softmax-regions"]
    for key, rows, part in (("train_accuracy", experiment.train, "train"),
                            ("val_accuracy", experiment.validation, "validation")):
        shown = [(x, y, label, p) for panel in figure["panels"]
                 for x, y, label, p in zip(*(panel["regions"][part][k]
                                              for k in ("x", "y", "label", "predicted")),
                                           strict=True)]
        assert sorted((x, y, label) for x, y, label, _ in shown) == sorted(
            (r[0], r[1], r[-1]) for r in rows)
        right = sum(label == p for _, _, label, p in shown)
        assert right / len(rows) == run.extras[key][-1] == figure[key]
    # Training predictions are the recorded final logits' argmax (the model at its own weight).
    logits = np.array(run.predictions[-1]).reshape(-1, 3)
    predicted = dict(zip(((r[0], r[1]) for r in experiment.train),
                         np.argmax(logits, axis=1).astype(float), strict=True))
    for panel in figure["panels"]:
        train = panel["regions"]["train"]
        for x, y, p in zip(train["x"], train["y"], train["predicted"], strict=True):
            assert p == predicted[(x, y)]


def test_softmax_figure_has_three_panels_sharing_axes_and_one_legend(data):
    fig = figures.draw_figure("softmax-regions", data["figures"]["softmax-regions"])
    assert len(fig.axes) == 3 and len(fig.legends) == 1
    titles = [ax.get_title() for ax in fig.axes]
    assert all(t.startswith("weight held at ") for t in titles)
    assert fig.axes[0].get_ylabel() == "distance (100 km)"
    assert len(fig.findobj(lambda a: a.get_gid() == "decision boundary")) >= 3



# --- files ---------------------------------------------------------------------------------


def test_new_figures_render_byte_identically_alone_and_among_all(data, rendered, tmp_path):
    # Written alone, the classifier figures have the bytes the session's render of every
    # figure gave them; README and data hold exactly these four.
    new = {**data, "figures": {name: data["figures"][name] for name in NEW}}
    alone = figures.write_figures(new, tmp_path)
    assert [p.name for p in alone] == [f"{n}.{fmt}" for n in NEW for fmt in ("png", "svg")] + [
        figures.README_FILE, figures.DATA_FILE]
    for path in alone[:-2]:
        assert path.read_bytes() == (rendered.out / path.name).read_bytes(), path.name
    assert alone[-2].read_text() == figures.readme_text(new)
    assert json.loads(alone[-1].read_text())["figures"].keys() == set(NEW)


def test_readme_names_the_held_weight_and_every_new_figure(data):
    readme = figures.readme_text(data)
    for name in NEW:
        assert f"## {name}" in readme and "![" in readme
    caption = figures.FIGURES["softmax-regions"].caption(data["figures"]["softmax-regions"], data)
    assert "holds it at the mean weight of a third of the training shipments" in caption
