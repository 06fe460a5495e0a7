"""combine-ops (compiler/passes/combine_ops.py): the fusion/transform catalogue keeps every result.

- each function of the FileCheck tests (tests/filecheck/passes/combine-*.mlir) gives the same
  arrays in the reference interpreter before and after the pass, and every pattern of the
  catalogue fires there;
- `check_pass` on random nn graphs drawn with the catalogue's kinds: the meaning is kept and
  every pattern fires at least once over the 300 graphs;
- a second run fires nothing (FileCheck examples, zoo models, random graphs);
- a planted copy of FuseMulIntoLayerNorm without its shape guard is caught by check_pass;
- `--explain-patterns`' API names the failed precondition and where;
- nn.channel_shuffle: its TE compute equals its interpret.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from lamina.compiler.errors import PassError
from lamina.compiler.ir import Operation
from lamina.compiler.parser import parse
from lamina.compiler.passes.combine_ops import CombineOpsPass, catalogue
from lamina.compiler.passes.canonicalize import canonicalization_patterns
from lamina.compiler.passes.manager import PassManager
from lamina.compiler.passes.pass_base import Pass, register_pass
from lamina.compiler.rewrite import apply_patterns_greedily
from lamina.compiler.testing import CATALOGUE_KINDS, NN_GRAPH_KINDS, check_pass, nn_graphs, random_inputs
from lamina.compiler.verifier import verify
from lamina.dialects.nn import recognize
from lamina.runtime.interpreter import interpret

FILECHECK = Path(__file__).parent / "filecheck" / "passes"
EXAMPLES = {path.name: path for path in sorted(FILECHECK.glob("combine-*.mlir"))}
OPTIONS = {"combine-options.mlir": ["combine-ops{conv1x1-to-gemm=true}", "combine-ops{gemm-to-conv1x1=true}"]}
ALL_PATTERNS = {p.name for p in catalogue(True, True)}
OPTION_PATTERNS = {"Conv1x1ToGemm", "GemmToConv1x1"}


def run(module, pipeline: str = "combine-ops", **options) -> dict:
    """Run `pipeline` on `module` in place (verified); what fired, pattern name -> count."""
    pm = PassManager.parse(pipeline, **options)
    pm.run(module)
    fired = {}
    for _, stats in pm.statistics:
        fired.update(stats)
    return fired


def functions(module):
    return [op for op in module.walk() if op.name == "func.func"]


def interpret_all(module, inputs: dict) -> dict:
    return {name: interpret(module, *args, function=name) for name, args in inputs.items()}


def example_inputs(module, rng) -> dict:
    return {fn.sym_name.value: [rng.standard_normal(a.type.shape).astype(np.float32) for a in fn.entry.args]
            for fn in functions(module)}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_filecheck_examples_keep_results_and_second_run_fires_nothing(name):
    for pipeline in OPTIONS.get(name, ["combine-ops"]):
        module = parse(EXAMPLES[name].read_text(), str(EXAMPLES[name]))
        inputs = example_inputs(module, np.random.default_rng(0))
        before = interpret_all(module, inputs)
        fired = run(module, pipeline)
        assert set(fired) - {"dead op", "fold"}, f"nothing fired on {name}"
        after = interpret_all(module, inputs)
        for fn in before:
            for b, a in zip(before[fn], after[fn]):
                assert a.shape == b.shape and a.dtype == b.dtype, fn
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=f"{name} @{fn}")
        assert run(module, pipeline) == {}, f"a second {pipeline} on {name} fired"


def test_every_pattern_fires_on_the_filecheck_examples():
    fired = set()
    for name, path in EXAMPLES.items():
        for pipeline in OPTIONS.get(name, ["combine-ops"]):
            fired |= set(run(parse(path.read_text(), str(path)), pipeline))
    assert ALL_PATTERNS - fired == set()


def test_check_pass_on_catalogue_graphs_fires_every_pattern():
    """300 graphs mixing the catalogue's input patterns (with near misses) and ordinary ops keep
    their meaning; and on 200 more drawn from the catalogue kinds alone (so that each is drawn
    often whatever order hypothesis draws them in), every pattern fires at least once."""
    graphs = nn_graphs(kinds=CATALOGUE_KINDS + NN_GRAPH_KINDS)
    result = check_pass("combine-ops", seed=0, graphs=graphs)
    assert result.ok, result.report()
    assert result.examples >= 300
    focused = check_pass("combine-ops", examples=200, seed=1, graphs=nn_graphs(kinds=CATALOGUE_KINDS))
    assert focused.ok, focused.report()
    fired = set(result.statistics) | set(focused.statistics)
    assert ALL_PATTERNS - OPTION_PATTERNS - fired == set(), (result.statistics, focused.statistics)


@pytest.mark.parametrize("option", ["conv1x1-to-gemm", "gemm-to-conv1x1"])
def test_check_pass_with_each_option(option):
    graphs = nn_graphs(kinds=("conv_bias_bn", "matmul_gemm", "pool", "reshape"))
    result = check_pass(f"combine-ops{{{option}=true}}", examples=100, seed=0, graphs=graphs)
    assert result.ok, result.report()


def test_both_options_at_once_is_an_error():
    module = parse("func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n  func.return %x : tensor<2xf32>\n}")
    with pytest.raises(PassError, match="undo each other"):
        CombineOpsPass(conv1x1_to_gemm=True, gemm_to_conv1x1=True).run(module)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(nn_graphs(kinds=CATALOGUE_KINDS + NN_GRAPH_KINDS))
def test_second_run_on_random_graphs_fires_nothing(module):
    run(module)
    assert run(module) == {}


@pytest.mark.parametrize("name, expected", [
    ("resnet18", {"FuseBatchNormIntoConv": 20}),
    ("mobilenetv2", {"FuseBatchNormIntoConv": 52}),
    ("transformer_block", {"ErfGeluToGelu": 1}),
    ("mlp", {"MatMulAddToGemm": 3}),
])
def test_zoo_models_keep_results(name, expected, zoo):
    from lamina.compiler.frontends.onnx.importer import load_onnx

    path = zoo / f"{name}.onnx"
    module = load_onnx(path)
    inputs = random_inputs(module, 0)
    before = interpret(module, *inputs)
    fired = run(module)
    verify(module)
    for pattern, count in expected.items():
        assert fired.get(pattern) == count, fired
    assert not any(op.name == "nn.batch_norm" for op in module.walk())  # every one folded
    after = interpret(module, *inputs)
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(np.abs(b).max()))
    assert run(module) == {}


# -- the planted bug: the layer-norm scale fusion without its shape guard ---------------------------


class UnguardedFuseMulIntoLayerNorm(recognize.FuseMulIntoLayerNorm):
    """WRONG on purpose (test only): FuseMulIntoLayerNorm with its shape guard removed."""

    @staticmethod
    def shape_guard(op, ln, gamma):
        return None


@register_pass
@dataclass(frozen=True)
class UnguardedCombineOpsPass(Pass):
    """combine-ops with the unguarded layer-norm fusion in place of the real one (test only)."""

    name = "test-combine-ops-unguarded"
    summary = "combine-ops with a planted wrong pattern, for check_pass's test"

    def run(self, module: Operation) -> None:
        patterns = [UnguardedFuseMulIntoLayerNorm() if isinstance(p, recognize.FuseMulIntoLayerNorm) else p
                    for p in catalogue()] + canonicalization_patterns()
        apply_patterns_greedily(module, patterns, stats=self.statistics)


def test_layer_norm_fusion_without_its_shape_guard_is_caught():
    result = check_pass("test-combine-ops-unguarded", examples=300, seed=0,
                        graphs=nn_graphs(kinds=("layer_norm",), max_ops=1))
    assert not result.ok
    report = result.report()
    assert "smallest graph" in report and "produced invalid IR" in result.message, report
    # the shrunk graph: a decomposed layer norm whose output is multiplied by a gamma that does
    # not broadcast to the normalized shape (here it makes the product larger than x)
    lines = result.before.splitlines()
    assert any(" = nn.div " in line for line in lines) and "nn.layer_norm" not in result.before
    (mul,) = [line for line in lines if " = nn.mul " in line]
    div_type = next(line for line in lines if " = nn.div " in line).rsplit("-> ", 1)[1]
    assert mul.rsplit("-> ", 1)[1] != div_type, report  # gamma broadcast the result to another shape


def test_the_real_fusion_passes_the_same_graphs():
    result = check_pass("combine-ops", examples=300, seed=0, graphs=nn_graphs(kinds=("layer_norm",), max_ops=3))
    assert result.ok, result.report()
    assert result.statistics["DecomposedLayerNormToLayerNorm"] > 0


# -- explain-patterns -------------------------------------------------------------------------------

EXPLAIN_INPUT = """\
func.func @f(%x: tensor<1x2x3x3xf32>, %s: tensor<3xf32>) -> (tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>) {
  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x2x1x1xf32>} : () -> tensor<3x2x1x1xf32>
  %p = nn.constant attributes {value = dense<1.000000e+00> : tensor<3xf32>} : () -> tensor<3xf32>
  %0 = nn.conv2d %x, %w : (tensor<1x2x3x3xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x3x3xf32>
  %1 = nn.batch_norm %0, %s, %p, %p, %p : (tensor<1x3x3x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3x3x3xf32> loc("bn1")
  func.return %0, %1 : tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>
}
"""


def test_explain_patterns_names_the_failed_precondition_and_where():
    import io

    module = parse(EXPLAIN_INPUT, "explain.mlir")
    stream = io.StringIO()
    pm = PassManager.parse("combine-ops{max-iterations=10}", explain_patterns=True, stream=stream)
    pm.run(module)
    (p, failures), = pm.match_failures
    assert p.name == "combine-ops"
    bn = [f for f in failures if f.pattern == "FuseBatchNormIntoConv"]
    assert [f.precondition for f in bn] == ["conv-single-use"]
    assert bn[0].op.name == "nn.batch_norm" and bn[0].where == 'explain.mlir:5:8 loc("bn1")'
    assert [f.precondition for f in failures if f.pattern == "BatchNormToMulAdd"] == ["bn-params-constant"]
    report = stream.getvalue()
    assert report == pm.explain_report()
    assert "Pattern explanation report" in report
    block = report[report.index("  FuseBatchNormIntoConv"):]
    assert block.splitlines()[1].strip() == "conv-single-use (1):"
    assert block.splitlines()[2].strip() == 'nn.batch_norm at explain.mlir:5:8 loc("bn1")'


def test_explain_patterns_lists_only_ops_still_in_the_ir():
    module = parse(EXPLAIN_INPUT.replace("%0, %s, %p", "%0, %p, %p"), "explain.mlir")
    pm = PassManager.parse("combine-ops", explain_patterns=True)
    pm.run(module)
    (_, failures), = pm.match_failures
    assert failures and all(f.op.parent is not None for f in failures)
    # with constant parameters the batch norm became a mul and an add (the conv has two users):
    # what failed on it on the way is not reported, what failed on the new mul is
    assert not any(f.op.name == "nn.batch_norm" for f in failures)
    assert ("FuseMulIntoConvWeights", "conv-single-use") in {(f.pattern, f.precondition) for f in failures}


def test_without_explain_nothing_is_recorded():
    module = parse(EXPLAIN_INPUT, "explain.mlir")
    pm = PassManager.parse("combine-ops")
    pm.run(module)
    assert pm.match_failures == []


def test_canonicalize_eliminations_explain_too():
    module = parse("""\
func.func @f(%x: tensor<1x4x5x5xf32>) -> tensor<1x4x3x3xf32> {
  %0 = nn.max_pool2d %x attributes {kernel_shape = array<i64: 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x4x5x5xf32>) -> tensor<1x4x3x3xf32>
  func.return %0 : tensor<1x4x3x3xf32>
}
""", "pool.mlir")
    pm = PassManager.parse("canonicalize", explain_patterns=True)
    pm.run(module)
    (_, failures), = pm.match_failures
    assert [(f.pattern, f.precondition, f.where) for f in failures] == [
        ("EliminateUnitPool", "unit-window-and-stride", "pool.mlir:2:8")]


# -- nn.channel_shuffle -----------------------------------------------------------------------------


def test_channel_shuffle_interpret_moves_channel_c_to_its_place():
    from lamina.compiler.types import RankedTensorType, f32
    from lamina.dialects.nn.base import integer
    from lamina.dialects.nn.shape import ChannelShuffleOp

    x = np.arange(6, dtype=np.float32).reshape(1, 6, 1, 1)
    op = ChannelShuffleOp(operands=[], result_types=[RankedTensorType((1, 6, 1, 1), f32)],
                          properties={"groups": integer(2)})
    # groups [0 1 2] [3 4 5] interleaved: 0 3 1 4 2 5
    assert op.interpret(x).reshape(-1).tolist() == [0, 3, 1, 4, 2, 5]


def test_channel_shuffle_te_compute_equals_interpret():
    from lamina.compiler.ir import Block
    from lamina.compiler.types import RankedTensorType, f32
    from lamina.dialects.nn.base import integer
    from lamina.dialects.nn.shape import ChannelShuffleOp
    from lamina.lowering import tvm_adapter
    from lamina.lowering.build import build_op

    x = np.random.default_rng(0).standard_normal((2, 6, 3, 2)).astype(np.float32)
    t = RankedTensorType(x.shape, f32)
    block = Block([t])
    op = ChannelShuffleOp(operands=block.args, result_types=[t], properties={"groups": integer(3)})
    block.append(op)
    kernel = build_op(op, "llvm", threads=1).kernel
    (got,) = kernel.run([x], [x.shape], [np.float32])
    np.testing.assert_array_equal(got, op.interpret(x))
