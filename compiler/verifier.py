"""The verifier: checks that IR keeps every rule of its ops and of SSA, and says which rule broke.

`verify(op)` raises a `VerifyError` for the first problem it finds; `verify_all(op)` lists one
problem per broken op, so a student sees everything at once. A message is one sentence that
starts with the op's name, as MLIR writes it:

    'func.return' op returns tensor<2xf32> but the enclosing function @f returns tensor<3xf32>

Its position is where the parser read the op (`op.source_pos`), and its notes show the op in the
generic form (regions elided as `{...}`) and the op's location when it has one.

The checks, in the order they run for each op (ops are visited parents first):
  1. Structure: the op, its regions and blocks point back to where they are held, and no op or
     block is held in two places.
  2. Operands: each operand is defined by an op in the IR or a block argument, is visible
     (defined in an enclosing block, with no isolated-from-above op in between) and dominates
     the use (see "Dominance" below).
  3. Successors: each successor block is in the same region as the op.
  4. Terminators: each block of a registered op without the NoTerminator trait ends with an op
     that has the Terminator trait (or an unregistered op, which may be one).
  5. The declaration of a registered op (`opdef.Op`): operand and result counts and types,
     inherent attributes (present, of their kind, none unknown), region count and single
     block regions; then each trait's `verify`, the op's own `verify`, and finally that
     `infer_result_types` (when the op can infer) gives the actual result types.

Dominance, simplified for teaching (MLIR computes a dominator tree; we do not):
  - in the same block, the definition must come before the use (the user, or the op that
    holds the user in one of its regions);
  - in another block of the same region, the value must be defined in the region's entry
    block, which dominates every block of its region;
  - graph regions (regions of an op with the NoTerminator trait, such as builtin.module, and of
    unregistered ops, as in MLIR) have no order: a value may be used before its definition there.
"""

from __future__ import annotations

from typing import Iterator

from .errors import VerifyError
from .ir import Block, BlockArgument, Operation, OpResult, Region, Value
from .location import UnknownLoc
from .opdef import IsolatedFromAbove, NoTerminator, Op, Terminator
from .types import FunctionType

_MAX_TEXT = 60  # attributes longer than this are cut in messages, so a dense tensor stays short


def verify(op: Operation) -> None:
    """Raise a VerifyError for the first problem found in `op` and everything nested in it."""
    for error in _Verifier(op).errors():
        raise error


def verify_all(op: Operation) -> list[VerifyError]:
    """Every problem found, at most one per op (the first), in the order the ops are visited."""
    return list(_Verifier(op).errors())


