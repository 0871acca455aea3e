"""The trajectory's files (comparisons.trajectory_files): JSON, long CSV, and the JSON Schema.

Both formats round-trip a trajectory exactly; a bad file is one line naming the
path; the shipped JSON Schema accepts exactly what the reader accepts (checked
with a small validator of the schema's subset, no validator being a dependency).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from comparisons.backends import get_backend
from comparisons.experiments import REGISTRY
from comparisons.report import dumps_json
from comparisons.trajectory import DERIVED, QUANTITIES, Trajectory, TrajectoryError
from comparisons.trajectory_files import (
    CSV_HEADER,
    read_trajectory,
    trajectory_csv,
    trajectory_npz,
    trajectory_schema,
    write_trajectory,
)

ROOT = Path(__file__).resolve().parents[2]
STUDENT = ROOT / "examples" / "student-loop"


def _manual(experiment):
    return get_backend("manual").run(experiment, dtype="float64")


def test_json_and_csv_round_trip(tmp_path):
    mine = Trajectory(params={"w": [1.0, 1.8]}, grads={"w": {0: -8.0}},
                      batch_loss=[math.inf], predictions=[[2.0, 3.0]], batches=[[1, 0]],
                      extras={"numeric.w": [-8.0]})
    assert Trajectory.from_dict(json.loads(json.dumps(mine.to_json()))) == mine
    path = tmp_path / "mine.csv"
    path.write_text(trajectory_csv(mine))
    assert read_trajectory(path) == mine
    path = tmp_path / "mine.json"
    path.write_text(dumps_json(mine.to_json()))
    assert read_trajectory(path) == mine


@pytest.mark.parametrize(("name", "text", "message"), [
    ("bad.csv", "step,quantity,value\n", r"bad\.csv: row 1 is 'step,quantity,value', expected "
                                         r"the header step,quantity,name,value$"),
    ("bad.csv", "", r"bad\.csv: empty file"),
    ("bad.csv", "step,quantity,name,value\n0,grads,w,abc\n",
     r"bad\.csv: non-numeric value 'abc' in row 2$"),
    ("bad.csv", "step,quantity,name,value\n\n0,grads,w\n", r"bad\.csv: 3 fields in row 3"),
    ("bad.json", '{"train_loss": [NaN]}', r'bad\.json: not strict JSON: it contains NaN; write '
                                          r'it as the string "NaN"$'),
    ("bad.json", '{"train_loss": [', r"bad\.json: not valid JSON: "),
    ("bad.json", '{"experiments": []}', r"bad\.json: this is a whole comparisons report"),
])
def test_a_bad_file_is_one_line_naming_the_path_and_the_row(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TrajectoryError) as caught:
        read_trajectory(path)
    assert "\n" not in str(caught.value)
    assert re.search(message, str(caught.value)), str(caught.value)


def test_a_missing_file_is_named_and_other_suffixes_are_read_by_their_first_character(tmp_path):
    with pytest.raises(TrajectoryError, match=r"^cannot read trajectory .*none\.csv: "):
        read_trajectory(tmp_path / "none.csv")
    (tmp_path / "mine.txt").write_text('{"batch_loss": [8.0]}')
    (tmp_path / "rows.txt").write_text(",".join(CSV_HEADER) + "\n0,batch_loss,,8.0\n")
    assert read_trajectory(tmp_path / "mine.txt") == read_trajectory(tmp_path / "rows.txt") == (
        Trajectory(batch_loss=[8.0]))


# --- the JSON Schema ------------------------------------------------------------------------------


def _valid(instance, schema, root) -> bool:
    """The subset of JSON Schema the trajectory schema uses (no validator is a dependency)."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _valid(instance, target, root)
    if "oneOf" in schema:
        return sum(_valid(instance, option, root) for option in schema["oneOf"]) == 1
    if "enum" in schema and instance not in schema["enum"]:
        return False
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(instance, kind) for kind in types):
            return False
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        if instance < schema.get("minimum", -math.inf):
            return False
    if isinstance(instance, str):
        if len(instance) < schema.get("minLength", 0):
            return False
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            return False
    if isinstance(instance, list) and "items" in schema:
        return all(_valid(item, schema["items"], root) for item in instance)
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for key, value in instance.items():
            if "propertyNames" in schema and not _valid(key, schema["propertyNames"], root):
                return False
            if key in properties:
                if not _valid(value, properties[key], root):
                    return False
            elif schema.get("additionalProperties") is False:
                return False
            elif isinstance(schema.get("additionalProperties"), dict) and not _valid(
                    value, schema["additionalProperties"], root):
                return False
    return True


def _is(instance, kind: str) -> bool:
    number = isinstance(instance, (int, float)) and not isinstance(instance, bool)
    return {"number": number,
            "integer": number and float(instance).is_integer(),
            "string": isinstance(instance, str), "object": isinstance(instance, dict),
            "array": isinstance(instance, list), "null": instance is None}[kind]


