// Verifier errors of the math dialect and of arith's casts and cmpf.
// RUN: lamina opt %s --split-input-file --verify-diagnostics

func.func @f(%i: index) {
  // expected-error @+1 {{'math.exp' op operand 'operand' must be a float or a tensor of floats, but got index}}
  %y = "math.exp"(%i) : (index) -> index
  func.return
}

// -----

func.func @f(%x: f32, %d: f64) {
  // expected-error @+1 {{'math.powf' op requires the same type for all operands and results, but got f32, f64, f32}}
  %y = "math.powf"(%x, %d) : (f32, f64) -> f32
  func.return
}

// -----

func.func @f(%x: f32) {
  // expected-error @+1 {{'arith.index_cast' op cannot cast f32 to i32: one side must be index and the other an integer}}
  %c = arith.index_cast %x : f32 to i32
  func.return
}

// -----

func.func @f(%x: f32) {
  // expected-error @+1 {{'arith.cmpf' op predicate 16 is not one of 0..15}}
  %p = "arith.cmpf"(%x, %x) <{predicate = 16 : i64}> : (f32, f32) -> i1
  func.return
}

// -----

func.func @f(%x: f32) {
  // expected-error @+1 {{'arith.cmpf' unknown predicate 'lt'}}
  %p = arith.cmpf lt, %x, %x : f32
  func.return
}
