"""The vector dialect: values of several scalars at once (`vector<16xf32>`), loaded from and stored
to memrefs, broadcast from a scalar, and combined by a fused multiply-add.

    %b = vector.load %m[%k, %j] : memref<64x64xf32>, vector<16xf32>
    %s = vector.broadcast %x : f32 to vector<16xf32>
    %r = vector.fma %s, %b, %acc : vector<16xf32>
    vector.store %r, %out[%i, %j] : memref<64x64xf32>, vector<16xf32>

It is the part of MLIR's vector dialect that lamina's matmul micro-kernel is written with
(lowering/loops/microkernel.py): a vector is what one machine register holds (16 f32 on AVX-512),
so IR in these ops says exactly which values live in registers, instead of hoping that LLVM's
vectorizer finds them. Op names, operand order, the `nontemporal` property and both the generic
and the custom form are MLIR's, so xdsl-opt and mlir-opt read what lamina prints.

In the reference interpreter a vector is a numpy array of the vector's shape; the LLVM
translation makes it an LLVM vector (`<16 x float>`) and vector.fma the `llvm.fma.v16f32`
intrinsic (one instruction, vfmadd231ps, on a machine with FMA).
"""

from __future__ import annotations

import numpy as np

from lamina.compiler.attributes import IntegerAttr
from lamina.compiler.opdef import (Attr, Dialect, MemRead, MemWrite, Op, Operand, Pure, Result,
                                   TypeConstraint, VarOperand)
from lamina.compiler.printer import CastForm, CustomForm
from lamina.compiler.types import FloatType, IndexType, MemRefType, VectorType

vector = Dialect("vector", "Vectors of scalars in registers: loads, stores, broadcasts, fused multiply-adds.")

vector_type = TypeConstraint("a vector", lambda t: isinstance(t, VectorType))
float_vector = TypeConstraint("a vector of floats",
                              lambda t: isinstance(t, VectorType) and isinstance(t.element_type, FloatType))
memref_type = TypeConstraint("a memref", lambda t: isinstance(t, MemRefType))
index_type = TypeConstraint("index", lambda t: isinstance(t, IndexType))


def _check_transfer(m: MemRefType, v: VectorType, indices) -> str | None:
    """What vector.load and vector.store share: one index per memref dim, the same element type,
    the vector no longer in rank than the memref, and a unit stride in the memref's last dim."""
    if len(indices) != m.rank:
        return f"indexes {m} of rank {m.rank} with {len(indices)} indices; give one per dimension"
    if v.element_type != m.element_type:
        return f"moves a {v} to or from {m}; the element types must be the same"
    if v.rank > m.rank:
        return f"moves a {v} to or from {m}; the vector's rank must not exceed the memref's"
    strides, _ = m.strides_and_offset()
    if m.rank and strides[-1] != 1:
        return f"moves a vector to or from {m}, whose last dimension is not contiguous (stride 1)"
    return None


def _window(buffer: np.ndarray, indices, shape, what: str):
    """The numpy index of the elements a vector of `shape` at `indices` covers: the memref's last
    len(shape) dims, from the indices on. Checked, as memref.load checks its index."""
    at = [int(i) for i in indices]
    lead = len(at) - len(shape)
    for d, (i, size) in enumerate(zip(at, buffer.shape)):
        width = shape[d - lead] if d >= lead else 1
        if not 0 <= i <= size - width:
            raise IndexError(f"{what} of {list(shape)} elements at index {at} is outside the memref's shape "
                             f"{list(buffer.shape)}")
    return tuple(at[:lead]) + tuple(slice(i, i + n) for i, n in zip(at[lead:], shape))


def _transfer_from_custom(form, parser, value_count: int):
    """`%m[%i, %j] : memref<...>, vector<...>` (and the stored value before it, for vector.store)."""
    parser.expect_form(form, "operands", "subscript", "attr_dict", "types", required=("operands", "types"))
    m, v = parser.types_of(form, count=2)
    if not isinstance(m, MemRefType) or not isinstance(v, VectorType):
        parser.fail_form(form, "expects ': memref<...>, vector<...>' after its indices")
    if len(form.operands) != value_count + 1:
        parser.fail_form(form, f"expects {value_count + 1} operand{'s' * bool(value_count)} before the indices")
    values = [parser.use(name, v) for name in form.operands[:value_count]]
    base = parser.use(form.operands[value_count], m)
    indices = [parser.use(name, IndexType()) for name in form.subscript or []]
    return values, base, indices, v


