"""A scalar reverse-mode autograd engine: one number per node, every step visible.

Each :class:`Value` holds a Python float ``data``, a float ``grad`` (dL/d this
node after :meth:`Value.backward`), the tuple of parents it was computed from
and the local backward rule of the operation that made it. Every operation
builds its output and a small closure that *accumulates* (``+=``) the chain
rule into its parents::

    out = a * b            # forward:  out.data = a.data * b.data
    a.grad += b.data * g   # backward: g = dL/dout arriving at out
    b.grad += a.data * g

Derived operations reuse primitives: ``a - b`` is ``a + (-b)`` and ``-a`` is
``a * -1``. Division is a primitive of its own, as in PyTorch (``a * b ** -1``
would round twice and overflow early; see :meth:`Value.__truediv__`). Plain
numbers (``int``, ``float``, ``bool``, any ``numbers.Real``) may stand on
either side of an operator; they are constants baked into the closure, as
PyTorch bakes Python scalars into its graph, so they get no node and no
gradient.

Values and gradients follow PyTorch float64, IEEE specials included:
``log(0) = -inf`` (gradient ``inf``), ``log(-1) = nan``, ``exp(1000) = inf``,
``1 / 0 = inf`` and ``0 ** -1 = inf`` where plain Python would raise. The
kernels PyTorch specialises (``x ** 2`` is ``x * x``, ``x ** -1`` is ``1 / x``,
...) are specialised the same way, and :meth:`Value.backward` visits nodes in
the order PyTorch's autograd engine does (newest first), so additions and
multiplications round exactly as PyTorch's do; ``exp``, ``log``, ``tanh``
and non-special powers come from the C library and may differ from PyTorch's
vectorised kernels in the last bit or two. Only a non-number operand is an
error: ``TypeError`` naming it.

Example:
    The lesson's shipment-delay loss, L = 0.5 * (w * x + b - target) ** 2:

    >>> w, b = Value(1.0), Value(0.0)
    >>> loss = 0.5 * (w * 2.0 + b - 6.0) ** 2
    >>> loss.backward()
    >>> loss.data, w.grad, b.grad
    (8.0, -8.0, -4.0)
    >>> loss.backward()  # a second sweep adds one more copy into the leaves
    >>> w.grad, b.grad
    (-16.0, -8.0)
    >>> zero_grad([w, b])
    >>> w
    Value(data=1.0, grad=0.0)
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import attrgetter

__all__ = [
    "Value",
    "ancestry",
    "ieee_exp",
    "ieee_log",
    "no_cycle_collection",
    "to_dot",
    "weighted_sum",
    "zero_grad",
]

_INF = math.inf
_NAN = math.nan
_new_value = object.__new__
# Creation stamps: parents are always older than their children, so sorting
# by stamp, newest first, is a topological order -- the one PyTorch's engine
# uses (its sequence numbers). Only the relative order matters, so the counter
# never needs a reset.
_next_stamp = itertools.count().__next__
_by_stamp = attrgetter("_stamp")


# --- IEEE helpers: PyTorch float64 results where Python's math would raise -----


def _number(operand: object, op: str) -> float:
    """Returns a real-number ``operand`` of ``op`` as a float; else ``TypeError`` naming it."""
    if type(operand) is float:
        return operand
    if isinstance(operand, (float, int)) or isinstance(operand, numbers.Real):
        return float(operand)  # int, bool, Fraction, NumPy scalars... all as a Python float
    raise TypeError(
        f"Value {op}: operand {operand!r} of type {type(operand).__name__} "
        "is not a real number or a Value"
    )


def _div(a: float, b: float) -> float:
    """IEEE ``a / b``: ``1 / 0 = inf``, ``-1 / 0 = -inf``, ``0 / 0 = nan``."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0.0:
            return _NAN
        return math.copysign(_INF, a) * math.copysign(1.0, b)


