// combine-ops: decomposed layer norm, GELU, hard-swish, PReLU, spatial means and channel
// shuffles recognised as one op (dialects/nn/recognize.py), with the near misses that must stay.
// RUN: lamina opt %s -p combine-ops | filecheck %s

// DecomposedLayerNormToLayerNorm, then FuseMulIntoLayerNorm (gamma [4]) and FuseAddIntoLayerNorm
// (beta [1, 4]: its leading 1 is dropped).
// CHECK-LABEL: func.func @layer_norm(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
// CHECK-NEXT:  %0 = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>} : () -> tensor<4xf32>
// CHECK-NEXT:  %1 = nn.constant attributes {value = dense<5.000000e-01> : tensor<4xf32>} : () -> tensor<4xf32>
// CHECK-NEXT:  %2 = nn.layer_norm %x, %0, %1 attributes {axis = -1 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x3x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:  return %2 : tensor<2x3x4xf32>
// CHECK-NEXT:  }
func.func @layer_norm(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %two = nn.constant attributes {value = dense<2.000000e+00> : tensor<f32>} : () -> tensor<f32>
  %eps = nn.constant attributes {value = dense<9.99999974E-6> : tensor<f32>} : () -> tensor<f32>
  %gamma = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>} : () -> tensor<4xf32>
  %beta = nn.constant attributes {value = dense<5.000000e-01> : tensor<1x4xf32>} : () -> tensor<1x4xf32>
  %0 = nn.reduce_mean %x attributes {axes = array<i64: -1>} : (tensor<2x3x4xf32>) -> tensor<2x3x1xf32>
  %1 = nn.sub %x, %0 : (tensor<2x3x4xf32>, tensor<2x3x1xf32>) -> tensor<2x3x4xf32>
  %2 = nn.pow %1, %two : (tensor<2x3x4xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %3 = nn.reduce_mean %2 attributes {axes = array<i64: -1>} : (tensor<2x3x4xf32>) -> tensor<2x3x1xf32>
  %4 = nn.add %3, %eps : (tensor<2x3x1xf32>, tensor<f32>) -> tensor<2x3x1xf32>
  %5 = nn.sqrt %4 : (tensor<2x3x1xf32>) -> tensor<2x3x1xf32>
  %6 = nn.div %1, %5 : (tensor<2x3x4xf32>, tensor<2x3x1xf32>) -> tensor<2x3x4xf32>
  %7 = nn.mul %6, %gamma : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  %8 = nn.add %beta, %7 : (tensor<1x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  func.return %8 : tensor<2x3x4xf32>
}

// Negative (the shape guard): gamma [3, 1] varies along a dim that is not normalized, so
// it is not a layer-norm scale and the mul stays (the normalization itself is recognised).
// CHECK-LABEL: func.func @layer_norm_gamma_broadcasts_wrongly(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
// CHECK-NEXT:  %gamma = nn.constant attributes {value = dense<[[1.000000e+00], [2.000000e+00], [3.000000e+00]]> : tensor<3x1xf32>} : () -> tensor<3x1xf32>
// CHECK-NEXT:  %0 = nn.constant attributes {value = dense<1.000000e+00> : tensor<4xf32>} : () -> tensor<4xf32>
// CHECK-NEXT:  %1 = nn.layer_norm %x, %0 attributes {axis = -1 : i64, epsilon = 1.000000e-05 : f32} : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:  %2 = nn.mul %1, %gamma : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:  return %2 : tensor<2x3x4xf32>
// CHECK-NEXT:  }
func.func @layer_norm_gamma_broadcasts_wrongly(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %eps = nn.constant attributes {value = dense<1.000000e-05> : tensor<1xf32>} : () -> tensor<1xf32>
  %gamma = nn.constant attributes {value = dense<[[1.000000e+00], [2.000000e+00], [3.000000e+00]]> : tensor<3x1xf32>} : () -> tensor<3x1xf32>
  %0 = nn.reduce_mean %x attributes {axes = array<i64: 2>} : (tensor<2x3x4xf32>) -> tensor<2x3x1xf32>
  %1 = nn.sub %x, %0 : (tensor<2x3x4xf32>, tensor<2x3x1xf32>) -> tensor<2x3x4xf32>
  %2 = nn.mul %1, %1 : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %3 = nn.reduce_mean %2 attributes {axes = array<i64: 2>} : (tensor<2x3x4xf32>) -> tensor<2x3x1xf32>
  %4 = nn.add %eps, %3 : (tensor<1xf32>, tensor<2x3x1xf32>) -> tensor<2x3x1xf32>
  %5 = nn.sqrt %4 : (tensor<2x3x1xf32>) -> tensor<2x3x1xf32>
  %6 = nn.div %1, %5 : (tensor<2x3x4xf32>, tensor<2x3x1xf32>) -> tensor<2x3x4xf32>
  %7 = nn.mul %6, %gamma : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
  func.return %7 : tensor<2x3x4xf32>
}

// Negative (the shape guard): gamma [2, 1, 1] makes the product larger than x; the mul stays.
// CHECK-LABEL: func.func @layer_norm_gamma_grows_result(%x: tensor<1x3x4xf32>) -> tensor<2x3x4xf32> {
// CHECK-NEXT:  %gamma = nn.constant attributes {value = dense<[[[1.000000e+00]], [[2.000000e+00]]]> : tensor<2x1x1xf32>} : () -> tensor<2x1x1xf32>
// CHECK-NEXT:  %0 = nn.constant attributes {value = dense<1.000000e+00> : tensor<4xf32>} : () -> tensor<4xf32>
// CHECK-NEXT:  %1 = nn.layer_norm %x, %0 attributes {axis = -1 : i64, epsilon = 1.000000e-05 : f32} : (tensor<1x3x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
// CHECK-NEXT:  %2 = nn.mul %1, %gamma : (tensor<1x3x4xf32>, tensor<2x1x1xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:  return %2 : tensor<2x3x4xf32>
// CHECK-NEXT:  }
func.func @layer_norm_gamma_grows_result(%x: tensor<1x3x4xf32>) -> tensor<2x3x4xf32> {
  %eps = nn.constant attributes {value = dense<1.000000e-05> : tensor<1xf32>} : () -> tensor<1xf32>
  %gamma = nn.constant attributes {value = dense<[[[1.000000e+00]], [[2.000000e+00]]]> : tensor<2x1x1xf32>} : () -> tensor<2x1x1xf32>
  %0 = nn.reduce_mean %x attributes {axes = array<i64: 2>} : (tensor<1x3x4xf32>) -> tensor<1x3x1xf32>
  %1 = nn.sub %x, %0 : (tensor<1x3x4xf32>, tensor<1x3x1xf32>) -> tensor<1x3x4xf32>
  %2 = nn.mul %1, %1 : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %3 = nn.reduce_mean %2 attributes {axes = array<i64: 2>} : (tensor<1x3x4xf32>) -> tensor<1x3x1xf32>
  %4 = nn.add %eps, %3 : (tensor<1xf32>, tensor<1x3x1xf32>) -> tensor<1x3x1xf32>
  %5 = nn.sqrt %4 : (tensor<1x3x1xf32>) -> tensor<1x3x1xf32>
  %6 = nn.div %1, %5 : (tensor<1x3x4xf32>, tensor<1x3x1xf32>) -> tensor<1x3x4xf32>
  %7 = nn.mul %6, %gamma : (tensor<1x3x4xf32>, tensor<2x1x1xf32>) -> tensor<2x3x4xf32>
  func.return %7 : tensor<2x3x4xf32>
}

// Negative: a mean over axis 1 of three is not a layer norm (the axes must be the trailing ones).
// CHECK-LABEL: func.func @layer_norm_not_trailing_axes(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
// CHECK-NEXT:  %eps = nn.constant attributes {value = dense<1.000000e-05> : tensor<f32>} : () -> tensor<f32>
// CHECK-NEXT:  %0 = nn.reduce_mean %x attributes {axes = array<i64: 1>} : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
// CHECK-NEXT:  %1 = nn.sub %x, %0 : (tensor<2x3x4xf32>, tensor<2x1x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:  %2 = nn.mul %1, %1 : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:  %3 = nn.reduce_mean %2 attributes {axes = array<i64: 1>} : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
// CHECK-NEXT:  %4 = nn.add %3, %eps : (tensor<2x1x4xf32>, tensor<f32>) -> tensor<2x1x4xf32>
// CHECK-NEXT:  %5 = nn.sqrt %4 : (tensor<2x1x4xf32>) -> tensor<2x1x4xf32>
// CHECK-NEXT:  %6 = nn.div %1, %5 : (tensor<2x3x4xf32>, tensor<2x1x4xf32>) -> tensor<2x3x4xf32>
// CHECK-NEXT:  return %6 : tensor<2x3x4xf32>
// CHECK-NEXT:  }
func.func @layer_norm_not_trailing_axes(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %eps = nn.constant attributes {value = dense<1.000000e-05> : tensor<f32>} : () -> tensor<f32>
  %0 = nn.reduce_mean %x attributes {axes = array<i64: 1>} : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
  %1 = nn.sub %x, %0 : (tensor<2x3x4xf32>, tensor<2x1x4xf32>) -> tensor<2x3x4xf32>
  %2 = nn.mul %1, %1 : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %3 = nn.reduce_mean %2 attributes {axes = array<i64: 1>} : (tensor<2x3x4xf32>) -> tensor<2x1x4xf32>
  %4 = nn.add %3, %eps : (tensor<2x1x4xf32>, tensor<f32>) -> tensor<2x1x4xf32>
  %5 = nn.sqrt %4 : (tensor<2x1x4xf32>) -> tensor<2x1x4xf32>
  %6 = nn.div %1, %5 : (tensor<2x3x4xf32>, tensor<2x1x4xf32>) -> tensor<2x3x4xf32>
  func.return %6 : tensor<2x3x4xf32>
}

// ErfGeluToGelu in three orders: (x * g) * 0.5, (0.5 * x) * g and x * (g * 0.5), with x / sqrt 2
// also written x * 0.7071...
// CHECK-LABEL: func.func @gelu_forms(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
// CHECK-NEXT:  %0 = nn.gelu %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:  %1 = nn.gelu %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:  %2 = nn.gelu %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:  return %0, %1, %2 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
// CHECK-NEXT:  }
func.func @gelu_forms(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %sqrt2 = nn.constant attributes {value = dense<1.41421354> : tensor<f32>} : () -> tensor<f32>
  %rsqrt2 = nn.constant attributes {value = dense<0.707106769> : tensor<f32>} : () -> tensor<f32>
  %one = nn.constant attributes {value = dense<1.000000e+00> : tensor<f32>} : () -> tensor<f32>
  %half = nn.constant attributes {value = dense<5.000000e-01> : tensor<f32>} : () -> tensor<f32>
  %0 = nn.div %x, %sqrt2 : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %1 = nn.erf %0 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %2 = nn.add %1, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %3 = nn.mul %x, %2 : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %4 = nn.mul %3, %half : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %5 = nn.mul %x, %rsqrt2 : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %6 = nn.erf %5 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %7 = nn.add %one, %6 : (tensor<f32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %8 = nn.mul %half, %x : (tensor<f32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %9 = nn.mul %8, %7 : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %10 = nn.mul %7, %half : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %11 = nn.mul %x, %10 : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %4, %9, %11 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}

// Negative: 0.4 is not 0.5.
// CHECK-LABEL: func.func @gelu_wrong_constant(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
// CHECK-NEXT:  %sqrt2 = nn.constant attributes {value = dense<1.4142135381698608e+00> : tensor<f32>} : () -> tensor<f32>
// CHECK-NEXT:  %one = nn.constant attributes {value = dense<1.000000e+00> : tensor<f32>} : () -> tensor<f32>
// CHECK-NEXT:  %k = nn.constant attributes {value = dense<4.000000e-01> : tensor<f32>} : () -> tensor<f32>
// CHECK-NEXT:  %0 = nn.div %x, %sqrt2 : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
// CHECK-NEXT:  %1 = nn.erf %0 : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:  %2 = nn.add %1, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
// CHECK-NEXT:  %3 = nn.mul %x, %2 : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:  %4 = nn.mul %3, %k : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
// CHECK-NEXT:  return %4 : tensor<2x3xf32>
// CHECK-NEXT:  }
func.func @gelu_wrong_constant(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %sqrt2 = nn.constant attributes {value = dense<1.41421354> : tensor<f32>} : () -> tensor<f32>
  %one = nn.constant attributes {value = dense<1.000000e+00> : tensor<f32>} : () -> tensor<f32>
  %k = nn.constant attributes {value = dense<4.000000e-01> : tensor<f32>} : () -> tensor<f32>
  %0 = nn.div %x, %sqrt2 : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %1 = nn.erf %0 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %2 = nn.add %1, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %3 = nn.mul %x, %2 : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %4 = nn.mul %3, %k : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  func.return %4 : tensor<2x3xf32>
}

// HardSwishFromParts: x * hard_sigmoid(x) {alpha = 1/6}, x * relu6(x + 3) / 6 and relu6(3 + x) / 6 * x.
// CHECK-LABEL: func.func @hard_swish_forms(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
// CHECK-NEXT:  %0 = nn.hard_swish %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:  %1 = nn.hard_swish %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:  %2 = nn.hard_swish %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:  return %0, %1, %2 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
// CHECK-NEXT:  }
func.func @hard_swish_forms(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %three = nn.constant attributes {value = dense<3.000000e+00> : tensor<f32>} : () -> tensor<f32>
  %six = nn.constant attributes {value = dense<6.000000e+00> : tensor<f32>} : () -> tensor<f32>
  %0 = nn.hard_sigmoid %x attributes {alpha = 0.166666672 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = nn.mul %x, %0 : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %2 = nn.add %x, %three : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %3 = nn.clip %2 attributes {max = 6.000000e+00 : f32, min = 0.000000e+00 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %4 = nn.mul %x, %3 : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %5 = nn.div %4, %six : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %6 = nn.add %three, %x : (tensor<f32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %7 = nn.clip %6 attributes {max = 6.000000e+00 : f32, min = 0.000000e+00 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %8 = nn.div %7, %six : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %9 = nn.mul %8, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %1, %5, %9 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}

// Negative: hard_sigmoid's default alpha is 0.2, not 1/6.
// CHECK-LABEL: func.func @hard_sigmoid_default_is_not_hard_swish(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
// CHECK-NEXT:  %0 = nn.hard_sigmoid %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:  %1 = nn.mul %x, %0 : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:  return %1 : tensor<2x3xf32>
// CHECK-NEXT:  }
func.func @hard_sigmoid_default_is_not_hard_swish(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = nn.hard_sigmoid %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = nn.mul %x, %0 : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %1 : tensor<2x3xf32>
}

// PReluFromParts: relu(x) + slope * min(x, 0) -> prelu(x, slope); Keras's form max(x, 0) + (-alpha) * relu(-x)
// -> prelu(x, alpha), and with one slope PReluOneSlopeToLeakyRelu makes it leaky_relu.
// CHECK-LABEL: func.func @prelu_forms(%x: tensor<1x2x3xf32>) -> (tensor<1x2x3xf32>, tensor<1x2x3xf32>) {
// CHECK-NEXT:  %0 = nn.constant attributes {value = dense<[[2.500000e-01], [5.000000e-01]]> : tensor<2x1xf32>} : () -> tensor<2x1xf32>
// CHECK-NEXT:  %1 = nn.prelu %x, %0 : (tensor<1x2x3xf32>, tensor<2x1xf32>) -> tensor<1x2x3xf32>
// CHECK-NEXT:  %2 = nn.leaky_relu %x attributes {alpha = 1.000000e-01 : f32} : (tensor<1x2x3xf32>) -> tensor<1x2x3xf32>
// CHECK-NEXT:  return %1, %2 : tensor<1x2x3xf32>, tensor<1x2x3xf32>
// CHECK-NEXT:  }
func.func @prelu_forms(%x: tensor<1x2x3xf32>) -> (tensor<1x2x3xf32>, tensor<1x2x3xf32>) {
  %zero = nn.constant attributes {value = dense<0.000000e+00> : tensor<f32>} : () -> tensor<f32>
  %slope = nn.constant attributes {value = dense<[[2.500000e-01], [5.000000e-01]]> : tensor<2x1xf32>} : () -> tensor<2x1xf32>
  %negalpha = nn.constant attributes {value = dense<-1.000000e-01> : tensor<1xf32>} : () -> tensor<1xf32>
  %0 = nn.relu %x : (tensor<1x2x3xf32>) -> tensor<1x2x3xf32>
  %1 = nn.min %x, %zero : (tensor<1x2x3xf32>, tensor<f32>) -> tensor<1x2x3xf32>
  %2 = nn.mul %slope, %1 : (tensor<2x1xf32>, tensor<1x2x3xf32>) -> tensor<1x2x3xf32>
  %3 = nn.add %0, %2 : (tensor<1x2x3xf32>, tensor<1x2x3xf32>) -> tensor<1x2x3xf32>
  %4 = nn.neg %x : (tensor<1x2x3xf32>) -> tensor<1x2x3xf32>
  %5 = nn.relu %4 : (tensor<1x2x3xf32>) -> tensor<1x2x3xf32>
  %6 = nn.mul %negalpha, %5 : (tensor<1xf32>, tensor<1x2x3xf32>) -> tensor<1x2x3xf32>
  %7 = nn.max %x, %zero : (tensor<1x2x3xf32>, tensor<f32>) -> tensor<1x2x3xf32>
  %8 = nn.add %6, %7 : (tensor<1x2x3xf32>, tensor<1x2x3xf32>) -> tensor<1x2x3xf32>
  func.return %3, %8 : tensor<1x2x3xf32>, tensor<1x2x3xf32>
}

// ReduceMeanHWToGlobalAvgPool: keepdims 1, and keepdims 0 (with a reshape); axes [1, 3] stay.
// CHECK-LABEL: func.func @reduce_mean_hw(%x: tensor<1x2x3x3xf32>) -> (tensor<1x2x1x1xf32>, tensor<1x2xf32>, tensor<1x1x3x1xf32>) {
// CHECK-NEXT:  %0 = nn.global_avg_pool %x : (tensor<1x2x3x3xf32>) -> tensor<1x2x1x1xf32>
// CHECK-NEXT:  %1 = nn.global_avg_pool %x : (tensor<1x2x3x3xf32>) -> tensor<1x2x1x1xf32>
// CHECK-NEXT:  %2 = nn.reshape %1 attributes {shape = array<i64: 1, 2>} : (tensor<1x2x1x1xf32>) -> tensor<1x2xf32>
// CHECK-NEXT:  %3 = nn.reduce_mean %x attributes {axes = array<i64: 1, 3>} : (tensor<1x2x3x3xf32>) -> tensor<1x1x3x1xf32>
// CHECK-NEXT:  return %0, %2, %3 : tensor<1x2x1x1xf32>, tensor<1x2xf32>, tensor<1x1x3x1xf32>
// CHECK-NEXT:  }
func.func @reduce_mean_hw(%x: tensor<1x2x3x3xf32>) -> (tensor<1x2x1x1xf32>, tensor<1x2xf32>, tensor<1x1x3x1xf32>) {
  %0 = nn.reduce_mean %x attributes {axes = array<i64: 2, 3>} : (tensor<1x2x3x3xf32>) -> tensor<1x2x1x1xf32>
  %1 = nn.reduce_mean %x attributes {axes = array<i64: -1, -2>, keepdims = 0 : i64} : (tensor<1x2x3x3xf32>) -> tensor<1x2xf32>
  %2 = nn.reduce_mean %x attributes {axes = array<i64: 1, 3>} : (tensor<1x2x3x3xf32>) -> tensor<1x1x3x1xf32>
  func.return %0, %1, %2 : tensor<1x2x1x1xf32>, tensor<1x2xf32>, tensor<1x1x3x1xf32>
}

// ShuffleChannelToChannelShuffle: reshape [1, 2, 3, 2, 2], swap the group axes, reshape back;
// a transpose of other axes is not a shuffle.
// CHECK-LABEL: func.func @shuffle_channel(%x: tensor<1x6x2x2xf32>) -> (tensor<1x6x2x2xf32>, tensor<1x6x2x2xf32>) {
// CHECK-NEXT:  %0 = nn.channel_shuffle %x attributes {groups = 2 : i64} : (tensor<1x6x2x2xf32>) -> tensor<1x6x2x2xf32>
// CHECK-NEXT:  %1 = nn.reshape %x attributes {shape = array<i64: 1, 2, 3, 2, 2>} : (tensor<1x6x2x2xf32>) -> tensor<1x2x3x2x2xf32>
// CHECK-NEXT:  %2 = nn.transpose %1 attributes {perm = array<i64: 0, 1, 2, 4, 3>} : (tensor<1x2x3x2x2xf32>) -> tensor<1x2x3x2x2xf32>
// CHECK-NEXT:  %3 = nn.reshape %2 attributes {shape = array<i64: 1, 6, 2, 2>} : (tensor<1x2x3x2x2xf32>) -> tensor<1x6x2x2xf32>
// CHECK-NEXT:  return %0, %3 : tensor<1x6x2x2xf32>, tensor<1x6x2x2xf32>
// CHECK-NEXT:  }
func.func @shuffle_channel(%x: tensor<1x6x2x2xf32>) -> (tensor<1x6x2x2xf32>, tensor<1x6x2x2xf32>) {
  %0 = nn.reshape %x attributes {shape = array<i64: 1, 2, 3, 2, 2>} : (tensor<1x6x2x2xf32>) -> tensor<1x2x3x2x2xf32>
  %1 = nn.transpose %0 attributes {perm = array<i64: 0, 2, 1, 3, 4>} : (tensor<1x2x3x2x2xf32>) -> tensor<1x3x2x2x2xf32>
  %2 = nn.reshape %1 attributes {shape = array<i64: 1, 6, 2, 2>} : (tensor<1x3x2x2x2xf32>) -> tensor<1x6x2x2xf32>
  %3 = nn.reshape %x attributes {shape = array<i64: 1, 2, 3, 2, 2>} : (tensor<1x6x2x2xf32>) -> tensor<1x2x3x2x2xf32>
  %4 = nn.transpose %3 attributes {perm = array<i64: 0, 1, 2, 4, 3>} : (tensor<1x2x3x2x2xf32>) -> tensor<1x2x3x2x2xf32>
  %5 = nn.reshape %4 attributes {shape = array<i64: 1, 6, 2, 2>} : (tensor<1x2x3x2x2xf32>) -> tensor<1x6x2x2xf32>
  func.return %2, %5 : tensor<1x6x2x2xf32>, tensor<1x6x2x2xf32>
}
