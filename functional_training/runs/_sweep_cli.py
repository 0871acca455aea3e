"""``python -m functional_training sweep``: a learning-rate sweep from the command line.

Examples:
  python -m functional_training sweep --learning-rates 0.01:0.5:50 --steps 100
  python -m functional_training sweep --learning-rates 1e-4:1:10000 --log --steps 1000 \\
      --data shipments --dtype float64 --json sweep.json
  python -m functional_training sweep --learning-rates 0.001:0.3:64 --steps 200 \\
      --data synthetic:1000000 --batch-size 1024 --record-every 20 --progress
  python -m functional_training sweep --spec examples/two-features-seeded.toml \\
      --learning-rates 1e-3:1:40 --log --seeds 8 --steps 300 --plot sweep.png
  python -m functional_training sweep --spec net.toml --learning-rates 0.01:2:24 --log \\
      --seeds 4 --optimizer momentum --hyperparameter momentum=0.8 --json sweep.json
  python -m functional_training sweep --learning-rates 0.01:0.6:12 --steps 50 \\
      --data shipments --optimizer momentum --hyperparameter momentum=0.5,0.9,0.99

One sweep (functional_training.sweep) runs both forms; they differ only in where
the model, data and initial point come from (a SweepPlan). Without --spec the model
is the lesson's line on --data, started at the data's initial (w, b), with no seed
axis (losses shape (rates, steps // K + 1)); --method picks the path (auto: the
exact moments path for full-batch SGD where it is exact).

With --spec FILE the model (any kind: linear, mlp), loss, L2, data, optimizer and
its settings, steps, batch size and batch-order seed are the spec file's; --steps,
--optimizer, --hyperparameter, --batch-size and --seed override them (the spec's
optimizer settings are kept only when --optimizer names the spec's optimizer);
--data, --features, --target and --method are refused. The spec's learning rate
is replaced by the swept rates. --seeds K trains K initial points per rate: the
seeded scheme with seeds s, s+1, ..., s+K-1, where s is the spec's [model] seed
(init = "seeded"); a spec whose initial values are fixed (w/b, [[model.layers]],
init = "zeros") is one initial point, and --seeds above 1 is refused. A spec
with a [schedule] or a partial [model].trainable is refused (a sweep runs every
rate constant and trains every parameter); a validation set is not used. Every
run (rate, seed) is one vmapped lane of one compiled program; losses are
recorded every --record-every K steps, shape (rates, seeds, steps // K + 1).
Prints the device(s), compile and run time, the best rate (lowest median final
loss over seeds), the observed divergence point (the smallest rate at which some
run's loss went non-finite or ended above its start) and, for the lesson's line
(half squared error, no L2, with or without --spec), the analytic limit
``2 / lambda_max``; a spec's line takes the moments path like the flags' line.

--hyperparameter NAME=V1,V2,... (several values) is a hyperparameter axis: one
run per value, every value in the same compiled program (its value lives in the
run's optimizer state, like its rate); repeat it for several settings (any the
optimizer takes: momentum, b1, b2, eps, weight_decay). The axes sit between the
rates and the seeds in the order given: losses (rates, momentum, seeds, records)
in the JSON, which records each axis's values under hyperparameter_axes (and in
the manifest's hyperparameters, so `rerun` runs the same grid). The best
rate is then the best (rate, settings) pair; the divergence point the smallest
rate at which some run of any setting diverged, and per setting under
divergence_by_setting. NAME=V (one value) is one setting of every run.
--plot draws final loss against rate, one line per seed and the median;
--manifest records the spec's text (`rerun` reads data files relative to the
spec's recorded path).

Bad input exits with status 2 and one line on stderr, before anything runs;
--json, --manifest and --plot are written atomically, and the manifest (data
hashes, environment) is built only when --json or --manifest asks for it.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from functional_training._data_files import is_data_file
from functional_training._datasets import named_data
from functional_training._models import model_kind
from functional_training._objective import Objective
from functional_training._optimizers import check_hyperparameters
from functional_training._params import LinearParams
from functional_training._precision import precision
from functional_training._stability import observed_divergence, stability_limit
from functional_training._sweep import METHODS as SWEEP_METHODS
from functional_training._sweep import check_sweep_hyperparameters, sweep
from functional_training._train import _lesson_objective
from functional_training.runs._arguments import (
    add_batch_size_option,
    add_column_arguments,
    add_data_option,
    add_dtype_option,
    add_json_option,
    add_optimizer_option,
    add_seed_option,
    add_steps_option,
    name_values,
    positive_int,
)
from functional_training.runs._cli import one_line
from functional_training.runs._digests import sha256_digest
from functional_training.runs._io import (
    check_not_inputs,
    check_output_paths,
    json_floats,
    write_json_atomic,
)
from functional_training.runs._manifest import write_manifest
from functional_training.runs._spec import SpecError, parse_run_spec, read_spec_text
from functional_training.runs._sweep_plot import check_plot_path, write_sweep_plot
from functional_training.runs._sweep_record import sweep_manifest, sweep_result_json

MAX_RECORDS = 100
"""Default ``--record-every`` keeps at most ``MAX_RECORDS + 1`` recorded losses per rate."""


class RateRange(NamedTuple):
    """A parsed ``START:STOP:COUNT``."""

    start: float
    stop: float
    count: int

    def values(self, *, log: bool) -> np.ndarray:
        """``count`` rates from ``start`` to ``stop`` inclusive, evenly or geometrically spaced.

        Example:
          >>> RateRange(0.001, 0.1, 3).values(log=True).tolist()
          [0.001, 0.01, 0.1]
        """
        space = np.geomspace if log else np.linspace
        return space(self.start, self.stop, self.count)


def parse_rate_range(text: str) -> RateRange:
    """Parse ``START:STOP:COUNT`` with ``0 < START <= STOP`` and ``COUNT >= 1``.

    ``START == STOP`` only with ``COUNT == 1``. Raises ``argparse.ArgumentTypeError``
    (one line) otherwise.

    Example:
      >>> parse_rate_range("0.01:0.5:50")
      RateRange(start=0.01, stop=0.5, count=50)
    """
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected START:STOP:COUNT, got {text!r}")
    try:
        start, stop = float(parts[0]), float(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"START and STOP must be numbers, got {text!r}") from None
    try:
        count = int(parts[2])
    except ValueError:
        raise argparse.ArgumentTypeError(f"COUNT must be an integer, got {parts[2]!r}") from None
    if not (math.isfinite(start) and math.isfinite(stop)) or start <= 0:
        raise argparse.ArgumentTypeError(f"rates must be finite and > 0, got {text!r}")
    if count < 1:
        raise argparse.ArgumentTypeError(f"COUNT must be >= 1, got {count} (an empty sweep)")
    if start > stop:
        raise argparse.ArgumentTypeError(f"START must not exceed STOP, got {start} > {stop}")
    if start == stop and count > 1:
        raise argparse.ArgumentTypeError(f"START == STOP repeats one rate {count} times")
    return RateRange(start, stop, count)


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand to ``python -m functional_training``."""
    parser = commands.add_parser(
        "sweep",
        help="train once per learning rate (and initial seed), all runs in one compiled program",
        description="Train once per learning rate (and initial seed with --spec), all runs in "
                    "one compiled program.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--learning-rates", required=True, type=parse_rate_range,
                        metavar="START:STOP:COUNT", help="COUNT rates from START to STOP")
    parser.add_argument("--log", action="store_true", help="space the rates geometrically")
    parser.add_argument("--spec", metavar="FILE",
                        help="a TOML spec file (the format `python -m comparisons run --spec` "
                             "reads): model of any kind, loss, data, optimizer, steps; replaces "
                             "--data")
    parser.add_argument("--seeds", type=positive_int, metavar="K",
                        help="with --spec: K initial points per rate, seeds s..s+K-1 of the "
                             "spec's init = \"seeded\" (seed s); default 1")
    add_steps_option(parser, note="required without --spec; default the spec's")
    add_data_option(parser, note="default one-shipment")
    add_column_arguments(parser)
    add_seed_option(parser, note="default 0, or the spec's [run].seed; synthetic:N data always "
                                 "uses seed 0, as in `train`")
    add_batch_size_option(parser, note="or the spec's")
    add_dtype_option(parser, default="float32",
                     why="a sweep runs many models at once, in the accelerators' precision")
    parser.add_argument("--record-every", type=positive_int, metavar="K",
                        help=f"record the loss every K steps (default: steps // {MAX_RECORDS})")
    add_optimizer_option(parser, note="default sgd, or the spec's")
    parser.add_argument("--hyperparameter", action="append", type=name_value_list, default=[],
                        metavar="NAME=VALUE[,VALUE...]",
                        help="another optimizer setting, e.g. momentum=0.9; several values "
                             "(momentum=0.5,0.9,0.99) sweep it: one run per value "
                             "(repeatable)")
    parser.add_argument("--method", choices=SWEEP_METHODS,
                        help="the line only; auto (default): the exact O(L)-per-step moments "
                             "path for full-batch SGD on one feature, else autodiff")
    add_json_option(parser, what="the full result as JSON (with the manifest under 'manifest')")
    parser.add_argument("--manifest", metavar="PATH",
                        help="write the run's manifest (rerun it with `rerun PATH`)")
    parser.add_argument("--plot", metavar="PATH",
                        help="draw final loss against rate (one line per seed, the median, the "
                             "divergence point) to a .png, .svg or .pdf file")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: only when stderr is a terminal)")
    parser.set_defaults(handler=run)


