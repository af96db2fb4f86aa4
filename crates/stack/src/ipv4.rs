//! IPv4 input checks and local-delivery classification (RFC 1122, RFC 1812 §5.2.2).
//!
//! [`check`] validates a received datagram once and says what to do with it; every reason to
//! drop has a counter in [`Ipv4Stats`]. The caller then delivers locally, forwards (router mode,
//! later) or drops.

use core::net::Ipv4Addr;

use burst_port::{ChecksumStatus, RxMeta};
use burst_wire::ipv4::{self, Cidr, Ipv4AddrExt, Ipv4Option, OptionsIter};

use crate::PortId;

/// IPv4 tunables (the seeds' defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Config {
    /// TTL of datagrams we originate (the seeds' DefaultTTL, 128).
    pub default_ttl: u8,
    /// Accept datagrams carrying loose/strict source-route options (off by default: RFC 1122
    /// §3.3.5 leaves it to configuration and hosts commonly refuse them).
    pub accept_source_route: bool,
    /// Forward datagrams not addressed to us (router mode; the seeds' IPEnableRouter, off).
    pub forwarding: bool,
    /// TTL of multicast datagrams we originate (the seeds' 1: they stay on the link).
    pub multicast_ttl: u8,
}

impl Default for Ipv4Config {
    fn default() -> Self {
        Ipv4Config {
            default_ttl: 128,
            accept_source_route: false,
            multicast_ttl: 1,
            forwarding: false,
        }
    }
}

/// Per-worker IPv4 counters (the `netstat -s` IP section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ipv4Stats {
    /// Datagrams received.
    pub received: u64,
    /// Delivered to a local protocol.
    pub delivered: u64,
    /// Originated by us.
    pub sent: u64,
    /// Fragments created for datagrams larger than the link MTU.
    pub fragments_created: u64,
    /// Multicast datagrams delivered (to a group joined on the port).
    pub multicast_in: u64,
    /// Dropped: multicast to a group nobody joined on that port.
    pub drop_not_member: u64,
    /// Group joins a worker refused: its membership table (sized at start for the configured
    /// groups) was full.
    pub group_join_rejected: u64,
    /// Dropped: an IGMP message longer than a worker hands the control thread (a query with
    /// more sources than a 1500-byte MTU holds).
    pub drop_igmp_too_long: u64,
    /// Dropped: shorter than a header, or a length field inconsistent with the frame.
    pub drop_truncated: u64,
    /// Dropped: version is not 4.
    pub drop_version: u64,
    /// Dropped: header length below 20 bytes.
    pub drop_header_len: u64,
    /// Dropped: header checksum wrong (RFC 1812 §5.2.2).
    pub drop_checksum: u64,
    /// Dropped: martian source (0/8, 127/8, class D/E, limited broadcast; RFC 1812 §5.3.7).
    pub drop_martian_source: u64,
    /// Dropped: malformed options.
    pub drop_bad_options: u64,
    /// Dropped: source-route option while source routing is refused.
    pub drop_source_route: u64,
    /// Dropped: not addressed to us and forwarding is off.
    pub drop_not_for_us: u64,
    /// Dropped: a fragment that reassembly refused (details in the `frag.*` counters).
    pub drop_fragment: u64,
    /// Dropped: destination address disabled by an address conflict.
    pub drop_address_disabled: u64,
    /// Dropped: protocol we do not serve (a protocol-unreachable was sent when allowed).
    pub drop_unknown_protocol: u64,
    /// Dropped: no route to the destination of a datagram we originate.
    pub drop_no_route: u64,
    /// Dropped: next hop never resolved (ARP failure) or its pending queue was full.
    pub drop_unresolved: u64,
    /// Dropped: no buffer to build an outgoing datagram.
    pub drop_no_buffer: u64,
    /// Handed to the worker that owns the flow (ports whose receive hash is unknown).
    pub handed_off: u64,
    /// Received from another worker that handed the flow to its owner (then counted by its
    /// outcome here, not in `received`).
    pub handed_in: u64,
    /// Dropped: the owner worker's handoff queue was full.
    pub drop_handoff_full: u64,
    /// Dropped: a reassembled datagram for a socket another worker owns (only whole
    /// datagrams move between workers).
    pub drop_handoff_fragmented: u64,
}

