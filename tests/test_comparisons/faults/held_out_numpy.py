"""A user's NumPy training loop, with bugs planted the way users write them: the held-out table.

Written from the formulas (forward, loss, backpropagation with matrices, batch
mean, L2, SGD / momentum / Adam / AdamW, optax's linear schedule, one
``default_rng(seed).permutation(n)`` per epoch), never from comparisons' code or
its fault variants: it is the independent side of ``test_held_out.py``. Each
bug is one ``"name" in bug`` test in the code path where a user would type it;
``bug=None`` is the correct loop. It records what a user records: the parameters
before each step, the gradient the step used, the batch's loss and its example
indices, in the trajectory file's shape (``{"params": {name: [...]}, ...}``).

The bugs (the names are this module's, not the gallery's):

- the loss: ``no-half`` (``mean(e^2)``), ``reduction-sum`` (loss and gradient summed,
  as ``MSELoss(reduction='sum')``), ``double-softmax`` (cross-entropy of the
  softmax of the probabilities), ``bce-on-probabilities`` (``BCEWithLogitsLoss`` fed
  ``sigmoid(z)``), ``no-max-shift`` (softmax without ``- max z``), ``target-shift``
  (``y + 1``);
- the backward pass: ``grad-sum`` (gradient summed, loss a mean), ``divided-twice``,
  ``bias-sign``, ``bias-last-example``, ``tanh-1-minus-t``, ``relu-mask-missing``
  (hidden layers), ``relu-everywhere`` (a micrograd-style ``relu`` whose backward
  passes everything, used for the hidden layers and the hinge), ``detach-hidden``
  (layer 0's output detached: layer 0 gets no gradient), ``weights-doubled``,
  ``n-minus-one`` (``sum / (n - 1)``), ``noise``;
- L2: ``l2-not-in-gradient``, ``l2-twice`` (the penalty in the loss and as
  ``weight_decay`` too), ``l2-only-as-decay`` (the penalty only as ``weight_decay
  = 2 alpha`` in the step: the recorded loss and gradient without it),
  ``l2-written-twice`` (the penalty added to the loss twice), ``l2-weights-only``,
  ``l1-not-l2``;
- the step: ``no-zero-grad``, ``zero-grad-before-step`` (``backward``, ``zero_grad``,
  ``step``: the step sees no gradient), ``loss-after-update``, ``lr-squared``,
  ``in-place-leaf-by-leaf``, ``update-sign``, ``lr-times-10``, ``lr-halved``, ``stale-gradient``
  (each step applies the gradient the previous step computed, and records its own),
  ``step-twice``, ``adamw-default-decay`` (``AdamW`` with its default decay 0.01
  where Adam was meant), ``schedule-not-stepped``, ``momentum``, ``clip-norm``,
  ``eps-inside-sqrt``, ``bias-rate-x10``, ``lr-decay`` (x0.9 a step),
  ``no-bias-correction`` (Adam's), ``frozen-bias`` (the bias not given to the optimizer);
- the data: ``same-order-every-epoch``, ``validation-trained-on``,
  ``last-batch-skipped``, ``first-batch-always``.
"""

from __future__ import annotations

import numpy as np

Traj = dict


# --- parameters: arrays per layer, named by the project's rule ----------------------------------


def initial_layers(e) -> list[list[np.ndarray]]:
    """``[[W (fan_in, fan_out), b (fan_out,)], ...]``: one layer for ``linear``."""
    if e.model == "linear":
        d = e.features
        w = [e.init["w"]] if d == 1 else [e.init[f"w[{i}]"] for i in range(d)]
        return [[np.array(w, dtype=float).reshape(d, 1), np.array([e.init["b"]], dtype=float)]]
    sizes = e.model_settings["sizes"]
    layers = []
    for n in range(len(sizes) - 1):
        w = np.array([[e.init[f"layers.{n}.w[{i},{j}]"] for j in range(sizes[n + 1])]
                      for i in range(sizes[n])])
        b = np.array([e.init[f"layers.{n}.b[{j}]"] for j in range(sizes[n + 1])])
        layers.append([w, b])
    return layers


