"""``python -m comparisons check``: exit 0 agree, 1 mismatch, 2 bad input in one line.

Every bad trajectory file is one row of :data:`BAD_FILES`: exit 2, nothing on
stdout, one line on stderr naming the file and the row (CSV) or key (JSON), and
no report written.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from cli_helpers import (
    assert_nothing_written,
    assert_refused,
    files_under,
    run_cli,
    run_module,
)

from comparisons import cli
from comparisons.check_cli import add_check_parser, cmd_check
from comparisons.trajectory import Trajectory

DOOR = "comparisons"
ROOT = Path(__file__).resolve().parents[2]
STUDENT = ROOT / "examples" / "student-loop"
SPEC = STUDENT / "spec.toml"
HEADER = "step,quantity,name,value\n"


def _wired() -> bool:
    parser = cli.build_parser(figure_arguments=False)
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return "check" in commands.choices


pytestmark = pytest.mark.skipif(not _wired(), reason="`check` is not wired into "
                                "comparisons.cli.build_parser yet (add_check_parser(commands))")


def _check(capsys, *argv):
    return run_cli(capsys, DOOR, "check", *argv)


# --- exit 0 and 1 ------------------------------------------------------------------------------


def test_check_has_help_naming_the_formats(capsys):
    code, out, _ = _check(capsys, "--help")
    assert code == 0 and out.startswith("usage: python -m comparisons check")
    for words in ("--trajectory", "step,quantity,name,value", "--dtype", "Exit"):
        assert words in out
    for path in re.findall(r"examples/[\w./-]+\.(?:toml|json|csv)", out):
        assert (ROOT / path).is_file(), path


def test_the_correct_example_agrees_exit_0(capsys):
    code, out, err = _check(capsys, "--spec", SPEC, "--trajectory", STUDENT / "correct.json")
    assert code == 0, err
    assert out.splitlines() == [
        "student-loop: your trajectory against manual (float64, rtol = atol = 1e-12)",
        "compared: params (w, b) 0..25; grads (w, b) 0..24; batch_loss 0..24; train_loss 0..25 "
        "(153 of 309 values)",
        "not compared: predictions 0..25",
        "agree: your trajectory agrees with manual on the 153 values it holds (max |diff| "
        "0.0e+00, tolerance 1e-12)",
    ]


def test_the_buggy_example_mismatches_exit_1_with_its_diagnosis(capsys):
    code, out, _ = _check(capsys, "--spec", SPEC, "--trajectory", STUDENT / "buggy.csv")
    assert code == 1
    lines = out.splitlines()
    assert lines[3] == ("MISMATCH: your trajectory differs from manual at step 0, grads.b: "
                        "expected -6.183333333333334, got 6.183333333333334")
    assert lines[4] == ("diagnosis: your trajectory matches the reference with "
                        "bias-gradient-sign: the hand-written bias gradient has the wrong sign "
                        "(first differs from the correct reference at step 0, grads.b)")


def test_a_mismatch_no_fault_explains(capsys, tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(HEADER + "1,params,w,0.5\n")
    code, out, _ = _check(capsys, "--spec", SPEC, "--trajectory", path)
    assert code == 1
    assert out.splitlines()[-1] == "diagnosis: your trajectory matches no known fault"


def test_json_and_markdown_reports(capsys, tmp_path):
    report, page = tmp_path / "check.json", tmp_path / "check.md"
    code, _, _ = _check(capsys, "--spec", SPEC, "--trajectory", STUDENT / "buggy.csv",
                        "--json", report, "--markdown", page)
    assert code == 1
    data = json.loads(report.read_text())
    assert data["tool"] == "comparisons check" and data["agree"] is False
    assert data["spec"] == str(SPEC) and data["trajectory_file"] == str(STUDENT / "buggy.csv")
    assert data["diagnosis"][0]["fault"] == "bias-gradient-sign"
    assert data["coverage"]["not_supplied"] == ["batch_loss", "train_loss", "predictions"]
    assert "**MISMATCH**" in page.read_text()
    # The report's own trajectory is a trajectory file: it checks the same way.
    again = tmp_path / "again.json"
    again.write_text(json.dumps(data["trajectory"]))
    assert _check(capsys, "--spec", SPEC, "--trajectory", again)[0] == 1


def test_a_float32_trajectory_with_dtype_float32(capsys, tmp_path):
    import numpy as np

    x = np.array([0.5, 1.0, 2.0, 3.0, 4.0, 5.0], dtype=np.float32)
    y = np.array([2.1, 2.8, 4.9, 6.8, 9.2, 11.3], dtype=np.float32)
    w = b = np.float32(0.0)
    ws, bs = [], []
    for _ in range(25):
        e = w * x + b - y
        ws.append(float(w))
        bs.append(float(b))
        w, b = w - np.float32(0.05) * np.mean(e * x), b - np.float32(0.05) * np.mean(e)
    path = tmp_path / "float32.json"
    path.write_text(json.dumps(Trajectory(params={"w": ws, "b": bs}).to_json()))
    assert _check(capsys, "--spec", SPEC, "--trajectory", path, "--dtype", "float32")[0] == 0
    assert _check(capsys, "--spec", SPEC, "--trajectory", path)[0] == 1


def test_another_reference(capsys):
    code, out, _ = _check(capsys, "--spec", SPEC, "--trajectory", STUDENT / "correct.json",
                          "--reference", "jax")
    assert code == 0 and "against jax" in out


# --- exit 2: one line naming the row or key ---------------------------------------------------

BAD_FILES = [
    # (id, file name, content, message regex after "error: <path>: ")
    ("unknown-quantity", "t.csv", HEADER + "0,params,w,0.0\n0,params,b,0.0\n0,grad,w,1.0\n",
     r"unknown quantity 'grad' in row 4 \(expected params, grads, batch_loss, train_loss, "
     r"val_loss, predictions, batches, extras\)$"),
    ("label-in-quantity", "t.csv", HEADER + "0,grads.w,,1.0\n",
     r"unknown quantity 'grads\.w' in row 2 \(.*; give 'grads' here and the rest in the name "
     r"column\)$"),
    ("unknown-parameter", "t.csv",
     HEADER + "".join(f"{k},params,w,0.0\n" for k in range(5)) + "0,params,v,0.0\n",
     r"unknown parameter 'v' in row 7 \(student-loop has w, b\)$"),
    ("step-out-of-range", "t.csv", HEADER + "30,params,w,0.0\n",
     r"step 30 out of range in row 2 \(student-loop runs 25 steps: params, train_loss, "
     r"predictions 0\.\.25; grads, batch_loss 0\.\.24\)$"),
    ("grads-past-the-last-step", "t.csv", HEADER + "25,grads,w,0.0\n",
     r"step 25 out of range in row 2 \("),
    ("non-numeric", "t.csv", HEADER + "0,params,w,0.0\n1,params,w,0.1\n2,params,w,0.2\n"
     "3,params,w,abc\n", r"non-numeric value 'abc' in row 5$"),
    ("underscored-number", "t.csv", HEADER + "0,params,w,1_000\n",
     r"non-numeric value '1_000' in row 2$"),
    ("empty-value", "t.csv", HEADER + "0,params,w,\n", r"no value in row 2$"),
    ("duplicate", "t.csv", HEADER + "0,params,w,0.0\n1,params,w,0.1\n0,params,w,0.0\n",
     r"a second value for params\.w at step 0 in row 4 \(the first is in row 2\)$"),
    ("negative-step", "t.csv", HEADER + "-1,params,w,0.0\n",
     r"step '-1' in row 2 is not a whole number >= 0$"),
    ("fractional-step", "t.csv", HEADER + "1.5,params,w,0.0\n",
     r"step '1\.5' in row 2 is not a whole number >= 0$"),
    ("loss-with-a-name", "t.csv", HEADER + "0,batch_loss,w,8.0\n",
     r"batch_loss takes no name, got 'w' in row 2$"),
    ("parameter-without-a-name", "t.csv", HEADER + "0,params,,8.0\n",
     r"params needs a parameter name in row 2$"),
    ("too-few-fields", "t.csv", HEADER + "0,params,w\n",
     r"3 fields in row 2, expected 4 \(step,quantity,name,value\)$"),
    ("wrong-header", "t.csv", "step,what,name,value\n0,params,w,0.0\n",
     r"row 1 is 'step,what,name,value', expected the header step,quantity,name,value$"),
    ("empty-csv", "t.csv", "", r"empty file: expected the header step,quantity,name,value$"),
    ("header-only", "t.csv", HEADER, r"the trajectory holds no values: nothing to compare$"),
    ("validation-without-a-validation-set", "t.csv", HEADER + "0,val_loss,,1.0\n",
     r"val_loss in row 2: student-loop has no validation set$"),
    ("prediction-index", "t.csv", HEADER + "0,predictions,6,1.0\n",
     r"prediction index 6 out of range in row 2 \(student-loop has 6 predictions per step: "
     r"0\.\.5\)$"),
    ("batches-of-a-full-batch-run", "t.csv", HEADER + "0,batches,0,1\n",  # replayed: all needed
     r"batches: your trajectory has no batch at step 1\.\.24; the reference trains on your "
     r"batches, so it needs every step's \(0\.\.24\)$"),
    ("unknown-extras", "t.csv", HEADER + "0,extras,numeric.w,1.0\n",
     r"unknown extras series 'numeric\.w' in row 2 \(student-loop records none\)$"),
    ("invalid-json", "t.json", '{"params": {"w": [0.0,]}}',
     r"not valid JSON: Expecting value at line 1 column 23$"),
    ("bare-nan", "t.json", '{"params": {"w": [NaN]}}',
     r'not strict JSON: it contains NaN; write it as the string "NaN"$'),
    ("json-unknown-quantity", "t.json", '{"grad": {"w": [1.0]}}',
     r"unknown quantity 'grad' in the top-level keys \(expected params, grads"),
    ("json-non-numeric", "t.json", '{"params": {"w": [0.0, 0.1, 0.2, "abc"]}}',
     r"non-numeric value 'abc' in params\.w\[3\]$"),
    ("json-unknown-parameter", "t.json", '{"grads": {"v": [0.0]}}',
     r"unknown parameter 'v' in grads\.v\[0\] \(student-loop has w, b\)$"),
    ("json-step-out-of-range", "t.json", '{"train_loss": {"26": 1.0}}',
     r"step 26 out of range in train_loss\[26\] \(student-loop runs 25 steps"),
    ("json-not-an-object", "t.json", "[1.0, 2.0]",
     r"a trajectory is an object of quantities, got a list$"),
    ("json-series-not-a-list", "t.json", '{"batch_loss": 8.0}',
     r"batch_loss must be a list or an object of steps, got a float$"),
    ("json-empty", "t.json", "{}", r"the trajectory holds no values: nothing to compare$"),
    ("whole-report", "t.json", '{"dtype": "float64", "experiments": []}',
     r"this is a whole comparisons report; give one trajectory"),
    ("not-utf8", "t.csv", b"step,quantity,name,value\n0,params,w,\xff\n",
     r"not UTF-8 text$"),
]


@pytest.mark.parametrize(("name", "content", "message"),
                         [pytest.param(*row[1:], id=row[0]) for row in BAD_FILES])
def test_a_bad_trajectory_file_is_refused_in_one_line(capsys, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = files_under(tmp_path)
    code, out, err = _check(capsys, "--spec", SPEC, "--trajectory", path,
                            "--json", out_dir / "check.json", "--markdown", out_dir / "check.md")
    assert_refused(code, out, err, "^" + re.escape(f"error: {path}: ") + message)
    assert_nothing_written(tmp_path, before)


@pytest.mark.parametrize(("argv", "message"), [
    (("--trajectory", "{correct}"), r"the following arguments are required: --spec$"),
    (("--spec", "{spec}"), r"the following arguments are required: --trajectory$"),
    (("--spec", "{tmp}/none.toml", "--trajectory", "{correct}"), r"none\.toml"),
    (("--spec", "{spec}", "--trajectory", "{tmp}/none.csv"),
     r"^error: cannot read trajectory .*none\.csv: No such file or directory$"),
    (("--spec", "{spec}", "--trajectory", "{correct}", "--reference", "nope"),
     r"^error: unknown backend 'nope'; expected one of manual, "),
    (("--spec", "{spec}", "--trajectory", "{correct}", "--dtype", "float16"),
     r"argument --dtype: invalid choice: 'float16'"),
    (("--spec", "{spec}", "--trajectory", "{correct}", "--json", "{tmp}/same",
      "--markdown", "{tmp}/same"), r"^error: --markdown: .*same is also the --json file"),
    (("--spec", "{spec}", "--trajectory", "{correct}", "--json", "{tmp}/no/such/dir/c.json"),
     r"^error: --json: "),
])
def test_bad_command_lines_are_refused_in_one_line(capsys, tmp_path, argv, message):
    values = {"tmp": tmp_path, "spec": SPEC, "correct": STUDENT / "correct.json"}
    before = files_under(tmp_path)
    code, out, err = _check(capsys, *(a.format(**values) for a in argv))
    assert_refused(code, out, err, message)
    assert_nothing_written(tmp_path, before)


# --- the handler on its own, and a fresh process -------------------------------------------------


def test_the_handler_works_from_a_parser_of_its_own(capsys):
    from functional_training.runs import ArgumentParser, make_console, run_handler

    parser = ArgumentParser(prog="demo")
    add_check_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["check", "--spec", str(SPEC), "--trajectory",
                              str(STUDENT / "correct.json")])
    assert args.handler is cmd_check
    assert run_handler(args.handler, args, make_console(), make_console(stderr=True)) == 0


@pytest.mark.slow
def test_the_examples_in_a_fresh_process():
    good = run_module(DOOR, "check", "--spec", SPEC, "--trajectory", STUDENT / "correct.json")
    assert good.returncode == 0, good.stderr
    bad = run_module(DOOR, "check", "--spec", SPEC, "--trajectory", STUDENT / "buggy.csv")
    assert bad.returncode == 1
    assert "diagnosis: your trajectory matches the reference with bias-gradient-sign" in bad.stdout
    refused = run_module(DOOR, "check", "--spec", SPEC, "--trajectory", SPEC)
    assert_refused(refused.returncode, refused.stdout, refused.stderr, r"^error: .*spec\.toml: ")


# --- a spec that leaves its initial values to the trajectory ----------------------------------

NO_INIT = SPEC.read_text().replace("[model]\nw = 0.0\nb = 0.0\n", "[model]\n")


def test_check_fills_the_initial_values_from_the_trajectory(capsys, tmp_path):
    spec = tmp_path / "open.toml"
    spec.write_text(NO_INIT)
    assert "w = 0.0" not in NO_INIT
    report = tmp_path / "check.json"
    code, out, _ = _check(capsys, "--spec", spec, "--trajectory", STUDENT / "correct.json",
                          "--json", report, "--markdown", tmp_path / "check.md")
    assert code == 0, out
    assert out.splitlines()[1] == "initial values: from your trajectory's step 0"
    assert json.loads(report.read_text())["from_trajectory"] == {"initial_values": True,
                                                                 "batches": None}
    assert "- initial values: from your trajectory's step 0" in (tmp_path / "check.md").read_text()


def test_check_without_initial_values_anywhere_is_one_line(capsys, tmp_path):
    spec = tmp_path / "open.toml"
    spec.write_text(NO_INIT)
    theirs = tmp_path / "t.csv"
    theirs.write_text(HEADER + "1,params,w,1.0\n")
    code, out, err = _check(capsys, "--spec", spec, "--trajectory", theirs)
    assert_refused(code, out, err, rf"^error: {re.escape(str(theirs))}: initial values: "
                                   r"student-loop gives none and your trajectory has no step-0 "
                                   r"params for w, b \(record params at step 0, or give the "
                                   r"initial values in the spec's \[model\]\)$")


@pytest.mark.parametrize(("module", "argv"), [
    ("comparisons", ["run", "--spec"]),
    ("functional_training", ["train", "--spec"]),
    ("functional_training", ["sweep", "--learning-rates", "0.01:0.1:2", "--spec"]),
])
def test_running_a_spec_without_initial_values_is_one_line(capsys, tmp_path, module, argv):
    spec = tmp_path / "open.toml"
    spec.write_text(NO_INIT)
    code, out, err = run_cli(capsys, module, *argv, spec)
    assert_refused(code, out, err, rf"^error: {re.escape(str(spec))}: \[model\]\.w: missing "
                                   r"\(give w, b, or init = \"zeros\" or \"seeded\"\); only "
                                   r"`comparisons check` takes initial values from a "
                                   r"trajectory's step-0 params$")


def test_running_a_spec_that_leaves_its_batches_to_a_trajectory_is_one_line(capsys, tmp_path):
    spec = tmp_path / "open.toml"
    spec.write_text(SPEC.read_text() + 'batch_size = 2\nbatches = "trajectory"\n')
    code, out, err = run_cli(capsys, DOOR, "run", "--spec", spec)
    assert_refused(code, out, err, rf'^error: {re.escape(str(spec))}: \[run\]\.batches: '
                                   r'"trajectory" leaves the batches to a trajectory; only '
                                   r"`comparisons check` replays them \(give batch_size and seed "
                                   r"to run this spec\)$")
    theirs = tmp_path / "t.json"
    theirs.write_text(json.dumps({"batches": [[0, 1], [2, 3, 4]] + [[5]] * 23}))
    code, out, _ = _check(capsys, "--spec", spec, "--trajectory", theirs)
    assert code == 0 and "batches: from your trajectory (25 steps, 1 to 3 examples)" in out
