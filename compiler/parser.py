"""The parser: MLIR text to IR, in two steps.

1. lark's LALR parser, driven by the grammar in `mlir.lark`, reads the text into syntax records
   (`_OpSyntax`, `_RegionSyntax`, ...). Types and attributes need no context, so they are built
   right away.
2. `_IRBuilder` walks the records top-down and builds the IR: it resolves `%names` through nested
   scopes (a name is visible in regions below its definition unless an isolated-from-above op is
   in between), allows uses before definitions within a region (graph regions, and blocks that
   branch forward), checks each use's type against the definition, and asks registered op classes
   to build themselves from their custom form.

Every failure is a `ParseError` with line, column, the source line and a caret, in the user's
terms ("expected ':' after operand list", "use of undefined value %3"); lark's own exceptions never
escape.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from .attributes import (ArrayAttr, Attribute, BoolAttr, DenseArrayAttr, DenseElementsAttr,
                         DictionaryAttr, FloatAttr, IntegerAttr, OpaqueAttr, StringAttr,
                         StridedLayoutAttr, SymbolRefAttr, TypeAttr, UnitAttr)
from .errors import ParseError, SourcePos
from .ir import Block, Operation, Region, Value
from .location import FileLineColLoc, FusedLoc, NameLoc, UnknownLoc
from .opdef import IsolatedFromAbove, get_dialect, known_dialects, lookup_op
from .types import (FloatType, FunctionType, IndexType, IntegerType, MemRefType, NoneType,
                    OpaqueType, RankedTensorType, Type, VectorType, f64, i64)

# ---------------------------------------------------------------------------------------------
# Syntax records (step 1's output)


@dataclass
class _Name:
    """A `%name` as written, with where it was written."""

    name: str
    index: int  # `%x#1` -> 1
    token: Token


@dataclass
class _FormSyntax:
    """The pieces of a custom form as read; an op class turns them into an op (`from_custom`)."""

    op_name: str
    token: Token
    keyword: str | None = None
    symbol: str | None = None
    operands: list[_Name] | None = None
    subscript: list[_Name] | None = None  # `%m[%i, %j]`: the values in brackets
    paren: list | None = None  # items: ("use", _Name) | ("def", _Name, Type, loc) | ("type", Type)
    attribute: object | None = None  # an Attribute or a _RawLiteral awaiting its type
    arrow_types: list[Type] | None = None
    attr_dict: dict | None = None
    types: list[Type] | FunctionType | None = None
    cast_types: tuple[Type, Type] | None = None  # `: index to i32`
    region: "_RegionSyntax | None" = None
    else_region: "_RegionSyntax | None" = None  # `{ ... } else { ... }` (scf.if)
    for_head: dict | None = None  # scf.for's own pieces (see `for_op` in mlir.lark)
    result_count: int = 0  # how many results the op's `%a, %b:2 =` names (set before from_custom)


@dataclass
class _OpSyntax:
    token: Token  # the first token of the op, for positions
    results: list[tuple[_Name, int]]  # (name, count) for `%x:2`
    op_name: str
    operands: list[_Name] = field(default_factory=list)
    successors: list[Token] = field(default_factory=list)
    properties: dict = field(default_factory=dict)
    regions: list = field(default_factory=list)
    attributes: dict = field(default_factory=dict)
    function_type: FunctionType | None = None
    form: _FormSyntax | None = None
    location: object = None


@dataclass
class _BlockSyntax:
    label: Token | None
    args: list  # (_Name, Type, loc)
    ops: list[_OpSyntax]


@dataclass
class _RegionSyntax:
    token: Token
    blocks: list[_BlockSyntax]


@dataclass
class _RawLiteral:
    """A number or dense body written without its type (custom forms give the type after `:`)."""

    kind: str  # "number" | "dense"
    value: object
    token: Token


class _SyntaxError(Exception):
    """Raised inside the transformer; turned into a ParseError with the text's position."""

    def __init__(self, message: str, token: Token | None, hint: str | None = None):
        super().__init__(message)
        self.message, self.token, self.hint = message, token, hint


# ---------------------------------------------------------------------------------------------
# Step 1: lark callbacks, bottom-up


def _value_name(tok: Token) -> _Name:
    text = str(tok)[1:]
    name, _, idx = text.partition("#")
    return _Name(name, int(idx) if idx else 0, tok)


def _number(tok: Token):
    text = str(tok)
    if tok.type == "HEX":
        return ("hex", int(text, 16))
    if tok.type == "FLOAT":
        return ("float", float(text))
    return ("int", int(text))


def _unescape(tok: Token) -> str:
    """MLIR string literal -> str: `\\"`, `\\\\`, `\\n`, `\\t` and `\\XX` hex escapes."""
    body = str(tok)[1:-1]
    if "\\" not in body:
        return body
    out = bytearray()
    i = 0
    raw = body.encode("utf-8")
    while i < len(raw):
        c = raw[i]
        if c != 0x5C:
            out.append(c)
            i += 1
            continue
        nxt = raw[i + 1:i + 2]
        if nxt in (b'"', b"\\"):
            out += nxt
            i += 2
        elif nxt == b"n":
            out += b"\n"
            i += 2
        elif nxt == b"t":
            out += b"\t"
            i += 2
        elif re.fullmatch(rb"[0-9A-Fa-f]{2}", raw[i + 1:i + 3]):
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            raise _SyntaxError("invalid escape in string literal", tok, "use \\\\, \\\", \\n, \\t or \\XX")
    return out.decode("utf-8", errors="surrogateescape")  # MLIR strings are bytes: keep them all


