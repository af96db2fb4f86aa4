//! `[tcp]`: the TCP engine's and the per-worker stack's tunables, their translation into
//! `burst_tcp`'s configurations, the node's TCP (with the TCP side of `[services]`) and their
//! checks.

use burst_port::Nanos;
use serde::Deserialize;

use super::de::{auto_bool, byte_range, duration, invalid, port_span, range, Human, Invalid};
use super::{Config, ServicesConfig};

/// Whether a TCP option of the RFC 7323 pair is used (the seed's `Tcp1323Opts` bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Negotiation {
    /// Never sent, ignored when offered.
    Off,
    /// Sent only in answer to a peer that offered it.
    Answer,
    /// Offered on our SYNs too.
    Offer,
}

impl From<Negotiation> for burst_tcp::Negotiate {
    fn from(n: Negotiation) -> Self {
        match n {
            Negotiation::Off => burst_tcp::Negotiate::Off,
            Negotiation::Answer => burst_tcp::Negotiate::Answer,
            Negotiation::Offer => burst_tcp::Negotiate::Offer,
        }
    }
}

/// TCP congestion control algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Congestion {
    /// RFC 5681 / RFC 6582.
    NewReno,
    /// RFC 9438.
    Cubic,
}

/// TCP loss detection with SACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossDetection {
    /// RFC 8985 RACK: time-based, finds lost retransmissions, adapts to reordering.
    Rack,
    /// RFC 6675: `dup_acks` SACKed segments above a hole.
    DupAck,
}

