"""loop-unroll: unroll innermost scf.for loops by a factor, with a remainder loop.

    scf.for %j = %c0 to %c10 step %c1 {            scf.for %j = %c0 to %c8 step %c4 {
      BODY(%j)                             -->        BODY(%j)
    }                                                 %j1 = arith.addi %j, %c1 : index
                                                      BODY(%j1)   ... BODY(%j + 3)
                                                    }
                                                    scf.for %j = %c8 to %c10 step %c1 {   (remainder)
                                                      BODY(%j)
                                                    }

`loop-unroll{factor=4}` unrolls each innermost scf.for (one with no scf.for inside it) by
`factor`: the main loop steps by factor * step and holds `factor` copies of the body, copy k
reading %iv + k * step and the loop-carried values (iter_args) that copy k - 1 yields; the
original loop, now starting where the main loop stopped, runs the remaining iterations. With
constant bounds the split point is a constant and a remainder loop is made only when the trip
count does not divide; with other bounds it is computed (lb + (ub - lb) / (factor * step) *
(factor * step)), and the remainder loop is always there.

`full=true` also unrolls completely every innermost loop whose trip count is a constant of at
most `full-limit`: the body is copied that many times in place of the loop, with constant
induction variables (a trip count of 0 leaves the iter_args' initial values).

Refused (left alone): loops whose constant trip count is smaller than the factor (and, without
`full`, not unrolled at all), a factor below 2.
"""

from __future__ import annotations

from dataclasses import dataclass

from lamina.compiler.ir import Block, Operation, Region

from ..pass_base import Pass, register_pass
from .common import binary, body_of, constant_int, index_constant, is_for, trip_count


@register_pass
@dataclass(frozen=True)
class LoopUnrollPass(Pass):
    """Unroll innermost scf.for loops by a factor (remainder loop), or fully when small."""

    name = "loop-unroll"
    summary = "unroll innermost scf.for loops by a factor, with a remainder loop; full=true unrolls small loops"

    factor: int = 4
    full: bool = False
    full_limit: int = 16

    def run(self, module: Operation) -> None:
        innermost = [op for op in module.walk() if is_for(op)
                     and not any(is_for(inner) for inner in op.walk() if inner is not op)]
        for loop in innermost:
            trips = trip_count(loop)
            if self.full and trips is not None and trips <= self.full_limit:
                unroll_fully(loop)
                self.statistics["loops unrolled fully"] += 1
            elif self.factor >= 2 and (trips is None or trips >= self.factor):
                unroll_by(loop, self.factor)
                self.statistics["loops unrolled"] += 1


def clone_body(loop: Operation, iv_value, iter_values, before: Operation) -> list:
    """Copy the loop body's ops before `before` (in its block), with the induction variable and
    the iter_args replaced by these values; returns the values the copied scf.yield would yield."""
    block = body_of(loop)
    mapping = {block.args[0]: iv_value, **dict(zip(block.args[1:], iter_values))}
    for op in block.ops[:-1]:
        before.parent.insert_before(op.clone(mapping), before)
    return [mapping.get(v, v) for v in block.last_op.operands]


def unroll_fully(loop: Operation) -> None:
    lb, step = constant_int(loop.operands[0]), constant_int(loop.operands[2])
    values = list(loop.operands[3:])
    ivs = [index_constant(lb + k * step, loop.operands[0].type, loop) for k in range(trip_count(loop))]
    for iv in ivs:
        values = clone_body(loop, iv, values, loop)
    for result, value in zip(loop.results, values):
        result.replace_all_uses_with(value)
    loop.erase()


def unroll_by(loop: Operation, factor: int) -> None:
    from lamina.dialects.arith import AddIOp, DivSIOp, MulIOp, SubIOp
    from lamina.dialects.scf import ForOp, YieldOp

    lb, ub, step = loop.operands[:3]
    t = lb.type
    trips, step_c = trip_count(loop), constant_int(step)
    if step_c is not None:
        chunk = index_constant(step_c * factor, t, loop)
    else:
        chunk = binary(MulIOp, step, index_constant(factor, t, loop), loop)
    if trips is not None and trips % factor == 0:
        split = ub
    elif trips is not None:
        split = index_constant(constant_int(lb) + trips // factor * factor * step_c, t, loop)
    else:  # lb + (ub - lb) / chunk * chunk
        span = binary(SubIOp, ub, lb, loop)
        whole = binary(MulIOp, binary(DivSIOp, span, chunk, loop), chunk, loop)
        split = binary(AddIOp, lb, whole, loop)
    inits = list(loop.operands[3:])
    block = Block([t, *(v.type for v in inits)])
    old = body_of(loop)
    for new_arg, old_arg in zip(block.args, old.args):
        new_arg.name_hint = old_arg.name_hint
    main = ForOp(operands=[lb, split, chunk, *inits], result_types=[v.type for v in inits],
                 regions=[Region([block])])
    loop.parent.insert_before(main, loop)
    yield_op = YieldOp()
    block.append(yield_op)
    values = list(block.args[1:])
    for k in range(factor):
        iv = block.args[0]
        if k:
            offset = (index_constant(k * step_c, t, main) if step_c is not None
                      else binary(MulIOp, step, index_constant(k, t, main), main))
            iv = binary(AddIOp, block.args[0], offset, yield_op, hint=(old.args[0].name_hint or "iv") + str(k))
        values = clone_body(loop, iv, values, yield_op)
    yield_op.set_operands(values)
    if trips is not None and trips % factor == 0:
        for result, value in zip(loop.results, main.results):
            result.replace_all_uses_with(value)
        loop.erase()
        return
    loop.set_operand(0, split)  # the original loop runs what is left
    for k, value in enumerate(main.results):
        loop.set_operand(3 + k, value)
