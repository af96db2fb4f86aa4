//! Validation of the raw form into `GenConfig`, with positions and fixes in every error.

use core::net::Ipv4Addr;
use std::path::Path;

use burst_port::Nanos;
use burst_runtime::config::shared::{
    from_toml, invalid, locate, validate_eal, validate_ports, Invalid, Text,
};
use burst_runtime::config::{ConfigError, PortConfig};

use super::*;
use crate::size::SizeSpec;
use crate::stateful::config::{
    validate_client, validate_server, validate_tcp, ClientConfig, ServerConfig,
};
use crate::template::{self, Protocol, TcpFlagsSpec};

// ---- Validation ------------------------------------------------------------------------------

impl GenConfig {
    /// Reads and validates the file at `path` (pcap paths are relative to the file's folder).
    pub fn load(path: impl AsRef<Path>) -> Result<GenConfig, ConfigError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            position: None,
            key: String::new(),
            reason: format!("cannot read: {e}"),
        })?;
        GenConfig::parse_in(&text, &origin, path.parent().unwrap_or(Path::new(".")))
    }

    /// Parses and validates `text` (pcap paths relative to the current directory).
    pub fn parse(text: &str, origin: &str) -> Result<GenConfig, ConfigError> {
        GenConfig::parse_in(text, origin, Path::new("."))
    }

    /// Parses and validates `text`; relative pcap paths are taken from `dir`.
    pub fn parse_in(text: &str, origin: &str, dir: &Path) -> Result<GenConfig, ConfigError> {
        let raw: RawGen = toml::from_str(text).map_err(|e| from_toml(&e, text, origin))?;
        raw.validate(text, dir).map_err(|e| locate(e, text, origin))
    }

    /// The number of generator cores.
    pub fn cores(&self) -> u16 {
        self.eal.cores
    }
}

impl RawGen {
    fn validate(self, text: &str, dir: &Path) -> Result<GenConfig, Invalid> {
        let backend = self.backend.kind;
        let ports = validate_ports(self.port, backend)?;
        let eal = validate_eal(self.eal)?;
        if eal.idle_sleep.0 != 0 {
            // The generator's workers pace themselves (rates, closed loops); a sleep in their
            // loop would only break the pacing.
            return Err(invalid(
                "eal.idle_sleep",
                "burst gen's workers do not sleep when idle (their pacing needs the spin): \
                 remove the key (it is for `burst run`)",
            ));
        }
        for p in &ports {
            let frame = u32::from(p.mtu) + 18;
            if frame > u32::from(eal.mbuf_data_room) {
                return Err(invalid(
                    format!("port[{}].mtu", p.id.0),
                    format!(
                        "MTU {} needs {frame}-byte packet buffers but [eal] mbuf_data_room is \
                         {}: raise mbuf_data_room to at least {frame}",
                        p.mtu, eal.mbuf_data_room
                    ),
                ));
            }
        }
        let test = validate_test(self.test, &ports)?;
        if self.stream.is_empty() && self.client.is_empty() && self.server.is_empty() {
            return Err(invalid(
                "stream",
                "at least one [[stream]] is required (or a [[client]] / [[server]]; see docs/gen.md)",
            ));
        }
        let mut clients: Vec<ClientConfig> = Vec::with_capacity(self.client.len());
        for (i, c) in self.client.into_iter().enumerate() {
            let c = validate_client(i, c, eal.cores)?;
            if clients.iter().any(|o| o.name == c.name) {
                return Err(invalid(
                    format!("client[{i}].name"),
                    format!("duplicate client name {}", c.name),
                ));
            }
            clients.push(c);
        }
        let mut servers: Vec<ServerConfig> = Vec::with_capacity(self.server.len());
        for (i, s) in self.server.into_iter().enumerate() {
            let s = validate_server(i, s, eal.cores)?;
            if servers.iter().any(|o| o.listen == s.listen) {
                return Err(invalid(
                    format!("server[{i}].listen"),
                    format!("another [[server]] already listens on {}", s.listen),
                ));
            }
            servers.push(s);
        }
        if self.stream.len() > usize::from(u16::MAX) {
            return Err(invalid("stream", "at most 65535 streams"));
        }
        let mut streams: Vec<StreamConfig> = Vec::with_capacity(self.stream.len());
        for (i, s) in self.stream.into_iter().enumerate() {
            let st = validate_stream(i, s, &ports, eal.cores, &test, dir)?;
            if streams.iter().any(|o| o.name == st.name) {
                return Err(invalid(
                    format!("stream[{i}].name"),
                    format!("duplicate stream name {}", st.name),
                ));
            }
            streams.push(st);
        }
        Ok(GenConfig {
            eal,
            ports,
            streams,
            clients,
            servers,
            tcp: validate_tcp(self.tcp)?,
            test,
            backend,
            text: text.to_string(),
        })
    }
}

