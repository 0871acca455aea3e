"""The shipment-delay lesson as pure JAX functions.

``prediction = w * x + b``, half-squared-error loss, gradients by
``jax.grad``, SGD and optax optimizers, training as one jitted ``lax.scan``,
learning-rate sweeps as one jitted program over all rates (sharded over
devices), the stability limit of gradient descent, and seeded synthetic
shipments at scale.
Importing this package changes no global JAX configuration; run in float64
inside ``with functional_training.float64():``.

Example:
  >>> import functional_training as ft
  >>> with ft.float64():
  ...     new, loss, grads = ft.sgd_step(ft.LinearParams(1.0, 0.0), 2.0, 6.0, 0.1)
  >>> float(loss), float(grads.w), float(grads.b)
  (8.0, -8.0, -4.0)
"""

from functional_training import _interrupts  # noqa: F401 -- first: Ctrl-C in start-up, one line
from functional_training._cores import cpu_cores, use_all_cores
from functional_training._data_files import (
    DataFileError,
    Table,
    check_same_features,
    file_digest,
    is_data_file,
    read_table,
)
from functional_training._gradcheck import GradientCheck, check_gradients
from functional_training._lesson_data import (
    MANY_SHIPMENTS,
    NORMAL_WEEK,
    ONE_SHIPMENT,
    PEAK_SEASON,
    SHIPMENTS,
)
from functional_training._loss import (
    half_squared_error,
    loss_and_grad,
    mean_loss,
    predict,
    sgd_step,
)
from functional_training._losses import (
    DEFAULT_LOSS,
    LOSS_KINDS,
    REDUCTIONS,
    LossKind,
    accuracy_of,
    check_targets,
    l2_penalty,
    loss_kind,
    mean_loss_of,
)
from functional_training._models import (
    DEFAULT_MODEL,
    INITS,
    MODEL_KINDS,
    ModelKind,
    initial_values,
    model_kind,
    parameter_names,
    params_from_values,
)
from functional_training._names import leaf_of, leaves_of, scalar_name, split_name
from functional_training._numbers import is_int, is_number
from functional_training._objective import Objective, objective
from functional_training._optimizers import (
    OPTIMIZER_NAMES,
    OPTIMIZERS,
    UNIT_INTERVAL,
    WEIGHT_DECAY_KINDS,
    OptimizerKind,
    check_hyperparameters,
    check_learning_rate,
    check_learning_rate_fits,
    freeze,
    hyperparameter_problem,
    make_optimizer,
    optimizer_factory,
    optimizer_hyperparameters,
    optimizer_keys,
    settings_problem,
    weight_decay_kind,
)
from functional_training._params import PARAM_NAMES, LinearParams
from functional_training._precision import DTYPES, float64, overflow_edge, precision, tolerance
from functional_training._record import (
    ARRAYS_FROM,
    RECORDED_EXTRAS,
    TrajectoryRecord,
    aligned_values,
    from_json_float,
    holds_arrays,
    json_float,
    named_series,
    record_from_trajectory,
)
from functional_training._record_plan import (
    MAX_RECORD_BYTES,
    default_eval_every,
    record_plan,
    record_steps,
)
from functional_training._registry import lookup
from functional_training._schedules import (
    SCHEDULES,
    Schedule,
    ScheduleKind,
    check_schedule,
    make_schedule,
)
from functional_training._stability import loss_hessian, observed_divergence, stability_limit
from functional_training._sweep import METHODS as SWEEP_METHODS
from functional_training._sweep import SweepResult, sweep, sweep_learning_rates
from functional_training._sweep_moments import moment_statistics
from functional_training._synthetic import (
    MinibatchOrder,
    Shipments,
    epoch_batches,
    minibatch_indices,
    synthetic_shipments,
    two_moons,
)
from functional_training._train import (
    StepRecords,
    accuracies,
    check_data,
    full_losses,
    train,
    train_chunk,
)
from functional_training._trajectory import Trajectory, first_nonfinite

__all__ = [
    "MAX_RECORD_BYTES",
    "MinibatchOrder",
    "default_eval_every",
    "record_plan",
    "record_steps",
    "sweep",
    "two_moons",
    "DEFAULT_LOSS",
    "Objective",
    "objective",
    "Schedule",
    "StepRecords",
    "accuracies",
    "accuracy_of",
    "RECORDED_EXTRAS",
    "ARRAYS_FROM",
    "holds_arrays",
    "LOSS_KINDS",
    "LossKind",
    "check_targets",
    "l2_penalty",
    "loss_kind",
    "mean_loss_of",
    "DataFileError",
    "Table",
    "check_same_features",
    "file_digest",
    "is_data_file",
    "read_table",
    "DEFAULT_MODEL",
    "INITS",
    "MODEL_KINDS",
    "ModelKind",
    "initial_values",
    "model_kind",
    "parameter_names",
    "params_from_values",
    "scalar_name",
    "split_name",
    "leaf_of",
    "leaves_of",
    "is_int",
    "is_number",
    "OPTIMIZERS",
    "REDUCTIONS",
    "WEIGHT_DECAY_KINDS",
    "UNIT_INTERVAL",
    "OptimizerKind",
    "hyperparameter_problem",
    "settings_problem",
    "MANY_SHIPMENTS",
    "NORMAL_WEEK",
    "ONE_SHIPMENT",
    "PEAK_SEASON",
    "SHIPMENTS",
    "TrajectoryRecord",
    "aligned_values",
    "lookup",
    "SCHEDULES",
    "ScheduleKind",
    "check_schedule",
    "make_schedule",
    "from_json_float",
    "json_float",
    "named_series",
    "record_from_trajectory",
    "OPTIMIZER_NAMES",
    "PARAM_NAMES",
    "SWEEP_METHODS",
    "DTYPES",
    "check_data",
    "check_gradients",
    "check_hyperparameters",
    "check_learning_rate",
    "check_learning_rate_fits",
    "first_nonfinite",
    "float64",
    "freeze",
    "full_losses",
    "GradientCheck",
    "half_squared_error",
    "LinearParams",
    "loss_and_grad",
    "loss_hessian",
    "make_optimizer",
    "mean_loss",
    "epoch_batches",
    "minibatch_indices",
    "moment_statistics",
    "observed_divergence",
    "optimizer_factory",
    "optimizer_hyperparameters",
    "optimizer_keys",
    "weight_decay_kind",
    "overflow_edge",
    "precision",
    "predict",
    "sgd_step",
    "Shipments",
    "stability_limit",
    "sweep_learning_rates",
    "SweepResult",
    "use_all_cores",
    "cpu_cores",
    "synthetic_shipments",
    "tolerance",
    "train",
    "train_chunk",
    "Trajectory",
]
