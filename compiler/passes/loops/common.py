"""What the loop passes share: reading loop bounds, making index constants, finding loops and
the memory accesses inside them.

    constant_int(v)          -> 4 for `%c4 = arith.constant 4 : index`, None if not constant
    trip_count(loop)         -> the number of iterations when the bounds are constants
    index_constant(7, t, at) -> a new `arith.constant 7 : index` inserted before op `at`
    accesses(op)             -> every memref.load / memref.store nested in op, or None when
                                an op there touches memory in another way (a call, a copy)
"""

from __future__ import annotations

from lamina.compiler.attributes import IntegerAttr
from lamina.compiler.ir import BlockArgument, Operation, Value
from lamina.compiler.opdef import IsolatedFromAbove, MemAlloc, MemRead, memory_effects
from lamina.compiler.rewrite import constant_value


def constant_int(value: Value) -> int | None:
    """The integer a value holds when an arith.constant defines it."""
    attr = constant_value(value)
    return attr.value if isinstance(attr, IntegerAttr) else None


def trip_count(loop: Operation) -> int | None:
    """How many times an scf.for runs, when its bounds and step are constants (0 when lb >= ub)."""
    lb, ub, step = (constant_int(v) for v in loop.operands[:3])
    if lb is None or ub is None or step is None or step <= 0:
        return None
    return max(0, -(-(ub - lb) // step))


def same_value(a: Value, b: Value) -> bool:
    """The same SSA value, or two constants of one type and value."""
    if a is b:
        return True
    ca, cb = constant_int(a), constant_int(b)
    return ca is not None and ca == cb and a.type == b.type


def index_constant(n: int, type, before: Operation) -> Value:
    """An `arith.constant n : type` that dominates `before`: one already there (in its block or an
    enclosing one, before it), or a new one at the top level of the function, before the nest."""
    from lamina.dialects.arith import ConstantOp

    anchor = before
    while True:
        op = anchor.prev_op
        while op is not None:
            if op.name == "arith.constant" and op.results[0].type == type and constant_int(op.results[0]) == n:
                return op.results[0]
            op = op.prev_op
        parent = anchor.parent_op
        if parent is None or parent.has_trait(IsolatedFromAbove) or parent.parent is None:
            break
        anchor = parent
    op = ConstantOp.from_attr(IntegerAttr(n, type))
    op.results[0].name_hint = f"c{n}" if n >= 0 else f"c_{-n}"
    anchor.parent.insert_before(op, anchor)
    return op.results[0]


def binary(op_class, lhs: Value, rhs: Value, before: Operation, hint: str | None = None) -> Value:
    """A new binary arith op (addi, muli, minsi, ...) inserted before `before`; its result."""
    op = op_class(operands=[lhs, rhs], result_types=[lhs.type])
    op.results[0].name_hint = hint
    before.parent.insert_before(op, before)
    return op.results[0]


def is_for(op: Operation | None) -> bool:
    return op is not None and op.name == "scf.for"


def defined_outside(value: Value, op: Operation) -> bool:
    """Is `value` defined outside `op` (so it is the same in every iteration of a loop `op`)?"""
    owner = value.block.parent_op if isinstance(value, BlockArgument) else value.owner
    return owner is not op and not (owner is not None and op.is_ancestor_of(owner))


def perfect_band(loop: Operation) -> list[Operation]:
    """`loop` and the scf.for loops perfectly nested in it: each body holds only the next loop
    and the scf.yield; a loop with iter_args ends the band (it is not added)."""
    band = []
    while is_for(loop) and not loop.results:
        band.append(loop)
        body = loop.regions[0].blocks[0].ops
        if len(body) != 2 or not is_for(body[0]):
            break
        inner = body[0]
        if not all(defined_outside(v, band[0]) for v in inner.operands[:3]):
            break  # the inner bounds depend on the band (not a rectangular nest)
        loop = inner
    return band


def body_of(loop: Operation):
    return loop.regions[0].blocks[0]


def induction_var(loop: Operation) -> Value:
    return loop.regions[0].blocks[0].args[0]


def base_memref(value: Value) -> bool:
    """A memref that is a whole buffer of its own: a function argument or a memref.alloc(a).
    Two different such values are taken not to overlap (the interpreter and the JIT are called
    with distinct arrays); views and globals are not base memrefs, so passes refuse them."""
    if isinstance(value, BlockArgument):
        return value.block.parent_op is not None and value.block.parent_op.name == "func.func"
    return value.owner.name in ("memref.alloc", "memref.alloca")


def accesses(root: Operation) -> list[Operation] | None:
    """The memref.load and memref.store ops nested in `root` (itself excluded), or None if some op
    in there has other memory effects (copy, dealloc, call, unknown) or reads a view."""
    found = []
    for op in root.walk():
        if op is root:
            continue
        if op.name in ("memref.load", "memref.store"):
            buffer = op.operands[0] if op.name == "memref.load" else op.operands[1]
            if not base_memref(buffer):
                return None
            found.append(op)
            continue
        if op.regions and op.name in ("scf.for", "scf.if"):
            continue
        effects = memory_effects(op)
        if effects is None or (effects - {MemAlloc}):
            return None
    return found


def access_memref(op: Operation) -> Value:
    return op.operands[0] if op.name == "memref.load" else op.operands[1]


def access_indices(op: Operation) -> list[Value]:
    return list(op.operands[1:] if op.name == "memref.load" else op.operands[2:])


def may_write_memory(op: Operation) -> bool:
    """Does `op` or any op nested in it write or free memory, or may it (unknown effects)?"""
    effects = memory_effects(op)
    if effects is None:
        return True
    return bool(effects - {MemRead, MemAlloc})
