"""The verifier through the Python API: each broken rule and its exact message."""

import pytest

from lamina.compiler.attributes import FloatAttr, StringAttr, TypeAttr, UnitAttr
from lamina.compiler.builder import Builder
from lamina.compiler.errors import SourcePos, VerifyError
from lamina.compiler.ir import Block, Operation, Region
from lamina.compiler.location import NameLoc
from lamina.compiler.opdef import Dialect, Op, Operand, RegionDef, Result, Terminator
from lamina.compiler.types import FunctionType, f32, f64, i32, tensor
from lamina.compiler.verifier import verify, verify_all
from lamina.dialects.arith import AddFOp, ConstantOp, NegFOp
from lamina.dialects.builtin import ModuleOp
from lamina.dialects.func import FuncOp, ReturnOp


def module_with_function(name="f", inputs=(f32,), results=(f32,)):
    module = ModuleOp.empty()
    fn = FuncOp.create_with_body(name, inputs, results)
    module.block.append(fn)
    return module, fn, Builder.at_end(fn.entry)


def ret(b, *values):
    return b.create(ReturnOp, *values, result_types=[])


def message(op) -> str:
    with pytest.raises(VerifyError) as info:
        verify(op)
    return info.value.message


# -- a valid module ---------------------------------------------------------------------------------


def test_valid_module_passes_and_has_no_errors():
    module, fn, b = module_with_function()
    x = fn.entry.args[0]
    ret(b, b.create(AddFOp, x, b.create(NegFOp, x).result).result)
    assert verify(module) is None
    assert verify_all(module) == []


# -- the op's declaration ----------------------------------------------------------------------------


def test_operand_type_names_the_operand():
    module, fn, b = module_with_function(inputs=(i32,), results=(i32,))
    x = fn.entry.args[0]
    add = b.insert(AddFOp(operands=[x, x], result_types=[i32]))
    ret(b, add.result)
    assert message(module) == "'arith.addf' op operand 'lhs' must be a float or a tensor of floats, but got i32"


def test_operand_count():
    module, fn, b = module_with_function()
    add = b.insert(AddFOp(operands=[fn.entry.args[0]], result_types=[f32]))
    ret(b, add.result)
    assert message(module) == "'arith.addf' op expects 2 operands, but got 1"


def test_result_count():
    module, fn, b = module_with_function(results=())
    x = fn.entry.args[0]
    b.insert(AddFOp(operands=[x, x], result_types=[]))
    ret(b)
    assert message(module) == "'arith.addf' op expects 1 result, but got 0"


def test_result_type_names_the_result():
    module, fn, b = module_with_function(results=(i32,))
    x = fn.entry.args[0]
    neg = b.insert(NegFOp(operands=[x], result_types=[i32]))
    ret(b, neg.result)
    assert message(module) == "'arith.negf' op result 'result' must be a float or a tensor of floats, but got i32"


def test_missing_attribute():
    fn = FuncOp(properties={"function_type": TypeAttr(FunctionType((), ()))}, regions=[Region()])
    assert message(fn) == "'func.func' op requires attribute 'sym_name'"


def test_attribute_of_the_wrong_kind():
    module, fn, b = module_with_function(inputs=(), results=())
    b.insert(ConstantOp(result_types=[f32], properties={"value": StringAttr("one")}))
    ret(b)
    assert message(module) == ("'arith.constant' op attribute 'value' must be an IntegerAttr, FloatAttr or "
                               "DenseElementsAttr, but got \"one\"")


def test_unknown_property_is_rejected():
    module, fn, b = module_with_function()
    x = fn.entry.args[0]
    add = b.insert(AddFOp(operands=[x, x], result_types=[f32], properties={"foo": UnitAttr()}))
    ret(b, add.result)
    assert message(module) == "'arith.addf' op has no property 'foo' (its properties: fastmath)"


def test_region_count():
    fn = FuncOp(properties={"sym_name": StringAttr("f"), "function_type": TypeAttr(FunctionType((), ()))})
    assert message(fn) == "'func.func' op expects 1 region, but got 0"


def test_single_block_region():
    module, fn, b = module_with_function(inputs=(), results=())
    ret(b)
    extra = fn.body.add_block(Block())
    Builder.at_end(extra).create(ReturnOp, result_types=[])
    assert message(module) == "'func.func' op region 'body' must have at most one block, but has 2"


