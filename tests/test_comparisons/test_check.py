"""``comparisons.check``: your own trajectory, whole or partial, against the reference.

Partial trajectories compare only what they hold, with the full comparison's
tolerances (each value's scale from the whole reference); coverage says what was
compared and what was not; a mismatch is diagnosed against the fault gallery;
a trajectory that does not fit the experiment is one line. (The trajectory type is
``test_trajectory.py``'s, its files and their schema ``test_trajectory_files.py``'s.)
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
from comparisons.faults.variants import run_variant
from comparisons.report import dumps_json
from comparisons.spec import load_spec
from comparisons.trajectory import Trajectory, TrajectoryError
from comparisons.trajectory_files import read_trajectory
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
        "diagnosis: bias-gradient-sign: the hand-written bias gradient has the wrong sign "
        "(evidence: every value supplied agrees with the reference run with this bug; first "
        "differs at step 0, grads: x-1 the reference's on the biases only (b))"]


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
    assert not any(d.named for d in verdict.diagnoses)
    assert verdict.diagnosis_lines()[0].startswith("diagnosis: no known fault")


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
    # A full-batch spec replays your batches: every step's is needed.
    ({"batches": [[0, 1]]}, r"^batches: your trajectory has no batch at step 1\.\.24; the "
                            r"reference trains on your batches, so it needs every step's "
                            r"\(0\.\.24\)$"),
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
    assert lines[4].startswith("diagnosis: bias-gradient-sign: ")
    assert verdict.describe().startswith("student-loop: your trajectory differs from manual")
    agreeing = check(SPEC, STUDENT / "correct.json")
    assert agreeing.lines()[3].startswith("agree: your trajectory agrees with manual on the 153 "
                                          "values it holds")


def test_the_json_report_is_strict_and_holds_both_trajectories():
    verdict = check(SPEC, STUDENT / "buggy.csv")
    report = json.loads(dumps_json(verdict.to_json()))
    assert report["tool"] == "comparisons check" and report["agree"] is False
    assert report["first_mismatch"]["quantity"] == "grads.b"
    assert report["diagnosis"] == [{
        "fault": "bias-gradient-sign", "bug": "the hand-written bias gradient has the wrong sign",
        "step": 0, "quantity": "grads.b", "named": True, "confidence": "exact",
        "evidence": "every value supplied agrees with the reference run with this bug; first "
                    "differs at step 0, grads: x-1 the reference's on the biases only (b)"}]
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
    assert "- diagnosis: bias-gradient-sign: the hand-written bias gradient" in text


# --- the shipped examples -------------------------------------------------------------------------


@pytest.mark.parametrize(("script", "output"), [("correct_loop.py", "correct.json"),
                                                ("buggy_loop.py", "buggy.csv")])
def test_the_student_loops_write_the_shipped_files(tmp_path, monkeypatch, script, output):
    target = tmp_path / output
    monkeypatch.setattr(sys, "argv", [script, str(target)])
    runpy.run_path(str(STUDENT / script), run_name="__main__")
    assert target.read_text() == (STUDENT / output).read_text()


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


# --- the reference replays your initial values and your batches ----------------------------------

OPEN_SPEC = """name = "open-loop"
[data]
train = [[0.5, 2.1], [1.0, 2.8], [2.0, 4.9], [3.0, 6.8], [4.0, 9.2], [5.0, 11.3], [1.5, 3.4]]
[model]
{model}
[optimizer]
name = "momentum"
learning_rate = 0.02
momentum = 0.9
[run]
steps = 9
{run}
"""
"""Seven rows, momentum: initial values and batch order as the run says (the fields left open)."""


def _user_loop(order, *, w, b, rate=0.02, momentum=0.9, flip_bias=False):
    """A user's own NumPy float64 loop (written here from the formulas, not the project's):
    heavy-ball momentum on the line, the mean half squared error of each batch."""
    data = np.asarray(comparisons.parse_spec(OPEN_SPEC.format(model="w = 0.0\nb = 0.0", run=""))
                      .train)
    p, v = np.array([w, b], dtype=np.float64), np.zeros(2)
    params, grads, losses = {"w": [], "b": []}, {"w": [], "b": []}, []
    for batch in order:
        x, y = data[batch, 0], data[batch, 1]
        error = p[0] * x + p[1] - y
        g = np.array([np.mean(error * x), np.mean(error) * (-1 if flip_bias else 1)])
        for i, name in enumerate(("w", "b")):
            params[name].append(float(p[i]))
            grads[name].append(float(g[i]))
        losses.append(float(np.mean(0.5 * error ** 2)))
        v = momentum * v + g
        p = p - rate * v
    params["w"].append(float(p[0]))
    params["b"].append(float(p[1]))
    return {"params": params, "grads": grads, "batch_loss": losses,
            "batches": [list(map(int, batch)) for batch in order]}


def _shuffled_epochs(seed, n=7, batch_size=3, steps=9):
    """DataLoader(shuffle=True)-style batches from Python's random: short last batch kept."""
    import random
    rng, order = random.Random(seed), []
    while len(order) < steps:
        perm = list(range(n))
        rng.shuffle(perm)
        order += [perm[i:i + batch_size] for i in range(0, n, batch_size)]
    return order[:steps]


