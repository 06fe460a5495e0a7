"""Step 2 of reading a text model: syntax records -> nn IR, the same IR the ONNX importer builds.

The algorithm, in the order `TextImporter.run` does it:
  1. `model NAME(args)` becomes `module @NAME { func.func @main(args) }`; each argument's type
     (`f32[1, 784]`) is a tensor type, its name the SSA name hint.
  2. Statements, in order. `w = param f32[4, 4] init=...` and `const` become `nn.constant` with
     the value numpy computes for the initializer (deterministic: `normal(seed=0)` is
     `numpy.random.default_rng(0).normal(0.0, 1.0, shape)`).
  3. `h = EXPR`: each op call `op(operands..., attr=value)` is `nn.<op>`, looked up by name and
     read through the op class's declared fields (operands, variadic or not; attributes and
     their kinds), so every op of the dialect is covered by the same code. `+ - * / @` and a
     leading `-` are add, sub, mul, div, matmul and neg; a number among the operands becomes a
     rank-0 `nn.constant` of the other operands' element type. `SPECIAL_ATTRIBUTES` holds the
     three ops whose result type the operands cannot give (cast, resize, constant_of_shape):
     the language takes it as an attribute.
  4. Each op is built with its inferred result types and checked by the verifier's declaration
     checks; any problem (a ShapeError from inference) is reported at the call.
  5. `return a, b` ends the model; the function's result types are the returned values' types.
     The module is verified.

Every op gets `loc("h"("model.lam":3:7))`: the name bound by its statement (`output` for a
returned expression) and where the op was written; the value bound to a name carries the name.
"""

from __future__ import annotations

import difflib

import numpy as np

from lamina.compiler.attributes import (Attribute, DenseArrayAttr, DenseElementsAttr, FloatAttr,
                                        IntegerAttr, StringAttr, TypeAttr)
from lamina.compiler.builder import Builder
from lamina.compiler.errors import SourcePos, VerifyError
from lamina.compiler.ir import OpResult, Value
from lamina.compiler.location import FileLineColLoc, NameLoc
from lamina.compiler.opdef import Pure, get_dialect, lookup_op
from lamina.compiler.types import (FunctionType, IntegerType, RankedTensorType, Type, bf16, f16,
                                   f32, f64, i1, i8, i16, i32, i64)
from lamina.compiler.verifier import check_declaration, verify

from .syntax import (Assign, BinOp, Call, Decl, Kwarg, Literal, Model, Negate, Num, Pos,
                     Return, TextModelError, TypeSyntax, Var)

ELEMENT_TYPES: dict[str, Type] = {
    "f16": f16, "bf16": bf16, "f32": f32, "f64": f64, "bool": i1, "i1": i1,
    "i8": i8, "i16": i16, "i32": i32, "i64": i64,
    "u8": IntegerType(8, "u"), "u16": IntegerType(16, "u"), "u32": IntegerType(32, "u"),
    "u64": IntegerType(64, "u"),
}

INFIX = {"+": "add", "-": "sub", "*": "mul", "/": "div", "@": "matmul"}

# Attributes of the language that the nn op does not have: what gives the op's result type.
SPECIAL_ATTRIBUTES = {
    "cast": {"to": "the element type of the result, like f16"},
    "resize": {"size": "the result's [H, W]"},
    "constant_of_shape": {"dtype": "the element type of the result (default f32)"},
}
REQUIRED_SPECIAL = {"cast": "to", "resize": "size"}

# Initializers of `param` and `const`: name -> keyword defaults.
INITIALIZERS = {
    "normal": {"seed": 0, "mean": 0.0, "std": 1.0},
    "uniform": {"seed": 0, "low": 0.0, "high": 1.0},
    "zeros": {},
    "ones": {},
}

README = "dialects/nn/README.md"


def _lang_type(t: Type) -> str:
    """A tensor type as the language writes it: f32[1, 784]."""
    if not isinstance(t, RankedTensorType):
        return str(t)
    name = next((k for k, v in ELEMENT_TYPES.items() if v == t.element_type and k != "bool"), str(t.element_type))
    return name + "[" + ", ".join("?" if d is None else str(d) for d in t.shape) + "]"


