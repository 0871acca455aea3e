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
    [loss]                                # optional table
    kind = "half-squared-error"           # the default; squared-error, binary-cross-entropy
                                          # (targets 0/1), softmax-cross-entropy (targets
                                          # 0..k-1), hinge (targets -1/+1)
    l2 = 0.0                              # optional: alpha * sum of squares of every parameter
    [optimizer]
    name = "sgd"                          # sgd | momentum | nesterov | adam | adamw
    learning_rate = 0.08                  # plus that optimizer's own keys
    [run]
    steps = 20
    batch_size = 2                        # optional, default full batch
    seed = 0                              # optional, for the batch order

A layered model (``kind = "mlp"``, hidden layers ``f(x @ w + b)`` then a linear
last layer; parameters ``layers.{l}.w[i,j]`` of shape ``(fan_in, fan_out)`` and
``layers.{l}.b[j]``) states its configuration, then either one
``[[model.layers]]`` table per layer with the exact initial values, or ``init``::

    [model]
    kind = "mlp"
    sizes = [2, 3, 1]                     # required: [d, h_1, ..., k]; d = the data's features
    activation = "tanh"                   # required: tanh | relu | sigmoid (hidden layers)
    trainable = ["layers.1.w", "layers.1.b"]   # optional, default every leaf
    [[model.layers]]                      # layer 0: w is (2, 3), b has 3 values
    w = [[0.1, -0.2, 0.3], [0.0, 0.5, -0.1]]
    b = [0.0, 0.0, 0.0]
    [[model.layers]]                      # layer 1: w is (3, 1), b has 1 value
    w = [[0.2], [-0.3], [0.1]]
    b = [0.0]
    # or, instead of the [[model.layers]] tables: init = "zeros", or init = "seeded" with seed

``k`` (the last size; 1 for ``linear``) must fit the loss: 1 for every loss but
``softmax-cross-entropy``, which takes ``k >= 2`` logits. A learning-rate schedule
replaces ``[optimizer].learning_rate`` (giving both is an error)::

    [schedule]
    kind = "cosine"                       # constant | linear | cosine | exponential
    init_value = 0.1                      # optax's own parameter names
    decay_steps = 100                     # (functional_training.SCHEDULES)

Optimizer keys and schedule parameters left out take optax's defaults (see
:func:`functional_training.optimizer_hyperparameters` and
:func:`functional_training.check_schedule`) and are written into the
:class:`~comparisons.experiments.Experiment` explicitly, so every backend runs
the same mathematics whatever its framework's own defaults are (torch's AdamW
decays by 1e-2 by default, optax's by 1e-4: the spec's value wins on both).

Every problem is a :class:`SpecError` (a ``ValueError``) with a one-line
message that starts with the key, e.g. ``[run].steps: must be an integer > 0, got 0``,
``[model.layers][1].w: expected shape (3, 1), got (3, 2)`` or
``[data].train[3]: target 0.5 does not fit hinge (takes -1 or +1)``.

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
    DEFAULT_LOSS,
    INITS,
    LOSS_KINDS,
    OPTIMIZER_NAMES,
    SCHEDULES,
    DataFileError,
    Table,
    check_same_features,
    check_schedule,
    check_targets,
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

__all__ = ["MAX_PARAMETERS", "MAX_STEPS", "SpecError", "dump_spec", "load_spec", "parse_spec"]

MAX_STEPS = 100_000
"""Upper bound on ``[run].steps``: every backend (the scalar engine included) runs
every step in Python, so a spec stays a seconds-long check, not a training job."""

