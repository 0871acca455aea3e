"""The comparator: tolerance policy, non-finite agreement, first mismatch, real backends."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from comparisons.backends import BACKEND_NAMES, available_backends, get_backend
from comparisons.compare import (
    compare_supplied,
    compare_trajectories,
    rounded_to,
    run_and_compare,
    values_agree,
)
from comparisons.experiments import REGISTRY
from comparisons.spec import load_spec
from functional_training import TrajectoryRecord, aligned_values

INF, NAN = math.inf, math.nan
FIVE = REGISTRY["five-steps"]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _five_steps(**changes) -> TrajectoryRecord:
    """The lesson's five-step trajectory, from its closed form (errors halve every step)."""
    w = [1.0, 1.8, 2.2, 2.4, 2.5, 2.55]
    b = [0.0, 0.4, 0.6, 0.7, 0.75, 0.775]
    errors = [w[k] * 2.0 + b[k] - 6.0 for k in range(6)]
    run = TrajectoryRecord(
        params={"w": w, "b": b},
        grads={"w": [2.0 * e for e in errors[:5]], "b": errors[:5]},
        batch_loss=[0.5 * e * e for e in errors[:5]],
        train_loss=[0.5 * e * e for e in errors],
        predictions=[[w[k] * 2.0 + b[k]] for k in range(6)],
    )
    return dataclasses.replace(run, **changes)


def _with(values: list, k: int, value) -> list:
    values = list(values)
    values[k] = value
    return values


# --- the agreement rule --------------------------------------------------------------------


def test_values_agree_inside_and_outside_tolerance():
    # |a - r| <= atol + rtol |r| with rtol = atol = 1e-12: at r = 1e6 the bound is ~1e-6.
    assert values_agree(1e6, 1e6 + 5e-7, 1e-12)[0]
    assert not values_agree(1e6, 1e6 + 2e-6, 1e-12)[0]
    # Near zero the absolute part rules: 1e-13 apart agrees, 1e-11 does not.
    assert values_agree(0.0, 1e-13, 1e-12)[0]
    assert not values_agree(0.0, 1e-11, 1e-12)[0]


@pytest.mark.parametrize(
    ("expected", "actual", "agree"),
    [(NAN, NAN, True), (INF, INF, True), (-INF, -INF, True), (INF, -INF, False),
     (NAN, INF, False), (1.0, NAN, False), (NAN, 1.0, False), (1e308, INF, False)],
)
def test_non_finite_values_agree_only_with_the_same_non_finite_value(expected, actual, agree):
    ok, diff = values_agree(expected, actual, 1e-12)
    assert ok is agree
    assert diff == (0.0 if agree else INF)


# --- compare_trajectories ------------------------------------------------------------------------


def test_identical_trajectories_agree_with_zero_difference():
    verdict = compare_trajectories(FIVE, {"manual": _five_steps(), "other": _five_steps()})
    assert verdict.agree and verdict.first_mismatch is None
    assert verdict.tolerance == 1e-12
    assert set(verdict.max_abs_diff) == {
        "params.w", "params.b", "grads.w", "grads.b", "batch_loss", "train_loss", "predictions",
    }
    assert all(diff == 0.0 for diff in verdict.max_abs_diff.values())


def test_a_difference_within_tolerance_agrees_and_is_reported():
    ref = _five_steps()
    nudged = _five_steps(params={"w": _with(ref.params["w"], 3, 2.4 + 1e-13), "b": ref.params["b"]})
    verdict = compare_trajectories(FIVE, {"manual": ref, "other": nudged})
    assert verdict.agree
    # The float difference of 2.4 and 2.4 + 1e-13, exactly as float64 represents them.
    assert verdict.max_abs_diff["params.w"] == abs((2.4 + 1e-13) - 2.4)


