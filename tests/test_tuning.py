"""Tuning (lowering/tuning/): tasks, search space and candidates, records, the runner, the tuner
and the CLI (`lamina tune`, `compile|run --records`).

Models are tiny (built here with onnx.helper) or the zoo's mlp, and tuning runs take a few trials,
so the file stays within CI's budget; the worker process that measures costs ~1.5 s per start.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import lamina  # noqa: E402
from lamina.compiler.cli import main  # noqa: E402
from lamina.lowering import targets, tvm_adapter  # noqa: E402
from lamina.lowering.build import prepack_for  # noqa: E402
from lamina.lowering.schedules import ScheduleError  # noqa: E402
from lamina.lowering.te.common import compute_knobs  # noqa: E402
from lamina.lowering.tuning import records as rec  # noqa: E402
from lamina.lowering.tuning.records import Record, append, best_programs, knob_key, read_records  # noqa: E402
from lamina.lowering.tuning.runner import BuildFailed, InvalidCandidate, Runner, build_candidate  # noqa: E402
from lamina.lowering.tuning.space import knob_values, task_space, unrolled_knobs  # noqa: E402
from lamina.lowering.tuning.tasks import extract_tasks, load_optimized  # noqa: E402
from lamina.lowering.tuning.tuner import tune  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def kernel_cache(tmp_path_factory):
    """A kernel cache of this module's own, so a test can see what tuning adds to it."""
    old = os.environ.get("LAMINA_CACHE_DIR")
    path = tmp_path_factory.mktemp("tuning-kernels")
    os.environ["LAMINA_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("LAMINA_CACHE_DIR", None)
    else:
        os.environ["LAMINA_CACHE_DIR"] = old


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def layers_model(tmp_path_factory) -> Path:
    """x[16, 32] -> three identical (MatMul 32x32, Relu) layers -> MatMul 32x8: the three
    layers are one task of weight 3 (the same compute; only their weights differ)."""
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(3):
        inits.append(helper.make_tensor(f"w{i}", TensorProto.FLOAT, [32, 32], rng.standard_normal(32 * 32).tolist()))
        nodes += [helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"], name=f"mm{i}"),
                  helper.make_node("Relu", [f"m{i}"], [f"r{i}"], name=f"relu{i}")]
        prev = f"r{i}"
    inits.append(helper.make_tensor("wo", TensorProto.FLOAT, [32, 8], rng.standard_normal(32 * 8).tolist()))
    nodes.append(helper.make_node("MatMul", [prev, "wo"], ["y"], name="out"))
    graph = helper.make_graph(nodes, "layers", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [16, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [16, 8])], inits)
    return _save(graph, tmp_path_factory.mktemp("models") / "layers.onnx")


@pytest.fixture(scope="module")
def conv_model(tmp_path_factory) -> Path:
    rng = np.random.default_rng(1)
    w = helper.make_tensor("w", TensorProto.FLOAT, [16, 8, 3, 3], rng.standard_normal(16 * 8 * 9).tolist())
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 10, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 10, 10])], [w])
    return _save(graph, tmp_path_factory.mktemp("models") / "conv.onnx")


@pytest.fixture(scope="module")
def winograd_model(tmp_path_factory) -> Path:
    """A conv Winograd computes (te/winograd.py): 3x3, stride 1, 16 channels in and out."""
    rng = np.random.default_rng(2)
    w = helper.make_tensor("w", TensorProto.FLOAT, [16, 16, 3, 3], (0.1 * rng.standard_normal(16 * 16 * 9)).tolist())
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 10, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 10, 10])], [w])
    return _save(graph, tmp_path_factory.mktemp("models") / "winograd.onnx")


def _tasks(path, target="llvm"):
    return extract_tasks(load_optimized(str(path)), target)


# ---------------------------------------------------------------------------------------------
# tasks


def test_tasks_of_the_zoo_mlp_cover_its_kernels(zoo):
    tasks, model = _tasks(zoo / "mlp.onnx")
    assert sum(t.weight for t in tasks) == model.num_kernels
    assert [n for t in tasks for n in t.kernels] == [k.name for k in model.kernels]
    assert len({t.key for t in tasks}) == len(tasks)
    assert all(t.flops is not None and t.library is not None and t.library.exists() for t in tasks)


def test_identical_layers_are_one_task_weighted_by_their_count(layers_model):
    tasks, model = _tasks(layers_model)
    weights = sorted(t.weight for t in tasks)
    assert weights == [1, 3] and model.num_kernels == 4
    shared = next(t for t in tasks if t.weight == 3)
    assert shared.kernels == [k.name for k in model.kernels[:3]]
    assert shared.flops == 2 * 16 * 32 * 32 + 16 * 32  # the matmul and the relu


