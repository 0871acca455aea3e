"""Model kinds (functional_training._models) and data sets by name, files included."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import functional_training as ft
from functional_training._datasets import named_data, parse_data_name


def test_linear_parameter_names_follow_the_one_rule():
    assert ft.parameter_names("linear", features=1) == ("w", "b")
    assert ft.parameter_names("linear", features=3) == ("w[0]", "w[1]", "w[2]", "b")


def test_mlp_names_are_remembered_per_configuration_and_per_kind(monkeypatch):
    # The names a list-valued and a tuple-valued configuration ask for are one object, equal
    # to the rule written out here; a kind registered under the same name with other shapes
    # gets its own names (the memory is keyed by the kind's shapes and build, not its name).
    expected = (*(f"layers.0.w[{i},{j}]" for i in range(2) for j in range(3)),
                *(f"layers.0.b[{j}]" for j in range(3)),
                *(f"layers.1.w[{i},0]" for i in range(3)), "layers.1.b[0]")
    first = ft.parameter_names("mlp", sizes=[2, 3, 1], activation="tanh")
    assert first == expected
    assert ft.parameter_names("mlp", sizes=(2, 3, 1), activation="tanh") is first
    monkeypatch.setitem(ft.MODEL_KINDS, "mlp", ft.MODEL_KINDS["linear"])
    assert ft.parameter_names("mlp", features=2) == ("w[0]", "w[1]", "b")


def test_seeded_values_are_the_documented_numpy_scheme():
    w = np.random.default_rng(11).uniform(-1.0, 1.0, size=4) / np.sqrt(4)
    values = ft.initial_values("linear", init="seeded", seed=11, features=4)
    assert values == {**{f"w[{i}]": w[i] for i in range(4)}, "b": 0.0}
    assert ft.initial_values("linear", features=2) == {"w[0]": 0.0, "w[1]": 0.0, "b": 0.0}


def test_params_from_values_inverts_the_naming_rule():
    values = {"w[0]": 1.5, "w[1]": -2.0, "b": 0.25}
    params = ft.params_from_values("linear", values, features=2)
    np.testing.assert_array_equal(params.w, [1.5, -2.0])
    assert ft.named_series(params, leading=0) == {k: np.float64(v) for k, v in values.items()}
    assert np.shape(ft.params_from_values("linear", {"w": 1.0, "b": 0.0}, features=1).w) == ()


@pytest.mark.parametrize("call, message", [
    (lambda: ft.model_kind("cnn"), "unknown model kind 'cnn'; expected one of linear, mlp"),
    (lambda: ft.params_from_values("linear", {"w": 1.0}, features=1),
     "linear parameters: missing 'b'; expected w, b"),
    (lambda: ft.params_from_values("linear", {"w": 1.0, "b": 0.0, "c": 1.0}, features=1),
     "linear parameters: unknown 'c'"),
    (lambda: ft.initial_values("linear", init="ones", features=1), "unknown init 'ones'"),
    (lambda: ft.parameter_names("linear", features=0), "features must be an integer >= 1"),
])
def test_model_kind_errors_are_one_line(call, message):
    with pytest.raises(ValueError) as caught:
        call()
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_linear_kind_forward_is_x_at_w_plus_b(x64):
    params = ft.params_from_values("linear", {"w[0]": 2.0, "w[1]": -1.0, "b": 0.5}, features=2)
    x = np.array([[1.0, 3.0], [2.0, 0.0]])
    apply = ft.model_kind("linear").forward(features=2)
    np.testing.assert_array_equal(apply(params, x), x @ [2.0, -1.0] + 0.5)


def test_a_data_file_is_a_named_data_set_with_its_content_hash(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n1,2,3\n4,5,6\n")
    assert parse_data_name(str(path)) == str(path)
    data = named_data(str(path))
    np.testing.assert_array_equal(data.x, [[1.0, 2.0], [4.0, 5.0]])
    np.testing.assert_array_equal(data.y, [3.0, 6.0])
    assert dict(data.files) == {"train": "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()}
    one = named_data(str(path), features=["b"], target="a")
    assert one.x.shape == (2,) and one.features == ("b",) and one.target == "a"


def test_features_of_named_data_are_refused():
    with pytest.raises(ValueError, match="features and target name columns of a data file"):
        named_data("shipments", features=["x"])


# --- linear with k outputs (softmax regression) ------------------------------------------


def test_linear_with_outputs_names_a_weight_per_feature_and_output():
    assert ft.parameter_names("linear", features=2, outputs=3) == (
        "w[0,0]", "w[0,1]", "w[0,2]", "w[1,0]", "w[1,1]", "w[1,2]", "b[0]", "b[1]", "b[2]")
    assert ft.parameter_names("linear", features=2, outputs=1) == ("w[0]", "w[1]", "b")
    kind = ft.model_kind("linear")
    assert (kind.inputs(features=2, outputs=3), kind.outputs(features=2, outputs=3)) == (2, 3)
    assert kind.defaults == {"outputs": 1}


def test_linear_with_outputs_is_seeded_by_the_documented_numpy_scheme():
    w = np.random.default_rng(5).uniform(-1.0, 1.0, size=(2, 3)) / np.sqrt(2)
    values = ft.initial_values("linear", init="seeded", seed=5, features=2, outputs=3)
    assert values == {**{f"w[{i},{j}]": w[i, j] for i in range(2) for j in range(3)},
                      **{f"b[{j}]": 0.0 for j in range(3)}}


def test_linear_with_outputs_forward_is_x_at_w_plus_b(x64):
    """NumPy float64 x @ W + b, shape (n, k); 1e-12 (one matmul's rounding order)."""
    w = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]])
    b = np.array([0.1, -0.2, 0.3])
    values = {**{f"w[{i},{j}]": w[i, j] for i in range(2) for j in range(3)},
              **{f"b[{j}]": b[j] for j in range(3)}}
    params = ft.params_from_values("linear", values, features=2, outputs=3)
    x = np.array([[1.0, 3.0], [2.0, 0.0], [-1.0, 0.5]])
    got = ft.model_kind("linear").forward(features=2, outputs=3)(params, x)
    np.testing.assert_allclose(got, x @ w + b, rtol=1e-12, atol=1e-12)
    loss = ft.objective("linear", loss="softmax-cross-entropy", features=2, outputs=3)
    z = x @ w + b
    targets = np.array([2, 0, 1])
    expected = np.mean(np.log(np.sum(np.exp(z), axis=1)) - z[np.arange(3), targets])
    np.testing.assert_allclose(float(loss.mean_loss(params, x, targets.astype(float))),
                               expected, rtol=1e-12)