class SweepPlan(NamedTuple):
    """What a command line sweeps: the lesson's line on named data, or a spec file's model.

    Attributes:
      model: the objective (:func:`functional_training.objective`).
      x, y: the training data.
      source: the data in words (``shipments``, ``spec net.toml``).
      seeds: the seeds of the seeded initial points, or ``None`` with ``initial``.
      initial: one initial point (a pytree or ``{name: value}``), or ``None``.
      seed_axis: whether the result has a seed axis (a spec's sweep does).
      optimizer, hyperparameters: the optimizer and every one of its settings.
      steps, batch_size, batch_seed: the run's length and batch order.
      method: ``auto``, ``moments`` or ``autodiff``.
      seeds_line: the ``seeds:`` line of the summary, or ``None``.
      title: the plot's title, less the optimizer, steps and dtype.
      manifest: the keywords of :func:`sweep_manifest` that name the data.
      json: what the JSON records besides the result (the spec, the model, the init).
    """

    model: Objective
    x: np.ndarray
    y: np.ndarray
    source: str
    seeds: np.ndarray | None
    initial: object
    optimizer: str
    hyperparameters: dict
    steps: int
    batch_size: int | None
    batch_seed: int
    method: str
    seeds_line: str | None
    title: str
    manifest: dict
    json: dict