def test_first_mismatch_names_step_quantity_and_both_values():
    ref = _five_steps()
    wrong = _five_steps(grads={"w": _with(ref.grads["w"], 2, -1.5), "b": ref.grads["b"]})
    verdict = compare_trajectories(FIVE, {"manual": ref, "torch": wrong})
    assert not verdict.agree
    m = verdict.first_mismatch
    assert (m.backend, m.step, m.quantity, m.expected, m.actual) == ("torch", 2, "grads.w", -2.0,
                                                                     -1.5)
    assert verdict.describe() == (
        "five-steps: torch differs from manual at step 2, grads.w: expected -2.0, got -1.5"
    )
    assert verdict.max_abs_diff["grads.w"] == 0.5


def test_the_earliest_step_wins_then_series_order():
    ref = _five_steps()
    # batch_loss differs at step 1, params.b at step 3: step 1 comes first although params
    # come before batch_loss in series order.
    wrong = _five_steps(batch_loss=_with(ref.batch_loss, 1, 99.0),
                        params={"w": ref.params["w"], "b": _with(ref.params["b"], 3, 9.0)})
    m = compare_trajectories(FIVE, {"manual": ref, "x": wrong}).first_mismatch
    assert (m.step, m.quantity) == (1, "batch_loss")
    # At the same step, series order: params before grads.
    both = _five_steps(params={"w": _with(ref.params["w"], 2, 0.0), "b": ref.params["b"]},
                       grads={"w": _with(ref.grads["w"], 2, 0.0), "b": ref.grads["b"]})
    m = compare_trajectories(FIVE, {"manual": ref, "x": both}).first_mismatch
    assert (m.step, m.quantity) == (2, "params.w")


def test_the_overall_first_mismatch_is_the_earliest_over_backends():
    ref = _five_steps()
    late = _five_steps(train_loss=_with(ref.train_loss, 4, 0.0))
    early = _five_steps(train_loss=_with(ref.train_loss, 1, 0.0))
    verdict = compare_trajectories(FIVE, {"manual": ref, "late": late, "early": early})
    assert verdict.first_mismatch.backend == "early"
    assert verdict.backends["late"].first_mismatch.step == 4
    assert not verdict.backends["late"].agree and not verdict.backends["early"].agree


def test_predictions_are_compared_element_by_element():
    ref = _five_steps()
    rows = [list(row) for row in ref.predictions]
    rows[3] = [rows[3][0] + 1.0]
    verdict = compare_trajectories(FIVE, {"manual": ref, "x": _five_steps(predictions=rows)})
    m = verdict.first_mismatch
    assert (m.step, m.quantity, m.actual - m.expected) == (3, "predictions[0]", 1.0)


def test_same_non_finite_step_agrees_and_one_sided_divergence_is_a_mismatch():
    ref = _five_steps(batch_loss=_with(_five_steps().batch_loss, 3, INF),
                      train_loss=_with(_five_steps().train_loss, 4, NAN))
    verdict = compare_trajectories(FIVE, {"manual": ref, "same": ref})
    assert verdict.agree and verdict.max_abs_diff["batch_loss"] == 0.0
    finite = _five_steps()
    verdict = compare_trajectories(FIVE, {"manual": ref, "finite": finite})
    m = verdict.first_mismatch
    assert (m.step, m.quantity, m.expected) == (3, "batch_loss", INF)
    assert verdict.max_abs_diff["batch_loss"] == INF


def test_missing_series_and_short_series_are_mismatches():
    ref = _five_steps()
    verdict = compare_trajectories(FIVE, {"manual": ref, "x": _five_steps(predictions=None)})
    m = verdict.first_mismatch
    assert (m.step, m.quantity, m.actual) == (0, "predictions[0]", None)
    short = _five_steps(train_loss=ref.train_loss[:5])
    m = compare_trajectories(FIVE, {"manual": ref, "x": short}).first_mismatch
    assert (m.step, m.quantity, m.actual) == (5, "train_loss", None)
    extra = _five_steps(val_loss=[0.0] * 6)
    m = compare_trajectories(FIVE, {"manual": ref, "x": extra}).first_mismatch
    assert (m.step, m.quantity, m.expected, m.actual) == (0, "val_loss", None, 0.0)


