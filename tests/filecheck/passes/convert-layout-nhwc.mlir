// convert-layout{to=NHWC}: conv2d, pools, batch_norm and the elementwise ops and concats
// between them run in NHWC; layout transforms only where the graph enters, leaves, or reaches an
// op that cannot convert; bias constants pre-transformed.
// RUN: lamina opt %s -p "convert-layout{to=NHWC}" | filecheck %s

// conv -> bias add -> relu -> conv: one transform in, one out; the weight stays OIHW (the CPU
// build packs it); the [16, 1, 1] bias becomes a [1, 1, 1, 16] constant.
// CHECK-LABEL: func.func @conv_relu_conv(%x: tensor<1x16x6x6xf32>) -> tensor<1x16x6x6xf32> {
// CHECK-NEXT:    %w = nn.constant attributes {value = dense<5.000000e-01> : tensor<16x16x1x1xf32>} : () -> tensor<16x16x1x1xf32>
// CHECK-NEXT:    %0 = nn.layout_transform %x attributes {dst = "NHWC", src = "NCHW"} : (tensor<1x16x6x6xf32>) -> tensor<1x6x6x16xf32>
// CHECK-NEXT:    %1 = nn.conv2d %0, %w attributes {layout = "NHWC"} : (tensor<1x6x6x16xf32>, tensor<16x16x1x1xf32>) -> tensor<1x6x6x16xf32>
// CHECK-NEXT:    %2 = nn.constant attributes {value = dense<2.500000e-01> : tensor<1x1x1x16xf32>} : () -> tensor<1x1x1x16xf32>
// CHECK-NEXT:    %3 = nn.add %1, %2 : (tensor<1x6x6x16xf32>, tensor<1x1x1x16xf32>) -> tensor<1x6x6x16xf32>
// CHECK-NEXT:    %4 = nn.relu %3 : (tensor<1x6x6x16xf32>) -> tensor<1x6x6x16xf32>
// CHECK-NEXT:    %5 = nn.conv2d %4, %w attributes {layout = "NHWC"} : (tensor<1x6x6x16xf32>, tensor<16x16x1x1xf32>) -> tensor<1x6x6x16xf32>
// CHECK-NEXT:    %6 = nn.layout_transform %5 attributes {dst = "NCHW", src = "NHWC"} : (tensor<1x6x6x16xf32>) -> tensor<1x16x6x6xf32>
// CHECK-NEXT:    return %6 : tensor<1x16x6x6xf32>
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

