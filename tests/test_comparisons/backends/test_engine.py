"""comparisons/backends/engine.py: the scalar-autograd backend at the registry's full size.

``test_backends.py`` runs the engine on the first 16 examples for 10 steps of the two
registry experiments where it is slow (``ENGINE_SHORTENED``), and ``test_compare.py``
leaves them out of its every-backend verdicts. The full size is what ``python -m
comparisons all`` (the README's first command) verifies, so it is asserted here,
in-process, with the verdict that command prints: ``run_and_compare`` on every backend,
every recorded value within ``functional_training.tolerance("float64", steps)`` of the
manual backend's (independent float64 implementations agree to a few ulps per step).
"""

from __future__ import annotations

import pytest

from comparisons.backends import BACKEND_NAMES
from comparisons.compare import run_and_compare
from comparisons.experiments import REGISTRY

FULL_SIZE = ("multi-feature/d2l", "mlp/moons")
"""d2l: 1,000 examples, 300 steps of 10; moons: 100 examples through a 2-16-16-1 network,
100 full-batch steps (the engine: about 40 s each on one idle core)."""


@pytest.mark.parametrize("name", FULL_SIZE)
def test_every_backend_agrees_with_the_engine_at_full_size(name):
    experiment = REGISTRY[name]
    trajectories, verdict = run_and_compare(experiment)
    assert list(trajectories) == list(BACKEND_NAMES) and verdict.unavailable == {}
    assert verdict.agree, verdict.describe()
    engine = trajectories["engine"]
    assert engine.steps == experiment.steps
    assert len(engine.predictions[0]) == len(experiment.train) * experiment.outputs
