"""scf.parallel -> an outlined function, run on threads that the generated code starts itself.

    scf.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) { body }

becomes, in the function that holds it:

    1. trips = number of iterations of the first dimension; T = min(@lamina.num_threads, trips)
       threads, each taking a chunk of ceil(trips / T) consecutive iterations;
    2. a context struct on the stack holds every value the body reads from outside (pointers,
       scalars, the bounds; constants stay constants);
    3. threads 1..T-1: pthread_create(@f.parallel0.thread, task = {begin, end, context});
       a thread that does not start runs its chunk on the calling thread instead;
    4. chunk 0 runs on the calling thread: @f.parallel0(begin, end, context);
    5. pthread_join the threads that started.

and `void @f.parallel0(i64 begin, i64 end, ptr context)` runs iterations begin..end-1 of the first
dimension, each with the other dimensions as ordinary nested loops (OpenMP's `parallel for`
without `collapse`): the inner loops stay plain counted loops that LLVM can vectorize.
`@f.parallel0.thread(ptr task)` is the `void *(*)(void *)` that pthread_create wants.

Why threads started by the generated code, and not a Python thread pool called back through
ctypes: the whole loop stays native (no GIL, no Python per chunk), it is all visible in the LLVM
IR, and `pthread_create`/`pthread_join` are in every Linux process that runs Python, so MCJIT
resolves them from the process as it does `aligned_alloc`. Why not OpenMP: libgomp/libomp need
not be loaded, and their outlining ABI (`__kmpc_fork_call`) is harder to read. The price: threads
start per parallel loop (tens of microseconds each), which is small against a layer's loop nest.

Not handled: reductions (`initVals` with `scf.reduce` regions) are an LLVMTranslationError.
"""

from __future__ import annotations

import os

from llvmlite import ir

from lamina.compiler.ir import BlockArgument, Operation, OpResult, Value

from .translate import I1, I64, PTR, Translator, llvm_type, op_error, segment_sizes

NUM_THREADS = os.cpu_count() or 1
"""How many threads an scf.parallel uses, unless `jit(..., num_threads=N)` or
`JitModule.num_threads` say otherwise. Set it before compiling to change the default."""

MAX_THREADS = 256
"""The most threads one scf.parallel starts: the task and thread-id arrays are this long."""


def translate_parallel(t: Translator, op: Operation) -> None:
    if op.results:
        raise op_error(op, "has reductions (initVals); the LLVM translation runs scf.parallel without them",
                       hint="accumulate with scf.for iter_args inside the body, or into a memref")
    lowers, uppers, steps, _ = _groups(op)
    if not lowers:
        raise op_error(op, "has no dimensions")
    outlined, context = _outline(t, op)
    trampoline = _trampoline(t, outlined)
    _launch(t, outlined, trampoline, context, lowers[0], uppers[0], steps[0])


def _groups(op: Operation) -> list[list[Value]]:
    """lowerBound..., upperBound..., step..., initVals..., split by operandSegmentSizes."""
    sizes = segment_sizes(op, 4)
    groups, start = [], 0
    for size in sizes:
        groups.append(list(op.operands[start:start + size]))
        start += size
    return groups


def _defined_inside(v: Value, op: Operation) -> bool:
    owner = v.op if isinstance(v, OpResult) else v.block.parent.parent if isinstance(v, BlockArgument) else None
    return owner is not None and (owner is op or op.is_ancestor_of(owner))


def _values_from_above(op: Operation) -> list[Value]:
    """The values `op`'s body reads that are defined outside it, plus the bounds the outlined
    function needs (all lower bounds and steps, the upper bounds of the inner dimensions)."""
    lowers, uppers, steps, _ = _groups(op)
    out, seen = [], set()
    candidates = lowers + steps + uppers[1:]
    for inner in op.walk():
        if inner is not op:
            candidates.extend(inner.operands)
    for v in candidates:
        if id(v) not in seen and not _defined_inside(v, op):
            seen.add(id(v))
            out.append(v)
    return out


def _outline(t: Translator, op: Operation) -> tuple[ir.Function, ir.Value]:
    """`void @<fn>.parallel<k>(i64 begin, i64 end, ptr context)`, and the context the caller
    filled for it."""
    captured = _values_from_above(op)
    outer_values = {v: t.value(v) for v in captured}
    passed = [v for v in captured if not isinstance(outer_values[v], ir.Constant)]  # constants stay inline
    context_type = ir.LiteralStructType([outer_values[v].type for v in passed])

    # the caller fills the context
    context = t.scope.allocas.alloca(context_type, name="context")
    for i, v in enumerate(passed):
        t.builder.store(outer_values[v], t.builder.gep(context, [ir.Constant(ir.IntType(32), 0),
                                                                  ir.Constant(ir.IntType(32), i)]))

    name = f"{t.scope.function.name}.parallel{t.outlined}"
    t.outlined += 1
    outlined = ir.Function(t.module, ir.FunctionType(ir.VoidType(), [I64, I64, PTR]), name=name)
    outlined.linkage = "internal"
    for arg, arg_name in zip(outlined.args, ("begin", "end", "context")):
        arg.name = arg_name

    caller_scope = t.scope
    t.scope = t.new_scope(outlined)
    b = t.builder
    fields = b.bitcast(outlined.args[2], context_type.as_pointer())
    for v in captured:
        if v in passed:
            i = passed.index(v)
            slot = b.gep(fields, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), i)])
            t.scope.values[v] = b.load(slot)
        else:
            t.scope.values[v] = outer_values[v]
    lowers, uppers, steps, _ = _groups(op)
    block = op.regions[0].blocks[0]

    def dimension(d: int, ivs: list[ir.Value]) -> None:
        if d == len(lowers):
            for arg, iv in zip(block.args, ivs):
                t.bind_value(arg, iv)
            t.translate_block(block, ("scf.reduce", "scf.yield"))
            return
        t.emit_loop(t.value(lowers[d]), t.value(uppers[d]), t.value(steps[d]), [],
                    lambda iv, _: dimension(d + 1, ivs + [iv]) or [], name=f"parallel.dim{d}",
                    iv_name=block.args[d].name_hint)

    def first_dimension(n: ir.Value, _) -> list:
        iv = t.builder.add(t.value(lowers[0]), t.builder.mul(n, t.value(steps[0])))
        dimension(1, [iv])
        return []

    t.emit_loop(outlined.args[0], outlined.args[1], ir.Constant(I64, 1), [], first_dimension, name="chunk")
    t.builder.ret_void()
    t.finish_scope()
    t.scope = caller_scope
    return outlined, context


