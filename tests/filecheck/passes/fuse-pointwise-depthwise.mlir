// fuse{pointwise-depthwise=true}: the CPU's -O3 fusion (compiler/passes/fuse.py) also puts a 1x1
// conv group (with its epilogue) into the group of the depthwise conv with stride 2 that reads
// it, one kernel (schedules/fused_conv.py), where the channels are whole 16-lane vectors.
// Plain `fuse` keeps them two groups.
// RUN: lamina opt %s -p 'fuse{pointwise-depthwise=true}' | filecheck %s
// RUN: lamina opt %s -p fuse | filecheck %s --check-prefix=PLAIN

// MobileNetV2's downsampling block: 1x1 + relu, then depthwise with stride 2 + relu: one group.
// CHECK-LABEL: func.func @block(
// CHECK:         %a = nn.fused %x, %wp, %wd attributes {sources = ["pw", "pw_relu", "dw", "dw_relu"]}
// CHECK:           %p = nn.conv2d %x_1, %wp_1 :
// CHECK-NEXT:      %c = nn.relu %p
// CHECK-NEXT:      %d = nn.conv2d %c, %wd_1 attributes {group = 16 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>}
// CHECK-NEXT:      %a_1 = nn.relu %d
// CHECK-NEXT:      nn.yield %a_1
// CHECK-NOT:     nn.fused
// CHECK:         return %a
// PLAIN-LABEL: func.func @block(
// PLAIN:         %c = nn.fused %x, %wp
// PLAIN:         %a = nn.fused %c, %wd
func.func @block(%x: tensor<1x8x4x4xf32>) -> tensor<1x16x2x2xf32> {
  %wp = nn.constant attributes {value = dense<2.500000e-01> : tensor<16x8x1x1xf32>} : () -> tensor<16x8x1x1xf32>
  %wd = nn.constant attributes {value = dense<5.000000e-01> : tensor<16x1x3x3xf32>} : () -> tensor<16x1x3x3xf32>
  %p = nn.conv2d %x, %wp : (tensor<1x8x4x4xf32>, tensor<16x8x1x1xf32>) -> tensor<1x16x4x4xf32> loc("pw")
  %c = nn.relu %p : (tensor<1x16x4x4xf32>) -> tensor<1x16x4x4xf32> loc("pw_relu")
  %d = nn.conv2d %c, %wd attributes {group = 16 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x16x4x4xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x2x2xf32> loc("dw")
  %a = nn.relu %d : (tensor<1x16x2x2xf32>) -> tensor<1x16x2x2xf32> loc("dw_relu")
  func.return %a : tensor<1x16x2x2xf32>
}

// Channels that are not whole vectors (12): two kernels.
// CHECK-LABEL: func.func @part_vector(
// CHECK:         %c = nn.fused %x, %wp
// CHECK:         %d = nn.conv2d %c, %wd
func.func @part_vector(%x: tensor<1x8x4x4xf32>) -> tensor<1x12x2x2xf32> {
  %wp = nn.constant attributes {value = dense<2.500000e-01> : tensor<12x8x1x1xf32>} : () -> tensor<12x8x1x1xf32>
  %wd = nn.constant attributes {value = dense<5.000000e-01> : tensor<12x1x3x3xf32>} : () -> tensor<12x1x3x3xf32>
  %p = nn.conv2d %x, %wp : (tensor<1x8x4x4xf32>, tensor<12x8x1x1xf32>) -> tensor<1x12x4x4xf32>
  %c = nn.relu %p : (tensor<1x12x4x4xf32>) -> tensor<1x12x4x4xf32>
  %d = nn.conv2d %c, %wd attributes {group = 12 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x12x4x4xf32>, tensor<12x1x3x3xf32>) -> tensor<1x12x2x2xf32>
  func.return %d : tensor<1x12x2x2xf32>
}

// A depthwise conv with stride 1 is not the producer's: it goes into the 1x1 conv after it
// (fuse{depthwise-pointwise=true}), and here stays its own group.
// CHECK-LABEL: func.func @stride_one(
// CHECK:         %c = nn.fused %x, %wp
// CHECK:         %d = nn.conv2d %c, %wd
func.func @stride_one(%x: tensor<1x8x4x4xf32>) -> tensor<1x16x4x4xf32> {
  %wp = nn.constant attributes {value = dense<2.500000e-01> : tensor<16x8x1x1xf32>} : () -> tensor<16x8x1x1xf32>
  %wd = nn.constant attributes {value = dense<5.000000e-01> : tensor<16x1x3x3xf32>} : () -> tensor<16x1x3x3xf32>
  %p = nn.conv2d %x, %wp : (tensor<1x8x4x4xf32>, tensor<16x8x1x1xf32>) -> tensor<1x16x4x4xf32>
  %c = nn.relu %p : (tensor<1x16x4x4xf32>) -> tensor<1x16x4x4xf32>
  %d = nn.conv2d %c, %wd attributes {group = 16 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x4x4xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x4x4xf32>
  func.return %d : tensor<1x16x4x4xf32>
}

// The 1x1 result read by another op too: it must go to memory, so two kernels.
// CHECK-LABEL: func.func @shared(
// CHECK:         %c = nn.fused %x, %wp
// CHECK:         %d = nn.conv2d %c, %wd
func.func @shared(%x: tensor<1x8x4x4xf32>) -> (tensor<1x16x2x2xf32>, tensor<1x16x4x4xf32>) {
  %wp = nn.constant attributes {value = dense<2.500000e-01> : tensor<16x8x1x1xf32>} : () -> tensor<16x8x1x1xf32>
  %wd = nn.constant attributes {value = dense<5.000000e-01> : tensor<16x1x3x3xf32>} : () -> tensor<16x1x3x3xf32>
  %p = nn.conv2d %x, %wp : (tensor<1x8x4x4xf32>, tensor<16x8x1x1xf32>) -> tensor<1x16x4x4xf32>
  %c = nn.relu %p : (tensor<1x16x4x4xf32>) -> tensor<1x16x4x4xf32>
  %d = nn.conv2d %c, %wd attributes {group = 16 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x16x4x4xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x2x2xf32>
  func.return %d, %c : tensor<1x16x2x2xf32>, tensor<1x16x4x4xf32>
}

// With depthwise-pointwise too, a 1x1 conv goes into a stride-1 depthwise conv group fused with
// its 1x1 consumer (14 rows or more): MobileNetV2's whole inverted residual block, one group.
// RUN: lamina opt %s -p 'fuse{depthwise-pointwise=true pointwise-depthwise=true}' | filecheck %s --check-prefix=BOTH
// BOTH-LABEL: func.func @inverted_residual(
// BOTH:         %s = nn.fused %x, %wp, %wd, %wj attributes {sources = ["expand", "expand_relu", "dw", "dw_relu", "project", "residual"]}
// BOTH:           %p = nn.conv2d %x_1, %wp_1 :
// BOTH-NEXT:      %c = nn.relu %p
// BOTH-NEXT:      %d = nn.conv2d %c, %wd_1 attributes {group = 16 : i64, pads = array<i64: 1, 1, 1, 1>}
// BOTH-NEXT:      %a = nn.relu %d
// BOTH-NEXT:      %j = nn.conv2d %a, %wj_1 :
// BOTH-NEXT:      %s_1 = nn.add %j, %x_1
// BOTH-NEXT:      nn.yield %s_1
// BOTH-NOT:      nn.fused
// BOTH:          return %s
// Without it, the three convs stay three groups (the stride-1 depthwise conv alone here).
// CHECK-LABEL: func.func @inverted_residual(
// CHECK:         %c = nn.fused %x, %wp
// CHECK:         %a = nn.fused %c, %wd
// CHECK:         %s = nn.fused %a, %wj, %x
func.func @inverted_residual(%x: tensor<1x8x14x14xf32>) -> tensor<1x8x14x14xf32> {
  %wp = nn.constant attributes {value = dense<2.500000e-01> : tensor<16x8x1x1xf32>} : () -> tensor<16x8x1x1xf32>
  %wd = nn.constant attributes {value = dense<5.000000e-01> : tensor<16x1x3x3xf32>} : () -> tensor<16x1x3x3xf32>
  %wj = nn.constant attributes {value = dense<1.250000e-01> : tensor<8x16x1x1xf32>} : () -> tensor<8x16x1x1xf32>
  %p = nn.conv2d %x, %wp : (tensor<1x8x14x14xf32>, tensor<16x8x1x1xf32>) -> tensor<1x16x14x14xf32> loc("expand")
  %c = nn.relu %p : (tensor<1x16x14x14xf32>) -> tensor<1x16x14x14xf32> loc("expand_relu")
  %d = nn.conv2d %c, %wd attributes {group = 16 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x14x14xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x14x14xf32> loc("dw")
  %a = nn.relu %d : (tensor<1x16x14x14xf32>) -> tensor<1x16x14x14xf32> loc("dw_relu")
  %j = nn.conv2d %a, %wj : (tensor<1x16x14x14xf32>, tensor<8x16x1x1xf32>) -> tensor<1x8x14x14xf32> loc("project")
  %s = nn.add %j, %x : (tensor<1x8x14x14xf32>, tensor<1x8x14x14xf32>) -> tensor<1x8x14x14xf32> loc("residual")
  func.return %s : tensor<1x8x14x14xf32>
}
