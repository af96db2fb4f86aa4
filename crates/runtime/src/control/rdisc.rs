//! Router discovery (RFC 1256) on the control thread: the host side (solicitations at start,
//! default routes from advertisements, `burst_stack::rdisc`) and the router side (periodic
//! advertisements and answers on the ports that enable them, `burst_stack::radv`). Workers
//! hand both message types over whole; what we send goes out through worker 0.

use std::net::Ipv4Addr;

use burst_port::{Nanos, Port};
use burst_stack::radv::{AdvertiseConfig, Advertiser};
use burst_stack::rdisc::{Rdisc, RdiscConfig, RdiscOutput, ALL_ROUTERS};
use burst_stack::PortId;
use burst_wire::icmpv4;
use burst_wire::ipv4::Cidr;
use burst_wire::ChecksumCheck;

use super::Control;
use crate::ctl::{RdiscAdvertising, RdiscRouter, RdiscStatus};
use crate::msg::{ProtoDown, Rings, ToWorker, RDISC_MAX};

/// Router discovery as configured: the host side and the ports that advertise, with their
/// preference levels.
#[derive(Debug, Clone, Default)]
pub struct RdiscSetup {
    /// Host side (off by default).
    pub host: RdiscConfig,
    /// Router side timers.
    pub advertise: AdvertiseConfig,
    /// Ports that advertise, with their preference level.
    pub ports: Vec<(PortId, i32)>,
}

/// Router discovery messages to send, handed to worker 0 (the transmit owner).
pub(super) struct RdiscOut<'a> {
    pub(super) workers: &'a [Rings],
    pub(super) lost: &'a mut u64,
}

impl RdiscOutput for RdiscOut<'_> {
    fn send_icmp(&mut self, port: PortId, dst: Ipv4Addr, repr: &icmpv4::Repr<'_>) {
        let n = repr.buffer_len();
        if n > RDISC_MAX {
            // The advertiser lists at most 64 addresses (520 bytes): never taken.
            *self.lost += 1;
            return;
        }
        let mut msg = [0u8; RDISC_MAX];
        repr.emit(&mut icmpv4::Packet::new_unchecked(&mut msg[..n]));
        let w = ToWorker::Proto(ProtoDown::SendRdisc {
            port,
            dst,
            len: n as u16,
            msg,
        });
        if self.workers[0].to_worker(w).is_err() {
            *self.lost += 1;
        }
    }
}

impl<P: Port> Control<P> {
    /// Starts router discovery: the host side solicits on every port with an address, the
    /// advertising ports join 224.0.0.2 (where solicitations go) and send their first
    /// advertisement.
    pub fn start_rdisc(&mut self, setup: &RdiscSetup, now: Nanos) {
        self.rdisc = Rdisc::new(setup.host);
        self.radv = Advertiser::new(setup.advertise, 0x5eed_0001 ^ now.0);
        let mut lost = 0;
        for (i, m) in self.meta.iter().enumerate() {
            let port = PortId(i as u16);
            let mut out = RdiscOut {
                workers: &self.workers,
                lost: &mut lost,
            };
            if !m.addrs.is_empty() {
                self.rdisc.start(port, now, &mut out);
            }
            if let Some(&(_, pref)) = setup.ports.iter().find(|(p, _)| *p == port) {
                self.radv.start(port, &m.addrs, pref, now, &mut out);
                for w in &self.workers {
                    let join = ToWorker::Proto(ProtoDown::Group {
                        port,
                        group: ALL_ROUTERS,
                        joined: true,
                    });
                    if w.to_worker(join).is_err() {
                        lost += 1;
                    }
                }
            }
        }
        self.stats.lost_proto += lost;
    }

    /// A router advertisement or solicitation a worker received on `port` from `from`.
    pub(super) fn rdisc_message(&mut self, port: PortId, from: Ipv4Addr, msg: &[u8], now: Nanos) {
        let Ok(p) = icmpv4::Packet::new_checked(msg) else {
            return;
        };
        // The worker verified the checksum.
        let Ok(repr) = icmpv4::Repr::parse(&p, ChecksumCheck::Trust) else {
            return;
        };
        let mut lost = 0;
        match repr {
            icmpv4::Repr::RouterAdvertisement { .. } => {
                let ours = self.our_subnets();
                // Dead gateway detection picks up the new set of default gateways by itself.
                self.rdisc
                    .on_advertisement(port, from, &repr, &ours, &mut self.routes, now);
            }
            icmpv4::Repr::RouterSolicitation => {
                let mut out = RdiscOut {
                    workers: &self.workers,
                    lost: &mut lost,
                };
                self.radv.on_solicitation(port, from, now, &mut out);
            }
            _ => {}
        }
        self.stats.lost_proto += lost;
    }

    /// Router discovery timers: solicitations, lifetimes, advertisements.
    pub(super) fn poll_rdisc(&mut self, now: Nanos) {
        let mut lost = 0;
        let mut out = RdiscOut {
            workers: &self.workers,
            lost: &mut lost,
        };
        self.rdisc.poll(now, &mut self.routes, &mut out);
        self.radv.poll(now, &mut out);
        self.stats.lost_proto += lost;
    }

    /// Stops advertising on every port: a last advertisement with lifetime 0 tells hosts to
    /// forget us (RFC 1256 §4.1). Called when the node stops, before the workers do.
    pub fn stop_rdisc(&mut self) {
        let mut lost = 0;
        let mut out = RdiscOut {
            workers: &self.workers,
            lost: &mut lost,
        };
        for p in self.radv.ports() {
            self.radv.stop(p.port, &mut out);
        }
        self.stats.lost_proto += lost;
    }

    /// `ctl rdisc`: learned default routers and advertising ports.
    pub(super) fn rdisc_status(&self, now: Nanos) -> RdiscStatus {
        let secs = |t: Nanos| t.saturating_sub(now).0.div_ceil(1_000_000_000);
        let host = self.rdisc.config();
        let name = |p: PortId| self.meta[usize::from(p.0)].name.clone();
        RdiscStatus {
            host_enabled: host.enabled,
            solicitation_destination: self.rdisc.solicitation_destination(),
            routers: self
                .rdisc
                .routers()
                .into_iter()
                .map(|r| RdiscRouter {
                    port: name(r.port),
                    router: r.addr,
                    preference: r.preference,
                    expires_in_s: secs(r.expires),
                })
                .collect(),
            advertisement_destination: self.radv.destination(),
            advertising: self
                .radv
                .ports()
                .into_iter()
                .map(|p| RdiscAdvertising {
                    port: name(p.port),
                    addrs: p.addrs,
                    preference: p.preference,
                    lifetime_s: self.radv.config().lifetime.0 / 1_000_000_000,
                    next_in_s: secs(p.next),
                    sent: p.sent,
                })
                .collect(),
        }
    }

    /// The preference level of the discovered router `gateway` on `port`, for `route print`.
    pub(super) fn rdisc_preference(&self, port: PortId, gateway: Ipv4Addr) -> Option<i32> {
        self.rdisc
            .routers()
            .into_iter()
            .find(|r| r.port == port && r.addr == gateway)
            .map(|r| r.preference)
    }

    /// Every address of every port with its subnet.
    pub(super) fn our_subnets(&self) -> Vec<(PortId, Cidr)> {
        self.meta
            .iter()
            .enumerate()
            .flat_map(|(i, m)| m.addrs.iter().map(move |c| (PortId(i as u16), *c)))
            .collect()
    }
}
