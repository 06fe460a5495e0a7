// The sched dialect's custom forms: every op of a schedule program (knobs, handles, one op per TVM
// primitive) prints as it was written, and its generic form names the properties and the handle
// types. The op verifiers check only what an op says by itself: using a consumed handle here is
// the schedule verifier's business (tests/test_schedule_verifier.py), not the parser's.
// RUN: lamina opt %s --split-input-file | filecheck %s
// RUN: lamina opt %s --split-input-file --print-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: sched.schedule @matmul attributes {target = "llvm"} {
// CHECK-NEXT:    %mb = sched.knob mb 8
// CHECK-NEXT:    %nv = sched.knob nv 4
// CHECK-NEXT:    %b = sched.get_block @matmul
// CHECK-NEXT:    %l, %l_1, %l_2 = sched.get_loops %b
// CHECK-NEXT:    %io, %ii = sched.split %l (%mb)
// CHECK-NEXT:    %j, %j_1, %j_2 = sched.split %l_1 (%mb, %nv)
// CHECK-NEXT:    %ko, %ki = sched.split exact, %l_2 (%mb, %nv)
// CHECK-NEXT:    %f = sched.fuse %io, %j
// CHECK-NEXT:    sched.reorder %f, %ko, %j_1, %ii, %ki, %j_2
// CHECK-NEXT:    sched.parallel %f
// CHECK-NEXT:    sched.vectorize %j_2
// CHECK-NEXT:    sched.unroll %ki
// CHECK-NEXT:    sched.annotate @pragma_auto_unroll_max_step %ko 16
// CHECK-NEXT:    sched.annotate @meta_schedule.tiling %b 1
// CHECK-NEXT:    sched.annotate @meta_schedule.tiling_structure %b attributes {value = "SSRSRS"}
// CHECK-NEXT:    %wb = sched.cache_write @local %b 0
// CHECK-NEXT:    %rb = sched.cache_read @global %b 1
// CHECK-NEXT:    sched.reverse_compute_at %wb, %f
// CHECK-NEXT:    sched.compute_at %rb, %ko
// CHECK-NEXT:    sched.reverse_compute_at preserve_unit_loops, %wb, %ko
// CHECK-NEXT:    sched.compute_at preserve_unit_loops, %rb, %f
// CHECK-NEXT:    sched.set_scope @local %rb 0
// CHECK-NEXT:    %init = sched.decompose_reduction %b, %ko
// CHECK-NEXT:    %rf = sched.rfactor %ki 1
// CHECK-NEXT:    sched.transform_layout write, %b array<i64: 1, 0>
// CHECK-NEXT:    sched.transform_layout read, %b array<i64: 0, 2, 1> attributes {index = 1 : i64}
// CHECK-NEXT:    sched.merge_axes write, %b array<i64: 0, 1>
// CHECK-NEXT:    sched.merge_axes iters, %b array<i64: 1, 2>
// CHECK-NEXT:    sched.merge_axes read, %b array<i64: 1, 2> attributes {index = 1 : i64}
// CHECK-NEXT:    sched.compute_inline %rb
// CHECK-NEXT:    sched.reverse_compute_inline %wb
// CHECK-NEXT:  }

