"""functional_training/_models/linear.py: the lesson's model ``x @ w + b`` as a model kind.

Expected values: NumPy float64 ``x @ w + b`` at 1e-12 (float64, d multiply-adds per output),
and the documented seeded scheme drawn with NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest

from functional_training._models import linear
from functional_training._params import LinearParams


@pytest.mark.parametrize("features", [1, 3])
def test_the_kind_states_its_inputs_outputs_and_leaf_shapes(features):
    assert linear.inputs(features=features) == features
    assert linear.outputs(features=features) == 1
    assert linear.shapes(features=features) == {"w": () if features == 1 else (features,),
                                                "b": ()}


@pytest.mark.parametrize("features", [0, -1, 1.0, True])
def test_features_must_be_an_integer_of_at_least_one(features):
    with pytest.raises(ValueError, match="features must be an integer >= 1"):
        linear.shapes(features=features)


def test_forward_is_x_at_w_plus_b(x64):
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(5, 3)), rng.normal(size=3)
    params = linear.build({"w": w, "b": np.float64(0.25)})
    assert isinstance(params, LinearParams)
    np.testing.assert_allclose(linear.forward(features=3)(params, x), x @ w + 0.25,
                               rtol=1e-12, atol=1e-12)


def test_seeded_draws_w_uniform_over_sqrt_d_and_b_zero():
    values = linear.seeded(np.random.default_rng(7), features=4)
    expected = np.random.default_rng(7).uniform(-1.0, 1.0, size=4) / np.sqrt(4)
    np.testing.assert_array_equal(values["w"], expected)
    assert float(values["b"]) == 0.0
    assert np.ndim(linear.seeded(np.random.default_rng(7), features=1)["w"]) == 0
