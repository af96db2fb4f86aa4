//! Kernel-backed virtual devices: DPDK ports whose "wire" is the local Linux kernel (af_packet,
//! af_xdp, tap). What their PMDs (DPDK 22.11) hide from the application, and how burst sizes
//! them so that what a kernel peer sends arrives whole.
//!
//! * **af_packet** copies each frame from a `TPACKET_V2` ring into an mbuf. The kernel cuts a
//!   frame to its ring slot (`framesz - 66` bytes for an untagged frame) and the PMD hands the
//!   cut frame over without a word. The PMD also joins its sockets to a `PACKET_FANOUT` group
//!   with `PACKET_FANOUT_FLAG_DEFRAG` (no devarg turns it off), so IPv4 fragments arrive
//!   reassembled by the kernel, and a peer's TSO/GSO super-frames arrive as they left its stack
//!   (up to ~64 KiB). Slots large enough for both therefore need `framesz` close to 64 KiB,
//!   receive buffers to match (the PMD refuses a pool whose data room is below
//!   `framesz - 32`), and `blocksz` a page multiple that holds whole frames back to back (the
//!   PMD assumes frame `i` is at `i * framesz`). The kernel's `TP_STATUS_CSUMNOTREADY` (a
//!   partial checksum) is dropped.
//! * **af_xdp** delivers frames up to one umem chunk (no multi-buffer in 22.11); attaching the
//!   XDP program makes the kernel turn GSO off on a veth peer, so super-frames do not occur,
//!   but partial checksums do, unmarked.
//! * **tap** (without `IFF_VNET_HDR`, as in 22.11) gets frames whose checksums the kernel has
//!   completed, and segmented ones.

/// What a driver's frames from a kernel peer may carry that a NIC's would not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KernelBacked {
    /// TCP/UDP checksums left partial by the peer's checksum offload, not marked as such.
    pub partial_checksums: bool,
    /// Frames beyond the MTU (kernel-reassembled datagrams, TSO/GSO super-frames).
    pub oversize_frames: bool,
}

/// The kernel-peer properties of a driver (by its DPDK driver name, e.g. `net_af_packet`).
pub fn kernel_backed(driver: &str) -> KernelBacked {
    match driver {
        "net_af_packet" => KernelBacked {
            partial_checksums: true,
            oversize_frames: true,
        },
        "net_af_xdp" => KernelBacked {
            partial_checksums: true,
            oversize_frames: false,
        },
        _ => KernelBacked::default(),
    }
}

/// Bytes of an af_packet ring slot before the frame (`TPACKET2_HDRLEN` aligned, plus the
/// room the kernel keeps for a VLAN tag): a slot of `framesz` holds a frame of
/// `framesz - AF_PACKET_SLOT_OVERHEAD` bytes.
pub const AF_PACKET_SLOT_OVERHEAD: u32 = 66;

/// The largest frame an af_packet port can receive whole in DPDK 22.11: the slot must fit one
/// mbuf, whose data room is a 16-bit quantity (65535 - 128 headroom + 32 >= `framesz`), and
/// `framesz` = 65408 is the largest multiple of 128 under that limit (128 keeps the block,
/// which must be a page multiple holding whole slots, at 2 MiB).
pub const AF_PACKET_MAX_FRAME: u32 = 65408 - AF_PACKET_SLOT_OVERHEAD;

/// The frame (Ethernet header, a VLAN tag and the IP MTU) an MTU needs.
pub const fn frame_for_mtu(mtu: u16) -> u32 {
    mtu as u32 + 18
}

/// An af_packet ring geometry (`framesz`, `blocksz`, `framecnt` devargs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfPacketRing {
    /// Bytes per slot (a multiple of 16).
    pub framesz: u32,
    /// Bytes per block (a page multiple holding whole slots).
    pub blocksz: u32,
    /// Slots per ring (a multiple of slots per block).
    pub framecnt: u32,
}

/// Slots per ring: the PMD's default count. Fewer is not an option: when a ring is full the
/// kernel's fanout rolls frames over to another queue's ring (`PACKET_FANOUT_FLAG_ROLLOVER`,
/// always set by the 22.11 PMD), so a TCP segment reaches a worker that does not own its
/// connection and is answered with a reset; 256 slots of 64 KiB were seen to overflow under
/// 200 connections' first data on a busy 2-CPU machine, 512 were not.
const SLOTS: u32 = 512;
const PAGE: u32 = 4096;

const fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl AfPacketRing {
    /// The geometry burst uses for frames up to `max_frame` bytes (clamped to
    /// [`AF_PACKET_MAX_FRAME`]): the smallest slot, a page multiple where that fits (one slot
    /// per block), 512 slots (the PMD's default count; 32 MiB per ring for 64 KiB slots).
    pub fn for_frame(max_frame: u32) -> AfPacketRing {
        let want = max_frame.min(AF_PACKET_MAX_FRAME) + AF_PACKET_SLOT_OVERHEAD;
        let page = want.div_ceil(PAGE) * PAGE;
        let framesz = if page <= AF_PACKET_MAX_FRAME + AF_PACKET_SLOT_OVERHEAD {
            page
        } else {
            // Beyond a page multiple's reach: the largest slot (2 MiB blocks of 32 slots).
            AF_PACKET_MAX_FRAME + AF_PACKET_SLOT_OVERHEAD
        };
        let blocksz = framesz / gcd(framesz, PAGE) * PAGE;
        let per_block = blocksz / framesz;
        AfPacketRing {
            framesz,
            blocksz,
            framecnt: SLOTS.div_ceil(per_block) * per_block,
        }
    }

    /// The geometry the PMD uses without devargs (2048-byte slots, one page per block, 512).
    pub const DEFAULT: AfPacketRing = AfPacketRing {
        framesz: 2048,
        blocksz: 4096,
        framecnt: 512,
    };

    /// The largest frame a slot holds whole.
    pub fn max_frame(&self) -> u32 {
        self.framesz.saturating_sub(AF_PACKET_SLOT_OVERHEAD)
    }

    /// The mbuf data room (headroom of 128 included) the PMD requires of the receive pool.
    pub fn data_room(&self) -> u32 {
        self.framesz - 32 + 128
    }

    /// Why the kernel or the PMD would refuse (or misread) this geometry, if it would.
    pub fn check(&self) -> Result<(), String> {
        if self.framesz < 128 || self.framesz % 16 != 0 {
            return Err(format!(
                "framesz={} must be a multiple of 16 of at least 128",
                self.framesz
            ));
        }
        if self.blocksz % PAGE != 0 || self.blocksz % self.framesz != 0 {
            return Err(format!(
                "blocksz={} must be a multiple of the page size ({PAGE}) and of framesz={} \
                 (the PMD expects slots back to back); e.g. blocksz={}",
                self.blocksz,
                self.framesz,
                self.framesz / gcd(self.framesz, PAGE) * PAGE
            ));
        }
        let per_block = self.blocksz / self.framesz;
        if self.framecnt == 0 || self.framecnt % per_block != 0 {
            return Err(format!(
                "framecnt={} must be a multiple of blocksz/framesz = {per_block}",
                self.framecnt
            ));
        }
        if self.data_room() > u32::from(u16::MAX) {
            return Err(format!(
                "framesz={} needs {}-byte receive buffers; DPDK's limit is 65535 \
                 (framesz at most {})",
                self.framesz,
                self.data_room(),
                AF_PACKET_MAX_FRAME + AF_PACKET_SLOT_OVERHEAD
            ));
        }
        Ok(())
    }
}

/// One `--vdev` argument of the EAL command line: where it is and its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vdev {
    /// Index in the argument list of the string holding the device (after `--vdev=`, or the
    /// argument following `--vdev`).
    pub arg: usize,
    /// Whether that argument starts with `--vdev=`.
    pub inline: bool,
    /// Device name (`net_af_packet0`).
    pub name: String,
    /// `key=value` devargs in order.
    pub args: Vec<(String, String)>,
}

impl Vdev {
    /// The value of devarg `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The argument text for this device (`--vdev=` prefix when it had one).
    pub fn to_arg(&self) -> String {
        let mut s = String::new();
        if self.inline {
            s.push_str("--vdev=");
        }
        s.push_str(&self.name);
        for (k, v) in &self.args {
            s.push(',');
            s.push_str(k);
            s.push('=');
            s.push_str(v);
        }
        s
    }

    /// The af_packet ring this device will get (its devargs, or the PMD's defaults), with the
    /// devarg that does not parse as the error.
    pub fn af_packet_ring(&self) -> Result<AfPacketRing, String> {
        let num = |k: &str, d: u32| -> Result<u32, String> {
            match self.get(k) {
                None => Ok(d),
                Some(v) => v
                    .parse()
                    .map_err(|_| format!("{}: {k}={v} is not a number", self.name)),
            }
        };
        Ok(AfPacketRing {
            framesz: num("framesz", AfPacketRing::DEFAULT.framesz)?,
            blocksz: num("blocksz", AfPacketRing::DEFAULT.blocksz)?,
            framecnt: num("framecnt", AfPacketRing::DEFAULT.framecnt)?,
        })
    }
}