/// `[tcp]`: the TCP stack of every worker. Defaults are the seeds' (registry names in
/// `docs/configuration.md`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct TcpTunables {
    /// Largest MSS advertised (clamped to the port MTU − 40). Default 1460.
    #[serde(deserialize_with = "range::<_, _, 48, 9176>")]
    pub mss: u16,
    /// Window scaling (seed: `Tcp1323Opts` bit 0). Default offer (when the buffer needs it).
    pub window_scaling: Negotiation,
    /// Timestamps (seed: `Tcp1323Opts` bit 1). Default answer.
    pub timestamps: Negotiation,
    /// Selective acknowledgments (seed: `SackOpts`). Default on.
    pub sack: bool,
    /// Receive buffer (seed: `TcpWindowSize`), bytes (or a size: `"4MiB"`). Default 64,240.
    #[serde(deserialize_with = "byte_range::<_, _, 536, 1073741824>")]
    pub recv_buffer: u32,
    /// Receive-window auto-tuning (Linux's dynamic right-sizing): the window grows from
    /// `recv_buffer` to twice what the application reads per round trip, up to
    /// `recv_buffer_max`. Default on; off keeps the window at `recv_buffer`.
    pub recv_autotune: bool,
    /// Ceiling of the auto-tuned window and size of each receive ring, bytes (or a size).
    /// Default 1 MiB.
    #[serde(deserialize_with = "byte_range::<_, _, 536, 1073741824>")]
    pub recv_buffer_max: u32,
    /// Send buffer, bytes (or a size: `"4MiB"`; bounds the bytes in flight). Default 256 KiB.
    #[serde(deserialize_with = "byte_range::<_, _, 1, 1073741824>")]
    pub send_buffer: u32,
    /// Delayed-ACK timer (seed: `TcpDelAckTicks`, 200 ms); 0 acknowledges every segment.
    #[serde(deserialize_with = "duration")]
    pub delayed_ack: Nanos,
    /// Data segments received before an ACK is sent at once (seed: every second
    /// segment, RFC 5681 §4.2); fewer wait for `delayed_ack`. Default 2.
    #[serde(deserialize_with = "range::<_, _, 1, 64>")]
    pub ack_every: u8,
    /// Nagle's algorithm. Default on.
    pub nagle: bool,
    /// Initial retransmission timeout (seed: 3 s; RFC 6298 recommends 1 s).
    #[serde(deserialize_with = "duration")]
    pub initial_rto: Nanos,
    /// Lower bound of the RTO. Default 300 ms.
    #[serde(deserialize_with = "duration")]
    pub min_rto: Nanos,
    /// Upper bound of the RTO. Default 60 s.
    #[serde(deserialize_with = "duration")]
    pub max_rto: Nanos,
    /// SYN retransmissions (seed: `TcpMaxConnectRetransmissions`, 2).
    #[serde(deserialize_with = "range::<_, _, 0, 255>")]
    pub syn_retries: u8,
    /// Data retransmissions before abort (seed: `TcpMaxDataRetransmissions`, 5).
    #[serde(deserialize_with = "range::<_, _, 1, 255>")]
    pub data_retries: u8,
    /// Duplicate ACKs for fast retransmit (seed: `TcpMaxDupAcks`, 3; range 1..=3).
    #[serde(deserialize_with = "range::<_, _, 1, 3>")]
    pub dup_acks: u8,
    /// Loss detection with SACK: `"rack"` (RFC 8985, default) or `"dupack"` (RFC 6675).
    pub loss_detection: LossDetection,
    /// Tail loss probes (RFC 8985 §7, with RACK). Default on.
    pub tlp: bool,
    /// What a tail loss probe sends while there is unsent data: one new segment (`true`,
    /// RFC 8985 §7.3, default) or the last segment sent again (`false`).
    pub tlp_new_data: bool,
    /// Undo spurious retransmissions' congestion response (Eifel, D-SACK). Default on.
    pub undo: bool,
    /// Keep-alives on every connection. Default off (applications turn them on per socket).
    pub keepalive: bool,
    /// Idle time before the first keep-alive (seed: `KeepAliveTime`, 2 h).
    #[serde(deserialize_with = "duration")]
    pub keepalive_time: Nanos,
    /// Interval between unanswered keep-alives (seed: `KeepAliveInterval`, 1 s).
    #[serde(deserialize_with = "duration")]
    pub keepalive_interval: Nanos,
    /// Unanswered keep-alives before the connection is aborted. Default 5.
    #[serde(deserialize_with = "range::<_, _, 1, 255>")]
    pub keepalive_probes: u8,
    /// TIME-WAIT (seed: `TcpTimedWaitDelay`, 240 s; at least 30 s).
    #[serde(deserialize_with = "duration")]
    pub time_wait: Nanos,
    /// A new SYN may take over a TIME-WAIT 4-tuple when it is provably new (RFC 6191,
    /// RFC 1122 §4.2.2.13; BSD, Linux and Windows do). Default on.
    pub time_wait_reuse: bool,
    /// Initial congestion window in segments (RFC 6928: 10).
    #[serde(deserialize_with = "range::<_, _, 1, 1000>")]
    pub initial_window: u32,
    /// `"newreno"` or `"cubic"`. Default cubic.
    pub congestion: Congestion,
    /// Path MTU discovery (seed: `EnablePMTUDiscovery`, on).
    pub pmtu_discovery: bool,
    /// PMTU black-hole detection (seed: `EnablePMTUBHDetect`, off).
    pub pmtu_blackhole_detection: bool,
    /// SYN cookies when a SYN queue is full (seed: `SynAttackProtect`). Default on.
    pub syn_cookies: bool,
    /// Ephemeral ports for active opens, `"LO-HI"` (RFC 6335: 49152-65535).
    #[serde(deserialize_with = "port_span")]
    pub ephemeral_ports: (u16, u16),
    /// Connections per worker (any state). Default 4096.
    #[serde(deserialize_with = "range::<_, _, 1, 1048576>")]
    pub max_connections: u32,
    /// Half-open connections per listener before SYN cookies (seed: `TcpMaxHalfOpen`).
    /// Default 256.
    #[serde(deserialize_with = "range::<_, _, 1, 65535>")]
    pub syn_backlog: u32,
    /// Accept queue of each service listener. Default 128.
    #[serde(deserialize_with = "range::<_, _, 1, 65535>")]
    pub backlog: u32,
    /// TCP segmentation offload: bulk data leaves as super-segments of up to 44 MSS (64 KiB)
    /// that the NIC cuts into segments. `"auto"` (the default): only when every port does TCP
    /// segmentation in hardware; `true`: also through the port layer's exact software fallback
    /// (which copies every byte once more than plain segments do); `false`: never.
    #[serde(deserialize_with = "auto_bool")]
    pub tso: Option<bool>,
}

/// Most pieces of a super-segment with `[tcp] tso` on (44 × 1460 bytes fit a 64 KiB
/// datagram).
pub const TSO_MAX_SEGS: u16 = 44;

