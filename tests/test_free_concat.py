"""Free concats (runtime/memory_plan.py `plan_concats`, runtime/executor.py): a standalone
`nn.concat` whose inputs are contiguous, 64-byte aligned slices of its output, each produced by a
kernel for this concat only, costs nothing: each producer writes its slice of the concat's output
and the concat is not built or run. Everything else is copied, as before, and the memory report
says why. Outputs are identical to the copying version (`free_concats=False`) and match the
interpreter; a random-chain property checks the same on many small graphs.

Models are MLIR text with hex weights (`fire`, a SqueezeNet fire module: squeeze 1x1 + relu,
expand 1x1 + relu and expand 3x3 + relu, concat on channels).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lamina.compiler.parser import parse
from lamina.compiler.verifier import verify
from lamina.runtime.executor import compile
from lamina.runtime.interpreter import interpret

from test_memory_plan import check_plan, kernel_cache  # noqa: F401  (the module's own kernel cache folder)

CHAIN_EXAMPLES = 25 if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci" else 200


def T(*shape) -> str:
    return f"tensor<{'x'.join(map(str, shape))}xf32>"


def const(name: str, array) -> str:
    a = np.asarray(array, np.float32)
    t = T(*a.shape)
    return f'  %{name} = nn.constant attributes {{value = dense<"0x{a.astype("<f4").tobytes().hex().upper()}"> : {t}}} : () -> {t}\n'


def conv(lines: list, rng, name: str, x: str, cin: int, cout: int, k: int, hw: int, relu: bool = True) -> str:
    """conv2d (same padding) + bias [+ relu] of %x (1 x cin x hw x hw); returns the result's name."""
    lines.append(const(f"w_{name}", rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)))
    lines.append(const(f"b_{name}", rng.standard_normal(cout) * 0.1))
    p = k // 2
    out = f"{name}c" if relu else name
    lines.append(f"  %{out} = nn.conv2d %{x}, %w_{name}, %b_{name} attributes {{pads = array<i64: {p}, {p}, {p}, {p}>}} "
                 f": ({T(1, cin, hw, hw)}, {T(cout, cin, k, k)}, {T(cout)}) -> {T(1, cout, hw, hw)}\n")
    if relu:
        lines.append(f"  %{name} = nn.relu %{out} : ({T(1, cout, hw, hw)}) -> {T(1, cout, hw, hw)}\n")
    return name


def fire(cin=16, squeeze=8, e1=16, e3=16, hw=6, blocks=1, seed=0) -> str:
    """`blocks` SqueezeNet fire modules in a row; the last concat is the model's output."""
    rng = np.random.default_rng(seed)
    lines, x, c = [], "x", cin
    for b in range(blocks):
        s = conv(lines, rng, f"s{b}", x, c, squeeze, 1, hw)
        a = conv(lines, rng, f"e1_{b}", s, squeeze, e1, 1, hw)
        d = conv(lines, rng, f"e3_{b}", s, squeeze, e3, 3, hw)
        lines.append(f"  %cat{b} = nn.concat %{a}, %{d} attributes {{axis = 1 : i64}} : "
                     f"({T(1, e1, hw, hw)}, {T(1, e3, hw, hw)}) -> {T(1, e1 + e3, hw, hw)}\n")
        x, c = f"cat{b}", e1 + e3
    return (f"func.func @main(%x: {T(1, cin, hw, hw)}) -> {T(1, c, hw, hw)} {{\n" + "".join(lines)
            + f"  func.return %{x} : {T(1, c, hw, hw)}\n}}\n")


def _inputs(module, seed=0):
    from lamina.compiler.testing import random_inputs

    return random_inputs(module, seed)


