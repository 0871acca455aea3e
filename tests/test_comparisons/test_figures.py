"""Course figures: drawn headlessly from verified trajectories, deterministic, committed up to date.

Expected values come from the lesson's printed numbers, from trajectories
verified here with ``run_and_compare`` (independently of ``comparisons.figures``),
from the NumPy float64 reference (``tests/numpy_reference.py``) and from closed
forms of the one-shipment problem (error after k updates ``e_k = -4 (1 - 5 lr)^k``,
Hessian ``[[x^2, x], [x, 1]]``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from lesson_fixture import lesson_blocks
from numpy_reference import numpy_sgd

import functional_training as ft
from comparisons import figure_style as style
from comparisons import figures, plots
from comparisons.compare import compare_trajectories, run_and_compare
from comparisons.experiments import REGISTRY, batch_order
from functional_training import from_json_float, runs

LESSON = lesson_blocks()
# float64 policy (functional_training.tolerance): independent float64 implementations of
# these few-flop steps differ by a few ulps per step, far below 1e-12; any formula
# difference shows at 1e-3 or more.
TOL64 = ft.tolerance("float64", 0)
COMMITTED = Path(__file__).resolve().parents[2] / "figures"
RATES = figures.LESSON_RATES


@pytest.fixture(scope="module")
def data():
    """What every figure draws, verified by ``comparisons.figures`` (one run for the module)."""
    return figures.figure_data()


@pytest.fixture(scope="module")
def verified():
    """Trajectories by experiment and backend, verified here, not by the code under test."""
    cache = {}

    def get(name: str):
        if name not in cache:
            trajectories, verdict = run_and_compare(REGISTRY[name])
            assert verdict.agree, verdict.describe()
            cache[name] = trajectories
        return cache[name]

    return get


@pytest.fixture(scope="module")
def rendered(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    return out, figures.write_figures(data, out)


def draw(name: str, data):
    return figures.draw_figure(name, data["figures"][name])


def by_gid(fig, gid: str):
    """The one artist of ``fig`` with this gid."""
    found = fig.findobj(lambda artist: artist.get_gid() == gid)
    assert len(found) == 1, f"{len(found)} artists with gid {gid!r}"
    return found[0]


def visible_texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


# --- files ---------------------------------------------------------------------------


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk (bytes 16..24, big-endian)."""
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


@pytest.mark.slow
def test_every_figure_is_written_as_png_and_svg_at_slide_size(rendered):
    out, written = rendered
    expected = [out / f"{name}.{fmt}" for name in figures.FIGURE_NAMES for fmt in ("png", "svg")]
    assert written == [*expected, out / figures.README_FILE, out / figures.DATA_FILE]
    assert len(figures.FIGURE_NAMES) == 12
    for name in figures.FIGURE_NAMES:
        width, height = png_size(out / f"{name}.png")
        assert width >= 1600, name  # the floor for a slide
        assert (width, height) == (1920, 1080), name  # 10 x 5.625 in at 192 dpi
        svg = ET.parse(out / f"{name}.svg").getroot()
        assert (svg.get("width"), svg.get("height")) == ("720pt", "405pt"), name
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)  # no temp files


@pytest.mark.slow
def test_every_file_goes_through_the_projects_one_atomic_writer(data, tmp_path, monkeypatch):
    # functional_training.runs.write_atomic also fsyncs the directory and sets mode 0644; the
    # figures use it (no second writer). A missing --out directory is still created.
    calls = []
    real = runs.write_atomic

    def recording(path, payload):
        calls.append(Path(path))
        return real(path, payload)

    monkeypatch.setattr(runs, "write_atomic", recording)
    out = tmp_path / "new" / "figs"
    written = figures.write_figures(data, out, ("svg",))
    assert calls == written and len(written) == len(figures.FIGURE_NAMES) + 2
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in written)
    assert not hasattr(style, "write_atomically")


