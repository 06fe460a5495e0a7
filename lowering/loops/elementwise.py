"""Elementwise nn ops -> one loop nest over the output, a few scalar arith / math ops per element.

    nn.relu %x : (tensor<4x8xf32>) -> tensor<4x8xf32>

becomes

    scf.for %i = %c0 to %c4 step %c1 {
      scf.for %j = %c0 to %c8 step %c1 {
        %x_1 = memref.load %x[%i, %j] : memref<4x8xf32>
        %y = arith.maximumf %x_1, %cst : f32
        memref.store %y, %out0[%i, %j] : memref<4x8xf32>
      }
    }

An operand that broadcasts (numpy's rules) is read at index 0 of each of its size-1 dims
(`Loops.load_broadcast`). The scalar formula of each op is a row of `UNARY` / `BINARY` below,
written as its nn op's numpy reference computes it (dialects/nn/elementwise.py).
"""

from __future__ import annotations

import math

from lamina.dialects import arith
from lamina.dialects import math as m
from lamina.dialects.nn.base import py

from .builder import Loops, is_float, lowers, unsupported

DIMS = "ijklmnpq"


def names_for(rank: int) -> list[str]:
    return [DIMS[k] if k < len(DIMS) else f"d{k}" for k in range(rank)]


def each_element(L: Loops, out, body) -> None:
    """A nest over every element of `out`; `body(ivs)` returns the value to store there."""
    shape = out.type.shape
    L.nest(shape, names_for(len(shape)), lambda ivs: L.store(body(ivs), out, ivs))


# ---------------------------------------------------------------------------------------------
# Unary: one scalar function each


def _float_only(fn):
    def scalar(L, op, x):
        if not is_float(x.type):
            raise unsupported(op, f"on {x.type} has no loop lowering (only floats)")
        return fn(L, op, x)
    return scalar


def _neg(L, op, x):
    if is_float(x.type):
        return L.value(arith.NegFOp, x, name="y")
    return L.value(arith.SubIOp, L.constant(0, x.type), x, name="y")


def _abs(L, op, x):
    if is_float(x.type):
        return L.math(m.AbsFOp, x, name="y")
    negative = L.cmpi("slt", x, L.constant(0, x.type))
    return L.select(negative, _neg(L, op, x), x, name="y")


def _relu(L, op, x):
    return L.maxf(x, L.constant(0, x.type), name="y")


def _sigmoid(L, op, x):  # 1 / (1 + exp(-x))
    one = L.constant(1.0, x.type)
    e = L.math(m.ExpOp, L.value(arith.NegFOp, x))
    return L.divf(one, L.addf(one, e), name="y")


def _hard_swish(L, op, x):  # x * clip(x / 6 + 1/2, 0, 1)
    t = L.addf(L.divf(x, L.constant(6.0, x.type)), L.constant(0.5, x.type))
    t = L.minf(L.maxf(t, L.constant(0.0, x.type)), L.constant(1.0, x.type))
    return L.mulf(x, t, name="y")


def _leaky_relu(L, op, x):  # x < 0 ? alpha * x : x
    negative = L.cmpf("olt", x, L.constant(0.0, x.type))
    return L.select(negative, L.mulf(x, L.constant(py(op.alpha), x.type)), x, name="y")


def _clip(L, op, x):
    y = x
    if op.min is not None:
        y = L.maxf(y, L.constant(py(op.min), x.type))
    if op.max is not None:
        y = L.minf(y, L.constant(py(op.max), x.type))
    if y is x:
        return x
    y.name_hint = "y"
    return y


def _gelu(L, op, x):
    half, one = L.constant(0.5, x.type), L.constant(1.0, x.type)
    if py(op.approximate) == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = L.mulf(L.mulf(x, x), x)
        inner = L.mulf(L.constant(math.sqrt(2 / math.pi), x.type),
                       L.addf(x, L.mulf(L.constant(0.044715, x.type), cube)))
        phi = L.addf(one, L.math(m.TanhOp, inner))
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        phi = L.addf(one, L.math(m.ErfOp, L.mulf(x, L.constant(1 / math.sqrt(2), x.type))))
    return L.mulf(L.mulf(half, x), phi, name="y")


def _hard_sigmoid(L, op, x):  # clip(alpha x + beta, 0, 1)
    t = L.addf(L.mulf(L.constant(py(op.alpha), x.type), x), L.constant(py(op.beta), x.type))
    return L.minf(L.maxf(t, L.constant(0.0, x.type)), L.constant(1.0, x.type), name="y")


