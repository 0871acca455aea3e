"""Side by side: the hand-written engine vs the published ``micrograd`` package.

Both engines build and back-propagate the same loss in one process, the mean
half-squared error of the lesson's linear model over N examples::

    L = sum(0.5 * (w * x + b - y) ** 2 for x, y in examples) / N

written once and run with each engine's ``Value``. Python's ``sum()`` makes a
chain N deep, so micrograd's recursive ``backward`` needs a raised recursion
limit: it runs in a thread with a large stack and a recursion limit raised
inside this script only (restored afterwards). The engine runs in the main
thread with the interpreter's default limit. The garbage collector runs as it
does in a normal program; it is collected before each repeat so one repeat's
garbage does not land on the next.

Prints the median forward, backward and total times over the repeats, and the
ratio micrograd / engine (above 1 means the engine is faster).

Usage:
    python benchmarks/engine_vs_micrograd.py
    python benchmarks/engine_vs_micrograd.py --examples 20000 --repeats 7

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


def time_engine(value_type: Callable, examples: Examples, repeats: int) -> dict:
    """Builds and back-propagates the loss ``repeats`` times; returns times and results."""
    forward, backward = [], []
    for _ in range(repeats):
        gc.collect()
        w, b = value_type(0.5), value_type(0.25)
        start = time.perf_counter()
        loss = mean_half_squared_error(w, b, examples)
        built = time.perf_counter()
        loss.backward()
        done = time.perf_counter()
        forward.append(built - start)
        backward.append(done - built)
        result = (loss.data, w.grad, b.grad)
        del loss, w, b
    totals = [f + b for f, b in zip(forward, backward, strict=True)]
    return {
        "forward": statistics.median(forward),
        "backward": statistics.median(backward),
        "total": statistics.median(totals),
        "result": result,
    }


def time_micrograd(examples: Examples, repeats: int) -> dict:
    """``time_engine`` for micrograd, in a thread whose stack and recursion limit fit it."""
    from micrograd.engine import Value as MicrogradValue

    outcome: dict = {}

    def work() -> None:
        try:
            outcome["timings"] = time_engine(MicrogradValue, examples, repeats)
        except BaseException as error:  # re-raised in the main thread
            outcome["error"] = error

    old_limit = sys.getrecursionlimit()
    old_stack = threading.stack_size(512 * 1024 * 1024)
    sys.setrecursionlimit(max(old_limit, 10 * len(examples) + 10_000))
    try:
        thread = threading.Thread(target=work, name="micrograd")
        thread.start()
        thread.join()
    finally:
        sys.setrecursionlimit(old_limit)
        threading.stack_size(old_stack)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["timings"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000, help="examples in the loss")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per engine")
    args = parser.parse_args(argv)
    try:
        import micrograd.engine  # noqa: F401
    except ImportError:
        print(
            "micrograd is not installed; install it with: pip install micrograd==0.1.0",
            file=sys.stderr,
        )
        return 2

    examples = make_examples(args.examples)
    engine = time_engine(EngineValue, examples, args.repeats)
    micro = time_micrograd(examples, args.repeats)

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
