"""The stability limit 2 / lambda_max against closed forms and against fine sweeps."""

from __future__ import annotations

import math

import numpy as np
import pytest

import functional_training as ft

# The requirement: a fine sweep's divergence point within 1e-3 of the limit.
DIVERGENCE_TOL = 1e-3
# Rate grid spacing: well under DIVERGENCE_TOL so the grid itself is not the limit.
GRID_STEP = 1e-4


def _closed_form_limit(x) -> float:
    """2 / lambda_max of [[E x^2, E x], [E x, 1]] from the 2x2 eigenvalue formula."""
    x = np.asarray(x, np.float64)
    a, b, c = np.mean(x * x), np.mean(x), 1.0
    lam = (a + c) / 2 + math.sqrt(((a - c) / 2) ** 2 + b * b)
    return 2.0 / lam


def _random_data(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    x = rng.normal(rng.uniform(-1.5, 1.5), rng.uniform(0.2, 1.5), size=n)
    y = rng.uniform(-3, 3) * x + rng.uniform(-2, 2) + rng.normal(0, 0.5, size=n)
    return x, y


def _fine_sweep_divergence(x, y, init, *, steps, method="auto", high=2.5):
    """Observed divergence of a fine full-batch sweep over [0.01, high)."""
    rates = np.arange(0.01, high, GRID_STEP)
    with ft.float64():
        result = ft.sweep_learning_rates(init, x, y, rates, steps=steps, record_every=steps,
                                         method=method)
    return ft.observed_divergence(rates, result.losses, result.first_nonfinite_step), result


def test_one_shipment_limit_is_0_4():
    # H = [[4, 2], [2, 1]]: eigenvalues 5 and 0, so 2 / 5.
    np.testing.assert_array_equal(ft.loss_hessian([2.0], [6.0]), [[4.0, 2.0], [2.0, 1.0]])
    assert ft.stability_limit([2.0], [6.0]) == pytest.approx(0.4, abs=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_limit_matches_closed_form(seed):
    x, y = _random_data(seed)
    # eigvalsh vs the 2x2 formula: both float64, a few ulps apart.
    assert ft.stability_limit(x, y) == pytest.approx(_closed_form_limit(x), rel=1e-12)


@pytest.mark.parametrize(
    ("data", "init"),
    [((np.array([2.0]), np.array([6.0])), (1.0, 0.0)),
     ((np.array([1.0, 2.0, 3.0]), np.array([3.0, 5.0, 7.0])), (0.0, 0.0))],
    ids=["one-shipment", "shipments"],
)
@pytest.mark.parametrize("method", ["moments", "autodiff"])
def test_lesson_sweep_diverges_at_the_limit(data, init, method):
    x, y = data
    observed, result = _fine_sweep_divergence(x, y, ft.LinearParams(*init), steps=3000,
                                              method=method, high=1.0)
    limit = ft.stability_limit(x, y)
    assert observed is not None
    assert abs(observed - limit) <= DIVERGENCE_TOL, (observed, limit)
    assert observed >= limit  # below the limit the loss never grows
    stable = result.learning_rates < limit
    assert (result.first_nonfinite_step[stable] == -1).all()


@pytest.mark.parametrize("seed", range(6))
def test_random_sweeps_diverge_at_the_limit(seed):
    x, y = _random_data(seed)
    rng = np.random.default_rng(100 + seed)
    init = ft.LinearParams(*rng.normal(0, 2, size=2))
    limit = ft.stability_limit(x, y)
    assert 0.01 < limit < 2.5  # inside the swept grid for these data sets
    observed, _ = _fine_sweep_divergence(x, y, init, steps=8000)
    assert observed is not None
    assert abs(observed - limit) <= DIVERGENCE_TOL, (observed, limit)


def test_several_features_sweep_diverges_at_the_limit():
    # Two features: the limit comes from a 3x3 Hessian; the sweep uses the autodiff path.
    rng = np.random.default_rng(7)
    x = rng.normal(1.0, 1.2, size=(20, 2))
    y = x @ np.array([1.5, -0.5]) + 0.3 + rng.normal(0, 0.1, size=20)
    init = ft.LinearParams(np.array([-1.0, 1.0]), 0.5)
    limit = ft.stability_limit(x, y)
    assert 0.01 < limit < 1.2
    observed, result = _fine_sweep_divergence(x, y, init, steps=1500, high=1.2)
    assert result.method == "autodiff" and observed is not None
    assert abs(observed - limit) <= DIVERGENCE_TOL, (observed, limit)


def test_observed_divergence_none_when_all_stable():
    assert ft.observed_divergence([0.1, 0.2], [[8.0, 1.0], [8.0, 0.5]]) is None
    assert ft.observed_divergence([0.1, 0.2], [[8.0, 1.0], [8.0, np.nan]]) == 0.2
    assert ft.observed_divergence([0.1, 0.2], [[8.0, 1.0], [8.0, 0.5]], [3, -1]) == 0.1
    with pytest.raises(ValueError, match="shape"):
        ft.observed_divergence([0.1, 0.2], [[8.0, 1.0]])


def test_stability_limit_rejects_bad_data():
    with pytest.raises(ValueError, match="empty"):
        ft.stability_limit([], [])
    with pytest.raises(ValueError, match="non-finite"):
        ft.stability_limit([1.0, np.inf], [1.0, 2.0])
