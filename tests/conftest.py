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


SHARED_FIXTURE_DIRECTORIES = ("test_comparisons/figures",)
"""Test directories whose files share a costly session fixture (the course figures' verified
data, about 50 s of CPU): under ``--dist loadfile`` all their files go to one worker, so the
fixture is computed once per run instead of once per worker."""


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadfile``, with each of :data:`SHARED_FIXTURE_DIRECTORIES` one unit of work.

    (xdist 3.8 with pytest 9 ignores ``xdist_group`` marks under ``--dist loadgroup``, so
    the grouping is done here, by the scheduler that hands files to workers.)
    """
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling  # only called when xdist runs this session

    here = Path(__file__).parent.relative_to(config.rootpath).as_posix()
    shared = tuple(f"{here}/{directory}/" for directory in SHARED_FIXTURE_DIRECTORIES)

    class SharedFixtureScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return next((prefix for prefix in shared if nodeid.startswith(prefix)),
                        super()._split_scope(nodeid))

    return SharedFixtureScheduling(config, log)


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
