//! IGMP: the per-port multicast hosts (joins at start, `ctl igmp`) and the reports they send,
//! handed to worker 0. Kept apart from the poll loop, which only feeds the hosts their messages
//! and timers.

use std::net::Ipv4Addr;

use burst_port::{Nanos, Port};
use burst_stack::igmp::{IgmpConfig, IgmpHost, IgmpOutput};
use burst_stack::PortId;

use super::Control;
use crate::msg::{ProtoDown, Rings, ToWorker, IGMP_MAX};

/// IGMP messages the hosts want sent, handed to worker 0 (the transmit owner).
pub(super) struct IgmpOut<'a> {
    pub(super) workers: &'a [Rings],
    pub(super) lost: &'a mut u64,
}

impl IgmpOutput for IgmpOut<'_> {
    fn send(&mut self, port: PortId, dst: Ipv4Addr, msg: &[u8]) {
        // The hosts build reports no longer than IGMP_MAX (their MTU): nothing is cut.
        let mut m = [0u8; IGMP_MAX];
        let n = msg.len().min(IGMP_MAX);
        m[..n].copy_from_slice(&msg[..n]);
        let w = ToWorker::Proto(ProtoDown::SendIgmp {
            port,
            dst,
            len: n as u16,
            msg: m,
        });
        if self.workers[0].to_worker(w).is_err() {
            *self.lost += 1;
        }
    }
}

impl<P: Port> Control<P> {
    /// Starts IGMP on every port with an address and joins `groups[port]` there.
    pub fn start_igmp(&mut self, groups: &[Vec<Ipv4Addr>], now: Nanos) -> Result<(), String> {
        let mut lost = 0;
        for (i, m) in self.meta.iter().enumerate() {
            let port = PortId(i as u16);
            // Reports fit the port's MTU (and a worker message); every configured group fits.
            let want = groups.get(i).map_or(0, Vec::len);
            let cfg = IgmpConfig {
                mtu: usize::from(self.ports[i].info().mtu).min(IGMP_MAX + 24),
                max_groups: IgmpConfig::default().max_groups.max(want),
                ..IgmpConfig::default()
            };
            let host = m
                .addrs
                .first()
                .map(|c| IgmpHost::new(port, c.address(), cfg, 0x1c3b_5eed ^ i as u64));
            self.igmp.push(host);
            for &g in groups.get(i).map(Vec::as_slice).unwrap_or(&[]) {
                let Some(h) = self.igmp[i].as_mut() else {
                    return Err(format!(
                        "port {}: groups need an address to report from",
                        m.name
                    ));
                };
                let mut out = IgmpOut {
                    workers: &self.workers,
                    lost: &mut lost,
                };
                h.join(g, now, &mut out)
                    .map_err(|e| format!("port {}: join {g}: {e:?}", m.name))?;
                for w in &self.workers {
                    if w.to_worker(ToWorker::Proto(ProtoDown::Group {
                        port,
                        group: g,
                        joined: true,
                    }))
                    .is_err()
                    {
                        lost += 1;
                    }
                }
            }
        }
        self.stats.lost_proto += lost;
        Ok(())
    }

    /// Joined groups per port, for `burst ctl igmp`.
    pub fn igmp_groups(&self) -> Vec<(String, Vec<Ipv4Addr>)> {
        self.igmp
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                h.as_ref()
                    .map(|h| (self.meta[i].name.clone(), h.groups().collect()))
            })
            .collect()
    }
}