TASK = ir.LiteralStructType([I64, I64, PTR])
"""What each thread gets: {begin, end, context}."""


def _trampoline(t: Translator, outlined: ir.Function) -> ir.Function:
    """`ptr @<outlined>.thread(ptr task)`: unpack the task, run the chunk, return null."""
    fn = ir.Function(t.module, ir.FunctionType(PTR, [PTR]), name=f"{outlined.name}.thread")
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    task = b.bitcast(fn.args[0], TASK.as_pointer())
    begin, end, context = (b.load(b.gep(task, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), i)]))
                           for i in range(3))
    b.call(outlined, [begin, end, context])
    b.ret(ir.Constant(PTR, None))
    return fn


def _launch(t: Translator, outlined: ir.Function, trampoline: ir.Function, context: ir.Value,
            lower: Value, upper: Value, step: Value) -> None:
    """Steps 1 and 3-5 of the module docstring, in the caller."""
    b = t.builder
    smin, smax = t.intrinsic("smin", I64, 2), t.intrinsic("smax", I64, 2)
    zero, one = ir.Constant(I64, 0), ir.Constant(I64, 1)
    lo, up, st = t.value(lower), t.value(upper), t.value(step)

    # 1. trips = max(0, ceil((upper - lower) / step)) (scf.parallel's steps are positive)
    trips = b.call(smax, [zero, b.sdiv(b.add(b.sub(up, lo), b.sub(st, one)), st)], name="trips")
    wanted = b.load(t.num_threads_variable(), name="num_threads")
    threads = b.call(smax, [one, b.call(smin, [b.call(smin, [wanted, ir.Constant(I64, MAX_THREADS)]), trips])])
    chunk = b.sdiv(b.add(trips, b.sub(threads, one)), threads, name="chunk")
    threads = b.select(b.icmp_signed("==", chunk, zero), one,  # no empty chunks: ceil(trips / chunk)
                       b.sdiv(b.add(trips, b.sub(chunk, one)), b.call(smax, [chunk, one])), name="threads")

    tasks = t.scope.allocas.alloca(TASK, size=ir.Constant(I64, MAX_THREADS), name="tasks")
    thread_ids = t.scope.allocas.alloca(I64, size=ir.Constant(I64, MAX_THREADS), name="thread_ids")
    started = t.scope.allocas.alloca(I1, size=ir.Constant(I64, MAX_THREADS), name="started")
    pthread_create = t.function_of("pthread_create", ir.IntType(32), [PTR, PTR, PTR, PTR])
    pthread_join = t.function_of("pthread_join", ir.IntType(32), [I64, PTR])
    context = b.bitcast(context, PTR)

    def chunk_bounds(k: ir.Value) -> tuple[ir.Value, ir.Value]:
        begin = t.builder.mul(k, chunk)
        return begin, t.builder.call(smin, [t.builder.add(begin, chunk), trips])

    # 3. start threads 1..T-1
    def start(k: ir.Value, _) -> list:
        bld = t.builder
        begin, end = chunk_bounds(k)
        task = bld.gep(tasks, [k])
        for i, v in enumerate((begin, end, context)):
            bld.store(v, bld.gep(task, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), i)]))
        rc = bld.call(pthread_create, [bld.bitcast(bld.gep(thread_ids, [k]), PTR), ir.Constant(PTR, None),
                                       bld.bitcast(trampoline, PTR), bld.bitcast(task, PTR)])
        ok = bld.icmp_signed("==", rc, ir.Constant(ir.IntType(32), 0))
        bld.store(ok, bld.gep(started, [k]))
        with bld.if_then(bld.not_(ok)):  # no thread: run the chunk here
            bld.call(outlined, [begin, end, context])
        return []

    t.emit_loop(one, threads, one, [], start, name="start")
    # 4. chunk 0 here
    begin, end = chunk_bounds(zero)
    t.builder.call(outlined, [begin, end, context])

    # 5. join
    def join(k: ir.Value, _) -> list:
        bld = t.builder
        with bld.if_then(bld.load(bld.gep(started, [k]))):
            bld.call(pthread_join, [bld.load(bld.gep(thread_ids, [k])), ir.Constant(PTR, None)])
        return []

    t.emit_loop(one, threads, one, [], join, name="join")