def run(args: argparse.Namespace) -> int:
    """Run the sweep the arguments describe (the line's flags or ``--spec``); print its summary.

    Everything is checked before anything is compiled.
    """
    check_output_paths(_outputs(args), {
        "--data": args.data if args.data is not None and is_data_file(args.data) else None,
        "--spec": args.spec})
    plan = spec_plan(args) if args.spec is not None else line_plan(args)
    check_plot_path(args.plot)
    rates = args.learning_rates.values(log=args.log)
    record_every = _record_every(args.record_every, plan.steps)
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    with precision(args.dtype), _progress_bar(show_progress, plan.steps) as on_progress:
        result = sweep(
            plan.model, (plan.x, plan.y), learning_rates=rates, seeds=plan.seeds,
            optimizer=plan.optimizer, hyperparameters=plan.hyperparameters, steps=plan.steps,
            batch_size=plan.batch_size, batch_seed=plan.batch_seed, record_every=record_every,
            progress=on_progress, initial_params=plan.initial, method=plan.method,
            on_cost=lambda cost: print(cost.describe(), file=sys.stderr, flush=True),
        )
    limit = stability_limit(plan.x, plan.y) if plan.model == _lesson_objective(plan.x) else None
    summary = summarize(result, limit=limit)
    batches = ("full batch" if plan.batch_size is None else
               f"mini-batches of {plan.batch_size} (order seed {plan.batch_seed})")
    features = 1 if plan.x.ndim == 1 else plan.x.shape[1]
    lines = [
        f"devices: {_describe_devices(result.devices)}",
        f"data: {plan.source} (N={plan.y.shape[0]}, d={features}), {batches}, {args.dtype}, "
        f"method {result.method}",
        f"model: {describe_model(plan.model)}",
        f"optimizer: {plan.optimizer}"
        + "".join(f", {k}={_values_text(v)}" for k, v in plan.hyperparameters.items()),
        f"rates: {rates.size} {'log' if args.log else 'linearly'}-spaced in "
        f"[{rates[0]:.6g}, {rates[-1]:.6g}]",
        *([] if plan.seeds_line is None else [plan.seeds_line]),
        f"steps: {plan.steps}, loss recorded every {record_every}; losses "
        f"{'x'.join(map(str, result.losses.shape))} ({' x '.join(grid_axes(result))} x records)",
        f"compile: {result.compile_seconds:.3f} s",
        f"run: {result.run_seconds:.3f} s",
        best_line(summary, result),
        _divergence_line(summary["divergence"]),
    ]
    if limit is not None:
        lines.append(f"analytic limit: {limit:.6g} "
                     "(2 / lambda_max of the loss Hessian, full-batch gradient descent)")
    manifest = None  # built (data hashed, environment collected) only when it is written
    if args.json is not None or args.manifest is not None:
        manifest = sweep_manifest(
            result=result, optimizer=plan.optimizer, hyperparameters=plan.hyperparameters,
            batch_size=plan.batch_size, seed=plan.batch_seed, dtype=args.dtype,
            method=plan.method, **plan.manifest)
    if args.plot is not None:
        per_seed = result.final_loss.reshape(rates.size, -1).shape
        write_sweep_plot(args.plot, rates=rates,
                         initial_loss=result.losses[..., 0].reshape(per_seed),
                         final_loss=result.final_loss.reshape(per_seed),
                         first_nonfinite_step=result.first_nonfinite_step.reshape(per_seed),
                         log=args.log,
                         seeds=None if plan.seeds is None or result.hyperparameter_axes
                         else result.seeds.tolist(),
                         labels=run_labels(result) if result.hyperparameter_axes else None,
                         limit=limit,
                         title=f"{plan.title}; {plan.optimizer}, {plan.steps} steps, "
                               f"{args.dtype}")
        lines.append(f"plot: {args.plot}")
    if args.json is not None:
        payload = to_json(result, summary, plan,
                          args=vars(args) | {"record_every": record_every})
        write_json_atomic(args.json, {"manifest": manifest, **payload})
        lines.append(f"json: {args.json}")
    if args.manifest is not None:
        write_manifest(args.manifest, manifest)
        lines.append(f"manifest: {args.manifest}")
    print("\n".join(lines))
    return 0


