"""Side by side: learning-rate sweeps by every contender, one process per size, one table.

Every contender trains the lesson's linear model ``prediction = w * x + b`` with
plain SGD on the mean half squared error, once per learning rate, from
``w = b = 0``, and records the full training loss at every step (size (d):
at its first and last step). Sizes:

  (a) N = 3 (the lesson's shipments), L = 3 rates, S = 20 steps
  (b) N = 3, L = 10,000 rates, S = 1,000 steps
  (c) N = 100,000 synthetic shipments, L = 64 rates, S = 200 steps
  (d) N = 1,000,000 synthetic shipments, mini-batches of 1,024 (NumPy batch order
      made once on the host, the same for everyone), S = 100 steps, one rate

Contenders:
  python          pure Python loops (sizes (a) and (d) only)
  numpy           NumPy float64, vectorised over rates
  torch-loop      the loop a user writes: nn.Linear, 0.5 * MSELoss, torch.optim.SGD,
                  zero_grad/backward/step, loss.item(), one rate at a time (float32);
                  where all rates would take minutes, a subset runs and the time per
                  optimizer step is extrapolated to L * S steps (labelled so)
  torch-vec       PyTorch eager, vectorised over rates: (L, N) residuals, the lesson's
                  gradient formulas, float32
  torch.compile   the torch-vec step under torch.compile (with --with-compile; its
                  first call compiles, reported separately)
  project f32/f64 functional_training.sweep_learning_rates, method "auto"
  project autodiff  the same forced onto the general jax.grad path (sizes (b), (c))

Each contender's losses and final parameters are checked against an independent
NumPy float64 loop on up to four of its rates, with the project's tolerance
policy (functional_training.tolerance(dtype, S); losses relative to the initial
loss). Times are medians over repeats of the whole call, data already in host
memory; compile times are separate. The ratio column is contender time divided
by the project's float32 sweep time (above 1: the project is faster).

Usage:
  python benchmarks/sweep.py                       # sizes a-d, about 3-5 minutes on 2 cores
  python benchmarks/sweep.py --sizes a b --repeats 7
  python benchmarks/sweep.py --with-compile        # adds torch.compile (about 20 s per size)
  python benchmarks/sweep.py --memory              # 100,000 rates x 10,000 steps: peak RSS
  python benchmarks/sweep.py --profile             # why the general path is slow at (c)
  python benchmarks/sweep.py --json results.json   # the table as JSON as well
  python benchmarks/sweep.py --in-process          # all sizes in one process (default: one
                                                   # fresh process per size)
  python benchmarks/sweep.py --with-compile --torch-device cuda   # on a GPU machine
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import functional_training as ft  # noqa: E402

# ----------------------------------------------------------------- sizes


@dataclass(frozen=True)
class Size:
    """One benchmark problem."""

    key: str
    n: int
    rates: int
    steps: int
    batch_size: int | None = None
    record_every: int = 1
    repeats_scale: float = 1.0  # fewer repeats for the slow sizes

    @property
    def label(self) -> str:
        batch = f", batch {self.batch_size:,}" if self.batch_size else ""
        return f"({self.key}) N={self.n:,} L={self.rates:,} S={self.steps:,}{batch}"


SIZES = {
    "a": Size("a", 3, 3, 20),
    "b": Size("b", 3, 10_000, 1_000),
    "c": Size("c", 100_000, 64, 200, repeats_scale=0.4),
    "d": Size("d", 1_000_000, 1, 100, batch_size=1_024, record_every=100),
}


@dataclass
class Problem:
    """A size made concrete: data, rates, batch order (NumPy, host)."""

    size: Size
    x: np.ndarray
    y: np.ndarray
    rates: np.ndarray
    batches: np.ndarray | None
    batch_order_seconds: float = 0.0
    references: dict = field(default_factory=dict)

    @property
    def check_indices(self) -> np.ndarray:
        """Up to four rates every contender is checked on: smallest, two middle, largest."""
        count = self.rates.size
        return np.unique(np.round(np.linspace(0, count - 1, min(4, count))).astype(int))


def make_problem(size: Size) -> Problem:
    if size.n == 3:
        x, y = np.array([1.0, 2.0, 3.0]), np.array([3.0, 5.0, 7.0])
    else:
        data = ft.synthetic_shipments(size.n, seed=0)
        x, y = data.x, data.y
    limit = ft.stability_limit(x, y)
    if size.rates == 3:
        rates = np.array([0.01, 0.08, 0.3])
    elif size.rates == 1:
        rates = np.array([0.02])
    else:  # log-spaced up to just below the full-batch stability limit
        rates = np.geomspace(1e-4, 0.97 * limit, size.rates)
    batches, seconds = None, 0.0
    if size.batch_size:
        start = time.perf_counter()
        batches = ft.minibatch_indices(size.n, batch_size=size.batch_size, steps=size.steps)
        seconds = time.perf_counter() - start
    return Problem(size, x, y, rates, batches, seconds)


# ----------------------------------------------------------------- the reference


def reference(problem: Problem, rate: float) -> tuple[np.ndarray, float, float]:
    """NumPy float64, one rate, plain loops over steps: (recorded losses, w, b). Cached."""
    if rate not in problem.references:
        problem.references[rate] = _reference(problem, rate)
    return problem.references[rate]


def _reference(problem: Problem, rate: float) -> tuple[np.ndarray, float, float]:
    x, y, size = problem.x, problem.y, problem.size
    w = b = 0.0
    losses = []
    for k in range(size.steps + 1):
        if k % size.record_every == 0:
            losses.append(np.mean(0.5 * (w * x + b - y) ** 2))
        if k == size.steps:
            break
        idx = slice(None) if problem.batches is None else problem.batches[k]
        err = w * x[idx] + b - y[idx]
        w, b = w - rate * np.mean(err * x[idx]), b - rate * np.mean(err)
    return np.array(losses), w, b


# ----------------------------------------------------------------- contenders
# Each takes the problem and rate indices, returns (losses (l, R+1), w (l,), b (l,)) as NumPy.


def run_python(problem: Problem, which: np.ndarray):
    x, y = problem.x.tolist(), problem.y.tolist()
    size, n = problem.size, len(x)
    batches = None if problem.batches is None else problem.batches.tolist()
    all_losses, ws, bs = [], [], []
    for rate in problem.rates[which].tolist():
        w = b = 0.0
        losses = []
        for k in range(size.steps + 1):
            if k % size.record_every == 0:
                pairs = zip(x, y, strict=True)
                losses.append(sum(0.5 * (w * xi + b - yi) ** 2 for xi, yi in pairs) / n)
            if k == size.steps:
                break
            idx = range(n) if batches is None else batches[k]
            grad_w = grad_b = 0.0
            for i in idx:
                err = w * x[i] + b - y[i]
                grad_w += err * x[i]
                grad_b += err
            w -= rate * grad_w / len(idx)
            b -= rate * grad_b / len(idx)
        all_losses.append(losses)
        ws.append(w)
        bs.append(b)
    return np.array(all_losses), np.array(ws), np.array(bs)


def run_numpy(problem: Problem, which: np.ndarray):
    x, y, size = problem.x, problem.y, problem.size
    lr = problem.rates[which][:, None]
    w = np.zeros((which.size, 1))
    b = np.zeros((which.size, 1))
    losses = []
    for k in range(size.steps + 1):
        if k % size.record_every == 0:
            err = w * x + b - y
            losses.append(0.5 * np.mean(err * err, axis=1))
        if k == size.steps:
            break
        if problem.batches is None:
            xb, yb = x, y
            if k % size.record_every != 0:
                err = w * x + b - y
        else:
            xb, yb = x[problem.batches[k]], y[problem.batches[k]]
            err = w * xb + b - yb
        w = w - lr * np.mean(err * xb, axis=1, keepdims=True)
        b = b - lr * np.mean(err, axis=1, keepdims=True)
    return np.stack(losses, axis=1), w[:, 0], b[:, 0]


TORCH_DEVICE = {"name": "cpu"}
"""Where the torch contenders run (``--torch-device``); set once by ``main``."""


def run_torch_loop(problem: Problem, which: np.ndarray):
    import torch
    from torch import nn

    size, device = problem.size, TORCH_DEVICE["name"]
    features = torch.from_numpy(problem.x.astype(np.float32))[:, None].to(device)
    targets = torch.from_numpy(problem.y.astype(np.float32))[:, None].to(device)
    loss_fn = nn.MSELoss(reduction="mean")
    all_losses, ws, bs = [], [], []
    for rate in problem.rates[which].tolist():
        model = nn.Linear(1, 1).to(device)
        with torch.no_grad():
            model.weight.fill_(0.0)
            model.bias.fill_(0.0)
        optimizer = torch.optim.SGD(model.parameters(), lr=rate)
        losses = []
        for k in range(size.steps + 1):
            if k % size.record_every == 0:
                with torch.no_grad():
                    losses.append((0.5 * loss_fn(model(features), targets)).item())
            if k == size.steps:
                break
            if problem.batches is None:
                xb, yb = features, targets
            else:
                idx = torch.from_numpy(problem.batches[k]).to(device)
                xb, yb = features[idx], targets[idx]
            optimizer.zero_grad()
            loss = 0.5 * loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
        all_losses.append(losses)
        ws.append(model.weight.item())
        bs.append(model.bias.item())
    return np.array(all_losses), np.array(ws), np.array(bs)


def warm_up_torch() -> None:
    """One tiny untimed step, so torch's one-off start-up cost lands on no contender."""
    import torch

    device = TORCH_DEVICE["name"]
    model = torch.nn.Linear(1, 1).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.zero_grad()
    model(torch.ones(2, 1, device=device)).sum().backward()
    optimizer.step()
    ones = torch.ones(3, device=device)
    _torch_step(ones[:2] * 0, ones[:2] * 0, ones[:2], ones, ones)[2].sum().item()


