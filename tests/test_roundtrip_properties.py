"""Round trips of the text format, on modules, attributes, types and locations that hypothesis draws.

1. print(parse(print(m))) == print(m), byte for byte, in the custom and the generic form;
   parsing the generic form and printing it custom gives the custom text.
2. Attributes, types and locations print and parse back to an equal (and equally hashed) object.
3. Through xDSL: lamina's generic text is read and verified by xDSL, and xDSL's text is read by
   lamina and gives xDSL the same text again.

Bugs these tests found are pinned by their smallest example at the end of this file.
"""

from __future__ import annotations

import io
import math

import pytest
from hypothesis import Phase, assume, find, given, settings
from hypothesis import strategies as st

from lamina.compiler.attributes import (ArrayAttr, DenseArrayAttr, DenseElementsAttr, DictionaryAttr,
                                        IntegerAttr)
from lamina.compiler.ir import Operation
from lamina.compiler.parser import parse
from lamina.compiler.printer import print_ir
from lamina.compiler.testing import attributes, locations, modules, types
from lamina.compiler.types import FunctionType, RankedTensorType, i1
from lamina.compiler.verifier import verify
from lamina.dialects.builtin import ModuleOp

def _nested(a):
    """`a` and every attribute and type inside it."""
    yield a
    if isinstance(a, ArrayAttr):
        kids = a.elements
    elif isinstance(a, DictionaryAttr):
        kids = tuple(a.entries.values())
    elif isinstance(a, RankedTensorType):
        kids = (a.element_type,) + ((a.encoding,) if a.encoding is not None else ())
    elif isinstance(a, FunctionType):
        kids = a.inputs + a.results
    else:
        kids = tuple(getattr(a, f) for f in ("type",) if hasattr(a, f))
    for k in kids:
        yield from _nested(k)


# ---------------------------------------------------------------------------------------------
# 1. Modules


def _round_trip(module, unregistered: bool):
    verify(module)
    custom = print_ir(module)
    generic = print_ir(module, generic=True)
    return custom, generic


@pytest.mark.parametrize("unregistered", [False, True], ids=["registered", "unregistered"])
@settings(max_examples=40)
@given(data=st.data())
def test_custom_form_round_trips_byte_for_byte(unregistered, data):
    module = data.draw(modules(allow_unregistered=unregistered), label="module")
    custom, _ = _round_trip(module, unregistered)
    reparsed = parse(custom, allow_unregistered=unregistered)
    verify(reparsed)
    assert print_ir(reparsed) == custom


@pytest.mark.parametrize("unregistered", [False, True], ids=["registered", "unregistered"])
@settings(max_examples=40)
@given(data=st.data())
def test_generic_form_round_trips_and_prints_the_same_custom_form(unregistered, data):
    module = data.draw(modules(allow_unregistered=unregistered), label="module")
    custom, generic = _round_trip(module, unregistered)
    reparsed = parse(generic, allow_unregistered=unregistered)
    verify(reparsed)
    assert print_ir(reparsed, generic=True) == generic
    assert print_ir(reparsed) == custom


@pytest.mark.parametrize("feature, needle", [
    ("successors", ")[^bb"), ("block args", "^bb1("), ("hex", '"0x'), ("properties", "<{"),
    ("locations", "loc("), ("call", '"func.call"'), ("nested regions", "({\n"), ("collided names", "_1 = ")])
def test_examples_cover_what_the_strategy_promises(feature, needle):
    """The strategy really draws each feature the round trips are meant to exercise. `find`
    searches for one example per feature, so the check does not hang on which 60 examples one
    hypothesis release happens to draw first (CI once missed "call" that way)."""
    module = find(modules(allow_unregistered=True), lambda m: needle in print_ir(m, generic=True),
                  settings=settings(max_examples=2000, database=None, derandomize=True,
                                    phases=[Phase.generate]))  # any example will do: no shrinking
    assert needle in print_ir(module, generic=True)


@pytest.mark.parametrize("feature, pattern", [
    ("return without its dialect", r"\n    return( |\n)"), ("call without its dialect", r"\n +(%\S+ = )?call @"),
    ("a dialect attribute with its type", r"#[\w.$]+<[^\n]*?> : [!a-z]"),
    ("a bracket in a string in a dialect attribute", r'#[\w.$]+<[^\n]*"[^"\n]*[<>(\[{][^"\n]*"')])
def test_the_custom_form_covers_mlir_syntax(feature, pattern):
    """The drawn modules' custom form holds the MLIR syntax of issue 13 (part 4), so the round
    trips above read it back: `return` and `call` inside a function, typed dialect attributes,
    brackets in strings inside a dialect attribute."""
    import re

    module = find(modules(allow_unregistered=True), lambda m: re.search(pattern, print_ir(m)) is not None,
                  settings=settings(max_examples=3000, database=None, derandomize=True,
                                    phases=[Phase.generate]))
    assert re.search(pattern, print_ir(module))


# ---------------------------------------------------------------------------------------------
# 2. Attributes, types, locations


def _op_with(**kwargs) -> ModuleOp:
    module = ModuleOp.empty()
    module.block.append(Operation(name="test.op", **kwargs))
    return module


def _reparsed_op(module) -> Operation:
    text = print_ir(module)
    reparsed = parse(text, allow_unregistered=True)
    assert print_ir(reparsed) == text
    return reparsed.block.first_op


@settings(max_examples=300)
@given(attributes(allow_unregistered=True))
def test_attribute_prints_and_parses_to_an_equal_attribute(attr):
    op = _reparsed_op(_op_with(attributes={"a": attr}, properties={"p": attr}))
    for got in (op.attributes["a"], op.properties["p"]):
        assert got == attr
        assert hash(got) == hash(attr)
        assert str(got) == str(attr)


