//! Harnesses shared by the integration tests.

pub mod ipsec_peer;
pub mod nat_lab;
pub mod router_lab;