def _scalar_from(kind_value, type: Type, tok) -> Attribute:
    kind, value = kind_value
    if isinstance(type, FloatType):
        if kind == "hex":
            bits = np.asarray(value, dtype=f"u{type.width // 8}")
            return FloatAttr(float(bits.view(type.numpy_dtype)), type)
        return FloatAttr(float(value), type)
    if isinstance(type, (IntegerType, IndexType)):
        if kind == "float":
            raise _SyntaxError(f"a float literal cannot have integer type {type}", tok)
        return IntegerAttr(int(value), type)
    raise _SyntaxError(f"a number cannot have type {type}", tok, "use an integer or float type")


def _dense_from(body, type: Type, tok) -> DenseElementsAttr:
    if not isinstance(type, RankedTensorType):
        raise _SyntaxError(f"dense elements need a tensor type, not {type}", tok)
    if not type.has_static_shape:
        raise _SyntaxError(f"dense elements need a static shape, not {type}", tok)
    el = type.element_type
    if not hasattr(el, "numpy_dtype") or isinstance(el, NoneType):
        raise _SyntaxError(f"dense elements of {el} are not supported", tok)
    if isinstance(body, Token) and body.type == "STRING":  # hex string
        text = _unescape(body)
        if not text.startswith("0x"):
            raise _SyntaxError("a dense string must be hex data starting with 0x", body)
        digits = text[2:]
        width = el.numpy_dtype.itemsize * 2
        if len(digits) % width or not re.fullmatch(r"[0-9A-Fa-f]*", digits):
            raise _SyntaxError(f"hex data of {len(digits)} digits is not a whole number of {el} elements "
                               f"({width} hex digits each)", body)
        try:
            return DenseElementsAttr.from_hex(digits, type)
        except ValueError as e:
            raise _SyntaxError(str(e), body) from None
    if body is None:
        values = np.zeros((0,))
    else:
        values = _dense_values(body, el, tok)
    arr = np.asarray(values, dtype=el.numpy_dtype) if not isinstance(values, np.ndarray) else values
    if arr.size == 0 and type.num_elements == 0:  # `dense<>` or `dense<[]>`, any empty shape
        return DenseElementsAttr(type, arr.reshape(type.shape))
    if arr.ndim == 0 or arr.shape == (1,) and type.num_elements != 1 and arr.size == 1:
        return DenseElementsAttr(type, np.broadcast_to(arr.reshape(()), type.shape))
    if arr.shape != type.shape:
        raise _SyntaxError(f"dense literal has shape {list(arr.shape)} but {type} needs {list(type.shape)}", tok)
    return DenseElementsAttr(type, arr)


def _dense_values(body, el, tok):
    def convert(item):
        if isinstance(item, list):
            return [convert(x) for x in item]
        if isinstance(item, Token) and item.type in ("TRUE", "FALSE"):
            return item.type == "TRUE"
        attr = _scalar_from(item, el, tok) if not isinstance(el, IntegerType) or el.width != 1 else \
            IntegerAttr(int(item[1]), el)
        return attr.value
    nested = convert(body)
    try:
        arr = np.asarray(nested)
    except ValueError:
        raise _SyntaxError("dense literal is not rectangular: sub-lists have different lengths", tok) from None
    if arr.dtype == object:
        raise _SyntaxError("dense literal is not rectangular: sub-lists have different lengths", tok)
    with np.errstate(all="ignore"):
        return arr.astype(el.numpy_dtype)


