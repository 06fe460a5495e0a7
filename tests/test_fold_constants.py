"""fold-constants: numbers before and after, the size cap, statistics, what is left alone.
(The exact IR is in tests/filecheck/passes/fold_constants.mlir.)"""

from __future__ import annotations

import numpy as np

from lamina.compiler.parser import parse
from lamina.compiler.passes.manager import PassManager
from lamina.compiler.printer import print_ir
from lamina.compiler.testing import check_pass
from lamina.runtime.interpreter import interpret

WEIGHTS = """
func.func @main(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = nn.constant attributes {value = dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [9.0, 10.0, 11.0, 12.0]]> : tensor<3x4xf32>} : () -> tensor<3x4xf32>
  %t = nn.transpose %w attributes {perm = array<i64: 1, 0>} : (tensor<3x4xf32>) -> tensor<4x3xf32>
  %n = nn.neg %t : (tensor<4x3xf32>) -> tensor<4x3xf32>
  %s = nn.shape %x : (tensor<2x4xf32>) -> tensor<2xi64>
  %c = nn.constant_of_shape %s attributes {value = dense<1.5> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<2x4xf32>
  %a = nn.add %x, %c : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %y = nn.matmul %a, %n : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
"""


def _run(text: str, pipeline: str):
    module = parse(text)
    pm = PassManager.parse(pipeline)
    pm.run(module)
    return module, pm.statistics[0][1]


def test_folds_weight_transforms_and_shape_arithmetic_numerically():
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    (expected,) = interpret(parse(WEIGHTS), x)
    module, stats = _run(WEIGHTS, "fold-constants")
    ops = [op.name for op in module.walk()]
    assert ops.count("nn.constant") == 2 and "nn.transpose" not in ops and "nn.shape" not in ops
    assert "nn.constant_of_shape" not in ops and "nn.neg" not in ops
    assert stats["ops folded"] == 4
    (got,) = interpret(module, x)
    np.testing.assert_array_equal(got, expected)


def test_size_cap_keeps_large_results_as_ops():
    module, stats = _run(WEIGHTS, "fold-constants{max-elements=4}")
    names = [op.name for op in module.walk()]
    assert "nn.transpose" in names and "nn.constant_of_shape" in names  # 12 and 8 elements
    assert "nn.shape" not in names  # 2 elements: folded
    assert stats["too large"] >= 1


def test_unfoldable_ops_are_left_alone():
    text = """
func.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
  %y = nn.relu %x : (tensor<3xf32>) -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}
"""
    module, stats = _run(text, "fold-constants")
    assert "nn.relu" in print_ir(module) and stats["ops folded"] == 0


def test_fold_constants_keeps_meaning_on_random_graphs():
    result = check_pass("fold-constants")
    assert result.ok, result.report()
