"""Bad input, everywhere a user can give it: one table row per case, both CLIs and the API.

Every command-line row asserts: exit code 2, exactly one line on stderr naming
the offending key or argument, no traceback, nothing on stdout (no partial
result), and no output file created (each row passes its ``--json`` /
``--manifest`` / ``--markdown`` paths into an empty directory that must stay
empty). Most rows run in-process through each CLI's ``main(argv)``; a few run
in a fresh interpreter to prove no traceback reaches a terminal. Every API row
asserts the exception type and a one-line message naming the argument.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from specs import shipments_spec

import functional_training as ft
from comparisons import cli as comparisons_cli
from comparisons.backends import get_backend
from comparisons.compare import compare_trajectories, run_and_compare
from comparisons.experiments import REGISTRY, Experiment
from comparisons.spec import SpecError, load_spec, parse_spec
from functional_training import TrajectoryRecord
from functional_training import cli as functional_cli
from functional_training.runs import (
    build_manifest,
    check_output_path,
    data_record,
    run_record,
    write_manifest,
)

ROOT = Path(__file__).resolve().parents[2]

SPEC = shipments_spec("bad-input", learning_rate=0.08, steps=2)


def spec(old: str | None = None, new: str = "") -> str:
    """:data:`SPEC` with one line (or fragment) replaced; ``old=None`` prepends ``new``."""
    if old is None:
        return new + "\n" + SPEC
    assert old in SPEC, old
    return SPEC.replace(old, new, 1)


@dataclasses.dataclass(frozen=True)
class Row:
    """One bad command line.

    ``argv`` may hold ``{tmp}`` (the test's directory), ``{out}`` (the output
    directory that must stay empty), ``{spec}`` (a file holding ``spec_text``),
    ``{unwritable}`` (a directory no file can be created in), ``{cmp}`` /
    ``{ftm}`` (a valid comparisons / functional_training manifest) and ``{make}``
    (a valid manifest of a tool no rerunner knows).
    """

    id: str
    tool: str  # "comparisons" or "functional_training"
    argv: tuple[str, ...]
    message: str  # a regex the single stderr line must match
    spec_text: str | bytes | None = None
    outputs: bool = True  # append the command's output options, pointing into {out}
    xfail: str | None = None  # a known gap in a file this test's owner does not own


def c_run(*argv: str, message: str, spec_text=None, outputs=True, id: str) -> Row:
    return Row(id, "comparisons", ("run", *argv), message, spec_text, outputs)


def c_spec(id: str, text: str | bytes, message: str, *argv: str) -> Row:
    return Row(id, "comparisons", ("run", "--spec", "{spec}", *argv), message, text)


def ft_row(id: str, *argv: str, message: str, outputs=True, xfail=None) -> Row:
    return Row(id, "functional_training", tuple(argv), message, None, outputs, xfail)


SWEEP = ("sweep", "--learning-rates", "0.01:0.5:4", "--steps", "5")
TRAIN = ("train", "--data", "shipments", "--optimizer", "sgd", "--learning-rate", "0.08",
         "--steps", "5")


def swap(argv: tuple[str, ...], flag: str, value: str | None) -> tuple[str, ...]:
    """``argv`` with ``flag``'s value replaced (``None``: the flag removed)."""
    i = argv.index(flag)
    return argv[:i] + (() if value is None else (flag, value)) + argv[i + 2:]


