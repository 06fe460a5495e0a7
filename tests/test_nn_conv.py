"""nn.conv2d and the pools: inferred types, verifier messages, round trips, and `interpret`
against ONNX Runtime running the same single ONNX node (NHWC through transposes)."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from nn_helpers import (build, check_docstring, floats, interpret, onnx_run, op_text, seeds,
                        verify_text_message)

from lamina.compiler.types import RankedTensorType, f32
from lamina.dialects.nn.base import integer, ints, string
from lamina.dialects.nn.conv import (AvgPool2DOp, Conv2DOp, GlobalAvgPoolOp, GlobalMaxPoolOp,
                                     MaxPool2DOp)


def to_nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def to_nchw(y):
    return y.transpose(0, 3, 1, 2)


pair = st.tuples(st.integers(1, 3), st.integers(1, 3))
pads4 = st.tuples(*[st.integers(0, 2)] * 4)
layouts = st.sampled_from(["NCHW", "NHWC"])


# -- conv2d -------------------------------------------------------------------------------------------


@given(n=st.integers(1, 2), group=st.integers(1, 3), c_per_group=st.integers(1, 3),
       o_per_group=st.integers(1, 3), hw=st.tuples(st.integers(1, 9), st.integers(1, 9)),
       kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)), strides=pair,
       dilations=st.tuples(st.integers(1, 2), st.integers(1, 2)), pads=pads4,
       with_bias=st.booleans(), layout=layouts, seed=seeds)
def test_conv2d_matches_onnxruntime(n, group, c_per_group, o_per_group, hw, kernel, strides,
                                    dilations, pads, with_bias, layout, seed):
    for i in range(2):
        assume(hw[i] + pads[i] + pads[i + 2] >= dilations[i] * (kernel[i] - 1) + 1)
    rng = np.random.default_rng(seed)
    c, o = c_per_group * group, o_per_group * group
    x = floats(rng, n, c, *hw)
    w = floats(rng, o, c_per_group, *kernel)
    bias = [floats(rng, o)] if with_bias else []
    expected = onnx_run("Conv", [x, w, *bias], strides=strides, pads=pads, dilations=dilations,
                        group=group)[0]
    props = dict(strides=ints(strides), pads=ints(pads), dilations=ints(dilations),
                 group=integer(group), layout=string(layout))
    if layout == "NHWC":
        got = to_nchw(interpret(Conv2DOp, to_nhwc(x), w, *bias, **props))
    else:
        got = interpret(Conv2DOp, x, w, *bias, **props)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_conv2d_depthwise_and_defaults():
    rng = np.random.default_rng(0)
    x, w = floats(rng, 1, 8, 10, 10), floats(rng, 8, 1, 3, 3)
    got = interpret(Conv2DOp, x, w, group=integer(8), pads=ints([1, 1, 1, 1]), strides=ints([2, 2]))
    expected = onnx_run("Conv", [x, w], group=8, pads=[1, 1, 1, 1], strides=[2, 2])[0]
    assert got.shape == (1, 8, 5, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_conv2d_inferred_types():
    t = RankedTensorType
    (y,) = Conv2DOp.infer_result_types([t((1, 3, 224, 224), f32), t((64, 3, 7, 7), f32)],
                                       {"strides": ints([2, 2]), "pads": ints([3, 3, 3, 3])})
    assert y == t((1, 64, 112, 112), f32)
    (y,) = Conv2DOp.infer_result_types([t((None, 56, 56, 64), f32), t((64, 64, 3, 3), f32), t((64,), f32)],
                                       {"pads": ints([1, 1, 1, 1]), "layout": string("NHWC")})
    assert y == t((None, 56, 56, 64), f32)


def conv_text(x, w, y, attrs=""):
    return op_text("nn.conv2d", [x, w], y, attrs)


def test_conv2d_errors():
    assert verify_text_message(conv_text("tensor<1x3x8x8xf32>", "tensor<4x4x3x3xf32>", "tensor<1x4x6x6xf32>")) == \
        "'nn.conv2d' op input has 3 channels but the weight expects 4"
    assert verify_text_message(conv_text("tensor<1x6x8x8xf32>", "tensor<4x2x3x3xf32>", "tensor<1x4x6x6xf32>", "group = 2 : i64")) == \
        "'nn.conv2d' op input has 6 channels but the weight expects 4 (2 per group × group 2)"
    assert verify_text_message(conv_text("tensor<1x6x8x8xf32>", "tensor<4x2x3x3xf32>", "tensor<1x4x6x6xf32>", "group = 3 : i64")) == \
        "'nn.conv2d' op group 3 does not divide the weight's 4 output channels"
    assert verify_text_message(conv_text("tensor<3x8x8xf32>", "tensor<4x3x3x3xf32>", "tensor<1x4x6x6xf32>")) == \
        "'nn.conv2d' op input must be a 4-D tensor (N, C, H, W), but has rank 3"
    assert verify_text_message(conv_text("tensor<1x8x8x3xf32>", "tensor<4x3x3x3xf32>", "tensor<1x4x6x6xf32>", 'layout = "NHWC"')) == \
        "'nn.conv2d' op has result types tensor<1x4x6x6xf32>, but its operands and attributes give tensor<1x6x6x4xf32>"
    assert verify_text_message(conv_text("tensor<1x3x2x2xf32>", "tensor<4x3x3x3xf32>", "tensor<1x4x1x1xf32>")) == \
        "'nn.conv2d' op the 3x3 window (kernel with dilations) does not fit in the padded 2x2 input"
    assert verify_text_message(conv_text("tensor<1x3x8x8xf32>", "tensor<4x3x3x3xf32>", "tensor<1x4x6x6xf32>", "pads = array<i64: 1, 1>")) == \
        "'nn.conv2d' op pads must have 4 values (top, left, bottom, right), but has 2"
    assert verify_text_message(conv_text("tensor<1x3x8x8xf32>", "tensor<4x3x3x3xf32>", "tensor<1x4x6x6xf32>", 'layout = "CHWN"')) == \
        "'nn.conv2d' op layout must be \"NCHW\", \"NHWC\" or \"NCHW{c}c\" (like \"NCHW8c\"), but is \"CHWN\""


def test_conv2d_bias_errors():
    text = ('func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<5xf32>) -> tensor<1x4x6x6xf32> {\n'
            '  %y = nn.conv2d %x, %w, %b : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<5xf32>) -> tensor<1x4x6x6xf32>\n'
            '  func.return %y : tensor<1x4x6x6xf32>\n}\n')
    assert verify_text_message(text) == "'nn.conv2d' op bias has shape [5] but the weight has 4 output channels"
    two = text.replace("%b: tensor<5xf32>", "%b: tensor<4xf32>").replace("%w, %b", "%w, %b, %b") \
              .replace("tensor<5xf32>)", "tensor<4xf32>, tensor<4xf32>)")
    assert verify_text_message(two) == "'nn.conv2d' op takes at most one bias, but got 2"


# -- pools --------------------------------------------------------------------------------------------


pool_cases = dict(n=st.integers(1, 2), c=st.integers(1, 3), hw=st.tuples(st.integers(1, 9), st.integers(1, 9)),
                  kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)), strides=pair, pads=pads4,
                  ceil_mode=st.integers(0, 1), layout=layouts, seed=seeds)


def fits(hw, kernel, pads, dilations=(1, 1)):
    return all(hw[i] + pads[i] + pads[i + 2] >= dilations[i] * (kernel[i] - 1) + 1 for i in range(2)) \
        and all(pads[i] < kernel[i % 2] for i in range(4))


def run_layout(op_class, x, layout, **props):
    if layout == "NHWC":
        return to_nchw(interpret(op_class, to_nhwc(x), layout=string(layout), **props))
    return interpret(op_class, x, layout=string(layout), **props)


@given(dilations=st.tuples(st.integers(1, 2), st.integers(1, 2)), **pool_cases)
def test_max_pool2d_matches_onnxruntime(n, c, hw, kernel, strides, pads, ceil_mode, layout, seed, dilations):
    assume(fits(hw, kernel, pads, dilations))
    x = floats(np.random.default_rng(seed), n, c, *hw)
    expected = onnx_run("MaxPool", [x], kernel_shape=kernel, strides=strides, pads=pads,
                        dilations=dilations, ceil_mode=ceil_mode)[0]
    got = run_layout(MaxPool2DOp, x, layout, kernel_shape=ints(kernel), strides=ints(strides),
                     pads=ints(pads), dilations=ints(dilations), ceil_mode=integer(ceil_mode))
    np.testing.assert_array_equal(got, expected)


@given(count_include_pad=st.integers(0, 1), **pool_cases)
def test_avg_pool2d_matches_onnxruntime(n, c, hw, kernel, strides, pads, ceil_mode, layout, seed,
                                        count_include_pad):
    assume(fits(hw, kernel, pads))
    x = floats(np.random.default_rng(seed), n, c, *hw)
    expected = onnx_run("AveragePool", [x], kernel_shape=kernel, strides=strides, pads=pads,
                        ceil_mode=ceil_mode, count_include_pad=count_include_pad)[0]
    got = run_layout(AvgPool2DOp, x, layout, kernel_shape=ints(kernel), strides=ints(strides),
                     pads=ints(pads), ceil_mode=integer(ceil_mode),
                     count_include_pad=integer(count_include_pad))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_resnet_stem_max_pool_type():
    (y,) = MaxPool2DOp.infer_result_types([RankedTensorType((1, 64, 112, 112), f32)],
                                          {"kernel_shape": ints([3, 3]), "strides": ints([2, 2]),
                                           "pads": ints([1, 1, 1, 1])})
    assert y == RankedTensorType((1, 64, 56, 56), f32)


def test_ceil_mode_drops_a_window_that_starts_in_the_padding():
    # in 5, kernel 2, stride 2, pad 1 + 1: ceil((5 + 2 - 2) / 2) + 1 = 4, but window 4 starts at 6 >= 5 + 1
    (y,) = MaxPool2DOp.infer_result_types([RankedTensorType((1, 1, 5, 5), f32)],
                                          {"kernel_shape": ints([2, 2]), "strides": ints([2, 2]),
                                           "pads": ints([1, 1, 1, 1]), "ceil_mode": integer(1)})
    assert y.shape == (1, 1, 3, 3)


def test_pool_errors():
    assert verify_text_message(op_text("nn.max_pool2d", ["tensor<1x3x8x8xf32>"], "tensor<1x3x8x8xf32>",
                                       "kernel_shape = array<i64: 3, 3>, pads = array<i64: 3, 0, 0, 0>")) == \
        "'nn.max_pool2d' op pads [3, 0, 0, 0] must be smaller than the kernel 3x3"
    assert verify_text_message(op_text("nn.avg_pool2d", ["tensor<1x3x8x8xf32>"], "tensor<1x3x8x8xf32>", "strides = array<i64: 1, 1>")) == \
        "'nn.avg_pool2d' op requires attribute 'kernel_shape'"
    assert verify_text_message(op_text("nn.avg_pool2d", ["tensor<1x3x8x8xf32>"], "tensor<1x3x8x8xf32>",
                                       "kernel_shape = array<i64: 2, 2>, strides = array<i64: 0, 1>")) == \
        "'nn.avg_pool2d' op strides must be positive, but are [0, 1]"
    assert verify_text_message(op_text("nn.global_avg_pool", ["tensor<1x3x8x8xf32>"], "tensor<1x3x1xf32>", 'layout = "NCHW"')) == \
        "'nn.global_avg_pool' op has result types tensor<1x3x1xf32>, but its operands and attributes give tensor<1x3x1x1xf32>"


@given(n=st.integers(1, 2), c=st.integers(1, 4), hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
       layout=layouts, seed=seeds)
def test_global_pools_match_onnxruntime(n, c, hw, layout, seed):
    x = floats(np.random.default_rng(seed), n, c, *hw)
    np.testing.assert_allclose(run_layout(GlobalAvgPoolOp, x, layout), onnx_run("GlobalAveragePool", [x])[0],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(run_layout(GlobalMaxPoolOp, x, layout), onnx_run("GlobalMaxPool", [x])[0])


def test_global_pool_of_a_1x1_image_folds_to_its_input():
    op = build(GlobalAvgPoolOp, [RankedTensorType((1, 8, 1, 1), f32)])
    assert op.fold(None) is op.x
    op = build(GlobalMaxPoolOp, [RankedTensorType((1, 8, 2, 1), f32)])
    assert op.fold(None) is None


# -- docstrings: each op's IR example parses, verifies and prints back --------------------------------


@pytest.mark.parametrize("op_class", [Conv2DOp, MaxPool2DOp, AvgPool2DOp, GlobalAvgPoolOp, GlobalMaxPoolOp])
def test_docstring_example(op_class):
    check_docstring(op_class, verbatim=True)
