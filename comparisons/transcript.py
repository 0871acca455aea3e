"""The lesson's printed lines, regenerated from one backend's trajectories.

One function per lesson code block. Each reads only the experiment and the
trajectory a backend recorded for it (never recomputes the maths) and formats
the numbers exactly as the lesson's ``print`` calls do, so a backend's
transcript can be checked line for line against
:mod:`comparisons.lesson_outputs`.

Example:
  >>> from comparisons.experiments import REGISTRY
  >>> from functional_training import TrajectoryRecord
  >>> run = TrajectoryRecord(params={"a": [3.0, 3.0]}, grads={"a": [6.0]},
  ...                  batch_loss=[9.0], train_loss=[9.0, 9.0])
  >>> block_lines("shared-path", [(REGISTRY["shared-path"], run)])
  ['a*a=9.0', 'd(a*a)/da=6.0']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from comparisons.experiments import REGISTRY, Experiment
from functional_training import TrajectoryRecord

__all__ = [
    "LESSON_BLOCKS",
    "block_experiments",
    "block_lines",
    "check_transcript",
    "transcript",
]

Run = tuple[Experiment, TrajectoryRecord]


def _prediction(run: Run, k: int) -> float:
    experiment, trajectory = run
    if trajectory.predictions is None:
        raise ValueError(f"{experiment.name}: the trajectory recorded no predictions")
    return trajectory.predictions[k][0]


def single_update(runs: Sequence[Run]) -> list[str]:
    """One SGD step: prediction and loss before, gradients, prediction and loss after."""
    (run,) = runs
    t = run[1]
    return [
        f"before: prediction={_prediction(run, 0):.1f} loss={t.batch_loss[0]:.1f}",
        f"gradients: dL/dw={t.grads['w'][0]:.1f} dL/db={t.grads['b'][0]:.1f}",
        f"after: prediction={_prediction(run, 1):.1f} loss={t.train_loss[1]:.1f}",
    ]


def five_steps(runs: Sequence[Run]) -> list[str]:
    """Per step: the prediction and loss at ``params[k]``, then the updated ``w``, ``b``."""
    (run,) = runs
    t = run[1]
    return [
        f"step {k}: prediction={_prediction(run, k):.3f} loss={t.batch_loss[k]:.3f} "
        f"w={t.params['w'][k + 1]:.3f} b={t.params['b'][k + 1]:.3f}"
        for k in range(t.steps)
    ]


def learning_rates(runs: Sequence[Run]) -> list[str]:
    """One line per learning rate: the loss before each step."""
    return [
        f"lr={e.learning_rate:.2f}: " + ", ".join(f"{loss:.3f}" for loss in t.batch_loss)
        for e, t in runs
    ]


def gradient_check(runs: Sequence[Run]) -> list[str]:
    """Analytic vs centered finite-difference gradients, and the lesson's 1e-8 check."""
    (run,) = runs
    t = run[1]
    pairs = [(t.grads[p][0], t.extras[f"numeric.{p}"][0]) for p in ("w", "b")]
    passes = all(abs(analytic - numeric) < 1e-8 for analytic, numeric in pairs)
    return [
        f"dL/dw analytic={pairs[0][0]:.6f} numeric={pairs[0][1]:.6f}",
        f"dL/db analytic={pairs[1][0]:.6f} numeric={pairs[1][1]:.6f}",
        f"checks pass: {passes}",
    ]


def scalar_autograd(runs: Sequence[Run]) -> list[str]:
    """Forward (prediction, loss) and backward (dL/dw, dL/db) through the scalar graph."""
    (run,) = runs
    t = run[1]
    return [
        f"prediction={_prediction(run, 0):.1f} loss={t.batch_loss[0]:.1f}",
        f"dL/dw={t.grads['w'][0]:.1f} dL/db={t.grads['b'][0]:.1f}",
    ]


def shared_path(runs: Sequence[Run]) -> list[str]:
    """``a * a`` and its gradient: both paths add up."""
    (run,) = runs
    t = run[1]
    return [f"a*a={t.batch_loss[0]:.1f}", f"d(a*a)/da={t.grads['a'][0]:.1f}"]


def full_batch(runs: Sequence[Run]) -> list[str]:
    """Steps 0, 1 and the last: the loss before the step and the parameters after it."""
    (run,) = runs
    t = run[1]
    return [
        f"step {k:2d}: loss={t.batch_loss[k]:.4f} "
        f"w={t.params['w'][k + 1]:.3f} b={t.params['b'][k + 1]:.3f}"
        for k in (0, 1, t.steps - 1)
    ]


