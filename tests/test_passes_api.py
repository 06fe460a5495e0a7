"""Passes through the Python API: registry, pipeline strings, the pass manager, cse and dce."""

import io
from dataclasses import dataclass

import pytest

from lamina.compiler.attributes import FloatAttr
from lamina.compiler.builder import Builder
from lamina.compiler.errors import PassError, VerifyError
from lamina.compiler.ir import Block, Operation, Region
from lamina.compiler.passes import (Pass, PassManager, get_pass, list_passes, parse_pipeline,
                                    register_pass, run_pipeline)
from lamina.compiler.passes.canonicalize import CanonicalizePass
from lamina.compiler.passes.cse import CSEPass
from lamina.compiler.passes.dce import DCEPass
from lamina.compiler.printer import print_ir
from lamina.compiler.types import f32
from lamina.dialects.arith import AddFOp, ConstantOp, MulFOp, NegFOp, SubFOp
from lamina.dialects.builtin import ModuleOp
from lamina.dialects.func import FuncOp, ReturnOp


def module_with_function(inputs=(f32,), results=(f32,)):
    module = ModuleOp.empty()
    fn = FuncOp.create_with_body("f", inputs, results)
    module.block.append(fn)
    return module, fn, Builder.at_end(fn.entry)


def ret(b, *values):
    return b.create(ReturnOp, *values, result_types=[])


def const(b, value):
    return b.create(ConstantOp, value=FloatAttr(value, f32)).result


# -- test passes (registered once, for this file) --------------------------------------------------


@register_pass
@dataclass(frozen=True)
class OptionsDemoPass(Pass):
    """Does nothing; has one option of each supported type."""

    name = "options-demo"
    summary = "a pass with options of each type"
    count: int = 1
    ratio: float = 0.5
    enabled: bool = False
    label: str = "x"
    sizes: tuple[int, ...] = ()

    def run(self, module):
        self.statistics["runs"] += 1


@register_pass
@dataclass(frozen=True)
class BreakIRPass(Pass):
    """Appends an op after the function's terminator."""

    name = "break-ir"
    summary = "make the IR invalid"

    def run(self, module):
        fn = module.block.first_op
        fn.entry.append(NegFOp.build(fn.entry.args[0]))


# -- registry --------------------------------------------------------------------------------------


def test_list_passes_includes_builtin_passes_and_loads_lazily():
    assert {"canonicalize", "cse", "dce", "options-demo", "break-ir"} <= set(list_passes())
    assert list_passes() == sorted(list_passes())
    assert get_pass("cse") is CSEPass
    assert get_pass("no-such-pass") is None


def test_register_pass_requires_kebab_case_and_frozen_dataclass():
    with pytest.raises(TypeError, match="a pass name is kebab-case"):
        register_pass(type("BadPass", (Pass,), {"name": "Bad_Name"}))

    class NotADataclassPass(Pass):
        name = "not-a-dataclass"
        level: int = 1

    with pytest.raises(TypeError, match=r"NotADataclassPass: declare the pass with @dataclass\(frozen=True\)"):
        register_pass(NotADataclassPass)


# -- pipeline strings ------------------------------------------------------------------------------


def test_parse_simple_pipeline():
    assert parse_pipeline("canonicalize,cse,dce") == [CanonicalizePass(), CSEPass(), DCEPass()]
    assert parse_pipeline(" cse , dce ") == [CSEPass(), DCEPass()]
    assert parse_pipeline("") == []


def test_parse_options_of_each_type():
    (p,) = parse_pipeline('options-demo{count=3 ratio=0.25 enabled=true label="a b" sizes=4,8,16}')
    assert p == OptionsDemoPass(count=3, ratio=0.25, enabled=True, label="a b", sizes=(4, 8, 16))
    assert parse_pipeline("options-demo{enabled}")[0].enabled is True
    assert parse_pipeline("options-demo{enabled=0 count=0x10}")[0] == OptionsDemoPass(count=16)
    assert parse_pipeline("canonicalize{max_iterations=2 fold=false}") == [
        CanonicalizePass(max_iterations=2, fold=False)]


