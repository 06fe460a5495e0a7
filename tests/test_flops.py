"""FLOP counts (lamina.runtime.flops) of ops built from MLIR text, and the FMA peak microkernel.
Nothing here asserts a time: the peak is checked for being a positive, finite number made by
real FMA instructions whose result shows every one of them ran."""

import math
import os
import platform

import pytest

import lamina
from lamina.runtime.flops import UNKNOWN, fma_peak, op_flops


def ops_of(body: str, args: str) -> list:
    """The ops of `func.func @main(args)` with `body` (without a return), in order."""
    module = lamina.parse(f"func.func @main({args}) {{\n{body}\n  func.return\n}}")
    lamina.verify(module)
    return [op for op in module.walk() if op.name.startswith("nn.") and op.parent_op.name == "func.func"]


def conv_formula(n, k, c, group, kh, kw, oh, ow):
    return 2 * n * k * (c // group) * kh * kw * oh * ow


def test_conv2d_nchw_is_the_formula():
    (conv,) = ops_of(
        "  %y = nn.conv2d %x, %w attributes {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : "
        "(tensor<2x8x10x10xf32>, tensor<16x8x3x3xf32>) -> tensor<2x16x5x5xf32>",
        "%x: tensor<2x8x10x10xf32>, %w: tensor<16x8x3x3xf32>")
    assert op_flops(conv) == conv_formula(2, 16, 8, 1, 3, 3, 5, 5)


def test_grouped_and_biased_conv2d():
    (conv,) = ops_of(
        "  %y = nn.conv2d %x, %w, %b attributes {group = 4 : i64} : "
        "(tensor<1x8x6x6xf32>, tensor<12x2x3x3xf32>, tensor<12xf32>) -> tensor<1x12x4x4xf32>",
        "%x: tensor<1x8x6x6xf32>, %w: tensor<12x2x3x3xf32>, %b: tensor<12xf32>")
    # the bias is one add per output element
    assert op_flops(conv) == conv_formula(1, 12, 8, 4, 3, 3, 4, 4) + 12 * 4 * 4


def test_conv2d_in_nhwc_and_nchw8c_counts_as_in_nchw():
    nhwc, nchwc = ops_of(
        '  %y = nn.conv2d %x, %w attributes {layout = "NHWC"} : '
        "(tensor<1x10x10x8xf32>, tensor<16x8x3x3xf32>) -> tensor<1x8x8x16xf32>\n"
        '  %z = nn.conv2d %xc, %wc attributes {layout = "NCHW8c", weight_layout = "OIHW8i8o"} : '
        "(tensor<1x1x10x10x8xf32>, tensor<2x1x3x3x8x8xf32>) -> tensor<1x2x8x8x8xf32>",
        "%x: tensor<1x10x10x8xf32>, %w: tensor<16x8x3x3xf32>, %xc: tensor<1x1x10x10x8xf32>, "
        "%wc: tensor<2x1x3x3x8x8xf32>")
    assert op_flops(nhwc) == op_flops(nchwc) == conv_formula(1, 16, 8, 1, 3, 3, 8, 8)


def test_matmul_batched_and_gemm():
    matmul, vector, gemm = ops_of(
        "  %c = nn.matmul %a, %b : (tensor<3x4x5xf32>, tensor<5x6xf32>) -> tensor<3x4x6xf32>\n"
        "  %v = nn.matmul %r, %b : (tensor<5xf32>, tensor<5x6xf32>) -> tensor<6xf32>\n"
        "  %g = nn.gemm %t, %u, %bias attributes {trans_a = 1 : i64, trans_b = 1 : i64} : "
        "(tensor<7x2xf32>, tensor<9x7xf32>, tensor<9xf32>) -> tensor<2x9xf32>",
        "%a: tensor<3x4x5xf32>, %b: tensor<5x6xf32>, %r: tensor<5xf32>, %t: tensor<7x2xf32>, "
        "%u: tensor<9x7xf32>, %bias: tensor<9xf32>")
    assert op_flops(matmul) == 3 * 2 * 4 * 6 * 5  # batch x 2MNK
    assert op_flops(vector) == 2 * 1 * 6 * 5
    assert op_flops(gemm) == 2 * 2 * 9 * 7 + 2 * 9  # 2MNK (K = 7, a transposed) + the add of c


def test_elementwise_reductions_pools_and_data_movement():
    add, relu, total, pool, gap, softmax, reshape, transpose = ops_of(
        "  %s = nn.add %x, %b : (tensor<2x3x4x4xf32>, tensor<3x1x1xf32>) -> tensor<2x3x4x4xf32>\n"
        "  %r = nn.relu %s : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>\n"
        "  %t = nn.reduce_sum %r attributes {axes = array<i64: 3>, keepdims = 0 : i64} : "
        "(tensor<2x3x4x4xf32>) -> tensor<2x3x4xf32>\n"
        "  %p = nn.max_pool2d %r attributes {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : "
        "(tensor<2x3x4x4xf32>) -> tensor<2x3x2x2xf32>\n"
        "  %g = nn.global_avg_pool %r : (tensor<2x3x4x4xf32>) -> tensor<2x3x1x1xf32>\n"
        "  %m = nn.softmax %t attributes {axis = 2 : i64} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>\n"
        "  %q = nn.reshape %r attributes {shape = array<i64: 6, 16>} : (tensor<2x3x4x4xf32>) -> tensor<6x16xf32>\n"
        "  %u = nn.transpose %q attributes {perm = array<i64: 1, 0>} : (tensor<6x16xf32>) -> tensor<16x6xf32>",
        "%x: tensor<2x3x4x4xf32>, %b: tensor<3x1x1xf32>")
    assert op_flops(add) == op_flops(relu) == 96  # one per output element
    assert op_flops(total) == op_flops(gap) == 96  # one per input element
    assert op_flops(pool) == 2 * 3 * 2 * 2 * 4  # one per element a window reads
    assert op_flops(softmax) == 24
    assert op_flops(reshape) == op_flops(transpose) == 0


def test_a_fused_group_is_the_sum_of_its_ops_and_names_its_nodes():
    from lamina.runtime.benchmark import kernel_nodes

    text = """
func.func @main(%x: tensor<1x4x6x6xf32>, %w: tensor<8x4x3x3xf32>, %b: tensor<8xf32>) -> tensor<1x8x4x4xf32> {
  %c = nn.conv2d %x, %w, %b : (tensor<1x4x6x6xf32>, tensor<8x4x3x3xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32> loc("conv1")
  %r = nn.relu %c : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32> loc("relu1")
  func.return %r : tensor<1x8x4x4xf32>
}
"""
    module = lamina.parse(text)
    lamina.verify(module)
    before = sum(op_flops(op) for op in module.walk() if op.name in ("nn.conv2d", "nn.relu"))
    lamina.run_pipeline(module, "fuse")
    (group,) = [op for op in module.walk() if op.name == "nn.fused"]
    assert op_flops(group) == before == conv_formula(1, 8, 4, 1, 3, 3, 4, 4) + 2 * 8 * 4 * 4
    assert kernel_nodes(group) == ["conv1", "relu1"]


def test_an_unknown_op_counts_its_output_elements():
    from types import SimpleNamespace

    from lamina.compiler.types import RankedTensorType, f32

    result = SimpleNamespace(type=RankedTensorType((3, 5), f32))
    op = SimpleNamespace(name="other.op", operands=(), results=[result], properties={})
    assert op_flops(op) == 15 and "other.op" in UNKNOWN


def test_the_fma_peak_is_real_fmas():
    """One thread, briefly: a positive, finite GFLOP/s from a kernel whose result proved every
    FMA ran (fma_peak raises otherwise), with FMA instructions in its assembly on x86-64."""
    threads = int(os.environ.get("TVM_NUM_THREADS") or 1)
    peak = fma_peak(threads, seconds=0.05)
    assert math.isfinite(peak.gflops) and peak.gflops > 0
    assert peak.calls >= 5 and peak.seconds > 0 and 8 <= peak.accumulators <= 16
    if platform.machine() in ("x86_64", "AMD64"):
        assert peak.fma_instructions >= peak.accumulators
        assert peak.register in ("xmm", "ymm", "zmm")
    text = peak.describe()
    assert text.startswith(f"peak: {peak.gflops:.0f} GFLOP/s fp32 FMA, {threads} threads")


def test_a_wrong_chain_length_is_refused():
    with pytest.raises(ValueError, match="too long"):
        fma_peak(1, seconds=0.01, chain=1 << 22)


def test_a_peak_held_down_by_other_work_uses_the_one_thread_number():
    from lamina.runtime.flops import Peak

    fine = Peak(350.0, 2, 16, 12, 1 << 18, 6e-4, 100, 48, "zmm", 2100.0, one_thread_gflops=180.0)
    assert not fine.busy and fine.reference == 350.0 and "held" not in fine.describe()
    busy = Peak(180.0, 2, 16, 12, 1 << 18, 1.2e-3, 100, 48, "zmm", 2100.0, one_thread_gflops=180.0)
    assert busy.busy and busy.reference == 360.0 and "uses 2 x the 1-thread number" in busy.describe()
    assert fine.implied_ghz == pytest.approx(350.0 / (2 * 2 * 16 * 2))
