"""No output ever replaces an input: every output flag against every input flag, three spellings.

For each command that reads files (``train``, ``sweep``, ``comparisons run``,
``comparisons check``), every output option (``--json``, ``--manifest``,
``--markdown``, ``--plot``) is pointed at every file the command reads (the
``--data`` file, the ``--spec`` file, the data file the spec names, the
``--trajectory``), spelt three ways: ``./name``, the absolute path, and a
symlink to it. Each must be refused with exit 2 and one line naming both
options, the input's bytes untouched and no file written.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from cli_helpers import assert_refused, files_under, run_cli

DATA_CSV = "x,y\n0.5,2.1\n1.0,2.8\n2.0,4.9\n3.0,6.8\n"
SPEC = """name = "tiny"
[data]
train = "rows.csv"
[model]
w = 0.0
b = 0.0
[optimizer]
name = "sgd"
learning_rate = 0.05
[run]
steps = 2
"""
TRAJECTORY = '{"params": {"w": [0.0]}}\n'

# command -> (module, argv (files by name, run in their folder), {input option: file},
#             output options)
COMMANDS = {
    "train --data": ("functional_training",
                     ["train", "--data", "data.csv", "--optimizer", "sgd",
                      "--learning-rate", "0.1", "--steps", "2"],
                     {"--data": "data.csv"}, ("--json", "--manifest")),
    "train --spec": ("functional_training", ["train", "--spec", "spec.toml"],
                     {"--spec": "spec.toml", "[data].train": "rows.csv"},
                     ("--json", "--manifest")),
    "sweep --data": ("functional_training",
                     ["sweep", "--data", "data.csv", "--learning-rates", "0.01:0.1:2",
                      "--steps", "2"],
                     {"--data": "data.csv"}, ("--json", "--manifest", "--plot")),
    "sweep --spec": ("functional_training",
                     ["sweep", "--spec", "spec.toml", "--learning-rates", "0.01:0.1:2"],
                     {"--spec": "spec.toml", "[data].train": "rows.csv"},
                     ("--json", "--manifest", "--plot")),
    "comparisons run": ("comparisons", ["run", "--spec", "spec.toml", "--backend", "engine"],
                        {"--spec": "spec.toml", "[data].train": "rows.csv"},
                        ("--json", "--markdown", "--manifest")),
    "comparisons check": ("comparisons",
                          ["check", "--spec", "spec.toml", "--trajectory", "mine.json"],
                          {"--spec": "spec.toml", "[data].train": "rows.csv",
                           "--trajectory": "mine.json"},
                          ("--json", "--markdown")),
}
SPELLINGS = ("dot-slash", "absolute", "symlink")

CASES = [
    pytest.param(command, source, output, spelling,
                 id=f"{command}:{output}={source}:{spelling}")
    for command, (_, _, inputs, outputs) in COMMANDS.items()
    for source, output, spelling in itertools.product(inputs, outputs, SPELLINGS)
]


def _inputs(folder: Path) -> dict[str, Path]:
    files = {"data.csv": DATA_CSV, "rows.csv": DATA_CSV, "spec.toml": SPEC,
             "mine.json": TRAJECTORY}
    for name, text in files.items():
        (folder / name).write_text(text)
    return {name: folder / name for name in files}


def _spelt(path: Path, spelling: str) -> str:
    if spelling == "dot-slash":
        return f"./{path.name}"
    if spelling == "absolute":
        return str(path.resolve())
    link = path.parent / f"link-to-{path.name}"
    os.symlink(path.name, link)
    return str(link.name)


@pytest.mark.parametrize(("command", "source", "output", "spelling"), CASES)
def test_an_output_naming_an_input_is_refused(capsys, tmp_path, monkeypatch, command, source,
                                              output, spelling):
    monkeypatch.chdir(tmp_path)
    files = _inputs(tmp_path)
    module, argv, inputs, _ = COMMANDS[command]
    target = files[inputs[source]]
    before_bytes = {name: path.read_bytes() for name, path in files.items()}
    argv = [*argv, output, _spelt(target, spelling)]
    before = files_under(tmp_path)
    code, out, err = run_cli(capsys, module, *argv)
    assert_refused(code, out, err, f"{output}: ")
    assert "never replaces an input" in err, err
    assert f"{source}" in err, err
    assert {name: path.read_bytes() for name, path in files.items()} == before_bytes
    assert files_under(tmp_path) == before


def test_every_command_runs_with_outputs_elsewhere(capsys, tmp_path, monkeypatch):
    """The control: the same command lines, outputs beside the inputs, run (exit 0 or 1)."""
    monkeypatch.chdir(tmp_path)
    _inputs(tmp_path)
    for command, (module, argv, _, outputs) in COMMANDS.items():
        suffix = {"--plot": ".png", "--markdown": ".md"}
        written = [f"out-{command.replace(' ', '_')}{o}{suffix.get(o, '.json')}"
                   for o in outputs]
        extra = [arg for o, path in zip(outputs, written, strict=True) for arg in (o, path)]
        code, out, err = run_cli(capsys, module, *argv, *extra)
        assert code in (0, 1), (command, err)
        for path in written:
            assert (tmp_path / path).is_file(), (command, path)
