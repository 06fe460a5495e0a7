// fuse{depthwise-pointwise=true}: the CPU's -O3 fusion (compiler/passes/fuse.py) also puts a
// depthwise conv group (with its epilogue) into the group of the 1x1 conv that reads it, one
// kernel (schedules/fused_conv.py), where the depthwise conv has stride 1 and the 1x1 weight is
// small. Plain `fuse` keeps them two groups.
// RUN: lamina opt %s -p 'fuse{depthwise-pointwise=true}' | filecheck %s
// RUN: lamina opt %s -p fuse | filecheck %s --check-prefix=PLAIN

// MobileNetV2's block: depthwise + relu, then 1x1 + residual add: one group.
// CHECK-LABEL: func.func @block(
// CHECK:         %s = nn.fused %x, %wd, %wp, %r attributes {sources = ["dw", "dw_relu", "pw", "residual"]}
// CHECK:           %d = nn.conv2d %x_1, %wd_1 attributes {group = 8 : i64, pads = array<i64: 1, 1, 1, 1>}
// CHECK-NEXT:      %c = nn.relu %d
// CHECK-NEXT:      %p = nn.conv2d %c, %wp_1 :
// CHECK-NEXT:      %s_1 = nn.add %p, %r_1
// CHECK-NEXT:      nn.yield %s_1
// CHECK-NOT:     nn.fused
// CHECK:         return %s
// PLAIN-LABEL: func.func @block(
// PLAIN:         %c = nn.fused %x, %wd
// PLAIN:         %s = nn.fused %c, %wp, %r
func.func @block(%x: tensor<1x8x6x6xf32>, %r: tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32> {
  %wd = nn.constant attributes {value = dense<5.000000e-01> : tensor<8x1x3x3xf32>} : () -> tensor<8x1x3x3xf32>
  %wp = nn.constant attributes {value = dense<2.500000e-01> : tensor<4x8x1x1xf32>} : () -> tensor<4x8x1x1xf32>
  %d = nn.conv2d %x, %wd attributes {group = 8 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x6x6xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x6x6xf32> loc("dw")
  %c = nn.relu %d : (tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32> loc("dw_relu")
  %p = nn.conv2d %c, %wp : (tensor<1x8x6x6xf32>, tensor<4x8x1x1xf32>) -> tensor<1x4x6x6xf32> loc("pw")
  %s = nn.add %p, %r : (tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32> loc("residual")
  func.return %s : tensor<1x4x6x6xf32>
}

// A strided depthwise conv stays its own kernel (fused, it gained nothing: fused_conv.py).
// CHECK-LABEL: func.func @strided(
// CHECK:         %c = nn.fused %x, %wd
// CHECK:         %p = nn.conv2d %c, %wp
func.func @strided(%x: tensor<1x8x6x6xf32>) -> tensor<1x4x2x2xf32> {
  %wd = nn.constant attributes {value = dense<5.000000e-01> : tensor<8x1x3x3xf32>} : () -> tensor<8x1x3x3xf32>
  %wp = nn.constant attributes {value = dense<2.500000e-01> : tensor<4x8x1x1xf32>} : () -> tensor<4x8x1x1xf32>
  %d = nn.conv2d %x, %wd attributes {group = 8 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 3, 3>} : (tensor<1x8x6x6xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x2x2xf32>
  %c = nn.relu %d : (tensor<1x8x2x2xf32>) -> tensor<1x8x2x2xf32>
  %p = nn.conv2d %c, %wp : (tensor<1x8x2x2xf32>, tensor<4x8x1x1xf32>) -> tensor<1x4x2x2xf32>
  func.return %p : tensor<1x4x2x2xf32>
}

// Rows of whole 16-lane vectors fuse too: in the model the depthwise output the 1x1 conv's
// column block would read alone comes from memory (fuse.py).
// CHECK-LABEL: func.func @whole_vectors(
// CHECK:         %p = nn.fused %x, %wd, %wp
// CHECK:           %d = nn.conv2d %x_1, %wd_1
// CHECK-NEXT:      %c = nn.relu %d
// CHECK-NEXT:      %p_1 = nn.conv2d %c, %wp_1
// CHECK-NEXT:      nn.yield %p_1
func.func @whole_vectors(%x: tensor<1x8x2x16xf32>) -> tensor<1x4x2x16xf32> {
  %wd = nn.constant attributes {value = dense<5.000000e-01> : tensor<8x1x3x3xf32>} : () -> tensor<8x1x3x3xf32>
  %wp = nn.constant attributes {value = dense<2.500000e-01> : tensor<4x8x1x1xf32>} : () -> tensor<4x8x1x1xf32>
  %d = nn.conv2d %x, %wd attributes {group = 8 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x2x16xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x2x16xf32>
  %c = nn.relu %d : (tensor<1x8x2x16xf32>) -> tensor<1x8x2x16xf32>
  %p = nn.conv2d %c, %wp : (tensor<1x8x2x16xf32>, tensor<4x8x1x1xf32>) -> tensor<1x4x2x16xf32>
  func.return %p : tensor<1x4x2x16xf32>
}

// The depthwise result read by another op too: it must go to memory, so two kernels.
// CHECK-LABEL: func.func @shared(
// CHECK:         %c = nn.fused %x, %wd
// CHECK:         %p = nn.conv2d %c, %wp
func.func @shared(%x: tensor<1x8x6x6xf32>) -> (tensor<1x4x6x6xf32>, tensor<1x8x6x6xf32>) {
  %wd = nn.constant attributes {value = dense<5.000000e-01> : tensor<8x1x3x3xf32>} : () -> tensor<8x1x3x3xf32>
  %wp = nn.constant attributes {value = dense<2.500000e-01> : tensor<4x8x1x1xf32>} : () -> tensor<4x8x1x1xf32>
  %d = nn.conv2d %x, %wd attributes {group = 8 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x6x6xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x6x6xf32>
  %c = nn.relu %d : (tensor<1x8x6x6xf32>) -> tensor<1x8x6x6xf32>
  %p = nn.conv2d %c, %wp : (tensor<1x8x6x6xf32>, tensor<4x8x1x1xf32>) -> tensor<1x4x6x6xf32>
  func.return %p, %c : tensor<1x4x6x6xf32>, tensor<1x8x6x6xf32>
}
