"""comparisons.record_torch: naming torch models by the project's rule, the optimizer hooks'
timing, the DataLoader's recorded indices, the inferred spec, and the torch loops of user_loops.

Expected values come from torch itself read directly (``weight.T``, ``.grad``), from the
update rule written out in NumPy float64 (``w - lr g``), or from the DataLoader's own output.
"""

import importlib
import inspect
import runpy
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import comparisons  # noqa: E402
from comparisons.record import RecordError  # noqa: E402
from comparisons.record_torch import (  # noqa: E402
    TorchRecorder,
    loss_kind_of,
    optimizer_of,
    torch_layout,
)
from comparisons.spec import parse_spec  # noqa: E402
from test_comparisons.user_loops import RECORD_MARK, assert_planted_figures  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def double(module):
    torch.manual_seed(0)
    return module.double()


# --- names and shapes -----------------------------------------------------------------------


def test_one_linear_is_the_linear_kind_with_its_names():
    layer = double(nn.Linear(3, 1))
    layout = torch_layout(layer)
    assert (layout.kind, layout.features, layout.settings) == ("linear", 3, {})
    leaves = layout.leaves()
    np.testing.assert_array_equal(leaves["w"], layer.weight.detach().numpy()[0])
    assert leaves["b"].shape == () and leaves["b"] == layer.bias.item()
    one = torch_layout(double(nn.Sequential(nn.Linear(1, 1))))
    assert one.shapes == {"w": (), "b": ()}


def test_a_sequential_is_an_mlp_with_transposed_weights():
    net = double(nn.Sequential(nn.Flatten(), nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2)))
    layout = torch_layout(net)
    assert (layout.kind, layout.settings) == ("mlp", {"sizes": (2, 3, 2), "activation": "relu"})
    leaves = layout.leaves()
    for index, layer in enumerate((net[1], net[3])):
        weight = layer.weight.detach().numpy()  # torch's (fan_out, fan_in)
        assert leaves[f"layers.{index}.w"].shape == weight.T.shape
        np.testing.assert_array_equal(leaves[f"layers.{index}.w"], weight.T)
        np.testing.assert_array_equal(leaves[f"layers.{index}.b"], layer.bias.detach().numpy())


def test_a_module_whose_children_are_the_layers_is_named_like_a_sequential():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.act, self.fc2 = nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    assert torch_layout(double(Net())).settings == {"sizes": (2, 4, 1), "activation": "tanh"}


def test_a_module_whose_forward_is_not_its_children_is_refused():
    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.act, self.fc2 = nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)) + x)

    with pytest.raises(RecordError, match="forward is not its children in order"):
        torch_layout(double(Skip()))


@pytest.mark.parametrize("net, words", [
    (nn.Sequential(nn.Linear(2, 2), nn.GELU(), nn.Linear(2, 1)), "one activation"),
    (nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1)),
     "one activation"),
    (nn.Sequential(nn.Linear(2, 2, bias=False)), "without a bias"),
    (nn.Sequential(nn.Conv1d(1, 1, 1)), "expected nn.Linear layers"),
])
def test_other_architectures_are_refused_in_one_line(net, words):
    with pytest.raises(RecordError, match=words):
        torch_layout(net)


