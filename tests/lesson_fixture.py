"""Parse the lesson's printed outputs kept in ``tests/fixtures/lesson_outputs.txt``."""

from __future__ import annotations

import re
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "lesson_outputs.txt"


def lesson_blocks(path: Path = FIXTURE) -> dict[str, list[str]]:
    """Block name -> the lines the lesson prints for it, in order."""
    blocks: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            blocks[current] = []
        elif current is not None and line and not line.startswith("#"):
            blocks[current].append(line)
    return blocks


def numbers(line: str) -> list[float]:
    """Every decimal number printed on a lesson line, in order (step counters included)."""
    return [float(token) for token in re.findall(r"-?\d+\.\d+|-?\d+", line.split(":", 1)[-1])]
