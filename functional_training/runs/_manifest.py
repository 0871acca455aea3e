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
    "data": {"source": "shipments", "version": "sha256:...",   (+ "files": {"train":
             "sha256:..."}, the file's own hash, for data read from a file)
             "train_examples": 3, "validation_examples": 0, "features": 1},
    "split": "all examples train; no validation set",
    "init": {"w": 0.0, "b": 0.0} or null,
    "optimizer": "sgd", "hyperparameters": {...},  every value, defaults included (a
                                              sweep's hyperparameter axis: its values)
    "learning_rates": [0.08],                 one for a training run, several for a sweep
    "steps": 20, "epochs": null, "batch_size": null, "seed": null,
    "checkpoint": "sha256:..." or null,       the last checkpoint written, if any
    "options": {...},                         tool-specific settings a rerun needs
    "results": {"trajectory": "sha256:..."}   label -> trajectory digest
  }

The data version is ``data_version`` and the result digests are
``trajectory_digest`` (``functional_training.runs._digests``); the versions,
devices and source digest come from ``functional_training.runs._environment``.
``dtype`` is one of ``functional_training.DTYPES``. Manifests are written
atomically as strict JSON (``functional_training.runs._io``).
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from functional_training._data_files import is_data_file
from functional_training._models import parameter_names
from functional_training._numbers import is_int, is_number
from functional_training._precision import DTYPES
from functional_training.runs._digests import data_version, is_digest, sha256_digest
from functional_training.runs._environment import device_names, package_versions, source_digest
from functional_training.runs._io import read_json, write_json_atomic
from functional_training.runs._run_spec_json import run_spec_to_json
from functional_training.runs._spec import RunSpec, SpecError, parse_run_spec

MANIFEST_FORMAT = "functional-training/manifest/1"
"""The ``format`` value of every manifest this module writes and accepts."""


# --------------------------------------------------------------------------- building


def data_record(source: str, x, y, x_val=None, y_val=None, *, files=None) -> dict:
    """The ``data`` block of a run: where the data came from and its content hash.

    Args:
      source: how the data was named, e.g. ``"shipments"``, ``"synthetic:1000"`` or a
        data file's path.
      x, y: training features ``(n,)`` or ``(n, d)`` and targets ``(n,)``.
      x_val, y_val: the validation set, or ``None``.
      files: for data read from files, role (``"train"``) -> the file's content hash
        (``functional_training.file_digest``), recorded as ``"files"``.

    Example:
      >>> record = data_record("one-shipment", [2.0], [6.0])
      >>> record["train_examples"], record["validation_examples"], record["features"]
      (1, 0, 1)
    """
    x_np = np.asarray(x)
    features = 1 if x_np.ndim <= 1 else int(x_np.shape[1])
    record = {
        "source": source,
        "version": data_version(x, y, x_val, y_val),
        "train_examples": int(np.shape(y)[0]),
        "validation_examples": 0 if y_val is None else int(np.shape(y_val)[0]),
        "features": features,
    }
    if files:
        record["files"] = dict(files)
    return record


def named_data_record(data) -> dict:
    """:func:`data_record` of a ``NamedData`` (its files' content hashes included).

    Example:
      >>> from functional_training._datasets import named_data
      >>> named_data_record(named_data("shipments"))["train_examples"]
      3
    """
    return data_record(data.name, data.x, data.y, data.x_val, data.y_val,
                       files=dict(data.files) or None)


def data_file_option(name: str) -> dict[str, str]:
    """``{"data_file": absolute path}`` for a data file (``{}`` for named data).

    A manifest keeps ``options.data`` as the user typed it and this absolute path
    beside it, so a rerun from another directory still finds the file.

    Example:
      >>> data_file_option("shipments")
      {}
    """
    return {"data_file": str(Path(name).resolve())} if is_data_file(name) else {}


def data_name_for_rerun(options: Mapping) -> str:
    """The data name a rerun reads: ``options.data``, or ``options.data_file`` when the
    typed (relative) path does not exist from here but the recorded absolute one does.

    Example:
      >>> data_name_for_rerun({"data": "shipments"})
      'shipments'
    """
    name = options.get("data")
    if not isinstance(name, str):
        raise ValueError("manifest: runs[0].options.data must be a data set name")
    recorded = options.get("data_file")
    if is_data_file(name) and not Path(name).exists() and isinstance(recorded, str) and Path(
        recorded
    ).exists():
        return recorded
    return name


def line_init(init: Sequence[float], features: int) -> dict[str, float]:
    """The ``init`` block of a line started at ``(w, b)`` on every weight, by the naming rule.

    Example:
      >>> line_init((0.5, 0.0), 1), line_init((0.0, 1.0), 2)
      ({'w': 0.5, 'b': 0.0}, {'w[0]': 0.0, 'w[1]': 0.0, 'b': 1.0})
    """
    return {name: float(init[1] if name == "b" else init[0])
            for name in parameter_names("linear", features=features)}


def line_init_from(init: Mapping[str, float] | None, features: int) -> tuple[float, float]:
    """``(w, b)`` back from a :func:`line_init` block (or the older ``{"w", "b"}`` form).

    Raises:
      ValueError: names other than the rule's, or weights that do not share one value
        (``train`` and ``sweep`` start every weight at the same value).

    Example:
      >>> line_init_from({"w[0]": 0.5, "w[1]": 0.5, "b": 0.0}, 2)
      (0.5, 0.0)
    """
    names = parameter_names("linear", features=features)
    init = dict(init or {})
    if set(init) == {"w", "b"}:
        return float(init["w"]), float(init["b"])
    if set(init) != set(names):
        raise ValueError(f"manifest: runs[0].init must give {', '.join(names)}")
    weights = {init[name] for name in names if name != "b"}
    if len(weights) != 1:
        raise ValueError("manifest: runs[0].init: every weight must start at one value")
    return float(weights.pop()), float(init["b"])


def run_spec_record(spec: RunSpec) -> dict:
    """A run description (:class:`~functional_training.runs.RunSpec`) as a manifest records it.

    The one JSON pair's write (:func:`~functional_training.runs.run_spec_to_json`)
    without the data rows (the manifest's ``data`` block holds their version):
    name, model kind and configuration, initial values by scalar name, trainable
    leaves, loss, L2, optimizer with every setting, schedule, steps, batch size and
    batch-order seed. Two runs with equal records and equal data versions compute
    the same trajectory.

    Example:
      >>> spec = parse_run_spec('name = "t"\\n[data]\\ntrain = [[1.0, 2.0]]\\n[model]\\n'
      ...                       'w = 0.0\\nb = 0.0\\n[optimizer]\\nname = "sgd"\\n'
      ...                       'learning_rate = 0.1\\n[run]\\nsteps = 1')
      >>> record = run_spec_record(spec)
      >>> record["model"], record["init"], record["hyperparams"], record["steps"]
      ('linear', {'w': 0.0, 'b': 0.0}, {'learning_rate': 0.1}, 1)
      >>> "train" in record
      False
    """
    record = run_spec_to_json(RunSpec.of(spec))
    for rows in ("train", "validation"):
        del record[rows]
    return record


def spec_options(text: str, path) -> dict:
    """A spec file's text, digest and absolute path: how a manifest records a spec run.

    ``python -m functional_training train --spec`` and ``sweep --spec`` record
    these ``options``; :func:`spec_from_options` reads the run back (data files
    relative to the recorded path).

    Example:
      >>> sorted(spec_options("name = 't'", "t.toml"))
      ['spec', 'spec_digest', 'spec_path']
    """
    return {"spec": text, "spec_digest": sha256_digest(text.encode()),
            "spec_path": str(Path(path).resolve())}


def spec_from_options(options: Mapping) -> RunSpec:
    """The run a manifest's :func:`spec_options` describe, read again (its data files too).

    Raises:
      ValueError: the options lack the spec or its path, or the spec no longer reads
        (one line naming ``runs[0].options.spec``).
    """
    for key in ("spec", "spec_path"):
        if not isinstance(options.get(key), str):
            raise ValueError(f"manifest: runs[0].options.{key} is missing or not a str")
    try:
        return parse_run_spec(options["spec"], base=Path(options["spec_path"]).parent)
    except SpecError as err:
        raise ValueError(f"manifest: runs[0].options.spec: {err}") from None


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
        "dtype": str(np.dtype(dtype)),
        "devices": list(device_names() if devices is None else devices),
        "versions": package_versions(),
        "source": source_digest(),
        "runs": [dict(run) for run in runs],
    }
    return validate_manifest(manifest)


