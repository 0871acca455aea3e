"""The course figures: their registry, collecting their verified data, and writing them.

:data:`FIGURES` is the registry of the course's figures: the lesson figures'
rows (:data:`~comparisons.figures.lessons.LESSON_FIGURES`) then the classifier
figures' (:data:`~comparisons.figures.classifiers.CLASSIFIER_FIGURES`).
:func:`figure_data` runs and verifies the experiments the chosen figures need
(each once) and takes each figure's data from them; :func:`write_figures` draws
and writes them with their ``README.md`` and :data:`~comparisons.figures.files.DATA_FILE`;
:func:`render_all` is both, as ``python -m comparisons figures`` runs it.

Example:
  >>> len(FIGURE_NAMES), FIGURE_NAMES[0], FIGURE_NAMES[-1]
  (14, 'learning-rates', 'moons-training-animation')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from comparisons import figure_style as style
from comparisons.figures.classifiers import CLASSIFIER_FIGURES
from comparisons.figures.files import DATA_FILE, parse_formats, readme, write_files
from comparisons.figures.kind import FigureSpec, figure_table
from comparisons.figures.lessons import LESSON_FIGURES
from comparisons.figures.training import TRAINING_FIGURES
from comparisons.figures.verified import verify_runs
from comparisons.figures.wording import backends_phrase

__all__ = [
    "FIGURES",
    "FIGURE_NAMES",
    "draw_figure",
    "figure_data",
    "readme_text",
    "render_all",
    "write_figures",
]

FIGURES: dict[str, FigureSpec] = figure_table(*LESSON_FIGURES, *CLASSIFIER_FIGURES,
                                              *TRAINING_FIGURES)
"""Every course figure by name, in the order they are written and listed."""

FIGURE_NAMES = tuple(FIGURES)


def figure_data(*, backends: Sequence[str] | None = None,
                only: Sequence[str] | None = None) -> dict:
    """Verify every experiment the figures draw and collect exactly what each figure plots.

    Args:
      backends: backends to run (default: every backend; unavailable ones are skipped).
      only: figure names to collect (default :data:`FIGURE_NAMES`); only the
        experiments those figures draw are run.

    Returns:
      ``{"backends": [...], "reference": "manual", "tolerance": 1e-12,
      "figures": {name: what the figure's draw function takes}}``,
      JSON-ready (see :data:`~comparisons.figures.files.DATA_FILE`).

    Raises:
      ValueError: an unknown figure name in ``only``.
      UnverifiedTrajectoryError: an experiment's backends disagree, or a
        figure's data does not match the verified trajectories.
    """
    chosen = FIGURE_NAMES if only is None else tuple(only)
    for name in chosen:
        if name not in FIGURES:
            raise ValueError(f"unknown figure {name!r}; known: {', '.join(FIGURE_NAMES)}")
    verified = verify_runs((name for figure in chosen for name in FIGURES[figure].experiments),
                           backends=backends)
    figures = {name: FIGURES[name].data(verified) for name in chosen}
    return {"backends": list(verified.backends), "reference": verified.reference,
            "tolerance": verified.tolerance, "figures": figures}


def draw_figure(name: str, data: Mapping, *, specs: Mapping[str, FigureSpec] = FIGURES) -> Figure:
    """Draw figure ``name`` from its data (a value of ``figure_data()["figures"]``).

    Uses the shared style and an Agg canvas; never touches pyplot. Save it
    inside ``matplotlib.rc_context(style.STYLE)`` (``render_all`` does).

    Args:
      name: the figure's name.
      data: what it draws.
      specs: where ``name`` is looked up: :data:`FIGURES`, or
        :data:`~comparisons.figures.spec.SPEC_FIGURES` for a spec's figures.
    """
    return specs[name].render(data)


def readme_text(data: Mapping, formats: Sequence[str] = style.FORMATS) -> str:
    """``README.md`` of the figures directory: every figure with its caption and alt text."""
    intro = (
        "Rendered by `python -m comparisons figures` (also part of `python -m comparisons all`)"
        " from trajectories the comparison suite verified in float64 just before drawing: "
        f"{backends_phrase(data)}, reference {data['reference']}. Do not edit these files; "
        f"re-render them. `{DATA_FILE}` holds exactly the data each figure draws."
    )
    return readme(FIGURES, data, formats, title="Course figures", intro=intro)


def write_figures(
    data: Mapping, out_dir: Path, formats: Sequence[str] = style.FORMATS
) -> list[Path]:
    """Draw and write every figure of ``data`` (from :func:`figure_data`), README and data file.

    Each file is written atomically. The data file also records
    :func:`~comparisons.figures.files.rendered_with`, the versions the files
    were rendered with.

    Returns:
      Every path written: figures in :data:`FIGURE_NAMES` order (those ``data``
      holds: all, or ``figure_data(only=...)``'s), then README and data.
    """
    formats = parse_formats(formats)
    return write_files(FIGURES, data, out_dir, formats, readme_text(data, formats))


def render_all(out_dir: Path, formats: tuple[str, ...] = style.FORMATS) -> list[Path]:
    """Verify, then write every figure, ``README.md`` and the data file into ``out_dir``.

    Nothing is written unless every experiment verifies; each file is written
    atomically (temp file in ``out_dir``, flush, ``os.replace``).

    Args:
      out_dir: the directory to write (created if missing).
      formats: a subset of ``("png", "svg")``.

    Returns:
      Every path written: figures in :data:`FIGURE_NAMES` order, then README and data.

    Raises:
      ValueError: an unknown or empty format list.
      UnverifiedTrajectoryError: a figure's data failed verification.
    """
    formats = parse_formats(formats)
    return write_figures(figure_data(), out_dir, formats)
