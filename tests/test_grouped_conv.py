"""Grouped convolution (1 < group < channels) through the whole compiler: an ONNX Conv with
`group` 2, 3, 4 or 8, odd and even channel counts per group, strides, dilations and padding,
followed by BatchNormalization and Relu (folded and fused into the conv's kernel at -O3), in
NCHW, NHWC and NCHW8c, compiled and checked against onnxruntime.

The compute packs the weight per group ([O'/ob, C/G, KH, KW, ob] with ob dividing a group's output
channels, or each group's padded to whole blocks of ob: te/conv.py) and takes the dense conv's register-blocked schedule
(schedules/cpu.py `conv_schedule`); the second test checks that it did.
"""

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

CI = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci"


@pytest.fixture(autouse=True, scope="module")
def kernel_cache(tmp_path_factory):
    os.environ["LAMINA_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernels"))


def grouped_conv_model(rng, c_per_group, o_per_group, group, hw, kernel, stride, dilation, pads, bn_relu=True):
    c, o = c_per_group * group, o_per_group * group
    w = (rng.standard_normal((o, c_per_group, *kernel)) / np.sqrt(c_per_group * kernel[0] * kernel[1])).astype(np.float32)
    inits = [numpy_helper.from_array(w, "conv.weight")]
    nodes = [helper.make_node("Conv", ["x", "conv.weight"], ["conv"], name="conv", group=group,
                              strides=[stride] * 2, dilations=[dilation] * 2, pads=pads)]
    out = "conv"
    if bn_relu:
        for name, value in (("scale", 1 + 0.1 * rng.standard_normal(o)), ("bias", rng.standard_normal(o)),
                            ("mean", 0.1 * rng.standard_normal(o)), ("var", 1 + rng.random(o))):
            inits.append(numpy_helper.from_array(value.astype(np.float32), f"bn.{name}"))
        nodes += [helper.make_node("BatchNormalization", ["conv", "bn.scale", "bn.bias", "bn.mean", "bn.var"],
                                   ["bn"], name="bn"),
                  helper.make_node("Relu", ["bn"], ["relu"], name="relu")]
        out = "relu"
    graph = helper.make_graph(nodes, "grouped", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, *hw])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return onnx.shape_inference.infer_shapes(model)


def onnxruntime_outputs(model, x):
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


@settings(max_examples=12 if CI else 300, deadline=None)
@given(group=st.sampled_from([2, 3, 4, 8]),
       c_per_group=st.sampled_from([1, 2, 3, 5, 7, 8, 16, 24]),
       # 20, 60: 10- and 15-lane blocks on a short reduction; 40, 60, 72 padded to whole blocks
       # a group on a long one
       o_per_group=st.sampled_from([1, 3, 5, 7, 8, 16, 20, 32, 40, 60, 72]),
       hw=st.tuples(st.integers(3, 14), st.integers(3, 14)),
       kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.integers(1, 2), dilation=st.integers(1, 2),
       pads=st.lists(st.integers(0, 2), min_size=4, max_size=4),
       layout=st.sampled_from(["", "NHWC", "NCHW8c"]),
       seed=st.integers(0, 2**16))
def test_grouped_conv_matches_onnxruntime(group, c_per_group, o_per_group, hw, kernel, stride, dilation, pads,
                                          layout, seed):
    span = [(k - 1) * dilation + 1 for k in kernel]
    if any(h + pads[i] + pads[i + 2] < s for i, (h, s) in enumerate(zip(hw, span))):
        return  # the window does not fit: ONNX gives no output pixel
    rng = np.random.default_rng(seed)
    model = grouped_conv_model(rng, c_per_group, o_per_group, group, hw, kernel, stride, dilation, pads)
    x = rng.standard_normal((1, c_per_group * group, *hw)).astype(np.float32)
    compiled = lamina.compile(load_onnx(model), layout=layout)
    (ours,) = compiled(x)
    np.testing.assert_allclose(ours, onnxruntime_outputs(model, x), rtol=1e-4, atol=1e-4)