def line_plan(args: argparse.Namespace) -> SweepPlan:
    """The lesson's line on ``--data`` from the data's initial ``(w, b)``: no seed axis."""
    if args.seeds is not None:
        raise ValueError("--seeds needs --spec (the line starts from the data's one (w, b))")
    if args.steps is None:
        raise ValueError("--steps is required without --spec")
    data_name = args.data or "one-shipment"
    optimizer = args.optimizer or "sgd"
    hyper = hyperparameters_of(optimizer, {}, args.hyperparameter)
    try:
        data = named_data(data_name, features=args.features, target=args.target)
    except ValueError as err:
        message = str(err)
        if message.startswith("data:"):
            message = "--data" + message.removeprefix("data")
        raise ValueError(message) from None
    x, y, init = data.x, data.y, data.init
    if args.batch_size is not None and args.batch_size > x.shape[0]:
        raise ValueError(
            f"--batch-size {args.batch_size} is larger than the data ({x.shape[0]} examples)"
        )
    method = args.method or "auto"
    # the JSON's command records the line's defaults as they ran
    args.data, args.optimizer, args.method = data_name, optimizer, method
    args.seed = 0 if args.seed is None else args.seed
    return SweepPlan(
        model=_lesson_objective(x), x=x, y=y, source=data_name, seeds=None,
        initial=LinearParams(init[0] if x.ndim == 1 else [init[0]] * x.shape[1], init[1]),
        optimizer=optimizer, hyperparameters=all_settings(optimizer, hyper),
        steps=args.steps, batch_size=args.batch_size,
        batch_seed=args.seed, method=method, seeds_line=None,
        title=f"line on {data_name}",
        manifest={"data": data_name, "init": init, "features": args.features,
                  "target": args.target},
        json={},
    )