def _sqrt(x: float) -> float:
    """IEEE square root: ``nan`` below zero, ``sqrt(-0.0) = -0.0``."""
    try:
        return math.sqrt(x)
    except ValueError:
        return _NAN


def _is_odd_integer(y: float) -> bool:
    return y % 2.0 == 1.0  # False for inf and nan


def _pow_libm(x: float, y: float) -> float:
    """C ``pow`` (IEEE/C99 special cases), as ``torch.pow`` computes a general power."""
    try:
        return math.pow(x, y)
    except ValueError:  # 0 ** negative, or negative ** non-integer
        if x == 0.0:
            return math.copysign(_INF, x) if _is_odd_integer(y) else _INF
        return _NAN
    except OverflowError:
        return -_INF if x < 0.0 and _is_odd_integer(y) else _INF


def _pow(x: float, e: float) -> float:
    """``x ** e`` for a number exponent, specialised exactly as PyTorch's kernel is."""
    if e == 2.0:
        return x * x
    if e == 3.0:
        return x * x * x
    if e == 0.5:
        return _sqrt(x)
    if e == -0.5:
        return _div(1.0, _sqrt(x))
    if e == -1.0:
        return _div(1.0, x)
    if e == -2.0:
        return _div(1.0, x * x)
    return _pow_libm(x, e)


def ieee_exp(x: float) -> float:
    """``e ** x`` with IEEE results where Python raises: ``exp(1000) = inf``.

    Example:
        >>> ieee_exp(1000.0), ieee_exp(0.0)
        (inf, 1.0)
    """
    try:
        return math.exp(x)
    except OverflowError:
        return _INF


def ieee_log(x: float) -> float:
    """Natural log with IEEE results where Python raises: ``log(0) = -inf``, ``nan`` below zero.

    Example:
        >>> ieee_log(0.0), ieee_log(-1.0)
        (-inf, nan)
    """
    try:
        return math.log(x)
    except ValueError:
        return -_INF if x == 0.0 else _NAN


# --- the engine ------------------------------------------------------------------


def _node(data: float, parents: tuple, op: str) -> Value:
    """Makes an operation's output node (no type checks: ``data`` is a float)."""
    out = _new_value(Value)
    out.data = data
    out.grad = 0.0
    out._prev = parents
    out._op = op
    out._backward = None
    out._stamp = _next_stamp()
    return out


