// The arith dialect's custom forms (`%r = arith.op %a, %b : type`), on scalars and tensors:
// constants of each kind, every binary and unary op, cmpi with each predicate, and select
// (generic form only). Ops carrying properties such as fastmath print in the generic form.
// RUN: lamina opt %s | filecheck %s
// RUN: lamina opt %s --print-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @constants() -> (i32, f32, index, i1, tensor<2xi8>, f16) {
// CHECK-NEXT:    %i = arith.constant -5 : i32
// CHECK-NEXT:    %f = arith.constant 2.500000e-01 : f32
// CHECK-NEXT:    %n = arith.constant 3 : index
// CHECK-NEXT:    %b = arith.constant true
// CHECK-NEXT:    %t = arith.constant dense<[1, -1]> : tensor<2xi8>
// CHECK-NEXT:    %h = arith.constant 0x7E00 : f16
// GENERIC-LABEL: "func.func"() <{function_type = () -> (i32, f32, index, i1, tensor<2xi8>, f16), sym_name = "constants"}> ({
// GENERIC-NEXT:    %i = "arith.constant"() <{value = -5 : i32}> : () -> i32
// GENERIC-NEXT:    %f = "arith.constant"() <{value = 2.500000e-01 : f32}> : () -> f32
// GENERIC-NEXT:    %n = "arith.constant"() <{value = 3 : index}> : () -> index
// GENERIC-NEXT:    %b = "arith.constant"() <{value = true}> : () -> i1
// GENERIC-NEXT:    %t = "arith.constant"() <{value = dense<[1, -1]> : tensor<2xi8>}> : () -> tensor<2xi8>
// GENERIC-NEXT:    %h = "arith.constant"() <{value = 0x7E00 : f16}> : () -> f16
func.func @constants() -> (i32, f32, index, i1, tensor<2xi8>, f16) {
  %i = arith.constant -5 : i32
  %f = arith.constant 0.25 : f32
  %n = arith.constant 3 : index
  %b = arith.constant true : i1
  %t = arith.constant dense<[1, -1]> : tensor<2xi8>
  %h = arith.constant 0x7E00 : f16
  func.return %i, %f, %n, %b, %t, %h : i32, f32, index, i1, tensor<2xi8>, f16
}

// CHECK-LABEL: func.func @float_ops(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    %0 = arith.addf %a, %b : tensor<4xf32>
// CHECK-NEXT:    %1 = arith.subf %0, %b : tensor<4xf32>
// CHECK-NEXT:    %2 = arith.mulf %1, %a : tensor<4xf32>
// CHECK-NEXT:    %3 = arith.divf %2, %b : tensor<4xf32>
// CHECK-NEXT:    %4 = arith.maximumf %3, %a : tensor<4xf32>
// CHECK-NEXT:    %5 = arith.minimumf %4, %b : tensor<4xf32>
// CHECK-NEXT:    %6 = arith.negf %5 : tensor<4xf32>
// CHECK-NEXT:    return %6 : tensor<4xf32>
// GENERIC-LABEL: sym_name = "float_ops"
// GENERIC-NEXT:  ^bb0(%a: tensor<4xf32>, %b: tensor<4xf32>):
// GENERIC-NEXT:    %0 = "arith.addf"(%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// GENERIC:         %6 = "arith.negf"(%5) : (tensor<4xf32>) -> tensor<4xf32>
func.func @float_ops(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %0 = arith.addf %a, %b : tensor<4xf32>
  %1 = arith.subf %0, %b : tensor<4xf32>
  %2 = arith.mulf %1, %a : tensor<4xf32>
  %3 = arith.divf %2, %b : tensor<4xf32>
  %4 = arith.maximumf %3, %a : tensor<4xf32>
  %5 = arith.minimumf %4, %b : tensor<4xf32>
  %6 = arith.negf %5 : tensor<4xf32>
  func.return %6 : tensor<4xf32>
}

