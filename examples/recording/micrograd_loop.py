"""Recipe: record a micrograd loop (docs/checking.md).

Run: python examples/recording/micrograd_loop.py
"""

import random
from pathlib import Path

import numpy as np
from micrograd.nn import MLP

from comparisons.record import Recorder, layers_of

HERE = Path(__file__).parent
data = np.loadtxt(HERE / "shipments.csv", delimiter=",", skiprows=1).tolist()
random.seed(1)
model = MLP(2, [4, 1])  # micrograd's own uniform(-1, 1) initial weights

rec = Recorder()
for _ in range(5):
    rows = random.sample(range(len(data)), 4)
    errors = [model(data[i][:2]) - data[i][2] for i in rows]
    loss = sum(e * e for e in errors) * (0.5 / len(rows))
    model.zero_grad()
    loss.backward()
    rec.step(params=layers_of(model), loss=loss, batch=rows)  # .data and .grad of each Value
    for p in model.parameters():
        p.data -= 0.01 * p.grad
rec.final(layers_of(model))

verdict = rec.check(HERE / "micrograd.toml")
print("\n".join(verdict.lines()))
