"""The loop passes (compiler/passes/loops): each keeps the meaning of random loop programs
(compiler/testing_loops.check_loop_pass, interpreter before == after, and the llvmlite JIT for a
few), plus the edge cases one by one: tiles that do not divide, unrolling with a remainder, LICM
not hoisting a load past a store, fusion refusing a dependence that is not point-wise."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings

from lamina.compiler.parser import parse
from lamina.compiler.passes import list_passes, run_pipeline
from lamina.compiler.printer import print_ir
from lamina.compiler.testing_loops import check_loop_pass, loop_program_texts, loop_programs
from lamina.compiler.verifier import verify
from lamina.runtime.interpreter import interpret

EXAMPLES = 60  # per property; the whole file stays well under a minute on two cores


def module(text: str):
    m = parse(text)
    verify(m)
    return m


def ops_named(m, name: str):
    return [op for op in m.walk() if op.name == name]


def run_both(text: str, pipeline: str, *arrays):
    """The outputs (all memref arguments) before and after `pipeline`, and the module after."""
    m = module(text)
    before = [a.copy() for a in arrays]
    interpret(m, *before)
    run_pipeline(m, pipeline)
    verify(m)
    after = [a.copy() for a in arrays]
    interpret(m, *after)
    return before, after, m


# ---------------------------------------------------------------------------------------------
# Random programs: every pass, and pipelines of them


PASSES_AND_WHAT_THEY_DO = [
    ("loop-tile{sizes=2,3}", "loops tiled"),
    ("loop-tile{sizes=4,2}", "loops tiled"),
    ("loop-unroll{factor=2}", "loops unrolled"),
    ("loop-unroll{factor=3 full=true full-limit=4}", "loops unrolled fully"),
    ("loop-invariant-code-motion", "memref.load hoisted"),
    ("loop-fusion", ("nests fused", "temporaries forwarded")),
]


@pytest.mark.parametrize("pipeline", [p for p, _ in PASSES_AND_WHAT_THEY_DO] + ["canonicalize,cse,dce"])
def test_pass_keeps_meaning_of_random_loop_programs(pipeline):
    result = check_loop_pass(pipeline, examples=EXAMPLES)
    assert result, result.report()


@pytest.mark.parametrize("pipeline, fired", PASSES_AND_WHAT_THEY_DO)
def test_random_loop_programs_exercise_each_pass(pipeline, fired):
    """The random programs must give each pass something to do, or the test above proves little.
    A fixed seed makes this a fact about the generator, not about one run's luck: an unseeded draw
    of 60 programs has held no hoistable load."""
    result = check_loop_pass(pipeline, examples=EXAMPLES, seed=0)
    assert result, result.report()
    for name in (fired,) if isinstance(fired, str) else fired:
        assert result.statistics[name] > 0, dict(result.statistics)


def test_pipeline_of_loop_passes_keeps_meaning_in_interpreter_and_jit():
    pipeline = ("loop-fusion,loop-tile{sizes=2,4},loop-invariant-code-motion,loop-unroll{factor=2},"
                "canonicalize,cse,dce")
    result = check_loop_pass(pipeline, examples=25, jit=True)
    assert result, result.report()


def test_random_loop_programs_parse_back_and_run():
    @settings(max_examples=30, deadline=None, database=None)
    @given(loop_program_texts())
    def prop(text):
        m = module(text)
        assert print_ir(module(print_ir(m))) == print_ir(m)

    prop()


def test_check_loop_pass_finds_a_wrong_pass(monkeypatch):
    """With its dependence test switched off, loop-tile reorders iterations that read what other
    iterations write: check_loop_pass must notice and report the smallest program."""
    from lamina.compiler.passes.loops import loop_tile

    monkeypatch.setattr(loop_tile, "tiling_is_legal", lambda band: True)
    programs = loop_programs(kinds=("map",), max_nests=2, max_depth=1)
    result = check_loop_pass("loop-tile{sizes=2,2}", programs=programs, examples=300, seed=1)
    assert not result, "the broken pass was not caught"
    report = result.report()
    assert "smallest program, before the pass" in report and "scf.for" in report
    assert "_tile" in result.after


def test_loop_passes_are_registered():
    for name in ("loop-tile", "loop-unroll", "loop-invariant-code-motion", "loop-fusion"):
        assert name in list_passes()


# ---------------------------------------------------------------------------------------------
# loop-tile

ADD_ROWS = """
func.func @main(%a: memref<5x7xf32>, %b: memref<7xf32>, %out: memref<5x7xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c5 = arith.constant 5 : index
  %c7 = arith.constant 7 : index
  scf.for %i = %c0 to %c5 step %c1 {
    scf.for %j = %c0 to %c7 step %c1 {
      %x = memref.load %a[%i, %j] : memref<5x7xf32>
      %y = memref.load %b[%j] : memref<7xf32>
      %s = arith.addf %x, %y : f32
      memref.store %s, %out[%i, %j] : memref<5x7xf32>
    }
  }
  func.return
}
"""


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal(7).astype(np.float32),
            np.zeros((5, 7), np.float32))


def test_tile_sizes_that_do_not_divide():
    before, after, m = run_both(ADD_ROWS, "loop-tile{sizes=2,3}", *_inputs())
    np.testing.assert_array_equal(before[2], after[2])
    assert len(ops_named(m, "scf.for")) == 4
    assert len(ops_named(m, "arith.minsi")) == 2  # 5 by 2 and 7 by 3 leave partial tiles
    outer = m.block.ops[0].entry.ops[-2]
    assert outer.name == "scf.for" and outer.regions[0].blocks[0].args[0].name_hint == "i_tile"


def test_tile_size_that_divides_has_no_min():
    text = ADD_ROWS.replace("5x7", "6x7").replace("%c5 = arith.constant 5", "%c5 = arith.constant 6")
    m = module(text)
    run_pipeline(m, "loop-tile{sizes=3,0}")
    assert not ops_named(m, "arith.minsi")
    assert len(ops_named(m, "scf.for")) == 3  # size 0: the column loop is not tiled


def test_tile_leaves_nests_with_calls_and_shifted_writes():
    shifted = ADD_ROWS.replace("%x = memref.load %a[%i, %j]", "%n = arith.addi %i, %c1 : index\n"
                               "      %m = arith.minsi %n, %c0 : index\n      %x = memref.load %out[%m, %c0]")
    m = module(shifted)
    run_pipeline(m, "loop-tile{sizes=2,2}")
    assert len(ops_named(m, "scf.for")) == 2


# ---------------------------------------------------------------------------------------------
# loop-unroll

SUM = """
func.func @main(%a: memref<10xi32>, %out: memref<1xi32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c10 = arith.constant 10 : index
  %zero = arith.constant 0 : i32
  %sum = scf.for %j = %c0 to %c10 step %c1 iter_args(%acc = %zero) -> (i32) {
    %x = memref.load %a[%j] : memref<10xi32>
    %k = arith.index_cast %j : index to i32
    %p = arith.muli %x, %k : i32
    %next = arith.addi %acc, %p : i32
    scf.yield %next : i32
  }
  memref.store %sum, %out[%c0] : memref<1xi32>
  func.return
}
"""


@pytest.mark.parametrize("factor, loops", [(4, 2), (5, 1), (3, 2), (10, 1), (11, 1)])
def test_unroll_with_and_without_remainder(factor, loops):
    a = np.arange(10, dtype=np.int32) - 3
    before, after, m = run_both(SUM, f"loop-unroll{{factor={factor}}}", a, np.zeros(1, np.int32))
    assert before[1][0] == after[1][0] == sum(a * np.arange(10))
    assert len(ops_named(m, "scf.for")) == loops


def test_unroll_fully_and_empty_loops():
    before, after, m = run_both(SUM, "loop-unroll{full=true}", np.arange(10, dtype=np.int32),
                                np.zeros(1, np.int32))
    assert before[1][0] == after[1][0] and not ops_named(m, "scf.for")
    empty = SUM.replace("%c0 to %c10", "%c10 to %c0")
    before, after, m = run_both(empty, "loop-unroll{full=true}", np.arange(10, dtype=np.int32),
                                np.ones(1, np.int32))
    assert before[1][0] == after[1][0] == 0 and not ops_named(m, "scf.for")


def test_unroll_dynamic_bounds():
    text = """
