"""Fused groups: several nn ops that become ONE kernel, as a region op (made by the `fuse` pass,
compiler/passes/fuse.py; lowered to one PrimFunc by lowering/build.py).

    %y = nn.fused %x, %w, %b attributes {sources = ["conv1", "relu1"]}
             : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32> {
    ^bb0(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>):
      %c = nn.conv2d %x, %w, %b attributes {pads = array<i64: 1, 1, 1, 1>} : (...) -> tensor<1x4x8x8xf32> loc("conv1")
      %r = nn.relu %c : (tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> loc("relu1")
      nn.yield %r : tensor<1x4x8x8xf32>
    }

The group is isolated from above: what its ops read from outside comes in as operands, which
are the entry block's arguments inside (so a group is a function you can lower on its own, as
TVM's FuseOps makes a primitive function of each group). `sources` names the source (ONNX) nodes
of the ops inside, from their name locations, so a kernel can be traced back to the model.
"""

from __future__ import annotations

from lamina.compiler.attributes import ArrayAttr, StringAttr
from lamina.compiler.location import FusedLoc, Location, NameLoc
from lamina.compiler.opdef import (Attr, HasParent, IsolatedFromAbove, Op, Pure, RegionDef, Terminator,
                                   VarOperand, VarResult)
from lamina.compiler.printer import CustomForm, ValuesForm
from lamina.compiler.types import FunctionType

from .base import nn


@nn.op
class FusedOp(Op):
    """A group of nn ops that runs as one kernel; its body ends with `nn.yield`.

        %y = nn.fused %x attributes {sources = ["a", "b"]} : (tensor<4xf32>) -> tensor<4xf32> {
        ^bb0(%x: tensor<4xf32>):
          %e = nn.exp %x : (tensor<4xf32>) -> tensor<4xf32> loc("a")
          %r = nn.relu %e : (tensor<4xf32>) -> tensor<4xf32> loc("b")
          nn.yield %r : tensor<4xf32>
        }
    """

    name = "nn.fused"
    inputs = VarOperand(doc="the values the group reads; the body's block arguments")
    outputs = VarResult(doc="the values the body yields")
    sources = Attr(ArrayAttr, optional=True, doc="names of the source nodes of the ops inside")
    body = RegionDef()
    traits = (Pure, IsolatedFromAbove)

    @property
    def block(self):
        return self.body.block

    @property
    def inner_ops(self) -> list[Op]:
        """The grouped ops, in order, without the terminator."""
        return [op for op in self.block if op.name != YieldOp.name]

    @property
    def source_names(self) -> list[str]:
        return [a.value for a in self.sources.elements] if self.sources is not None else []

    def verify(self):
        if len(self.body.blocks) != 1:
            return f"has {len(self.body.blocks)} blocks; a fused group has one"
        arg_types = tuple(a.type for a in self.block.args)
        if arg_types != self.operand_types:
            return (f"has block arguments of types ({', '.join(map(str, arg_types))}) but operands of types "
                    f"({', '.join(map(str, self.operand_types))}); they must match one for one")
        last = self.block.last_op
        if last is None or last.name != YieldOp.name:
            return "must end with nn.yield"
        if tuple(last.operand_types) != self.result_types:
            return (f"yields ({', '.join(map(str, last.operand_types))}) but has results "
                    f"({', '.join(map(str, self.result_types))})")
        if self.sources is not None and not all(isinstance(a, StringAttr) for a in self.sources.elements):
            return "sources must be a list of strings"
        return None

    def interpret(self, *inputs):
        """Run the body with the reference interpreter: the group means what its ops mean."""
        from lamina.runtime.interpreter import Interpreter

        env = dict(zip(self.block.args, inputs))
        for op in self.block:
            if op.name == YieldOp.name:
                outs = [env[v] for v in op.operands]
                return tuple(outs) if len(outs) != 1 else outs[0]
            env.update(zip(op.results, Interpreter.run_op(op, [env[v] for v in op.operands])))
        raise ValueError("nn.fused body ends without nn.yield")

    # custom form: operands, attributes, the function type, then the body with its arguments
    def print_custom(self, p):
        if set(self.attributes) & set(self.properties) or len(self.body.blocks) != 1:
            return None
        entries = {**self.attributes, **self.properties}
        return CustomForm(operands=list(self.operands) or None, attr_dict=entries or None,
                          types=FunctionType(self.operand_types, self.result_types), region=self.body)

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "operands", "attr_dict", "types", "region", required=("types", "region"))
        fn_type = parser.function_type_of(form)
        names = form.operands or []
        if len(names) != len(fn_type.inputs):
            parser.fail_form(form, f"has {len(names)} operands but its type lists {len(fn_type.inputs)}")
        operands = [parser.use(n, t) for n, t in zip(names, fn_type.inputs)]
        entries = form.attr_dict or {}
        props = {k: v for k, v in entries.items() if k == "sources"}
        attrs = {k: v for k, v in entries.items() if k != "sources"}
        op = cls(operands=operands, result_types=fn_type.results, properties=props, attributes=attrs)
        op.add_region(parser.region(form.region))
        return op


@nn.op
class YieldOp(ValuesForm, Op):
    """Ends a fused group's body: its operands are the group's results.

        nn.yield %r : tensor<4xf32>
    """

    name = "nn.yield"
    values = VarOperand()
    traits = (Pure, Terminator, HasParent(("nn.fused",)))


def source_names(location: Location) -> list[str]:
    """The source node names in a location: `loc("conv1")` -> ["conv1"]; fused locations give
    each of theirs; file positions and unknown locations give none."""
    if isinstance(location, NameLoc):
        return [location.name]
    if isinstance(location, FusedLoc):
        return [n for loc in location.locations for n in source_names(loc)]
    return []


def sources_attr(names: list[str]) -> ArrayAttr | None:
    """The `sources` attribute for these names (each once, in order), or None when there are none."""
    unique = list(dict.fromkeys(names))
    return ArrayAttr(tuple(StringAttr(n) for n in unique)) if unique else None
