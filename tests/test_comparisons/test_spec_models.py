"""Spec files for the next lessons: ``mlp`` models, ``[loss]``, ``[schedule]``.

Parsing only (running a new kind through the backends is tested with the backends):
explicit ``[[model.layers]]`` values land on the contract's parameter names, named
initialisations equal :func:`functional_training.initial_values`, every new field
round-trips through :func:`dump_spec` exactly, and every bad case is one
``SpecError`` line that starts with the key (through the real command line: exit 2,
one line on stderr).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_refused, run_cli, run_module
from hypothesis import given, settings
from hypothesis import strategies as st

from comparisons.experiments import Experiment
from comparisons.spec import SpecError, dump_spec, load_spec, parse_spec
from functional_training import (
    LOSS_KINDS,
    SCHEDULES,
    check_schedule,
    initial_values,
    optimizer_hyperparameters,
    parameter_names,
)
from functional_training.runs import spec_size_problem

ROOT = Path(__file__).resolve().parents[2]

ONE_FEATURE = "train = [[1.0, 3.0], [2.0, 5.0], [3.0, 7.0]]"
LAYERS_131 = """\
[[model.layers]]
w = [[0.1, -0.2, 0.3]]
b = [0.01, 0.02, 0.03]
[[model.layers]]
w = [[0.4], [-0.5], [0.6]]
b = [-0.7]"""
MLP_131 = f'kind = "mlp"\nsizes = [1, 3, 1]\nactivation = "tanh"\n{LAYERS_131}'
SEEDED_131 = 'kind = "mlp"\nsizes = [1, 3, 1]\nactivation = "tanh"\ninit = "seeded"\nseed = 4'
LEAVES_131 = ("layers.0.w", "layers.0.b", "layers.1.w", "layers.1.b")


def _spec(*, data: str = ONE_FEATURE, model: str = MLP_131, loss: str | None = None,
          optimizer: str = 'name = "sgd"\nlearning_rate = 0.1', schedule: str | None = None,
          run: str = "steps = 2") -> str:
    """A valid spec text (a 1-3-1 tanh mlp by default); ``None`` leaves a table out.

    ``model`` is written last among the tables, because its ``[[model.layers]]``
    tables would take any key written after them.
    """
    text = f'name = "t"\n[data]\n{data}\n[optimizer]\n{optimizer}\n[run]\n{run}\n'
    if loss is not None:
        text += f"[loss]\n{loss}\n"
    if schedule is not None:
        text += f"[schedule]\n{schedule}\n"
    return text + f"[model]\n{model}\n"


# --- [model] kind = "mlp" ----------------------------------------------------------------------


def test_explicit_layer_values_land_on_the_contracts_parameter_names():
    e = parse_spec(_spec())
    assert (e.model, e.model_settings) == ("mlp", {"sizes": (1, 3, 1), "activation": "tanh"})
    assert list(e.init) == list(parameter_names("mlp", sizes=(1, 3, 1), activation="tanh"))
    # Layer l's w[i][j] (rows: fan_in, columns: fan_out) is layers.l.w[i,j].
    w0, b0 = [[0.1, -0.2, 0.3]], [0.01, 0.02, 0.03]
    w1, b1 = [[0.4], [-0.5], [0.6]], [-0.7]
    for layer, (w, b) in enumerate([(w0, b0), (w1, b1)]):
        for i, row in enumerate(w):
            for j, value in enumerate(row):
                assert e.init[f"layers.{layer}.w[{i},{j}]"] == value
        for j, value in enumerate(b):
            assert e.init[f"layers.{layer}.b[{j}]"] == value
    assert e.init["layers.1.w[2,0]"] == 0.6 and e.init["layers.0.w[0,2]"] == 0.3


def test_layer_values_of_a_wider_network_keep_rows_as_fan_in():
    w0 = np.arange(6.0).reshape(2, 3) / 10  # (fan_in 2, fan_out 3)
    model = ('kind = "mlp"\nsizes = [2, 3, 2]\nactivation = "relu"\n[[model.layers]]\n'
             f"w = {w0.tolist()}\nb = [0.0, 0.0, 0.0]\n[[model.layers]]\n"
             "w = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]\nb = [7.0, 8.0]")
    e = parse_spec(_spec(data="train = [[1.0, 2.0, 0.0], [0.5, -1.0, 1.0]]", model=model,
                         loss='kind = "softmax-cross-entropy"'))
    assert [e.init[f"layers.0.w[{i},{j}]"] for i in range(2) for j in range(3)] == \
        w0.reshape(-1).tolist()
    assert e.init["layers.1.w[2,1]"] == 6.0 and e.init["layers.1.b[1]"] == 8.0
    assert (e.outputs, e.classifies) == (2, True)


@pytest.mark.parametrize(("init", "seed"), [("zeros", None), ("seeded", 0), ("seeded", 11)])
def test_named_initialisations_equal_the_cores_initial_values(init, seed):
    model = ('kind = "mlp"\nsizes = [1, 4, 2, 1]\nactivation = "sigmoid"\n'
             f'init = "{init}"' + ("" if seed is None else f"\nseed = {seed}"))
    e = parse_spec(_spec(model=model))
    expected = initial_values("mlp", init=init, seed=0 if seed is None else seed,
                              sizes=(1, 4, 2, 1), activation="sigmoid")
    assert e.init == expected and list(e.init) == list(expected)


def test_seeded_values_follow_the_documented_numpy_scheme():
    # mlp's docstring: w ~ uniform(-1, 1, (fan_in, fan_out)) / sqrt(fan_in), layer by layer
    # from one generator; b = 0.
    e = parse_spec(_spec(model=SEEDED_131))
    rng = np.random.default_rng(4)
    w0 = rng.uniform(-1.0, 1.0, size=(1, 3)) / np.sqrt(1)
    w1 = rng.uniform(-1.0, 1.0, size=(3, 1)) / np.sqrt(3)
    assert [e.init[f"layers.0.w[0,{j}]"] for j in range(3)] == w0[0].tolist()
    assert [e.init[f"layers.1.w[{i},0]"] for i in range(3)] == w1[:, 0].tolist()
    assert all(e.init[f"layers.0.b[{j}]"] == 0.0 for j in range(3))


def test_mlp_defaults_and_trainable_leaves():
    e = parse_spec(_spec())
    assert e.trainable == LEAVES_131
    assert (e.loss, e.l2, e.schedule) == ("half-squared-error", 0.0, None)
    assert (e.outputs, e.classifies) == (1, False)
    frozen = parse_spec(_spec(model=SEEDED_131 + '\ntrainable = ["layers.1.b", "layers.0.w"]'))
    assert frozen.trainable == ("layers.0.w", "layers.1.b")  # the kind's order


def test_linear_specs_read_as_before_with_the_lessons_loss():
    e = parse_spec(_spec(model="w = 0.5\nb = 0.0"))
    assert (e.model, e.model_settings, e.init) == ("linear", {}, {"w": 0.5, "b": 0.0})
    assert (e.loss, e.l2, e.schedule, e.trainable) == ("half-squared-error", 0.0, None, ("w", "b"))
    assert e.hyperparams == {"learning_rate": 0.1}


# --- [loss] ----------------------------------------------------------------------------------

_TARGETS = {"half-squared-error": [3.5, -1.0], "squared-error": [0.0, 2.0],
            "binary-cross-entropy": [0.0, 1.0], "hinge": [-1.0, 1.0]}


@pytest.mark.parametrize("loss", list(_TARGETS))
def test_every_one_output_loss_is_read_with_its_l2(loss):
    a, b = _TARGETS[loss]
    e = parse_spec(_spec(data=f"train = [[1.0, {a}], [2.0, {b}]]\nvalidation = [[0.5, {b}]]",
                         model="w = 0.0\nb = 0.0", loss=f'kind = "{loss}"\nl2 = 0.001'))
    assert (e.loss, e.l2, e.classifies) == (loss, 0.001, LOSS_KINDS[loss].classifies)


def test_softmax_takes_integer_classes_below_the_last_size():
    e = parse_spec(_spec(data="train = [[1.0, 0.0], [2.0, 2.0], [3.0, 1]]",
                         model=SEEDED_131.replace("[1, 3, 1]", "[1, 3, 3]"),
                         loss='kind = "softmax-cross-entropy"'))
    assert (e.loss, e.outputs, e.ys) == ("softmax-cross-entropy", 3, [0.0, 2.0, 1.0])


def test_an_empty_loss_table_is_the_lessons_loss():
    e = parse_spec(_spec(loss=""))
    assert (e.loss, e.l2, e.reduction) == ("half-squared-error", 0.0, "mean")


def test_a_summed_loss_and_weight_decay_are_declared_and_round_trip():
    e = parse_spec(_spec(loss='reduction = "sum"\nl2 = 0.01',
                         optimizer='name = "momentum"\nlearning_rate = 0.1\nweight_decay = 0.02'))
    assert (e.reduction, e.l2, e.hyperparams) == (
        "sum", 0.01, {"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.02})
    assert parse_spec(dump_spec(e)) == e
    # sgd without weight_decay reads as before (absent: 0, not written)
    assert parse_spec(_spec()).hyperparams == {"learning_rate": 0.1}


# --- softmax regression: linear with outputs -----------------------------------------------

def test_softmax_regression_is_a_linear_model_with_outputs():
    e = parse_spec(_spec(data=SOFTMAX_DATA, loss='kind = "softmax-cross-entropy"',
                         model='kind = "linear"\noutputs = 3\n'
                               'w = [[0.1, 0.2, 0.3], [0.0, -0.1, 0.5]]\nb = [0.0, 0.1, 0.2]'))
    assert (e.model, e.model_settings, e.outputs) == ("linear", {"outputs": 3}, 3)
    assert e.init["w[1,2]"] == 0.5 and e.init["b[2]"] == 0.2
    assert parse_spec(dump_spec(e)) == e
    # outputs = 1 is the default: the same run as leaving it out
    one = parse_spec(_spec(model='kind = "linear"\noutputs = 1\nw = 0.0\nb = 0.0'))
    assert one == parse_spec(_spec(model='kind = "linear"\nw = 0.0\nb = 0.0'))
    assert one.model_settings == {}


# --- [schedule] ------------------------------------------------------------------------------

_SCHEDULE_PARAMS = {
    "constant": {"value": 0.1},
    "linear": {"init_value": 1.0, "end_value": 0.1, "transition_steps": 100},
    "cosine": {"init_value": 0.1, "decay_steps": 50},
    "exponential": {"init_value": 0.5, "transition_steps": 10, "decay_rate": 0.9},
}


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


@pytest.mark.parametrize("kind", list(SCHEDULES))
def test_every_schedule_kind_is_read_with_optaxs_defaults_filled_in(kind):
    params = _SCHEDULE_PARAMS[kind]
    body = f'kind = "{kind}"\n' + "\n".join(f"{k} = {_toml(v)}" for k, v in params.items())
    e = parse_spec(_spec(optimizer='name = "adam"', schedule=body))
    assert e.schedule == {"kind": kind, **check_schedule(kind, params)}
    assert e.hyperparams == optimizer_hyperparameters("adam")  # no learning_rate
    assert "learning_rate" not in e.hyperparams
    assert parse_spec(dump_spec(e)) == e


def test_schedule_defaults_and_types_are_the_cores():
    e = parse_spec(_spec(schedule='kind = "linear"\ninit_value = 1\nend_value = 0.1\n'
                                  "transition_steps = 100", optimizer='name = "sgd"'))
    assert e.schedule == {"kind": "linear", "init_value": 1.0, "end_value": 0.1,
                          "transition_steps": 100, "transition_begin": 0}
    assert type(e.schedule["init_value"]) is float and type(e.schedule["transition_steps"]) is int
    assert e.hyperparams == {}


# --- round trips --------------------------------------------------------------------------------


def test_dump_writes_one_layers_table_per_layer_with_the_exact_values():
    e = parse_spec(_spec(model=SEEDED_131, loss='kind = "squared-error"\nl2 = 1e-4',
                         optimizer='name = "momentum"\nmomentum = 0.9',
                         schedule='kind = "cosine"\ninit_value = 0.05\ndecay_steps = 7'))
    text = dump_spec(e)
    assert text.count("[[model.layers]]") == 2
    assert 'sizes = [1, 3, 1]\nactivation = "tanh"' in text
    assert "[loss]\nkind = \"squared-error\"\nl2 = 0.0001" in text
    assert "[schedule]\nkind = \"cosine\"\ninit_value = 0.05\ndecay_steps = 7\n" in text
    assert repr(e.init["layers.1.w[2,0]"]) in text
    assert parse_spec(text) == e


def test_an_experiment_built_in_code_round_trips():
    sizes = (2, 3, 1)
    e = Experiment("built", "an mlp built in code", ((0.5, -1.0, 1.0), (1.5, 2.0, -1.0)),
                   initial_values("mlp", init="seeded", seed=3, sizes=sizes, activation="relu"),
                   "sgd", {}, 5, trainable=LEAVES_131, model="mlp",
                   model_settings={"sizes": sizes, "activation": "relu"}, loss="hinge", l2=1e-4,
                   schedule={"kind": "linear", "init_value": 1.0, "end_value": 0.1,
                             "transition_steps": 100, "transition_begin": 0})
    assert parse_spec(dump_spec(e)) == e


_UNIT = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
_RATE = st.floats(1e-6, 10.0, allow_nan=False, allow_infinity=False)
_STEPS = st.integers(1, 10_000)


@st.composite
def _schedules(draw) -> dict | None:
    kind = draw(st.sampled_from([None, *SCHEDULES]))
    if kind is None:
        return None
    params = {
        "constant": lambda: {"value": draw(_RATE)},
        "linear": lambda: {"init_value": draw(_RATE), "end_value": draw(st.just(0.0) | _RATE),
                           "transition_steps": draw(_STEPS),
                           "transition_begin": draw(st.integers(0, 100))},
        "cosine": lambda: {"init_value": draw(_RATE), "decay_steps": draw(_STEPS),
                           "alpha": draw(st.floats(0.0, 1.0)),
                           "exponent": draw(st.floats(0.5, 3.0))},
        "exponential": lambda: {"init_value": draw(_RATE), "transition_steps": draw(_STEPS),
                                "decay_rate": draw(st.floats(0.01, 2.0)),
                                "transition_begin": draw(st.integers(0, 100)),
                                "staircase": draw(st.booleans())},
    }[kind]()
    return {"kind": kind, **check_schedule(kind, params)}


@st.composite
def _experiments(draw) -> Experiment:
    """A valid ``train`` experiment of any model kind, loss and schedule (targets fit the loss)."""
    loss = draw(st.sampled_from(list(LOSS_KINDS)))
    model = "mlp" if loss == "softmax-cross-entropy" else draw(st.sampled_from(["linear", "mlp"]))
    d = draw(st.integers(1, 3))
    k = draw(st.integers(2, 3)) if loss == "softmax-cross-entropy" else 1
    if model == "mlp":
        hidden = draw(st.lists(st.integers(1, 3), max_size=2))
        settings_ = {"sizes": (d, *hidden, k), "activation": draw(st.sampled_from(
            ["tanh", "relu", "sigmoid"]))}
        config = settings_
    else:
        settings_, config = {}, {"features": d}
    targets = {"real": _UNIT, "binary": st.sampled_from([0.0, 1.0]),
               "sign": st.sampled_from([-1.0, 1.0]),
               "class": st.integers(0, k - 1).map(float)}[LOSS_KINDS[loss].targets]
    rows = st.lists(st.tuples(*[_UNIT] * d, targets), min_size=1, max_size=5)
    train = tuple(draw(rows))
    validation = draw(st.none() | rows.map(tuple))
    names = parameter_names(model, **config)
    init = {name: draw(_UNIT) for name in names}
    leaves = tuple(dict.fromkeys(name.split("[")[0] for name in names))
    trainable = tuple(leaf for leaf in leaves if draw(st.booleans())) or leaves
    schedule = draw(_schedules())
    optimizer = draw(st.sampled_from(["sgd", "momentum", "nesterov", "adam", "adamw"]))
    hyperparams = ({} if schedule else {"learning_rate": draw(_RATE)})
    hyperparams.update(optimizer_hyperparameters(optimizer))
    return Experiment(
        "drawn", "a drawn experiment", train, init, optimizer, hyperparams,
        draw(st.integers(1, 1000)), validation=validation, trainable=trainable,
        batch_size=draw(st.none() | st.integers(1, len(train))), seed=draw(st.integers(0, 99)),
        model=model, model_settings=settings_, loss=loss,
        l2=draw(st.just(0.0) | st.floats(0.0, 1.0)), schedule=schedule,
    )


@settings(max_examples=80, deadline=None)
@given(experiment=_experiments())
def test_any_valid_experiment_of_any_kind_loss_and_schedule_round_trips(experiment):
    assert parse_spec(dump_spec(experiment)) == experiment


# --- bad specs: one line, starting with the key ------------------------------------------------

_MLP = 'kind = "mlp"\nsizes = [1, 3, 1]\nactivation = "tanh"\n'
_LINEAR_LEAVES = "w = 0.0\nb = 0.0"
_BAD_LAYERS = [  # (layers tables after sizes [1, 3, 1], message prefix)
    (LAYERS_131.replace("b = [0.01, 0.02, 0.03]", "b = [0.01, 0.02]"),
     "[model.layers][0].b: expected shape (3,), got (2,)"),
    (LAYERS_131.replace("[[0.4], [-0.5], [0.6]]", "[[0.4, 0.0], [-0.5, 0.0], [0.6, 0.0]]"),
     "[model.layers][1].w: expected shape (3, 1), got (3, 2)"),
    (LAYERS_131.replace("[[0.4], [-0.5], [0.6]]", "[[0.4], [-0.5]]"),
     "[model.layers][1].w: expected shape (3, 1), got (2, 1)"),
    (LAYERS_131.replace("[[0.4], [-0.5], [0.6]]", "[[0.4], [-0.5, 1.0], [0.6]]"),
     "[model.layers][1].w: expected shape (3, 1), got a ragged list"),
    (LAYERS_131.replace("[[0.1, -0.2, 0.3]]", "[0.1, -0.2, 0.3]"),
     "[model.layers][0].w: expected shape (1, 3), got (3,)"),
    (LAYERS_131.replace("[[0.1, -0.2, 0.3]]", "0.1"),
     "[model.layers][0].w: expected shape (1, 3), got a float"),
    (LAYERS_131.replace("[0.6]]", '["0.6"]]'),
     "[model.layers][1].w[2][0]: expected a number, got a string"),
    (LAYERS_131.replace("b = [-0.7]", "b = [nan]"),
     "[model.layers][1].b[0]: must be finite, got nan"),
    (LAYERS_131.replace("b = [-0.7]", "b = [-0.7]\nc = 1.0"),
     "[model.layers][1].c: unknown key; expected w, b"),
    (LAYERS_131.replace("b = [-0.7]", ""), "[model.layers][1].b: missing"),
    (LAYERS_131.split("[[model.layers]]\nw = [[0.4]")[0],
     "[model].layers: expected 2 [[model.layers]] tables (one per layer of sizes [1, 3, 1]), "
     "got 1"),
    (LAYERS_131 + "\n[[model.layers]]\nw = [[1.0]]\nb = [0.0]",
     "[model].layers: expected 2 [[model.layers]] tables (one per layer of sizes [1, 3, 1]), "
     "got 3"),
    ("layers = 3", "[model].layers: expected 2 [[model.layers]] tables (one per layer of "
                   "sizes [1, 3, 1]), got an integer"),
    ("", '[model].layers: missing (give [[model.layers]] tables (w, b in each), or '
         'init = "zeros" or "seeded")'),
    ('init = "zeros"\n' + LAYERS_131, "[model].layers: give initial values or init, not both"),
]

SOFTMAX_DATA = "train = [[1.0, 0.5, 0], [2.0, -1.0, 1], [0.0, 1.0, 2]]"

BAD = [
    (_spec(data=SOFTMAX_DATA, loss='kind = "softmax-cross-entropy"',
           model='kind = "linear"\noutputs = 3\ninit = "zeros"\nsizes = [2, 3]'),
     "[model].sizes: unknown key"),
    (_spec(data=SOFTMAX_DATA, loss='kind = "softmax-cross-entropy"',
           model='kind = "linear"\noutputs = 3\nw = [0.1, 0.2]\nb = [0.0, 0.1, 0.2]'),
     "[model].w: expected shape (2, 3)"),
    (_spec(data=SOFTMAX_DATA, model='kind = "linear"\noutputs = 3\ninit = "zeros"'),
     "[model].outputs: is 3 but half-squared-error"),
    (_spec(model='kind = "linear"\noutputs = 0\ninit = "zeros"'),
     "[model].outputs: must be an integer >= 1, got 0"),
    (_spec(loss='reduction = "none"'),
     "[loss].reduction: expected one of 'mean', 'sum', got 'none'"),
    (_spec(optimizer='name = "sgd"\nlearning_rate = 0.1\nweight_decay = -1.0'),
     "[optimizer].weight_decay: must be finite and >= 0, got -1.0"),
    # --- [model] for an mlp: configuration
    (_spec(model='kind = "mlp"\nactivation = "tanh"\ninit = "zeros"'),
     "[model].sizes: missing (mlp needs sizes, activation)"),
    (_spec(model='kind = "mlp"\nsizes = [1, 3, 1]\ninit = "zeros"'),
     "[model].activation: missing (mlp needs sizes, activation)"),
    (_spec(model=_MLP.replace('"tanh"', '"gelu"') + 'init = "zeros"'),
     "[model].activation: unknown activation 'gelu'; expected one of tanh, relu, sigmoid"),
    (_spec(model=_MLP.replace('"tanh"', "3") + 'init = "zeros"'),
     "[model].activation: unknown activation 3"),
    (_spec(model=_MLP.replace("[1, 3, 1]", "[1]") + 'init = "zeros"'),
     "[model].sizes: must list at least [d, k], got [1]"),
    (_spec(model=_MLP.replace("[1, 3, 1]", '"1, 3, 1"') + 'init = "zeros"'),
     "[model].sizes: must list at least [d, k], got '1, 3, 1'"),
    (_spec(model=_MLP.replace("[1, 3, 1]", "[1, 0, 1]") + 'init = "zeros"'),
     "[model].sizes: must be integers >= 1, got [1, 0, 1]"),
    (_spec(model=_MLP.replace("[1, 3, 1]", "[1, 3.0, 1]") + 'init = "zeros"'),
     "[model].sizes: must be integers >= 1, got [1, 3.0, 1]"),
    (_spec(model=_MLP.replace("[1, 3, 1]", "[2, 3, 1]") + 'init = "zeros"'),
     "[model].sizes: starts with d = 2 but the data has 1 feature per row"),
    (_spec(data="train = [[1.0, 2.0, 3.0, 0.5]]", model=_MLP + 'init = "zeros"'),
     "[model].sizes: starts with d = 1 but the data has 3 features per row"),
    (_spec(model=_MLP.replace("[1, 3, 1]", "[1, 400000, 400000, 1]") + 'init = "zeros"'),
     "[model].sizes: " + spec_size_problem(800_000 + 400_000 * 400_000 + 400_000 + 400_001, 1)),
    (_spec(model=_MLP + 'init = "zeros"\nw = 0.0'),
     "[model].w: unknown key; expected sizes, activation, layers, kind, init, seed, trainable"),
    (_spec(model="sizes = [1, 3, 1]\n" + _LINEAR_LEAVES),
     "[model].sizes: unknown key; expected outputs, w, b, kind, init, seed, trainable"),
    (_spec(model=_MLP + 'init = "seeded"\nseed = -1'),
     "[model].seed: must be an integer >= 0, got -1"),
    (_spec(model=_MLP + 'init = "zeros"\ntrainable = ["w"]'),
     "[model].trainable: unknown parameter 'w'; the model has layers.0.w, layers.0.b, "
     "layers.1.w, layers.1.b"),
    (_spec(model=_MLP + 'init = "zeros"\ntrainable = ["layers.0.w[0,0]"]'),
     "[model].trainable: unknown parameter 'layers.0.w[0,0]'"),
    # --- [model] for an mlp: explicit [[model.layers]] values
    *[(_spec(model=_MLP + layers), message) for layers, message in _BAD_LAYERS],
    # --- [loss]
    (_spec().replace('name = "t"\n', 'name = "t"\nloss = 3\n'),
     "[loss]: expected a table, got an integer"),
    (_spec(loss='kind = "mse"'), "[loss].kind: unknown loss 'mse'; expected one of "
     "half-squared-error, squared-error, binary-cross-entropy, softmax-cross-entropy, hinge"),
    (_spec(loss="kind = 3"), "[loss].kind: unknown loss 3; expected one of"),
    (_spec(loss="l2 = -0.1"), "[loss].l2: must be >= 0, got -0.1"),
    (_spec(loss="l2 = nan"), "[loss].l2: must be finite, got nan"),
    (_spec(loss="l2 = inf"), "[loss].l2: must be finite, got inf"),
    (_spec(loss='l2 = "small"'), "[loss].l2: expected a number, got a string"),
    (_spec(loss="alpha = 0.1"), "[loss].alpha: unknown key; expected kind, l2"),
    (_spec(model=_LINEAR_LEAVES, loss='kind = "softmax-cross-entropy"'),
     "[loss].kind: softmax-cross-entropy needs k >= 2 outputs (one per class); a linear model "
     "has one output"),
    (_spec(loss='kind = "softmax-cross-entropy"'),
     "[model].sizes: ends in k = 1 output but softmax-cross-entropy needs k >= 2"),
    (_spec(model=_MLP.replace("[1, 3, 1]", "[1, 3, 2]") + 'init = "zeros"',
           loss='kind = "hinge"'),
     "[model].sizes: ends in k = 2 outputs but hinge takes one output per example (k = 1)"),
    (_spec(model=_MLP.replace("[1, 3, 1]", "[1, 2]") + 'init = "zeros"'),
     "[model].sizes: ends in k = 2 outputs but half-squared-error takes one output per example"),
    # --- targets that do not fit the loss: the data table and row
    (_spec(data="train = [[1.0, 1.0], [2.0, -1.0], [3.0, 1.0], [4.0, 0.5]]",
           loss='kind = "hinge"'),
     "[data].train[3]: target 0.5 does not fit hinge (takes -1 or +1)"),
    (_spec(data="train = [[1.0, 0.0]]\nvalidation = [[1.0, 1.0], [2.0, 2.0]]",
           loss='kind = "binary-cross-entropy"'),
     "[data].validation[1]: target 2.0 does not fit binary-cross-entropy (takes 0 or 1)"),
    (_spec(data="train = [[1.0, -1.0]]", loss='kind = "binary-cross-entropy"'),
     "[data].train[0]: target -1.0 does not fit binary-cross-entropy (takes 0 or 1)"),
    (_spec(data="train = [[1.0, 0.0], [2.0, 3.0]]",
           model=_MLP.replace("[1, 3, 1]", "[1, 3, 3]") + 'init = "zeros"',
           loss='kind = "softmax-cross-entropy"'),
     "[data].train[1]: target 3.0 does not fit softmax-cross-entropy (takes an integer class "
     "0..2)"),
    (_spec(data="train = [[1.0, 1.5]]",
           model=_MLP.replace("[1, 3, 1]", "[1, 3, 3]") + 'init = "zeros"',
           loss='kind = "softmax-cross-entropy"'),
     "[data].train[0]: target 1.5 does not fit softmax-cross-entropy"),
    # --- [schedule]
    (_spec().replace('name = "t"\n', 'name = "t"\nschedule = 3\n'),
     "[schedule]: expected a table, got an integer"),
    (_spec(optimizer='name = "sgd"', schedule="init_value = 0.1"), "[schedule].kind: missing"),
    (_spec(optimizer='name = "sgd"', schedule='kind = "step"'),
     "[schedule].kind: unknown schedule 'step'; expected one of constant, linear, cosine, "
     "exponential"),
    (_spec(optimizer='name = "sgd"', schedule='kind = "linear"\ndecay_steps = 3'),
     "[schedule].decay_steps: not a key of linear; it takes init_value, end_value, "
     "transition_steps, transition_begin"),
    (_spec(optimizer='name = "sgd"', schedule='kind = "linear"\ninit_value = 1.0\n'
                                               "end_value = 0.1"),
     "[schedule].transition_steps: missing (linear needs init_value, end_value, "
     "transition_steps)"),
    (_spec(optimizer='name = "sgd"', schedule='kind = "cosine"\ninit_value = 0.1\n'
                                               "decay_steps = 0"),
     "[schedule].decay_steps: must be an integer >= 1, got 0"),
    (_spec(optimizer='name = "sgd"', schedule='kind = "cosine"\ninit_value = 0.1\n'
                                               "decay_steps = 10.0"),
     "[schedule].decay_steps: must be an integer >= 1, got 10.0"),
    (_spec(optimizer='name = "sgd"', schedule='kind = "linear"\ninit_value = 1.0\n'
                                               "end_value = 0.1\ntransition_steps = 5\n"
                                               "transition_begin = -1"),
     "[schedule].transition_begin: must be an integer >= 0, got -1"),
    (_spec(optimizer='name = "sgd"', schedule='kind = "constant"\nvalue = 0.0'),
     "[schedule].value: must be finite and > 0, got 0.0"),
    (_spec(optimizer='name = "sgd"', schedule='kind = "constant"\nvalue = nan'),
     "[schedule].value: must be finite and > 0, got nan"),
    (_spec(optimizer='name = "sgd"', schedule='kind = "constant"\nvalue = "fast"'),
     "[schedule].value: must be a number, got 'fast'"),
    (_spec(optimizer='name = "sgd"', schedule='kind = "linear"\ninit_value = 1.0\n'
                                               "end_value = -0.1\ntransition_steps = 5"),
     "[schedule].end_value: must be finite and >= 0, got -0.1"),
    (_spec(optimizer='name = "sgd"', schedule='kind = "exponential"\ninit_value = 1.0\n'
                                               "transition_steps = 5\ndecay_rate = 0.5\n"
                                               "staircase = 1"),
     "[schedule].staircase: must be true or false"),
    (_spec(schedule='kind = "constant"\nvalue = 0.1'),
     "[optimizer].learning_rate: give the rate in [schedule], not both"),
    (_spec(optimizer='name = "sgd"'), "[optimizer].learning_rate: missing"),
    (_spec(optimizer='name = "sgd"\nmomentum = 0.9', schedule='kind = "constant"\nvalue = 0.1'),
     "[optimizer].momentum: not a key of sgd; it takes weight_decay"),
    (_spec(optimizer='name = "adam"\nmomentum = 0.9', schedule='kind = "constant"\nvalue = 0.1'),
     "[optimizer].momentum: not a key of adam; it takes b1, b2, eps"),
]


@pytest.mark.parametrize(("text", "prefix"), BAD, ids=[p for _, p in BAD])
def test_bad_specs_raise_one_line_starting_with_the_key(text, prefix):
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(prefix), message


def test_a_file_target_that_does_not_fit_names_the_file_row_and_column(tmp_path):
    (tmp_path / "late.csv").write_text("disruption,late\n1.0,1\n2.0,0\n3.0,0.5\n")
    spec = tmp_path / "s.toml"
    spec.write_text(_spec(data='train = "late.csv"', model=_LINEAR_LEAVES,
                          loss='kind = "binary-cross-entropy"'))
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    assert str(info.value) == (
        f"{spec}: [data].train: {tmp_path / 'late.csv'}: data row 3, column 'late': target 0.5 "
        "does not fit binary-cross-entropy (takes 0 or 1)"
    )


def test_file_targets_that_fit_are_read(tmp_path):
    (tmp_path / "late.csv").write_text("disruption,late\n1.0,1\n2.0,0\n")
    spec = tmp_path / "s.toml"
    spec.write_text(_spec(data='train = "late.csv"', model=_LINEAR_LEAVES,
                          loss='kind = "binary-cross-entropy"'))
    assert load_spec(spec).ys == [1.0, 0.0]


# --- through the command line: exit 2, one line on stderr ------------------------------------

CLI_REFUSALS = [
    (_spec(model=_MLP + LAYERS_131.replace("[[0.4], [-0.5], [0.6]]", "[[0.4], [-0.5]]")),
     r"\[model\.layers\]\[1\]\.w: expected shape \(3, 1\), got \(2, 1\)$"),
    (_spec(data="train = [[1.0, 1.0], [2.0, 0.5]]", loss='kind = "hinge"'),
     r"\[data\]\.train\[1\]: target 0\.5 does not fit hinge \(takes -1 or \+1\)$"),
    (_spec(schedule='kind = "constant"\nvalue = 0.1'),
     r"\[optimizer\]\.learning_rate: give the rate in \[schedule\], not both$"),
    (_spec(optimizer='name = "sgd"', schedule='kind = "cosine"\ninit_value = 0.1'),
     r"\[schedule\]\.decay_steps: missing \(cosine needs init_value, decay_steps\)$"),
]


@pytest.mark.parametrize(("text", "message"), CLI_REFUSALS, ids=[m for _, m in CLI_REFUSALS])
def test_bad_specs_are_refused_by_the_command_line(capsys, tmp_path, text, message):
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    code, out, err = run_cli(capsys, "comparisons", "run", "--spec", spec)
    assert_refused(code, out, err, r"^error: " + re.escape(str(spec)) + ": " + message)


@pytest.mark.slow
def test_a_bad_mlp_spec_is_refused_in_a_fresh_process(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text(_spec(model=_MLP.replace("[1, 3, 1]", "[2, 3, 1]") + 'init = "zeros"'))
    result = run_module("comparisons", "run", "--spec", spec)
    assert_refused(result.returncode, result.stdout, result.stderr,
                   r"\[model\]\.sizes: starts with d = 2 but the data has 1 feature per row$")


# --- the example files ------------------------------------------------------------------------


def test_the_logistic_example_parses():
    e = load_spec(ROOT / "examples" / "logistic-inline.toml")
    assert (e.model, e.features, len(e.train), e.loss, e.optimizer) == (
        "linear", 2, 8, "binary-cross-entropy", "sgd")
    assert set(e.ys) == {0.0, 1.0} and e.classifies
    assert parse_spec(dump_spec(e)) == e


def test_the_tanh_mlp_schedule_example_parses():
    e = load_spec(ROOT / "examples" / "tanh-mlp-schedule.toml")
    assert (e.model, e.model_settings) == ("mlp", {"sizes": (1, 4, 1), "activation": "tanh"})
    assert e.init == initial_values("mlp", init="seeded", seed=0, sizes=(1, 4, 1),
                                    activation="tanh")
    assert (e.loss, e.optimizer, e.schedule["kind"]) == ("squared-error", "adam", "cosine")
    assert "learning_rate" not in e.hyperparams
    assert (e.schedule["init_value"], e.schedule["decay_steps"]) == (0.05, 50)  # as written
    assert parse_spec(dump_spec(e)) == e


def test_replacing_the_schedule_needs_a_rate_again():
    e = load_spec(ROOT / "examples" / "tanh-mlp-schedule.toml")
    constant = dataclasses.replace(e, schedule=None, hyperparams={"learning_rate": 0.01,
                                                                  **e.hyperparams})
    assert parse_spec(dump_spec(constant)) == constant
