"""Benchmark (f): a sweep of a 2-16-16-1 tanh network, 64 rates x 8 seeds, every contender.

Size (f): 1,000 two-moons points (``functional_training.two_moons(1000, noise=0.1,
seed=0)``, labels -1/+1), full batch, the hinge loss ``mean(max(0, 1 - y s))``
with no L2 penalty (the issue names none), plain SGD, 64 log-spaced learning
rates (1e-3 to 1) x 8 initial seeds (0..7) = 512 runs, 500 steps, float32. Run
``(l, z)`` starts from ``functional_training.initial_values("mlp", init="seeded",
seed=z, ...)`` for every contender. Every contender records the same thing: the
full-batch training loss before each of the 500 steps and after the last (501
values per run; with full batches the loss of step ``k``'s batch is the training
loss at step ``k``), and returns the final parameters.

Contenders:
  project         functional_training.sweep(model, (x, y), learning_rates=..., seeds=...,
                  steps=500), record_every=1, in a process that called
                  ft.use_all_cores() (one JAX CPU device per core, as `python -m
                  functional_training sweep` has): "every core" is devices=None (the
                  runs split over the devices), "one device" devices=jax.devices()[:1]
  jax vmap        a plain jax.jit(jax.vmap(one run as a lax.scan)), the network and the
                  hinge loss written here in jax.numpy, jax.value_and_grad, on the
                  default device (one)
  torch.compile   all 512 runs batched (torch.bmm), the loss function under torch.compile
                  (forward and backward compiled by inductor), the SGD update in place,
                  one Python call per step
  torch eager     the loop a user writes: per run nn.Sequential(Linear, Tanh, Linear, Tanh,
                  Linear), optim.SGD, zero_grad/backward/step, loss.item() per step;
                  a few runs are timed and extrapolated to 512 (labelled so)

Each contender is checked, on 4 runs (rate, seed) = (first, 0), (two middle), (last, 7),
against an independent NumPy float64 forward and backward pass written below
(losses relative to the initial loss, final parameters relative to max(1, |p|)), with
``functional_training.tolerance("float32", 500)``; the check column is the worst
error in units of that tolerance. Times: median of repeats of the whole call (the
inputs already in host memory), the contenders called in turn in each round so that
the machine's load falls on all alike; compile times are separate.

The FLOP floor: one step of one run on one example costs 1,760 multiply-add FLOPs in
the matrix products (forward 2*2*16 + 2*16*16 + 2*16 = 608; backward, the weight
gradients 608 again and the input gradients of layers 2 and 3 another 544), about
200 more in elementwise work (bias adds, tanh and its derivative, the hinge); so
(1,760 + 200) x 1,000 points x 512 runs x 500 steps = 5.0e11 FLOP, 4.5e11 of them in
matrix products. The floor is 4.5e11 / (this machine's float32 matmul peak,
measured here with a 2,048^2 matmul in JAX and torch).

Usage:
  python benchmarks/model_sweep.py                 # the table (about 5 minutes on 2 cores)
  python benchmarks/model_sweep.py --cores 1       # the same with JAX on one CPU device
  python benchmarks/model_sweep.py --profile       # per-step costs of the variants tried
  python benchmarks/model_sweep.py --quick         # 8 rates x 2 seeds x 50 steps (seconds)
  python benchmarks/model_sweep.py --json out.json --torch-device cuda   # on a GPU
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
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

SIZES_OF_NET = (2, 16, 16, 1)


@dataclass(frozen=True)
class SweepSize:
    key: str
    n: int
    rates: int
    seeds: int
    steps: int
    noise: float = 0.1

    @property
    def label(self) -> str:
        return (f"({self.key}) 2-16-16-1 tanh, hinge, N={self.n:,}, {self.rates} rates x "
                f"{self.seeds} seeds, S={self.steps}")

    @property
    def runs(self) -> int:
        return self.rates * self.seeds


SIZES = {
    "f": SweepSize("f", 1_000, 64, 8, 500),
    "quick": SweepSize("quick", 200, 8, 2, 50),
}


def matmul_flops_per_example_step() -> int:
    """Multiply-add FLOPs of the matrix products of one example's forward and backward."""
    pairs = list(zip(SIZES_OF_NET[:-1], SIZES_OF_NET[1:], strict=True))
    forward = sum(2 * a * b for a, b in pairs)
    weight_grads = forward
    input_grads = sum(2 * a * b for a, b in pairs[1:])  # no gradient into x
    return forward + weight_grads + input_grads


