"""nn.conv2d and the pools: inferred types, verifier messages, round trips, and `interpret`
against ONNX Runtime running the same single ONNX node (NHWC through transposes)."""

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from onnx import helper

from lamina.compiler.errors import VerifyError
from lamina.compiler.parser import parse
from lamina.compiler.printer import print_ir
from lamina.compiler.types import RankedTensorType, f16, f32, f64
from lamina.compiler.verifier import verify
from lamina.dialects.builtin import ModuleOp
from lamina.dialects.func import FuncOp, ReturnOp
from lamina.dialects.nn.base import integer, ints, string
from lamina.dialects.nn.conv import (AvgPool2DOp, Conv2DOp, GlobalAvgPoolOp, GlobalMaxPoolOp,
                                     MaxPool2DOp)

# -- helpers: one ONNX node run by onnxruntime, one lamina op in a function -------------------------


def onnx_run(op_type, inputs, opset=18, **attrs):
    """Run a single ONNX node on `inputs` (arrays fed at run time, None for an omitted optional
    input) and return its only output."""
    names, feeds, graph_inputs = [], {}, []
    for i, value in enumerate(inputs):
        names.append("" if value is None else f"in{i}")
        if value is not None:
            feeds[f"in{i}"] = value
            graph_inputs.append(helper.make_tensor_value_info(
                f"in{i}", helper.np_dtype_to_tensor_dtype(value.dtype), value.shape))
    out = helper.make_tensor_value_info("out", graph_inputs[0].type.tensor_type.elem_type, None)
    graph = helper.make_graph([helper.make_node(op_type, names, ["out"], **attrs)], "g", graph_inputs, [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # no warnings: ONNX shape inference disagrees on ceil_mode
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


ELEMENT = {np.dtype(np.float32): f32, np.dtype(np.float64): f64, np.dtype(np.float16): f16}


def type_of(array) -> RankedTensorType:
    return RankedTensorType(array.shape, ELEMENT[array.dtype])


def build(op_class, operand_types, result_types=None, **props):
    """`func.func @f(args) { %y = op(args); return %y }` in a module: (module, op)."""
    props = {k: v for k, v in props.items() if v is not None}
    if result_types is None:
        result_types = op_class.infer_result_types(list(operand_types), props)
    fn = FuncOp.create_with_body("f", operand_types, result_types)
    op = op_class(operands=list(fn.entry.args), result_types=result_types, properties=props)
    fn.entry.append(op)
    fn.entry.append(ReturnOp(operands=list(op.results)))
    module = ModuleOp.empty()
    module.block.append(fn)
    return module, op


def run(op_class, *arrays, **props):
    """Build the op on `arrays`' types, verify it, round-trip its text, and interpret it."""
    module, op = build(op_class, [type_of(a) for a in arrays], **props)
    verify(module)
    text = print_ir(module)
    assert print_ir(parse(text)) == text
    y = op.interpret(*arrays)
    assert y.shape == op.result.type.shape and y.dtype == arrays[0].dtype
    return y


def error(text: str) -> str:
    """The verifier's message for the IR `text`."""
    with pytest.raises(VerifyError) as info:
        verify(parse(text))
    return info.value.message


def to_nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def to_nchw(y):
    return y.transpose(0, 3, 1, 2)


def floats(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


pair = st.tuples(st.integers(1, 3), st.integers(1, 3))
pads4 = st.tuples(*[st.integers(0, 2)] * 4)
layouts = st.sampled_from(["NCHW", "NHWC"])
seeds = st.integers(0, 2 ** 32 - 1)


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
                        group=group)
    props = dict(strides=ints(strides), pads=ints(pads), dilations=ints(dilations),
                 group=integer(group), layout=string(layout))
    if layout == "NHWC":
        got = to_nchw(run(Conv2DOp, to_nhwc(x), w, *bias, **props))
    else:
        got = run(Conv2DOp, x, w, *bias, **props)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_conv2d_depthwise_and_defaults():
    rng = np.random.default_rng(0)
    x, w = floats(rng, 1, 8, 10, 10), floats(rng, 8, 1, 3, 3)
    got = run(Conv2DOp, x, w, group=integer(8), pads=ints([1, 1, 1, 1]), strides=ints([2, 2]))
    expected = onnx_run("Conv", [x, w], group=8, pads=[1, 1, 1, 1], strides=[2, 2])
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


CONV = ('func.func @f(%x: {x}, %w: {w}) -> {y} {{\n'
        '  %y = nn.conv2d %x, %w {attrs}: ({x}, {w}) -> {y}\n'
        '  func.return %y : {y}\n}}\n')


def conv_text(x, w, y, attrs=""):
    return CONV.format(x=x, w=w, y=y, attrs=f"attributes {{{attrs}}} " if attrs else "")


def test_conv2d_errors():
    assert error(conv_text("tensor<1x3x8x8xf32>", "tensor<4x4x3x3xf32>", "tensor<1x4x6x6xf32>")) == \
        "'nn.conv2d' op input has 3 channels but the weight expects 4 (× group 1)"
    assert error(conv_text("tensor<1x6x8x8xf32>", "tensor<4x2x3x3xf32>", "tensor<1x4x6x6xf32>", "group = 2 : i64")) == \
        "'nn.conv2d' op input has 6 channels but the weight expects 2 (× group 2)"
    assert error(conv_text("tensor<1x6x8x8xf32>", "tensor<4x2x3x3xf32>", "tensor<1x4x6x6xf32>", "group = 3 : i64")) == \
        "'nn.conv2d' op group 3 does not divide the weight's 4 output channels"
    assert error(conv_text("tensor<3x8x8xf32>", "tensor<4x3x3x3xf32>", "tensor<1x4x6x6xf32>")) == \
        "'nn.conv2d' op input must be a 4-D tensor (N, C, H, W), but has rank 3"
    assert error(conv_text("tensor<1x8x8x3xf32>", "tensor<4x3x3x3xf32>", "tensor<1x4x6x6xf32>", 'layout = "NHWC"')) == \
        "'nn.conv2d' op has result types tensor<1x4x6x6xf32>, but its operands and attributes give tensor<1x6x6x4xf32>"
    assert error(conv_text("tensor<1x3x2x2xf32>", "tensor<4x3x3x3xf32>", "tensor<1x4x1x1xf32>")) == \
        "'nn.conv2d' op the 3x3 window (kernel with dilations) does not fit in the padded 2x2 input"
    assert error(conv_text("tensor<1x3x8x8xf32>", "tensor<4x3x3x3xf32>", "tensor<1x4x6x6xf32>", "pads = array<i64: 1, 1>")) == \
        "'nn.conv2d' op pads must have 4 values (top, left, bottom, right), but has 2"
    assert error(conv_text("tensor<1x3x8x8xf32>", "tensor<4x3x3x3xf32>", "tensor<1x4x6x6xf32>", 'layout = "CHWN"')) == \
        "'nn.conv2d' op layout must be \"NCHW\" or \"NHWC\", but is \"CHWN\""


def test_conv2d_bias_errors():
    text = ('func.func @f(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<5xf32>) -> tensor<1x4x6x6xf32> {\n'
            '  %y = nn.conv2d %x, %w, %b : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<5xf32>) -> tensor<1x4x6x6xf32>\n'
            '  func.return %y : tensor<1x4x6x6xf32>\n}\n')
    assert error(text) == "'nn.conv2d' op bias has shape [5] but the weight has 4 output channels"
    two = text.replace("%b: tensor<5xf32>", "%b: tensor<4xf32>").replace("%w, %b", "%w, %b, %b") \
              .replace("tensor<5xf32>)", "tensor<4xf32>, tensor<4xf32>)")
    assert error(two) == "'nn.conv2d' op takes at most one bias, but got 2"


# -- pools --------------------------------------------------------------------------------------------


pool_cases = dict(n=st.integers(1, 2), c=st.integers(1, 3), hw=st.tuples(st.integers(1, 9), st.integers(1, 9)),
                  kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)), strides=pair, pads=pads4,
                  ceil_mode=st.integers(0, 1), layout=layouts, seed=seeds)


