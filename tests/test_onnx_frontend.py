"""The ONNX importer: IR text for small models, errors users meet, numbers against onnxruntime."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402

from lamina.compiler.errors import LaminaError  # noqa: E402
from lamina.compiler.frontends.onnx import CONVERTERS, OnnxImportError, load_onnx  # noqa: E402
from lamina.compiler.parser import parse  # noqa: E402
from lamina.compiler.printer import print_ir  # noqa: E402
from lamina.compiler.verifier import verify  # noqa: E402
from lamina.runtime.interpreter import interpret  # noqa: E402


def model(nodes, inputs, outputs, initializers=(), opset=17):
    """inputs / outputs: (name, shape) with float32 elements, or (name, shape, elem_type)."""
    def info(spec):
        name, shape, *el = spec
        return h.make_tensor_value_info(name, el[0] if el else T.FLOAT, shape)
    graph = h.make_graph(nodes, "g", [info(i) for i in inputs], [info(o) for o in outputs],
                         [nh.from_array(np.asarray(v), k) for k, v in dict(initializers).items()])
    return h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])


def imported(m, **kw):
    module = load_onnx(m, **kw)
    verify(module)
    assert print_ir(parse(print_ir(module))) == print_ir(module)  # the text round-trips
    return module


# ---------------------------------------------------------------------------------------------
# IR text


def test_conv_auto_pad_same_upper_becomes_pads():
    m = model([h.make_node("Conv", ["x", "w"], ["y"], name="conv1", auto_pad="SAME_UPPER", strides=[2, 2])],
              [("x", [1, 3, 6, 6])], [("y", None)], {"w": np.ones((2, 3, 3, 3), np.float32)})
    assert print_ir(imported(m)) == """\
module {
  func.func @main(%x: tensor<1x3x6x6xf32>) -> tensor<1x2x3x3xf32> {
    %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<2x3x3x3xf32>} : () -> tensor<2x3x3x3xf32> loc("w")
    %y = nn.conv2d %x, %w attributes {pads = array<i64: 0, 0, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x3x6x6xf32>, tensor<2x3x3x3xf32>) -> tensor<1x2x3x3xf32> loc("conv1")
    return %y : tensor<1x2x3x3xf32>
  }
}
"""


def test_conv_auto_pad_same_lower_puts_the_odd_pixel_first():
    m = model([h.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_LOWER")],
              [("x", [1, 1, 5, 4])], [("y", None)], {"w": np.ones((1, 1, 2, 2), np.float32)})
    conv = next(op for op in imported(m).walk() if op.name == "nn.conv2d")
    assert tuple(conv.pads.values) == (1, 1, 0, 0)
    assert conv.result.type.shape == (1, 1, 5, 4)


def test_reshape_with_a_shape_initializer():
    m = model([h.make_node("Reshape", ["x", "shape"], ["y"], name="flat")],
              [("x", [2, 3, 4])], [("y", None)], {"shape": np.array([0, -1], np.int64)})
    assert print_ir(imported(m)) == """\
module {
  func.func @main(%x: tensor<2x3x4xf32>) -> tensor<2x12xf32> {
    %y = nn.reshape %x attributes {shape = array<i64: 2, 12>} : (tensor<2x3x4xf32>) -> tensor<2x12xf32> loc("flat")
    return %y : tensor<2x12xf32>
  }
}
"""


def test_shape_glue_folds_away():
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as exporters write `x.view(x.size(0), -1)`."""
    m = model([h.make_node("Shape", ["x"], ["s"]),
               h.make_node("Gather", ["s", "zero"], ["n"], axis=0),
               h.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
               h.make_node("Concat", ["n1", "minus_one"], ["shape"], axis=0),
               h.make_node("Reshape", ["x", "shape"], ["y"], name="view"),
               h.make_node("Relu", ["y"], ["z"], name="relu")],
              [("x", [2, 3, 4])], [("z", None)],
              {"zero": np.array(0, np.int64), "axes": np.array([0], np.int64),
               "minus_one": np.array([-1], np.int64)})
    assert print_ir(imported(m), print_locations=False) == """\
module {
  func.func @main(%x: tensor<2x3x4xf32>) -> tensor<2x12xf32> {
    %y = nn.reshape %x attributes {shape = array<i64: 2, 12>} : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
    %z = nn.relu %y : (tensor<2x12xf32>) -> tensor<2x12xf32>
    return %z : tensor<2x12xf32>
  }
}
"""