def test_trait_verifier_runs():
    module, fn, b = module_with_function(inputs=(f32, f32), results=(f64,))
    x, y = fn.entry.args
    add = b.insert(AddFOp(operands=[x, y], result_types=[f64]))
    ret(b, add.result)
    assert message(module) == ("'arith.addf' op requires the same type for all operands and results, "
                               "but got f32, f32, f64")


def test_op_verify_runs_with_its_message():
    module, fn, b = module_with_function(inputs=(tensor(2, f32),), results=(tensor(3, f32),))
    ret(b, fn.entry.args[0])
    assert message(module) == ("'func.return' op returns tensor<2xf32> but the enclosing function @f "
                               "returns tensor<3xf32>")


vtest = Dialect("vtest", "ops for verifier tests")


@vtest.op
class CopyOp(Op):
    """A copy whose result type is inferred from its operand."""

    name = "vtest.copy"
    source = Operand()
    result = Result()

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        return [operand_types[0]]


@vtest.op
class CfgOp(Op):
    """A registered op with a multi-block region whose blocks need no terminator."""

    name = "vtest.cfg"
    body = RegionDef(single_block=False)


@vtest.op
class EndOp(Op):
    name = "vtest.end"
    traits = (Terminator,)


def test_inferred_result_types_must_match():
    module, fn, b = module_with_function(results=(f64,))
    copy = b.insert(CopyOp(operands=[fn.entry.args[0]], result_types=[f64]))
    ret(b, copy.result)
    assert message(module) == "'vtest.copy' op has result types f64, but its operands and attributes give f32"


def test_has_parent():
    module = ModuleOp.empty()
    Builder.at_end(module.block).create(ReturnOp, result_types=[])
    assert message(module) == "'func.return' op expects its parent op to be 'func.func'"


# -- terminators -------------------------------------------------------------------------------------


def test_block_must_end_with_a_terminator():
    module, fn, b = module_with_function()
    b.create(NegFOp, fn.entry.args[0])
    assert message(module) == ("'func.func' op has a block in region 'body' that ends with 'arith.negf', "
                               "which is not a terminator")


def test_empty_block_needs_a_terminator():
    module, fn, b = module_with_function(inputs=(), results=())
    assert message(module) == ("'func.func' op has an empty block in region 'body', but each block there "
                               "must end with a terminator")


def test_terminator_must_be_last():
    module, fn, b = module_with_function(inputs=(), results=())
    ret(b)
    ret(b)
    assert message(module) == "'func.return' op must be the last op of its block"


def test_no_terminator_region_and_unregistered_last_op_are_fine():
    module, fn, b = module_with_function(inputs=(), results=())
    b.insert(Operation(name="test.end"))  # an unregistered op may be a terminator
    assert verify_all(module) == []


def test_successor_in_another_region():
    outer = Region([Block()])
    elsewhere = Region([Block()])
    Operation(name="test.other", regions=[elsewhere])
    Operation(name="test.cfg", regions=[outer])
    outer.blocks[0].append(Operation(name="test.br", successors=[elsewhere.blocks[0]]))
    assert message(outer.parent) == ("'test.br' op has successor #0, which is not a block of the region "
                                     "that holds the op")


# -- SSA: definitions, dominance, isolation ---------------------------------------------------------


def test_use_before_definition_in_a_block():
    module, fn, b = module_with_function()
    x = fn.entry.args[0]
    neg = NegFOp.build(x)
    add = b.create(AddFOp, x, neg.result)
    b.insert(neg)
    ret(b, add.result)
    assert message(module) == "'arith.addf' op uses %1 before it is defined"


def test_op_reading_its_own_result():
    module, fn, b = module_with_function()
    x = fn.entry.args[0]
    add = b.create(AddFOp, x, x)
    add.set_operand(1, add.result)
    ret(b, add.result)
    assert message(module) == "'arith.addf' op uses %0 before it is defined"


def test_graph_region_allows_use_before_definition():
    module = ModuleOp.empty()
    b = Builder.at_end(module.block)
    const = ConstantOp.from_attr(FloatAttr(1.0, f32))
    b.create(NegFOp, const.result)
    b.insert(const)
    assert verify_all(module) == []


def test_value_from_outside_an_isolated_op():
    module = ModuleOp.empty()
    const = Builder.at_end(module.block).create(ConstantOp, value=FloatAttr(1.0, f32))
    fn = FuncOp.create_with_body("f", [], [f32])
    module.block.append(fn)
    b = Builder.at_end(fn.entry)
    ret(b, b.create(NegFOp, const.result).result)
    assert message(module) == ("'arith.negf' op uses %0 defined outside func.func @f, which is isolated "
                               "from above")


