// canonicalize on nn: the elimination catalogue (dialects/nn/patterns.py and the ops' folds).
// Ops that change nothing go, pairs that undo each other cancel, chains of reshapes become one;
// where a precondition fails the IR stays as it was.
// RUN: lamina opt %s -p canonicalize | filecheck %s

// identity(x) -> x and dropout(x) -> x (folds).
// CHECK-LABEL: func.func @identity_dropout(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
// CHECK-NEXT:    return %x : tensor<2x3xf32>
// CHECK-NEXT:  }
func.func @identity_dropout(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = nn.identity %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = nn.dropout %0 attributes {ratio = 2.000000e-01 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %1 : tensor<2x3xf32>
}

// cast(x) to its own type -> x (fold); a cast to another type stays.
// CHECK-LABEL: func.func @cast_same_type(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xi32>) {
// CHECK-NEXT:    %0 = nn.cast %x : (tensor<2x3xf32>) -> tensor<2x3xi32>
// CHECK-NEXT:    return %x, %0 : tensor<2x3xf32>, tensor<2x3xi32>
// CHECK-NEXT:  }
func.func @cast_same_type(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xi32>) {
  %0 = nn.cast %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = nn.cast %x : (tensor<2x3xf32>) -> tensor<2x3xi32>
  func.return %0, %1 : tensor<2x3xf32>, tensor<2x3xi32>
}

// concat(x) -> x and sum(x) -> x with one operand (folds).
// CHECK-LABEL: func.func @single_input_concat_sum(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
// CHECK-NEXT:    return %x : tensor<2x3xf32>
// CHECK-NEXT:  }
func.func @single_input_concat_sum(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = nn.concat %x attributes {axis = 1 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = nn.sum %0 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %1 : tensor<2x3xf32>
}

// slice of everything, expand to the own shape, zero pads, identity transpose, reshape to the
// own shape: each -> x (folds).
// CHECK-LABEL: func.func @no_op_shape_ops(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
// CHECK-NEXT:    return %x : tensor<2x3xf32>
// CHECK-NEXT:  }
func.func @no_op_shape_ops(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = nn.slice %x attributes {axes = array<i64: 1>, ends = array<i64: 100>, starts = array<i64: 0>, steps = array<i64: 1>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = nn.expand %0 attributes {shape = array<i64: 2, 1>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %2 = nn.pad %1 attributes {pads = array<i64: 0, 0, 0, 0>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = nn.transpose %2 attributes {perm = array<i64: 0, 1>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %4 = nn.reshape %3 attributes {shape = array<i64: 2, 3>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %4 : tensor<2x3xf32>
}

// Negative: a full slice with step -1 reverses (same type, other values); real pads stay.
// CHECK-LABEL: func.func @shape_ops_that_change_something(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x5xf32>) {
// CHECK-NEXT:    %0 = nn.slice %x attributes {axes = array<i64: 1>, ends = array<i64: -100>, starts = array<i64: 100>, steps = array<i64: -1>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    %1 = nn.pad %x attributes {pads = array<i64: 0, 1, 0, 1>} : (tensor<2x3xf32>) -> tensor<2x5xf32>
// CHECK-NEXT:    return %0, %1 : tensor<2x3xf32>, tensor<2x5xf32>
// CHECK-NEXT:  }
func.func @shape_ops_that_change_something(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x5xf32>) {
  %0 = nn.slice %x attributes {axes = array<i64: 1>, ends = array<i64: -100>, starts = array<i64: 100>, steps = array<i64: -1>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = nn.pad %x attributes {pads = array<i64: 0, 1, 0, 1>} : (tensor<2x3xf32>) -> tensor<2x5xf32>
  func.return %0, %1 : tensor<2x3xf32>, tensor<2x5xf32>
}

// EliminateUnitPool: 1x1 max/avg pooling, stride 1, no pads -> x.
// CHECK-LABEL: func.func @unit_pool(%x: tensor<1x4x5x5xf32>) -> tensor<1x4x5x5xf32> {
// CHECK-NEXT:    return %x : tensor<1x4x5x5xf32>
// CHECK-NEXT:  }
func.func @unit_pool(%x: tensor<1x4x5x5xf32>) -> tensor<1x4x5x5xf32> {
  %0 = nn.max_pool2d %x attributes {kernel_shape = array<i64: 1, 1>} : (tensor<1x4x5x5xf32>) -> tensor<1x4x5x5xf32>
  %1 = nn.avg_pool2d %0 attributes {kernel_shape = array<i64: 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x4x5x5xf32>) -> tensor<1x4x5x5xf32>
  func.return %1 : tensor<1x4x5x5xf32>
}

// Negative: a 1x1 pool with stride 2 subsamples; it stays.
// CHECK-LABEL: func.func @unit_pool_strided(%x: tensor<1x4x5x5xf32>) -> tensor<1x4x3x3xf32> {
// CHECK-NEXT:    %0 = nn.max_pool2d %x attributes {kernel_shape = array<i64: 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x4x5x5xf32>) -> tensor<1x4x3x3xf32>
// CHECK-NEXT:    return %0 : tensor<1x4x3x3xf32>
// CHECK-NEXT:  }
func.func @unit_pool_strided(%x: tensor<1x4x5x5xf32>) -> tensor<1x4x3x3xf32> {
  %0 = nn.max_pool2d %x attributes {kernel_shape = array<i64: 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x4x5x5xf32>) -> tensor<1x4x3x3xf32>
  func.return %0 : tensor<1x4x3x3xf32>
}

// FlattenAfterGlobalPoolToReshape: flatten(global_avg_pool(x)) -> reshape to [N, C].
// CHECK-LABEL: func.func @flatten_after_global_pool(%x: tensor<1x8x4x4xf32>) -> tensor<1x8xf32> {
// CHECK-NEXT:    %0 = nn.global_avg_pool %x : (tensor<1x8x4x4xf32>) -> tensor<1x8x1x1xf32>
// CHECK-NEXT:    %1 = nn.reshape %0 attributes {shape = array<i64: 1, 8>} : (tensor<1x8x1x1xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:    return %1 : tensor<1x8xf32>
// CHECK-NEXT:  }
// CHECK-NOT:   nn.flatten
func.func @flatten_after_global_pool(%x: tensor<1x8x4x4xf32>) -> tensor<1x8xf32> {
  %0 = nn.global_avg_pool %x : (tensor<1x8x4x4xf32>) -> tensor<1x8x1x1xf32>
  %1 = nn.flatten %0 : (tensor<1x8x1x1xf32>) -> tensor<1x8xf32>
  func.return %1 : tensor<1x8xf32>
}

// global_max_pool (NHWC), flatten, reshape: one reshape, with the last shape.
// CHECK-LABEL: func.func @reshape_after_global_pool_nhwc(%x: tensor<2x4x4x8xf32>) -> tensor<16xf32> {
// CHECK-NEXT:    %0 = nn.global_max_pool %x attributes {layout = "NHWC"} : (tensor<2x4x4x8xf32>) -> tensor<2x1x1x8xf32>
// CHECK-NEXT:    %1 = nn.reshape %0 attributes {shape = array<i64: -1>} : (tensor<2x1x1x8xf32>) -> tensor<16xf32>
// CHECK-NEXT:    return %1 : tensor<16xf32>
// CHECK-NEXT:  }
func.func @reshape_after_global_pool_nhwc(%x: tensor<2x4x4x8xf32>) -> tensor<16xf32> {
  %0 = nn.global_max_pool %x attributes {layout = "NHWC"} : (tensor<2x4x4x8xf32>) -> tensor<2x1x1x8xf32>
  %1 = nn.flatten %0 : (tensor<2x1x1x8xf32>) -> tensor<2x8xf32>
  %2 = nn.reshape %1 attributes {shape = array<i64: -1>} : (tensor<2x8xf32>) -> tensor<16xf32>
  func.return %2 : tensor<16xf32>
}

// MergeConsecutiveReshapes / FlattenAfterReshapeToReshape: a chain of reshapes and flattens ->
// one reshape of x to the last shape.
// CHECK-LABEL: func.func @consecutive_reshapes(%x: tensor<2x3x4xf32>) -> (tensor<4x6xf32>, tensor<8x3xf32>) {
// CHECK-NEXT:    %0 = nn.reshape %x attributes {shape = array<i64: 4, 6>} : (tensor<2x3x4xf32>) -> tensor<4x6xf32>
// CHECK-NEXT:    %1 = nn.reshape %x attributes {shape = array<i64: 8, 3>} : (tensor<2x3x4xf32>) -> tensor<8x3xf32>
// CHECK-NEXT:    return %0, %1 : tensor<4x6xf32>, tensor<8x3xf32>
// CHECK-NEXT:  }
func.func @consecutive_reshapes(%x: tensor<2x3x4xf32>) -> (tensor<4x6xf32>, tensor<8x3xf32>) {
  %0 = nn.reshape %x attributes {shape = array<i64: 6, 4>} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
  %1 = nn.flatten %0 attributes {axis = 0 : i64} : (tensor<6x4xf32>) -> tensor<1x24xf32>
  %2 = nn.reshape %1 attributes {shape = array<i64: 4, 6>} : (tensor<1x24xf32>) -> tensor<4x6xf32>
  %3 = nn.reshape %x attributes {shape = array<i64: 24>} : (tensor<2x3x4xf32>) -> tensor<24xf32>
  %4 = nn.reshape %3 attributes {shape = array<i64: 2, 4, 3>} : (tensor<24xf32>) -> tensor<2x4x3xf32>
  %5 = nn.flatten %4 attributes {axis = 2 : i64} : (tensor<2x4x3xf32>) -> tensor<8x3xf32>
  func.return %2, %5 : tensor<4x6xf32>, tensor<8x3xf32>
}

// A reshape chain with a dynamic dim keeps the last shape's -1.
// CHECK-LABEL: func.func @consecutive_reshapes_dynamic(%x: tensor<?x6xf32>) -> tensor<?x2xf32> {
// CHECK-NEXT:    %0 = nn.reshape %x attributes {shape = array<i64: -1, 2>} : (tensor<?x6xf32>) -> tensor<?x2xf32>
// CHECK-NEXT:    return %0 : tensor<?x2xf32>
// CHECK-NEXT:  }
func.func @consecutive_reshapes_dynamic(%x: tensor<?x6xf32>) -> tensor<?x2xf32> {
  %0 = nn.reshape %x attributes {shape = array<i64: -1, 3>} : (tensor<?x6xf32>) -> tensor<?x3xf32>
  %1 = nn.reshape %0 attributes {shape = array<i64: -1, 2>} : (tensor<?x3xf32>) -> tensor<?x2xf32>
  func.return %1 : tensor<?x2xf32>
}

// EliminateSqueezeOfUnsqueeze and EliminateUnsqueezeOfSqueeze: the same axes (in any order or
// sign) cancel.
// CHECK-LABEL: func.func @squeeze_unsqueeze(%x: tensor<3x4xf32>, %z: tensor<3x1x4xf32>) -> (tensor<3x4xf32>, tensor<3x1x4xf32>) {
// CHECK-NEXT:    return %x, %z : tensor<3x4xf32>, tensor<3x1x4xf32>
// CHECK-NEXT:  }
func.func @squeeze_unsqueeze(%x: tensor<3x4xf32>, %z: tensor<3x1x4xf32>) -> (tensor<3x4xf32>, tensor<3x1x4xf32>) {
  %0 = nn.unsqueeze %x attributes {axes = array<i64: 0, -1>} : (tensor<3x4xf32>) -> tensor<1x3x4x1xf32>
  %1 = nn.squeeze %0 attributes {axes = array<i64: 3, 0>} : (tensor<1x3x4x1xf32>) -> tensor<3x4xf32>
  %2 = nn.squeeze %z attributes {axes = array<i64: 1>} : (tensor<3x1x4xf32>) -> tensor<3x4xf32>
  %3 = nn.unsqueeze %2 attributes {axes = array<i64: -2>} : (tensor<3x4xf32>) -> tensor<3x1x4xf32>
  func.return %1, %3 : tensor<3x4xf32>, tensor<3x1x4xf32>
}

// Negative: squeezing other axes than were inserted; both stay.
// CHECK-LABEL: func.func @squeeze_unsqueeze_other_axes(%x: tensor<3x4xf32>) -> tensor<1x3x4xf32> {
// CHECK-NEXT:    %0 = nn.unsqueeze %x attributes {axes = array<i64: 0, 1>} : (tensor<3x4xf32>) -> tensor<1x1x3x4xf32>
// CHECK-NEXT:    %1 = nn.squeeze %0 attributes {axes = array<i64: 1>} : (tensor<1x1x3x4xf32>) -> tensor<1x3x4xf32>
// CHECK-NEXT:    return %1 : tensor<1x3x4xf32>
// CHECK-NEXT:  }
func.func @squeeze_unsqueeze_other_axes(%x: tensor<3x4xf32>) -> tensor<1x3x4xf32> {
  %0 = nn.unsqueeze %x attributes {axes = array<i64: 0, 1>} : (tensor<3x4xf32>) -> tensor<1x1x3x4xf32>
  %1 = nn.squeeze %0 attributes {axes = array<i64: 1>} : (tensor<1x1x3x4xf32>) -> tensor<1x3x4xf32>
  func.return %1 : tensor<1x3x4xf32>
}

// Negative: unsqueeze(squeeze(x)) where x's squeezed dim is dynamic would change the type.
// CHECK-LABEL: func.func @unsqueeze_squeeze_dynamic(%x: tensor<3x?xf32>) -> tensor<3x1xf32> {
// CHECK-NEXT:    %0 = nn.squeeze %x attributes {axes = array<i64: 1>} : (tensor<3x?xf32>) -> tensor<3xf32>
// CHECK-NEXT:    %1 = nn.unsqueeze %0 attributes {axes = array<i64: 1>} : (tensor<3xf32>) -> tensor<3x1xf32>
// CHECK-NEXT:    return %1 : tensor<3x1xf32>
// CHECK-NEXT:  }
func.func @unsqueeze_squeeze_dynamic(%x: tensor<3x?xf32>) -> tensor<3x1xf32> {
  %0 = nn.squeeze %x attributes {axes = array<i64: 1>} : (tensor<3x?xf32>) -> tensor<3xf32>
  %1 = nn.unsqueeze %0 attributes {axes = array<i64: 1>} : (tensor<3xf32>) -> tensor<3x1xf32>
  func.return %1 : tensor<3x1xf32>
}

// MergeConsecutiveTransposes: inverse permutations cancel; others compose into one transpose.
// CHECK-LABEL: func.func @transpose_pairs(%x: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<4x2x3xf32>) {
// CHECK-NEXT:    %0 = nn.transpose %x attributes {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
// CHECK-NEXT:    return %x, %0 : tensor<2x3x4xf32>, tensor<4x2x3xf32>
// CHECK-NEXT:  }
func.func @transpose_pairs(%x: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<4x2x3xf32>) {
  %0 = nn.transpose %x attributes {perm = array<i64: 1, 2, 0>} : (tensor<2x3x4xf32>) -> tensor<3x4x2xf32>
  %1 = nn.transpose %0 attributes {perm = array<i64: 2, 0, 1>} : (tensor<3x4x2xf32>) -> tensor<2x3x4xf32>
  %2 = nn.transpose %x attributes {perm = array<i64: 0, 2, 1>} : (tensor<2x3x4xf32>) -> tensor<2x4x3xf32>
  %3 = nn.transpose %2 attributes {perm = array<i64: 1, 0, 2>} : (tensor<2x4x3xf32>) -> tensor<4x2x3xf32>
  func.return %1, %3 : tensor<2x3x4xf32>, tensor<4x2x3xf32>
}

// SliceOfConcatToOperand: slices that cut out exactly the concat's operands (negative and
// clamped bounds too) -> the operands; the concat is then dead.
// CHECK-LABEL: func.func @slices_undo_concat(%a: tensor<2x3xf32>, %b: tensor<2x5xf32>) -> (tensor<2x3xf32>, tensor<2x5xf32>) {
// CHECK-NEXT:    return %a, %b : tensor<2x3xf32>, tensor<2x5xf32>
// CHECK-NEXT:  }
func.func @slices_undo_concat(%a: tensor<2x3xf32>, %b: tensor<2x5xf32>) -> (tensor<2x3xf32>, tensor<2x5xf32>) {
  %0 = nn.concat %a, %b attributes {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
  %1 = nn.slice %0 attributes {axes = array<i64: 1>, ends = array<i64: 3>, starts = array<i64: 0>, steps = array<i64: 1>} : (tensor<2x8xf32>) -> tensor<2x3xf32>
  %2 = nn.slice %0 attributes {axes = array<i64: -1>, ends = array<i64: 9223372036854775807>, starts = array<i64: -5>, steps = array<i64: 1>} : (tensor<2x8xf32>) -> tensor<2x5xf32>
  func.return %1, %2 : tensor<2x3xf32>, tensor<2x5xf32>
}

// Negative: a slice of the right size that straddles two operands stays.
// CHECK-LABEL: func.func @slice_across_concat(%a: tensor<2x3xf32>, %b: tensor<2x5xf32>) -> tensor<2x3xf32> {
// CHECK-NEXT:    %0 = nn.concat %a, %b attributes {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:    %1 = nn.slice %0 attributes {axes = array<i64: 1>, ends = array<i64: 4>, starts = array<i64: 1>, steps = array<i64: 1>} : (tensor<2x8xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    return %1 : tensor<2x3xf32>
// CHECK-NEXT:  }
func.func @slice_across_concat(%a: tensor<2x3xf32>, %b: tensor<2x5xf32>) -> tensor<2x3xf32> {
  %0 = nn.concat %a, %b attributes {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
  %1 = nn.slice %0 attributes {axes = array<i64: 1>, ends = array<i64: 4>, starts = array<i64: 1>, steps = array<i64: 1>} : (tensor<2x8xf32>) -> tensor<2x3xf32>
  func.return %1 : tensor<2x3xf32>
}

// SplitOfConcatToOperands: a split into exactly the concat's pieces -> the operands.
// CHECK-LABEL: func.func @split_undoes_concat(%a: tensor<3x2xf32>, %b: tensor<1x2xf32>) -> (tensor<1x2xf32>, tensor<3x2xf32>) {
// CHECK-NEXT:    return %b, %a : tensor<1x2xf32>, tensor<3x2xf32>
// CHECK-NEXT:  }
func.func @split_undoes_concat(%a: tensor<3x2xf32>, %b: tensor<1x2xf32>) -> (tensor<1x2xf32>, tensor<3x2xf32>) {
  %0 = nn.concat %a, %b attributes {axis = -2 : i64} : (tensor<3x2xf32>, tensor<1x2xf32>) -> tensor<4x2xf32>
  %1, %2 = nn.split %0 attributes {axis = 0 : i64, sizes = array<i64: 3, 1>} : (tensor<4x2xf32>) -> (tensor<3x2xf32>, tensor<1x2xf32>)
  func.return %2, %1 : tensor<1x2xf32>, tensor<3x2xf32>
}

// Negative: a split into other sizes than the concat joined stays.
// CHECK-LABEL: func.func @split_other_sizes(%a: tensor<3x2xf32>, %b: tensor<1x2xf32>) -> (tensor<2x2xf32>, tensor<2x2xf32>) {
// CHECK-NEXT:    %0 = nn.concat %a, %b attributes {axis = 0 : i64} : (tensor<3x2xf32>, tensor<1x2xf32>) -> tensor<4x2xf32>
// CHECK-NEXT:    %1, %2 = nn.split %0 attributes {axis = 0 : i64, sizes = array<i64: 2, 2>} : (tensor<4x2xf32>) -> (tensor<2x2xf32>, tensor<2x2xf32>)
// CHECK-NEXT:    return %1, %2 : tensor<2x2xf32>, tensor<2x2xf32>
// CHECK-NEXT:  }
func.func @split_other_sizes(%a: tensor<3x2xf32>, %b: tensor<1x2xf32>) -> (tensor<2x2xf32>, tensor<2x2xf32>) {
  %0 = nn.concat %a, %b attributes {axis = 0 : i64} : (tensor<3x2xf32>, tensor<1x2xf32>) -> tensor<4x2xf32>
  %1, %2 = nn.split %0 attributes {axis = 0 : i64, sizes = array<i64: 2, 2>} : (tensor<4x2xf32>) -> (tensor<2x2xf32>, tensor<2x2xf32>)
  func.return %1, %2 : tensor<2x2xf32>, tensor<2x2xf32>
}

// FoldUnsqueezeOfConstant: unsqueeze of a constant -> one constant of the new shape.
// CHECK-LABEL: func.func @unsqueeze_constant() -> tensor<1x2x1xf32> {
// CHECK-NEXT:    %0 = nn.constant attributes {value = dense<{{\[\[\[}}1.000000e+00], [2.000000e+00]]]> : tensor<1x2x1xf32>} : () -> tensor<1x2x1xf32>
// CHECK-NEXT:    return %0 : tensor<1x2x1xf32>
// CHECK-NEXT:  }
// CHECK-NOT:   nn.unsqueeze
func.func @unsqueeze_constant() -> tensor<1x2x1xf32> {
  %c = nn.constant attributes {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %0 = nn.unsqueeze %c attributes {axes = array<i64: 0, 2>} : (tensor<2xf32>) -> tensor<1x2x1xf32>
  func.return %0 : tensor<1x2x1xf32>
}

// Negative: a constant with another user is not copied.
// CHECK-LABEL: func.func @unsqueeze_shared_constant(%x: tensor<2xf32>) -> (tensor<1x2xf32>, tensor<2xf32>) {
// CHECK-NEXT:    %c = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
// CHECK-NEXT:    %0 = nn.unsqueeze %c attributes {axes = array<i64: 0>} : (tensor<2xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:    %1 = nn.add %x, %c : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
// CHECK-NEXT:    return %0, %1 : tensor<1x2xf32>, tensor<2xf32>
// CHECK-NEXT:  }
func.func @unsqueeze_shared_constant(%x: tensor<2xf32>) -> (tensor<1x2xf32>, tensor<2xf32>) {
  %c = nn.constant attributes {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %0 = nn.unsqueeze %c attributes {axes = array<i64: 0>} : (tensor<2xf32>) -> tensor<1x2xf32>
  %1 = nn.add %x, %c : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  func.return %0, %1 : tensor<1x2xf32>, tensor<2xf32>
}

// An unused constant is erased (the driver erases dead pure ops).
// CHECK-LABEL: func.func @unused_constant(%x: tensor<2xf32>) -> tensor<2xf32> {
// CHECK-NEXT:    return %x : tensor<2xf32>
// CHECK-NEXT:  }
func.func @unused_constant(%x: tensor<2xf32>) -> tensor<2xf32> {
  %c = nn.constant attributes {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  func.return %x : tensor<2xf32>
}