impl Default for TcpTunables {
    fn default() -> Self {
        let t = burst_tcp::TcpConfig::default();
        let s = burst_tcp::StackConfig::default();
        let k = burst_tcp::KeepAlive::default();
        TcpTunables {
            mss: t.mss,
            window_scaling: Negotiation::Offer,
            timestamps: Negotiation::Answer,
            sack: t.sack,
            recv_buffer: t.recv_buffer as u32,
            recv_autotune: t.recv_autotune,
            recv_buffer_max: t.recv_buffer_max as u32,
            send_buffer: t.send_buffer as u32,
            delayed_ack: t.delayed_ack.unwrap_or(Nanos::ZERO),
            ack_every: t.ack_every,
            nagle: t.nagle,
            initial_rto: t.initial_rto,
            min_rto: t.min_rto,
            max_rto: t.max_rto,
            syn_retries: t.syn_retries,
            data_retries: t.data_retries,
            dup_acks: t.dup_ack_threshold,
            loss_detection: match t.loss_detection {
                burst_tcp::LossDetection::Rack => LossDetection::Rack,
                burst_tcp::LossDetection::DupAck => LossDetection::DupAck,
            },
            tlp: t.tlp,
            tlp_new_data: t.tlp_new_data,
            undo: t.undo,
            keepalive: false,
            keepalive_time: k.time,
            keepalive_interval: k.interval,
            keepalive_probes: k.probes,
            time_wait: t.time_wait,
            time_wait_reuse: s.time_wait_reuse,
            initial_window: t.initial_window,
            congestion: Congestion::Cubic,
            pmtu_discovery: t.pmtu_discovery,
            pmtu_blackhole_detection: t.pmtu_blackhole_detection,
            syn_cookies: s.syn_cookies,
            ephemeral_ports: s.ephemeral_ports,
            max_connections: s.max_connections as u32,
            syn_backlog: s.syn_backlog as u32,
            backlog: 128,
            tso: None,
        }
    }
}

impl TcpTunables {
    /// The engine's configuration.
    pub fn tcp_config(&self) -> burst_tcp::TcpConfig {
        burst_tcp::TcpConfig {
            mss: self.mss,
            window_scaling: self.window_scaling.into(),
            timestamps: self.timestamps.into(),
            sack: self.sack,
            recv_buffer: self.recv_buffer as usize,
            recv_autotune: self.recv_autotune,
            recv_buffer_max: self.recv_buffer_max as usize,
            send_buffer: self.send_buffer as usize,
            delayed_ack: (self.delayed_ack > Nanos::ZERO).then_some(self.delayed_ack),
            ack_every: self.ack_every,
            nagle: self.nagle,
            initial_rto: self.initial_rto,
            min_rto: self.min_rto,
            max_rto: self.max_rto,
            syn_retries: self.syn_retries,
            data_retries: self.data_retries,
            dup_ack_threshold: self.dup_acks,
            loss_detection: match self.loss_detection {
                LossDetection::Rack => burst_tcp::LossDetection::Rack,
                LossDetection::DupAck => burst_tcp::LossDetection::DupAck,
            },
            tlp: self.tlp,
            tlp_new_data: self.tlp_new_data,
            undo: self.undo,
            keepalive: self.keepalive.then_some(burst_tcp::KeepAlive {
                time: self.keepalive_time,
                interval: self.keepalive_interval,
                probes: self.keepalive_probes,
            }),
            time_wait: self.time_wait,
            initial_window: self.initial_window,
            congestion: match self.congestion {
                Congestion::NewReno => burst_tcp::CongestionAlgorithm::NewReno,
                Congestion::Cubic => burst_tcp::CongestionAlgorithm::Cubic,
            },
            pmtu_blackhole_detection: self.pmtu_blackhole_detection,
            pmtu_discovery: self.pmtu_discovery,
        }
    }

    /// The per-worker stack's configuration (the node sets the MTU and the secret).
    pub fn stack_config(&self) -> burst_tcp::StackConfig {
        burst_tcp::StackConfig {
            tcp: self.tcp_config(),
            max_connections: self.max_connections as usize,
            // As many TIME-WAIT records as connections: every connection that could have
            // been held in TIME-WAIT before records existed still can, for 64 bytes.
            max_time_wait: self.max_connections as usize,
            syn_backlog: self.syn_backlog as usize,
            syn_cookies: self.syn_cookies,
            ephemeral_ports: self.ephemeral_ports,
            time_wait_reuse: self.time_wait_reuse,
            // "auto" starts from on; the node turns it off where a port cannot segment.
            tso_max_segs: if self.tso == Some(false) {
                1
            } else {
                TSO_MAX_SEGS
            },
            ..burst_tcp::StackConfig::default()
        }
    }
}

