"""Side by side: the hand-written engine vs the published ``micrograd`` package.

Both engines build and back-propagate the same loss in one process, the mean
half-squared error of the lesson's linear model over N examples::

    L = sum(0.5 * (w * x + b - y) ** 2 for x, y in examples) / N

written once and run with each engine's ``Value``. Python's ``sum()`` makes a
chain N deep, so micrograd's recursive ``backward`` needs a raised recursion
limit: it runs in a thread with a large stack and a recursion limit raised
inside this script only (restored afterwards). The engine runs in the main
thread with the interpreter's default limit. Repeats alternate between the two
engines so that a busy machine slows both alike. The garbage collector runs as
it does in a normal program (it is a large share of both engines' build time);
it is collected before each repeat so one repeat's garbage does not land on the
next.

Prints the median forward, backward and total times over the repeats, and the
ratio micrograd / engine (above 1 means the engine is faster).

Usage:
    python benchmarks/engine_vs_micrograd.py
    python benchmarks/engine_vs_micrograd.py --examples 20000 --repeats 11

Needs ``pip install micrograd==0.1.0``; exits with status 2 when it is missing.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from comparisons.engine import Value as EngineValue  # noqa: E402

Examples = list[tuple[float, float]]


def make_examples(n: int, *, seed: int = 0) -> Examples:
    """n shipments (disruption x, delay y) around y = 2x + 1, fixed by the seed."""
    rng = random.Random(seed)
    examples = []
    for _ in range(n):
        x = rng.uniform(0.0, 3.0)
        examples.append((x, 2.0 * x + 1.0 + rng.gauss(0.0, 0.5)))
    return examples


def mean_half_squared_error(w, b, examples: Examples):
    """The loss both engines build: sum(0.5 * (w x + b - y) ** 2) / N."""
    return sum(0.5 * (w * x + b - y) ** 2 for x, y in examples) / len(examples)


def build_and_backprop(value_type: Callable, examples: Examples) -> tuple:
    """One timed run: (forward seconds, backward seconds, (loss, dL/dw, dL/db))."""
    gc.collect()  # the previous run's garbage is not this run's cost
    w, b = value_type(0.5), value_type(0.25)
    start = time.perf_counter()
    loss = mean_half_squared_error(w, b, examples)
    built = time.perf_counter()
    loss.backward()
    done = time.perf_counter()
    return built - start, done - built, (loss.data, w.grad, b.grad)


def in_deep_thread(function: Callable, *args, depth: int):
    """Calls ``function(*args)`` in a thread with a 512 MiB stack and recursion limit ``depth``.

    The recursion limit is process-wide, so it is raised only for the call and restored.
    """
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # re-raised in the calling thread
            outcome["error"] = error

    old_limit = sys.getrecursionlimit()
    old_stack = threading.stack_size(512 * 1024 * 1024)
    sys.setrecursionlimit(max(old_limit, depth))
    try:
        thread = threading.Thread(target=work, name="micrograd")
        thread.start()
        thread.join()
    finally:
        sys.setrecursionlimit(old_limit)
        threading.stack_size(old_stack)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def summarize(runs: list[tuple]) -> dict:
    """Median forward, backward and total seconds over runs, and the last run's results."""
    return {
        "forward": statistics.median(f for f, _, _ in runs),
        "backward": statistics.median(b for _, b, _ in runs),
        "total": statistics.median(f + b for f, b, _ in runs),
        "result": runs[-1][2],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000, help="examples in the loss")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per engine")
    args = parser.parse_args(argv)
    try:
        from micrograd.engine import Value as MicrogradValue
    except ImportError:
        print(
            "micrograd is not installed; install it with: pip install micrograd==0.1.0",
            file=sys.stderr,
        )
        return 2

    examples = make_examples(args.examples)
    # Repeats alternate between the engines, so a busy machine slows both alike. The
    # engine runs here, under the default recursion limit; micrograd's recursive
    # topological sort needs a frame per link of the sum() chain.
    engine_runs, micrograd_runs = [], []
    for _ in range(args.repeats):
        engine_runs.append(build_and_backprop(EngineValue, examples))
        micrograd_runs.append(
            in_deep_thread(
                build_and_backprop, MicrogradValue, examples, depth=10 * len(examples) + 10_000
            )
        )
    engine, micro = summarize(engine_runs), summarize(micrograd_runs)

    names = ("loss", "dL/dw", "dL/db")
    for name, ours, theirs in zip(names, engine["result"], micro["result"], strict=True):
        # micrograd sums gradients in another order: expect ~1e-13 agreement, not bit for bit.
        if not math.isclose(ours, theirs, rel_tol=1e-9):
            print(f"results differ: {name} engine={ours!r} micrograd={theirs!r}")
            return 1

    print(
        f"mean half-squared-error loss over {args.examples:,} examples, "
        f"median of {args.repeats} repeats (Python {sys.version.split()[0]})"
    )
    print(f"{'':10} {'forward s':>10} {'backward s':>11} {'total s':>9}")
    for label, t in (("engine", engine), ("micrograd", micro)):
        print(f"{label:10} {t['forward']:10.4f} {t['backward']:11.4f} {t['total']:9.4f}")
    print(
        f"{'ratio':10} {micro['forward'] / engine['forward']:9.2f}x "
        f"{micro['backward'] / engine['backward']:10.2f}x "
        f"{micro['total'] / engine['total']:8.2f}x  (micrograd / engine)"
    )
    loss, dw, db = engine["result"]
    print(f"loss={loss:.6f} dL/dw={dw:.6f} dL/db={db:.6f} (both engines agree)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
