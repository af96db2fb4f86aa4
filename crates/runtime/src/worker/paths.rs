//! The seed's three packet paths (seed 000, "IP packet processing"): source traffic we
//! originate, destination traffic for us, transit traffic we forward. Each function's body
//! follows the seed's numbered steps and calls one hook per step (`hooks.rs`); a hook with
//! nothing configured costs a branch. `burst ctl trace` records every hook with its verdict,
//! so a traced packet shows exactly this order.
//!
//! The router's fast path (`forward.rs`, `Worker::rx_router`) takes transit datagrams that need
//! none of the configured hooks but the filters, and applies those in the same order; anything
//! else comes here.

use burst_port::{ChecksumStatus, Nanos, PacketBuf, Queue};
use burst_stack::filter::Direction;
use burst_stack::ipv4::Destination;
use burst_stack::udp as sudp;
use burst_stack::PortId;
use std::net::Ipv4Addr;

use super::output::OutRoute;
use super::Worker;
use crate::trace::{Hook, HookVerdict, Step};

/// Where a UDP datagram for a user socket goes: socket, sender, destination, payload offset
/// and length within the datagram.
pub(super) type ToSocket = (sudp::SocketId, (Ipv4Addr, u16), Ipv4Addr, usize, usize);

impl<Q: Queue> Worker<Q> {
    /// Destination traffic: a whole (reassembled) datagram for one of our addresses, a
    /// broadcast or a joined group.
    pub(super) fn destination(
        &mut self,
        port: PortId,
        datagram: &[u8],
        class: Destination,
        l4_checksum: ChecksumStatus,
        now: Nanos,
    ) -> Option<ToSocket> {
        // 1. IPsec: AH/ESP protection checked and removed (ESP for us was decrypted in
        //    `for_us` and came back through IPv4 input), or the plain packet checked against
        //    the IPsec filters.
        let v = self.ipsec_in_hook(datagram);
        if !self.hook(Hook::Ipsec, v) {
            return None;
        }
        // 2. Filter-hook: the arrival port's inbound packet filters.
        let v = self.filter_hook(port, Direction::In, datagram);
        if !self.hook(Hook::FilterIn, v) {
            return None;
        }
        // 3. Firewall-hook: NAT on the public interface (translated datagrams left in
        //    `ipv4_input` already, before reassembly), then the firewall's exceptions.
        let v = self.firewall_local_in(port, datagram, now);
        if !self.hook(Hook::Firewall, v) {
            return None;
        }
        // 4. TCP/IP filtering: the permitted protocols and ports.
        let v = self.tcpip_filter_hook(datagram);
        if !self.hook(Hook::TcpIpFiltering, v) {
            return None;
        }
        // Then TCP, UDP or another upper-layer protocol.
        self.deliver(port, datagram, class, l4_checksum, now)
    }

    /// Transit traffic: a datagram (or a fragment, never reassembled: RFC 1812) for somebody
    /// else, in router mode.
    pub(super) fn transit(&mut self, port: PortId, mut buf: Q::Buf, hl: usize, now: Nanos) {
        // IPsec on arrival (RFC 4301 §5.2; the seed's transit path has none): plain traffic
        // that inbound policies want protected, e.g. from a tunnel's remote subnet, is
        // dropped. A tunnel's inner datagram (decrypted here) passes.
        if self.ipsec.is_some() {
            let v = self.ipsec_in_hook(&buf.data()[hl..]);
            if !self.hook(Hook::Ipsec, v) {
                return;
            }
        }
        // 1. Filter-hook: the arrival port's inbound packet filters.
        let v = self.filter_hook(port, Direction::In, &buf.data()[hl..]);
        if !self.hook(Hook::FilterIn, v) {
            return;
        }
        // The IP forwarding component: next-hop port and address (RFC 1812 checks, TTL).
        let Some(hop) = self.forwarding(port, &buf, hl, now) else {
            return;
        };
        // 2. Firewall-hook: NAT on the private interface, the firewall on a firewalled one.
        let Some(v) = self.firewall_transit(port, &mut buf, hl, &hop, now) else {
            // A later fragment waiting for its first.
            self.hook(Hook::Firewall, crate::trace::HookVerdict::Consumed);
            let k = super::firewall::frag_key(&buf.data()[hl..]);
            self.fw_hold(port, hl, k, buf, now);
            return;
        };
        if !self.hook(Hook::Firewall, v) {
            return;
        }
        // 3. Filter-hook: the next-hop port's outbound packet filters.
        let v = self.filter_hook(hop.port, Direction::Out, &buf.data()[hl..]);
        if !self.hook(Hook::FilterOut, v) {
            return;
        }
        // 4. IPsec: permit, block or secure.
        let v = self.ipsec_out_hook(&buf.data()[hl..]);
        if !self.hook(Hook::Ipsec, v) {
            return;
        }
        if let HookVerdict::Secured(spi, _) = v {
            // Sealed, then sent by the outer header's route.
            self.ipsec_transit(port, buf, hl, spi, now);
            self.fw_after_send(now);
            return;
        }
        // Sent over the next-hop interface to the next-hop address.
        self.send_transit(port, buf, hl, hop, now);
        self.fw_after_send(now);
    }

    /// Source traffic: the hooks a datagram we formed (`ip`: its IPv4 header and at least the
    /// transport header) passes before it is sent on `route`; the error says which refused it
    /// (as a local sender such as `ctl ping` reports it). `Some(spi)`: IPsec secures it, the
    /// caller seals the datagram with that outbound SA.
    pub(super) fn source(
        &mut self,
        route: &OutRoute,
        ip: &[u8],
        now: Nanos,
    ) -> Result<Option<u32>, &'static str> {
        // 1. Firewall-hook: blocked ICMP types, dynamic exceptions for the replies. Then the
        //    IP forwarding component's next hop (looked up as the datagram was formed: it
        //    chose the source address).
        let v = self.firewall_local_out(route.port, ip, now);
        if !self.hook(Hook::Firewall, v) {
            return Err("Blocked by the firewall.");
        }
        self.step(Step::Route {
            port: route.port,
            gateway: route.gateway,
        });
        // 2. Filter-hook: the next-hop port's outbound packet filters.
        let v = self.filter_hook(route.port, Direction::Out, ip);
        if !self.hook(Hook::FilterOut, v) {
            return Err("Denied by an outbound packet filter.");
        }
        // 3. IPsec: permit, block or secure.
        let v = self.ipsec_out_hook(ip);
        if !self.hook(Hook::Ipsec, v) {
            return Err("Blocked by IPsec.");
        }
        // Then sent over the next-hop interface to the next-hop address (the caller), sealed
        // first when secured.
        Ok(match v {
            HookVerdict::Secured(spi, _) => Some(spi),
            _ => None,
        })
    }
}
