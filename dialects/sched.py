"""The schedule dialect: a kernel's schedule as a small program, one op per TVM primitive.

In the spirit of MLIR's transform dialect and of TVM's schedule trace: SSA *handles* to the
kernel's blocks (`!sched.block`, one per TE compute) and loops (`!sched.loop`), named integers
(`sched.knob`: tile sizes, vector widths, packing blocks — the choices a tuner searches), and one
op per primitive. A handle that a primitive consumes (the loop a split replaces, the block an
inline removes) is invalid afterwards. The program sits in a `sched.schedule` op that names its
kernel and target:

    sched.schedule @conv2d_relu attributes {target = "llvm"} {
      %wb = sched.knob wb 14
      %b = sched.get_block @conv2d
      %l:7 = sched.get_loops %b
      %jo, %ji = sched.split %l#3 (%wb)
      sched.vectorize %ji
    }

Names on the TVM side (blocks, thread tags, storage scopes, annotation keys) are written as
`@name`. A split's factors are knob values; `sched.split %l (%a, %b)` makes three loops with the
outermost extent inferred (TVM's `factors=[None, a, b]`), `sched.split exact, %l (%a, %b)` two, whose
product must cover the loop (a larger product is legal: TVM adds a predicate).

What this module checks is what an op says by itself (operand kinds, result counts, knob
names). Whether a program fits its kernel and target (handles used after being consumed, split
factors against loop extents, bind tags and thread limits, vectorizing a reduction) is the
schedule verifier's (lowering/schedules/verify.py), which runs before TVM sees the program;
lowering/tvm_adapter.py applies it with `tvm.s_tir.Schedule`.
"""

from __future__ import annotations

import re

from lamina.compiler.attributes import DenseArrayAttr, IntegerAttr, StringAttr, UnitAttr
from lamina.compiler.ir import Block, Region
from lamina.compiler.opdef import (Attr, Dialect, HasParent, IsolatedFromAbove, NoTerminator, Op, Operand,
                                   RegionDef, Result, TypeConstraint, VarOperand, VarResult)
from lamina.compiler.printer import CustomForm
from lamina.compiler.types import i64

sched = Dialect("sched", "Schedules: handles to a kernel's blocks and loops, one op per TVM primitive.")

BLOCK = sched.register_type("block")
LOOP = sched.register_type("loop")

block_handle = TypeConstraint("!sched.block", lambda t: t == BLOCK)
loop_handle = TypeConstraint("!sched.loop", lambda t: t == LOOP)
knob_value = TypeConstraint("i64", lambda t: t == i64)
any_handle = TypeConstraint("!sched.block or !sched.loop", lambda t: t in (BLOCK, LOOP))

KNOB_NAME = re.compile(r"[a-z][a-z0-9_]*")
_RESERVED = {"true", "false", "unit", "none", "index", "attributes", "module", "dense", "array", "loc",
             "tensor", "dense_resource"}
STORAGE_SCOPES = ("global", "shared", "shared.dyn", "local", "warp", "global.texture")


def _in_schedule():
    return HasParent(("sched.schedule",))


def _form_result_count(form, parser, want: int, what: str):
    if form.result_count != want:
        parser.fail_form(form, f"gives {want} {what}{'s' * (want != 1)}, but {form.result_count} "
                               f"{'are' if form.result_count != 1 else 'is'} named")


# ---------------------------------------------------------------------------------------------
# The container


