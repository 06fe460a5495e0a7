"""The loop dialects (memref, scf, math, arith's loop ops): the memref type, verifier messages,
folds and canonicalizations, memory effects in cse and dce, and the interpreter running loop
programs against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lamina.compiler.attributes import StridedLayoutAttr
from lamina.compiler.errors import ParseError, VerifyError
from lamina.compiler.opdef import MemAlloc, MemRead, MemWrite, memory_effects
from lamina.compiler.parser import parse
from lamina.compiler.passes import run_pipeline
from lamina.compiler.printer import print_ir
from lamina.compiler.types import MemRefType, f32, memref
from lamina.compiler.verifier import verify
from lamina.runtime.interpreter import Interpreter, InterpreterError, interpret


def module(text: str):
    m = parse(text)
    verify(m)
    return m


def ops_named(m, name: str):
    return [op for op in m.walk() if op.name == name]


# ---------------------------------------------------------------------------------------------
# The memref type


def test_memref_type_prints_as_mlir():
    assert str(memref(4, None, f32)) == "memref<4x?xf32>"
    assert str(MemRefType((), f32)) == "memref<f32>"
    strided = MemRefType((4, 4), f32, StridedLayoutAttr((8, 1), 2))
    assert str(strided) == "memref<4x4xf32, strided<[8, 1], offset: 2>>"
    assert str(MemRefType((2,), f32, StridedLayoutAttr((None,), None))) == "memref<2xf32, strided<[?], offset: ?>>"


def test_memref_type_strides_and_offset():
    assert memref(2, 3, 4, f32).strides_and_offset() == ((12, 4, 1), 0)
    assert memref(None, 4, f32).strides_and_offset() == ((4, 1), 0)
    assert memref(4, None, f32).strides_and_offset() == ((None, 1), 0)
    assert MemRefType((4, 4), f32, StridedLayoutAttr((8, 1), 2)).strides_and_offset() == ((8, 1), 2)
    assert MemRefType((), f32).strides_and_offset() == ((), 0)
    t = memref(2, 3, f32)
    assert (t.rank, t.has_static_shape, t.num_elements) == (2, True, 6)
    assert not memref(None, f32).has_static_shape


@pytest.mark.parametrize("text", ["memref<4x?xf32>", "memref<f32>", "memref<4x4xf32, strided<[8, 1], offset: 2>>",
                                  "memref<2xf32, strided<[?], offset: ?>, 1>", "memref<3xi8, 1>",
                                  "memref<2x2xf16, strided<[4, 2]>>"])
def test_memref_type_round_trips(text):
    m = parse(f"func.func @f(%a: {text}) {{ func.return }}")
    (arg,) = m.block.ops[0].entry.args
    assert str(arg.type) == text


@pytest.mark.parametrize("text, message", [
    ("memref<4xf32, affine_map<(d0) -> (d0)>>", "affine-map layouts are not supported"),
    ("memref<4xf32, strided<[1, 1]>>", "the layout strided<[1, 1]> has 2 strides but the memref has rank 1"),
    ("memref<4xf32, 1, 2>", "a memref's layout must be strided<[...]>, not 1 : i64"),
])
def test_memref_type_errors(text, message):
    with pytest.raises(ParseError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse(f"func.func @f(%a: {text}) {{ func.return }}")


# ---------------------------------------------------------------------------------------------
# Verifier messages


def _error(body: str, args: str = "%m: memref<4x4xf32>, %i: index, %x: f32") -> str:
    m = parse(f"func.func @f({args}) {{\n{body}\n  func.return\n}}")
    with pytest.raises(VerifyError) as info:
        verify(m)
    return info.value.message


@pytest.mark.parametrize("body, message", [
    ("%v = memref.load %m[%i] : memref<4x4xf32>",
     "'memref.load' op indexes memref<4x4xf32> of rank 2 with 1 indices; give one per dimension"),
    ('"memref.store"(%i, %m, %i, %i) : (index, memref<4x4xf32>, index, index) -> ()',
     "'memref.store' op stores a index into memref<4x4xf32>; the value must be its element type"),
    ('%v = "memref.load"(%m, %x, %i) : (memref<4x4xf32>, f32, index) -> f32',
     "'memref.load' op operand 'indices' #0 must be index, but got f32"),
    ("%a = memref.alloc() : memref<?xf32>",
     "'memref.alloc' op has 0 dynamic sizes but memref<?xf32> has 1 dynamic dimension"),
    ('%a = "memref.alloc"() <{alignment = 3 : i64, operandSegmentSizes = array<i32: 0, 0>}> : () -> memref<2xf32>',
     "'memref.alloc' op alignment 3 is not a positive power of two"),
    ('%a = "memref.alloc"() <{operandSegmentSizes = array<i32: 1, 0>}> : () -> memref<2xf32>',
     "'memref.alloc' op operandSegmentSizes array<i32: 1, 0> does not add up to its 0 operands"),
    ('%w = "memref.subview"(%m) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>, static_offsets = array<i64: 1, 1>, '
     'static_sizes = array<i64: 2, 2>, static_strides = array<i64: 1, 1>}> : (memref<4x4xf32>) -> memref<2x2xf32>',
     "'memref.subview' op result type memref<2x2xf32> does not match the view, "
     "memref<2x2xf32, strided<[4, 1], offset: 5>>"),
    ('%w = "memref.subview"(%m) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>, static_offsets = array<i64: 3, 0>, '
     'static_sizes = array<i64: 2, 2>, static_strides = array<i64: 1, 1>}> : (memref<4x4xf32>) -> '
     'memref<2x2xf32, strided<[4, 1], offset: 12>>',
     "'memref.subview' op dimension 0: offset 3, size 2, stride 1 reach outside memref<4x4xf32>"),
    ('%r = "memref.reinterpret_cast"(%m) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>, static_offsets = array<i64: 0>, '
     'static_sizes = array<i64: 16>, static_strides = array<i64: 2>}> : (memref<4x4xf32>) -> memref<16xf32>',
     "'memref.reinterpret_cast' op result type memref<16xf32> does not have sizes [16], strides [2] and offset 0"),
    ("%c = arith.index_cast %x : f32 to i32",
     "'arith.index_cast' op cannot cast f32 to i32: one side must be index and the other an integer"),
    ("%c = arith.truncf %x : f32 to f64", "'arith.truncf' op cannot cast f32 to f64: to a narrower float"),
    ('%p = "arith.cmpf"(%x, %x) <{predicate = 16 : i64}> : (f32, f32) -> i1', "'arith.cmpf' op predicate 16 is not one of 0..15"),
    ("%r = scf.for %k = %i to %i step %i iter_args(%a = %x) -> (f32) {\n  scf.yield %i : index\n}",
     "'scf.for' op the body yields (index) but the op's results are (f32)"),
    ('%r = "scf.for"(%i, %i, %i, %x) ({\n^bb0(%k: index):\n  "scf.yield"(%x) : (f32) -> ()\n}) : (index, index, index, f32) -> f32',
     "'scf.for' op body block arguments must be the induction variable (index) and the iter_args (f32), but are (index)"),
    ("%r = scf.if %x -> (f32) {\n  scf.yield %x : f32\n}", None),
    ('%r = "scf.if"(%b) ({\n  "scf.yield"(%x) : (f32) -> ()\n}, {\n}) : (i1) -> f32',
     "'scf.if' op has results (f32), so it needs an else-region that yields them"),
    ("%c0 = arith.constant 0 : index\nscf.for %k = %i to %i step %c0 {\n}", "'scf.for' op step must be positive, but is 0"),
    ('"scf.yield"() : () -> ()', None),
    ('%y = "math.exp"(%i) : (index) -> index', "'math.exp' op operand 'operand' must be a float or a tensor of floats, but got index"),
])
def test_verifier_messages(body, message):
    if message is None:  # the parser refuses it already (a type mismatch or a misplaced terminator)
        with pytest.raises((ParseError, VerifyError)):
            verify(parse(f"func.func @f(%m: memref<4x4xf32>, %i: index, %x: f32, %b: i1) {{\n{body}\n  func.return\n}}"))
        return
    assert _error(body, "%m: memref<4x4xf32>, %i: index, %x: f32, %b: i1") == message


def test_global_verifier_messages():
    m = parse('"memref.global"() <{sym_name = "w", sym_visibility = "private", type = memref<3xf32>, '
              'initial_value = dense<1.0> : tensor<2xf32>}> : () -> ()')
    with pytest.raises(VerifyError, match=r"'memref.global' op initial value has type tensor<2xf32> but the global holds memref<3xf32>"):
        verify(m)
    m = parse("func.func @f() {\n  %w = memref.get_global @nope : memref<2xf32>\n  func.return\n}")
    with pytest.raises(VerifyError, match="'memref.get_global' op names @nope, which is not a memref.global"):
        verify(m)


# ---------------------------------------------------------------------------------------------
# Folds and canonicalizations


def canonical(text: str) -> str:
    return print_ir(run_pipeline(module(text), "canonicalize"))


def test_arith_loop_ops_fold_constants():
    out = canonical("""
