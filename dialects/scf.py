"""The scf dialect (structured control flow): loops and conditionals with regions.

    %sum = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f32) {
      %v = memref.load %m[%i] : memref<?xf32>
      %next = arith.addf %acc, %v : f32
      scf.yield %next : f32
    }

A loop's body is a block whose arguments are the induction variable and then the loop-carried
values (`iter_args`); `scf.yield` hands the next values to the following iteration, and the
last ones become the loop's results. An `scf.yield` with no operands may be left out of the
custom form, as MLIR does; the parser adds it back.

Op names, operands and the generic form are MLIR's (as xDSL 0.75 reads them). The ops carry
RecursiveMemoryEffects: a loop does to memory what its body does, so cse and dce look inside.
The interpreter runs their regions through `interpret_with` (see runtime/interpreter.py).
"""

from __future__ import annotations

import numpy as np

from lamina.compiler.attributes import DenseArrayAttr
from lamina.compiler.ir import Block, Region
from lamina.compiler.opdef import (Attr, Dialect, HasParent, Op, Operand, Pure, RecursiveMemoryEffects,
                                   RegionDef, Terminator, TypeConstraint, VarOperand, VarRegionDef, VarResult,
                                   check_segments, operand_segments)
from lamina.compiler.printer import CustomForm, ValuesForm
from lamina.compiler.rewrite import RewritePattern, constant_value
from lamina.compiler.types import IndexType, IntegerType, i1, i32

scf = Dialect("scf", "Structured control flow: for and parallel loops, if.")

index_or_integer = TypeConstraint("index or an integer", lambda t: isinstance(t, (IndexType, IntegerType)))
index_type = TypeConstraint("index", lambda t: isinstance(t, IndexType))
i1_type = TypeConstraint("i1", lambda t: t == i1)


def _types(values) -> str:
    return "(" + ", ".join(str(v.type) for v in values) + ")"


def _check_yield(block: Block, want, where: str) -> str | None:
    """The block ends with a terminator whose operand types are `want`."""
    last = block.last_op
    if last is None or not isinstance(last, (YieldOp, ReduceOp)):
        return None  # (the verifier reports a missing terminator)
    got = tuple(v.type for v in last.operands)
    if isinstance(last, YieldOp) and got != tuple(want):
        return (f"{where} yields {_types(last.operands)} but the op's results are "
                f"({', '.join(map(str, want))})")
    return None


def _with_yield(region: Region) -> Region:
    """Add the `scf.yield` that the custom form may leave out (a block without a terminator)."""
    if not region.blocks:
        region.add_block(Block())
    for block in region.blocks:
        if block.last_op is None or not block.last_op.has_trait(Terminator):
            block.append(YieldOp())
    return region


def _elidable(region: Region) -> bool:
    """Can the custom form leave out this region's terminators (operand-less scf.yields)?"""
    return all(isinstance(b.last_op, YieldOp) and not b.last_op.operands and not b.last_op.attributes
               for b in region.blocks)


@scf.op
class YieldOp(ValuesForm, Op):
    """End a region of scf.for or scf.if, handing on its operands.

        scf.yield %next : f32
    """

    name = "scf.yield"
    values = VarOperand()
    traits = (Pure, Terminator, HasParent(("scf.for", "scf.if")))


# ---------------------------------------------------------------------------------------------
# scf.for


