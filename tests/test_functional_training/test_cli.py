"""``python -m functional_training``: demo, devices and sweep; refusals a handler makes.

Bad command lines are one table in ``test_bad_input_functional_training.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import run_cli, run_module

import functional_training as ft
from functional_training import runs
from functional_training.cli import main

DOOR = "functional_training"

TOL64 = ft.tolerance("float64", 0)  # float64 sweep vs direct call: same computation, 1e-12


def _field(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(name + ":")).split(": ", 1)[1]


def test_demo_and_devices(capsys):
    code, out, _ = run_cli(capsys, DOOR, "demo")
    assert code == 0 and out.splitlines()[0] == "before: prediction=2.0 loss=8.0"
    code, out, _ = run_cli(capsys, DOOR, "devices")
    assert code == 0
    assert out.startswith("default backend: cpu") and "0: cpu" in out


def test_sweep_one_shipment_reports_the_limit(capsys):
    code, out, _ = run_cli(capsys, DOOR, "sweep", "--learning-rates", "0.01:1:100", "--steps",
                           "300", "--dtype", "float64")
    assert code == 0, out
    assert _field(out, "devices").startswith("1 x cpu")
    assert "method moments" in _field(out, "data")
    assert float(_field(out, "compile").split()[0]) >= 0
    assert float(_field(out, "run").split()[0]) >= 0
    # One shipment x = 2: limit 2 / 5 (closed form); the grid step is 0.01.
    assert float(_field(out, "analytic limit").split()[0]) == pytest.approx(0.4, abs=1e-12)
    observed = float(_field(out, "observed divergence").split()[0])
    assert 0.4 - 1e-9 <= observed <= 0.41 + 1e-9
    best = _field(out, "best rate")  # float64: many rates land exactly on the minimum
    low, high = (float(v) for v in best.rsplit("(", 1)[1].rstrip(")").split(" to "))
    assert 0.0 < low <= high < 0.4


def test_sweep_without_json_or_manifest_builds_no_manifest(capsys, monkeypatch, tmp_path):
    # A manifest hashes the data and collects the environment: only when it is written.
    from functional_training.runs import _sweep_cli

    def refuse(**_):
        raise AssertionError("sweep_manifest called without --json or --manifest")

    monkeypatch.setattr(_sweep_cli, "sweep_manifest", refuse)
    code, out, _ = run_cli(capsys, DOOR, "sweep", "--learning-rates", "0.01:1:10", "--steps",
                           "20")
    assert code == 0, out
    monkeypatch.undo()
    manifest = tmp_path / "m.json"
    code, out, _ = run_cli(capsys, DOOR, "sweep", "--learning-rates", "0.01:1:10", "--steps",
                           "20", "--manifest", manifest)
    assert code == 0 and manifest.exists()


def test_sweep_json_equals_direct_call(capsys, tmp_path):
    path = tmp_path / "sweep.json"
    code, out, _ = run_cli(capsys, DOOR, "sweep", "--learning-rates", "0.001:1:20", "--log",
                           "--steps", "50", "--data", "shipments", "--dtype", "float64",
                           "--record-every", "10", "--json", str(path))
    assert code == 0 and _field(out, "json") == str(path)
    payload = json.loads(path.read_text())
    rates = np.geomspace(0.001, 1, 20)
    with ft.float64():
        direct = ft.sweep_learning_rates(ft.LinearParams(0.0, 0.0), [1.0, 2.0, 3.0],
                                         [3.0, 5.0, 7.0], rates, steps=50, record_every=10)
    np.testing.assert_allclose(payload["learning_rates"], rates, rtol=TOL64)
    losses = np.array(payload["losses"], dtype=np.float64)  # "Infinity"/"NaN" parse as floats
    assert losses.shape == (20, 6) and payload["recorded_steps"] == [0, 10, 20, 30, 40, 50]
    np.testing.assert_allclose(losses, direct.losses, rtol=TOL64, atol=TOL64)
    assert payload["first_nonfinite_step"] == direct.first_nonfinite_step.tolist()
    assert payload["stability_limit"] == pytest.approx(
        ft.stability_limit([1, 2, 3], [3, 5, 7]), rel=TOL64, abs=TOL64)
    assert not list(tmp_path.glob(".sweep-*"))  # no temporary file left behind


def test_sweep_json_is_strict_json_with_divergent_rates(capsys, tmp_path):
    path = tmp_path / "diverged.json"
    code, _, _ = run_cli(capsys, DOOR, "sweep", "--learning-rates", "0.1:3:5", "--steps", "400",
                         "--record-every", "400", "--json", str(path))
    assert code == 0
    text = path.read_text()
    payload = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert "Infinity" in text or "NaN" in text
    assert payload["first_nonfinite_step"][0] == -1 and payload["first_nonfinite_step"][-1] > 0


def test_sweep_minibatch_on_synthetic_data(capsys):
    code, out, _ = run_cli(capsys, DOOR, "sweep", "--learning-rates", "0.001:0.2:8", "--steps",
                           "40", "--data", "synthetic:5000", "--batch-size", "128", "--seed", "3")
    assert code == 0, out
    assert "mini-batches of 128" in _field(out, "data") and "method autodiff" in out


def test_progress_forced_when_not_a_terminal(capsys):
    code, out, err = run_cli(capsys, DOOR, "sweep", "--learning-rates", "0.01:0.3:4", "--steps",
                             "200", "--progress")
    assert code == 0 and "200/200" in err
    code, out, err = run_cli(capsys, DOOR, "sweep", "--learning-rates", "0.01:0.3:4", "--steps",
                             "200")
    assert code == 0 and "200/200" not in err  # stderr is not a terminal under pytest: no bar
    assert err.startswith("sweep: 4 runs x 200 steps") and err.count("\n") == 1  # the estimate


@pytest.mark.slow
def test_module_entry_point_in_a_fresh_interpreter(tmp_path):
    # Bad input in a fresh interpreter: test_bad_input_functional_training.py.
    out = run_module(DOOR, "sweep", "--learning-rates", "0.05:0.6:12", "--steps", "100",
                     "--data", "shipments", env={"JAX_PLATFORMS": "cpu"}, cwd=tmp_path,
                     timeout=120)
    assert out.returncode == 0, out.stderr
    assert "analytic limit: 0.36" in out.stdout


def test_sweep_manifest_reruns_bit_for_bit(capsys, tmp_path):
    report, manifest = tmp_path / "sweep.json", tmp_path / "sweep.manifest.json"
    code, _, _ = run_cli(capsys, DOOR, "sweep", "--learning-rates", "0.01:0.6:30", "--steps", "40",
                         "--data", "shipments", "--dtype", "float64", "--json", str(report),
                         "--manifest", str(manifest))
    assert code == 0
    recorded = json.loads(manifest.read_text())
    assert json.loads(report.read_text())["manifest"] == recorded
    assert recorded["runs"][0]["data"]["version"] == runs.data_version(
        np.array([1.0, 2.0, 3.0]), np.array([3.0, 5.0, 7.0])
    )
    for path in (manifest, report):
        code, out, _ = run_cli(capsys, DOOR, "rerun", str(path))
        assert code == 0 and "EQUAL" in out


@pytest.mark.parametrize("error", [MemoryError("Unable to allocate 373. GiB"),
                                   OverflowError("Python int too large to convert to C int")])
def test_memory_and_overflow_errors_exit_2_in_one_line(capsys, monkeypatch, error):
    def handler(args):
        raise error

    monkeypatch.setattr("functional_training.cli._demo", handler)
    code, out, err = run_cli(capsys, DOOR, "demo")
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and str(error) in err


@pytest.mark.parametrize("command", [
    ["train", "--optimizer", "sgd", "--learning-rate", "0.01", "--steps", "2"],
    ["sweep", "--learning-rates", "0.01:0.02:2", "--steps", "2"],
])
def test_train_and_sweep_share_one_data_grammar(capsys, tmp_path, command):
    # One parser: synthetic:1_000 is synthetic:1000 for both commands (and in the manifest);
    # synthetic:0 and unknown names are refused by both with the same message.
    manifest = tmp_path / "m.json"
    code, _, err = run_cli(capsys, DOOR, *command, "--data", "synthetic:1_0", "--manifest",
                           str(manifest))
    assert code == 0, err
    run = json.loads(manifest.read_text())["runs"][0]
    assert json.dumps(run).count('"synthetic:10"') >= 1 and "synthetic:1_0" not in json.dumps(run)
    for bad in ("synthetic:0", "synthetic:1__0", "weather"):
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--data", bad])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert err.endswith(f"argument --data: unknown data {bad!r}; expected one-shipment, "
                            "shipments, synthetic:N with N an integer >= 1, or a data file "
                            "(.csv, .parquet, .pq, .npy, .npz)\n"), err


def test_sweep_sees_divergence_at_the_final_step_even_when_not_recorded(capsys):
    # 50 steps recorded every 7: the last record is step 49. lr 0.5 on (2, 6) multiplies the
    # error by -1.5 per step (loss 8 * 2.25**k), so it diverges whatever is recorded.
    code, out, _ = run_cli(capsys, DOOR, "sweep", "--learning-rates", "0.1:0.5:5", "--steps", "50",
                           "--record-every", "7", "--dtype", "float64")
    assert code == 0
    assert _field(out, "observed divergence").startswith("0.5 ")


def test_sweep_reports_rates_tied_at_the_best_loss(capsys):
    # One shipment at x = 2 from w = 1, b = 0: once w * 2 + b rounds to exactly 6, the
    # error is exactly 0 for good. Count the rates that get there, with NumPy float64.
    rates = np.linspace(0.15, 0.25, 11)
    w, b = np.ones(11), np.zeros(11)
    for _ in range(60):
        err = w * 2.0 + b - 6.0
        w, b = w - rates * err * 2.0, b - rates * err
    zero = rates[w * 2.0 + b - 6.0 == 0.0]
    code, out, _ = run_cli(capsys, DOOR, "sweep", "--learning-rates", "0.15:0.25:11", "--steps",
                           "60", "--dtype", "float64", "--method", "autodiff")
    assert code == 0
    best = _field(out, "best rate")
    if zero.size > 1:
        assert best.startswith(f"{zero.size} rates tie at final loss 0 ")
    else:
        assert " tie " not in best