_LINE_ONLY = {"data": "--data", "features": "--features", "target": "--target",
              "method": "--method"}
"""Options of the line's sweep that a ``--spec`` sweep refuses (the spec says or needs none)."""


def _outputs(args: argparse.Namespace) -> dict:
    """The files a sweep writes, by option."""
    return {"--json": args.json, "--manifest": args.manifest, "--plot": args.plot}


def spec_plan(args: argparse.Namespace) -> SweepPlan:
    """``--spec FILE``: every (rate, seed) run of the spec's model.

    Checks the spec file, the options it cannot be combined with, the seeds, the
    optimizer settings and the batch size.
    """
    for dest, flag in _LINE_ONLY.items():
        if getattr(args, dest) is not None:
            raise ValueError(f"{flag} cannot be combined with --spec (the spec file names the "
                             "data and the model)")
    text = read_spec_text(args.spec)
    try:
        spec = parse_run_spec(text, base=Path(args.spec).parent)
    except SpecError as err:
        raise SpecError(f"{args.spec}: {err}") from None
    check_not_inputs(_outputs(args), {f"[data].{role} (in --spec)": path
                                        for role, path in spec.files.items()})
    if spec.schedule is not None:
        raise ValueError(f"{args.spec}: [schedule]: a sweep runs every rate constant; remove "
                         "the [schedule] table to sweep its rates")
    if spec.trainable != spec.leaves:
        raise ValueError(f"{args.spec}: [model].trainable: a sweep trains every parameter; "
                         "remove trainable to sweep this model")
    seeds = _seeds(args, spec)
    optimizer = args.optimizer or spec.optimizer
    base = {k: v for k, v in spec.hyperparams.items() if k != "learning_rate"} \
        if optimizer == spec.optimizer else {}
    hyper = hyperparameters_of(optimizer, base, args.hyperparameter)
    batch_size = args.batch_size if args.batch_size is not None else spec.batch_size
    if batch_size is not None and batch_size > spec.y.shape[0]:
        raise ValueError(f"--batch-size {batch_size} is larger than the spec's data "
                         f"({spec.y.shape[0]} examples)")
    fixed = spec.init_kind != "seeded"
    model = spec.objective()
    return SweepPlan(
        model=model, x=spec.x, y=spec.y, source=args.spec, seeds=seeds,
        initial=spec.init if fixed else None, optimizer=optimizer,
        hyperparameters=all_settings(optimizer, hyper),
        steps=args.steps or spec.steps, batch_size=batch_size,
        batch_seed=args.seed if args.seed is not None else spec.seed, method="auto",
        seeds_line="seeds: " + (
            f"1 (the spec's fixed initial values, init {spec.init_kind})" if fixed
            else f"{seeds.size} (init seeded, seeds {seeds[0]}..{seeds[-1]})"),
        title=f"{spec.name}: {describe_model(model)}",
        manifest={"spec": spec, "spec_path": args.spec, "spec_text": text},
        json={"spec": {"path": args.spec, "digest": sha256_digest(text.encode()), "text": text},
              "model": {"kind": spec.model, **{k: list(v) if isinstance(v, tuple) else v
                                               for k, v in spec.model_config.items()},
                        "loss": spec.loss, "l2": spec.l2},
              "init": spec.init_kind,
              "seeds": None if fixed else seeds.tolist()},
    )


