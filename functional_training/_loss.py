"""The lesson's model, loss and gradients.

The public functions check their arguments' types first (:func:`check_params`,
:func:`check_numbers`) and raise a one-line ``TypeError`` or ``ValueError``
naming the argument, instead of JAX's own error from deep inside. The checks
read only types, dtypes and shapes, which tracers have too: under ``jax.jit``,
``vmap`` or ``grad`` they run once, while tracing, and cost nothing per call
of the compiled program.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from functional_training._params import LinearParams


def _dtype(value):
    """The dtype ``value`` would have as an array, or ``None`` if it cannot be one."""
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        return dtype
    try:
        return np.asarray(value).dtype
    except (ValueError, TypeError):  # ragged nested lists, unconvertible objects
        return None


def _shape(value) -> tuple[int, ...]:
    """``value``'s shape as an array (arrays and tracers carry one; lists are measured)."""
    shape = getattr(value, "shape", None)
    return tuple(shape) if shape is not None else np.shape(value)


def _describe(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def check_numbers(value, name: str, *, where: str, floating: bool = False) -> None:
    """``TypeError`` naming ``name`` unless ``value`` is a real number or an array of them.

    Args:
      value: a Python number, a nested list, a NumPy or JAX array, or a tracer.
      name: the argument's name in the message (``x``, ``params.w``).
      where: the function checking, first in the message.
      floating: require floating point (``jax.grad`` takes no integers).

    Example:
      >>> check_numbers("fast", "learning_rate", where="sgd_step")
      Traceback (most recent call last):
      ...
      TypeError: sgd_step: learning_rate must be a real number or an array of them, got str 'fast'
    """
    dtype = _dtype(value)
    if (dtype is None
            or not (jnp.issubdtype(dtype, jnp.number) or jnp.issubdtype(dtype, jnp.bool_))
            or jnp.issubdtype(dtype, jnp.complexfloating)):
        raise TypeError(f"{where}: {name} must be a real number or an array of them, "
                        f"got {_describe(value)}")
    if floating and not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{where}: {name} must be floating point (jax.grad takes no integers), "
                        f"got dtype {dtype}")


def check_params(params, *, where: str, floating: bool = False) -> None:
    """``TypeError`` naming ``params`` unless it is ``LinearParams(w, b)`` of real numbers.

    Any object with ``w`` and ``b`` fields is accepted (a pytree of tracers under
    ``jax.grad`` is one).

    Example:
      >>> check_params(LinearParams("a", 0), where="predict")
      Traceback (most recent call last):
      ...
      TypeError: predict: params.w must be a real number or an array of them, got str 'a'
      >>> check_params((1.0, 0.0), where="predict")
      Traceback (most recent call last):
      ...
      TypeError: predict: params must be LinearParams(w, b), got tuple (1.0, 0.0)
    """
    if not (hasattr(params, "w") and hasattr(params, "b")):
        raise TypeError(f"{where}: params must be LinearParams(w, b), got {_describe(params)}")
    for field in ("w", "b"):
        check_numbers(getattr(params, field), f"params.{field}", where=where, floating=floating)


def _check_features(w_shape, x, *, where: str) -> None:
    """``ValueError`` naming ``x`` where ``x @ w`` cannot be formed (``w`` of shape ``(d,)``)."""
    x_shape = _shape(x)
    if len(w_shape) > 1:
        raise ValueError(f"{where}: params.w must be a scalar or of shape (d,), got shape "
                         f"{tuple(w_shape)}")
    if len(w_shape) == 1 and (not x_shape or x_shape[-1] != w_shape[0]):
        raise ValueError(f"{where}: x must have {w_shape[0]} features (shape (n, {w_shape[0]})) "
                         f"to match params.w, got shape {tuple(x_shape)}")


def predict(params: LinearParams, x: jax.Array) -> jax.Array:
    """Predicted extra delay: ``prediction = w * x + b``.

    With one feature ``x`` has shape ``()`` or ``(n,)`` (or ``(n, 1)``, one
    column) and ``w`` is a scalar; the prediction has shape ``()`` or ``(n,)``.
    With ``d`` features ``x`` has shape ``(n, d)``, ``w`` shape ``(d,)`` and the
    prediction is ``x @ w + b``.

    Raises:
      TypeError: ``params`` is not ``LinearParams`` of real numbers, or ``x`` is
        not numbers (one line naming the argument).
      ValueError: ``x`` has another number of features than ``w``.

    Example:
      >>> float(predict(LinearParams(w=1.0, b=0.0), 2.0))
      2.0
    """
    check_params(params, where="predict")
    check_numbers(x, "x", where="predict")
    _check_features(_shape(params.w), x, where="predict")
    return _predict(params, x)