// GENERIC-LABEL: "sched.schedule"() <{sym_name = "matmul", target = "llvm"}> ({
// GENERIC-NEXT:    %mb = "sched.knob"() <{knob = "mb", value = 8 : i64}> : () -> i64
// GENERIC-NEXT:    %nv = "sched.knob"() <{knob = "nv", value = 4 : i64}> : () -> i64
// GENERIC-NEXT:    %b = "sched.get_block"() <{block_name = "matmul"}> : () -> !sched.block
// GENERIC-NEXT:    %l, %l_1, %l_2 = "sched.get_loops"(%b) : (!sched.block) -> (!sched.loop, !sched.loop, !sched.loop)
// GENERIC-NEXT:    %io, %ii = "sched.split"(%l, %mb) : (!sched.loop, i64) -> (!sched.loop, !sched.loop)
// GENERIC-NEXT:    %j, %j_1, %j_2 = "sched.split"(%l_1, %mb, %nv) : (!sched.loop, i64, i64) -> (!sched.loop, !sched.loop, !sched.loop)
// GENERIC-NEXT:    %ko, %ki = "sched.split"(%l_2, %mb, %nv) <{exact}> : (!sched.loop, i64, i64) -> (!sched.loop, !sched.loop)
// GENERIC-NEXT:    %f = "sched.fuse"(%io, %j) : (!sched.loop, !sched.loop) -> !sched.loop
// GENERIC-NEXT:    "sched.reorder"(%f, %ko, %j_1, %ii, %ki, %j_2) : (!sched.loop, !sched.loop, !sched.loop, !sched.loop, !sched.loop, !sched.loop) -> ()
// GENERIC-NEXT:    "sched.parallel"(%f) : (!sched.loop) -> ()
// GENERIC-NEXT:    "sched.vectorize"(%j_2) : (!sched.loop) -> ()
// GENERIC-NEXT:    "sched.unroll"(%ki) : (!sched.loop) -> ()
// GENERIC-NEXT:    "sched.annotate"(%ko) <{key = "pragma_auto_unroll_max_step", value = 16 : i64}> : (!sched.loop) -> ()
// GENERIC-NEXT:    "sched.annotate"(%b) <{key = "meta_schedule.tiling", value = 1 : i64}> : (!sched.block) -> ()
// GENERIC-NEXT:    "sched.annotate"(%b) <{key = "meta_schedule.tiling_structure", value = "SSRSRS"}> : (!sched.block) -> ()
// GENERIC-NEXT:    %wb = "sched.cache_write"(%b) <{buffer_index = 0 : i64, scope = "local"}> : (!sched.block) -> !sched.block
// GENERIC-NEXT:    %rb = "sched.cache_read"(%b) <{buffer_index = 1 : i64, scope = "global"}> : (!sched.block) -> !sched.block
// GENERIC-NEXT:    "sched.reverse_compute_at"(%wb, %f) : (!sched.block, !sched.loop) -> ()
// GENERIC-NEXT:    "sched.compute_at"(%rb, %ko) : (!sched.block, !sched.loop) -> ()
// GENERIC-NEXT:    "sched.reverse_compute_at"(%wb, %ko) <{preserve_unit_loops}> : (!sched.block, !sched.loop) -> ()
// GENERIC-NEXT:    "sched.compute_at"(%rb, %f) <{preserve_unit_loops}> : (!sched.block, !sched.loop) -> ()
// GENERIC-NEXT:    "sched.set_scope"(%rb) <{buffer_index = 0 : i64, scope = "local"}> : (!sched.block) -> ()
// GENERIC-NEXT:    %init = "sched.decompose_reduction"(%b, %ko) : (!sched.block, !sched.loop) -> !sched.block
// GENERIC-NEXT:    %rf = "sched.rfactor"(%ki) <{factor_axis = 1 : i64}> : (!sched.loop) -> !sched.block
// GENERIC-NEXT:    "sched.transform_layout"(%b) <{buffer = "write", permutation = array<i64: 1, 0>}> : (!sched.block) -> ()
// GENERIC-NEXT:    "sched.transform_layout"(%b) <{buffer = "read", index = 1 : i64, permutation = array<i64: 0, 2, 1>}> : (!sched.block) -> ()
// GENERIC-NEXT:    "sched.merge_axes"(%b) <{span = array<i64: 0, 1>, target = "write"}> : (!sched.block) -> ()
// GENERIC-NEXT:    "sched.merge_axes"(%b) <{span = array<i64: 1, 2>, target = "iters"}> : (!sched.block) -> ()
// GENERIC-NEXT:    "sched.merge_axes"(%b) <{index = 1 : i64, span = array<i64: 1, 2>, target = "read"}> : (!sched.block) -> ()
// GENERIC-NEXT:    "sched.compute_inline"(%rb) : (!sched.block) -> ()
// GENERIC-NEXT:    "sched.reverse_compute_inline"(%wb) : (!sched.block) -> ()
// GENERIC-NEXT:  }) : () -> ()
sched.schedule @matmul attributes {target = "llvm"} {
  %mb = sched.knob mb 8
  %nv = sched.knob nv 4
  %b = sched.get_block @matmul
  %l:3 = sched.get_loops %b
  %io, %ii = sched.split %l#0 (%mb)
  %j:3 = sched.split %l#1 (%mb, %nv)
  %ko, %ki = sched.split exact, %l#2 (%mb, %nv)
  %f = sched.fuse %io, %j#0
  sched.reorder %f, %ko, %j#1, %ii, %ki, %j#2
  sched.parallel %f
  sched.vectorize %j#2
  sched.unroll %ki
  sched.annotate @pragma_auto_unroll_max_step %ko 16
  sched.annotate @meta_schedule.tiling %b 1
  sched.annotate @meta_schedule.tiling_structure %b attributes {value = "SSRSRS"}
  %wb = sched.cache_write @local %b 0
  %rb = sched.cache_read @global %b 1
  sched.reverse_compute_at %wb, %f
  sched.compute_at %rb, %ko
  sched.reverse_compute_at preserve_unit_loops, %wb, %ko
  sched.compute_at preserve_unit_loops, %rb, %f
  sched.set_scope @local %rb 0
  %init = sched.decompose_reduction %b, %ko
  %rf = sched.rfactor %ki 1
  sched.transform_layout write, %b array<i64: 1, 0>
  sched.transform_layout read, %b array<i64: 0, 2, 1> attributes {index = 1}
  sched.merge_axes write, %b array<i64: 0, 1>
  sched.merge_axes iters, %b array<i64: 1, 2>
  sched.merge_axes read, %b array<i64: 1, 2> attributes {index = 1}
  sched.compute_inline %rb
  sched.reverse_compute_inline %wb
}

