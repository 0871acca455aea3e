"""Run manifests of ``python -m comparisons run|all``: what a rerun needs, one run per experiment.

A manifest is the project's one manifest format (``functional_training.runs``'
``build_manifest`` and friends: strict JSON, validated on write and read,
written atomically) with ``tool = "comparisons run"`` (or ``"comparisons all"``)
and one entry of ``runs`` per experiment:

- ``name``: the experiment's name; ``data``: its content hash (the data
  version, over the training and validation rows as float64 arrays) and sizes;
  ``split``: the split policy in words;
- ``init``, ``optimizer``, ``hyperparameters`` (every setting except the
  learning rate, defaults filled in), ``learning_rates`` (``[]`` for the
  ``none`` optimizer), ``steps``, ``batch_size`` and the batch-order ``seed``
  (``null`` for full batch);
- ``options``: ``origin`` (``registry`` or ``spec``), ``spec_file`` (the path
  given, informational), ``experiment`` (the full description,
  :func:`experiment_to_json`, so a rerun does not need the spec file),
  ``backends`` (those asked for), ``reference`` and ``unavailable``;
- ``results``: backend name -> ``trajectory_digest`` of its trajectory.

Example:
  >>> from comparisons.experiments import REGISTRY
  >>> description = experiment_to_json(REGISTRY["five-steps"])
  >>> description["hyperparams"], description["train"]
  ({'learning_rate': 0.1}, [[2.0, 6.0]])
  >>> experiment_from_json(description) == REGISTRY["five-steps"]
  True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from comparisons.backends._common import optimizer_settings
from comparisons.experiments import KINDS, REGISTRY, Experiment
from functional_training import DEFAULT_LOSS, DEFAULT_MODEL, TrajectoryRecord, is_int, is_number
from functional_training.runs import build_manifest, data_record, run_record, trajectory_digest

__all__ = [
    "ORIGINS",
    "TOOLS",
    "comparison_manifest",
    "experiment_data",
    "experiment_from_json",
    "experiment_record",
    "experiment_to_json",
    "origin_of",
    "split_policy",
]

TOOLS = ("comparisons run", "comparisons all")
"""The ``tool`` values this package writes and ``python -m comparisons rerun`` accepts."""

ORIGINS = ("registry", "spec")
"""Where an experiment came from: :data:`~comparisons.experiments.REGISTRY` or a spec file."""

_DESCRIPTION_KEYS = (
    "name", "description", "kind", "train", "validation", "init", "trainable", "optimizer",
    "hyperparams", "steps", "batch_size", "seed", "zero_grad", "fd_epsilon", "lesson_block",
    "model", "model_settings", "loss", "l2", "schedule",
)
_OPTIONAL_KEYS = {"model": DEFAULT_MODEL, "model_settings": {}, "loss": DEFAULT_LOSS, "l2": 0.0,
                  "schedule": None}
"""Description keys older manifests lack, with the value they meant."""


def experiment_to_json(experiment: Experiment) -> dict:
    """Every field of ``experiment`` as JSON values (tuples become lists); exact for floats.

    :func:`experiment_from_json` reads it back equal.
    """
    def rows(records):
        return None if records is None else [[float(v) for v in row] for row in records]

    return {
        "name": experiment.name,
        "description": experiment.description,
        "kind": experiment.kind,
        "train": rows(experiment.train),
        "validation": rows(experiment.validation),
        "init": {k: float(v) for k, v in experiment.init.items()},
        "trainable": list(experiment.trainable),
        "optimizer": experiment.optimizer,
        "hyperparams": {k: float(v) for k, v in experiment.hyperparams.items()},
        "steps": experiment.steps,
        "batch_size": experiment.batch_size,
        "seed": experiment.seed,
        "zero_grad": None if experiment.zero_grad is None else list(experiment.zero_grad),
        "fd_epsilon": experiment.fd_epsilon,
        "lesson_block": experiment.lesson_block,
        "model": experiment.model,
        "model_settings": {k: list(v) if isinstance(v, tuple) else v
                           for k, v in experiment.model_settings.items()},
        "loss": experiment.loss,
        "l2": float(experiment.l2),
        "schedule": None if experiment.schedule is None else dict(experiment.schedule),
    }


def experiment_from_json(data, *, where: str = "experiment") -> Experiment:
    """The :class:`Experiment` an :func:`experiment_to_json` object describes.

    Only the JSON shape is checked here (every key present, no other key, each
    value of the right type); whether the backends can run it is
    ``comparisons.backends``' check, made when it runs.

    Raises:
      ValueError: one line naming ``where`` and the offending key.
    """
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {_kind(data)}")
    unknown = sorted(set(data) - set(_DESCRIPTION_KEYS))
    if unknown:
        raise ValueError(
            f"{where}.{unknown[0]}: unknown key; expected {', '.join(_DESCRIPTION_KEYS)}"
        )
    data = {**_OPTIONAL_KEYS, **data}
    for key in _DESCRIPTION_KEYS:
        if key not in data:
            raise ValueError(f"{where}.{key}: missing")
    checks = {
        "name": (_is_text, "a non-empty string"),
        "description": (lambda v: isinstance(v, str), "a string"),
        "kind": (lambda v: v in KINDS, f"one of {', '.join(KINDS)}"),
        "train": (_is_rows, "a list of [x_1, ..., x_d, target] number rows"),
        "validation": (lambda v: v is None or _is_rows(v),
                       "null or a list of [x_1, ..., x_d, target] rows"),
        "init": (lambda v: _is_mapping(v, is_number), "an object of name -> number"),
        "trainable": (lambda v: isinstance(v, list) and all(map(_is_text, v)),
                      "a list of parameter names"),
        "optimizer": (_is_text, "a non-empty string"),
        "hyperparams": (lambda v: _is_mapping(v, is_number), "an object of name -> number"),
        "steps": (is_int, "an integer"),
        "batch_size": (lambda v: v is None or is_int(v), "null or an integer"),
        "seed": (is_int, "an integer"),
        "zero_grad": (lambda v: v is None or (isinstance(v, list)
                                              and all(isinstance(f, bool) for f in v)),
                      "null or a list of booleans"),
        "fd_epsilon": (lambda v: v is None or is_number(v), "null or a number"),
        "lesson_block": (lambda v: v is None or isinstance(v, str), "null or a string"),
        "model": (_is_text, "a model kind's name"),
        "model_settings": (lambda v: isinstance(v, dict) and all(map(_is_text, v)),
                           "an object of the model kind's settings"),
        "loss": (_is_text, "a loss kind's name"),
        "l2": (is_number, "a number"),
        "schedule": (lambda v: v is None or (isinstance(v, dict) and _is_text(v.get("kind"))),
                     "null or an object with a kind"),
    }
    for key, (check, expected) in checks.items():
        if not check(data[key]):
            raise ValueError(f"{where}.{key}: must be {expected}, got {_kind(data[key])}")

    def rows(records):
        return None if records is None else tuple(tuple(float(v) for v in row)
                                                  for row in records)

    return Experiment(
        name=data["name"],
        description=data["description"],
        train=rows(data["train"]),
        init={k: float(v) for k, v in data["init"].items()},
        optimizer=data["optimizer"],
        hyperparams={k: float(v) for k, v in data["hyperparams"].items()},
        steps=data["steps"],
        validation=rows(data["validation"]),
        trainable=tuple(data["trainable"]),
        batch_size=data["batch_size"],
        seed=data["seed"],
        kind=data["kind"],
        zero_grad=None if data["zero_grad"] is None else tuple(data["zero_grad"]),
        fd_epsilon=None if data["fd_epsilon"] is None else float(data["fd_epsilon"]),
        lesson_block=data["lesson_block"],
        model=data["model"],
        model_settings={k: tuple(v) if isinstance(v, list) else v
                        for k, v in data["model_settings"].items()},
        loss=data["loss"],
        l2=float(data["l2"]),
        schedule=data["schedule"],
    )


def experiment_data(experiment: Experiment, *, source: str) -> dict:
    """The manifest's ``data`` block: the rows as float64 arrays, hashed (the data version).

    Example:
      >>> record = experiment_data(REGISTRY["train-validation"], source="registry")
      >>> record["train_examples"], record["validation_examples"], record["version"][:7]
      (3, 3, 'sha256:')
    """
    def columns(rows):
        array = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1 if rows else 2)
        x = array[:, 0] if array.shape[1] == 2 else array[:, :-1]  # (n,) for one feature
        return x, array[:, -1]

    x, y = columns(experiment.train)
    x_val = y_val = None
    if experiment.validation is not None:
        x_val, y_val = columns(experiment.validation)
    return data_record(source, x, y, x_val, y_val)


def split_policy(experiment: Experiment) -> str:
    """The split policy in words: which examples train and which only validate.

    Example:
      >>> split_policy(REGISTRY["train-validation"])
      'all 3 examples train; 3 validation examples given separately, never used for gradients'
    """
    if experiment.kind == "shared-path":
        return "no data: the loss is a * a"
    n = len(experiment.train)
    if experiment.validation is None:
        return f"all {n} example{_s(n)} train; no validation set"
    return (f"all {n} example{_s(n)} train; {len(experiment.validation)} validation examples "
            "given separately, never used for gradients")


def experiment_record(
    experiment: Experiment,
    trajectories: Mapping[str, TrajectoryRecord],
    *,
    origin: str,
    backends: Sequence[str],
    reference: str,
    unavailable: Mapping[str, str] | None = None,
    spec_file: str | None = None,
) -> dict:
    """One ``runs`` entry of a comparisons manifest (see the module docstring).

    Args:
      experiment: the experiment that ran.
      trajectories: backend name -> its trajectory (digested into ``results``).
      origin: ``"registry"`` or ``"spec"``.
      backends: the backends asked for.
      reference: the reference backend.
      unavailable: backends that could not run, name -> install hint.
      spec_file: the spec file's path as given, for ``spec`` experiments.
    """
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {', '.join(ORIGINS)}, got {origin!r}")
    settings = optimizer_settings(experiment)
    rate = settings.pop("learning_rate", None)
    return run_record(
        name=experiment.name,
        data=experiment_data(experiment, source=f"{origin} {spec_file or experiment.name}"),
        split=split_policy(experiment),
        init=experiment.init,
        optimizer=experiment.optimizer,
        hyperparameters=settings,
        learning_rates=[] if rate is None else [rate],
        steps=experiment.steps,
        batch_size=experiment.batch_size,
        seed=experiment.seed if experiment.batch_size is not None else None,
        options={
            "origin": origin,
            "spec_file": spec_file,
            "experiment": experiment_to_json(experiment),
            "backends": list(backends),
            "reference": reference,
            "unavailable": dict(unavailable or {}),
        },
        results={name: trajectory_digest(t) for name, t in trajectories.items()},
    )


def comparison_manifest(
    records: Sequence[Mapping], *, tool: str, dtype: str, devices: Sequence[str] | None = None
) -> dict:
    """A validated manifest of ``records`` (:func:`experiment_record` entries).

    Args:
      records: one per experiment, in run order.
      tool: one of :data:`TOOLS`.
      dtype: the precision of the runs.
      devices: recorded as is; default every device JAX sees.
    """
    if tool not in TOOLS:
        raise ValueError(f"tool must be one of {', '.join(TOOLS)}, got {tool!r}")
    return build_manifest(tool=tool, runs=records, dtype=dtype, devices=devices)


def origin_of(experiment: Experiment) -> str:
    """``"registry"`` when ``experiment`` is the registry's own entry, else ``"spec"``.

    Example:
      >>> origin_of(REGISTRY["five-steps"])
      'registry'
    """
    return "registry" if REGISTRY.get(experiment.name) is experiment else "spec"


# --- JSON shape checks ------------------------------------------------------------------


def _is_text(value) -> bool:
    return isinstance(value, str) and bool(value)


def _is_mapping(value, check) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and check(v)
                                           for k, v in value.items())


def _is_rows(value) -> bool:
    return isinstance(value, list) and all(
        isinstance(row, list) and len(row) >= 2 and all(map(is_number, row)) for row in value
    )


def _kind(value) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
             list: "a list", dict: "an object", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _s(count: int) -> str:
    return "" if count == 1 else "s"


