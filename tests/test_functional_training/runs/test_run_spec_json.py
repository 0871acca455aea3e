"""The run description's one JSON pair: run_spec_to_json / run_spec_from_json.

Round trips are checked for exact equality (floats are written in their shortest
round-trip form, so no tolerance applies).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from functional_training.runs import (
    FROM_TRAJECTORY,
    RunSpec,
    parse_run_spec,
    run_spec_from_json,
    run_spec_to_json,
)

SEEDED_MLP = """
name = "net"
[data]
train = [[0.5, -1.0, 1.0], [1.5, 2.0, -1.0], [0.1, 0.2, 1.0]]
validation = [[1.0, 1.0, -1.0]]
[model]
kind = "mlp"
sizes = [2, 3, 1]
activation = "tanh"
init = "seeded"
seed = 4
[loss]
kind = "hinge"
l2 = 0.001
[optimizer]
name = "adam"
[schedule]
kind = "cosine"
init_value = 0.1
decay_steps = 10
[run]
steps = 5
batch_size = 2
seed = 3
"""


def test_a_parsed_spec_round_trips_through_json_exactly():
    spec = parse_run_spec(SEEDED_MLP)
    data = json.loads(json.dumps(run_spec_to_json(spec), allow_nan=False))
    back = run_spec_from_json(data)
    assert back == spec
    assert (back.init_kind, back.init_seed) == ("seeded", 4)  # provenance, outside equality
    np.testing.assert_array_equal(back.x, spec.x)
    np.testing.assert_array_equal(back.y_val, spec.y_val)
    assert back.model_settings == {"sizes": (2, 3, 1), "activation": "tanh"}
    assert "files" not in data


def test_keys_older_manifests_lack_take_the_fields_defaults():
    spec = RunSpec("one", "", ((2.0, 6.0),), {"w": 1.0, "b": 0.0}, "sgd",
                   {"learning_rate": 0.1}, 1)
    data = run_spec_to_json(spec)
    for key in ("model", "model_settings", "loss", "l2", "schedule", "init_kind", "init_seed"):
        del data[key]
    assert run_spec_from_json(data) == spec


@pytest.mark.parametrize("change, message", [
    ({"steps": True}, "run.steps: must be an integer, got a boolean"),
    ({"train": [[1.0]]}, "run.train: must be a list of [x_1, ..., x_d, target] number rows"),
    ({"colour": "blue"}, "run.colour: unknown key; expected name, description, train"),
    ({"l2": "0"}, "run.l2: must be a number, got a string"),
])
def test_bad_json_is_one_line_naming_the_key(change, message):
    spec = RunSpec("one", "", ((2.0, 6.0),), {"w": 1.0, "b": 0.0}, "sgd",
                   {"learning_rate": 0.1}, 1)
    with pytest.raises(ValueError) as caught:
        run_spec_from_json({**run_spec_to_json(spec), **change})
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_a_missing_key_is_named():
    data = run_spec_to_json(RunSpec("one", "", ((2.0, 6.0),), {"w": 1.0, "b": 0.0}, "sgd",
                                    {"learning_rate": 0.1}, 1))
    del data["seed"]
    with pytest.raises(ValueError, match=r"^run\.seed: missing$"):
        run_spec_from_json(data)


def test_a_replayed_run_and_one_left_to_a_trajectory_round_trip():
    spec = RunSpec("one", "", ((2.0, 6.0), (1.0, 3.0)), None, "sgd", {"learning_rate": 0.1}, 2,
                   order=FROM_TRAJECTORY, last_batch="keep")
    data = run_spec_to_json(spec)
    assert (data["init"], data["order"], data["last_batch"]) == (None, "trajectory", "keep")
    assert run_spec_from_json(json.loads(json.dumps(data))) == spec
    replayed = spec.replaying(init={"w": 1.0, "b": 0.0}, order=[[1], [0, 1]])
    data = run_spec_to_json(replayed)
    assert data["order"] == [[1], [0, 1]]
    assert run_spec_from_json(json.loads(json.dumps(data))) == replayed
    with pytest.raises(ValueError, match=r"^run\.order: must be null, \"trajectory\" or a list of "
                                         r"lists of example indices, got a list$"):
        run_spec_from_json({**data, "order": [[-1]]})
