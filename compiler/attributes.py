"""Builtin attributes: compile-time constant data attached to ops, in MLIR's syntax.

Like types, attributes are immutable and compared by content. Dense tensors are backed by a
read-only numpy array; large ones print in MLIR's hex form (`dense<"0x...">`), which is exact and
parses quickly, and can be elided when only the structure of a module matters.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from .types import FloatType, RankedTensorType, Type, f64, i1, i64


class Attribute:
    """Base of all attributes. `str(a)` is the attribute's MLIR text."""


# ---------------------------------------------------------------------------------------------
# Scalars


@dataclass(frozen=True)
class IntegerAttr(Attribute):
    """`42 : i64`, `3 : index`; an `i1` prints as `true` / `false` (MLIR's BoolAttr)."""

    value: int
    type: Type = i64

    def __str__(self) -> str:
        if self.type == i1:
            return "true" if self.value else "false"
        return f"{self.value} : {self.type}"


def BoolAttr(value: bool) -> IntegerAttr:
    return IntegerAttr(int(bool(value)), i1)


@dataclass(frozen=True)
class FloatAttr(Attribute):
    """`1.000000e+00 : f32`. The value is kept as a Python float, rounded to the type."""

    value: float
    type: FloatType = f64

    def __post_init__(self):
        object.__setattr__(self, "value", float(np.asarray(self.value, self.type.numpy_dtype)))

    def __str__(self) -> str:
        return f"{format_float(self.value, self.type)} : {self.type}"

    def __eq__(self, other):  # NaN payloads compare by bits, so a NaN attribute equals itself
        return (isinstance(other, FloatAttr) and self.type == other.type
                and float_bits(self.value, self.type) == float_bits(other.value, other.type))

    def __hash__(self):
        return hash((float_bits(self.value, self.type), self.type))


@dataclass(frozen=True)
class UnitAttr(Attribute):
    """`unit`: an attribute whose presence is the information (printed as a bare key in a dict)."""

    def __str__(self) -> str:
        return "unit"


@dataclass(frozen=True)
class StringAttr(Attribute):
    value: str

    def __str__(self) -> str:
        return quote_string(self.value)


@dataclass(frozen=True)
class TypeAttr(Attribute):
    """A type used as an attribute, e.g. `function_type = (i32) -> i32`."""

    type: Type

    def __str__(self) -> str:
        return str(self.type)


@dataclass(frozen=True)
class SymbolRefAttr(Attribute):
    """`@main`, or a nested reference `@outer::@inner`."""

    root: str
    nested: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "::".join(format_symbol(s) for s in (self.root, *self.nested))


# ---------------------------------------------------------------------------------------------
# Containers


@dataclass(frozen=True)
class ArrayAttr(Attribute):
    """`[1 : i64, "a", unit]`: a list of any attributes."""

    elements: tuple[Attribute, ...]

    def __post_init__(self):
        object.__setattr__(self, "elements", tuple(self.elements))

    def __str__(self) -> str:
        return "[" + ", ".join(map(str, self.elements)) + "]"

    def __iter__(self):
        return iter(self.elements)

    def __len__(self):
        return len(self.elements)


@dataclass(frozen=True)
class DenseArrayAttr(Attribute):
    """`array<i64: 1, 2>`: a 1-D list of one scalar type (MLIR's compact form for strides, pads)."""

    element_type: Type
    values: tuple

    def __post_init__(self):
        object.__setattr__(self, "values", tuple(self.values))

    def _key(self):
        if isinstance(self.element_type, FloatType):  # by bits: -0.0 != 0.0, NaN == NaN
            return (self.element_type, tuple(float_bits(v, self.element_type) for v in self.values))
        return (self.element_type, self.values)

    def __eq__(self, other):
        return isinstance(other, DenseArrayAttr) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __str__(self) -> str:
        if not self.values:
            return f"array<{self.element_type}>"
        return f"array<{self.element_type}: {', '.join(format_scalar(v, self.element_type) for v in self.values)}>"


