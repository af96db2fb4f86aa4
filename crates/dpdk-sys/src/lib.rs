//! Raw bindings to the system DPDK 22.11 LTS.
//!
//! * the bindgen output over `csrc/wrapper.h` (EAL, ethdev, mbuf, mempool, ring, lcore, cycles;
//!   the allowlists are in `build.rs`);
//! * `burst_*` wrappers from `csrc/shim.c` for DPDK's static-inline fast path
//!   (`burst_rte_eth_rx_burst`, `burst_rte_pktmbuf_alloc`, `burst_rte_errno`, ...), which
//!   bindgen cannot bind because they have no symbol in the libraries;
//! * [`flags`]: the 64-bit offload and mbuf flags as `u64` (bindgen drops the `RTE_BIT64(n)`
//!   ones and types the small `1ULL << n` ones as `u32`).
//!
//! Poll-mode drivers are not linked: EAL loads every plugin from its driver directory at
//! `rte_eal_init` (shared DPDK build), so `--vdev=net_null0` etc. work in any binary.
#![allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    missing_docs
)]
#![allow(clippy::all, clippy::pedantic, unreachable_pub, rust_2018_idioms)]
#![allow(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

/// The version of the system DPDK these bindings were built against (pkg-config's `libdpdk`
/// version, e.g. `22.11.4`).
pub const DPDK_VERSION: &str = env!("BURST_DPDK_VERSION");

/// 64-bit flag values from `rte_mbuf_core.h` and `rte_ethdev.h`, as `u64`.
///
/// The test below checks each against the value the C headers give (exported by the shim).
pub mod flags {
    /// `ol_flags`: the RSS hash in `hash.rss` is valid.
    pub const RTE_MBUF_F_RX_RSS_HASH: u64 = 1 << 1;
    /// `ol_flags`: mask of the IPv4 checksum verdict.
    pub const RTE_MBUF_F_RX_IP_CKSUM_MASK: u64 = (1 << 4) | (1 << 7);
    /// IPv4 checksum not checked.
    pub const RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN: u64 = 0;
    /// IPv4 checksum wrong.
    pub const RTE_MBUF_F_RX_IP_CKSUM_BAD: u64 = 1 << 4;
    /// IPv4 checksum correct.
    pub const RTE_MBUF_F_RX_IP_CKSUM_GOOD: u64 = 1 << 7;
    /// IPv4 checksum not in the data but the header is verified (e.g. virtio).
    pub const RTE_MBUF_F_RX_IP_CKSUM_NONE: u64 = (1 << 4) | (1 << 7);
    /// `ol_flags`: mask of the L4 checksum verdict.
    pub const RTE_MBUF_F_RX_L4_CKSUM_MASK: u64 = (1 << 3) | (1 << 8);
    /// L4 checksum not checked.
    pub const RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN: u64 = 0;
    /// L4 checksum wrong.
    pub const RTE_MBUF_F_RX_L4_CKSUM_BAD: u64 = 1 << 3;
    /// L4 checksum correct.
    pub const RTE_MBUF_F_RX_L4_CKSUM_GOOD: u64 = 1 << 8;
    /// L4 checksum not in the data but the data is verified.
    pub const RTE_MBUF_F_RX_L4_CKSUM_NONE: u64 = (1 << 3) | (1 << 8);

    /// TCP segmentation offload (implies TCP checksum).
    pub const RTE_MBUF_F_TX_TCP_SEG: u64 = 1 << 50;
    /// No L4 checksum requested.
    pub const RTE_MBUF_F_TX_L4_NO_CKSUM: u64 = 0;
    /// TCP checksum offload.
    pub const RTE_MBUF_F_TX_TCP_CKSUM: u64 = 1 << 52;
    /// UDP checksum offload.
    pub const RTE_MBUF_F_TX_UDP_CKSUM: u64 = 3 << 52;
    /// Mask of the 2-bit L4 checksum request field.
    pub const RTE_MBUF_F_TX_L4_MASK: u64 = 3 << 52;
    /// IPv4 header checksum offload.
    pub const RTE_MBUF_F_TX_IP_CKSUM: u64 = 1 << 54;
    /// The packet is IPv4 (required with any IPv4 offload).
    pub const RTE_MBUF_F_TX_IPV4: u64 = 1 << 55;
    /// `ol_flags`: the buffer is external (attached), the one flag a reset keeps.
    pub const RTE_MBUF_F_EXTERNAL: u64 = 1 << 61;
    /// `port` of an mbuf no port received.
    pub const RTE_MBUF_PORT_INVALID: u16 = u16::MAX;
    /// Every transmit offload flag.
    pub const RTE_MBUF_F_TX_OFFLOAD_MASK: u64 = 0x1fff_fe00_0000_0000;

