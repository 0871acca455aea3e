"""Learning-rate figures: loss per step, (w, b) paths over the loss surface, the rate sweep."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator

from comparisons import figure_style as style
from comparisons.least_squares import least_squares_line

RATE_COLORS = (style.SLOW, style.GOOD, style.UNSTABLE)
"""Colours of the lesson's rates in increasing order: too small, useful, too large."""


def rate_color(index: int) -> str:
    """Colour of the ``index``-th smallest rate (palette colours beyond the lesson's three)."""
    if index < len(RATE_COLORS):
        return RATE_COLORS[index]
    extra = [c for c in style.OKABE_ITO.values() if c not in RATE_COLORS and c != "#000000"]
    return extra[(index - len(RATE_COLORS)) % len(extra)]


def plot_learning_rates(
    ax: Axes, *, runs: Sequence[Mapping], reference: str
) -> None:
    """Loss after k updates for each learning rate, every backend overlaid (log-scale loss).

    One line per rate, drawn through the reference backend's values; every
    backend's values on top as its own marker (:data:`figure_style.BACKEND_MARKERS`),
    so agreeing backends show as nested markers on each point.

    Args:
      ax: the Axes to draw on.
      runs: one mapping per rate, increasing: ``{"learning_rate": r, "losses":
        {backend: [L(theta_0), ..., L(theta_S)]}}``.
      reference: the backend whose values the lines follow.
    """
    rate_handles, backend_handles = [], {}
    for i, run in enumerate(runs):
        color = rate_color(i)
        losses = run["losses"]
        steps = np.arange(len(losses[reference]))
        rate = run["learning_rate"]
        (line,) = ax.plot(steps, losses[reference], color=color, zorder=2,
                          label=f"lr = {rate:g}", gid=f"line lr={rate}")
        rate_handles.append(line)
        for j, (backend, values) in enumerate(losses.items()):
            marker = style.backend_marker(backend, j)
            ax.plot(steps, values, linestyle="none", color=color, zorder=3,
                    gid=f"{backend} lr={rate}", **marker)
            backend_handles.setdefault(
                backend, Line2D([], [], linestyle="none", color="black", label=backend, **marker)
            )
    ax.set_yscale("log")
    ax.set_xlabel("SGD updates taken, k")
    ax.set_ylabel("loss after k updates (h²)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    rates_legend = ax.legend(handles=rate_handles, title="learning rate", loc="upper left")
    ax.add_artist(rates_legend)
    ax.legend(handles=list(backend_handles.values()), title="backend", loc="lower left", ncols=2)


def loss_surface(
    w: np.ndarray, b: np.ndarray, x: Sequence[float], y: Sequence[float]
) -> np.ndarray:
    """Mean half squared error ``L(w, b) = mean_i 0.5 (w x_i + b - y_i)^2`` on a grid.

    Example:
      >>> loss_surface(np.array([1.0, 3.0]), np.array([0.0, 0.0]), [2.0], [6.0])
      array([8., 0.])
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    errors = np.multiply.outer(w, x) + b[..., None] - y
    return np.mean(0.5 * errors**2, axis=-1)


def describe_run(losses: Sequence[float]) -> str:
    """One word on what a run did: grows, settles, or creeps (from its first and last loss).

    Example:
      >>> describe_run([8.0, 18.0]), describe_run([8.0, 0.03]), describe_run([8.0, 5.3])
      ('overshoots', 'settles', 'creeps')
    """
    first, last = losses[0], losses[-1]
    if not math.isfinite(last) or last > first:
        return "overshoots"
    if last < 0.01 * first:
        return "settles"
    return "creeps"


def _limits(w: np.ndarray, b: np.ndarray, ratio: float) -> tuple[tuple, tuple]:
    """Axis limits around the path, padded, with height / width = ``ratio`` in data units."""
    span = max(np.ptp(w), np.ptp(b), 1.0)
    pad = 0.25 * span
    w_lo, w_hi = w.min() - pad, w.max() + pad
    b_lo, b_hi = b.min() - pad, b.max() + pad
    width, height = w_hi - w_lo, b_hi - b_lo
    if height < ratio * width:
        extra = (ratio * width - height) / 2
        b_lo, b_hi = b_lo - extra, b_hi + extra
    else:
        extra = (height / ratio - width) / 2
        w_lo, w_hi = w_lo - extra, w_hi + extra
    return (w_lo, w_hi), (b_lo, b_hi)


def _valley_visible(x: Sequence[float], y: Sequence[float], w_lim, b_lim) -> bool:
    """Whether the zero-loss line (one example) or the least-squares fit lies inside the limits."""
    if len(x) == 1:
        b_at = sorted(y[0] - x[0] * v for v in w_lim)
        return b_at[1] >= b_lim[0] and b_at[0] <= b_lim[1]
    w_star, b_star = least_squares_line(x, y)
    return bool(w_lim[0] <= w_star <= w_lim[1] and b_lim[0] <= b_star <= b_lim[1])


_LABEL_SIZE = (30.0, 14.0)
"""A step label's box in points (``k=5`` at 10.5 pt on its backing, rounded up)."""


_LABEL_CLEARANCE = 4.0
"""Points kept free between a label and any other label or marker (no crowding)."""


def _step_labels(
    ax: Axes, w: np.ndarray, b: np.ndarray, w_lim, b_lim, ratio: float
) -> list[tuple[int, float, float]]:
    """Which steps get a label, and where: ``(k, dx, dy)``, the label's centre in offset points.

    ``k = 0`` and the last step first, then the others in order; each label
    goes across the path from its point (at right angles to the path there,
    on one side, failing that on the other), so it sits nearest its own point
    and clear of the arrows, wherever it overlaps no earlier label and no
    marker; a label with room on neither side is left out. Sizes are in
    points, from the panel's width in the figure before layout (the layout
    only widens it), so the rule is deterministic.
    """
    fig_w, fig_h = (72.0 * v for v in ax.figure.get_size_inches())
    cell = ax.get_position()
    width_pt = min(cell.width * fig_w, cell.height * fig_h / ratio)
    scale = width_pt / (w_lim[1] - w_lim[0])  # points per data unit, the same on both axes
    px, py = (w - w_lim[0]) * scale, (b - b_lim[0]) * scale
    radius = [7.0] + [4.0] * (len(px) - 1)  # the start marker is larger
    boxes = [(x - r, y - r, x + r, y + r) for x, y, r in zip(px, py, radius, strict=True)]
    half_w, half_h = (v / 2 for v in _LABEL_SIZE)
    placed = []
    last = len(w) - 1
    for k in dict.fromkeys((0, last, *range(1, last))):
        before, after = max(k - 1, 0), min(k + 1, last)
        tx, ty = px[after] - px[before], py[after] - py[before]
        norm = math.hypot(tx, ty) or 1.0
        nx, ny = ty / norm, -tx / norm  # right of the direction of travel
        # The first and last steps are always labelled, touching markers if they must.
        clear = 0.0 if k in (0, last) else _LABEL_CLEARANCE
        options = []
        for side in (1.0, -1.0):
            ux, uy = side * nx, side * ny
            reach = min(half_w / abs(ux) if ux else math.inf, half_h / abs(uy) if uy else math.inf)
            dx, dy = ux * (radius[k] + 2.0 + reach), uy * (radius[k] + 2.0 + reach)
            box = (px[k] + dx - half_w, py[k] + dy - half_h, px[k] + dx + half_w,
                   py[k] + dy + half_h)
            free = not any(box[0] < o[2] + clear and o[0] < box[2] + clear
                           and box[1] < o[3] + clear and o[1] < box[3] + clear
                           for i, o in enumerate(boxes) if i != k)  # not its own marker
            options.append((not free, box, dx, dy))
        if not options[0][0] or not options[1][0] or k in (0, last):
            _, box, dx, dy = min(options, key=lambda o: o[0])  # the first free side
            boxes.append(box)
            placed.append((k, dx, dy))
    return placed


def plot_lr_trajectory(
    ax: Axes, *, learning_rate: float, w: Sequence[float], b: Sequence[float],
    x: Sequence[float], y: Sequence[float], losses: Sequence[float], color: str,
    ratio: float = 1.6,
) -> None:
    """One rate's (w, b) path drawn over the contours of the loss surface.

    Filled contours are equally spaced in prediction error (the loss is
    ``0.5 * error^2``); the dashed line is the valley floor where the loss is
    0 (one example) or the cross marks the least-squares fit (several); axes
    have equal scales so the gradient is drawn at right angles to the
    contours. Each update is a straight arrow from theta_k to theta_k+1;
    ``k = 0``, the last step and any other step whose label has room are numbered.

    Args:
      ax: the Axes to draw on.
      learning_rate: the run's rate (for the title).
      w, b: parameters before each update, ``S + 1`` values each.
      x, y: the training data the loss surface is computed from.
      losses: the run's loss after each update (for the title's verdict).
      color: the rate's colour.
      ratio: height / width of the panel in data units.
    """
    w, b = np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)
    w_lim, b_lim = _limits(w, b, ratio)
    grid_w, grid_b = np.meshgrid(np.linspace(*w_lim, 81), np.linspace(*b_lim, 81))
    surface = loss_surface(grid_w, grid_b, x, y)
    levels = 0.5 * np.linspace(0.0, float(np.sqrt(2.0 * surface.max())), 12) ** 2
    ax.contourf(grid_w, grid_b, surface, levels=levels, cmap="cividis_r", alpha=0.5)
    ax.contour(grid_w, grid_b, surface, levels=levels[1:], colors="white", linewidths=0.7)
    if len(x) == 1:  # one example: zero loss on the whole line w x + b = y
        ax.plot(w_lim, [y[0] - x[0] * v for v in w_lim], color=style.MUTED, linewidth=1.6,
                linestyle="dashed", zorder=2, gid=f"valley lr={learning_rate}")
    else:
        w_star, b_star = least_squares_line(x, y)
        ax.plot([w_star], [b_star], marker="X", markersize=12, color=style.MUTED, zorder=2,
                gid=f"valley lr={learning_rate}")
    ax.plot(w, b, linestyle="none", color=color, marker="o", markersize=7, zorder=4,
            gid=f"path lr={learning_rate}")
    for k in range(len(w) - 1):  # an SGD update is a straight step from theta_k to theta_k+1
        ax.annotate("", xy=(w[k + 1], b[k + 1]), xytext=(w[k], b[k]), zorder=3,
                    gid=f"step {k} lr={learning_rate}",
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.6,
                                "shrinkA": 4, "shrinkB": 4, "mutation_scale": 13})
    for k, dx, dy in _step_labels(ax, w, b, w_lim, b_lim, ratio):
        ax.annotate(f"k={k}", xy=(w[k], b[k]), xytext=(dx, dy), textcoords="offset points",
                    ha="center", va="center", fontsize=10.5, zorder=6,
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none",
                          "alpha": 0.75}, gid=f"label k={k} lr={learning_rate}")
    ax.plot(w[:1], b[:1], linestyle="none", marker="o", markersize=11, color="black",
            markerfacecolor="white", markeredgewidth=2, zorder=5)
    ax.set_xlim(*w_lim)
    ax.set_ylim(*b_lim)
    ax.set_aspect("equal", adjustable="box")
    ax.grid(False)
    ax.set_title(f"lr = {learning_rate:g}: {describe_run(losses)}", fontsize=13)
    ax.set_xlabel("w (h per disruption point)")
    ax.set_ylabel("b (hours)")