def _torch_step(w, b, lr, x, y):
    """One SGD step for all rates: (L, N) residuals, the lesson's gradient formulas."""
    err = w[:, None] * x + b[:, None] - y
    loss = 0.5 * (err * err).mean(dim=1)
    return w - lr * (err * x).mean(dim=1), b - lr * err.mean(dim=1), loss


def _torch_loss(w, b, x, y):
    err = w[:, None] * x + b[:, None] - y
    return 0.5 * (err * err).mean(dim=1)


def make_torch_vectorised(step: Callable):
    def run(problem: Problem, which: np.ndarray):
        import torch

        size, device = problem.size, TORCH_DEVICE["name"]
        x = torch.from_numpy(problem.x.astype(np.float32)).to(device)
        y = torch.from_numpy(problem.y.astype(np.float32)).to(device)
        lr = torch.from_numpy(problem.rates[which].astype(np.float32)).to(device)
        w = torch.zeros(which.size, device=device)
        b = torch.zeros(which.size, device=device)
        losses = []
        for k in range(size.steps):
            if problem.batches is None:
                w, b, loss = step(w, b, lr, x, y)
                if k % size.record_every == 0:
                    losses.append(loss)
            else:
                if k % size.record_every == 0:
                    losses.append(_torch_loss(w, b, x, y))
                idx = torch.from_numpy(problem.batches[k]).to(device)
                w, b, _ = step(w, b, lr, x[idx], y[idx])
        if size.steps % size.record_every == 0:
            losses.append(_torch_loss(w, b, x, y))
        losses = torch.stack(losses, dim=1)
        return tuple(t.double().cpu().numpy() for t in (losses, w, b))  # .cpu() waits

    return run


