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
from .types import Type, i32

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
    attribute is absent (the default is not printed). `prop_name` is the property's name when it
    cannot be the field's (memref.get_global's `name`, which every op class already has)."""

    def __init__(self, kind=Attribute, default: Any = _REQUIRED, optional: bool = False, doc: str = "",
                 prop_name: str | None = None):
        super().__init__(doc)
        self.kind = kind
        self.default = default
        self.optional = optional or default is not _REQUIRED
        self.prop_name = prop_name

    def __set_name__(self, owner, name):
        self.name = self.prop_name or name

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


def operand_segments(op: Operation) -> list[list[Value]]:
    """The operands split by the `operandSegmentSizes` property (MLIR's AttrSizedOperandSegments),
    for ops with several variadic groups: memref.alloc's `array<i32: 1, 0>` is one dynamic size
    and no symbol operand. Ops declare them as one VarOperand and name the groups themselves."""
    sizes = op.properties["operandSegmentSizes"].values
    groups, start = [], 0
    for size in sizes:
        groups.append(list(op.operands[start:start + size]))
        start += size
    return groups


def check_segments(op: Operation, names: tuple[str, ...]) -> str | None:
    """A problem with `operandSegmentSizes` (one size per name, summing to the operand count)."""
    sizes = op.properties["operandSegmentSizes"]
    if getattr(sizes, "element_type", None) != i32 or len(sizes.values) != len(names):
        return (f"operandSegmentSizes must be array<i32: ...> with {len(names)} sizes "
                f"({', '.join(names)}), not {sizes}")
    if any(v < 0 for v in sizes.values) or sum(sizes.values) != len(op.operands):
        return f"operandSegmentSizes {sizes} does not add up to its {len(op.operands)} operands"
    return None


class RegionDef(_Field):
    variadic = False

    def __init__(self, single_block: bool = True, doc: str = ""):
        super().__init__(doc)
        self.single_block = single_block

    def __get__(self, op, owner=None):
        if op is None:
            return self
        return op.regions[op._region_defs.index(self)]


class VarRegionDef(RegionDef):
    """Any number of regions (scf.reduce: one per reduction), the op's last region field."""

    variadic = True

    def __get__(self, op, owner=None):
        if op is None:
            return self
        return op.regions[op._region_defs.index(self):]


# ---------------------------------------------------------------------------------------------
# Traits


class Trait:
    """A property of an op that passes can rely on; `verify` checks what it promises."""

    def verify(self, op: Operation) -> str | None:
        return None


class Pure(Trait):
    """No side effects: unused results mean the op can go (dce), equal ops can merge (cse)."""


class MemoryEffect(Trait):
    """Base of the memory-effect traits (MLIR's MemoryEffects): what an op does to memory.

    An op with none of them, that is neither Pure nor RecursiveMemoryEffects, may do anything
    (a call, an unregistered op): passes must then assume the worst. See `memory_effects`."""


class MemRead(MemoryEffect):
    """Reads memory (memref.load): may be dropped when unused, but not moved across a write."""


class MemWrite(MemoryEffect):
    """Writes memory (memref.store, memref.copy): never dropped, and it ends what cse knows of
    earlier reads."""


class MemAlloc(MemoryEffect):
    """Allocates the buffer it returns (memref.alloc): an unused one may be dropped, but two are
    never merged (each is new memory)."""


class MemFree(MemoryEffect):
    """Frees a buffer (memref.dealloc): never dropped or moved."""


class RecursiveMemoryEffects(Trait):
    """The op's effects are those of the ops in its regions (scf.for, scf.if): a loop that only
    reads is as removable as a load, a loop that stores is not."""


def memory_effects(op: Operation) -> frozenset[type[MemoryEffect]] | None:
    """The kinds of memory effects of `op` and of the ops nested in it where it says they count
    (RecursiveMemoryEffects); None when unknown (an op that says nothing may do anything).

        memory_effects(memref.load)                    -> {MemRead}
        memory_effects(scf.for with a store inside)    -> {MemWrite, ...}
        memory_effects(arith.addf)                     -> {}
        memory_effects(func.call)                      -> None
    """
    own = {t for t in op.traits if isinstance(t, MemoryEffect)}
    recursive = op.has_trait(RecursiveMemoryEffects)
    if not (own or recursive or op.has_trait(Pure) or op.has_trait(ConstantLike)):
        return None
    effects = {type(t) for t in own}
    if recursive:
        for region in op.regions:
            for block in region.blocks:
                for inner in block:
                    inner_effects = memory_effects(inner)
                    if inner_effects is None:
                        return None
                    effects |= inner_effects
    return frozenset(effects)


def is_trivially_dead(op: Operation) -> bool:
    """Can `op` go because nothing reads its results? Yes when it is not a terminator, no result
    is used, and it at most reads memory or allocates what it returns (MLIR's
    wouldOpBeTriviallyDead): a pure op, an unused load or alloc, a loop that only reads. An op
    with regions goes only when it declares RecursiveMemoryEffects (its regions were looked at);
    an op with neither results nor regions is kept (it exists for what it does)."""
    if op.has_trait(Terminator) or any(r.uses for r in op.results):
        return False
    if op.regions and not op.has_trait(RecursiveMemoryEffects):
        return False
    if not op.results and not op.regions:
        return False
    effects = memory_effects(op)
    return effects is not None and effects <= {MemRead, MemAlloc}


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
    "memref": "lamina.dialects.memref",
    "scf": "lamina.dialects.scf",
    "math": "lamina.dialects.math",
    "vector": "lamina.dialects.vector",
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