def plot_lr_trajectories(
    axes: Sequence[Axes], *, x: Sequence[float], y: Sequence[float], runs: Sequence[Mapping]
) -> None:
    """The (w, b) path of each learning rate over the loss contours, one panel per rate.

    The legend goes on the first panel that shows the valley (zero-loss line or
    least-squares fit), so each of its entries is in view where it is drawn.

    Args:
      axes: one Axes per run.
      x, y: the training data (the loss surface is computed from it).
      runs: one mapping per rate, increasing: ``{"learning_rate": r, "w": [...],
        "b": [...], "losses": [...]}`` from a verified trajectory.
    """
    if len(axes) != len(runs):
        raise ValueError(f"lr-trajectories needs one Axes per run: {len(axes)} for {len(runs)}")
    for i, (ax, run) in enumerate(zip(axes, runs, strict=True)):
        plot_lr_trajectory(ax, learning_rate=run["learning_rate"], w=run["w"], b=run["b"],
                           x=x, y=y, losses=run["losses"], color=rate_color(i))
    valley = (Line2D([], [], color=style.MUTED, linestyle="dashed", label="loss = 0")
              if len(x) == 1 else
              Line2D([], [], color=style.MUTED, marker="X", linestyle="none",
                     label="least-squares fit"))
    shade = Line2D([], [], color="white", marker="s", markersize=12, markerfacecolor="#8E8A7A",
                   linestyle="none", label="darker = higher loss")
    showing = [ax for ax in axes if _valley_visible(x, y, ax.get_xlim(), ax.get_ylim())]
    if showing:
        showing[0].legend(handles=[valley, shade], loc="upper left", fontsize=10)
    else:
        axes[0].legend(handles=[shade], loc="upper left", fontsize=10)