class _ToSyntax(Transformer):
    """lark callbacks (run during parsing, bottom-up) that build the syntax records."""

    def __init__(self, allow_unregistered: bool):
        super().__init__()
        self.allow_unregistered = allow_unregistered

    # -- ops
    def start(self, ops):
        return ops

    def operation(self, c):
        results_tok, op, loc = c
        if results_tok is not None:
            results = []
            for part in str(results_tok).rstrip("=").rstrip().split(","):
                name, _, count = part.strip()[1:].partition(":")
                results.append((_Name(name, 0, results_tok), int(count) if count else 1))
            op.results = results
            op.token = results_tok
        op.location = loc
        return op

    def generic_op(self, c):
        name_tok, uses, succ, props, regions, attrs, ftype = c
        return _OpSyntax(token=name_tok, results=[], op_name=_unescape(name_tok),
                         operands=uses or [], successors=succ or [], properties=props or {},
                         regions=regions or [], attributes=attrs or {}, function_type=ftype)

    def value_uses(self, c):
        return [_value_name(t) for t in c]

    def successors(self, c):
        return list(c)

    def properties(self, c):
        return c[0]

    def regions(self, c):
        return list(c)

    def custom_op(self, c):
        name_tok, keyword, symbol, operands, subscript, paren, attribute, arrow, attrs, types, region, \
            else_region = c
        op_name = "builtin.module" if name_tok.type == "MODULE" else str(name_tok)  # (a BARE_ID
        # name is resolved against the default dialect when the IR is built)
        cast_types = types if isinstance(types, tuple) else None
        form = _FormSyntax(op_name, name_tok, keyword, symbol, operands, subscript, paren, attribute,
                           arrow, attrs, None if cast_types else types, cast_types, region, else_region)
        return _OpSyntax(token=name_tok, results=[], op_name=op_name, form=form)

    def for_op(self, c):
        head, lb, _, ub, step, iter_args, arrow, iv_type, region = c
        iv = re.match(r"scf\.for\s+(%[\w$.\-]+)", str(head)).group(1)
        form = _FormSyntax("scf.for", head, operands=[_value_name(t) for t in (lb, ub, step)],
                           arrow_types=arrow, region=region, for_head={
                               "iv": _value_name(Token.new_borrow_pos("VALUE_ID", iv, head)),
                               "iv_type": iv_type, "iter_args": iter_args or []})
        return _OpSyntax(token=head, results=[], op_name="scf.for", form=form)

    def for_iter_args(self, c):
        names = [_value_name(t) for t in c]
        return list(zip(names[0::2], names[1::2]))  # (the block argument, its initial value)

    def c_subscript(self, c):
        return [_value_name(t) for t in c]

    def c_else(self, c):
        return c[1]

    def c_keyword(self, c):
        return str(c[0])

    def c_symbol(self, c):
        return self._symbol_name(c[0])

    def c_operands(self, c):
        return [_value_name(t) for t in c]

    def c_paren(self, c):
        return [x for x in c if x is not None]

    def paren_use(self, c):
        return ("use", _value_name(c[0]))

    def paren_def(self, c):
        return ("def", _value_name(c[0]), c[1], c[2])

    def paren_type(self, c):
        return ("type", c[0])

    def c_attribute(self, c):
        return c[0]

    def c_arrow(self, c):
        if len(c) == 1 and isinstance(c[0], Type):
            return [c[0]]
        return list(c[0] or []) if c else []

    def c_attr_dict(self, c):
        return c[1]

    def c_types(self, c):
        if len(c) == 1 and isinstance(c[0], FunctionType):
            return c[0]
        if len(c) == 3 and isinstance(c[1], Token) and c[1].type == "TO":
            return (c[0], c[2])  # `: index to i32`, a cast's source and result types
        return list(c)

    def region(self, c):
        lbrace, *items = c
        entry_ops = [x for x in items if isinstance(x, _OpSyntax)]
        blocks = [x for x in items if isinstance(x, _BlockSyntax)]
        if entry_ops or not blocks:
            blocks.insert(0, _BlockSyntax(None, [], entry_ops))
        return _RegionSyntax(lbrace, blocks)

    def block(self, c):
        label, args, *ops = c
        return _BlockSyntax(label, args or [], ops)

    def block_args(self, c):
        return [x for x in c if x is not None]

    def block_arg(self, c):
        return (_value_name(c[0]), c[1], c[2])

    # -- types
    def type_list(self, c):
        return list(c)

    def function_type(self, c):
        if len(c) == 2:
            ins, outs = c
        else:  # `() -> T` gives one child per side
            ins, outs = c[0], c[1:]
        outs = outs if isinstance(outs, list) else ([outs] if outs is not None else [])
        return FunctionType(tuple(ins or ()), tuple(outs))

    def int_type(self, c):
        text = str(c[0])
        sign = text[0] if text[0] in "su" else ""
        return IntegerType(int(text.lstrip("su")[1:]), sign)

    def float_type(self, c):
        return FloatType(str(c[0]))

    def index_type(self, c):
        return IndexType()

    def none_type(self, c):
        return NoneType()

    def tensor_type(self, c):
        _, dims, element, encoding = c
        shape = [] if dims is None else [None if d == "?" else int(d) for d in str(dims).split("x")[:-1]]
        return RankedTensorType(tuple(shape), element, encoding)

    def memref_type(self, c):
        tok, dims, element, first, second = c
        shape = [] if dims is None else [None if d == "?" else int(d) for d in str(dims).split("x")[:-1]]
        first, second = (None if a is None else self._default_typed(a) for a in (first, second))
        if second is not None and not isinstance(first, StridedLayoutAttr):
            raise _SyntaxError(f"a memref's layout must be strided<[...]>, not {first}", tok,
                               "write memref<shape x type, strided<[...]>, memory space>")
        layout = first if isinstance(first, StridedLayoutAttr) else None
        memory_space = second if layout is not None else first
        if layout is not None and len(layout.strides) != len(shape):
            raise _SyntaxError(f"the layout {layout} has {len(layout.strides)} strides but the memref "
                               f"has rank {len(shape)}", tok, "give one stride per dimension")
        return MemRefType(tuple(shape), element, layout, memory_space)

    def vector_type(self, c):
        tok, dims, element = c
        shape = [] if dims is None else str(dims).split("x")[:-1]
        if "?" in shape:
            raise _SyntaxError("a vector's dimensions must be numbers, not ?", tok,
                               "give every dimension of the vector a size, like vector<16xf32>")
        return VectorType(tuple(int(d) for d in shape), element)

    def opaque_type(self, c):
        tok = c[0]
        known = re.fullmatch(r"!([A-Za-z_][\w$]*)\.([\w$]+)", str(tok))
        if known and get_dialect(known.group(1)) is not None and known.group(2) in get_dialect(known.group(1)).types:
            return get_dialect(known.group(1)).types[known.group(2)]
        if not self.allow_unregistered:
            raise _SyntaxError(f"unknown type {tok}", tok,
                               "types of unregistered dialects need --allow-unregistered")
        m = re.match(r"!([A-Za-z_][\w$]*)(?:\.([\w$.]+))?(.*)", str(tok), re.S)
        _check_opaque_body(m.group(3), tok)
        return OpaqueType(m.group(1), m.group(2) or "", m.group(3))

    # -- attributes
    def number(self, c):
        return (*_number(c[0]), c[0])

    def untyped_number(self, c):
        kind, value, tok = c[0]
        return _RawLiteral("number", (kind, value), tok)

    def typed_number(self, c):
        (kind, value, tok), type = c
        return _scalar_from((kind, value), type, tok)

    def true_attr(self, c):
        return BoolAttr(True)

    def false_attr(self, c):
        return BoolAttr(False)

    def unit_attr(self, c):
        return UnitAttr()

    def string_attr(self, c):
        return StringAttr(_unescape(c[0]))

    def array_attr(self, c):
        return ArrayAttr(tuple(self._default_typed(x) for x in c if x is not None))

    def dense_array_attr(self, c):
        tok, el, items = c
        values = []
        for item in items or []:
            if isinstance(item, Token):
                values.append(1 if item.type == "TRUE" else 0)
            else:
                values.append(_scalar_from(item[:2], el, item[2]).value)
        return DenseArrayAttr(el, tuple(values))

    def array_items(self, c):
        return list(c)

    def dense_body(self, c):
        return c[0]

    def dense_list(self, c):
        return [x for x in c if x is not None]

    def dense_attr(self, c):
        tok, body, type = c
        return _dense_from(_strip_number_tokens(body), type, tok)

    def bare_dense(self, c):
        tok, body = c
        return _RawLiteral("dense", _strip_number_tokens(body), tok)

    def dense_resource_attr(self, c):
        raise _SyntaxError("this constant was elided when the IR was printed; its data is gone", c[0],
                           "print without --elide-large-constants to keep constants parseable")

    bare_dense_resource = dense_resource_attr

    def type_attr(self, c):
        return TypeAttr(c[0])

    def symbol_ref(self, c):
        names = [self._symbol_name(t) for t in c]
        return SymbolRefAttr(names[0], tuple(names[1:]))

    def opaque_attr(self, c, type: Type | None = None):
        tok = c[0]
        m = re.match(r"#([A-Za-z_][\w$]*)(?:\.([\w$.]+))?(.*)", str(tok), re.S)
        if not m.group(2) and not m.group(3):
            raise _SyntaxError(f"undefined attribute alias {tok}", tok, "attribute aliases are not supported; write the attribute inline")
        _check_opaque_body(m.group(3), tok)
        dialect = get_dialect(m.group(1))
        known = dialect is not None and (m.group(2) or "") in dialect.opaque_attributes
        if not (self.allow_unregistered or known):
            raise _SyntaxError(f"unknown attribute {tok}", tok,
                               "attributes of unregistered dialects need --allow-unregistered")
        return OpaqueAttr(m.group(1), m.group(2) or "", m.group(3), type)

    def strided_layout(self, c):
        _, *strides, offset = c  # (lark gives None for a missing stride list or offset)
        strides = [s[1] for s in strides if s is not None]
        return StridedLayoutAttr(tuple(strides), 0 if offset is None else offset[1])

    def stride(self, c):
        return ("stride", int(c[0]) if c else None)  # `?` (a filtered-out token) is dynamic

    def affine_map(self, c):
        raise _SyntaxError("affine-map layouts are not supported", c[0],
                           "write the layout as strided<[strides...], offset: N>")

    def typed_opaque_attr(self, c):
        """`#smt.bv<1> : !smt.bv<32>`: MLIR's trailing type after an extended attribute."""
        tok, type = c
        return self.opaque_attr([tok], type)

    def attr_dict(self, c):
        return dict(x for x in c if x is not None)

    def dict_attr(self, c):
        return DictionaryAttr(c[0])

    def attr_entry(self, c):
        key, value = c
        name = _unescape(key) if key.type == "STRING" else str(key)
        return (name, UnitAttr() if value is None else self._default_typed(value))

    # -- locations
    def location(self, c):
        return c[1]

    def unknown_loc(self, c):
        return UnknownLoc()

    def file_loc(self, c):
        return FileLineColLoc(_unescape(c[0]), int(c[1]), int(c[2]))

    def name_loc(self, c):
        return NameLoc(_unescape(c[0]), c[1])

    def fused_loc(self, c):
        return FusedLoc(tuple(c))

    # -- helpers
    @staticmethod
    def _symbol_name(tok: Token) -> str:
        text = str(tok)[1:]
        # (the new token borrows tok's position, so a bad escape is reported where it is)
        return _unescape(Token.new_borrow_pos("STRING", text, tok)) if text.startswith('"') else text

    @staticmethod
    def _default_typed(value):
        """An untyped number in a generic position: i64 for integers, f64 for floats (MLIR)."""
        if isinstance(value, _RawLiteral):
            if value.kind == "dense":
                raise _SyntaxError("a dense attribute needs its type: dense<...> : tensor<...>", value.token)
            kind, v = value.value
            return _scalar_from((kind, v), f64 if kind == "float" else i64, value.token)
        return value


