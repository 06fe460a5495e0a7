"""Optimization levels: `-O0` … `-O3` name pipelines, as a C compiler's levels do.

Each level is the one below it plus more, so a model that runs at -O1 but not at -O2 points at
the passes -O2 adds:

    -O0  nothing: the graph as imported, each op its own kernel
    -O1  clean-up: simplify ops and fold what is known at compile time, drop duplicates and dead ops
    -O2  -O1 + the graph optimizer's catalogue (batch_norm into conv, matmul+add -> gemm, layer-norm
         and GELU recognition, ...), then clean-up again
    -O3  -O2 + fusion of the remaining ops into kernels (one TVM PrimFunc per group)

A layout (`NHWC`, or `NCHW8c` for NCHWc with 8 channels per block) adds `convert-layout` before
fusion. A target adds its own passes before fusion at -O3 (`BEFORE_FUSION`: the CPU's
`widen-conv-columns`, which only its schedules gain from). `pipeline_for(level, layout, target)`
is what `lamina compile/run -O<n> [--layout L] [--target T]` run; `lamina opt`, which has no
target, runs the target-free pipeline.
"""

from __future__ import annotations

import re

from ..errors import LaminaError

CLEANUP = "canonicalize,fold-constants,cse,dce"

LEVELS: dict[int, tuple[str, str]] = {
    0: ("", "no passes: each op of the imported graph is its own kernel"),
    1: (CLEANUP, "clean-up: folds, constant evaluation, common subexpressions, dead ops"),
    2: (f"{CLEANUP},combine-ops,{CLEANUP}",
        "-O1 + the optimizer's catalogue (batch_norm into conv, matmul+add -> gemm, layer-norm, GELU, ...)"),
    3: (f"{CLEANUP},combine-ops,{CLEANUP},fuse", "-O2 + fusion of ops into kernels (one PrimFunc per group)"),
}

# target name -> passes run just before `fuse` at -O3 for it (and only in the NCHW layout)
BEFORE_FUSION: dict[str, str] = {"llvm": "widen-conv-columns"}
# target name -> its `fuse` at -O3 (only in the NCHW layout): the CPU also fuses a depthwise conv
# into the 1x1 conv that reads it, a 1x1 conv into the strided depthwise conv that reads it, with
# both a whole inverted residual block, and conv branches with their concat into the 1x1 conv
# that reads it (fuse.py, schedules/fused_conv.py)
FUSION: dict[str, str] = {"llvm": "fuse{depthwise-pointwise=true pointwise-depthwise=true concat-pointwise=true}"}

_NCHWC = re.compile(r"NCHW(\d+)c")


def layout_pass(layout: str) -> str:
    """The convert-layout pass for a layout name: NCHW (none), NHWC, or NCHW<c>c."""
    if layout in ("", "NCHW"):
        return ""
    if layout == "NHWC":
        return "convert-layout{to=NHWC}"
    m = _NCHWC.fullmatch(layout)
    if m and int(m.group(1)) > 0:
        return f"convert-layout{{to=NCHWc c={int(m.group(1))}}}"
    raise LaminaError(f"unknown layout {layout!r}", hint="use NCHW, NHWC, or NCHW<c>c such as NCHW8c")


def pipeline_for(level: int, layout: str = "", target: str | None = None) -> str:
    """The pipeline string of optimization level `level`, with a layout conversion before fusion
    and, at -O3, the passes `target` (a target's name) runs before fusion."""
    if level not in LEVELS:
        raise LaminaError(f"unknown optimization level -O{level}", hint="use -O0, -O1, -O2 or -O3")
    passes = [p for p in LEVELS[level][0].split(",") if p]
    convert = layout_pass(layout)
    if convert:
        at = passes.index("fuse") if "fuse" in passes else len(passes)
        passes[at:at] = [convert, "fold-constants"]
    elif "fuse" in passes:
        at = passes.index("fuse")
        passes[at] = FUSION.get(target, "fuse")
        passes[at:at] = [p for p in BEFORE_FUSION.get(target, "").split(",") if p]
    return ",".join(passes)


def describe_levels() -> list[tuple[str, str, str]]:
    """(flag, one line, pipeline) for each level, for `lamina opt --list-passes`."""
    return [(f"-O{n}", summary, text or "(none)") for n, (text, summary) in LEVELS.items()]
