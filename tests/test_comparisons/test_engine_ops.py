"""Every engine operation against torch float64, IEEE special values included.

The expected numbers come from torch itself: each operation is one expression,
written once and run on an engine ``Value`` and on a float64 tensor (the
engine's operators and method names match torch's). Two tests per table of
operations:

* An exhaustive table: every operation on every edge value (zeros of both
  signs, +-1, tiny, subnormal, huge, the largest float, the ends of exp's
  range, +-inf, nan), every pair of
  edge values for binary operations; forward value, gradient, and gradient
  scaled by an upstream dL/dout of -2, inf or nan. One test per operation
  checks all of its rows and names every failing row.
* A hypothesis property: any float64 at all (subnormals and specials
  included) and an upstream gradient (any float for the bit-exact
  operations, a moderate one for the others).
"""

from __future__ import annotations

import itertools
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0, 1e-200, -1e-200, 5e-324, -5e-324, 1e200,
    1.7976931348623157e308, 20.0, -20.0, 700.0, 710.0, -710.0, -745.5, inf, -inf, nan,
]  # fmt: skip
BINARY_INPUTS = [0.0, -0.0, 0.5, 1.0, -1.0, 2.5, -3.0, 5e-324, 1e200, inf, -inf, nan]

UPSTREAMS = [-2.0, inf, nan]  # dL/dout arriving at the operation (a rule's zeros included)
UPSTREAM_INPUTS = [0.0, -0.0, 1.0, -3.0, inf, nan]


def torch_leaf(x: float):
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def torch_grad(leaf) -> float:
    """A leaf's gradient; torch leaves ``None`` where no gradient reached it."""
    return 0.0 if leaf.grad is None else leaf.grad.item()


def mismatch(
    got: float, want: float, *, exact: bool, rtol: float = OP_RTOL, zero_sign: bool = False
) -> bool:
    """NaN matches NaN, infinities match exactly, finite values within ``rtol``.

    ``exact`` asks for bit-identical numbers. ``zero_sign`` also requires the sign
    of a zero to match (forward values: a signed zero changes later results, e.g.
    1 / -0.0). Gradient zeros are compared by value: the engine's buffers start at
    +0.0 where torch's start empty.
    """
    if math.isnan(want):
        return not math.isnan(got)
    if exact or math.isinf(want):
        if got != want:
            return True
    elif not abs(got - want) <= rtol * abs(want) + OP_ATOL:
        return True
    return zero_sign and want == 0.0 and math.copysign(1.0, got) != math.copysign(1.0, want)


def derivative_condition(name: str, x: float, out: float) -> float:
    """How many ulps a derivative computed from the output moves per ulp of the output.

    tanh' = (1 - t)(1 + t) and sigmoid' = (1 - s) s are computed from the output
    in both engines, which loses digits as the output nears 1: a last-bit
    difference between the libraries' tanh (measured: 1 ulp at x = -4.57) moves
    the derivative by thousands of ulps there. An output of exactly 1 is safe only
    where every library saturates (|x| >= 20 for tanh, x >= 40 for sigmoid).
    """
    if math.isnan(out):
        return 0.0
    if name == "tanh":
        if abs(out) == 1.0:
            return 0.0 if abs(x) >= 20.0 else inf
        return 2.0 * out * out / ((1.0 - out) * (1.0 + out))
    if name == "sigmoid":
        if out == 1.0:
            return 0.0 if x >= 40.0 else inf
        return 0.0 if out == 0.0 else abs(1.0 - 2.0 * out) / (1.0 - out)
    return 0.0


def unary_mismatches(
    name, expr, exact, x: float, upstream: float = 1.0, *, conditioned: bool = False
) -> list[str]:
    """Rows where one unary operation at ``x`` differs from torch: value, then d/da.

    ``conditioned`` widens the gradient's tolerance by :func:`derivative_condition`
    (for inputs drawn anywhere; the edge table holds at the plain ``OP_RTOL``).
    """
    t = torch_leaf(x)
    t_out = expr(t)
    (t_out * upstream).backward()
    a = Value(x)
    out = expr(a)
    (out * upstream).backward()
    condition = derivative_condition(name, x, out.data) if conditioned else 0.0
    rtol = OP_RTOL * (1.0 + condition)
    rows = []
    if mismatch(out.data, t_out.item(), exact=exact, zero_sign=True):
        rows.append(f"{name}({x!r}): value: engine {out.data!r}, torch {t_out.item()!r}")
    if mismatch(a.grad, torch_grad(t), exact=exact, rtol=rtol):
        rows.append(f"{name}({x!r}) * {upstream!r}: d/da: engine {a.grad!r}, "
                    f"torch {torch_grad(t)!r}")
    return rows