/// Every `--vdev` of an EAL command line (`--vdev=NAME,k=v` or `--vdev NAME,k=v`).
pub fn vdevs(args: &[String]) -> Vec<Vdev> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let (arg, inline, text) = if let Some(t) = args[i].strip_prefix("--vdev=") {
            (i, true, t)
        } else if args[i] == "--vdev" && i + 1 < args.len() {
            i += 1;
            (i, false, args[i].as_str())
        } else {
            i += 1;
            continue;
        };
        let mut parts = text.split(',');
        let name = parts.next().unwrap_or_default().to_string();
        let args_kv = parts
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (p.to_string(), String::new()),
            })
            .collect();
        out.push(Vdev {
            arg,
            inline,
            name,
            args: args_kv,
        });
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_geometry_for_frames() {
        // Jumbo: one 9216+66 frame per 3-page block.
        let j = AfPacketRing::for_frame(9018);
        assert_eq!((j.framesz, j.blocksz), (12288, 12288));
        assert!(j.max_frame() >= 9018);
        j.check().unwrap();
        // 64 KiB-class: the largest slot, 2 MiB blocks of 32, 512 slots (32 MiB).
        let big = AfPacketRing::for_frame(AF_PACKET_MAX_FRAME);
        assert_eq!(
            big,
            AfPacketRing {
                framesz: 65408,
                blocksz: 2_093_056,
                framecnt: 512
            }
        );
        assert_eq!(big.max_frame(), AF_PACKET_MAX_FRAME);
        assert_eq!(big.data_room(), 65504);
        big.check().unwrap();
        // A TSO super-frame from Linux (45 x 1448 + headers) and a reassembled 4000-byte ping
        // both fit.
        assert!(big.max_frame() >= 45 * 1448 + 32 + 20 + 14);
        assert!(AfPacketRing::for_frame(70_000) == big);
        // The PMD's default slot cuts at 1982 bytes.
        assert_eq!(AfPacketRing::DEFAULT.max_frame(), 1982);
        AfPacketRing::DEFAULT.check().unwrap();
        for f in [64, 1518, 2000, 4042, 9018, 30000, 61374, 61375, 65000] {
            let r = AfPacketRing::for_frame(f);
            r.check().unwrap();
            assert!(r.max_frame() >= f, "{f}: {r:?}");
            assert_eq!(r.framecnt, 512, "{r:?}");
        }
    }

    #[test]
    fn bad_geometries_say_what_to_change() {
        let e = AfPacketRing {
            framesz: 8192,
            blocksz: 12288,
            framecnt: 64,
        }
        .check()
        .unwrap_err();
        assert!(e.contains("blocksz=8192"), "{e}");
        let e = AfPacketRing {
            framesz: 65536,
            blocksz: 65536,
            framecnt: 64,
        }
        .check()
        .unwrap_err();
        assert!(e.contains("65535") && e.contains("65408"), "{e}");
        let e = AfPacketRing {
            framesz: 4096,
            blocksz: 8192,
            framecnt: 3,
        }
        .check()
        .unwrap_err();
        assert!(e.contains("multiple of blocksz/framesz = 2"), "{e}");
    }

    #[test]
    fn vdev_arguments_parse_and_print() {
        let args: Vec<String> = [
            "--no-huge",
            "--vdev=net_af_packet0,iface=a,qpairs=2",
            "--vdev",
            "net_af_packet1,iface=b,framesz=4096",
            "--vdev=net_null0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let v = vdevs(&args);
        assert_eq!(v.len(), 3);
        assert_eq!((v[0].arg, v[0].inline), (1, true));
        assert_eq!(v[0].get("qpairs"), Some("2"));
        assert_eq!(v[0].to_arg(), args[1]);
        assert_eq!(
            (v[1].arg, v[1].inline, v[1].name.as_str()),
            (3, false, "net_af_packet1")
        );
        assert_eq!(v[1].to_arg(), args[3]);
        assert_eq!(v[1].af_packet_ring().unwrap().framesz, 4096);
        assert_eq!(v[2].args, []);
        let bad = Vdev {
            args: vec![("framesz".into(), "big".into())],
            ..v[0].clone()
        };
        assert!(bad.af_packet_ring().unwrap_err().contains("framesz=big"));
    }

    #[test]
    fn drivers_that_hide_kernel_offloads() {
        assert!(kernel_backed("net_af_packet").partial_checksums);
        assert!(kernel_backed("net_af_packet").oversize_frames);
        assert!(kernel_backed("net_af_xdp").partial_checksums);
        assert!(!kernel_backed("net_af_xdp").oversize_frames);
        for d in ["net_tap", "mem", "net_ixgbe", "net_null", ""] {
            assert_eq!(kernel_backed(d), KernelBacked::default(), "{d}");
        }
    }
}