ROWS = [
    # --- spec files: unreadable, not TOML ---------------------------------------------------
    Row("spec missing", "comparisons", ("run", "--spec", "{tmp}/none.toml"),
        r"none\.toml: no such spec file$"),
    Row("spec is a directory", "comparisons", ("run", "--spec", "{tmp}"),
        r"is a directory, not a spec file$"),
    Row("spec unreadable", "comparisons", ("run", "--spec", "{tmp}/afile/x.toml"),
        r"x\.toml: cannot read \(Not a directory\)$"),
    c_spec("spec not UTF-8", b"name = \"\xff\"\n", r"not UTF-8 text$"),
    c_spec("spec not TOML", "name = \n", r"bad\.toml: not valid TOML: "),
    c_spec("spec is a list", "name = [\n", r"not valid TOML"),
    # --- spec files: missing and unknown keys --------------------------------------------------
    c_spec("spec missing table", spec("[data]\ntrain = [[1.0, 3.0], [2.0, 5.0], [3.0, 7.0]]\n"),
           r"\[data\]: missing table$"),
    c_spec("spec missing name", spec('name = "bad-input"\n'), r"bad\.toml: name: missing$"),
    c_spec("spec missing steps", spec("steps = 2\n"), r"\[run\]\.steps: missing$"),
    c_spec("spec missing rate", spec("learning_rate = 0.08\n"),
           r"\[optimizer\]\.learning_rate: missing$"),
    c_spec("spec missing w", spec("w = 0.0\n"),
           r"\[model\]\.w: missing \(give w, b, or init = \"zeros\" or \"seeded\"\)$"),
    c_spec("spec missing train", spec("train = [[1.0, 3.0], [2.0, 5.0], [3.0, 7.0]]\n"),
           r"\[data\]\.train: missing$"),
    c_spec("spec unknown top key", spec(None, 'colour = "red"'),
           r"colour: unknown key; expected name, description, data, model, optimizer, run$"),
    c_spec("spec unknown run key", spec("steps = 2", "steps = 2\nepochs = 3"),
           r"\[run\]\.epochs: unknown key; expected steps, batch_size, seed$"),
    c_spec("spec unknown model key", spec("b = 0.0", "b = 0.0\nc = 1.0"),
           r"\[model\]\.c: unknown key"),
    # --- spec files: wrong types ----------------------------------------------------------------
    c_spec("spec steps is text", spec("steps = 2", 'steps = "2"'),
           r"\[run\]\.steps: must be an integer > 0, got a string$"),
    c_spec("spec steps is float", spec("steps = 2", "steps = 2.0"),
           r"\[run\]\.steps: must be an integer > 0, got a float$"),
    c_spec("spec rate is text", spec("learning_rate = 0.08", 'learning_rate = "fast"'),
           r"\[optimizer\]\.learning_rate: expected a number, got a string$"),
    c_spec("spec w is boolean", spec("w = 0.0", "w = true"),
           r"\[model\]\.w: expected a number, got a boolean$"),
    c_spec("spec train is text", spec("train = [[1.0, 3.0], [2.0, 5.0], [3.0, 7.0]]",
                                      'train = "pairs"'),
           r"\[data\]\.train: 'pairs' is neither a list of rows nor a data file path "
           r"\(\.csv, \.parquet, \.pq, \.npy, \.npz\)$"),
    c_spec("spec x is text", spec("[[1.0, 3.0], [2.0", '[[1.0, 3.0], ["two"'),
           r"\[data\]\.train\[1\]\[0\]: expected a number, got a string$"),
    c_spec("spec data is a value", spec("[data]\ntrain = [[1.0, 3.0], [2.0, 5.0], [3.0, 7.0]]\n",
                                        "").replace('"bad-input"', '"bad-input"\ndata = 1'),
           r"\[data\]: expected a table, got an integer$"),
    c_spec("spec name is number", spec('name = "bad-input"', "name = 7"),
           r"name: expected a string, got an integer$"),
    c_spec("spec trainable is text", spec("b = 0.0", 'b = 0.0\ntrainable = "w"'),
           r"\[model\]\.trainable: expected a list of parameter names"),
    c_spec("spec optimizer name is number", spec('name = "sgd"', "name = 1"),
           r"\[optimizer\]\.name: expected a string, got an integer$"),
    # --- spec files: non-finite, empty, ragged data ----------------------------------------------
    c_spec("spec x nan", spec("[[1.0, 3.0]", "[[nan, 3.0]"),
           r"\[data\]\.train\[0\]\[0\]: must be finite, got nan$"),
    c_spec("spec target inf", spec("[[1.0, 3.0]", "[[1.0, inf]"),
           r"\[data\]\.train\[0\]\[1\]: must be finite, got inf$"),
    c_spec("spec validation -inf", spec("[model]", "validation = [[1.0, -inf]]\n[model]"),
           r"\[data\]\.validation\[0\]\[1\]: must be finite, got -inf$"),
    c_spec("spec init inf", spec("w = 0.0", "w = inf"), r"\[model\]\.w: must be finite, got inf$"),
    c_spec("spec empty train", spec("train = [[1.0, 3.0], [2.0, 5.0], [3.0, 7.0]]", "train = []"),
           r"\[data\]\.train: is empty; give at least one \[x, target\] pair$"),
    c_spec("spec empty validation", spec("[model]", "validation = []\n[model]"),
           r"\[data\]\.validation: is empty"),
    c_spec("spec ragged pair", spec("[2.0, 5.0]", "[2.0]"),
           r"\[data\]\.train\[1\]: expected a pair \[x, target\] "
           r"\(or \[x_1, \.\.\., x_d, target\]\), got \[2\.0\]$"),
    c_spec("spec x/y length mismatch", spec("[3.0, 7.0]", "[3.0, 7.0, 9.0]"),
           r"\[data\]\.train\[2\]: has 3 values but \[data\]\.train\[0\] has 2$"),
    c_spec("spec validation feature count", spec("[model]", "validation = [[1.0, 2.0, 3.0]]\n"
                                                 "[model]"),
           r"\[data\]\.validation: 2 feature\(s\) per row but train has 1$"),
    # --- spec files: out of range --------------------------------------------------------------
    c_spec("spec rate 0", spec("learning_rate = 0.08", "learning_rate = 0.0"),
           r"\[optimizer\]\.learning_rate: must be > 0, got 0\.0$"),
    c_spec("spec rate negative", spec("learning_rate = 0.08", "learning_rate = -0.1"),
           r"\[optimizer\]\.learning_rate: must be > 0, got -0\.1$"),
    c_spec("spec rate inf", spec("learning_rate = 0.08", "learning_rate = inf"),
           r"\[optimizer\]\.learning_rate: must be finite, got inf$"),
    c_spec("spec rate nan", spec("learning_rate = 0.08", "learning_rate = nan"),
           r"\[optimizer\]\.learning_rate: must be finite, got nan$"),
    c_spec("spec steps 0", spec("steps = 2", "steps = 0"),
           r"\[run\]\.steps: must be an integer > 0, got 0$"),
    c_spec("spec steps negative", spec("steps = 2", "steps = -5"),
           r"\[run\]\.steps: must be an integer > 0, got -5$"),
    c_spec("spec steps too many", spec("steps = 2", "steps = 1000000000"),
           r"\[run\]\.steps: must be at most 100000, got 1000000000$"),
    c_spec("spec batch 0", spec("steps = 2", "steps = 2\nbatch_size = 0"),
           r"\[run\]\.batch_size: must be an integer > 0, got 0$"),
    c_spec("spec batch > N", spec("steps = 2", "steps = 2\nbatch_size = 4"),
           r"\[run\]\.batch_size: 4 is more than the 3 training examples$"),
    c_spec("spec seed negative", spec("steps = 2", "steps = 2\nbatch_size = 1\nseed = -1"),
           r"\[run\]\.seed: must be an integer >= 0, got -1$"),
    c_spec("spec trainable unknown", spec("b = 0.0", 'b = 0.0\ntrainable = ["c"]'),
           r"\[model\]\.trainable: unknown parameter 'c'; the model has w, b$"),
    c_spec("spec trainable empty", spec("b = 0.0", "b = 0.0\ntrainable = []"),
           r"\[model\]\.trainable: is empty"),
    c_spec("spec bad name", spec('name = "bad-input"', 'name = "bad input!"'),
           r"name: 'bad input!' must start with an ASCII letter or digit"),
    # --- spec files: optimizers and hyperparameters ----------------------------------------------
    c_spec("spec unknown optimizer", spec('name = "sgd"', 'name = "rmsprop"'),
           r"\[optimizer\]\.name: unknown optimizer 'rmsprop'; expected one of sgd, momentum, "
           r"nesterov, adam, adamw$"),
    c_spec("spec adam takes no momentum",
           spec('name = "sgd"', 'name = "adam"').replace("0.08", "0.08\nmomentum = 0.9"),
           r"\[optimizer\]\.momentum: not a key of adam; it takes learning_rate, b1, b2, eps$"),
    c_spec("spec sgd takes no b1", spec("learning_rate = 0.08", "learning_rate = 0.08\nb1 = 0.9"),
           r"\[optimizer\]\.b1: not a key of sgd; it takes learning_rate$"),
    c_spec("spec momentum >= 1",
           spec('name = "sgd"', 'name = "momentum"').replace("0.08", "0.08\nmomentum = 1.5"),
           r"\[optimizer\]\.momentum: must lie in \[0, 1\), got 1\.5$"),
    c_spec("spec eps negative",
           spec('name = "sgd"', 'name = "adam"').replace("0.08", "0.08\neps = -1e-8"),
           r"\[optimizer\]\.eps: must be finite and >= 0, got -1e-08$"),
    c_spec("spec nesterov without momentum",
           spec('name = "sgd"', 'name = "nesterov"').replace("0.08", "0.08\nmomentum = 0.0"),
           r"\[optimizer\]\.momentum: nesterov needs momentum > 0"),
    c_spec("spec rate overflows float32", spec("learning_rate = 0.08", "learning_rate = 1e300"),
           r"bad-input: learning_rate = 1e\+300 overflows float32", "--dtype", "float32"),
    c_spec("spec name taken", spec('name = "bad-input"', 'name = "five-steps"'),
           r"bad\.toml: experiment name 'five-steps' is already in this run$",
           "--experiment", "five-steps"),
    # --- comparisons flags -------------------------------------------------------------------
    c_run("--experiment", "nope", message=r"unknown experiment 'nope'; known: single-update, ",
          id="unknown experiment"),
    c_run("--experiment", "optimizer/rmsprop", message=r"unknown experiment 'optimizer/rmsprop'",
          id="unknown experiment in a group"),
    c_run("--backend", "numpy", message=r"argument --backend: invalid choice: 'numpy'",
          id="unknown backend"),
    c_run("--reference", "numpy", message=r"argument --reference: invalid choice: 'numpy'",
          id="unknown reference"),
    c_run("--dtype", "float16", message=r"argument --dtype: invalid choice: 'float16'",
          id="unknown dtype"),
    c_run("--experiment", "gradient-check", "--dtype", "float32",
          message=r"gradient-check: finite-difference gradient checks are float64 only$",
          id="finite differences in float32"),
    c_run("--colour", "red", message=r"unrecognized arguments: --colour red", id="unknown flag"),
    Row("unknown command", "comparisons", ("frobnicate",), r"invalid choice: 'frobnicate'",
        outputs=False),
    c_run("--json", "{tmp}/missing/r.json", message=r"--json: directory .*/missing does not exist$",
          id="json in a missing directory"),
    c_run("--manifest", "{tmp}/missing/m.json",
          message=r"--manifest: directory .*/missing does not exist$",
          id="manifest in a missing directory"),
    c_run("--markdown", "{tmp}/missing/r.md",
          message=r"--markdown: directory .*/missing does not exist$",
          id="markdown in a missing directory"),
    c_run("--json", "{out}", message=r"--json: .* is a directory, expected a file path$",
          id="json is a directory"),
    c_run("--json", "{unwritable}/r.json", message=r"--json: directory .* is not writable",
          id="json in an unwritable directory"),
    c_run("--manifest", "{unwritable}/m.json",
          message=r"--manifest: directory .* is not writable", id="manifest unwritable"),
    Row("all: json in a missing directory", "comparisons",
        ("all", "--no-figures", "--json", "{tmp}/missing/r.json"),
        r"--json: directory .*/missing does not exist$", outputs=False),
    Row("all: manifest unwritable", "comparisons",
        ("all", "--no-figures", "--manifest", "{unwritable}/m.json"),
        r"--manifest: directory .* is not writable", outputs=False),
    # --- comparisons rerun ---------------------------------------------------------------------
    Row("rerun missing file", "comparisons", ("rerun", "{tmp}/none.json"),
        r"cannot read manifest .*none\.json: No such file or directory$", outputs=False),
    Row("rerun not JSON", "comparisons", ("rerun", "{spec}"), r"is not valid JSON",
        spec_text="{", outputs=False),
    Row("rerun an unknown tool's manifest", "comparisons", ("rerun", "{make}"),
        r"manifest was written by 'make': no rerunner is installed for it \(known: ",
        outputs=False),
    Row("rerun a spec file", "comparisons", ("rerun", "{spec}"), r"is not valid JSON",
        spec_text=SPEC, outputs=False),
    # --- functional_training sweep -------------------------------------------------------------
    ft_row("sweep empty range", *swap(SWEEP, "--learning-rates", "0.1:0.5:0"),
           message=r"argument --learning-rates: COUNT must be >= 1, got 0 \(an empty sweep\)$"),
    ft_row("sweep reversed range", *swap(SWEEP, "--learning-rates", "0.5:0.1:4"),
           message=r"argument --learning-rates: START must not exceed STOP, got 0\.5 > 0\.1$"),
    ft_row("sweep malformed range", *swap(SWEEP, "--learning-rates", "0.1:0.5"),
           message=r"argument --learning-rates: expected START:STOP:COUNT, got '0\.1:0\.5'$"),
    ft_row("sweep rate 0", *swap(SWEEP, "--learning-rates", "0:0.5:4"),
           message=r"argument --learning-rates: rates must be finite and > 0"),
    ft_row("sweep rate nan", *swap(SWEEP, "--learning-rates", "nan:0.5:4"),
           message=r"argument --learning-rates: rates must be finite and > 0"),
    ft_row("sweep rate inf", *swap(SWEEP, "--learning-rates", "0.1:inf:4"),
           message=r"argument --learning-rates: rates must be finite and > 0"),
    ft_row("sweep steps 0", *swap(SWEEP, "--steps", "0"),
           message=r"argument --steps: must be an integer > 0, got '0'$"),
    ft_row("sweep batch 0", *SWEEP, "--batch-size", "0",
           message=r"argument --batch-size: must be an integer > 0, got '0'$"),
    ft_row("sweep batch > N", *SWEEP, "--batch-size", "2",
           message=r"--batch-size 2 is larger than the data \(1 examples\)$"),
    ft_row("sweep unknown optimizer", *SWEEP, "--optimizer", "rmsprop",
           message=r"argument --optimizer: invalid choice: 'rmsprop'"),
    ft_row("sweep unknown data", *SWEEP, "--data", "weather",
           message=r"argument --data: unknown data 'weather'"),
    ft_row("sweep json in a missing directory", *SWEEP, "--json", "{tmp}/missing/r.json",
           message=r"--json: directory .*/missing does not exist$", outputs=False),
    ft_row("sweep json unwritable", *SWEEP, "--json", "{unwritable}/r.json",
           message=r"--json: directory .* is not writable", outputs=False),
    # --- functional_training train ---------------------------------------------------------------
    ft_row("train steps 0", *swap(TRAIN, "--steps", "0"),
           message=r"argument --steps: must be an integer > 0, got '0'$"),
    ft_row("train epochs 0", *swap(TRAIN, "--steps", None), "--epochs", "0",
           message=r"argument --epochs: must be an integer > 0, got '0'$"),
    ft_row("train rate 0", *swap(TRAIN, "--learning-rate", "0"),
           message=r"argument --learning-rate: must be finite and > 0, got '0'$"),
    ft_row("train rate negative", *swap(TRAIN, "--learning-rate", "-0.1"),
           message=r"argument --learning-rate: must be finite and > 0, got '-0\.1'$"),
    ft_row("train rate nan", *swap(TRAIN, "--learning-rate", "nan"),
           message=r"argument --learning-rate: must be finite and > 0, got 'nan'$"),
    ft_row("train rate inf", *swap(TRAIN, "--learning-rate", "inf"),
           message=r"argument --learning-rate: must be finite and > 0, got 'inf'$"),
    ft_row("train batch 0", *TRAIN, "--batch-size", "0",
           message=r"argument --batch-size: must be an integer > 0, got '0'$"),
    ft_row("train batch > N", *TRAIN, "--batch-size", "4",
           message=r"--batch-size 4 is larger than the 3 training examples of shipments$"),
    ft_row("train unknown optimizer", *swap(TRAIN, "--optimizer", "rmsprop"),
           message=r"argument --optimizer: invalid choice: 'rmsprop'"),
    ft_row("train hyperparameter not taken", *TRAIN, "--hyperparameter", "momentum=0.9",
           message=r"--hyperparameter: optimizer 'sgd' does not take momentum; it takes "
                   r"learning_rate$"),
    ft_row("train hyperparameter not finite", *swap(TRAIN, "--optimizer", "momentum"),
           "--hyperparameter", "momentum=nan",
           message=r"--hyperparameter: optimizer 'momentum': momentum must be finite"),
    ft_row("train unknown data", *swap(TRAIN, "--data", "weather"),
           message=r"--data: unknown data 'weather'; expected one-shipment, shipments"),
    ft_row("train json in a missing directory", *TRAIN, "--json", "{tmp}/missing/r.json",
           message=r"--json: directory .*/missing does not exist$", outputs=False),
    ft_row("train manifest in a missing directory", *TRAIN, "--manifest", "{tmp}/missing/m.json",
           message=r"--manifest: directory .*/missing does not exist$", outputs=False),
    ft_row("train json unwritable", *TRAIN, "--json", "{unwritable}/r.json",
           message=r"--json: directory .* is not writable", outputs=False),
    ft_row("train unknown flag", *TRAIN, "--colour", "red",
           message=r"unrecognized arguments: --colour red"),
    # --- functional_training rerun ---------------------------------------------------------------
    ft_row("ft rerun missing file", "rerun", "{tmp}/none.json",
           message=r"cannot read manifest .*none\.json: No such file or directory$",
           outputs=False),
    ft_row("ft rerun an unknown tool's manifest", "rerun", "{make}",
           message=r"manifest was written by 'make': no rerunner is installed for it \(known: ",
           outputs=False),
]

