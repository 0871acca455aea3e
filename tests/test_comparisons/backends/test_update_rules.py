"""comparisons/backends/update_rules.py: the optimizers on Python floats, against closed forms.

Two steps with gradients -8 then -4 (the lesson's first dL/dw, then half of it), written out
by hand from the optax / torch.optim conventions the module documents; settings not named
here take the one optimizer table's defaults (``optimizer_hyperparameters``).
"""

from __future__ import annotations

import math

import pytest

from comparisons.backends.update_rules import apply_updates, ieee_div, update_rule
from functional_training import optimizer_hyperparameters

G1, G2, LR = -8.0, -4.0, 0.1


def _two_steps(name, **settings):
    rule = update_rule(name, learning_rate=LR, **{**optimizer_hyperparameters(name), **settings})
    params = {"w": 1.0}
    state = rule.init(params)
    moves = []
    for g in (G1, G2):
        updates, state = rule.update({"w": g}, state, params)
        params = apply_updates(params, updates)
        moves.append(updates["w"])
    return moves


def test_sgd_moves_by_minus_lr_g():
    assert _two_steps("sgd") == [-LR * G1, -LR * G2]


def test_momentum_keeps_a_trace_of_past_gradients():
    # v_1 = g_1, v_2 = g_2 + mu v_1; the update is -lr v
    first, second = _two_steps("momentum", momentum=0.9)
    assert first == pytest.approx(-LR * G1, rel=1e-15)
    assert second == pytest.approx(-LR * (G2 + 0.9 * G1), rel=1e-15)


def test_adam_first_step_is_lr_in_the_sign_of_minus_g_then_bias_corrected():
    b1, b2 = 0.9, 0.999
    first, second = _two_steps("adam", b1=b1, b2=b2, eps=0.0)
    assert first == pytest.approx(LR, rel=1e-15)
    m = b1 * (1 - b1) * G1 + (1 - b1) * G2
    v = b2 * (1 - b2) * G1**2 + (1 - b2) * G2**2
    assert second == pytest.approx(-LR * (m / (1 - b1**2)) / math.sqrt(v / (1 - b2**2)), rel=1e-14)


def test_settings_must_be_exactly_the_optimizers():
    with pytest.raises(TypeError, match="^optimizer 'sgd' takes weight_decay besides "
                                        "learning_rate, got momentum$"):
        update_rule("sgd", learning_rate=LR, momentum=0.9)


def test_ieee_division_and_untouched_parameters():
    assert ieee_div(1.0, 0.0) == math.inf and ieee_div(-2.0, 0.0) == -math.inf
    assert ieee_div(1.0, -0.0) == -math.inf and math.isnan(ieee_div(0.0, 0.0))
    assert apply_updates({"w": 1.0, "b": 2.0}, {"w": 0.5}) == {"w": 1.5, "b": 2.0}
