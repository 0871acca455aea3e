"""Shared checks of the sweep tests: data sets, the tolerance, and "the sweep equals train".

Every run of a sweep must equal :func:`functional_training.train` run alone with
its rate (the same objective, the same optax update, the same batches).
"""

from __future__ import annotations

import numpy as np

import functional_training as ft

# float64 comparisons: the project's one tolerance (functional_training.tolerance):
# independent float64 implementations of these few-flop steps differ by a few ulps
# per step, far below 1e-12, while any formula difference shows at 1e-3 or above.
TOL64 = ft.tolerance("float64", 0)
ONE_SHIPMENT = ([2.0], [6.0])
SHIPMENTS = ([1.0, 2.0, 3.0], [3.0, 5.0, 7.0])


def random_data(seed: int, n: int = 7):
    rng = np.random.default_rng(seed)
    x = rng.normal(rng.uniform(-1.5, 1.5), rng.uniform(0.3, 1.5), size=n)
    y = rng.uniform(-2, 2) * x + rng.uniform(-1, 1) + rng.normal(0, 0.3, size=n)
    return x, y


def finite_prefix(series: np.ndarray, first_bad: int) -> np.ndarray:
    """The entries before the first non-finite step (all of them when first_bad is -1)."""
    return series if first_bad < 0 else series[:first_bad]


def assert_matches_train(result, init, x, y, *, batch_indices=None, exact_tail=True):
    """Rate by rate: the sweep equals `ft.train` with that rate (float64, 1e-12)."""
    k = result.record_every
    for i, rate in enumerate(result.learning_rates):
        traj = ft.train(init, x, y, optimizer=float(rate), steps=result.steps,
                        batch_indices=batch_indices)
        expected_first = traj.first_nonfinite_step
        if batch_indices is not None:
            # Trajectory's definition over what the sweep sees: params, grads and batch loss
            # at every step, the full loss at the recorded steps (0, K, 2K, ...) and at S.
            step = np.arange(result.steps + 1)
            seen = (step % k == 0) | (step == result.steps)
            full_loss = np.where(seen, traj.train_loss, 0)
            expected_first = ft.first_nonfinite(*traj.params, *traj.grads, traj.batch_loss,
                                                full_loss)
        expected_first = -1 if expected_first is None else expected_first
        assert result.first_nonfinite_step[i] == expected_first, rate
        recorded = np.asarray(traj.train_loss)[:: k][: result.losses.shape[1]]
        got = result.losses[i]
        final = {"w": np.asarray(traj.params.w)[-1], "b": np.asarray(traj.params.b)[-1]}
        if not exact_tail and expected_first >= 0:
            keep = (np.arange(got.size) * k) < expected_first
            got, recorded = got[keep], recorded[keep]
        else:
            np.testing.assert_allclose(result.final_loss[i], traj.train_loss[-1], rtol=TOL64,
                                       atol=TOL64)
            np.testing.assert_allclose(result.final_params.w[i], final["w"], rtol=TOL64,
                                       atol=TOL64)
            np.testing.assert_allclose(result.final_params.b[i], final["b"], rtol=TOL64,
                                       atol=TOL64)
        np.testing.assert_allclose(got, recorded, rtol=TOL64, atol=TOL64, err_msg=str(rate))
