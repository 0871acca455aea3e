"""The next lessons' figures and ``figures --spec``: drawn only from verified runs, deterministic.

Expected values are computed here independently of ``comparisons.figures``: the
model's forward in NumPy float64 from the verified final parameters (a ReLU MLP,
a line, softmax logits), the accuracy by counting, the learning-rate schedule
in closed form (``1 + (0.1 - 1) k / 100``), the weight slices as the means of
sorted thirds. Every closeness check states its tolerance: the verification
tolerance, float64 rtol = atol = 1e-12 (functional_training.tolerance), which
two float64 evaluations of these few-hundred-flop forwards meet by ~1e3.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import (
    assert_nothing_written,
    assert_one_line,
    assert_refused,
    files_under,
    run_cli,
)

import functional_training as ft
from comparisons import cli, figures, plots
from comparisons.compare import compare_trajectories, run_and_compare
from comparisons.experiments import REGISTRY
from comparisons.spec import load_spec

NEW = ("moons-decision-boundary", "moons-training", "logistic-boundary", "softmax-regions")
BACKENDS = ("manual", "jax")  # the full four-backend render is test_figures.py's (slow)
TOL = ft.tolerance("float64", 0)


@pytest.fixture(scope="module")
def verified():
    """The new figures' data, and the trajectories ``figure_data`` verified to draw it."""
    seen = {}

    def recording(experiment, *, backends=None):
        trajectories, verdict = run_and_compare(experiment, backends=backends)
        assert verdict.agree, verdict.describe()
        seen[experiment.name] = trajectories["manual"]
        return trajectories, verdict

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(figures, "run_and_compare", recording)
        data = figures.figure_data(backends=BACKENDS, only=NEW)
    return data, seen


@pytest.fixture(scope="module")
def data(verified):
    return verified[0]


def reference(verified, name: str):
    return verified[1][name]


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


def by_gid(fig, gid: str):
    found = fig.findobj(lambda artist: artist.get_gid() == gid)
    assert len(found) == 1, f"{len(found)} artists with gid {gid!r}"
    return found[0]


# --- moons ----------------------------------------------------------------------------------


def test_moons_grid_is_the_verified_networks_score(data, verified):
    experiment = REGISTRY["mlp/moons"]
    regions = data["figures"]["moons-decision-boundary"]["regions"]
    values = final(reference(verified, "mlp/moons"))
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


def test_the_right_side_of_the_boundary_is_the_recorded_accuracy_exactly(data, verified):
    # The function drawn on the grid, evaluated at the 100 points: the fraction on their own
    # label's side is the verified train_accuracy[S], as a count over 100, exactly.
    experiment = REGISTRY["mlp/moons"]
    run = reference(verified, "mlp/moons")
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


def test_moons_training_draws_the_recorded_loss_accuracy_and_rate(data, verified):
    run = reference(verified, "mlp/moons")
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


def test_logistic_line_is_the_verified_final_weights(data, verified):
    experiment = REGISTRY["logistic/late-shipments"]
    run = reference(verified, "logistic/late-shipments")
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


def test_softmax_panels_hold_the_weight_at_the_means_of_thirds(data, verified):
    experiment = REGISTRY["softmax/delay-class"]
    figure = data["figures"]["softmax-regions"]
    weights = sorted(row[2] for row in experiment.train)
    thirds = [np.mean(weights[i:i + 8]) for i in (0, 8, 16)]
    assert [p["held"] for p in figure["panels"]] == pytest.approx(thirds, rel=TOL, abs=TOL)
    values = final(reference(verified, "softmax/delay-class"))
    w = np.array([[values[f"layers.0.w[{i},{j}]"] for j in range(3)] for i in range(3)])
    b = np.array([values[f"layers.0.b[{j}]"] for j in range(3)])
    for panel in figure["panels"]:
        regions = panel["regions"]
        points = grid_points(regions)
        x = np.column_stack([points, np.full(len(points), panel["held"])])
        np.testing.assert_allclose(np.asarray(regions["outputs"]).reshape(-1, 3), x @ w + b,
                                   rtol=TOL, atol=TOL)


def test_softmax_points_are_each_shown_once_with_their_own_prediction(data, verified):
    experiment = REGISTRY["softmax/delay-class"]
    run = reference(verified, "softmax/delay-class")
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


# --- refusal -----------------------------------------------------------------------------


def test_a_jax_grid_that_disagrees_with_the_hand_written_forward_is_refused(monkeypatch):
    real = ft.Objective.outputs

    def nudged(self, params, x):
        return real(self, params, x) * (1.0 + 1e-9)

    monkeypatch.setattr(ft.Objective, "outputs", nudged)
    with pytest.raises(figures.UnverifiedTrajectoryError) as caught:
        figures.figure_data(backends=("manual",), only=("logistic-boundary",))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("refusing to draw logistic-boundary: the JAX objective's output")


