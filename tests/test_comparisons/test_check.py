"""``comparisons.check``: your own trajectory, whole or partial, against the reference.

Partial trajectories compare only what they hold, with the full comparison's
tolerances (each value's scale from the whole reference); coverage says what was
compared and what was not; a mismatch is diagnosed against the fault gallery;
bad trajectories are one line naming the key or row; the shipped JSON Schema
accepts what the reader accepts.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import comparisons
from comparisons.backends import available_backends, get_backend
from comparisons.check import (
    YOURS,
    Coverage,
    Verdict,
    check,
    compare_partial,
    filled,
    step_ranges,
)
from comparisons.compare import compare_trajectories
from comparisons.experiments import REGISTRY
from comparisons.report import dumps_json
from comparisons.spec import load_spec
from comparisons.trajectory_files import (
    DERIVED,
    QUANTITIES,
    Trajectory,
    TrajectoryError,
    read_trajectory,
    trajectory_csv,
    trajectory_schema,
)
from functional_training import TrajectoryRecord, tolerance

ROOT = Path(__file__).resolve().parents[2]
STUDENT = ROOT / "examples" / "student-loop"
SPEC = STUDENT / "spec.toml"
FULL_BATCH = REGISTRY["full-batch"]


def _manual(experiment):
    return get_backend("manual").run(experiment, dtype="float64")


@pytest.fixture(scope="module")
def student():
    """The student spec's experiment and the manual reference's trajectory of it."""
    experiment = load_spec(SPEC)
    return experiment, _manual(experiment)


# --- the public names -------------------------------------------------------------------------


def test_the_package_exports_check_trajectory_and_verdict():
    for name in ("check", "Trajectory", "TrajectoryError", "Verdict"):
        assert name in comparisons.__all__
    assert comparisons.check is check
    assert comparisons.Trajectory is Trajectory
    assert comparisons.Verdict is Verdict


# --- Trajectory from plain values ----------------------------------------------------------------


def test_a_trajectory_from_lists_dicts_and_none_holds_exactly_the_values_given():
    mine = Trajectory(params={"w": [1.0, None, 3.0]}, grads={"b": {2: -4.0, "5": 0.5}},
                      predictions={1: [None, 2.5]}, batches=[[0, 2]], train_loss=[None])
    assert mine.values == {
        ("params", "w", 0): 1.0, ("params", "w", 2): 3.0,
        ("grads", "b", 2): -4.0, ("grads", "b", 5): 0.5,
        ("predictions", "1", 1): 2.5,
        ("batches", "0", 0): 0, ("batches", "1", 0): 2,
    }
    assert mine.labels == ("params.w", "grads.b", "predictions[1]", "batches[0]", "batches[1]")
    assert mine.steps_of("grads.b") == (2, 5)
    assert mine.quantities == ("params", "grads", "predictions", "batches")
    assert len(mine) == 7


def test_numpy_and_jax_values_are_accepted_as_a_notebook_holds_them():
    import jax.numpy as jnp

    mine = Trajectory(params={"w": np.array([1.0, 1.8], dtype=np.float32),
                              "b": [np.float64(0.0), jnp.asarray(0.4)]},
                      predictions=jnp.zeros((2, 3)), batches=np.array([[2, 0]]))
    assert mine.values[("params", "b", 1)] == float(np.float32(0.4))
    assert mine.values[("params", "w", 1)] == float(np.float32(1.8))
    assert mine.values[("batches", "0", 0)] == 2 and len(mine) == 12
    with pytest.raises(TrajectoryError, match=r"^non-numeric value \[1\.\] in params\.w\[0\]$"):
        Trajectory(params={"w": [np.array([1.0])]})


def test_non_finite_values_are_data_as_floats_or_the_reports_strings():
    mine = Trajectory.from_dict({"train_loss": [math.inf, "Infinity", "-Infinity", "NaN"]})
    values = [mine.values[("train_loss", "", k)] for k in range(4)]
    assert values[:3] == [math.inf, math.inf, -math.inf] and math.isnan(values[3])


def test_json_and_csv_round_trip(tmp_path):
    mine = Trajectory(params={"w": [1.0, 1.8]}, grads={"w": {0: -8.0}},
                      batch_loss=[math.inf], predictions=[[2.0, 3.0]], batches=[[1, 0]],
                      extras={"numeric.w": [-8.0]})
    assert Trajectory.from_dict(json.loads(json.dumps(mine.to_json()))) == mine
    path = tmp_path / "mine.csv"
    path.write_text(trajectory_csv(mine))
    assert read_trajectory(path) == mine
    path = tmp_path / "mine.json"
    path.write_text(dumps_json(mine.to_json()))
    assert read_trajectory(path) == mine


def test_a_whole_record_is_a_trajectory_of_every_value():
    record = _manual(FULL_BATCH)
    mine = Trajectory.from_record(record)
    assert len(mine) == 2 * 21 + 2 * 20 + 20 + 21 + 21 * 3
    assert Trajectory.from_dict(record.to_json()) == mine  # grad_norm etc. are ignored


@pytest.mark.parametrize(("data", "message"), [
    ({"grad": {"w": [1.0]}}, r"^unknown quantity 'grad' in the top-level keys \(expected params, "
                             r"grads, batch_loss"),
    ({"params": {"w": [1.0, "abc"]}}, r"^non-numeric value 'abc' in params\.w\[1\]$"),
    ({"params": {"w": [True]}}, r"^non-numeric value True in params\.w\[0\]$"),
    ({"params": {"w": {"-1": 1.0}}}, r"^step '-1' in params\.w is not a whole number >= 0$"),
    ({"params": {"w": {"x": 1.0}}}, r"^step 'x' in params\.w is not a whole number >= 0$"),
    ({"params": [1.0]}, r"^params must be an object of named series, got a list$"),
    ({"params": {"": [1.0]}}, r"^params needs a parameter name in params\.$"),
    ({"batch_loss": 8.0}, r"^batch_loss must be a list or an object of steps, got a float$"),
    ({"batches": [[0.5]]}, r"^example index 0\.5 in batches\[0\]\[0\] is not a whole number"),
    ({"predictions": [[1.0, {"a": 1}]]},
     r"^non-numeric value \{'a': 1\} in predictions\[0\]\[1\]$"),
    ([1.0], r"^a trajectory is an object of quantities, got a list$"),
])
def test_bad_values_are_one_line_naming_the_key(data, message):
    with pytest.raises(TrajectoryError) as caught:
        Trajectory.from_dict(data)
    assert "\n" not in str(caught.value)
    assert re.search(message, str(caught.value)), str(caught.value)


def test_rows_name_their_row_and_refuse_a_second_value_for_one_step():
    rows = [("0", "grads", "w", "1.0"), ("0", "grads", "b", "2.0"), ("0", "grads", "w", "3.0")]
    with pytest.raises(TrajectoryError, match=r"^a second value for grads\.w at step 0 in row 4 "
                                              r"\(the first is in row 2\)$"):
        Trajectory.from_rows(rows, first_row=2)


# --- partial trajectories compare only what they hold ------------------------------------------


def test_a_whole_trajectory_from_another_backend_agrees_and_covers_everything():
    verdict = check(FULL_BATCH, get_backend("jax").run(FULL_BATCH, dtype="float64"))
    assert verdict.agree and verdict.coverage.complete
    assert verdict.coverage.not_supplied == ()
    assert verdict.coverage.describe()[1] == "not compared: nothing: every value was given"
    assert verdict.diagnoses == () and verdict.diagnosis_lines() == []


def test_values_not_supplied_are_not_compared(student):
    experiment, reference = student
    wrong = [v + 1.0 for v in reference.train_loss]  # every train_loss wrong: left out below
    theirs = Trajectory(params=reference.params, grads=reference.grads)
    verdict = check(experiment, theirs)
    assert verdict.agree
    assert set(verdict.max_abs_diff) == {"params.w", "params.b", "grads.w", "grads.b"}
    assert not check(experiment, Trajectory(params=reference.params, train_loss=wrong)).agree


@pytest.mark.parametrize(("label", "step"), [("params.b", 7), ("grads.w", 24), ("train_loss", 0),
                                             ("batch_loss", 3), ("predictions", 25)])
def test_one_wrong_value_is_found_at_its_step_whatever_else_is_left_out(student, label, step):
    experiment, reference = student
    quantity, _, name = label.partition(".")
    if quantity == "predictions":
        kept = {"predictions": {step: {4: reference.predictions[step][4] + 0.01}}}
        where = "predictions[4]"
    elif name:
        kept = {quantity: {name: {step: getattr(reference, quantity)[name][step] + 0.01}}}
        where = label
    else:
        kept = {quantity: {step: getattr(reference, quantity)[step] + 0.01}}
        where = label
    for other in ("params", "grads"):  # the correct values of other series around it
        kept.setdefault(other, {}).update(
            {n: v for n, v in getattr(reference, other).items() if n not in kept[other]})
    verdict = check(experiment, kept, diagnosis=False)
    assert not verdict.agree
    assert (verdict.first_mismatch.step, verdict.first_mismatch.quantity) == (step, where)
    assert verdict.first_mismatch.backend == YOURS


def test_a_loop_checked_step_by_step_as_it_is_written(student):
    experiment, reference = student
    for k in range(3):  # the first k + 1 steps of parameters and gradients, as they come
        steps = range(k + 1)
        theirs = Trajectory(
            params={n: {j: v[j] for j in steps} for n, v in reference.params.items()},
            grads={n: {j: v[j] for j in steps} for n, v in reference.grads.items()})
        verdict = check(experiment, theirs)
        assert verdict.agree and verdict.coverage.values == 4 * (k + 1)
        assert verdict.coverage.supplied["grads.b"] == tuple(steps)


def test_the_tolerance_uses_the_whole_references_scale(student):
    # grads.b at the last step is tiny; its group (every gradient) held large values at
    # step 0, and the rule's scale is that largest magnitude so far (docs/design.md). A
    # partial trajectory holding only that value gets the same bound as a full comparison.
    experiment, reference = student
    k = 24
    grads = np.abs(np.array([reference.grads[n][: k + 1] for n in reference.grads]))
    scale = float(grads.max())
    r = reference.grads["b"][k]
    assert scale > 100 * abs(r)  # otherwise this test would not test the scale
    bound = tolerance("float64", experiment.steps) * (1 + max(abs(r), scale))
    for factor, agrees in ((0.5, True), (2.0, False)):
        value = r + factor * bound
        partial = check(experiment, Trajectory(grads={"b": {k: value}}), diagnosis=False)
        whole = dataclasses.replace(reference, grads={**reference.grads, "b": [
            *reference.grads["b"][:k], value]})
        full = compare_trajectories(experiment, {"manual": reference, "whole": whole})
        assert partial.agree is agrees and full.agree is agrees


def test_float32_implementations_compare_with_float32_tolerances(student):
    experiment, reference = student
    x = np.array([row[0] for row in experiment.train], dtype=np.float32)
    y = np.array([row[1] for row in experiment.train], dtype=np.float32)
    w, b, rate = np.float32(0.0), np.float32(0.0), np.float32(experiment.learning_rate)
    params, grads = {"w": [], "b": []}, {"w": [], "b": []}
    for _ in range(experiment.steps):  # an independent float32 NumPy loop
        errors = w * x + b - y
        grad_w, grad_b = np.mean(errors * x), np.mean(errors)
        for name, value, grad in (("w", w, grad_w), ("b", b, grad_b)):
            params[name].append(float(value))
            grads[name].append(float(grad))
        w, b = w - rate * grad_w, b - rate * grad_b
    params["w"].append(float(w))
    params["b"].append(float(b))
    theirs = Trajectory(params=params, grads=grads)
    assert check(experiment, theirs, dtype="float32").agree
    in_float64 = check(experiment, theirs, diagnosis=False)
    assert not in_float64.agree and in_float64.largest_diff < 1e-4  # float32's rounding


def test_the_reference_can_be_another_backend(student):
    experiment, reference = student
    verdict = check(experiment, Trajectory(params=reference.params), reference="jax")
    assert verdict.agree and verdict.reference == "jax"


@pytest.mark.skipif(available_backends().get("torch") is not None, reason="torch not installed")
def test_torch_as_the_reference(student):
    experiment, reference = student
    assert check(experiment, Trajectory(grads=reference.grads), reference="torch").agree


def test_a_diverging_run_compares_until_both_are_non_finite():
    experiment = load_spec(ROOT / "examples" / "diverging-rate.toml")
    reference = _manual(experiment)
    first = reference.first_nonfinite_step
    assert first is not None
    verdict = check(experiment, Trajectory(train_loss=reference.train_loss))
    assert verdict.agree
    assert verdict.coverage.nonfinite_from == first
    assert f"anything after step {first} (both runs non-finite" in verdict.coverage.describe()[1]
    early = check(experiment, Trajectory(train_loss=reference.train_loss[:first]))
    assert early.agree and early.coverage.nonfinite_from is None
    # Going non-finite before the reference does is a mismatch.
    broken = [*reference.train_loss[: first - 5], math.inf]
    verdict = check(experiment, Trajectory(train_loss=broken), diagnosis=False)
    assert (verdict.first_mismatch.step, verdict.first_mismatch.quantity) == (
        first - 5, "train_loss")


# --- coverage: what was compared and what was not ---------------------------------------------


def test_coverage_says_what_was_compared_and_what_was_not(student):
    experiment, reference = student
    theirs = Trajectory(params=reference.params,
                        grads={"w": reference.grads["w"][:5]},
                        predictions={3: {0: reference.predictions[3][0]}})
    coverage = check(experiment, theirs).coverage
    assert coverage.values == 2 * 26 + 5 + 1
    assert coverage.recorded_values == 2 * 26 + 2 * 25 + 25 + 26 + 26 * 6
    assert coverage.not_supplied == ("grads.b", "batch_loss", "train_loss")
    assert coverage.missing_steps("grads.w") == tuple(range(5, 25))
    assert coverage.partial_rows == {"predictions": (1, 6)}
    compared, missing = coverage.describe()
    assert compared == ("compared: params (w, b) 0..25; grads.w 0..4; predictions 3 "
                        "(1 of 6 values) (58 of 309 values)")
    assert missing == ("not compared: grads.w 5..24; grads.b 0..24; batch_loss 0..24; "
                       "train_loss 0..25; predictions 0..2, 4..25")


def test_a_big_models_parameters_are_counted_not_listed():
    experiment = REGISTRY["softmax/delay-class"]
    reference = _manual(experiment)
    compared = check(experiment, Trajectory(params=reference.params)).coverage.describe()[0]
    assert compared.startswith("compared: params (all 12) 0..60 ")


@pytest.mark.parametrize(("steps", "text"), [([], "none"), ([3], "3"), ([0, 1, 2], "0..2"),
                                             ([5, 0, 1, 7, 8], "0..1, 5, 7..8")])
def test_step_ranges(steps, text):
    assert step_ranges(steps) == text


# --- the comparison itself ----------------------------------------------------------------------


def test_filling_puts_the_values_in_a_copy_of_the_reference():
    reference = _manual(FULL_BATCH)
    theirs = Trajectory(grads={"b": {3: 1.5}}, predictions={0: {2: 9.0}})
    record = filled(reference, theirs)
    assert record.grads["b"][3] == 1.5 and record.predictions[0][2] == 9.0
    assert record.grads["w"] == reference.grads["w"] and record.params == reference.params
    assert reference.grads["b"][3] != 1.5  # the reference itself is untouched


def test_a_value_with_no_place_in_the_reference_is_a_mismatch():
    # check() refuses it (check_fits); against a fault's variant, compare_partial reports it.
    reference = _manual(FULL_BATCH)
    verdict = compare_partial(FULL_BATCH, reference, Trajectory(grads={"v": [0.0]}))
    assert not verdict.agree and verdict.first_mismatch.quantity == "grads.v"


# --- the diagnosis --------------------------------------------------------------------------------


def test_the_buggy_example_is_diagnosed_as_the_bias_gradient_sign():
    verdict = check(SPEC, STUDENT / "buggy.csv")
    assert not verdict.agree
    assert (verdict.first_mismatch.step, verdict.first_mismatch.quantity) == (0, "grads.b")
    assert [d.fault for d in verdict.diagnoses] == ["bias-gradient-sign"]
    assert verdict.diagnosis_lines() == [
        "diagnosis: your trajectory matches the reference with bias-gradient-sign: the "
        "hand-written bias gradient has the wrong sign (first differs from the correct "
        "reference at step 0, grads.b)"]


def test_the_correct_example_agrees_with_no_diagnosis():
    verdict = check(SPEC, STUDENT / "correct.json")
    assert verdict.agree and verdict.diagnoses == ()
    assert verdict.coverage.not_supplied == ("predictions",)


def test_a_partial_buggy_trajectory_is_still_diagnosed():
    buggy = read_trajectory(STUDENT / "buggy.csv")
    first_steps = Trajectory.from_rows(
        [row for row in buggy.rows() if row[0] <= 3 and row[1] == "params"])
    verdict = check(SPEC, first_steps)
    assert verdict.first_mismatch.quantity == "params.b"
    assert [d.fault for d in verdict.diagnoses] == ["bias-gradient-sign"]


def test_a_mismatch_no_fault_explains_says_so(student):
    experiment, reference = student
    noisy = {"params": {"w": [v * 1.001 for v in reference.params["w"]]}}
    verdict = check(experiment, noisy)
    assert verdict.diagnoses == ()
    assert verdict.diagnosis_lines() == ["diagnosis: your trajectory matches no known fault"]


def test_no_diagnosis_when_asked_for_none():
    assert check(SPEC, STUDENT / "buggy.csv", diagnosis=False).diagnoses == ()


# --- what check accepts, and what it refuses -----------------------------------------------------


def test_the_experiment_is_an_experiment_a_spec_path_or_a_registry_name(student):
    experiment, reference = student
    theirs = {"params": {"w": reference.params["w"]}}
    for given in (experiment, SPEC, str(SPEC)):
        assert check(given, theirs).experiment == "student-loop"
    assert check("five-steps", {"grads": {"w": [-8.0]}}).agree
    with pytest.raises(TypeError, match="expected an Experiment"):
        check(3, theirs)
    with pytest.raises(comparisons.SpecError):
        check("no-such-experiment", theirs)


def test_the_trajectory_is_a_trajectory_a_dict_a_record_or_a_path(student):
    experiment, reference = student
    for given in (Trajectory(params=reference.params), {"params": reference.params}, reference,
                  STUDENT / "correct.json", str(STUDENT / "correct.json")):
        assert check(experiment, given).agree
    with pytest.raises(TypeError, match="expected a Trajectory"):
        check(experiment, [1.0, 2.0])


@pytest.mark.parametrize(("data", "message"), [
    ({"params": {"v": [0.0]}}, r"^unknown parameter 'v' in params\.v\[0\] \(student-loop has w, "
                               r"b\)$"),
    ({"grads": {"w": {30: 0.0}}}, r"^step 30 out of range in grads\.w\[30\] \(student-loop runs 25 "
                                  r"steps: params, train_loss, predictions 0\.\.25; grads, "
                                  r"batch_loss 0\.\.24\)$"),
    ({"batch_loss": {25: 0.0}}, r"^step 25 out of range in batch_loss\[25\]"),
    ({"val_loss": [0.0]}, r"^val_loss in val_loss\[0\]: student-loop has no validation set$"),
    ({"predictions": [[0.0] * 7]}, r"^prediction index 6 out of range in predictions\[0\]\[6\] "
                                   r"\(student-loop has 6 predictions per step: 0\.\.5\)$"),
    ({"batches": [[0, 1]]}, r"^batches in batches\[0\]\[0\]: student-loop trains on the full "
                            r"batch \(no batch order\)$"),
    ({"extras": {"numeric.w": [0.0]}}, r"^unknown extras series 'numeric\.w' in "
                                       r"extras\.numeric\.w\[0\] \(student-loop records none\)$"),
    ({}, r"^the trajectory holds no values: nothing to compare$"),
    ({"params": {"w": [None, None]}}, r"^the trajectory holds no values"),
])
def test_a_trajectory_that_does_not_fit_the_experiment_is_one_line(data, message):
    with pytest.raises(TrajectoryError) as caught:
        check(SPEC, data)
    assert "\n" not in str(caught.value)
    assert re.search(message, str(caught.value)), str(caught.value)


def test_a_file_that_does_not_fit_is_named(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("step,quantity,name,value\n0,params,v,1.0\n")
    with pytest.raises(TrajectoryError, match=rf"^{re.escape(str(path))}: unknown parameter 'v' "
                                              r"in row 2 "):
        check(SPEC, path)


def test_an_extras_key_the_experiment_records_is_compared():
    experiment = REGISTRY["gradient-check"]
    reference = _manual(experiment)
    assert check(experiment, {"extras": {"numeric.w": reference.extras["numeric.w"]}}).agree
    assert not check(experiment, {"extras": {"numeric.w": [1.0]}}, diagnosis=False).agree


def test_a_batch_order_is_compared_position_by_position():
    experiment = REGISTRY["mini-batch"]
    reference = _manual(experiment)
    assert check(experiment, {"batches": reference.batches}).agree
    wrong = [list(reversed(batch)) for batch in reference.batches]
    verdict = check(experiment, {"batches": wrong}, diagnosis=False)
    assert not verdict.agree and verdict.first_mismatch.quantity == "batches"


# --- the verdict as text, JSON and Markdown -----------------------------------------------------


def test_the_verdict_reads_as_lines_and_one_line():
    verdict = check(SPEC, STUDENT / "buggy.csv")
    lines = verdict.lines()
    assert lines[0] == "student-loop: your trajectory against manual (float64, rtol = atol = 1e-12)"
    assert lines[1] == "compared: params (w, b) 0..25; grads (w, b) 0..24 (102 of 309 values)"
    assert lines[2] == "not compared: batch_loss 0..24; train_loss 0..25; predictions 0..25"
    assert lines[3] == ("MISMATCH: your trajectory differs from manual at step 0, grads.b: "
                        "expected -6.183333333333334, got 6.183333333333334")
    assert lines[4].startswith("diagnosis: your trajectory matches the reference with "
                               "bias-gradient-sign")
    assert verdict.describe().startswith("student-loop: your trajectory differs from manual")
    agreeing = check(SPEC, STUDENT / "correct.json")
    assert agreeing.lines()[3].startswith("agree: your trajectory agrees with manual on the 153 "
                                          "values it holds")


def test_the_json_report_is_strict_and_holds_both_trajectories():
    verdict = check(SPEC, STUDENT / "buggy.csv")
    report = json.loads(dumps_json(verdict.to_json()))
    assert report["tool"] == "comparisons check" and report["agree"] is False
    assert report["first_mismatch"]["quantity"] == "grads.b"
    assert report["diagnosis"] == [{"fault": "bias-gradient-sign",
                                    "bug": "the hand-written bias gradient has the wrong sign",
                                    "step": 0, "quantity": "grads.b"}]
    assert report["coverage"]["supplied"]["params.w"] == [[0, 25]]
    assert report["coverage"]["not_supplied"] == ["batch_loss", "train_loss", "predictions"]
    assert Trajectory.from_dict(report["trajectory"]) == verdict.trajectory
    assert TrajectoryRecord.from_json(report["reference_trajectory"]) == \
        verdict.reference_trajectory
    assert json.loads(dumps_json(check(SPEC, STUDENT / "correct.json").to_json()))[
        "diagnosis"] is None


def test_the_markdown_has_a_row_per_series():
    text = check(SPEC, STUDENT / "buggy.csv").markdown()
    assert "**MISMATCH**" in text
    assert "| grads.b | 0..24 | 0..24 |" in text
    assert "| train_loss | not supplied | 0..25 |  |" in text
    assert "- diagnosis: your trajectory matches the reference with bias-gradient-sign" in text


# --- the shipped examples -------------------------------------------------------------------------


@pytest.mark.parametrize(("script", "output"), [("correct_loop.py", "correct.json"),
                                                ("buggy_loop.py", "buggy.csv")])
def test_the_student_loops_write_the_shipped_files(tmp_path, monkeypatch, script, output):
    target = tmp_path / output
    monkeypatch.setattr(sys, "argv", [script, str(target)])
    runpy.run_path(str(STUDENT / script), run_name="__main__")
    assert target.read_text() == (STUDENT / output).read_text()


# --- the JSON Schema ------------------------------------------------------------------------------


def _valid(instance, schema, root) -> bool:
    """The subset of JSON Schema the trajectory schema uses (no validator is a dependency)."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _valid(instance, target, root)
    if "oneOf" in schema:
        return sum(_valid(instance, option, root) for option in schema["oneOf"]) == 1
    if "enum" in schema and instance not in schema["enum"]:
        return False
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(instance, kind) for kind in types):
            return False
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        if instance < schema.get("minimum", -math.inf):
            return False
    if isinstance(instance, str):
        if len(instance) < schema.get("minLength", 0):
            return False
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            return False
    if isinstance(instance, list) and "items" in schema:
        return all(_valid(item, schema["items"], root) for item in instance)
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for key, value in instance.items():
            if "propertyNames" in schema and not _valid(key, schema["propertyNames"], root):
                return False
            if key in properties:
                if not _valid(value, properties[key], root):
                    return False
            elif schema.get("additionalProperties") is False:
                return False
            elif isinstance(schema.get("additionalProperties"), dict) and not _valid(
                    value, schema["additionalProperties"], root):
                return False
    return True