impl Ipv4Stats {
    /// Adds another worker's counters.
    pub fn add(&mut self, o: &Ipv4Stats) {
        self.received += o.received;
        self.delivered += o.delivered;
        self.sent += o.sent;
        self.fragments_created += o.fragments_created;
        self.multicast_in += o.multicast_in;
        self.drop_not_member += o.drop_not_member;
        self.group_join_rejected += o.group_join_rejected;
        self.drop_igmp_too_long += o.drop_igmp_too_long;
        self.drop_truncated += o.drop_truncated;
        self.drop_version += o.drop_version;
        self.drop_header_len += o.drop_header_len;
        self.drop_checksum += o.drop_checksum;
        self.drop_martian_source += o.drop_martian_source;
        self.drop_bad_options += o.drop_bad_options;
        self.drop_source_route += o.drop_source_route;
        self.drop_not_for_us += o.drop_not_for_us;
        self.drop_fragment += o.drop_fragment;
        self.drop_address_disabled += o.drop_address_disabled;
        self.drop_unknown_protocol += o.drop_unknown_protocol;
        self.drop_no_route += o.drop_no_route;
        self.drop_unresolved += o.drop_unresolved;
        self.drop_no_buffer += o.drop_no_buffer;
        self.handed_off += o.handed_off;
        self.handed_in += o.handed_in;
        self.drop_handoff_full += o.drop_handoff_full;
        self.drop_handoff_fragmented += o.drop_handoff_fragmented;
    }

    /// Every counter with its name, for `stats` output.
    pub fn named(&self) -> [(&'static str, u64); 26] {
        [
            ("received", self.received),
            ("delivered", self.delivered),
            ("sent", self.sent),
            ("fragments_created", self.fragments_created),
            ("multicast_in", self.multicast_in),
            ("drop_not_member", self.drop_not_member),
            ("group_join_rejected", self.group_join_rejected),
            ("drop_igmp_too_long", self.drop_igmp_too_long),
            ("drop_truncated", self.drop_truncated),
            ("drop_version", self.drop_version),
            ("drop_header_len", self.drop_header_len),
            ("drop_checksum", self.drop_checksum),
            ("drop_martian_source", self.drop_martian_source),
            ("drop_bad_options", self.drop_bad_options),
            ("drop_source_route", self.drop_source_route),
            ("drop_not_for_us", self.drop_not_for_us),
            ("drop_fragment", self.drop_fragment),
            ("drop_address_disabled", self.drop_address_disabled),
            ("drop_unknown_protocol", self.drop_unknown_protocol),
            ("drop_no_route", self.drop_no_route),
            ("drop_unresolved", self.drop_unresolved),
            ("drop_no_buffer", self.drop_no_buffer),
            ("handed_off", self.handed_off),
            ("handed_in", self.handed_in),
            ("drop_handoff_full", self.drop_handoff_full),
            ("drop_handoff_fragmented", self.drop_handoff_fragmented),
        ]
    }
}

/// State of one of our addresses (duplicate address detection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrState {
    /// Gratuitous ARPs still going out; not yet used as a source.
    Tentative,
    /// In use.
    Preferred,
    /// Disabled: another host holds it.
    Conflict,
}

/// One address on one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfAddr {
    /// The port.
    pub port: PortId,
    /// Address and prefix.
    pub cidr: Cidr,
    /// DAD state.
    pub state: AddrState,
}

/// How a received datagram is addressed, relative to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// One of our unicast addresses (any port: the weak host model).
    Local,
    /// The limited broadcast or a directed broadcast of one of our subnets.
    Broadcast,
    /// A multicast group.
    Multicast,
    /// Someone else.
    Other,
}

/// Why [`check`] refused a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too short or inconsistent lengths.
    Truncated,
    /// Not version 4.
    Version,
    /// IHL below 5.
    HeaderLen,
    /// Bad header checksum.
    Checksum,
    /// Martian source address.
    MartianSource,
    /// Malformed options.
    BadOptions,
    /// Source route refused.
    SourceRoute,
}

