"""`lamina tune --tuner meta-schedule` (lowering/tuning/meta_schedule.py) and the conversion of TVM's
schedule traces into schedule IR (lowering/tuning/from_trace.py).

meta-schedule is slow to start (its tuning contexts import all of TVM's tensor intrinsics: 15-30 s
on two cores), so two tests use it, each one item (under xdist a module fixture would run once per
worker): one tuning run end to end (a conv and a matmul, two trials each, `--search random`: its
replay of random traces, which skips the evolutionary search's first population of 512), and one
sampling of meta-schedule's design spaces for a kernel of each kind. The
other tests are cheap: hand-written traces, the failure paths, the records' `tuner` field and
`lamina bench --records`. A test that needs the `meta-schedule` extra skips, naming what is missing.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import lamina  # noqa: E402
from lamina.compiler.cli import main  # noqa: E402
from lamina.compiler.printer import print_ir  # noqa: E402
from lamina.lowering import targets, tvm_adapter  # noqa: E402
from lamina.lowering.schedules import verify_schedule  # noqa: E402
from lamina.lowering.tuning import meta_schedule  # noqa: E402
from lamina.lowering.tuning.from_trace import Unconvertible, program_from_trace  # noqa: E402
from lamina.lowering.tuning.records import Record, RecordWriter, parse_program, read_records  # noqa: E402
from lamina.lowering.tuning.tasks import extract_tasks, load_optimized  # noqa: E402
from lamina.lowering.tuning.tuner import _states, tune  # noqa: E402

MISSING = meta_schedule.missing_packages()
needs_extra = pytest.mark.skipif(bool(MISSING), reason=f"meta-schedule needs {', '.join(MISSING)} "
                                                       "(pip install 'lamina[meta-schedule]')")


@pytest.fixture(scope="module", autouse=True)
def kernel_cache(tmp_path_factory):
    """A kernel cache of this module's own (pytest restores the variable after the module)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAMINA_CACHE_DIR", str(tmp_path_factory.mktemp("meta-schedule-kernels")))
        yield


def _weight(rng, name, shape):
    return helper.make_tensor(name, TensorProto.FLOAT, shape, rng.standard_normal(int(np.prod(shape))).tolist())


def _save(nodes, name, inputs, outputs, inits, folder: Path) -> Path:
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    path = folder / f"{name}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