def test_pipeline_text_round_trips():
    passes = parse_pipeline("canonicalize{max-iterations=3},cse,options-demo{sizes=1,2 label=y}")
    assert PassManager(passes).pipeline_text == "canonicalize{max-iterations=3},cse,options-demo{label=y sizes=1,2}"


def pass_error(pipeline: str) -> PassError:
    with pytest.raises(PassError) as info:
        parse_pipeline(pipeline)
    return info.value


def test_unknown_pass_lists_known_and_suggests_closest():
    error = pass_error("canonicalize,csee")
    assert error.message == "unknown pass 'csee'"
    assert error.hint == "did you mean 'cse'?"
    assert error.notes == [f"known passes: {', '.join(list_passes())}"]
    assert (error.pos.file, error.pos.line, error.pos.col) == ("<pipeline>", 1, 14)


def test_unknown_option_lists_the_options():
    error = pass_error("canonicalize{max-iter=3}")
    assert error.message == "pass 'canonicalize' has no option 'max-iter'"
    assert error.hint == "its options are: max-iterations (an integer), fold (true or false)"
    assert error.pos.col == 14
    assert pass_error("cse{x=1}").hint == "'cse' takes no options"


def test_bad_option_values():
    assert pass_error("canonicalize{max-iterations=many}").message == (
        "option 'max-iterations' of pass 'canonicalize' expects an integer, but got 'many'")
    assert pass_error("canonicalize{fold=yes}").message == (
        "option 'fold' of pass 'canonicalize' expects true or false, but got 'yes'")
    assert pass_error("options-demo{sizes=1,b}").message == (
        "option 'sizes' of pass 'options-demo' expects a comma-separated list of an integer, but got '1,b'")
    assert pass_error("canonicalize{max-iterations}").message == (
        "option 'max-iterations' of pass 'canonicalize' needs a value (max-iterations=...)")


def test_malformed_pipelines():
    assert pass_error("cse,,dce").message == "expected a pass name"
    assert pass_error("cse{").message == "missing '}' to close the options"
    assert pass_error("cse}").message == "unmatched '}'"
    assert pass_error("func.func(cse)").message == "nested pipelines like 'func.func(cse)' are not supported"


# -- cse ---------------------------------------------------------------------------------------------


def test_cse_merges_equal_ops_and_keeps_different_ones():
    module, fn, b = module_with_function()
    x = fn.entry.args[0]
    c1, c2, c3 = const(b, 1.0), const(b, 1.0), const(b, 2.0)
    a1 = b.create(AddFOp, x, c1)
    a2 = b.create(AddFOp, x, c2)   # equal to a1 once c2 is merged into c1
    a3 = b.create(AddFOp, c1, x)   # different operand order: kept
    m = b.create(MulFOp, x, c3)    # different op: kept
    s = b.create(AddFOp, a1.result, a2.result)
    s = b.create(AddFOp, s.result, a3.result)
    ret(b, b.create(AddFOp, s.result, m.result).result)
    p = CSEPass()
    p.run(module)
    assert print_ir(module) == (
        "module {\n"
        "  func.func @f(%arg0: f32) -> f32 {\n"
        "    %0 = arith.constant 1.000000e+00 : f32\n"
        "    %1 = arith.constant 2.000000e+00 : f32\n"
        "    %2 = arith.addf %arg0, %0 : f32\n"
        "    %3 = arith.addf %0, %arg0 : f32\n"
        "    %4 = arith.mulf %arg0, %1 : f32\n"
        "    %5 = arith.addf %2, %2 : f32\n"
        "    %6 = arith.addf %5, %3 : f32\n"
        "    %7 = arith.addf %6, %4 : f32\n"
        "    return %7 : f32\n"
        "  }\n"
        "}\n")
    assert p.statistics == {"arith.constant merged": 1, "arith.addf merged": 1}