@scf.op
class ForOp(Op):
    """A counted loop: the induction variable goes from lowerBound (included) to upperBound
    (excluded) by step (> 0); initArgs seed the loop-carried values, the results are their last
    values (the initArgs themselves when the body never runs).

        scf.for %i = %c0 to %c4 step %c1 {
          memref.store %x, %m[%i] : memref<4xf32>
        }
    """

    name = "scf.for"
    lowerBound = Operand(index_or_integer)
    upperBound = Operand(index_or_integer)
    step = Operand(index_or_integer)
    initArgs = VarOperand()
    results_ = VarResult()
    body = RegionDef()
    traits = (RecursiveMemoryEffects,)

    @classmethod
    def create(cls, lower, upper, step, init_args=(), location=None) -> "ForOp":
        """A loop with an empty body block (its arguments made), for a builder to fill; end it
        with an scf.yield."""
        block = Block([lower.type, *(v.type for v in init_args)])
        return cls(operands=[lower, upper, step, *init_args], result_types=[v.type for v in init_args],
                   regions=[Region([block])], location=location)

    @property
    def induction_var(self):
        return self.body.blocks[0].args[0]

    @property
    def region_iter_args(self):
        return self.body.blocks[0].args[1:]

    def verify(self):
        iv_type = self.lowerBound.type
        if not (self.upperBound.type == self.step.type == iv_type):
            return (f"bounds and step must have one type, but got {iv_type}, {self.upperBound.type} "
                    f"and {self.step.type}")
        inits = tuple(v.type for v in self.initArgs)
        if inits != self.result_types:
            return f"has initArgs of types {_types(self.initArgs)} but results {_types(self.results)}"
        if not self.body.blocks:
            return "needs a body block"
        args = tuple(a.type for a in self.body.blocks[0].args)
        if args != (iv_type, *inits):
            return (f"body block arguments must be the induction variable ({iv_type}) and the "
                    f"iter_args ({', '.join(map(str, inits))}), but are ({', '.join(map(str, args))})")
        step = constant_value(self.step)
        if step is not None and getattr(step, "value", 1) <= 0:
            return f"step must be positive, but is {step.value}"
        return _check_yield(self.body.blocks[0], inits, "the body")

    def interpret_with(self, interpreter, lower, upper, step, *init_args):
        values = list(init_args)
        for i in range(int(lower), int(upper), int(step)):
            values = interpreter.run_block(self.body.blocks[0], [np.asarray(i, lower.dtype), *values])
        return values

    def print_custom(self, p):
        if self.attributes:
            return None
        head = [" ", self.induction_var, " = ", self.lowerBound, " to ", self.upperBound, " step ", self.step]
        if self.initArgs:
            head.append(" iter_args(")
            for k, (arg, init) in enumerate(zip(self.region_iter_args, self.initArgs)):
                head += [", " * (k > 0), arg, " = ", init]
            head.append(f") -> ({', '.join(map(str, self.result_types))})")
        if not isinstance(self.lowerBound.type, IndexType):
            head.append(f" : {self.lowerBound.type}")
        return CustomForm(head=head, region=self.body, elide_terminator=_elidable(self.body))

    @classmethod
    def from_custom(cls, form, parser):
        head = form.for_head
        iv_type = head["iv_type"] or IndexType()
        lower, upper, step = (parser.use(n, iv_type) for n in form.operands)
        types = form.arrow_types or []
        if len(types) != len(head["iter_args"]):
            parser.fail_form(form, f"has {len(head['iter_args'])} iter_args but {len(types)} result types after '->'")
        inits = [parser.use(init, t) for (_, init), t in zip(head["iter_args"], types)]
        args = [(head["iv"], iv_type, None)] + [(arg, t, None) for (arg, _), t in zip(head["iter_args"], types)]
        body = _with_yield(parser.region(form.region, entry_args=args))
        return cls(operands=[lower, upper, step, *inits], result_types=types, regions=[body])


class ForWithoutIterationsIsItsInits(RewritePattern):
    """scf.for with constant bounds lb >= ub -> its initArgs (the body never runs)"""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, ForOp):
            return False
        lower, upper = constant_value(op.lowerBound), constant_value(op.upperBound)
        if lower is None or upper is None or lower.value < upper.value:
            return rewriter.fail(op, "runs-at-least-once-or-unknown-bounds")
        rewriter.replace_op(op, list(op.initArgs))
        return True


class ForWithOneIterationIsItsBody(RewritePattern):
    """scf.for with constant bounds that runs exactly once (lb < ub <= lb + step) -> its body,
    with the induction variable replaced by lb and the iter_args by their initial values"""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, ForOp):
            return False
        lower, upper, step = (constant_value(v) for v in (op.lowerBound, op.upperBound, op.step))
        if lower is None or upper is None or step is None or not lower.value < upper.value <= lower.value + step.value:
            return rewriter.fail(op, "not-exactly-one-iteration")
        block = op.body.blocks[0]
        for arg, value in zip(block.args, [op.lowerBound, *op.initArgs]):
            rewriter.replace_all_uses_with(arg, value)
        yielded = list(block.last_op.operands)
        for inner in block.ops[:-1]:
            inner.detach()
            rewriter.insert_before(op, inner)
        rewriter.replace_op(op, yielded)
        return True


ForOp.canonicalization_patterns = (ForWithoutIterationsIsItsInits(), ForWithOneIterationIsItsBody())


# ---------------------------------------------------------------------------------------------
# scf.if


