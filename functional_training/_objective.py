"""What a run minimises: a model kind, its configuration, a loss kind and an L2 weight.

With the kind's forward ``f`` (``functional_training.MODEL_KINDS``), loss ``l``
(``functional_training.LOSS_KINDS``) and ``alpha = l2``:

    L_B(theta) = (1/|B|) sum_{i in B} l(f(theta, x_i), y_i) + alpha * sum_j theta_j^2

the sum running over every weight and bias. An :class:`Objective` is a
``NamedTuple`` of hashable values, so it is a static argument of
``jax.jit``: equal objectives share one compiled program.

The lesson's objective, ``objective("linear", features=1)``, is
``L = mean 0.5 (w x + b - y)^2``, :func:`functional_training.mean_loss`.

Example:
  >>> import jax.numpy as jnp
  >>> from functional_training._params import LinearParams
  >>> lesson = objective("linear", features=1)
  >>> float(lesson.mean_loss(LinearParams(1.0, 0.0), jnp.array([2.0]), jnp.array([6.0])))
  8.0
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from functional_training._loss import check_numbers
from functional_training._losses import (
    DEFAULT_LOSS,
    accuracy_of,
    l2_penalty,
    loss_kind,
)
from functional_training._models import DEFAULT_MODEL, frozen_config, model_kind
from functional_training._numbers import is_number


class Objective(NamedTuple):
    """A model kind with its configuration, a loss kind and an L2 weight (see the module).

    Build with :func:`objective`, which checks every part.

    Attributes:
      model: the model kind's name.
      config: its configuration as sorted ``(key, value)`` pairs.
      loss: the loss kind's name.
      l2: ``alpha`` of the penalty ``alpha * sum theta^2`` (0: none).
    """

    model: str
    config: tuple[tuple[str, Any], ...]
    loss: str = DEFAULT_LOSS
    l2: float = 0.0

    @property
    def settings(self) -> dict[str, Any]:
        """The kind's configuration as keywords (``{"sizes": (2, 16, 1), ...}``)."""
        return dict(self.config)

    @property
    def classifies(self) -> bool:
        """Whether the loss is a classification loss (accuracy is recorded)."""
        return loss_kind(self.loss).classifies

    def outputs(self, params, x) -> jax.Array:
        """The model's outputs ``f(theta, x)``: ``(n,)``, or ``(n, k)`` for ``k`` logits."""
        return model_kind(self.model).forward(**self.settings)(params, x)

    def data_loss(self, params, x, y) -> jax.Array:
        """``(1/n) sum_i l(f(theta, x_i), y_i)``: the loss without the penalty."""
        y = jnp.asarray(y)
        if loss_kind(self.loss).targets == "class":  # class indices
            y = y.astype(jnp.int32)
        return jnp.mean(loss_kind(self.loss).per_example(self.outputs(params, x), y))

    def mean_loss(self, params, x, y) -> jax.Array:
        """``L_B(theta)``: the mean loss over the examples plus the L2 penalty."""
        loss = self.data_loss(params, x, y)
        return loss if self.l2 == 0.0 else loss + l2_penalty(params, self.l2)

    def loss_and_grad(self, params, x, y) -> tuple[jax.Array, Any]:
        """``L_B(theta)`` and ``dL_B/dtheta`` (``jax.value_and_grad``), a pytree like ``params``."""
        return jax.value_and_grad(self.mean_loss)(params, x, y)

    def accuracy(self, params, x, y) -> jax.Array:
        """The fraction of examples classified right (classification losses only)."""
        return accuracy_of(self.loss, self.outputs(params, x), jnp.asarray(y))

    def check_params(self, params, *, where: str) -> None:
        """One-line ``TypeError``/``ValueError`` unless ``params`` are the kind's leaves.

        Every leaf must be real numbers of the shape the kind states
        (``ModelKind.shapes``), in the kind's order; read from the kind, for any kind.

        Example:
          >>> import numpy as np
          >>> net = objective("mlp", sizes=[2, 1], activation="tanh")
          >>> net.check_params(((np.zeros((3, 1)), np.zeros(1)),), where="train")
          Traceback (most recent call last):
          ...
          ValueError: train: mlp params: layers.0.w has shape (3, 1), expected (2, 1)
        """
        expected = model_kind(self.model).shapes(**self.settings)
        leaves = jax.tree.leaves(params)
        if len(leaves) != len(expected):
            raise TypeError(f"{where}: params must be the {self.model} model's "
                            f"{len(expected)} leaves ({', '.join(expected)}), got "
                            f"{type(params).__name__}")
        for (leaf, shape), value in zip(expected.items(), leaves, strict=True):
            check_numbers(value, f"params {leaf}", where=where)
            if tuple(jnp.shape(value)) != tuple(shape):
                raise ValueError(f"{where}: {self.model} params: {leaf} has shape "
                                 f"{tuple(jnp.shape(value))}, expected {tuple(shape)}")


def objective(
    model: str = DEFAULT_MODEL, *, loss: str = DEFAULT_LOSS, l2: float = 0.0, **config: Any
) -> Objective:
    """An :class:`Objective`, every part checked (one-line ``ValueError`` naming it).

    Args:
      model: a model kind's name (a key of :data:`functional_training.MODEL_KINDS`;
        default :data:`functional_training.DEFAULT_MODEL`, the lesson's line).
      loss: a loss kind (default the lesson's half squared error).
      l2: ``alpha >= 0``, finite.
      **config: the kind's configuration (``features=d``; ``sizes=[...]``,
        ``activation=...``).

    Example:
      >>> objective("mlp", loss="hinge", l2=1e-4, sizes=[2, 16, 1], activation="relu").config
      (('activation', 'relu'), ('sizes', (2, 16, 1)))
    """
    kind = model_kind(model)
    loss_kind(loss)
    unknown = sorted(set(config) - set(kind.config_keys))
    if unknown:
        raise ValueError(f"model {model!r} does not take {', '.join(unknown)}; "
                         f"it takes {', '.join(kind.config_keys)}")
    missing = [key for key in kind.required_keys if key not in config]
    if missing:
        raise ValueError(f"model {model!r} needs {', '.join(f'{key}=...' for key in missing)}"
                         f" (it takes {', '.join(kind.config_keys)})")
    kind.shapes(**config)  # checks the configuration
    problem = loss_kind(loss).outputs_problem(kind.outputs(**config))
    if problem:
        raise ValueError(f"{model} model: {problem}")
    if not is_number(l2) or not (0.0 <= l2 < float("inf")):
        raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
    return Objective(model, frozen_config(config), loss, float(l2))