func.func @main(%a: memref<9xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %j = %c1 to %n step %c1 {
    %x = memref.load %a[%j] : memref<9xf32>
    %y = arith.mulf %x, %x : f32
    memref.store %y, %a[%j] : memref<9xf32>
  }
  func.return
}
"""
    for n in (0, 1, 4, 5, 9):
        a = np.arange(9, dtype=np.float32)
        before, after, m = run_both(text, "loop-unroll{factor=4}", a, np.asarray(n))
        np.testing.assert_array_equal(before[0], after[0])
        assert len(ops_named(m, "scf.for")) == 2


# ---------------------------------------------------------------------------------------------
# loop-invariant-code-motion

def test_licm_does_not_hoist_a_load_past_a_store():
    text = """
func.func @main(%b: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.for %j = %c0 to %c4 step %c1 {
    %x = memref.load %b[%c0] : memref<4xf32>
    %y = arith.addf %x, %x : f32
    memref.store %y, %b[%j] : memref<4xf32>
  }
  func.return
}
"""
    b = np.asarray([1, 2, 3, 4], np.float32)
    before, after, m = run_both(text, "loop-invariant-code-motion", b)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(after[0], [2, 4, 4, 4])
    (loop,) = ops_named(m, "scf.for")
    assert any(op.name == "memref.load" for op in loop.walk())


def test_licm_hoists_a_load_from_a_loop_without_stores_only_when_it_runs():
    text = """
