"""The lesson's single update as a closed form, for each backend's own test file.

One shipment x = 2, y = 6 from w = 1, b = 0 at rate 0.1: prediction 2, loss 0.5 (2 - 6)^2 = 8,
gradients (-8, -4), then w = 1.8, b = 0.4, prediction 4, loss 2. float64: exact here (small
binary fractions); float32: within functional_training.tolerance("float32", 1).
"""

from __future__ import annotations

import pytest

import functional_training as ft
from comparisons.experiments import REGISTRY

EXPECTED = {"w": [1.0, 1.8], "b": [0.0, 0.4], "dw": [-8.0], "db": [-4.0],
            "train_loss": [8.0, 2.0], "predictions": [2.0, 4.0]}


def assert_single_update(run, dtype: str) -> None:
    """``run(experiment, dtype=...)`` (a backend's) gives the closed form, as Python floats."""
    t = run(REGISTRY["single-update"], dtype=dtype)
    got = {"w": t.params["w"], "b": t.params["b"], "dw": t.grads["w"], "db": t.grads["b"],
           "train_loss": t.train_loss, "predictions": [row[0] for row in t.predictions]}
    tol = ft.tolerance(dtype, 1)
    for key, expected in EXPECTED.items():
        assert got[key] == pytest.approx(expected, rel=tol, abs=tol), key
    assert type(got["w"][0]) is float  # trajectories hold Python floats in every dtype