@sched.op
class ScheduleOp(Op):
    """The schedule of one kernel, for one target: a block of sched ops, applied in order.

        sched.schedule @matmul attributes {target = "llvm"} {
          %b = sched.get_block @matmul
        }
    """

    name = "sched.schedule"
    sym_name = Attr(StringAttr, doc="the kernel it schedules")
    target = Attr(StringAttr, doc="the target name (lowering/targets.py) it was written for")
    body = RegionDef()
    traits = (IsolatedFromAbove, NoTerminator)

    @classmethod
    def create(cls, kernel: str, target: str, location=None) -> "ScheduleOp":
        return cls(properties={"sym_name": StringAttr(kernel), "target": StringAttr(target)},
                   regions=[Region([Block()])], location=location)

    @property
    def block(self) -> Block:
        return self.body.block

    @property
    def kernel(self) -> str:
        return self.sym_name.value

    @property
    def target_name(self) -> str:
        return self.target.value

    def knobs(self) -> dict[str, int]:
        """Every knob's name and decision, in program order."""
        return {op.knob_name: op.decision for op in self.block if isinstance(op, KnobOp)}

    def verify(self):
        if self.operands or self.results:
            return "takes no operands and returns no results"
        seen = set()
        for op in self.block:
            if isinstance(op, KnobOp):
                if op.knob_name in seen:
                    return f"defines knob '{op.knob_name}' twice"
                seen.add(op.knob_name)

    def print_custom(self, p):
        if not self.body.blocks or self.body.block.args:
            return None
        return CustomForm(symbol=self.kernel, attr_dict={"target": self.target, **self.attributes},
                          region=self.body)

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "symbol", "attr_dict", "region", required=("symbol", "attr_dict", "region"))
        attrs = dict(form.attr_dict)
        target = attrs.pop("target", None)
        if not isinstance(target, StringAttr):
            parser.fail_form(form, "needs its target: attributes {target = \"llvm\"}",
                             "`lamina targets` lists the target names")
        op = cls(properties={"sym_name": StringAttr(form.symbol), "target": target}, attributes=attrs)
        body = op.add_region(parser.region(form.region))
        if not body.blocks:
            body.add_block(Block())
        return op


# ---------------------------------------------------------------------------------------------
# Knobs and handles


@sched.op
class KnobOp(Op):
    """A named integer decision: a tile size, a vector width, a packing block. Every value a
    generator derived from a choice is a knob, so a schedule file changes it in one place and a
    tuner searches it. Knobs named `pack_*` also shape the kernel's compute (the weight-packing
    block sizes), which is lowered with them.

        %mb = sched.knob mb 8
    """

    name = "sched.knob"
    knob = Attr(StringAttr)
    value = Attr(IntegerAttr)
    result = Result(knob_value)
    traits = (_in_schedule(),)

    @classmethod
    def create(cls, name: str, value: int, location=None) -> "KnobOp":
        return cls(properties={"knob": StringAttr(name), "value": IntegerAttr(int(value), i64)},
                   result_types=[i64], location=location)

    @property
    def knob_name(self) -> str:
        return self.knob.value

    @property
    def decision(self) -> int:
        return int(self.value.value)

    def verify(self):
        if not KNOB_NAME.fullmatch(self.knob_name) or self.knob_name in _RESERVED:
            return f"knob name '{self.knob_name}' must be lower-case letters, digits and '_' (not a keyword)"
        if self.decision < 1:
            return f"knob '{self.knob_name}' is {self.decision}; a knob is a positive integer"

    def print_custom(self, p):
        return CustomForm(keyword=self.knob_name, attribute=IntegerAttr(self.decision, i64),
                          attr_dict=self.attributes or None)

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "keyword", "attribute", "attr_dict", required=("keyword", "attribute"))
        value = parser.typed_attribute(form, i64)
        if not isinstance(value, IntegerAttr):
            parser.fail_form(form, "takes an integer value, like `sched.knob mb 8`")
        op = cls.create(form.keyword, value.value)
        op.attributes.update(form.attr_dict or {})
        return op


