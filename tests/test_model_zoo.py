"""The model zoo (examples/models/zoo.py): every model is valid opset-17 ONNX, is deterministic,
runs in onnxruntime and gives finite, non-constant outputs of the expected shape and scale.
The two models small enough to write out in numpy are also checked number by number.
"""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from lamina.runtime.benchmark import ZOO_SCRIPT, zoo_module

zoo = zoo_module()

# name -> (input shape, output shape, op types the model must contain)
EXPECTED = {
    "resnet18": ([1, 3, 224, 224], [1, 1000],
                 {"Conv", "BatchNormalization", "Relu", "MaxPool", "Add", "GlobalAveragePool",
                  "Flatten", "Gemm"}),
    "mobilenetv2": ([1, 3, 224, 224], [1, 1000],
                    {"Conv", "BatchNormalization", "Clip", "Add", "GlobalAveragePool", "Reshape",
                     "Gemm"}),
    "alexnet": ([1, 3, 224, 224], [1, 1000], {"Conv", "Relu", "LRN", "MaxPool", "Flatten", "Gemm"}),
    "shufflenet": ([1, 3, 224, 224], [1, 1000],
                   {"Conv", "BatchNormalization", "Relu", "MaxPool", "Reshape", "Transpose", "Add",
                    "AveragePool", "Concat", "GlobalAveragePool", "Flatten", "Gemm"}),
    "squeezenet": ([1, 3, 224, 224], [1, 1000],
                   {"Conv", "Relu", "MaxPool", "Concat", "GlobalAveragePool", "Flatten"}),
    "mlp": ([1, 784], [1, 10], {"MatMul", "Add", "Relu", "Softmax"}),
    "transformer_block": ([1, 128, 256], [1, 128, 256],
                          {"MatMul", "Add", "Reshape", "Transpose", "Div", "Softmax", "Erf", "Mul",
                           "LayerNormalization"}),
    "tiny_yolo": ([1, 3, 128, 128], [1, 75, 16, 16],
                  {"Slice", "Concat", "Conv", "BatchNormalization", "LeakyRelu", "Resize"}),
    "glue": ([1, 16, 4, 4], [1, 10],
             {"Shape", "Gather", "Unsqueeze", "Concat", "Reshape", "Constant", "ConstantOfShape",
              "Gemm"}),
}


