"""Every nn op's TE lowering, built for the CPU, equals its numpy reference (`interpret`) on
random shapes and attributes drawn by hypothesis.

Each op has a case generator: it draws operand arrays and attributes. Building a kernel costs
~0.1 s, so the examples per op are fewer than elsewhere (10 in the ci profile, the profile's
count in the thorough one).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lamina.compiler.ir import Block
from lamina.compiler.opdef import lookup_op
from lamina.compiler.types import RankedTensorType, f32, i1, i64
from lamina.dialects.nn.base import ints, integer, real, string
from lamina.lowering import targets, tvm_adapter
from lamina.lowering.build import build_op
from lamina.lowering.te import COMPUTES

EXAMPLES = 10 if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci" else 200
TARGET = targets.get("llvm", threads=2)
ELEMENT = {np.dtype("float32"): f32, np.dtype("bool"): i1, np.dtype("int64"): i64}


@pytest.fixture(autouse=True, scope="module")
def kernel_cache(tmp_path_factory):
    os.environ["LAMINA_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernels"))


def shapes(min_rank=1, max_rank=4, max_side=5):
    return st.lists(st.integers(1, max_side), min_size=min_rank, max_size=max_rank).map(tuple)


def arrays(draw, shape, dtype="float32", positive=False):
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype == "int64":
        return rng.integers(-5, 6, shape).astype(np.int64)
    a = rng.standard_normal(shape).astype(np.float32)
    return np.abs(a) + 0.5 if positive else a


def broadcastable(draw, shape):
    """A shape that broadcasts against `shape`: a suffix of it with some dims set to 1."""
    tail = shape[len(shape) - draw(st.integers(0, len(shape))):]
    return tuple(1 if draw(st.booleans()) else d for d in tail)


# ---------------------------------------------------------------------------------------------
# case generators: draw -> (arrays, attributes)

CASES = {}


def case(*names):
    def register(fn):
        for n in names:
            CASES[n] = fn
        return fn
    return register


UNARY = ["nn.neg", "nn.abs", "nn.exp", "nn.tanh", "nn.sigmoid", "nn.erf", "nn.relu", "nn.identity",
         "nn.dropout", "nn.hard_swish", "nn.leaky_relu", "nn.gelu", "nn.hard_sigmoid", "nn.clip"]


@case(*UNARY)
def unary(draw, name):
    props = {}
    if name == "nn.leaky_relu":
        props["alpha"] = real(draw(st.floats(0.01, 0.5)))
    if name == "nn.clip":
        props = {"min": real(-0.5), "max": real(draw(st.floats(0.0, 2.0)))}
    if name == "nn.gelu":
        props["approximate"] = string(draw(st.sampled_from(["none", "tanh"])))
    return [arrays(draw, draw(shapes()))], props


@case("nn.log", "nn.sqrt", "nn.reciprocal")
def positive_unary(draw, name):
    return [arrays(draw, draw(shapes()), positive=True)], {}


@case("nn.add", "nn.sub", "nn.mul", "nn.div", "nn.max", "nn.min", "nn.equal", "nn.less", "nn.greater", "nn.prelu")
def binary(draw, name):
    a = draw(shapes())
    b = broadcastable(draw, a)
    if name != "nn.prelu" and draw(st.booleans()):
        a, b = b, a
    return [arrays(draw, a), arrays(draw, b, positive=name == "nn.div")], {}


@case("nn.pow")
def power(draw, name):
    a = draw(shapes())
    return [arrays(draw, a, positive=True), arrays(draw, broadcastable(draw, a))], {}


@case("nn.where")
def where(draw, name):
    a = draw(shapes())
    return [arrays(draw, broadcastable(draw, a), "bool"), arrays(draw, a), arrays(draw, broadcastable(draw, a))], {}


@case("nn.sum")
def nary_sum(draw, name):
    a = draw(shapes())
    return [arrays(draw, a)] + [arrays(draw, broadcastable(draw, a)) for _ in range(draw(st.integers(1, 3)))], {}


@case("nn.reduce_sum", "nn.reduce_mean", "nn.reduce_max", "nn.reduce_min", "nn.reduce_prod")
def reduce(draw, name):
    shape = draw(shapes())
    axes = draw(st.lists(st.integers(-len(shape), len(shape) - 1), max_size=len(shape), unique_by=lambda a: a % len(shape)))
    return [arrays(draw, shape)], {"axes": ints(axes), "keepdims": integer(draw(st.integers(0, 1)))}


@case("nn.softmax", "nn.log_softmax")
def softmax(draw, name):
    shape = draw(shapes())
    return [arrays(draw, shape)], {"axis": integer(draw(st.integers(-len(shape), len(shape) - 1)))}


@case("nn.transpose")
def transpose(draw, name):
    shape = draw(shapes())
    return [arrays(draw, shape)], {"perm": ints(draw(st.permutations(range(len(shape)))))}


@case("nn.channel_shuffle")
def channel_shuffle(draw, name):
    shape = draw(shapes(min_rank=2))
    groups = draw(st.sampled_from([g for g in range(1, shape[1] + 1) if shape[1] % g == 0]))
    return [arrays(draw, shape)], {"groups": integer(groups)}


@case("nn.reshape")
def reshape(draw, name):
    shape = draw(shapes())
    size = int(np.prod(shape))
    return [arrays(draw, shape)], {"shape": ints([size // shape[0], shape[0]])}


@case("nn.flatten")
def flatten(draw, name):
    shape = draw(shapes())
    return [arrays(draw, shape)], {"axis": integer(draw(st.integers(0, len(shape))))}


@case("nn.unsqueeze")
def unsqueeze(draw, name):
    shape = draw(shapes(max_rank=3))
    return [arrays(draw, shape)], {"axes": ints([draw(st.integers(0, len(shape)))])}


@case("nn.squeeze")
def squeeze(draw, name):
    shape = draw(shapes(max_rank=3))
    axis = draw(st.integers(0, len(shape)))
    shape = shape[:axis] + (1,) + shape[axis:]
    return [arrays(draw, shape)], {"axes": ints([axis])}


@case("nn.concat")
def concat(draw, name):
    shape = draw(shapes())
    axis = draw(st.integers(0, len(shape) - 1))
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(shape)
        s[axis] = draw(st.integers(1, 4))
        parts.append(arrays(draw, tuple(s)))
    return parts, {"axis": integer(axis)}


@case("nn.split")
def split(draw, name):
    shape = draw(shapes())
    axis = draw(st.integers(0, len(shape) - 1))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    s = list(shape)
    s[axis] = sum(sizes)
    return [arrays(draw, tuple(s))], {"axis": integer(axis), "sizes": ints(sizes)}


@case("nn.slice")
def slice_(draw, name):
    shape = draw(shapes())
    axis = draw(st.integers(0, len(shape) - 1))
    dim = shape[axis]
    step = draw(st.sampled_from([1, 2, -1]))
    start = draw(st.integers(-dim, dim - 1))
    end = draw(st.integers(-dim - 1, dim + 1))
    return [arrays(draw, shape)], {"starts": ints([start]), "ends": ints([end]), "axes": ints([axis]), "steps": ints([step])}


@case("nn.gather")
def gather(draw, name):
    shape = draw(shapes())
    axis = draw(st.integers(0, len(shape) - 1))
    idx = np.asarray(draw(st.lists(st.integers(-shape[axis], shape[axis] - 1), min_size=1, max_size=4)), np.int64)
    return [arrays(draw, shape), idx], {"axis": integer(axis)}


@case("nn.expand")
def expand(draw, name):
    shape = draw(shapes())
    return [arrays(draw, broadcastable(draw, shape))], {"shape": ints(shape)}


@case("nn.tile")
def tile(draw, name):
    shape = draw(shapes(max_rank=3))
    return [arrays(draw, shape)], {"repeats": ints([draw(st.integers(1, 3)) for _ in shape])}


@case("nn.pad")
def pad(draw, name):
    shape = draw(shapes(max_rank=3, max_side=4))
    mode = draw(st.sampled_from(["constant", "edge", "reflect"]))
    limit = [d - 1 if mode == "reflect" else 2 for d in shape]
    pads = [draw(st.integers(0, m)) for m in limit] + [draw(st.integers(0, m)) for m in limit]
    return [arrays(draw, shape)], {"pads": ints(pads), "mode": string(mode), "value": real(1.5)}


@case("nn.cast")
def cast(draw, name):
    return [arrays(draw, draw(shapes()), "int64")], {}


def image(draw, channels=None, side=8):
    n, c = draw(st.integers(1, 2)), channels or draw(st.integers(1, 4))
    return (n, c, draw(st.integers(3, side)), draw(st.integers(3, side)))


@case("nn.conv2d")
def conv2d(draw, name):
    group = draw(st.sampled_from([1, 2]))
    n, c, h, w = image(draw, channels=2 * draw(st.integers(1, 2)))
    out_c = group * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    props = {"strides": ints([draw(st.integers(1, 2)), draw(st.integers(1, 2))]),
             "pads": ints([draw(st.integers(0, 1)) for _ in range(4)]),
             "dilations": ints([draw(st.integers(1, 2)), 1]), "group": integer(group)}
    x = arrays(draw, (n, c, h + 2, w))
    operands = [x, arrays(draw, (out_c, c // group, kh, kw))]
    if draw(st.booleans()):
        operands.append(arrays(draw, (out_c,)))
    if draw(st.booleans()):
        operands[0] = x.transpose(0, 2, 3, 1).copy()
        props["layout"] = string("NHWC")
    return operands, props


@case("nn.max_pool2d", "nn.avg_pool2d")
def pool(draw, name):
    shape = image(draw)
    k = draw(st.integers(1, 3))
    props = {"kernel_shape": ints([k, k]), "strides": ints([draw(st.integers(1, 2))] * 2),
             "pads": ints([draw(st.integers(0, k - 1))] * 4 if k > 1 else [0] * 4),
             "ceil_mode": integer(draw(st.integers(0, 1)))}
    if name == "nn.avg_pool2d":
        props["count_include_pad"] = integer(draw(st.integers(0, 1)))
    return [arrays(draw, shape)], props


@case("nn.global_avg_pool", "nn.global_max_pool")
def global_pool(draw, name):
    return [arrays(draw, image(draw))], {}


@case("nn.batch_norm")
def batch_norm(draw, name):
    shape = image(draw)
    c = shape[1]
    return [arrays(draw, shape), arrays(draw, (c,)), arrays(draw, (c,)), arrays(draw, (c,)),
            arrays(draw, (c,), positive=True)], {"epsilon": real(1e-5)}


@case("nn.layer_norm")
def layer_norm(draw, name):
    shape = draw(shapes(min_rank=2))
    axis = draw(st.integers(1, len(shape) - 1))
    return [arrays(draw, shape), arrays(draw, shape[axis:]), arrays(draw, shape[axis:])], {"axis": integer(axis)}


@case("nn.instance_norm")
def instance_norm(draw, name):
    shape = image(draw)
    return [arrays(draw, shape), arrays(draw, (shape[1],)), arrays(draw, (shape[1],))], {}


@case("nn.lrn")
def lrn(draw, name):
    return [arrays(draw, image(draw))], {"size": integer(draw(st.sampled_from([1, 3, 5])))}


@case("nn.matmul")
def matmul(draw, name):
    m, k, n = (draw(st.integers(1, 6)) for _ in range(3))
    batch = draw(shapes(min_rank=0, max_rank=2, max_side=3))
    return [arrays(draw, batch + (m, k)), arrays(draw, broadcastable(draw, batch) + (k, n))], {}


@case("nn.gemm")
def gemm(draw, name):
    m, k, n = (draw(st.integers(1, 6)) for _ in range(3))
    ta, tb = draw(st.integers(0, 1)), draw(st.integers(0, 1))
    operands = [arrays(draw, (k, m) if ta else (m, k)), arrays(draw, (n, k) if tb else (k, n))]
    if draw(st.booleans()):
        operands.append(arrays(draw, broadcastable(draw, (m, n))))
    return operands, {"trans_a": integer(ta), "trans_b": integer(tb), "alpha": real(draw(st.floats(0.5, 2))),
                      "beta": real(draw(st.floats(0.5, 2)))}


@case("nn.depth_to_space")
def depth_to_space(draw, name):
    bs = draw(st.integers(1, 2))
    n, c, h, w = image(draw, channels=bs * bs * draw(st.integers(1, 2)), side=4)
    return [arrays(draw, (n, c, h, w))], {"blocksize": integer(bs), "mode": string(draw(st.sampled_from(["DCR", "CRD"])))}


@case("nn.space_to_depth")
def space_to_depth(draw, name):
    bs = draw(st.integers(1, 2))
    n, c, h, w = image(draw, side=3)
    return [arrays(draw, (n, c, h * bs, w * bs))], {"blocksize": integer(bs)}


@case("nn.layout_transform")
def layout_transform(draw, name):
    src, dst = draw(st.permutations(["NCHW", "NHWC", "NCHW2c"]))[:2]
    n, c, h, w = image(draw, channels=2 * draw(st.integers(1, 2)))
    from lamina.dialects.nn.layout import NCHW, Layout, transform
    x = transform(arrays(draw, (n, c, h, w)), NCHW, Layout.parse(src))
    return [x], {"src": string(src), "dst": string(dst)}


@case("nn.resize")
def resize(draw, name):
    n, c, h, w = image(draw, side=5)
    mode = draw(st.sampled_from(["nearest", "linear"]))
    ctm = draw(st.sampled_from(["half_pixel", "asymmetric", "align_corners"]))
    props = {"mode": string(mode), "coordinate_transformation_mode": string(ctm),
             "nearest_mode": string(draw(st.sampled_from(["floor", "round_prefer_floor", "ceil"]))),
             "_out": (draw(st.integers(1, 10)), draw(st.integers(1, 10)))}
    return [arrays(draw, (n, c, h, w))], props


# ---------------------------------------------------------------------------------------------


def make_op(name, operands, props):
    cls = lookup_op(name)
    if cls is None:
        pytest.skip(f"{name} is not defined in the nn dialect yet")
    types = [RankedTensorType(a.shape, ELEMENT[a.dtype]) for a in operands]
    block = Block(types)
    out_hw = props.pop("_out", None)
    if name == "nn.cast":
        result_types = [RankedTensorType(operands[0].shape, f32)]
    elif out_hw is not None:  # resize: the result type carries the output size
        n, c = operands[0].shape[:2]
        result_types = [RankedTensorType((n, c, *out_hw), f32)]
    else:
        result_types = cls.infer_result_types(types, props)
    op = cls(operands=block.args, result_types=result_types, properties=props)
    block.append(op)
    return op


@pytest.mark.parametrize("name", sorted(CASES))
def test_lowering_matches_interpret(name):
    assert name in COMPUTES, f"{name} has a test case but no TE lowering"

    @settings(max_examples=EXAMPLES, deadline=None)
    @given(st.data())
    def check(data):
        check_case(data.draw, name, TARGET)
    check()


def check_case(draw, name, target):
    """One drawn case of op `name`, built for `target` and run: equal to `interpret`."""
    operands, props = CASES[name](draw, name)
    op = make_op(name, operands, props)
    expected = op.interpret(*operands)
    expected = list(expected) if isinstance(expected, (tuple, list)) else [expected]
    kernel = build_op(op, target).kernel
    got = kernel.run(operands, [tuple(r.type.shape) for r in op.results],
                     [r.type.element_type.numpy_dtype for r in op.results])
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def test_every_lowered_op_has_a_case():
    assert sorted(set(COMPUTES) - set(CASES)) == []