def check_against_copy_and_interpreter(module, *, layout: str = "", opt_level: int = 0):
    """Compile `module` with free concats and without; both give the interpreter's numbers and
    exactly each other's, on two calls (the arena is reused). Returns (free, copying) models."""
    from lamina.compiler.passes import run_pipeline
    from lamina.compiler.passes.presets import pipeline_for

    verify(module)
    optimized = module.clone()
    run_pipeline(optimized, pipeline_for(opt_level, layout))
    free, copying = compile(optimized), compile(optimized, free_concats=False)
    check_plan(free.memory_plan)
    check_plan(copying.memory_plan)
    for seed in (0, 1):
        inputs = _inputs(module, seed)
        expected = interpret(module, *inputs)
        ours, theirs = free(*inputs), copying(*inputs)
        for e, a, b in zip(expected, ours, theirs):
            assert a.shape == e.shape and a.dtype == e.dtype
            np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-5)
    return free, copying


def _free(model) -> list[str]:
    return [c.name for c in model.concats if c.free]


def _copied(model) -> dict[str, str]:
    return {c.name: c.reason for c in model.concats if not c.free}


# ---------------------------------------------------------------------------------------------
# the models


@pytest.mark.parametrize("opt_level", [0, 3])
def test_fire_modules_concat_for_free(opt_level):
    module = parse(fire(blocks=2))
    free, copying = check_against_copy_and_interpreter(module, opt_level=opt_level)
    assert _free(free) == ["%cat0", "%cat1"] and _copied(free) == {}
    assert free.num_kernels == copying.num_kernels - 2  # the concat steps are gone
    assert not any(op.name == "nn.concat" for op, *_ in free.steps)
    plan = free.memory_plan
    views = {b.name: b for b in plan.buffers if b.is_view}
    cat0 = next(b for b in plan.buffers if b.name == "%cat0")
    e1, e3 = views["%e1_0"], views["%e3_0"]
    assert (e1.offset, e3.offset) == (cat0.offset, cat0.offset + 16 * 36 * 4)
    assert plan.arena_bytes < copying.memory_plan.arena_bytes  # no second copy of the inputs
    report = free.memory_report(buffers=False)
    assert "concat %cat0 (1x32x6x6 f32): free, its producers write %e1_0 at +0, %e3_0 at +2304" in report
    assert "concats: 2 free, 0 copied" in report.splitlines()[-1]
    assert "view of %cat0 at +2304" in free.memory_report()


def test_nchw8c_concat_on_the_channel_blocks_is_free():
    """NCHW8c (1 x C/8 x H x W x 8): the blocks before axis 1 are one image, so each input is a
    contiguous slice. The fire module's last concat is fused with the layout transform back to
    NCHW (not a standalone concat); the first is free."""
    module = parse(fire(blocks=2))
    free, copying = check_against_copy_and_interpreter(module, layout="NCHW8c", opt_level=3)
    concats = [c for c in free.concats if c.free]
    assert concats and all(len(c.op.results[0].type.shape) == 5 for c in concats)
    assert free.num_kernels == copying.num_kernels - len(concats)


def test_unaligned_offsets_copy_and_stay_right():
    """3 channels of 5x5 f32: the second input starts at byte 300, which TVM cannot view."""
    module = parse(fire(cin=4, squeeze=4, e1=3, e3=5, hw=5))
    free, copying = check_against_copy_and_interpreter(module)
    assert _free(free) == []
    assert _copied(free) == {"%cat0": "input %e3_0 would start at byte 300 of the output, not a multiple "
                                      "of 64 (TVM needs 64-byte aligned views)"}
    assert "not a multiple of 64" in free.memory_report(buffers=False)
    assert free.num_kernels == copying.num_kernels