def test_the_task_key_is_the_computes_and_the_targets_not_the_schedules(layers_model):
    (a, *_), model = _tasks(layers_model)
    (b, *_), _ = extract_tasks(load_optimized(str(layers_model)), targets.get("llvm", threads=1))
    assert a.key != b.key  # another thread count is another target
    # a candidate of the task (another schedule) keeps its key: the key is of the unscheduled compute
    from lamina.lowering.tuning.tasks import op_task_key

    assert op_task_key(a.op, model.target) == a.key


# ---------------------------------------------------------------------------------------------
# the space and its candidates


def test_knob_values_near_the_default_include_it():
    assert knob_values(32, 256) == (2, 4, 8, 16, 32, 64, 128)  # not 256: an outer loop of 1
    assert knob_values(256, 256)[-1] == 256
    assert 7 in knob_values(4, 784) and 4 in knob_values(4, 784)
    assert knob_values(1, 1) == (1,)
    assert 1 not in knob_values(14, 56) and 1 not in knob_values(2, 16) and 1 in knob_values(1, 16)
    assert all(v <= 10 for v in knob_values(2, 10))


def _run_candidate(task, model, program, tmp: Path):
    """The outputs of `program` (a candidate of `task`) built and run here on the model's
    constants and fixed random inputs; None when the verifier or the compute refuses it."""
    library = tmp / f"k{len(list(tmp.iterdir()))}.so"  # a new name each time: dlopen caches by path
    try:
        build_candidate(task, program, model.target, library)
    except (InvalidCandidate, ScheduleError):
        return None
    with compute_knobs(program.knobs(), model.target.family):
        prepacks = {p.index: p for p in prepack_for(task.op)}
    rng = np.random.default_rng(0)
    inputs = []
    for i, v in enumerate(task.op.operands):
        a = model.constants.get(v)
        a = np.asarray(a) if a is not None else rng.standard_normal(v.type.shape).astype(np.float32)
        inputs.append(prepacks[i].pack(a) if i in prepacks else a)
    shapes = [tuple(r.type.shape) for r in task.op.results]
    return tvm_adapter.load(str(library)).run(inputs, shapes, ["float32"] * len(shapes))


def _check_any_assignment(path, data, tmp_path_factory):
    tasks, model = _tasks(path)
    task = max(tasks, key=lambda t: t.flops)
    space = task_space(task, model.target)
    assert space.knobs, "the anchor kernel has knobs to search"
    tmp = tmp_path_factory.mktemp("cand")
    default = _run_candidate(task, model, space.program, tmp)
    assignment = {k.name: data.draw(st.one_of(st.sampled_from(k.values), st.integers(1, 2 * (k.extent or 64))),
                                    label=k.name) for k in space.knobs}
    try:
        got = _run_candidate(task, model, space.candidate(assignment), tmp)
    except InvalidCandidate:
        return  # a choice given a value its generator does not offer: refused, never built
    except BuildFailed:
        return  # TVM refused it: a failed record in a tuning run, never a crash
    if got is not None:
        for a, b in zip(got, default):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@settings(max_examples=8)
@given(data=st.data())
def test_a_matmul_candidate_is_refused_or_computes_the_same(layers_model, tmp_path_factory, data):
    _check_any_assignment(layers_model, data, tmp_path_factory)


@settings(max_examples=8)
@given(data=st.data())
def test_a_conv_candidate_is_refused_or_computes_the_same(conv_model, tmp_path_factory, data):
    _check_any_assignment(conv_model, data, tmp_path_factory)


@settings(max_examples=8)
@given(data=st.data())
def test_a_winograd_candidate_is_refused_or_computes_the_same(winograd_model, tmp_path_factory, data):
    _check_any_assignment(winograd_model, data, tmp_path_factory)


def test_every_value_of_every_row_reduction_knob_computes_the_same(zoo, tmp_path_factory):
    """The transformer block's softmax and layer_norm (reduce.py): each value the space offers
    for each knob (never as many lanes as the row, which would leave no loop of steps:
    `knob_values` leaves that out), the others at their defaults, builds and gives the default's
    outputs."""
    tasks, model = _tasks(zoo / "transformer_block.onnx")
    rows = [t for t in tasks if t.generator == "row_reduction_schedule"]
    assert {t.name for t in rows} >= {"attention.softmax", "attention.norm"}
    tmp = tmp_path_factory.mktemp("rows")
    for task in rows:
        space = task_space(task, model.target)
        assert {k.name for k in space.knobs} >= {k for k in space.program.knobs() if k.startswith("lanes_")}
        default = _run_candidate(task, model, space.program, tmp)
        for knob in space.knobs:
            for value in knob.values:
                got = _run_candidate(task, model, space.candidate({knob.name: value}), tmp)
                assert got is not None, (task.name, knob.name, value)
                for a, b in zip(got, default):
                    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=f"{task.name} {knob.name}={value}")


