"""The PyTorch-tutorial linear regression: nn.Linear(1, 1), NumPy data as tensors, the whole
training set at every step, nn.MSELoss, plain SGD."""

import numpy as np
import torch
from torch import nn

from comparisons.record_torch import TorchRecorder

EPOCHS, RATE = 5, 0.01

X_TRAIN = np.array([[3.3], [4.4], [5.5], [6.71], [6.93], [4.168], [9.779], [6.182], [7.59],
                    [2.167], [7.042], [10.791], [5.313], [7.997], [3.1]], dtype=np.float32)
Y_TRAIN = np.array([[1.7], [2.76], [2.09], [3.19], [1.694], [1.573], [3.366], [2.596], [2.53],
                    [1.221], [2.827], [3.465], [1.65], [2.904], [1.3]], dtype=np.float32)


BUGS = ("no-zero-grad", "ascent", "rate-x10", "sum-not-mean", "step-before-backward")
"""The planted bugs ``train(bug=...)`` can make, each as a user gets it wrong."""


def train(seed=0, *, bug=None):
    """``bug``: one of :data:`BUGS` planted in the loop (``None``: the loop as meant);
    ``"no-zero-grad"``: the gradients accumulate over the steps."""
    torch.manual_seed(seed)
    model = nn.Linear(1, 1)
    criterion = nn.MSELoss(reduction="sum" if bug == "sum-not-mean" else "mean")
    optimizer = torch.optim.SGD(model.parameters(), lr=RATE * (10 if bug == "rate-x10" else 1),
                                maximize=bug == "ascent")
    rec = TorchRecorder(model, optimizer, loss=criterion, data=(X_TRAIN, Y_TRAIN))  # record
    for _ in range(EPOCHS):
        inputs, targets = torch.from_numpy(X_TRAIN), torch.from_numpy(Y_TRAIN)
        outputs = model(inputs)
        loss = criterion(outputs, targets)
        if bug == "step-before-backward":
            optimizer.step()
        if bug != "no-zero-grad":
            optimizer.zero_grad()
        loss.backward()
        if bug != "step-before-backward":
            optimizer.step()
        rec.step(loss)  # record
    return rec
