"""The LLVM backend (lowering/llvm): loop IR -> LLVM IR -> JIT, checked against numpy.

Each program is MLIR text in the loop dialects (func, scf, memref, arith, math), compiled with
`jit` and called on numpy arrays; the numbers are compared with numpy's. Hypothesis draws shapes
and values (NaNs included for the float comparisons). Also: the errors (an op with no
translation, wrong arguments, a translation bug caught by LLVM's verifier) and `lamina opt --emit`.
"""

from __future__ import annotations

import ctypes
import math
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llvmlite import binding as llvm

from lamina.compiler.parser import parse
from lamina.compiler.verifier import verify
from lamina.lowering.llvm import (JitError, LLVMTranslationError, LLVMVerifierError, emit_asm, emit_llvm, jit,
                                  translate_module)
from lamina.lowering.llvm import translate
from lamina.runtime.interpreter import interpret

LAMINA = Path(sys.executable).parent / "lamina"


def compile_ir(text: str, opt_level: int = 2, **kwargs):
    module = parse(text)
    verify(module)
    return jit(module, opt_level, **kwargs)


def run_both(text: str, name: str, *args, opt_level: int = 2, rtol: float = 1e-5, atol: float = 1e-6, **kwargs):
    """Call @name compiled, and in the reference interpreter (lamina's oracle for every path), each
    on its own copy of the arguments; check that the buffers and results agree. Returns the
    compiled call's results; its buffers are `args`, written in place."""
    expected_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    expected = interpret(parse(text), *expected_args, function=name)
    results = compile_ir(text, opt_level, **kwargs).call(name, *args)
    for got, want in zip(list(args) + list(results), expected_args + list(expected)):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    return results


def rand(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------------------------------------
# elementwise, with math ops


def elementwise_ir(m: int, n: int) -> str:
    return f"""
func.func @main(%a: memref<{m}x{n}xf32>, %b: memref<{m}x{n}xf32>, %out: memref<{m}x{n}xf32>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = arith.constant {m} : index
  %n = arith.constant {n} : index
  %half = arith.constant 0.5 : f32
  scf.for %i = %c0 to %m step %c1 {{
    scf.for %j = %c0 to %n step %c1 {{
      %x = memref.load %a[%i, %j] : memref<{m}x{n}xf32>
      %y = memref.load %b[%i, %j] : memref<{m}x{n}xf32>
      %e = math.exp %x : f32
      %t = math.tanh %y : f32
      %r = math.erf %x : f32
      %ax = math.absf %x : f32
      %s = math.sqrt %ax : f32
      %p = arith.mulf %e, %half : f32
      %q = arith.addf %p, %t : f32
      %u = arith.subf %q, %r : f32
      %v = arith.addf %u, %s : f32
      %mx = arith.maximumf %v, %y : f32
      %w = arith.divf %mx, %e : f32
      memref.store %w, %out[%i, %j] : memref<{m}x{n}xf32>
    }}
  }}
  return
}}
"""


def elementwise_numpy(a, b):
    from math import erf

    r = np.vectorize(erf)(a.astype(np.float64)).astype(np.float32)
    v = np.exp(a) * 0.5 + np.tanh(b) - r + np.sqrt(np.abs(a))
    return np.maximum(v, b) / np.exp(a)


@settings(max_examples=15)
@given(st.integers(1, 9), st.integers(1, 40), st.integers(0, 2 ** 31))
def test_elementwise_math_random_shapes(m, n, seed):
    rng = np.random.default_rng(seed)
    a, b = rand(rng, m, n), rand(rng, m, n)
    out = np.full((m, n), np.nan, np.float32)
    assert run_both(elementwise_ir(m, n), "main", a, b, out, rtol=2e-5, atol=2e-6) == []
    np.testing.assert_allclose(out, elementwise_numpy(a, b), rtol=2e-5, atol=2e-6)


MATH_CASES = [  # op, numpy, input range
    ("math.exp", np.exp, (-5, 5)), ("math.exp2", np.exp2, (-5, 5)), ("math.log", np.log, (0.1, 10)),
    ("math.log2", np.log2, (0.1, 10)), ("math.log1p", np.log1p, (-0.5, 5)),
    ("math.expm1", np.expm1, (-2, 2)), ("math.sqrt", np.sqrt, (0, 10)),
    ("math.rsqrt", lambda x: 1 / np.sqrt(x), (0.1, 10)), ("math.absf", np.abs, (-5, 5)),
    ("math.floor", np.floor, (-5, 5)), ("math.ceil", np.ceil, (-5, 5)), ("math.trunc", np.trunc, (-5, 5)),
    ("math.roundeven", np.round, (-5, 5)), ("math.round", lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5), (-5, 5)),
    ("math.sin", np.sin, (-5, 5)), ("math.cos", np.cos, (-5, 5)), ("math.tanh", np.tanh, (-5, 5)),
    ("math.erf", np.vectorize(math.erf), (-3, 3)),
    ("arith.negf", np.negative, (-5, 5)),
]


@pytest.mark.parametrize("op, fn, bounds", MATH_CASES, ids=[c[0] for c in MATH_CASES])
def test_unary_math_ops(op, fn, bounds):
    text = f"""
func.func @main(%a: memref<64xf32>, %out: memref<64xf32>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant 64 : index
  scf.for %i = %c0 to %n step %c1 {{
    %x = memref.load %a[%i] : memref<64xf32>
    %y = {op} %x : f32
    memref.store %y, %out[%i] : memref<64xf32>
  }}
  return
}}
"""
    a = np.linspace(*bounds, 64, dtype=np.float32)
    a[::7] = np.round(a[::7]) + 0.5  # halfway cases for the rounding ops
    out = np.zeros(64, np.float32)
    compile_ir(text).call("main", a, out)
    np.testing.assert_allclose(out, fn(a).astype(np.float32), rtol=1e-5, atol=1e-6)


