"""The builder: create ops and insert them at a moving point in a block.

An insertion point is a block and the op to insert before (None: the end of the block). Each op
inserted goes just before that op, so ops created one after another come out in order:

    b = Builder.at_end(fn.entry)
    s = b.create(AddFOp, x, y)                  # AddFOp.build(x, y), appended to the block
    b.create(ReturnOp, s.result, result_types=[])
    with b.at(InsertionPoint.before(s)):        # move for a moment; restored on leaving
        c = b.create(ConstantOp, value=FloatAttr(1.0, f32))
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from .ir import Block, Operation
from .location import Location


@dataclass(frozen=True)
class InsertionPoint:
    """Insert into `block` before `anchor` (at the end of the block when `anchor` is None)."""

    block: Block
    anchor: Operation | None = None

    @staticmethod
    def at_end(block: Block) -> "InsertionPoint":
        return InsertionPoint(block, None)

    @staticmethod
    def at_start(block: Block) -> "InsertionPoint":
        return InsertionPoint(block, block.first_op)

    @staticmethod
    def before(op: Operation) -> "InsertionPoint":
        return InsertionPoint(_block_of(op), op)

    @staticmethod
    def after(op: Operation) -> "InsertionPoint":
        # "before the next op" rather than "after op", so a second insert lands after the first
        return InsertionPoint(_block_of(op), op.next_op)


def _block_of(op: Operation) -> Block:
    if op.parent is None:
        raise ValueError(f"{op.name} is not in a block, so there is no place next to it to insert")
    return op.parent


class Builder:
    """Inserts ops at its insertion point; `location` is given to ops created without one."""

    def __init__(self, point: InsertionPoint | None = None, location: Location | None = None):
        self.point = point
        self.location = location

    # -- constructors, one per kind of insertion point -----------------------------------------

    @classmethod
    def at_end(cls, block: Block) -> "Builder":
        return cls(InsertionPoint.at_end(block))

    @classmethod
    def at_start(cls, block: Block) -> "Builder":
        return cls(InsertionPoint.at_start(block))

    @classmethod
    def before(cls, op: Operation) -> "Builder":
        return cls(InsertionPoint.before(op))

    @classmethod
    def after(cls, op: Operation) -> "Builder":
        return cls(InsertionPoint.after(op))

    # -- inserting -----------------------------------------------------------------------------

    def insert(self, op: Operation) -> Operation:
        """Insert `op` (not yet in a block) at the insertion point and return it."""
        if self.point is None:
            raise ValueError("the builder has no insertion point; use Builder.at_end(block) or similar")
        return self.point.block.insert_before(op, self.point.anchor)

    def create(self, op_class, *operands, **props) -> Operation:
        """`op_class.build(*operands, **props)`, inserted; keywords are inherent attributes and
        `result_types=`, `regions=`, `location=` as `Op.build` takes them."""
        if props.get("location") is None and self.location is not None:
            props["location"] = self.location
        return self.insert(op_class.build(*operands, **props))

    # -- moving ----------------------------------------------------------------------------------

    def set_insertion_point(self, point: InsertionPoint) -> None:
        self.point = point

    @contextmanager
    def at(self, point: InsertionPoint) -> Iterator["Builder"]:
        """Insert at `point` inside the `with` block; the old insertion point comes back after."""
        saved = self.point
        self.point = point
        try:
            yield self
        finally:
            self.point = saved