def plot_lr_sweep(
    axes: Sequence[Axes], *, learning_rates: Sequence[float], final_loss: Sequence[float],
    first_nonfinite_step: Sequence[int | None], steps: int, initial_loss: float,
    stability_limit: float, divergence_rate: float | None,
    lesson_rates: Sequence[float] = (), loss_floor: float = 1e-30,
) -> None:
    """Final loss against learning rate, with the analytic stability limit beside the sweep's.

    Top panel: the loss after ``steps`` updates for every rate whose run stayed
    finite (log-log); losses below ``loss_floor`` (exactly 0 included: the
    iteration lands on the minimum in float64) sit on the bottom edge as
    triangles. How many are exactly 0 is not shown: whether a loss of 1e-300
    rounds to 0 depends on how XLA fuses the arithmetic on the machine, and a
    committed figure must not change by itself. An inset zooms in on the limit.
    Bottom panel: for rates whose run overflowed, the first step at which a value
    became non-finite.
    Vertical lines: the analytic limit ``2 / lambda_max`` of the loss Hessian
    and the smallest swept rate at which the loss stopped falling.

    Args:
      axes: two Axes sharing x (final loss, first non-finite step).
      learning_rates: the swept rates, increasing.
      final_loss: loss after ``steps`` updates per rate (non-finite allowed).
      first_nonfinite_step: per rate, the first step with a non-finite value, or ``None``.
      steps: updates per run.
      initial_loss: the loss before any update (the same for every rate).
      stability_limit: ``2 / lambda_max``.
      divergence_rate: the sweep's own divergence point, or ``None`` if no run diverged.
      lesson_rates: rates to point out on the curve (the lesson's).
      loss_floor: the bottom of the loss axis.
    """
    top, bottom = axes
    rates = np.asarray(learning_rates, dtype=np.float64)
    final = np.asarray(final_loss, dtype=np.float64)
    finite = np.isfinite(final)
    shown = finite & (final >= loss_floor)
    below = finite & (final < loss_floor)
    top.plot(rates[shown], final[shown], color="black", linewidth=1.8, gid="final loss",
             label=f"loss after {steps} updates")
    if below.any():
        top.plot(rates[below], np.full(int(below.sum()), loss_floor), linestyle="none",
                 marker="v", markersize=5, color=style.MUTED, clip_on=False, gid="below floor",
                 label=f"below {loss_floor:.0e}, exactly 0 included")
    top.axhline(initial_loss, color=style.MUTED, linestyle="dotted", linewidth=1.4,
                label=f"initial loss {initial_loss:g} h²")
    top.plot([], [], color=style.UNSTABLE, linestyle="dashed", linewidth=2,
             label=f"analytic limit 2/λmax = {stability_limit:.4g}")
    if divergence_rate is not None:
        top.plot([], [], color=style.OKABE_ITO["blue"], linestyle="dotted", linewidth=2.4,
                 label=f"sweep: first rate whose loss grows, {divergence_rate:.4g}")
    for rate in lesson_rates:
        i = int(np.argmin(np.abs(rates - rate)))
        if shown[i]:
            top.plot(rates[i], final[i], linestyle="none", marker="o", markersize=10,
                     markerfacecolor="none", markeredgecolor=style.OKABE_ITO["orange"],
                     markeredgewidth=2, zorder=4)
            top.annotate(f"lr = {rate:g}", xy=(rates[i], final[i]), xytext=(8, 4),
                         textcoords="offset points", fontsize=11)
        elif below[i]:
            top.plot(rates[i], loss_floor, linestyle="none", marker="o", markersize=10,
                     markerfacecolor="none", markeredgecolor=style.OKABE_ITO["orange"],
                     markeredgewidth=2, zorder=4, clip_on=False)
            top.annotate(f"lr = {rate:g}", xy=(rates[i], loss_floor), xytext=(-10, 10),
                         textcoords="offset points", fontsize=11, ha="right")
    top.set_xscale("log")
    biggest = float(final[shown].max()) if shown.any() else initial_loss
    # Limits before the log scale: autoscaling's margin above ~1e308 would overflow.
    low, high = math.floor(math.log10(loss_floor)), min(math.ceil(math.log10(biggest)), 308)
    top.set_ylim(10.0**low, 10.0**high)
    top.set_yscale("log")
    # Fixed decades: the default LogLocator looks one decade past 1e308 and overflows.
    step = _decade_step(low, high)
    decades = np.arange(math.ceil(low / step) * step, high + 1, step)
    top.yaxis.set_major_locator(FixedLocator(10.0**decades))
    top.yaxis.set_minor_locator(NullLocator())
    top.set_ylabel(f"loss after {steps} updates (h²)")
    top.legend(loc="upper left", fontsize=10)
    _zoom_on_limit(top, rates, final, initial_loss, stability_limit, divergence_rate)

    steps_at = np.array([np.nan if s is None else float(s) for s in first_nonfinite_step])
    overflowed = ~np.isnan(steps_at)
    if overflowed.any():
        bottom.plot(rates[overflowed], steps_at[overflowed], color=style.UNSTABLE,
                    linestyle="none", marker=".", markersize=4, gid="first non-finite step")
    else:
        bottom.text(0.5, 0.5, f"no run overflowed within {steps} updates",
                    transform=bottom.transAxes, ha="center", va="center", color=style.MUTED)
    bottom.set_ylim(0, steps * 1.1)
    bottom.set_xlabel("learning rate (log scale)")
    bottom.set_ylabel("first non-\nfinite step")
    for ax in axes:
        ax.axvline(stability_limit, color=style.UNSTABLE, linestyle="dashed", linewidth=2,
                   gid="stability limit")
        if divergence_rate is not None:
            ax.axvline(divergence_rate, color=style.OKABE_ITO["blue"], linestyle="dotted",
                       linewidth=2.4, gid="divergence rate")


