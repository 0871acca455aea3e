"""comparisons.record: the generic recorder (names, shapes, copies, gradients carried by the
parameters, fitting to a spec, the files) and the loops of user_loops that use it.

Expected values are the inputs themselves (the recorder only copies and names them) or NumPy
float64 computations written here; no closeness check is needed except where stated.
"""

import importlib
import inspect
import json
import re
import runpy
from pathlib import Path
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest

import comparisons
from comparisons.record import Recorder, RecordError, layers_of, leaves_of_tree
from comparisons.trajectory_files import read_trajectory
from test_comparisons.user_loops import RECORD_MARK, assert_planted_figures

LINE_SPEC = """name = "line"
[data]
train = [[1.0, 3.0], [2.0, 5.0], [3.0, 7.5]]
[model]
w = 0.0
b = 0.0
[optimizer]
name = "sgd"
learning_rate = 0.1
[run]
steps = 3
"""

TWO_FEATURE_SPEC = """name = "two"
[data]
train = [[1.0, 0.5, 3.0], [2.0, -1.0, 5.0]]
[model]
w = [0.0, 0.0]
b = 0.0
[optimizer]
name = "sgd"
learning_rate = 0.1
[run]
steps = 1
"""


class Scalar:
    """A micrograd-style scalar: ``.data`` and ``.grad``."""

    def __init__(self, data, grad=0.0):
        self.data, self.grad = data, grad


def line_loop(rec, steps=3, rate=0.1):
    """The lesson's line by hand in NumPy, recorded: returns what was computed, for comparison."""
    x, y = np.array([1.0, 2.0, 3.0]), np.array([3.0, 5.0, 7.5])
    params = {"w": np.array(0.0), "b": np.array(0.0)}
    seen = []
    for _ in range(steps):
        error = params["w"] * x + params["b"] - y
        grads = {"w": np.mean(error * x), "b": np.mean(error)}
        loss = np.mean(error**2) / 2
        rec.step(params=params, grads=grads, loss=loss)
        seen.append((float(params["w"]), float(grads["w"]), float(loss)))
        params["w"] -= rate * grads["w"]  # in place: 0-d arrays
        params["b"] -= rate * grads["b"]
    rec.final(params)
    return seen, params


def test_a_numpy_loop_is_recorded_by_step_and_checks():
    rec = Recorder()
    seen, final = line_loop(rec)
    mine = rec.trajectory()
    as_json = mine.to_json()
    assert as_json["params"]["w"] == [w for w, _, _ in seen] + [float(final["w"])]
    assert as_json["grads"]["w"] == [g for _, g, _ in seen]
    assert as_json["batch_loss"] == [loss for _, _, loss in seen]
    assert rec.steps == 3


def test_a_numpy_loop_agrees_with_the_reference(tmp_path):
    spec = tmp_path / "line.toml"
    spec.write_text(LINE_SPEC)
    rec = Recorder()
    line_loop(rec)
    verdict = rec.check(spec)
    assert verdict.agree, verdict.describe()
    assert verdict.coverage.values == 4 * 2 + 3 * 2 + 3


def test_values_are_copied_when_given():
    rec = Recorder()
    w = np.zeros(2)
    rec.step(params={"w": w})
    w += 1.0
    rec.final({"w": w})
    assert rec.trajectory().to_json()["params"] == {"w[0]": [0.0, 1.0], "w[1]": [0.0, 1.0]}


def test_pytrees_are_named_by_the_projects_rule():
    tree = {"layers": [{"w": jnp.ones((2, 3)), "b": np.zeros(3)}], "scale": 2.0}
    leaves = leaves_of_tree(tree)
    assert list(leaves) == ["layers.0.b", "layers.0.w", "scale"]
    rec = Recorder()
    rec.step(params=tree)
    labels = rec.trajectory().labels
    assert "params.layers.0.w[1,2]" in labels and "params.layers.0.b[0]" in labels
    assert "params.scale" in labels and len(labels) == 6 + 3 + 1


