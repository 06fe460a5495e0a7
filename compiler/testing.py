"""Hypothesis strategies for lamina's IR: types, attributes, locations and whole modules.

For pass authors: a pass should keep any module valid, and keep its meaning. Property tests say
that for every module the strategy can build, not just for the two you wrote by hand:

    from hypothesis import given
    from lamina.compiler.testing import modules
    from lamina.compiler.printer import print_ir
    from lamina.compiler.verifier import verify

    @given(modules())
    def test_my_pass_keeps_modules_valid(module):
        MyPass().run(module)
        verify(module)                      # still well-formed
        print_ir(module)                    # and still printable

Every strategy draws real IR objects (not text), so you can run passes on them directly; print
them with `print_ir` to see what hypothesis found. What they draw:

- `types()`: the element types (`f16 bf16 f32 f64 i1 i8 i16 i32 i64 index`), ranked tensors with
  static and dynamic (`?`) dims and scalar tensors (`tensor<f32>`), memrefs (strided layouts,
  memory spaces, `memref<f32>`), function types, `none`, and
  with `allow_unregistered=True` opaque types (`!test.foo<4, f32>`).
- `attributes()`: integers within their type's range, floats including inf, NaN, -0.0 and values
  that need more digits than `%e` gives, bools, unit, strings with quotes, backslashes, control
  and non-ASCII characters, arrays, dense arrays, dictionaries whose keys need quotes, type
  attributes, symbol references, dense elements (splat, literal and hex, around the 100-element
  hex threshold, every element type), and opaque attributes under `allow_unregistered`.
- `locations()`: unknown, name, file:line:col, nested and fused locations.
- `modules()`: `builtin.module`s of `func.func`s with arguments and returns of matching types,
  `arith` constants and arithmetic on same-typed values, calls; with `allow_unregistered=True`
  also ops of an unknown dialect with nested regions, several blocks, block arguments and
  successors, reading values from enclosing regions. Values carry name hints that collide or are
  numbers, ops carry properties, discardable attributes and locations.

The modules parse back (`parse(print_ir(m), allow_unregistered=...)`) and pass the verifier.
"""

from __future__ import annotations

import functools
import math
from collections import Counter

import numpy as np
from hypothesis import strategies as st

from .attributes import (HEX_THRESHOLD, ArrayAttr, BoolAttr, DenseArrayAttr,
                         DenseElementsAttr, DictionaryAttr, FloatAttr, IntegerAttr, OpaqueAttr,
                         StridedLayoutAttr, StringAttr, SymbolRefAttr, TypeAttr, UnitAttr)
from .ir import Block, Operation, Region, Value
from .location import UNKNOWN, FileLineColLoc, FusedLoc, Location, NameLoc, UnknownLoc
from .types import (ELEMENT_TYPES, FloatType, FunctionType, IndexType, IntegerType,
                    MemRefType, OpaqueType, RankedTensorType, Type, bf16, f16, f32, f64, i1, i8, i16, i32,
                    i64, index, none)

__all__ = ["element_types", "tensor_types", "memref_types", "types", "integer_attrs", "float_attrs",
           "string_values", "dense_elements", "dense_arrays", "attributes", "locations",
           "name_hints", "symbol_names", "modules", "nn_graphs", "random_inputs",
           "check_pass", "CheckResult", "NN_GRAPH_KINDS", "CATALOGUE_KINDS"]

# ---------------------------------------------------------------------------------------------
# Types

INTEGER_TYPES = (i1, i8, i16, i32, i64)
FLOAT_TYPES = (f16, bf16, f32, f64)


@functools.lru_cache(maxsize=None)
def element_types(integers: bool = True, floats: bool = True, include_index: bool = True):
    """One of `f16 bf16 f32 f64 i1 i8 i16 i32 i64 index` (narrowed by the flags)."""
    choices = [t for t in ELEMENT_TYPES
               if (floats and isinstance(t, FloatType)) or (integers and isinstance(t, IntegerType))
               or (include_index and isinstance(t, IndexType))]
    return st.sampled_from(choices)


@functools.lru_cache(maxsize=None)
def shapes(max_rank: int = 3, max_dim: int = 6, dynamic: bool = True):
    """Tensor shapes: tuples of dims, `None` for a dynamic dim; rank 0 is a scalar tensor."""
    dim = st.integers(0, max_dim)
    if dynamic:
        dim = st.one_of(dim, st.none())
    return st.lists(dim, max_size=max_rank).map(tuple)


@functools.lru_cache(maxsize=None)
def tensor_types(elements=None, max_rank: int = 3, max_dim: int = 6, dynamic: bool = True):
    """`tensor<2x?xf32>`, `tensor<i1>`, ...: ranked tensors of `elements` (default: any element
    type); with `dynamic=False` every dim is static (what a dense constant needs)."""
    elements = element_types() if elements is None else elements
    return st.builds(RankedTensorType, shapes(max_rank, max_dim, dynamic), elements)


@st.composite
def _strided_layout(draw, rank: int) -> StridedLayoutAttr:
    maybe = st.one_of(st.integers(-4, 64), st.none())
    return StridedLayoutAttr(tuple(draw(maybe) for _ in range(rank)), draw(maybe))


@functools.lru_cache(maxsize=None)
def memref_types(elements=None, max_rank: int = 3, max_dim: int = 6):
    """`memref<4x?xf32>`, `memref<f32>`, now and then with a strided layout
    (`strided<[8, 1], offset: ?>`) and a memory space (`memref<4xf32, 1>`)."""
    elements = element_types() if elements is None else elements

    @st.composite
    def draw_memref(draw):
        shape = draw(shapes(max_rank, max_dim))
        layout = draw(st.one_of(st.none(), _strided_layout(len(shape))))
        space = draw(st.one_of(st.none(), st.builds(IntegerAttr, st.integers(0, 3), st.just(i64))))
        return MemRefType(shape, draw(elements), layout, space)

    return draw_memref()


_IDENT = st.from_regex(r"[a-z_][a-z0-9_$]{0,6}", fullmatch=True)


@st.composite
def _opaque_body(draw, depth: int = 2) -> str:
    """`<...>` with balanced, nested brackets, as an unknown dialect may write; string literals in
    it may hold any bracket (`\"a>(\"`): outside strings only do brackets nest (MLIR)."""
    parts = draw(st.lists(st.one_of(
        st.from_regex(r"[a-z0-9?,: ]{1,6}", fullmatch=True),
        st.sampled_from(["4x?xf32", "\"s\"", "@sym", "[1, 2]", "{a = 1}", "(i32, f32)", "(i32) -> f32", "#a.b", "!t.x",
                         "\"str>\"", "\"<(]\"", "\"q\\\"}\"", "[\"]\", (\"{\")]"]),
        *([_opaque_body(depth - 1)] if depth > 0 else [])), max_size=3))
    return "<" + "".join(parts) + ">"


@functools.lru_cache(maxsize=None)
def opaque_types():
    """`!dialect.name<body>` or `!dialect<body>` of a dialect lamina does not know."""
    return st.builds(OpaqueType, st.sampled_from(["test", "foo", "llvm", "x_1$"]),
                     st.one_of(st.just(""), _IDENT, st.just("a.b")),
                     st.one_of(st.just(""), _opaque_body()))


@functools.lru_cache(maxsize=None)
def types(allow_unregistered: bool = False, function_types: bool = True, encodings: bool = True):
    """Any type: element types, tensors (static, dynamic, scalar, with an encoding now and then),
    memrefs (with layouts and memory spaces), `none`, function types (nested too), and opaque types under `allow_unregistered`."""
    leaves = [element_types(), tensor_types(), st.just(none), memref_types()]
    if encodings:
        enc = st.one_of(st.builds(StringAttr, st.sampled_from(["sparse", "a\"b"])),
                        st.builds(IntegerAttr, st.integers(0, 9), st.just(i64)))
        if allow_unregistered:
            enc = st.one_of(enc, st.just(OpaqueAttr("test", "enc", "<1>")))
        leaves.append(st.builds(RankedTensorType, shapes(), element_types(), enc))
    if allow_unregistered:
        leaves.append(opaque_types())
    base = st.one_of(*leaves)
    if not function_types:
        return base
    return st.recursive(base, lambda inner: st.builds(
        FunctionType, st.lists(inner, max_size=3).map(tuple), st.lists(inner, max_size=3).map(tuple)),
        max_leaves=6)


