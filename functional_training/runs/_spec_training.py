"""Spec files: the training tables ``[loss]``, ``[optimizer]``, ``[schedule]`` and ``[run]``.

Each is checked against its registry (:data:`functional_training.LOSS_KINDS`,
:data:`functional_training.OPTIMIZERS`, :data:`functional_training.SCHEDULES`);
optimizer keys and schedule parameters left out take optax's defaults, written
into the result explicitly.
"""

from __future__ import annotations

import re

from functional_training._losses import DEFAULT_LOSS, LOSS_KINDS, REDUCTIONS
from functional_training._models import model_kind
from functional_training._optimizers import (
    OPTIMIZER_NAMES,
    hyperparameter_problem,
    optimizer_hyperparameters,
    optimizer_keys,
    settings_problem,
)
from functional_training._schedules import SCHEDULES, check_schedule
from functional_training.runs._cli import one_line
from functional_training.runs._spec_toml import (
    SpecError,
    finite_at,
    integer_at,
    number_at,
    only_keys,
    shortened,
    string_at,
)

MAX_STEPS = 100_000
"""Upper bound on ``[run].steps``: every backend (the scalar engine included) runs
every step in Python, so a spec stays a seconds-long check, not a training job."""

LOSS_KEYS = ("kind", "l2", "reduction")
"""The keys of ``[loss]``."""

OPTIMIZER_KEYS = ("name", "learning_rate")
"""The keys of ``[optimizer]`` besides the optimizer's own."""

SCHEDULE_KEYS = ("kind",)
"""The keys of ``[schedule]`` besides the schedule's own parameters."""

RUN_KEYS = ("steps", "batch_size", "seed", "batches", "last_batch")
"""The keys of ``[run]``."""


def loss_table(table: dict | None, *, kind: str, config: dict) -> tuple[str, float, str]:
    """``[loss]``: the loss kind (default the lesson's), ``l2``, ``reduction``; ``k`` fits it.

    ``reduction`` (:data:`functional_training.REDUCTIONS`, default ``"mean"``) declares
    how the user's loop holds its batch loss and gradient: ``"sum"`` is d2l's
    ``l.sum().backward()`` with ``param -= lr * param.grad / batch_size``.

    ``k`` is the kind's ``outputs``; whether it fits is the loss's ``outputs_problem``.
    The message names the setting that states ``k`` (``ModelKind.stated_by``), else
    ``[loss].kind``.
    """
    table = {} if table is None else table
    only_keys("loss", table, LOSS_KEYS)
    loss = table.get("kind", DEFAULT_LOSS)
    if not isinstance(loss, str) or loss not in LOSS_KINDS:
        raise SpecError(f"[loss].kind: unknown loss {shortened(loss)}; expected one of "
                        f"{', '.join(LOSS_KINDS)}")
    l2 = number_at(table["l2"], "[loss].l2") if "l2" in table else 0.0
    if l2 < 0:
        raise SpecError(f"[loss].l2: must be >= 0, got {l2}")
    reduction = table.get("reduction", "mean")
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise SpecError(f"[loss].reduction: expected one of "
                        f"{', '.join(map(repr, REDUCTIONS))}, got {shortened(reduction)}")
    model = model_kind(kind)
    outputs = model.outputs(**config)
    if LOSS_KINDS[loss].outputs_problem(outputs) is not None:
        wanted = LOSS_KINDS[loss].outputs_wanted
        stated = model.stated("outputs", **config)
        if stated is not None:
            raise SpecError(f"[model].{stated[0]}: {stated[1]} but {loss} {wanted}")
        raise SpecError(f"[loss].kind: {loss} {wanted}; a {kind} model has "
                        f"{'one output' if outputs == 1 else f'{outputs} outputs'}")
    return loss, l2, reduction


def schedule_table(table: dict) -> dict:
    """``[schedule]``: ``kind`` and optax's parameters, defaults filled in (``check_schedule``)."""
    kind = string_at(table, "schedule", "kind")
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


