"""comparisons.dtype_hint: a float32 loop checked at float64 gets one line suggesting
``--dtype float32``; a float64 loop, right or wrong, never does."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import functional_training as ft
from comparisons.check import check
from comparisons.dtype_hint import float32_hint, is_float32, looks_float32
from comparisons.experiments import REGISTRY

EXPERIMENT = REGISTRY["mini-batch"]  # the line, SGD, batches of 2 over 10 shipments


def _torch_loop(dtype: torch.dtype, *, rate_factor: float = 1.0) -> dict:
    """A user's loop as PyTorch users write it (torch's default float32 unless asked):
    nn.Linear, 0.5 * MSE, torch.optim.SGD; values recorded with ``.item()``."""
    e = EXPERIMENT
    data = torch.tensor(e.train, dtype=dtype)
    x, y = data[:, :1], data[:, 1]
    model = torch.nn.Linear(1, 1, dtype=dtype)
    with torch.no_grad():
        model.weight.fill_(e.init["w"])
        model.bias.fill_(e.init["b"])
    opt = torch.optim.SGD(model.parameters(), lr=e.hyperparams["learning_rate"] * rate_factor)
    params = {"w": [model.weight.item()], "b": [model.bias.item()]}
    grads, losses = {"w": [], "b": []}, []
    for rows in ft.minibatch_indices(len(e.train), batch_size=e.batch_size, steps=e.steps,
                                     seed=e.seed):
        opt.zero_grad()
        loss = 0.5 * torch.nn.functional.mse_loss(model(x[rows])[:, 0], y[rows])
        loss.backward()
        losses.append(loss.item())
        grads["w"].append(model.weight.grad.item())
        grads["b"].append(model.bias.grad.item())
        opt.step()
        params["w"].append(model.weight.item())
        params["b"].append(model.bias.item())
    return {"params": params, "grads": grads, "batch_loss": losses}


def _scaled(trajectory: dict, factor: float) -> dict:
    """Every value times ``factor`` (in float64: no longer float32 numbers)."""
    def scale(series):
        return [v * factor for v in series]
    return {"params": {n: scale(s) for n, s in trajectory["params"].items()},
            "grads": {n: scale(s) for n, s in trajectory["grads"].items()},
            "batch_loss": scale(trajectory["batch_loss"])}


def test_a_float32_loop_checked_at_float64_gets_the_hint():
    loop = _torch_loop(torch.float32)
    verdict = check(EXPERIMENT, loop, diagnosis=False)
    assert not verdict.agree and verdict.first_mismatch.step == 0
    assert verdict.hint == ("hint: every value you supplied is a float32 number: your loop "
                            "looks float32; check it with --dtype float32")
    assert verdict.lines()[-1] == verdict.hint
    assert json.loads(json.dumps(verdict.to_json()))["hint"] == verdict.hint
    assert f"- {verdict.hint}" in verdict.markdown()
    # as suggested: agrees at float32, no hint
    at32 = check(EXPERIMENT, loop, dtype="float32", diagnosis=False)
    assert at32.agree and at32.hint is None and at32.to_json()["hint"] is None


def test_float32_values_carried_through_float64_arithmetic_get_the_hint_too():
    """Not float32 numbers any more (times 1 + 1e-12 in float64), but within float32's
    tolerance of the reference: the second sign."""
    loop = _scaled(_torch_loop(torch.float32), 1.0 + 1e-12)
    assert not looks_float32(v for s in loop["params"].values() for v in s)
    verdict = check(EXPERIMENT, loop, diagnosis=False)
    assert not verdict.agree
    assert verdict.hint is not None and "agrees with the reference at float32's tolerance" \
        in verdict.hint


@pytest.mark.parametrize("loop", [
    pytest.param(lambda: _torch_loop(torch.float64), id="float64 loop, right"),
    pytest.param(lambda: _torch_loop(torch.float64, rate_factor=2.0), id="float64 loop, bug"),
    pytest.param(lambda: _scaled(_torch_loop(torch.float64), 1.0 + 1e-11),
                 id="float64 loop, last bits off"),
    pytest.param(lambda: _torch_loop(torch.float32, rate_factor=2.0), id="float32 loop, bug"),
])
def test_no_hint_where_float32_is_not_the_story(loop):
    values = loop()
    verdict = check(EXPERIMENT, values, diagnosis=False)
    at32 = check(EXPERIMENT, values, dtype="float32", diagnosis=False)
    if verdict.agree or not looks_float32(v for s in values["params"].values() for v in s):
        assert verdict.hint is None
    else:  # a float32 loop with a bug: the hint, and the bug still shows at float32
        assert verdict.hint is not None and not at32.agree
    assert at32.hint is None


def test_short_binary_fractions_are_no_evidence():
    """1.0, 0.5, 8.0 are float32 numbers in every precision: they never trigger the hint."""
    assert is_float32(0.5) and not is_float32(0.1)
    assert float32_hint([1.0, 0.5, 8.0, -4.0], dtype="float64", agree=False,
                        agrees_at_float32=lambda: False, first_relative_diff=0.5) is None
    assert float32_hint([float(np.float32(0.1))] * 3, dtype="float32", agree=False,
                        agrees_at_float32=lambda: True, first_relative_diff=1e-7) is None
