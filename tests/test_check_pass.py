"""check_pass: random nn graphs run by the interpreter before and after a pass must agree.

Budget (CI profile, one core): each interpreter-only check below runs 300 graphs in about 2 s;
the compiled ones build kernels (about 35 s for 300 graphs with a cold cache)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from lamina.compiler.cli import main
from lamina.compiler.ir import Operation
from lamina.compiler.passes.pass_base import Pass, register_pass
from lamina.compiler.testing import (CATALOGUE_KINDS, NN_GRAPH_KINDS, CheckResult, check_pass,
                                     default_examples, nn_graphs, random_inputs)
from lamina.compiler.verifier import verify
from lamina.runtime.interpreter import interpret


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(nn_graphs())
def test_nn_graphs_verify_and_run(module):
    verify(module)
    outs = interpret(module, *random_inputs(module, 0))
    assert outs


@pytest.mark.parametrize("pipeline", ["fold-constants", "canonicalize", "cse", "dce",
                                      "canonicalize,cse,dce,fold-constants", "-O1", "-O2", "-O3"])
def test_passes_keep_meaning(pipeline):
    """300 graphs each (5,000 with HYPOTHESIS_PROFILE=thorough); -O2 and -O3 on graphs that
    also hold the catalogue's patterns, so that combine-ops and fuse have work to do."""
    graphs = nn_graphs(kinds=NN_GRAPH_KINDS + CATALOGUE_KINDS) if pipeline in ("-O2", "-O3") else None
    result = check_pass(pipeline, graphs=graphs)
    assert result.ok, result.report()
    assert result.examples >= default_examples() >= 300


@pytest.mark.parametrize("layout,examples", [("", None), ("NHWC", 100), ("NCHW2c", 100)])
def test_optimized_and_compiled_graphs_keep_meaning(layout, examples, tmp_path, monkeypatch):
    """The whole -O3 pipeline (with a layout conversion) and then the kernels built for the CPU,
    against the interpreter on the graph before any pass: 300 graphs at -O3 (about 35 s with a
    cold kernel cache), 100 with each layout."""
    from lamina.compiler.passes.presets import pipeline_for

    monkeypatch.setenv("LAMINA_CACHE_DIR", str(tmp_path))
    pipeline = pipeline_for(3, layout) if layout else "-O3"
    result = check_pass(pipeline, examples=examples, compile=True,
                        graphs=nn_graphs(kinds=NN_GRAPH_KINDS + CATALOGUE_KINDS))
    assert result.ok, result.report()
    assert result.examples >= (examples or default_examples())
    assert result.summary().endswith("random nn graphs") and "+ compile" in result.summary()


def test_pass_instance():
    from lamina.compiler.passes.fold_constants import FoldConstantsPass

    result = check_pass(FoldConstantsPass(max_elements=8), examples=50, seed=3)
    assert result.ok and "max-elements=8" in result.summary()


# -- a planted wrong pass: sub(a, b) -> sub(b, a) ------------------------------------------------


@register_pass
@dataclass(frozen=True)
class SwapSubOperandsPass(Pass):
    """WRONG on purpose (test only): nn.sub(a, b) -> nn.sub(b, a)."""

    name = "test-swap-sub"
    summary = "a planted wrong rewrite for check_pass's test"

    def run(self, module: Operation) -> None:
        for op in list(module.walk()):
            if op.name == "nn.sub":  # (broadcasting is symmetric: the type stays valid)
                a, b = op.operands
                op.set_operand(0, b)
                op.set_operand(1, a)


def _compute_ops(text: str) -> list[str]:
    return [line.split("=", 1)[1].split()[0] for line in text.splitlines()
            if " = nn." in line and "nn.constant " not in line]


def test_planted_wrong_pass_is_caught_with_the_smallest_graph():
    result = check_pass("test-swap-sub", examples=300, seed=0)
    assert not result.ok
    report = result.report()
    assert "smallest graph" in report and "max difference" in report
    assert _compute_ops(result.before) == ["nn.sub"], report   # one sub op, nothing else
    assert result.max_diff > 0
    assert result.before.count("func.func") == 1


def test_cli_check_pass_ok(capsys):
    assert main(["check-pass", "dce", "--examples", "20"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK") and "20" in out and len(out.strip().splitlines()) == 1


def test_cli_check_pass_level_and_compile(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LAMINA_CACHE_DIR", str(tmp_path))
    assert main(["check-pass", "-O3", "--compile", "--examples", "10", "--seed", "1"]) == 0
    assert capsys.readouterr().out.startswith("OK: '-O3 + compile' kept the meaning of 10 random nn graphs")
    assert main(["check-pass", "dce", "-O1"]) == 1  # a name or a level, not both
    assert "not both" in capsys.readouterr().err


def test_cli_check_pass_failure(capsys):
    assert main(["check-pass", "test-swap-sub", "--examples", "200", "--seed", "0"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "nn.sub" in out


def test_check_result_is_falsy_on_failure():
    assert not CheckResult("x", False, 1, "a", "b", [np.zeros(1)], 1.0, "output #0 differs")


def test_public_name_lamina_testing():
    """Pass authors import the checker as lamina.testing (the issue's name for it)."""
    import lamina.compiler.testing
    import lamina.testing

    assert lamina.testing.check_pass is lamina.compiler.testing.check_pass
    assert lamina.testing.nn_graphs is lamina.compiler.testing.nn_graphs
