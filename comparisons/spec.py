"""User experiments from TOML spec files, validated with messages that name the key.

The spec format and its reader belong to the run machinery
(:mod:`functional_training.runs._spec`, which documents every table and key):
:func:`parse_spec` and :func:`load_spec` read a spec there and turn its plain
values into an :class:`~comparisons.experiments.Experiment` for the backends;
:func:`dump_spec` writes an experiment back as spec text. A spec file describes one
training run of a model kind (default ``linear``: ``prediction = x @ w + b``, mean
half squared error)::

    name = "my-run"
    [data]
    train = [[1.0, 3.0], [2.0, 5.0]]      # rows [x_1, ..., x_d, target]; or a data file
    [model]
    w = 0.0                               # or kind = "mlp", sizes, activation, init
    b = 0.0
    [optimizer]
    name = "sgd"
    learning_rate = 0.08
    [run]
    steps = 20

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

from pathlib import Path

import numpy as np

from comparisons.experiments import Experiment
from comparisons.models import MODELS
from functional_training import leaf_of, model_kind
from functional_training.runs import (
    FROM_TRAJECTORY,
    SPEC_MAX_PARAMETERS,
    SPEC_MAX_STEPS,
    RunSpec,
    SpecError,
    leaf_layout,
    load_run_spec,
    parse_run_spec,
)

__all__ = ["MAX_PARAMETERS", "MAX_STEPS", "SpecError", "dump_spec", "load_spec", "parse_spec"]

MAX_STEPS = SPEC_MAX_STEPS
"""Upper bound on ``[run].steps`` (the run machinery's, re-exported)."""

MAX_PARAMETERS = SPEC_MAX_PARAMETERS
"""Upper bound on a spec's number of scalar parameters (the run machinery's, re-exported)."""


def load_spec(path: str | Path, *, from_trajectory: bool = False) -> Experiment:
    """Read and validate a TOML spec file.

    Args:
      path: the file.
      from_trajectory: read for ``check``: the spec may leave the initial values
        and the batch order to the trajectory checked
        (:func:`functional_training.runs.parse_run_spec`).

    Returns:
      The :class:`~comparisons.experiments.Experiment` it describes (kind ``train``).

    Raises:
      SpecError: the file is missing, unreadable, not TOML, or invalid (the
        message names the file and the key).
    """
    return experiment_from(load_run_spec(path, from_trajectory=from_trajectory,
                                         short_batches=True))


def parse_spec(text: str, *, base: str | Path | None = None,
               from_trajectory: bool = False) -> Experiment:
    """Validate the text of a spec file into an Experiment.

    Args:
      text: the TOML text.
      base: the directory data file paths are relative to (the spec file's; default
        the working directory).
      from_trajectory: as :func:`load_spec`'s.

    Raises:
      SpecError: not TOML, or a key missing, unknown, mistyped or out of range, or a
        data file that cannot be read (the message names the key and the file).
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_spec: text must be a string, got {type(text).__name__}")
    return experiment_from(parse_run_spec(text, base=base, from_trajectory=from_trajectory,
                                          short_batches=True))


def experiment_from(spec: RunSpec) -> Experiment:
    """The ``train`` :class:`~comparisons.experiments.Experiment` of a read spec (the same
    run description, :meth:`functional_training.runs.RunSpec.of`: nothing is copied by hand)."""
    return Experiment.of(spec)


def dump_spec(experiment: Experiment) -> str:
    """The TOML spec text of a ``train`` experiment; ``parse_spec`` reads it back equal.

    Every field is written explicitly (the loss and ``l2`` too, when they are the
    defaults); a layered model's initial values are written as one
    ``[[model.layers]]`` table per layer. Floats are written with ``repr``
    (shortest round-tripping form), so the round trip is exact.

    A run whose initial values or batches are left to a trajectory is written
    without them (``batches = "trajectory"``); an explicit batch order (a replayed
    run's) has no spec syntax.

    Raises:
      SpecError: the experiment is not a plain training run a spec can describe.
    """
    if experiment.kind != "train" or experiment.model not in MODELS:
        raise SpecError(f"{experiment.name}: only 'train' experiments fit a spec file")
    if experiment.order not in (None, FROM_TRAJECTORY):
        raise SpecError(f"{experiment.name}: an explicit batch order has no spec syntax")
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
        if experiment.init is None:
            break
        values = [experiment.init[n] for n in experiment.parameter_names if leaf_of(n) == leaf]
        arrays[leaf] = float(values[0]) if not shape else np.asarray(values).reshape(shape).tolist()
    plain, groups = leaf_layout(shapes)
    if experiment.init is None:
        plain, groups = (), {}
    lines += [f"{leaf} = {_toml_nested(arrays[leaf])}" for leaf in plain]
    lines.append("trainable = [" + ", ".join(f'"{p}"' for p in experiment.trainable) + "]")
    for group, members in groups.items():
        for index, member in enumerate(members):
            lines += ["", f"[[model.{group}]]"]
            lines += [f"{key} = {_toml_nested(arrays[f'{group}.{index}.{key}'])}"
                      for key in member]
    lines += ["", "[loss]", f"kind = {_toml_string(experiment.loss)}",
              f"l2 = {_toml_float(experiment.l2)}"]
    if experiment.reduction != "mean":
        lines.append(f"reduction = {_toml_string(experiment.reduction)}")
    lines += ["", "[optimizer]", f"name = {_toml_string(experiment.optimizer)}"]
    lines += [f"{k} = {_toml_float(v)}" for k, v in experiment.hyperparams.items()]
    if experiment.schedule is not None:
        lines += ["", "[schedule]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in experiment.schedule.items()]
    lines += ["", "[run]", f"steps = {experiment.steps}"]
    if experiment.batch_size is not None:
        lines.append(f"batch_size = {experiment.batch_size}")
    if experiment.order == FROM_TRAJECTORY:
        lines.append('batches = "trajectory"')
    else:
        lines.append(f"seed = {experiment.seed}")
    if experiment.last_batch != "drop":
        lines.append(f"last_batch = {_toml_string(experiment.last_batch)}")
    return "\n".join(lines) + "\n"


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
