"""Builtin types, printed and parsed in MLIR's syntax.

Types are immutable values compared by content: two `tensor<2x?xf32>` built apart are equal and
hash alike, so they can be dictionary keys and be compared with `==` in verifiers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class Type:
    """Base of all types. `str(t)` is the type's MLIR text."""


@dataclass(frozen=True)
class IntegerType(Type):
    """`i32` (signless), `si8` (signed), `ui16` (unsigned); `i1` is the boolean."""

    width: int
    signedness: str = ""  # "", "s" or "u"

    def __str__(self) -> str:
        return f"{self.signedness}i{self.width}"

    @property
    def numpy_dtype(self) -> np.dtype:
        if self.width == 1:
            return np.dtype(np.bool_)
        if self.width not in (8, 16, 32, 64):
            raise ValueError(f"no numpy dtype for {self}")
        return np.dtype(f"{'u' if self.signedness == 'u' else 'i'}{self.width // 8}")


@dataclass(frozen=True)
class FloatType(Type):
    """`f16`, `bf16`, `f32`, `f64`."""

    name: str

    def __str__(self) -> str:
        return self.name

    @property
    def width(self) -> int:
        return {"f16": 16, "bf16": 16, "f32": 32, "f64": 64}[self.name]

    @property
    def numpy_dtype(self) -> np.dtype:
        if self.name == "bf16":
            import ml_dtypes  # numpy has no bfloat16; ml_dtypes (a TVM dependency) adds it

            return np.dtype(ml_dtypes.bfloat16)
        return np.dtype({"f16": np.float16, "f32": np.float32, "f64": np.float64}[self.name])


@dataclass(frozen=True)
class IndexType(Type):
    """`index`: a target-sized integer used for sizes and subscripts (64-bit here)."""

    def __str__(self) -> str:
        return "index"

    numpy_dtype = np.dtype(np.int64)


@dataclass(frozen=True)
class NoneType(Type):
    """`none`: the unit type."""

    def __str__(self) -> str:
        return "none"


DYNAMIC = None
"""The value of a dynamic (`?`) dimension in `RankedTensorType.shape`."""


class ShapedType(Type):
    """What a tensor and a memref share, as MLIR's ShapedType: a `shape` of ints or None (`?`) and
    an `element_type`."""

    shape: tuple[int | None, ...]
    element_type: Type

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def has_static_shape(self) -> bool:
        return all(d is not None for d in self.shape)

    @property
    def num_elements(self) -> int:
        if not self.has_static_shape:
            raise ValueError(f"{self} has a dynamic shape")
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True)
class RankedTensorType(ShapedType):
    """`tensor<2x?xf32>`: a shape whose dims are ints or `None` (printed `?`), and an element type."""

    shape: tuple[int | None, ...]
    element_type: Type
    encoding: object | None = None  # an Attribute, printed after the element type

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(self.shape))

    def __str__(self) -> str:
        dims = "".join(("?" if d is None else str(d)) + "x" for d in self.shape)
        enc = f", {self.encoding}" if self.encoding is not None else ""
        return f"tensor<{dims}{self.element_type}{enc}>"


@dataclass(frozen=True)
class MemRefType(ShapedType):
    """`memref<4x?xf32>`: a buffer in memory, the loop dialects' counterpart of a tensor.

    A tensor is a value; a memref is a place that `memref.store` writes and `memref.load` reads.
    Its `layout` says where element (i, j, ...) lives: none (the default) is row-major and
    contiguous; `strided<[8, 1], offset: 2>` (`attributes.StridedLayoutAttr`) puts it at
    `offset + 8*i + 1*j` elements from the buffer's start, which is how a view of part of a
    buffer (`memref.subview`) is typed. `memory_space` is an attribute (`memref<4xf32, 1>`) that
    says which memory the buffer is in; lamina only carries it. `memref<f32>` holds one element.

        memref<4x4xf32, strided<[8, 1], offset: 2>>   a 4x4 window of a buffer 8 elements wide
    """

    shape: tuple[int | None, ...]
    element_type: Type
    layout: object | None = None  # a StridedLayoutAttr, or None for row-major
    memory_space: object | None = None  # an Attribute, or None for the default memory

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(self.shape))

    def __str__(self) -> str:
        dims = "".join(("?" if d is None else str(d)) + "x" for d in self.shape)
        params = [str(p) for p in (self.layout, self.memory_space) if p is not None]
        if self.memory_space is not None and getattr(self.memory_space, "type", None) == i64:
            params[-1] = str(self.memory_space.value)  # MLIR writes `memref<4xf32, 1>`
        return f"memref<{dims}{self.element_type}{''.join(', ' + p for p in params)}>"

    def strides_and_offset(self) -> tuple[tuple[int | None, ...], int | None]:
        """(the stride of each dim, the offset), in elements; None where dynamic (`?`).

        Row-major without a layout: memref<2x3x4xf32> -> ((12, 4, 1), 0)."""
        if self.layout is not None:
            return tuple(self.layout.strides), self.layout.offset
        strides, step = [], 1
        for d in reversed(self.shape):
            strides.append(step)
            step = None if step is None or d is None else step * d
        return tuple(reversed(strides)), 0


