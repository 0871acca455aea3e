"""The learning-rate finder: a range test on every backend, its suggestions, and whether they train.

A learning-rate range test (Smith 2017; fastai's ``lr_find``) trains once while
the rate grows exponentially, one step per rate:
``lr_k = RAMP_START * (RAMP_END / RAMP_START) ** (k / (RAMP_STEPS - 1))``,
``k = 0 .. RAMP_STEPS - 1`` (1e-7 to 10 over 100 steps). That ramp is the
``exponential`` schedule every backend already runs
(``init_value = 1e-7, decay_rate = 1e8, transition_steps = 99``), so the range
test is an ordinary run (:func:`ramp_experiment`), verified on every backend
against ``manual`` in float64 before anything is drawn (:func:`verified_ramp`: at
rates past the stability limit, within ``1e-12`` times the rounding growth a shadow
run measures, :func:`rounding_growth`, at most :data:`MAX_VERIFIED_TOLERANCE`). Like
fastai it takes one mini-batch per step (:data:`RAMP_BATCH_SIZE` for the course's moons network,
which otherwise trains full batch; a spec keeps its own batches).

What is read from the verified run:

- **smoothed loss** ``s_k``: the exponential moving average of the steps' batch
  losses with bias correction, ``a_k = beta a_{k-1} + (1 - beta) l_k`` (``a_{-1} = 0``),
  ``s_k = a_k / (1 - beta^(k+1))``, ``beta =`` :data:`SMOOTHING`
  (:func:`smoothed_losses`);
- **stop**: the first step whose smoothed loss is non-finite or above
  :data:`STOP_FACTOR` times the lowest smoothed loss before it; the suggestions
  use only the steps before it (:func:`stop_step`). The test ends there, as
  fastai's does: the ``manual`` backend runs the whole ramp first to find the
  stop, and the run verified on every backend (and drawn) is steps ``0..stop``.
  A diverging run amplifies each backend's last-bit rounding, so steps past the
  stop, never used, could not be verified anyway;
- **steepest**: the rate ``lr_k`` of the step ``k`` with the most negative slope
  ``(s_{k+1} - s_k) / (log10 lr_{k+1} - log10 lr_k)`` (:func:`steepest_step`);
- **valley**: the longest stretch of consecutive steps over which the smoothed
  loss falls at every step (the earliest of equally long ones); the suggestion
  is the rate at its middle step, ``start + (end - start) // 2``, halfway along
  it in log rate (:func:`valley_stretch`).

The second panel trains the same network once per rate of :data:`FINAL_RATES`
(the ramp's range, four rates per decade) and the two suggestions, each at a
constant rate for a whole run on the same batches, in one vmapped
:func:`functional_training.sweep`; its final losses at the suggestions and at
1e-3 are checked against the ``manual`` backend run at those rates
(:func:`final_losses`). Whether a suggestion was good is then visible: its own
run's final loss.

Example:
  >>> smoothed_losses([1.0, 1.0, 0.0], 0.5)
  [1.0, 1.0, 0.42857142857142855]
  >>> valley_stretch([5.0, 4.0, 4.5, 4.0, 3.0, 2.0, 2.5])
  (2, 5)
  >>> steepest_step([3.0, 2.5, 1.0, 0.9], [1e-3, 1e-2, 1e-1, 1.0])
  1
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

import functional_training as ft
from comparisons.backends import get_backend
from comparisons.backends._common import frozen_names
from comparisons.compare import compare_trajectories, run_and_compare, values_agree
from comparisons.experiments import REGISTRY, Experiment, batch_order
from comparisons.figures.lr_sweep import log_spaced
from comparisons.figures.verified import (
    UnverifiedTrajectoryError,
    VerifiedRuns,
    require_agreement,
    require_close,
)
from comparisons.figures.wording import backends_phrase, num
from functional_training import TrajectoryRecord

__all__ = [
    "CHECK_RATE",
    "FINAL_RATES",
    "MAX_VERIFIED_TOLERANCE",
    "RAMP_BATCH_SIZE",
    "RAMP_END",
    "RAMP_START",
    "RAMP_STEPS",
    "SMOOTHING",
    "STOP_FACTOR",
    "final_losses",
    "finder_applies",
    "lr_finder_data",
    "ramp_experiment",
    "rounding_growth",
    "smoothed_losses",
    "steepest_step",
    "stop_step",
    "valley_stretch",
    "verified_ramp",
]

RAMP_START, RAMP_END, RAMP_STEPS = 1e-7, 10.0, 100
"""The ramp: fastai's default range (1e-7 to 10) over its default 100 steps, one rate a step."""

