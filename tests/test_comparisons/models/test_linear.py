"""comparisons/models/linear.py: the lesson's line on Python floats and on the scalar engine.

Expected values: ``x @ w + b`` and its gradient ``(g x, g)`` in NumPy float64 at 1e-12.
"""

from __future__ import annotations

import numpy as np

from comparisons.engine import Value
from comparisons.models import linear


def test_one_feature_is_the_lessons_line():
    assert linear.manual_predict({"w": 1.0, "b": 0.0}, (2.0,)) == 2.0  # the lesson's first
    assert linear.manual_gradients({"w": 1.0, "b": 0.0}, (2.0,), -4.0) == {"w": -8.0, "b": -4.0}


def test_several_features_match_numpy():
    rng = np.random.default_rng(1)
    w, x, b = rng.normal(size=3), rng.normal(size=3), 0.7
    params = {**{f"w[{i}]": float(v) for i, v in enumerate(w)}, "b": b}
    assert set(linear.manual_gradients(params, tuple(x), 1.0)) == set(params)
    np.testing.assert_allclose(linear.manual_predict(params, tuple(x)), x @ w + b, rtol=1e-12)
    grads = linear.manual_gradients(params, tuple(x), 0.25)
    np.testing.assert_allclose([grads[f"w[{i}]"] for i in range(3)], 0.25 * x, rtol=1e-15)
    engine = linear.engine_predict({k: Value(v) for k, v in params.items()}, tuple(x))
    assert engine.data == linear.manual_predict(params, tuple(x))  # the same sum, same order


def test_no_hidden_layer_and_one_bias():
    assert linear.hidden_activations() == () and linear.bias_leaves() == ("b",)
