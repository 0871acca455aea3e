"""TOML spec files: loading, defaults made explicit, round trips, one-line errors naming the key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from specs import shipments_spec

from comparisons.backends import get_backend
from comparisons.experiments import REGISTRY
from comparisons.manifest import experiment_from_json, experiment_to_json
from comparisons.spec import MAX_STEPS, SpecError, dump_spec, load_spec, parse_spec

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.toml"))

FULL_BATCH = shipments_spec("full-batch-again", learning_rate=0.08, steps=20,
                            description="the lesson's full-batch run, from a spec file")


def _spec(**tables: str) -> str:
    """A valid spec with whole tables replaced (``name=...`` replaces the header line)."""
    parts = {
        "head": tables.pop("head", 'name = "t"'),
        "data": tables.pop("data", "train = [[1.0, 3.0], [2.0, 5.0], [3.0, 7.0]]"),
        "model": tables.pop("model", "w = 0.0\nb = 0.0"),
        "optimizer": tables.pop("optimizer", 'name = "sgd"\nlearning_rate = 0.08'),
        "run": tables.pop("run", "steps = 2"),
    }
    assert not tables
    head = parts.pop("head")
    return head + "\n" + "".join(f"[{name}]\n{body}\n" for name, body in parts.items())


def test_the_spec_template_is_valid():
    experiment = parse_spec(_spec())
    assert (experiment.name, experiment.steps, experiment.batch_size) == ("t", 2, None)


def test_a_spec_describes_the_same_run_as_the_registry_experiment():
    spec = parse_spec(FULL_BATCH)
    registry = REGISTRY["full-batch"]
    assert dataclasses.replace(spec, name=registry.name, description=registry.description,
                               lesson_block=registry.lesson_block) == registry
    # And a backend records the identical trajectory for both (same maths, same order).
    assert get_backend("manual").run(spec) == get_backend("manual").run(registry)


def test_optional_keys_take_their_documented_defaults():
    experiment = parse_spec(FULL_BATCH)
    assert experiment.trainable == ("w", "b")
    assert experiment.validation is None
    assert experiment.seed == 0
    assert experiment.kind == "train"


def test_left_out_optimizer_keys_are_written_in_explicitly_with_optax_defaults():
    from functional_training import optimizer_hyperparameters

    for name in ("momentum", "nesterov", "adam", "adamw"):
        experiment = parse_spec(_spec(optimizer=f'name = "{name}"\nlearning_rate = 0.1'))
        assert experiment.hyperparams == {"learning_rate": 0.1, **optimizer_hyperparameters(name)}
    # adamw: optax's 1e-4, not torch.optim.AdamW's 1e-2 -- and the torch backend gets 1e-4.
    adamw = parse_spec(_spec(optimizer='name = "adamw"\nlearning_rate = 0.1'))
    assert adamw.hyperparams["weight_decay"] == 1e-4


def test_integers_are_accepted_where_numbers_are_expected():
    experiment = parse_spec(_spec(data="train = [[1, 3], [2, 5]]", model="w = 1\nb = 0"))
    assert experiment.train == ((1.0, 3.0), (2.0, 5.0))
    assert all(type(v) is float for pair in experiment.train for v in pair)
    assert experiment.init == {"w": 1.0, "b": 0.0}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_loads_and_round_trips(path):
    experiment = load_spec(path)
    assert experiment.name == path.stem
    assert parse_spec(dump_spec(experiment)) == experiment


def test_there_are_example_specs():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize(
    "name", [n for n, e in REGISTRY.items() if e.kind == "train"]
)
def test_registry_training_experiments_round_trip_through_a_spec(name):
    experiment = dataclasses.replace(REGISTRY[name], lesson_block=None)
    assert parse_spec(dump_spec(experiment)) == experiment


def test_experiments_a_spec_cannot_describe_are_refused():
    with pytest.raises(SpecError, match="only 'train' experiments"):
        dump_spec(REGISTRY["shared-path"])


_FINITE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    train=st.lists(st.tuples(_FINITE, _FINITE), min_size=1, max_size=6),
    validation=st.none() | st.lists(st.tuples(_FINITE, _FINITE), min_size=1, max_size=3),
    init=st.tuples(_FINITE, _FINITE),
    trainable=st.sampled_from([("w", "b"), ("w",), ("b",)]),
    optimizer=st.sampled_from(["sgd", "momentum", "nesterov", "adam", "adamw"]),
    rate=st.floats(min_value=1e-6, max_value=10.0),
    steps=st.integers(1, MAX_STEPS),
    batch=st.integers(0, 6),
    seed=st.integers(0, 2**63 - 1),
    name=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.=/+-]{0,20}", fullmatch=True),
    description=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30),
)
def test_any_valid_experiment_round_trips(train, validation, init, trainable, optimizer, rate,
                                          steps, batch, seed, name, description):
    from functional_training import optimizer_hyperparameters

    spec = _spec(optimizer=f'name = "{optimizer}"\nlearning_rate = {rate!r}')
    experiment = dataclasses.replace(
        parse_spec(spec), name=name, description=description, train=tuple(train),
        validation=None if validation is None else tuple(validation),
        init={"w": init[0], "b": init[1]}, trainable=trainable, steps=steps,
        batch_size=batch if 0 < batch <= len(train) else None, seed=seed,
    )
    assert experiment.hyperparams == {"learning_rate": rate,
                                      **optimizer_hyperparameters(optimizer)}
    assert parse_spec(dump_spec(experiment)) == experiment


# --- bad specs: SpecError, one line, naming the key -------------------------------------------

BAD_SPECS = [
    (_spec(optimizer='name = "adam"\nlearning_rate = 0.1\nmomentum = 0.9'),
     "[optimizer].momentum: not a key of adam; it takes learning_rate, b1, b2, eps, "
     "weight_decay"),
    (_spec(data="train = [[1.0, 3.0], [2.0, 5.0], [3.0]]"),
     "[data].train[2]: expected a pair [x, target] (or [x_1, ..., x_d, target]), got [3.0]"),
    (_spec(data='train = [[1.0, "3"]]'), "[data].train[0][1]: expected a number, got a string"),
    (_spec(data="train = [[1.0, nan]]"), "[data].train[0][1]: must be finite, got nan"),
    (_spec(data="train = [[inf, 1.0]]"), "[data].train[0][0]: must be finite, got inf"),
    (_spec(data="train = []"), "[data].train: is empty; give at least one [x, target] pair"),
    (_spec(data="train = [[1.0, 3.0]]\nvalidation = []"),
     "[data].validation: is empty; give at least one [x, target] pair"),
    (_spec(data="validation = [[1.0, 3.0]]"), "[data].train: missing"),
    (_spec(data="train = [[1.0, 3.0]]\ntest = [[1.0, 3.0]]"),
     "[data].test: unknown key; expected train, validation, features, target"),
    (_spec(run="steps = 0"), "[run].steps: must be an integer > 0, got 0"),
    (_spec(run="steps = -3"), "[run].steps: must be an integer > 0, got -3"),
    (_spec(run="steps = 2.5"), "[run].steps: must be an integer > 0, got a float"),
    (_spec(run="steps = true"), "[run].steps: must be an integer > 0, got a boolean"),
    (_spec(run="steps = 1_000_000"),
     f"[run].steps: must be at most {MAX_STEPS}, got 1000000"),
    (_spec(run="batch_size = 2"), "[run].steps: missing"),
    (_spec(run="steps = 2\nbatch_size = 4"),
     "[run].batch_size: 4 is more than the 3 training examples"),
    (_spec(run="steps = 2\nbatch_size = 0"), "[run].batch_size: must be an integer > 0, got 0"),
    (_spec(run="steps = 2\nseed = -1"), "[run].seed: must be an integer >= 0, got -1"),
    (_spec(run="steps = 2\nepochs = 3"),
     "[run].epochs: unknown key; expected steps, batch_size, seed, batches, last_batch"),
    (_spec(model="w = 0.0"), '[model].b: missing (give w, b, or init = "zeros" or "seeded")'),
    (_spec(model='w = 0.0\nb = "zero"'), "[model].b: expected a number, got a string"),
    (_spec(model="w = 0.0\nb = 0.0\nc = 1.0"),
     "[model].c: unknown key; expected outputs, w, b, kind, init, seed, trainable"),
    (_spec(model='w = 0.0\nb = 0.0\ntrainable = ["w", "a"]'),
     "[model].trainable: unknown parameter 'a'; the model has w, b"),
    (_spec(model="w = 0.0\nb = 0.0\ntrainable = []"),
     "[model].trainable: is empty; name at least one of w, b"),
    (_spec(model='w = 0.0\nb = 0.0\ntrainable = ["w", "w"]'),
     "[model].trainable: lists a parameter twice"),
    (_spec(optimizer='name = "rmsprop"\nlearning_rate = 0.1'),
     "[optimizer].name: unknown optimizer 'rmsprop'; expected one of sgd, momentum, nesterov, "
     "adam, adamw"),
    (_spec(optimizer='name = "sgd"'), "[optimizer].learning_rate: missing"),
    (_spec(optimizer='name = "sgd"\nlearning_rate = 0.0'),
     "[optimizer].learning_rate: must be > 0, got 0.0"),
    (_spec(optimizer='name = "sgd"\nlearning_rate = -inf'),
     "[optimizer].learning_rate: must be finite, got -inf"),
    (_spec(optimizer="learning_rate = 0.1"), "[optimizer].name: missing"),
    (_spec(optimizer='name = "momentum"\nlearning_rate = 0.1\nmomentum = 1.0'),
     "[optimizer].momentum: must lie in [0, 1), got 1.0"),
    (_spec(optimizer='name = "adam"\nlearning_rate = 0.1\neps = -1e-8'),
     "[optimizer].eps: must be finite and >= 0, got -1e-08"),
    (_spec(optimizer='name = "nesterov"\nlearning_rate = 0.1\nmomentum = 0.0'),
     "[optimizer].momentum: nesterov needs momentum > 0 (with 0 it is plain sgd)"),
    (_spec(head=""), "name: missing"),
    (_spec(head='name = ""'), "name: is empty"),
    (_spec(head="name = 3"), "name: expected a string, got an integer"),
    (_spec(head='name = "t"\ndescription = "two\\nlines"'),
     "description: must be a one-line string"),
    (_spec(head='name = "my run"'),
     "name: 'my run' must start with an ASCII letter or digit and use only ASCII letters, "
     "digits and _ . = / + -"),
    (_spec(head='name = "läufe"'),
     "name: 'läufe' must start with an ASCII letter or digit and use only ASCII letters, "
     "digits and _ . = / + -"),
    (_spec(head='name = "t"\nsteps = 3'),
     "steps: unknown key; expected name, description, data, model, loss, optimizer, schedule, run"),
    ('name = "t"\ndata = 3\n', "[data]: expected a table, got an integer"),
    ('name = "t"\n[data]\ntrain = [[1.0, 3.0]]\n', "[model]: missing table"),
    ("name = \n", "not valid TOML: Invalid value (at line 1, column 8)"),
]


@pytest.mark.parametrize(("text", "message"), BAD_SPECS, ids=[m for _, m in BAD_SPECS])
def test_bad_specs_raise_one_line_naming_the_key(text, message):
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_reading_problems_are_spec_errors_naming_the_file(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(SpecError, match=r"nope\.toml: no such spec file$"):
        load_spec(missing)
    with pytest.raises(SpecError, match="is a directory, not a spec file$"):
        load_spec(tmp_path)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(SpecError, match=r"binary\.toml: not UTF-8 text$"):
        load_spec(binary)
    broken = tmp_path / "broken.toml"
    broken.write_text(_spec(run="steps = 0"))
    with pytest.raises(SpecError) as info:
        load_spec(broken)
    assert str(info.value) == f"{broken}: [run].steps: must be an integer > 0, got 0"


def test_a_kept_last_batch_and_a_replayed_order_round_trip_through_spec_and_manifest():
    keep = parse_spec(FULL_BATCH.replace("steps = 20", 'steps = 20\nbatch_size = 2\n'
                                         'last_batch = "keep"'))
    assert keep.last_batch == "keep" and parse_spec(dump_spec(keep)) == keep
    replayed = keep.replaying(init={"w": 0.5, "b": -0.5}, order=[[0, 2], [1]] * 10)
    assert experiment_from_json(experiment_to_json(replayed)) == replayed
    with pytest.raises(SpecError, match="an explicit batch order has no spec syntax"):
        dump_spec(replayed)
    open_spec = parse_spec(FULL_BATCH.replace("steps = 20", 'steps = 20\nbatch_size = 2\n'
                                              'batches = "trajectory"'),
                           from_trajectory=True)
    assert parse_spec(dump_spec(open_spec), from_trajectory=True) == open_spec
