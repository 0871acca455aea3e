"""Benchmark (e): one epoch of mini-batch SGD on 10^6 examples, batch 32, the linear model.

Size (e): ``functional_training.synthetic_shipments(1_000_000, seed=0)`` (the data
``--data synthetic:1000000`` names), ``prediction = w * x + b`` from ``w = b = 0``,
plain SGD with rate 0.01 on the mean half squared error of each batch, batches of
32 in the order ``functional_training.minibatch_indices(N, batch_size=32,
steps=31_250, seed=0)`` (one epoch; the CLI's default ``--seed 0`` makes the same
order), float32. Every contender ends with the full training loss over all N
examples at the final parameters.

Contenders:
  project ft.train     functional_training.train(LinearParams(0, 0), x, y, optimizer=0.01,
                       steps=31_250, batch_indices=order), default eval_every (it records
                       the full training loss at the steps it names, plus the last); also
                       eval_every=1 (the full loss at every step, as before eval_every)
  project CLI          python -m functional_training train --data synthetic:1000000
                       --optimizer sgd --batch-size 32 --epochs 1 --learning-rate 0.01
                       --dtype float32 --json PATH, in a subprocess: wall time including
                       Python start-up, imports, making the data and writing the JSON
  jax lax.scan         a plain jax.jit of a lax.scan over the (31,250, 32) batch order, the
                       batch gathered inside the scan (x[idx]), jax.grad, no records
  torch eager          the loop a user writes: nn.Linear(1, 1), 0.5 * MSELoss, optim.SGD,
                       zero_grad/backward/step per batch, .item() only at the end
  torch.compile        the same step (forward, backward, optimizer step) under torch.compile

Each contender's final w, b and final training loss (and the project's recorded
training losses) are checked against an independent NumPy float64 loop over the
same batches, relative to max(1, |reference|) (the losses relative to the initial
loss), with ``functional_training.tolerance("float32", 31_250)``; the check column
gives the worst error in units of that tolerance. Times: median of repeats of the
whole call from host NumPy data (the float64 data and the int32 batch order: each
contender converts and moves them itself); compile separate (first call - steady call).

Usage:
  python benchmarks/train.py                  # the table (about 2-3 minutes on 2 cores)
  python benchmarks/train.py --quick          # 10^5 examples, one epoch (seconds)
  python benchmarks/train.py --json out.json --torch-device cuda
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sweep import Row, finish, machine, render_markdown  # noqa: E402

import functional_training as ft  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class TrainSize:
    key: str
    n: int
    batch_size: int = 32
    epochs: int = 1
    rate: float = 0.01

    @property
    def steps(self) -> int:
        return (self.n // self.batch_size) * self.epochs

    @property
    def label(self) -> str:
        return (f"({self.key}) N={self.n:,}, batch {self.batch_size}, {self.epochs} epoch, "
                f"S={self.steps:,}")


SIZES = {"e": TrainSize("e", 1_000_000), "quick": TrainSize("quick", 100_000)}


@dataclass
class Problem:
    size: TrainSize
    x: np.ndarray
    y: np.ndarray
    order: np.ndarray
    reference: dict = field(default_factory=dict)


def make_problem(size: TrainSize) -> Problem:
    data = ft.synthetic_shipments(size.n, seed=0)
    order = ft.minibatch_indices(size.n, batch_size=size.batch_size, steps=size.steps, seed=0)
    return Problem(size, data.x, data.y, order)


def reference(problem: Problem, record_steps=()) -> dict:
    """NumPy float64: final w, b, the final full loss and the full loss at ``record_steps``."""
    wanted = sorted(set(int(k) for k in record_steps) - set(problem.reference.get("at", {})))
    if "w" in problem.reference and not wanted:
        return problem.reference
    x, y, rate = problem.x, problem.y, problem.size.rate
    xb_all, yb_all = x[problem.order], y[problem.order]
    at = dict(problem.reference.get("at", {}))
    want = set(wanted)
    w = b = 0.0
    for k in range(problem.size.steps):
        if k in want:
            at[k] = float(np.mean(0.5 * (w * x + b - y) ** 2))
        xb, yb = xb_all[k], yb_all[k]
        err = w * xb + b - yb
        w, b = w - rate * float(np.mean(err * xb)), b - rate * float(np.mean(err))
    problem.reference.update(
        w=w, b=b, final_loss=float(np.mean(0.5 * (w * x + b - y) ** 2)),
        initial_loss=float(np.mean(0.5 * y**2)), at=at)
    return problem.reference


def check(problem: Problem, w, b, final_loss, recorded: dict | None = None) -> str:
    """Worst error in units of ``ft.tolerance("float32", S)``: 'ok' when <= 1."""
    ref = reference(problem, () if recorded is None else recorded.keys())
    tol = ft.tolerance("float32", problem.size.steps)
    errors = [abs(float(w) - ref["w"]) / max(1.0, abs(ref["w"])),
              abs(float(b) - ref["b"]) / max(1.0, abs(ref["b"])),
              abs(float(final_loss) - ref["final_loss"]) / ref["initial_loss"]]
    for k, loss in (recorded or {}).items():
        errors.append(abs(float(loss) - ref["at"][int(k)]) / ref["initial_loss"])
    worst = max(errors) / tol if np.all(np.isfinite(errors)) else float("inf")
    return f"{'ok' if worst <= 1 else 'FAIL'} ({worst:.2g} tol)"


# ----------------------------------------------------------------- contenders
# Each returns (w, b, final loss, {step: recorded full loss} or None).


def has_eval_every() -> bool:
    return "eval_every" in inspect.signature(ft.train).parameters


def run_project(problem: Problem, eval_every: int | None = None):
    import jax.numpy as jnp

    kwargs = {} if eval_every is None else {"eval_every": eval_every}
    params = ft.LinearParams(jnp.float32(0.0), jnp.float32(0.0))
    traj = ft.train(params, problem.x, problem.y, optimizer=problem.size.rate,
                    steps=problem.size.steps, batch_indices=problem.order, **kwargs)
    train_loss = np.asarray(traj.train_loss)
    steps = getattr(traj, "record_steps", None)
    steps = np.arange(problem.size.steps) if steps is None else np.asarray(steps)
    recorded = dict(zip(steps.tolist(), train_loss[:-1].tolist(), strict=True))
    run_project.last_records = len(steps)
    return float(traj.params.w[-1]), float(traj.params.b[-1]), float(train_loss[-1]), recorded


def run_cli(problem: Problem, env: dict | None = None):
    """The CLI in a subprocess; ``env`` adds to the environment (``JAX_NUM_CPU_DEVICES``)."""
    size = problem.size
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        command = [sys.executable, "-m", "functional_training", "train",
                   "--data", f"synthetic:{size.n}", "--optimizer", "sgd",
                   "--batch-size", str(size.batch_size), "--epochs", str(size.epochs),
                   "--learning-rate", repr(size.rate), "--dtype", "float32",
                   "--json", str(out)]
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT,
                       env={**os.environ, **(env or {})})
        traj = json.loads(out.read_text())["trajectory"]
    w, b = traj["params"]["w"][-1], traj["params"]["b"][-1]
    return w, b, traj["train_loss"][-1], None


def make_jax_scan(problem: Problem):
    import jax
    import jax.numpy as jnp

    rate = jnp.float32(problem.size.rate)

    @jax.jit
    def program(x, y, order):
        def batch_loss(p, idx):
            w, b = p
            return jnp.mean(0.5 * (w * x[idx] + b - y[idx]) ** 2)

        def step(p, idx):
            g = jax.grad(batch_loss)(p, idx)
            return (p[0] - rate * g[0], p[1] - rate * g[1]), None

        (w, b), _ = jax.lax.scan(step, (jnp.float32(0.0), jnp.float32(0.0)), order)
        return w, b, jnp.mean(0.5 * (w * x + b - y) ** 2)

    def inputs(problem):  # from host NumPy, as every contender starts
        return (jnp.asarray(problem.x, jnp.float32), jnp.asarray(problem.y, jnp.float32),
                jnp.asarray(problem.order))

    start = time.perf_counter()
    compiled = program.lower(*inputs(problem)).compile()
    compile_seconds = time.perf_counter() - start

    def run(problem):
        w, b, loss = jax.block_until_ready(compiled(*inputs(problem)))
        return float(w), float(b), float(loss), None

    return run, compile_seconds


def make_torch(problem: Problem, *, compiled: bool, device: str = "cpu"):
    import torch
    from torch import nn

    loss_fn = nn.MSELoss()

    def run(problem):  # from host NumPy, as every contender starts
        x = torch.from_numpy(problem.x.astype(np.float32))[:, None].to(device)
        y = torch.from_numpy(problem.y.astype(np.float32))[:, None].to(device)
        order = torch.from_numpy(problem.order.astype(np.int64)).to(device)
        model = nn.Linear(1, 1).to(device)
        with torch.no_grad():
            model.weight.zero_()
            model.bias.zero_()
        optimizer = torch.optim.SGD(model.parameters(), lr=problem.size.rate)

        def step(idx):
            optimizer.zero_grad()
            loss = 0.5 * loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            return loss

        step_fn = torch.compile(step) if compiled else step
        for k in range(problem.size.steps):
            step_fn(order[k])
        with torch.no_grad():
            final = 0.5 * loss_fn(model(x), y)
        return model.weight.item(), model.bias.item(), final.item(), None

    return run


# ----------------------------------------------------------------- measuring


def timed(fn, problem: Problem, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(problem)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def bench(size: TrainSize, *, repeats: int = 3, torch_device: str = "cpu",
          every_step: bool = True, with_cli: bool = True, with_compile: bool = True,
          log=print) -> list[Row]:
    problem = make_problem(size)
    rows: list[Row] = []
    key = size.key
    reference(problem)

    # project, default eval_every: the ratio's denominator
    start = time.perf_counter()
    run_project(problem)
    first = time.perf_counter() - start
    seconds, out = timed(run_project, problem, repeats)
    if has_eval_every():
        from functional_training import default_eval_every

        note = (f"default eval_every = {default_eval_every(size.n, size.steps)}: "
                f"{run_project.last_records} records + final")
    else:
        note = "ft.train has no eval_every yet: records every step"
    rows.append(Row(key, "project ft.train", "float32", seconds, max(0.0, first - seconds),
                    check(problem, *out[:3], out[3]), note))
    log(f"{key}: project {seconds:.3f} s ({note})")

    if has_eval_every():
        def final_only(p):
            return run_project(p, eval_every=size.steps)

        start = time.perf_counter()
        final_only(problem)
        first = time.perf_counter() - start
        seconds, out = timed(final_only, problem, repeats)
        rows.append(Row(key, "project ft.train, eval_every=S", "float32", seconds,
                        max(0.0, first - seconds), check(problem, *out[:3], out[3]),
                        "records steps 0 and S-1 + final"))
        log(f"{key}: project eval_every=S {seconds:.3f} s")
        if every_step:
            def each(p):
                return run_project(p, eval_every=1)

            start = time.perf_counter()
            each(problem)
            first = time.perf_counter() - start
            seconds, out = timed(each, problem, 1)
            rows.append(Row(key, "project ft.train, eval_every=1", "float32", seconds,
                            max(0.0, first - seconds), check(problem, *out[:3]),
                            "full O(N) loss at every step; 1 run"))
            log(f"{key}: project eval_every=1 {seconds:.3f} s")

    if with_cli:  # as shipped (one JAX CPU device per core) and on one, called in turn
        one_device = {"JAX_NUM_CPU_DEVICES": "1"}
        times: dict[bool, list[float]] = {False: [], True: []}
        outs = {}
        for _ in range(min(repeats, 2)):
            for pinned in (False, True):
                start = time.perf_counter()
                outs[pinned] = run_cli(problem, one_device if pinned else None)
                times[pinned].append(time.perf_counter() - start)
        for pinned, label, note in (
                (False, "project CLI (subprocess)", "wall time incl. start-up, imports, data, "
                                                    "JSON; one JAX CPU device per core"),
                (True, "project CLI, one CPU device", "the same with JAX_NUM_CPU_DEVICES=1")):
            rows.append(Row(key, label, "float32", statistics.median(times[pinned]), None,
                            check(problem, *outs[pinned][:3]), note))
            log(f"{key}: {label} {rows[-1].seconds:.2f} s")

    run, compile_seconds = make_jax_scan(problem)
    run(problem)
    seconds, out = timed(run, problem, repeats)
    rows.append(Row(key, "jax lax.scan (plain)", "float32", seconds, compile_seconds,
                    check(problem, *out[:3]), "no records"))
    log(f"{key}: jax scan {seconds:.3f} s")

    eager = make_torch(problem, compiled=False, device=torch_device)
    seconds, out = timed(eager, problem, min(repeats, 2))
    rows.append(Row(key, "torch eager loop", "float32", seconds, None,
                    check(problem, *out[:3]), "nn.Linear, MSELoss, optim.SGD"))
    log(f"{key}: torch eager {seconds:.2f} s")

    if with_compile:
        import torch

        torch._dynamo.reset()
        compiled = make_torch(problem, compiled=True, device=torch_device)
        start = time.perf_counter()
        compiled(problem)
        first = time.perf_counter() - start
        seconds, out = timed(compiled, problem, min(repeats, 2))
        rows.append(Row(key, "torch.compile of the step", "float32", seconds,
                        max(0.0, first - seconds), check(problem, *out[:3]),
                        "compile = first call - steady call"))
        log(f"{key}: torch.compile {seconds:.2f} s")

    baseline = rows[0].seconds
    for row in rows:
        row.ratio = row.seconds / baseline
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10^5 examples (a smoke test)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-every-step", action="store_true",
                        help="skip the project with eval_every=1 (about 25 s at (e))")
    parser.add_argument("--no-cli", action="store_true")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--torch-device", default="cpu")
    parser.add_argument("--cores", type=int, metavar="N",
                        help="give JAX N CPU devices first (ft.use_all_cores(N), as the command "
                             "line does with one per core); default: JAX's own, one")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    if args.cores is not None:
        ft.use_all_cores(args.cores)  # before anything JAX computes
    if args.torch_device == "cpu" and not os.environ.get("TORCHINDUCTOR_CACHE_DIR"):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")
    size = SIZES["quick" if args.quick else "e"]
    with contextlib.suppress(Exception):
        import torch

        torch.set_num_threads(torch.get_num_threads())
    rows = bench(size, repeats=args.repeats, torch_device=args.torch_device,
                 every_step=not args.no_every_step, with_cli=not args.no_cli,
                 with_compile=not args.no_compile,
                 log=lambda line: print(line, file=sys.stderr, flush=True))
    info = machine()
    info["torch_device"] = args.torch_device
    print(render_markdown(rows, {size.key: size.label}))
    print(", ".join(f"{k}: {v}" for k, v in info.items()))
    return finish(args.json, info, rows)


if __name__ == "__main__":
    sys.exit(main())
