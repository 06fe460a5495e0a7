"""The nn elimination patterns (dialects/nn/patterns.py) keep every result the same.

Each function of the FileCheck test (tests/filecheck/passes/nn_eliminations.mlir) runs in the
reference interpreter before and after `canonicalize` and must give identical arrays; each pattern
must fire there; a second `canonicalize` must fire nothing. A hypothesis test builds random chains
of shape ops (the inputs these patterns look for, and near misses) and checks the same.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lamina.compiler.attributes import DenseElementsAttr, TypeAttr
from lamina.compiler.builder import Builder
from lamina.compiler.parser import parse
from lamina.compiler.passes.canonicalize import CanonicalizePass
from lamina.compiler.printer import print_ir
from lamina.compiler.types import FunctionType, RankedTensorType, f32
from lamina.compiler.verifier import verify
from lamina.dialects.builtin import ModuleOp
from lamina.dialects.func import FuncOp, ReturnOp
from lamina.dialects.nn import patterns
from lamina.dialects.nn.base import ConstantOp, integer, ints, real
from lamina.dialects.nn.conv import AvgPool2DOp, GlobalAvgPoolOp, GlobalMaxPoolOp, MaxPool2DOp
from lamina.dialects.nn.elementwise import AddOp, CastOp, DropoutOp, IdentityOp, NegOp
from lamina.dialects.nn.shape import (ConcatOp, ExpandOp, FlattenOp, PadOp, ReshapeOp, SliceOp,
                                      SplitOp, SqueezeOp, TransposeOp, UnsqueezeOp)
from lamina.runtime.interpreter import interpret

EXAMPLES = Path(__file__).parent / "filecheck" / "passes" / "nn_eliminations.mlir"
PATTERNS = [name for name, cls in vars(patterns).items()
            if isinstance(cls, type) and cls.__module__ == patterns.__name__
            and issubclass(cls, patterns.RewritePattern)]


def canonicalize(module):
    """Run canonicalize on `module` in place; returns what fired (pattern name -> count)."""
    p = CanonicalizePass()
    p.reset_statistics()
    p.run(module)
    verify(module)
    return dict(p.statistics)


def random_inputs(fn, rng):
    """One random array per parameter of `fn`; a dynamic dim is 1 (valid for every example)."""
    arrays = []
    for arg in fn.entry.args:
        shape = tuple(1 if d is None else d for d in arg.type.shape)
        arrays.append(rng.standard_normal(shape).astype(arg.type.element_type.numpy_dtype))
    return arrays


def functions(module):
    return [op for op in module.walk() if op.name == "func.func"]


def run_all(module, inputs: dict):
    return {name: interpret(module, *args, function=name) for name, args in inputs.items()}


def assert_same(before, after):
    assert before.keys() == after.keys()
    for name in before:
        assert len(before[name]) == len(after[name]), name
        for b, a in zip(before[name], after[name]):
            assert b.shape == a.shape and b.dtype == a.dtype, name
            np.testing.assert_array_equal(a, b, err_msg=name)


def check_examples(seed: int) -> dict:
    module = parse(EXAMPLES.read_text(), str(EXAMPLES))
    rng = np.random.default_rng(seed)
    inputs = {fn.sym_name.value: random_inputs(fn, rng) for fn in functions(module)}
    before = run_all(module, inputs)
    fired = canonicalize(module)
    assert_same(before, run_all(module, inputs))
    return fired


def test_examples_keep_their_results_and_every_pattern_fires():
    fired = check_examples(0)
    missing = [name for name in PATTERNS if not fired.get(name)]
    assert not missing, f"patterns that never fired on the examples: {missing}; fired: {fired}"


def test_second_canonicalize_fires_nothing():
    module = parse(EXAMPLES.read_text(), str(EXAMPLES))
    canonicalize(module)
    text = print_ir(module)
    assert canonicalize(module) == {}
    assert print_ir(module) == text


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 32 - 1))
def test_examples_on_random_inputs(seed):
    check_examples(seed)


# -- random chains of shape ops -------------------------------------------------------------------


@st.composite
def chains(draw):
    """A function `@main(%x)` that applies 1-6 random shape ops to x (the shapes these patterns
    match, and near misses), returning the last value and sometimes an intermediate one too."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    module = ModuleOp.empty()
    fn = FuncOp.create_with_body("main", [_tensor(shape)], ())
    module.block.append(fn)
    b = Builder.at_end(fn.entry)
    values = [fn.entry.args[0]]
    for _ in range(draw(st.integers(1, 6))):
        values.append(draw(_step(b, values[-1])))
    results = [values[-1]]
    if len(values) > 2 and draw(st.booleans()):
        results.append(values[draw(st.integers(1, len(values) - 2))])  # a second use
    b.create(ReturnOp, *results, result_types=[])
    fn.function_type = TypeAttr(FunctionType((fn.entry.args[0].type,), tuple(v.type for v in results)))
    verify(module)
    return module, shape


def _tensor(shape):
    return RankedTensorType(tuple(shape), f32)