def named(e, layers) -> dict[str, float]:
    """``w``/``w[i]``/``b`` or ``layers.n.w[i,j]``/``layers.n.b[j]`` -> value."""
    if e.model == "linear":
        (w, b), = layers
        out = {"w": float(w[0, 0])} if w.shape[0] == 1 else {
            f"w[{i}]": float(w[i, 0]) for i in range(w.shape[0])}
        out["b"] = float(b[0])
        return out
    out = {}
    for n, (w, b) in enumerate(layers):
        out.update({f"layers.{n}.w[{i},{j}]": float(w[i, j])
                    for i in range(w.shape[0]) for j in range(w.shape[1])})
        out.update({f"layers.{n}.b[{j}]": float(b[j]) for j in range(b.shape[0])})
    return out


# --- forward, loss, backward ---------------------------------------------------------------------


def _activation(e) -> str:
    return e.model_settings.get("activation", "tanh") if e.model == "mlp" else "none"


def forward(e, layers, x):
    """The outputs ``(n, k)``, and each layer's input and pre-activation."""
    inputs, pre, a = [], [], x
    for n, (w, b) in enumerate(layers):
        z = a @ w + b
        inputs.append(a)
        pre.append(z)
        if n < len(layers) - 1:
            a = np.tanh(z) if _activation(e) == "tanh" else np.maximum(z, 0.0)
    return pre[-1], inputs, pre


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def head(e, out, y, bug):
    """Per-example loss ``(n,)`` and its derivative in the outputs ``(n, k)``."""
    if "target-shift" in bug:
        y = y + 1.0  # BUG (no gallery entry): the targets shifted
    if e.loss == "half-squared-error":
        r = out[:, 0] - y
        if "no-half" in bug:
            return r ** 2, 2 * r[:, None]  # BUG: mean(e^2) without the 1/2
        return 0.5 * r ** 2, r[:, None]
    if e.loss == "squared-error":
        r = out[:, 0] - y
        return r ** 2, 2 * r[:, None]
    if e.loss == "binary-cross-entropy":
        s = out[:, 0]
        if "bce-on-probabilities" in bug:  # BUG: BCEWithLogitsLoss(sigmoid(z), y)
            p = 1.0 / (1.0 + np.exp(-s))
            q = 1.0 / (1.0 + np.exp(-p))
            return np.logaddexp(0.0, p) - p * y, ((q - y) * p * (1.0 - p))[:, None]
        return np.logaddexp(0.0, s) - s * y, (1.0 / (1.0 + np.exp(-s)) - y)[:, None]
    if e.loss == "softmax-cross-entropy":
        onehot = np.eye(out.shape[1])[y.astype(int)]
        if "double-softmax" in bug:  # BUG: CrossEntropyLoss(softmax(z)): softmax twice
            p = _softmax(out)
            q = _softmax(p)
            dp = q - onehot
            dz = p * (dp - (dp * p).sum(axis=1, keepdims=True))
            loss = np.log(np.exp(p).sum(axis=1)) - (p * onehot).sum(axis=1)
            return loss, dz
        if "no-max-shift" in bug:  # BUG: exp(z) / sum exp(z), no - max z
            with np.errstate(over="ignore", invalid="ignore"):
                ex = np.exp(out)
                total = ex.sum(axis=1, keepdims=True)
                return np.log(total[:, 0]) - (out * onehot).sum(axis=1), ex / total - onehot
        m = out.max(axis=1, keepdims=True)
        loss = np.log(np.exp(out - m).sum(axis=1)) + m[:, 0] - (out * onehot).sum(axis=1)
        return loss, _softmax(out) - onehot
    assert e.loss == "hinge"
    margin = 1.0 - y * out[:, 0]
    if "relu-everywhere" in bug:  # BUG: the hinge is relu(1 - y s), whose backward passes all
        return np.maximum(margin, 0.0), (-y)[:, None]
    return np.maximum(margin, 0.0), np.where(margin > 0.0, -y, 0.0)[:, None]


