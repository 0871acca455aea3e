"""Several features and users' data files through the spec reader and all four backends.

Expected values come from the independent NumPy float64 loop of
``tests/numpy_reference.py`` (``numpy_linear``), never from the code under test.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from numpy_reference import numpy_linear

import functional_training as ft
from comparisons import cli
from comparisons.backends import get_backend
from comparisons.experiments import REGISTRY, batch_order, d2l_regression
from comparisons.spec import SpecError, dump_spec, load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[2]
DELIVERIES = ROOT / "examples" / "deliveries.toml"
DATA = ROOT / "comparisons" / "data"


def _columns(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The CSV read with the csv module (not the reader under test): features, target."""
    with open(path, newline="") as handle:
        rows = [[float(v) for v in row] for row in list(csv.reader(handle))[1:]]
    table = np.asarray(rows)
    return table[:, :-1], table[:, -1]


def test_csv_spec_with_three_features_agrees_on_all_backends_and_matches_numpy(tmp_path):
    report = tmp_path / "report.json"
    assert cli.main(["run", "--spec", str(DELIVERIES), "--json", str(report)]) == 0
    entry = json.loads(report.read_text())["experiments"][0]
    assert entry["agree"] and set(entry["backends"]) == {"manual", "engine", "torch", "jax"}
    manual = entry["backends"]["manual"]
    assert list(manual["params"]) == ["w[0]", "w[1]", "w[2]", "b"]

    x, y = _columns(DATA / "deliveries-train.csv")
    x_val, y_val = _columns(DATA / "deliveries-validation.csv")
    ref = numpy_linear(np.zeros(3), 0.0, x, y, steps=60, learning_rate=0.05, optimizer="adam",
                       batch_indices=manual["batches"], x_val=x_val, y_val=y_val)
    tol = ft.tolerance("float64", 60)  # rtol = atol = 1e-12: float64 rounding, 60 steps
    for backend in ("manual", "engine", "torch", "jax"):
        traj = entry["backends"][backend]
        for i in range(3):
            np.testing.assert_allclose(traj["params"][f"w[{i}]"], ref["w"][:, i], rtol=tol,
                                       atol=tol)
            np.testing.assert_allclose(traj["grads"][f"w[{i}]"], ref["grad_w"][:, i], rtol=tol,
                                       atol=tol)
        np.testing.assert_allclose(traj["params"]["b"], ref["b"], rtol=tol, atol=tol)
        np.testing.assert_allclose(traj["batch_loss"], ref["batch_loss"], rtol=tol, atol=tol)
        np.testing.assert_allclose(traj["val_loss"], ref["val_loss"], rtol=tol, atol=tol)


def test_registry_multi_feature_shipments_reads_the_shipped_files():
    experiment = REGISTRY["multi-feature/shipments"]
    x, y = _columns(DATA / "deliveries-train.csv")
    assert experiment.features == 3
    np.testing.assert_array_equal(np.asarray(experiment.train), np.column_stack([x, y]))
    assert experiment.validation is not None and experiment.optimizer == "adam"
    assert experiment.batch_size is not None


def test_d2l_regression_is_the_documented_generator():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, size=(1000, 2))
    y = x @ np.array([2.0, -3.4]) + 4.2 + rng.normal(0.0, 0.01, size=1000)
    np.testing.assert_array_equal(np.asarray(d2l_regression()), np.column_stack([x, y]))


def test_d2l_manual_backend_matches_numpy_and_recovers_the_true_weights():
    experiment = REGISTRY["multi-feature/d2l"]
    assert (experiment.steps, experiment.batch_size, experiment.learning_rate) == (300, 10, 0.03)
    traj = get_backend("manual").run(experiment)
    rows = np.asarray(experiment.train)
    init = [experiment.init["w[0]"], experiment.init["w[1]"]]
    ref = numpy_linear(init, experiment.init["b"], rows[:, :2], rows[:, 2], steps=300,
                       learning_rate=0.03, batch_indices=batch_order(experiment))
    tol = ft.tolerance("float64", 300)
    np.testing.assert_allclose(traj.params["w[1]"], ref["w"][:, 1], rtol=tol, atol=tol)
    np.testing.assert_allclose(traj.train_loss, ref["train_loss"], rtol=tol, atol=tol)
    # 3 epochs of d2l's setup recover w = [2, -3.4], b = 4.2 to within the noise (0.01).
    final = [traj.params[n][-1] for n in ("w[0]", "w[1]", "b")]
    np.testing.assert_allclose(final, [2.0, -3.4, 4.2], atol=0.01)


# multi-feature/d2l across all four backends: tests/test_comparisons/test_compare.py runs every
# registry experiment on every backend.


# --- the spec grammar ----------------------------------------------------------------------


