"""Run manifests: the context needed to reproduce a run, as strict JSON, written atomically.

The lesson's advice for a real run is to "log enough context to reproduce the
run: data version, split policy, batch size, learning rate, optimizer, seed and
checkpoint identifier". A manifest is that context as one JSON object, shared
by ``python -m functional_training train|sweep`` and ``python -m comparisons run``:

.. code-block:: text

  {
    "format": "functional-training/manifest/1",
    "tool": "functional_training train",      which command wrote it (and reruns it)
    "created": "2026-01-01T00:00:00+00:00",   informational, never compared
    "dtype": "float64",
    "devices": ["cpu:0 cpu"],
    "versions": {"python": ..., "functional-training": ..., "jax": ..., "jaxlib": ...,
                 "optax": ..., "chex": ..., "numpy": ..., "torch": ... or null},
    "source": "sha256:...",                   digest of the installed project sources
    "runs": [RUN, ...]                        one per trained configuration
  }

  RUN = {
    "name": "train",
    "data": {"source": "shipments", "version": "sha256:...",
             "train_examples": 3, "validation_examples": 0, "features": 1},
    "split": "all examples train; no validation set",
    "init": {"w": 0.0, "b": 0.0} or null,
    "optimizer": "sgd", "hyperparameters": {...},  every value, defaults included
    "learning_rates": [0.08],                 one for a training run, several for a sweep
    "steps": 20, "epochs": null, "batch_size": null, "seed": null,
    "checkpoint": "sha256:..." or null,       the last checkpoint written, if any
    "options": {...},                         tool-specific settings a rerun needs
    "results": {"trajectory": "sha256:..."}   label -> trajectory digest
  }

The data version is :func:`data_version`, a sha256 over a canonical byte
encoding of the arrays (dtype, shape and little-endian bytes), so any changed
value, order, dtype or shape gives a different version. Trajectory digests
(:func:`trajectory_digest`) hash the canonical JSON of a trajectory; floats
are written as shortest round-trip decimals, so equal digests mean
bit-identical values.

Every writer here is atomic (:func:`write_atomic`): a temporary file in the
target's directory, flushed and fsynced, then ``os.replace``; a failed or
killed write leaves the previous file (or none), never half of one.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST_FORMAT = "functional-training/manifest/1"
"""The ``format`` value of every manifest this module writes and accepts."""

PACKAGES = ("functional-training", "jax", "jaxlib", "optax", "chex", "numpy", "torch")
"""Distributions whose versions a manifest records (``null`` when not installed)."""

SOURCE_PACKAGES = ("functional_training", "comparisons")
"""Import packages whose ``.py`` sources :func:`source_digest` hashes."""

DTYPES = ("float64", "float32", "bfloat16", "float16")

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_FILE_MODE = 0o644


# --------------------------------------------------------------------------- digests


def sha256_digest(data: bytes) -> str:
    """``"sha256:<hex>"`` of ``data``: the form of every identifier in a manifest.

    Example:
      >>> sha256_digest(b"")[:19]
      'sha256:e3b0c44298fc'
    """
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(value: Any) -> bool:
    """Whether ``value`` is a ``"sha256:<64 hex digits>"`` string.

    Example:
      >>> is_digest(sha256_digest(b"x")), is_digest("sha256:abc")
      (True, False)
    """
    return isinstance(value, str) and _DIGEST.match(value) is not None


def data_version(x, y, x_val=None, y_val=None) -> str:
    """Content hash of a data set: the "data version" of a manifest.

    ``sha256(header + b"\\n" + bytes(x) + bytes(y) [+ bytes(x_val) + bytes(y_val)])``
    where ``header`` is compact JSON listing each array's role, dtype (as
    little-endian, e.g. ``"<f8"``) and shape, and ``bytes(a)`` is ``a`` in C
    order, little-endian. The hash covers values, order, dtype and shape: a
    list of ints and the same list of floats are different data.

    Args:
      x, y: training features and targets (anything ``numpy.asarray`` takes).
      x_val, y_val: the validation set, both or neither.

    Returns:
      ``"sha256:<hex>"``.

    Example:
      >>> data_version([2.0], [6.0]) == data_version(np.array([2.0]), np.array([6.0]))
      True
      >>> data_version([2.0], [6.0]) == data_version([2.0], [6.5])
      False
    """
    if (x_val is None) != (y_val is None):
        raise ValueError("data_version: validation data needs both x_val and y_val")
    arrays = [("x", x), ("y", y)]
    if x_val is not None:
        arrays += [("x_val", x_val), ("y_val", y_val)]
    header, blobs = [], []
    for role, values in arrays:
        array = np.asarray(values)
        if array.dtype.hasobject:
            raise TypeError(f"data_version: {role} must be numeric, got dtype {array.dtype}")
        # asarray(order="C"), not ascontiguousarray, which turns 0-d arrays into 1-d.
        array = np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")
        header.append({"name": role, "dtype": array.dtype.str, "shape": list(array.shape)})
        blobs.append(array.tobytes())
    digest = hashlib.sha256(json.dumps(header, separators=(",", ":")).encode() + b"\n")
    for blob in blobs:
        digest.update(blob)
    return "sha256:" + digest.hexdigest()


def trajectory_digest(trajectory) -> str:
    """Digest of a trajectory's canonical JSON: equal digests mean bit-identical runs.

    Args:
      trajectory: a ``functional_training.TrajectoryRecord`` (anything with
        ``to_json()``) or the JSON object it produces.

    Returns:
      ``"sha256:<hex>"`` of the object as compact JSON with sorted keys.
      Python writes each float as its shortest round-trip decimal, so two
      trajectories share a digest exactly when every value has the same bits
      (``0.0`` and ``-0.0`` differ; all NaNs are ``"NaN"``).

    Example:
      >>> trajectory_digest({"batch_loss": [8.0]}) == trajectory_digest({"batch_loss": [8.0]})
      True
      >>> trajectory_digest({"batch_loss": [8.0]}) == trajectory_digest({"batch_loss": [8.000001]})
      False
    """
    data = trajectory.to_json() if hasattr(trajectory, "to_json") else trajectory
    if not isinstance(data, Mapping):
        raise TypeError(
            f"trajectory_digest: expected a trajectory or its JSON object, "
            f"got {type(data).__name__}"
        )
    return sha256_digest(_canonical_json(data))


def json_floats(values) -> float | str | list:
    """Numbers (any shape) as strict-JSON values: nested lists, non-finite as strings.

    Example:
      >>> json_floats([1.5, float("inf"), float("nan")])
      [1.5, 'Infinity', 'NaN']
    """
    array = np.asarray(values, np.float64)
    text = np.where(np.isnan(array), "NaN", np.where(array > 0, "Infinity", "-Infinity"))
    return np.where(np.isfinite(array), array.astype(object), text).tolist()


def _canonical_json(data) -> bytes:
    try:
        return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        raise ValueError("not strict JSON: a float is NaN or infinite (use json_float)") from None


# --------------------------------------------------------------------------- environment


def package_versions() -> dict[str, str | None]:
    """Python's version and each of :data:`PACKAGES`' installed versions (``None`` if absent).

    Reads distribution metadata only; nothing is imported (torch stays unloaded).

    Example:
      >>> versions = package_versions()
      >>> sorted(versions) == sorted(["python", *PACKAGES])
      True
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def source_digest(packages: Sequence[str] = SOURCE_PACKAGES) -> str:
    """sha256 over the installed ``.py`` sources of ``packages``: the code version.

    The package version stays ``0.1.0`` across commits; this digest changes
    with any edit. Files are hashed in sorted order as
    ``<package>/<relative path>\\0<size>\\0<bytes>``; a package that is not
    installed contributes its name only.

    Example:
      >>> is_digest(source_digest())
      True
    """
    digest = hashlib.sha256()
    for package in packages:
        digest.update(package.encode() + b"\0")
        spec = importlib.util.find_spec(package)
        for root in (spec.submodule_search_locations or []) if spec else []:
            for path in sorted(Path(root).rglob("*.py")):
                content = path.read_bytes()
                name = f"{package}/{path.relative_to(root).as_posix()}"
                digest.update(f"{name}\0{len(content)}\0".encode() + content)
    return "sha256:" + digest.hexdigest()


