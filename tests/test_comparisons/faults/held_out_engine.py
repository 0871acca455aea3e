"""A user's own scalar autograd engine and the line trained with it: the ``+=`` -> ``=`` bug.

A dozen lines of reverse-mode differentiation on Python floats (a node keeps its
parents and its local derivatives; ``backward`` walks a depth-first topological
order in reverse), written for this test and not from comparisons' engine or
variants. The model is the project's ``linear`` kind under half-squared-error,
batch mean, plain SGD (the batch order of the spec: one
``default_rng(seed).permutation(n)`` per epoch). ``bug="overwrite"`` makes every
backward rule assign its contribution to a parent (``=``) instead of adding it
(``+=``): a node used by several others keeps one consumer's share.
"""

from __future__ import annotations

import numpy as np


class Node:
    """A float in the graph: ``value``, ``grad``, its parents and d(self)/d(parent)."""

    def __init__(self, value: float, parents=(), local=()) -> None:
        self.value, self.grad, self.parents, self.local = value, 0.0, parents, local

    def __add__(self, other):
        other = other if isinstance(other, Node) else Node(other)
        return Node(self.value + other.value, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        other = other if isinstance(other, Node) else Node(other)
        return Node(self.value * other.value, (self, other), (other.value, self.value))

    def squared(self):
        return Node(self.value * self.value, (self,), (2.0 * self.value,))

    def backward(self, *, overwrite: bool = False) -> None:
        order, seen, stack = [], set(), [(self, False)]
        while stack:  # depth-first, post-order, without recursion
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.parents))
        self.grad = 1.0
        for node in reversed(order):
            for parent, d in zip(node.parents, node.local, strict=True):
                if overwrite:
                    parent.grad = node.grad * d  # BUG: = instead of +=
                else:
                    parent.grad += node.grad * d


def _names(e) -> list[str]:
    return ["w"] if e.features == 1 else [f"w[{i}]" for i in range(e.features)]


def train(e, bug: str | None = None) -> dict:
    """Train the line ``e`` (half-squared-error, SGD) on the engine; what a user records."""
    names = [*_names(e), "b"]
    values = {n: e.init[n] for n in names}
    rows = [tuple(r) for r in e.train]
    order = None
    if e.batch_size is not None:
        rng, order = np.random.default_rng(e.seed), []
        while len(order) < e.steps:
            perm = rng.permutation(len(rows))
            order += [[int(i) for i in perm[j * e.batch_size:(j + 1) * e.batch_size]]
                      for j in range(len(rows) // e.batch_size)]
        order = order[:e.steps]
    params = {n: [] for n in names}
    grads = {n: [] for n in names}
    losses = []
    rate = e.hyperparams["learning_rate"]
    for k in range(e.steps):
        batch = rows if order is None else [rows[i] for i in order[k]]
        nodes = {n: Node(v) for n, v in values.items()}
        total = None
        for row in batch:
            s = nodes["b"]
            for i, n in enumerate(names[:-1]):
                s = nodes[n] * row[i] + s
            term = (s + (-row[-1])).squared() * 0.5
            total = term if total is None else total + term
        loss = total * (1.0 / len(batch))
        loss.backward(overwrite=bug == "overwrite")
        for n in names:
            params[n].append(values[n])
            grads[n].append(nodes[n].grad)
            values[n] = values[n] - rate * nodes[n].grad
        losses.append(loss.value)
    for n in names:
        params[n].append(values[n])
    traj = {"params": params, "grads": grads, "batch_loss": losses}
    if order is not None:
        traj["batches"] = order
    return traj