def test_constant_subgraphs_fold_into_one_constant():
    m = model([h.make_node("Constant", [], ["c"], value=nh.from_array(np.array([1.0, 2.0], np.float32))),
               h.make_node("Mul", ["c", "c"], ["c2"]),
               h.make_node("Add", ["x", "c2"], ["y"])],
              [("x", [2])], [("y", None)])
    ops = [op.name for op in imported(m).walk()][2:]
    assert ops == ["nn.constant", "nn.add", "func.return"]
    assert interpret(load_onnx(m), np.zeros(2, np.float32))[0].tolist() == [1.0, 4.0]


def test_names_become_sanitized_hints_and_locations():
    m = model([h.make_node("Relu", ["input:0"], ["1"], name="layer/relu"),
               h.make_node("Neg", ["1"], ["out put"])],
              [("input:0", [2])], [("out put", None)])
    text = print_ir(imported(m))
    assert "@main(%input_0: tensor<2xf32>)" in text
    assert '%_1 = nn.relu %input_0 : (tensor<2xf32>) -> tensor<2xf32> loc("layer/relu")' in text
    assert '%out_put = nn.neg %_1 : (tensor<2xf32>) -> tensor<2xf32> loc("Neg_1")' in text


def test_graph_inputs_that_are_initializers_are_constants():
    m = model([h.make_node("Add", ["x", "b"], ["y"])], [("x", [2]), ("b", [2])], [("y", None)],
              {"b": np.array([1, 2], np.float32)})
    fn = next(op for op in imported(m).walk() if op.name == "func.func")
    assert [str(a.type) for a in fn.entry.args] == ["tensor<2xf32>"]


def test_input_shapes_pin_dynamic_dims():
    m = model([h.make_node("Relu", ["x"], ["y"])], [("x", ["N", 3])], [("y", None)])
    assert "tensor<?x3xf32>" in print_ir(imported(m))  # relu allows a dynamic dim
    assert "tensor<5x3xf32>" in print_ir(imported(m, input_shapes={"x": (5, 3)}))


