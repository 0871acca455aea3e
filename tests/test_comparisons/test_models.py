"""The ``mlp`` kind's backend pieces (``comparisons.models.mlp``) against the JAX core.

Expected values come from ``functional_training``'s own ``mlp`` in float64:
``Objective.outputs`` for the forward and ``jax.vjp`` of it for the gradient of
one example (``dL/dtheta = g . doutput/dtheta`` for the error signal ``g =
dL/doutput``), never from the code under test.

Tolerance, every closeness check: the comparator's float64 rule, ``|a - r| <=
1e-12 (1 + max(|r|, s))`` with ``s`` the largest ``|r|`` of the compared group
(``functional_training.tolerance("float64", ...)``). Why not bitwise: the C
library's ``tanh``/``exp`` and JAX's or torch's vectorised kernels differ by an ulp
or two, and XLA and torch sum a layer's products in another order than the
loops; a gradient that is a sum of terms that cancel keeps the rounding of its
largest terms, hence the group scale ``s``.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functional_training as ft
from comparisons.engine import Value
from comparisons.models import MODELS, linear, mlp, model_pieces

TOL = ft.tolerance("float64", 0)  # 1e-12: the project's float64 tolerance (module docstring)

ACTIVATIONS = ("tanh", "relu", "sigmoid")
SIZES = ([2, 3, 1], [2, 16, 16, 1], [1, 8, 1], [2, 4, 3], [3, 2])
CONFIGS = [(sizes, activation) for sizes in SIZES for activation in ACTIVATIONS]


def _ids(config) -> str:
    sizes, activation = config
    return f"{'-'.join(map(str, sizes))}-{activation}"


def assert_close(actual, expected, what: str) -> None:
    """The comparator's float64 rule over one group (see the module docstring)."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=TOL,
                               atol=TOL * (1.0 + scale), err_msg=what)


def random_values(sizes, activation, seed: int) -> dict[str, float]:
    """Every parameter drawn from N(0, 0.7^2) (biases too, so no pre-activation sits at 0)."""
    rng = np.random.default_rng(seed)
    names = ft.parameter_names("mlp", sizes=sizes, activation=activation)
    return {name: float(v) for name, v in zip(names, rng.normal(0.0, 0.7, len(names)),
                                               strict=True)}


@functools.cache
def _jax_vjp(sizes: tuple, activation: str):
    """A jitted ``(params, x (d,), g) -> (output, dL/dparams)`` from the core's forward."""
    apply = ft.model_kind("mlp").forward(sizes=list(sizes), activation=activation)

    def forward_and_vjp(params, x, g):
        output, vjp = jax.vjp(lambda p: apply(p, x[None, :])[0], params)
        return output, vjp(g)[0]

    return jax.jit(forward_and_vjp)


def jax_reference(sizes, activation, values, x, g) -> tuple[np.ndarray, dict[str, float]]:
    """The core's output for one example (a scalar or ``k``) and ``g . doutput/dtheta`` by name."""
    with ft.float64():
        params = ft.params_from_values("mlp", values, sizes=sizes, activation=activation)
        output, grads = _jax_vjp(tuple(sizes), activation)(
            params, jnp.asarray(x, dtype=jnp.float64), jnp.asarray(g, dtype=jnp.float64))
        named = ft.named_series(grads, leading=0)
    return np.asarray(output), {name: float(v) for name, v in named.items()}


def example(sizes, seed: int) -> tuple[list[float], float | list[float]]:
    """An input row of ``d`` features and an error signal (a float, or ``k`` of them)."""
    rng = np.random.default_rng(seed + 1000)
    x = [float(v) for v in rng.normal(0.0, 1.5, sizes[0])]
    g = [float(v) for v in rng.normal(0.0, 2.0, sizes[-1])]
    return x, (g[0] if sizes[-1] == 1 else g)