@pytest.fixture(scope="module")
def pair_model(tmp_path_factory) -> Path:
    """Two tasks: y1 = relu(conv3x3(x)) and y2 = a @ w."""
    rng = np.random.default_rng(0)
    f = TensorProto.FLOAT
    nodes = [helper.make_node("Conv", ["x", "wc"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["y1"], name="relu"),
             helper.make_node("MatMul", ["a", "wm"], ["y2"], name="fc")]
    return _save(nodes, "pair", [helper.make_tensor_value_info("x", f, [1, 4, 6, 6]),
                                 helper.make_tensor_value_info("a", f, [4, 16])],
                 [helper.make_tensor_value_info("y1", f, [1, 8, 6, 6]), helper.make_tensor_value_info("y2", f, [4, 8])],
                 [_weight(rng, "wc", [8, 4, 3, 3]), _weight(rng, "wm", [16, 8])], tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def kinds_model(tmp_path_factory) -> Path:
    """A kernel of each kind: elementwise, conv (+relu), depthwise conv, max and average pooling,
    a reshape, a matmul (+bias+relu) and a softmax."""
    rng = np.random.default_rng(1)
    f = TensorProto.FLOAT
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"], name="sigmoid"),
             helper.make_node("Conv", ["s", "wc"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "wd"], ["d"], pads=[1, 1, 1, 1], group=8, name="depthwise"),
             helper.make_node("MaxPool", ["d"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="maxpool"),
             helper.make_node("GlobalAveragePool", ["p"], ["g"], name="avgpool"),
             helper.make_node("Flatten", ["g"], ["v"], name="flatten"),
             helper.make_node("MatMul", ["v", "wm"], ["m"], name="fc"),
             helper.make_node("Add", ["m", "bm"], ["o"], name="bias"),
             helper.make_node("Relu", ["o"], ["q"], name="act"),
             helper.make_node("Softmax", ["q"], ["y"], axis=-1, name="softmax")]
    return _save(nodes, "kinds", [helper.make_tensor_value_info("x", f, [1, 4, 8, 8])],
                 [helper.make_tensor_value_info("y", f, [1, 16])],
                 [_weight(rng, "wc", [8, 4, 3, 3]), _weight(rng, "wd", [8, 1, 3, 3]), _weight(rng, "wm", [8, 16]),
                  _weight(rng, "bm", [16])],
                 tmp_path_factory.mktemp("models"))


# ---------------------------------------------------------------------------------------------
# meta-schedule itself (the extra)


@needs_extra
def test_meta_schedule_tunes_and_lamina_applies_its_schedules(pair_model, tmp_path, capsys):
    model, path = str(pair_model), tmp_path / "pair.jsonl"
    argv = ["tune", model, "--tuner", "meta-schedule", "--search", "random", "--trials", "4", "--records", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "tuner: meta-schedule (search replay-trace" in out and "4 trials in" in out and "2 of 2 tasks" in out, out
    records = [json.loads(line) for line in path.read_text().splitlines()]
    # the defaults, then each task's best converted, each followed by its default measured again
    assert [r["tuner"] for r in records] == ["lamina", "lamina"] + ["meta-schedule", "lamina"] * 2
    peer = [r for r in records if r["tuner"] == "meta-schedule"]
    assert not any(r["failed"] for r in peer), [r["error"] for r in peer]

    # each converted program passes the schedule verifier against its kernel
    tasks, compiled = extract_tasks(load_optimized(model))
    by_key = {t.key: t for t in tasks}
    for r in read_records(path, compiled.target, tasks):
        if r.tuner == meta_schedule.TUNER:
            verify_schedule(parse_program(r), compiled.target, tvm_adapter.kernel_info(by_key[r.task].module))

    # meta-schedule's schedules alone: every kernel takes one, and computes what the defaults compute
    only = tmp_path / "only.jsonl"
    only.write_text("".join(json.dumps(r) + "\n" for r in peer))
    tuned, default = lamina.compile(model, records=str(only)), lamina.compile(model)
    assert tuned.records_applied == tuned.num_kernels == 2
    rng = np.random.default_rng(2)
    x, a = rng.standard_normal((1, 4, 6, 6), dtype=np.float32), rng.standard_normal((4, 16), dtype=np.float32)
    import onnxruntime

    reference = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x, "a": a})
    for ours, theirs, ort in zip(tuned(x, a), default(x, a), reference):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ours, ort, rtol=1e-4, atol=1e-4)

    # a second run with the same records resumes from meta-schedule's database beside them: it
    # holds the first run's 4 measurements, each task's best so far is at most the first run's
    folder = meta_schedule.database_dir(path, compiled.target)
    assert folder.parent == Path(f"{path}.meta-schedule") and "new)" in out
    first = meta_schedule.tune_meta_schedule(load_optimized(model), trials=0, records=path, log=None)
    assert first.resumed == 4 and f"resumed: 4 measurements of earlier runs" in first.table()
    assert all(t.best_s is not None for t in first.tasks)  # (its best, from the database, measured again)
    # and its cost model: saved beside the database, loaded with the features and times of the
    # first run's measurements, so the next search ranks with what it learned
    assert (folder / meta_schedule.COST_MODEL_FILE).is_file()
    again = meta_schedule.tune_meta_schedule(load_optimized(model), trials=2, records=path, search="random", log=None)
    assert again.resumed == 4 and again.trials == 2
    assert again.cost_model_resumed == 4 and "its cost model trained on 4" in again.table(), again.table()
    assert all(b.own_s <= a.own_s for a, b in zip(first.tasks, again.tasks))

    # the report puts each tuner's best beside the other's
    assert main(["tune", model, "--records", str(path), "--report"]) == 0
    out = capsys.readouterr().out
    assert "best per tuner" in out and "lamina" in out and "meta-schedule" in out, out
    assert "estimated model time per tuner" in out


