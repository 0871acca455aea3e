"""The momentum-map figure: every cell against an independent NumPy float64 heavy-ball loop,
the measured region against the closed form, the runs verified on every backend, the drawing.

The figure's data comes from the session's ``figure_data()`` (``conftest.py``); the
references here are written from the formulas, not from the module under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from comparisons.figures import UnverifiedTrajectoryError
from comparisons.figures import momentum_map as mm

from .drawn import by_gid, draw, visible_texts

ROWS = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 0.5], [0.0, -0.5]])  # target 0 for every row
START = np.array([1.0, 1.0, 0.0])  # w_1, w_2, b


def _heavy_ball(rates, betas, steps: int) -> np.ndarray:
    """Losses ``(L, B, S + 1)`` of heavy ball on the line ``x @ w + b`` (target 0), NumPy
    float64, written from torch.optim.SGD's documented update: ``buf = beta buf + grad``,
    ``theta = theta - rate buf``, with ``grad = X^T (X theta) / n``."""
    x = np.column_stack([ROWS, np.ones(len(ROWS))])
    rate = np.asarray(rates, np.float64)[:, None, None]
    beta = np.asarray(betas, np.float64)[None, :, None]
    theta = np.broadcast_to(START, (len(rates), len(betas), 3)).copy()
    buf = np.zeros_like(theta)
    out = np.empty((len(rates), len(betas), steps + 1))
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            error = theta @ x.T
            out[..., k] = np.mean(error**2, axis=-1) / 2
            buf = beta * buf + error @ x / len(x)
            theta = theta - rate * buf
    return out


def _first(mask: np.ndarray) -> np.ndarray:
    return np.where(mask.any(-1), mask.argmax(-1), -1)


@pytest.fixture(scope="module")
def reference(data):
    """The test's own heavy-ball losses over the figure's grid, and its figure data."""
    figure = data["figures"]["momentum-map"]
    losses = _heavy_ball(figure["learning_rates"], figure["momenta"], figure["steps"])
    return figure, losses


def test_every_cell_is_the_step_an_independent_loop_finds(reference):
    figure, losses = reference
    start = losses[..., :1]
    with np.errstate(invalid="ignore"):
        low = _first(losses <= figure["converged_below"] * start)
        high = _first(~np.isfinite(losses) | (losses > figure["diverged_above"] * start))
    converged = np.where((low >= 0) & ((high < 0) | (low < high)), low, -1)
    diverged = np.where((high >= 0) & (converged < 0), high, -1)
    as_array = lambda rows: np.array([[-1 if s is None else s for s in r] for r in rows])  # noqa: E731
    np.testing.assert_array_equal(as_array(figure["converged_step"]), converged)
    np.testing.assert_array_equal(as_array(figure["diverged_step"]), diverged)
    # No cell sits on a threshold: the loss at each run's deciding step, and at every step
    # before it, is more than 1e-6 (relative) from the threshold it is compared with, so
    # rounding differences between machines (~1e-12 here) cannot move a step.
    for threshold, steps in ((figure["converged_below"], converged),
                             (figure["diverged_above"], diverged)):
        for (i, j), k in np.ndenumerate(steps):
            if k > 0:
                ratio = losses[i, j, : k + 1] / (threshold * start[i, j, 0])
                finite = ratio[np.isfinite(ratio)]
                assert np.abs(np.log(finite)).min() > 1e-6, (i, j, k)
    assert (converged >= 0).sum() > 1000 and (diverged >= 0).sum() > 300


def test_the_measured_region_ends_at_the_closed_form(reference):
    figure, _ = reference
    hessian = np.column_stack([ROWS, np.ones(4)]).T @ np.column_stack([ROWS, np.ones(4)]) / 4
    eigenvalues = np.linalg.eigvalsh(hessian)  # 0.125, 1, 2
    np.testing.assert_allclose(figure["eigenvalues"], eigenvalues, rtol=0, atol=1e-15)
    rates = np.asarray(figure["learning_rates"])[:, None]
    betas = np.asarray(figure["momenta"])[None, :]
    ratio = rates * eigenvalues[-1] / (2 * (1 + betas))  # < 1 iff every mode converges
    converged = np.array([[s is not None for s in r] for r in figure["converged_step"]])
    diverged = np.array([[s is not None for s in r] for r in figure["diverged_step"]])
    assert (ratio[converged] < 1).all() and (ratio[diverged] > 1).all()
    assert diverged[ratio > 1.05].all()  # past the line, every run blows up within S steps
    # Polyak's fastest heavy ball for kappa = 16: lr = 4 / (sqrt 2 + sqrt 0.125)^2 = 1.28,
    # beta = ((4 - 1) / (4 + 1))^2 = 0.36 (float64 of those, to one ulp)
    np.testing.assert_allclose([figure["fastest_theory"]["learning_rate"],
                                figure["fastest_theory"]["momentum"]], [1.28, 0.36],
                               rtol=2e-16, atol=0)
    fewest = min(s for r in figure["converged_step"] for s in r if s is not None)
    assert figure["fastest_measured"]["steps"] == fewest


def test_the_marked_runs_were_verified_on_every_backend(reference, trajectories):
    figure, losses = reference
    assert len(figure["verified_cells"]) == len(mm.VERIFIED_CELLS) == 3
    for cell, (i, j) in zip(figure["verified_cells"], mm.VERIFIED_CELLS, strict=True):
        assert (cell["learning_rate"], cell["momentum"]) == (figure["learning_rates"][i],
                                                             figure["momenta"][j])
        runs = trajectories(f"momentum-map/lr={cell['learning_rate']:.4g},"
                            f"beta={cell['momentum']:g}")
        assert sorted(runs) == sorted(figure["verified_backends"])
        assert len(runs) == 4
        for backend, run in runs.items():
            # float64, the same few flops in another order: 1e-10 relative over 40 steps
            np.testing.assert_allclose(run.train_loss, losses[i, j, : len(run.train_loss)],
                                       rtol=1e-10, atol=1e-15, err_msg=backend)


def test_the_drawing_shows_the_boundary_and_the_marks(data):
    figure = data["figures"]["momentum-map"]
    fig = draw("momentum-map", data)
    line = by_gid(fig, "closed-form-boundary")
    np.testing.assert_allclose(line.get_xdata(), 2 * (1 + line.get_ydata()) / 2, rtol=1e-15)
    star = by_gid(fig, "fastest-theory")
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (1.28, 0.36)
    assert len(by_gid(fig, "verified-cells").get_xdata()) == 3
    texts = visible_texts(fig)
    assert any(t.startswith("Momentum widens the stable rates") for t in texts)
    assert f"neither within {figure['steps']} steps" in texts


def test_a_sweep_that_disagrees_with_the_numpy_loop_is_refused(reference):
    swept = reference[1].copy()  # the grid's losses, as a sweep that agrees would give them
    swept[5, 7, 30] *= 1 + 1e-6  # over GRID_RTOL, under any threshold
    with pytest.raises(UnverifiedTrajectoryError,
                       match=r"^refusing to draw momentum-map: the sweep's loss at lr=0\.01778, "
                             r"beta=0\.14, step 30"):
        mm._check_grid(swept)
