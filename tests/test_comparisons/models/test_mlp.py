"""comparisons/models/mlp.py: the mlp kind on Python floats, against the tests' NumPy MLP.

One example through a 2-3-2 network: the forward pass against ``numpy_mlp_forward``, the
hand-written backpropagation against ``numpy_mlp``'s first gradients (half squared error on
one example: ``dL/doutput = output - target``), at 1e-12 (float64, a few dozen flops).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy_reference import mlp_layers, numpy_mlp, numpy_mlp_forward

import functional_training as ft
from comparisons.models import mlp

SIZES = (2, 3, 2)
X = (0.4, -1.3)


@pytest.fixture(scope="module")
def values():
    return ft.initial_values("mlp", init="seeded", seed=3, sizes=SIZES)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_forward_and_backward_match_numpy(values, activation):
    layers = mlp_layers(values, SIZES)
    expected = numpy_mlp_forward(layers, np.array([X]), activation=activation)[0][-1][0]
    out = mlp.manual_predict(values, X, sizes=SIZES, activation=activation)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    target = [0.5, -0.5]
    signal = [o - t for o, t in zip(out, target, strict=True)]
    grads = mlp.manual_gradients(values, X, signal, sizes=SIZES, activation=activation)
    # numpy_mlp's first step on this one example: its slope of the half squared error is
    # (s - t) / n with n = 1, the same signal; its gradients by the project's names
    [reference] = numpy_mlp(layers, [X], [target], activation=activation,
                            loss="half-squared-error", l2=0.0, rates=[0.0])["grads"]
    named = {}
    for n, (gw, gb) in enumerate(reference):
        named.update({f"layers.{n}.w[{r},{c}]": gw[r, c] for r, c in np.ndindex(gw.shape)})
        named.update({f"layers.{n}.b[{c}]": gb[c] for c in range(gb.size)})
    assert list(grads) == list(ft.parameter_names("mlp", sizes=list(SIZES)))
    assert set(grads) == set(named)
    for name, value in grads.items():
        np.testing.assert_allclose(value, named[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_a_wrong_signal_width_is_one_line(values):
    with pytest.raises(ValueError, match="^mlp: error_signal has 3 values; the model has 2 "
                                         "outputs$"):
        mlp.manual_gradients(values, X, [0.0, 0.0, 0.0], sizes=SIZES)


def test_hidden_activations_and_bias_leaves():
    assert mlp.hidden_activations(sizes=[2, 4, 4, 1], activation="relu") == ("relu",)
    assert mlp.hidden_activations(sizes=[2, 1]) == ()
    assert mlp.bias_leaves(sizes=[2, 4, 4, 1]) == ("layers.0.b", "layers.1.b", "layers.2.b")