def test_a_list_of_numbers_is_one_array_leaf():
    assert leaves_of_tree({"w": [1.0, 2.0]})["w"].tolist() == [1.0, 2.0]
    assert leaves_of_tree({"w": [[1, 2], [3, 4]]})["w"].shape == (2, 2)


def test_scalar_objects_give_data_and_their_own_grads():
    w, b = Scalar(1.5, grad=-2.0), Scalar(0.5, grad=0.25)
    rec = Recorder()
    rec.step(params={"w": [w], "b": b}, loss=Scalar(3.0))
    w.data, b.data = 2.0, 0.0
    rec.final({"w": [w], "b": b})  # no gradient recorded at the final step
    out = rec.trajectory().to_json()
    assert out["params"] == {"b": [0.5, 0.0], "w[0]": [1.5, 2.0]}
    assert out["grads"] == {"b": [0.25], "w[0]": [-2.0]}
    assert out["batch_loss"] == [3.0]


def test_layers_of_names_a_micrograd_style_network_as_an_mlp():
    neurons = [SimpleNamespace(w=[Scalar(1.0), Scalar(2.0)], b=Scalar(0.1)),
               SimpleNamespace(w=[Scalar(3.0), Scalar(4.0)], b=Scalar(0.2))]
    net = SimpleNamespace(layers=[SimpleNamespace(neurons=neurons),
                                  SimpleNamespace(neurons=[SimpleNamespace(
                                      w=[Scalar(5.0), Scalar(6.0)], b=Scalar(0.3))])])
    leaves = leaves_of_tree(layers_of(net))
    # w[i, j] is neuron j's weight on input i: (fan_in, fan_out)
    np.testing.assert_array_equal(leaves["layers.0.w"], [[1.0, 3.0], [2.0, 4.0]])
    np.testing.assert_array_equal(leaves["layers.0.b"], [0.1, 0.2])
    np.testing.assert_array_equal(leaves["layers.1.w"], [[5.0], [6.0]])
    with pytest.raises(RecordError, match="expected model.layers"):
        layers_of(SimpleNamespace())


def test_batches_are_recorded_as_indices():
    rec = Recorder()
    rec.step(batch=np.array([3, 0, 2]))
    rec.step(batch=[1.0, 4.0])
    assert rec.trajectory().to_json()["batches"] == [[3, 0, 2], [1, 4]]
    with pytest.raises(RecordError, match="whole-number example indices"):
        Recorder().step(batch=[0.5])
    with pytest.raises(RecordError, match="negative example index -1"):
        Recorder().step(batch=[-1])


def test_bad_values_are_one_line():
    with pytest.raises(RecordError, match=r"^w at step 0: not numeric \(str\)$"):
        Recorder().step(params={"w": "x"})
    with pytest.raises(RecordError, match="the loss at step 0: expected one number"):
        Recorder().step(loss=np.ones(3))
    with pytest.raises(RecordError, match="no parameters at step 0"):
        Recorder().step(params={})


def test_a_spec_fits_shapes_and_names_leaves_in_its_order(tmp_path):
    spec = tmp_path / "two.toml"
    spec.write_text(TWO_FEATURE_SPEC)
    rec = Recorder(spec=spec)
    rec.step(params=[np.array([[0.5], [-1.0]]), np.array([2.0])])  # d2l's [w (2, 1), b (1,)]
    assert rec.trajectory().to_json()["params"] == {"w[0]": [0.5], "w[1]": [-1.0], "b": [2.0]}
    with pytest.raises(RecordError, match=r"unknown parameter leaf 'v' at step 0 \(the spec's "
                                          r"model has w, b\)"):
        Recorder(spec=spec).step(params={"v": 1.0, "b": 0.0})
    with pytest.raises(RecordError, match=r"leaf 'w' at step 0 has shape \(3,\), the spec's "
                                          r"model has \(2,\)"):
        Recorder(spec=spec).step(params={"w": np.zeros(3), "b": 0.0})