@scf.op
class IfOp(Op):
    """Run the then-region when the condition holds, else the else-region (which may be empty
    when the op has no results); each yields the op's results.

        %r = scf.if %c -> (f32) {
          scf.yield %a : f32
        } else {
          scf.yield %b : f32
        }
    """

    name = "scf.if"
    condition = Operand(i1_type)
    results_ = VarResult()
    thenRegion = RegionDef()
    elseRegion = RegionDef()
    traits = (RecursiveMemoryEffects,)

    @classmethod
    def create(cls, condition, result_types=(), with_else: bool = True, location=None) -> "IfOp":
        """An scf.if with empty blocks to fill (each must end with an scf.yield)."""
        regions = [Region([Block()]), Region([Block()] if with_else else [])]
        return cls(operands=[condition], result_types=list(result_types), regions=regions, location=location)

    def verify(self):
        if not self.thenRegion.blocks:
            return "needs a then-region block"
        if self.results and not self.elseRegion.blocks:
            return f"has results {_types(self.results)}, so it needs an else-region that yields them"
        for region, where in ((self.thenRegion, "the then-region"), (self.elseRegion, "the else-region")):
            for block in region.blocks:
                problem = _check_yield(block, self.result_types, where)
                if problem:
                    return problem

    def interpret_with(self, interpreter, condition):
        region = self.thenRegion if bool(condition) else self.elseRegion
        if not region.blocks:
            return []
        return interpreter.run_block(region.blocks[0], [])

    def print_custom(self, p):
        if self.attributes:
            return None
        elide = not self.results and _elidable(self.thenRegion) and _elidable(self.elseRegion)
        return CustomForm(operands=[self.condition], arrow_types=list(self.result_types) or None,
                          region=self.thenRegion, else_region=self.elseRegion if self.elseRegion.blocks else None,
                          elide_terminator=elide)

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "operands", "arrow_types", "region", "else_region", required=("operands", "region"))
        (condition,) = parser.operands_of_type(form, i1, count=1)
        then = _with_yield(parser.region(form.region))
        otherwise = _with_yield(parser.region(form.else_region)) if form.else_region is not None else Region()
        return cls(operands=[condition], result_types=form.arrow_types or [], regions=[then, otherwise])


class IfWithConstantConditionIsOneBranch(RewritePattern):
    """scf.if true {A} else {B} -> A (and false -> B): the taken region's ops move before the op,
    and its yielded values replace the op's results"""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, IfOp):
            return False
        condition = constant_value(op.condition)
        if condition is None:
            return rewriter.fail(op, "condition-not-constant")
        region = op.thenRegion if condition.value else op.elseRegion
        yielded = []
        if region.blocks:
            block = region.blocks[0]
            terminator = block.last_op
            yielded = list(terminator.operands)
            for inner in block.ops[:-1]:
                inner.detach()
                rewriter.insert_before(op, inner)
        rewriter.replace_op(op, yielded)
        return True


IfOp.canonicalization_patterns = (IfWithConstantConditionIsOneBranch(),)


# ---------------------------------------------------------------------------------------------
# scf.parallel and scf.reduce


