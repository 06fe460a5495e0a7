"""lamina bisect: the first pass, and the first pattern application inside it, that breaks a
model's outputs (runtime/pass_bisect.py), and the driver's application counter behind it."""

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest

from lamina.compiler.cli import main
from lamina.compiler.parser import parse
from lamina.compiler.passes import Pass, PassManager, pass_base
from lamina.compiler.printer import print_ir
from lamina.compiler.verifier import verify
from lamina.compiler.rewrite import RewritePattern, apply_patterns_greedily, counting_applications
from lamina.dialects.arith import NegNegIsIdentity
from lamina.dialects.nn.elementwise import NegOp, ReluOp
from lamina.runtime.pass_bisect import bisect
from lamina.runtime.interpreter import interpret

# relu(neg(x)) sits between other rewrites: the transposes merge before it, the reshapes after it
MODEL = """\
func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %t1 = nn.transpose %x attributes {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %t2 = nn.transpose %t1 attributes {perm = array<i64: 1, 0>} : (tensor<3x2xf32>) -> tensor<2x3xf32>
  %n = nn.neg %t2 : (tensor<2x3xf32>) -> tensor<2x3xf32> loc("neg")
  %r = nn.relu %n : (tensor<2x3xf32>) -> tensor<2x3xf32> loc("relu")
  %a = nn.reshape %r attributes {shape = array<i64: 3, 2>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %b = nn.reshape %a attributes {shape = array<i64: 6>} : (tensor<3x2xf32>) -> tensor<6xf32>
  %c = nn.reshape %b attributes {shape = array<i64: 2, 3>} : (tensor<6xf32>) -> tensor<2x3xf32>
  %s = nn.add %c, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %s : tensor<2x3xf32>
}
"""

X = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)


class DropNegUnderRelu(RewritePattern):
    """relu(neg(x)) -> relu(x)   WRONG: relu(-x) is not relu(x) (the pattern tutorial's planted bug)"""

    def match_and_rewrite(self, op, rewriter):
        inner = getattr(op.operands[0], "op", None) if isinstance(op, ReluOp) else None
        if not isinstance(inner, NegOp):
            return False
        with rewriter.modify(op):
            op.set_operand(0, inner.operands[0])
        return True


@pytest.fixture
def planted(monkeypatch):
    """The wrong pattern registered as a canonicalization of nn.relu, for one test only."""
    monkeypatch.setattr(ReluOp, "canonicalization_patterns", (*ReluOp.canonicalization_patterns, DropNegUnderRelu()))


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.mlir"
    path.write_text(MODEL)
    return path


# -- the driver's application counter --------------------------------------------------------

# two folds ((1 + 2) + 3) and two cancelled pairs of negations: four applications
ARITH = """\
func.func @f(%x: f32) -> f32 {
  %c1 = arith.constant 1.000000e+00 : f32
  %c2 = arith.constant 2.000000e+00 : f32
  %c3 = arith.constant 3.000000e+00 : f32
  %a = arith.addf %c1, %c2 : f32
  %b = arith.addf %a, %c3 : f32
  %c = arith.addf %b, %x : f32
  %n1 = arith.negf %c : f32
  %n2 = arith.negf %n1 : f32
  %n3 = arith.negf %n2 : f32
  %n4 = arith.negf %n3 : f32
  func.return %n4 : f32
}
"""


def test_counter_numbers_folds_and_pattern_applications_not_dead_ops():
    module, stats = parse(ARITH), Counter()
    with counting_applications() as counter:  # no limit: count, and reach the fixpoint as always
        apply_patterns_greedily(module, [NegNegIsIdentity()], stats=stats)
    assert sorted(a.pattern for a in counter.applications) == ["NegNegIsIdentity"] * 2 + ["fold"] * 2
    assert [a.index for a in counter.applications] == [1, 2, 3, 4] and not counter.spent
    assert stats["dead op"] == 6
    assert "arith.negf" not in print_ir(module)


