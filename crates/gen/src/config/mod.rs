//! `burst gen`'s configuration: the `[eal]` and `[[port]]` sections of `burst run` (parsed and
//! validated by the runtime's own code), plus `[[stream]]` and `[test]`.
//!
//! Every key is documented in `docs/gen.md`. Errors name the file, line and column, the key path
//! and the fix, like the runtime's: `gen.toml:14:8: stream[0].rate: 20Mpps of 64-byte frames is
//! 13.44 Gbit/s on the wire, above the line rate (10 Gbit/s): lower rate or raise line_rate`.
//! Everything is checked before any port opens (pcap files are read and parsed here too).

use core::net::Ipv4Addr;

use burst_port::Nanos;
use burst_runtime::config::{Backend, EalConfig, PortConfig};
use burst_wire::ethernet::MacAddr;

use crate::size::SizeSpec;
use crate::stateful::config::{ClientConfig, ServerConfig, TcpLimits};
use crate::template::{Protocol, TcpFlagsSpec};

mod raw;
mod units;
mod validate;

use raw::*;
pub use units::*;

/// Ethernet preamble, start-of-frame delimiter and inter-frame gap: the bytes a frame costs on
/// the wire beyond itself (7 + 1 + 12).
pub const L1_OVERHEAD: u64 = 20;
/// Ethernet frame check sequence, counted in frame sizes (RFC 2544's 64..1518) but not in buffers.
pub const FCS: u16 = 4;
/// The smallest Ethernet frame, FCS included.
pub const MIN_FRAME: u16 = 64;

/// A validated `burst gen` configuration.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// DPDK EAL arguments and the number of generator cores (`[eal] cores`).
    pub eal: EalConfig,
    /// Ports, in file order.
    pub ports: Vec<PortConfig>,
    /// Streams, in file order (their index is the stream id in every signature).
    pub streams: Vec<StreamConfig>,
    /// Stateful clients (`[[client]]`), in file order.
    pub clients: Vec<ClientConfig>,
    /// Stateful servers (`[[server]]`), in file order.
    pub servers: Vec<ServerConfig>,
    /// The stateful run's TCP stacks (`[tcp]`).
    pub tcp: TcpLimits,
    /// Test-wide settings.
    pub test: TestConfig,
    /// `dpdk` (real ports) or `mem` (tests).
    pub backend: Backend,
    /// The file's text, kept for the report.
    pub text: String,
}

/// How fast a stream sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// Packets per second.
    Pps(u64),
    /// Bits per second counting the whole frame with preamble, SFD and inter-frame gap (L1).
    L1Bps(u64),
    /// Bits per second counting the frame with its FCS (L2).
    L2Bps(u64),
    /// As fast as the port takes packets.
    Max,
}

/// When packets are sent within the rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Evenly spaced, each packet scheduled against the cycle counter.
    Constant,
    /// Exponentially distributed gaps (a Poisson process) with the same mean rate.
    Poisson,
}

/// Continuous or bursts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Until the stream's count or duration (or the test's duration) is reached.
    Continuous,
    /// `bursts` bursts of `packets` packets each, sent at the rate, `gap` of silence after each.
    Bursts {
        /// Packets per burst.
        packets: u64,
        /// Number of bursts.
        bursts: u64,
        /// Silence after each burst.
        gap: Nanos,
    },
}

/// Which field a variation rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// IPv4 source address.
    SrcIp,
    /// IPv4 destination address.
    DstIp,
    /// TCP/UDP source port.
    SrcPort,
    /// TCP/UDP destination port.
    DstPort,
    /// IPv4 type of service byte.
    Tos,
    /// IPv4 time to live.
    Ttl,
    /// IPv4 identification.
    IpId,
    /// Frame size (FCS included).
    Size,
}

/// How a varied field changes from one packet to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `min, min+step, ..., max, min, ...`
    Inc,
    /// `max, max-step, ..., min, max, ...`
    Dec,
    /// Uniform over `min..=max` (seeded).
    Random,
}

/// One field variation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vary {
    /// The field.
    pub field: Field,
    /// How it changes.
    pub op: Op,
    /// Smallest value.
    pub min: u32,
    /// Largest value.
    pub max: u32,
    /// Increment for `inc`/`dec`.
    pub step: u32,
}