def test_batch_orders_must_match():
    ref = _five_steps(batches=[[0]] * 5)
    other = _five_steps(batches=[[0], [0], [1], [0], [0]])
    m = compare_trajectories(FIVE, {"manual": ref, "x": other}).first_mismatch
    assert (m.step, m.quantity, m.expected, m.actual) == (2, "batches", [0], [1])


def test_batches_are_index_lists_counted_not_a_float_difference_and_come_first_in_a_step():
    ref = _five_steps(batches=[[0]] * 5)
    grads = dict(ref.grads, w=[*ref.grads["w"][:2], 99.0, *ref.grads["w"][3:]])
    other = _five_steps(batches=[[0], [0], [1], [0], [1, 0]], grads=grads)
    verdict = compare_trajectories(FIVE, {"manual": ref, "x": other})
    m = verdict.first_mismatch  # the gradient differs at step 2 too: the batch explains it
    assert (m.step, m.quantity) == (2, "batches")
    assert "batches" not in verdict.max_abs_diff and math.isfinite(verdict.largest_diff)
    assert verdict.backends["x"].batches_differ == verdict.batches_differ == 2
    agreeing = compare_trajectories(FIVE, {"manual": ref, "x": _five_steps(batches=[[0]] * 5)})
    assert agreeing.agree and agreeing.batches_differ == 0


def test_the_reference_must_be_present():
    with pytest.raises(ValueError, match="reference backend 'manual' has no trajectory"):
        compare_trajectories(FIVE, {"torch": _five_steps()})


def test_float32_tolerance_is_derived_from_eps_and_steps():
    verdict = compare_trajectories(FIVE, {"manual": _five_steps()}, dtype="float32")
    # The policy written out independently: 32 roundings of eps32 per step, S + 1 states.
    assert verdict.tolerance == pytest.approx(32 * float(np.finfo(np.float32).eps) * 6,
                                              rel=1e-15)
    ref = _five_steps()
    off = _five_steps(params={"w": _with(ref.params["w"], 5, 2.55 * (1 + 1e-5)),
                              "b": ref.params["b"]})
    # 1e-5 relative is far outside float64's 1e-12, inside float32's 2.3e-5.
    assert not compare_trajectories(FIVE, {"manual": ref, "x": off}).agree
    assert compare_trajectories(FIVE, {"manual": ref, "x": off}, dtype="float32").agree


def test_rounding_to_float32_overflows_beyond_its_range_without_a_warning():
    # Warnings are errors here: the cast must not warn. The expected values are float32's own
    # rounding (np.float32(v)) and IEEE overflow past float32's max (3.4028235e38).
    run = _five_steps(batch_loss=[1e39, -1e39, FLOAT32_MAX, NAN, 0.1])
    small = rounded_to(run, "float32")
    assert small.batch_loss[:4] == [INF, -INF, FLOAT32_MAX, small.batch_loss[3]]
    assert math.isnan(small.batch_loss[3])
    assert small.batch_loss[4] == float(np.float32(0.1)) != 0.1
    assert small.params["w"] == [float(np.float32(v)) for v in run.params["w"]]
    assert (small.first_nonfinite_step, run.first_nonfinite_step) == (0, 3)  # NaN at 3
    assert rounded_to(run, "float64") is run


