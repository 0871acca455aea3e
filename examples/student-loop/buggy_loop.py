"""A student's training loop for spec.toml, written without the project: with a bug.

The same loop as correct_loop.py, with the bias gradient's sign flipped (the
error written ``y - (w x + b)`` for ``b`` only), one of the bugs the comparator's
gallery knows. It records only the parameters and the gradients, one value per
row, in the long CSV format ``step,quantity,name,value``:

  python examples/student-loop/buggy_loop.py              # writes buggy.csv beside it
  python -m comparisons check --spec examples/student-loop/spec.toml \\
      --trajectory examples/student-loop/buggy.csv        # exit 1, and the diagnosis
"""

import csv
import sys
from pathlib import Path

DATA = [(0.5, 2.1), (1.0, 2.8), (2.0, 4.9), (3.0, 6.8), (4.0, 9.2), (5.0, 11.3)]
RATE, STEPS = 0.05, 25


def gradients(w, b):
    n = len(DATA)
    grad_w = sum((w * x + b - y) * x for x, y in DATA) / n
    grad_b = sum(y - (w * x + b) for x, y in DATA) / n  # BUG: the sign of the error
    return grad_w, grad_b


def train():
    w, b = 0.0, 0.0
    rows = []
    for step in range(STEPS):
        grad_w, grad_b = gradients(w, b)
        rows += [(step, "params", "w", w), (step, "params", "b", b),
                 (step, "grads", "w", grad_w), (step, "grads", "b", grad_b)]
        w -= RATE * grad_w
        b -= RATE * grad_b
    rows += [(STEPS, "params", "w", w), (STEPS, "params", "b", b)]
    return rows


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("buggy.csv")
    with out.open("w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["step", "quantity", "name", "value"])
        writer.writerows((step, q, name, repr(value)) for step, q, name, value in train())
