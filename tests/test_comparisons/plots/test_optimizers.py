"""comparisons/plots/_optimizers.py: the quadratic's surface, the panels' limits, the drawing."""

from __future__ import annotations

import matplotlib
import numpy as np

import functional_training as ft
from comparisons import figure_style as style
from comparisons import plots
from comparisons.plots._optimizers import RATE_SOURCES, path_limits

# float64 policy (functional_training.tolerance): a few-flop quadratic form, a few ulps apart.
TOL64 = ft.tolerance("float64", 0)


def test_the_surface_is_half_the_hessian_quadratic_form():
    w1, w2 = np.meshgrid(np.linspace(-5, 2, 8), np.linspace(-3, 3, 7))
    d2l = 0.1 * w1**2 + 2 * w2**2  # d2l's f(x) = 0.1 x1^2 + 2 x2^2
    np.testing.assert_allclose(plots.quadratic_surface(w1, w2, [0.2, 4.0]), d2l,
                               rtol=TOL64, atol=TOL64)


def test_the_limits_hold_every_path_and_the_minimum_with_room():
    runs = [{"w1": [-5.0, -1.0], "w2": [-2.0, 1.5]}, {"w1": [-5.0, 1.8], "w2": [-2.0, 0.2]}]
    (lo1, hi1), (lo2, hi2) = path_limits(runs)
    assert (lo1, hi1) == (-5.5, 2.3) and (lo2, hi2) == (-2.5, 2.5)
    assert path_limits([{"w1": [-2.0, -1.0], "w2": [0.5]}])[0] == (-2.5, 0.5)  # 0 inside


def test_schedules_draw_one_line_per_schedule_and_name_each_rate_source():
    with matplotlib.rc_context(style.STYLE):
        fig = style.new_figure()
        axes = list(fig.subplots(1, 3).flat)
        schedules = [{"name": name, "optax": "constant_schedule", "torch": "StepLR",
                      "rates": {"manual": [0.3, 0.2], "jax": [0.3, 0.2]}}
                     for name in ("constant", "staircase")]
        plots.plot_schedules(axes[:2], schedules=schedules, reference="manual", steps=2,
                             legend_ax=axes[2])
    staircase = fig.findobj(lambda a: a.get_gid() == "line staircase")[0]
    assert staircase.get_drawstyle() == "steps-post"
    labels = [t.get_text() for t in axes[2].get_legend().get_texts()]
    assert labels == [f"manual: {RATE_SOURCES['manual']}", f"jax: {RATE_SOURCES['jax']}"]
    assert axes[0].get_ylim()[0] == 0.0