def _seeds(args: argparse.Namespace, spec) -> np.ndarray:
    """The initial seeds: ``s..s+K-1`` for a seeded spec, else the one fixed point."""
    count = args.seeds or 1
    if spec.init_kind != "seeded":
        if count > 1:
            where = "init = \"zeros\"" if spec.init_kind == "zeros" else "explicit initial values"
            raise ValueError(f"--seeds {count}: {args.spec} fixes one initial point ({where}); "
                             "use [model] init = \"seeded\" to sweep seeds")
        return np.array([0])
    return np.arange(spec.init_seed, spec.init_seed + count)


def describe_model(model: Objective) -> str:
    """The objective in words: kind, configuration, loss, L2.

    Example:
      >>> import functional_training as ft
      >>> describe_model(ft.objective("mlp", loss="hinge", sizes=[2, 3, 1], activation="tanh"))
      'mlp (sizes 2-3-1, activation tanh), loss hinge, l2 0'
    """
    settings = model.settings
    keys = [key for key in model_kind(model.model).config_keys if key in settings]  # its order
    config = ", ".join(f"{key} {'-'.join(map(str, value)) if isinstance(value, tuple) else value}"
                       for key, value in ((key, settings[key]) for key in keys))
    return f"{model.model} ({config}), loss {model.loss}, l2 {model.l2:g}"