def _decade_step(low: int, high: int) -> int:
    """Decades between loss ticks: about six ticks however wide the range.

    Example:
      >>> _decade_step(-30, 308), _decade_step(-3, 2)
      (50, 1)
    """
    for step in (1, 2, 5, 10, 20, 25, 50, 100):
        if (high - low) / step <= 7:
            return step
    return 200


def _zoom_on_limit(
    ax: Axes, rates, final, initial: float, limit: float, divergence: float | None
) -> None:
    """Inset: the swept rates next to the limit on a linear axis, both lines apart."""
    near = np.isfinite(final) & (final > 0) & (np.abs(rates - limit) <= 0.04 * limit)
    if not near.any():
        return
    inset = ax.inset_axes([0.08, 0.2, 0.34, 0.34])
    inset.plot(rates[near], final[near], color="black", marker="o", markersize=4, linewidth=1)
    inset.axhline(initial, color=style.MUTED, linestyle="dotted", linewidth=1.4)
    inset.axvline(limit, color=style.UNSTABLE, linestyle="dashed", linewidth=2)
    if divergence is not None:
        inset.axvline(divergence, color=style.OKABE_ITO["blue"], linestyle="dotted", linewidth=2.4)
    inset.set_yscale("log")
    inset.set_title("zoom: each swept rate near the limit", fontsize=10, fontweight="normal")
    inset.tick_params(labelsize=9)
    inset.xaxis.set_major_locator(MaxNLocator(4))
    inset.grid(True, linewidth=0.5)
