"""functional_training/runs/_spec_training.py: a spec's [loss], [schedule], [optimizer], [run].

Each table's defaults and each refusal: one line naming the key. (Whole spec files, every
table together: runs/test_spec.py.)
"""

from __future__ import annotations

import pytest

from functional_training.runs._spec_toml import SpecError
from functional_training.runs._spec_training import (
    MAX_STEPS,
    loss_table,
    optimizer_table,
    run_table,
    schedule_table,
)

LINE = {"kind": "linear", "config": {"features": 1}}


def test_loss_defaults_to_the_lessons_with_no_penalty():
    assert loss_table(None, **LINE) == ("half-squared-error", 0.0, "mean")
    assert loss_table({"kind": "hinge", "l2": 1e-3}, **LINE) == ("hinge", 1e-3, "mean")


@pytest.mark.parametrize(("table", "message"), [
    ({"kind": "cubic"}, r"^\[loss\]\.kind: unknown loss 'cubic'; expected one of "),
    ({"l2": -1.0}, r"^\[loss\]\.l2: must be >= 0, got -1.0$"),
    ({"l1": 0.1}, r"^\[loss\]\.l1: unknown key; expected kind, l2, reduction$"),
    ({"kind": "softmax-cross-entropy"}, r"^\[loss\]\.kind: softmax-cross-entropy .*one output$"),
])
def test_loss_refusals(table, message):
    with pytest.raises(SpecError, match=message):
        loss_table(table, **LINE)


def test_a_schedules_defaults_are_filled_in():
    settings = schedule_table({"kind": "cosine", "init_value": 0.1, "decay_steps": 10})
    assert settings["kind"] == "cosine" and settings["init_value"] == 0.1
    assert settings["decay_steps"] == 10 and "alpha" in settings
    with pytest.raises(SpecError, match=r"^\[schedule\]\.kind: unknown schedule 'wavy'"):
        schedule_table({"kind": "wavy"})
    with pytest.raises(SpecError, match=r"^\[schedule\]\.decay_steps: missing"):
        schedule_table({"kind": "cosine", "init_value": 0.1})


def test_optimizer_rate_or_schedule_not_both():
    assert optimizer_table({"name": "sgd", "learning_rate": 0.1}) == ("sgd", {"learning_rate": 0.1})
    name, settings = optimizer_table({"name": "adam"}, scheduled=True)
    assert name == "adam" and "learning_rate" not in settings and settings["b1"] == 0.9
    with pytest.raises(SpecError, match=r"give the rate in \[schedule\], not both"):
        optimizer_table({"name": "sgd", "learning_rate": 0.1}, scheduled=True)
    with pytest.raises(SpecError, match=r"^\[optimizer\]\.learning_rate: must be > 0, got 0.0$"):
        optimizer_table({"name": "sgd", "learning_rate": 0.0})
    with pytest.raises(SpecError, match=r"^\[optimizer\]\.name: unknown optimizer 'lbfgs'"):
        optimizer_table({"name": "lbfgs", "learning_rate": 0.1})


def test_run_table_bounds():
    assert run_table({"steps": 5}, examples=3) == (5, None, 0)
    assert run_table({"steps": MAX_STEPS, "batch_size": 3, "seed": 9}, examples=3) == (
        MAX_STEPS, 3, 9)
    with pytest.raises(SpecError, match=rf"^\[run\]\.steps: must be at most {MAX_STEPS}"):
        run_table({"steps": MAX_STEPS + 1}, examples=3)
    with pytest.raises(SpecError, match=r"^\[run\]\.batch_size: 4 is more than the 3 training "):
        run_table({"steps": 1, "batch_size": 4}, examples=3)
