"""``train(..., eval_every=E)``: records at P(S, E) = {0, E, 2E, ...} ∪ {S - 1}, bounded memory.

Expected values come from the NumPy float64 loop of ``numpy_reference`` (every
step), read at the recorded steps; the plan and the batch order are checked
against their definitions (hypothesis over sizes).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy_reference import numpy_sgd

import functional_training as ft
from functional_training._record_plan import (
    EVALUATION_BUDGET,
    MAX_DEFAULT_RECORDS,
    plan_records,
    plan_steps,
    record_count,
)

# float64 end to end: the same operations in the same order as NumPy's loop, up to
# XLA's reassociation of the 40-example means (a few ulps of the loss, relative).
RTOL = 1e-12


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return x, 2.0 * x - 1.0 + 0.1 * rng.normal(size=n)


@pytest.mark.parametrize("every", [1, 2, 4, 5, 22, 23, 100])
def test_a_sparse_run_records_the_reference_at_its_recorded_steps(x64, every):
    x, y = _data()
    steps = 23
    order = ft.minibatch_indices(x.size, batch_size=8, steps=steps, seed=3)
    ref = numpy_sgd(0.5, 0.0, x, y, 0.1, steps, batch_indices=order)
    traj = ft.train(ft.LinearParams(0.5, 0.0), x, y, optimizer=0.1, steps=steps,
                    batch_indices=order, eval_every=every)
    points = np.unique(np.append(np.arange(0, steps, every), steps - 1))
    assert traj.steps == steps
    assert (traj.record_steps is None) == (every == 1)
    np.testing.assert_array_equal(traj.recorded_steps, points)
    with_final = np.append(points, steps)
    np.testing.assert_allclose(traj.batch_loss, ref["batch_loss"][points], rtol=RTOL)
    np.testing.assert_allclose(traj.grads.w, ref["grad_w"][points], rtol=RTOL)
    np.testing.assert_allclose(traj.train_loss, ref["train_loss"][with_final], rtol=RTOL)
    np.testing.assert_allclose(traj.params.w, ref["w"][with_final], rtol=RTOL)
    np.testing.assert_allclose(traj.params.b, ref["b"][with_final], rtol=RTOL, atol=1e-15)


def test_records_are_the_every_step_run_read_at_the_recorded_steps(x64):
    x, y = _data()
    net = ft.objective("linear", features=1)
    full = ft.train(ft.LinearParams(0.0, 0.0), x, y, optimizer=0.05, steps=30, objective=net,
                    x_val=x[:10], y_val=y[:10])
    sparse = ft.train(ft.LinearParams(0.0, 0.0), x, y, optimizer=0.05, steps=30, objective=net,
                      x_val=x[:10], y_val=y[:10], eval_every=7)
    points = np.array([0, 7, 14, 21, 28, 29])
    np.testing.assert_array_equal(sparse.record_steps, points)
    # The same compiled step in the same order: bit for bit.
    np.testing.assert_array_equal(sparse.val_loss, np.asarray(full.val_loss)[np.append(points, 30)])
    np.testing.assert_array_equal(sparse.batch_loss, np.asarray(full.batch_loss)[points])


def test_a_schedule_and_accuracy_are_recorded_at_the_recorded_steps(x64):
    x, y = ft.two_moons(60, noise=0.1, seed=0)
    net = ft.objective("mlp", loss="hinge", sizes=[2, 4, 1], activation="tanh")
    params = ft.params_from_values("mlp", ft.initial_values("mlp", init="seeded", seed=1,
                                                           sizes=[2, 4, 1]), sizes=[2, 4, 1])
    schedule = ft.make_schedule("cosine", init_value=0.5, decay_steps=20)
    optimizer = ft.make_optimizer("sgd", learning_rate=schedule)
    full = ft.train(params, x, y, optimizer=optimizer, steps=20, objective=net,
                    schedule=schedule)
    sparse = ft.train(params, x, y, optimizer=optimizer, steps=20, objective=net,
                      schedule=schedule, eval_every=6)
    points = np.array([0, 6, 12, 18, 19])
    np.testing.assert_array_equal(sparse.learning_rate, np.asarray(full.learning_rate)[points])
    np.testing.assert_array_equal(sparse.train_accuracy,
                                  np.asarray(full.train_accuracy)[np.append(points, 20)])
    record = ft.record_from_trajectory(sparse)
    assert record.record_steps == points.tolist() and record.steps == 20
    assert record.to_json()["record_steps"] == points.tolist()
    assert ft.TrajectoryRecord.from_json(record.to_json()) == record


def test_divergence_between_records_is_located_to_the_step(x64):
    traj = ft.train(ft.LinearParams(1.0, 0.0), [2.0], [6.0], optimizer=5.0, steps=400,
                    eval_every=50)
    every = ft.train(ft.LinearParams(1.0, 0.0), [2.0], [6.0], optimizer=5.0, steps=400)
    first = every.first_nonfinite_step
    loss = np.asarray(every.batch_loss)
    assert first is not None and first % 50 != 0  # between two records
    assert first == int(np.argmax(~np.isfinite(loss)))  # the batch loss goes first here
    assert traj.first_nonfinite_step == first
    segment = first // 50
    assert traj.nonfinite_after.tolist() == [-1] * segment + [first] + \
        [50 * r for r in range(segment + 1, 8)] + [399]
    record = ft.record_from_trajectory(traj)
    assert record.first_nonfinite_step == first
    assert ft.TrajectoryRecord.from_json(record.to_json()).first_nonfinite_step == first


def test_the_default_records_every_step_of_small_runs_and_bounds_large_ones():
    assert ft.default_eval_every(3, 20) == 1  # the lesson
    assert ft.default_eval_every(1000, 500) == 1  # the moons lessons
    assert ft.default_eval_every(3, MAX_DEFAULT_RECORDS + 1) == 2
    n = 10**6
    every = ft.default_eval_every(n, 31_250)
    # at most EVALUATION_BUDGET // n evenly spaced evaluations, and the last step
    assert record_count(31_250, every) <= EVALUATION_BUDGET // n + 1
    assert record_count(10**9, ft.default_eval_every(3, 10**9)) <= MAX_DEFAULT_RECORDS + 1


def test_the_default_keeps_a_billion_step_run_bounded(x64):
    traj = ft.train(ft.LinearParams(1.0, 0.0), [2.0], [6.0], optimizer=0.1, steps=10**6)
    assert traj.steps == 10**6 and len(traj.batch_loss) == record_count(10**6, 10)


def test_records_that_cannot_fit_are_refused_before_training():
    with pytest.raises(ValueError, match=r"^train: 1000000000 steps with eval_every=1 would "
                                         r"record 1000000001 steps .* over the 4 GiB limit: "
                                         r"pass eval_every >= \d+$"):
        ft.train(ft.LinearParams(1.0, 0.0), [2.0], [6.0], optimizer=0.1, steps=10**9,
                 eval_every=1)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_a_bad_eval_every_is_refused_in_one_line(bad):
    with pytest.raises(ValueError, match="^eval_every must be an integer >= 1"):
        ft.train(ft.LinearParams(1.0, 0.0), [2.0], [6.0], optimizer=0.1, steps=3,
                 eval_every=bad)


@settings(max_examples=200, deadline=None)
@given(steps=st.integers(1, 200), every=st.integers(1, 60), cut=st.data())
def test_a_plan_covers_its_steps_and_records_exactly_the_recorded_steps(steps, every, cut):
    points = ft.record_steps(steps, every)
    expected = sorted({*range(0, steps, every), steps - 1})
    assert points.tolist() == expected and record_count(steps, every) == len(expected)
    start = cut.draw(st.integers(0, steps - 1))
    stop = cut.draw(st.integers(start + 1, steps))
    plan = ft.record_plan(start, stop, points)
    assert plan_steps(plan) == stop - start
    assert plan_records(plan) == sum(start <= k < stop for k in expected)
    assert len(plan) <= 4 or start % every  # a chunk from a recorded step has few pieces
    # Walk the plan: recorded segments begin exactly at the recorded steps.
    step, begins = start, []
    for count, length, recorded in plan:
        for _ in range(count):
            if recorded:
                begins.append(step)
            step += length
    assert begins == [k for k in expected if start <= k < stop]


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 40), batch=st.data(), seed=st.integers(0, 5), steps=st.integers(1, 60),
       cuts=st.lists(st.integers(1, 59), max_size=4))
def test_the_batch_order_a_chunk_at_a_time_is_the_whole_order(n, batch, seed, steps, cuts):
    size = batch.draw(st.integers(1, n))
    whole = ft.minibatch_indices(n, batch_size=size, steps=steps, seed=seed)
    # Independent: one permutation per epoch from one generator, the remainder dropped.
    rng, per_epoch, rows = np.random.default_rng(seed), n // size, []
    while len(rows) < steps:
        perm = rng.permutation(n)
        rows.extend(perm[: per_epoch * size].reshape(per_epoch, size).tolist())
    assert whole.tolist() == rows[:steps]
    order = ft.MinibatchOrder(n, batch_size=size, seed=seed)
    bounds = sorted({0, steps, *(c for c in cuts if c < steps)})
    pieces = [order.rows(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    np.testing.assert_array_equal(order.rows(0, 1), whole[:1])  # reading backward restarts
