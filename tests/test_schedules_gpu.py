"""lamina's tiled GPU schedules (lowering/schedules/gpu_tiled.py) on random shapes: matmul,
gemm and batched matmul (GEMVs too), conv2d (dense, grouped, 1x1, depthwise, strided, padded,
dilated, NCHW and NCHW4c), reductions (softmax, layer_norm, reduce_*, global pooling) and fused
groups (conv + batch_norm + residual add + relu, matmul + bias + gelu, ...) built for
opencl-adreno and for cuda-on-opencl (the cuda target's schedules, its limits and tile shapes,
built by the OpenCL code generator), run on this machine's OpenCL device (PoCL) and checked
against the numpy reference. Extents are drawn so that tiles often do not divide them.

Each checks which generator wrote the kernel's schedule (the specialised one, not the default)
and that a fused group stays one device function; the zoo's convs and matmuls are checked for
the generator alone (scheduled, not built). A GPU kernel costs a schedule search, a TVM build
and an OpenCL compile (~0.5 s), so each family runs a few examples in the ci profile."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from lamina.dialects.nn.base import ints, integer, real
from lamina.lowering import targets
from lamina.lowering.build import build_op, schedule_op
from lamina.lowering.schedules import gpu, gpu_tiled
from test_lowering_cpu import make_op

CI = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci"
EXAMPLES = 4 if CI else 100
TARGETS = ["opencl-adreno", "cuda-on-opencl"]
MATMUL = {"gpu_matmul_schedule", "gpu_gemv_schedule"}
CONV = {"gpu_conv_schedule"}
REDUCTIONS = {"gpu_row_reduction_schedule", "gpu_reduce_schedule"}


@pytest.fixture(autouse=True, scope="module")
def kernel_cache(tmp_path_factory):
    before = os.environ.get("LAMINA_CACHE_DIR")
    os.environ["LAMINA_CACHE_DIR"] = str(tmp_path_factory.mktemp("gpu-schedule-kernels"))
    yield
    if before is None:
        os.environ.pop("LAMINA_CACHE_DIR", None)
    else:
        os.environ["LAMINA_CACHE_DIR"] = before


def cuda_on_opencl():
    """The cuda target's limits and name for its schedules, built for OpenCL: the registry's
    cuda-on-opencl (what `lamina run --target cuda-on-opencl` uses)."""
    target = targets.get("cuda-on-opencl")
    cuda = targets.get("cuda")
    assert (target.max_threads_per_block, target.max_shared_memory_per_block, target.schedule_name) == \
        (cuda.max_threads_per_block, cuda.max_shared_memory_per_block, cuda.name)
    return target


def target_of(name):
    return cuda_on_opencl() if name == "cuda-on-opencl" else targets.get(name)


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def run_op(op, operands, target):
    """Build `op` for `target`, run it on the OpenCL device, compare with `op.interpret`;
    returns the built kernel."""
    built = build_op(op, target)
    shapes = [tuple(r.type.shape) for r in op.results]
    got = built.kernel.run(operands, shapes, [np.float32] * len(shapes))
    expected = op.interpret(*operands)
    expected = list(expected) if isinstance(expected, (tuple, list)) else [expected]
    what = f"{op.name} {[a.shape for a in operands]} {dict(op.properties)} on {target.name}: {built.generator}"
    for g, e in zip(got, expected):
        scale = max(1.0, float(np.abs(e).max())) if e.size else 1.0
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4 * scale, err_msg=what)
    return built


def launches(built) -> int:
    return len(built.kernel.plan.launches)


# ---------------------------------------------------------------------------------------------
# matmul, gemm


@pytest.mark.parametrize("target", TARGETS)
def test_matmul_on_random_shapes(target, opencl_device):
    @settings(max_examples=EXAMPLES, deadline=None)
    @given(st.data())
    def check(data):
        draw = data.draw
        batch = draw(st.sampled_from([(), (2,), (1, 3), (2, 2)]))
        m = draw(st.one_of(st.integers(1, 4), st.integers(5, 70)))
        k, n = draw(st.integers(1, 80)), draw(st.integers(1, 70))
        rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
        b_batch = batch if draw(st.booleans()) else ()  # B broadcast over A's batch
        a, b = rand(rng, *batch, m, k), rand(rng, *b_batch, k, n)
        op = make_op("nn.matmul", [a, b], {})
        built = run_op(op, [a, b], target_of(target))
        assert built.generator in MATMUL, built.generator
        assert launches(built) == 1
    check()


@pytest.mark.parametrize("target", TARGETS)
def test_gemm_on_random_shapes(target, opencl_device):
    @settings(max_examples=EXAMPLES, deadline=None)
    @given(st.data())
    def check(data):
        draw = data.draw
        m = draw(st.one_of(st.integers(1, 3), st.integers(4, 90)))
        k, n = draw(st.integers(1, 100)), draw(st.integers(1, 90))
        ta, tb = draw(st.integers(0, 1)), draw(st.integers(0, 1))
        rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
        operands = [rand(rng, *((k, m) if ta else (m, k))), rand(rng, *((n, k) if tb else (k, n)))]
        bias = draw(st.sampled_from([None, (n,), (m, n), (1, n)]))
        if bias is not None:
            operands.append(rand(rng, *bias))
        props = {"trans_a": integer(ta), "trans_b": integer(tb), "alpha": real(draw(st.sampled_from([1.0, 0.5]))),
                 "beta": real(draw(st.sampled_from([1.0, 2.0])))}
        built = run_op(make_op("nn.gemm", operands, props), operands, target_of(target))
        assert built.generator in MATMUL, built.generator
        assert launches(built) == 1
    check()


# ---------------------------------------------------------------------------------------------
# conv2d


@st.composite
def convs(draw):
    """A conv2d: groups 1 to 4 or depthwise (with a channel multiplier), odd channel counts,
    strides, padding (asymmetric), dilation, rectangular kernels, with or without bias."""
    kind = draw(st.sampled_from(["dense", "grouped", "depthwise"]))
    if kind == "dense":
        group, c, out_c = 1, draw(st.integers(1, 20)), draw(st.integers(1, 40))
    elif kind == "grouped":
        group = draw(st.sampled_from([2, 3, 4]))
        c, out_c = group * draw(st.integers(1, 5)), group * draw(st.integers(1, 6))
    else:
        c = draw(st.integers(1, 24))
        group, out_c = c, c * draw(st.sampled_from([1, 1, 2]))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh = draw(st.integers(1, 2))
    pads = [draw(st.integers(0, 2)) for _ in range(4)]
    h = draw(st.integers(max(1, (kh - 1) * dh + 1 - pads[0] - pads[2]), 24))
    w = draw(st.integers(max(1, kw - pads[1] - pads[3]), 24))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    operands = [rand(rng, draw(st.integers(1, 2)), c, h, w), rand(rng, out_c, c // group, kh, kw)]
    if draw(st.booleans()):
        operands.append(rand(rng, out_c))
    props = {"strides": ints([sh, sw]), "pads": ints(pads), "dilations": ints([dh, 1]), "group": integer(group)}
    return operands, props


@pytest.mark.parametrize("target", TARGETS)
def test_conv2d_on_random_shapes(target, opencl_device):
    @settings(max_examples=2 * EXAMPLES, deadline=None)
    @given(convs())
    def check(case):
        operands, props = case
        built = run_op(make_op("nn.conv2d", operands, props), operands, target_of(target))
        assert built.generator in CONV, built.generator
        assert launches(built) == 1
    check()


ZOO_CONVS = {  # (n, c, h, w, out_c, k, stride, pad, group)
    "resnet 3x3 64 56": (1, 64, 56, 56, 64, 3, 1, 1, 1),
    "resnet stem 7x7/2": (1, 3, 224, 224, 64, 7, 2, 3, 1),
    "mobilenet dw 3x3/2 96 112": (1, 96, 112, 112, 96, 3, 2, 1, 96),
    "squeezenet 1x1 48->192 13": (1, 48, 13, 13, 192, 1, 1, 0, 1),
    "alexnet 11x11/4": (1, 3, 224, 224, 96, 11, 4, 2, 1),
    "alexnet grouped 5x5 g2": (1, 96, 27, 27, 256, 5, 1, 2, 2),
    "shufflenet grouped 1x1 g3": (1, 240, 28, 28, 60, 1, 1, 0, 3),
    "padded channel block 24->136": (1, 24, 9, 9, 136, 3, 1, 1, 1),
}


@pytest.mark.parametrize("case", sorted(ZOO_CONVS))
def test_zoo_sized_convs(case, opencl_device):
    n, c, h, w, oc, k, s, p, g = ZOO_CONVS[case]
    rng = np.random.default_rng(0)
    operands = [rand(rng, n, c, h, w), rand(rng, oc, c // g, k, k), rand(rng, oc)]
    props = {"strides": ints([s, s]), "pads": ints([p] * 4), "dilations": ints([1, 1]), "group": integer(g)}
    for target in TARGETS:
        built = run_op(make_op("nn.conv2d", operands, props), operands, target_of(target))
        assert built.generator in CONV and launches(built) == 1, (target, built.generator)


# ---------------------------------------------------------------------------------------------
# reductions


@st.composite
def reductions(draw):
    rows = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=2)))
    length = draw(st.sampled_from([1, 3, 10, 33, 128, 300, 1000]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    name = draw(st.sampled_from(["nn.softmax", "nn.log_softmax", "nn.layer_norm", "nn.reduce_sum", "nn.reduce_mean",
                                 "nn.reduce_max", "nn.global_avg_pool", "nn.global_max_pool"]))
    x = rand(rng, *rows, length)
    if name in ("nn.softmax", "nn.log_softmax"):
        return name, [x], {"axis": integer(-1)}
    if name == "nn.layer_norm":
        return name, [x, rand(rng, length), rand(rng, length)], {"axis": integer(len(rows))}
    if name.startswith("nn.global"):
        side = draw(st.sampled_from([1, 7, 13]))
        return name, [rand(rng, draw(st.integers(1, 2)), draw(st.integers(1, 70)), side, side + 1)], {}
    return name, [x], {"axes": ints([-1]), "keepdims": integer(draw(st.integers(0, 1)))}


@pytest.mark.parametrize("target", TARGETS)
def test_reductions_on_random_shapes(target, opencl_device):
    @settings(max_examples=2 * EXAMPLES, deadline=None)
    @given(reductions())
    def check(case):
        name, operands, props = case
        built = run_op(make_op(name, operands, props), operands, target_of(target))
        what = (name, [a.shape for a in operands], built.generator, launches(built))
        assert built.generator in REDUCTIONS and launches(built) == 1, what
    check()


# ---------------------------------------------------------------------------------------------
# fused groups: an ONNX model through the -O3 pipeline (the target's default layout, so NCHW4c
# on opencl-adreno) and the executor, against the reference interpreter


def onnx_model(nodes, inputs, output_shape, initializers):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape)],
                              [numpy_helper.from_array(v, k) for k, v in initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def compile_and_check(model: onnx.ModelProto, inputs: list, target_name: str):
    """The model at -O3 for the target, its outputs against the interpreter's (on the imported
    module); returns the compiled model."""
    from lamina.compiler.frontends.onnx import load_onnx
    from lamina.compiler.passes import PassManager
    from lamina.compiler.passes.presets import pipeline_for
    from lamina.runtime.executor import compile as compile_model
    from lamina.runtime.interpreter import interpret

    target = target_of(target_name)
    expected = interpret(load_onnx(model), *inputs)
    module = load_onnx(model)
    PassManager.parse(pipeline_for(3, target.default_layout)).run(module)
    compiled = compile_model(module, target=target)
    for g, e in zip(compiled(*inputs), expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(e).max())))
    return compiled


def anchored(compiled, anchors):
    """The built kernels of `compiled` whose op is (or fuses) one of `anchors`."""
    out = []
    for (op, *_), built in zip(compiled.steps, compiled.kernels):
        names = {o.name for o in op.inner_ops} if op.name == "nn.fused" else {op.name}
        if names & anchors:
            out.append(built)
    return out


@st.composite
def conv_blocks(draw):
    """conv -> batch_norm [-> + residual] -> relu / clip, constant weights (packed at compile
    time), channels a multiple of 4 or not, strided or not."""
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    c = draw(st.sampled_from([3, 4, 8, 12, 16]))
    depthwise = draw(st.booleans())
    out_c = c if depthwise else draw(st.sampled_from([4, 8, 12, 16, 24]))
    k, s = draw(st.sampled_from([1, 3])), draw(st.integers(1, 2))
    side = draw(st.integers(5, 17))
    residual = draw(st.booleans())
    weights = {"w": rand(rng, out_c, 1 if depthwise else c, k, k), "b": rand(rng, out_c),
               "scale": rand(rng, out_c), "shift": rand(rng, out_c), "mean": rand(rng, out_c),
               "var": np.abs(rand(rng, out_c)) + 0.5}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[k, k], strides=[s, s],
                              pads=[k // 2] * 4, group=c if depthwise else 1),
             helper.make_node("BatchNormalization", ["c", "scale", "shift", "mean", "var"], ["n"])]
    last = "n"
    out_side = (side + 2 * (k // 2) - k) // s + 1
    inputs = [("x", [1, c, side, side])]
    if residual:  # (a block's input, another kernel's output: a conv whose own input the
        nodes.append(helper.make_node("Add", ["n", "skip"], ["r"]))  # epilogue reads falls back)
        inputs.append(("skip", [1, out_c, out_side, out_side]))
        last = "r"
    nodes.append(helper.make_node(draw(st.sampled_from(["Relu", "Sigmoid"])), [last], ["y"]))
    model = onnx_model(nodes, inputs, [1, out_c, out_side, out_side], weights)
    what = f"conv {c}->{out_c} {k}x{k}/{s} on {side}x{side}{' depthwise' if depthwise else ''}, then " \
        + " ".join(node.op_type for node in nodes[1:])
    return model, [rand(rng, *shape) for _, shape in inputs], what


@pytest.mark.parametrize("target", TARGETS)
def test_fused_conv_groups_are_one_tiled_kernel(target, opencl_device):
    @settings(max_examples=EXAMPLES, deadline=None)
    @given(conv_blocks())
    def check(case):
        model, inputs, what = case
        compiled = compile_and_check(model, inputs, target)
        convs = anchored(compiled, {"nn.conv2d"})
        assert convs and all(k.generator in CONV for k in convs), (what, [k.generator for k in convs])
        assert all(len(k.kernel.plan.launches) == 1 for k in convs)
    check()


@pytest.mark.parametrize("target", TARGETS)
def test_fused_matmul_groups_are_one_tiled_kernel(target, opencl_device):
    """x @ W + b -> gelu (a transformer's FFN), x @ W + b -> relu at batch 1 (a classifier),
    then softmax, with odd sizes."""
    @settings(max_examples=EXAMPLES, deadline=None)
    @given(st.data())
    def check(data):
        draw = data.draw
        rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
        m = draw(st.sampled_from([1, 2, 16, 37]))
        k, n = draw(st.integers(8, 96)), draw(st.integers(4, 80))
        nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"]), helper.make_node("Add", ["mm", "b"], ["a"])]
        if m > 2:
            nodes += [helper.make_node("Div", ["a", "sqrt2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                      helper.make_node("Add", ["e", "one"], ["e1"]), helper.make_node("Mul", ["a", "e1"], ["g"]),
                      helper.make_node("Mul", ["g", "half"], ["act"])]
        else:
            nodes.append(helper.make_node("Relu", ["a"], ["act"]))
        nodes.append(helper.make_node("Softmax", ["act"], ["y"], axis=-1))
        weights = {"w": rand(rng, k, n), "b": rand(rng, n), "sqrt2": np.array(np.sqrt(2), np.float32),
                   "one": np.array(1, np.float32), "half": np.array(0.5, np.float32)}
        model = onnx_model(nodes, [("x", [m, k])], [m, n], weights)
        compiled = compile_and_check(model, [rand(rng, m, k)], target)
        mms = anchored(compiled, {"nn.matmul", "nn.gemm"})
        assert mms and all(x.generator in MATMUL and len(x.kernel.plan.launches) == 1 for x in mms), \
            [x.generator for x in mms]
        softmax = anchored(compiled, {"nn.softmax"})
        assert all(x.generator in REDUCTIONS and len(x.kernel.plan.launches) == 1 for x in softmax)
    check()


@pytest.mark.parametrize("target", TARGETS)
def test_matmul_of_one_output_per_thread(target, opencl_device):
    """37 rows (prime) x 8 columns: the tiling of most blocks is one output a thread, a register
    tile with no loop of its own; its write-back once vectorized the thread loop instead, and
    every output was wrong (a hypothesis find)."""
    rng = np.random.default_rng(0)
    x, w = rand(rng, 37, 9), rand(rng, 9, 8)
    model = onnx_model([helper.make_node("MatMul", ["x", "w"], ["y"])], [("x", [37, 9])], [37, 8], {"w": w})
    compiled = compile_and_check(model, [x], target)
    np.testing.assert_allclose(compiled(x)[0], x @ w, rtol=1e-5, atol=1e-5)
    assert [k.generator for k in anchored(compiled, {"nn.matmul"})] == ["gpu_matmul_schedule"]


# ---------------------------------------------------------------------------------------------
# the zoo's convs and matmuls take the tiled generators


def _kernel_ops(path, layout):
    from lamina.compiler.frontends.onnx import load_onnx
    from lamina.compiler.location import kernel_names
    from lamina.compiler.opdef import ConstantLike
    from lamina.compiler.passes import PassManager
    from lamina.compiler.passes.presets import pipeline_for
    from lamina.compiler.symbols import SymbolTable
    from lamina.lowering.build import is_constant

    module = load_onnx(str(path))
    PassManager.parse(pipeline_for(3, layout)).run(module)
    ops = [op for op in SymbolTable(module).lookup("main").entry
           if op.name != "func.return" and not op.has_trait(ConstantLike)
           and not (op.operands and all(is_constant(v) for v in op.operands))]
    return list(zip(ops, kernel_names(ops)))


ANCHORS = {"nn.conv2d": CONV, "nn.matmul": MATMUL, "nn.gemm": MATMUL}


@pytest.mark.parametrize("target", TARGETS)
def test_zoo_convs_and_matmuls_take_the_tiled_generators(zoo, target):
    """Every conv and matmul kernel of the zoo (each distinct kernel once; scheduled only: the
    zoo's models run in tests/test_gpu_zoo.py)."""
    from lamina.lowering import tvm_adapter
    from lamina.lowering.build import lower_op, prepack_for
    from lamina.lowering.te.common import compute_knobs
    from lamina.runtime.benchmark import zoo_models

    t = target_of(target)
    seen, wrong = set(), []
    for model in zoo_models():
        for op, name in _kernel_ops(zoo / f"{model}.onnx", t.default_layout):
            inner = {o.name for o in op.inner_ops} if op.name == "nn.fused" else {op.name}
            wanted = set().union(*(ANCHORS.get(n, set()) for n in inner))
            if not wanted:
                continue
            with compute_knobs({}, t.family):
                key = tvm_adapter.script(lower_op(op, prepack_for(op)))
            if key in seen:
                continue
            seen.add(key)
            generator = schedule_op(op, t, name).generator
            if generator not in wanted:
                wrong.append(f"{model}: {name}: {generator}")
    assert seen and not wrong, wrong


# ---------------------------------------------------------------------------------------------
# the dispatch


def test_cuda_and_cuda_on_opencl_schedules_are_the_same():
    """cuda-on-opencl checks the cuda target's schedules: the same program, bar the target."""
    rng = np.random.default_rng(0)
    a, b = rand(rng, 64, 48), rand(rng, 48, 40)
    x, w = rand(rng, 1, 8, 12, 12), rand(rng, 16, 8, 3, 3)
    conv = {"strides": ints([1, 1]), "pads": ints([1] * 4), "dilations": ints([1, 1]), "group": integer(1)}
    for op in (make_op("nn.matmul", [a, b], {}), make_op("nn.conv2d", [x, w], conv)):
        ours = schedule_op(op, targets.get("cuda"))
        theirs = schedule_op(op, cuda_on_opencl())
        assert ours.generator == theirs.generator != "default_gpu_schedule"
        assert str(ours.program).replace('"cuda"', "T") == str(theirs.program).replace('"cuda-on-opencl"', "T")


def test_a_generator_that_fails_falls_back_to_the_default(monkeypatch, opencl_device):
    """NotThisShape, or any error TVM raises on a shape not foreseen: the default schedules it."""
    def refuses(b, name):
        raise RuntimeError("a TVM error on a shape not foreseen")
    monkeypatch.setattr(gpu, "gpu_matmul_schedule", refuses)
    monkeypatch.setattr(gpu, "SELF_CHECKED", (refuses, gpu_tiled.gpu_conv_schedule))
    rng = np.random.default_rng(1)
    a, b = rand(rng, 20, 30), rand(rng, 30, 10)
    built = run_op(make_op("nn.matmul", [a, b], {}), [a, b], targets.get("opencl-adreno"))
    assert built.generator == "default_gpu_schedule"


def test_tiles_respect_the_targets_limits():
    """The shared tiles and threads the tiled generators choose fit each target (TVM checks
    neither: lowering/device_build.py does, and a trial that does not fit is not taken)."""
    rng = np.random.default_rng(2)
    x, w = rand(rng, 1, 64, 30, 30), rand(rng, 128, 64, 5, 5)
    op = make_op("nn.conv2d", [x, w], {"strides": ints([1, 1]), "pads": ints([2] * 4),
                                       "dilations": ints([1, 1]), "group": integer(1)})
    from lamina.lowering.device_build import build_device_kernel

    for name in ("opencl-adreno", "cuda-on-opencl", "cuda"):
        target = target_of(name)
        scheduled = schedule_op(op, target)
        assert scheduled.generator in CONV
        plan = build_device_kernel(scheduled.scheduled, target)
        assert all(launch.threads_per_block <= target.max_threads_per_block for launch in plan.launches)
        assert all(r["shared_bytes"] <= target.max_shared_memory_per_block for r in plan.resources.values())
