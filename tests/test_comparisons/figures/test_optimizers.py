"""The optimizer figures (comparisons.figures.optimizers): paths on the quadratic, the schedules.

Expected values come from an independent NumPy float64 simulation of each
optimizer on ``0.1 w_1^2 + 2 w_2^2`` (written from the update formulas), from
the schedules' closed forms written here, and from the trajectories
``run_and_compare`` returned (the ``trajectories`` fixture). The figures' data
is the session's ``data`` fixture (every course figure, verified once).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import functional_training as ft
from comparisons.figures.optimizers import (
    OPTIMIZER_FIGURES,
    PATH_RUNS,
    SCHEDULE_RUNS,
    SCHEDULE_STEPS,
    TORCH_SCHEDULERS,
    TUNING_GRID,
    quadratic_hessian,
)

from .drawn import by_gid, draw

# float64 policy (functional_training.tolerance): 20 steps of a few flops each, computed in
# another order by NumPy, differ by a few ulps per step; a wrong formula shows at 1e-3.
TOL64 = ft.tolerance("float64", 20)
D2L_HESSIAN = (0.2, 4.0)  # d2l's f = 0.1 x1^2 + 2 x2^2 = 1/2 x^T diag(0.2, 4) x


def simulate(optimizer: str, hyperparams: dict, steps: int) -> np.ndarray:
    """``(w_1, w_2)`` before each of ``steps`` full-batch updates and after the last, in NumPy.

    The update rules from their definitions (torch's and optax's, see docs/conventions.md):
    momentum ``v = mu v + g; w -= lr v``; Nesterov ``w -= lr (g + mu v)`` with the new ``v``;
    Adam bias-corrected, ``eps`` outside the square root.
    """
    h = np.array(D2L_HESSIAN)
    w, v, m, s = np.array([-5.0, -2.0]), np.zeros(2), np.zeros(2), np.zeros(2)
    lr = hyperparams["learning_rate"]
    path = [w]
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, steps + 1):
            g = h * w
            if optimizer == "sgd":
                w = w - lr * g
            elif optimizer in ("momentum", "nesterov"):
                v = hyperparams["momentum"] * v + g
                w = w - lr * (v if optimizer == "momentum" else g + hyperparams["momentum"] * v)
            else:
                b1, b2, eps = hyperparams["b1"], hyperparams["b2"], hyperparams["eps"]
                m, s = b1 * m + (1 - b1) * g, b2 * s + (1 - b2) * g * g
                w = w - lr * (m / (1 - b1**k)) / (np.sqrt(s / (1 - b2**k)) + eps)
            path.append(w)
    return np.array(path)


def final_loss(path: np.ndarray) -> float:
    value = 0.5 * float(np.sum(np.array(D2L_HESSIAN) * path[-1] ** 2))
    return value if math.isfinite(value) else math.inf


def test_the_designed_rows_make_d2ls_quadratic():
    for run in (*PATH_RUNS, *SCHEDULE_RUNS):
        x = np.array([row[:2] for row in run.train])
        assert np.all(x.mean(axis=0) == 0.0) and all(row[2] == 0.0 for row in run.train)
        assert (x[:, 0] * x[:, 1] == 0.0).all()  # uncorrelated features: H is diagonal
        np.testing.assert_allclose(quadratic_hessian(run), D2L_HESSIAN, rtol=1e-15)
        assert run.trainable == ("w",) and run.init == {"w[0]": -5.0, "w[1]": -2.0, "b": 0.0}


@pytest.mark.parametrize("run", PATH_RUNS, ids=lambda r: r.optimizer)
def test_each_rate_is_the_best_of_the_tuning_grid(run):
    losses = {rate: final_loss(simulate(run.optimizer, {**run.hyperparams,
                                                        "learning_rate": rate}, run.steps))
              for rate in TUNING_GRID}
    assert min(losses, key=losses.get) == run.hyperparams["learning_rate"]
    assert TUNING_GRID[0] == 0.05 and TUNING_GRID[-1] == 1.0 and len(TUNING_GRID) == 20


def test_paths_are_the_verified_runs_and_the_numpy_simulation(data, trajectories):
    figure = data["figures"]["optimizer-paths"]
    assert [r["optimizer"] for r in figure["runs"]] == ["sgd", "momentum", "nesterov", "adam"]
    for run, experiment in zip(figure["runs"], PATH_RUNS, strict=True):
        runs = trajectories(experiment.name)
        assert set(runs) == set(data["backends"]) and len(runs) == 4
        reference = runs["manual"]
        assert run["w1"] == reference.params["w[0]"] and run["w2"] == reference.params["w[1]"]
        assert run["loss"] == reference.train_loss
        assert set(reference.params["b"]) == {0.0}  # the bias is frozen: the path is 2-D
        path = simulate(experiment.optimizer, experiment.hyperparams, experiment.steps)
        np.testing.assert_allclose(np.column_stack([run["w1"], run["w2"]]), path,
                                   rtol=TOL64, atol=TOL64)
    sgd, momentum = figure["runs"][0], figure["runs"][1]
    assert momentum["loss"][-1] < 1e-3 * sgd["loss"][-1]  # the lesson: momentum helps


def test_optimizer_paths_draws_each_path_and_states_the_rates(data):
    figure = data["figures"]["optimizer-paths"]
    fig = draw("optimizer-paths", data)
    for run in figure["runs"]:
        line = by_gid(fig, f"path {run['optimizer']}")
        assert list(line.get_xdata()) == run["w1"] and list(line.get_ydata()) == run["w2"]
    row = OPTIMIZER_FIGURES[0]
    caption = row.caption(figure, data)
    for run in figure["runs"]:
        assert f"{run['label']} (lr = {run['hyperparams']['learning_rate']:g}" in caption
    assert "best of 0.05, 0.1, …, 1 after 20 steps" in caption


def closed_form(schedule: dict, k: int) -> float:
    """The schedule's rate at step ``k``, from its definition (optax's documentation)."""
    kind = schedule["kind"]
    if kind == "constant":
        return schedule["value"]
    init = schedule["init_value"]
    if kind == "linear":
        fraction = min(max(k - schedule["transition_begin"], 0) / schedule["transition_steps"],
                       1.0)
        return init + (schedule["end_value"] - init) * fraction
    if kind == "cosine":
        t = min(k, schedule["decay_steps"]) / schedule["decay_steps"]
        return init * ((1 - schedule["alpha"]) * 0.5 * (1 + math.cos(math.pi * t))
                       + schedule["alpha"])
    power = k / schedule["transition_steps"]
    return init * schedule["decay_rate"] ** (math.floor(power) if schedule.get("staircase")
                                             else power)


def test_schedules_are_the_five_kinds_every_backend_records_alike(data, trajectories):
    figure = data["figures"]["schedules"]
    names = [s["name"] for s in figure["schedules"]]
    assert names == ["constant", "linear", "cosine", "exponential", "staircase"]
    assert {s["kind"] for s in figure["schedules"]} == set(ft.SCHEDULES)
    for schedule, experiment in zip(figure["schedules"], SCHEDULE_RUNS, strict=True):
        runs = trajectories(experiment.name)
        assert set(schedule["rates"]) == set(runs) and len(runs) == 4
        expected = [closed_form(experiment.schedule, k) for k in range(SCHEDULE_STEPS)]
        for backend, rates in schedule["rates"].items():
            assert rates == runs[backend].extras["learning_rate"]
            # float64 policy: a closed form and torch's recursive products over 40 steps
            # differ by a few ulps; 1e-12 is the verification tolerance.
            np.testing.assert_allclose(rates, expected, rtol=1e-12, atol=1e-12,
                                       err_msg=f"{schedule['name']} {backend}")


def test_schedules_name_the_torch_scheduler_the_backend_builds():
    torch = pytest.importorskip("torch")
    from comparisons.backends import torch_backend

    for experiment in SCHEDULE_RUNS:
        table = dict(experiment.schedule)
        kind = table.pop("kind")
        settings = {"kind": kind, **ft.check_schedule(kind, table)}
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        scheduler = torch_backend._scheduler(torch, optimizer, settings)
        parts = [] if scheduler is None else [
            type(s).__name__ for s in getattr(scheduler, "_schedulers", [scheduler])]
        name = experiment.name.split("/")[1]
        described = TORCH_SCHEDULERS[name].replace(" (holding 1)", "")
        assert (", then ".join(parts) or described) == described


def test_schedules_draws_every_backends_rates_on_the_reference_line(data):
    figure = data["figures"]["schedules"]
    fig = draw("schedules", data)
    for schedule in figure["schedules"]:
        line = by_gid(fig, f"line {schedule['name']}")
        assert list(line.get_ydata()) == schedule["rates"][figure["reference"]]
        for backend, rates in schedule["rates"].items():
            assert list(by_gid(fig, f"{backend} {schedule['name']}").get_ydata()) == rates
    caption = OPTIMIZER_FIGURES[1].caption(figure, data)
    assert "torch: StepLR" in caption and "optax.cosine_decay_schedule" in caption
