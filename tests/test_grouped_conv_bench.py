"""The grouped-conv benchmark (bench/grouped_conv.py) at one small case, as a smoke test: its
two models compute what onnxruntime computes, and its table has a row per case."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location(
    "grouped_conv_bench", Path(__file__).parent.parent / "bench" / "grouped_conv.py")
grouped_conv = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = grouped_conv  # (its dataclasses look their module up there)
_spec.loader.exec_module(grouped_conv)


def test_the_dense_case_is_one_group_of_the_grouped_one():
    case = grouped_conv.Case("c", 120, 200, 3, 28, 8, 2)
    dense = case.dense()
    assert (dense.cin, dense.cout, dense.k, dense.hw, dense.group, dense.stride) == (15, 25, 3, 28, 1, 2)
    assert case.out_hw == dense.out_hw == 14
    assert case.flops == 8 * dense.flops == 2 * 200 * 15 * 9 * 14 * 14


@pytest.mark.parametrize("case", [grouped_conv.Case("odd", 36, 60, 3, 10, 4, 2),
                                  grouped_conv.Case("odd", 36, 60, 3, 10, 4, 2).dense()])
def test_each_side_computes_what_onnxruntime_does(case):
    ort = pytest.importorskip("onnxruntime")
    side = grouped_conv.Side(case)
    session = ort.InferenceSession(grouped_conv.conv_model(case).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    (expected,) = session.run(None, {"x": side.input})
    (got,) = side.model(side.input)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_the_table_has_a_row_per_chosen_case(capsys):
    assert grouped_conv.main(["--cases", "g8", "--runs", "2", "--rounds", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["case", "grouped", "ms"]
    assert [line.split()[:2] for line in lines[1:-1]] == [["odd", "120->200"]]
    assert lines[-1].startswith("lowest share: ")