def make_project(dtype: str, method: str = "auto"):
    def run(problem: Problem, which: np.ndarray):
        precision = ft.float64() if dtype == "float64" else contextlib.nullcontext()
        with precision:
            result = ft.sweep_learning_rates(
                ft.LinearParams(0.0, 0.0), problem.x, problem.y, problem.rates[which],
                steps=problem.size.steps, batch_indices=problem.batches,
                record_every=problem.size.record_every, method=method,
            )
        run.last = result
        return result.losses, result.final_params.w, result.final_params.b

    run.last = None
    return run


# ----------------------------------------------------------------- measuring


@dataclass
class Row:
    size: str
    contender: str
    dtype: str
    seconds: float
    compile_seconds: float | None = None
    check: str = ""
    note: str = ""
    ratio: float | None = None
    extra: dict = field(default_factory=dict)


def check(problem: Problem, got, which: np.ndarray, dtype: str) -> str:
    """Max error over the checked rates, in units of the tolerance; 'ok' when <= 1."""
    losses, w, b = (np.asarray(a, np.float64) for a in got)
    tol = ft.tolerance(dtype, problem.size.steps)
    worst = 0.0
    checked = set(problem.check_indices.tolist())
    for row, index in enumerate(which):
        if index not in checked:
            continue
        ref_losses, ref_w, ref_b = reference(problem, float(problem.rates[index]))
        scale = ref_losses[0]
        err = max(
            np.max(np.abs(losses[row] - ref_losses)) / (tol * scale),
            abs(w[row] - ref_w) / (tol * max(1.0, abs(ref_w))),
            abs(b[row] - ref_b) / (tol * max(1.0, abs(ref_b))),
        )
        worst = max(worst, float(err) if np.isfinite(err) else math.inf)
    verdict = "ok" if worst <= 1.0 else "FAIL"
    return f"{verdict} ({worst:.2g} tol)"


