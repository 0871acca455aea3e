"""``python -m comparisons run --manifest`` and ``rerun``: round trips and differences.

Bad rerun files are rows of ``tests/test_cli/test_bad_input_comparisons.py``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import pytest
from cli_helpers import assert_one_line, run_cli, run_module

from comparisons.backends import BACKEND_NAMES
from comparisons.experiments import REGISTRY
from comparisons.manifest import experiment_from_json, experiment_to_json, split_policy
from comparisons.spec import load_spec
from functional_training import TrajectoryRecord
from functional_training.runs import (
    data_version,
    first_difference,
    read_manifest,
    trajectory_digest,
)

DOOR = "comparisons"
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
MANY = ["five-steps", "train-validation", "mini-batch", "gradient-check", "shared-path",
        "gradient-accumulation", "optimizer/adamw"]


def record(capsys, tmp_path, *argv) -> tuple[Path, Path]:
    """Run ``run ARGV --json --manifest`` into ``tmp_path``; return (report, manifest)."""
    report, manifest = tmp_path / "report.json", tmp_path / "run.manifest.json"
    code, _, err = run_cli(capsys, DOOR, "run", *argv, "--json", report, "--manifest", manifest)
    assert code == 0, err
    return report, manifest


def _experiments(*names: str) -> list[str]:
    return [arg for name in names for arg in ("--experiment", name)]


# --- the manifest ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_experiment_description_round_trips_exactly(name):
    description = experiment_to_json(REGISTRY[name])
    assert experiment_from_json(json.loads(json.dumps(description))) == REGISTRY[name]


def test_the_manifest_records_what_the_lesson_says_to_log(capsys, tmp_path):
    spec = EXAMPLES / "mini-batch-nesterov.toml"
    report, path = record(capsys, tmp_path, *_experiments("train-validation"), "--spec", spec)
    manifest = read_manifest(path)
    assert manifest["tool"] == "comparisons run"
    assert manifest["dtype"] == "float64"
    assert manifest["devices"] and manifest["versions"]["torch"] is not None
    validation, nesterov = manifest["runs"]

    # Data version: the content hash of the pairs as float64 arrays (NumPy, independently).
    e = REGISTRY["train-validation"]
    assert validation["data"]["version"] == data_version(
        [x for x, _ in e.train], [y for _, y in e.train],
        [x for x, _ in e.validation], [y for _, y in e.validation])
    assert validation["data"]["validation_examples"] == 3
    assert validation["split"] == split_policy(e)
    assert (validation["optimizer"], validation["learning_rates"]) == ("sgd", [0.02])
    assert (validation["batch_size"], validation["seed"]) == (None, None)
    assert validation["options"]["origin"] == "registry"

    spec = load_spec(spec)
    assert nesterov["options"]["origin"] == "spec"
    assert nesterov["options"]["spec_file"] == str(EXAMPLES / "mini-batch-nesterov.toml")
    assert (nesterov["batch_size"], nesterov["seed"]) == (spec.batch_size, spec.seed)
    assert nesterov["hyperparameters"] == {"momentum": spec.hyperparams["momentum"]}
    assert experiment_from_json(nesterov["options"]["experiment"]) == spec
    for run in manifest["runs"]:
        assert run["options"]["backends"] == list(BACKEND_NAMES)
        assert run["options"]["reference"] == "manual"
        assert set(run["results"]) == set(BACKEND_NAMES)

    # The --json report embeds the same object, and its trajectories have the recorded digests.
    data = json.loads(report.read_text())
    assert data["manifest"] == manifest
    for entry, run in zip(data["experiments"], manifest["runs"], strict=True):
        assert {b: trajectory_digest(t) for b, t in entry["backends"].items()} == run["results"]


def test_all_writes_a_manifest_too(capsys, tmp_path, monkeypatch):
    # `all` runs every registry experiment; a smaller registry keeps this test quick.
    import comparisons.cli as cli_module

    small = {name: REGISTRY[name] for name in ("five-steps", "shared-path")}
    monkeypatch.setattr(cli_module, "REGISTRY", small)
    monkeypatch.setattr(cli_module, "_lesson_check", lambda runs: None)
    monkeypatch.setattr("comparisons.faults.check_faults",
                        lambda **kwargs: [])
    monkeypatch.setattr("comparisons.faults.FAULTS", {})
    path = tmp_path / "all.manifest.json"
    code, out, err = run_cli(capsys, DOOR, "all", "--no-figures", "--manifest", path)
    assert code == 0, err
    manifest = read_manifest(path)
    assert manifest["tool"] == "comparisons all"
    assert [run["name"] for run in manifest["runs"]] == ["five-steps", "shared-path"]
    code, out, _ = run_cli(capsys, DOOR, "rerun", path)
    assert code == 0, out
    assert "rerun: all 2 experiments are EQUAL" in out


# --- rerun: equal ------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["manifest", "report"])
def test_rerun_reproduces_every_trajectory_bit_for_bit(capsys, tmp_path, which):
    report, manifest = record(capsys, tmp_path, *_experiments(*MANY),
                              "--spec", EXAMPLES / "diverging-rate.toml")
    code, out, err = run_cli(capsys, DOOR, "rerun", report if which == "report" else manifest)
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].startswith("rerun of comparisons run from ")
    for name in [*MANY, "diverging-rate"]:
        assert f"{name}: EQUAL (manual, engine, torch, jax: every value, bit for bit)" in lines
    assert lines[-1] == (f"rerun: all {len(MANY) + 1} experiments are EQUAL to the recorded "
                         "trajectories")


def test_a_rerun_reads_its_file_once_and_builds_no_manifest_of_the_recorded_runs(
    capsys, tmp_path, monkeypatch
):
    import comparisons.manifest

    report, _ = record(capsys, tmp_path, *_experiments("five-steps", "shared-path"))
    reads, built = [], []
    real_read, real_build = Path.read_text, comparisons.manifest.build_manifest

    def read_text(self, *args, **kwargs):
        reads.append(self)
        return real_read(self, *args, **kwargs)

    def build_manifest(*, runs, **kwargs):
        built.append(len(runs))
        return real_build(runs=runs, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    monkeypatch.setattr(comparisons.manifest, "build_manifest", build_manifest)
    code, out, err = run_cli(capsys, DOOR, "rerun", report)
    assert code == 0, out + err
    assert reads.count(Path(report)) == 1
    assert built == []  # environment notes come from current_environment, no manifest built


def test_a_spec_experiment_reruns_after_its_file_is_gone(capsys, tmp_path):
    spec = tmp_path / "mine.toml"
    shutil.copy(EXAMPLES / "shipments-adam.toml", spec)
    spec.write_text(spec.read_text().replace('name = "shipments-adam"', 'name = "mine"'))
    _, manifest = record(capsys, tmp_path, "--spec", spec, "--dtype", "float32")
    spec.unlink()
    code, out, _ = run_cli(capsys, DOOR, "rerun", manifest)
    assert code == 0, out
    assert "(float32)" in out.splitlines()[0]
    assert "mine: EQUAL" in out


def test_chosen_backends_and_reference_are_rerun_as_recorded(capsys, tmp_path):
    _, manifest = record(capsys, tmp_path, *_experiments("five-steps"), "--backend", "engine",
                         "--reference", "torch")
    run = read_manifest(manifest)["runs"][0]
    assert run["options"]["backends"] == ["engine"]
    assert run["options"]["reference"] == "torch"
    assert set(run["results"]) == {"torch", "engine"}
    code, out, _ = run_cli(capsys, DOOR, "rerun", manifest)
    assert code == 0
    assert "five-steps: EQUAL (torch, engine: every value, bit for bit)" in out


# --- rerun: different -----------------------------------------------------------------------


def _nudged_backend(monkeypatch, backend: str, step: int, ulps: int = 1):
    """Make ``backend`` record ``grads.w[step]`` ``ulps`` units in the last place away."""
    import comparisons.backends as backends

    real = backends.get_backend

    class Nudged:
        def __init__(self, inner):
            self.inner = inner

        def missing(self):
            return None

        def run(self, experiment, *, dtype="float64"):
            traj = self.inner.run(experiment, dtype=dtype)
            grads = dict(traj.grads)
            grads["w"] = list(grads["w"])
            value = grads["w"][step]
            for _ in range(ulps):
                value = math.nextafter(value, math.inf)
            grads["w"][step] = value
            return dataclasses.replace(traj, grads=grads)

    monkeypatch.setattr(backends, "get_backend",
                        lambda name: Nudged(real(name)) if name == backend else real(name))


def test_rerun_names_the_first_differing_experiment_backend_quantity_and_step(
    capsys, tmp_path, monkeypatch
):
    report, manifest = record(capsys, tmp_path, *_experiments("five-steps", "full-batch"))
    recorded = json.loads(report.read_text())["experiments"][1]["backends"]["torch"]
    _nudged_backend(monkeypatch, "torch", step=3)
    code, out, _ = run_cli(capsys, DOOR, "rerun", report)
    assert code == 1
    was = recorded["grads"]["w"][3]
    now = math.nextafter(was, math.inf)
    assert "five-steps: DIFFERENT: torch at step 3, grads.w: " in out
    line = f"full-batch: DIFFERENT: torch at step 3, grads.w: recorded {was!r}, now {now!r}"
    assert line in out.splitlines()
    assert out.splitlines()[-1].startswith(
        "rerun: 0 of 2 experiments equal; first difference: five-steps: DIFFERENT: torch at "
        "step 3, grads.w")

    # From the manifest alone only the digests can be compared: experiment and backend named.
    code, out, _ = run_cli(capsys, DOOR, "rerun", manifest)
    assert code == 1
    assert "full-batch: DIFFERENT: torch: trajectory digest recorded sha256:" in out


def test_a_one_ulp_difference_that_the_comparator_accepts_is_still_a_rerun_difference(
    capsys, tmp_path, monkeypatch
):
    # Cross-backend agreement is within tolerance; reproduction is exact.
    report, _ = record(capsys, tmp_path, *_experiments("five-steps"))
    _nudged_backend(monkeypatch, "jax", step=0)
    code, out, _ = run_cli(capsys, DOOR, "run", "--experiment", "five-steps")
    assert code == 0  # agrees with manual within 1e-12
    code, out, _ = run_cli(capsys, DOOR, "rerun", report)
    assert code == 1
    assert "five-steps: DIFFERENT: jax at step 0, grads.w: recorded -8.0, now " in out


def test_a_changed_registry_experiment_is_reported_not_rerun(capsys, tmp_path, monkeypatch):
    import comparisons.rerun as rerun_module

    _, manifest = record(capsys, tmp_path, *_experiments("five-steps", "full-batch"))
    changed = dict(REGISTRY)
    changed["five-steps"] = dataclasses.replace(REGISTRY["five-steps"],
                                                hyperparams={"learning_rate": 0.2})
    changed["full-batch"] = dataclasses.replace(REGISTRY["full-batch"],
                                                train=((1.0, 3.0), (2.0, 5.0), (3.0, 7.5)))
    monkeypatch.setattr(rerun_module, "REGISTRY", changed)
    code, out, _ = run_cli(capsys, DOOR, "rerun", manifest)
    assert code == 1
    assert ("five-steps: CHANGED: its hyperparams changed: recorded {'learning_rate': 0.1}, "
            "now {'learning_rate': 0.2} (not rerun)") in out
    assert "full-batch: CHANGED: its data changed: recorded version sha256:" in out
    del changed["five-steps"]
    code, out, _ = run_cli(capsys, DOOR, "rerun", manifest)
    assert code == 1
    assert "five-steps: CHANGED: no longer in the registry (not rerun)" in out


def test_a_backend_missing_at_rerun_is_a_difference(capsys, tmp_path, monkeypatch):
    import comparisons.backends as backends

    _, manifest = record(capsys, tmp_path, *_experiments("five-steps"))
    real = backends.get_backend

    class Missing:
        def missing(self):
            return "cannot import torch"

        def run(self, experiment, *, dtype="float64"):
            raise backends.BackendUnavailable("torch backend unavailable: cannot import torch")

    monkeypatch.setattr(backends, "get_backend",
                        lambda name: Missing() if name == "torch" else real(name))
    code, out, _ = run_cli(capsys, DOOR, "rerun", manifest)
    assert code == 1
    assert "five-steps: torch: not available here, nothing to compare" in out


def test_first_difference_compares_bits_not_values():
    def traj(zero: float) -> TrajectoryRecord:
        return TrajectoryRecord(params={"w": [1.0, zero]}, grads={"w": [math.nan]},
                          batch_loss=[math.inf], train_loss=[8.0, 2.0])

    assert first_difference(traj(0.0), traj(0.0)) is None  # NaN equals NaN
    assert first_difference(traj(0.0), traj(-0.0)) == "step 1, params.w: recorded 0.0, now -0.0"


@pytest.mark.slow
def test_manifest_round_trip_and_rerun_in_fresh_processes(tmp_path):
    def module(*argv):
        return run_module(DOOR, *argv)

    manifest = tmp_path / "m.json"
    first = module("run", "--experiment", "mini-batch", "--spec",
                   EXAMPLES / "peak-season-momentum.toml", "--manifest", manifest)
    assert first.returncode == 0, first.stderr
    again = module("rerun", manifest)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "rerun: all 2 experiments are EQUAL to the recorded " \
        "trajectories"
    bad = module("rerun", tmp_path / "none.json")
    assert bad.returncode == 2 and bad.stdout == ""
    assert_one_line(bad.stderr)
