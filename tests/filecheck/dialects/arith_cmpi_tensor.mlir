// xdsl-interop: skip xDSL 0.74's arith.cmpi accepts only scalar operands (MLIR allows tensors)
// arith.cmpi works elementwise on tensors and gives a tensor of i1 of the same shape.
// RUN: lamina opt %s | filecheck %s
// RUN: lamina opt %s --print-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @compare(%t: tensor<3xi16>, %u: tensor<2x?xindex>) -> (tensor<3xi1>, tensor<2x?xi1>) {
// CHECK-NEXT:    %0 = arith.cmpi slt, %t, %t : tensor<3xi16>
// CHECK-NEXT:    %1 = arith.cmpi uge, %u, %u : tensor<2x?xindex>
// CHECK-NEXT:    return %0, %1 : tensor<3xi1>, tensor<2x?xi1>
// GENERIC:       %0 = "arith.cmpi"(%t, %t) <{predicate = 2 : i64}> : (tensor<3xi16>, tensor<3xi16>) -> tensor<3xi1>
// GENERIC-NEXT:  %1 = "arith.cmpi"(%u, %u) <{predicate = 9 : i64}> : (tensor<2x?xindex>, tensor<2x?xindex>) -> tensor<2x?xi1>
func.func @compare(%t: tensor<3xi16>, %u: tensor<2x?xindex>) -> (tensor<3xi1>, tensor<2x?xi1>) {
  %0 = arith.cmpi slt, %t, %t : tensor<3xi16>
  %1 = arith.cmpi uge, %u, %u : tensor<2x?xindex>
  func.return %0, %1 : tensor<3xi1>, tensor<2x?xi1>
}
