"""nn.resize, nn.depth_to_space and nn.space_to_depth: verifier messages, round trips, folds,
and `interpret` against ONNX Runtime running the same single ONNX node."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nn_helpers import build, check_docstring, floats, interpret, onnx_run, op_text, seeds, verify_text_message

from lamina.compiler.types import RankedTensorType, f32
from lamina.dialects.nn.base import integer, string
from lamina.dialects.nn.image import (COORDINATE_MODES, NEAREST_MODES, DepthToSpaceOp, ResizeOp,
                                      SpaceToDepthOp)


def resize(x, out_hw, mode, ctm="half_pixel", nearest_mode="round_prefer_floor"):
    """nn.resize of x to out_hw, built, verified, round-tripped and interpreted."""
    result = RankedTensorType(x.shape[:2] + tuple(out_hw), f32)
    return interpret(ResizeOp, x, result_types=[result], mode=string(mode),
               coordinate_transformation_mode=string(ctm), nearest_mode=string(nearest_mode))


# -- resize -------------------------------------------------------------------------------------------


@given(n=st.integers(1, 2), c=st.integers(1, 3), hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
       out_hw=st.tuples(st.integers(1, 12), st.integers(1, 12)), mode=st.sampled_from(["nearest", "linear"]),
       ctm=st.sampled_from(COORDINATE_MODES), nearest_mode=st.sampled_from(NEAREST_MODES), seed=seeds)
def test_resize_to_sizes_matches_onnxruntime(n, c, hw, out_hw, mode, ctm, nearest_mode, seed):
    x = floats(np.random.default_rng(seed), n, c, *hw)
    expected = onnx_run("Resize", [x], [None, None, np.array((n, c, *out_hw), np.int64)], mode=mode,
                        coordinate_transformation_mode=ctm, nearest_mode=nearest_mode)[0]
    np.testing.assert_allclose(resize(x, out_hw, mode, ctm, nearest_mode), expected, rtol=1e-5, atol=1e-5)


@given(hw=st.tuples(st.integers(1, 7), st.integers(1, 7)), scale=st.integers(1, 4),
       mode=st.sampled_from(["nearest", "linear"]), ctm=st.sampled_from(COORDINATE_MODES), seed=seeds)
def test_resize_by_whole_scales_matches_onnxruntime(hw, scale, mode, ctm, seed):
    x = floats(np.random.default_rng(seed), 1, 2, *hw)
    expected = onnx_run("Resize", [x], [None, np.array([1, 1, scale, scale], np.float32)], mode=mode,
                        coordinate_transformation_mode=ctm, nearest_mode="floor")[0]
    np.testing.assert_allclose(resize(x, (hw[0] * scale, hw[1] * scale), mode, ctm, "floor"), expected,
                               rtol=1e-5, atol=1e-5)


def test_yolo_upsample_repeats_each_pixel_twice():
    x = floats(np.random.default_rng(0), 1, 4, 13, 13)
    got = resize(x, (26, 26), "nearest", "asymmetric", "floor")
    np.testing.assert_array_equal(got, x.repeat(2, axis=2).repeat(2, axis=3))
    expected = onnx_run("Resize", [x], [None, np.array([1, 1, 2, 2], np.float32)], mode="nearest",
                        coordinate_transformation_mode="asymmetric", nearest_mode="floor")[0]
    np.testing.assert_array_equal(got, expected)


def test_resize_to_the_same_size_folds_to_its_input():
    t = RankedTensorType((1, 3, 4, 4), f32)
    op = build(ResizeOp, [t], result_types=[t], mode=string("linear"))
    assert op.fold(None) is op.x
    op = build(ResizeOp, [t], result_types=[RankedTensorType((1, 3, 8, 8), f32)], mode=string("linear"))
    assert op.fold(None) is None


def unary_text(op, x, y, attrs):
    return op_text(op, [x], y, attrs)


def test_resize_errors():
    x = "tensor<1x3x4x4xf32>"
    assert verify_text_message(unary_text("nn.resize", x, "tensor<1x4x8x8xf32>", 'mode = "nearest"')) == \
        "'nn.resize' op the result [1, 4, 8, 8] must keep the input's N and C [1, 3] and resize only H and W"
    assert verify_text_message(unary_text("nn.resize", x, "tensor<1x3x8x8xf32>", 'mode = "cubic"')) == \
        "'nn.resize' op mode must be one of \"nearest\", \"linear\", but is \"cubic\""
    assert verify_text_message(unary_text("nn.resize", x, "tensor<1x3x8x8xf32>", 'mode = "nearest", nearest_mode = "up"')) == \
        ("'nn.resize' op nearest_mode must be one of \"round_prefer_floor\", \"round_prefer_ceil\", "
         "\"floor\", \"ceil\", but is \"up\"")
    assert verify_text_message(unary_text("nn.resize", "tensor<3x4x4xf32>", "tensor<3x8x8xf32>", 'mode = "nearest"')) == \
        "'nn.resize' op input must be a 4-D tensor (N, C, H, W), but has rank 3"
    assert verify_text_message(unary_text("nn.resize", x, "tensor<1x3x8x8xf16>", 'mode = "nearest"')) == \
        "'nn.resize' op input is f32 but the result is f16; they must match"


# -- depth_to_space and space_to_depth ----------------------------------------------------------------


@given(n=st.integers(1, 2), c=st.integers(1, 3), hw=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       blocksize=st.integers(1, 3), mode=st.sampled_from(["DCR", "CRD"]), seed=seeds)
def test_depth_to_space_and_back_match_onnxruntime(n, c, hw, blocksize, mode, seed):
    x = floats(np.random.default_rng(seed), n, c * blocksize ** 2, *hw)
    expected = onnx_run("DepthToSpace", [x], opset=13, blocksize=blocksize, mode=mode)[0]
    y = interpret(DepthToSpaceOp, x, blocksize=integer(blocksize), mode=string(mode))
    np.testing.assert_array_equal(y, expected)
    back = interpret(SpaceToDepthOp, y, blocksize=integer(blocksize))
    np.testing.assert_array_equal(back, onnx_run("SpaceToDepth", [y], opset=13, blocksize=blocksize)[0])
    if mode == "DCR":
        np.testing.assert_array_equal(back, x)


def test_depth_space_types_and_folds():
    t = RankedTensorType
    assert DepthToSpaceOp.infer_result_types([t((1, 12, None, 4), f32)], {"blocksize": integer(2)}) == \
        [t((1, 3, None, 8), f32)]
    assert SpaceToDepthOp.infer_result_types([t((1, 3, 8, 4), f32)], {"blocksize": integer(4)}) == \
        [t((1, 48, 2, 1), f32)]
    op = build(DepthToSpaceOp, [t((1, 4, 2, 2), f32)], blocksize=integer(1))
    assert op.fold(None) is op.x
    op = build(SpaceToDepthOp, [t((1, 4, 2, 2), f32)], blocksize=integer(2))
    assert op.fold(None) is None


def test_depth_space_errors():
    assert verify_text_message(unary_text("nn.depth_to_space", "tensor<1x6x4x4xf32>", "tensor<1x1x8x8xf32>", "blocksize = 2 : i64")) == \
        "'nn.depth_to_space' op input has 6 channels, which blocksize 2 cannot split into 2x2 tiles (6 is not a multiple of 4)"
    assert verify_text_message(unary_text("nn.depth_to_space", "tensor<1x8x4x4xf32>", "tensor<1x2x8x8xf32>",
                            'blocksize = 2 : i64, mode = "RCD"')) == \
        "'nn.depth_to_space' op mode must be one of \"DCR\", \"CRD\", but is \"RCD\""
    assert verify_text_message(unary_text("nn.space_to_depth", "tensor<1x3x5x4xf32>", "tensor<1x12x2x2xf32>", "blocksize = 2 : i64")) == \
        "'nn.space_to_depth' op input height 5 is not a multiple of blocksize 2"
    assert verify_text_message(unary_text("nn.space_to_depth", "tensor<1x3x4x4xf32>", "tensor<1x12x2x2xf32>", "blocksize = 0 : i64")) == \
        "'nn.space_to_depth' op blocksize must be positive, but is 0"


# -- docstrings: each op's IR example parses, verifies and prints back --------------------------------


@pytest.mark.parametrize("op_class", [ResizeOp, DepthToSpaceOp, SpaceToDepthOp])
def test_docstring_example(op_class):
    check_docstring(op_class, verbatim=True)
