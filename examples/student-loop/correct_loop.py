"""A student's training loop for spec.toml, written without the project: correct.

Plain Python: the line ``prediction = w * x + b``, the mean half squared error
``L = mean((w x + b - y)^2) / 2``, its gradients ``dL/dw = mean(e x)``,
``dL/db = mean(e)`` (``e = w x + b - y``) and 25 full-batch SGD steps at rate
0.05. It records what the student wants checked (parameters, gradients, the loss
of each step and after the last) and writes it in the report's trajectory format:

  python examples/student-loop/correct_loop.py            # writes correct.json beside it
  python -m comparisons check --spec examples/student-loop/spec.toml \\
      --trajectory examples/student-loop/correct.json     # exit 0: agrees
"""

import json
import sys
from pathlib import Path

DATA = [(0.5, 2.1), (1.0, 2.8), (2.0, 4.9), (3.0, 6.8), (4.0, 9.2), (5.0, 11.3)]
RATE, STEPS = 0.05, 25


def loss_and_gradients(w, b):
    errors = [w * x + b - y for x, y in DATA]
    n = len(DATA)
    loss = sum(0.5 * e * e for e in errors) / n
    grad_w = sum(e * x for e, (x, _) in zip(errors, DATA, strict=True)) / n
    grad_b = sum(errors) / n
    return loss, grad_w, grad_b


def train():
    w, b = 0.0, 0.0
    record = {"params": {"w": [], "b": []}, "grads": {"w": [], "b": []},
              "batch_loss": [], "train_loss": []}
    for _ in range(STEPS):
        loss, grad_w, grad_b = loss_and_gradients(w, b)
        record["params"]["w"].append(w)
        record["params"]["b"].append(b)
        record["grads"]["w"].append(grad_w)
        record["grads"]["b"].append(grad_b)
        record["batch_loss"].append(loss)  # full batch: the batch is the training set
        record["train_loss"].append(loss)
        w -= RATE * grad_w
        b -= RATE * grad_b
    record["params"]["w"].append(w)  # the final parameters, and their loss
    record["params"]["b"].append(b)
    record["train_loss"].append(loss_and_gradients(w, b)[0])
    return record


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("correct.json")
    out.write_text(json.dumps(train(), indent=1) + "\n")