def fits(hw, kernel, pads, dilations=(1, 1)):
    return all(hw[i] + pads[i] + pads[i + 2] >= dilations[i] * (kernel[i] - 1) + 1 for i in range(2)) \
        and all(pads[i] < kernel[i % 2] for i in range(4))


def run_layout(op_class, x, layout, **props):
    if layout == "NHWC":
        return to_nchw(run(op_class, to_nhwc(x), layout=string(layout), **props))
    return run(op_class, x, layout=string(layout), **props)


@given(dilations=st.tuples(st.integers(1, 2), st.integers(1, 2)), **pool_cases)
def test_max_pool2d_matches_onnxruntime(n, c, hw, kernel, strides, pads, ceil_mode, layout, seed, dilations):
    assume(fits(hw, kernel, pads, dilations))
    x = floats(np.random.default_rng(seed), n, c, *hw)
    expected = onnx_run("MaxPool", [x], kernel_shape=kernel, strides=strides, pads=pads,
                        dilations=dilations, ceil_mode=ceil_mode)
    got = run_layout(MaxPool2DOp, x, layout, kernel_shape=ints(kernel), strides=ints(strides),
                     pads=ints(pads), dilations=ints(dilations), ceil_mode=integer(ceil_mode))
    np.testing.assert_array_equal(got, expected)


