"""Benchmark: ``comparisons check`` of a large MLP's run, with its time and peak memory.

The run: a ``784-H-10`` MLP (ReLU, softmax cross-entropy; ``H = 500`` is 397,510
parameters, the size of PyTorch's feed-forward tutorial), plain SGD at rate 0.05 on
synthetic data (N examples of 784 standard-normal features, labels 0-9 drawn
uniformly; ``numpy.random.default_rng(0)``), batches of 100 in the spec's order
(``seed = 0``), the spec's seeded initial values. "Your" loop is written here in
NumPy float64 (forward, backward and update by hand), independent of the project's
JAX code: it records ``params`` (steps 0..S), ``grads``, ``batch_loss`` and
``batches`` (0..S-1) and ``train_loss`` (0..S) and writes them with
:func:`comparisons.trajectory_files.write_trajectory` as NPZ. The check then runs as
``python -m comparisons check`` would: :func:`comparisons.check` on the spec file and
the NPZ path, its reference chosen by size (``jax`` in float64 past
``comparisons.reference_choice.MANUAL_WORK_LIMIT``).

Each stage is timed; peak RSS is the process's (``resource.getrusage``), so a stage's
figure is the peak so far. The user's loop runs in the same process before the check
(its arrays are freed first).

Usage:
  python benchmarks/large_check.py                       # 784-500-10, 100 steps, 1,000 examples
  python benchmarks/large_check.py --hidden 25 --steps 20 --examples 200   # seconds
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import comparisons  # noqa: E402
from comparisons.spec import load_spec  # noqa: E402
from comparisons.trajectory import Trajectory  # noqa: E402
from comparisons.trajectory_files import read_trajectory, write_trajectory  # noqa: E402
from functional_training import minibatch_indices, model_kind  # noqa: E402

FEATURES, CLASSES, BATCH, RATE = 784, 10, 100, 0.05


def spec_text(hidden: int, steps: int) -> str:
    """The spec file of the run (data in ``train.npz`` beside it)."""
    return f"""\
name = "mlp-784-{hidden}-10"
description = "large-check benchmark: {FEATURES}-{hidden}-{CLASSES} MLP, SGD, batches of {BATCH}"
[data]
train = "train.npz"
target = "label"
[model]
kind = "mlp"
sizes = [{FEATURES}, {hidden}, {CLASSES}]
activation = "relu"
init = "seeded"
seed = 0
[loss]
kind = "softmax-cross-entropy"
[optimizer]
name = "sgd"
learning_rate = {RATE}
[run]
steps = {steps}
batch_size = {BATCH}
seed = 0
"""


def write_run(folder: Path, *, hidden: int, steps: int, examples: int) -> Path:
    """The data file and the spec; returns the spec's path."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(examples, FEATURES))
    y = rng.integers(0, CLASSES, size=examples).astype(np.float64)
    np.savez(folder / "train.npz", **{f"x{i}": x[:, i] for i in range(FEATURES)}, label=y)
    spec = folder / "spec.toml"
    spec.write_text(spec_text(hidden, steps), encoding="utf-8")
    return spec


def your_loop(experiment) -> Trajectory:
    """A NumPy float64 MLP loop, as a user writes one, recording the trajectory contract."""
    x = np.asarray([row[:-1] for row in experiment.train], dtype=np.float64)
    y = np.asarray([row[-1] for row in experiment.train], dtype=np.int64)
    shapes = model_kind("mlp").shapes(**experiment.model_config)
    names = experiment.parameter_names
    flat = np.asarray([experiment.init[name] for name in names], dtype=np.float64)
    sizes = [int(np.prod(shape)) for shape in shapes.values()]
    w1, b1, w2, b2 = (part.reshape(shape).copy() for part, shape in zip(
        np.split(flat, np.cumsum(sizes)[:-1]), shapes.values(), strict=True))
    order = minibatch_indices(len(x), batch_size=experiment.batch_size,
                              steps=experiment.steps, seed=experiment.seed)
    steps = experiment.steps
    params = np.empty((steps + 1, len(names)))
    grads = np.empty((steps, len(names)))
    batch_loss, train_loss = np.empty(steps), np.empty(steps + 1)

    def loss_and_grads(xb, yb):
        hidden = np.maximum(xb @ w1 + b1, 0.0)
        logits = hidden @ w2 + b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_p[np.arange(len(yb)), yb].mean()
        d_logits = np.exp(log_p)
        d_logits[np.arange(len(yb)), yb] -= 1.0
        d_logits /= len(yb)
        d_hidden = (d_logits @ w2.T) * (hidden > 0)
        return loss, (xb.T @ d_hidden, d_hidden.sum(axis=0), hidden.T @ d_logits,
                      d_logits.sum(axis=0))

    for k in range(steps + 1):
        params[k] = np.concatenate([w1.ravel(), b1, w2.ravel(), b2])
        train_loss[k] = loss_and_grads(x, y)[0]
        if k == steps:
            break
        batch_loss[k], g = loss_and_grads(x[order[k]], y[order[k]])
        grads[k] = np.concatenate([part.ravel() for part in g])
        for value, grad in zip((w1, b1, w2, b2), g, strict=True):
            value -= RATE * grad
    return Trajectory(params=dict(zip(names, params.T, strict=True)),
                      grads=dict(zip(names, grads.T, strict=True)),
                      batch_loss=batch_loss, train_loss=train_loss,
                      batches=np.asarray(order).tolist())


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--reference", default=None, help="default: chosen by size")
    args = parser.parse_args(argv)
    rows = []

    def timed(label, work):
        start = time.perf_counter()
        result = work()
        rows.append((label, time.perf_counter() - start, peak_mib()))
        print(f"{label:34s} {rows[-1][1]:8.2f} s   peak RSS {rows[-1][2]:8.0f} MiB", flush=True)
        return result

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        spec = write_run(folder, hidden=args.hidden, steps=args.steps, examples=args.examples)
        experiment = timed("spec parse", lambda: load_spec(spec))
        print(f"{len(experiment.parameter_names):,} parameters, {args.steps} steps, "
              f"{args.examples:,} examples", flush=True)
        path = folder / "yours.npz"
        timed("your NumPy loop + write .npz",
              lambda: write_trajectory(path, your_loop(experiment)))
        gc.collect()
        print(f"trajectory file: {path.stat().st_size / 2**20:.0f} MiB", flush=True)
        timed("read .npz (alone)", lambda: len(read_trajectory(path)))
        gc.collect()
        verdict = timed("check (read, reference, compare)",
                        lambda: comparisons.check(spec, path, reference=args.reference))
    print("\n".join(verdict.lines()))
    return 0 if verdict.agree else 1


if __name__ == "__main__":
    sys.exit(main())
