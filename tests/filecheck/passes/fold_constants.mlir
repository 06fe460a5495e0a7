// fold-constants: ops whose operands are all constants are evaluated with the reference
// interpreter and replaced by constants; constants left unused are erased.
// RUN: lamina opt %s -p fold-constants | filecheck %s
// RUN: lamina opt %s -p "fold-constants{max-elements=4}" | filecheck %s --check-prefix=CAP

// A weight transform folds away: transpose(constant) -> constant (the transposed weight).
// CHECK-LABEL: func.func @transpose_weight(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
// CHECK-NEXT:    %t = nn.constant attributes {value = dense<{{\[\[}}1.000000e+00, 5.000000e+00, 9.000000e+00], [2.000000e+00, 6.000000e+00, 1.000000e+01], [3.000000e+00, 7.000000e+00, 1.100000e+01], [4.000000e+00, 8.000000e+00, 1.200000e+01]]> : tensor<4x3xf32>} : () -> tensor<4x3xf32>
// CHECK-NEXT:    %y = nn.matmul %x, %t : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    return %y : tensor<2x3xf32>
// CHECK-NEXT:  }
func.func @transpose_weight(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = nn.constant attributes {value = dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [9.0, 10.0, 11.0, 12.0]]> : tensor<3x4xf32>} : () -> tensor<3x4xf32>
  %t = nn.transpose %w attributes {perm = array<i64: 1, 0>} : (tensor<3x4xf32>) -> tensor<4x3xf32>
  %y = nn.matmul %x, %t : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}

// Shape arithmetic: shape(x) of a static x is a constant, and constant_of_shape of it too.
// CHECK-LABEL: func.func @constant_of_shape(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
// CHECK-NEXT:    %c = nn.constant attributes {value = dense<1.500000e+00> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
// CHECK-NEXT:    %y = nn.add %x, %c : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    return %y : tensor<2x3xf32>
// CHECK-NEXT:  }
func.func @constant_of_shape(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %s = nn.shape %x : (tensor<2x3xf32>) -> tensor<2xi64>
  %c = nn.constant_of_shape %s attributes {value = dense<1.5> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<2x3xf32>
  %y = nn.add %x, %c : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}

// A constant subgraph folds in one sweep: reshape(add(a, b)) -> constant; the inputs go.
// CHECK-LABEL: func.func @subgraph(%x: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    %r = nn.constant attributes {value = dense<[4.000000e+00, 5.000000e+00, 6.000000e+00, 7.000000e+00]> : tensor<4xf32>} : () -> tensor<4xf32>
// CHECK-NEXT:    %y = nn.mul %x, %r : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    return %y : tensor<4xf32>
// CHECK-NEXT:  }
func.func @subgraph(%x: tensor<4xf32>) -> tensor<4xf32> {
  %a = nn.constant attributes {value = dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>} : () -> tensor<2x2xf32>
  %b = nn.constant attributes {value = dense<3.0> : tensor<1xf32>} : () -> tensor<1xf32>
  %s = nn.add %a, %b : (tensor<2x2xf32>, tensor<1xf32>) -> tensor<2x2xf32>
  %r = nn.reshape %s attributes {shape = array<i64: 4>} : (tensor<2x2xf32>) -> tensor<4xf32>
  %y = nn.mul %x, %r : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// arith ops fold into arith.constant.
// CHECK-LABEL: func.func @arith() -> i32 {
// CHECK-NEXT:    %c = arith.constant 42 : i32
// CHECK-NEXT:    return %c : i32
// CHECK-NEXT:  }
func.func @arith() -> i32 {
  %a = arith.constant 6 : i32
  %b = arith.constant 7 : i32
  %c = arith.muli %a, %b : i32
  func.return %c : i32
}

// Ops with a non-constant operand stay; unused constants are erased.
// CHECK-LABEL: func.func @not_constant(%x: tensor<3xf32>) -> tensor<3xf32> {
// CHECK-NEXT:    %y = nn.relu %x : (tensor<3xf32>) -> tensor<3xf32>
// CHECK-NEXT:    return %y : tensor<3xf32>
// CHECK-NEXT:  }
func.func @not_constant(%x: tensor<3xf32>) -> tensor<3xf32> {
  %unused = nn.constant attributes {value = dense<1.0> : tensor<3xf32>} : () -> tensor<3xf32>
  %y = nn.relu %x : (tensor<3xf32>) -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}

// The size cap: with max-elements=4 the 8-element result stays an op.
// CHECK-LABEL: func.func @cap() -> tensor<8xf32> {
// CHECK-NEXT:    %b = nn.constant attributes {value = dense<-2.000000e+00> : tensor<8xf32>} : () -> tensor<8xf32>
// CHECK-NEXT:    return %b : tensor<8xf32>
// CAP-LABEL:   func.func @cap() -> tensor<8xf32> {
// CAP-NEXT:      %a = nn.constant attributes {value = dense<2.000000e+00> : tensor<8xf32>} : () -> tensor<8xf32>
// CAP-NEXT:      %b = nn.neg %a : (tensor<8xf32>) -> tensor<8xf32>
// CAP-NEXT:      return %b : tensor<8xf32>
func.func @cap() -> tensor<8xf32> {
  %a = nn.constant attributes {value = dense<2.0> : tensor<8xf32>} : () -> tensor<8xf32>
  %b = nn.neg %a : (tensor<8xf32>) -> tensor<8xf32>
  func.return %b : tensor<8xf32>
}