def _constructible(t: Type) -> bool:
    """Can an `arith.constant` of this type be written? (scalars and static tensors of them)"""
    if isinstance(t, RankedTensorType):
        return t.has_static_shape and t.encoding is None and t.element_type in ELEMENT_TYPES
    return t in ELEMENT_TYPES


# ---------------------------------------------------------------------------------------------
# Scalars


@functools.lru_cache(maxsize=None)
def _int_values(t: Type):
    if t == i1:
        return st.booleans()
    if isinstance(t, IndexType):
        lo, hi = -(2 ** 63), 2 ** 63 - 1
    elif t.signedness == "u":
        lo, hi = 0, 2 ** t.width - 1
    else:
        lo, hi = -(2 ** (t.width - 1)), 2 ** (t.width - 1) - 1
    edges = st.sampled_from(sorted({lo, hi, 0, 1, -1 if lo < 0 else 0}))
    return st.one_of(edges, st.integers(lo, hi))


# values whose %e spelling (6 digits) does not read back, and the special ones
_FLOAT_SPECIALS = (0.0, -0.0, 1.0, -1.5, 0.1, 1 / 3, 123456.789, 1e-7, 3.4028234663852886e38,
                   6.1e-5, 65504.0, 1e300, 5e-324, math.inf, -math.inf, math.nan)


@functools.lru_cache(maxsize=None)
def _float_values(t: FloatType):
    """Python floats exactly representable in `t` (NaN and infinities included)."""
    width = {"f16": 16, "bf16": 32, "f32": 32, "f64": 64}[t.name]
    drawn = st.one_of(st.sampled_from(_FLOAT_SPECIALS), st.floats(width=width))
    return drawn.map(lambda v: _round_to(v, t))


def _round_to(v: float, t: FloatType) -> float:
    with np.errstate(all="ignore"):
        return float(np.asarray(v, dtype=np.float64).astype(t.numpy_dtype))


@functools.lru_cache(maxsize=None)
def integer_attrs(types=None):
    """`42 : i32`, `true`: an integer of a type drawn from `types`, within that type's range.
    Beyond the element types this also draws `si8`, `ui16`, `i3` and `i128`."""
    types = st.sampled_from(INTEGER_TYPES + (index, IntegerType(8, "s"), IntegerType(16, "u"),
                                             IntegerType(3), IntegerType(128))) if types is None else types
    return types.flatmap(lambda t: _int_values(t).map(lambda v: IntegerAttr(int(v), t)))


@functools.lru_cache(maxsize=None)
def float_attrs(types=None):
    """`1.000000e+00 : f32`, `0x7F800000 : f32` (inf), NaN, -0.0, long exact spellings."""
    types = st.sampled_from(FLOAT_TYPES) if types is None else types
    return types.flatmap(lambda t: _float_values(t).map(lambda v: FloatAttr(v, t)))


@functools.lru_cache(maxsize=None)
def string_values(ascii: bool = False):
    """Strings that test escaping: quotes, backslashes, newlines, control and (unless `ascii`)
    non-ASCII characters."""
    special = ['"', "\\", "\n", "\t", "\x00", "\x7f", "\\n", "\\22",
               b"\xff\xc3".decode("utf-8", "surrogateescape")]  # bytes that are not UTF-8
    text = st.text(st.characters(max_codepoint=0x7F) if ascii else st.characters(exclude_categories=("Cs",)), max_size=12)
    if not ascii:
        special += ["é", "→", "😀"]
    return st.one_of(text, st.lists(st.one_of(st.sampled_from(special), text), max_size=4).map("".join))


_ODD_NAMES = ("", "a b", "1x", "é", "a.b", "a$", "_", "x-y", "true", "false", "unit", "i32", "f32",
              "index", "none", "dense", "array", "loc", "tensor", "unknown", "fused", "module",
              "attributes", "a\"q", "back\\slash", "tab\t", "a.b.c", "$x", "nl\n")


@functools.lru_cache(maxsize=None)
def symbol_names(ascii: bool = False):
    """Symbol names, some of which need quotes (`@"a b"`)."""
    names = ("f", "main", "a.b", "_x$1", "x-y", "a b", "1st", "q\"") + (("é",) if not ascii else ())
    return st.one_of(st.sampled_from(names), _IDENT)


@functools.lru_cache(maxsize=None)
def dictionary_keys(ascii: bool = False):
    """Attribute names, many of which need quotes or look like keywords."""
    return st.one_of(st.sampled_from([k for k in _ODD_NAMES if not ascii or k.isascii()]), _IDENT)


# ---------------------------------------------------------------------------------------------
# Dense data

# shapes around the hex threshold (more than 100 elements print as hex), and small ones
_DENSE_SHAPES = ((), (1,), (2,), (3,), (2, 3), (1, 1, 4), (0,), (2, 0), (HEX_THRESHOLD - 1,),
                 (HEX_THRESHOLD,), (HEX_THRESHOLD + 1,), (10, 10), (2, 51), (3, 34), (1, 101),
                 (128,))


@functools.lru_cache(maxsize=None)
def _scalar_values(el: Type):
    if isinstance(el, FloatType):
        return _float_values(el)
    return _int_values(el)


@st.composite
def dense_elements(draw, type: RankedTensorType | None = None, elements=None) -> DenseElementsAttr:
    """`dense<...> : tensor<...>`: splat, nested literal, or (above 100 elements) hex data.

    `type` fixes the tensor type (it must be static); otherwise a shape around the hex threshold
    or a small one is drawn with an element type from `elements` (default: all of them)."""
    if type is None:
        el = draw(element_types() if elements is None else elements)
        type = RankedTensorType(draw(st.sampled_from(_DENSE_SHAPES)), el)
    el = type.element_type
    n = type.num_elements
    kind = draw(st.sampled_from(["splat", "values"]))
    if kind == "splat" or n <= 1:
        values = [draw(_scalar_values(el))]
    else:
        values = draw(st.lists(_scalar_values(el), min_size=1, max_size=min(n, 8)))
    with np.errstate(all="ignore"):
        if isinstance(el, FloatType):
            # through float64 keeps NaN payloads and -0.0 exactly
            flat = np.asarray(values, dtype=np.float64).astype(el.numpy_dtype)
        else:
            flat = np.asarray([int(v) for v in values], dtype=object).astype(el.numpy_dtype)
    return DenseElementsAttr(type, np.resize(flat, n).reshape(type.shape))


DENSE_ARRAY_TYPES = (i1, i8, i16, i32, i64, f32, f64)


@functools.lru_cache(maxsize=None)
def dense_arrays():
    """`array<i64: 1, 2>`: MLIR's dense arrays (i1, i8..i64, f32, f64; maybe empty)."""
    return st.sampled_from(DENSE_ARRAY_TYPES).flatmap(
        lambda t: st.lists(_scalar_values(t).map(lambda v: v if isinstance(t, FloatType) else int(v)),
                           max_size=5).map(lambda vs: DenseArrayAttr(t, tuple(vs))))


# ---------------------------------------------------------------------------------------------
# Attributes


@functools.lru_cache(maxsize=None)
def opaque_attrs():
    """`#dialect.name<body>` of a dialect lamina does not know, now and then with the type MLIR
    may write after it (`#smt.bv<1> : !smt.bv<32>`)."""
    typed = st.one_of(st.none(), st.none(), opaque_types(), element_types(),
                      tensor_types(max_rank=2, dynamic=False))
    return st.one_of(
        st.builds(OpaqueAttr, st.sampled_from(["test", "foo", "arith", "smt"]), st.one_of(_IDENT, st.just("a.b")),
                  st.one_of(st.just(""), _opaque_body()), typed),
        st.builds(OpaqueAttr, st.sampled_from(["test", "foo"]), st.just(""), _opaque_body(), typed))


@functools.lru_cache(maxsize=None)
def scalar_attributes(allow_unregistered: bool = False, dense: bool = True, ascii: bool = False):
    """The attributes that hold no other attributes."""
    leaves = [integer_attrs(), float_attrs(), st.builds(BoolAttr, st.booleans()), st.just(UnitAttr()),
              st.builds(StringAttr, string_values(ascii)), dense_arrays(),
              st.builds(TypeAttr, types(allow_unregistered)),
              st.builds(SymbolRefAttr, symbol_names(ascii), st.lists(symbol_names(ascii), max_size=2).map(tuple))]
    if dense:
        leaves.append(dense_elements())
    if allow_unregistered:
        leaves.append(opaque_attrs())
    return st.one_of(*leaves)