@pytest.mark.parametrize("limit", [0, 1, 2, 3, 4])
def test_counter_stops_the_driver_after_the_first_n(limit):
    full = parse(ARITH)
    with counting_applications() as everything:
        apply_patterns_greedily(full, [NegNegIsIdentity()])
    module = parse(ARITH)
    with counting_applications(limit) as counter:
        changed = apply_patterns_greedily(module, [NegNegIsIdentity()])
    assert changed is (limit > 0) and counter.count == limit and counter.spent
    assert [(a.pattern, a.op.name) for a in counter.applications] == \
        [(a.pattern, a.op.name) for a in everything.applications[:limit]]
    verify(module)
    with counting_applications() as rest:  # the rest of the applications, from where it stopped
        apply_patterns_greedily(module, [NegNegIsIdentity()])
    assert rest.count == 4 - limit
    assert print_ir(module) == print_ir(full)


def test_fold_constants_counts_each_op_it_folds():
    text = """\
func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
  %c = nn.constant attributes {value = dense<[1.0, -2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %n = nn.neg %c : (tensor<2xf32>) -> tensor<2xf32>
  %r = nn.relu %n : (tensor<2xf32>) -> tensor<2xf32>
  %s = nn.add %r, %x : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  func.return %s : tensor<2xf32>
}
"""
    module = parse(text)
    with counting_applications(limit=1) as counter:
        PassManager.parse("fold-constants").run(module)
    assert [(a.pattern, a.op.name) for a in counter.applications] == [("fold-constants", "nn.neg")]
    assert "nn.relu" in print_ir(module) and "nn.neg" not in print_ir(module)


def test_the_counter_leaves_the_result_unchanged():
    module, counted = parse(MODEL), parse(MODEL)
    PassManager.parse("canonicalize").run(module)
    with counting_applications() as counter:
        PassManager.parse("canonicalize").run(counted)
    assert print_ir(counted) == print_ir(module)
    assert counter.count >= 3


# -- bisect ------------------------------------------------------------------------------------


def check_names_the_planted_pattern(result):
    assert result.found
    assert (result.pass_index, result.pass_name) == (1, "canonicalize")
    assert result.pattern == "DropNegUnderRelu" and result.op_name == "nn.relu"
    assert result.location == 'loc("relu")'
    assert 1 < result.application < result.applications  # rewrites before it and after it
    assert "%r = nn.relu %n" in result.before and "%n = nn.neg" in result.before
    assert "%r = nn.relu %x" in result.after
    assert result.max_diff > 0.1
    report = result.report()
    assert (f"first bad step: pass 1/4 canonicalize, application {result.application} of "
            f"{result.applications}: DropNegUnderRelu rewrote nn.relu at loc(\"relu\")") in report
    assert "the ops it rewrote, before:" in report and "MISMATCH" in report


def test_bisect_names_the_planted_pattern_in_the_interpreter(planted):
    module = parse(MODEL)
    text = print_ir(module)
    result = bisect(module, "-O1", [X], interpret=True)
    check_names_the_planted_pattern(result)
    assert print_ir(module) == text  # the module given is not changed
    assert result.mode == "interpreter"


def test_bisect_names_the_planted_pattern_compiled(planted):
    result = bisect(parse(MODEL), "canonicalize,fold-constants,cse,dce", {"x": X})
    check_names_the_planted_pattern(result)
    assert result.mode == "llvm"
    # a logarithmic number of compiles inside the pass: the reference, the pass, the search
    assert result.search_runs <= math.ceil(math.log2(result.applications)) + 1
    assert result.runs == 2 + result.search_runs


def test_a_correct_pipeline_has_no_bad_step():
    result = bisect(parse(MODEL), "-O3", [X], interpret=True)
    assert not result.found and result.pass_name is None
    assert len(result.steps) == 10 and all(s.ok for s in result.steps)
    assert "no step moves the outputs out of tolerance" in result.report()


def test_lamina_bisect_takes_a_file(planted, model_file):
    import lamina

    result = lamina.bisect(model_file, "-O2", [X], interpret=True)
    assert (result.pass_name, result.pattern) == ("canonicalize", "DropNegUnderRelu")


@dataclass(frozen=True)
class SwapAddForSubPass(Pass):
    """A wrong pass that is no rewrite pass: every nn.add becomes nn.sub."""

    name = "swap-add-for-sub"

    def run(self, module):
        from lamina.dialects.nn.elementwise import SubOp

        for op in [o for o in module.walk() if o.name == "nn.add"]:
            sub = SubOp(operands=list(op.operands), result_types=[op.results[0].type], location=op.location)
            op.parent.insert_before(sub, op)
            op.results[0].replace_all_uses_with(sub.results[0])
            op.erase()