def optimizer_table(table: dict, *, scheduled: bool = False) -> tuple[str, dict[str, float]]:
    """``[optimizer]`` against the one optimizer table (``functional_training.OPTIMIZERS``).

    With a ``[schedule]`` (``scheduled``), the rate is the schedule's:
    ``learning_rate`` must be absent and is not in the returned settings.
    ``weight_decay`` is every optimizer's, with torch.optim's meaning
    (:func:`functional_training.weight_decay_kind`: coupled but for adamw); for the
    coupled ones it is in the settings only when given (absent: 0).

    Example:
      >>> optimizer_table({"name": "sgd", "learning_rate": 0.1, "weight_decay": 0.01})
      ('sgd', {'learning_rate': 0.1, 'weight_decay': 0.01})
    """
    name = string_at(table, "optimizer", "name")
    if name not in OPTIMIZER_NAMES:
        raise SpecError(
            f"[optimizer].name: unknown optimizer {name!r}; expected one of "
            f"{', '.join(OPTIMIZER_NAMES)}"
        )
    if scheduled and "learning_rate" in table:
        raise SpecError("[optimizer].learning_rate: give the rate in [schedule], not both")
    defaults = optimizer_hyperparameters(name)
    takes = (*(() if scheduled else ("learning_rate",)), *optimizer_keys(name))
    for key in table:
        if key != "name" and key not in takes:
            listed = ", ".join(takes) if takes else "no other key (the rate is in [schedule])"
            raise SpecError(f"[optimizer].{key}: not a key of {name}; it takes {listed}")
    hyperparams = {}
    if not scheduled:
        rate = finite_at(table, "optimizer", "learning_rate")
        if rate <= 0:
            raise SpecError(f"[optimizer].learning_rate: must be > 0, got {rate}")
        hyperparams["learning_rate"] = rate
    given = {key: None for key in optimizer_keys(name) if key in table and key not in defaults}
    for key, default in {**defaults, **given}.items():  # an optional key only when given
        value = number_at(table[key], f"[optimizer].{key}") if key in table else float(default)
        problem = hyperparameter_problem(key, value)
        if problem is not None:
            raise SpecError(f"[optimizer].{key}: {problem}")
        hyperparams[key] = value
    problem = settings_problem(name, hyperparams)
    if problem is not None:
        raise SpecError(f"[optimizer].{problem[0]}: {problem[1]}")
    return name, hyperparams


def run_table(run: dict, *, examples: int) -> tuple[int, int | None, int]:
    """``[run]``: ``steps``, ``batch_size`` (``None``: full batch, at most ``examples``), ``seed``.

    Example:
      >>> run_table({"steps": 3, "batch_size": 2}, examples=4)
      (3, 2, 0)
    """
    only_keys("run", run, RUN_KEYS)
    steps = integer_at(run, "run", "steps", low=1, high=MAX_STEPS)
    batch_size = None
    if "batch_size" in run:
        batch_size = integer_at(run, "run", "batch_size", low=1, high=None)
        if batch_size > examples:
            raise SpecError(
                f"[run].batch_size: {batch_size} is more than the {examples} training examples"
            )
    seed = integer_at(run, "run", "seed", low=0, high=None) if "seed" in run else 0
    return steps, batch_size, seed


BATCHES = ("seeded", "trajectory")
"""The values of ``[run].batches``: the order generated from ``batch_size`` and ``seed``
(the default), or the order of the trajectory a check replays."""


def batch_rule(run: dict, *, batch_size: int | None, from_trajectory: bool = False,
               short_batches: bool = False) -> tuple[str | None, str]:
    """``[run].batches`` and ``[run].last_batch``: ``(order, last_batch)`` of the :class:`RunSpec`.

    ``batches = "trajectory"`` (only where a check reads the spec:
    ``from_trajectory``) leaves the order to the trajectory (order
    ``"trajectory"``); ``last_batch = "keep"`` keeps each epoch's short last batch of
    a generated order (it needs ``batch_size``, and a reader that runs batches of
    different sizes: ``short_batches``, the comparisons backends; the compiled
    training of ``train`` and ``sweep`` stacks one size).

    Example:
      >>> batch_rule({"batch_size": 4, "last_batch": "keep"}, batch_size=4, short_batches=True)
      (None, 'keep')
      >>> batch_rule({"batches": "trajectory"}, batch_size=None, from_trajectory=True)
      ('trajectory', 'drop')
    """
    batches = run.get("batches", "seeded")
    if batches not in BATCHES:
        raise SpecError(f"[run].batches: expected one of {', '.join(map(repr, BATCHES))}, "
                        f"got {shortened(batches)}")
    if batches == "trajectory" and not from_trajectory:
        raise SpecError('[run].batches: "trajectory" leaves the batches to a trajectory; '
                        "only `comparisons check` replays them (give batch_size and seed to "
                        "run this spec)")
    if batches == "trajectory" and "seed" in run:
        raise SpecError('[run].seed: not with batches = "trajectory" (the trajectory '
                        "gives the order)")
    last = run.get("last_batch", "drop")
    if last not in ("drop", "keep"):
        raise SpecError(f"[run].last_batch: expected 'drop' or 'keep', got {shortened(last)}")
    if "last_batch" in run and (batch_size is None or batches == "trajectory"):
        raise SpecError("[run].last_batch: only for an order generated from batch_size")
    if last == "keep" and not short_batches:
        raise SpecError('[run].last_batch: "keep" makes batches of different sizes, which '
                        "this command's compiled training does not run (`comparisons run` "
                        "and `check` do); leave it out to drop each epoch's remainder")
    return (None if batches == "seeded" else "trajectory"), last
