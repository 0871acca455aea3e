"""Run manifests: data versions, digests, validation, strict JSON and atomic writes."""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys

import numpy as np
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


# ----------------------------------------------------------------------------- data version


def test_data_version_is_sha256_of_the_documented_encoding():
    # Independent computation from the docstring's definition: compact JSON header
    # (role, little-endian dtype, shape), a newline, then each array's bytes.
    x, y = np.array([1.0, 2.0, 3.0]), np.array([3.0, 5.0, 7.0])
    header = '[{"name":"x","dtype":"<f8","shape":[3]},{"name":"y","dtype":"<f8","shape":[3]}]'
    expected = hashlib.sha256(header.encode() + b"\n" + x.tobytes() + y.tobytes()).hexdigest()
    assert runs.data_version(x, y) == "sha256:" + expected


def test_data_version_sees_values_order_dtype_shape_and_validation():
    base = runs.data_version([1.0, 2.0], [3.0, 5.0])
    variants = [
        runs.data_version([1.0, 2.0], [3.0, 5.000000000000001]),  # one ulp
        runs.data_version([2.0, 1.0], [5.0, 3.0]),  # order
        runs.data_version(np.float32([1.0, 2.0]), np.float32([3.0, 5.0])),  # dtype
        runs.data_version([[1.0], [2.0]], [3.0, 5.0]),  # shape (n, 1) vs (n,)
        runs.data_version([1.0, 2.0], [3.0, 5.0], [1.0], [2.0]),  # a validation set
    ]
    assert len({base, *variants}) == len(variants) + 1


def test_data_version_ignores_how_the_bytes_are_held():
    big_endian = np.array([1.0, 2.0], dtype=">f8"), np.array([3.0, 5.0], dtype=">f8")
    strided = np.array([1.0, 9.0, 2.0])[::2], np.array([3.0, 5.0])
    reference = runs.data_version([1.0, 2.0], [3.0, 5.0])
    assert runs.data_version(*big_endian) == reference
    assert runs.data_version(*strided) == reference


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (([1.0], [2.0], [1.0], None), ValueError, "both x_val and y_val"),
        ((np.array(["a"], dtype=object), [2.0]), TypeError, "numeric"),
    ],
)
def test_data_version_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        runs.data_version(*args)


# ----------------------------------------------------------------------------- digests


def test_trajectory_digest_equal_exactly_when_bits_are():
    def digest(value):
        return runs.trajectory_digest({"batch_loss": [value]})

    assert digest(0.1 + 0.2) != digest(0.3)  # 0.30000000000000004 vs 0.3
    assert digest(0.0) != digest(-0.0)
    assert digest(1.0) != digest(float(np.nextafter(1.0, 2.0)))
    assert digest(0.5) == digest(float(np.float32(0.5)))  # same float64 bits
    assert runs.trajectory_digest({"a": 1, "b": 2}) == runs.trajectory_digest({"b": 2, "a": 1})


def test_trajectory_digest_accepts_the_trajectory_class():
    from functional_training import TrajectoryRecord

    traj = TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]}, batch_loss=[8.0],
                      train_loss=[8.0, 2.0])
    assert runs.trajectory_digest(traj) == runs.trajectory_digest(traj.to_json())


def test_trajectory_digest_refuses_non_strict_json():
    with pytest.raises(ValueError, match="not strict JSON"):
        runs.trajectory_digest({"batch_loss": [float("nan")]})
    with pytest.raises(TypeError, match="expected a trajectory"):
        runs.trajectory_digest([1.0])


# ----------------------------------------------------------------------------- environment


def test_package_versions_come_from_installed_metadata():
    versions = runs.package_versions()
    assert versions["jax"] == importlib.metadata.version("jax")
    assert versions["numpy"] == np.__version__
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))


@pytest.mark.slow
def test_package_versions_do_not_import_torch():
    code = (
        "import sys; from functional_training import runs as m; m.package_versions(); "
        "m.source_digest(); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_source_digest_changes_with_the_sources(tmp_path, monkeypatch):
    package = tmp_path / "fake_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = runs.source_digest(["fake_pkg"])
    (package / "__init__.py").write_text("x = 2\n")
    assert runs.source_digest(["fake_pkg"]) != before
    assert runs.is_digest(runs.source_digest(["no_such_package_here"]))


# ----------------------------------------------------------------------------- validation


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


def test_write_json_refuses_non_finite_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="NaN or infinite"):
        runs.write_json_atomic(tmp_path / "r.json", {"loss": float("inf")})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_write_leaves_old_file_and_no_temporary(tmp_path, monkeypatch, failing):
    target = tmp_path / "report.json"
    target.write_text("old\n")

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="No space left"):
        runs.write_atomic(target, "new\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_write_atomic_mode_and_missing_directory(tmp_path):
    path = runs.write_atomic(tmp_path / "a.txt", b"x")
    assert path.stat().st_mode & 0o777 == 0o644
    with pytest.raises(OSError, match="cannot write .*missing.*No such file or directory"):
        runs.write_atomic(tmp_path / "missing" / "a.txt", b"x")


def test_check_output_path(tmp_path, unwritable_directory):
    assert runs.check_output_path(tmp_path / "out.json", option="--json") == tmp_path / "out.json"
    (tmp_path / "file").write_text("")
    cases = [
        (tmp_path / "missing" / "out.json", "--json: directory .*missing does not exist"),
        (tmp_path, "--json: .* is a directory, expected a file path"),
        (tmp_path / "file" / "out.json", "--json: .*file is not a directory"),
        (unwritable_directory() / "out.json", "--json: directory .* is not writable"),
    ]
    for path, message in cases:
        with pytest.raises(ValueError, match=message):
            runs.check_output_path(path, option="--json")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "locked") == ["file"]