@pytest.mark.usefixtures("direct_convs")  # (the first two would take Winograd's: tests/test_winograd.py)
@pytest.mark.parametrize("group, c_per_group, o_per_group", [(2, 48, 64), (3, 80, 80), (8, 12, 48)])
def test_grouped_conv_takes_the_blocked_schedule_with_its_epilogue(group, c_per_group, o_per_group):
    """One kernel (conv + folded batch_norm + relu), the weight packed per group at compile
    time, summed in a register block, vectorized and parallel."""
    rng = np.random.default_rng(0)
    model = grouped_conv_model(rng, c_per_group, o_per_group, group, (14, 14), (3, 3), 1, 1, [1, 1, 1, 1])
    compiled = lamina.compile(load_onnx(model))
    assert compiled.num_kernels == 1
    (kernel,) = compiled.kernels
    script = kernel.script
    assert "in1_packed" in script and 'scope="local"' in script
    assert "T.vectorized" in script and "T.parallel" in script
    x = rng.standard_normal((1, c_per_group * group, 14, 14)).astype(np.float32)
    np.testing.assert_allclose(compiled(x)[0], onnxruntime_outputs(model, x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("c_per_group, o_per_group, lanes, computed", [
    (4, 20, 10, 20), (4, 60, 15, 60), (4, 6, 6, 6), (4, 40, 8, 40),  # short reductions (36 multiply-adds)
    (16, 40, 16, 48), (16, 60, 32, 64), (16, 20, 10, 20),            # long ones (144): groups padded
])
def test_a_group_takes_its_widest_block_or_is_padded_to_whole_vectors(c_per_group, o_per_group, lanes, computed):
    """On a short reduction, ShuffleNet's 20 output channels a group take blocks of 10 (one
    vector, 10 lanes used), not 4 (te/conv.py ODD_VECTOR_LANES), and 40 keep 8. On a long one
    each group's channels are padded to whole vectors where that wastes at most a third of them
    (te/conv.py `group_padded_channels`: 40 computed as 48 in blocks of 16, 60 as 64 in blocks of
    32), and the output is read from them after the conv (`unpad_groups`)."""
    rng = np.random.default_rng(1)
    model = grouped_conv_model(rng, c_per_group, o_per_group, 3, (14, 14), (3, 3), 1, 1, [1, 1, 1, 1])
    compiled = lamina.compile(load_onnx(model))
    (kernel,) = compiled.kernels
    assert (f"in1_packed: T.Buffer(({3 * computed // lanes}, {c_per_group}, 3, 3, {lanes})"
            in kernel.script), kernel.script[:600]
    assert kernel.generator == "conv_schedule"
    x = rng.standard_normal((1, 3 * c_per_group, 14, 14)).astype(np.float32)
    np.testing.assert_allclose(compiled(x)[0], onnxruntime_outputs(model, x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("channels, weight_in, group, message", [
    (8, 3, 3, "group 3 does not divide the input's 8 channels"),
    (8, 2, 2, "input has 8 channels but the weight expects 4 (2 per group × group 2)"),
])
def test_a_bad_group_is_one_error_naming_the_onnx_node(tmp_path, channels, weight_in, group, message):
    import subprocess
    import sys
    from pathlib import Path

    w = numpy_helper.from_array(np.ones((6, weight_in, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="layer2.conv", group=group)
    graph = helper.make_graph([node], "bad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "bad.onnx")
    lamina_cli = Path(sys.executable).parent / "lamina"
    proc = subprocess.run([str(lamina_cli), "run", str(tmp_path / "bad.onnx"), "--fill", "random"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first == f"error: node 'layer2.conv' (Conv): nn.conv2d {message}", proc.stderr
    assert "Traceback" not in proc.stderr
