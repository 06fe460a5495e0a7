// canonicalize: folds (constant folding, algebraic identities) and each op's canonicalization
// patterns, to a fixpoint; constants that are no longer used are erased.
// RUN: lamina opt %s -p canonicalize | filecheck %s

// x * 1.0 -> x, on either side.
// CHECK-LABEL: func.func @mul_one(%x: f32) -> f32 {
// CHECK-NEXT:    return %x : f32
// CHECK-NEXT:  }
func.func @mul_one(%x: f32) -> f32 {
  %one = arith.constant 1.0 : f32
  %0 = arith.mulf %x, %one : f32
  %1 = arith.mulf %one, %0 : f32
  func.return %1 : f32
}

// x + -0.0 -> x, but x + 0.0 stays (x = -0.0 gives +0.0).
// CHECK-LABEL: func.func @add_zero(%x: f32) -> (f32, f32) {
// CHECK-NEXT:    %z = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %0 = arith.addf %x, %z : f32
// CHECK-NEXT:    return %x, %0 : f32, f32
// CHECK-NEXT:  }
func.func @add_zero(%x: f32) -> (f32, f32) {
  %nz = arith.constant -0.0 : f32
  %z = arith.constant 0.0 : f32
  %0 = arith.addf %x, %nz : f32
  %1 = arith.addf %x, %z : f32
  func.return %0, %1 : f32, f32
}

// Identities hold elementwise on tensors: x * splat(1.0) -> x, x - 0 -> x, x / 1.0 -> x.
// CHECK-LABEL: func.func @tensor_identities(%x: tensor<2x2xf32>, %i: tensor<3xi32>) -> (tensor<2x2xf32>, tensor<3xi32>) {
// CHECK-NEXT:    return %x, %i : tensor<2x2xf32>, tensor<3xi32>
// CHECK-NEXT:  }
func.func @tensor_identities(%x: tensor<2x2xf32>, %i: tensor<3xi32>) -> (tensor<2x2xf32>, tensor<3xi32>) {
  %one = arith.constant dense<1.0> : tensor<2x2xf32>
  %zero = arith.constant dense<0> : tensor<3xi32>
  %0 = arith.mulf %x, %one : tensor<2x2xf32>
  %1 = arith.divf %0, %one : tensor<2x2xf32>
  %2 = arith.subi %i, %zero : tensor<3xi32>
  %3 = arith.addi %zero, %2 : tensor<3xi32>
  func.return %1, %3 : tensor<2x2xf32>, tensor<3xi32>
}

// A multiplier that is not all ones is kept.
// CHECK-LABEL: func.func @not_one(%x: tensor<2xf32>) -> tensor<2xf32> {
// CHECK-NEXT:    %c = arith.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:    %0 = arith.mulf %x, %c : tensor<2xf32>
// CHECK-NEXT:    return %0 : tensor<2xf32>
func.func @not_one(%x: tensor<2xf32>) -> tensor<2xf32> {
  %c = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %0 = arith.mulf %x, %c : tensor<2xf32>
  func.return %0 : tensor<2xf32>
}

// negf(negf(x)) -> x
// CHECK-LABEL: func.func @negneg(%x: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    return %x : tensor<4xf32>
// CHECK-NEXT:  }
func.func @negneg(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = arith.negf %x : tensor<4xf32>
  %1 = arith.negf %0 : tensor<4xf32>
  func.return %1 : tensor<4xf32>
}

// A single negf stays.
// CHECK-LABEL: func.func @neg_once(%x: f64) -> f64 {
// CHECK-NEXT:    %0 = arith.negf %x : f64
// CHECK-NEXT:    return %0 : f64
func.func @neg_once(%x: f64) -> f64 {
  %0 = arith.negf %x : f64
  func.return %0 : f64
}

// subi(x, x) -> constant 0
// CHECK-LABEL: func.func @sub_self(%x: i32) -> i32 {
// CHECK-NEXT:    [[Z:%.*]] = arith.constant 0 : i32
// CHECK-NEXT:    return [[Z]] : i32
// CHECK-NEXT:  }
func.func @sub_self(%x: i32) -> i32 {
  %0 = arith.subi %x, %x : i32
  func.return %0 : i32
}

// Constant folding through a chain: ((6 * 7) - 6) / 7 = 5; 5 > 6 is false; select picks 6.
// CHECK-LABEL: func.func @chain() -> (i32, i1) {
// CHECK-NEXT:    %a = arith.constant 6 : i32
// CHECK-NEXT:    [[F:%.*]] = arith.constant false
// CHECK-NEXT:    return %a, [[F]] : i32, i1
// CHECK-NEXT:  }
func.func @chain() -> (i32, i1) {
  %a = arith.constant 6 : i32
  %b = arith.constant 7 : i32
  %0 = arith.muli %a, %b : i32
  %1 = arith.subi %0, %a : i32
  %2 = arith.divsi %1, %b : i32
  %3 = arith.cmpi sgt, %2, %a : i32
  %4 = "arith.select"(%3, %2, %a) : (i1, i32, i32) -> i32
  func.return %4, %3 : i32, i1
}

// Folding on tensors, with wrapping integer arithmetic.
// CHECK-LABEL: func.func @tensor_fold() -> (tensor<2x2xf32>, tensor<2xi8>) {
// CHECK-NEXT:    [[T:%.*]] = arith.constant dense<{{\[\[}}1.500000e+00, 3.000000e+00], [4.500000e+00, 6.000000e+00]]> : tensor<2x2xf32>
// CHECK-NEXT:    [[W:%.*]] = arith.constant dense<[-128, 0]> : tensor<2xi8>
// CHECK-NEXT:    return [[T]], [[W]] : tensor<2x2xf32>, tensor<2xi8>
// CHECK-NEXT:  }
func.func @tensor_fold() -> (tensor<2x2xf32>, tensor<2xi8>) {
  %a = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %h = arith.constant dense<0.5> : tensor<2x2xf32>
  %0 = arith.mulf %a, %h : tensor<2x2xf32>
  %1 = arith.addf %0, %a : tensor<2x2xf32>
  %m = arith.constant dense<[127, -1]> : tensor<2xi8>
  %one = arith.constant dense<1> : tensor<2xi8>
  %2 = arith.addi %m, %one : tensor<2xi8>
  func.return %1, %2 : tensor<2x2xf32>, tensor<2xi8>
}

// Ops whose operands are not constant, and calls, are left alone.
// CHECK-LABEL: func.func @untouched(%x: i32, %y: i32) -> i32 {
// CHECK-NEXT:    %0 = arith.addi %x, %y : i32
// CHECK-NEXT:    %1 = call @untouched(%0, %y) : (i32, i32) -> i32
// CHECK-NEXT:    return %1 : i32
func.func @untouched(%x: i32, %y: i32) -> i32 {
  %0 = arith.addi %x, %y : i32
  %1 = func.call @untouched(%0, %y) : (i32, i32) -> i32
  func.return %1 : i32
}
