// Errors of the sched dialect's parser and op verifiers: what a schedule op says by itself (knob
// names and values, result counts, storage scopes, permutations, the schedule's target). Each
// is FILE:LINE:COL at the op, with exit code 1. (Whether a program fits its kernel and target is
// the schedule verifier's: tests/test_schedule_verifier.py.)
// RUN: not lamina opt %s --split-input-file 2>&1 | filecheck %s

sched.schedule @k attributes {target = "llvm"} {
  %a = sched.knob Tile 8
}
// CHECK: errors.mlir:8:8: error: 'sched.knob' op knob name 'Tile' must be lower-case letters, digits and '_' (not a keyword)
// CHECK-NEXT: %a = sched.knob Tile 8

// -----

sched.schedule @k attributes {target = "llvm"} {
  %a = sched.knob dense 8
}
// CHECK: errors.mlir:16:8: error: 'sched.knob' op knob name 'dense' must be lower-case letters, digits and '_' (not a keyword)

// -----

sched.schedule @k attributes {target = "llvm"} {
  %a = sched.knob tile 0
}
// CHECK: errors.mlir:23:8: error: 'sched.knob' op knob 'tile' is 0; a knob is a positive integer
// CHECK-NEXT: %a = sched.knob tile 0
// CHECK-NEXT: {{^       \^$}}

// -----

sched.schedule @k attributes {target = "llvm"} {
  %a = sched.knob tile 8
  %a2 = sched.knob tile 4
}
// CHECK: errors.mlir:31:1: error: 'sched.schedule' op defines knob 'tile' twice

// -----

sched.schedule @k attributes {target = "llvm"} {
  %a = sched.knob tile 8
  %b = sched.get_block @sum
  %l:2 = sched.get_loops %b
  %x, %y, %z = sched.split exact, %l#1 (%a)
}
// CHECK: errors.mlir:43:16: error: 'sched.split' op with 1 factor gives 1 loop{{s?}}, not 3

// -----

sched.schedule @k attributes {target = "llvm"} {
  %a = sched.knob tile 8
  %b = sched.get_block @sum
  %l:2 = sched.get_loops %b
  %x = sched.split %l#1 (%a)
}
// CHECK: errors.mlir:53:8: error: 'sched.split' op with 1 factor gives 2 loops, not 1

// -----

sched.schedule @k attributes {target = "llvm"} {
  %b = sched.get_block @sum
  %l:2 = sched.get_loops %b
  %x, %y = sched.split %l#1 ()
}
// CHECK: errors.mlir:62:12: error: 'sched.split' op needs at least one factor

// -----

sched.schedule @k attributes {target = "llvm"} {
  %b = sched.get_block @sum
  %l:2 = sched.get_loops %b
  %x, %y = sched.split fast, %l#1 (%l#0)
}
// CHECK: errors.mlir:71:12: error: 'sched.split' does not know 'fast'
// CHECK: hint: write `sched.split exact, %l (...)` or no keyword

// -----

sched.schedule @k attributes {target = "llvm"} {
  %b = sched.get_block @sum
  %s = sched.cache_read @texture %b 0
}
// CHECK: errors.mlir:80:8: error: 'sched.cache_read' op storage scope 'texture' is not one of global, shared, shared.dyn, local, warp, global.texture

// -----

sched.schedule @k attributes {target = "llvm"} {
  %b = sched.get_block @sum
  %w = sched.cache_write @registers %b 0
}
// CHECK: errors.mlir:88:8: error: 'sched.cache_write' op storage scope 'registers' is not one of

// -----

sched.schedule @k attributes {target = "llvm"} {
  %b = sched.get_block @sum
  sched.transform_layout write, %b array<i64: 0, 0, 2>
}
// CHECK: errors.mlir:96:3: error: 'sched.transform_layout' op array<i64: 0, 0, 2> is not a permutation of 0..2

// -----

sched.schedule @k attributes {target = "llvm"} {
  %b = sched.get_block @sum
  sched.transform_layout read, %b array<i64: 1, 2>
}
// CHECK: errors.mlir:104:3: error: 'sched.transform_layout' op array<i64: 1, 2> is not a permutation of 0..1

// -----

sched.schedule @k {
  %b = sched.get_block @sum
}
// CHECK: errors.mlir:110:1: error: 'sched.schedule' expects 'attributes {...}' in its custom form

// -----

sched.schedule @k attributes {note = "x"} {
}
// CHECK: errors.mlir:117:1: error: 'sched.schedule' needs its target: attributes {target = "llvm"}
// CHECK-NEXT: sched.schedule @k attributes {note = "x"} {
// CHECK-NEXT: {{^\^$}}
// CHECK-NEXT: hint: `lamina targets` lists the target names

// -----

sched.schedule @k attributes {target = 3} {
}
// CHECK: errors.mlir:126:1: error: 'sched.schedule' needs its target

// -----

"sched.schedule"() <{sym_name = "k"}> ({
}) : () -> ()
// CHECK: errors.mlir:132:1: error: 'sched.schedule' op requires attribute 'target'

// -----

sched.schedule @k attributes {target = "llvm"} {
  %b = sched.get_block @sum
  %l:2 = sched.get_loops %b
  sched.compute_at keep_unit_loops, %b, %l#0
}
// CHECK: errors.mlir:141:3: error: 'sched.compute_at' does not know 'keep_unit_loops'
// CHECK: hint: write `sched.compute_at preserve_unit_loops, %b, %l` or no keyword

// -----

sched.schedule @k attributes {target = "llvm"} {
  %b = sched.get_block @sum
  sched.annotate @note %b attributes {value = 1.5}
}
// CHECK: errors.mlir:150:3: error: 'sched.annotate' takes an integer after its operand, or a string as attributes {value = "..."}

// -----

sched.schedule @k attributes {target = "llvm"} {
  %b = sched.get_block @sum
  sched.merge_axes loops, %b array<i64: 1, 2>
}
// CHECK: errors.mlir:158:3: error: 'sched.merge_axes' op merges the axes of read, write or iters, not 'loops'

// -----

sched.schedule @k attributes {target = "llvm"} {
  %b = sched.get_block @sum
  sched.merge_axes iters, %b array<i64: 2, 1>
}
// CHECK: errors.mlir:166:3: error: 'sched.merge_axes' op merges axes 2..1: the first must be at least 0 and below the last

// -----

sched.schedule @k attributes {target = "llvm"} {
  %b = sched.get_block @sum
  sched.set_scope @registers %b 0
}
// CHECK: errors.mlir:174:3: error: 'sched.set_scope' op storage scope 'registers' is not one of
