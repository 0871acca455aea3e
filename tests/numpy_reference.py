"""Independent NumPy float64 reference for the lesson's training loops.

Written from the formulas, not from the package under test:
``dL/dw = mean((w x + b - y) x)``, ``dL/db = mean(w x + b - y)``.
"""

from __future__ import annotations

import numpy as np


def numpy_sgd(w, b, x, y, lr, steps, *, batch_indices=None, train_bias=True, dtype=np.float64):
    """Plain SGD: arrays w, b, train_loss (S+1) and grad_w, grad_b, batch_loss (S)."""
    x, y = np.asarray(x, dtype), np.asarray(y, dtype)
    w, b, lr = dtype(w), dtype(b), dtype(lr)
    out = {k: [] for k in ("w", "b", "grad_w", "grad_b", "batch_loss", "train_loss")}
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            out["w"].append(w)
            out["b"].append(b)
            out["train_loss"].append(np.mean(dtype(0.5) * (w * x + b - y) ** 2))
            if k == steps:
                break
            idx = slice(None) if batch_indices is None else np.asarray(batch_indices[k])
            xb, yb = x[idx], y[idx]
            err = w * xb + b - yb
            out["batch_loss"].append(np.mean(dtype(0.5) * err**2))
            gw, gb = np.mean(err * xb), np.mean(err)
            out["grad_w"].append(gw)
            out["grad_b"].append(gb)
            w = w - lr * gw
            if train_bias:
                b = b - lr * gb
    return {k: np.asarray(v) for k, v in out.items()}
