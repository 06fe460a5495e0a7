// A dense layer's arithmetic on small tensors, with work for the optimizer:
// a multiplication by one, a recomputed sum, and constants that fold.
// Try: lamina opt examples/ir/dense_layer.mlir -p "canonicalize,cse,dce" --print-ir-after-change
module @dense_layer {
  func.func @main(%x: tensor<2x4xf32>, %w: tensor<2x4xf32>) -> tensor<2x4xf32> {
    %one = arith.constant dense<1.000000e+00> : tensor<2x4xf32>
    %b0 = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]> : tensor<2x4xf32>
    %half = arith.constant dense<5.000000e-01> : tensor<2x4xf32>
    %bias = arith.mulf %b0, %half : tensor<2x4xf32>
    %xw = arith.mulf %x, %w : tensor<2x4xf32>
    %xw1 = arith.mulf %xw, %one : tensor<2x4xf32>
    %again = arith.mulf %x, %w : tensor<2x4xf32>
    %unused = arith.addf %again, %bias : tensor<2x4xf32>
    %y = arith.addf %xw1, %bias : tensor<2x4xf32>
    func.return %y : tensor<2x4xf32>
  }
}