def test_a_float32_overflow_agrees_with_the_float64_reference_beyond_float32s_range():
    # The float64 reference holds 1.0e39 at step 3 where a float32 run can only hold inf.
    big = _five_steps(batch_loss=[8.0, 2.0, 0.5, 1e39, INF], train_loss=[8.0, 2.0, 0.5, 1e39,
                                                                         INF, INF])
    overflowed = _five_steps(batch_loss=[8.0, 2.0, 0.5, INF, INF],
                             train_loss=[8.0, 2.0, 0.5, INF, INF, INF])
    runs = {"manual": big, "torch": overflowed}
    first = compare_trajectories(FIVE, runs).first_mismatch  # in float64: a real mismatch
    assert (first.step, first.quantity) == (3, "batch_loss")
    verdict = compare_trajectories(FIVE, runs, dtype="float32")
    assert verdict.agree, verdict.describe()


def test_the_diverging_example_agrees_in_float32_and_a_different_run_does_not():
    spec = load_spec(EXAMPLES / "diverging-rate.toml")
    trajectories, verdict = run_and_compare(spec, dtype="float32")
    assert verdict.agree, verdict.describe()
    steps = {name: t.first_nonfinite_step for name, t in trajectories.items()}
    # manual and engine (float64) overflow ~200 steps later than float32 can; as compared
    # (rounded to float32) every backend goes non-finite at the same step.
    assert steps["manual"] > steps["torch"] == steps["jax"]
    assert {rounded_to(t, "float32").first_nonfinite_step
            for t in trajectories.values()} == {steps["torch"]}
    # A genuinely different float32 trajectory (learning rate 1.01) is still a mismatch, at
    # the first update: w1 = 1.01 * 34/3 vs 34/3, 1e-2 relative against a 1e-3 tolerance.
    other = dataclasses.replace(spec, hyperparams={"learning_rate": 1.01})
    different = get_backend("jax").run(other, dtype="float32")
    mismatch = compare_trajectories(
        spec, {"manual": trajectories["manual"], "jax": different}, dtype="float32"
    ).first_mismatch
    assert mismatch is not None and mismatch.step == 1, mismatch


# --- the real backends ---------------------------------------------------------------------------


def test_all_four_backends_are_installed_here():
    assert {k: v for k, v in available_backends().items() if k in BACKEND_NAMES} == {
        name: None for name in BACKEND_NAMES}  # plug-ins a developer installed may follow


# multi-feature/d2l and mlp/moons (the scalar engine on them: ~40 s each) are compared
# backend by backend in test_backends.py::test_backend_agrees_with_manual_in_float64, and
# whole in the fresh-process `comparisons all` test (tests/test_comparisons/test_cli.py).
@pytest.mark.parametrize("name", [name for name in REGISTRY
                                  if name not in ("multi-feature/d2l", "mlp/moons")])
def test_every_experiment_agrees_across_all_four_backends_in_float64(name):
    trajectories, verdict = run_and_compare(REGISTRY[name])
    assert list(trajectories) == list(BACKEND_NAMES)
    assert verdict.unavailable == {}
    assert verdict.agree, verdict.describe()
    assert verdict.largest_diff <= 1e-12  # rtol = atol = 1e-12 and every value here is <= ~200


def test_the_comparator_sees_a_real_backend_run_a_slightly_different_experiment():
    # torch at learning rate 0.1 * (1 + 1e-9) against manual at 0.1: steps 0 agree exactly,
    # the first update differs by ~1e-9 relative, far above 1e-12.
    reference = get_backend("manual").run(FIVE)
    nudged = dataclasses.replace(FIVE, hyperparams={"learning_rate": 0.1 * (1 + 1e-9)})
    verdict = compare_trajectories(FIVE, {"manual": reference,
                                          "torch": get_backend("torch").run(nudged)})
    m = verdict.first_mismatch
    assert (m.backend, m.step, m.quantity) == ("torch", 1, "params.w")
    assert m.expected == pytest.approx(1.8, abs=1e-12)
    assert m.actual - m.expected == pytest.approx(0.8e-9, rel=1e-3)  # lr * |grad_w| * 1e-9