@needs_extra
def test_traces_of_each_kind_of_kernel_convert_to_the_same_primfunc(kinds_model):
    """meta-schedule's CPU design spaces of every kind of kernel, postprocessors applied, convert
    into programs that the verifier accepts and that give the trace's PrimFunc (structurally
    equal: meta_schedule.converted checks it)."""
    from tvm.s_tir import meta_schedule as ms

    tasks, compiled = extract_tasks(load_optimized(str(kinds_model)))
    assert [t.name for t in tasks] == ["sigmoid", "conv+relu", "depthwise", "maxpool", "avgpool", "flatten",
                                       "fc+bias+act", "softmax"]
    kinds, failures = set(), []
    for task in tasks:
        context = ms.TuneContext(mod=task.module, target=meta_schedule.tvm_target(compiled.target),
                                 space_generator="post-order-apply", search_strategy="replay-trace", rand_state=3)
        for space in context.generate_design_space():
            sch = space.copy()
            sch.enter_postproc()
            if not all(p.apply(sch) for p in context.space_generator.postprocs):
                continue  # meta-schedule drops such a sample too
            kinds.update(i[0] for i in meta_schedule.plain(sch.trace.as_json())[0])
            try:
                meta_schedule.converted(sch.trace, task, compiled.target)
            except ValueError as e:
                failures.append(f"{task.name}: {e}")
    assert not failures, failures
    # the instructions meta-schedule's CPU rules and postprocessors use, all met here
    assert {"SamplePerfectTile", "SampleCategorical", "SampleComputeLocation", "Split", "Fuse", "Reorder", "Parallel",
            "Vectorize", "ComputeAt", "ReverseComputeAt", "ComputeInline", "CacheWrite", "RFactor",
            "DecomposeReduction", "GetChildBlocks", "GetConsumers", "GetProducers", "Annotate", "Unannotate",
            "EnterPostproc"} <= kinds, kinds


# ---------------------------------------------------------------------------------------------
# the conversion on hand-written traces (TVM only)


def _matmul_task(pair_model):
    tasks, compiled = extract_tasks(load_optimized(str(pair_model)))
    return next(t for t in tasks if t.name == "fc"), compiled.target


def test_a_hand_written_trace_converts_to_the_same_primfunc(pair_model):
    """A split with an inferred factor, sampled tiles and an unroll depth, an annotation the trace
    removes again (dropped with its removal) and a string annotation (kept)."""
    from tvm import s_tir

    task, target = _matmul_task(pair_model)
    trace = [[["GetSBlock", [], ["matmul", "main"], ["b0"]],
              ["GetLoops", ["b0"], [], ["l1", "l2", "l3"]],
              ["SamplePerfectTile", ["l2"], [2, 64], ["v4", "v5"]],
              ["Split", ["l2", "v4", "v5"], [True, False], ["l6", "l7"]],
              ["Split", ["l1", "None", 2], [True, False], ["l8", "l9"]],
              ["Annotate", ["b0", 1], ["meta_schedule.random_compute_producer"], []],
              ["Annotate", ["b0", '"SSR"'], ["meta_schedule.tiling_structure"], []],
              ["SampleCategorical", [], [[0, 16, 64], [0.3, 0.3, 0.4]], ["v10"]],
              ["Annotate", ["l8", "v10"], ["pragma_auto_unroll_max_step"], []],
              ["Unannotate", ["b0"], ["meta_schedule.random_compute_producer"], []],
              ["Vectorize", ["l7"], [], []]],
             [[2, [2, 4]], [7, 1]]]
    program = program_from_trace(trace, task.module, target, "fc")
    text = print_ir(program, print_locations=False)
    assert "random_compute_producer" not in text and '{value = "SSR"}' in text and " 16" in text, text
    assert program.knobs() == {"i1_f0": 2, "i1_f1": 4, "i0_f1": 2}  # named for the loops they split
    reference = s_tir.Schedule(task.module)  # TVM's own replay of the trace
    s_tir.Trace.apply_json_to_schedule(trace, reference)
    import tvm_ffi

    assert tvm_ffi.structural_equal(tvm_adapter.apply_schedule(task.module, program, target), reference.mod)