func.func @main(%b: memref<4xf32>, %out: memref<1xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c9 = arith.constant 9 : index
  %zero = arith.constant 0.0 : f32
  %s = scf.for %j = %c0 to %c4 step %c1 iter_args(%acc = %zero) -> (f32) {
    %x = memref.load %b[%c3] : memref<4xf32>
    %n = arith.addf %acc, %x : f32
    scf.yield %n : f32
  }
  %t = scf.for %j = %c4 to %c0 step %c1 iter_args(%acc = %s) -> (f32) {
    %x = memref.load %b[%c9] : memref<4xf32>
    %n = arith.addf %acc, %x : f32
    scf.yield %n : f32
  }
  memref.store %t, %out[%c0] : memref<1xf32>
  func.return
}
"""
    before, after, m = run_both(text, "loop-invariant-code-motion", np.arange(4, dtype=np.float32),
                                np.zeros(1, np.float32))
    assert after[1][0] == before[1][0] == 12
    first, second = ops_named(m, "scf.for")
    assert not any(op.name == "memref.load" for op in first.walk())  # hoisted
    assert any(op.name == "memref.load" for op in second.walk())  # the loop never runs: %b[9] stays


# ---------------------------------------------------------------------------------------------
# loop-fusion

PAIR = """
func.func @main(%a: memref<4x5xf32>, %out: memref<4x5xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c5 = arith.constant 5 : index
  %tmp = memref.alloc() : memref<4x5xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    scf.for %j = %c0 to %c5 step %c1 {
      %x = memref.load %a[%i, %j] : memref<4x5xf32>
      %e = math.tanh %x : f32
      memref.store %e, %tmp[%i, %j] : memref<4x5xf32>
    }
  }
  scf.for %i2 = %c0 to %c4 step %c1 {
    scf.for %j2 = %c0 to %c5 step %c1 {
      CONSUMER
      %s = arith.addf %t, %t : f32
      memref.store %s, %out[%i2, %j2] : memref<4x5xf32>
    }
  }
  func.return
}
"""


def test_fusion_merges_pointwise_nests_and_forwards_the_temporary():
    text = PAIR.replace("CONSUMER", "%t = memref.load %tmp[%i2, %j2] : memref<4x5xf32>")
    a = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    before, after, m = run_both(text, "loop-fusion", a, np.zeros((4, 5), np.float32))
    np.testing.assert_allclose(before[1], after[1], rtol=1e-6)
    assert len(ops_named(m, "scf.for")) == 2
    assert not ops_named(m, "memref.alloc") and not ops_named(m, "memref.load")[1:]


@pytest.mark.parametrize("consumer", [
    # the next row: not yet written in the fused nest
    "%n = arith.addi %i2, %c1 : index\n      %m = arith.minsi %n, %c3 : index\n"
    "      %t = memref.load %tmp[%m, %j2] : memref<4x5xf32>",
    # the transposed element (a square corner of it)
    "%m = arith.minsi %j2, %c3 : index\n      %t = memref.load %tmp[%m, %c0] : memref<4x5xf32>",
])
def test_fusion_refuses_a_dependence_that_is_not_pointwise(consumer):
    text = PAIR.replace("CONSUMER", consumer)
    a = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
    before, after, m = run_both(text, "loop-fusion", a, np.zeros((4, 5), np.float32))
    np.testing.assert_array_equal(before[1], after[1])
    assert len(ops_named(m, "scf.for")) == 4 and ops_named(m, "memref.alloc")


def test_fusion_refuses_different_bounds_and_keeps_a_temporary_used_later():
    text = PAIR.replace("CONSUMER", "%t = memref.load %tmp[%i2, %j2] : memref<4x5xf32>")
    m = module(text.replace("scf.for %i2 = %c0 to %c4", "scf.for %i2 = %c1 to %c4"))
    run_pipeline(m, "loop-fusion")
    assert len(ops_named(m, "scf.for")) == 4
    used_later = text.replace("  func.return", "  %z = memref.load %tmp[%c0, %c0] : memref<4x5xf32>\n"
                              "  memref.store %z, %out[%c0, %c0] : memref<4x5xf32>\n  func.return")
    a = np.random.default_rng(2).standard_normal((4, 5)).astype(np.float32)
    before, after, m = run_both(used_later, "loop-fusion", a, np.zeros((4, 5), np.float32))
    np.testing.assert_allclose(before[1], after[1], rtol=1e-6)
    assert len(ops_named(m, "scf.for")) == 2 and ops_named(m, "memref.alloc")  # fused, not forwarded


# ---------------------------------------------------------------------------------------------
# canonicalize / cse on loop IR


def test_canonicalize_inlines_a_loop_that_runs_once_and_folds_index_arithmetic():
    text = SUM.replace("%c0 to %c10 step %c1", "%c9 to %c10 step %c1").replace(
        "%c10 = arith.constant 10 : index", "%c10 = arith.constant 10 : index\n  %c9 = arith.constant 9 : index")
    a = np.arange(10, dtype=np.int32)
    before, after, m = run_both(text, "canonicalize", a, np.zeros(1, np.int32))
    assert before[1][0] == after[1][0] == 81 and not ops_named(m, "scf.for")
    m = module(ADD_ROWS)
    run_pipeline(m, "loop-tile{sizes=2,3},canonicalize")
    assert all(op.operands[0].owner.name != "arith.constant" or op.operands[1].owner.name != "arith.constant"
               for op in ops_named(m, "arith.minsi"))


def test_cse_does_not_merge_loads_across_a_store():
    text = """
