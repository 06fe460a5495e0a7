// convert-layout{to=NCHWc c=2}: weights and broadcast constants are transformed by folding, once,
// at compile time.
// RUN: lamina opt %s -p "convert-layout{to=NCHWc c=2}" | filecheck %s

// With c=2 the packing is visible: w[o, i] lands at [0, 0, 0, 0, i, o] of OIHW2i2o, so
// [[1, 2], [3, 4]] (rows o) becomes [[1, 3], [2, 4]] (rows i); the [2, 1, 1] scale becomes
// [1, 1, 1, 1, 2].
// CHECK-LABEL: func.func @weights_packed(%x: tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32> {
// CHECK-NEXT:    %0 = nn.layout_transform %x attributes {dst = "NCHW2c", src = "NCHW"} : (tensor<1x2x3x3xf32>) -> tensor<1x1x3x3x2xf32>
// CHECK-NEXT:    %1 = nn.constant attributes {value = dense<[[[[[[1.000000e+00, 3.000000e+00], [2.000000e+00, 4.000000e+00]]]]]]> : tensor<1x1x1x1x2x2xf32>} : () -> tensor<1x1x1x1x2x2xf32>
// CHECK-NEXT:    %2 = nn.conv2d %0, %1 attributes {layout = "NCHW2c", weight_layout = "OIHW2i2o"} : (tensor<1x1x3x3x2xf32>, tensor<1x1x1x1x2x2xf32>) -> tensor<1x1x3x3x2xf32>
// CHECK-NEXT:    %3 = nn.constant attributes {value = dense<[[[[[5.000000e+00, 6.000000e+00]]]]]> : tensor<1x1x1x1x2xf32>} : () -> tensor<1x1x1x1x2xf32>
// CHECK-NEXT:    %4 = nn.mul %2, %3 : (tensor<1x1x3x3x2xf32>, tensor<1x1x1x1x2xf32>) -> tensor<1x1x3x3x2xf32>
// CHECK-NEXT:    %5 = nn.layout_transform %4 attributes {dst = "NCHW", src = "NCHW2c"} : (tensor<1x1x3x3x2xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:    return %5 : tensor<1x2x3x3xf32>
// CHECK-NEXT:  }
func.func @weights_packed(%x: tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %w = nn.constant attributes {value = dense<[[[[1.0]], [[2.0]]], [[[3.0]], [[4.0]]]]> : tensor<2x2x1x1xf32>} : () -> tensor<2x2x1x1xf32>
  %b = nn.constant attributes {value = dense<[[[5.0]], [[6.0]]]> : tensor<2x1x1xf32>} : () -> tensor<2x1x1xf32>
  %0 = nn.conv2d %x, %w : (tensor<1x2x3x3xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x3x3xf32>
  %1 = nn.mul %0, %b : (tensor<1x2x3x3xf32>, tensor<2x1x1xf32>) -> tensor<1x2x3x3xf32>
  func.return %1 : tensor<1x2x3x3xf32>
}
