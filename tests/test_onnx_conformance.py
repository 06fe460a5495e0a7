"""ONNX backend node tests through lamina's ONNX importer and a backend.

The harness is `lamina.compiler.frontends.onnx.conformance` (read its docstring for how inputs
are bound and what is excluded). Every case whose ops lamina imports and that is not excluded is
one test here, per backend; a session summary asserts the pass count does not drop below the
measured floor, and docs/onnx-ops.md must match what this run produces.

A second backend plugs in by adding a callable `run(module, inputs) -> outputs` to BACKENDS.
"""

import os

import pytest

onnx = pytest.importorskip("onnx")

from lamina.compiler.frontends.onnx import conformance, report  # noqa: E402

BACKENDS = {"interpreter": conformance.interpreter_backend}

# measured with the interpreter backend; raise it when more cases pass, never lower it silently
PASS_FLOOR = 885

CASES = conformance.node_cases()
RUNNABLE = [c for c in CASES
            if all(op in conformance.CONVERTERS for op in conformance.case_ops(c))
            and conformance.exclusion_reason(c) is None]

_summaries: dict = {}


def summary_for(backend_name: str) -> conformance.Summary:
    if backend_name not in _summaries:
        _summaries[backend_name] = conformance.run_all(BACKENDS[backend_name], CASES)
    return _summaries[backend_name]


def _params():
    for backend in BACKENDS:
        for case in RUNNABLE:
            marks = []
            if case.name in conformance.KNOWN_FAILURES:
                marks.append(pytest.mark.xfail(reason=conformance.KNOWN_FAILURES[case.name], strict=True))
            yield pytest.param(backend, case.name, id=f"{backend}-{case.name}", marks=marks)


@pytest.mark.parametrize("backend,name", list(_params()))
def test_node_case(backend, name):
    result = next(r for r in summary_for(backend).results if r.name == name)
    assert result.status == "passed", result.detail


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_summary(backend, capsys):
    summary = summary_for(backend)
    with capsys.disabled():
        print(f"\n[{backend}] {summary.line()}")
    assert summary.count("passed") >= PASS_FLOOR, summary.line()


def test_ops_doc_is_current():
    """docs/onnx-ops.md is generated; LAMINA_UPDATE_DOCS=1 rewrites it from this run."""
    text = report.render(summary_for("interpreter"))
    path = report.DEFAULT_OUTPUT
    if os.environ.get("LAMINA_UPDATE_DOCS"):
        path.write_text(text)
    assert path.exists() and path.read_text() == text, (
        "docs/onnx-ops.md is stale: run `python -m lamina.compiler.frontends.onnx.report` "
        "(or this test with LAMINA_UPDATE_DOCS=1)")


def test_binding_turns_shape_inputs_into_initializers():
    case = next(c for c in CASES if c.name == "test_reshape_reordered_all_dims")
    inputs, _ = case.data_sets[0]
    model, feeds = conformance.bind_constant_inputs(case.model, [conformance.as_array(v) for v in inputs])
    assert [i.name for i in model.graph.input] == ["data"]
    assert [t.name for t in model.graph.initializer] == ["shape"]
    assert len(feeds) == 1
    assert [i.name for i in case.model.graph.input] == ["data", "shape"]  # the original is untouched
