"""Symbol tables: find a `func.func` (or any op with a `sym_name`) by name within a module."""

from __future__ import annotations

from .attributes import StringAttr, SymbolRefAttr
from .ir import Operation


class SymbolTable:
    """The symbols defined directly in the single block of `op` (a module).

    Built once and kept up to date by `insert`/`erase`; lookups are a dict access.
    """

    def __init__(self, op: Operation):
        self.op = op
        self.symbols: dict[str, Operation] = {}
        for child in op.regions[0].blocks[0] if op.regions and op.regions[0].blocks else ():
            name = symbol_name(child)
            if name is not None:
                self.symbols.setdefault(name, child)

    def lookup(self, name: str) -> Operation | None:
        return self.symbols.get(name)

    def insert(self, op: Operation) -> str:
        """Add `op` to the table's block, renaming it `name_1`, `name_2`... if the name is taken."""
        name = symbol_name(op)
        base, k = name, 0
        while name in self.symbols:
            k += 1
            name = f"{base}_{k}"
        if name != base:
            op.properties["sym_name"] = StringAttr(name)
        self.symbols[name] = op
        self.op.regions[0].blocks[0].append(op)
        return name

    def erase(self, op: Operation) -> None:
        self.symbols.pop(symbol_name(op), None)
        op.erase()

    @staticmethod
    def nearest_table_op(op: Operation) -> Operation | None:
        """The closest enclosing module (an op that holds symbols)."""
        for parent in op.ancestors():
            if parent.name == "builtin.module":
                return parent
        return None

    @staticmethod
    def lookup_from(op: Operation, ref: SymbolRefAttr) -> Operation | None:
        """Resolve `ref` from `op`'s position: in the nearest module, then nested references."""
        table_op = SymbolTable.nearest_table_op(op)
        if table_op is None:
            return None
        found = SymbolTable(table_op).lookup(ref.root)
        for part in ref.nested:
            if found is None:
                return None
            found = SymbolTable(found).lookup(part)
        return found


def symbol_name(op: Operation) -> str | None:
    attr = op.properties.get("sym_name") or op.attributes.get("sym_name")
    return attr.value if isinstance(attr, StringAttr) else None