def timed(fn: Callable, problem: Problem, which: np.ndarray, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(problem, which)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def bench_size(size: Size, *, repeats: int, with_compile: bool, log: Callable[[str], None]):
    problem = make_problem(size)
    all_rates = np.arange(problem.rates.size)
    reps = max(1, round(repeats * size.repeats_scale))
    rows: list[Row] = []

    # The project first: its float32 sweep is the ratio's denominator.
    for dtype in ("float32", "float64"):
        fn = make_project(dtype)
        fn(problem, all_rates)  # compiles
        compile_seconds = fn.last.compile_seconds
        seconds, out = timed(fn, problem, all_rates, reps)
        rows.append(Row(size.key, f"project {fn.last.method}", dtype, seconds, compile_seconds,
                        check(problem, out, all_rates, dtype)))
        log(f"{size.key}: project {dtype} {seconds:.4f} s")
    if size.key in ("b", "c"):
        fn = make_project("float32", "autodiff")
        fn(problem, all_rates)
        compile_seconds = fn.last.compile_seconds
        seconds, out = timed(fn, problem, all_rates, reps)
        rows.append(Row(size.key, "project autodiff", "float32", seconds, compile_seconds,
                        check(problem, out, all_rates, "float32"), "general jax.grad path"))
        log(f"{size.key}: project autodiff {seconds:.4f} s")

    if size.key in ("a", "d"):
        seconds, out = timed(run_python, problem, all_rates, reps)
        rows.append(Row(size.key, "python", "float64", seconds, None,
                        check(problem, out, all_rates, "float64")))
        log(f"{size.key}: python {seconds:.4f} s")

    seconds, out = timed(run_numpy, problem, all_rates, reps)
    rows.append(Row(size.key, "numpy", "float64", seconds, None,
                    check(problem, out, all_rates, "float64")))
    log(f"{size.key}: numpy {seconds:.4f} s")

    # The user's torch loop: all rates when that is quick, else a subset, extrapolated.
    warm_up_torch()
    subset = problem.check_indices if size.rates > 8 else all_rates
    seconds, out = timed(run_torch_loop, problem, subset, min(reps, 3))
    steps_run = subset.size * size.steps
    per_step = seconds / steps_run
    note = ""
    if subset.size < size.rates:
        seconds = per_step * size.rates * size.steps
        note = f"extrapolated from {subset.size} rates ({per_step * 1e6:.0f} us/step)"
    rows.append(Row(size.key, "torch-loop", "float32", seconds, None,
                    check(problem, out, subset, "float32"), note,
                    extra={"us_per_step": per_step * 1e6}))
    log(f"{size.key}: torch-loop {seconds:.4f} s {note}")

    torch_vec = make_torch_vectorised(_torch_step)
    seconds, out = timed(torch_vec, problem, all_rates, reps)
    rows.append(Row(size.key, "torch-vec", "float32", seconds, None,
                    check(problem, out, all_rates, "float32")))
    log(f"{size.key}: torch-vec {seconds:.4f} s")

    if with_compile:
        import torch

        torch._dynamo.reset()  # each size compiles afresh, not on top of the last size's guards
        compiled = make_torch_vectorised(torch.compile(_torch_step, dynamic=False))
        start = time.perf_counter()
        compiled(problem, all_rates)
        first = time.perf_counter() - start
        seconds, out = timed(compiled, problem, all_rates, reps)
        rows.append(Row(size.key, "torch.compile", "float32", seconds, max(0.0, first - seconds),
                        check(problem, out, all_rates, "float32"),
                        "compile = first call - steady call"))
        log(f"{size.key}: torch.compile {seconds:.4f} s")

    baseline = rows[0].seconds
    for row in rows:
        row.ratio = row.seconds / baseline
    if problem.batches is not None:
        rows[0].note = f"batch order: {problem.batch_order_seconds * 1e3:.0f} ms NumPy, once"
    return rows


# ----------------------------------------------------------------- reporting


def machine() -> dict:
    import jax
    import torch

    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jax_devices": [str(d) for d in jax.devices()],
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_device": TORCH_DEVICE["name"],
    }


