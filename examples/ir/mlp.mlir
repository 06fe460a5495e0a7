// A two-layer perceptron on a batch of two, split into functions: a dense layer with a ReLU
// (maximumf with zero), called twice. Locations name the ONNX nodes the ops came from. The
// optimizer folds the scale by one, merges the recomputed bias and drops the unused value.
// Try: lamina opt examples/ir/mlp.mlir -p "canonicalize,cse,dce" --print-ir-after-change
module @mlp attributes {lamina.source = "mlp.onnx"} {
  func.func @dense_relu(%x: tensor<2x4xf32>, %w: tensor<2x4xf32>, %b: tensor<2x4xf32>) -> tensor<2x4xf32> {
    %xw = arith.mulf %x, %w : tensor<2x4xf32> loc("mlp.onnx":3:1)
    %y = arith.addf %xw, %b : tensor<2x4xf32> loc("mlp.onnx":4:1)
    %zero = arith.constant dense<0.000000e+00> : tensor<2x4xf32>
    %r = arith.maximumf %y, %zero : tensor<2x4xf32> loc("relu")
    func.return %r : tensor<2x4xf32>
  }
  func.func @main(%input: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
    %w1 = arith.constant dense<[[0.5, -1.0, 2.0, 0.25], [1.0, 1.0, -0.5, 3.0]]> : tensor<2x4xf32>
    %w2 = arith.constant dense<2.000000e+00> : tensor<2x4xf32>
    %one = arith.constant dense<1.000000e+00> : tensor<2x4xf32>
    %b1 = arith.constant dense<[[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8]]> : tensor<2x4xf32>
    %b1_again = arith.constant dense<[[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8]]> : tensor<2x4xf32>
    %scaled = arith.mulf %input, %one : tensor<2x4xf32>
    %h = func.call @dense_relu(%scaled, %w1, %b1) : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32> loc("layer1")
    %out = func.call @dense_relu(%h, %w2, %b1_again) : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32> loc("layer2")
    %unused = arith.negf %out : tensor<2x4xf32>
    func.return %out, %h : tensor<2x4xf32>, tensor<2x4xf32>
  }
}