@pytest.mark.parametrize("which", ["matmul", "conv", "winograd"])
def test_every_knob_has_a_value_besides_its_default_that_builds_and_computes_the_same(
        which, layers_model, conv_model, winograd_model, tmp_path_factory):
    """The hypothesis tests above pass whether a candidate is refused or runs; this one makes
    sure the space is not all refusals: for each knob, its first value other than the default
    (the others at their defaults) that builds gives the default's outputs, and there is one.
    A Winograd conv's tile is a choice (2 or 4); its channel vector and tile splits are not
    knobs of the space (the compute fixes them)."""
    tasks, model = _tasks({"matmul": layers_model, "conv": conv_model, "winograd": winograd_model}[which])
    task = max(tasks, key=lambda t: t.flops)
    space = task_space(task, model.target)
    tmp = tmp_path_factory.mktemp("knobs")
    default = _run_candidate(task, model, space.program, tmp)
    choices = {k.name for k in space.knobs if k.choice}
    if which == "winograd":
        assert choices == {"winograd"} and not {"tile", "lanes"} & {k.name for k in space.knobs}
    else:
        assert choices >= {"parallel_loops"} | ({"loop_order"} if which == "conv" else set())
    for knob in space.knobs:
        for value in (v for v in knob.values if v != knob.default):
            try:
                program = space.candidate({knob.name: value})
            except InvalidCandidate:  # an unrolled block too large to build in time (space.py)
                continue
            if knob.choice:  # another structure, written by the generator: every value it offers works
                assert program.knobs()[knob.name] == value and program.knobs() != space.program.knobs()
                got = _run_candidate(task, model, program, tmp)
                assert got is not None, f"{knob.name} = {value} refused"
                for a, b in zip(got, default):
                    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
                continue
            try:
                got = _run_candidate(task, model, program, tmp)
            except BuildFailed as e:  # TVM refused it: a failed record when tuning, but never a
                # loop the value made one iteration long, gone where the program names it (the
                # space leaves out such values: tuning/space.py)
                assert "get_loops" not in str(e), (knob.name, value, str(e))
                continue
            if got is not None:
                for a, b in zip(got, default):
                    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
                break
        else:
            if not knob.choice:
                pytest.fail(f"every value of knob {knob.name} but its default was refused: {knob.values}")


# ---------------------------------------------------------------------------------------------
# records


def _fake(of_task, for_target, knobs, seconds, failed=False, **changes) -> Record:
    from lamina.compiler.printer import print_ir
    from lamina.lowering.tuning.space import with_knobs

    program = with_knobs(of_task.program, knobs)
    r = Record.new(of_task.key, for_target, program.knobs(), print_ir(program, print_locations=False), seconds,
                   0.0 if seconds else None, failed, "boom" if failed else None, cache="cold")
    for k, v in changes.items():
        setattr(r, k, v)
    return r


def test_best_programs_picks_the_fastest_record_that_did_not_fail(layers_model, tmp_path):
    tasks, model = _tasks(layers_model)
    task, target, path = tasks[0], model.target, tmp_path / "r.jsonl"
    knob = next(iter(task_space(task, target).knobs))
    slow, fast, broken = (dict(task.program.knobs(), **{knob.name: v}) for v in knob.values[:3])
    for r in (_fake(task, target, slow, 2e-5), _fake(task, target, fast, 1e-5), _fake(task, target, broken, None, True)):
        append(path, r)
    best = best_programs(path, target, tasks, warn=pytest.fail)
    assert list(best) == [task.key] and best[task.key].knobs() == fast


def test_records_of_another_target_version_or_task_are_ignored_in_one_warning(layers_model, tmp_path):
    tasks, model = _tasks(layers_model)
    task, target, path = tasks[0], model.target, tmp_path / "r.jsonl"
    knobs = task.program.knobs()
    other = dict(rec.target_identity(target), threads=target.threads + 7)
    for r in (_fake(task, target, knobs, 1e-5), _fake(task, target, knobs, 1e-6, target=other),
              _fake(task, target, knobs, 1e-6, tvm="0.1"), _fake(task, target, knobs, 1e-6, sched_format=99),
              _fake(task, target, knobs, 1e-6, task="0" * 24)):
        append(path, r)
    warnings = []
    kept = read_records(path, target, tasks, warn=warnings.append)
    assert [r.median_s for r in kept] == [1e-5]
    assert len(warnings) == 1, warnings
    for words in ("ignored 4 of 5", "another target", "another TVM", "schedule-IR format", "tasks this model"):
        assert words in warnings[0]


