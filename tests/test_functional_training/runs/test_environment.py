"""functional_training/runs/_environment.py: package versions and source digest recorded."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import numpy as np
import pytest

from functional_training import runs


def test_package_versions_come_from_installed_metadata():
    versions = runs.package_versions()
    assert versions["jax"] == importlib.metadata.version("jax")
    assert versions["numpy"] == np.__version__
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))


@pytest.mark.slow
def test_package_versions_do_not_import_torch():
    code = (
        "import sys; from functional_training import runs as m; m.package_versions(); "
        "m.source_digest(); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_source_digest_changes_with_the_sources(tmp_path, monkeypatch):
    package = tmp_path / "fake_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = runs.source_digest(["fake_pkg"])
    (package / "__init__.py").write_text("x = 2\n")
    assert runs.source_digest(["fake_pkg"]) != before
    assert runs.is_digest(runs.source_digest(["no_such_package_here"]))


# ----------------------------------------------------------------------------- validation