@dataclass(frozen=True)
class VectorType(ShapedType):
    """`vector<16xf32>`: a fixed number of scalars held in registers, as MLIR's VectorType.

    A value, like a scalar and unlike a memref; its shape is static (no `?`). The loop IR's
    matmul micro-kernel (lowering/loops/microkernel.py) keeps its accumulators in vectors, and the
    LLVM translation makes each one an LLVM vector `<16 x float>`. `vector<f32>` (rank 0) holds one
    element. MLIR's scalable dimensions (`vector<[4]xf32>`) are not supported.
    """

    shape: tuple[int, ...]
    element_type: Type

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(self.shape))

    def __str__(self) -> str:
        dims = "".join(f"{d}x" for d in self.shape)
        return f"vector<{dims}{self.element_type}>"


@dataclass(frozen=True)
class FunctionType(Type):
    """`(i32, f32) -> f32`; more or fewer than one result are parenthesised: `() -> (i1, i1)`."""

    inputs: tuple[Type, ...]
    results: tuple[Type, ...]

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "results", tuple(self.results))

    def __str__(self) -> str:
        ins = ", ".join(map(str, self.inputs))
        if len(self.results) == 1 and not isinstance(self.results[0], FunctionType):
            return f"({ins}) -> {self.results[0]}"
        return f"({ins}) -> ({', '.join(map(str, self.results))})"


@dataclass(frozen=True)
class OpaqueType(Type):
    """`!dialect.name<body>` from a dialect lamina does not know, kept as text.

    Only parsed under `allow_unregistered`, so that unknown IR passes through unchanged.
    """

    dialect: str
    name: str
    body: str = ""  # including its angle brackets, e.g. "<4, f32>"

    def __str__(self) -> str:
        return f"!{self.dialect}.{self.name}{self.body}" if self.name else f"!{self.dialect}{self.body}"


@dataclass(frozen=True)
class DialectType(Type):
    """`!dialect.name`: a parameterless type a dialect registers (`Dialect.register_type`), such as
    the schedule dialect's handles `!sched.block` and `!sched.loop`. It parses without
    --allow-unregistered and compares by name."""

    dialect: str
    name: str

    def __str__(self) -> str:
        return f"!{self.dialect}.{self.name}"


# The element types the issue names, for strategies and documentation.
i1, i8, i16, i32, i64 = (IntegerType(w) for w in (1, 8, 16, 32, 64))
f16, bf16, f32, f64 = (FloatType(n) for n in ("f16", "bf16", "f32", "f64"))
index = IndexType()
none = NoneType()

ELEMENT_TYPES: tuple[Type, ...] = (f16, bf16, f32, f64, i1, i8, i16, i32, i64, index)


def memref(*shape_and_element) -> MemRefType:
    """`memref(2, None, f32)` is `memref<2x?xf32>`."""
    *shape, element = shape_and_element
    return MemRefType(tuple(shape), element)


def vector(*shape_and_element) -> VectorType:
    """`vector(16, f32)` is `vector<16xf32>`."""
    *shape, element = shape_and_element
    return VectorType(tuple(shape), element)


def tensor(*shape_and_element) -> RankedTensorType:
    """`tensor(2, None, f32)` is `tensor<2x?xf32>`: a short way to write types in Python."""
    *shape, element = shape_and_element
    return RankedTensorType(tuple(shape), element)


def is_float_like(t: Type) -> bool:
    """A float, or a tensor of floats: what arith's float ops accept."""
    return isinstance(element_type_of(t), FloatType)


def is_integer_like(t: Type) -> bool:
    """An integer or index, or a tensor of them: what arith's integer ops accept."""
    return isinstance(element_type_of(t), (IntegerType, IndexType))


def element_type_of(t: Type) -> Type:
    return t.element_type if isinstance(t, RankedTensorType) else t
