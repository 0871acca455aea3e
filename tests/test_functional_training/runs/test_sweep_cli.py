"""``python -m functional_training sweep --spec FILE``: any model kind, rates x seeds.

Each run of the sweep is checked against :func:`functional_training.train` run on its
own with that rate and that seed's initial values (float64, rtol 1e-12); bad command
lines are refused with exit 2, one line on stderr and no file written.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_refused, files_under, run_cli, run_module

import functional_training as ft
import functional_training._sweep_cost as cost_module
from functional_training.runs import _sweep_cli

DOOR = "functional_training"

ROWS = [[0.0, 0.0, -1.0], [1.0, 0.5, 1.0], [0.5, 1.0, 1.0], [-1.0, 0.2, -1.0],
        [0.3, -0.7, -1.0], [1.2, 1.1, 1.0], [-0.4, -0.9, -1.0]]
MODEL = 'kind = "mlp"\nsizes = [2, 3, 1]\nactivation = "tanh"\n'
LAYERS = """[[model.layers]]
w = [[0.1, -0.2, 0.3], [0.0, 0.5, -0.1]]
b = [0.0, 0.1, 0.0]
[[model.layers]]
w = [[0.2], [-0.3], [0.1]]
b = [0.05]
"""


def _spec(tmp_path: Path, *, model: str = MODEL + 'init = "seeded"\nseed = 5\n',
          optimizer: str = 'name = "sgd"\nlearning_rate = 0.1', extra: str = "",
          name: str = "net.toml") -> Path:
    """A 2-3-1 tanh network with hinge loss and l2 on seven inline points."""
    text = (f'name = "tiny-net"\n[data]\ntrain = {ROWS}\n[loss]\nkind = "hinge"\nl2 = 1e-3\n'
            f"[optimizer]\n{optimizer}\n[run]\nsteps = 7\n{extra}[model]\n{model}")
    path = tmp_path / name
    path.write_text(text)
    return path


def _data():
    rows = np.asarray(ROWS)
    return rows[:, :-1], rows[:, -1]


def _net():
    return ft.objective("mlp", loss="hinge", l2=1e-3, sizes=[2, 3, 1], activation="tanh")


def _train_losses(values: dict, rate, steps: int, *, optimizer=None):
    """``train_loss`` of :func:`functional_training.train` from ``values``, float64."""
    x, y = _data()
    with ft.float64():
        params = ft.params_from_values("mlp", values, sizes=(2, 3, 1), activation="tanh")
        trajectory = ft.train(params, x, y, optimizer=rate if optimizer is None else optimizer,
                              steps=steps, objective=_net())
    return np.asarray(trajectory.train_loss, np.float64), trajectory.first_nonfinite_step


@pytest.mark.slow
def test_each_run_of_an_mlp_sweep_equals_train_with_its_rate_and_seed(tmp_path):
    spec, out, plot = _spec(tmp_path), tmp_path / "out.json", tmp_path / "sweep.png"
    steps, every = 30, 4
    done = run_module(DOOR, "sweep", "--spec", spec, "--learning-rates", "0.05:20:3", "--log",
                      "--seeds", "2", "--steps", steps, "--record-every", every,
                      "--dtype", "float64", "--json", out, "--plot", plot)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    losses = np.asarray(result["losses"], np.float64)
    assert losses.shape == (3, 2, steps // every + 1)  # (L, Z, S // K + 1)
    assert result["seeds"] == [5, 6]  # the spec's seed s, then s + 1
    assert result["recorded_steps"] == list(range(0, steps + 1, every))
    rates = np.geomspace(0.05, 20, 3)
    np.testing.assert_allclose(result["learning_rates"], rates, rtol=0, atol=0)
    for i, rate in enumerate(rates):
        for z, seed in enumerate((5, 6)):
            values = ft.initial_values("mlp", init="seeded", seed=seed, sizes=(2, 3, 1),
                                       activation="tanh")
            expected, first = _train_losses(values, float(rate), steps)
            np.testing.assert_allclose(losses[i, z], expected[::every], rtol=1e-12, atol=0)
            assert result["final_loss"][i][z] == pytest.approx(expected[-1], rel=1e-12)
            assert result["first_nonfinite_step"][i][z] == (-1 if first is None else first)
    assert "manifest" in result and result["manifest"]["tool"] == "functional_training sweep"
    assert result["spec"]["text"] == spec.read_text()
    # the plot: a PNG with a sensible size
    data = plot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 100 and height > 100
    lines = done.stdout.splitlines()
    assert "seeds: 2 (init seeded, seeds 5..6)" in lines
    assert any(line.startswith("model: mlp (sizes 2-3-1, activation tanh), loss hinge")
               for line in lines)
    assert any(line.startswith("best rate: ") for line in lines)
    assert any(line.startswith("observed divergence: ") for line in lines)


def test_explicit_initial_values_and_optimizer_overrides(capsys, tmp_path):
    # The spec's [[model.layers]] values are the one initial point; --optimizer adam with
    # --hyperparameter b1=0.8 replaces the spec's sgd; --steps overrides [run].steps.
    spec = _spec(tmp_path, model=MODEL + LAYERS)
    out = tmp_path / "out.json"
    code, stdout, err = run_cli(capsys, DOOR, "sweep", "--spec", spec, "--learning-rates",
                                "0.01:0.1:2", "--steps", "6", "--record-every", "2",
                                "--optimizer", "adam", "--hyperparameter", "b1=0.8",
                                "--dtype", "float64", "--json", out)
    assert code == 0, err
    result = json.loads(out.read_text())
    assert result["seeds"] is None and result["init"] == "explicit"
    assert result["hyperparameters"] == {"b1": 0.8, "b2": 0.999, "eps": 1e-08}
    values = ft.runs.parse_run_spec(spec.read_text()).init
    assert values["layers.0.w[1,1]"] == 0.5
    for i, rate in enumerate((0.01, 0.1)):
        adam = ft.make_optimizer("adam", learning_rate=rate, b1=0.8)
        expected, _ = _train_losses(values, rate, 6, optimizer=adam)
        np.testing.assert_allclose(np.asarray(result["losses"])[i, 0], expected[::2],
                                   rtol=1e-12, atol=0)
    assert "seeds: 1 (the spec's fixed initial values, init explicit)" in stdout


def test_without_json_no_manifest_is_built_and_the_manifest_reruns(capsys, tmp_path,
                                                                   monkeypatch):
    spec = _spec(tmp_path)

    def refuse(**_):
        raise AssertionError("sweep_manifest called without --json or --manifest")

    with monkeypatch.context() as patch:
        patch.setattr(_sweep_cli, "sweep_manifest", refuse)
        code, out, err = run_cli(capsys, DOOR, "sweep", "--spec", spec, "--learning-rates",
                                 "0.1:1:2", "--seeds", "2", "--steps", "5")
    assert code == 0, err
    assert "json:" not in out and "manifest:" not in out
    manifest = tmp_path / "m.json"
    code, _, err = run_cli(capsys, DOOR, "sweep", "--spec", spec, "--learning-rates", "0.1:1:2",
                           "--seeds", "2", "--steps", "5", "--batch-size", "3",
                           "--manifest", manifest)
    assert code == 0, err
    code, out, err = run_cli(capsys, DOOR, "rerun", manifest)
    assert code == 0, (out, err)
    assert "sweep: EQUAL to the recorded one" in out


def test_a_linear_spec_sweeps_its_seeds(capsys, tmp_path):
    spec = tmp_path / "line.toml"
    spec.write_text('name = "line"\n[data]\ntrain = [[1.0, 2.0, 3.1], [2.0, 0.5, 4.9]]\n'
                    '[model]\ninit = "seeded"\nseed = 2\n[optimizer]\nname = "sgd"\n'
                    "learning_rate = 0.1\n[run]\nsteps = 4\n")
    out = tmp_path / "line.json"
    code, _, err = run_cli(capsys, DOOR, "sweep", "--spec", spec, "--learning-rates",
                           "0.01:0.1:2", "--seeds", "3", "--dtype", "float64", "--json", out)
    assert code == 0, err
    result = json.loads(out.read_text())
    assert np.asarray(result["losses"]).shape == (2, 3, 5) and result["seeds"] == [2, 3, 4]
    x, y = np.array([[1.0, 2.0], [2.0, 0.5]]), np.array([3.1, 4.9])
    with ft.float64():
        params = ft.params_from_values("linear", ft.initial_values(
            "linear", init="seeded", seed=4, features=2), features=2)
        direct = ft.train(params, x, y, optimizer=0.1, steps=4,
                          objective=ft.objective("linear", features=2))
    np.testing.assert_allclose(result["losses"][1][2], direct.train_loss, rtol=1e-12, atol=0)


BAD = [
    ("missing spec", ["--spec", "{tmp}/nope.toml"], r"nope\.toml: no such spec file$"),
    ("spec with data", ["--spec", "{spec}", "--data", "shipments"],
     r"^error: --data cannot be combined with --spec"),
    ("spec with method", ["--spec", "{spec}", "--method", "autodiff"],
     r"^error: --method cannot be combined with --spec"),
    ("seeds with explicit init", ["--spec", "{explicit}", "--seeds", "2"],
     r"^error: --seeds 2: .*explicit\.toml fixes one initial point \(explicit initial values\)"),
    ("seeds with zeros", ["--spec", "{zeros}", "--seeds", "3"],
     r"^error: --seeds 3: .* fixes one initial point \(init = \"zeros\"\)"),
    ("bad plot suffix", ["--spec", "{spec}", "--plot", "{out}/sweep.jpg"],
     r"^error: --plot .*sweep\.jpg: unknown suffix '\.jpg'; expected \.png, \.svg or \.pdf$"),
    ("unknown hyperparameter", ["--spec", "{spec}", "--hyperparameter", "momentum=0.9"],
     r"^error: --hyperparameter: optimizer 'sgd' does not take momentum"),
    ("hyperparameter twice", ["--spec", "{spec}", "--hyperparameter", "b1=0.8",
                              "--optimizer", "adam", "--hyperparameter", "b1=0.7"],
     r"^error: --hyperparameter: b1 given twice$"),
    ("hyperparameter out of range", ["--spec", "{spec}", "--optimizer", "adam",
                                     "--hyperparameter", "b1=1.5"],
     r"^error: --hyperparameter: optimizer 'adam': b1 must lie in \[0, 1\)"),
    ("hyperparameter learning rate", ["--spec", "{spec}", "--hyperparameter",
                                      "learning_rate=0.1"],
     r"^error: --hyperparameter learning_rate: the sweep sets the rate"),
    ("schedule", ["--spec", "{scheduled}"], r"scheduled\.toml: \[schedule\]: a sweep runs every "
                                            "rate constant"),
    ("trainable", ["--spec", "{frozen}"], r"frozen\.toml: \[model\]\.trainable: a sweep trains "
                                          "every parameter"),
    ("invalid spec", ["--spec", "{invalid}"], r"invalid\.toml: \[run\]\.steps: must be an "
                                              r"integer > 0, got 0$"),
    ("batch too large", ["--spec", "{spec}", "--batch-size", "8"],
     r"^error: --batch-size 8 is larger than the spec's data \(7 examples\)$"),
    ("seeds without spec", ["--steps", "3", "--seeds", "2"], r"^error: --seeds needs --spec"),
    ("no steps without spec", [], r"^error: --steps is required without --spec$"),
    ("line with bad plot suffix", ["--steps", "3", "--plot", "{out}/p.gif"],
     r"unknown suffix '\.gif'"),
    ("axis value out of range", ["--steps", "3", "--optimizer", "momentum",
                                 "--hyperparameter", "momentum=0.5,1.0"],
     r"^error: --hyperparameter: optimizer 'momentum': momentum must lie in \[0, 1\), "
     r"got 1\.0$"),
    ("axis value not a number", ["--steps", "3", "--hyperparameter", "momentum=0.5,x"],
     r"momentum: expected a number or numbers separated by commas, got 'x'"),
    ("axis of a setting not taken", ["--steps", "3", "--hyperparameter", "b1=0.5,0.9"],
     r"^error: --hyperparameter: optimizer 'sgd' does not take b1"),
    ("axis given twice", ["--spec", "{spec}", "--optimizer", "momentum", "--hyperparameter",
                          "momentum=0.5,0.9", "--hyperparameter", "momentum=0.1"],
     r"^error: --hyperparameter: momentum given twice$"),
]


@pytest.mark.parametrize(("argv", "message"), [row[1:] for row in BAD],
                         ids=[row[0] for row in BAD])
def test_bad_sweep_spec_command_lines_are_refused(capsys, tmp_path, monkeypatch, argv, message):
    paths = {
        "spec": _spec(tmp_path),
        "explicit": _spec(tmp_path, model=MODEL + LAYERS, name="explicit.toml"),
        "zeros": _spec(tmp_path, model=MODEL + 'init = "zeros"\n', name="zeros.toml"),
        "scheduled": _spec(tmp_path, optimizer='name = "sgd"', name="scheduled.toml",
                           extra='[schedule]\nkind = "cosine"\ninit_value = 0.1\n'
                                 "decay_steps = 5\n"),
        "frozen": _spec(tmp_path, name="frozen.toml",
                        model=MODEL + 'init = "seeded"\ntrainable = ["layers.1.w"]\n'),
        "invalid": _spec(tmp_path, name="invalid.toml").parent / "invalid.toml",
    }
    paths["invalid"].write_text(paths["spec"].read_text().replace("steps = 7", "steps = 0"))
    out = tmp_path / "out"
    out.mkdir()
    filled = [a.format(tmp=tmp_path, out=out, **paths) for a in argv]

    def no_sweep(*_, **__):
        raise AssertionError("the sweep ran before the refusal")

    monkeypatch.setattr(_sweep_cli, "sweep", no_sweep)
    before = files_under(tmp_path)
    code, stdout, err = run_cli(capsys, DOOR, "sweep", "--learning-rates", "0.1:1:2", *filled,
                                "--json", out / "r.json", "--manifest", out / "m.json")
    assert_refused(code, stdout, err, message)
    assert files_under(tmp_path) == before


@pytest.mark.slow
def test_a_refusal_in_a_fresh_interpreter_is_one_line(tmp_path):
    done = run_module(DOOR, "sweep", "--spec", _spec(tmp_path), "--data", "shipments",
                      "--learning-rates", "0.1:1:2", "--json", tmp_path / "r.json")
    assert_refused(done.returncode, done.stdout, done.stderr, "--data cannot be combined")
    assert not (tmp_path / "r.json").exists()


# --- the estimate before compiling (issue 21: huge sweeps warn, or are refused, first) -------


def test_a_sweep_says_its_work_and_memory_before_it_runs(capsys):
    code, out, err = run_cli(capsys, "functional_training", "sweep", "--learning-rates",
                             "0.01:0.1:4", "--steps", "10", "--no-progress")
    assert code == 0, err
    assert err.startswith("sweep: 4 runs x 10 steps x 1 example = 40 example-steps "
                          "(2 parameters a run); memory about "), err  # one-shipment


def test_a_sweep_too_big_for_memory_is_refused_before_compiling(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(cost_module, "physical_memory", lambda: 24 * 2**30)
    compiled = []
    monkeypatch.setattr("functional_training._sweep.execute", lambda *a, **k: compiled.append(1))
    before = files_under(tmp_path)
    code, out, err = run_cli(capsys, "functional_training", "sweep", "--spec",
                             "examples/moons-sweep.toml", "--learning-rates", "0.01:1:10000",
                             "--seeds", "100", "--steps", "1000000", "--json",
                             tmp_path / "r.json")
    assert_refused(code, out, err, r"^error: the sweep needs about \d+ GiB \(1,000,000 runs of "
                                   r"337 parameters\), more than the 24 GiB of memory here")
    assert not compiled and files_under(tmp_path) == before


def _numpy_heavy_ball_line(x, y, rate: float, beta: float, steps: int) -> np.ndarray:
    """The lesson's line ``w x + b`` from (0, 0) by heavy ball (torch.optim.SGD's
    convention: ``v = beta v + g``, ``theta -= rate v``) in NumPy float64: losses 0..S."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    theta, v, losses = np.zeros(2), np.zeros(2), []
    for _ in range(steps + 1):
        error = theta[0] * x + theta[1] - y
        losses.append(np.mean(0.5 * error**2))
        v = beta * v + np.array([np.mean(error * x), np.mean(error)])
        theta = theta - rate * v
    return np.array(losses)


