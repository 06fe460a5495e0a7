// The vector dialect: values of several scalars in registers (the matmul micro-kernel's, see
// lowering/loops/microkernel.py), in MLIR's custom and generic forms.
// RUN: lamina opt %s | filecheck %s
// RUN: lamina opt %s --print-generic | filecheck %s --check-prefix=GENERIC
// RUN: lamina opt %s --emit llvm | filecheck %s --check-prefix=LLVM

// CHECK-LABEL: func.func @axpy(%a: f32, %x: memref<4x32xf32>, %y: memref<4x32xf32>, %i: index, %j: index) {
// CHECK-NEXT:    %xv = vector.load %x[%i, %j] : memref<4x32xf32>, vector<16xf32>
// CHECK-NEXT:    %yv = vector.load %y[%i, %j] : memref<4x32xf32>, vector<16xf32>
// CHECK-NEXT:    %av = vector.broadcast %a : f32 to vector<16xf32>
// CHECK-NEXT:    %r = vector.fma %av, %xv, %yv : vector<16xf32>
// CHECK-NEXT:    vector.store %r, %y[%i, %j] : memref<4x32xf32>, vector<16xf32>
// CHECK-NEXT:    return

// GENERIC:      %xv = "vector.load"(%x, %i, %j) : (memref<4x32xf32>, index, index) -> vector<16xf32>
// GENERIC:      %av = "vector.broadcast"(%a) : (f32) -> vector<16xf32>
// GENERIC-NEXT: %r = "vector.fma"(%av, %xv, %yv) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// GENERIC-NEXT: "vector.store"(%r, %y, %i, %j) : (vector<16xf32>, memref<4x32xf32>, index, index) -> ()

// LLVM:      %xv = load <16 x float>, ptr %{{.*}}, align 4
// LLVM:      %av = shufflevector <16 x float> %{{.*}}, <16 x float> poison, <16 x i32> zeroinitializer
// LLVM-NEXT: %r = tail call <16 x float> @llvm.fma.v16f32(<16 x float> %av, <16 x float> %xv, <16 x float> %yv)
// LLVM-NEXT: store <16 x float> %r, ptr %{{.*}}, align 4
func.func @axpy(%a: f32, %x: memref<4x32xf32>, %y: memref<4x32xf32>, %i: index, %j: index) {
  %xv = vector.load %x[%i, %j] : memref<4x32xf32>, vector<16xf32>
  %yv = vector.load %y[%i, %j] : memref<4x32xf32>, vector<16xf32>
  %av = vector.broadcast %a : f32 to vector<16xf32>
  %r = vector.fma %av, %xv, %yv : vector<16xf32>
  vector.store %r, %y[%i, %j] : memref<4x32xf32>, vector<16xf32>
  func.return
}