    /// Port transmit offload: IPv4 checksum.
    pub const RTE_ETH_TX_OFFLOAD_IPV4_CKSUM: u64 = 1 << 1;
    /// Port transmit offload: UDP checksum.
    pub const RTE_ETH_TX_OFFLOAD_UDP_CKSUM: u64 = 1 << 2;
    /// Port transmit offload: TCP checksum.
    pub const RTE_ETH_TX_OFFLOAD_TCP_CKSUM: u64 = 1 << 3;
    /// Port transmit offload: TCP segmentation.
    pub const RTE_ETH_TX_OFFLOAD_TCP_TSO: u64 = 1 << 5;
    /// Port transmit offload: chained mbufs.
    pub const RTE_ETH_TX_OFFLOAD_MULTI_SEGS: u64 = 1 << 15;
    /// Port transmit offload: all mbufs of a queue from one pool with refcnt 1.
    pub const RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE: u64 = 1 << 16;

    /// Port receive offload: IPv4 checksum verdicts.
    pub const RTE_ETH_RX_OFFLOAD_IPV4_CKSUM: u64 = 1 << 1;
    /// Port receive offload: UDP checksum verdicts.
    pub const RTE_ETH_RX_OFFLOAD_UDP_CKSUM: u64 = 1 << 2;
    /// Port receive offload: TCP checksum verdicts.
    pub const RTE_ETH_RX_OFFLOAD_TCP_CKSUM: u64 = 1 << 3;
    /// Port receive offload: scattered (chained) receive.
    pub const RTE_ETH_RX_OFFLOAD_SCATTER: u64 = 1 << 13;
    /// Port receive offload: deliver the RSS hash in the mbuf.
    pub const RTE_ETH_RX_OFFLOAD_RSS_HASH: u64 = 1 << 19;

    /// RSS over IPv4 addresses.
    pub const RTE_ETH_RSS_IPV4: u64 = 1 << 2;
    /// RSS over fragmented IPv4.
    pub const RTE_ETH_RSS_FRAG_IPV4: u64 = 1 << 3;
    /// RSS over IPv4 + TCP ports.
    pub const RTE_ETH_RSS_NONFRAG_IPV4_TCP: u64 = 1 << 4;
    /// RSS over IPv4 + UDP ports.
    pub const RTE_ETH_RSS_NONFRAG_IPV4_UDP: u64 = 1 << 5;
    /// RSS over other IPv4.
    pub const RTE_ETH_RSS_NONFRAG_IPV4_OTHER: u64 = 1 << 7;
    /// `RTE_ETH_RSS_IP` (IPv4 and IPv6 address hashing, all kinds).
    pub const RTE_ETH_RSS_IP: u64 =
        (1 << 2) | (1 << 3) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 13) | (1 << 15);
    /// `RTE_ETH_RSS_TCP`.
    pub const RTE_ETH_RSS_TCP: u64 = (1 << 4) | (1 << 10) | (1 << 16);
    /// `RTE_ETH_RSS_UDP`.
    pub const RTE_ETH_RSS_UDP: u64 = (1 << 5) | (1 << 11) | (1 << 17);
}

#[cfg(test)]
mod tests {
    use super::flags as f;
    use super::*;

