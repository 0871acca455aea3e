"""Linear regression, concise: nn.Sequential(nn.Linear), torch's default init, a shuffling
DataLoader that keeps the short last batch, nn.MSELoss, SGD with weight_decay."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from comparisons.record_torch import TorchRecorder

EXAMPLES, BATCH_SIZE, RATE, DECAY, EPOCHS = 25, 10, 0.03, 0.01, 2


def make_data(seed=0):
    torch.manual_seed(seed)
    x = torch.normal(0, 1, (EXAMPLES, 2))
    y = x @ torch.tensor([2.0, -3.4]) + 4.2 + torch.normal(0, 0.01, (EXAMPLES,))
    return x, y.reshape(-1, 1)


BUGS = ("decay-also-in-loss", "no-zero-grad", "rate-x10", "ascent", "step-before-backward")
"""The planted bugs ``train(bug=...)`` can make, each as a user gets it wrong."""


def train(seed=0, *, bug=None):
    """``bug``: one of :data:`BUGS` planted in the loop (``None``: the loop as meant)."""
    features, labels = make_data(seed)
    data_iter = DataLoader(TensorDataset(features, labels), BATCH_SIZE, shuffle=True)
    net = nn.Sequential(nn.Linear(2, 1))
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=RATE * (10 if bug == "rate-x10" else 1),
                              weight_decay=DECAY, maximize=bug == "ascent")
    rec = TorchRecorder(net, trainer, loss=loss, data=(features, labels))  # record
    data_iter = rec.watch(data_iter)  # record
    for _ in range(EPOCHS):
        for x, y in data_iter:
            if bug == "step-before-backward":  # step() first: the previous batch's .grad
                trainer.step()
            step_loss = loss(net(x), y)
            if bug == "decay-also-in-loss":  # weight_decay, and the L2 term in the loss too
                step_loss = step_loss + DECAY / 2 * sum((p ** 2).sum() for p in net.parameters())
            if bug != "no-zero-grad":
                trainer.zero_grad()
            step_loss.backward()
            if bug != "step-before-backward":
                trainer.step()
            rec.step(step_loss)  # record
    return rec