@st.composite
def _step(draw, b, v):
    shape = v.type.shape
    rank = len(shape)
    kinds = ["transpose", "reshape", "flatten", "unsqueeze", "identity", "concat_slice", "noop",
             "constant"]
    if rank == 0:  # everything was squeezed away
        kinds = ["unsqueeze", "identity"]
    if 1 in shape:
        kinds.append("squeeze")
    if rank == 4:
        kinds += ["pool", "global_pool"]
    kind = draw(st.sampled_from(kinds))
    if kind == "transpose":
        return b.create(TransposeOp, v, perm=ints(draw(st.permutations(range(rank))))).result
    if kind == "reshape":
        new = list(draw(st.permutations(shape)))
        if draw(st.booleans()):
            new = [int(np.prod(shape))]
        if draw(st.booleans()):
            new[draw(st.integers(0, len(new) - 1))] = -1
        return b.create(ReshapeOp, v, shape=ints(new)).result
    if kind == "flatten":
        return b.create(FlattenOp, v, axis=integer(draw(st.integers(-rank, rank)))).result
    if kind == "unsqueeze":
        if rank >= 5:
            return b.create(IdentityOp, v).result
        k = draw(st.integers(1, 2))
        axes = draw(st.lists(st.integers(0, rank + k - 1), min_size=k, max_size=k, unique=True))
        axes = [a - (rank + k) if draw(st.booleans()) else a for a in axes]
        return b.create(UnsqueezeOp, v, axes=ints(axes)).result
    if kind == "squeeze":
        ones = [i for i, d in enumerate(shape) if d == 1]
        axes = draw(st.lists(st.sampled_from(ones), min_size=1, unique=True))
        return b.create(SqueezeOp, v, axes=ints(axes)).result
    if kind == "identity":
        op = draw(st.sampled_from(["identity", "dropout", "cast"]))
        if op == "identity":
            return b.create(IdentityOp, v).result
        if op == "dropout":
            return b.create(DropoutOp, v, ratio=real(0.5)).result
        return b.create(CastOp, v, result_types=[v.type]).result
    if kind == "concat_slice":
        axis = draw(st.integers(0, rank - 1))
        other = b.create(NegOp, v).result
        operands = [v, other] if draw(st.booleans()) else [other, v]
        cat = b.create(ConcatOp, *operands, axis=integer(axis - rank if draw(st.booleans()) else axis)).result
        n = shape[axis]
        if draw(st.booleans()):  # split it again: into the two halves, or other pieces
            first = draw(st.sampled_from([n, n, draw(st.integers(1, 2 * n - 1))]))
            pieces = b.create(SplitOp, cat, axis=integer(axis), sizes=ints([first, 2 * n - first]))
            return pieces.results[draw(st.integers(0, 1))]
        start, end = draw(st.sampled_from([(0, n), (n, 2 * n), (n, 100), (-n, 2 * n)]))
        if draw(st.booleans()):
            start = draw(st.integers(0, 2 * n - 1))
            end = draw(st.integers(start + 1, 2 * n))
        return b.create(SliceOp, cat, starts=ints([start]), ends=ints([end]), axes=ints([axis]),
                        steps=ints([1])).result
    if kind == "constant":  # v + squeeze(unsqueeze(constant)): the constant folds, the pair cancels
        values = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1))).standard_normal(shape)
        const = b.create(ConstantOp, value=DenseElementsAttr(v.type, values.astype(np.float32))).result
        axis = draw(st.integers(0, rank))
        wide = b.create(UnsqueezeOp, const, axes=ints([axis])).result
        back = b.create(SqueezeOp, wide, axes=ints([axis])).result
        return b.create(AddOp, v, back).result
    if kind == "noop":
        op = draw(st.sampled_from(["slice", "expand", "pad", "transpose"]))
        if op == "slice":
            return b.create(SliceOp, v, starts=ints([0]), ends=ints([100]), axes=ints([0]),
                            steps=ints([1])).result
        if op == "expand":
            return b.create(ExpandOp, v, shape=ints([1] * rank)).result
        if op == "pad":
            return b.create(PadOp, v, pads=ints([0] * 2 * rank)).result
        return b.create(TransposeOp, v, perm=ints(range(rank))).result
    if kind == "pool":
        pool = draw(st.sampled_from([MaxPool2DOp, AvgPool2DOp]))
        stride = draw(st.sampled_from([1, 1, 2]))
        return b.create(pool, v, kernel_shape=ints([1, 1]), strides=ints([stride, stride])).result
    pool = draw(st.sampled_from([GlobalAvgPoolOp, GlobalMaxPoolOp]))
    return b.create(pool, v).result


@settings(max_examples=200, deadline=None)
@given(chains(), st.integers(0, 2 ** 32 - 1))
def test_random_chains_keep_their_results(chain, seed):
    module, shape = chain
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    before = interpret(module, x)
    canonicalize(module)
    after = interpret(module, x)
    assert len(before) == len(after)
    for b, a in zip(before, after):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert canonicalize(module) == {}, print_ir(module)  # a fixpoint: nothing fires again


@pytest.mark.parametrize("name", PATTERNS)
def test_pattern_has_rule_and_source(name):
    doc = getattr(patterns, name).__doc__
    assert "->" in doc.splitlines()[0], name
    assert any(src in doc for src in ("ONNX Runtime", "MNN", "NCNN")), name
