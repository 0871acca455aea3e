"""User experiments from TOML spec files, validated with messages that name the key.

A spec file describes one training run of a model kind (default ``linear``:
``prediction = x @ w + b``, mean half squared error)::

    name = "my-run"
    description = "what this run shows"   # optional
    [data]
    train = [[1.0, 3.0], [2.0, 5.0]]      # rows [x_1, ..., x_d, target]; or a file:
    # train = "deliveries.csv"            # CSV, Parquet, .npy/.npz, relative to the spec
    validation = [[1.0, 2.0]]             # optional, same shape (or a file)
    # features = ["disruption", "weight_t"]   # files: columns, default all but the target
    # target = "delay_h"                  # files: default the last column
    [model]
    kind = "linear"                       # optional, the default
    w = 0.0                               # a number for one feature, a list for several
    b = 0.0
    # init = "zeros"                      # instead of w and b; or "seeded" with seed = 0
    trainable = ["w", "b"]                # optional, default all
    [optimizer]
    name = "sgd"                          # sgd | momentum | nesterov | adam | adamw
    learning_rate = 0.08                  # plus that optimizer's own keys
    [run]
    steps = 20
    batch_size = 2                        # optional, default full batch
    seed = 0                              # optional, for the batch order

Optimizer keys left out take optax's defaults (see
:func:`functional_training.optimizer_hyperparameters`) and are written into the
:class:`~comparisons.experiments.Experiment` explicitly, so every backend runs
the same mathematics whatever its framework's own defaults are (torch's AdamW
decays by 1e-2 by default, optax's by 1e-4: the spec's value wins on both).

Every problem is a :class:`SpecError` (a ``ValueError``) with a one-line
message that starts with the key, e.g. ``[run].steps: must be an integer > 0, got 0``.

Example:
  >>> spec = '''
  ... name = "two-shipments"
  ... [data]
  ... train = [[1.0, 3.0], [2.0, 5.0]]
  ... [model]
  ... w = 0.0
  ... b = 0.0
  ... [optimizer]
  ... name = "adam"
  ... learning_rate = 0.1
  ... [run]
  ... steps = 3
  ... '''
  >>> experiment = parse_spec(spec)
  >>> experiment.name, experiment.optimizer, experiment.hyperparams["eps"], experiment.steps
  ('two-shipments', 'adam', 1e-08, 3)
  >>> parse_spec(dump_spec(experiment)) == experiment
  True
"""

from __future__ import annotations

import math
import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, packaged as tomli
    import tomli as tomllib

import numpy as np

from comparisons.experiments import Experiment
from comparisons.models import MODELS
from functional_training import (
    INITS,
    OPTIMIZER_NAMES,
    DataFileError,
    check_same_features,
    hyperparameter_problem,
    initial_values,
    is_data_file,
    model_kind,
    named_series,
    optimizer_hyperparameters,
    parameter_names,
    read_table,
    settings_problem,
)
from functional_training.runs import one_line

__all__ = ["MAX_STEPS", "SpecError", "dump_spec", "load_spec", "parse_spec"]

MAX_STEPS = 100_000
"""Upper bound on ``[run].steps``: every backend (the scalar engine included) runs
every step in Python, so a spec stays a seconds-long check, not a training job."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=/+-]*")
_MODEL_KEYS = ("kind", "init", "seed", "trainable")  # besides the kind's own parameter leaves
_TABLES = {
    "data": ("train", "validation", "features", "target"),
    "model": _MODEL_KEYS,
    "optimizer": ("name", "learning_rate"),  # plus the optimizer's own keys
    "run": ("steps", "batch_size", "seed"),
}
_TOP = ("name", "description", *_TABLES)


class SpecError(ValueError):
    """A spec file that cannot be read or does not describe a valid experiment."""


def load_spec(path: str | Path) -> Experiment:
    """Read and validate a TOML spec file.

    Args:
      path: the file.

    Returns:
      The :class:`~comparisons.experiments.Experiment` it describes (kind ``train``).

    Raises:
      SpecError: the file is missing, unreadable, not TOML, or invalid (the
        message names the file and the key).
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory, not a spec file") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text") from None
    except OSError as err:
        raise SpecError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        return parse_spec(text, base=path.parent)
    except SpecError as err:
        raise SpecError(f"{path}: {err}") from None