@dataclass
class Problem:
    size: SweepSize
    x: np.ndarray
    y: np.ndarray
    rates: np.ndarray
    seeds: np.ndarray
    init: list  # per seed: [w0, b0, w1, b1, w2, b2] float64 NumPy, w as (fan_in, fan_out)
    references: dict = field(default_factory=dict)

    @property
    def check_runs(self) -> list[tuple[int, int]]:
        """(rate index, seed index) of the runs every contender is checked on."""
        r, z = self.rates.size, self.seeds.size
        picks = [(0, 0), (r // 3, z // 3), ((2 * r) // 3, (2 * z) // 3), (r - 1, z - 1)]
        return sorted(set(picks))


def make_problem(size: SweepSize) -> Problem:
    x, y = ft.two_moons(size.n, noise=size.noise, seed=0)
    rates = np.geomspace(1e-3, 1.0, size.rates)
    seeds = np.arange(size.seeds)
    config = {"sizes": list(SIZES_OF_NET), "activation": "tanh"}
    init = []
    for seed in seeds:
        params = ft.params_from_values(
            "mlp", ft.initial_values("mlp", init="seeded", seed=int(seed), **config), **config)
        init.append([np.asarray(a, np.float64) for layer in params.layers for a in layer])
    return Problem(size, x, y, rates, seeds, init)


def model(size: SweepSize):
    return ft.objective("mlp", loss="hinge", sizes=list(SIZES_OF_NET), activation="tanh")


# ----------------------------------------------------------------- the reference


def reference(problem: Problem, rate_index: int, seed_index: int):
    """NumPy float64: (losses (S+1,), final [w0, b0, w1, b1, w2, b2]) of one run. Cached."""
    key = (rate_index, seed_index)
    if key not in problem.references:
        problem.references[key] = _reference(problem, float(problem.rates[rate_index]),
                                             problem.init[seed_index])
    return problem.references[key]


def numpy_loss_and_grads(params, x, y):
    """Mean hinge loss max(0, 1 - y s) of s = tanh(tanh(x W0 + b0) W1 + b1) W2 + b2, and
    its gradient, by hand (dL/ds = -y / n where 1 - y s > 0, else 0)."""
    w0, b0, w1, b1, w2, b2 = params
    n = x.shape[0]
    a1 = np.tanh(x @ w0 + b0)
    a2 = np.tanh(a1 @ w1 + b1)
    s = (a2 @ w2 + b2)[:, 0]
    margin = 1.0 - y * s
    loss = np.mean(np.maximum(0.0, margin))
    ds = np.where(margin > 0, -y, 0.0)[:, None] / n  # (n, 1)
    g_w2, g_b2 = a2.T @ ds, ds.sum(0)
    dz2 = (ds @ w2.T) * (1.0 - a2 * a2)
    g_w1, g_b1 = a1.T @ dz2, dz2.sum(0)
    dz1 = (dz2 @ w1.T) * (1.0 - a1 * a1)
    g_w0, g_b0 = x.T @ dz1, dz1.sum(0)
    return loss, [g_w0, g_b0, g_w1, g_b1, g_w2, g_b2]


def _reference(problem: Problem, rate: float, init):
    params = [p.copy() for p in init]
    losses = []
    for _ in range(problem.size.steps):
        loss, grads = numpy_loss_and_grads(params, problem.x, problem.y)
        losses.append(loss)
        params = [p - rate * g for p, g in zip(params, grads, strict=True)]
    losses.append(numpy_loss_and_grads(params, problem.x, problem.y)[0])
    return np.array(losses), params


def check(problem: Problem, losses, params, dtype: str = "float32",
          runs: list[tuple[int, int]] | None = None) -> str:
    """Worst error over the checked runs in units of the tolerance; 'ok' when <= 1.

    ``losses``: ``(L, Z, S+1)``; ``params``: ``[w0, b0, w1, b1, w2, b2]`` with leading
    ``(L, Z)`` axes (or a dict ``{(l, z): (losses, params)}`` via ``runs``)."""
    tol = ft.tolerance(dtype, problem.size.steps)
    worst = 0.0
    for li, zi in runs or problem.check_runs:
        ref_losses, ref_params = reference(problem, li, zi)
        got_losses = np.asarray(losses[li][zi], np.float64)
        err = np.max(np.abs(got_losses - ref_losses)) / (tol * ref_losses[0])
        for got, ref in zip(params, ref_params, strict=True):
            got = np.asarray(got[li][zi], np.float64).reshape(ref.shape)
            err = max(err, float(np.max(np.abs(got - ref) / (tol * np.maximum(1.0, np.abs(ref))))))
        worst = max(worst, float(err) if np.isfinite(err) else float("inf"))
    return f"{'ok' if worst <= 1.0 else 'FAIL'} ({worst:.2g} tol)"


# ----------------------------------------------------------------- contenders


def run_project(problem: Problem, dtype: str = "float32", devices=None):
    """(seconds of the whole call, compile seconds, losses (L, Z, S+1), params list, devices).

    ``devices``: :func:`functional_training.sweep`'s (``None``: its default); the last
    item is how many devices the sweep split its runs over."""

    size = problem.size
    precision = ft.float64() if dtype == "float64" else contextlib.nullcontext()
    with precision:
        start = time.perf_counter()
        result = ft.sweep(model(size), (problem.x, problem.y), learning_rates=problem.rates,
                          seeds=problem.seeds.tolist(), steps=size.steps, record_every=1,
                          devices=devices)
        seconds = time.perf_counter() - start
    params = [a for layer in result.final_params.layers for a in layer]
    return seconds, result.compile_seconds, result.losses, params, len(result.devices)


def _stacked_init(problem: Problem, dtype) -> list[np.ndarray]:
    """Run (l, z) = row l * Z + z: every leaf with a leading axis of L x Z runs."""
    leaves = []
    for index in range(6):
        per_seed = np.stack([problem.init[z][index] for z in range(problem.seeds.size)])
        leaves.append(np.tile(per_seed, (problem.rates.size,) + (1,) * (per_seed.ndim - 1))
                      .astype(dtype))
    return leaves


def make_jax_vmap(problem: Problem):
    """A plain jitted jax.vmap of one run's lax.scan: returns run() -> (losses, params)."""
    import jax
    import jax.numpy as jnp

    steps = problem.size.steps
    x = jnp.asarray(problem.x, jnp.float32)
    y = jnp.asarray(problem.y, jnp.float32)

    def loss(p):
        w0, b0, w1, b1, w2, b2 = p
        a1 = jnp.tanh(x @ w0 + b0)
        a2 = jnp.tanh(a1 @ w1 + b1)
        s = (a2 @ w2 + b2)[:, 0]
        return jnp.mean(jnp.maximum(0.0, 1.0 - y * s))

    def one_run(p, rate):
        def step(p, _):
            value, grads = jax.value_and_grad(loss)(p)
            return [a - rate * g for a, g in zip(p, grads, strict=True)], value

        p, losses = jax.lax.scan(step, p, None, length=steps)
        return jnp.concatenate([losses, loss(p)[None]]), p

    program = jax.jit(jax.vmap(one_run))
    init = [jnp.asarray(a) for a in _stacked_init(problem, np.float32)]
    rates = jnp.asarray(np.repeat(problem.rates, problem.seeds.size), jnp.float32)
    start = time.perf_counter()
    compiled = program.lower(init, rates).compile()
    compile_seconds = time.perf_counter() - start

    def run():
        losses, params = jax.block_until_ready(compiled(init, rates))
        return _grid(problem, np.asarray(losses)), [_grid(problem, np.asarray(a)) for a in params]

    return run, compile_seconds


def _grid(problem: Problem, a: np.ndarray) -> np.ndarray:
    return a.reshape(problem.rates.size, problem.seeds.size, *a.shape[1:])


def _torch_loss(w0, b0, w1, b1, w2, b2, x, y):
    """Per-run mean hinge loss, all runs batched: x (N, 2) shared, weights (R, in, out)."""
    import torch

    a1 = torch.tanh(torch.matmul(x, w0) + b0[:, None, :])
    a2 = torch.tanh(torch.bmm(a1, w1) + b1[:, None, :])
    s = torch.bmm(a2, w2)[:, :, 0] + b2
    return torch.clamp(1.0 - y * s, min=0.0).mean(dim=1)


def make_torch_compile(problem: Problem, device: str = "cpu"):
    """All runs batched, the loss under torch.compile, in-place SGD: run() -> (losses, params)."""
    import torch

    x = torch.from_numpy(problem.x.astype(np.float32)).to(device)
    y = torch.from_numpy(problem.y.astype(np.float32)).to(device)
    rates = torch.from_numpy(np.repeat(problem.rates, problem.seeds.size).astype(np.float32))
    rates = rates.to(device)
    compiled = torch.compile(_torch_loss, dynamic=False)
    init = _stacked_init(problem, np.float32)

    def run():
        params = [torch.from_numpy(a.copy()).to(device).requires_grad_(True) for a in init]
        scales = [rates.reshape(-1, *([1] * (p.dim() - 1))) for p in params]
        losses = []
        for _ in range(problem.size.steps):
            per_run = compiled(*params, x, y)
            per_run.sum().backward()  # runs are independent: each gets its own gradient
            with torch.no_grad():
                for p, scale in zip(params, scales, strict=True):
                    p.sub_(scale * p.grad)
                    p.grad = None
            losses.append(per_run.detach())
        with torch.no_grad():
            losses.append(compiled(*params, x, y))
        out = torch.stack(losses, dim=1).cpu().numpy()  # waits for the device
        return _grid(problem, out), [_grid(problem, p.detach().cpu().numpy()) for p in params]

    return run


def run_torch_eager(problem: Problem, runs: list[tuple[int, int]], device: str = "cpu"):
    """The per-run loop a user writes; returns {(l, z): (losses, params)} and seconds."""
    import torch
    from torch import nn

    x = torch.from_numpy(problem.x.astype(np.float32)).to(device)
    y = torch.from_numpy(problem.y.astype(np.float32)).to(device)
    out = {}
    start = time.perf_counter()
    for li, zi in runs:
        net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                            nn.Linear(16, 1)).to(device)
        linears = [net[0], net[2], net[4]]
        with torch.no_grad():
            init = problem.init[zi]
            for layer, (w, b) in zip(linears, zip(init[0::2], init[1::2], strict=True),
                                     strict=True):
                layer.weight.copy_(torch.from_numpy(w.T.astype(np.float32)))
                layer.bias.copy_(torch.from_numpy(b.astype(np.float32)))
        optimizer = torch.optim.SGD(net.parameters(), lr=float(problem.rates[li]))
        losses = []
        for _ in range(problem.size.steps):
            optimizer.zero_grad()
            loss = torch.clamp(1.0 - y * net(x)[:, 0], min=0.0).mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        with torch.no_grad():
            losses.append(torch.clamp(1.0 - y * net(x)[:, 0], min=0.0).mean().item())
        params = []
        for layer in linears:
            params += [layer.weight.detach().cpu().numpy().T, layer.bias.detach().cpu().numpy()]
        out[(li, zi)] = (np.array(losses), params)
    return out, time.perf_counter() - start


# ----------------------------------------------------------------- measuring


def peak_flops(device: str = "cpu") -> dict:
    """float32 matmul GFLOP/s of a 2,048^2 (CPU) / 8,192^2 (GPU) product, best of 10."""
    import jax
    import jax.numpy as jnp
    import torch

    n = 2048 if device == "cpu" else 8192
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    ja = jnp.asarray(a)
    matmul = jax.jit(lambda m: m @ m)
    jax.block_until_ready(matmul(ja))
    best = {}
    times = []
    for _ in range(10):
        start = time.perf_counter()
        jax.block_until_ready(matmul(ja))
        times.append(time.perf_counter() - start)
    best["jax"] = 2 * n**3 / min(times) / 1e9
    ta = torch.from_numpy(a).to(device)
    ta @ ta
    times = []
    for _ in range(10):
        start = time.perf_counter()
        (ta @ ta).sum().item()
        times.append(time.perf_counter() - start)
    best["torch"] = 2 * n**3 / min(times) / 1e9
    return best


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds each thread of this process has used ({} where /proc is missing)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    with contextlib.suppress(OSError):
        for thread in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/self/task/{thread}/stat").read_text().rsplit(")", 1)[1]
                utime, stime = fields.split()[11:13]
                used[thread] = (int(utime) + int(stime)) / ticks
    return used


