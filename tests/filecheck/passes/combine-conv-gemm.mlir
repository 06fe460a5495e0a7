// combine-ops: fusions into convolutions and matrix products, and what is left of a batch
// norm (dialects/nn/fusions.py). Where a precondition fails the IR stays as it was.
// RUN: lamina opt %s -p combine-ops | filecheck %s

// FuseConvBiasAdd: add(c [1,O,1,1], conv2d(x, w, b)) -> conv2d(x, w, b + c).
// CHECK-LABEL: func.func @conv_bias_add(%x: tensor<1x2x3x3xf32>) -> tensor<1x3x3x3xf32> {
// CHECK-NEXT:  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x2x1x1xf32>} : () -> tensor<3x2x1x1xf32>
// CHECK-NEXT:  %0 = nn.constant attributes {value = dense<[1.100000e+01, 2.200000e+01, 3.300000e+01]> : tensor<3xf32>} : () -> tensor<3xf32>
// CHECK-NEXT:  %1 = nn.conv2d %x, %w, %0 : (tensor<1x2x3x3xf32>, tensor<3x2x1x1xf32>, tensor<3xf32>) -> tensor<1x3x3x3xf32>
// CHECK-NEXT:  return %1 : tensor<1x3x3x3xf32>
// CHECK-NEXT:  }
func.func @conv_bias_add(%x: tensor<1x2x3x3xf32>) -> tensor<1x3x3x3xf32> {
  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x2x1x1xf32>} : () -> tensor<3x2x1x1xf32>
  %b = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00]> : tensor<3xf32>} : () -> tensor<3xf32>
  %c = nn.constant attributes {value = dense<[[[[1.000000e+01]], [[2.000000e+01]], [[3.000000e+01]]]]> : tensor<1x3x1x1xf32>} : () -> tensor<1x3x1x1xf32>
  %0 = nn.conv2d %x, %w, %b : (tensor<1x2x3x3xf32>, tensor<3x2x1x1xf32>, tensor<3xf32>) -> tensor<1x3x3x3xf32>
  %1 = nn.add %c, %0 : (tensor<1x3x1x1xf32>, tensor<1x3x3x3xf32>) -> tensor<1x3x3x3xf32>
  func.return %1 : tensor<1x3x3x3xf32>
}