RAMP_BATCH_SIZE = 20
"""Examples per step of the course's range test on the 100 moons points (5 batches an epoch)."""

SMOOTHING = 0.9
"""``beta`` of the smoothed loss: each step's weight decays by 10% a step (a time constant of
about 10 steps, a factor 6 in rate on this ramp; fastai's 0.98 lags half the ramp behind)."""

STOP_FACTOR = 4.0
"""The range test stops at the first smoothed loss above 4 times the lowest before it
(fastai's rule)."""

FINAL_RATES = log_spaced(-7, 1, 33)
"""The second panel's constant rates: 1e-7 to 10, four per decade (the suggestions are added)."""

CHECK_RATE = 1e-3
"""Besides the suggestions, the sweep's final loss at this rate is checked against ``manual``."""

MAX_VERIFIED_TOLERANCE = 1e-6
"""The loosest tolerance the finder verifies under when a run amplifies rounding
(:func:`rounding_growth`): three orders of magnitude below the 1e-3 at which a real
convention difference shows (``functional_training.FLOAT64_TOLERANCE``'s reasoning)."""


def finder_applies(experiment: Experiment) -> str | None:
    """``None`` when the range test can run on ``experiment``, else why it cannot (one line).

    Example:
      >>> finder_applies(REGISTRY["gradient-accumulation"])
      "the learning-rate finder needs a training run, not kind 'accumulation'"
    """
    if experiment.kind != "train":
        return f"the learning-rate finder needs a training run, not kind {experiment.kind!r}"
    if experiment.optimizer == "none":
        return "the learning-rate finder needs an optimizer to step with, not 'none'"
    if experiment.order is not None:
        return "the learning-rate finder draws its own batches; this spec replays given ones"
    if experiment.model not in ft.MODEL_KINDS:
        return (f"the learning-rate finder's whole runs are one functional_training.sweep, "
                f"which has no model kind {experiment.model!r}")
    frozen = frozen_names(experiment)
    if frozen:
        return (f"the learning-rate finder's whole runs are one functional_training.sweep, which "
                f"trains every parameter; this spec freezes {', '.join(frozen)}")
    size = experiment.batch_size
    if size is not None and experiment.last_batch == "keep" and len(experiment.train) % size:
        return ("the learning-rate finder's whole runs take batches of one size; this spec "
                "keeps a short last batch")
    return None


def _without_rate(experiment: Experiment) -> dict:
    return {k: v for k, v in experiment.hyperparams.items() if k != "learning_rate"}


def ramp_experiment(experiment: Experiment, *, batch_size: int | None = None,
                    seed: int | None = None) -> Experiment:
    """The range test of ``experiment``: its model, data, start and optimizer on the ramp.

    ``RAMP_STEPS`` steps at ``lr_k`` (the ``exponential`` schedule), batches of
    ``batch_size`` drawn with ``seed`` (default: the experiment's own), no
    validation set.

    Example:
      >>> ramp = ramp_experiment(REGISTRY["mlp/moons"], batch_size=20)
      >>> ramp.name, ramp.steps, ramp.batch_size, ramp.schedule["decay_rate"]
      ('mlp/moons/lr-range', 100, 20, 100000000.0)
    """
    return dataclasses.replace(
        experiment, name=f"{experiment.name}/lr-range",
        description=f"learning-rate range test of {experiment.name}: {RAMP_START:g} to "
                    f"{RAMP_END:g} over {RAMP_STEPS} steps",
        steps=RAMP_STEPS, hyperparams=_without_rate(experiment), validation=None,
        schedule={"kind": "exponential", "init_value": RAMP_START,
                  "transition_steps": RAMP_STEPS - 1, "decay_rate": RAMP_END / RAMP_START},
        batch_size=experiment.batch_size if batch_size is None else batch_size,
        seed=experiment.seed if seed is None else seed, lesson_block=None)


def _constant_rate(experiment: Experiment, rate: float) -> Experiment:
    """``experiment`` at the constant ``rate`` (no schedule, no validation)."""
    return dataclasses.replace(
        experiment, name=f"{experiment.name}/lr={rate:.6g}", schedule=None, validation=None,
        hyperparams={**_without_rate(experiment), "learning_rate": float(rate)},
        lesson_block=None)


