"""User experiments from TOML spec files, validated with messages that name the key.

A spec file describes one training run of the lesson's linear model
(``prediction = w * x + b``, mean half squared error)::

    name = "my-run"
    description = "what this run shows"   # optional
    [data]
    train = [[1.0, 3.0], [2.0, 5.0]]      # (x, target) pairs
    validation = [[1.0, 2.0]]             # optional
    [model]
    w = 0.0
    b = 0.0
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

from comparisons.experiments import Experiment

__all__ = ["MAX_STEPS", "SpecError", "dump_spec", "load_spec", "parse_spec"]

MAX_STEPS = 100_000
"""Upper bound on ``[run].steps``: every backend (the scalar engine included) runs
every step in Python, so a spec stays a seconds-long check, not a training job."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=/+-]*")
_PARAMS = ("w", "b")
_UNIT_INTERVAL = ("momentum", "b1", "b2")  # decay rates: in [0, 1)
_TABLES = {
    "data": ("train", "validation"),
    "model": ("w", "b", "trainable"),
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
        return parse_spec(text)
    except SpecError as err:
        raise SpecError(f"{path}: {err}") from None


def parse_spec(text: str) -> Experiment:
    """Validate the text of a spec file (see the module docstring) into an Experiment.

    Raises:
      SpecError: not TOML, or a key missing, unknown, mistyped or out of range.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"not valid TOML: {_one_line(str(err))}") from None
    _only_keys("", data, _TOP)
    name = _string(data, "", "name")
    if not _NAME.fullmatch(name):
        raise SpecError(
            f"name: {name!r} must start with a letter or digit and use only letters, "
            "digits and _ . = / + -"
        )
    description = data.get("description", f"user experiment {name}")
    if not isinstance(description, str) or "\n" in description:
        raise SpecError("description: must be a one-line string")
    tables = {key: _table(data, key) for key in _TABLES}

    train = _pairs(tables["data"], "train", required=True)
    validation = _pairs(tables["data"], "validation", required=False)
    _only_keys("data", tables["data"], _TABLES["data"])

    model = tables["model"]
    _only_keys("model", model, _TABLES["model"])
    init = {p: _finite(model, "model", p) for p in _PARAMS}
    trainable = _trainable(model)

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
    )


def dump_spec(experiment: Experiment) -> str:
    """The TOML spec text of a ``train`` experiment; ``parse_spec`` reads it back equal.

    Floats are written with ``repr`` (shortest round-tripping form), so the
    round trip is exact.

    Raises:
      SpecError: the experiment is not a plain training run a spec can describe.
    """
    if experiment.kind != "train" or set(experiment.init) != set(_PARAMS):
        raise SpecError(
            f"{experiment.name}: only 'train' experiments of the linear model fit a spec file"
        )
    lines = [f"name = {_toml_string(experiment.name)}"]
    lines.append(f"description = {_toml_string(experiment.description)}")
    lines += ["", "[data]", f"train = {_toml_pairs(experiment.train)}"]
    if experiment.validation is not None:
        lines.append(f"validation = {_toml_pairs(experiment.validation)}")
    lines += ["", "[model]"]
    lines += [f"{p} = {_toml_float(experiment.init[p])}" for p in _PARAMS]
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


def _pairs(data: dict, key: str, *, required: bool) -> tuple[tuple[float, float], ...] | None:
    where = _where("data", key)
    if key not in data:
        if required:
            raise SpecError(f"{where}: missing")
        return None
    rows = data[key]
    if not isinstance(rows, list):
        raise SpecError(f"{where}: expected a list of [x, target] pairs, got {_kind(rows)}")
    if not rows:
        raise SpecError(f"{where}: is empty; give at least one [x, target] pair")
    pairs = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != 2:
            raise SpecError(f"{where}[{i}]: expected a pair [x, target], got {_short(row)}")
        pairs.append((_number(row[0], f"{where}[{i}][0]"), _number(row[1], f"{where}[{i}][1]")))
    return tuple(pairs)


def _trainable(model: dict) -> tuple[str, ...]:
    if "trainable" not in model:
        return _PARAMS
    names = model["trainable"]
    where = "[model].trainable"
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SpecError(f'{where}: expected a list of parameter names like ["w", "b"]')
    unknown = [n for n in names if n not in _PARAMS]
    if unknown:
        raise SpecError(f"{where}: unknown parameter {unknown[0]!r}; the model has w, b")
    if len(set(names)) != len(names):
        raise SpecError(f"{where}: lists a parameter twice")
    if not names:
        raise SpecError(f"{where}: is empty; name at least one of w, b")
    return tuple(p for p in _PARAMS if p in names)


def _optimizer(table: dict) -> tuple[str, dict[str, float]]:
    from functional_training import OPTIMIZER_NAMES, optimizer_hyperparameters

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
        if value < 0 or (key in _UNIT_INTERVAL and value >= 1):
            bound = "in [0, 1)" if key in _UNIT_INTERVAL else ">= 0"
            raise SpecError(f"[optimizer].{key}: must be {bound}, got {value}")
        hyperparams[key] = value
    if name == "nesterov" and hyperparams["momentum"] == 0:
        raise SpecError("[optimizer].momentum: nesterov needs momentum > 0 (0 is plain sgd)")
    return name, hyperparams


def _kind(value) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
             list: "a list", dict: "a table"}
    return kinds.get(type(value), type(value).__name__)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _one_line(message: str) -> str:
    return " ".join(message.split())


# --- TOML writing (tomllib reads only) ---------------------------------------------------


def _toml_float(value: float) -> str:
    return repr(float(value))


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _toml_pairs(pairs) -> str:
    return "[" + ", ".join(f"[{_toml_float(x)}, {_toml_float(y)}]" for x, y in pairs) + "]"