def test_softmax_regression_is_the_linear_kind_with_k_outputs():
    """d2l's concise softmax regression: Flatten, then one Linear(d, k), CrossEntropyLoss;
    checked in float64 (exact to the reference's 1e-12)."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)).double()
    layout = torch_layout(net)
    assert (layout.kind, layout.settings, layout.shapes) == (
        "linear", {"outputs": 3}, {"w": (4, 3), "b": (3,)})
    np.testing.assert_array_equal(layout.leaves()["w"], net[1].weight.detach().numpy().T)
    x = torch.randn(6, 2, 2, dtype=torch.float64)  # images of 2 x 2 pixels, flattened
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    rec = TorchRecorder(net, opt, loss=loss_fn, data=(x, y))
    for _ in range(3):
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        rec.step(loss)
    assert rec.experiment().model_settings == {"outputs": 3}
    verdict = rec.check()
    assert verdict.agree and verdict.dtype == "float64", "\n".join(verdict.lines())


def test_a_last_sigmoid_is_the_logit_with_bce():
    net = double(nn.Sequential(nn.Linear(2, 1), nn.Sigmoid()))
    layout = torch_layout(net, sigmoid_allowed=True)
    assert layout.kind == "linear" and layout.sigmoid_output
    with pytest.raises(RecordError, match="expected nn.Linear layers"):
        torch_layout(net)  # without BCELoss a last Sigmoid is not a layer the spec has


# --- optimizer and loss ---------------------------------------------------------------------


def test_optimizers_map_to_the_spec_with_weight_decay():
    w = nn.Parameter(torch.zeros(2))
    assert optimizer_of(torch.optim.SGD([w], lr=0.1)) == ("sgd", {"learning_rate": 0.1})
    assert optimizer_of(torch.optim.SGD([w], lr=0.1, weight_decay=0.01)) == (
        "sgd", {"learning_rate": 0.1, "weight_decay": 0.01})
    assert optimizer_of(torch.optim.SGD([w], lr=0.1, momentum=0.5, nesterov=True)) == (
        "nesterov", {"learning_rate": 0.1, "momentum": 0.5})
    assert optimizer_of(torch.optim.Adam([w], lr=0.01, betas=(0.8, 0.99), eps=1e-6)) == (
        "adam", {"learning_rate": 0.01, "b1": 0.8, "b2": 0.99, "eps": 1e-6})


@pytest.mark.parametrize("make, words", [
    (lambda w: torch.optim.SGD([w], lr=0.1, momentum=0.9, dampening=0.1), "dampening"),
    (lambda w: torch.optim.Adam([w], lr=0.1, amsgrad=True), "amsgrad"),
    (lambda w: torch.optim.RMSprop([w], lr=0.1), "no spec optimizer for RMSprop"),
    (lambda w: torch.optim.SGD([{"params": [w]}, {"params": [nn.Parameter(torch.zeros(1))],
                                                   "lr": 0.5}], lr=0.1), "param groups"),
])
def test_optimizers_the_spec_cannot_state_are_refused(make, words):
    with pytest.raises(RecordError, match=words):
        optimizer_of(make(nn.Parameter(torch.zeros(2))))


def test_losses_map_to_the_spec_and_summed_mse_is_refused():
    assert loss_kind_of(nn.MSELoss()) == "squared-error"  # torch's mean (s - y)^2, no 1/2
    assert loss_kind_of(nn.BCEWithLogitsLoss()) == "binary-cross-entropy"
    assert loss_kind_of(nn.BCELoss(), sigmoid_output=True) == "binary-cross-entropy"
    assert loss_kind_of("half-squared-error") == "half-squared-error"
    with pytest.raises(RecordError, match=r"MSELoss\(reduction='sum'\) stepped by torch.optim"):
        loss_kind_of(nn.MSELoss(reduction="sum"))
    with pytest.raises(RecordError, match="BCELoss takes probabilities"):
        loss_kind_of(nn.BCELoss())
    with pytest.raises(RecordError, match="no spec loss for L1Loss"):
        loss_kind_of(nn.L1Loss())


def test_mse_is_the_spec_squared_error():
    """torch's MSELoss and the spec's squared-error give the same number (float64, exact
    up to a few ulps: 1e-15)."""
    s, y = torch.tensor([0.5, 2.0, -1.0], dtype=torch.float64), torch.tensor([1.0, 1.5, 0.0],
                                                                              dtype=torch.float64)
    expected = float(np.mean((s.numpy() - y.numpy()) ** 2))
    assert nn.MSELoss()(s, y).item() == pytest.approx(expected, rel=1e-15)


# --- the hooks ------------------------------------------------------------------------------


def test_hooks_record_params_and_grads_before_the_step_and_the_final_params():
    """Two SGD steps: params[k+1] = params[k] - lr grads[k] in float64 (exact to 1e-15)."""
    net = double(nn.Linear(2, 1))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    rec = TorchRecorder(net, opt)
    x = torch.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=torch.float64)
    y = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    grads_seen = []
    for _ in range(2):
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        grads_seen.append(net.weight.grad.detach().numpy()[0].copy())
        opt.step()
        rec.step(loss)
    out = rec.trajectory().to_json()
    assert rec.steps == 2 and len(out["params"]["w[0]"]) == 3 and len(out["grads"]["w[0]"]) == 2
    for k in range(2):
        np.testing.assert_array_equal([out["grads"]["w[0]"][k], out["grads"]["w[1]"][k]],
                                      grads_seen[k])
        for i in range(2):
            step = out["params"][f"w[{i}]"][k] - 0.1 * out["grads"][f"w[{i}]"][k]
            assert out["params"][f"w[{i}]"][k + 1] == pytest.approx(step, rel=1e-15, abs=1e-15)
    np.testing.assert_array_equal([out["params"]["w[0]"][2], out["params"]["w[1]"][2]],
                                  net.weight.detach().numpy()[0])
    rec.close()
    opt.step()
    assert rec.steps == 2  # no hook after close()


def test_a_gradient_cleared_before_the_step_is_recorded_as_zeros():
    """``zero_grad()`` between ``backward()`` and ``step()``: ``.grad`` is None and step()
    skips the parameter; the recorder says what the step used, zeros (and no move)."""
    net = double(nn.Linear(1, 1))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    rec = TorchRecorder(net, opt)
    net(torch.ones(1, 1, dtype=torch.float64)).sum().backward()
    opt.zero_grad()
    opt.step()
    out = rec.trajectory().to_json()
    assert out["grads"] == {"w": [0.0], "b": [0.0]}
    assert out["params"]["w"][0] == out["params"]["w"][1]


def test_watch_records_the_indices_the_loader_yields():
    features = torch.arange(10, dtype=torch.float64).reshape(-1, 1)
    loader = DataLoader(TensorDataset(features, features), batch_size=4, shuffle=True)
    net = double(nn.Linear(1, 1))
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    rec = TorchRecorder(net, opt)
    watched = rec.watch(loader)
    yielded = []
    torch.manual_seed(3)
    for _ in range(2):
        for x, y in watched:
            yielded.append([int(v) for v in x[:, 0]])  # example i holds the value i
            opt.zero_grad()
            ((net(x) - y) ** 2).mean().backward()
            opt.step()
    assert [len(b) for b in yielded] == [4, 4, 2, 4, 4, 2]  # the short last batch kept
    assert rec.trajectory().to_json()["batches"] == yielded
    torch.manual_seed(3)
    assert [[int(v) for v in x[:, 0]] for x, _ in loader] == yielded[:3]  # the same order


def test_the_inferred_spec_states_model_loss_optimizer_data_and_steps():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-2)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
    rec = TorchRecorder(net, opt, loss=nn.MSELoss(), data=(x, y), name="tanh-net")
    for _ in range(3):
        opt.zero_grad()
        loss = nn.MSELoss()(net(x), y)
        loss.backward()
        opt.step()
        rec.step(loss)
    experiment = parse_spec(rec.spec_text(), from_trajectory=True)
    assert experiment.name == "tanh-net" and experiment.model == "mlp"
    assert experiment.model_settings == {"sizes": (2, 3, 1), "activation": "tanh"}
    assert (experiment.loss, experiment.optimizer, experiment.steps) == (
        "squared-error", "momentum", 3)
    assert experiment.hyperparams == {"learning_rate": 0.05, "momentum": 0.9,
                                      "weight_decay": 1e-2}
    assert experiment.train == ((1.0, 0.0, 1.0), (0.0, 1.0, 2.0), (1.0, 1.0, 3.0))
    verdict = rec.check()
    assert verdict.agree, "\n".join(verdict.lines())


def test_the_spec_needs_data_and_loss():
    net = double(nn.Linear(1, 1))
    rec = TorchRecorder(net, torch.optim.SGD(net.parameters(), lr=0.1))
    with pytest.raises(RecordError, match="needs the training data"):
        rec.experiment()
    rec.data = (np.ones((1, 1)), np.ones(1))
    with pytest.raises(RecordError, match="needs the loss"):
        rec.experiment()


# --- the user loops -------------------------------------------------------------------------

TORCH_LOOPS = ["linreg_concise", "torch_linear", "torch_feedforward", "logistic"]


def loop_module(name):
    return importlib.import_module(f"test_comparisons.user_loops.{name}")


@pytest.mark.parametrize("name", TORCH_LOOPS)
def test_a_torch_loop_has_at_most_five_recording_lines(name):
    source = inspect.getsource(loop_module(name))
    assert 1 <= sum(RECORD_MARK in line for line in source.splitlines()) <= 5


@pytest.mark.parametrize("name", TORCH_LOOPS)
def test_a_torch_loop_passes_check_from_the_spec_the_recorder_infers(name, tmp_path):
    rec = loop_module(name).train()
    trajectory = rec.save(tmp_path / "run.json", spec=tmp_path / "run.toml")
    verdict = comparisons.check(tmp_path / "run.toml", trajectory, dtype="float32")
    assert verdict.agree, "\n".join(verdict.lines())


def test_the_torch_recipe_runs_and_agrees(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(ROOT / "examples" / "recording" / "torch_loop.py"), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("agree: "), "\n".join(lines)
    assert (tmp_path / "torch-run.json").is_file() and (tmp_path / "torch-run.toml").is_file()


def test_a_planted_bug_in_a_torch_loop_is_caught():
    """No zero_grad(): .grad accumulates, and the recorded gradient at step 1 is two steps'."""
    rec = loop_module("torch_linear").train(bug="no-zero-grad")
    assert rec.dtype == "float32"  # check's default: the model's precision
    verdict = rec.check(diagnosis=False)
    assert not verdict.agree
    assert (verdict.first_mismatch.step, verdict.first_mismatch.quantity[:5]) == (1, "grads")