OUTPUT_OPTIONS = {
    ("comparisons", "run"): ("--json", "{out}/r.json", "--markdown", "{out}/r.md",
                             "--manifest", "{out}/m.json"),
    ("functional_training", "train"): ("--json", "{out}/r.json", "--manifest", "{out}/m.json"),
    ("functional_training", "sweep"): ("--json", "{out}/r.json", "--manifest", "{out}/m.json"),
}


@pytest.fixture(scope="module")
def manifests(tmp_path_factory) -> dict[str, Path]:
    """A valid comparisons manifest, a valid train manifest and one of an unknown tool."""
    directory = tmp_path_factory.mktemp("manifests")
    comparisons_manifest = directory / "comparisons.json"
    assert comparisons_cli.main(["run", "--experiment", "single-update", "--backend", "engine",
                                 "--manifest", str(comparisons_manifest)]) == 0
    run = run_record(name="train", data=data_record("one-shipment", [2.0], [6.0]),
                     split="all examples train; no validation set", optimizer="sgd",
                     hyperparameters={}, learning_rates=[0.1], steps=5,
                     init={"w": 1.0, "b": 0.0}, options={"data": "one-shipment", "chunk_steps": 5},
                     results={"trajectory": "sha256:" + "0" * 64})
    train_manifest = directory / "train.json"
    write_manifest(train_manifest, build_manifest(tool="functional_training train", runs=[run],
                                                  dtype="float64"))
    unknown_manifest = directory / "make.json"
    write_manifest(unknown_manifest, build_manifest(tool="make", runs=[run], dtype="float64"))
    return {"cmp": comparisons_manifest, "ftm": train_manifest, "make": unknown_manifest}


