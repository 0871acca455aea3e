"""Shared fixtures: float64 JAX with strict promotion; a directory no file fits in.

Also the number of pytest-xdist workers for ``-n auto`` (pyproject.toml's addopts).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


WORKER_MEMORY = 2 * 2**30
"""Memory to allow per xdist worker: each imports jax and torch and keeps its compiled
programs (about 1 GiB measured at the end of a run), and some tests start a child Python."""


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: xdist's count (one worker per CPU core), at most one per ``WORKER_MEMORY``.

    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still overrides both (xdist reads it).
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    import xdist.plugin  # only called when xdist runs this session

    cores = xdist.plugin.pytest_xdist_auto_num_workers(config)
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): cores alone
        return cores
    return max(1, min(cores, memory // WORKER_MEMORY))


@pytest.fixture
def x64():
    """Run the test body in float64 with strict dtype and rank promotion (docs/design.md)."""
    import jax

    import functional_training as ft

    with ft.float64(), jax.numpy_dtype_promotion("strict"), jax.numpy_rank_promotion("raise"):
        yield


@pytest.fixture
def unwritable_directory(tmp_path: Path) -> Callable[[], Path]:
    """A function returning a directory in which this process cannot create a file.

    For a normal user: ``tmp_path/locked`` with mode 0500. Root ignores
    permission bits, so there it is ``/sys`` (sysfs refuses new files even to
    root); where neither works the calling test is skipped. A function rather
    than a path so that a table-driven test skips only the rows that need one.
    """

    def make() -> Path:
        if os.geteuid() != 0:
            locked = tmp_path / "locked"
            locked.mkdir(mode=0o500, exist_ok=True)
            return locked
        if sys.platform.startswith("linux") and Path("/sys").is_dir():
            return Path("/sys")
        pytest.skip("running as root without a read-only directory to test against")

    return make