def test_linear_outputs_must_be_a_positive_integer():
    with pytest.raises(ValueError, match="^linear: outputs must be an integer >= 1, got 0$"):
        ft.parameter_names("linear", features=2, outputs=0)


SOFTMAX_SPEC = """\
name = "softmax-regression"
[data]
train = [[1.0, 0.5, 0], [2.0, -1.0, 1], [0.0, 1.0, 2], [0.3, 0.2, 1], [-1.0, 0.4, 0],
         [0.7, -0.6, 2]]
[model]
kind = "linear"
outputs = 3
init = "seeded"
seed = 2
[loss]
kind = "softmax-cross-entropy"
[optimizer]
name = "sgd"
learning_rate = 0.5
[run]
steps = 6
batch_size = 3
seed = 1
"""


def test_train_spec_runs_softmax_regression_like_numpy(tmp_path, capsys):
    """``train --spec`` on a linear model with 3 outputs against softmax regression in NumPy
    float64 (mean cross-entropy, plain SGD, the spec's batch order); tolerance
    ft.tolerance("float64", S), the project's float64 policy."""
    import json

    from cli_helpers import run_cli

    spec = tmp_path / "softmax.toml"
    spec.write_text(SOFTMAX_SPEC)
    code, out, err = run_cli(capsys, "functional_training", "train", "--spec", spec, "--json",
                             tmp_path / "r.json")
    assert code == 0, err
    traj = json.loads((tmp_path / "r.json").read_text())["trajectory"]
    rows = np.array([[1.0, 0.5, 0], [2.0, -1.0, 1], [0.0, 1.0, 2], [0.3, 0.2, 1],
                     [-1.0, 0.4, 0], [0.7, -0.6, 2]])
    x, t = rows[:, :2], rows[:, 2].astype(int)
    values = ft.initial_values("linear", init="seeded", seed=2, features=2, outputs=3)
    w = np.array([[values[f"w[{i},{j}]"] for j in range(3)] for i in range(2)])
    b = np.array([values[f"b[{j}]"] for j in range(3)])
    losses = []
    for rows_k in ft.minibatch_indices(6, batch_size=3, steps=6, seed=1):
        z = x @ w + b
        losses.append(np.mean(np.log(np.sum(np.exp(z), 1)) - z[np.arange(6), t]))
        zb = z[rows_k]
        p = np.exp(zb - zb.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(3), t[rows_k]] -= 1.0
        w, b = w - 0.5 * x[rows_k].T @ p / 3, b - 0.5 * p.sum(0) / 3
    tol = ft.tolerance("float64", 6)
    np.testing.assert_allclose(traj["train_loss"][:6], losses, rtol=tol, atol=tol)
    final = traj["params"]
    np.testing.assert_allclose([final[f"w[{i},{j}]"][-1] for i in range(2) for j in range(3)],
                               w.reshape(-1), rtol=tol, atol=tol)
    np.testing.assert_allclose([final[f"b[{j}]"][-1] for j in range(3)], b, rtol=tol, atol=tol)