pub(super) fn validate_test(t: RawTest, ports: &[PortConfig]) -> Result<TestConfig, Invalid> {
    let rx = match &t.rx_ports {
        None => vec![true; ports.len()],
        Some(names) => {
            let mut rx = vec![false; ports.len()];
            for (i, n) in names.iter().enumerate() {
                let p = ports.iter().position(|p| &p.name == n).ok_or_else(|| {
                    invalid(
                        format!("test.rx_ports[{i}]"),
                        format!("port {n} does not exist"),
                    )
                })?;
                rx[p] = true;
            }
            rx
        }
    };
    if t.duration == Nanos::ZERO || t.duration > Nanos::from_secs(86_400) {
        return Err(invalid(
            "test.duration",
            "must be more than 0 and at most 1d (every load run is bounded)",
        ));
    }
    if t.catch_up > Nanos::from_secs(1) {
        return Err(invalid(
            "test.catch_up",
            "at most 1s (a stream that far behind sends a second of traffic at once)",
        ));
    }
    if t.drain > Nanos::from_secs(60) {
        return Err(invalid("test.drain", "at most 60s"));
    }
    if !t.reorder_window.is_power_of_two() {
        return Err(invalid(
            "test.reorder_window",
            format!("{} is not a power of two (e.g. 1024)", t.reorder_window),
        ));
    }
    let r = t.rfc2544;
    if r.sizes.is_empty() {
        return Err(invalid(
            "test.rfc2544.sizes",
            "list at least one frame size",
        ));
    }
    for (i, &s) in r.sizes.iter().enumerate() {
        if !(MIN_FRAME..=9018).contains(&s) {
            return Err(invalid(
                format!("test.rfc2544.sizes[{i}]"),
                format!("{s}: frame sizes are 64..=9018 bytes with the FCS (RFC 2544 §9)"),
            ));
        }
    }
    if !(0.0..=100.0).contains(&r.loss_tolerance) {
        return Err(invalid(
            "test.rfc2544.loss_tolerance",
            "a loss percentage in 0..=100 (RFC 2544 throughput: 0)",
        ));
    }
    if !(r.resolution > 0.0 && r.resolution <= 50.0) {
        return Err(invalid(
            "test.rfc2544.resolution",
            "a percentage of the line rate in (0, 50] (e.g. 0.5)",
        ));
    }
    if r.trial == Nanos::ZERO || r.trial > Nanos::from_secs(3600) {
        return Err(invalid("test.rfc2544.trial", "more than 0 and at most 1h"));
    }
    Ok(TestConfig {
        duration: t.duration,
        drain: t.drain,
        latency_bias: t.latency_bias,
        co_correction: t.co_correction,
        catch_up: t.catch_up,
        reorder_window: t.reorder_window,
        arp_timeout: t.arp_timeout,
        seed: t.seed,
        rx,
        rfc2544: Rfc2544Config {
            sizes: r.sizes,
            trial: r.trial,
            warmup: r.warmup,
            loss_tolerance: r.loss_tolerance,
            resolution: r.resolution,
            max_trials: r.max_trials,
            retries: r.retries,
            loss_steps: r.loss_steps,
            back_to_back: r.back_to_back,
            back_to_back_max: r.back_to_back_max.max(1),
            settle: r.settle,
        },
    })
}

pub(super) fn parse_field(s: &str) -> Option<Field> {
    Some(match s {
        "src_ip" | "src" => Field::SrcIp,
        "dst_ip" | "dst" => Field::DstIp,
        "src_port" => Field::SrcPort,
        "dst_port" => Field::DstPort,
        "tos" => Field::Tos,
        "ttl" => Field::Ttl,
        "ip_id" => Field::IpId,
        "size" => Field::Size,
        _ => return None,
    })
}

