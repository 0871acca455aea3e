"""functional_training/runs/_io.py: output files, one path each, written atomically."""

from __future__ import annotations

import os

import pytest
from cli_helpers import run_cli

from functional_training import runs


def _ft(capsys, *argv):
    """``python -m functional_training ARGV`` in this process: (exit code, stdout, stderr)."""
    return run_cli(capsys, "functional_training", *argv)


@pytest.mark.parametrize("command", [
    ("train", "--data", "shipments", "--optimizer", "sgd", "--learning-rate", "0.08",
     "--steps", "5"),
    ("sweep", "--learning-rates", "0.01:0.5:5", "--steps", "5"),
])
def test_json_and_manifest_on_one_path_are_refused(command, capsys, tmp_path):
    path = tmp_path / "run.json"
    code, out, err = _ft(capsys, *command, "--json", path, "--manifest", path)
    assert (code, out) == (2, "")
    assert err == f"error: --manifest: {path} is also the --json file; give each its own\n"
    assert list(tmp_path.iterdir()) == []



def test_write_json_refuses_non_finite_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="NaN or infinite"):
        runs.write_json_atomic(tmp_path / "r.json", {"loss": float("inf")})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_write_leaves_old_file_and_no_temporary(tmp_path, monkeypatch, failing):
    target = tmp_path / "report.json"
    target.write_text("old\n")

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="No space left"):
        runs.write_atomic(target, "new\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_write_atomic_mode_and_missing_directory(tmp_path):
    path = runs.write_atomic(tmp_path / "a.txt", b"x")
    assert path.stat().st_mode & 0o777 == 0o644
    with pytest.raises(OSError, match="cannot write .*missing.*No such file or directory"):
        runs.write_atomic(tmp_path / "missing" / "a.txt", b"x")


def test_check_output_path(tmp_path, unwritable_directory):
    assert runs.check_output_path(tmp_path / "out.json", option="--json") == tmp_path / "out.json"
    (tmp_path / "file").write_text("")
    cases = [
        (tmp_path / "missing" / "out.json", "--json: directory .*missing does not exist"),
        (tmp_path, "--json: .* is a directory, expected a file path"),
        (tmp_path / "file" / "out.json", "--json: .*file is not a directory"),
        (unwritable_directory() / "out.json", "--json: directory .* is not writable"),
    ]
    for path, message in cases:
        with pytest.raises(ValueError, match=message):
            runs.check_output_path(path, option="--json")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "locked") == ["file"]