def test_mlp_is_registered_for_every_core_kind():
    assert model_pieces("mlp") is mlp
    assert set(MODELS) == set(ft.MODEL_KINDS)


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_manual_forward_matches_jax(config):
    sizes, activation = config
    values = random_values(sizes, activation, seed=1)
    for seed in range(3):
        x, g = example(sizes, seed)
        expected, _ = jax_reference(sizes, activation, values, x, g)
        out = mlp.manual_predict(values, x, sizes=sizes, activation=activation)
        if sizes[-1] == 1:
            assert isinstance(out, float)
        else:
            assert isinstance(out, list) and len(out) == sizes[-1]
        assert_close(out, expected, f"forward {config} x={x}")


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_manual_gradients_match_jax(config):
    sizes, activation = config
    values = random_values(sizes, activation, seed=2)
    for seed in range(3):
        x, g = example(sizes, seed)
        _, expected = jax_reference(sizes, activation, values, x, g)
        grads = mlp.manual_gradients(values, x, g, sizes=sizes, activation=activation)
        assert list(grads) == list(ft.parameter_names("mlp", sizes=sizes,
                                                      activation=activation))
        assert_close([grads[n] for n in expected], list(expected.values()),
                     f"gradients {config} x={x}")


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_engine_forward_and_gradients_match_jax(config):
    sizes, activation = config
    values = random_values(sizes, activation, seed=3)
    x, g = example(sizes, seed=0)
    expected_out, expected_grads = jax_reference(sizes, activation, values, x, g)
    leaves = {name: Value(v) for name, v in values.items()}
    out = mlp.engine_predict(leaves, x, sizes=sizes, activation=activation)
    nodes = out if isinstance(out, list) else [out]
    signal = g if isinstance(g, list) else [g]
    assert_close([node.data for node in nodes], np.atleast_1d(expected_out), f"forward {config}")

    root = nodes[0] * signal[0]  # sum_j g_j output_j: its gradient is the vjp with g
    for node, gj in zip(nodes[1:], signal[1:], strict=True):
        root = root + node * gj
    root.backward()
    assert_close([leaves[n].grad for n in expected_grads], list(expected_grads.values()),
                 f"gradients {config}")


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_torch_forward_and_gradients_match_jax(config):
    torch = pytest.importorskip("torch")
    sizes, activation = config
    values = random_values(sizes, activation, seed=4)
    module = mlp.torch_module(torch, dtype=torch.float64, sizes=sizes, activation=activation)
    located = mlp.torch_parameters(module)
    assert list(located) == list(ft.parameter_names("mlp", sizes=sizes, activation=activation))
    assert list(mlp.torch_leaves(module)) == list(
        ft.model_kind("mlp").shapes(sizes=sizes, activation=activation))
    with torch.no_grad():
        for name, (tensor, index) in located.items():
            tensor[index] = values[name]

    rows = [example(sizes, seed) for seed in range(4)]
    x = torch.tensor([row[0] for row in rows], dtype=torch.float64)
    signal = torch.tensor([row[1] if isinstance(row[1], list) else [row[1]] for row in rows],
                          dtype=torch.float64)
    out = module(x)
    assert tuple(out.shape) == (len(rows), sizes[-1])
    references = [jax_reference(sizes, activation, values, *row) for row in rows]
    assert_close(out.detach().numpy(), [np.atleast_1d(r[0]) for r in references],
                 f"forward {config}")

    out.backward(signal)  # the batch's gradient: the sum of each example's vjp
    expected = {name: sum(r[1][name] for r in references) for name in located}
    actual = [tensor.grad[index].item() for tensor, index in located.values()]
    assert_close(actual, list(expected.values()), f"gradients {config}")


def test_torch_parameters_maps_w_ij_to_weight_ji():
    torch = pytest.importorskip("torch")
    sizes = [2, 4, 3]
    module = mlp.torch_module(torch, dtype=torch.float64, sizes=sizes, activation="tanh")
    values = random_values(sizes, "tanh", seed=5)
    with torch.no_grad():
        for name, (tensor, index) in mlp.torch_parameters(module).items():
            tensor[index] = values[name]
    first, second = module[0], module[2]
    assert tuple(first.weight.shape) == (4, 2) and tuple(second.weight.shape) == (3, 4)
    for i in range(2):
        for j in range(4):
            assert first.weight[j, i].item() == values[f"layers.0.w[{i},{j}]"]
    for j in range(3):
        assert second.bias[j].item() == values[f"layers.1.b[{j}]"]
    # Set through the mapping, torch's own forward is the manual forward.
    rows = [[0.3, -1.2], [2.0, 0.5]]
    out = module(torch.tensor(rows, dtype=torch.float64)).detach().numpy()
    for row, torch_out in zip(rows, out, strict=True):
        assert_close(torch_out, mlp.manual_predict(values, row, sizes=sizes), f"row {row}")


