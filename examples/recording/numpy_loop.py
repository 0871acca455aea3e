"""Recipe: record a NumPy loop (docs/checking.md). Run: python examples/recording/numpy_loop.py"""

from pathlib import Path

import numpy as np

from comparisons.record import Recorder

HERE = Path(__file__).parent
data = np.loadtxt(HERE / "shipments.csv", delimiter=",", skiprows=1)
x, y = data[:, :-1], data[:, -1]
rng = np.random.default_rng(7)
w, b = rng.normal(0.0, 0.01, size=2), 0.0  # any initial values: the trajectory holds them
rate, batch_size = 0.02, 4

rec = Recorder()
for _ in range(2):
    order = rng.permutation(len(x))  # any order; the short last batch is kept
    for start in range(0, len(x), batch_size):
        batch = order[start:start + batch_size]
        error = x[batch] @ w + b - y[batch]
        loss = 0.5 * np.mean(error**2)
        grad_w, grad_b = x[batch].T @ error / len(batch), np.mean(error)
        rec.step(params={"w": w, "b": b}, grads={"w": grad_w, "b": grad_b}, loss=loss,
                 batch=batch)
        w, b = w - rate * grad_w, b - rate * grad_b
rec.final({"w": w, "b": b})

rec.save("numpy-run.json")  # for: python -m comparisons check --spec ... --trajectory ...
verdict = rec.check(HERE / "numpy.toml")
print("\n".join(verdict.lines()))
