"""The IR's data structure: values with use lists, operations, blocks and regions.

The structure is MLIR's. An `Operation` has operands (values it reads), results (values it
defines), attributes, properties, successor blocks and regions; a `Region` is a list of `Block`s;
a `Block` holds a list of operations and has arguments. Every value knows its uses, so
`replace_all_uses_with` and "is this result still used?" are cheap. Operations in a block form a
doubly linked list, so inserting or erasing while walking costs O(1).

Registered ops are subclasses of `Operation` declared in `dialects/` (see `opdef.py`); an op of an
unknown dialect, parsed under `allow_unregistered`, is a plain `Operation` with its name.
"""

from __future__ import annotations

from typing import Callable, Iterator

from .attributes import Attribute
from .errors import SourcePos
from .location import UNKNOWN, Location
from .types import Type


class Use:
    """One place a value is read: operand number `index` of `operation`."""

    __slots__ = ("operation", "index")

    def __init__(self, operation: "Operation", index: int):
        self.operation = operation
        self.index = index

    def __repr__(self) -> str:
        return f"Use({self.operation.name}, {self.index})"


class Value:
    """An SSA value: defined once (an op result or a block argument), read by its uses."""

    __slots__ = ("type", "uses", "name_hint")

    def __init__(self, type: Type, name_hint: str | None = None):
        self.type = type
        self.uses: list[Use] = []
        self.name_hint = name_hint

    @property
    def owner(self):
        raise NotImplementedError

    def has_uses(self) -> bool:
        return bool(self.uses)

    @property
    def users(self) -> list["Operation"]:
        seen, out = set(), []
        for use in self.uses:
            if id(use.operation) not in seen:
                seen.add(id(use.operation))
                out.append(use.operation)
        return out

    def replace_all_uses_with(self, new: "Value") -> None:
        """Make every reader of this value read `new` instead."""
        if new is self:
            return
        for use in list(self.uses):
            use.operation.set_operand(use.index, new)

    def replace_uses_where(self, new: "Value", predicate: Callable[[Use], bool]) -> None:
        for use in list(self.uses):
            if predicate(use):
                use.operation.set_operand(use.index, new)


class OpResult(Value):
    __slots__ = ("op", "index")

    def __init__(self, type: Type, op: "Operation", index: int):
        super().__init__(type)
        self.op = op
        self.index = index

    @property
    def owner(self) -> "Operation":
        return self.op

    def __repr__(self) -> str:
        return f"<result {self.index} of {self.op.name}: {self.type}>"


class BlockArgument(Value):
    __slots__ = ("block", "index", "location")

    def __init__(self, type: Type, block: "Block", index: int, name_hint: str | None = None,
                 location: Location | None = None):
        super().__init__(type, name_hint)
        self.block = block
        self.index = index
        self.location = location  # where the argument came from (a model input's name), or None

    @property
    def owner(self) -> "Block":
        return self.block

    def __repr__(self) -> str:
        return f"<block argument {self.index}: {self.type}>"


