"""A model kind added inside a test runs everywhere: the proof that kinds describe themselves.

The throwaway kind ``poly`` is polynomial features of one input, degree ``p``:

    prediction = sum_{j=1..p} w_j x^j + b

with parameters ``w`` of shape ``(p,)`` (names ``w[0]`` .. ``w[p-1]``, ``w[j-1]``
the coefficient of ``x^j``) and the scalar ``b``. It is registered as the
docs/design.md recipe says (the core description in
:data:`functional_training.MODEL_KINDS`, the backends' pieces in
:data:`comparisons.models.MODELS`) with ``monkeypatch.setitem``, so nothing is
left behind, and is run through ``train``, ``sweep``, every backend of
``comparisons``, ``check``, the spec reader, and the bad-input paths (wrong
data width: one line; exit 2 from the CLI).

Expected values come from a NumPy float64 loop written here (plain SGD on the
mean half squared error, gradients by the chain rule by hand). Tolerance: rtol
1e-12, because both sides compute the same float64 sums in possibly different
orders (a few ulps per step over a handful of steps; 1e-12 is ~5,000 ulps, far
below any real mistake such as a missing power, which moves values by > 1e-3).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
import pytest
from cli_helpers import assert_refused, run_cli

import comparisons
import comparisons.models
import functional_training as ft
from comparisons.experiments import Experiment
from functional_training import MODEL_KINDS, ModelKind

RTOL = 1e-12  # same float64 maths, sums possibly reordered: see the module docstring
DEGREE = 3
ROWS = ((-1.0, 0.5), (-0.5, -0.25), (0.0, 0.1), (0.5, 0.8), (1.0, 2.0), (0.25, 0.3))
INIT = {"w[0]": 0.2, "w[1]": -0.1, "w[2]": 0.05, "b": 0.0}
RATE = 0.3
STEPS = 4


# --- the kind's core module (what functional_training/_models/poly.py would be) ---------


class PolyParams(NamedTuple):
    """``w``: ``(p,)`` coefficients of ``x, x^2, ..., x^p``; ``b``: the bias."""

    w: Any
    b: Any


def _degree(degree) -> int:
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
        raise ValueError(f"poly: degree must be an integer >= 1, got {degree!r}")
    return degree


def _shapes(*, degree):
    return {"w": (_degree(degree),), "b": ()}


def _build(leaves):
    return PolyParams(leaves["w"], leaves["b"])


def _seeded(rng, *, degree):
    return {"w": rng.uniform(-1.0, 1.0, size=_degree(degree)) / degree, "b": np.asarray(0.0)}


def _forward(*, degree):
    _degree(degree)

    def apply(params, x):
        x = jnp.asarray(x)
        x = x[:, 0] if x.ndim == 2 else x
        powers = jnp.stack([x ** j for j in range(1, degree + 1)], axis=1)
        return powers @ params.w + params.b

    return apply


POLY = ModelKind("poly", "sum_j w_j x^j + b (one input, degree p)", _shapes, _build, _seeded,
                 _forward, ("degree",), lambda *, degree: 1 + 0 * _degree(degree),
                 lambda *, degree: 1 + 0 * _degree(degree))


# --- the kind's backend pieces (what comparisons/models/poly.py would be) ---------------


def _one_input(x) -> float:
    if len(x) != 1:
        raise ValueError(f"poly: an example has {len(x)} features; the model takes 1")
    return x[0]


def _manual_predict(params, x, *, degree):
    x0 = _one_input(x)
    total = params["w[0]"] * x0
    for j in range(2, degree + 1):
        total = total + params[f"w[{j - 1}]"] * x0 ** j
    return total + params["b"]


def _manual_gradients(params, x, g, *, degree):
    x0 = _one_input(x)
    grads = {f"w[{j - 1}]": g * x0 ** j for j in range(1, degree + 1)}
    grads["b"] = g
    return grads


def _engine_predict(leaves, x, *, degree):
    x0 = _one_input(x)
    total = leaves["w[0]"] * x0
    for j in range(2, degree + 1):
        total = total + leaves[f"w[{j - 1}]"] * x0 ** j
    return total + leaves["b"]


def _torch_module(torch, *, dtype, degree):
    class Poly(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(degree, dtype=dtype))
            self.b = torch.nn.Parameter(torch.zeros(1, dtype=dtype))

        def forward(self, x):
            powers = torch.cat([x ** j for j in range(1, degree + 1)], dim=1)
            return (powers @ self.w + self.b)[:, None]

    return Poly()


POLY_PIECES = SimpleNamespace(
    __name__="poly pieces",
    manual_predict=_manual_predict,
    manual_gradients=_manual_gradients,
    engine_predict=_engine_predict,
    torch_module=_torch_module,
    torch_parameters=lambda module: {
        **{f"w[{j}]": (module.w, (j,)) for j in range(module.w.shape[0])},
        "b": (module.b, (0,))},
    torch_leaves=lambda module: {"w": module.w, "b": module.b},
)


@pytest.fixture
def poly(monkeypatch):
    """``poly`` registered in both tables for this test only (the recipe's two lines)."""
    monkeypatch.setitem(MODEL_KINDS, "poly", POLY)
    monkeypatch.setitem(comparisons.models.MODELS, "poly", POLY_PIECES)
    return POLY


# --- the independent reference ----------------------------------------------------------


def numpy_sgd(init: dict[str, float], rows=ROWS, *, rate=RATE, steps=STEPS, degree=DEGREE):
    """Full-batch SGD on ``mean 0.5 (f(x) - y)^2`` in float64: parameters before every step.

    ``dL/dw_j = mean (f - y) x^j`` and ``dL/db = mean (f - y)``.
    """
    data = np.asarray(rows, dtype=np.float64)
    x, y = data[:, 0], data[:, 1]
    powers = np.stack([x ** j for j in range(1, degree + 1)], axis=1)
    w = np.array([init[f"w[{j}]"] for j in range(degree)], dtype=np.float64)
    b = float(init["b"])
    history = []
    for _ in range(steps):
        history.append({**{f"w[{j}]": w[j] for j in range(degree)}, "b": b})
        error = powers @ w + b - y
        w = w - rate * (powers.T @ error) / len(y)
        b = b - rate * float(np.mean(error))
    history.append({**{f"w[{j}]": w[j] for j in range(degree)}, "b": b})
    return history


def experiment(rows=ROWS, **changes) -> Experiment:
    fields = dict(name="poly/cubic", description="cubic features of one input", train=rows,
                  init=INIT, optimizer="sgd", hyperparams={"learning_rate": RATE},
                  steps=STEPS, trainable=("w", "b"), model="poly",
                  model_settings={"degree": DEGREE})
    return Experiment(**{**fields, **changes})


SPEC = f"""
name = "poly-cubic"
[data]
train = {[list(row) for row in ROWS]}
[model]
kind = "poly"
degree = {DEGREE}
w = [0.2, -0.1, 0.05]
b = 0.0
[optimizer]
name = "sgd"
learning_rate = {RATE}
[run]
steps = {STEPS}
"""


# --- the kind describes itself ----------------------------------------------------------


def test_the_kind_states_its_names_widths_and_initial_values(poly):
    assert ft.parameter_names("poly", degree=3) == ("w[0]", "w[1]", "w[2]", "b")
    assert ft.model_kind("poly").inputs(degree=3) == 1
    assert ft.model_kind("poly").outputs(degree=3) == 1
    values = ft.initial_values("poly", init="seeded", seed=4, degree=2)
    expected = np.random.default_rng(4).uniform(-1.0, 1.0, size=2) / 2
    np.testing.assert_array_equal([values["w[0]"], values["w[1]"]], expected)  # same draw


def test_nothing_is_left_registered_after_a_test():
    assert "poly" not in MODEL_KINDS
    assert "poly" not in comparisons.models.MODELS


# --- train and sweep --------------------------------------------------------------------


def test_train_with_the_kind_matches_numpy(poly):
    expected = numpy_sgd(INIT)
    x = np.asarray([row[0] for row in ROWS])[:, None]
    y = np.asarray([row[1] for row in ROWS])
    with ft.float64():
        params = ft.params_from_values("poly", INIT, degree=DEGREE)
        trajectory = ft.train(params, x, y, optimizer=RATE, steps=STEPS,
                              objective=ft.objective("poly", degree=DEGREE))
    got = ft.named_series(trajectory.params)
    for name in INIT:
        np.testing.assert_allclose(got[name], [step[name] for step in expected], rtol=RTOL,
                                   atol=0.0)


def test_sweep_with_the_kind_matches_numpy(poly):
    rates = [0.1, RATE]
    x = np.asarray([row[0] for row in ROWS])[:, None]
    y = np.asarray([row[1] for row in ROWS])
    with ft.float64():
        result = ft.sweep(ft.objective("poly", degree=DEGREE), (x, y), learning_rates=rates,
                          steps=STEPS, initial_params=INIT)
    for r, rate in enumerate(rates):
        final = numpy_sgd(INIT, rate=rate)[-1]
        np.testing.assert_allclose(result.final_params.w[r, 0], [final[f"w[{j}]"]
                                                                 for j in range(DEGREE)],
                                   rtol=RTOL, atol=0.0)
        np.testing.assert_allclose(result.final_params.b[r, 0], final["b"], rtol=RTOL, atol=1e-15)


def test_train_refuses_data_of_the_wrong_width_in_one_line(poly):
    x = np.ones((3, 2))
    with ft.float64(), pytest.raises(ValueError) as caught:
        ft.train(ft.params_from_values("poly", INIT, degree=DEGREE), x, np.ones(3),
                 optimizer=RATE, steps=1, objective=ft.objective("poly", degree=DEGREE))
    assert "\n" not in str(caught.value)
    assert "takes 1 feature" in str(caught.value)


# --- comparisons: every backend, check, spec files --------------------------------------


def test_every_backend_runs_the_kind_and_agrees_with_numpy(poly):
    trajectories, verdict = comparisons.run_and_compare(
        experiment(), backends=["manual", "engine", "torch", "jax"])
    assert verdict.agree, verdict.first_mismatch
    assert not verdict.unavailable
    expected = numpy_sgd(INIT)
    for name, trajectory in trajectories.items():
        for k, step in enumerate(expected):
            for parameter, value in step.items():
                assert math.isclose(trajectory.params[parameter][k], value, rel_tol=RTOL,
                                    abs_tol=1e-15), (name, k, parameter)


def test_check_accepts_the_kinds_own_trajectory(poly):
    trajectories, _ = comparisons.run_and_compare(experiment(), backends=["manual", "jax"])
    verdict = comparisons.check(experiment(), comparisons.Trajectory.from_record(
        trajectories["jax"]))
    assert verdict.agree, verdict.first_mismatch


def test_a_spec_file_describes_the_kind(poly):
    spec = comparisons.parse_spec(SPEC)
    assert spec.model == "poly" and spec.model_settings == {"degree": DEGREE}
    assert spec.init == INIT
    assert spec.train == ROWS
    assert comparisons.parse_spec(comparisons.dump_spec(spec)) == spec


def test_a_spec_refuses_data_of_the_wrong_width_in_one_line(poly):
    wide = SPEC.replace(f"train = {[list(row) for row in ROWS]}",
                        "train = [[1.0, 2.0, 3.0], [0.5, 1.0, 2.0]]")
    with pytest.raises(comparisons.SpecError) as caught:
        comparisons.parse_spec(wide)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("[data].train: ") and "takes 1" in message, message


def test_the_backends_refuse_data_of_the_wrong_width_in_one_line(poly):
    wide = experiment(rows=((1.0, 2.0, 3.0), (0.5, 1.0, 2.0)))
    with pytest.raises(ValueError) as caught:
        comparisons.run_and_compare(wide, backends=["manual"])
    assert "\n" not in str(caught.value)
    assert "feature" in str(caught.value), caught.value


def test_the_cli_refuses_a_spec_of_the_wrong_width_with_exit_2(poly, capsys, tmp_path):
    path = tmp_path / "wide.toml"
    path.write_text(SPEC.replace(f"train = {[list(row) for row in ROWS]}",
                                 "train = [[1.0, 2.0, 3.0], [0.5, 1.0, 2.0]]"))
    code, out, err = run_cli(capsys, "comparisons", "run", "--spec", path)
    assert_refused(code, out, err, r"\[data\]\.train: .*takes 1")


def test_the_cli_runs_the_kinds_spec_on_every_backend(poly, capsys, tmp_path):
    path = tmp_path / "poly.toml"
    path.write_text(SPEC)
    args = [arg for name in ("manual", "engine", "torch", "jax") for arg in ("--backend", name)]
    code, out, err = run_cli(capsys, "comparisons", "run", "--spec", path, *args)
    assert code == 0, err
    assert "poly-cubic" in out