@vector.op
class LoadOp(Op):
    """Read a vector from a memref: element `[%i, %j]` and the ones after it along the last
    dimension (the vector's last dims, for a vector of higher rank).

        %v = vector.load %m[%i, %j] : memref<4x32xf32>, vector<16xf32>
    """

    name = "vector.load"
    base = Operand(memref_type)
    indices = VarOperand(index_type)
    result = Result(vector_type)
    nontemporal = Attr(IntegerAttr, optional=True, doc="a hint that the value will not be reused soon")
    traits = (MemRead,)

    @classmethod
    def create(cls, base, indices, type: VectorType, location=None):
        return cls(operands=[base, *indices], result_types=[type], location=location)

    def verify(self):
        return _check_transfer(self.base.type, self.result.type, self.indices)

    def interpret(self, buffer, *indices):
        return buffer[_window(buffer, indices, self.result.type.shape, "vector.load")].copy()

    def print_custom(self, p):
        if self.properties:
            return None
        return CustomForm(operands=[self.base], subscript=list(self.indices), attr_dict=self.attributes or None,
                          types=[self.base.type, self.result.type])

    @classmethod
    def from_custom(cls, form, parser):
        _, base, indices, v = _transfer_from_custom(form, parser, 0)
        return cls(operands=[base, *indices], result_types=[v], attributes=form.attr_dict or {})


@vector.op
class StoreOp(Op):
    """Write a vector into a memref, from element `[%i, %j]` on along the last dimension.

        vector.store %v, %m[%i, %j] : memref<4x32xf32>, vector<16xf32>
    """

    name = "vector.store"
    valueToStore = Operand(vector_type)
    base = Operand(memref_type)
    indices = VarOperand(index_type)
    nontemporal = Attr(IntegerAttr, optional=True, doc="a hint that the value will not be reused soon")
    traits = (MemWrite,)

    @classmethod
    def create(cls, value, base, indices, location=None):
        return cls(operands=[value, base, *indices], location=location)

    def verify(self):
        return _check_transfer(self.base.type, self.valueToStore.type, self.indices)

    def interpret(self, value, buffer, *indices):
        buffer[_window(buffer, indices, self.valueToStore.type.shape, "vector.store")] = value
        return ()

    def print_custom(self, p):
        if self.properties:
            return None
        return CustomForm(operands=[self.valueToStore, self.base], subscript=list(self.indices),
                          attr_dict=self.attributes or None, types=[self.base.type, self.valueToStore.type])

    @classmethod
    def from_custom(cls, form, parser):
        (value,), base, indices, _ = _transfer_from_custom(form, parser, 1)
        return cls(operands=[value, base, *indices], attributes=form.attr_dict or {})


@vector.op
class BroadcastOp(CastForm, Op):
    """A vector with the scalar (or lower-rank vector) `source` in every position.

        %v = vector.broadcast %x : f32 to vector<16xf32>
    """

    name = "vector.broadcast"
    source = Operand()
    vector = Result(vector_type)
    traits = (Pure,)

    @classmethod
    def create(cls, source, type: VectorType, location=None):
        return cls(operands=[source], result_types=[type], location=location)

    def verify(self):
        s, v = self.source.type, self.vector.type
        element = s.element_type if isinstance(s, VectorType) else s
        if element != v.element_type:
            return f"broadcasts a {s} to {v}; the element types must be the same"
        if isinstance(s, VectorType) and (s.rank > v.rank or any(
                a not in (1, b) for a, b in zip(reversed(s.shape), reversed(v.shape)))):
            return f"cannot broadcast {s} to {v} (numpy's rules: trailing dims equal or 1)"

    def interpret(self, source):
        t = self.vector.type
        return np.broadcast_to(np.asarray(source, t.element_type.numpy_dtype), t.shape).copy()



@vector.op
class FMAOp(Op):
    """lhs * rhs + acc, element by element, rounded once (a fused multiply-add).

        %r = vector.fma %a, %b, %acc : vector<16xf32>
    """

    name = "vector.fma"
    lhs = Operand(float_vector)
    rhs = Operand(float_vector)
    acc = Operand(float_vector)
    result = Result(float_vector)
    traits = (Pure,)

    @classmethod
    def create(cls, lhs, rhs, acc, location=None):
        return cls(operands=[lhs, rhs, acc], result_types=[acc.type], location=location)

    def verify(self):
        types = {self.lhs.type, self.rhs.type, self.acc.type, self.result.type}
        if len(types) != 1:
            return "takes and gives one vector type; lhs, rhs, acc and the result differ"

    def interpret(self, lhs, rhs, acc):
        # float64 holds f32's product exactly, so one rounding at the end is the fused result
        return (np.asarray(lhs, np.float64) * rhs + acc).astype(self.result.type.element_type.numpy_dtype)

    def print_custom(self, p):
        return CustomForm(operands=[self.lhs, self.rhs, self.acc], attr_dict=self.attributes or None,
                          types=[self.result.type])

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "operands", "attr_dict", "types", required=("operands", "types"))
        (type,) = parser.types_of(form, count=1)
        lhs, rhs, acc = parser.operands_of_type(form, type, count=3)
        return cls(operands=[lhs, rhs, acc], result_types=[type], attributes=form.attr_dict or {})
