"""The IR core through its Python API: builder, walk, clone, erase, use lists, symbol tables."""

import pytest

from lamina.compiler.attributes import FloatAttr, StringAttr
from lamina.compiler.builder import Builder, InsertionPoint
from lamina.compiler.ir import Block, Operation, Region
from lamina.compiler.location import NameLoc
from lamina.compiler.printer import print_ir
from lamina.compiler.symbols import SymbolTable
from lamina.compiler.types import f32
from lamina.dialects.arith import AddFOp, ConstantOp, MulFOp, NegFOp
from lamina.dialects.builtin import ModuleOp
from lamina.dialects.func import FuncOp, ReturnOp


def module_with_function(name="f", inputs=(f32,), results=(f32,)):
    """A module holding one empty function; returns (module, function, builder at its end)."""
    module = ModuleOp.empty()
    fn = FuncOp.create_with_body(name, inputs, results)
    module.block.append(fn)
    return module, fn, Builder.at_end(fn.entry)


def names(ops):
    return [op.name for op in ops]


# -- builder ------------------------------------------------------------------------------------


def test_builder_appends_in_order_at_end():
    module, fn, b = module_with_function()
    x = fn.entry.args[0]
    n = b.create(NegFOp, x)
    s = b.create(AddFOp, n.result, x)
    b.create(ReturnOp, s.result, result_types=[])
    assert print_ir(module) == (
        "module {\n"
        "  func.func @f(%arg0: f32) -> f32 {\n"
        "    %0 = arith.negf %arg0 : f32\n"
        "    %1 = arith.addf %0, %arg0 : f32\n"
        "    return %1 : f32\n"
        "  }\n"
        "}\n")


def test_builder_insertion_points_before_after_and_start():
    module, fn, b = module_with_function()
    x = fn.entry.args[0]
    middle = b.create(NegFOp, x)
    b.create(ReturnOp, middle.result, result_types=[])
    after = Builder.after(middle)
    a1 = after.create(AddFOp, x, x)
    a2 = after.create(MulFOp, x, x)  # lands after a1, not between middle and a1
    Builder.before(middle).create(ConstantOp, value=FloatAttr(1.0, f32))
    Builder.at_start(fn.entry).create(ConstantOp, value=FloatAttr(2.0, f32))
    assert names(fn.entry) == ["arith.constant", "arith.constant", "arith.negf", "arith.addf",
                               "arith.mulf", "func.return"]
    assert fn.entry.ops[3] is a1 and fn.entry.ops[4] is a2
    assert [op.value.value for op in fn.entry.ops[:2]] == [2.0, 1.0]


def test_builder_context_manager_moves_and_restores():
    module, fn, b = module_with_function()
    x = fn.entry.args[0]
    ret = b.create(ReturnOp, x, result_types=[])
    with b.at(InsertionPoint.before(ret)) as moved:
        assert moved is b
        b.create(NegFOp, x)
    b.create(AddFOp, x, x)  # back at the end: after the return
    assert names(fn.entry) == ["arith.negf", "func.return", "arith.addf"]
    assert b.point == InsertionPoint.at_end(fn.entry)


def test_builder_gives_its_location_and_insert_returns_the_op():
    module, fn, _ = module_with_function()
    b = Builder(InsertionPoint.at_end(fn.entry), location=NameLoc("n1"))
    neg = b.create(NegFOp, fn.entry.args[0])
    op = NegFOp.build(neg.result)
    assert b.insert(op) is op
    assert neg.location == NameLoc("n1")
    assert fn.entry.ops == [neg, op]


def test_builder_without_insertion_point_says_so():
    with pytest.raises(ValueError, match="the builder has no insertion point"):
        Builder().create(ConstantOp, value=FloatAttr(1.0, f32))


def test_insertion_point_next_to_a_detached_op_is_refused():
    op = ConstantOp.from_attr(FloatAttr(1.0, f32))
    with pytest.raises(ValueError, match="arith.constant is not in a block"):
        Builder.after(op)


# -- walk ---------------------------------------------------------------------------------------


def build_neg_add_return():
    module, fn, b = module_with_function()
    x = fn.entry.args[0]
    n = b.create(NegFOp, x)
    s = b.create(AddFOp, n.result, x)
    b.create(ReturnOp, s.result, result_types=[])
    return module, fn, n, s


def test_walk_pre_and_post_order():
    module, *_ = build_neg_add_return()
    assert names(module.walk()) == ["builtin.module", "func.func", "arith.negf", "arith.addf", "func.return"]
    assert names(module.walk(order="post")) == ["arith.negf", "arith.addf", "func.return", "func.func",
                                                "builtin.module"]


def test_walk_survives_erasing_the_op_just_seen():
    module, fn, n, s = build_neg_add_return()
    seen = []
    for op in module.walk():
        seen.append(op.name)
        if isinstance(op, NegFOp):
            s.set_operand(0, fn.entry.args[0])
            op.erase()
    assert seen == ["builtin.module", "func.func", "arith.negf", "arith.addf", "func.return"]
    assert names(fn.entry) == ["arith.addf", "func.return"]