class _Named(Op):
    """An op whose custom form is `[keyword] [@name] operands [integer attribute]`."""

    tvm_name_attr: str | None = None   # property printed as @name
    keyword_attr: str | None = None    # property printed as the keyword
    int_attr: str | None = None        # property printed as the trailing integer
    results_kind = None                # the result type (a handle), or None

    def print_custom(self, p):
        props = self.properties
        if set(props) - {a for a in (self.tvm_name_attr, self.keyword_attr, self.int_attr) if a}:
            return None
        return CustomForm(
            keyword=props[self.keyword_attr].value if self.keyword_attr else None,
            symbol=props[self.tvm_name_attr].value if self.tvm_name_attr else None,
            operands=list(self.operands) or None,
            attribute=IntegerAttr(int(props[self.int_attr].value), i64) if self.int_attr else None,
            attr_dict=self.attributes or None)

    @classmethod
    def operand_types_for(cls, n: int) -> list:
        raise NotImplementedError

    @classmethod
    def from_custom(cls, form, parser):
        allowed = ["operands", "attr_dict"] + [piece for piece, attr in (
            ("symbol", cls.tvm_name_attr), ("keyword", cls.keyword_attr), ("attribute", cls.int_attr)) if attr]
        optional = {"attr_dict"} | ({"operands"} if cls.operand_types_for(0) is not None else set())
        parser.expect_form(form, *allowed, required=tuple(p for p in allowed if p not in optional))
        types = cls.operand_types_for(len(form.operands or []))
        if types is None:
            parser.fail_form(form, "has the wrong number of operands", cls.__doc__.strip().splitlines()[0])
        operands = [parser.use(n, t if t is not None else (parser.type_of(n) or LOOP))
                    for n, t in zip(form.operands or [], types)]
        props = {}
        if cls.tvm_name_attr:
            props[cls.tvm_name_attr] = StringAttr(form.symbol)
        if cls.keyword_attr:
            props[cls.keyword_attr] = StringAttr(form.keyword)
        if cls.int_attr:
            value = parser.typed_attribute(form, i64)
            if not isinstance(value, IntegerAttr):
                parser.fail_form(form, "takes an integer after its operands")
            props[cls.int_attr] = IntegerAttr(int(value.value), i64)
        results = cls.result_types_for(form.result_count, len(operands))
        if results is None:
            parser.fail_form(form, f"cannot give {form.result_count} results")
        return cls(operands=operands, result_types=results, properties=props, attributes=form.attr_dict or {})

    @classmethod
    def result_types_for(cls, named: int, n_operands: int):
        want = 1 if cls.results_kind is not None else 0
        return [cls.results_kind] * want if named == want else None


def _fixed(*types):
    return classmethod(lambda cls, n: list(types) if n == len(types) else None)


@sched.op
class GetBlockOp(_Named):
    """A handle to the block of the TE compute of this name (`get_sblock` in TVM 0.27).

        %b = sched.get_block @conv2d
    """

    name = "sched.get_block"
    block_name = Attr(StringAttr)
    result = Result(block_handle)
    traits = (_in_schedule(),)
    tvm_name_attr = "block_name"
    results_kind = BLOCK
    operand_types_for = _fixed()

    @classmethod
    def create(cls, name: str):
        return cls(properties={"block_name": StringAttr(name)}, result_types=[BLOCK])


@sched.op
class GetLoopsOp(_Named):
    """Handles to the loops around a block, outermost first.

        %l:3 = sched.get_loops %b
    """

    name = "sched.get_loops"
    target = Operand(block_handle)
    loops = VarResult(loop_handle)
    traits = (_in_schedule(),)
    operand_types_for = _fixed(BLOCK)

    @classmethod
    def result_types_for(cls, named, n_operands):
        return [LOOP] * named