def binary_mismatches(name, expr, exact, x: float, y: float, upstream: float = 1.0) -> list[str]:
    """Rows where one binary operation at ``(x, y)`` differs from torch: value, d/da, d/db."""
    ta, tb = torch_leaf(x), torch_leaf(y)
    t_out = expr(ta, tb)
    (t_out * upstream).backward()
    a, b = Value(x), Value(y)
    out = expr(a, b)
    (out * upstream).backward()
    rows = []
    if mismatch(out.data, t_out.item(), exact=exact, zero_sign=True):
        rows.append(f"{name}({x!r}, {y!r}): value: engine {out.data!r}, torch {t_out.item()!r}")
    for what, got, want in (("d/da", a.grad, torch_grad(ta)), ("d/db", b.grad, torch_grad(tb))):
        if mismatch(got, want, exact=exact):
            rows.append(f"{name}({x!r}, {y!r}) * {upstream!r}: {what}: engine {got!r}, "
                        f"torch {want!r}")
    return rows


@pytest.mark.parametrize("name, expr, exact", [pytest.param(*op, id=op[0]) for op in UNARY])
def test_unary_operation_matches_torch_on_every_edge_value(name, expr, exact):
    rows = [row for x in UNARY_INPUTS for row in unary_mismatches(name, expr, exact, x)]
    rows += [
        row
        for x, upstream in itertools.product(UPSTREAM_INPUTS, UPSTREAMS)
        for row in unary_mismatches(name, expr, exact, x, upstream)
    ]
    assert not rows, "\n".join(rows)


@pytest.mark.parametrize("name, expr, exact", [pytest.param(*op, id=op[0]) for op in BINARY])
def test_binary_operation_matches_torch_on_every_pair_of_edge_values(name, expr, exact):
    rows = [
        row
        for x, y in itertools.product(BINARY_INPUTS, BINARY_INPUTS)
        for row in binary_mismatches(name, expr, exact, x, y)
    ]
    rows += [
        row
        for x, y, upstream in itertools.product(UPSTREAM_INPUTS, UPSTREAM_INPUTS, UPSTREAMS)
        for row in binary_mismatches(name, expr, exact, x, y, upstream)
    ]
    assert not rows, "\n".join(rows)


# Any float64 at all: hypothesis leans towards boundaries (0, subnormals, the largest
# floats, infinities, nan). Operations asserted bit-exact take any upstream gradient;
# the others take upstreams of moderate size, so that g * dout/da cannot overflow in one
# library and not in the other when their derivatives differ in the last bit.
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
SPECIAL_UPSTREAMS = st.sampled_from([1.0, *UPSTREAMS, -inf, 0.0])
MODERATE_UPSTREAMS = SPECIAL_UPSTREAMS | st.floats(-1e6, 1e6)
OP_SETTINGS = settings(max_examples=400, deadline=None)


@OP_SETTINGS
@given(op=st.sampled_from(UNARY), x=ANY_FLOAT, data=st.data())
def test_unary_operations_match_torch_on_any_float(op, x, data):
    name, expr, exact = op
    upstream = data.draw(ANY_FLOAT | SPECIAL_UPSTREAMS if exact else MODERATE_UPSTREAMS)
    rows = unary_mismatches(name, expr, exact, x, upstream, conditioned=True)
    assert not rows, "\n".join(rows)


@OP_SETTINGS
@given(op=st.sampled_from(BINARY), x=ANY_FLOAT, y=ANY_FLOAT, data=st.data())
def test_binary_operations_match_torch_on_any_floats(op, x, y, data):
    name, expr, exact = op
    upstream = data.draw(ANY_FLOAT | SPECIAL_UPSTREAMS if exact else MODERATE_UPSTREAMS)
    rows = binary_mismatches(name, expr, exact, x, y, upstream)
    assert not rows, "\n".join(rows)


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
    assert not mismatch(got.data, out.item(), exact=False, zero_sign=True), (got.data, out)
    assert not mismatch(a.grad, torch_grad(t), exact=False), (a.grad, t.grad)


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