@scf.op
class ParallelOp(Op):
    """A loop nest whose iterations are independent (they may run in any order or at once): one
    induction variable per (lowerBound, upperBound, step); results are reductions, combined by
    the body's terminator scf.reduce from initVals.

        "scf.parallel"(%c0, %c0, %n, %m, %c1, %c1) <{operandSegmentSizes = array<i32: 2, 2, 2, 0>}> ({
        ^bb0(%i: index, %j: index):
          memref.store %x, %out[%i, %j] : memref<?x?xf32>
          scf.reduce
        }) : (index, index, index, index, index, index) -> ()
    """

    name = "scf.parallel"
    all_operands = VarOperand(doc="lowerBound, upperBound, step (index), then initVals")
    results_ = VarResult()
    operandSegmentSizes = Attr(DenseArrayAttr, doc="array<i32: #bounds, #bounds, #steps, #initVals>")
    body = RegionDef()
    traits = (RecursiveMemoryEffects,)

    @classmethod
    def create(cls, lower, upper, steps, init_vals=(), location=None) -> "ParallelOp":
        sizes = DenseArrayAttr(i32, (len(lower), len(upper), len(steps), len(init_vals)))
        block = Block([v.type for v in lower])
        return cls(operands=[*lower, *upper, *steps, *init_vals], result_types=[v.type for v in init_vals],
                   properties={"operandSegmentSizes": sizes}, regions=[Region([block])], location=location)

    @property
    def lowerBound(self):
        return operand_segments(self)[0]

    @property
    def upperBound(self):
        return operand_segments(self)[1]

    @property
    def step(self):
        return operand_segments(self)[2]

    @property
    def initVals(self):
        return operand_segments(self)[3]

    def verify(self):
        problem = check_segments(self, ("lowerBound", "upperBound", "step", "initVals"))
        if problem:
            return problem
        lower, upper, step, inits = operand_segments(self)
        if not len(lower) == len(upper) == len(step):
            return f"has {len(lower)} lower bounds, {len(upper)} upper bounds and {len(step)} steps; they must match"
        if any(not isinstance(v.type, IndexType) for v in (*lower, *upper, *step)):
            return "bounds and steps must be of type index"
        if tuple(v.type for v in inits) != self.result_types:
            return f"has initVals of types {_types(inits)} but results {_types(self.results)}"
        if not self.body.blocks:
            return "needs a body block"
        block = self.body.blocks[0]
        if len(block.args) != len(lower) or any(not isinstance(a.type, IndexType) for a in block.args):
            return f"body must have {len(lower)} index arguments, one per induction variable"
        reduce = block.last_op
        if isinstance(reduce, ReduceOp) and tuple(v.type for v in reduce.operands) != self.result_types:
            return f"the body's scf.reduce combines {_types(reduce.operands)} but the results are {_types(self.results)}"
        if block.last_op is not None and block.last_op.is_registered and not isinstance(reduce, ReduceOp):
            return "body must end with scf.reduce"

    def interpret_with(self, interpreter, *operands):
        n = len(self.lowerBound)
        lower, upper, step, inits = operands[:n], operands[n:2 * n], operands[2 * n:3 * n], operands[3 * n:]
        values = list(inits)
        ranges = [range(int(lo), int(hi), int(st)) for lo, hi, st in zip(lower, upper, step)]
        reduce = self.body.blocks[0].last_op
        for point in np.ndindex(*(len(r) for r in ranges)):
            ivs = [np.asarray(r[k], np.int64) for r, k in zip(ranges, point)]
            partial = interpreter.run_block(self.body.blocks[0], ivs)
            values = [interpreter.run_block(region.blocks[0], [acc, new])[0]
                      for region, acc, new in zip(reduce.regions, values, partial)]
        return values


@scf.op
class ReduceOp(Op):
    """The terminator of scf.parallel: one operand per reduction, each with a region that
    combines two values (the accumulated one, the new one) and ends with scf.reduce.return.
    Without reductions it is just `scf.reduce`.

        "scf.reduce"(%v) ({
        ^bb0(%lhs: f32, %rhs: f32):
          %s = arith.addf %lhs, %rhs : f32
          scf.reduce.return %s : f32
        }) : (f32) -> ()
    """

    name = "scf.reduce"
    args = VarOperand()
    reductions = VarRegionDef()
    traits = (RecursiveMemoryEffects, Terminator, HasParent(("scf.parallel",)))

    def verify(self):
        if len(self.regions) != len(self.args):
            return f"has {len(self.args)} operands but {len(self.regions)} reduction regions; give one each"
        for k, (value, region) in enumerate(zip(self.args, self.regions)):
            block = region.blocks[0] if len(region.blocks) == 1 else None
            if block is None or [a.type for a in block.args] != [value.type, value.type]:
                return f"reduction region #{k} must be one block with two {value.type} arguments"
            last = block.last_op
            if isinstance(last, ReduceReturnOp) and last.value.type != value.type:
                return f"reduction region #{k} returns {last.value.type} but reduces {value.type}"

    def print_custom(self, p):
        if self.operands or self.regions:
            return None
        return CustomForm(attr_dict=self.attributes or None)

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "attr_dict")
        return cls(attributes=form.attr_dict or {})


@scf.op
class ReduceReturnOp(Op):
    """End a reduction region of scf.reduce with the combined value.

        scf.reduce.return %s : f32
    """

    name = "scf.reduce.return"
    value = Operand()
    traits = (Pure, Terminator, HasParent(("scf.reduce",)))

    def print_custom(self, p):
        return CustomForm(operands=[self.value], attr_dict=self.attributes or None, types=[self.value.type])

    @classmethod
    def from_custom(cls, form, parser):
        parser.expect_form(form, "operands", "attr_dict", "types", required=("operands", "types"))
        (type,) = parser.types_of(form, count=1)
        return cls(operands=parser.operands_of_type(form, type, count=1), attributes=form.attr_dict or {})
