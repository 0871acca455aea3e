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
