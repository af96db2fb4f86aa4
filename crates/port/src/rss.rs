//! Receive-side scaling: the Toeplitz hash (being written).

/// Length of the Toeplitz key (40 bytes, as on Intel/Mellanox NICs).
pub const KEY_LEN: usize = 40;
