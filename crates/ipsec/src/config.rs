//! Configuration types for an `[ipsec]` TOML section: manual SAs and ordered policies, and
//! [`IpsecConfig::build`], which checks them and makes the SAD and the two SPDs.
//!
//! ```toml
//! [[ipsec.sa]]
//! spi = 0x1000
//! direction = "out"
//! mode = "tunnel"            # or "transport" (the default)
//! tunnel_src = "198.18.200.1"
//! tunnel_dst = "198.18.200.2"
//! algorithm = "aes-gcm-128"  # aes-gcm-256, chacha20-poly1305, aes-cbc-128-hmac-sha256, ...
//! key = "0x4c80cdefbb5d10da906ac73c3613a634 2e443b68"   # key then salt, hex
//! replay_window = 64         # inbound; 32..=4096, or 0: no anti-replay (not with esn)
//! esn = false
//!
//! [[ipsec.policy]]
//! direction = "out"
//! src = "198.18.0.0/24"
//! dst = "198.19.0.0/24"
//! protocol = 17              # optional
//! dst_port = "5000-5100"     # optional: a port, "lo-hi" or "any"
//! action = "secure"          # permit, block or secure
//! sa = 0x1000                # for secure
//! ```

use std::net::Ipv4Addr;

use burst_wire::ipv4::Cidr;
use serde::{Deserialize, Deserializer};

use crate::algo::Algorithm;
use crate::replay::DEFAULT_WINDOW;
use crate::sa::{DfPolicy, IpsecProtocol, Mode, Sa, SaError, SaParams, Tunnel};
use crate::sad::Sad;
use crate::spd::{Action, Policy, PortRange, Selector, Spd};

/// Key bytes given in hex; its `Debug` form shows the length only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HexKey(pub Vec<u8>);

impl core::fmt::Debug for HexKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "HexKey({} bytes)", self.0.len())
    }
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b':')
        .collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

impl<'de> Deserialize<'de> for HexKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<HexKey, D::Error> {
        let s = String::deserialize(d)?;
        parse_hex(&s)
            .map(HexKey)
            .ok_or_else(|| serde::de::Error::custom("expected hex bytes, e.g. \"0x0a0b...\""))
    }
}

/// The direction an SA or a policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Received traffic.
    In,
    /// Sent and forwarded traffic.
    Out,
}

/// `mode` of an SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeName {
    /// Transport mode.
    #[default]
    Transport,
    /// Tunnel mode.
    Tunnel,
}

fn default_window() -> u32 {
    DEFAULT_WINDOW
}

fn default_ttl() -> u8 {
    64
}

/// One `[[ipsec.sa]]` entry: a manually keyed SA.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaConfig {
    /// SPI (above 255).
    pub spi: u32,
    /// Inbound or outbound.
    pub direction: Direction,
    /// `"esp"` (the default) or `"ah"` (HMAC-SHA-256-128 with `auth_key`, no `algorithm`).
    #[serde(default)]
    pub protocol: IpsecProtocol,
    /// Transport (default) or tunnel.
    #[serde(default)]
    pub mode: ModeName,
    /// Tunnel mode: outer source address.
    pub tunnel_src: Option<Ipv4Addr>,
    /// Tunnel mode: outer destination address.
    pub tunnel_dst: Option<Ipv4Addr>,
    /// Tunnel mode: outer TTL (64).
    #[serde(default = "default_ttl")]
    pub ttl: u8,
    /// Tunnel mode: outer DF (copied from the inner header by default).
    #[serde(default)]
    pub df: DfPolicy,
    /// Transform (ESP: required; AH: none).
    pub algorithm: Option<Algorithm>,
    /// Encryption key material, hex (the salt last for the AEADs).
    #[serde(default)]
    pub key: HexKey,
    /// Integrity key, hex (CBC and NULL transforms).
    #[serde(default)]
    pub auth_key: HexKey,
    /// Extended sequence numbers.
    #[serde(default)]
    pub esn: bool,
    /// Anti-replay window (inbound), 32..=4096, 64 by default; 0 turns the check off (not with
    /// ESN).
    #[serde(default = "default_window")]
    pub replay_window: u32,
    /// Hard lifetime in packets (outbound), 0 for none.
    #[serde(default)]
    pub max_packets: u64,
}

