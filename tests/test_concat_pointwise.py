"""Conv branches and their concat fused into the 1x1 conv that reads it (compiler/passes/fuse.py,
option `concat-pointwise`, on in the CPU's -O3 pipeline; lowering/schedules/fused_conv.py
`concat_pointwise_schedule`): an ONNX input -> two or three Conv branches (1x1, 3x3, 5x5, each
keeping the size, with a bias and an activation) -> Concat -> 1x1 Conv -> activation, as in
SqueezeNet's fire module and the squeeze conv after it, compiled for the CPU and checked against
onnxruntime with random channels, sizes, paddings and epilogues. Where the group fits (every
branch's channels whole 16-lane vectors, 14 rows or more) it is one kernel with the fused
schedule; the exact IR of the grouping is in tests/filecheck/passes/fuse-concat-pointwise.mlir.
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

import lamina

CI = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci"


@pytest.fixture(autouse=True, scope="module")
def kernel_cache(tmp_path_factory):
    os.environ["LAMINA_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernels"))


def fire_model(rng, c, branches, out, hw, activation="Relu", out_activation="Relu"):
    """x -> for each (kernel, channels, top/left pad) of `branches`: Conv keeping the size (bias)
    -> activation; Concat on channels -> 1x1 Conv to `out` channels (bias) -> out_activation."""
    inits, nodes, joined = [], [], []
    for n, (kernel, channels, (top, left)) in enumerate(branches):
        w = (rng.standard_normal((channels, c, kernel, kernel)) / np.sqrt(c * kernel * kernel)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"b{n}.weight"),
                  numpy_helper.from_array(rng.standard_normal(channels).astype(np.float32), f"b{n}.bias")]
        pads = [top, left, kernel - 1 - top, kernel - 1 - left]  # the output as large as the input
        nodes.append(helper.make_node("Conv", ["x", f"b{n}.weight", f"b{n}.bias"], [f"b{n}"], name=f"b{n}",
                                      pads=pads))
        joined.append(act(nodes, inits, activation, f"b{n}", f"b{n}_act"))
    nodes.append(helper.make_node("Concat", joined, ["cat"], name="cat", axis=1))
    total = sum(channels for _, channels, _ in branches)
    w = (rng.standard_normal((out, total, 1, 1)) / np.sqrt(total)).astype(np.float32)
    inits += [numpy_helper.from_array(w, "sq.weight"),
              numpy_helper.from_array(rng.standard_normal(out).astype(np.float32), "sq.bias")]
    nodes.append(helper.make_node("Conv", ["cat", "sq.weight", "sq.bias"], ["sq"], name="sq"))
    return model_of(rng, "fire", nodes, inits, {"x": (1, c, *hw)}, act(nodes, inits, out_activation, "sq", "sq_act"))


branch = st.tuples(st.sampled_from([1, 3, 5]), st.integers(1, 4), st.booleans(), st.integers(0, 4), st.integers(0, 4))


@settings(max_examples=8 if CI else 200, deadline=None)
@given(c=st.integers(1, 40), branches=st.lists(branch, min_size=2, max_size=3), out=st.integers(1, 40),
       hw=st.tuples(st.integers(8, 30), st.integers(3, 30)), activation=st.sampled_from(["Clip", "Relu", None]),
       out_activation=st.sampled_from(["Relu", None]), seed=st.integers(0, 2**16))
def test_conv_branches_concatenated_into_a_pointwise_conv_match_onnxruntime(c, branches, out, hw, activation,
                                                                            out_activation, seed):
    shapes = [(kernel, 16 * vectors + (5 if odd else 0), (min(top, kernel - 1), min(left, kernel - 1)))
              for kernel, vectors, odd, top, left in branches]
    model, feeds = fire_model(np.random.default_rng(seed), c, shapes, out, hw, activation, out_activation)
    compiled = check(model, feeds)
    generators = [k.generator for k in compiled.kernels]
    if hw[0] >= 14 and not any(odd for _, _, odd, _, _ in branches):
        # the group fits (fuse.py `concat_pointwise_fits`): one kernel, the fused schedule
        assert generators == ["concat_pointwise_schedule"]
    else:
        assert "concat_pointwise_schedule" not in generators


@pytest.mark.parametrize("c, e, s, side", [
    (16, 64, 16, 55),   # SqueezeNet 1.1's fire modules and the next squeeze: the concat never written out
    (32, 128, 32, 27),
])
def test_squeezenet_fire_modules_are_one_kernel(c, e, s, side):
    model, feeds = fire_model(np.random.default_rng(0), c, [(1, e, (0, 0)), (3, e, (1, 1))], s, (side, side))
    compiled = check(model, feeds)
    assert [k.generator for k in compiled.kernels] == ["concat_pointwise_schedule"]
    script = compiled.kernels[0].script
    assert "_packed" in script  # the weights packed once, at compile time


def test_the_fused_kernel_s_knobs_compute_the_same_at_any_value():
    """Other values of the kernel's knobs, as tuning tries them, compute what the interpreter does."""
    from lamina.lowering.experiment import kernel

    t = lambda *s: "tensor<" + "x".join(map(str, s)) + "xf32>"  # noqa: E731
    x, w1, w3, e, cat, ws, y = (t(1, 8, 14, 15), t(32, 8, 1, 1), t(16, 8, 3, 3), t(1, 32, 14, 15), t(1, 48, 14, 15),
                                t(8, 48, 1, 1), t(1, 8, 14, 15))
    e3 = t(1, 16, 14, 15)
    src = f"""func.func @main(%x: {x}, %w1: {w1}, %w3: {w3}, %ws: {ws}) -> {y} {{
  %y = nn.fused %x, %w1, %w3, %ws : ({x}, {w1}, {w3}, {ws}) -> {y} {{
  ^bb0(%a: {x}, %b: {w1}, %c: {w3}, %d: {ws}):
    %p = nn.conv2d %a, %b : ({x}, {w1}) -> {e}
    %pr = nn.relu %p : ({e}) -> {e}
    %q = nn.conv2d %a, %c attributes {{pads = array<i64: 1, 1, 1, 1>}} : ({x}, {w3}) -> {e3}
    %qr = nn.relu %q : ({e3}) -> {e3}
    %j = nn.concat %pr, %qr attributes {{axis = 1 : i64}} : ({e}, {e3}) -> {cat}
    %s = nn.conv2d %j, %d : ({cat}, {ws}) -> {y}
    nn.yield %s : {y}
  }}
  func.return %y : {y}
}}"""
    experiment = kernel(src)
    assert experiment.built.generator == "concat_pointwise_schedule"
    assert experiment.check() < 1e-4
    for values in ({"rows": 2}, {"rows": 7}, {"wb": 4}, {"conv2d_columns": 5}, {"conv2d_vectors": 1},
                   {"conv2d_1_columns": 3}, {"lanes": 8}, {"rows": 14, "conv2d_1_columns": 1},
                   {"pack_ob": 16}, {"pack_ob_2": 16}):  # (packing knobs: the generator writes another kernel's)
        assert set(values) <= set(experiment.knobs), experiment.knobs
        assert experiment.with_knobs(**values).check() < 1e-4, values
    # a branch's weight padded past its channels (16 in a block of 32) is a kernel it does not
    # schedule: refused, never built from the default program (as tuning once did: it failed)
    with pytest.raises(lamina.LaminaError, match="concat_pointwise_schedule cannot schedule"):
        experiment.with_knobs(pack_ob_1=32)