_CLOSING = {">": "<", "]": "[", ")": "(", "}": "{"}
_OPAQUE_BODY_PIECE = re.compile(r'->|"(?:[^"\\\n]|\\.)*"|[<>\[\](){}]')


def _check_opaque_body(body: str, tok: Token) -> None:
    """The brackets of a dialect attribute's or type's `<body>` nest, outside string literals
    (MLIR's parseDialectSymbolBody). The lexer matched the angle brackets; this checks the rest."""
    stack: list[str] = []
    for piece in _OPAQUE_BODY_PIECE.findall(body):
        if len(piece) > 1:  # `->` or a string literal: text
            continue
        if piece in "<[({":
            stack.append(piece)
        elif stack[-1] != _CLOSING[piece]:  # (the lexer matched the outer `<...>`: never empty)
            raise _SyntaxError(f"unbalanced '{stack[-1]}' in the body of {str(tok)[:40]}: "
                               f"'{piece}' closes it", tok,
                               "brackets in a dialect attribute or type nest, except inside string literals")
        else:
            stack.pop()


def _strip_number_tokens(body):
    """Number children arrive as (kind, value, token); the dense helpers want (kind, value)."""
    if isinstance(body, list):
        return [_strip_number_tokens(x) for x in body]
    if isinstance(body, tuple):
        return body[:2]
    return body


def lark_cache(name: str):
    """Where lark keeps the parser tables it builds from one of lamina's grammars: a file in
    lamina's cache folder ($XDG_CACHE_HOME or ~/.cache, then lamina/grammars), or lark's own
    default (the temp folder) when that folder cannot be made.

    Building the MLIR grammar's LALR tables takes seconds; loading them, a tenth of one. Lark's
    default keeps them in the temp folder, which lit gives each test file afresh: every `lamina
    opt` of a FileCheck test built them again (~8 s of the ~9 s each took). Lark stores the hash
    of the grammar and its options in the file and rebuilds it when they change."""
    import os

    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lamina" / "grammars"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return True
    return str(root / f"{name}.lark-cache")


@functools.lru_cache(maxsize=2)
def _lark(allow_unregistered: bool) -> Lark:
    grammar = (Path(__file__).parent / "mlir.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="contextual", maybe_placeholders=True,
                transformer=_ToSyntax(allow_unregistered), cache=lark_cache(f"mlir-{int(allow_unregistered)}"))


