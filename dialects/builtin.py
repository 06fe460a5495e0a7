"""The builtin dialect: the module, the top-level container of a program."""

from __future__ import annotations

from lamina.compiler.attributes import StringAttr
from lamina.compiler.ir import Block, Region
from lamina.compiler.opdef import Attr, Dialect, IsolatedFromAbove, NoTerminator, Op, RegionDef
from lamina.compiler.printer import CustomForm

builtin = Dialect("builtin", "The module and the builtin types and attributes.")


@builtin.op
class ModuleOp(Op):
    """A module: one block of ops (functions, usually), isolated from above, no terminator.

        module @model {
          func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> { ... }
        }
    """

    name = "builtin.module"
    sym_name = Attr(StringAttr, optional=True)
    body = RegionDef()
    traits = (IsolatedFromAbove, NoTerminator)
    default_dialect = "builtin"  # as in MLIR: `module` inside a module

    @classmethod
    def empty(cls, name: str | None = None, location=None) -> "ModuleOp":
        return cls(properties={"sym_name": StringAttr(name)} if name else {},
                   regions=[Region([Block()])], location=location)

    @property
    def block(self) -> Block:
        return self.body.block

    def verify(self):
        if self.results or self.operands:
            return "takes no operands and returns no results"

    def print_custom(self, p):
        if not self.body.blocks or len(self.body.blocks) != 1 or self.body.block.args:
            return None
        return CustomForm(symbol=self.sym_name.value if self.sym_name else None,
                          attr_dict=self.attributes or None, region=self.body)

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "symbol", "attr_dict", "region", required=("region",))
        props = {"sym_name": StringAttr(form.symbol)} if form.symbol else {}
        op = cls(properties=props, attributes=form.attr_dict or {})
        body = op.add_region(parser.region(form.region))
        if not body.blocks:  # `module {}`: a module always has its one block
            body.add_block(Block())
        return op
