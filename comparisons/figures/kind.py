"""The figure kind: one :class:`FigureSpec` row per figure, and drawing one.

A figure is one row: its name (the file stem), its title, how it draws its
data on a fresh figure, its README caption and alt text and, for a course
figure, the registry experiments it needs and how its data is taken from their
verified runs (:class:`comparisons.figures.verified.VerifiedRuns`). The rows
live with the figures they describe (:mod:`comparisons.figures.lessons`,
:mod:`comparisons.figures.classifiers`, :mod:`comparisons.figures.spec`); a
table of them is built with :func:`figure_table`. Nothing else names a
figure: collecting data, drawing, the README and the data file all read the
rows.

Drawing uses the shared style (:mod:`comparisons.figure_style`) and an Agg
canvas; it never touches pyplot.

Example:
  >>> from comparisons import plots
  >>> row = FigureSpec("demo", lambda d: "A demo", draw_single(plots.plot_train_validation),
  ...                  lambda d, c: "caption", lambda d: "alt")
  >>> fig = row.render({"train_loss": [9.0, 7.0], "val_loss": [0.0, 0.5]})
  >>> fig.get_suptitle(), type(fig.canvas).__name__
  ('A demo', 'FigureCanvasAgg')
  >>> figure_table(row, row)
  Traceback (most recent call last):
  ...
  ValueError: two figures named 'demo'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import matplotlib
from matplotlib.figure import Figure

from comparisons import figure_style as style
from comparisons.experiments import Experiment
from comparisons.figures.verified import VerifiedRuns

__all__ = ["FigureSpec", "draw_single", "figure_table"]


@dataclass(frozen=True)
class FigureSpec:
    """One figure.

    Attributes:
      name: file stem, e.g. ``"learning-rates"``.
      title: the lesson's point, as the figure's title (may use the data: ``title(data)``).
      draw: ``draw(fig, data)``: makes the Axes and calls the figure's plot function.
      caption: ``caption(data, context)`` -> the README caption.
      alt: ``alt(data)`` -> the alt text (what a reader who cannot see it needs).
      experiments: the experiments whose verified runs the data comes from: registry
        names, or :class:`~comparisons.experiments.Experiment` rows a figure defines
        itself (kept in :class:`VerifiedRuns` under their ``name``).
      data: ``data(verified)`` -> what ``draw`` takes, from :class:`VerifiedRuns`
        holding ``experiments`` (``None`` for a spec's figures, whose data
        :func:`comparisons.figures.spec.spec_figure_data` collects).
      summary: one line saying what the figure shows, without its data
        (``python -m comparisons figures --list``).
      extra_files: ``extra_files(data) -> {suffix: bytes}``: files written beside the
        figure's PNG and SVG as ``<name>.<suffix>`` (an animation's GIF), or ``None``.
    """

    name: str
    title: Callable[[Mapping], str]
    draw: Callable[[Figure, Mapping], None]
    caption: Callable[[Mapping, Mapping], str]
    alt: Callable[[Mapping], str]
    experiments: tuple[str | Experiment, ...] = ()
    data: Callable[[VerifiedRuns], dict] | None = None
    summary: str = ""
    extra_files: Callable[[Mapping], dict[str, bytes]] | None = None

    def render(self, data: Mapping) -> Figure:
        """The figure drawn from ``data``, titled, in the shared style (not saved).

        Save it inside ``matplotlib.rc_context(style.STYLE)``
        (:func:`comparisons.figures.files.write_files` does).
        """
        with matplotlib.rc_context(style.STYLE):
            fig = style.new_figure()
            self.draw(fig, data)
            fig.suptitle(self.title(data))
        return fig


def draw_single(plot) -> Callable[[Figure, Mapping], None]:
    """A ``draw`` for a figure of one panel: ``plot(ax, **data)`` on one Axes."""

    def draw(fig: Figure, data: Mapping) -> None:
        plot(fig.add_subplot(), **data)

    return draw


def figure_table(*rows: FigureSpec) -> dict[str, FigureSpec]:
    """``{name: row}`` in the given order; two rows of one name are refused (``ValueError``)."""
    table: dict[str, FigureSpec] = {}
    for row in rows:
        if row.name in table:
            raise ValueError(f"two figures named {row.name!r}")
        table[row.name] = row
    return table
