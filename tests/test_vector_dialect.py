"""The vector dialect (dialects/vector.py) and the `vector<16xf32>` type: printing and parsing
(custom and generic forms), verifier messages, the interpreter against numpy, the LLVM translation
through the JIT, and xDSL reading what lamina prints."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from lamina.compiler.errors import LaminaError
from lamina.compiler.parser import parse
from lamina.compiler.printer import print_ir
from lamina.compiler.types import VectorType, f32, vector
from lamina.compiler.verifier import verify
from lamina.lowering.llvm import emit_llvm, jit
from lamina.runtime.interpreter import interpret

AXPY = """func.func @main(%x: memref<2x20xf32>, %s: f32, %i: index, %out: memref<2x20xf32>) {
  %v = vector.load %x[%i, %i] : memref<2x20xf32>, vector<16xf32>
  %w = vector.load %out[%i, %i] : memref<2x20xf32>, vector<16xf32>
  %a = vector.broadcast %s : f32 to vector<16xf32>
  %r = vector.fma %a, %v, %w : vector<16xf32>
  vector.store %r, %out[%i, %i] : memref<2x20xf32>, vector<16xf32>
  func.return
}"""


def module(text: str):
    m = parse(text)
    verify(m)
    return m


def test_vector_type_prints_and_parses_as_mlir():
    assert str(vector(16, f32)) == "vector<16xf32>"
    assert str(VectorType((), f32)) == "vector<f32>"
    for text in ("vector<16xf32>", "vector<4x8xf64>", "vector<i8>"):
        m = module(f"func.func @f(%a: {text}) {{ func.return }}")
        assert m.block.first_op.entry.args[0].type == parse(f"func.func @g(%b: {text}) {{ func.return }}"
                                                              ).block.first_op.entry.args[0].type
        assert text in print_ir(m)
    with pytest.raises(LaminaError, match="must be numbers"):
        parse("func.func @f(%a: vector<?xf32>) { func.return }")


def test_ops_round_trip_in_custom_and_generic_form():
    m = module(AXPY)
    text = print_ir(m)
    assert "vector.load %x[%i, %i] : memref<2x20xf32>, vector<16xf32>" in text
    assert "vector.broadcast %s : f32 to vector<16xf32>" in text
    assert "vector.fma %a, %v, %w : vector<16xf32>" in text
    assert "vector.store %r, %out[%i, %i] : memref<2x20xf32>, vector<16xf32>" in text
    generic = print_ir(m, generic=True)
    assert '"vector.fma"(%a, %v, %w) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>' in generic
    assert print_ir(module(text)) == text and print_ir(module(generic)) == text


@pytest.mark.parametrize("line, message", [
    ("%v = vector.load %m[%i] : memref<4x32xf32>, vector<16xf32>", "with 1 indices; give one per dimension"),
    ('%v = "vector.load"(%m, %i, %i) : (memref<4x32xf32>, index, index) -> vector<16xf64>',
     "the element types must be the same"),
    ('%v = "vector.load"(%t, %i, %i) : (memref<4x32xf32, strided<[1, 4]>>, index, index) -> vector<16xf32>',
     "not contiguous"),
    ('%v = "vector.broadcast"(%x) : (f32) -> vector<16xf64>', "the element types must be the same"),
    ('%w = "vector.broadcast"(%x) : (f32) -> vector<16xf32>\n'
     '  %v = "vector.fma"(%w, %w, %w) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<8xf32>',
     "lhs, rhs, acc and the result differ"),
])
def test_verifier_messages(line, message):
    text = (f"func.func @f(%m: memref<4x32xf32>, %t: memref<4x32xf32, strided<[1, 4]>>, %x: f32, %i: index) {{\n"
            f"  {line}\n  func.return\n}}")
    with pytest.raises(LaminaError, match=message):
        module(text)


def test_interpreter_and_jit_compute_a_fused_multiply_add():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 20)).astype(np.float32)
    out = rng.standard_normal((2, 20)).astype(np.float32)
    expected = out.copy()
    expected[1, 1:17] = (np.float64(3.0) * x[1, 1:17] + out[1, 1:17]).astype(np.float32)
    interpreted = out.copy()
    interpret(module(AXPY), x, np.float32(3.0), np.int64(1), interpreted)
    np.testing.assert_array_equal(interpreted, expected)
    jitted = out.copy()
    jit(module(AXPY), 2).call("main", x, np.float32(3.0), 1, jitted)
    np.testing.assert_allclose(jitted, expected, rtol=1e-6)
    assert "llvm.fma.v16f32" in emit_llvm(module(AXPY), 0)


def test_interpreter_checks_the_vector_fits():
    x, out = np.zeros((2, 20), np.float32), np.zeros((2, 20), np.float32)
    with pytest.raises(LaminaError, match="outside the memref's shape"):
        interpret(module(AXPY), x, np.float32(1.0), np.int64(5), out)  # columns 5..20 of 20


def test_xdsl_reads_both_forms(tmp_path):
    xdsl_opt_main = pytest.importorskip("xdsl.xdsl_opt_main", reason="xdsl is not installed")
    m = module(AXPY)
    for name, text in (("generic.mlir", print_ir(m, generic=True)), ("custom.mlir", print_ir(m))):
        (tmp_path / name).write_text(text)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            xdsl_opt_main.xDSLOptMain(args=["--print-op-generic", str(tmp_path / name)]).run()
        assert print_ir(module(out.getvalue()), generic=True) == print_ir(m, generic=True)