def backward(e, layers, x, dout, bug, divisor):
    """Per layer ``[dW, db]``: the per-example gradients summed, divided by ``divisor``."""
    _, inputs, pre = forward(e, layers, x)
    grads = [None] * len(layers)
    delta = dout
    for n in range(len(layers) - 1, -1, -1):
        dw = inputs[n].T @ delta / divisor
        db = delta.sum(axis=0) / divisor
        if "bias-last-example" in bug:
            db = delta[-1].copy()  # BUG: db = delta inside the loop over examples, not +=
        if "bias-sign" in bug:
            db = -db  # BUG: the bias gradient's sign
        if "weights-doubled" in bug:
            dw = 2 * dw  # BUG (no gallery entry): the weights' gradient doubled
        grads[n] = [dw, db]
        if n == 0:
            break
        upstream = delta @ layers[n][0].T
        if _activation(e) == "tanh":
            t = np.tanh(pre[n - 1])
            slope = 1.0 - t if "tanh-1-minus-t" in bug else 1.0 - t * t  # BUG: 1 - t
        elif "relu-mask-missing" in bug or "relu-everywhere" in bug:
            slope = np.ones_like(pre[n - 1])  # BUG: relu' = 1 everywhere
        else:
            slope = (pre[n - 1] > 0.0).astype(float)
        delta = upstream * slope
        if "detach-hidden" in bug and n == 1:  # BUG: h = layer0(x).detach()
            grads[0] = [np.zeros_like(layers[0][0]), np.zeros_like(layers[0][1])]
            break
    return grads


def penalty(e, layers, bug):
    """The L2 (or, bugged, L1) term's value and its gradient per layer."""
    alpha = e.l2
    value, grads = 0.0, []
    for w, b in layers:
        if "l1-not-l2" in bug:  # BUG (no gallery entry): alpha |theta|
            value += alpha * (np.abs(w).sum() + np.abs(b).sum())
            grads.append([alpha * np.sign(w), alpha * np.sign(b)])
            continue
        keep_b = 0.0 if "l2-weights-only" in bug else 1.0  # BUG: the biases not penalised
        value += alpha * ((w * w).sum() + keep_b * (b * b).sum())
        grads.append([2 * alpha * w, keep_b * 2 * alpha * b])
    return value, grads


def loss_and_grads(e, layers, rows, bug, *, noise_rng=None):
    x, y = rows[:, :-1], rows[:, -1]
    out, _, _ = forward(e, layers, x)
    per_example, dout = head(e, out, y, bug)
    n = len(rows)
    divisor = float(n)
    if "grad-sum" in bug or "reduction-sum" in bug:
        divisor = 1.0  # BUG: the gradient summed (reduction-sum: the loss too)
    elif "divided-twice" in bug:
        divisor = float(n * n)  # BUG: / n twice
    elif "n-minus-one" in bug:
        divisor = float(n - 1)  # BUG (no gallery entry): / (n - 1)
    loss = per_example.sum() if "reduction-sum" in bug else per_example.mean()
    grads = backward(e, layers, x, dout, bug, divisor)
    if e.l2 and "l2-only-as-decay" not in bug:  # BUG when it is: the step adds it instead
        value, extra = penalty(e, layers, bug)
        loss = loss + value
        if "l2-written-twice" in bug:  # BUG: the penalty added in two places
            loss = loss + value
            extra = [[2 * h for h in hs] for hs in extra]
        if "l2-not-in-gradient" not in bug:  # BUG when it is: only in the loss
            grads = [[g + h for g, h in zip(gs, hs, strict=True)] for gs, hs in zip(
                grads, extra, strict=True)]
    if noise_rng is not None:  # BUG (no gallery entry): noise added to the gradient
        grads = [[g + 1e-3 * noise_rng.standard_normal(g.shape) for g in gs] for gs in grads]
    return float(loss), grads