def test_a_wrong_pass_without_patterns_is_named(monkeypatch):
    monkeypatch.setitem(pass_base._PASSES, SwapAddForSubPass.name, SwapAddForSubPass)
    result = bisect(parse(MODEL), "canonicalize,swap-add-for-sub,dce", [X], interpret=True)
    assert (result.pass_index, result.pass_name, result.application) == (2, "swap-add-for-sub", None)
    assert result.steps[0].ok and not result.steps[1].ok and len(result.steps) == 2
    assert "first bad step: pass 2/3 swap-add-for-sub\n" in result.report()


@dataclass(frozen=True)
class SwapThenCanonicalizePass(Pass):
    """A wrong pass whose pattern applications are right: swap-add-for-sub, then canonicalize."""

    name = "swap-then-canonicalize"

    def run(self, module):
        from lamina.compiler.passes.canonicalize import canonicalization_patterns

        SwapAddForSubPass().run(module)
        apply_patterns_greedily(module, canonicalization_patterns())


def test_a_rewrite_pass_broken_outside_its_applications_is_named_without_one(monkeypatch):
    monkeypatch.setitem(pass_base._PASSES, SwapThenCanonicalizePass.name, SwapThenCanonicalizePass)
    result = bisect(parse(MODEL), "swap-then-canonicalize", [X], interpret=True)
    assert result.pass_name == "swap-then-canonicalize" and result.applications >= 3
    assert result.application is None and result.pattern is None
    assert "before any of its" in result.note and "note: the pass breaks the outputs" in result.report()


# -- the command line --------------------------------------------------------------------------


def test_cli_names_the_planted_pattern_and_exits_1(planted, model_file, capsys):
    assert main(["bisect", str(model_file), "-O1", "--fill", "random", "--interpret"]) == 1
    out = capsys.readouterr().out
    assert "pass 1/4 canonicalize:" in out and "outputs MISMATCH" in out
    assert "DropNegUnderRelu rewrote nn.relu" in out
    before, after = out.split("the ops it rewrote, before:\n")[1].split("after:\n")
    assert "%r = nn.relu %n" in before and "%r = nn.relu %x" in after


def test_cli_exits_0_with_no_step_for_a_correct_pipeline(model_file, capsys):
    assert main(["bisect", str(model_file), "-O1", "-p", "fuse", "--fill", "random"]) == 0
    out = capsys.readouterr().out
    assert "compiled for llvm" in out and "pass 5/5 fuse:" in out
    assert "no step moves the outputs out of tolerance" in out


def test_cli_reads_inputs_as_run_does(planted, model_file, tmp_path, capsys):
    np.save(tmp_path / "x.npy", X)
    assert main(["bisect", str(model_file), "-O1", "--input", f"x={tmp_path / 'x.npy'}", "--interpret"]) == 1
    assert "DropNegUnderRelu" in capsys.readouterr().out
    assert main(["bisect", str(model_file), "--interpret"]) == 1  # no input: a user error
    assert "error: no value for input x" in capsys.readouterr().err


def test_cli_on_an_onnx_model(planted, tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["n"], name="neg"), helper.make_node("Relu", ["n"], ["r"], name="relu"),
         helper.make_node("Add", ["r", "x"], ["y"], name="add")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert main(["bisect", str(path), "-O3", "--fill", "random"]) == 1
    out = capsys.readouterr().out
    # (-O3 for llvm, the default target: 11 passes, widen-conv-columns before fuse)
    assert "first bad step: pass 1/11 canonicalize, application 1 of 1: DropNegUnderRelu rewrote nn.relu" in out


def test_interpreter_and_reference_agree_on_the_model():
    """(The model itself is sound: bisect's reference is the unoptimized module.)"""
    module = parse(MODEL)
    expected = np.maximum(-X, 0).reshape(2, 3) + X
    np.testing.assert_allclose(interpret(module, X)[0], expected, rtol=1e-6)
