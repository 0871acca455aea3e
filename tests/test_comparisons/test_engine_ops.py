"""Every engine operation against torch float64, IEEE special values included.

The expected numbers come from torch itself: each case is one expression,
written once and run on an engine ``Value`` and on a float64 tensor (the
engine's operators and method names match torch's). Forward values and
gradients are asserted in separate tests.
"""

from __future__ import annotations

import itertools
import math
import re

import pytest

from comparisons.engine import Value, zero_grad

torch = pytest.importorskip(
    "torch", reason="expected values come from torch float64; install torch==2.13.0 to run"
)

EPS = 2.0**-52
# One operation: torch's vectorised exp/log/tanh/sqrt kernels and the C library the
# engine calls differ by up to 2 ulp (measured on an AVX-512 machine) and backward
# formulas add a few roundings on each side, so 16 ulp relative; operations made of
# IEEE +, -, *, / alone (no library call) are asserted bit-exact.
OP_RTOL = 16 * EPS
# Subnormal results have fewer than 53 significant bits: allow 16 of their ulps.
OP_ATOL = 16 * 2.0**-1074

inf, nan = math.inf, math.nan

# (name, expression, exact): ``exact`` marks operations whose forward value and
# gradient must equal torch's bit for bit (IEEE + and * in the same order).
UNARY = [
    ("neg", lambda a: -a, True),
    ("relu", lambda a: a.relu(), True),
    ("tanh", lambda a: a.tanh(), False),
    ("exp", lambda a: a.exp(), False),
    ("log", lambda a: a.log(), False),
    ("sigmoid", lambda a: a.sigmoid(), False),
    ("add 1.5", lambda a: a + 1.5, True),
    ("1.5 add", lambda a: 1.5 + a, True),
    ("sub 1.5", lambda a: a - 1.5, True),
    ("1.5 sub", lambda a: 1.5 - a, True),
    ("mul -2.5", lambda a: a * -2.5, True),
    ("-2.5 mul", lambda a: -2.5 * a, True),
    ("div 3", lambda a: a / 3.0, True),
    ("div 0", lambda a: a / 0.0, True),
    ("div -0", lambda a: a / -0.0, True),
    ("3 div", lambda a: 3.0 / a, True),
    ("pow 0", lambda a: a**0, True),
    ("pow 1", lambda a: a**1, True),
    ("pow 2", lambda a: a**2, True),
    ("pow 3", lambda a: a**3, True),
    ("pow -1", lambda a: a**-1, True),
    ("pow -2", lambda a: a**-2, False),
    ("pow 0.5", lambda a: a**0.5, False),
    ("pow -0.5", lambda a: a**-0.5, False),
    ("pow 1/3", lambda a: a ** (1 / 3), False),
    ("pow 2.5", lambda a: a**2.5, False),
    ("pow -3", lambda a: a**-3, False),
    ("2 pow", lambda a: 2.0**a, False),
    ("0 pow", lambda a: 0.0**a, False),
    ("-2 pow", lambda a: (-2.0) ** a, False),
]
BINARY = [
    ("add", lambda a, b: a + b, True),
    ("sub", lambda a, b: a - b, True),
    ("mul", lambda a, b: a * b, True),
    ("div", lambda a, b: a / b, True),
    ("pow", lambda a, b: a**b, False),
]
UNARY_INPUTS = [
    0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0, 1e-200, -1e-200, 1e200,
    20.0, -20.0, 700.0, 710.0, -710.0, -745.5, inf, -inf, nan,
]  # fmt: skip
BINARY_INPUTS = [0.0, -0.0, 0.5, 1.0, -1.0, 2.5, -3.0, 1e200, inf, -inf, nan]

UNARY_CASES = [
    pytest.param(expr, x, exact, id=f"{name}({x!r})")
    for (name, expr, exact), x in itertools.product(UNARY, UNARY_INPUTS)
]
BINARY_CASES = [
    pytest.param(expr, x, y, exact, id=f"{name}({x!r},{y!r})")
    for (name, expr, exact), x, y in itertools.product(BINARY, BINARY_INPUTS, BINARY_INPUTS)
]


def torch_leaf(x: float):
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def torch_grad(leaf) -> float:
    """A leaf's gradient; torch leaves ``None`` where no gradient reached it."""
    return 0.0 if leaf.grad is None else leaf.grad.item()


def assert_matches(got: float, want: float, *, exact: bool, what: str, zero_sign: bool = False):
    """NaN matches NaN, infinities match exactly, finite values within the stated tolerance.

    ``zero_sign`` also requires the sign of a zero to match (forward values: a signed
    zero changes later results, e.g. 1 / -0.0). Gradient zeros are compared by value:
    the engine's buffers start at +0.0 where torch's start empty.
    """
    if math.isnan(want):
        assert math.isnan(got), f"{what}: engine {got!r}, torch nan"
        return
    if exact or math.isinf(want):
        assert got == want, f"{what}: engine {got!r}, torch {want!r}"
    else:
        assert abs(got - want) <= OP_RTOL * abs(want) + OP_ATOL, (
            f"{what}: engine {got!r}, torch {want!r}"
        )
    if zero_sign and want == 0.0:
        assert math.copysign(1.0, got) == math.copysign(1.0, want), (
            f"{what}: engine {got!r}, torch {want!r}"
        )


@pytest.mark.parametrize("expr, x, exact", UNARY_CASES)
def test_unary_forward_matches_torch(expr, x, exact):
    want = expr(torch_leaf(x)).item()
    assert_matches(expr(Value(x)).data, want, exact=exact, what="value", zero_sign=True)


