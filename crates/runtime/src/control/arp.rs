//! Neighbours: the ARP messages the control thread's [`ArpControl`] sends through the workers,
//! duplicate address detection and static neighbours at start, and the `ctl arp` requests. Kept
//! apart because ARP is the control thread's largest state machine.

use std::net::Ipv4Addr;

use burst_port::{Nanos, Port};
use burst_stack::arp::{AddrState, ArpControl, ArpOutput, NeighKind};
use burst_stack::PortId;
use burst_wire::arp;
use burst_wire::ethernet::MacAddr;

use super::Control;
use crate::ctl::{ArpEntry, Response};
use crate::msg::{NeighDown, Rings, ToWorker};

/// The messages ArpControl wants sent, routed to the workers' rings.
pub(super) struct Out<'a> {
    pub(super) workers: &'a [Rings],
    pub(super) lost: &'a mut u64,
    pub(super) addr_events: &'a mut Vec<(PortId, Ipv4Addr, AddrState)>,
}

impl Out<'_> {
    fn all(&mut self, m: ToWorker) {
        for w in self.workers {
            if w.to_worker(m).is_err() {
                *self.lost += 1;
            }
        }
    }
}

impl ArpOutput for Out<'_> {
    fn send_arp(&mut self, port: PortId, dst: MacAddr, repr: &arp::Repr) {
        // Only workers own transmit queues; worker 0 sends for the control thread.
        if self.workers[0]
            .to_worker(ToWorker::Neigh(NeighDown::SendArp {
                port,
                dst,
                repr: *repr,
            }))
            .is_err()
        {
            *self.lost += 1;
        }
    }
    fn resolved(&mut self, port: PortId, ip: Ipv4Addr, _mac: MacAddr) {
        self.all(ToWorker::Neigh(NeighDown::Resolved { port, ip }));
    }
    fn resolution_failed(&mut self, port: PortId, ip: Ipv4Addr) {
        self.all(ToWorker::Neigh(NeighDown::Failed { port, ip }));
    }
    fn address_state(&mut self, port: PortId, addr: Ipv4Addr, state: AddrState) {
        self.all(ToWorker::Neigh(NeighDown::AddrState { port, addr, state }));
        self.addr_events.push((port, addr, state));
    }
}

impl<P: Port> Control<P> {
    /// Starts duplicate address detection on every configured address and installs static
    /// neighbours; call once before the first `poll`.
    pub fn start(
        &mut self,
        static_arp: &[(PortId, Ipv4Addr, MacAddr)],
        now: Nanos,
    ) -> Result<(), String> {
        let mut events = Vec::new();
        let mut lost = 0;
        for (i, m) in self.meta.clone().iter().enumerate() {
            for c in &m.addrs {
                let mut out = Out {
                    workers: &self.workers,
                    lost: &mut lost,
                    addr_events: &mut events,
                };
                self.arp
                    .add_address(PortId(i as u16), *c, m.mac, now, &mut out)
                    .map_err(|e| format!("port {}: address {c}: {e}", m.name))?;
            }
        }
        for &(port, ip, mac) in static_arp {
            let mut out = Out {
                workers: &self.workers,
                lost: &mut lost,
                addr_events: &mut events,
            };
            self.arp
                .add_static(port, ip, mac, now, &mut out)
                .map_err(|e| format!("static ARP {ip}: {e}"))?;
        }
        self.stats.lost_neigh += lost;
        self.note_addr_events(events);
        Ok(())
    }

    pub(super) fn note_addr_events(&mut self, events: Vec<(PortId, Ipv4Addr, AddrState)>) {
        for (port, addr, state) in events {
            let name = self
                .meta
                .get(usize::from(port.0))
                .map_or("?", |m| m.name.as_str());
            match state {
                AddrState::Conflict { mac } => tracing::warn!(
                    port = name,
                    %addr,
                    other = %mac,
                    "address conflict: {addr} is in use by {mac}; address disabled"
                ),
                AddrState::Preferred => tracing::info!(port = name, %addr, "address ready"),
                AddrState::Tentative => {}
            }
            self.addr_states.insert((port, addr), state);
        }
    }

    /// State of one of our addresses.
    pub fn address_state(&self, port: PortId, addr: Ipv4Addr) -> Option<AddrState> {
        self.arp.address_state(port, addr)
    }

    pub(super) fn arp_entries(&self) -> Vec<ArpEntry> {
        let mut v: Vec<ArpEntry> = self
            .arp
            .neighbors()
            .map(|n| {
                let m = &self.meta[usize::from(n.port.0)];
                ArpEntry {
                    port: m.name.clone(),
                    interface: m
                        .addrs
                        .first()
                        .map_or(Ipv4Addr::UNSPECIFIED, |c| c.address()),
                    ip: n.ip,
                    mac: n.mac.to_string(),
                    kind: match n.kind {
                        NeighKind::Static => "static".into(),
                        _ => "dynamic".into(),
                    },
                }
            })
            .collect();
        v.sort_by(|a, b| (&a.port, a.ip).cmp(&(&b.port, b.ip)));
        v
    }

    pub(super) fn arp_add(
        &mut self,
        ip: Ipv4Addr,
        mac: &str,
        port: Option<&str>,
        now: Nanos,
    ) -> Response {
        let Ok(mac) = mac.parse::<MacAddr>() else {
            return Response::Error {
                message: format!("{mac}: not a MAC address"),
            };
        };
        let port = match port {
            Some(n) => match self.port_by_name(n) {
                Some(p) => p,
                None => {
                    return Response::Error {
                        message: format!("no port named {n}"),
                    }
                }
            },
            None => match self.port_for(ip) {
                Some(p) => p,
                None => {
                    return Response::Error {
                        message: format!("{ip} is on no port's subnet; name the port"),
                    }
                }
            },
        };
        let mut events = Vec::new();
        let mut lost = 0;
        let mut out = Out {
            workers: &self.workers,
            lost: &mut lost,
            addr_events: &mut events,
        };
        let r = self.arp.add_static(port, ip, mac, now, &mut out);
        self.stats.lost_neigh += lost;
        match r {
            Ok(()) => Response::Ok,
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        }
    }

    /// The ARP control (tests).
    pub fn arp(&self) -> &ArpControl {
        &self.arp
    }
}
