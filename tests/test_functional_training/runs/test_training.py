"""``functional_training.runs._training``: one run description for the line's flags and specs.

The line's flags and a spec of the same run give the same run description and the
same trajectory bit for bit; a spec run of any kind checkpoints its parameter pytree
by leaf name; the default ``eval_every`` always fits an explicit ``chunk_steps``
(issue 21: a default never makes an explicit option invalid).
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functional_training import float64, make_optimizer, make_schedule, params_from_values
from functional_training._datasets import named_data
from functional_training.runs import list_checkpoints, load_checkpoint, parse_run_spec
from functional_training.runs._manifest import run_spec_record
from functional_training.runs._train_settings import (
    SettingError,
    eval_every_for_chunks,
    make_settings,
    spec_settings,
)
from functional_training.runs._training import run_training

SHIPMENTS_SPEC = """
name = "shipments-sgd"
[data]
train = [[1.0, 3.0], [2.0, 5.0], [3.0, 7.0]]
[model]
w = 0.0
b = 0.0
[optimizer]
name = "momentum"
learning_rate = 0.05
[run]
steps = 25
batch_size = 2
seed = 4
"""

MLP_SPEC = """
name = "mlp-hinge"
[data]
train = [[0.0, 1.0, 1.0], [1.0, 0.0, -1.0], [0.5, 0.5, 1.0], [-1.0, 0.3, -1.0],
         [0.2, -0.7, 1.0], [0.9, 0.1, -1.0]]
[model]
kind = "mlp"
sizes = [2, 4, 1]
activation = "tanh"
init = "seeded"
seed = 2
[loss]
kind = "hinge"
l2 = 1e-3
[optimizer]
name = "adam"
[schedule]
kind = "cosine"
init_value = 0.05
decay_steps = 20
[run]
steps = 24
batch_size = 3
"""


def test_the_line_flags_and_a_spec_of_the_same_run_are_one_run_description():
    data = named_data("shipments")
    flags = make_settings(data, optimizer="momentum", learning_rate=0.05, steps=25,
                          batch_size=2, seed=4)
    spec = spec_settings(parse_run_spec(SHIPMENTS_SPEC), path="s.toml", text=SHIPMENTS_SPEC)
    described = {k: v for k, v in run_spec_record(spec.run).items()
                 if k not in ("name", "description")}
    assert described == {k: v for k, v in run_spec_record(flags.run).items()
                         if k not in ("name", "description")}
    # The spec holds x as (n, 1); the line's one-feature w is a scalar and takes (n,):
    # the same trajectory, bit for bit.
    assert run_training(spec, spec.run).trajectory == run_training(flags, data).trajectory


def test_a_spec_run_checkpoints_its_parameter_pytree_by_leaf_name(tmp_path):
    spec = parse_run_spec(MLP_SPEC)
    settings = spec_settings(spec, path="m.toml", text=MLP_SPEC, chunk_steps=8)
    outcome = run_training(settings, spec, checkpoint_dir=tmp_path)
    checkpoints = list_checkpoints(tmp_path)
    assert [int(p.name.split("-")[1]) for p in checkpoints] == [8, 16, 24]
    with float64():  # templates of the run's structure and dtypes
        params, opt_state = _params(spec), _opt_state(spec)
    meta = load_checkpoint(checkpoints[-1], params=params, opt_state=opt_state)
    assert sorted(n for n in meta.records if n.startswith("params.")) == [
        "params.layers.0.b", "params.layers.0.w", "params.layers.1.b", "params.layers.1.w"]
    assert {"learning_rate", "train_accuracy"} <= set(meta.records)  # every recorded series
    final = {name: values[-1] for name, values in outcome.trajectory.params.items()}
    assert final["layers.1.b[0]"] == float(meta.params.layers[1].b[0])


def _params(spec):
    return params_from_values(spec.model, spec.init, **spec.model_config)


def _opt_state(spec):
    schedule = make_schedule(**spec.schedule)
    return make_optimizer(spec.optimizer, learning_rate=schedule, **spec.hyperparams).init(
        _params(spec))


def test_overrides_replace_the_specs_run_table():
    spec = parse_run_spec(MLP_SPEC)
    settings = spec_settings(spec, path="m.toml", text=MLP_SPEC, steps=100, batch_size=2,
                             seed=9)
    assert (settings.steps, settings.batch_size, settings.seed) == (100, 2, 9)
    assert settings.run.schedule == spec.schedule and settings.learning_rate is None
    by_epochs = spec_settings(spec, path="m.toml", text=MLP_SPEC, epochs=5)
    assert by_epochs.steps == 5 * (6 // 3)
    with pytest.raises(SettingError, match=r"^batch_size 7 is larger than the 6 training"):
        spec_settings(spec, path="m.toml", text=MLP_SPEC, batch_size=7)


@pytest.mark.parametrize(("default", "chunk", "chosen"), [
    (57, 1000, 50),     # the README's example: synthetic:100000, batch 32, 3 epochs
    (610, 500, 500),    # issue 21: 400,000 examples, --checkpoint-every 500
    (48, 20000, 40),    # issue 21: a 5-feature CSV, --checkpoint-every 20000
    (57, 997, 997),     # a prime: the largest divisor below is 1, so the one above
    (1, 7, 1),
])
def test_the_default_eval_every_fits_an_explicit_checkpoint_every(default, chunk, chosen):
    assert eval_every_for_chunks(default, chunk) == chosen


@given(default=st.integers(1, 5000), chunk=st.integers(1, 5000))
def test_the_fitted_eval_every_divides_the_chunk_and_stays_near_the_default(default, chunk):
    chosen = eval_every_for_chunks(default, chunk)
    assert chunk % chosen == 0
    # at most twice the default's records, or fewer; one per chunk when chunks are shorter
    assert default / 2 <= chosen <= default or chosen > default or chosen == chunk


def test_the_readmes_checkpoint_example_is_not_refused():
    data = named_data("synthetic:100000")
    settings = make_settings(data, optimizer="adam", learning_rate=0.01, batch_size=32,
                             epochs=3, seed=7, chunk_steps=1000)
    assert (settings.steps, settings.chunk_steps, settings.eval_every) == (9375, 1000, 50)
    with pytest.raises(SettingError, match="must be a multiple of eval_every 57"):
        make_settings(data, optimizer="adam", learning_rate=0.01, batch_size=32, epochs=3,
                      seed=7, chunk_steps=1000, eval_every=57)  # an explicit one still must fit


def test_record_memory_counts_every_parameter_of_the_model():
    spec = dataclasses.replace(parse_run_spec(MLP_SPEC), batch_size=None)
    # 2 x 17 parameters and gradients + batch and train loss + the rate + 2 accuracies
    with pytest.raises(SettingError, match=r"^steps: 100000000 steps recorded every 1 .* "
                                           r"\(39 per recorded step\)"):
        spec_settings(spec, path="m.toml", text=MLP_SPEC, steps=10**8, eval_every=1)
