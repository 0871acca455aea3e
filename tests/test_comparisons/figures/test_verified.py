"""Verified runs (comparisons.figures.verified): nothing is drawn from trajectories that disagree.
"""

from __future__ import annotations

import dataclasses

import pytest

from comparisons import figures
from comparisons.backends import BACKEND_NAMES
from comparisons.compare import compare_trajectories
from comparisons.experiments import REGISTRY
from comparisons.figures import verified
from comparisons.figures.optimizers import PATH_RUNS


def test_rendering_refuses_trajectories_that_disagree(monkeypatch, tmp_path):
    real = verified.run_and_compare

    def one_backend_off(experiment, *, backends=None):
        trajectories, _ = real(experiment, backends=("manual", "engine"))
        if experiment.name == "full-batch":
            engine = trajectories["engine"]
            off = [*engine.train_loss[:-1], engine.train_loss[-1] + 1e-6]
            trajectories["engine"] = dataclasses.replace(engine, train_loss=off)
        return trajectories, compare_trajectories(experiment, trajectories)

    monkeypatch.setattr(verified, "run_and_compare", one_backend_off)
    out = tmp_path / "out"
    with pytest.raises(figures.UnverifiedTrajectoryError) as caught:
        figures.render_all(out)
    message = str(caught.value)
    assert "\n" not in message
    assert "full-batch: engine differs from manual at step 20, train_loss" in message
    assert not out.exists()  # nothing written, not even the directory


def test_a_figures_own_value_off_the_verified_one_is_refused_in_one_line():
    verified.require_close("demo", "the loss", 8.0, 8.0 * (1 + 1e-13), 1e-12)  # within
    with pytest.raises(figures.UnverifiedTrajectoryError) as caught:
        verified.require_close("demo", "the loss", 8.0, 8.001, 1e-12)
    assert str(caught.value) == ("refusing to draw demo: the loss is 8.001 but the verified "
                                 "value is 8.0 (tolerance 1e-12)")


def test_verified_runs_keep_each_experiment_once_and_the_backends_all_share():
    runs = verified.verify_runs(["five-steps", "five-steps"], backends=("manual", "jax"))
    assert list(runs.runs) == ["five-steps"] and runs.reference == "manual"
    assert runs.backends == ("manual", "jax") and runs.tolerance > 0
    assert runs.ref("five-steps") is runs.runs["five-steps"]["manual"]


def test_a_figures_own_experiment_is_verified_under_its_name_beside_registry_names():
    own = PATH_RUNS[0]  # a figure-only experiment, not in the registry
    runs = verified.verify_runs(["five-steps", own, own], backends=("manual", "jax"))
    assert list(runs.runs) == ["five-steps", own.name]
    assert runs.ref(own.name).params["w[0]"][0] == own.init["w[0]"]


def test_the_moons_network_is_verified_at_full_size_on_every_backend(trajectories):
    # The figures' verification is the full-size every-backend check of mlp/moons (the
    # engine's backend tests run it shortened): course_run asserts each verdict agrees
    # (within tolerance("float64", steps) of manual); here, that every backend ran all of it.
    experiment = REGISTRY["mlp/moons"]
    runs = trajectories("mlp/moons")
    assert list(runs) == list(BACKEND_NAMES)
    for backend, run in runs.items():
        assert run.steps == experiment.steps, backend
        assert len(run.predictions[0]) == len(experiment.train) * experiment.outputs, backend
