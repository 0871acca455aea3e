"""A spec drawn as figures (comparisons.figures.spec, ``figures --spec``): verified, then drawn.

Expected values are computed here independently of ``comparisons.figures``: the
logistic model's outputs in NumPy float64 from a run verified here with
``run_and_compare``. Closeness: float64 rtol = atol = 1e-12 (functional_training.tolerance).
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
from comparisons import figures
from comparisons.compare import compare_trajectories, run_and_compare
from comparisons.experiments import REGISTRY
from comparisons.figures import verified
from comparisons.spec import load_spec

TOL = ft.tolerance("float64", 0)


def grid_points(regions) -> np.ndarray:
    gx, gy = np.meshgrid(regions["xs"], regions["ys"])
    return np.column_stack([gx.ravel(), gy.ravel()])


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
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the default --out is <spec stem>-figures beside the spec
    code, out, err = run_cli(capsys, "comparisons", "figures", "--spec", spec)
    assert code == 0, err
    assert not list(elsewhere.iterdir())  # nothing in the current directory
    folder = tmp_path / "two-features-figures"
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
    real = verified.run_and_compare

    def engine_off(experiment, *, backends=None):
        trajectories, _ = real(experiment, backends=("manual", "engine"))
        engine = trajectories["engine"]
        off = [*engine.train_loss[:-1], engine.train_loss[-1] + 1e-6]
        trajectories["engine"] = dataclasses.replace(engine, train_loss=off)
        return trajectories, compare_trajectories(experiment, trajectories)

    monkeypatch.setattr(verified, "run_and_compare", engine_off)
    spec = spec_file(tmp_path)
    before = files_under(tmp_path)
    code, out, err = run_cli(capsys, "comparisons", "figures", "--spec", spec,
                             "--out", tmp_path / "figs")
    assert code == 1 and out == ""
    assert_one_line(err)
    assert err.startswith("figures: not rendered: refusing to draw unverified trajectories: "
                          "two-features: engine differs from manual at step 12, train_loss")
    assert_nothing_written(tmp_path, before)



def test_a_classifier_without_validation_data_mentions_none(tmp_path, capsys):
    without = INLINE.replace("validation = [[1.2, 1.0, 0.0], [3.2, 2.5, 1.0]]\n", "")
    spec = spec_file(tmp_path, without, name="no-validation.toml")
    code, _, err = run_cli(capsys, "comparisons", "figures", "--spec", spec, "--format", "svg")
    assert code == 0, err
    readme = (tmp_path / "no-validation-figures" / figures.README_FILE).read_text()
    assert "ringed as misclassified" in readme and "validation" not in readme.lower()


def test_decision_region_axes_are_named_after_the_data_files_columns(tmp_path, capsys):
    (tmp_path / "parcels.csv").write_text(
        "distance_km,weight_kg,late\n" + "".join(
            f"{row[0]},{row[1]},{row[2]}\n" for row in
            ([0.5, 1.0, 0.0], [1.0, 2.5, 0.0], [1.5, 0.5, 0.0], [2.0, 3.0, 1.0],
             [3.0, 1.5, 1.0], [3.5, 2.0, 1.0], [2.5, 1.0, 0.0], [1.0, 3.5, 1.0])))
    text = INLINE.split("[model]")[1]
    spec = spec_file(tmp_path, 'name = "parcels"\n[data]\ntrain = "parcels.csv"\n[model]' + text,
                     name="parcels.toml")
    assert load_spec(spec).feature_names == ("distance_km", "weight_kg")
    code, _, err = run_cli(capsys, "comparisons", "figures", "--spec", spec, "--format", "svg")
    assert code == 0, err
    record = json.loads((tmp_path / "parcels-figures" / figures.DATA_FILE).read_text())
    regions = record["figures"]["decision-regions"]["regions"]
    assert (regions["x_label"], regions["y_label"]) == ("distance_km", "weight_kg")


TINY_HINGE = """
name = "tiny-hinge"
[data]
train = [[0.5, 1.0, -1.0], [1.0, 2.5, -1.0], [1.5, 0.5, -1.0], [2.0, 3.0, 1.0],
         [3.0, 1.5, 1.0], [3.5, 2.0, 1.0], [2.5, 1.0, -1.0], [1.0, 3.5, 1.0]]