/// A field's value range and how a value is written in the file.
pub(super) fn field_value(field: Field, v: &NumOrText) -> Result<u32, String> {
    let max = match field {
        Field::SrcIp | Field::DstIp => u32::MAX,
        Field::SrcPort | Field::DstPort | Field::IpId => 65535,
        Field::Tos => 255,
        Field::Ttl => 255,
        Field::Size => 9018,
    };
    let n = match (field, v) {
        (Field::SrcIp | Field::DstIp, NumOrText::Text(s)) => u32::from(
            s.parse::<Ipv4Addr>()
                .map_err(|_| format!("{s}: not an IPv4 address (expected a.b.c.d)"))?,
        ),
        (_, NumOrText::Num(n)) => u32::try_from(*n).unwrap_or(u32::MAX),
        (_, NumOrText::Text(s)) => return Err(format!("{s:?}: expected an integer")),
    };
    if n > max {
        return Err(format!("{n} is above the field's largest value {max}"));
    }
    Ok(n)
}

#[allow(clippy::too_many_lines)]
pub(super) fn validate_stream(
    i: usize,
    s: RawStream,
    ports: &[PortConfig],
    cores: u16,
    test: &TestConfig,
    dir: &Path,
) -> Result<StreamConfig, Invalid> {
    let key = |k: &str| format!("stream[{i}].{k}");
    let name = s.name.clone().unwrap_or_else(|| format!("s{i}"));
    if name.is_empty() || name.len() > 32 {
        return Err(invalid(key("name"), "1..=32 characters"));
    }
    let port = match &s.port {
        Some(p) => ports.iter().position(|q| &q.name == p).ok_or_else(|| {
            invalid(
                key("port"),
                format!(
                    "port {p} does not exist (ports: {})",
                    ports
                        .iter()
                        .map(|q| q.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?,
        None if ports.len() == 1 => 0,
        None => {
            return Err(invalid(
                key("port"),
                "required with more than one [[port]]: the port the stream leaves by",
            ))
        }
    };
    let pc = &ports[port];
    let protocol_name = s.protocol.as_deref().unwrap_or("udp");
    let tcp_flags = match &s.tcp_flags {
        None => TcpFlagsSpec::Syn,
        Some(f) => TcpFlagsSpec::parse(f).ok_or_else(|| {
            invalid(
                key("tcp_flags"),
                format!("{f:?}: expected \"syn\", \"syn-ack\", \"ack\", \"psh-ack\", \"fin-ack\" or \"rst\""),
            )
        })?,
    };
    let protocol = match protocol_name {
        "udp" => Protocol::Udp,
        "tcp" => Protocol::Tcp,
        "icmp" => Protocol::Icmp,
        "raw" => {
            let hex = s.payload.as_deref().ok_or_else(|| {
                invalid(
                    key("payload"),
                    "protocol \"raw\" needs payload = \"<the whole frame in hex, without FCS>\"",
                )
            })?;
            let bytes = template::parse_hex(hex).map_err(|e| invalid(key("payload"), e))?;
            Protocol::Raw(vec![bytes])
        }
        "pcap" => {
            let p = s.pcap.as_deref().ok_or_else(|| {
                invalid(key("pcap"), "protocol \"pcap\" needs pcap = \"FILE.pcap\"")
            })?;
            let path = dir.join(p);
            let frames = template::read_pcap(&path).map_err(|e| invalid(key("pcap"), e))?;
            Protocol::Raw(frames)
        }
        other => {
            return Err(invalid(
                key("protocol"),
                format!("unknown value {other:?} (expected \"udp\", \"tcp\", \"icmp\", \"raw\" or \"pcap\")"),
            ))
        }
    };
    if s.payload.is_some() && protocol_name != "raw" {
        return Err(invalid(key("payload"), "only with protocol = \"raw\""));
    }
    if s.pcap.is_some() && protocol_name != "pcap" {
        return Err(invalid(key("pcap"), "only with protocol = \"pcap\""));
    }
    let raw = matches!(protocol, Protocol::Raw(_));
    let src = s
        .src
        .map(|Text(a)| a)
        .unwrap_or_else(|| pc.addresses[0].address());
    let dst = match s.dst {
        Some(Text(a)) => a,
        None if raw => Ipv4Addr::UNSPECIFIED,
        None => {
            return Err(invalid(
                key("dst"),
                "missing required key: the IPv4 destination (e.g. dst = \"198.18.2.1\")",
            ))
        }
    };
    let line_rate = match &s.line_rate {
        None => 10_000_000_000,
        Some(t) => parse_bps(t).ok_or_else(|| {
            invalid(
                key("line_rate"),
                format!("{t:?}: not a bit rate (e.g. \"10Gbps\", \"100Gbps\")"),
            )
        })?,
    };
    let layer_l2 = match s.rate_layer.as_deref() {
        None | Some("l1") | Some("L1") => false,
        Some("l2") | Some("L2") => true,
        Some(o) => {
            return Err(invalid(
                key("rate_layer"),
                format!("{o:?}: expected \"l1\" (preamble, gap and FCS counted) or \"l2\""),
            ))
        }
    };
    let rate = match &s.rate {
        None => Rate::Pps(1000),
        Some(r) => parse_rate(r, layer_l2, line_rate).map_err(|e| invalid(key("rate"), e))?,
    };
    // Sizes: raw/pcap frames have their own; a `size` key then is an error.
    let max_frame = pc.mtu + 18 + if s.vlan.is_some() { 4 } else { 0 };
    let size = match (&protocol, s.size) {
        (Protocol::Raw(frames), None) => {
            for (j, f) in frames.iter().enumerate() {
                let fs = f.len() as u16 + FCS;
                if f.len() < 14 || fs > max_frame {
                    return Err(invalid(
                        key(if protocol_name == "raw" {
                            "payload"
                        } else {
                            "pcap"
                        }),
                        format!(
                            "frame {j} is {} bytes; frames must be 14..={} bytes without FCS \
                             (MTU {}; shorter ones are padded to 60): fix the frame or raise \
                             [[port]] mtu",
                            f.len(),
                            max_frame - FCS,
                            pc.mtu
                        ),
                    ));
                }
            }
            SizeSpec::Frames(
                frames
                    .iter()
                    .map(|f| (f.len() as u16 + FCS).max(MIN_FRAME))
                    .collect(),
            )
        }
        (Protocol::Raw(_), Some(_)) => {
            return Err(invalid(
                key("size"),
                "raw and pcap frames keep their own sizes: remove size",
            ))
        }
        (_, None) => SizeSpec::Fixed(MIN_FRAME),
        (_, Some(rs)) => {
            let spec = match rs {
                RawSize::One(n) => SizeSpec::Fixed(n),
                RawSize::List(v) if v.is_empty() => {
                    return Err(invalid(
                        key("size"),
                        "an empty list: give at least one size",
                    ))
                }
                RawSize::List(v) => SizeSpec::List(v),
                RawSize::Text(t) => SizeSpec::parse(&t).map_err(|e| invalid(key("size"), e))?,
            };
            for sz in spec.all_sizes() {
                if !(MIN_FRAME..=max_frame).contains(&sz) {
                    return Err(invalid(
                        key("size"),
                        format!(
                            "{sz}: frame sizes (FCS included) must be {MIN_FRAME}..={max_frame} \
                             on port {} (MTU {}): pick a size in range or raise [[port]] mtu",
                            pc.name, pc.mtu
                        ),
                    ));
                }
            }
            spec
        }
    };
    let signature = s.signature.unwrap_or(!raw);
    if signature && raw {
        return Err(invalid(
            key("signature"),
            "raw and pcap frames are sent as they are: a signature needs udp, tcp or icmp",
        ));
    }
    // The template must fit the smallest frame.
    if !raw {
        let hdr = template::header_len(&protocol, s.vlan.is_some());
        let need = hdr + if signature { crate::signature::LEN } else { 0 } + usize::from(FCS);
        if need > usize::from(size.min()) {
            return Err(invalid(
                key("size"),
                format!(
                    "{}-byte frames cannot hold the {protocol_name} headers{} ({need} bytes with \
                     the FCS): use size >= {need}{}",
                    size.min(),
                    if signature {
                        " and the 16-byte signature"
                    } else {
                        ""
                    },
                    if signature {
                        " or signature = false"
                    } else {
                        ""
                    }
                ),
            ));
        }
    }
    // Variations.
    let mut vary = Vec::with_capacity(s.vary.len());
    for (j, v) in s.vary.into_iter().enumerate() {
        let vk = format!("stream[{i}].vary[{j}]");
        let field = parse_field(&v.field).ok_or_else(|| {
            invalid(
                format!("{vk}.field"),
                format!(
                    "{:?}: expected src_ip, dst_ip, src_port, dst_port, tos, ttl, ip_id or size",
                    v.field
                ),
            )
        })?;
        if raw {
            return Err(invalid(
                format!("{vk}.field"),
                "raw and pcap frames are sent as they are: vary needs udp, tcp or icmp",
            ));
        }
        if matches!(field, Field::SrcPort | Field::DstPort) && protocol == Protocol::Icmp {
            return Err(invalid(format!("{vk}.field"), "ICMP has no ports"));
        }
        if vary.iter().any(|w: &Vary| w.field == field) {
            return Err(invalid(
                format!("{vk}.field"),
                "this field is already varied",
            ));
        }
        let op = match v.op.as_deref().unwrap_or("inc") {
            "inc" => Op::Inc,
            "dec" => Op::Dec,
            "random" => Op::Random,
            o => {
                return Err(invalid(
                    format!("{vk}.op"),
                    format!("{o:?}: expected \"inc\", \"dec\" or \"random\""),
                ))
            }
        };
        let base = match field {
            Field::SrcIp => u32::from(src),
            Field::DstIp => u32::from(dst),
            Field::SrcPort => u32::from(s.src_port.unwrap_or(1024)),
            Field::DstPort => u32::from(s.dst_port.unwrap_or(9)),
            Field::Tos => u32::from(s.tos.unwrap_or(0)),
            Field::Ttl => u32::from(s.ttl.unwrap_or(64)),
            Field::IpId => u32::from(s.ip_id.unwrap_or(0)),
            Field::Size => u32::from(size.min()),
        };
        let min = match &v.min {
            Some(m) => field_value(field, m).map_err(|e| invalid(format!("{vk}.min"), e))?,
            None => base,
        };
        let max = match (&v.max, v.count) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    format!("{vk}.count"),
                    "give max or count, not both",
                ))
            }
            (Some(m), None) => {
                field_value(field, m).map_err(|e| invalid(format!("{vk}.max"), e))?
            }
            (None, Some(0)) => return Err(invalid(format!("{vk}.count"), "must be at least 1")),
            (None, Some(c)) => min.checked_add(c - 1).ok_or_else(|| {
                invalid(format!("{vk}.count"), "min + count - 1 overflows the field")
            })?,
            (None, None) => {
                return Err(invalid(
                    vk.clone(),
                    "give max (the last value) or count (how many values)",
                ))
            }
        };
        if max < min {
            return Err(invalid(
                format!("{vk}.max"),
                format!("{max} is below min {min}"),
            ));
        }
        if field == Field::Size {
            if !matches!(size, SizeSpec::Fixed(_)) {
                return Err(invalid(
                    format!("{vk}.field"),
                    "size is varied here and set to a list/range/IMIX too: keep one",
                ));
            }
            for sz in [min, max] {
                if !(u32::from(size.min())..=u32::from(max_frame)).contains(&sz) {
                    return Err(invalid(
                        format!("{vk}.max"),
                        format!(
                            "{sz}: sizes must be {}..={max_frame} (the template's smallest frame \
                             to the port's largest)",
                            size.min()
                        ),
                    ));
                }
            }
        }
        let step = v.step.unwrap_or(1);
        if step == 0 {
            return Err(invalid(format!("{vk}.step"), "must be at least 1"));
        }
        vary.push(Vary {
            field,
            op,
            min,
            max,
            step,
        });
    }
    let size = match vary.iter().find(|v| v.field == Field::Size) {
        Some(v) => {
            let sv = *v;
            vary.retain(|v| v.field != Field::Size);
            SizeSpec::Varied(sv)
        }
        None => size,
    };
    let pattern = match s.pattern.as_deref() {
        None | Some("constant") => Pattern::Constant,
        Some("poisson") => Pattern::Poisson,
        Some(o) => {
            return Err(invalid(
                key("pattern"),
                format!("{o:?}: expected \"constant\" or \"poisson\" (rate = \"max\" for as fast as possible)"),
            ))
        }
    };
    // The rate against the line rate and 1 pps.
    let mean = size.mean();
    let pps = rate_pps(rate, mean);
    if rate != Rate::Max {
        if pps < 1.0 {
            return Err(invalid(
                key("rate"),
                format!(
                    "{} is below 1 packet per second at a mean frame of {mean:.0} bytes: raise it",
                    rate_text(rate)
                ),
            ));
        }
        let l1 = pps * (mean + L1_OVERHEAD as f64) * 8.0;
        if l1 > line_rate as f64 * 1.000_001 {
            return Err(invalid(
                key("rate"),
                format!(
                    "{} of {mean:.0}-byte frames is {} on the wire (with preamble, gap and FCS), \
                     above the line rate ({}): lower rate, or set line_rate to the port's speed",
                    rate_text(rate),
                    bps_text(l1),
                    bps_text(line_rate as f64)
                ),
            ));
        }
    } else if pattern == Pattern::Poisson {
        return Err(invalid(
            key("pattern"),
            "rate = \"max\" has no spacing to draw: use a rate, or pattern = \"constant\"",
        ));
    }
    let mode = match (s.burst, s.bursts, s.gap) {
        (None, None, None) => Mode::Continuous,
        (None, _, _) => {
            return Err(invalid(
                key("burst"),
                "bursts and gap need burst = <packets per burst>",
            ))
        }
        (Some(0), _, _) => return Err(invalid(key("burst"), "must be at least 1")),
        (Some(n), b, g) => {
            let b = b.unwrap_or(1);
            if b == 0 {
                return Err(invalid(key("bursts"), "must be at least 1"));
            }
            Mode::Bursts {
                packets: n,
                bursts: b,
                gap: g.unwrap_or(Nanos::ZERO),
            }
        }
    };
    if s.count == Some(0) {
        return Err(invalid(key("count"), "must be at least 1"));
    }
    if let Some(d) = s.duration {
        if d == Nanos::ZERO || d > test.duration {
            return Err(invalid(
                key("duration"),
                format!(
                    "must be more than 0 and at most the test's duration ({} ms): raise \
                     [test] duration",
                    test.duration.as_millis()
                ),
            ));
        }
    }
    let start_delay = s.start_delay.unwrap_or(Nanos::ZERO);
    if start_delay >= test.duration {
        return Err(invalid(
            key("start_delay"),
            "must be shorter than [test] duration (the stream would never start)",
        ));
    }
    let cores_list = match s.cores {
        None => (0..cores).collect(),
        Some(c) => {
            if c.is_empty() {
                return Err(invalid(key("cores"), "list at least one core"));
            }
            for (j, &x) in c.iter().enumerate() {
                if x >= cores {
                    return Err(invalid(
                        format!("stream[{i}].cores[{j}]"),
                        format!(
                            "core {x} does not exist ([eal] cores = {cores}: 0..={})",
                            cores - 1
                        ),
                    ));
                }
                if c[..j].contains(&x) {
                    return Err(invalid(
                        format!("stream[{i}].cores[{j}]"),
                        format!("core {x} is listed twice"),
                    ));
                }
            }
            c
        }
    };
    if let Some(q) = Some(pc.queue_count(cores)).filter(|&q| q < cores) {
        return Err(invalid(
            format!("port[{}].queues", pc.id.0),
            format!("{q} queues for {cores} generator cores: each core needs a queue pair of every port (queues = 0)"),
        ));
    }
    Ok(StreamConfig {
        name,
        port,
        protocol,
        src_mac: s.src_mac.map(|Text(m)| m),
        dst_mac: s.dst_mac.map(|Text(m)| m),
        gateway: s.gateway.map(|Text(a)| a),
        vlan: s.vlan.map(|v| v | (s.vlan_pcp.unwrap_or(0) << 13)),
        src,
        dst,
        src_port: s.src_port.unwrap_or(1024),
        dst_port: s.dst_port.unwrap_or(9),
        tos: s.tos.unwrap_or(0) as u8,
        ttl: s.ttl.unwrap_or(64) as u8,
        ip_id: s.ip_id.unwrap_or(0),
        df: s.df.unwrap_or(true),
        tcp_flags,
        size,
        vary,
        rate,
        pattern,
        count: s.count,
        duration: s.duration,
        mode,
        start_delay,
        signature,
        cores: cores_list,
        line_rate,
    })
}
