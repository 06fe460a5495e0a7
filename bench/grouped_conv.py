"""Grouped convolutions against the dense conv of one group's shape (issue 11's goal: a grouped
conv at >= 50% of the GFLOP/s of the dense conv with C/G input and K/G output channels).

    TVM_NUM_THREADS=2 python bench/grouped_conv.py            # the zoo's grouped convs and a few odd ones
    TVM_NUM_THREADS=2 python bench/grouped_conv.py --runs 50 --rounds 5 --peak --cases shufflenet

Each case is an ONNX Conv (with bias and constant weights, as a net has them) and its Relu,
compiled by lamina -O3 twice: grouped, and the dense conv of one group's shape at the same image size,
kernel, stride and padding. Both are timed alone (CompiledModel.profile: `runs` calls of the
kernel in a row, median), the rounds alternate the two sides and each side keeps its best round,
so a burst of machine noise does not decide a ratio. The grouped conv does G times the dense
one's FLOPs, so its share of the dense conv's speed is G x t_dense / t_grouped.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Case:
    name: str
    cin: int
    cout: int
    k: int
    hw: int
    group: int
    stride: int = 1

    def dense(self) -> "Case":
        return Case(self.name + " dense", self.cin // self.group, self.cout // self.group, self.k,
                    self.hw, 1, self.stride)

    @property
    def out_hw(self) -> int:
        return (self.hw + 2 * (self.k // 2) - self.k) // self.stride + 1

    @property
    def flops(self) -> float:  # two per multiply-add
        return 2.0 * self.cout * (self.cin // self.group) * self.k * self.k * self.out_hw ** 2


CASES = [
    # AlexNet (zoo `alexnet`): conv2, conv4, conv5
    Case("alexnet conv2 96->256 5x5 g2 27x27", 96, 256, 5, 27, 2),
    Case("alexnet conv4 384->384 3x3 g2 13x13", 384, 384, 3, 13, 2),
    Case("alexnet conv5 384->256 3x3 g2 13x13", 384, 256, 3, 13, 2),
    # ShuffleNet g=3 (zoo `shufflenet`): the stage-1 downsampling unit's 60 -> 216 (a reduction
    # of 20), each stage's bottleneck 1x1 convs
    Case("shufflenet 60->216 1x1 g3 28x28", 60, 216, 1, 28, 3),
    Case("shufflenet 240->60 1x1 g3 28x28", 240, 60, 1, 28, 3),
    Case("shufflenet 60->240 1x1 g3 28x28", 60, 240, 1, 28, 3),
    Case("shufflenet 480->120 1x1 g3 14x14", 480, 120, 1, 14, 3),
    Case("shufflenet 120->480 1x1 g3 14x14", 120, 480, 1, 14, 3),
    Case("shufflenet 960->240 1x1 g3 7x7", 960, 240, 1, 7, 3),
    Case("shufflenet 240->960 1x1 g3 7x7", 240, 960, 1, 7, 3),
    # odd counts of channels a group, groups of 4 and 8, a stride
    Case("odd 84->132 3x3 g4 28x28", 84, 132, 3, 28, 4),
    Case("odd 120->200 3x3 g8 14x14 s2", 120, 200, 3, 28, 8, 2),
]


def conv_model(case: Case, seed: int = 0):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    fan_in = case.cin // case.group * case.k * case.k
    w = (rng.standard_normal((case.cout, case.cin // case.group, case.k, case.k)) * math.sqrt(2 / fan_in))
    b = rng.standard_normal(case.cout) * 0.01
    pad = case.k // 2
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[case.k, case.k],
                            strides=[case.stride] * 2, pads=[pad] * 4, group=case.group)
    relu = helper.make_node("Relu", ["y"], ["out"])
    graph = helper.make_graph(
        [node, relu], "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, case.cin, case.hw, case.hw])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, case.cout, case.out_hw, case.out_hw])],
        [numpy_helper.from_array(w.astype(np.float32), "w"), numpy_helper.from_array(b.astype(np.float32), "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


class Side:
    """One compiled conv and its kernel's best time so far."""

    def __init__(self, case: Case):
        import lamina

        self.case = case
        self.model = lamina.compile(lamina.load_onnx(conv_model(case)), opt_level=3)
        self.input = np.random.default_rng(1).standard_normal((1, case.cin, case.hw, case.hw)).astype(np.float32)
        self.best = math.inf

    def measure(self, runs: int) -> None:
        conv_time = sum(t for op, t in self.model.profile(self.input, runs=runs))
        self.best = min(self.best, conv_time)

    @property
    def gflops(self) -> float:
        return self.case.flops / self.best / 1e9


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="calls a round, per side (median)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, alternating the sides (best kept)")
    parser.add_argument("--peak", action="store_true", help="also time the FMA peak and show %% of it")
    parser.add_argument("--cases", default="", help="only the cases whose names contain one of these "
                        "comma-separated words")
    args = parser.parse_args(argv)
    words = [w for w in args.cases.split(",") if w]
    cases = [c for c in CASES if not words or any(w in c.name for w in words)]

    peak = None
    if args.peak:
        import os

        from lamina.runtime.flops import fma_peak

        peak = fma_peak(int(os.environ.get("TVM_NUM_THREADS", "2"))).gflops
        print(f"FMA peak: {peak:.0f} GFLOP/s")
    header = f"{'case':40} {'grouped ms':>10} {'dense ms':>9} {'GFLOP/s g':>10} {'GFLOP/s d':>10} {'share':>6}"
    if peak:
        header += f" {'% peak g':>9}"
    print(header)
    shares = []
    for case in cases:
        grouped, dense = Side(case), Side(case.dense())
        for _ in range(args.rounds):
            grouped.measure(args.runs)
            dense.measure(args.runs)
        share = grouped.gflops / dense.gflops
        shares.append(share)
        line = (f"{case.name:40} {grouped.best * 1e3:10.3f} {dense.best * 1e3:9.3f} "
                f"{grouped.gflops:10.1f} {dense.gflops:10.1f} {share:6.0%}")
        if peak:
            line += f" {grouped.gflops / peak:9.0%}"
        print(line, flush=True)
    print(f"lowest share: {min(shares):.0%}; geometric mean: {math.exp(np.mean(np.log(shares))):.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
