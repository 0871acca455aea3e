"""functional_training/runs/_io.py: output files, one path each, written atomically."""

from __future__ import annotations

import pytest
from cli_helpers import run_cli


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


def _ft(capsys, *argv):
    return run_cli(capsys, "functional_training", *argv)
