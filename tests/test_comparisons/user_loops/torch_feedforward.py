"""The PyTorch-tutorial feed-forward network: a module with fc1, ReLU, fc2, torch's default
init, a shuffling DataLoader with a short last batch, nn.CrossEntropyLoss, Adam."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from comparisons.record_torch import TorchRecorder

INPUTS, HIDDEN, CLASSES, EXAMPLES, BATCH_SIZE, RATE, EPOCHS = 6, 5, 3, 30, 8, 0.01, 2


class NeuralNet(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(x)))


def make_data(seed=0):
    torch.manual_seed(seed)
    labels = torch.arange(EXAMPLES) % CLASSES
    centres = torch.randn(CLASSES, INPUTS) * 2
    return centres[labels] + torch.randn(EXAMPLES, INPUTS), labels


BUGS = ("adamw", "no-zero-grad", "rate-x10", "ascent", "sum-not-mean")
"""The planted bugs ``train(bug=...)`` can make, each as a user gets it wrong."""


def train(seed=0, *, bug=None):
    """``bug``: one of :data:`BUGS` planted in the loop (``None``: the loop as meant)."""
    features, labels = make_data(seed)
    train_loader = DataLoader(TensorDataset(features, labels), batch_size=BATCH_SIZE,
                              shuffle=True)
    model = NeuralNet(INPUTS, HIDDEN, CLASSES)
    criterion = nn.CrossEntropyLoss(reduction="sum" if bug == "sum-not-mean" else "mean")
    adam = torch.optim.AdamW if bug == "adamw" else torch.optim.Adam
    optimizer = adam(model.parameters(), lr=RATE * (10 if bug == "rate-x10" else 1),
                     maximize=bug == "ascent")
    rec = TorchRecorder(model, optimizer, loss=criterion, data=(features, labels))  # record
    train_loader = rec.watch(train_loader)  # record
    for _ in range(EPOCHS):
        for images, targets in train_loader:
            outputs = model(images.reshape(-1, INPUTS))
            loss = criterion(outputs, targets)
            if bug != "no-zero-grad":
                optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            rec.step(loss)  # record
    return rec
