"""`lower-nn-to-loops` (lowering/loops/): nn functions -> loops on memrefs, checked by running.

- every op family on hypothesis-drawn shapes and attributes (the TE lowering tests' case
  generators, tests/test_lowering_cpu.py): the nn reference interpreter on the op vs the loop IR
  JIT-compiled with llvmlite (and, on small cases, the reference interpreter running the loops);
- random nn graphs (compiler/testing.py's nn_graphs), as imported, fused, and converted to NHWC
  and NCHW{c}c: the interpreter before vs the JIT after;
- the zoo at -O3: every model lowers and verifies; the cheap ones run against onnxruntime;
- the pass's options, the calling convention, buffer reuse, and the error for an op it does not cover.

The JIT compiles the op cases at LLVM -O0 (20 ms a module): they test the lowering, not LLVM.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lamina.compiler.attributes import TypeAttr
from lamina.compiler.builder import Builder
from lamina.compiler.parser import parse
from lamina.compiler.passes import run_pipeline
from lamina.compiler.printer import print_ir
from lamina.compiler.testing import nn_graphs, random_inputs
from lamina.compiler.types import FunctionType, MemRefType
from lamina.compiler.verifier import verify
from lamina.dialects.builtin import ModuleOp
from lamina.dialects.func import FuncOp, ReturnOp
from lamina.lowering.llvm import jit
from lamina.lowering.loops import LoweringError, loop_signature, lower_to_loops, output_arrays
from lamina.runtime.interpreter import interpret

from test_lowering_cpu import CASES, make_op

CI = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci"
EXAMPLES = 6 if CI else 200
GRAPH_EXAMPLES = 12 if CI else 500


def module_with(op, operands) -> ModuleOp:
    """`op` (built by make_op on block arguments) as the body of `func.func @main`."""
    module = ModuleOp.empty()
    types = [a.type for a in op.operands]
    fn = FuncOp.create_with_body("main", types, op.result_types)
    module.block.append(fn)
    mapping = dict(zip(op.operands, fn.entry.args))
    for arg, name in zip(fn.entry.args, "abcdefgh"):
        arg.name_hint = name
    b = Builder.at_end(fn.entry)
    new = b.insert(op.clone(mapping))
    b.insert(ReturnOp(operands=list(new.results)))
    fn.function_type = TypeAttr(FunctionType(tuple(types), new.result_types))
    return module


def run_lowered(module, inputs, opt_level=0, interpreter=False, parallel=False):
    """Lower a copy of `module` and run it with the JIT (and the interpreter): its outputs."""
    inputs = [np.asarray(a) for a in inputs]  # a drawn 0-d input may be a numpy scalar
    lowered = module.clone()
    lower_to_loops(lowered, parallel=parallel)
    verify(lowered)
    outs = output_arrays(lowered)
    if any(a.size == 0 for a in (*inputs, *outs)):
        # the JIT refuses numpy's empty arrays (their strides are 0), so these run interpreted
        interpret(lowered, *inputs, *outs)
        return outs
    jit(lowered, opt_level).call("main", *inputs, *outs)
    if interpreter:
        again = output_arrays(lowered)
        interpret(lowered, *inputs, *again)
        for a, b in zip(again, outs):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    return outs


def assert_close(got, expected, rtol=1e-4, atol=1e-5):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        e = np.asarray(e)
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, e.shape, g.dtype, e.dtype)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# every op family


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_lowers_to_loops_that_compute_its_reference(name):
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def check(data):
        operands, props = CASES[name](data.draw, name)
        op = make_op(name, operands, props)
        expected = op.interpret(*operands)
        expected = list(expected) if isinstance(expected, (tuple, list)) else [expected]
        module = module_with(op, operands)
        small = sum(a.size for a in operands) + sum(np.asarray(e).size for e in expected) <= 48
        got = run_lowered(module, operands, interpreter=small)
        assert_close(got, expected)
    check()


def test_every_nn_op_has_a_lowering_or_a_case():
    from lamina.compiler.opdef import get_dialect
    from lamina.lowering.loops import LOWERINGS

    missing = sorted(set(get_dialect("nn").ops) - set(LOWERINGS)
                     - {"nn.constant", "nn.shape", "nn.fused", "nn.yield"})  # handled by the pass
    assert missing == []
    assert sorted(set(LOWERINGS) - set(CASES) - {"nn.constant_of_shape"}) == []


# ---------------------------------------------------------------------------------------------
# whole random graphs, as imported and after the passes that change what the lowering sees

PIPELINES = ["", "fuse", "convert-layout{to=NHWC},fold-constants,fuse",
             "convert-layout{to=NCHWc c=2},fold-constants,fuse"]


@pytest.mark.parametrize("pipeline", PIPELINES, ids=["imported", "fused", "nhwc", "nchw2c"])
def test_random_graphs_keep_their_meaning(pipeline):
    @settings(max_examples=GRAPH_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(nn_graphs(max_ops=8), st.integers(0, 2 ** 32 - 1))
    def check(module, seed):
        inputs = random_inputs(module, seed)
        expected = interpret(module, *inputs)
        if pipeline:
            run_pipeline(module, pipeline)
        assert_close(run_lowered(module, inputs), expected, rtol=1e-4, atol=1e-4)
    check()


# ---------------------------------------------------------------------------------------------
# the zoo

CHEAP = ["mlp", "transformer_block", "glue", "tiny_yolo"]
ALL = ["resnet18", "mobilenetv2", "alexnet", "shufflenet", "squeezenet"] + CHEAP


def optimized(path):
    import lamina
    from lamina.compiler.passes.presets import pipeline_for

    module = lamina.load(str(path))
    run_pipeline(module, pipeline_for(3, ""))
    return module


@pytest.mark.parametrize("model", ALL)
def test_zoo_lowers_at_O3(zoo, model):
    module = optimized(zoo / f"{model}.onnx")
    lower_to_loops(module)
    verify(module)
    assert not [op.name for op in module.walk() if op.name.startswith("nn.")]
    fn = next(op for op in module.block if isinstance(op, FuncOp))
    assert all(isinstance(t, MemRefType) for t in fn.type.inputs) and fn.type.results == ()


@pytest.mark.parametrize("model", CHEAP)
def test_cheap_zoo_models_match_onnxruntime(zoo, model):
    import onnxruntime

    path = zoo / f"{model}.onnx"
    module = optimized(path)
    lower_to_loops(module)
    ins, outs = loop_signature(module)
    session = onnxruntime.InferenceSession(str(path))
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(t.shape).astype(t.element_type.numpy_dtype) for t in ins]
    expected = session.run(None, {i.name: a for i, a in zip(session.get_inputs(), inputs)})
    results = [np.empty(t.shape, t.element_type.numpy_dtype) for t in outs]
    jit(module, 2).call("main", *inputs, *results)
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# calling convention, buffers, options, errors

MLP = """
func.func @main(%x: tensor<2x8xf32>) -> (tensor<2x4xf32>, tensor<2x8xf32>) {
  %w = nn.constant attributes {value = dense<0.25> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
  %v = nn.constant attributes {value = dense<-0.5> : tensor<16x4xf32>} : () -> tensor<16x4xf32>
  %h = nn.matmul %x, %w : (tensor<2x8xf32>, tensor<8x16xf32>) -> tensor<2x16xf32>
  %r = nn.relu %h : (tensor<2x16xf32>) -> tensor<2x16xf32>
  %t = nn.tanh %r : (tensor<2x16xf32>) -> tensor<2x16xf32>
  %e = nn.exp %t : (tensor<2x16xf32>) -> tensor<2x16xf32>
  %y = nn.matmul %e, %v : (tensor<2x16xf32>, tensor<16x4xf32>) -> tensor<2x4xf32>
  func.return %y, %x : tensor<2x4xf32>, tensor<2x8xf32>
}
"""


def test_destination_passing_style_and_signature():
    module = parse(MLP)
    lower_to_loops(module)
    verify(module)
    fn = next(op for op in module.block if isinstance(op, FuncOp))
    assert [str(t) for t in fn.type.inputs] == ["memref<2x8xf32>", "memref<2x4xf32>", "memref<2x8xf32>"]
    assert fn.type.results == ()
    ins, outs = loop_signature(module)
    assert [t.shape for t in ins] == [(2, 8)] and [t.shape for t in outs] == [(2, 4), (2, 8)]
    text = print_ir(module)
    assert text.count('"memref.global"') == 2 and "memref.get_global @w" in text
    assert '"memref.copy"(%x, %out1)' in text  # a result that is an input is copied
    out0 = fn.entry.args[1]
    writers = {u.operation.name for u in out0.uses}
    assert writers == {"memref.store", "memref.load"}  # the last matmul accumulates in the result itself, no copy


def test_intermediates_share_an_arena():
    module = parse(MLP)
    lower_to_loops(module)
    ops = [op for op in module.walk() if op.name in ("memref.alloc", "memref.reinterpret_cast", "memref.dealloc")]
    allocs = [op for op in ops if op.name == "memref.alloc"]
    assert len(allocs) == 1 and allocs[0].properties["alignment"].value == 64
    # h, r, t, e: 4 buffers of 2x16 floats, never more than two alive at once -> 2 slots (64 floats)
    assert allocs[0].result.type.shape == (64,)
    offsets = sorted({op.properties["static_offsets"].values[0] for op in ops if op.name == "memref.reinterpret_cast"})
    assert offsets == [0, 32]
    assert sum(op.name == "memref.dealloc" for op in ops) == 1
    inputs = [np.random.default_rng(1).standard_normal((2, 8)).astype(np.float32)]
    assert_close(run_lowered(parse(MLP), inputs, interpreter=True), interpret(parse(MLP), *inputs))


def test_reshapes_are_views_not_copies():
    module = parse("""
    func.func @main(%x: tensor<2x3x4xf32>) -> tensor<6x4xf32> {
      %e = nn.exp %x : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
      %f = nn.flatten %e attributes {axis = 2 : i64} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
      %n = nn.neg %f : (tensor<6x4xf32>) -> tensor<6x4xf32>
      func.return %n : tensor<6x4xf32>
    }""")
    lower_to_loops(module)
    text = print_ir(module)
    assert text.count("scf.for") == 5  # exp: 3 loops, neg: 2; the flatten is a view
    assert '"memref.reinterpret_cast"(%e)' in text


def test_parallel_option_makes_the_outermost_loop_parallel():
    inputs = [np.random.default_rng(2).standard_normal((2, 8)).astype(np.float32)]
    module = parse(MLP)
    run_pipeline(module, "lower-nn-to-loops{parallel=true}")
    text = print_ir(module)
    assert '"scf.parallel"' in text and "scf.for %k" in text  # the matmuls' k loops stay scf.for inside
    assert_close(run_lowered(parse(MLP), inputs, parallel=True), interpret(parse(MLP), *inputs))


def test_fused_groups_are_lowered_op_by_op():
    module = parse(MLP)
    run_pipeline(module, "fuse")
    assert any(op.name == "nn.fused" for op in module.walk())
    inputs = [np.random.default_rng(3).standard_normal((2, 8)).astype(np.float32)]
    expected = interpret(module, *inputs)
    assert_close(run_lowered(module, inputs, interpreter=True), expected)


UNSUPPORTED = """
func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %b = arith.addf %a, %a : tensor<4xf32> loc("add1")
  func.return %b : tensor<4xf32>
}
"""


def test_an_op_without_lowering_is_a_one_line_error():
    module = parse(UNSUPPORTED)
    with pytest.raises(LoweringError) as e:
        lower_to_loops(module)
    assert e.value.message == """'arith.addf' op at loc("add1") has no loop lowering"""
    assert e.value.hint == "compile this model with the TVM backend instead (--backend tvm)"
    assert e.value.pos is not None and e.value.pos.line == 3
    assert print_ir(module) == print_ir(parse(UNSUPPORTED))  # nothing changed


def test_a_dynamic_shape_is_an_error():
    module = parse("""
    func.func @main(%a: tensor<?x4xf32>) -> tensor<?x4xf32> {
      %b = nn.relu %a : (tensor<?x4xf32>) -> tensor<?x4xf32>
      func.return %b : tensor<?x4xf32>
    }""")
    with pytest.raises(LoweringError, match="needs static shapes"):
        lower_to_loops(module)


def test_the_pass_is_found_by_name():
    from lamina.compiler.passes import get_pass, list_passes

    assert "lower-nn-to-loops" in list_passes()
    assert get_pass("lower-nn-to-loops").options() == {"parallel": (bool, False)}


# ---------------------------------------------------------------------------------------------
# matrix products: register tiles (lowering/loops/microkernel.py), their remainders, the scalar path


def _tensor(shape, t: str) -> str:
    return "tensor<" + "".join(f"{d}x" for d in shape) + t + ">"


def _product_module(op: str, operands: list[np.ndarray], result_shape, attrs: str = ""):
    t = {np.float32: "f32", np.float64: "f64"}[operands[0].dtype.type]
    args = ", ".join(f"%{n}: {_tensor(a.shape, t)}" for n, a in zip("abc", operands))
    types = ", ".join(_tensor(a.shape, t) for a in operands)
    out = _tensor(result_shape, t)
    return parse(f"func.func @main({args}) -> {out} {{\n"
                 f"  %y = {op} {', '.join('%' + n for n in 'abc'[:len(operands)])}{attrs} : ({types}) -> {out}\n"
                 f"  func.return %y : {out}\n}}")


# m below, at and above a tile's 8 rows; n through a 48-column tile, a lone vector of 16 and a
# scalar tail; k down to 1 (no k loop)
ROWS, DEPTH, COLUMNS = st.integers(1, 19), st.integers(1, 6), st.integers(1, 70)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_matmul_tiles_match_numpy(data):
    m, k, n = data.draw(ROWS), data.draw(DEPTH), data.draw(COLUMNS)
    dtype = data.draw(st.sampled_from([np.float32, np.float32, np.float64]))
    batch = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))
    b_batch = tuple(d if data.draw(st.booleans()) else 1 for d in batch)[data.draw(st.integers(0, len(batch))):]
    a_shape = data.draw(st.sampled_from([batch + (m, k), (k,)]))  # a 1-D a: one row
    b_shape = data.draw(st.sampled_from([b_batch + (k, n)] * 3 + [(k,)]))  # a 1-D b: the scalar path
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    a, b = (rng.standard_normal(s).astype(dtype) for s in (a_shape, b_shape))
    expected = np.matmul(a, b)
    got = run_lowered(_product_module("nn.matmul", [a, b], expected.shape), [a, b], opt_level=1, interpreter=True)
    assert_close(got, [expected])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_gemm_tiles_match_numpy(data):
    m, k, n = data.draw(ROWS), data.draw(DEPTH), data.draw(COLUMNS)
    ta, tb = data.draw(st.booleans()), data.draw(st.booleans())
    alpha, beta = data.draw(st.sampled_from([1.0, 0.5, -2.0])), data.draw(st.sampled_from([1.0, 0.25]))
    bias = data.draw(st.sampled_from([None, (n,), (1, n), (m, 1), (m, n)]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    operands = [rng.standard_normal(s).astype(np.float32)
                for s in [(k, m) if ta else (m, k), (n, k) if tb else (k, n), *([bias] if bias else [])]]
    a, b = operands[0].T if ta else operands[0], operands[1].T if tb else operands[1]
    expected = alpha * (a @ b) + (beta * operands[2] if bias else 0)
    attrs = (f" attributes {{alpha = {alpha} : f32, beta = {beta} : f32, trans_a = {int(ta)} : i64, "
             f"trans_b = {int(tb)} : i64}}")
    got = run_lowered(_product_module("nn.gemm", operands, (m, n), attrs), operands, opt_level=1, interpreter=True)
    assert_close(got, [expected.astype(np.float32)])


def test_matmul_micro_kernel_ir():
    """A 2x3 @ 3x17 matmul: one tile of 2 rows x 1 vector in registers over k, the 17th column
    with scalars."""
    module = parse("""func.func @main(%a: tensor<2x3xf32>, %b: tensor<3x17xf32>) -> tensor<2x17xf32> {
  %c = nn.matmul %a, %b : (tensor<2x3xf32>, tensor<3x17xf32>) -> tensor<2x17xf32>
  func.return %c : tensor<2x17xf32>
}""")
    run_pipeline(module, "lower-nn-to-loops")
    text = print_ir(module)
    body = text[text.index("    %cin00"):text.index("    return")]
    assert body == """\
    %cin00 = vector.load %out0[%c0, %c0] : memref<2x17xf32>, vector<16xf32>
    %cin10 = vector.load %out0[%c1, %c0] : memref<2x17xf32>, vector<16xf32>
    %cout00, %cout10 = scf.for %k = %c0 to %c3 step %c1 iter_args(%acc00 = %cin00, %acc10 = %cin10) -> (vector<16xf32>, vector<16xf32>) {
      %b0 = vector.load %b[%k, %c0] : memref<3x17xf32>, vector<16xf32>
      %aik = memref.load %a[%c0, %k] : memref<2x3xf32>
      %a0 = vector.broadcast %aik : f32 to vector<16xf32>
      %fma00 = vector.fma %a0, %b0, %acc00 : vector<16xf32>
      %aik_1 = memref.load %a[%c1, %k] : memref<2x3xf32>
      %a1 = vector.broadcast %aik_1 : f32 to vector<16xf32>
      %fma10 = vector.fma %a1, %b0, %acc10 : vector<16xf32>
      scf.yield %fma00, %fma10 : vector<16xf32>, vector<16xf32>
    }
    vector.store %cout00, %out0[%c0, %c0] : memref<2x17xf32>, vector<16xf32>
    vector.store %cout10, %out0[%c1, %c0] : memref<2x17xf32>, vector<16xf32>
    scf.for %i_1 = %c0 to %c2 step %c1 {
      scf.for %k_1 = %c0 to %c3 step %c1 {
        %aik_2 = memref.load %a[%i_1, %k_1] : memref<2x3xf32>
        %bkj = memref.load %b[%k_1, %c16] : memref<3x17xf32>
        %cij = memref.load %out0[%i_1, %c16] : memref<2x17xf32>
        %p = arith.mulf %aik_2, %bkj : f32
        %s = arith.addf %cij, %p : f32
        memref.store %s, %out0[%i_1, %c16] : memref<2x17xf32>
      }
    }
