//! How `burst run` opens each port: the device settings its `[[port]]` section asks for
//! (queues, MTU, MAC, offloads), the receive ring and buffers a kernel-backed device needs so
//! that what a kernel peer sends arrives whole (`burst_port::vdev` explains why), and the EAL
//! arguments that ask for them. Kept apart from the DPDK calls so tests can check it.

use std::fmt::Write as _;

use burst_port::vdev::{self, AfPacketRing};
use burst_wire::ethernet::MacAddr;

use crate::config::PortConfig;

/// How one port is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortPlan {
    /// The largest frame the port receives whole.
    pub max_frame: u32,
    /// Receive buffers from a pool of their own: (mbufs, data room including the 128-byte
    /// headroom), when the shared pool's buffers are too small for the device's frames.
    pub rx_pool: Option<(u32, u32)>,
    /// The kernel interface behind the device (af_packet/af_xdp `iface=`), to compare MTUs.
    pub iface: Option<String>,
    /// The af_packet ring, when the port is one.
    pub ring: Option<AfPacketRing>,
    /// Queue pairs to open (`queues`, or one per worker when it is 0).
    pub queues: u16,
    /// The IP MTU to set on the device.
    pub mtu: u16,
    /// The MAC address to set instead of the device's.
    pub mac: Option<MacAddr>,
    /// Use the device's checksum/TSO offloads (`false`: burst's software paths).
    pub offloads: bool,
}

/// The EAL arguments to use (the configured ones with af_packet ring devargs added where the
/// configuration left them out) and a plan per port. `data_room` is the shared pool's data
/// room (headroom excluded). Errors name the port and what to change.
pub fn plan(
    eal_args: &[String],
    ports: &[PortConfig],
    workers: u16,
    data_room: u16,
) -> Result<(Vec<String>, Vec<PortPlan>), String> {
    let mut args = eal_args.to_vec();
    let vdevs = vdev::vdevs(eal_args);
    let mut plans = Vec::with_capacity(ports.len());
    for p in ports {
        let device = |max_frame, rx_pool, iface, ring| PortPlan {
            max_frame,
            rx_pool,
            iface,
            ring,
            queues: p.queue_count(workers),
            mtu: p.mtu,
            mac: p.mac,
            offloads: p.offloads,
        };
        let mtu_frame = vdev::frame_for_mtu(p.mtu);
        let dev = vdevs.iter().find(|v| v.name == p.device);
        let iface = dev.and_then(|v| v.get("iface")).map(str::to_owned);
        let Some(dev) = dev.filter(|v| v.name.starts_with("net_af_packet")) else {
            plans.push(device(p.max_frame.unwrap_or(mtu_frame), None, iface, None));
            continue;
        };
        let given = ["framesz", "blocksz", "framecnt"]
            .iter()
            .any(|k| dev.get(k).is_some());
        let ring = if given {
            let ring = dev
                .af_packet_ring()
                .map_err(|e| format!("port {}: {e}", p.name))?;
            ring.check().map_err(|e| {
                format!(
                    "port {} ({}): {e} (or leave framesz, blocksz and framecnt out and burst \
                     sizes the ring from [[port]] max_frame)",
                    p.name, p.device
                )
            })?;
            if let Some(m) = p.max_frame.filter(|&m| m > ring.max_frame()) {
                return Err(format!(
                    "port {}: max_frame = {m} but framesz={} holds frames of at most {} bytes: \
                     raise framesz (or leave it out and burst sizes it)",
                    p.name,
                    ring.framesz,
                    ring.max_frame()
                ));
            }
            ring
        } else {
            let ring = AfPacketRing::for_frame(p.max_frame.unwrap_or(vdev::AF_PACKET_MAX_FRAME));
            let mut d = dev.clone();
            d.args.extend([
                ("framesz".to_owned(), ring.framesz.to_string()),
                ("blocksz".to_owned(), ring.blocksz.to_string()),
                ("framecnt".to_owned(), ring.framecnt.to_string()),
            ]);
            args[d.arg] = d.to_arg();
            ring
        };
        if ring.max_frame() < mtu_frame {
            let mut e = String::new();
            let _ = write!(
                e,
                "port {}: MTU {} needs {mtu_frame}-byte frames but the af_packet ring holds {} \
                 (framesz={}): ",
                p.name,
                p.mtu,
                ring.max_frame(),
                ring.framesz
            );
            e.push_str(if given {
                "raise framesz, or leave it out and burst sizes the ring"
            } else {
                "raise [[port]] max_frame"
            });
            return Err(e);
        }
        let qpairs = dev
            .get("qpairs")
            .and_then(|q| q.parse::<u32>().ok())
            .unwrap_or_else(|| u32::from(p.queue_count(workers)));
        let rx_pool = (ring.data_room() > u32::from(data_room) + 128).then(|| {
            // The ring holds what waits in the kernel; buffers are taken only as a worker
            // polls, and are held for one burst (forwarded, or copied into a TCP ring) or
            // queued briefly (a socket, a neighbour being resolved): a ring's worth per queue
            // pair is plenty.
            let mbufs = (ring.framecnt * qpairs.max(1)).max(1024) - 1;
            (mbufs, ring.data_room())
        });
        plans.push(device(ring.max_frame(), rx_pool, iface, Some(ring)));
    }
    Ok((args, plans))
}