@dataclass(frozen=True)
class DictionaryAttr(Attribute):
    """`{a = 1 : i64, flag}`: named attributes, printed sorted by name as MLIR does."""

    entries: dict = field(default_factory=dict)

    def __hash__(self):
        return hash(tuple(sorted(self.entries.items(), key=lambda kv: kv[0])))

    def __str__(self) -> str:
        return format_attr_dict(self.entries)


# ---------------------------------------------------------------------------------------------
# Dense elements


HEX_THRESHOLD = 100
"""Dense tensors with more elements than this print as hex (exact and fast to parse)."""


@dataclass(frozen=True, eq=False)
class DenseElementsAttr(Attribute):
    """`dense<[[1, 2]]> : tensor<1x2xi32>`, `dense<0.0> : tensor<8xf32>` (splat), or
    `dense<"0x0000803F..."> : tensor<256xf32>` (hex: the little-endian bytes, MLIR's format).

    The data is a read-only numpy array of the tensor's shape and dtype.
    """

    type: RankedTensorType
    array: np.ndarray

    def __post_init__(self):
        if not self.type.has_static_shape:
            raise ValueError(f"a dense constant needs a static shape, not {self.type}")
        dtype = self.type.element_type.numpy_dtype
        arr = np.asarray(self.array)
        if arr.shape != self.type.shape:
            arr = np.broadcast_to(arr.astype(dtype, copy=False), self.type.shape)
        arr = np.ascontiguousarray(arr, dtype=dtype).reshape(self.type.shape)  # (it returns >= 1-d)
        arr.flags.writeable = False
        object.__setattr__(self, "array", arr)

    @property
    def is_splat(self) -> bool:
        flat = self.array.reshape(-1)
        return flat.size > 0 and bool(np.all(flat.view(np.uint8).reshape(flat.size, -1)
                                             == flat[:1].view(np.uint8)))

    def __eq__(self, other):
        return (isinstance(other, DenseElementsAttr) and self.type == other.type
                and self.array.tobytes() == other.array.tobytes())

    def __hash__(self):
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.type, self.array.tobytes()))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __str__(self) -> str:
        return self.format()

    def format(self, hex_threshold: int = HEX_THRESHOLD, elide_threshold: int | None = None) -> str:
        """MLIR text; hex above `hex_threshold` elements, elided above `elide_threshold`."""
        n = self.array.size
        if elide_threshold is not None and n > elide_threshold:
            return f"dense_resource<__elided__> : {self.type}"
        el = self.type.element_type
        if n == 0:
            return f"dense<> : {self.type}"  # MLIR's spelling for no elements, of any rank
        if self.is_splat:
            return f"dense<{format_scalar(self.array.reshape(-1)[0].item(), el)}> : {self.type}"
        if n > hex_threshold:
            return f'dense<"0x{self.array.astype(self.array.dtype.newbyteorder("<")).tobytes().hex().upper()}"> : {self.type}'
        return f"dense<{_format_nested(self.array, el)}> : {self.type}"

    @staticmethod
    def from_hex(hex_digits: str, type: RankedTensorType) -> "DenseElementsAttr":
        """Decode MLIR's hex form; a single element's worth of bytes is a splat."""
        dtype = type.element_type.numpy_dtype.newbyteorder("<")
        data = np.frombuffer(bytes.fromhex(hex_digits), dtype=dtype)
        if data.size == 1 and type.num_elements != 1:
            return DenseElementsAttr(type, np.broadcast_to(data[0], type.shape))
        if data.size != type.num_elements:
            raise ValueError(f"hex data holds {data.size} elements but {type} needs {type.num_elements}")
        return DenseElementsAttr(type, data.reshape(type.shape))


