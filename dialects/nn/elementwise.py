"""Elementwise nn ops: unary functions (`nn.exp`, `nn.relu`, `nn.clip`, ...), binary arithmetic and
comparisons with numpy broadcasting (`nn.add`, `nn.less`, ...), and `nn.prelu`, `nn.where`,
`nn.sum`, `nn.cast`.

Most ops differ only in their numpy function, so each is a few lines on top of the `UnaryOp` /
`BinaryOp` templates in `base.py`: a name, a docstring with an IR example and `compute`.
Semantics are ONNX's; `interpret` returns arrays of the result type's dtype.
"""

from __future__ import annotations

import math

import numpy as np

from lamina.compiler.attributes import DenseElementsAttr, FloatAttr, StringAttr
from lamina.compiler.opdef import Attr, Elementwise, Operand, Pure, Result, TypeConstraint, VarOperand
from lamina.compiler.types import RankedTensorType, i1

from .base import (BinaryOp, NnOp, ShapeError, UnaryOp, broadcast_shapes, float_tensor, nn, py,
                   real, string, tensor_type)

bool_tensor = TypeConstraint("a tensor of i1", lambda t: isinstance(t, RankedTensorType)
                             and t.element_type == i1)


def _same_element_types(names_and_types) -> None:
    """Raise ShapeError unless every operand has the same element type."""
    (first_name, first), *rest = names_and_types
    for name, t in rest:
        if t.element_type != first.element_type:
            raise ShapeError(f"operands '{first_name}' and '{name}' have element types {first.element_type} "
                             f"and {t.element_type}; they must match (insert an nn.cast)")


def _is_integer(array: np.ndarray) -> bool:
    return np.issubdtype(array.dtype, np.integer)


# ---------------------------------------------------------------------------------------------
# Unary ops without attributes


@nn.op
class NegOp(UnaryOp):
    """Negation, elementwise.

        %y = nn.neg %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.neg"

    def compute(self, x):
        return np.negative(x)


@nn.op
class AbsOp(UnaryOp):
    """Absolute value, elementwise.

        %y = nn.abs %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.abs"

    def compute(self, x):
        return np.abs(x)


@nn.op
class ExpOp(UnaryOp):
    """Exponential, elementwise.

        %y = nn.exp %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.exp"
    x = Operand(float_tensor)
    y = Result(float_tensor)

    def compute(self, x):
        return np.exp(x)


@nn.op
class LogOp(UnaryOp):
    """Natural logarithm, elementwise (NaN below zero, -inf at zero).

        %y = nn.log %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.log"
    x = Operand(float_tensor)
    y = Result(float_tensor)

    def compute(self, x):
        return np.log(x)


@nn.op
class SqrtOp(UnaryOp):
    """Square root, elementwise (NaN below zero).

        %y = nn.sqrt %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.sqrt"
    x = Operand(float_tensor)
    y = Result(float_tensor)

    def compute(self, x):
        return np.sqrt(x)


@nn.op
class ReciprocalOp(UnaryOp):
    """`1 / x`, elementwise.

        %y = nn.reciprocal %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.reciprocal"
    x = Operand(float_tensor)
    y = Result(float_tensor)

    def compute(self, x):
        return np.reciprocal(x)


@nn.op
class TanhOp(UnaryOp):
    """Hyperbolic tangent, elementwise.

        %y = nn.tanh %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.tanh"
    x = Operand(float_tensor)
    y = Result(float_tensor)

    def compute(self, x):
        return np.tanh(x)


@nn.op
class SigmoidOp(UnaryOp):
    """The logistic function `1 / (1 + exp(-x))`, elementwise.

        %y = nn.sigmoid %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.sigmoid"
    x = Operand(float_tensor)
    y = Result(float_tensor)

    def compute(self, x):
        return 1 / (1 + np.exp(-x))


_erf = np.vectorize(math.erf, otypes=[np.float64])  # numpy has no erf; math's is exact enough


@nn.op
class ErfOp(UnaryOp):
    """The Gauss error function, elementwise.

        %y = nn.erf %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.erf"
    x = Operand(float_tensor)
    y = Result(float_tensor)

    def compute(self, x):
        return _erf(x)


@nn.op
class ReluOp(UnaryOp):
    """`max(x, 0)`, elementwise.

        %y = nn.relu %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.relu"

    def compute(self, x):
        return np.maximum(x, 0)


@nn.op
class HardSwishOp(UnaryOp):
    """`x * max(0, min(1, x/6 + 1/2))`, elementwise.

        %y = nn.hard_swish %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.hard_swish"
    x = Operand(float_tensor)
    y = Result(float_tensor)

    def compute(self, x):
        return x * np.clip(x / 6 + 0.5, 0, 1)


@nn.op
class IdentityOp(UnaryOp):
    """The operand, unchanged.

        %y = nn.identity %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.identity"

    def compute(self, x):
        return x.copy()

    def fold(self, x):  # identity(x) -> x
        return self.x


