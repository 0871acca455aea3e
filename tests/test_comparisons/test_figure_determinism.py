"""The committed figure data has the same bits on every machine (issue 13, item 5).

``python -m comparisons all`` rewrites ``figures/``; if a stored number depended on the
CPU (XLA's or LAPACK's last bit, NumPy's SIMD ``pow``), a fresh clone on another machine
would show ``figures/figure-data.json`` modified. So every number of the learning-rate
sweep's data is the exact mathematical value rounded once, which these tests compute
independently: 60-digit decimal powers of ten for the rates, rational arithmetic for
the losses and the stability limit. (The byte-for-byte comparison of every rendered
file with the committed one is ``test_figures.py``'s
``test_committed_figures_are_byte_identical_on_the_pinned_versions``.)
"""

from __future__ import annotations

import decimal
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from comparisons import figures
from comparisons.experiments import REGISTRY
from functional_training import from_json_float

COMMITTED = Path(__file__).resolve().parents[2] / "figures" / figures.DATA_FILE


@pytest.fixture(scope="module")
def sweep():
    """The lr-sweep data as ``python -m comparisons figures`` computes it now."""
    return figures.figure_data(only=("lr-sweep",))["figures"]["lr-sweep"]


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