"""


@pytest.mark.parametrize("pipeline", ["loop-tile{sizes=2,2}", "loop-unroll", "loop-invariant-code-motion",
                                      "loop-fusion", "lower-nn-to-loops{parallel=true}"])
def test_loop_passes_accept_the_micro_kernel(pipeline):
    """The loop passes leave the vector ops alone (or move them legally); the product is unchanged.
    A 17x5 @ 5x50 matmul has every part: 8-row tiles, a 1-row tile, 48 columns, 2 scalar ones."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((17, 5)).astype(np.float32), rng.standard_normal((5, 50)).astype(np.float32)
    module = _product_module("nn.matmul", [a, b], (17, 50))
    lower = pipeline if pipeline.startswith("lower") else "lower-nn-to-loops," + pipeline
    run_pipeline(module, lower)
    verify(module)
    if "parallel" in pipeline:
        assert '"scf.parallel"' in print_ir(module)
    out = output_arrays(module)
    interpret(module, a, b, *out)
    np.testing.assert_allclose(out[0], a @ b, rtol=1e-4, atol=1e-5)
    jit(module, 1).call("main", a, b, *(again := output_arrays(module)))
    np.testing.assert_allclose(again[0], a @ b, rtol=1e-4, atol=1e-5)


def test_a_max_pool_window_of_minus_infinity_alone_is_minus_infinity():
    """-inf without padding in its window stays -inf; a window of padding alone is the lowest
    finite float, as the interpreter (found by the random graphs: a -inf from a division by 0)."""
    module = parse("""
func.func @main(%x: tensor<1x1x2x3xf32>) -> (tensor<1x1x2x3xf32>, tensor<1x1x3x4xf32>) {
  %a = nn.max_pool2d %x attributes {kernel_shape = array<i64: 1, 1>} : (tensor<1x1x2x3xf32>) -> tensor<1x1x2x3xf32>
  %b = nn.max_pool2d %x attributes {kernel_shape = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 2, 2>} : (tensor<1x1x2x3xf32>) -> tensor<1x1x3x4xf32>
  func.return %a, %b : tensor<1x1x2x3xf32>, tensor<1x1x3x4xf32>
}""")
    x = np.full((1, 1, 2, 3), -np.inf, np.float32)
    x[0, 0, 1, 2] = 1.0
    expected = interpret(module, x)
    assert np.isneginf(expected[0]).sum() == 5 and (expected[1] == np.finfo(np.float32).min).any()
    assert_close(run_lowered(module, [x]), expected)
