"""Benchmark: ``comparisons check`` of a large MLP's run, end to end, with a breakdown.

The run: a ``784-H-10`` MLP (ReLU, softmax cross-entropy; ``H = 500`` is 397,510
parameters, the size of PyTorch's feed-forward tutorial), plain SGD at rate 0.05 on
synthetic data (1,000 examples of 784 standard-normal features, labels 0-9 drawn
uniformly; ``numpy.random.default_rng(0)``), 100 steps of batches of 64 in the spec's
order (``seed = 0``), from the spec's seeded initial values. "Your" loop is written here
in NumPy float64 (forward, backward and update by hand), independent of the project's
JAX code, and records what a large run records: ``batch_loss`` and ``train_loss`` at
every step, every parameter every 10th step (``--params-every``); it writes them as NPZ
with :func:`comparisons.trajectory_files.write_trajectory`.

Each row is then checked twice, as a user runs it:

- ``cli``: ``python -m comparisons check --spec spec.toml --trajectory yours.npz`` in a
  fresh process: its wall time, start-up and imports included (the number the target of
  issue 22 is about: 30 s for 784-500-10);
- ``api``: :func:`comparisons.check` on the spec and the file in this process, and its
  breakdown: the same steps one by one (read the spec, read the NPZ, the reference run,
  ``jax`` in float64 chosen for the size, and the comparison with its coverage).

A ``mismatch`` row checks the largest run with one parameter moved at step 50 (by 1e-6):
the check names it (the diagnosis is not run at this size), in about the same time.
Peak RSS is this process's (``resource.getrusage``), the CLI's its own.

Usage:
  python benchmarks/large_check.py                  # 784-{25,125,500}-10 and the mismatch
  python benchmarks/large_check.py --hidden 25      # one small row, seconds
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import comparisons  # noqa: E402
import comparisons.backends  # noqa: E402
from comparisons.check import compare_partial, coverage_of  # noqa: E402
from comparisons.spec import load_spec  # noqa: E402
from comparisons.trajectory import Trajectory  # noqa: E402
from comparisons.trajectory_files import read_trajectory, write_trajectory  # noqa: E402
from functional_training import minibatch_indices, params_from_values  # noqa: E402

FEATURES, CLASSES, RATE = 784, 10, 0.05


def spec_text(hidden: int, steps: int, batch: int) -> str:
    """The spec file of the run (data in ``train.npz`` beside it)."""
    return f"""\
name = "mlp-784-{hidden}-10"
description = "large-check benchmark: {FEATURES}-{hidden}-{CLASSES} MLP, SGD, batches of {batch}"
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
batch_size = {batch}
seed = 0
"""


def write_run(folder: Path, *, hidden: int, steps: int, examples: int, batch: int) -> Path:
    """The data file and the spec; returns the spec's path."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(examples, FEATURES))
    y = rng.integers(0, CLASSES, size=examples).astype(np.float64)
    np.savez(folder / "train.npz", **{f"x{i}": x[:, i] for i in range(FEATURES)}, label=y)
    spec = folder / "spec.toml"
    spec.write_text(spec_text(hidden, steps, batch), encoding="utf-8")
    return spec