// Negative: a [3] addend runs along W, not the channels; an addend that is not constant stays.
// CHECK-LABEL: func.func @conv_bias_add_not_per_channel(%x: tensor<1x2x3x3xf32>) -> (tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>) {
// CHECK-NEXT:  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x2x1x1xf32>} : () -> tensor<3x2x1x1xf32>
// CHECK-NEXT:  %c = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00]> : tensor<3xf32>} : () -> tensor<3xf32>
// CHECK-NEXT:  %0 = nn.conv2d %x, %w : (tensor<1x2x3x3xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x3x3xf32>
// CHECK-NEXT:  %1 = nn.add %0, %c : (tensor<1x3x3x3xf32>, tensor<3xf32>) -> tensor<1x3x3x3xf32>
// CHECK-NEXT:  %2 = nn.conv2d %x, %w : (tensor<1x2x3x3xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x3x3xf32>
// CHECK-NEXT:  %3 = nn.add %2, %2 : (tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>) -> tensor<1x3x3x3xf32>
// CHECK-NEXT:  return %1, %3 : tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>
// CHECK-NEXT:  }
func.func @conv_bias_add_not_per_channel(%x: tensor<1x2x3x3xf32>) -> (tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>) {
  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x2x1x1xf32>} : () -> tensor<3x2x1x1xf32>
  %c = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00]> : tensor<3xf32>} : () -> tensor<3xf32>
  %0 = nn.conv2d %x, %w : (tensor<1x2x3x3xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x3x3xf32>
  %1 = nn.add %0, %c : (tensor<1x3x3x3xf32>, tensor<3xf32>) -> tensor<1x3x3x3xf32>
  %2 = nn.conv2d %x, %w : (tensor<1x2x3x3xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x3x3xf32>
  %3 = nn.add %2, %2 : (tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>) -> tensor<1x3x3x3xf32>
  func.return %1, %3 : tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>
}

// FuseBatchNormIntoConv: s = scale / sqrt(var) = [1, 1, 1] (epsilon 0), so w stays 1 and
// the bias is bias - mean * s = [-0.5, 1, -2].
// CHECK-LABEL: func.func @conv_bn(%x: tensor<1x2x3x3xf32>) -> tensor<1x3x3x3xf32> {
// CHECK-NEXT:  %0 = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x2x1x1xf32>} : () -> tensor<3x2x1x1xf32>
// CHECK-NEXT:  %1 = nn.constant attributes {value = dense<[-5.000000e-01, 1.000000e+00, -2.000000e+00]> : tensor<3xf32>} : () -> tensor<3xf32>
// CHECK-NEXT:  %2 = nn.conv2d %x, %0, %1 : (tensor<1x2x3x3xf32>, tensor<3x2x1x1xf32>, tensor<3xf32>) -> tensor<1x3x3x3xf32>
// CHECK-NEXT:  return %2 : tensor<1x3x3x3xf32>
// CHECK-NEXT:  }
func.func @conv_bn(%x: tensor<1x2x3x3xf32>) -> tensor<1x3x3x3xf32> {
  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x2x1x1xf32>} : () -> tensor<3x2x1x1xf32>
  %s = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 5.000000e-01]> : tensor<3xf32>} : () -> tensor<3xf32>
  %b = nn.constant attributes {value = dense<[0.000000e+00, 1.000000e+00, -1.000000e+00]> : tensor<3xf32>} : () -> tensor<3xf32>
  %m = nn.constant attributes {value = dense<[5.000000e-01, 0.000000e+00, 1.000000e+00]> : tensor<3xf32>} : () -> tensor<3xf32>
  %v = nn.constant attributes {value = dense<[1.000000e+00, 4.000000e+00, 2.500000e-01]> : tensor<3xf32>} : () -> tensor<3xf32>
  %0 = nn.conv2d %x, %w : (tensor<1x2x3x3xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x3x3xf32>
  %1 = nn.batch_norm %0, %s, %b, %m, %v attributes {epsilon = 0.000000e+00 : f32} : (tensor<1x3x3x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3x3x3xf32>
  func.return %1 : tensor<1x3x3x3xf32>
}

// Negative for FuseBatchNormIntoConv (the conv has a second user), so BatchNormToMulAdd
// turns the batch norm into a per-channel mul and add; the conv is not duplicated.
// CHECK-LABEL: func.func @conv_bn_conv_used_twice(%x: tensor<1x2x3x3xf32>) -> (tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>) {
// CHECK-NEXT:  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x2x1x1xf32>} : () -> tensor<3x2x1x1xf32>
// CHECK-NEXT:  %0 = nn.conv2d %x, %w : (tensor<1x2x3x3xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x3x3xf32>
// CHECK-NEXT:  %1 = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x1x1xf32>} : () -> tensor<3x1x1xf32>
// CHECK-NEXT:  %2 = nn.mul %0, %1 : (tensor<1x3x3x3xf32>, tensor<3x1x1xf32>) -> tensor<1x3x3x3xf32>
// CHECK-NEXT:  %3 = nn.constant attributes {value = dense<[[[-5.000000e-01]], [[1.000000e+00]], [[-2.000000e+00]]]> : tensor<3x1x1xf32>} : () -> tensor<3x1x1xf32>
// CHECK-NEXT:  %4 = nn.add %2, %3 : (tensor<1x3x3x3xf32>, tensor<3x1x1xf32>) -> tensor<1x3x3x3xf32>
// CHECK-NEXT:  return %0, %4 : tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>
// CHECK-NEXT:  }
func.func @conv_bn_conv_used_twice(%x: tensor<1x2x3x3xf32>) -> (tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>) {
  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x2x1x1xf32>} : () -> tensor<3x2x1x1xf32>
  %s = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 5.000000e-01]> : tensor<3xf32>} : () -> tensor<3xf32>
  %b = nn.constant attributes {value = dense<[0.000000e+00, 1.000000e+00, -1.000000e+00]> : tensor<3xf32>} : () -> tensor<3xf32>
  %m = nn.constant attributes {value = dense<[5.000000e-01, 0.000000e+00, 1.000000e+00]> : tensor<3xf32>} : () -> tensor<3xf32>
  %v = nn.constant attributes {value = dense<[1.000000e+00, 4.000000e+00, 2.500000e-01]> : tensor<3xf32>} : () -> tensor<3xf32>
  %0 = nn.conv2d %x, %w : (tensor<1x2x3x3xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x3x3xf32>
  %1 = nn.batch_norm %0, %s, %b, %m, %v attributes {epsilon = 0.000000e+00 : f32} : (tensor<1x3x3x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3x3x3xf32>
  func.return %0, %1 : tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>
}

// FuseMulIntoConvWeights: a one-element factor scales the weights and the bias.
// CHECK-LABEL: func.func @conv_mul(%x: tensor<1x2x3x3xf32>) -> tensor<1x3x3x3xf32> {
// CHECK-NEXT:  %0 = nn.constant attributes {value = dense<2.000000e+00> : tensor<3x2x1x1xf32>} : () -> tensor<3x2x1x1xf32>
// CHECK-NEXT:  %1 = nn.constant attributes {value = dense<[2.000000e+00, 4.000000e+00, 6.000000e+00]> : tensor<3xf32>} : () -> tensor<3xf32>
// CHECK-NEXT:  %2 = nn.conv2d %x, %0, %1 : (tensor<1x2x3x3xf32>, tensor<3x2x1x1xf32>, tensor<3xf32>) -> tensor<1x3x3x3xf32>
// CHECK-NEXT:  return %2 : tensor<1x3x3x3xf32>
// CHECK-NEXT:  }
func.func @conv_mul(%x: tensor<1x2x3x3xf32>) -> tensor<1x3x3x3xf32> {
  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x2x1x1xf32>} : () -> tensor<3x2x1x1xf32>
  %b = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00]> : tensor<3xf32>} : () -> tensor<3xf32>
  %k = nn.constant attributes {value = dense<2.000000e+00> : tensor<f32>} : () -> tensor<f32>
  %0 = nn.conv2d %x, %w, %b : (tensor<1x2x3x3xf32>, tensor<3x2x1x1xf32>, tensor<3xf32>) -> tensor<1x3x3x3xf32>
  %1 = nn.mul %0, %k : (tensor<1x3x3x3xf32>, tensor<f32>) -> tensor<1x3x3x3xf32>
  func.return %1 : tensor<1x3x3x3xf32>
}

