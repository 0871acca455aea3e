"""Every command the README and every ``--help`` show runs, as written, here or in a named test.

The README's ```bash blocks are read (continuation lines joined, comments cut);
each ``python -m <tool> ...`` command is run in this process, in a fresh folder
that sees the repository's ``examples/`` and ``comparisons/data/`` as the README's
relative paths expect, and must exit 0 and write the files it names. A few
commands are whole-project runs (every experiment on every backend, every
course figure) that other tests already run as written; :data:`RUN_ELSEWHERE`
names the test file that runs each, and the test checks it still does.

The same holds for the examples of every ``--help`` page of both front doors
(the top-level page and each command's): each page's examples run in order in a
fresh folder holding the files their placeholders name (``my-run.toml``,
``mine.csv``, ``deliveries.csv``, ``net.toml``: :data:`PLACEHOLDERS`).
``train --help``'s examples are run by ``runs/test_train_cli.py`` (in order,
with a resume after an interruption), so they are not run twice.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
from pathlib import Path

import pytest
from cli_helpers import run_cli

import comparisons.cli
import functional_training.cli

ROOT = Path(__file__).resolve().parents[2]

RUN_ELSEWHERE = {
    "python -m comparisons all": ("tests/test_cli/test_readme.py", "python -m comparisons all"),
    "python -m comparisons run": ("tests/test_comparisons/test_cli.py", '"run"'),
    "python -m comparisons run --dtype float32": ("tests/test_comparisons/test_cli.py",
                                                  '"run", "--dtype", "float32"'),
    "python -m comparisons lesson --check": ("tests/test_comparisons/test_cli.py",
                                             '"lesson", "--check"'),
    "python -m comparisons figures --out figures": ("tests/test_comparisons/test_cli.py",
                                                    '"figures", "--out"'),
    "python -m comparisons run --json report.json --manifest report.manifest.json":
        ("tests/test_comparisons/test_rerun.py", '"--manifest"'),
    "python -m comparisons rerun report.json": ("tests/test_comparisons/test_rerun.py",
                                                '"rerun"'),
    # --help's own whole-project examples
    "python -m comparisons figures": ("tests/test_comparisons/figures/test_course.py",
                                      '"figures", "--out"'),
    "python -m comparisons run --json report.json --manifest run.manifest.json":
        ("tests/test_comparisons/test_rerun.py", '"--manifest"'),
    "python -m comparisons rerun run.manifest.json": ("tests/test_comparisons/test_rerun.py",
                                                      '"rerun"'),
    "python -m comparisons run --json report.json": ("tests/test_comparisons/test_rerun.py",
                                                     '"--json"'),
    "python -m comparisons figures --only full-batch --only train-validation --out figs": (
        "tests/test_comparisons/figures/test_arguments.py",
        '"--only", "full-batch", "--only",\n                             "train-validation"'),
}
"""README commands that run every experiment or figure: the test file running each, as text."""

SKIPPED = {
    "python -m functional_training train ...same flags... --resume":
        "the README's shorthand for the command above it with --resume",
}

EXIT_CODES = {
    "python -m comparisons check --spec examples/student-loop/spec.toml --trajectory "
    "examples/student-loop/buggy.csv": 1,  # the example's buggy loop: a mismatch, named
    "python -m comparisons check --spec my-run.toml --trajectory mine.csv --dtype float32 "
    "--json check.json --markdown check.md": 1,  # the placeholder is the buggy loop too
}

OUTPUTS = ("--json", "--manifest", "--markdown", "--plot")
"""The options that write files."""

PLACEHOLDERS = {
    "my-run.toml": "examples/student-loop/spec.toml",
    "mine.csv": "examples/student-loop/buggy.csv",
    "deliveries.csv": "comparisons/data/deliveries-train.csv",
    "net.toml": "examples/moons-sweep.toml",  # its data file: examples/data, linked as data/
}
"""Files --help examples name as the user's own, and the repository file standing in for each."""
"""README commands whose documented outcome is not exit 0."""