def _timed_call(call, rounds: list[float], cpu: list[tuple[float, float]]) -> tuple:
    """Time one whole ``call()``: its wall seconds into ``rounds``, and into ``cpu`` the
    CPU seconds of the whole process and of its busiest thread during the call (both
    independent of other processes' load); return its output."""
    before = thread_cpu_seconds()
    start_cpu = time.process_time()
    start = time.perf_counter()
    out = call()
    rounds.append(time.perf_counter() - start)
    total = time.process_time() - start_cpu
    after = thread_cpu_seconds()
    busiest = max((after[t] - before.get(t, 0.0) for t in after), default=float("nan"))
    cpu.append((total, busiest))
    return out


def bench(size: SweepSize, *, repeats: int, eager_runs: int, torch_device: str,
          with_compile: bool = True, log=print) -> tuple[list[Row], dict]:
    """The (f) table: every contender compiled first, then ``repeats`` rounds, each round
    calling every contender once in turn (so the machine's load falls on all alike)."""
    import jax

    problem = make_problem(size)
    key = size.key
    project_compile: dict[str, float] = {}  # the sweep's own trace + compile, first call
    split: dict[str, int] = {}  # how many devices each project row's sweep used

    def project(name, devices):
        def call():
            _, compile_seconds, losses, params, used = run_project(problem, devices=devices)
            project_compile.setdefault(name, compile_seconds)
            split[name] = used
            return losses, params
        return name, call

    contenders = [project("project ft.sweep, every core", None),
                  project("project ft.sweep, one device", jax.devices()[:1])]
    compile_seconds: dict[str, float | None] = {}
    for name, call in contenders:  # the first call compiles
        start = time.perf_counter()
        call()
        compile_seconds[name] = time.perf_counter() - start
    run, compile_seconds["jax vmap(lax.scan)"] = make_jax_vmap(problem)
    run()
    contenders.append(("jax vmap(lax.scan)", run))
    if with_compile:
        import torch

        torch._dynamo.reset()
        run = make_torch_compile(problem, torch_device)
        start = time.perf_counter()
        run()
        compile_seconds["torch.compile (batched)"] = time.perf_counter() - start
        contenders.append(("torch.compile (batched)", run))
    log(f"{key}: compiled; {repeats} rounds of {len(contenders)} contenders")

    times: dict[str, list[float]] = {name: [] for name, _ in contenders}
    cpu: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in contenders}
    outputs: dict = {}
    for round_index in range(repeats):
        for name, call in contenders:
            outputs[name] = _timed_call(call, times[name], cpu[name])
        log(f"{key}: round {round_index + 1}: " + ", ".join(
            f"{name} {times[name][-1]:.2f} s" for name, _ in contenders))

    notes = {
        "project ft.sweep, every core": f"devices=None: runs split over "
                                        f"{split['project ft.sweep, every core']} of "
                                        f"{len(jax.devices())} devices, run groups on each",
        "project ft.sweep, one device": "devices=jax.devices()[:1], run groups",
        "jax vmap(lax.scan)": "plain jit(vmap(scan)), the default device",
        "torch.compile (batched)": "compile = first call - steady call",
    }
    if with_compile:
        import torch

        notes["torch.compile (batched)"] += f"; {torch.get_num_threads()} torch threads"
    rows: list[Row] = []
    for name, _ in contenders:
        seconds = statistics.median(times[name])
        compiled = compile_seconds[name]
        if name in project_compile:
            compiled = project_compile[name]
        elif name.startswith("torch"):
            compiled = max(0.0, compiled - seconds)
        total = statistics.median(c[0] for c in cpu[name])
        busiest = statistics.median(c[1] for c in cpu[name])
        rows.append(Row(key, name, "float32", seconds, compiled, check(problem, *outputs[name]),
                        f"{notes[name]}; CPU {total:.1f} s, busiest thread {busiest:.1f} s",
                        extra={"rounds": times[name], "cpu_seconds": total,
                               "busiest_thread_cpu_seconds": busiest}))

    # the eager loop: all runs when quick, else the checked runs (and a few more), extrapolated
    runs = problem.check_runs
    extra = [(li, zi) for li in range(problem.rates.size) for zi in range(problem.seeds.size)]
    for pair in extra:
        if len(runs) >= min(eager_runs, size.runs):
            break
        if pair not in runs:
            runs = [*runs, pair]
    results, seconds = run_torch_eager(problem, runs, torch_device)
    per_step = seconds / (len(runs) * size.steps)
    note = ""
    if len(runs) < size.runs:
        note = (f"**extrapolated** from {len(runs)} runs ({per_step * 1e3:.2f} ms per "
                "optimizer step)")
    check_text = check(problem, _nested(results, 0), _nested_params(results))
    rows.append(Row(key, "torch eager loop (per run)", "float32",
                    per_step * size.runs * size.steps, None, check_text, note,
                    extra={"ms_per_step": per_step * 1e3, "runs_timed": len(runs)}))
    log(f"{key}: torch eager {rows[-1].seconds:.1f} s {note}")

    baseline = rows[0].seconds
    for row in rows:
        row.ratio = row.seconds / baseline
    flops = matmul_flops_per_example_step() * size.n * size.runs * size.steps
    facts = {"matmul_flop": flops, "devices": len(jax.devices())}
    for row in rows:  # the contenders of the target: the plain vmap and torch.compile
        if row.contender in ("jax vmap(lax.scan)", "torch.compile (batched)"):
            facts[f"speedup vs {row.contender}"] = row.seconds / baseline
    return rows, facts