/// A port selector: a number, `"lo-hi"`, or `"any"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum PortSpec {
    /// One port.
    One(u16),
    /// `"lo-hi"`, `"N"` or `"any"`.
    Text(String),
}

impl PortSpec {
    fn range(&self) -> Option<PortRange> {
        match self {
            PortSpec::One(p) => Some(PortRange::one(*p)),
            PortSpec::Text(t) if t == "any" => Some(PortRange::ANY),
            PortSpec::Text(t) => match t.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
                    (lo <= hi).then_some(PortRange { lo, hi })
                }
                None => t.trim().parse().ok().map(PortRange::one),
            },
        }
    }
}

/// The action of a policy, in the seed's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionName {
    /// Bypass IPsec.
    Permit,
    /// Discard.
    Block,
    /// Protect with the SA named by `sa`.
    Secure,
}

/// One `[[ipsec.policy]]` entry; entries of one direction are tried in file order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Inbound or outbound.
    pub direction: Direction,
    /// Source prefix, `a.b.c.d/len` (any by default).
    pub src: Option<String>,
    /// Destination prefix (any by default).
    pub dst: Option<String>,
    /// IP protocol number (any by default).
    pub protocol: Option<u8>,
    /// Source ports (any by default).
    pub src_port: Option<PortSpec>,
    /// Destination ports (any by default).
    pub dst_port: Option<PortSpec>,
    /// What to do.
    pub action: ActionName,
    /// SPI of the SA, for `secure`.
    pub sa: Option<u32>,
}

/// The `[ipsec]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpsecConfig {
    /// Manually keyed SAs.
    #[serde(default)]
    pub sa: Vec<SaConfig>,
    /// Policies, in order.
    #[serde(default)]
    pub policy: Vec<PolicyConfig>,
}

