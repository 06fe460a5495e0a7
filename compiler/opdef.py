"""Declarative op definitions: one class per op, everything about the op in one place.

    @arith.op
    class AddFOp(Op):
        '''Elementwise floating-point addition.

            %2 = arith.addf %0, %1 : tensor<4xf32>
        '''
        name = "arith.addf"
        lhs = Operand(float_like)
        rhs = Operand(float_like)
        result = Result(float_like)
        traits = (Pure, Elementwise, Commutative, SameOperandsAndResultType)

        def fold(self, lhs, rhs): ...        # constants in, an Attribute or Value out
        def interpret(self, lhs, rhs): ...   # numpy semantics: the oracle for every test

The fields (`Operand`, `VarOperand`, `Result`, `VarResult`, `Attr`, `RegionDef`) are read in
declaration order when the class is made; they become accessors (`op.lhs`) and drive the generic
checks in `verify_op`, so an op's own `verify` only says what the declaration cannot.
Attributes declared with `Attr` are the op's inherent attributes: they live in `op.properties`
and print in `<{...}>`, as in MLIR; anything else in `op.attributes` is discardable.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from .attributes import Attribute
from .ir import Operation, Value
from .types import Type

# ---------------------------------------------------------------------------------------------
# Constraints: a predicate on a type plus the words to say what was expected.


@dataclass(frozen=True)
class TypeConstraint:
    description: str
    check: Callable[[Type], bool]

    def __call__(self, t: Type) -> bool:
        return self.check(t)


any_type = TypeConstraint("any type", lambda t: True)


def type_is(*classes) -> TypeConstraint:
    names = " or ".join(c.__name__ for c in classes)
    return TypeConstraint(names, lambda t: isinstance(t, classes))


# ---------------------------------------------------------------------------------------------
# Fields


class _Field:
    order = 0

    def __init__(self, doc: str = ""):
        _Field.order += 1
        self._order = _Field.order
        self.doc = doc
        self.name = ""

    def __set_name__(self, owner, name):
        self.name = name


class Operand(_Field):
    """One operand whose type satisfies `constraint`."""

    variadic = False

    def __init__(self, constraint: TypeConstraint = any_type, doc: str = ""):
        super().__init__(doc)
        self.constraint = constraint

    def __get__(self, op, owner=None):
        if op is None:
            return self
        return op._operand_group(self)


class VarOperand(Operand):
    """Zero or more operands (at most one variadic operand per op)."""

    variadic = True


class Result(_Field):
    variadic = False

    def __init__(self, constraint: TypeConstraint = any_type, doc: str = ""):
        super().__init__(doc)
        self.constraint = constraint

    def __get__(self, op, owner=None):
        if op is None:
            return self
        return op._result_group(self)


class VarResult(Result):
    variadic = True


_REQUIRED = object()


class Attr(_Field):
    """An inherent attribute of kind `kind` (an Attribute class or a tuple of them).

    Absent and not optional is a verifier error; `default` is what `op.<name>` returns when the
    attribute is absent (the default is not printed)."""

    def __init__(self, kind=Attribute, default: Any = _REQUIRED, optional: bool = False, doc: str = ""):
        super().__init__(doc)
        self.kind = kind
        self.default = default
        self.optional = optional or default is not _REQUIRED

    def __get__(self, op, owner=None):
        if op is None:
            return self
        if self.name in op.properties:
            return op.properties[self.name]
        return None if self.default is _REQUIRED else self.default

    def __set__(self, op, value):
        if value is None:
            op.properties.pop(self.name, None)
        else:
            op.properties[self.name] = value


class RegionDef(_Field):
    def __init__(self, single_block: bool = True, doc: str = ""):
        super().__init__(doc)
        self.single_block = single_block

    def __get__(self, op, owner=None):
        if op is None:
            return self
        return op.regions[op._region_defs.index(self)]


# ---------------------------------------------------------------------------------------------
# Traits


class Trait:
    """A property of an op that passes can rely on; `verify` checks what it promises."""

    def verify(self, op: Operation) -> str | None:
        return None


class Pure(Trait):
    """No side effects: unused results mean the op can go (dce), equal ops can merge (cse)."""


class Elementwise(Trait):
    """Each output element depends only on the same-index elements of the operands."""


class Commutative(Trait):
    """Operands may be swapped; canonicalize puts constants last."""


class ConstantLike(Trait):
    """The op materializes a constant held in its `value` attribute (folds read it)."""


class Terminator(Trait):
    def verify(self, op):
        if op.parent is not None and op.parent.last_op is not op:
            return "must be the last op of its block"


class IsolatedFromAbove(Trait):
    """Its regions may not read values defined outside the op (functions, modules, kernels)."""


class NoTerminator(Trait):
    """Its single-block regions need no terminator (builtin.module)."""


class SymbolOp(Trait):
    """The op defines a symbol named by its `sym_name` attribute (func.func)."""


class SameOperandsAndResultType(Trait):
    def verify(self, op):
        types = {*op.operand_types, *op.result_types}
        if len(types) > 1:
            listing = ", ".join(str(t) for t in (*op.operand_types, *op.result_types))
            return f"requires the same type for all operands and results, but got {listing}"


@dataclass(frozen=True)
class HasParent(Trait):
    parents: tuple[str, ...]

    def verify(self, op):
        parent = op.parent_op
        if parent is None or parent.name not in self.parents:
            expected = " or ".join(f"'{p}'" for p in self.parents)
            return f"expects its parent op to be {expected}"


# ---------------------------------------------------------------------------------------------
# The op base class


class Op(Operation):
    """Base of registered ops. Subclasses declare fields; see the module docstring."""

    name: ClassVar[str]
    traits: ClassVar[tuple] = ()
    canonicalization_patterns: ClassVar[tuple] = ()
    # ops of this dialect may drop their prefix directly inside this op's regions when it is
    # written in its custom form (`return` in a func.func): MLIR's OpAsmOpInterface
    # getDefaultDialect; "" for none
    default_dialect: ClassVar[str] = ""
    _operand_defs: ClassVar[tuple] = ()
    _result_defs: ClassVar[tuple] = ()
    _attr_defs: ClassVar[tuple] = ()
    _region_defs: ClassVar[tuple] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        by_name: dict[str, _Field] = {}
        for klass in reversed(cls.__mro__):  # a subclass may redeclare a field
            by_name.update({k: v for k, v in vars(klass).items() if isinstance(v, _Field)})
        fields = sorted(by_name.values(), key=lambda f: f._order)
        cls._operand_defs = tuple(f for f in fields if isinstance(f, Operand))
        cls._result_defs = tuple(f for f in fields if isinstance(f, Result))
        cls._attr_defs = tuple(f for f in fields if isinstance(f, Attr))
        cls._region_defs = tuple(f for f in fields if isinstance(f, RegionDef))
        for defs, what in ((cls._operand_defs, "operand"), (cls._result_defs, "result")):
            if sum(d.variadic for d in defs) > 1:
                raise TypeError(f"{cls.__name__}: at most one variadic {what} is supported")
        cls.traits = tuple(t() if isinstance(t, type) else t for t in cls.traits)

    # -- grouping operands and results by their declared field ------------------------------

    @staticmethod
    def _group(defs, items, field):
        n_fixed = sum(not d.variadic for d in defs)
        n_var = len(items) - n_fixed
        i = 0
        for d in defs:
            width = n_var if d.variadic else 1
            if d is field:
                chunk = items[i:i + width]
                return list(chunk) if d.variadic else (chunk[0] if chunk else None)
            i += width
        raise KeyError(field.name)

    def _operand_group(self, field):
        return self._group(self._operand_defs, self.operands, field)

    def _result_group(self, field):
        return self._group(self._result_defs, self.results, field)

    # -- hooks an op may define ----------------------------------------------------------------

    @classmethod
    def infer_result_types(cls, operand_types: list[Type], properties: dict) -> list[Type] | None:
        """The result types these operands and attributes give, or None if the op cannot say."""
        return None

    def verify(self) -> str | None:
        """Checks the declaration cannot express; return a one-sentence problem or None."""
        return None

    def fold(self, *operands: Attribute | None):
        """Given the constant value of each operand (None when not constant), return the result
        as an Attribute or an existing Value, a list of those for several results, or None."""
        return None

    def interpret(self, *operands):
        """Numpy semantics: arrays in, an array (or a tuple for several results) out."""
        raise NotImplementedError(f"{self.name} has no reference semantics")

    # custom assembly: ops with a pretty form define both (see printer.CustomForm)
    def print_custom(self, printer) -> Any:
        return None

    @classmethod
    def from_custom(cls, form, parser) -> "Op":
        raise NotImplementedError

    # -- building --------------------------------------------------------------------------------

    @classmethod
    def build(cls, *operands: Value, result_types=None, location=None, regions=(), **props) -> "Op":
        """Create the op from operand values and inherent attributes by keyword; result types
        are inferred when not given."""
        props = {k: v for k, v in props.items() if v is not None}
        if result_types is None:
            result_types = cls.infer_result_types([v.type for v in operands], props)
            if result_types is None:
                raise TypeError(f"{cls.name} cannot infer its result types; pass result_types=")
        return cls(operands=operands, result_types=result_types, properties=props,
                   regions=regions, location=location)


# ---------------------------------------------------------------------------------------------
# Dialects and the registry


class Dialect:
    """A namespace of ops. `@dialect.op` registers an op class under its `name`."""

    def __init__(self, name: str, doc: str = ""):
        self.name = name
        self.doc = doc
        self.ops: dict[str, type[Op]] = {}
        self.materialize_constant: Callable | None = None
        # names of `#dialect.name<...>` attributes this dialect owns but keeps as text (arith's
        # fastmath flags): they parse without --allow-unregistered
        self.opaque_attributes: set[str] = set()
        self.types: dict[str, Type] = {}  # `!dialect.name` types it owns (parameterless)
        _DIALECTS[name] = self

    def register_type(self, name: str) -> Type:
        """A parameterless type `!<dialect>.<name>` of this dialect (compiler/types.DialectType)."""
        from .types import DialectType

        self.types[name] = DialectType(self.name, name)
        return self.types[name]

    def op(self, cls: type[Op]) -> type[Op]:
        if not cls.name.startswith(self.name + "."):
            raise TypeError(f"{cls.__name__}: op name {cls.name!r} is not in dialect {self.name!r}")
        self.ops[cls.name] = cls
        return cls

    def constant_materializer(self, fn: Callable) -> Callable:
        """Register how to turn a folded Attribute back into an op of this dialect."""
        self.materialize_constant = fn
        return fn


_DIALECTS: dict[str, Dialect] = {}

# Dialects load on first use, so `lamina --help` does not import every op definition.
# Later dialects (nn, sched, rt) add their module here.
DIALECT_MODULES = {
    "builtin": "lamina.dialects.builtin",
    "func": "lamina.dialects.func",
    "arith": "lamina.dialects.arith",
    "nn": "lamina.dialects.nn",
    "sched": "lamina.dialects.sched",
}


def get_dialect(name: str) -> Dialect | None:
    if name not in _DIALECTS and name in DIALECT_MODULES:
        importlib.import_module(DIALECT_MODULES[name])
    return _DIALECTS.get(name)


def lookup_op(name: str) -> type[Op] | None:
    dialect = get_dialect(name.split(".", 1)[0])
    return dialect.ops.get(name) if dialect else None


def known_dialects() -> list[str]:
    return sorted(set(DIALECT_MODULES) | set(_DIALECTS))


def all_op_classes() -> list[type[Op]]:
    for d in known_dialects():
        get_dialect(d)
    return [cls for d in sorted(_DIALECTS) for cls in _DIALECTS[d].ops.values()]