def _is(instance, kind: str) -> bool:
    number = isinstance(instance, (int, float)) and not isinstance(instance, bool)
    return {"number": number,
            "integer": number and float(instance).is_integer(),
            "string": isinstance(instance, str), "object": isinstance(instance, dict),
            "array": isinstance(instance, list), "null": instance is None}[kind]


def test_the_schema_is_shipped_in_the_package_and_names_every_quantity():
    schema = trajectory_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["properties"]) == {*QUANTITIES, *DERIVED}
    assert schema["additionalProperties"] is False


def test_the_schema_is_package_data():
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    assert '"schemas/*.json"' in section, "pyproject.toml does not ship comparisons/schemas"


@pytest.mark.parametrize("name", ["full-batch", "mini-batch", "train-validation",
                                  "gradient-check", "softmax/delay-class"])
def test_every_backend_trajectory_and_the_example_fit_the_schema(name):
    schema = trajectory_schema()
    assert _valid(_manual(REGISTRY[name]).to_json(), schema, schema)
    assert _valid(json.loads((STUDENT / "correct.json").read_text()), schema, schema)


@pytest.mark.parametrize("document", [
    {"params": {"w": [1.0, None]}, "train_loss": {"3": "Infinity"}},
    {"predictions": {"2": {"0": 1.5}}, "batches": [[0, None], None]},
    {"val_loss": None, "extras": {}, "first_nonfinite_step": None, "grad_norm": [1.0]},
])
def test_partial_documents_fit_the_schema_and_the_reader(document):
    schema = trajectory_schema()
    assert _valid(document, schema, schema)
    Trajectory.from_dict(document)