def _nested(results: dict, index: int) -> dict:
    """{(l, z): (losses, params)} as nested dicts indexable like losses[l][z]."""
    nested: dict = {}
    for (li, zi), value in results.items():
        nested.setdefault(li, {})[zi] = value[index]
    return nested


def _nested_params(results: dict) -> list:
    leaves = []
    for leaf in range(6):
        nested: dict = {}
        for (li, zi), (_, params) in results.items():
            nested.setdefault(li, {})[zi] = params[leaf]
        leaves.append(nested)
    return leaves


# ----------------------------------------------------------------- profile


_PROFILE_STEPS = 20


def profile(log=print) -> list[tuple[str, float]]:
    """ms per step (all 512 runs) of the formulations tried, each a jitted 20-step loop."""
    import jax
    import jax.numpy as jnp

    from functional_training import _sweep_program

    problem = make_problem(SIZES["f"])
    size = problem.size
    steps = _PROFILE_STEPS
    results = []

    def timed(name, fn, *args):
        compiled = jax.jit(fn).lower(*args).compile()
        jax.block_until_ready(compiled(*args))
        times = []
        for _ in range(3):
            start = time.perf_counter()
            jax.block_until_ready(compiled(*args))
            times.append(time.perf_counter() - start)
        per_step = min(times) / steps
        results.append((name, per_step * 1e3))
        log(f"  {name:58s} {per_step * 1e3:8.1f} ms/step  x{size.steps} = "
            f"{per_step * size.steps:6.1f} s")

    _profile_formulations(problem, jnp.float32, timed, steps, everything=True)
    jax.config.update("jax_enable_x64", True)
    _profile_formulations(problem, jnp.float64, timed, steps, everything=False)
    jax.config.update("jax_enable_x64", False)

    # the project's sweep as it runs now, at the same step count, with and without groups
    objective = model(size)
    saved = _sweep_program.RUN_GROUP_BYTES
    for label, group_bytes in (("project ft.sweep (run groups, as shipped)", saved),
                               ("project ft.sweep without run groups", 2**62)):
        _sweep_program.RUN_GROUP_BYTES = group_bytes
        call = [ft.sweep(objective, (problem.x, problem.y), learning_rates=problem.rates,
                         seeds=problem.seeds.tolist(), steps=steps) for _ in range(3)]
        per_step = min(r.run_seconds for r in call) / steps
        results.append((label, per_step * 1e3))
        log(f"  {label:58s} {per_step * 1e3:8.1f} ms/step  x{size.steps} = "
            f"{per_step * size.steps:6.1f} s")
    _sweep_program.RUN_GROUP_BYTES = saved
    return results