def test_predictions_that_miss_the_recorded_accuracy_are_refused(monkeypatch):
    real = figures.run_and_compare

    def flipped_accuracy(experiment, *, backends=None):
        trajectories, verdict = real(experiment, backends=backends)
        manual = trajectories["manual"]
        accuracy = [*manual.extras["train_accuracy"][:-1], 1.0]
        trajectories["manual"] = dataclasses.replace(
            manual, extras={**manual.extras, "train_accuracy": accuracy})
        return trajectories, verdict

    monkeypatch.setattr(figures, "run_and_compare", flipped_accuracy)
    with pytest.raises(figures.UnverifiedTrajectoryError,
                       match=r"logistic-boundary: 0\.833.* verified train_accuracy is 1\.0"):
        figures.figure_data(backends=("manual",), only=("logistic-boundary",))


def test_unknown_figure_names_are_refused():
    with pytest.raises(ValueError, match="unknown figure 'moons'; known: learning-rates"):
        figures.figure_data(only=("moons",))


# --- files ---------------------------------------------------------------------------------


def test_new_figures_render_byte_identically_twice(data, tmp_path):
    first = figures.write_figures(data, tmp_path / "a")
    second = figures.write_figures(data, tmp_path / "b")
    assert [p.name for p in first] == [f"{n}.{fmt}" for n in NEW for fmt in ("png", "svg")] + [
        figures.README_FILE, figures.DATA_FILE]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_readme_names_the_held_weight_and_every_new_figure(data):
    readme = figures.readme_text(data)
    for name in NEW:
        assert f"## {name}" in readme and "![" in readme
    caption = figures.FIGURES["softmax-regions"].caption(data["figures"]["softmax-regions"], data)
    assert "holds it at the mean weight of a third of the training shipments" in caption


# --- figures --spec ------------------------------------------------------------------------

INLINE = """
name = "two-features"
[data]
train = [[0.5, 1.0, 0.0], [1.0, 2.5, 0.0], [1.5, 0.5, 0.0], [2.0, 3.0, 1.0],
         [3.0, 1.5, 1.0], [3.5, 2.0, 1.0], [2.5, 1.0, 0.0], [1.0, 3.5, 1.0]]
validation = [[1.2, 1.0, 0.0], [3.2, 2.5, 1.0]]
[model]
w = [0.0, 0.0]
b = 0.0
[loss]
kind = "binary-cross-entropy"
[optimizer]
name = "sgd"
learning_rate = 0.5
[run]
steps = 12
"""


def spec_file(tmp_path: Path, text: str = INLINE, name: str = "two-features.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_figures_spec_draws_loss_parameters_and_regions(tmp_path, capsys, monkeypatch):
    spec = spec_file(tmp_path)
    monkeypatch.chdir(tmp_path)  # the default --out is <spec stem>-figures in the cwd
    code, out, err = run_cli(capsys, "comparisons", "figures", "--spec", spec)
    assert code == 0, err
    folder = Path("two-features-figures")
    names = [f"{n}.{fmt}" for n in ("loss", "parameters", "decision-regions")
             for fmt in ("png", "svg")] + [figures.README_FILE, figures.DATA_FILE]
    assert out.splitlines() == [str(folder / n) for n in names]
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    record = json.loads((folder / figures.DATA_FILE).read_text())
    assert record["backends"][0] == "manual" and record["tolerance"] == TOL
    regions = record["figures"]["decision-regions"]["regions"]
    trajectories, verdict = run_and_compare(load_spec(spec))
    assert verdict.agree
    run = trajectories["manual"]
    w = np.array([run.params["w[0]"][-1], run.params["w[1]"][-1]])
    np.testing.assert_allclose(np.asarray(regions["outputs"]).ravel(),
                               grid_points(regions) @ w + run.params["b"][-1], rtol=TOL, atol=TOL)
    predicted = [1.0 if s > 0 else 0.0 for s in run.predictions[-1]]
    assert regions["train"]["predicted"] == predicted
    parameters = record["figures"]["parameters"]
    assert parameters["norms"] is False and list(parameters["series"]) == ["w[0]", "w[1]", "b"]
    readme = (folder / figures.README_FILE).read_text()
    assert readme.startswith("# Figures of two-features") and "*Alt text:*" in readme


def test_figures_spec_draws_no_regions_for_regression_and_norms_for_many(tmp_path, capsys):
    text = """
name = "small-mlp"
[data]
train = [[0.0, 1.0, 1.0], [1.0, 0.0, 2.0], [1.0, 1.0, 2.5], [2.0, 1.0, 4.0]]
[model]
kind = "mlp"
sizes = [2, 3, 1]
activation = "tanh"
init = "seeded"
seed = 0
[optimizer]
name = "adam"
learning_rate = 0.05
[run]
steps = 10
"""
    out = tmp_path / "figs"
    code, stdout, err = run_cli(capsys, "comparisons", "figures", "--spec",
                                spec_file(tmp_path, text, "small-mlp.toml"), "--out", out,
                                "--format", "svg")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["loss.svg", "parameters.svg", figures.README_FILE, figures.DATA_FILE])
    parameters = json.loads((out / figures.DATA_FILE).read_text())["figures"]["parameters"]
    assert parameters["norms"] is True and parameters["count"] == 13 > figures.MAX_PARAMETER_PATHS
    assert list(parameters["series"]) == ["layers.0.w", "layers.0.b", "layers.1.w", "layers.1.b"]


