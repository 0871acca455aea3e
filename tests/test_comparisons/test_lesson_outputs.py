"""comparisons/lesson_outputs.py: the lesson's printed lines, typed once, and their blocks.

The numbers are checked against the lesson's closed forms (one shipment x = 2, y = 6 from
w = 1, b = 0: loss 0.5 (w x + b - y)^2; SGD at rate 0.1 halves the error each step).
"""

from __future__ import annotations

from lesson_fixture import numbers

from comparisons.lesson_outputs import LESSON_OUTPUTS, lesson_blocks


def test_blocks_are_read_in_order_without_blank_lines():
    assert lesson_blocks("## a\nx\n\ny\n## b\nz\n") == {"a": ["x", "y"], "b": ["z"]}
    assert lesson_blocks("before any block\n## a\n") == {"a": []}


def test_the_lesson_has_its_ten_blocks():
    assert list(lesson_blocks()) == [
        "single-update", "five-steps", "learning-rates", "gradient-check", "scalar-autograd",
        "shared-path", "full-batch", "train-validation", "pytorch-step", "gradient-accumulation"]
    assert lesson_blocks() == lesson_blocks(LESSON_OUTPUTS)


def test_the_five_steps_are_the_closed_form():
    # Each step at rate 0.1 with x = 2: w += 0.8 * (-e) ... the error e = p - 6 halves:
    # p_{k+1} - 6 = (p_k - 6) (1 - 0.1 (x^2 + 1)) = (p_k - 6) / 2.
    for k, line in enumerate(lesson_blocks()["five-steps"]):
        step, prediction, loss, w, b = numbers(line.replace("step ", "step: ", 1))
        error = -4.0 / 2**k
        assert step == k
        assert abs(prediction - (6.0 + error)) < 5e-4  # printed to 3 decimals
        assert abs(loss - 0.5 * error**2) < 5e-4
        assert abs(b - 0.1 * sum(4.0 / 2**j for j in range(k + 1))) < 5e-4
        assert abs(w - (1.0 + 2 * (b - 0.0))) < 5e-4  # w moves twice as far as b (x = 2)
