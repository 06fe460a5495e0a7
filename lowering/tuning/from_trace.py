"""A TVM schedule trace as a lamina schedule-IR program: how meta-schedule's schedules become records.

A trace (`sch.trace.as_json()`, ../shared/docs/tvm-0.27-notes.md) is one instruction per
primitive, `[kind, inputs, attrs, outputs]`, with SSA names for TVM's random variables (`b0` a
block, `l3` a loop, `v6` an integer) and the sampling instructions' decisions kept apart. That is
a sched program already, one op per instruction, written in another syntax; this module rewrites
it op by op with the schedule builder (lowering/schedules/builder.py), which applies each op to
the kernel as it is emitted, so every step is checked on the real loops and the converter can ask
TVM what a handle is. What each instruction becomes (KINDS below, the whole list that
meta-schedule's CPU traces of lamina's kernels use; tests/test_tuning_meta_schedule.py converts
traces of each kind of kernel):

    GetSBlock, GetChildBlocks,       sched.get_block, one per block, by its name (the root block
    GetConsumers, GetProducers       has no handle: only annotations use it, see below)
    GetLoops, Split, Fuse, Reorder,  the sched op of the same name; a split's factors are knobs
    Parallel, Vectorize, ...         (`[None, 64]` is a split with the outer extent inferred)
    SamplePerfectTile                its decision: one knob per factor, named for the loop
    SampleCategorical                its decision, a constant where it is used (an unroll depth
                                     may be 0, which no knob can be)
    SampleComputeLocation            its decision: the loop TVM picks for it (-1: stay at the
                                     root, -2: inline, as TVM's compute_at does with them)
    ComputeAt, ReverseComputeAt      with `preserve_unit_loops`, as meta-schedule calls them
    Annotate, Unannotate             sched.annotate; an annotation the trace removes again is
                                     dropped with its removal (meta-schedule's rules leave hints
                                     on the root block for its postprocessors, which act on them
                                     in the instructions after EnterPostproc)
    EnterPostproc                    nothing: the postprocessors' instructions follow as they are

So the trace of a meta-schedule database record, postprocessors included, converts into the
program that gives the kernel meta-schedule measured: meta_schedule.py checks that by comparing
the two scheduled PrimFuncs structurally before it writes a record. An instruction with no sched
op, or with arguments lamina's op does not take, raises `Unconvertible` with the reason (that
task's record is then a failed one).
"""

from __future__ import annotations

import re

from lamina.dialects import sched

from ..schedules.builder import ScheduleBuilder, knob_name


class Unconvertible(Exception):
    """A trace instruction lamina's schedule IR cannot express (the message says which and why)."""


ROOT = "root block"          # the root block: no handle in lamina; only annotated
AT_ROOT = "at the root"      # SampleComputeLocation's -1: compute_at does nothing
INLINE = "inline"            # SampleComputeLocation's -2: compute_at becomes compute_inline
_RV = re.compile(r"[blv]\d+")  # a trace's random-variable names: block, loop, integer


def program_from_trace(trace, module, target, kernel: str = "kernel", compute_knobs: dict | None = None):
    """The sched.schedule program of `trace` (`[instructions, decisions]`, the plain-Python form of
    `Trace.as_json()`) for the unscheduled kernel `module` on `target` (a lowering.targets.Target).
    `compute_knobs` (the compute's own knobs, packing blocks) are written at their values, so the
    program says which compute it schedules. Raises Unconvertible."""
    instructions, decisions = trace
    decided = {int(index): decision for index, decision in decisions}
    converter = _Converter(ScheduleBuilder(kernel, target, module), compute_knobs or {})
    for index, instruction in enumerate(instructions):
        kind, inputs, attrs, outputs = instruction
        method = KINDS.get(kind)
        if method is None:
            raise Unconvertible(f"instruction {index} ({kind}) has no sched op")
        try:
            getattr(converter, method)(inputs, attrs, outputs, decided.get(index))
        except Unconvertible as e:
            raise Unconvertible(f"instruction {index} ({kind}): {e}") from None
        except Exception as e:  # a ScheduleError of the op it became, or TVM refusing a query
            raise Unconvertible(f"instruction {index} ({kind}): {str(e).splitlines()[0]}") from None
    converter.finish()
    return converter.b.program


