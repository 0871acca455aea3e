"""Spec files: one training run described in TOML, read and validated with messages naming the key.

This module is the one reader of the spec format. It returns plain values (a
:class:`RunSpec`) that the run machinery uses directly (``python -m
functional_training sweep --spec FILE``) and that ``comparisons.spec`` turns into
an ``Experiment`` for the backends (it imports this module, never the reverse).

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
:class:`RunSpec` explicitly, so every backend runs
the same mathematics whatever its framework's own defaults are (torch's AdamW
decays by 1e-2 by default, optax's by 1e-4: the spec's value wins on both).

Every problem is a :class:`SpecError` (a ``ValueError``) with a one-line
message that starts with the key, e.g. ``[run].steps: must be an integer > 0, got 0``,
``[model.layers][1].w: expected shape (3, 1), got (3, 2)`` or
``[data].train[3]: target 0.5 does not fit hinge (takes -1 or +1)``.

Example:
  >>> spec = parse_run_spec('''
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
  ... ''')
  >>> spec.model, spec.x.shape, spec.init, spec.hyperparams["eps"], spec.init_kind
  ('linear', (2, 1), {'w': 0.0, 'b': 0.0}, 1e-08, 'explicit')
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, NamedTuple

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, packaged as tomli
    import tomli as tomllib

import numpy as np

from functional_training._data_files import (
    DataFileError,
    Table,
    check_same_features,
    is_data_file,
    read_table,
)
from functional_training._losses import DEFAULT_LOSS, LOSS_KINDS, check_targets
from functional_training._models import (
    DEFAULT_MODEL,
    INITS,
    MODEL_KINDS,
    initial_values,
    model_kind,
    parameter_names,
)
from functional_training._objective import Objective, objective
from functional_training._optimizers import (
    OPTIMIZER_NAMES,
    hyperparameter_problem,
    optimizer_hyperparameters,
    settings_problem,
)
from functional_training._record import named_series
from functional_training._schedules import SCHEDULES, check_schedule
from functional_training.runs._cli import one_line

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
    """A spec file that cannot be read or does not describe a valid run."""


class RunSpec(NamedTuple):
    """One spec file's run as plain values (every default filled in).

    Attributes:
      name, description: the spec's ``name`` and one-line ``description``.
      x: training features, float64 ``(n, d)`` (2-D also for ``d = 1``).
      y: training targets, float64 ``(n,)``.
      x_val, y_val: the validation set (same widths), or ``None``.
      model: the model kind (a key of :data:`functional_training.MODEL_KINDS`).
      model_settings: the kind's configuration besides the data's feature count
        (``mlp``: ``{"sizes": (d, h_1, ..., k), "activation": "tanh"}``; ``{}`` for
        ``linear``), lists as tuples.
      init: initial values by scalar parameter name (the naming rule's order).
      init_kind: how ``init`` was given: ``"explicit"`` (``w``/``b`` or
        ``[[model.layers]]`` values), ``"zeros"`` or ``"seeded"``.
      init_seed: the seed of ``"seeded"`` (0 otherwise).
      trainable: the parameter leaves the optimizer moves, in the kind's order.
      loss, l2: the loss kind and ``alpha`` of the L2 penalty.
      optimizer: the optimizer's name.
      hyperparams: every optimizer setting, defaults filled in; ``learning_rate``
        included unless there is a schedule.
      schedule: ``{"kind": ..., **optax parameters}`` or ``None``.
      steps: ``S``.
      batch_size: examples per step, or ``None`` for full batch.
      seed: the batch-order seed (``[run].seed``, default 0).
      files: role (``"train"``, ``"validation"``) -> the data file's path as read.
    """

    name: str
    description: str
    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    model: str
    model_settings: dict[str, Any]
    init: dict[str, float]
    init_kind: str
    init_seed: int
    trainable: tuple[str, ...]
    loss: str
    l2: float
    optimizer: str
    hyperparams: dict[str, float]
    schedule: dict | None
    steps: int
    batch_size: int | None
    seed: int
    files: dict[str, str]

    @property
    def features(self) -> int:
        """``d``, the features per example."""
        return int(self.x.shape[1])

    @property
    def model_config(self) -> dict[str, Any]:
        """The kind's full configuration (``{"features": d}`` for ``linear``)."""
        config = dict(self.model_settings)
        if "features" in MODEL_KINDS[self.model].config_keys:
            config["features"] = self.features
        return config

    @property
    def leaves(self) -> tuple[str, ...]:
        """Every parameter leaf of the model, in the kind's order."""
        return tuple(model_kind(self.model).shapes(**self.model_config))

    def objective(self) -> Objective:
        """What the run minimises: :func:`functional_training.objective` of the spec."""
        return objective(self.model, loss=self.loss, l2=self.l2, **self.model_config)


def rows_of(x: np.ndarray | None, y: np.ndarray | None) -> tuple[tuple[float, ...], ...] | None:
    """Rows ``(x_1, ..., x_d, target)`` of Python floats (``None`` for no data).

    Example:
      >>> rows_of(np.array([[1.0], [2.0]]), np.array([3.0, 5.0]))
      ((1.0, 3.0), (2.0, 5.0))
    """
    if x is None:
        return None
    return tuple(tuple(row) for row in np.column_stack([x, y]).tolist())


def read_spec_text(path: str | Path) -> str:
    """The text of a spec file, or a :class:`SpecError` naming the file.

    Raises:
      SpecError: the file is missing, a directory, unreadable or not UTF-8.
    """
    path = Path(path)
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory, not a spec file") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text") from None
    except OSError as err:
        raise SpecError(f"{path}: cannot read ({err.strerror or err})") from None


