"""The loss-landscape figure: the trained moons network's loss on a random 2-D slice.

After Li et al., "Visualizing the Loss Landscape of Neural Nets" (NeurIPS
2018). With ``theta*`` the verified final parameters of :data:`LANDSCAPE_EXPERIMENT`
(micrograd's 2-16-16-1 ReLU network, hinge loss + L2, 100 SGD steps) the
figure draws

    f(alpha, beta) = L(theta* + alpha d_1 + beta d_2)

on two square grids of :data:`LANDSCAPE_CELLS` + 1 points per side: over
``[-1, 1]^2`` (Li et al.'s range) and zoomed to a square just holding the
projected path; ``L`` is the training loss the trajectory records (mean hinge
loss plus the L2 penalty).

Directions (:func:`filter_normalised_direction`): each ``d`` is drawn from
``numpy.random.default_rng(LANDSCAPE_SEED)`` (``d_1`` first, then ``d_2``,
layer by layer, each weight matrix of shape ``(fan_in, fan_out)`` as one
standard-normal draw) and filter-normalised: for a dense layer a filter is
one output unit's incoming weights, column ``j`` of the layer's ``w``, and
``d[:, j]`` is scaled to the norm of ``theta*[:, j]``:

    d[:, j] <- d[:, j] * ||theta*[:, j]|| / ||d[:, j]||.

Biases get direction 0 (Li et al.'s reference code does the same for biases
with its default ``ignore = "biasbn"``), so the slice moves weights only.

The grid is computed in JAX (one ``vmap`` of the run's own
:class:`functional_training.Objective`), in float64, and spot-checked at six
points of each grid (corners, centre, one inner point) against the hand-written forward and loss on
Python floats (the ``manual`` backend's, :func:`comparisons.models.model_pieces`
and :mod:`comparisons.losses`); the centre must also equal the verified
final training loss. Values are stored rounded to 10 significant digits, so a
last-bit difference between CPUs in XLA's sums does not change the committed
data.

The training path ``theta_0 .. theta_S`` is projected onto the plane by least
squares: ``(alpha_k, beta_k)`` minimises ``||theta_k - theta* - alpha d_1 -
beta d_2||`` (the 2 x 2 normal equations, Python floats). Two random
directions in 337 dimensions are nearly orthogonal to the path, so the
projection keeps only a share of it (:func:`captured_share`, stated in the
caption) and a path point's drawn position is not where its loss was taken.

Example:
  >>> [row.name for row in LANDSCAPE_FIGURES]
  ['loss-landscape']
  >>> LANDSCAPE_SEED, LANDSCAPE_CELLS
  (0, 40)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import jax
import numpy as np
from matplotlib.figure import Figure

import functional_training as ft
from comparisons import plots
from comparisons.experiments import REGISTRY, Experiment
from comparisons.figures.grids import grid_axis
from comparisons.figures.kind import FigureSpec
from comparisons.figures.verified import require_close
from comparisons.figures.wording import backends_phrase, num, percent
from comparisons.losses import loss_pieces, manual_l2
from comparisons.models import model_pieces

__all__ = [
    "LANDSCAPE_CELLS",
    "LANDSCAPE_EXPERIMENT",
    "LANDSCAPE_FIGURES",
    "LANDSCAPE_SEED",
    "captured_share",
    "filter_normalised_direction",
    "landscape_data",
    "project_path",
]

LANDSCAPE_EXPERIMENT = "mlp/moons"
"""The trained network whose landscape is drawn (the moons figures' run)."""

LANDSCAPE_SEED = 0
"""Seed of ``numpy.random.default_rng`` that draws both directions."""

LANDSCAPE_CELLS = 40
"""Grid cells per side: 41 x 41 = 1681 losses."""

STORED_DIGITS = 10
"""Significant digits of the stored grid losses (see the module docstring)."""


def _scalar_layout(experiment: Experiment) -> list[tuple[str, tuple[int, ...], list[str]]]:
    """``(leaf, shape, scalar names in row-major order)`` for every leaf of the model."""
    kind = ft.model_kind(experiment.model)
    return [(leaf, shape, [ft.scalar_name(leaf, index) for index in np.ndindex(*shape)])
            for leaf, shape in kind.shapes(**experiment.model_config).items()]


def filter_normalised_direction(rng: np.random.Generator, experiment: Experiment,
                                values: Mapping[str, float]) -> dict[str, float]:
    """One random direction, filter-normalised to ``values`` (see the module docstring).

    Every weight matrix (a 2-D leaf, ``(fan_in, fan_out)``) is one standard-normal
    draw of its shape, then column ``j`` is scaled to the norm of ``values``'
    column ``j`` (norms with ``math.fsum``); biases (1-D leaves) get 0.

    Example:
      >>> e = REGISTRY[LANDSCAPE_EXPERIMENT]
      >>> d = filter_normalised_direction(np.random.default_rng(0), e, e.init)
      >>> column = [f"layers.0.w[{i},3]" for i in range(2)]
      >>> math.isclose(math.hypot(*(d[n] for n in column)),
      ...              math.hypot(*(e.init[n] for n in column)))
      True
      >>> d["layers.0.b[3]"]
      0.0
    """
    direction: dict[str, float] = {}
    for _, shape, names in _scalar_layout(experiment):
        if len(shape) != 2:
            direction.update(dict.fromkeys(names, 0.0))
            continue
        draw = rng.standard_normal(shape).tolist()
        theta = np.asarray([values[n] for n in names], dtype=np.float64).reshape(shape).tolist()
        fan_in, fan_out = shape
        for j in range(fan_out):
            target = math.sqrt(math.fsum(theta[i][j] ** 2 for i in range(fan_in)))
            norm = math.sqrt(math.fsum(draw[i][j] ** 2 for i in range(fan_in)))
            for i in range(fan_in):
                draw[i][j] = draw[i][j] * target / norm
        flat = [v for row in draw for v in row]
        direction.update(zip(names, flat, strict=True))
    return direction


def _dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    return math.fsum(a[n] * b[n] for n in a)


def project_path(path: Sequence[Mapping[str, float]], centre: Mapping[str, float],
                 d1: Mapping[str, float], d2: Mapping[str, float]) -> tuple[list, list]:
    """Least-squares ``(alpha_k, beta_k)`` of each ``theta_k - centre`` on ``d1``, ``d2``.

    Solves ``[[d1.d1, d1.d2], [d1.d2, d2.d2]] (alpha, beta) = (d1.D, d2.D)`` by
    Cramer's rule (dot products with ``math.fsum``).

    Example:
      >>> project_path([{"x": 2.0, "y": 3.0, "z": 5.0}], {"x": 0.0, "y": 0.0, "z": 0.0},
      ...              {"x": 1.0, "y": 0.0, "z": 0.0}, {"x": 0.0, "y": 1.0, "z": 0.0})
      ([2.0], [3.0])
    """
    a11, a12, a22 = _dot(d1, d1), _dot(d1, d2), _dot(d2, d2)
    det = a11 * a22 - a12 * a12
    alphas, betas = [], []
    for theta in path:
        delta = {n: theta[n] - centre[n] for n in centre}
        r1, r2 = _dot(d1, delta), _dot(d2, delta)
        alphas.append((r1 * a22 - a12 * r2) / det)
        betas.append((a11 * r2 - a12 * r1) / det)
    return alphas, betas


def captured_share(theta: Mapping[str, float], centre: Mapping[str, float],
                   d1: Mapping[str, float], d2: Mapping[str, float]) -> float:
    """``||alpha d1 + beta d2||^2 / ||theta - centre||^2``: how much of the offset the plane holds.

    Example:
      >>> captured_share({"x": 3.0, "y": 4.0, "z": 0.0}, {"x": 0.0, "y": 0.0, "z": 0.0},
      ...                {"x": 1.0, "y": 0.0, "z": 0.0}, {"x": 0.0, "y": 0.0, "z": 1.0})
      0.36
    """
    (alpha,), (beta,) = project_path([theta], centre, d1, d2)
    delta = {n: theta[n] - centre[n] for n in centre}
    plane = {n: alpha * d1[n] + beta * d2[n] for n in centre}
    return _dot(plane, plane) / _dot(delta, delta)


def _grid_losses(experiment: Experiment, centre: Mapping[str, float], d1: Mapping[str, float],
                 d2: Mapping[str, float], alphas: Sequence[float],
                 betas: Sequence[float]) -> np.ndarray:
    """``L(centre + alpha_i d1 + beta_j d2)`` for every ``(i, j)``, in JAX (one vmap), float64."""
    layout = _scalar_layout(experiment)
    a, b = np.meshgrid(np.asarray(alphas), np.asarray(betas), indexing="ij")
    a, b = a.reshape(-1, 1), b.reshape(-1, 1)
    leaves = {}
    for leaf, shape, names in layout:
        c = np.asarray([centre[n] for n in names], dtype=np.float64)
        u = np.asarray([d1[n] for n in names], dtype=np.float64)
        v = np.asarray([d2[n] for n in names], dtype=np.float64)
        leaves[leaf] = (c + a * u + b * v).reshape(-1, *shape)
    objective = ft.objective(experiment.model, loss=experiment.loss, l2=experiment.l2,
                             **experiment.model_config)
    x = np.asarray(experiment.x_rows, dtype=np.float64)
    y = np.asarray([row[-1] for row in experiment.train], dtype=np.float64)
    with ft.float64():
        params = ft.model_kind(experiment.model).build(leaves)
        losses = jax.vmap(lambda p: objective.mean_loss(p, x, y))(params)
        return np.asarray(losses, dtype=np.float64).reshape(len(alphas), len(betas))


def _manual_loss(experiment: Experiment, values: Mapping[str, float]) -> float:
    """The training loss on Python floats: the hand-written forward, loss and L2 (``manual``)."""
    model, loss = model_pieces(experiment.model), loss_pieces(experiment.loss)
    total = 0.0
    for row in experiment.train:
        output = model.manual_predict(values, list(row[:-1]), **experiment.model_config)
        total += loss.manual(output, row[-1])[0]
    return total / len(experiment.train) + manual_l2(values, experiment.l2)[0]


def _rounded(value: float) -> float:
    return float(f"{value:.{STORED_DIGITS}g}")


def _half_width(alphas: Sequence[float], betas: Sequence[float], *, pad: float) -> float:
    """Half-width of a square around 0 holding the path: its farthest coordinate times ``pad``,
    rounded up to 1, 2 or 5 times a power of ten.

    Example:
      >>> _half_width([0.05, -0.061], [0.0], pad=1.25)
      0.1
    """
    far = pad * max(max(map(abs, alphas)), max(map(abs, betas)))
    unit = 10.0 ** math.floor(math.log10(far))
    return next(float(f"{m * unit:.12g}") for m in (1, 2, 5, 10) if m * unit >= far)


def _slice(figure: str, experiment: Experiment, centre: Mapping[str, float],
           d1: Mapping[str, float], d2: Mapping[str, float], span: float, cells: int,
           tol: float) -> dict:
    """The loss on a ``(cells + 1)^2`` grid over ``[-span, span]^2``, checked (module docstring)."""
    axis = grid_axis(-span, span, cells)
    grid = _grid_losses(experiment, centre, d1, d2, axis, axis)
    for i, j in _spot_checks(cells):
        point = {n: centre[n] + axis[i] * d1[n] + axis[j] * d2[n] for n in centre}
        require_close(figure, f"the JAX loss at alpha = {axis[i]:g}, beta = {axis[j]:g}",
                      _manual_loss(experiment, point), float(grid[i, j]), tol)
    # loss[j][i] at (alphas[i], betas[j]), as contour plots take it
    return {"span": span, "alphas": axis, "betas": axis,
            "loss": [[_rounded(float(grid[i, j])) for i in range(cells + 1)]
                     for j in range(cells + 1)],
            "centre_loss": float(grid[cells // 2, cells // 2])}


def _spot_checks(cells: int) -> tuple[tuple[int, int], ...]:
    """The corners, the centre and one inner point of a grid of ``cells`` per side."""
    return ((0, 0), (0, cells), (cells, 0), (cells, cells), (cells // 2, cells // 2),
            (cells // 4, 3 * cells // 4))


def landscape_data(experiment: Experiment, run: ft.TrajectoryRecord, tol: float, *,
                   seed: int = LANDSCAPE_SEED, cells: int = LANDSCAPE_CELLS) -> dict:
    """Everything the loss-landscape figure draws, computed and checked (module docstring).

    Two slices of the same plane: ``wide`` over ``[-1, 1]^2`` (Li et al.'s range)
    and ``zoom``, a square just holding the projected path, each with ``cells``
    cells per side.

    Raises:
      UnverifiedTrajectoryError: the JAX grid disagrees with the hand-written loss at a
        spot check, or its centre with the verified final training loss.
    """
    names = list(run.params)
    steps = len(run.train_loss) - 1
    path = [{n: run.params[n][k] for n in names} for k in range(steps + 1)]
    centre = path[-1]
    rng = np.random.default_rng(seed)
    d1 = filter_normalised_direction(rng, experiment, centre)
    d2 = filter_normalised_direction(rng, experiment, centre)
    alphas, betas = project_path(path, centre, d1, d2)
    figure = "loss-landscape"
    wide = _slice(figure, experiment, centre, d1, d2, 1.0, cells, tol)
    zoom = _slice(figure, experiment, centre, d1, d2, _half_width(alphas, betas, pad=1.25),
                  cells, tol)
    for part in (wide, zoom):
        require_close(figure, "the grid's centre (the trained network)", run.train_loss[-1],
                      part.pop("centre_loss"), tol)
    return {
        "seed": seed, "wide": wide, "zoom": zoom,
        "path_alpha": alphas, "path_beta": betas, "path_loss": run.train_loss,
        "captured_share": captured_share(path[0], centre, d1, d2),
        "steps": steps, "parameters": len(names), "spot_checks": len(_spot_checks(cells)),
    }


def _draw_landscape(fig: Figure, data: Mapping) -> None:
    plots.plot_loss_landscape(list(fig.subplots(1, 2)), **{k: data[k] for k in (
        "wide", "zoom", "path_alpha", "path_beta", "path_loss")})


def _range(part: Mapping) -> tuple[float, float]:
    return min(min(row) for row in part["loss"]), max(max(row) for row in part["loss"])


def _centre(part: Mapping) -> float:
    """The stored loss at the grid's centre, ``theta*``."""
    return part["loss"][len(part["betas"]) // 2][len(part["alphas"]) // 2]


def _lowest(part: Mapping) -> str:
    """Where the grid's loss is lowest, as the alt text words it."""
    low = _range(part)[0]
    if low == _centre(part):
        return f"with the trained network at its lowest point in the centre (loss {num(low, 3)})"
    j, i = next((j, i) for j, row in enumerate(part["loss"]) for i, v in enumerate(row)
                if v == low)
    return (f"with the trained network in the centre (loss {num(_centre(part), 3)}) and its "
            f"lowest point, {num(low, 3)}, at ({part['alphas'][i]:g}, {part['betas'][j]:g})")


def _caption(d: Mapping, c: Mapping) -> str:
    experiment = REGISTRY[LANDSCAPE_EXPERIMENT]
    sizes = "-".join(str(s) for s in experiment.model_settings["sizes"])
    wide, zoom = d["wide"], d["zoom"]
    cells = len(wide["alphas"])
    low, high = _range(wide)
    where = "at θ*" if low == _centre(wide) else "off θ*"
    return (
        f"The training loss (mean hinge loss + L2 penalty {experiment.l2:g}) of the trained "
        f"{sizes} ReLU network of the moons figures on a 2-D slice through its final "
        f"parameters θ*: L(θ* + α d₁ + β d₂), left over [−{wide['span']:g}, "
        f"{wide['span']:g}]² (from {num(low, 3)} {where} to {num(high, 3)}), right zoomed to "
        f"[−{zoom['span']:g}, {zoom['span']:g}]² around the training path; {cells} × {cells} "
        "grid points each, log-spaced contours. "
        f"d₁ and d₂ are random directions (numpy.random.default_rng({d['seed']}), d₁ drawn "
        "first) filter-normalised after Li et al. (2018): in each layer, an output unit's "
        "incoming weights (one column of the layer's weight matrix) are scaled to the norm "
        "of the same column of θ*; biases get direction 0. The grids are computed in JAX "
        "(vmap, float64), checked against the hand-written Python-float loss at "
        f"{d['spot_checks']} points of each, and their centre equals the verified final "
        f"loss. The training path θ₀ … θ_{d['steps']} is projected onto the plane by least "
        "squares (α, β minimise ‖θₖ − θ* − α d₁ − β d₂‖): random directions in "
        f"{d['parameters']} dimensions are nearly orthogonal to it, so the plane holds only "
        f"{percent(d['captured_share'])} of the start's squared distance from θ*, and the "
        "path's own losses (the labels) were taken off the plane. The run is the verified "
        f"reference trajectory ({backends_phrase(c)})."
    )


def _alt(d: Mapping) -> str:
    wide, zoom = d["wide"], d["zoom"]
    high = _range(wide)[1]
    return (
        "Two contour maps of the loss over two random directions α and β. Left, from −"
        f"{wide['span']:g} to {wide['span']:g}: a tilted valley {_lowest(wide)}, rising to "
        f"{num(high, 3)} towards the edges; the projected training path is a short stroke "
        "at the centre. "
        f"Right, zoomed to ±{zoom['span']:g}: the path's {d['steps'] + 1} points run from "
        f"({num(d['path_alpha'][0], 2)}, {num(d['path_beta'][0], 2)}), where the loss was "
        f"{num(d['path_loss'][0], 3)}, to the centre, loss {num(d['path_loss'][-1], 3)}."
    )


LANDSCAPE_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "loss-landscape",
        lambda d: "The trained network sits in a basin of a random 2-D slice of its loss",
        _draw_landscape, _caption, _alt,
        (LANDSCAPE_EXPERIMENT,),
        lambda v: landscape_data(REGISTRY[LANDSCAPE_EXPERIMENT], v.ref(LANDSCAPE_EXPERIMENT),
                                 v.tolerance),
        summary="the trained moons network's loss on a random filter-normalised 2-D slice",
    ),
)
"""The loss-landscape figure (one row)."""
