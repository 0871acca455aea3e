"""Every bad command line of ``python -m comparisons``, in one table.

Spec files, flags, output paths, figure directories, rerun files. Every row
asserts: exit code 2, exactly one line on stderr matching the row's message,
no traceback, nothing on stdout (no partial result), and no file written (the
row's output paths point into an empty directory; nothing appears anywhere
below the test's directory, nor in the unwritable directory). Rows run
in-process through ``comparisons.cli.main``; a few also run in a fresh
interpreter to prove no traceback reaches a terminal.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import (
    ROOT,
    BadCommandLine,
    assert_nothing_written,
    assert_refused,
    assert_refused_in_a_fresh_process,
    expected_message,
    files_under,
    materialise,
    must_not_run,
    outside_paths,
    row_params,
    run_cli,
    write_unknown_tool_manifest,
)
from specs import shipments_spec

from comparisons import cli
from functional_training.runs import read_manifest, validate_manifest

DOOR = "comparisons"
SPEC = shipments_spec("bad-input", learning_rate=0.08, steps=2)
ADAM = (ROOT / "examples" / "shipments-adam.toml").read_text()

OUTPUT_OPTIONS = {
    "run": ("--json", "{out}/r.json", "--markdown", "{out}/r.md", "--manifest", "{out}/m.json"),
}


def spec(old: str | None = None, new: str = "") -> str:
    """:data:`SPEC` with one line (or fragment) replaced; ``old=None`` prepends ``new``."""
    if old is None:
        return new + "\n" + SPEC
    assert old in SPEC, old
    return SPEC.replace(old, new, 1)


def row(id: str, *argv: str, message: str, files=None, outputs: bool = True,
        guards: tuple[str, ...] = ()) -> BadCommandLine:
    return BadCommandLine(id, tuple(argv), message, files or {}, outputs, guards)


def c_run(*argv: str, message: str, id: str, guards: tuple[str, ...] = ()) -> BadCommandLine:
    return row(id, "run", *argv, message=message, guards=guards)


def c_spec(id: str, text: str | bytes, message: str, *argv: str) -> BadCommandLine:
    return row(id, "run", "--spec", "{spec}", *argv, message=message, files={"bad.toml": text})


def _edit(change):
    """A rerun file: the recorded report, changed."""
    def apply(recorded: dict) -> dict:
        report = recorded["report"]
        change(report)
        return report

    return apply


def _manifest_only(change):
    """A rerun file: the recorded report's manifest alone, changed."""
    def apply(recorded: dict) -> dict:
        manifest = recorded["report"]["manifest"]
        change(manifest)
        return manifest

    return apply


def rerun_file(id: str, content, message: str) -> BadCommandLine:
    return row(f"rerun file {id}", "rerun", "{tmp}/bad.json", message=message,
               files={"bad.json": content}, outputs=False)


NOTHING_RUNS = ("comparisons.compare.run_and_compare",)
NO_FIGURES = ("comparisons.figures.course.figure_data", "comparisons.compare.run_and_compare")