[model]
kind = "mlp"
sizes = [2, 4, 1]
activation = "relu"
init = "seeded"
seed = 0
[loss]
kind = "hinge"
[optimizer]
name = "sgd"
learning_rate = 0.1
[run]
steps = 20
"""


def test_spec_figures_are_named_checked_before_anything_runs(tmp_path):
    two = load_spec(spec_file(tmp_path))
    assert figures.spec_figure_names(two) == figures.DEFAULT_SPEC_FIGURES
    assert figures.spec_figure_names(two, ["lr-finder", "training-animation", "loss"]) == (
        "loss", "lr-finder", "training-animation")
    with pytest.raises(ValueError, match="^unknown spec figure 'moons'; known: loss, "):
        figures.spec_figure_names(two, ["moons"])
    regression = dataclasses.replace(two, loss="squared-error")
    with pytest.raises(ValueError, match="^training-animation draws decision regions: it needs "
                       "a classifier"):
        figures.spec_figure_names(regression, ["training-animation"])
    with pytest.raises(ValueError, match="^decision-regions draws decision regions over two "
                       "features; softmax/delay-class has 3$"):
        figures.spec_figure_names(REGISTRY["softmax/delay-class"], ["decision-regions"])
    with pytest.raises(ValueError, match="^the learning-rate finder needs a training run"):
        figures.spec_figure_names(REGISTRY["shared-path"], ["lr-finder"])


def test_a_spec_animation_is_its_verified_run_step_by_step(tmp_path):
    spec = dataclasses.replace(load_spec(spec_file(tmp_path)), steps=4)  # 5 frames: quick
    out = tmp_path / "figs"
    # Two backends keep this test short; the course's animation draws a run verified on all four.
    written = figures.render_spec(spec, out, ("svg",), only=["training-animation"],
                                  backends=["manual", "jax"])
    assert [p.name for p in written] == ["training-animation.svg", "training-animation.gif",
                                         figures.README_FILE, figures.DATA_FILE]
    data = json.loads((out / figures.DATA_FILE).read_text())["figures"]
    assert list(data) == ["training-animation"]
    frames = data["training-animation"]["frames"]
    assert [f["step"] for f in frames] == list(range(5))  # 4 updates: a frame each
    run = run_and_compare(spec, backends=["torch"])[0]["torch"]
    regions = data["training-animation"]
    for frame in (frames[0], frames[3]):
        k = frame["step"]
        w = np.array([run.params["w[0]"][k], run.params["w[1]"][k]])
        np.testing.assert_allclose(np.asarray(frame["outputs"]).ravel(),
                                   grid_points(regions) @ w + run.params["b"][k],
                                   rtol=TOL, atol=TOL)
    readme = (out / figures.README_FILE).read_text()
    assert "[GIF](training-animation.gif)" in readme


def test_a_spec_lr_finder_ramps_its_own_model_and_runs_it_at_each_rate(tmp_path):
    spec = load_spec(spec_file(tmp_path, TINY_HINGE, "tiny-hinge.toml"))
    # Two backends keep this test short; the course's lr-finder runs on all four.
    data = figures.spec_figure_data(spec, backends=["manual", "jax"], only=["lr-finder"])
    finder = data["figures"]["lr-finder"]
    assert finder["ramp_backends"] == ["manual", "jax"] and finder["ramp"]["batch_size"] is None
    ramp = dataclasses.replace(spec, schedule=None, hyperparams={"learning_rate": 1e-7})
    first, _ = run_and_compare(dataclasses.replace(ramp, steps=1), backends=["manual"])
    assert finder["batch_loss"][0] == first["manual"].batch_loss[0]  # the spec's own start
    final = finder["final"]
    assert final["steps"] == spec.steps == 20
    rate = finder["steepest"]["rate"]
    at_rate = dataclasses.replace(spec, hyperparams={"learning_rate": rate})
    expected = run_and_compare(at_rate, backends=["torch"])[0]["torch"].train_loss[-1]
    actual = final["final_loss"][final["learning_rates"].index(rate)]
    assert abs(actual - expected) <= TOL * (1 + abs(expected))
