"""The sweep's estimate of work and memory: each term against a hand count, the refusal."""

from __future__ import annotations

import numpy as np
import pytest

import functional_training as ft
import functional_training._sweep_cost as cost_module
from functional_training._messages import size_text
from functional_training._sweep_cost import (
    SweepCost,
    check_sweep_memory,
    physical_memory,
    sweep_cost,
)


def test_the_terms_of_an_mlp_adam_sweep_by_hand():
    net = ft.objective("mlp", loss="hinge", sizes=[2, 16, 16, 1], activation="tanh")
    cost = sweep_cost(net, examples=200, batch=32, runs=30, steps=1000, record_every=10,
                      optimizer="adam", itemsize=4)
    parameters = 2 * 16 + 16 + 16 * 16 + 16 + 16 * 1 + 1  # 337
    assert cost.parameters == parameters
    # adam keeps mu and nu (one value each per parameter) and a step count
    assert cost.state_bytes == 30 * (2 * parameters + 2 * parameters + 1) * 4
    assert cost.record_bytes == 30 * (1000 // 10 + 1) * 4
    widths = 16 + 16 + 16 + 16 + 1 + 1  # the last dimension of every leaf
    assert cost.activation_bytes == 3 * 30 * 32 * widths * 4
    assert cost.data_bytes == 200 * 3 * 4
    assert cost.example_steps == 30 * 1000 * 32


def test_a_sweep_over_memory_is_refused_before_anything_is_allocated():
    huge = SweepCost(runs=10**6, steps=10, batch=6, parameters=10**4, state_bytes=8 * 10**10,
                     record_bytes=0, activation_bytes=0, data_bytes=0)
    with pytest.raises(ValueError, match=r"^the sweep needs about 75 GiB \(1,000,000 runs "):
        check_sweep_memory(huge, limit=2**34)
    check_sweep_memory(huge, limit=10**11)  # fits: no error


def test_the_api_refuses_the_same_sweep_in_one_line(monkeypatch):
    monkeypatch.setattr(cost_module, "physical_memory", lambda: 2**20)  # a 1 MiB machine
    x, y = ft.two_moons(20, noise=0.1, seed=0)
    net = ft.objective("mlp", loss="hinge", sizes=[2, 16, 1], activation="tanh")
    with pytest.raises(ValueError, match=r"more than the 1\.0 MiB of memory here"):
        ft.sweep(net, (x, y), learning_rates=[0.1] * 100, seeds=list(range(10)), steps=10)


def test_physical_memory_and_sizes():
    memory = physical_memory()
    assert memory is None or memory > 2**26
    assert [size_text(s) for s in (0, 1023, 1024, 5 * 2**20, 3 * 2**40)] == [
        "0 B", "1023 B", "1.0 KiB", "5.0 MiB", "3072 GiB"]


def test_a_hyperparameter_axis_is_counted_in_the_runs_and_the_state():
    line = ft.objective("linear", features=3)  # 4 parameters
    fixed = sweep_cost(line, examples=10, batch=10, runs=6, steps=10, record_every=1,
                       optimizer="momentum", hyperparameters={"momentum": 0.9}, itemsize=8)
    # 2 rates x 3 momenta: runs = 6, each keeps its trace (4 values) plus its rate and beta
    swept = sweep_cost(line, examples=10, batch=10, runs=6, steps=10, record_every=1,
                       optimizer="momentum", hyperparameters={"momentum": [0.5, 0.9, 0.99]},
                       itemsize=8)
    assert fixed.state_bytes == 6 * (2 * 4 + 4) * 8
    assert swept.state_bytes == 6 * (2 * 4 + 4 + 2) * 8
    x, y = np.zeros((10, 3)), np.zeros(10)
    seen = []

    def stop(cost):  # called before anything compiles: the estimate is all this test needs
        seen.append(cost)
        raise InterruptedError

    with pytest.raises(InterruptedError):
        ft.sweep(line, (x, y), learning_rates=[0.1, 0.2], seeds=[0], optimizer="momentum",
                 hyperparameters={"momentum": [0.5, 0.9, 0.99]}, steps=1, on_cost=stop)
    assert seen[0].runs == 6 and seen[0].state_bytes == 6 * (2 * 4 + 4 + 2) * 4


def test_the_optimizer_state_is_counted_per_optimizer_whatever_type_the_settings_have():
    # The count is remembered per (optimizer, shapes, settings): each optimizer keeps its own
    # count, and NumPy scalars (0-d arrays too, which cannot be hashed) are accepted.
    line = ft.objective("linear", features=1)  # P = 2 parameters

    def optimizer_values(optimizer, **settings):
        cost = sweep_cost(line, examples=3, batch=3, runs=1, steps=1, record_every=1,
                          optimizer=optimizer, hyperparameters=settings, itemsize=8)
        return cost.state_bytes // 8 - 2 * cost.parameters

    for momentum in (0.9, np.float32(0.9), np.asarray(0.9)):
        assert optimizer_values("momentum", momentum=momentum) == 2  # a velocity per parameter
    assert optimizer_values("adam") == 2 * 2 + 1  # mu, nu and the step count
    assert optimizer_values("sgd") == 0  # plain SGD keeps nothing
