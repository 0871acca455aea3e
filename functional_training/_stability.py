"""When does full-batch gradient descent diverge? The analytic limit and the observed one."""

from __future__ import annotations

import numpy as np

from functional_training._train import check_data


def loss_hessian(x, y) -> np.ndarray:
    """Hessian of the mean half squared error with respect to ``(w, b)``, in float64.

    The loss ``L = (1/n) sum_i 0.5 (w . x_i + b - y_i)^2`` is quadratic, so its
    Hessian is constant: with the design matrix ``A = [x, 1]`` (``n x (d+1)``),
    ``H = A^T A / n``. It does not depend on ``y`` or on the parameters.

    Args:
      x: features, shape ``(n,)`` or ``(n, d)``.
      y: targets, shape ``(n,)`` (validated, unused by the Hessian).

    Returns:
      ``H``, shape ``(d + 1, d + 1)``: ``w``'s entries first, ``b`` last.

    Example:
      >>> loss_hessian([2.0], [6.0]).tolist()
      [[4.0, 2.0], [2.0, 1.0]]
    """
    x_np, _ = check_data(x, y)
    x_np = x_np.astype(np.float64).reshape(x_np.shape[0], -1)
    design = np.hstack([x_np, np.ones((x_np.shape[0], 1))])
    return design.T @ design / x_np.shape[0]


def stability_limit(x, y) -> float:
    """Largest stable learning rate of full-batch gradient descent: ``2 / lambda_max(H)``.

    Gradient descent on a quadratic moves the error along each eigenvector of
    the Hessian ``H`` (see :func:`loss_hessian`) by the factor
    ``1 - lr lambda_i`` per step, so it converges for ``lr < 2 / lambda_max``
    and the component along the top eigenvector grows, with alternating sign,
    for ``lr > 2 / lambda_max``. For the lesson's one shipment ``x = 2``,
    ``H = [[4, 2], [2, 1]]`` has ``lambda_max = 5``: the limit is 0.4, which is
    why the lesson's ``lr = 0.5`` blows up.

    Args:
      x: features, shape ``(n,)`` or ``(n, d)``.
      y: targets, shape ``(n,)``.

    Returns:
      ``2 / lambda_max`` as a float (float64 eigenvalues, ``numpy.linalg.eigvalsh``).

    Example:
      >>> round(stability_limit([2.0], [6.0]), 12)
      0.4
    """
    return 2.0 / float(np.linalg.eigvalsh(loss_hessian(x, y))[-1])


def observed_divergence(learning_rates, losses, first_nonfinite_step=None) -> float | None:
    """The smallest rate of a sweep at which some run diverged, or ``None`` if none did.

    A run diverged when its last recorded loss is non-finite or larger than its
    first, or (if given) its ``first_nonfinite_step`` is not -1; a rate diverged when
    one of its runs (seeds) did. Below the stability limit full-batch gradient
    descent on this quadratic never increases the loss, so with enough steps the
    answer lands just above :func:`stability_limit`, closer the finer the rate grid
    and the longer the run.

    Args:
      learning_rates: shape ``(L,)``.
      losses: shape ``(L, R)`` with ``R >= 1`` (e.g. ``SweepResult.losses``), or
        ``(L, Z, R)`` with a seed axis.
      first_nonfinite_step: optional shape ``(L,)`` (``(L, Z)``), -1 where none.

    Example:
      >>> observed_divergence([0.1, 0.3, 0.5], [[8.0, 1.0], [8.0, 0.1], [8.0, 205.0]])
      0.5
      >>> observed_divergence([0.1, 0.3], [[[8.0, 1.0], [8.0, 2.0]], [[8.0, 1.0], [8.0, 9.0]]])
      0.3
    """
    rates = np.asarray(learning_rates, np.float64)
    losses = np.asarray(losses, np.float64)
    if losses.ndim not in (2, 3) or losses.shape[0] != rates.shape[0] or losses.shape[-1] == 0:
        raise ValueError(
            f"losses must have shape (L={rates.shape[0]}, R >= 1) or (L, Z, R), "
            f"got {losses.shape}"
        )
    last = losses[..., -1]
    with np.errstate(invalid="ignore"):
        diverged = ~np.isfinite(last) | (last > losses[..., 0])
    if first_nonfinite_step is not None:
        diverged |= np.asarray(first_nonfinite_step).reshape(diverged.shape) >= 0
    diverged = diverged.reshape(rates.shape[0], -1).any(axis=1)
    return float(rates[diverged].min()) if diverged.any() else None