class Operation:
    """An operation. `name` is `dialect.op`; registered op classes set it as a class attribute.

    Construct registered ops through their class (`AddFOp.build(...)` or `OpClass(operands=...)`),
    or any op by name with `Operation.create(name, ...)`, which picks the registered class.
    """

    name: str = "<unregistered>"

    # set by opdef for registered ops
    traits: tuple = ()

    def __init__(self, *, operands=(), result_types=(), attributes=None, properties=None,
                 successors=(), regions=(), location: Location | None = None, name: str | None = None):
        if name is not None:
            self.name = name
        self._operands: list[Value] = []
        self.results: list[OpResult] = [OpResult(t, self, i) for i, t in enumerate(result_types)]
        self.attributes: dict[str, Attribute] = dict(attributes or {})
        self.properties: dict[str, Attribute] = dict(properties or {})
        self.successors: list[Block] = list(successors)
        self.regions: list[Region] = []
        self.location: Location = location or UNKNOWN
        self.source_pos: SourcePos | None = None  # where the parser read it, for diagnostics
        self.parent: Block | None = None
        self._prev: Operation | None = None
        self._next: Operation | None = None
        self.set_operands(list(operands))
        for region in regions:
            self.add_region(region)

    @staticmethod
    def create(name: str, **kwargs) -> "Operation":
        """Build an op by name: the registered class when there is one, else a generic op."""
        from .opdef import lookup_op

        cls = lookup_op(name)
        if cls is None:
            return Operation(name=name, **kwargs)
        return cls(**kwargs)

    # -- registration ------------------------------------------------------------------------

    @property
    def is_registered(self) -> bool:
        return type(self) is not Operation

    @classmethod
    def has_trait(cls, trait) -> bool:
        return any(t is trait or isinstance(t, trait if isinstance(trait, type) else type(trait))
                   for t in cls.traits)

    # -- operands ----------------------------------------------------------------------------

    @property
    def operands(self) -> tuple[Value, ...]:
        return tuple(self._operands)

    def set_operand(self, index: int, value: Value) -> None:
        old = self._operands[index]
        old.uses = [u for u in old.uses if not (u.operation is self and u.index == index)]
        self._operands[index] = value
        value.uses.append(Use(self, index))

    def set_operands(self, values: list[Value]) -> None:
        self.drop_operand_uses()
        self._operands = list(values)
        for i, v in enumerate(self._operands):
            v.uses.append(Use(self, i))

    def drop_operand_uses(self) -> None:
        for v in self._operands:
            v.uses = [u for u in v.uses if u.operation is not self]

    # -- results -----------------------------------------------------------------------------

    @property
    def result(self) -> OpResult:
        """The only result; an error for ops with none or several."""
        if len(self.results) != 1:
            raise ValueError(f"{self.name} has {len(self.results)} results, not one")
        return self.results[0]

    @property
    def result_types(self) -> tuple[Type, ...]:
        return tuple(r.type for r in self.results)

    @property
    def operand_types(self) -> tuple[Type, ...]:
        return tuple(v.type for v in self._operands)

    # -- regions -----------------------------------------------------------------------------

    def add_region(self, region: "Region") -> "Region":
        if region.parent is not None:
            raise ValueError("the region already belongs to an op; detach or clone it first")
        region.parent = self
        self.regions.append(region)
        return region

    # -- position ----------------------------------------------------------------------------

    @property
    def parent_region(self) -> "Region | None":
        # `is not None`, not `if self.parent`: the truth of a block is len(block), which is O(n)
        return self.parent.parent if self.parent is not None else None

    @property
    def parent_op(self) -> "Operation | None":
        region = self.parent_region
        return region.parent if region else None

    @property
    def next_op(self) -> "Operation | None":
        return self._next

    @property
    def prev_op(self) -> "Operation | None":
        return self._prev

    def ancestors(self) -> Iterator["Operation"]:
        op = self.parent_op
        while op is not None:
            yield op
            op = op.parent_op

    def is_ancestor_of(self, other: "Operation") -> bool:
        return any(a is self for a in other.ancestors())

    # -- traversal ---------------------------------------------------------------------------

    def walk(self, order: str = "pre") -> Iterator["Operation"]:
        """Every op nested in this one, itself included, in pre-order (parents first) or
        post-order (children first). Safe against erasing the op just yielded."""
        if order not in ("pre", "post"):
            raise ValueError("order is 'pre' or 'post'")
        if order == "pre":
            yield self
        for region in self.regions:
            for block in list(region.blocks):
                op = block.first_op
                while op is not None:
                    nxt = op._next
                    yield from op.walk(order)
                    op = nxt
        if order == "post":
            yield self

    # -- editing -----------------------------------------------------------------------------

    def detach(self) -> "Operation":
        """Unlink from its block, keeping operands and uses (to insert it elsewhere)."""
        if self.parent is not None:
            self.parent._unlink(self)
        return self

    def erase(self, *, drop_uses_of_results: bool = False) -> None:
        """Remove this op and everything nested in it.

        Refuses while a result is still used outside the op, naming the users; pass
        `drop_uses_of_results=True` only when the users are about to be erased too.
        """
        inner = set(map(id, self.walk()))
        for r in self.results:
            outside = [u.operation for u in r.uses if id(u.operation) not in inner]
            if outside and not drop_uses_of_results:
                users = ", ".join(sorted({u.name for u in outside}))
                raise ValueError(f"cannot erase {self.name}: result {r.index} is still used by {users}")
        self.detach()
        for op in self.walk(order="post"):
            op.drop_operand_uses()
            op._operands = []

    def clone(self, mapping: dict | None = None) -> "Operation":
        """A deep copy. `mapping` maps old values (and blocks) to new ones; operands not in it
        stay the same values. Results and nested values of the clone are added to it."""
        mapping = {} if mapping is None else mapping
        new = type(self).__new__(type(self))
        Operation.__init__(
            new,
            operands=[mapping.get(v, v) for v in self._operands],
            result_types=self.result_types,
            attributes=self.attributes,
            properties=self.properties,
            successors=[mapping.get(b, b) for b in self.successors],
            location=self.location,
            name=self.name if not self.is_registered else None,
        )
        for old_r, new_r in zip(self.results, new.results):
            new_r.name_hint = old_r.name_hint
            mapping[old_r] = new_r
        for region in self.regions:
            new.add_region(region.clone(mapping))
        new.source_pos = self.source_pos
        return new

    # -- printing ----------------------------------------------------------------------------

    def __str__(self) -> str:
        from .printer import Printer

        return Printer().print_op_to_string(self)

    def __repr__(self) -> str:
        return f"<{self.name} op>"