def test_softmax_before_opset_13_coerces_to_2d():
    m = model([h.make_node("Softmax", ["x"], ["y"], axis=1)], [("x", [2, 3, 4])], [("y", None)], opset=11)
    names = [op.name for op in imported(m).walk()][2:]
    assert names == ["nn.reshape", "nn.softmax", "nn.reshape", "func.return"]
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    e = np.exp(x.reshape(2, 12) - x.reshape(2, 12).max(1, keepdims=True))
    np.testing.assert_allclose(interpret(load_onnx(m), x)[0], (e / e.sum(1, keepdims=True)).reshape(2, 3, 4),
                               rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Errors: a LaminaError with a hint, never a traceback from protobuf or numpy


def error_of(*args, **kw) -> OnnxImportError:
    with pytest.raises(OnnxImportError) as info:
        load_onnx(*args, **kw)
    assert isinstance(info.value, LaminaError) and info.value.hint
    return info.value


def test_truncated_file(tmp_path):
    m = model([h.make_node("Relu", ["x"], ["y"])], [("x", [2])], [("y", None)],
              {"w": np.ones(64, np.float32)})
    path = tmp_path / "cut.onnx"
    path.write_bytes(m.SerializeToString()[:-40])
    e = error_of(path)
    assert "is not a valid ONNX model" in e.message and str(path) in e.message
    assert "\n" not in e.message


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_text("module { }\n")
    assert "is not a valid ONNX model" in error_of(path).message
    assert "cannot read" in error_of(tmp_path / "missing.onnx").message


def test_unknown_op_names_node_op_domain_opset_and_lists_supported_ops():
    m = model([h.make_node("Relu", ["x"], ["r"]), h.make_node("Hardmax", ["r"], ["y"], name="hm")],
              [("x", [2])], [("y", None)], opset=15)
    e = error_of(m)
    assert e.message == ("node 'hm' has op type Hardmax (domain 'ai.onnx', opset 15), "
                         "which lamina does not support")
    assert e.hint.startswith("supported ops: ") and "Conv" in e.hint and "Reshape" in e.hint


def test_custom_domain_is_rejected():
    node = h.make_node("FusedConv", ["x"], ["y"], name="fc", domain="com.microsoft")
    m = model([node], [("x", [2])], [("y", None)])
    m.opset_import.append(h.make_opsetid("com.microsoft", 1))
    e = error_of(m)
    assert "'fc'" in e.message and "com.microsoft" in e.message and "default ONNX domain" in e.message


def test_missing_initializer():
    m = model([h.make_node("Conv", ["x", "w"], ["y"], name="conv1")], [("x", [1, 3, 4, 4])], [("y", None)])
    e = error_of(m)
    assert e.message == ("node 'conv1' (Conv) reads 'w', which no input, initializer or earlier node "
                         "defines")


def test_unpinned_dynamic_dim_names_the_input():
    m = model([h.make_node("Conv", ["image", "w"], ["y"], name="c", auto_pad="SAME_UPPER")],
              [("image", ["N", 3, "H", "W"])], [("y", None)], {"w": np.ones((2, 3, 3, 3), np.float32)})
    e = error_of(m)
    assert "'c'" in e.message and "static" in e.message
    assert "image" in e.hint and "input_shapes" in e.hint
    module = load_onnx(m, input_shapes={"image": (1, 3, 8, 8)})
    assert "tensor<1x2x8x8xf32>" in print_ir(module)


def test_shape_input_computed_at_run_time():
    m = model([h.make_node("Reshape", ["x", "s"], ["y"], name="r")],
              [("x", [2, 3]), ("s", [2], T.INT64)], [("y", None)])
    e = error_of(m)
    assert e.message.startswith("node 'r' (Reshape): needs its input 's' (shape) to be a constant")


def test_unsupported_attribute_value():
    m = model([h.make_node("Pad", ["x", "pads"], ["y"], name="p", mode="wrap")],
              [("x", [2, 3])], [("y", None)], {"pads": np.array([1, 1, 1, 1], np.int64)}, opset=19)
    assert error_of(m).message == "node 'p' (Pad): attribute mode='wrap' is not supported"


def test_bad_input_shapes():
    m = model([h.make_node("Relu", ["x"], ["y"])], [("x", ["N", 3])], [("y", None)])
    assert "does not have as inputs" in error_of(m, input_shapes={"y": (1, 3)}).message
    assert "rank 1" in error_of(m, input_shapes={"x": (3,)}).message
    assert "fixes it to 3" in error_of(m, input_shapes={"x": (1, 4)}).message


def test_every_converter_is_a_callable_in_the_table():
    assert {"Conv", "Gemm", "Reshape", "Resize", "Softmax", "BatchNormalization"} <= set(CONVERTERS)
    assert all(callable(f) for f in CONVERTERS.values())


# ---------------------------------------------------------------------------------------------
# Numbers: lamina's interpreter against onnxruntime on multi-node graphs


def against_onnxruntime(m, feeds, rtol=1e-4, atol=1e-5):
    ort = pytest.importorskip("onnxruntime")
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    module = imported(m)
    got = interpret(module, *feeds.values())
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


rng = np.random.default_rng(7)


def rand(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_cnn_against_onnxruntime():
    m = model([
        h.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        h.make_node("BatchNormalization", ["c", "s", "bb", "mean", "var"], ["n"], epsilon=1e-3),
        h.make_node("Relu", ["n"], ["r"]),
        h.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("AveragePool", ["p"], ["a"], kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
        h.make_node("GlobalAveragePool", ["a"], ["g"]),
        h.make_node("Flatten", ["g"], ["f"]),
        h.make_node("Gemm", ["f", "fc", "fcb"], ["logits"], transB=1),
        h.make_node("Softmax", ["logits"], ["y"], axis=-1),
    ], [("x", [2, 3, 8, 8])], [("y", None)],
        {"w": rand(4, 3, 3, 3), "b": rand(4), "s": rand(4), "bb": rand(4), "mean": rand(4),
         "var": np.abs(rand(4)) + 0.5, "fc": rand(5, 4), "fcb": rand(5)})
    against_onnxruntime(m, {"x": rand(2, 3, 8, 8)})


def test_transformer_block_against_onnxruntime():
    """Attention with Erf-GELU written out as ops, LayerNormalization and the reshape glue."""
    d, heads = 8, 2
    nodes = [
        h.make_node("MatMul", ["x", "wq"], ["q"]),
        h.make_node("MatMul", ["x", "wk"], ["k"]),
        h.make_node("Reshape", ["q", "split_heads"], ["qh"]),
        h.make_node("Reshape", ["k", "split_heads"], ["kh"]),
        h.make_node("Transpose", ["qh"], ["qt"], perm=[0, 2, 1, 3]),
        h.make_node("Transpose", ["kh"], ["kt"], perm=[0, 2, 3, 1]),
        h.make_node("MatMul", ["qt", "kt"], ["scores"]),
        h.make_node("Div", ["scores", "sqrt_d"], ["scaled"]),
        h.make_node("Softmax", ["scaled"], ["attn"], axis=-1),
        h.make_node("ReduceMean", ["attn"], ["m"], axes=[1], keepdims=0),
        h.make_node("MatMul", ["m", "x"], ["ctx"]),
        h.make_node("LayerNormalization", ["ctx", "gamma", "beta"], ["ln"], axis=-1, epsilon=1e-5),
        # gelu(x) = 0.5 * x * (1 + erf(x / sqrt(2)))
        h.make_node("Div", ["ln", "sqrt2"], ["t0"]),
        h.make_node("Erf", ["t0"], ["t1"]),
        h.make_node("Add", ["t1", "one"], ["t2"]),
        h.make_node("Mul", ["ln", "t2"], ["t3"]),
        h.make_node("Mul", ["t3", "half"], ["y"]),
    ]
    m = model(nodes, [("x", [2, 4, d])], [("y", None)],
              {"wq": rand(d, d), "wk": rand(d, d), "split_heads": np.array([0, 0, heads, -1], np.int64),
               "sqrt_d": np.array(2.0, np.float32), "gamma": rand(d), "beta": rand(d),
               "sqrt2": np.array(np.sqrt(2), np.float32), "one": np.array(1, np.float32),
               "half": np.array(0.5, np.float32)})
    module = imported(m)
    assert [op.name for op in module.walk()].count("nn.erf") == 1  # the decomposition stays as ops
    against_onnxruntime(m, {"x": rand(2, 4, d)})


def test_data_movement_against_onnxruntime():
    nodes = [
        h.make_node("Slice", ["x", "starts", "ends", "axes", "steps"], ["s"]),
        h.make_node("Pad", ["s", "pads"], ["p"], mode="reflect"),
        h.make_node("Resize", ["p", "", "", "sizes"], ["r"], mode="nearest"),
        h.make_node("Concat", ["r", "r"], ["c"], axis=1),
        h.make_node("Split", ["c"], ["a", "b"], axis=1, num_outputs=2),
        h.make_node("Sub", ["a", "b"], ["d"]),
        h.make_node("Max", ["d", "a", "b"], ["mx"]),
        h.make_node("Clip", ["mx", "lo", "hi"], ["y"]),
        h.make_node("Shape", ["y"], ["shape_y"]),
    ]
    m = model(nodes, [("x", [1, 2, 6, 6])], [("y", None), ("shape_y", None, T.INT64)],
              {"starts": np.array([1, 0], np.int64), "ends": np.array([5, 6], np.int64),
               "axes": np.array([2, 3], np.int64), "steps": np.array([1, 2], np.int64),
               "pads": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64),
               "sizes": np.array([1, 2, 12, 10], np.int64),
               "lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32)}, opset=18)
    against_onnxruntime(m, {"x": rand(1, 2, 6, 6)})


def test_parse_input_shapes():
    from lamina.compiler.frontends.onnx import parse_input_shapes

    assert parse_input_shapes(["image=1x3x224x224", "n="]) == {"image": (1, 3, 224, 224), "n": ()}
    for bad in ("image", "image=1xx3", "=1x2", "a=1x-2"):
        with pytest.raises(OnnxImportError) as info:
            parse_input_shapes([bad])
        assert "NAME=DIMS" in info.value.message and info.value.hint
