// convert-layout{to=NCHWc c=8}: conv2d, pools, batch_norm and the elementwise ops and concats
// between them run in NCHW8c ([N, C/8, H, W, 8]); layout transforms only where the graph enters,
// leaves, or reaches an op that cannot convert; weights and bias constants pre-transformed.
// RUN: lamina opt %s -p "convert-layout{to=NCHWc c=8}" | filecheck %s

// conv -> bias add -> relu -> conv: one transform in, one out; the shared OIHW weight becomes one
// OIHW8i8o constant; the [16, 1, 1] bias becomes a [1, 2, 1, 1, 8] constant.
// CHECK-LABEL: func.func @conv_relu_conv(%x: tensor<1x16x6x6xf32>) -> tensor<1x16x6x6xf32> {
// CHECK-NEXT:    %0 = nn.layout_transform %x attributes {dst = "NCHW8c", src = "NCHW"} : (tensor<1x16x6x6xf32>) -> tensor<1x2x6x6x8xf32>
// CHECK-NEXT:    %1 = nn.constant attributes {value = dense<5.000000e-01> : tensor<2x2x1x1x8x8xf32>} : () -> tensor<2x2x1x1x8x8xf32>
// CHECK-NEXT:    %2 = nn.conv2d %0, %1 attributes {layout = "NCHW8c", weight_layout = "OIHW8i8o"} : (tensor<1x2x6x6x8xf32>, tensor<2x2x1x1x8x8xf32>) -> tensor<1x2x6x6x8xf32>
// CHECK-NEXT:    %3 = nn.constant attributes {value = dense<2.500000e-01> : tensor<1x2x1x1x8xf32>} : () -> tensor<1x2x1x1x8xf32>
// CHECK-NEXT:    %4 = nn.add %2, %3 : (tensor<1x2x6x6x8xf32>, tensor<1x2x1x1x8xf32>) -> tensor<1x2x6x6x8xf32>
// CHECK-NEXT:    %5 = nn.relu %4 : (tensor<1x2x6x6x8xf32>) -> tensor<1x2x6x6x8xf32>
// CHECK-NEXT:    %6 = nn.conv2d %5, %1 attributes {layout = "NCHW8c", weight_layout = "OIHW8i8o"} : (tensor<1x2x6x6x8xf32>, tensor<2x2x1x1x8x8xf32>) -> tensor<1x2x6x6x8xf32>
// CHECK-NEXT:    %7 = nn.layout_transform %6 attributes {dst = "NCHW", src = "NCHW8c"} : (tensor<1x2x6x6x8xf32>) -> tensor<1x16x6x6xf32>
// CHECK-NEXT:    return %7 : tensor<1x16x6x6xf32>
// CHECK-NEXT:  }
func.func @conv_relu_conv(%x: tensor<1x16x6x6xf32>) -> tensor<1x16x6x6xf32> {
  %w = nn.constant attributes {value = dense<5.000000e-01> : tensor<16x16x1x1xf32>} : () -> tensor<16x16x1x1xf32>
  %b = nn.constant attributes {value = dense<2.500000e-01> : tensor<16x1x1xf32>} : () -> tensor<16x1x1xf32>
  %0 = nn.conv2d %x, %w : (tensor<1x16x6x6xf32>, tensor<16x16x1x1xf32>) -> tensor<1x16x6x6xf32>
  %1 = nn.add %0, %b : (tensor<1x16x6x6xf32>, tensor<16x1x1xf32>) -> tensor<1x16x6x6xf32>
  %2 = nn.relu %1 : (tensor<1x16x6x6xf32>) -> tensor<1x16x6x6xf32>
  %3 = nn.conv2d %2, %w : (tensor<1x16x6x6xf32>, tensor<16x16x1x1xf32>) -> tensor<1x16x6x6xf32>
  func.return %3 : tensor<1x16x6x6xf32>
}

// A depthwise conv packs its weight OIHW8o; batch_norm and the global pool follow in NCHW8c
// (batch_norm's [C] parameters unchanged); flatten cannot convert: the transform back is before it.
// CHECK-LABEL: func.func @depthwise_bn_pool_flatten(%x: tensor<1x8x4x4xf32>, %s: tensor<8xf32>) -> tensor<1x8xf32> {
// CHECK-NEXT:    %0 = nn.layout_transform %x attributes {dst = "NCHW8c", src = "NCHW"} : (tensor<1x8x4x4xf32>) -> tensor<1x1x4x4x8xf32>
// CHECK-NEXT:    %1 = nn.constant attributes {value = dense<1.000000e+00> : tensor<1x1x3x3x8xf32>} : () -> tensor<1x1x3x3x8xf32>
// CHECK-NEXT:    %2 = nn.conv2d %0, %1 attributes {group = 8 : i64, layout = "NCHW8c", pads = array<i64: 1, 1, 1, 1>, weight_layout = "OIHW8o"} : (tensor<1x1x4x4x8xf32>, tensor<1x1x3x3x8xf32>) -> tensor<1x1x4x4x8xf32>
// CHECK-NEXT:    %3 = nn.batch_norm %2, %s, %s, %s, %s attributes {layout = "NCHW8c"} : (tensor<1x1x4x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x1x4x4x8xf32>
// CHECK-NEXT:    %4 = nn.global_avg_pool %3 attributes {layout = "NCHW8c"} : (tensor<1x1x4x4x8xf32>) -> tensor<1x1x1x1x8xf32>
// CHECK-NEXT:    %5 = nn.layout_transform %4 attributes {dst = "NCHW", src = "NCHW8c"} : (tensor<1x1x1x1x8xf32>) -> tensor<1x8x1x1xf32>
// CHECK-NEXT:    %6 = nn.flatten %5 : (tensor<1x8x1x1xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:    return %6 : tensor<1x8xf32>
// CHECK-NEXT:  }
func.func @depthwise_bn_pool_flatten(%x: tensor<1x8x4x4xf32>, %s: tensor<8xf32>) -> tensor<1x8xf32> {
  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<8x1x3x3xf32>} : () -> tensor<8x1x3x3xf32>
  %0 = nn.conv2d %x, %w attributes {group = 8 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x4x4xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x4x4xf32>
  %1 = nn.batch_norm %0, %s, %s, %s, %s : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  %2 = nn.global_avg_pool %1 : (tensor<1x8x4x4xf32>) -> tensor<1x8x1x1xf32>
  %3 = nn.flatten %2 : (tensor<1x8x1x1xf32>) -> tensor<1x8xf32>
  func.return %3 : tensor<1x8xf32>
}

