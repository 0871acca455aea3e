"""The lesson's model, loss and gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from functional_training._params import LinearParams


def predict(params: LinearParams, x: jax.Array) -> jax.Array:
    """Predicted extra delay: ``prediction = w * x + b``.

    With one feature ``x`` has shape ``()`` or ``(n,)`` and ``w`` is a scalar;
    with ``d`` features ``x`` has shape ``(n, d)``, ``w`` shape ``(d,)`` and
    the prediction is ``x @ w + b``.

    Example:
      >>> float(predict(LinearParams(w=1.0, b=0.0), 2.0))
      2.0
    """
    w = jnp.asarray(params.w)
    if w.ndim == 0:
        return w * x + params.b
    return jnp.asarray(x) @ w + params.b


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


def mean_loss(params: LinearParams, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean half squared error ``L = (1/n) sum_i 0.5 (w x_i + b - y_i)^2``.

    Example:
      >>> import jax.numpy as jnp
      >>> x, y = jnp.array([1.0, 2.0, 3.0]), jnp.array([3.0, 5.0, 7.0])
      >>> round(float(mean_loss(LinearParams(0.0, 0.0), x, y)), 4)
      13.8333
    """
    return jnp.mean(half_squared_error(predict(params, x), jnp.asarray(y)))


def loss_and_grad(
    params: LinearParams, x: jax.Array, y: jax.Array
) -> tuple[jax.Array, LinearParams]:
    """Mean loss and its gradient, by reverse-mode autodiff (``jax.value_and_grad``).

    For the linear model ``dL/dw = mean((w x + b - y) x)`` and
    ``dL/db = mean(w x + b - y)``.

    Example:
      >>> loss, grads = loss_and_grad(LinearParams(1.0, 0.0), 2.0, 6.0)
      >>> float(loss), float(grads.w), float(grads.b)
      (8.0, -8.0, -4.0)
    """
    return jax.value_and_grad(mean_loss)(params, x, y)


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
    loss, grads = loss_and_grad(params, x, y)
    new_params = jax.tree.map(lambda p, g: p - learning_rate * g, params, grads)
    return new_params, loss, grads