def _special_module() -> str:
    """Every reason a concat is copied, and the cases that are free, in one model (each 16x4x4
    f32 input is 1 KiB, so offsets are aligned unless the reason is alignment)."""
    return f"""
func.func @main(%x: {T(1, 16, 4, 4)}, %y: {T(1, 16, 4, 4)}) -> ({RESULTS}) {{
  %a = nn.relu %x : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %b = nn.neg %y : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %in = nn.concat %a, %b, %x attributes {{axis = 1 : i64}} : ({T(1, 16, 4, 4)}, {T(1, 16, 4, 4)}, {T(1, 16, 4, 4)}) -> {T(1, 48, 4, 4)}
  %c = nn.tanh %x : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %d = nn.sigmoid %y : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %e = nn.abs %x : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %shared = nn.concat %d, %e attributes {{axis = 1 : i64}} : ({T(1, 16, 4, 4)}, {T(1, 16, 4, 4)}) -> {T(1, 32, 4, 4)}
  %u = nn.add %e, %c : ({T(1, 16, 4, 4)}, {T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %f = nn.exp %y : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %g = nn.erf %x : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %out = nn.concat %f, %g attributes {{axis = -3 : i64}} : ({T(1, 16, 4, 4)}, {T(1, 16, 4, 4)}) -> {T(1, 32, 4, 4)}
  %h = nn.relu %y : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %twice = nn.concat %h, %h attributes {{axis = 1 : i64}} : ({T(1, 16, 4, 4)}, {T(1, 16, 4, 4)}) -> {T(1, 32, 4, 4)}
  %p = nn.tanh %x : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %q = nn.erf %y : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %pr = nn.reshape %p attributes {{shape = array<i64: 2, 8, 16>}} : ({T(1, 16, 4, 4)}) -> {T(2, 8, 16)}
  %qr = nn.reshape %q attributes {{shape = array<i64: 2, 8, 16>}} : ({T(1, 16, 4, 4)}) -> {T(2, 8, 16)}
  %strided = nn.concat %pr, %qr attributes {{axis = 1 : i64}} : ({T(2, 8, 16)}, {T(2, 8, 16)}) -> {T(2, 16, 16)}
  %v = nn.sqrt %e : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %w = nn.relu %c : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %vr = nn.reshape %v attributes {{shape = array<i64: 2, 8, 16>}} : ({T(1, 16, 4, 4)}) -> {T(2, 8, 16)}
  %wr = nn.reshape %w attributes {{shape = array<i64: 2, 8, 16>}} : ({T(1, 16, 4, 4)}) -> {T(2, 8, 16)}
  %rows = nn.concat %vr, %wr attributes {{axis = 0 : i64}} : ({T(2, 8, 16)}, {T(2, 8, 16)}) -> {T(4, 8, 16)}
  %k = nn.constant attributes {{value = dense<0.5> : {T(1, 16, 4, 4)}}} : () -> {T(1, 16, 4, 4)}
  %m = nn.neg %x : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %withk = nn.concat %m, %k attributes {{axis = 1 : i64}} : ({T(1, 16, 4, 4)}, {T(1, 16, 4, 4)}) -> {T(1, 32, 4, 4)}
  %n = nn.exp %x : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %o = nn.neg %n : ({T(1, 16, 4, 4)}) -> {T(1, 16, 4, 4)}
  %returned = nn.concat %o, %n attributes {{axis = 1 : i64}} : ({T(1, 16, 4, 4)}, {T(1, 16, 4, 4)}) -> {T(1, 32, 4, 4)}
  func.return %in, %shared, %u, %out, %twice, %strided, %rows, %withk, %n, %returned : {RESULTS}
}}
"""


RESULTS = ", ".join([T(1, 48, 4, 4), T(1, 32, 4, 4), T(1, 16, 4, 4), T(1, 32, 4, 4), T(1, 32, 4, 4), T(2, 16, 16),
                     T(4, 8, 16), T(1, 32, 4, 4), T(1, 16, 4, 4), T(1, 32, 4, 4)])


def test_each_reason_to_copy_and_the_free_cases():
    module = parse(_special_module())
    free, copying = check_against_copy_and_interpreter(module)
    assert _free(free) == ["%out", "%rows"]  # a model output itself; an axis-0 concat of 2x8x16
    reasons = _copied(free)
    assert reasons.keys() == {"%in", "%shared", "%twice", "%strided", "%withk", "%returned"}
    assert "input %x is a model input" in reasons["%in"]
    assert "input %e has other users (nn.add, nn.sqrt)" in reasons["%shared"]
    assert "input %h is read twice" in reasons["%twice"]
    assert "not contiguous" in reasons["%strided"] and "dimensions 2 before axis 1" in reasons["%strided"]
    assert "a constant or computed at compile time" in reasons["%withk"]
    assert "input %n is a model output" in reasons["%returned"]
    assert free.num_kernels == copying.num_kernels - 2
    report = free.memory_report(buffers=False)
    for name, reason in reasons.items():
        assert f"concat {name} (" in report and reason in report
    assert "concats: 2 free, 6 copied" in report.splitlines()[-1]


