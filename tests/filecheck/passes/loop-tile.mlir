// loop-tile: the outermost perfectly nested loops of each nest are tiled; the tile loops come
// outermost, the original loops (now the point loops) run inside one tile.
// RUN: lamina opt %s -p "loop-tile{sizes=4,32}" | filecheck %s

// 8 rows by 4 divides: no min. 100 columns by 32 does not: the point loop ends at
// min(tile + 32, 100).
// CHECK-LABEL: func.func @add_rows
// CHECK:         %c32 = arith.constant 32 : index
// CHECK-NEXT:    scf.for %i_tile = %c0 to %c8 step %c4 {
// CHECK-NEXT:      %i_end = arith.addi %i_tile, %c4 : index
// CHECK-NEXT:      scf.for %j_tile = %c0 to %c100 step %c32 {
// CHECK-NEXT:        %0 = arith.addi %j_tile, %c32 : index
// CHECK-NEXT:        %j_end = arith.minsi %0, %c100 : index
// CHECK-NEXT:        scf.for %i = %i_tile to %i_end step %c1 {
// CHECK-NEXT:          scf.for %j = %j_tile to %j_end step %c1 {
// CHECK-NEXT:            %x = memref.load %a[%i, %j] : memref<8x100xf32>
// CHECK-NEXT:            %y = memref.load %b[%j] : memref<100xf32>
// CHECK-NEXT:            %s = arith.addf %x, %y : f32
// CHECK-NEXT:            memref.store %s, %out[%i, %j] : memref<8x100xf32>
func.func @add_rows(%a: memref<8x100xf32>, %b: memref<100xf32>, %out: memref<8x100xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c100 = arith.constant 100 : index
  scf.for %i = %c0 to %c8 step %c1 {
    scf.for %j = %c0 to %c100 step %c1 {
      %x = memref.load %a[%i, %j] : memref<8x100xf32>
      %y = memref.load %b[%j] : memref<100xf32>
      %s = arith.addf %x, %y : f32
      memref.store %s, %out[%i, %j] : memref<8x100xf32>
    }
  }
  func.return
}

// A step of 2 tiles by 4 * 2 = 8; the inner loop (a reduction with iter_args) ends the band, so
// only %i is tiled. Bounds that are not constants always get the min.
// CHECK-LABEL: func.func @strided
// CHECK:         scf.for %i_tile = %c0 to %n step %c8 {
// CHECK-NEXT:      %0 = arith.addi %i_tile, %c8 : index
// CHECK-NEXT:      %i_end = arith.minsi %0, %n : index
// CHECK-NEXT:      scf.for %i = %i_tile to %i_end step %c2 {
// CHECK-NEXT:        %sum = scf.for %j
func.func @strided(%a: memref<?x16xf32>, %red: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %zero = arith.constant 0.0 : f32
  scf.for %i = %c0 to %n step %c2 {
    %sum = scf.for %j = %c0 to %c16 step %c1 iter_args(%acc = %zero) -> (f32) {
      %x = memref.load %a[%i, %j] : memref<?x16xf32>
      %next = arith.addf %acc, %x : f32
      scf.yield %next : f32
    }
    memref.store %sum, %red[%i] : memref<?xf32>
  }
  func.return
}

// Refused: iteration (i, j) reads out[i + 1, 0], which iteration (i + 1, 0) writes; tiling the
// columns would run that write first. The nest stays as it was.
// CHECK-LABEL: func.func @shifted_dependence
// CHECK-NOT:     _tile
// CHECK:         scf.for %i = %c0 to %c8 step %c1 {
// CHECK-NEXT:      scf.for %j = %c0 to %c100 step %c1 {
func.func @shifted_dependence(%out: memref<9x100xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c100 = arith.constant 100 : index
  scf.for %i = %c0 to %c8 step %c1 {
    scf.for %j = %c0 to %c100 step %c1 {
      %n = arith.addi %i, %c1 : index
      %x = memref.load %out[%n, %c0] : memref<9x100xf32>
      memref.store %x, %out[%i, %j] : memref<9x100xf32>
    }
  }
  func.return
}