/// One validated `[[stream]]`.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Name in reports.
    pub name: String,
    /// Index of the port it leaves by.
    pub port: usize,
    /// What the frames are.
    pub protocol: Protocol,
    /// Source MAC (`None`: the port's).
    pub src_mac: Option<MacAddr>,
    /// Destination MAC (`None`: resolved with ARP for `gateway`, else `dst`).
    pub dst_mac: Option<MacAddr>,
    /// Next hop to resolve when `dst_mac` is not given.
    pub gateway: Option<Ipv4Addr>,
    /// 802.1Q tag (TCI).
    pub vlan: Option<u16>,
    /// IPv4 source.
    pub src: Ipv4Addr,
    /// IPv4 destination.
    pub dst: Ipv4Addr,
    /// TCP/UDP source port (ICMP: echo identifier).
    pub src_port: u16,
    /// TCP/UDP destination port.
    pub dst_port: u16,
    /// IPv4 TOS byte.
    pub tos: u8,
    /// IPv4 TTL.
    pub ttl: u8,
    /// IPv4 identification of the template.
    pub ip_id: u16,
    /// IPv4 don't-fragment flag.
    pub df: bool,
    /// TCP flags.
    pub tcp_flags: TcpFlagsSpec,
    /// Frame sizes (FCS included); for `raw`/`pcap` the frames' own.
    pub size: SizeSpec,
    /// Field variations, applied in order.
    pub vary: Vec<Vary>,
    /// The rate, over all of the stream's cores.
    pub rate: Rate,
    /// Constant or Poisson spacing.
    pub pattern: Pattern,
    /// Packets to send in all (over all cores); `None` = until the duration.
    pub count: Option<u64>,
    /// How long to send; `None` = the test's duration.
    pub duration: Option<Nanos>,
    /// Continuous or bursts.
    pub mode: Mode,
    /// Time after the test's start before the first packet.
    pub start_delay: Nanos,
    /// Put the signature (stream, sequence, timestamp) into every packet.
    pub signature: bool,
    /// The cores that share the stream (its rate and count are split among them).
    pub cores: Vec<u16>,
    /// The port's line rate in bit/s (L1), for `%` rates and the line-rate check.
    pub line_rate: u64,
}

impl StreamConfig {
    /// The smallest frame the stream sends (FCS included).
    pub fn min_size(&self) -> u16 {
        self.size.min()
    }
}

/// `[test.rfc2544]`: the RFC 2544 search.
#[derive(Debug, Clone, PartialEq)]
pub struct Rfc2544Config {
    /// Frame sizes to test (FCS included).
    pub sizes: Vec<u16>,
    /// Length of one trial (RFC 2544 §24 asks for at least 60 s in a report of record).
    pub trial: Nanos,
    /// Learning frames sent before each trial, then a pause (RFC 2544 §23).
    pub warmup: Nanos,
    /// Highest loss ratio (percent) a trial may have and still pass.
    pub loss_tolerance: f64,
    /// The search stops when the bounds are this close (percent of the line rate).
    pub resolution: f64,
    /// Most trials per frame size in the binary search.
    pub max_trials: u32,
    /// A search trial that loses frames is run again at the same load up to this many times,
    /// and the load passes if one of them loses none (0: RFC 2544's single trial).
    pub retries: u32,
    /// Frame loss rate measured at these fractions of the line rate, from the top (§26.3).
    pub loss_steps: u32,
    /// Back-to-back trials (§26.4): bursts at line rate, longest without loss.
    pub back_to_back: u32,
    /// Longest back-to-back burst tried (the search's upper bound).
    pub back_to_back_max: u64,
    /// Wait after traffic stops before counters are read, so the DUT drains.
    pub settle: Nanos,
}

impl Default for Rfc2544Config {
    fn default() -> Self {
        Rfc2544Config {
            sizes: vec![64, 128, 256, 512, 1024, 1280, 1518],
            trial: Nanos::from_secs(10),
            warmup: Nanos::from_secs(1),
            loss_tolerance: 0.0,
            resolution: 0.5,
            max_trials: 16,
            retries: 0,
            loss_steps: 10,
            back_to_back: 0,
            back_to_back_max: 1_000_000,
            settle: Nanos::from_secs(1),
        }
    }
}

/// `[test]`: test-wide settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TestConfig {
    /// Longest the generation phase runs; every stream stops by then.
    pub duration: Nanos,
    /// After generation stops, receive this long before counting (packets in flight arrive).
    pub drain: Nanos,
    /// The fixed bias subtracted from every latency (measured on a loopback; docs/gen.md).
    pub latency_bias: Nanos,
    /// Stamp the intended send time instead of the actual one (coordinated-omission
    /// correction: a stalled generator shows up as latency).
    pub co_correction: bool,
    /// How far a stream may fall behind its schedule (after a stall) and still send what is
    /// due, back to back; older slots are skipped.
    pub catch_up: Nanos,
    /// Sequence window for duplicate detection (packets further behind count as late).
    pub reorder_window: u32,
    /// How long to wait for ARP replies when resolving destinations.
    pub arp_timeout: Nanos,
    /// Seed of every random draw (Poisson gaps, random fields).
    pub seed: u64,
    /// Receive on each port (`[test] rx_ports`, default every port). A port that only sends
    /// (net_null, whose receive side makes up packets) is left out.
    pub rx: Vec<bool>,
    /// RFC 2544 parameters.
    pub rfc2544: Rfc2544Config,
}

impl Default for TestConfig {
    fn default() -> Self {
        TestConfig {
            duration: Nanos::from_secs(10),
            drain: Nanos::from_millis(200),
            latency_bias: Nanos::ZERO,
            co_correction: false,
            catch_up: Nanos::from_millis(10),
            reorder_window: 1024,
            arp_timeout: Nanos::from_secs(3),
            seed: 1,
            rx: Vec::new(),
            rfc2544: Rfc2544Config::default(),
        }
    }
}