// 3 input channels are not a multiple of 8: that conv stays NCHW, the next one converts.
// CHECK-LABEL: func.func @three_channels_stay(%x: tensor<1x3x4x4xf32>) -> tensor<1x8x4x4xf32> {
// CHECK-NEXT:    %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<8x3x1x1xf32>} : () -> tensor<8x3x1x1xf32>
// CHECK-NEXT:    %0 = nn.conv2d %x, %w : (tensor<1x3x4x4xf32>, tensor<8x3x1x1xf32>) -> tensor<1x8x4x4xf32>
// CHECK-NEXT:    %1 = nn.layout_transform %0 attributes {dst = "NCHW8c", src = "NCHW"} : (tensor<1x8x4x4xf32>) -> tensor<1x1x4x4x8xf32>
// CHECK-NEXT:    %2 = nn.constant attributes {value = dense<1.000000e+00> : tensor<1x1x1x1x8x8xf32>} : () -> tensor<1x1x1x1x8x8xf32>
// CHECK-NEXT:    %3 = nn.conv2d %1, %2 attributes {layout = "NCHW8c", weight_layout = "OIHW8i8o"} : (tensor<1x1x4x4x8xf32>, tensor<1x1x1x1x8x8xf32>) -> tensor<1x1x4x4x8xf32>
// CHECK-NEXT:    %4 = nn.layout_transform %3 attributes {dst = "NCHW", src = "NCHW8c"} : (tensor<1x1x4x4x8xf32>) -> tensor<1x8x4x4xf32>
// CHECK-NEXT:    return %4 : tensor<1x8x4x4xf32>
// CHECK-NEXT:  }
func.func @three_channels_stay(%x: tensor<1x3x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<8x3x1x1xf32>} : () -> tensor<8x3x1x1xf32>
  %w2 = nn.constant attributes {value = dense<1.000000e+00> : tensor<8x8x1x1xf32>} : () -> tensor<8x8x1x1xf32>
  %0 = nn.conv2d %x, %w : (tensor<1x3x4x4xf32>, tensor<8x3x1x1xf32>) -> tensor<1x8x4x4xf32>
  %1 = nn.conv2d %0, %w2 : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  func.return %1 : tensor<1x8x4x4xf32>
}

// concat along C: the other operand is transformed too, and the blocks concatenate (axis 1).
// CHECK-LABEL: func.func @concat_channels(%x: tensor<1x8x4x4xf32>, %y: tensor<1x8x4x4xf32>) -> tensor<1x16x4x4xf32> {
// CHECK-NEXT:    %0 = nn.layout_transform %x attributes {dst = "NCHW8c", src = "NCHW"} : (tensor<1x8x4x4xf32>) -> tensor<1x1x4x4x8xf32>
// CHECK-NEXT:    %1 = nn.constant attributes {value = dense<1.000000e+00> : tensor<1x1x1x1x8x8xf32>} : () -> tensor<1x1x1x1x8x8xf32>
// CHECK-NEXT:    %2 = nn.conv2d %0, %1 attributes {layout = "NCHW8c", weight_layout = "OIHW8i8o"} : (tensor<1x1x4x4x8xf32>, tensor<1x1x1x1x8x8xf32>) -> tensor<1x1x4x4x8xf32>
// CHECK-NEXT:    %3 = nn.layout_transform %y attributes {dst = "NCHW8c", src = "NCHW"} : (tensor<1x8x4x4xf32>) -> tensor<1x1x4x4x8xf32>
// CHECK-NEXT:    %4 = nn.concat %2, %3 attributes {axis = 1 : i64} : (tensor<1x1x4x4x8xf32>, tensor<1x1x4x4x8xf32>) -> tensor<1x2x4x4x8xf32>
// CHECK-NEXT:    %5 = nn.layout_transform %4 attributes {dst = "NCHW", src = "NCHW8c"} : (tensor<1x2x4x4x8xf32>) -> tensor<1x16x4x4xf32>
// CHECK-NEXT:    return %5 : tensor<1x16x4x4xf32>
// CHECK-NEXT:  }
func.func @concat_channels(%x: tensor<1x8x4x4xf32>, %y: tensor<1x8x4x4xf32>) -> tensor<1x16x4x4xf32> {
  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<8x8x1x1xf32>} : () -> tensor<8x8x1x1xf32>
  %0 = nn.conv2d %x, %w : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %1 = nn.concat %0, %y attributes {axis = 1 : i64} : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x16x4x4xf32>
  func.return %1 : tensor<1x16x4x4xf32>
}
