"""Random expression graphs (hypothesis) through the engine and through torch float64.

A program is a list of leaf values and a list of steps; each step applies one
operation to earlier results (leaves or steps, so leaves are reused and
sub-expressions shared) and numbers, and the last step is the root. The same
program runs on engine Values and on float64 tensors, with the same operators
in the same order; every node's value (forward) and every node's gradient
(backward, torch's via ``retain_grad``) are compared.

Two properties are checked:

* Built only from operations whose rounding IEEE fixes (+, -, *, /, relu, and
  powers PyTorch computes by multiplication), any graph -- infinities and NaN
  included -- gives bit-identical values and gradients: the engine sums
  gradients in the same order as PyTorch's autograd engine.
* With every operation, values and gradients agree at rtol 1e-12. exp, log,
  tanh, sigmoid and general powers come from different math libraries (the C
  library here, torch's vectorised kernels there) and may differ in the last
  bit or two, so graphs that amplify such last-bit differences past 1e-12 are
  discarded: the engine is rerun with each such operation's result nudged by
  a few ulps, and a graph whose outputs move too much is not comparable at
  rtol 1e-12 by any pair of libraries.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from comparisons.engine import Value

torch = pytest.importorskip(
    "torch", reason="expected values come from torch float64; install torch==2.13.0 to run"
)

EPS = 2.0**-52
GRAPH_RTOL = 1e-12  # the bar for whole graphs
# Nudge size: torch's and the C library's exp/log/tanh/sqrt differ by at most 2 ulp
# (measured); 4 ulp leaves room for the one or two roundings around each call.
NUDGE_ULPS = 4
inf, nan = math.inf, math.nan

UNARY = {
    "neg": lambda a: -a,
    "relu": lambda a: a.relu(),
    "tanh": lambda a: a.tanh(),
    "exp": lambda a: a.exp(),
    "log": lambda a: a.log(),
    "sigmoid": lambda a: a.sigmoid(),
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}
EXACT_UNARY = ["neg", "relu"]
EXACT_BINARY = ["add", "sub", "mul", "div"]
EXACT_EXPONENTS = [0, 1, 2, 3, -1, 2.0, -1.0]  # x*x, x*x*x, 1/x in both engines
EXPONENTS = [*EXACT_EXPONENTS, -2, 0.5, -0.5, 1.5, -3, 1 / 3, 2.5]
BASES = [0.0, 0.5, 2.0, 3.0, -2.0]
CONSTANTS = st.sampled_from([0.0, -0.0, 1.0, 0.5, -1.5, 3.0]) | st.floats(-4.0, 4.0)
SPECIALS = st.sampled_from([0.0, -0.0, 1.0, -1.0, inf, -inf, nan])


@st.composite
def programs(draw, *, exact: bool):
    """Leaves and steps; operands lean towards the latest result so graphs grow deep."""
    if exact:  # IEEE-exact operations: any float at all, however large or special
        leaf = st.floats(allow_nan=True, allow_infinity=True) | SPECIALS
        unary, binary, exponents = EXACT_UNARY, EXACT_BINARY, EXACT_EXPONENTS
        kinds = ["unary", "binary", "right", "left", "pow"]
    else:
        leaf = st.floats(-3.0, 3.0, allow_subnormal=False) | SPECIALS
        unary, binary, exponents = list(UNARY), list(BINARY), EXPONENTS
        kinds = ["unary", "binary", "right", "left", "pow", "rpow"]
    leaves = draw(st.lists(leaf, min_size=1, max_size=4))
    steps = []
    for _ in range(draw(st.integers(1, 10))):
        size = len(leaves) + len(steps)

        def operand(size=size):
            return size - 1 - draw(st.integers(0, size - 1))

        kind = draw(st.sampled_from(kinds))
        if kind == "unary":
            step = (kind, draw(st.sampled_from(unary)), operand())
        elif kind == "binary":
            step = (kind, draw(st.sampled_from(binary)), operand(), operand())
        elif kind in ("right", "left"):  # a op c, c op a
            step = (kind, draw(st.sampled_from(EXACT_BINARY)), operand(), draw(CONSTANTS))
        elif kind == "pow":  # a ** c
            step = (kind, "pow", operand(), draw(st.sampled_from(exponents)))
        else:  # rpow: c ** a
            step = (kind, "pow", operand(), draw(st.sampled_from(BASES)))
        steps.append(step)
    return leaves, steps


def apply(step, pool):
    kind, name, i, *rest = step
    if kind == "unary":
        return UNARY[name](pool[i])
    if kind == "binary":
        return BINARY[name](pool[i], pool[rest[0]])
    if kind in ("right", "pow"):
        return BINARY[name](pool[i], rest[0])
    return BINARY[name](rest[0], pool[i])  # left, rpow


def run_engine(program, nudge=None):
    """Values and gradients of every node; ``nudge=(k, f)`` multiplies step k's result by f."""
    leaves, steps = program
    pool = [Value(x) for x in leaves]
    for k, step in enumerate(steps):
        out = apply(step, pool)
        if nudge is not None and nudge[0] == k:
            out = out * nudge[1]
        pool.append(out)
    pool[-1].backward()
    return [v.data for v in pool], [v.grad for v in pool]


def run_torch(program):
    leaves, steps = program
    pool = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in leaves]
    for step in steps:
        out = apply(step, pool)
        out.retain_grad()
        pool.append(out)
    pool[-1].backward()
    grads = [0.0 if t.grad is None else t.grad.item() for t in pool]
    return [t.item() for t in pool], grads