    #[test]
    fn flags_match_the_c_headers() {
        // SAFETY: the statics are initialised constants in shim.c, never written.
        let c = unsafe {
            [
                (f::RTE_MBUF_F_RX_RSS_HASH, burst_RTE_MBUF_F_RX_RSS_HASH),
                (
                    f::RTE_MBUF_F_RX_IP_CKSUM_MASK,
                    burst_RTE_MBUF_F_RX_IP_CKSUM_MASK,
                ),
                (
                    f::RTE_MBUF_F_RX_IP_CKSUM_BAD,
                    burst_RTE_MBUF_F_RX_IP_CKSUM_BAD,
                ),
                (
                    f::RTE_MBUF_F_RX_IP_CKSUM_GOOD,
                    burst_RTE_MBUF_F_RX_IP_CKSUM_GOOD,
                ),
                (
                    f::RTE_MBUF_F_RX_IP_CKSUM_NONE,
                    burst_RTE_MBUF_F_RX_IP_CKSUM_NONE,
                ),
                (
                    f::RTE_MBUF_F_RX_L4_CKSUM_MASK,
                    burst_RTE_MBUF_F_RX_L4_CKSUM_MASK,
                ),
                (
                    f::RTE_MBUF_F_RX_L4_CKSUM_BAD,
                    burst_RTE_MBUF_F_RX_L4_CKSUM_BAD,
                ),
                (
                    f::RTE_MBUF_F_RX_L4_CKSUM_GOOD,
                    burst_RTE_MBUF_F_RX_L4_CKSUM_GOOD,
                ),
                (
                    f::RTE_MBUF_F_RX_L4_CKSUM_NONE,
                    burst_RTE_MBUF_F_RX_L4_CKSUM_NONE,
                ),
                (f::RTE_MBUF_F_EXTERNAL, burst_RTE_MBUF_F_EXTERNAL),
                (
                    u64::from(f::RTE_MBUF_PORT_INVALID),
                    burst_RTE_MBUF_PORT_INVALID,
                ),
                (f::RTE_MBUF_F_TX_TCP_SEG, burst_RTE_MBUF_F_TX_TCP_SEG),
                (f::RTE_MBUF_F_TX_TCP_CKSUM, burst_RTE_MBUF_F_TX_TCP_CKSUM),
                (f::RTE_MBUF_F_TX_UDP_CKSUM, burst_RTE_MBUF_F_TX_UDP_CKSUM),
                (f::RTE_MBUF_F_TX_L4_MASK, burst_RTE_MBUF_F_TX_L4_MASK),
                (f::RTE_MBUF_F_TX_IP_CKSUM, burst_RTE_MBUF_F_TX_IP_CKSUM),
                (f::RTE_MBUF_F_TX_IPV4, burst_RTE_MBUF_F_TX_IPV4),
                (
                    f::RTE_MBUF_F_TX_OFFLOAD_MASK,
                    burst_RTE_MBUF_F_TX_OFFLOAD_MASK,
                ),
                (
                    f::RTE_ETH_TX_OFFLOAD_IPV4_CKSUM,
                    burst_RTE_ETH_TX_OFFLOAD_IPV4_CKSUM,
                ),
                (
                    f::RTE_ETH_TX_OFFLOAD_UDP_CKSUM,
                    burst_RTE_ETH_TX_OFFLOAD_UDP_CKSUM,
                ),
                (
                    f::RTE_ETH_TX_OFFLOAD_TCP_CKSUM,
                    burst_RTE_ETH_TX_OFFLOAD_TCP_CKSUM,
                ),
                (
                    f::RTE_ETH_TX_OFFLOAD_TCP_TSO,
                    burst_RTE_ETH_TX_OFFLOAD_TCP_TSO,
                ),
                (
                    f::RTE_ETH_TX_OFFLOAD_MULTI_SEGS,
                    burst_RTE_ETH_TX_OFFLOAD_MULTI_SEGS,
                ),
                (
                    f::RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE,
                    burst_RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE,
                ),
                (
                    f::RTE_ETH_RX_OFFLOAD_IPV4_CKSUM,
                    burst_RTE_ETH_RX_OFFLOAD_IPV4_CKSUM,
                ),
                (
                    f::RTE_ETH_RX_OFFLOAD_UDP_CKSUM,
                    burst_RTE_ETH_RX_OFFLOAD_UDP_CKSUM,
                ),
                (
                    f::RTE_ETH_RX_OFFLOAD_TCP_CKSUM,
                    burst_RTE_ETH_RX_OFFLOAD_TCP_CKSUM,
                ),
                (
                    f::RTE_ETH_RX_OFFLOAD_RSS_HASH,
                    burst_RTE_ETH_RX_OFFLOAD_RSS_HASH,
                ),
                (
                    f::RTE_ETH_RX_OFFLOAD_SCATTER,
                    burst_RTE_ETH_RX_OFFLOAD_SCATTER,
                ),
                (f::RTE_ETH_RSS_IPV4, burst_RTE_ETH_RSS_IPV4),
                (f::RTE_ETH_RSS_FRAG_IPV4, burst_RTE_ETH_RSS_FRAG_IPV4),
                (
                    f::RTE_ETH_RSS_NONFRAG_IPV4_TCP,
                    burst_RTE_ETH_RSS_NONFRAG_IPV4_TCP,
                ),
                (
                    f::RTE_ETH_RSS_NONFRAG_IPV4_UDP,
                    burst_RTE_ETH_RSS_NONFRAG_IPV4_UDP,
                ),
                (
                    f::RTE_ETH_RSS_NONFRAG_IPV4_OTHER,
                    burst_RTE_ETH_RSS_NONFRAG_IPV4_OTHER,
                ),
                (f::RTE_ETH_RSS_IP, burst_RTE_ETH_RSS_IP),
                (f::RTE_ETH_RSS_TCP, burst_RTE_ETH_RSS_TCP),
                (f::RTE_ETH_RSS_UDP, burst_RTE_ETH_RSS_UDP),
            ]
        };
        for (i, (rust, header)) in c.iter().enumerate() {
            assert_eq!(rust, header, "flag #{i}: {rust:#x} != {header:#x}");
        }
        assert_eq!(f::RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN, 0);
        assert_eq!(f::RTE_MBUF_F_TX_L4_NO_CKSUM, 0);
    }

    #[test]
    fn mbuf_layout_and_sizes() {
        // The backend reads these fields directly instead of calling the shim.
        assert_eq!(core::mem::size_of::<rte_mbuf>(), 128);
        // SAFETY: constants exported by shim.c.
        let (buf, head) = unsafe { (burst_RTE_MBUF_DEFAULT_BUF_SIZE, burst_RTE_PKTMBUF_HEADROOM) };
        assert_eq!(head, RTE_PKTMBUF_HEADROOM);
        assert_eq!(buf, RTE_MBUF_DEFAULT_BUF_SIZE);
    }
}
