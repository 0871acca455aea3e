"""Classifier grids (comparisons.figures.grids): outputs checked against JAX, accuracy exactly.

A grid whose JAX outputs disagree with the hand-written forward, or predictions
whose share of right answers is not the recorded accuracy, are refused.
"""

from __future__ import annotations

import dataclasses

import pytest

import functional_training as ft
from comparisons import figures
from comparisons.experiments import REGISTRY
from comparisons.figures import grids, verified


def test_grid_ends_are_round_and_cover_the_examples():
    assert grids.grid_bounds([-1.13, 2.09]) == (-1.5, 2.5)  # unit 0.5 (span 3.2), 2% pad
    assert grids.grid_bounds([3.0, 3.0]) == (2.0, 4.0)  # no span: one unit either side
    xs, ys = grids.grid_axes([[0.0, 0.0], [4.0, 1.0]], 8)
    assert (xs[0], xs[-1], ys[0], ys[-1]) == (-0.5, 4.5, -0.5, 1.5)
    assert (len(xs) - 1, len(ys) - 1) == (8, 4)  # y: round(8 * 2 / 5) = 3, raised to 4
    assert grids.class_values(REGISTRY["logistic/late-shipments"]) == [0.0, 1.0]


def test_a_jax_grid_that_disagrees_with_the_hand_written_forward_is_refused(monkeypatch):
    real = ft.Objective.outputs

    def nudged(self, params, x):
        return real(self, params, x) * (1.0 + 1e-9)

    monkeypatch.setattr(ft.Objective, "outputs", nudged)
    with pytest.raises(figures.UnverifiedTrajectoryError) as caught:
        figures.figure_data(backends=("manual",), only=("logistic-boundary",))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("refusing to draw logistic-boundary: the JAX objective's output")


def test_predictions_that_miss_the_recorded_accuracy_are_refused(monkeypatch):
    real = verified.run_and_compare

    def flipped_accuracy(experiment, *, backends=None):
        trajectories, verdict = real(experiment, backends=backends)
        manual = trajectories["manual"]
        accuracy = [*manual.extras["train_accuracy"][:-1], 1.0]
        trajectories["manual"] = dataclasses.replace(
            manual, extras={**manual.extras, "train_accuracy": accuracy})
        return trajectories, verdict

    monkeypatch.setattr(verified, "run_and_compare", flipped_accuracy)
    with pytest.raises(figures.UnverifiedTrajectoryError,
                       match=r"logistic-boundary: 0\.833.* verified train_accuracy is 1\.0"):
        figures.figure_data(backends=("manual",), only=("logistic-boundary",))
