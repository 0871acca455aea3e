"""comparisons/backends/jax_backend.py: the lesson's single update, against its closed form
(tests/single_update.py)."""

from __future__ import annotations

import pytest
from single_update import assert_single_update

from comparisons.backends import jax_backend


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_single_update_is_the_closed_form(dtype):
    assert_single_update(jax_backend.run, dtype)
