"""comparisons/plots/_landscape.py: contour levels, colour-bar ticks, the two slices drawn."""

from __future__ import annotations

import math

import matplotlib
import numpy as np

from comparisons import figure_style as style
from comparisons import plots
from comparisons.plots._landscape import _colorbar_ticks


def test_levels_are_log_spaced_from_the_lowest_to_the_highest_loss():
    levels = plots.log_levels(0.0215, 1.88, 16)
    assert levels[0] == 0.0215 and levels[-1] == 1.88 and len(levels) == 16
    ratios = np.diff(np.log10(levels))
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)  # 12 digits kept per level


def test_colorbar_ticks_are_round_values_inside_the_range():
    assert _colorbar_ticks(0.0215, 0.09) == [0.03, 0.05]
    assert all(0.0215 <= t <= 1.88 for t in _colorbar_ticks(0.0215, 1.88))
    assert 1.0 in _colorbar_ticks(0.0215, 1.88)


def test_both_slices_draw_the_path_on_the_grid():
    axis = [-1.0, 0.0, 1.0]
    loss = [[1.0 + a * a + b * b for a in axis] for b in axis]
    part = {"span": 1.0, "alphas": axis, "betas": axis, "loss": loss}
    with matplotlib.rc_context(style.STYLE):
        fig = style.new_figure()
        axes = list(fig.subplots(1, 2))
        plots.plot_loss_landscape(axes, wide=part, zoom=part, path_alpha=[0.5, 0.0],
                                  path_beta=[-0.5, 0.0], path_loss=[2.0, 1.0])
    for ax in axes:
        assert ax.get_xlim() == (-1.0, 1.0) and ax.get_aspect() == 1.0
    paths = fig.findobj(lambda a: (a.get_gid() or "").startswith("path "))
    assert len(paths) == 2 and all(list(p.get_ydata()) == [-0.5, 0.0] for p in paths)
    texts = [t.get_text() for t in axes[1].texts]
    assert texts == ["start: loss 2", "θ*: loss 1"] and len(axes[0].texts) == 0
    assert math.isclose(plots.log_levels(1.0, 3.0, 2)[-1], 3.0)