@sched.op
class SplitOp(Op):
    """Split a loop by factors (knob values): `(%a, %b)` gives three loops, the outermost's
    extent inferred; `exact` gives one loop per factor, their product covering the extent.

        %lo, %li = sched.split %l (%vw)
    """

    name = "sched.split"
    loop = Operand(loop_handle)
    factors = VarOperand(knob_value)
    exact = Attr(UnitAttr, optional=True)
    loops = VarResult(loop_handle)
    traits = (_in_schedule(),)

    def verify(self):
        if not self.factors:
            return "needs at least one factor"
        want = len(self.factors) + (0 if self.exact else 1)
        if len(self.results) != want:
            return f"with {len(self.factors)} factor{'s' * (len(self.factors) != 1)} gives {want} loop{'s' * (want != 1)}, not {len(self.results)}"

    def print_custom(self, p):
        return CustomForm(keyword="exact" if self.exact else None, operands=[self.loop],
                          paren=list(self.factors), attr_dict=self.attributes or None)

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "keyword", "operands", "paren", "attr_dict", required=("operands", "paren"))
        if form.keyword not in (None, "exact"):
            parser.fail_form(form, f"does not know '{form.keyword}'", "write `sched.split exact, %l (...)` or no keyword")
        loop = parser.operands_of_type(form, LOOP, 1)[0]
        factors = parser.paren_operands(form, [i64] * len(form.paren or []))
        props = {"exact": UnitAttr()} if form.keyword else {}
        return cls(operands=[loop, *factors], result_types=[LOOP] * form.result_count, properties=props,
                   attributes=form.attr_dict or {})


@sched.op
class FuseOp(_Named):
    """Fuse adjacent loops (outermost first) into one.

        %f = sched.fuse %l#0, %l#1
    """

    name = "sched.fuse"
    loops = VarOperand(loop_handle)
    result = Result(loop_handle)
    traits = (_in_schedule(),)
    results_kind = LOOP
    operand_types_for = classmethod(lambda cls, n: [LOOP] * n if n >= 1 else None)


@sched.op
class AddUnitLoopOp(_Named):
    """A loop of extent 1 around a block: a handle to bind when the block has no loop of its own
    to bind (a reduction to one value, a scalar output on a GPU).

        %u = sched.add_unit_loop %b
    """

    name = "sched.add_unit_loop"
    block = Operand(block_handle)
    result = Result(loop_handle)
    traits = (_in_schedule(),)
    results_kind = LOOP
    operand_types_for = _fixed(BLOCK)


@sched.op
class ReorderOp(_Named):
    """Put loops of one nest in this order (outermost first).

        sched.reorder %ko, %ii, %ji
    """

    name = "sched.reorder"
    loops = VarOperand(loop_handle)
    traits = (_in_schedule(),)
    operand_types_for = classmethod(lambda cls, n: [LOOP] * n if n >= 1 else None)


@sched.op
class BindOp(_Named):
    """Bind a loop to a GPU thread axis (blockIdx.*, threadIdx.*, vthread).

        sched.bind @threadIdx.x %li
    """

    name = "sched.bind"
    loop = Operand(loop_handle)
    thread = Attr(StringAttr)
    traits = (_in_schedule(),)
    tvm_name_attr = "thread"
    operand_types_for = _fixed(LOOP)


class _LoopMark(_Named):
    loop = Operand(loop_handle)
    traits = (_in_schedule(),)
    operand_types_for = _fixed(LOOP)


@sched.op
class ParallelOp(_LoopMark):
    """Run a loop's iterations on the CPU's threads.

        sched.parallel %f
    """

    name = "sched.parallel"


@sched.op
class VectorizeOp(_LoopMark):
    """Run a (data-parallel) loop as one vector operation.

        sched.vectorize %ji
    """

    name = "sched.vectorize"


@sched.op
class UnrollOp(_LoopMark):
    """Unroll a loop completely.

        sched.unroll %ki
    """

    name = "sched.unroll"


