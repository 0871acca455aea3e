"""Shared fixtures: float64 JAX and strict dtype promotion for the JAX tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def x64():
    """Run the test body in float64 with strict dtype promotion (DESIGN.md precision policy)."""
    import jax

    import functional_training as ft

    with ft.float64(), jax.numpy_dtype_promotion("strict"):
        yield
