"""A logistic-regression tutorial loop: a module applying torch.sigmoid to one nn.Linear,
nn.BCELoss on the probabilities, SGD over mini-batches of a shuffling DataLoader."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from comparisons.record_torch import TorchRecorder

INPUTS, EXAMPLES, BATCH_SIZE, RATE, EPOCHS = 3, 20, 8, 0.5, 2


class LogisticRegression(nn.Module):
    def __init__(self, n_inputs):
        super().__init__()
        self.linear = nn.Linear(n_inputs, 1)

    def forward(self, x):
        return torch.sigmoid(self.linear(x))


def make_data(seed=0):
    torch.manual_seed(seed)
    x = torch.randn(EXAMPLES, INPUTS)
    y = (x @ torch.tensor([1.5, -2.0, 0.5]) + 0.3 > 0).float()
    return x, y.reshape(-1, 1)


BUGS = ("sigmoid-twice", "ascent", "rate-x10", "no-zero-grad", "step-before-backward")
"""The planted bugs ``train(bug=...)`` can make, each as a user gets it wrong."""


def train(seed=0, *, bug=None):
    """``bug``: one of :data:`BUGS` planted in the loop (``None``: the loop as meant)."""
    features, labels = make_data(seed)
    loader = DataLoader(TensorDataset(features, labels), batch_size=BATCH_SIZE, shuffle=True)
    model = LogisticRegression(INPUTS)
    criterion = nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=RATE * (10 if bug == "rate-x10" else 1),
                                maximize=bug == "ascent")
    rec = TorchRecorder(model, optimizer, loss=criterion, data=(features, labels))  # record
    loader = rec.watch(loader)  # record
    for _ in range(EPOCHS):
        for x, y in loader:
            if bug != "no-zero-grad":
                optimizer.zero_grad()
            loss = criterion(model(x), y)
            if bug == "sigmoid-twice":  # BCEWithLogitsLoss given the probabilities
                loss = nn.BCEWithLogitsLoss()(model(x), y)
            if bug == "step-before-backward":  # after zero_grad(): step() finds no .grad
                optimizer.step()
            loss.backward()
            if bug != "step-before-backward":
                optimizer.step()
            rec.step(loss)  # record
    return rec
