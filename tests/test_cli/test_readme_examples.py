"""Every command the README shows runs, as written, here or in the test named for it.

The README's ```bash blocks are read (continuation lines joined, comments cut);
each ``python -m <tool> ...`` command is run in this process, in a fresh folder
that sees the repository's ``examples/`` and ``comparisons/data/`` as the README's
relative paths expect, and must exit 0 and write the files it names. A few
commands are whole-project runs (every experiment on every backend, every
course figure) that other tests already run as written; :data:`RUN_ELSEWHERE`
names the test file that runs each, and the test checks it still does.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from cli_helpers import run_cli

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
}
"""README commands that run every experiment or figure: the test file running each, as text."""

SKIPPED = {
    "python -m functional_training train ...same flags... --resume":
        "the README's shorthand for the command above it with --resume",
}

EXIT_CODES = {
    "python -m comparisons check --spec examples/student-loop/spec.toml --trajectory "
    "examples/student-loop/buggy.csv": 1,  # the example's buggy loop: a mismatch, named
}
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


def test_the_readme_shows_commands_and_the_lists_name_only_those():
    assert len(COMMANDS) > 20
    assert set(RUN_ELSEWHERE) <= set(COMMANDS) and set(SKIPPED) <= set(COMMANDS)
    assert set(EXIT_CODES) <= set(COMMANDS)


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
        for flag in ("--json", "--manifest", "--markdown", "--plot"):
            if flag in args:
                assert (tmp_path / args[args.index(flag) + 1]).is_file(), (command, flag)
