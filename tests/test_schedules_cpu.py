"""The CPU schedules of the anchor ops (lowering/schedules/cpu.py) on zoo-sized shapes: the
register-blocked matmul/gemm and the blocked conv2d (dense, grouped and depthwise) give numpy's
results, and the kernel really took the blocked schedule (no timing is asserted here; see
bench/ for speed). tests/test_lowering_cpu.py covers the same schedules on small random shapes.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lamina.dialects.nn.base import ints, integer, real, string
from lamina.lowering import targets
from lamina.lowering.build import build_op

from test_lowering_cpu import make_op

TARGET = targets.get("llvm", threads=2)
CI_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci"


def conv_experiment(c, side, out_c, k=1, stride=1, pad=None, group=1, residual=False):
    """`lamina.kernel` of one NCHW conv on a side x side image (padded by k // 2 unless `pad`
    says otherwise), with a residual add and a relu fused after it when `residual`."""
    from lamina.compiler.parser import parse
    from lamina.compiler.passes import run_pipeline
    from lamina.compiler.printer import print_ir
    from lamina.lowering.experiment import kernel

    p = k // 2 if pad is None else pad
    out = (side + 2 * p - k) // stride + 1
    x, w = f"tensor<1x{c}x{side}x{side}xf32>", f"tensor<{out_c}x{c // group}x{k}x{k}xf32>"
    y = f"tensor<1x{out_c}x{out}x{out}xf32>"
    args = f"%x: {x}, %w: {w}" + (f", %r: {y}" if residual else "")
    tail = (f"  %d = nn.add %c, %r : ({y}, {y}) -> {y}\n  %e = nn.relu %d : ({y}) -> {y}\n  func.return %e : {y}"
            if residual else f"  func.return %c : {y}")
    src = f"""func.func @main({args}) -> {y} {{
  %c = nn.conv2d %x, %w attributes {{group = {group} : i64, strides = array<i64: {stride}, {stride}>, pads = array<i64: {p}, {p}, {p}, {p}>}} : ({x}, {w}) -> {y}
{tail}
}}"""
    module = parse(src, "<kernel>")
    run_pipeline(module, "fuse")
    return kernel(print_ir(module, print_locations=False), target=TARGET)


@pytest.fixture(autouse=True, scope="module")
def kernel_cache(tmp_path_factory):
    os.environ["LAMINA_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernels"))


def rand(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape).astype(np.float32)


def run(name, operands, props):
    op = make_op(name, operands, dict(props))
    built = build_op(op, TARGET, threads=2)
    shapes = [tuple(r.type.shape) for r in op.results]
    (out,) = built.kernel.run(operands, shapes, [np.float32] * len(shapes))
    return out, built.script


def blocked(script: str) -> bool:
    """The kernel sums into a local (register) block, vectorized, in a parallel loop."""
    return 'scope="local"' in script and "T.vectorized" in script and "T.parallel" in script


MATMULS = {  # transformer block, batched attention
    "128x256@256x256": ((128, 256), (256, 256)),
    "128x256@256x1024": ((128, 256), (256, 1024)),
    "128x1024@1024x256": ((128, 1024), (1024, 256)),
    "4x128x64@4x64x128": ((4, 128, 64), (4, 64, 128)),
    "broadcast 2x128x64@64x96": ((2, 128, 64), (64, 96)),
    "odd 33x70@70x45": ((33, 70), (70, 45)),
}


@pytest.mark.parametrize("case", sorted(MATMULS))
def test_matmul_matches_numpy(case):
    sa, sb = MATMULS[case]
    a, b = rand(*sa), rand(*sb, seed=1)
    out, script = run("nn.matmul", [a, b], {})
    np.testing.assert_allclose(out, np.matmul(a.astype(np.float64), b), rtol=1e-4, atol=1e-4)
    assert blocked(script)
    if sa[-2] >= 16:
        assert "pack_b" in script


GEMMS = {  # (m, k, n, trans_a, trans_b, bias)
    "resnet fc 1x512@(1000x512)^T": (1, 512, 1000, 0, 1, True),
    "mlp 1x784@784x256": (1, 784, 256, 0, 0, True),
    "mlp 1x256@256x10 no bias": (1, 256, 10, 0, 0, False),
    "batch 64x256@(128x256)^T": (64, 256, 128, 0, 1, True),
    "trans_a 32x48^T@48x40": (32, 48, 40, 1, 0, True),
}


@pytest.mark.parametrize("case", sorted(GEMMS))
def test_gemm_matches_numpy(case):
    m, k, n, ta, tb, bias = GEMMS[case]
    a = rand(*((k, m) if ta else (m, k)))
    b = rand(*((n, k) if tb else (k, n)), seed=1)
    operands = [a, b] + ([rand(n, seed=2)] if bias else [])
    props = {"trans_a": integer(ta), "trans_b": integer(tb), "alpha": real(1.0), "beta": real(1.0)}
    out, script = run("nn.gemm", operands, props)
    expected = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b)
    if bias:
        expected = expected + operands[2]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    assert blocked(script)


CONVS = {  # (n, c, h, w, out_c, k, stride, pad, group)
    "resnet stem 7x7/2 3->64 224": (1, 3, 224, 224, 64, 7, 2, 3, 1),
    "resnet 3x3 64->64 56": (1, 64, 56, 56, 64, 3, 1, 1, 1),
    "resnet 3x3/2 128->256 28": (1, 128, 28, 28, 256, 3, 2, 1, 1),
    "resnet 1x1/2 128->256 28": (1, 128, 28, 28, 256, 1, 2, 0, 1),
    "mobilenet dw 3x3 32 112": (1, 32, 112, 112, 32, 3, 1, 1, 32),
    "mobilenet dw 3x3/2 96 112": (1, 96, 112, 112, 96, 3, 2, 1, 96),
    "mobilenet pw 1x1 96->24 56": (1, 96, 56, 56, 24, 1, 1, 0, 1),
    "mobilenet pw 1x1 16->96 112 (column block)": (1, 16, 112, 112, 96, 1, 1, 0, 1),
    "column block 3x3 4->16 32x48 padded": (1, 4, 32, 48, 16, 3, 1, 1, 1),
    "dw 3x3/2 odd 24 15x17": (1, 24, 15, 17, 24, 3, 2, 1, 24),
    "mobilenet stem 3x3/2 3->32 224 (dealt, column block)": (1, 3, 224, 224, 32, 3, 2, 1, 1),
    "stem 3x3/2 3->20 64 (dealt, channel block, padded channels)": (1, 3, 64, 64, 20, 3, 2, 1, 1),
    "dw 5x5/2 unpadded 8 20": (2, 8, 20, 20, 8, 5, 2, 0, 8),
    "mobilenet pw 1x1 320->1280 7": (1, 320, 7, 7, 1280, 1, 1, 0, 1),
    "odd 3x3 5->7 13x11": (2, 5, 13, 11, 7, 3, 1, 1, 1),
    "alexnet grouped 5x5 96->256 27 g2": (1, 96, 27, 27, 256, 5, 1, 2, 2),
    "alexnet grouped 3x3 384->256 13 g2": (1, 384, 13, 13, 256, 3, 1, 1, 2),
    "shufflenet grouped 1x1 240->60 28 g3": (1, 240, 28, 28, 60, 1, 1, 0, 3),
    "shufflenet grouped 1x1 96->384 14 g8": (1, 96, 14, 14, 384, 1, 1, 0, 8),
}


def conv_reference(x, w, b, stride, pad, group):
    """Direct convolution in float64 with numpy (NCHW)."""
    n, c, h, wd = x.shape
    oc, cg, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, oc, oh, ow))
    per_group = oc // group
    for g in range(group):
        xs = xp[:, g * cg:(g + 1) * cg]
        ws = w[g * per_group:(g + 1) * per_group].astype(np.float64)
        for ky in range(kh):
            for kx in range(kw):
                patch = xs[:, :, ky:ky + stride * oh:stride, kx:kx + stride * ow:stride]
                out[:, g * per_group:(g + 1) * per_group] += np.einsum("nchw,oc->nohw", patch, ws[:, :, ky, kx])
    return out + b[None, :, None, None]


# every conv in NCHW; NHWC for the layers of 56x56 and less (one large NHWC case is enough)
LAYOUT_CASES = [(case, "NCHW") for case in sorted(CONVS)] + \
    [(case, "NHWC") for case in sorted(CONVS) if CONVS[case][2] <= 56]


@pytest.mark.parametrize("case,layout", LAYOUT_CASES)
def test_conv2d_matches_numpy(case, layout):
    n, c, h, w, oc, k, s, p, g = CONVS[case]
    x, wt, b = rand(n, c, h, w), rand(oc, c // g, k, k, seed=1), rand(oc, seed=2)
    props = {"strides": ints([s, s]), "pads": ints([p] * 4), "dilations": ints([1, 1]), "group": integer(g)}
    xin = x
    if layout == "NHWC":
        props["layout"] = string("NHWC")
        xin = x.transpose(0, 2, 3, 1).copy()
    out, script = run("nn.conv2d", [xin, wt, b], props)
    expected = conv_reference(x, wt, b, s, p, g)
    if layout == "NHWC":
        expected = expected.transpose(0, 2, 3, 1)
    # (a 3x3 stride-1 conv is Winograd's, whose rounding error scales with the outputs': 5e-4 on
    # AlexNet's grouped 384 -> 256 with unit weights, outputs up to 91)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=max(2e-4, 1e-5 * np.abs(expected).max()))
    assert blocked(script)


@pytest.mark.parametrize("c,width,out_c,k,stride,column", [
    (16, 112, 96, 1, 1, True),   # MobileNetV2's 1x1 convs at 112x112: 16 multiply-adds per output
    (4, 32, 16, 3, 1, True),     # a 3x3 conv reading its padded copy
    (3, 224, 32, 3, 2, True),    # MobileNetV2's stem, reading its input dealt into column phases
    (96, 112, 24, 1, 1, False),  # a long reduction: the channel block
    (24, 56, 144, 1, 1, True),   # rows of 3.5 vectors, planes of 196: merged (_merges_rows)
    (24, 28, 144, 3, 1, False),  # rows of 1.75 vectors, and a window
    (3, 222, 64, 3, 2, False),   # rows of 111 columns
])
def test_dense_conv_takes_the_column_block_where_it_wins(c, width, out_c, k, stride, column):
    experiment = conv_experiment(c, width, out_c, k, stride)
    assert ("cb" in experiment.knobs) == column, experiment.schedule
    assert experiment.check() < 1e-3


@pytest.mark.parametrize("c,side,out_c,k,stride,group,rows_first", [
    (256, 56, 128, 1, 1, 1, True),   # ResNet-50's bottleneck entry: the input is larger than the output
    (256, 56, 512, 1, 2, 1, True),   # its strided projection
    (128, 28, 512, 1, 1, 1, True),   # its bottleneck exit: the output is larger, on 28 rows
    (256, 14, 1024, 1, 1, 1, False),  # the same at 14x14: the output fits in L2
    (60, 28, 240, 1, 1, 3, False),   # grouped (ShuffleNet's): each block reads its group
    (64, 56, 64, 1, 1, 1, True),     # its first bottleneck's entry: as large
    (64, 28, 32, 3, 1, 1, True),     # a padded 3x3 conv, padded a row at a time (_pads_per_row)
    (1024, 14, 2048, 1, 2, 1, False),  # 8 MB of weights, read again for every row: from L3
    (1024, 14, 256, 1, 1, 1, True),  # ResNet-50's at 14x14
    (960, 7, 320, 1, 1, 1, False),   # MobileNetV2's at 7x7: a small input, read again from L2
])
@pytest.mark.usefixtures("direct_convs")  # (a 3x3 stride-1 conv: Winograd by default)
def test_channel_block_runs_rows_outermost_where_the_input_is_larger(c, side, out_c, k, stride, group, rows_first):
    """_rows_first: a 1x1 conv whose input is the larger, or a dense expansion on many rows."""
    experiment = conv_experiment(c, side, out_c, k, stride, group=group)
    assert "pack_ob" in experiment.knobs, experiment.schedule  # the channel block
    fused = next(line for line in experiment.schedule.splitlines() if "sched.fuse" in line)
    assert fused.split("sched.fuse")[1].split(",")[1].strip().startswith("%i" if rows_first else "%o"), fused
    assert experiment.check() < 1e-3


@pytest.mark.parametrize("c,side,out_c,k,stride,pad,per_row", [
    (64, 56, 64, 3, 1, 1, True),     # ResNet-18's 3x3 conv at 56x56
    (64, 56, 128, 3, 2, 1, True),    # its strided one
    (16, 55, 64, 3, 1, 1, True),     # SqueezeNet's expand 3x3
    (64, 58, 64, 3, 1, 0, False),    # unpadded: nothing to pad
    (256, 14, 256, 3, 1, 1, False),  # 590K weight elements, which rows outermost read once per row
    (64, 7, 64, 3, 1, 1, False),     # 7 rows: fewer than 4 for each of the 2 threads
    (3, 64, 64, 7, 2, 3, False),     # a stem on 3 input channels
])
@pytest.mark.usefixtures("direct_convs")  # (a 3x3 stride-1 conv: Winograd by default)
def test_padded_conv_pads_a_row_at_a_time_where_it_wins(c, side, out_c, k, stride, pad, per_row):
    """_pads_per_row: rows outermost and parallel, each padding its input rows as it starts."""
    experiment = conv_experiment(c, side, out_c, k, stride, pad)
    knobs = experiment.knobs
    assert ("pad_at" in knobs) == bool(pad), experiment.schedule
    assert (knobs.get("pad_at") == 2) == per_row, experiment.schedule
    assert ("sched.compute_at %pad, %fused\n" in experiment.schedule) == per_row, experiment.schedule
    if per_row:
        assert (knobs["loop_order"], knobs["parallel_loops"]) == (2, 2)
    assert experiment.check() < 1e-3


@pytest.mark.parametrize("c,side,out_c,stride,group,staged", [
    (96, 56, 24, 1, 1, True),     # MobileNetV2's projection after its strided depthwise conv
    (144, 28, 32, 1, 1, True),
    (256, 56, 512, 2, 1, True),   # ResNet-50's strided projection: 256 x 56 x 56 in, 512 x 28 x 28 out
    (240, 28, 60, 1, 3, True),    # ShuffleNet's grouped 1x1 conv into its bottleneck
    (128, 28, 512, 1, 1, True),   # a dense expansion on 28 rows, rows outermost (_rows_first)
    (60, 28, 240, 1, 3, False),   # a grouped expansion: channel blocks outermost
    (960, 7, 160, 1, 1, False),   # rows of 7 columns
])
def test_a_1x1_conv_copies_its_rows_first_where_its_input_is_the_larger(c, side, out_c, stride, group, staged):
    """_stages_rows, and the copy computes what the conv reads (grouped and strided too)."""
    experiment = conv_experiment(c, side, out_c, 1, stride, group=group)
    assert experiment.knobs["stage_rows"] == (2 if staged else 1), experiment.schedule
    if staged:  # rows outermost and only they parallel: each row copied once
        assert (experiment.knobs["loop_order"], experiment.knobs["parallel_loops"]) == (2, 2)
    assert ("sched.cache_read @global %conv2d" in experiment.schedule) == staged, experiment.schedule
    assert experiment.check() < 1e-3
    other = experiment.with_knobs(stage_rows=1 if staged else 2)
    assert other.check() < 1e-3


@pytest.mark.parametrize("c,side,out_c,merged", [
    (64, 56, 256, True),    # ResNet-50's bottleneck exit: 56 columns, 3136 pixels
    (32, 28, 192, True),    # MobileNetV2's expansion at 28x28
    (64, 56, 64, False),    # as large as its input: rows outermost, staged (_stages_rows)
    (16, 55, 64, False),    # 3025 pixels: not whole vectors either
    (128, 28, 512, False),  # 128 multiply-adds per output: the channel block
    (64, 64, 128, False),   # rows of whole vectors: the column block as it is
])
def test_an_expanding_1x1_conv_merges_rows_and_columns_into_whole_vectors(c, side, out_c, merged):
    """_merges_rows: the column block over each output plane as one row, with a residual add and
    a relu in its write-back; other knob values compute the same."""
    experiment = conv_experiment(c, side, out_c, residual=True)
    assert ("sched.merge_axes iters" in experiment.schedule) == merged, experiment.schedule
    assert experiment.check() < 1e-3
    if merged:
        assert experiment.built.generator == "conv_schedule" and "cb" in experiment.knobs
        assert experiment.with_knobs(cb=4, nv=1).check() < 1e-3


@pytest.mark.parametrize("c,out_c,k,group,stride", [
    (64, 32, 3, 1, 1),    # the channel block (loop_order, parallel_loops, unroll_window)
    (256, 128, 1, 1, 2),  # a strided 1x1 conv
    (32, 32, 3, 32, 1),   # depthwise (loop_order)
    (32, 32, 3, 32, 2),
])
@pytest.mark.usefixtures("direct_convs")  # (a 3x3 stride-1 conv: Winograd by default)
def test_every_value_of_every_choice_computes_the_conv(c, out_c, k, group, stride):
    """A choice is a branch of the generator (schedules/builder.py): each value it offers is
    another program, and each must compute what numpy does."""
    from lamina.lowering.schedules import default_schedule

    experiment = conv_experiment(c, 28, out_c, k, stride, group=group)
    choices = default_schedule(experiment.name, experiment.built.scheduled.module, experiment.target).choices
    assert "loop_order" in choices, experiment.schedule
    for name, values in choices.items():
        for value in values:
            other = experiment.with_knobs(**{name: value})
            assert other.knobs[name] == value
            assert other.check() < 1e-3, (name, value)


@pytest.mark.parametrize("c,side,ob,wb", [
    (16, 55, 16, 11),  # 32 x 5 holds 10 accumulators, 16 x 11 holds 11 (32 x 11 spilled)
    (16, 56, 32, 8),   # 32 x 8: 16 against 16 x 14: 14
    (8, 55, 32, 11),   # a short reduction: no limit on the block
    (64, 13, 16, 13),  # 13 is prime: 32 x 1 against 16 x 13
])
@pytest.mark.usefixtures("direct_convs")  # (a 3x3 stride-1 conv: Winograd by default)
def test_a_3x3_conv_takes_the_channel_block_with_more_accumulators(c, side, ob, wb):
    """te/conv.py `output_channel_block` and `block_columns`: 32 or 16 channels, whichever
    register block holds more accumulators within REGISTER_VECTORS (ties to 32)."""
    experiment = conv_experiment(c, side, 64, 3)
    assert (experiment.knobs["pack_ob"], experiment.knobs["wb"]) == (ob, wb), experiment.knobs
    assert experiment.check() < 1e-3


@pytest.mark.parametrize("c,side,out_c,k,chunk", [
    (512, 7, 512, 3, 8),      # ResNet's 3x3 at 7x7: 2.4M weights, chunks of 8 channels
    (256, 7, 1024, 1, 32),    # a 1x1 conv at 7x7 with 256K weights: chunks of 32
    (256, 14, 1024, 1, None),  # the same on 196 pixels: each weight serves enough multiply-adds
    (160, 7, 960, 1, None),   # 154K weights: below STREAM_MIN_WEIGHTS
])
@pytest.mark.usefixtures("direct_convs")  # (a 3x3 stride-1 conv: Winograd by default)
def test_a_conv_with_large_weights_sums_its_input_channels_in_chunks(c, side, out_c, k, chunk):
    """cpu.py `_streams_weights`: channel blocks outermost, a conv whose weights come from memory
    runs its input channels in chunks outside its rows (choice `reduction_chunks` 2, knob
    `rc_chunk`). Either value of the choice, and another chunk, compute the same."""
    experiment = conv_experiment(c, side, out_c, k)
    knobs = experiment.knobs
    assert knobs.get("loop_order") == 1, experiment.schedule
    assert knobs["reduction_chunks"] == (2 if chunk else 1), experiment.schedule
    assert knobs.get("rc_chunk") == chunk
    assert experiment.check() < 1e-3
    other = experiment.with_knobs(reduction_chunks=1 if chunk else 2)
    assert other.knobs["reduction_chunks"] == (1 if chunk else 2)
    assert other.check() < 1e-3
    if chunk:
        assert experiment.with_knobs(rc_chunk=chunk * 2).check() < 1e-3


@pytest.mark.parametrize("side,deals_first", [(14, True), (28, False)])
def test_a_strided_depthwise_conv_deals_its_input_first_when_one_block_is_the_plane(side, deals_first):
    """_deals_first: 14x14 -> 7x7 is one register block per channel (7 rows x 7 columns), so
    its input is dealt into phases before the conv; 28x28 -> 14x14 is two blocks per channel,
    each task dealing its own rows. Either value of the choice computes the same."""
    experiment = conv_experiment(64, side, 64, 3, 2, group=64)
    assert experiment.knobs["phases_at"] == (1 if deals_first else 2), experiment.schedule
    assert experiment.check() < 1e-3
    assert experiment.with_knobs(phases_at=2 if deals_first else 1).check() < 1e-3


@pytest.mark.parametrize("op,c,side,k,stride,pad,vector", [
    ("max_pool2d", 64, 28, 3, 1, 1, True),    # Inception's branch pool: stride 1, padded
    ("avg_pool2d", 16, 13, 3, 1, 0, True),    # odd rows, no padding
    ("max_pool2d", 64, 111, 3, 2, 0, True),   # SqueezeNet's: strided, read dealt into column phases
    ("max_pool2d", 64, 112, 3, 2, 1, True),   # ResNet's
    ("avg_pool2d", 32, 28, 2, 2, 0, True),    # DenseNet's transition
    ("global_avg_pool", 1000, 13, 0, 1, 0, True),
    ("global_max_pool", 300, 16, 0, 1, 0, True),
    ("global_avg_pool", 512, 7, 0, 1, 0, False),  # small: one thread, the default schedule
])
def test_pools_take_the_pool_schedule_where_it_wins(op, c, side, k, stride, pad, vector):
    from lamina.lowering.experiment import kernel
    x = f"tensor<1x{c}x{side}x{side}xf32>"
    if k:
        out = (side + 2 * pad - k) // stride + 1
        attrs = (f" attributes {{kernel_shape = array<i64: {k}, {k}>, strides = array<i64: {stride}, {stride}>,"
                 f" pads = array<i64: {pad}, {pad}, {pad}, {pad}>}}")
    else:
        out, attrs = 1, ""
    y = f"tensor<1x{c}x{out}x{out}xf32>"
    src = f"""func.func @main(%x: {x}) -> {y} {{
  %y = nn.{op} %x{attrs} : ({x}) -> {y}
  func.return %y : {y}
}}"""
    experiment = kernel(src, target=TARGET)
    assert (bool(experiment.knobs) and 'scope="local"' in experiment.tir) == vector, experiment.schedule
    assert experiment.check() < 1e-4


def test_a_concat_before_a_strided_pool_is_read_in_place():
    """The default schedule, not the phases: a concat dealt into phases selects between its
    inputs at every element, a deal LLVM leaves scalar (pool.py)."""
    from lamina.compiler.parser import parse
    from lamina.compiler.passes import run_pipeline
    from lamina.compiler.printer import print_ir
    from lamina.lowering.experiment import kernel

    x, xc, y = "tensor<1x8x15x15xf32>", "tensor<1x16x15x15xf32>", "tensor<1x16x8x8xf32>"
    module = parse(f"""func.func @main(%a: {x}, %b: {x}) -> {y} {{
  %c = nn.concat %a, %b attributes {{axis = 1 : i64}} : ({x}, {x}) -> {xc}
  %y = nn.max_pool2d %c attributes {{kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>}} : ({xc}) -> {y}
  func.return %y : {y}
}}""", "<kernel>")
    run_pipeline(module, "fuse")
    experiment = kernel(print_ir(module, print_locations=False), target=TARGET)
    assert experiment.built.generator == "default_schedule", experiment.schedule
    assert experiment.check() < 1e-6


# ---------------------------------------------------------------------------------------------
# the default schedule


@pytest.mark.parametrize("side,planes", [(56, True), (28, True), (13, False), (32, False)])
def test_a_concat_with_its_batch_norm_is_vectorized_over_whole_planes(side, planes):
    """_plane_in_vectors: DenseNet's concat -> batch norm -> relu at 56x56 (rows of 3.5 vectors)
    runs over each plane as one loop of 16-lane vectors; 13x13 planes are not whole vectors and
    rows of 32 are, so both keep their rows. Each equals numpy."""
    from lamina.compiler.parser import parse
    from lamina.compiler.passes import run_pipeline
    from lamina.compiler.printer import print_ir
    from lamina.lowering.experiment import kernel

    chans = [16, 8, 8]
    ins = ", ".join(f"%x{i}: tensor<1x{c}x{side}x{side}xf32>" for i, c in enumerate(chans))
    xs = ", ".join(f"tensor<1x{c}x{side}x{side}xf32>" for c in chans)
    y, s = f"tensor<1x32x{side}x{side}xf32>", "tensor<32x1x1xf32>"
    module = parse(f"""func.func @main({ins}, %s: {s}, %b: {s}) -> {y} {{
  %c = nn.concat %x0, %x1, %x2 attributes {{axis = 1 : i64}} : ({xs}) -> {y}
  %m = nn.mul %c, %s : ({y}, {s}) -> {y}
  %a = nn.add %m, %b : ({y}, {s}) -> {y}
  %r = nn.relu %a : ({y}) -> {y}
  func.return %r : {y}
}}""", "<kernel>")
    run_pipeline(module, "fuse")
    experiment = kernel(print_ir(module, print_locations=False), target=TARGET)
    assert experiment.built.generator == "default_schedule"
    assert ("T.vectorized(16)" in experiment.tir) == planes, experiment.tir
    assert experiment.check() < 1e-6


# ---------------------------------------------------------------------------------------------
# row reductions (reduce.py): a row's sum or max in vector lanes


def _row_reduction(name, shape, seed):
    rng = np.random.default_rng(seed)
    operands = [rng.standard_normal(shape).astype(np.float32)]
    if name == "nn.layer_norm":
        operands += [rng.standard_normal(shape[-1:]).astype(np.float32) for _ in range(2)]
    op = make_op(name, operands, {"axis": integer(len(shape) - 1)})
    built = build_op(op, TARGET)
    got = built.kernel.run(operands, [tuple(op.results[0].type.shape)], [np.float32])[0]
    return built, got, op.interpret(*operands)


@settings(max_examples=10 if CI_PROFILE else 200, deadline=None)
@given(name=st.sampled_from(["nn.softmax", "nn.log_softmax", "nn.layer_norm"]),
       rows=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       row=st.sampled_from([16, 24, 40, 64, 128, 200, 256]), seed=st.integers(0, 2**16))
def test_row_reductions_are_summed_in_lanes(name, rows, row, seed):
    """Both reductions of each (max and sum; layer_norm's sum and sum of squares) over a last
    axis that a lane count divides (8 or 16, twice over at least) are rfactored into a vector of
    partial results, and the kernel equals numpy."""
    from lamina.compiler.printer import print_ir

    built, got, expected = _row_reduction(name, (*rows, row), seed)
    assert built.generator == "row_reduction_schedule"
    program = print_ir(built.scheduled.program, print_locations=False)
    assert program.count("sched.rfactor") == 2, program
    np.testing.assert_allclose(got, np.asarray(expected), rtol=1e-4, atol=1e-5)


def test_a_row_no_lane_count_divides_stays_scalar():
    """A row of 12: softmax still runs a row at a time (its exp kept for the row), layer_norm
    keeps the default schedule (a row at a time gained nothing while its sums are scalar)."""
    from lamina.compiler.printer import print_ir

    for name, generator in (("nn.softmax", "row_reduction_schedule"), ("nn.layer_norm", "default_schedule")):
        built, got, expected = _row_reduction(name, (3, 12), 0)
        assert built.generator == generator
        assert "sched.rfactor" not in print_ir(built.scheduled.program, print_locations=False)
        np.testing.assert_allclose(got, np.asarray(expected), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# constant weights: build.py packs them once (numpy) and keeps them as device tensors


def run_with_constant_weight(name, operands, props):
    """`name` with operand 1 produced by an nn.constant in the same block (as after import)."""
    from lamina.compiler.attributes import DenseElementsAttr
    from lamina.compiler.ir import Block
    from lamina.compiler.opdef import lookup_op
    from lamina.compiler.types import RankedTensorType, f32
    from lamina.lowering.build import ConstantOperandsKernel

    types = [RankedTensorType(a.shape, f32) for a in operands]
    block = Block([types[0]] + types[2:])
    const_cls = lookup_op("nn.constant")
    const = const_cls(operands=[], result_types=[types[1]],
                      properties={"value": DenseElementsAttr(types[1], operands[1])})
    block.append(const)
    cls = lookup_op(name)
    args = [block.args[0], const.results[0], *block.args[1:]]
    op = cls(operands=args, result_types=cls.infer_result_types(types, dict(props)), properties=dict(props))
    block.append(op)
    built = build_op(op, TARGET, threads=2)
    assert isinstance(built.kernel, ConstantOperandsKernel)
    weight = const.interpret()
    shapes = [tuple(r.type.shape) for r in op.results]
    inputs = [operands[0], weight, *operands[2:]]
    first = built.kernel.run(inputs, shapes, [np.float32])[0]
    again = built.kernel.run(inputs, shapes, [np.float32])[0]  # the packed weight reused
    np.testing.assert_array_equal(first, again)
    return first, built.script


@pytest.mark.usefixtures("direct_convs")  # (a 3x3 stride-1 conv: Winograd by default)
def test_constant_weight_conv_is_packed_once():
    x, w, b = rand(1, 32, 20, 20), rand(64, 32, 3, 3, seed=1), rand(64, seed=2)
    props = {"strides": ints([1, 1]), "pads": ints([1] * 4), "dilations": ints([1, 1]), "group": integer(1)}
    out, script = run_with_constant_weight("nn.conv2d", [x, w, b], props)
    assert "in1_packed" in script and "pack_w" not in script
    np.testing.assert_allclose(out, conv_reference(x, w, b, 1, 1, 1), rtol=1e-4, atol=2e-4)


@pytest.mark.parametrize("stride", [1, 2])
def test_constant_weight_conv_takes_the_column_block_too(stride):
    """A model's convs have constant weights, packed once (in1_packed): the column block must
    not mistake the packed weight for a second input (it did, and no model conv took it)."""
    x, w, b = rand(1, 16, 64, 64), rand(48, 16, 1, 1, seed=1), rand(48, seed=2)
    if stride == 2:
        x, w = rand(1, 3, 64, 64), rand(48, 3, 3, 3, seed=1)
    pad = 1 if stride == 2 else 0
    props = {"strides": ints([stride] * 2), "pads": ints([pad] * 4), "dilations": ints([1, 1]), "group": integer(1)}
    out, script = run_with_constant_weight("nn.conv2d", [x, w, b], props)
    side = 64 // stride
    assert "in1_packed" in script and f'conv2d_local = T.sblock_alloc_buffer((1, 48, {side}, {side}), scope="local")' in script
    np.testing.assert_allclose(out, conv_reference(x, w, b, stride, pad, 1), rtol=1e-4, atol=2e-4)


def test_constant_weight_grouped_conv_is_packed_per_group():
    x, w, b = rand(1, 24, 10, 10), rand(48, 8, 3, 3, seed=1), rand(48, seed=2)
    props = {"strides": ints([1, 1]), "pads": ints([1] * 4), "dilations": ints([1, 1]), "group": integer(3)}
    out, script = run_with_constant_weight("nn.conv2d", [x, w, b], props)
    assert "in1_packed" in script and "pack_w" not in script and blocked(script)
    np.testing.assert_allclose(out, conv_reference(x, w, b, 1, 1, 3), rtol=1e-4, atol=2e-4)


@pytest.mark.parametrize("tb", [0, 1])
def test_constant_weight_gemm_is_packed_once(tb):
    a, b, c = rand(1, 512), rand(*((1000, 512) if tb else (512, 1000)), seed=1), rand(1000, seed=2)
    props = {"trans_b": integer(tb), "alpha": real(1.0), "beta": real(1.0)}
    out, script = run_with_constant_weight("nn.gemm", [a, b, c], props)
    np.testing.assert_allclose(out, a.astype(np.float64) @ (b.T if tb else b) + c, rtol=1e-4, atol=1e-4)
    if tb:
        assert "in1_packed" in script


def test_constant_weight_matmul_is_packed_once():
    a, b = rand(2, 128, 256), rand(256, 96, seed=1)
    out, script = run_with_constant_weight("nn.matmul", [a, b], {})
    assert "in1_packed" in script and "pack_b" not in script
    np.testing.assert_allclose(out, np.matmul(a.astype(np.float64), b), rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# a group-1 conv whose channels no full vector divides computes whole blocks (te/conv.py
# `padded_channels`) and writes only its own channels


@pytest.mark.parametrize("constant", [False, True], ids=["argument weight", "constant weight"])
def test_conv_with_padded_channel_blocks_writes_only_its_channels(constant, monkeypatch):
    import lamina.lowering.build as build
    from lamina.lowering.te.conv import padded_channels, pack_block  # noqa: F401

    tails = []

    def canaried_empty(shape, dtype):
        """The output followed by 4 KiB of sevens, which the kernel must leave alone."""
        dtype = np.dtype(dtype)
        n = int(np.prod(shape))
        raw = np.full(n + 1024 + 64, 7, dtype)
        start = (-raw.ctypes.data % 64) // dtype.itemsize
        tails.append(raw[start + n:])
        return raw[start:start + n].reshape(shape)

    monkeypatch.setattr(build, "aligned_empty", canaried_empty)
    x, w, b = rand(1, 24, 9, 9), rand(136, 24, 3, 3, seed=1), rand(136, seed=2)
    props = {"strides": ints([1, 1]), "pads": ints([1] * 4), "dilations": ints([1, 1]), "group": integer(1)}
    if constant:
        out, script = run_with_constant_weight("nn.conv2d", [x, w, b], props)
    else:
        out, script = run("nn.conv2d", [x, w, b], props)
    assert "unpad" in script or "T.where" in script, "136 channels: blocks of 32, the last one padded"
    assert blocked(script)
    np.testing.assert_allclose(out, conv_reference(x, w, b, 1, 1, 1), rtol=1e-4, atol=2e-4)
    assert tails and all((t == 7).all() for t in tails), "the kernel wrote past its output"




@settings(max_examples=10 if CI_PROFILE else 300, deadline=None)
@given(data=st.data())
def test_random_convs_in_the_row_schedules_region_match_numpy(data):
    """Random convs where the row schedules apply (padded 3x3 convs padded a row at a time, 1x1
    convs staged a row at a time or merging rows and columns): rows of 28 columns and more, 16
    channels and more, strides 1 and 2, with or without a residual add and a relu after, and
    every value of the choices they take."""
    from lamina.lowering.schedules import default_schedule

    k = data.draw(st.sampled_from([1, 3]), label="window")
    c = data.draw(st.integers(8, 80), label="in channels")
    out_c = data.draw(st.integers(8, 160), label="out channels")
    side = data.draw(st.sampled_from([28, 32, 55, 56, 60]), label="side")
    stride = data.draw(st.integers(1, 2), label="stride")
    residual = data.draw(st.booleans(), label="residual add and relu")
    experiment = conv_experiment(c, side, out_c, k, stride, residual=residual)
    assert experiment.check() < 1e-3, experiment.schedule
    choices = default_schedule(experiment.name, experiment.built.scheduled.module, experiment.target).choices
    for name in ("pad_at", "stage_rows"):
        for value in choices.get(name, ()):
            if value != experiment.knobs[name]:
                assert experiment.with_knobs(**{name: value}).check() < 1e-3, (name, value)
