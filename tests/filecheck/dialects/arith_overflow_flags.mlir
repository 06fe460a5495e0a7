// Integer arith ops carry MLIR's optional `overflowFlags = #arith.overflow<...>` property, as
// xDSL prints them; the arith dialect owns #arith.overflow, so no --allow-unregistered is needed.
// RUN: lamina opt %s | filecheck %s

// CHECK: "arith.addi"(%i, %i) <{overflowFlags = #arith.overflow<none>}> : (i32, i32) -> i32
func.func @f(%i: i32) -> i32 {
  %a = "arith.addi"(%i, %i) <{overflowFlags = #arith.overflow<none>}> : (i32, i32) -> i32
  func.return %a : i32
}
