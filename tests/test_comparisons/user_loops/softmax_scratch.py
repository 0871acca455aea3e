"""Softmax regression from scratch: W ~ normal(0, 0.01), softmax and cross-entropy by hand,
the summed loss's ``.grad`` stepped by a hand-written sgd dividing by the batch size."""

import random

import torch

from comparisons.record import Recorder

from . import data_table

INPUTS, CLASSES, EXAMPLES, BATCH_SIZE, RATE, EPOCHS = 4, 3, 24, 8, 0.1, 2


def make_data(seed=0):
    torch.manual_seed(seed)
    random.seed(seed)
    centres = torch.normal(0, 2, (CLASSES, INPUTS))
    labels = torch.arange(EXAMPLES) % CLASSES
    return centres[labels] + torch.normal(0, 1, (EXAMPLES, INPUTS)), labels


def softmax(o):
    o_exp = torch.exp(o)
    return o_exp / o_exp.sum(1, keepdim=True)


def cross_entropy(y_hat, y):
    return -torch.log(y_hat[range(len(y_hat)), y])


def batches(batch_size, n):
    order = list(range(n))
    random.shuffle(order)
    for start in range(0, n, batch_size):
        yield torch.tensor(order[start:start + batch_size])


BUGS = ("double-softmax", "ascent", "rate-x10", "no-zero-grad", "bias-ascent")
"""The planted bugs ``train(bug=...)`` can make, each as a user gets it wrong."""


def train(spec_path, seed=0, *, bug=None):
    """``bug``: one of :data:`BUGS` planted in the loop (``None``: the loop as meant)."""
    features, labels = make_data(seed)
    w = torch.normal(0, 0.01, size=(INPUTS, CLASSES), requires_grad=True)
    b = torch.zeros(CLASSES, requires_grad=True)
    rec = Recorder(spec=spec_path)  # record
    for _ in range(EPOCHS):
        for batch in batches(BATCH_SIZE, EXAMPLES):
            x, y = features[batch], labels[batch]
            probabilities = softmax(x.reshape(-1, INPUTS) @ w + b)
            if bug == "double-softmax":  # the probabilities softmaxed again as if logits
                probabilities = softmax(probabilities)
            loss = cross_entropy(probabilities, y)
            loss.sum().backward()
            rec.step(params={"w": w, "b": b}, loss=loss.sum(), batch=batch)  # record
            with torch.no_grad():
                rate = RATE * (10 if bug == "rate-x10" else 1)
                for param in (w, b):
                    sign = -1.0 if bug == "ascent" or (bug == "bias-ascent" and param is b) else 1
                    param -= sign * rate * param.grad / BATCH_SIZE
                    if bug != "no-zero-grad":
                        param.grad.zero_()
    rec.final({"w": w, "b": b})  # record
    return rec


def spec(seed=0):
    features, labels = make_data(seed)
    return f"""name = "softmax-scratch"
{data_table(features.numpy(), labels.numpy())}
[model]
kind = "linear"
outputs = {CLASSES}
[loss]
kind = "softmax-cross-entropy"
reduction = "sum"
[optimizer]
name = "sgd"
learning_rate = {RATE}
[run]
steps = {EPOCHS * EXAMPLES // BATCH_SIZE}
batch_size = {BATCH_SIZE}
batches = "trajectory"
"""