impl Refused {
    /// The name of the counter this refusal increments.
    pub fn name(self) -> &'static str {
        match self {
            Refused::Truncated => "drop_truncated",
            Refused::Version => "drop_version",
            Refused::HeaderLen => "drop_header_len",
            Refused::Checksum => "drop_checksum",
            Refused::MartianSource => "drop_martian_source",
            Refused::BadOptions => "drop_bad_options",
            Refused::SourceRoute => "drop_source_route",
        }
    }

    /// Counts the refusal.
    pub fn count(self, s: &mut Ipv4Stats) {
        match self {
            Refused::Truncated => s.drop_truncated += 1,
            Refused::Version => s.drop_version += 1,
            Refused::HeaderLen => s.drop_header_len += 1,
            Refused::Checksum => s.drop_checksum += 1,
            Refused::MartianSource => s.drop_martian_source += 1,
            Refused::BadOptions => s.drop_bad_options += 1,
            Refused::SourceRoute => s.drop_source_route += 1,
        }
    }
}

/// Validates a received datagram (RFC 1812 §5.2.2 and RFC 1122 §3.2.1): lengths, version,
/// header length, checksum (unless the NIC already verified it), martian sources, options.
/// Returns the checked view.
pub fn check<'a>(
    bytes: &'a [u8],
    rx: &RxMeta,
    cfg: &Ipv4Config,
) -> Result<ipv4::Packet<&'a [u8]>, Refused> {
    let p = ipv4::Packet::new_checked(bytes).map_err(|e| match e {
        burst_wire::Error::UnsupportedVersion { .. } => Refused::Version,
        burst_wire::Error::BadHeaderLength { .. } => Refused::HeaderLen,
        _ => Refused::Truncated,
    })?;
    match rx.ip_checksum {
        ChecksumStatus::Good => {}
        ChecksumStatus::Bad => return Err(Refused::Checksum),
        ChecksumStatus::Unknown => {
            if !p.verify_checksum() {
                return Err(Refused::Checksum);
            }
        }
    }
    if p.src_addr().is_martian_source() && !initialising_host(&p) {
        return Err(Refused::MartianSource);
    }
    if p.header_len() > ipv4::HEADER_LEN {
        for o in OptionsIter::new(p.options()) {
            match o {
                Err(_) => return Err(Refused::BadOptions),
                Ok(Ipv4Option::LooseSourceRoute { .. } | Ipv4Option::StrictSourceRoute { .. })
                    if !cfg.accept_source_route =>
                {
                    return Err(Refused::SourceRoute)
                }
                Ok(_) => {}
            }
        }
    }
    Ok(p)
}

/// A host that does not know its address yet sends from 0.0.0.0 (RFC 1122 §3.2.1.3: router
/// solicitations, IGMPv3 reports RFC 3376 §4.2.13, DHCP), to the link only: the limited
/// broadcast or a 224.0.0.0/24 group, neither of which is ever forwarded. Such datagrams are
/// not martian.
fn initialising_host(p: &ipv4::Packet<&[u8]>) -> bool {
    let dst = p.dst_addr().octets();
    p.src_addr().is_unspecified() && (dst == [255; 4] || dst[..3] == [224, 0, 0])
}

/// Classifies a destination against our addresses.
pub fn classify(dst: Ipv4Addr, addrs: &[IfAddr]) -> Destination {
    if dst.is_limited_broadcast() {
        return Destination::Broadcast;
    }
    if dst.is_multicast() {
        return Destination::Multicast;
    }
    for a in addrs {
        if a.cidr.address() == dst {
            return Destination::Local;
        }
        if a.cidr.is_directed_broadcast(dst) {
            return Destination::Broadcast;
        }
    }
    Destination::Other
}