def is_inexact(step) -> bool:
    """Steps whose result or local derivative comes from a math-library call."""
    kind, name = step[0], step[1]
    if kind == "unary":
        return name not in EXACT_UNARY
    if kind == "pow":
        return step[3] not in EXACT_EXPONENTS
    return name == "pow"  # Value ** Value, number ** Value


def derivative_condition(step, values, out: float) -> float:
    """How many ulps a tanh/sigmoid derivative moves per ulp of its output.

    Both engines compute these derivatives from the output (1 - t*t, (1 - s) * s),
    which loses digits as the output nears 1; exactly 1 is safe only where every
    library saturates (|x| >= 20 for tanh, x >= 40 for sigmoid).
    """
    kind, name = step[0], step[1]
    if kind != "unary" or name not in ("tanh", "sigmoid") or math.isnan(out):
        return 0.0
    x = values[step[2]]
    if name == "tanh":
        if abs(out) == 1.0:
            return 0.0 if abs(x) >= 20.0 else inf
        return 2.0 * out * out / ((1.0 - out) * (1.0 + out))
    if out == 1.0:
        return 0.0 if x >= 40.0 else inf
    return 0.0 if out == 0.0 else abs(1.0 - 2.0 * out) / (1.0 - out)


def relative_change(before: float, after: float) -> float:
    if before == after or (math.isnan(before) and math.isnan(after)):
        return 0.0
    if before == 0.0 or not (math.isfinite(before) and math.isfinite(after)):
        return inf
    return abs(after - before) / abs(before)


def rounding_sensitivity(program) -> float:
    """First-order bound on the relative change last-bit library differences can cause."""
    values, grads = run_engine(program)
    base = values + grads
    nudge = NUDGE_ULPS * EPS
    total = 0.0
    for k, step in enumerate(program[1]):
        if not is_inexact(step):
            continue
        amplification = 0.0
        for factor in (1.0 + nudge, 1.0 - nudge):
            moved_values, moved_grads = run_engine(program, nudge=(k, factor))
            moved = moved_values + moved_grads
            change = max(relative_change(b, m) for b, m in zip(base, moved, strict=True))
            amplification = max(amplification, change / nudge)
        out = values[len(program[0]) + k]
        total += amplification * (1.0 + derivative_condition(step, values, out))
    return total * nudge


def assert_close(got: list[float], want: list[float], *, rtol: float, what: str):
    """Elementwise: NaN matches NaN, equal values match, else |got - want| <= rtol |want|."""
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if g == w or (math.isnan(g) and math.isnan(w)):
            continue
        assert math.isfinite(w) and abs(g - w) <= rtol * abs(w), (
            f"{what} of node {i}: engine {g!r}, torch {w!r}"
        )


def assert_same_zero_signs(got: list[float], want: list[float]):
    """Forward zeros carry their sign into later results (1 / -0.0 is -inf)."""
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if w == 0.0:
            assert math.copysign(1.0, g) == math.copysign(1.0, w), (
                f"value of node {i}: {g!r}, {w!r}"
            )


GRAPH_SETTINGS = settings(max_examples=200, deadline=None)


@GRAPH_SETTINGS
@given(programs(exact=True))
def test_exact_operation_graphs_forward_bit_identical_to_torch(program):
    values, _ = run_engine(program)
    want, _ = run_torch(program)
    assert_close(values, want, rtol=0.0, what="value")
    assert_same_zero_signs(values, want)


@GRAPH_SETTINGS
@given(programs(exact=True))
def test_exact_operation_graphs_backward_bit_identical_to_torch(program):
    _, grads = run_engine(program)
    _, want = run_torch(program)
    assert_close(grads, want, rtol=0.0, what="gradient")


@GRAPH_SETTINGS
@given(programs(exact=False))
def test_all_operation_graphs_forward_match_torch(program):
    assume(rounding_sensitivity(program) <= GRAPH_RTOL / 10)
    values, _ = run_engine(program)
    want, _ = run_torch(program)
    assert_close(values, want, rtol=GRAPH_RTOL, what="value")


@GRAPH_SETTINGS
@given(programs(exact=False))
def test_all_operation_graphs_backward_match_torch(program):
    assume(rounding_sensitivity(program) <= GRAPH_RTOL / 10)
    _, grads = run_engine(program)
    _, want = run_torch(program)
    assert_close(grads, want, rtol=GRAPH_RTOL, what="gradient")


@pytest.mark.parametrize("created", list(itertools.permutations(range(3))))
@pytest.mark.parametrize("summed", list(itertools.permutations(range(3))))
@pytest.mark.parametrize("nested_left", [True, False])
def test_gradient_sums_follow_torch_order(created, summed, nested_left):
    """A leaf with three consumers whose contributions 1, 1e16, -1e16 round differently
    in different orders (to 0, 1 or 2): every arrangement must sum as torch does,
    bit for bit -- newest consumer first, whatever the shape of the graph."""
    scales = [1.0, 1e16, -1e16]

    def build(leaf):
        consumers = [None, None, None]
        for i in created:
            consumers[i] = leaf * scales[i]
        a, b, c = (consumers[i] for i in summed)
        return (a + b) + c if nested_left else a + (b + c)

    t = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    build(t).backward()
    v = Value(1.0)
    build(v).backward()
    assert v.grad == t.grad.item()