func.func @f() -> (i32, f32, index, i1, index, f32) {
  %c7 = arith.constant 7 : index
  %m2 = arith.constant -2 : index
  %x = arith.constant 2.5 : f32
  %n = arith.constant 1.0 : f32
  %a = arith.index_cast %c7 : index to i32
  %b = arith.sitofp %a : i32 to f32
  %c = arith.floordivsi %c7, %m2 : index
  %d = arith.cmpf olt, %x, %b : f32
  %e = arith.ceildivsi %c7, %m2 : index
  %g = math.exp %n : f32
  func.return %a, %b, %c, %d, %e, %g : i32, f32, index, i1, index, f32
}""")
    for line in ("arith.constant 7 : i32", "arith.constant 7.000000e+00 : f32", "arith.constant -4 : index",
                 "arith.constant true", "arith.constant -3 : index", "arith.constant 2.718282e+00 : f32"):
        assert line in out, out
    assert "arith.floordivsi" not in out and "math.exp" not in out and "arith.cmpf" not in out


def test_for_without_iterations_is_its_init_args():
    out = canonical("""
func.func @f(%m: memref<4xf32>, %x: f32) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c1 to %c0 step %c1 iter_args(%acc = %x) -> (f32) {
    memref.store %acc, %m[%i] : memref<4xf32>
    scf.yield %acc : f32
  }
  func.return %r : f32
}""")
    assert "scf.for" not in out and "memref.store" not in out and "return %x : f32" in out, out


def test_if_on_a_constant_condition_is_the_taken_branch():
    out = canonical("""