def _predict(params: LinearParams, x: jax.Array) -> jax.Array:
    w, x = jnp.asarray(params.w), jnp.asarray(x)
    if w.ndim == 0:
        if x.ndim == 2 and x.shape[1] == 1:  # one feature as a column: its values
            x = x[:, 0]
        return w * x + params.b
    return x @ w + params.b


def half_squared_error(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """Elementwise ``0.5 * (prediction - target) ** 2``.

    The 1/2 cancels the 2 of the square's derivative, so
    ``d loss / d prediction = prediction - target``.

    Raises:
      ValueError: if the shapes differ. Silent broadcasting of a ``(n,)``
        prediction against a ``(n, 1)`` target would compute an ``(n, n)``
        loss, the classic bug; this function refuses instead.

    Example:
      >>> float(half_squared_error(2.0, 6.0))
      8.0
    """
    if jnp.shape(prediction) != jnp.shape(target):
        raise ValueError(
            f"half_squared_error: prediction shape {jnp.shape(prediction)} != "
            f"target shape {jnp.shape(target)}; refusing to broadcast"
        )
    return 0.5 * (prediction - target) ** 2


def mean_loss(params: LinearParams, x: jax.Array, y: jax.Array, *, objective=None) -> jax.Array:
    """Mean half squared error ``L = (1/n) sum_i 0.5 (w x_i + b - y_i)^2``.

    With ``objective`` (:func:`functional_training.objective`), that objective's
    loss instead: any model kind's parameters, any loss kind, plus its L2 penalty.

    Example:
      >>> import jax.numpy as jnp
      >>> x, y = jnp.array([1.0, 2.0, 3.0]), jnp.array([3.0, 5.0, 7.0])
      >>> round(float(mean_loss(LinearParams(0.0, 0.0), x, y)), 4)
      13.8333
    """
    if objective is not None:
        return objective.mean_loss(params, x, y)
    _check_loss_arguments(params, x, y, where="mean_loss")
    return _mean_loss(params, x, y)


def _check_loss_arguments(params, x, y, *, where: str, floating: bool = False) -> None:
    check_params(params, where=where, floating=floating)
    check_numbers(x, "x", where=where)
    check_numbers(y, "y", where=where)
    w_shape, x_shape, y_shape = _shape(params.w), _shape(x), _shape(y)
    _check_features(w_shape, x, where=where)
    n_shape = x_shape if not w_shape else x_shape[:-1]
    if y_shape != n_shape:
        raise ValueError(f"{where}: y must have one target per example, shape {n_shape}, "
                         f"got shape {y_shape}")


def _mean_loss(params: LinearParams, x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean(half_squared_error(_predict(params, x), jnp.asarray(y)))


def loss_and_grad(
    params: LinearParams, x: jax.Array, y: jax.Array, *, objective=None
) -> tuple[jax.Array, LinearParams]:
    """Mean loss and its gradient, by reverse-mode autodiff (``jax.value_and_grad``).

    With ``objective`` (:func:`functional_training.objective`): that objective's
    loss and its gradient, a pytree like ``params`` (e.g. ``MLPParams``).

    For the linear model ``dL/dw = mean((w x + b - y) x)`` and
    ``dL/db = mean(w x + b - y)``.

    Example:
      >>> loss, grads = loss_and_grad(LinearParams(1.0, 0.0), 2.0, 6.0)
      >>> float(loss), float(grads.w), float(grads.b)
      (8.0, -8.0, -4.0)
    """
    if objective is not None:
        return objective.loss_and_grad(params, x, y)
    _check_loss_arguments(params, x, y, where="loss_and_grad", floating=True)
    return jax.value_and_grad(_mean_loss)(params, x, y)


def sgd_step(
    params: LinearParams, x: jax.Array, y: jax.Array, learning_rate: jax.Array | float
) -> tuple[LinearParams, jax.Array, LinearParams]:
    """One plain gradient-descent step ``theta <- theta - lr * dL/dtheta``.

    Pure and jit-compatible; ``learning_rate`` is an ordinary (traced)
    argument, so ``jax.vmap(sgd_step, in_axes=(None, None, None, 0))`` runs
    many rates at once.

    Returns:
      ``(new_params, loss, grads)`` where ``loss`` and ``grads`` were taken at
      the old ``params``.

    Example:
      >>> new, loss, grads = sgd_step(LinearParams(1.0, 0.0), 2.0, 6.0, 0.1)
      >>> round(float(new.w), 6), round(float(new.b), 6), float(loss)
      (1.8, 0.4, 8.0)
    """
    _check_loss_arguments(params, x, y, where="sgd_step", floating=True)
    check_numbers(learning_rate, "learning_rate", where="sgd_step")
    loss, grads = jax.value_and_grad(_mean_loss)(params, x, y)
    new_params = jax.tree.map(lambda p, g: p - learning_rate * g, params, grads)
    return new_params, loss, grads