def materialise(row: Row, tmp_path: Path, manifests: dict[str, Path], unwritable) -> list[str]:
    """The row's argv with every placeholder filled and its files written."""
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "afile").write_text("")
    values = {"tmp": str(tmp_path), "out": str(out), "spec": str(tmp_path / "bad.toml"),
              "cmp": str(manifests["cmp"]), "ftm": str(manifests["ftm"]),
              "make": str(manifests["make"])}
    if row.spec_text is not None:
        data = row.spec_text if isinstance(row.spec_text, bytes) else row.spec_text.encode()
        (tmp_path / "bad.toml").write_bytes(data)
    argv = list(row.argv)
    if row.outputs:
        options = OUTPUT_OPTIONS.get((row.tool, argv[0]), ())
        for flag, value in zip(options[::2], options[1::2], strict=True):
            if flag not in argv:  # the row's own path for this option wins
                argv += [flag, value]
    if any("{unwritable}" in a for a in argv):
        values["unwritable"] = str(unwritable())
    return [a.format(**values) for a in argv]


def run_main(tool: str, argv: list[str], capsys) -> tuple[int, str, str]:
    """The CLI's ``main(argv)`` in this process: (exit code, stdout, stderr)."""
    main = comparisons_cli.main if tool == "comparisons" else functional_cli.main
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own exits
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code: int, out: str, err: str, message: str) -> None:
    assert code == 2, (code, out, err)
    assert out == "", out  # no partial result, no table, no progress
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err  # exactly one line
    assert re.search(message, err.rstrip("\n")), err


