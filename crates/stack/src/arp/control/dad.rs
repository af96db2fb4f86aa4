//! Our own addresses: duplicate address detection (RFC 5227 probes, then the seeds'
//! gratuitous requests) before an address is used, and its defence against later claims.

use core::fmt;
use core::net::Ipv4Addr;

use burst_port::clock::Nanos;
use burst_wire::arp;
use burst_wire::ethernet::MacAddr;
use burst_wire::ipv4::Cidr;
use tracing::info;

use super::*;

/// An address conflict worth an operator's attention (at most one per address per
/// `defend_interval`, see [`ArpOutput::conflict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict {
    /// The port the claim came in on.
    pub port: PortId,
    /// Our address.
    pub ip: Ipv4Addr,
    /// The other host's hardware address.
    pub other: MacAddr,
    /// Whether we gave the address up (during duplicate address detection) or keep it.
    pub disabled: bool,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The seeds' event text, so an operator searching for it finds it.
        write!(
            f,
            "address conflict for IP address {} with the system having network hardware \
             address {}: {}",
            self.ip,
            self.other,
            if self.disabled {
                "address disabled"
            } else {
                "defending"
            }
        )
    }
}

/// The state of one of our addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrState {
    /// Duplicate address detection is running: not yet used.
    Tentative,
    /// In use.
    Preferred,
    /// Another host (`mac`) answered or claimed the address during duplicate address detection:
    /// the address is disabled.
    Conflict {
        /// The defending host's MAC.
        mac: MacAddr,
    },
}

#[derive(Debug, Clone, Copy)]
pub(super) struct OurAddr {
    pub(super) port: PortId,
    pub(super) cidr: Cidr,
    pub(super) mac: MacAddr,
    pub(super) state: AddrState,
    /// Gratuitous ARPs sent by duplicate address detection.
    pub(super) sent: u8,
    /// When duplicate address detection acts next.
    pub(super) next: Nanos,
    /// The last later conflict that was logged at warn level (and defended).
    pub(super) last_warned: Option<Nanos>,
}

impl OurAddr {
    pub(super) fn ip(&self) -> Ipv4Addr {
        self.cidr.address()
    }
}

impl ArpControl {
    /// Adds one of our addresses on `port` (whose MAC is `mac`) and starts duplicate address
    /// detection: `retry_count` gratuitous ARPs, `dad_interval` apart; the address becomes
    /// preferred one interval after the last unless another host claims it first.
    pub fn add_address<O: ArpOutput>(
        &mut self,
        port: PortId,
        cidr: Cidr,
        mac: MacAddr,
        now: Nanos,
        out: &mut O,
    ) -> Result<(), ArpError> {
        if !is_unicast(mac) {
            return Err(ArpError::NotUnicast(mac));
        }
        let ip = cidr.address();
        if self.addr_on(port, ip).is_some() {
            return Err(ArpError::AddressExists(ip));
        }
        // Our addresses never appear in the table, whatever was learned before.
        let before = self.entries.len();
        self.entries.retain(|k, _| k.1 != ip);
        self.dirty |= self.entries.len() != before;
        self.resolving.retain(|k, _| {
            if k.1 == ip {
                out.resolution_failed(k.0, k.1);
            }
            k.1 != ip
        });
        self.addrs.push(OurAddr {
            port,
            cidr,
            mac,
            state: AddrState::Tentative,
            sent: 0,
            next: now,
            last_warned: None,
        });
        if !self.cfg.duplicate_detection {
            // Announced once (RFC 5227 §2.3) and usable at once.
            out.send_arp(port, MacAddr::BROADCAST, &arp::Repr::gratuitous(mac, ip));
            self.stats.gratuitous_sent += 1;
            if let Some(a) = self.addrs.last_mut() {
                a.state = AddrState::Preferred;
            }
            info!(%port, addr = %cidr, %mac, "address added (duplicate address detection off)");
            out.address_state(port, ip, AddrState::Preferred);
            self.commit(out);
            return Ok(());
        }
        info!(%port, addr = %cidr, %mac, "address added, duplicate address detection started");
        out.address_state(port, ip, AddrState::Tentative);
        self.run_dad(now, out);
        self.commit(out);
        Ok(())
    }