@pytest.mark.slow
def test_two_renders_in_a_row_are_byte_identical(data, rendered, tmp_path):
    out, written = rendered
    again = figures.write_figures(data, tmp_path)
    for first, second in zip(written, again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_files_carry_no_date_and_no_library_version(rendered):
    out, _ = rendered
    for name in figures.FIGURE_NAMES:
        svg = (out / f"{name}.svg").read_bytes()
        png = (out / f"{name}.png").read_bytes()
        assert b"<dc:date>" not in svg
        for raw in (svg, png):
            assert matplotlib.__version__.encode() not in raw, name
            assert b"comparisons.figures" in raw, name  # our fixed creator string


def test_readme_has_a_caption_and_alt_text_for_every_figure(data, rendered):
    out, _ = rendered
    readme = (out / figures.README_FILE).read_text()
    for name, spec in figures.FIGURES.items():
        alt = spec.alt(data["figures"][name])
        assert f"## {name}" in readme
        assert f"![{alt}]({name}.png)" in readme
        assert f"*Alt text:* {alt}" in readme
        assert f"[SVG]({name}.svg)" in readme
        assert len(alt) > 80, name  # says what the figure shows, not just its name


# --- the data drawn equals the verified trajectories -------------------------------------


def test_learning_rates_draws_every_backends_verified_losses(data, verified):
    fig = draw("learning-rates", data)
    assert fig.axes[0].get_yscale() == "log"
    for name, printed in zip(RATES, LESSON["learning-rates"], strict=True):
        rate = REGISTRY[name].learning_rate
        trajectories = verified(name)
        assert {"manual", "engine", "jax"} <= set(trajectories)
        assert set(data["figures"]["learning-rates"]["runs"][RATES.index(name)]["losses"]) == set(
            trajectories)
        for backend, trajectory in trajectories.items():
            line = by_gid(fig, f"{backend} lr={rate}")
            assert list(line.get_xdata()) == list(range(6))
            assert list(line.get_ydata()) == trajectory.train_loss  # the same floats, drawn
        reference = by_gid(fig, f"line lr={rate}")
        assert list(reference.get_ydata()) == trajectories["manual"].train_loss
        losses = trajectories["manual"].batch_loss
        assert f"lr={rate:.2f}: " + ", ".join(f"{v:.3f}" for v in losses) == printed


def test_lr_trajectories_draws_the_verified_paths(data, verified):
    fig = draw("lr-trajectories", data)
    assert len(fig.axes) == 3
    for name in RATES:
        rate = REGISTRY[name].learning_rate
        manual = verified(name)["manual"]
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


def test_loss_surface_is_the_hessian_quadratic_form():
    # One shipment (x = 2, y = 6): zero loss at (3, 0); L = 0.5 d^T H d with H = [[4, 2], [2, 1]].
    w, b = np.meshgrid(np.linspace(-2, 5, 7), np.linspace(-3, 4, 5))
    d = np.stack([w - 3.0, b], axis=-1)
    quadratic = 0.5 * np.einsum("...i,ij,...j->...", d, np.array([[4.0, 2.0], [2.0, 1.0]]), d)
    np.testing.assert_allclose(plots.loss_surface(w, b, [2.0], [6.0]), quadratic,
                               rtol=TOL64, atol=TOL64)


def test_lr_sweep_marks_the_analytic_limit_and_the_sweeps_own(data):
    sweep = data["figures"]["lr-sweep"]
    rates = np.array(sweep["learning_rates"])
    final = np.array(sweep["final_loss"])
    assert rates.size >= 1000 and np.all(np.diff(rates) > 0)
    x = 2.0
    hessian = np.array([[x * x, x], [x, 1.0]])
    limit = 2.0 / np.linalg.eigvalsh(hessian).max()
    assert abs(limit - 2.0 / (x * x + 1.0)) <= TOL64  # lambda_max = x^2 + 1 = 5
    assert abs(sweep["stability_limit"] - limit) <= TOL64
    # Closed form: the loss after S updates is 8 (1 - 5 lr)^(2S), so it falls exactly below
    # the limit and grows above it; the sweep's divergence point is the first rate past it.
    above = rates > limit
    assert sweep["divergence_rate"] == rates[above].min()
    assert np.all(final[~above] < sweep["initial_loss"])
    assert np.all(~np.isfinite(final[above]) | (final[above] > sweep["initial_loss"]))

    fig = draw("lr-sweep", data)
    for gid, value in (("stability limit", limit), ("divergence rate", sweep["divergence_rate"])):
        marks = fig.findobj(lambda a, g=gid: a.get_gid() == g)
        assert len(marks) == 2, gid  # on both panels
        assert all(abs(mark.get_xdata()[0] - value) <= TOL64 for mark in marks), gid
    drawn = by_gid(fig, "final loss")
    shown = np.isfinite(final) & (final >= 1e-30)
    np.testing.assert_array_equal(drawn.get_xdata(), rates[shown])
    np.testing.assert_array_equal(drawn.get_ydata(), final[shown])
    steps_at = by_gid(fig, "first non-finite step")
    overflowed = [s is not None for s in sweep["first_nonfinite_step"]]
    np.testing.assert_array_equal(steps_at.get_xdata(), rates[overflowed])


def test_lr_sweep_values_follow_the_closed_form(data):
    sweep = data["figures"]["lr-sweep"]
    steps = sweep["steps"]
    rates = np.array(sweep["learning_rates"])
    final = np.array(sweep["final_loss"])
    factor = np.abs(1.0 - 5.0 * rates)
    with np.errstate(over="ignore"):
        error = 4.0 * factor**steps
    # Where |e_S| >= 1e-3 the absolute rounding of e (~1e-15 from forming 2w + b - 6) is at
    # most 1e-12 of it, and S = 100 updates add ~100 ulps: rtol 1e-9 leaves room for both.
    clean = (error >= 1e-3) & (error <= 1e150)
    assert clean.sum() > 500
    np.testing.assert_allclose(final[clean], 0.5 * error[clean] ** 2, rtol=1e-9)
    # Overflow: the loss first exceeds the float64 maximum at k* = ceil(log(max / 8) / (2 log f)).
    f_max = np.finfo(np.float64).max
    for rate, first in zip(rates, sweep["first_nonfinite_step"], strict=True):
        f = abs(1.0 - 5.0 * rate)
        expected = math.ceil(math.log(f_max / 8.0) / (2.0 * math.log(f))) if f > 1 else math.inf
        if expected <= steps - 1:
            assert first is not None and abs(first - expected) <= 1, rate
        elif expected > steps + 1:
            assert first is None, rate


def test_lr_sweep_equals_the_numpy_reference_at_the_lessons_rates(data):
    sweep = data["figures"]["lr-sweep"]
    for rate in sweep["lesson_rates"]:
        i = sweep["learning_rates"].index(rate)
        reference = numpy_sgd(1.0, 0.0, [2.0], [6.0], rate, sweep["steps"])["train_loss"][-1]
        assert abs(sweep["final_loss"][i] - reference) <= TOL64 + TOL64 * abs(reference), rate


def test_full_batch_draws_the_verified_run_and_the_lessons_numbers(data, verified):
    manual = verified("full-batch")["manual"]
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


def test_train_validation_draws_both_losses_and_shades_the_gap(data, verified):
    manual = verified("train-validation")["manual"]
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


def test_gradient_accumulation_draws_each_backends_buffer(data, verified):
    trajectories = verified("gradient-accumulation")
    fig = draw("gradient-accumulation", data)
    lesson = [float(line.rsplit(":", 1)[1]) for line in LESSON["gradient-accumulation"]]
    assert lesson == [-8.0, -16.0, -8.0]
    for backend, trajectory in trajectories.items():
        bars = sorted(fig.findobj(lambda a, b=backend: a.get_gid() == f"bars {b}"),
                      key=lambda bar: bar.get_x())
        assert [bar.get_height() for bar in bars] == trajectory.grads["w"] == lesson


def test_mini_batch_draws_batch_and_full_losses(data, verified):
    manual = verified("mini-batch")["manual"]
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


def test_autograd_graph_is_the_engines_graph_with_verified_numbers(data, verified):
    graph = data["figures"]["autograd-graph"]
    nodes = {node["label"]: node for node in graph["nodes"]}
    assert set(nodes) == {"x", "w", "b", "target", "w·x", "prediction", "−target", "error",
                          "error²", "loss"}
    assert len(graph["edges"]) == 9  # one per operand use
    ops = {label: node["op"] for label, node in nodes.items()}
    assert ops == {"x": "", "w": "", "b": "", "target": "", "w·x": "*", "prediction": "+",
                   "−target": "*", "error": "+", "error²": "**", "loss": "*"}
    scalar = verified("scalar-autograd")["manual"]
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


CLASSIFIER_FIGURES = ("moons-decision-boundary", "moons-training", "logistic-boundary",
                      "softmax-regions")
"""Figures of classifiers: their losses (hinge, cross-entropy) have no unit."""


def test_every_figure_has_a_title_and_labelled_axes_with_units(data):
    for name in figures.FIGURE_NAMES:
        fig = draw(name, data)
        assert fig.get_suptitle(), name
        insets = [child for ax in fig.axes for child in ax.child_axes]
        panels = [ax for ax in fig.axes if ax.axison and ax not in insets]
        if name == "autograd-graph":
            assert panels == []  # a diagram: no axes to label
            continue
        assert any(ax.get_xlabel() for ax in panels), name
        for ax in panels:
            ylabel = ax.get_ylabel()
            # A panel sharing its y axis with a labelled one left of it may leave the label off.
            shared = [other for other in ax.get_shared_y_axes().get_siblings(ax) if other is not ax]
            assert ylabel or any(other.get_ylabel() for other in shared), name
            if "loss" in ylabel and name not in CLASSIFIER_FIGURES:
                assert "(h²)" in ylabel, (name, ylabel)


def test_data_is_drawn_in_the_colour_blind_safe_palette(data):
    allowed = {c.lower() for c in style.OKABE_ITO.values()} | {style.MUTED.lower()}
    for name in figures.FIGURE_NAMES:
        fig = draw(name, data)
        drawn = fig.findobj(lambda a: a.get_gid() is not None)
        assert drawn, name
        for artist in drawn:
            if isinstance(artist, matplotlib.lines.Line2D):
                colour = artist.get_color()
            elif isinstance(artist, matplotlib.patches.Rectangle):
                colour = artist.get_facecolor()
            else:
                continue
            assert matplotlib.colors.to_hex(colour) in allowed, (name, artist.get_gid())


# --- refusal and bad input -----------------------------------------------------------------


def test_rendering_refuses_trajectories_that_disagree(monkeypatch, tmp_path):
    real = figures.run_and_compare

    def one_backend_off(experiment, *, backends=None):
        trajectories, _ = real(experiment, backends=("manual", "engine"))
        if experiment.name == "full-batch":
            engine = trajectories["engine"]
            off = [*engine.train_loss[:-1], engine.train_loss[-1] + 1e-6]
            trajectories["engine"] = dataclasses.replace(engine, train_loss=off)
        return trajectories, compare_trajectories(experiment, trajectories)

    monkeypatch.setattr(figures, "run_and_compare", one_backend_off)
    out = tmp_path / "out"
    with pytest.raises(figures.UnverifiedTrajectoryError) as caught:
        figures.render_all(out)
    message = str(caught.value)
    assert "\n" not in message
    assert "full-batch: engine differs from manual at step 20, train_loss" in message
    assert not out.exists()  # nothing written, not even the directory


def test_rendering_refuses_a_sweep_that_disagrees_with_the_verified_runs(monkeypatch, tmp_path):
    real = ft.sweep_learning_rates

    def shifted(*args, **kwargs):
        result = real(*args, **kwargs)
        losses = result.losses.copy()
        losses[:, 3] *= 1.0 + 1e-9
        return result._replace(losses=losses)

    monkeypatch.setattr(ft, "sweep_learning_rates", shifted)
    with pytest.raises(figures.UnverifiedTrajectoryError, match=r"lr-sweep: .* step 3"):
        figures.figure_data(backends=("manual",), only=("lr-sweep",))


@pytest.mark.parametrize("text", ["", " , ", "pdf", "png,gif"])
def test_bad_formats_are_one_line_value_errors(text, tmp_path):
    with pytest.raises(ValueError) as caught:
        figures.parse_formats(text)
    assert "\n" not in str(caught.value) and "png, svg" in str(caught.value)
    with pytest.raises(ValueError):
        figures.render_all(tmp_path / "out", (text,))
    assert not (tmp_path / "out").exists()


def test_formats_parse_in_order_without_repeats():
    assert figures.parse_formats("SVG, png,svg") == ("svg", "png")
    assert figures.parse_formats(("png",)) == ("png",)


def test_figure_arguments_default_and_refuse(capsys):
    parser = argparse.ArgumentParser(prog="figures")
    figures.add_figure_arguments(parser)
    args = parser.parse_args([])
    assert (args.out, args.format) == (Path("figures"), ("png", "svg"))
    assert parser.parse_args(["--out", "x", "--format", "svg"]).out == Path("x")
    with pytest.raises(SystemExit) as caught:
        parser.parse_args(["--format", "gif"])
    assert caught.value.code == 2
    assert "unknown figure format 'gif'" in capsys.readouterr().err


@pytest.mark.slow
def test_drawing_never_touches_pyplot():
    code = (
        "import io, sys\n"
        "from comparisons import figures\n"
        "fig = figures.draw_figure('train-validation', "
        "{'train_loss': [9.0, 7.0], 'val_loss': [0.0, 0.5]})\n"
        "fig.savefig(io.BytesIO(), format='png')\n"
        "print(type(fig.canvas).__name__, 'matplotlib.pyplot' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["FigureCanvasAgg", "False"]


# --- the committed figures are what the code renders now ------------------------------------


def _assert_same_data(committed, fresh, tol: float, where: str = "figures") -> None:
    """Same structure, strings and integers equal, floats within rtol = atol = ``tol``."""
    if isinstance(fresh, dict):
        assert isinstance(committed, dict) and committed.keys() == fresh.keys(), where
        for key in fresh:
            _assert_same_data(committed[key], fresh[key], tol, f"{where}.{key}")
    elif isinstance(fresh, (list, tuple)):
        assert isinstance(committed, list) and len(committed) == len(fresh), where
        for i, (c, f) in enumerate(zip(committed, fresh, strict=True)):
            _assert_same_data(c, f, tol, f"{where}[{i}]")
    elif isinstance(fresh, float):
        c = from_json_float(committed)
        same_special = (math.isnan(c) and math.isnan(fresh)) or c == fresh
        assert same_special or abs(c - fresh) <= tol + tol * abs(fresh), (where, c, fresh)
    else:
        assert committed == fresh, where


def _committed_record() -> dict:
    path = COMMITTED / figures.DATA_FILE
    if not path.exists():
        pytest.fail(f"{path} is missing: run python -m comparisons figures and commit figures/")
    return json.loads(path.read_text())


def test_committed_figures_draw_the_data_the_code_draws_now(data):
    """The committed ``figures/`` must show what the code renders now.

    Compared: the data each figure draws (``figure-data.json``, regenerated
    here) at the float64 tolerance of the project's policy, and the README
    text exactly. The data, not the image bytes, is the contract: bytes
    change with matplotlib, FreeType and the fonts they ship even when every
    plotted number is the same, while a stale figure always shows up as
    different data. (Byte identity is checked on pinned versions below.)
    """
    committed = _committed_record()
    if committed["backends"] != data["backends"]:
        pytest.skip(f"committed figures drew backends {committed['backends']}, "
                    f"this install runs {data['backends']}")
    fresh = json.loads(figures.data_json(data))  # the same JSON round trip as the file
    _assert_same_data(committed["figures"], fresh["figures"], fresh["tolerance"])
    readme = (COMMITTED / figures.README_FILE).read_text()
    assert readme == figures.readme_text(data), "re-render: python -m comparisons figures"
    for name in figures.FIGURE_NAMES:
        for fmt in style.FORMATS:
            assert (COMMITTED / f"{name}.{fmt}").is_file(), f"{name}.{fmt} is not committed"


def test_committed_figures_are_byte_identical_on_the_pinned_versions(rendered):
    """With the library versions the committed files record, every file's bytes must match.

    ``python -m comparisons all`` writes exactly these files (``render_all``: the
    same ``figure_data`` and ``write_figures``) into ``figures/`` and nothing else
    into the tree, so this is the test that it leaves ``git status`` clean: PNG,
    SVG, README.md and figure-data.json, byte for byte.
    """
    committed = _committed_record()
    if committed["rendered_with"] != figures.rendered_with():
        pytest.skip(f"figures/ was rendered with {committed['rendered_with']}, "
                    f"this install has {figures.rendered_with()}")
    out, paths = rendered
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(Path(p).name for p in paths)
    for name in written:
        assert (COMMITTED / name).read_bytes() == (out / name).read_bytes(), (
            f"{name} is stale: run python -m comparisons figures")


@pytest.mark.slow
def test_command_line_renders_every_figure(tmp_path, capsys, data, monkeypatch):
    from comparisons import cli  # `python -m comparisons figures` is cli.main(["figures", ...])

    # The module's verified data stands in for a second verification run (the command's
    # whole path, verification included, runs in the fresh-process `comparisons all` test).
    monkeypatch.setattr(figures, "figure_data", lambda **_: data)
    out = tmp_path / "figs"
    assert cli.main(["figures", "--out", str(out), "--format", "svg"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{name}.svg" for name in figures.FIGURE_NAMES] + [figures.README_FILE, figures.DATA_FILE])
    with pytest.raises(SystemExit) as caught:  # argparse: usage error, exit code 2
        cli.main(["figures", "--out", str(out), "--format", "pdf"])
    assert caught.value.code == 2
    assert "unknown figure format 'pdf'" in capsys.readouterr().err
