// Parse errors, one per chunk, each checked against its `expected-error` comment (the message must
// contain the text in braces; @+1 means the next line).
// RUN: lamina opt %s --split-input-file --verify-diagnostics

func.func @f(%a: f32) -> f32 {
  // expected-error @+1 {{expected ':' after operand list, found '->'}}
  %0 = "arith.negf"(%a) -> f32
  func.return %0 : f32
}

// -----

func.func @f(%a: i32) -> i32 {
  // expected-error @+1 {{use of undefined value %3}}
  func.return %3 : i32
}

// -----

func.func @f(%a: i32) -> i32 {
  %1 = arith.addi %a, %a : i32
  // expected-error @+1 {{redefinition of %1}}
  %1 = arith.addi %a, %a : i32
  func.return %1 : i32
}

// -----

func.func @f(%x: tensor<2xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{%x has type tensor<3xf32> here but was defined as tensor<2xf32>}}
  %0 = "arith.negf"(%x) : (tensor<3xf32>) -> tensor<3xf32>
  func.return %0 : tensor<3xf32>
}

// -----

// expected-error @+1 {{unregistered operation 'foo.bar'}}
"foo.bar"() : () -> ()

// -----

func.func @f() {
  // expected-error @+1 {{unknown op 'arith.nope' in dialect 'arith'}}
  "arith.nope"() : () -> ()
  func.return
}

// -----

// expected-error @+1 {{unknown type !foo.bar}}
func.func private @f(!foo.bar)

// -----

// expected-error @+1 {{unknown attribute #foo.bar<1>}}
func.func private @f() attributes {a = #foo.bar<1>}

// -----

// expected-error @+1 {{undefined attribute alias #alias}}
func.func private @f() attributes {a = #alias}

// -----

// expected-error @+1 {{dense literal has shape [3] but tensor<2xi32> needs [2]}}
%c = arith.constant dense<[1, 2, 3]> : tensor<2xi32>

// -----

// expected-error @+1 {{dense literal is not rectangular}}
%c = arith.constant dense<[[1, 2], [3]]> : tensor<2x2xi32>

// -----

// expected-error @+1 {{dense elements need a static shape, not tensor<?xi32>}}
%c = arith.constant dense<1> : tensor<?xi32>

// -----

// expected-error @+1 {{hex data holds 2 elements but tensor<3xf32> needs 3}}
%c = arith.constant dense<"0x0000803F00000040"> : tensor<3xf32>

// -----

// expected-error @+1 {{a float literal cannot have integer type i32}}
%c = arith.constant 1.5 : i32

// -----

// expected-error @+1 {{unterminated string literal}}
func.func private @f() attributes {s = "abc}

// -----

// expected-error @+1 {{invalid escape in string literal}}
func.func private @f() attributes {s = "\q"}

// -----

// expected-error @+1 {{'arith.cmpi' unknown predicate 'foo'}}
%c = arith.cmpi foo, %a, %a : i32

// -----

func.func @f(%a: i32) {
  // expected-error @+1 {{reference to an undefined block ^bb7}}
  "func.return"()[^bb7] : () -> ()
}

// -----

%x:2 = "arith.constant"() <{value = 1 : i32}> : () -> (i32, i32)
// expected-error @+1 {{%x has 2 results; #2 does not exist}}
%y = arith.addi %x#2, %x#0 : i32

// -----

// expected-error @+1 {{'arith.constant' defines 1 result but 2 are named}}
%a, %b = arith.constant 1 : i32

// -----

// expected-error @+1 {{'arith.addi' has 1 operand but its type lists 2}}
%0 = "arith.addi"(%0) : (i32, i32) -> i32

// -----

%v = arith.constant 1 : i32
func.func @f() -> i32 {
  // expected-error @+1 {{use of %v, which is defined outside an isolated-from-above op}}
  func.return %v : i32
}

// -----

// expected-error @+1 {{this constant was elided when the IR was printed}}
%c = "arith.constant"() <{value = dense_resource<__elided__> : tensor<4xf32>}> : () -> tensor<4xf32>

// -----

// expected-error @+1 {{'func.return' does not take a @symbol in its custom form}}
func.return @f

// -----

// expected-error @+1 {{'arith.select' has no custom form}}
%s = arith.select %a, %b, %c : i32