# --- the optimizer, the schedule, the batches ------------------------------------------------


def learning_rate(e, k: int, bug) -> float:
    if e.schedule is None:
        rate = e.hyperparams["learning_rate"]
    else:
        s = e.schedule
        assert s["kind"] == "linear"
        done = 0 if "schedule-not-stepped" in bug else min(  # BUG: scheduler.step() never called
            max(k - s.get("transition_begin", 0), 0), s["transition_steps"])
        rate = s["init_value"] + (s["end_value"] - s["init_value"]) * done / s["transition_steps"]
    if "lr-decay" in bug:
        rate = rate * 0.9 ** k  # BUG (no gallery entry): a decay the spec does not have
    if "lr-halved" in bug:
        return rate / 2  # BUG: a rate half the spec's
    return rate * 10 if "lr-times-10" in bug else rate  # BUG: a rate 10 times the spec's


class Optimizer:
    """SGD, momentum, Adam, AdamW on the layers' arrays (``theta <- theta - lr u``)."""

    def __init__(self, e, layers, bug):
        self.e, self.bug = e, bug
        self.kind = e.optimizer
        if "adamw-default-decay" in bug:
            self.kind = "adamw"  # BUG: torch.optim.AdamW where Adam was meant (decay 0.01)
        if "momentum" in bug:
            self.kind = "momentum"  # BUG (no gallery entry): momentum 0.9 where SGD was meant
        self.state = [[{"m": np.zeros_like(p), "v": np.zeros_like(p), "t": 0} for p in layer]
                      for layer in layers]

    def step(self, k, layers, grads, *, only=None):
        rate = learning_rate(self.e, k, self.bug)
        hp = self.e.hyperparams
        for n, layer in enumerate(layers):
            for i in range(2):
                if only is not None and (n, i) != only:
                    continue
                g, p, s = grads[n][i], layer[i], self.state[n][i]
                if "l2-twice" in self.bug or "l2-only-as-decay" in self.bug:
                    g = g + 2 * self.e.l2 * p  # BUG: weight_decay = 2 alpha on top of the loss's
                if self.kind == "sgd":
                    u = g
                elif self.kind == "momentum":
                    s["m"] = hp.get("momentum", 0.9) * s["m"] + g
                    u = s["m"]
                else:
                    s["t"] += 1
                    b1, b2, eps = hp["b1"], hp["b2"], hp["eps"]
                    s["m"] = b1 * s["m"] + (1 - b1) * g
                    s["v"] = b2 * s["v"] + (1 - b2) * g * g
                    mhat, vhat = s["m"] / (1 - b1 ** s["t"]), s["v"] / (1 - b2 ** s["t"])
                    if "no-bias-correction" in self.bug:
                        mhat, vhat = s["m"], s["v"]  # BUG (no gallery entry)
                    if "eps-inside-sqrt" in self.bug:
                        u = mhat / np.sqrt(vhat + eps)  # BUG (no gallery entry)
                    else:
                        u = mhat / (np.sqrt(vhat) + eps)
                    if self.kind == "adamw":
                        decay = hp.get("weight_decay", 0.01)
                        if "adamw-default-decay" in self.bug:
                            decay = 0.01
                        u = u + decay * p
                step = rate * u
                if "lr-squared" in self.bug:
                    step = rate * step  # BUG: the rate applied twice
                if "bias-rate-x10" in self.bug and i == 1:
                    step = 10 * step  # BUG (no gallery entry)
                if "frozen-bias" in self.bug and i == 1:
                    continue  # BUG (no gallery entry): the bias left out of the optimizer
                if "update-sign" in self.bug:
                    layer[i] = p + step  # BUG: += instead of -=
                else:
                    layer[i] = p - step


