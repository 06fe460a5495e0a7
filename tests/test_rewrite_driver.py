"""The greedy rewrite driver: fixpoints, folds, statistics, and patterns that undo each other."""

import time
from collections import Counter

import pytest

from lamina.compiler.attributes import FloatAttr
from lamina.compiler.builder import Builder
from lamina.compiler.errors import PassError
from lamina.compiler.ir import BlockArgument, OpResult
from lamina.compiler.passes import run_pipeline
from lamina.compiler.printer import print_ir
from lamina.compiler.rewrite import PatternRewriter, RewritePattern, apply_patterns_greedily
from lamina.compiler.types import f32
from lamina.dialects.arith import AddFOp, ConstantOp, NegFOp, NegNegIsIdentity
from lamina.dialects.builtin import ModuleOp
from lamina.dialects.func import FuncOp, ReturnOp


def function(body):
    """A module with `f(x: f32) -> f32` whose body `body(builder, x)` returns the value to return."""
    module = ModuleOp.empty()
    fn = FuncOp.create_with_body("f", [f32], [f32])
    module.block.append(fn)
    b = Builder.at_end(fn.entry)
    b.create(ReturnOp, body(b, fn.entry.args[0]), result_types=[])
    return module


def negs(count):
    def body(b, x):
        for _ in range(count):
            x = b.create(NegFOp, x).result
        return x
    return body


def wrap(lines):
    return ("module {\n  func.func @f(%arg0: f32) -> f32 {\n"
            + "".join(f"    {line}\n" for line in lines) + "  }\n}\n")


def test_four_negations_cancel_to_the_argument():
    module = function(negs(4))
    stats = Counter()
    assert apply_patterns_greedily(module, [NegNegIsIdentity()], stats=stats) is True
    assert print_ir(module) == wrap(["return %arg0 : f32"])
    assert stats == {"NegNegIsIdentity": 2, "dead op": 2}


def test_three_negations_leave_one():
    module = function(negs(3))
    apply_patterns_greedily(module, [NegNegIsIdentity()])
    assert print_ir(module) == wrap(["%0 = arith.negf %arg0 : f32", "return %0 : f32"])


def test_already_at_fixpoint_reports_no_change():
    module = function(negs(1))
    stats = Counter()
    assert apply_patterns_greedily(module, [NegNegIsIdentity()], stats=stats) is False
    assert stats == {}


def add_chain(b, x):
    """((1 + 2) + 3) + 4, then + x."""
    total = b.create(ConstantOp, value=FloatAttr(1.0, f32)).result
    for v in (2.0, 3.0, 4.0):
        total = b.create(AddFOp, total, b.create(ConstantOp, value=FloatAttr(v, f32)).result).result
    return b.create(AddFOp, total, x).result


def test_constant_folding_of_an_addf_chain():
    module = function(add_chain)
    stats = Counter()
    apply_patterns_greedily(module, [], stats=stats)
    assert print_ir(module) == wrap(["%0 = arith.constant 1.000000e+01 : f32",
                                     "%1 = arith.addf %0, %arg0 : f32",
                                     "return %1 : f32"])
    assert stats == {"fold": 3, "dead op": 6}


def test_canonicalize_pass_folds_unless_told_not_to():
    module = function(add_chain)
    run_pipeline(module, "canonicalize")
    assert print_ir(module) == wrap(["%0 = arith.constant 1.000000e+01 : f32",
                                     "%1 = arith.addf %0, %arg0 : f32",
                                     "return %1 : f32"])
    no_fold = function(add_chain)
    before = print_ir(no_fold)
    run_pipeline(no_fold, "canonicalize{fold=false}")
    assert print_ir(no_fold) == before


class MoveArgumentLeft(RewritePattern):
    """addf(op result, block argument) -> addf(block argument, op result)"""

    def match_and_rewrite(self, op, rewriter: PatternRewriter) -> bool:
        if not isinstance(op, AddFOp):
            return False
        if not (isinstance(op.lhs, OpResult) and isinstance(op.rhs, BlockArgument)):
            return False
        with rewriter.modify(op):
            op.set_operands([op.rhs, op.lhs])
        return True


class MoveArgumentRight(RewritePattern):
    """addf(block argument, op result) -> addf(op result, block argument): undoes the one above"""

    def match_and_rewrite(self, op, rewriter: PatternRewriter) -> bool:
        if not isinstance(op, AddFOp):
            return False
        if not (isinstance(op.lhs, BlockArgument) and isinstance(op.rhs, OpResult)):
            return False
        with rewriter.modify(op):
            op.set_operands([op.rhs, op.lhs])
        return True


def test_patterns_that_undo_each_other_raise_naming_both():
    module = function(lambda b, x: b.create(AddFOp, b.create(NegFOp, x).result, x).result)
    start = time.perf_counter()
    with pytest.raises(PassError) as info:
        apply_patterns_greedily(module, [MoveArgumentLeft(), MoveArgumentRight()], max_iterations=10)
    assert time.perf_counter() - start < 1.0
    message = info.value.message
    assert message.startswith("rewriting did not converge after 10 iterations; still firing: ")
    assert "MoveArgumentLeft (" in message and "MoveArgumentRight (" in message
    assert info.value.hint == "two patterns may undo each other; check their rules, or raise max-iterations"


def test_one_way_rewrite_converges():
    module = function(lambda b, x: b.create(AddFOp, b.create(NegFOp, x).result, x).result)
    stats = Counter()
    apply_patterns_greedily(module, [MoveArgumentLeft()], stats=stats)
    assert print_ir(module) == wrap(["%0 = arith.negf %arg0 : f32",
                                     "%1 = arith.addf %arg0, %0 : f32",
                                     "return %1 : f32"])
    assert stats == {"MoveArgumentLeft": 1}