// FuseScaleIntoBatchNorm takes the [3, 1] factor (per channel of axis 1) into scale and bias;
// nothing before the batch norm can absorb it, so BatchNormToMulAdd makes it x * s + t.
// CHECK-LABEL: func.func @bn_scale_then_mul_add(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
// CHECK-NEXT:  %0 = nn.constant attributes {value = dense<[[2.000000e+00], [3.000000e+00], [4.000000e+00]]> : tensor<3x1xf32>} : () -> tensor<3x1xf32>
// CHECK-NEXT:  %1 = nn.mul %x, %0 : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:  %2 = nn.constant attributes {value = dense<[[-1.000000e+00], [3.000000e+00], [-8.000000e+00]]> : tensor<3x1xf32>} : () -> tensor<3x1xf32>
// CHECK-NEXT:  %3 = nn.add %1, %2 : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:  return %3 : tensor<2x3x4xf32>
// CHECK-NEXT:  }
func.func @bn_scale_then_mul_add(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %s = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 5.000000e-01]> : tensor<3xf32>} : () -> tensor<3xf32>
  %b = nn.constant attributes {value = dense<[0.000000e+00, 1.000000e+00, -1.000000e+00]> : tensor<3xf32>} : () -> tensor<3xf32>
  %m = nn.constant attributes {value = dense<[5.000000e-01, 0.000000e+00, 1.000000e+00]> : tensor<3xf32>} : () -> tensor<3xf32>
  %v = nn.constant attributes {value = dense<[1.000000e+00, 4.000000e+00, 2.500000e-01]> : tensor<3xf32>} : () -> tensor<3xf32>
  %k = nn.constant attributes {value = dense<[[2.000000e+00], [3.000000e+00], [4.000000e+00]]> : tensor<3x1xf32>} : () -> tensor<3x1xf32>
  %0 = nn.batch_norm %x, %s, %b, %m, %v attributes {epsilon = 0.000000e+00 : f32} : (tensor<2x3x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3x4xf32>
  %1 = nn.mul %0, %k : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
  func.return %1 : tensor<2x3x4xf32>
}

