// fuse{concat-pointwise=true}: the CPU's -O3 fusion (compiler/passes/fuse.py) also puts conv
// branches of one input (each with its epilogue) and their concat into the group of the 1x1 conv
// that reads the concat, one kernel (schedules/fused_conv.py), where every branch's channels are
// whole 16-lane vectors and there are 14 rows or more. Plain `fuse` keeps the branches' groups,
// the concat (free: its producers write their slices of it) and the 1x1 conv's group.
// RUN: lamina opt %s -p 'fuse{concat-pointwise=true}' | filecheck %s
// RUN: lamina opt %s -p fuse | filecheck %s --check-prefix=PLAIN

// SqueezeNet's fire module (1x1 and 3x3 branches, relu, concat) and the next squeeze: one group.
// CHECK-LABEL: func.func @fire(
// CHECK:         %a = nn.fused %x, %w1, %w3, %ws attributes {sources = ["expand1x1", "expand1x1_relu", "expand3x3", "expand3x3_relu", "cat", "squeeze", "squeeze_relu"]}
// CHECK:           %p = nn.conv2d %x_1, %w1_1 :
// CHECK-NEXT:      %pr = nn.relu %p
// CHECK-NEXT:      %q = nn.conv2d %x_1, %w3_1 attributes {pads = array<i64: 1, 1, 1, 1>}
// CHECK-NEXT:      %qr = nn.relu %q
// CHECK-NEXT:      %j = nn.concat %pr, %qr attributes {axis = 1 : i64}
// CHECK-NEXT:      %s = nn.conv2d %j, %ws_1
// CHECK-NEXT:      %a_1 = nn.relu %s
// CHECK-NEXT:      nn.yield %a_1
// CHECK-NOT:     nn.fused
// CHECK:         return %a
// PLAIN-LABEL: func.func @fire(
// PLAIN:         %pr = nn.fused %x, %w1
// PLAIN:         %qr = nn.fused %x, %w3
// PLAIN:         %j = nn.concat %pr, %qr
// PLAIN:         %a = nn.fused %j, %ws
func.func @fire(%x: tensor<1x8x14x14xf32>) -> tensor<1x8x14x14xf32> {
  %w1 = nn.constant attributes {value = dense<2.500000e-01> : tensor<16x8x1x1xf32>} : () -> tensor<16x8x1x1xf32>
  %w3 = nn.constant attributes {value = dense<1.250000e-01> : tensor<16x8x3x3xf32>} : () -> tensor<16x8x3x3xf32>
  %ws = nn.constant attributes {value = dense<5.000000e-01> : tensor<8x32x1x1xf32>} : () -> tensor<8x32x1x1xf32>
  %p = nn.conv2d %x, %w1 : (tensor<1x8x14x14xf32>, tensor<16x8x1x1xf32>) -> tensor<1x16x14x14xf32> loc("expand1x1")
  %pr = nn.relu %p : (tensor<1x16x14x14xf32>) -> tensor<1x16x14x14xf32> loc("expand1x1_relu")
  %q = nn.conv2d %x, %w3 attributes {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x14x14xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x14x14xf32> loc("expand3x3")
  %qr = nn.relu %q : (tensor<1x16x14x14xf32>) -> tensor<1x16x14x14xf32> loc("expand3x3_relu")
  %j = nn.concat %pr, %qr attributes {axis = 1 : i64} : (tensor<1x16x14x14xf32>, tensor<1x16x14x14xf32>) -> tensor<1x32x14x14xf32> loc("cat")
  %s = nn.conv2d %j, %ws : (tensor<1x32x14x14xf32>, tensor<8x32x1x1xf32>) -> tensor<1x8x14x14xf32> loc("squeeze")
  %a = nn.relu %s : (tensor<1x8x14x14xf32>) -> tensor<1x8x14x14xf32> loc("squeeze_relu")
  func.return %a : tensor<1x8x14x14xf32>
}

// 13 rows, fewer than 14: the groups of plain `fuse`.
// CHECK-LABEL: func.func @short(
// CHECK:         %pr = nn.fused %x, %w1
// CHECK:         %qr = nn.fused %x, %w3
// CHECK:         %j = nn.concat %pr, %qr
// CHECK:         %a = nn.fused %j, %ws
func.func @short(%x: tensor<1x8x13x14xf32>) -> tensor<1x8x13x14xf32> {
  %w1 = nn.constant attributes {value = dense<2.500000e-01> : tensor<16x8x1x1xf32>} : () -> tensor<16x8x1x1xf32>
  %w3 = nn.constant attributes {value = dense<1.250000e-01> : tensor<16x8x3x3xf32>} : () -> tensor<16x8x3x3xf32>
  %ws = nn.constant attributes {value = dense<5.000000e-01> : tensor<8x32x1x1xf32>} : () -> tensor<8x32x1x1xf32>
  %p = nn.conv2d %x, %w1 : (tensor<1x8x13x14xf32>, tensor<16x8x1x1xf32>) -> tensor<1x16x13x14xf32> loc("expand1x1")
  %pr = nn.relu %p : (tensor<1x16x13x14xf32>) -> tensor<1x16x13x14xf32> loc("expand1x1_relu")
  %q = nn.conv2d %x, %w3 attributes {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x13x14xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x13x14xf32> loc("expand3x3")
  %qr = nn.relu %q : (tensor<1x16x13x14xf32>) -> tensor<1x16x13x14xf32> loc("expand3x3_relu")
  %j = nn.concat %pr, %qr attributes {axis = 1 : i64} : (tensor<1x16x13x14xf32>, tensor<1x16x13x14xf32>) -> tensor<1x32x13x14xf32> loc("cat")
  %s = nn.conv2d %j, %ws : (tensor<1x32x13x14xf32>, tensor<8x32x1x1xf32>) -> tensor<1x8x13x14xf32> loc("squeeze")
  %a = nn.relu %s : (tensor<1x8x13x14xf32>) -> tensor<1x8x13x14xf32> loc("squeeze_relu")
  func.return %a : tensor<1x8x13x14xf32>
}

// A branch of 12 channels (not whole vectors): the groups of plain `fuse`.
// CHECK-LABEL: func.func @part_vector(
// CHECK:         %qr = nn.fused %x, %w3
// CHECK:         %j = nn.concat %pr, %qr
// CHECK:         %a = nn.fused %j, %ws
func.func @part_vector(%x: tensor<1x8x14x14xf32>) -> tensor<1x8x14x14xf32> {
  %w1 = nn.constant attributes {value = dense<2.500000e-01> : tensor<16x8x1x1xf32>} : () -> tensor<16x8x1x1xf32>
  %w3 = nn.constant attributes {value = dense<1.250000e-01> : tensor<12x8x3x3xf32>} : () -> tensor<12x8x3x3xf32>
  %ws = nn.constant attributes {value = dense<5.000000e-01> : tensor<8x28x1x1xf32>} : () -> tensor<8x28x1x1xf32>
  %p = nn.conv2d %x, %w1 : (tensor<1x8x14x14xf32>, tensor<16x8x1x1xf32>) -> tensor<1x16x14x14xf32> loc("expand1x1")
  %pr = nn.relu %p : (tensor<1x16x14x14xf32>) -> tensor<1x16x14x14xf32> loc("expand1x1_relu")
  %q = nn.conv2d %x, %w3 attributes {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x14x14xf32>, tensor<12x8x3x3xf32>) -> tensor<1x12x14x14xf32> loc("expand3x3")
  %qr = nn.relu %q : (tensor<1x12x14x14xf32>) -> tensor<1x12x14x14xf32> loc("expand3x3_relu")
  %j = nn.concat %pr, %qr attributes {axis = 1 : i64} : (tensor<1x16x14x14xf32>, tensor<1x12x14x14xf32>) -> tensor<1x28x14x14xf32> loc("cat")
  %s = nn.conv2d %j, %ws : (tensor<1x28x14x14xf32>, tensor<8x28x1x1xf32>) -> tensor<1x8x14x14xf32> loc("squeeze")
  %a = nn.relu %s : (tensor<1x8x14x14xf32>) -> tensor<1x8x14x14xf32> loc("squeeze_relu")
  func.return %a : tensor<1x8x14x14xf32>
}

// The concat read by another user too (here returned): it must go to memory.
// CHECK-LABEL: func.func @shared(
// CHECK:         %j = nn.concat %pr, %qr
// CHECK:         %a = nn.fused %j, %ws
func.func @shared(%x: tensor<1x8x14x14xf32>) -> (tensor<1x8x14x14xf32>, tensor<1x32x14x14xf32>) {
  %w1 = nn.constant attributes {value = dense<2.500000e-01> : tensor<16x8x1x1xf32>} : () -> tensor<16x8x1x1xf32>
  %w3 = nn.constant attributes {value = dense<1.250000e-01> : tensor<16x8x3x3xf32>} : () -> tensor<16x8x3x3xf32>
  %ws = nn.constant attributes {value = dense<5.000000e-01> : tensor<8x32x1x1xf32>} : () -> tensor<8x32x1x1xf32>
  %p = nn.conv2d %x, %w1 : (tensor<1x8x14x14xf32>, tensor<16x8x1x1xf32>) -> tensor<1x16x14x14xf32> loc("expand1x1")
  %pr = nn.relu %p : (tensor<1x16x14x14xf32>) -> tensor<1x16x14x14xf32> loc("expand1x1_relu")
  %q = nn.conv2d %x, %w3 attributes {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x14x14xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x14x14xf32> loc("expand3x3")
  %qr = nn.relu %q : (tensor<1x16x14x14xf32>) -> tensor<1x16x14x14xf32> loc("expand3x3_relu")
  %j = nn.concat %pr, %qr attributes {axis = 1 : i64} : (tensor<1x16x14x14xf32>, tensor<1x16x14x14xf32>) -> tensor<1x32x14x14xf32> loc("cat")
  %s = nn.conv2d %j, %ws : (tensor<1x32x14x14xf32>, tensor<8x32x1x1xf32>) -> tensor<1x8x14x14xf32> loc("squeeze")
  %a = nn.relu %s : (tensor<1x8x14x14xf32>) -> tensor<1x8x14x14xf32> loc("squeeze_relu")
  func.return %a, %j : tensor<1x8x14x14xf32>, tensor<1x32x14x14xf32>
}

// Branches of two inputs: not one module's.
// CHECK-LABEL: func.func @two_inputs(
// CHECK:         %qr = nn.fused %z, %w3
// CHECK:         %j = nn.concat %pr, %qr
// CHECK:         %a = nn.fused %j, %ws
func.func @two_inputs(%x: tensor<1x8x14x14xf32>, %z: tensor<1x8x14x14xf32>) -> tensor<1x8x14x14xf32> {
  %w1 = nn.constant attributes {value = dense<2.500000e-01> : tensor<16x8x1x1xf32>} : () -> tensor<16x8x1x1xf32>
  %w3 = nn.constant attributes {value = dense<1.250000e-01> : tensor<16x8x3x3xf32>} : () -> tensor<16x8x3x3xf32>
  %ws = nn.constant attributes {value = dense<5.000000e-01> : tensor<8x32x1x1xf32>} : () -> tensor<8x32x1x1xf32>
  %p = nn.conv2d %x, %w1 : (tensor<1x8x14x14xf32>, tensor<16x8x1x1xf32>) -> tensor<1x16x14x14xf32> loc("expand1x1")
  %pr = nn.relu %p : (tensor<1x16x14x14xf32>) -> tensor<1x16x14x14xf32> loc("expand1x1_relu")
  %q = nn.conv2d %z, %w3 attributes {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x14x14xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x14x14xf32> loc("expand3x3")
  %qr = nn.relu %q : (tensor<1x16x14x14xf32>) -> tensor<1x16x14x14xf32> loc("expand3x3_relu")
  %j = nn.concat %pr, %qr attributes {axis = 1 : i64} : (tensor<1x16x14x14xf32>, tensor<1x16x14x14xf32>) -> tensor<1x32x14x14xf32> loc("cat")
  %s = nn.conv2d %j, %ws : (tensor<1x32x14x14xf32>, tensor<8x32x1x1xf32>) -> tensor<1x8x14x14xf32> loc("squeeze")
  %a = nn.relu %s : (tensor<1x8x14x14xf32>) -> tensor<1x8x14x14xf32> loc("squeeze_relu")
  func.return %a : tensor<1x8x14x14xf32>
}
