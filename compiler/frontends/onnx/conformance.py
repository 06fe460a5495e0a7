"""Run ONNX's backend node tests (`onnx.backend.test.case.node`) through lamina.

For every test case whose nodes are all ops in the converter table:
  1. bind constant inputs: ONNX's node tests feed shape-like inputs (Reshape's `shape`, Slice's
     `starts`, Clip's `min`, ...) as graph inputs with data; lamina resolves these at import, so
     each graph input that a node reads at an index listed in `CONSTANT_INPUTS`, or that such an
     input is computed from (the `_expanded` cases do arithmetic on shapes), becomes an
     initializer holding the test's data (one import per data set);
  2. import the model with `load_onnx` and verify the module;
  3. run it with a backend, a callable `run(module, inputs) -> outputs`: the reference
     interpreter (the default) or `compiled_backend`, TVM kernels for the CPU;
  4. compare with the expected outputs: floats with rtol 1e-4 / atol 1e-5 (or the case's own
     tolerance when looser), integers and bools exactly, shapes and dtypes exactly.

Cases lamina does not run are excluded in ONE place, `EXCLUDED` (a test-name pattern -> why),
plus the automatic rule that a case whose inputs or outputs have an element type lamina lacks
(string, complex, float8, int4, sequences, optionals) is excluded for that reason. Beside it,
`COMPILED_EXCLUDED` lists the cases only the compiled backend skips (pass it as `excluded`).
"""

from __future__ import annotations

import fnmatch
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from lamina.compiler.errors import LaminaError
from lamina.compiler.verifier import verify

from .converters import CONSTANT_INPUTS, CONVERTERS
from .importer import dtype_supported, load_onnx

Backend = Callable[[object, list], list]

RTOL, ATOL = 1e-4, 1e-5

# Test-name patterns (fnmatch) -> why lamina does not run them. The one place for exclusions.
EXCLUDED: dict[str, str] = {
    # features outside the nn table
    "test_training_dropout*": "Dropout in training mode (random); lamina imports inference graphs",
    "test_batchnorm_*_training_mode*": "BatchNormalization in training mode",
    "test_maxpool_with_argmax*": "MaxPool's Indices output is not in the nn table",
    "test_maxpool_3d*": "3-D pooling: nn pools are 2-D",
    "test_averagepool_3d*": "3-D pooling: nn pools are 2-D",
    "test_resize_tf_crop_and_resize*": "tf_crop_and_resize (roi) is not in nn.resize",
    "test_resize_*cubic*": "cubic interpolation is not in nn.resize",
    "test_resize_*antialias*": "antialiased resize is not in nn.resize",
    "test_resize_*_not_larger": "keep_aspect_ratio_policy is not in nn.resize",
    "test_resize_*_not_smaller": "keep_aspect_ratio_policy is not in nn.resize",
    "test_averagepool_2d_dilations": "dilations are not in nn.avg_pool2d",
    "test_spacetodepth_crd_mode*": "SpaceToDepth's CRD mode (opset 25) is not in nn.space_to_depth",
    "test_resize_downsample_scales_nearest": "fractional scales (0.6): nn.resize has no scales attribute",
    "test_resize_downsample_scales_linear*": "fractional scales (0.6): nn.resize has no scales attribute",
    "test_resize_upsample_scales_linear_half_pixel_symmetric": "fractional scales (2.3, 2.94): nn.resize "
                                                               "has no scales attribute",
    "test_mod_*": "Mod on run-time tensors: nn has no mod op (lamina folds Mod on constants only)",
    "test_maxpool_2d_uint8": "nn.max_pool2d takes float tensors only",
    "test_pad_*wrap*": "wrap padding is not in nn.pad",
    "test_wrap_pad*": "wrap padding is not in nn.pad",
}

# Test-name patterns -> why the compiled backend does not run them although the interpreter does
# (an op whose TE lowering needs something the case lacks, a dtype TVM cannot compile). Empty:
# every case above builds and passes with TVM 0.27 on the CPU.
COMPILED_EXCLUDED: dict[str, str] = {
}

# Cases that run but fail because of a bug below the front-end (an nn op, the IR core): the
# conformance test expects them to fail (strict xfail), so a fix shows up as an XPASS to remove.
KNOWN_FAILURES: dict[str, str] = {
}


def exclusion_reason(case, excluded: dict[str, str] | None = None) -> str | None:
    """Why `case` is not run (EXCLUDED, then a backend's own `excluded`), or None."""
    for pattern, reason in {**EXCLUDED, **(excluded or {})}.items():
        if fnmatch.fnmatchcase(case.name, pattern):
            return reason
    graph = case.model.graph
    for info in [*graph.input, *graph.output]:
        kind = info.type.WhichOneof("value")
        if kind != "tensor_type":
            return f"'{info.name}' is a {kind}, not a tensor"
        if not dtype_supported(info.type.tensor_type.elem_type):
            from onnx import TensorProto

            return f"element type {TensorProto.DataType.Name(info.type.tensor_type.elem_type)}"
    return None


@dataclass
class CaseResult:
    name: str
    status: str  # "passed", "failed", "excluded", "unsupported"
    detail: str = ""
    ops: tuple = ()


