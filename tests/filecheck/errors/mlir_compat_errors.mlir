// What MLIR refuses in the constructs of syntax/mlir_compat.mlir, lamina refuses too, with the op or
// attribute named.
// RUN: lamina opt %s --allow-unregistered --split-input-file --verify-diagnostics

func.func @f() {
  // expected-error @+1 {{unknown op 'foo': a name without a dialect is looked up in the enclosing op's dialect, and 'func' has no op 'foo'}}
  foo
}

// -----

// expected-error @+1 {{unknown op 'return': a name without a dialect is looked up in the enclosing op's dialect, and 'builtin' has no op 'return'}}
return

// -----

module {
  // expected-error @+1 {{'builtin' has no op 'return'}}
  return
}

// -----

// expected-error @+1 {{unbalanced '[' in the body of #d.a<[1>: '>' closes it}}
"test.op"() {a = #d.a<[1>} : () -> ()

// -----

// expected-error @+1 {{unbalanced '(' in the body of !d.t<(>: '>' closes it}}
%0 = "test.op"() : () -> !d.t<(>

// -----

// A string in a dialect attribute's body ends on its line, as MLIR's strings do.
// expected-error @+1 {{the body of #d.a<...> does not end}}
"test.op"() {a = #d.a<"abc>} : () -> ()