def parse_spec(text: str, *, base: str | Path | None = None) -> Experiment:
    """Validate the text of a spec file (see the module docstring) into an Experiment.

    Args:
      text: the TOML text.
      base: the directory data file paths are relative to (the spec file's; default
        the working directory).

    Raises:
      SpecError: not TOML, or a key missing, unknown, mistyped or out of range, or a
        data file that cannot be read (the message names the key and the file).
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_spec: text must be a string, got {type(text).__name__}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"not valid TOML: {one_line(err)}") from None
    _only_keys("", data, _TOP)
    name = _string(data, "", "name")
    if not _NAME.fullmatch(name):
        raise SpecError(
            f"name: {name!r} must start with an ASCII letter or digit and use only ASCII "
            "letters, digits and _ . = / + -"
        )
    description = data.get("description", f"user experiment {name}")
    if not isinstance(description, str) or "\n" in description:
        raise SpecError("description: must be a one-line string")
    tables = {key: _table(data, key) for key in _TABLES}

    _only_keys("data", tables["data"], _TABLES["data"])
    train, validation = _data(tables["data"], Path(base) if base is not None else Path())
    kind, init, trainable = _model(tables["model"], features=len(train[0]) - 1)

    optimizer, hyperparams = _optimizer(tables["optimizer"])

    run = tables["run"]
    _only_keys("run", run, _TABLES["run"])
    steps = _integer(run, "run", "steps", low=1, high=MAX_STEPS)
    batch_size = None
    if "batch_size" in run:
        batch_size = _integer(run, "run", "batch_size", low=1, high=None)
        if batch_size > len(train):
            raise SpecError(
                f"[run].batch_size: {batch_size} is more than the {len(train)} training examples"
            )
    seed = _integer(run, "run", "seed", low=0, high=None) if "seed" in run else 0

    return Experiment(
        name=name,
        description=description,
        train=train,
        init=init,
        optimizer=optimizer,
        hyperparams=hyperparams,
        steps=steps,
        validation=validation,
        trainable=trainable,
        batch_size=batch_size,
        seed=seed,
        model=kind,
    )


def dump_spec(experiment: Experiment) -> str:
    """The TOML spec text of a ``train`` experiment; ``parse_spec`` reads it back equal.

    Floats are written with ``repr`` (shortest round-tripping form), so the
    round trip is exact.

    Raises:
      SpecError: the experiment is not a plain training run a spec can describe.
    """
    if experiment.kind != "train" or experiment.model not in MODELS:
        raise SpecError(f"{experiment.name}: only 'train' experiments fit a spec file")
    lines = [f"name = {_toml_string(experiment.name)}"]
    lines.append(f"description = {_toml_string(experiment.description)}")
    lines += ["", "[data]", f"train = {_toml_pairs(experiment.train)}"]
    if experiment.validation is not None:
        lines.append(f"validation = {_toml_pairs(experiment.validation)}")
    lines += ["", "[model]", f"kind = {_toml_string(experiment.model)}"]
    leaves = model_kind(experiment.model).shapes(**experiment.model_config)
    for leaf, shape in leaves.items():
        names = [n for n in experiment.parameter_names if n.split("[")[0] == leaf]
        values = [experiment.init[n] for n in names]
        text = _toml_float(values[0]) if not shape else _toml_nested(
            np.asarray(values).reshape(shape).tolist())
        lines.append(f"{leaf} = {text}")
    lines.append("trainable = [" + ", ".join(f'"{p}"' for p in experiment.trainable) + "]")
    lines += ["", "[optimizer]", f"name = {_toml_string(experiment.optimizer)}"]
    lines += [f"{k} = {_toml_float(v)}" for k, v in experiment.hyperparams.items()]
    lines += ["", "[run]", f"steps = {experiment.steps}"]
    if experiment.batch_size is not None:
        lines.append(f"batch_size = {experiment.batch_size}")
    lines.append(f"seed = {experiment.seed}")
    return "\n".join(lines) + "\n"


# --- validation helpers -----------------------------------------------------------------


def _where(table: str, key: str) -> str:
    return f"[{table}].{key}" if table else key


def _only_keys(table: str, data: dict, allowed: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            raise SpecError(f"{_where(table, key)}: unknown key; expected {', '.join(allowed)}")


def _table(data: dict, key: str) -> dict:
    if key not in data:
        raise SpecError(f"[{key}]: missing table")
    if not isinstance(data[key], dict):
        raise SpecError(f"[{key}]: expected a table, got {_kind(data[key])}")
    return data[key]


def _string(data: dict, table: str, key: str) -> str:
    if key not in data:
        raise SpecError(f"{_where(table, key)}: missing")
    value = data[key]
    if not isinstance(value, str):
        raise SpecError(f"{_where(table, key)}: expected a string, got {_kind(value)}")
    if not value:
        raise SpecError(f"{_where(table, key)}: is empty")
    return value


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: expected a number, got {_kind(value)}")
    if not math.isfinite(value):
        raise SpecError(f"{where}: must be finite, got {value}")
    return float(value)


def _finite(data: dict, table: str, key: str) -> float:
    if key not in data:
        raise SpecError(f"{_where(table, key)}: missing")
    return _number(data[key], _where(table, key))


def _integer(data: dict, table: str, key: str, *, low: int, high: int | None) -> int:
    where = _where(table, key)
    if key not in data:
        raise SpecError(f"{where}: missing")
    value = data[key]
    bound = "an integer > 0" if low == 1 else f"an integer >= {low}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{where}: must be {bound}, got {_kind(value)}")
    if value < low:
        raise SpecError(f"{where}: must be {bound}, got {value}")
    if high is not None and value > high:
        raise SpecError(f"{where}: must be at most {high}, got {value}")
    return value


def _data(table: dict, base: Path) -> tuple[tuple, tuple | None]:
    """``[data]``: inline rows or data files (with ``features`` / ``target``), one width."""
    files = [key for key in ("train", "validation") if isinstance(table.get(key), str)]
    for key in ("features", "target"):
        if key in table and not files:
            raise SpecError(f"[data].{key}: only for data files; inline rows are "
                            "[x_1, ..., x_d, target]")
    features = table.get("features")
    if features is not None and (
        not isinstance(features, list) or not features
        or not all(isinstance(f, str) and f for f in features)
    ):
        raise SpecError('[data].features: expected a non-empty list of column names like ["a"]')
    target = table.get("target")
    if target is not None and (not isinstance(target, str) or not target):
        raise SpecError("[data].target: expected a column name")
    tables = {}
    rows = {}
    for key in ("train", "validation"):
        if key == "validation" and "train" in tables:
            # The validation file's columns are the train file's, picked by name.
            features, target = tables["train"].features, tables["train"].target
        if key not in table:
            if key == "train":
                raise SpecError("[data].train: missing")
            rows[key] = None
        elif isinstance(table[key], str):
            if not is_data_file(table[key]):
                raise SpecError(
                    f"[data].{key}: {table[key]!r} is neither a list of rows nor a data file "
                    "path (.csv, .parquet, .pq, .npy, .npz)"
                )
            path = base / table[key]
            try:
                tables[key] = read_table(path, features=features, target=target)
            except DataFileError as err:
                raise SpecError(f"[data].{key}: {err}") from None
            rows[key] = tuple(
                tuple(row) for row in np.column_stack([tables[key].x, tables[key].y]).tolist()
            )
        else:
            rows[key] = _rows(table, key)
    if len(tables) == 2:
        try:
            check_same_features(tables["train"], tables["validation"])
        except DataFileError as err:
            raise SpecError(f"[data].validation: {err}") from None
    train, validation = rows["train"], rows["validation"]
    if validation is not None and len(validation[0]) != len(train[0]):
        raise SpecError(
            f"[data].validation: {len(validation[0]) - 1} feature(s) per row but train has "
            f"{len(train[0]) - 1}"
        )
    return train, validation


def _rows(data: dict, key: str) -> tuple[tuple[float, ...], ...]:
    where = _where("data", key)
    rows = data[key]
    if not isinstance(rows, list):
        raise SpecError(
            f"{where}: expected a list of [x, target] rows or a data file path, got {_kind(rows)}"
        )
    if not rows:
        raise SpecError(f"{where}: is empty; give at least one [x, target] pair")
    parsed = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) < 2:
            raise SpecError(
                f"{where}[{i}]: expected a pair [x, target] (or [x_1, ..., x_d, target]), "
                f"got {_short(row)}"
            )
        if len(row) != len(rows[0]):
            raise SpecError(
                f"{where}[{i}]: has {len(row)} values but {where}[0] has {len(rows[0])}"
            )
        parsed.append(tuple(_number(v, f"{where}[{i}][{j}]") for j, v in enumerate(row)))
    return tuple(parsed)


def _model(table: dict, *, features: int) -> tuple[str, dict[str, float], tuple[str, ...]]:
    """``[model]``: the kind, initial values by scalar name, and the trainable leaves."""
    kind_name = table.get("kind", "linear")
    if not isinstance(kind_name, str) or kind_name not in MODELS:
        raise SpecError(f"[model].kind: unknown model kind {_short(kind_name)}; expected one of "
                        f"{', '.join(MODELS)}")
    kind = model_kind(kind_name)
    config = {"features": features}
    shapes = kind.shapes(**config)
    leaves = tuple(shapes)
    allowed = (*leaves, *_MODEL_KEYS)
    _only_keys("model", table, allowed)
    explicit = [leaf for leaf in leaves if leaf in table]
    if "init" in table:
        init = table["init"]
        if init not in INITS:
            raise SpecError(f"[model].init: expected one of {', '.join(map(repr, INITS))}, "
                            f"got {_short(init)}")
        if explicit:
            raise SpecError(f"[model].{explicit[0]}: give initial values or init, not both")
        seed = 0
        if "seed" in table:
            if init != "seeded":
                raise SpecError('[model].seed: only with init = "seeded"')
            seed = _integer(table, "model", "seed", low=0, high=None)
        values = initial_values(kind, init=init, seed=seed, **config)
    else:
        if "seed" in table:
            raise SpecError('[model].seed: only with init = "seeded"')
        missing = [leaf for leaf in leaves if leaf not in table]
        if missing:
            raise SpecError(f"[model].{missing[0]}: missing (give {', '.join(leaves)}, or "
                            'init = "zeros" or "seeded")')
        arrays = {leaf: _leaf_values(table[leaf], leaf, shapes[leaf], features)
                  for leaf in leaves}
        values = {name: float(v) for name, v in named_series(
            kind.build(arrays), leading=0).items()}
    names = parameter_names(kind, **config)
    return kind_name, {name: values[name] for name in names}, _trainable(table, leaves)


def _leaf_values(value, leaf: str, shape: tuple[int, ...], features: int) -> np.ndarray:
    where = f"[model].{leaf}"
    if not shape:
        if isinstance(value, list):
            why = "one weight: the data has one feature" if leaf == "w" else "a scalar parameter"
            raise SpecError(f"{where}: expected a number ({why}), got a list")
        return np.asarray(_number(value, where))
    if not isinstance(value, list):
        raise SpecError(f"{where}: expected a list of {shape[0]} numbers (one per feature), "
                        f"got {_kind(value)}")
    try:
        array = np.asarray(value, dtype=object)
    except ValueError:
        array = None
    if array is None or array.shape != shape:
        got = "a ragged list" if array is None else f"shape {array.shape}"
        what = (f"{shape[0]} numbers (one per feature of the {features})" if len(shape) == 1
                else f"shape {shape}")
        raise SpecError(f"{where}: expected {what}, got {got}")
    return np.asarray([_number(v, f"{where}[{i}]") for i, v in enumerate(array.reshape(-1))],
                      dtype=np.float64).reshape(shape)


def _trainable(model: dict, leaves: tuple[str, ...]) -> tuple[str, ...]:
    if "trainable" not in model:
        return leaves
    names = model["trainable"]
    where = "[model].trainable"
    listed = ", ".join(leaves)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SpecError(f"{where}: expected a list of parameter names like {list(leaves)}")
    unknown = [n for n in names if n not in leaves]
    if unknown:
        raise SpecError(f"{where}: unknown parameter {unknown[0]!r}; the model has {listed}")
    if len(set(names)) != len(names):
        raise SpecError(f"{where}: lists a parameter twice")
    if not names:
        raise SpecError(f"{where}: is empty; name at least one of {listed}")
    return tuple(p for p in leaves if p in names)


def _optimizer(table: dict) -> tuple[str, dict[str, float]]:
    """``[optimizer]`` against the one optimizer table (``functional_training.OPTIMIZERS``)."""
    name = _string(table, "optimizer", "name")
    if name not in OPTIMIZER_NAMES:
        raise SpecError(
            f"[optimizer].name: unknown optimizer {name!r}; expected one of "
            f"{', '.join(OPTIMIZER_NAMES)}"
        )
    defaults = optimizer_hyperparameters(name)
    takes = ("learning_rate", *defaults)
    for key in table:
        if key != "name" and key not in takes:
            raise SpecError(
                f"[optimizer].{key}: not a key of {name}; it takes {', '.join(takes)}"
            )
    rate = _finite(table, "optimizer", "learning_rate")
    if rate <= 0:
        raise SpecError(f"[optimizer].learning_rate: must be > 0, got {rate}")
    hyperparams = {"learning_rate": rate}
    for key, default in defaults.items():
        value = _number(table[key], f"[optimizer].{key}") if key in table else float(default)
        problem = hyperparameter_problem(key, value)
        if problem is not None:
            raise SpecError(f"[optimizer].{key}: {problem}")
        hyperparams[key] = value
    problem = settings_problem(name, hyperparams)
    if problem is not None:
        raise SpecError(f"[optimizer].{problem[0]}: {problem[1]}")
    return name, hyperparams


def _kind(value) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
             list: "a list", dict: "a table"}
    return kinds.get(type(value), type(value).__name__)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- TOML writing (tomllib reads only) ---------------------------------------------------


def _toml_float(value: float) -> str:
    return repr(float(value))


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _toml_pairs(rows) -> str:
    return "[" + ", ".join(_toml_nested(list(row)) for row in rows) + "]"


def _toml_nested(values) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_toml_nested(v) for v in values) + "]"
    return _toml_float(values)
