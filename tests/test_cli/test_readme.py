"""The README's two commands and CI stay in step."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _first_screen_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    first_screen = text.split("\n---\n", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", first_screen, flags=re.S)


def test_readme_first_screen_has_exactly_two_commands():
    commands = _first_screen_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert commands[0].endswith("python -m comparisons all")
    assert commands[1].endswith("pytest")


def test_ci_runs_the_readme_test_command_verbatim():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _first_screen_commands()[1] in ci_lines


def test_commands_pin_a_cpu_torch():
    # An unpinned torch would pull a multi-GB CUDA build on a CPU machine.
    for command in _first_screen_commands():
        assert "torch==2.13.0" in command


def test_readme_python_example_runs(capsys):
    blocks = re.findall(r"```python\n(.+?)\n```", (ROOT / "README.md").read_text(), flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    # The example prints the stability limit for x = 2: 2 / (x^2 + 1).
    assert float(capsys.readouterr().out.strip().splitlines()[-1]) == 2 / (2.0**2 + 1)
