"""comparisons/plots/_classifiers.py: the parameter groups and class margins it computes."""

from __future__ import annotations

import numpy as np

from comparisons import plots


def test_parameter_groups_and_margins_are_plain_functions():
    groups = plots.parameter_groups(["layers.0.w[0,0]", "layers.0.w[1,0]", "layers.0.b[0]"])
    assert groups == {"layers.0.w": ["layers.0.w[0,0]", "layers.0.w[1,0]"],
                      "layers.0.b": ["layers.0.b[0]"]}
    logits = np.array([[[3.0, 1.0, 2.0], [0.0, 0.0, 5.0]]])
    m = plots.margins(logits, scores=False)
    assert m.shape == (3, 1, 2)
    assert m[:, 0, 0].tolist() == [1.0, -2.0, -1.0] and m[:, 0, 1].tolist() == [-5.0, -5.0, 5.0]
