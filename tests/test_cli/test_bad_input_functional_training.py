"""Every bad command line of ``python -m functional_training``, in one table.

``sweep``, ``train`` (with its checkpoint options) and ``rerun`` (with its
files). Every row asserts: exit code 2, exactly one line on stderr matching
the row's message, no traceback, nothing on stdout (no partial result), and no
file written (the row's output paths point into an empty directory; nothing
appears anywhere below the test's directory, nor in the unwritable directory).
Rows run in-process through ``functional_training.cli.main``; a few also run
in a fresh interpreter to prove no traceback reaches a terminal.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_helpers import (
    BadCommandLine,
    assert_nothing_written,
    assert_refused,
    assert_refused_in_a_fresh_process,
    expected_message,
    files_under,
    materialise,
    outside_paths,
    row_params,
    run_cli,
    write_unknown_tool_manifest,
)

from functional_training import cli
from functional_training.runs import read_manifest, validate_manifest

DOOR = "functional_training"

OUTPUT_OPTIONS = {
    "train": ("--json", "{out}/r.json", "--manifest", "{out}/m.json"),
    "sweep": ("--json", "{out}/r.json", "--manifest", "{out}/m.json"),
}

SWEEP = ("sweep", "--learning-rates", "0.01:0.5:4", "--steps", "5")
TRAIN = ("train", "--data", "shipments", "--optimizer", "sgd", "--learning-rate", "0.08",
         "--steps", "5")


def swap(argv: tuple[str, ...], flag: str, value: str | None) -> tuple[str, ...]:
    """``argv`` with ``flag``'s value replaced (``None``: the flag removed)."""
    i = argv.index(flag)
    return argv[:i] + (() if value is None else (flag, value)) + argv[i + 2:]


def exactly(line: str) -> str:
    """A message regex matching exactly ``line``."""
    return "^" + re.escape(line) + "$"


def row(id: str, *argv: str, message: str, files=None, outputs: bool = True) -> BadCommandLine:
    return BadCommandLine(id, tuple(argv), message, files or {}, outputs)


def sweep_attached(id: str, rates: str, steps: str, *extra: str, message: str) -> BadCommandLine:
    """A sweep written ``--learning-rates=RATES --steps=STEPS``: a rate may start with ``-``."""
    return row(id, "sweep", f"--learning-rates={rates}", f"--steps={steps}", *extra,
               message=message)


def _manifest_edit(edit):
    """A rerun file: the recorded train report's manifest alone, edited."""
    def apply(recorded: dict) -> dict:
        report = recorded["train report"]
        edit(report["manifest"])
        return {"manifest": report["manifest"]}

    return apply


def _report_edit(edit):
    """A rerun file: the recorded train report, edited."""
    def apply(recorded: dict) -> dict:
        return edit(recorded["train report"])

    return apply


def rerun_file(id: str, content, message: str) -> BadCommandLine:
    return row(f"rerun file {id}", "rerun", "{tmp}/bad.json", message=message,
               files={"bad.json": content}, outputs=False)


