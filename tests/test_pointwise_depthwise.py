"""A 1x1 conv fused into the depthwise conv that reads it (compiler/passes/fuse.py, option
`pointwise-depthwise`, on in the CPU's -O3 pipeline; lowering/schedules/fused_conv.py): an ONNX
1x1 Conv -> activation -> depthwise Conv with stride 2 -> activation, as in MobileNetV2's
downsampling blocks, and with stride 1 and the 1x1 Conv after it (-> residual Add), its inverted
residual blocks, compiled for the CPU and checked against onnxruntime, with random channels,
sizes, padding and epilogues. Where the group fits (channels in whole 16-lane vectors; stride 2,
or stride 1 with 14 rows or more) it is one kernel with the fused schedule; the exact IR of the
grouping is in tests/filecheck/passes/fuse-pointwise-depthwise.mlir.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from fused_conv_models import activation as act
from fused_conv_models import check, model_of
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper

CI = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci"


@pytest.fixture(autouse=True, scope="module")
def kernel_cache(tmp_path_factory):
    os.environ["LAMINA_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernels"))


def block_model(rng, c, e, hw, kernel=3, pads=(1, 1, 1, 1), stride=2, activation="Clip", project=None,
                residual=False):
    """x -> 1x1 Conv to e channels (bias) -> activation -> depthwise Conv (bias) -> activation
    [-> 1x1 Conv to `project` channels (bias) [-> + x]]."""
    wp = (rng.standard_normal((e, c, 1, 1)) / np.sqrt(c)).astype(np.float32)
    wd = (rng.standard_normal((e, 1, kernel, kernel)) / kernel).astype(np.float32)
    inits = [numpy_helper.from_array(wp, "pw.weight"), numpy_helper.from_array(wd, "dw.weight"),
             *(numpy_helper.from_array(rng.standard_normal(e).astype(np.float32), f"{n}.bias") for n in ("pw", "dw"))]
    nodes = [helper.make_node("Conv", ["x", "pw.weight", "pw.bias"], ["pw"], name="pw")]
    nodes.append(helper.make_node("Conv", [act(nodes, inits, activation, "pw", "pw_act"), "dw.weight", "dw.bias"],
                                  ["dw"], name="dw", group=e, pads=list(pads), strides=[stride] * 2))
    out = act(nodes, inits, activation, "dw", "dw_act")
    if project:
        wj = (rng.standard_normal((project, e, 1, 1)) / np.sqrt(e)).astype(np.float32)
        inits += [numpy_helper.from_array(wj, "pj.weight"),
                  numpy_helper.from_array(rng.standard_normal(project).astype(np.float32), "pj.bias")]
        nodes.append(helper.make_node("Conv", [out, "pj.weight", "pj.bias"], ["pj"], name="pj"))
        out = "pj"
        if residual:
            nodes.append(helper.make_node("Add", ["pj", "x"], ["sum"], name="residual"))
            out = "sum"
    return model_of(rng, "block", nodes, inits, {"x": (1, c, *hw)}, out)


@settings(max_examples=8 if CI else 300, deadline=None)
@given(c=st.integers(1, 40), vectors=st.integers(1, 4), odd=st.booleans(),
       hw=st.tuples(st.integers(3, 30), st.integers(3, 30)), kernel=st.sampled_from([3, 5]),
       pads=st.lists(st.integers(0, 2), min_size=4, max_size=4), stride=st.sampled_from([1, 2, 3]),
       activation=st.sampled_from(["Clip", "Relu", None]), seed=st.integers(0, 2**16))
def test_pointwise_then_strided_depthwise_matches_onnxruntime(c, vectors, odd, hw, kernel, pads, stride,
                                                              activation, seed):
    if any(h + pads[i] + pads[i + 2] < kernel for i, h in enumerate(hw)):
        return  # the window does not fit: ONNX gives no output pixel
    e = 16 * vectors + (3 if odd else 0)  # channels in whole vectors, or not
    model, feeds = block_model(np.random.default_rng(seed), c, e, hw, kernel, pads, stride, activation)
    compiled = check(model, feeds)
    if stride == 2 and not odd:
        # the pair fits (fuse.py `pointwise_depthwise_fits`): one kernel, the fused schedule
        assert [k.generator for k in compiled.kernels] == ["pointwise_depthwise_schedule"]
    elif stride != 1:
        assert "pointwise_depthwise_schedule" not in [k.generator for k in compiled.kernels]


@settings(max_examples=8 if CI else 200, deadline=None)
@given(c=st.integers(1, 40), vectors=st.integers(1, 4), odd=st.booleans(), project=st.integers(1, 40),
       hw=st.tuples(st.integers(10, 30), st.integers(3, 30)), kernel=st.sampled_from([3, 5]),
       activation=st.sampled_from(["Clip", "Relu", None]), residual=st.booleans(), seed=st.integers(0, 2**16))
def test_inverted_residual_blocks_match_onnxruntime(c, vectors, odd, project, hw, kernel, activation, residual,
                                                     seed):
    e = 16 * vectors + (3 if odd else 0)  # channels in whole vectors, or not
    pad = kernel // 2
    model, feeds = block_model(np.random.default_rng(seed), c, e, hw, kernel, [pad] * 4, 1, activation,
                               project=c if residual else project, residual=residual)
    compiled = check(model, feeds)
    generators = [k.generator for k in compiled.kernels]
    if not odd and hw[0] >= 14:  # (the last 1x1 weight, at most 67 x 40, is always small enough)
        # the group fits (fuse.py `expansion_fits`, `depthwise_pointwise_fits`): one kernel
        assert generators == ["inverted_residual_schedule"]
    elif odd:
        assert "inverted_residual_schedule" not in generators


@pytest.mark.parametrize("c, e, side", [
    (16, 96, 112),   # MobileNetV2's downsampling blocks: 4.8 MB of 1x1 output, never written out
    (24, 144, 56),
    (32, 192, 28),
    (96, 576, 14),
])
def test_mobilenet_downsampling_blocks_are_one_kernel(c, e, side):
    model, feeds = block_model(np.random.default_rng(0), c, e, (side, side))
    compiled = check(model, feeds)
    assert [k.generator for k in compiled.kernels] == ["pointwise_depthwise_schedule"]
    script = compiled.kernels[0].script
    assert "_packed" in script  # the 1x1 weight packed once, at compile time
    assert "phases" not in script  # the depthwise conv reads the 1x1 output in place, channels innermost


@pytest.mark.parametrize("c, e, o, side", [
    (24, 144, 24, 56),   # MobileNetV2's inverted residual blocks: the 1x1 and depthwise outputs never written out
    (32, 192, 32, 28),
    (64, 384, 64, 14),
    (96, 576, 96, 14),
])
def test_mobilenet_inverted_residual_blocks_are_one_kernel(c, e, o, side):
    model, feeds = block_model(np.random.default_rng(0), c, e, (side, side), stride=1, project=o, residual=True)
    compiled = check(model, feeds)
    assert [k.generator for k in compiled.kernels] == ["inverted_residual_schedule"]


def test_the_fused_kernel_s_knobs_compute_the_same_at_any_value():
    """Other values of the kernel's knobs, as tuning tries them, compute what the interpreter does."""
    from lamina.lowering.experiment import kernel

    t = lambda *s: "tensor<" + "x".join(map(str, s)) + "xf32>"  # noqa: E731
    x, wp, e, wd, y = t(1, 8, 14, 14), t(48, 8, 1, 1), t(1, 48, 14, 14), t(48, 1, 3, 3), t(1, 48, 7, 7)
    src = f"""func.func @main(%x: {x}, %wp: {wp}, %wd: {wd}) -> {y} {{
  %y = nn.fused %x, %wp, %wd : ({x}, {wp}, {wd}) -> {y} {{
  ^bb0(%a: {x}, %b: {wp}, %c: {wd}):
    %pw = nn.conv2d %a, %b : ({x}, {wp}) -> {e}
    %act = nn.relu %pw : ({e}) -> {e}
    %dw = nn.conv2d %act, %c attributes {{group = 48 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>}} : ({e}, {wd}) -> {y}
    nn.yield %dw : {y}
  }}
  func.return %y : {y}
}}"""
    experiment = kernel(src)
    assert experiment.built.generator == "pointwise_depthwise_schedule"
    assert experiment.check() < 1e-4
    for values in ({"rows": 2}, {"rows": 3}, {"wb": 4}, {"pwb": 5}, {"task_vectors": 1}, {"lanes": 8},
                   {"task_vectors": 3, "rows": 1}):
        assert set(values) <= set(experiment.knobs), experiment.knobs
        assert experiment.with_knobs(**values).check() < 1e-4, values


