"""The learning-rate finder (comparisons.figures.lr_finder): rules, verified data, figure.

The course figure's data comes from the session's verified run (conftest's
``data``); expected values are computed here independently: the ramp's rates
and the smoothing in NumPy float64, the suggestions by the definitions written
out again below, the final losses by the ``torch`` backend (float64) at a
constant rate. Closeness: the rates and the smoothing are one or two roundings
from NumPy's, so rtol = 1e-14; losses from two implementations of a 100-step run
meet the verification tolerance, float64 rtol = atol = 1e-12
(functional_training.tolerance).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import functional_training as ft
from comparisons.backends import get_backend
from comparisons.experiments import REGISTRY
from comparisons.figures import lr_finder
from comparisons.figures.classifiers import MOONS
from comparisons.spec import load_spec

from .drawn import by_gid, draw

TOL = ft.tolerance("float64", 0)


def numpy_smoothed(losses, beta):
    """The bias-corrected EMA, as a weighted mean: s_k = sum beta^(k-i) l_i / sum beta^(k-i)."""
    losses = np.asarray(losses, dtype=np.float64)
    out = []
    for k in range(losses.size):
        weights = beta ** np.arange(k, -1, -1, dtype=np.float64)
        out.append(float(weights @ losses[:k + 1] / weights.sum()))
    return np.array(out)


def test_smoothing_is_the_bias_corrected_moving_average():
    losses = [1.0, 3.0, 2.0, 0.5, 4.0]
    np.testing.assert_allclose(lr_finder.smoothed_losses(losses, 0.7),
                               numpy_smoothed(losses, 0.7), rtol=1e-14, atol=0)
    assert lr_finder.smoothed_losses([5.0], 0.98) == [5.0]  # bias correction: no pull to 0


def test_stop_rule_is_four_times_the_lowest_before_or_non_finite():
    assert lr_finder.stop_step([2.0, 1.0, 4.0, 4.1]) == 3  # 4.1 > 4 * 1.0, 4.0 is not
    assert lr_finder.stop_step([1.0, float("nan")]) == 1
    assert lr_finder.stop_step([1.0, 3.9, 0.5]) is None


def test_steepest_is_the_largest_drop_per_decade_and_valley_the_longest_fall():
    rates = [1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2]
    smoothed = [1.0, 0.9, 0.5, 0.45, 0.44, 0.6]
    assert lr_finder.steepest_step(smoothed, rates) == 1  # 0.9 -> 0.5 is the steepest
    assert lr_finder.valley_stretch(smoothed) == (0, 4)
    # uneven spacing: the slope is per decade, not per step
    assert lr_finder.steepest_step([1.0, 0.8, 0.7], [1.0, 100.0, 110.0]) == 1
    assert lr_finder.valley_stretch([1.0, 0.5, 0.6, 0.5, 0.4, 0.3]) == (2, 5)
    assert lr_finder.valley_stretch([1.0, 1.0, 1.0]) is None


def test_the_finder_refuses_runs_it_cannot_ramp():
    assert lr_finder.finder_applies(REGISTRY[MOONS]) is None
    assert "not 'none'" in lr_finder.finder_applies(
        dataclasses.replace(REGISTRY["full-batch"], optimizer="none", hyperparams={}))
    with pytest.raises(ValueError, match="not kind 'shared-path'"):
        lr_finder.lr_finder_data(REGISTRY["shared-path"])
    # the whole runs at each rate would train b too: their final losses would not be this run's
    assert lr_finder.finder_applies(REGISTRY["train-validation"]) == (
        "the learning-rate finder's whole runs are one functional_training.sweep, which trains "
        "every parameter; this spec freezes b")


def test_course_lr_finder_is_the_verified_ramp_and_its_suggestions(data, trajectories):
    d = data["figures"]["lr-finder"]
    steps = len(d["learning_rates"])
    assert steps == lr_finder.RAMP_STEPS and d["stop_step"] is None  # the moons ramp never stops
    expected_rates = 1e-7 * 1e8 ** (np.arange(steps) / 99.0)
    np.testing.assert_allclose(d["learning_rates"], expected_rates, rtol=1e-14, atol=0)
    assert d["initial_loss"] == trajectories(MOONS)["manual"].train_loss[0]
    smoothed = numpy_smoothed(d["batch_loss"], lr_finder.SMOOTHING)
    np.testing.assert_allclose(d["smoothed"], smoothed, rtol=1e-14, atol=0)
    slopes = np.diff(smoothed) / np.diff(np.log10(expected_rates))
    assert d["steepest"]["step"] == int(np.argmin(slopes))
    falls = np.diff(smoothed) < 0
    runs = [(i, j) for i in range(steps) for j in range(i + 1, steps) if falls[i:j].all()]
    longest = max(j - i for i, j in runs)
    start, end = min((i, j) for i, j in runs if j - i == longest)
    assert (d["valley"]["start"], d["valley"]["end"]) == (start, end)
    assert d["valley"]["rate"] == d["learning_rates"][start + (end - start) // 2]
    assert d["ramp_backends"] == data["backends"] and d["ramp_tolerance"] == TOL


def test_the_whole_runs_match_torch_at_the_valley_rate(data):
    d = data["figures"]["lr-finder"]
    final = d["final"]
    rate = d["valley"]["rate"]
    assert rate in final["learning_rates"] and d["steepest"]["rate"] in final["learning_rates"]
    assert len(final["learning_rates"]) == len(lr_finder.FINAL_RATES) + 2
    moons = REGISTRY[MOONS]
    run = dataclasses.replace(moons, schedule=None, hyperparams={"learning_rate": rate},
                              batch_size=lr_finder.RAMP_BATCH_SIZE, seed=0)
    expected = get_backend("torch").run(run, dtype="float64").train_loss[-1]
    actual = final["final_loss"][final["learning_rates"].index(rate)]
    assert abs(actual - expected) <= TOL * (1 + abs(expected))


def test_the_lr_finder_figure_marks_both_suggestions_on_both_panels(data):
    fig = draw("lr-finder", data)
    d = data["figures"]["lr-finder"]
    for name in ("steepest", "valley"):
        for panel in (0, 1):
            line = by_gid(fig, f"{name} line {panel}")
            assert line.get_xdata()[0] == d[name]["rate"]
        assert by_gid(fig, f"{name} run").get_xdata()[0] == d[name]["rate"]
    assert list(by_gid(fig, "smoothed loss").get_ydata()) == d["smoothed"]
    assert "steepest" in fig.get_suptitle() and "valley" in fig.get_suptitle()


# --- unstable rates: verification under the rounding growth a shadow run measures ---------

DIVERGING = "examples/diverging-rate.toml"


def _spec_experiment(path: str):
    return load_spec(Path(__file__).resolve().parents[3] / path)


def test_rounding_growth_stays_near_one_on_a_stable_run_and_grows_past_the_limit():
    # full-batch: 20 steps at lr 0.08 on the shipments, under the stability limit 2/lambda_max.
    assert lr_finder.rounding_growth(REGISTRY["full-batch"]) < 10
    # Its range test ramps the rate to 10, far past the limit, while the parameters still sit
    # near the fit: a change of one rounding unit grows by orders of magnitude.
    ramp = lr_finder.ramp_experiment(REGISTRY["full-batch"])
    stop = lr_finder.stop_step(lr_finder.smoothed_losses(
        get_backend("manual").run(ramp, dtype="float64").batch_loss))
    assert lr_finder.rounding_growth(dataclasses.replace(ramp, steps=stop + 1)) > 1e3


def test_a_diverging_spec_is_verified_under_its_measured_growth_and_drawn():
    experiment = _spec_experiment(DIVERGING)
    d = lr_finder.lr_finder_data(experiment)
    growth = d["ramp_growth"]
    assert growth > 1.0  # the float64 tolerance alone refused it (the reason for the growth)
    assert d["ramp_tolerance"] == TOL * growth <= lr_finder.MAX_VERIFIED_TOLERANCE
    assert d["stop_step"] is not None and len(d["batch_loss"]) == d["stop_step"] + 1
    assert "amplify rounding" in lr_finder.lr_finder_caption(d, {"backends": d["ramp_backends"],
                                                                 "tolerance": TOL})


def test_a_real_disagreement_is_still_refused_under_the_growth(monkeypatch):
    # A backend whose w is off by 1e-3 of its size at one step, where w has grown to the
    # fit's order (a convention bug's size), stays refused: the growth tolerance is at most
    # MAX_VERIFIED_TOLERANCE, 1e-6, of the values' scale.
    real = lr_finder.run_and_compare

    def one_backend_wrong(experiment, *, backends=None):
        trajectories, _ = real(experiment, backends=backends)
        w = trajectories["jax"].params["w"]
        step = int(np.argmax(np.abs(w[:-3])))
        assert abs(w[step]) > 1.0  # the fit is w = 2
        w[step] *= 1.0 + 1e-3
        return trajectories, lr_finder.compare_trajectories(experiment, trajectories)

    monkeypatch.setattr(lr_finder, "run_and_compare", one_backend_wrong)
    with pytest.raises(lr_finder.UnverifiedTrajectoryError, match="jax differs from manual"):
        lr_finder.lr_finder_data(_spec_experiment(DIVERGING))


def test_a_growth_beyond_the_loosest_tolerance_is_refused(monkeypatch):
    monkeypatch.setattr(lr_finder, "MAX_VERIFIED_TOLERANCE", 1e-11)
    with pytest.raises(lr_finder.UnverifiedTrajectoryError,
                       match=r"the range test amplifies rounding .* times, beyond what a "
                             r"tolerance of 1e-11 can verify"):
        lr_finder.lr_finder_data(_spec_experiment(DIVERGING))
