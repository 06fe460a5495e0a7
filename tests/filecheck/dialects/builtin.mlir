// builtin.module: `module @name attributes {...} { ... }`, nested modules, and the implicit
// module that wraps top-level ops which are not in one.
// RUN: lamina opt %s --split-input-file | filecheck %s
// RUN: lamina opt %s --split-input-file --print-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: module @m attributes {flag, lamina.version = 1 : i32} {
// CHECK-NEXT:    module @inner {
// CHECK-NEXT:      func.func @g() {
// CHECK-NEXT:        return
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    module attributes {note = "anonymous"} {
// CHECK-NEXT:      func.func private @h()
// CHECK-NEXT:    }
// CHECK-NEXT:  }
// GENERIC-LABEL: "builtin.module"() <{sym_name = "m"}> ({
// GENERIC-NEXT:    "builtin.module"() <{sym_name = "inner"}> ({
// GENERIC-NEXT:      "func.func"() <{function_type = () -> (), sym_name = "g"}> ({
// GENERIC-NEXT:        "func.return"() : () -> ()
// GENERIC-NEXT:      }) : () -> ()
// GENERIC-NEXT:    }) : () -> ()
// GENERIC-NEXT:    "builtin.module"() ({
// GENERIC-NEXT:      "func.func"() <{function_type = () -> (), sym_name = "h", sym_visibility = "private"}> ({
// GENERIC-NEXT:      }) : () -> ()
// GENERIC-NEXT:    }) {note = "anonymous"} : () -> ()
// GENERIC-NEXT:  }) {flag, lamina.version = 1 : i32} : () -> ()
module @m attributes {lamina.version = 1 : i32, flag} {
  module @inner {
    func.func @g() { func.return }
  }
  module attributes {note = "anonymous"} {
    func.func private @h()
  }
}

// -----

// Ops at the top level are wrapped in a module, as MLIR does.
// CHECK-LABEL: // -----
// CHECK-NEXT:  module {
// CHECK-NEXT:    func.func private @top()
// CHECK-NEXT:    %c = arith.constant 1 : i32
// CHECK-NEXT:  }
// GENERIC-LABEL: // -----
// GENERIC-NEXT:  "builtin.module"() ({
// GENERIC-NEXT:    "func.func"() <{function_type = () -> (), sym_name = "top", sym_visibility = "private"}> ({
// GENERIC-NEXT:    }) : () -> ()
// GENERIC-NEXT:    %c = "arith.constant"() <{value = 1 : i32}> : () -> i32
// GENERIC-NEXT:  }) : () -> ()
func.func private @top()
%c = arith.constant 1 : i32

// -----

// A module written in the generic form prints in the custom form.
// CHECK-LABEL: // -----
// CHECK-NEXT:  module @g {
// CHECK-NEXT:    func.func private @k(i1)
// CHECK-NEXT:  }
"builtin.module"() <{sym_name = "g"}> ({
  "func.func"() <{function_type = (i1) -> (), sym_name = "k", sym_visibility = "private"}> ({
  }) : () -> ()
}) : () -> ()