# ---------------------------------------------------------------------------------------------
# Step 2: records -> IR, top-down


class _Scope:
    """The names visible in one region. `isolated` stops lookups (isolated-from-above ops)."""

    def __init__(self, isolated: bool):
        self.isolated = isolated
        self.values: dict[str, list[Value]] = {}
        self.forward: dict[str, tuple[list[Value], _Name]] = {}  # used, not yet defined


class _ForwardRef(Value):
    """A value used before its definition; replaced by the real value when the definition comes."""

    __slots__ = ("use_token",)

    def __init__(self, type: Type, use_token: Token):
        super().__init__(type)
        self.use_token = use_token


class _IRBuilder:
    def __init__(self, text: str, filename: str, allow_unregistered: bool):
        self.text = text
        self.filename = filename
        self.allow_unregistered = allow_unregistered
        self.scopes: list[_Scope] = []
        self.block_maps: list[dict[str, Block]] = []
        self._isolated_next = False
        self._lines: list[str] | None = None  # split once, on first need (positions of ops)
        # MLIR's default-dialect stack: an op name without a dialect (`return`) is looked up in
        # the dialect on top, which the enclosing op written in its custom form chose
        # (`Op.default_dialect`: func.func's is "func"); "builtin" at the top level
        self.default_dialects: list[str] = ["builtin"]

    # -- errors --------------------------------------------------------------------------------

    def pos(self, tok) -> SourcePos | None:
        if tok is None or getattr(tok, "line", None) is None:
            return None
        if self._lines is None:
            self._lines = self.text.splitlines()
        line = self._lines[tok.line - 1] if 0 < tok.line <= len(self._lines) else ""
        return SourcePos(self.filename, tok.line, tok.column, line)

    def error(self, message: str, tok, hint: str | None = None) -> ParseError:
        return ParseError(message, self.pos(tok), hint)

    # -- scopes ----------------------------------------------------------------------------------

    def _visible_scopes(self):
        for scope in reversed(self.scopes):
            yield scope
            if scope.isolated:
                return

    def define(self, name: _Name, values: list[Value]) -> None:
        for scope in self._visible_scopes():
            if name.name in scope.values:
                raise self.error(f"redefinition of %{name.name}", name.token,
                                 "each SSA value is defined once; rename one of them")
        scope = self.scopes[-1]
        if not name.name.isdigit():
            for i, v in enumerate(values):
                v.name_hint = name.name if i == 0 or len(values) == 1 else f"{name.name}_{i}"
                if len(values) > 1:
                    v.name_hint = name.name if i == 0 else f"{name.name}_{i}"
        scope.values[name.name] = values
        pending = scope.forward.pop(name.name, None)
        if pending is not None:
            placeholders, first_use = pending
            for idx, ph in enumerate(placeholders):
                if ph is None:
                    continue
                if idx >= len(values):
                    raise self.error(f"%{name.name} has {len(values)} results; #{idx} does not exist", first_use.token)
                if ph.type != values[idx].type:
                    raise self.error(f"%{name.name} has type {ph.type} here but was defined as {values[idx].type}",
                                     ph.use_token)
                ph.replace_all_uses_with(values[idx])

    def type_of(self, name: _Name) -> Type | None:
        """The type `%name` was defined with, if it is defined already (for an op whose operand
        may be of several types, such as sched.annotate's loop or block)."""
        for scope in self._visible_scopes():
            if name.name in scope.values and name.index < len(scope.values[name.name]):
                return scope.values[name.name][name.index].type
        return None

    def use(self, name: _Name, type: Type) -> Value:
        for scope in self._visible_scopes():
            if name.name in scope.values:
                values = scope.values[name.name]
                if name.index >= len(values):
                    raise self.error(f"%{name.name} has {len(values)} result{'s' * (len(values) != 1)}; "
                                     f"#{name.index} does not exist", name.token)
                value = values[name.index]
                if value.type != type:
                    raise self.error(f"%{name.name} has type {type} here but was defined as {value.type}",
                                     name.token)
                return value
        # not defined yet: a forward reference, resolved when the definition comes
        scope = self.scopes[-1]
        placeholders, first = scope.forward.get(name.name, ([], name))
        while len(placeholders) <= name.index:
            placeholders.append(None)
        ph = placeholders[name.index]
        if ph is None:
            ph = _ForwardRef(type, name.token)
            placeholders[name.index] = ph
        elif ph.type != type:
            raise self.error(f"%{name.name} has type {type} here but was used as {ph.type} before",
                             name.token)
        scope.forward[name.name] = (placeholders, first)
        return ph

    def _close_scope(self) -> None:
        scope = self.scopes.pop()
        if not scope.forward:
            return
        if scope.isolated or not self.scopes:
            name, (placeholders, first) = min(scope.forward.items(),
                                               key=lambda kv: (kv[1][1].token.line, kv[1][1].token.column))
            if self._defined_outside(name):
                raise self.error(f"use of %{name}, which is defined outside an isolated-from-above op",
                                 first.token, "functions and modules cannot read values from outside; "
                                              "pass the value as an argument")
            raise self.error(f"use of undefined value %{name}", first.token)
        parent = self.scopes[-1]  # a later definition in an enclosing region may still come
        for name, entry in scope.forward.items():
            if name in parent.forward:
                self._merge_forward(parent, name, entry)
            else:
                parent.forward[name] = entry

    def _merge_forward(self, scope, name, entry):
        have, first = scope.forward[name]
        for i, ph in enumerate(entry[0]):
            while len(have) <= i:
                have.append(None)
            if ph is None:
                continue
            if have[i] is None:
                have[i] = ph
            else:
                if have[i].type != ph.type:
                    raise self.error(f"%{name} has type {ph.type} here but was used as {have[i].type} before",
                                     ph.use_token)
                ph.replace_all_uses_with(have[i])

    def _defined_outside(self, name: str) -> bool:
        return any(name in s.values for s in self.scopes)

    # -- module ------------------------------------------------------------------------------

    def build_module(self, ops: list[_OpSyntax]) -> Operation:
        from lamina.dialects.builtin import ModuleOp

        self.scopes.append(_Scope(isolated=True))
        built = [self.build_op(op) for op in ops]
        self._close_scope()
        if len(built) == 1 and built[0].name == "builtin.module":
            return built[0]
        module = ModuleOp.empty()
        for op in built:
            module.block.append(op)
        return module

    # -- ops -------------------------------------------------------------------------------------

    def resolve_default_dialect(self, syn: _OpSyntax) -> None:
        """`return` inside func.func is `func.return`: a custom-form name without a dialect takes
        the default dialect of the enclosing op (MLIR's OpAsmOpInterface::getDefaultDialect)."""
        if syn.form is None or "." in syn.op_name:
            return
        default = self.default_dialects[-1]
        full = f"{default}.{syn.op_name}"
        if default and lookup_op(full) is not None:
            syn.op_name = syn.form.op_name = full
            return
        if default:
            known = get_dialect(default)
            raise self.error(f"unknown op '{syn.op_name}': a name without a dialect is looked up in "
                             f"the enclosing op's dialect, and '{default}' has no op '{syn.op_name}'",
                             syn.form.token,
                             f"write the full name, like 'nn.{syn.op_name}'" if known is None else
                             f"write the full name; the {default} dialect has: {', '.join(sorted(known.ops))}")
        raise self.error(f"unknown op '{syn.op_name}': an op name needs its dialect here, "
                         f"like 'func.{syn.op_name}'", syn.form.token,
                         "only directly inside an op that names a default dialect (func.func: func) "
                         "may an op drop its dialect prefix")

    def op_class(self, syn: _OpSyntax):
        self.resolve_default_dialect(syn)
        cls = lookup_op(syn.op_name)
        if cls is not None:
            return cls
        dialect_name = syn.op_name.split(".", 1)[0]
        if self.allow_unregistered:
            return None
        tok = syn.form.token if syn.form else syn.token
        if get_dialect(dialect_name) is not None:
            known = ", ".join(sorted(get_dialect(dialect_name).ops))
            raise self.error(f"unknown op '{syn.op_name}' in dialect '{dialect_name}'", tok,
                             f"the {dialect_name} dialect has: {known}")
        raise self.error(f"unregistered operation '{syn.op_name}'", tok,
                         f"known dialects: {', '.join(known_dialects())}; "
                         "pass --allow-unregistered to keep ops of other dialects")

    def build_op(self, syn: _OpSyntax) -> Operation:
        cls = self.op_class(syn)
        if syn.form is not None:
            if cls is None or not hasattr(cls, "from_custom") or cls.print_custom is Operation.__dict__.get("print_custom"):
                raise self.error(f"'{syn.op_name}' has no custom form; write it in the generic form "
                                 f"\"{syn.op_name}\"(...) : (...) -> (...)", syn.form.token)
            self._isolated_next = cls.has_trait(IsolatedFromAbove)
            syn.form.result_count = sum(count for _, count in syn.results)
            self.default_dialects.append(cls.default_dialect)  # for the regions it parses
            try:
                op = cls.from_custom(syn.form, self)
            except NotImplementedError:
                raise self.error(f"'{syn.op_name}' has no custom form; write it in the generic form",
                                 syn.form.token) from None
            finally:
                self.default_dialects.pop()
        else:
            op = self.build_generic(syn, cls)
        if syn.location is not None:
            op.location = syn.location
        op.source_pos = self.pos(syn.form.token if syn.form else syn.token)
        self.define_results(syn, op)
        return op

    def define_results(self, syn: _OpSyntax, op: Operation) -> None:
        declared = sum(count for _, count in syn.results)
        if declared != len(op.results):
            raise self.error(f"'{syn.op_name}' defines {len(op.results)} result{'s' * (len(op.results) != 1)} "
                             f"but {declared} {'are' if declared != 1 else 'is'} named", syn.token)
        i = 0
        for name, count in syn.results:
            self.define(name, op.results[i:i + count])
            i += count

    def build_generic(self, syn: _OpSyntax, cls) -> Operation:
        ftype = syn.function_type
        if len(syn.operands) != len(ftype.inputs):
            raise self.error(f"'{syn.op_name}' has {len(syn.operands)} operand{'s' * (len(syn.operands) != 1)} "
                             f"but its type lists {len(ftype.inputs)}", syn.token)
        operands = [self.use(n, t) for n, t in zip(syn.operands, ftype.inputs)]
        successors = [self.block_ref(t) for t in syn.successors]
        isolated = cls is not None and cls.has_trait(IsolatedFromAbove)
        regions = [self.build_region(r, isolated=isolated) for r in syn.regions]
        properties, attributes = dict(syn.properties), dict(syn.attributes)
        if cls is not None:  # inherent attributes written in the attribute dict move to properties
            for field_def in cls._attr_defs:
                if field_def.name in attributes and field_def.name not in properties:
                    properties[field_def.name] = attributes.pop(field_def.name)
        kwargs = dict(operands=operands, result_types=ftype.results, attributes=attributes,
                      properties=properties, successors=successors, regions=regions)
        return cls(**kwargs) if cls is not None else Operation(name=syn.op_name, **kwargs)

    def block_ref(self, tok: Token) -> Block:
        blocks = self.block_maps[-1] if self.block_maps else {}
        label = str(tok)
        if label not in blocks:
            raise self.error(f"reference to an undefined block {label}", tok)
        return blocks[label]

    # -- regions ---------------------------------------------------------------------------------

    def build_region(self, syn: _RegionSyntax, isolated: bool, entry_args=None) -> Region:
        self.scopes.append(_Scope(isolated))
        region = Region()
        labels: dict[str, Block] = {}
        for bs in syn.blocks:
            block = Block(label=str(bs.label) if bs.label else None)
            if bs.label is not None:
                if str(bs.label) in labels:
                    raise self.error(f"redefinition of block {bs.label}", bs.label)
                labels[str(bs.label)] = block
            region.add_block(block)
        self.block_maps.append(labels)
        if entry_args is not None:
            if syn.blocks[0].args:
                raise self.error("the entry block's arguments are given in the signature; "
                                 "remove its label", syn.blocks[0].label)
            if not region.blocks:
                region.add_block(Block())
            self._define_args(region.blocks[0], entry_args)
        for block, bs in zip(region.blocks, syn.blocks):
            self._define_args(block, bs.args)
        for block, bs in zip(region.blocks, syn.blocks):
            for op_syn in bs.ops:
                block.append(self.build_op(op_syn))
        self.block_maps.pop()
        self._close_scope()
        if len(region.blocks) == 1 and region.blocks[0].is_empty and not region.blocks[0].args \
                and syn.blocks[0].label is None and entry_args is None:
            return Region()  # `{}` is a region with no blocks
        return region

    def _define_args(self, block: Block, args) -> None:
        for name, type, loc in args:
            arg = block.add_arg(type, location=loc)
            self.define(name, [arg])

    # -- helpers for op classes' from_custom (the `parser` argument) --------------------------

    def fail_form(self, form: _FormSyntax, message: str, hint: str | None = None):
        raise self.error(f"'{form.op_name}' {message}", form.token, hint)

    def expect_form(self, form: _FormSyntax, *allowed: str, required=()) -> None:
        """Reject pieces the op's custom form does not have, and require the ones it needs."""
        words = {"keyword": "a keyword", "symbol": "a @symbol", "operands": "operands",
                 "subscript": "indices in brackets", "paren": "a parenthesised list",
                 "attribute": "an attribute value", "arrow_types": "'-> types'",
                 "attr_dict": "'attributes {...}'", "types": "': types'",
                 "cast_types": "': type to type'", "region": "a region", "else_region": "an else region"}
        for piece in words:
            present = getattr(form, piece) is not None
            if present and piece not in allowed:
                self.fail_form(form, f"does not take {words[piece]} in its custom form")
            if not present and piece in required:
                self.fail_form(form, f"expects {words[piece]} in its custom form")

    def types_of(self, form: _FormSyntax, count: int | None = None) -> list[Type]:
        types = form.types
        if isinstance(types, FunctionType) or types is None:
            self.fail_form(form, "expects ': type' after its operands")
        if count is not None and len(types) != count:
            self.fail_form(form, f"expects {count} type{'s' * (count != 1)} after ':', got {len(types)}")
        return types

    def function_type_of(self, form: _FormSyntax) -> FunctionType:
        if not isinstance(form.types, FunctionType):
            self.fail_form(form, "expects a function type after ':', like (f32) -> f32")
        return form.types

    def operands_of_type(self, form: _FormSyntax, type: Type, count: int | None = None) -> list[Value]:
        names = form.operands or []
        if count is not None and len(names) != count:
            self.fail_form(form, f"expects {count} operand{'s' * (count != 1)}, got {len(names)}")
        return [self.use(n, type) for n in names]

    def operands_with_types(self, form: _FormSyntax) -> list[Value]:
        names = form.operands or []
        types = [] if form.types is None else self.types_of(form)
        if len(names) != len(types):
            self.fail_form(form, f"has {len(names)} operand{'s' * (len(names) != 1)} but {len(types)} "
                                 f"type{'s' * (len(types) != 1)} after ':'")
        return [self.use(n, t) for n, t in zip(names, types)]

    def paren_operands(self, form: _FormSyntax, types) -> list[Value]:
        items = form.paren or []
        if any(kind != "use" for kind, *_ in items):
            self.fail_form(form, "expects values in parentheses, like (%a, %b)")
        if len(items) != len(types):
            self.fail_form(form, f"has {len(items)} argument{'s' * (len(items) != 1)} but its type lists {len(types)}")
        return [self.use(item[1], t) for item, t in zip(items, types)]

    def paren_arg_defs(self, form: _FormSyntax):
        items = form.paren or []
        if any(kind != "def" for kind, *_ in items):
            self.fail_form(form, "expects typed arguments in parentheses, like (%x: f32)")
        return [(name, type, loc) for _, name, type, loc in items]

    def paren_types(self, form: _FormSyntax) -> list[Type]:
        items = form.paren or []
        if any(kind != "type" for kind, *_ in items):
            self.fail_form(form, "without a body lists only types in parentheses, like (f32, i32)")
        return [item[1] for item in items]

    def typed_attribute(self, form: _FormSyntax, type: Type) -> Attribute:
        raw = form.attribute
        if not isinstance(raw, _RawLiteral):
            return raw
        try:
            if raw.kind == "dense":
                return _dense_from(raw.value, type, raw.token)
            return _scalar_from(raw.value, type, raw.token)
        except _SyntaxError as e:
            raise self.error(e.message, e.token, e.hint) from None

    def region(self, syn: _RegionSyntax, entry_args=None) -> Region:
        isolated, self._isolated_next = self._isolated_next, False
        return self.build_region(syn, isolated=isolated, entry_args=entry_args)


