//! Fuzz target: `exercise::arp` over arbitrary bytes.
#![no_main]

#[path = "../../crates/wire/tests/support/exercise.rs"]
mod exercise;

libfuzzer_sys::fuzz_target!(|data: &[u8]| exercise::arp(data));