def smoothed_losses(losses: Sequence[float], beta: float = SMOOTHING) -> list[float]:
    """The bias-corrected exponential moving average ``s_k`` of ``losses`` (module docstring).

    Example:
      >>> smoothed_losses([2.0, 4.0], 0.5)
      [2.0, 3.3333333333333335]
    """
    average, out = 0.0, []
    for k, loss in enumerate(losses):
        average = beta * average + (1.0 - beta) * loss
        out.append(average / (1.0 - beta ** (k + 1)))
    return out


def stop_step(smoothed: Sequence[float], factor: float = STOP_FACTOR) -> int | None:
    """The first step whose smoothed loss is non-finite or above ``factor`` x the lowest before.

    Example:
      >>> stop_step([1.0, 0.5, 1.9, 2.1]), stop_step([1.0, 0.9])
      (3, None)
    """
    lowest = math.inf
    for k, value in enumerate(smoothed):
        if not math.isfinite(value) or value > factor * lowest:
            return k
        lowest = min(lowest, value)
    return None


def steepest_step(smoothed: Sequence[float], rates: Sequence[float]) -> int | None:
    """The step ``k`` with the most negative slope of the smoothed loss against log10 rate.

    The slope is the forward difference to step ``k + 1``; ``None`` if it never falls.

    Example:
      >>> steepest_step([1.0, 1.0, 1.2], [1.0, 2.0, 4.0]) is None
      True
    """
    best, best_slope = None, 0.0
    for k in range(len(smoothed) - 1):
        slope = ((smoothed[k + 1] - smoothed[k])
                 / (math.log10(rates[k + 1]) - math.log10(rates[k])))
        if slope < best_slope:
            best, best_slope = k, slope
    return best


def valley_stretch(smoothed: Sequence[float]) -> tuple[int, int] | None:
    """``(start, end)``: the longest run of steps over which the smoothed loss falls every step.

    ``smoothed[start] > smoothed[start + 1] > ... > smoothed[end]``, the earliest
    of equally long runs; ``None`` if the loss never falls.

    Example:
      >>> valley_stretch([1.0, 1.0]) is None, valley_stretch([3.0, 2.0, 2.5, 1.0])
      (True, (0, 1))
    """
    best, start = None, 0
    for k in range(1, len(smoothed)):
        if not smoothed[k] < smoothed[k - 1]:
            start = k
        elif best is None or k - start > best[1] - best[0]:
            best = (start, k)
    return best


def rounding_growth(experiment: Experiment, base: TrajectoryRecord | None = None) -> float:
    """How many times ``experiment``'s run amplifies a rounding-sized change of its start (>= 1).

    The ``manual`` backend runs it twice: as given (``base``, if the caller has
    that float64 run already), and with every initial parameter moved by one
    rounding unit, ``theta + eps (1 + |theta|)`` (``eps = 2^-52``). The growth is
    the largest difference of the two runs over every recorded parameter and loss,
    ``|a - b| / (eps (1 + |a|))``, at least 1 (values non-finite in either run are
    skipped). A stable run keeps it near 1; past the stability limit every step
    multiplies it by about ``|1 - lr lambda|``, and two correct backends, whose
    roundings differ from the first step on, part by that much more than the
    float64 tolerance allows. The finder then verifies under
    ``FLOAT64_TOLERANCE x growth`` (:func:`verified_ramp`).

    Example:
      >>> rounding_growth(REGISTRY["full-batch"]) < 10  # 20 stable steps
      True
    """
    eps = float(np.finfo(np.float64).eps)
    manual = get_backend("manual")
    moved = dataclasses.replace(experiment, init={
        name: value + eps * (1.0 + abs(value)) for name, value in experiment.init.items()})
    if base is None:
        base = manual.run(experiment, dtype="float64")
    shadow = manual.run(moved, dtype="float64")
    pairs = [*((base.params[name], shadow.params[name]) for name in base.params),
             (base.train_loss, shadow.train_loss), (base.batch_loss, shadow.batch_loss)]
    growth = 1.0
    for ours, theirs in pairs:
        a, b = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
        both = np.isfinite(a) & np.isfinite(b)
        if both.any():
            growth = max(growth, float(np.max(
                np.abs(a[both] - b[both]) / (eps * (1.0 + np.abs(a[both]))))))
    return growth


