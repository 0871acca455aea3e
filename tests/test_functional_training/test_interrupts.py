"""functional_training/_interrupts.py: Ctrl-C in both front doors is one line and exit 130.

Interrupt tests send a real SIGINT to a ``python -m ...`` subprocess, at a moment known
from outside: start-up (pyarrow mapped into the process: the imports are under way and
the package's first line has run), the command itself (torch mapped: ``comparisons``
imports it only to run backends; or the first progress output on stderr). Every
interrupted command must exit 130 with ``interrupted`` as its one (last) line on stderr,
no traceback, and no output file, whole or half.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from cli_helpers import WAIT_S, Child, needs_proc

LONG_SWEEP = ("sweep", "--learning-rates", "1e-3:0.3:2000", "--steps", "20000", "--data",
              "synthetic:20000", "--batch-size", "64", "--method", "autodiff", "--optimizer",
              "adam")
"""A sweep of about 10 s here: long enough to be interrupted while it runs."""



def _assert_clean_interrupt(code: int, out: str, err: str, *, exact: bool = True) -> None:
    assert code == 130, (code, err[-3000:])
    assert "Traceback" not in err and "Exception ignored" not in err, err[-3000:]
    if exact:
        assert err == "interrupted\n", err[-3000:]
    else:  # a progress bar drew on stderr first
        assert err.rstrip("\n").split("\n")[-1].split("\r")[-1].endswith("interrupted"), err[-500:]



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
    child = Child(*command, cwd=tmp_path)
    child.wait_for(lambda: child.mapped("pyarrow"), "start-up (pyarrow loaded)")
    code, out, err = child.interrupt()
    _assert_clean_interrupt(code, out, err)
    assert out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@needs_proc
def test_ctrl_c_while_comparisons_runs_writes_nothing(tmp_path):
    report = tmp_path / "report.json"
    child = Child("comparisons", "run", "--json", str(report), "--markdown",
                   str(tmp_path / "report.md"), cwd=tmp_path)
    child.wait_for(lambda: child.mapped("torch/lib"), "the run (torch loaded)")
    time.sleep(2.0)  # into the experiments
    code, out, err = child.interrupt()
    _assert_clean_interrupt(code, out, err)
    assert out == "" and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_ctrl_c_while_a_sweep_runs_writes_nothing(tmp_path):
    child = Child("functional_training", *LONG_SWEEP, "--json", str(tmp_path / "sweep.json"),
                   "--manifest", str(tmp_path / "sweep.manifest.json"), "--progress",
                   cwd=tmp_path)
    # the bar's count, not the estimate line before it ("sweep: 2,000 runs x ..."): running
    child.wait_for(lambda: child.stderr_has("/20000"), "the sweep's progress bar")
    code, out, err = child.interrupt()
    _assert_clean_interrupt(code, out, err, exact=False)
    assert out == "" and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_ctrl_c_during_comparisons_all_writes_no_figure(tmp_path):
    child = Child("comparisons", "all", "--out", str(tmp_path / "figures"), "--json",
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
    deadline = time.monotonic() + 10 * WORK_S
    while time.monotonic() < deadline:
        sum(range(1000))
    print("finished")
    return 0

sys.exit(run_handler(work))
""".replace("WORK_S", repr(WAIT_S))

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
    result = subprocess.run([sys.executable, "-c", script, str(output)], capture_output=True,
                            text=True, timeout=WAIT_S, cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "interrupted\n")
    assert not output.exists() and list(tmp_path.iterdir()) == []
    # Stopped, not run to its end: the gc script's work lasts 10 x WAIT_S, and a child
    # still running after WAIT_S fails the test (subprocess.TimeoutExpired). Measured
    # from outside, a wall-clock bound also counts the child's imports, which took
    # over 40 s on a loaded machine.