def readme_blocks() -> list[list[str]]:
    """The ``python -m`` commands of each of the README's bash blocks, continuations joined."""
    text = (ROOT / "README.md").read_text()
    blocks = []
    for block in re.findall(r"```bash\n(.+?)\n```", text, flags=re.S):
        commands = []
        for line in block.replace("\\\n", " ").splitlines():
            command = " ".join(line.split("#", 1)[0].split())
            if command.startswith("python -m "):
                commands.append(command)
        if commands:
            blocks.append(commands)
    return blocks


BLOCKS = readme_blocks()
COMMANDS = [command for block in BLOCKS for command in block]


def test_the_lists_name_only_documented_commands(capsys):
    documented = set(COMMANDS)
    for module, command in _help_pages():
        documented |= set(help_examples(run_cli(capsys, module, *command, "--help")[1]))
    assert len(COMMANDS) > 20
    assert set(RUN_ELSEWHERE) | set(SKIPPED) | set(EXIT_CODES) <= documented


@pytest.mark.parametrize("command", list(RUN_ELSEWHERE))
def test_a_whole_project_command_is_run_by_its_named_test(command):
    path, text = RUN_ELSEWHERE[command]
    assert text in (ROOT / path).read_text(), f"{path} no longer runs {command!r}"


@pytest.mark.parametrize("block", range(len(BLOCKS)), ids=[f"block {i + 1}: {b[0][10:60]}"
                                                          for i, b in enumerate(BLOCKS)])
def test_a_readme_block_runs_as_written(block, capsys, tmp_path, monkeypatch):
    """A block's commands in order, in one folder: a later one may read an earlier one's files."""
    for shared in ("examples", "comparisons"):
        (tmp_path / shared).symlink_to(ROOT / shared)
    monkeypatch.chdir(tmp_path)
    for command in BLOCKS[block]:
        if command in RUN_ELSEWHERE or command in SKIPPED:
            continue
        module, *args = shlex.split(command)[2:]
        code, out, err = run_cli(capsys, module, *args)
        if "--backend" in args and "numpy" in args:
            # the plug-in is an example package: without it, the hint says how to install it
            assert code == 0 or "pip install -e examples/numpy-backend" in err, err
            continue
        assert code == EXIT_CODES.get(command, 0), f"{command}\n{err[-2000:]}"
        for flag in OUTPUTS:
            if flag in args:
                assert (tmp_path / args[args.index(flag) + 1]).is_file(), (command, flag)


def _help_pages() -> list[tuple[str, tuple[str, ...]]]:
    """``(module, command)`` for the top-level ``--help`` of both front doors and each command's."""
    pages = []
    for module, cli in (("comparisons", comparisons.cli), ("functional_training",
                                                         functional_training.cli)):
        parser = cli.build_parser()
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        pages += [(module, ())] + [(module, (name,)) for name in commands.choices
                                   if name != "train"]  # train's: runs/test_train_cli.py
    return pages


def help_examples(text: str) -> list[str]:
    """A help text's ``python -m`` commands: continuations joined, ``&&`` split, no comments."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].strip()
        for part in line.split("&&"):
            command = " ".join(part.split())
            if command.startswith("python -m "):
                commands.append(command)
    return commands


@pytest.mark.parametrize(("module", "command"), _help_pages(),
                         ids=lambda p: p if isinstance(p, str) else " ".join(p) or "-")
def test_every_help_example_runs_as_written(module, command, capsys, tmp_path, monkeypatch):
    code, page, _ = run_cli(capsys, module, *command, "--help")
    assert code == 0
    for shared in ("examples", "comparisons"):
        (tmp_path / shared).symlink_to(ROOT / shared)
    for name, source in PLACEHOLDERS.items():
        shutil.copy(ROOT / source, tmp_path / name)
    (tmp_path / "data").symlink_to(ROOT / "examples" / "data")
    monkeypatch.chdir(tmp_path)
    for example in help_examples(page):
        if example in RUN_ELSEWHERE or example in SKIPPED:
            continue
        if example in COMMANDS and not any(flag in example.split() for flag in OUTPUTS):
            continue  # the README's blocks run it as written; nothing here reads its files
        door, *args = shlex.split(example)[2:]
        code, out, err = run_cli(capsys, door, *args)
        if "--backend" in args and "numpy" in args:
            assert code == 0 or "pip install -e examples/numpy-backend" in err, err
            continue
        assert code == EXIT_CODES.get(example, 0), f"{example}\n{err[-2000:]}"