def test_binary_math_ops_and_f64():
    text = """
func.func @main(%a: memref<32xf64>, %b: memref<32xf64>, %out: memref<4x32xf64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %n = arith.constant 32 : index
  scf.for %i = %c0 to %n step %c1 {
    %x = memref.load %a[%i] : memref<32xf64>
    %y = memref.load %b[%i] : memref<32xf64>
    %p = math.powf %x, %y : f64
    %f = math.fma %x, %y, %x : f64
    %m = arith.minnumf %x, %y : f64
    %r0 = arith.remf %x, %y : f64
    %r = math.atan2 %r0, %y : f64
    memref.store %p, %out[%c0, %i] : memref<4x32xf64>
    memref.store %f, %out[%c1, %i] : memref<4x32xf64>
    memref.store %m, %out[%c2, %i] : memref<4x32xf64>
    memref.store %r, %out[%c3, %i] : memref<4x32xf64>
  }
  return
}
"""
    rng = np.random.default_rng(0)
    a = rng.uniform(0.1, 4, 32)
    b = rng.uniform(-2, 2, 32)
    out = np.zeros((4, 32))
    compile_ir(text).call("main", a, b, out)
    np.testing.assert_allclose(out, [a ** b, a * b + a, np.minimum(a, b), np.arctan2(np.fmod(a, b), b)], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# matmul with iter_args; a reduction; a conv nest


def matmul_ir(m: int, k: int, n: int) -> str:
    return f"""
func.func @main(%a: memref<{m}x{k}xf32>, %b: memref<{k}x{n}xf32>, %c: memref<{m}x{n}xf32>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %M = arith.constant {m} : index
  %N = arith.constant {n} : index
  %K = arith.constant {k} : index
  %zero = arith.constant 0.0 : f32
  scf.for %i = %c0 to %M step %c1 {{
    scf.for %j = %c0 to %N step %c1 {{
      %sum = scf.for %p = %c0 to %K step %c1 iter_args(%acc = %zero) -> (f32) {{
        %x = memref.load %a[%i, %p] : memref<{m}x{k}xf32>
        %y = memref.load %b[%p, %j] : memref<{k}x{n}xf32>
        %xy = arith.mulf %x, %y : f32
        %next = arith.addf %acc, %xy : f32
        scf.yield %next : f32
      }}
      memref.store %sum, %c[%i, %j] : memref<{m}x{n}xf32>
    }}
  }}
  return
}}
"""


@settings(max_examples=12)
@given(st.integers(1, 17), st.integers(1, 33), st.integers(1, 17), st.sampled_from([0, 2, 3]))
def test_matmul_with_iter_args(m, k, n, opt_level):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a, b = rand(rng, m, k), rand(rng, k, n)
    c = np.zeros((m, n), np.float32)
    run_both(matmul_ir(m, k, n), "main", a, b, c, opt_level=opt_level, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-5)


def test_reduction_returns_a_scalar_and_fills_a_rank0_memref():
    text = """
func.func @total(%a: memref<7x13xf64>, %out: memref<f64>) -> f64 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = arith.constant 7 : index
  %n = arith.constant 13 : index
  %zero = arith.constant 0.0 : f64
  %s = scf.for %i = %c0 to %m step %c1 iter_args(%acc = %zero) -> (f64) {
    %row = scf.for %j = %c0 to %n step %c1 iter_args(%r = %acc) -> (f64) {
      %x = memref.load %a[%i, %j] : memref<7x13xf64>
      %r2 = arith.addf %r, %x : f64
      scf.yield %r2 : f64
    }
    scf.yield %row : f64
  }
  memref.store %s, %out[] : memref<f64>
  return %s : f64
}
"""
    a = np.random.default_rng(1).standard_normal((7, 13))
    out = np.zeros((), np.float64)
    (total,) = run_both(text, "total", a, out, rtol=1e-12)
    assert isinstance(total, np.float64)
    assert total == pytest.approx(a.sum()) and out[()] == total


def test_conv_like_loop_nest():
    """out[o, y, x] = sum over c, ky, kx of inp[c, y + ky, x + kx] * w[o, c, ky, kx]: six loops."""
    C, O, H, W, K = 3, 4, 9, 8, 3
    text = f"""
func.func @conv(%inp: memref<{C}x{H}x{W}xf32>, %w: memref<{O}x{C}x{K}x{K}xf32>,
                %out: memref<{O}x{H - K + 1}x{W - K + 1}xf32>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %cC = arith.constant {C} : index
  %cO = arith.constant {O} : index
  %cK = arith.constant {K} : index
  %cY = arith.constant {H - K + 1} : index
  %cX = arith.constant {W - K + 1} : index
  %zero = arith.constant 0.0 : f32
  scf.for %o = %c0 to %cO step %c1 {{
    scf.for %y = %c0 to %cY step %c1 {{
      scf.for %x = %c0 to %cX step %c1 {{
        %s = scf.for %c = %c0 to %cC step %c1 iter_args(%a0 = %zero) -> (f32) {{
          %s1 = scf.for %ky = %c0 to %cK step %c1 iter_args(%a1 = %a0) -> (f32) {{
            %s2 = scf.for %kx = %c0 to %cK step %c1 iter_args(%a2 = %a1) -> (f32) {{
              %iy = arith.addi %y, %ky : index
              %ix = arith.addi %x, %kx : index
              %v = memref.load %inp[%c, %iy, %ix] : memref<{C}x{H}x{W}xf32>
              %k = memref.load %w[%o, %c, %ky, %kx] : memref<{O}x{C}x{K}x{K}xf32>
              %vk = arith.mulf %v, %k : f32
              %a3 = arith.addf %a2, %vk : f32
              scf.yield %a3 : f32
            }}
            scf.yield %s2 : f32
          }}
          scf.yield %s1 : f32
        }}
        memref.store %s, %out[%o, %y, %x] : memref<{O}x{H - K + 1}x{W - K + 1}xf32>
      }}
    }}
  }}
  return
}}
"""
    rng = np.random.default_rng(2)
    inp, w = rand(rng, C, H, W), rand(rng, O, C, K, K)
    out = np.zeros((O, H - K + 1, W - K + 1), np.float32)
    run_both(text, "conv", inp, w, out, opt_level=3, rtol=1e-4, atol=1e-5)
    windows = np.lib.stride_tricks.sliding_window_view(inp, (K, K), axis=(1, 2))  # c, y, x, ky, kx
    np.testing.assert_allclose(out, np.einsum("cyxij,ocij->oyx", windows, w), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# scf.if


def test_scf_if_with_results_and_without_else():
    """out[i] = a[i] if a[i] > 0 else 0.1 * a[i]; count[0] += 1 for every i with a[i] > 0."""
    text = """
func.func @main(%a: memref<50xf32>, %out: memref<50xf32>, %count: memref<1xi32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant 50 : index
  %zero = arith.constant 0.0 : f32
  %slope = arith.constant 0.1 : f32
  %one = arith.constant 1 : i32
  scf.for %i = %c0 to %n step %c1 {
    %x = memref.load %a[%i] : memref<50xf32>
    %positive = arith.cmpf ogt, %x, %zero : f32
    %y = scf.if %positive -> (f32) {
      scf.yield %x : f32
    } else {
      %s = arith.mulf %x, %slope : f32
      scf.yield %s : f32
    }
    memref.store %y, %out[%i] : memref<50xf32>
    scf.if %positive {
      %k = memref.load %count[%c0] : memref<1xi32>
      %k1 = arith.addi %k, %one : i32
      memref.store %k1, %count[%c0] : memref<1xi32>
    }
  }
  return
}
"""
    a = np.random.default_rng(3).standard_normal(50).astype(np.float32)
    out, count = np.zeros(50, np.float32), np.zeros(1, np.int32)
    run_both(text, "main", a, out, count)
    np.testing.assert_allclose(out, np.where(a > 0, a, np.float32(0.1) * a), rtol=1e-6)
    assert count[0] == (a > 0).sum()


# ---------------------------------------------------------------------------------------------
# views: subview, reinterpret_cast, strided arguments


def test_subview_with_a_dynamic_offset():
    """out[r] = the 2x3 window of a at row r, column 2, by steps of (1, 2)."""
    text = """
func.func @main(%a: memref<6x10xf32>, %out: memref<5x2x3xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c5 = arith.constant 5 : index
  scf.for %r = %c0 to %c5 step %c1 {
    %w = "memref.subview"(%a, %r) <{operandSegmentSizes = array<i32: 1, 1, 0, 0>,
        static_offsets = array<i64: -9223372036854775808, 2>, static_sizes = array<i64: 2, 3>,
        static_strides = array<i64: 1, 2>}> : (memref<6x10xf32>, index) -> memref<2x3xf32, strided<[10, 2], offset: ?>>
    scf.for %i = %c0 to %c2 step %c1 {
      scf.for %j = %c0 to %c3 step %c1 {
        %x = memref.load %w[%i, %j] : memref<2x3xf32, strided<[10, 2], offset: ?>>
        memref.store %x, %out[%r, %i, %j] : memref<5x2x3xf32>
      }
    }
  }
  return
}
"""
    a = np.arange(60, dtype=np.float32).reshape(6, 10)
    out = np.zeros((5, 2, 3), np.float32)
    run_both(text, "main", a, out)
    np.testing.assert_array_equal(out, [a[r:r + 2, 2:8:2] for r in range(5)])


def test_static_subview_of_a_subview_and_reinterpret_cast():
    text = """
func.func @main(%a: memref<24xf32>, %out: memref<2x2xf32>, %out2: memref<3x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %m = "memref.reinterpret_cast"(%a) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>,
      static_offsets = array<i64: 3>, static_sizes = array<i64: 3, 6>, static_strides = array<i64: 6, 1>}>
      : (memref<24xf32>) -> memref<3x6xf32, strided<[6, 1], offset: 3>>
  %v = "memref.subview"(%m) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>,
      static_offsets = array<i64: 1, 2>, static_sizes = array<i64: 2, 2>, static_strides = array<i64: 1, 1>}>
      : (memref<3x6xf32, strided<[6, 1], offset: 3>>) -> memref<2x2xf32, strided<[6, 1], offset: 11>>
  scf.for %i = %c0 to %c2 step %c1 {
    scf.for %j = %c0 to %c2 step %c1 {
      %x = memref.load %v[%i, %j] : memref<2x2xf32, strided<[6, 1], offset: 11>>
      memref.store %x, %out[%i, %j] : memref<2x2xf32>
    }
  }
  %back = "memref.reinterpret_cast"(%v) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>,
      static_offsets = array<i64: 0>, static_sizes = array<i64: 3, 4>, static_strides = array<i64: 8, 2>}>
      : (memref<2x2xf32, strided<[6, 1], offset: 11>>) -> memref<3x4xf32, strided<[8, 2]>>
  scf.for %i = %c0 to %c3 step %c1 {
    scf.for %j = %c0 to %c4 step %c1 {
      %x = memref.load %back[%i, %j] : memref<3x4xf32, strided<[8, 2]>>
      memref.store %x, %out2[%i, %j] : memref<3x4xf32>
    }
  }
  return
}
"""
    a = np.arange(24, dtype=np.float32)
    out, out2 = np.zeros((2, 2), np.float32), np.zeros((3, 4), np.float32)
    compile_ir(text).call("main", a, out, out2)  # (the interpreter sees %a's buffer as 18 elements)
    np.testing.assert_array_equal(out, a[3:].reshape(-1)[:18].reshape(3, 6)[1:3, 2:4])
    np.testing.assert_array_equal(out2, a.reshape(3, 8)[:, ::2])


def test_strided_argument_takes_a_numpy_view():
    text = """
func.func @main(%a: memref<4x3xf32, strided<[8, 2]>>, %out: memref<4x3xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  scf.for %i = %c0 to %c4 step %c1 {
    scf.for %j = %c0 to %c3 step %c1 {
      %x = memref.load %a[%i, %j] : memref<4x3xf32, strided<[8, 2]>>
      memref.store %x, %out[%i, %j] : memref<4x3xf32>
    }
  }
  return
}
"""
    base = np.arange(40, dtype=np.float32).reshape(5, 8)
    view = base[1:, 1:7:2]
    out = np.zeros((4, 3), np.float32)
    jm = compile_ir(text)
    jm.call("main", view, out)
    np.testing.assert_array_equal(out, view)
    with pytest.raises(JitError, match=r"byte strides \(32, 8\)"):
        jm.call("main", np.ascontiguousarray(view), out)


# ---------------------------------------------------------------------------------------------
# globals


def global_ir(values: np.ndarray) -> str:
    body = ", ".join(f"{v:.6e}" for v in values.reshape(-1))
    n = values.size
    return f"""
"memref.global"() <{{sym_name = "w", sym_visibility = "private", type = memref<{n}xf32>,
                    initial_value = dense<[{body}]> : tensor<{n}xf32>, constant}}> : () -> ()
func.func @main(%x: memref<{n}xf32>, %out: memref<{n}xf32>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant {n} : index
  %w = memref.get_global @w : memref<{n}xf32>
  scf.for %i = %c0 to %n step %c1 {{
    %a = memref.load %x[%i] : memref<{n}xf32>
    %b = memref.load %w[%i] : memref<{n}xf32>
    %c = arith.mulf %a, %b : f32
    memref.store %c, %out[%i] : memref<{n}xf32>
  }}
  return
}}
"""


def test_global_embedded_and_bound():
    w = np.linspace(-2, 2, 16, dtype=np.float32)
    x = np.arange(16, dtype=np.float32)
    text = global_ir(w)
    embedded = compile_ir(text)
    assert "@w = private constant [16 x float] [float" in embedded.unoptimized_llvm_ir.replace('"', "")
    out = np.zeros(16, np.float32)
    embedded.call("main", x, out)
    np.testing.assert_allclose(out, x * w, rtol=1e-6)

    bound = compile_ir(text, embed_limit=0)  # too big to embed: bound to a copy of the values
    assert re.search(r'@"?__lamina_jit\d+_w"? = external constant \[16 x float\]', bound.unoptimized_llvm_ir)
    out[:] = 0
    bound.call("main", x, out)
    run_both(text, "main", x, out)
    np.testing.assert_allclose(out, x * w, rtol=1e-6)

    mine = np.full(16, 3.0, np.float32)  # bound to the caller's buffer: its current values are read
    caller = compile_ir(text, globals={"w": mine})
    caller.call("main", x, out)
    np.testing.assert_allclose(out, 3 * x)
    mine[:] = -1
    caller.call("main", x, out)
    np.testing.assert_allclose(out, -x)


def test_global_declaration_must_be_bound_and_checked():
    text = re.sub(r"initial_value = .*, constant", "constant", global_ir(np.ones(4, np.float32)))
    assert "dense" not in text
    with pytest.raises(JitError, match="@w has no initial value"):
        compile_ir(text)
    with pytest.raises(JitError, match="must have dtype float32"):
        compile_ir(text, globals={"w": np.ones(4)})
    with pytest.raises(JitError, match="does not have"):
        compile_ir(text, globals={"v": np.ones(4, np.float32)})
    x, out = np.arange(4, dtype=np.float32), np.zeros(4, np.float32)
    compile_ir(text, globals={"w": np.full(4, 2, np.float32)}).call("main", x, out)
    np.testing.assert_array_equal(out, 2 * x)


def test_uninitialized_global_is_zero_and_writable():
    text = """
"memref.global"() <{sym_name = "acc", sym_visibility = "private", type = memref<3xi64>,
                    initial_value}> : () -> ()
func.func @bump(%out: memref<3xi64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %g = memref.get_global @acc : memref<3xi64>
  scf.for %i = %c0 to %c3 step %c1 {
    %v = memref.load %g[%i] : memref<3xi64>
    %iv = arith.index_cast %i : index to i64
    %v1 = arith.addi %v, %iv : i64
    memref.store %v1, %g[%i] : memref<3xi64>
    memref.store %v1, %out[%i] : memref<3xi64>
  }
  return
}
"""
    jm = compile_ir(text)
    out = np.zeros(3, np.int64)
    jm.call("bump", out)
    jm.call("bump", out)
    np.testing.assert_array_equal(out, [0, 2, 4])


# ---------------------------------------------------------------------------------------------
# alloc / dealloc, returned buffers, calls


def test_temporary_alloc_dealloc_and_alloca():
    text = """
func.func @main(%a: memref<8x8xf32>, %out: memref<8x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %two = arith.constant 2.0 : f32
  %t = "memref.alloc"() <{alignment = 128 : i64, operandSegmentSizes = array<i32: 0, 0>}> : () -> memref<8x8xf32>
  %s = memref.alloca() : memref<8xf32>
  scf.for %i = %c0 to %c8 step %c1 {
    scf.for %j = %c0 to %c8 step %c1 {
      %x = memref.load %a[%i, %j] : memref<8x8xf32>
      %y = arith.mulf %x, %two : f32
      memref.store %y, %t[%j, %i] : memref<8x8xf32>
    }
  }
  scf.for %i = %c0 to %c8 step %c1 {
    "memref.copy"(%t, %out) : (memref<8x8xf32>, memref<8x8xf32>) -> ()
    %d = memref.load %t[%i, %i] : memref<8x8xf32>
    memref.store %d, %s[%i] : memref<8xf32>
  }
  scf.for %i = %c0 to %c8 step %c1 {
    %d = memref.load %s[%i] : memref<8xf32>
    memref.store %d, %out[%i, %c0] : memref<8x8xf32>
  }
  memref.dealloc %t : memref<8x8xf32>
  return
}
"""
    a = np.random.default_rng(4).standard_normal((8, 8)).astype(np.float32)
    out = np.zeros((8, 8), np.float32)
    jm = compile_ir(text)
    assert "aligned_alloc(i64 128, i64 256)" in jm.unoptimized_llvm_ir.replace('"', "")
    run_both(text, "main", a, out)
    expected = 2 * a.T
    expected[:, 0] = np.diag(2 * a)
    np.testing.assert_allclose(out, expected)


def test_returned_buffers_and_calls():
    """@scale returns a new buffer (the caller gets a numpy copy; the buffer is freed), @same
    returns its argument (the caller gets the same array), @both calls them: several results."""
    text = """
func.func private @scale(%a: memref<5xf32>, %k: f32) -> memref<5xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c5 = arith.constant 5 : index
  %r = memref.alloc() : memref<5xf32>
  scf.for %i = %c0 to %c5 step %c1 {
    %x = memref.load %a[%i] : memref<5xf32>
    %y = arith.mulf %x, %k : f32
    memref.store %y, %r[%i] : memref<5xf32>
  }
  return %r : memref<5xf32>
}
func.func @fresh(%a: memref<5xf32>) -> memref<5xf32> {
  %k = arith.constant 3.0 : f32
  %r = func.call @scale(%a, %k) : (memref<5xf32>, f32) -> memref<5xf32>
  return %r : memref<5xf32>
}
func.func @both(%a: memref<5xf32>, %k: f32) -> (memref<5xf32>, memref<5xf32>, f32) {
  %c1 = arith.constant 1 : index
  %r = memref.alloc() : memref<5xf32>
  "memref.copy"(%a, %r) : (memref<5xf32>, memref<5xf32>) -> ()
  %x = memref.load %a[%c1] : memref<5xf32>
  return %a, %r, %x : memref<5xf32>, memref<5xf32>, f32
}
"""
    a = np.arange(5, dtype=np.float32)
    jm = compile_ir(text)
    assert set(jm.functions) == {"fresh", "both"}
    (fresh,) = jm.call("fresh", a)
    np.testing.assert_array_equal(fresh, 3 * a)
    same, copy, x = jm.call("both", a, 2)
    assert same is a and copy is not a and x == np.float32(1)
    np.testing.assert_array_equal(copy, a)
    with pytest.raises(JitError, match="no public function @scale"):
        jm.call("scale", a, 1.0)


# ---------------------------------------------------------------------------------------------
# scf.parallel

_thread_ids: list[int] = []
_record_lock = threading.Lock()


@ctypes.CFUNCTYPE(None, ctypes.c_int64)
def _record_thread(i):
    with _record_lock:
        _thread_ids.append(threading.get_ident())


PARALLEL = """
func.func private @lamina_test_record_thread(index)
func.func @main(%a: memref<64x48xf32>, %out: memref<64x48xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = arith.constant 64 : index
  %n = arith.constant 48 : index
  %two = arith.constant 2.0 : f32
  "scf.parallel"(%c0, %c0, %m, %n, %c1, %c1) <{operandSegmentSizes = array<i32: 2, 2, 2, 0>}> ({
  ^bb0(%i: index, %j: index):
    %x = memref.load %a[%i, %j] : memref<64x48xf32>
    %y = arith.mulf %x, %two : f32
    %jf = arith.index_cast %j : index to i64
    %jff = arith.sitofp %jf : i64 to f32
    %z = arith.addf %y, %jff : f32
    memref.store %z, %out[%i, %j] : memref<64x48xf32>
    %first = arith.cmpi eq, %j, %c0 : index
    scf.if %first {
      func.call @lamina_test_record_thread(%i) : (index) -> ()
    }
    scf.reduce
  }) : (index, index, index, index, index, index) -> ()
  return
}
"""


def test_scf_parallel_runs_on_several_threads():
    # the generated code calls back into Python once per row, from whichever thread runs it
    llvm.add_symbol("lamina_test_record_thread", ctypes.cast(_record_thread, ctypes.c_void_p).value)
    jm = compile_ir(PARALLEL, num_threads=4)
    assert "pthread_create" in jm.llvm_ir and jm.num_threads == 4
    a = np.random.default_rng(5).standard_normal((64, 48)).astype(np.float32)
    out = np.zeros_like(a)
    _thread_ids.clear()
    jm.call("main", a, out)
    np.testing.assert_allclose(out, 2 * a + np.arange(48, dtype=np.float32))
    assert len(_thread_ids) == 64  # one call per row
    assert len(set(_thread_ids)) == 4  # four chunks of 16 rows, each on its own thread

    jm.num_threads = 1  # the same code, on the calling thread only
    _thread_ids.clear()
    out[:] = 0
    jm.call("main", a, out)
    np.testing.assert_allclose(out, 2 * a + np.arange(48, dtype=np.float32))
    assert set(_thread_ids) == {threading.get_ident()}

    jm.num_threads = 100  # more threads than rows: one row each
    _thread_ids.clear()
    jm.call("main", a, out)
    assert len(_thread_ids) == 64 and len(set(_thread_ids)) > 1
    with pytest.raises(JitError, match="at least 1"):
        jm.num_threads = 0


@settings(max_examples=10)
@given(st.integers(0, 40), st.integers(1, 7), st.integers(1, 5), st.integers(1, 9))
def test_scf_parallel_bounds_and_steps(n, step, inner, threads):
    """out[i, j] = i * 10 + j for i in range(3, n, step), j in range(inner); untouched elsewhere."""
    text = f"""
func.func @main(%out: memref<48x5xi64>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %n = arith.constant {n} : index
  %step = arith.constant {step} : index
  %inner = arith.constant {inner} : index
  %ten = arith.constant 10 : index
  "scf.parallel"(%c3, %c0, %n, %inner, %step, %c1) <{{operandSegmentSizes = array<i32: 2, 2, 2, 0>}}> ({{
  ^bb0(%i: index, %j: index):
    %t = arith.muli %i, %ten : index
    %v = arith.addi %t, %j : index
    %w = arith.index_cast %v : index to i64
    memref.store %w, %out[%i, %j] : memref<48x5xi64>
    scf.reduce
  }}) : (index, index, index, index, index, index) -> ()
  return
}}
"""
    out = np.full((48, 5), -1, np.int64)
    run_both(text, "main", out, num_threads=threads)
    expected = np.full((48, 5), -1, np.int64)
    for i in range(3, n, step):
        expected[i, :inner] = i * 10 + np.arange(inner)
    np.testing.assert_array_equal(out, expected)


def test_scf_parallel_with_reductions_is_a_clear_error():
    text = """
func.func @main(%a: memref<8xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  %s = "scf.parallel"(%c0, %c8, %c1, %zero) <{operandSegmentSizes = array<i32: 1, 1, 1, 1>}> ({
  ^bb0(%i: index):
    %x = memref.load %a[%i] : memref<8xf32>
    "scf.reduce"(%x) ({
    ^bb1(%l: f32, %r: f32):
      %sum = arith.addf %l, %r : f32
      "scf.reduce.return"(%sum) : (f32) -> ()
    }) : (f32) -> ()
  }) : (index, index, index, f32) -> f32
  return %s : f32
}
"""
    with pytest.raises(LLVMTranslationError, match="reductions") as e:
        compile_ir(text)
    assert e.value.line == 7


# ---------------------------------------------------------------------------------------------
# comparisons: every predicate against numpy, NaN included

CMPF_NUMPY = {
    "false": lambda a, b: np.zeros_like(a, bool), "oeq": np.equal, "ogt": np.greater, "oge": np.greater_equal,
    "olt": np.less, "ole": np.less_equal, "one": lambda a, b: (a != b) & ~np.isnan(a) & ~np.isnan(b),
    "ord": lambda a, b: ~np.isnan(a) & ~np.isnan(b), "ueq": lambda a, b: (a == b) | np.isnan(a) | np.isnan(b),
    "ugt": lambda a, b: ~(a <= b), "uge": lambda a, b: ~(a < b), "ult": lambda a, b: ~(a >= b),
    "ule": lambda a, b: ~(a > b), "une": np.not_equal, "uno": lambda a, b: np.isnan(a) | np.isnan(b),
    "true": lambda a, b: np.ones_like(a, bool),
}
CMPI_NUMPY = {
    "eq": np.equal, "ne": np.not_equal, "slt": np.less, "sle": np.less_equal, "sgt": np.greater,
    "sge": np.greater_equal,
    "ult": lambda a, b: a.view(np.uint32) < b.view(np.uint32),
    "ule": lambda a, b: a.view(np.uint32) <= b.view(np.uint32),
    "ugt": lambda a, b: a.view(np.uint32) > b.view(np.uint32),
    "uge": lambda a, b: a.view(np.uint32) >= b.view(np.uint32),
}


def compare_ir(kind: str, predicates: list[str], t: str) -> str:
    """One function per predicate, @p<k>(%a, %b) -> i1, and @all filling a table of them."""
    functions = [f"""
func.func @p{k}(%a: {t}, %b: {t}) -> i1 {{
  %r = arith.{kind} {p}, %a, %b : {t}
  return %r : i1
}}""" for k, p in enumerate(predicates)]
    n = len(predicates)
    stores = "\n".join(f"""      %r{k} = arith.{kind} {p}, %x, %y : {t}
      %k{k} = arith.constant {k} : index
      memref.store %r{k}, %out[%k{k}, %i] : memref<{n}x32xi1>""" for k, p in enumerate(predicates))
    functions.append(f"""
func.func @all(%a: memref<32x{t}>, %b: memref<32x{t}>, %out: memref<{n}x32xi1>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  scf.for %i = %c0 to %c32 step %c1 {{
      %x = memref.load %a[%i] : memref<32x{t}>
      %y = memref.load %b[%i] : memref<32x{t}>
{stores}
  }}
  return
}}""")
    return "\n".join(functions)


@pytest.fixture(scope="module")
def cmpf_module():
    return compile_ir(compare_ir("cmpf", list(CMPF_NUMPY), "f32"))


@pytest.fixture(scope="module")
def cmpi_module():
    return compile_ir(compare_ir("cmpi", list(CMPI_NUMPY), "i32"))


floats = st.one_of(st.floats(width=32, allow_nan=True), st.sampled_from([np.nan, 0.0, -0.0, 1.0, np.inf]))


@settings(max_examples=60)
@given(st.lists(st.tuples(floats, floats), min_size=32, max_size=32))
def test_cmpf_every_predicate(cmpf_module, pairs):
    a = np.array([p[0] for p in pairs], np.float32)
    b = np.array([p[1] for p in pairs], np.float32)
    b[::4] = a[::4]  # equal pairs, NaN with NaN among them
    table = np.zeros((16, 32), bool)
    cmpf_module.call("all", a, b, table)
    for k, (name, fn) in enumerate(CMPF_NUMPY.items()):
        np.testing.assert_array_equal(table[k], fn(a, b), err_msg=name)
        for x, y in list(zip(a, b))[:4]:  # the scalar functions: scalar arguments, an i1 result
            (r,) = cmpf_module.call(f"p{k}", x, y)
            assert bool(r) == bool(fn(np.float32(x), np.float32(y))), (name, x, y)


@settings(max_examples=40)
@given(st.lists(st.tuples(st.integers(-2 ** 31, 2 ** 31 - 1), st.integers(-2 ** 31, 2 ** 31 - 1)),
                min_size=32, max_size=32))
def test_cmpi_every_predicate(cmpi_module, pairs):
    a = np.array([p[0] for p in pairs], np.int32)
    b = np.array([p[1] for p in pairs], np.int32)
    b[::4] = a[::4]
    b[1::4] = -a[1::4]
    table = np.zeros((10, 32), bool)
    cmpi_module.call("all", a, b, table)
    for k, (name, fn) in enumerate(CMPI_NUMPY.items()):
        np.testing.assert_array_equal(table[k], fn(a, b), err_msg=name)


def test_select_and_casts():
    text = """
func.func @main(%a: memref<6xf32>, %out: memref<6xi32>, %back: memref<6xf64>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c6 = arith.constant 6 : index
  %zero = arith.constant 0.0 : f32
  scf.for %i = %c0 to %c6 step %c1 {
    %x = memref.load %a[%i] : memref<6xf32>
    %neg = arith.cmpf olt, %x, %zero : f32
    %ax = arith.negf %x : f32
    %abs = "arith.select"(%neg, %ax, %x) : (i1, f32, f32) -> f32
    %n = arith.fptosi %abs : f32 to i32
    memref.store %n, %out[%i] : memref<6xi32>
    %w = arith.extf %x : f32 to f64
    %n64 = arith.extsi %n : i32 to i64
    %nf = arith.sitofp %n64 : i64 to f64
    %s = arith.addf %w, %nf : f64
    memref.store %s, %back[%i] : memref<6xf64>
  }
  return
}
"""
    a = np.array([-2.5, -0.5, 0, 0.7, 3.9, 100.2], np.float32)
    out, back = np.zeros(6, np.int32), np.zeros(6)
    run_both(text, "main", a, out, back)
    np.testing.assert_array_equal(out, np.trunc(np.abs(a)).astype(np.int32))
    np.testing.assert_allclose(back, a.astype(np.float64) + out)


# ---------------------------------------------------------------------------------------------
# integer division with negative values

DIVISION = """
func.func @main(%a: index, %b: index, %out: memref<6xindex>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c5 = arith.constant 5 : index
  %f = arith.floordivsi %a, %b : index
  %c = arith.ceildivsi %a, %b : index
  %d = arith.divsi %a, %b : index
  %r = arith.remsi %a, %b : index
  %du = arith.divui %a, %b : index
  %ru = arith.remui %a, %b : index
  memref.store %f, %out[%c0] : memref<6xindex>
  memref.store %c, %out[%c1] : memref<6xindex>
  memref.store %d, %out[%c2] : memref<6xindex>
  memref.store %r, %out[%c3] : memref<6xindex>
  memref.store %du, %out[%c4] : memref<6xindex>
  memref.store %ru, %out[%c5] : memref<6xindex>
  return
}
"""


@pytest.fixture(scope="module")
def division_module():
    return compile_ir(DIVISION)


def _reference_division(a: int, b: int) -> list[int]:
    def wrap(v):
        return (v + 2 ** 63) % 2 ** 64 - 2 ** 63

    if b == 0:  # defined here (module docstring of translate.py, point 7): quotient 0, remainder a
        return [0, 0, 0, a, 0, a]
    trunc = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
    ua, ub = a % 2 ** 64, b % 2 ** 64
    return [wrap(a // b), wrap(-((-a) // b)), wrap(trunc), a - trunc * b, wrap(ua // ub), wrap(ua % ub)]


@settings(max_examples=150)
@given(st.one_of(st.integers(-100, 100), st.integers(-2 ** 63, 2 ** 63 - 1)),
       st.one_of(st.integers(-9, 9), st.integers(-2 ** 63, 2 ** 63 - 1)))
def test_integer_division_with_negative_values(division_module, a, b):
    out = np.zeros(6, np.int64)
    division_module.call("main", a, b, out)
    assert out.tolist() == _reference_division(a, b)


def test_integer_division_edge_cases_do_not_trap(division_module):
    out = np.zeros(6, np.int64)
    lowest = -2 ** 63
    division_module.call("main", lowest, -1, out)  # x86's idiv traps on this one
    assert out.tolist()[2:4] == [lowest, 0]
    division_module.call("main", 7, 0, out)  # and on this one
    assert out.tolist() == [0, 0, 0, 7, 0, 7]
    division_module.call("main", -7, 2, out)
    assert out.tolist()[:4] == [-4, -3, -3, -1]


# ---------------------------------------------------------------------------------------------
# errors


def test_an_op_without_translation_is_named_with_its_position():
    text = """func.func @main(%a: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  "test.mystery"(%a) : (memref<4xf32>) -> ()
  return
}
"""
    with pytest.raises(LLVMTranslationError) as e:
        jit(parse(text, allow_unregistered=True))
    assert "'test.mystery' op has no LLVM translation" in e.value.message
    assert (e.value.line, e.value.column) == (3, 3)
    assert "lower other ops to loops first" in e.value.hint


def test_tensor_ops_are_not_loop_ir():
    text = """func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %b = arith.addf %a, %a : tensor<4xf32>
  return %b : tensor<4xf32>
}
"""
    with pytest.raises(LLVMTranslationError, match="tensor<4xf32>.*loop IR"):
        translate_module(parse(text))


def test_wrong_arguments_are_clear_errors():
    jm = compile_ir(elementwise_ir(2, 3))
    a, out = np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32)
    cases = [((a, a), "takes 3 arguments, got 2"),
             ((a, a.astype(np.float64), out), "argument 1 of @main .* must have dtype float32, not float64"),
             ((a, a, np.zeros((3, 2), np.float32)), r"must have shape \(2, 3\), not \(3, 2\)"),
             ((a, np.zeros((3, 2), np.float32).T, out), "must be C-contiguous"),
             ((a, [[0.0] * 3] * 2, out), "must be a numpy array, not list")]
    for args, message in cases:
        with pytest.raises(JitError, match=message):
            jm.call("main", *args)
    with pytest.raises(JitError, match="no public function @nope"):
        jm.call("nope")
    division = compile_ir(DIVISION)
    with pytest.raises(JitError, match="must be a int64 number, not float64"):
        division.call("main", 1.5, 2, np.zeros(6, np.int64))


def test_verifier_failure_is_a_lamina_error_not_a_crash(monkeypatch):
    """A translation bug (here: scf.for's results taken from inside the loop body, which does
    not dominate the exit) is caught by LLVM's verifier before anything runs the IR."""
    original = translate.Translator.emit_loop

    def broken(self, lower, upper, step, inits, body, **names):
        inside = []
        original(self, lower, upper, step, inits, lambda iv, iters: inside.extend(body(iv, iters)) or inside, **names)
        return inside

    monkeypatch.setattr(translate.Translator, "emit_loop", broken)
    with pytest.raises(LLVMVerifierError) as e:
        compile_ir(matmul_ir(2, 2, 2))
    assert "does not dominate all uses" in e.value.render()
    assert "bug in lamina" in e.value.hint


def test_verifier_failure_on_text_llvm_cannot_parse(monkeypatch):
    monkeypatch.setitem(translate.OP_TRANSLATIONS, "func.return", lambda self, op: None)  # then `ret void`
    with pytest.raises(LLVMVerifierError, match="LLVM rejected the translated module"):
        compile_ir("func.func @f(%x: i32) -> i32 {\n  return %x : i32\n}\n")


# ---------------------------------------------------------------------------------------------
# what it became: LLVM IR, assembly, vectorization


def test_ir_asm_and_timings():
    jm = compile_ir(matmul_ir(8, 8, 8), 3)
    assert "define void @main(" in jm.llvm_ir and "fmul" in jm.llvm_ir
    assert 'define void @"main"(float* %"a"' in jm.unoptimized_llvm_ir
    assert "main:" in jm.asm
    assert set(jm.timings) == {"translate", "verify", "optimize", "codegen"} and jm.compile_seconds > 0


def test_vectorizes_at_o3_not_at_o0():
    module = parse(elementwise_ir(4, 64).replace("math.tanh", "math.sqrt").replace("math.erf", "math.absf"))
    assert re.search(r"<\d+ x float>", emit_llvm(module, 3))
    assert not re.search(r"<\d+ x float>", emit_llvm(module, 0))
    assert "main:" in emit_asm(module, 2)


def lamina(*args):
    return subprocess.run([str(LAMINA), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_cli_emit_llvm_and_asm(tmp_path):
    path = tmp_path / "matmul.mlir"
    path.write_text(matmul_ir(4, 4, 4))
    proc = lamina("opt", path, "--emit", "llvm")
    assert proc.returncode == 0, proc.stderr
    assert "define void @main(" in proc.stdout and "fmul" in proc.stdout
    proc = lamina("opt", path, "--emit", "asm", "--llvm-opt", "0", "-p", "canonicalize,cse")
    assert proc.returncode == 0, proc.stderr
    assert "main:" in proc.stdout and "ret" in proc.stdout
    vector = tmp_path / "vector.mlir"
    vector.write_text(elementwise_ir(4, 64).replace("math.tanh", "math.sqrt").replace("math.erf", "math.absf"))
    proc = lamina("opt", vector, "--emit", "llvm", "--llvm-opt", "3")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"<\d+ x float>", proc.stdout)


def test_cli_emit_llvm_of_nn_ir_names_the_first_op(tmp_path):
    path = tmp_path / "nn.mlir"
    path.write_text("func.func @main(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {\n"
                    "  %y = nn.relu %x : (tensor<1x4xf32>) -> tensor<1x4xf32>\n"
                    "  return %y : tensor<1x4xf32>\n}\n")
    proc = lamina("opt", path, "--emit", "llvm")
    assert proc.returncode == 1
    assert f"{path}:2:" in proc.stderr and "'nn.relu' op has no LLVM translation" in proc.stderr
    assert "Traceback" not in proc.stderr
