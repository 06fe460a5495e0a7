// Verifier errors of the scf dialect.
// RUN: lamina opt %s --split-input-file --verify-diagnostics

func.func @f(%i: index, %x: f32) {
  // expected-error @+1 {{'scf.for' op the body yields (index) but the op's results are (f32)}}
  %r = scf.for %k = %i to %i step %i iter_args(%a = %x) -> (f32) {
    scf.yield %i : index
  }
  func.return
}

// -----

func.func @f(%i: index, %n: i32) {
  // expected-error @+1 {{'scf.for' op bounds and step must have one type, but got index, i32 and index}}
  "scf.for"(%i, %n, %i) ({
  ^bb0(%k: index):
    "scf.yield"() : () -> ()
  }) : (index, i32, index) -> ()
  func.return
}

// -----

func.func @f(%i: index) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{'scf.for' op step must be positive, but is 0}}
  scf.for %k = %i to %i step %c0 {
  }
  func.return
}

// -----

func.func @f(%b: i1, %x: f32) {
  // expected-error @+1 {{'scf.if' op has results (f32), so it needs an else-region that yields them}}
  %r = "scf.if"(%b) ({
    "scf.yield"(%x) : (f32) -> ()
  }, {
  }) : (i1) -> f32
  func.return
}

// -----

func.func @f(%i: index) {
  // expected-error @+1 {{'scf.parallel' op has 1 lower bounds, 2 upper bounds and 1 steps; they must match}}
  "scf.parallel"(%i, %i, %i, %i) <{operandSegmentSizes = array<i32: 1, 2, 1, 0>}> ({
  ^bb0(%k: index):
    scf.reduce
  }) : (index, index, index, index) -> ()
  func.return
}
