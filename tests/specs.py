"""Spec-file text for tests: the lesson's three shipments from zero parameters, plain SGD."""

from __future__ import annotations


def shipments_spec(name: str, *, learning_rate: float, steps: int,
                   description: str | None = None) -> str:
    """A valid spec file; tests edit its lines to make it invalid or change the run."""
    about = "" if description is None else f'description = "{description}"\n'
    return f"""\
name = "{name}"
{about}[data]
train = [[1.0, 3.0], [2.0, 5.0], [3.0, 7.0]]
[model]
w = 0.0
b = 0.0
[optimizer]
name = "sgd"
learning_rate = {learning_rate}
[run]
steps = {steps}
"""


MLP_SPEC = """
name = "mlp-hinge"
[data]
train = [[0.0, 1.0, 1.0], [1.0, 0.0, -1.0], [0.5, 0.5, 1.0], [-1.0, 0.3, -1.0],
         [0.2, -0.7, 1.0], [0.9, 0.1, -1.0]]
[model]
kind = "mlp"
sizes = [2, 4, 1]
activation = "tanh"
init = "seeded"
seed = 2
[loss]
kind = "hinge"
l2 = 1e-3
[optimizer]
name = "adam"
[schedule]
kind = "cosine"
init_value = 0.05
decay_steps = 20
[run]
steps = 24
batch_size = 3
"""
"""A spec of every table: a seeded 2-4-1 tanh network, hinge loss with L2, adam on a cosine
schedule, mini-batches of 3 from 6 examples."""
