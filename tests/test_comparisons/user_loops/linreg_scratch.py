"""Linear regression from scratch, d2l-style: torch tensors, random.shuffle, a short last batch,
the summed loss's raw ``.grad`` divided by the batch size in a hand-written ``sgd``."""

import random

import torch

from comparisons.record import Recorder

from . import data_table

TRUE_W, TRUE_B = torch.tensor([2.0, -3.4]), 4.2
EXAMPLES, BATCH_SIZE, RATE, EPOCHS = 25, 10, 0.03, 2


def synthetic_data(w, b, n):
    x = torch.normal(0, 1, (n, len(w)))
    y = torch.matmul(x, w) + b
    y += torch.normal(0, 0.01, y.shape)
    return x, y.reshape((-1, 1))


def data_iter(batch_size, features, labels):
    indices = list(range(len(features)))
    random.shuffle(indices)
    for i in range(0, len(indices), batch_size):
        batch = torch.tensor(indices[i:min(i + batch_size, len(indices))])
        yield batch, features[batch], labels[batch]  # record: the indices too


def linreg(x, w, b):
    return torch.matmul(x, w) + b


def squared_loss(y_hat, y):
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params, lr, batch_size, sign=1.0, clear=True):
    with torch.no_grad():
        for param in params:
            param -= sign * lr * param.grad / batch_size
            if clear:
                param.grad.zero_()


def make_data(seed=0):
    torch.manual_seed(seed)
    random.seed(seed)
    return synthetic_data(TRUE_W, TRUE_B, EXAMPLES)


BUGS = ("ascent", "rate-x10", "no-zero-grad", "missing-half", "bias-ascent")
"""The planted bugs ``train(bug=...)`` can make, each as a user gets it wrong."""


def train(spec_path, seed=0, *, bug=None):
    """``bug``: one of :data:`BUGS` planted in the loop (``None``: the loop as meant)."""
    features, labels = make_data(seed)
    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    rec = Recorder(spec=spec_path)  # record
    for _ in range(EPOCHS):
        for batch, x, y in data_iter(BATCH_SIZE, features, labels):
            loss = squared_loss(linreg(x, w, b), y)
            if bug == "missing-half":  # (y_hat - y) ** 2, the 1/2 forgotten
                loss = loss * 2
            loss.sum().backward()
            rec.step(params=[w, b], loss=loss.sum(), batch=batch)  # record
            if bug == "bias-ascent":  # b += ...: the bias's update climbs its gradient
                sgd([w], RATE, BATCH_SIZE)
                sgd([b], RATE, BATCH_SIZE, sign=-1.0)
                continue
            sgd([w, b], RATE * (10 if bug == "rate-x10" else 1), BATCH_SIZE,
                sign=-1.0 if bug == "ascent" else 1.0, clear=bug != "no-zero-grad")
    rec.final([w, b])  # record
    return rec


def spec(seed=0):
    features, labels = make_data(seed)
    return f"""name = "linreg-scratch"
{data_table(features.numpy(), labels.numpy())}
[model]
kind = "linear"
[loss]
kind = "half-squared-error"
reduction = "sum"
[optimizer]
name = "sgd"
learning_rate = {RATE}
[run]
steps = {EPOCHS * 3}
batch_size = {BATCH_SIZE}
batches = "trajectory"
"""