def test_only_the_cpu_nchw_pipeline_fuses_branches_into_the_pointwise_conv():
    from lamina.compiler.passes.presets import pipeline_for

    assert "concat-pointwise" in pipeline_for(3, "", "llvm")
    assert "concat-pointwise" not in pipeline_for(3, "", "cuda")
    assert "concat-pointwise" not in pipeline_for(3, "NCHW8c", "llvm")


def test_a_branch_padded_past_its_channels_is_not_a_tuning_candidate(tmp_path):
    """A packing knob that pads a branch's weight past its channels (SqueezeNet's 27x27 fire
    module: 128 channels in a block of 256) is refused by the generator. It once was built, and
    running it wrote the padded channels past the task's buffers: the heap corrupted, the tuning
    worker aborted in malloc at a later candidate."""
    import onnx

    from lamina.lowering.tuning.runner import InvalidCandidate
    from lamina.lowering.tuning.space import task_space
    from lamina.lowering.tuning.tasks import extract_tasks, load_optimized

    model, _ = fire_model(np.random.default_rng(0), 32, [(1, 128, (0, 0)), (3, 128, (1, 1))], 32, (27, 27))
    onnx.save(model, str(tmp_path / "fire.onnx"))
    tasks, compiled = extract_tasks(load_optimized(str(tmp_path / "fire.onnx"), 3, "", None, "llvm"), "llvm", 2)
    assert [k.generator for k in compiled.kernels] == ["concat_pointwise_schedule"]
    space = task_space(tasks[0], compiled.target)
    knobs = {"rows": 16, "pack_ob_2": 32, "wb": 3, "lanes": 16, "conv2d_1_vectors": 2, "conv2d_1_columns": 8,
             "conv2d_vectors": 16, "conv2d_columns": 8, "pack_ob": 128, "pack_ob_1": 256}
    with pytest.raises(InvalidCandidate, match="cannot schedule"):
        space.candidate(knobs)
    space.candidate({**knobs, "pack_ob_1": 128})  # not padded: a candidate
