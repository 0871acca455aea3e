"""``python -m functional_training rerun PATH``: run a recorded run again and compare, bit for bit.

Examples:
  python -m functional_training train --data shipments --optimizer sgd --learning-rate 0.08 \\
      --steps 20 --json run.json --manifest run.manifest.json
  python -m functional_training rerun run.manifest.json   # compares trajectory digests
  python -m functional_training rerun run.json            # also names the first differing value

``PATH`` is a manifest (``--manifest``) or a report holding one (``--json``:
``{"manifest": ..., "trajectory": ...}``). The run is rebuilt from the
manifest alone (data by name, checked against the recorded data version;
optimizer and every hyperparameter; learning rate(s); steps; batch size and
seed; dtype; chunking), run again without checkpoints, and its trajectory
digest compared with the recorded one. Differences in package versions,
devices or sources are reported as notes: they explain a mismatch, they are
not one.

Exit codes: 0 the new trajectory equals the recorded one exactly, 1 it
differs (or the data version does), 2 the file is not a valid manifest
(one line, no traceback).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import NamedTuple

from functional_training._manifest import (
    _canonical_json,
    build_manifest,
    data_record,
    environment_notes,
    json_floats,
    read_json,
    run_record,
    sha256_digest,
    trajectory_digest,
    validate_manifest,
)

TRAIN_TOOL = "functional_training train"
SWEEP_TOOL = "functional_training sweep"


class RerunReport(NamedTuple):
    """Outcome of :func:`rerun`.

    Attributes:
      equal: whether every result digest matched (and the data version did).
      lines: what to print, one finding per line.
    """

    equal: bool
    lines: list[str]


# --------------------------------------------------------------------------- sweeps


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
                         for name, values in zip(("w", "b"), result.final_params, strict=True)},
        "first_nonfinite_step": [int(k) for k in result.first_nonfinite_step],
        "steps": int(result.steps),
        "record_every": int(result.record_every),
    }


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
) -> dict:
    """The manifest of a ``sweep`` run, in the form ``rerun`` reads back.

    Args:
      data: the ``--data`` name (see ``named_data``: ``one-shipment``,
        ``shipments``, ``synthetic:N``), so a rerun can rebuild the data.
      result: the ``SweepResult``.
      init: initial ``(w, b)`` of every rate.
      optimizer, hyperparameters: as passed to ``sweep_learning_rates``.
      batch_size, seed: the ``minibatch_indices`` order, or ``None`` for full batch.
      method: the ``method`` argument passed (``"auto"`` reruns as ``"auto"``).
      dtype: ``"float64"`` or ``"float32"``.
      data_seed: the ``synthetic_shipments`` seed for ``synthetic:N`` data.

    Returns:
      A validated manifest with ``tool = "functional_training sweep"`` and
      ``results = {"sweep": sha256 of sweep_result_json(result)}``.
    """
    from functional_training._datasets import named_data
    from functional_training._optimizers import optimizer_hyperparameters

    named = named_data(data, seed=data_seed)
    hyper = {**optimizer_hyperparameters(optimizer), **dict(hyperparameters or {})}
    run = run_record(
        name="sweep",
        data=data_record(named.name, named.x, named.y, named.x_val, named.y_val),
        split=named.split,
        init={"w": init[0], "b": init[1]},
        optimizer=optimizer,
        hyperparameters=hyper,
        learning_rates=[float(rate) for rate in result.learning_rates],
        steps=int(result.steps),
        batch_size=batch_size,
        seed=seed if batch_size is not None else None,
        options={"data": data, "data_seed": data_seed, "record_every": int(result.record_every),
                 "method": method},
        results={"sweep": sha256_digest(_canonical_json(sweep_result_json(result)))},
    )
    return build_manifest(tool=SWEEP_TOOL, runs=[run], dtype=dtype)


# --------------------------------------------------------------------------- rerun


def rerun(manifest: Mapping, *, recorded_trajectory: Mapping | None = None) -> RerunReport:
    """Run the manifest's run again and compare what it produces with what was recorded.

    Args:
      manifest: a validated manifest written by ``train`` or ``sweep``.
      recorded_trajectory: the report's ``"trajectory"`` object, if the
        manifest came from a ``--json`` report: a mismatch then names the
        first differing value.

    Returns:
      A :class:`RerunReport`.

    Raises:
      ValueError: the manifest cannot be rerun here (another tool's, or
        settings this version refuses), one line.
    """
    tool = manifest["tool"]
    if tool == TRAIN_TOOL:
        report = _rerun_train(manifest, recorded_trajectory)
    elif tool == SWEEP_TOOL:
        report = _rerun_sweep(manifest)
    elif tool.startswith("comparisons"):
        raise ValueError(
            f"manifest was written by {tool!r}: rerun it with python -m comparisons rerun"
        )
    else:
        raise ValueError(f"manifest tool {tool!r} is not one functional_training can rerun")
    return RerunReport(report.equal, environment_notes(manifest) + report.lines)


def _single_run(manifest: Mapping, result_key: str) -> dict:
    runs = manifest["runs"]
    if len(runs) != 1:
        raise ValueError(
            f"manifest: a {manifest['tool']} manifest holds one run, found {len(runs)}"
        )
    run = runs[0]
    if result_key not in run["results"]:
        raise ValueError(f"manifest: runs[0].results has no {result_key!r} digest to compare with")
    return run


def _data_check(run: dict, named) -> tuple[bool, str]:
    now = data_record(named.name, named.x, named.y, named.x_val, named.y_val)["version"]
    recorded = run["data"]["version"]
    if now == recorded:
        return True, f"data: {named.name} {now} (same version)"
    return False, f"data: DIFFERENT version for {named.name}: recorded {recorded}, now {now}"


def _rerun_train(manifest: Mapping, recorded: Mapping | None) -> RerunReport:
    from functional_training._datasets import named_data
    from functional_training._training import run_training, settings_from_run

    run = _single_run(manifest, "trajectory")
    settings = settings_from_run(run, dtype=manifest["dtype"])
    named = named_data(settings.data)
    same_data, line = _data_check(run, named)
    if not same_data:
        return RerunReport(False, [line, "trajectory: not rerun (the data changed)"])
    expected = run["results"]["trajectory"]
    if recorded is not None and trajectory_digest(recorded) != expected:
        raise ValueError(
            "the report's trajectory does not match its manifest's digest; the report was edited"
        )
    trajectory = run_training(settings, named).trajectory
    digest = trajectory_digest(trajectory)
    lines = [line]
    if digest == expected:
        lines.append(f"trajectory: EQUAL to the recorded one ({trajectory.steps} steps, {digest})")
        return RerunReport(True, lines)
    lines.append(f"trajectory: DIFFERENT: recorded {expected}, now {digest}")
    if recorded is not None:
        lines.append(first_difference(recorded, trajectory.to_json()))
    return RerunReport(False, lines)


def _rerun_sweep(manifest: Mapping) -> RerunReport:
    import jax.numpy as jnp

    from functional_training._datasets import named_data
    from functional_training._params import LinearParams
    from functional_training._precision import precision
    from functional_training._sweep import sweep_learning_rates
    from functional_training._synthetic import minibatch_indices

    run = _single_run(manifest, "sweep")
    options = run["options"]
    for key in ("data", "record_every", "method"):
        if key not in options:
            raise ValueError(
                f"manifest: runs[0].options has no {key!r} (a sweep manifest needs it)"
            )
    data_seed = options.get("data_seed", 0)
    if isinstance(data_seed, bool) or not isinstance(data_seed, int) or data_seed < 0:
        raise ValueError("manifest: runs[0].options.data_seed must be an integer >= 0")
    named = named_data(options["data"], seed=data_seed)
    same_data, line = _data_check(run, named)
    if not same_data:
        return RerunReport(False, [line, "sweep: not rerun (the data changed)"])
    init = run["init"] or {}
    if set(init) != {"w", "b"}:
        raise ValueError("manifest: runs[0].init must give w and b")
    order = None
    if run["batch_size"] is not None:
        order = minibatch_indices(named.y.size, batch_size=run["batch_size"], steps=run["steps"],
                                  seed=run["seed"] or 0)
    dtype = manifest["dtype"]
    if dtype not in ("float64", "float32"):
        raise ValueError(f"manifest: dtype {dtype!r} cannot be rerun here (float64 or float32)")
    with precision(dtype):
        params = LinearParams(jnp.asarray(init["w"], dtype), jnp.asarray(init["b"], dtype))
        hyper = dict(run["hyperparameters"])
        result = sweep_learning_rates(
            params, named.x, named.y, run["learning_rates"], steps=run["steps"],
            optimizer=run["optimizer"], hyperparams=hyper, batch_indices=order,
            record_every=options["record_every"], method=options["method"],
        )
    digest = sha256_digest(_canonical_json(sweep_result_json(result)))
    expected = run["results"]["sweep"]
    if digest == expected:
        return RerunReport(True, [line, f"sweep: EQUAL to the recorded one ({digest})"])
    return RerunReport(False, [line, f"sweep: DIFFERENT: recorded {expected}, now {digest}"])


def first_difference(recorded: Mapping, now: Mapping) -> str:
    """The first value where two trajectory JSON objects differ, as one line.

    Series are compared in the contract's order (params, grads, losses,
    batches), step by step; ``"NaN"`` equals ``"NaN"``.

    Example:
      >>> first_difference({"batch_loss": [8.0, 2.0]}, {"batch_loss": [8.0, 2.5]})
      'first difference: batch_loss[1]: recorded 2.0, now 2.5'
    """
    for label, old, new in _series_pairs(recorded, now):
        if old == new:
            continue
        if not isinstance(old, list) or not isinstance(new, list):
            return f"first difference: {label}: recorded {old!r}, now {new!r}"
        for k, (a, b) in enumerate(zip(old, new, strict=False)):
            if a != b:
                return f"first difference: {label}[{k}]: recorded {a!r}, now {b!r}"
        return f"first difference: {label}: recorded {len(old)} entries, now {len(new)}"
    return "first difference: none in the compared series"


def _series_pairs(recorded: Mapping, now: Mapping):
    for key in ("params", "grads"):
        old, new = recorded.get(key) or {}, now.get(key) or {}
        for name in [*old, *(n for n in new if n not in old)]:
            yield f"{key}.{name}", old.get(name), new.get(name)
    for key in ("batch_loss", "train_loss", "val_loss", "predictions", "batches", "extras"):
        yield key, recorded.get(key), now.get(key)


# --------------------------------------------------------------------------- command line


def add_rerun_command(subparsers) -> argparse.ArgumentParser:
    """Register ``rerun`` on ``subparsers``; its handler returns 0 equal, 1 different."""
    parser = subparsers.add_parser(
        "rerun",
        help="run a manifest (or --json report) again; exit 0 if the trajectory is identical",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", metavar="PATH", help="a --manifest file or a --json report")
    parser.set_defaults(handler=rerun_command)
    return parser


def rerun_command(args: argparse.Namespace) -> int:
    """Handler of ``rerun``: 0 equal, 1 different; ``ValueError`` (exit 2) for a bad file."""
    data = read_json(args.path, what="manifest")
    recorded = None
    if isinstance(data, dict) and "manifest" in data and "format" not in data:
        recorded = data.get("trajectory")
        if recorded is not None and not isinstance(recorded, dict):
            raise ValueError(f"{args.path}: \"trajectory\" must be a JSON object")
        data = data["manifest"]
    try:
        manifest = validate_manifest(data)
    except ValueError as err:
        raise ValueError(f"{args.path}: {err}") from None
    report = rerun(manifest, recorded_trajectory=recorded)
    print(f"rerun of {manifest['tool']} from {args.path}")
    print("\n".join(report.lines))
    return 0 if report.equal else 1
