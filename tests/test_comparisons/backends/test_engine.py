"""comparisons/backends/engine.py: the scalar-autograd backend at the registry's full size.

``test_backends.py`` runs the engine on the first 16 examples for 10 steps of the two
registry experiments where it is slow (``ENGINE_SHORTENED``), and ``test_compare.py``
leaves them out of its every-backend verdicts. The full size is what ``python -m
comparisons all`` (the README's first command) verifies, so it is asserted here,
in-process, with the verdict that command prints: ``run_and_compare`` on every backend,
every recorded value within ``functional_training.tolerance("float64", steps)`` of the
manual backend's (independent float64 implementations agree to a few ulps per step).
``mlp/moons`` at full size is asserted the same way by the course figures' verified runs
(``test_comparisons/figures/conftest.py``, checked in ``figures/test_verified.py``),
which the figures draw from, so it is not run a second time here.
"""

from __future__ import annotations

import pytest

from comparisons.backends import BACKEND_NAMES
from comparisons.compare import run_and_compare
from comparisons.experiments import REGISTRY

FULL_SIZE = ("multi-feature/d2l",)
"""d2l: 1,000 examples, 300 steps of 10 (the engine: about 40 s on one idle core)."""


@pytest.mark.parametrize("name", FULL_SIZE)
def test_every_backend_agrees_with_the_engine_at_full_size(name):
    experiment = REGISTRY[name]
    trajectories, verdict = run_and_compare(experiment)
    assert list(trajectories) == list(BACKEND_NAMES) and verdict.unavailable == {}
    assert verdict.agree, verdict.describe()
    engine = trajectories["engine"]
    assert engine.steps == experiment.steps
    assert len(engine.predictions[0]) == len(experiment.train) * experiment.outputs