ROWS = [
    # --- spec files: unreadable, not TOML ---------------------------------------------------
    row("spec missing", "run", "--spec", "{tmp}/none.toml",
        message=r"none\.toml: no such spec file$"),
    row("spec missing, relative path", "run", "--spec", "missing.toml",
        message="missing.toml: no such spec file"),
    row("spec is a directory", "run", "--spec", "{tmp}",
        message=r"is a directory, not a spec file$"),
    row("spec unreadable", "run", "--spec", "{tmp}/afile/x.toml",
        message=r"x\.toml: cannot read \(Not a directory\)$"),
    c_spec("spec not UTF-8", b"name = \"\xff\"\n", r"not UTF-8 text$"),
    c_spec("spec not TOML", "name = \n", r"bad\.toml: not valid TOML: "),
    c_spec("spec is a list", "name = [\n", r"not valid TOML"),
    # --- spec files: missing and unknown keys --------------------------------------------------
    c_spec("spec missing table", spec("[data]\ntrain = [[1.0, 3.0], [2.0, 5.0], [3.0, 7.0]]\n"),
           r"\[data\]: missing table$"),
    c_spec("spec missing table, steps 0", "name = 'x'\n[run]\nsteps = 0\n",
           r"^error: {spec}: \[data\]: missing table$"),
    c_spec("spec missing name", spec('name = "bad-input"\n'), r"bad\.toml: name: missing$"),
    c_spec("spec missing steps", spec("steps = 2\n"), r"\[run\]\.steps: missing$"),
    c_spec("spec missing rate", spec("learning_rate = 0.08\n"),
           r"\[optimizer\]\.learning_rate: missing$"),
    c_spec("spec missing w", spec("w = 0.0\n"),
           r"\[model\]\.w: missing \(give w, b, or init = \"zeros\" or \"seeded\"\)$"),
    c_spec("spec missing train", spec("train = [[1.0, 3.0], [2.0, 5.0], [3.0, 7.0]]\n"),
           r"\[data\]\.train: missing$"),
    c_spec("spec unknown top key", spec(None, 'colour = "red"'),
           r"colour: unknown key; expected name, description, data, model, loss, optimizer, "
           r"schedule, run$"),
    c_spec("spec unknown run key", spec("steps = 2", "steps = 2\nepochs = 3"),
           r"\[run\]\.epochs: unknown key; expected steps, batch_size, seed, batches, last_batch$"),
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
           r"\[optimizer\]\.momentum: not a key of adam; it takes learning_rate, b1, b2, eps, "
           r"weight_decay$"),
    c_spec("spec adam takes no momentum, naming the file",
           ADAM.replace("eps = 1e-8", "eps = 1e-8\nmomentum = 0.9"),
           r"{spec}: \[optimizer\]\.momentum: not a key of adam; it takes learning_rate, b1, b2, "
           r"eps"),
    c_spec("spec sgd takes no b1", spec("learning_rate = 0.08", "learning_rate = 0.08\nb1 = 0.9"),
           r"\[optimizer\]\.b1: not a key of sgd; it takes learning_rate, weight_decay$"),
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
    row("spec name taken, experiment first", "run", "--experiment", "five-steps", "--spec",
        "{spec}", message="experiment name 'five-steps' is already",
        files={"bad.toml": ADAM.replace('name = "shipments-adam"', 'name = "five-steps"')}),
    # --- flags ---------------------------------------------------------------------------------
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
    c_run("--frobnicate", message="unrecognized arguments: --frobnicate",
          id="unknown flag without a value"),
    row("unknown command", "frobnicate", message=r"invalid choice: 'frobnicate'", outputs=False),
    row("lesson unknown backend", "lesson", "--backend", "numpy",
        message="invalid choice: 'numpy'"),
    # --- output paths --------------------------------------------------------------------------
    c_run("--json", "{tmp}/missing/r.json", message=r"--json: directory .*/missing does not exist$",
          id="json in a missing directory"),
    c_run("--manifest", "{tmp}/missing/m.json",
          message=r"--manifest: directory .*/missing does not exist$",
          id="manifest in a missing directory"),
    c_run("--markdown", "{tmp}/missing/r.md",
          message=r"--markdown: directory .*/missing does not exist$",
          id="markdown in a missing directory"),
    c_run("--json", "{tmp}/no/such/dir/report", message="does not exist", guards=NOTHING_RUNS,
          id="json in a nested missing directory, before running"),
    c_run("--markdown", "{tmp}/no/such/dir/report", message="does not exist", guards=NOTHING_RUNS,
          id="markdown in a nested missing directory, before running"),
    c_run("--json", "{out}", message=r"--json: .* is a directory, expected a file path$",
          id="json is a directory"),
    c_run("--json", "{unwritable}/r.json", message=r"--json: directory .* is not writable",
          id="json in an unwritable directory"),
    c_run("--manifest", "{unwritable}/m.json",
          message=r"--manifest: directory .* is not writable", id="manifest unwritable"),
    c_run("--experiment", "five-steps", "--json", "{out}/o.json", "--markdown", "{out}/o.json",
          message=r"--markdown: .*is also the --json file", id="one path for two reports"),
    row("all: json in a missing directory", "all", "--no-figures", "--json", "{tmp}/missing/r.json",
        message=r"--json: directory .*/missing does not exist$", outputs=False),
    row("all: manifest unwritable", "all", "--no-figures", "--manifest", "{unwritable}/m.json",
        message=r"--manifest: directory .* is not writable", outputs=False),
    row("all: json is a directory, before running", "all", "--no-figures", "--json", "{tmp}",
        message="is a directory", outputs=False, guards=NOTHING_RUNS),
    row("all: markdown is a directory, before running", "all", "--no-figures", "--markdown",
        "{tmp}", message="is a directory", outputs=False, guards=NOTHING_RUNS),
    # --- figure directories: refused before anything runs ----------------------------------------
    *(row(f"{command}: out {where}", command, "--out", path, message=r"^error: --out: ",
          outputs=False, guards=NO_FIGURES)
      for command in ("figures", "all")
      for where, path in (("unwritable", "{unwritable}/figs"), ("a file", "{tmp}/afile"),
                          ("below a file", "{tmp}/afile/figs"))),
    # --- rerun ---------------------------------------------------------------------------------
    row("rerun missing file", "rerun", "{tmp}/none.json",
        message=r"cannot read manifest .*none\.json: No such file or directory$", outputs=False),
    row("rerun not JSON", "rerun", "{spec}", message=r"is not valid JSON",
        files={"bad.toml": "{"}, outputs=False),
    row("rerun an unknown tool's manifest", "rerun", "{make}",
        message=r"manifest was written by 'make': no rerunner is installed for it \(known: ",
        outputs=False),
    row("rerun a spec file", "rerun", "{spec}", message=r"is not valid JSON",
        files={"bad.toml": SPEC}, outputs=False),
    # --- rerun: bad files (edits of a recorded five-steps report) --------------------------------
    rerun_file("NaN literal", '{"manifest": NaN}', "is not strict JSON: it contains NaN"),
    rerun_file("not an object", "[1]", "manifest must be a JSON object"),
    rerun_file("missing key", _manifest_only(lambda m: m.pop("dtype")), "missing key 'dtype'"),
    rerun_file("unknown key", _manifest_only(lambda m: m.update(colour=1)),
               "unknown key 'colour'"),
    rerun_file("train tool, not one",
               _manifest_only(lambda m: m.update(tool="functional_training train")),
               r"manifest: runs\[0\].results has no 'trajectory' digest to compare with"),
    rerun_file("other tool", _manifest_only(lambda m: m.update(tool="make")),
               "manifest was written by 'make': no rerunner is installed for it"),
    rerun_file("no options", _manifest_only(lambda m: m["runs"][0]["options"].clear()),
               r"runs\[0\].options: missing key 'origin'"),
    rerun_file("origin", _manifest_only(lambda m: m["runs"][0]["options"].update(origin="web")),
               r"options.origin must be one of registry, spec"),
    rerun_file("backend",
               _manifest_only(lambda m: m["runs"][0]["options"].update(backends=["numpy"])),
               r"options.backends must be a non-empty list"),
    rerun_file("reference",
               _manifest_only(lambda m: m["runs"][0]["options"].update(reference="numpy")),
               r"options.reference must be one of"),
    rerun_file("no reference digest", _manifest_only(lambda m: m["runs"][0]["results"].pop(
        "manual")), r"runs\[0\].results must hold a digest per backend"),
    rerun_file("edited steps", _manifest_only(lambda m: m["runs"][0].update(steps=7)),
               r"runs\[0\].steps does not match options.experiment; the manifest was edited"),
    rerun_file("edited experiment",
               _manifest_only(lambda m: m["runs"][0]["options"]["experiment"].update(steps=7)),
               r"runs\[0\].steps does not match options.experiment"),
    rerun_file("experiment key",
               _manifest_only(lambda m: m["runs"][0]["options"]["experiment"].pop("train")),
               r"options.experiment.train: missing"),
    rerun_file("experiment type",
               _manifest_only(lambda m: m["runs"][0]["options"]["experiment"].update(steps="5")),
               r"options.experiment.steps: must be an integer, got a string"),
    rerun_file("experiment unrunnable",
               _manifest_only(lambda m: m["runs"][0]["options"]["experiment"]["hyperparams"]
                              .update(learning_rate=-1.0)),
               r"options.experiment: learning_rate must be > 0, got -1.0"),
    rerun_file("renamed", _manifest_only(lambda m: m["runs"][0].update(name="six-steps")),
               r"runs\[0\].name 'six-steps' is not its experiment's name"),
    rerun_file("edited report",
               _edit(lambda r: r["experiments"][0]["backends"]["torch"]["batch_loss"]
                     .__setitem__(0, 1.0)),
               "the trajectory of five-steps/torch does not match its manifest's digest"),
    rerun_file("report without experiments", _edit(lambda r: r.pop("experiments")),
               "\"experiments\" must be a list of objects"),
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> tuple[dict, dict[str, Path]]:
    """(the JSON objects rerun rows edit, the files rows name): a five-steps report, ``make``."""
    directory = tmp_path_factory.mktemp("recorded")
    report = directory / "report.json"
    assert cli.main(["run", "--experiment", "five-steps", "--json", str(report)]) == 0
    return ({"report": json.loads(report.read_text())},
            {"make": write_unknown_tool_manifest(directory / "make.json")})


