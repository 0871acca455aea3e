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
from functional_training import TrajectoryRecord, is_number
from functional_training.runs import (
    JsonField,
    build_manifest,
    data_record,
    run_record,
    run_spec_from_json,
    run_spec_to_json,
    trajectory_digest,
)

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

EXPERIMENT_FIELDS: dict[str, JsonField] = {
    "kind": JsonField(lambda v: v in KINDS, f"one of {', '.join(KINDS)}"),
    "zero_grad": JsonField(lambda v: v is None or (isinstance(v, list)
                                                   and all(isinstance(f, bool) for f in v)),
                           "null or a list of booleans",
                           lambda v: None if v is None else list(v),
                           lambda v: None if v is None else tuple(v)),
    "fd_epsilon": JsonField(lambda v: v is None or is_number(v), "null or a number",
                            read=lambda v: None if v is None else float(v)),
    "lesson_block": JsonField(lambda v: v is None or isinstance(v, str), "null or a string"),
}
"""The comparison-only fields of an :class:`Experiment`, beyond the run description's
(:data:`functional_training.runs.RUN_SPEC_FIELDS`), as the one JSON pair writes them."""

_DESCRIPTION_KEYS = (
    "name", "description", "kind", "train", "validation", "init", "trainable", "optimizer",
    "hyperparams", "steps", "batch_size", "seed", "zero_grad", "fd_epsilon", "lesson_block",
    "model", "model_settings", "loss", "l2", "schedule", "init_kind", "init_seed",
)
"""The keys in the order messages list them."""


def experiment_to_json(experiment: Experiment) -> dict:
    """Every field of ``experiment`` as JSON values (tuples become lists); exact for floats.

    The run description's one writer (:func:`functional_training.runs.run_spec_to_json`)
    with the comparison-only fields; :func:`experiment_from_json` reads it back equal.
    """
    return run_spec_to_json(experiment, extra=EXPERIMENT_FIELDS)


def experiment_from_json(data, *, where: str = "experiment") -> Experiment:
    """The :class:`Experiment` an :func:`experiment_to_json` object describes.

    Only the JSON shape is checked here (every key present, no other key, each
    value of the right type; keys older manifests lack take their defaults);
    whether the backends can run it is ``comparisons.backends``' check, made when
    it runs.

    Raises:
      ValueError: one line naming ``where`` and the offending key.
    """
    return run_spec_from_json(data, where=where, kind=Experiment, extra=EXPERIMENT_FIELDS,
                              order=_DESCRIPTION_KEYS)


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


def _s(count: int) -> str:
    return "" if count == 1 else "s"