func.func @f(%a: f32, %b: f32, %m: memref<f32>) -> f32 {
  %t = arith.constant true : i1
  %r = scf.if %t -> (f32) {
    %s = arith.addf %a, %b : f32
    memref.store %s, %m[] : memref<f32>
    scf.yield %s : f32
  } else {
    scf.yield %b : f32
  }
  func.return %r : f32
}""")
    assert "scf.if" not in out, out
    assert "%s = arith.addf %a, %b : f32\n    memref.store %s, %m[] : memref<f32>\n    return %s : f32" in out, out


# ---------------------------------------------------------------------------------------------
# Memory effects in cse and dce


def test_effects_of_ops():
    m = module("""
func.func @f(%m: memref<4xf32>, %i: index, %x: f32) {
  %v = memref.load %m[%i] : memref<4xf32>
  memref.store %x, %m[%i] : memref<4xf32>
  %a = memref.alloc() : memref<4xf32>
  scf.for %k = %i to %i step %i {
    memref.store %x, %m[%k] : memref<4xf32>
  }
  scf.for %k = %i to %i step %i {
    %w = memref.load %m[%k] : memref<4xf32>
  }
  func.return
}""")
    load, store, alloc, write_loop, read_loop = m.block.ops[0].entry.ops[:5]
    assert memory_effects(load) == {MemRead}
    assert memory_effects(store) == {MemWrite}
    assert memory_effects(alloc) == {MemAlloc}
    assert memory_effects(write_loop) == {MemWrite}
    assert memory_effects(read_loop) == {MemRead}


def test_cse_merges_loads_with_no_store_between():
    out = print_ir(run_pipeline(module("""