def device_names() -> list[str]:
    """The devices JAX sees, as ``"<platform>:<id> <kind>"`` strings.

    Example:
      >>> device_names()[0].startswith(("cpu:", "gpu:", "cuda:", "rocm:", "tpu:"))
      True
    """
    import jax

    return [f"{device.platform}:{device.id} {device.device_kind}" for device in jax.devices()]


# --------------------------------------------------------------------------- building


def current_environment() -> dict:
    """This process's ``versions``, ``devices`` and ``source``, as a manifest made here has them."""
    return {"versions": package_versions(), "devices": device_names(), "source": source_digest()}


def environment_notes(recorded: Mapping) -> list[str]:
    """``note:`` lines for each environment key of a ``recorded`` manifest that differs now.

    Package versions, devices and installed sources explain a difference between
    a recorded and a rerun trajectory; they are not one.

    Example:
      >>> now = current_environment()
      >>> environment_notes({**now, "versions": {**now["versions"], "numpy": "0.0"}})
      ... # doctest: +ELLIPSIS
      ['note: package versions differ: numpy 0.0 -> ...']
      >>> environment_notes(now)
      []
    """
    now = current_environment()
    notes = []
    versions = now["versions"]
    changed = [f"{name} {was} -> {versions.get(name)}"
               for name, was in recorded["versions"].items() if versions.get(name) != was]
    if changed:
        notes.append("note: package versions differ: " + ", ".join(changed))
    if now["devices"] != recorded["devices"]:
        notes.append(f"note: devices differ: recorded {recorded['devices']}, now {now['devices']}")
    if now["source"] != recorded["source"]:
        notes.append("note: the installed functional_training/comparisons sources differ")
    return notes


