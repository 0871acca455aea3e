"""``train`` and ``rerun``: lesson numbers, kill-and-resume, manifests round trip, refusals.

In-process tests call ``python -m functional_training``'s own ``main`` (one-line
errors, exit 2; handler errors caught and printed as ``error: ...``); subprocess
tests run ``python -m functional_training``. Bad command lines are one table in
``test_bad_input_functional_training.py``.
"""

from __future__ import annotations

import json
import math
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli, run_module
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lesson_fixture import lesson_blocks
from numpy_reference import mlp_layers, numpy_mlp, numpy_sgd

import functional_training as ft
import functional_training.runs._train_cli as train_cli
from functional_training._datasets import named_data
from functional_training._train import train_chunk
from functional_training.runs import (
    _train_cli,
    data_version,
    make_settings,
    read_manifest,
    run_training,
    sha256_digest,
    sweep_manifest,
    trajectory_digest,
    write_manifest,
)

LESSON = lesson_blocks()
# float64 reference comparisons: independent float64 implementations of a few dozen
# flops per step differ by a few ulps; 1e-12 is the project's policy.
TOL64 = ft.tolerance("float64", 0)
DOOR = "functional_training"
SCRIPT = [sys.executable, "-m", DOOR]


def shipments_argv(*extra) -> list[str]:
    return ["train", "--data", "shipments", "--optimizer", "sgd", "--learning-rate", "0.08",
            "--steps", "20", *extra]


def _json(path) -> dict:
    return json.loads(Path(path).read_text())


# ----------------------------------------------------------------------------- lesson numbers


def test_full_batch_run_prints_the_lesson_and_matches_numpy(tmp_path, capsys):
    code, out, err = run_cli(capsys, DOOR, *shipments_argv("--json", tmp_path / "r.json"))
    assert code == 0, err
    traj = _json(tmp_path / "r.json")["trajectory"]
    # The lesson prints the loss before step k and w, b after it.
    printed = [
        f"step {k:2d}: loss={traj['batch_loss'][k]:.4f} w={traj['params']['w'][k + 1]:.3f} "
        f"b={traj['params']['b'][k + 1]:.3f}"
        for k in (0, 1, 19)
    ]
    assert printed == LESSON["full-batch"]
    ref = numpy_sgd(0.0, 0.0, [1.0, 2.0, 3.0], [3.0, 5.0, 7.0], 0.08, 20)
    for ours, theirs in [(traj["params"]["w"], ref["w"]), (traj["params"]["b"], ref["b"]),
                         (traj["grads"]["w"], ref["grad_w"]), (traj["batch_loss"],
                                                                ref["batch_loss"]),
                         (traj["train_loss"], ref["train_loss"])]:
        np.testing.assert_allclose(ours, theirs, rtol=TOL64, atol=TOL64)
    assert traj["first_nonfinite_step"] is None and len(traj["grad_norm"]) == 20
    assert "first non-finite step: none" in out


def test_mini_batch_run_replays_the_shared_batch_order(tmp_path, capsys):
    from comparisons.experiments import Experiment, batch_order

    argv = ["train", "--data", "synthetic:50", "--optimizer", "sgd", "--learning-rate", "0.01",
            "--batch-size", "8", "--epochs", "3", "--seed", "11", "--json", tmp_path / "r.json"]
    code, _, err = run_cli(capsys, DOOR, *argv)
    assert code == 0, err
    traj = _json(tmp_path / "r.json")["trajectory"]
    # comparisons.experiments.batch_order is an independent implementation of the policy.
    rows = tuple((0.0, 0.0) for _ in range(50))
    experiment = Experiment("x", "x", rows, {"w": 0.0, "b": 0.0}, "sgd", {}, steps=18,
                            batch_size=8, seed=11)
    assert traj["batches"] == batch_order(experiment)  # 3 epochs of 50 // 8 = 6 batches
    data = ft.synthetic_shipments(50, seed=0)
    ref = numpy_sgd(0.0, 0.0, data.x, data.y, 0.01, 18, batch_indices=traj["batches"])
    np.testing.assert_allclose(traj["params"]["w"], ref["w"], rtol=TOL64, atol=TOL64)
    np.testing.assert_allclose(traj["train_loss"], ref["train_loss"], rtol=TOL64, atol=TOL64)


def test_float32_run_stays_within_the_float32_tolerance(tmp_path, capsys):
    for dtype in ("float64", "float32"):
        code, _, err = run_cli(capsys, DOOR, *shipments_argv("--dtype", dtype,
                                                             "--json", tmp_path / f"{dtype}.json"))
        assert code == 0, err
    wide, narrow = (_json(tmp_path / f"{d}.json")["trajectory"] for d in ("float64", "float32"))
    assert _json(tmp_path / "float32.json")["manifest"]["dtype"] == "float32"
    tol = ft.tolerance("float32", 20)  # the project's one float32 policy: 32 eps per step
    np.testing.assert_allclose(narrow["params"]["w"], wide["params"]["w"], rtol=tol, atol=tol)
    assert narrow["params"]["w"] != wide["params"]["w"]  # it really ran in float32


def test_chunks_reuse_one_compiled_program():
    data = named_data("shipments")
    before = train_chunk._cache_size()
    run_training(make_settings(data, optimizer="momentum", learning_rate=0.02, steps=53,
                               chunk_steps=5), data)
    # ten chunks of 5 steps and one of 3: two programs, however many chunks.
    assert train_chunk._cache_size() - before <= 2


