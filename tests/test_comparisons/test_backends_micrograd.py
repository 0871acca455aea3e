"""micrograd's own MLP, trained as its demo trains it, against ``comparisons run --spec --json``.

The issue's acceptance check for the next lessons: a spec with explicit per-layer
weights for a 2-16-16-1 ReLU network, hinge loss, ``l2`` and a linear schedule,
run through the command line (``comparisons.cli.main``, in this process), gives the
same parameters after every step as micrograd's ``MLP`` (micrograd 0.1.0, a test-only
dependency) trained the same way: full batch,
``loss = mean(relu(1 - y * score)) + alpha * sum(p * p)``,
``p.data -= lr_k * p.grad`` with ``lr_k = 1.0 - 0.9 * k / 100``.

micrograd's neuron sums ``b + w_0 x_0 + w_1 x_1 + ...`` (the bias first) and its
rate is ``1 - 0.9 k / 100`` where optax's linear schedule computes
``(1 - 0.1)(1 - k / 100) + 0.1``: the same real numbers rounded differently, a few
ulps per step. Tolerance: the comparator's float64 1e-12, relative to the largest
parameter: these roundings pass through 20 steps of a ReLU network whose kinks
could amplify them only where a pre-activation sits within rounding of zero
(none does: the smallest is checked to exceed 1e-9), and the differences measured
are 2e-16 to 4e-16; a real difference (a missing l2 term, a wrong rate, a swapped
weight index) is 1e-4 or larger.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import run_cli

from comparisons.experiments import moons_rows
from functional_training import initial_values, parameter_names

micrograd_engine = pytest.importorskip("micrograd.engine")
micrograd_nn = pytest.importorskip("micrograd.nn")

SIZES = [2, 16, 16, 1]
STEPS = 20
ALPHA = 1e-4
N = 24  # fewer moons than the demo's 100 keeps the scalar engines (ours and micrograd's) quick
RTOL = 1e-12


def _layers_toml(values: dict[str, float]) -> str:
    """``[[model.layers]]`` tables with the exact values (repr round-trips floats)."""
    tables = []
    for layer, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        w = [[values[f"layers.{layer}.w[{i},{j}]"] for j in range(fan_out)]
             for i in range(fan_in)]
        b = [values[f"layers.{layer}.b[{j}]"] for j in range(fan_out)]
        rows = ", ".join("[" + ", ".join(repr(v) for v in row) + "]" for row in w)
        tables.append(f"[[model.layers]]\nw = [{rows}]\nb = [{', '.join(map(repr, b))}]\n")
    return "\n".join(tables)


def _spec(rows, values) -> str:
    data = ", ".join("[" + ", ".join(repr(v) for v in row) + "]" for row in rows)
    return f"""name = "micrograd-moons"
[data]
train = [{data}]
[model]
kind = "mlp"
sizes = {SIZES}
activation = "relu"
{_layers_toml(values)}
[loss]
kind = "hinge"
l2 = {ALPHA!r}
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


def _micrograd_run(rows, values) -> dict[str, list[float]]:
    """micrograd's MLP with our initial values, trained as its demo notebook does."""
    model = micrograd_nn.MLP(SIZES[0], SIZES[1:])
    named = {}
    for layer, micro_layer in enumerate(model.layers):
        for j, neuron in enumerate(micro_layer.neurons):
            for i, weight in enumerate(neuron.w):
                weight.data = values[f"layers.{layer}.w[{i},{j}]"]
                named[f"layers.{layer}.w[{i},{j}]"] = weight
            neuron.b.data = values[f"layers.{layer}.b[{j}]"]
            named[f"layers.{layer}.b[{j}]"] = neuron.b
    Value = micrograd_engine.Value
    history = {name: [p.data] for name, p in named.items()}
    smallest_pre_activation = np.inf
    for k in range(STEPS):
        inputs = [[Value(x) for x in row[:-1]] for row in rows]
        scores = [model(x) for x in inputs]
        losses = [(1 + -row[-1] * score).relu() for row, score in zip(rows, scores, strict=True)]
        data_loss = sum(losses) * (1.0 / len(losses))
        total = data_loss + ALPHA * sum(p * p for p in model.parameters())
        model.zero_grad()
        total.backward()
        rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= rate * p.grad
        for name, p in named.items():
            history[name].append(p.data)
        for row in rows:  # how close any hidden unit sits to relu's kink (plain floats)
            a = row[:-1]
            for micro_layer in model.layers[:-1]:
                pre = [sum((wi.data * xi for wi, xi in zip(n.w, a, strict=True)), n.b.data)
                       for n in micro_layer.neurons]
                smallest_pre_activation = min(smallest_pre_activation, *map(abs, pre))
                a = [max(p, 0.0) for p in pre]
    history["_smallest_pre_activation"] = [smallest_pre_activation]
    return history


@pytest.mark.slow
def test_spec_run_matches_micrograds_own_mlp_step_by_step(capsys, tmp_path):
    rows = moons_rows(N, noise=0.1, seed=3)
    values = initial_values("mlp", init="seeded", seed=11, sizes=SIZES, activation="relu")
    spec = tmp_path / "micrograd.toml"
    spec.write_text(_spec(rows, values))
    report = tmp_path / "report.json"
    code, _, err = run_cli(capsys, "comparisons", "run", "--spec", spec, "--json", report,
                           "--backend", "manual", "--backend", "engine", "--backend", "torch",
                           "--backend", "jax")
    assert code == 0, err
    experiment = json.loads(report.read_text())["experiments"][0]
    assert experiment["agree"], experiment["first_mismatch"]

    expected = _micrograd_run(rows, values)
    assert expected.pop("_smallest_pre_activation")[0] > 1e-9  # no kink within rounding
    names = parameter_names("mlp", sizes=SIZES, activation="relu")
    scale = max(abs(v) for series in expected.values() for v in series)
    for backend, trajectory in experiment["backends"].items():
        assert list(trajectory["params"]) == list(names), backend
        for name in names:
            np.testing.assert_allclose(trajectory["params"][name], expected[name],
                                       rtol=0, atol=RTOL * scale,
                                       err_msg=f"{backend} {name}")
    # The rate each backend recorded is micrograd's 1 - 0.9 k / 100, to rounding (torch's
    # LinearLR multiplies the rate by a factor each step: a few ulps by step 100).
    for backend, trajectory in experiment["backends"].items():
        np.testing.assert_allclose(trajectory["extras"]["learning_rate"],
                                   [1.0 - 0.9 * k / 100 for k in range(STEPS)], rtol=1e-14,
                                   atol=0, err_msg=backend)