def _inits(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _run(model: onnx.ModelProto | Path, x: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1      # pytest -n 2 already keeps both cores busy
    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {session.get_inputs()[0].name: x})
    return y


def _attr(node: onnx.NodeProto, name: str):
    return next(onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name)


def _random_input(shape, seed: int = 1234) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_expected_table_covers_the_zoo():
    assert set(zoo.MODELS) == set(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_model_is_valid_and_runs(name, tmp_path):
    in_shape, out_shape, required_ops = EXPECTED[name]
    assert zoo.main(["--out", str(tmp_path), name]) == 0
    path = tmp_path / f"{name}.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))

    # opset 17, default domain only, named nodes, shape-inferred
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    assert all(n.domain == "" for n in model.graph.node)
    names = [n.name for n in model.graph.node]
    assert all(names) and len(set(names)) == len(names)
    assert required_ops <= {n.op_type for n in model.graph.node}
    graph_outputs = {o.name for o in model.graph.output}
    typed = {v.name for v in model.graph.value_info}
    untyped = [o for n in model.graph.node for o in n.output if o not in typed | graph_outputs]
    assert not untyped, f"no value_info for {untyped[:5]}"
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == in_shape

    # BatchNormalization statistics are plausible: positive variances
    inits = _inits(model)
    for node in model.graph.node:
        if node.op_type == "BatchNormalization":
            assert (inits[node.input[4]] > 0).all(), node.name

    y = _run(path, _random_input(in_shape))
    assert list(y.shape) == out_shape
    assert np.isfinite(y).all()
    assert 1e-3 < float(y.std()) < 1e3, f"output std {y.std()} (exploding or vanishing activations)"
    # ... and the output depends on the input, not only on the biases (ResNet-18, the least
    # sensitive, changes by ~5% of its std between two random images)
    other = _run(path, _random_input(in_shape, seed=99))
    assert float((y - other).std()) > 1e-2 * float(y.std())


def test_models_are_deterministic():
    for name, build in zoo.MODELS.items():
        assert build().SerializeToString() == build().SerializeToString(), name


def test_mlp_matches_numpy():
    model = zoo.mlp()
    w = _inits(model)
    x = _random_input([1, 784])
    h = np.maximum(x @ w["fc1.weight"] + w["fc1.bias"], 0)
    h = np.maximum(h @ w["fc2.weight"] + w["fc2.bias"], 0)
    logits = h @ w["fc3.weight"] + w["fc3.bias"]
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    y = _run(model, x)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(y.sum(), 1.0, rtol=1e-5)


def test_transformer_block_matches_numpy():
    model = zoo.transformer_block()
    w = _inits(model)
    x = _random_input([1, 128, 256])

    def linear(t, name):
        return t @ w[f"{name}.weight"] + w[f"{name}.bias"]

    def layer_norm(t, name):
        t = (t - t.mean(-1, keepdims=True)) / np.sqrt(t.var(-1, keepdims=True) + 1e-5)
        return t * w[f"{name}.weight"] + w[f"{name}.bias"]

    def heads(t):  # [1, 128, 256] -> [1, 4, 128, 64]
        return t.reshape(1, 128, 4, 64).transpose(0, 2, 1, 3)

    q, k, v = (heads(linear(x, f"attention.{p}")) for p in ("query", "key", "value"))
    scores = q @ k.transpose(0, 1, 3, 2) / 8.0
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(1, 128, 256)
    h = layer_norm(linear(ctx, "attention.output") + x, "attention.norm")
    f = linear(h, "ffn.fc1")
    erf = np.vectorize(math.erf)
    f = 0.5 * f * (1 + erf(f / math.sqrt(2)))
    expected = layer_norm(linear(f, "ffn.fc2") + h, "ffn.norm")
    np.testing.assert_allclose(_run(model, x), expected, rtol=1e-3, atol=1e-3)


def test_mobilenetv2_uses_depthwise_conv_and_relu6_initializers():
    model = zoo.mobilenetv2()
    inits = _inits(model)
    depthwise = [n for n in model.graph.node if n.op_type == "Conv"
                 and _attr(n, "group") > 1]
    assert len(depthwise) == 17
    for n in depthwise:
        weight = inits[n.input[1]]
        assert _attr(n, "group") == weight.shape[0]
        assert weight.shape[1:] == (1, 3, 3)
    for n in (n for n in model.graph.node if n.op_type == "Clip"):
        assert inits[n.input[1]] == 0.0 and inits[n.input[2]] == 6.0


def test_alexnet_groups_conv2_conv4_conv5_and_normalizes_after_conv1_conv2():
    model = zoo.alexnet()
    inits = _inits(model)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert [_attr(n, "group") for n in convs] == [1, 2, 1, 2, 2]
    assert [inits[n.input[1]].shape[:2] for n in convs] == [(96, 3), (256, 48), (384, 256),
                                                             (384, 192), (256, 192)]
    assert all(len(n.input) == 3 for n in convs)                       # every conv has a bias
    assert [n.input[0] for n in model.graph.node if n.op_type == "LRN"] == ["features.1",
                                                                            "features.5"]
    gemms = [n for n in model.graph.node if n.op_type == "Gemm"]
    assert [inits[n.input[1]].shape for n in gemms] == [(512, 9216), (512, 512), (1000, 512)]
    assert model.ByteSize() < 40e6


def test_shufflenet_units_shuffle_grouped_convs():
    model = zoo.shufflenet()
    inits = _inits(model)
    nodes = {n.name: n for n in model.graph.node}
    pointwise = [n for n in model.graph.node if n.op_type == "Conv"
                 and inits[n.input[1]].shape[2:] == (1, 1)]
    assert len(pointwise) == 2 * 16
    # every 1x1 conv is grouped (g = 3) except the very first, on the stem's 24 channels
    assert [_attr(n, "group") for n in pointwise] == [1] + [3] * 31
    transposes = [n for n in model.graph.node if n.op_type == "Transpose"]
    assert len(transposes) == 16
    for t in transposes:
        unit = t.name.rsplit(".", 1)[0]
        split, merge = nodes[f"{unit}.reshape"], nodes[f"{unit}.reshape_back"]
        groups, per_group, h, w = inits[split.input[1]].tolist()[1:]
        assert groups == 3 and _attr(t, "perm") == [0, 2, 1, 3, 4]
        assert inits[merge.input[1]].tolist() == [1, groups * per_group, h, w]
    concats = [n for n in model.graph.node if n.op_type == "Concat"]
    assert [nodes[c.input[0]].op_type for c in concats] == ["AveragePool"] * 3


def test_squeezenet_fires_concat_two_expands():
    model = zoo.squeezenet()
    nodes = {n.name: n for n in model.graph.node}
    cats = [n for n in model.graph.node if n.op_type == "Concat"]
    assert len(cats) == 8 and all(_attr(n, "axis") == 1 for n in cats)
    for cat in cats:
        assert [nodes[nodes[i].input[0]].name.rsplit(".", 1)[1] for i in cat.input] == [
            "expand1x1", "expand3x3"]
    pools = [n for n in model.graph.node if n.op_type == "MaxPool"]
    assert len(pools) == 3 and all(_attr(n, "ceil_mode") == 1 for n in pools)


def test_tiny_yolo_focus_and_upsample_take_initializers():
    model = zoo.tiny_yolo()
    inits = _inits(model)
    slices = [n for n in model.graph.node if n.op_type == "Slice"]
    assert len(slices) == 4 and all(i in inits for n in slices for i in n.input[1:])
    (resize,) = [n for n in model.graph.node if n.op_type == "Resize"]
    assert inits[resize.input[1]].size == 0
    assert inits[resize.input[2]].tolist() == [1.0, 1.0, 2.0, 2.0]


def test_cli_writes_files_and_rejects_unknown_names(tmp_path):
    cli = [sys.executable, str(ZOO_SCRIPT), "--out", str(tmp_path)]
    done = subprocess.run(cli + ["mlp", "glue"], capture_output=True, text=True, check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["glue.onnx", "mlp.onnx"]
    assert "mlp.onnx" in done.stdout
    bad = subprocess.run(cli + ["resnet101"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown model resnet101" in bad.stderr