def _params(rows):
    for row in rows:
        marks = [pytest.mark.xfail(reason=row.xfail, strict=True)] if row.xfail else []
        yield pytest.param(row, id=f"{row.tool}: {row.id}", marks=marks)


@pytest.mark.parametrize("row", list(_params(ROWS)))
def test_bad_command_line_is_one_line_exit_2_and_writes_nothing(row, tmp_path, capsys,
                                                                 manifests, unwritable_directory):
    argv = materialise(row, tmp_path, manifests, unwritable_directory)
    code, out, err = run_main(row.tool, argv, capsys)
    assert_refused(code, out, err, row.message)
    assert list((tmp_path / "out").iterdir()) == []  # no output file, no temporary file
    assert not (tmp_path / "missing").exists()
    for arg in argv:
        if arg.startswith(("/sys/", str(tmp_path / "locked"))):
            assert not Path(arg).exists()


def test_every_required_case_has_a_row():
    """The issue's list of bad inputs, each covered by at least one row of each kind it has."""
    ids = " | ".join(row.id for row in ROWS) + " | " + " | ".join(case[0] for case in API_ROWS)
    for required in ("spec missing", "spec not TOML", "spec missing table", "unknown top key",
                     "steps is text", "x nan", "empty train", "ragged pair", "x/y length",
                     "validation feature count", "rate 0", "rate nan", "steps 0", "batch 0",
                     "batch > N", "unknown optimizer", "unknown backend", "unknown experiment",
                     "takes no momentum", "empty range", "reversed range", "missing directory",
                     "unwritable", "finite differences in float32"):
        assert required in ids, required