/// The MTU of kernel interface `iface` (from sysfs), if it can be read.
pub fn kernel_mtu(iface: &str) -> Option<u16> {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/mtu"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn cfg(eal: &str, ports: &str) -> Config {
        Config::parse(
            &format!("[eal]\nargs = [{eal}]\ncores = 2\nmbuf_data_room = 9216\n{ports}"),
            "test.toml",
        )
        .unwrap()
    }

    fn port(name: &str, dev: &str, net: u8, extra: &str) -> String {
        format!(
            "[[port]]\nname = \"{name}\"\ndevice = \"{dev}\"\naddresses = \
             [\"198.18.{net}.1/24\"]\n{extra}\n"
        )
    }

    #[test]
    fn af_packet_rings_are_sized_for_64k_frames_unless_told_otherwise() {
        let c = cfg(
            "\"--no-huge\", \"--vdev=net_af_packet0,iface=x0,qpairs=2\", \"--vdev\", \
             \"net_af_packet1,iface=x1\", \"--vdev=net_null0\"",
            &(port("a", "net_af_packet0", 1, "")
                + &port("b", "net_af_packet1", 2, "max_frame = 9018\nmtu = 9000")
                + &port("c", "net_null0", 3, "")),
        );
        let (args, plans) = plan(&c.eal.args, &c.ports, c.eal.cores, 2048).unwrap();
        assert_eq!(
            args[1],
            "--vdev=net_af_packet0,iface=x0,qpairs=2,framesz=65408,blocksz=2093056,framecnt=512"
        );
        assert_eq!(
            args[3],
            "net_af_packet1,iface=x1,framesz=12288,blocksz=12288,framecnt=512"
        );
        assert_eq!(args[4], "--vdev=net_null0");
        assert_eq!(plans[0].max_frame, vdev::AF_PACKET_MAX_FRAME);
        // A ring's worth (512) per queue pair (2) of 64 KiB buffers of their own.
        assert_eq!(plans[0].rx_pool, Some((1023, 65504)));
        assert_eq!(plans[0].iface.as_deref(), Some("x0"));
        assert_eq!(plans[1].max_frame, 12288 - 66);
        assert_eq!(plans[1].rx_pool, Some((1023, 12384)));
        assert_eq!(
            plans[2],
            PortPlan {
                max_frame: 1518,
                rx_pool: None,
                iface: None,
                ring: None,
                queues: 2,
                mtu: 1500,
                mac: None,
                offloads: true,
            }
        );
        // A pool with room enough needs no second one.
        let (_, plans) = plan(&c.eal.args, &c.ports, c.eal.cores, 12288).unwrap();
        assert_eq!(plans[1].rx_pool, None);
    }

    #[test]
    fn given_rings_are_checked_and_kept() {
        let ports = port("a", "net_af_packet0", 1, "");
        let c = cfg(
            "\"--vdev=net_af_packet0,iface=x0,framesz=8192,blocksz=8192,framecnt=64\"",
            &ports,
        );
        let (args, plans) = plan(&c.eal.args, &c.ports, 1, 2048).unwrap();
        assert_eq!(args, c.eal.args);
        assert_eq!(plans[0].max_frame, 8192 - 66);
        let c = cfg(
            "\"--vdev=net_af_packet0,iface=x0,framesz=8192,blocksz=12288\"",
            &ports,
        );
        let e = plan(&c.eal.args, &c.ports, 1, 2048).unwrap_err();
        assert!(
            e.starts_with("port a (net_af_packet0): blocksz=12288"),
            "{e}"
        );
        // The PMD's default ring cannot hold a jumbo MTU.
        let c = cfg(
            "\"--vdev=net_af_packet0,iface=x0,framesz=2048\"",
            &port("a", "net_af_packet0", 1, "mtu = 9000"),
        );
        let e = plan(&c.eal.args, &c.ports, 1, 2048).unwrap_err();
        assert!(e.contains("MTU 9000 needs 9018-byte frames"), "{e}");
        assert!(e.contains("raise framesz"), "{e}");
        let c = cfg(
            "\"--vdev=net_af_packet0,iface=x0,framesz=4096,blocksz=4096\"",
            &port("a", "net_af_packet0", 1, "max_frame = 9018"),
        );
        let e = plan(&c.eal.args, &c.ports, 1, 2048).unwrap_err();
        assert!(e.contains("max_frame = 9018 but framesz=4096"), "{e}");
    }

    /// `[[port]]` `queues`, `mtu`, `mac`, `offloads` and `device`, and `[eal]` `args` and
    /// `mbuf_data_room`, each changed: how the port is opened changes (the DPDK tests,
    /// `crates/port/tests/dpdk_null.rs`, show a port opened with these settings using them).
    #[test]
    fn port_keys_shape_how_the_port_is_opened() {
        let args = "\"--vdev=net_af_packet0,iface=x0\", \"--vdev=net_null0\"";
        let plan_of = |extra: &str, room: u16| {
            let c = cfg(
                args,
                &(port("a", "net_af_packet0", 1, extra) + &port("b", "net_null0", 2, extra)),
            );
            plan(&c.eal.args, &c.ports, c.eal.cores, room).unwrap()
        };
        let (args0, d) = plan_of("", 2048);
        // Defaults: one queue pair per worker (cores = 2), MTU 1500, the device's MAC, offloads.
        for p in &d {
            assert_eq!((p.queues, p.mtu, p.mac, p.offloads), (2, 1500, None, true));
        }
        assert_eq!(d[1].max_frame, 1518);
        // A ring's worth (512) of receive buffers per queue pair.
        assert_eq!(d[0].rx_pool.map(|(n, _)| n), Some(1023));
        let (_, q) = plan_of("queues = 4", 2048);
        assert_eq!((q[0].queues, q[1].queues), (4, 4));
        assert_eq!(q[0].rx_pool.map(|(n, _)| n), Some(2047));
        let (_, m) = plan_of("mtu = 1400", 2048);
        assert_eq!((m[1].mtu, m[1].max_frame), (1400, 1418));
        let (_, m) = plan_of("mac = \"02:00:00:00:00:42\"", 2048);
        assert_eq!(m[0].mac, Some(MacAddr::new(2, 0, 0, 0, 0, 0x42)));
        let (_, o) = plan_of("offloads = false", 2048);
        assert!(!o[0].offloads && !o[1].offloads);
        // device and args: the --vdev naming the port's device decides its ring (af_packet,
        // sized in the rewritten argument) or none.
        assert!(d[0].ring.is_some() && d[1].ring.is_none());
        assert_eq!(d[0].iface.as_deref(), Some("x0"));
        assert!(args0[0].contains("framesz="), "{args0:?}");
        assert_eq!(args0[1], "--vdev=net_null0");
        // mbuf_data_room: shared buffers large enough need no receive pool of their own.
        let (_, r) = plan_of("max_frame = 9018", 2048);
        assert_eq!(r[0].rx_pool, Some((1023, 12384)));
        let (_, r) = plan_of("max_frame = 9018", 12288);
        assert_eq!(r[0].rx_pool, None);
    }
}
