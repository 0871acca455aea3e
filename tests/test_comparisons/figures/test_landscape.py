"""The loss-landscape figure (comparisons.figures.landscape): directions, grid, projection.

Expected values come from an independent NumPy float64 forward of the 2-16-16-1
ReLU network with the hinge loss and L2 penalty (written here from the
formulas), from ``numpy.linalg.lstsq`` for the projection, and from the
verified trajectory the ``trajectories`` fixture recorded.
"""

from __future__ import annotations

import numpy as np
import pytest

from comparisons.experiments import REGISTRY
from comparisons.figures.landscape import (
    LANDSCAPE_CELLS,
    LANDSCAPE_EXPERIMENT,
    LANDSCAPE_FIGURES,
    LANDSCAPE_SEED,
    captured_share,
    filter_normalised_direction,
    project_path,
)

from .drawn import by_gid, draw

MOONS = REGISTRY[LANDSCAPE_EXPERIMENT]
LAYERS = len(MOONS.model_settings["sizes"]) - 1
# Stored losses are rounded to 10 significant digits; the NumPy forward sums in another
# order (float64, ~1e-15). 1e-9 relative covers the rounding; a wrong point is off by 1e-3+.
STORED_RTOL = 1e-9


def leaves(values: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(w, b)]`` per layer from scalar names ``layers.l.w[i,j]``, ``layers.l.b[j]``."""
    sizes = MOONS.model_settings["sizes"]
    layers = []
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        w = np.array([[values[f"layers.{layer}.w[{i},{j}]"] for j in range(fan_out)]
                      for i in range(fan_in)])
        b = np.array([values[f"layers.{layer}.b[{j}]"] for j in range(fan_out)])
        layers.append((w, b))
    return layers


def numpy_loss(values: dict) -> float:
    """Mean hinge loss ``max(0, 1 - t s)`` of the ReLU network plus ``l2 * sum theta^2``."""
    x = np.array([row[:2] for row in MOONS.train])
    t = np.array([row[2] for row in MOONS.train])
    h = x
    layers = leaves(values)
    for k, (w, b) in enumerate(layers):
        h = h @ w + b
        if k < len(layers) - 1:
            h = np.maximum(h, 0.0)
    penalty = sum(np.sum(w**2) + np.sum(b**2) for w, b in layers)
    return float(np.mean(np.maximum(0.0, 1.0 - t * h[:, 0])) + MOONS.l2 * penalty)


@pytest.fixture(scope="module")
def moons_final(trajectories) -> dict:
    run = trajectories(LANDSCAPE_EXPERIMENT)["manual"]
    return {name: series[-1] for name, series in run.params.items()}


def test_directions_are_filter_normalised_per_output_unit_biases_zero(moons_final):
    rng = np.random.default_rng(LANDSCAPE_SEED)
    d = filter_normalised_direction(rng, MOONS, moons_final)
    raw = np.random.default_rng(LANDSCAPE_SEED)  # the same draws, layer by layer
    for (dw, db), (w, _) in zip(leaves(d), leaves(moons_final), strict=True):
        draw_ = raw.standard_normal(w.shape)
        assert np.all(db == 0.0)
        np.testing.assert_allclose(np.linalg.norm(dw, axis=0), np.linalg.norm(w, axis=0),
                                   rtol=1e-14)
        # each column is the raw draw's column, rescaled (same direction)
        scale = np.linalg.norm(w, axis=0) / np.linalg.norm(draw_, axis=0)
        np.testing.assert_allclose(dw, draw_ * scale, rtol=1e-14, atol=0.0)


def test_projection_is_numpys_least_squares():
    rng = np.random.default_rng(5)
    names = [f"p{i}" for i in range(7)]
    d1, d2, centre, theta = (dict(zip(names, rng.normal(size=7), strict=True))
                             for _ in range(4))
    (alpha,), (beta,) = project_path([theta], centre, d1, d2)
    matrix = np.column_stack([[d1[n] for n in names], [d2[n] for n in names]])
    delta = np.array([theta[n] - centre[n] for n in names])
    (a, b), *_ = np.linalg.lstsq(matrix, delta, rcond=None)
    np.testing.assert_allclose([alpha, beta], [a, b], rtol=1e-12)
    plane = matrix @ np.array([a, b])
    assert captured_share(theta, centre, d1, d2) == pytest.approx(
        plane @ plane / (delta @ delta), rel=1e-12)


def test_grids_are_the_numpy_loss_on_the_seeded_plane(data, trajectories, moons_final):
    figure = data["figures"]["loss-landscape"]
    run = trajectories(LANDSCAPE_EXPERIMENT)["manual"]
    assert figure["seed"] == LANDSCAPE_SEED and figure["parameters"] == len(moons_final) == 337
    rng = np.random.default_rng(LANDSCAPE_SEED)
    d1 = filter_normalised_direction(rng, MOONS, moons_final)
    d2 = filter_normalised_direction(rng, MOONS, moons_final)
    points = np.random.default_rng(11)
    for part in (figure["wide"], figure["zoom"]):
        cells = len(part["alphas"]) - 1
        assert cells == LANDSCAPE_CELLS and part["alphas"] == part["betas"]
        assert part["alphas"][0] == -part["span"] and part["alphas"][-1] == part["span"]
        centre = part["loss"][cells // 2][cells // 2]
        assert centre == pytest.approx(run.train_loss[-1], rel=STORED_RTOL)
        for i, j in [*points.integers(0, cells + 1, size=(4, 2)).tolist(), [0, cells]]:
            a, b = part["alphas"][i], part["betas"][j]
            values = {n: moons_final[n] + a * d1[n] + b * d2[n] for n in moons_final}
            assert part["loss"][j][i] == pytest.approx(numpy_loss(values), rel=STORED_RTOL)
    assert figure["wide"]["span"] == 1.0
    assert max(map(abs, figure["path_alpha"] + figure["path_beta"])) <= figure["zoom"]["span"]


def test_the_path_is_the_verified_run_projected(data, trajectories, moons_final):
    figure = data["figures"]["loss-landscape"]
    run = trajectories(LANDSCAPE_EXPERIMENT)["manual"]
    assert figure["path_loss"] == run.train_loss and figure["steps"] == MOONS.steps
    names = list(moons_final)
    rng = np.random.default_rng(LANDSCAPE_SEED)
    d1 = filter_normalised_direction(rng, MOONS, moons_final)
    d2 = filter_normalised_direction(rng, MOONS, moons_final)
    matrix = np.column_stack([[d1[n] for n in names], [d2[n] for n in names]])
    path = np.array([run.params[n] for n in names]).T - np.array([moons_final[n] for n in names])
    coefficients, *_ = np.linalg.lstsq(matrix, path.T, rcond=None)
    np.testing.assert_allclose(figure["path_alpha"], coefficients[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(figure["path_beta"], coefficients[1], rtol=1e-9, atol=1e-12)
    assert figure["path_alpha"][-1] == figure["path_beta"][-1] == 0.0
    assert 0.0 < figure["captured_share"] < 0.1  # random directions miss most of the path


def test_loss_landscape_draws_both_slices_and_states_the_seed(data):
    figure = data["figures"]["loss-landscape"]
    fig = draw("loss-landscape", data)
    for title in ("the slice, ±1", f"zoomed on the projected path, ±{figure['zoom']['span']:g}"):
        path = by_gid(fig, f"path {title}")
        assert list(path.get_xdata()) == figure["path_alpha"]
    row = LANDSCAPE_FIGURES[0]
    caption = row.caption(figure, data)
    assert f"numpy.random.default_rng({LANDSCAPE_SEED})" in caption
    assert "biases get direction 0" in caption and "least squares" in caption
    assert "Li et al. (2018)" in caption