def test_an_unavailable_backend_is_recorded_not_fatal(monkeypatch):
    import comparisons.backends as backends

    real = backends.get_backend

    class Missing:
        def run(self, experiment, *, dtype="float64"):
            raise backends.BackendUnavailable("torch backend unavailable: no torch")

    monkeypatch.setattr(backends, "get_backend", lambda n: Missing() if n == "torch" else real(n))
    trajectories, verdict = run_and_compare(FIVE)
    assert "torch" not in trajectories
    assert verdict.unavailable == {"torch": "torch backend unavailable: no torch"}
    assert verdict.agree and set(verdict.backends) == {"engine", "jax"}


# --- whole arrays at once: the same verdict as value by value ---------------------------------


def _value_by_value(expected, actual, tol):
    """The comparison rule written plainly (float64, no overflow edge, no divergence):
    every aligned value with values_agree and its group's running largest magnitude."""
    groups: dict[str, list[float]] = {}
    for label, values in expected.series():
        group = groups.setdefault(label.split(".")[0], [])
        for k, value in enumerate(values):
            while len(group) <= k:
                group.append(0.0)
            finite = [abs(v) for v in (value if isinstance(value, list) else [value])
                      if math.isfinite(v)]
            group[k] = max(group[k], *finite, 0.0)
    running = {g: list(np.maximum.accumulate(v)) for g, v in groups.items()}
    first, largest = None, {}
    for label, quantity, k, r, a in aligned_values(expected, actual):
        ok, diff = values_agree(r, a, tol, scale=running[label.split(".")[0]][k])
        largest[label] = max(largest.get(label, 0.0), diff)
        if not ok and (first is None or k < first[0]):
            first = (k, quantity, r, a)
    return first, largest


@pytest.mark.parametrize("seed", range(6))
def test_arrays_at_once_give_the_verdict_value_by_value_gives(seed):
    rng = np.random.default_rng(seed)
    steps, names = 12, [f"w[{i}]" for i in range(40)]

    def record(params, grads, predictions):
        return TrajectoryRecord(params=params, grads=grads, batch_loss=list(rng.normal(size=steps)),
                                train_loss=list(rng.normal(size=steps + 1)),
                                predictions=predictions)

    params = {n: list(rng.normal(size=steps + 1) * 10.0 ** rng.integers(-3, 3)) for n in names}
    grads = {n: list(rng.normal(size=steps)) for n in names}
    predictions = rng.normal(size=(steps + 1, 3)).tolist()
    expected = record(params, grads, predictions)
    mine = {n: list(v) for n, v in params.items()}
    wrong = {n: list(v) for n, v in grads.items()}
    moved = [list(row) for row in predictions]
    for _ in range(3):  # a few differences, some below the tolerance, some above
        k, i = int(rng.integers(steps)), int(rng.integers(len(names)))
        scale = 10.0 ** rng.integers(-14, -8)
        wrong[names[i]][k] += scale
        mine[names[(i + 1) % len(names)]][k] *= 1 + scale
        moved[k][i % 3] += scale
    actual = dataclasses.replace(expected, params=mine, grads=wrong, predictions=moved)
    as_arrays = dataclasses.replace(
        actual, params={n: np.asarray(v) for n, v in mine.items()},
        grads={n: np.asarray(v) for n, v in wrong.items()})
    tol = 1e-12
    first, largest = _value_by_value(expected, actual, tol)
    experiment = dataclasses.replace(REGISTRY["five-steps"], steps=steps)
    for theirs in (actual, as_arrays):
        verdict = compare_trajectories(experiment, {"manual": expected, "theirs": theirs})
        assert verdict.tolerance == tol
        assert verdict.max_abs_diff == largest
        found = verdict.first_mismatch
        got = None if found is None else (found.step, found.quantity, found.expected,
                                          found.actual)
        assert got == first


# --- the supplied values alone -------------------------------------------------------------


