"""The record of a learning-rate sweep: its result as strict JSON and its manifest.

``python -m functional_training sweep --manifest`` writes :func:`sweep_manifest`
(the line) or :func:`model_sweep_manifest` (``--spec``: any model kind, rates x
seeds); ``rerun`` runs the sweep again and compares the digest of
:func:`sweep_result_json` or :func:`model_sweep_result_json`.
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
    """A ``SweepResult`` as strict JSON (non-finite floats as strings): what its digest hashes.

    Example:
      >>> import functional_training as ft
      >>> with ft.float64():
      ...     r = ft.sweep_learning_rates(ft.LinearParams(1.0, 0.0), [2.0], [6.0], [0.1], steps=2)
      >>> sorted(sweep_result_json(r))
      ['final_params', 'first_nonfinite_step', 'learning_rates', 'losses', 'record_every', 'steps']
    """
    return {
        "learning_rates": json_floats(result.learning_rates),
        "losses": json_floats(result.losses),
        "final_params": {name: json_floats(values)
                         for name, values in named_series(result.final_params).items()},
        "first_nonfinite_step": [int(k) for k in result.first_nonfinite_step],
        "steps": int(result.steps),
        "record_every": int(result.record_every),
    }


def sweep_digest(result) -> str:
    """``"sha256:<hex>"`` of :func:`sweep_result_json`: equal digests mean bit-identical sweeps."""
    return sha256_digest(canonical_json(sweep_result_json(result)))


def sweep_manifest(
    *,
    data: str,
    result,
    init: tuple[float, float],
    optimizer: str = "sgd",
    hyperparameters: Mapping[str, float] | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    method: str = "auto",
    dtype: str = "float64",
    data_seed: int = 0,
    features: list[str] | tuple[str, ...] | None = None,
    target: str | None = None,
) -> dict:
    """The manifest of a ``sweep`` run, in the form ``rerun`` reads back.

    Args:
      data: the data set's name (see ``named_data``: ``one-shipment``,
        ``shipments``, ``synthetic:N``), so a rerun can rebuild the data.
      result: the ``SweepResult``.
      init: initial ``(w, b)`` of every rate.
      optimizer, hyperparameters: as passed to ``sweep_learning_rates``.
      batch_size, seed: the ``minibatch_indices`` order, or ``None`` for full batch.
      method: the ``method`` argument passed (``"auto"`` reruns as ``"auto"``).
      dtype: ``"float64"`` or ``"float32"``.
      data_seed: the ``synthetic_shipments`` seed for ``synthetic:N`` data.
      features, target: a data file's columns (``None`` for named data).

    Returns:
      A validated manifest with ``tool = "functional_training sweep"`` and
      ``results = {"sweep": sweep_digest(result)}``.
    """
    named = named_data(data, seed=data_seed, features=features, target=target)
    hyper = {**optimizer_hyperparameters(optimizer), **dict(hyperparameters or {})}
    run = run_record(
        name="sweep",
        data=named_data_record(named),
        split=named.split,
        init=line_init(init, 1 if named.x.ndim == 1 else int(named.x.shape[1])),
        optimizer=optimizer,
        hyperparameters=hyper,
        learning_rates=[float(rate) for rate in result.learning_rates],
        steps=int(result.steps),
        batch_size=batch_size,
        seed=seed if batch_size is not None else None,
        options={"data": data, **data_file_option(data), "data_seed": data_seed,
                 "record_every": int(result.record_every),
                 "method": method, "features": None if features is None else list(features),
                 "target": target},
        results={"sweep": sweep_digest(result)},
    )
    return build_manifest(tool=SWEEP_TOOL, runs=[run], dtype=dtype)


def model_sweep_result_json(result) -> dict:
    """A ``ModelSweep`` as strict JSON (non-finite floats as strings): what its digest hashes.

    Arrays keep the ``(L, Z, ...)`` grid: ``losses[l][z][r]``, ``final_loss[l][z]``,
    ``first_nonfinite_step[l][z]``, ``final_params[name][l][z]``.

    Example:
      >>> import functional_training as ft
      >>> net = ft.objective("mlp", sizes=[1, 2, 1], activation="tanh")
      >>> with ft.float64():
      ...     r = ft.sweep(net, ([[1.0], [2.0]], [0.5, 1.0]), learning_rates=[0.1], steps=2)
      >>> out = model_sweep_result_json(r)
      >>> len(out["losses"]), len(out["losses"][0]), len(out["losses"][0][0])
      (1, 1, 3)
    """
    return {
        "learning_rates": json_floats(result.learning_rates),
        "seeds": [int(seed) for seed in result.seeds],
        "losses": json_floats(result.losses),
        "final_loss": json_floats(result.final_loss),
        "final_params": {name: json_floats(values)
                         for name, values in named_series(result.final_params,
                                                          leading=2).items()},
        "first_nonfinite_step": result.first_nonfinite_step.astype(int).tolist(),
        "steps": int(result.steps),
        "record_every": int(result.record_every),
    }


def model_sweep_digest(result) -> str:
    """``"sha256:<hex>"`` of :func:`model_sweep_result_json` (bit-identical sweeps, equal)."""
    return sha256_digest(canonical_json(model_sweep_result_json(result)))


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


def model_sweep_manifest(
    *,
    spec,
    spec_path,
    spec_text: str,
    result,
    optimizer: str,
    hyperparameters: Mapping[str, float],
    batch_size: int | None,
    batch_seed: int,
    dtype: str,
) -> dict:
    """The manifest of a ``sweep --spec`` run, in the form ``rerun`` reads back.

    Args:
      spec: the :class:`~functional_training.runs.RunSpec` that was swept.
      spec_path: its file; the absolute path is recorded so a rerun finds the data
        files it names (relative to it).
      spec_text: the file's text, recorded whole (``options.spec``) with its digest.
      result: the ``ModelSweep``.
      optimizer, hyperparameters: what ran (every setting, defaults included).
      batch_size, batch_seed: the mini-batch order, or ``None`` for full batch.
      dtype: ``"float64"`` or ``"float32"``.

    Returns:
      A validated manifest with ``tool = "functional_training sweep"``, the spec in
      ``options`` and ``results = {"sweep": model_sweep_digest(result)}``.
    """
    seeded = spec.init_kind == "seeded"
    validation = "no validation set" if spec.y_val is None else (
        f"{spec.y_val.shape[0]} validation examples, not used by the sweep")
    run = run_record(
        name=spec.name,
        data=spec_data_record(spec, spec_path),
        split=f"all examples train; {validation}",
        init=None if seeded else spec.init,
        optimizer=optimizer,
        hyperparameters=dict(hyperparameters),
        learning_rates=[float(rate) for rate in result.learning_rates],
        steps=int(result.steps),
        batch_size=batch_size,
        seed=batch_seed if batch_size is not None else None,
        options={"spec": spec_text, "spec_digest": sha256_digest(spec_text.encode()),
                 "spec_path": str(Path(spec_path).resolve()),
                 "seeds": [int(z) for z in result.seeds] if seeded else None,
                 "record_every": int(result.record_every)},
        results={"sweep": model_sweep_digest(result)},
    )
    return build_manifest(tool=SWEEP_TOOL, runs=[run], dtype=dtype)