@pytest.mark.parametrize("instruction, reason", [
    (["Blockize", ["l1"], [True], ["b4"]], "instruction 2 (Blockize) has no sched op"),
    (["Split", ["l1", 2, "None"], [True, False], ["l4", "l5"]], "only the outermost factor of a split can be inferred"),
    (["ComputeAt", ["b0", "l1"], [True, 0], []], "places the block at position 0"),
    (["Unannotate", ["b0"], ["pragma_unroll_explicit"], []], "which the program did not make"),
    (["Vectorize", ["l9"], [], []], "l9 is not defined before its use"),
])
def test_an_instruction_lamina_cannot_express_is_unconvertible(pair_model, instruction, reason):
    task, target = _matmul_task(pair_model)
    trace = [[["GetSBlock", [], ["matmul", "main"], ["b0"]], ["GetLoops", ["b0"], [], ["l1", "l2", "l3"]],
              instruction], []]
    with pytest.raises(Unconvertible, match=re.escape(reason)):
        program_from_trace(trace, task.module, target, "fc")


def test_a_trace_that_does_not_convert_is_a_failed_record(pair_model, tmp_path):
    """The task's record says why, and the run goes on (no crash)."""

    class Best:
        trace = type("Trace", (), {"as_json": lambda self: [[["Blockize", [], [], []]], []]})()

    class Database:
        def commit_workload(self, module):
            return module

        def get_top_k(self, workload, k):
            return [Best()]

    tasks, compiled = extract_tasks(load_optimized(str(pair_model)))
    result = meta_schedule.PeerResult([meta_schedule.PeerTask(t) for t in tasks], None)
    path = tmp_path / "failed.jsonl"
    meta_schedule._finish(result, Database(), compiled.target, None, RecordWriter(path), tmp_path)
    records = read_records(path)
    assert len(records) == 2 and all(r.failed and r.tuner == "meta-schedule" for r in records)
    assert "does not convert: instruction 0 (Blockize) has no sched op" in records[0].error
    assert all("Blockize" in t.error and t.best_s is None for t in result.tasks)


# ---------------------------------------------------------------------------------------------
# without the extra, the CLI, the records' tuner