class Value:
    """A scalar node of a computation graph, with its gradient.

    Attributes:
        data: The value, a Python float.
        grad: dL/d(this node) for the root L of the last :meth:`backward` sweep;
            on leaves, the sum over all sweeps since the last :func:`zero_grad`.

    Local backward rules, with g = dL/dout arriving at the output, each one
    accumulated (``+=``) into a parent's ``grad``::

        out = a + b         a += g;  b += g
        out = a * b         a += g * b;  b += g * a
        out = a / b         a += g / b;  b += -g * (out / b)
        out = c / a         a += -(g * c) * (r * r)       (r = 1 / a; out = r * c)
        out = a ** c        a += g * (c * a ** (c - 1))    (no rule when c == 0)
        out = a ** y        a += g * (y * a ** (y - 1))    (skipped when y == 0)
                            y += g * (out * log(a))        (g * 0 when a == 0, y >= 0)
        out = c ** a        a += g * (out * log(c))        (g * 0 when c == 0, a >= 0)
        out = relu(a)       a += g                         (only when out > 0)
        out = tanh(a)       a += g * ((1 - out) * (1 + out))
        out = exp(a)        a += g * out
        out = log(a)        a += g / a
        out = sigmoid(a)    a += g * (1 - out) * out

    (c is a number, y a Value; ``a - b`` and ``-a`` are built from these.)

    Example:
        A value reaching the loss by two paths gets the sum of both:

        >>> a = Value(3.0)
        >>> square = a * a
        >>> square.backward()
        >>> square.data, a.grad
        (9.0, 6.0)
    """

    __slots__ = ("data", "grad", "_prev", "_op", "_backward", "_stamp")

    def __init__(self, data: float) -> None:
        """Makes a leaf holding ``float(data)``; ``data`` must be a real number."""
        self.data = _number(data, "data")
        self.grad = 0.0
        self._prev = ()
        self._op = ""
        self._backward = None
        self._stamp = _next_stamp()

    # --- primitives ---

    def __add__(self, other: Value | float) -> Value:
        """a + b. Backward: both parents receive g."""
        if isinstance(other, Value):
            out = _node(self.data + other.data, (self, other), "+")

            def _backward(g: float) -> None:
                self.grad += g
                other.grad += g

        else:
            out = _node(self.data + _number(other, "+"), (self,), "+")

            def _backward(g: float) -> None:
                self.grad += g

        out._backward = _backward
        return out

    def __mul__(self, other: Value | float) -> Value:
        """a * b. Backward: d/da = b, d/db = a."""
        if isinstance(other, Value):
            out = _node(self.data * other.data, (self, other), "*")

            def _backward(g: float) -> None:
                self.grad += g * other.data
                other.grad += g * self.data

        else:
            c = _number(other, "*")
            out = _node(self.data * c, (self,), "*")

            def _backward(g: float) -> None:
                self.grad += g * c

        out._backward = _backward
        return out

    __radd__ = __add__
    __rmul__ = __mul__

    def __truediv__(self, other: Value | float) -> Value:
        """a / b. Backward: d/da = 1 / b, d/db = -(a / b) / b.

        A primitive, not ``a * b ** -1``: that form rounds twice and breaks
        down at the ends of the float range (b ** -1 is inf for a subnormal b,
        b ** -2 underflows to 0 for b > 1e154), where PyTorch's ``a / b`` and
        its gradients stay finite.
        """
        x = self.data
        if isinstance(other, Value):
            y = other.data
            quotient = _div(x, y)
            out = _node(quotient, (self, other), "/")

            def _backward(g: float) -> None:
                self.grad += _div(g, y)
                other.grad += -g * _div(quotient, y)

        else:
            c = _number(other, "/")
            out = _node(_div(x, c), (self,), "/")

            def _backward(g: float) -> None:
                self.grad += _div(g, c)

        out._backward = _backward
        return out

    def __rtruediv__(self, other: float) -> Value:
        """c / a, computed as PyTorch does: r = 1 / a, then r * c.

        Backward: d/da = -c * r * r, i.e. -c / a ** 2.
        """
        c = _number(other, "/")
        r = _div(1.0, self.data)
        out = _node(r * c, (self,), "/")

        def _backward(g: float) -> None:
            self.grad += -(g * c) * (r * r)

        out._backward = _backward
        return out

    def __pow__(self, exponent: Value | float) -> Value:
        """a ** c for a number c, or a ** y for a Value y.

        Backward: d/da = c * a ** (c - 1) and, for a Value exponent,
        d/dy = a ** y * log(a).

        PyTorch's conventions decide the edge cases: d/da is exactly 0 when
        c == 0 (even where a ** (c - 1) or g is infinite); d/dc is taken as 0
        when a == 0 and c >= 0 (not 0 * log(0) = nan), a 0 that is still scaled
        by g; a negative base with a non-integer exponent gives nan.
        """
        if isinstance(exponent, Value):
            return _pow_values(self, exponent)
        c = _number(exponent, "**")
        x = self.data
        out = _node(x * x if c == 2.0 else _pow(x, c), (self,), "**")  # ** 2: the hot case
        if c != 0.0:  # d(a ** 0)/da is 0 by PyTorch's convention: no rule needed
            local = c * _pow(x, c - 1.0)

            def _backward(g: float) -> None:
                self.grad += g * local

            out._backward = _backward
        return out

    def __rpow__(self, base: float) -> Value:
        """c ** a for a number base c. Backward: d/da = c ** a * log(c).

        As in PyTorch, d/da is taken as 0 where c == 0 and a >= 0 (not
        0 * log(0) = nan), and that 0 is still scaled by g (inf * 0 is nan).
        """
        c = _number(base, "**")
        y = self.data
        result = _pow_libm(c, y)
        out = _node(result, (self,), "**")
        local = 0.0 if c == 0.0 and y >= 0.0 else result * ieee_log(c)

        def _backward(g: float) -> None:
            self.grad += g * local

        out._backward = _backward
        return out

    def relu(self) -> Value:
        """max(a, 0) (nan stays nan). Backward: g where out > 0, else 0 (so 0 at a == 0)."""
        x = self.data
        result = 0.0 if x < 0.0 else x
        out = _node(result, (self,), "relu")
        if not result <= 0.0:

            def _backward(g: float) -> None:
                self.grad += g

            out._backward = _backward
        return out

    def tanh(self) -> Value:
        """tanh(a). Backward: d/da = 1 - t ** 2 for the output t.

        1 - t ** 2 is computed as (1 - t) * (1 + t): near t = 1, ``1.0 - t * t``
        would lose most digits to the rounding of t * t (PyTorch avoids the same
        loss with a fused multiply-add).
        """
        t = math.tanh(self.data)
        out = _node(t, (self,), "tanh")

        def _backward(g: float) -> None:
            self.grad += g * ((1.0 - t) * (1.0 + t))

        out._backward = _backward
        return out

    def exp(self) -> Value:
        """e ** a (``inf`` on overflow). Backward: d/da = e ** a, the output itself."""
        result = ieee_exp(self.data)
        out = _node(result, (self,), "exp")

        def _backward(g: float) -> None:
            self.grad += g * result

        out._backward = _backward
        return out

    def log(self) -> Value:
        """Natural log (``-inf`` at 0, ``nan`` below). Backward: d/da = 1 / a."""
        x = self.data
        out = _node(ieee_log(x), (self,), "log")

        def _backward(g: float) -> None:
            self.grad += _div(g, x)

        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        """s = 1 / (1 + e ** -a). Backward: d/da = (1 - s) * s, from the output."""
        s = 1.0 / (1.0 + ieee_exp(-self.data))
        out = _node(s, (self,), "sigmoid")

        def _backward(g: float) -> None:
            self.grad += g * (1.0 - s) * s

        out._backward = _backward
        return out

    # --- derived operations: built from the primitives above ---

    def __neg__(self) -> Value:
        """-a = a * -1."""
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:
        """a - b = a + (-b)."""
        if not isinstance(other, Value):
            other = _number(other, "-")
        return self + (-other)

    def __rsub__(self, other: float) -> Value:
        """c - a = (-a) + c."""
        return (-self) + _number(other, "-")

    # --- the backward sweep ---

    def backward(self) -> None:
        """Fills ``grad`` with dL/d(node) for every node this Value depends on.

        The sweep seeds this root with dL/dL = 1 and runs each node's local rule
        once, newest node first (parents are always older than their children,
        so every node has received all of its gradient before its rule runs).
        The ordering is iterative: graphs millions of nodes deep need no
        recursion limit.

        Accumulation rule (as PyTorch's ``.grad`` buffers): leaves -- Values
        made with ``Value(x)`` -- *add* this sweep's gradient to what they
        already hold, so calling ``backward()`` twice doubles them until
        :func:`zero_grad` clears them. Intermediate nodes restart from zero at
        every sweep and end holding this sweep's gradient, so repeated sweeps
        over a deep graph never compound. A leaf adds the sweep's total in one
        step (``grad = old + sweep``), so a second sweep gives exactly twice
        the first.
        """
        nodes = ancestry(self)
        nodes.sort(key=_by_stamp, reverse=True)
        leaves = []
        held = []
        for node in nodes:
            if not node._prev:
                leaves.append(node)
                held.append(node.grad)
            node.grad = 0.0
        self.grad = 1.0
        for node in nodes:
            rule = node._backward
            if rule is not None:
                rule(node.grad)
        for leaf, old in zip(leaves, held, strict=True):
            if old:  # nonzero or nan: add what the leaf held before this sweep
                leaf.grad = old + leaf.grad

    def __repr__(self) -> str:
        if self._op:
            return f"Value(data={self.data!r}, grad={self.grad!r}, op={self._op!r})"
        return f"Value(data={self.data!r}, grad={self.grad!r})"