@functools.lru_cache(maxsize=None)
def attributes(allow_unregistered: bool = False, dense: bool = True, max_leaves: int = 8,
               ascii: bool = False):
    """Any attribute: the scalar ones, arrays of them and dictionaries with odd keys, nested."""
    return st.recursive(
        scalar_attributes(allow_unregistered, dense, ascii),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4).map(lambda xs: ArrayAttr(tuple(xs))),
            st.dictionaries(dictionary_keys(ascii), inner, max_size=4).map(DictionaryAttr)),
        max_leaves=max_leaves)


@functools.lru_cache(maxsize=None)
def attribute_dicts(allow_unregistered: bool = False, dense: bool = True, max_size: int = 3,
                    exclude: tuple = (), ascii: bool = False):
    """A `{name = attr}` dict for an op's attributes or properties (names in `exclude` left out)."""
    keys = dictionary_keys(ascii).filter(lambda k: k not in exclude)
    return st.dictionaries(keys, attributes(allow_unregistered, dense, 4, ascii), max_size=max_size)


# ---------------------------------------------------------------------------------------------
# Locations


@functools.lru_cache(maxsize=None)
def locations(ascii: bool = False):
    """`loc(unknown)`, `loc("name")`, `loc("f.mlir":3:7)`, `loc("n"("f":1:2))`, `loc(fused[...])`."""
    leaves = st.one_of(
        st.just(UNKNOWN),
        st.builds(NameLoc, string_values(ascii)),
        st.builds(FileLineColLoc, string_values(ascii), st.integers(0, 10 ** 6), st.integers(0, 10 ** 6)))
    return st.recursive(leaves, lambda inner: st.one_of(
        st.builds(NameLoc, string_values(ascii), inner),
        st.lists(inner, min_size=1, max_size=3).map(lambda ls: FusedLoc(tuple(ls)))), max_leaves=4)


# ---------------------------------------------------------------------------------------------
# Modules


@functools.lru_cache(maxsize=None)
def name_hints():
    """What a value may be called: nothing (numbered), names that collide with each other and
    with the printer's own (`x`, `x_1`, `arg0`, `0`), and names that cannot be printed bare."""
    return st.one_of(
        st.none(), st.none(),
        st.sampled_from(["x", "x", "x_1", "y", "arg0", "arg1", "0", "1", "42", "a.b", "$v", "-", "v-1",
                         "é", "a b", "x#1", "_", "result"]),
        st.from_regex(r"[a-z][a-z0-9_]{0,4}", fullmatch=True))


_INHERENT = ("sym_name", "function_type", "sym_visibility", "arg_attrs", "res_attrs", "value",
             "predicate", "fastmath", "callee")
_FLOAT_BINARY = ("arith.addf", "arith.subf", "arith.mulf", "arith.divf", "arith.maximumf", "arith.minimumf")
_INT_BINARY = ("arith.addi", "arith.subi", "arith.muli", "arith.divsi", "arith.remsi", "arith.maxsi",
               "arith.minsi", "arith.andi", "arith.ori", "arith.xori")
_UNREGISTERED_NAMES = ("test.op", "test.graph", "foo.bar_baz", "test.op with space", "test.é", "x.y.z")


OP_KINDS = ("constant", "binary", "cmpi", "negf", "select", "call")


