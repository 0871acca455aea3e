"""The record of a sweep: its result as strict JSON, the digest of that, and its manifest.

One record for every sweep. :func:`sweep_result_json` is what the digest hashes;
:func:`sweep_manifest` is what ``python -m functional_training sweep --manifest``
writes and ``rerun`` reads back: it runs the sweep again and compares
:func:`sweep_digest`. A manifest's data is named (``data=``: ``one-shipment``,
``shipments``, ``synthetic:N`` or a data file, the line's command line) or a spec
file's (``spec=``: any model kind, its text recorded whole).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from functional_training._data_files import file_digest
from functional_training._datasets import named_data
from functional_training._optimizers import optimizer_hyperparameters
from functional_training._record import named_series
from functional_training.runs._digests import sha256_digest
from functional_training.runs._io import canonical_json, json_floats
from functional_training.runs._manifest import (
    build_manifest,
    data_file_option,
    data_record,
    line_init,
    named_data_record,
    run_record,
)

SWEEP_TOOL = "functional_training sweep"
"""The ``tool`` of a sweep manifest."""


def sweep_result_json(result) -> dict:
    """A :class:`~functional_training.SweepResult` as strict JSON: what its digest hashes.

    Non-finite floats are strings. Arrays keep the run grid: ``losses[l][z][r]``,
    ``final_loss[l][z]``, ``first_nonfinite_step[l][z]``, ``final_params[name][l][z]``
    with a seed axis; ``losses[l][r]`` and so on without one. A sweep without a seed
    axis (:func:`~functional_training.sweep_learning_rates`) records neither
    ``seeds`` nor ``final_loss``: that is its form since the first manifests, so their
    digests still hold. A sweep with hyperparameter axes records them
    (``hyperparameter_axes``: ``{setting: values}`` in the grid's order, each axis
    between the rates and the seeds: ``losses[l][h][z][r]``); one without records no
    such key, so its digest is as before.

    Example:
      >>> import functional_training as ft
      >>> with ft.float64():
      ...     r = ft.sweep_learning_rates(ft.LinearParams(1.0, 0.0), [2.0], [6.0], [0.1], steps=2)
      >>> sorted(sweep_result_json(r))
      ['final_params', 'first_nonfinite_step', 'learning_rates', 'losses', 'record_every', 'steps']
      >>> net = ft.objective("mlp", sizes=[1, 2, 1], activation="tanh")
      >>> with ft.float64():
      ...     r = ft.sweep(net, ([[1.0], [2.0]], [0.5, 1.0]), learning_rates=[0.1], steps=2)
      >>> out = sweep_result_json(r)
      >>> len(out["losses"]), len(out["losses"][0]), len(out["losses"][0][0]), out["seeds"]
      (1, 1, 3, [0])
    """
    record = {
        "learning_rates": json_floats(result.learning_rates),
        "losses": json_floats(result.losses),
        "final_params": {name: json_floats(values) for name, values in named_series(
            result.final_params, leading=len(result.grid)).items()},
        "first_nonfinite_step": result.first_nonfinite_step.astype(int).tolist(),
        "steps": int(result.steps),
        "record_every": int(result.record_every),
    }
    if result.seeds is not None:
        record |= {"seeds": [int(seed) for seed in result.seeds],
                   "final_loss": json_floats(result.final_loss)}
    if result.hyperparameter_axes:
        record["hyperparameter_axes"] = {name: json_floats(values) for name, values in
                                         result.hyperparameter_axes.items()}
    return record


def sweep_digest(result) -> str:
    """``"sha256:<hex>"`` of :func:`sweep_result_json`: equal digests mean bit-identical sweeps."""
    return sha256_digest(canonical_json(sweep_result_json(result)))


def sweep_manifest(
    *,
    result,
    optimizer: str = "sgd",
    hyperparameters: Mapping[str, float] | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    dtype: str = "float64",
    data: str | None = None,
    init: tuple[float, float] | None = None,
    method: str = "auto",
    data_seed: int = 0,
    features: list[str] | tuple[str, ...] | None = None,
    target: str | None = None,
    spec=None,
    spec_path=None,
    spec_text: str | None = None,
) -> dict:
    """The manifest of a sweep, in the form ``rerun`` reads back.

    Args:
      result: the :class:`~functional_training.SweepResult`.
      optimizer, hyperparameters: what ran (the optimizer's defaults are filled in); a
        hyperparameter axis is its list of values (``rerun`` sweeps it again).
      batch_size, seed: the ``minibatch_indices`` order, or ``None`` for full batch.
      dtype: ``"float64"`` or ``"float32"``.
      data: named data (see ``named_data``: ``one-shipment``, ``shipments``,
        ``synthetic:N``, a data file), so a rerun can rebuild it; with ``init`` (the
        line's initial ``(w, b)``), ``method`` (as passed: ``"auto"`` reruns as
        ``"auto"``), ``data_seed`` (of ``synthetic:N``) and a data file's
        ``features`` and ``target`` columns.
      spec, spec_path, spec_text: instead of ``data``, the
        :class:`~functional_training.runs.RunSpec` swept, its file (the absolute path
        is recorded so a rerun finds the data files it names, relative to it) and the
        file's text (recorded whole, with its digest).

    Returns:
      A validated manifest with ``tool = "functional_training sweep"`` and
      ``results = {"sweep": sweep_digest(result)}``.
    """
    if (data is None) == (spec is None):
        raise ValueError("sweep_manifest: give data= (named data) or spec= (a spec file)")
    settings = {**optimizer_hyperparameters(optimizer), **dict(hyperparameters or {})}
    source = (_named_source(data, init, method, data_seed, features, target, result)
              if spec is None else _spec_source(spec, spec_path, spec_text, method, result))
    run = run_record(
        **source, optimizer=optimizer, hyperparameters=settings,
        learning_rates=[float(rate) for rate in result.learning_rates],
        steps=int(result.steps), batch_size=batch_size,
        seed=seed if batch_size is not None else None,
        results={"sweep": sweep_digest(result)},
    )
    return build_manifest(tool=SWEEP_TOOL, runs=[run], dtype=dtype)


def _named_source(data: str, init, method: str, data_seed: int, features, target,
                  result) -> dict:
    """The run's name, data, split, initial values and options for named data."""
    if init is None:
        raise ValueError("sweep_manifest: data= needs init= (the line's initial (w, b))")
    named = named_data(data, seed=data_seed, features=features, target=target)
    return {
        "name": "sweep",
        "data": named_data_record(named),
        "split": named.split,
        "init": line_init(init, 1 if named.x.ndim == 1 else int(named.x.shape[1])),
        "options": {"data": data, **data_file_option(data), "data_seed": data_seed,
                    "record_every": int(result.record_every), "method": method,
                    "features": None if features is None else list(features),
                    "target": target},
    }


def _spec_source(spec, spec_path, spec_text: str, method: str, result) -> dict:
    """The run's name, data, split, initial values and options for a spec file."""
    seeded = spec.init_kind == "seeded"
    validation = "no validation set" if spec.y_val is None else (
        f"{spec.y_val.shape[0]} validation examples, not used by the sweep")
    return {
        "name": spec.name,
        "data": spec_data_record(spec, spec_path),
        "split": f"all examples train; {validation}",
        "init": None if seeded else spec.init,
        "options": {"spec": spec_text, "spec_digest": sha256_digest(spec_text.encode()),
                    "spec_path": str(Path(spec_path).resolve()),
                    "seeds": [int(z) for z in result.seeds] if seeded else None,
                    "record_every": int(result.record_every), "method": method},
    }


def spec_data_record(spec, spec_path) -> dict:
    """The ``data`` block of a spec's data: source the spec file, version, file hashes.

    Example:
      >>> from functional_training.runs._spec import parse_run_spec
      >>> spec = parse_run_spec('name = "t"\\n[data]\\ntrain = [[1.0, 2.0]]\\n[model]\\n'
      ...                       'w = 0.0\\nb = 0.0\\n[optimizer]\\nname = "sgd"\\n'
      ...                       'learning_rate = 0.1\\n[run]\\nsteps = 1')
      >>> spec_data_record(spec, "t.toml")["train_examples"]
      1
    """
    files = {role: file_digest(path) for role, path in spec.files.items()}
    return data_record(f"spec {spec_path}", spec.x, spec.y, spec.x_val, spec.y_val,
                       files=files or None)