/// The node's TCP from a configuration: `[tcp]` and the TCP side of `[services]`.
pub fn node_tcp(c: &Config) -> crate::node::NodeTcp {
    let s = &c.services;
    let on = |b: bool, port: u16| b.then_some(port);
    let any = s.echo || s.discard || s.daytime || s.qotd || s.chargen || s.http;
    let unix_now = burst_port::clock::unix_now().as_secs();
    crate::node::NodeTcp {
        stack: c.tcp.stack_config(),
        tso_hardware_only: c.tcp.tso.is_none(),
        services: any.then(|| burst_tcp::stack::services::ServiceConfig {
            local: None,
            backlog: c.tcp.backlog as usize,
            max_connections: c.tcp.max_connections as usize,
            echo_port: on(s.echo, 7),
            discard_port: on(s.discard, 9),
            daytime_port: on(s.daytime, 13),
            qotd_port: on(s.qotd, 17),
            chargen_port: on(s.chargen, 19),
            http_port: on(s.http, s.http_port),
            qotd: s.qotd_text.clone(),
            http_body: s.http_body.clone().into_bytes(),
            http_content_type: "text/html".into(),
            http_path: s.http_path.clone(),
            // The node's clock starts near zero at start-up (close enough for daytime).
            unix_time_at_zero: unix_now,
        }),
    }
}

