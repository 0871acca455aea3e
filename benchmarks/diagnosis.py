"""Benchmark: ``check`` of a buggy copy of micrograd's moons demo, its diagnosis on manual vs jax.

The run: micrograd's demo as ``mlp/moons`` has it (a 2-16-16-1 ReLU MLP, 337
parameters, on 100 two-moons points, hinge loss plus ``1e-4 sum theta^2``, full-batch
SGD whose rate falls linearly from 1.0 to 0.1 over 100 steps). "Your" loop is
written here in NumPy float64 (forward, backward and update by hand, independent of
the project's JAX code) with one planted bug, and records ``params`` (steps 0..S),
``grads``, ``batch_loss`` and ``train_loss``, as a user's recorder does:

(g) ``wrong-rate``: the rate ``FACTOR`` (10) times the demo's; the spec is a TOML
    file written here (the demo's data inline), the trajectory a JSON file, and the
    check is :func:`comparisons.check` on the two paths, as ``python -m comparisons
    check --spec ... --trajectory ...`` runs it;
(h) ``l2-twice``: the penalty added to the loss twice; checked against the registry
    experiment ``mlp/moons`` by name.

Each row is timed end to end (the reference, the comparison and the diagnosis, in
one process, after a warm-up check of another trajectory so that imports are not
counted; JAX's compile caches are cleared before each, so each compiles as a fresh
process would), once with the fault variants on the ``jax`` path (the default for this
size: :func:`comparisons.faults.diagnosis.choose_variants`; its compile is
counted) and once on the ``manual`` path (each variant a pure-Python run: the
benchmark lifts :data:`~comparisons.faults.diagnosis.MANUAL_VARIANT_WORK` and
:data:`~comparisons.faults.diagnosis.MAX_VARIANT_WORK` so that ``check`` weighs
every fault there). "check alone" is the same check with ``diagnosis=False``.

Usage:
  python benchmarks/diagnosis.py               # both paths (the manual one: minutes)
  python benchmarks/diagnosis.py --jax-only    # the jax path alone (well under a minute)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import comparisons  # noqa: E402
import comparisons.faults.diagnosis as diagnosis  # noqa: E402
from comparisons.experiments import REGISTRY  # noqa: E402
from comparisons.faults import jax_variants  # noqa: E402
from comparisons.spec import load_spec  # noqa: E402
from functional_training import params_from_values  # noqa: E402

FACTOR = 10.0
"""The wrong rate's factor in row (g)."""


def spec_text() -> str:
    """micrograd's demo as a spec file (the data of ``mlp/moons`` inline)."""
    moons = REGISTRY["mlp/moons"]
    rows = ", ".join("[" + ", ".join(repr(float(v)) for v in row) + "]" for row in moons.train)
    return f"""\
name = "micrograd-moons-demo"
[data]
train = [{rows}]
[model]
kind = "mlp"
sizes = [2, 16, 16, 1]
activation = "relu"
init = "seeded"
seed = 0
[loss]
kind = "hinge"
l2 = 1e-4
[optimizer]
name = "sgd"
[schedule]
kind = "linear"
init_value = 1.0
end_value = 0.1
transition_steps = 100
[run]
steps = 100
"""


def your_loop(experiment, bug: str | None) -> dict:
    """micrograd's demo in NumPy float64 with ``bug`` planted; the trajectory as a dict."""
    x = np.asarray([row[:-1] for row in experiment.train], dtype=np.float64)
    t = np.asarray([row[-1] for row in experiment.train], dtype=np.float64)
    names = experiment.parameter_names
    leaves = [np.array(leaf, dtype=np.float64) for leaf in jax.tree.leaves(
        params_from_values("mlp", experiment.init, **experiment.model_config))]
    alpha = experiment.l2 * (2 if bug == "l2-twice" else 1)
    steps = experiment.steps
    params, grads = np.empty((steps + 1, len(names))), np.empty((steps, len(names)))
    batch_loss, train_loss = np.empty(steps), np.empty(steps + 1)

    def loss_and_grads():
        w1, b1, w2, b2, w3, b3 = leaves
        h1 = np.maximum(x @ w1 + b1, 0.0)
        h2 = np.maximum(h1 @ w2 + b2, 0.0)
        s = (h2 @ w3 + b3)[:, 0]
        margin = 1.0 - t * s
        loss = np.maximum(margin, 0.0).mean() + alpha * sum((p * p).sum() for p in leaves)
        ds = (np.where(margin > 0, -t, 0.0) / len(t))[:, None]
        dh2 = (ds @ w3.T) * (h2 > 0)
        dh1 = (dh2 @ w2.T) * (h1 > 0)
        data = [x.T @ dh1, dh1.sum(axis=0), h1.T @ dh2, dh2.sum(axis=0), h2.T @ ds,
                ds.sum(axis=0)]
        return loss, [g + 2 * alpha * p for g, p in zip(data, leaves, strict=True)]

    for k in range(steps + 1):
        params[k] = np.concatenate([p.ravel() for p in leaves])
        loss, g = loss_and_grads()
        train_loss[k] = loss
        if k == steps:
            break
        batch_loss[k], grads[k] = loss, np.concatenate([part.ravel() for part in g])
        rate = (1.0 - 0.9 * k / 100) * (FACTOR if bug == "wrong-rate" else 1.0)
        for value, grad in zip(leaves, g, strict=True):
            value -= rate * grad
    return {"params": dict(zip(names, params.T.tolist(), strict=True)),
            "grads": dict(zip(names, grads.T.tolist(), strict=True)),
            "batch_loss": batch_loss.tolist(), "train_loss": train_loss.tolist()}


def timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jax-only", action="store_true", help="skip the manual path")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        spec = folder / "micrograd-moons.toml"
        spec.write_text(spec_text(), encoding="utf-8")
        runs = {}
        for row, bug, target in (("g", "wrong-rate", spec), ("h", "l2-twice", "mlp/moons")):
            experiment = load_spec(spec) if target == spec else REGISTRY[target]
            path = folder / f"{bug}.json"
            path.write_text(json.dumps(your_loop(experiment, bug)), encoding="utf-8")
            runs[row] = (bug, target, path)
        comparisons.check("single-update", {"grads": {"w": [-4.0]}})  # warm-up: imports
        print(f"{'row':4s} {'bug':11s} {'variants':9s} {'check alone':>12s} {'with diagnosis':>15s}"
              "  diagnosis", flush=True)
        paths = ("jax",) if args.jax_only else ("jax", "manual")
        limits = diagnosis.MANUAL_VARIANT_WORK, diagnosis.MAX_VARIANT_WORK
        for row, (bug, target, path) in runs.items():
            alone, _ = timed(lambda t=target, p=path: comparisons.check(t, p, diagnosis=False))
            for variants in paths:
                if variants == "manual":
                    diagnosis.MANUAL_VARIANT_WORK = diagnosis.MAX_VARIANT_WORK = float("inf")
                jax.clear_caches()  # each row compiles, as in a fresh process
                jax_variants._compiled.cache_clear()
                total, verdict = timed(lambda t=target, p=path: comparisons.check(t, p))
                line = verdict.diagnosis_lines()[0] if verdict.diagnosis_lines() else "(agrees)"
                print(f"({row})  {bug:11s} {variants:9s} {alone:10.2f} s {total:13.2f} s  {line}",
                      flush=True)
            diagnosis.MANUAL_VARIANT_WORK, diagnosis.MAX_VARIANT_WORK = limits
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