def _profile_formulations(problem: Problem, dtype, timed, steps: int, *, everything: bool):
    """The plain vmap in ``dtype``; with ``everything``, the other formulations too."""
    import jax
    import jax.numpy as jnp

    x = jnp.asarray(problem.x, dtype)
    y = jnp.asarray(problem.y, dtype)
    init = [jnp.asarray(a, dtype) for a in _stacked_init(problem, np.float64)]
    rates = jnp.asarray(np.repeat(problem.rates, problem.seeds.size), dtype)
    tag = "float32" if dtype == jnp.float32 else "float64"

    def loss(p, x=x, y=y):
        w0, b0, w1, b1, w2, b2 = p
        a1 = jnp.tanh(x @ w0 + b0)
        a2 = jnp.tanh(a1 @ w1 + b1)
        s = (a2 @ w2 + b2)[:, 0]
        return jnp.mean(jnp.maximum(0.0, 1.0 - y * s))

    def vmap_scan(p, rates, loss=loss):
        def one(p, rate):
            def body(p, _):
                value, grads = jax.value_and_grad(loss)(p)
                return [a - rate * g for a, g in zip(p, grads, strict=True)], value
            return jax.lax.scan(body, p, None, length=steps)
        return jax.vmap(one)(p, rates)

    timed(f"jit(vmap(scan(value_and_grad))), {tag}", vmap_scan, init, rates)
    if not everything:
        return

    def grouped(group, body=vmap_scan):
        def run(p, rates):
            split = [a.reshape(-1, group, *a.shape[1:]) for a in p]
            return jax.lax.map(lambda a: body(*a), (split, rates.reshape(-1, group)))
        return run

    for group in (1, 4, 16, 64):
        timed(f"the same in lax.map over groups of {group} runs", grouped(group),
              init, rates)

    def explicit(layout):
        """Hand-written forward/backward, runs batched in einsum; layout rn or nr."""
        def loss_grads(p):
            w0, b0, w1, b1, w2, b2 = p
            n = x.shape[0]
            if layout == "rn":
                a1 = jnp.tanh(jnp.einsum("ni,rij->rnj", x, w0) + b0[:, None])
                a2 = jnp.tanh(jnp.einsum("rni,rij->rnj", a1, w1) + b1[:, None])
                s = jnp.einsum("rni,ri->rn", a2, w2[:, :, 0]) + b2
                margin = 1.0 - y * s
                ds = jnp.where(margin > 0, -y, 0.0) / n
                dz2 = ds[:, :, None] * w2[:, None, :, 0] * (1 - a2 * a2)
                dz1 = jnp.einsum("rnj,rij->rni", dz2, w1) * (1 - a1 * a1)
                grads = [jnp.einsum("ni,rnj->rij", x, dz1), dz1.sum(1),
                         jnp.einsum("rni,rnj->rij", a1, dz2), dz2.sum(1),
                         jnp.einsum("rni,rn->ri", a2, ds)[:, :, None], ds.sum(1)[:, None]]
                return jnp.maximum(0.0, margin).mean(1), grads
            a1 = jnp.tanh(jnp.einsum("ni,rij->nrj", x, w0) + b0)
            a2 = jnp.tanh(jnp.einsum("nri,rij->nrj", a1, w1) + b1)
            s = jnp.einsum("nri,ri->nr", a2, w2[:, :, 0]) + b2[:, 0]
            margin = 1.0 - y[:, None] * s
            ds = jnp.where(margin > 0, -y[:, None], 0.0) / n
            dz2 = ds[:, :, None] * w2[None, :, :, 0] * (1 - a2 * a2)
            dz1 = jnp.einsum("nrj,rij->nri", dz2, w1) * (1 - a1 * a1)
            grads = [jnp.einsum("ni,nrj->rij", x, dz1), dz1.sum(0),
                     jnp.einsum("nri,nrj->rij", a1, dz2), dz2.sum(0),
                     jnp.einsum("nri,nr->ri", a2, ds)[:, :, None], ds.sum(0)[:, None]]
            return jnp.maximum(0.0, margin).mean(0), grads

        def run(p, rates):
            def body(p, _):
                value, grads = loss_grads(p)
                return [a - rates.reshape(-1, *([1] * (a.ndim - 1))) * g
                        for a, g in zip(p, grads, strict=True)], value
            return jax.lax.scan(body, p, None, length=steps)
        return run

    timed("hand-written backward, einsum, layout (run, example, unit)", explicit("rn"),
          init, rates)
    timed("hand-written backward, einsum, layout (example, run, unit)", explicit("nr"),
          init, rates)

    def broadcast(p, rates):
        """Layer 2 as a broadcast multiply and a sum over i, not a dot_general."""
        def per_run(p):
            w0, b0, w1, b1, w2, b2 = p
            a1 = jnp.tanh(x @ w0 + b0)
            a2 = jnp.tanh((a1[:, :, None] * w1[None]).sum(1) + b1)
            s = (a2 * w2[:, 0]).sum(1) + b2[0]
            return jnp.mean(jnp.maximum(0.0, 1.0 - y * s))

        def one(p, rate):
            def body(p, _):
                value, grads = jax.value_and_grad(per_run)(p)
                return [a - rate * g for a, g in zip(p, grads, strict=True)], value
            return jax.lax.scan(body, p, None, length=steps)
        return jax.vmap(one)(p, rates)

    timed("layer 2 as broadcast-multiply-sum (no dot)", broadcast, init, rates)

    # the batched 16x16 product alone, as XLA:CPU runs it
    a1 = jnp.tanh(jnp.einsum("ni,rij->rnj", x, init[0]))

    def products(a, w):
        def body(a, _):
            return jnp.tanh(jnp.einsum("rni,rij->rnj", a, w)), None
        return jax.lax.scan(body, a, None, length=steps)[0]

    timed("only the (512, 1000, 16) x (512, 16, 16) product + tanh", products, a1, init[2])


