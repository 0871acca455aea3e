"""The one reader of the spec format, in the run machinery: plain values, no ``comparisons``.

``functional_training.runs.parse_run_spec`` returns a :class:`RunSpec`;
``comparisons.spec`` builds its ``Experiment`` from it (one parser, one ``SpecError``).
"""

from __future__ import annotations

import numpy as np
import pytest

import comparisons.spec
import functional_training as ft
from functional_training import runs
from functional_training.runs import RunSpec, SpecError, load_run_spec, parse_run_spec, rows_of

MLP = """name = "net"
[data]
train = [[0.0, 1.0, -1.0], [1.0, 0.5, 1.0], [2.0, -1.0, 1.0]]
validation = [[0.5, 0.5, -1.0]]
[loss]
kind = "hinge"
l2 = 0.01
[optimizer]
name = "adam"
learning_rate = 0.05
b1 = 0.8
[run]
steps = 4
batch_size = 2
seed = 3
[model]
kind = "mlp"
sizes = [2, 3, 1]
activation = "relu"
"""


def test_a_spec_reads_as_plain_arrays_and_values():
    spec = parse_run_spec(MLP + 'init = "seeded"\nseed = 7\n')
    assert isinstance(spec, RunSpec)
    np.testing.assert_array_equal(spec.x, [[0.0, 1.0], [1.0, 0.5], [2.0, -1.0]])
    np.testing.assert_array_equal(spec.y, [-1.0, 1.0, 1.0])
    assert spec.x.dtype == np.float64 and spec.x.shape == (3, 2) and spec.features == 2
    np.testing.assert_array_equal(spec.x_val, [[0.5, 0.5]])
    np.testing.assert_array_equal(spec.y_val, [-1.0])
    assert (spec.model, spec.model_settings) == ("mlp", {"sizes": (2, 3, 1),
                                                         "activation": "relu"})
    assert (spec.loss, spec.l2, spec.optimizer, spec.steps, spec.batch_size, spec.seed) == (
        "hinge", 0.01, "adam", 4, 2, 3)
    assert spec.hyperparams == {"learning_rate": 0.05, "b1": 0.8, "b2": 0.999, "eps": 1e-08}
    assert (spec.init_kind, spec.init_seed) == ("seeded", 7)
    assert spec.init == ft.initial_values("mlp", init="seeded", seed=7, sizes=(2, 3, 1),
                                          activation="relu")
    assert spec.trainable == spec.leaves == ("layers.0.w", "layers.0.b", "layers.1.w",
                                             "layers.1.b")
    assert spec.objective() == ft.objective("mlp", loss="hinge", l2=0.01, sizes=[2, 3, 1],
                                            activation="relu")
    assert spec.schedule is None and spec.files == {}


@pytest.mark.parametrize(("model", "kind", "seed"), [
    ('init = "zeros"\n', "zeros", 0),
    ('init = "seeded"\n', "seeded", 0),
    ("[[model.layers]]\nw = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]\nb = [0.0, 0.0, 0.5]\n"
     "[[model.layers]]\nw = [[1.0], [2.0], [3.0]]\nb = [-1.0]\n", "explicit", 0),
])
def test_how_the_initial_values_were_given_is_recorded(model, kind, seed):
    spec = parse_run_spec(MLP + model)
    assert (spec.init_kind, spec.init_seed) == (kind, seed)
    if kind == "explicit":
        assert spec.init["layers.0.w[1,2]"] == 6.0 and spec.init["layers.0.b[2]"] == 0.5


def test_a_linear_spec_on_one_feature_keeps_x_two_dimensional():
    spec = parse_run_spec('name = "line"\n[data]\ntrain = [[2.0, 6.0]]\n[model]\nw = 1.0\n'
                          'b = 0.0\n[optimizer]\nname = "sgd"\nlearning_rate = 0.1\n'
                          "[run]\nsteps = 2\n")
    assert spec.x.shape == (1, 1) and spec.model_config == {"features": 1}
    assert (spec.init, spec.init_kind) == ({"w": 1.0, "b": 0.0}, "explicit")
    assert spec.x_val is None and spec.y_val is None
    assert rows_of(spec.x, spec.y) == ((2.0, 6.0),) and rows_of(None, None) is None


