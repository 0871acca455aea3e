"""Spec files: one training run described in TOML, read and validated with messages naming the key.

This module is the one reader of the spec format. It returns plain values (a
:class:`RunSpec`) that the run machinery uses directly (``python -m
functional_training sweep --spec FILE``) and that ``comparisons.spec`` turns into
an ``Experiment`` for the backends (it imports this module, never the reverse).
The reader is split by concept: the type (``_run_spec``), the TOML value checks
and :class:`SpecError` (``_spec_toml``), and one module per group of tables:
``[data]`` (``_spec_data``), ``[model]`` (``_spec_model``) and the training
tables ``[loss]``, ``[optimizer]``, ``[schedule]``, ``[run]`` (``_spec_training``).

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
    reduction = "mean"                    # optional: "sum" if the loop records its loss and
                                          # .grad as sums, dividing by batch_size in its step
    [optimizer]
    name = "sgd"                          # sgd | momentum | nesterov | adam | adamw
    learning_rate = 0.08                  # plus that optimizer's own keys
    # weight_decay = 0.01                 # optional: torch.optim's meaning (coupled
                                          # g + lam theta; decoupled for adamw)
    [run]
    steps = 20
    batch_size = 2                        # optional, default full batch
    seed = 0                              # optional, for the batch order
    last_batch = "drop"                   # optional: "keep" keeps each epoch's short last
                                          # batch (DataLoader's default drop_last=False;
                                          # comparisons only: short_batches=True)
    # batches = "trajectory"              # `comparisons check` only: train on the checked
                                          # trajectory's own batches (see below)

For ``comparisons check`` (``from_trajectory=True``) a spec may leave out what the
trajectory it checks holds: ``[model]`` without initial values (no leaf values,
no ``init``: the trajectory's step-0 ``params`` are the initial values), and the
batch order (``[run] batches = "trajectory"``, or no ``batch_size``, with the
trajectory's ``batches``). Any other command refuses such a spec with one line.

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

Softmax regression is the ``linear`` kind with ``outputs = k`` (default 1, the line):
``w`` is then ``(d, k)`` (a row per feature, a column per output) and ``b`` has ``k``
values, parameters ``w[i,j]`` and ``b[j]``, no ``sizes`` or ``activation``::

    [model]
    kind = "linear"
    outputs = 3                           # optional: k, default 1
    w = [[0.1, 0.0, -0.1], [0.2, 0.3, 0.0]]    # (d, k); or init = "zeros" / "seeded"
    b = [0.0, 0.0, 0.0]

``k`` (the last size of an mlp, ``outputs`` of a linear model) must fit the loss: 1 for
every loss but ``softmax-cross-entropy``, which takes ``k >= 2`` logits. A learning-rate schedule
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

import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, packaged as tomli
    import tomli as tomllib

from functional_training._models import model_kind
from functional_training.runs._cli import one_line
from functional_training.runs._run_spec import RunSpec, rows_of
from functional_training.runs._spec_data import DATA_KEYS, check_spec_targets, data_table
from functional_training.runs._spec_model import (
    MAX_PARAMETERS,
    MODEL_KEYS,
    leaf_layout,
    model_config,
    model_table,
)
from functional_training.runs._spec_toml import SpecError, only_keys, string_at, table_of
from functional_training.runs._spec_training import (
    LOSS_KEYS,
    MAX_STEPS,
    OPTIMIZER_KEYS,
    RUN_KEYS,
    SCHEDULE_KEYS,
    batch_rule,
    loss_table,
    optimizer_table,
    run_table,
    schedule_table,
)

__all__ = [
    "MAX_PARAMETERS",
    "MAX_STEPS",
    "RunSpec",
    "SpecError",
    "leaf_layout",
    "load_run_spec",
    "parse_run_spec",
    "read_spec_text",
    "rows_of",
]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=/+-]*")
_TABLES = {
    "data": DATA_KEYS,
    "model": MODEL_KEYS,
    "loss": LOSS_KEYS,
    "optimizer": OPTIMIZER_KEYS,  # plus the optimizer's own keys
    "schedule": SCHEDULE_KEYS,  # plus the schedule's own parameters
    "run": RUN_KEYS,
}
_OPTIONAL = ("loss", "schedule")
_TOP = ("name", "description", *_TABLES)


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


def load_run_spec(path: str | Path, *, from_trajectory: bool = False,
                  short_batches: bool = False) -> RunSpec:
    """Read and validate a TOML spec file (data file paths are relative to it).

    ``from_trajectory``, ``short_batches``: as :func:`parse_run_spec`'s.

    Raises:
      SpecError: the file is missing, unreadable, not TOML, or invalid (the
        message names the file and the key).
    """
    path = Path(path)
    text = read_spec_text(path)
    try:
        return parse_run_spec(text, base=path.parent, from_trajectory=from_trajectory,
                              short_batches=short_batches)
    except SpecError as err:
        raise SpecError(f"{path}: {err}") from None


def parse_run_spec(text: str, *, base: str | Path | None = None,
                   from_trajectory: bool = False, short_batches: bool = False) -> RunSpec:
    """Validate the text of a spec file (see the module docstring) into a :class:`RunSpec`.

    Args:
      text: the TOML text.
      base: the directory data file paths are relative to (the spec file's; default
        the working directory).
      from_trajectory: the spec is read for a check of a trajectory, which may give
        the initial values (``init`` ``None``) and the batches (``order``
        ``"trajectory"``) the spec leaves out (:meth:`RunSpec.left_to_trajectory`).
      short_batches: the reader runs batches of different sizes (the comparisons
        backends), so ``[run] last_batch = "keep"`` is allowed; ``train`` and
        ``sweep`` compile one batch size and refuse it.

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
    only_keys("", data, _TOP)
    name = string_at(data, "", "name")
    if not _NAME.fullmatch(name):
        raise SpecError(
            f"name: {name!r} must start with an ASCII letter or digit and use only ASCII "
            "letters, digits and _ . = / + -"
        )
    description = data.get("description", f"user experiment {name}")
    if not isinstance(description, str) or "\n" in description:
        raise SpecError("description: must be a one-line string")
    tables = {key: table_of(data, key, optional=key in _OPTIONAL) for key in _TABLES}

    only_keys("data", tables["data"], DATA_KEYS)
    folder = Path(base) if base is not None else Path()
    (x, y), validation, files = data_table(tables["data"], folder)
    kind, settings, init, trainable = model_table(tables["model"], features=x.shape[1],
                                                  from_trajectory=from_trajectory)

    config = model_config(kind, settings, x.shape[1])
    loss, l2, reduction = loss_table(tables["loss"], kind=kind, config=config)
    outputs = model_kind(kind).outputs(**config)
    for key, targets in (("train", y), ("validation", None if validation is None
                                        else validation[1])):
        if targets is not None:
            check_spec_targets(loss, targets, key=key, file=files.get(key), classes=outputs)

    schedule = None if tables["schedule"] is None else schedule_table(tables["schedule"])
    optimizer, hyperparams = optimizer_table(tables["optimizer"], scheduled=schedule is not None)

    steps, batch_size, seed = run_table(tables["run"], examples=y.shape[0])
    order, last_batch = batch_rule(tables["run"], batch_size=batch_size,
                                   from_trajectory=from_trajectory, short_batches=short_batches)

    init_values, init_kind, init_seed = init
    return RunSpec.from_arrays(
        x, y, *(validation if validation is not None else (None, None)),
        name=name,
        description=description,
        model=kind,
        model_settings=settings,
        init=init_values,
        init_kind=init_kind,
        init_seed=init_seed,
        trainable=trainable,
        loss=loss,
        l2=l2,
        reduction=reduction,
        optimizer=optimizer,
        hyperparams=hyperparams,
        schedule=schedule,
        steps=steps,
        batch_size=batch_size,
        seed=seed,
        order=order,
        last_batch=last_batch,
        files={key: table.path for key, table in files.items()},
    )