@sched.op
class AnnotateOp(_Named):
    """An annotation on a loop or block: an integer, such as an unroll pragma, or a string, such
    as the tiling structure meta-schedule leaves on the blocks it tiled (its schedules, converted
    by lowering/tuning/from_trace.py, keep it, so that they give the very kernel it measured). A
    string is written as the `value` attribute (a custom form's trailing value is a number).

        sched.annotate @pragma_auto_unroll_max_step %l 16
        sched.annotate @meta_schedule.tiling_structure %b attributes {value = "SSRSRS"}
    """

    name = "sched.annotate"
    target = Operand(any_handle)
    key = Attr(StringAttr)
    value = Attr((IntegerAttr, StringAttr))
    traits = (_in_schedule(),)
    tvm_name_attr = "key"
    int_attr = "value"

    @property
    def annotation(self) -> int | str:
        """The value as TVM takes it."""
        return self.value.value if isinstance(self.value, StringAttr) else int(self.value.value)

    @classmethod
    def operand_types_for(cls, n):
        return None if n != 1 else [None]

    def print_custom(self, p):
        if not isinstance(self.value, StringAttr):
            return super().print_custom(p)
        return CustomForm(symbol=self.key.value, operands=[self.target],
                          attr_dict={"value": self.value, **self.attributes})

    @classmethod
    def from_custom(cls, form, parser):
        value = (form.attr_dict or {}).get("value")
        if value is None:
            return super().from_custom(form, parser)
        if form.attribute is not None or not isinstance(value, StringAttr):
            parser.fail_form(form, "takes an integer after its operand, or a string as attributes {value = \"...\"}")
        parser.expect_form(form, "symbol", "operands", "attr_dict", required=("symbol", "operands"))
        _form_result_count(form, parser, 0, "result")
        names = form.operands or []
        if len(names) != 1:
            parser.fail_form(form, f"expects 1 operand (a loop or block), got {len(names)}")
        attrs = {k: v for k, v in form.attr_dict.items() if k != "value"}
        return cls(operands=[parser.use(names[0], parser.type_of(names[0]) or LOOP)],
                   properties={"key": StringAttr(form.symbol), "value": value}, attributes=attrs)


class _MoveOp(Op):
    """compute_at and reverse_compute_at: `preserve_unit_loops` keeps the moved block's loops of
    extent 1 (TVM drops them by default; meta-schedule's schedules keep them)."""

    block = Operand(block_handle)
    loop = Operand(loop_handle)
    preserve_unit_loops = Attr(UnitAttr, optional=True)
    traits = (_in_schedule(),)

    def print_custom(self, p):
        return CustomForm(keyword="preserve_unit_loops" if self.preserve_unit_loops else None,
                          operands=[self.block, self.loop], attr_dict=self.attributes or None)

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "keyword", "operands", "attr_dict", required=("operands",))
        if form.keyword not in (None, "preserve_unit_loops"):
            parser.fail_form(form, f"does not know '{form.keyword}'",
                             f"write `{cls.name} preserve_unit_loops, %b, %l` or no keyword")
        _form_result_count(form, parser, 0, "result")
        names = form.operands or []
        if len(names) != 2:
            parser.fail_form(form, f"expects 2 operands (a block and a loop), got {len(names)}")
        props = {"preserve_unit_loops": UnitAttr()} if form.keyword else {}
        return cls(operands=[parser.use(names[0], BLOCK), parser.use(names[1], LOOP)], properties=props,
                   attributes=form.attr_dict or {})


@sched.op
class ComputeAtOp(_MoveOp):
    """Move a producer block under a loop of its consumer.

        sched.compute_at %b, %l
        sched.compute_at preserve_unit_loops, %b, %l
    """

    name = "sched.compute_at"


@sched.op
class ReverseComputeAtOp(_MoveOp):
    """Move a consumer block under a loop of its producer.

        sched.reverse_compute_at %wb, %jo
    """

    name = "sched.reverse_compute_at"


@sched.op
class ComputeInlineOp(_Named):
    """Inline an elementwise producer into its consumers; the block is gone afterwards.

        sched.compute_inline %pad
    """

    name = "sched.compute_inline"
    block = Operand(block_handle)
    traits = (_in_schedule(),)
    operand_types_for = _fixed(BLOCK)


