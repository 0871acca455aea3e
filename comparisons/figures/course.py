"""The course figures: their registry, collecting their verified data, and writing them.

:data:`FIGURES` is the registry of the course's figures, one table per line: the
lesson figures' rows (:data:`~comparisons.figures.lessons.LESSON_FIGURES`), the
classifier figures' (:data:`~comparisons.figures.classifiers.CLASSIFIER_FIGURES`),
the optimizer figures' (:data:`~comparisons.figures.optimizers.OPTIMIZER_FIGURES`)
and the loss landscape's (:data:`~comparisons.figures.landscape.LANDSCAPE_FIGURES`).
:func:`figure_data` runs and verifies the experiments the chosen figures need
(each once) and takes each figure's data from them; :func:`write_figures` draws
and writes them with their ``README.md`` and :data:`~comparisons.figures.files.DATA_FILE`;
:func:`render_all` is both, as ``python -m comparisons figures`` runs it
(``--only NAME`` renders a subset: :func:`merged_data` keeps the other figures
already in the directory; ``--list``: :func:`figure_list`).

Example:
  >>> FIGURE_NAMES[0], FIGURE_NAMES.index("loss-landscape") > FIGURE_NAMES.index("schedules")
  ('learning-rates', True)
  >>> figure_list()[0]
  'learning-rates            loss per SGD update at three learning rates, every backend overlaid'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from comparisons import figure_style as style
from comparisons.figures.classifiers import CLASSIFIER_FIGURES
from comparisons.figures.files import (
    DATA_FILE,
    parse_formats,
    readme,
    rendered_with,
    write_files,
)
from comparisons.figures.kind import FigureSpec, figure_table
from comparisons.figures.landscape import LANDSCAPE_FIGURES
from comparisons.figures.lessons import LESSON_FIGURES
from comparisons.figures.momentum_map import MOMENTUM_MAP_FIGURES
from comparisons.figures.optimizers import OPTIMIZER_FIGURES
from comparisons.figures.training import TRAINING_FIGURES
from comparisons.figures.verified import verify_runs
from comparisons.figures.wording import backends_phrase
from functional_training import from_json_float

__all__ = [
    "FIGURES",
    "FIGURE_NAMES",
    "draw_figure",
    "figure_data",
    "figure_list",
    "merged_data",
    "readme_text",
    "render_all",
    "write_figures",
]

FIGURES: dict[str, FigureSpec] = figure_table(
    *LESSON_FIGURES,
    *CLASSIFIER_FIGURES,
    *OPTIMIZER_FIGURES,
    *MOMENTUM_MAP_FIGURES,
    *TRAINING_FIGURES,
    *LANDSCAPE_FIGURES,
)
"""Every course figure by name, in the order they are written and listed (one line per table)."""

FIGURE_NAMES = tuple(FIGURES)


def figure_list() -> list[str]:
    """One line per course figure, ``name  summary`` (``figures --list``), in registry order.

    A row without a summary is described by the experiments it draws.
    """
    width = max(map(len, FIGURE_NAMES))
    lines = []
    for name, spec in FIGURES.items():
        summary = spec.summary or "draws " + ", ".join(
            e if isinstance(e, str) else e.name for e in spec.experiments)
        lines.append(f"{name:<{width}}  {summary}")
    return lines


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
    data: Mapping, out_dir: Path, formats: Sequence[str] = style.FORMATS, *,
    draw: Sequence[str] | None = None,
) -> list[Path]:
    """Draw and write every figure of ``data`` (from :func:`figure_data`), README and data file.

    Each file is written atomically. The data file also records
    :func:`~comparisons.figures.files.rendered_with`, the versions the files
    were rendered with.

    Args:
      data: what the figures draw; README and data file describe all of it.
      out_dir: the directory (created if missing).
      formats: a subset of ``("png", "svg")``.
      draw: the figures to draw (default: every figure ``data`` holds); the
        others of ``data`` are already in ``out_dir`` (:func:`merged_data`).

    Returns:
      Every path written: figures in :data:`FIGURE_NAMES` order (those drawn),
      then README and data.
    """
    formats = parse_formats(formats)
    specs = FIGURES if draw is None else {n: s for n, s in FIGURES.items() if n in draw}
    return write_files(specs, data, out_dir, formats, readme_text(data, formats))


def _from_json(value):
    """A value read back from :data:`DATA_FILE`: ``"Infinity"``/``"NaN"`` strings as floats."""
    if isinstance(value, str) and value in ("Infinity", "-Infinity", "NaN"):
        return from_json_float(value)
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def merged_data(data: Mapping, out_dir: Path) -> dict:
    """``data`` (some figures) with the other figures already in ``out_dir``'s data file.

    A figure of the existing :data:`DATA_FILE` is kept when ``data`` does not
    hold it, it is still a course figure, and the file was verified and rendered
    the same way (same backends, reference, tolerance and
    :func:`~comparisons.figures.files.rendered_with`); otherwise only ``data``'s
    figures are written (an unreadable or foreign file is ignored, then replaced).
    Figures keep :data:`FIGURE_NAMES` order.
    """
    merged = {key: value for key, value in data.items() if key != "figures"}
    figures = dict(data["figures"])
    try:
        existing = json.loads((Path(out_dir) / DATA_FILE).read_text(encoding="utf-8"))
        same = all(existing.get(key) == value for key, value in merged.items()) and (
            existing.get("rendered_with") == rendered_with())
        old = existing["figures"] if same and isinstance(existing["figures"], dict) else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        old = {}
    for name, value in old.items():
        if name in FIGURES and name not in figures:
            figures[name] = _from_json(value)
    merged["figures"] = {name: figures[name] for name in FIGURE_NAMES if name in figures}
    return merged


def render_all(out_dir: Path, formats: tuple[str, ...] = style.FORMATS, *,
               only: Sequence[str] | None = None) -> list[Path]:
    """Verify, then write every figure (or ``only`` those), ``README.md`` and the data file.

    Nothing is written unless every experiment verifies; each file is written
    atomically (temp file in ``out_dir``, flush, ``os.replace``). With ``only``,
    just those figures are verified and drawn; README and data file keep the
    other figures already in ``out_dir`` (:func:`merged_data`).

    Args:
      out_dir: the directory to write (created if missing).
      formats: a subset of ``("png", "svg")``.
      only: figure names (default: every figure).

    Returns:
      Every path written: figures in :data:`FIGURE_NAMES` order, then README and data.

    Raises:
      ValueError: an unknown or empty format list, an unknown figure name.
      UnverifiedTrajectoryError: a figure's data failed verification.
    """
    formats = parse_formats(formats)
    if only is None:
        return write_figures(figure_data(), out_dir, formats)
    data = figure_data(only=only)
    return write_figures(merged_data(data, out_dir), out_dir, formats, draw=tuple(only))
