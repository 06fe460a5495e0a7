// loop-fusion: two adjacent nests with the same bounds, where the second reads what the first
// wrote only at the same index, become one nest; a temporary that then lives only inside the
// fused nest (stored once, loaded after at the same index) is replaced by the stored value.
// RUN: lamina opt %s -p loop-fusion | filecheck %s

// exp into %tmp, then %tmp + %b into %out: one nest, no %tmp left.
// CHECK-LABEL: func.func @producer_consumer
// CHECK-NOT:     memref.alloc
// CHECK:         scf.for %i = %c0 to %c4 step %c1 {
// CHECK-NEXT:      scf.for %j = %c0 to %c8 step %c1 {
// CHECK-NEXT:        %x = memref.load %a[%i, %j] : memref<4x8xf32>
// CHECK-NEXT:        %e = math.exp %x : f32
// CHECK-NEXT:        %y = memref.load %b[%j] : memref<8xf32>
// CHECK-NEXT:        %s = arith.addf %e, %y : f32
// CHECK-NEXT:        memref.store %s, %out[%i, %j] : memref<4x8xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    return
func.func @producer_consumer(%a: memref<4x8xf32>, %b: memref<8xf32>, %out: memref<4x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %tmp = memref.alloc() : memref<4x8xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    scf.for %j = %c0 to %c8 step %c1 {
      %x = memref.load %a[%i, %j] : memref<4x8xf32>
      %e = math.exp %x : f32
      memref.store %e, %tmp[%i, %j] : memref<4x8xf32>
    }
  }
  scf.for %i2 = %c0 to %c4 step %c1 {
    scf.for %j2 = %c0 to %c8 step %c1 {
      %t = memref.load %tmp[%i2, %j2] : memref<4x8xf32>
      %y = memref.load %b[%j2] : memref<8xf32>
      %s = arith.addf %t, %y : f32
      memref.store %s, %out[%i2, %j2] : memref<4x8xf32>
    }
  }
  memref.dealloc %tmp : memref<4x8xf32>
  func.return
}

// Refused: the consumer reads %tmp one row further down, which the fused nest would not have
// written yet. Both nests stay.
// CHECK-LABEL: func.func @shifted
// CHECK:         scf.for %i = %c0 to %c3 step %c1 {
// CHECK:           memref.store %e, %tmp[%i, %j] : memref<4x8xf32>
// CHECK:         scf.for %i2 = %c0 to %c3 step %c1 {
// CHECK:           %t = memref.load %tmp[%n, %j2] : memref<4x8xf32>
func.func @shifted(%a: memref<4x8xf32>, %out: memref<4x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c8 = arith.constant 8 : index
  %tmp = memref.alloc() : memref<4x8xf32>
  scf.for %i = %c0 to %c3 step %c1 {
    scf.for %j = %c0 to %c8 step %c1 {
      %x = memref.load %a[%i, %j] : memref<4x8xf32>
      %e = math.exp %x : f32
      memref.store %e, %tmp[%i, %j] : memref<4x8xf32>
    }
  }
  scf.for %i2 = %c0 to %c3 step %c1 {
    scf.for %j2 = %c0 to %c8 step %c1 {
      %n = arith.addi %i2, %c1 : index
      %t = memref.load %tmp[%n, %j2] : memref<4x8xf32>
      memref.store %t, %out[%i2, %j2] : memref<4x8xf32>
    }
  }
  func.return
}

// Only the outer loops agree (the inner bounds differ): fused at depth 1, the two inner loops
// side by side. %tmp is read in another loop than the one that writes it, so it stays.
// CHECK-LABEL: func.func @outer_only
// CHECK:         scf.for %i = %c0 to %c4 step %c1 {
// CHECK-NEXT:      scf.for %j = %c0 to %c8 step %c1 {
// CHECK:           }
// CHECK-NEXT:      scf.for %j2 = %c0 to %c4 step %c1 {
// CHECK:             %t = memref.load %tmp[%i, %j2] : memref<4x8xf32>
// CHECK:           }
// CHECK-NEXT:    }
// CHECK-NEXT:    return
func.func @outer_only(%a: memref<4x8xf32>, %out: memref<4x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %tmp = memref.alloc() : memref<4x8xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    scf.for %j = %c0 to %c8 step %c1 {
      %x = memref.load %a[%i, %j] : memref<4x8xf32>
      memref.store %x, %tmp[%i, %j] : memref<4x8xf32>
    }
  }
  scf.for %i2 = %c0 to %c4 step %c1 {
    scf.for %j2 = %c0 to %c4 step %c1 {
      %t = memref.load %tmp[%i2, %j2] : memref<4x8xf32>
      memref.store %t, %out[%i2, %j2] : memref<4x8xf32>
    }
  }
  func.return
}