def test_data_files_are_read_relative_to_the_spec_and_recorded(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.csv").write_text("a,b,y\n1.0,2.0,3.0\n4.0,5.0,6.5\n")
    path = tmp_path / "run.toml"
    path.write_text('name = "files"\n[data]\ntrain = "data/d.csv"\nfeatures = ["b"]\n'
                    '[model]\ninit = "zeros"\n[optimizer]\nname = "sgd"\n'
                    "learning_rate = 0.1\n[run]\nsteps = 2\n")
    spec = load_run_spec(path)
    np.testing.assert_array_equal(spec.x, [[2.0], [5.0]])
    np.testing.assert_array_equal(spec.y, [3.0, 6.5])
    assert spec.files == {"train": str(tmp_path / "data" / "d.csv")}


def test_one_spec_error_one_parser():
    # comparisons re-exports the core's SpecError and limits; its Experiment is the RunSpec's.
    assert comparisons.spec.SpecError is SpecError is runs.SpecError
    assert comparisons.spec.MAX_STEPS == runs.SPEC_MAX_STEPS
    assert comparisons.spec.MAX_PARAMETERS == runs.SPEC_MAX_PARAMETERS
    text = MLP + 'init = "seeded"\nseed = 1\n'
    spec, experiment = parse_run_spec(text), comparisons.spec.parse_spec(text)
    assert experiment.train == rows_of(spec.x, spec.y)
    assert experiment.validation == rows_of(spec.x_val, spec.y_val)
    assert (experiment.init, experiment.hyperparams, experiment.model_settings) == (
        spec.init, spec.hyperparams, spec.model_settings)


@pytest.mark.parametrize(("edit", "message"), [
    (("steps = 4", "steps = 0"), r"^\[run\]\.steps: must be an integer > 0, got 0$"),
    (('kind = "mlp"', 'kind = "cnn"'), r"^\[model\]\.kind: unknown model kind 'cnn'; expected "
                                       r"one of linear, mlp$"),
    (("[0.5, 0.5, -1.0]", "[0.5, 0.5, 0.5]"),
     r"^\[data\]\.validation\[0\]: target 0\.5 does not fit hinge \(takes -1 or \+1\)$"),
])
def test_bad_specs_are_one_line_naming_the_key(edit, message):
    with pytest.raises(SpecError, match=message):
        parse_run_spec(MLP.replace(*edit) + 'init = "zeros"\n')


def test_missing_file_and_wrong_type():
    with pytest.raises(SpecError, match=r"nope\.toml: no such spec file$"):
        load_run_spec("/no/such/dir/nope.toml")
    with pytest.raises(TypeError, match="^parse_run_spec: text must be a string"):
        parse_run_spec(b"name = 1")


# --- what a spec may leave to the trajectory a check replays --------------------------------


def test_a_model_without_initial_values_is_left_to_a_trajectory_only_for_a_check():
    spec = parse_run_spec(MLP, from_trajectory=True)
    assert spec.init is None and spec.init_kind == "trajectory"
    assert spec.left_to_trajectory() == ("initial values",)
    assert spec.parameter_names[0] == "layers.0.w[0,0]"  # the model is whole without them
    with pytest.raises(SpecError, match=r"^\[model\]\.layers: missing \(give \[\[model\.layers"
                                        r"\]\] tables \(w, b in each\), or init = \"zeros\" or "
                                        r"\"seeded\"\); only `comparisons check` takes initial "
                                        r"values from a trajectory's step-0 params$"):
        parse_run_spec(MLP)


def test_some_initial_values_given_is_still_a_missing_key():
    line = 'name = "l"\n[data]\ntrain = [[1.0, 2.0]]\n[model]\nw = 0.0\n' \
           '[optimizer]\nname = "sgd"\nlearning_rate = 0.1\n[run]\nsteps = 2\n'
    with pytest.raises(SpecError, match=r"^\[model\]\.b: missing \(give w, b, or init"):
        parse_run_spec(line, from_trajectory=True)


def test_the_batches_may_be_left_to_a_trajectory_only_for_a_check():
    text = MLP.replace("seed = 3\n", 'batches = "trajectory"\n') + 'init = "zeros"\n'
    spec = parse_run_spec(text, from_trajectory=True)
    assert (spec.order, spec.batch_size, spec.left_to_trajectory()) == (
        runs.FROM_TRAJECTORY, 2, ("batches",))
    with pytest.raises(SpecError, match=r'^\[run\]\.batches: "trajectory" leaves the batches to '
                                        r"a trajectory; only `comparisons check` replays them"):
        parse_run_spec(text)


@pytest.mark.parametrize(("edit", "message"), [
    (("seed = 3", 'seed = 3\nbatches = "random"'),
     r"^\[run\]\.batches: expected one of 'seeded', 'trajectory', got 'random'$"),
    (("seed = 3", 'seed = 3\nbatches = "trajectory"'),
     r'^\[run\]\.seed: not with batches = "trajectory"'),
    (("seed = 3", 'seed = 3\nlast_batch = "skip"'),
     r"^\[run\]\.last_batch: expected 'drop' or 'keep', got 'skip'$"),
    (("batch_size = 2\n", 'last_batch = "keep"\n'),
     r"^\[run\]\.last_batch: only for an order generated from batch_size$"),
])
def test_bad_batch_keys_are_one_line(edit, message):
    with pytest.raises(SpecError, match=message):
        parse_run_spec(MLP.replace(*edit) + 'init = "zeros"\n', from_trajectory=True,
                       short_batches=True)


def test_a_kept_last_batch_is_read_only_where_short_batches_run():
    text = MLP.replace("seed = 3", 'seed = 3\nlast_batch = "keep"') + 'init = "zeros"\n'
    assert parse_run_spec(text, short_batches=True).last_batch == "keep"
    with pytest.raises(SpecError, match=r'^\[run\]\.last_batch: "keep" makes batches of '
                                        r"different sizes, which this command's compiled "
                                        r"training does not run"):
        parse_run_spec(text)  # train and sweep stack one batch size