def _pow_values(base: Value, exponent: Value) -> Value:
    """a ** y with both a Value: C ``pow`` forward, PyTorch's rules backward."""
    x, y = base.data, exponent.data
    result = _pow_libm(x, y)
    out = _node(result, (base, exponent), "**")

    def _backward(g: float) -> None:
        if y != 0.0:  # d/da is 0 where y == 0, whatever g is
            base.grad += g * (y * _pow_libm(x, y - 1.0))
        # d/dy is 0 where a == 0 and y >= 0, scaled by g all the same (inf * 0 is nan)
        exponent.grad += g * (0.0 if x == 0.0 and y >= 0.0 else result * ieee_log(x))

    out._backward = _backward
    return out


def _operands(values: Sequence[Value | float]) -> tuple[list[float], list[tuple[int, Value]]]:
    """The operands' numbers, and ``(index, node)`` for those that are Values."""
    if type(values[0]) is Value:  # the common case, every operand a node: one pass
        try:
            return [v.data for v in values], list(enumerate(values))
        except AttributeError:  # a number further on (raising costs more than this test)
            pass
    numbers_ = [v.data if isinstance(v, Value) else _number(v, "weighted_sum") for v in values]
    return numbers_, [(i, v) for i, v in enumerate(values) if isinstance(v, Value)]