# --- a few in a fresh interpreter: nothing reaches the terminal but one line ---------------------

FRESH = ["spec not TOML", "spec ragged pair", "json in a missing directory", "rerun not JSON",
         "finite differences in float32", "sweep reversed range", "train rate nan"]


@pytest.mark.parametrize("row", [r for r in ROWS if r.id in FRESH], ids=lambda r: r.id)
def test_bad_input_in_a_fresh_process_prints_one_line(row, tmp_path, manifests,
                                                       unwritable_directory):
    argv = materialise(row, tmp_path, manifests, unwritable_directory)
    result = subprocess.run([sys.executable, "-m", row.tool, *argv], capture_output=True,
                            text=True, cwd=ROOT, timeout=300, check=False)
    assert_refused(result.returncode, result.stdout, result.stderr, row.message)
    assert list((tmp_path / "out").iterdir()) == []


def test_fresh_rows_exist():
    assert {r.id for r in ROWS} >= set(FRESH)


# --- the Python API: ValueError / TypeError with one line naming the argument ------------------

P = ft.LinearParams(1.0, 0.0)
FULL = REGISTRY["full-batch"]


def _exp(**changes) -> Experiment:
    return dataclasses.replace(FULL, **changes)


def _gradient_check_in_float32():
    return ft.check_gradients(ft.mean_loss, P, 2.0, 6.0)  # float64 not enabled


def _gradient_check_with_float32_leaves():
    import jax.numpy as jnp

    with ft.float64():
        params = ft.LinearParams(jnp.float32(1.0), jnp.float32(0.0))
        return ft.check_gradients(ft.mean_loss, params, 2.0, 6.0)


