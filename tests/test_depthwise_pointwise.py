"""A depthwise conv fused into the 1x1 conv that reads it (compiler/passes/fuse.py, option
`depthwise-pointwise`, on in the CPU's -O3 pipeline; lowering/schedules/fused_conv.py): an ONNX
depthwise Conv -> activation -> 1x1 Conv (-> residual Add), as in MobileNetV2's blocks, compiled
for the CPU and checked against onnxruntime, with random channels, sizes, windows, padding and
epilogues. Where the pair fits (stride 1, a small 1x1 weight) it is one
kernel with the fused schedule; the exact IR of the grouping is in
tests/filecheck/passes/fuse-depthwise-pointwise.mlir.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from fused_conv_models import activation as activation_of
from fused_conv_models import check, model_of
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper

CI = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci"


@pytest.fixture(autouse=True, scope="module")
def kernel_cache(tmp_path_factory):
    os.environ["LAMINA_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernels"))


def block_model(rng, c, o, hw, kernel, pads, stride=1, activation="Clip", residual=True):
    """x -> depthwise Conv (bias) -> activation -> 1x1 Conv (bias) [-> + r]."""
    wd = (rng.standard_normal((c, 1, kernel, kernel)) / kernel).astype(np.float32)
    wp = (rng.standard_normal((o, c, 1, 1)) / np.sqrt(c)).astype(np.float32)
    biases = [rng.standard_normal(n).astype(np.float32) for n in (c, o)]
    inits = [numpy_helper.from_array(wd, "dw.weight"), numpy_helper.from_array(biases[0], "dw.bias"),
             numpy_helper.from_array(wp, "pw.weight"), numpy_helper.from_array(biases[1], "pw.bias")]
    nodes = [helper.make_node("Conv", ["x", "dw.weight", "dw.bias"], ["dw"], name="dw", group=c, pads=pads,
                              strides=[stride] * 2)]
    act = activation_of(nodes, inits, activation, "dw", "act")
    nodes.append(helper.make_node("Conv", [act, "pw.weight", "pw.bias"], ["pw"], name="pw"))
    out_h = (hw[0] + pads[0] + pads[2] - kernel) // stride + 1
    out_w = (hw[1] + pads[1] + pads[3] - kernel) // stride + 1
    inputs = {"x": (1, c, *hw)}
    out = "pw"
    if residual:
        inputs["r"] = (1, o, out_h, out_w)
        nodes.append(helper.make_node("Add", ["pw", "r"], ["y"], name="residual"))
        out = "y"
    return model_of(rng, "block", nodes, inits, inputs, out)


@settings(max_examples=8 if CI else 300, deadline=None)
@given(c=st.integers(1, 40), o=st.integers(1, 40),  # c = 1: a dense conv; kernel 1: a scale, not fused
        hw=st.tuples(st.integers(3, 20), st.integers(3, 20)),
       kernel=st.sampled_from([1, 3, 5]), pads=st.lists(st.integers(0, 2), min_size=4, max_size=4),
       stride=st.sampled_from([1, 2, 3]), activation=st.sampled_from(["Clip", "Relu", None]),
       residual=st.booleans(), seed=st.integers(0, 2**16))
def test_depthwise_then_pointwise_matches_onnxruntime(c, o, hw, kernel, pads, stride, activation, residual, seed):
    if any(h + pads[i] + pads[i + 2] < kernel for i, h in enumerate(hw)):
        return  # the window does not fit: ONNX gives no output pixel
    rng = np.random.default_rng(seed)
    model, feeds = block_model(rng, c, o, hw, kernel, pads, stride, activation=activation, residual=residual)
    compiled = check(model, feeds)
    if c > 1 and kernel > 1 and stride == 1:
        # the pair fits (fuse.py `depthwise_pointwise_fits`): one kernel, the fused schedule
        assert compiled.num_kernels == 1
        assert compiled.kernels[0].generator == "depthwise_pointwise_schedule"


@pytest.mark.parametrize("c, side, o, fused", [
    (144, 56, 24, True),    # MobileNetV2's blocks: the 56x56 one reads 1.8 MB of depthwise output
    (192, 28, 32, True),
    (576, 14, 96, True),
    (960, 7, 160, False),   # a 154K-element 1x1 weight, read again for every row: two kernels
    (32, 112, 16, True),    # rows of whole vectors too: MobileNetV2's first block (fuse.py)
])
def test_mobilenet_blocks_fuse_where_it_pays(c, side, o, fused):
    rng = np.random.default_rng(0)
    model, feeds = block_model(rng, c, o, (side, side), 3, [1, 1, 1, 1], residual=c != 32)
    compiled = check(model, feeds)
    generators = [k.generator for k in compiled.kernels]
    if fused:
        assert generators == ["depthwise_pointwise_schedule"]
        script = compiled.kernels[0].script
        assert "in2_packed" in script or "_packed" in script  # the 1x1 weight packed once, at compile time
    else:
        assert len(generators) == 2 and "depthwise_pointwise_schedule" not in generators


@pytest.mark.parametrize("stride", [2, 3])
def test_a_strided_depthwise_conv_stays_its_own_kernel(stride):
    """MobileNetV2's downsampling blocks: fused, they gained nothing (fused_conv.py)."""
    rng = np.random.default_rng(1)
    model, feeds = block_model(rng, 24, 16, (14, 14), 3, [1, 1, 1, 1], stride=stride)
    compiled = check(model, feeds)
    assert compiled.num_kernels == 2


