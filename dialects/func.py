"""The func dialect: functions, calls and returns."""

from __future__ import annotations

from lamina.compiler.attributes import ArrayAttr, StringAttr, SymbolRefAttr, TypeAttr
from lamina.compiler.ir import Block, Region
from lamina.compiler.opdef import (Attr, Dialect, HasParent, IsolatedFromAbove, Op, Pure,
                                   RegionDef, SymbolOp, Terminator, VarOperand, VarResult)
from lamina.compiler.printer import CustomForm, ValuesForm
from lamina.compiler.types import FunctionType

func = Dialect("func", "Functions, calls and returns.")


@func.op
class FuncOp(Op):
    """A function: a symbol with a type and a body region (none for a declaration).

        func.func @main(%x: tensor<1x3xf32>) -> tensor<1x3xf32> {
          return %x : tensor<1x3xf32>
        }

    Inside the body, func's ops may drop their prefix (`return` is `func.return`), as in MLIR.
    """

    name = "func.func"
    sym_name = Attr(StringAttr)
    function_type = Attr(TypeAttr)
    sym_visibility = Attr(StringAttr, optional=True)
    arg_attrs = Attr(ArrayAttr, optional=True)
    res_attrs = Attr(ArrayAttr, optional=True)
    body = RegionDef()
    traits = (IsolatedFromAbove, SymbolOp)
    default_dialect = "func"  # `return` and `call` inside the body, as mlir-opt prints them

    @classmethod
    def create_with_body(cls, name: str, inputs, results, location=None) -> "FuncOp":
        """A function with an entry block whose arguments have the input types."""
        fn_type = FunctionType(tuple(inputs), tuple(results))
        return cls(properties={"sym_name": StringAttr(name), "function_type": TypeAttr(fn_type)},
                   regions=[Region([Block(fn_type.inputs)])], location=location)

    @property
    def type(self) -> FunctionType:
        return self.function_type.type

    @property
    def checked_type(self) -> FunctionType | None:
        """The function type, or None where the op's own declaration is broken: the ops inside
        are checked against it, and a broken parent is reported once, as itself."""
        attr = self.function_type
        return attr.type if attr is not None and isinstance(attr.type, FunctionType) else None

    @property
    def is_declaration(self) -> bool:
        return not self.body.blocks

    @property
    def entry(self) -> Block:
        return self.body.blocks[0]

    def verify(self):
        if not isinstance(self.function_type.type, FunctionType):
            return f"function_type must be a function type, not {self.function_type.type}"
        if self.is_declaration:
            return None
        arg_types = tuple(a.type for a in self.entry.args)
        if arg_types != self.type.inputs:
            return (f"entry block arguments have types ({', '.join(map(str, arg_types))}) but the "
                    f"function type says ({', '.join(map(str, self.type.inputs))})")

    def print_custom(self, p):
        extra = {k: v for k, v in self.properties.items()
                 if k not in ("sym_name", "function_type", "sym_visibility")}
        if extra:  # arg_attrs and res_attrs have no place in the pretty form here
            return None
        return CustomForm(
            keyword=self.sym_visibility.value if self.sym_visibility else None,
            symbol=self.sym_name.value,
            paren=list(self.type.inputs) if self.is_declaration else None,
            signature=None if self.is_declaration else list(self.entry.args),
            arrow_types=list(self.type.results) if self.type.results else None,
            attr_dict=self.attributes or None,
            region=None if self.is_declaration else self.body)

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "keyword", "symbol", "paren", "arrow_types", "attr_dict", "region",
                           required=("symbol", "paren"))
        region = form.region
        if region is None:  # a declaration lists bare types
            inputs = parser.paren_types(form)
            body = Region()
        else:
            args = parser.paren_arg_defs(form)
            inputs = [t for _, t, _ in args]
            body = parser.region(region, entry_args=args)
        fn_type = FunctionType(tuple(inputs), tuple(form.arrow_types or ()))
        props = {"sym_name": StringAttr(form.symbol), "function_type": TypeAttr(fn_type)}
        if form.keyword:
            props["sym_visibility"] = StringAttr(form.keyword)
        op = cls(properties=props, attributes=form.attr_dict or {})
        op.add_region(body)
        return op


@func.op
class ReturnOp(ValuesForm, Op):
    """Return values from a function; the operand types match the function's results.

        func.return %0, %1 : tensor<4xf32>, i32
    """

    name = "func.return"
    values = VarOperand()
    traits = (Pure, Terminator, HasParent(("func.func",)))

    def verify(self):
        fn = self.parent_op
        fn_type = fn.checked_type if isinstance(fn, FuncOp) else None
        if fn_type is not None and tuple(self.operand_types) != fn_type.results:
            got = ", ".join(map(str, self.operand_types)) or "nothing"
            want = ", ".join(map(str, fn_type.results)) or "nothing"
            return f"returns {got} but the enclosing function @{fn.sym_name.value} returns {want}"


@func.op
class CallOp(Op):
    """Call a function by symbol.

        %r = func.call @helper(%x) : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "func.call"
    callee = Attr(SymbolRefAttr)
    args = VarOperand()
    outs = VarResult()

    def verify(self):
        from lamina.compiler.symbols import SymbolTable

        target = SymbolTable.lookup_from(self, self.callee)
        if target is None:
            return f"calls @{self.callee.root}, which is not defined in the enclosing module"
        want = target.checked_type if isinstance(target, FuncOp) else None
        if want is not None:
            got = FunctionType(self.operand_types, self.result_types)
            if got != want:
                return f"has type {got} but @{self.callee.root} has type {want}"

    def print_custom(self, p):
        if self.callee.nested:
            return None
        return CustomForm(symbol=self.callee.root, paren=list(self.operands),
                          attr_dict=self.attributes or None,
                          types=FunctionType(self.operand_types, self.result_types))

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "symbol", "paren", "attr_dict", "types", required=("symbol", "paren", "types"))
        fn_type = parser.function_type_of(form)
        args = parser.paren_operands(form, fn_type.inputs)
        return cls(operands=args, result_types=fn_type.results, attributes=form.attr_dict or {},
                   properties={"callee": SymbolRefAttr(form.symbol)})
