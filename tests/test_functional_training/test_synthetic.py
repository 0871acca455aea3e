"""Synthetic shipments: deterministic per seed, the two regimes, and a replayable batch order."""

from __future__ import annotations

import numpy as np
import pytest

import functional_training as ft
from comparisons.experiments import REGISTRY, batch_order


def test_same_seed_same_data_bit_for_bit():
    a = ft.synthetic_shipments(10_000, seed=3)
    b = ft.synthetic_shipments(10_000, seed=3)
    for field in ("x", "y", "peak"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_different_seeds_differ():
    a = ft.synthetic_shipments(1_000, seed=0)
    b = ft.synthetic_shipments(1_000, seed=1)
    assert not np.array_equal(a.x, b.x) and not np.array_equal(a.y, b.y)


def test_prefix_depends_on_n_only_through_the_draw_order():
    # x is drawn first, so the first n scores agree between sizes with the same seed.
    small, large = ft.synthetic_shipments(100, seed=5), ft.synthetic_shipments(1_000, seed=5)
    np.testing.assert_array_equal(small.x, large.x[:100])


def test_regimes_follow_their_lines():
    n, noise, fraction = 200_000, 0.5, 0.25
    data = ft.synthetic_shipments(n, seed=11, noise=noise, peak_fraction=fraction)
    assert data.x.min() >= 0.0 and data.x.max() < 5.0
    # Bernoulli(0.25) count over 2e5 draws: std = sqrt(n p (1-p)) ~ 194; allow 5 std.
    assert abs(data.peak.sum() - n * fraction) < 5 * np.sqrt(n * fraction * (1 - fraction))
    # Least-squares line per regime (np.polyfit, independent of the generator's code):
    # slope std error ~ noise / (std(x) sqrt(n_regime)) ~ 0.5 / (1.44 * 220) ~ 2e-3; allow 0.02.
    for mask, (slope, intercept) in ((data.peak, (4.0, 0.0)), (~data.peak, (2.0, 1.0))):
        fit_slope, fit_intercept = np.polyfit(data.x[mask], data.y[mask], 1)
        assert fit_slope == pytest.approx(slope, abs=0.02)
        assert fit_intercept == pytest.approx(intercept, abs=0.05)
        residual = data.y[mask] - (slope * data.x[mask] + intercept)
        assert residual.std() == pytest.approx(noise, rel=0.02)  # sample std of ~5e4 normals


def test_noise_free_normal_week_is_the_lesson_line():
    data = ft.synthetic_shipments(50, seed=2, noise=0.0, peak_fraction=0.0)
    np.testing.assert_array_equal(data.y, 2.0 * data.x + 1.0)
    assert not data.peak.any()


def test_float32_data_is_the_float64_data_rounded():
    a = ft.synthetic_shipments(1_000, seed=4)
    b = ft.synthetic_shipments(1_000, seed=4, dtype=np.float32)
    assert b.x.dtype == np.float32
    np.testing.assert_array_equal(b.x, a.x.astype(np.float32))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n": 0}, "n must be"), ({"n": 2.5}, "n must be"), ({"peak_fraction": 1.5}, "peak"),
     ({"noise": -1.0}, "noise"), ({"dtype": np.int32}, "floating")],
)
def test_bad_arguments(kwargs, message):
    args = {"n": 10, **kwargs}
    with pytest.raises((ValueError, TypeError), match=message):
        ft.synthetic_shipments(args.pop("n"), **args)


def test_registry_batch_order_is_the_documented_rule():
    # Built here from the rule itself: one generator, a permutation per epoch, cut into
    # n // batch_size batches, remainder dropped.
    experiment = REGISTRY["mini-batch"]
    n, size = len(experiment.train), experiment.batch_size
    rng = np.random.default_rng(experiment.seed)
    expected = []
    while len(expected) < experiment.steps:
        perm = rng.permutation(n)
        expected += [perm[j * size:(j + 1) * size].tolist() for j in range(n // size)]
    assert batch_order(experiment) == expected[: experiment.steps]


def test_each_epoch_is_a_permutation():
    n, batch = 1_000, 64  # 15 batches per epoch, 40 dropped
    order = ft.minibatch_indices(n, batch_size=batch, steps=40, seed=9)
    assert order.shape == (40, 64) and order.dtype == np.int32
    for epoch in (order[:15], order[15:30]):
        flat = epoch.ravel()
        assert np.unique(flat).size == flat.size and flat.min() >= 0 and flat.max() < n
    assert not np.array_equal(order[:15], order[15:30])  # a new permutation each epoch
    # Same seed, same order; the first `steps` rows do not depend on how many follow.
    np.testing.assert_array_equal(order[:20], ft.minibatch_indices(n, batch_size=batch,
                                                                   steps=20, seed=9))


def test_batch_order_at_scale_is_one_host_permutation():
    order = ft.minibatch_indices(1_000_000, batch_size=1_024, steps=100, seed=0)
    expected = np.random.default_rng(0).permutation(1_000_000)[: 100 * 1_024]
    np.testing.assert_array_equal(order.ravel(), expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"batch_size": 11}, "larger than the data set"), ({"batch_size": 0}, "batch_size"),
     ({"steps": 0}, "steps")],
)
def test_batch_order_bad_arguments(kwargs, message):
    args = {"batch_size": 2, "steps": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        ft.minibatch_indices(10, **args)


def test_epoch_batches_keep_each_epochs_remainder_from_the_same_permutations():
    order = ft.epoch_batches(7, batch_size=3, steps=7, seed=3, last_batch="keep")
    assert [len(b) for b in order] == [3, 3, 1, 3, 3, 1, 3]  # 7 = 3 + 3 + 1 per epoch
    permutations = [sum(order[0:3], []), sum(order[3:6], [])]
    assert all(sorted(p) == list(range(7)) for p in permutations)
    # The same generator as minibatch_indices: default_rng(seed).permutation(n) per epoch.
    rng = np.random.default_rng(3)
    assert permutations == [rng.permutation(7).tolist(), rng.permutation(7).tolist()]
    dropped = ft.minibatch_indices(7, batch_size=3, steps=4, seed=3).tolist()
    assert dropped == [order[0], order[1], order[3], order[4]]
    assert ft.epoch_batches(7, batch_size=3, steps=4, seed=3) == dropped


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"last_batch": "skip"}, r"^last_batch must be 'drop' or 'keep', got 'skip'$"),
    ({"steps": 0, "last_batch": "keep"}, r"^steps must be an integer >= 1, got 0$"),
    ({"batch_size": 9, "last_batch": "keep"}, r"^batch size 9 is larger than the data set"),
])
def test_epoch_batches_refuses_bad_arguments_in_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ft.epoch_batches(7, **{"batch_size": 3, "steps": 2, **kwargs})