pub(super) fn validate_tcp(t: &TcpTunables, s: &ServicesConfig) -> Result<(), Invalid> {
    if t.time_wait < burst_tcp::config::MIN_TIME_WAIT || t.time_wait > Nanos::from_secs(300) {
        return Err(invalid(
            "tcp.time_wait",
            format!(
                "{} must be 30s..=300s (TcpTimedWaitDelay)",
                Human(t.time_wait)
            ),
        ));
    }
    if t.delayed_ack > Nanos::from_millis(600) {
        return Err(invalid(
            "tcp.delayed_ack",
            format!(
                "{} must be 0..=600ms (TcpDelAckTicks)",
                Human(t.delayed_ack)
            ),
        ));
    }
    if t.min_rto < Nanos::from_millis(1) {
        return Err(invalid("tcp.min_rto", "must be at least 1ms"));
    }
    if t.max_rto < t.min_rto {
        return Err(invalid(
            "tcp.max_rto",
            format!(
                "{} must be at least min_rto ({})",
                Human(t.max_rto),
                Human(t.min_rto)
            ),
        ));
    }
    if t.initial_rto < t.min_rto || t.initial_rto > t.max_rto {
        return Err(invalid(
            "tcp.initial_rto",
            format!(
                "{} must be min_rto..=max_rto ({}..={})",
                Human(t.initial_rto),
                Human(t.min_rto),
                Human(t.max_rto)
            ),
        ));
    }
    for (key, d) in [
        ("tcp.keepalive_time", t.keepalive_time),
        ("tcp.keepalive_interval", t.keepalive_interval),
    ] {
        if d < Nanos::from_millis(1) {
            return Err(invalid(key, "must be at least 1ms"));
        }
    }
    if u32::from(t.mss) > t.recv_buffer {
        return Err(invalid(
            "tcp.recv_buffer",
            format!(
                "{} is smaller than one segment (mss {})",
                t.recv_buffer, t.mss
            ),
        ));
    }
    if s.http_body.len() > 1 << 20 {
        return Err(invalid("services.http_body", "at most 1 MiB"));
    }
    if let Some(p) = &s.http_path {
        if !p.starts_with('/') || p.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(invalid(
                "services.http_path",
                format!("{p:?}: must start with '/' and contain no spaces or controls"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{err_with, BASE, ORIGIN};

    #[test]
    fn tcp_section_defaults_and_values() {
        // Defaults: the seeds' values, and the engine's own defaults exactly.
        let c = Config::parse(BASE, ORIGIN).unwrap();
        let t = &c.tcp;
        assert_eq!(t.time_wait, Nanos::from_secs(240)); // TcpTimedWaitDelay
        assert_eq!(t.delayed_ack, Nanos::from_millis(200)); // TcpDelAckTicks 2
        assert_eq!((t.syn_retries, t.data_retries, t.dup_acks), (2, 5, 3));
        assert_eq!(t.keepalive_time, Nanos::from_secs(7200)); // KeepAliveTime
        assert_eq!(t.keepalive_interval, Nanos::from_secs(1)); // KeepAliveInterval
        assert!(!t.keepalive && t.syn_cookies && t.sack && t.pmtu_discovery);
        assert!(t.time_wait_reuse && t.stack_config().time_wait_reuse);
        assert_eq!(t.ephemeral_ports, (49152, 65535));
        assert_eq!(t.tcp_config(), burst_tcp::TcpConfig::default());
        assert_eq!(t.stack_config().tso_max_segs, TSO_MAX_SEGS);
        assert!(node_tcp(&c).tso_hardware_only, "tso = \"auto\" by default");
        assert_eq!(node_tcp(&c).services.map(|s| s.http_port), None);
        // Every key spelled out.
        let c = Config::parse(
            &format!(
                "{BASE}[tcp]\nmss = 1400\nwindow_scaling = \"off\"\ntimestamps = \"offer\"\n\
                 sack = false\nrecv_buffer = 1048576\nrecv_autotune = false\nrecv_buffer_max = \"8MiB\"\nsend_buffer = 262144\ndelayed_ack = 0\nack_every = 8\n\
                 nagle = false\ninitial_rto = \"1s\"\nmin_rto = \"200ms\"\nmax_rto = \"2m\"\n\
                 syn_retries = 3\ndata_retries = 8\ndup_acks = 2\nloss_detection = \"dupack\"\n\
                 tlp = false\ntlp_new_data = false\nundo = false\nkeepalive = true\n\
                 keepalive_time = \"10m\"\nkeepalive_interval = \"2s\"\nkeepalive_probes = 9\n\
                 time_wait = \"30s\"\ntime_wait_reuse = false\ninitial_window = 4\ncongestion = \"newreno\"\n\
                 pmtu_discovery = false\npmtu_blackhole_detection = true\nsyn_cookies = false\n\
                 ephemeral_ports = \"1024-5000\"\nmax_connections = 100000\nsyn_backlog = 500\n\
                 backlog = 64\ntso = false\n[services]\nhttp = true\nhttp_port = 8080\n\
                 http_body = \"hi\"\nhttp_path = \"/index.html\"\necho = true\n\
                 daytime = true\nqotd = true\nqotd_text = \"Q\"\nchargen = true\n"
            ),
            ORIGIN,
        )
        .unwrap();
        let e = c.tcp.tcp_config();
        assert_eq!(e.mss, 1400);
        assert_eq!(e.window_scaling, burst_tcp::Negotiate::Off);
        assert_eq!(e.timestamps, burst_tcp::Negotiate::Offer);
        assert!(!e.sack && !e.nagle && !e.pmtu_discovery && e.pmtu_blackhole_detection);
        assert_eq!((e.recv_buffer, e.send_buffer), (1 << 20, 256 << 10));
        assert_eq!((e.recv_autotune, e.recv_buffer_max), (false, 8 << 20));
        // Sizes with units, as burst gen writes them.
        let sized = Config::parse(
            &format!("{BASE}[tcp]\nrecv_buffer = \"4MiB\"\nsend_buffer = \"100kB\"\n"),
            ORIGIN,
        )
        .unwrap();
        let e2 = sized.tcp.tcp_config();
        assert_eq!((e2.recv_buffer, e2.send_buffer), (4 << 20, 100_000));
        for (v, want) in [
            ("\"4 parsecs\"", "not a size"),
            ("\"2GiB\"", "must be 536..=1073741824 bytes, got 2147483648"),
            ("100", "must be 536..=1073741824 bytes, got 100"),
        ] {
            let e = Config::parse(&format!("{BASE}[tcp]\nrecv_buffer = {v}\n"), ORIGIN)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("tcp.recv_buffer") && e.contains(want),
                "{v}: {e}"
            );
        }
        assert_eq!(e.delayed_ack, None);
        assert_eq!(e.ack_every, 8);
        assert_eq!(e.initial_rto, Nanos::from_secs(1));
        assert_eq!(e.min_rto, Nanos::from_millis(200));
        assert_eq!(e.max_rto, Nanos::from_secs(120));
        assert_eq!(
            (e.syn_retries, e.data_retries, e.dup_ack_threshold),
            (3, 8, 2)
        );
        assert_eq!(e.loss_detection, burst_tcp::LossDetection::DupAck);
        assert!(!e.tlp && !e.tlp_new_data && !e.undo);
        assert_eq!(
            e.keepalive,
            Some(burst_tcp::KeepAlive {
                time: Nanos::from_secs(600),
                interval: Nanos::from_secs(2),
                probes: 9
            })
        );
        assert_eq!(e.time_wait, Nanos::from_secs(30));
        assert_eq!(e.initial_window, 4);
        assert_eq!(e.congestion, burst_tcp::CongestionAlgorithm::NewReno);
        let s = c.tcp.stack_config();
        assert_eq!(s.ephemeral_ports, (1024, 5000));
        assert!(!s.time_wait_reuse);
        assert_eq!((s.max_connections, s.syn_backlog), (100_000, 500));
        assert!(!s.syn_cookies);
        assert_eq!(s.tso_max_segs, 1, "tso = false: one segment at a time");
        assert!(!node_tcp(&c).tso_hardware_only);
        let svc = node_tcp(&c).services.unwrap();
        assert_eq!(svc.http_port, Some(8080));
        assert_eq!(svc.echo_port, Some(7));
        assert_eq!(svc.discard_port, None);
        assert_eq!(
            (svc.daytime_port, svc.qotd_port, svc.chargen_port),
            (Some(13), Some(17), Some(19))
        );
        assert_eq!(svc.qotd, "Q");
        assert_eq!(svc.max_connections, 100_000);
        assert_eq!(svc.http_body, b"hi");
        assert_eq!(svc.http_path.as_deref(), Some("/index.html"));
        assert_eq!(svc.backlog, 64);
    }

    #[test]
    fn tso_auto_true_false() {
        let tso = |v: &str| {
            let c = Config::parse(&format!("{BASE}[tcp]\ntso = {v}\n"), ORIGIN).unwrap();
            let n = node_tcp(&c);
            (n.stack.tso_max_segs, n.tso_hardware_only)
        };
        // auto: super-segments, which the node keeps only over ports with hardware TSO.
        assert_eq!(tso("\"auto\""), (TSO_MAX_SEGS, true));
        assert_eq!(tso("true"), (TSO_MAX_SEGS, false));
        assert_eq!(tso("false"), (1, false));
        let e = err_with("[tcp]\ntso = \"yes\"\n");
        assert!(e.contains("expected true, false or \"auto\""), "{e}");
    }

    #[test]
    fn tcp_errors() {
        let e = err_with("[tcp]\ntime_wait = \"10s\"\n");
        assert_eq!(
            e,
            "test.toml:16:13: tcp.time_wait: 10s must be 30s..=300s (TcpTimedWaitDelay)"
        );
        let e = err_with("[tcp]\ndup_acks = 4\n");
        assert_eq!(e, "test.toml:16:12: tcp.dup_acks: must be 1..=3, got 4");
        let e = err_with("[tcp]\ncongestion = \"bbr\"\n");
        assert!(
            e.starts_with("test.toml:16:14: tcp.congestion: unknown value `bbr`"),
            "{e}"
        );
        let e = err_with("[tcp]\nephemeral_ports = \"6000-5000\"\n");
        assert!(
            e.ends_with("tcp.ephemeral_ports: \"6000-5000\": not a port range (expected \"LO-HI\", 1 <= LO <= HI <= 65535)"),
            "{e}"
        );
        let e = err_with("[tcp]\nmin_rto = \"5s\"\n");
        assert!(
            e.ends_with("tcp.initial_rto: 3s must be min_rto..=max_rto (5s..=1m)"),
            "{e}"
        );
        let e = err_with("[tcp]\nwindow_scaling = \"always\"\n");
        assert!(
            e.contains("tcp.window_scaling: unknown value `always`"),
            "{e}"
        );
        let e = err_with("[services]\nhttp_path = \"index.html\"\n");
        assert!(
            e.ends_with("services.http_path: \"index.html\": must start with '/' and contain no spaces or controls"),
            "{e}"
        );
    }
}