@settings(max_examples=300)
@given(types(allow_unregistered=True))
def test_type_prints_and_parses_to_an_equal_type(t):
    op = _reparsed_op(_op_with(result_types=[t, t]))
    assert op.results[0].type == t
    assert hash(op.results[1].type) == hash(t)
    assert str(op.results[0].type) == str(t)


@settings(max_examples=200)
@given(locations())
def test_location_prints_and_parses_to_an_equal_location(loc):
    op = _reparsed_op(_op_with(location=loc))
    assert op.location == loc


# ---------------------------------------------------------------------------------------------
# 3. Through xDSL


def _xdsl_round_trip(text: str) -> str:
    """xDSL reads `text`, verifies it, and prints it back in the generic form."""
    from xdsl.context import Context
    from xdsl.dialects.arith import Arith
    from xdsl.dialects.builtin import Builtin
    from xdsl.dialects.func import Func
    from xdsl.parser import Parser
    from xdsl.printer import Printer

    ctx = Context(allow_unregistered=True)
    for dialect in (Builtin, Func, Arith):
        ctx.load_dialect(dialect)
    module = Parser(ctx, text).parse_module()
    module.verify()
    out = io.StringIO()
    Printer(stream=out, print_generic_format=True).print_op(module)
    return out.getvalue()


# What xDSL understands: no locations (it reads few of their forms), ASCII strings (it does not
# turn `\C3\A9` back into text), not arith.cmpi or arith.select (scalars only in xDSL), and no
# inf or NaN in dense arrays (`xdsl_limitation`).
XDSL_MODULES = modules(locations=False, ascii=True, ops=("constant", "binary", "negf", "call"))


def xdsl_limitation(module: Operation) -> str | None:
    for op in module.walk():
        for a in (*op.attributes.values(), *op.properties.values()):
            for x in _nested(a):
                if isinstance(x, DenseArrayAttr) and any(isinstance(v, float) and not math.isfinite(v)
                                                         for v in x.values):
                    return "xDSL reads no hex floats (inf, NaN) in array<f32: ...>"
    return None


def _xdsl_reads(text: str) -> bool:
    from xdsl.utils.exceptions import ParseError

    try:
        _xdsl_round_trip(text)
    except ParseError:
        return False
    return True


@settings(max_examples=25)
@given(XDSL_MODULES)
def test_xdsl_reads_lamina_and_lamina_reads_xdsl(module):
    assume(xdsl_limitation(module) is None)
    ours = print_ir(module, generic=True)
    theirs = _xdsl_round_trip(ours)           # xDSL parses and verifies lamina's text
    # xDSL 0.75 names a value by its hint less a _N suffix, and counts per hint, not per name
    # printed: %x, %x_1, %x_1_1 come back as %x, %x_1, %x_1, which xDSL cannot read either
    assume(_xdsl_reads(theirs))
    back = parse(theirs)  # arith knows xDSL's #arith.fastmath and #arith.overflow flags
    verify(back)
    assert _xdsl_round_trip(print_ir(back, generic=True)) == theirs


def test_xdsl_round_trip_of_a_known_module_keeps_names_and_adds_fastmath():
    text = ('func.func @f(%x: f32) -> f32 {\n  %y = arith.addf %x, %x : f32\n  func.return %y : f32\n}\n')
    theirs = _xdsl_round_trip(print_ir(parse(text), generic=True))
    assert theirs == (
        '"builtin.module"() ({\n'
        '  "func.func"() <{function_type = (f32) -> f32, sym_name = "f"}> ({\n'
        '  ^bb0(%x: f32):\n'
        '    %y = "arith.addf"(%x, %x) <{fastmath = #arith.fastmath<none>}> : (f32, f32) -> f32\n'
        '    "func.return"(%y) : (f32) -> ()\n'
        '  }) : () -> ()\n'
        '}) : () -> ()')
    back = parse(theirs)
    assert print_ir(back) == (
        'module {\n'
        '  func.func @f(%x: f32) -> f32 {\n'
        '    %y = "arith.addf"(%x, %x) <{fastmath = #arith.fastmath<none>}> : (f32, f32) -> f32\n'
        '    return %y : f32\n'
        '  }\n'
        '}\n')


# ---------------------------------------------------------------------------------------------
# Bugs these tests found, each as its smallest example


def test_bug3_return_of_a_function_typed_value_round_trips():
    """A function-typed operand would make `: () -> ()` read as the op's type: generic form."""
    text = ("module {\n  func.func @f(%arg0: () -> ()) -> (() -> ()) {\n"
            '    "func.return"(%arg0) : (() -> ()) -> ()\n  }\n}\n')
    assert print_ir(parse(text)) == text


def test_bug4_empty_dense_of_rank_2_round_trips():
    text = "%0 = arith.constant dense<[]> : tensor<0x3xf32>\n"
    assert str(parse(text).block.first_op.value) == "dense<> : tensor<0x3xf32>"


def test_bug5_opaque_type_body_with_an_arrow_parses():
    m = parse('%0 = "test.op"() : () -> !test.fn<(i32) -> f32>\n', allow_unregistered=True)
    assert str(m.block.first_op.results[0].type) == "!test.fn<(i32) -> f32>"


def test_integer_attr_of_i1_is_the_bool_attr():
    """Not a bug, a reminder of the semantics the round trip relies on: `true` is i1 1."""
    op = parse('"test.op"() {a = true} : () -> ()', allow_unregistered=True).block.first_op
    assert op.attributes["a"] == IntegerAttr(1, i1)