MAX_PARAMETERS = 100_000
"""Upper bound on a spec's number of scalar parameters (an ``mlp``'s ``sizes``): the
hand-written backends hold every parameter as a Python float, and a typo such as
``sizes = [2, 1600000000, 1]`` must be one line, not an out-of-memory crash."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=/+-]*")
_MODEL_KEYS = ("kind", "init", "seed", "trainable")  # besides the kind's configuration and leaves
_TABLES = {
    "data": ("train", "validation", "features", "target"),
    "model": _MODEL_KEYS,
    "loss": ("kind", "l2"),
    "optimizer": ("name", "learning_rate"),  # plus the optimizer's own keys
    "schedule": ("kind",),  # plus the schedule's own parameters
    "run": ("steps", "batch_size", "seed"),
}
_OPTIONAL = ("loss", "schedule")
_TOP = ("name", "description", *_TABLES)
_GROUP_LEAF = re.compile(r"([A-Za-z_]\w*)\.(\d+)\.([A-Za-z_]\w*)")  # layers.0.w


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
    tables = {key: _table(data, key, optional=key in _OPTIONAL) for key in _TABLES}

    _only_keys("data", tables["data"], _TABLES["data"])
    train, validation, files = _data(tables["data"], Path(base) if base is not None else Path())
    kind, settings, init, trainable = _model(tables["model"], features=len(train[0]) - 1)

    loss, l2 = _loss(tables["loss"], kind=kind, settings=settings)
    outputs = _outputs(settings)
    for key, rows in (("train", train), ("validation", validation)):
        if rows is not None:
            _check_targets(loss, rows, key=key, file=files.get(key), classes=outputs)

    schedule = None if tables["schedule"] is None else _schedule(tables["schedule"])
    optimizer, hyperparams = _optimizer(tables["optimizer"], scheduled=schedule is not None)

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
        model_settings=settings,
        loss=loss,
        l2=l2,
        schedule=schedule,
    )


def dump_spec(experiment: Experiment) -> str:
    """The TOML spec text of a ``train`` experiment; ``parse_spec`` reads it back equal.

    Every field is written explicitly (the loss and ``l2`` too, when they are the
    defaults); a layered model's initial values are written as one
    ``[[model.layers]]`` table per layer. Floats are written with ``repr``
    (shortest round-tripping form), so the round trip is exact.

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
    lines += [f"{key} = {_toml_value(value)}" for key, value in experiment.model_settings.items()]
    shapes = model_kind(experiment.model).shapes(**experiment.model_config)
    arrays = {}
    for leaf, shape in shapes.items():
        values = [experiment.init[n] for n in experiment.parameter_names
                  if n.split("[")[0] == leaf]
        arrays[leaf] = float(values[0]) if not shape else np.asarray(values).reshape(shape).tolist()
    plain, groups = _leaf_layout(shapes)
    lines += [f"{leaf} = {_toml_nested(arrays[leaf])}" for leaf in plain]
    lines.append("trainable = [" + ", ".join(f'"{p}"' for p in experiment.trainable) + "]")
    for group, members in groups.items():
        for index, member in enumerate(members):
            lines += ["", f"[[model.{group}]]"]
            lines += [f"{key} = {_toml_nested(arrays[f'{group}.{index}.{key}'])}"
                      for key in member]
    lines += ["", "[loss]", f"kind = {_toml_string(experiment.loss)}",
              f"l2 = {_toml_float(experiment.l2)}"]
    lines += ["", "[optimizer]", f"name = {_toml_string(experiment.optimizer)}"]
    lines += [f"{k} = {_toml_float(v)}" for k, v in experiment.hyperparams.items()]
    if experiment.schedule is not None:
        lines += ["", "[schedule]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in experiment.schedule.items()]
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


def _table(data: dict, key: str, *, optional: bool = False) -> dict | None:
    if key not in data:
        if optional:
            return None
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


def _data(table: dict, base: Path) -> tuple[tuple, tuple | None, dict[str, Table]]:
    """``[data]``: inline rows or data files (with ``features`` / ``target``), one width.

    Returns the train rows, the validation rows (or ``None``) and the tables read
    from files by key (``train``, ``validation``), for messages naming a file's row.
    """
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
    return train, validation, tables


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


def _model(table: dict, *, features: int) -> tuple[str, dict, dict[str, float], tuple[str, ...]]:
    """``[model]``: the kind, its settings, initial values by scalar name, trainable leaves.

    The keys a kind takes are derived from it: its configuration keys (every one
    but ``features``, which is the data's, is required), its leaves (a plain leaf
    such as ``w`` is a key; leaves ``group.i.name`` such as ``layers.0.w`` are one
    ``[[model.group]]`` table per ``i``), and ``kind``, ``init``, ``seed``, ``trainable``.
    """
    kind_name = table.get("kind", "linear")
    if not isinstance(kind_name, str) or kind_name not in MODELS:
        raise SpecError(f"[model].kind: unknown model kind {_short(kind_name)}; expected one of "
                        f"{', '.join(MODELS)}")
    kind = model_kind(kind_name)
    settings = _model_settings(table, kind_name, kind.config_keys, features)
    config = {**settings, **({"features": features} if "features" in kind.config_keys else {})}
    shapes = kind.shapes(**config)
    plain, groups = _leaf_layout(shapes)
    keys = (*plain, *groups)
    _only_keys("model", table, (*settings, *keys, *_MODEL_KEYS))
    count = sum(math.prod(shape) for shape in shapes.values())
    if count > MAX_PARAMETERS:
        where = f"[model].{next(iter(settings))}" if settings else "[model]"
        raise SpecError(f"{where}: {count} parameters is more than the {MAX_PARAMETERS} a spec "
                        "may have")
    explicit = [key for key in keys if key in table]
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
        missing = [key for key in keys if key not in table]
        if missing:
            wanted = [key if key in plain else
                      f"[[model.{key}]] tables ({', '.join(groups[key][0])} in each)"
                      for key in keys]
            raise SpecError(f"[model].{missing[0]}: missing (give {', '.join(wanted)}, or "
                            'init = "zeros" or "seeded")')
        arrays = {leaf: _leaf_values(table[leaf], leaf, shapes[leaf], features) for leaf in plain}
        for group, members in groups.items():
            arrays.update(_group_values(table[group], group, members, settings))
        values = {name: float(v) for name, v in named_series(
            kind.build({leaf: arrays[leaf] for leaf in shapes}), leading=0).items()}
    names = parameter_names(kind, **config)
    return (kind_name, settings, {name: values[name] for name in names},
            _trainable(table, tuple(shapes)))


def _model_settings(table: dict, kind_name: str, config_keys: tuple[str, ...],
                    features: int) -> dict:
    """The kind's configuration from ``[model]`` (lists as tuples), checked by the kind itself.

    ``sizes`` (a layered kind's ``[d, h_1, ..., k]``) must start with the data's ``d``.
    """
    keys = tuple(key for key in config_keys if key != "features")
    settings = {}
    for key in keys:
        if key not in table:
            raise SpecError(f"[model].{key}: missing ({kind_name} needs {', '.join(keys)})")
        settings[key] = table[key]
    data = {"features": features} if "features" in config_keys else {}
    try:
        model_kind(kind_name).shapes(**settings, **data)
    except (TypeError, ValueError) as err:
        raise SpecError(_config_problem(one_line(err), kind_name, keys)) from None
    settings = {key: tuple(v) if isinstance(v, list) else v for key, v in settings.items()}
    sizes = settings.get("sizes")
    if sizes is not None and sizes[0] != features:
        raise SpecError(f"[model].sizes: starts with d = {sizes[0]} but the data has {features} "
                        f"feature{'' if features == 1 else 's'} per row")
    return settings


def _config_problem(message: str, kind_name: str, keys: tuple[str, ...]) -> str:
    """A kind's configuration error (``mlp: sizes must ...``) as ``[model].sizes: must ...``."""
    text = message.removeprefix(f"{kind_name}: ")
    for key in keys:
        if text.startswith(f"{key} "):
            return f"[model].{key}: {text[len(key) + 1:]}"
    for key in keys:
        if re.search(rf"\b{re.escape(key)}\b", text):
            return f"[model].{key}: {text}"
    return f"[model]: {text}"


def _leaf_layout(shapes: dict[str, tuple[int, ...]]) -> tuple[
        tuple[str, ...], dict[str, list[dict[str, tuple[int, ...]]]]]:
    """The kind's leaves as spec keys: plain leaves (``w``, ``b``) and groups.

    A leaf ``group.i.name`` (``layers.0.w``) is key ``name`` of the ``i``-th
    ``[[model.group]]`` table: ``groups[group][i] = {name: shape}``.
    """
    plain, groups = [], {}
    for leaf, shape in shapes.items():
        match = _GROUP_LEAF.fullmatch(leaf)
        if match is None:
            plain.append(leaf)
            continue
        group, index, name = match.group(1), int(match.group(2)), match.group(3)
        members = groups.setdefault(group, [])
        while len(members) <= index:
            members.append({})
        members[index][name] = shape
    return tuple(plain), groups


def _group_values(value, group: str, members: list[dict[str, tuple[int, ...]]],
                  settings: dict) -> dict[str, np.ndarray]:
    """``[[model.group]]`` tables: one per member, each with exactly the member's leaves."""
    where = f"[model].{group}"
    count = len(members)
    why = f" (one per layer of sizes {list(settings['sizes'])})" if "sizes" in settings else ""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        got = _kind(value) if not isinstance(value, list) else "a list of non-tables"
        raise SpecError(f"{where}: expected {count} [[model.{group}]] tables{why}, got {got}")
    if len(value) != count:
        raise SpecError(f"{where}: expected {count} [[model.{group}]] tables{why}, "
                        f"got {len(value)}")
    arrays = {}
    for index, (item, shapes) in enumerate(zip(value, members, strict=True)):
        here = f"[model.{group}][{index}]"
        for key in item:
            if key not in shapes:
                raise SpecError(f"{here}.{key}: unknown key; expected {', '.join(shapes)}")
        for key, shape in shapes.items():
            if key not in item:
                raise SpecError(f"{here}.{key}: missing")
            arrays[f"{group}.{index}.{key}"] = _array(item[key], f"{here}.{key}", shape)
    return arrays


def _array(value, where: str, shape: tuple[int, ...]) -> np.ndarray:
    """Nested lists of exactly ``shape`` (rows first) as a float64 array, every number finite."""
    if not shape:
        return np.asarray(_number(value, where))
    if not isinstance(value, list):
        raise SpecError(f"{where}: expected shape {shape}, got {_kind(value)}")
    got = _list_shape(value)
    if got != shape:
        raise SpecError(f"{where}: expected shape {shape}, got "
                        f"{'a ragged list' if got is None else got}")
    array = np.empty(shape, dtype=np.float64)
    for index in np.ndindex(*shape):
        item = value
        for i in index:
            item = item[i]
        array[index] = _number(item, where + "".join(f"[{i}]" for i in index))
    return array


def _list_shape(value) -> tuple[int, ...] | None:
    """The shape of nested lists (``()`` for a non-list), or ``None`` if they are ragged."""
    if not isinstance(value, list):
        return ()
    inner = {_list_shape(item) for item in value}
    if not inner:
        return (0,)
    if len(inner) != 1 or None in inner:
        return None
    return (len(value), *inner.pop())


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


def _outputs(settings: dict) -> int:
    """The model's outputs ``k`` per example: a layered kind's last size, else 1."""
    sizes = settings.get("sizes")
    return int(sizes[-1]) if sizes else 1


def _loss(table: dict | None, *, kind: str, settings: dict) -> tuple[str, float]:
    """``[loss]``: the loss kind (default the lesson's) and ``l2``, and that ``k`` fits it."""
    table = {} if table is None else table
    _only_keys("loss", table, _TABLES["loss"])
    loss = table.get("kind", DEFAULT_LOSS)
    if not isinstance(loss, str) or loss not in LOSS_KINDS:
        raise SpecError(f"[loss].kind: unknown loss {_short(loss)}; expected one of "
                        f"{', '.join(LOSS_KINDS)}")
    l2 = _number(table["l2"], "[loss].l2") if "l2" in table else 0.0
    if l2 < 0:
        raise SpecError(f"[loss].l2: must be >= 0, got {l2}")
    outputs = _outputs(settings)
    if LOSS_KINDS[loss].targets == "class":
        if outputs < 2 and "sizes" in settings:
            raise SpecError(f"[model].sizes: ends in k = {outputs} output but {loss} needs "
                            "k >= 2 (one output per class)")
        if outputs < 2:
            raise SpecError(f"[loss].kind: {loss} needs k >= 2 outputs (one per class); a "
                            f'{kind} model has one output (use kind = "mlp", sizes = [d, ..., k])')
    elif outputs != 1:
        raise SpecError(f"[model].sizes: ends in k = {outputs} outputs but {loss} takes one "
                        "output per example (k = 1)")
    return loss, l2


def _check_targets(loss: str, rows: tuple, *, key: str, file: Table | None,
                   classes: int) -> None:
    """Every target of ``[data].key`` fits the loss, or one line naming the row (and file).

    The check is :func:`functional_training.check_targets`'; its message is re-worded
    to start with the spec's key: ``[data].train[3]: target 0.5 does not fit hinge
    (takes -1 or +1)``, or for a file ``[data].train: PATH: data row 4, column 'y': ...``
    (data rows counted from 1, the header excluded, as the file reader counts them).
    """
    try:
        check_targets(loss, [row[-1] for row in rows], classes=classes)
    except ValueError as err:
        found = re.search(rf"target row (\d+) is .*; {re.escape(loss)} takes (.+)$", str(err))
        if found is None:
            raise SpecError(f"[data].{key}: {one_line(err)}") from None
        row, takes = int(found.group(1)), found.group(2)
        problem = f"target {rows[row][-1]!r} does not fit {loss} (takes {takes})"
        if file is None:
            raise SpecError(f"[data].{key}[{row}]: {problem}") from None
        raise SpecError(f"[data].{key}: {file.path}: data row {row + 1}, column "
                        f"{file.target!r}: {problem}") from None


def _schedule(table: dict) -> dict:
    """``[schedule]``: ``kind`` and optax's parameters, defaults filled in (``check_schedule``)."""
    kind = _string(table, "schedule", "kind")
    if kind not in SCHEDULES:
        raise SpecError(f"[schedule].kind: unknown schedule {kind!r}; expected one of "
                        f"{', '.join(SCHEDULES)}")
    entry = SCHEDULES[kind]
    takes = (*entry.required, *entry.defaults)
    for key in table:
        if key != "kind" and key not in takes:
            raise SpecError(f"[schedule].{key}: not a key of {kind}; it takes {', '.join(takes)}")
    for key in entry.required:
        if key not in table:
            raise SpecError(f"[schedule].{key}: missing ({kind} needs "
                            f"{', '.join(entry.required)})")
    params = {key: value for key, value in table.items() if key != "kind"}
    try:
        settings = check_schedule(kind, params)
    except (TypeError, ValueError) as err:
        text = one_line(err)
        found = re.fullmatch(rf"schedule {re.escape(repr(kind))}: (\w+) (.*)", text)
        if found is None or found.group(1) not in takes:
            raise SpecError(f"[schedule]: {text}") from None
        raise SpecError(f"[schedule].{found.group(1)}: {found.group(2)}") from None
    return {"kind": kind, **settings}


def _optimizer(table: dict, *, scheduled: bool = False) -> tuple[str, dict[str, float]]:
    """``[optimizer]`` against the one optimizer table (``functional_training.OPTIMIZERS``).

    With a ``[schedule]`` (``scheduled``), the rate is the schedule's:
    ``learning_rate`` must be absent and is not in the returned settings.
    """
    name = _string(table, "optimizer", "name")
    if name not in OPTIMIZER_NAMES:
        raise SpecError(
            f"[optimizer].name: unknown optimizer {name!r}; expected one of "
            f"{', '.join(OPTIMIZER_NAMES)}"
        )
    if scheduled and "learning_rate" in table:
        raise SpecError("[optimizer].learning_rate: give the rate in [schedule], not both")
    defaults = optimizer_hyperparameters(name)
    takes = (*(() if scheduled else ("learning_rate",)), *defaults)
    for key in table:
        if key != "name" and key not in takes:
            listed = ", ".join(takes) if takes else "no other key (the rate is in [schedule])"
            raise SpecError(f"[optimizer].{key}: not a key of {name}; it takes {listed}")
    hyperparams = {}
    if not scheduled:
        rate = _finite(table, "optimizer", "learning_rate")
        if rate <= 0:
            raise SpecError(f"[optimizer].learning_rate: must be > 0, got {rate}")
        hyperparams["learning_rate"] = rate
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


def _toml_value(value) -> str:
    """A setting as TOML: booleans, integers, floats (``repr``), strings, lists of them."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return _toml_float(value)