func.func @f(%m: memref<4xf32>, %i: index) -> f32 {
  %a = memref.load %m[%i] : memref<4xf32>
  %b = memref.load %m[%i] : memref<4xf32>
  %s = arith.addf %a, %b : f32
  func.return %s : f32
}"""), "cse"))
    assert out.count("memref.load") == 1 and "arith.addf %a, %a" in out, out


@pytest.mark.parametrize("between", [
    "memref.store %x, %m[%i] : memref<4xf32>",
    "scf.for %k = %i to %i step %i {\n    memref.store %x, %m[%k] : memref<4xf32>\n  }",
    "memref.dealloc %m : memref<4xf32>",
    '"test.unknown"() : () -> ()',
])
def test_cse_keeps_loads_apart_across_a_write(between):
    m = parse(f"""
func.func @f(%m: memref<4xf32>, %i: index, %x: f32) -> f32 {{
  %a = memref.load %m[%i] : memref<4xf32>
  {between}
  %b = memref.load %m[%i] : memref<4xf32>
  %s = arith.addf %a, %b : f32
  func.return %s : f32
}}""", allow_unregistered=True)
    out = print_ir(run_pipeline(m, "cse"))
    assert out.count("memref.load") == 2, out


def test_cse_does_not_merge_a_load_into_a_loop_that_stores():
    out = print_ir(run_pipeline(module("""
func.func @f(%m: memref<4xf32>, %i: index, %x: f32) {
  %a = memref.load %m[%i] : memref<4xf32>
  scf.for %k = %i to %i step %i {
    %b = memref.load %m[%i] : memref<4xf32>
    %s = arith.addf %a, %b : f32
    memref.store %s, %m[%i] : memref<4xf32>
  }
  func.return
}"""), "cse"))
    assert out.count("memref.load") == 2, out


def test_cse_never_merges_allocs():
    out = print_ir(run_pipeline(module("""
func.func @f() -> (memref<4xf32>, memref<4xf32>) {
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  func.return %a, %b : memref<4xf32>, memref<4xf32>
}"""), "cse"))
    assert out.count("memref.alloc") == 2, out


def test_dce_keeps_writes_and_drops_unused_reads():
    out = print_ir(run_pipeline(module("""
func.func @f(%m: memref<4xf32>, %i: index, %x: f32) {
  %unused_load = memref.load %m[%i] : memref<4xf32>
  %unused_alloc = memref.alloc() : memref<4xf32>
  memref.store %x, %m[%i] : memref<4xf32>
  scf.for %k = %i to %i step %i {
    memref.store %x, %m[%k] : memref<4xf32>
  }
  scf.for %k = %i to %i step %i {
    %w = memref.load %m[%k] : memref<4xf32>
  }
  %r = scf.for %k = %i to %i step %i iter_args(%acc = %x) -> (f32) {
    %w = memref.load %m[%k] : memref<4xf32>
    scf.yield %w : f32
  }
  %freed = memref.alloc() : memref<4xf32>
  memref.dealloc %freed : memref<4xf32>
  func.return
}"""), "dce"))
    assert "unused_load" not in out and "unused_alloc" not in out, out
    assert out.count("scf.for") == 1 and out.count("memref.store") == 2, out
    assert "memref.dealloc %freed" in out and "%freed = memref.alloc" in out, out


# ---------------------------------------------------------------------------------------------
# The interpreter on loop programs


MATMUL = """
func.func @main(%a: memref<{m}x{k}xf32>, %b: memref<{k}x{n}xf32>, %out: memref<{m}x{n}xf32>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %cm = arith.constant {m} : index
  %cn = arith.constant {n} : index
  %ck = arith.constant {k} : index
  %zero = arith.constant 0.0 : f32
  scf.for %i = %c0 to %cm step %c1 {{
    scf.for %j = %c0 to %cn step %c1 {{
      %sum = scf.for %l = %c0 to %ck step %c1 iter_args(%acc = %zero) -> (f32) {{
        %x = memref.load %a[%i, %l] : memref<{m}x{k}xf32>
        %y = memref.load %b[%l, %j] : memref<{k}x{n}xf32>
        %p = arith.mulf %x, %y : f32
        %s = arith.addf %acc, %p : f32
        scf.yield %s : f32
      }}
      memref.store %sum, %out[%i, %j] : memref<{m}x{n}xf32>
    }}
  }}
  func.return
}}
"""


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2 ** 31))
def test_matmul_loops_match_numpy(m, k, n, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
    out = np.zeros((m, n), np.float32)
    assert interpret(module(MATMUL.format(m=m, k=k, n=n)), a, b, out) == []
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)


def test_relu_with_scf_if_writes_in_place():
    m = module("""
