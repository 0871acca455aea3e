"""Bad input to the ``functional_training`` API: one table, one-line errors naming the argument.

Every row asserts the exception type and a one-line message matching the row's
regex. The command-line front door's bad input is in
``tests/test_cli/test_bad_input_functional_training.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from cli_helpers import assert_raises_one_line

import functional_training as ft
from functional_training.runs import check_output_path

P = ft.LinearParams(1.0, 0.0)


def _gradient_check_in_float32():
    return ft.check_gradients(ft.mean_loss, P, 2.0, 6.0)  # float64 not enabled


def _gradient_check_with_float32_leaves():
    import jax.numpy as jnp

    with ft.float64():
        params = ft.LinearParams(jnp.float32(1.0), jnp.float32(0.0))
        return ft.check_gradients(ft.mean_loss, params, 2.0, 6.0)


API_ROWS: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("train x/y length mismatch", lambda: ft.train(P, [1.0, 2.0, 3.0], [1.0, 2.0],
                                                   optimizer=0.1, steps=1),
     ValueError, r"^train data: x has 3 examples but y has 2$"),
    ("train ragged pairs", lambda: ft.train(P, [[1.0, 2.0], [3.0]], [1.0, 2.0], optimizer=0.1,
                                            steps=1),
     ValueError, r"^train data is ragged: "),
    ("train empty data", lambda: ft.train(P, [], [], optimizer=0.1, steps=1), ValueError,
     r"^train data is empty$"),
    ("train non-finite data", lambda: ft.train(P, [1.0, math.nan], [1.0, 2.0], optimizer=0.1,
                                               steps=1),
     ValueError, r"^train data: x contains non-finite values$"),
    ("train text data", lambda: ft.train(P, ["a", "b"], [1.0, 2.0], optimizer=0.1, steps=1),
     TypeError, r"^train data: x must be numbers, got dtype <U1$"),
    ("train validation feature count",
     lambda: ft.train(ft.LinearParams(np.zeros(2), 0.0), np.ones((3, 2)), np.ones(3),
                      optimizer=0.1, steps=1, x_val=np.ones((2, 3)), y_val=np.ones(2)),
     ValueError, r"^validation data has \(3,\) feature\(s\) per example but train data has "
                 r"\(2,\)$"),
    ("train validation half given", lambda: ft.train(P, [2.0], [6.0], optimizer=0.1, steps=1,
                                                     x_val=[1.0]),
     ValueError, r"^validation data needs both x_val and y_val$"),
    ("train rate 0", lambda: ft.train(P, [2.0], [6.0], optimizer=0.0, steps=1), ValueError,
     r"^learning_rate must be finite and > 0, got 0\.0$"),
    ("train rate nan", lambda: ft.train(P, [2.0], [6.0], optimizer=math.nan, steps=1),
     ValueError, r"^learning_rate must be finite and > 0, got nan$"),
    ("train steps 0", lambda: ft.train(P, [2.0], [6.0], optimizer=0.1, steps=0), ValueError,
     r"^steps must be an integer > 0, got 0$"),
    ("train steps float", lambda: ft.train(P, [2.0], [6.0], optimizer=0.1, steps=2.0),
     ValueError, r"^steps must be an integer > 0, got 2\.0$"),
    ("make_optimizer unknown optimizer", lambda: ft.make_optimizer("rmsprop", learning_rate=0.1),
     ValueError, r"^unknown optimizer 'rmsprop'; expected one of sgd, momentum, nesterov, "
                 r"adam, adamw$"),
    ("make_optimizer takes no momentum",
     lambda: ft.make_optimizer("sgd", learning_rate=0.1, momentum=0.9), TypeError,
     r"^optimizer 'sgd' does not take momentum; it takes learning_rate, weight_decay$"),
    ("make_optimizer rate inf", lambda: ft.make_optimizer("adam", learning_rate=math.inf),
     ValueError, r"^learning_rate must be finite and > 0, got inf$"),
    ("minibatch_indices batch 0",
     lambda: ft.minibatch_indices(3, batch_size=0, steps=2, seed=0), ValueError,
     r"^batch_size must be an integer >= 1, got 0$"),
    ("minibatch_indices batch > N",
     lambda: ft.minibatch_indices(3, batch_size=4, steps=2, seed=0), ValueError,
     r"^batch size 4 is larger than the data set \(3 examples\)$"),
    ("sweep empty rates", lambda: ft.sweep_learning_rates(P, [2.0], [6.0], [], steps=2),
     ValueError, r"^learning_rates must be a non-empty 1-D array"),
    ("sweep negative rate", lambda: ft.sweep_learning_rates(P, [2.0], [6.0], [-0.1], steps=2),
     ValueError, r"^learning_rates must all be finite and > 0$"),
    ("sweep hyperparameter not taken",
     lambda: ft.sweep_learning_rates(P, [2.0], [6.0], [0.1], steps=2, hyperparams={"b1": 0.9}),
     TypeError, r"^optimizer 'sgd' does not take b1; it takes learning_rate, weight_decay$"),
    ("check_gradients without float64", _gradient_check_in_float32, ValueError,
     r"^check_gradients needs float64 \(finite differences in float32 are noise-dominated\)"),
    ("check_gradients float32 leaves", _gradient_check_with_float32_leaves, ValueError,
     r"^check_gradients needs float64 params, got a float32 leaf$"),
    ("check_output_path missing directory",
     lambda: check_output_path("/no/such/dir/r.json", option="--json"), ValueError,
     r"^--json: directory /no/such/dir does not exist$"),
]


@pytest.mark.parametrize(("case", "call", "error", "message"), API_ROWS,
                         ids=[row[0] for row in API_ROWS])
def test_bad_api_input_raises_with_one_line_naming_the_argument(case, call, error, message):
    assert_raises_one_line(call, error, message)


def test_float32_gradient_check_refusal_does_not_leak_float64():
    import jax

    with pytest.raises(ValueError):
        _gradient_check_with_float32_leaves()
    assert not jax.config.jax_enable_x64  # the context manager restored it


def test_the_table_rows_are_unique():
    ids = [row[0] for row in API_ROWS]
    assert len(ids) == len(set(ids))
