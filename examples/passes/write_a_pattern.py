"""Write a rewrite pattern, run it as a pass, and let lamina check that it keeps the meaning.

    python examples/passes/write_a_pattern.py

The pattern: relu(relu(x)) -> relu(x). A second relu changes nothing (relu is idempotent), so
the outer one can take the inner one's value. Then the same rule written WRONG (relu(neg(x)) ->
relu(x), "the sign does not matter under a relu") to see check_pass find the smallest graph on
which it changes the result.
"""

from dataclasses import dataclass

import lamina
from lamina.compiler.passes import Pass, register_pass
from lamina.compiler.rewrite import RewritePattern, apply_patterns_greedily
from lamina.dialects.nn.elementwise import NegOp, ReluOp
from lamina.testing import check_pass

# 1. The pattern: one small class, named for what it does, its rule as the docstring.


class FoldDoubleRelu(RewritePattern):
    """relu(relu(x)) -> relu(x)"""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, ReluOp):
            return False                      # not the op this pattern is about
        inner = getattr(op.operands[0], "op", None)
        if not isinstance(inner, ReluOp):
            return rewriter.fail(op, "operand-from-relu")   # matched the op, a precondition failed
        rewriter.replace_op(op, [inner.results[0]])
        return True


# 2. A pass that applies it to a fixpoint; its name makes it usable in pipelines ("fold-double-relu").


@register_pass
@dataclass(frozen=True)
class FoldDoubleReluPass(Pass):
    name = "fold-double-relu"
    summary = "relu(relu(x)) -> relu(x)"

    def run(self, module):
        apply_patterns_greedily(module, [FoldDoubleRelu()], stats=self.statistics)


SOURCE = """\
func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %a = nn.relu %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %b = nn.relu %a : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %c = nn.add %b, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %c : tensor<2x3xf32>
}
"""

module = lamina.parse(SOURCE)
lamina.run_pipeline(module, "fold-double-relu", print_statistics=True)
print(lamina.print_ir(module))
assert lamina.print_ir(module).count("nn.relu") == 1

# 3. Does it keep the meaning? check_pass runs 300 random nn graphs through the reference
#    interpreter before and after the pass.
result = check_pass("fold-double-relu", examples=300, seed=0)
print(result.summary())
assert result.ok

# 4. A wrong rule, planted: relu(neg(x)) -> relu(x). check_pass finds a graph where it is wrong
#    and shrinks it to the smallest one, which it prints with its inputs.


class DropNegUnderRelu(RewritePattern):
    """relu(neg(x)) -> relu(x)   WRONG: relu(-x) is not relu(x)"""

    def match_and_rewrite(self, op, rewriter):
        inner = getattr(op.operands[0], "op", None) if isinstance(op, ReluOp) else None
        if not isinstance(inner, NegOp):
            return False
        with rewriter.modify(op):
            op.set_operand(0, inner.operands[0])
        return True


@register_pass
@dataclass(frozen=True)
class DropNegUnderReluPass(Pass):
    name = "drop-neg-under-relu"
    summary = "a wrong rewrite, for the tutorial"

    def run(self, module):
        apply_patterns_greedily(module, [DropNegUnderRelu()], stats=self.statistics)


result = check_pass("drop-neg-under-relu", examples=300, seed=0)
print(result.report())
assert not result.ok and "nn.neg" in result.before
