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
