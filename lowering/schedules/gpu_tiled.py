"""Tiled GPU schedule generators: matmul / gemm / batched matmul (and GEMVs), conv2d (dense,
grouped, 1x1, depthwise; NCHW and NCHW{c}c) and reductions, each written as schedule IR through
a ScheduleBuilder `b` (builder.py). gpu.py's `gpu_schedule` picks one by the kernel's anchor
block and falls back to its default when one raises (NotThisShape, or a TVM error on a shape not
foreseen).

Matmul and conv are tiled on two levels, as TVM's CUDA conv2d_direct and dlight's matmul are:
  1. a block tile of the output per thread block (blockIdx.x: the outer loops fused), made of a
     tile of registers per thread (`cache_write` to "local"; threadIdx.x: the thread loops
     fused, the fastest along the output's innermost axis, so neighbouring threads write
     neighbouring addresses);
  2. the reduction split into steps; at each step the inputs' block tiles are copied to shared
     memory by all the block's threads (`cache_read` to "shared", computed at the step's loop,
     the copy's loops fused and spread over the threads, 4 elements a thread as one vector
     where that is safe: `stage_shared`), then each thread sums its register tile from them,
     the inner loops unrolled, the tile's innermost one a vector (float4);
  3. the fused epilogue (bias, folded batch_norm, residual add, relu, a cast, a layout view) is
     computed in the register tile's write-back (common.py `epilogues`), so a fused group stays
     ONE device function.
Depthwise convs (one input channel per group) have no channel reduction: the block's input
window is staged once, at the block's loop, and each thread sums its outputs over the window.
A conv's padding and weight packing (te/conv.py `pad`, `pack_w`) are computed in the shared
copies.

A matmul of few rows (a GEMV: the classifiers at batch 1) and any kernel of one reduction with
elementwise ops around it (reduce_*, global and window pooling): `gpu_reduce_schedule`, the
threads of a block sharing each output's reduction, the epilogue after it. Rows reduced then
used elementwise (softmax, layer_norm): `gpu_row_reduction_schedule`, one block per row.

Tile sizes are knobs; their defaults come from the target's limits (threads and shared memory
per block, lowering/targets.py): 4x4 outputs a thread on OpenCL (opencl-adreno: the 4 columns
or, in NCHW4c, the 4 channels of a block, one float4), larger register tiles where a block may
have 1024 threads (cuda, and cuda-on-opencl, which takes cuda's schedules). A generator tries
its tilings from the largest down, on forks of the builder, and takes the first whose shared
tiles are within SHARED_BUDGET and that builds for the target (`build_problem`: TVM's lowering
and lowering/device_build.py's limits). Tiles divide the axes they tile (`threads_along`).
"""

from __future__ import annotations

import re

from .common import REDUCE, SPATIAL, NotThisShape, block_name_of, epilogues, group_output_nest

SHARED_BUDGET = 24 * 1024  # bytes of shared tiles a block aims at: all of a 16 KiB OpenCL device's,
                           # half of a 48 KiB CUDA block's (so two blocks share a multiprocessor)
MIN_BLOCKS = 16            # a matmul tiling that gives fewer blocks is tried after those that do not


def _product(values) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _pow2_at_most(n: int, cap: int) -> int:
    p = 1
    while p * 2 <= min(n, cap):
        p *= 2
    return p


def threads_along(n: int, regs: int, cap: int, align: int = 1) -> int:
    """How many threads to put along an axis of n iterations, `regs` iterations each: the most,
    up to `cap`, whose tile (threads * regs) divides n and is a multiple of `align` (a packed
    layout's block, so that a block's tile of it is whole blocks), else a divisor of it. (TVM
    sizes a shared tile by what every block reads of the buffer: a tile of half a packed block
    of weights, at offsets it cannot prove aligned, took 19 blocks of shared memory.)

    Tiles always divide their axis (`_regs` too): a partial last tile makes TVM guard each
    thread's update of its registers by its index, and PoCL 3.1 (this machine's OpenCL)
    computes such a guarded update inside a loop with a barrier (the reduction steps) wrongly,
    and not deterministically: a 1x1 conv of 48 -> 192 channels on 13 x 13 in tiles of 4 rows
    got garbage in its last row; the same kernel without the guard was right."""
    whole, part = 0, 1
    for t in range(1, max(1, cap) + 1):
        tile = t * regs
        if n % tile == 0 and tile % align == 0:
            whole = t
        elif n % tile == 0 and align % tile == 0:
            part = t
    return whole or part


def _regs(n: int, want: int) -> int:
    """Outputs per thread along an axis of n: the largest divisor of n up to `want`."""
    return max(d for d in range(1, max(1, min(n, want)) + 1) if n % d == 0)


class TargetTiles:
    """What a target's limits (lowering/targets.py) say of tile sizes."""

    def __init__(self, target):
        self.threads = min(target.max_threads_per_block, 256)
        self.shared = target.max_shared_memory_per_block
        self.budget = min(self.shared, SHARED_BUDGET)
        self.large = target.max_threads_per_block >= 1024  # cuda: larger register tiles
        self.vector = 4                                    # float4: Adreno's and CUDA's 16-byte accesses
        self.vectors = True                                # off: every loop scalar (see `_without_vectors`)
        self.cuda = target.schedule_name == "cuda"          # CUDA C (and cuda-on-opencl, the same schedules):
                                                            # a float4 access must be 16-byte aligned