def test_a_candidate_whose_unrolled_block_is_far_larger_than_the_defaults_is_refused(layers_model):
    tasks, model = _tasks(layers_model)
    task = max(tasks, key=lambda t: t.flops)  # a matmul: mb x nj x ku unrolled, nv vectorized
    space = task_space(task, model.target)
    assert unrolled_knobs(space.program) == {"mb", "nj", "ku", "pack_nv"}
    d = space.default
    space.candidate(dict(d, mb=d["mb"] * 2, ku=d["ku"] * 2))  # 4x: built
    with pytest.raises(InvalidCandidate, match="times the default's"):
        space.candidate(dict(d, mb=d["mb"] * 4, nj=d["nj"] * 4))  # 16x: refused before any build


def test_cold_and_warm_records_do_not_mix(layers_model, tmp_path):
    """A run reads back only the records timed as its runner times (a line without `cache` is
    warm); apply-best decides a task among the records of the kind of its last one."""
    tasks, model = _tasks(layers_model)
    task, target, path = tasks[0], model.target, tmp_path / "r.jsonl"
    knob = next(iter(task_space(task, target).knobs))
    a, b = (dict(task.program.knobs(), **{knob.name: v}) for v in knob.values[:2])
    old_line = json.loads(_fake(task, target, a, 1e-6).to_line())
    del old_line["cache"]  # written before the cold runner: warm
    path.write_text(json.dumps(old_line) + "\n")
    append(path, _fake(task, target, b, 3e-6))  # cold, slower in seconds, and the last record
    warnings = []
    assert [r.cache for r in read_records(path, target, tasks, warn=warnings.append)] == ["warm", "cold"]
    assert [r.median_s for r in read_records(path, target, tasks, warn=warnings.append, cache="cold")] == [3e-6]
    assert warnings == [f"warning: {path}: ignored 1 of 2 records: 1 timed warm"]
    assert best_programs(path, target, tasks, warn=pytest.fail)[task.key].knobs() == b
    append(path, _fake(task, target, a, 2e-6, cache="warm"))
    assert best_programs(path, target, tasks, warn=pytest.fail)[task.key].knobs() == a


def test_the_local_runner_times_cold_unless_told_warm(layers_model, monkeypatch):
    """Cold: each timed call after a flush of the caches (runner.py); the measurement says which.
    The requests the worker gets carry the flush, and the worker's timing (run here, in this
    process, with TVM's timer replaced by a spy) flushes before every timed call of a cold one."""
    from lamina.lowering.tuning import runner

    tasks, _ = _tasks(layers_model)
    task = max(tasks, key=lambda t: t.flops)
    requests = []

    def spy(request):
        requests.append(dict(request))
        return None  # no fault

    with Runner(1, fault=spy) as cold, Runner(1, cache="warm", fault=spy) as warm:
        c, w = cold.measure(task.library, task.args), warm.measure(task.library, task.args)
    assert (c.cache, w.cache) == ("cold", "warm") and c.median_s > 0 and w.median_s > 0
    assert [r["flush_bytes"] for r in requests] == [runner.COLD_FLUSH_BYTES, 0]

    timed = []
    monkeypatch.setattr(runner, "_first", False)  # skip the worker process's first warm-up
    monkeypatch.setattr(tvm_adapter, "median_seconds",
                        lambda module, entry, args, number, repeat, flush: timed.append((number, flush)) or 1e-4)
    for request in requests:
        timed.clear()
        assert runner._measure(request)["median_s"] == pytest.approx(1e-4)
        assert len(timed) == 1 + runner.REPEAT
        if request["flush_bytes"]:  # every call of every block alone, after its flush
            assert timed == [(1, runner.COLD_FLUSH_BYTES)] * len(timed)
        else:
            assert all(flush == 0 and number >= 1 for number, flush in timed)
    with pytest.raises(ValueError, match="cold"):
        Runner(1, cache="lukewarm")