def test_value_from_a_region_that_does_not_enclose_the_use():
    module, f, bf = module_with_function("f")
    neg = bf.create(NegFOp, f.entry.args[0])
    ret(bf, neg.result)
    g = FuncOp.create_with_body("g", [], [f32])
    module.block.append(g)
    ret(Builder.at_end(g.entry), neg.result)
    assert message(module) == "'func.return' op uses %0, which is defined in a region that does not enclose it"


def test_value_whose_definer_was_detached():
    module, fn, b = module_with_function()
    neg = b.create(NegFOp, fn.entry.args[0])
    ret(b, neg.result)
    neg.detach()
    assert message(module) == ("'func.return' op uses %<<UNKNOWN VALUE>>, whose definition is not in the IR "
                               "(was it erased?)")


def test_result_of_the_enclosing_op():
    outer = Operation(name="test.wrap", result_types=[f32], regions=[Region([Block()])])
    outer.regions[0].blocks[0].append(NegFOp.build(outer.results[0]))
    module = ModuleOp.empty()
    module.block.append(outer)
    assert message(module) == "'arith.negf' op uses %0, a result of the op 'test.wrap' that encloses it"


def test_simplified_dominance_across_blocks():
    entry, second, third = Block([f32]), Block(), Block()
    CfgOp(regions=[Region([entry, second, third])])  # registered: unregistered ones may be graph regions
    x = entry.args[0]
    from_entry = Builder.at_end(second).create(NegFOp, x)  # the entry block dominates: fine
    Builder.at_end(third).create(NegFOp, from_entry.result)  # a sibling block does not
    for block in (entry, second, third):
        block.append(EndOp())
    module = ModuleOp.empty()
    module.block.append(entry.parent.parent)
    assert message(module) == ("'arith.negf' op uses %0, which is defined in a block that does not "
                               "dominate this use")


def test_op_held_by_two_blocks():
    module, f, bf = module_with_function("f", inputs=(), results=())
    ret(bf)
    g = FuncOp.create_with_body("g", [], [])
    module.block.append(g)
    g.entry.first_op = g.entry.last_op = f.entry.first_op  # corrupted by hand
    assert message(module) == "'func.func' op holds 'func.return' in region #0, but that op says it is elsewhere"


# -- the error object -----------------------------------------------------------------------------------


def test_error_carries_position_generic_op_and_location():
    module, fn, b = module_with_function(inputs=(i32,), results=(i32,))
    x = fn.entry.args[0]
    add = b.insert(AddFOp(operands=[x, x], result_types=[i32], location=NameLoc("n1")))
    add.source_pos = SourcePos("t.mlir", 3, 5, "    %0 = arith.addf %arg0, %arg0 : i32")
    ret(b, add.result)
    with pytest.raises(VerifyError) as info:
        verify(module)
    error = info.value
    assert error.pos == add.source_pos
    assert error.notes == ['see op: %0 = "arith.addf"(%arg0, %arg0) : (i32, i32) -> i32',
                           'location: loc("n1")']
    assert error.render() == (
        "t.mlir:3:5: error: 'arith.addf' op operand 'lhs' must be a float or a tensor of floats, but got i32\n"
        "    %0 = arith.addf %arg0, %arg0 : i32\n"
        "    ^\n"
        "see op: %0 = \"arith.addf\"(%arg0, %arg0) : (i32, i32) -> i32\n"
        "location: loc(\"n1\")")


def test_see_op_elides_regions():
    module, fn, b = module_with_function(inputs=(), results=())
    with pytest.raises(VerifyError) as info:
        verify(module)
    assert info.value.notes == ['see op: "func.func"() <{function_type = () -> (), sym_name = "f"}> ({...}) '
                                ': () -> ()']
    assert info.value.pos is None


def test_verify_all_lists_one_error_per_broken_op():
    module, fn, b = module_with_function(inputs=(i32,), results=(i32,))
    x = fn.entry.args[0]
    bad_add = b.insert(AddFOp(operands=[x, x], result_types=[i32]))
    b.insert(NegFOp(operands=[bad_add.result], result_types=[i32]))
    ret(b, bad_add.result)
    assert [e.message for e in verify_all(module)] == [
        "'arith.addf' op operand 'lhs' must be a float or a tensor of floats, but got i32",
        "'arith.negf' op operand 'operand' must be a float or a tensor of floats, but got i32",
    ]