@sched.op
class ReverseComputeInlineOp(_Named):
    """Inline an elementwise consumer into its producer; the block is gone afterwards.

        sched.reverse_compute_inline %relu
    """

    name = "sched.reverse_compute_inline"
    block = Operand(block_handle)
    traits = (_in_schedule(),)
    operand_types_for = _fixed(BLOCK)


class _Scoped(_Named):
    """An op on a block's buffer #buffer_index and a storage scope: `sched.<op> @scope %b index`."""

    block = Operand(block_handle)
    buffer_index = Attr(IntegerAttr)
    scope = Attr(StringAttr)
    traits = (_in_schedule(),)
    tvm_name_attr = "scope"
    int_attr = "buffer_index"
    operand_types_for = _fixed(BLOCK)

    def verify(self):
        if self.scope.value not in STORAGE_SCOPES:
            return f"storage scope '{self.scope.value}' is not one of {', '.join(STORAGE_SCOPES)}"


class _Cache(_Scoped):
    result = Result(block_handle)
    results_kind = BLOCK


@sched.op
class CacheReadOp(_Cache):
    """Read a block's input buffer (its read #index) through a copy in a storage scope.

        %s = sched.cache_read @shared %b 0
    """

    name = "sched.cache_read"


@sched.op
class CacheWriteOp(_Cache):
    """Write a block's output buffer (its write #index) through a copy in a storage scope: the
    block then writes the copy (registers, for "local"), and a new block copies it out.

        %wb = sched.cache_write @local %b 0
    """

    name = "sched.cache_write"


@sched.op
class SetScopeOp(_Scoped):
    """Keep a block's output buffer (its write #index) in a storage scope: "local" where the
    block is computed at a loop, so that its buffer, the size of one iteration's region, is
    registers or the stack, not memory the kernel allocates.

        sched.set_scope @local %rows 0
    """

    name = "sched.set_scope"


@sched.op
class DecomposeReductionOp(_Named):
    """Hoist a reduction's initialization out of the loop nest, above `loop`; gives the init block.

        %init = sched.decompose_reduction %b, %ko
    """

    name = "sched.decompose_reduction"
    block = Operand(block_handle)
    loop = Operand(loop_handle)
    result = Result(block_handle)
    traits = (_in_schedule(),)
    results_kind = BLOCK
    operand_types_for = _fixed(BLOCK, LOOP)


@sched.op
class RFactorOp(_Named):
    """Factor a reduction: the loop's iterations sum into partial results (a new block, whose
    buffer has the loop as axis `factor_axis`), then a second block sums those.

        %rf = sched.rfactor %ki 0
    """

    name = "sched.rfactor"
    loop = Operand(loop_handle)
    factor_axis = Attr(IntegerAttr)
    result = Result(block_handle)
    traits = (_in_schedule(),)
    int_attr = "factor_axis"
    results_kind = BLOCK
    operand_types_for = _fixed(LOOP)