_ONE = TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]}, batch_loss=[8.0],
                  train_loss=[8.0, 2.0])

API_ROWS: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("parse_spec not TOML", lambda: parse_spec("name = "), SpecError, r"^not valid TOML: "),
    ("parse_spec missing key", lambda: parse_spec(spec("steps = 2\n")), SpecError,
     r"^\[run\]\.steps: missing$"),
    ("parse_spec unknown key", lambda: parse_spec(spec(None, "colour = 1")), SpecError,
     r"^colour: unknown key"),
    ("parse_spec wrong type", lambda: parse_spec(spec("w = 0.0", 'w = "zero"')), SpecError,
     r"^\[model\]\.w: expected a number, got a string$"),
    ("load_spec missing", lambda: load_spec("/no/such/spec.toml"), SpecError,
     r"^/no/such/spec\.toml: no such spec file$"),
    ("train x/y length mismatch", lambda: ft.train(P, [1.0, 2.0, 3.0], [1.0, 2.0],
                                                   optimizer=0.1, steps=1),
     ValueError, r"^train data: x has 3 examples but y has 2$"),
    ("train ragged pairs", lambda: ft.train(P, [[1.0, 2.0], [3.0]], [1.0, 2.0], optimizer=0.1,
                                            steps=1),
     ValueError, r"^train data is ragged: "),
    ("train empty data", lambda: ft.train(P, [], [], optimizer=0.1, steps=1), ValueError,
     r"^train data is empty$"),
    ("train non-finite data", lambda: ft.train(P, [1.0, math.nan], [1.0, 2.0], optimizer=0.1,
                                               steps=1),
     ValueError, r"^train data: x contains non-finite values$"),
    ("train text data", lambda: ft.train(P, ["a", "b"], [1.0, 2.0], optimizer=0.1, steps=1),
     TypeError, r"^train data: x must be numbers, got dtype <U1$"),
    ("train validation feature count",
     lambda: ft.train(ft.LinearParams(np.zeros(2), 0.0), np.ones((3, 2)), np.ones(3),
                      optimizer=0.1, steps=1, x_val=np.ones((2, 3)), y_val=np.ones(2)),
     ValueError, r"^validation data has \(3,\) feature\(s\) per example but train data has "
                 r"\(2,\)$"),
    ("train validation half given", lambda: ft.train(P, [2.0], [6.0], optimizer=0.1, steps=1,
                                                     x_val=[1.0]),
     ValueError, r"^validation data needs both x_val and y_val$"),
    ("train rate 0", lambda: ft.train(P, [2.0], [6.0], optimizer=0.0, steps=1), ValueError,
     r"^learning_rate must be finite and > 0, got 0\.0$"),
    ("train rate nan", lambda: ft.train(P, [2.0], [6.0], optimizer=math.nan, steps=1),
     ValueError, r"^learning_rate must be finite and > 0, got nan$"),
    ("train steps 0", lambda: ft.train(P, [2.0], [6.0], optimizer=0.1, steps=0), ValueError,
     r"^steps must be an integer > 0, got 0$"),
    ("train steps float", lambda: ft.train(P, [2.0], [6.0], optimizer=0.1, steps=2.0),
     ValueError, r"^steps must be an integer > 0, got 2\.0$"),
    ("make_optimizer unknown optimizer", lambda: ft.make_optimizer("rmsprop", learning_rate=0.1),
     ValueError, r"^unknown optimizer 'rmsprop'; expected one of sgd, momentum, nesterov, "
                 r"adam, adamw$"),
    ("make_optimizer takes no momentum",
     lambda: ft.make_optimizer("sgd", learning_rate=0.1, momentum=0.9), TypeError,
     r"^optimizer 'sgd' does not take momentum; it takes learning_rate$"),
    ("make_optimizer rate inf", lambda: ft.make_optimizer("adam", learning_rate=math.inf),
     ValueError, r"^learning_rate must be finite and > 0, got inf$"),
    ("minibatch_indices batch 0",
     lambda: ft.minibatch_indices(3, batch_size=0, steps=2, seed=0), ValueError,
     r"^batch_size must be an integer >= 1, got 0$"),
    ("minibatch_indices batch > N",
     lambda: ft.minibatch_indices(3, batch_size=4, steps=2, seed=0), ValueError,
     r"^batch size 4 is larger than the data set \(3 examples\)$"),
    ("sweep empty rates", lambda: ft.sweep_learning_rates(P, [2.0], [6.0], [], steps=2),
     ValueError, r"^learning_rates must be a non-empty 1-D array"),
    ("sweep negative rate", lambda: ft.sweep_learning_rates(P, [2.0], [6.0], [-0.1], steps=2),
     ValueError, r"^learning_rates must all be finite and > 0$"),
    ("sweep hyperparameter not taken",
     lambda: ft.sweep_learning_rates(P, [2.0], [6.0], [0.1], steps=2, hyperparams={"b1": 0.9}),
     TypeError, r"^optimizer 'sgd' does not take b1; it takes learning_rate$"),
    ("check_gradients without float64", _gradient_check_in_float32, ValueError,
     r"^check_gradients needs float64 \(finite differences in float32 are noise-dominated\)"),
    ("check_gradients float32 leaves", _gradient_check_with_float32_leaves, ValueError,
     r"^check_gradients needs float64 params, got a float32 leaf$"),
    ("backend unknown", lambda: get_backend("numpy"), ValueError,
     r"^unknown backend 'numpy'; expected one of manual, engine, torch, jax$"),
    ("run_and_compare unknown backend",
     lambda: run_and_compare(REGISTRY["five-steps"], backends=["numpy"]), ValueError,
     r"^unknown backend 'numpy'"),
    ("backend gradient-check in float32",
     lambda: get_backend("jax").run(REGISTRY["gradient-check"], dtype="float32"), ValueError,
     r"^gradient-check runs in float64 only"),
    ("backend unknown dtype", lambda: get_backend("manual").run(FULL, dtype="float16"),
     ValueError, r"^dtype must be one of float64, float32, got 'float16'$"),
    ("experiment batch 0", lambda: get_backend("manual").run(_exp(batch_size=0)), ValueError,
     r"^batch_size must be an integer in \[1, 3\], got 0$"),
    ("experiment batch > N", lambda: get_backend("torch").run(_exp(batch_size=4)), ValueError,
     r"^batch_size must be an integer in \[1, 3\], got 4$"),
    ("experiment rate 0",
     lambda: get_backend("engine").run(_exp(hyperparams={"learning_rate": 0.0})), ValueError,
     r"^learning_rate must be > 0, got 0\.0$"),
    ("experiment rate inf",
     lambda: get_backend("jax").run(_exp(hyperparams={"learning_rate": math.inf})), ValueError,
     r"^learning_rate must be finite, got inf$"),
    ("experiment steps 0", lambda: get_backend("jax").run(_exp(steps=0)), ValueError,
     r"^steps must be an integer > 0, got 0$"),
    ("experiment unknown optimizer", lambda: get_backend("torch").run(_exp(optimizer="rmsprop")),
     ValueError, r"^unknown optimizer 'rmsprop'"),
    ("experiment hyperparameter not taken",
     lambda: get_backend("manual").run(_exp(hyperparams={"learning_rate": 0.1, "b1": 0.9})),
     ValueError, r"^optimizer 'sgd' does not take b1; it takes learning_rate$"),
    ("experiment ragged pair",
     lambda: get_backend("engine").run(_exp(train=((1.0, 2.0), (3.0,)))), ValueError,
     r"^train record 1 must be \(x_1, \.\.\., x_d, target\), got \(3\.0,\)$"),
    ("experiment validation feature count",
     lambda: get_backend("manual").run(_exp(validation=((1.0, 2.0, 3.0),))), ValueError,
     r"^validation record 0 has 2 features, the first train record has 1$"),
    ("experiment non-finite data",
     lambda: get_backend("torch").run(_exp(train=((1.0, math.nan),))), ValueError,
     r"^train record 0 must be finite, got nan$"),
    ("experiment empty data", lambda: get_backend("jax").run(_exp(train=())), ValueError,
     r"^train data is empty$"),
    ("experiment text data", lambda: get_backend("manual").run(_exp(train=(("a", 2.0),))),
     TypeError, r"^train record 0 must be a number, got 'a'$"),
    ("compare without the reference",
     lambda: compare_trajectories(REGISTRY["single-update"], {"engine": _ONE}), ValueError,
     r"^single-update: reference backend 'manual' has no trajectory \(have: engine\)$"),
    ("check_output_path missing directory",
     lambda: check_output_path("/no/such/dir/r.json", option="--json"), ValueError,
     r"^--json: directory /no/such/dir does not exist$"),
]


@pytest.mark.parametrize(("case", "call", "error", "message"), API_ROWS,
                         ids=[row[0] for row in API_ROWS])
def test_bad_api_input_raises_with_one_line_naming_the_argument(case, call, error, message):
    with pytest.raises(error) as caught:
        call()
    text = str(caught.value)
    assert "\n" not in text
    assert re.search(message, text), text


def test_float32_gradient_check_refusal_does_not_leak_float64():
    import jax

    with pytest.raises(ValueError):
        _gradient_check_with_float32_leaves()
    assert not jax.config.jax_enable_x64  # the context manager restored it


def test_the_table_rows_are_unique():
    ids = [f"{row.tool}: {row.id}" for row in ROWS] + [row[0] for row in API_ROWS]
    assert len(ids) == len(set(ids))
    assert json.dumps([row.message for row in ROWS])  # plain strings