# ---------------------------------------------------------------------------------------------
# Errors from lark, in the user's terms

_TOKEN_WORDS = {
    "COLON": "':'", "COMMA": "','", "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'",
    "LBRACE": "'{'", "RBRACE": "'}'", "LESSTHAN": "'<'", "MORETHAN": "'>'", "EQUAL": "'='",
    "VALUE_ID": "a value like %0", "RESULT_DEFS": "an operation", "STRING": "a string",
    "OP_NAME": "an op name", "BLOCK_ID": "a block label like ^bb1", "SYMBOL": "a symbol like @f",
    "INTEGER": "an integer", "FLOAT": "a float", "BARE_ID": "a name", "$END": "the end of input",
    "INT_TYPE": "a type", "FLOAT_TYPE": "a type", "TENSOR": "a type", "DIMS": "dimensions like 2x3x",
    "MODULE": "an operation", "FUSED": "a location", "UNKNOWN": "a location", "LOC": "loc(...)",
    "RARROW": "'->'", "__ANON_0": "'->'",
}
# when several tokens would do, name the one that is required rather than optional
_PREFERRED = ("RPAR", "RSQB", "MORETHAN", "COLON", "RBRACE", "EQUAL", "COMMA", "VALUE_ID", "INT_TYPE",
              "STRING", "RESULT_DEFS")


