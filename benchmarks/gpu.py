"""Benchmarks (e), (f), (b) and (c) on one GPU in one go (under 8 minutes), as JSON.

Runs each size in its own process (``python benchmarks/gpu.py --size KEY``), with
JAX on its default device (the GPU, when the CUDA build of jaxlib is installed)
and the torch contenders on ``--torch-device`` (default ``cuda``); each size has a
time budget, and a size that overruns it is recorded as ``"timeout"``, so the whole
run stays under 8 minutes. The contenders, checks and tables are those of
``train.py`` (e), ``model_sweep.py`` (f) and ``sweep.py`` (b), (c), imported, not
copied: every contender is still checked against its NumPy float64 reference
(on the host) before its time is reported. At (f) the project's two rows, "every
core" (``devices=None``) and "one device", are the same call on a machine with one
GPU (JAX's default devices are the GPUs; ``ft.use_all_cores()`` only adds host CPU
devices, which the sweep does not use there).

Usage (on a GPU machine, after ``pip install -e ".[test]" "jax[cuda12]"`` and a CUDA torch):
  python benchmarks/gpu.py --json gpu.json            # (e), (f), (b), (c); about 5-7 minutes
  python benchmarks/gpu.py --quick --torch-device cpu # small sizes, on any machine (a smoke test)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

BUDGET_SECONDS = {"e": 120, "f": 150, "b": 80, "c": 90}
"""Wall-clock budget of each size's process (together 440 s, under the 8 minutes)."""

ORDER = ("e", "f", "b", "c")


def run_size(key: str, *, quick: bool, torch_device: str, out: Path) -> None:
    """One size in this process: the rows (and facts) as JSON in ``out``."""
    labels: dict[str, str] = {}
    facts: dict = {}
    if key == "e":
        import train

        size = train.SIZES["quick" if quick else "e"]
        rows = train.bench(size, repeats=1 if quick else 2, torch_device=torch_device,
                           every_step=True, with_cli=True, with_compile=True, log=_log)
        labels[size.key] = size.label
    elif key == "f":
        import model_sweep

        model_sweep.ft.use_all_cores()  # as model_sweep.py: on a GPU only the host's CPU devices
        size = model_sweep.SIZES["quick" if quick else "f"]
        rows, facts = model_sweep.bench(size, repeats=1 if quick else 3, eager_runs=4,
                                        torch_device=torch_device, with_compile=True, log=_log)
        peak = model_sweep.peak_flops(torch_device)
        facts["peak_gflops"] = peak
        facts["floor_seconds"] = facts["matmul_flop"] / (max(peak.values()) * 1e9)
        facts["project_vs_floor"] = rows[0].seconds / facts["floor_seconds"]
        labels[size.key] = size.label
    else:
        import sweep

        sweep.TORCH_DEVICE["name"] = torch_device
        size = sweep.SIZES[key]
        rows = sweep.bench_size(size, repeats=1 if quick else 3, with_compile=not quick,
                                log=_log)
        labels[size.key] = size.label
    out.write_text(json.dumps({"labels": labels, "facts": facts,
                               "rows": [row.__dict__ for row in rows]}, indent=1))


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(ORDER), choices=ORDER)
    parser.add_argument("--quick", action="store_true",
                        help="small (e) and (f), one repeat, no torch.compile at (b), (c)")
    parser.add_argument("--torch-device", default="cuda")
    parser.add_argument("--json", metavar="PATH", default="gpu-benchmarks.json")
    parser.add_argument("--size", choices=ORDER, help=argparse.SUPPRESS)  # one size (child)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.size:
        run_size(args.size, quick=args.quick, torch_device=args.torch_device,
                 out=Path(args.out))
        return 0

    from sweep import Row, machine, render_markdown

    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="inductor-"))
    info = machine()
    info["torch_device"] = args.torch_device
    with_gpu_name = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version",
                                    "--format=csv,noheader"], capture_output=True, text=True,
                                   check=False) if _has("nvidia-smi") else None
    if with_gpu_name is not None:
        info["gpu"] = with_gpu_name.stdout.strip()
    results: dict = {"machine": info, "quick": args.quick, "sizes": {}}
    start_all = time.perf_counter()
    ok = True
    for key in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"{key}.json"
            command = [sys.executable, str(Path(__file__).resolve()), "--size", key,
                       "--out", str(out), "--torch-device", args.torch_device]
            if args.quick:
                command.append("--quick")
            start = time.perf_counter()
            try:
                done = subprocess.run(command, timeout=BUDGET_SECONDS[key], check=False)
                status = "ok" if done.returncode == 0 and out.exists() else "failed"
            except subprocess.TimeoutExpired:
                status = "timeout"
            seconds = time.perf_counter() - start
            entry = {"status": status, "wall_seconds": seconds}
            if status == "ok":
                entry.update(json.loads(out.read_text()))
                rows = [Row(**row) for row in entry["rows"]]
                print(render_markdown(rows, entry["labels"]), flush=True)
                if entry.get("facts"):
                    print(entry["facts"], flush=True)
                ok &= all(row.check.startswith("ok") for row in rows)
            else:
                ok = False
                print(f"size ({key}): {status} after {seconds:.0f} s", flush=True)
            results["sizes"][key] = entry
    results["total_seconds"] = time.perf_counter() - start_all
    Path(args.json).write_text(json.dumps(results, indent=1))
    print(f"total {results['total_seconds']:.0f} s; wrote {args.json}")
    return 0 if ok else 1


def _has(program: str) -> bool:
    from shutil import which

    return which(program) is not None


if __name__ == "__main__":
    sys.exit(main())