// CHECK-LABEL: func.func @int_ops(%a: i64, %b: i64) -> i64 {
// CHECK-NEXT:    %0 = arith.addi %a, %b : i64
// CHECK-NEXT:    %1 = arith.subi %0, %b : i64
// CHECK-NEXT:    %2 = arith.muli %1, %a : i64
// CHECK-NEXT:    %3 = arith.divsi %2, %b : i64
// CHECK-NEXT:    %4 = arith.remsi %3, %a : i64
// CHECK-NEXT:    %5 = arith.maxsi %4, %b : i64
// CHECK-NEXT:    %6 = arith.minsi %5, %a : i64
// CHECK-NEXT:    %7 = arith.andi %6, %b : i64
// CHECK-NEXT:    %8 = arith.ori %7, %a : i64
// CHECK-NEXT:    %9 = arith.xori %8, %b : i64
// CHECK-NEXT:    return %9 : i64
func.func @int_ops(%a: i64, %b: i64) -> i64 {
  %0 = arith.addi %a, %b : i64
  %1 = arith.subi %0, %b : i64
  %2 = arith.muli %1, %a : i64
  %3 = arith.divsi %2, %b : i64
  %4 = arith.remsi %3, %a : i64
  %5 = arith.maxsi %4, %b : i64
  %6 = arith.minsi %5, %a : i64
  %7 = arith.andi %6, %b : i64
  %8 = arith.ori %7, %a : i64
  %9 = arith.xori %8, %b : i64
  func.return %9 : i64
}

// cmpi: the predicate keyword in the custom form, MLIR's number in the generic form (on tensors:
// arith_cmpi_tensor.mlir).
// CHECK-LABEL: func.func @compare(%a: index, %b: index) -> i1 {
// CHECK-NEXT:    %eq = arith.cmpi eq, %a, %b : index
// CHECK-NEXT:    %ne = arith.cmpi ne, %a, %b : index
// CHECK-NEXT:    %slt = arith.cmpi slt, %a, %b : index
// CHECK-NEXT:    %sle = arith.cmpi sle, %a, %b : index
// CHECK-NEXT:    %sgt = arith.cmpi sgt, %a, %b : index
// CHECK-NEXT:    %sge = arith.cmpi sge, %a, %b : index
// CHECK-NEXT:    %ult = arith.cmpi ult, %a, %b : index
// CHECK-NEXT:    %ule = arith.cmpi ule, %a, %b : index
// CHECK-NEXT:    %ugt = arith.cmpi ugt, %a, %b : index
// CHECK-NEXT:    %uge = arith.cmpi uge, %a, %b : index
// CHECK-NEXT:    return %uge : i1
// GENERIC-LABEL: sym_name = "compare"
// GENERIC:         %eq = "arith.cmpi"(%a, %b) <{predicate = 0 : i64}> : (index, index) -> i1
// GENERIC-NEXT:    %ne = "arith.cmpi"(%a, %b) <{predicate = 1 : i64}> : (index, index) -> i1
// GENERIC-NEXT:    %slt = "arith.cmpi"(%a, %b) <{predicate = 2 : i64}> : (index, index) -> i1
// GENERIC:         %uge = "arith.cmpi"(%a, %b) <{predicate = 9 : i64}> : (index, index) -> i1
func.func @compare(%a: index, %b: index) -> i1 {
  %eq = arith.cmpi eq, %a, %b : index
  %ne = arith.cmpi ne, %a, %b : index
  %slt = arith.cmpi slt, %a, %b : index
  %sle = arith.cmpi sle, %a, %b : index
  %sgt = arith.cmpi sgt, %a, %b : index
  %sge = arith.cmpi sge, %a, %b : index
  %ult = arith.cmpi ult, %a, %b : index
  %ule = arith.cmpi ule, %a, %b : index
  %ugt = arith.cmpi ugt, %a, %b : index
  %uge = "arith.cmpi"(%a, %b) <{predicate = 9 : i64}> : (index, index) -> i1
  func.return %uge : i1
}

// select has no custom form; a discardable attribute prints as `attributes {...}`.
// CHECK-LABEL: func.func @generic_only(%c: i1, %x: f32, %y: f32) -> f32 {
// CHECK-NEXT:    %s = "arith.select"(%c, %x, %y) : (i1, f32, f32) -> f32
// CHECK-NEXT:    %n = arith.negf %s attributes {tag = "keep"} : f32
// CHECK-NEXT:    return %n : f32
// GENERIC-LABEL: sym_name = "generic_only"
// GENERIC:         %n = "arith.negf"(%s) {tag = "keep"} : (f32) -> f32
func.func @generic_only(%c: i1, %x: f32, %y: f32) -> f32 {
  %s = "arith.select"(%c, %x, %y) : (i1, f32, f32) -> f32
  %n = "arith.negf"(%s) {tag = "keep"} : (f32) -> f32
  func.return %n : f32
}