def _dtype_bytes(dtype) -> int:
    bits = "".join(c for c in str(dtype) if c.isdigit())
    return max(1, int(bits or 32) // 8)


# ---------------------------------------------------------------------------------------------
# steps the generators share


def _reads(b, name: str) -> list[tuple[str, tuple]]:
    """(buffer name, shape) of what block `name` reads, asked without a handle (no IR)."""
    sch = b.state.sch
    return [(str(r.source.name), tuple(int(d) for d in r.source.shape)) for r in sch.get(sch.get_sblock(name)).reads]


def _loop_nest(b, name: str) -> tuple[list[str], list[int]]:
    """The iteration kinds and loop extents of block `name`, whose loops must be its axes."""
    kinds, ext = b.kinds_of(name), b.block_loop_extents(name)
    if len(kinds) != len(ext):
        raise NotThisShape(f"block {name}'s loops are not its iteration axes")
    if 0 in ext:
        raise NotThisShape(f"block {name} is empty")
    return kinds, ext


def _packed_block(b, name: str) -> int:
    """The block of the packed operand that block `name` reads (te/linalg.py `pack_b`, te/conv.py
    `pack_w`, or a weight packed at compile time), 1 when it reads none."""
    names = b.block_names()
    for pack in ("pack_b", "pack_w"):
        if pack in names:
            return b.block_loop_extents(pack)[-1]
    packed = [shape for buffer, shape in _reads(b, name) if buffer.endswith("_packed")]
    return int(packed[0][-1]) if packed else 1


def _inline_before(b, name: str, keep=()) -> None:
    """Inline every block before the anchor `name` (packing copies, layout views, a channel
    shuffle) but those in `keep`."""
    names = b.block_names()
    for other in names[: names.index(name)]:
        if other not in keep:
            b.compute_inline(b.get_block(other))


def _write_back(b, wb):
    """Compute the kernel's epilogue in the register tile's write-back `wb`; returns the block
    to place under the thread loop: `wb` with the epilogue inlined into it (common.py
    `epilogues`), or, when the kernel's output has fewer elements than the tile's domain (a
    conv's padded channel blocks, te/conv.py `unpad`: reverse_compute_inline would write the
    padded channels) or TVM cannot inline into it (a 0-d output), the output block with the rest
    inlined into it (under the thread loop, it tests its bound). A grouped conv's padded channels
    (`unpad_groups`, a remap TVM cannot compute at the tile) end `wb`'s epilogue, and the output
    after them is a loop nest of its own, a thread an element."""
    names = b.block_names()
    wb_name = block_name_of(b, wb)
    after = names[names.index(wb_name) + 1:]
    if not after:
        return wb
    if "unpad_groups" in after:  # a grouped conv's padded channels: the output a nest of its own
        from .gpu import bind_block  # (gpu.py imports this module)

        epilogues(b, wb_name, before="unpad_groups")
        bind_block(b, group_output_nest(b))
        return wb
    if _product(b.block_loop_extents(after[-1])) == _product(b.block_loop_extents(wb_name)):
        trial = b.fork()
        try:  # (TVM refuses to inline a 0-d epilogue: a mean to a scalar, placed as below)
            epilogues(trial, wb_name)
        except Exception:
            pass
        else:
            epilogues(b, wb_name)
            return wb
    for name in after[:-1]:
        b.compute_inline(b.get_block(name))
    b.compute_inline(wb)
    return b.get_block(after[-1])


PRODUCERS_IN_COPIES = ("pad", "pack_w")  # a conv's producers computed in its shared copies


def stage_shared(b, block, index: int, at, depth: int, thread_knobs: list, tiles, halo_free: bool = False) -> int:
    """Copy the tile of read buffer `index` of `block` that the loops under `at` read into
    shared memory, computed at `at` (the depth-th loop of the copy's nest), the copy's loops
    fused and spread over the block's threads (the product of `thread_knobs`), 4 elements a
    thread as one vector where that divides the copy. In CUDA C a float4 access must be 16-byte
    aligned: there only whole rows of a buffer whose rows are vectors, or tiles of a dimension
    tiled without overlap (`halo_free`: a matmul's operands, not a conv's input window), are
    copied by vector (OpenCL's vload4 needs the alignment of one float).

    Nor is a copy that computes a select (of `pad` or `pack_w`, inlined into it afterwards):
    TVM's OpenCL code for a vector select on a condition that is the same in every lane (a
    padded row whose columns are all inside, a block of channels past the last) is
    `select(0, x, convert_int4((uint4)(c, c, c, c)))`, and OpenCL's select tests each lane's
    top bit, which 1 does not set: the copy was all zeros (`build_problem` refuses any kernel
    with that code). Returns its bytes."""
    source = b.state.sch.get(b.state.values[block]).reads[index].source
    last = int(source.shape[-1])
    itemsize = _dtype_bytes(source.dtype)
    padded = str(source.name) in PRODUCERS_IN_COPIES
    shared = b.cache_read(block, index, "shared")
    b.compute_at(shared, at)
    own = b.get_loops(shared)[depth:]
    if not own:  # one element: each thread reads it where it is
        b.compute_inline(shared)
        return 0
    ext = b.extents(own)
    total = _product(ext)
    fused = b.fuse(*own) if len(own) > 1 else own[0]
    threads = _product(b.state.values[k] for k in thread_knobs)
    v = tiles.vector
    aligned = not tiles.cuda or (last % v == 0 and (ext[-1] == last or halo_free))
    if tiles.vectors and not padded and ext[-1] % v == 0 and total % (threads * v) == 0 and aligned:
        _, *parts, vec = b.split(fused, [*thread_knobs, b.knob("copy_vector", v)])
        b.vectorize(vec)
    else:
        _, *parts = b.split(fused, thread_knobs)
        v = 1
    b.bind(b.fuse(*parts) if len(parts) > 1 else parts[0], "threadIdx.x")
    # TVM sizes the tile by the indices of the copy's last pass over the threads, which runs
    # past its end (its bound test is not used): a whole outer row more, or less
    inner = _product(ext[1:])
    passes = -(-total // (threads * v)) * threads * v
    return -(-passes // inner) * inner * itemsize


def _bind_threads(b, loops):
    fused = b.fuse(*loops) if len(loops) > 1 else loops[0]
    b.bind(fused, "threadIdx.x")
    return fused


def _vector_or_unroll(b, loop, even: bool, tiles) -> None:
    """The innermost loop of a register tile: one vector (float4 arithmetic; Adreno's ALUs are
    vector ones) when its extent is 2, 4 or 8 and the tiles divide every axis (`even`), else
    unrolled. (A vector inside a bound test of another axis, a partial last tile of rows, was
    miscomputed on PoCL 3.1: a conv's last row of 13 read garbage through a vload4 of its
    registers; scalar, the same kernel was right.)"""
    if tiles.vectors and even and b.extent(loop) in (2, 4, 8):
        b.vectorize(loop)
    else:
        b.unroll(loop)


def _vectorize_write_back(b, wb, block, even: bool, tiles, out_last: int) -> None:
    """Store a thread's row of outputs as one vector (the write-back's innermost loop, below the
    thread loop it shares with the register tile's `block`) when no bound test cuts it; in CUDA C
    only where the rows are whole vectors (16-byte aligned). A tile of one output has no loop of
    its own: the innermost loop is then the thread loop, and vectorizing it made every thread
    compute and store the whole block's row (a 37 x 9 x 8 matmul, wrong everywhere)."""
    if not (tiles.vectors and even and _wb_is_tile(b, wb, block)):
        return
    loops = b.own_loops(block, b.get_loops(wb))
    if loops and b.extent(loops[-1]) in (2, 4, 8) and (not tiles.cuda or out_last % 4 == 0):
        b.vectorize(loops[-1])


def build_problem(b) -> str | None:
    """Why the kernel scheduled in `b` does not build for its target (TVM's lowering refuses
    it, or it is over the target's threads or shared memory per block), or None when it does.
    TVM compacts a shared tile to what the whole kernel reads of it: a tile that is not one
    region at the same offset in every block (a channel tile across two packed weight blocks)
    can be larger than the copy's loops say."""
    from ..device_build import build_device_kernel  # (it imports lowering/build.py: not at the top)

    try:
        plan = build_device_kernel(b.mod, b.target, "trial")
    except Exception as e:  # BuildError, or a TVM error in a pass
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    if plan.language == "opencl" and LANE_INVARIANT_SELECT.search(plan.source):
        return "a vector select on a condition the same in every lane (TVM's OpenCL code for it is wrong)"
    return None


# TVM 0.27's OpenCL code for a vector select whose condition is one value for all lanes: the
# condition converted to 1s, where OpenCL's select reads each lane's top bit (see stage_shared)
LANE_INVARIANT_SELECT = re.compile(r"convert_int\d+\(\(\(uint\d+\)\(")


def _adopt(b, trial) -> None:
    """Make builder `b` hold what its fork `trial` holds."""
    b.program, b.state, b._knobs, b._n_knobs = trial.program, trial.state, trial._knobs, trial._n_knobs


def _fits(b, shared: int) -> str | None:
    """Why the kernel in `b`, whose shared tiles take `shared` bytes, does not fit its target
    (None when it does)."""
    limit = b.target.max_shared_memory_per_block
    if shared > limit:
        return f"{shared} bytes of shared memory, over {limit}"
    return build_problem(b)


def _without_vectors(tiles) -> "TargetTiles":
    """The same tiles, every loop scalar: a kernel whose every access to a shared tile is one
    vector gets a vector-typed tile from TVM (float32x4), which lowering/device_build.py cannot
    size yet (numpy has no such dtype), so a tiling that fails to build is tried once more so."""
    import copy

    scalar = copy.copy(tiles)
    scalar.vectors = False
    return scalar


def _first_that_fits(b, candidates, schedule, tiles=None) -> tuple:
    """Apply `schedule(trial, config, tiles)` (returning its shared bytes) on a fork of `b` for
    each config in turn (each once more without vectors when it does not build: see
    `_without_vectors`); the first that TVM accepts, whose shared tiles are within the target's
    budget (SHARED_BUDGET; failing all, its limit) and that builds for it (`build_problem`) is
    taken into `b`. Raises NotThisShape when none is."""
    tiles = tiles or TargetTiles(b.target)
    last, over_budget = None, []
    for config in candidates:
        for t in (tiles, _without_vectors(tiles)):
            trial = b.fork()
            try:
                shared = schedule(trial, config, t)
            except Exception as e:  # NotThisShape, or TVM refusing a step
                last = e
                break
            if tiles.budget < shared <= tiles.shared:
                over_budget.append((config, trial, shared))
                break
            problem = _fits(trial, shared)
            if not problem:
                _adopt(b, trial)
                return config
            last = NotThisShape(problem)
            if shared > tiles.shared:
                break
    for config, trial, shared in over_budget:
        problem = _fits(trial, shared)
        if not problem:
            _adopt(b, trial)
            return config
        last = NotThisShape(problem)
    raise NotThisShape(f"no tiling fits: {last}")


# ---------------------------------------------------------------------------------------------
# matmul / gemm / batched matmul


def _matmul_shape(b, name: str) -> list[int]:
    kinds, ext = _loop_nest(b, name)
    if len(kinds) < 3 or kinds[-1] != REDUCE or REDUCE in kinds[:-1]:
        raise NotThisShape("not a matmul loop nest")
    return ext


GEMV_MAX_ROWS = 4  # a matmul with at most this many rows (all batches) is a GEMV


def is_gemv(b, name: str) -> bool:
    *batch, m, _, _ = _matmul_shape(b, name)
    return m * _product(batch) <= GEMV_MAX_ROWS


def gpu_matmul_schedule(b, name: str) -> None:
    """C[..., i, j] = sum_k A[..., i, k] * B[..., k, j], B read in place or packed [N/nv, K, nv]
    (te/linalg.py; the packing copy is inlined into the shared tile's copy).

    Knobs: mm_ty x mm_tx threads, mm_ri x mm_rj outputs a thread (a block tile of (ty*ri) x
    (tx*rj), its columns a multiple or a divisor of the packed block nv), mm_kt the reduction
    step staged in shared memory. The tilings tried, largest first: 8x8 outputs a thread
    (cuda) or 4x4 (the rj columns one float4), then smaller steps and tiles."""
    *batch_ext, m, n, k = _matmul_shape(b, name)
    tiles = TargetTiles(b.target)
    nv = _packed_block(b, name)
    regs = [(8, 8, 16), (4, 4, 8)] if tiles.large else [(4, 4, 8)]
    configs = []
    for ri, rj, kt in regs + [(4, 4, 4), (2, 4, 4), (1, 4, 4), (1, 1, 4)]:
        ri, rj = _regs(m, ri), _regs(n, rj)
        tx = threads_along(n, rj, 16, align=nv)
        ty = threads_along(m, ri, max(1, tiles.threads // tx))
        config = (ty, tx, ri, rj, _regs(k, kt))  # (a step that divides k: see `threads_along`)
        if config not in configs:
            configs.append(config)
    blocks = {c: _product(batch_ext) * -(-m // (c[0] * c[2])) * -(-n // (c[1] * c[3])) for c in configs}
    configs.sort(key=lambda c: blocks[c] < MIN_BLOCKS)  # (stable: largest tiles first among each)
    _first_that_fits(b, configs, lambda trial, c, t: _matmul_tiles(trial, name, *c, t), tiles)


def _matmul_tiles(b, name: str, ty: int, tx: int, ri: int, rj: int, kt: int, tiles) -> int:
    *_, m, n, _ = b.block_loop_extents(name)
    block = b.get_block(name)
    _inline_before(b, name)
    wb = _write_back(b, b.cache_write(block, 0, "local"))
    *bl, i, j, kk = b.get_loops(block)
    kty, ktx = b.knob("mm_ty", ty), b.knob("mm_tx", tx)
    io, it, ir = b.split(i, [kty, b.knob("mm_ri", ri)])
    jo, jt, jr = b.split(j, [ktx, b.knob("mm_rj", rj)])
    ko, ki = b.split(kk, [b.knob("mm_kt", kt)])
    b.reorder(*bl, io, jo, it, jt, ko, ki, ir, jr)
    b.bind(b.fuse(*bl, io, jo), "blockIdx.x")
    t = _bind_threads(b, [it, jt])
    b.reverse_compute_at(wb, t)
    shared = sum(stage_shared(b, block, index, ko, 3, [kty, ktx], tiles, halo_free=True)
                 for index in range(len(b.reads(block))))
    even = n % (tx * rj) == 0 and m % (ty * ri) == 0
    b.unroll(ki)
    b.unroll(ir)
    _vector_or_unroll(b, jr, even, tiles)
    _vectorize_write_back(b, wb, block, even, tiles, n)
    b.decompose_reduction(block, ko)
    return shared


def _wb_is_tile(b, wb, block) -> bool:
    """Whether the write-back `wb` is the register tile's own (not a smaller output block)."""
    return block_name_of(b, wb).startswith(block_name_of(b, block))


def gpu_gemv_schedule(b, name: str) -> None:
    """A matmul of few rows (at most GEMV_MAX_ROWS, the classifiers at batch 1):
    `gpu_reduce_schedule`, the threads of a block sharing each output's reduction."""
    if not is_gemv(b, name):
        raise NotThisShape("not a GEMV")
    gpu_reduce_schedule(b, name)


# ---------------------------------------------------------------------------------------------
# conv2d: the NCHW compute (other layouts read and write through views that are inlined) and the
# NCHW{c}c one (te/conv.py `conv2d_nchwc`: c channels innermost in input, weight and output)


CONV_MAX_RC = 32      # input channels a reduction step stages at most
SPATIAL_THREADS = 64  # threads of a block along the output's rows and columns, before its channels:
                      # a block's tile of about as many pixels as channels reads the fewest
                      # inputs and weights per output


class ConvNest:
    """What a conv block's loop nest is: `blocked` (NCHW{c}c: n, ob, i, j, oi | rco, ky, kx, rci
    for group 1, n, ob, i, j, oi | ky, kx depthwise) or NCHW (n, o, i, j | rc, ky, kx), its
    extents, its groups and the packed weight's block of output channels (1: none)."""

    def __init__(self, b, name: str):
        kinds, ext = _loop_nest(b, name)
        reads = _reads(b, name)
        if len(reads) != 2:
            raise NotThisShape("not a conv's reads")
        (_, in_shape), (_, w_shape) = reads
        self.name, self.ext = name, ext
        if kinds == [SPATIAL] * 4 + [REDUCE] * 3 and len(in_shape) in (4, 5) and len(w_shape) in (4, 5):
            self.blocked, self.depthwise = False, ext[4] == 1
            _, self.o, self.h, self.w, self.c, _, _ = ext
            self.lanes = 1
            self.groups = max(1, in_shape[1] // self.c)
            self.ob = w_shape[-1] if len(w_shape) == 5 else 1
        elif kinds in ([SPATIAL] * 5 + [REDUCE] * 4, [SPATIAL] * 5 + [REDUCE] * 2) and len(in_shape) == 5:
            self.blocked, self.depthwise = True, len(kinds) == 7
            _, self.o, self.h, self.w, self.lanes = ext[:5]
            self.c = 1 if self.depthwise else ext[5]
            self.groups, self.ob = 1, 1
        else:
            raise NotThisShape("not a conv2d loop nest")
        if self.o % self.groups:
            raise NotThisShape("channels not a multiple of the groups")
        self.per_group = self.o // self.groups

    def split(self, b, block, to: int, ti: int, tj: int, ro: int, rj: int, rc: int, ri: int = 1, probe: bool = False):
        """Split and order the loops into the tiles: blocks (n oo io jo), threads (ot it jt), the
        reduction step (co) and inside it the step's channels, the window and the thread's
        register tile (or jr [oi]; a depthwise conv: ir jr). With `probe`, the step's loop goes
        outside the thread loops. Returns (block loops, thread loops, step loop, window loops,
        register loops, knobs of the thread counts)."""
        loops = b.get_loops(block)
        oi = ci = None
        if self.blocked and not self.depthwise:
            n, o, i, j, oi, c, ky, kx, ci = loops
        elif self.blocked:
            n, o, i, j, oi, ky, kx = loops
            c = None
        else:
            n, o, i, j, c, ky, kx = loops
        kto, kti, ktj = b.knob("conv_to", to), b.knob("conv_ti", ti), b.knob("conv_tj", tj)
        if self.depthwise:
            oo, ot = b.split(o, [kto])
            io, it, ir = b.split(i, [kti, b.knob("conv_ri", ri)])
            jo, jt, jr = b.split(j, [ktj, b.knob("conv_rj", rj)])
            step, window, regs = [], [x for x in (c, ky, kx) if x is not None], [ir, jr]
        else:
            oo, ot, orr = b.split(o, [kto, b.knob("conv_ro", ro)])
            io, it = b.split(i, [kti])
            jo, jt, jr = b.split(j, [ktj, b.knob("conv_rj", rj)])
            co, cin = b.split(c, [b.knob("conv_rc", rc)])
            step, window, regs = [co], [cin, ky, kx] + ([ci] if ci is not None else []), [orr, jr]
        regs += [oi] if oi is not None else []
        outer, threads = [n, oo, io, jo], [ot, it, jt]
        b.reorder(*outer, *(step + threads if probe else threads + step), *window, *regs)
        return outer, threads, step, window, regs, [kto, kti, ktj]


def gpu_conv_schedule(b, name: str) -> None:
    """Direct conv2d, NCHW or NCHW{c}c, two-level tiled (the module's docstring); depthwise
    (one input channel per group) by `_depthwise`.

    Dense and grouped knobs: conv_to x conv_ti x conv_tj threads (output channels, or channel
    blocks in NCHW{c}c; rows; columns), conv_ro x conv_rj outputs a thread (channels x columns:
    4x4, on cuda 8x4; in NCHW{c}c blocks of c channels, the c lanes one vector: 1x4, on cuda
    2x4), conv_rc input channels (or blocks) a reduction step stages in shared memory: the most
    (up to CONV_MAX_RC, a divisor of the channels) whose input window and weights fit the
    target's shared memory, measured on a probe of one channel. The block's threads go to its
    rows and columns first (up to SPATIAL_THREADS), then to its channels. A grouped conv's
    channel tile divides a group's channels, so a block reads one group's input; a packed
    weight's tile is a multiple or a divisor of its block. When one channel's window does not
    fit (an 11x11 kernel), the block's channels, then rows, then columns are halved."""
    nest = ConvNest(b, name)
    tiles = TargetTiles(b.target)
    if nest.depthwise:
        _depthwise(b, nest, tiles)
        return
    regs = (((2, 4) if tiles.large else (1, 4)), (1, 2)) if nest.blocked else \
        (((8, 4) if tiles.large else (4, 4)), (2, 2))
    last = None
    for ro, rj in regs:
        ro = _regs(nest.per_group, ro)
        ro = ro if nest.per_group % ro == 0 else 1
        rj = _regs(nest.w, rj)
        tj = threads_along(nest.w, rj, 32)
        # the fewest channel threads whose tile is whole packed blocks: rows give way to them
        whole = next((t for t in range(1, tiles.threads + 1) if (t * ro) % nest.ob == 0
                      and nest.per_group % (t * ro) == 0), 1)
        ti = threads_along(nest.h, 1, max(1, min(SPATIAL_THREADS // tj, tiles.threads // (tj * whole))))
        to = threads_along(nest.per_group, ro, max(1, tiles.threads // (tj * ti)), align=nest.ob)
        ti = threads_along(nest.h, 1, max(1, tiles.threads // (tj * to)))  # threads the channels leave
        while True:
            window, weights = _conv_probe(b.fork(), nest, to, ti, tj, ro, rj)
            # the copies' last pass over the threads runs past the tile, and TVM sizes the
            # shared tile by it (`stage_shared`): up to a pass of float4s more
            margin = min(window, to * ti * tj * tiles.vector * 4)
            steps = [d for d in range(min(nest.c, CONV_MAX_RC), 0, -1)
                     if nest.c % d == 0 and d * (window + weights) + margin <= tiles.budget]
            try:
                _first_that_fits(b, steps[:2], lambda trial, rc, t: _conv_tiles(trial, nest, to, ti, tj, ro, rj, rc, t),
                                 tiles)
                return
            except NotThisShape as e:
                last = e
            smaller = threads_along(nest.per_group, ro, to // 2, align=nest.ob) if to > 1 else to
            if smaller < to:
                to = smaller
            elif ti > 1:
                ti = max(1, ti // 2)
            elif tj > 1:
                tj = max(1, tj // 2)
            else:
                break
    raise NotThisShape(f"no conv tiling fits: {last}")


def _conv_probe(b, nest: ConvNest, to: int, ti: int, tj: int, ro: int, rj: int) -> tuple[int, int]:
    """Bytes of one input channel's (or block's) window and weights that a block of this tiling
    reads at each reduction step: the copies computed at the step's loop, placed outside the
    thread loops for the probe (on a fork; no threads bound)."""
    block = b.get_block(nest.name)
    _inline_before(b, nest.name, keep=PRODUCERS_IN_COPIES)
    outer, _, (co,), _, _, _ = nest.split(b, block, to, ti, tj, ro, rj, 1, probe=True)
    sizes = []
    for index in (0, 1):
        source = b.state.sch.get(b.state.values[block]).reads[index].source
        shared = b.cache_read(block, index, "shared")
        b.compute_at(shared, co)
        sizes.append(_product(b.extent_bounds(b.get_loops(shared)[len(outer) + 1:])) * _dtype_bytes(source.dtype))
    return sizes[0], sizes[1]


def _conv_tiles(b, nest: ConvNest, to: int, ti: int, tj: int, ro: int, rj: int, rc: int, tiles) -> int:
    block = b.get_block(nest.name)
    _inline_before(b, nest.name, keep=PRODUCERS_IN_COPIES)
    wb = _write_back(b, b.cache_write(block, 0, "local"))
    outer, threads, (co,), window, regs, knobs = nest.split(b, block, to, ti, tj, ro, rj, rc)
    b.bind(b.fuse(*outer), "blockIdx.x")
    t = _bind_threads(b, threads)
    b.reverse_compute_at(wb, t)
    shared = sum(stage_shared(b, block, index, co, 3, knobs, tiles) for index in (0, 1))
    _inline_into_copies(b)
    even = nest.w % (tj * rj) == 0 and nest.h % ti == 0 and nest.per_group % (to * ro) == 0
    _register_tile(b, nest, window, regs, wb, block, tiles, even)
    b.decompose_reduction(block, co)
    return shared


def _inline_into_copies(b) -> None:
    """The padding (`pad`) and the weight's packing (`pack_w`, a select of the channels past
    the last block) computed in the shared copies that read them, not in the register tile's
    loop, which stays free of selects (a vector there would meet the select bug of
    `stage_shared`)."""
    for name in PRODUCERS_IN_COPIES:
        if name in b.block_names():
            b.compute_inline(b.get_block(name))


def _register_tile(b, nest: ConvNest, window, regs, wb, block, tiles, even: bool) -> None:
    """Unroll a thread's window loops (the innermost two: the kernel's columns and, NCHW{c}c, the
    step's lanes) and its register tile; the tile's innermost loop (NCHW{c}c: the c lanes; NCHW:
    the columns) is one vector when the tiles divide the output (`even`), and so is its store."""
    for loop in window[-2:] if nest.blocked else window[-1:]:
        b.unroll(loop)
    for loop in regs[:-1]:
        b.unroll(loop)
    _vector_or_unroll(b, regs[-1], even, tiles)
    out_last = nest.lanes if nest.blocked else nest.w
    _vectorize_write_back(b, wb, block, even, tiles, out_last)


def _depthwise(b, nest: ConvNest, tiles) -> None:
    """Depthwise (and any conv of one input channel per group) knobs: conv_to x conv_ti x
    conv_tj threads (channels, or channel blocks; rows; columns), conv_ri x conv_rj outputs a
    thread (rows x columns: 1x4, on cuda 2x4; NCHW{c}c: 1x2 and 2x2, x c lanes); the block's
    input window and weights are staged in shared memory once, as it starts."""
    configs = []
    wants = (((2, 2) if tiles.large else (1, 2)), (1, 1)) if nest.blocked else \
        (((2, 4) if tiles.large else (1, 4)), (1, 2), (1, 1))
    for ri, rj in wants:
        rj, ri = _regs(nest.w, rj), _regs(nest.h, ri)
        tj = threads_along(nest.w, rj, 32)
        ti = threads_along(nest.h, ri, max(1, tiles.threads // tj))
        to = threads_along(nest.o, 1, max(1, tiles.threads // (tj * ti)))
        for config in ((to, ti, tj, ri, rj), (max(1, to // 2), ti, tj, ri, rj), (1, ti, tj, ri, rj),
                       (1, max(1, ti // 2), tj, ri, rj)):
            if config not in configs:
                configs.append(config)
    _first_that_fits(b, configs, lambda trial, c, t: _depthwise_tiles(trial, nest, *c, t), tiles)


def _depthwise_tiles(b, nest: ConvNest, to: int, ti: int, tj: int, ri: int, rj: int, tiles) -> int:
    block = b.get_block(nest.name)
    _inline_before(b, nest.name, keep=PRODUCERS_IN_COPIES)
    wb = _write_back(b, b.cache_write(block, 0, "local"))
    outer, threads, _, window, regs, knobs = nest.split(b, block, to, ti, tj, 1, rj, 1, ri=ri)
    bx = b.fuse(*outer)
    b.bind(bx, "blockIdx.x")
    t = _bind_threads(b, threads)
    b.reverse_compute_at(wb, t)
    shared = sum(stage_shared(b, block, index, bx, 1, knobs, tiles) for index in (0, 1))
    _inline_into_copies(b)
    for loop in window[-2:]:
        b.unroll(loop)
    even = nest.w % (tj * rj) == 0 and nest.h % (ti * ri) == 0 and nest.o % to == 0
    for loop in regs[:-1]:
        b.unroll(loop)
    _vector_or_unroll(b, regs[-1], even, tiles)
    out_last = nest.lanes if nest.blocked else nest.w
    _vectorize_write_back(b, wb, block, even, tiles, out_last)
    b.decompose_reduction(block, window[0])
    return shared


# ---------------------------------------------------------------------------------------------
# reductions


CROSS_THREAD_MIN_REDUCE = 32  # a reduction this long is shared by threads; shorter ones run in one


def _spatial_then_reduce(b, name: str) -> tuple[int, int]:
    """(spatial, reduce) loop counts of block `name`, whose spatial loops must come first."""
    kinds = b.kinds_of(name)
    n_spatial = 0
    while n_spatial < len(kinds) and kinds[n_spatial] == SPATIAL:
        n_spatial += 1
    if any(k != REDUCE for k in kinds[n_spatial:]) or len(b.block_loop_extents(name)) != len(kinds):
        raise NotThisShape(f"block {name}: not spatial loops then reduced ones")
    return n_spatial, len(kinds) - n_spatial


def _inline_elementwise(b, names, keep) -> None:
    for name in names:
        if name in keep:
            continue
        trial = b.fork()
        try:
            trial.compute_inline(trial.get_block(name))
        except Exception as e:
            raise NotThisShape(f"block {name} does not inline") from e
        b.compute_inline(b.get_block(name))


def gpu_reduce_schedule(b, name: str | None = None) -> None:
    """A kernel of one reduction (reduce_*, global and window pooling, lrn, a GEMV) and the
    elementwise blocks around it: the producers inlined into it, the consumers computed in its
    write-back (from a register, `cache_write` to "local"), so the kernel is one device function.

    A long reduction (at least CROSS_THREAD_MIN_REDUCE) is shared by reduce_threads threads
    (threadIdx.x: each sums a strided part in a register, TVM adds the parts in a tree in
    shared memory and thread 0 writes the output), reduce_rows outputs per block (threadIdx.y).
    A short one (a pooling window), or one TVM cannot share (its combiner and identity are not
    one TVM knows: lamina's max with identity -inf), runs in one thread per output,
    reduce_outputs outputs per block (threadIdx.x)."""
    names = b.block_names()
    if name is None:
        reductions = [n for n in names if REDUCE in b.kinds_of(n)]
        if len(reductions) != 1:
            raise NotThisShape("not one reduction")
        name = reductions[0]
    n_spatial, _ = _spatial_then_reduce(b, name)
    ext = b.block_loop_extents(name)
    if 0 in ext:
        raise NotThisShape("an empty reduction")
    outputs, length = _product(ext[:n_spatial]), _product(ext[n_spatial:])
    tiles = TargetTiles(b.target)
    variants = [True, False] if length >= CROSS_THREAD_MIN_REDUCE else [False]
    _first_that_fits(b, variants, lambda trial, shared, t: _reduce_tiles(trial, name, n_spatial, outputs, length,
                                                                          shared, t), tiles)


def _reduce_tiles(b, name: str, n_spatial: int, outputs: int, length: int, shared: bool, tiles) -> int:
    block = b.get_block(name)
    _inline_before(b, name)
    wb = _write_back(b, b.cache_write(block, 0, "local"))
    loops = b.get_loops(block)
    spatial, reduce = loops[:n_spatial], loops[n_spatial:]
    if not spatial:  # a reduction to one value: a unit loop outside it to bind the block to
        spatial = [b.add_unit_loop(block)]
        b.reorder(*spatial, *reduce)
    s = b.fuse(*spatial) if len(spatial) > 1 else spatial[0]
    r = b.fuse(*reduce) if len(reduce) > 1 else reduce[0]
    if shared:
        tk = _pow2_at_most(length, 64 if outputs >= 64 else tiles.threads)
        rows = threads_along(outputs, 1, max(1, min(16, tiles.threads // tk)))
        so, st = b.split(s, [b.knob("reduce_rows", rows)])
        ro, rt = b.split(r, [b.knob("reduce_threads", tk)])
        b.reorder(so, st, ro, rt)
        b.bind(so, "blockIdx.x")
        b.bind(st, "threadIdx.y")
        b.bind(rt, "threadIdx.x")
        b.reverse_compute_at(wb, st)
        return 0
    # (no barrier in this kernel: a last block of fewer outputs is safe, see `threads_along`)
    per_block = outputs if outputs <= tiles.threads else _pow2_at_most(outputs, tiles.threads)
    so, st = b.split(s, [b.knob("reduce_outputs", per_block)])
    b.bind(so, "blockIdx.x")
    b.bind(st, "threadIdx.x")
    b.reverse_compute_at(wb, st)
    b.decompose_reduction(block, r)
    return 0


def _check_reads_rows(b, name: str, reduced: set, rows: int) -> None:
    """Block `name` reads each buffer of `reduced` at its own row: the read's first `rows`
    indices are the block's first `rows` axes, the rest (keepdims' 1s) constants. Extents alone
    do not say it: a 2 x 2 softmax over axis 0 reads its max at [column]."""
    sch = b.state.sch
    block = sch.get(sch.get_sblock(name))
    axes = [iv.var for iv in block.iter_vars]
    units = [int(iv.dom.extent) == 1 for iv in block.iter_vars]
    for read in block.reads:
        if str(read.source.name) not in reduced:
            continue
        for d, r in enumerate(read.region):
            own = d < len(axes) and r.min.same_as(axes[d])
            if d < rows:
                ok = own
            else:  # a constant, or the block's own axis of one iteration
                try:
                    ok = int(r.min) >= 0 and int(r.extent) == 1
                except TypeError:  # an index that is not a constant
                    ok = own and units[d]
            if not ok:
                raise NotThisShape(f"block {name} reads {read.source.name} across rows")


def gpu_row_reduction_schedule(b) -> None:
    """Rows reduced, then used elementwise along the row (softmax, log_softmax, layer_norm,
    instance_norm): one block per row (the output's row loops fused, blockIdx.x), its
    row_threads threads (threadIdx.x) computing each reduction of the row together (each a
    strided part, then TVM's tree in shared memory; the result kept in shared memory for the
    block) and then the row's outputs, a strided part each. Elementwise blocks between are
    inlined (softmax's exp is computed again where it is read: cheaper than storing it), so
    the kernel is one device function with no scratch buffer."""
    names = b.block_names()
    out_name = names[-1]
    kinds = {n: b.kinds_of(n) for n in names}
    reductions = [n for n in names[:-1] if REDUCE in kinds[n]]
    if not reductions or REDUCE in kinds[out_name]:
        raise NotThisShape("not rows reduced then used")
    out_ext = b.block_loop_extents(out_name)
    if 0 in out_ext or len(out_ext) < 2:
        raise NotThisShape("no rows")
    depths = set()
    for name in reductions:
        n_spatial, _ = _spatial_then_reduce(b, name)
        rows = b.block_loop_extents(name)[:n_spatial]
        while rows and rows[-1] == 1:
            rows = rows[:-1]  # keepdims' 1s (and rows of one: any depth takes them)
        if rows != out_ext[:len(rows)]:
            raise NotThisShape(f"block {name} does not reduce rows of the output")
        depths.add(len(rows))
    if len(depths) != 1:
        raise NotThisShape("reductions at different row depths")
    matched = depths.pop()
    depth = max(matched, 1)
    if depth >= len(out_ext):
        raise NotThisShape("no columns")
    _inline_elementwise(b, names[:-1], keep=reductions)
    for name in reductions[1:] + [out_name]:
        _check_reads_rows(b, name, set(reductions), matched)
    tiles = TargetTiles(b.target)
    columns = _product(out_ext[depth:])
    threads = b.knob("row_threads", _pow2_at_most(columns, tiles.threads))
    out = b.get_block(out_name)
    loops = b.get_loops(out)
    bx = b.fuse(*loops[:depth]) if depth > 1 else loops[0]
    b.bind(bx, "blockIdx.x")
    cols = loops[depth:]
    c = b.fuse(*cols) if len(cols) > 1 else cols[0]
    _, ct = b.split(c, [threads])
    b.bind(ct, "threadIdx.x")
    for name in reversed(reductions):  # consumers first: compute_at needs them under the loop
        block = b.get_block(name)
        b.compute_inline(b.cache_write(block, 0, "shared"))
        b.compute_at(block, bx)
        own = b.get_loops(block)[1:]
        if not own:  # a row of one element (a unit loop is dropped): one thread per row
            continue
        r = b.fuse(*own) if len(own) > 1 else own[0]
        _, rt = b.split(r, [threads])
        b.bind(rt, "threadIdx.x")
