"""comparisons/transcript.py: the lesson's lines formatted from a trajectory, and their check.

The trajectories here are written by hand from the lesson's closed forms (one shipment,
x = 2, y = 6, from w = 1, b = 0 at rate 0.1: prediction 2, loss 0.5 (2 - 6)^2 = 8,
gradients (-4 * 2, -4) = (-8, -4); after the step w = 1.8, b = 0.4, prediction 4, loss 2),
so the formatting is checked without any backend.
"""

from __future__ import annotations

import pytest
from lesson_fixture import lesson_blocks

from comparisons.experiments import REGISTRY
from comparisons.transcript import (
    LESSON_BLOCKS,
    block_experiments,
    block_lines,
    check_transcript,
)
from functional_training import TrajectoryRecord

ONE_STEP = TrajectoryRecord(params={"w": [1.0, 1.8], "b": [0.0, 0.4]},
                            grads={"w": [-8.0], "b": [-4.0]}, batch_loss=[8.0],
                            train_loss=[8.0, 2.0], predictions=[[2.0], [4.0]])


def test_single_update_prints_the_lessons_lines_from_the_closed_forms():
    lines = block_lines("single-update", [(REGISTRY["single-update"], ONE_STEP)])
    assert lines == lesson_blocks()["single-update"]


def test_a_trajectory_without_predictions_is_refused_by_name():
    bare = TrajectoryRecord(params=ONE_STEP.params, grads=ONE_STEP.grads,
                            batch_loss=ONE_STEP.batch_loss, train_loss=ONE_STEP.train_loss)
    with pytest.raises(ValueError, match="^single-update: the trajectory recorded no predictions$"):
        block_lines("single-update", [(REGISTRY["single-update"], bare)])


def test_every_block_is_a_lesson_block_with_registry_experiments():
    assert list(LESSON_BLOCKS) == list(lesson_blocks())  # the lesson's order
    for block in LESSON_BLOCKS:
        assert block_experiments(block), block
    with pytest.raises(ValueError, match="^unknown lesson block 'epilogue'; expected one of "):
        block_experiments("epilogue")


@pytest.mark.parametrize(("blocks", "problem"), [
    ({"a": ["x=1"], "b": ["y=2"]}, None),
    ({"a": ["x=1"]}, "b: missing"),
    ({"a": ["x=1", "z=3"], "b": ["y=2"]}, "a line 2: expected None, got 'z=3'"),
    ({"a": [], "b": ["y=2"]}, "a line 1: expected 'x=1', got None"),
    ({"a": ["x=1"], "b": ["y=2"], "c": []}, "c: not a lesson block"),
])
def test_check_transcript_names_the_first_difference(blocks, problem):
    assert check_transcript(blocks, {"a": ["x=1"], "b": ["y=2"]}) == problem
