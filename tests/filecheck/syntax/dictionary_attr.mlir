// Dictionaries nest as attribute values and print sorted by key.
// RUN: lamina opt %s --allow-unregistered | filecheck %s

// CHECK: "test.dict"() {d = {x = 1 : i32, y}, e = {}, n = {inner = {deep = "z"}}} : () -> ()
"test.dict"() {d = {y, x = 1 : i32}, e = {}, n = {inner = {deep = "z"}}} : () -> ()
