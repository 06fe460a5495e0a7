"""The model benchmark (lamina.runtime.benchmark, bench/models.py) on the two tiny models, as a
smoke test: a row per model, numbers in every column that ran, outputs that agree with
onnxruntime, a per-kernel table whose numbers are consistent; a model given as a file; the
best-of-blocks timing on fake clocks. Nothing here asserts a time."""

import contextlib
import math
import os

import numpy as np
import pytest

import lamina
from lamina.runtime import benchmark



@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    out = tmp_path_factory.mktemp("zoo")
    assert benchmark.zoo_module().main(["--out", str(out), "mlp", "glue"]) == 0
    return out


@pytest.fixture(scope="module")
def rows(zoo):
    return benchmark.run(["mlp", "glue"], runs=2, warmup=1, relax_models=["mlp"], zoo=zoo, per_kernel=True)


def test_a_row_per_model_with_numbers(rows):
    assert [r.model for r in rows] == ["mlp", "glue"]
    for r in rows:
        assert r.lamina_status == "ok", r.notes
        assert r.kernels > 0 and 0 < r.kernels_built <= r.kernels
        for value in (r.cold_compile_s, r.warm_compile_s, r.lamina_s, r.ort_s, r.lamina_ratio):
            assert value is not None and math.isfinite(value) and value > 0
        # three blocks a side, the latency the best block's median
        assert len(r.lamina_blocks) == len(r.ort_blocks) == 3
        assert r.lamina_s == min(r.lamina_blocks) and r.ort_s == min(r.ort_blocks)
    mlp, glue = rows
    assert mlp.relax_status == "ok", mlp.notes
    assert mlp.relax_s > 0 and mlp.relax_compile_s > 0 and math.isfinite(mlp.relax_ratio)
    assert glue.relax_status == "skipped" and glue.relax_ratio is None


def test_outputs_agree_with_onnxruntime(rows):
    for r in rows:
        assert r.lamina_diff < 1e-4, r.model
    assert rows[0].relax_diff < 1e-4


def test_tables_have_a_row_per_model_with_numeric_ratios(rows):
    columns = benchmark.COLUMNS + benchmark.KERNEL_SUM_COLUMNS  # rows with --per-kernel data
    lamina_ratio, relax_ratio = columns.index("lamina/ort"), columns.index("relax/ort")
    text = benchmark.format_table(rows).splitlines()
    assert text[0].split()[0] == "model" and len(text) == 2 + len(rows)
    markdown = benchmark.format_table(rows, markdown=True).splitlines()
    assert len(markdown) == 2 + len(rows)
    cells = {line.strip("| ").split(" | ")[0]: line.strip("| ").split(" | ") for line in markdown[2:]}
    assert set(cells) == {"mlp", "glue"}
    assert all(len(c) == len(columns) for c in cells.values())
    assert float(cells["mlp"][lamina_ratio]) > 0 and float(cells["mlp"][relax_ratio]) > 0
    assert float(cells["glue"][lamina_ratio]) > 0 and cells["glue"][relax_ratio] == "-"