def _format_nested(array: np.ndarray, el: Type) -> str:
    if array.ndim == 0:
        return format_scalar(array.item(), el)
    return "[" + ", ".join(_format_nested(sub, el) for sub in array) + "]"


# ---------------------------------------------------------------------------------------------
# Memref layouts


@dataclass(frozen=True)
class StridedLayoutAttr(Attribute):
    """`strided<[8, 1], offset: 2>`: the layout of a memref (`types.MemRefType`) whose element
    (i, j) is `offset + 8*i + 1*j` elements from the start of its buffer; None (printed `?`) is a
    stride or offset known only at run time. An offset of 0 is not printed, as in MLIR."""

    strides: tuple[int | None, ...]
    offset: int | None = 0

    def __post_init__(self):
        object.__setattr__(self, "strides", tuple(self.strides))

    def __str__(self) -> str:
        def num(v):
            return "?" if v is None else str(v)

        offset = "" if self.offset == 0 else f", offset: {num(self.offset)}"
        return f"strided<[{', '.join(map(num, self.strides))}]{offset}>"


# ---------------------------------------------------------------------------------------------
# Opaque


@dataclass(frozen=True)
class OpaqueAttr(Attribute):
    """`#dialect.name<body>` from a dialect lamina does not know, kept as text; with the type
    MLIR may write after it, `#smt.bv<1> : !smt.bv<32>`.

    Only parsed under `allow_unregistered`, so that unknown IR passes through unchanged.
    """

    dialect: str
    name: str
    body: str = ""
    type: Type | None = None

    def __str__(self) -> str:
        text = f"#{self.dialect}.{self.name}{self.body}" if self.name else f"#{self.dialect}{self.body}"
        return text if self.type is None else f"{text} : {self.type}"


# ---------------------------------------------------------------------------------------------
# Formatting helpers shared by the printer


def float_bits(value: float, type: FloatType) -> int:
    arr = np.asarray(value, dtype=type.numpy_dtype)
    return int(arr.view(f"u{arr.itemsize}"))


def format_float(value: float, type: FloatType) -> str:
    """MLIR's float spelling: `%e` when that reads back exactly, else the shortest exact
    scientific form; infinities and NaNs as their bits in hex (`0x7F800000`)."""
    if not math.isfinite(value):
        return f"0x{float_bits(value, type):0{type.width // 4}X}"
    dtype = type.numpy_dtype
    text = f"{value:.6e}"
    if np.asarray(float(text), dtype) == np.asarray(value, dtype):
        return text
    text = np.format_float_scientific(np.float64(value), unique=True, exp_digits=2)
    mantissa, exp = text.split("e")
    if mantissa.endswith("."):
        mantissa += "0"
    return f"{mantissa}e{exp}"


def format_scalar(value, type: Type) -> str:
    """An element of a dense tensor or dense array, without its type."""
    if isinstance(type, FloatType):
        return format_float(float(value), type)
    if type == i1:
        return "true" if value else "false"
    return str(int(value))


def quote_string(s: str) -> str:
    """MLIR string literal: printable ASCII as is, `"` and `\\` escaped, the rest as `\\XX`."""
    out = []
    for byte in s.encode("utf-8", errors="surrogateescape"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:02X}")
    return '"' + "".join(out) + '"'


_BARE_KEY = re.compile(r"[A-Za-z_][\w$]*(\.[\w$]+)*")  # what the lexer reads as one name


def format_symbol(name: str) -> str:
    return "@" + (name if _BARE_KEY.fullmatch(name) else quote_string(name))


def format_attr_dict(entries: dict, format_value=str) -> str:
    """`{a = 1 : i64, flag}`, names sorted; a unit attribute prints as its bare name."""
    parts = []
    for name in sorted(entries):
        key = name if _BARE_KEY.fullmatch(name) else quote_string(name)
        value = entries[name]
        parts.append(key if isinstance(value, UnitAttr) else f"{key} = {format_value(value)}")
    return "{" + ", ".join(parts) + "}"
