"""Helpers the CPU schedule generators share (cpu.py, nchwc.py, reduce.py): each emits schedule
IR through a ScheduleBuilder `b`."""

from __future__ import annotations

from .verify import REDUCE, SPATIAL  # noqa: F401  (loop kinds, re-exported for the generators)

MAX_VECTOR = 64                # the longest innermost loop vectorized whole
MIN_PARALLEL_ELEMENTS = 16384  # below this many loop iterations a kernel runs on one thread
STAGE_BYTES = 20 * 1024        # padded input rows a window op (depthwise conv, pool) copies at once: L1 is 48 KB


class NotThisShape(Exception):
    """A generator was asked for a kernel whose loop nest is not the one it schedules; the
    caller falls back to the next generator."""


def divisor(n: int, choices) -> int:
    """The first of `choices` that divides n (1 if none does)."""
    for c in choices:
        if n % c == 0:
            return c
    return 1


def parallel_spatial(b, name: str, threads: int, vector_last: bool = True) -> None:
    """A data-parallel block (a packing copy, a pad): outer loops fused and parallel, the
    innermost vectorized."""
    block = b.get_block(name)
    loops = b.get_loops(block)
    ext = b.extents(loops)
    if len(loops) > 1 and vector_last and ext[-1] <= MAX_VECTOR:
        b.vectorize(loops[-1])
        loops, ext = loops[:-1], ext[:-1]
    take, work = 0, 1
    while take < len(loops) and work < threads * 4:
        work *= ext[take]
        take += 1
    if take:
        b.parallel(b.fuse(*loops[:take]) if take > 1 else loops[0])


def epilogues(b, producer_name: str, before: str | None = None) -> None:
    """Compute the elementwise blocks after `producer_name` (the register block's write-back) in
    it: the op's own (gemm_out, round, bias_add) and a fused group's epilogue (batch_norm, relu,
    a residual add, ...). Each but the last is inlined into its consumers (`compute_inline`; an
    epilogue that reads a value twice, x * erf(x), then reads the producer twice), and the last,
    the kernel's output, into the producer (`reverse_compute_inline`), so the block is written
    to memory once, finished. `before`: the epilogue ends at that block (the producer's output
    is not the kernel's: fused_conv.py)."""
    names = b.block_names()
    after = names[names.index(producer_name) + 1: names.index(before) if before else None]
    for name in after[:-1]:
        b.compute_inline(b.get_block(name))
    if after:
        b.reverse_compute_inline(b.get_block(after[-1]))


def padded_write_back(b, write_back):
    """The write-back of a conv whose last channel block is padded (te/conv.py `unpad`): the
    epilogue and the write-back inlined into the kernel's last block, which is then computed at
    the register block with the bounds test on its channel (`reverse_compute_inline` would write
    the padded channels past the output: TVM 0.27 drops the smaller domain). Returns that block."""
    names = b.block_names()
    after = names[names.index(block_name_of(b, write_back)) + 1:]
    for name in after[:-1]:
        b.compute_inline(b.get_block(name))
    b.compute_inline(write_back)
    return b.get_block(after[-1])


def channel_block_write_back(b, block):
    """A conv's register block (`block`'s output cached "local") laid out channels innermost, so
    that one vector of channels is contiguous, and its write-back to the output through the
    epilogue (`epilogues`, or `padded_write_back` where the channels are padded to whole blocks).
    Returns the write-back."""
    write_back = b.cache_write(block, 0, "local")
    b.transform_layout(block, "write", 0, (0, 2, 3, 1))
    if "unpad" in b.block_names():
        return padded_write_back(b, write_back)
    epilogues(b, block_name_of(b, write_back), before="unpad_groups" if "unpad_groups" in b.block_names() else None)
    return write_back


def group_output_nest(b) -> str | None:
    """A grouped conv whose groups' channels are padded to whole blocks (te/conv.py
    `unpad_groups`): the remap and the epilogue after it inlined into the kernel's output block,
    to be scheduled as a loop nest of its own (TVM cannot compute that remap at the register
    block, as `padded_write_back` does a group-1 conv's bound). Returns that block's name; None
    for any other kernel."""
    names = b.block_names()
    if "unpad_groups" not in names:
        return None
    after = names[names.index("unpad_groups"):]
    for name in after[:-1]:
        b.compute_inline(b.get_block(name))
    return after[-1]


def vectorize_own(b, block, nest) -> None:
    """Vectorize the innermost loop of `block` that is its own (not shared with block `nest`):
    a loop of extent 1 disappears in compute-at, and the shared loop around a reduction must not
    be vectorized."""
    own = b.own_loops(nest, b.get_loops(block))
    if own:
        b.vectorize(own[-1])


def block_name_of(b, block) -> str:
    return b.state.sch.get(b.state.values[block]).name_hint


def deal_loop(b) -> None:
    """`phases` (te/conv.py) as a scalar loop over q with the phases unrolled in it: LLVM
    vectorizes its interleaved reads as wide loads and shuffles."""
    *_, p, q = b.get_loops(b.get_block("phases"))
    b.reorder(q, p)
    b.unroll(p)