def weighted_sum(
    weights: Sequence[Value | float], inputs: Sequence[Value | float], bias: Value | float = 0.0
) -> Value:
    """``w_0 x_0 + w_1 x_1 + ... + w_{n-1} x_{n-1} + bias`` as ONE node (a neuron's sum).

    Forward: each product rounded, then summed left to right, then ``+ bias``:
    exactly the values of the chain ``w_0 * x_0 + w_1 * x_1 + ... + bias`` of
    primitive nodes, in one node instead of ``2n``. Backward, for ``g`` arriving
    at the output (every operand that is a Value gets its rule; numbers are
    constants)::

        w_i += g * x_i;   x_i += g * w_i;   bias += g

    the rules of ``*`` and ``+`` composed (``+`` passes ``g`` on unchanged).
    A layer of ``k`` neurons over ``n`` inputs is ``k`` such nodes: the graph
    of a 2-16-16-1 network on 100 examples has about 3,500 nodes instead of
    64,000, so the scalar engine trains micrograd's demo in seconds.

    Example:
        >>> w0, w1, b = Value(2.0), Value(-1.0), Value(0.5)
        >>> out = weighted_sum([w0, w1], [3.0, 4.0], b)
        >>> out.backward()
        >>> out.data, w0.grad, w1.grad, b.grad
        (2.5, 3.0, 4.0, 1.0)
    """
    if len(weights) != len(inputs) or not weights:
        raise ValueError(f"weighted_sum needs as many weights as inputs (at least one), got "
                         f"{len(weights)} and {len(inputs)}")
    w, w_nodes = _operands(weights)
    x, x_nodes = _operands(inputs)
    total = w[0] * x[0]
    for i in range(1, len(w)):
        total = total + w[i] * x[i]
    b_is_value = isinstance(bias, Value)
    total = total + (bias.data if b_is_value else _number(bias, "weighted_sum"))
    parents = (*(v for _, v in w_nodes), *(v for _, v in x_nodes), *((bias,) if b_is_value
                                                                      else ()))
    out = _node(total, parents, "dot")

    def _backward(g: float) -> None:
        for i, weight in w_nodes:
            weight.grad += g * x[i]
        for i, value in x_nodes:
            value.grad += g * w[i]
        if b_is_value:
            bias.grad += g

    out._backward = _backward
    return out


