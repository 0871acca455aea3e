"""functional_training/_models/mlp.py: the mlp kind's forward pass, names, seeded scheme, checks.

Expected values: the tests' NumPy float64 forward pass (``numpy_reference``) at 1e-12
(float64, a few dozen flops per output), and the documented seeded scheme drawn with NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy_reference import mlp_layers, numpy_mlp_forward

import functional_training as ft
from functional_training._models import mlp


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("sizes", [[2, 16, 16, 1], [1, 8, 1], [2, 5, 3]])
def test_mlp_forward_matches_numpy(x64, activation, sizes):
    values = ft.initial_values("mlp", init="seeded", seed=7, sizes=sizes)
    params = ft.params_from_values("mlp", values, sizes=sizes)
    x = np.random.default_rng(0).normal(size=(6, sizes[0]))
    got = ft.model_kind("mlp").forward(sizes=sizes, activation=activation)(params, x)
    out = numpy_mlp_forward(mlp_layers(values, sizes), x, activation=activation)[0][-1]
    np.testing.assert_allclose(got, out[:, 0] if out.shape[1] == 1 else out, rtol=1e-12,
                               atol=1e-12)


def test_mlp_names_and_seeded_scheme():
    names = ft.parameter_names("mlp", sizes=[2, 3, 1])
    assert names[:3] == ("layers.0.w[0,0]", "layers.0.w[0,1]", "layers.0.w[0,2]")
    assert names[-4:] == ("layers.1.w[0,0]", "layers.1.w[1,0]", "layers.1.w[2,0]", "layers.1.b[0]")
    rng = np.random.default_rng(5)
    w0 = rng.uniform(-1, 1, size=(2, 3)) / np.sqrt(2)
    w1 = rng.uniform(-1, 1, size=(3, 1)) / np.sqrt(3)
    values = ft.initial_values("mlp", init="seeded", seed=5, sizes=[2, 3, 1])
    assert values["layers.0.w[1,2]"] == w0[1, 2] and values["layers.1.w[2,0]"] == w1[2, 0]
    assert values["layers.0.b[0]"] == 0.0


@pytest.mark.parametrize("config, message", [
    ({"sizes": [2]}, "sizes must list at least [d, k]"),
    ({"sizes": [2, 0, 1]}, "sizes must be integers >= 1"),
    ({"sizes": [2, 1], "activation": "gelu"}, "unknown activation 'gelu'"),
])
def test_bad_mlp_configurations_are_one_line(config, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ft.parameter_names("mlp", **config)


def test_the_kind_states_its_inputs_outputs_and_leaf_shapes():
    assert mlp.inputs(sizes=[3, 5, 2]) == 3 and mlp.outputs(sizes=[3, 5, 2]) == 2
    assert mlp.shapes(sizes=[3, 5, 2]) == {"layers.0.w": (3, 5), "layers.0.b": (5,),
                                           "layers.1.w": (5, 2), "layers.1.b": (2,)}