@pytest.mark.parametrize("document", [
    {"grad": {"w": [1.0]}},
    {"params": {"w": [1.0, "abc"]}},
    {"params": {"w": [True]}},
    {"params": {"w": {"x": 1.0}}},
    {"params": [1.0]},
    {"params": {"": [1.0]}},
    {"params": {"w": None}},
    {"batch_loss": 8.0},
    {"batches": [[0.5]]},
    {"batches": [[-1]]},
    {"train_loss": ["inf"]},
])
def test_what_the_schema_refuses_the_reader_refuses(document):
    schema = trajectory_schema()
    assert not _valid(document, schema, schema)
    with pytest.raises(TrajectoryError):
        Trajectory.from_dict(document)


def test_coverage_is_a_plain_value():
    coverage = Coverage(supplied={"batch_loss": (0, 1)}, recorded={"batch_loss": 3}, values=2,
                        recorded_values=3)
    assert not coverage.complete and coverage.missing_steps("batch_loss") == (2,)
    assert coverage.to_json()["supplied"] == {"batch_loss": [[0, 1]]}


# --- docs/checking.md -------------------------------------------------------------------------


def _blocks(language: str) -> list[str]:
    """The fenced blocks of ``docs/checking.md`` tagged ``language`` (``""``: untagged)."""
    blocks, current, tag = [], None, None
    for line in (ROOT / "docs" / "checking.md").read_text().splitlines():
        if line.startswith("```") and current is None:
            current, tag = [], line[3:].strip()
        elif line.startswith("```"):
            if tag == language:
                blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_the_docs_python_example_runs(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    (block,) = _blocks("python")
    exec(compile(block, "docs/checking.md", "exec"), {})
    assert capsys.readouterr().out.splitlines()[-1].startswith("agree: ")


def test_the_docs_json_and_csv_examples_agree_with_the_student_spec(tmp_path):
    (document,) = _blocks("json")
    assert check(SPEC, json.loads(document)).agree
    (table,) = [block for block in _blocks("") if block.startswith("step,quantity")]
    path = tmp_path / "doc.csv"
    path.write_text(table + "\n")
    assert check(SPEC, path).agree


def test_the_docs_show_the_commands_output():
    shown = [block.splitlines() for block in _blocks("") if block.startswith("student-loop:")]
    assert shown[0] == check(SPEC, STUDENT / "correct.json").lines()
    assert shown[1] == check(SPEC, STUDENT / "buggy.csv").lines()
