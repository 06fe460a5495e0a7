// combine-ops's two options, off by default: conv1x1-to-gemm and gemm-to-conv1x1 (one at a time;
// both at once is an error, tested in tests/test_combine_ops.py).
// RUN: lamina opt %s -p 'combine-ops{conv1x1-to-gemm=true}' | filecheck %s --check-prefix=TOGEMM
// RUN: lamina opt %s -p 'combine-ops{gemm-to-conv1x1=true}' | filecheck %s --check-prefix=TOCONV

// Conv1x1ToGemm (TOGEMM): a 1x1 conv on a 1x1 image is a gemm between two reshapes;
// GemmToConv1x1 (TOCONV) leaves it.
// TOGEMM-LABEL: func.func @conv1x1_on_pooled(%x: tensor<2x3x1x1xf32>) -> tensor<2x4x1x1xf32> {
// TOGEMM-NEXT:  %b = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>} : () -> tensor<4xf32>
// TOGEMM-NEXT:  %0 = nn.reshape %x attributes {shape = array<i64: 2, 3>} : (tensor<2x3x1x1xf32>) -> tensor<2x3xf32>
// TOGEMM-NEXT:  %1 = nn.constant attributes {value = dense<1.000000e+00> : tensor<4x3xf32>} : () -> tensor<4x3xf32>
// TOGEMM-NEXT:  %2 = nn.gemm %0, %1, %b attributes {trans_b = 1 : i64} : (tensor<2x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<2x4xf32>
// TOGEMM-NEXT:  %3 = nn.reshape %2 attributes {shape = array<i64: 2, 4, 1, 1>} : (tensor<2x4xf32>) -> tensor<2x4x1x1xf32>
// TOGEMM-NEXT:  return %3 : tensor<2x4x1x1xf32>
// TOGEMM-NEXT:  }
// TOCONV-LABEL: func.func @conv1x1_on_pooled(%x: tensor<2x3x1x1xf32>) -> tensor<2x4x1x1xf32> {
// TOCONV-NEXT:  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<4x3x1x1xf32>} : () -> tensor<4x3x1x1xf32>
// TOCONV-NEXT:  %b = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>} : () -> tensor<4xf32>
// TOCONV-NEXT:  %0 = nn.conv2d %x, %w, %b : (tensor<2x3x1x1xf32>, tensor<4x3x1x1xf32>, tensor<4xf32>) -> tensor<2x4x1x1xf32>
// TOCONV-NEXT:  return %0 : tensor<2x4x1x1xf32>
// TOCONV-NEXT:  }
func.func @conv1x1_on_pooled(%x: tensor<2x3x1x1xf32>) -> tensor<2x4x1x1xf32> {
  %w = nn.constant attributes {value = dense<1.000000e+00> : tensor<4x3x1x1xf32>} : () -> tensor<4x3x1x1xf32>
  %b = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>} : () -> tensor<4xf32>
  %0 = nn.conv2d %x, %w, %b : (tensor<2x3x1x1xf32>, tensor<4x3x1x1xf32>, tensor<4xf32>) -> tensor<2x4x1x1xf32>
  func.return %0 : tensor<2x4x1x1xf32>
}

// GemmToConv1x1 (TOCONV): the gemm becomes a 1x1 conv, b transposed to [N, K] (b is an
// argument: an nn.transpose); Conv1x1ToGemm (TOGEMM) leaves it.
// TOGEMM-LABEL: func.func @gemm(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
// TOGEMM-NEXT:  %c = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>} : () -> tensor<4xf32>
// TOGEMM-NEXT:  %0 = nn.gemm %a, %b, %c : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
// TOGEMM-NEXT:  return %0 : tensor<2x4xf32>
// TOGEMM-NEXT:  }
// TOCONV-LABEL: func.func @gemm(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
// TOCONV-NEXT:  %c = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>} : () -> tensor<4xf32>
// TOCONV-NEXT:  %0 = nn.transpose %b attributes {perm = array<i64: 1, 0>} : (tensor<3x4xf32>) -> tensor<4x3xf32>
// TOCONV-NEXT:  %1 = nn.reshape %a attributes {shape = array<i64: 2, 3, 1, 1>} : (tensor<2x3xf32>) -> tensor<2x3x1x1xf32>
// TOCONV-NEXT:  %2 = nn.reshape %0 attributes {shape = array<i64: 4, 3, 1, 1>} : (tensor<4x3xf32>) -> tensor<4x3x1x1xf32>
// TOCONV-NEXT:  %3 = nn.conv2d %1, %2, %c : (tensor<2x3x1x1xf32>, tensor<4x3x1x1xf32>, tensor<4xf32>) -> tensor<2x4x1x1xf32>
// TOCONV-NEXT:  %4 = nn.reshape %3 attributes {shape = array<i64: 2, 4>} : (tensor<2x4x1x1xf32>) -> tensor<2x4xf32>
// TOCONV-NEXT:  return %4 : tensor<2x4xf32>
// TOCONV-NEXT:  }
func.func @gemm(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %c = nn.constant attributes {value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>} : () -> tensor<4xf32>
  %0 = nn.gemm %a, %b, %c : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