class _Verifier:
    """One verification run over `root`: keeps what it has seen and the printed names."""

    def __init__(self, root: Operation):
        self.root = root
        self.seen_ops: set[int] = set()
        self.seen_blocks: set[int] = set()
        self.positions: dict[int, dict[int, int]] = {}  # id(block) -> id(op) -> index in it
        self.namer = _Namer(root)

    # -- driving ---------------------------------------------------------------------------------

    def errors(self) -> Iterator[VerifyError]:
        """Visit ops parents first; for each broken op, yield its first problem."""
        stack = [self.root]
        while stack:
            op = stack.pop()
            if id(op) in self.seen_ops:
                yield self.error(op, "appears in two places in the IR; an op can be held by one block only")
                continue
            self.seen_ops.add(id(op))
            problem = self.first_problem(op)
            if problem is not None:
                yield self.error(op, problem)
            stack.extend(reversed(list(self.nested_ops(op))))

    def nested_ops(self, op: Operation) -> Iterator[Operation]:
        """The ops directly inside `op`'s regions, in order."""
        for region in op.regions:
            for block in region.blocks:
                yield from block.ops

    def first_problem(self, op: Operation) -> str | None:
        """The first broken rule of `op`, as a sentence without the op's name, or None."""
        for check in (self.check_structure, self.check_operands, self.check_successors,
                      self.check_terminators, check_declaration):
            problem = check(op)
            if problem is not None:
                return problem
        return None

    def error(self, op: Operation, problem: str) -> VerifyError:
        notes = [f"see op: {self.namer.describe(op)}"]
        if not isinstance(op.location, UnknownLoc):
            notes.append(f"location: {op.location}")
        return VerifyError(f"'{op.name}' op {problem}", pos=op.source_pos, notes=notes)

    # -- 1. structure ----------------------------------------------------------------------------

    def check_structure(self, op: Operation) -> str | None:
        for r_index, region in enumerate(op.regions):
            if region.parent is not op:
                return f"holds region #{r_index}, which belongs to another op"
            for block in region.blocks:
                problem = self.check_block(block, region, r_index)
                if problem is not None:
                    return problem
        for i, result in enumerate(op.results):
            if result.op is not op or result.index != i:
                return f"has result #{i}, which belongs to another op"
        return None

    def check_block(self, block: Block, region: Region, r_index: int) -> str | None:
        if id(block) in self.seen_blocks:
            return f"holds a block in region #{r_index} that appears in two places in the IR"
        self.seen_blocks.add(id(block))
        if block.parent is not region:
            return f"holds a block in region #{r_index} that belongs to another region"
        for i, arg in enumerate(block.args):
            if arg.block is not block or arg.index != i:
                return f"has a block argument in region #{r_index} that belongs to another block"
        for inner in block.ops:
            if inner.parent is not block:
                return f"holds '{inner.name}' in region #{r_index}, but that op says it is elsewhere"
        return None

    # -- 2. operands: defined, visible, dominating -----------------------------------------------

    def check_operands(self, op: Operation) -> str | None:
        for index, value in enumerate(op.operands):
            problem = self.check_operand(op, index, value)
            if problem is not None:
                return problem
        return None

    def check_operand(self, op: Operation, index: int, value: Value) -> str | None:
        """Where is `value` defined, seen from `op`? Climb from `op` through the blocks that
        enclose it until we reach the block (or the region) that defines the value."""
        problem = self.where_defined(op, value)
        if problem is None:
            return None
        return problem.replace("{value}", self.namer.name(value))

    def where_defined(self, op: Operation, value: Value) -> str | None:
        if isinstance(value, OpResult) and value.op is not op and value.op.is_ancestor_of(op):
            return f"uses {{value}}, a result of the op '{value.op.name}' that encloses it"
        def_block = _defining_block(value)
        if def_block is None:
            return "uses {value}, whose definition is not in the IR (was it erased?)"
        isolated_by = None  # the first isolated-from-above op we climbed out of
        user = op           # `op`, or its ancestor that sits in the block we are looking at
        while user is not None and user.parent is not None:
            block = user.parent
            same_region = block.parent is not None and block.parent is def_block.parent
            if (block is def_block or same_region) and isolated_by is not None:
                return (f"uses {{value}} defined outside {_op_label(isolated_by)}, "
                        "which is isolated from above")
            if block is def_block:
                return self.check_order_in_block(value, user)
            if same_region:
                return _check_cross_block(def_block)
            parent = user.parent_op
            if isolated_by is None and parent is not None and parent.has_trait(IsolatedFromAbove):
                isolated_by = parent
            user = parent
        return "uses {value}, which is defined in a region that does not enclose it"

    def check_order_in_block(self, value: Value, user: Operation) -> str | None:
        """`value` is defined in the block of `user`: the definition must come first."""
        if isinstance(value, BlockArgument) or _is_graph_region(user.parent.parent):
            return None
        positions = self.block_positions(user.parent)
        if positions[id(value.op)] < positions[id(user)]:
            return None
        return "uses {value} before it is defined"

    def block_positions(self, block: Block) -> dict[int, int]:
        """The index of each op in `block`, computed once per block (so checks stay linear)."""
        key = id(block)
        if key not in self.positions:
            self.positions[key] = {id(o): i for i, o in enumerate(block.ops)}
        return self.positions[key]

    # -- 3. successors ---------------------------------------------------------------------------

    def check_successors(self, op: Operation) -> str | None:
        region = op.parent_region
        for i, block in enumerate(op.successors):
            if region is None or block.parent is not region:
                return f"has successor #{i}, which is not a block of the region that holds the op"
        return None

    # -- 4. terminators --------------------------------------------------------------------------

    def check_terminators(self, op: Operation) -> str | None:
        """Blocks of a registered op end with a terminator, unless the op has NoTerminator."""
        if not op.is_registered or op.has_trait(NoTerminator):
            return None
        for r_index, region in enumerate(op.regions):
            where = _region_name(op, r_index)
            for block in region.blocks:
                last = block.last_op
                if last is None:
                    return f"has an empty block in {where}, but each block there must end with a terminator"
                if last.is_registered and not last.has_trait(Terminator):
                    return f"has a block in {where} that ends with '{last.name}', which is not a terminator"
        return None


