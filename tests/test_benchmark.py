"""The model benchmark (lamina.runtime.benchmark, bench/models.py) on the two tiny models, as a
smoke test: a row per model, numbers in every column that ran, outputs that agree with
onnxruntime. Nothing here asserts a time."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from lamina.runtime import benchmark

ZOO_SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "models" / "zoo.py"


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("lamina_model_zoo", ZOO_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("zoo")
    assert module.main(["--out", str(out), "mlp", "glue"]) == 0
    return out


@pytest.fixture(scope="module")
def rows(zoo):
    return benchmark.run(["mlp", "glue"], runs=2, warmup=1, relax_models=["mlp"], zoo=zoo)


def test_a_row_per_model_with_numbers(rows):
    assert [r.model for r in rows] == ["mlp", "glue"]
    for r in rows:
        assert r.lamina_status == "ok", r.notes
        assert r.kernels > 0 and 0 < r.kernels_built <= r.kernels
        for value in (r.cold_compile_s, r.warm_compile_s, r.lamina_s, r.ort_s, r.lamina_ratio):
            assert value is not None and math.isfinite(value) and value > 0
    mlp, glue = rows
    assert mlp.relax_status == "ok", mlp.notes
    assert mlp.relax_s > 0 and mlp.relax_compile_s > 0 and math.isfinite(mlp.relax_ratio)
    assert glue.relax_status == "skipped" and glue.relax_ratio is None


def test_outputs_agree_with_onnxruntime(rows):
    for r in rows:
        assert r.lamina_diff < 1e-4, r.model
    assert rows[0].relax_diff < 1e-4


def test_tables_have_a_row_per_model_with_numeric_ratios(rows):
    columns = benchmark.COLUMNS
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
    assert "median of 1 runs after 0 warm-up runs" in out
    assert any(line.startswith("glue ") for line in out.splitlines())


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
        benchmark.main(["--models", "resnet50"])
    assert e.value.code == 2 and "unknown model resnet50" in capsys.readouterr().err


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