def data_record(source: str, x, y, x_val=None, y_val=None) -> dict:
    """The ``data`` block of a run: where the data came from and its content hash.

    Args:
      source: how the data was named, e.g. ``"shipments"`` or ``"synthetic:1000"``.
      x, y: training features ``(n,)`` or ``(n, d)`` and targets ``(n,)``.
      x_val, y_val: the validation set, or ``None``.

    Example:
      >>> record = data_record("one-shipment", [2.0], [6.0])
      >>> record["train_examples"], record["validation_examples"], record["features"]
      (1, 0, 1)
    """
    x_np = np.asarray(x)
    features = 1 if x_np.ndim <= 1 else int(x_np.shape[1])
    return {
        "source": source,
        "version": data_version(x, y, x_val, y_val),
        "train_examples": int(np.shape(y)[0]),
        "validation_examples": 0 if y_val is None else int(np.shape(y_val)[0]),
        "features": features,
    }


def run_record(
    *,
    name: str,
    data: Mapping,
    split: str,
    optimizer: str,
    hyperparameters: Mapping[str, float],
    learning_rates: Sequence[float],
    steps: int,
    init: Mapping[str, float] | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    checkpoint: str | None = None,
    options: Mapping | None = None,
    results: Mapping[str, str] | None = None,
) -> dict:
    """One entry of a manifest's ``runs``: the settings of one trained configuration.

    Args:
      name: a label, e.g. ``"train"`` or an experiment name.
      data: the :func:`data_record` of the data used.
      split: the split policy in words, e.g. ``"all examples train; no validation set"``.
      optimizer: the optimizer's name (``"sgd"``, ``"adam"``, ...).
      hyperparameters: every optimizer setting except the learning rate,
        defaults included, so a library default changing cannot change a rerun.
      learning_rates: the rate, or the swept rates.
      steps: optimizer steps per run.
      init: initial parameter values, or ``None`` when the tool's options hold them.
      epochs: the ``--epochs`` asked for, if steps were derived from epochs.
      batch_size: examples per step, ``None`` for full batch.
      seed: the batch-order seed, ``None`` when no order is drawn.
      checkpoint: the identifier of the last checkpoint written, if any.
      options: tool-specific settings a rerun needs (JSON values).
      results: label -> :func:`trajectory_digest` of what the run produced.

    Returns:
      A plain dict; :func:`build_manifest` validates it.

    Example:
      >>> run = run_record(name="train", data=data_record("one-shipment", [2.0], [6.0]),
      ...                  split="all examples train; no validation set", optimizer="sgd",
      ...                  hyperparameters={}, learning_rates=[0.1], steps=5)
      >>> run["learning_rates"], run["batch_size"], run["results"]
      ([0.1], None, {})
    """
    return {
        "name": name,
        "data": dict(data),
        "split": split,
        "init": None if init is None else {k: float(v) for k, v in init.items()},
        "optimizer": optimizer,
        "hyperparameters": dict(hyperparameters),
        "learning_rates": [float(rate) for rate in learning_rates],
        "steps": steps,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "checkpoint": checkpoint,
        "options": dict(options or {}),
        "results": dict(results or {}),
    }


