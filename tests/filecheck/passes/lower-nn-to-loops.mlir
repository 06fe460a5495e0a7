// lower-nn-to-loops (lowering/loops/): nn functions on tensors -> loops on memrefs, in
// destination-passing style: the inputs, then one memref per result (written by the function),
// nothing returned. Constants become memref.globals; intermediates are views into one planned
// arena (memref.alloc, 64-byte aligned) freed at the end; reshapes are views, not copies.
// RUN: lamina opt %s -p lower-nn-to-loops | filecheck %s

// Elementwise, with a broadcast operand: one nest per op; the bias is read at [%j] only. The
// sum is an intermediate (a view of the arena); the relu writes the result buffer %out0.
// CHECK-LABEL: func.func @bias_relu(%x: memref<2x4xf32>, %b: memref<4xf32>, %out0: memref<2x4xf32>) attributes {lamina.num_results = 1 : i64} {
// CHECK:         %arena = "memref.alloc"() <{alignment = 64 : i64, {{.*}}}> : () -> memref<16xf32>
// CHECK-NEXT:    %a = "memref.reinterpret_cast"(%arena) {{.*}} : (memref<16xf32>) -> memref<2x4xf32>
// CHECK-NEXT:    scf.for %i = %c0 to %c2 step %c1 {
// CHECK-NEXT:      scf.for %j = %c0 to %c4 step %c1 {
// CHECK-NEXT:        %[[A:.*]] = memref.load %x[%i, %j] : memref<2x4xf32>
// CHECK-NEXT:        %[[B:.*]] = memref.load %b[%j] : memref<4xf32>
// CHECK-NEXT:        %z = arith.addf %[[A]], %[[B]] : f32
// CHECK-NEXT:        memref.store %z, %a[%i, %j] : memref<2x4xf32>
// CHECK:           %y = arith.maximumf %{{.*}}, %cst : f32
// CHECK-NEXT:      memref.store %y, %out0[%{{.*}}] : memref<2x4xf32>
// CHECK:         memref.dealloc %arena : memref<16xf32>
// CHECK-NEXT:    return
func.func @bias_relu(%x: tensor<2x4xf32>, %b: tensor<4xf32>) -> tensor<2x4xf32> {
  %a = nn.add %x, %b : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %r = nn.relu %a : (tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %r : tensor<2x4xf32>
}

// gemm with trans_b: the weight is a private constant global; the output is zero-filled, then an
// i-k-j nest accumulates into it in memory, j (the output's unit-stride dim) innermost; the batch
// dim of size 1 has no loop (its index is %c0).
// CHECK:       "memref.global"() <{constant, initial_value = dense<5.000000e-01> : tensor<3x8xf32>, sym_name = "w", sym_visibility = "private", type = memref<3x8xf32>}> : () -> ()
// CHECK-LABEL: func.func @dense(%x: memref<1x8xf32>, %out0: memref<1x3xf32>)
// CHECK:         %w = memref.get_global @w : memref<3x8xf32>
// CHECK-NEXT:    scf.for %j = %c0 to %c3 step %c1 {
// CHECK-NEXT:      memref.store %cst, %out0[%c0, %j] : memref<1x3xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    scf.for %k = %c0 to %c8 step %c1 {
// CHECK-NEXT:      %aik = memref.load %x[%c0, %k] : memref<1x8xf32>
// CHECK-NEXT:      scf.for %j_1 = %c0 to %c3 step %c1 {
// CHECK-NEXT:        %bkj = memref.load %w[%j_1, %k] : memref<3x8xf32>
// CHECK-NEXT:        %cij = memref.load %out0[%c0, %j_1] : memref<1x3xf32>
// CHECK-NEXT:        %p = arith.mulf %aik, %bkj : f32
// CHECK-NEXT:        %s = arith.addf %cij, %p : f32
// CHECK-NEXT:        memref.store %s, %out0[%c0, %j_1] : memref<1x3xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    return
func.func @dense(%x: tensor<1x8xf32>) -> tensor<1x3xf32> {
  %w = nn.constant attributes {value = dense<5.000000e-01> : tensor<3x8xf32>} : () -> tensor<3x8xf32>
  %y = nn.gemm %x, %w attributes {trans_b = 1 : i64} : (tensor<1x8xf32>, tensor<3x8xf32>) -> tensor<1x3xf32>
  func.return %y : tensor<1x3xf32>
}

// A reduction over axis 1: a loop over the kept dim, an accumulating loop over the reduced one.
// CHECK-LABEL: func.func @row_sum(%x: memref<4x8xf32>, %out0: memref<4xf32>)
// CHECK:         scf.for %i = %c0 to %c4 step %c1 {
// CHECK-NEXT:      %acc = scf.for %rj = %c0 to %c8 step %c1 iter_args(%acc_1 = %cst) -> (f32) {
// CHECK-NEXT:        %[[X:.*]] = memref.load %x[%i, %rj] : memref<4x8xf32>
// CHECK-NEXT:        %r = arith.addf %acc_1, %[[X]] : f32
// CHECK-NEXT:        scf.yield %r : f32
// CHECK-NEXT:      }
// CHECK-NEXT:      memref.store %acc, %out0[%i] : memref<4xf32>
func.func @row_sum(%x: tensor<4x8xf32>) -> tensor<4xf32> {
  %s = nn.reduce_sum %x attributes {axes = array<i64: 1>, keepdims = 0 : i64} : (tensor<4x8xf32>) -> tensor<4xf32>
  func.return %s : tensor<4xf32>
}

// softmax, max-subtracted as the reference: a max loop (from -inf), a sum loop, a writing loop.
// CHECK-LABEL: func.func @softmax(%x: memref<2x10xf32>, %out0: memref<2x10xf32>)
// CHECK:         %[[NEG_INF:.*]] = arith.constant 0xFF800000 : f32
// CHECK:         scf.for %i = %c0 to %c2 step %c1 {
// CHECK-NEXT:      %max = scf.for %k = %c0 to %c10 step %c1 iter_args(%max_1 = %[[NEG_INF]]) -> (f32) {
// CHECK:             %m = arith.maximumf %max_1, %{{.*}} : f32
// CHECK:           %sum = scf.for %k_1 = %c0 to %c10 step %c1 iter_args(%sum_1 = %{{.*}}) -> (f32) {
// CHECK:             %shifted = arith.subf %{{.*}}, %max : f32
// CHECK-NEXT:        %e = math.exp %shifted : f32
// CHECK-NEXT:        %s = arith.addf %sum_1, %e : f32
// CHECK:           scf.for %k_2 = %c0 to %c10 step %c1 {
// CHECK:             %y = arith.divf %{{.*}}, %sum : f32
// CHECK-NEXT:        memref.store %y, %out0[%i, %k_2] : memref<2x10xf32>
func.func @softmax(%x: tensor<2x10xf32>) -> tensor<2x10xf32> {
  %s = nn.softmax %x : (tensor<2x10xf32>) -> tensor<2x10xf32>
  func.return %s : tensor<2x10xf32>
}

// Data movement: a transpose is a nest that loads permuted; the reshape after it is a view of
// the transpose's buffer (memref.reinterpret_cast: no loop, no copy). %e and %t are live at once
// (the transpose reads one and writes the other), so the arena holds both; %t starts at 32.
// CHECK-LABEL: func.func @chain(%x: memref<2x3x4xf32>, %out0: memref<6x4xf32>)
// CHECK:         %arena = "memref.alloc"() {{.*}} -> memref<64xf32>
// CHECK:         %t = "memref.reinterpret_cast"(%arena) {{.*}}static_offsets = array<i64: 32>{{.*}} -> memref<3x2x4xf32, strided<[8, 4, 1], offset: 32>>
// CHECK-NEXT:    scf.for %i_1 = %c0 to %c3 step %c1 {
// CHECK-NEXT:      scf.for %j_1 = %c0 to %c2 step %c1 {
// CHECK-NEXT:        scf.for %k_1 = %c0 to %c4 step %c1 {
// CHECK-NEXT:          %[[V:.*]] = memref.load %e[%j_1, %i_1, %k_1] : memref<2x3x4xf32>
// CHECK-NEXT:          memref.store %[[V]], %t[%i_1, %j_1, %k_1]
// CHECK:         %f = "memref.reinterpret_cast"(%t) {{.*}} -> memref<6x4xf32, strided<[4, 1], offset: 32>>
// CHECK-NEXT:    scf.for %i_2 = %c0 to %c6 step %c1 {
// CHECK:             %y_1 = arith.negf %{{.*}} : f32
// CHECK-NEXT:        memref.store %y_1, %out0[%i_2, %j_2] : memref<6x4xf32>
func.func @chain(%x: tensor<2x3x4xf32>) -> tensor<6x4xf32> {
  %e = nn.exp %x : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %t = nn.transpose %e attributes {perm = array<i64: 1, 0, 2>} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
  %f = nn.reshape %t attributes {shape = array<i64: 6, 4>} : (tensor<3x2x4xf32>) -> tensor<6x4xf32>
  %n = nn.neg %f : (tensor<6x4xf32>) -> tensor<6x4xf32>
  func.return %n : tensor<6x4xf32>
}
