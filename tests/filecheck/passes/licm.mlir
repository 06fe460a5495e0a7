// loop-invariant-code-motion: ops whose operands are all defined outside a loop move before it,
// from the innermost loop out. Loads move only out of loops that write no memory at all and are
// known to run.
// RUN: lamina opt %s -p loop-invariant-code-motion | filecheck %s

// The product of two constants leaves both loops; min(%i + 1, 7) leaves the %j loop only; the
// load of %b[%k] leaves the reduction loop (it stores nothing) but not the %i loop (which
// stores into %red).
// CHECK-LABEL: func.func @hoist
// CHECK:         %s = arith.mulf %two, %three : f32
// CHECK-NEXT:    scf.for %i = %c0 to %c8 step %c1 {
// CHECK-NEXT:      %n = arith.addi %i, %c1 : index
// CHECK-NEXT:      %m = arith.minsi %n, %c7 : index
// CHECK-NEXT:      %w = memref.load %b[%k] : memref<16xf32>
// CHECK-NEXT:      %sum = scf.for %j = %c0 to %c16 step %c1 iter_args(%acc = %zero) -> (f32) {
// CHECK-NEXT:        %x = memref.load %a[%m, %j] : memref<8x16xf32>
// CHECK-NEXT:        %p = arith.mulf %x, %s : f32
// CHECK-NEXT:        %q = arith.mulf %p, %w : f32
// CHECK-NEXT:        %next = arith.addf %acc, %q : f32
// CHECK-NEXT:        scf.yield %next : f32
// CHECK-NEXT:      }
// CHECK-NEXT:      memref.store %sum, %red[%i] : memref<8xf32>
func.func @hoist(%a: memref<8x16xf32>, %b: memref<16xf32>, %red: memref<8xf32>, %k: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c7 = arith.constant 7 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %zero = arith.constant 0.0 : f32
  %two = arith.constant 2.0 : f32
  %three = arith.constant 3.0 : f32
  scf.for %i = %c0 to %c8 step %c1 {
    %sum = scf.for %j = %c0 to %c16 step %c1 iter_args(%acc = %zero) -> (f32) {
      %n = arith.addi %i, %c1 : index
      %m = arith.minsi %n, %c7 : index
      %x = memref.load %a[%m, %j] : memref<8x16xf32>
      %s = arith.mulf %two, %three : f32
      %p = arith.mulf %x, %s : f32
      %w = memref.load %b[%k] : memref<16xf32>
      %q = arith.mulf %p, %w : f32
      %next = arith.addf %acc, %q : f32
      scf.yield %next : f32
    }
    memref.store %sum, %red[%i] : memref<8xf32>
  }
  func.return
}

// Not past a store: the loop writes %b, so the load of %b[%c0] stays (a later iteration reads
// what an earlier one stored). The invariant index arithmetic still goes.
// CHECK-LABEL: func.func @store_in_loop
// CHECK:         %last = arith.subi %c16, %c1 : index
// CHECK-NEXT:    scf.for %j = %c0 to %c16 step %c1 {
// CHECK-NEXT:      %x = memref.load %b[%c0] : memref<16xf32>
// CHECK-NEXT:      %y = arith.addf %x, %x : f32
// CHECK-NEXT:      memref.store %y, %b[%j] : memref<16xf32>
func.func @store_in_loop(%b: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  scf.for %j = %c0 to %c16 step %c1 {
    %last = arith.subi %c16, %c1 : index
    %x = memref.load %b[%c0] : memref<16xf32>
    %y = arith.addf %x, %x : f32
    memref.store %y, %b[%j] : memref<16xf32>
  }
  func.return
}

// Not from a loop that may not run: with %n = 0 the load of %b[%k] would read out of bounds, and
// the division by %d might divide by zero. Pure ops that cannot trap still move.
// CHECK-LABEL: func.func @maybe_empty
// CHECK:         %s = arith.addi %k, %c1 : index
// CHECK-NEXT:    %sum = scf.for %j = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f32) {
// CHECK-NEXT:      %w = memref.load %b[%k] : memref<16xf32>
// CHECK-NEXT:      %q = arith.divsi %k, %d : index
func.func @maybe_empty(%b: memref<16xf32>, %out: memref<1xf32>, %k: index, %d: index, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %sum = scf.for %j = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f32) {
    %w = memref.load %b[%k] : memref<16xf32>
    %q = arith.divsi %k, %d : index
    %s = arith.addi %k, %c1 : index
    %t = arith.addi %q, %s : index
    %f = arith.index_cast %t : index to i32
    %g = arith.sitofp %f : i32 to f32
    %v = arith.addf %w, %g : f32
    %next = arith.addf %acc, %v : f32
    scf.yield %next : f32
  }
  memref.store %sum, %out[%c0] : memref<1xf32>
  func.return
}
