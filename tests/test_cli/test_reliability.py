"""Reliability of both front doors (issue 13): clean Ctrl-C, bounded runs, one output per path,
tables that fit a pipe, labels that say which step a number belongs to.

Interrupt tests send a real SIGINT to a ``python -m ...`` subprocess, at a moment known
from outside: start-up (pyarrow mapped into the process: the imports are under way and
the package's first line has run), the command itself (torch mapped: ``comparisons``
imports it only to run backends; or the first progress output on stderr). Every
interrupted command must exit 130 with ``interrupted`` as its one (last) line on stderr,
no traceback, and no output file, whole or half.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from cli_helpers import run_cli

from comparisons.cli import engine_operations, engine_warning
from comparisons.experiments import REGISTRY, Experiment
from functional_training._datasets import named_data
from functional_training._record_plan import MAX_RECORD_BYTES
from functional_training.runs import make_console
from functional_training.runs._train_settings import (
    make_settings,
    record_bytes,
)
from functional_training.runs._training import run_training

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 180.0
"""Longest wait for a subprocess to reach a marker (two busy cores import slowly)."""

LONG_SWEEP = ("sweep", "--learning-rates", "1e-3:0.3:2000", "--steps", "20000", "--data",
              "synthetic:20000", "--batch-size", "64", "--method", "autodiff", "--optimizer",
              "adam")
"""A sweep of about 10 s here: long enough to be interrupted while it runs."""


def _spec(path: Path, *, rows: int, steps: int, name: str = "big") -> Path:
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


class _Child:
    """A ``python -m MODULE ARGV`` subprocess whose stderr is collected as it comes."""

    def __init__(self, module: str, *argv: str, cwd: Path):
        env = {**os.environ, "COLUMNS": "100"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *argv], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._err = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for chunk in iter(lambda: self.process.stderr.read1(4096), b""):
            self._err += chunk

    def wait_for(self, found, what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not found():
            if self.process.poll() is not None:
                pytest.fail(f"the process ended (exit {self.process.returncode}) before {what}: "
                            f"{bytes(self._err)[-2000:]!r}")
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"no {what} within {WAIT_S} s")
            time.sleep(0.02)

    def mapped(self, library: str) -> bool:
        try:
            return library in Path(f"/proc/{self.process.pid}/maps").read_text()
        except OSError:
            return False

    def stderr_has(self, text: str) -> bool:
        return text.encode() in bytes(self._err)

    def interrupt(self) -> tuple[int, str, str]:
        self.process.send_signal(signal.SIGINT)
        out = self.process.stdout.read()  # until the process closes it (stderr: the reader)
        self.process.wait(timeout=WAIT_S)
        self._reader.join(timeout=WAIT_S)
        self.process.stdout.close()
        self.process.stderr.close()
        return self.process.returncode, out.decode(), bytes(self._err).decode(errors="replace")


def _assert_clean_interrupt(code: int, out: str, err: str, *, exact: bool = True) -> None:
    assert code == 130, (code, err[-3000:])
    assert "Traceback" not in err and "Exception ignored" not in err, err[-3000:]
    if exact:
        assert err == "interrupted\n", err[-3000:]
    else:  # a progress bar drew on stderr first
        assert err.rstrip("\n").split("\n")[-1].split("\r")[-1].endswith("interrupted"), err[-500:]


needs_proc = pytest.mark.skipif(not Path("/proc/self/maps").exists(),
                                reason="needs /proc to see what a process has loaded")


# --- 2. Ctrl-C is a clean stop everywhere ---


START_UP = [
    ("functional_training", *LONG_SWEEP),
    ("functional_training", "train", "--data", "shipments", "--optimizer", "sgd",
     "--learning-rate", "0.08", "--steps", "20"),
    ("comparisons", "run"),
    ("comparisons", "faults"),
]


@pytest.mark.slow
@needs_proc
@pytest.mark.parametrize("command", START_UP, ids=[" ".join(c[:2]) for c in START_UP])
def test_ctrl_c_during_start_up_is_one_line_and_exit_130(command, tmp_path):
    child = _Child(*command, cwd=tmp_path)
    child.wait_for(lambda: child.mapped("pyarrow"), "start-up (pyarrow loaded)")
    code, out, err = child.interrupt()
    _assert_clean_interrupt(code, out, err)
    assert out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@needs_proc
def test_ctrl_c_while_comparisons_runs_writes_nothing(tmp_path):
    report = tmp_path / "report.json"
    child = _Child("comparisons", "run", "--json", str(report), "--markdown",
                   str(tmp_path / "report.md"), cwd=tmp_path)
    child.wait_for(lambda: child.mapped("torch/lib"), "the run (torch loaded)")
    time.sleep(2.0)  # into the experiments
    code, out, err = child.interrupt()
    _assert_clean_interrupt(code, out, err)
    assert out == "" and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_ctrl_c_while_a_sweep_runs_writes_nothing(tmp_path):
    child = _Child("functional_training", *LONG_SWEEP, "--json", str(tmp_path / "sweep.json"),
                   "--manifest", str(tmp_path / "sweep.manifest.json"), "--progress",
                   cwd=tmp_path)
    child.wait_for(lambda: child.stderr_has("sweep"), "the sweep's progress bar")
    code, out, err = child.interrupt()
    _assert_clean_interrupt(code, out, err, exact=False)
    assert out == "" and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_ctrl_c_during_comparisons_all_writes_no_figure(tmp_path):
    child = _Child("comparisons", "all", "--out", str(tmp_path / "figures"), "--json",
                   str(tmp_path / "report.json"), "--progress", cwd=tmp_path)
    child.wait_for(lambda: child.stderr_has("single-update"), "the first experiment's progress")
    code, out, err = child.interrupt()
    _assert_clean_interrupt(code, out, err, exact=False)
    assert out == "" and list(tmp_path.iterdir()) == []


# An interrupt swallowed where Python cannot raise (a garbage-collection callback, as JAX's
# _xla_gc_callback did) or by a broad `except`: the command must still stop with 130.
GC_SWALLOW = """\
import gc, os, signal, sys, time
from functional_training.runs import run_handler