@dataclass
class Summary:
    results: list[CaseResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    def unsupported_ops(self) -> Counter:
        """Unsupported op type -> how many cases it blocks."""
        c = Counter()
        for r in self.results:
            if r.status == "unsupported":
                c.update(set(op for op in r.ops if op not in CONVERTERS))
        return c

    def line(self) -> str:
        return (f"ONNX node tests: {self.count('passed')} passed, {self.count('excluded')} excluded, "
                f"{len(self.unsupported_ops())} unsupported ops ({self.count('unsupported')} cases), "
                f"{self.count('failed')} failed")


def interpreter_backend(module, inputs: list) -> list:
    from lamina.runtime.interpreter import interpret

    return interpret(module, *inputs)


def compiled_backend(module, inputs: list) -> list:
    """One TVM kernel per op, built for the CPU (kernels cached in $LAMINA_CACHE_DIR)."""
    from lamina.runtime.executor import compile

    return compile(module)(*inputs)


def node_cases():
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [c for c in collect_testcases() if c.kind == "node"]


def case_ops(case) -> tuple:
    return tuple(sorted({n.op_type for n in case.model.graph.node}))


def constant_sources(graph) -> set[str]:
    """Names of the values that a constant input (CONSTANT_INPUTS) is read from or computed
    from, through any chain of nodes (Shape and Size read only their input's static shape)."""
    producer = {out: node for node in graph.node for out in node.output}
    todo = [node.input[i] for node in graph.node for i in CONSTANT_INPUTS.get(node.op_type, ())
            if i < len(node.input) and node.input[i]]
    seen = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        node = producer.get(name)
        if node is not None and node.op_type not in ("Shape", "Size"):
            todo.extend(n for n in node.input if n)
    return seen


def bind_constant_inputs(model, inputs: list):
    """A copy of `model` whose graph inputs read as constants (see CONSTANT_INPUTS) are
    initializers holding `inputs`' data, and the inputs that stay graph inputs."""
    from onnx import numpy_helper

    graph = model.graph
    initialized = {t.name for t in graph.initializer}
    feeds = [i for i in graph.input if i.name not in initialized]
    bound = constant_sources(graph) & {f.name for f in feeds}
    if not bound:
        return model, list(inputs)
    copy = type(model)()
    copy.CopyFrom(model)
    keep, remaining = [], []
    for info, value in zip(feeds, inputs):
        if info.name in bound:
            copy.graph.initializer.append(numpy_helper.from_array(np.asarray(value), info.name))
        else:
            keep.append(info)
            remaining.append(value)
    del copy.graph.input[:]
    copy.graph.input.extend(keep)
    return copy, remaining


def as_array(value) -> np.ndarray:
    """Test data is numpy arrays or, for types numpy lacks (bf16), TensorProtos."""
    if hasattr(value, "data_type") and hasattr(value, "dims"):
        from onnx import numpy_helper

        return numpy_helper.to_array(value)
    return np.asarray(value)


# half-precision results are compared at their own precision (computing a decomposed op in f16
# or bf16 rounds at every step, where ONNX's expected values were rounded once)
HALF_TOLERANCE = {"float16": 1e-3, "bfloat16": 1e-2}


def compare(name: str, got, want, rtol: float, atol: float) -> str | None:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"{name}: shape {got.shape} != expected {want.shape}"
    if got.dtype != want.dtype:
        return f"{name}: dtype {got.dtype} != expected {want.dtype}"
    if want.dtype.name in HALF_TOLERANCE:
        rtol = atol = max(rtol, HALF_TOLERANCE[want.dtype.name])
    if want.dtype.kind in "fc" or want.dtype.name == "bfloat16":
        ok = np.isclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True)
        if not ok.all():
            err = np.abs(got.astype(np.float64) - want.astype(np.float64))
            return f"{name}: {int((~ok).sum())} of {ok.size} elements differ (max abs error {np.nanmax(err):.3g})"
        return None
    if not np.array_equal(got, want):
        return f"{name}: {int((got != want).sum())} of {got.size} elements differ"
    return None


def run_case(case, backend: Backend = interpreter_backend, excluded: dict[str, str] | None = None) -> CaseResult:
    ops = case_ops(case)
    if any(op not in CONVERTERS for op in ops):
        return CaseResult(case.name, "unsupported", ", ".join(op for op in ops if op not in CONVERTERS), ops)
    reason = exclusion_reason(case, excluded)
    if reason is not None:
        return CaseResult(case.name, "excluded", reason, ops)
    rtol, atol = max(RTOL, case.rtol), max(ATOL, case.atol)
    out_names = [o.name for o in case.model.graph.output]
    for inputs, expected in case.data_sets:
        inputs, expected = [as_array(v) for v in inputs], [as_array(v) for v in expected]
        model, feeds = bind_constant_inputs(case.model, inputs)
        try:
            module = load_onnx(model)
            verify(module)
            with np.errstate(all="ignore"):
                outputs = backend(module, feeds)
        except LaminaError as e:
            return CaseResult(case.name, "failed", f"{type(e).__name__}: {e.message}", ops)
        except Exception as e:  # a bug below the front-end: report it, keep running the others
            return CaseResult(case.name, "failed", f"crash {type(e).__name__}: {e}", ops)
        for name, got, want in zip(out_names, outputs, expected):
            problem = compare(name, got, want, rtol, atol)
            if problem:
                return CaseResult(case.name, "failed", problem, ops)
    return CaseResult(case.name, "passed", "", ops)


def run_all(backend: Backend = interpreter_backend, cases=None, excluded: dict[str, str] | None = None) -> Summary:
    return Summary([run_case(c, backend, excluded) for c in (cases if cases is not None else node_cases())])