/// Whether `dst` is one of our addresses currently disabled by a conflict.
pub fn is_disabled(dst: Ipv4Addr, addrs: &[IfAddr]) -> bool {
    addrs
        .iter()
        .any(|a| a.cidr.address() == dst && a.state == AddrState::Conflict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burst_wire::ipv4::Protocol;
    use burst_wire::ChecksumMode;

    fn datagram(src: Ipv4Addr, options: &[u8]) -> Vec<u8> {
        let r = ipv4::Repr {
            options: ipv4::Options::from_bytes(options).unwrap(),
            ..ipv4::Repr::new(src, Ipv4Addr::new(198, 18, 0, 2), Protocol::UDP, 8, 64)
        };
        let mut b = vec![0u8; r.buffer_len()];
        r.emit(
            &mut ipv4::Packet::new_unchecked(&mut b[..]),
            ChecksumMode::Compute,
        );
        b
    }

    #[test]
    fn refusals_name_the_reason() {
        let cfg = Ipv4Config::default();
        let rx = RxMeta::default();
        let good = datagram(Ipv4Addr::new(198, 18, 0, 1), &[]);
        assert!(check(&good, &rx, &cfg).is_ok());
        assert_eq!(
            check(&good[..10], &rx, &cfg).unwrap_err(),
            Refused::Truncated
        );
        let mut v6 = good.clone();
        v6[0] = 0x65;
        assert_eq!(check(&v6, &rx, &cfg).unwrap_err(), Refused::Version);
        let mut ihl = good.clone();
        ihl[0] = 0x44;
        assert_eq!(check(&ihl, &rx, &cfg).unwrap_err(), Refused::HeaderLen);
        let mut cs = good.clone();
        cs[10] ^= 0xff;
        assert_eq!(check(&cs, &rx, &cfg).unwrap_err(), Refused::Checksum);
        // A NIC verdict is trusted both ways.
        let nic_good = RxMeta {
            ip_checksum: ChecksumStatus::Good,
            ..RxMeta::default()
        };
        assert!(check(&cs, &nic_good, &cfg).is_ok());
        let nic_bad = RxMeta {
            ip_checksum: ChecksumStatus::Bad,
            ..RxMeta::default()
        };
        assert_eq!(check(&good, &nic_bad, &cfg).unwrap_err(), Refused::Checksum);
        for m in [
            "127.0.0.1",
            "0.0.0.7",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            let d = datagram(m.parse().unwrap(), &[]);
            assert_eq!(
                check(&d, &rx, &cfg).unwrap_err(),
                Refused::MartianSource,
                "{m}"
            );
        }
        // 0.0.0.0 only from a host still learning its address, to the link.
        let d = datagram(Ipv4Addr::UNSPECIFIED, &[]);
        assert_eq!(check(&d, &rx, &cfg).unwrap_err(), Refused::MartianSource);
        for to in [[224, 0, 0, 2], [224, 0, 0, 22], [255, 255, 255, 255]] {
            let mut d = datagram(Ipv4Addr::UNSPECIFIED, &[]);
            let mut p = ipv4::Packet::new_unchecked(&mut d[..]);
            p.set_dst_addr(Ipv4Addr::from(to));
            p.fill_checksum();
            assert!(check(&d, &rx, &cfg).is_ok(), "{to:?}");
        }
        let mut d = datagram(Ipv4Addr::UNSPECIFIED, &[]);
        let mut p = ipv4::Packet::new_unchecked(&mut d[..]);
        p.set_dst_addr(Ipv4Addr::new(224, 0, 1, 2));
        p.fill_checksum();
        assert_eq!(check(&d, &rx, &cfg).unwrap_err(), Refused::MartianSource);
        let lsrr = datagram(Ipv4Addr::new(198, 18, 0, 1), &[131, 7, 4, 198, 18, 0, 9]);
        assert_eq!(check(&lsrr, &rx, &cfg).unwrap_err(), Refused::SourceRoute);
        let accept = Ipv4Config {
            accept_source_route: true,
            ..cfg
        };
        assert!(check(&lsrr, &rx, &accept).is_ok());
        let rr = datagram(Ipv4Addr::new(198, 18, 0, 1), &[7, 7, 4, 0, 0, 0, 0]);
        assert!(check(&rr, &rx, &cfg).is_ok(), "record route is harmless");
    }

    #[test]
    fn destinations() {
        let addrs = [
            IfAddr {
                port: PortId(0),
                cidr: "198.18.0.2/24".parse().unwrap(),
                state: AddrState::Preferred,
            },
            IfAddr {
                port: PortId(1),
                cidr: "198.19.0.1/16".parse().unwrap(),
                state: AddrState::Conflict,
            },
        ];
        let c = |s: &str| classify(s.parse().unwrap(), &addrs);
        assert_eq!(c("198.18.0.2"), Destination::Local);
        assert_eq!(c("198.19.0.1"), Destination::Local);
        assert_eq!(c("198.18.0.255"), Destination::Broadcast);
        assert_eq!(c("198.19.255.255"), Destination::Broadcast);
        assert_eq!(c("255.255.255.255"), Destination::Broadcast);
        assert_eq!(c("224.0.0.1"), Destination::Multicast);
        assert_eq!(c("198.18.0.3"), Destination::Other);
        assert!(is_disabled("198.19.0.1".parse().unwrap(), &addrs));
        assert!(!is_disabled("198.18.0.2".parse().unwrap(), &addrs));
    }
}
