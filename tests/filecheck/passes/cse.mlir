// cse: an op that is pure and identical to an earlier one (same name, operands, attributes,
// result types) in a block that dominates it is replaced by the earlier one. Operand order
// matters: addi(x, y) and addi(y, x) are different expressions to cse.
// RUN: lamina opt %s -p cse | filecheck %s

// CHECK-LABEL: func.func @dupes(%x: i32, %y: i32) -> i32 {
// CHECK-NEXT:    %0 = arith.addi %x, %y : i32
// CHECK-NEXT:    %1 = arith.addi %y, %x : i32
// CHECK-NEXT:    %c1 = arith.constant 1 : i32
// CHECK-NEXT:    %2 = arith.muli %0, %0 : i32
// CHECK-NEXT:    %3 = arith.muli %2, %1 : i32
// CHECK-NEXT:    %4 = arith.addi %3, %c1 : i32
// CHECK-NEXT:    %5 = arith.addi %4, %c1 : i32
// CHECK-NEXT:    return %5 : i32
// CHECK-NEXT:  }
func.func @dupes(%x: i32, %y: i32) -> i32 {
  %0 = arith.addi %x, %y : i32
  %1 = arith.addi %x, %y : i32
  %2 = arith.addi %y, %x : i32
  %c1 = arith.constant 1 : i32
  %c1b = arith.constant 1 : i32
  %3 = arith.muli %0, %1 : i32
  %4 = arith.muli %3, %2 : i32
  %5 = arith.addi %4, %c1 : i32
  %6 = arith.addi %5, %c1b : i32
  func.return %6 : i32
}

// Different types, predicates or constant values are different expressions.
// CHECK-LABEL: func.func @distinct(%a: i32, %b: i32) -> (i1, i1, i64, i32) {
// CHECK-NEXT:    %lt = arith.cmpi slt, %a, %b : i32
// CHECK-NEXT:    %gt = arith.cmpi sgt, %a, %b : i32
// CHECK-NEXT:    %c1 = arith.constant 1 : i64
// CHECK-NEXT:    %c2 = arith.constant 2 : i32
// CHECK-NEXT:    %c1_32 = arith.constant 1 : i32
// CHECK-NEXT:    return %lt, %gt, %c1, %c1_32 : i1, i1, i64, i32
func.func @distinct(%a: i32, %b: i32) -> (i1, i1, i64, i32) {
  %lt = arith.cmpi slt, %a, %b : i32
  %gt = arith.cmpi sgt, %a, %b : i32
  %lt2 = arith.cmpi slt, %a, %b : i32
  %c1 = arith.constant 1 : i64
  %c2 = arith.constant 2 : i32
  %c1_32 = arith.constant 1 : i32
  func.return %lt2, %gt, %c1, %c1_32 : i1, i1, i64, i32
}

// Calls are not pure: two identical calls both stay. Tensors are compared by type and value.
// CHECK-LABEL: func.func @calls(%t: tensor<2xf32>) -> tensor<2xf32> {
// CHECK-NEXT:    %0 = call @calls(%t) : (tensor<2xf32>) -> tensor<2xf32>
// CHECK-NEXT:    %1 = call @calls(%t) : (tensor<2xf32>) -> tensor<2xf32>
// CHECK-NEXT:    %w = arith.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %2 = arith.addf %0, %w : tensor<2xf32>
// CHECK-NEXT:    %3 = arith.addf %1, %w : tensor<2xf32>
// CHECK-NEXT:    %4 = arith.mulf %2, %3 : tensor<2xf32>
// CHECK-NEXT:    return %4 : tensor<2xf32>
func.func @calls(%t: tensor<2xf32>) -> tensor<2xf32> {
  %0 = func.call @calls(%t) : (tensor<2xf32>) -> tensor<2xf32>
  %1 = func.call @calls(%t) : (tensor<2xf32>) -> tensor<2xf32>
  %w = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %w2 = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %2 = arith.addf %0, %w : tensor<2xf32>
  %3 = arith.addf %1, %w2 : tensor<2xf32>
  %4 = arith.mulf %2, %3 : tensor<2xf32>
  func.return %4 : tensor<2xf32>
}

// Each function is its own scope: the same constant in two functions stays in both.
// CHECK-LABEL: func.func @scope_a() -> i32 {
// CHECK-NEXT:    %c = arith.constant 9 : i32
// CHECK-LABEL: func.func @scope_b() -> i32 {
// CHECK-NEXT:    %c = arith.constant 9 : i32
func.func @scope_a() -> i32 {
  %c = arith.constant 9 : i32
  func.return %c : i32
}
func.func @scope_b() -> i32 {
  %c = arith.constant 9 : i32
  func.return %c : i32
}
