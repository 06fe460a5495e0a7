"""Winograd convolution (te/winograd.py, schedules/winograd.py): a 3x3 stride-1 conv of at least
16 channels in and out, on a CPU, is computed by F(4x4, 3x3) or F(2x2, 3x3), with its fused
epilogue. Random shapes, paddings, batches and channel counts that are not whole vectors, through
the whole compiler against onnxruntime; both tiles against numpy; and the convs that must keep the
direct compute."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import lamina
from lamina.compiler.frontends.onnx import load_onnx
from lamina.lowering.te import winograd

from test_grouped_conv import onnxruntime_outputs

CI = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci"


@pytest.fixture(autouse=True, scope="module")
def kernel_cache(tmp_path_factory):
    os.environ["LAMINA_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernels"))


def conv_model(rng, c, k, hw, pads, batch=1, residual=False, stride=1, dilation=1, group=1):
    """Conv (3x3) + BatchNormalization + Relu, and with `residual` an Add of the input first."""
    w = (rng.standard_normal((k, c // group, 3, 3)) / np.sqrt(9 * c / group)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "conv.weight")]
    for name, value in (("scale", 1 + 0.1 * rng.standard_normal(k)), ("bias", rng.standard_normal(k)),
                        ("mean", 0.1 * rng.standard_normal(k)), ("var", 1 + rng.random(k))):
        inits.append(numpy_helper.from_array(value.astype(np.float32), f"bn.{name}"))
    nodes = [helper.make_node("Conv", ["x", "conv.weight"], ["conv"], name="conv", pads=pads,
                              strides=[stride] * 2, dilations=[dilation] * 2, group=group),
             helper.make_node("BatchNormalization", ["conv", "bn.scale", "bn.bias", "bn.mean", "bn.var"],
                              ["bn"], name="bn")]
    last = "bn"
    if residual:
        nodes.append(helper.make_node("Add", ["bn", "x"], ["add"], name="add"))
        last = "add"
    nodes.append(helper.make_node("Relu", [last], ["y"], name="relu"))
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, c, *hw])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return onnx.shape_inference.infer_shapes(model)


def compiled_and_expected(model, x):
    compiled = lamina.compile(load_onnx(model))
    return compiled, compiled(x)[0], onnxruntime_outputs(model, x)


@settings(max_examples=10 if CI else 300, deadline=None)
@given(c=st.sampled_from([16, 17, 24, 32, 40]), k=st.sampled_from([16, 20, 32, 48]),
       hw=st.tuples(st.integers(1, 20), st.integers(1, 20)),
       pads=st.lists(st.integers(0, 2), min_size=4, max_size=4),
       batch=st.integers(1, 2), residual=st.booleans(), seed=st.integers(0, 2**16))
def test_winograd_convs_match_onnxruntime(c, k, hw, pads, batch, residual, seed):
    """Output tiles that overhang the image (sizes not multiples of the tile), channels that are
    not whole vectors (17, 20, 24, 40), uneven padding, a batch of two, a residual add."""
    if any(h + pads[i] + pads[i + 2] < 3 for i, h in enumerate(hw)):
        return  # the window does not fit
    residual = residual and c == k and pads[0] + pads[2] == 2 and pads[1] + pads[3] == 2
    rng = np.random.default_rng(seed)
    model = conv_model(rng, c, k, hw, pads, batch, residual)
    x = rng.standard_normal((batch, c, *hw)).astype(np.float32)
    compiled, ours, expected = compiled_and_expected(model, x)
    assert [kernel.generator for kernel in compiled.kernels] == ["winograd_schedule"]
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


def test_a_resnet_conv_takes_the_wide_tile_with_its_epilogue_in_one_kernel():
    rng = np.random.default_rng(0)
    model = conv_model(rng, 64, 64, (28, 28), [1, 1, 1, 1], residual=True)
    x = rng.standard_normal((1, 64, 28, 28)).astype(np.float32)
    compiled, ours, expected = compiled_and_expected(model, x)
    (kernel,) = compiled.kernels
    assert kernel.generator == "winograd_schedule"
    assert "in1_winograd: T.Buffer((6, 6, 4, 64, 16)" in kernel.script  # F(4x4): alpha 6, 64 channels
    assert kernel.scheduled.knobs["winograd"] == 4
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("c, k, group", [(64, 64, 2), (48, 96, 3), (40, 32, 2)])
def test_a_grouped_conv_sums_each_group_in_its_own_products(c, k, group):
    """AlexNet's grouped 3x3 convs: each vector of output channels reads its group's input channels
    (40 a group of 20: V's channels are padded to whole vectors, U's are not)."""
    rng = np.random.default_rng(4)
    model = conv_model(rng, c, k, (13, 13), [1, 1, 1, 1], group=group)
    x = rng.standard_normal((1, c, 13, 13)).astype(np.float32)
    compiled, ours, expected = compiled_and_expected(model, x)
    (kernel,) = compiled.kernels
    assert kernel.generator == "winograd_schedule"
    assert f"in1_winograd: T.Buffer((6, 6, {k // 16}, {c // group}, 16)" in kernel.script
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


def test_a_small_image_takes_the_narrow_tile():
    rng = np.random.default_rng(1)
    model = conv_model(rng, 32, 32, (7, 7), [1, 1, 1, 1])
    x = rng.standard_normal((1, 32, 7, 7)).astype(np.float32)
    compiled, ours, expected = compiled_and_expected(model, x)
    (kernel,) = compiled.kernels
    assert "in1_winograd: T.Buffer((4, 4, 2, 32, 16)" in kernel.script  # F(2x2): alpha 4
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("what, c, k, stride, dilation, group", [
    ("a strided conv", 32, 32, 2, 1, 1),
    ("a dilated conv", 32, 32, 1, 2, 1),
    ("8 output channels a group", 32, 32, 1, 1, 4),
    ("24 output channels a group: not whole vectors", 48, 48, 1, 1, 2),
    ("too few input channels", 8, 32, 1, 1, 1),
    ("too few output channels", 32, 8, 1, 1, 1),
])
def test_other_convs_keep_the_direct_compute(what, c, k, stride, dilation, group):
    rng = np.random.default_rng(2)
    model = conv_model(rng, c, k, (14, 14), [2, 2, 2, 2] if dilation == 2 else [1, 1, 1, 1],
                       stride=stride, dilation=dilation, group=group)
    x = rng.standard_normal((1, c, 14, 14)).astype(np.float32)
    compiled, ours, expected = compiled_and_expected(model, x)
    assert all(kernel.generator != "winograd_schedule" and "winograd" not in kernel.script
               for kernel in compiled.kernels), what
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


def conv_kernel(c, k, h, w, pads=(1, 1, 1, 1)):
    """A kernel experiment of one conv whose weight is an argument (transformed in the kernel)."""
    oh, ow = h + pads[0] + pads[2] - 2, w + pads[1] + pads[3] - 2
    return lamina.kernel(f'''
      func.func @main(%x: tensor<1x{c}x{h}x{w}xf32>, %w: tensor<{k}x{c}x3x3xf32>) -> tensor<1x{k}x{oh}x{ow}xf32> {{
        %y = nn.conv2d %x, %w attributes {{pads = array<i64: {", ".join(map(str, pads))}>}} : (tensor<1x{c}x{h}x{w}xf32>, tensor<{k}x{c}x3x3xf32>) -> tensor<1x{k}x{oh}x{ow}xf32>
        func.return %y : tensor<1x{k}x{oh}x{ow}xf32>
      }}''')


@pytest.mark.parametrize("m", [2, 4])
def test_each_tile_computes_the_conv_with_a_weight_argument(m):
    experiment = conv_kernel(24, 40, 13, 10, pads=(1, 0, 2, 1)).with_knobs(winograd=m)
    assert experiment.knobs["winograd"] == m and experiment.knobs["tile"] == m
    assert "winograd_weight" in experiment.schedule
    assert experiment.check() < 1e-3  # (inputs and weights of unit scale: outputs of about 15)


def test_other_tiles_are_refused_with_the_ones_offered():
    from lamina.compiler.errors import LaminaError

    with pytest.raises(LaminaError, match="one of 2, 4"):
        conv_kernel(16, 16, 8, 8).with_knobs(winograd=3)


def test_the_transform_matrices_compute_a_1d_convolution():
    """F(m, 3): y = A^T [(G g) * (B^T d)] is the valid correlation of d (m + 2 long) with g."""
    rng = np.random.default_rng(3)
    for m in winograd.TILES:
        a, b, g = winograd.transform_matrices(m)
        d, f = rng.standard_normal(m + 2), rng.standard_normal(3)
        np.testing.assert_allclose(a.T @ ((g @ f) * (b.T @ d)), np.correlate(d, f, "valid"), atol=1e-12)


def test_no_winograd_for_a_gpu_target():
    from lamina.compiler.parser import parse
    from lamina.lowering.build import schedule_op
    from lamina.lowering.targets import get

    module = parse('''
      func.func @main(%x: tensor<1x32x14x14xf32>, %w: tensor<32x32x3x3xf32>) -> tensor<1x32x14x14xf32> {
        %y = nn.conv2d %x, %w attributes {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x32x14x14xf32>, tensor<32x32x3x3xf32>) -> tensor<1x32x14x14xf32>
        func.return %y : tensor<1x32x14x14xf32>
      }''')
    conv = next(op for op in module.walk() if op.name == "nn.conv2d")
    gpu = schedule_op(conv, get("opencl"))
    assert "winograd" not in gpu.knobs and gpu.generator != "winograd_schedule"
    cpu = schedule_op(conv, get("llvm"))
    assert cpu.knobs["winograd"] == 4 and cpu.generator == "winograd_schedule"