def test_missing_packages_give_a_lamina_error(pair_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(meta_schedule.NEEDS, "lamina_no_such_module", "no-such-package")
    argv = ["tune", str(pair_model), "--tuner", "meta-schedule", "--records", str(tmp_path / "r.jsonl")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "error: --tuner meta-schedule needs no-such-package" in err and "lamina[meta-schedule]" in err, err
    assert "Traceback" not in err and not (tmp_path / "r.jsonl").exists()


def test_meta_schedule_measures_here_only(pair_model, tmp_path, capsys):
    argv = ["tune", str(pair_model), "--tuner", "meta-schedule", "--records", str(tmp_path / "r.jsonl"),
            "--rpc", "localhost:9090"]
    assert main(argv) == 1
    assert "takes no --rpc" in capsys.readouterr().err


def test_the_python_api_tunes_with_meta_schedule_too(pair_model, tmp_path, monkeypatch):
    """lamina.tune(..., tuner="meta-schedule") hands the optimized module and the budget to the
    peer (the whole run is the CLI test's above); a wrong tuner or RPC with it is a LaminaError."""
    from lamina.compiler.errors import LaminaError

    calls = []
    monkeypatch.setattr(meta_schedule, "tune_meta_schedule", lambda module, target, **kw: calls.append((target, kw)) or "ran")
    records = tmp_path / "r.jsonl"
    assert lamina.tune(pair_model, tuner="meta-schedule", trials=3, time_budget=7, records=records) == "ran"
    assert calls == [("llvm", {"trials": 3, "time_budget": 7, "records": records, "scheduler": "gradient",
                               "threads": None, "search": "evolutionary"})]
    with pytest.raises(LaminaError, match="no tuner 'ansor'"):
        lamina.tune(pair_model, tuner="ansor", records=records)
    with pytest.raises(LaminaError, match="takes no rpc"):
        lamina.tune(pair_model, tuner="meta-schedule", rpc="localhost:9090", records=records)
    monkeypatch.setitem(meta_schedule.NEEDS, "lamina_no_such_module", "no-such-package")
    with pytest.raises(LaminaError, match="needs no-such-package"):
        lamina.tune(pair_model, tuner="meta-schedule", records=records)


def test_lamina_s_tuner_learns_only_from_its_own_records(pair_model, tmp_path):
    """A record without a `tuner` field is lamina's (records from before the peer); another
    tuner's records neither train lamina's search nor count as its trials."""
    tasks, compiled = extract_tasks(load_optimized(str(pair_model)))
    path = tmp_path / "r.jsonl"
    mine = Record.new(tasks[0].key, compiled.target, {"unknown_knob": 3}, "", 1e-6)
    theirs = Record.new(tasks[0].key, compiled.target, {"n_f0": 2}, "", 1e-7, tuner="meta-schedule")
    line = json.loads(mine.to_line())
    del line["tuner"]
    path.write_text(json.dumps(line) + "\n" + theirs.to_line())
    old, peer = read_records(path, compiled.target, tasks)
    assert (old.tuner, peer.tuner) == ("lamina", "meta-schedule")
    state = _states(tasks, compiled.target, [old, peer], seed=0)[0]
    assert state.earlier == 1 and state.best_s == 1e-6


def test_lamina_bench_times_each_records_file_beside_the_defaults(zoo, tmp_path, capsys):
    from lamina.runtime.benchmark import main as bench

    model, path = zoo / "mlp.onnx", tmp_path / "mlp-defaults.jsonl"
    tune(load_optimized(str(model)), trials=0, records=str(path), log=None)  # the defaults, measured
    argv = ["--models", str(model), "--skip-relax", "--runs", "2", "--warmup", "0", "--blocks", "1", "--quiet"]
    assert bench(argv + ["--records", str(path)]) == 0
    out = capsys.readouterr().out
    assert "mlp-defaults ms" in out and "mlp-defaults/ort" in out, out
    assert "records mlp-defaults: 4 of 4 kernels from" in out
    assert bench(argv + ["--records", str(tmp_path / "none.jsonl")]) == 1
    assert "none.jsonl: no such file" in capsys.readouterr().err


def test_the_tvm_target_has_the_core_count():
    target = targets.get("llvm", threads=2)
    assert meta_schedule.tvm_target(target).attrs["num-cores"] == 2


@needs_extra
def test_a_cost_model_that_does_not_load_is_replaced_by_a_new_one(tmp_path, capsys):
    """A cut-short or foreign cost_model.tar beside the database: the run says so and starts a
    new cost model (the measurements are in the database and the records, not in it)."""
    from types import SimpleNamespace

    from lamina.lowering import targets

    (tmp_path / meta_schedule.COST_MODEL_FILE).write_bytes(b"not a tar")
    result = SimpleNamespace(database=tmp_path, cost_model_resumed=0)
    model = meta_schedule._cost_model(result, targets.get("llvm", threads=2))
    assert model.data_size == 0 and result.cost_model_resumed == 0
    err = capsys.readouterr().err
    assert "cost_model.tar did not load" in err and "starting a new one" in err, err