def _growth_tolerance(figure: str, what: str, experiment: Experiment, tol: float,
                      base: TrajectoryRecord) -> tuple[float, float]:
    """``(growth, tol x growth)`` for ``experiment`` (``base``: its manual run); refused past
    :data:`MAX_VERIFIED_TOLERANCE`."""
    growth = rounding_growth(experiment, base)
    if tol * growth > MAX_VERIFIED_TOLERANCE:
        raise UnverifiedTrajectoryError(
            f"refusing to draw {figure}: {what} amplifies rounding {growth:.1e} times, "
            f"beyond what a tolerance of {MAX_VERIFIED_TOLERANCE:g} can verify")
    return growth, tol * growth


def verified_ramp(ramp: Experiment, *, backends: Sequence[str] | None = None,
                  figure: str = "lr-finder"):
    """The range test's runs on every backend, verified: ``(trajectories, verdict, growth)``.

    Compared first under the float64 tolerance (``growth = 1``). Where they part by
    more, :func:`rounding_growth` measures how much the ramp amplifies rounding and
    the same runs are compared again under ``tolerance x growth`` (at most
    :data:`MAX_VERIFIED_TOLERANCE`): a real convention difference (1e-3 or more)
    is still refused, the last bits that unstable rates amplify are not.

    Raises:
      UnverifiedTrajectoryError: they disagree even so, or the growth is too large.
    """
    trajectories, verdict = run_and_compare(ramp, backends=backends)
    growth = 1.0
    if not verdict.agree:
        growth, tol = _growth_tolerance(figure, "the range test", ramp, verdict.tolerance,
                                        trajectories[verdict.reference])
        verdict = compare_trajectories(ramp, trajectories, reference=verdict.reference,
                                       unavailable=verdict.unavailable, tol=tol)
    require_agreement(verdict)
    return trajectories, verdict, growth


def final_losses(figure: str, experiment: Experiment, rates: Sequence[float], tol: float,
                 *, check: Sequence[float]) -> dict:
    """The training loss after a whole run at each constant rate, one vmapped sweep, checked.

    Every run starts from ``experiment.init`` and takes ``experiment.steps`` steps
    of its optimizer on its batches at one constant rate. At each rate of
    ``check`` the sweep's final loss must equal the ``manual`` backend's run at
    that rate within ``tol``.

    Raises:
      UnverifiedTrajectoryError: the sweep and the ``manual`` run disagree.
    """
    objective = ft.objective(experiment.model, loss=experiment.loss, l2=experiment.l2,
                             **experiment.model_config)
    order = batch_order(experiment)
    with ft.float64():
        sweep = ft.sweep(objective, (np.asarray(experiment.x_rows, dtype=np.float64),
                                     np.asarray(experiment.ys, dtype=np.float64)),
                         learning_rates=np.asarray(rates, dtype=np.float64), seeds=None,
                         initial_params=dict(experiment.init), optimizer=experiment.optimizer,
                         hyperparameters=_without_rate(experiment), steps=experiment.steps,
                         batch_indices=None if order is None else np.asarray(order),
                         devices=None)
    final = [float(v) for v in sweep.final_loss]
    manual = get_backend("manual")
    checked: list[float] = []
    for rate in check:
        index = int(np.flatnonzero(sweep.learning_rates == rate)[0])
        at_rate = _constant_rate(experiment, rate)
        run = manual.run(at_rate, dtype="float64")
        expected, actual = run.train_loss[-1], final[index]
        if not (math.isfinite(expected) and math.isfinite(actual)):
            if math.isfinite(expected) or math.isfinite(actual):
                raise UnverifiedTrajectoryError(
                    f"refusing to draw {figure}: the sweep's final loss at lr={rate:g} is "
                    f"{actual!r} but the manual run's is {expected!r}")
            checked.append(tol)
            continue
        what = f"the sweep's final loss at lr={rate:g}"
        rate_tol = tol
        if not values_agree(expected, actual, tol)[0]:  # an unstable rate: how much it amplifies
            rate_tol = _growth_tolerance(figure, f"the run at lr={rate:g}", at_rate, tol,
                                         run)[1]
        require_close(figure, what, expected, actual, rate_tol)
        checked.append(rate_tol)
    return {"learning_rates": [float(r) for r in sweep.learning_rates], "final_loss": final,
            "first_nonfinite_step": [None if s < 0 else int(s)
                                     for s in sweep.first_nonfinite_step],
            "steps": experiment.steps, "checked_rates": [float(r) for r in check],
            "checked_tolerances": checked}


