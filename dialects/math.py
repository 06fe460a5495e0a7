"""The math dialect: the float functions beyond arithmetic (exp, tanh, sqrt, ...).

Each op works on a float scalar or elementwise on a tensor of floats, like arith's ops, and
shares their custom form, folds and numpy semantics (arith.ElementwiseOp):

    %y = math.exp %x : f32
    %p = math.powf %x, %y : tensor<4xf32>
    %f = math.fma %a, %b, %c : f32

Names and the generic form are MLIR's. The ops are declared from a table: one row per op, with
its numpy reference.
"""

from __future__ import annotations

import math as pymath

import numpy as np

from lamina.compiler.attributes import OpaqueAttr
from lamina.compiler.opdef import Attr, Dialect, Elementwise, Operand, Pure, Result, SameOperandsAndResultType
from lamina.dialects.arith import ElementwiseOp, float_like

math = Dialect("math", "Float functions: exp, log, tanh, erf, sqrt, pow, rounding, ...")


def _erf(x):
    return np.vectorize(pymath.erf, otypes=[np.float64])(x)


def _round_half_away(x):  # math.round: halfway cases away from zero (numpy's rint rounds to even)
    a = np.abs(x)
    floor = np.floor(a)
    return np.copysign(np.where(a - floor >= 0.5, floor + 1, floor), x)


def _rsqrt(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 / np.sqrt(x)


def _fma(a, b, c):  # fused: one rounding, as float64 gives it for f32 and narrower
    return np.asarray(a, np.float64) * b + c


def _op(op_name: str, fn, arity: int, summary: str):
    names = ("operand",) if arity == 1 else ("lhs", "rhs") if arity == 2 else ("a", "b", "c")
    example = ", ".join(f"%{n}" for n in ("x", "y", "z")[:arity])
    fields = {
        "__doc__": f"{summary}\n\n        %r = {op_name} {example} : f32\n    ",
        "name": op_name,
        **{n: Operand(float_like) for n in names},
        "result": Result(float_like),
        "fastmath": Attr(OpaqueAttr, optional=True, doc="fast-math flags, as xDSL writes them"),
        "traits": (Pure, Elementwise, SameOperandsAndResultType),
        "numpy_fn": staticmethod(fn),
    }
    short = op_name.split(".")[1]
    return math.op(type(short.capitalize() + "Op", (ElementwiseOp,), fields))


# name, numpy reference, number of operands, summary
AbsFOp = _op("math.absf", np.abs, 1, "Absolute value.")
CeilOp = _op("math.ceil", np.ceil, 1, "Round up to an integral value.")
CosOp = _op("math.cos", np.cos, 1, "Cosine (radians).")
ErfOp = _op("math.erf", _erf, 1, "The error function (GELU uses it).")
ExpOp = _op("math.exp", np.exp, 1, "e to the power of x.")
Exp2Op = _op("math.exp2", np.exp2, 1, "2 to the power of x.")
ExpM1Op = _op("math.expm1", np.expm1, 1, "e^x - 1, exact near 0.")
FloorOp = _op("math.floor", np.floor, 1, "Round down to an integral value.")
LogOp = _op("math.log", np.log, 1, "Natural logarithm.")
Log1pOp = _op("math.log1p", np.log1p, 1, "log(1 + x), exact near 0.")
Log2Op = _op("math.log2", np.log2, 1, "Base-2 logarithm.")
RoundOp = _op("math.round", _round_half_away, 1, "Round to nearest, halfway cases away from zero.")
RoundEvenOp = _op("math.roundeven", np.rint, 1, "Round to nearest, halfway cases to even.")
RsqrtOp = _op("math.rsqrt", _rsqrt, 1, "1 / sqrt(x).")
SinOp = _op("math.sin", np.sin, 1, "Sine (radians).")
SqrtOp = _op("math.sqrt", np.sqrt, 1, "Square root.")
TanhOp = _op("math.tanh", np.tanh, 1, "Hyperbolic tangent.")
TruncOp = _op("math.trunc", np.trunc, 1, "Round toward zero to an integral value.")
PowFOp = _op("math.powf", np.power, 2, "x to the power of y.")
Atan2Op = _op("math.atan2", np.arctan2, 2, "The angle of the point (y, x) = (lhs, rhs).")
CopySignOp = _op("math.copysign", np.copysign, 2, "The magnitude of lhs with the sign of rhs.")
FmaOp = _op("math.fma", _fma, 3, "a * b + c, rounded once.")
