// lower-nn-to-loops on image ops: conv2d and pooling are a nest over the output and an
// accumulating scf.for nest over the window; taps in the padding are skipped by an scf.if on
// the bounds (emitted only where padding can be reached); blocked layouts (NCHW{c}c, packed
// OIHW{c}i{c}o weights) are read by logical index with divui / remui. With parallel=true the
// outermost loop over output elements is an scf.parallel; reductions stay scf.for.
// RUN: lamina opt %s -p lower-nn-to-loops | filecheck %s
// RUN: lamina opt %s -p "lower-nn-to-loops{parallel=true}" | filecheck %s --check-prefix=PAR

// 3x3 convolution with padding 1 and a bias: the sum over (ic, kh, kw) is carried through
// three scf.for's iter_args; the scf.if yields the sum with the tap, or the sum unchanged.
// CHECK-LABEL: func.func @conv(%x: memref<1x2x5x5xf32>, %out0: memref<1x4x5x5xf32>)
// CHECK:         %w = memref.get_global @w : memref<4x2x3x3xf32>
// CHECK-NEXT:    %b = memref.get_global @b : memref<4xf32>
// CHECK-NEXT:    scf.for %c = %c0 to %c4 step %c1 {
// CHECK-NEXT:      scf.for %h = %c0 to %c5 step %c1 {
// CHECK-NEXT:        scf.for %w_1 = %c0 to %c5 step %c1 {
// CHECK-NEXT:          %acc = scf.for %ic = %c0 to %c2 step %c1 iter_args(%acc_1 = %cst) -> (f32) {
// CHECK-NEXT:            %acc_2 = scf.for %kh = %c0 to %c3 step %c1 iter_args(%acc_3 = %acc_1) -> (f32) {
// CHECK-NEXT:              %acc_4 = scf.for %kw = %c0 to %c3 step %c1 iter_args(%acc_5 = %acc_3) -> (f32) {
// CHECK:                     %ih = arith.subi %{{.*}}, %c1 : index
// CHECK:                     %iw = arith.subi %{{.*}}, %c1 : index
// CHECK:                     %inside = arith.andi
// CHECK-NEXT:                %acc_6 = scf.if %inside -> f32 {
// CHECK-NEXT:                  %x_1 = memref.load %x[%c0, %ic, %ih, %iw] : memref<1x2x5x5xf32>
// CHECK-NEXT:                  %w_2 = memref.load %w[%c, %ic, %kh, %kw] : memref<4x2x3x3xf32>
// CHECK-NEXT:                  %p = arith.mulf %x_1, %w_2 : f32
// CHECK-NEXT:                  %s = arith.addf %acc_5, %p : f32
// CHECK-NEXT:                  scf.yield %s : f32
// CHECK-NEXT:                } else {
// CHECK-NEXT:                  scf.yield %acc_5 : f32
// CHECK-NEXT:                }
// CHECK-NEXT:                scf.yield %acc_6 : f32
// CHECK:                 %bias = memref.load %b[%c] : memref<4xf32>
// CHECK-NEXT:            %y = arith.addf %acc, %bias : f32
// CHECK-NEXT:            memref.store %y, %out0[%c0, %c, %h, %w_1] : memref<1x4x5x5xf32>
func.func @conv(%x: tensor<1x2x5x5xf32>) -> tensor<1x4x5x5xf32> {
  %w = nn.constant attributes {value = dense<2.500000e-01> : tensor<4x2x3x3xf32>} : () -> tensor<4x2x3x3xf32>
  %b = nn.constant attributes {value = dense<1.000000e+00> : tensor<4xf32>} : () -> tensor<4xf32>
  %y = nn.conv2d %x, %w, %b attributes {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x2x5x5xf32>, tensor<4x2x3x3xf32>, tensor<4xf32>) -> tensor<1x4x5x5xf32>
  func.return %y : tensor<1x4x5x5xf32>
}

// 2x2 max pool, stride 2, no padding: no bounds test; the max starts at -inf (a window of -inf
// alone is -inf).
// CHECK-LABEL: func.func @max_pool(%x: memref<1x3x6x6xf32>, %out0: memref<1x3x3x3xf32>)
// CHECK:         %cst = arith.constant 0xFF800000 : f32
// CHECK-NOT:     arith.constant -3.4028234663852886e+38
// CHECK:         scf.for %c = %c0 to %c3 step %c1 {
// CHECK-NEXT:      scf.for %h = %c0 to %c3 step %c1 {
// CHECK-NEXT:        scf.for %w = %c0 to %c3 step %c1 {
// CHECK-NEXT:          %h0 = arith.muli %h, %c2 : index
// CHECK-NEXT:          %w0 = arith.muli %w, %c2 : index
// CHECK-NEXT:          %acc = scf.for %kh = %c0 to %c2 step %c1 iter_args(%acc_1 = %cst) -> (f32) {
// CHECK-NEXT:            %acc_2 = scf.for %kw = %c0 to %c2 step %c1 iter_args(%acc_3 = %acc_1) -> (f32) {
// CHECK-NEXT:              %ih = arith.addi %h0, %kh : index
// CHECK-NEXT:              %iw = arith.addi %w0, %kw : index
// CHECK-NEXT:              %x_1 = memref.load %x[%c0, %c, %ih, %iw] : memref<1x3x6x6xf32>
// CHECK-NEXT:              %m = arith.maximumf %acc_3, %x_1 : f32
// CHECK-NEXT:              scf.yield %m : f32
// CHECK:               memref.store %acc, %out0[%c0, %c, %h, %w] : memref<1x3x3x3xf32>
// PAR-LABEL:   func.func @max_pool(
// PAR:           "scf.parallel"(%c0, %c3, %c1) <{operandSegmentSizes = array<i32: 1, 1, 1, 0>}> ({
// PAR-NEXT:      ^bb0(%c: index):
// PAR-NEXT:        scf.for %h = %c0 to %c3 step %c1 {
// PAR:               %acc = scf.for %kh = %c0 to %c2 step %c1 iter_args(%acc_1 = %cst) -> (f32) {
// PAR:             scf.reduce
// PAR-NEXT:      }) : (index, index, index) -> ()
func.func @max_pool(%x: tensor<1x3x6x6xf32>) -> tensor<1x3x3x3xf32> {
  %y = nn.max_pool2d %x attributes {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x3x6x6xf32>) -> tensor<1x3x3x3xf32>
  func.return %y : tensor<1x3x3x3xf32>
}

