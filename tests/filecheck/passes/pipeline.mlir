// A whole pipeline on a dense layer, and pass options in braces (space separated, as in MLIR).
// RUN: lamina opt %s -p "canonicalize,cse,dce" | filecheck %s
// RUN: lamina opt %s -p "canonicalize{fold=false}" | filecheck %s --check-prefix=NOFOLD
// RUN: lamina opt %s -p "canonicalize{max-iterations=8 fold=true},cse" | filecheck %s --check-prefix=OPTS
// RUN: lamina opt %s | filecheck %s --check-prefix=EMPTY

// CHECK-LABEL: func.func @main(%x: tensor<2x4xf32>, %w: tensor<2x4xf32>) -> tensor<2x4xf32> {
// CHECK-NEXT:    [[B:%.*]] = arith.constant dense<{{\[\[}}5.000000e-01, 1.000000e+00, 1.500000e+00, 2.000000e+00], [2.500000e+00, 3.000000e+00, 3.500000e+00, 4.000000e+00]]> : tensor<2x4xf32>
// CHECK-NEXT:    %xw = arith.mulf %x, %w : tensor<2x4xf32>
// CHECK-NEXT:    %y = arith.addf %xw, [[B]] : tensor<2x4xf32>
// CHECK-NEXT:    return %y : tensor<2x4xf32>
// CHECK-NEXT:  }

// Without folds, canonicalize only erases dead ops (%again, %unused); x * 1 and the constant
// product stay.
// NOFOLD-LABEL: func.func @main(
// NOFOLD:         %bias = arith.mulf %b0, %half : tensor<2x4xf32>
// NOFOLD-NEXT:    %xw = arith.mulf %x, %w : tensor<2x4xf32>
// NOFOLD-NEXT:    %xw1 = arith.mulf %xw, %one : tensor<2x4xf32>
// NOFOLD-NEXT:    %y = arith.addf %xw1, %bias : tensor<2x4xf32>

// OPTS-LABEL: func.func @main(
// OPTS-NEXT:    arith.constant dense<{{\[\[}}5.000000e-01,
// OPTS-NEXT:    %xw = arith.mulf %x, %w : tensor<2x4xf32>
// OPTS-NEXT:    %y = arith.addf %xw, {{%.*}} : tensor<2x4xf32>
// OPTS-NEXT:    return %y

// No pipeline: the IR comes back as it went in.
// EMPTY-LABEL: func.func @main(
// EMPTY-NEXT:    %one = arith.constant dense<1.000000e+00> : tensor<2x4xf32>
// EMPTY:         %unused = arith.addf %again, %bias : tensor<2x4xf32>
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