func.func @main(%m: memref<2x3xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant 0.0 : f32
  scf.for %i = %c0 to %c2 step %c1 {
    scf.for %j = %c0 to %c3 step %c1 {
      %v = memref.load %m[%i, %j] : memref<2x3xf32>
      %neg = arith.cmpf olt, %v, %zero : f32
      scf.if %neg {
        memref.store %zero, %m[%i, %j] : memref<2x3xf32>
      }
    }
  }
  func.return
}""")
    x = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    interpret(m, x)
    np.testing.assert_array_equal(x, [[0, 2, 0], [4, 0, 6]])


def test_subview_writes_into_the_parent_buffer():
    m = module("""
func.func @main(%m: memref<4x8xf32>, %x: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %w = "memref.subview"(%m) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>, static_offsets = array<i64: 1, 2>, static_sizes = array<i64: 2, 2>, static_strides = array<i64: 1, 3>}> : (memref<4x8xf32>) -> memref<2x2xf32, strided<[8, 3], offset: 10>>
  memref.store %x, %w[%c1, %c1] : memref<2x2xf32, strided<[8, 3], offset: 10>>
  %r = "memref.reinterpret_cast"(%m) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>, static_offsets = array<i64: 0>, static_sizes = array<i64: 32>, static_strides = array<i64: 1>}> : (memref<4x8xf32>) -> memref<32xf32>
  %c31 = arith.constant 31 : index
  memref.store %x, %r[%c31] : memref<32xf32>
  func.return
}""")
    buf = np.zeros((4, 8), np.float32)
    interpret(m, buf, np.float32(7))
    expected = np.zeros((4, 8), np.float32)
    expected[2, 5] = 7  # (1 + 1, 2 + 1 * 3)
    expected[3, 7] = 7
    np.testing.assert_array_equal(buf, expected)


GLOBAL = """
"memref.global"() <{sym_name = "w", sym_visibility = "private", type = memref<3xf32>, initial_value = dense<[1.0, 2.0, 3.0]> : tensor<3xf32>}> : () -> ()
func.func @main(%out: memref<3xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %w = memref.get_global @w : memref<3xf32>
  scf.for %i = %c0 to %c3 step %c1 {
    %v = memref.load %w[%i] : memref<3xf32>
    %d = arith.addf %v, %v : f32
    memref.store %d, %w[%i] : memref<3xf32>
    memref.store %d, %out[%i] : memref<3xf32>
  }
  func.return
}
"""


def test_global_is_a_fresh_copy_per_interpreter():
    m = module(GLOBAL)
    out = np.zeros(3, np.float32)
    runner = Interpreter(m)
    runner.call("main", [out])
    np.testing.assert_array_equal(out, [2, 4, 6])
    runner.call("main", [out])  # the same run's global was doubled in place
    np.testing.assert_array_equal(out, [4, 8, 12])
    interpret(m, out)  # a new interpreter starts from the initial value again
    np.testing.assert_array_equal(out, [2, 4, 6])
    assert ops_named(m, "memref.global")[0].initial_value.array.tolist() == [1, 2, 3]


def test_parallel_with_a_sum_reduction():
    m = module("""
func.func @main(%m: memref<3x4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  %t = "scf.parallel"(%c0, %c0, %c3, %c4, %c1, %c1, %zero) <{operandSegmentSizes = array<i32: 2, 2, 2, 1>}> ({
  ^bb0(%i: index, %j: index):
    %v = memref.load %m[%i, %j] : memref<3x4xf32>
    "scf.reduce"(%v) ({
    ^bb0(%l: f32, %r: f32):
      %s = arith.addf %l, %r : f32
      scf.reduce.return %s : f32
    }) : (f32) -> ()
  }) : (index, index, index, index, index, index, f32) -> f32
  func.return %t : f32
}""")
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    (total,) = interpret(m, x)
    assert total == x.sum()


def test_alloc_dealloc_and_out_of_bounds_load():
    m = module("""
