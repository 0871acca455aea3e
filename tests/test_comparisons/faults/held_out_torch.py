"""A user's PyTorch training loop, with bugs planted the way PyTorch users write them.

Written from PyTorch's documentation (``nn.Sequential`` of ``nn.Linear`` and an
activation, ``nn.MSELoss`` / ``nn.CrossEntropyLoss`` / ``nn.BCEWithLogitsLoss`` /
a hinge written with ``clamp``, ``torch.optim.SGD`` / ``Adam`` / ``AdamW``,
``lr_scheduler.LambdaLR``, the usual ``zero_grad(); loss.backward(); step()``), in
float64, never from comparisons' code or its fault variants: with
:mod:`held_out_numpy`, the independent side of ``test_held_out.py``. It records
what a step pre-hook would: the parameters before each step (``nn.Linear``'s
``(out, in)`` weight transposed to the project's ``(fan_in, fan_out)``), each
parameter's ``.grad`` when ``step()`` runs (``None``: 0), the loss and the batch.

The bugs: ``no-zero-grad``, ``zero-grad-before-step``, ``step-twice``,
``stale-gradient`` (``step()`` before ``backward()``), ``double-softmax``
(``CrossEntropyLoss()(softmax(z), y)``), ``bce-on-probabilities``
(``BCEWithLogitsLoss()(sigmoid(z), y)``), ``detach-hidden`` (the first hidden
layer's output ``.detach()``-ed), ``adamw-default-decay`` (``AdamW(params, lr)``
where the spec says Adam), ``schedule-not-stepped`` (no ``scheduler.step()``),
``mse-reduction-sum`` (``MSELoss(reduction='sum')`` on a squared-error spec),
``mse-for-half`` (``MSELoss()`` on a half-squared-error spec), ``update-sign`` (a
hand-written ``p += lr * p.grad``), ``l2-and-weight-decay`` (the penalty in the
loss and ``weight_decay = 2 alpha`` too), ``l2-only-as-decay`` (``weight_decay = 2
alpha`` and no penalty in the loss); with no gallery entry: ``momentum``
(``SGD(momentum=0.9)``), ``clip-norm`` (``clip_grad_norm_(params, 0.5)``),
``label-smoothing`` (``CrossEntropyLoss(label_smoothing=0.1)``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def _model(e) -> nn.Sequential:
    if e.model == "linear":
        sizes, activation = (e.features, 1), None
    else:
        sizes, activation = e.model_settings["sizes"], e.model_settings.get("activation", "tanh")
    modules = []
    for n in range(len(sizes) - 1):
        modules.append(nn.Linear(sizes[n], sizes[n + 1]).double())
        if n < len(sizes) - 2:
            modules.append(nn.Tanh() if activation == "tanh" else nn.ReLU())
    model = nn.Sequential(*modules)
    with torch.no_grad():
        for n, linear in enumerate(_linears(model)):
            fan_in, fan_out = linear.in_features, linear.out_features
            if e.model == "linear":
                w = [e.init["w"]] if fan_in == 1 else [e.init[f"w[{i}]"] for i in range(fan_in)]
                linear.weight.copy_(torch.tensor([w], dtype=torch.float64))
                linear.bias.copy_(torch.tensor([e.init["b"]], dtype=torch.float64))
                continue
            linear.weight.copy_(torch.tensor(
                [[e.init[f"layers.{n}.w[{i},{j}]"] for i in range(fan_in)] for j in range(fan_out)],
                dtype=torch.float64))
            linear.bias.copy_(torch.tensor([e.init[f"layers.{n}.b[{j}]"] for j in range(fan_out)],
                                           dtype=torch.float64))
    return model


def _linears(model: nn.Sequential) -> list[nn.Linear]:
    return [m for m in model if isinstance(m, nn.Linear)]


def _named(e, model, which: str) -> dict[str, float]:
    """The parameters (``which="data"``) or their ``.grad`` by the project's names."""
    out = {}
    for n, linear in enumerate(_linears(model)):
        w, b = linear.weight, linear.bias
        if which == "grad":
            w = w.grad if w.grad is not None else torch.zeros_like(w)
            b = b.grad if b.grad is not None else torch.zeros_like(b)
        w, b = w.detach().numpy().T, b.detach().numpy()  # (out, in) -> (fan_in, fan_out)
        if e.model == "linear":
            out.update({"w": float(w[0, 0])} if w.shape[0] == 1 else {
                f"w[{i}]": float(w[i, 0]) for i in range(w.shape[0])})
            out["b"] = float(b[0])
            continue
        out.update({f"layers.{n}.w[{i},{j}]": float(w[i, j])
                    for i in range(w.shape[0]) for j in range(w.shape[1])})
        out.update({f"layers.{n}.b[{j}]": float(b[j]) for j in range(b.shape[0])})
    return out


def _forward(e, model, x, bug):
    if "detach-hidden" in bug:  # BUG: the first hidden layer's output detached
        h = model[1](model[0](x)).detach()
        for module in list(model)[2:]:
            h = module(h)
        return h
    return model(x)