@pytest.mark.parametrize(("text", "message"), [
    (None, r"no such spec file"),
    ("name = [", r"two-features\.toml: .*"),
    (INLINE.replace('kind = "binary-cross-entropy"', 'kind = "hinge"'),
     r"\[data\]\.train\[0\]: target 0(\.0)? does not fit hinge"),
])
def test_figures_spec_refuses_a_bad_spec_with_one_line_and_writes_nothing(
        tmp_path, capsys, text, message):
    spec = tmp_path / "two-features.toml"
    if text is not None:
        spec.write_text(text)
    before = files_under(tmp_path)
    code, out, err = run_cli(capsys, "comparisons", "figures", "--spec", spec,
                             "--out", tmp_path / "figs")
    assert_refused(code, out, err, message)
    assert_nothing_written(tmp_path, before)


def test_figures_spec_refuses_an_out_that_is_a_file(tmp_path, capsys):
    spec = spec_file(tmp_path)
    (tmp_path / "afile").write_text("")
    before = files_under(tmp_path)
    code, out, err = run_cli(capsys, "comparisons", "figures", "--spec", spec,
                             "--out", tmp_path / "afile")
    assert_refused(code, out, err, r"--out: .*afile is not a directory")
    assert_nothing_written(tmp_path, before)


def test_figures_spec_refuses_to_draw_backends_that_disagree(tmp_path, capsys, monkeypatch):
    real = figures.run_and_compare

    def engine_off(experiment, *, backends=None):
        trajectories, _ = real(experiment, backends=("manual", "engine"))
        engine = trajectories["engine"]
        off = [*engine.train_loss[:-1], engine.train_loss[-1] + 1e-6]
        trajectories["engine"] = dataclasses.replace(engine, train_loss=off)
        return trajectories, compare_trajectories(experiment, trajectories)

    monkeypatch.setattr(figures, "run_and_compare", engine_off)
    spec = spec_file(tmp_path)
    before = files_under(tmp_path)
    code, out, err = run_cli(capsys, "comparisons", "figures", "--spec", spec,
                             "--out", tmp_path / "figs")
    assert code == 1 and out == ""
    assert_one_line(err)
    assert err.startswith("figures: not rendered: refusing to draw unverified trajectories: "
                          "two-features: engine differs from manual at step 12, train_loss")
    assert_nothing_written(tmp_path, before)


def test_figures_help_describes_spec(capsys):
    code, out, _ = run_cli(capsys, "comparisons", "figures", "--help")
    assert code == 0
    assert "--spec FILE" in out and "decision regions" in out and "my-run-figures/" in out
    parser = cli.build_parser()
    assert parser.parse_args(["figures"]).out is None  # resolved to figures/ when run
    assert figures.output_directory(None, None) == figures.DEFAULT_OUT
    assert parser.parse_args(["all"]).out == figures.DEFAULT_OUT


def test_parameter_groups_and_margins_are_plain_functions():
    groups = plots.parameter_groups(["layers.0.w[0,0]", "layers.0.w[1,0]", "layers.0.b[0]"])
    assert groups == {"layers.0.w": ["layers.0.w[0,0]", "layers.0.w[1,0]"],
                      "layers.0.b": ["layers.0.b[0]"]}
    logits = np.array([[[3.0, 1.0, 2.0], [0.0, 0.0, 5.0]]])
    m = plots.margins(logits, scores=False)
    assert m.shape == (3, 1, 2)
    assert m[:, 0, 0].tolist() == [1.0, -2.0, -1.0] and m[:, 0, 1].tolist() == [-5.0, -5.0, 5.0]
