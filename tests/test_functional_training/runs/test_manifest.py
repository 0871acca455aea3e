"""functional_training/runs/_manifest.py: run manifests built, validated, written and read back.

(Data versions and digests: test_digests.py; the environment: test_environment.py; strict
JSON and atomic writes: test_io.py.)
"""

from __future__ import annotations

import copy
import json

import pytest

from functional_training import runs


def _run(**overrides) -> dict:
    settings = dict(
        name="train",
        data=runs.data_record("shipments", [1.0, 2.0, 3.0], [3.0, 5.0, 7.0]),
        split="all examples train; no validation set",
        init={"w": 0.0, "b": 0.0},
        optimizer="sgd",
        hyperparameters={},
        learning_rates=[0.08],
        steps=20,
        options={"data": "shipments", "chunk_steps": 20},
        results={"trajectory": runs.sha256_digest(b"t")},
    )
    settings.update(overrides)
    return runs.run_record(**settings)


@pytest.fixture(scope="module")
def manifest() -> dict:
    return runs.build_manifest(tool="functional_training train", runs=[_run()], dtype="float64")


def test_build_manifest_records_the_lessons_list(manifest):
    run = manifest["runs"][0]
    # The lesson: data version, split policy, batch size, learning rate, optimizer,
    # seed and checkpoint identifier, plus steps, dtype, devices and versions.
    for key in ("data", "split", "batch_size", "learning_rates", "optimizer", "seed",
                "checkpoint", "steps", "hyperparameters"):
        assert key in run
    assert runs.is_digest(run["data"]["version"])
    assert manifest["dtype"] == "float64" and manifest["devices"]
    assert set(runs.PACKAGES) <= set(manifest["versions"])
    assert json.loads(json.dumps(manifest, allow_nan=False)) == manifest


def _set(path: str, value):
    """A mutation: set ``manifest[...]`` at a dotted path (``runs.0.steps``); DELETE removes."""

    def mutate(manifest):
        *parents, last = path.split(".")
        node = manifest
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


class _Delete:
    """The sentinel "remove this key"; its repr is fixed, so test ids are the same in every
    process (pytest-xdist workers must collect the same ids)."""

    def __repr__(self) -> str:
        return "<delete>"


_DELETE = _Delete()

BAD_MANIFESTS = [
    ("format", "other/1", "manifest.format must be the string"),
    ("tool", _DELETE, "missing key 'tool'"),
    ("colour", "blue", "unknown key 'colour'"),
    ("dtype", "float8", "manifest.dtype must be one of"),
    ("devices", "cpu", "manifest.devices must be a list of strings"),
    ("versions", {"jax": 1}, "manifest.versions must be an object"),
    ("source", "abc", "manifest.source must be a 'sha256"),
    ("runs", [], "manifest.runs must be a non-empty list"),
    ("runs.0.name", "", "runs[0].name must be a non-empty string"),
    ("runs.0.steps", 0, "runs[0].steps must be an integer > 0, got 0"),
    ("runs.0.steps", 2.5, "runs[0].steps must be an integer > 0, got 2.5"),
    ("runs.0.steps", True, "runs[0].steps must be an integer > 0, got true"),
    ("runs.0.learning_rates", [0.0], "runs[0].learning_rates must be a list of finite numbers > 0"),
    ("runs.0.learning_rates", [-0.1], "runs[0].learning_rates must be a list of finite numbers"),
    ("runs.0.learning_rates", "0.1", "runs[0].learning_rates must be a list"),
    ("runs.0.batch_size", 0, "runs[0].batch_size must be an integer > 0, or null"),
    ("runs.0.batch_size", 4, "runs[0].batch_size must be <= train_examples (3), got 4"),
    ("runs.0.seed", -1, "runs[0].seed must be an integer >= 0, or null"),
    ("runs.0.epochs", 0, "runs[0].epochs must be an integer > 0, or null"),
    ("runs.0.hyperparameters", {"momentum": "0.9"}, "runs[0].hyperparameters must be an object"),
    ("runs.0.init", {"w": "zero"}, "runs[0].init must be an object of name -> finite number"),
    ("runs.0.checkpoint", "ckpt-3", "runs[0].checkpoint must be a 'sha256"),
    ("runs.0.results", {"trajectory": "x"}, "runs[0].results must be an object of label"),
    ("runs.0.options", [], "runs[0].options must be an object"),
    ("runs.0.optimizer", _DELETE, "runs[0]: missing key 'optimizer'"),
    ("runs.0.extra", 1, "runs[0]: unknown key 'extra'"),
    ("runs.0.data.version", "v1", "runs[0].data.version must be a 'sha256"),
    ("runs.0.data.train_examples", -1, "runs[0].data.train_examples must be an integer >= 0"),
    ("runs.0.data.source", _DELETE, "runs[0].data: missing key 'source'"),
]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    BAD_MANIFESTS,
    ids=lambda v: "delete" if v is _DELETE else str(v)[:30],  # same ids on every xdist worker
)
def test_validate_manifest_names_the_offending_key(manifest, path, value, message):
    broken = copy.deepcopy(manifest)
    _set(path, value)(broken)
    with pytest.raises(ValueError) as info:
        runs.validate_manifest(broken)
    text = str(info.value)
    assert message in text, text
    assert "\n" not in text


def test_validate_manifest_refuses_non_objects():
    with pytest.raises(ValueError, match="must be a JSON object, got list"):
        runs.validate_manifest([])


# ----------------------------------------------------------------------------- files


def test_manifest_round_trip(tmp_path, manifest):
    path = runs.write_manifest(tmp_path / "run.json", manifest)
    assert runs.read_manifest(path) == manifest
    report = tmp_path / "report.json"
    runs.write_json_atomic(report, {"manifest": manifest, "trajectory": {}})
    assert runs.read_manifest(report) == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "run.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "is not valid JSON: Expecting property name"),
        (b'{"a": NaN}', "is not strict JSON: it contains NaN"),
        (b'{"a": -Infinity}', "is not strict JSON: it contains -Infinity"),
        (b"\xff\xfe", "is not UTF-8 text"),
        (b"[]", "manifest must be a JSON object"),
        (b'{"format": "functional-training/manifest/1"}', "missing key 'tool'"),
    ],
)
def test_read_manifest_bad_files(tmp_path, content, message):
    path = tmp_path / "m.json"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        runs.read_manifest(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_read_missing_file():
    with pytest.raises(ValueError, match="cannot read manifest .*: No such file or directory"):
        runs.read_manifest("/no/such/manifest.json")
