"""Reports: strict-JSON shape, non-finite numbers as strings, Markdown, rich table, atomic files."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os

import pytest
from report_shape import validate_report
from rich.console import Console
from specs import shipments_spec

from comparisons.compare import compare_trajectories, run_and_compare
from comparisons.experiments import REGISTRY
from comparisons.report import dumps_json, json_report, markdown_report, verdict_table
from comparisons.spec import parse_spec
from functional_training import TrajectoryRecord
from functional_training.runs import check_output_path, write_atomic

DIVERGING = parse_spec(shipments_spec("diverging", learning_rate=1.0, steps=250))


def _strict_loads(text: str):
    """json.loads that fails on the non-standard NaN / Infinity literals."""
    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def results():
    names = ["five-steps", "train-validation", "mini-batch", "gradient-check", "shared-path"]
    return [run_and_compare(REGISTRY[n]) for n in names] + [run_and_compare(DIVERGING)]


def test_json_report_has_the_documented_shape(results):
    text = dumps_json(json_report(results, dtype="float64"))
    report = _strict_loads(text)
    validate_report(report)
    assert report["all_agree"] is True
    assert [e["name"] for e in report["experiments"]] == [
        "five-steps", "train-validation", "mini-batch", "gradient-check", "shared-path",
        "diverging"]
    assert set(report["experiments"][0]["backends"]) == {"manual", "engine", "torch", "jax"}
    assert {"python", "jax", "numpy", "torch"} <= set(report["versions"])


def test_trajectories_in_the_report_read_back_equal(results):
    report = _strict_loads(dumps_json(json_report(results, dtype="float64")))
    for (trajectories, _), entry in zip(results, report["experiments"], strict=True):
        for name, trajectory in trajectories.items():
            back = TrajectoryRecord.from_json(entry["backends"][name])
            assert _flat(back) == _flat(trajectory)
            assert back.batches == trajectory.batches


def _flat(trajectory: TrajectoryRecord) -> list:
    """Every recorded value with its label, NaN as a string so that NaN equals NaN."""
    def key(value):
        return "nan" if math.isnan(value) else value

    out = []
    for label, values in trajectory.series():
        for value in values:
            out.append((label, [key(v) for v in value] if isinstance(value, list) else key(value)))
    return out


def test_non_finite_values_are_strings_in_strict_json(results):
    text = dumps_json(json_report(results, dtype="float64"))
    report = _strict_loads(text)
    diverging = report["experiments"][-1]
    manual = diverging["backends"]["manual"]
    assert manual["first_nonfinite_step"] is not None
    assert "Infinity" in manual["train_loss"]  # the squared error overflows first
    assert diverging["agree"] is True  # every backend overflows at the same step
    for literal in ("NaN", "Infinity"):  # never as bare JSON literals
        assert f": {literal}" not in text and f" {literal}," not in text


def test_nan_and_negative_infinity_are_strings_too():
    run = TrajectoryRecord(params={"w": [1.0, math.nan]}, grads={"w": [-math.inf]},
                     batch_loss=[math.inf], train_loss=[8.0, math.nan])
    runs = {"manual": run, "engine": run}
    verdict = compare_trajectories(REGISTRY["single-update"], runs)
    report = _strict_loads(dumps_json(json_report([(runs, verdict)], dtype="float64")))
    validate_report(report)
    traj = report["experiments"][0]["backends"]["engine"]
    assert traj["params"]["w"] == [1.0, "NaN"]
    assert traj["grads"]["w"] == ["-Infinity"]
    assert traj["batch_loss"] == ["Infinity"]
    assert traj["first_nonfinite_step"] == 0
    assert report["all_agree"] is True  # the same non-finite values at the same steps


def test_backends_that_go_non_finite_at_the_same_step_agree_from_there_on():
    inf, nan = math.inf, math.nan

    def run(w1, g1, w2, loss2):
        return TrajectoryRecord(params={"w": [1.0, w1, w2]}, grads={"w": [2.0, g1]},
                          batch_loss=[1.0, inf], train_loss=[1.0, inf, loss2])

    ref = run(1e300, 1e308, -1.7e308, inf)
    # Same first non-finite step (1): finite-vs-inf there and anything later is not compared.
    same_step = run(1e300, inf, -inf, nan)
    verdict = compare_trajectories(REGISTRY["single-update"], {"manual": ref, "x": same_step})
    assert verdict.agree, verdict.describe()
    assert verdict.max_abs_diff["grads.w"] == 0.0
    # At that step, values finite on both sides are still compared.
    wrong = run(2e300, inf, -inf, nan)
    m = compare_trajectories(REGISTRY["single-update"], {"manual": ref, "x": wrong}).first_mismatch
    assert (m.step, m.quantity, m.expected, m.actual) == (1, "params.w", 1e300, 2e300)
    # Going non-finite one step earlier is a mismatch at that step.
    runs = {"manual": ref, "x": dataclasses.replace(same_step, batch_loss=[inf, inf])}
    verdict = compare_trajectories(REGISTRY["single-update"], runs)
    m = verdict.first_mismatch
    assert (m.step, m.quantity, m.expected, m.actual) == (0, "batch_loss", 1.0, inf)
    table = io.StringIO()
    Console(file=table, width=200).print(verdict_table([(runs, verdict)], dtype="float64"))
    assert "step 1 (|grad| 2.0e+00 at step 0); x: step 0" in table.getvalue()


def test_a_stray_float_nan_is_an_error_not_invalid_json():
    with pytest.raises(ValueError, match="JSON compliant"):
        dumps_json({"value": math.nan})


def test_a_mismatch_is_reported_with_both_values():
    run = TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]},
                     batch_loss=[8.0], train_loss=[8.0, 2.0])
    bad = TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [-4.0]},
                     batch_loss=[math.inf], train_loss=[8.0, 2.0])
    runs = {"manual": run, "engine": bad}
    verdict = compare_trajectories(REGISTRY["single-update"], runs)
    report = _strict_loads(dumps_json(json_report([(runs, verdict)], dtype="float64")))
    validate_report(report)
    assert report["all_agree"] is False
    entry = report["experiments"][0]
    assert entry["first_mismatch"] == {"backend": "engine", "step": 0, "quantity": "grads.w",
                                       "expected": -8.0, "actual": -4.0}
    assert entry["max_abs_diff"]["batch_loss"] == "Infinity"

    markdown = markdown_report([(runs, verdict)], dtype="float64")
    assert "**MISMATCH**" in markdown
    assert "| single-update | MISMATCH step 0 |" in markdown
    assert ("- single-update: engine differs from manual at step 0, grads.w: expected -8.0, "
            "got -4.0") in markdown


def test_markdown_has_one_row_per_experiment(results):
    lines = markdown_report(results, dtype="float64").splitlines()
    assert "**all agree**" in lines[0]
    assert lines[2] == "| experiment | engine | torch | jax |"
    assert lines[3] == "|---|---|---|---|"
    rows = [line for line in lines[4:] if line.startswith("| ")]
    assert [row.split(" | ")[0][2:] for row in rows] == [v.experiment for _, v in results]
    assert all(row.count("agree ") == 3 for row in rows)


def test_the_rich_table_renders_without_a_terminal(results):
    buffer = io.StringIO()
    Console(file=buffer, width=120).print(verdict_table(results, dtype="float64"))
    text = buffer.getvalue()
    assert "\x1b[" not in text  # no terminal: no escape codes
    for _, verdict in results:
        assert verdict.experiment in text
    assert "diverges at" in text
    first = results[-1][0]["manual"].first_nonfinite_step
    assert f"step {first} (|grad|" in text


def test_output_paths_are_checked_before_anything_runs(tmp_path):
    assert check_output_path(tmp_path / "r.json", option="--json") == tmp_path / "r.json"
    with pytest.raises(ValueError, match=r"^--json: directory .*/missing does not exist$"):
        check_output_path(tmp_path / "missing" / "r.json", option="--json")
    with pytest.raises(ValueError, match="is a directory, expected a file path$"):
        check_output_path(tmp_path, option="--markdown")
    assert list(tmp_path.iterdir()) == []  # the probe file is gone


def test_an_unwritable_directory_is_refused(unwritable_directory):
    # Probed by creating a file, not by permission bits (which say nothing for root).
    directory = unwritable_directory()
    with pytest.raises(ValueError, match=r"^--json: directory .* is not writable \("):
        check_output_path(directory / "r.json", option="--json")
    assert not (directory / "r.json").exists()


def test_write_atomic_replaces_the_whole_file(tmp_path):
    path = tmp_path / "report.json"
    write_atomic(path, "old\n")
    write_atomic(path, "new\n")
    assert path.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["report.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    write_atomic(path, "old\n")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["report.json"]


def test_differing_batches_are_a_count_in_the_report_never_an_infinite_difference():
    experiment = REGISTRY["mini-batch"]
    runs, _ = run_and_compare(experiment, backends=["manual"])
    order = [list(batch) for batch in runs["manual"].batches]
    order[4] = list(reversed(order[4]))
    runs["engine"] = dataclasses.replace(runs["manual"], batches=order)
    verdict = compare_trajectories(experiment, runs)
    report = _strict_loads(dumps_json(json_report([(runs, verdict)], dtype="float64")))
    validate_report(report)
    entry = report["experiments"][0]
    assert entry["first_mismatch"]["quantity"] == "batches"
    assert entry["batches_differ"] == {"engine": 1}
    assert "batches" not in entry["max_abs_diff"]
    assert "batches" not in entry["backend_max_abs_diff"]["engine"]
    assert "inf" not in markdown_report([(runs, verdict)], dtype="float64").lower()