    /// Removes one of our addresses from `port`.
    pub fn remove_address(&mut self, port: PortId, ip: Ipv4Addr) -> Result<(), ArpError> {
        let i = self.addr_on(port, ip).ok_or(ArpError::NoSuchAddress(ip))?;
        self.addrs.remove(i);
        Ok(())
    }

    /// The state of our address `ip` on `port`.
    pub fn address_state(&self, port: PortId, ip: Ipv4Addr) -> Option<AddrState> {
        self.addr_on(port, ip).map(|i| self.addrs[i].state)
    }

    pub(super) fn addr_on(&self, port: PortId, ip: Ipv4Addr) -> Option<usize> {
        self.addrs
            .iter()
            .position(|a| a.port == port && a.ip() == ip)
    }

    pub(super) fn is_ours(&self, ip: Ipv4Addr) -> bool {
        self.addrs.iter().any(|a| a.ip() == ip)
    }

    /// Another host (`other`) claimed (`claimed`: its ARP has our address as sender) or probed
    /// our address `addrs[i]`.
    pub(super) fn conflict<O: ArpOutput>(
        &mut self,
        i: usize,
        other: MacAddr,
        claimed: bool,
        now: Nanos,
        out: &mut O,
    ) {
        let a = &mut self.addrs[i];
        let (port, ip) = (a.port, a.ip());
        match a.state {
            AddrState::Tentative => {
                a.state = AddrState::Conflict { mac: other };
                self.stats.conflicts_dad += 1;
                out.conflict(&Conflict {
                    port,
                    ip,
                    other,
                    disabled: true,
                });
                out.address_state(port, ip, a.state);
                if claimed {
                    // Our gratuitous ARPs may have pointed neighbours' caches at us: re-announce
                    // the address with the defender's MAC ("spoofing" it, as the seeds say).
                    out.send_arp(port, MacAddr::BROADCAST, &arp::Repr::gratuitous(other, ip));
                    self.stats.restores_sent += 1;
                }
            }
            AddrState::Preferred => {
                self.stats.conflicts_later += 1;
                let quiet = a
                    .last_warned
                    .is_some_and(|t| now < t + self.cfg.defend_interval);
                if quiet {
                    // RFC 5227 §2.4 (b): one defence per DEFEND_INTERVAL. Unlike (b) we keep the
                    // address (the seeds' defending host does), so a host insisting on it is
                    // logged and counted, not obeyed.
                    debug!(%port, %ip, %other, "repeated address conflict; not defended");
                    self.stats.defences_suppressed += 1;
                    return;
                }
                a.last_warned = Some(now);
                out.conflict(&Conflict {
                    port,
                    ip,
                    other,
                    disabled: false,
                });
                if self.cfg.conflict_defend {
                    out.send_arp(port, MacAddr::BROADCAST, &arp::Repr::gratuitous(a.mac, ip));
                    self.stats.defended += 1;
                } else {
                    self.stats.defences_suppressed += 1;
                }
            }
            AddrState::Conflict { .. } => {}
        }
    }

    pub(super) fn run_dad<O: ArpOutput>(&mut self, now: Nanos, out: &mut O) {
        for a in &mut self.addrs {
            if a.state != AddrState::Tentative || now < a.next {
                continue;
            }
            if a.sent < self.cfg.retry_count {
                // An RFC 5227 probe (sender address 0.0.0.0) first: hosts that do not answer
                // gratuitous requests for their own address (Linux) do answer probes. Then the
                // seeds' gratuitous request, which hosts like the seeds' own answer.
                out.send_arp(a.port, MacAddr::BROADCAST, &arp::Repr::probe(a.mac, a.ip()));
                out.send_arp(
                    a.port,
                    MacAddr::BROADCAST,
                    &arp::Repr::gratuitous(a.mac, a.ip()),
                );
                a.sent += 1;
                a.next = now + self.cfg.dad_interval;
                self.stats.gratuitous_sent += 1;
            } else {
                a.state = AddrState::Preferred;
                info!(port = %a.port, addr = %a.cidr, "no address conflict: address in use");
                out.address_state(a.port, a.ip(), AddrState::Preferred);
            }
        }
    }
}
