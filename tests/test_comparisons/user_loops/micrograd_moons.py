"""A micrograd network on two interleaved half-moons: micrograd's own uniform(-1, 1) init, a
random subset of the examples at every step, a max-margin (hinge) loss plus an L2 penalty, a
learning rate that decays linearly, updates written on ``p.data``."""

import random

import numpy as np
from micrograd.engine import Value
from micrograd.nn import MLP

from comparisons.record import Recorder, layers_of

from . import data_table

EXAMPLES, BATCH_SIZE, STEPS, ALPHA = 20, 6, 4, 1e-4


def make_moons(seed=0):
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, np.pi, EXAMPLES)
    upper = np.arange(EXAMPLES) % 2 == 0
    x = np.where(upper[:, None], np.c_[np.cos(angle), np.sin(angle)],
                 np.c_[1 - np.cos(angle), 0.5 - np.sin(angle)])
    x += rng.normal(0, 0.1, x.shape)
    return x, np.where(upper, 1.0, -1.0)


def loss_of(model, x, y, batch_size=None, bug=None):
    if batch_size is None:
        xb, yb, rows = x, y, np.arange(len(x))
    else:
        rows = np.random.permutation(len(x))[:batch_size]
        xb, yb = x[rows], y[rows]
    scores = [model([Value(float(v)) for v in row]) for row in xb]
    losses = [(1 + -float(target) * score).relu() for target, score in zip(yb, scores, strict=True)]
    data_loss = sum(losses) * (1.0 / len(losses)) if bug != "sum-not-mean" else sum(losses)
    reg_loss = ALPHA * sum(p * p for p in model.parameters())
    if bug == "l2-twice":  # the penalty added again
        reg_loss = reg_loss + ALPHA * sum(p * p for p in model.parameters())
    return data_loss + reg_loss, rows


BUGS = ("ascent", "no-zero-grad", "schedule-not-stepped", "l2-twice", "sum-not-mean",
        "rate-x10")
"""The planted bugs ``train(bug=...)`` can make, each as a user gets it wrong."""


def train(spec_path, seed=0, *, bug=None):
    """``bug``: one of :data:`BUGS` planted in the loop (``None``: the loop as meant)."""
    x, y = make_moons(seed)
    random.seed(seed)
    np.random.seed(seed)
    model = MLP(2, [8, 8, 1])
    rec = Recorder(spec=spec_path)  # record
    for k in range(STEPS):
        total_loss, rows = loss_of(model, x, y, batch_size=BATCH_SIZE, bug=bug)
        if bug != "no-zero-grad":
            model.zero_grad()
        total_loss.backward()
        rec.step(params=layers_of(model), loss=total_loss, batch=rows)  # record
        learning_rate = 1.0 - 0.9 * (0 if bug == "schedule-not-stepped" else k) / 100
        learning_rate *= 10 if bug == "rate-x10" else 1
        for p in model.parameters():
            p.data -= (-1 if bug == "ascent" else 1) * learning_rate * p.grad
    rec.final(layers_of(model))  # record
    return rec


def spec(seed=0):
    x, y = make_moons(seed)
    return f"""name = "micrograd-moons"
{data_table(x, y)}
[model]
kind = "mlp"
sizes = [2, 8, 8, 1]
activation = "relu"
[loss]
kind = "hinge"
l2 = {ALPHA}
[optimizer]
name = "sgd"
[schedule]
kind = "linear"
init_value = 1.0
end_value = 0.1
transition_steps = 100
[run]
steps = {STEPS}
"""