class _ModuleDrawer:
    """Draws one module op by op, keeping the values each point can see (the SSA pool)."""

    def __init__(self, draw, allow_unregistered: bool, max_ops: int, max_depth: int,
                 locations: bool, discardable: bool, dense: bool, constant_types, value_types, ascii: bool,
                 ops: tuple):
        self.draw = draw
        self.unreg = allow_unregistered
        self.budget = draw(st.integers(1, max_ops))
        self.max_depth = max_depth
        self.with_locations = locations
        self.discardable = discardable
        self.dense = dense
        self.constant_types = constant_types
        self.value_types = value_types
        self.ascii = ascii
        self.ops = ops
        self.symbols: list[set[str]] = []  # names taken, per module (symbol table)
        self.callees: list[list] = []  # (name, FunctionType), per module

    # -- small pieces ------------------------------------------------------------------------

    def flag(self, p_true_in_4: int = 1) -> bool:
        return self.draw(st.integers(0, 3)) < p_true_in_4

    def location(self) -> Location:
        if not self.with_locations or not self.flag():
            return UNKNOWN
        return self.draw(locations(self.ascii))

    def attrs(self, exclude=_INHERENT) -> dict:
        if not self.discardable or not self.flag():
            return {}
        return self.draw(attribute_dicts(self.unreg, self.dense, exclude=exclude, ascii=self.ascii))

    def hint(self, v: Value) -> Value:
        v.name_hint = self.draw(name_hints())
        if hasattr(v, "block"):  # a block argument may have a location of its own
            loc = self.location()
            v.location = None if isinstance(loc, UnknownLoc) else loc
        return v

    def spend(self) -> bool:
        if self.budget <= 0:
            return False
        self.budget -= 1
        return True

    def unique_symbol(self) -> str:
        taken = self.symbols[-1]
        name = base = self.draw(symbol_names(self.ascii))
        k = 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        return name

    # -- values ------------------------------------------------------------------------------

    def value_of(self, type: Type, pool: list, block: Block) -> Value:
        """A value of `type`: one from the pool, or a new constant (or unregistered op) for it."""
        have = [v for v in pool if v.type == type]
        if have and self.flag(3):
            return self.draw(st.sampled_from(have))
        if _constructible(type):
            return self.constant(type, pool, block)
        if have:
            return self.draw(st.sampled_from(have))
        assert self.unreg, f"no way to make a value of {type}"
        op = Operation(name="test.source", result_types=[type], location=self.location())
        block.append(op)
        pool.append(self.hint(op.results[0]))
        return op.results[0]

    def constant(self, type: Type, pool: list, block: Block) -> Value:
        from lamina.dialects.arith import ConstantOp

        if isinstance(type, RankedTensorType):
            if not self.dense and type.num_elements > 16:
                type = RankedTensorType((2,), type.element_type)
            value = self.draw(dense_elements(type))
        elif isinstance(type, FloatType):
            value = self.draw(float_attrs(st.just(type)))
        else:
            value = self.draw(integer_attrs(st.just(type)))
        op = ConstantOp(result_types=[type], properties={"value": value}, attributes=self.attrs(),
                        location=self.location())
        block.append(op)
        pool.append(self.hint(op.result))
        return op.result

    def new_constant_type(self, elements) -> Type:
        el = self.draw(elements)
        if self.flag(2):
            return el
        shape = self.draw(st.sampled_from(((), (2,), (3,), (2, 3), (1, 4)) + ((_DENSE_SHAPES[-6:]) if self.dense else ())))
        return RankedTensorType(shape, el)

    # -- ops -----------------------------------------------------------------------------------

    def ops_into(self, block: Block, pool: list, depth: int, in_func: bool) -> None:
        """Append a few ops to `block`, each reading values from `pool` and adding its results."""
        for _ in range(self.draw(st.integers(0, 5))):
            if not self.spend():
                return
            kinds = [k for k in ("constant", "binary", "binary", "cmpi", "negf", "select") if k in self.ops]
            if self.callees and self.callees[-1] and "call" in self.ops:
                kinds.append("call")
            if self.unreg:
                kinds += ["unregistered", "unregistered"]
            if not kinds:
                return
            kind = self.draw(st.sampled_from(kinds))
            getattr(self, "op_" + kind)(block, pool, depth)

    def op_constant(self, block, pool, depth):
        self.constant(self.draw(self.constant_types), pool, block)

    def _typed_operand_type(self, pool, pred, elements) -> Type:
        seen = [v.type for v in pool if pred(v.type) and isinstance(v.type, (IntegerType, FloatType, IndexType,
                                                                            RankedTensorType))]
        seen = [t for t in seen if not isinstance(t, RankedTensorType) or
                (t.encoding is None and t.element_type in ELEMENT_TYPES)]
        if seen and self.flag(2):
            return self.draw(st.sampled_from(seen))
        return self.new_constant_type(elements)

    def _finish(self, op, block, pool):
        block.append(op)
        for r in op.results:
            pool.append(self.hint(r))

    def op_binary(self, block, pool, depth):
        from lamina.compiler.opdef import lookup_op
        from lamina.compiler.types import is_float_like, is_integer_like

        is_float = self.flag(2)
        if is_float:
            name = self.draw(st.sampled_from(_FLOAT_BINARY))
            t = self._typed_operand_type(pool, is_float_like, element_types(integers=False, include_index=False))
        else:
            name = self.draw(st.sampled_from(_INT_BINARY))
            t = self._typed_operand_type(pool, is_integer_like, element_types(floats=False))
        lhs = self.value_of(t, pool, block)
        rhs = self.value_of(t, pool, block)
        props = {}
        if is_float and self.flag():  # arith's flags, as MLIR and xDSL print them
            props["fastmath"] = OpaqueAttr("arith", "fastmath", self.draw(st.sampled_from(["<none>", "<fast>"])))
        if name in ("arith.addi", "arith.subi", "arith.muli") and self.flag():
            props["overflowFlags"] = OpaqueAttr("arith", "overflow", self.draw(st.sampled_from(["<none>", "<nsw>"])))
        op = lookup_op(name)(operands=[lhs, rhs], result_types=[t], properties=props,
                             attributes=self.attrs(), location=self.location())
        self._finish(op, block, pool)

    def op_negf(self, block, pool, depth):
        from lamina.dialects.arith import NegFOp
        from lamina.compiler.types import is_float_like

        t = self._typed_operand_type(pool, is_float_like, element_types(integers=False, include_index=False))
        x = self.value_of(t, pool, block)
        self._finish(NegFOp(operands=[x], result_types=[t], attributes=self.attrs(),
                            location=self.location()), block, pool)

    def op_cmpi(self, block, pool, depth):
        from lamina.dialects.arith import CMPI_PREDICATES, CmpIOp, _with_i1
        from lamina.compiler.types import is_integer_like

        t = self._typed_operand_type(pool, is_integer_like, element_types(floats=False))
        lhs, rhs = self.value_of(t, pool, block), self.value_of(t, pool, block)
        pred = self.draw(st.integers(0, len(CMPI_PREDICATES) - 1))
        self._finish(CmpIOp(operands=[lhs, rhs], result_types=[_with_i1(t)],
                            properties={"predicate": IntegerAttr(pred)}, attributes=self.attrs(),
                            location=self.location()), block, pool)

    def op_select(self, block, pool, depth):
        from lamina.dialects.arith import SelectOp, _with_i1

        t = self._typed_operand_type(pool, lambda t: True, element_types())
        cond_types = [i1] + ([_with_i1(t)] if _constructible(_with_i1(t)) or self.unreg or
                             any(v.type == _with_i1(t) for v in pool) else [])
        cond_type = self.draw(st.sampled_from(cond_types))
        cond = self.value_of(cond_type, pool, block)
        a, b = self.value_of(t, pool, block), self.value_of(t, pool, block)
        self._finish(SelectOp(operands=[cond, a, b], result_types=[t], attributes=self.attrs(),
                              location=self.location()), block, pool)

    def op_call(self, block, pool, depth):
        from lamina.dialects.func import CallOp

        name, ftype = self.draw(st.sampled_from(self.callees[-1]))
        if not all(_constructible(t) or any(v.type == t for v in pool) or self.unreg for t in ftype.inputs):
            return
        args = [self.value_of(t, pool, block) for t in ftype.inputs]
        self._finish(CallOp(operands=args, result_types=list(ftype.results),
                            properties={"callee": SymbolRefAttr(name)}, attributes=self.attrs(),
                            location=self.location()), block, pool)

    def op_unregistered(self, block, pool, depth, successors=()):
        name = self.draw(st.sampled_from(_UNREGISTERED_NAMES))
        operands = self.draw(st.lists(st.sampled_from(pool), max_size=3)) if pool else []
        result_types = self.draw(st.lists(self.value_types, max_size=2))
        props = self.draw(attribute_dicts(self.unreg, self.dense, max_size=2, ascii=self.ascii)) if self.flag() else {}
        op = Operation(name=name, operands=operands, result_types=result_types, properties=props,
                       attributes=self.attrs(exclude=()), successors=list(successors),
                       location=self.location())
        if depth < self.max_depth:
            for _ in range(self.draw(st.integers(0, 2))):
                op.add_region(self.region(list(pool), depth + 1))
        self._finish(op, block, pool)

    # -- regions -------------------------------------------------------------------------------

    def block_args(self, block: Block) -> None:
        for t in self.draw(st.lists(self.value_types, max_size=2)):
            self.hint(block.add_arg(t))

    def region(self, outer: list, depth: int) -> Region:
        """A region of an unregistered op: no blocks, one, or several joined by successors; later
        blocks see the entry block's values (the entry block dominates them)."""
        n_blocks = self.draw(st.integers(0, 3))
        region = Region([Block() for _ in range(n_blocks)])
        entry_pool = list(outer)
        for i, block in enumerate(region.blocks):
            self.block_args(block)
            pool = (entry_pool if i == 0 else list(entry_pool)) + list(block.args)
            if i == 0:
                entry_pool = pool
            self.ops_into(block, pool, depth, in_func=False)
            if n_blocks > 1 and self.flag(2):  # branch to later blocks (never to the entry)
                targets = self.draw(st.lists(st.sampled_from(region.blocks[1:]), min_size=1, max_size=2))
                self.op_unregistered(block, pool, self.max_depth, successors=targets)
        return region

    def func(self, depth: int):
        from lamina.dialects.func import FuncOp, ReturnOp

        name = self.unique_symbol()
        inputs = self.draw(st.lists(self.value_types, max_size=3))
        props = {"sym_name": StringAttr(name)}
        if self.flag():
            props["sym_visibility"] = StringAttr(self.draw(st.sampled_from(["private", "public", "nested"])))
        if self.flag():  # a declaration
            results = self.draw(st.lists(self.value_types, max_size=2))
            props["function_type"] = TypeAttr(FunctionType(tuple(inputs), tuple(results)))
            fn = FuncOp(properties=props, attributes=self.attrs(), regions=[Region()], location=self.location())
            self.callees[-1].append((name, fn.type))
            return fn
        entry = Block(inputs)
        for a in entry.args:
            self.hint(a)
        body = Region([entry])  # func.func has a single-block body
        result_types = self.draw(st.lists(st.one_of(self.constant_types, *(
            [st.sampled_from(inputs)] if inputs else [])), max_size=2))
        pool = list(entry.args)
        self.ops_into(entry, pool, depth, in_func=True)
        values = [self.value_of(t, pool, entry) for t in result_types]
        entry.append(ReturnOp(operands=values, attributes=self.attrs(), location=self.location()))
        props["function_type"] = TypeAttr(FunctionType(tuple(inputs), tuple(result_types)))
        if self.flag(1) and self.flag(2):  # arg_attrs: no place in the custom form, so it prints generic
            props["arg_attrs"] = ArrayAttr(tuple(DictionaryAttr(self.attrs()) for _ in inputs))
        fn = FuncOp(properties=props, attributes=self.attrs(), regions=[body], location=self.location())
        self.callees[-1].append((name, fn.type))
        return fn

    def module(self, depth: int = 0):
        from lamina.dialects.builtin import ModuleOp

        props = {"sym_name": StringAttr(self.unique_symbol())} if self.symbols and self.flag() else {}
        self.symbols.append(set())
        self.callees.append([])
        if not props and not self.symbols[:-1] and self.flag():
            props = {"sym_name": StringAttr(self.unique_symbol())}
        module = ModuleOp(properties=props, attributes=self.attrs(), regions=[Region([Block()])],
                          location=self.location())
        pool: list[Value] = []  # values of top-level unregistered ops (the module is a graph region)
        for _ in range(self.draw(st.integers(0, 4))):
            kinds = ["func", "func"] + (["unregistered"] if self.unreg else []) + (["module"] if depth < 1 else [])
            kind = self.draw(st.sampled_from(kinds))
            if kind == "func":
                module.block.append(self.func(depth + 1))
            elif kind == "module":
                module.block.append(self.module(depth + 1))
            elif self.spend():
                self.op_unregistered(module.block, pool, depth + 1)
        self.symbols.pop()
        self.callees.pop()
        return module


