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


def numpy_linear(w, b, x, y, *, steps, learning_rate, optimizer="sgd", b1=0.9, b2=0.999,
                 eps=1e-8, batch_indices=None, x_val=None, y_val=None):
    """``x @ w + b`` with ``d`` features, trained by plain SGD or Adam, in NumPy float64.

    Written from the formulas: ``e = x @ w + b - y``, ``L = mean(0.5 e^2)``,
    ``dL/dw = x^T e / n``, ``dL/db = mean(e)``; Adam (eps outside the root, bias
    corrected): ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``theta -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.

    Returns:
      ``w`` (S+1, d), ``b`` (S+1,), ``grad_w`` (S, d), ``grad_b``, ``batch_loss`` (S,),
      ``train_loss`` and ``val_loss`` (S+1,).
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    theta = np.append(np.asarray(w, np.float64), np.float64(b))  # [w_0 .. w_{d-1}, b]
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    out = {k: [] for k in ("theta", "grad", "batch_loss", "train_loss", "val_loss")}

    def loss(theta, xs, ys):
        return np.mean(0.5 * (xs @ theta[:-1] + theta[-1] - ys) ** 2)

    for k in range(steps + 1):
        out["theta"].append(theta.copy())
        out["train_loss"].append(loss(theta, x, y))
        if x_val is not None:
            out["val_loss"].append(loss(theta, np.asarray(x_val), np.asarray(y_val)))
        if k == steps:
            break
        idx = slice(None) if batch_indices is None else np.asarray(batch_indices[k])
        xb, yb = x[idx], y[idx]
        error = xb @ theta[:-1] + theta[-1] - yb
        grad = np.append(xb.T @ error / len(yb), np.mean(error))
        out["grad"].append(grad)
        out["batch_loss"].append(np.mean(0.5 * error**2))
        if optimizer == "sgd":
            theta = theta - learning_rate * grad
        else:
            m = b1 * m + (1 - b1) * grad
            v = b2 * v + (1 - b2) * grad**2
            t = k + 1
            theta = theta - learning_rate * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    theta, grad = np.asarray(out["theta"]), np.asarray(out["grad"])
    return {"w": theta[:, :-1], "b": theta[:, -1], "grad_w": grad[:, :-1], "grad_b": grad[:, -1],
            "batch_loss": np.asarray(out["batch_loss"]),
            "train_loss": np.asarray(out["train_loss"]),
            "val_loss": np.asarray(out["val_loss"]) if x_val is not None else None}