def test_a_flax_style_pytree_is_matched_to_the_spec_by_shape():
    spec = comparisons.parse_spec("""name = "mlp"
[data]
train = [[1.0, 2.0, 0.5], [0.0, 1.0, 1.5]]
[model]
kind = "mlp"
sizes = [2, 3, 3, 1]
activation = "tanh"
[optimizer]
name = "sgd"
learning_rate = 0.1
[run]
steps = 1
""", from_trajectory=True)
    rng = np.random.default_rng(0)
    flax = {"params": {f"Dense_{i}": {"kernel": rng.normal(size=shape), "bias": rng.normal(
        size=shape[1])} for i, shape in enumerate([(2, 3), (3, 3), (3, 1)])}}
    rec = Recorder(spec=spec)
    rec.step(params=flax)
    out = rec.trajectory().to_json()["params"]
    for i in range(3):
        layer = flax["params"][f"Dense_{i}"]
        assert out[f"layers.{i}.w[1,0]"] == [layer["kernel"][1, 0]]
        assert out[f"layers.{i}.b[0]"] == [layer["bias"][0]]


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_save_writes_a_file_read_trajectory_reads_back(tmp_path, suffix):
    rec = Recorder()
    line_loop(rec, steps=2)
    rec.step(batch=[0, 1])  # a third step holding only a batch
    path = rec.save(tmp_path / f"run{suffix}")
    assert read_trajectory(path) == rec.trajectory()
    if suffix == ".json":
        json.loads(path.read_text())  # strict JSON


def test_non_finite_values_are_written_as_strict_json(tmp_path):
    rec = Recorder()
    rec.step(params={"w": np.nan}, loss=np.inf)
    path = rec.save(tmp_path / "run.json")
    assert '"NaN"' in path.read_text() and '"Infinity"' in path.read_text()
    assert read_trajectory(path).to_json() == rec.trajectory().to_json()  # NaN != NaN as rows


# --- the user loops (each also a check of the recording-line budget) -------------------------

GENERIC_LOOPS = ["linreg_scratch", "softmax_scratch", "mlp_scratch", "micrograd_moons"]
DTYPES = {"micrograd_moons": "float64"}  # Python floats; the torch loops compute in float32


def loop_module(name):
    if name != "micrograd_moons":
        pytest.importorskip("torch")
    else:
        pytest.importorskip("micrograd")
    return importlib.import_module(f"test_comparisons.user_loops.{name}")


@pytest.mark.parametrize("name", GENERIC_LOOPS)
def test_a_user_loop_has_at_most_five_recording_lines(name):
    source = inspect.getsource(loop_module(name))
    assert 1 <= sum(RECORD_MARK in line for line in source.splitlines()) <= 5


@pytest.mark.parametrize("name", GENERIC_LOOPS)
def test_a_user_loop_passes_check_from_its_own_spec(name, tmp_path):
    loop = loop_module(name)
    spec = tmp_path / f"{name}.toml"
    spec.write_text(loop.spec())
    rec = loop.train(spec)
    verdict = comparisons.check(spec, rec.save(tmp_path / f"{name}.json"),
                                dtype=DTYPES.get(name, "float32"))
    assert verdict.agree, "\n".join(verdict.lines())
    assert "batches" in verdict.coverage.supplied


def test_a_planted_bug_in_a_recorded_loop_is_caught(tmp_path):
    loop = loop_module("linreg_scratch")
    spec = tmp_path / "linreg.toml"
    spec.write_text(loop.spec())
    verdict = loop.train(spec, bug="ascent").check(spec, dtype="float32", diagnosis=False)
    assert not verdict.agree
    assert (verdict.first_mismatch.step, verdict.first_mismatch.quantity[:6]) == (1, "params")


def test_the_user_loops_specs_hold_no_run_values():
    for name in GENERIC_LOOPS:
        text = loop_module(name).spec()
        assert "[[model.layers]]" not in text, name
        assert not any(line.startswith(("w =", "b =", "seed", "init =", "layers"))
                       for line in text.splitlines()), name




# --- the recipes of docs/checking.md ------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "examples" / "recording"


def included_files() -> dict[str, str]:
    """``{path: block}`` of every file docs/checking.md includes (a `path`: line, then a block)."""
    text = (ROOT / "docs" / "checking.md").read_text()
    return {path: block + "\n" for path, block in
            re.findall(r"^`(examples/recording/[^`]+)`:\n\n```\w+\n(.*?)\n```$", text,
                       flags=re.M | re.S)}


