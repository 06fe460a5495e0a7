// The scf dialect: scf.for (with and without iter_args, with an integer induction variable),
// scf.if (with results, without, without else), scf.parallel with scf.reduce. An scf.yield
// without operands is left out of the custom form, as MLIR does, and added back when parsed.
// RUN: lamina opt %s | filecheck %s
// RUN: lamina opt %s --print-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @sum(%m: memref<8xf32>, %n: index) -> f32 {
// CHECK:         %s = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f32) {
// CHECK-NEXT:      %v = memref.load %m[%i] : memref<8xf32>
// CHECK-NEXT:      %next = arith.addf %acc, %v : f32
// CHECK-NEXT:      scf.yield %next : f32
// CHECK-NEXT:    }
// GENERIC-LABEL: sym_name = "sum"
// GENERIC:         %s = "scf.for"(%c0, %n, %c1, %zero) ({
// GENERIC-NEXT:    ^bb0(%i: index, %acc: f32):
// GENERIC:           "scf.yield"(%next) : (f32) -> ()
// GENERIC-NEXT:    }) : (index, index, index, f32) -> f32
func.func @sum(%m: memref<8xf32>, %n: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %s = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f32) {
    %v = memref.load %m[%i] : memref<8xf32>
    %next = arith.addf %acc, %v : f32
    scf.yield %next : f32
  }
  func.return %s : f32
}

// CHECK-LABEL: func.func @relu_inplace(%m: memref<4x4xf32>) {
// CHECK:         scf.for %i = %c0 to %c4 step %c1 {
// CHECK-NEXT:      scf.for %j = %c0 to %c4 step %c1 {
// CHECK-NEXT:        %v = memref.load %m[%i, %j] : memref<4x4xf32>
// CHECK-NEXT:        %neg = arith.cmpf olt, %v, %zero : f32
// CHECK-NEXT:        scf.if %neg {
// CHECK-NEXT:          memref.store %zero, %m[%i, %j] : memref<4x4xf32>
// CHECK-NEXT:        }
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// GENERIC-LABEL: sym_name = "relu_inplace"
// GENERIC:           "scf.if"(%neg) ({
// GENERIC-NEXT:        "memref.store"(%zero, %m, %i, %j) : (f32, memref<4x4xf32>, index, index) -> ()
// GENERIC-NEXT:        "scf.yield"() : () -> ()
// GENERIC-NEXT:      }, {
// GENERIC-NEXT:      }) : (i1) -> ()
func.func @relu_inplace(%m: memref<4x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  scf.for %i = %c0 to %c4 step %c1 {
    scf.for %j = %c0 to %c4 step %c1 {
      %v = memref.load %m[%i, %j] : memref<4x4xf32>
      %neg = arith.cmpf olt, %v, %zero : f32
      scf.if %neg {
        memref.store %zero, %m[%i, %j] : memref<4x4xf32>
      }
    }
  }
  func.return
}

// CHECK-LABEL: func.func @select(%c: i1, %a: f32, %b: f32) -> f32 {
// CHECK-NEXT:    %r = scf.if %c -> f32 {
// CHECK-NEXT:      scf.yield %a : f32
// CHECK-NEXT:    } else {
// CHECK-NEXT:      scf.yield %b : f32
// CHECK-NEXT:    }
// CHECK-NEXT:    scf.if %c {
// CHECK-NEXT:    } else {
// CHECK-NEXT:    }
func.func @select(%c: i1, %a: f32, %b: f32) -> f32 {
  %r = scf.if %c -> (f32) {
    scf.yield %a : f32
  } else {
    scf.yield %b : f32
  }
  scf.if %c {
  } else {
  }
  func.return %r : f32
}

// An induction variable of an integer type is written after the step.
// CHECK-LABEL: func.func @int_loop(%lb: i32, %ub: i32, %s: i32) {
// CHECK-NEXT:    scf.for %i = %lb to %ub step %s : i32 {
// CHECK-NEXT:      %d = arith.addi %i, %i : i32
// CHECK-NEXT:    }
// GENERIC-LABEL: sym_name = "int_loop"
// GENERIC:         ^bb0(%i: i32):
func.func @int_loop(%lb: i32, %ub: i32, %s: i32) {
  scf.for %i = %lb to %ub step %s : i32 {
    %d = arith.addi %i, %i : i32
  }
  func.return
}

// scf.parallel is written in the generic form; its body ends with scf.reduce.
// CHECK-LABEL: func.func @parallel(%m: memref<4x4xf32>, %x: f32) -> f32 {
// CHECK:         %t = "scf.parallel"(%c0, %c0, %c4, %c4, %c1, %c1, %x) <{operandSegmentSizes = array<i32: 2, 2, 2, 1>}> ({
// CHECK-NEXT:    ^bb0(%i: index, %j: index):
// CHECK-NEXT:      memref.store %x, %m[%i, %j] : memref<4x4xf32>
// CHECK-NEXT:      "scf.reduce"(%x) ({
// CHECK-NEXT:      ^bb0(%l: f32, %r: f32):
// CHECK-NEXT:        %s = arith.addf %l, %r : f32
// CHECK-NEXT:        scf.reduce.return %s : f32
// CHECK-NEXT:      }) : (f32) -> ()
// CHECK-NEXT:    }) : (index, index, index, index, index, index, f32) -> f32
// CHECK:         "scf.parallel"(%c0, %c4, %c1) <{operandSegmentSizes = array<i32: 1, 1, 1, 0>}> ({
// CHECK-NEXT:    ^bb0(%k: index):
// CHECK-NEXT:      scf.reduce
// CHECK-NEXT:    }) : (index, index, index) -> ()
func.func @parallel(%m: memref<4x4xf32>, %x: f32) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %t = "scf.parallel"(%c0, %c0, %c4, %c4, %c1, %c1, %x) <{operandSegmentSizes = array<i32: 2, 2, 2, 1>}> ({
  ^bb0(%i: index, %j: index):
    memref.store %x, %m[%i, %j] : memref<4x4xf32>
    "scf.reduce"(%x) ({
    ^bb0(%l: f32, %r: f32):
      %s = arith.addf %l, %r : f32
      scf.reduce.return %s : f32
    }) : (f32) -> ()
  }) : (index, index, index, index, index, index, f32) -> f32
  "scf.parallel"(%c0, %c4, %c1) <{operandSegmentSizes = array<i32: 1, 1, 1, 0>}> ({
  ^bb0(%k: index):
    scf.reduce
  }) : (index, index, index) -> ()
  func.return %t : f32
}
