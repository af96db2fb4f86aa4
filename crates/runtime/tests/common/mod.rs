//! Harnesses shared by the integration tests.

pub mod router_lab;