def test_the_docs_hold_every_recipe_verbatim():
    included = included_files()
    expected = sorted(f"examples/recording/{p.name}" for p in RECIPES.iterdir()
                      if p.suffix in (".py", ".toml"))
    assert sorted(included) == expected
    for path, block in included.items():
        assert block == (ROOT / path).read_text(), path


def run_recipe(name, tmp_path, monkeypatch, capsys):
    """Run ``examples/recording/<name>`` in ``tmp_path``; its printed verdict lines."""
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(RECIPES / name), run_name="__main__")
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("name", ["numpy_loop.py", "jax_loop.py", "micrograd_loop.py"])
def test_a_recipe_runs_and_agrees(name, tmp_path, monkeypatch, capsys):
    if name == "micrograd_loop.py":
        pytest.importorskip("micrograd")
    lines = run_recipe(name, tmp_path, monkeypatch, capsys)
    assert lines[-1].startswith("agree: "), "\n".join(lines)
    assert "initial values: from your trajectory's step 0" in lines


# --- planted bugs: caught by check, named by the diagnosis -----------------------------------

PLANTED = [  # (loop, bug as train(bug=...) plants it, the gallery fault it is, or None)
    ("linreg_scratch", "ascent", "update-sign-flipped"),
    ("linreg_scratch", "rate-x10", "wrong-learning-rate"),
    # A summed loss never cleared: the loop's .grad holds 10 m0 + 10 m1 + 5 m2 at the short
    # batch of 5 (m: a batch's mean gradient); the variant keeps the same sums (it once held
    # 5 (m0 + m1 + m2), scaling accumulated means by the current batch's n, and missed this).
    ("linreg_scratch", "no-zero-grad", "gradients-not-cleared"),
    ("linreg_scratch", "missing-half", "loss-missing-half"),
    ("linreg_scratch", "bias-ascent", "bias-gradient-sign"),
    ("softmax_scratch", "double-softmax", "double-softmax"),
    ("softmax_scratch", "ascent", "update-sign-flipped"),
    ("softmax_scratch", "rate-x10", "wrong-learning-rate"),
    ("softmax_scratch", "no-zero-grad", "gradients-not-cleared"),
    ("softmax_scratch", "bias-ascent", "bias-gradient-sign"),
    ("mlp_scratch", "relu-gradient", "relu-gradient-where-negative"),
    ("mlp_scratch", "sum-not-mean", "sum-not-mean"),
    ("mlp_scratch", "no-zero-grad", "gradients-not-cleared"),
    ("mlp_scratch", "rate-x10", "wrong-learning-rate"),
    ("mlp_scratch", "ascent", "update-sign-flipped"),
    ("mlp_scratch", "detached", "hidden-layer-detached"),
    ("micrograd_moons", "ascent", "update-sign-flipped"),
    ("micrograd_moons", "no-zero-grad", "gradients-not-cleared"),
    ("micrograd_moons", "schedule-not-stepped", "schedule-not-stepped"),
    ("micrograd_moons", "l2-twice", "l2-applied-twice"),
    ("micrograd_moons", "sum-not-mean", "sum-not-mean"),
    ("micrograd_moons", "rate-x10", "wrong-learning-rate"),
]
"""The held-out table: every bug the four loops can plant (each loop's ``BUGS``)."""


def test_every_loops_bugs_are_in_the_table():
    for name in GENERIC_LOOPS:
        planted = {bug for loop, bug, _ in PLANTED if loop == name}
        assert planted == set(loop_module(name).BUGS) and len(planted) >= 3


def test_planted_bugs_are_caught_and_named(tmp_path):
    def verdict_of(name, bug):
        loop = loop_module(name)
        spec = tmp_path / f"{name}.toml"
        spec.write_text(loop.spec())
        return loop.train(spec, bug=bug).check(spec, dtype=DTYPES.get(name, "float32"))

    assert_planted_figures(PLANTED, verdict_of)