def test_a_concat_of_concats_nests():
    """concat(concat(a, b), c): the inner concat's output is itself a view of the outer one's,
    and a and b views of that: three producers write one buffer, no concat runs."""
    t = T(1, 16, 4, 4)
    module = parse(f"""
func.func @main(%x: {t}) -> {T(1, 48, 4, 4)} {{
  %a = nn.relu %x : ({t}) -> {t}
  %b = nn.neg %x : ({t}) -> {t}
  %ab = nn.concat %a, %b attributes {{axis = 1 : i64}} : ({t}, {t}) -> {T(1, 32, 4, 4)}
  %c = nn.tanh %x : ({t}) -> {t}
  %abc = nn.concat %ab, %c attributes {{axis = 1 : i64}} : ({T(1, 32, 4, 4)}, {t}) -> {T(1, 48, 4, 4)}
  func.return %abc : {T(1, 48, 4, 4)}
}}
""")
    free, copying = check_against_copy_and_interpreter(module)
    assert _free(free) == ["%ab", "%abc"] and free.num_kernels == 3 and copying.num_kernels == 5
    plan = free.memory_plan
    by_name = {b.name: b for b in plan.buffers}
    root = by_name["%abc"]
    assert not root.is_view and by_name["%ab"].view_of == plan.buffers.index(root)
    assert [by_name[n].offset - root.offset for n in ("%a", "%b", "%c")] == [0, 1024, 2048]
    assert plan.arena_bytes == 3072


def test_an_elementwise_reader_of_a_free_concat_runs_in_place_over_it():
    t, t2 = T(1, 16, 16), T(1, 32, 16)
    module = parse(f"""
func.func @main(%x: {t}) -> {t2} {{
  %a = nn.relu %x : ({t}) -> {t}
  %b = nn.neg %x : ({t}) -> {t}
  %c = nn.concat %a, %b attributes {{axis = 1 : i64}} : ({t}, {t}) -> {t2}
  %y = nn.tanh %c : ({t2}) -> {t2}
  func.return %y : {t2}
}}
""")
    free, copying = check_against_copy_and_interpreter(module)
    plan = free.memory_plan
    taken = {b.name: plan.buffers[b.in_place_of].name for b in plan.buffers if b.in_place_of is not None}
    assert taken == {"%y": "%c"} and plan.arena_bytes == 2048  # the whole model in one 2 KiB slot
    assert copying.memory_plan.arena_bytes == 4096


def test_a_view_tvm_refuses_after_planning_is_copied_by_the_executor(monkeypatch):
    """The executor's safety net: planning found the dtype shareable, but TVM refused one view
    (here: every 1x16x6x6 array); the producers then write tensors of their own and the concat
    is done by a numpy copy where it stood. Same numbers."""
    from lamina.lowering import tvm_adapter

    module = parse(fire())
    real = tvm_adapter.shared_tensor

    def refuse_some(array):
        if array.shape == (1, 16, 6, 6):
            raise RuntimeError("DLPack refused")
        return real(array)

    monkeypatch.setattr(tvm_adapter, "shared_tensor", refuse_some)
    free, copying = check_against_copy_and_interpreter(module)
    assert _free(free) == ["%cat0"]
    assert sum(args is None for _, args in free._calls) == 1  # the copy step


def test_a_dtype_tvm_cannot_share_is_copied(monkeypatch):
    import lamina.runtime.executor as executor

    monkeypatch.setattr(executor, "_can_share", lambda dtype: False)
    free, copying = check_against_copy_and_interpreter(parse(fire()))
    assert _copied(free) == {"%cat0": "TVM cannot share float32 memory (DLPack)"}
    assert free.num_kernels == copying.num_kernels