def test_main_prints_the_setup_and_the_table(zoo, capsys):
    assert benchmark.main(["--models", "glue", "--runs", "1", "--warmup", "0", "--skip-relax",
                           "--zoo", str(zoo), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "TVM_NUM_THREADS=2" in out and "intra_op_num_threads=2" in out
    assert "median of 1 runs after 0 warm-up runs" in out and "in blocks A B A B" in out
    assert any(line.startswith("glue ") for line in out.splitlines())
    peak = next(line for line in out.splitlines() if line.startswith("peak: "))
    assert float(peak.split()[1]) > 0 and "fp32 FMA, 2 threads" in peak


def test_package_columns_measure_a_fresh_process(zoo):
    """--package: the package's load + first run in a fresh lean process, and the peak memory of
    that process and of onnxruntime's, each a plausible number of MiB (a Python process with
    numpy holds more than 10; nothing here is near 2 GiB)."""
    (row,) = benchmark.run(["mlp"], runs=1, warmup=0, relax_models=[], zoo=zoo, package=True)
    assert not row.notes, row.notes
    assert 0 < row.package_s < 60
    assert 10 < row.package_mib < 2048 and 10 < row.ort_process_mib < 2048
    table = benchmark.format_table([row]).splitlines()
    assert table[0].split()[-6:] == ["pkg", "s", "pkg", "MiB", "ort", "MiB"]


def test_main_rejects_unknown_models(capsys):
    with pytest.raises(SystemExit) as e:
        benchmark.main(["--models", "resnet101"])
    assert e.value.code == 2 and "unknown model resnet101" in capsys.readouterr().err


def test_the_zoo_names_come_from_zoo_py():
    """A model added to the zoo's MODELS is a --models name and in the default, without an edit."""
    names = list(benchmark.zoo_module().MODELS)
    assert benchmark.zoo_models() == names and "mlp" in names


def test_a_missing_onnx_path_is_an_error_with_a_hint(tmp_path, capsys):
    missing = tmp_path / "nowhere.onnx"
    assert benchmark.main(["--models", str(missing), "--skip-relax", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"no model file {missing}" in err and "an .onnx file" in err


def test_a_relax_build_over_the_time_limit_shows_as_timeout(zoo):
    row = benchmark.Row("mlp")
    path = zoo / "mlp.onnx"
    feed = benchmark.random_inputs(path)
    benchmark.run_relax(row, path, feed, [], runs=1, warmup=0, threads=1, timeout=0.0)
    assert row.relax_status == "timeout" and row.relax_s is None
    assert "timeout" in benchmark.format_table([row])


def test_a_missing_model_file_is_an_error_with_a_hint(tmp_path, capsys):
    assert benchmark.main(["--models", "mlp", "--zoo", str(tmp_path), "--skip-relax", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "no model file" in err and "zoo.py --out" in err


def test_a_failing_relax_build_is_an_error_with_its_message(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx model")
    row = benchmark.Row("broken")
    benchmark.run_relax(row, bad, {"x": np.zeros(1, np.float32)}, [], runs=1, warmup=0, threads=1,
                        timeout=120.0)
    assert row.relax_status == "error" and row.relax_s is None
    assert row.notes and row.notes[0].startswith("relax: ")


# ---------------------------------------------------------------------------------------------
# any model: a file path, int64 inputs, symbolic dims


def test_a_model_given_as_a_file_path_gets_a_row(zoo, tmp_path):
    path = tmp_path / "my_model.onnx"
    path.write_bytes((zoo / "glue.onnx").read_bytes())
    (row,) = benchmark.run([str(path)], runs=1, warmup=0, relax_models=[], blocks=1)
    assert row.model == "my_model" and row.lamina_status == "ok", row.notes
    assert row.lamina_s > 0 and row.ort_s > 0 and row.lamina_diff < 1e-4
    assert any(line.startswith("my_model ") for line in benchmark.format_table([row]).splitlines())


def embedding_model(path):
    """ids (int64, [batch, 4], batch symbolic) -> Gather from a [10, 8] table -> ReduceSum over
    the 4 ids -> Relu: an int64 input and a symbolic dim."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    table = numpy_helper.from_array(np.random.default_rng(1).standard_normal((10, 8)).astype(np.float32), "table")
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["rows"], name="lookup", axis=0),
         helper.make_node("ReduceSum", ["rows", "axes"], ["bag"], name="bag", keepdims=0),
         helper.make_node("Relu", ["bag"], ["out"], name="relu")],
        "embedding", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 8])], [table, axes])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_random_inputs_for_int64_inputs_and_symbolic_dims(tmp_path):
    feed = benchmark.random_inputs(embedding_model(tmp_path / "emb.onnx"))
    (ids,) = feed.values()
    assert ids.shape == (1, 4) and ids.dtype == np.int64 and set(np.unique(ids)) <= {0, 1}


def test_a_model_with_int64_inputs_and_a_symbolic_batch_runs(tmp_path):
    (row,) = benchmark.run([str(embedding_model(tmp_path / "emb.onnx"))], runs=1, warmup=0, relax_models=[],
                           blocks=1, per_kernel=True)
    assert row.lamina_status == "ok", row.notes
    assert row.lamina_diff < 1e-4 and row.kernel_times


# ---------------------------------------------------------------------------------------------
# blocks


def test_blocks_alternate_and_the_best_block_median_wins():
    """Fake clocks: each call of a side takes the next scripted time. The blocks run A B A B A B,
    each block its warm-up calls then its timed runs, and a side's latency is the smallest of its
    block medians."""
    now = [0.0]
    calls = []
    script = {"a": iter([9, 3, 1, 5] + [9, 7, 7, 7] + [9, 2, 2, 8]),   # warm-up, then 3 runs, per block
              "b": iter([9, 4, 4, 4] + [9, 1, 6, 6] + [9, 5, 5, 5])}

    def side(name):
        def call():
            calls.append(name)
            now[0] += next(script[name])
        return call

    medians = benchmark.time_in_blocks({"a": side("a"), "b": side("b")}, runs=3, warmup=1, blocks=3,
                                       clock=lambda: now[0])
    assert calls == ["a"] * 4 + ["b"] * 4 + ["a"] * 4 + ["b"] * 4 + ["a"] * 4 + ["b"] * 4
    assert medians == {"a": [3, 7, 2], "b": [4, 6, 5]}
    assert benchmark.best_block(medians["a"]) == 2 and benchmark.best_block(medians["b"]) == 4



def test_placements_wrap_each_block_of_their_side():
    events = []

    @contextlib.contextmanager
    def placed():
        events.append("enter")
        yield
        events.append("exit")

    medians = benchmark.time_in_blocks({"a": lambda: events.append("a"), "b": lambda: events.append("b")},
                                       runs=1, warmup=0, blocks=2, placements={"a": placed})
    assert events == ["enter", "a", "exit", "b"] * 2
    assert len(medians["a"]) == len(medians["b"]) == 2


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux thread affinity and at least 2 cores")
def test_lamina_blocks_run_on_the_cores_tvm_workers_leave_free(monkeypatch):
    allowed = os.sched_getaffinity(0)
    worker_core = max(allowed)
    monkeypatch.delenv("TVM_BIND_THREADS", raising=False)
    monkeypatch.setattr(benchmark, "_pinned_cores", lambda: {worker_core})
    with benchmark.caller_beside_tvm_workers():
        inside = os.sched_getaffinity(0)
    assert inside == allowed - {worker_core}
    assert os.sched_getaffinity(0) == allowed
    monkeypatch.setenv("TVM_BIND_THREADS", "0")  # TVM's workers float: nothing to keep clear of
    with benchmark.caller_beside_tvm_workers():
        assert os.sched_getaffinity(0) == allowed


# ---------------------------------------------------------------------------------------------
# per kernel


def test_per_kernel_rows_are_consistent(rows):
    generators = {"matmul_schedule", "conv_schedule", "nchwc_conv_schedule", "row_reduction_schedule",
                  "default_schedule", "file"}
    for r in rows:
        assert r.kernel_times and len(r.kernel_times) <= r.kernels
        assert [k.index for k in r.kernel_times] == list(range(len(r.kernel_times)))
        for k in r.kernel_times:
            assert math.isfinite(k.seconds) and k.seconds > 0
            assert k.flops is not None and k.flops >= 0
            assert k.generator in generators and k.nodes, k
        assert r.kernel_sum_s == pytest.approx(sum(k.seconds for k in r.kernel_times))
        assert r.in_model_sum_s == pytest.approx(sum(k.in_model_seconds for k in r.kernel_times))
        assert all(k.in_model_seconds > 0 for k in r.kernel_times if k.seconds > 0)
        assert r.outside_s == pytest.approx(r.lamina_s - r.in_model_sum_s)
        cells = benchmark.kernel_cells(r, peak_gflops=100.0)
        share = benchmark.KERNEL_COLUMNS.index("share %")
        assert sum(float(c[share]) for c in cells) == pytest.approx(100, abs=0.05 * len(cells) + 0.01)
        seconds = [float(c[1]) for c in cells]
        assert seconds == sorted(seconds, reverse=True)  # the slowest first
    mlp = rows[0]
    gemms = [k for k in mlp.kernel_times if k.label.startswith("gemm")]
    assert gemms and all(k.generator == "matmul_schedule" and k.flops > 0 and k.gflops() > 0 for k in gemms)
    # fc1 (examples/models/zoo.py): [1, 784] x [784, 256] (2MNK), + bias, relu: one per output each
    fc1 = next(k for k in gemms if "fc1.matmul" in k.nodes)
    assert fc1.flops == 2 * 1 * 256 * 784 + 256 + 256


def test_per_kernel_tables_print_the_gap_and_the_peak_share(rows):
    mlp = rows[0]
    text = benchmark.format_kernel_times(mlp, peak_gflops=100.0).splitlines()
    assert text[0].startswith("mlp: ") and "kernel sum" in text[0] and "in the model" in text[0]
    assert "outside the kernels" in text[0]
    assert text[1].split()[:9] == ["#", "ms", "in", "model", "ms", "share", "%", "MFLOP", "GFLOP/s"]
    assert len(text) == 3 + len(mlp.kernel_times)
    peak = benchmark.KERNEL_COLUMNS.index("% peak")
    for c, k in zip(benchmark.kernel_cells(mlp, 100.0), sorted(mlp.kernel_times, key=lambda k: -k.seconds)):
        assert float(c[peak]) == pytest.approx(k.gflops(), abs=0.06)  # of a 100 GFLOP/s peak
    markdown = benchmark.format_kernel_times(mlp, 100.0, markdown=True).splitlines()
    assert markdown[1] == "" and markdown[2].startswith("| # | ms | in model ms |")
    assert len(markdown) == 4 + len(mlp.kernel_times)
    table = benchmark.format_table(rows).splitlines()[0]
    assert table.endswith("kernel sum ms  in model ms  outside ms  outside %")


def test_a_kernel_scheduled_from_a_file_says_file():
    from lamina.lowering import targets
    from lamina.lowering.build import schedule_op

    module = lamina.parse("""
func.func @main(%a: tensor<64x32xf32>, %b: tensor<32x48xf32>) -> tensor<64x48xf32> {
  %c = nn.matmul %a, %b : (tensor<64x32xf32>, tensor<32x48xf32>) -> tensor<64x48xf32>
  func.return %c : tensor<64x48xf32>
}
""")
    (op,) = [o for o in module.walk() if o.name == "nn.matmul"]
    target = targets.get("llvm")
    default = schedule_op(op, target)
    assert default.generator == "matmul_schedule"
    assert schedule_op(op, target, program=default.program).generator == "file"
