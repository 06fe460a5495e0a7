"""The printer: IR to MLIR text, in the generic form or an op's custom (pretty) form.

Output is deterministic: values are named from their name hints (`%x`, made unique with `_1`,
`_2`) or numbered (`%0`, `%arg0`) in definition order, afresh inside each isolated-from-above op
(whose names still differ from the enclosing ones);
attribute dictionaries print sorted. `parse(print(m))` prints byte-identically.

Custom forms are built from a fixed sequence of optional pieces (`CustomForm`), which the parser
reads back with the same grammar for every op, so an op gets a pretty form by saying which
pieces it uses, in both directions, without writing grammar:

    [%r =] op.name [keyword] [@symbol] [%a, %b][[%i, %j]] [(...)] [attr] [-> types] [attributes {...}]
                   [: types | : type to type] [{ region }] [else { region }]

scf.for has MLIR's own form, which an op prints through `head`: a row of text, values and types
right after the name (`scf.for %i = %lb to %ub step %s`), read back by its own grammar rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .attributes import (HEX_THRESHOLD, ArrayAttr, Attribute, DenseElementsAttr, DictionaryAttr,
                         FloatAttr, IntegerAttr, OpaqueAttr, format_attr_dict, format_float,
                         format_symbol, quote_string)
from .ir import Block, BlockArgument, Operation, Region, Value
from .location import Location, UnknownLoc
from .opdef import IsolatedFromAbove
from .types import FunctionType, Type
from .verifier import check_declaration

_BARE_NAME = re.compile(r"[A-Za-z_$.\-][\w$.\-]*")


@dataclass
class CustomForm:
    """The pieces of an op's custom form; each is printed only when set (see module docstring).

    `paren` holds the parenthesised group: values (`(%a, %b)`, a call) or bare types (`(f32)`, a
    declaration); `signature` instead puts the entry block's arguments there with their types
    (`(%x: f32)`, a function), and the entry block's label is then not printed. `attribute` prints
    without its type; `types` prints after `:`; `cast_types` as `: index to i32` instead.
    `subscript` prints right after the operands, in brackets (`%m[%i, %j]`). `head` (text, values
    and types) prints right after the name; the entry block's arguments are then named in it, so
    its label is not printed. `elide_terminator` leaves out the terminator of each block of the
    regions (an `scf.yield` with no operands, which the op's parser adds back).
    """

    head: list | None = None
    keyword: str | None = None
    symbol: str | None = None
    operands: list[Value] | None = None
    subscript: list[Value] | None = None
    paren: list | None = None
    signature: list[BlockArgument] | None = None
    attribute: Attribute | None = None
    arrow_types: list[Type] | None = None
    attr_dict: dict | None = None
    types: list[Type] | FunctionType | None = None
    cast_types: tuple[Type, Type] | None = None
    region: Region | None = None
    else_region: Region | None = None
    elide_terminator: bool = False


@dataclass
class _Scope:
    names: dict = field(default_factory=dict)  # Value -> name
    used: set = field(default_factory=set)
    counter: int = 0
    arg_counter: int = 0


class ValuesForm:
    """The custom form of an op that only passes values on (func.return, scf.yield, nn.yield), as
    MLIR prints them: `op %a, %b : t1, t2`, or the bare name when it passes none. A mixin: list it
    before Op in the op's bases."""

    def print_custom(self, p):
        if not self.operands:
            return CustomForm(attr_dict=self.attributes or None)
        return CustomForm(operands=list(self.operands), attr_dict=self.attributes or None,
                          types=list(self.operand_types))

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "operands", "attr_dict", "types")
        return cls(operands=parser.operands_with_types(form), attributes=form.attr_dict or {})