fired = []

def in_gc(phase, info):
    if phase == "start" and not fired:
        fired.append(1)
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10000):  # the SIGINT handler runs here, inside the gc callback
            pass

def work():
    gc.callbacks.append(in_gc)
    gc.collect()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sum(range(1000))
    print("finished")
    return 0

sys.exit(run_handler(work))
"""

BROAD_EXCEPT = """\
import os, signal, sys, time
from functional_training.runs import progress, run_handler, write_atomic

def work():
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except BaseException:  # a library that swallows everything
        pass
    with progress(3, "work") as advance:
        for step in range(3):
            advance(f"step {step}")
    write_atomic(sys.argv[1], "a report\\n")
    print("finished")
    return 0

sys.exit(run_handler(work))
"""


@pytest.mark.slow
@pytest.mark.parametrize("script", [GC_SWALLOW, BROAD_EXCEPT], ids=["gc-callback", "except"])
def test_a_swallowed_ctrl_c_still_ends_the_command_with_130(script, tmp_path):
    output = tmp_path / "report.txt"
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script, str(output)], capture_output=True,
                            text=True, timeout=WAIT_S, cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "interrupted\n")
    assert not output.exists() and list(tmp_path.iterdir()) == []
    assert time.monotonic() - started < 25  # stopped, not run to its end


# --- 3. bounded runs ---


def _ft(capsys, *argv):
    return run_cli(capsys, "functional_training", *argv)


def _cmp(capsys, *argv):
    return run_cli(capsys, "comparisons", *argv)



def test_a_train_whose_records_cannot_fit_is_refused_before_it_starts(capsys, tmp_path):
    started = time.monotonic()
    code, out, err = _ft(capsys, "train", "--data", "shipments", "--optimizer",
                          "sgd", "--learning-rate", "0.08", "--steps", "1000000000",
                          "--eval-every", "1", "--json", tmp_path / "run.json")
    assert (code, out) == (2, "")
    fits = MAX_RECORD_BYTES // (6 * 48)  # 6 values per recorded step, 48 bytes each
    assert err == ("error: --steps: 1000000000 steps recorded every 1 would record 6e+09 "
                   "values (6 per recorded step), about 268 GiB in memory, over the 4 GiB "
                   f"limit: at most {fits} recorded steps fit; pass --eval-every >= "
                   f"{-(-10**9 // (fits - 1))}\n")
    assert time.monotonic() - started < 30 and list(tmp_path.iterdir()) == []
    # --epochs is named when it is what the user gave.
    code, _, err = _ft(capsys, "train", "--data", "shipments", "--optimizer", "sgd",
                        "--learning-rate", "0.08", "--epochs", "1000000000", "--eval-every", "1")
    assert code == 2 and err.startswith("error: --epochs: 1000000000 steps recorded every 1")


def test_a_billion_step_train_records_a_bounded_number_of_steps_by_default():
    data = named_data("shipments")
    settings = make_settings(data, optimizer="sgd", learning_rate=0.08, steps=10**9)
    # 100,000 evaluations at most (MAX_DEFAULT_RECORDS), evenly spaced, and the last step.
    assert settings.eval_every == 10**4 and settings.chunk_steps % settings.eval_every == 0
    assert record_bytes(data, steps=10**9, batch_size=None,
                        eval_every=settings.eval_every) == (10**5 + 1) * 6 * 48


def _resident_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc (Linux)")
def test_memory_grows_with_the_records_not_the_steps():
    data = named_data("shipments")
    small = make_settings(data, optimizer="sgd", learning_rate=0.08, steps=2000,
                          eval_every=100, chunk_steps=100)
    run_training(small, data)  # compile and warm the allocator first
    settings = make_settings(data, optimizer="sgd", learning_rate=0.08, steps=10**7,
                             eval_every=10**4, chunk_steps=10**4)
    before = _resident_mib()
    trajectory = run_training(settings, data).trajectory
    grown = _resident_mib() - before
    assert trajectory.record_steps == [*range(0, 10**7, 10**4), 10**7 - 1]
    assert len(trajectory.batch_loss) == 1001 and len(trajectory.train_loss) == 1002
    # 1,000 chunks: a few KiB each for the chunk's records. Keeping each chunk's device
    # buffers alive (zero-copy views) grew about 50 MiB here; recording every step would
    # hold 10**7 x 6 values (record_bytes: about 2.7 GiB).
    assert grown < 30, f"resident memory grew {grown:.1f} MiB over 1,000 chunks"


def test_the_record_estimate_counts_every_recorded_value():
    data = named_data("shipments")  # 1 feature: w, b, their gradients, two losses
    assert record_bytes(data, steps=1, batch_size=None) == 6 * 48
    assert record_bytes(data, steps=10, batch_size=2) == 10 * (6 + 2) * 48  # + batch indices
    assert record_bytes(data, steps=10, batch_size=2, eval_every=4) == 4 * (6 + 2) * 48
    fits = MAX_RECORD_BYTES // (6 * 48)
    assert record_bytes(data, steps=fits, batch_size=None) <= MAX_RECORD_BYTES


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
    spec = _spec(tmp_path / "big.toml", rows=1000, steps=1000)
    child = _Child("comparisons", "run", "--spec", str(spec), "--progress", cwd=tmp_path)
    child.wait_for(lambda: child.stderr_has("1/1 big: engine"), "the engine's progress")
    code, _, err = child.interrupt()
    assert code == 130
    first = err.split("\n")[0]
    assert first.startswith("warning: the engine backend (scalar autograd in pure Python) "
                            "will take about 60 s here")
    assert "--backend manual --backend torch --backend jax runs the others without it" in first
    assert "1/1 big: manual" in err  # the backend before it, named while it ran
    assert "Traceback" not in err


# --- 4. one output, one path ---


@pytest.mark.parametrize("command", [
    ("train", "--data", "shipments", "--optimizer", "sgd", "--learning-rate", "0.08",
     "--steps", "5"),
    ("sweep", "--learning-rates", "0.01:0.5:5", "--steps", "5"),
])
def test_json_and_manifest_on_one_path_are_refused(command, capsys, tmp_path):
    path = tmp_path / "run.json"
    code, out, err = _ft(capsys, *command, "--json", path, "--manifest", path)
    assert (code, out) == (2, "")
    assert err == f"error: --manifest: {path} is also the --json file; give each its own\n"
    assert list(tmp_path.iterdir()) == []


# --- 6. tables on a pipe ---


def test_tables_on_a_pipe_are_100_columns_and_never_cut_a_word(capsys, tmp_path):
    assert make_console().width == 100  # pytest's capture is not a terminal
    name = "a-diverging-run-with-a-rather-long-descriptive-name-for-the-table"
    spec = tmp_path / "long.toml"
    spec.write_text((ROOT / "examples" / "diverging-rate.toml").read_text().replace(
        'name = "diverging-rate"', f'name = "{name}"'))
    code, out, _ = _cmp(capsys, "run", "--spec", spec, "--dtype",
                        "float32")
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
    code, out, _ = _cmp(capsys, "faults")
    assert code == 0 and "…" not in out
    assert all(len(line) <= 100 for line in out.splitlines() if "│" in line or "─" in line)


# --- 7. labels ---


def test_trains_summary_and_last_progress_line_say_which_step_they_show(capsys):
    code, out, err = _ft(capsys, "train", "--data", "shipments", "--optimizer",
                          "sgd", "--learning-rate", "0.08", "--steps", "20")
    assert code == 0
    assert ("train_loss 13.8333 before step 0 -> 0.000494275 after step 19; grad_norm 12.3873 "
            "at step 0 -> 0.0110078 at step 19") in out.splitlines()
    assert err.splitlines()[-1] == ("20/20 steps done; step 19 (before its update): "
                                    "batch_loss=0.000503922 train_loss=0.000503922 "
                                    "grad_norm=0.0110078")


def test_run_handler_keeps_no_interrupt_from_an_earlier_command():
    from functional_training.runs import run_handler

    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert run_handler(lambda: 0) == 0
    assert err.getvalue() == ""