def test_torch_module_never_touches_the_global_rng():
    torch = pytest.importorskip("torch")
    state = torch.random.get_rng_state()
    mlp.torch_module(torch, dtype=torch.float64, sizes=[2, 16, 16, 1], activation="relu")
    assert torch.equal(state, torch.random.get_rng_state())


def test_relu_derivative_is_zero_at_exactly_zero_in_every_backend():
    # x = 0 and zero first-layer biases put every hidden pre-activation at exactly 0,
    # where relu'(0) = 0 in manual, engine, torch and jax alike.
    torch = pytest.importorskip("torch")
    sizes, x, g = [2, 3, 1], [0.0, 0.0], 1.5
    values = random_values(sizes, "relu", seed=6)
    values.update({f"layers.0.b[{j}]": 0.0 for j in range(3)})
    _, expected = jax_reference(sizes, "relu", values, x, g)
    first_layer = [n for n in expected if n.startswith("layers.0.")]
    assert all(expected[n] == 0.0 for n in first_layer)

    manual = mlp.manual_gradients(values, x, g, sizes=sizes, activation="relu")
    leaves = {name: Value(v) for name, v in values.items()}
    (mlp.engine_predict(leaves, x, sizes=sizes, activation="relu") * g).backward()
    module = mlp.torch_module(torch, dtype=torch.float64, sizes=sizes, activation="relu")
    located = mlp.torch_parameters(module)
    with torch.no_grad():
        for name, (tensor, index) in located.items():
            tensor[index] = values[name]
    module(torch.tensor([x], dtype=torch.float64)).backward(
        torch.tensor([[g]], dtype=torch.float64))
    for name in first_layer:
        tensor, index = located[name]
        assert manual[name] == leaves[name].grad == tensor.grad[index].item() == 0.0, name
    assert_close([manual[n] for n in expected], list(expected.values()), "manual")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       config=st.sampled_from([([2, 3, 1], a) for a in ACTIVATIONS]
                              + [([2, 4, 3], a) for a in ACTIVATIONS]),
       x=st.lists(st.floats(-8.0, 8.0), min_size=2, max_size=2),
       g=st.floats(-10.0, 10.0))
def test_manual_and_engine_match_jax_on_drawn_examples(seed, config, x, g):
    # Inputs up to 8 with weights N(0, 0.7^2) saturate tanh and sigmoid in places.
    sizes, activation = config
    values = random_values(sizes, activation, seed)
    signal = g if sizes[-1] == 1 else [g, -0.5 * g, 1.0]
    expected_out, expected = jax_reference(sizes, activation, values, x, signal)
    assert_close(mlp.manual_predict(values, x, sizes=sizes, activation=activation),
                 expected_out, "manual forward")
    grads = mlp.manual_gradients(values, x, signal, sizes=sizes, activation=activation)
    assert_close([grads[n] for n in expected], list(expected.values()), "manual gradients")

    leaves = {name: Value(v) for name, v in values.items()}
    out = mlp.engine_predict(leaves, x, sizes=sizes, activation=activation)
    nodes, weights = (out, signal) if isinstance(out, list) else ([out], [signal])
    root = nodes[0] * weights[0]
    for node, weight in zip(nodes[1:], weights[1:], strict=True):
        root = root + node * weight
    root.backward()
    assert_close([leaves[n].grad for n in expected], list(expected.values()),
                 "engine gradients")


def test_sigmoid_is_stable_for_large_pre_activations():
    # exp(1000) would overflow math.exp; the written-stable sigmoid never calls it.
    values = {"layers.0.w[0,0]": 1.0, "layers.0.b[0]": 0.0,
              "layers.1.w[0,0]": 1.0, "layers.1.b[0]": 0.0}
    config = {"sizes": [1, 1, 1], "activation": "sigmoid"}
    assert mlp.manual_predict(values, [1000.0], **config) == 1.0
    assert mlp.manual_predict(values, [-1000.0], **config) == 0.0
    grads = mlp.manual_gradients(values, [-1000.0], 1.0, **config)
    assert grads["layers.0.w[0,0]"] == 0.0 and grads["layers.1.w[0,0]"] == 0.0


