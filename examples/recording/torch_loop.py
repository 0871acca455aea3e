"""Recipe: record a PyTorch loop with a DataLoader (docs/checking.md).

Run: python examples/recording/torch_loop.py  (writes torch-run.json and torch-run.toml)
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import comparisons
from comparisons.record_torch import TorchRecorder

HERE = Path(__file__).parent
data = torch.tensor(np.loadtxt(HERE / "shipments.csv", delimiter=",", skiprows=1),
                    dtype=torch.float32)
x, y = data[:, :2], data[:, 2:]
torch.manual_seed(0)
loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True)
net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))  # torch's default init
loss_fn = nn.MSELoss()
optimizer = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.9, weight_decay=1e-3)

rec = TorchRecorder(net, optimizer, loss=loss_fn, data=(x, y))
loader = rec.watch(loader)
for _ in range(2):
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        optimizer.step()
        rec.step(loss)
rec.save("torch-run.json", spec="torch-run.toml")

verdict = comparisons.check("torch-run.toml", "torch-run.json", dtype="float32")
print("\n".join(verdict.lines()))
