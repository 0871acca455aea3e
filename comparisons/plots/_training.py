"""Training figures: full batch, train vs validation, gradient accumulation, mini-batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from comparisons import figure_style as style


def _integer_steps(ax: Axes, label: str = "SGD updates taken, k") -> None:
    ax.set_xlabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_full_batch(
    axes: Sequence[Axes], *, loss: Sequence[float], w: Sequence[float], b: Sequence[float],
    target_w: float, target_b: float,
) -> None:
    """Loss and parameters over full-batch SGD, converging to the least-squares fit.

    Args:
      axes: two Axes: the loss (log scale) and the parameters.
      loss: full training loss at ``params[k]``, k = 0..S.
      w, b: parameters before update k, k = 0..S.
      target_w, target_b: the least-squares solution the run converges to.
    """
    loss_ax, param_ax = axes
    steps = np.arange(len(loss))
    loss_ax.plot(steps, loss, color=style.OKABE_ITO["black"], marker="o", markersize=5,
                 gid="train loss")
    loss_ax.set_yscale("log")
    loss_ax.set_ylabel("mean training loss (h²)")
    loss_ax.set_title("loss")
    _integer_steps(loss_ax)
    for values, target, name, color in ((w, target_w, "w", style.PARAM_W),
                                        (b, target_b, "b", style.PARAM_B)):
        param_ax.plot(steps, values, color=color, marker="o", markersize=5, gid=f"param {name}",
                      label=f"{name}: {values[0]:g} → {values[-1]:.3f}")
        param_ax.axhline(target, color=color, linestyle="dashed", linewidth=1.4,
                         label=f"least-squares {name} = {target:.3g}")
    param_ax.set_ylabel("parameter value (w: h per point, b: h)")
    param_ax.set_title("parameters")
    _integer_steps(param_ax)
    param_ax.legend(loc="lower right")


def plot_train_validation(
    ax: Axes, *, train_loss: Sequence[float], val_loss: Sequence[float]
) -> None:
    """Train and validation loss per step, the gap between them shaded.

    Args:
      ax: the Axes to draw on.
      train_loss, val_loss: full losses at ``params[k]``, k = 0..S.
    """
    steps = np.arange(len(train_loss))
    train, val = np.asarray(train_loss), np.asarray(val_loss)
    ax.fill_between(steps, train, val, color=style.OKABE_ITO["sky blue"], alpha=0.25,
                    linewidth=0, label="gap between train and validation", gid="gap")
    ax.plot(steps, train, color=style.TRAIN, marker="o", gid="train loss",
            label="train (used for updates)")
    ax.plot(steps, val, color=style.VALIDATION, marker="s", gid="validation loss",
            label="validation (never used for updates)")
    for series, color, offset in ((train, style.TRAIN, 10), (val, style.VALIDATION, -18)):
        for k in (0, len(series) - 1):
            ax.annotate(f"{series[k]:.3f}", xy=(steps[k], series[k]), xytext=(0, offset),
                        textcoords="offset points", ha="center", fontsize=11, color=color)
    ax.set_ylabel("mean loss (h²)")
    ax.set_ylim(bottom=min(0.0, float(val.min())) - 0.6)
    _integer_steps(ax)
    ax.legend(loc="upper right")


def plot_gradient_accumulation(
    ax: Axes, *, passes: Sequence[str], grads: Mapping[str, Sequence[float]], loss: str
) -> None:
    """The gradient buffer after each backward pass, one bar per backend.

    Args:
      ax: the Axes to draw on.
      passes: one label per backward pass (what happened to the buffer first).
      grads: backend -> the ``dL/dw`` buffer after each pass.
      loss: the loss every pass differentiates, for the axis label.
    """
    n = len(grads)
    width = 0.8 / n
    positions = np.arange(len(passes))
    for j, (backend, values) in enumerate(grads.items()):
        offsets = positions - 0.4 + width * (j + 0.5)
        bars = ax.bar(offsets, values, width=width * 0.92, color=style.backend_color(backend, j),
                      edgecolor="black", linewidth=0.6, label=backend, gid=f"bars {backend}")
        ax.bar_label(bars, labels=[f"{v:g}".replace("-", "−") for v in values], padding=3,
                     fontsize=11)
    ax.axhline(0.0, color="black", linewidth=1)
    ax.set_xticks(positions, list(passes))
    ax.set_ylabel("dL/dw held in w.grad")
    ax.set_xlabel(f"backward pass on the same loss {loss}")
    low = min(min(v) for v in grads.values())
    ax.set_ylim(1.2 * low, 0.0)
    ax.grid(axis="x", visible=False)
    ax.legend(title="backend", loc="lower right", ncols=2)


def plot_mini_batch(
    ax: Axes, *, batch_loss: Sequence[float], train_loss: Sequence[float],
    batch_size: int, examples: int,
) -> None:
    """Loss of each mini-batch against the loss on all examples, per update.

    Args:
      ax: the Axes to draw on.
      batch_loss: loss on batch k at ``params[k]``, k = 0..S-1 (its gradient made update k).
      train_loss: loss on all training examples at ``params[k]``, k = 0..S.
      batch_size: examples per batch.
      examples: training examples in all (an epoch is ``examples // batch_size`` updates).
    """
    per_epoch = examples // batch_size
    for start in range(per_epoch, len(batch_loss), per_epoch):
        ax.axvline(start - 0.5, color=style.MUTED, linestyle="dotted", linewidth=1.2)
    ax.plot(np.arange(len(train_loss)), train_loss, color=style.OKABE_ITO["black"],
            linewidth=2.4, gid="train loss", label=f"full-batch loss (all {examples} shipments)")
    ax.plot(np.arange(len(batch_loss)), batch_loss, color=style.OKABE_ITO["vermillion"],
            linewidth=1.2, marker="D", markersize=7, gid="batch loss",
            label=f"mini-batch loss ({batch_size} shipments, the one the update used)")
    ax.set_yscale("log")
    ax.set_ylabel("mean loss (h²)")
    _integer_steps(ax)
    ylim = ax.get_ylim()
    for epoch, start in enumerate(range(0, len(batch_loss), per_epoch), start=1):
        ax.text(start - 0.3, ylim[0] * 1.15, f"epoch {epoch}", color=style.MUTED, fontsize=11,
                va="bottom")
    ax.legend(loc="upper right")
