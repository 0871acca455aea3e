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


ACTIVATIONS = {
    "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(float)),
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda z, a: a * (1.0 - a)),
}
"""Activation name -> (f(z), f'(z) given z and a = f(z))."""


def mlp_layers(values: dict, sizes) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(W_0, b_0), ...]`` from scalar values named as the project names them
    (``layers.l.w[i,j]``, ``layers.l.b[j]``), ``W_l`` of shape ``(fan_in, fan_out)``."""
    return [(np.array([[values[f"layers.{n}.w[{i},{j}]"] for j in range(fan_out)]
                       for i in range(fan_in)], np.float64),
             np.array([values[f"layers.{n}.b[{j}]"] for j in range(fan_out)], np.float64))
            for n, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))]


def numpy_mlp_forward(layers, x, *, activation):
    """Every layer's activations and pre-activations: ``a_{l+1} = f(a_l W_l + b_l)``, the last
    layer linear. Returns ``(acts, pres)``; ``acts[-1]`` is the output, shape ``(n, k)``."""
    f = ACTIVATIONS[activation][0]
    acts, pres = [np.asarray(x, np.float64)], []
    for i, (w, b) in enumerate(layers):
        z = acts[-1] @ w + b
        pres.append(z)
        acts.append(z if i == len(layers) - 1 else f(z))
    return acts, pres


def numpy_loss(loss: str, s: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
    """The batch's mean loss and ``dL/ds`` (already divided by n), from the formulas.

    ``s``: one output per example, shape ``(n,)``, or ``k`` outputs, ``(n, k)`` (softmax).
    Losses: ``half-squared-error``; ``hinge`` (targets -1/+1): ``mean(max(0, 1 - t s))``;
    ``binary-cross-entropy`` on logits (targets 0/1): ``mean(log(1 + e^s) - s t)``;
    ``softmax-cross-entropy`` (targets class indices): ``mean(logsumexp(s) - s_t)``.
    """
    n = len(t)
    if loss == "half-squared-error":
        return float(np.mean(0.5 * (s - t) ** 2)), (s - t) / n
    if loss == "hinge":
        margin = 1.0 - t * s
        return float(np.mean(np.maximum(margin, 0.0))), np.where(margin > 0, -t, 0.0) / n
    if loss == "binary-cross-entropy":
        p = 1.0 / (1.0 + np.exp(-s))
        return float(np.mean(np.logaddexp(0.0, s) - s * t)), (p - t) / n
    if loss == "softmax-cross-entropy":
        z = s - s.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        onehot = np.eye(s.shape[1])[t.astype(int)]
        value = np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(n), t.astype(int)])
        return float(value), (p - onehot) / n
    raise AssertionError(loss)


def numpy_mlp(layers, x, y, *, activation, loss, l2, rates, batch_indices=None):
    """Mini-batch SGD on an MLP in NumPy float64, written from the formulas.

    Forward :func:`numpy_mlp_forward`; backward
    ``dW_l = a_l^T delta_l + 2 l2 W_l``, ``db_l = sum delta_l + 2 l2 b_l``,
    ``delta_{l-1} = (delta_l W_l^T) * f'(z_{l-1})``; the loss (:func:`numpy_loss`) is
    the batch mean plus ``l2 * sum theta^2``; step ``k`` moves by ``rates[k]`` times
    the gradient. One output is read as ``(n,)``, several as ``(n, k)``.

    Args:
      layers: ``[(W_0, b_0), ...]`` with ``W_l`` of shape ``(fan_in, fan_out)``.
      activation: a key of :data:`ACTIVATIONS`.
      rates: the rate of each step (its length is the number of steps ``S``).
      batch_indices: ``(S, B)`` example indices per step, or ``None`` for full batch.

    Returns:
      ``batch_loss`` (S,), ``train_loss`` (S+1,), ``params`` (S+1 entries) and
      ``grads`` (S entries), each entry a list of ``(W, b)``.
    """
    df = ACTIVATIONS[activation][1]
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)

    def outputs(acts):
        return acts[-1][:, 0] if acts[-1].shape[1] == 1 else acts[-1]

    def penalty(layers):
        return l2 * sum(np.sum(w * w) + np.sum(b * b) for w, b in layers)

    layers = [(np.array(w, np.float64), np.array(b, np.float64)) for w, b in layers]
    out = {"batch_loss": [], "train_loss": [], "params": [], "grads": []}
    for k in range(len(rates) + 1):
        out["params"].append([(w.copy(), b.copy()) for w, b in layers])
        everything = numpy_mlp_forward(layers, x, activation=activation)[0]
        out["train_loss"].append(numpy_loss(loss, outputs(everything), y)[0] + penalty(layers))
        if k == len(rates):
            break
        idx = slice(None) if batch_indices is None else np.asarray(batch_indices[k])
        acts, pres = numpy_mlp_forward(layers, x[idx], activation=activation)
        value, slope = numpy_loss(loss, outputs(acts), y[idx])
        out["batch_loss"].append(value + penalty(layers))
        delta = slope[:, None] if slope.ndim == 1 else slope
        grads = [None] * len(layers)
        for i in reversed(range(len(layers))):
            w, b = layers[i]
            grads[i] = (acts[i].T @ delta + 2 * l2 * w, delta.sum(axis=0) + 2 * l2 * b)
            if i:
                delta = (delta @ w.T) * df(pres[i - 1], acts[i])
        out["grads"].append(grads)
        layers = [(w - rates[k] * gw, b - rates[k] * gb)
                  for (w, b), (gw, gb) in zip(layers, grads, strict=True)]
    return out