def test_run_training_equals_functional_training_train():
    data = named_data("synthetic:40")
    s = make_settings(data, optimizer="nesterov", learning_rate=0.01, steps=30, batch_size=4,
                      chunk_steps=7)
    traj = run_training(s, data).trajectory
    with ft.float64():
        params = ft.LinearParams(np.float64(0.0), np.float64(0.0))
        ref = ft.train(params, data.x, data.y, optimizer=ft.make_optimizer("nesterov",
                       learning_rate=0.01), steps=30, batch_indices=np.asarray(traj.batches))
    # Same formulas, compiled as one scan vs chunks of 7: equal to the project's float64 tolerance.
    np.testing.assert_allclose(traj.params["w"], ref.params.w, rtol=TOL64, atol=TOL64)
    np.testing.assert_allclose(traj.grads["b"], ref.grads.b, rtol=TOL64, atol=TOL64)
    np.testing.assert_allclose(traj.train_loss, ref.train_loss, rtol=TOL64, atol=TOL64)


# ----------------------------------------------------------------------------- progress


def test_plain_progress_lines_show_loss_and_gradient_norm(capsys):
    code, _, err = run_cli(capsys, DOOR, *shipments_argv("--steps", "400"))
    assert code == 0
    lines = err.splitlines()
    assert 1 <= len(lines) <= 11  # about ten lines whatever the step count
    for line in lines:
        done, _, records = line.partition("; ")
        assert done.endswith("/400 steps done")
        label, _, values = records.partition(": ")
        batch_loss, train_loss, grad_norm = values.split()
        assert label == f"step {int(done.split('/')[0]) - 1} (before its update)"
        assert batch_loss.startswith("batch_loss=") and grad_norm.startswith("grad_norm=")
    assert lines[-1].startswith("400/400 steps done; step 399 (before its update): ")


def test_progress_line_labels_the_losses_with_their_step(capsys, tmp_path):
    # The last line's train_loss is the loss at params[19] (step 19's record), not at the
    # final params[20]: the label must say step 19. Values printed with %.6g.
    report = tmp_path / "run.json"
    code, out, err = run_cli(capsys, DOOR, *shipments_argv("--json", report))
    assert code == 0
    train_loss = _json(report)["trajectory"]["train_loss"]
    assert len(train_loss) == 21 and f"{train_loss[19]:.6g}" != f"{train_loss[20]:.6g}"
    last = err.splitlines()[-1]
    assert last.startswith("20/20 steps done; step 19 (before its update): ")
    assert f" train_loss={train_loss[19]:.6g} " in last
    assert (f"train_loss {train_loss[0]:.6g} before step 0 -> {train_loss[20]:.6g} after "
            "step 19;") in out


def test_progress_flag_draws_a_rich_bar(capsys):
    code, _, err = run_cli(capsys, DOOR, *shipments_argv("--progress"))
    assert code == 0
    assert "20/20" in err and "grad_norm=" in err and "━" in err and not err.startswith("step ")


# ----------------------------------------------------------------------------- divergence


def test_divergence_is_data(tmp_path, capsys):
    argv = ["train", "--data", "one-shipment", "--optimizer", "sgd", "--learning-rate", "0.5",
            "--steps", "1000", "--json", tmp_path / "r.json", "--manifest", tmp_path / "m.json"]
    code, out, err = run_cli(capsys, DOOR, *argv)
    assert code == 0, err
    text = (tmp_path / "r.json").read_text()
    assert '"Infinity"' in text  # strict JSON: the overflowed losses as strings
    json.loads(text, parse_constant=lambda name: pytest.fail(f"non-strict JSON: {name}"))
    traj = json.loads(text)["trajectory"]
    ref = numpy_sgd(1.0, 0.0, [2.0], [6.0], 0.5, 1000)
    ref_series = [ref[k] for k in ("w", "b", "grad_w", "grad_b", "batch_loss", "train_loss")]
    expected = ft.first_nonfinite(*ref_series)
    assert expected is not None and traj["first_nonfinite_step"] == expected
    assert f"first non-finite step: {expected} (diverged); grad_norm by step:" in out
    # Until the overflow the run is the NumPy run: error * (1 - lr (x^2 + 1)) = -1.5x per step.
    np.testing.assert_allclose(traj["batch_loss"][:5], 8.0 * 2.25 ** np.arange(5),  # (-1.5)^2
                               rtol=TOL64)
    norms = traj["grad_norm"]
    assert all(math.isfinite(v) for v in norms[: expected - 1])
    code, out, _ = run_cli(capsys, DOOR, "rerun", tmp_path / "r.json")
    assert code == 0 and "EQUAL" in out  # NaN and inf are reproduced too


