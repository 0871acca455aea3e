"""Shared helpers for command-line tests of both front doors.

``python -m comparisons`` and ``python -m functional_training`` are run either
in this process (their ``main(argv)``, output captured by pytest's ``capsys``)
or in a fresh interpreter (``python -m <module>``, as a user runs it). A bad
command line is refused with exit code 2, nothing on stdout and exactly one
line on stderr without a traceback (:func:`assert_refused`), and writes no
file (:func:`files_under` before and after, :func:`assert_nothing_written`).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from functional_training.runs import build_manifest, data_record, run_record, write_manifest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(capsys, module: str, *argv: object) -> tuple[int, str, str]:
    """``<module>.cli.main(argv)`` in this process: (exit code, stdout, stderr).

    Output captured before the call is dropped; argparse's own exits
    (``--help``, bad usage) are caught and their code returned.
    """
    main = importlib.import_module(f"{module}.cli").main
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def run_module(module: str, *argv: object, cwd: Path = ROOT, timeout: float = 300,
               env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m <module> ARGV`` in a fresh interpreter, as a user runs it (text output).

    ``env`` adds to (does not replace) this process's environment; ``COLUMNS``
    is 100 so that tables wrap the same way everywhere.
    """
    environment = {**os.environ, "COLUMNS": "100", **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *map(str, argv)],
                          capture_output=True, text=True, cwd=cwd, env=environment,
                          timeout=timeout, check=False)


def assert_one_line(err: str) -> None:
    """``err`` is exactly one line, newline-terminated, with no traceback."""
    assert "Traceback" not in err, err
    assert err.endswith("\n") and err.count("\n") == 1, err


def assert_refused(code: int, out: str, err: str, message: str) -> None:
    """Exit 2, nothing on stdout, one line on stderr matching the regex ``message``."""
    assert code == 2, (code, out, err)
    assert out == "", out  # no partial result, no table, no progress
    assert_one_line(err)
    assert re.search(message, err.rstrip("\n")), err


def files_under(directory: Path) -> set[Path]:
    """Every path below ``directory`` (files and directories), relative to it."""
    return {path.relative_to(directory) for path in Path(directory).rglob("*")}


def assert_nothing_written(directory: Path, before: set[Path], elsewhere=()) -> None:
    """Nothing appeared below ``directory`` since ``before = files_under(directory)``.

    ``elsewhere``: paths outside ``directory`` that must not exist either.
    """
    new = sorted(str(path) for path in files_under(directory) - before)
    assert not new, f"written below {directory}: {new}"
    for path in elsewhere:
        assert not Path(path).exists(), path


# --- one table of bad command lines per front door ------------------------------------------

FileContent = str | bytes | Callable[[dict[str, Any]], object] | None


@dataclasses.dataclass(frozen=True)
class BadCommandLine:
    """One bad command line of a front door, refused with exit 2 and one line on stderr.

    ``argv`` may hold ``{tmp}`` (the test's directory), ``{out}`` (the output
    directory that must stay empty), ``{spec}`` (``{tmp}/bad.toml``),
    ``{unwritable}`` (a directory no file can be created in) and the names of
    the front door's recorded files (see each table). ``files`` are written
    into ``{tmp}`` first: text, bytes, or a function of the door's recorded
    JSON objects (a deep copy) returning the object to write as JSON; ``None``
    writes nothing. ``message`` is a regex the one stderr line must match;
    ``{spec}`` in it stands for the spec file's path. ``outputs`` appends the
    command's output options, pointing into ``{out}``; ``guards`` are
    attributes replaced by a function that fails the test if called (what must
    not run before the refusal).
    """

    id: str
    argv: tuple[str, ...]
    message: str
    files: Mapping[str, FileContent] = dataclasses.field(default_factory=dict)
    outputs: bool = True
    guards: tuple[str, ...] = ()


