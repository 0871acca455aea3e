"""The learning-rate sweep's data (comparisons.figures.lr_sweep): checked, exact everywhere.

``python -m comparisons all`` rewrites ``figures/``; if a stored number depended on the
CPU (XLA's or LAPACK's last bit, NumPy's SIMD ``pow``), a fresh clone on another machine
would show ``figures/figure-data.json`` modified. So every number of the sweep's data
is the exact mathematical value rounded once, which these tests compute independently:
60-digit decimal powers of ten for the rates, rational arithmetic for the losses and
the stability limit. The sweep itself must follow the closed form of the one-shipment
problem (loss after S updates ``8 (1 - 5 lr)^(2S)``, Hessian ``[[x^2, x], [x, 1]]``) and
the NumPy float64 reference, and a sweep that disagrees with the verified runs is
refused. (The byte-for-byte comparison of every rendered file with the committed one
is ``test_course.py``'s ``test_committed_figures_are_byte_identical_on_the_pinned_versions``.)
"""

from __future__ import annotations

import decimal
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from numpy_reference import numpy_sgd

import functional_training as ft
from comparisons import figures
from comparisons.experiments import REGISTRY
from functional_training import from_json_float

from .drawn import by_gid, draw

# float64 policy (functional_training.tolerance): see test_lessons.py.
TOL64 = ft.tolerance("float64", 0)
COMMITTED = Path(__file__).resolve().parents[3] / "figures" / figures.DATA_FILE


@pytest.fixture(scope="module")
def sweep(data):
    """The lr-sweep data as ``python -m comparisons figures`` computes it now."""
    return data["figures"]["lr-sweep"]


def _powers_of_ten(count: int) -> list[float]:
    """``10 ** (-3 + 4.5 i / (count - 1))``, from 60 significant digits, rounded once."""
    with decimal.localcontext() as context:
        context.prec = 60
        return [float(decimal.Decimal(10) ** (decimal.Decimal(-3) + decimal.Decimal("4.5") * i
                                              / (count - 1))) for i in range(count)]



def test_the_swept_rates_are_correctly_rounded_powers_of_ten():
    assert figures.SWEEP_RATES.tolist() == _powers_of_ten(1201)


def test_the_sweeps_final_losses_are_the_exact_closed_form(sweep):
    # One shipment x = 2, y = 6 from w = 1, b = 0: e_0 = -4, each update multiplies the
    # error by 1 - 5 lr, so the loss after S updates is 8 (1 - 5 lr)^(2 S), exactly.
    one = REGISTRY[figures.LESSON_RATES[0]]
    assert (one.train, one.init) == (((2.0, 6.0),), {"w": 1.0, "b": 0.0})
    steps, largest = sweep["steps"], Fraction(float(np.finfo(np.float64).max))
    exact_count = 0
    for rate, loss in zip(sweep["learning_rates"], sweep["final_loss"], strict=True):
        exact = 8 * (1 - 5 * Fraction(rate)) ** (2 * steps)
        if math.isfinite(loss):
            assert loss == float(exact), rate  # bit for bit
            exact_count += 1
        else:  # an overflow of the sweep, kept as it is: the exact loss is that large too
            assert loss == math.inf and exact > largest / 4, rate
    assert exact_count > 1000


def test_the_stability_limit_is_exactly_two_fifths(sweep):
    assert sweep["stability_limit"] == float(Fraction(2, 5)) == 0.4


def test_the_committed_sweep_data_is_the_exact_data(sweep):
    committed = json.loads(COMMITTED.read_text())["figures"]["lr-sweep"]
    for key in ("learning_rates", "final_loss", "stability_limit", "first_nonfinite_step",
                "divergence_rate"):
        value = committed[key]
        if isinstance(value, list):
            value = [v if v is None or isinstance(v, int) else from_json_float(v) for v in value]
        assert value == sweep[key], key


