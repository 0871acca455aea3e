"""The check's reference by size, and a large MLP checked end to end (NPZ, jax, whole arrays)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy_reference import numpy_mlp

import functional_training as ft
from comparisons import check
from comparisons.check import compare_partial
from comparisons.experiments import REGISTRY
from comparisons.reference_choice import MANUAL_WORK_LIMIT, choose_reference, manual_work
from comparisons.spec import load_spec
from comparisons.trajectory import Trajectory
from comparisons.trajectory_files import read_trajectory, write_trajectory

FEATURES, HIDDEN, EXAMPLES, BATCH, STEPS, RATE = 64, 300, 50, 10, 60, 0.02


def test_every_registry_experiment_keeps_manual():
    # The comparisons' own experiments are small: manual stays their reference.
    for name, experiment in REGISTRY.items():
        assert manual_work(experiment) <= MANUAL_WORK_LIMIT, name
        assert choose_reference(experiment) == ("manual", None)


def _spec(folder) -> str:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(EXAMPLES, FEATURES))
    y = rng.normal(size=EXAMPLES)
    np.savez(folder / "train.npz", **{f"x{i}": x[:, i] for i in range(FEATURES)}, y=y)
    path = folder / "spec.toml"
    path.write_text(f"""\
name = "wide-mlp"
[data]
train = "train.npz"
target = "y"
[model]
kind = "mlp"
sizes = [{FEATURES}, {HIDDEN}, 1]
activation = "relu"
init = "seeded"
seed = 1
[optimizer]
name = "sgd"
learning_rate = {RATE}
[run]
steps = {STEPS}
batch_size = {BATCH}
seed = 2
""", encoding="utf-8")
    return path


def _your_run(experiment) -> Trajectory:
    """The run from tests/numpy_reference.py's MLP loop, recorded as whole arrays."""
    x = np.asarray([row[:-1] for row in experiment.train])
    y = np.asarray([row[-1] for row in experiment.train])
    params = ft.params_from_values("mlp", experiment.init, **experiment.model_config)
    layers = [(np.asarray(layer.w), np.asarray(layer.b)) for layer in params.layers]
    order = ft.minibatch_indices(EXAMPLES, batch_size=BATCH, steps=STEPS, seed=2)
    out = numpy_mlp(layers, x, y, activation="relu", loss="half-squared-error", l2=0.0,
                    rates=[RATE] * STEPS, batch_indices=order)

    def block(entries):  # (steps, parameters) in the naming rule's order
        return np.stack([np.concatenate([part.ravel() for layer in entry for part in layer])
                         for entry in entries])

    names = experiment.parameter_names
    return Trajectory(params=dict(zip(names, block(out["params"]).T, strict=True)),
                      grads=dict(zip(names, block(out["grads"]).T, strict=True)),
                      batch_loss=np.asarray(out["batch_loss"]),
                      train_loss=np.asarray(out["train_loss"]), batches=order.tolist())


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    folder = tmp_path_factory.mktemp("large")
    spec = _spec(folder)
    experiment = load_spec(spec)
    path = write_trajectory(folder / "yours.npz", _your_run(experiment))
    return spec, experiment, path


@pytest.fixture(scope="module")
def verdict(large):
    spec, _, path = large
    return check(spec, path)


def test_a_large_mlp_checks_against_jax_in_float64(large, verdict):
    # 19,801 parameters x 61 steps: past manual's limit, and a record of NumPy arrays
    # (the path a 784-500-10 MLP takes: benchmarks/large_check.py). An independent NumPy
    # float64 loop agrees to the float64 tolerance (1e-12: same maths, rounding only).
    _, experiment, path = large
    assert len(experiment.parameter_names) == FEATURES * HIDDEN + 2 * HIDDEN + 1
    assert ft.holds_arrays(len(experiment.parameter_names), STEPS)
    assert verdict.agree, verdict.describe()
    assert verdict.reference == "jax"
    assert verdict.reference_trajectory.params["layers.0.w[0,0]"].dtype == np.float64
    lines = verdict.lines()
    assert lines[0].startswith("wide-mlp: your trajectory against jax (float64")
    assert lines[1].startswith("reference: jax in float64, chosen for the size: 19,801 "
                               "parameters")
    assert lines[1].endswith("(--reference manual to insist); diagnosis not run at this size")
    assert verdict.coverage.values == len(read_trajectory(path))


def test_a_large_mlp_mismatch_is_found_where_it_is(large, verdict):
    # One gradient wrong at step 7: the first mismatch names it, with both values
    # (compared as check compares, with the reference already run).
    _, experiment, path = large
    mine = read_trajectory(path)
    name = experiment.parameter_names[12_345]
    wrong = np.array(mine.to_json()["grads"][name], dtype=np.float64)
    expected = wrong[7]
    wrong[7] += 1.0
    grads = {n: v for q, n, _, v in mine.series_arrays() if q == "grads"}
    found = compare_partial(experiment, verdict.reference_trajectory,
                            Trajectory(grads={**grads, name: wrong}), reference="jax")
    assert not found.agree
    first = found.first_mismatch
    assert (first.step, first.quantity) == (7, f"grads.{name}")
    assert first.actual == pytest.approx(expected + 1.0, rel=0, abs=1e-12)  # float64 rounding


def test_reference_given_is_used_and_not_explained():
    verdict = check("single-update", {"params": {"w": [1.0, 1.8]}}, reference="jax")
    assert verdict.reference == "jax"
    assert verdict.reference_reason is None
    assert verdict.agree