@contextlib.contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Pauses Python's cyclic garbage collector inside the block, then restores it.

    A graph holds no reference cycle: a node refers to its parents (``_prev``)
    and to its backward rule, whose closure holds its parents and numbers, never
    the node itself or a child. Reference counting therefore frees a graph the
    moment its root is dropped, and the cyclic collector never has anything of
    a graph's to free; yet it re-walks every live node each time enough objects
    have been allocated, which is most of the time of a training run (the
    engine backend trains ``mlp/moons`` in about 2.6 s inside this block and
    12.3 s outside it, on this project's 2-core machine). The collector's state
    on entry (enabled or not) is restored on exit, also on an exception. The
    switch is process-wide (``gc.disable``): other threads' cycles wait too.

    Example:
        >>> import gc
        >>> with no_cycle_collection():
        ...     loss = (Value(2.0) * 3.0) ** 2
        ...     gc.isenabled()
        False
        >>> gc.isenabled(), loss.data
        (True, 36.0)
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def ancestry(root: Value) -> list[Value]:
    """Every node ``root`` depends on, itself included, found without recursion (any order).

    Example:
      >>> a = Value(2.0); b = a * a + Value(1.0)
      >>> sorted(node.data for node in ancestry(b))
      [1.0, 2.0, 4.0, 5.0]
    """
    seen = {root}
    stack = [root]
    nodes = []
    while stack:
        node = stack.pop()
        nodes.append(node)
        for parent in node._prev:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return nodes


def zero_grad(values: Iterable[Value]) -> None:
    """Sets ``grad`` to 0.0 on each Value, like ``optimizer.zero_grad()``.

    Leaves accumulate across :meth:`Value.backward` calls; clear them before
    each independent step unless accumulation is deliberate.

    Args:
        values: The Values to reset, usually the parameters (leaves).

    Example:
        >>> w = Value(1.0)
        >>> (w * 2.0).backward()
        >>> w.grad
        2.0
        >>> zero_grad([w])
        >>> w.grad
        0.0
    """
    if isinstance(values, Value):
        values = (values,)
    for value in values:
        if not isinstance(value, Value):
            raise TypeError(f"zero_grad expects Values, got {value!r} ({type(value).__name__})")
        value.grad = 0.0


def to_dot(value: Value, *, names: Mapping[Value, str] | None = None) -> str:
    """Graphviz DOT text of the graph ``value`` depends on, for course figures.

    One box per node showing its operation (or its name, for named leaves),
    ``data`` and ``grad``; one edge per use, so ``a * a`` shows two edges.
    Render with ``dot -Tsvg``; this function needs no Graphviz itself.

    Args:
        value: The root of the graph, usually the loss.
        names: Optional labels for nodes, e.g. ``{w: "w", b: "b"}``.

    Returns:
        The DOT source, deterministic for a given graph.

    Example:
        >>> a = Value(3.0)
        >>> print(to_dot(a * a, names={a: "a"}))
        digraph engine {
          rankdir=LR;
          node [shape=record, fontname="Helvetica"];
          n0 [label="{a | data 3 | grad 0}"];
          n1 [label="{* | data 9 | grad 0}"];
          n0 -> n1;
          n0 -> n1;
        }
    """
    names = names or {}
    nodes = ancestry(value)
    nodes.sort(key=_by_stamp)
    index = {node: i for i, node in enumerate(nodes)}
    lines = [
        "digraph engine {",
        "  rankdir=LR;",
        '  node [shape=record, fontname="Helvetica"];',
    ]
    for i, node in enumerate(nodes):
        title = names.get(node) or node._op or "leaf"
        title = "".join("\\" + ch if ch in '{}|<>"\\' else ch for ch in title)
        lines.append(f'  n{i} [label="{{{title} | data {node.data:.4g} | grad {node.grad:.4g}}}"];')
    for node in nodes:
        for parent in node._prev:
            lines.append(f"  n{index[parent]} -> n{index[node]};")
    lines.append("}")
    return "\n".join(lines)