def load_run_spec(path: str | Path) -> RunSpec:
    """Read and validate a TOML spec file (data file paths are relative to it).

    Raises:
      SpecError: the file is missing, unreadable, not TOML, or invalid (the
        message names the file and the key).
    """
    path = Path(path)
    text = read_spec_text(path)
    try:
        return parse_run_spec(text, base=path.parent)
    except SpecError as err:
        raise SpecError(f"{path}: {err}") from None


def parse_run_spec(text: str, *, base: str | Path | None = None) -> RunSpec:
    """Validate the text of a spec file (see the module docstring) into a :class:`RunSpec`.

    Args:
      text: the TOML text.
      base: the directory data file paths are relative to (the spec file's; default
        the working directory).

    Raises:
      SpecError: not TOML, or a key missing, unknown, mistyped or out of range, or a
        data file that cannot be read (the message names the key and the file).
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_run_spec: text must be a string, got {type(text).__name__}")
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
    (x, y), validation, files = _data(tables["data"], Path(base) if base is not None else Path())
    kind, settings, init, trainable = _model(tables["model"], features=x.shape[1])

    config = _config(kind, settings, x.shape[1])
    loss, l2 = _loss(tables["loss"], kind=kind, config=config)
    outputs = model_kind(kind).outputs(**config)
    for key, targets in (("train", y), ("validation", None if validation is None
                                        else validation[1])):
        if targets is not None:
            _check_targets(loss, targets, key=key, file=files.get(key), classes=outputs)

    schedule = None if tables["schedule"] is None else _schedule(tables["schedule"])
    optimizer, hyperparams = _optimizer(tables["optimizer"], scheduled=schedule is not None)

    run = tables["run"]
    _only_keys("run", run, _TABLES["run"])
    steps = _integer(run, "run", "steps", low=1, high=MAX_STEPS)
    batch_size = None
    if "batch_size" in run:
        batch_size = _integer(run, "run", "batch_size", low=1, high=None)
        if batch_size > y.shape[0]:
            raise SpecError(
                f"[run].batch_size: {batch_size} is more than the {y.shape[0]} training examples"
            )
    seed = _integer(run, "run", "seed", low=0, high=None) if "seed" in run else 0

    init_values, init_kind, init_seed = init
    return RunSpec(
        name=name,
        description=description,
        x=x,
        y=y,
        x_val=None if validation is None else validation[0],
        y_val=None if validation is None else validation[1],
        model=kind,
        model_settings=settings,
        init=init_values,
        init_kind=init_kind,
        init_seed=init_seed,
        trainable=trainable,
        loss=loss,
        l2=l2,
        optimizer=optimizer,
        hyperparams=hyperparams,
        schedule=schedule,
        steps=steps,
        batch_size=batch_size,
        seed=seed,
        files={key: table.path for key, table in files.items()},
    )


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

    Returns ``(x, y)`` of the train set (``x`` float64 ``(n, d)``), ``(x_val, y_val)``
    (or ``None``) and the tables read from files by key (``train``, ``validation``),
    for messages naming a file's row.
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
    sets = {}
    for key in ("train", "validation"):
        if key == "validation" and "train" in tables:
            # The validation file's columns are the train file's, picked by name.
            features, target = tables["train"].features, tables["train"].target
        if key not in table:
            if key == "train":
                raise SpecError("[data].train: missing")
            sets[key] = None
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
            sets[key] = (np.asarray(tables[key].x, np.float64),
                         np.asarray(tables[key].y, np.float64))
        else:
            rows = np.asarray(_rows(table, key), dtype=np.float64)
            sets[key] = (np.ascontiguousarray(rows[:, :-1]), np.ascontiguousarray(rows[:, -1]))
    if len(tables) == 2:
        try:
            check_same_features(tables["train"], tables["validation"])
        except DataFileError as err:
            raise SpecError(f"[data].validation: {err}") from None
    train, validation = sets["train"], sets["validation"]
    if validation is not None and validation[0].shape[1] != train[0].shape[1]:
        raise SpecError(
            f"[data].validation: {validation[0].shape[1]} feature(s) per row but train has "
            f"{train[0].shape[1]}"
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


def _model(table: dict, *, features: int) -> tuple[str, dict, tuple, tuple[str, ...]]:
    """``[model]``: the kind, its settings, the initial values, the trainable leaves.

    The initial values are ``(values by scalar name, init kind, seed)``, the init
    kind ``"explicit"``, ``"zeros"`` or ``"seeded"`` (see :class:`RunSpec`).

    The keys a kind takes are derived from it: its configuration keys (every one
    but ``features``, which is the data's, is required), its leaves (a plain leaf
    such as ``w`` is a key; leaves ``group.i.name`` such as ``layers.0.w`` are one
    ``[[model.group]]`` table per ``i``), and ``kind``, ``init``, ``seed``, ``trainable``.
    """
    kind_name = table.get("kind", DEFAULT_MODEL)
    if not isinstance(kind_name, str) or kind_name not in MODEL_KINDS:
        raise SpecError(f"[model].kind: unknown model kind {_short(kind_name)}; expected one of "
                        f"{', '.join(MODEL_KINDS)}")
    kind = model_kind(kind_name)
    settings = _model_settings(table, kind_name, kind.config_keys, features)
    config = {**settings, **({"features": features} if "features" in kind.config_keys else {})}
    shapes = kind.shapes(**config)
    plain, groups = leaf_layout(shapes)
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
        how = (init, seed)
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
            stated = kind.stated(group, **config)
            why = "" if stated is None else f" ({stated[1]})"
            arrays.update(_group_values(table[group], group, members, why))
        values = {name: float(v) for name, v in named_series(
            kind.build({leaf: arrays[leaf] for leaf in shapes}), leading=0).items()}
        how = ("explicit", 0)
    names = parameter_names(kind, **config)
    return (kind_name, settings, ({name: values[name] for name in names}, *how),
            _trainable(table, tuple(shapes)))


def _model_settings(table: dict, kind_name: str, config_keys: tuple[str, ...],
                    features: int) -> dict:
    """The kind's configuration from ``[model]`` (lists as tuples), checked by the kind itself.

    The kind's input width (``ModelKind.inputs``) must be the data's ``d``; the message
    names the setting that states it (``ModelKind.stated_by``), or the data.
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
    kind = model_kind(kind_name)
    takes = kind.inputs(**settings, **data)
    if takes != features:
        rows = f"{features} feature{'' if features == 1 else 's'} per row"
        stated = kind.stated("inputs", **settings, **data)
        if stated is not None:
            raise SpecError(f"[model].{stated[0]}: {stated[1]} but the data has {rows}")
        raise SpecError(f"[data].train: the {kind_name} model takes {takes} "
                        f"feature{'' if takes == 1 else 's'} per row, the data has {rows}")
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


