"""loop-fusion: merge adjacent loop nests with the same bounds whose dependence is point-wise,
then forward the values of temporaries that only live inside the fused nest.

    %tmp = memref.alloc() : memref<4x8xf32>
    scf.for %i = %c0 to %c4 step %c1 {              scf.for %i = %c0 to %c4 step %c1 {
      scf.for %j = %c0 to %c8 step %c1 {              scf.for %j = %c0 to %c8 step %c1 {
        %x = memref.load %a[%i, %j]                     %x = memref.load %a[%i, %j]
        %e = math.exp %x                    -->         %e = math.exp %x
        memref.store %e, %tmp[%i, %j]                   %s = arith.addf %e, %e
    } }                                                 memref.store %s, %out[%i, %j]
    scf.for %i2 = %c0 to %c4 step %c1 {             } }
      scf.for %j2 = %c0 to %c8 step %c1 {
        %t = memref.load %tmp[%i2, %j2]
        %s = arith.addf %t, %t
        memref.store %s, %out[%i2, %j2]
    } }

The algorithm, repeated until nothing changes:
  1. In each block, take an scf.for (the producer nest) and the next scf.for after it (the
     consumer nest); between them only pure ops and memref.alloc may stand, which move before
     the producer.
  2. Take each nest's band (perfectly nested loops without iter_args, see loop-tile) and count the
     leading levels whose lower bound, upper bound and step are the same values (or equal
     constants): the fusion depth k. k = 0: refused.
  3. Check the dependences (below). Refused if they are not point-wise.
  4. Move the consumer's level-k body after the producer's level-k body, reading the producer's
     induction variables, and erase the consumer nest.
  5. Forward temporaries: a buffer made by memref.alloc whose every use is in the fused level-k
     body itself (not in a nested region), or a memref.dealloc, with exactly one store and only
     loads after it at the same index values, holds in each iteration just the value stored:
     the loads read that value instead, and the store, the deallocs and the alloc go.

Dependences: after fusion, the consumer's iteration q runs before the producer's iteration p
whenever q < p, where originally all of the producer ran first. That is safe when the two never
touch one element in such iterations, one of them writing. The pass requires, for every memref
that both nests access and that either of them writes, that each of the k fused induction
variables be one and the same index position in every access of both nests to it (as in
`%tmp[%i, %j]` in both). Then a common element means the same iteration. It refuses shifted or
computed indices there (`%tmp[%i + 1, %j]`, `%out[%j, %i]` in one nest and `%out[%i, %j]` in the
other), and nests with calls, copies, deallocs or accesses through views or globals. Function
arguments and allocs are taken not to overlap each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from lamina.compiler.ir import Block, Operation
from lamina.compiler.opdef import Pure

from ..pass_base import Pass, register_pass
from .common import (access_indices, access_memref, accesses, body_of, induction_var, is_for, perfect_band,
                     same_value)


@register_pass
@dataclass(frozen=True)
class LoopFusionPass(Pass):
    """Fuse adjacent scf.for nests with equal bounds and a point-wise dependence; forward temporaries."""

    name = "loop-fusion"
    summary = "fuse adjacent scf.for nests with equal bounds and point-wise dependences, forwarding temporaries"

    def run(self, module: Operation) -> None:
        while self._fuse_one(module):
            pass

    def _fuse_one(self, module: Operation) -> bool:
        for op in list(module.walk()):
            if op.parent is None or not is_for(op):
                continue
            consumer, between = next_nest(op)
            if consumer is None:
                continue
            if self._fuse(op, consumer, between):
                return True
        return False

    def _fuse(self, producer: Operation, consumer: Operation, between: list[Operation]) -> bool:
        band1, band2 = perfect_band(producer), perfect_band(consumer)
        k = 0
        while k < min(len(band1), len(band2)) and all(
                same_value(a, b) for a, b in zip(band1[k].operands[:3], band2[k].operands[:3])):
            k += 1
        if k == 0:
            return False
        if not fusion_is_legal(band1[:k], band2[:k]):
            self.statistics["nests refused (dependences or memory effects)"] += 1
            return False
        for op in between:  # pure ops and allocs between the nests move before the producer
            op.detach()
            producer.parent.insert_before(op, producer)
        body1, body2 = body_of(band1[k - 1]), body_of(band2[k - 1])
        for l1, l2 in zip(band1[:k], band2[:k]):
            induction_var(l2).replace_all_uses_with(induction_var(l1))
        terminator = body1.last_op
        for op in body2.ops[:-1]:
            op.detach()
            body1.insert_before(op, terminator)
        consumer.erase()
        self.statistics["nests fused"] += 1
        self.statistics["temporaries forwarded"] += forward_temporaries(body1)
        return True


def next_nest(loop: Operation) -> tuple[Operation | None, list[Operation]]:
    """The next scf.for after `loop` in its block, and the ops between (None if one of them is
    not a pure op without regions or a memref.alloc without operands)."""
    between = []
    op = loop.next_op
    while op is not None and not is_for(op):
        movable = (op.has_trait(Pure) and not op.regions) or (op.name == "memref.alloc" and not op.operands)
        if not movable:
            return None, []
        between.append(op)
        op = op.next_op
    return op, between


def fusion_is_legal(band1: list[Operation], band2: list[Operation]) -> bool:
    """Do the two nests touch common memory only at the same iteration of the k fused loops?"""
    acc1, acc2 = accesses(band1[-1]), accesses(band2[-1])
    if acc1 is None or acc2 is None:
        return False
    ivs1 = [induction_var(l) for l in band1]
    ivs2 = [induction_var(l) for l in band2]
    common = {id(access_memref(op)) for op in acc1} & {id(access_memref(op)) for op in acc2}
    for memref_id in common:
        ops1 = [op for op in acc1 if id(access_memref(op)) == memref_id]
        ops2 = [op for op in acc2 if id(access_memref(op)) == memref_id]
        if not any(op.name == "memref.store" for op in ops1 + ops2):
            continue  # both only read it
        for iv1, iv2 in zip(ivs1, ivs2):
            positions = None
            for ops, iv in ((ops1, iv1), (ops2, iv2)):
                for op in ops:
                    here = {p for p, v in enumerate(access_indices(op)) if v is iv}
                    positions = here if positions is None else positions & here
            if not positions:
                return False
    return True


def forward_temporaries(body: Block) -> int:
    """Replace loads of allocs that live only in `body` by the value stored in the same iteration
    (see the module docstring, step 5); returns how many buffers went."""
    count = 0
    for op in body.ops:
        if op.name != "memref.store" or op.parent is not body:
            continue
        buffer = op.operands[1]
        alloc = getattr(buffer, "owner", None)
        if alloc is None or not isinstance(alloc, Operation) or alloc.name != "memref.alloc":
            continue
        users = [u.operation for u in buffer.uses]
        inside = [u for u in users if u.name != "memref.dealloc"]
        if any(u.parent is not body for u in inside) or any(u.index != 1 for u in buffer.uses
                                                           if u.operation.name == "memref.store"):
            continue  # used elsewhere, or stored as a value
        stores = [u for u in inside if u.name == "memref.store"]
        loads = [u for u in inside if u.name == "memref.load"]
        if stores != [op] or len(loads) + 1 != len(inside):
            continue
        order = body.ops
        at = order.index(op)
        index = access_indices(op)
        if any(order.index(l) < at or access_indices(l) != index for l in loads):
            continue
        value = op.operands[0]
        for load in loads:
            load.results[0].replace_all_uses_with(value)
            load.erase()
        op.erase()
        for user in users:
            if user.name == "memref.dealloc":
                user.erase()
        alloc.erase()
        count += 1
    return count