def _fill(row: BadCommandLine, tmp_path: Path, recorded, unwritable_directory):
    objects, paths = recorded
    return materialise(row, tmp_path, output_options=OUTPUT_OPTIONS, recorded=objects,
                       paths=paths, unwritable=unwritable_directory)


@pytest.mark.parametrize("row", row_params(ROWS))
def test_bad_command_line_is_one_line_exit_2_and_writes_nothing(row, tmp_path, capsys,
                                                                 monkeypatch, recorded,
                                                                 unwritable_directory):
    argv, values = _fill(row, tmp_path, recorded, unwritable_directory)
    for target in row.guards:
        monkeypatch.setattr(target, must_not_run)
    before = files_under(tmp_path)
    code, out, err = run_cli(capsys, DOOR, *argv)
    assert_refused(code, out, err, expected_message(row, values))
    assert_nothing_written(tmp_path, before, outside_paths(argv, values))


def test_the_recorded_report_is_valid(recorded):
    objects, paths = recorded
    assert validate_manifest(objects["report"]["manifest"])["runs"][0]["name"] == "five-steps"
    assert read_manifest(paths["make"])["tool"] == "make"


# --- a few in a fresh interpreter: nothing reaches the terminal but one line ---------------------

FRESH = ["spec not TOML", "spec ragged pair", "spec missing table, steps 0",
         "json in a missing directory", "rerun not JSON", "finite differences in float32"]