def leaf_layout(shapes: dict[str, tuple[int, ...]]) -> tuple[
        tuple[str, ...], dict[str, list[dict[str, tuple[int, ...]]]]]:
    """The kind's leaves as spec keys: plain leaves (``w``, ``b``) and groups.

    A leaf ``group.i.name`` (``layers.0.w``) is key ``name`` of the ``i``-th
    ``[[model.group]]`` table: ``groups[group][i] = {name: shape}``.

    Example:
      >>> leaf_layout({"layers.0.w": (2, 3), "layers.0.b": (3,), "layers.1.w": (3, 1)})
      ((), {'layers': [{'w': (2, 3), 'b': (3,)}, {'w': (3, 1)}]})
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
                  why: str) -> dict[str, np.ndarray]:
    """``[[model.group]]`` tables: one per member, each with exactly the member's leaves.

    ``why`` says where the count comes from (the kind's ``stated_by``), or is empty.
    """
    where = f"[model].{group}"
    count = len(members)
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


def _config(kind: str, settings: dict, features: int) -> dict:
    """The kind's full configuration: its settings, plus ``features`` when it takes the data's."""
    takes_features = "features" in model_kind(kind).config_keys
    return {**settings, **({"features": features} if takes_features else {})}


def _loss(table: dict | None, *, kind: str, config: dict) -> tuple[str, float]:
    """``[loss]``: the loss kind (default the lesson's) and ``l2``, and that ``k`` fits it.

    ``k`` is the kind's ``outputs``; whether it fits is the loss's ``outputs_problem``.
    The message names the setting that states ``k`` (``ModelKind.stated_by``), else
    ``[loss].kind``.
    """
    table = {} if table is None else table
    _only_keys("loss", table, _TABLES["loss"])
    loss = table.get("kind", DEFAULT_LOSS)
    if not isinstance(loss, str) or loss not in LOSS_KINDS:
        raise SpecError(f"[loss].kind: unknown loss {_short(loss)}; expected one of "
                        f"{', '.join(LOSS_KINDS)}")
    l2 = _number(table["l2"], "[loss].l2") if "l2" in table else 0.0
    if l2 < 0:
        raise SpecError(f"[loss].l2: must be >= 0, got {l2}")
    model = model_kind(kind)
    outputs = model.outputs(**config)
    if LOSS_KINDS[loss].outputs_problem(outputs) is not None:
        wanted = LOSS_KINDS[loss].outputs_wanted
        stated = model.stated("outputs", **config)
        if stated is not None:
            raise SpecError(f"[model].{stated[0]}: {stated[1]} but {loss} {wanted}")
        raise SpecError(f"[loss].kind: {loss} {wanted}; a {kind} model has "
                        f"{'one output' if outputs == 1 else f'{outputs} outputs'}")
    return loss, l2


def _check_targets(loss: str, targets: np.ndarray, *, key: str, file: Table | None,
                   classes: int) -> None:
    """Every target of ``[data].key`` fits the loss, or one line naming the row (and file).

    The check is :func:`functional_training.check_targets`'; its message is re-worded
    to start with the spec's key: ``[data].train[3]: target 0.5 does not fit hinge
    (takes -1 or +1)``, or for a file ``[data].train: PATH: data row 4, column 'y': ...``
    (data rows counted from 1, the header excluded, as the file reader counts them).
    """
    try:
        check_targets(loss, targets, classes=classes)
    except ValueError as err:
        found = re.search(rf"target row (\d+) is .*; {re.escape(loss)} takes (.+)$", str(err))
        if found is None:
            raise SpecError(f"[data].{key}: {one_line(err)}") from None
        row, takes = int(found.group(1)), found.group(2)
        problem = f"target {float(targets[row])!r} does not fit {loss} (takes {takes})"
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