def build_manifest(
    *,
    tool: str,
    runs: Sequence[Mapping],
    dtype: str,
    devices: Sequence[str] | None = None,
) -> dict:
    """A complete, validated manifest: the runs plus the environment that ran them.

    Args:
      tool: the command that wrote it and can rerun it, e.g.
        ``"functional_training train"``, ``"functional_training sweep"``,
        ``"comparisons run"``.
      runs: :func:`run_record` dicts.
      dtype: the floating dtype the runs computed in, e.g. ``"float64"``.
      devices: device descriptions; default :func:`device_names`.

    Returns:
      The manifest dict (see the module docstring), ready for :func:`write_manifest`.

    Raises:
      ValueError, TypeError: naming the first key that is missing or wrong.

    Example:
      >>> run = run_record(name="train", data=data_record("one-shipment", [2.0], [6.0]),
      ...                  split="all examples train; no validation set", optimizer="sgd",
      ...                  hyperparameters={}, learning_rates=[0.1], steps=5)
      >>> manifest = build_manifest(tool="functional_training train", runs=[run], dtype="float64")
      >>> manifest["format"], manifest["runs"][0]["steps"]
      ('functional-training/manifest/1', 5)
    """
    manifest = {
        "format": MANIFEST_FORMAT,
        "tool": tool,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "dtype": str(np.dtype(dtype)) if dtype != "bfloat16" else dtype,
        "devices": list(device_names() if devices is None else devices),
        "versions": package_versions(),
        "source": source_digest(),
        "runs": [dict(run) for run in runs],
    }
    return validate_manifest(manifest)


# --------------------------------------------------------------------------- validation


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value) -> bool:
    return _is_number(value) and math.isfinite(value)


def _optional(check):
    return lambda value: value is None or check(value)


def _mapping_of(check):
    return lambda value: isinstance(value, dict) and all(
        isinstance(k, str) and check(v) for k, v in value.items()
    )


def _list_of(check, *, nonempty=False):
    return lambda value: (
        isinstance(value, list) and (bool(value) or not nonempty) and all(map(check, value))
    )