def test_overflow_gives_inf_not_an_exception():
    # A diverged run must record inf: Python float products overflow to inf quietly.
    values = {"layers.0.w[0,0]": 1e200, "layers.0.b[0]": 0.0,
              "layers.1.w[0,0]": 1e200, "layers.1.b[0]": 0.0}
    config = {"sizes": [1, 1, 1], "activation": "relu"}
    assert mlp.manual_predict(values, [1.0], **config) == math.inf
    expected, _ = jax_reference([1, 1, 1], "relu", values, [1.0], 1.0)
    assert float(expected) == math.inf


@pytest.mark.parametrize("call, message", [
    (lambda: mlp.manual_predict({}, [1.0, 2.0], sizes=[3, 1]), "2 features"),
    (lambda: mlp.manual_predict({}, [1.0], sizes=[1, 1], activation="gelu"), "gelu"),
    (lambda: mlp.manual_predict({}, [1.0], sizes=[1, 0]), "sizes"),
    (lambda: mlp.manual_gradients(random_values([1, 2], "tanh", 0), [1.0], [1.0],
                                  sizes=[1, 2]), "1 values"),
    (lambda: linear.manual_predict({"w": 1.0, "b": 0.0}, [1.0], features=2), "1 features"),
])
def test_bad_configuration_is_one_line_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_linear_takes_its_configuration_as_keywords_too():
    params = {"w[0]": 1.0, "w[1]": 2.0, "b": 0.5}
    assert linear.manual_predict(params, (3.0, 4.0), features=2) == 11.5
    assert linear.manual_gradients(params, (3.0, 4.0), 0.5, features=2) == {
        "w[0]": 1.5, "w[1]": 2.0, "b": 0.5}
    leaves = {name: Value(v) for name, v in params.items()}
    assert linear.engine_predict(leaves, (3.0, 4.0), features=2).data == 11.5


# --- linear with k outputs (softmax regression) --------------------------------------------

W3 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]])
B3 = np.array([0.1, -0.2, 0.3])
VALUES3 = {**{f"w[{i},{j}]": W3[i, j] for i in range(2) for j in range(3)},
           **{f"b[{j}]": B3[j] for j in range(3)}}


def test_linear_with_outputs_forward_and_gradient_are_numpys():
    """Against NumPy float64: ``s = x @ W + b``, ``dL/dW = outer(x, g)``, ``dL/db = g``."""
    x, g = (1.0, -2.0), [0.25, -0.5, 0.125]
    assert_close(linear.manual_predict(VALUES3, x, outputs=3), np.asarray(x) @ W3 + B3, "s")
    grads = linear.manual_gradients(VALUES3, x, g, outputs=3)
    outer = np.outer(x, g)
    assert grads == {**{f"w[{i},{j}]": outer[i, j] for i in range(2) for j in range(3)},
                     **{f"b[{j}]": g[j] for j in range(3)}}
    leaves = {name: Value(v) for name, v in VALUES3.items()}
    scores = linear.engine_predict(leaves, x, outputs=3)
    assert_close([s.data for s in scores], np.asarray(x) @ W3 + B3, "engine")


def test_linear_with_outputs_maps_w_ij_to_torch_weight_ji():
    torch = pytest.importorskip("torch")
    module = linear.torch_module(torch, dtype=torch.float64, features=2, outputs=3)
    located = linear.torch_parameters(module)
    assert set(located) == set(ft.parameter_names("linear", features=2, outputs=3))
    with torch.no_grad():
        for name, (tensor, index) in located.items():
            tensor[index] = VALUES3[name]
    assert module.weight[2, 1].item() == VALUES3["w[1,2]"]
    out = module(torch.tensor([[1.0, -2.0]], dtype=torch.float64)).detach().numpy()[0]
    assert_close(out, linear.manual_predict(VALUES3, (1.0, -2.0), outputs=3), "torch")