@st.composite
def modules(draw, allow_unregistered: bool = False, max_ops: int = 24, max_depth: int = 3,
            locations: bool = True, discardable_attributes: bool = True, large_dense: bool = True,
            constant_types=None, value_types=None, ascii: bool = False, ops: tuple = OP_KINDS):
    """A random well-formed `builtin.module`: see the module docstring for what it holds.

    allow_unregistered: also draw ops of unknown dialects (regions, blocks, successors) and
        opaque types and attributes; parse the text with `allow_unregistered=True`.
    max_ops: about how many ops to draw (constants made for operands come on top).
    max_depth: how deeply regions nest.
    locations, discardable_attributes: draw `loc(...)`s and discardable attribute dicts.
    large_dense: allow dense constants around the 100-element hex threshold.
    constant_types: the types of `arith.constant`s and function results (default: element types
        and static tensors of them).
    value_types: the types of function and block arguments and of unregistered ops' results
        (default: `types(allow_unregistered)`).
    ops: which registered ops to draw, from `OP_KINDS` (`"constant", "binary"` for arith's binary
        ops, `"cmpi", "negf", "select", "call"`).
    ascii: only ASCII in strings, names and locations (for tools that do not read MLIR's `\\XX`
        escapes of UTF-8 bytes back into text, such as xDSL).
    """
    if constant_types is None:
        constant_types = st.one_of(element_types(), tensor_types(dynamic=False, max_dim=4))
    if value_types is None:
        value_types = types(allow_unregistered) if allow_unregistered else \
            st.one_of(types(False), constant_types)
    drawer = _ModuleDrawer(draw, allow_unregistered, max_ops, max_depth, locations,
                           discardable_attributes, large_dense, constant_types, value_types, ascii, ops)
    return drawer.module()


# ---------------------------------------------------------------------------------------------
# nn graphs, and checking that a pass keeps their meaning

_NN_UNARY = ("neg", "relu", "abs", "tanh", "sigmoid", "identity", "leaky_relu", "hard_swish",
             "erf", "dropout", "exp")
_NN_BINARY = ("sub", "add", "mul", "max", "min", "div")
_NN_REDUCE = ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min")
NN_GRAPH_KINDS = ("binary", "unary", "constant_subgraph", "reduce", "transpose", "reshape",
                  "unsqueeze", "concat", "conv2d", "pool", "compare_where", "constant_of_shape")
# the inputs of combine-ops's catalogue, with near misses (not in the default kinds)
CATALOGUE_KINDS = ("conv_bias_bn", "matmul_gemm", "layer_norm", "gelu", "hard_swish", "prelu",
                   "reduce_mean_hw", "shuffle_channel", "batch_norm")