/// What is wrong with an `[ipsec]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// An SA entry (by index) could not be made.
    Sa(usize, SaError),
    /// A tunnel-mode SA lacks `tunnel_src` or `tunnel_dst`.
    TunnelAddresses(usize),
    /// Two SAs of one direction share an SPI.
    DuplicateSpi(u32),
    /// A policy (by index) has a bad prefix or port range.
    Selector(usize, &'static str),
    /// A `secure` policy names no SA, or one not configured in its direction.
    MissingSa(usize),
    /// An ESP SA without `algorithm`, or an AH SA with one.
    Algorithm(usize, IpsecProtocol),
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::Sa(i, e) => write!(f, "ipsec.sa[{i}]: {e}"),
            ConfigError::TunnelAddresses(i) => {
                write!(
                    f,
                    "ipsec.sa[{i}]: tunnel mode needs tunnel_src and tunnel_dst"
                )
            }
            ConfigError::DuplicateSpi(s) => write!(f, "two SAs of one direction use SPI {s:#x}"),
            ConfigError::Selector(i, what) => write!(f, "ipsec.policy[{i}]: bad {what}"),
            ConfigError::Algorithm(i, IpsecProtocol::Esp) => {
                write!(f, "ipsec.sa[{i}]: ESP needs `algorithm`")
            }
            ConfigError::Algorithm(i, IpsecProtocol::Ah) => write!(
                f,
                "ipsec.sa[{i}]: AH is HMAC-SHA-256-128 with `auth_key`: leave `algorithm` out"
            ),
            ConfigError::MissingSa(i) => write!(
                f,
                "ipsec.policy[{i}]: secure needs `sa`, the SPI of an SA of the same direction"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The tables an `[ipsec]` section makes.
#[derive(Debug)]
pub struct IpsecTables {
    /// Both directions' SAs.
    pub sad: Sad,
    /// Inbound policies.
    pub spd_in: Spd,
    /// Outbound policies.
    pub spd_out: Spd,
}

impl SaConfig {
    /// The SA's parameters (the `i`th entry, for error messages).
    pub fn params(&self, i: usize) -> Result<SaParams, ConfigError> {
        let mode = match self.mode {
            ModeName::Transport => Mode::Transport,
            ModeName::Tunnel => match (self.tunnel_src, self.tunnel_dst) {
                (Some(src), Some(dst)) => Mode::Tunnel(Tunnel {
                    src,
                    dst,
                    ttl: self.ttl,
                    df: self.df,
                }),
                _ => return Err(ConfigError::TunnelAddresses(i)),
            },
        };
        let algorithm = match (self.protocol, self.algorithm) {
            (IpsecProtocol::Esp, Some(a)) => a,
            (IpsecProtocol::Ah, None) => Algorithm::NullHmacSha256,
            (p, _) => return Err(ConfigError::Algorithm(i, p)),
        };
        Ok(SaParams {
            spi: self.spi,
            protocol: self.protocol,
            mode,
            algorithm,
            key: self.key.0.clone(),
            auth_key: self.auth_key.0.clone(),
            esn: self.esn,
            replay_window: self.replay_window,
            max_packets: self.max_packets,
        })
    }
}

impl IpsecConfig {
    /// Checks the SAs and makes the SAD alone (what `ctl ipsec sa add/delete` republishes;
    /// the policies stay).
    pub fn build_sad(&self) -> Result<Sad, ConfigError> {
        let mut sad = Sad::new();
        for (i, c) in self.sa.iter().enumerate() {
            let sa = Sa::new(&c.params(i)?).map_err(|e| ConfigError::Sa(i, e))?;
            let replaced = match c.direction {
                Direction::In => sad.insert_inbound(sa),
                Direction::Out => sad.insert_outbound(sa),
            };
            if replaced.is_some() {
                return Err(ConfigError::DuplicateSpi(c.spi));
            }
        }
        Ok(sad)
    }

    /// Checks the section and makes the tables.
    pub fn build(&self) -> Result<IpsecTables, ConfigError> {
        let sad = self.build_sad()?;
        let (mut rules_in, mut rules_out) = (Vec::new(), Vec::new());
        for (i, p) in self.policy.iter().enumerate() {
            let prefix = |s: &Option<String>, what| match s {
                None => Ok(Cidr::DEFAULT),
                Some(s) => s
                    .parse::<Cidr>()
                    .map(|c| c.network())
                    .map_err(|_| ConfigError::Selector(i, what)),
            };
            let ports = |s: &Option<PortSpec>, what| match s {
                None => Ok(PortRange::ANY),
                Some(p) => p.range().ok_or(ConfigError::Selector(i, what)),
            };
            let selector = Selector {
                src: prefix(&p.src, "src")?,
                dst: prefix(&p.dst, "dst")?,
                protocol: p.protocol,
                src_ports: ports(&p.src_port, "src_port")?,
                dst_ports: ports(&p.dst_port, "dst_port")?,
            };
            let action = match p.action {
                ActionName::Permit => Action::Bypass,
                ActionName::Block => Action::Discard,
                ActionName::Secure => {
                    let spi = p.sa.ok_or(ConfigError::MissingSa(i))?;
                    let known = match p.direction {
                        Direction::In => sad.inbound(spi).is_some(),
                        Direction::Out => sad.outbound(spi).is_some(),
                    };
                    if !known {
                        return Err(ConfigError::MissingSa(i));
                    }
                    Action::Protect(spi)
                }
            };
            let rules = match p.direction {
                Direction::In => &mut rules_in,
                Direction::Out => &mut rules_out,
            };
            rules.push(Policy { selector, action });
        }
        Ok(IpsecTables {
            sad,
            spd_in: Spd::new(rules_in),
            spd_out: Spd::new(rules_out),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        ipsec: IpsecConfig,
    }

    const EXAMPLE: &str = r#"
        [[ipsec.sa]]
        spi = 0x1000
        direction = "out"
        mode = "tunnel"
        tunnel_src = "198.18.200.1"
        tunnel_dst = "198.18.200.2"
        algorithm = "aes-gcm-128"
        key = "0x4c80cdefbb5d10da906ac73c3613a634 2e443b68"

        [[ipsec.sa]]
        spi = 0x2000
        direction = "in"
        algorithm = "aes-cbc-256-hmac-sha256"
        key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
        auth_key = "0x0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"
        esn = true
        replay_window = 1024

        [[ipsec.policy]]
        direction = "out"
        dst = "198.19.0.0/17"
        protocol = 17
        dst_port = 53
        action = "permit"

        [[ipsec.policy]]
        direction = "out"
        src = "198.18.0.0/17"
        dst = "198.19.0.0/17"
        src_port = "1024-65535"
        action = "secure"
        sa = 0x1000

        [[ipsec.policy]]
        direction = "in"
        action = "block"
    "#;

    #[test]
    fn a_section_builds_tables() {
        let f: File = toml::from_str(EXAMPLE).unwrap();
        let t = f.ipsec.build().unwrap();
        let out = t.sad.outbound(0x1000).unwrap();
        assert_eq!(out.algorithm(), Algorithm::AesGcm128);
        assert!(matches!(
            out.mode(),
            Mode::Tunnel(Tunnel {
                ttl: 64,
                df: DfPolicy::Copy,
                ..
            })
        ));
        let inb = t.sad.inbound(0x2000).unwrap();
        assert!(inb.esn());
        assert_eq!(inb.replay().size(), 1024);
        assert_eq!(out.replay().size(), 64);
        assert_eq!(t.spd_out.rules().len(), 2);
        assert_eq!(t.spd_out.rules()[0].selector.dst_ports, PortRange::one(53));
        assert_eq!(
            t.spd_out.rules()[1].selector.src_ports,
            PortRange {
                lo: 1024,
                hi: 65535
            }
        );
        assert_eq!(t.spd_out.rules()[1].action, Action::Protect(0x1000));
        assert_eq!(t.spd_in.rules()[0].action, Action::Discard);
        // Keys never show in debug output.
        let dbg = format!("{:?}", f.ipsec);
        assert!(
            dbg.contains("HexKey(20 bytes)") && !dbg.contains("4c80"),
            "{dbg}"
        );
    }

    #[test]
    fn errors_name_the_entry() {
        let bad = |from: &str, to: &str| {
            let f: File = toml::from_str(&EXAMPLE.replacen(from, to, 1)).unwrap();
            f.ipsec.build().unwrap_err()
        };
        assert_eq!(
            bad("tunnel_dst = \"198.18.200.2\"", ""),
            ConfigError::TunnelAddresses(0)
        );
        assert!(matches!(
            bad("2e443b68", "2e443b"),
            ConfigError::Sa(0, SaError::Key(_))
        ));
        assert!(matches!(
            bad("replay_window = 1024", "replay_window = 5000"),
            ConfigError::Sa(1, SaError::Window(_))
        ));
        assert_eq!(bad("sa = 0x1000", "sa = 0x3000"), ConfigError::MissingSa(1));
        assert_eq!(
            bad("src = \"198.18.0.0/17\"", "src = \"198.18.0.0/33\""),
            ConfigError::Selector(1, "src")
        );
        assert_eq!(
            bad("\"1024-65535\"", "\"2000-1000\""),
            ConfigError::Selector(1, "src_port")
        );
        let mut f: File = toml::from_str(EXAMPLE).unwrap();
        let dup = f.ipsec.sa[0].clone();
        f.ipsec.sa.push(dup);
        assert_eq!(
            f.ipsec.build().unwrap_err(),
            ConfigError::DuplicateSpi(0x1000)
        );
        // The same SPI in both directions is fine: the tables are separate.
        let mut f: File = toml::from_str(EXAMPLE).unwrap();
        f.ipsec.sa[1].spi = 0x1000;
        assert!(f.ipsec.build().is_ok());
        assert!(toml::from_str::<File>(&EXAMPLE.replacen("0x4c80", "0xzz80", 1)).is_err());
        assert!(toml::from_str::<File>(&EXAMPLE.replacen(
            "esn = true",
            "esn = true\nbogus = 1",
            1
        ))
        .is_err());
        assert!(bad("spi = 0x1000", "spi = 0x10")
            .to_string()
            .contains("reserved"));
    }
}
