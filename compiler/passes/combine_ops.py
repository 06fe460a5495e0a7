"""combine-ops: the graph optimizer's catalogue of fusions and transforms, run together with
every op's canonicalization patterns (the eliminations) and folds, to a fixpoint.

The catalogue (dialects/nn/fusions.py and dialects/nn/recognize.py; each pattern's docstring
gives its rule and where the idea comes from):

  fusions into convolutions and matrix products
    FuseConvBiasAdd             add(conv2d(x, w, b), c)            -> conv2d(x, w, b + c)
    FuseBatchNormIntoConv       batch_norm(conv2d(x, w, b))        -> conv2d(x, w * s, b * s + t)
    FuseMulIntoConvWeights      mul(conv2d(x, w, b), k)            -> conv2d(x, w * k, b * k)
    FuseBatchNormIntoGemm       batch_norm(gemm/matmul(a, b, c))   -> gemm(a, b * s, c * s + t)
    MatMulAddToGemm             add(matmul(a, b), c)               -> gemm(a, b, c)
    MatMulScaleToGemmAlpha      mul/div(matmul(a, b), k)           -> gemm(a, b) {alpha = k or 1/k}
    TransposeIntoGemm           matmul(transpose(a), b)            -> gemm(a, b) {trans_a = 1}
    FuseScaleIntoBatchNorm      mul/add(batch_norm(x, ...), k)     -> batch_norm(x, scale * k, ...)
  recognised subgraphs
    DecomposedLayerNormToLayerNorm  (x - mean) / sqrt(var + eps)   -> layer_norm(x, ones)
    FuseMulIntoLayerNorm        mul(layer_norm(x, s, b), gamma)    -> layer_norm(x, s * gamma, b * gamma)
    FuseAddIntoLayerNorm        add(layer_norm(x, s, b), beta)     -> layer_norm(x, s, b + beta)
    ErfGeluToGelu               x * 0.5 * (1 + erf(x / sqrt 2))    -> gelu(x)
    HardSwishFromParts          x * hard_sigmoid(x), x * relu6(x + 3) / 6 -> hard_swish(x)
    PReluFromParts              relu(x) + slope * min(x, 0)        -> prelu(x, slope)
    ReduceMeanHWToGlobalAvgPool reduce_mean(x) {axes = [2, 3]}     -> global_avg_pool(x)
    ShuffleChannelToChannelShuffle  reshape, transpose, reshape    -> channel_shuffle(x) {groups}
  transforms
    BatchNormToMulAdd           batch_norm(x) nothing absorbs      -> add(mul(x, s), t)
    PReluOneSlopeToLeakyRelu    prelu(x, one slope)                -> leaky_relu(x) {alpha}
    Conv1x1ToGemm               (option conv1x1-to-gemm)  1x1 conv on a 1x1 image -> gemm
    GemmToConv1x1               (option gemm-to-conv1x1)  gemm -> 1x1 conv

The algorithm is the greedy driver's (compiler/rewrite.py): every op on a worklist; pop one,
erase it if dead, fold it, else try the patterns; push what a rewrite touched; repeat sweeps
until one changes nothing (at most `max-iterations`). Because the last sweep tried every pattern
on every op and none fired, running the pass again on its output fires nothing.

Statistics: how often each pattern fired (and "fold", "dead op"), for `lamina opt --statistics`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import PassError
from ..ir import Operation
from ..rewrite import RewritePattern, apply_patterns_greedily
from .canonicalize import canonicalization_patterns
from .pass_base import Pass, register_pass


def catalogue(conv1x1_to_gemm: bool = False, gemm_to_conv1x1: bool = False) -> list[RewritePattern]:
    """One instance of every fusion and transform (the two options only when asked for)."""
    from lamina.dialects.nn import fusions as f
    from lamina.dialects.nn import recognize as r

    patterns = [
        f.FuseConvBiasAdd(), f.FuseBatchNormIntoConv(), f.FuseMulIntoConvWeights(),
        f.FuseBatchNormIntoGemm(), f.MatMulAddToGemm(), f.MatMulScaleToGemmAlpha(),
        f.TransposeIntoGemm(), f.FuseScaleIntoBatchNorm(), f.BatchNormToMulAdd(),
        r.DecomposedLayerNormToLayerNorm(), r.FuseMulIntoLayerNorm(), r.FuseAddIntoLayerNorm(),
        r.ErfGeluToGelu(), r.HardSwishFromParts(), r.PReluFromParts(), r.PReluOneSlopeToLeakyRelu(),
        r.ReduceMeanHWToGlobalAvgPool(), r.ShuffleChannelToChannelShuffle(),
    ]
    if conv1x1_to_gemm:
        patterns.append(f.Conv1x1ToGemm())
    if gemm_to_conv1x1:
        patterns.append(f.GemmToConv1x1())
    return patterns


@register_pass
@dataclass(frozen=True)
class CombineOpsPass(Pass):
    """Apply the fusion/transform catalogue with every canonicalization, to a fixpoint."""

    name = "combine-ops"
    summary = ("fuse and recognise op patterns (conv+bn, matmul+add -> gemm, layer norm, gelu, ...) "
               "with the eliminations, to a fixpoint")

    conv1x1_to_gemm: bool = False
    gemm_to_conv1x1: bool = False
    max_iterations: int = 10
    fold: bool = True

    def run(self, module: Operation) -> None:
        if self.conv1x1_to_gemm and self.gemm_to_conv1x1:
            raise PassError("combine-ops: conv1x1-to-gemm and gemm-to-conv1x1 undo each other",
                            hint="enable at most one of them")
        apply_patterns_greedily(module, self.patterns(), fold=self.fold,
                                max_iterations=self.max_iterations, stats=self.statistics)

    def patterns(self) -> list[RewritePattern]:
        return catalogue(self.conv1x1_to_gemm, self.gemm_to_conv1x1) + canonicalization_patterns()