def test_cse_reuses_values_from_enclosing_regions_but_not_sibling_blocks():
    entry, other = Block([f32]), Block()
    region_op = Operation(name="test.cfg", regions=[Region([entry, other])])
    x = entry.args[0]
    outer_neg = Builder.at_end(entry).create(NegFOp, x)
    inner_neg = Builder.at_end(other).create(NegFOp, x)          # same as outer_neg: merged
    inner_sub = Builder.at_end(other).create(SubFOp, x, x)       # same as late_sub below: merged
    Builder.at_end(other).create(AddFOp, inner_neg.result, inner_sub.result)
    late_sub = Builder.at_end(entry).create(SubFOp, x, x)       # the whole entry block dominates `other`
    third = region_op.regions[0].add_block(Block())
    third_neg = Builder.at_end(third).create(NegFOp, inner_neg.result)
    sibling_neg = Builder.at_end(other).create(NegFOp, inner_neg.result)  # `other` does not dominate `third`
    module = ModuleOp.empty()
    module.block.append(region_op)
    CSEPass().run(module)
    assert [op.name for op in entry] == ["arith.negf", "arith.subf"]
    assert [op.name for op in other] == ["arith.addf", "arith.negf"]
    assert other.first_op.operands == (outer_neg.result, late_sub.result)
    assert third.ops == [third_neg] and sibling_neg.parent is other
    assert third_neg.operands == (outer_neg.result,)


def test_cse_does_not_merge_across_isolated_ops():
    module = ModuleOp.empty()
    for name in ("f", "g"):
        fn = FuncOp.create_with_body(name, [], [f32])
        module.block.append(fn)
        b = Builder.at_end(fn.entry)
        ret(b, const(b, 1.0))
    CSEPass().run(module)
    assert [len(fn.entry) for fn in module.block] == [2, 2]


# -- dce ---------------------------------------------------------------------------------------------


def test_dce_removes_dead_chains_in_one_sweep_and_keeps_live_ops():
    module, fn, b = module_with_function()
    x = fn.entry.args[0]
    dead = x
    for _ in range(3):
        dead = b.create(NegFOp, dead).result
    b.create(AddFOp, dead, const(b, 2.0))
    live = b.create(MulFOp, x, x)
    ret(b, live.result)
    p = DCEPass()
    p.run(module)
    assert [op.name for op in fn.entry] == ["arith.mulf", "func.return"]
    assert p.statistics == {"arith.addf erased": 1, "arith.constant erased": 1, "arith.negf erased": 3}


def test_dce_keeps_unregistered_ops_and_cleans_nested_regions_first():
    module, fn, b = module_with_function(results=())
    x = fn.entry.args[0]
    neg = b.create(NegFOp, x)                     # only read inside the region below
    holder = b.insert(Operation(name="test.effect", regions=[Region([Block()])]))
    Builder.at_end(holder.regions[0].blocks[0]).create(AddFOp, neg.result, x)
    ret(b)
    DCEPass().run(module)
    assert [op.name for op in fn.entry] == ["test.effect", "func.return"]
    assert holder.regions[0].blocks[0].is_empty


# -- the pass manager ----------------------------------------------------------------------------------


def module_for_pipeline():
    """f(x) = negf(negf(x)) + (1.0 + 2.0), with a duplicate and a dead op."""
    module, fn, b = module_with_function()
    x = fn.entry.args[0]
    n = b.create(NegFOp, b.create(NegFOp, x).result)
    s = b.create(AddFOp, const(b, 1.0), const(b, 2.0))
    b.create(MulFOp, x, x)  # dead
    ret(b, b.create(AddFOp, n.result, s.result).result)
    return module


RESULT = ("module {\n"
          "  func.func @f(%arg0: f32) -> f32 {\n"
          "    %0 = arith.constant 3.000000e+00 : f32\n"
          "    %1 = arith.addf %arg0, %0 : f32\n"
          "    return %1 : f32\n"
          "  }\n"
          "}\n")


def test_run_pipeline_returns_the_module_changed_in_place():
    module = module_for_pipeline()
    assert run_pipeline(module, "canonicalize,cse,dce") is module
    assert print_ir(module) == RESULT


def test_print_ir_after_change_prints_only_changing_passes():
    out = io.StringIO()
    PassManager.parse("canonicalize,cse,dce", print_ir_after_change=True, stream=out).run(module_for_pipeline())
    assert out.getvalue() == "// -----// IR Dump After Canonicalize (canonicalize) //----- //\n" + RESULT + "\n"


