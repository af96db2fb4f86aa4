//! A configured, started ethdev port: offload negotiation, queues, statistics.

use super::*;

/// How to configure a [`DpdkPort`].
#[derive(Debug, Clone)]
pub struct DpdkPortConfig {
    /// Our name for the port (in [`PortInfo::name`]); empty = the DPDK device name.
    pub name: String,
    /// Number of rx/tx queue pairs.
    pub queues: u16,
    /// Receive descriptors per queue (adjusted to the device's limits).
    pub rx_desc: u16,
    /// Transmit descriptors per queue (adjusted to the device's limits).
    pub tx_desc: u16,
    /// IP MTU; `None` keeps the device's.
    pub mtu: Option<u16>,
    /// MAC address to use instead of the device's.
    pub mac: Option<MacAddr>,
    /// Use the device's offloads where it has them; `false` turns every offload off so the
    /// software paths run (tests). RSS queue spreading stays on with several queues.
    pub offloads: bool,
    /// Receive buffers from this pool instead of the port's (large buffers for a device that
    /// receives frames beyond the MTU whole: af_packet's kernel-reassembled datagrams and TSO
    /// super-frames). Transmit buffers still come from the port's pool.
    pub rx_pool: Option<Mempool>,
}

impl Default for DpdkPortConfig {
    fn default() -> Self {
        DpdkPortConfig {
            name: String::new(),
            queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            mtu: None,
            mac: None,
            offloads: true,
            rx_pool: None,
        }
    }
}

/// What to change when a device offers fewer queue pairs than asked: the devarg of the PMDs
/// whose queue count is chosen when the device is created, otherwise the configuration.
pub fn queue_hint(driver: &str, device: &str, want: u16, max: u16) -> String {
    match driver {
        "net_af_packet" => format!(
            "add qpairs={want} to the device's arguments (--vdev={device},iface=...,qpairs={want})"
        ),
        "net_af_xdp" => format!(
            "add queue_count={want} to the device's arguments (--vdev={device},iface=...,\
             start_queue=0,queue_count={want}); the interface needs that many channels \
             (ethtool -L IFACE combined {want})"
        ),
        "net_tap" | "net_ring" | "net_null" | "net_pcap" | "net_memif" => format!(
            "this device was created with {max} queue pair(s): give it {want} in its --vdev \
             arguments, or set [eal] cores / [[port]] queues to at most {max}"
        ),
        _ => format!("set [eal] cores or [[port]] queues to at most {max}"),
    }
}

/// Ports open in this process (so a failed second open cannot close the first one's device).
static OPEN_PORTS: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// Closes the port when the last of the port handle and its queues is gone.
pub(super) struct PortInner {
    id: u16,
    pool: Mempool,
    /// Receive buffers' pool when it is not `pool` (kept alive as long as the port).
    rx_pool: Option<Mempool>,
    /// Configuration was attempted: stop and close on drop (DPDK then releases the port; a
    /// port we only looked at and refused is left as it was).
    close: bool,
}

impl Drop for PortInner {
    fn drop(&mut self) {
        // Held across the close so that no open() can take this port id (which DPDK may hand
        // to a new device once closed) before it is unregistered.
        let mut open = OPEN_PORTS.lock().unwrap_or_else(|e| e.into_inner());
        if self.close {
            // SAFETY: no queue of the port exists any more (they hold this), so no burst call
            // runs; stopping and closing a port (even one never started) is always allowed.
            // Closing releases the rx rings' mbufs back to `pool`, which outlives this body.
            unsafe {
                sys::rte_eth_dev_stop(self.id);
                sys::rte_eth_dev_close(self.id);
            }
        }
        open.retain(|&p| p != self.id);
    }
}

/// An open, started DPDK ethdev port.
pub struct DpdkPort {
    inner: Arc<PortInner>,
    info: PortInfo,
    taken: Vec<bool>,
    tx_offloads: u64,
    rx_offloads: u64,
}

