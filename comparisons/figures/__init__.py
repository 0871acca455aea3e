"""Course figures, rendered only from trajectories the comparison suite has just verified.

Figures are a kind: each is one :class:`FigureSpec` row (name, title, draw,
caption, alt text, the experiments it needs, how its data is taken from their
verified runs), kept with the figure it describes. The package, one concept per
module:

- :mod:`~comparisons.figures.verified`: verified runs (every backend against the
  ``manual`` reference, float64) and :class:`UnverifiedTrajectoryError`, raised
  before anything is written when a backend, or a figure's own computation,
  disagrees;
- :mod:`~comparisons.figures.kind`: the :class:`FigureSpec` row and drawing one;
- :mod:`~comparisons.figures.lessons` and :mod:`~comparisons.figures.lr_sweep`:
  the lesson figures, and the learning-rate sweep's exact data;
- :mod:`~comparisons.figures.optimizers` and :mod:`~comparisons.figures.landscape`:
  optimizer paths and schedules, and the moons network's loss landscape;
- :mod:`~comparisons.figures.grids` and :mod:`~comparisons.figures.classifiers`:
  classifier grids (model outputs from the verified final parameters, checked
  against JAX at every point) and the classifier figures;
- :mod:`~comparisons.figures.momentum_map`: heavy ball's steps to converge over
  learning rate x momentum, one vmapped sweep with a momentum axis;
- :mod:`~comparisons.figures.lr_finder`, :mod:`~comparisons.figures.animation` and
  :mod:`~comparisons.figures.training`: the learning-rate finder, the training
  animation (a GIF beside its small multiples) and their course rows;
- :mod:`~comparisons.figures.spec`: a user's spec drawn as figures;
- :mod:`~comparisons.figures.course`: the registry :data:`FIGURES` and rendering it;
- :mod:`~comparisons.figures.files`: PNG and SVG, ``README.md`` (captions and
  alt text) and :data:`DATA_FILE`, each written atomically;
- :mod:`~comparisons.figures.wording`: numbers and phrases the captions share;
- :mod:`~comparisons.figures.arguments`: the command's ``--out``, ``--format``, ``--spec``,
  ``--only``, ``--list``.

To add a course figure, add its row (and its data, draw, caption and alt
functions) to the lesson or classifier table; nothing else changes.

Outputs in ``DIR`` (default ``figures/``): ``<name>.png`` (1920 px wide) and
``<name>.svg`` per figure, ``README.md`` (captions and alt text) and
:data:`DATA_FILE`, the exact data each figure drew (tests compare it with a
fresh render).

Examples:
  python -m comparisons figures                       # every figure into figures/
  python -m comparisons figures --out /tmp/figs --format svg
  python -m comparisons figures --spec examples/logistic-inline.toml  # beside the spec
  python -m comparisons figures --only schedules --only loss-landscape  # those two
  python -m comparisons figures --list                # every figure, one line each
  python -m comparisons all                           # the full suite, figures included

Example:
  >>> parse_formats("svg, png")
  ('svg', 'png')
  >>> FIGURES["lr-sweep"].experiments == LESSON_RATES
  True
"""

from comparisons.figures.arguments import (
    DEFAULT_OUT,
    FIGURES_EXAMPLES,
    add_figure_arguments,
    figure_name,
    output_directory,
    spec_output_directory,
)
from comparisons.figures.classifiers import weight_slices
from comparisons.figures.course import (
    FIGURE_NAMES,
    FIGURES,
    draw_figure,
    figure_data,
    figure_list,
    merged_data,
    readme_text,
    render_all,
    write_figures,
)
from comparisons.figures.files import (
    DATA_FILE,
    README_FILE,
    check_output_directory,
    data_json,
    parse_formats,
    rendered_with,
)
from comparisons.figures.grids import class_values, final_values, grid_axis, grid_bounds
from comparisons.figures.kind import FigureSpec
from comparisons.figures.lr_sweep import LESSON_RATES, SWEEP_RATES, SWEEP_STEPS
from comparisons.figures.spec import (
    DEFAULT_SPEC_FIGURES,
    MAX_PARAMETER_PATHS,
    SPEC_FIGURES,
    draws_regions,
    render_spec,
    spec_figure_data,
    spec_figure_names,
    write_spec_figures,
)
from comparisons.figures.verified import (
    UnverifiedTrajectoryError,
    VerifiedRuns,
    verified_runs,
    verify_experiment,
)

__all__ = [
    "DATA_FILE",
    "DEFAULT_SPEC_FIGURES",
    "DEFAULT_OUT",
    "FIGURES",
    "FIGURES_EXAMPLES",
    "FIGURE_NAMES",
    "LESSON_RATES",
    "MAX_PARAMETER_PATHS",
    "README_FILE",
    "SPEC_FIGURES",
    "SWEEP_RATES",
    "SWEEP_STEPS",
    "FigureSpec",
    "UnverifiedTrajectoryError",
    "VerifiedRuns",
    "add_figure_arguments",
    "check_output_directory",
    "class_values",
    "data_json",
    "draw_figure",
    "draws_regions",
    "figure_data",
    "figure_name",
    "figure_list",
    "final_values",
    "grid_axis",
    "grid_bounds",
    "merged_data",
    "output_directory",
    "parse_formats",
    "readme_text",
    "render_all",
    "render_spec",
    "rendered_with",
    "spec_figure_data",
    "spec_figure_names",
    "spec_output_directory",
    "verified_runs",
    "verify_experiment",
    "weight_slices",
    "write_figures",
    "write_spec_figures",
]
