//! Shared test support.
pub mod exercise;
pub mod fixtures;