def _spec(data: str, model: str = 'w = [0.0, 0.0]\nb = 0.0', run: str = "steps = 2") -> str:
    return (f'name = "s"\n[data]\n{data}\n[model]\n{model}\n'
            f'[optimizer]\nname = "sgd"\nlearning_rate = 0.01\n[run]\n{run}\n')


def test_inline_rows_with_two_features_and_a_list_of_weights():
    e = parse_spec(_spec("train = [[1.0, 2.0, 5.0], [2.0, 1.0, 4.0]]",
                         "w = [0.5, -0.5]\nb = 1.0"))
    assert (e.features, e.init) == (2, {"w[0]": 0.5, "w[1]": -0.5, "b": 1.0})
    assert parse_spec(dump_spec(e)) == e


def test_file_paths_are_relative_to_the_spec_and_columns_are_chosen(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "t.csv").write_text("a,b,c,y\n1,2,3,4\n5,6,7,8\n")
    spec = tmp_path / "s.toml"
    spec.write_text(_spec('train = "d/t.csv"\nfeatures = ["c", "a"]\ntarget = "b"'))
    e = load_spec(spec)
    assert e.train == ((3.0, 1.0, 2.0), (7.0, 5.0, 6.0))


@pytest.mark.parametrize("init, seed", [("zeros", None), ("seeded", 4)])
def test_named_initialisations_are_made_once_with_numpy(init, seed):
    model = f'init = "{init}"' + ("" if seed is None else f"\nseed = {seed}")
    e = parse_spec(_spec("train = [[1.0, 2.0, 5.0]]", model))
    if init == "zeros":
        assert e.init == {"w[0]": 0.0, "w[1]": 0.0, "b": 0.0}
    else:  # the documented scheme: uniform(-1, 1) / sqrt(d) per weight, b = 0
        w = np.random.default_rng(seed).uniform(-1.0, 1.0, size=2) / np.sqrt(2)
        assert e.init == {"w[0]": w[0], "w[1]": w[1], "b": 0.0}


BAD_SPECS = [
    (_spec("train = [[1.0, 2.0, 5.0], [1.0, 2.0]]"),
     "[data].train[1]: has 2 values but [data].train[0] has 3"),
    (_spec("train = [[1.0, 2.0, 5.0]]\nvalidation = [[1.0, 2.0]]"),
     "[data].validation: 1 feature(s) per row but train has 2"),
    (_spec('train = [[1.0, 2.0, 5.0]]\nfeatures = ["a"]'),
     "[data].features: only for data files"),
    (_spec("train = [[1.0, 2.0, 5.0]]", "w = [0.0]\nb = 0.0"),
     "[model].w: expected 2 numbers (one per feature of the 2), got shape (1,)"),
    (_spec("train = [[1.0, 5.0]]", "w = [0.0]\nb = 0.0"),
     "[model].w: expected a number (one weight: the data has one feature), got a list"),
    (_spec("train = [[1.0, 2.0, 5.0]]", "w = [0.0, 0.0]\nb = [0.0]"),
     "[model].b: expected a number (a scalar parameter), got a list"),
    (_spec("train = [[1.0, 2.0, 5.0]]", "b = 0.0"), "[model].w: missing"),
    (_spec("train = [[1.0, 2.0, 5.0]]", 'init = "ones"'), "[model].init: expected one of"),
    (_spec("train = [[1.0, 2.0, 5.0]]", 'init = "zeros"\nw = [1.0, 1.0]'),
     "[model].w: give initial values or init, not both"),
    (_spec("train = [[1.0, 2.0, 5.0]]", 'init = "zeros"\nseed = 1'),
     '[model].seed: only with init = "seeded"'),
    (_spec("train = [[1.0, 2.0, 5.0]]", 'kind = "cnn"\ninit = "zeros"'),
     "[model].kind: unknown model kind 'cnn'; expected one of linear, mlp"),
    (_spec('train = "missing.csv"'), "[data].train: missing.csv: file does not exist"),
]


@pytest.mark.parametrize("text, message", BAD_SPECS)
def test_bad_multi_feature_specs_name_the_key(text, message):
    with pytest.raises(SpecError) as caught:
        parse_spec(text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_validation_columns_are_picked_by_the_train_files_names(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,y\n1,2,3\n4,5,6\n")
    (tmp_path / "v.csv").write_text("y,b,a\n9,8,7\n")  # the same columns, another order
    spec = tmp_path / "s.toml"
    spec.write_text(_spec('train = "t.csv"\nvalidation = "v.csv"'))
    assert load_spec(spec).validation == ((7.0, 8.0, 9.0),)


def test_train_and_validation_files_with_different_features_are_refused(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,y\n1,2,3\n")
    (tmp_path / "v.csv").write_text("a,y\n1,3\n")
    spec = tmp_path / "s.toml"
    spec.write_text(_spec('train = "t.csv"\nvalidation = "v.csv"'))
    with pytest.raises(SpecError, match=r"\[data\]\.validation: .*v\.csv"):
        load_spec(spec)