func.func @main(%n: index) -> f32 {
  %a = memref.alloc(%n) : memref<?xf32>
  %x = arith.constant 1.5 : f32
  %c0 = arith.constant 0 : index
  memref.store %x, %a[%c0] : memref<?xf32>
  %v = memref.load %a[%n] : memref<?xf32>
  memref.dealloc %a : memref<?xf32>
  func.return %v : f32
}""")
    with pytest.raises(InterpreterError, match=r"memref.load at index \[2\] is outside the memref's shape \[2\]"):
        interpret(m, np.int64(2))


def test_memref_input_must_be_an_array():
    m = module(GLOBAL)
    with pytest.raises(InterpreterError, match="is a memref, so it must be a numpy array"):
        interpret(m, [0.0, 0.0, 0.0])


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(0, 2 ** 31))
def test_loop_nest_of_any_rank_matches_numpy(shape, seed):
    """out = exp(a) * b + a, elementwise, as a loop nest over a random shape."""
    t = "memref<" + "x".join(map(str, shape)) + "xf32>"
    ivs = [f"%i{d}" for d in range(len(shape))]
    lines = [f"func.func @main(%a: {t}, %b: {t}, %out: {t}) {{",
             "  %c0 = arith.constant 0 : index", "  %c1 = arith.constant 1 : index"]
    lines += [f"  %n{d} = arith.constant {n} : index" for d, n in enumerate(shape)]
    lines += [f"  scf.for {iv} = %c0 to %n{d} step %c1 {{" for d, iv in enumerate(ivs)]
    at = ", ".join(ivs)
    lines += [f"  %x = memref.load %a[{at}] : {t}", f"  %y = memref.load %b[{at}] : {t}",
              "  %e = math.exp %x : f32", "  %p = arith.mulf %e, %y : f32", "  %s = arith.addf %p, %x : f32",
              f"  memref.store %s, %out[{at}] : {t}"]
    lines += ["  }"] * len(shape) + ["  func.return", "}"]
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    out = np.zeros(shape, np.float32)
    interpret(module("\n".join(lines)), a, b, out)
    np.testing.assert_allclose(out, np.exp(a) * b + a, rtol=1e-5)


@pytest.mark.parametrize("predicate, expected", [
    ("olt", [True, False, False, False]), ("ult", [True, False, True, True]),
    ("oeq", [False, True, False, False]), ("une", [True, False, True, True]),
    ("ord", [True, True, False, False]), ("uno", [False, False, True, True]),
])
def test_cmpf_predicates_with_nan(predicate, expected):
    m = module(f"""
func.func @main(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xi1> {{
  %r = arith.cmpf {predicate}, %a, %b : tensor<4xf32>
  func.return %r : tensor<4xi1>
}}""")
    a = np.array([1, 2, np.nan, 1], np.float32)
    b = np.array([2, 2, 1, np.nan], np.float32)
    (r,) = interpret(m, a, b)
    assert r.tolist() == expected


def test_math_round_and_integer_division_semantics():
    m = module("""
func.func @main(%x: tensor<4xf32>, %a: tensor<4xi32>, %b: tensor<4xi32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xi32>, tensor<4xi32>) {
  %r = math.round %x : tensor<4xf32>
  %e = math.roundeven %x : tensor<4xf32>
  %f = arith.floordivsi %a, %b : tensor<4xi32>
  %c = arith.ceildivsi %a, %b : tensor<4xi32>
  func.return %r, %e, %f, %c : tensor<4xf32>, tensor<4xf32>, tensor<4xi32>, tensor<4xi32>
}""")
    x = np.array([0.5, 1.5, -2.5, 2.4], np.float32)
    a = np.array([7, -7, 7, -7], np.int32)
    b = np.array([2, 2, -2, -2], np.int32)
    r, e, f, c = interpret(m, x, a, b)
    assert r.tolist() == [1, 2, -3, 2] and e.tolist() == [0, 2, -2, 2]
    assert f.tolist() == [3, -4, -4, 3] and c.tolist() == [4, -3, -3, 4]