def _unary_math(op_class):
    return _float_only(lambda L, op, x: L.math(op_class, x, name="y"))


UNARY = {
    "nn.neg": _neg,
    "nn.abs": _abs,
    "nn.exp": _unary_math(m.ExpOp),
    "nn.log": _unary_math(m.LogOp),
    "nn.sqrt": _unary_math(m.SqrtOp),
    "nn.tanh": _unary_math(m.TanhOp),
    "nn.erf": _unary_math(m.ErfOp),
    "nn.reciprocal": _float_only(lambda L, op, x: L.divf(L.constant(1.0, x.type), x, name="y")),
    "nn.sigmoid": _float_only(_sigmoid),
    "nn.relu": _relu,
    "nn.hard_swish": _float_only(_hard_swish),
    "nn.leaky_relu": _float_only(_leaky_relu),
    "nn.clip": _float_only(_clip),
    "nn.gelu": _float_only(_gelu),
    "nn.hard_sigmoid": _float_only(_hard_sigmoid),
    "nn.identity": lambda L, op, x: x,
    "nn.dropout": lambda L, op, x: x,
}


@lowers(*UNARY)
def lower_unary(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    scalar = UNARY[op.name]
    each_element(L, y, lambda ivs: scalar(L, op, L.load(x, ivs, name="x")))


@lowers("nn.cast")
def lower_cast(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    each_element(L, y, lambda ivs: L.cast(L.load(x, ivs, name="x"), y.type.element_type, name="y"))


# ---------------------------------------------------------------------------------------------
# Binary, with numpy broadcasting


def _compare(float_predicate, int_predicate):
    def scalar(L, op, a, b):
        if is_float(a.type):
            return L.cmpf(float_predicate, a, b, name="z")
        return L.cmpi(int_predicate, a, b, name="z")
    return scalar


def _pow(L, op, a, b):
    if not is_float(a.type):
        raise unsupported(op, f"on {a.type} has no loop lowering (only floats)")
    return L.math(m.PowFOp, a, b, name="z")


BINARY = {
    "nn.add": lambda L, op, a, b: L.binary("add", a, b, name="z"),
    "nn.sub": lambda L, op, a, b: L.binary("sub", a, b, name="z"),
    "nn.mul": lambda L, op, a, b: L.binary("mul", a, b, name="z"),
    "nn.div": lambda L, op, a, b: L.binary("div", a, b, name="z"),
    "nn.max": lambda L, op, a, b: L.binary("max", a, b, name="z"),
    "nn.min": lambda L, op, a, b: L.binary("min", a, b, name="z"),
    "nn.pow": _pow,
    "nn.equal": _compare("oeq", "eq"),
    "nn.less": _compare("olt", "slt"),
    "nn.greater": _compare("ogt", "sgt"),
}


@lowers(*BINARY)
def lower_binary(L: Loops, op, inputs, outputs):
    (a, b), (z,) = inputs, outputs
    scalar = BINARY[op.name]
    each_element(L, z, lambda ivs: scalar(L, op, L.load_broadcast(a, ivs, name="a"),
                                          L.load_broadcast(b, ivs, name="b")))


@lowers("nn.prelu")
def lower_prelu(L: Loops, op, inputs, outputs):
    (x, slope), (y,) = inputs, outputs

    def body(ivs):
        v = L.load(x, ivs, name="x")
        s = L.load_broadcast(slope, ivs, name="slope")
        negative = L.cmpf("olt", v, L.constant(0.0, v.type))
        return L.select(negative, L.mulf(v, s), v, name="y")
    each_element(L, y, body)


@lowers("nn.where")
def lower_where(L: Loops, op, inputs, outputs):
    (c, a, b), (z,) = inputs, outputs
    each_element(L, z, lambda ivs: L.select(L.load_broadcast(c, ivs, name="cond"), L.load_broadcast(a, ivs, name="a"),
                                            L.load_broadcast(b, ivs, name="b"), name="z"))


@lowers("nn.sum")
def lower_sum(L: Loops, op, inputs, outputs):
    (y,) = outputs

    def body(ivs):
        total = L.load_broadcast(inputs[0], ivs, name="x")
        for x in inputs[1:]:
            total = L.binary("add", total, L.load_broadcast(x, ivs, name="x"), name="sum")
        return total
    each_element(L, y, body)