@pytest.mark.slow
@pytest.mark.parametrize("row", row_params([r for r in ROWS if r.id in FRESH]))
def test_bad_input_in_a_fresh_process_prints_one_line(row, tmp_path, recorded,
                                                       unwritable_directory):
    argv, values = _fill(row, tmp_path, recorded, unwritable_directory)
    assert_refused_in_a_fresh_process(DOOR, row, argv, values, tmp_path)


def test_fresh_rows_exist_and_need_no_guards():
    fresh = [r for r in ROWS if r.id in FRESH]
    assert {r.id for r in fresh} == set(FRESH)
    assert not any(r.guards for r in fresh)  # a fresh process cannot be monkeypatched


# --- the table itself --------------------------------------------------------------------------


def test_every_required_case_has_a_row():
    """The issue's list of bad inputs of ``python -m comparisons``, each with a row."""
    ids = " | ".join(r.id for r in ROWS)
    for required in ("spec missing", "spec not TOML", "spec missing table", "unknown top key",
                     "steps is text", "x nan", "empty train", "ragged pair", "x/y length",
                     "validation feature count", "rate 0", "rate nan", "steps 0", "batch 0",
                     "batch > N", "unknown optimizer", "unknown backend", "unknown experiment",
                     "takes no momentum", "missing directory", "unwritable",
                     "finite differences in float32", "rerun missing file", "rerun not JSON",
                     "rerun file"):
        assert required in ids, required


def test_the_table_rows_are_unique():
    ids = [r.id for r in ROWS]
    assert len(ids) == len(set(ids))
    commands = [(r.argv, tuple(r.files.items()), r.outputs) for r in ROWS]
    assert len(commands) == len(set(commands))  # no command line twice
    assert json.dumps([r.message for r in ROWS])  # plain strings