# --------------------------------------------------------------------------- validation


def _is_finite(value) -> bool:
    return is_number(value) and math.isfinite(value)


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


_finite_list = _list_of(_is_finite, nonempty=True)


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
    "hyperparameters": (_mapping_of(lambda v: _is_finite(v) or _finite_list(v)),
                        "an object of name -> finite number (or a sweep's hyperparameter axis: "
                        "a non-empty list of finite numbers)"),
    "learning_rates": (
        _list_of(lambda v: _is_finite(v) and v > 0),
        "a list of finite numbers > 0",
    ),
    "steps": (lambda v: is_int(v) and v > 0, "an integer > 0"),
    "epochs": (_optional(lambda v: is_int(v) and v > 0), "an integer > 0, or null"),
    "batch_size": (_optional(lambda v: is_int(v) and v > 0), "an integer > 0, or null"),
    "seed": (_optional(lambda v: is_int(v) and v >= 0), "an integer >= 0, or null"),
    "checkpoint": (_optional(is_digest), "a 'sha256:<64 hex digits>' string, or null"),
    "options": (lambda v: isinstance(v, dict), "an object"),
    "results": (_mapping_of(is_digest), "an object of label -> 'sha256:<64 hex digits>'"),
}
_DATA_KEYS = {
    "source": (_nonempty_str, "a non-empty string"),
    "version": (is_digest, "a 'sha256:<64 hex digits>' string"),
    "train_examples": (lambda v: is_int(v) and v >= 0, "an integer >= 0"),
    "validation_examples": (lambda v: is_int(v) and v >= 0, "an integer >= 0"),
    "features": (lambda v: is_int(v) and v >= 0, "an integer >= 0"),
}
_OPTIONAL_DATA_KEYS = {
    "files": (_mapping_of(is_digest), "an object of role -> 'sha256:<64 hex digits>'"),
}
"""Keys a ``data`` block has only sometimes: ``files`` for data read from files."""


def _check_keys(
    obj: Mapping, schema: Mapping, where: str, optional: Mapping | None = None
) -> None:
    optional = optional or {}
    unknown = sorted(set(obj) - set(schema) - set(optional))
    if unknown:
        raise ValueError(
            f"{where}: unknown key {unknown[0]!r}; expected {', '.join([*schema, *optional])}"
        )
    for key, (check, expected) in optional.items():
        if key in obj and not check(obj[key]):
            raise ValueError(f"{where}.{key} must be {expected}, got {_short(obj[key])}")
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
        _check_keys(run["data"], _DATA_KEYS, f"{where}.data", _OPTIONAL_DATA_KEYS)
        batch, n = run["batch_size"], run["data"]["train_examples"]
        if batch is not None and batch > n:
            raise ValueError(
                f"{where}.batch_size must be <= train_examples ({n}), got {batch}"
            )
    return manifest


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
