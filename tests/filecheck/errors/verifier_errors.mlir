// Verifier errors: IR that parses but breaks a rule of an op, of SSA or of structure. Each message
// starts with the op's name and says which rule broke.
// RUN: lamina opt %s --split-input-file --verify-diagnostics --allow-unregistered

func.func @f(%a: f32) -> i32 {
  // expected-error @+1 {{'func.return' op returns f32 but the enclosing function @f returns i32}}
  func.return %a : f32
}

// -----

func.func @f(%a: f32) -> (f32, f32) {
  // expected-error @+1 {{'func.return' op returns f32 but the enclosing function @f returns f32, f32}}
  func.return %a : f32
}

// -----

// expected-error @+1 {{'func.func' op has a block in region 'body' that ends with 'arith.negf', which is not a terminator}}
func.func @f(%a: f32) -> f32 {
  %0 = arith.negf %a : f32
}

// -----

// expected-error @+1 {{'func.func' op has an empty block in region 'body', but each block there must end with a terminator}}
"func.func"() <{function_type = () -> (), sym_name = "f"}> ({
^bb0:
}) : () -> ()

// -----

// A nested function is isolated from above: the parser already refuses the use of %a.
func.func @f(%a: i32) -> i32 {
  "test.wrap"() ({
    func.func @g() -> i32 {
      // expected-error @+1 {{use of %a, which is defined outside an isolated-from-above op}}
      func.return %a : i32
    }
  }) : () -> ()
  func.return %a : i32
}

// -----

func.func @f(%a: i32) -> i32 {
  // expected-error @+1 {{'arith.negf' op operand 'operand' must be a float or a tensor of floats, but got i32}}
  %0 = "arith.negf"(%a) : (i32) -> i32
  func.return %0 : i32
}

// -----

func.func @f(%a: f32) -> i1 {
  // expected-error @+1 {{'arith.cmpi' op operand 'lhs' must be an integer, index, or a tensor of them, but got f32}}
  %0 = "arith.cmpi"(%a, %a) <{predicate = 0 : i64}> : (f32, f32) -> i1
  func.return %0 : i1
}

// -----

func.func @f(%a: f32, %b: f32) -> f64 {
  // expected-error @+1 {{'arith.addf' op requires the same type for all operands and results, but got f32, f32, f64}}
  %0 = "arith.addf"(%a, %b) : (f32, f32) -> f64
  func.return %0 : f64
}

// -----

func.func @f() -> i32 {
  // expected-error @+1 {{'arith.constant' op value has type i64 but the result has type i32}}
  %0 = "arith.constant"() <{value = 1 : i64}> : () -> i32
  func.return %0 : i32
}

// -----

func.func @f() -> i32 {
  // expected-error @+1 {{'arith.constant' op requires attribute 'value'}}
  %0 = "arith.constant"() : () -> i32
  func.return %0 : i32
}

// -----

func.func @f(%a: i32) -> i32 {
  // expected-error @+1 {{'arith.addi' op has no property 'bogus' (its properties: overflowFlags)}}
  %0 = "arith.addi"(%a, %a) <{bogus = 1}> : (i32, i32) -> i32
  func.return %0 : i32
}

// -----

func.func @f(%a: i32) -> i1 {
  // expected-error @+1 {{'arith.cmpi' op predicate 12 is not one of 0..9}}
  %0 = "arith.cmpi"(%a, %a) <{predicate = 12 : i64}> : (i32, i32) -> i1
  func.return %0 : i1
}

// -----

func.func @f(%a: i32) -> i32 {
  // expected-error @+1 {{'arith.addi' op expects 2 operands, but got 3}}
  %0 = "arith.addi"(%a, %a, %a) : (i32, i32, i32) -> i32
  func.return %0 : i32
}

// -----

func.func @f(%a: i32) -> i32 {
  // expected-error @+1 {{'func.call' op calls @missing, which is not defined in the enclosing module}}
  %0 = func.call @missing(%a) : (i32) -> i32
  func.return %0 : i32
}

// -----

func.func private @g(i32) -> f32
func.func @f(%a: i32) -> i32 {
  // expected-error @+1 {{'func.call' op has type (i32) -> i32 but @g has type (i32) -> f32}}
  %0 = func.call @g(%a) : (i32) -> i32
  func.return %0 : i32
}

// -----

// expected-error @+1 {{'func.return' op expects its parent op to be 'func.func'}}
"func.return"() : () -> ()

// -----

func.func @f(%a: i32) -> i32 {
  // expected-error @+1 {{'arith.addi' op uses %1 before it is defined}}
  %0 = arith.addi %1, %a : i32
  %1 = arith.addi %a, %a : i32
  func.return %0 : i32
}

// -----

// expected-error @+1 {{'func.func' op entry block arguments have types (f32) but the function type says (i32)}}
"func.func"() <{function_type = (i32) -> i32, sym_name = "f"}> ({
^bb0(%a: f32):
  "func.return"(%a) : (f32) -> ()
}) : () -> ()

// -----

// expected-error @+1 {{'func.func' op region 'body' must have at most one block, but has 2}}
"func.func"() <{function_type = (i32) -> i32, sym_name = "f"}> ({
^bb0(%a: i32):
  "func.return"(%a) : (i32) -> ()
^bb1:
  "func.return"(%a) : (i32) -> ()
}) : () -> ()

// -----

// expected-error @+1 {{'func.func' op attribute 'sym_name' must be a StringAttr, but got 3 : i64}}
"func.func"() <{function_type = () -> (), sym_name = 3}> ({
  "func.return"() : () -> ()
}) : () -> ()
