"""widen-conv-columns (compiler/passes/widen_columns.py): random short-reduction convs with an
epilogue and a consumer compute the same after the pass, in the interpreter and built for the CPU
(the widened conv in the column block, the slice in the consumer's kernel); the CPU target's -O3
runs it, the target-free pipeline does not. tests/filecheck/passes/widen-conv-columns.mlir has
the IR it writes and the convs it leaves."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import lamina
from lamina.compiler.passes import PassManager
from lamina.compiler.passes.presets import pipeline_for
from lamina.compiler.testing import random_inputs

CONSUMERS = {
    "max_pool": ("nn.max_pool2d {r} attributes {{kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>}}",
                 lambda h, w: (h // 2, w // 2)),
    "global_avg_pool": ("nn.global_avg_pool {r}", lambda h, w: (1, 1)),
    "depthwise": ("nn.conv2d {r}, %d attributes {{group = {o} : i64, pads = array<i64: 1, 1, 1, 1>}}",
                  lambda h, w: (h, w)),
}


@st.composite
def widened_programs(draw):
    c, o = draw(st.integers(1, 3)), draw(st.integers(1, 5))
    k, stride = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    h = draw(st.integers(k + stride, 9))  # at least 2 output rows, for the 2x2 pool
    out_w = draw(st.sampled_from([7, 11, 15, 19, 23]))  # never whole 4-lane vectors; at most 1/7 more
    left = draw(st.integers(0, 1))
    w = (out_w - 1) * stride + k - left   # the input width giving out_w columns
    out_h = (h - k) // stride + 1
    consumer = draw(st.sampled_from(sorted(CONSUMERS)))
    text, shape = CONSUMERS[consumer]
    ch, cw = shape(out_h, out_w)
    y = f"tensor<1x{o}x{out_h}x{out_w}xf32>"
    z = f"tensor<1x{o}x{ch}x{cw}xf32>"
    use = text.format(r="%r", o=o)
    return f"""func.func @main(%x: tensor<1x{c}x{h}x{w}xf32>, %w: tensor<{o}x{c}x{k}x{k}xf32>, %b: tensor<1x{o}x1x1xf32>, %d: tensor<{o}x1x3x3xf32>) -> {z} {{
  %c = nn.conv2d %x, %w attributes {{strides = array<i64: {stride}, {stride}>, pads = array<i64: 0, {left}, 0, 0>}} : (tensor<1x{c}x{h}x{w}xf32>, tensor<{o}x{c}x{k}x{k}xf32>) -> {y}
  %a = nn.add %c, %b : ({y}, tensor<1x{o}x1x1xf32>) -> {y}
  %r = nn.relu %a : ({y}) -> {y}
  %z = {use} : ({y}{", " + f"tensor<{o}x1x3x3xf32>" if consumer == "depthwise" else ""}) -> {z}
  func.return %z : {z}
}}"""


@settings(max_examples=12, deadline=None)
@given(widened_programs(), st.integers(0, 2 ** 31 - 1))
def test_widened_conv_computes_the_same(text, seed):
    module = lamina.parse(text)
    inputs = random_inputs(module, seed)
    expected = lamina.interpret(module, *inputs)[0]
    widened = lamina.parse(text)
    manager = PassManager.parse("widen-conv-columns{lanes=4}")
    manager.run(widened)
    (pass_,) = manager.passes
    assert pass_.statistics["convs widened"] == 1, lamina.print_ir(widened)
    np.testing.assert_allclose(lamina.interpret(widened, *inputs)[0], expected, rtol=1e-5, atol=1e-5)
    PassManager.parse("fuse").run(widened)
    built = lamina.compile(widened, opt_level=0, threads=2)
    np.testing.assert_allclose(built(*inputs)[0], expected, rtol=1e-4, atol=1e-4)


def test_the_cpu_targets_o3_widens_and_the_target_free_pipeline_does_not():
    assert pipeline_for(3, target="llvm") == (pipeline_for(2) + ",widen-conv-columns,"
                                              "fuse{depthwise-pointwise=true pointwise-depthwise=true concat-pointwise=true}")
    assert pipeline_for(3, target="opencl-adreno") == pipeline_for(3) == pipeline_for(2) + ",fuse"
    assert "widen" not in pipeline_for(2, target="llvm")  # it prepares fusion: -O3 only
    assert "widen" not in pipeline_for(3, "NCHW8c", target="llvm")  # it widens NCHW convs only


def test_squeezenet_style_stem_takes_the_column_block_and_the_pool_its_slice():
    text = """func.func @main(%x: tensor<1x3x224x224xf32>, %w: tensor<64x3x3x3xf32>) -> tensor<1x64x55x55xf32> {
  %c = nn.conv2d %x, %w attributes {strides = array<i64: 2, 2>} : (tensor<1x3x224x224xf32>, tensor<64x3x3x3xf32>) -> tensor<1x64x111x111xf32>
  %r = nn.relu %c : (tensor<1x64x111x111xf32>) -> tensor<1x64x111x111xf32>
  %p = nn.max_pool2d %r attributes {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>} : (tensor<1x64x111x111xf32>) -> tensor<1x64x55x55xf32>
  func.return %p : tensor<1x64x55x55xf32>
}"""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    w = rng.standard_normal((64, 3, 3, 3)).astype(np.float32)
    compiled = lamina.compile(lamina.parse(text), threads=2)
    assert compiled.num_kernels == 2
    (stem,) = [k for k in compiled.kernels if k.generator == "conv_schedule"]
    assert "cb" in stem.scheduled.program.knobs(), stem.scheduled.program  # the column block
    assert "(1, 64, 111, 112)" in stem.script  # the widened rows
    np.testing.assert_allclose(compiled(x, w)[0], lamina.interpret(lamina.parse(text), x, w)[0], rtol=1e-4, atol=1e-4)
