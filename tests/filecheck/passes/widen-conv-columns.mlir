// widen-conv-columns: a conv with a short reduction whose output rows are not whole vectors is
// computed with its rows padded to whole vectors (the CPU's column block), and the next kernel
// reads them through a slice (compiler/passes/widen_columns.py). lanes=4 keeps the shapes small.
// RUN: lamina opt %s -p "widen-conv-columns{lanes=4}" | filecheck %s

// A stem (27 multiply-adds per output, 19 columns: 4 whole 4-lane vectors and 3 columns): the
// right padding grows by a stride per column added, the bias add and relu widen with it (their
// other operand is the same along the columns), and the pool reads the 19 columns through a slice.
// CHECK-LABEL: func.func @stem_relu_pool(%x: tensor<1x3x40x40xf32>) -> tensor<1x8x9x9xf32> {
// CHECK-NEXT:    %w = nn.constant attributes {value = dense<5.000000e-01> : tensor<8x3x3x3xf32>} : () -> tensor<8x3x3x3xf32>
// CHECK-NEXT:    %b = nn.constant attributes {value = dense<2.500000e-01> : tensor<1x8x1x1xf32>} : () -> tensor<1x8x1x1xf32>
// CHECK-NEXT:    %c = nn.conv2d %x, %w attributes {pads = array<i64: 0, 0, 0, 2>, strides = array<i64: 2, 2>} : (tensor<1x3x40x40xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x19x20xf32> loc("conv")
// CHECK-NEXT:    %a = nn.add %c, %b : (tensor<1x8x19x20xf32>, tensor<1x8x1x1xf32>) -> tensor<1x8x19x20xf32> loc("bias")
// CHECK-NEXT:    %r = nn.relu %a : (tensor<1x8x19x20xf32>) -> tensor<1x8x19x20xf32> loc("relu")
// CHECK-NEXT:    %r_cols = nn.slice %r attributes {axes = array<i64: 3>, ends = array<i64: 19>, starts = array<i64: 0>, steps = array<i64: 1>} : (tensor<1x8x19x20xf32>) -> tensor<1x8x19x19xf32> loc("conv")
// CHECK-NEXT:    %p = nn.max_pool2d %r_cols attributes {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>} : (tensor<1x8x19x19xf32>) -> tensor<1x8x9x9xf32> loc("pool")
// CHECK-NEXT:    return %p : tensor<1x8x9x9xf32>
// CHECK-NEXT:  }
func.func @stem_relu_pool(%x: tensor<1x3x40x40xf32>) -> tensor<1x8x9x9xf32> {
  %w = nn.constant attributes {value = dense<5.000000e-01> : tensor<8x3x3x3xf32>} : () -> tensor<8x3x3x3xf32>
  %b = nn.constant attributes {value = dense<2.500000e-01> : tensor<1x8x1x1xf32>} : () -> tensor<1x8x1x1xf32>
  %c = nn.conv2d %x, %w attributes {strides = array<i64: 2, 2>} : (tensor<1x3x40x40xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x19x19xf32> loc("conv")
  %a = nn.add %c, %b : (tensor<1x8x19x19xf32>, tensor<1x8x1x1xf32>) -> tensor<1x8x19x19xf32> loc("bias")
  %r = nn.relu %a : (tensor<1x8x19x19xf32>) -> tensor<1x8x19x19xf32> loc("relu")
  %p = nn.max_pool2d %r attributes {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>} : (tensor<1x8x19x19xf32>) -> tensor<1x8x9x9xf32> loc("pool")
  func.return %p : tensor<1x8x9x9xf32>
}

// A 1x1 conv over 6 channels, clipped, read by a depthwise conv: the slice is the depthwise
// conv's data operand (fusion makes it the conv's prologue).
// CHECK-LABEL: func.func @pointwise_clip_depthwise(%x: tensor<1x6x11x11xf32>, %w: tensor<12x6x1x1xf32>, %d: tensor<12x1x3x3xf32>) -> tensor<1x12x11x11xf32> {
// CHECK-NEXT:    %c = nn.conv2d %x, %w attributes {pads = array<i64: 0, 0, 0, 1>} : (tensor<1x6x11x11xf32>, tensor<12x6x1x1xf32>) -> tensor<1x12x11x12xf32> loc("expand")
// CHECK-NEXT:    %r = nn.clip %c attributes {max = 6.000000e+00 : f32, min = 0.000000e+00 : f32} : (tensor<1x12x11x12xf32>) -> tensor<1x12x11x12xf32> loc("relu6")
// CHECK-NEXT:    %r_cols = nn.slice %r attributes {axes = array<i64: 3>, ends = array<i64: 11>, starts = array<i64: 0>, steps = array<i64: 1>} : (tensor<1x12x11x12xf32>) -> tensor<1x12x11x11xf32> loc("expand")
// CHECK-NEXT:    %y = nn.conv2d %r_cols, %d attributes {group = 12 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x12x11x11xf32>, tensor<12x1x3x3xf32>) -> tensor<1x12x11x11xf32> loc("depthwise")
// CHECK-NEXT:    return %y : tensor<1x12x11x11xf32>
// CHECK-NEXT:  }
func.func @pointwise_clip_depthwise(%x: tensor<1x6x11x11xf32>, %w: tensor<12x6x1x1xf32>, %d: tensor<12x1x3x3xf32>) -> tensor<1x12x11x11xf32> {
  %c = nn.conv2d %x, %w : (tensor<1x6x11x11xf32>, tensor<12x6x1x1xf32>) -> tensor<1x12x11x11xf32> loc("expand")
  %r = nn.clip %c attributes {min = 0.000000e+00 : f32, max = 6.000000e+00 : f32} : (tensor<1x12x11x11xf32>) -> tensor<1x12x11x11xf32> loc("relu6")
  %y = nn.conv2d %r, %d attributes {group = 12 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x12x11x11xf32>, tensor<12x1x3x3xf32>) -> tensor<1x12x11x11xf32> loc("depthwise")
  func.return %y : tensor<1x12x11x11xf32>
}

// A 1x1 conv read by a depthwise conv with stride 2, 16 channels: not widened. The CPU's fusion
// puts the pair into one kernel (fuse.py `pointwise_depthwise_fits`), which computes only the
// columns the depthwise conv reads, and a slice between them would stop it.
// CHECK-LABEL: func.func @pointwise_strided_depthwise(
// CHECK-NEXT:    %c = nn.conv2d %x, %w : (tensor<1x6x11x11xf32>, tensor<16x6x1x1xf32>) -> tensor<1x16x11x11xf32>
// CHECK-NEXT:    %r = nn.relu %c : (tensor<1x16x11x11xf32>) -> tensor<1x16x11x11xf32>
// CHECK-NEXT:    %y = nn.conv2d %r, %d
func.func @pointwise_strided_depthwise(%x: tensor<1x6x11x11xf32>, %w: tensor<16x6x1x1xf32>, %d: tensor<16x1x3x3xf32>) -> tensor<1x16x6x6xf32> {
  %c = nn.conv2d %x, %w : (tensor<1x6x11x11xf32>, tensor<16x6x1x1xf32>) -> tensor<1x16x11x11xf32>
  %r = nn.relu %c : (tensor<1x16x11x11xf32>) -> tensor<1x16x11x11xf32>
  %y = nn.conv2d %r, %d attributes {group = 16 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x16x11x11xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x6x6xf32>
  func.return %y : tensor<1x16x6x6xf32>
}

// A 1x1 conv read by a stride-1 depthwise conv whose result a 1x1 conv reads, 16 channels, 14
// rows: not widened either. The CPU's fusion puts the three into one kernel (fuse.py
// `expansion_fits`).
// CHECK-LABEL: func.func @inverted_residual(
// CHECK-NEXT:    %c = nn.conv2d %x, %w : (tensor<1x6x14x14xf32>, tensor<16x6x1x1xf32>) -> tensor<1x16x14x14xf32>
func.func @inverted_residual(%x: tensor<1x6x14x14xf32>, %w: tensor<16x6x1x1xf32>, %d: tensor<16x1x3x3xf32>, %p: tensor<6x16x1x1xf32>) -> tensor<1x6x14x14xf32> {
  %c = nn.conv2d %x, %w : (tensor<1x6x14x14xf32>, tensor<16x6x1x1xf32>) -> tensor<1x16x14x14xf32>
  %r = nn.relu %c : (tensor<1x16x14x14xf32>) -> tensor<1x16x14x14xf32>
  %y = nn.conv2d %r, %d attributes {group = 16 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<1x16x14x14xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x14x14xf32>
  %z = nn.conv2d %y, %p : (tensor<1x16x14x14xf32>, tensor<6x16x1x1xf32>) -> tensor<1x6x14x14xf32>
  func.return %z : tensor<1x6x14x14xf32>
}

// Not widened: 32 multiply-adds per output (more than max-reduction, 27), a value the function
// returns, an epilogue with an operand that varies along the columns (a residual), a grouped conv,
// and rows that are whole vectors already.
// CHECK-LABEL: func.func @kept(%x: tensor<1x8x11x11xf32>, %w: tensor<4x8x2x2xf32>, %v: tensor<4x2x1x1xf32>, %g: tensor<4x2x1x1xf32>, %s: tensor<1x4x11x11xf32>) -> (tensor<1x4x11x11xf32>, tensor<1x4x11x11xf32>, tensor<1x4x11x11xf32>, tensor<1x4x11x11xf32>, tensor<1x4x12x12xf32>) {
// CHECK-NEXT:    %long = nn.conv2d %x, %w attributes {pads = array<i64: 0, 0, 1, 1>} : (tensor<1x8x11x11xf32>, tensor<4x8x2x2xf32>) -> tensor<1x4x11x11xf32> loc("long_reduction")
// CHECK-NEXT:    %p = nn.max_pool2d %long attributes {kernel_shape = array<i64: 1, 1>} : (tensor<1x4x11x11xf32>) -> tensor<1x4x11x11xf32>
// CHECK-NEXT:    %xs = nn.slice %x attributes {axes = array<i64: 1>, ends = array<i64: 2>, starts = array<i64: 0>, steps = array<i64: 1>} : (tensor<1x8x11x11xf32>) -> tensor<1x2x11x11xf32>
// CHECK-NEXT:    %returned = nn.conv2d %xs, %v : (tensor<1x2x11x11xf32>, tensor<4x2x1x1xf32>) -> tensor<1x4x11x11xf32> loc("returned")
// CHECK-NEXT:    %residual = nn.conv2d %xs, %v : (tensor<1x2x11x11xf32>, tensor<4x2x1x1xf32>) -> tensor<1x4x11x11xf32> loc("residual")
// CHECK-NEXT:    %sum = nn.add %residual, %s : (tensor<1x4x11x11xf32>, tensor<1x4x11x11xf32>) -> tensor<1x4x11x11xf32>
// CHECK-NEXT:    %q = nn.max_pool2d %sum attributes {kernel_shape = array<i64: 1, 1>} : (tensor<1x4x11x11xf32>) -> tensor<1x4x11x11xf32>
// CHECK-NEXT:    %grouped = nn.conv2d %x, %g attributes {group = 4 : i64} : (tensor<1x8x11x11xf32>, tensor<4x2x1x1xf32>) -> tensor<1x4x11x11xf32> loc("grouped")
// CHECK-NEXT:    %t = nn.relu %grouped : (tensor<1x4x11x11xf32>) -> tensor<1x4x11x11xf32>
// CHECK-NEXT:    %u = nn.max_pool2d %t attributes {kernel_shape = array<i64: 1, 1>} : (tensor<1x4x11x11xf32>) -> tensor<1x4x11x11xf32>
// CHECK-NEXT:    %whole = nn.conv2d %xs, %v attributes {pads = array<i64: 1, 1, 0, 0>} : (tensor<1x2x11x11xf32>, tensor<4x2x1x1xf32>) -> tensor<1x4x12x12xf32> loc("whole_vectors")
// CHECK-NEXT:    %z = nn.max_pool2d %whole attributes {kernel_shape = array<i64: 1, 1>} : (tensor<1x4x12x12xf32>) -> tensor<1x4x12x12xf32>
// CHECK-NEXT:    return %p, %returned, %q, %u, %z : tensor<1x4x11x11xf32>, tensor<1x4x11x11xf32>, tensor<1x4x11x11xf32>, tensor<1x4x11x11xf32>, tensor<1x4x12x12xf32>
// CHECK-NEXT:  }
func.func @kept(%x: tensor<1x8x11x11xf32>, %w: tensor<4x8x2x2xf32>, %v: tensor<4x2x1x1xf32>, %g: tensor<4x2x1x1xf32>, %s: tensor<1x4x11x11xf32>) -> (tensor<1x4x11x11xf32>, tensor<1x4x11x11xf32>, tensor<1x4x11x11xf32>, tensor<1x4x11x11xf32>, tensor<1x4x12x12xf32>) {
  %long = nn.conv2d %x, %w attributes {pads = array<i64: 0, 0, 1, 1>} : (tensor<1x8x11x11xf32>, tensor<4x8x2x2xf32>) -> tensor<1x4x11x11xf32> loc("long_reduction")
  %p = nn.max_pool2d %long attributes {kernel_shape = array<i64: 1, 1>} : (tensor<1x4x11x11xf32>) -> tensor<1x4x11x11xf32>
  %xs = nn.slice %x attributes {axes = array<i64: 1>, ends = array<i64: 2>, starts = array<i64: 0>, steps = array<i64: 1>} : (tensor<1x8x11x11xf32>) -> tensor<1x2x11x11xf32>
  %returned = nn.conv2d %xs, %v : (tensor<1x2x11x11xf32>, tensor<4x2x1x1xf32>) -> tensor<1x4x11x11xf32> loc("returned")
  %residual = nn.conv2d %xs, %v : (tensor<1x2x11x11xf32>, tensor<4x2x1x1xf32>) -> tensor<1x4x11x11xf32> loc("residual")
  %sum = nn.add %residual, %s : (tensor<1x4x11x11xf32>, tensor<1x4x11x11xf32>) -> tensor<1x4x11x11xf32>
  %q = nn.max_pool2d %sum attributes {kernel_shape = array<i64: 1, 1>} : (tensor<1x4x11x11xf32>) -> tensor<1x4x11x11xf32>
  %grouped = nn.conv2d %x, %g attributes {group = 4 : i64} : (tensor<1x8x11x11xf32>, tensor<4x2x1x1xf32>) -> tensor<1x4x11x11xf32> loc("grouped")
  %t = nn.relu %grouped : (tensor<1x4x11x11xf32>) -> tensor<1x4x11x11xf32>
  %u = nn.max_pool2d %t attributes {kernel_shape = array<i64: 1, 1>} : (tensor<1x4x11x11xf32>) -> tensor<1x4x11x11xf32>
  %whole = nn.conv2d %xs, %v attributes {pads = array<i64: 1, 1, 0, 0>} : (tensor<1x2x11x11xf32>, tensor<4x2x1x1xf32>) -> tensor<1x4x12x12xf32> loc("whole_vectors")
  %z = nn.max_pool2d %whole attributes {kernel_shape = array<i64: 1, 1>} : (tensor<1x4x12x12xf32>) -> tensor<1x4x12x12xf32>
  func.return %p, %returned, %q, %u, %z : tensor<1x4x11x11xf32>, tensor<1x4x11x11xf32>, tensor<1x4x11x11xf32>, tensor<1x4x11x11xf32>, tensor<1x4x12x12xf32>
}