def _placed(expected: TrajectoryRecord, supplied) -> TrajectoryRecord:
    """``expected`` with each supplied ``(label, steps, values)`` written in its place."""
    params = {n: list(v) for n, v in expected.params.items()}
    grads = {n: list(v) for n, v in expected.grads.items()}
    losses = {q: list(getattr(expected, q)) for q in ("batch_loss", "train_loss")}
    extras = {n: list(v) for n, v in expected.extras.items()}
    for label, steps, values in supplied:
        quantity, _, name = label.partition(".")
        series = {"params": params, "grads": grads, "extras": extras}.get(quantity)
        target = losses[label] if series is None else series[name]
        for k, value in zip(steps.tolist(), values.tolist(), strict=True):
            target[k] = value
    return dataclasses.replace(expected, params=params, grads=grads, extras=extras, **losses)


@pytest.mark.parametrize("seed", range(8))
def test_the_supplied_values_alone_give_the_verdict_of_the_filled_run(seed):
    """compare_supplied against compare_trajectories of the filled run (independently built
    here): equal verdicts, field by field, on random partial supplies with differences below
    and above the tolerance, non-finite values, and float32."""
    rng = np.random.default_rng(seed)
    steps, names = 12, [f"w[{i}]" for i in range(30)]
    expected = TrajectoryRecord(
        params={n: list(rng.normal(size=steps + 1) * 10.0 ** rng.integers(-3, 3)) for n in names},
        grads={n: list(rng.normal(size=steps)) for n in names},
        batch_loss=list(rng.normal(size=steps)), train_loss=list(rng.normal(size=steps + 1)),
        predictions=rng.normal(size=(steps + 1, 3)).tolist(),
        extras={"train_accuracy": list(rng.uniform(size=steps + 1))})
    every, tenth = np.arange(steps + 1), np.arange(0, steps + 1, 5)
    supplied = []
    for label, values in expected.series():
        if label == "predictions" or rng.uniform() < 0.3:
            continue
        at = (every[:len(values)] if rng.uniform() < 0.5 else tenth[tenth < len(values)])
        mine = np.asarray(values, dtype=np.float64)[at].copy()
        if rng.uniform() < 0.2:  # a difference, below or above the tolerance
            mine[rng.integers(len(mine))] += 10.0 ** rng.integers(-15, -6)
        if rng.uniform() < 0.03:
            mine[rng.integers(len(mine))] = [INF, NAN][int(rng.integers(2))]
        supplied.append((label, at, mine))
    experiment = dataclasses.replace(FIVE, steps=steps)
    # the parameters also as a large record holds them: views of one block's columns, in
    # order and out of order
    block = np.array([expected.params[n] for n in names]).T
    order = rng.permutation(len(names))
    for params in (expected.params, dict(zip(names, block.T, strict=True)),
                   {n: block[:, j] for n, j in zip(names, order, strict=True)}):
        reference = dataclasses.replace(expected, params=params)
        for dtype in ("float64", "float32"):
            verdict = compare_supplied(experiment, reference, supplied, backend="yours",
                                       dtype=dtype)
            placed = _placed(dataclasses.replace(reference, params={
                n: list(v) for n, v in params.items()}), supplied)
            full = compare_trajectories(experiment, {"manual": reference, "yours": placed},
                                        dtype=dtype)
            # repr: every field exactly (floats round-trip), NaN equal to NaN, dicts in order
            assert repr(verdict) == repr(full)


def test_the_supplied_values_alone_leave_a_diverging_reference_to_the_full_comparison():
    diverging = _five_steps(train_loss=[2.0, 1.0, INF, INF, INF, INF])
    supplied = [("params.w", np.array([0, 1]), np.array([1.0, 1.8]))]
    assert compare_supplied(FIVE, diverging, supplied, backend="yours") is None
    # a value with no place in the reference, predictions: the full comparison's too
    for label, steps in (("params.v", [0]), ("params.w", [9]), ("predictions", [0])):
        assert compare_supplied(FIVE, _five_steps(), [(label, np.array(steps), np.ones(1))],
                                backend="yours") is None
