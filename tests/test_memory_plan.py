"""Static memory planning (runtime/memory_plan.py) and the executor that runs from the plan.

Properties, on random liveness problems and on random nn graphs (`lamina.testing.nn_graphs()`):
buffers live at the same time never overlap in the arena (an in-place pair shares its slot by
design), and `most bytes live at one step <= arena <= naive sum`. Compiled random graphs give the
interpreter's outputs, on two calls with different inputs (the arena is reused), and the arrays
a call returned are not changed by the next call.

Budget (ci profile): compiling costs ~0.1-0.5 s per kernel into a fresh cache, so the compiled
property runs 50 small graphs (~10 s).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lamina.compiler.opdef import ConstantLike
from lamina.compiler.parser import parse
from lamina.compiler.symbols import SymbolTable
from lamina.compiler.testing import nn_graphs, random_inputs
from lamina.compiler.verifier import verify
from lamina.runtime.executor import compile
from lamina.runtime.interpreter import interpret
from lamina.runtime.memory_plan import ALIGN, Buffer, MemoryPlan, plan_buffers, plan_concats, plan_steps

COMPILED_EXAMPLES = 50 if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci" else 300


@pytest.fixture(autouse=True, scope="module")
def kernel_cache(tmp_path_factory):
    previous = os.environ.get("LAMINA_CACHE_DIR")
    os.environ["LAMINA_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernels"))
    yield
    if previous is None:
        os.environ.pop("LAMINA_CACHE_DIR", None)
    else:
        os.environ["LAMINA_CACHE_DIR"] = previous


def _root(bufs, i):
    while bufs[i].view_of is not None:
        i = bufs[i].view_of
    return i


def check_plan(plan: MemoryPlan) -> None:
    """The invariants every plan keeps."""
    bufs = plan.buffers
    for i, a in enumerate(bufs):
        assert a.offset % ALIGN == 0
        assert a.offset + a.nbytes <= plan.arena_bytes or a.nbytes == 0
        if a.in_place_of is not None:
            donor = bufs[a.in_place_of]
            assert donor.last == a.first and donor.nbytes == a.nbytes and donor.offset == a.offset
            assert not a.is_view and not donor.is_view
        if a.is_view:
            # a view lies inside the buffer it is a slice of, lives as long as its root, and
            # every buffer it is in is live from the view's first step
            parent = bufs[a.view_of]
            assert a.view_offset % ALIGN == 0 and a.view_offset + a.nbytes <= parent.nbytes
            assert a.offset == parent.offset + a.view_offset
            root = bufs[_root(bufs, i)]
            assert a.last == root.last and root.first <= a.first
            j = i
            while bufs[j].view_of is not None:
                j = bufs[j].view_of
                assert bufs[j].first <= a.first and bufs[j].last >= a.last
    children = {}
    for i, b in enumerate(bufs):
        if b.is_view and b.nbytes:
            children.setdefault(b.view_of, []).append((b.view_offset, b.view_offset + b.nbytes))
    for spans in children.values():  # sibling views are disjoint
        spans.sort()
        assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:]))
    own = [i for i, b in enumerate(bufs) if not b.is_view]
    for n, i in enumerate(own):
        a = bufs[i]
        for j in own[n + 1:]:
            b = bufs[j]
            if not (a.nbytes and b.nbytes and a.overlaps_in_time(b)):
                continue
            if a.in_place_of == j or b.in_place_of == i:
                continue  # one slot, handed over at one step
            assert a.offset + a.nbytes <= b.offset or b.offset + b.nbytes <= a.offset, \
                f"{a} and {b} are live at the same time and overlap"
    # the lower bound, computed here independently: live bytes per step, an in-place output
    # counted once with its donor, a view not at all (its bytes are its root's)
    lower = 0
    for step in range(plan.num_steps + 1):
        live = [i for i in own if bufs[i].first <= step <= bufs[i].last]
        shared = {bufs[i].in_place_of for i in live} & set(live)
        lower = max(lower, sum(bufs[i].nbytes for i in live if i not in shared))
    assert lower <= plan.arena_bytes <= plan.naive_bytes
    assert plan.naive_bytes == sum(-(-bufs[i].nbytes // ALIGN) * ALIGN for i in own)


@st.composite
def liveness_problems(draw):
    """Random buffers, in-place requests (some of them impossible), and views: slices of a
    buffer (or of a view: nested) at 64-byte aligned offsets, disjoint, written at a random step."""
    steps = draw(st.integers(1, 12))
    buffers = []
    for k in range(draw(st.integers(0, 24))):
        first = draw(st.integers(0, steps - 1))
        last = draw(st.integers(first, steps))
        size = draw(st.sampled_from([0, 1, 4, 63, 64, 65, 100, 256, 1000, 4096]))
        buffers.append(Buffer(f"b{k}", size, first, last))
    views, cursor = {}, {}
    if buffers:
        for k in range(draw(st.integers(0, 8))):
            parent = draw(st.integers(0, len(buffers) - 1))
            size = draw(st.sampled_from([0, 1, 4, 64, 100, 256, 1000]))
            offset = -(-cursor.get(parent, 0) // ALIGN) * ALIGN
            if offset + size > buffers[parent].nbytes:
                continue
            cursor[parent] = offset + size
            first = draw(st.integers(0, steps - 1))
            views[len(buffers)] = (parent, offset)
            buffers.append(Buffer(f"v{k}", size, first, first))
    requests = {}
    if buffers:
        for _ in range(draw(st.integers(0, 6))):
            taker = draw(st.integers(0, len(buffers) - 1))
            requests[taker] = draw(st.integers(0, len(buffers) - 1))
    return buffers, steps, requests, views


@settings(max_examples=300, deadline=None)
@given(liveness_problems())
def test_random_liveness_problems_never_overlap(problem):
    buffers, steps, requests, views = problem
    plan = plan_buffers(buffers, steps, requests, views)
    check_plan(plan)
    for i, (parent, offset) in views.items():
        assert buffers[i].view_of == parent and buffers[i].view_offset == offset


@pytest.mark.parametrize("views, message", [
    ({1: (0, 32)}, "not a 64-byte aligned slice"),
    ({1: (0, 192)}, "not a 64-byte aligned slice"),   # runs past the end of its buffer
    ({1: (0, 0), 2: (0, 0)}, "overlap"),
    ({1: (2, 0), 2: (1, 0)}, "aligned slice|cycle"),
])
def test_malformed_views_are_refused(views, message):
    bufs = [Buffer("a", 256, 0, 2), Buffer("b", 100, 0, 0), Buffer("c", 100, 1, 1)]
    with pytest.raises(ValueError, match=message):
        plan_buffers(bufs, 3, {}, views)


def test_best_fit_reuses_the_smallest_gap_and_in_place_shares():
    bufs = [Buffer("a", 1000, 0, 1), Buffer("b", 100, 0, 3), Buffer("c", 64, 3, 4), Buffer("d", 1000, 1, 2)]
    plan = plan_buffers(bufs, 4, {3: 0})  # d takes a's memory: a dies at step 1, where d is born
    check_plan(plan)
    assert bufs[3].in_place_of == 0 and bufs[3].offset == bufs[0].offset
    assert plan.arena_bytes == 1024 + 128  # the 1000-byte slot, then b; c fits in the slot once d is dead
    assert bufs[2].offset == bufs[0].offset
    assert "ratio" in plan.report() and plan.report().count("\n") == 4


def step_ops(module):
    """The ops the executor would run as kernels, roughly: everything but constants (for
    planning only; constant subgraphs just make extra buffers)."""
    fn = SymbolTable(module).lookup("main")
    ops = [op for op in fn.entry if op.name != "func.return" and not op.has_trait(ConstantLike)]
    return ops, list(fn.entry.terminator.operands)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(nn_graphs(max_ops=12))
def test_plans_of_random_nn_graphs_never_overlap(module):
    ops, outputs = step_ops(module)
    concats = plan_concats(ops, outputs)
    free = {id(c.op) for c in concats if c.free}
    steps = [op for op in ops if id(op) not in free]
    plan, index = plan_steps(steps, outputs, concats=concats)
    check_plan(plan)
    for v in outputs:
        if v in index:
            assert plan.buffers[index[v]].last == len(steps)


@settings(max_examples=COMPILED_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(nn_graphs(max_ops=6), st.integers(0, 2 ** 16))
def test_compiled_random_graphs_run_from_the_plan(module, seed):
    model = compile(module)
    check_plan(model.memory_plan)
    first_inputs, second_inputs = random_inputs(module, seed), random_inputs(module, seed + 1)
    first = model(*first_inputs)
    kept = [a.copy() for a in first]
    second = model(*second_inputs)  # the arena is reused: `first` must not change
    for got, expected in ((first, interpret(module, *first_inputs)), (second, interpret(module, *second_inputs))):
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g.shape == e.shape and g.dtype == e.dtype
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
    for a, k in zip(first, kept):
        np.testing.assert_array_equal(a, k)


EDGES = """
func.func @main(%x: tensor<2x3xf32>, %u: tensor<4xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xi1>, tensor<2x0xf32>, tensor<2x3xf32>, tensor<4xf32>, tensor<2xf32>, tensor<2x1xf32>, tensor<2x2xf32>) {
  %k = nn.constant attributes {value = dense<[0.5, -1.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %a = nn.relu %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %b = nn.add %a, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %c = nn.less %b, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xi1>
  %d = nn.where %c, %b, %a : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %e = nn.slice %d attributes {axes = array<i64: 1>, ends = array<i64: 1>, starts = array<i64: 1>, steps = array<i64: 1>} : (tensor<2x3xf32>) -> tensor<2x0xf32>
  %n = nn.neg %d : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %s0, %s1 = nn.split %n attributes {axis = 1 : i64, sizes = array<i64: 1, 2>} : (tensor<2x3xf32>) -> (tensor<2x1xf32>, tensor<2x2xf32>)
  func.return %d, %a, %c, %e, %d, %u, %k, %s0, %s1 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xi1>, tensor<2x0xf32>, tensor<2x3xf32>, tensor<4xf32>, tensor<2xf32>, tensor<2x1xf32>, tensor<2x2xf32>
}
"""


def test_edge_cases_bool_empty_outputs_that_are_inputs_or_constants_or_read_later():
    module = parse(EDGES)
    verify(module)
    model = compile(module)
    # in place: only %d (where) over %b, which dies there; not %b over %a (an output, live to
    # the end), not the bool %c (6 bytes, not 24), not %n over %d (an output), not the split
    plan = model.memory_plan
    assert [(b.name, plan.buffers[b.in_place_of].name) for b in plan.buffers if b.in_place_of is not None] == [("%d", "%b")]
    check_plan(plan)
    rng = np.random.default_rng(0)
    runs = []
    for _ in range(2):
        x = rng.standard_normal((2, 3)).astype(np.float32)
        u = rng.standard_normal(4).astype(np.float32)
        got = model(x, u)
        for g, e in zip(got, interpret(module, x, u)):
            assert g.dtype == e.dtype and g.shape == e.shape
            np.testing.assert_array_equal(g, e)
        assert got[5] is not u and got[0] is not got[4]
        runs.append((got, [g.copy() for g in got]))
    got, kept = runs[0]
    for g, k in zip(got, kept):
        np.testing.assert_array_equal(g, k)
    got[6][:] = 7.0  # changing a returned constant does not change the model
    np.testing.assert_array_equal(model(x, u)[6], [0.5, -1.0])


CHAIN = """
func.func @main(%x: tensor<4x8xf32>, %y: tensor<8xf32>) -> tensor<4x8xf32> {
  %a = nn.add %x, %y : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %b = nn.relu %a : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %c = nn.mul %b, %b : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %s = nn.reduce_sum %c attributes {axes = array<i64: 1>, keepdims = 1 : i64} : (tensor<4x8xf32>) -> tensor<4x1xf32>
  %d = nn.sub %c, %s : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %e = nn.transpose %d attributes {perm = array<i64: 1, 0>} : (tensor<4x8xf32>) -> tensor<8x4xf32>
  %f = nn.reshape %e attributes {shape = array<i64: 4, 8>} : (tensor<8x4xf32>) -> tensor<4x8xf32>
  func.return %f : tensor<4x8xf32>
}
"""


def test_elementwise_chain_runs_in_place():
    module = parse(CHAIN)
    verify(module)
    model = compile(module)
    plan = model.memory_plan
    names = {b.name: b for b in plan.buffers}
    by_index = {i: b.name for i, b in enumerate(plan.buffers)}
    taken = {b.name: by_index.get(b.in_place_of) for b in plan.buffers}
    # relu over add's output, mul (reading %b twice) over relu's; sub over %c (same shape, dies
    # there); not: add over the input %x, transpose/reshape (not elementwise)
    assert taken == {"%a": None, "%b": "%a", "%c": "%b", "%s": None, "%d": "%c", "%e": None, "%f": None}
    assert names["%d"].offset == names["%a"].offset
    check_plan(plan)
    assert plan.arena_bytes == 2 * 128  # two 128-byte slots; the row sums fit beside the first
    rng = np.random.default_rng(1)
    for _ in range(2):
        x, y = rng.standard_normal((4, 8)).astype(np.float32), rng.standard_normal(8).astype(np.float32)
        np.testing.assert_allclose(model(x, y)[0], interpret(module, x, y)[0], rtol=1e-5, atol=1e-6)
    report = model.memory_report()
    assert "in place of %a" in report and "peak 256 bytes planned vs naive 832 bytes" in report.splitlines()[-1]


def test_a_function_returning_its_argument_needs_no_kernel():
    module = parse("""
func.func @main(%x: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>) {
  func.return %x, %x : tensor<3xf32>, tensor<3xf32>
}
""")
    model = compile(module)
    x = np.arange(3, dtype=np.float32)
    a, b = model(x)
    assert model.num_kernels == 0 and model.memory_plan.arena_bytes == 0
    np.testing.assert_array_equal(a, x)
    assert a is not x and b is not a
    assert "peak 0 bytes planned vs naive 0 bytes" in model.memory_report()


def test_fallbacks_when_tvm_cannot_share_memory_or_a_kernel_has_no_entry_point(monkeypatch):
    """Two fallback paths give the same numbers: a buffer TVM refuses to wrap (DLPack) becomes a
    device tensor of its own, values copied in and out; a kernel without a prebuilt-argument
    entry point (`function`) is called through its `run` with numpy arrays."""
    import lamina.runtime.executor as executor
    from lamina.lowering import tvm_adapter
    from lamina.lowering.build import BuiltKernel, ConstantOperandsKernel

    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((4, 8)).astype(np.float32), rng.standard_normal(8).astype(np.float32)
    module = parse(CHAIN)
    expected = interpret(module, x, y)[0]

    def refuse(array):
        raise RuntimeError("DLPack refused")

    with monkeypatch.context() as m:
        m.setattr(tvm_adapter, "shared_tensor", refuse)
        model = compile(module)
        assert all(slot.array is None for *_, slot in model._inputs)
        np.testing.assert_allclose(model(x, y)[0], expected, rtol=1e-5, atol=1e-6)

    real_build = executor.build_op

    def plain_kernels(op, *args, **kwargs):
        built = real_build(op, *args, **kwargs)
        kernel = built.kernel.kernel if isinstance(built.kernel, ConstantOperandsKernel) else built.kernel
        return BuiltKernel(kernel, built.key, built.script)

    monkeypatch.setattr(executor, "build_op", plain_kernels)
    model = compile(module)
    assert all(args is None for _, args in model._calls)
    for _ in range(2):
        np.testing.assert_allclose(model(x, y)[0], expected, rtol=1e-5, atol=1e-6)


FUSED = """
func.func @main(%x: tensor<8x8xf32>, %y: tensor<8xf32>) -> tensor<8x8xf32> {
  %r = nn.relu %x : (tensor<8x8xf32>) -> tensor<8x8xf32>
  %c = nn.fused %r, %y : (tensor<8x8xf32>, tensor<8xf32>) -> tensor<8x8xf32> {
  ^bb0(%a: tensor<8x8xf32>, %b: tensor<8xf32>):
    %t = nn.add %a, %b : (tensor<8x8xf32>, tensor<8xf32>) -> tensor<8x8xf32>
    %u = nn.tanh %t : (tensor<8x8xf32>) -> tensor<8x8xf32>
    nn.yield %u : tensor<8x8xf32>
  }
  %s = nn.reduce_sum %c attributes {axes = array<i64: 1>, keepdims = 1 : i64} : (tensor<8x8xf32>) -> tensor<8x1xf32>
  %d = nn.fused %c, %s : (tensor<8x8xf32>, tensor<8x1xf32>) -> tensor<8x8xf32> {
  ^bb0(%p: tensor<8x8xf32>, %q: tensor<8x1xf32>):
    %t = nn.sub %p, %q : (tensor<8x8xf32>, tensor<8x1xf32>) -> tensor<8x8xf32>
    %e = nn.transpose %t attributes {perm = array<i64: 1, 0>} : (tensor<8x8xf32>) -> tensor<8x8xf32>
    nn.yield %e : tensor<8x8xf32>
  }
  %g = nn.fused %d : (tensor<8x8xf32>) -> tensor<8x8xf32> {
  ^bb0(%v: tensor<8x8xf32>):
    %n = nn.neg %v : (tensor<8x8xf32>) -> tensor<8x8xf32>
    nn.yield %n : tensor<8x8xf32>
  }
  func.return %g : tensor<8x8xf32>
}
"""


def test_fused_groups_run_in_place_only_when_all_their_ops_are_elementwise():
    module = parse(FUSED)
    verify(module)
    model = compile(module)
    plan = model.memory_plan
    taken = {b.name: plan.buffers[b.in_place_of].name if b.in_place_of is not None else None for b in plan.buffers}
    # the add+tanh group over %r; the group with a transpose (it reads other indices) not over %c
    assert taken == {"%r": None, "%c": "%r", "%s": None, "%d": None, "%g": "%d"}
    check_plan(plan)
    rng = np.random.default_rng(3)
    for _ in range(2):
        x, y = rng.standard_normal((8, 8)).astype(np.float32), rng.standard_normal(8).astype(np.float32)
        np.testing.assert_allclose(model(x, y)[0], interpret(module, x, y)[0], rtol=1e-5, atol=1e-6)
