"""What a JSON report and its TRAJ objects must look like (shared by report and CLI tests)."""

from __future__ import annotations

import math

NON_FINITE = ("NaN", "Infinity", "-Infinity")


def json_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value)) or value in NON_FINITE


def _numbers(values, length: int) -> None:
    assert isinstance(values, list) and len(values) == length
    assert all(json_number(v) for v in values), values


def validate_traj(traj: dict) -> None:
    """Assert ``traj`` is a TRAJ object with the trajectory contract's lengths."""
    steps = len(traj["batch_loss"])
    assert steps > 0
    assert set(traj["params"]) == set(traj["grads"]) and traj["params"]
    for name in traj["params"]:
        _numbers(traj["params"][name], steps + 1)
        _numbers(traj["grads"][name], steps)
    _numbers(traj["batch_loss"], steps)
    _numbers(traj["train_loss"], steps + 1)
    if traj["val_loss"] is not None:
        _numbers(traj["val_loss"], steps + 1)
    batches = traj["batches"]
    if batches is not None:
        assert len(batches) == steps
        assert all(isinstance(i, int) and not isinstance(i, bool) for b in batches for i in b)
    first = traj["first_nonfinite_step"]
    assert first is None or (isinstance(first, int) and 0 <= first <= steps)


def validate_report(report: dict) -> None:
    """Assert ``report`` has the JSON report's shape (issue 4, item 6)."""
    assert {"dtype", "device", "versions", "all_agree", "experiments"} <= set(report)
    assert report["dtype"] in ("float64", "float32")
    assert isinstance(report["device"], str) and report["device"]
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in report["versions"].items())
    assert isinstance(report["all_agree"], bool)
    assert report["all_agree"] == all(e["agree"] for e in report["experiments"])
    for entry in report["experiments"]:
        assert {"name", "agree", "reference", "backends", "max_abs_diff",
                "first_mismatch"} <= set(entry)
        assert isinstance(entry["name"], str) and isinstance(entry["agree"], bool)
        assert entry["reference"] in entry["backends"]
        for traj in entry["backends"].values():
            validate_traj(traj)
        assert all(json_number(v) for v in entry["max_abs_diff"].values())
        mismatch = entry["first_mismatch"]
        assert (mismatch is None) == entry["agree"]
        if mismatch is not None:
            assert set(mismatch) == {"backend", "step", "quantity", "expected", "actual"}
            assert mismatch["backend"] in entry["backends"]
            assert isinstance(mismatch["step"], int) and isinstance(mismatch["quantity"], str)
