"""A multilayer perceptron from scratch: weights ~ normal(0, 0.01), a hand-written ReLU,
nn.CrossEntropyLoss(reduction='none') averaged, torch.optim.SGD on the raw tensors, a shuffling
DataLoader."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from comparisons.record import Recorder

from . import data_table

INPUTS, HIDDEN, CLASSES, EXAMPLES, BATCH_SIZE, RATE, EPOCHS = 4, 6, 3, 24, 8, 0.5, 2


def make_data(seed=0):
    torch.manual_seed(seed)
    centres = torch.normal(0, 2, (CLASSES, INPUTS))
    labels = torch.arange(EXAMPLES) % CLASSES
    return centres[labels] + torch.normal(0, 1, (EXAMPLES, INPUTS)), labels


def relu(x):
    return torch.max(x, torch.zeros_like(x))


def leaky_backward_relu(x):
    """A hand-made relu whose backward is 1 everywhere (relu's value, x's gradient)."""
    return x + (relu(x) - x).detach()


BUGS = ("relu-gradient", "sum-not-mean", "no-zero-grad", "rate-x10", "ascent", "detached")
"""The planted bugs ``train(bug=...)`` can make, each as a user gets it wrong."""


def train(spec_path, seed=0, *, bug=None):
    """``bug``: one of :data:`BUGS` planted in the loop (``None``: the loop as meant)."""
    features, labels = make_data(seed)
    indexed = TensorDataset(torch.arange(EXAMPLES), features, labels)  # record: indices too
    train_iter = DataLoader(indexed, BATCH_SIZE, shuffle=True)
    w1 = nn.Parameter(torch.randn(INPUTS, HIDDEN) * 0.01)
    b1 = nn.Parameter(torch.zeros(HIDDEN))
    w2 = nn.Parameter(torch.randn(HIDDEN, CLASSES) * 0.01)
    b2 = nn.Parameter(torch.zeros(CLASSES))
    params = [w1, b1, w2, b2]

    def net(x):
        activation = leaky_backward_relu if bug == "relu-gradient" else relu
        h = activation(x.reshape(-1, INPUTS) @ w1 + b1)
        if bug == "detached":  # h.detach(): the first layer gets no gradient
            h = h.detach()
        return h @ w2 + b2

    loss = nn.CrossEntropyLoss(reduction="none")
    updater = torch.optim.SGD(params, lr=RATE * (10 if bug == "rate-x10" else 1),
                              maximize=bug == "ascent")
    rec = Recorder(spec=spec_path)  # record
    for _ in range(EPOCHS):
        for batch, x, y in train_iter:
            step_loss = loss(net(x), y)
            if bug != "no-zero-grad":
                updater.zero_grad()
            (step_loss.sum() if bug == "sum-not-mean" else step_loss.mean()).backward()
            rec.step(params=params, loss=step_loss.mean(), batch=batch)  # record
            updater.step()
    rec.final(params)  # record
    return rec


def spec(seed=0):
    features, labels = make_data(seed)
    return f"""name = "mlp-scratch"
{data_table(features.numpy(), labels.numpy())}
[model]
kind = "mlp"
sizes = [{INPUTS}, {HIDDEN}, {CLASSES}]
activation = "relu"
[loss]
kind = "softmax-cross-entropy"
[optimizer]
name = "sgd"
learning_rate = {RATE}
[run]
steps = {EPOCHS * EXAMPLES // BATCH_SIZE}
"""