def _loss(e, out, y, bug):
    if e.loss in ("half-squared-error", "squared-error"):
        if "mse-reduction-sum" in bug:
            return nn.MSELoss(reduction="sum")(out[:, 0], y)  # BUG: a sum over the batch
        if "mse-for-half" in bug or e.loss == "squared-error":
            return nn.MSELoss()(out[:, 0], y)  # BUG where the spec says half: no 1/2
        return 0.5 * nn.MSELoss()(out[:, 0], y)
    if e.loss == "binary-cross-entropy":
        if "bce-on-probabilities" in bug:
            return nn.BCEWithLogitsLoss()(torch.sigmoid(out[:, 0]), y)  # BUG: sigmoid twice
        return nn.BCEWithLogitsLoss()(out[:, 0], y)
    if e.loss == "softmax-cross-entropy":
        if "double-softmax" in bug:
            return nn.CrossEntropyLoss()(torch.softmax(out, dim=1), y.long())  # BUG
        smoothing = 0.1 if "label-smoothing" in bug else 0.0  # BUG (no gallery entry)
        return nn.CrossEntropyLoss(label_smoothing=smoothing)(out, y.long())
    assert e.loss == "hinge"
    return torch.clamp(1.0 - y * out[:, 0], min=0.0).mean()


def _rate(e, k: int) -> float:
    if e.schedule is None:
        return e.hyperparams["learning_rate"]
    s = e.schedule
    done = min(max(k - s.get("transition_begin", 0), 0), s["transition_steps"])
    return s["init_value"] + (s["end_value"] - s["init_value"]) * done / s["transition_steps"]


def _optimizer(e, model, bug):
    params = model.parameters()
    hp = e.hyperparams
    lr = _rate(e, 0)
    decay = 2 * e.l2 if "l2-and-weight-decay" in bug or "l2-only-as-decay" in bug else 0.0
    if "adamw-default-decay" in bug:
        return torch.optim.AdamW(params, lr=lr, betas=(hp["b1"], hp["b2"]), eps=hp["eps"])  # BUG
    if e.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(hp["b1"], hp["b2"]), eps=hp["eps"],
                                weight_decay=decay)
    if e.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(hp["b1"], hp["b2"]), eps=hp["eps"],
                                 weight_decay=hp["weight_decay"])
    assert e.optimizer == "sgd"
    momentum = 0.9 if "momentum" in bug else 0.0  # BUG (no gallery entry)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=decay)


def _batches(e, n: int) -> list[list[int]] | None:
    if e.batch_size is None:
        return None
    rng, order = np.random.default_rng(e.seed), []
    while len(order) < e.steps:
        perm = rng.permutation(n)
        order += [perm[j * e.batch_size:(j + 1) * e.batch_size].tolist()
                  for j in range(n // e.batch_size)]
    return order[:e.steps]


def train(e, bug: str | None = None) -> dict:
    """Train ``e`` with ``bug`` (``None``: correct); the trajectory a step pre-hook records."""
    bug = bug or ""
    model = _model(e)
    optimizer = _optimizer(e, model, bug)
    schedule = None
    if e.schedule is not None:
        first = _rate(e, 0)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: _rate(e, k) / first)
    data = torch.tensor(e.train, dtype=torch.float64)
    order = _batches(e, len(data))
    params, grads, losses = [], [], []
    for k in range(e.steps):
        rows = data if order is None else data[order[k]]
        x, y = rows[:, :-1], rows[:, -1]
        params.append(_named(e, model, "data"))
        if "stale-gradient" in bug:  # BUG: step() before backward(): last step's gradient
            grads.append(_named(e, model, "grad"))
            optimizer.step()
            optimizer.zero_grad()
            loss = _loss(e, _forward(e, model, x, bug), y, bug)
            if e.l2:
                loss = loss + e.l2 * sum((p * p).sum() for p in model.parameters())
            loss.backward()
            losses.append(loss.item())
            continue
        if "no-zero-grad" not in bug:  # BUG when it is: no zero_grad()
            optimizer.zero_grad()
        loss = _loss(e, _forward(e, model, x, bug), y, bug)
        if e.l2 and "l2-only-as-decay" not in bug:  # BUG when it is: weight_decay alone
            loss = loss + e.l2 * sum((p * p).sum() for p in model.parameters())
        loss.backward()
        if "clip-norm" in bug:
            grads.append(_named(e, model, "grad"))
            nn.utils.clip_grad_norm_(model.parameters(), 0.5)  # BUG (no gallery entry)
        if "zero-grad-before-step" in bug:
            optimizer.zero_grad()  # BUG: between backward() and step()
        if "clip-norm" not in bug:
            grads.append(_named(e, model, "grad"))
        if "update-sign" in bug:
            with torch.no_grad():
                for p in model.parameters():
                    p += _rate(e, k) * p.grad  # BUG: += instead of -=
        else:
            optimizer.step()
            if "step-twice" in bug:
                optimizer.step()  # BUG: step() twice
        if schedule is not None and "schedule-not-stepped" not in bug:
            schedule.step()  # BUG when left out: the rate stays the first one
        losses.append(loss.item())
    params.append(_named(e, model, "data"))
    names = list(params[0])
    traj = {"params": {n: [p[n] for p in params] for n in names},
            "grads": {n: [g[n] for g in grads] for n in names}, "batch_loss": losses}
    if order is not None:
        traj["batches"] = order
    return traj
