// An empty module, written or implied by an empty input, prints as `module {` `}` (as MLIR does).
// RUN: lamina opt %s | filecheck %s
// RUN: echo "" | lamina opt - | filecheck %s

// CHECK:      {{^}}module {
// CHECK-NEXT: {{^}}}
module {
}