def _random_subsets(seed, n=7, steps=9):
    """micrograd-style: each step a random subset of random size (with replacement across steps)."""
    rng = np.random.default_rng(seed)
    return [rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False).tolist()
            for _ in range(steps)]


@pytest.mark.parametrize("order", [_shuffled_epochs(1), _random_subsets(2)],
                         ids=["shuffled-epochs-short-last-batch", "random-subsets"])
def test_your_initial_values_and_batches_drive_the_reference(order):
    experiment = comparisons.parse_spec(OPEN_SPEC.format(model="", run=""), from_trajectory=True)
    assert experiment.left_to_trajectory() == ("initial values",)
    theirs = _user_loop(order, w=0.37, b=-0.81)  # torch-like random initial values
    verdict = check(experiment, theirs)
    # The user's NumPy loop is the same float64 formulas: within 1e-12 (the comparator's).
    assert verdict.agree, verdict.describe()
    assert verdict.reference_trajectory.batches == order
    assert verdict.reference_trajectory.params["w"][0] == 0.37
    sizes = [len(batch) for batch in order]
    steps = (f"9 steps, {min(sizes)} to {max(sizes)} examples" if min(sizes) != max(sizes)
             else f"9 steps, {sizes[0]} examples each")
    assert verdict.lines()[1:3] == ["initial values: from your trajectory's step 0",
                                    f"batches: from your trajectory ({steps})"]
    assert verdict.to_json()["from_trajectory"] == {
        "initial_values": True,
        "batches": {"steps": 9, "smallest": min(sizes), "largest": max(sizes)}}
    assert f"- batches: from your trajectory ({steps})" in verdict.markdown()
    buggy = check(experiment, _user_loop(order, w=0.37, b=-0.81, flip_bias=True))
    assert (buggy.first_mismatch.step, buggy.first_mismatch.quantity) == (0, "grads.b")
    # The faults run on the replayed run too: the bug is named.
    assert [d.fault for d in buggy.diagnoses] == ["bias-gradient-sign"]


def test_a_spec_with_its_own_values_and_order_replays_nothing():
    verdict = check(REGISTRY["mini-batch"], {"params": {"w": [0.0]}})
    assert verdict.replay.lines() == [] and verdict.to_json()["from_trajectory"] == {
        "initial_values": False, "batches": None}


def test_batches_left_to_the_trajectory_with_a_nominal_batch_size():
    text = OPEN_SPEC.format(model="w = 0.0\nb = 0.0", run='batch_size = 3\nbatches = "trajectory"')
    experiment = comparisons.parse_spec(text, from_trajectory=True)
    order = _shuffled_epochs(4)
    assert check(experiment, _user_loop(order, w=0.0, b=0.0)).agree
    with pytest.raises(TrajectoryError, match=r'^batches: open-loop leaves the batches to your '
                                              r'trajectory \(\[run\] batches = "trajectory"\) '
                                              r"and it holds none$"):
        check(experiment, {"params": {"w": [0.0]}})


@pytest.mark.parametrize(("data", "message"), [
    ({"params": {"w": [0.1]}}, r"^initial values: open-loop gives none and your trajectory has "
                               r"no step-0 params for b \(record params at step 0, or give the "
                               r"initial values in the spec's \[model\]\)$"),
    ({"params": {"w": [0.1], "b": [0.0]}, "batches": {"0": [1, 2], "2": [3]}},
     r"^batches: your trajectory has no batch at step 1, 3\.\.8; the reference trains on your "
     r"batches, so it needs every step's \(0\.\.8\)$"),
    ({"params": {"w": [0.1], "b": [0.0]}, "batches": [[1, 2], *[{"1": 3}] * 8]},
     r"^batches at step 1: no example at position 0 \(the reference trains on your batch: give "
     r"positions 0\.\.1\)$"),
    ({"params": {"w": [0.1], "b": [0.0]}, "batches": [[1, 7]] * 9},
     r"^batches at step 0: example index 7 is outside open-loop's 7 training examples$"),
])
def test_what_neither_the_spec_nor_the_trajectory_gives_is_one_line(data, message):
    experiment = comparisons.parse_spec(OPEN_SPEC.format(model="", run=""), from_trajectory=True)
    with pytest.raises(TrajectoryError, match=message):
        check(experiment, data)