def _nonempty_str(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


# key -> (check, what was expected). Order is the order errors are looked for.
_TOP_KEYS = {
    "format": (lambda v: v == MANIFEST_FORMAT, f"the string {MANIFEST_FORMAT!r}"),
    "tool": (_nonempty_str, "a non-empty string"),
    "created": (lambda v: isinstance(v, str), "a string"),
    "dtype": (lambda v: v in DTYPES, f"one of {', '.join(DTYPES)}"),
    "devices": (_list_of(_nonempty_str), "a list of strings"),
    "versions": (
        _mapping_of(lambda v: v is None or isinstance(v, str)),
        "an object of package name -> version string or null",
    ),
    "source": (is_digest, "a 'sha256:<64 hex digits>' string"),
    "runs": (_list_of(lambda v: isinstance(v, dict), nonempty=True), "a non-empty list of objects"),
}
_RUN_KEYS = {
    "name": (_nonempty_str, "a non-empty string"),
    "data": (lambda v: isinstance(v, dict), "an object"),
    "split": (_nonempty_str, "a non-empty string"),
    "init": (_optional(_mapping_of(_is_finite)), "an object of name -> finite number, or null"),
    "optimizer": (_nonempty_str, "a non-empty string"),
    "hyperparameters": (_mapping_of(_is_finite), "an object of name -> finite number"),
    "learning_rates": (
        _list_of(lambda v: _is_finite(v) and v > 0),
        "a list of finite numbers > 0",
    ),
    "steps": (lambda v: _is_int(v) and v > 0, "an integer > 0"),
    "epochs": (_optional(lambda v: _is_int(v) and v > 0), "an integer > 0, or null"),
    "batch_size": (_optional(lambda v: _is_int(v) and v > 0), "an integer > 0, or null"),
    "seed": (_optional(lambda v: _is_int(v) and v >= 0), "an integer >= 0, or null"),
    "checkpoint": (_optional(is_digest), "a 'sha256:<64 hex digits>' string, or null"),
    "options": (lambda v: isinstance(v, dict), "an object"),
    "results": (_mapping_of(is_digest), "an object of label -> 'sha256:<64 hex digits>'"),
}
_DATA_KEYS = {
    "source": (_nonempty_str, "a non-empty string"),
    "version": (is_digest, "a 'sha256:<64 hex digits>' string"),
    "train_examples": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "validation_examples": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "features": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
}


def _check_keys(obj: Mapping, schema: Mapping, where: str) -> None:
    unknown = sorted(set(obj) - set(schema))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; expected {', '.join(schema)}")
    for key, (check, expected) in schema.items():
        if key not in obj:
            raise ValueError(f"{where}: missing key {key!r} ({expected})")
        if not check(obj[key]):
            raise ValueError(f"{where}.{key} must be {expected}, got {_short(obj[key])}")


def _short(value) -> str:
    text = json.dumps(value) if _jsonable(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _jsonable(value) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def validate_manifest(manifest) -> dict:
    """Check a manifest read back (or about to be written); return it unchanged.

    Every key of the module docstring's schema must be present with the right
    type, and no other key may appear, so a typo or a truncated edit is caught
    here rather than in the middle of a rerun.

    Raises:
      ValueError: one line naming the offending key and what was expected,
        e.g. ``manifest: runs[0].steps must be an integer > 0, got 0``.

    Example:
      >>> validate_manifest({"format": MANIFEST_FORMAT})
      Traceback (most recent call last):
      ...
      ValueError: manifest: missing key 'tool' (a non-empty string)
    """
    if not isinstance(manifest, dict):
        raise ValueError(f"manifest must be a JSON object, got {type(manifest).__name__}")
    _check_keys(manifest, _TOP_KEYS, "manifest")
    for i, run in enumerate(manifest["runs"]):
        where = f"manifest: runs[{i}]"
        _check_keys(run, _RUN_KEYS, where)
        _check_keys(run["data"], _DATA_KEYS, f"{where}.data")
        batch, n = run["batch_size"], run["data"]["train_examples"]
        if batch is not None and batch > n:
            raise ValueError(
                f"{where}.batch_size must be <= train_examples ({n}), got {batch}"
            )
    return manifest


# --------------------------------------------------------------------------- files


def write_atomic(path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    A temporary file is created in the same directory (same filesystem, so the
    rename is atomic), written, flushed and fsynced, given mode 0644, then
    moved over ``path`` with ``os.replace``; the directory is fsynced so the
    rename survives a crash. On any failure the temporary file is removed
    and the error re-raised; ``path`` is untouched.

    Returns:
      ``path`` as a ``Path``.

    Example:
      >>> import tempfile, pathlib
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     target = write_atomic(pathlib.Path(tmp) / "out.txt", "hello\\n")
      ...     print(target.read_text(), end="")
      ...     print(sorted(p.name for p in pathlib.Path(tmp).iterdir()))
      hello
      ['out.txt']
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise OSError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)
    return path


def _fsync_directory(directory: Path) -> None:
    # POSIX: the rename is durable once the directory entry is on disk. Some
    # platforms (Windows) cannot open a directory; the rename is still atomic there.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_json_atomic(path, obj) -> Path:
    """Write ``obj`` as strict JSON (indent 2, no NaN/Infinity literals) with :func:`write_atomic`.

    Raises:
      ValueError: if ``obj`` holds a non-finite float (convert with
        ``functional_training.json_float`` first); nothing is written.

    Example:
      >>> import tempfile, pathlib
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     print(write_json_atomic(pathlib.Path(tmp) / "r.json", {"a": 1}).read_text(), end="")
      {
        "a": 1
      }
    """
    try:
        text = json.dumps(obj, indent=2, allow_nan=False)
    except ValueError:
        raise ValueError(
            f"cannot write {path}: a float is NaN or infinite (not strict JSON)"
        ) from None
    return write_atomic(path, text + "\n")


def check_output_path(path, *, option: str) -> Path:
    """Check before a run that ``path`` can be written, so no work is lost at the end.

    The directory must exist and accept a new file (probed by creating and
    removing a temporary file: permission bits alone say nothing for root or
    read-only mounts), and ``path`` must not be a directory.

    Args:
      path: the output file the user asked for.
      option: how the user named it (``"--json"``, ``"--manifest"``), for the message.

    Raises:
      ValueError: one line naming ``option``, the path and what is wrong.

    Example:
      >>> check_output_path("/no/such/dir/out.json", option="--json")
      Traceback (most recent call last):
      ...
      ValueError: --json: directory /no/such/dir does not exist
    """
    path = Path(path)
    directory = path.parent
    if path.is_dir():
        raise ValueError(f"{option}: {path} is a directory, expected a file path")
    if not directory.exists():
        raise ValueError(f"{option}: directory {directory} does not exist")
    if not directory.is_dir():
        raise ValueError(f"{option}: {directory} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as err:
        raise ValueError(
            f"{option}: directory {directory} is not writable ({err.strerror or err})"
        ) from None
    return path


def read_json(path, *, what: str) -> Any:
    """Parse a JSON file, turning every failure into one ``ValueError`` line.

    Args:
      path: the file.
      what: what the file should be (``"manifest"``, ``"report"``), for the message.

    Example:
      >>> read_json("/no/such/file.json", what="manifest")
      Traceback (most recent call last):
      ...
      ValueError: cannot read manifest /no/such/file.json: No such file or directory
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"cannot read {what} {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{what} {path} is not UTF-8 text") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{what} {path} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    except _NonStrictJSON as err:
        raise ValueError(f"{what} {path} is not strict JSON: it contains {err}") from None


class _NonStrictJSON(ValueError):
    pass


def _reject_constant(name: str):
    raise _NonStrictJSON(name)


def write_manifest(path, manifest: Mapping) -> Path:
    """Validate ``manifest`` and write it atomically as strict JSON.

    Example:
      >>> import tempfile, pathlib
      >>> run = run_record(name="train", data=data_record("one-shipment", [2.0], [6.0]),
      ...                  split="all examples train; no validation set", optimizer="sgd",
      ...                  hyperparameters={}, learning_rates=[0.1], steps=5)
      >>> manifest = build_manifest(tool="functional_training train", runs=[run], dtype="float64")
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     path = write_manifest(pathlib.Path(tmp) / "run.json", manifest)
      ...     read_manifest(path) == manifest
      True
    """
    return write_json_atomic(path, validate_manifest(dict(manifest)))


def read_manifest(path) -> dict:
    """Read and validate a manifest file, or the ``"manifest"`` object of a ``--json`` report.

    Raises:
      ValueError: one line naming the file and, for a malformed manifest, the
        offending key.
    """
    data = read_json(path, what="manifest")
    if isinstance(data, dict) and "manifest" in data and "format" not in data:
        data = data["manifest"]
    try:
        return validate_manifest(data)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