def _describe_found(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of input"
    text = str(tok)
    return f"'{text[:30]}{'...' if len(text) > 30 else ''}'"


def _context(e: UnexpectedToken) -> str:
    """Where the parser was, from what it had read last, e.g. 'after operand list'."""
    try:
        stack = e.interactive_parser.parser_state.value_stack
    except AttributeError:
        return ""
    if len(stack) >= 2 and isinstance(stack[-1], Token) and stack[-1].type == "RPAR":
        before = stack[-3] if len(stack) >= 3 and isinstance(stack[-2], list) else stack[-2]
        if isinstance(before, Token) and before.type == "LPAR":
            before = stack[stack.index(before) - 1] if stack.index(before) > 0 else None
        if isinstance(before, Token) and before.type == "STRING":
            return " after operand list"
    if stack and isinstance(stack[-1], (dict,)):
        return " after attribute dictionary"
    if stack and isinstance(stack[-1], list) and stack[-1] and isinstance(stack[-1][0], _Name):
        return " after operand list"
    return ""


def _lark_error_to_parse_error(e: LarkError, text: str, filename: str) -> ParseError:
    if isinstance(e, UnexpectedToken):
        expected = set(e.expected or ())
        if "$END" in expected and len(expected) > 1:
            expected.discard("$END")
        preferred = [t for t in _PREFERRED if t in expected]
        choice = preferred[0] if preferred else (sorted(expected)[0] if expected else None)
        what = _TOKEN_WORDS.get(choice, f"'{choice}'" if choice else "something else")
        msg = f"expected {what}{_context(e)}, found {_describe_found(e.token)}"
        line = e.token.line if e.token.type != "$END" else e.line
        col = e.token.column if e.token.type != "$END" else e.column
        if line is None or line < 1:  # end of input: point just past the last character
            lines = text.splitlines() or [""]
            line, col = len(lines), len(lines[-1]) + 1
        hint = None
        opened = re.search(r"[#!][A-Za-z_][\w$]*(\.[\w$.]+)?\Z", text[:e.token.start_pos]) \
            if e.token.type == "LESSTHAN" and e.token.start_pos else None
        if opened:  # the lexer found no end to `#d.a<...`: point at the `#d.a`
            before = text[:opened.start()]
            pos = SourcePos.in_text(text, filename, before.count("\n") + 1,
                                    opened.start() - (before.rfind("\n") + 1) + 1)
            return ParseError(f"the body of {opened.group(0)}<...> does not end", pos,
                              "its brackets must nest, and each string literal in it must end on its line")
        if len(expected) > 1:
            options = sorted({_TOKEN_WORDS.get(t, t) for t in expected})
            hint = "the parser could accept: " + ", ".join(options[:8]) + (", ..." if len(options) > 8 else "")
        return ParseError(msg, SourcePos.in_text(text, filename, line, col), hint)
    if isinstance(e, UnexpectedCharacters):
        ch = text[e.pos_in_stream] if 0 <= e.pos_in_stream < len(text) else "?"
        pos = SourcePos.in_text(text, filename, e.line, e.column)
        if ch == '"':
            return ParseError("unterminated string literal", pos, 'close the string with " on the same line')
        return ParseError(f"unexpected character {ch!r}", pos)
    if isinstance(e, UnexpectedInput):
        return ParseError("unexpected input", SourcePos.in_text(text, filename, getattr(e, "line", 1) or 1,
                                                                 getattr(e, "column", 1) or 1))
    return ParseError(f"could not parse: {type(e).__name__}", SourcePos.in_text(text, filename, 1, 1))


# ---------------------------------------------------------------------------------------------
# Entry point


def parse(text: str, filename: str = "<string>", allow_unregistered: bool = False) -> Operation:
    """Parse MLIR text into a `builtin.module` (ops at the top level are wrapped in one, as MLIR
    does). Raises `ParseError` for malformed text; verify separately (`lamina.verify`)."""
    try:
        syntax = _lark(allow_unregistered).parse(text)
        return _IRBuilder(text, filename, allow_unregistered).build_module(syntax)
    except ParseError:
        raise
    except _SyntaxError as e:
        raise _at(e, text, filename) from None
    except VisitError as e:
        if isinstance(e.orig_exc, _SyntaxError):
            raise _at(e.orig_exc, text, filename) from None
        raise ParseError(f"could not parse: {e.orig_exc}", SourcePos.in_text(text, filename, 1, 1)) from None
    except LarkError as e:
        if isinstance(getattr(e, "orig_exc", None), _SyntaxError):
            raise _at(e.orig_exc, text, filename) from None
        raise _lark_error_to_parse_error(e, text, filename) from None
    except RecursionError:
        raise ParseError("the IR is nested too deeply to parse", SourcePos.in_text(text, filename, 1, 1)) from None


def _at(e: _SyntaxError, text: str, filename: str) -> ParseError:
    tok = e.token
    pos = SourcePos.in_text(text, filename, tok.line, tok.column) if tok is not None and tok.line else None
    return ParseError(e.message, pos, e.hint)