class _Converter:
    """Writes a trace's instructions as sched ops through `builder`, one method per instruction
    kind (KINDS), each taking the instruction's inputs, attrs, outputs and decision."""

    def __init__(self, builder: ScheduleBuilder, compute_knobs: dict):
        self.b = builder
        self.rv: dict = {}        # trace name -> lamina Value, int, or ROOT / INLINE / AT_ROOT
        self.knob_of: dict = {}   # trace name of a sampled integer -> its knob (made on first use)
        self.loop_of: dict = {}   # trace name of a sampled tile factor -> (loop name, position)
        self.root_notes: dict = {}  # the root block's annotations: key -> value
        self.notes: list = []     # (TVM sref, key, the annotate op) of each annotation emitted
        self.names = set(compute_knobs)
        for name, value in compute_knobs.items():
            self.b.knob(name, value)

    @property
    def sch(self):
        """The TVM schedule the builder applies the program to (asked what a handle is)."""
        return self.b.state.sch

    # -- the trace's arguments

    def value(self, name):
        if not isinstance(name, str) or not _RV.fullmatch(name):
            raise Unconvertible(f"expected a random variable, got {name!r}")
        if name not in self.rv:
            raise Unconvertible(f"{name} is not defined before its use")
        return self.rv[name]

    def handle(self, name):
        """The lamina handle of block or loop `name` (the root and compute-location marks have none)."""
        value = self.value(name)
        if isinstance(value, (str, int)):
            raise Unconvertible(f"{name} ({value}) has no handle in lamina's schedule IR")
        return value

    def integer(self, item) -> int | None:
        """A literal integer, a sampled one (its decision), or None (`None`: an inferred factor)."""
        if item is None or item == "None":
            return None
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise Unconvertible(f"expected an integer, got {item!r}")
        if isinstance(item, int):
            return item
        value = self.value(item)
        if not isinstance(value, int):
            raise Unconvertible(f"{item} is not an integer")
        return value

    def knob(self, item, loop, position: int):
        """A knob for split factor `item` of `loop`: the sampled factor's own knob, named for the
        loop it was sampled for, or a new one for a literal."""
        if isinstance(item, str) and item in self.knob_of:
            return self.knob_of[item]
        value = self.integer(item)
        if value < 1:
            raise Unconvertible(f"split factor {value} is not positive")
        base, position = self.loop_of.get(item, (self.b.state.loop_name(loop), position))
        name = knob_name(f"{base}_f{position}")
        unique, n = name, 1
        while unique in self.names:
            n += 1
            unique = f"{name}_{n}"
        self.names.add(unique)
        knob = self.b.knob(unique, value)
        if isinstance(item, str):
            self.knob_of[item] = knob
        return knob

    def define(self, outputs, values) -> None:
        values = list(values)
        if len(values) != len(outputs):
            raise Unconvertible(f"gives {len(values)} results here, the trace names {len(outputs)}")
        self.rv.update(zip(outputs, values))

    def blocks_by_name(self, tvm_blocks) -> list:
        """A get_block for each of TVM's block handles (blocks have unique names)."""
        return [self.b.get_block(str(self.sch.get(block).name_hint)) for block in tvm_blocks]

    def tvm_of(self, name):
        """TVM's random variable for trace name `name` (the root block's too)."""
        value = self.value(name)
        return self.sch.get_sblock("root") if value is ROOT else self.b.state.values[self.handle(name)]

    # -- the instructions (KINDS maps each trace kind to one of these)

    def get_sblock(self, inputs, attrs, outputs, decision):
        name, func = attrs
        if func != "main":
            raise Unconvertible(f"names function {func}; a lamina kernel is one function, main")
        self.define(outputs, [ROOT if name == "root" else self.b.get_block(name)])

    def get_child_blocks(self, inputs, attrs, outputs, decision):
        self.define(outputs, self.blocks_by_name(self.sch.get_child_blocks(self.tvm_of(inputs[0]))))

    def get_consumers(self, inputs, attrs, outputs, decision):
        self.define(outputs, self.blocks_by_name(self.sch.get_consumers(self.tvm_of(inputs[0]))))

    def get_producers(self, inputs, attrs, outputs, decision):
        self.define(outputs, self.blocks_by_name(self.sch.get_producers(self.tvm_of(inputs[0]))))

    def get_loops(self, inputs, attrs, outputs, decision):
        self.define(outputs, self.b.get_loops(self.handle(inputs[0])))

    def sample_perfect_tile(self, inputs, attrs, outputs, decision):
        loop = self.b.state.loop_name(self.handle(inputs[0]))
        self.define(outputs, [int(d) for d in decision])
        self.loop_of.update({name: (loop, i) for i, name in enumerate(outputs)})

    def sample_categorical(self, inputs, attrs, outputs, decision):
        candidates = attrs[0]
        self.define(outputs, [int(candidates[int(decision)])])

    def sample_compute_location(self, inputs, attrs, outputs, decision):
        decision = int(decision)
        if decision in (-1, -2):
            self.define(outputs, [AT_ROOT if decision == -1 else INLINE])
            return
        loop = self.sch.sample_compute_location(self.tvm_of(inputs[0]), decision=decision)
        self.define(outputs, [self.loop_handle(loop)])

    def loop_handle(self, tvm_loop):
        """A lamina handle to TVM's loop `tvm_loop`: a live one, else from a get_loops of a block
        under it."""
        want = self.sch.get_sref(tvm_loop)
        state = self.b.state
        for value in self.rv.values():
            if getattr(value, "type", None) == sched.LOOP and value not in state.consumed \
                    and _same(self.sch, state.values[value], want):
                return value
        for block in self.sch.get_child_blocks(tvm_loop)[:1]:
            for loop in self.b.get_loops(self.blocks_by_name([block])[0]):
                if _same(self.sch, state.values[loop], want):
                    return loop
        raise Unconvertible("TVM's compute location is no loop lamina can name")

    def split(self, inputs, attrs, outputs, decision):
        preserve_unit_iters, disable_predication = (bool(int(a)) for a in attrs)
        if not preserve_unit_iters or disable_predication:
            raise Unconvertible("sched.split keeps unit loops and predicates, as TVM does by default")
        loop, factors = self.handle(inputs[0]), inputs[1:]
        inferred = [i for i, f in enumerate(factors) if self.integer(f) is None]
        if inferred not in ([], [0]):
            raise Unconvertible("only the outermost factor of a split can be inferred (None)")
        exact = not inferred
        knobs = [self.knob(f, loop, i) for i, f in enumerate(factors) if i not in inferred]
        self.define(outputs, self.b.split(loop, knobs, exact=exact))

    def fuse(self, inputs, attrs, outputs, decision):
        if attrs and not int(attrs[0]):
            raise Unconvertible("sched.fuse keeps unit loops, as TVM does by default")
        self.define(outputs, [self.b.fuse(*[self.handle(n) for n in inputs])])

    def reorder(self, inputs, attrs, outputs, decision):
        self.b.reorder(*[self.handle(n) for n in inputs])

    def parallel(self, inputs, attrs, outputs, decision):
        self.b.parallel(self.handle(inputs[0]))

    def vectorize(self, inputs, attrs, outputs, decision):
        self.b.vectorize(self.handle(inputs[0]))

    def unroll(self, inputs, attrs, outputs, decision):
        self.b.unroll(self.handle(inputs[0]))

    def compute_inline(self, inputs, attrs, outputs, decision):
        self.b.compute_inline(self.handle(inputs[0]))

    def reverse_compute_inline(self, inputs, attrs, outputs, decision):
        self.b.reverse_compute_inline(self.handle(inputs[0]))

    def compute_at(self, inputs, attrs, outputs, decision, reverse: bool = False):
        preserve_unit_loops, index = bool(int(attrs[0])), int(attrs[1])
        if index != -1:
            raise Unconvertible(f"places the block at position {index}; sched ops place it last (-1)")
        block, where = self.handle(inputs[0]), self.value(inputs[1])
        if where is AT_ROOT:
            return
        if where is INLINE:
            (self.b.reverse_compute_inline if reverse else self.b.compute_inline)(block)
            return
        move = self.b.reverse_compute_at if reverse else self.b.compute_at
        move(block, self.handle(inputs[1]), preserve_unit_loops)

    def reverse_compute_at(self, inputs, attrs, outputs, decision):
        self.compute_at(inputs, attrs, outputs, decision, reverse=True)

    def cache_write(self, inputs, attrs, outputs, decision, read: bool = False):
        if len(inputs) > 1 and inputs[1]:
            raise Unconvertible("names consumer blocks; sched cache ops cache for all of them")
        index, scope = int(attrs[0]), attrs[1]
        cache = self.b.cache_read if read else self.b.cache_write
        self.define(outputs, [cache(self.handle(inputs[0]), index, scope)])

    def cache_read(self, inputs, attrs, outputs, decision):
        self.cache_write(inputs, attrs, outputs, decision, read=True)

    def decompose_reduction(self, inputs, attrs, outputs, decision):
        self.define(outputs, [self.b.decompose_reduction(self.handle(inputs[0]), self.handle(inputs[1]))])

    def rfactor(self, inputs, attrs, outputs, decision):
        self.define(outputs, [self.b.rfactor(self.handle(inputs[0]), int(attrs[0]))])

    def annotate(self, inputs, attrs, outputs, decision):
        target, raw = inputs
        key = attrs[0]
        value = _string(raw) if isinstance(raw, str) and raw.startswith('"') else self.integer(raw)
        if self.value(target) is ROOT:
            self.root_notes[key] = value
            return
        handle = self.handle(target)
        op = self.b.annotate(handle, key, value)
        self.notes.append((self.sch.get_sref(self.b.state.values[handle]), key, op))

    def unannotate(self, inputs, attrs, outputs, decision):
        key = attrs[0]
        if self.value(inputs[0]) is ROOT:
            if self.root_notes.pop(key, None) is None:
                raise Unconvertible(f"removes annotation {key} of the root block, which it does not have")
            return
        rv = self.b.state.values[self.handle(inputs[0])]
        for i, (sref, note_key, op) in enumerate(self.notes):
            if note_key == key and _same(self.sch, rv, sref):
                op.erase()  # the annotation and its removal both go
                self.sch.unannotate(rv, key)
                del self.notes[i]
                return
        raise Unconvertible(f"removes annotation {key}, which the program did not make")

    def enter_postproc(self, inputs, attrs, outputs, decision):
        """The postprocessors' instructions follow; they convert as any other."""

    def finish(self) -> None:
        if self.root_notes:
            keys = ", ".join(sorted(self.root_notes))
            raise Unconvertible(f"the root block keeps annotations ({keys}); lamina has no handle to it")


