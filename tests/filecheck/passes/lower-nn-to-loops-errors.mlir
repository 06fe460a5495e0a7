// lower-nn-to-loops refuses, with one line naming the op and where it is, what it cannot lower,
// and says which backend to use instead; nothing is printed and lamina exits non-zero.
// RUN: not lamina opt %s -p lower-nn-to-loops 2>&1 | filecheck %s

// CHECK: lower-nn-to-loops-errors.mlir:9:8: error: 'arith.addf' op at loc("add1") has no loop lowering
// CHECK-NEXT: {{ *}}%b = arith.addf %a, %a : tensor<4xf32> loc("add1")
// CHECK: hint: compile this model with the TVM backend instead (--backend tvm)
func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %b = arith.addf %a, %a : tensor<4xf32> loc("add1")
  func.return %b : tensor<4xf32>
}