// MatMulScaleToGemmAlpha (div by 4 -> alpha 0.25) then MatMulAddToGemm (a non-constant c);
// in the other order a gemm with c scales both alpha and beta.
// CHECK-LABEL: func.func @matmul_add_scale(%a: tensor<2x3xf32>, %c: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
// CHECK-NEXT:  %b = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x4xf32>} : () -> tensor<3x4xf32>
// CHECK-NEXT:  %0 = nn.gemm %a, %b, %c attributes {alpha = 2.500000e-01 : f32} : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:  %1 = nn.gemm %a, %b, %c attributes {alpha = 4.000000e+00 : f32, beta = 4.000000e+00 : f32} : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:  return %0, %1 : tensor<2x4xf32>, tensor<2x4xf32>
// CHECK-NEXT:  }
func.func @matmul_add_scale(%a: tensor<2x3xf32>, %c: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %b = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x4xf32>} : () -> tensor<3x4xf32>
  %k = nn.constant attributes {value = dense<4.000000e+00> : tensor<1xf32>} : () -> tensor<1xf32>
  %0 = nn.matmul %a, %b : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  %1 = nn.div %0, %k : (tensor<2x4xf32>, tensor<1xf32>) -> tensor<2x4xf32>
  %2 = nn.add %1, %c : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %3 = nn.matmul %a, %b : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  %4 = nn.add %c, %3 : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %5 = nn.mul %4, %k : (tensor<2x4xf32>, tensor<1xf32>) -> tensor<2x4xf32>
  func.return %2, %5 : tensor<2x4xf32>, tensor<2x4xf32>
}

// Negative: a 3-D matmul is not a gemm.
// CHECK-LABEL: func.func @matmul_3d_add(%a: tensor<5x2x3xf32>) -> tensor<5x2x4xf32> {
// CHECK-NEXT:  %b = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x4xf32>} : () -> tensor<3x4xf32>
// CHECK-NEXT:  %c = nn.constant attributes {value = dense<1.000000e+00> : tensor<4xf32>} : () -> tensor<4xf32>
// CHECK-NEXT:  %0 = nn.matmul %a, %b : (tensor<5x2x3xf32>, tensor<3x4xf32>) -> tensor<5x2x4xf32>
// CHECK-NEXT:  %1 = nn.add %0, %c : (tensor<5x2x4xf32>, tensor<4xf32>) -> tensor<5x2x4xf32>
// CHECK-NEXT:  return %1 : tensor<5x2x4xf32>
// CHECK-NEXT:  }
func.func @matmul_3d_add(%a: tensor<5x2x3xf32>) -> tensor<5x2x4xf32> {
  %b = nn.constant attributes {value = dense<1.000000e+00> : tensor<3x4xf32>} : () -> tensor<3x4xf32>
  %c = nn.constant attributes {value = dense<1.000000e+00> : tensor<4xf32>} : () -> tensor<4xf32>
  %0 = nn.matmul %a, %b : (tensor<5x2x3xf32>, tensor<3x4xf32>) -> tensor<5x2x4xf32>
  %1 = nn.add %0, %c : (tensor<5x2x4xf32>, tensor<4xf32>) -> tensor<5x2x4xf32>
  func.return %1 : tensor<5x2x4xf32>
}

// TransposeIntoGemm: both transposes (an explicit perm [1, 0] and the default) go into the gemm.
// CHECK-LABEL: func.func @transposed_matmul(%a: tensor<3x2xf32>, %b: tensor<4x3xf32>) -> tensor<2x4xf32> {
// CHECK-NEXT:  %0 = nn.gemm %a, %b attributes {trans_a = 1 : i64, trans_b = 1 : i64} : (tensor<3x2xf32>, tensor<4x3xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:  return %0 : tensor<2x4xf32>
// CHECK-NEXT:  }
func.func @transposed_matmul(%a: tensor<3x2xf32>, %b: tensor<4x3xf32>) -> tensor<2x4xf32> {
  %0 = nn.transpose %a attributes {perm = array<i64: 1, 0>} : (tensor<3x2xf32>) -> tensor<2x3xf32>
  %1 = nn.transpose %b : (tensor<4x3xf32>) -> tensor<3x4xf32>
  %2 = nn.matmul %0, %1 : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  func.return %2 : tensor<2x4xf32>
}

