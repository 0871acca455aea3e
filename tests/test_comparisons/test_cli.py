"""``python -m comparisons``: exit codes, lesson transcripts, reports, one-line errors.

Bad command lines are one table in ``test_bad_input_comparisons.py``.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_helpers import Child, assert_refused, needs_proc, run_cli
from lesson_fixture import lesson_blocks
from report_shape import validate_report

from comparisons import cli
from comparisons.backends import BACKEND_NAMES
from comparisons.cli import engine_operations, engine_warning
from comparisons.experiments import REGISTRY, Experiment
from comparisons.faults import FAULTS
from comparisons.lesson_outputs import LESSON_OUTPUTS
from functional_training.runs import make_console

DOOR = "comparisons"
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


# --- help -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["", "run", "lesson", "faults", "check", "figures", "all",
                                     "rerun"])
def test_every_subcommand_has_help(capsys, command):
    code, out, _ = run_cli(capsys, DOOR, *command.split(), "--help")
    assert code == 0
    assert out.startswith("usage: python -m comparisons")


def test_every_example_file_the_help_names_exists(capsys):
    # The help is the first place a user copies a command from: a path in it must work.
    named = set()
    for command in ("", "run", "lesson", "faults", "check", "figures", "all", "rerun"):
        _, out, _ = run_cli(capsys, DOOR, *command.split(), "--help")
        named |= set(re.findall(r"examples/[\w./-]+\.toml", out))
    assert named, "the help names no example spec file"
    missing = sorted(path for path in named if not (ROOT / path).is_file())
    assert not missing, missing


def test_no_subcommand_prints_help_and_exits_2(capsys):
    code, out, _ = run_cli(capsys, DOOR)
    assert code == 2
    assert "run" in out and "lesson" in out and "faults" in out


def test_the_module_docstring_shows_examples():
    assert "python -m comparisons all" in cli.__doc__
    assert "Exit codes" in cli.__doc__


# --- lesson ------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_lesson_output_of_every_backend_is_the_lessons_printed_lines(capsys, backend):
    code, out, err = run_cli(capsys, DOOR, "lesson", "--backend", backend)
    assert code == 0, err
    assert lesson_blocks(out) == lesson_blocks()  # block by block, line by line
    assert out == LESSON_OUTPUTS  # and character for character, headers included


def test_lesson_without_a_backend_prints_every_backends_transcript(capsys):
    code, out, _ = run_cli(capsys, DOOR, "lesson")
    assert code == 0
    sections = out.split("# backend: ")[1:]
    assert [s.splitlines()[0] for s in sections] == list(BACKEND_NAMES)
    for section in sections:
        assert section.split("\n", 1)[1] == LESSON_OUTPUTS


def test_lesson_check_compares_every_backend(capsys):
    code, out, _ = run_cli(capsys, DOOR, "lesson", "--check")
    assert code == 0
    assert out.splitlines() == [f"lesson transcript of {b}: matches the lesson"
                                for b in BACKEND_NAMES]


def test_lesson_check_fails_when_a_transcript_differs(capsys, monkeypatch):
    import comparisons.lesson_outputs as outputs

    parse = outputs.lesson_blocks
    wrong = outputs.LESSON_OUTPUTS.replace("a*a=9.0", "a*a=9.1")
    monkeypatch.setattr(outputs, "lesson_blocks", lambda: parse(wrong))
    code, out, _ = run_cli(capsys, DOOR, "lesson", "--check", "--backend", "engine")
    assert code == 1
    assert out.strip() == (
        "lesson transcript of engine: DIFFERS: shared-path line 1: expected 'a*a=9.1', "
        "got 'a*a=9.0'"
    )


# --- run -----------------------------------------------------------------------------------------


def test_run_prints_the_table_and_writes_both_reports(capsys, tmp_path):
    report, table = tmp_path / "report.json", tmp_path / "report.md"
    code, out, err = run_cli(capsys, DOOR, "run", "--experiment", "five-steps", "--experiment",
                             "learning-rates", "--json", str(report), "--markdown", str(table))
    assert code == 0, err
    for name in ("five-steps", "learning-rates/lr=0.01", "learning-rates/lr=0.5"):
        assert name in out
    assert out.count("agree ") == 4 * 3  # 4 experiments x 3 backends besides the reference
    data = json.loads(report.read_text())
    validate_report(data)
    assert [e["name"] for e in data["experiments"]] == [
        "five-steps", "learning-rates/lr=0.01", "learning-rates/lr=0.1", "learning-rates/lr=0.5"]
    assert data["all_agree"] is True
    assert "| five-steps | agree" in table.read_text()
    assert sorted(os.listdir(tmp_path)) == ["report.json", "report.md"]  # no temp files left


def test_run_with_chosen_backends_compares_only_those(capsys, tmp_path):
    report = tmp_path / "r.json"
    code, _, _ = run_cli(capsys, DOOR, "run", "--experiment", "shared-path", "--backend", "engine",
                         "--json", str(report))
    assert code == 0
    entry = json.loads(report.read_text())["experiments"][0]
    assert set(entry["backends"]) == {"manual", "engine"}  # the reference always runs


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_spec_runs_and_agrees(capsys, path):
    code, out, err = run_cli(capsys, DOOR, "run", "--spec", str(path))
    assert code == 0, err
    assert path.stem in out


def test_a_diverging_spec_shows_where_it_goes_non_finite(capsys):
    code, out, _ = run_cli(capsys, DOOR, "run", "--spec",
                           str(ROOT / "examples" / "diverging-rate.toml"))
    assert code == 0  # every backend overflows at the same step: they agree
    assert "diverges at" in out
    assert "(|grad|" in out


def _first_nonfinite_step(ref: dict, steps: int) -> int | None:
    """First k where a NumPy reference run has a non-finite parameter, loss or gradient."""
    import numpy as np

    for k in range(steps + 1):
        at_k = [ref["w"][k], ref["b"][k], ref["train_loss"][k]]
        if k < steps:
            at_k += [ref["grad_w"][k], ref["grad_b"][k], ref["batch_loss"][k]]
        if not np.isfinite(at_k).all():
            return k
    return None


def test_divergence_is_data_in_the_table_and_the_json(capsys, tmp_path, monkeypatch):
    import numpy as np
    from numpy_reference import numpy_sgd

    from comparisons.spec import load_spec
    from functional_training import tolerance

    monkeypatch.setenv("COLUMNS", "200")  # one table row per line
    spec = ROOT / "examples" / "diverging-rate.toml"
    experiment = load_spec(spec)
    report = tmp_path / "r.json"
    code, out, err = run_cli(capsys, DOOR, "run", "--spec", str(spec), "--json", str(report))
    assert code == 0, err  # the run finishes, and every backend overflows at the same step

    ref = numpy_sgd(0.0, 0.0, experiment.xs, experiment.ys, experiment.learning_rate,
                    experiment.steps)
    expected = _first_nonfinite_step(ref, experiment.steps)
    assert expected is not None and expected < experiment.steps
    data = json.loads(report.read_text(), parse_constant=lambda c: pytest.fail(c))
    entry = data["experiments"][0]
    assert entry["agree"] is True
    assert entry["first_nonfinite_step"] == {b: expected for b in BACKEND_NAMES}
    norms = np.hypot(ref["grad_w"][:expected], ref["grad_b"][:expected])
    for backend in BACKEND_NAMES:
        traj = entry["backends"][backend]
        assert traj["first_nonfinite_step"] == expected
        assert len(traj["grad_norm"]) == experiment.steps
        # Independent float64 implementations: a few ulps per step; relative, the norms
        # reach 1e154 (the project's float64 tolerance, 1e-12).
        np.testing.assert_allclose(traj["grad_norm"][:expected], norms,
                                   rtol=tolerance("float64", 0))
        assert not math.isfinite(float(traj["batch_loss"][expected]))
    row = next(line for line in out.splitlines() if line.strip().startswith("diverging-rate"))
    assert f"step {expected} (|grad| {norms[-1]:.1e} at step {expected - 1})" in row


def test_a_backend_that_diverges_earlier_is_a_reported_mismatch(capsys, tmp_path, monkeypatch):
    import dataclasses

    import comparisons.backends as backends

    real = backends.get_backend

    class EarlyOverflow:  # torch's run with the training loss overflowing from step 5 on
        def missing(self):
            return None

        def run(self, experiment, *, dtype="float64"):
            traj = real("torch").run(experiment, dtype=dtype)
            losses = traj.train_loss[:5] + [math.inf] * (len(traj.train_loss) - 5)
            return dataclasses.replace(traj, train_loss=losses)

    monkeypatch.setattr(backends, "get_backend",
                        lambda name: EarlyOverflow() if name == "torch" else real(name))
    monkeypatch.setenv("COLUMNS", "200")
    report = tmp_path / "r.json"
    code, out, _ = run_cli(capsys, DOOR, "run", "--experiment", "full-batch", "--json", str(report))
    assert code == 1
    manual = real("manual").run(REGISTRY["full-batch"])
    expected = manual.train_loss[5]
    row = next(line for line in out.splitlines() if line.strip().startswith("full-batch"))
    assert "MISMATCH step 5" in row
    assert f"torch: step 5 (|grad| {manual.grad_norm[4]:.1e} at step 4)" in row
    assert (f"first mismatch: full-batch: torch differs from manual at step 5, train_loss: "
            f"expected {expected!r}, got inf") in out
    entry = json.loads(report.read_text())["experiments"][0]
    assert entry["first_nonfinite_step"] == {"manual": None, "engine": None, "torch": 5,
                                             "jax": None}
    assert entry["first_mismatch"] == {"backend": "torch", "step": 5, "quantity": "train_loss",
                                       "expected": expected, "actual": "Infinity"}


def test_run_in_float32_uses_float32_tolerances(capsys, tmp_path):
    report = tmp_path / "r.json"
    code, _, err = run_cli(capsys, DOOR, "run", "--dtype", "float32", "--experiment", "full-batch",
                           "--json", str(report))
    assert code == 0, err
    data = json.loads(report.read_text())
    assert data["dtype"] == "float32"
    assert data["experiments"][0]["tolerance"] > 1e-6  # 32 eps32 (S + 1) = 8e-5 for S = 20


def test_the_diverging_example_agrees_in_float32_and_says_what_computed_in_float64(
    capsys, tmp_path
):
    # torch and jax overflow float32 at step 29, where the float64 reference holds 1.9e39:
    # compared rounded to float32 that is an overflow too, so every backend agrees.
    report, markdown = tmp_path / "r.json", tmp_path / "r.md"
    spec = ROOT / "examples" / "diverging-rate.toml"
    code, out, err = run_cli(capsys, DOOR, "run", "--spec", str(spec), "--dtype", "float32",
                             "--json", str(report), "--markdown", str(markdown))
    assert code == 0, out + err
    note = "manual, engine: float64 (Python floats); compared rounded to float32"
    assert note in " ".join(out.split())  # the table's caption (rich may wrap it)
    assert f"Computed in: {note}." in markdown.read_text().splitlines()
    data = json.loads(report.read_text())
    assert data["computed_in"] == {"manual": "float64 (Python floats)",
                                   "engine": "float64 (Python floats)",
                                   "torch": "float32", "jax": "float32"}
    steps = data["experiments"][0]["first_nonfinite_step"]
    assert len(set(steps.values())) == 1, steps  # as compared: one step for every backend
    assert data["experiments"][0]["backends"]["manual"]["first_nonfinite_step"] > steps["manual"]


def test_a_float64_report_has_no_precision_note(capsys, tmp_path):
    markdown = tmp_path / "r.md"
    code, out, err = run_cli(capsys, DOOR, "run", "--experiment", "five-steps", "--markdown",
                             str(markdown))
    assert code == 0, err
    assert "computed in" not in out.lower() and "computed in" not in markdown.read_text().lower()


def test_a_mismatch_exits_1_and_names_where(capsys, monkeypatch):
    import comparisons.backends as backends

    real = backends.get_backend
    broken = FAULTS["sum-not-mean"]

    class SummingEngine:
        def missing(self):
            return None

        def run(self, experiment, *, dtype="float64"):
            return broken.run(experiment, broken=True)

    monkeypatch.setattr(backends, "get_backend",
                        lambda name: SummingEngine() if name == "engine" else real(name))
    code, out, _ = run_cli(capsys, DOOR, "run", "--experiment", "full-batch", "--backend", "engine")
    assert code == 1
    assert "MISMATCH step 0" in out
    assert ("first mismatch: full-batch: engine differs from manual at step 0, grads.w: "
            "expected -11.333333333333334, got -34.0") in out


# --- refusals that need a changed environment (bad command lines: test_bad_input_comparisons) ---


def test_an_unavailable_explicit_backend_is_exit_2(capsys, monkeypatch):
    import comparisons.backends as backends

    hints = {name: None for name in BACKEND_NAMES} | {"torch": "pip install torch==2.13.0"}
    monkeypatch.setattr(backends, "available_backends", lambda: hints)
    code, out, err = run_cli(capsys, DOOR, "run", "--backend", "torch")
    assert_refused(code, out, err,
                   re.escape("backend 'torch' is not available here: pip install torch"))


# --- faults and all ------------------------------------------------------------------------------


def test_faults_catches_every_fault(capsys):
    code, out, _ = run_cli(capsys, DOOR, "faults")
    assert code == 0
    for name in FAULTS:
        assert name in out
    assert f"faults: {len(FAULTS)} of {len(FAULTS)} caught" in out
    assert "step 0, grads.a" in out  # where the a * a fault shows


def test_faults_exits_1_when_a_fault_goes_uncaught(capsys, monkeypatch):
    import dataclasses

    import comparisons.faults as faults

    fault = faults.FAULTS["sum-not-mean"]
    harmless = dataclasses.replace(  # its "broken" variant is the correct code
        fault, run=lambda experiment, *, broken: fault.run(experiment, broken=False))
    monkeypatch.setitem(faults.FAULTS, "sum-not-mean", harmless)
    code, out, _ = run_cli(capsys, DOOR, "faults")
    assert code == 1
    assert f"faults: {len(FAULTS) - 1} of {len(FAULTS)} caught" in out
    assert "NOT CAUGHT" in out


def test_figures_refused_when_unverified_is_one_line_exit_1(capsys, monkeypatch, tmp_path):
    from comparisons import figures

    def refuse(out_dir, formats):
        raise figures.UnverifiedTrajectoryError("five-steps: jax disagrees at step 2 (params.w)")

    monkeypatch.setattr(figures, "render_all", refuse)
    code, out, err = run_cli(capsys, DOOR, "figures", "--out", str(tmp_path))
    assert (code, out) == (1, "")
    assert err == "figures: not rendered: five-steps: jax disagrees at step 2 (params.w)\n"
    assert list(tmp_path.iterdir()) == []


SMALL_REGISTRY = {name: e for name, e in REGISTRY.items()
                  if e.lesson_block is not None or name == "softmax/delay-class"}
"""The lesson's experiments and one next-lesson classifier: the registry of the fresh-process
`all` test (the summary, the report and the manifest are the same code for any registry)."""

SMALL_REGISTRY_MAIN = f"""
import runpy
import comparisons.cli as cli
cli.REGISTRY = {{name: cli.REGISTRY[name] for name in {list(SMALL_REGISTRY)!r}}}
runpy.run_module("comparisons", run_name="__main__", alter_sys=True)
"""
"""``python -c SMALL_REGISTRY_MAIN ARGS`` is ``python -m comparisons ARGS`` (``runpy`` runs the
package's ``__main__`` as ``-m`` does) with :data:`SMALL_REGISTRY` for the registry."""


@pytest.mark.slow
def test_the_readme_command_exits_0_in_a_fresh_process(tmp_path):
    # `python -m comparisons all`, as the README runs it, in a fresh interpreter: its exit
    # code, its summary on stdout, the report and the manifest, no traceback and no escape
    # codes when stdout is not a terminal. A small registry stands in for the registry and
    # the figures are skipped, so it takes seconds (the whole command took 144 to 171 s on
    # one core). What the whole command computes is asserted in-process, once per suite:
    # every registry experiment on every backend (test_backends.py; the engine at full size
    # in backends/test_engine.py), the lesson and the faults (here: the lesson's
    # experiments are all in the small registry; the gallery runs whole), and the figures,
    # verified, through `all` (figures/test_course.py).
    report, manifest = tmp_path / "all.json", tmp_path / "all.manifest.json"
    result = subprocess.run(
        [sys.executable, "-c", SMALL_REGISTRY_MAIN, "all", "--no-figures", "--json", str(report),
         "--manifest", str(manifest)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "100"},
        timeout=600, check=False)  # a hang guard only
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    summary = result.stdout.rstrip().splitlines()[-5:]
    total = len(SMALL_REGISTRY)
    assert summary[0].startswith(f"run:     {total} of {total} experiments agree across manual, "
                                 "engine, torch, jax")
    assert summary[1] == "lesson:  manual ok; engine ok; torch ok; jax ok"
    assert summary[2] == f"faults:  {len(FAULTS)} of {len(FAULTS)} caught"
    assert summary[3] == "figures: skipped (--no-figures)"
    assert summary[4] == "all:     everything agrees"
    assert "\x1b[" not in result.stdout  # not a terminal: no escape codes, no progress bar
    data = json.loads(report.read_text())
    validate_report(data)
    assert len(data["experiments"]) == total
    assert data["manifest"] == json.loads(manifest.read_text())
    assert data["manifest"]["tool"] == "comparisons all"
    assert len(data["manifest"]["runs"]) == total


def test_float32_run_says_which_experiments_it_skipped(capsys, monkeypatch):
    # Which experiments a float32 run skips is decided per experiment (its kind): two of
    # the registry stand in for it (the whole registry in float32 took 34 s).
    monkeypatch.setattr(cli, "REGISTRY", {name: REGISTRY[name]
                                          for name in ("five-steps", "gradient-check")})
    code, out, _ = run_cli(capsys, DOOR, "run", "--dtype", "float32", "--backend", "jax")
    assert code == 0
    assert out.splitlines()[-1] == ("skipped in float32: gradient-check (finite-difference "
                                    "gradient checks are float64 only)")


def test_run_table_says_the_verdict_is_relative(capsys):
    code, out, _ = run_cli(capsys, DOOR, "run", "--experiment", "five-steps")
    assert code == 0
    assert "agree: every value within atol + rtol * |reference|" in " ".join(out.split())


# --- the engine's time, announced (issue 13) ---


def _big_spec(path: Path, *, rows: int, steps: int, name: str = "big") -> Path:
    data = [[round(0.5 + 4.5 * (i % 97) / 97, 3), round(1.0 + 2.0 * (i % 97) / 97 + (i % 7) / 7,
                                                        3)] for i in range(rows)]
    path.write_text(textwrap.dedent(f"""\
        name = "{name}"
        [data]
        train = {data}
        [model]
        w = 0.0
        b = 0.0
        [optimizer]
        name = "sgd"
        learning_rate = 0.01
        [run]
        steps = {steps}
        """))
    return path


def test_the_engine_estimate_is_examples_times_features_times_steps():
    full = REGISTRY["full-batch"]  # 3 examples, 1 feature, 20 steps, full batch
    assert engine_operations(full) == 21 * (3 + 3) * 2
    d2l = REGISTRY["multi-feature/d2l"]
    assert engine_operations(d2l) == 301 * (1000 + 10) * 3
    # The whole registry is not slow: no warning for `comparisons all`.
    assert engine_warning(list(REGISTRY.values()), ["manual", "engine", "torch", "jax"]) is None


def test_a_slow_engine_run_is_announced_with_how_to_skip_it():
    rows = tuple((float(i % 5), float(i % 7)) for i in range(2000))
    big = Experiment("big", "", rows, {"w": 0.0, "b": 0.0}, "sgd", {"learning_rate": 0.01},
                     1000)
    line = engine_warning([big], ["manual", "engine", "torch", "jax"])
    assert line.startswith("warning: the engine backend (scalar autograd in pure Python) will "
                           "take about 2 min here (8.0e+06 scalar operations")
    assert line.endswith("; --backend manual --backend torch --backend jax runs the others "
                         "without it")
    assert "\n" not in line
    assert engine_warning([big], ["manual", "torch"]) is None  # skipped with --backend


@pytest.mark.slow
@needs_proc
def test_comparisons_run_warns_up_front_and_shows_each_experiment_and_backend(tmp_path):
    spec = _big_spec(tmp_path / "big.toml", rows=1000, steps=1000)
    child = Child("comparisons", "run", "--spec", str(spec), "--progress", cwd=tmp_path)
    child.wait_for(lambda: child.stderr_has("1/1 big: engine"), "the engine's progress")
    code, _, err = child.interrupt()
    assert code == 130
    first = err.split("\n")[0]
    assert first.startswith("warning: the engine backend (scalar autograd in pure Python) "
                            "will take about 60 s here")
    assert "--backend manual --backend torch --backend jax runs the others without it" in first
    assert "1/1 big: manual" in err  # the backend before it, named while it ran
    assert "Traceback" not in err


# --- tables on a pipe ---


def test_tables_on_a_pipe_are_100_columns_and_never_cut_a_word(capsys, tmp_path):
    assert make_console().width == 100  # pytest's capture is not a terminal
    name = "a-diverging-run-with-a-rather-long-descriptive-name-for-the-table"
    spec = tmp_path / "long.toml"
    spec.write_text((ROOT / "examples" / "diverging-rate.toml").read_text().replace(
        'name = "diverging-rate"', f'name = "{name}"'))
    code, out, _ = run_cli(capsys, DOOR, "run", "--spec", spec, "--dtype", "float32")
    assert code == 0
    assert "…" not in out  # no cell or header squeezed to an ellipsis
    lines = out.splitlines()
    row = next(line for line in lines if name in line)
    assert "step 29 (|grad| 3.2e+19 at step 28)" in row  # one cell, one line
    assert any("diverges at" in line for line in lines)
    assert ("agree: every value within atol + rtol * |reference| at its series' scale, or past "
            "an overflow (functional_training.tolerance); max |diff| is absolute, so it is large "
            "where values are large") in lines  # a whole line, never wrapped
    assert "computed in: manual, engine: float64 (Python floats); compared rounded to float32" in (
        lines)
    code, out, _ = run_cli(capsys, DOOR, "faults")
    assert code == 0 and "…" not in out
    assert all(len(line) <= 100 for line in out.splitlines() if "│" in line or "─" in line)
