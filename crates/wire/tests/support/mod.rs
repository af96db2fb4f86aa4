//! Shared test support.
#![allow(unreachable_pub)]
pub mod exercise;
pub mod fixtures;