class _BlockAxesOp(Op):
    """An op on the axes of a block's buffer or domain, whose custom form is
    `keyword, %block array<i64: ...>`, with `attributes {index = N}` for a buffer other than #0."""

    keyword_attr: str = ""   # property printed as the keyword (what the axes are of)
    array_attr: str = ""     # property printed as the array (which axes)
    array_hint: str = ""     # how the array is written, for the parse error

    @property
    def buffer_index(self) -> int:
        return int(self.index.value) if self.index is not None else 0

    def print_custom(self, p):
        extra = {"index": IntegerAttr(self.buffer_index, i64)} if self.index is not None else {}
        return CustomForm(keyword=self.properties[self.keyword_attr].value, operands=[self.block],
                          attribute=self.properties[self.array_attr],
                          attr_dict={**extra, **self.attributes} or None)

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "keyword", "operands", "attribute", "attr_dict",
                           required=("keyword", "operands", "attribute"))
        block = parser.operands_of_type(form, BLOCK, 1)[0]
        if not isinstance(form.attribute, DenseArrayAttr) or form.attribute.element_type != i64:
            parser.fail_form(form, f"takes {cls.array_hint}")
        attrs = dict(form.attr_dict or {})
        props = {cls.keyword_attr: StringAttr(form.keyword), cls.array_attr: form.attribute}
        if "index" in attrs:
            props["index"] = attrs.pop("index")
        return cls(operands=[block], properties=props, attributes=attrs)

    @classmethod
    def create(cls, block, keyword: str, axes, index: int = 0):
        props = {cls.keyword_attr: StringAttr(keyword), cls.array_attr: DenseArrayAttr(i64, tuple(int(a) for a in axes))}
        if index:
            props["index"] = IntegerAttr(index, i64)
        return cls(operands=[block], properties=props)


@sched.op
class TransformLayoutOp(_BlockAxesOp):
    """Permute the axes of a block's buffer (its `write` or `read` #index; 0 unless
    `attributes {index = N}`): `array<i64: 0, 2, 3, 1>` stores axis 1 innermost.

        sched.transform_layout write, %b array<i64: 0, 2, 3, 1>
    """

    name = "sched.transform_layout"
    block = Operand(block_handle)
    buffer = Attr(StringAttr)
    index = Attr(IntegerAttr, optional=True)
    permutation = Attr(DenseArrayAttr)
    traits = (_in_schedule(),)
    keyword_attr, array_attr = "buffer", "permutation"
    array_hint = "the permutation as array<i64: ...>, like array<i64: 0, 2, 3, 1>"

    @property
    def axes(self) -> list[int]:
        return [int(a) for a in self.permutation.values]

    def verify(self):
        if self.buffer.value not in ("read", "write"):
            return f"buffer kind must be read or write, not '{self.buffer.value}'"
        if sorted(self.axes) != list(range(len(self.axes))):
            return f"{self.permutation} is not a permutation of 0..{len(self.axes) - 1}"


@sched.op
class MergeAxesOp(_BlockAxesOp):
    """Merge the consecutive axes first..last into one, row-major: of a block's `write` or `read`
    buffer (#index; 0 unless `attributes {index = N}`), or of its iteration domain (`iters`: the
    block's loops are rebuilt, one for the merged axes, and the handles to its old loops are
    invalid). A conv's rows and columns merged into one axis make its output planes one long row,
    which vectors of 16 columns divide where the rows alone do not (56 columns, 3136 pixels).

        sched.merge_axes write, %b array<i64: 2, 3>
        sched.merge_axes iters, %b array<i64: 2, 3>
    """

    name = "sched.merge_axes"
    block = Operand(block_handle)
    target = Attr(StringAttr)
    index = Attr(IntegerAttr, optional=True)
    span = Attr(DenseArrayAttr)
    traits = (_in_schedule(),)
    keyword_attr, array_attr = "target", "span"
    array_hint = "the axes to merge as array<i64: first, last>, like array<i64: 2, 3>"

    @property
    def first_last(self) -> tuple[int, int]:
        first, last = (int(a) for a in self.span.values)
        return first, last

    def verify(self):
        if self.target.value not in ("read", "write", "iters"):
            return f"merges the axes of read, write or iters, not '{self.target.value}'"
        if len(self.span.values) != 2:
            return f"takes the first and the last axis to merge, as array<i64: first, last>, not {self.span}"
        first, last = self.first_last
        if not 0 <= first < last:
            return f"merges axes {first}..{last}: the first must be at least 0 and below the last"


# the ops that consume (invalidate) a handle operand: op name -> operand indices
CONSUMES = {
    "sched.split": (0,),
    "sched.fuse": "all",
    "sched.compute_inline": (0,),
    "sched.reverse_compute_inline": (0,),
}