def materialise(row: BadCommandLine, tmp_path: Path, *, output_options: Mapping[str, tuple],
                recorded: Mapping[str, Any], paths: Mapping[str, Path],
                unwritable: Callable[[], Path]) -> tuple[list[str], dict[str, str]]:
    """The row's argv with every placeholder filled and its files written: (argv, values).

    ``output_options`` maps a command to its output options (``flag, value, ...``);
    ``recorded`` holds the JSON objects that ``files`` functions edit, ``paths``
    the files that ``argv`` names by placeholder.
    """
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "afile").write_text("")
    values = {"tmp": str(tmp_path), "out": str(out), "spec": str(tmp_path / "bad.toml"),
              **{name: str(path) for name, path in paths.items()}}
    for name, content in row.files.items():
        if callable(content):
            content = json.dumps(content(copy.deepcopy(dict(recorded))))
        if content is not None:
            data = content if isinstance(content, bytes) else content.encode()
            (tmp_path / name).write_bytes(data)
    argv = list(row.argv)
    if row.outputs:
        options = output_options.get(argv[0], ())
        for flag, value in zip(options[::2], options[1::2], strict=True):
            if not any(a == flag or a.startswith(flag + "=") for a in argv):
                argv += [flag, value]  # the row's own path for this option wins
    if any("{unwritable}" in a for a in argv):
        values["unwritable"] = str(unwritable())
    return [a.format(**values) for a in argv], values


def expected_message(row: BadCommandLine, values: Mapping[str, str]) -> str:
    """The row's message regex with ``{spec}`` replaced by the spec file's (escaped) path."""
    return row.message.replace("{spec}", re.escape(values["spec"]))


def outside_paths(argv: list[str], values: Mapping[str, str]) -> list[Path]:
    """The argv paths in the unwritable directory: none of them may exist afterwards."""
    if "unwritable" not in values:
        return []
    return [Path(a) for a in argv if a.startswith(values["unwritable"] + "/")]


def must_not_run(*args, **kwargs):
    raise AssertionError("ran before refusing the bad command line")


def write_unknown_tool_manifest(path: Path) -> Path:
    """A valid manifest of one train run whose ``tool`` is ``make``: no rerunner knows it."""
    run = run_record(name="train", data=data_record("one-shipment", [2.0], [6.0]),
                     split="all examples train; no validation set", optimizer="sgd",
                     hyperparameters={}, learning_rates=[0.1], steps=5,
                     init={"w": 1.0, "b": 0.0}, options={"data": "one-shipment", "chunk_steps": 5},
                     results={"trajectory": "sha256:" + "0" * 64})
    write_manifest(path, build_manifest(tool="make", runs=[run], dtype="float64"))
    return path


def row_params(rows: list[BadCommandLine]) -> list:
    """The rows as ``pytest.param``, each with its id."""
    return [pytest.param(row, id=row.id) for row in rows]


def assert_refused_in_a_fresh_process(module: str, row: BadCommandLine, argv: list[str],
                                      values: Mapping[str, str], tmp_path: Path) -> None:
    """``python -m module argv`` in a new process: exit 2, one line, nothing written."""
    before = files_under(tmp_path)
    result = run_module(module, *argv)
    assert_refused(result.returncode, result.stdout, result.stderr, expected_message(row, values))
    assert_nothing_written(tmp_path, before, outside_paths(argv, values))


def assert_raises_one_line(call, error: type[Exception], message: str) -> None:
    """``call()`` raises ``error`` whose one-line message matches the regex ``message``."""
    with pytest.raises(error) as caught:
        call()
    text = str(caught.value)
    assert "\n" not in text
    assert re.search(message, text), text


# --- a child process interrupted at a known moment ------------------------------------------

WAIT_S = 180.0
"""Longest wait for a subprocess to reach a marker (two busy cores import slowly)."""


class Child:
    """A ``python -m MODULE ARGV`` subprocess whose stderr is collected as it comes.

    A test waits for a moment known from outside (:meth:`wait_for` a library
    :meth:`mapped` into the process, or text on stderr), then sends a real SIGINT
    (:meth:`interrupt`).
    """

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


needs_proc = pytest.mark.skipif(not Path("/proc/self/maps").exists(),
                                reason="needs /proc to see what a process has loaded")