class CastForm:
    """The custom form of an op that turns one value into one of another type (arith's casts,
    vector.broadcast), as MLIR prints them: `op %x : t1 to t2`. A mixin: list it before Op in the
    op's bases. An op with properties prints the generic form."""

    def print_custom(self, p):
        if self.properties:
            return None
        return CustomForm(operands=[self.operands[0]], attr_dict=self.attributes or None,
                          cast_types=(self.operands[0].type, self.results[0].type))

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "operands", "attr_dict", "cast_types", required=("operands", "cast_types"))
        source, result = form.cast_types
        (value,) = parser.operands_of_type(form, source, count=1)
        return cls(operands=[value], result_types=[result], attributes=form.attr_dict or {})


def _has_pretty_form(op: Operation) -> bool:
    """An op prints its custom form only when it satisfies its declaration: the custom printer
    may rely on it (a `sym_name` that is a type has no symbol to print). As MLIR's printer does,
    an op that fails falls back to the generic form, which shows any op as it is."""
    return op.is_registered and check_declaration(op) is None


class Printer:
    """Prints ops, attributes and types. Options:

    generic: print every op in the generic form (what `--print-generic` does).
    print_locations: print `loc(...)` after ops whose location is known.
    hex_threshold: dense tensors with more elements print as hex.
    elide_threshold: dense tensors with more elements print as `dense_resource<__elided__>`.
    """

    def __init__(self, generic: bool = False, print_locations: bool = True,
                 hex_threshold: int = HEX_THRESHOLD, elide_threshold: int | None = None):
        self.generic = generic
        self.print_locations = print_locations
        self.hex_threshold = hex_threshold
        self.elide_threshold = elide_threshold
        self._out: list[str] = []
        self._scopes: list[_Scope] = []
        self._block_names: dict[int, str] = {}
        # MLIR's default-dialect stack: directly inside a region of an op printed in its custom
        # form, ops of that op's `default_dialect` print without their prefix (`return`)
        self._default_dialects: list[str] = ["builtin"]

    # -- entry points ------------------------------------------------------------------------

    def print_op_to_string(self, op: Operation) -> str:
        self._out = []
        self._scopes = [_Scope()]
        self._default_dialects = ["builtin"]
        self._name_values_of(op, self._scopes[-1], include_results=True)
        self._print_op(op, 0, root=True)
        return "".join(self._out)

    def print_module(self, module: Operation) -> str:
        return self.print_op_to_string(module) + "\n"

    # -- naming ------------------------------------------------------------------------------

    def _claim(self, scope: _Scope, value: Value, hint: str | None, is_arg: bool) -> None:
        if hint and _BARE_NAME.fullmatch(hint) and not hint.isdigit():
            name, k = hint, 1
            while name in scope.used:
                name = f"{hint}_{k}"
                k += 1
        else:
            while True:
                if is_arg:
                    name = f"arg{scope.arg_counter}"
                    scope.arg_counter += 1
                else:
                    name = str(scope.counter)
                    scope.counter += 1
                if name not in scope.used:
                    break
        scope.used.add(name)
        scope.names[value] = name

    def _name_values_of(self, op: Operation, scope: _Scope, include_results: bool) -> None:
        """Name everything defined inside `op` (and its results), stopping at nested isolated ops,
        whose insides are named in their own scope when they are printed."""
        if include_results:
            for r in op.results:
                self._claim(scope, r, r.name_hint, False)
        for region in op.regions:
            for block in region.blocks:
                for a in block.args:
                    self._claim(scope, a, a.name_hint, True)
                for inner in block:
                    for r in inner.results:
                        self._claim(scope, r, r.name_hint, False)
                    if not inner.has_trait(IsolatedFromAbove):
                        self._name_values_of(inner, scope, include_results=False)

    def value_name(self, value: Value) -> str:
        for scope in reversed(self._scopes):
            if value in scope.names:
                return "%" + scope.names[value]
        return "%<<UNKNOWN VALUE>>"  # a use of a value outside the printed op (a detached op)

    def block_name(self, block: Block) -> str:
        return self._block_names.get(id(block), "^<<UNKNOWN BLOCK>>")

    # -- ops ---------------------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        self._out.append(text)

    def _print_op(self, op: Operation, indent: int, root: bool = False) -> None:
        isolated = not root and bool(op.regions) and op.has_trait(IsolatedFromAbove)
        if isolated:  # a fresh numbering inside, as MLIR does for each function, but no name of
            # an enclosing scope again: a reader that does not know the op is isolated (xdsl-opt
            # with an unregistered dialect) would see a redefinition (nn.fused inside a function)
            scope = _Scope()
            for outer in self._scopes[1:]:  # (the module's own names may recur in its functions)
                scope.used |= outer.used
            self._scopes.append(scope)
            self._name_values_of(op, scope, include_results=False)
        self._emit(" " * indent)
        if op.results:
            self._emit(", ".join(self.value_name(r) for r in op.results) + " = ")
        form = None if self.generic or not _has_pretty_form(op) else op.print_custom(self)
        if form is not None and isinstance(form.types, list) and any(isinstance(t, FunctionType) for t in form.types):
            form = None  # `: () -> ()` in a type list would read as the op's function type
        if form is not None and getattr(form.attribute, "type", None) is not None and isinstance(form.attribute, OpaqueAttr):
            form = None  # `#d.a<..> : !d.t` would read its type as the op's `: types`
        if form is None:
            self._default_dialects.append("")
            self._print_generic(op, indent)
        else:
            self._emit(self._custom_name(op.name))
            self._default_dialects.append(getattr(op, "default_dialect", ""))
            self._print_custom(op, form, indent)
        self._default_dialects.pop()
        if self.print_locations and not isinstance(op.location, UnknownLoc):
            self._emit(f" {self.location(op.location)}")
        if isolated:
            self._scopes.pop()

    def _print_generic(self, op: Operation, indent: int) -> None:
        self._emit(quote_string(op.name))
        self._emit("(" + ", ".join(self.value_name(v) for v in op.operands) + ")")
        if op.successors:
            self._emit("[" + ", ".join(self.block_name(b) for b in op.successors) + "]")
        if op.properties:
            self._emit(" <" + self.attr_dict(op.properties) + ">")
        if op.regions:
            self._emit(" (")
            for i, region in enumerate(op.regions):
                if i:
                    self._emit(", ")
                self.region(region, indent)
            self._emit(")")
        if op.attributes:
            self._emit(" " + self.attr_dict(op.attributes))
        self._emit(" : " + str(FunctionType(op.operand_types, op.result_types)))

    def _print_custom(self, op: Operation, form: CustomForm, indent: int) -> None:
        for item in form.head or ():
            self._emit(self.value_name(item) if isinstance(item, Value) else str(item))
        if form.keyword:
            self._emit(" " + form.keyword + ("," if form.operands else ""))
        if form.symbol is not None:
            self._emit(" " + format_symbol(form.symbol))
        if form.operands:
            self._emit(" " + ", ".join(self.value_name(v) for v in form.operands))
        if form.subscript is not None:
            self._emit("[" + ", ".join(self.value_name(v) for v in form.subscript) + "]")
        if form.signature is not None:
            self._emit("" if form.symbol is not None else " ")
            self._emit("(" + ", ".join(self._arg_def(a) for a in form.signature) + ")")
        elif form.paren is not None:  # tight after a symbol or the bare op name: @f(%x), memref.alloc()
            bare = not (form.head or form.keyword or form.operands or form.subscript is not None)
            self._emit("" if form.symbol is not None or bare else " ")
            self._emit("(" + ", ".join(self.value_name(x) if isinstance(x, Value) else str(x)
                                       for x in form.paren) + ")")
        if form.attribute is not None:
            self._emit(" " + self.bare_attr(form.attribute))
        if form.arrow_types is not None:
            self._emit(" -> " + _type_group(form.arrow_types))
        if form.attr_dict:
            self._emit(" attributes " + self.attr_dict(form.attr_dict))
        if form.types is not None:
            types = str(form.types) if isinstance(form.types, FunctionType) else ", ".join(map(str, form.types))
            self._emit(" : " + types)
        if form.cast_types is not None:
            self._emit(f" : {form.cast_types[0]} to {form.cast_types[1]}")
        if form.region is not None:
            self._emit(" ")
            # in a custom form the entry label shows only to carry arguments no signature shows
            entry = form.region.blocks[0] if form.region.blocks else None
            self.region(form.region, indent, hide_entry_label=form.signature is not None or form.head is not None
                        or (entry is not None and not entry.args), elide_terminator=form.elide_terminator)
        if form.else_region is not None:
            self._emit(" else ")
            self.region(form.else_region, indent, hide_entry_label=True, elide_terminator=form.elide_terminator)

    def _arg_def(self, arg: BlockArgument) -> str:
        text = f"{self.value_name(arg)}: {arg.type}"
        if self.print_locations and arg.location is not None and not isinstance(arg.location, UnknownLoc):
            text += f" {self.location(arg.location)}"
        return text

    # -- regions and blocks --------------------------------------------------------------------

    def region(self, region: Region, indent: int, hide_entry_label: bool = False,
               elide_terminator: bool = False) -> None:
        for i, block in enumerate(region.blocks):
            self._block_names[id(block)] = f"^bb{i}"
        self._emit("{\n")
        for i, block in enumerate(region.blocks):
            entry_label_needed = bool(block.args) or block.is_empty
            if i > 0 or (entry_label_needed and not hide_entry_label):
                self._emit(" " * indent + self.block_name(block))
                if block.args:
                    self._emit("(" + ", ".join(self._arg_def(a) for a in block.args) + ")")
                self._emit(":\n")
            for op in block:
                if elide_terminator and op is block.last_op:
                    break
                self._print_op(op, indent + 2)
                self._emit("\n")
        self._emit(" " * indent + "}")

    # -- attributes ----------------------------------------------------------------------------

    def attr(self, a: Attribute) -> str:
        if isinstance(a, DenseElementsAttr):
            return a.format(self.hex_threshold, self.elide_threshold)
        if isinstance(a, ArrayAttr):
            return "[" + ", ".join(self.attr(e) for e in a.elements) + "]"
        if isinstance(a, DictionaryAttr):
            return self.attr_dict(a.entries)
        return str(a)

    def attr_dict(self, entries: dict) -> str:
        return format_attr_dict(entries, self.attr)

    def bare_attr(self, a: Attribute) -> str:
        """An attribute without its trailing `: type` (the custom form prints the type after `:`)."""
        if isinstance(a, IntegerAttr):
            return str(a).split(" : ")[0]
        if isinstance(a, FloatAttr):
            return format_float(a.value, a.type)
        if isinstance(a, DenseElementsAttr):
            return self.attr(a).rsplit(" : ", 1)[0]
        return self.attr(a)

    def location(self, loc: Location) -> str:
        return str(loc)

    def _custom_name(self, name: str) -> str:
        """The op's name in its custom form: `module`, and without the prefix of the enclosing
        op's default dialect (`return` in a func.func) when the rest reads back as a name."""
        if name == "builtin.module":
            return "module"
        dialect, _, rest = name.partition(".")
        if dialect == self._default_dialects[-1] and _BARE_OP_NAME.fullmatch(rest) \
                and not _RESERVED_WORD.fullmatch(rest):
            return rest
        return name


# what the parser reads as a bare op name: one identifier (MLIR: only names with a single dot
# drop their prefix) that is not one of the grammar's keywords
_BARE_OP_NAME = re.compile(r"[A-Za-z_][\w$]*")
_RESERVED_WORD = re.compile(r"true|false|unit|none|index|attributes|module|loc|tensor|dense|"
                            r"dense_resource|array|[su]?i[1-9]\d*|f16|bf16|f32|f64")


def _type_group(types: list[Type]) -> str:
    if len(types) == 1 and not isinstance(types[0], FunctionType):
        return str(types[0])
    return "(" + ", ".join(map(str, types)) + ")"


def print_ir(op: Operation, **options) -> str:
    """The text of `op` (a module or any op), ending in a newline. Options as in `Printer`."""
    return Printer(**options).print_module(op)