class _NnGraphDrawer:
    """Draws one `func.func @main` of nn ops, op by op, from a pool of f32 values."""

    def __init__(self, draw, max_ops: int, kinds: tuple):
        from lamina.dialects import nn  # noqa: F401  (registers the nn ops)
        from lamina.compiler.opdef import lookup_op

        self.draw = draw
        self.op = lambda name: lookup_op("nn." + name)
        self.max_ops = max_ops
        self.kinds = kinds

    def shape(self, min_rank=1, max_rank=4):
        return tuple(self.draw(st.lists(st.integers(1, 4), min_size=min_rank, max_size=max_rank)))

    def constant(self, block, shape) -> Value:
        from lamina.dialects.nn.base import ConstantOp

        values = self.draw(st.lists(st.sampled_from([0.5, -1.0, 2.0, 0.25, 1.5, -0.75, 3.0]),
                                    min_size=1, max_size=1 if not shape else 3))
        rng = np.random.default_rng(self.draw(st.integers(0, 2 ** 16)))
        t = RankedTensorType(tuple(shape), f32)
        size = int(np.prod(shape, dtype=np.int64))
        array = np.asarray(values * (size // len(values) + 1), np.float32)[:size].reshape(shape) \
            if len(values) == 1 else rng.standard_normal(shape).astype(np.float32)
        op = ConstantOp(result_types=[t], properties={"value": DenseElementsAttr(t, array)})
        block.append(op)
        return op.results[0]

    def add(self, block, name, *operands, result_types=None, **props) -> Value | None:
        """Build nn.`name`, or return None if its shape inference rejects the drawn attributes."""
        from lamina.dialects.nn.base import ShapeError

        try:
            op = self.op(name).build(*operands, result_types=result_types, **props)
        except (ShapeError, ValueError):
            return None
        block.append(op)
        return op.results[0]

    def broadcast_partner(self, shape) -> tuple:
        """A shape that broadcasts with `shape`: a suffix of it with some dims set to 1."""
        k = self.draw(st.integers(0, len(shape)))
        tail = list(shape[len(shape) - k:])
        return tuple(1 if self.draw(st.booleans()) else d for d in tail)

    def pick(self, pool, pred=lambda v: True):
        choices = [v for v in pool if pred(v)]
        return self.draw(st.sampled_from(choices)) if choices else None

    def step(self, block, pool, kind) -> Value | None:
        from lamina.dialects.nn.base import integer, ints, real

        floats = [v for v in pool if v.type.element_type == f32]
        ranked = [v for v in floats if v.type.rank >= 1]  # (the inputs always qualify)
        x = ranked[-1] if self.draw(st.booleans()) else self.draw(st.sampled_from(ranked))  # chains
        shape = x.type.shape
        if kind == "unary":
            name = self.draw(st.sampled_from(_NN_UNARY))
            props = {"alpha": real(self.draw(st.sampled_from([0.01, 0.2])))} if name == "leaky_relu" else {}
            return self.add(block, name, x, **props)
        if kind in ("binary", "constant_subgraph"):
            name = self.draw(st.sampled_from(_NN_BINARY))
            if kind == "constant_subgraph":  # a chain of ops on constants only: fold-constants' work
                x = self.constant(block, self.shape(1, 3))
                for _ in range(self.draw(st.integers(0, 2))):
                    x = self.add(block, self.draw(st.sampled_from(_NN_UNARY[:6])), x)
                shape = x.type.shape
            same = [v for v in floats if v is not x and _broadcasts(v.type.shape, shape)]
            if same and self.draw(st.booleans()):
                y = self.draw(st.sampled_from(same))
            else:
                y = self.constant(block, self.broadcast_partner(shape))
            if self.draw(st.booleans()):
                x, y = y, x
            return self.add(block, name, x, y)
        if kind == "reduce":
            axes = self.draw(st.lists(st.integers(-len(shape), len(shape) - 1), max_size=len(shape), unique_by=lambda a: a % len(shape)))
            return self.add(block, self.draw(st.sampled_from(_NN_REDUCE)), x, axes=ints(axes),
                            keepdims=integer(self.draw(st.integers(0, 1))))
        if kind == "transpose":
            perm = self.draw(st.permutations(range(len(shape))))
            return self.add(block, "transpose", x, perm=ints(perm))
        if kind == "reshape":
            dims = list(shape)
            if len(dims) > 1 and self.draw(st.booleans()):  # merge two neighbours
                i = self.draw(st.integers(0, len(dims) - 2))
                dims[i:i + 2] = [dims[i] * dims[i + 1]]
            else:
                dims = self.draw(st.permutations(dims))
            return self.add(block, "reshape", x, shape=ints(dims))
        if kind == "unsqueeze":
            if len(shape) >= 4:
                return None
            return self.add(block, "unsqueeze", x, axes=ints([self.draw(st.integers(-len(shape) - 1, len(shape)))]))
        if kind == "concat":
            axis = self.draw(st.integers(0, len(shape) - 1))
            other = list(shape)
            other[axis] = self.draw(st.integers(1, 3))
            y = self.pick(floats, lambda v: v.type.shape == tuple(other)) if self.draw(st.booleans()) else None
            y = y if y is not None else self.constant(block, other)
            return self.add(block, "concat", x, y, axis=integer(axis - len(shape) if self.draw(st.booleans()) else axis))
        if kind in ("conv2d", "pool"):
            if len(shape) != 4:
                x = self.add(block, "reshape", x, shape=ints(_to_4d(shape)))
                shape = x.type.shape
            n, c, h, w = shape
            kh, kw = self.draw(st.integers(1, min(3, h))), self.draw(st.integers(1, min(3, w)))
            pads = [self.draw(st.integers(0, k - 1)) for k in (kh, kw, kh, kw)]
            strides = [self.draw(st.integers(1, 2)) for _ in range(2)]
            if kind == "pool":
                name = self.draw(st.sampled_from(["max_pool2d", "avg_pool2d", "global_avg_pool"]))
                if name == "global_avg_pool":
                    return self.add(block, name, x)
                props = {"count_include_pad": integer(self.draw(st.integers(0, 1)))} if name == "avg_pool2d" else {}
                return self.add(block, name, x, kernel_shape=ints([kh, kw]), strides=ints(strides),
                                pads=ints(pads), **props)
            group = c if c > 1 and self.draw(st.booleans()) else 1
            out = c * self.draw(st.integers(1, 2)) if group > 1 else self.draw(st.integers(1, 3))
            dil = [self.draw(st.integers(1, 2)) for _ in range(2)]
            if (kh - 1) * dil[0] + 1 > h + pads[0] + pads[2] or (kw - 1) * dil[1] + 1 > w + pads[1] + pads[3]:
                dil = [1, 1]
            weight = self.constant(block, (out, c // group, kh, kw))
            operands = [x, weight] + ([self.constant(block, (out,))] if self.draw(st.booleans()) else [])
            return self.add(block, "conv2d", *operands, strides=ints(strides), pads=ints(pads),
                            dilations=ints(dil), group=integer(group))
        if kind == "compare_where":
            y = self.constant(block, self.broadcast_partner(shape))
            cond = self.add(block, self.draw(st.sampled_from(["less", "greater", "equal"])), x, y)
            if cond is None:
                return None
            return self.add(block, "where", cond, x, y) if self.draw(st.integers(0, 3)) else cond
        if kind == "constant_of_shape":
            s = self.add(block, "shape", x)
            value = DenseElementsAttr(RankedTensorType((1,), f32), np.asarray([self.draw(st.sampled_from([0.0, 1.0, -2.5]))], np.float32))
            c = self.add(block, "constant_of_shape", s, result_types=[x.type], value=value)
            return self.add(block, "add", x, c)
        if kind in CATALOGUE_KINDS:
            return getattr(_CatalogueDrawer(self, block, x), kind)()
        raise ValueError(f"unknown nn graph kind {kind!r}")

    def func(self):
        from lamina.dialects.func import FuncOp, ReturnOp

        input_types = [RankedTensorType(self.shape(), f32) for _ in range(self.draw(st.integers(1, 3)))]
        fn = FuncOp.create_with_body("main", input_types, ())
        block = fn.entry
        pool = list(block.args)
        # the plan first, as a list: hypothesis shrinks a failing graph by deleting its steps
        for kind in self.draw(st.lists(st.sampled_from(self.kinds), min_size=1, max_size=self.max_ops)):
            v = self.step(block, pool, kind)
            if v is not None:
                pool.append(v)
        # return every value nothing uses (at most 3, the last first), so most ops are live
        sinks = [v for v in reversed(pool[len(block.args):]) if not v.uses] or [pool[-1]]
        outs = sinks[:3]
        block.append(ReturnOp(operands=outs))
        fn.function_type = TypeAttr(FunctionType(tuple(input_types), tuple(v.type for v in outs)))
        return fn


class _CatalogueDrawer:
    """The subgraphs combine-ops's catalogue looks for, drawn on `x` with random variations and
    near misses (a wrong constant, a gamma that broadcasts along other axes, ...): one method
    per kind in CATALOGUE_KINDS, each returning the last value it built (or None)."""

    def __init__(self, graph: _NnGraphDrawer, block, x):
        self.g, self.block, self.x = graph, block, x
        self.draw = graph.draw

    def add(self, name, *operands, **props):
        if any(v is None for v in operands):
            return None  # an earlier step's shapes did not fit
        return self.g.add(self.block, name, *operands, **props)

    def const(self, shape):
        return self.g.constant(self.block, shape)

    def scalar(self, value, shape=()):
        from lamina.dialects.nn.base import ConstantOp

        t = RankedTensorType(tuple(shape), f32)
        op = ConstantOp(result_types=[t], properties={"value": DenseElementsAttr(t, np.full(shape, value, np.float32))})
        self.block.append(op)
        return op.results[0]

    def near(self, value):
        """`value`, or now and then a near miss."""
        return value if self.draw(st.integers(0, 5)) else value * 0.8 + 0.1

    def flip(self):
        return self.draw(st.booleans())

    def fresh_input(self, rank: int):
        """A function argument (standard-normal data, so statistics are not degenerate) in
        `rank` dims: leading dims merged, or leading 1s added."""
        from lamina.dialects.nn.base import ints

        arg = self.draw(st.sampled_from(list(self.block.args)))
        dims = [1] * max(0, rank - arg.type.rank) + list(arg.type.shape)
        while len(dims) > rank:
            dims[0:2] = [dims[0] * dims[1]]
        return self.add("reshape", arg, shape=ints(dims))

    def image(self):
        from lamina.dialects.nn.base import ints

        x = self.x
        if x.type.rank != 4:
            x = self.add("reshape", x, shape=ints(_to_4d(x.type.shape)))
        return x

    def binary(self, name, a, b):
        return self.add(name, *((a, b) if self.flip() else (b, a)))

    def per_channel(self, channels: int, rank: int = 4):
        """A constant that is the same along every axis but 1 (or a near miss along the last)."""
        choice = self.draw(st.integers(0, 4))
        if choice == 0:
            return self.const(())
        if choice == 4:
            return self.const((self.draw(st.integers(1, 2)),))  # along the last axis: a near miss
        shape = (channels,) + (1,) * (rank - 2)
        return self.const((1,) + shape if choice == 1 else shape)

    def bn_params(self, channels: int):
        from lamina.dialects.nn.base import ConstantOp

        values = []
        for positive in (False, False, False, True):
            t = RankedTensorType((channels,), f32)
            rng = np.random.default_rng(self.draw(st.integers(0, 2 ** 16)))
            array = rng.standard_normal(channels).astype(np.float32)
            array = np.abs(array) + 0.5 if positive else array
            op = ConstantOp(result_types=[t], properties={"value": DenseElementsAttr(t, array)})
            self.block.append(op)
            values.append(op.results[0])
        return values

    # -- the kinds -----------------------------------------------------------------------------

    def conv_bias_bn(self):
        from lamina.dialects.nn.base import ints

        x = self.image()
        n, c, h, w = x.type.shape
        out = self.draw(st.integers(1, 3))
        k = self.draw(st.integers(1, min(2, h, w)))
        operands = [x, self.const((out, c, k, k))] + ([self.const((out,))] if self.flip() else [])
        y = self.add("conv2d", *operands, pads=ints([0, 0, 0, 0]))
        for step in self.draw(st.lists(st.sampled_from(["add", "bn", "mul", "relu"]), min_size=1, max_size=3)):
            if step == "bn":
                y = self.add("batch_norm", y, *self.bn_params(out))
            elif step == "relu":
                y = self.add("relu", y)
            else:
                y = self.binary(step, y, self.per_channel(out)) or y
        return y

    def matmul_gemm(self):
        from lamina.dialects.nn.base import ints

        x = self.x
        m = x.type.shape[0]
        k = int(np.prod(x.type.shape[1:], dtype=np.int64))
        x = self.add("reshape", x, shape=ints([m, k]))
        n = self.draw(st.integers(1, 3))
        if self.flip():
            b = self.add("transpose", self.const((n, k)), perm=ints([1, 0]))
        else:
            b = self.const((k, n))
        if self.flip():
            x = self.add("transpose", self.add("transpose", x), perm=ints([1, 0]))
        y = self.add("matmul", x, b)
        for step in self.draw(st.lists(st.sampled_from(["scale", "add", "bn"]), min_size=1, max_size=3)):
            if step == "scale":
                y = self.add(self.draw(st.sampled_from(["mul", "div"])), y, self.scalar(self.draw(st.sampled_from([2.0, 0.5, -4.0])), (1,)))
            elif step == "add":
                c = self.const(self.draw(st.sampled_from([(n,), (1, n), (m, 1), (m, n), ()])))
                y = self.binary("add", y, c)
            else:
                y = self.add("batch_norm", y, *self.bn_params(n))
        return y

    def layer_norm(self):
        from lamina.dialects.nn.base import integer, ints

        rank = self.draw(st.integers(2, 3))
        x = self.fresh_input(rank)
        shape = x.type.shape
        trailing = self.draw(st.integers(1, rank - 1))
        axes = list(range(rank - trailing, rank))
        if not self.draw(st.integers(0, 5)):
            axes = [0]  # not the trailing axes: a near miss
        mean = self.add("reduce_mean", x, axes=ints(axes), keepdims=integer(1))
        d = self.add("sub", x, mean)
        sq = self.add("mul", d, d) if self.flip() else self.add("pow", d, self.scalar(self.near(2.0)))
        var = self.add("reduce_mean", sq, axes=ints(axes), keepdims=integer(1))
        y = self.add("div", d, self.add("sqrt", self.binary("add", var, self.scalar(1e-5, (1,) * self.draw(st.integers(0, 1))))))
        for name in ("mul", "add"):
            if self.flip():
                y = self.binary(name, y, self.const(self.parameter_shape(shape, rank - trailing)))
        return y

    def parameter_shape(self, shape, axis):
        """A gamma / beta shape: the normalized dims, with leading 1s, one element, or one that
        broadcasts differently (along a dim that is not normalized, or growing the result)."""
        normalized = tuple(shape[axis:])
        return self.draw(st.sampled_from([normalized, (1,) + normalized, (), (shape[-1],),
                                          (shape[-2], 1), (2,) + (1,) * len(shape)]))

    def gelu(self):
        x = self.x
        half, one = self.scalar(self.near(0.5)), self.scalar(1.0)
        scaled = self.add("div", x, self.scalar(math.sqrt(2.0))) if self.flip() else \
            self.binary("mul", x, self.scalar(self.near(1 / math.sqrt(2.0))))
        gate = self.binary("add", self.add("erf", scaled), one)
        form = self.draw(st.integers(0, 2))
        if form == 0:
            return self.binary("mul", self.binary("mul", x, gate), half)
        if form == 1:
            return self.binary("mul", self.binary("mul", x, half), gate)
        return self.binary("mul", x, self.binary("mul", gate, half))

    def hard_swish(self):
        from lamina.dialects.nn.base import real

        x = self.x
        if self.flip():
            hs = self.add("hard_sigmoid", x, alpha=real(self.near(1 / 6)), beta=real(0.5))
            return self.binary("mul", x, hs)
        relu6 = self.add("clip", self.binary("add", x, self.scalar(self.near(3.0))), min=real(0.0), max=real(6.0))
        if self.flip():
            return self.add("div", self.binary("mul", x, relu6), self.scalar(6.0))
        return self.binary("mul", x, self.add("div", relu6, self.scalar(6.0)))

    def prelu(self):
        x = self.x
        c = x.type.shape[1] if x.type.rank >= 2 else 1
        slope = self.const(self.draw(st.sampled_from([(), (1,), (c,) + (1,) * max(0, x.type.rank - 2)])))
        zero = self.scalar(0.0)
        if self.flip():
            negative = self.binary("mul", slope, self.binary("min", x, zero))
            positive = self.add("relu", x) if self.flip() else self.binary("max", x, zero)
        else:
            negative = self.binary("mul", slope, self.add("relu", self.add("neg", x)))
            positive = self.add("relu", x)
        if negative is None:
            return None
        return self.binary("add", positive, negative)

    def reduce_mean_hw(self):
        from lamina.dialects.nn.base import integer, ints

        axes = self.draw(st.sampled_from([[2, 3], [-1, -2], [3, 2], [1, 3]]))
        return self.add("reduce_mean", self.image(), axes=ints(axes), keepdims=integer(self.draw(st.integers(0, 1))))

    def shuffle_channel(self):
        from lamina.dialects.nn.base import integer, ints

        x = self.image()
        if x.type.shape[1] == 1:
            x = self.add("concat", x, x, x, x, axis=integer(1))
        n, c, h, w = x.type.shape
        groups = self.draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
        y = self.add("reshape", x, shape=ints([n, groups, c // groups, h, w]))
        y = self.add("transpose", y, perm=ints(self.draw(st.sampled_from([[0, 2, 1, 3, 4], [0, 2, 1, 3, 4], [0, 1, 2, 4, 3]]))))
        return self.add("reshape", y, shape=ints([n, c, h, w]))

    def batch_norm(self):
        x = self.x
        if x.type.rank < 2:
            return None
        y = self.add("batch_norm", x, *self.bn_params(x.type.shape[1]))
        if self.flip():  # a Caffe-style Scale after it
            y = self.binary(self.draw(st.sampled_from(["mul", "add"])), y, self.per_channel(x.type.shape[1], x.type.rank))
        return y


def _broadcasts(a, b) -> bool:
    return all(x == y or x == 1 or y == 1 for x, y in zip(reversed(a), reversed(b)))


def _to_4d(shape) -> tuple:
    """`shape` as [N, C, H, W] with the same number of elements (the leading dims merged)."""
    dims = [1] * max(0, 4 - len(shape)) + list(shape)
    while len(dims) > 4:
        dims[0:2] = [dims[0] * dims[1]]
    return tuple(dims)


@st.composite
def nn_graphs(draw, max_ops: int = 8, kinds: tuple = NN_GRAPH_KINDS):
    """A random well-typed `builtin.module` holding `func.func @main` of f32 tensor inputs (1-3,
    rank 1-4, dims 1-4): chains and DAGs of unary and broadcasting binary ops, conv2d and pooling
    with random strides, pads, dilations and groups, reshapes, transposes, unsqueezes, concats,
    reductions, comparisons feeding `nn.where`, `constant_of_shape(shape(x))`, and constants
    (operands, and whole constant subgraphs for fold-constants to fold). Every module verifies.

    kinds: which of `NN_GRAPH_KINDS` to draw (hypothesis shrinks towards the first); add
    `CATALOGUE_KINDS` for the subgraphs combine-ops looks for (conv + bias + batch norm + scale,
    matmul + scale / add / batch norm, decomposed layer norms with gamma and beta of random
    shapes, erf GELU, hard-swish, PReLU, spatial means, channel shuffles, lone batch norms),
    each with near misses."""
    from lamina.dialects.builtin import ModuleOp

    module = ModuleOp.empty()
    module.block.append(_NnGraphDrawer(draw, max_ops, kinds).func())
    return module


def random_inputs(module: Operation, seed: int, function: str = "main") -> list:
    """Standard-normal arrays (integers in [-4, 4], random bools) for `function`'s inputs."""
    from lamina.compiler.symbols import SymbolTable

    rng = np.random.default_rng(seed)
    arrays = []
    for arg in SymbolTable(module).lookup(function).entry.args:
        t = arg.type
        dtype = np.dtype(t.element_type.numpy_dtype)
        if dtype == np.bool_:
            arrays.append(rng.random(t.shape) < 0.5)
        elif dtype.kind in "iu":
            arrays.append(rng.integers(-4, 5, t.shape).astype(dtype))
        else:
            arrays.append(rng.standard_normal(t.shape).astype(dtype))
    return arrays


class CheckResult:
    """What `check_pass` found: `ok`, how many graphs it ran, and for a failure the smallest
    graph's IR before and after the pass, its inputs, and the largest difference."""

    def __init__(self, pipeline: str, ok: bool, examples: int, before: str | None = None,
                 after: str | None = None, inputs: list | None = None, max_diff: float | None = None,
                 message: str = ""):
        self.pipeline, self.ok, self.examples = pipeline, ok, examples
        self.before, self.after, self.inputs = before, after, inputs
        self.max_diff, self.message = max_diff, message
        self.statistics: Counter = Counter()  # the passes' statistics summed over every graph run

    def __bool__(self) -> bool:
        return self.ok

    def summary(self) -> str:
        if self.ok:
            return f"OK: '{self.pipeline}' kept the meaning of {self.examples} random nn graphs"
        return f"FAILED: '{self.pipeline}' changed the meaning of a graph: {self.message}"

    def report(self) -> str:
        if self.ok:
            return self.summary()
        lines = [self.summary(), "", "smallest graph, before the pass:", self.before or "(none)",
                 "", "after the pass:", self.after or "(the pass failed)", "", "inputs:"]
        with np.printoptions(precision=4, threshold=50):
            lines += [f"  #{i}: {np.array2string(a, separator=', ')}" for i, a in enumerate(self.inputs or [])]
        if self.max_diff is not None:
            lines.append(f"max difference: {self.max_diff:.6g}")
        return "\n".join(lines)

    __str__ = report


class _Mismatch(AssertionError):
    pass


def _compare(before: list, after: list, rtol: float, atol: float,
             normwise: bool = False, noise: list | None = None) -> tuple[str, float] | None:
    """None if the outputs agree; else (what differs, the max difference).

    Floats agree elementwise (numpy.isclose), or with `normwise` within atol + rtol * the
    largest finite |value| of that output (how compiled kernels are compared: they sum in
    another order, and a quotient by a value near zero turns that rounding into a large
    elementwise error); NaN, inf and their positions must match either way. `noise` (per
    output, from `rounding_noise`) widens each element's tolerance by NOISE_MARGIN times it."""
    if len(before) != len(after):
        return f"{len(before)} outputs before, {len(after)} after", math.inf
    worst = 0.0
    problem = None
    for i, (b, a) in enumerate(zip(before, after)):
        b, a = np.asarray(b), np.asarray(a)
        if b.shape != a.shape or b.dtype != a.dtype:
            return f"output #{i} was {b.dtype}{list(b.shape)}, is {a.dtype}{list(a.shape)}", math.inf
        if b.dtype.kind == "f":
            diff = _float_diff(a, b)
            if diff.size:
                worst = max(worst, float(diff.max()))
            close = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
            if normwise:
                finite = b[np.isfinite(b)]
                scale = float(np.abs(finite).max()) if finite.size else 0.0
                close = close | (diff <= atol + rtol * scale)
            if noise is not None:
                close = close | (diff <= atol + NOISE_MARGIN * noise[i])
        else:
            close = a == b
            if b.size and not close.all():
                worst = max(worst, float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()))
        if not np.all(close) and problem is None:
            problem = f"output #{i} differs"
    return None if problem is None else (problem, worst)


def _float_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| elementwise in float64: 0 where both are NaN or equal (infinities), inf where one
    is NaN."""
    with np.errstate(all="ignore"):
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        diff = np.where(np.isnan(a) & np.isnan(b), 0.0, diff)
        diff = np.where((a == b), 0.0, diff)  # equal infinities
        return np.where(np.isnan(diff), math.inf, diff)


NOISE_ULPS = 8  # how far `rounding_noise` moves each float an op computes, in units in the last place
NOISE_MARGIN = 4  # how many times that noise a compiled output may differ by


def rounding_noise(module, inputs: list, expected: list, runs: int = 2, seed: int = 0) -> list:
    """Per output, how far its values move when every float each op computes is moved by up to
    NOISE_ULPS units in the last place (the max over `runs` runs; inf where a NaN or an
    infinity comes or goes).

    What a graph amplifies of rounding, compiled kernels may differ by: they round each step as
    the interpreter does, in another order. A layer_norm over two elements is +-1 within an ulp;
    a conv whose weights cancel sums those to rounding noise, and what reads that noise (another
    normalization, a division) makes it O(1) and different in the kernel and the interpreter,
    neither of them wrong. Elsewhere the noise is a few ulps, so a wrong kernel still fails."""
    from lamina.runtime.interpreter import Interpreter

    rng = np.random.default_rng(seed)

    class Perturbing(Interpreter):
        def run_op(self, op, args, interpreter=None):  # noqa: D102 - the interpreter's, then moved
            outs = Interpreter.run_op(op, args, interpreter)
            return [_moved(v, rng) for v in outs]

    noise = [np.zeros(np.shape(e)) for e in expected]
    for _ in range(runs):
        moved = Perturbing(module).call("main", list(inputs))
        for i, (m, e) in enumerate(zip(moved, expected)):
            m, e = np.asarray(m), np.asarray(e)
            if e.dtype.kind == "f":
                noise[i] = np.maximum(noise[i], _float_diff(m, e))
    return noise


def _moved(value, rng):
    """A float array with each element moved by up to NOISE_ULPS ulps (others as they are)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.size == 0:
        return value
    ulp = np.finfo(value.dtype).eps
    with np.errstate(all="ignore"):
        factor = 1 + rng.uniform(-NOISE_ULPS, NOISE_ULPS, value.shape) * ulp
        return (value * factor.astype(value.dtype)).astype(value.dtype)


def default_examples() -> int:
    """How many graphs `check_pass` tries when not told: 300, or the active hypothesis profile's
    max_examples when that is larger (5,000 under HYPOTHESIS_PROFILE=thorough)."""
    from hypothesis import settings

    return max(300, settings().max_examples)


def check_pass(pass_or_pipeline, examples: int | None = None, seed: int | None = None, *,
               rtol: float = 1e-4, atol: float = 1e-5, graphs=None, compile: bool = False,
               progress: bool = False) -> CheckResult:
    """Run the reference interpreter on random nn graphs (`nn_graphs()`, or `graphs`) and random
    inputs before and after `pass_or_pipeline` (a pipeline string, an optimization level such as
    "-O3", or a Pass instance, run with verification). Outputs must agree (floats within
    rtol/atol, ints and bools exactly). With `compile`, the graph after the passes is also built
    into kernels and run (lamina.runtime.executor), and those outputs must agree too, normwise
    (within atol + rtol * the output's largest |value|, as `lamina run --check` compares).

    examples: how many graphs (default: `default_examples()`).
    progress: show progress on standard error (compiler/progress.py: a bar on a terminal).

    On a difference (or an error in the pass) hypothesis shrinks the graph and the result holds
    the SMALLEST failing one: its IR before and after, its inputs, the max difference."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as seed_decorator

    from lamina.compiler.passes.manager import PassManager
    from lamina.compiler.passes.pass_base import Pass
    from lamina.compiler.printer import print_ir
    from lamina.runtime.interpreter import interpret

    examples = default_examples() if examples is None else examples
    level_name = None
    if isinstance(pass_or_pipeline, str) and pass_or_pipeline.startswith("-O"):
        level_name = pass_or_pipeline
        from lamina.compiler.passes.presets import pipeline_for

        try:
            level = int(pass_or_pipeline[2:])
        except ValueError:
            level = -1
        pass_or_pipeline = pipeline_for(level)
    if isinstance(pass_or_pipeline, Pass):
        label = pass_or_pipeline.pipeline_text()
        make = lambda: PassManager([pass_or_pipeline])  # noqa: E731
    else:
        text = label = str(pass_or_pipeline)
        PassManager.parse(text)  # a bad pipeline fails here, once, not on every graph
        make = lambda: PassManager.parse(text)  # noqa: E731
    label = level_name or label
    if compile:
        label += " + compile"
    count = [0]
    last: list[CheckResult] = []
    statistics: Counter = Counter()  # what the passes did, summed over every graph

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False)
    @given(graphs if graphs is not None else nn_graphs(), st.integers(0, 2 ** 32 - 1))
    def prop(module, input_seed):
        count[0] += 1
        if bar is not None:
            bar.advance()
        compiled = [False]  # whether `got` below came from the kernels (compared normwise)
        text = print_ir(module)
        inputs = random_inputs(module, input_seed)
        expected = interpret(module, *inputs)
        try:
            manager = make()
            manager.run(module)
            for _, stats in manager.statistics:
                statistics.update(stats)
            after_text = print_ir(module)
            got = interpret(module, *inputs)
            if compile:
                from lamina.runtime.executor import compile as compile_module

                diff = _compare(expected, got, rtol, atol)
                if diff is None:  # the interpreter agreed: now the kernels
                    got = compile_module(module)(*inputs)
                    compiled[0] = True
        except Exception as e:  # noqa: BLE001 - a pass that crashes or breaks the IR fails too
            last[:] = [CheckResult(label, False, count[0], text, None, inputs, None,
                                   f"{type(e).__name__}: {e}")]
            raise _Mismatch(str(e)) from None
        diff = _compare(expected, got, rtol, atol, normwise=compiled[0])
        if diff is not None and compiled[0]:  # within what the graph makes of rounding?
            noise = rounding_noise(module, inputs, expected)
            diff = _compare(expected, got, rtol, atol, normwise=True, noise=noise)
        if diff is not None:
            last[:] = [CheckResult(label, False, count[0], text, after_text, inputs, diff[1], diff[0])]
            raise _Mismatch(diff[0])

    if seed is not None:
        prop = seed_decorator(seed)(prop)
    from lamina.compiler.progress import Progress

    bar = Progress(examples, f"check-pass {label}") if progress else None
    try:
        prop()
    except _Mismatch:
        result = last[0]
        result.examples = count[0]
        result.statistics = statistics
        return result
    finally:
        if bar is not None:
            bar.close()
    result = CheckResult(label, True, count[0])
    result.statistics = statistics
    return result