impl fmt::Debug for DpdkPort {
    fn fmt(&self, fm: &mut fmt::Formatter<'_>) -> fmt::Result {
        fm.debug_struct("DpdkPort")
            .field("id", &self.inner.id)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The transmit offloads we ask for when the device has them.
const WANT_TX: u64 = f::RTE_ETH_TX_OFFLOAD_IPV4_CKSUM
    | f::RTE_ETH_TX_OFFLOAD_TCP_CKSUM
    | f::RTE_ETH_TX_OFFLOAD_UDP_CKSUM
    | f::RTE_ETH_TX_OFFLOAD_TCP_TSO
    | f::RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
/// The receive offloads we ask for when the device has them.
const WANT_RX: u64 = f::RTE_ETH_RX_OFFLOAD_IPV4_CKSUM
    | f::RTE_ETH_RX_OFFLOAD_TCP_CKSUM
    | f::RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
/// The IPv4 flow types we hash (4-tuple for TCP/UDP, addresses otherwise).
const WANT_RSS: u64 = f::RTE_ETH_RSS_IPV4
    | f::RTE_ETH_RSS_FRAG_IPV4
    | f::RTE_ETH_RSS_NONFRAG_IPV4_TCP
    | f::RTE_ETH_RSS_NONFRAG_IPV4_UDP
    | f::RTE_ETH_RSS_NONFRAG_IPV4_OTHER;

impl DpdkPort {
    /// Finds the port by DPDK device name (`net_null0`, `0000:01:00.0`, ...), configures it
    /// with `cfg` and rx buffers from `pool`, and starts it (promiscuous).
    pub fn open(
        name_or_device: &str,
        cfg: &DpdkPortConfig,
        pool: &Mempool,
    ) -> Result<DpdkPort, DpdkError> {
        let id = {
            let mut open = OPEN_PORTS.lock().unwrap_or_else(|e| e.into_inner());
            let id = port_id(name_or_device)?;
            if open.contains(&id) {
                return Err(DpdkError::PortBusy(name_or_device.into()));
            }
            open.push(id);
            id
        };
        // Dropping `inner` (also on an error return) unregisters the port, and once `close`
        // is set, stops and closes it.
        let mut inner = PortInner {
            id,
            pool: pool.clone(),
            rx_pool: cfg.rx_pool.clone(),
            close: false,
        };

        // SAFETY: rte_eth_dev_info is plain data (zero is a valid value for every field).
        let mut dev: sys::rte_eth_dev_info = unsafe { core::mem::zeroed() };
        // SAFETY: `id` is a valid port; `dev` is a writable rte_eth_dev_info.
        check("rte_eth_dev_info_get", unsafe {
            sys::rte_eth_dev_info_get(id, &mut dev)
        })?;
        let driver = if dev.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: the driver name is a static NUL-terminated string of the PMD.
            unsafe { CStr::from_ptr(dev.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        let q = cfg.queues;
        if q == 0 || q > dev.max_rx_queues || q > dev.max_tx_queues {
            let max = dev.max_rx_queues.min(dev.max_tx_queues);
            return Err(DpdkError::Unsupported(format!(
                "{q} queue pairs (device max rx {} tx {}): {}",
                dev.max_rx_queues,
                dev.max_tx_queues,
                queue_hint(&driver, name_or_device, q, max)
            )));
        }
        let rx_pool = cfg.rx_pool.as_ref().unwrap_or(pool);

        // SAFETY: rte_eth_conf is plain data; all-zero is DPDK's documented default.
        let mut conf: sys::rte_eth_conf = unsafe { core::mem::zeroed() };
        let mut tx = if cfg.offloads {
            WANT_TX & dev.tx_offload_capa
        } else {
            0
        };
        let mut rx = if cfg.offloads {
            WANT_RX & dev.rx_offload_capa
        } else {
            0
        };
        // TSO without checksums makes no sense to a driver; and chained TSO super-frames
        // need multi-segment transmit.
        if tx & f::RTE_ETH_TX_OFFLOAD_TCP_CKSUM == 0 || tx & f::RTE_ETH_TX_OFFLOAD_MULTI_SEGS == 0 {
            tx &= !f::RTE_ETH_TX_OFFLOAD_TCP_TSO;
        }

        // RSS: our symmetric key where the device takes a 40-byte key; with several queues
        // spread with the device's own key otherwise (the hash is then not one we can
        // reproduce, so it is not advertised).
        let mut key = SYMMETRIC_RSS_KEY;
        let rss_hf = dev.flow_type_rss_offloads & WANT_RSS;
        let our_key = usize::from(dev.hash_key_size) == KEY_LEN;
        let hw_rss = rss_hf != 0 && (q > 1 || (cfg.offloads && our_key));
        let mut rss_caps = false;
        if hw_rss {
            conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
            if our_key {
                conf.rx_adv_conf.rss_conf.rss_key = key.as_mut_ptr();
                conf.rx_adv_conf.rss_conf.rss_key_len = KEY_LEN as u8;
            }
            if cfg.offloads && our_key && dev.rx_offload_capa & f::RTE_ETH_RX_OFFLOAD_RSS_HASH != 0
            {
                rx |= f::RTE_ETH_RX_OFFLOAD_RSS_HASH;
                rss_caps = true;
            }
        }

        // DPDK 22.11's af_packet reports a 1518-byte maximum frame whatever its `framesz`, so
        // ethdev refuses any MTU above 1500 although frames up to `framesz - 66` arrive whole:
        // there the kernel interface's MTU is what limits the link (`ip link set IFACE mtu N`),
        // and the port reports the MTU asked for.
        // ethdev's own rule: the MTU's frame (with the device's L2 overhead) must fit
        // `max_rx_pktlen`.
        let overhead = if dev.max_mtu != u16::MAX && dev.max_rx_pktlen > u32::from(dev.max_mtu) {
            dev.max_rx_pktlen - u32::from(dev.max_mtu)
        } else {
            sys::RTE_ETHER_HDR_LEN + sys::RTE_ETHER_CRC_LEN
        };
        let fits = |m: u16| u32::from(m) + overhead <= dev.max_rx_pktlen && m <= dev.max_mtu;
        let mut mtu_override = None;
        if let Some(mtu) = cfg.mtu.filter(|&m| driver == "net_af_packet" && !fits(m)) {
            mtu_override = Some(mtu);
        }
        if let Some(mtu) = cfg.mtu.filter(|_| mtu_override.is_none()) {
            if mtu < dev.min_mtu || !fits(mtu) {
                return Err(DpdkError::Unsupported(format!(
                    "MTU {mtu} (the device takes {}..={}; lower [[port]] mtu)",
                    dev.min_mtu,
                    dev.max_mtu
                        .min(dev.max_rx_pktlen.saturating_sub(overhead).min(65535) as u16)
                )));
            }
            conf.rxmode.mtu = u32::from(mtu);
            // A frame larger than one mbuf's data room needs scattered receive.
            let frame = u32::from(mtu) + sys::RTE_ETHER_HDR_LEN + sys::RTE_ETHER_CRC_LEN + 4;
            let room = u32::from(rx_pool.data_room()) - sys::RTE_PKTMBUF_HEADROOM;
            if frame > room {
                if dev.rx_offload_capa & f::RTE_ETH_RX_OFFLOAD_SCATTER == 0 {
                    return Err(DpdkError::Unsupported(format!(
                        "MTU {mtu} needs {frame}-byte buffers or scattered rx (pool has {room})"
                    )));
                }
                rx |= f::RTE_ETH_RX_OFFLOAD_SCATTER;
            }
        }
        conf.rxmode.offloads = rx;
        conf.txmode.offloads = tx;

        inner.close = true;
        // SAFETY: valid port, configuration fully initialised; `key` outlives the call (DPDK
        // copies it into the device).
        check("rte_eth_dev_configure", unsafe {
            sys::rte_eth_dev_configure(id, q, q, &conf)
        })?;
        let (mut nrx, mut ntx) = (cfg.rx_desc, cfg.tx_desc);
        // SAFETY: valid port; the two counts are writable u16s.
        check("rte_eth_dev_adjust_nb_rx_tx_desc", unsafe {
            sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut nrx, &mut ntx)
        })?;
        // SAFETY: valid port.
        let socket = unsafe { sys::rte_eth_dev_socket_id(id) };
        let socket = if socket < 0 {
            sys::SOCKET_ID_ANY
        } else {
            socket
        } as u32;
        for qi in 0..q {
            // SAFETY: valid port and queue index; NULL configurations mean the device
            // defaults with the port offloads; the pool outlives the port (PortInner holds it).
            unsafe {
                check(
                    "rte_eth_rx_queue_setup",
                    sys::rte_eth_rx_queue_setup(id, qi, nrx, socket, ptr::null(), rx_pool.as_ptr()),
                )?;
                check(
                    "rte_eth_tx_queue_setup",
                    sys::rte_eth_tx_queue_setup(id, qi, ntx, socket, ptr::null()),
                )?;
            }
        }
        if let Some(mac) = cfg.mac {
            let mut a = sys::rte_ether_addr { addr_bytes: mac.0 };
            // SAFETY: valid port; `a` is a valid address.
            check("rte_eth_dev_default_mac_addr_set", unsafe {
                sys::rte_eth_dev_default_mac_addr_set(id, &mut a)
            })?;
        }
        // SAFETY: valid, configured port with all queues set up.
        check("rte_eth_dev_start", unsafe { sys::rte_eth_dev_start(id) })?;
        // SAFETY: valid port. Not every driver has a promiscuous switch (ENOTSUP): a port
        // that cannot filter is promiscuous already.
        let ret = unsafe { sys::rte_eth_promiscuous_enable(id) };
        if ret < 0 && ret != -(libc_enotsup()) {
            check("rte_eth_promiscuous_enable", ret)?;
        }

        let mut a = sys::rte_ether_addr::default();
        // SAFETY: valid port; `a` is writable.
        check("rte_eth_macaddr_get", unsafe {
            sys::rte_eth_macaddr_get(id, &mut a)
        })?;
        let mut mtu = 0u16;
        // SAFETY: valid port; `mtu` is writable.
        check("rte_eth_dev_get_mtu", unsafe {
            sys::rte_eth_dev_get_mtu(id, &mut mtu)
        })?;
        let mtu = mtu_override.unwrap_or(mtu);
        let caps = Capabilities {
            tx_ipv4_checksum: tx & f::RTE_ETH_TX_OFFLOAD_IPV4_CKSUM != 0,
            tx_tcp_checksum: tx & f::RTE_ETH_TX_OFFLOAD_TCP_CKSUM != 0,
            tx_udp_checksum: tx & f::RTE_ETH_TX_OFFLOAD_UDP_CKSUM != 0,
            tx_tso: tx & f::RTE_ETH_TX_OFFLOAD_TCP_TSO != 0,
            tx_multi_seg: tx & f::RTE_ETH_TX_OFFLOAD_MULTI_SEGS != 0,
            rx_ipv4_checksum: rx & f::RTE_ETH_RX_OFFLOAD_IPV4_CKSUM != 0,
            rx_l4_checksum: rx
                & (f::RTE_ETH_RX_OFFLOAD_TCP_CKSUM | f::RTE_ETH_RX_OFFLOAD_UDP_CKSUM)
                == (f::RTE_ETH_RX_OFFLOAD_TCP_CKSUM | f::RTE_ETH_RX_OFFLOAD_UDP_CKSUM),
            rss: rss_caps,
        };
        let name = if cfg.name.is_empty() {
            name_or_device.to_owned()
        } else {
            cfg.name.clone()
        };
        Ok(DpdkPort {
            inner: Arc::new(inner),
            info: PortInfo {
                name,
                driver,
                mac: MacAddr(a.addr_bytes),
                mtu,
                queues: q,
                caps,
                rss_key: SYMMETRIC_RSS_KEY,
            },
            taken: vec![false; usize::from(q)],
            tx_offloads: tx,
            rx_offloads: rx,
        })
    }

    /// The ethdev port id.
    pub fn id(&self) -> u16 {
        self.inner.id
    }

    /// The negotiated `RTE_ETH_TX_OFFLOAD_*` and `RTE_ETH_RX_OFFLOAD_*` masks.
    pub fn offloads(&self) -> (u64, u64) {
        (self.tx_offloads, self.rx_offloads)
    }

    /// The pool its transmit buffers come from (and its receive buffers, unless it was
    /// opened with [`DpdkPortConfig::rx_pool`]).
    pub fn pool(&self) -> &Mempool {
        &self.inner.pool
    }

    /// The pool its receive buffers come from.
    pub fn rx_pool(&self) -> &Mempool {
        self.inner.rx_pool.as_ref().unwrap_or(&self.inner.pool)
    }

    /// The NUMA socket of a port (to create its pool on), `None` if unknown.
    pub fn socket_of(_eal: &Eal, name_or_device: &str) -> Result<Option<i32>, DpdkError> {
        let id = port_id(name_or_device)?;
        // SAFETY: valid port id.
        let s = unsafe { sys::rte_eth_dev_socket_id(id) };
        Ok((s >= 0).then_some(s))
    }
}

/// `ENOTSUP` on Linux (DPDK returns `-ENOTSUP` for optional driver operations).
const fn libc_enotsup() -> c_int {
    95
}

fn port_id(name: &str) -> Result<u16, DpdkError> {
    let lookup = |n: &str| -> Result<Option<u16>, DpdkError> {
        let c = cstring(n)?;
        let mut id = 0u16;
        // SAFETY: NUL-terminated name; `id` is writable.
        let ret = unsafe { sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        Ok((ret == 0).then_some(id))
    };
    if let Some(id) = lookup(name)? {
        return Ok(id);
    }
    // PCI devices are named with their domain ("0000:01:00.0"); accept it left out.
    if name.matches(':').count() == 1 {
        if let Some(id) = lookup(&format!("0000:{name}"))? {
            return Ok(id);
        }
    }
    Err(DpdkError::NoSuchPort(name.into()))
}

impl Port for DpdkPort {
    type Queue = DpdkQueue;

    fn info(&self) -> &PortInfo {
        &self.info
    }

    fn link(&self) -> LinkStatus {
        let mut l = sys::rte_eth_link::default();
        // SAFETY: valid port; `l` is writable.
        if unsafe { sys::rte_eth_link_get_nowait(self.inner.id, &mut l) } < 0 {
            return LinkStatus::default();
        }
        LinkStatus {
            up: l.link_status() != 0,
            speed_mbps: if l.link_speed == sys::RTE_ETH_SPEED_NUM_UNKNOWN {
                0
            } else {
                l.link_speed
            },
            full_duplex: u32::from(l.link_duplex()) == sys::RTE_ETH_LINK_FULL_DUPLEX,
        }
    }

    fn stats(&self) -> PortStats {
        // SAFETY: rte_eth_stats is plain counters.
        let mut s: sys::rte_eth_stats = unsafe { core::mem::zeroed() };
        // SAFETY: valid port; `s` is writable.
        if unsafe { sys::rte_eth_stats_get(self.inner.id, &mut s) } < 0 {
            return PortStats::default();
        }
        PortStats {
            rx_packets: s.ipackets,
            rx_bytes: s.ibytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            rx_nombuf: s.rx_nombuf,
            tx_packets: s.opackets,
            tx_bytes: s.obytes,
            tx_errors: s.oerrors,
        }
    }

    fn xstats(&self) -> Vec<(String, u64)> {
        let id = self.inner.id;
        // SAFETY: with a NULL array DPDK only returns the count.
        let n = unsafe { sys::rte_eth_xstats_get_names(id, ptr::null_mut(), 0) };
        if n <= 0 {
            return Vec::new();
        }
        let n = n as usize;
        // SAFETY: both are plain data; zero is valid.
        let mut names: Vec<sys::rte_eth_xstat_name> = vec![unsafe { core::mem::zeroed() }; n];
        let mut vals = vec![sys::rte_eth_xstat::default(); n];
        // SAFETY: both arrays hold `n` writable entries.
        let (gn, gv) = unsafe {
            (
                sys::rte_eth_xstats_get_names(id, names.as_mut_ptr(), n as u32),
                sys::rte_eth_xstats_get(id, vals.as_mut_ptr(), n as u32),
            )
        };
        if gn <= 0 || gv <= 0 {
            return Vec::new();
        }
        let gn = (gn as usize).min(n);
        vals.truncate((gv as usize).min(n));
        vals.iter()
            .filter(|v| (v.id as usize) < gn)
            .map(|v| {
                // SAFETY: DPDK NUL-terminates every name within its 64 bytes.
                let name = unsafe { CStr::from_ptr(names[v.id as usize].name.as_ptr()) };
                (name.to_string_lossy().into_owned(), v.value)
            })
            .collect()
    }

    fn take_queue(&mut self, id: u16) -> Option<DpdkQueue> {
        let slot = self.taken.get_mut(usize::from(id))?;
        if *slot {
            return None;
        }
        *slot = true;
        let caps = self.info.caps;
        Some(DpdkQueue {
            port_id: self.inner.id,
            queue: id,
            caps,
            mp: self.inner.pool.inner.mp,
            scan: !(caps.tx_ipv4_checksum
                && caps.tx_tcp_checksum
                && caps.tx_udp_checksum
                && caps.tx_tso
                && caps.tx_multi_seg),
            tx_checks: true,
            stats: DpdkQueueStats::default(),
            _port: self.inner.clone(),
        })
    }
}