def test_divergence_between_records_is_located_to_the_step(tmp_path, capsys):
    argv = ["train", "--data", "one-shipment", "--optimizer", "sgd", "--learning-rate", "0.5",
            "--steps", "1000", "--eval-every", "64", "--json", tmp_path / "r.json"]
    code, out, err = run_cli(capsys, DOOR, *argv)
    assert code == 0, err
    traj = _json(tmp_path / "r.json")["trajectory"]
    ref = numpy_sgd(1.0, 0.0, [2.0], [6.0], 0.5, 1000)
    expected = int(np.argmax(~np.isfinite(ref["batch_loss"])))  # the batch loss overflows first
    assert ft.first_nonfinite(ref["w"], ref["b"], ref["grad_w"], ref["batch_loss"]) == expected
    assert expected % 64 != 0 and traj["first_nonfinite_step"] == expected
    assert f"first non-finite step: {expected} (diverged); grad_norm by recorded step:" in out
    assert traj["record_steps"] == [*range(0, 1000, 64), 999]
    assert traj["nonfinite_after"][expected // 64] == expected


# ----------------------------------------------------------------------------- manifests


def test_manifest_round_trip_and_rerun(tmp_path, capsys):
    report, manifest_path = tmp_path / "r.json", tmp_path / "m.json"
    argv = ["train", "--data", "synthetic:30", "--optimizer", "adam", "--learning-rate", "0.05",
            "--hyperparameter", "b1=0.8", "--batch-size", "4", "--steps", "25", "--seed", "3",
            "--checkpoint-dir", tmp_path / "ckpt", "--checkpoint-every", "10",
            "--json", report, "--manifest", manifest_path]
    code, _, err = run_cli(capsys, DOOR, *argv)
    assert code == 0, err
    manifest = read_manifest(manifest_path)
    assert _json(report)["manifest"] == manifest
    run_ = manifest["runs"][0]
    assert run_["hyperparameters"] == {"b1": 0.8, "b2": 0.999, "eps": 1e-8}
    assert (run_["batch_size"], run_["seed"], run_["steps"], run_["learning_rates"]) == (
        4, 3, 25, [0.05])
    latest = sorted((tmp_path / "ckpt").iterdir())[-1]
    assert run_["checkpoint"] == sha256_digest(latest.read_bytes())
    assert run_["results"]["trajectory"] == trajectory_digest(_json(report)["trajectory"])
    assert run_["data"]["version"] == ft_data_version("synthetic:30")
    for path in (manifest_path, report):
        code, out, err = run_cli(capsys, DOOR, "rerun", path)
        assert (code, err) == (0, ""), out
        assert "trajectory: EQUAL to the recorded one (25 steps" in out


@pytest.mark.parametrize(("name", "batch_size"), [("shipments", None), ("synthetic:20", 2)])
def test_sweep_manifest_reruns_equal(tmp_path, capsys, name, batch_size):
    data = named_data(name, seed=4)
    order = None if batch_size is None else ft.minibatch_indices(
        data.y.size, batch_size=batch_size, steps=12, seed=4)
    with ft.float64():
        result = ft.sweep_learning_rates(ft.LinearParams(0.0, 0.0), data.x, data.y,
                                         [0.01, 0.08, 0.9], steps=12, record_every=3,
                                         batch_indices=order)
    manifest = sweep_manifest(data=name, result=result, init=(0.0, 0.0),
                              batch_size=batch_size, seed=4, data_seed=4)
    write_manifest(tmp_path / "sweep.json", manifest)
    code, out, err = run_cli(capsys, DOOR, "rerun", tmp_path / "sweep.json")
    assert (code, err) == (0, ""), out
    assert "sweep: EQUAL to the recorded one" in out
    manifest["runs"][0]["learning_rates"][1] = 0.081
    write_manifest(tmp_path / "sweep.json", manifest)
    code, out, _ = run_cli(capsys, DOOR, "rerun", tmp_path / "sweep.json")
    assert code == 1 and "sweep: DIFFERENT" in out


def ft_data_version(name: str) -> str:
    data = named_data(name)
    return data_version(data.x, data.y)


def test_rerun_reports_a_different_trajectory(tmp_path, capsys):
    code, _, _ = run_cli(capsys, DOOR, *shipments_argv("--json", tmp_path / "r.json"))
    assert code == 0
    report = _json(tmp_path / "r.json")
    report["trajectory"]["batch_loss"][2] += 1e-9  # what another machine might have recorded
    report["manifest"]["runs"][0]["results"]["trajectory"] = trajectory_digest(report["trajectory"])
    (tmp_path / "other.json").write_text(json.dumps(report))
    code, out, err = run_cli(capsys, DOOR, "rerun", tmp_path / "other.json")
    assert code == 1 and err == ""
    assert "trajectory: DIFFERENT" in out
    assert "first difference: step 2, batch_loss: recorded " in out


def test_rerun_of_a_train_report_compares_bits_so_negative_zero_differs(tmp_path, capsys):
    # 0.0 == -0.0 in Python; the digests differ, and so must the first difference named.
    code, _, _ = run_cli(capsys, DOOR, *shipments_argv("--json", tmp_path / "r.json"))
    assert code == 0
    report = _json(tmp_path / "r.json")
    assert report["trajectory"]["params"]["w"][0] == 0.0  # shipments start at w = 0
    report["trajectory"]["params"]["w"][0] = -0.0
    report["manifest"]["runs"][0]["results"]["trajectory"] = trajectory_digest(report["trajectory"])
    (tmp_path / "other.json").write_text(json.dumps(report))
    code, out, err = run_cli(capsys, DOOR, "rerun", tmp_path / "other.json")
    assert (code, err) == (1, ""), out
    assert "first difference: step 0, params.w: recorded -0.0, now 0.0" in out.splitlines()


def test_rerun_reports_changed_data(tmp_path, capsys):
    code, _, _ = run_cli(capsys, DOOR, *shipments_argv("--manifest", tmp_path / "m.json"))
    assert code == 0
    manifest = _json(tmp_path / "m.json")
    manifest["runs"][0]["data"]["version"] = sha256_digest(b"last year's shipments")
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    code, out, _ = run_cli(capsys, DOOR, "rerun", tmp_path / "m.json")
    assert code == 1 and "data: DIFFERENT version for shipments" in out


def _replace(argv: list[str], flag: str, value) -> list[str]:
    i = argv.index(flag)
    return argv[:i] + ([] if value is None else [flag, str(value)]) + argv[i + 2:]


# ----------------------------------------------------------------------------- checkpoints


def _train_with_checkpoints(tmp_path, capsys, *extra, steps=20, every=6):
    argv = shipments_argv("--checkpoint-dir", tmp_path / "ckpt", "--checkpoint-every", every,
                          *extra)
    return run_cli(capsys, DOOR, *_replace(argv, "--steps", steps))


def test_fresh_run_refuses_a_directory_with_checkpoints(tmp_path, capsys):
    assert _train_with_checkpoints(tmp_path, capsys)[0] == 0
    code, _, err = _train_with_checkpoints(tmp_path, capsys)
    assert code == 2 and "already holds checkpoints; pass --resume" in err


def test_resume_refuses_another_runs_checkpoints(tmp_path, capsys):
    assert _train_with_checkpoints(tmp_path, capsys)[0] == 0
    argv = _replace(shipments_argv("--checkpoint-dir", tmp_path / "ckpt", "--checkpoint-every",
                                   6, "--resume"), "--learning-rate", 0.05)
    code, _, err = run_cli(capsys, DOOR, *argv)
    assert code == 2 and "was written by a different run: learning_rate is 0.08 there" in err
    code, _, err = _train_with_checkpoints(tmp_path, capsys, "--resume", steps=30)
    assert code == 2 and "steps is 20 there and 30 here" in err


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_resume_refuses_a_corrupt_latest_checkpoint(tmp_path, capsys, damage):
    assert _train_with_checkpoints(tmp_path, capsys)[0] == 0
    latest = sorted((tmp_path / "ckpt").iterdir())[-1]
    data = bytearray(latest.read_bytes())
    if damage == "flip":
        data[-30] ^= 0xFF
    else:
        data = data[: len(data) // 2]
    latest.write_bytes(bytes(data))
    code, out, err = _train_with_checkpoints(tmp_path, capsys, "--resume",
                                             "--json", tmp_path / "r.json")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert f"checkpoint {latest} is corrupt or truncated" in err
    assert not (tmp_path / "r.json").exists()


def test_resume_needs_only_the_newest_checkpoint(tmp_path, capsys):
    # each checkpoint holds the whole history so far: the older ones may go (pruning)
    assert _train_with_checkpoints(tmp_path, capsys, "--keep-checkpoints", "all",
                                   "--json", tmp_path / "full.json")[0] == 0
    *older, _newest = sorted((tmp_path / "ckpt").iterdir())
    for path in older:
        path.unlink()
    code, _, err = _train_with_checkpoints(tmp_path, capsys, "--resume", "--json",
                                           tmp_path / "resumed.json")
    assert code == 0, err
    assert _json(tmp_path / "resumed.json")["trajectory"] == _json(
        tmp_path / "full.json")["trajectory"]


def test_resume_at_every_checkpoint_reproduces_the_run_exactly(tmp_path, capsys):
    assert _train_with_checkpoints(tmp_path, capsys, "--json", tmp_path / "full.json")[0] == 0
    full = _json(tmp_path / "full.json")
    checkpoints = sorted((tmp_path / "ckpt").iterdir())
    for keep in range(1, len(checkpoints) + 1):
        for extra in checkpoints[keep:]:
            extra.unlink(missing_ok=True)
        code, _, err = _train_with_checkpoints(tmp_path, capsys, "--resume",
                                               "--json", tmp_path / "resumed.json")
        assert code == 0, err
        resumed = _json(tmp_path / "resumed.json")
        assert resumed["trajectory"] == full["trajectory"]
        run_ = resumed["manifest"]["runs"][0]
        assert run_["checkpoint"] == full["manifest"]["runs"][0]["checkpoint"]
        assert run_["options"]["resumed_from"] == sha256_digest(checkpoints[keep - 1].read_bytes())


def _kill_after_two_checkpoints(argv: list, ckpt: Path, json_path: Path) -> None:
    """Start ``train ARGV`` in a fresh process and SIGKILL it once two checkpoints exist."""
    process = subprocess.Popen([*SCRIPT, *argv, "--checkpoint-dir", ckpt, "--json", json_path],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(list(ckpt.glob("step-*.npz"))) < 2:
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL


def _resumed_and_uninterrupted(argv: list, ckpt: Path, tmp_path: Path) -> tuple[dict, dict]:
    """Resume the killed run in ``ckpt`` and run it again uninterrupted: both JSON reports.

    Asserts what every resumed run must show: it says where it resumed, and it ends in the
    same state with the same bytes (final checkpoints of one content hash, the same files).
    """
    resumed = run_module(DOOR, *argv, "--checkpoint-dir", ckpt, "--resume",
                         "--json", tmp_path / "resumed.json")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from checkpoint sha256:" in resumed.stdout
    reference = run_module(DOOR, *argv, "--checkpoint-dir", tmp_path / "ref",
                           "--json", tmp_path / "reference.json")
    assert reference.returncode == 0, reference.stderr
    reports = tuple(_json(tmp_path / f"{n}.json") for n in ("resumed", "reference"))
    assert (reports[0]["manifest"]["runs"][0]["checkpoint"]
            == reports[1]["manifest"]["runs"][0]["checkpoint"])
    assert sorted(p.name for p in ckpt.glob("step-*.npz")) == sorted(
        p.name for p in (tmp_path / "ref").glob("step-*.npz"))
    return reports


@pytest.mark.slow
def test_kill_and_resume_in_a_subprocess(tmp_path):
    argv = ["train", "--data", "synthetic:2000", "--optimizer", "adam", "--learning-rate", "0.01",
            "--batch-size", "8", "--steps", "6000", "--seed", "5", "--checkpoint-every", "50"]
    ckpt = tmp_path / "ckpt"
    _kill_after_two_checkpoints(argv, ckpt, tmp_path / "killed.json")
    written = len(list(ckpt.glob("step-*.npz")))
    assert 2 <= written < 120 and not (tmp_path / "killed.json").exists()

    resumed_report, reference_report = _resumed_and_uninterrupted(argv, ckpt, tmp_path)
    assert resumed_report["trajectory"] == reference_report["trajectory"]  # exactly, every bit
    assert resumed_report["trajectory"]["batch_loss"].__len__() == 6000


@pytest.mark.slow
def test_ctrl_c_exits_130_with_a_hint_and_no_traceback(tmp_path):
    ckpt = tmp_path / "ckpt"
    # Long enough (4,000 checkpoints, several seconds) that the interrupt lands in training.
    argv = ["train", "--data", "synthetic:2000", "--optimizer", "sgd", "--learning-rate", "0.01",
            "--batch-size", "8", "--steps", "200000", "--eval-every", "50",
            "--checkpoint-every", "50", "--checkpoint-dir", ckpt, "--json", tmp_path / "r.json"]
    process = subprocess.Popen([*SCRIPT, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 120
    while not list(ckpt.glob("step-*.npz")):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in err
    assert err.splitlines()[-1].startswith("interrupted: run the same command with --resume")
    assert not (tmp_path / "r.json").exists()


@pytest.mark.slow
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    data_name=st.sampled_from(["one-shipment", "shipments", "synthetic:9"]),
    optimizer=st.sampled_from(ft.OPTIMIZER_NAMES),
    rate=st.sampled_from([0.001, 0.03, 0.2]),
    steps=st.integers(1, 24),
    every=st.integers(1, 8),
    batch=st.one_of(st.none(), st.integers(1, 9)),
    cut=st.floats(0.0, 1.0),
    eval_every=st.sampled_from([1, 1, 2, 3]),
)
def test_resume_from_any_checkpoint_matches_the_uninterrupted_run(
    data_name, optimizer, rate, steps, every, batch, cut, eval_every
):
    data = named_data(data_name)
    if batch is not None:
        batch = min(batch, data.y.size)
    settings_ = make_settings(data, optimizer=optimizer, learning_rate=rate, steps=steps,
                              batch_size=batch, chunk_steps=every * eval_every,
                              eval_every=eval_every)
    with tempfile.TemporaryDirectory() as tmp:
        full = run_training(settings_, data, checkpoint_dir=tmp)
        checkpoints = sorted(Path(tmp).iterdir())
        keep = 1 + int(cut * (len(checkpoints) - 1))
        for extra in checkpoints[keep:]:
            extra.unlink()
        resumed = run_training(settings_, data, checkpoint_dir=tmp, resume=True)
    assert resumed.trajectory == full.trajectory
    assert resumed.checkpoint == full.checkpoint



def test_eval_every_records_the_reference_at_its_recorded_steps(tmp_path, capsys):
    argv = ["train", "--data", "synthetic:200", "--optimizer", "sgd", "--learning-rate",
            "0.05", "--batch-size", "16", "--steps", "50", "--eval-every", "8",
            "--json", tmp_path / "run.json", "--manifest", tmp_path / "run.manifest.json"]
    code, out, err = run_cli(capsys, DOOR, *argv)
    assert code == 0, err
    assert "recorded 8 steps (every 8 and the last)" in out
    traj = _json(tmp_path / "run.json")["trajectory"]
    points = [0, 8, 16, 24, 32, 40, 48, 49]
    assert traj["record_steps"] == points
    data = named_data("synthetic:200")
    order = ft.minibatch_indices(200, batch_size=16, steps=50, seed=0)
    ref = numpy_sgd(*data.init, data.x, data.y, 0.05, 50, batch_indices=order)
    np.testing.assert_allclose(traj["batch_loss"], ref["batch_loss"][points], rtol=TOL64)
    np.testing.assert_allclose(traj["train_loss"], ref["train_loss"][points + [50]], rtol=TOL64)
    np.testing.assert_allclose(traj["params"]["w"], ref["w"][points + [50]], rtol=TOL64)
    assert traj["batches"] == order[points].tolist()
    manifest = read_manifest(tmp_path / "run.manifest.json")
    assert manifest["runs"][0]["options"]["eval_every"] == 8
    code, out, _ = run_cli(capsys, DOOR, "rerun", tmp_path / "run.manifest.json")
    assert code == 0 and "trajectory: EQUAL to the recorded one (50 steps" in out


def test_checkpoints_must_fall_on_recorded_steps(tmp_path, capsys):
    code, out, err = run_cli(capsys, DOOR, *shipments_argv(
        "--eval-every", "4", "--checkpoint-every", "6", "--checkpoint-dir", tmp_path / "c"))
    assert (code, out) == (2, "")
    assert err == ("error: --checkpoint-every 6 must be a multiple of --eval-every 4 "
                   "(chunks begin at recorded steps)\n")
    assert not (tmp_path / "c").exists()


def test_plain_progress_lines_fall_at_evenly_spaced_chunk_ends(capsys, tmp_path):
    # 6000 steps in chunks of 500: a line after the first chunk (early feedback), then
    # every second chunk end (every chunk would be 12 lines, more than about ten).
    argv = shipments_argv("--steps", "6000", "--checkpoint-every", "500",
                          "--checkpoint-dir", tmp_path / "ckpt")
    code, _, err = run_cli(capsys, DOOR, *argv)
    assert code == 0
    done = [int(line.split("/")[0]) for line in err.splitlines()]
    assert done == [500, *range(1000, 6001, 1000)]


# ----------------------------------------------------------------------------- train --spec

ROOT = Path(__file__).resolve().parents[3]
MOONS = ROOT / "examples" / "data" / "moons-60.csv"

MLP_SPEC = """
name = "moons-tanh"
description = "2-8-8-1 tanh network, hinge + l2, SGD with a linear schedule, mini-batches"
[data]
train = "moons-60.csv"
target = "label"
[model]
kind = "mlp"
sizes = [2, 8, 8, 1]
activation = "tanh"
init = "seeded"
seed = 1
[loss]
kind = "hinge"
l2 = 1e-3
[optimizer]
name = "sgd"
[schedule]
kind = "linear"
init_value = 0.5
end_value = 0.05
transition_steps = 20
[run]
steps = 30
batch_size = 12
seed = 3
"""


def _mlp_spec(directory: Path) -> Path:
    shutil.copy(MOONS, directory / "moons-60.csv")
    path = directory / "moons-tanh.toml"
    path.write_text(MLP_SPEC)
    return path


def test_spec_mlp_run_matches_a_numpy_float64_loop(tmp_path, capsys):
    spec = _mlp_spec(tmp_path)
    code, out, err = run_cli(capsys, DOOR, "train", "--spec", spec, "--json", tmp_path / "r.json")
    assert code == 0, err
    assert "spec " in out and "mlp (sizes 2-8-8-1, activation tanh), loss hinge" in out
    traj = _json(tmp_path / "r.json")["trajectory"]

    table = np.loadtxt(MOONS, delimiter=",", skiprows=1)
    x, y = table[:, :2], table[:, 2]
    sizes = (2, 8, 8, 1)
    values = ft.initial_values("mlp", init="seeded", seed=1, sizes=sizes, activation="tanh")
    layers = mlp_layers(values, sizes)
    rates = [0.5 + (0.05 - 0.5) * min(k, 20) / 20 for k in range(30)]  # the linear schedule
    order = ft.minibatch_indices(60, batch_size=12, steps=30, seed=3)
    ref = numpy_mlp(layers, x, y, activation="tanh", loss="hinge", l2=1e-3, rates=rates,
                    batch_indices=order)

    def named(entries):  # the reference's (W, b) per layer, by the trajectory's names
        series = {}
        for at in entries:
            for n, (w, b) in enumerate(at):
                for (i, j), value in np.ndenumerate(w):
                    series.setdefault(f"layers.{n}.w[{i},{j}]", []).append(value)
                for (j,), value in np.ndenumerate(b):
                    series.setdefault(f"layers.{n}.b[{j}]", []).append(value)
        return series

    # float64 against an independent float64 loop: 30 steps of a few hundred flops each
    # differ by a few ulps per step; 1e-12 (the project's policy) leaves 1e3 headroom, and
    # atol 1e-12 covers values that pass through zero (hinge gradients of 0, tanh near 0).
    for label, got, expected in (("params", traj["params"], named(ref["params"])),
                                 ("grads", traj["grads"], named(ref["grads"]))):
        assert got.keys() == expected.keys(), label
        for name in got:
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-12, atol=1e-12,
                                       err_msg=f"{label}.{name}")
    np.testing.assert_allclose(traj["batch_loss"], ref["batch_loss"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(traj["train_loss"], ref["train_loss"], rtol=1e-12, atol=1e-12)
    # optax's (init - end)(1 - k/T) + end and the formula above round differently: a few
    # ulps (4.4e-16 relative seen), so 1e-15.
    np.testing.assert_allclose(traj["extras"]["learning_rate"], rates, rtol=1e-15, atol=0)
    assert traj["batches"] == order.tolist()


def test_spec_run_manifest_reruns_equal(tmp_path, capsys):
    spec = _mlp_spec(tmp_path)
    code, _, err = run_cli(capsys, DOOR, "train", "--spec", spec, "--steps", "40",
                           "--eval-every", "3", "--manifest", tmp_path / "m.json",
                           "--json", tmp_path / "r.json")
    assert code == 0, err
    manifest = read_manifest(tmp_path / "m.json")
    options = manifest["runs"][0]["options"]
    assert options["spec"] == MLP_SPEC and options["run"]["model_settings"] == {
        "activation": "tanh", "sizes": [2, 8, 8, 1]}
    assert manifest["runs"][0]["steps"] == 40 and options["run"]["steps"] == 40
    for path in ("m.json", "r.json"):
        code, out, err = run_cli(capsys, DOOR, "rerun", tmp_path / path)
        assert code == 0, out + err
        assert "trajectory: EQUAL to the recorded one (40 steps" in out


def test_rerun_names_a_changed_run_description(tmp_path, capsys):
    spec = _mlp_spec(tmp_path)
    code, _, err = run_cli(capsys, DOOR, "train", "--spec", spec, "--steps", "4",
                           "--manifest", tmp_path / "m.json")
    assert code == 0, err
    manifest = _json(tmp_path / "m.json")
    manifest["runs"][0]["options"]["run"]["l2"] = 0.5  # as if the spec reader changed
    write_manifest(tmp_path / "edited.json", manifest)
    code, out, _ = run_cli(capsys, DOOR, "rerun", tmp_path / "edited.json")
    assert code == 1
    assert "run description: DIFFERENT l2: recorded 0.5, the spec now reads 0.001" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--data", "shipments"], "--data cannot be combined with --spec (the spec file names "
                              "the data, the model and the optimizer)"),
    (["--learning-rate", "0.1"], "--learning-rate cannot be combined with --spec"),
    (["--hyperparameter", "momentum=0.9"], "--hyperparameter cannot be combined with --spec"),
    (["--seed", "1", "--batch-size", "61"], "--batch-size 61 is larger than the 60 training "
                                            "examples of {spec}"),
])
def test_spec_with_a_conflicting_flag_is_one_line(tmp_path, capsys, argv, message):
    spec = _mlp_spec(tmp_path)
    code, out, err = run_cli(capsys, DOOR, "train", "--spec", spec, *argv,
                             "--json", tmp_path / "r.json")
    assert (code, out) == (2, "")
    assert err.startswith("error: " + message.format(spec=spec)) and err.count("\n") == 1
    assert not (tmp_path / "r.json").exists()


def test_spec_and_data_of_the_wrong_width_is_one_line(tmp_path, capsys):
    spec = _mlp_spec(tmp_path)
    spec.write_text(MLP_SPEC.replace("sizes = [2, 8, 8, 1]", "sizes = [3, 8, 8, 1]"))
    code, out, err = run_cli(capsys, DOOR, "train", "--spec", spec)
    assert (code, out) == (2, "")
    assert err == (f"error: {spec}: [model].sizes: starts with d = 3 but the data has 2 "
                   "features per row\n")


def test_without_a_spec_the_line_needs_its_flags(capsys):
    code, out, err = run_cli(capsys, DOOR, "train", "--steps", "3")
    assert (code, out) == (2, "")
    assert err == ("error: the following arguments are required without --spec: --data, "
                   "--optimizer, --learning-rate\n")


SOFTMAX_SPEC = """
name = "three-classes"
[data]
train = [[0.0, 0.1, 0.0], [1.0, 0.2, 1.0], [0.1, 1.0, 2.0], [0.9, 0.8, 1.0]]
validation = [[0.2, 0.1, 0.0]]
[model]
kind = "mlp"
sizes = [2, 3, 3]
activation = "relu"
init = "seeded"
trainable = ["layers.1.w", "layers.1.b"]
[loss]
kind = "softmax-cross-entropy"
[optimizer]
name = "adamw"
learning_rate = 0.1
[run]
steps = 7
batch_size = 2
"""


@pytest.mark.slow
@pytest.mark.parametrize("spec", [*sorted(p.name for p in (ROOT / "examples").glob("*.toml")),
                                  "softmax", "float32"])
def test_every_example_spec_trains_and_reruns_equal(tmp_path, capsys, spec):
    if spec == "softmax":
        path = tmp_path / "three-classes.toml"
        path.write_text(SOFTMAX_SPEC)
    else:
        path = ROOT / "examples" / ("tanh-mlp-schedule.toml" if spec == "float32" else spec)
    dtype = "float32" if spec == "float32" else "float64"
    code, out, err = run_cli(capsys, DOOR, "train", "--spec", path, "--steps", "6", "--dtype",
                             dtype, "--json", tmp_path / "r.json")
    assert code == 0, err
    assert "trained 6 steps" in out and dtype in out
    code, out, err = run_cli(capsys, DOOR, "rerun", tmp_path / "r.json")
    assert code == 0, out + err
    assert "trajectory: EQUAL to the recorded one (6 steps" in out
    if spec == "softmax":  # frozen first layer: recorded, never moved
        traj = _json(tmp_path / "r.json")["trajectory"]
        assert len(set(traj["params"]["layers.0.w[0,0]"])) == 1
        assert len(set(traj["params"]["layers.1.w[0,0]"])) > 1
        assert {"train_accuracy", "val_accuracy"} <= set(traj["extras"])


@pytest.mark.slow
def test_spec_mlp_run_killed_and_resumed_equals_the_uninterrupted_run(tmp_path):
    spec = _mlp_spec(tmp_path)
    argv = ["train", "--spec", spec, "--steps", "20000", "--eval-every", "10",
            "--checkpoint-every", "50"]
    ckpt = tmp_path / "ckpt"
    _kill_after_two_checkpoints(argv, ckpt, tmp_path / "killed.json")
    assert 2 <= len(list(ckpt.glob("step-*.npz"))) < 400
    assert not (tmp_path / "killed.json").exists()

    resumed_report, reference_report = _resumed_and_uninterrupted(argv, ckpt, tmp_path)
    # Exactly, every bit: parameters, gradients, losses, the rate, the accuracy, batches.
    assert resumed_report["trajectory"] == reference_report["trajectory"]
    assert set(resumed_report["trajectory"]["extras"]) == {"learning_rate", "train_accuracy"}
    assert len(resumed_report["trajectory"]["batch_loss"]) == 2001  # every 10th and the last


# ----------------------------------------------------------------------------- --help examples


def help_examples() -> list[list[str]]:
    """Every command of ``train --help``'s examples, continuation lines joined, comments cut."""
    epilog = _train_cli.__doc__.split("Examples:\n", 1)[1].split("\n\n", 1)[0]
    commands, current = [], ""
    for line in epilog.splitlines():
        current += " " + line.strip()
        if current.endswith("\\"):
            current = current[:-1]
            continue
        commands.append(shlex.split(current.split("#")[0]))
        current = ""
    return commands


@pytest.mark.slow
def test_every_help_example_runs(tmp_path, capsys, monkeypatch):
    # Issue 21: the README's checkpoint example (--checkpoint-every 1000 without
    # --eval-every) was refused because the computed default eval_every (57) did not
    # divide 1000; every example of --help runs here, in order, from a fresh directory.
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copy(ROOT / "comparisons" / "data" / "deliveries-train.csv",
                tmp_path / "deliveries.csv")
    monkeypatch.chdir(tmp_path)
    examples = help_examples()
    assert len(examples) == 6 and all(argv[:3] == ["python", "-m", DOOR] for argv in examples)
    outputs = []
    for argv in examples:
        code, out, err = run_cli(capsys, DOOR, *argv[3:])
        assert code == 0, f"{shlex.join(argv)}: {err}"
        outputs.append(out)
    assert "resumed from checkpoint sha256:" in outputs[2]
    assert "trajectory: EQUAL to the recorded one (9375 steps" in outputs[3]
    manifest = read_manifest(tmp_path / "run.manifest.json")
    assert manifest["runs"][0]["options"]["eval_every"] == 50  # a divisor of 1000 near 57
    assert read_manifest(tmp_path / "moons.manifest.json")["runs"][0]["steps"] == 400


# --- what an interrupted run says (issue 21: the hint must be true) --------------------------

_INTERRUPTIBLE = ["train", "--data", "shipments", "--optimizer", "sgd", "--learning-rate", "0.01",
                  "--steps", "6", "--checkpoint-every", "2"]


def test_an_interrupt_before_the_first_checkpoint_does_not_suggest_resume(capsys, tmp_path,
                                                                          monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_cli, "run_training", interrupted)
    ckpt = tmp_path / "ckpt"
    code, out, err = run_cli(capsys, "functional_training", *_INTERRUPTIBLE,
                             "--checkpoint-dir", ckpt)
    assert code == 130, err
    assert "before the first checkpoint" in err and "without --resume" in err, err
    monkeypatch.undo()
    code, _, err = run_cli(capsys, "functional_training", *_INTERRUPTIBLE, "--checkpoint-dir",
                           ckpt, "--resume")
    assert code == 2 and "no checkpoint" in err, err  # what the hint said: nothing to resume
    code, _, err = run_cli(capsys, "functional_training", *_INTERRUPTIBLE, "--checkpoint-dir",
                           ckpt)
    assert code == 0, err  # and the same command again starts over


def test_an_interrupt_after_a_checkpoint_suggests_resume_which_works(capsys, tmp_path,
                                                                    monkeypatch):
    real = train_cli.run_training

    def stopped_after_first_chunk(settings, data, **kwargs):
        def progress(*args):
            raise KeyboardInterrupt  # called after the first chunk's checkpoint is written
        return real(settings, data, **{**kwargs, "progress": progress})

    monkeypatch.setattr(train_cli, "run_training", stopped_after_first_chunk)
    ckpt = tmp_path / "ckpt"
    code, _, err = run_cli(capsys, "functional_training", *_INTERRUPTIBLE,
                           "--checkpoint-dir", ckpt)
    assert code == 130 and "with --resume" in err, err
    monkeypatch.undo()
    code, _, err = run_cli(capsys, "functional_training", *_INTERRUPTIBLE, "--checkpoint-dir",
                           ckpt, "--resume")
    assert code == 0, err


# --- --keep-checkpoints (issue 21: checkpoints must not pile up) -----------------------------


def test_old_checkpoints_are_pruned_and_the_newest_alone_resumes(capsys, tmp_path, monkeypatch):
    argv = ["train", "--data", "shipments", "--optimizer", "adam", "--learning-rate", "0.05",
            "--batch-size", "2", "--steps", "12", "--checkpoint-every", "2"]
    calls = []
    real = train_cli.run_training

    def stopped_after_four_chunks(settings, data, **kwargs):
        def progress(*args):
            calls.append(args)
            if len(calls) == 4:
                raise KeyboardInterrupt
        return real(settings, data, **{**kwargs, "progress": progress})

    monkeypatch.setattr(train_cli, "run_training", stopped_after_four_chunks)
    ckpt = tmp_path / "ckpt"
    code, _, err = run_cli(capsys, "functional_training", *argv, "--checkpoint-dir", ckpt,
                           "--keep-checkpoints", "2")
    assert code == 130, err
    assert [p.name[:14] for p in ft.runs.list_checkpoints(ckpt)] == [
        "step-000000006", "step-000000008"]  # 2, 4 pruned after 6 and 8 were written
    monkeypatch.undo()
    resumed = tmp_path / "resumed.json"
    code, _, err = run_cli(capsys, "functional_training", *argv, "--checkpoint-dir", ckpt,
                           "--keep-checkpoints", "2", "--resume", "--json", resumed)
    assert code == 0, err
    assert len(ft.runs.list_checkpoints(ckpt)) == 2
    whole = tmp_path / "whole.json"
    code, _, err = run_cli(capsys, "functional_training", *argv, "--json", whole,
                           "--checkpoint-dir", tmp_path / "uninterrupted")
    assert code == 0, err
    assert (json.loads(resumed.read_text())["trajectory"]
            == json.loads(whole.read_text())["trajectory"])  # bit for bit, every record


def test_keep_checkpoints_defaults_to_three_and_all_keeps_every_one(capsys, tmp_path):
    argv = ["train", "--data", "shipments", "--optimizer", "sgd", "--learning-rate", "0.01",
            "--steps", "10", "--checkpoint-every", "2"]
    code, _, err = run_cli(capsys, "functional_training", *argv, "--checkpoint-dir",
                           tmp_path / "a")
    assert code == 0, err
    assert len(ft.runs.list_checkpoints(tmp_path / "a")) == train_cli.DEFAULT_KEEP_CHECKPOINTS
    code, _, err = run_cli(capsys, "functional_training", *argv, "--checkpoint-dir",
                           tmp_path / "b", "--keep-checkpoints", "all")
    assert code == 0, err
    assert len(ft.runs.list_checkpoints(tmp_path / "b")) == 5
    code, out, err = run_cli(capsys, "functional_training", *argv, "--keep-checkpoints", "0",
                             "--checkpoint-dir", tmp_path / "c")
    assert (code, out) == (2, "") and "expected an integer >= 1 or 'all', got '0'" in err


def test_trains_summary_and_last_progress_line_say_which_step_they_show(capsys):
    code, out, err = run_cli(capsys, "functional_training", "train", "--data", "shipments",
                             "--optimizer", "sgd", "--learning-rate", "0.08", "--steps", "20")
    assert code == 0
    assert ("train_loss 13.8333 before step 0 -> 0.000494275 after step 19; grad_norm 12.3873 "
            "at step 0 -> 0.0110078 at step 19") in out.splitlines()
    assert err.splitlines()[-1] == ("20/20 steps done; step 19 (before its update): "
                                    "batch_loss=0.000503922 train_loss=0.000503922 "
                                    "grad_norm=0.0110078")