def test_a_batch_that_differs_from_the_specs_order_is_the_first_mismatch_never_a_gradient():
    experiment = REGISTRY["mini-batch"]
    reference = _manual(experiment)
    order = [list(batch) for batch in reference.batches]
    order[3] = [order[3][0], (order[3][1] + 1) % 10]  # one example swapped at step 3
    order[7] = list(reversed(order[7]))
    theirs = _user_loop_on(experiment, order)
    verdict = check(experiment, theirs, diagnosis=False)
    mismatch = verdict.first_mismatch
    assert (mismatch.step, mismatch.quantity) == (3, "batches")
    assert (mismatch.expected, mismatch.actual) == (reference.batches[3], order[3])
    assert ('batches: 2 of 15 differ from the spec\'s order (to train the reference on your own '
            'batches, set [run] batches = "trajectory")') in verdict.lines()
    assert verdict.batches_differ == (2, 15)
    report = json.loads(dumps_json(verdict.to_json()))
    assert report["batches_differ"] == {"differ": 2, "compared": 15}
    assert "batches" not in report["max_abs_diff"]
    assert "| batches | 0..14 | 0..14 | 2 of 15 differ |" in verdict.markdown()
    assert "inf" not in verdict.markdown()


def _user_loop_on(experiment, order):
    """Plain SGD on the line over ``order`` (NumPy float64), recording params, grads, batches."""
    data = np.asarray(experiment.train)
    w, b, rate = experiment.init["w"], experiment.init["b"], experiment.learning_rate
    params, grads = {"w": [], "b": []}, {"w": [], "b": []}
    for batch in order:
        x, y = data[batch, 0], data[batch, 1]
        error = w * x + b - y
        gw, gb = float(np.mean(error * x)), float(np.mean(error))
        for name, value, grad in (("w", w, gw), ("b", b, gb)):
            params[name].append(float(value))
            grads[name].append(grad)
        w, b = w - rate * gw, b - rate * gb
    params["w"].append(float(w))
    params["b"].append(float(b))
    return {"params": params, "grads": grads, "batches": order}


# --- the verdict is the same whichever reference computed it ----------------------------------


def _losses_and_every_tenth_params(record: TrajectoryRecord) -> Trajectory:
    """What a large run records: the losses at every step, the parameters every 10th."""
    tenth = range(0, len(record.train_loss), 10)
    return Trajectory(params={name: {k: values[k] for k in tenth}
                              for name, values in record.params.items()},
                      batch_loss=record.batch_loss, train_loss=record.train_loss)


@pytest.mark.parametrize(("name", "fault", "partial", "first"), [
    ("softmax/delay-class", None, False, None),
    ("softmax/delay-class", None, True, None),
    ("softmax/delay-class", "bias-gradient-sign", False, (0, "grads.layers.0.b[0]")),
    ("softmax/delay-class", "update-before-loss", False, (0, "batch_loss")),
    ("softmax/delay-class", "learning-rate-applied-twice", False, (1, "params.layers.0.w[0,0]")),
    ("softmax/delay-class", "learning-rate-applied-twice", True, (1, "batch_loss")),
    ("softmax/delay-class", "batch-order-not-reshuffled", False, (6, "batches")),
    ("mini-batch", None, False, None),
    ("mini-batch", "gradients-not-cleared", False, (1, "grads.w")),
    ("mini-batch", "update-sign-flipped", True, (1, "batch_loss")),
])
def test_the_verdict_is_the_same_whichever_reference_computed_it(name, fault, partial, first):
    """``check(reference="manual")`` and ``check(reference="jax")`` give one verdict.

    Identical: agreement, the first mismatch's step, series (quantity and leaf) and your
    value there, the coverage (what was compared, every count), the batches that differ,
    what was replayed, the dtype and tolerance, and which series have a largest
    difference. At rounding level only, since the two references' own values differ
    there: the reference's value at the first mismatch and each largest difference,
    within the comparator's own bound between two correct runs, tol * (1 + s) with s the
    largest magnitude the manual run holds (the two runs agree to that on every
    experiment, test_compare's all-backends test; a difference of differences is no larger).
    """
    experiment = REGISTRY[name]
    record = run_variant(experiment, fault)
    theirs = _losses_and_every_tenth_params(record) if partial else record
    manual = check(experiment, theirs, reference="manual", diagnosis=False)
    jax = check(experiment, theirs, reference="jax", diagnosis=False)
    assert (manual.reference, jax.reference) == ("manual", "jax")
    assert manual.agree is jax.agree is (first is None)
    for field in ("dtype", "tolerance", "coverage", "batches_differ", "replay"):
        assert getattr(manual, field) == getattr(jax, field), field
    assert list(manual.max_abs_diff) == list(jax.max_abs_diff)
    reference = manual.reference_trajectory
    largest = max(abs(v) for _, values in reference.series() for v in np.ravel(values))
    bound = manual.tolerance * (1 + largest)
    for label, diff in manual.max_abs_diff.items():
        assert abs(diff - jax.max_abs_diff[label]) <= bound, label
    if first is None:
        assert manual.first_mismatch is jax.first_mismatch is None
        return
    one, two = manual.first_mismatch, jax.first_mismatch
    assert (one.backend, one.step, one.quantity, one.actual) == (
        two.backend, two.step, two.quantity, two.actual)
    assert (one.step, one.quantity) == first
    if isinstance(one.expected, list):  # a batch: index lists, equal or not
        assert one.expected == two.expected
    else:
        assert abs(one.expected - two.expected) <= bound