def _suggest(name: str, candidates) -> str | None:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _join(*parts: str | None) -> str | None:
    out = ""
    for p in parts:
        if p:
            out += (" " if out.endswith("?") else "; " if out else "") + p
    return out or None


def _describe(lit: Literal) -> str:
    if lit.kind == "int":
        return f"the integer {lit.value}"
    if lit.kind == "float":
        return f"the number {lit.value!r}"
    if lit.kind == "string":
        return f'the string "{lit.value}"'
    if lit.kind == "word":
        return f"the type {lit.value}" if lit.value in ELEMENT_TYPES else f"the name {lit.value}"
    return "a list"


_KIND_WORDS = {DenseArrayAttr: "a list of integers", IntegerAttr: "an integer", FloatAttr: "a number",
               StringAttr: "a string", DenseElementsAttr: "a number"}
_KIND_EXAMPLES = {DenseArrayAttr: "[1, 1]", IntegerAttr: "1", FloatAttr: "1.0", StringAttr: '"..."',
                  DenseElementsAttr: "0.0"}


def _kind(field):
    kinds = field.kind if isinstance(field.kind, tuple) else (field.kind,)
    return next((k for k in kinds if k in _KIND_WORDS), kinds[0])


def _lang_value(attr: Attribute) -> str:
    """A default attribute as the language writes it."""
    if isinstance(attr, DenseArrayAttr):
        return "[" + ", ".join(str(v) for v in attr.values) + "]"
    if isinstance(attr, StringAttr):
        return f'"{attr.value}"'
    if isinstance(attr, FloatAttr):
        return repr(float(np.float32(attr.value)))
    if isinstance(attr, IntegerAttr):
        return str(attr.value)
    return "..."


def usage(name: str, cls) -> str:
    """How a call of op `name` is written: `conv2d(x, w, [bias], strides=[1, 1], ...)`."""
    fixed = sum(not d.variadic for d in cls._operand_defs)
    operands = []
    for d in cls._operand_defs:
        operands.append((f"{d.name}..." if fixed == 0 else f"[{d.name}]") if d.variadic else d.name)
    attrs = []
    for a in cls._attr_defs:
        if name == "constant_of_shape" and a.name == "value":
            attrs.append("value=0.0")
            continue
        default = a.default if isinstance(a.default, Attribute) else None
        attrs.append(f"{a.name}={_lang_value(default) if default is not None else _KIND_EXAMPLES[_kind(a)]}")
    for key in SPECIAL_ATTRIBUTES.get(name, {}):
        attrs.append({"to": "to=f16", "size": "size=[H, W]", "dtype": "dtype=f32"}[key])
    return f"{name}({', '.join(operands + attrs)})"


def _as_number(e) -> Num | None:
    """A number written as an operand, `-2.0` included."""
    if isinstance(e, Num):
        return e
    if isinstance(e, Negate):
        inner = _as_number(e.operand)
        return Num(-inner.value, e.pos) if inner is not None else None
    return None


def _start(e) -> Pos:
    """Where an expression begins (a binary expression at its left operand)."""
    if isinstance(e, BinOp):
        return _start(e.lhs)
    return e.pos


def _op_names() -> list[str]:
    return sorted(n.split(".", 1)[1] for n in get_dialect("nn").ops if n != "nn.constant")