// -----

// A GPU program: bind to thread tags (written @name, dots and all), a shared-memory cache, and
// the schedule op's own extra attributes kept beside its target (printed sorted).
// CHECK-LABEL: sched.schedule @add attributes {note = "gpu", target = "opencl"} {
// CHECK-NEXT:    %tx = sched.knob tx 64
// CHECK-NEXT:    %b = sched.get_block @add
// CHECK-NEXT:    %l = sched.get_loops %b
// CHECK-NEXT:    %bx, %tx_1 = sched.split %l (%tx)
// CHECK-NEXT:    sched.bind @blockIdx.x %bx
// CHECK-NEXT:    sched.bind @threadIdx.x %tx_1
// CHECK-NEXT:    %s = sched.cache_read @shared.dyn %b 0
// CHECK-NEXT:  }
// GENERIC-LABEL: "sched.schedule"() <{sym_name = "add", target = "opencl"}> ({
// GENERIC:         "sched.bind"(%bx) <{thread = "blockIdx.x"}> : (!sched.loop) -> ()
// GENERIC-NEXT:    "sched.bind"(%tx_1) <{thread = "threadIdx.x"}> : (!sched.loop) -> ()
// GENERIC-NEXT:    %s = "sched.cache_read"(%b) <{buffer_index = 0 : i64, scope = "shared.dyn"}> : (!sched.block) -> !sched.block
// GENERIC-NEXT:  }) {note = "gpu"} : () -> ()
sched.schedule @add attributes {target = "opencl", note = "gpu"} {
  %tx = sched.knob tx 64
  %b = sched.get_block @add
  %l = sched.get_loops %b
  %bx, %tx_1 = sched.split %l (%tx)
  sched.bind @blockIdx.x %bx
  sched.bind @threadIdx.x %tx_1
  %s = sched.cache_read @shared.dyn %b 0
}

// -----

// An empty program (its generic form shows the empty entry block), and one written in the
// generic form, which prints in the custom form.
// CHECK-LABEL: sched.schedule @nothing attributes {target = "llvm"} {
// CHECK-NEXT:  }
// CHECK-LABEL: sched.schedule @generic attributes {target = "llvm"} {
// CHECK-NEXT:    %k = sched.knob k 2
// CHECK-NEXT:    %b = sched.get_block @sum
// CHECK-NEXT:    %i, %k_1 = sched.get_loops %b
// CHECK-NEXT:    %ko, %ki = sched.split exact, %k_1 (%k, %k)
// CHECK-NEXT:  }
// GENERIC-LABEL: "sched.schedule"() <{sym_name = "nothing", target = "llvm"}> ({
// GENERIC-NEXT:  ^bb0:
// GENERIC-NEXT:  }) : () -> ()
sched.schedule @nothing attributes {target = "llvm"} {
}
"sched.schedule"() <{sym_name = "generic", target = "llvm"}> ({
  %k = "sched.knob"() <{knob = "k", value = 2 : i64}> : () -> i64
  %b = "sched.get_block"() <{block_name = "sum"}> : () -> !sched.block
  %i, %k_1 = "sched.get_loops"(%b) : (!sched.block) -> (!sched.loop, !sched.loop)
  %ko, %ki = "sched.split"(%k_1, %k, %k) <{exact}> : (!sched.loop, i64, i64) -> (!sched.loop, !sched.loop)
}) : () -> ()
