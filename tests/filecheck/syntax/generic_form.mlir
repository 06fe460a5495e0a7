// MLIR's generic op form: properties <{...}>, attributes {...}, successors [^bb1, ^bb2], several
// regions, multi-block regions with block arguments, multi-result ops (`%0:2 =` with `%0#1`
// uses), and forward references in a graph region (a module's body).
// RUN: lamina opt %s --allow-unregistered | filecheck %s
// RUN: lamina opt %s --allow-unregistered --print-generic | filecheck %s --check-prefix=GENERIC

// A CFG region: the entry block's arguments, branches to later blocks, a block with arguments.
// CHECK-LABEL: "test.cfg"() ({
// CHECK-NEXT:  ^bb0(%arg0: i32, %arg1: i1):
// CHECK-NEXT:    [[A:%[0-9]+]], [[B:%[0-9]+]] = "test.pair"(%arg0) <{kind = "split"}> : (i32) -> (i32, f32)
// CHECK-NEXT:    "test.cond_br"(%arg1, [[A]], [[B]])[^bb1, ^bb2] {operandSegmentSizes = array<i32: 1, 1, 1>} : (i1, i32, f32) -> ()
// CHECK-NEXT:  ^bb1:
// CHECK-NEXT:    "test.br"([[A]])[^bb3] : (i32) -> ()
// CHECK-NEXT:  ^bb2:
// CHECK-NEXT:    "test.br"(%arg0)[^bb3] : (i32) -> ()
// CHECK-NEXT:  ^bb3(%v: i32):
// CHECK-NEXT:    "test.use"(%v, [[B]]) : (i32, f32) -> ()
// CHECK-NEXT:    "test.return"() : () -> ()
// CHECK-NEXT:  }) : () -> ()
"test.cfg"() ({
^bb0(%arg0: i32, %arg1: i1):
  %0:2 = "test.pair"(%arg0) <{kind = "split"}> : (i32) -> (i32, f32)
  "test.cond_br"(%arg1, %0#0, %0#1)[^bb1, ^bb2] {operandSegmentSizes = array<i32: 1, 1, 1>} : (i1, i32, f32) -> ()
^bb1:
  "test.br"(%0#0)[^bb3] : (i32) -> ()
^bb2:
  "test.br"(%arg0)[^bb3] : (i32) -> ()
^bb3(%v: i32):  // a comment after a label
  "test.use"(%v, %0#1) : (i32, f32) -> ()
  "test.return"() : () -> ()
}) : () -> ()

// Block labels are renumbered in order; a branch may go backwards.
// CHECK-LABEL: "test.loop"() ({
// CHECK-NEXT:    "test.br"()[^bb1] : () -> ()
// CHECK-NEXT:  ^bb1:
// CHECK-NEXT:    "test.br"()[^bb1] : () -> ()
// CHECK-NEXT:  }) : () -> ()
"test.loop"() ({
  "test.br"()[^head] : () -> ()
^head:
  "test.br"()[^head] : () -> ()
}) : () -> ()

// A module's body is a graph region: %a is used above its definition. Result groups mix sizes:
// %c is one result, %d two; %d is %d#0.
// CHECK-LABEL: module @graph {
// CHECK-NEXT:    %b = "test.use_later"(%a) : (i32) -> i32
// CHECK-NEXT:    %a = "test.def"() : () -> i32
// CHECK-NEXT:    %c, [[D0:%[a-z0-9_]+]], [[D1:%[a-z0-9_]+]] = "test.three"(%b) : (i32) -> (i1, i8, i8)
// CHECK-NEXT:    "test.sink"(%c, [[D1]], [[D0]]) : (i1, i8, i8) -> ()
// CHECK-NEXT:  }
module @graph {
  %b = "test.use_later"(%a) : (i32) -> i32
  %a = "test.def"() : () -> i32
  %c, %d:2 = "test.three"(%b) : (i32) -> (i1, i8, i8)
  "test.sink"(%c, %d#1, %d) : (i1, i8, i8) -> ()
}

// Two regions, the second empty; attributes after the regions.
// CHECK-LABEL: "test.two_regions"() ({
// CHECK-NEXT:    "test.in_first"() : () -> ()
// CHECK-NEXT:  }, {
// CHECK-NEXT:  }) {attr = 5 : i32} : () -> ()
"test.two_regions"() ({
  "test.in_first"() : () -> ()
}, {
}) {attr = 5 : i32} : () -> ()

// Properties and attributes together; an empty block with arguments keeps its label. The ops
// above are not isolated from above, so they share one namespace: %arg0 is taken, hence %arg0_1.
// CHECK-LABEL: "test.props"() <{p = [1 : i64], q}> ({
// CHECK-NEXT:  ^bb0(%arg0_1: tensor<2xf32>):
// CHECK-NEXT:  }) {a = "x"} : () -> ()
"test.props"() <{q = unit, p = [1]}> ({
^bb0(%arg0: tensor<2xf32>):
}) {a = "x"} : () -> ()

// Registered ops written in the generic form print in their custom form.
// CHECK-LABEL: func.func @generic_in(%arg0: f32) -> f32 {
// CHECK-NEXT:    %0 = arith.addf %arg0, %arg0 : f32
// CHECK-NEXT:    return %0 : f32
// CHECK-NEXT:  }
"func.func"() <{function_type = (f32) -> f32, sym_name = "generic_in"}> ({
^bb0(%arg0: f32):
  %0 = "arith.addf"(%arg0, %arg0) : (f32, f32) -> f32
  "func.return"(%0) : (f32) -> ()
}) : () -> ()

// GENERIC-LABEL: "builtin.module"() ({
// GENERIC-NEXT:    "test.cfg"() ({
// GENERIC-NEXT:    ^bb0(%arg0: i32, %arg1: i1):
// GENERIC-NEXT:      [[A:%[0-9]+]], [[B:%[0-9]+]] = "test.pair"(%arg0) <{kind = "split"}> : (i32) -> (i32, f32)
// GENERIC:         "builtin.module"() <{sym_name = "graph"}> ({
// GENERIC-NEXT:      %b = "test.use_later"(%a) : (i32) -> i32
// GENERIC-NEXT:      %a = "test.def"() : () -> i32
// GENERIC:         "func.func"() <{function_type = (f32) -> f32, sym_name = "generic_in"}> ({
// GENERIC-NEXT:    ^bb0(%arg0: f32):
// GENERIC-NEXT:      %0 = "arith.addf"(%arg0, %arg0) : (f32, f32) -> f32
// GENERIC-NEXT:      "func.return"(%0) : (f32) -> ()
// GENERIC-NEXT:    }) : () -> ()
// GENERIC-NEXT:  }) : () -> ()
