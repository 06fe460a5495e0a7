"""Elementwise ops: unary and binary arithmetic, comparisons, select, casts and activations."""

from __future__ import annotations

from typing import Callable

from ..tvm_adapter import tir
from . import fast_math, lowers
from .common import attr, const, elementwise, nan_max, nan_min, out_dtype


def _unary(name: str, fn: Callable):
    @lowers(name)
    def compute(op, x):
        return elementwise(op, lambda v: fn(v, x.dtype, op), x)
    return compute


_unary("nn.neg", lambda v, dt, op: -v)
_unary("nn.abs", lambda v, dt, op: tir.abs(v))
_unary("nn.exp", lambda v, dt, op: fast_math.exp(v))
_unary("nn.log", lambda v, dt, op: tir.log(v))
_unary("nn.sqrt", lambda v, dt, op: tir.sqrt(v))
_unary("nn.reciprocal", lambda v, dt, op: const(1, dt) / v)
_unary("nn.tanh", lambda v, dt, op: tir.tanh(v))
_unary("nn.sigmoid", lambda v, dt, op: const(1, dt) / (const(1, dt) + fast_math.exp(-v)) if dt == "float32" else tir.sigmoid(v))
_unary("nn.erf", lambda v, dt, op: fast_math.erf(v))
_unary("nn.relu", lambda v, dt, op: tir.Select(v < const(0, dt), const(0, dt), v))  # NaN stays NaN (see common.nan_max)
_unary("nn.identity", lambda v, dt, op: v)
_unary("nn.dropout", lambda v, dt, op: v)  # inference
_unary("nn.hard_swish", lambda v, dt, op: v * tir.max(const(0, dt), tir.min(const(1, dt), v / const(6, dt) + const(0.5, dt))))


@lowers("nn.leaky_relu")
def leaky_relu(op, x):
    alpha = const(attr(op, "alpha", 0.01), x.dtype)
    return elementwise(op, lambda v: tir.Select(v >= const(0, x.dtype), v, v * alpha), x)


def _binary(name: str, fn: Callable):
    @lowers(name)
    def compute(op, a, b):
        return elementwise(op, lambda u, v: fn(u, v), a, b)
    return compute


_binary("nn.add", lambda u, v: u + v)
_binary("nn.sub", lambda u, v: u - v)
_binary("nn.mul", lambda u, v: u * v)
_binary("nn.max", nan_max)
_binary("nn.min", nan_min)


@lowers("nn.div")
def div(op, a, b):
    if str(a.dtype).startswith(("int", "uint")):  # ONNX integer division truncates toward zero
        return elementwise(op, lambda u, v: tir.truncdiv(u, v), a, b)
    return elementwise(op, lambda u, v: u / v, a, b)


@lowers("nn.pow")
def pow_(op, a, b):
    """TVM's power is for floats: integer bases go through float64 and back (numpy's x ** y)."""
    dt = out_dtype(op)
    if "float" in dt:
        return elementwise(op, lambda u, v: tir.power(u, v.astype(dt)), a, b)
    return elementwise(op, lambda u, v: tir.power(u.astype("float64"), v.astype("float64")).astype(dt), a, b)


@lowers("nn.equal")
def equal(op, a, b):
    """Bools compare as int8: a vectorized `==` of i1 vectors reaches LLVM as an invalid fcmp."""
    if a.dtype == "bool":
        return elementwise(op, lambda u, v: u.astype("int8") == v.astype("int8"), a, b)
    return elementwise(op, lambda u, v: u == v, a, b)


_binary("nn.less", lambda u, v: u < v)
_binary("nn.greater", lambda u, v: u > v)
_binary("nn.prelu", lambda x, slope: tir.Select(x >= const(0, x.dtype), x, x * slope))


@lowers("nn.where")
def where(op, cond, a, b):
    return elementwise(op, lambda c, u, v: tir.Select(c, u, v), cond, a, b)


@lowers("nn.sum")
def sum_(op, *xs):
    def add_all(*vs):
        total = vs[0]
        for v in vs[1:]:
            total = total + v
        return total
    return elementwise(op, add_all, *xs)


@lowers("nn.cast")
def cast(op, x):
    dt = out_dtype(op)
    if dt == "bool":
        return elementwise(op, lambda v: v != const(0, x.dtype), x)
    return elementwise(op, lambda v: v.astype(dt), x)


@lowers("nn.clip")
def clip(op, x):
    lo, hi = attr(op, "min"), attr(op, "max")

    def fn(v):
        if lo is not None:
            v = tir.Select(v < const(lo, x.dtype), const(lo, x.dtype), v)  # NaN stays NaN, as numpy's
        if hi is not None:
            v = tir.Select(v > const(hi, x.dtype), const(hi, x.dtype), v)
        return v
    return elementwise(op, fn, x)


@lowers("nn.gelu")
def gelu(op, x):
    dt = x.dtype
    if attr(op, "approximate", "none") == "tanh":
        c = const(0.7978845608028654, dt)  # sqrt(2 / pi)
        return elementwise(op, lambda v: const(0.5, dt) * v * (const(1, dt) + tir.tanh(
            c * (v + const(0.044715, dt) * v * v * v))), x)
    return elementwise(op, lambda v: const(0.5, dt) * v * (const(1, dt) + fast_math.erf(v * const(0.7071067811865476, dt))), x)


@lowers("nn.hard_sigmoid")
def hard_sigmoid(op, x):
    dt = x.dtype
    alpha, beta = const(attr(op, "alpha", 0.2), dt), const(attr(op, "beta", 0.5), dt)
    return elementwise(op, lambda v: tir.max(const(0, dt), tir.min(const(1, dt), alpha * v + beta)), x)