def test_the_schema_is_shipped_in_the_package_and_names_every_quantity():
    schema = trajectory_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["properties"]) == {*QUANTITIES, *DERIVED}
    assert schema["additionalProperties"] is False


def test_the_schema_is_package_data():
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    assert '"schemas/*.json"' in section, "pyproject.toml does not ship comparisons/schemas"


@pytest.mark.parametrize("name", ["full-batch", "mini-batch", "train-validation",
                                  "gradient-check", "softmax/delay-class"])
def test_every_backend_trajectory_and_the_example_fit_the_schema(name):
    schema = trajectory_schema()
    assert _valid(_manual(REGISTRY[name]).to_json(), schema, schema)
    assert _valid(json.loads((STUDENT / "correct.json").read_text()), schema, schema)


@pytest.mark.parametrize("document", [
    {"params": {"w": [1.0, None]}, "train_loss": {"3": "Infinity"}},
    {"predictions": {"2": {"0": 1.5}}, "batches": [[0, None], None]},
    {"val_loss": None, "extras": {}, "first_nonfinite_step": None, "grad_norm": [1.0]},
])
def test_partial_documents_fit_the_schema_and_the_reader(document):
    schema = trajectory_schema()
    assert _valid(document, schema, schema)
    Trajectory.from_dict(document)


@pytest.mark.parametrize("document", [
    {"grad": {"w": [1.0]}},
    {"params": {"w": [1.0, "abc"]}},
    {"params": {"w": [True]}},
    {"params": {"w": {"x": 1.0}}},
    {"params": [1.0]},
    {"params": {"": [1.0]}},
    {"params": {"w": None}},
    {"batch_loss": 8.0},
    {"batches": [[0.5]]},
    {"batches": [[-1]]},
    {"train_loss": ["inf"]},
])
def test_what_the_schema_refuses_the_reader_refuses(document):
    schema = trajectory_schema()
    assert not _valid(document, schema, schema)
    with pytest.raises(TrajectoryError):
        Trajectory.from_dict(document)


# --- NPZ: the binary format for large runs --------------------------------------------------


def test_npz_round_trip_of_a_whole_run(tmp_path):
    run = get_backend("manual").run(REGISTRY["softmax/delay-class"])
    mine = Trajectory.from_record(run)
    path = write_trajectory(tmp_path / "run.npz", mine)
    assert read_trajectory(path) == mine
    assert read_trajectory(write_trajectory(tmp_path / "run.json", mine)) == mine
    assert read_trajectory(write_trajectory(tmp_path / "run.csv", mine)) == mine


def test_npz_holds_steps_other_than_every_one(tmp_path):
    mine = Trajectory(params={"w": {2: 1.0, 5: 2.0}, "b": {2: 0.0, 5: 0.5}},
                      train_loss={3: 4.0})
    arrays = trajectory_npz(mine)
    assert arrays["params.steps"].tolist() == [2, 5]
    assert read_trajectory(write_trajectory(tmp_path / "part.npz", mine)) == mine


def test_npz_needs_a_quantity_at_one_set_of_steps(tmp_path):
    with pytest.raises(TrajectoryError, match=re.escape(
            "NPZ holds a quantity's series at the same steps; params.b has steps 0, "
            "params.w steps 0, 1: write .json or .csv")):
        write_trajectory(tmp_path / "x.npz", Trajectory(params={"w": [1.0, 2.0], "b": [0.0]}))
    with pytest.raises(TrajectoryError, match=re.escape("write a trajectory as .json, .csv "
                                                        "or .npz, not .txt")):
        write_trajectory(tmp_path / "x.txt", Trajectory(batch_loss=[1.0]))


@pytest.mark.parametrize(("members", "message"), [
    ({"loss": np.zeros(2)}, "unknown member 'loss'"),
    ({"params": np.zeros((2, 2))}, "params.names: expected 2 names (1-D strings)"),
    ({"params": np.zeros((2, 1)), "params.names": np.array(["w", "b"])},
     "params.names: expected 1 names"),
    ({"batch_loss": np.zeros((2, 2))}, "batch_loss: expected a 1-D array of numbers, got 2-D"),
    ({"batches": np.zeros((2, 2))}, "batches: expected a 2-D array of example indices"),
    ({"batches": np.array([[0, -1]])}, "example index -1 in batches[0][1]"),
    ({"train_loss": np.zeros(2), "train_loss.steps": np.array([3, 1])},
     "train_loss.steps: expected 2 increasing steps >= 0"),
])
def test_a_bad_npz_is_one_line_naming_the_member(tmp_path, members, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **members)
    with pytest.raises(TrajectoryError, match=re.escape(f"{path}: {message}")):
        read_trajectory(path)