def test_a_corrupt_line_is_skipped_with_its_line_number(layers_model, tmp_path):
    tasks, model = _tasks(layers_model)
    path = tmp_path / "r.jsonl"
    append(path, _fake(tasks[0], model.target, tasks[0].program.knobs(), 1e-5))
    with open(path, "a") as f:
        f.write("{not json\n")
        f.write(json.dumps({"task": "x"}) + "\n")
    append(path, _fake(tasks[0], model.target, tasks[0].program.knobs(), 2e-5))
    warnings = []
    assert len(read_records(path, model.target, tasks, warn=warnings.append)) == 2
    assert len(warnings) == 2 and f"{path}:2:" in warnings[0] and f"{path}:3:" in warnings[1]
    assert "missing" in warnings[1]


def test_a_cut_off_last_line_is_dropped_and_the_next_append_starts_a_new_line(layers_model, tmp_path):
    tasks, model = _tasks(layers_model)
    task, path = tasks[0], tmp_path / "r.jsonl"
    append(path, _fake(task, model.target, task.program.knobs(), 1e-5))
    line = _fake(task, model.target, task.program.knobs(), 3e-5).to_line()
    with open(path, "a") as f:
        f.write(line[: len(line) // 2])  # Ctrl-C in the middle of a write
    notes = []
    assert len(read_records(path, model.target, tasks, warn=notes.append)) == 1
    assert len(notes) == 1 and notes[0].startswith("note:") and ":2:" in notes[0]
    append(path, _fake(task, model.target, task.program.knobs(), 2e-5))
    warnings = []
    kept = read_records(path, model.target, tasks, warn=warnings.append)
    assert [r.median_s for r in kept] == [1e-5, 2e-5]
    assert len(warnings) == 1 and "corrupt" in warnings[0] and ":2:" in warnings[0]


# ---------------------------------------------------------------------------------------------
# tuning: the runner, resume, the kernel cache


def _cache_files(kernel_cache: Path) -> set:
    return {p.name for p in kernel_cache.rglob("*") if p.is_file()}


def test_tune_resumes_without_measuring_again_and_keeps_candidates_out_of_the_cache(
        layers_model, tmp_path, kernel_cache):
    module = load_optimized(str(layers_model))
    extract_tasks(module, "llvm")  # the defaults: built into the kernel cache, as lamina compile does
    cached = _cache_files(kernel_cache)
    path = tmp_path / "r.jsonl"
    first = tune(module, "llvm", trials=3, records=path, log=None, confirm_rounds=0)
    assert first.trials == 3 and _cache_files(kernel_cache) == cached
    lines = path.read_text().splitlines()
    assert len(lines) == 2 + 3  # two defaults, three candidates
    second = tune(module, "llvm", trials=3, records=path, log=None, confirm_rounds=0)
    assert second.trials == 3
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 2 + 3 + 3  # the defaults were not measured again
    assert len({(r["task"], knob_key(r["knobs"])) for r in rows}) == len(rows)  # nothing measured twice
    assert "estimated model time" in second.table() and "each kernel timed cold" in second.table()
    assert {r["cache"] for r in rows} == {"cold"}
    # compiled with the records: every kernel takes its task's best, and computes the same
    x = np.random.default_rng(0).standard_normal((16, 32)).astype(np.float32)
    tuned = lamina.compile(str(layers_model), records=path)
    assert tuned.records_applied == 4
    np.testing.assert_allclose(tuned(x)[0], lamina.compile(str(layers_model))(x)[0], rtol=1e-4, atol=1e-4)


def test_the_fastest_candidates_are_measured_again_in_turn_and_decide_by_their_median(layers_model, tmp_path):
    from lamina.lowering.tuning.records import best_records, read_records
    from lamina.lowering.tuning.tuner import CONFIRM

    module = load_optimized(str(layers_model))
    path = tmp_path / "r.jsonl"
    result = tune(module, "llvm", trials=6, batch=6, records=path, log=None, confirm_rounds=2)
    records = read_records(path)
    plain = [r for r in records if not r.confirm]
    again = [r for r in records if r.confirm]
    (state,) = [s for s in result.states if s.trials]  # one batch: one task searched
    finalists = {knob_key(r.knobs) for r in again}
    measured = sorted((r.median_s, knob_key(r.knobs)) for r in plain if r.task == state.task.key and not r.failed)
    assert finalists == {k for _, k in measured[:CONFIRM]} | {knob_key(state.task.program.knobs())}
    assert len(again) == 2 * len(finalists) and {r.task for r in again} == {state.task.key}
    turns = [knob_key(r.knobs) for r in again]
    assert turns[:len(finalists)] == turns[len(finalists):]  # in turn: A B C D A B C D
    # the run's best, the report's and apply-history-best's: the finalist with the lowest median
    chosen = best_records(records)[state.task.key]
    assert chosen.confirm and state.confirmed and state.best_s == chosen.median_s
    assert knob_key(state.best_knobs) == knob_key(chosen.knobs)
    medians = {k: sorted(r.median_s for r in again if knob_key(r.knobs) == k)[0] for k in finalists}
    assert chosen.median_s == min(medians.values())  # median_low of two: the lower


def test_a_resumed_run_names_the_best_that_apply_history_best_will_build(layers_model, tmp_path):
    """A candidate confirmed in two runs is judged by all its confirming measurements: the second
    run's table and the records agree on each task's best."""
    from lamina.lowering.tuning.records import best_records, read_records

    module = load_optimized(str(layers_model))
    path = tmp_path / "r.jsonl"
    tune(module, "llvm", trials=4, batch=4, records=path, log=None, confirm_rounds=1)
    second = tune(module, "llvm", trials=4, batch=4, records=path, log=None, confirm_rounds=1)
    best = best_records(read_records(path))
    confirmed = [s for s in second.states if s.confirmed]
    assert confirmed
    for state in confirmed:
        assert state.best_s == best[state.task.key].median_s
        assert knob_key(state.best_knobs) == knob_key(best[state.task.key].knobs)


def test_a_lucky_single_measurement_loses_to_a_confirmed_median():
    from lamina.lowering.tuning.records import Record, best_records

    def rec(knobs, seconds, confirm=False, failed=False):
        return Record("t", {"name": "llvm"}, knobs, f"schedule {knobs}", seconds, 0.0, failed, confirm=confirm)
    lucky = rec({"a": 1}, 8e-6)
    records = [rec({"a": 2}, 9e-6), lucky, rec({"a": 1}, 10e-6, confirm=True), rec({"a": 1}, 11e-6, confirm=True),
               rec({"a": 2}, 9.5e-6, confirm=True), rec({"a": 2}, 9.2e-6, confirm=True),
               rec({"a": 3}, 1e-6, failed=True)]
    best = best_records(records)["t"]
    assert best.knobs == {"a": 2} and best.median_s == 9.2e-6
    left_out = rec({"a": 4}, 8.5e-6)  # not a finalist: its one measurement does not bring it back
    assert best_records([*records, left_out])["t"].knobs == {"a": 2}
    peer = Record("t", {"name": "llvm"}, {}, "a meta-schedule trace", 7e-6, 0.0, tuner="meta-schedule")
    assert best_records([*records, peer])["t"] is peer  # another tuner's candidate still counts
    assert best_records([lucky, rec({"a": 2}, 9e-6)])["t"] is lucky  # nothing measured again: the fastest


def test_a_candidate_that_crashes_or_hangs_is_a_failed_record_and_tuning_goes_on(layers_model, tmp_path):
    faults = iter(["crash", "hang"])

    def fault(request):  # the defaults run; the first two candidates crash, then hang
        return next(faults, None) if "lamina-tune-" in request["library"] else None

    import io

    from lamina.compiler.progress import Progress

    path, screen = tmp_path / "r.jsonl", io.StringIO()
    bar = Progress(3, "tuning", stream=screen, terminal=True)  # as `lamina tune` shows it on a terminal
    result = tune(load_optimized(str(layers_model)), "llvm", trials=3, records=path, log=None, fault=fault,
                  timeout=10, scheduler="round-robin", progress=bar,  # (a tiny kernel on 2 busy cores: seconds)
                  confirm_rounds=0)
    drawn = screen.getvalue()
    assert "tuning [" in drawn and "3/3" in drawn and drawn.endswith("\r\x1b[2K"), drawn  # drawn, then wiped
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    failed = [r for r in rows if r["failed"]]
    assert len(rows) == 5 and len(failed) == 2, [(r["knobs"], r["error"]) for r in rows]
    assert "died" in failed[0]["error"] and "SIGABRT" in failed[0]["error"]
    assert "timed out after 10 s" in failed[1]["error"]
    assert not rows[-1]["failed"] and rows[-1]["median_s"] > 0  # a fresh worker measured the next one
    assert result.trials == 3


# ---------------------------------------------------------------------------------------------
# the CLI and the Python API


def test_lamina_tune_list_tasks(layers_model, capsys):
    assert main(["tune", str(layers_model), "--list-tasks"]) == 0
    out = capsys.readouterr().out
    header, *rows = out.splitlines()
    assert header.split()[:5] == ["task", "weight", "MFLOP", "default", "share"]
    assert sorted(int(r.split()[1]) for r in rows[:2]) == [1, 3]
    assert "2 tasks for 4 kernels" in out


def test_lamina_tune_then_run_and_compile_with_the_records(zoo, tmp_path, capsys):
    model, path = str(zoo / "mlp.onnx"), tmp_path / "mlp.jsonl"
    assert main(["tune", model, "--trials", "2", "--confirm", "0", "--records", str(path)]) == 0
    out = capsys.readouterr().out
    assert "estimated model time" in out and len(path.read_text().splitlines()) == 4 + 2
    assert main(["run", model, "--fill", "random", "--records", str(path)]) == 0
    out = capsys.readouterr().out
    assert "records: 4 of 4 kernels took the best recorded schedule" in out
    # the report: each task's best time as the records hold it, the estimate beside the measured time
    from lamina.lowering.tuning.tuner import _time

    png = tmp_path / "curves.png"
    assert main(["tune", model, "--records", str(path), "--report", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    best = {}
    for r in map(json.loads, path.read_text().splitlines()):
        if not r["failed"]:
            best[r["task"]] = min(best.get(r["task"], float("inf")), r["median_s"])
    for key, seconds in best.items():
        row = next(line for line in out.splitlines() if line.startswith(key[:8]))
        assert f" {_time(seconds)} " in row, (row, seconds)
    assert "estimated model time" in out and "4 of 4 kernels from them" in out, out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["tune", model, "--records", str(path), "--report", "--plot", model]) == 1  # never over the model
    assert "refusing to write the plot over" in capsys.readouterr().err
    # an explicit schedule file wins over a record for the kernel it names
    schedules = tmp_path / "s"
    assert main(["compile", model, "--emit-schedules", str(schedules)]) == 0
    for f in list(schedules.iterdir())[1:]:
        f.unlink()
    capsys.readouterr()
    assert main(["compile", model, "--records", str(path), "--schedules", str(schedules)]) == 0
    assert "records: 3 of 4 kernels" in capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    (["--trials", "2"], "needs --records"),
    (["--trials", "-1", "--records", "r.jsonl"], "--trials -1"),
    (["--time-budget", "0", "--records", "r.jsonl"], "--time-budget"),
    (["--records", "/no/such/dir/r.jsonl"], "not a file in an existing folder"),
])
def test_lamina_tune_bad_input_exits_1(layers_model, argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["tune", str(layers_model), *argv]) == 1
    assert words in capsys.readouterr().err


def test_run_with_a_missing_records_file_exits_1(layers_model, capsys):
    assert main(["run", str(layers_model), "--fill", "random", "--records", "/no/such.jsonl"]) == 1
    assert "no such file" in capsys.readouterr().err


def test_lamina_tune_ctrl_c_exits_130_with_records_kept(layers_model, tmp_path, monkeypatch, capsys):
    from lamina.lowering.tuning import tuner

    path = tmp_path / "r.jsonl"
    real = tuner.Runner.measure
    calls = []

    def measure(self, library, args):
        calls.append(library)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, library, args)

    monkeypatch.setattr(tuner.Runner, "measure", measure)
    assert main(["tune", str(layers_model), "--trials", "4", "--records", str(path)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert len(path.read_text().splitlines()) == 2  # the two defaults measured before Ctrl-C


# ---------------------------------------------------------------------------------------------
# the search: evolutionary with a cost model, random as the baseline (synthetic tasks: no TVM)


class _Program:
    """What a Space needs of a schedule program: its default knobs."""

    def __init__(self, knobs):
        self._knobs = knobs

    def knobs(self):
        return dict(self._knobs)


def _synthetic_space():
    from lamina.lowering.tuning.space import Knob, Space

    knobs = [Knob("x", 8, knob_values(8, 96), 96), Knob("y", 8, knob_values(8, 64), 64),
             Knob("u", 4, knob_values(4, None), None)]
    return Space(_Program({"x": 8, "y": 8, "u": 4}), knobs)


def _synthetic_seconds(a):
    """A kernel's time as a known function of its knobs: a best tile size per loop, a penalty for
    a factor that does not divide its loop (96), a tile that outgrows a 'cache' (x * y > 181)."""
    lx, ly, lu = np.log2(a["x"]), np.log2(a["y"]), np.log2(a["u"])
    cost = (0.3 * (lx - 4.6) ** 2 + 0.2 * (ly - 3) ** 2 + 0.5 * (96 % a["x"] != 0) + 0.1 * abs(lu - 2)
            + 0.3 * max(0.0, lx + ly - 7.5))
    return 1e-5 * float(np.exp(cost))


def _all(space):
    import itertools

    names = [k.name for k in space.knobs]
    return [dict(zip(names, v)) for v in itertools.product(*(k.values for k in space.knobs))]


def test_the_cost_model_ranks_a_synthetic_task_after_30_points():
    import random

    from lamina.lowering.tuning.cost_model import CostModel, spearman

    space = _synthetic_space()
    every = _all(space)
    train = random.Random(0).sample(every, 30)
    model = CostModel(space).fit(train, [_synthetic_seconds(a) for a in train])
    rest = [a for a in every if a not in train]
    assert spearman(model.predict(rest), [_synthetic_seconds(a) for a in rest]) > 0.8


def test_spearman_with_ties():
    from lamina.lowering.tuning.cost_model import ranks, spearman

    assert list(ranks([3.0, 1.0, 3.0, 2.0])) == [2.5, 0.0, 2.5, 1.0]
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def _trials_to_optimum(search, space, cap):
    """Trials (batches of 8, measured by _synthetic_seconds) until `search` measures the optimum;
    checks on the way that every proposal is new and in the space."""
    every = _all(space)
    optimum = min(_synthetic_seconds(a) for a in every)
    keys = {knob_key(a) for a in every}
    seen = {knob_key(space.default)}
    search.observe(space.default, _synthetic_seconds(space.default))
    trials = 0
    while trials < cap:
        batch = search.propose(8, set(seen))
        assert batch, "the space is not used up before the optimum is found"
        for a in batch:
            key = knob_key(a)
            assert key in keys and key not in seen
            seen.add(key)
            trials += 1
            seconds = _synthetic_seconds(a)
            search.observe(a, seconds)
            if seconds <= optimum:
                return trials
    return cap


def test_evolutionary_search_finds_the_optimum_in_fewer_trials_than_random():
    from lamina.lowering.tuning.search import EvolutionarySearch, RandomSearch

    space = _synthetic_space()
    seeds = range(4)
    random_trials = [_trials_to_optimum(RandomSearch(space, s), space, space.size) for s in seeds]
    evolved = [_trials_to_optimum(EvolutionarySearch(space, s), space, space.size) for s in seeds]
    # random search needs half the space (196 of 392) on average; the model's ranking far less
    assert np.mean(evolved) < 0.5 * np.mean(random_trials), (evolved, random_trials)


def test_evolutionary_search_proposes_only_new_assignments_of_the_space():
    from lamina.lowering.tuning.search import EvolutionarySearch

    space = _synthetic_space()
    search = EvolutionarySearch(space, 1)
    keys, seen, proposed = {knob_key(a) for a in _all(space)}, set(), []
    while batch := search.propose(48, seen):
        for a in batch:
            search.observe(a, None if a["u"] == 64 else _synthetic_seconds(a))  # some fail
        proposed += [knob_key(a) for a in batch]
    assert len(proposed) == len(set(proposed)) == space.size  # the whole space, each once
    assert set(proposed) == keys == seen
    assert search.predicted  # the model ranked most batches


def test_lamina_tune_search_flag(layers_model, tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    assert main(["tune", str(layers_model), "--trials", "2", "--search", "random", "--records", str(path)]) == 0
    out = capsys.readouterr().out
    assert "search: random" in out and "per minute" in out and "search " in out
    with pytest.raises(SystemExit):
        main(["tune", str(layers_model), "--search", "annealing", "--records", str(path)])
    with pytest.raises(lamina.LaminaError, match="unknown search"):
        tune(load_optimized(str(layers_model)), "llvm", trials=1, search="annealing", log=None)


def test_the_records_of_an_earlier_run_train_the_cost_model(layers_model, tmp_path):
    # 13 records of a task, as an earlier run leaves them: the model ranks this run's first batch
    import random

    module = load_optimized(str(layers_model))
    tasks, model = extract_tasks(module, "llvm")
    task = tasks[0]
    space, path, rng = task_space(task, model.target), tmp_path / "r.jsonl", random.Random(0)
    for i, knobs in enumerate([task.program.knobs()] + [space.sample(rng) for _ in range(12)]):
        append(path, _fake(task, model.target, knobs, 1e-5 * (1 + i % 5)))
    result = tune(module, "llvm", trials=8, batch=8, records=path, log=None, scheduler="round-robin")
    state = result.states[0]
    assert state.task.key == task.key and state.trials == 8 and len(state.search.measured) >= 8
    assert len(state.search.predicted) >= 5 and list(result.rank) == [task.key]
    assert "rank correlation" in result.table() and result.search_seconds > 0
