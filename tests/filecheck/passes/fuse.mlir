// fuse: nn ops grouped into kernels (compiler/passes/fuse.py), as TVM's FuseOps groups them: an
// anchor (conv2d, matmul, gemm) with its elementwise epilogue, chains of elementwise and injective
// ops, a reduction with its producers. Each group is an nn.fused op, isolated from above.
// RUN: lamina opt %s -p fuse | filecheck %s

// conv2d + bias add + relu -> one group: the anchor and its epilogue; the weight and the bias
// (constants) are operands of the group, and `sources` names the ops' source nodes.
// CHECK-LABEL: func.func @conv_bias_relu(%x: tensor<1x3x8x8xf32>) -> tensor<1x4x8x8xf32> {
// CHECK-NEXT:    %w = nn.constant attributes {value = dense<5.000000e-01> : tensor<4x3x3x3xf32>} : () -> tensor<4x3x3x3xf32>
// CHECK-NEXT:    %b = nn.constant attributes {value = dense<2.500000e-01> : tensor<1x4x1x1xf32>} : () -> tensor<1x4x1x1xf32>
// CHECK-NEXT:    %r = nn.fused %x, %w, %b attributes {sources = ["conv", "bias", "relu"]} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32> {
// CHECK-NEXT:    ^bb0(%x_1: tensor<1x3x8x8xf32>, %w_1: tensor<4x3x3x3xf32>, %b_1: tensor<1x4x1x1xf32>):
// CHECK-NEXT:      %c = nn.conv2d %x_1, %w_1 attributes {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32> loc("conv")
// CHECK-NEXT:      %a = nn.add %c, %b_1 : (tensor<1x4x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32> loc("bias")
// CHECK-NEXT:      %r_1 = nn.relu %a : (tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> loc("relu")
// CHECK-NEXT:      nn.yield %r_1 : tensor<1x4x8x8xf32>
// CHECK-NEXT:    } loc("relu")
// CHECK-NEXT:    return %r : tensor<1x4x8x8xf32>
// CHECK-NEXT:  }
func.func @conv_bias_relu(%x: tensor<1x3x8x8xf32>) -> tensor<1x4x8x8xf32> {
  %w = nn.constant attributes {value = dense<5.000000e-01> : tensor<4x3x3x3xf32>} : () -> tensor<4x3x3x3xf32>
  %b = nn.constant attributes {value = dense<2.500000e-01> : tensor<1x4x1x1xf32>} : () -> tensor<1x4x1x1xf32>
  %c = nn.conv2d %x, %w attributes {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32> loc("conv")
  %a = nn.add %c, %b : (tensor<1x4x8x8xf32>, tensor<1x4x1x1xf32>) -> tensor<1x4x8x8xf32> loc("bias")
  %r = nn.relu %a : (tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> loc("relu")
  func.return %r : tensor<1x4x8x8xf32>
}

// A ResNet block's end: conv2d + batch_norm + residual add + relu -> one group; the residual
// (%x, also read by the conv) comes in as one operand.
// CHECK-LABEL: func.func @conv_bn_residual_relu(%x: tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32> {
// CHECK-NEXT:    %w = nn.constant attributes {value = dense<1.250000e-01> : tensor<4x4x3x3xf32>} : () -> tensor<4x4x3x3xf32>
// CHECK-NEXT:    %s = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>} : () -> tensor<4xf32>
// CHECK-NEXT:    %m = nn.constant attributes {value = dense<5.000000e-01> : tensor<4xf32>} : () -> tensor<4xf32>
// CHECK-NEXT:    %r = nn.fused %x, %w, %s, %m attributes {sources = ["conv2", "bn2", "residual", "relu2"]} : (tensor<1x4x6x6xf32>, tensor<4x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32> {
// CHECK-NEXT:    ^bb0(%x_1: tensor<1x4x6x6xf32>, %w_1: tensor<4x4x3x3xf32>, %s_1: tensor<4xf32>, %m_1: tensor<4xf32>):
// CHECK-NEXT:      %c = nn.conv2d %x_1, %w_1 attributes {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x4x6x6xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x6x6xf32> loc("conv2")
// CHECK-NEXT:      %n = nn.batch_norm %c, %s_1, %m_1, %m_1, %s_1 : (tensor<1x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32> loc("bn2")
// CHECK-NEXT:      %a = nn.add %n, %x_1 : (tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32> loc("residual")
// CHECK-NEXT:      %r_1 = nn.relu %a : (tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32> loc("relu2")
// CHECK-NEXT:      nn.yield %r_1 : tensor<1x4x6x6xf32>
// CHECK-NEXT:    } loc("relu2")
// CHECK-NEXT:    return %r : tensor<1x4x6x6xf32>
// CHECK-NEXT:  }
func.func @conv_bn_residual_relu(%x: tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32> {
  %w = nn.constant attributes {value = dense<1.250000e-01> : tensor<4x4x3x3xf32>} : () -> tensor<4x4x3x3xf32>
  %s = nn.constant attributes {value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>} : () -> tensor<4xf32>
  %m = nn.constant attributes {value = dense<0.5> : tensor<4xf32>} : () -> tensor<4xf32>
  %c = nn.conv2d %x, %w attributes {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x4x6x6xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x6x6xf32> loc("conv2")
  %n = nn.batch_norm %c, %s, %m, %m, %s : (tensor<1x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32> loc("bn2")
  %a = nn.add %n, %x : (tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32> loc("residual")
  %r = nn.relu %a : (tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32> loc("relu2")
  func.return %r : tensor<1x4x6x6xf32>
}

// A value used outside a group ends it: %r is returned and read by nn.neg, so the group stops at
// %r and the neg stays alone; %c is read by nn.sigmoid and nn.mul, which both join the second group
// (a diamond inside one group is fine).
// CHECK-LABEL: func.func @used_twice(%x: tensor<2x8xf32>, %y: tensor<8x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>) {
// CHECK-NEXT:    %r = nn.fused %x, %y : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32> {
// CHECK-NEXT:    ^bb0(%x_1: tensor<2x8xf32>, %y_1: tensor<8x8xf32>):
// CHECK-NEXT:      %c = nn.matmul %x_1, %y_1 : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:      %r_1 = nn.relu %c : (tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:      nn.yield %r_1 : tensor<2x8xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    %n = nn.neg %r : (tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:    %m = nn.fused %r, %y : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32> {
// CHECK-NEXT:    ^bb0(%r_1: tensor<2x8xf32>, %y_1: tensor<8x8xf32>):
// CHECK-NEXT:      %d = nn.matmul %r_1, %y_1 : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:      %s = nn.sigmoid %d : (tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:      %m_1 = nn.mul %d, %s : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:      nn.yield %m_1 : tensor<2x8xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    return %r, %n, %m : tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>
// CHECK-NEXT:  }
func.func @used_twice(%x: tensor<2x8xf32>, %y: tensor<8x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>) {
  %c = nn.matmul %x, %y : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  %r = nn.relu %c : (tensor<2x8xf32>) -> tensor<2x8xf32>
  %n = nn.neg %r : (tensor<2x8xf32>) -> tensor<2x8xf32>
  %d = nn.matmul %r, %y : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  %s = nn.sigmoid %d : (tensor<2x8xf32>) -> tensor<2x8xf32>
  %m = nn.mul %d, %s : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  func.return %r, %n, %m : tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>
}

// Constants, and ops on constants only, stay outside (the executor evaluates them once, at
// compile time): exp(x) * (c + c) -> a group of exp and mul reading %s.
// CHECK-LABEL: func.func @constants_outside(%x: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    %c = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>} : () -> tensor<4xf32>
// CHECK-NEXT:    %s = nn.add %c, %c : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    %m = nn.fused %x, %s : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    ^bb0(%x_1: tensor<4xf32>, %s_1: tensor<4xf32>):
// CHECK-NEXT:      %e = nn.exp %x_1 : (tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:      %m_1 = nn.mul %e, %s_1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:      nn.yield %m_1 : tensor<4xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    return %m : tensor<4xf32>
// CHECK-NEXT:  }
func.func @constants_outside(%x: tensor<4xf32>) -> tensor<4xf32> {
  %c = nn.constant attributes {value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>} : () -> tensor<4xf32>
  %s = nn.add %c, %c : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %e = nn.exp %x : (tensor<4xf32>) -> tensor<4xf32>
  %m = nn.mul %e, %s : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %m : tensor<4xf32>
}

// A reduction takes its elementwise and injective producers (transpose, exp) but nothing after
// it: the relu of the sum is a kernel of its own.
// CHECK-LABEL: func.func @reduction_with_producers(%x: tensor<2x3x4xf32>) -> tensor<4x2xf32> {
// CHECK-NEXT:    %s = nn.fused %x : (tensor<2x3x4xf32>) -> tensor<4x2xf32> {
// CHECK-NEXT:    ^bb0(%x_1: tensor<2x3x4xf32>):
// CHECK-NEXT:      %t = nn.transpose %x_1 attributes {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
// CHECK-NEXT:      %e = nn.exp %t : (tensor<4x2x3xf32>) -> tensor<4x2x3xf32>
// CHECK-NEXT:      %s_1 = nn.reduce_sum %e attributes {axes = array<i64: 2>, keepdims = 0 : i64} : (tensor<4x2x3xf32>) -> tensor<4x2xf32>
// CHECK-NEXT:      nn.yield %s_1 : tensor<4x2xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    %r = nn.relu %s : (tensor<4x2xf32>) -> tensor<4x2xf32>
// CHECK-NEXT:    return %r : tensor<4x2xf32>
// CHECK-NEXT:  }
func.func @reduction_with_producers(%x: tensor<2x3x4xf32>) -> tensor<4x2xf32> {
  %t = nn.transpose %x attributes {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %e = nn.exp %t : (tensor<4x2x3xf32>) -> tensor<4x2x3xf32>
  %s = nn.reduce_sum %e attributes {axes = array<i64: 2>, keepdims = 0 : i64} : (tensor<4x2x3xf32>) -> tensor<4x2xf32>
  %r = nn.relu %s : (tensor<4x2xf32>) -> tensor<4x2xf32>
  func.return %r : tensor<4x2xf32>
}

// Two anchors never share a group: the add joins the first operand's conv; the second conv is a
// kernel of its own. Nothing fuses into an anchor: the relu before the first conv stays alone.
// CHECK-LABEL: func.func @two_anchors(%x: tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> {
// CHECK-NEXT:    %w = nn.constant attributes {value = dense<5.000000e-01> : tensor<2x2x1x1xf32>} : () -> tensor<2x2x1x1xf32>
// CHECK-NEXT:    %p = nn.relu %x : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
// CHECK-NEXT:    %b = nn.conv2d %x, %w : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
// CHECK-NEXT:    %s = nn.fused %p, %w, %b : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> {
// CHECK-NEXT:    ^bb0(%p_1: tensor<1x2x4x4xf32>, %w_1: tensor<2x2x1x1xf32>, %b_1: tensor<1x2x4x4xf32>):
// CHECK-NEXT:      %a = nn.conv2d %p_1, %w_1 : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
// CHECK-NEXT:      %s_1 = nn.add %a, %b_1 : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
// CHECK-NEXT:      nn.yield %s_1 : tensor<1x2x4x4xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    return %s : tensor<1x2x4x4xf32>
// CHECK-NEXT:  }
func.func @two_anchors(%x: tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = nn.constant attributes {value = dense<0.5> : tensor<2x2x1x1xf32>} : () -> tensor<2x2x1x1xf32>
  %p = nn.relu %x : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %a = nn.conv2d %p, %w : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %b = nn.conv2d %x, %w : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %s = nn.add %a, %b : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  func.return %s : tensor<1x2x4x4xf32>
}

// An epilogue must keep the anchor's output shape: an add that broadcasts the matmul's result to
// a bigger tensor is not fused. Chains of injective ops fuse: reshape + transpose.
// CHECK-LABEL: func.func @shape_changes(%x: tensor<2x3xf32>, %y: tensor<3x3xf32>, %z: tensor<4x2x3xf32>) -> tensor<3x2x4xf32> {
// CHECK-NEXT:    %m = nn.matmul %x, %y : (tensor<2x3xf32>, tensor<3x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    %t = nn.fused %m, %z : (tensor<2x3xf32>, tensor<4x2x3xf32>) -> tensor<3x2x4xf32> {
// CHECK-NEXT:    ^bb0(%m_1: tensor<2x3xf32>, %z_1: tensor<4x2x3xf32>):
// CHECK-NEXT:      %a = nn.add %m_1, %z_1 : (tensor<2x3xf32>, tensor<4x2x3xf32>) -> tensor<4x2x3xf32>
// CHECK-NEXT:      %r = nn.reshape %a attributes {shape = array<i64: 4, 2, 3>} : (tensor<4x2x3xf32>) -> tensor<4x2x3xf32>
// CHECK-NEXT:      %t_1 = nn.transpose %r attributes {perm = array<i64: 2, 1, 0>} : (tensor<4x2x3xf32>) -> tensor<3x2x4xf32>
// CHECK-NEXT:      nn.yield %t_1 : tensor<3x2x4xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    return %t : tensor<3x2x4xf32>
// CHECK-NEXT:  }
func.func @shape_changes(%x: tensor<2x3xf32>, %y: tensor<3x3xf32>, %z: tensor<4x2x3xf32>) -> tensor<3x2x4xf32> {
  %m = nn.matmul %x, %y : (tensor<2x3xf32>, tensor<3x3xf32>) -> tensor<2x3xf32>
  %a = nn.add %m, %z : (tensor<2x3xf32>, tensor<4x2x3xf32>) -> tensor<4x2x3xf32>
  %r = nn.reshape %a attributes {shape = array<i64: 4, 2, 3>} : (tensor<4x2x3xf32>) -> tensor<4x2x3xf32>
  %t = nn.transpose %r attributes {perm = array<i64: 2, 1, 0>} : (tensor<4x2x3xf32>) -> tensor<3x2x4xf32>
  func.return %t : tensor<3x2x4xf32>
}

// A channel shuffle is an index remap: it joins the group of the conv that reads it (the conv reads
// its input through the shuffle's index map; ShuffleNet's shuffle costs no kernel of its own), but
// never the epilogue of the conv that makes it. A shuffle whose value is read by another op too
// stays a kernel of its own.
// CHECK-LABEL: func.func @shuffle_into_conv(%x: tensor<1x6x4x4xf32>) -> (tensor<1x6x4x4xf32>, tensor<1x6x4x4xf32>) {
// CHECK-NEXT:    %w = nn.constant attributes {value = dense<5.000000e-01> : tensor<6x2x1x1xf32>} : () -> tensor<6x2x1x1xf32>
// CHECK-NEXT:    %r = nn.fused %x, %w : (tensor<1x6x4x4xf32>, tensor<6x2x1x1xf32>) -> tensor<1x6x4x4xf32> {
// CHECK-NEXT:    ^bb0(%x_1: tensor<1x6x4x4xf32>, %w_1: tensor<6x2x1x1xf32>):
// CHECK-NEXT:      %c = nn.conv2d %x_1, %w_1 attributes {group = 3 : i64} : (tensor<1x6x4x4xf32>, tensor<6x2x1x1xf32>) -> tensor<1x6x4x4xf32>
// CHECK-NEXT:      %r_1 = nn.relu %c : (tensor<1x6x4x4xf32>) -> tensor<1x6x4x4xf32>
// CHECK-NEXT:      nn.yield %r_1 : tensor<1x6x4x4xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    %d = nn.fused %r, %w : (tensor<1x6x4x4xf32>, tensor<6x2x1x1xf32>) -> tensor<1x6x4x4xf32> {
// CHECK-NEXT:    ^bb0(%r_1: tensor<1x6x4x4xf32>, %w_1: tensor<6x2x1x1xf32>):
// CHECK-NEXT:      %s = nn.channel_shuffle %r_1 attributes {groups = 3 : i64} : (tensor<1x6x4x4xf32>) -> tensor<1x6x4x4xf32>
// CHECK-NEXT:      %d_1 = nn.conv2d %s, %w_1 attributes {group = 3 : i64} : (tensor<1x6x4x4xf32>, tensor<6x2x1x1xf32>) -> tensor<1x6x4x4xf32>
// CHECK-NEXT:      nn.yield %d_1 : tensor<1x6x4x4xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    %t = nn.channel_shuffle %x attributes {groups = 2 : i64} : (tensor<1x6x4x4xf32>) -> tensor<1x6x4x4xf32>
// CHECK-NEXT:    %f = nn.fused %t, %w : (tensor<1x6x4x4xf32>, tensor<6x2x1x1xf32>) -> tensor<1x6x4x4xf32> {
// CHECK-NEXT:    ^bb0(%t_1: tensor<1x6x4x4xf32>, %w_1: tensor<6x2x1x1xf32>):
// CHECK-NEXT:      %e = nn.conv2d %t_1, %w_1 attributes {group = 3 : i64} : (tensor<1x6x4x4xf32>, tensor<6x2x1x1xf32>) -> tensor<1x6x4x4xf32>
// CHECK-NEXT:      %f_1 = nn.add %e, %t_1 : (tensor<1x6x4x4xf32>, tensor<1x6x4x4xf32>) -> tensor<1x6x4x4xf32>
// CHECK-NEXT:      nn.yield %f_1 : tensor<1x6x4x4xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    return %d, %f : tensor<1x6x4x4xf32>, tensor<1x6x4x4xf32>
// CHECK-NEXT:  }
func.func @shuffle_into_conv(%x: tensor<1x6x4x4xf32>) -> (tensor<1x6x4x4xf32>, tensor<1x6x4x4xf32>) {
  %w = nn.constant attributes {value = dense<0.5> : tensor<6x2x1x1xf32>} : () -> tensor<6x2x1x1xf32>
  %c = nn.conv2d %x, %w attributes {group = 3 : i64} : (tensor<1x6x4x4xf32>, tensor<6x2x1x1xf32>) -> tensor<1x6x4x4xf32>
  %r = nn.relu %c : (tensor<1x6x4x4xf32>) -> tensor<1x6x4x4xf32>
  %s = nn.channel_shuffle %r attributes {groups = 3 : i64} : (tensor<1x6x4x4xf32>) -> tensor<1x6x4x4xf32>
  %d = nn.conv2d %s, %w attributes {group = 3 : i64} : (tensor<1x6x4x4xf32>, tensor<6x2x1x1xf32>) -> tensor<1x6x4x4xf32>
  %t = nn.channel_shuffle %x attributes {groups = 2 : i64} : (tensor<1x6x4x4xf32>) -> tensor<1x6x4x4xf32>
  %e = nn.conv2d %t, %w attributes {group = 3 : i64} : (tensor<1x6x4x4xf32>, tensor<6x2x1x1xf32>) -> tensor<1x6x4x4xf32>
  %f = nn.add %e, %t : (tensor<1x6x4x4xf32>, tensor<1x6x4x4xf32>) -> tensor<1x6x4x4xf32>
  func.return %d, %f : tensor<1x6x4x4xf32>, tensor<1x6x4x4xf32>
}