class Block:
    """A list of operations with arguments; the last op of a block in a CFG region is its
    terminator. `label` is the name the text gave (`^bb0`), kept for printing."""

    def __init__(self, arg_types=(), label: str | None = None):
        self.args: list[BlockArgument] = [BlockArgument(t, self, i) for i, t in enumerate(arg_types)]
        self.first_op: Operation | None = None
        self.last_op: Operation | None = None
        self.parent: Region | None = None
        self.label = label

    # -- arguments ---------------------------------------------------------------------------

    def add_arg(self, type: Type, name_hint: str | None = None,
                location: Location | None = None) -> BlockArgument:
        arg = BlockArgument(type, self, len(self.args), name_hint, location)
        self.args.append(arg)
        return arg

    def erase_arg(self, index: int) -> None:
        arg = self.args[index]
        if arg.uses:
            raise ValueError(f"cannot erase block argument {index}: it is still used")
        del self.args[index]
        for i, a in enumerate(self.args):
            a.index = i

    # -- operations --------------------------------------------------------------------------

    @property
    def ops(self) -> list[Operation]:
        out, op = [], self.first_op
        while op is not None:
            out.append(op)
            op = op._next
        return out

    def __iter__(self) -> Iterator[Operation]:
        op = self.first_op
        while op is not None:
            nxt = op._next
            yield op
            op = nxt

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @property
    def is_empty(self) -> bool:
        return self.first_op is None

    @property
    def terminator(self) -> Operation | None:
        return self.last_op

    def append(self, op: Operation) -> Operation:
        return self.insert_before(op, None)

    def insert_before(self, op: Operation, anchor: Operation | None) -> Operation:
        """Insert `op` before `anchor` (at the end when `anchor` is None)."""
        if op.parent is not None:
            raise ValueError(f"{op.name} is already in a block; detach it first")
        if anchor is not None and anchor.parent is not self:
            raise ValueError("the anchor op is not in this block")
        op.parent = self
        prev = anchor._prev if anchor is not None else self.last_op
        op._prev, op._next = prev, anchor
        if prev is None:
            self.first_op = op
        else:
            prev._next = op
        if anchor is None:
            self.last_op = op
        else:
            anchor._prev = op
        return op

    def insert_after(self, op: Operation, anchor: Operation) -> Operation:
        return self.insert_before(op, anchor._next)

    def _unlink(self, op: Operation) -> None:
        if op._prev is None:
            self.first_op = op._next
        else:
            op._prev._next = op._next
        if op._next is None:
            self.last_op = op._prev
        else:
            op._next._prev = op._prev
        op._prev = op._next = None
        op.parent = None

    @property
    def parent_op(self) -> Operation | None:
        return self.parent.parent if self.parent else None

    def index_in_region(self) -> int:
        return next(i for i, b in enumerate(self.parent.blocks) if b is self)


class Region:
    """A list of blocks owned by an op (a function body, a module body, a fused group)."""

    def __init__(self, blocks=()):
        self.blocks: list[Block] = []
        self.parent: Operation | None = None
        for b in blocks:
            self.add_block(b)

    def add_block(self, block: Block) -> Block:
        if block.parent is not None:
            raise ValueError("the block already belongs to a region")
        block.parent = self
        self.blocks.append(block)
        return block

    @property
    def entry(self) -> Block | None:
        return self.blocks[0] if self.blocks else None

    @property
    def block(self) -> Block:
        """The only block (regions of ops with one block: modules, functions, groups)."""
        if len(self.blocks) != 1:
            raise ValueError(f"the region has {len(self.blocks)} blocks, not one")
        return self.blocks[0]

    def walk(self, order: str = "pre") -> Iterator[Operation]:
        for block in list(self.blocks):
            for op in block:
                yield from op.walk(order)

    def clone(self, mapping: dict | None = None) -> "Region":
        mapping = {} if mapping is None else mapping
        new = Region()
        for block in self.blocks:  # blocks first, so successors may refer forward
            nb = Block(label=block.label)
            for a in block.args:
                mapping[a] = nb.add_arg(a.type, a.name_hint, a.location)
            mapping[block] = nb
            new.add_block(nb)
        for block in self.blocks:
            for op in block:
                mapping[block].append(op.clone(mapping))
        # a clone may read values defined later in the region (graph regions): remap them now
        for op in new.walk():
            for i, v in enumerate(op.operands):
                if v in mapping and mapping[v] is not v:
                    op.set_operand(i, mapping[v])
        return new