func.func @main(%b: memref<2xf32>, %out: memref<2xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %x = memref.load %b[%c0] : memref<2xf32>
  %y = arith.addf %x, %x : f32
  memref.store %y, %b[%c0] : memref<2xf32>
  %z = memref.load %b[%c0] : memref<2xf32>
  memref.store %z, %out[%c1] : memref<2xf32>
  func.return
}
"""
    before, after, m = run_both(text, "cse", np.ones(2, np.float32), np.zeros(2, np.float32))
    np.testing.assert_array_equal(before[1], after[1])
    assert len(ops_named(m, "memref.load")) == 2


# ---------------------------------------------------------------------------------------------
# Vectorization is LLVM's (compiler/passes/loops/__init__.py): a tiled elementwise nest whose
# innermost loop runs over the contiguous dimension comes out of LLVM -O3 with vector types.


def test_tiled_elementwise_loops_vectorize_in_llvm(tmp_path, capsys):
    from lamina.compiler.cli import main
    from lamina.lowering.llvm import jit

    text = ADD_ROWS.replace("5x7", "64x256").replace("7xf32", "256xf32").replace(
        "arith.constant 5 :", "arith.constant 64 :").replace("arith.constant 7 :", "arith.constant 256 :")
    path = tmp_path / "add_rows.mlir"
    path.write_text(text)
    pipeline = "loop-tile{sizes=16,64},loop-invariant-code-motion,canonicalize"
    assert main(["opt", str(path), "-p", pipeline, "--emit", "llvm", "--llvm-opt", "3"]) == 0
    llvm_ir = capsys.readouterr().out
    assert re.search(r"<\d+ x float>", llvm_ir), llvm_ir[:2000]
    m = module(text)
    run_pipeline(m, pipeline)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((64, 256)).astype(np.float32), rng.standard_normal(256).astype(np.float32)
    out = np.zeros((64, 256), np.float32)
    jit(m, 3).call("main", a, b, out)
    np.testing.assert_array_equal(out, a + b)