def test_a_momentum_axis_from_the_command_line_and_its_rerun(capsys, tmp_path):
    out, manifest, plot = tmp_path / "s.json", tmp_path / "m.json", tmp_path / "s.svg"
    code, stdout, err = run_cli(capsys, DOOR, "sweep", "--learning-rates", "0.05:0.6:3",
                                "--steps", "30", "--data", "shipments", "--dtype", "float64",
                                "--optimizer", "momentum", "--hyperparameter",
                                "momentum=0.5,0.9,0.99", "--json", out, "--manifest", manifest,
                                "--plot", plot)
    assert code == 0, err
    assert "optimizer: momentum, momentum=0.5,0.9,0.99" in stdout
    assert "losses 3x3x31 (rates x momentum x records)" in stdout
    assert "momentum=" in stdout.split("best rate: ")[1].splitlines()[0]
    result = json.loads(out.read_text())
    assert result["hyperparameter_axes"] == {"momentum": [0.5, 0.9, 0.99]}
    assert result["manifest"]["runs"][0]["hyperparameters"] == {"momentum": [0.5, 0.9, 0.99]}
    assert [row["momentum"] for row in result["divergence_by_setting"]] == [0.5, 0.9, 0.99]
    losses = np.asarray(result["losses"], np.float64)
    assert losses.shape == (3, 3, 31)
    x, y = [1.0, 2.0, 3.0], [3.0, 5.0, 7.0]  # the shipments data, from (w, b) = (0, 0)
    for i, rate in enumerate(np.linspace(0.05, 0.6, 3)):
        for j, beta in enumerate([0.5, 0.9, 0.99]):
            expected = _numpy_heavy_ball_line(x, y, rate, beta, 30)
            finite = np.isfinite(expected)
            # float64, a few flops a step: ulps apart; relative where losses grew large
            np.testing.assert_allclose(losses[i, j][finite], expected[finite], rtol=1e-10,
                                       atol=1e-12, err_msg=f"rate {rate} beta {beta}")
    assert plot.read_bytes().startswith(b"<?xml")
    code, stdout, err = run_cli(capsys, DOOR, "rerun", manifest)
    assert code == 0, (stdout, err)
    assert "sweep: EQUAL to the recorded one" in stdout