def test_only_the_cpu_nchw_pipeline_fuses_depthwise_into_pointwise():
    from lamina.compiler.passes.presets import pipeline_for

    assert "depthwise-pointwise" in pipeline_for(3, "", "llvm")
    assert "depthwise-pointwise" not in pipeline_for(3, "", "cuda")
    assert "depthwise-pointwise" not in pipeline_for(3, "NCHW8c", "llvm")


def test_the_fused_kernel_s_knobs_are_its_own_and_every_value_computes_the_same():
    """The kernel's knobs (the 1x1 conv's channel block, its columns) each once, and other values
    of them, as tuning tries, compute what the interpreter does."""
    from lamina.lowering.experiment import kernel

    t = lambda *s: "tensor<" + "x".join(map(str, s)) + "xf32>"  # noqa: E731
    x, wd, wp, y, r = t(1, 48, 14, 14), t(48, 1, 3, 3), t(32, 48, 1, 1), t(1, 32, 14, 14), t(1, 48, 14, 14)
    src = f"""func.func @main(%x: {x}, %wd: {wd}, %wp: {wp}, %s: {y}) -> {y} {{
  %y = nn.fused %x, %wd, %wp, %s : ({x}, {wd}, {wp}, {y}) -> {y} {{
  ^bb0(%a: {x}, %b: {wd}, %c: {wp}, %d: {y}):
    %dw = nn.conv2d %a, %b attributes {{group = 48 : i64, pads = array<i64: 1, 1, 1, 1>}} : ({x}, {wd}) -> {r}
    %act = nn.relu %dw : ({r}) -> {r}
    %pw = nn.conv2d %act, %c : ({r}, {wp}) -> {y}
    %sum = nn.add %pw, %d : ({y}, {y}) -> {y}
    nn.yield %sum : {y}
  }}
  func.return %y : {y}
}}"""
    experiment = kernel(src)
    assert experiment.built.generator == "depthwise_pointwise_schedule"
    assert sorted(experiment.knobs) == ["pack_ob", "wb"], experiment.knobs
    assert experiment.check() < 1e-4
    for values in ({"wb": 7}, {"wb": 2}, {"pack_ob": 16}, {"pack_ob": 8, "wb": 14}):
        assert experiment.with_knobs(**values).check() < 1e-4, values