class TextImporter:
    """Builds the module of one parsed model."""

    def __init__(self, text: str, filename: str):
        self.text = text
        self.filename = filename
        self.scope: dict[str, tuple[Value, Pos]] = {}
        self.known: dict[Value, np.ndarray] = {}  # values computed at import (constants, ...)
        self.builder: Builder | None = None

    # -- diagnostics and locations ---------------------------------------------------------------

    def source_pos(self, pos: Pos) -> SourcePos:
        return SourcePos.in_text(self.text, self.filename, pos.line, pos.col)

    def error(self, message: str, pos: Pos, hint: str | None = None) -> TextModelError:
        return TextModelError(message, self.source_pos(pos), hint)

    def loc(self, name: str, pos: Pos) -> NameLoc:
        return NameLoc(name, FileLineColLoc(self.filename, pos.line, pos.col))

    # -- names ---------------------------------------------------------------------------------

    def define(self, name: str, value: Value, pos: Pos) -> None:
        self.check_new(name, pos)
        self.scope[name] = (value, pos)

    def check_new(self, name: str, pos: Pos) -> None:
        if name in self.scope:
            first = self.scope[name][1]
            raise self.error(f"'{name}' is already defined (line {first.line}, column {first.col})", pos,
                             f"values cannot be reassigned; give this one a new name, like {name}2")

    def lookup(self, var: Var) -> Value:
        if var.name in self.scope:
            return self.scope[var.name][0]
        hint = _suggest(var.name, self.scope)
        if hint is None and var.name in _op_names():
            hint = f"{var.name} is an op: call it, like {var.name}(x)"
        raise self.error(f"undefined name '{var.name}'", var.pos,
                         hint or f"define it on a line before this one: {var.name} = ...")

    # -- the model -----------------------------------------------------------------------------

    def run(self, model: Model):
        from lamina.dialects.builtin import ModuleOp
        from lamina.dialects.func import FuncOp, ReturnOp
        import lamina.dialects.nn  # noqa: F401  (registers the nn ops)

        arg_types = [self.tensor_type(a.type, static=False) for a in model.args]
        module = ModuleOp.empty(model.name)
        fn = FuncOp.create_with_body("main", arg_types, [], location=self.loc(model.name, model.pos))
        module.block.append(fn)
        self.builder = Builder.at_end(fn.entry)
        for arg, syn in zip(fn.entry.args, model.args):
            self.define(syn.name, arg, syn.pos)
            arg.name_hint = syn.name
            arg.location = self.loc(syn.name, syn.pos)

        outputs = None
        for stmt in model.body:
            if outputs is not None:
                raise self.error("return must be the last statement of the model", stmt.pos,
                                 "statements after return would never run")
            if isinstance(stmt, Decl):
                self.declare(stmt)
            elif isinstance(stmt, Assign):
                self.assign(stmt)
            else:
                outputs = self.ret(stmt)
                ret = ReturnOp(operands=outputs, location=FileLineColLoc(self.filename, stmt.pos.line, stmt.pos.col))
                ret.source_pos = self.source_pos(stmt.pos)
                self.builder.insert(ret)
        if outputs is None:
            raise self.error(f"model {model.name} has no return statement", model.end,
                             "end the model with `return <value>`")
        fn.properties["function_type"] = TypeAttr(FunctionType(tuple(arg_types), tuple(v.type for v in outputs)))
        try:
            verify(module)
        except VerifyError as e:  # a bug of this front-end or of an op: still a diagnostic
            raise TextModelError(f"the model does not verify: {e.message}", e.pos, notes=e.notes,
                                 hint="this is a lamina bug if the model is valid; please report it") from None
        return module

    def tensor_type(self, syn: TypeSyntax, static: bool) -> RankedTensorType:
        element = ELEMENT_TYPES.get(syn.element)
        if element is None:
            raise self.error(f"unknown element type '{syn.element}'", syn.pos,
                             _join(_suggest(syn.element, ELEMENT_TYPES),
                                   "element types: " + ", ".join(ELEMENT_TYPES)))
        if static and None in syn.dims:
            raise self.error("a param or const needs a static shape", syn.pos,
                             "'?' (a dynamic dim) is only for model inputs")
        return RankedTensorType(tuple(syn.dims), element)

    # -- param and const -----------------------------------------------------------------------

    def declare(self, d: Decl) -> None:
        from lamina.dialects.nn.base import ConstantOp

        self.check_new(d.name, d.pos)
        t = self.tensor_type(d.type, static=True)
        array = self.initial_value(d.init, t)
        op = ConstantOp(result_types=[t], properties={"value": DenseElementsAttr(t, array)},
                        location=self.loc(d.name, d.pos))
        op.source_pos = self.source_pos(d.pos)
        self.builder.insert(op)
        op.result.name_hint = d.name
        self.known[op.result] = array
        self.define(d.name, op.result, d.pos)

    def initial_value(self, init, t: RankedTensorType) -> np.ndarray:
        if isinstance(init, Literal):
            return self.literal_array(init, t)
        defaults = INITIALIZERS.get(init.name)
        if defaults is None:
            raise self.error(f"unknown initializer '{init.name}'", init.pos,
                             _join(_suggest(init.name, INITIALIZERS),
                                   "initializers: normal(seed, mean, std), uniform(seed, low, high), "
                                   "zeros(), ones(), or values like [1, 2]"))
        args = dict(defaults)
        for kw in init.kwargs:
            if kw.name not in defaults:
                takes = ", ".join(defaults) if defaults else "no arguments"
                raise self.error(f"{init.name}() has no argument '{kw.name}'", kw.pos,
                                 _join(_suggest(kw.name, defaults), f"{init.name}() takes {takes}"))
            want_int = isinstance(defaults[kw.name], int)
            if kw.value.kind not in (("int",) if want_int else ("int", "float")):
                raise self.error(f"{init.name}() argument '{kw.name}' must be "
                                 f"{'an integer' if want_int else 'a number'}, got {_describe(kw.value)}",
                                 kw.value.pos, f"for example {kw.name}={defaults[kw.name]!r}")
            args[kw.name] = kw.value.value
        dtype = t.element_type.numpy_dtype
        if init.name == "zeros":
            return np.zeros(t.shape, dtype)
        if init.name == "ones":
            return np.ones(t.shape, dtype)
        if not np.issubdtype(dtype, np.floating) and dtype.name != "bfloat16":
            raise self.error(f"{init.name}() fills float tensors, but this one is {t.element_type}", init.pos,
                             "write integer values as a literal, like init=[1, 2], or use zeros() / ones()")
        if args["seed"] < 0:
            raise self.error("seed must not be negative", init.pos)
        rng = np.random.default_rng(args["seed"])
        if init.name == "normal":
            values = rng.normal(args["mean"], args["std"], size=t.shape)
        else:
            values = rng.uniform(args["low"], args["high"], size=t.shape)
        return np.asarray(values).astype(dtype)

    def literal_array(self, lit: Literal, t: RankedTensorType) -> np.ndarray:
        shape = self.literal_shape(lit)
        leaves = []
        self.literal_leaves(lit, t, leaves)
        dtype = t.element_type.numpy_dtype
        array = np.array(leaves, dtype=dtype).reshape(shape)
        if shape == t.shape:
            return array
        if shape == ():
            return np.full(t.shape, array, dtype)
        raise self.error(f"the value has shape {list(shape)} but the type is {_lang_type(t)}", lit.pos,
                         "give one value per element, or one number for all of them")

    def literal_shape(self, lit: Literal) -> tuple:
        if lit.kind != "list":
            return ()
        shapes = [self.literal_shape(item) for item in lit.value]
        for item, shape in zip(lit.value, shapes):
            if shape != shapes[0]:
                raise self.error(f"this row has shape {list(shape)} but the first has {list(shapes[0])}",
                                 item.pos, "every row of a literal has the same length")
        return (len(lit.value),) + (shapes[0] if shapes else ())

    def literal_leaves(self, lit: Literal, t: RankedTensorType, out: list) -> None:
        if lit.kind == "list":
            for item in lit.value:
                self.literal_leaves(item, t, out)
            return
        el = t.element_type
        if lit.kind == "word" and lit.value in ("true", "false") and el == i1:
            out.append(lit.value == "true")
            return
        if lit.kind == "word" and lit.value in ("true", "false"):
            raise self.error(f"{lit.value} is a bool value, but the tensor is {el}", lit.pos,
                             "true and false are values of bool tensors; write 1 or 0")
        if lit.kind not in ("int", "float"):
            raise self.error(f"a value must be a number, got {_describe(lit)}", lit.pos)
        if isinstance(el, IntegerType):
            if lit.kind == "float":
                raise self.error(f"{lit.value!r} is not an integer, but the tensor is {el}", lit.pos)
            info = np.iinfo(el.numpy_dtype) if el != i1 else None
            if (el == i1 and lit.value not in (0, 1)) or (info and not info.min <= lit.value <= info.max):
                raise self.error(f"{lit.value} does not fit in {el}", lit.pos)
        out.append(lit.value)

    # -- statements ----------------------------------------------------------------------------

    def assign(self, s: Assign) -> None:
        names = [n for n, _ in s.names]
        for name, pos in s.names:
            self.check_new(name, pos)
            if names.count(name) > 1:
                raise self.error(f"'{name}' is bound twice in one statement", pos)
        values = self.evaluate(s.expr, binding=names[0], hints=names, want=len(names))
        if len(values) != len(names):
            raise self.error(f"the expression gives {len(values)} value{'s' * (len(values) != 1)}, "
                             f"but {len(names)} names are bound", s.pos)
        for (name, pos), value in zip(s.names, values):
            self.define(name, value, pos)

    def ret(self, s: Return) -> list[Value]:
        outputs = []
        for i, e in enumerate(s.exprs):
            binding = "output" if len(s.exprs) == 1 else f"output{i}"
            outputs.extend(self.evaluate(e, binding, hints=None if isinstance(e, Var) else [binding], want=None))
        return outputs

    # -- expressions ---------------------------------------------------------------------------

    def evaluate(self, e, binding: str, hints: list[str] | None = None, want: int | None = 1) -> list[Value]:
        """The values of expression `e`; ops it emits are located at `binding`, and the outermost
        op's results take the names in `hints`. `want`: how many results the outermost op may
        give (None: any)."""
        number = _as_number(e)
        if number is not None:
            value = self.number_constant(number, None, binding)
            if hints:
                value.name_hint = hints[0]
            return [value]
        if isinstance(e, Var):
            return [self.lookup(e)]
        if isinstance(e, Negate):
            return self.apply("neg", e.pos, [e.operand], [], binding, hints, want, label="'-' (neg)")
        if isinstance(e, BinOp):
            name = INFIX[e.symbol]
            return self.apply(name, e.pos, [e.lhs, e.rhs], [], binding, hints, want,
                              label=f"'{e.symbol}' ({name})")
        assert isinstance(e, Call)
        operands, kwargs = [], []
        for a in e.args:
            if isinstance(a, Kwarg):
                kwargs.append(a)
            elif kwargs:
                raise self.error("an operand cannot follow an attribute", _start(a),
                                 f"write the operands first, like {e.op}(x, y, axis=1)")
            else:
                operands.append(a)
        return self.apply(e.op, e.pos, operands, kwargs, binding, hints, want)

    def op_class(self, name: str, pos: Pos):
        cls = lookup_op("nn." + name) if name != "constant" else None
        if cls is not None:
            return cls
        if name == "constant":
            raise self.error("constant is not called; declare it", pos,
                             "write c = const f32[2] init=[1, 2] on a line of its own")
        if name in INITIALIZERS:
            hint = f"{name}() initializes a param: w = param f32[4, 4] init={name}()"
        elif name in self.scope:
            hint = f"'{name}' is a value, not an op"
        else:
            hint = _join(_suggest(name, _op_names()), f"the nn ops are listed in {README}")
        raise self.error(f"unknown op '{name}'", pos, hint)

    def apply(self, name: str, pos: Pos, operand_exprs: list, kwargs: list[Kwarg], binding: str,
              hints: list[str] | None, want: int | None, label: str | None = None) -> list[Value]:
        """Emit `nn.<name>` for a call (or operator) written at `pos`; its results."""
        cls = self.op_class(name, pos)
        label = label or name
        self.check_arity(cls, name, label, len(operand_exprs), pos)
        props, special = self.attributes(cls, name, label, kwargs, pos)

        values = []
        for e in operand_exprs:
            number = _as_number(e)
            values.append(number if number is not None else self.evaluate(e, binding)[0])
        like = [v for v in values if isinstance(v, Value)]
        like = next((v for v in like if v.type.element_type != i1), like[0] if like else None)
        values = [self.number_constant(v, like, binding) if isinstance(v, Num) else v for v in values]

        result_types = self.special_result_types(name, values, props, special, pos)
        props = {k: v for k, v in props.items() if not _is_default(cls, k, v)}
        operand_note = ("the operand" + ("s are " if len(values) != 1 else " is ")
                        + " and ".join(_lang_type(v.type) for v in values)) if values else None
        op = None
        try:
            op = cls.build(*values, result_types=result_types, location=self.loc(binding, pos), **props)
            problem = check_declaration(op)
        except Exception as e:  # ShapeError from inference, or an op's own error: a sentence
            problem = str(e) or type(e).__name__
        if problem:
            if op is not None:
                op.drop_operand_uses()
            raise self.error(f"{label}: {problem}", pos, operand_note)
        n = len(op.results)
        if want is not None and n != want:
            op.drop_operand_uses()
            if want == 1:
                raise self.error(f"{label} gives {n} results, so it cannot be used as one value", pos,
                                 f"bind each result to a name: {', '.join('abcdefgh'[:min(n, 8)])} = {name}(...)")
            raise self.error(f"{label} gives {n} result{'s' * (n != 1)}, but {want} names are bound", pos)
        op.source_pos = self.source_pos(pos)
        self.builder.insert(op)
        for result, hint in zip(op.results, hints or []):
            result.name_hint = hint
        return list(op.results)

    def check_arity(self, cls, name: str, label: str, count: int, pos: Pos) -> None:
        fixed = sum(not d.variadic for d in cls._operand_defs)
        variadic = any(d.variadic for d in cls._operand_defs)
        if not variadic:
            low, high, words = fixed, fixed, f"{fixed} operand{'s' * (fixed != 1)}"
        elif fixed == 0:  # n-ary: sum, concat
            low, high, words = 1, None, "1 or more operands"
        else:  # an optional operand: conv2d's bias, gemm's c
            low, high, words = fixed, fixed + 1, f"{fixed} or {fixed + 1} operands"
        if count < low or (high is not None and count > high):
            raise self.error(f"{label} takes {words}, got {count}", pos, f"usage: {usage(name, cls)}")

    def attributes(self, cls, name: str, label: str, kwargs: list[Kwarg], pos: Pos):
        """The op's properties from the keyword arguments, and the language's own (`to=`...)."""
        declared = {a.name: a for a in cls._attr_defs}
        special_names = SPECIAL_ATTRIBUTES.get(name, {})
        props, special, seen = {}, {}, {}
        for kw in kwargs:
            if kw.name in seen:
                first = seen[kw.name]
                raise self.error(f"attribute '{kw.name}' is given twice", kw.pos,
                                 f"the first is at line {first.line}, column {first.col}")
            seen[kw.name] = kw.pos
            if kw.name in special_names or (name == "constant_of_shape" and kw.name == "value"):
                special[kw.name] = kw
                continue
            field = declared.get(kw.name)
            if field is None:
                takes = list(declared) + list(special_names)
                raise self.error(f"{label} has no attribute '{kw.name}'", kw.pos,
                                 _join(_suggest(kw.name, takes),
                                       f"{name} takes {', '.join(takes)}" if takes else f"{name} takes no attributes"))
            props[kw.name] = self.attribute_value(label, field, kw)
        for field in cls._attr_defs:
            if not field.optional and field.name not in props:
                raise self.error(f"{label} requires attribute '{field.name}'", pos, f"usage: {usage(name, cls)}")
        required = REQUIRED_SPECIAL.get(name)
        if required and required not in special:
            raise self.error(f"{label} requires attribute '{required}' ({special_names[required]})", pos,
                             f"usage: {usage(name, cls)}")
        return props, special

    def attribute_value(self, label: str, field, kw: Kwarg) -> Attribute:
        from lamina.dialects.nn.base import integer, ints, real, string

        lit, kind = kw.value, _kind(field)
        if kind is DenseArrayAttr and lit.kind == "list" and all(i.kind == "int" for i in lit.value):
            return ints(i.value for i in lit.value)
        if kind is IntegerAttr and lit.kind == "int":
            return integer(lit.value)
        if kind is IntegerAttr and lit.kind == "word" and lit.value in ("true", "false"):
            return integer(lit.value == "true")
        if kind is FloatAttr and lit.kind in ("int", "float"):
            return real(lit.value)
        if kind is StringAttr and lit.kind == "string":
            return string(lit.value)
        example = field.default if isinstance(field.default, Attribute) else None
        example = _lang_value(example) if example is not None else _KIND_EXAMPLES.get(kind, "...")
        if kind is DenseArrayAttr and lit.kind == "int":
            example = f"[{lit.value}]"
        raise self.error(f"attribute '{kw.name}' of {label} must be {_KIND_WORDS.get(kind, kind.__name__)}, "
                         f"got {_describe(lit)}", lit.pos, f"write it like {kw.name}={example}")

    def element_type_value(self, kw: Kwarg) -> Type:
        lit = kw.value
        if lit.kind == "word" and lit.value in ELEMENT_TYPES:
            return ELEMENT_TYPES[lit.value]
        raise self.error(f"attribute '{kw.name}' must be an element type, got {_describe(lit)}", lit.pos,
                         _join(_suggest(str(lit.value), ELEMENT_TYPES) if lit.kind == "word" else None,
                               "element types: " + ", ".join(ELEMENT_TYPES)))

    def special_result_types(self, name: str, values: list[Value], props: dict, special: dict, pos: Pos):
        """The result types of the ops that cannot infer them, from the language's attributes."""
        if name == "cast":
            x = values[0].type
            return [RankedTensorType(x.shape, self.element_type_value(special["to"]))]
        if name == "resize":
            lit = special["size"].value
            if lit.kind != "list" or len(lit.value) not in (2, 4) or any(i.kind != "int" for i in lit.value):
                raise self.error(f"size must be the result's [H, W] (or all four dims), got {_describe(lit)}",
                                 lit.pos, "write it like size=[32, 32]")
            size = tuple(i.value for i in lit.value)
            x = values[0].type
            shape = x.shape[:2] + size if len(size) == 2 else size
            return [RankedTensorType(shape, x.element_type)]
        if name == "constant_of_shape":
            element = self.element_type_value(special["dtype"]) if "dtype" in special else f32
            if "value" in special:
                lit = special["value"].value
                fill = self.literal_array(lit, RankedTensorType((), element)).reshape(1)
                props["value"] = DenseElementsAttr(RankedTensorType((1,), element), fill)
            elif element != f32:
                props["value"] = DenseElementsAttr(RankedTensorType((1,), element), np.zeros(1, element.numpy_dtype))
            dims = self.known_value(values[0])
            if dims is None or dims.ndim != 1 or dims.dtype.kind not in "iu":
                raise self.error("constant_of_shape needs its shape operand to be known when the model is "
                                 "read", pos, "pass a const like s = const i64[2] init=[2, 3], or shape(x) "
                                 "of a tensor with a static shape")
            return [RankedTensorType(tuple(int(d) for d in dims), element)]
        return None

    def number_constant(self, n: Num, like: Value | None, binding: str) -> Value:
        """A number written as an operand: a rank-0 constant of `like`'s element type (f32 for a
        float, i64 for an integer when there is no other operand)."""
        from lamina.dialects.nn.base import ConstantOp

        if like is not None:
            element = like.type.element_type
        else:
            element = f32 if isinstance(n.value, float) else i64
        if isinstance(element, IntegerType) and isinstance(n.value, float):
            raise self.error(f"{n.value!r} is not an integer, but the other operand is {_lang_type(like.type)}",
                             n.pos, "write an integer, or cast the other operand: cast(x, to=f32)")
        t = RankedTensorType((), element)
        lit = Literal("int" if isinstance(n.value, int) else "float", n.value, n.pos)
        array = self.literal_array(lit, t)
        op = ConstantOp(result_types=[t], properties={"value": DenseElementsAttr(t, array)},
                        location=self.loc(binding, n.pos))
        op.source_pos = self.source_pos(n.pos)
        self.builder.insert(op)
        self.known[op.result] = array
        return op.result

    def known_value(self, value: Value) -> np.ndarray | None:
        """The value of `value` when the model is read: a constant, or what ops compute from
        constants and static shapes; None when it depends on the model's inputs."""
        if value in self.known:
            return self.known[value]
        if not isinstance(value, OpResult) or not value.op.has_trait(Pure):
            return None
        op = value.op
        if op.name == "nn.shape":  # needs only x's type: known when those dims are static
            dims = op.x.type.shape[op.dims(op.properties, op.x.type.rank)]
            self.known[value] = None if None in dims else np.array(dims, np.int64)
            return self.known[value]
        args = [self.known_value(v) for v in op.operands]
        if any(a is None for a in args):
            return None
        try:
            out = op.interpret(*args)
        except Exception:
            return None
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        for r, a in zip(op.results, outs):
            self.known[r] = np.asarray(a)
        return self.known.get(value)


def _is_default(cls, name: str, value) -> bool:
    """An attribute equal to its declared default is left out, as the ONNX importer does."""
    field = getattr(cls, name, None)
    return isinstance(getattr(field, "default", None), Attribute) and field.default == value
