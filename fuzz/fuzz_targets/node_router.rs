//! Fuzz target: a whole router node on the in-memory wire, driven by a script decoded from
//! arbitrary bytes (`node_fuzz::router`, the harness `crates/runtime/tests/node_fuzz.rs` also runs).
#![no_main]

#[path = "../../crates/runtime/tests/support/node_fuzz/mod.rs"]
mod node_fuzz;

libfuzzer_sys::fuzz_target!(|data: &[u8]| node_fuzz::router(data));