def test_only_the_cpu_nchw_pipeline_fuses_pointwise_into_depthwise():
    from lamina.compiler.passes.presets import pipeline_for

    assert "pointwise-depthwise" in pipeline_for(3, "", "llvm")
    assert "pointwise-depthwise" not in pipeline_for(3, "", "cuda")
    assert "pointwise-depthwise" not in pipeline_for(3, "NCHW8c", "llvm")


def test_a_vector_of_channels_that_is_not_whole_vectors_is_not_a_tuning_candidate(tmp_path):
    """lanes = 6 (96 channels, as tuning drew it) made MobileNetV2's 16 -> 96 downsampling block
    read the row above its input, a segfault in the tuning worker: the generator offers only
    whole vectors or parts of one."""
    import onnx

    from lamina.lowering.schedules.builder import DecisionError
    from lamina.lowering.tuning.runner import InvalidCandidate
    from lamina.lowering.tuning.space import task_space
    from lamina.lowering.tuning.tasks import extract_tasks, load_optimized

    model, _ = block_model(np.random.default_rng(0), 16, 96, (112, 112))
    onnx.save(model, str(tmp_path / "block.onnx"))
    tasks, compiled = extract_tasks(load_optimized(str(tmp_path / "block.onnx"), 3, "", None, "llvm"), "llvm", 2)
    assert [k.generator for k in compiled.kernels] == ["pointwise_depthwise_schedule"]
    space = task_space(tasks[0], compiled.target)
    lanes = next(k for k in space.knobs if k.name == "lanes")
    assert lanes.choice and {8, 16, 32, 48} <= set(lanes.values) and not {6, 12, 24} & set(lanes.values)
    for value in (6, 12):
        with pytest.raises((InvalidCandidate, DecisionError)):
            space.candidate({**space.default, "lanes": value})
    for value in (8, 48):  # a part of one vector, whole vectors: candidates
        space.candidate({**space.default, "lanes": value})