def lr_finder_data(experiment: Experiment, *, backends: Sequence[str] | None = None,
                   batch_size: int | None = None, seed: int | None = None,
                   figure: str = "lr-finder") -> dict:
    """Verify the range test of ``experiment`` on every backend and read its suggestions.

    Returns:
      JSON-ready: the ramp's settings, its rates, batch and smoothed losses, the
      stop step, the two suggestions, the backends and tolerance the ramp verified
      with, and ``final`` (:func:`final_losses` over :data:`FINAL_RATES` and the
      suggestions, each a whole run of ``experiment`` at that constant rate).

    Raises:
      ValueError: the finder does not apply (:func:`finder_applies`).
      UnverifiedTrajectoryError: the ramp's backends disagree, or the sweep disagrees
        with the ``manual`` runs.
    """
    why = finder_applies(experiment)
    if why is not None:
        raise ValueError(why)
    ramp = ramp_experiment(experiment, batch_size=batch_size, seed=seed)
    probe = get_backend("manual").run(ramp, dtype="float64")  # where the test stops
    probe_stop = stop_step(smoothed_losses(probe.batch_loss))
    if probe_stop is not None:  # the test ends there (steps 0..stop), as fastai's does
        ramp = dataclasses.replace(ramp, steps=probe_stop + 1)
    trajectories, verdict, growth = verified_ramp(ramp, backends=backends, figure=figure)
    run = trajectories[verdict.reference]
    rates = list(run.extras["learning_rate"])
    batch_loss = list(run.batch_loss)
    smoothed = smoothed_losses(batch_loss)
    stop = stop_step(smoothed)
    used = smoothed[:stop] if stop is not None else smoothed
    steep = steepest_step(used, rates)
    valley = valley_stretch(used)
    middle = None if valley is None else valley[0] + (valley[1] - valley[0]) // 2
    suggested = [rates[k] for k in (steep, middle) if k is not None]
    run_experiment = dataclasses.replace(
        experiment, batch_size=ramp.batch_size, seed=ramp.seed)
    final = final_losses(figure, run_experiment, np.union1d(FINAL_RATES, [*suggested, CHECK_RATE]),
                         ft.tolerance("float64", experiment.steps),
                         check=sorted({*suggested, CHECK_RATE}))
    return {
        "experiment": experiment.name,
        "ramp": {"start": RAMP_START, "end": RAMP_END, "steps": RAMP_STEPS,
                 "batch_size": ramp.batch_size, "examples": len(experiment.train),
                 "beta": SMOOTHING, "stop_factor": STOP_FACTOR,
                 "optimizer": experiment.optimizer},
        "learning_rates": rates, "batch_loss": batch_loss, "smoothed": smoothed,
        "initial_loss": run.train_loss[0], "stop_step": stop,
        "steepest": None if steep is None else {"step": steep, "rate": rates[steep]},
        "valley": None if valley is None else {"start": valley[0], "end": valley[1],
                                               "step": middle, "rate": rates[middle]},
        "ramp_backends": list(trajectories), "ramp_tolerance": verdict.tolerance,
        "ramp_growth": growth,
        "final": final,
    }


def course_lr_finder_data(v: VerifiedRuns, moons: str) -> dict:
    """The course's range test on the moons network, its start checked against the verified run.

    The ramp starts where the verified ``moons`` run starts (same network, data and
    initial parameters), so its full training loss at step 0 must equal that run's.
    """
    data = lr_finder_data(REGISTRY[moons], backends=v.backends, batch_size=RAMP_BATCH_SIZE,
                          seed=0)
    require_close("lr-finder", "the range test's initial loss", v.ref(moons).train_loss[0],
                  data["initial_loss"], v.tolerance)
    return data


def _final_at(data: Mapping, rate: float) -> float:
    final = data["final"]
    return final["final_loss"][final["learning_rates"].index(rate)]


def _suggestions(data: Mapping) -> list[tuple[str, float]]:
    return [(name, data[name]["rate"]) for name in ("steepest", "valley")
            if data[name] is not None]


def _best_rate(data: Mapping) -> tuple[float, float]:
    final = data["final"]
    pairs = [(loss, rate) for rate, loss in zip(final["learning_rates"], final["final_loss"],
                                                strict=True) if math.isfinite(loss)]
    loss, rate = min(pairs)
    return rate, loss


def _rate(value: float) -> str:
    """``1e-7`` (not ``1e-07``), ``10``: a rate as a reader writes it."""
    return f"{value:g}".replace("e-0", "e-").replace("e+0", "e")


