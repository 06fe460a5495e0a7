"""The memref dialect: buffers in memory, and loads and stores of their elements.

Where nn works on tensors (values), the loop dialects work on memrefs (places): `memref.alloc`
makes a buffer, `memref.store` writes an element, `memref.load` reads one, `memref.subview` and
`memref.reinterpret_cast` are views of the same memory with other shapes and strides (types.py's
`MemRefType` and its strided layout), `memref.global` holds a model's weights.

Op names, operand order, property names and the generic form are MLIR's, so xdsl-opt and
mlir-opt read what lamina prints. In the reference interpreter a memref is a numpy array that ops
change in place, and a view is a numpy view of the same memory.

Memory effects (opdef.MemRead, ...) tell cse and dce what each op does: a load may be dropped
when unused but not moved across a store; a store, copy or dealloc is never dropped.
"""

from __future__ import annotations

import numpy as np

from lamina.compiler.attributes import (DenseArrayAttr, DenseElementsAttr, IntegerAttr,
                                        StridedLayoutAttr, StringAttr, SymbolRefAttr, TypeAttr,
                                        UnitAttr)
from lamina.compiler.opdef import (Attr, Dialect, MemAlloc, MemFree, MemRead, MemWrite, Op,
                                   Operand, Pure, Result, SymbolOp, TypeConstraint, VarOperand,
                                   check_segments, operand_segments)
from lamina.compiler.printer import CustomForm
from lamina.compiler.types import IndexType, MemRefType, RankedTensorType, i32, i64

memref = Dialect("memref", "Buffers in memory: allocation, loads, stores, views and globals.")

memref_type = TypeConstraint("a memref", lambda t: isinstance(t, MemRefType))
index_type = TypeConstraint("index", lambda t: isinstance(t, IndexType))

DYNAMIC_INDEX = -(2 ** 63)
"""MLIR's ShapedType::kDynamic: a static_offsets/sizes/strides entry given by an operand instead."""


def segment_sizes(*sizes: int) -> DenseArrayAttr:
    """`array<i32: 1, 0>`: the operandSegmentSizes property of an op with several operand groups."""
    return DenseArrayAttr(i32, tuple(sizes))