@pytest.mark.parametrize("expr, x, exact", UNARY_CASES)
def test_unary_backward_matches_torch(expr, x, exact):
    t = torch_leaf(x)
    expr(t).backward()
    a = Value(x)
    expr(a).backward()
    assert_matches(a.grad, torch_grad(t), exact=exact, what="d/da")


@pytest.mark.parametrize("expr, x, y, exact", BINARY_CASES)
def test_binary_forward_matches_torch(expr, x, y, exact):
    want = expr(torch_leaf(x), torch_leaf(y)).item()
    got = expr(Value(x), Value(y)).data
    assert_matches(got, want, exact=exact, what="value", zero_sign=True)


@pytest.mark.parametrize("expr, x, y, exact", BINARY_CASES)
def test_binary_backward_matches_torch(expr, x, y, exact):
    ta, tb = torch_leaf(x), torch_leaf(y)
    expr(ta, tb).backward()
    a, b = Value(x), Value(y)
    expr(a, b).backward()
    assert_matches(a.grad, torch_grad(ta), exact=exact, what="d/da")
    assert_matches(b.grad, torch_grad(tb), exact=exact, what="d/db")


UPSTREAM_INPUTS = [0.0, -0.0, 1.0, -3.0, inf, nan]


@pytest.mark.parametrize("upstream", [-2.0, inf, nan])
@pytest.mark.parametrize(
    "name, expr, exact",
    [pytest.param(*case, id=case[0]) for case in UNARY],
)
@pytest.mark.parametrize("x", UPSTREAM_INPUTS)
def test_unary_backward_scales_any_upstream_gradient_as_torch(name, expr, exact, x, upstream):
    """dL/dout of -2, inf or nan arriving at the operation (a rule's zeros included)."""
    t = torch_leaf(x)
    (expr(t) * upstream).backward()
    a = Value(x)
    (expr(a) * upstream).backward()
    assert_matches(a.grad, torch_grad(t), exact=exact, what="d/da")


@pytest.mark.parametrize("upstream", [-2.0, inf, nan])
@pytest.mark.parametrize(
    "name, expr, exact",
    [pytest.param(*case, id=case[0]) for case in BINARY],
)
@pytest.mark.parametrize("x, y", list(itertools.product(UPSTREAM_INPUTS, UPSTREAM_INPUTS)))
def test_binary_backward_scales_any_upstream_gradient_as_torch(name, expr, exact, x, y, upstream):
    ta, tb = torch_leaf(x), torch_leaf(y)
    (expr(ta, tb) * upstream).backward()
    a, b = Value(x), Value(y)
    (expr(a, b) * upstream).backward()
    assert_matches(a.grad, torch_grad(ta), exact=exact, what="d/da")
    assert_matches(b.grad, torch_grad(tb), exact=exact, what="d/db")


@pytest.mark.parametrize(
    "expr",
    [
        pytest.param(lambda a: a * a, id="a*a"),
        pytest.param(lambda a: a + a, id="a+a"),
        pytest.param(lambda a: a - a, id="a-a"),
        pytest.param(lambda a: a / a, id="a/a"),
        pytest.param(lambda a: a**a, id="a**a"),
    ],
)
@pytest.mark.parametrize("x", [0.0, 0.5, 2.0, -3.0])
def test_operand_used_twice_matches_torch(expr, x):
    """One leaf on both sides: the rule's two contributions both land in it."""
    t = torch_leaf(x)
    out = expr(t)
    out.backward()
    a = Value(x)
    got = expr(a)
    got.backward()
    assert_matches(got.data, out.item(), exact=False, what="value", zero_sign=True)
    assert_matches(a.grad, torch_grad(t), exact=False, what="d/da")


def test_number_operands_become_python_floats():
    np = pytest.importorskip("numpy", reason="checks NumPy scalars as operands")
    a = Value(np.float32(0.5))
    out = (a * np.float64(3.0) + True) ** np.int64(2)
    assert type(a.data) is float and type(out.data) is float
    assert out.data == (0.5 * 3.0 + 1.0) ** 2


BAD_OPERANDS = ["3", None, [1.0], 1 + 2j, {"x": 1}]
OPERATORS = {
    "+": (lambda a, z: a + z, lambda a, z: z + a),
    "-": (lambda a, z: a - z, lambda a, z: z - a),
    "*": (lambda a, z: a * z, lambda a, z: z * a),
    "/": (lambda a, z: a / z, lambda a, z: z / a),
    "**": (lambda a, z: a**z, lambda a, z: z**a),
}


@pytest.mark.parametrize("bad", BAD_OPERANDS, ids=repr)
@pytest.mark.parametrize("symbol, side", list(itertools.product(OPERATORS, (0, 1))))
def test_non_number_operand_raises_type_error_naming_it(symbol, side, bad):
    apply = OPERATORS[symbol][side]
    with pytest.raises(TypeError, match=re.escape(repr(bad))):
        apply(Value(1.0), bad)


@pytest.mark.parametrize("bad", [*BAD_OPERANDS, Value(1.0)], ids=repr)
def test_value_of_a_non_number_raises_type_error(bad):
    with pytest.raises(TypeError, match=re.escape(repr(bad))):
        Value(bad)


def test_zero_grad_rejects_non_values():
    with pytest.raises(TypeError, match="'w'"):
        zero_grad([Value(1.0), "w"])