def lr_finder_caption(d: Mapping, c: Mapping) -> str:
    """The README caption (``c``: the figure-data record, for the backends sentence)."""
    ramp = d["ramp"]
    batches = ("full batch" if ramp["batch_size"] is None
               else f"mini-batches of {ramp['batch_size']} of the {ramp['examples']} examples")
    k = d["stop_step"]
    stop = ("It never stops." if k is None else
            f"It stops at step {k} (lr = {num(d['learning_rates'][k], 3)}, dotted line), its "
            "last step.")
    best_rate, best_loss = _best_rate(d)
    ramp_runs = backends_phrase({"backends": d["ramp_backends"],
                                 "tolerance": d["ramp_tolerance"]})
    judged = "; ".join(f"{name} {num(rate, 3)} ends at {num(_final_at(d, rate))}"
                       for name, rate in _suggestions(d))
    return (
        f"Top: a learning-rate range test of {d['experiment']}: one training run "
        f"({ramp['optimizer']}, {batches}) whose rate grows exponentially, one step per rate, "
        f"from {_rate(ramp['start'])} to {_rate(ramp['end'])} over {ramp['steps']} steps "
        "(lr_k = 1e-7 · 1e8^(k/99), the exponential schedule every backend runs). Dots: each "
        "step's mini-batch loss; line: its exponential moving average with bias correction, "
        f"a_k = β a_(k−1) + (1 − β) l_k, s_k = a_k / (1 − β^(k+1)), β = {ramp['beta']:g}. The "
        f"test stops at the first smoothed loss above {ramp['stop_factor']:g}× the lowest "
        f"before it. {stop} Suggestions from "
        + ("every step" if k is None else "the steps before the stop")
        + ": steepest (dashed) is "
        "the rate where the smoothed loss falls fastest against log rate (the most negative "
        "forward difference); valley (shaded, dotted line) is the longest stretch of steps "
        "over which the smoothed loss falls at every step, and the suggestion is the rate at "
        f"its middle step. Bottom: the training loss after a whole run of {d['final']['steps']} "
        f"steps at each constant rate ({len(d['final']['learning_rates'])} rates, one vmapped "
        "functional_training.sweep on the same batches, its final loss checked against the "
        "manual backend's run at "
        + ", ".join(num(r, 3) for r in d["final"]["checked_rates"])
        + f"){_looser_checks(d)}: {judged}; the lowest is {num(best_loss)} at "
        f"{num(best_rate, 3)}. The range test's runs: {ramp_runs}"
        + _growth_sentence(d) + f"; the course's: {backends_phrase(c)}."
    )


def _growth_sentence(d: Mapping) -> str:
    """Why the ramp's tolerance is looser than float64's, where it is (else nothing)."""
    growth = d.get("ramp_growth", 1.0)
    if growth <= 1.0:
        return ""
    return (f" (its unstable rates amplify rounding {num(growth, 2)}-fold, measured by a manual "
            "run started one rounding unit away, so the tolerance is 1e-12 times that)")


def _looser_checks(d: Mapping) -> str:
    """The final-loss checks made under a measured growth tolerance, if any (else nothing)."""
    final = d["final"]
    looser = [(rate, tol) for rate, tol in zip(final["checked_rates"],
                                               final.get("checked_tolerances", []), strict=False)
              if tol > ft.tolerance("float64", final["steps"])]
    if not looser:
        return ""
    return " (at " + ", ".join(f"{num(rate, 3)} within {tol:.0e}" for rate, tol in looser) + (
        ": those runs amplify rounding, measured as for the ramp)")


def lr_finder_alt(d: Mapping) -> str:
    """The alt text: what the two panels show, with the suggestions and their outcomes."""
    finite = [v for v in d["smoothed"] if math.isfinite(v)]
    lowest = min(finite)
    low_rate = d["learning_rates"][d["smoothed"].index(lowest)]
    suggestions = "; ".join(
        f"{name} suggestion {num(rate, 3)} (its whole run ends at loss "
        f"{num(_final_at(d, rate))})" for name, rate in _suggestions(d))
    best_rate, best_loss = _best_rate(d)
    return (
        "Two panels sharing a logarithmic learning-rate axis from 1e-7 to 10. Top: the "
        f"range test's smoothed loss stays near {num(d['smoothed'][0], 3)} for small rates, "
        f"falls to its lowest, {num(lowest, 3)}, at lr {num(low_rate, 3)}, then rises, with the "
        f"noisy mini-batch losses scattered around it; {suggestions}. Bottom: the final loss "
        "of a whole training run at each constant rate, lowest "
        f"({num(best_loss, 3)}) at lr {num(best_rate, 3)}, with the suggestions marked by "
        "the same vertical lines."
    )