# ---------------------------------------------------------------------------------------------
# 5. the declaration of a registered op


def check_declaration(op: Operation) -> str | None:
    """What the op's class declares: fields, traits, its own `verify`, result type inference."""
    if not isinstance(op, Op):
        return None
    for check in (_check_operand_fields, _check_result_fields, _check_attrs, _check_regions,
                  _check_traits, _check_own_verify, _check_inferred_types):
        problem = check(op)
        if problem is not None:
            return problem
    return None


def _check_operand_fields(op: Op) -> str | None:
    problem = _check_count("operand", op._operand_defs, len(op.operands))
    return problem or _check_types("operand", op._operand_defs, op.operands)


def _check_result_fields(op: Op) -> str | None:
    problem = _check_count("result", op._result_defs, len(op.results))
    return problem or _check_types("result", op._result_defs, op.results)


def _check_count(what: str, defs, actual: int) -> str | None:
    fixed = sum(not d.variadic for d in defs)
    variadic = any(d.variadic for d in defs)
    if actual == fixed or (variadic and actual > fixed):
        return None
    expected = f"at least {_count(fixed, what)}" if variadic else _count(fixed, what)
    return f"expects {expected}, but got {actual}"


def _check_types(what: str, defs, values) -> str | None:
    """Each value's type satisfies the constraint of the field it belongs to."""
    fixed = sum(not d.variadic for d in defs)
    width_of_variadic = len(values) - fixed
    i = 0
    for field in defs:
        group = values[i:i + width_of_variadic] if field.variadic else values[i:i + 1]
        i += len(group)
        for k, value in enumerate(group):
            if field.constraint(value.type):
                continue
            label = f"{what} '{field.name}'" + (f" #{k}" if field.variadic else "")
            return f"{label} must be {field.constraint.description}, but got {value.type}"
    return None


def _check_attrs(op: Op) -> str | None:
    declared = {a.name: a for a in op._attr_defs}
    for name in op.properties:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            return f"has no property '{name}' (its properties: {known})"
    for attr in op._attr_defs:
        value = op.properties.get(attr.name)
        if value is None:
            if attr.optional:
                continue
            return f"requires attribute '{attr.name}'"
        if not isinstance(value, attr.kind):
            return f"attribute '{attr.name}' must be {_kind_name(attr.kind)}, but got {_short(value)}"
    return None


def _check_regions(op: Op) -> str | None:
    defs = op._region_defs
    if defs and defs[-1].variadic:  # (opdef.VarRegionDef: any number of regions at the end)
        defs = defs[:-1] + (defs[-1],) * (len(op.regions) - len(defs) + 1)
    if len(op.regions) != len(defs):
        return f"expects {_count(len(defs), 'region')}, but got {len(op.regions)}"
    for region_def, region in zip(defs, op.regions):
        if region_def.single_block and len(region.blocks) > 1:
            return f"region '{region_def.name}' must have at most one block, but has {len(region.blocks)}"
    return None


def _check_traits(op: Op) -> str | None:
    for trait in op.traits:
        problem = trait.verify(op)
        if problem:
            return problem
    return None


def _check_own_verify(op: Op) -> str | None:
    return op.verify() or None


def _check_inferred_types(op: Op) -> str | None:
    inferred = type(op).infer_result_types(list(op.operand_types), dict(op.properties))
    if inferred is None or tuple(inferred) == op.result_types:
        return None
    actual = ", ".join(map(str, op.result_types)) or "no results"
    expected = ", ".join(map(str, inferred)) or "no results"
    return f"has result types {actual}, but its operands and attributes give {expected}"


# ---------------------------------------------------------------------------------------------
# Helpers