def render(rows: list[Row], info: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Learning-rate sweeps: median wall time per whole sweep")
    for column in ("size", "contender", "dtype", "time", "compile", "vs project f32",
                   "check vs NumPy f64", "note"):
        table.add_column(column, justify="right" if column in ("time", "compile",
                                                                "vs project f32") else "left")
    for row in rows:
        table.add_row(
            SIZES[row.size].label if row is _first_of(rows, row.size) else "",
            row.contender, row.dtype, _seconds(row.seconds),
            "" if row.compile_seconds is None else _seconds(row.compile_seconds),
            f"{row.ratio:,.1f}x" if row.ratio is not None else "", row.check, row.note,
        )
    console = Console(width=200)
    console.print(table)
    console.print(", ".join(f"{k}: {v}" for k, v in info.items()))


def render_markdown(rows: list[Row], labels: dict[str, str]) -> str:
    """The rows as the markdown table of benchmarks/README.md (``labels``: size key -> label)."""
    lines = ["| size | contender | dtype | time | compile | vs project f32 | check vs NumPy f64 "
             "| note |", "|---|---|---|---:|---:|---:|---|---|"]
    for row in rows:
        first = row is _first_of(rows, row.size)
        ratio = "" if row.ratio is None else (f"{row.ratio:,.0f}x" if row.ratio >= 100
                                              else f"{row.ratio:,.1f}x")
        compile_text = "" if row.compile_seconds is None else _seconds(row.compile_seconds)
        lines.append(f"| {labels[row.size] if first else ''} | {row.contender} | {row.dtype} | "
                     f"{_seconds(row.seconds)} | {compile_text} | {ratio} | {row.check} | "
                     f"{row.note} |")
    return "\n".join(lines)


def _first_of(rows: list[Row], key: str) -> Row:
    return next(row for row in rows if row.size == key)


def _seconds(value: float) -> str:
    if value >= 1:
        return f"{value:,.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.0f} us"


# ----------------------------------------------------------------- memory and profile

_MEMORY_SCRIPT = """
import resource, sys, time, numpy as np
import functional_training as ft
method = sys.argv[1]
rates = np.geomspace(1e-4, 1.0, 100_000)
start = time.perf_counter()
result = ft.sweep_learning_rates(ft.LinearParams(1.0, 0.0), [2.0], [6.0], rates, steps=10_000,
                                 record_every=100, method=method)
seconds = time.perf_counter() - start
print(result.losses.shape, result.method, f"{seconds:.1f} s",
      f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
"""


def memory() -> None:
    """100,000 rates x 10,000 steps, record_every=100, each method in a fresh process."""
    for method in ("moments", "autodiff"):
        out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, method], capture_output=True,
                             text=True, check=True, cwd=Path(__file__).resolve().parents[1])
        print(f"memory ({method}): {out.stdout.strip()}")


def profile() -> None:
    """Per-step cost at size (c) of the general path and of what it is made of."""
    import jax
    import jax.numpy as jnp

    problem = make_problem(SIZES["c"])
    x = jnp.asarray(problem.x, jnp.float32)
    y = jnp.asarray(problem.y, jnp.float32)
    lr = jnp.asarray(problem.rates, jnp.float32)
    params = ft.LinearParams(jnp.zeros(64), jnp.zeros(64))
    steps = 50

    def loop(body):
        @jax.jit
        def run(p):
            return jax.lax.fori_loop(0, steps, lambda _, q: body(q), p)
        jax.block_until_ready(run(params))
        start = time.perf_counter()
        jax.block_until_ready(run(params))
        return (time.perf_counter() - start) / steps

    def sgd(p):
        _, g = jax.vmap(ft.loss_and_grad, in_axes=(0, None, None))(p, x, y)
        return jax.tree.map(lambda a, d: a - lr * d, p, g)

    def forward_only(p):
        loss = jax.vmap(ft.mean_loss, in_axes=(0, None, None))(p, x, y)
        return ft.LinearParams(p.w - 1e-30 * loss, p.b)

    def fused(p):  # one residual, the three reductions written out
        err = p.w[:, None] * x + p.b[:, None] - y
        gw, gb = jnp.mean(err * x, axis=1), jnp.mean(err, axis=1)
        return ft.LinearParams(p.w - lr * gw, p.b - lr * gb)

    def matmul(p):  # residuals and gradients as two (64 x 2) @ (2 x N) products
        design = jnp.stack([x, jnp.ones_like(x)])
        err = jnp.stack([p.w, p.b], axis=1) @ design - y
        grads = err @ design.T / x.shape[0]
        return ft.LinearParams(p.w - lr * grads[:, 0], p.b - lr * grads[:, 1])

    elements = 64 * x.shape[0]
    print(f"profile at size (c): L=64 rates x N={x.shape[0]:,} examples = {elements:,} "
          "residuals per step, float32")
    for name, body in (("jax.grad step (the sweep's body)", sgd),
                       ("forward loss only", forward_only),
                       ("hand-fused residual + 2 reductions", fused),
                       ("as matrix products", matmul)):
        per_step = loop(body)
        print(f"  {name:38s} {per_step * 1e3:7.2f} ms/step  "
              f"{per_step / elements * 1e9:5.2f} ns/residual  x200 steps = {per_step * 200:.2f} s")
    start = time.perf_counter()
    ft.moment_statistics(problem.x, problem.y)
    print(f"  moments of the data, once (NumPy f64)  {(time.perf_counter() - start) * 1e3:7.2f} "
          "ms, then O(L) per step")