def test_compile_memory_report_says_which_concats_are_free(tmp_path, capsys):
    from lamina.compiler.cli import main

    path = tmp_path / "fire.mlir"
    path.write_text(fire(blocks=2))
    assert main(["compile", str(path), "-O0", "--memory-report"]) == 0
    out = capsys.readouterr().out
    assert "concat %cat0 (1x32x6x6 f32): free, its producers write %e1_0 at +0, %e3_0 at +2304" in out
    assert "concats: 2 free, 0 copied" in out
    path.write_text(fire(cin=4, squeeze=4, e1=3, e3=5, hw=5))
    assert main(["compile", str(path), "-O0", "--memory-report"]) == 0
    out = capsys.readouterr().out
    assert "concat %cat0 (1x8x5x5 f32): copied, input %e3_0 would start at byte 300" in out


# ---------------------------------------------------------------------------------------------
# random chains with concats


UNARY = ["relu", "neg", "tanh", "abs", "sigmoid"]


@st.composite
def concat_chains(draw):
    """A random chain of blocks on 1 x C x S (S = 16 floats: every channel is 64 bytes, so
    offsets are aligned; or S = 3: unaligned): each block makes 1-3 pieces (unary ops of the
    running value, or of an earlier piece: other users), concatenates them, now and then with
    the model input, a piece twice, or the previous concat (nested: the pieces then read the
    model input), on axis 1 (or -2, the same), and maybe returns a piece (a model output) or the
    concat itself."""
    s = draw(st.sampled_from([16, 3]))
    c0 = draw(st.sampled_from([1, 2, 4]))
    lines, results, count = [], [], [0]
    values = {"x": c0}  # name -> channels

    def fresh(prefix):
        count[0] += 1
        return f"{prefix}{count[0]}"

    x = "x"
    for _ in range(draw(st.integers(1, 4))):
        extra = draw(st.sampled_from(["none", "none", "input", "twice", "returned", "nest"]))
        base = "x" if extra == "nest" else x  # nest: the previous concat is read by this one only
        pieces = []
        for _ in range(draw(st.integers(1, 3))):
            src = draw(st.sampled_from([base] + pieces)) if pieces and draw(st.booleans()) else base
            name = fresh("p")
            op = draw(st.sampled_from(UNARY))
            ch = values[src]
            lines.append(f"  %{name} = nn.{op} %{src} : ({T(1, ch, s)}) -> {T(1, ch, s)}")
            values[name] = ch
            pieces.append(name)
        operands = list(pieces)
        if extra == "input":
            operands.insert(draw(st.integers(0, len(operands))), "x")
        elif extra == "twice":
            operands.append(operands[0])
        elif extra == "returned":
            results.append(pieces[-1])
        elif extra == "nest" and x != "x":
            operands.insert(draw(st.integers(0, len(operands))), x)
        axis = draw(st.sampled_from([1, -2]))
        name = fresh("cat")
        total = sum(values[v] for v in operands)
        lines.append(f"  %{name} = nn.concat {', '.join('%' + v for v in operands)} attributes {{axis = {axis} : i64}} : "
                     f"({', '.join(T(1, values[v], s) for v in operands)}) -> {T(1, total, s)}")
        values[name] = total
        x = name
        if draw(st.integers(0, 3)) == 0:
            results.append(name)
    if x not in results:
        results.append(x)
    return (f"func.func @main(%x: {T(1, c0, s)}) -> ({', '.join(T(1, values[r], s) for r in results)}) {{\n"
            + "\n".join(lines)
            + f"\n  func.return {', '.join('%' + r for r in results)} : {', '.join(T(1, values[r], s) for r in results)}\n}}\n")


@settings(max_examples=CHAIN_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(concat_chains())
def test_random_chains_with_concats_keep_their_results(text):
    module = parse(text)
    free, copying = check_against_copy_and_interpreter(module)
    assert free.num_kernels == copying.num_kernels - len(_free(free))