def test_lr_sweep_marks_the_analytic_limit_and_the_sweeps_own(data):
    sweep = data["figures"]["lr-sweep"]
    rates = np.array(sweep["learning_rates"])
    final = np.array(sweep["final_loss"])
    assert rates.size >= 1000 and np.all(np.diff(rates) > 0)
    x = 2.0
    hessian = np.array([[x * x, x], [x, 1.0]])
    limit = 2.0 / np.linalg.eigvalsh(hessian).max()
    assert abs(limit - 2.0 / (x * x + 1.0)) <= TOL64  # lambda_max = x^2 + 1 = 5
    assert abs(sweep["stability_limit"] - limit) <= TOL64
    # Closed form: the loss after S updates is 8 (1 - 5 lr)^(2S), so it falls exactly below
    # the limit and grows above it; the sweep's divergence point is the first rate past it.
    above = rates > limit
    assert sweep["divergence_rate"] == rates[above].min()
    assert np.all(final[~above] < sweep["initial_loss"])
    assert np.all(~np.isfinite(final[above]) | (final[above] > sweep["initial_loss"]))

    fig = draw("lr-sweep", data)
    for gid, value in (("stability limit", limit), ("divergence rate", sweep["divergence_rate"])):
        marks = fig.findobj(lambda a, g=gid: a.get_gid() == g)
        assert len(marks) == 2, gid  # on both panels
        assert all(abs(mark.get_xdata()[0] - value) <= TOL64 for mark in marks), gid
    drawn = by_gid(fig, "final loss")
    shown = np.isfinite(final) & (final >= 1e-30)
    np.testing.assert_array_equal(drawn.get_xdata(), rates[shown])
    np.testing.assert_array_equal(drawn.get_ydata(), final[shown])
    steps_at = by_gid(fig, "first non-finite step")
    overflowed = [s is not None for s in sweep["first_nonfinite_step"]]
    np.testing.assert_array_equal(steps_at.get_xdata(), rates[overflowed])


def test_lr_sweep_values_follow_the_closed_form(data):
    sweep = data["figures"]["lr-sweep"]
    steps = sweep["steps"]
    rates = np.array(sweep["learning_rates"])
    final = np.array(sweep["final_loss"])
    factor = np.abs(1.0 - 5.0 * rates)
    with np.errstate(over="ignore"):
        error = 4.0 * factor**steps
    # Where |e_S| >= 1e-3 the absolute rounding of e (~1e-15 from forming 2w + b - 6) is at
    # most 1e-12 of it, and S = 100 updates add ~100 ulps: rtol 1e-9 leaves room for both.
    clean = (error >= 1e-3) & (error <= 1e150)
    assert clean.sum() > 500
    np.testing.assert_allclose(final[clean], 0.5 * error[clean] ** 2, rtol=1e-9)
    # Overflow: the loss first exceeds the float64 maximum at k* = ceil(log(max / 8) / (2 log f)).
    f_max = np.finfo(np.float64).max
    for rate, first in zip(rates, sweep["first_nonfinite_step"], strict=True):
        f = abs(1.0 - 5.0 * rate)
        expected = math.ceil(math.log(f_max / 8.0) / (2.0 * math.log(f))) if f > 1 else math.inf
        if expected <= steps - 1:
            assert first is not None and abs(first - expected) <= 1, rate
        elif expected > steps + 1:
            assert first is None, rate


def test_lr_sweep_equals_the_numpy_reference_at_the_lessons_rates(data):
    sweep = data["figures"]["lr-sweep"]
    for rate in sweep["lesson_rates"]:
        i = sweep["learning_rates"].index(rate)
        reference = numpy_sgd(1.0, 0.0, [2.0], [6.0], rate, sweep["steps"])["train_loss"][-1]
        assert abs(sweep["final_loss"][i] - reference) <= TOL64 + TOL64 * abs(reference), rate



def test_rendering_refuses_a_sweep_that_disagrees_with_the_verified_runs(monkeypatch, tmp_path):
    real = ft.sweep_learning_rates

    def shifted(*args, **kwargs):
        result = real(*args, **kwargs)
        losses = result.losses.copy()
        losses[:, 3] *= 1.0 + 1e-9
        return result._replace(losses=losses)

    monkeypatch.setattr(ft, "sweep_learning_rates", shifted)
    with pytest.raises(figures.UnverifiedTrajectoryError, match=r"lr-sweep: .* step 3"):
        figures.figure_data(backends=("manual",), only=("lr-sweep",))