_PROFILE_ENV_SCRIPT = """
import sys, time, jax, jax.numpy as jnp, numpy as np
sys.path.insert(0, {root!r})
import functional_training as ft
x, y = ft.two_moons(1000, noise=0.1, seed=0)
net = ft.objective("mlp", loss="hinge", sizes=[2, 16, 16, 1], activation="tanh")
rates = np.geomspace(1e-3, 1.0, 64)
ft.sweep(net, (x, y), learning_rates=rates, seeds=list(range(8)), steps={steps})
best = min(ft.sweep(net, (x, y), learning_rates=rates, seeds=list(range(8)),
                    steps={steps}).run_seconds for _ in range(3))
print(best / {steps} * 1e3)
"""


def profile_environment(log=print) -> list[tuple[str, float]]:
    """The project's sweep under XLA flags / core pinning, each in a fresh process."""
    root = str(Path(__file__).resolve().parents[1])
    script = _PROFILE_ENV_SCRIPT.format(root=root, steps=_PROFILE_STEPS)
    variants = [
        ("project, default flags", {}, []),
        ("project, --xla_cpu_multi_thread_eigen=false", {"XLA_FLAGS":
                                                         "--xla_cpu_multi_thread_eigen=false"}, []),
        ("project, pinned to one core (taskset -c 0)", {}, ["taskset", "-c", "0"]),
        ("project, 2 host devices (runs split, groups on each)",
         {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}, []),
    ]
    results = []
    for name, env, prefix in variants:
        out = subprocess.run([*prefix, sys.executable, "-c", script], capture_output=True,
                             text=True, env={**os.environ, **env})
        if out.returncode != 0:
            log(f"  {name}: failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        per_step = float(out.stdout.strip().splitlines()[-1])
        results.append((name, per_step))
        log(f"  {name:58s} {per_step:8.1f} ms/step  x500 = {per_step * 0.5:6.1f} s")
    return results


# ----------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="8 rates x 2 seeds x 50 steps on 200 points (a smoke test)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--eager-runs", type=int, default=4,
                        help="runs of the eager torch loop timed (extrapolated to all)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--profile", action="store_true",
                        help="per-step costs of the formulations tried (about 3 minutes)")
    parser.add_argument("--torch-device", default="cpu")
    parser.add_argument("--steps", type=int, metavar="S",
                        help="size (f) with S steps instead of 500 (a shorter measurement)")
    parser.add_argument("--cores", type=int, metavar="N",
                        help="JAX CPU devices for the table (default: one per core, "
                             "ft.use_all_cores(), as the command line gives)")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)

    def log(line):
        print(line, file=sys.stderr, flush=True)

    if args.profile:
        log(f"profile: ms per step of all 512 runs, {_PROFILE_STEPS}-step jitted loops, best of 3")
        results = profile(log) + profile_environment(log)
        peak = peak_flops()
        log(f"float32 matmul peak: {peak}")
        if args.json:
            Path(args.json).write_text(json.dumps({"profile": results, "peak_gflops": peak,
                                                   "machine": machine()}, indent=1))
        return 0

    ft.use_all_cores(args.cores)  # before anything JAX computes
    if args.torch_device == "cpu" and not os.environ.get("TORCHINDUCTOR_CACHE_DIR"):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")
    size = SIZES["quick" if args.quick else "f"]
    if args.steps is not None:
        size = dataclasses.replace(size, steps=args.steps)
    rows, facts = bench(size, repeats=args.repeats, eager_runs=args.eager_runs,
                        torch_device=args.torch_device, with_compile=not args.no_compile,
                        log=log)
    peak = peak_flops(args.torch_device)
    facts["peak_gflops"] = peak
    best = max(peak.values()) * 1e9
    facts["floor_seconds"] = facts["matmul_flop"] / best
    facts["project_vs_floor"] = rows[0].seconds / facts["floor_seconds"]
    info = machine()
    info["torch_device"] = args.torch_device
    print(render_markdown(rows, {size.key: size.label}))
    print(f"\nmatrix-product FLOP {facts['matmul_flop']:.3g}; float32 matmul peak "
          f"{', '.join(f'{k} {v:.0f}' for k, v in peak.items())} GFLOP/s; floor "
          f"{facts['floor_seconds']:.2f} s; project = {facts['project_vs_floor']:.1f}x the floor")
    print("; ".join(f"project (every core) {name}: {value:.2f}x" for name, value in facts.items()
                    if name.startswith("speedup")) + " (target: at least 1.3x both)")
    print(", ".join(f"{k}: {v}" for k, v in info.items()))
    return finish(args.json, info, rows, facts=facts)


if __name__ == "__main__":
    sys.exit(main())