def train_validation(runs: Sequence[Run]) -> list[str]:
    """Per step: train and validation loss after the update, and the updated ``w``."""
    (run,) = runs
    t = run[1]
    if t.val_loss is None:
        raise ValueError(f"{run[0].name}: the trajectory recorded no validation loss")
    return [
        f"step {k}: train={t.train_loss[k + 1]:.3f} validation={t.val_loss[k + 1]:.3f} "
        f"w={t.params['w'][k + 1]:.3f}"
        for k in range(t.steps)
    ]


def pytorch_step(runs: Sequence[Run]) -> list[str]:
    """Loss before, gradients, loss after one optimizer step."""
    (run,) = runs
    t = run[1]
    return [
        f"before={t.batch_loss[0]:.3f}",
        f"weight gradient={t.grads['w'][0]:.3f} bias gradient={t.grads['b'][0]:.3f}",
        f"after={t.train_loss[1]:.3f}",
    ]


def gradient_accumulation(runs: Sequence[Run]) -> list[str]:
    """The gradient buffer after each backward pass: first, without zeroing, after zeroing."""
    (run,) = runs
    g = run[1].grads["w"]
    return [
        f"first backward: {g[0]:.1f}",
        f"without zeroing: {g[1]:.1f}",
        f"after zeroing again: {g[2]:.1f}",
    ]


LESSON_BLOCKS: dict[str, Callable[[Sequence[Run]], list[str]]] = {
    "single-update": single_update,
    "five-steps": five_steps,
    "learning-rates": learning_rates,
    "gradient-check": gradient_check,
    "scalar-autograd": scalar_autograd,
    "shared-path": shared_path,
    "full-batch": full_batch,
    "train-validation": train_validation,
    "pytorch-step": pytorch_step,
    "gradient-accumulation": gradient_accumulation,
}
"""Lesson block name -> its formatting function, in the lesson's order."""


def block_experiments(block: str) -> list[Experiment]:
    """The registry experiments a lesson block is printed from, in registry order.

    Example:
      >>> [e.name for e in block_experiments("learning-rates")]
      ['learning-rates/lr=0.01', 'learning-rates/lr=0.1', 'learning-rates/lr=0.5']
    """
    if block not in LESSON_BLOCKS:
        known = ", ".join(LESSON_BLOCKS)
        raise ValueError(f"unknown lesson block {block!r}; expected one of {known}")
    return [e for e in REGISTRY.values() if e.lesson_block == block]


def block_lines(block: str, runs: Sequence[Run]) -> list[str]:
    """The lines lesson block ``block`` prints, from ``(experiment, trajectory)`` pairs."""
    return LESSON_BLOCKS[block](runs)


def transcript(trajectories: Mapping[str, TrajectoryRecord]) -> dict[str, list[str]]:
    """Every lesson block's lines from one backend's trajectories (keyed by experiment name).

    Args:
      trajectories: experiment name -> trajectory; must hold every experiment of
        every lesson block (see :func:`block_experiments`).

    Returns:
      Block name -> lines, in the lesson's order.
    """
    blocks = {}
    for block in LESSON_BLOCKS:
        runs = []
        for experiment in block_experiments(block):
            if experiment.name not in trajectories:
                raise ValueError(f"lesson block {block}: no trajectory for {experiment.name}")
            runs.append((experiment, trajectories[experiment.name]))
        blocks[block] = block_lines(block, runs)
    return blocks


def check_transcript(
    blocks: Mapping[str, list[str]], expected: Mapping[str, list[str]]
) -> str | None:
    """``None`` when ``blocks`` equals ``expected`` line for line, else the first difference.

    Example:
      >>> check_transcript({"b": ["x=1.0"]}, {"b": ["x=1.0"]}) is None
      True
      >>> check_transcript({"b": ["x=1.1"]}, {"b": ["x=1.0"]})
      "b line 1: expected 'x=1.0', got 'x=1.1'"
    """
    for block, lines in expected.items():
        got = blocks.get(block)
        if got is None:
            return f"{block}: missing"
        for i in range(max(len(lines), len(got))):
            want = lines[i] if i < len(lines) else None
            have = got[i] if i < len(got) else None
            if want != have:
                return f"{block} line {i + 1}: expected {want!r}, got {have!r}"
    extra = [block for block in blocks if block not in expected]
    return f"{extra[0]}: not a lesson block" if extra else None