def _uninitialized(shape, dtype) -> np.ndarray:
    """A new buffer, as the interpreter gives it: NaN for floats, the smallest value for
    integers, so that a program which reads before it writes shows it instead of reading zeros."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.full(shape, np.nan, dtype)
    if dtype.kind in "iu":
        return np.full(shape, np.iinfo(dtype).min, dtype)
    return np.zeros(shape, dtype)


def _check_indices(m: MemRefType, indices) -> str | None:
    if len(indices) != m.rank:
        return f"indexes {m} of rank {m.rank} with {len(indices)} indices; give one per dimension"
    return None


def _element_at(array: np.ndarray, indices, what: str):
    """The tuple index of `indices` into `array`, checked: numpy would wrap a negative index."""
    at = tuple(int(i) for i in indices)
    for i, d in zip(at, array.shape):
        if not 0 <= i < d:
            raise IndexError(f"{what} at index {list(at)} is outside the memref's shape {list(array.shape)}")
    return at


# ---------------------------------------------------------------------------------------------
# Allocation


class _AllocLikeOp(Op):
    """memref.alloc and memref.alloca: a new buffer of the result type."""

    dynamic = VarOperand(index_type, doc="the dynamic sizes (one per `?`), then the symbol operands")
    memref = Result(memref_type)
    alignment = Attr(IntegerAttr, optional=True, doc="the buffer's alignment in bytes, a power of two")
    operandSegmentSizes = Attr(DenseArrayAttr, doc="array<i32: #dynamic sizes, #symbol operands>")

    @classmethod
    def create(cls, type: MemRefType, dynamic_sizes=(), alignment: int | None = None, location=None):
        props = {"operandSegmentSizes": segment_sizes(len(dynamic_sizes), 0)}
        if alignment is not None:
            props["alignment"] = IntegerAttr(alignment, i64)
        return cls(operands=list(dynamic_sizes), result_types=[type], properties=props, location=location)

    @property
    def dynamic_sizes(self):
        return operand_segments(self)[0]

    @property
    def symbol_operands(self):
        return operand_segments(self)[1]

    def verify(self):
        problem = check_segments(self, ("dynamic_sizes", "symbol_operands"))
        if problem:
            return problem
        t = self.memref.type
        dynamic_dims = sum(d is None for d in t.shape)
        if len(self.dynamic_sizes) != dynamic_dims:
            return (f"has {len(self.dynamic_sizes)} dynamic size{'s' * (len(self.dynamic_sizes) != 1)} "
                    f"but {t} has {dynamic_dims} dynamic dimension{'s' * (dynamic_dims != 1)}")
        if self.alignment is not None and (self.alignment.value <= 0 or self.alignment.value & (self.alignment.value - 1)):
            return f"alignment {self.alignment.value} is not a positive power of two"

    def interpret(self, *dynamic):
        sizes = iter(dynamic)
        shape = tuple(int(next(sizes)) if d is None else d for d in self.memref.type.shape)
        return _uninitialized(shape, self.memref.type.element_type.numpy_dtype)

    def print_custom(self, p):
        if self.alignment is not None or self.symbol_operands:
            return None
        return CustomForm(paren=list(self.dynamic_sizes), attr_dict=self.attributes or None,
                          types=[self.memref.type])

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "paren", "attr_dict", "types", required=("paren", "types"))
        (type,) = parser.types_of(form, count=1)
        sizes = parser.paren_operands(form, [IndexType()] * len(form.paren or []))
        op = cls.create(type, sizes)
        op.attributes.update(form.attr_dict or {})
        return op


@memref.op
class AllocOp(_AllocLikeOp):
    """A new buffer on the heap (free it with memref.dealloc); one size operand per `?`.

        %m = memref.alloc() : memref<4x4xf32>
        %d = memref.alloc(%n) : memref<?x4xf32>
    """

    name = "memref.alloc"
    traits = (MemAlloc,)


@memref.op
class AllocaOp(_AllocLikeOp):
    """A new buffer on the stack, freed when the enclosing function returns.

        %m = memref.alloca() : memref<4xf32>
    """

    name = "memref.alloca"
    traits = (MemAlloc,)


@memref.op
class DeallocOp(Op):
    """Free a buffer made by memref.alloc.

        memref.dealloc %m : memref<4x4xf32>
    """

    name = "memref.dealloc"
    memref = Operand(memref_type)
    traits = (MemFree,)

    def interpret(self, buffer):
        return ()

    def print_custom(self, p):
        return CustomForm(operands=[self.memref], attr_dict=self.attributes or None, types=[self.memref.type])

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "operands", "attr_dict", "types", required=("operands", "types"))
        (type,) = parser.types_of(form, count=1)
        (buffer,) = parser.operands_of_type(form, type, count=1)
        return cls(operands=[buffer], attributes=form.attr_dict or {})


# ---------------------------------------------------------------------------------------------
# Loads and stores


def _subscript_of(form, parser):
    """The `[%i, %j]` after the memref; `[]` (a 0-d memref) reads as an empty array attribute."""
    if form.attribute is not None and str(form.attribute) != "[]":
        parser.fail_form(form, "expects indices in brackets after the memref, like %m[%i, %j]")
    if form.subscript is None and form.attribute is None:
        parser.fail_form(form, "expects indices in brackets after the memref, like %m[%i, %j]")
    return [parser.use(name, IndexType()) for name in form.subscript or []]


@memref.op
class LoadOp(Op):
    """Read one element; one index per dimension.

        %v = memref.load %m[%i, %j] : memref<4x4xf32>
    """

    name = "memref.load"
    memref = Operand(memref_type)
    indices = VarOperand(index_type)
    result = Result()
    nontemporal = Attr(IntegerAttr, optional=True, doc="a hint that the value will not be reused soon")
    traits = (MemRead,)

    @classmethod
    def create(cls, buffer, indices, location=None):
        return cls(operands=[buffer, *indices], result_types=[buffer.type.element_type], location=location)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        return [operand_types[0].element_type] if isinstance(operand_types[0], MemRefType) else None

    def verify(self):
        return _check_indices(self.memref.type, self.indices)

    def interpret(self, buffer, *indices):
        return buffer[_element_at(buffer, indices, "memref.load")]

    def print_custom(self, p):
        if self.properties:
            return None
        return CustomForm(operands=[self.memref], subscript=list(self.indices),
                          attr_dict=self.attributes or None, types=[self.memref.type])

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "operands", "subscript", "attribute", "attr_dict", "types",
                           required=("operands", "types"))
        (type,) = parser.types_of(form, count=1)
        (buffer,) = parser.operands_of_type(form, type, count=1)
        if not isinstance(type, MemRefType):
            parser.fail_form(form, f"reads a memref, not {type}")
        return cls(operands=[buffer, *_subscript_of(form, parser)], result_types=[type.element_type],
                   attributes=form.attr_dict or {})


@memref.op
class StoreOp(Op):
    """Write one element; the value's type is the element type.

        memref.store %v, %m[%i, %j] : memref<4x4xf32>
    """

    name = "memref.store"
    value = Operand()
    memref = Operand(memref_type)
    indices = VarOperand(index_type)
    nontemporal = Attr(IntegerAttr, optional=True, doc="a hint that the value will not be reused soon")
    traits = (MemWrite,)

    @classmethod
    def create(cls, value, buffer, indices, location=None):
        return cls(operands=[value, buffer, *indices], location=location)

    def verify(self):
        if self.value.type != self.memref.type.element_type:
            return f"stores a {self.value.type} into {self.memref.type}; the value must be its element type"
        return _check_indices(self.memref.type, self.indices)

    def interpret(self, value, buffer, *indices):
        buffer[_element_at(buffer, indices, "memref.store")] = value
        return ()

    def print_custom(self, p):
        if self.properties:
            return None
        return CustomForm(operands=[self.value, self.memref], subscript=list(self.indices),
                          attr_dict=self.attributes or None, types=[self.memref.type])

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "operands", "subscript", "attribute", "attr_dict", "types",
                           required=("operands", "types"))
        (type,) = parser.types_of(form, count=1)
        if not isinstance(type, MemRefType) or len(form.operands or []) != 2:
            parser.fail_form(form, "expects a value and a memref, like memref.store %v, %m[%i] : memref<4xf32>")
        value = parser.use(form.operands[0], type.element_type)
        buffer = parser.use(form.operands[1], type)
        return cls(operands=[value, buffer, *_subscript_of(form, parser)], attributes=form.attr_dict or {})


@memref.op
class CopyOp(Op):
    """Copy every element of `source` into `target` (same shape and element type).

        "memref.copy"(%a, %b) : (memref<4xf32>, memref<4xf32>) -> ()
    """

    name = "memref.copy"
    source = Operand(memref_type)
    target = Operand(memref_type)
    traits = (MemRead, MemWrite)

    def verify(self):
        s, t = self.source.type, self.target.type
        if s.element_type != t.element_type or len(s.shape) != len(t.shape) or any(
                a is not None and b is not None and a != b for a, b in zip(s.shape, t.shape)):
            return f"copies {s} into {t}; the shapes and element types must match"

    def interpret(self, source, target):
        target[...] = source
        return ()


# ---------------------------------------------------------------------------------------------
# Views: the same memory with another shape, offset and strides


class _ViewOp(Op):
    """Shared by subview and reinterpret_cast: static offsets, sizes and strides, where
    DYNAMIC_INDEX marks one given by an operand (MLIR's static_* properties)."""

    source = Operand(memref_type)
    dynamic = VarOperand(index_type, doc="the dynamic offsets, then sizes, then strides")
    result = Result(memref_type)
    static_offsets = Attr(DenseArrayAttr)
    static_sizes = Attr(DenseArrayAttr)
    static_strides = Attr(DenseArrayAttr)
    operandSegmentSizes = Attr(DenseArrayAttr, doc="array<i32: 1, #offsets, #sizes, #strides>")
    traits = (Pure,)

    @classmethod
    def create(cls, source, offsets, sizes, strides, result_type=None, location=None):
        """Static offsets, sizes and strides (ints); the result type is inferred when not given."""
        props = {"static_offsets": DenseArrayAttr(i64, tuple(offsets)),
                 "static_sizes": DenseArrayAttr(i64, tuple(sizes)),
                 "static_strides": DenseArrayAttr(i64, tuple(strides)),
                 "operandSegmentSizes": segment_sizes(1, 0, 0, 0)}
        if result_type is None:
            result_type = cls.result_type_for(source.type, offsets, sizes, strides)
        return cls(operands=[source], result_types=[result_type], properties=props, location=location)

    def verify(self):
        problem = check_segments(self, ("source", "offsets", "sizes", "strides"))
        if problem:
            return problem
        for name, (attr, operands) in zip(("offsets", "sizes", "strides"), self._groups()):
            if attr.element_type != i64:
                return f"static_{name} must be array<i64: ...>, not {attr}"
            dynamic = sum(v == DYNAMIC_INDEX for v in attr.values)
            if dynamic != len(operands):
                return f"has {len(operands)} dynamic {name} but static_{name} marks {dynamic}"
        return self.verify_view()

    def _groups(self):
        _, offsets, sizes, strides = operand_segments(self)
        return ((self.static_offsets, offsets), (self.static_sizes, sizes), (self.static_strides, strides))

    def _values(self, dynamic):
        """The offsets, sizes and strides as ints, with the dynamic ones from `dynamic`."""
        given = iter(int(v) for v in dynamic)
        return [[next(given) if v == DYNAMIC_INDEX else v for v in attr.values]
                for attr, _ in self._groups()]

    def _static(self, attr) -> list:
        return [None if v == DYNAMIC_INDEX else v for v in attr.values]


def _layout_matches(t: MemRefType, shape, strides, offset) -> bool:
    """Does `t` have this shape, strides and offset (None = dynamic)? Row-major identity layouts
    match their strides (`memref<2x4xf32>` is `strides [4, 1], offset 0`)."""
    return tuple(t.shape) == tuple(shape) and t.strides_and_offset() == (tuple(strides), offset)


@memref.op
class SubviewOp(_ViewOp):
    """A window of a memref: offsets, sizes and strides per dimension, in elements of the source.
    The result is a view of the same memory, with a strided layout.

        %w = "memref.subview"(%m) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>,
               static_offsets = array<i64: 1, 2>, static_sizes = array<i64: 2, 2>,
               static_strides = array<i64: 1, 1>}>
             : (memref<4x8xf32>) -> memref<2x2xf32, strided<[8, 1], offset: 10>>
    """

    name = "memref.subview"

    @staticmethod
    def result_type_for(source: MemRefType, offsets, sizes, strides) -> MemRefType:
        """The view's type: strides multiply, offsets add up (None where anything is dynamic)."""
        src_strides, src_offset = source.strides_and_offset()
        offset = src_offset
        for o, s in zip(offsets, src_strides):
            offset = None if offset is None or o is None or s is None else offset + o * s
        new_strides = tuple(None if a is None or b is None else a * b for a, b in zip(src_strides, strides))
        return MemRefType(tuple(sizes), source.element_type, StridedLayoutAttr(new_strides, offset),
                          source.memory_space)

    def verify_view(self):
        src = self.source.type
        lists = [self._static(a) for a in (self.static_offsets, self.static_sizes, self.static_strides)]
        if any(len(values) != src.rank for values in lists):
            return f"needs {src.rank} offsets, sizes and strides for {src} (rank-reducing views are not supported)"
        offsets, sizes, strides = lists
        for d, (o, n, s, dim) in enumerate(zip(offsets, sizes, strides, src.shape)):
            if None not in (o, n, s, dim) and n > 0 and not (0 <= o and o + (n - 1) * s < dim):
                return f"dimension {d}: offset {o}, size {n}, stride {s} reach outside {src}"
        want = self.result_type_for(src, offsets, sizes, strides)
        got = self.result.type
        if got.element_type != want.element_type or not _layout_matches(got, want.shape, *want.strides_and_offset()):
            return f"result type {got} does not match the view, {want}"

    def interpret(self, source, *dynamic):
        offsets, sizes, strides = self._values(dynamic)
        return source[tuple(slice(o, o + n * s, s) if n else slice(o, o) for o, n, s in zip(offsets, sizes, strides))]


@memref.op
class ReinterpretCastOp(_ViewOp):
    """View the buffer under a memref with another shape, offset and strides, counted from the
    start of the buffer (not from the source's own offset). A reshape of a contiguous buffer is
    one: no copy.

        %r = "memref.reinterpret_cast"(%m) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>,
               static_offsets = array<i64: 0>, static_sizes = array<i64: 2, 6>,
               static_strides = array<i64: 6, 1>}> : (memref<3x4xf32>) -> memref<2x6xf32>
    """

    name = "memref.reinterpret_cast"

    @staticmethod
    def result_type_for(source: MemRefType, offsets, sizes, strides) -> MemRefType:
        """Row-major without a layout when it is, else with the strided layout it describes."""
        plain = MemRefType(tuple(sizes), source.element_type, None, source.memory_space)
        if _layout_matches(plain, sizes, strides, offsets[0]):
            return plain
        return MemRefType(tuple(sizes), source.element_type, StridedLayoutAttr(tuple(strides), offsets[0]),
                          source.memory_space)

    def verify_view(self):
        offsets, sizes, strides = (self._static(a) for a in
                                   (self.static_offsets, self.static_sizes, self.static_strides))
        got = self.result.type
        if len(offsets) != 1:
            return f"takes one offset, not {len(offsets)}"
        if len(sizes) != got.rank or len(strides) != got.rank:
            return f"needs {got.rank} sizes and strides for its result {got}"
        if got.element_type != self.source.type.element_type:
            return f"changes the element type from {self.source.type.element_type} to {got.element_type}"
        if not _layout_matches(got, sizes, strides, offsets[0]):
            return (f"result type {got} does not have sizes {sizes}, strides {strides} and offset "
                    f"{offsets[0]}").replace("None", "?")

    def interpret(self, source, *dynamic):
        (offset,), sizes, strides = self._values(dynamic)
        _, source_offset = self.source.type.strides_and_offset()
        if source_offset is None:
            raise NotImplementedError("memref.reinterpret_cast of a source with a dynamic offset")
        root = source
        while isinstance(root.base, np.ndarray):  # the whole buffer the source is a view of
            root = root.base
        item = source.itemsize
        start = (source.__array_interface__["data"][0] - root.__array_interface__["data"][0]) // item
        start += offset - source_offset
        last = start + sum((n - 1) * s for n, s in zip(sizes, strides)) if all(sizes) else start
        if start < 0 or last >= root.size and all(sizes):
            raise IndexError(f"memref.reinterpret_cast reaches outside its buffer of {root.size} elements")
        flat = root.reshape(-1)
        return np.lib.stride_tricks.as_strided(flat[start:], shape=sizes, strides=[s * item for s in strides])


# ---------------------------------------------------------------------------------------------
# Globals: named buffers that live as long as the module (a model's weights)


@memref.op
class GlobalOp(Op):
    """A named buffer with an initial value; `constant` promises it is never written.

        "memref.global"() <{sym_name = "w", sym_visibility = "private", type = memref<2xf32>,
                            initial_value = dense<[1.0, 2.0]> : tensor<2xf32>, constant}> : () -> ()
    """

    name = "memref.global"
    sym_name = Attr(StringAttr)
    sym_visibility = Attr(StringAttr, optional=True)
    type = Attr(TypeAttr, doc="the memref type of the buffer")
    initial_value = Attr((DenseElementsAttr, UnitAttr), optional=True,
                         doc="its contents (dense<...>), or unit for an uninitialized buffer")
    constant = Attr(UnitAttr, optional=True)
    alignment = Attr(IntegerAttr, optional=True)
    traits = (SymbolOp,)

    @classmethod
    def create(cls, name: str, value: DenseElementsAttr, constant: bool = True, visibility: str = "private"):
        """A global holding `value`, with the memref type of the same shape."""
        t = MemRefType(value.type.shape, value.type.element_type)
        props = {"sym_name": StringAttr(name), "sym_visibility": StringAttr(visibility),
                 "type": TypeAttr(t), "initial_value": value}
        if constant:
            props["constant"] = UnitAttr()
        return cls(properties=props)

    @property
    def memref_type(self) -> MemRefType:
        return self.type.type

    def initial_buffer(self) -> np.ndarray:
        """A new, writable buffer holding the initial value (uninitialized for `unit`)."""
        if isinstance(self.initial_value, DenseElementsAttr):
            return np.array(self.initial_value.array)
        return _uninitialized(self.memref_type.shape, self.memref_type.element_type.numpy_dtype)

    def verify(self):
        t = self.memref_type
        if not isinstance(t, MemRefType) or not t.has_static_shape:
            return f"type must be a memref of static shape, not {t}"
        value = self.initial_value
        if isinstance(value, DenseElementsAttr) and value.type != RankedTensorType(t.shape, t.element_type):
            return f"initial value has type {value.type} but the global holds {t}"


@memref.op
class GetGlobalOp(Op):
    """The buffer of a memref.global, by name.

        %w = memref.get_global @w : memref<2xf32>
    """

    name = "memref.get_global"
    global_name = Attr(SymbolRefAttr, prop_name="name")
    result = Result(memref_type)
    traits = (Pure,)

    def verify(self):
        from lamina.compiler.symbols import SymbolTable

        target = SymbolTable.lookup_from(self, self.global_name)
        if not isinstance(target, GlobalOp):
            return f"names @{self.global_name.root}, which is not a memref.global of the enclosing module"
        if target.memref_type != self.result.type:
            return f"has type {self.result.type} but @{self.global_name.root} is {target.memref_type}"

    def interpret_with(self, interpreter):
        return interpreter.global_buffer(self.global_name.root)

    def print_custom(self, p):
        if self.global_name.nested:
            return None
        return CustomForm(symbol=self.global_name.root, attr_dict=self.attributes or None, types=[self.result.type])

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "symbol", "attr_dict", "types", required=("symbol", "types"))
        (type,) = parser.types_of(form, count=1)
        return cls(result_types=[type], properties={"name": SymbolRefAttr(form.symbol)},
                   attributes=form.attr_dict or {})