def test_walk_rejects_unknown_order():
    with pytest.raises(ValueError, match="order is 'pre' or 'post'"):
        list(ModuleOp.empty().walk(order="in"))


# -- clone ----------------------------------------------------------------------------------------


def test_clone_function_is_independent():
    module, fn, n, s = build_neg_add_return()
    original = (
        "func.func @f(%arg0: f32) -> f32 {\n"
        "  %0 = arith.negf %arg0 : f32\n"
        "  %1 = arith.addf %0, %arg0 : f32\n"
        "  return %1 : f32\n"
        "}\n")
    assert print_ir(fn) == original
    copy = fn.clone()
    copy.sym_name = StringAttr("g")
    SymbolTable(module).insert(copy)
    # the clone reads its own block argument and its own results
    c_neg, c_add, c_ret = copy.entry.ops
    assert c_neg.operands[0] is copy.entry.args[0]
    assert c_add.operands == (c_neg.result, copy.entry.args[0])
    assert c_ret.operands == (c_add.result,)
    # changing the clone leaves the original alone
    c_add.set_operand(1, c_neg.result)
    assert print_ir(fn) == original
    assert [u.operation for u in n.result.uses] == [s]
    assert print_ir(copy) == (
        "func.func @g(%arg0: f32) -> f32 {\n"
        "  %0 = arith.negf %arg0 : f32\n"
        "  %1 = arith.addf %0, %0 : f32\n"
        "  return %1 : f32\n"
        "}\n")


def test_clone_with_mapping_remaps_operands_and_records_results():
    module, fn, n, s = build_neg_add_return()
    other = Block([f32])
    mapping = {fn.entry.args[0]: other.args[0]}
    add_copy = s.clone(mapping)
    assert add_copy.operands == (n.result, other.args[0])  # n is not in the mapping: kept
    assert mapping[s.result] is add_copy.result
    assert add_copy.parent is None and add_copy is not s


# -- erase and uses --------------------------------------------------------------------------------


def test_erase_refuses_while_results_are_used_and_names_users():
    module, fn, n, s = build_neg_add_return()
    fn.entry.ops[-1].set_operand(0, n.result)  # now read by addf and func.return
    with pytest.raises(ValueError) as info:
        n.erase()
    assert str(info.value) == "cannot erase arith.negf: result 0 is still used by arith.addf, func.return"
    assert n.parent is fn.entry


def test_erase_drops_operand_uses():
    module, fn, n, s = build_neg_add_return()
    x = fn.entry.args[0]
    ret = fn.entry.ops[-1]
    ret.set_operand(0, x)
    s.erase()
    assert [(u.operation.name, u.index) for u in x.uses] == [("arith.negf", 0), ("func.return", 0)]
    assert n.result.uses == []
    assert names(fn.entry) == ["arith.negf", "func.return"]


def test_replace_all_uses_with():
    module, fn, n, s = build_neg_add_return()
    x = fn.entry.args[0]
    n.result.replace_all_uses_with(x)
    assert n.result.uses == []
    assert s.operands == (x, x)
    assert [(u.operation.name, u.index) for u in x.uses] == [("arith.negf", 0), ("arith.addf", 1),
                                                             ("arith.addf", 0)]
    assert x.users == [n, s]


def test_detach_and_reinsert_keeps_operands():
    module, fn, n, s = build_neg_add_return()
    n.detach()
    fn.entry.insert_before(n, fn.entry.ops[-1])
    assert names(fn.entry) == ["arith.addf", "arith.negf", "func.return"]
    assert s.operands[0] is n.result


def test_insert_twice_is_refused():
    module, fn, n, s = build_neg_add_return()
    with pytest.raises(ValueError, match="arith.negf is already in a block; detach it first"):
        fn.entry.append(n)


def test_region_cannot_belong_to_two_ops():
    region = Region([Block()])
    Operation(name="test.a", regions=[region])
    with pytest.raises(ValueError, match="the region already belongs to an op"):
        Operation(name="test.b", regions=[region])


# -- symbol tables -----------------------------------------------------------------------------------


def test_symbol_table_lookup_and_insert_with_renaming():
    module, f, _ = module_with_function("f")
    table = SymbolTable(module)
    assert table.lookup("f") is f
    assert table.lookup("g") is None
    second = FuncOp.create_with_body("f", [f32], [f32])
    third = FuncOp.create_with_body("f", [f32], [f32])
    assert table.insert(second) == "f_1"
    assert table.insert(third) == "f_2"
    assert second.sym_name == StringAttr("f_1")
    assert table.lookup("f_1") is second and table.lookup("f_2") is third
    assert [op.sym_name.value for op in module.block] == ["f", "f_1", "f_2"]
    table.erase(second)
    assert table.lookup("f_1") is None
    assert [op.sym_name.value for op in module.block] == ["f", "f_2"]
