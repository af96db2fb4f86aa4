//! The DPDK backend (being written).
