"""loop-tile: tile the outermost perfectly nested scf.for loops of each nest.

    scf.for %i = %c0 to %c64 step %c1 {              scf.for %i_tile = %c0 to %c64 step %c32 {
      scf.for %j = %c0 to %c50 step %c1 {    -->       scf.for %j_tile = %c0 to %c50 step %c32 {
        BODY(%i, %j)                                     %0 = arith.addi %j_tile, %c32 : index
      }                                                  %j_end = arith.minsi %0, %c50 : index
    }                                                    scf.for %i = %i_tile to %i_end ... {
                                                           scf.for %j = %j_tile to %j_end ... {
                                                             BODY(%i, %j)

`loop-tile{sizes=32,32}` tiles the first len(sizes) loops of the band with those sizes (in
iterations; a loop with step s advances s * size per tile). As MLIR's affine-loop-tile, the tile
loops come outermost and the point loops (the original loops, with new bounds) innermost. A point
loop ends at min(tile start + size * step, upper bound) (`arith.minsi`), so sizes that do not
divide the trip count stay correct; when the bounds are constants and the size divides the trip
count, the end is just `tile start + size * step`.

The algorithm, for each scf.for that no other scf.for encloses:
  1. Take its band: the loop and the loops perfectly nested in it (each body holds only the next
     loop), without iter_args, whose bounds are defined outside the band (a rectangular nest).
  2. Pick the loops to tile: the first len(sizes) of the band whose size is > 0 and smaller than
     their trip count when it is known (a single tile would change nothing).
  3. Check that tiling keeps the meaning (below); if not, leave the nest alone.
  4. Build the tile loops before the nest, move the nest into the innermost one, and give each
     tiled loop its tile's bounds.

Legality (conservative): tiling and interchange reorder the band's iterations. The pass tiles only
when every memref that the band writes is accessed in the band through one and the same list of
index values, and at most one band induction variable is missing from that list: two iterations
then touch the same element only when they differ in that one loop alone, and tiling keeps the
order of such iterations. It refuses bands with calls, copies or other memory effects than loads
and stores, and accesses to views or globals (only function arguments and memref.alloc buffers,
which it takes not to overlap).
"""

from __future__ import annotations

from dataclasses import dataclass

from lamina.compiler.ir import Block, Operation, Region

from ..pass_base import Pass, register_pass
from .common import (access_indices, access_memref, accesses, binary, body_of, constant_int, index_constant,
                     induction_var, is_for, perfect_band, trip_count)


@register_pass
@dataclass(frozen=True)
class LoopTilePass(Pass):
    """Tile the outermost perfect nests of scf.for loops; tile loops outside, point loops inside."""

    name = "loop-tile"
    summary = "tile perfectly nested scf.for loops (tile loops outermost, min() for partial tiles)"

    sizes: tuple[int, ...] = (32, 32)

    def run(self, module: Operation) -> None:
        outermost = [op for op in module.walk() if is_for(op)
                     and not any(is_for(a) for a in op.ancestors())]
        for loop in outermost:
            self._tile(loop)

    def _tile(self, loop: Operation) -> None:
        band = perfect_band(loop)[:len(self.sizes)]
        tiled = [(k, l, size) for k, (l, size) in enumerate(zip(band, self.sizes))
                 if size > 0 and (trip_count(l) is None or trip_count(l) > size)]
        if not tiled:
            return
        if not tiling_is_legal(band):
            self.statistics["nests refused (dependences)"] += 1
            return
        from lamina.dialects.arith import AddIOp, MinSIOp, MulIOp
        from lamina.dialects.scf import ForOp, YieldOp

        outer = band[0]
        tile_loops = []
        for _, point, size in tiled:  # the tile loops, stepping by size * step
            lb, ub, step = point.operands[:3]
            step_c = constant_int(step)
            if step_c is not None:
                tile_step = index_constant(step_c * size, step.type, outer)
            else:
                tile_step = binary(MulIOp, step, index_constant(size, step.type, outer), outer)
            block = Block([lb.type])
            block.args[0].name_hint = (induction_var(point).name_hint or "iv") + "_tile"
            tile = ForOp(operands=[lb, ub, tile_step], result_types=[], regions=[Region([block])])
            tile_loops.append((tile, point, size))
        outer.parent.insert_before(tile_loops[0][0], outer)  # they replace the band in place
        outer.detach()
        inner = [t for t, _, _ in tile_loops[1:]] + [outer]
        for (tile, _, _), child in zip(tile_loops, inner):
            body_of(tile).append(child)
            body_of(tile).append(YieldOp())
        for tile, point, size in tile_loops:  # each point loop runs over its tile
            t, tile_step = induction_var(tile), tile.operands[2]
            first = body_of(tile).first_op
            hint = (induction_var(point).name_hint or "iv") + "_end"
            trips = trip_count(point)
            end = binary(AddIOp, t, tile_step, first, hint=None if trips is None or trips % size else hint)
            if trips is None or trips % size:
                end = binary(MinSIOp, end, point.operands[1], first, hint=hint)
            point.set_operand(0, t)
            point.set_operand(1, end)
        self.statistics["loops tiled"] += len(tile_loops)


def tiling_is_legal(band: list[Operation]) -> bool:
    """May the band's iterations run in any tiled and interchanged order? (See the module
    docstring: one index list per written memref, at most one band loop missing from it.)"""
    found = accesses(band[-1])
    if found is None:
        return False
    ivs = [induction_var(l) for l in band]
    written = {id(access_memref(op)) for op in found if op.name == "memref.store"}
    by_memref: dict[int, list[Operation]] = {}
    for op in found:
        if id(access_memref(op)) in written:
            by_memref.setdefault(id(access_memref(op)), []).append(op)
    for ops in by_memref.values():
        first = access_indices(ops[0])
        if any(access_indices(op) != first for op in ops[1:]):
            return False
        if sum(not any(v is iv for v in first) for iv in ivs) > 1:
            return False
    return True