def your_loop(experiment, *, params_every: int, moved_at: int | None = None) -> Trajectory:
    """A NumPy float64 MLP loop, as a user writes one: losses every step, parameters every
    ``params_every`` steps (``moved_at``: one recorded weight moved by 1e-6 at that step)."""
    x = np.asarray([row[:-1] for row in experiment.train], dtype=np.float64)
    y = np.asarray([row[-1] for row in experiment.train], dtype=np.int64)
    names = experiment.parameter_names
    w1, b1, w2, b2 = (np.array(leaf, dtype=np.float64) for leaf in jax.tree.leaves(
        params_from_values("mlp", experiment.init, **experiment.model_config)))
    order = minibatch_indices(len(x), batch_size=experiment.batch_size,
                              steps=experiment.steps, seed=experiment.seed)
    steps = experiment.steps
    recorded = np.arange(0, steps + 1, params_every)
    params = np.empty((len(names), len(recorded)))  # one parameter a row
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
        if k % params_every == 0:
            params[:, k // params_every] = np.concatenate([w1.ravel(), b1, w2.ravel(), b2])
        train_loss[k] = loss_and_grads(x, y)[0]
        if k == steps:
            break
        batch_loss[k], g = loss_and_grads(x[order[k]], y[order[k]])
        for value, grad in zip((w1, b1, w2, b2), g, strict=True):
            value -= RATE * grad
    if moved_at is not None:
        params[7, moved_at // params_every] += 1e-6
    return Trajectory.from_blocks([("params", names, recorded, params),
                                   ("batch_loss", None, None, batch_loss),
                                   ("train_loss", None, None, train_loss)])


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cli_check(spec: Path, path: Path) -> tuple[float, int, str, float]:
    """``python -m comparisons check`` in a fresh process: (wall s, exit code, verdict line,
    its peak RSS in MiB)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "comparisons", "check", "--spec", str(spec), "--trajectory",
         str(path)], cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    verdict = next((line for line in done.stdout.splitlines()
                    if line.startswith(("agree:", "MISMATCH:"))), done.stderr.strip()[-200:])
    return wall, done.returncode, verdict, children


def api_breakdown(spec: Path, path: Path) -> dict[str, float]:
    """The check's steps one by one, as :func:`comparisons.check` takes them."""
    times: dict[str, float] = {}

    def timed(label, work):
        start = time.perf_counter()
        result = work()
        times[label] = time.perf_counter() - start
        return result

    experiment = timed("spec", lambda: load_spec(spec, from_trajectory=True))
    theirs = timed("read npz", lambda: read_trajectory(path))
    reference = timed("reference run", lambda: comparisons.backends.get_backend("jax").run(
        experiment, dtype="float64"))
    timed("compare + coverage", lambda: (
        compare_partial(experiment, reference, theirs, reference="jax"),
        coverage_of(theirs, reference, reference_finite=True)))  # as check() passes it
    return times


def api_check(spec: Path, path: Path) -> None:
    """``--api``: :func:`comparisons.check` on the files, then its breakdown (one line each)."""
    start = time.perf_counter()
    result = comparisons.check(spec, path)
    api = time.perf_counter() - start
    print(f"  api  {api:6.1f} s  exit {0 if result.agree else 1}  peak RSS {peak_mib():,.0f} MiB"
          f"  {result.describe().split(': ', 1)[1]}", flush=True)
    parts = api_breakdown(spec, path)
    print("  breakdown (again, compiled): " + ", ".join(
        f"{name} {seconds:.1f} s" for name, seconds in parts.items()), flush=True)


def row(folder: Path, *, hidden: int, steps: int, examples: int, batch: int,
        params_every: int, moved_at: int | None = None) -> None:
    """One row: the files, then the check in a fresh process from the CLI and from the API."""
    spec = write_run(folder, hidden=hidden, steps=steps, examples=examples, batch=batch)
    experiment = load_spec(spec)
    label = f"784-{hidden}-10" + ("" if moved_at is None else ", mismatch")
    start = time.perf_counter()
    path = write_trajectory(folder / "yours.npz",
                            your_loop(experiment, params_every=params_every, moved_at=moved_at))
    loop = time.perf_counter() - start
    parameters = len(experiment.parameter_names)
    print(f"\n{label}: {parameters:,} parameters, {steps} steps of {batch}, {examples:,} "
          f"examples; your loop + NPZ {loop:.1f} s, {path.stat().st_size / 2**20:.0f} MiB",
          flush=True)
    wall, code, verdict, cli_peak = cli_check(spec, path)
    print(f"  cli  {wall:6.1f} s  exit {code}  peak RSS {cli_peak:,.0f} MiB  {verdict}",
          flush=True)
    subprocess.run([sys.executable, __file__, "--api", str(spec), str(path)], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, action="append",
                        help="hidden units of one row (repeatable; default 25, 125, 500 and "
                        "the mismatch row at 500)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--params-every", type=int, default=10)
    parser.add_argument("--api", nargs=2, metavar=("SPEC", "NPZ"),
                        help="only check these files through the API, with the breakdown "
                        "(what each row runs in a fresh process)")
    args = parser.parse_args(argv)
    if args.api:
        api_check(*map(Path, args.api))
        return 0
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start",
          flush=True)
    sizes = args.hidden or [25, 125, 500]
    settings = {"steps": args.steps, "examples": args.examples, "batch": args.batch,
                "params_every": args.params_every}
    with tempfile.TemporaryDirectory() as name:
        for hidden in sizes:
            row(Path(name), hidden=hidden, **settings)
        if args.hidden is None:
            row(Path(name), hidden=500, moved_at=args.steps // 2, **settings)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