# ----------------------------------------------------------------- main


def _size_in_child(key: str, argv: list[str]) -> list[Row]:
    """Run one size in a fresh Python process (same options) and return its rows."""
    drop = {"--sizes", "--json"}
    kept, skip = [], False
    for arg in argv:
        if arg in drop:
            skip = True
            continue
        if skip and not arg.startswith("--"):
            continue
        skip = False
        kept.append(arg)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        subprocess.run([sys.executable, str(Path(__file__).resolve()), *kept, "--sizes", key,
                        "--json", str(out)], check=False, stdout=subprocess.DEVNULL)
        if not out.exists():
            raise RuntimeError(f"size ({key}) failed in its process")
        return [Row(**row) for row in json.loads(out.read_text())["rows"]]



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--with-compile", action="store_true", help="add torch.compile")
    parser.add_argument("--warm-compile-cache", action="store_true",
                        help="let torch.compile reuse its on-disk cache (default: a fresh one)")
    parser.add_argument("--memory", action="store_true", help="the 100,000 x 10,000 memory run")
    parser.add_argument("--profile", action="store_true", help="per-step profile at size (c)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    parser.add_argument("--in-process", action="store_true",
                        help="run every size in this process (default: one process per size)")
    parser.add_argument("--torch-device", default="cpu",
                        help="device of the torch contenders, e.g. cuda (default cpu)")
    parser.add_argument("--torch-threads", type=int,
                        help="torch.set_num_threads for the torch contenders (default: torch's)")
    parser.add_argument("--cores", type=int, metavar="N",
                        help="give JAX N CPU devices first (ft.use_all_cores(N), as the command "
                             "line does with one per core); default: JAX's own, one")
    args = parser.parse_args(argv)
    TORCH_DEVICE["name"] = args.torch_device
    if args.cores is not None:
        ft.use_all_cores(args.cores)  # before anything JAX computes
    if args.with_compile and not args.warm_compile_cache:
        # A fresh on-disk inductor cache, so compile times are cold ones (set before torch
        # reads it; a cache left by an earlier run would make them look ~20x faster).
        cache = tempfile.mkdtemp(prefix="inductor-")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
        atexit.register(shutil.rmtree, cache, ignore_errors=True)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.memory:
        memory()
        return 0
    if args.profile:
        profile()
        return 0

    if args.torch_threads is not None:
        import torch

        torch.set_num_threads(args.torch_threads)
    rows: list[Row] = []
    if len(args.sizes) > 1 and not args.in_process:  # one process per size
        for key in args.sizes:
            rows += _size_in_child(key, argv if argv is not None else sys.argv[1:])
    else:
        for key in args.sizes:
            rows += bench_size(SIZES[key], repeats=args.repeats, with_compile=args.with_compile,
                               log=lambda line: print(line, file=sys.stderr, flush=True))
    info = machine()
    render(rows, info)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"peak RSS of this process: {usage.ru_maxrss / 1024:.0f} MiB")
    return finish(args.json, info, rows)


def finish(path: str | None, info: dict, rows: list, **extra) -> int:
    """Write ``{"machine": info, **extra, "rows": rows}`` to ``path`` (if given); exit status
    0 when every contender's check passed, else 1 (every benchmark script ends here)."""
    if path:
        Path(path).write_text(json.dumps(
            {"machine": info, **extra, "rows": [row.__dict__ for row in rows]}, indent=1))
    return 0 if all(row.check.startswith("ok") for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