// FuseBatchNormIntoGemm: s = [1, 1], t = [1, -1]; c becomes c * s + t = [2, -2].
// CHECK-LABEL: func.func @gemm_bn(%a: tensor<2x3xf32>) -> tensor<2x2xf32> {
// CHECK-NEXT:  %0 = nn.constant attributes {value = dense<[[1.000000e+00, 2.000000e+00, 3.000000e+00], [4.000000e+00, 5.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
// CHECK-NEXT:  %1 = nn.constant attributes {value = dense<[2.000000e+00, -2.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
// CHECK-NEXT:  %2 = nn.gemm %a, %0, %1 attributes {trans_b = 1 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x2xf32>
// CHECK-NEXT:  return %2 : tensor<2x2xf32>
// CHECK-NEXT:  }
func.func @gemm_bn(%a: tensor<2x3xf32>) -> tensor<2x2xf32> {
  %w = nn.constant attributes {value = dense<[[1.000000e+00, 2.000000e+00, 3.000000e+00], [4.000000e+00, 5.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
  %c = nn.constant attributes {value = dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
  %s = nn.constant attributes {value = dense<[2.000000e+00, 1.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
  %b = nn.constant attributes {value = dense<[1.000000e+00, 0.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
  %m = nn.constant attributes {value = dense<[0.000000e+00, 1.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
  %v = nn.constant attributes {value = dense<[4.000000e+00, 1.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
  %0 = nn.gemm %a, %w, %c attributes {trans_b = 1 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x2xf32>
  %1 = nn.batch_norm %0, %s, %b, %m, %v attributes {epsilon = 0.000000e+00 : f32} : (tensor<2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<2x2xf32>
  func.return %1 : tensor<2x2xf32>
}

// BatchNormToMulAdd: a relu cannot absorb the batch norm: x * [1, 1] + [1, -1] per channel.
// CHECK-LABEL: func.func @bn_to_mul_add(%x: tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32> {
// CHECK-NEXT:  %0 = nn.relu %x : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:  %1 = nn.constant attributes {value = dense<1.000000e+00> : tensor<2x1x1xf32>} : () -> tensor<2x1x1xf32>
// CHECK-NEXT:  %2 = nn.mul %0, %1 : (tensor<1x2x3x3xf32>, tensor<2x1x1xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:  %3 = nn.constant attributes {value = dense<[[[1.000000e+00]], [[-1.000000e+00]]]> : tensor<2x1x1xf32>} : () -> tensor<2x1x1xf32>
// CHECK-NEXT:  %4 = nn.add %2, %3 : (tensor<1x2x3x3xf32>, tensor<2x1x1xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:  return %4 : tensor<1x2x3x3xf32>
// CHECK-NEXT:  }
func.func @bn_to_mul_add(%x: tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %s = nn.constant attributes {value = dense<[2.000000e+00, 1.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
  %b = nn.constant attributes {value = dense<[1.000000e+00, 0.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
  %m = nn.constant attributes {value = dense<[0.000000e+00, 1.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
  %v = nn.constant attributes {value = dense<[4.000000e+00, 1.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
  %0 = nn.relu %x : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %1 = nn.batch_norm %0, %s, %b, %m, %v attributes {epsilon = 0.000000e+00 : f32} : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  func.return %1 : tensor<1x2x3x3xf32>
}

// Negative: a batch norm whose scale is an argument stays.
// CHECK-LABEL: func.func @bn_params_not_constant(%x: tensor<1x2x3x3xf32>, %s: tensor<2xf32>) -> tensor<1x2x3x3xf32> {
// CHECK-NEXT:  %b = nn.constant attributes {value = dense<[1.000000e+00, 0.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
// CHECK-NEXT:  %0 = nn.batch_norm %x, %s, %b, %b, %b : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:  return %0 : tensor<1x2x3x3xf32>
// CHECK-NEXT:  }
func.func @bn_params_not_constant(%x: tensor<1x2x3x3xf32>, %s: tensor<2xf32>) -> tensor<1x2x3x3xf32> {
  %b = nn.constant attributes {value = dense<[1.000000e+00, 0.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
  %1 = nn.batch_norm %x, %s, %b, %b, %b : (tensor<1x2x3x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x3x3xf32>
  func.return %1 : tensor<1x2x3x3xf32>
}