# ---------------------------------------------------------------------------------------------
# Unary ops with attributes


@nn.op
class LeakyReluOp(UnaryOp):
    """`x` where `x >= 0`, else `alpha * x`, elementwise.

        %y = nn.leaky_relu %x attributes {alpha = 1.000000e-01 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.leaky_relu"
    x = Operand(float_tensor)
    y = Result(float_tensor)
    alpha = Attr(FloatAttr, default=real(0.01))

    def compute(self, x):
        return np.where(x < 0, x * x.dtype.type(py(self.alpha)), x)


@nn.op
class ClipOp(UnaryOp):
    """`x` clamped to [min, max] elementwise; with min > max every element becomes max (ONNX).

        %y = nn.clip %x attributes {max = 6.000000e+00 : f32, min = 0.000000e+00 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.clip"
    min = Attr(FloatAttr, optional=True, doc="lower bound; none when absent")
    max = Attr(FloatAttr, optional=True, doc="upper bound; none when absent")

    def compute(self, x):
        y = x
        if self.min is not None:
            y = np.maximum(y, py(self.min))
        if self.max is not None:
            y = np.minimum(y, py(self.max))
        return y


GELU_APPROXIMATIONS = ("none", "tanh")


@nn.op
class GeluOp(UnaryOp):
    """Gaussian error linear unit: `x * Phi(x)`, exactly ("none") or with the tanh formula.

        %y = nn.gelu %x attributes {approximate = "tanh"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.gelu"
    x = Operand(float_tensor)
    y = Result(float_tensor)
    approximate = Attr(StringAttr, default=string("none"))

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        mode = py(properties.get("approximate"), "none")
        if mode not in GELU_APPROXIMATIONS:
            raise ShapeError(f'approximate is "{mode}"; it must be "none" or "tanh"')
        return [operand_types[0]]

    def compute(self, x):
        v = x.astype(np.float64)
        if py(self.approximate) == "tanh":
            return 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
        return 0.5 * v * (1 + _erf(v / math.sqrt(2)))


@nn.op
class HardSigmoidOp(UnaryOp):
    """`max(0, min(1, alpha * x + beta))`, elementwise.

        %y = nn.hard_sigmoid %x attributes {alpha = 1.666667e-01 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.hard_sigmoid"
    x = Operand(float_tensor)
    y = Result(float_tensor)
    alpha = Attr(FloatAttr, default=real(0.2))
    beta = Attr(FloatAttr, default=real(0.5))

    def compute(self, x):
        alpha, beta = x.dtype.type(py(self.alpha)), x.dtype.type(py(self.beta))
        return np.clip(alpha * x + beta, 0, 1)


@nn.op
class DropoutOp(UnaryOp):
    """Dropout at inference: the operand, unchanged (`ratio` only matters in training).

        %y = nn.dropout %x attributes {ratio = 2.000000e-01 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.dropout"
    ratio = Attr(FloatAttr, default=real(0.5))

    def compute(self, x):
        return x.copy()

    def fold(self, x):  # dropout(x) -> x
        return self.x


@nn.op
class CastOp(UnaryOp):
    """Convert elements to the result's element type; float -> int truncates toward zero.

        %y = nn.cast %x : (tensor<2x3xf32>) -> tensor<2x3xi32>
    """

    name = "nn.cast"

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        return None  # the target element type is the result type's: build with result_types=

    def verify(self):
        if self.x.type.shape != self.y.type.shape:
            return (f"result shape {list(self.y.type.shape)} differs from the operand's "
                    f"{list(self.x.type.shape)}; a cast keeps the shape")
        return None

    def interpret(self, x):
        with np.errstate(all="ignore"):
            return x.astype(self.y.type.element_type.numpy_dtype)

    def fold(self, x):
        if self.x.type == self.y.type:  # cast(x) to its own type -> x
            return self.x
        if isinstance(x, DenseElementsAttr):
            return DenseElementsAttr(self.y.type, self.interpret(x.array))
        return None


# ---------------------------------------------------------------------------------------------
# Binary ops: numpy broadcasting, operands of one element type


def _divide(a, b):
    """ONNX Div: true division for floats; integers truncate toward zero (x / 0 gives 0 here)."""
    if not _is_integer(a):
        return np.true_divide(a, b)
    zero = b == 0
    q = np.abs(a) // np.where(zero, 1, np.abs(b))
    return np.where(zero, 0, np.where((a < 0) != (b < 0), -q, q))


def _power(a, b):
    """ONNX Pow; integers go through float64 (numpy refuses negative integer exponents)."""
    if _is_integer(a):
        return np.power(a.astype(np.float64), b.astype(np.float64))
    return np.power(a, b)


@nn.op
class AddOp(BinaryOp):
    """Addition, elementwise with broadcasting.

        %z = nn.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.add"

    def compute(self, a, b):
        return np.add(a, b)


@nn.op
class SubOp(BinaryOp):
    """Subtraction, elementwise with broadcasting.

        %z = nn.sub %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.sub"

    def compute(self, a, b):
        return np.subtract(a, b)


@nn.op
class MulOp(BinaryOp):
    """Multiplication, elementwise with broadcasting.

        %z = nn.mul %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.mul"

    def compute(self, a, b):
        return np.multiply(a, b)


@nn.op
class DivOp(BinaryOp):
    """Division, elementwise with broadcasting; integer division truncates toward zero.

        %z = nn.div %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.div"

    def compute(self, a, b):
        return _divide(a, b)


@nn.op
class PowOp(BinaryOp):
    """`a` to the power `b`, elementwise with broadcasting.

        %z = nn.pow %a, %b : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
    """

    name = "nn.pow"

    def compute(self, a, b):
        return _power(a, b)


@nn.op
class MaxOp(BinaryOp):
    """The larger of `a` and `b`, elementwise with broadcasting.

        %z = nn.max %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.max"

    def compute(self, a, b):
        return np.maximum(a, b)


@nn.op
class MinOp(BinaryOp):
    """The smaller of `a` and `b`, elementwise with broadcasting.

        %z = nn.min %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    """

    name = "nn.min"

    def compute(self, a, b):
        return np.minimum(a, b)


@nn.op
class EqualOp(BinaryOp):
    """`a == b`, elementwise with broadcasting; the result is i1.

        %z = nn.equal %a, %b : (tensor<2x3xi64>, tensor<3xi64>) -> tensor<2x3xi1>
    """

    name = "nn.equal"
    result_element = i1

    def compute(self, a, b):
        return np.equal(a, b)


@nn.op
class LessOp(BinaryOp):
    """`a < b`, elementwise with broadcasting; the result is i1.

        %z = nn.less %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
    """

    name = "nn.less"
    result_element = i1

    def compute(self, a, b):
        return np.less(a, b)


@nn.op
class GreaterOp(BinaryOp):
    """`a > b`, elementwise with broadcasting; the result is i1.

        %z = nn.greater %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
    """

    name = "nn.greater"
    result_element = i1

    def compute(self, a, b):
        return np.greater(a, b)


# ---------------------------------------------------------------------------------------------
# prelu, where, sum: their own operand lists


@nn.op
class PReluOp(NnOp):
    """`x` where `x >= 0`, else `slope * x`; `slope` broadcasts to `x` (one way only).

        %y = nn.prelu %x, %slope : (tensor<1x3x4x4xf32>, tensor<3x1x1xf32>) -> tensor<1x3x4x4xf32>
    """

    name = "nn.prelu"
    x = Operand(float_tensor)
    slope = Operand(float_tensor)
    y = Result(float_tensor)
    traits = (Pure, Elementwise)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        x, slope = operand_types
        _same_element_types([("x", x), ("slope", slope)])
        fits = len(slope.shape) <= len(x.shape) and all(
            s in (1, d) or s is None or d is None
            for s, d in zip(reversed(slope.shape), reversed(x.shape)))
        if not fits:
            raise ShapeError(f"slope of shape {list(slope.shape)} does not broadcast to x's shape "
                             f"{list(x.shape)}")
        return [x]

    def interpret(self, x, slope):
        return np.where(x < 0, x * slope, x).astype(x.dtype, copy=False)


@nn.op
class WhereOp(NnOp):
    """`a` where `cond` holds, else `b`; all three broadcast together.

        %z = nn.where %cond, %a, %b : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
    """

    name = "nn.where"
    cond = Operand(bool_tensor)
    a = Operand(tensor_type)
    b = Operand(tensor_type)
    z = Result(tensor_type)
    traits = (Pure, Elementwise)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        cond, a, b = operand_types
        _same_element_types([("a", a), ("b", b)])
        return [RankedTensorType(broadcast_shapes(cond.shape, a.shape, b.shape), a.element_type)]

    def interpret(self, cond, a, b):
        return np.where(cond, a, b).astype(self.z.type.element_type.numpy_dtype, copy=False)


@nn.op
class SumOp(NnOp):
    """The sum of one or more operands, elementwise with broadcasting.

        %y = nn.sum %x0, %x1, %x2 : (tensor<2x3xf32>, tensor<3xf32>, tensor<2x1xf32>) -> tensor<2x3xf32>
    """

    name = "nn.sum"
    inputs = VarOperand(tensor_type)
    y = Result(tensor_type)
    traits = (Pure, Elementwise)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        if not operand_types:
            raise ShapeError("has no operands; it needs at least one")
        _same_element_types([(f"x{i}", t) for i, t in enumerate(operand_types)])
        shape = broadcast_shapes(*(t.shape for t in operand_types))
        return [RankedTensorType(shape, operand_types[0].element_type)]

    def interpret(self, *inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return np.broadcast_to(out, np.broadcast_shapes(*(x.shape for x in inputs))).astype(
            self.y.type.element_type.numpy_dtype)

    def fold(self, *inputs):
        if len(self.inputs) == 1 and self.inputs[0].type == self.y.type:  # sum(x) -> x
            return self.inputs[0]
        return None