ROWS = [
    # --- sweep: the rate range ---------------------------------------------------------------
    row("sweep empty range", *swap(SWEEP, "--learning-rates", "0.1:0.5:0"),
        message=r"argument --learning-rates: COUNT must be >= 1, got 0 \(an empty sweep\)$"),
    row("sweep reversed range", *swap(SWEEP, "--learning-rates", "0.5:0.1:4"),
        message=r"argument --learning-rates: START must not exceed STOP, got 0\.5 > 0\.1$"),
    sweep_attached("sweep reversed range of 10", "0.5:0.1:10", "5",
                   message="START must not exceed STOP"),
    row("sweep malformed range", *swap(SWEEP, "--learning-rates", "0.1:0.5"),
        message=r"argument --learning-rates: expected START:STOP:COUNT, got '0\.1:0\.5'$"),
    sweep_attached("sweep range not numbers", "a:0.5:3", "5", message="must be numbers"),
    sweep_attached("sweep count not an integer", "0.1:0.5:x", "5",
                   message="COUNT must be an integer"),
    sweep_attached("sweep repeated rate", "0.1:0.1:3", "5", message="repeats one rate"),
    row("sweep rate 0", *swap(SWEEP, "--learning-rates", "0:0.5:4"),
        message=r"argument --learning-rates: rates must be finite and > 0"),
    row("sweep rate nan", *swap(SWEEP, "--learning-rates", "nan:0.5:4"),
        message=r"argument --learning-rates: rates must be finite and > 0"),
    row("sweep rate inf", *swap(SWEEP, "--learning-rates", "0.1:inf:4"),
        message=r"argument --learning-rates: rates must be finite and > 0"),
    sweep_attached("sweep rate inf of 3", "0.1:inf:3", "5", message="finite and > 0"),
    sweep_attached("sweep negative rate, attached", "-0.1:0.5:3", "5", message="finite and > 0"),
    row("sweep negative rate, after a space", "sweep", "--learning-rates", "-0.1:0.5:5",
        "--steps", "3",
        message=r"argument --learning-rates: rates must be finite and > 0, got '-0\.1:0\.5:5'$"),
    # --- sweep: length, data, sizes ------------------------------------------------------------
    row("sweep steps 0", *swap(SWEEP, "--steps", "0"),
        message=r"argument --steps: must be an integer > 0, got '0'$"),
    sweep_attached("sweep steps 0, attached", "0.1:0.5:3", "0", message="must be an integer > 0"),
    sweep_attached("sweep record-every 0", "0.1:0.5:3", "5", "--record-every", "0",
                   message="must be an integer > 0"),
    row("sweep record-every beyond steps", "sweep", "--learning-rates", "0.1:0.5:5", "--steps",
        "50", "--record-every", "100",
        message=exactly("error: --record-every 100 is larger than --steps 50: nothing after the "
                        "initial loss would be recorded")),
    row("sweep steps beyond int32", "sweep", "--learning-rates", "0.1:0.3:3", "--steps",
        "3000000000", "--record-every", "1",
        message=exactly("error: steps must be < 2**31 (int32 step indices), got 3000000000")),
    row("sweep records beyond 4 GiB", "sweep", "--learning-rates", "0.1:0.3:3", "--steps",
        "2000000000", "--record-every", "1",
        message=exactly("error: the recorded losses would take 22.4 GiB (3 rates x 2000000001 "
                        "records x 4 bytes), over the 4 GiB limit: raise record_every "
                        "(--record-every) or sweep fewer learning rates (--learning-rates)")),
    row("sweep batch 0", *SWEEP, "--batch-size", "0",
        message=r"argument --batch-size: must be an integer > 0, got '0'$"),
    row("sweep batch > N", *SWEEP, "--batch-size", "2",
        message=r"--batch-size 2 is larger than the data \(1 examples\)$"),
    sweep_attached("sweep batch > N of shipments", "0.1:0.5:3", "5", "--batch-size", "5",
                   "--data", "shipments", message="larger than the data"),
    row("sweep batch > N of shipments, json", "sweep", "--learning-rates", "0.1:0.5:3",
        "--steps", "5", "--data", "shipments", "--batch-size", "4", "--json", "{out}/never.json",
        message=r"--batch-size 4 is larger than the data \(3 examples\)$"),
    row("sweep unknown optimizer", *SWEEP, "--optimizer", "rmsprop",
        message=r"argument --optimizer: invalid choice: 'rmsprop'"),
    row("sweep unknown data", *SWEEP, "--data", "weather",
        message=r"argument --data: unknown data 'weather'"),
    sweep_attached("sweep unknown data lots", "0.1:0.5:3", "5", "--data", "lots",
                   message="unknown data"),
    sweep_attached("sweep synthetic not a number", "0.1:0.5:3", "5", "--data", "synthetic:abc",
                   message="synthetic:N"),
    sweep_attached("sweep synthetic 0", "0.1:0.5:3", "5", "--data", "synthetic:0",
                   message="synthetic:N"),
    sweep_attached("sweep unknown dtype", "0.1:0.5:3", "5", "--dtype", "float16",
                   message="invalid choice"),
    # --- sweep: output paths -------------------------------------------------------------------
    row("sweep json in a missing directory", *SWEEP, "--json", "{tmp}/missing/r.json",
        message=r"--json: directory .*/missing does not exist$", outputs=False),
    sweep_attached("sweep json in a missing top-level directory", "0.1:0.5:3", "5", "--json",
                   "/nonexistent-dir/out.json", message="does not exist"),
    row("sweep json unwritable", *SWEEP, "--json", "{unwritable}/r.json",
        message=r"--json: directory .* is not writable", outputs=False),
    # --- train: length -------------------------------------------------------------------------
    row("train steps 0", *swap(TRAIN, "--steps", "0"),
        message=r"argument --steps: must be an integer > 0, got '0'$"),
    row("train steps negative", *swap(TRAIN, "--steps", "-3"),
        message="argument --steps: must be an integer > 0"),
    row("train steps float", *swap(TRAIN, "--steps", "2.5"),
        message="argument --steps: must be an integer > 0"),
    row("train epochs 0", *swap(TRAIN, "--steps", None), "--epochs", "0",
        message=r"argument --epochs: must be an integer > 0, got '0'$"),
    row("train no length", *swap(TRAIN, "--steps", None),
        message="one of the arguments --steps --epochs is required"),
    row("train steps and epochs", *TRAIN, "--epochs", "2", message="--epochs: not allowed with"),
    # --- train: learning rate and optimizer ----------------------------------------------------
    row("train rate 0", *swap(TRAIN, "--learning-rate", "0"),
        message=r"argument --learning-rate: must be finite and > 0, got '0'$"),
    row("train rate negative", *swap(TRAIN, "--learning-rate", "-0.1"),
        message=r"argument --learning-rate: must be finite and > 0, got '-0\.1'$"),
    row("train rate nan", *swap(TRAIN, "--learning-rate", "nan"),
        message=r"argument --learning-rate: must be finite and > 0, got 'nan'$"),
    row("train rate inf", *swap(TRAIN, "--learning-rate", "inf"),
        message=r"argument --learning-rate: must be finite and > 0, got 'inf'$"),
    row("train rate text", *swap(TRAIN, "--learning-rate", "fast"),
        message="--learning-rate: must be a number"),
    row("train rate overflows float32", *TRAIN, "--learning-rate", "1e300", "--dtype", "float32",
        message=exactly("error: --learning-rate: learning_rate = 1e+300 overflows float32 "
                        "(largest 3.40282e+38)")),
    row("train unknown optimizer", *swap(TRAIN, "--optimizer", "rmsprop"),
        message=r"argument --optimizer: invalid choice: 'rmsprop'"),
    row("train unknown dtype", *TRAIN, "--dtype", "float16",
        message="argument --dtype: invalid choice"),
    # --- train: hyperparameters ----------------------------------------------------------------
    row("train hyperparameter not taken", *TRAIN, "--hyperparameter", "momentum=0.9",
        message=r"--hyperparameter: optimizer 'sgd' does not take momentum; it takes "
                r"learning_rate, weight_decay$"),
    row("train hyperparameter not finite", *swap(TRAIN, "--optimizer", "momentum"),
        "--hyperparameter", "momentum=nan",
        message=r"--hyperparameter: optimizer 'momentum': momentum must be finite"),
    row("train hyperparameter negative", *swap(TRAIN, "--optimizer", "momentum"),
        "--hyperparameter", "momentum=-1",
        message="--hyperparameter: optimizer 'momentum': momentum must be finite and >= 0"),
    row("train adam b1 = 1", *TRAIN, "--optimizer", "adam", "--hyperparameter", "b1=1",
        message=exactly("error: --hyperparameter: optimizer 'adam': b1 must lie in [0, 1), "
                        "got 1.0")),
    row("train nesterov without momentum", *TRAIN, "--optimizer", "nesterov",
        "--hyperparameter", "momentum=0",
        message=exactly("error: --hyperparameter: optimizer 'nesterov': nesterov needs "
                        "momentum > 0 (with 0 it is plain sgd)")),
    row("train hyperparameter malformed", *TRAIN, "--hyperparameter", "momentum",
        message="expected NAME=VALUE"),
    row("train hyperparameter not a number", *TRAIN, "--hyperparameter", "momentum=lots",
        message="momentum: expected a number, got 'lots'"),
    row("train hyperparameter learning rate", *TRAIN, "--hyperparameter", "learning_rate=0.1",
        message="set the learning rate with --learning-rate"),
    row("train hyperparameter twice", *swap(TRAIN, "--optimizer", "momentum"),
        "--hyperparameter", "momentum=0.9", "--hyperparameter", "momentum=0.8",
        message="--hyperparameter: momentum given twice"),
    # --- train: data and batches ---------------------------------------------------------------
    row("train unknown data", *swap(TRAIN, "--data", "weather"),
        message="argument --data: unknown data 'weather'; expected one-shipment, shipments"),
    row("train synthetic 0", *swap(TRAIN, "--data", "synthetic:0"),
        message="unknown data 'synthetic:0'; expected .* with N an integer >= 1"),
    row("train synthetic text", *swap(TRAIN, "--data", "synthetic:many"),
        message="data 'synthetic:many'"),
    row("train batch 0", *TRAIN, "--batch-size", "0",
        message=r"argument --batch-size: must be an integer > 0, got '0'$"),
    row("train batch > N", *TRAIN, "--batch-size", "4",
        message=r"--batch-size 4 is larger than the 3 training examples of shipments$"),
    row("train seed without batch", *TRAIN, "--seed", "1",
        message="--seed sets the mini-batch order"),
    row("train seed negative", *TRAIN, "--batch-size", "2", "--seed", "-1",
        message="argument --seed: must be an integer >= 0"),
    row("train unknown flag", *TRAIN, "--colour", "red",
        message=r"unrecognized arguments: --colour red"),
    # --- train: output paths -------------------------------------------------------------------
    row("train json in a missing directory", *TRAIN, "--json", "{tmp}/missing/r.json",
        message=r"--json: directory .*/missing does not exist$", outputs=False),
    row("train manifest in a missing directory", *TRAIN, "--manifest", "{tmp}/missing/m.json",
        message=r"--manifest: directory .*/missing does not exist$", outputs=False),
    row("train json in a missing top-level directory", *TRAIN, "--json", "/no/such/dir/r.json",
        message="--json: directory /no/such/dir does not exist"),
    row("train manifest in a missing top-level directory", *TRAIN, "--manifest",
        "/no/such/dir/m.json", message="--manifest: directory /no/such/dir does not exist"),
    row("train json is a directory", *TRAIN, "--json", "{tmp}",
        message="--json: .* is a directory"),
    row("train json unwritable", *TRAIN, "--json", "{unwritable}/r.json",
        message=r"--json: directory .* is not writable", outputs=False),
    # --- train: checkpoints --------------------------------------------------------------------
    row("train resume without a checkpoint directory", *TRAIN, "--resume",
        message="--resume needs --checkpoint-dir"),
    row("train checkpoint-every without a directory", *TRAIN, "--checkpoint-every", "5",
        message="--checkpoint-every needs --checkpoint-dir"),
    row("train checkpoint directory without checkpoint-every", *TRAIN, "--checkpoint-dir",
        "{tmp}/ckpt", message="--checkpoint-dir needs --checkpoint-every"),
    row("train checkpoint-every 0", *TRAIN, "--checkpoint-dir", "{tmp}/ckpt",
        "--checkpoint-every", "0", message="argument --checkpoint-every: must be an integer > 0"),
    row("train checkpoint directory's parent missing", *TRAIN, "--checkpoint-dir", "{tmp}/a/b",
        "--checkpoint-every", "5", message="--checkpoint-dir: directory .*/a does not exist"),
    row("train checkpoint directory is a file", *TRAIN, "--checkpoint-dir", "{tmp}/afile",
        "--checkpoint-every", "5", message="--checkpoint-dir: .* is not a directory"),
    row("train resume from a missing directory", *TRAIN, "--checkpoint-dir", "{tmp}/ckpt",
        "--checkpoint-every", "5", "--resume",
        message="--resume: checkpoint directory .* does not exist"),
    row("train resume from an empty directory", *TRAIN, "--checkpoint-dir", "{out}",
        "--checkpoint-every", "5", "--resume", message="--resume: no checkpoint in"),
    # --- rerun ---------------------------------------------------------------------------------
    row("ft rerun missing file", "rerun", "{tmp}/none.json",
        message=r"cannot read manifest .*none\.json: No such file or directory$", outputs=False),
    row("ft rerun an unknown tool's manifest", "rerun", "{make}",
        message=r"manifest was written by 'make': no rerunner is installed for it \(known: ",
        outputs=False),
    # --- rerun: bad files (edits of a recorded train report, a recorded sweep manifest) ----------
    rerun_file("not json", "{", "is not valid JSON"),
    rerun_file("NaN literal", '{"manifest": NaN}', "is not strict JSON: it contains NaN"),
    rerun_file("not an object", "[1]", "manifest must be a JSON object"),
    rerun_file("missing key", _manifest_edit(lambda m: m.pop("dtype")), "missing key 'dtype'"),
    rerun_file("unknown key", _manifest_edit(lambda m: m.update(colour=1)),
               "unknown key 'colour'"),
    rerun_file("steps zero", _manifest_edit(lambda m: m["runs"][0].update(steps=0)),
               r"runs\[0\].steps must be an integer > 0"),
    rerun_file("comparisons, not one", _manifest_edit(lambda m: m.update(tool="comparisons run")),
               r"runs\[0\].options: missing key 'origin' \(a comparisons run needs it\)"),
    rerun_file("other tool", _manifest_edit(lambda m: m.update(tool="make")),
               "manifest was written by 'make': no rerunner is installed for it"),
    rerun_file("two runs", _manifest_edit(lambda m: m["runs"].append(m["runs"][0])),
               "holds one run"),
    rerun_file("no chunking", _manifest_edit(lambda m: m["runs"][0]["options"].pop("chunk_steps")),
               "options.chunk_steps must be an integer > 0"),
    rerun_file("bad data", _manifest_edit(lambda m: m["runs"][0]["options"].update(data="weather")),
               "unknown data 'weather'; expected one-shipment, shipments"),
    rerun_file("no digest", _manifest_edit(lambda m: m["runs"][0]["results"].clear()),
               "has no 'trajectory' digest"),
    rerun_file("edited report",
               _report_edit(lambda r: {**r, "trajectory": {**r["trajectory"], "batch_loss": []}}),
               "the report was edited"),
    rerun_file("hyperparameter",
               _manifest_edit(lambda m: m["runs"][0]["hyperparameters"].update(b1=0.9)),
               "optimizer 'sgd' does not take b1"),
    rerun_file("sweep too large",
               lambda recorded: {**recorded["sweep manifest"],
                                 "runs": [{**recorded["sweep manifest"]["runs"][0],
                                           "steps": 2_000_000_000}]},
               "--record-every"),
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> tuple[dict, dict[str, Path]]:
    """(the JSON objects rerun rows edit, the files rows name).

    A 3-step train report on the shipments, a 4-step sweep manifest and a
    valid manifest of the unknown tool ``make``.
    """
    directory = tmp_path_factory.mktemp("recorded")
    report, sweep = directory / "r.json", directory / "sweep.manifest.json"
    assert cli.main([*swap(TRAIN, "--steps", "3"), "--json", str(report)]) == 0
    assert cli.main(["sweep", "--learning-rates", "0.1:0.3:3", "--steps", "4", "--record-every",
                     "1", "--manifest", str(sweep)]) == 0
    return ({"train report": json.loads(report.read_text()),
             "sweep manifest": json.loads(sweep.read_text())},
            {"make": write_unknown_tool_manifest(directory / "make.json")})


def _fill(row: BadCommandLine, tmp_path: Path, recorded, unwritable_directory):
    objects, paths = recorded
    return materialise(row, tmp_path, output_options=OUTPUT_OPTIONS, recorded=objects,
                       paths=paths, unwritable=unwritable_directory)


@pytest.mark.parametrize("row", row_params(ROWS))
def test_bad_command_line_is_one_line_exit_2_and_writes_nothing(row, tmp_path, capsys, recorded,
                                                                 unwritable_directory):
    argv, values = _fill(row, tmp_path, recorded, unwritable_directory)
    before = files_under(tmp_path)
    code, out, err = run_cli(capsys, DOOR, *argv)
    assert_refused(code, out, err, expected_message(row, values))
    assert_nothing_written(tmp_path, before, outside_paths(argv, values))


def test_the_recorded_files_are_valid(recorded):
    objects, paths = recorded
    assert validate_manifest(objects["train report"]["manifest"])["tool"] == (
        "functional_training train")
    assert validate_manifest(objects["sweep manifest"])["tool"] == "functional_training sweep"
    assert read_manifest(paths["make"])["tool"] == "make"


# --- a few in a fresh interpreter: nothing reaches the terminal but one line ---------------------

FRESH = ["sweep reversed range", "train rate nan", "ft rerun missing file"]


@pytest.mark.slow
@pytest.mark.parametrize("row", row_params([r for r in ROWS if r.id in FRESH]))
def test_bad_input_in_a_fresh_process_prints_one_line(row, tmp_path, recorded,
                                                       unwritable_directory):
    argv, values = _fill(row, tmp_path, recorded, unwritable_directory)
    assert_refused_in_a_fresh_process(DOOR, row, argv, values, tmp_path)


def test_fresh_rows_exist():
    assert {r.id for r in ROWS} >= set(FRESH)


# --- the table itself --------------------------------------------------------------------------


def test_every_required_case_has_a_row():
    """The issue's list of bad inputs of ``python -m functional_training``, each with a row."""
    ids = " | ".join(r.id for r in ROWS)
    for required in ("sweep empty range", "sweep reversed range", "train steps 0", "rate 0",
                     "rate nan", "batch 0", "batch > N", "unknown optimizer", "unknown data",
                     "hyperparameter not taken", "missing directory", "unwritable",
                     "rerun missing file", "rerun file"):
        assert required in ids, required


def test_the_table_rows_are_unique():
    ids = [r.id for r in ROWS]
    assert len(ids) == len(set(ids))
    commands = [(r.argv, tuple(r.files.items()), r.outputs) for r in ROWS]
    assert len(commands) == len(set(commands))  # no command line twice
    assert json.dumps([r.message for r in ROWS])  # plain strings