def batch_order(e, n: int, bug) -> list[list[int]] | None:
    """Per epoch ``default_rng(seed).permutation(n)`` cut into ``n // batch_size`` batches."""
    if e.batch_size is None:
        return None
    rng = np.random.default_rng(e.seed)
    order, perm = [], None
    per_epoch = n // e.batch_size
    if "last-batch-skipped" in bug:
        per_epoch -= 1  # BUG: range(len(batches) - 1)
    while len(order) < e.steps:
        if perm is None or "same-order-every-epoch" not in bug:  # BUG: shuffled once
            perm = rng.permutation(n)
        for j in range(per_epoch):
            if len(order) < e.steps:
                order.append([int(i) for i in perm[j * e.batch_size:(j + 1) * e.batch_size]])
    if "first-batch-always" in bug:
        order = [order[0]] * len(order)  # BUG (no gallery entry): one batch, every step
    return order


# --- the loop ---------------------------------------------------------------------------------


def _zeros(layers):
    return [[np.zeros_like(p) for p in layer] for layer in layers]


def _copy(layers):
    return [[p.copy() for p in layer] for layer in layers]


def train(e, bug: str | None = None) -> Traj:
    """Train ``e`` with ``bug`` (``None``: the correct loop); the trajectory a user records."""
    bug = bug or ""
    layers = initial_layers(e)
    rows = np.array(e.train, dtype=float)
    if "validation-trained-on" in bug:
        rows = np.concatenate([rows, np.array(e.validation)])  # BUG: train on val rows too
    order = batch_order(e, len(rows), bug)
    optimizer = Optimizer(e, layers, bug)
    noise = np.random.default_rng(7) if "noise" in bug else None
    params, grads_seen, losses = [], [], []
    buffer = None
    stale = None
    for k in range(e.steps):
        params.append(named(e, layers))
        batch = rows if order is None else rows[order[k]]
        if "in-place-leaf-by-leaf" in bug:  # BUG: each leaf stepped as soon as its grad is
            used = _zeros(layers)
            first = None
            for n in range(len(layers)):
                for i in range(2):
                    loss, g = loss_and_grads(e, layers, batch, bug)
                    first = loss if first is None else first
                    used[n][i] = g[n][i]
                    optimizer.step(k, layers, g, only=(n, i))
            grads_seen.append(named(e, used))
            losses.append(first)
            continue
        loss, g = loss_and_grads(e, layers, batch, bug, noise_rng=noise)
        if buffer is None or "no-zero-grad" not in bug:  # BUG when it is: no zero_grad()
            buffer = g
        else:
            buffer = [[a + b for a, b in zip(x, y, strict=True)] for x, y in zip(
                buffer, g, strict=True)]
        step_grads = buffer
        if "zero-grad-before-step" in bug:
            step_grads = _zeros(layers)  # BUG: zero_grad() between backward() and step()
        if "stale-gradient" in bug:  # BUG: the update uses the previous step's gradient
            step_grads, stale = (stale if stale is not None else _zeros(layers)), buffer
        if "clip-norm" in bug:  # BUG (no gallery entry): clip_grad_norm_(0.5) not in the spec
            norm = np.sqrt(sum((p * p).sum() for layer in step_grads for p in layer))
            if norm > 0.5:
                step_grads = [[p * (0.5 / norm) for p in layer] for layer in step_grads]
        # What the loop hands its recorder: the gradient it computed this step (zeroed
        # before the step: zeros).
        grads_seen.append(named(e, step_grads if "zero-grad-before-step" in bug else buffer))
        optimizer.step(k, layers, step_grads)
        if "step-twice" in bug:
            optimizer.step(k, layers, step_grads)  # BUG: optimizer.step() called twice
        if "loss-after-update" in bug:
            loss, _ = loss_and_grads(e, layers, batch, bug)  # BUG: recorded after the step
        losses.append(loss)
    params.append(named(e, layers))
    names = list(params[0])
    traj = {"params": {n: [p[n] for p in params] for n in names},
            "grads": {n: [g[n] for g in grads_seen] for n in names},
            "batch_loss": losses}
    if order is not None:
        traj["batches"] = order
    return traj
