// loop-unroll: innermost scf.for loops are unrolled by `factor`; copy k reads %iv + k * step and
// the loop-carried values copy k - 1 yields. What does not divide runs in a remainder loop.
// RUN: lamina opt %s -p "loop-unroll{factor=4}" | filecheck %s
// RUN: lamina opt %s -p "loop-unroll{factor=4 full=true full-limit=3}" | filecheck %s --check-prefix=FULL

// 10 iterations by 4: a main loop to 8 stepping by 4, and the original loop from 8 to 10, which
// starts from the main loop's sum.
// CHECK-LABEL: func.func @sum
// CHECK:         %c8 = arith.constant 8 : index
// CHECK:         %0 = scf.for %j = %c0 to %c8 step %c4 iter_args(%acc = %zero) -> (f32) {
// CHECK-NEXT:      %x = memref.load %a[%j] : memref<10xf32>
// CHECK-NEXT:      %next = arith.addf %acc, %x : f32
// CHECK-NEXT:      %j1 = arith.addi %j, %c1 : index
// CHECK-NEXT:      %x_1 = memref.load %a[%j1] : memref<10xf32>
// CHECK-NEXT:      %next_1 = arith.addf %next, %x_1 : f32
// CHECK-NEXT:      %j2 = arith.addi %j, %c2 : index
// CHECK-NEXT:      %x_2 = memref.load %a[%j2] : memref<10xf32>
// CHECK-NEXT:      %next_2 = arith.addf %next_1, %x_2 : f32
// CHECK-NEXT:      %j3 = arith.addi %j, %c3 : index
// CHECK-NEXT:      %x_3 = memref.load %a[%j3] : memref<10xf32>
// CHECK-NEXT:      %next_3 = arith.addf %next_2, %x_3 : f32
// CHECK-NEXT:      scf.yield %next_3 : f32
// CHECK-NEXT:    }
// CHECK-NEXT:    %sum = scf.for %{{.*}} = %c8 to %c10 step %c1 iter_args(%{{.*}} = %0) -> (f32) {
// CHECK:         memref.store %sum, %out[%c0] : memref<1xf32>
// FULL-LABEL:  func.func @sum
// FULL:          %0 = scf.for %j = %c0 to %c8 step %c4
// FULL:          %sum = scf.for %{{.*}} = %c8 to %c10 step %c1
func.func @sum(%a: memref<10xf32>, %out: memref<1xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c10 = arith.constant 10 : index
  %zero = arith.constant 0.0 : f32
  %sum = scf.for %j = %c0 to %c10 step %c1 iter_args(%acc = %zero) -> (f32) {
    %x = memref.load %a[%j] : memref<10xf32>
    %next = arith.addf %acc, %x : f32
    scf.yield %next : f32
  }
  memref.store %sum, %out[%c0] : memref<1xf32>
  func.return
}

// 8 iterations of step 2 by 4 divides: no remainder loop. Only the innermost loop is unrolled.
// CHECK-LABEL: func.func @copy_rows
// CHECK:         scf.for %i = %c0 to %c3 step %c1 {
// CHECK-NEXT:      scf.for %j = %c0 to %c16 step %c8 {
// CHECK-NEXT:        %x = memref.load %a[%i, %j] : memref<3x16xf32>
// CHECK-NEXT:        memref.store %x, %out[%i, %j] : memref<3x16xf32>
// CHECK-NEXT:        %j1 = arith.addi %j, %c2 : index
// CHECK:             %j3 = arith.addi %j, %c6 : index
// CHECK-NEXT:        %x_3 = memref.load %a[%i, %j3] : memref<3x16xf32>
// CHECK-NEXT:        memref.store %x_3, %out[%i, %j3] : memref<3x16xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    return
func.func @copy_rows(%a: memref<3x16xf32>, %out: memref<3x16xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c16 = arith.constant 16 : index
  scf.for %i = %c0 to %c3 step %c1 {
    scf.for %j = %c0 to %c16 step %c2 {
      %x = memref.load %a[%i, %j] : memref<3x16xf32>
      memref.store %x, %out[%i, %j] : memref<3x16xf32>
    }
  }
  func.return
}

// A trip count below the factor is left alone; with full=true and at most full-limit
// iterations, the loop is replaced by its copies with constant induction variables.
// CHECK-LABEL: func.func @short
// CHECK:         scf.for %j = %c0 to %c3 step %c1 {
// FULL-LABEL:  func.func @short
// FULL-NOT:      scf.for
// FULL:          %x = memref.load %a[%c0] : memref<3xf32>
// FULL-NEXT:     memref.store %x, %out[%c0] : memref<3xf32>
// FULL-NEXT:     %x_1 = memref.load %a[%c1] : memref<3xf32>
// FULL-NEXT:     memref.store %x_1, %out[%c1] : memref<3xf32>
// FULL-NEXT:     %x_2 = memref.load %a[%c2] : memref<3xf32>
// FULL-NEXT:     memref.store %x_2, %out[%c2] : memref<3xf32>
// FULL-NEXT:     return
func.func @short(%a: memref<3xf32>, %out: memref<3xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  scf.for %j = %c0 to %c3 step %c1 {
    %x = memref.load %a[%j] : memref<3xf32>
    memref.store %x, %out[%j] : memref<3xf32>
  }
  func.return
}

// Bounds that are not constants: the main loop ends at lb + (ub - lb) / 4 * 4, and the
// remainder loop is always there.
// CHECK-LABEL: func.func @dynamic
// CHECK:         %0 = arith.subi %n, %c0 : index
// CHECK-NEXT:    %1 = arith.divsi %0, %c4 : index
// CHECK-NEXT:    %2 = arith.muli %1, %c4 : index
// CHECK-NEXT:    %3 = arith.addi %c0, %2 : index
// CHECK:         scf.for %j = %c0 to %3 step %c4 {
// CHECK:         scf.for %{{.*}} = %3 to %n step %c1 {
func.func @dynamic(%a: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %j = %c0 to %n step %c1 {
    %x = memref.load %a[%j] : memref<?xf32>
    %y = arith.mulf %x, %x : f32
    memref.store %y, %a[%j] : memref<?xf32>
  }
  func.return
}