def summarize(result, *, limit: float | None = None) -> dict:
    """The best rate (and settings) by median final loss over seeds, the divergence point.

    With ``F[l, c, z]`` the final loss of run ``(l, c, z)`` (rate ``l``, hyperparameter
    setting ``c`` (the hyperparameter axes' grid flattened; one setting without axes),
    seed ``z``; ``+inf`` where it is non-finite or the run's ``first_nonfinite_step``
    is set), the best pair is ``argmin_{l, c} median_z F[l, c, z]`` among pairs whose
    median is finite. Pairs whose median ties the best one exactly (e.g. many rates
    reach 0 in float arithmetic) are counted, not silently reduced to the smallest.
    The divergence point is :func:`functional_training.observed_divergence` of the
    initial and final losses (the final loss at step ``S``, so a ``record_every`` that
    does not divide ``S`` cannot hide a divergence): the smallest rate at which some
    run went non-finite or ended above its start; with hyperparameter axes also per
    setting (``divergence_by_setting``). ``limit`` is the analytic
    ``stability_limit`` where it applies (the lesson's line), recorded as given.
    """
    rates = result.learning_rates
    axes = dict(result.hyperparameter_axes)
    settings = settings_grid(axes)
    runs = (rates.size * len(settings), -1)  # rows: (rate, setting) pairs; columns: seeds
    final = result.final_loss.reshape(runs)
    bad = result.first_nonfinite_step.reshape(runs) >= 0
    median = np.median(np.where(np.isfinite(final) & ~bad, final, np.inf), axis=1)
    finite = np.isfinite(median)
    best = int(np.argmin(median)) if finite.any() else None
    tied = np.flatnonzero(finite & (median == median[best])) if best is not None else []
    tied_rates = rates[np.asarray(tied, int) // len(settings)]
    ends = np.stack([result.losses[..., 0], result.final_loss], axis=-1).reshape(
        rates.size, len(settings), -1, 2)
    first = result.first_nonfinite_step.reshape(rates.size, len(settings), -1)
    summary = {
        "best_rate": None if best is None else float(rates[best // len(settings)]),
        "best_final_loss": None if best is None else float(median[best]),
        "best_rates_tied": int(len(tied)),
        "best_rates_range": None if best is None else [float(tied_rates.min()),
                                                       float(tied_rates.max())],
        "median_final_loss": json_floats(median.reshape(result.grid[:1 + len(axes)])),
        "divergence": observed_divergence(rates, ends.reshape(rates.size, -1, 2),
                                          first.reshape(rates.size, -1)),
    }
    if axes:
        summary["best_settings"] = None if best is None else settings[best % len(settings)]
        summary["divergence_by_setting"] = [
            {**setting, "divergence": observed_divergence(rates, ends[:, c], first[:, c])}
            for c, setting in enumerate(settings)]
    if limit is not None:
        summary["stability_limit"] = limit
    return summary


def settings_grid(axes: dict) -> list[dict]:
    """Every setting of the hyperparameter axes, in the grid's (C) order; ``[{}]`` for none.

    Example:
      >>> settings_grid({"b1": [0.8, 0.9], "b2": [0.99, 0.999]})[1]
      {'b1': 0.8, 'b2': 0.999}
    """
    return [dict(zip(axes, (float(v) for v in values), strict=True))
            for values in itertools.product(*axes.values())]


def grid_axes(result) -> list[str]:
    """The names of the result's grid axes: ``rates``, each swept setting, ``seeds``.

    Example:
      >>> import functional_training as ft
      >>> r = ft.sweep(ft.objective("linear", features=1), ([1.0], [2.0]), learning_rates=[0.1],
      ...              steps=1, optimizer="momentum", hyperparameters={"momentum": [0.5, 0.9]})
      >>> grid_axes(r)
      ['rates', 'momentum', 'seeds']
    """
    return ["rates", *result.hyperparameter_axes,
            *(["seeds"] if result.seeds is not None else [])]


def run_labels(result) -> list[str]:
    """One label per (setting, seed) column of the plot: ``momentum=0.9, seed 0``."""
    seeds = [None] if result.seeds is None else result.seeds.tolist()
    return [", ".join([*(f"{k}={v:g}" for k, v in setting.items()),
                       *([] if seed is None else [f"seed {seed}"])])
            for setting in settings_grid(dict(result.hyperparameter_axes)) for seed in seeds]


def best_line(summary: dict, result) -> str:
    """The summary's ``best rate:`` line (the median over seeds where there are several)."""
    seeds = None if result.seeds is None else result.seeds.size
    over = "" if seeds is None else (
        f", median over {seeds} seeds" if seeds > 1 else ", one initial point")
    if summary["best_rate"] is None:
        return "best rate: none (every rate went non-finite" + (
            " in its median run)" if seeds and seeds > 1 else ")")
    what = "rates" if not result.hyperparameter_axes else "(rate, settings) pairs"
    if summary["best_rates_tied"] > 1:
        low, high = summary["best_rates_range"]
        return (f"best rate: {summary['best_rates_tied']} {what} tie at final loss "
                f"{summary['best_final_loss']:.6g}{over} ({low:.6g} to {high:.6g})")
    settings = "".join(f", {k}={v:g}" for k, v in (summary.get("best_settings") or {}).items())
    return (f"best rate: {summary['best_rate']:.6g}{settings} "
            f"(final loss {summary['best_final_loss']:.6g}{over})")


def _divergence_line(observed: float | None) -> str:
    if observed is None:
        return "observed divergence: none in the swept range"
    return (f"observed divergence: {observed:.6g} (smallest rate at which some run's loss "
            "went non-finite or ended above its start)")


def _describe_devices(devices) -> str:
    kinds = sorted({f"{d.platform} ({d.device_kind})" for d in devices})
    return f"{len(devices)} x {', '.join(kinds)}"


@contextlib.contextmanager
def _progress_bar(enabled: bool, steps: int):
    """Yield a ``progress(done, total)`` callback drawing a rich bar on stderr, or None."""
    if not enabled:
        yield None
        return
    console = Console(stderr=True, force_terminal=True)
    with Progress(TextColumn("sweep"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task("sweep", total=steps)
        yield lambda done, total: bar.update(task, completed=done)


def to_json(result, summary: dict, plan: SweepPlan, *, args: dict) -> dict:
    """The sweep as a strict-JSON-ready dict (non-finite floats as strings).

    The result as :func:`sweep_result_json` records it (``losses[l][z][r]`` is the
    loss of rate ``l``, seed ``z`` at ``recorded_steps[r]``; ``losses[l][r]`` without
    a seed axis; ``losses[l][h][z][r]`` with a hyperparameter axis, value ``h`` of
    ``hyperparameter_axes``), the command, what ran, the plan's own fields (a spec's
    text, model and init) and the summary.
    """
    return {
        "command": {k: v for k, v in args.items() if k != "handler"}
        | {"learning_rates": list(args["learning_rates"])},
        "devices": [str(d) for d in result.devices],
        "method": result.method,
        "optimizer": plan.optimizer,
        "hyperparameters": plan.hyperparameters,
        "batch_size": plan.batch_size,
        "batch_seed": plan.batch_seed,
        "recorded_steps": result.recorded_steps.tolist(),
        **sweep_result_json(result),
        "compile_seconds": result.compile_seconds,
        "run_seconds": result.run_seconds,
        **plan.json,
        **summary,
    }


def name_value_list(text: str) -> tuple[str, float | list[float]]:
    """``NAME=VALUE`` (one setting) or ``NAME=V1,V2,...`` (a hyperparameter axis).

    Raises ``argparse.ArgumentTypeError`` (one line) for a missing ``=``, an empty
    name or value, or a value that is not a number.

    Example:
      >>> name_value_list("momentum=0.9"), name_value_list("momentum=0.5,0.9,0.99")
      (('momentum', 0.9), ('momentum', [0.5, 0.9, 0.99]))
    """
    name, sep, values = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE[,VALUE...], got {text!r}")
    numbers = []
    for value in values.split(","):
        try:
            numbers.append(float(value))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name.strip()}: expected a number or numbers separated by commas, got "
                f"{value!r}") from None
    return name.strip(), numbers[0] if len(numbers) == 1 else numbers


def hyperparameters_of(optimizer: str, base: dict[str, float],
                       given: list[tuple[str, float | list[float]]]) -> dict:
    """``base`` updated with the ``--hyperparameter`` pairs, checked against ``optimizer``.

    Returns only the settings given (defaults are filled in where the sweep runs); a
    list of values is a hyperparameter axis.

    Raises:
      ValueError: one line naming ``--hyperparameter``: a name given twice, the
        learning rate (the sweep sets it), or a setting ``optimizer`` does not take
        or a value out of range.

    Example:
      >>> hyperparameters_of("momentum", {}, [("momentum", 0.8)])
      {'momentum': 0.8}
      >>> hyperparameters_of("momentum", {}, [("momentum", [0.5, 1.0])])
      Traceback (most recent call last):
      ...
      ValueError: --hyperparameter: optimizer 'momentum': momentum must lie in [0, 1), got 1.0
    """
    extra = name_values(given)
    if "learning_rate" in extra:
        raise ValueError("--hyperparameter learning_rate: the sweep sets the rate "
                         "(--learning-rates)")
    hyper = {**base, **extra}
    try:
        check_sweep_hyperparameters(optimizer, hyper)
    except (TypeError, ValueError) as err:
        raise ValueError(f"--hyperparameter: {one_line(err)}") from None
    return hyper


def all_settings(optimizer: str, hyper: dict) -> dict:
    """Every setting of ``optimizer``: the defaults filled in, a swept one as its list.

    Example:
      >>> all_settings("adam", {"b1": [0.8, 0.9]})
      {'b1': [0.8, 0.9], 'b2': 0.999, 'eps': 1e-08}
    """
    axes = {key: value for key, value in hyper.items() if isinstance(value, list)}
    fixed = check_hyperparameters(optimizer, {key: value for key, value in hyper.items()
                                              if key not in axes})
    return {key: axes.get(key, fixed.get(key)) for key in dict.fromkeys([*fixed, *axes])}


def _values_text(value) -> str:
    """``0.9``, or ``0.5,0.9,0.99`` for an axis."""
    return ",".join(f"{v:g}" for v in value) if isinstance(value, list) else f"{value:g}"


def _record_every(given: int | None, steps: int) -> int:
    record_every = given or max(1, steps // MAX_RECORDS)
    if record_every > steps:
        raise ValueError(
            f"--record-every {record_every} is larger than --steps {steps}: "
            "nothing after the initial loss would be recorded"
        )
    return record_every
