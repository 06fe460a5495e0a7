// nn.layout_transform canonicalization (dialects/nn/layout.py): inverse pairs cancel, chains
// merge, transforms of constants fold. convert-layout applies the same patterns at its end.
// RUN: lamina opt %s -p canonicalize | filecheck %s

// Transform pairs: NCHW -> NCHW8c -> NCHW cancels to %x; NCHW -> NCHW8c -> NHWC merges into one.
// CHECK-LABEL: func.func @pairs_cancel(%x: tensor<1x16x4x4xf32>) -> (tensor<1x16x4x4xf32>, tensor<1x4x4x16xf32>) {
// CHECK-NEXT:    %0 = nn.layout_transform %x attributes {dst = "NHWC", src = "NCHW"} : (tensor<1x16x4x4xf32>) -> tensor<1x4x4x16xf32>
// CHECK-NEXT:    return %x, %0 : tensor<1x16x4x4xf32>, tensor<1x4x4x16xf32>
// CHECK-NEXT:  }
func.func @pairs_cancel(%x: tensor<1x16x4x4xf32>) -> (tensor<1x16x4x4xf32>, tensor<1x4x4x16xf32>) {
  %0 = nn.layout_transform %x attributes {dst = "NCHW8c", src = "NCHW"} : (tensor<1x16x4x4xf32>) -> tensor<1x2x4x4x8xf32>
  %1 = nn.layout_transform %0 attributes {dst = "NCHW", src = "NCHW8c"} : (tensor<1x2x4x4x8xf32>) -> tensor<1x16x4x4xf32>
  %2 = nn.layout_transform %0 attributes {dst = "NHWC", src = "NCHW8c"} : (tensor<1x2x4x4x8xf32>) -> tensor<1x4x4x16xf32>
  func.return %1, %2 : tensor<1x16x4x4xf32>, tensor<1x4x4x16xf32>
}

// A transform of a constant folds (canonicalize runs the op's fold); so does src == dst.
// CHECK-LABEL: func.func @fold(%x: tensor<1x4x1x1xf32>) -> (tensor<1x2x1x1x2xf32>, tensor<1x4x1x1xf32>) {
// CHECK-NEXT:    %0 = nn.constant attributes {value = dense<[[[[[1.000000e+00, 2.000000e+00]]], [[[3.000000e+00, 4.000000e+00]]]]]> : tensor<1x2x1x1x2xf32>} : () -> tensor<1x2x1x1x2xf32>
// CHECK-NEXT:    return %0, %x : tensor<1x2x1x1x2xf32>, tensor<1x4x1x1xf32>
// CHECK-NEXT:  }
func.func @fold(%x: tensor<1x4x1x1xf32>) -> (tensor<1x2x1x1x2xf32>, tensor<1x4x1x1xf32>) {
  %c = nn.constant attributes {value = dense<[[[[1.0]], [[2.0]], [[3.0]], [[4.0]]]]> : tensor<1x4x1x1xf32>} : () -> tensor<1x4x1x1xf32>
  %0 = nn.layout_transform %c attributes {dst = "NCHW2c", src = "NCHW"} : (tensor<1x4x1x1xf32>) -> tensor<1x2x1x1x2xf32>
  %1 = nn.layout_transform %x attributes {dst = "NCHW", src = "NCHW"} : (tensor<1x4x1x1xf32>) -> tensor<1x4x1x1xf32>
  func.return %0, %1 : tensor<1x2x1x1x2xf32>, tensor<1x4x1x1xf32>
}