// batch_norm and the global pool follow the depthwise conv in NHWC (batch_norm's [C] parameters
// unchanged); flatten cannot convert: the transform back is before it.
// CHECK-LABEL: func.func @depthwise_bn_pool_flatten(%x: tensor<1x8x4x4xf32>, %s: tensor<8xf32>) -> tensor<1x8xf32> {
// CHECK-NEXT:    %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<8x1x3x3xf32>} : () -> tensor<8x1x3x3xf32>
// CHECK-NEXT:    %0 = nn.layout_transform %x attributes {dst = "NHWC", src = "NCHW"} : (tensor<1x8x4x4xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:    %1 = nn.conv2d %0, %w attributes {group = 8 : i64, layout = "NHWC", pads = array<i64: 1, 1, 1, 1>} : (tensor<1x4x4x8xf32>, tensor<8x1x3x3xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:    %2 = nn.batch_norm %1, %s, %s, %s, %s attributes {layout = "NHWC"} : (tensor<1x4x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:    %3 = nn.global_avg_pool %2 attributes {layout = "NHWC"} : (tensor<1x4x4x8xf32>) -> tensor<1x1x1x8xf32>
// CHECK-NEXT:    %4 = nn.layout_transform %3 attributes {dst = "NCHW", src = "NHWC"} : (tensor<1x1x1x8xf32>) -> tensor<1x8x1x1xf32>
// CHECK-NEXT:    %5 = nn.flatten %4 : (tensor<1x8x1x1xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:    return %5 : tensor<1x8xf32>
// CHECK-NEXT:  }
func.func @depthwise_bn_pool_flatten(%x: tensor<1x8x4x4xf32>, %s: tensor<8xf32>) -> tensor<1x8xf32> {
  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<8x1x3x3xf32>} : () -> tensor<8x1x3x3xf32>
  %0 = nn.conv2d %x, %w attributes {group = 8 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x4x4xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x4x4xf32>
  %1 = nn.batch_norm %0, %s, %s, %s, %s : (tensor<1x8x4x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x4x4xf32>
  %2 = nn.global_avg_pool %1 : (tensor<1x8x4x4xf32>) -> tensor<1x8x1x1xf32>
  %3 = nn.flatten %2 : (tensor<1x8x1x1xf32>) -> tensor<1x8xf32>
  func.return %3 : tensor<1x8xf32>
}

// NHWC has no divisibility condition: both convs convert, 3 channels too.
// CHECK-LABEL: func.func @three_channels(%x: tensor<1x3x4x4xf32>) -> tensor<1x8x4x4xf32> {
// CHECK-NEXT:    %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<8x3x1x1xf32>} : () -> tensor<8x3x1x1xf32>
// CHECK-NEXT:    %w2 = nn.constant attributes {value = dense<1.000000e+00> : tensor<8x8x1x1xf32>} : () -> tensor<8x8x1x1xf32>
// CHECK-NEXT:    %0 = nn.layout_transform %x attributes {dst = "NHWC", src = "NCHW"} : (tensor<1x3x4x4xf32>) -> tensor<1x4x4x3xf32>
// CHECK-NEXT:    %1 = nn.conv2d %0, %w attributes {layout = "NHWC"} : (tensor<1x4x4x3xf32>, tensor<8x3x1x1xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:    %2 = nn.conv2d %1, %w2 attributes {layout = "NHWC"} : (tensor<1x4x4x8xf32>, tensor<8x8x1x1xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:    %3 = nn.layout_transform %2 attributes {dst = "NCHW", src = "NHWC"} : (tensor<1x4x4x8xf32>) -> tensor<1x8x4x4xf32>
// CHECK-NEXT:    return %3 : tensor<1x8x4x4xf32>
// CHECK-NEXT:  }
func.func @three_channels(%x: tensor<1x3x4x4xf32>) -> tensor<1x8x4x4xf32> {
  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<8x3x1x1xf32>} : () -> tensor<8x3x1x1xf32>
  %w2 = nn.constant attributes {value = dense<1.000000e+00> : tensor<8x8x1x1xf32>} : () -> tensor<8x8x1x1xf32>
  %0 = nn.conv2d %x, %w : (tensor<1x3x4x4xf32>, tensor<8x3x1x1xf32>) -> tensor<1x8x4x4xf32>
  %1 = nn.conv2d %0, %w2 : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  func.return %1 : tensor<1x8x4x4xf32>
}

// concat along C: the other operand is transformed too, and the axis becomes 3.
// CHECK-LABEL: func.func @concat_channels(%x: tensor<1x8x4x4xf32>, %y: tensor<1x8x4x4xf32>) -> tensor<1x16x4x4xf32> {
// CHECK-NEXT:    %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<8x8x1x1xf32>} : () -> tensor<8x8x1x1xf32>
// CHECK-NEXT:    %0 = nn.layout_transform %x attributes {dst = "NHWC", src = "NCHW"} : (tensor<1x8x4x4xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:    %1 = nn.conv2d %0, %w attributes {layout = "NHWC"} : (tensor<1x4x4x8xf32>, tensor<8x8x1x1xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:    %2 = nn.layout_transform %y attributes {dst = "NHWC", src = "NCHW"} : (tensor<1x8x4x4xf32>) -> tensor<1x4x4x8xf32>
// CHECK-NEXT:    %3 = nn.concat %1, %2 attributes {axis = 3 : i64} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x16xf32>
// CHECK-NEXT:    %4 = nn.layout_transform %3 attributes {dst = "NCHW", src = "NHWC"} : (tensor<1x4x4x16xf32>) -> tensor<1x16x4x4xf32>
// CHECK-NEXT:    return %4 : tensor<1x16x4x4xf32>
// CHECK-NEXT:  }
func.func @concat_channels(%x: tensor<1x8x4x4xf32>, %y: tensor<1x8x4x4xf32>) -> tensor<1x16x4x4xf32> {
  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<8x8x1x1xf32>} : () -> tensor<8x8x1x1xf32>
  %0 = nn.conv2d %x, %w : (tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>) -> tensor<1x8x4x4xf32>
  %1 = nn.concat %0, %y attributes {axis = 1 : i64} : (tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>) -> tensor<1x16x4x4xf32>
  func.return %1 : tensor<1x16x4x4xf32>
}
