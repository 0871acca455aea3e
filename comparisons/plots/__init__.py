"""One function per course figure: each takes the data it draws and the Axes to draw on.

The functions only draw: they compute nothing the comparison suite has not
verified (the loss-surface contours behind ``lr-trajectories``, the graph
layout and the class margins of a decision-region grid are the only things
computed here). They never create figures, touch
pyplot or save files; :mod:`comparisons.figures` does that, under the shared
style of :mod:`comparisons.figure_style`.

Example:
  >>> import matplotlib
  >>> from comparisons.figure_style import STYLE, new_figure
  >>> with matplotlib.rc_context(STYLE):
  ...     ax = new_figure().add_subplot()
  ...     plot_train_validation(ax, train_loss=[9.3, 7.7], val_loss=[0.0, 0.1])
  >>> [line.get_gid() for line in ax.get_lines()]
  ['train loss', 'validation loss']
"""

from comparisons.plots._animation import plot_training_progress, shrink_markers
from comparisons.plots._classifiers import (
    CLASS_MARKERS,
    all_right_from,
    class_color,
    margins,
    misclassified,
    parameter_groups,
    plot_accuracy,
    plot_classifier_training,
    plot_decision_regions,
    plot_loss_curves,
    plot_parameter_paths,
    region_legend,
)
from comparisons.plots._graph import layout_graph, plot_autograd_graph
from comparisons.plots._landscape import log_levels, plot_landscape_slice, plot_loss_landscape
from comparisons.plots._learning_rates import (
    describe_run,
    loss_surface,
    plot_learning_rates,
    plot_lr_sweep,
    plot_lr_trajectories,
    plot_lr_trajectory,
)
from comparisons.plots._lr_finder import plot_lr_finder
from comparisons.plots._momentum_map import plot_momentum_map
from comparisons.plots._optimizers import (
    plot_optimizer_path,
    plot_optimizer_paths,
    plot_schedules,
    quadratic_surface,
)
from comparisons.plots._training import (
    plot_full_batch,
    plot_gradient_accumulation,
    plot_mini_batch,
    plot_train_validation,
)

__all__ = [
    "CLASS_MARKERS",
    "all_right_from",
    "class_color",
    "describe_run",
    "layout_graph",
    "log_levels",
    "loss_surface",
    "margins",
    "misclassified",
    "parameter_groups",
    "plot_accuracy",
    "plot_autograd_graph",
    "plot_classifier_training",
    "plot_decision_regions",
    "plot_full_batch",
    "plot_gradient_accumulation",
    "plot_landscape_slice",
    "plot_learning_rates",
    "plot_loss_curves",
    "plot_loss_landscape",
    "plot_lr_finder",
    "plot_lr_sweep",
    "plot_lr_trajectories",
    "plot_lr_trajectory",
    "plot_mini_batch",
    "plot_momentum_map",
    "plot_optimizer_path",
    "plot_optimizer_paths",
    "plot_parameter_paths",
    "plot_schedules",
    "plot_train_validation",
    "quadratic_surface",
    "plot_training_progress",
    "region_legend",
    "shrink_markers",
]