@given(count_include_pad=st.integers(0, 1), **pool_cases)
def test_avg_pool2d_matches_onnxruntime(n, c, hw, kernel, strides, pads, ceil_mode, layout, seed,
                                        count_include_pad):
    assume(fits(hw, kernel, pads))
    x = floats(np.random.default_rng(seed), n, c, *hw)
    expected = onnx_run("AveragePool", [x], kernel_shape=kernel, strides=strides, pads=pads,
                        ceil_mode=ceil_mode, count_include_pad=count_include_pad)
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


def pool_text(op, x, y, attrs):
    return (f'func.func @f(%x: {x}) -> {y} {{\n  %y = {op} %x attributes {{{attrs}}} : ({x}) -> {y}\n'
            f'  func.return %y : {y}\n}}\n')


def test_pool_errors():
    assert error(pool_text("nn.max_pool2d", "tensor<1x3x8x8xf32>", "tensor<1x3x8x8xf32>",
                           "kernel_shape = array<i64: 3, 3>, pads = array<i64: 3, 0, 0, 0>")) == \
        "'nn.max_pool2d' op pads [3, 0, 0, 0] must be smaller than the kernel 3x3"
    assert error(pool_text("nn.avg_pool2d", "tensor<1x3x8x8xf32>", "tensor<1x3x8x8xf32>", "strides = array<i64: 1, 1>")) == \
        "'nn.avg_pool2d' op requires attribute 'kernel_shape'"
    assert error(pool_text("nn.avg_pool2d", "tensor<1x3x8x8xf32>", "tensor<1x3x8x8xf32>",
                           "kernel_shape = array<i64: 2, 2>, strides = array<i64: 0, 1>")) == \
        "'nn.avg_pool2d' op strides must be positive, but are [0, 1]"
    assert error(pool_text("nn.global_avg_pool", "tensor<1x3x8x8xf32>", "tensor<1x3x1xf32>", 'layout = "NCHW"')) == \
        "'nn.global_avg_pool' op has result types tensor<1x3x1xf32>, but its operands and attributes give tensor<1x3x1x1xf32>"


@given(n=st.integers(1, 2), c=st.integers(1, 4), hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
       layout=layouts, seed=seeds)
def test_global_pools_match_onnxruntime(n, c, hw, layout, seed):
    x = floats(np.random.default_rng(seed), n, c, *hw)
    np.testing.assert_allclose(run_layout(GlobalAvgPoolOp, x, layout), onnx_run("GlobalAveragePool", [x]),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(run_layout(GlobalMaxPoolOp, x, layout), onnx_run("GlobalMaxPool", [x]))


def test_global_pool_of_a_1x1_image_folds_to_its_input():
    module, op = build(GlobalAvgPoolOp, [RankedTensorType((1, 8, 1, 1), f32)])
    assert op.fold(None) is op.x
    module, op = build(GlobalMaxPoolOp, [RankedTensorType((1, 8, 2, 1), f32)])
    assert op.fold(None) is None


# -- docstrings: each op's IR example parses, verifies and prints back --------------------------------


@pytest.mark.parametrize("op_class", [Conv2DOp, MaxPool2DOp, AvgPool2DOp, GlobalAvgPoolOp, GlobalMaxPoolOp])
def test_docstring_example(op_class):
    example = next(line.strip() for line in op_class.__doc__.splitlines() if line.strip().startswith("%"))
    module = parse(wrap(example))
    verify(module)
    assert example in print_ir(module)


def wrap(example: str) -> str:
    """A function whose arguments are the example's operands and that returns its result."""
    lhs, rhs = example.split(" = ", 1)
    decl = parse(f"func.func private @t{rhs[rhs.rindex(' : ') + 2:]}")
    fn_type = next(op for op in decl.walk() if op.name == "func.func").type
    names = [w.strip(",") for w in rhs.split(" attributes ")[0].split(" : ")[0].split()[1:]]
    args = ", ".join(f"{n}: {t}" for n, t in zip(names, fn_type.inputs))
    (result,) = fn_type.results
    return f"func.func @f({args}) -> {result} {{\n  {example}\n  func.return {lhs} : {result}\n}}\n"