# --- planted bugs: caught by check against the spec the bug-free loop infers, and named ------

PLANTED = [  # (loop, bug as train(bug=...) plants it, the gallery fault it is, or None)
    ("linreg_concise", "decay-also-in-loss", "weight-decay-also-in-loss"),
    ("linreg_concise", "no-zero-grad", "gradients-not-cleared"),
    ("linreg_concise", "rate-x10", "wrong-learning-rate"),
    # SGD(maximize=True) with weight_decay negates .grad, not the decay: the update is
    # -lr (-g + lam theta), not the gallery's flipped update +lr (g + lam theta); no
    # gallery entry, so "no known fault" is the honest answer.
    ("linreg_concise", "ascent", None),
    ("linreg_concise", "step-before-backward", "stale-gradient-step-before-backward"),
    ("torch_linear", "no-zero-grad", "gradients-not-cleared"),
    ("torch_linear", "ascent", "update-sign-flipped"),
    ("torch_linear", "rate-x10", "wrong-learning-rate"),
    ("torch_linear", "sum-not-mean", "sum-not-mean-loss-summed"),
    ("torch_linear", "step-before-backward", "stale-gradient-step-before-backward"),
    ("torch_feedforward", "adamw", "adamw-not-adam"),
    ("torch_feedforward", "no-zero-grad", "gradients-not-cleared"),
    ("torch_feedforward", "rate-x10", "wrong-learning-rate"),
    ("torch_feedforward", "ascent", "update-sign-flipped"),
    ("torch_feedforward", "sum-not-mean", "sum-not-mean-loss-summed"),
    ("logistic", "sigmoid-twice", "sigmoid-applied-twice"),
    ("logistic", "ascent", "update-sign-flipped"),
    ("logistic", "rate-x10", "wrong-learning-rate"),
    ("logistic", "no-zero-grad", "gradients-not-cleared"),
    # zero_grad() opens this loop's body: step() moved before backward() finds no .grad
    # (set_to_none), so nothing ever moves -- the gradients-cleared-before-step fault.
    ("logistic", "step-before-backward", "gradients-cleared-before-step"),
]
"""The held-out table: every bug the four torch loops can plant (each loop's ``BUGS``)."""


def test_every_torch_loops_bugs_are_in_the_table():
    for name in TORCH_LOOPS:
        planted = {bug for loop, bug, _ in PLANTED if loop == name}
        assert planted == set(loop_module(name).BUGS) and len(planted) >= 3


def test_planted_bugs_in_torch_loops_are_caught_and_named():
    """Each buggy run is checked against the spec its bug-free run infers (the author's)."""
    specs = {}

    def verdict_of(name, bug):
        loop = loop_module(name)
        if name not in specs:
            specs[name] = loop.train().experiment()
        return loop.train(bug=bug).check(specs[name])

    assert_planted_figures(PLANTED, verdict_of)
