"""``train`` and ``sweep`` on users' data files: columns, the file's hash in the manifest, reruns.

Expected trajectories come from the NumPy float64 loop of ``tests/numpy_reference.py``.
"""

from __future__ import annotations

import csv
import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from numpy_reference import numpy_linear

import functional_training as ft
from functional_training.cli import main

ROWS = [[0.5, 3.0, 9.0, 2.6], [1.5, 1.0, 4.0, 3.9], [2.0, 2.5, 1.0, 5.7], [3.5, 0.5, 7.5, 8.1],
        [4.0, 4.0, 2.0, 10.2], [1.0, 2.0, 6.0, 3.3]]
COLUMNS = ["disruption", "distance", "weight", "delay"]


def _csv(path, rows=ROWS):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_on_a_csv_file_matches_numpy_and_records_the_files_hash(capsys, tmp_path):
    path = _csv(tmp_path / "deliveries.csv")
    report = tmp_path / "run.json"
    code, out, err = _run(capsys, "train", "--data", path, "--features", "distance,disruption",
                          "--target", "delay", "--optimizer", "sgd", "--learning-rate", "0.02",
                          "--steps", "12", "--batch-size", "2", "--seed", "5", "--json", report)
    assert code == 0, err
    data = json.loads(report.read_text())
    traj, run = data["trajectory"], data["manifest"]["runs"][0]
    assert run["data"]["files"] == {
        "train": "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()}
    assert run["data"]["features"] == 2
    assert run["options"]["features"] == ["distance", "disruption"]
    assert list(traj["params"]) == ["w[0]", "w[1]", "b"]
    table = np.asarray(ROWS)
    ref = numpy_linear(np.zeros(2), 0.0, table[:, [1, 0]], table[:, 3], steps=12,
                       learning_rate=0.02, batch_indices=traj["batches"])
    tol = ft.tolerance("float64", 12)  # rtol = atol = 1e-12: float64 rounding over 12 steps
    for i in range(2):
        np.testing.assert_allclose(traj["params"][f"w[{i}]"], ref["w"][:, i], rtol=tol, atol=tol)
    np.testing.assert_allclose(traj["params"]["b"], ref["b"], rtol=tol, atol=tol)
    np.testing.assert_allclose(traj["train_loss"], ref["train_loss"], rtol=tol, atol=tol)


def test_rerun_of_a_file_run_is_equal_and_sees_a_changed_file(capsys, tmp_path):
    path = _csv(tmp_path / "d.csv")
    manifest = tmp_path / "m.json"
    code, _, err = _run(capsys, "train", "--data", path, "--optimizer", "adam",
                        "--learning-rate", "0.1", "--steps", "5", "--manifest", manifest)
    assert code == 0, err
    code, out, _ = _run(capsys, "rerun", manifest)
    assert code == 0 and "trajectory: EQUAL" in out
    _csv(path, [[*row[:3], row[3] + 1.0] for row in ROWS])  # the same file, other targets
    code, out, _ = _run(capsys, "rerun", manifest)
    assert code == 1 and "DIFFERENT version" in out


@pytest.mark.parametrize("suffix", [".parquet", ".npy", ".npz"])
def test_parquet_npy_and_npz_train_like_the_csv(capsys, tmp_path, suffix):
    table = np.asarray(ROWS)
    path = tmp_path / f"d{suffix}"
    if suffix == ".parquet":
        pq.write_table(pa.table({name: table[:, i] for i, name in enumerate(COLUMNS)}), path)
        columns = ("--features", "disruption,distance,weight", "--target", "delay")
    elif suffix == ".npy":
        np.save(path, table)
        columns = ("--features", "0,1,2", "--target", "3")
    else:
        np.savez(path, **{name: table[:, i] for i, name in enumerate(COLUMNS)})
        columns = ()
    reports = []
    for data, extra in ((_csv(tmp_path / "d.csv"), ()), (path, columns)):
        report = tmp_path / f"r{len(reports)}.json"
        code, _, err = _run(capsys, "train", "--data", data, *extra, "--optimizer", "sgd",
                            "--learning-rate", "0.01", "--steps", "4", "--json", report)
        assert code == 0, err
        reports.append(json.loads(report.read_text())["trajectory"])
    assert reports[0]["params"] == reports[1]["params"]  # the same numbers, bit for bit


def test_sweep_on_a_file_with_several_features_reruns_equal(capsys, tmp_path):
    path = _csv(tmp_path / "d.csv")
    manifest = tmp_path / "s.json"
    code, out, err = _run(capsys, "sweep", "--data", path, "--learning-rates", "0.001:0.02:4",
                          "--steps", "20", "--dtype", "float64", "--manifest", manifest)
    assert code == 0, err
    run = json.loads(manifest.read_text())["runs"][0]
    assert run["data"]["features"] == 3 and "files" in run["data"]
    code, out, _ = _run(capsys, "rerun", manifest)
    assert code == 0 and "sweep: EQUAL" in out


@pytest.mark.parametrize("argv, message", [
    (["--features", "nope"], "no feature column 'nope'"),
    (["--target", "disruption", "--features", "disruption"],
     "target column 'disruption' is also listed among the features"),
])
def test_bad_columns_are_one_line_exit_2(capsys, tmp_path, argv, message):
    path = _csv(tmp_path / "d.csv")
    code, out, err = _run(capsys, "train", "--data", path, *argv, "--optimizer", "sgd",
                          "--learning-rate", "0.1", "--steps", "2")
    assert code == 2 and message in err and err.count("\n") == 1 and out == ""


def test_an_empty_column_name_is_refused_by_the_parser(capsys, tmp_path):
    path = _csv(tmp_path / "d.csv")
    with pytest.raises(SystemExit) as stop:
        main(["train", "--data", str(path), "--features", "a,,b", "--optimizer", "sgd",
              "--learning-rate", "0.1", "--steps", "2"])
    out, err = capsys.readouterr()
    assert stop.value.code == 2 and out == "" and err.count("\n") == 1
    assert "argument --features: expected comma-separated column names" in err


def test_features_of_named_data_are_refused(capsys):
    code, _, err = _run(capsys, "train", "--data", "shipments", "--features", "x",
                        "--optimizer", "sgd", "--learning-rate", "0.1", "--steps", "2")
    assert code == 2 and "features and target name columns of a data file" in err


def test_manifests_name_every_weight_by_the_one_rule(capsys, tmp_path):
    """Several features: init and the sweep's final parameters are w[0], w[1], ..., b."""
    path = _csv(tmp_path / "d.csv")
    train, sweep, report = tmp_path / "t.json", tmp_path / "s.json", tmp_path / "r.json"
    assert _run(capsys, "train", "--data", path, "--optimizer", "sgd", "--learning-rate", "0.01",
                "--steps", "3", "--manifest", train)[0] == 0
    assert _run(capsys, "sweep", "--data", path, "--learning-rates", "0.001:0.01:2",
                "--steps", "4", "--dtype", "float64", "--manifest", sweep, "--json", report)[0] == 0
    names = ["w[0]", "w[1]", "w[2]", "b"]
    for manifest in (train, sweep):
        assert list(json.loads(manifest.read_text())["runs"][0]["init"]) == names
        code, out, _ = _run(capsys, "rerun", manifest)
        assert code == 0, out
    assert sorted(json.loads(report.read_text())["final_params"]) == sorted(names)


def test_a_relative_data_path_reruns_from_another_directory(capsys, tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    _csv(tmp_path / "work" / "d.csv")
    monkeypatch.chdir(tmp_path / "work")
    assert _run(capsys, "train", "--data", "d.csv", "--optimizer", "sgd", "--learning-rate",
                "0.01", "--steps", "3", "--manifest", "m.json")[0] == 0
    options = json.loads((tmp_path / "work" / "m.json").read_text())["runs"][0]["options"]
    assert options["data"] == "d.csv"
    assert options["data_file"] == str((tmp_path / "work" / "d.csv").resolve())
    monkeypatch.chdir(tmp_path)  # d.csv is not here: the recorded absolute path is used
    code, out, _ = _run(capsys, "rerun", "work/m.json")
    assert code == 0 and "trajectory: EQUAL" in out