def test_print_ir_before_and_after_named_passes():
    out = io.StringIO()
    module = module_for_pipeline()
    PassManager.parse("canonicalize,cse", print_ir_before=["cse"], print_ir_after=["cse"],
                      stream=out).run(module)
    assert out.getvalue() == ("// -----// IR Dump Before CSE (cse) //----- //\n" + RESULT + "\n"
                              "// -----// IR Dump After CSE (cse) //----- //\n" + RESULT + "\n")


def test_print_ir_after_all_in_generic_form():
    out = io.StringIO()
    module, fn, b = module_with_function(inputs=(), results=())
    ret(b)
    PassManager.parse("cse,dce", print_ir_after_all=True, generic=True, stream=out).run(module)
    generic = ('"builtin.module"() ({\n'
               '  "func.func"() <{function_type = () -> (), sym_name = "f"}> ({\n'
               '    "func.return"() : () -> ()\n'
               '  }) : () -> ()\n'
               '}) : () -> ()\n')
    assert out.getvalue() == ("// -----// IR Dump After CSE (cse) //----- //\n" + generic + "\n"
                              "// -----// IR Dump After DCE (dce) //----- //\n" + generic + "\n")


def test_timing_report():
    out = io.StringIO()
    pm = PassManager.parse("canonicalize,cse", timing=True, stream=out)
    pm.run(module_for_pipeline())
    assert [name for name, _ in pm.timings] == ["canonicalize", "cse", "(verifier)"]
    assert all(seconds >= 0 for _, seconds in pm.timings)
    lines = out.getvalue().splitlines()
    assert lines[1].strip() == "... Execution time report ..."
    assert lines[3].startswith("  Total Execution Time: ") and lines[3].endswith(" seconds")
    assert lines[5] == "  ----Wall Time----  ----Name----"
    assert [line.split(")  ")[1] for line in lines[6:10]] == ["canonicalize", "cse", "(verifier)", "Total"]
    assert lines[9].endswith("(100.0%)  Total")


def test_statistics_are_collected_and_printed():
    out = io.StringIO()
    pm = PassManager.parse("canonicalize,cse,options-demo", print_statistics=True, stream=out)
    pm.run(module_for_pipeline())
    assert [(p.name, dict(stats)) for p, stats in pm.statistics] == [
        ("canonicalize", {"NegNegIsIdentity": 1, "fold": 1, "dead op": 4}),
        ("cse", {}),
        ("options-demo", {"runs": 1}),
    ]
    assert out.getvalue().splitlines()[3:] == [
        "Canonicalize (canonicalize)",
        "  (S)    4 dead op",
        "  (S)    1 NegNegIsIdentity",
        "  (S)    1 fold",
        "CSE (cse)",
        "  (nothing recorded)",
        "OptionsDemo (options-demo)",
        "  (S)    1 runs",
        "",
    ]


def test_statistics_reset_between_runs():
    pm = PassManager.parse("options-demo")
    module = module_for_pipeline()
    pm.run(module)
    pm.run(module)
    assert dict(pm.statistics[0][1]) == {"runs": 1}


def test_verify_each_names_the_pass_that_broke_the_ir():
    with pytest.raises(VerifyError) as info:
        run_pipeline(module_for_pipeline(), "cse,break-ir,dce")
    assert info.value.message == ("pass 'break-ir' produced invalid IR: 'func.func' op has a block in region "
                                  "'body' that ends with 'arith.negf', which is not a terminator")


def test_invalid_input_is_not_blamed_on_a_pass():
    module, fn, b = module_with_function()
    b.create(NegFOp, fn.entry.args[0])
    with pytest.raises(VerifyError) as info:
        run_pipeline(module, "cse")
    assert info.value.message.startswith("the input IR is invalid: 'func.func' op has a block")


def test_verify_each_off_lets_broken_ir_through():
    module = module_for_pipeline()
    run_pipeline(module, "break-ir", verify_each=False)
    assert module.block.first_op.entry.last_op.name == "arith.negf"