// Padded max pool: a tap in the padding counts as the lowest finite f32 (what a window of
// padding alone gives, as the numpy reference and ONNX Runtime); the max still starts at -inf.
// CHECK-LABEL: func.func @max_pool_padded(%x: memref<1x1x3x3xf32>, %out0: memref<1x1x2x2xf32>)
// CHECK:         %cst = arith.constant 0xFF800000 : f32
// CHECK-NEXT:    %cst_1 = arith.constant -3.4028234663852886e+38 : f32
// CHECK:         %acc = scf.for %kh = %c0 to %c2 step %c1 iter_args(%acc_1 = %cst) -> (f32) {
// CHECK:             %inside = arith.andi %2, %3 : i1
// CHECK-NEXT:        %acc_4 = scf.if %inside -> f32 {
// CHECK-NEXT:          %x_1 = memref.load %x[%c0, %c0, %ih, %iw] : memref<1x1x3x3xf32>
// CHECK-NEXT:          %m = arith.maximumf %acc_3, %x_1 : f32
// CHECK-NEXT:          scf.yield %m : f32
// CHECK-NEXT:        } else {
// CHECK-NEXT:          %m_1 = arith.maximumf %acc_3, %cst_1 : f32
// CHECK-NEXT:          scf.yield %m_1 : f32
// CHECK-NEXT:        }
func.func @max_pool_padded(%x: tensor<1x1x3x3xf32>) -> tensor<1x1x2x2xf32> {
  %y = nn.max_pool2d %x attributes {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>} : (tensor<1x1x3x3xf32>) -> tensor<1x1x2x2xf32>
  func.return %y : tensor<1x1x2x2xf32>
}

// NCHW2c with OIHW2i2o weights (what convert-layout{to=NCHWc c=2} makes): the nest runs over the
// output's own axes (cb, h, w, ci); the logical channel is cb * 2 + ci, and each load splits the
// logical channels it reads back into blocks.
// CHECK-LABEL: func.func @conv_nchw2c(%x: memref<1x2x4x4x2xf32>, %out0: memref<1x2x4x4x2xf32>)
// CHECK:         scf.for %cb = %c0 to %c2 step %c1 {
// CHECK-NEXT:      scf.for %h = %c0 to %c4 step %c1 {
// CHECK-NEXT:        scf.for %w_1 = %c0 to %c4 step %c1 {
// CHECK-NEXT:          scf.for %ci = %c0 to %c2 step %c1 {
// CHECK-NEXT:            %[[CB2:.*]] = arith.muli %cb, %c2 : index
// CHECK-NEXT:            %c = arith.addi %[[CB2]], %ci : index
// CHECK-NEXT:            %acc = scf.for %ic = %c0 to %c4 step %c1 iter_args(%acc_1 = %cst) -> (f32) {
// CHECK-NEXT:              %[[ICB:.*]] = arith.divui %ic, %c2 : index
// CHECK-NEXT:              %[[ICI:.*]] = arith.remui %ic, %c2 : index
// CHECK-NEXT:              %x_1 = memref.load %x[%c0, %[[ICB]], %h, %w_1, %[[ICI]]] : memref<1x2x4x4x2xf32>
// CHECK:                   %w_2 = memref.load %w[{{.*}}] : memref<2x2x1x1x2x2xf32>
// CHECK:                 memref.store %acc, %out0[%c0, %cb, %h, %w_1, %ci] : memref<1x2x4x4x2xf32>
func.func @conv_nchw2c(%x: tensor<1x2x4x4x2xf32>) -> tensor<1x2x4x4x2xf32> {
  %w = nn.constant attributes {value = dense<2.500000e-01> : tensor<2x2x1x1x2x2xf32>} : () -> tensor<2x2x1x1x2x2xf32>
  %y = nn.conv2d %x, %w attributes {layout = "NCHW2c", weight_layout = "OIHW2i2o"} : (tensor<1x2x4x4x2xf32>, tensor<2x2x1x1x2x2xf32>) -> tensor<1x2x4x4x2xf32>
  func.return %y : tensor<1x2x4x4x2xf32>
}