def _defining_block(value: Value) -> Block | None:
    """The block where `value` is defined, or None when its definer is not in any block."""
    if isinstance(value, BlockArgument):
        return value.block if value.block.parent is not None else None
    if isinstance(value, OpResult):
        return value.op.parent
    return None


def _check_cross_block(def_block: Block) -> str | None:
    """A use in another block of the same region (the simplified dominance rule)."""
    region = def_block.parent
    if _is_graph_region(region) or def_block is region.blocks[0]:
        return None
    return "uses {value}, which is defined in a block that does not dominate this use"


def _is_graph_region(region: Region | None) -> bool:
    """No order among its ops: regions of NoTerminator ops, and of unregistered ops, which may be
    graph regions for all we know (MLIR's `mayBeGraphRegion`)."""
    owner = region.parent if region is not None else None
    return owner is not None and (not owner.is_registered or owner.has_trait(NoTerminator))


def _op_label(op: Operation) -> str:
    """`func.func @f` for a symbol, else the op's name."""
    sym = op.properties.get("sym_name") or op.attributes.get("sym_name")
    value = getattr(sym, "value", None)
    return f"{op.name} @{value}" if isinstance(value, str) else op.name


def _region_name(op: Operation, index: int) -> str:
    defs = getattr(op, "_region_defs", ())
    if index < len(defs):
        return f"region '{defs[index].name}'"
    return f"region #{index}"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _kind_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = [k.__name__ for k in kinds]
    text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return ("an " if text[0] in "AEIOU" else "a ") + text


def _short(obj) -> str:
    text = str(obj)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT - 3] + "..."


# ---------------------------------------------------------------------------------------------
# Naming values as the printer does, so messages match the printed IR


class _Namer:
    """Names values the way `print_ir(root)` would (`%x`, `%0`, `%arg0`).

    The printer numbers values afresh inside each isolated-from-above op; we name one such scope
    at a time, only when a message needs a name from it."""

    def __init__(self, root: Operation):
        self.root = root
        self.scopes: dict[int, dict] = {}  # id(scope op) -> {value: name}

    def name(self, value: Value) -> str:
        owner = self.scope_op(value)
        if owner is None:
            return "%<<UNKNOWN VALUE>>"
        names = self.scope_names(owner)
        return "%" + names[value] if value in names else "%<<UNKNOWN VALUE>>"

    def scope_op(self, value: Value) -> Operation | None:
        """The op whose printing scope names `value`: the root or an isolated-from-above op."""
        if isinstance(value, OpResult) and value.op is self.root:
            return self.root
        block = _defining_block(value)
        op = block.parent_op if block is not None else None
        while op is not None:
            if op is self.root or op.has_trait(IsolatedFromAbove):
                return op
            op = op.parent_op
        return None

    def scope_names(self, owner: Operation) -> dict:
        from .printer import Printer, _Scope  # the printer's own naming rules, reused as is

        if id(owner) not in self.scopes:
            scope = _Scope()
            Printer()._name_values_of(owner, scope, include_results=owner is self.root)
            self.scopes[id(owner)] = scope.names
        return self.scopes[id(owner)]

    def describe(self, op: Operation) -> str:
        """The op in the generic form on one line, regions elided as `{...}`."""
        from .printer import Printer

        printer = Printer(generic=True, elide_threshold=16)
        text = ""
        if op.results:
            text += ", ".join(self.name(r) for r in op.results) + " = "
        text += f'"{op.name}"(' + ", ".join(self.name(v) for v in op.operands) + ")"
        if op.successors:
            text += "[" + ", ".join(_block_label(b) for b in op.successors) + "]"
        if op.properties:
            text += " <" + printer.attr_dict(op.properties) + ">"
        if op.regions:
            text += " (" + ", ".join("{...}" for _ in op.regions) + ")"
        if op.attributes:
            text += " " + printer.attr_dict(op.attributes)
        return text + " : " + str(FunctionType(op.operand_types, op.result_types))


def _block_label(block: Block) -> str:
    region = block.parent
    if region is None:
        return "^<<UNKNOWN BLOCK>>"
    return f"^bb{next(i for i, b in enumerate(region.blocks) if b is block)}"
