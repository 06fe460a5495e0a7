"""Matrix products: numpy's batched `matmul` and ONNX's 2-D `gemm` (a fully connected layer)."""

from __future__ import annotations

import numpy as np

from lamina.compiler.attributes import FloatAttr, IntegerAttr
from lamina.compiler.opdef import Attr, Operand, Result, VarOperand
from lamina.compiler.types import RankedTensorType

from .base import (NnOp, ShapeError, _shape_str, broadcast_shapes, broadcasts_to, float_tensor, integer, nn,
                   option, real, tensor_type)


def _same_element_type(*named) -> None:
    (first_name, first), *rest = named
    for name, t in rest:
        if t.element_type != first.element_type:
            raise ShapeError(f"{first_name} is {first.element_type} but {name} is {t.element_type}; "
                             "they must match")


def _dims_agree(a, b) -> bool:
    return a is None or b is None or a == b


@nn.op
class MatMulOp(NnOp):
    """Matrix product with numpy.matmul's rules (ONNX MatMul): batched, batch dims broadcast,
    a 1-D operand is a row (a) or column (b) vector whose dim is dropped from the result.

        %c = nn.matmul %a, %b : (tensor<8x1x4x3xf32>, tensor<5x3x2xf32>) -> tensor<8x5x4x2xf32>
    """

    name = "nn.matmul"
    a = Operand(tensor_type)
    b = Operand(tensor_type)
    c = Result(tensor_type)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        a, b = operand_types
        _same_element_type(("a", a), ("b", b))
        if a.rank == 0 or b.rank == 0:
            raise ShapeError("operands must have rank 1 or more, but "
                             f"{'a' if a.rank == 0 else 'b'} is a scalar")
        a_shape = (1,) + a.shape if a.rank == 1 else a.shape  # a row vector
        b_shape = b.shape + (1,) if b.rank == 1 else b.shape  # a column vector
        if not _dims_agree(a_shape[-1], b_shape[-2]):
            raise ShapeError(f"a {_shape_str(a.shape)} has {a_shape[-1]} columns but "
                             f"b {_shape_str(b.shape)} has {b_shape[-2]} rows")
        batch = broadcast_shapes(a_shape[:-2], b_shape[:-2])
        shape = batch + (a_shape[-2],) * (a.rank > 1) + (b_shape[-1],) * (b.rank > 1)
        return [RankedTensorType(shape, a.element_type)]

    def interpret(self, a, b):
        return np.matmul(a, b).astype(self.c.type.element_type.numpy_dtype, copy=False)


@nn.op
class GemmOp(NnOp):
    """General matrix multiply (ONNX Gemm): y = alpha * op(a) @ op(b) + beta * c, where op
    transposes when `trans_a` / `trans_b` is 1 and c (optional) broadcasts to [M, N].

        %y = nn.gemm %a, %b, %c attributes {trans_b = 1 : i64} : (tensor<1x512xf32>, tensor<1000x512xf32>, tensor<1000xf32>) -> tensor<1x1000xf32>
    """

    name = "nn.gemm"
    a = Operand(float_tensor)
    b = Operand(float_tensor)
    c = VarOperand(float_tensor, doc="none, or one tensor that broadcasts to [M, N]")
    y = Result(float_tensor)
    alpha = Attr(FloatAttr, default=real(1.0))
    beta = Attr(FloatAttr, default=real(1.0))
    trans_a = Attr(IntegerAttr, default=integer(0))
    trans_b = Attr(IntegerAttr, default=integer(0))

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        a, b, *c = operand_types
        if len(c) > 1:
            raise ShapeError(f"takes at most one c, but got {len(c)}")
        _same_element_type(("a", a), ("b", b), *(("c", t) for t in c))
        for name, t in (("a", a), ("b", b)):
            if t.rank != 2:
                raise ShapeError(f"{name} must be a 2-D tensor, but has rank {t.rank}")
        m, k = a.shape[::-1] if option(cls, properties, "trans_a") else a.shape
        k2, n = b.shape[::-1] if option(cls, properties, "trans_b") else b.shape
        if not _dims_agree(k, k2):
            raise ShapeError(f"op(a) is {_shape_str((m, k))} but op(b) is {_shape_str((k2, n))}; "
                             f"their inner dims {k} and {k2} must match")
        if c and not broadcasts_to(c[0].shape, (m, n)):
            raise ShapeError(f"c {_shape_str(c[0].shape)} does not broadcast to the result "
                             f"{_shape_str((m, n))}")
        return [RankedTensorType((m, n), a.element_type)]

    def interpret(self, a, b, *c):
        a = a.T if self.trans_a.value else a
        b = b.T if self.trans_b.value else b
        y = self.alpha.value * (a @ b)
        if c:
            y = y + self.beta.value * c[0]
        return np.asarray(y).astype(a.dtype, copy=False)