def _same(sch, rv, sref) -> bool:
    """Whether TVM's random variable `rv` is the block or loop of `sref` (False if it is gone)."""
    try:
        return sch.get_sref(rv).same_as(sref)
    except Exception:  # a loop a later primitive replaced
        return False


def _string(raw: str) -> str:
    """A trace's string literal (written with its quotes, `"SSRSRS"`)."""
    import json

    return json.loads(raw)


# trace instruction kind -> the _Converter method that writes it as sched ops
KINDS = {
    "GetSBlock": "get_sblock", "GetChildBlocks": "get_child_blocks", "GetConsumers": "get_consumers",
    "GetProducers": "get_producers", "GetLoops": "get_loops",
    "SamplePerfectTile": "sample_perfect_tile", "SampleCategorical": "sample_categorical",
    "SampleComputeLocation": "sample_compute_location",
    "Split": "split", "Fuse": "fuse", "Reorder": "reorder", "Parallel": "parallel", "Vectorize": "vectorize",
    "Unroll": "unroll", "ComputeInline": "compute_inline", "ReverseComputeInline": "reverse_compute_inline",
    "ComputeAt": "compute_at", "ReverseComputeAt": "reverse_compute_at", "CacheWrite": "cache_write",
    "CacheRead": "cache_read", "DecomposeReduction": "decompose_reduction", "RFactor": "rfactor",
    "Annotate": "annotate", "Unannotate": "unannotate", "EnterPostproc": "enter_postproc",
}
