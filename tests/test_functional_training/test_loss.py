"""The public API checks its arguments once, at the Python entry (issue 13, item 6).

``predict``, ``mean_loss``, ``loss_and_grad``, ``sgd_step`` and ``train`` raise a one-line
``TypeError``/``ValueError`` that names the argument, instead of a JAX error from deep
inside; the checks read only types, dtypes and shapes, so they run while tracing and
never per step of a compiled program.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functional_training as ft
from functional_training import _loss

P = ft.LinearParams(1.0, 0.0)
TEXT = ft.LinearParams("a", 0)

ROWS = [
    ("predict text w", lambda: ft.predict(TEXT, 2.0), TypeError,
     r"^predict: params\.w must be a real number or an array of them, got str 'a'$"),
    ("mean_loss text w", lambda: ft.mean_loss(TEXT, 2.0, 6.0), TypeError,
     r"^mean_loss: params\.w must be a real number"),
    ("loss_and_grad text w", lambda: ft.loss_and_grad(TEXT, 2.0, 6.0), TypeError,
     r"^loss_and_grad: params\.w must be a real number"),
    ("sgd_step text w", lambda: ft.sgd_step(TEXT, 2.0, 6.0, 0.1), TypeError,
     r"^sgd_step: params\.w must be a real number"),
    ("train text w", lambda: ft.train(TEXT, [2.0], [6.0], optimizer=0.1, steps=1), TypeError,
     r"^train: params\.w must be a real number"),
    ("predict text b", lambda: ft.predict(ft.LinearParams(1.0, "b"), 2.0), TypeError,
     r"^predict: params\.b must be a real number"),
    ("predict a tuple", lambda: ft.predict((1.0, 0.0), 2.0), TypeError,
     r"^predict: params must be LinearParams\(w, b\), got tuple \(1\.0, 0\.0\)$"),
    ("train a dict", lambda: ft.train({"w": 1.0, "b": 0.0}, [2.0], [6.0], optimizer=0.1,
                                      steps=1),
     TypeError, r"^train: params must be LinearParams\(w, b\), got dict"),
    ("predict text x", lambda: ft.predict(P, "x"), TypeError,
     r"^predict: x must be a real number or an array of them, got str 'x'$"),
    ("predict ragged x", lambda: ft.predict(P, [[1.0], [2.0, 3.0]]), TypeError,
     r"^predict: x must be a real number"),
    ("predict complex x", lambda: ft.predict(P, 1j), TypeError, r"^predict: x must be a real"),
    ("mean_loss text y", lambda: ft.mean_loss(P, 2.0, "six"), TypeError,
     r"^mean_loss: y must be a real number"),
    ("mean_loss y of another length", lambda: ft.mean_loss(P, [1.0, 2.0], [1.0, 2.0, 3.0]),
     ValueError, r"^mean_loss: y must have one target per example, shape \(2,\), got shape "
                 r"\(3,\)$"),
    ("mean_loss y as a column", lambda: ft.mean_loss(P, [1.0, 2.0], [[1.0], [2.0]]),
     ValueError, r"^mean_loss: y must have one target per example, shape \(2,\), got shape "
                 r"\(2, 1\)$"),
    ("predict features mismatch",
     lambda: ft.predict(ft.LinearParams([1.0, 2.0], 0.0), [[1.0, 2.0, 3.0]]), ValueError,
     r"^predict: x must have 2 features \(shape \(n, 2\)\) to match params\.w, got shape "
     r"\(1, 3\)$"),
    ("predict matrix w", lambda: ft.predict(ft.LinearParams(np.ones((2, 2)), 0.0), [1.0, 2.0]),
     ValueError, r"^predict: params\.w must be a scalar or of shape \(d,\), got shape \(2, 2\)$"),
    ("loss_and_grad integer params", lambda: ft.loss_and_grad(ft.LinearParams(1, 0), 2.0, 6.0),
     TypeError, r"^loss_and_grad: params\.w must be floating point \(jax\.grad takes no "
                r"integers\), got dtype int"),
    ("sgd_step text rate", lambda: ft.sgd_step(P, 2.0, 6.0, "fast"), TypeError,
     r"^sgd_step: learning_rate must be a real number or an array of them, got str 'fast'$"),
    ("sgd_step None rate", lambda: ft.sgd_step(P, 2.0, 6.0, None), TypeError,
     r"^sgd_step: learning_rate must be a real number"),
]


@pytest.mark.parametrize(("case", "call", "error", "message"), ROWS, ids=[r[0] for r in ROWS])
def test_bad_arguments_raise_one_line_naming_the_argument(case, call, error, message):
    with pytest.raises(error) as caught:
        call()
    text = str(caught.value)
    assert "\n" not in text and re.search(message, text), text


def test_good_arguments_work_as_before_eagerly_and_under_transformations():
    with ft.float64():
        new, loss, grads = ft.sgd_step(P, 2.0, 6.0, 0.1)
        assert (float(loss), float(grads.w), float(grads.b)) == (8.0, -8.0, -4.0)
        assert (float(new.w), float(new.b)) == (1.8, 0.4)
        assert float(ft.mean_loss(P, [1.0, 2.0], [1.0, 2.0])) == 0.0  # lists are arrays
        assert float(ft.predict(ft.LinearParams(np.array([1.0, 2.0]), 0.5),
                                np.array([[1.0, 1.0]]))[0]) == 3.5
        jitted = jax.jit(ft.sgd_step)(P, 2.0, 6.0, 0.1)
        assert float(jitted[1]) == 8.0
        rates = jnp.array([0.1, 0.2])
        many = jax.vmap(ft.sgd_step, in_axes=(None, None, None, 0))(P, 2.0, 6.0, rates)
        np.testing.assert_allclose(many[0].w, [1.8, 2.6])
        assert float(jax.grad(ft.mean_loss)(P, 2.0, 6.0).b) == -4.0
        check = ft.check_gradients(ft.mean_loss, P, 2.0, 6.0)
        assert check.max_error < 1e-6


def test_the_checks_run_at_the_python_entry_not_per_step(monkeypatch):
    calls = []
    original = _loss.check_params

    def counting(*args, **kwargs):
        calls.append(kwargs.get("where"))
        return original(*args, **kwargs)

    monkeypatch.setattr(_loss, "check_params", counting)
    monkeypatch.setattr("functional_training._train.check_params", counting)
    x, y = np.arange(7.0), 2 * np.arange(7.0) + 1  # a shape no other test compiles
    ft.train(P, x, y, optimizer=0.01, steps=500)
    # train's own check, then the step's loss_and_grad and the losses once each while tracing.
    assert calls[0] == "train" and len(calls) <= 6, calls
    calls.clear()
    ft.train(P, x, y, optimizer=0.02, steps=500)  # compiled already: only the entry check
    assert calls == ["train"]
