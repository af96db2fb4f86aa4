//! The value parsers behind the sections' `deserialize_with` and `Text<T>` fields (integers in a
//! range, durations, ports, protocols, addresses) with the messages they fail with, and the code
//! that places an error in the file: the key path and the line and column of a serde error or of
//! a validation failure. Shared by every section's file, so it lives on its own.

use core::fmt;
use core::net::Ipv4Addr;
use core::ops::Range;

use burst_port::Nanos;
use burst_stack::filter::{self, Action, Direction, PortRange, RuleError};
use burst_wire::ethernet::MacAddr;
use burst_wire::ipv4::{Cidr, CidrError};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use super::{ConfigError, MAX_FRAME};

/// A validation failure before it is placed in the file.
pub struct Invalid {
    key: String,
    reason: String,
}

/// A validation failure of the key at `key` (a path such as `port[1].mtu`).
pub fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Invalid {
    Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

// ---- Value parsers -----------------------------------------------------------------------

/// An inclusive port range `"LO-HI"` with `1 <= LO <= HI`.
pub(super) fn port_span<'de, D: Deserializer<'de>>(d: D) -> Result<(u16, u16), D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = (u16, u16);
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a port range \"LO-HI\" (e.g. \"49152-65535\")")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<(u16, u16), E> {
            let bad = || {
                E::custom(format!(
                    "{s:?}: not a port range (expected \"LO-HI\", 1 <= LO <= HI <= 65535)"
                ))
            };
            let (lo, hi) = s.split_once('-').ok_or_else(bad)?;
            let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
            let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
            if lo == 0 || lo > hi {
                return Err(bad());
            }
            Ok((lo, hi))
        }
    }
    d.deserialize_str(V)
}

/// A value written as a TOML string and parsed with a message naming what was expected.
pub struct Text<T>(pub T);

/// Types read from strings.
pub trait FromText: Sized {
    /// Parses `s`, or explains why not.
    fn from_text(s: &str) -> Result<Self, String>;
}

impl FromText for std::net::SocketAddr {
    fn from_text(s: &str) -> Result<Self, String> {
        s.parse()
            .map_err(|_| format!("{s}: not an address and port (expected \"127.0.0.1:9108\")"))
    }
}

impl FromText for Cidr {
    fn from_text(s: &str) -> Result<Self, String> {
        s.parse().map_err(|e| match e {
            CidrError::Syntax => format!("{s}: not an IPv4 prefix (expected a.b.c.d/len)"),
            e => format!("{s}: not an IPv4 prefix ({e})"),
        })
    }
}

/// A port address: a prefix whose length must be written out.
pub(super) struct IfAddr(pub(super) Cidr);

impl FromText for IfAddr {
    fn from_text(s: &str) -> Result<Self, String> {
        let c = Cidr::from_text(s)?;
        if !s.contains('/') {
            return Err(format!(
                "{s}: a port address needs its prefix length (e.g. {s}/24)"
            ));
        }
        Ok(IfAddr(c))
    }
}

impl FromText for Ipv4Addr {
    fn from_text(s: &str) -> Result<Self, String> {
        s.parse()
            .map_err(|_| format!("{s}: not an IPv4 address (expected a.b.c.d)"))
    }
}

impl FromText for MacAddr {
    fn from_text(s: &str) -> Result<Self, String> {
        s.parse()
            .map_err(|_| format!("{s}: not a MAC address (expected xx:xx:xx:xx:xx:xx)"))
    }
}

impl FromText for Direction {
    fn from_text(s: &str) -> Result<Self, String> {
        s.parse().map_err(|e: RuleError| e.to_string())
    }
}

impl FromText for Action {
    fn from_text(s: &str) -> Result<Self, String> {
        s.parse().map_err(|e: RuleError| e.to_string())
    }
}

/// `flags = "syn"`, the one flag match there is.
pub(super) struct SynFlag;

impl FromText for SynFlag {
    fn from_text(s: &str) -> Result<Self, String> {
        if s == "syn" {
            Ok(SynFlag)
        } else {
            Err(RuleError::BadFlags(s.into()).to_string())
        }
    }
}

/// An IP protocol: `"tcp"`, `"udp"`, `"icmp"` or an integer `0..=255`.
pub(super) fn protocol<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = u8;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("\"tcp\", \"udp\", \"icmp\" or a protocol number 0..=255")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<u8, E> {
            filter::parse_protocol(s).map_err(|e| E::custom(e.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u8, E> {
            u8::try_from(v).map_err(|_| E::custom(RuleError::BadProtocol(v.to_string())))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u8, E> {
            u8::try_from(v).map_err(|_| E::custom(RuleError::BadProtocol(v.to_string())))
        }
    }
    d.deserialize_any(V).map(Some)
}

/// A TCP/UDP port (an integer) or an inclusive range (`"1000-2000"`).
pub(super) fn port_range<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PortRange>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = PortRange;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a port 0..=65535 or a range \"A-B\"")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<PortRange, E> {
            s.parse().map_err(|e: RuleError| E::custom(e.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<PortRange, E> {
            u16::try_from(v)
                .map(PortRange::single)
                .map_err(|_| E::custom(RuleError::BadPort(v.to_string())))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<PortRange, E> {
            u16::try_from(v)
                .map(PortRange::single)
                .map_err(|_| E::custom(RuleError::BadPort(v.to_string())))
        }
    }
    d.deserialize_any(V).map(Some)
}

impl<'de, T: FromText> Deserialize<'de> for Text<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(core::marker::PhantomData<T>);
        impl<T: FromText> Visitor<'_> for V<T> {
            type Value = Text<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<T>, E> {
                T::from_text(s).map(Text).map_err(E::custom)
            }
        }
        d.deserialize_str(V(core::marker::PhantomData))
    }
}

/// An integer in `LO..=HI`, with an error that says so.
pub fn range<'de, D, T, const LO: i64, const HI: i64>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    struct V<const LO: i64, const HI: i64>;
    impl<const LO: i64, const HI: i64> Visitor<'_> for V<LO, HI> {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "an integer in {LO}..={HI}")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            if (LO..=HI).contains(&v) {
                Ok(v)
            } else {
                Err(E::custom(format!("must be {LO}..={HI}, got {v}")))
            }
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            match i64::try_from(v) {
                Ok(v) => self.visit_i64(v),
                Err(_) => Err(E::custom(format!("must be {LO}..={HI}, got {v}"))),
            }
        }
    }
    let v = d.deserialize_i64(V::<LO, HI>)?;
    T::try_from(v).map_err(|_| de::Error::custom(format!("must be {LO}..={HI}, got {v}")))
}

/// A byte count in `LO..=HI`: an integer, or a string with a unit (`"64KiB"`, `"1MiB"`,
/// `"10kB"`), as `burst gen`'s sizes are written.
pub(super) fn byte_range<'de, D, T, const LO: u64, const HI: u64>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    #[derive(Deserialize)]
    #[serde(
        untagged,
        expecting = "a byte count (65536) or a size with a unit (\"64KiB\", \"1MiB\", \"10kB\")"
    )]
    enum U {
        Num(u64),
        Text(String),
    }
    let v = match U::deserialize(d)? {
        U::Num(n) => n,
        U::Text(s) => parse_bytes(&s).ok_or_else(|| {
            de::Error::custom(format!(
                "{s:?}: not a size (e.g. 65536, \"64KiB\", \"1MiB\", \"10kB\")"
            ))
        })?,
    };
    if !(LO..=HI).contains(&v) {
        return Err(de::Error::custom(format!(
            "must be {LO}..={HI} bytes, got {v}"
        )));
    }
    T::try_from(v).map_err(|_| de::Error::custom(format!("must be {LO}..={HI} bytes, got {v}")))
}

/// Bytes from `"64KiB"`, `"1MiB"`, `"10kB"`, `"1000"` or `"1000B"` (`None` for anything else
/// or an overflow).
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..end].parse().ok()?;
    let scale: u64 = match s[end..].trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// `true`, `false` or `"auto"` (`None`).
pub(super) fn auto_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("true, false or \"auto\"")
        }
        fn visit_bool<E: de::Error>(self, b: bool) -> Result<Option<bool>, E> {
            Ok(Some(b))
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Option<bool>, E> {
            match s {
                "auto" => Ok(None),
                _ => Err(E::custom(format!(
                    "{s:?}: expected true, false or \"auto\""
                ))),
            }
        }
    }
    d.deserialize_any(V)
}

/// Largest frame a port receives whole, `"auto"` (`None`) or bytes in 64..=65342 (the most
/// af_packet can hold in one 64 KiB buffer).
pub(super) fn auto_frame<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<u32>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "\"auto\" or a frame size in 64..={MAX_FRAME}")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<u32>, E> {
            if (64..=i64::from(MAX_FRAME)).contains(&v) {
                Ok(Some(v as u32))
            } else {
                Err(E::custom(format!(
                    "must be 64..={MAX_FRAME} (or \"auto\"), got {v}"
                )))
            }
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<u32>, E> {
            self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Option<u32>, E> {
            match s {
                "auto" => Ok(None),
                _ => Err(E::custom(format!(
                    "{s:?}: expected \"auto\" or a frame size in bytes"
                ))),
            }
        }
    }
    d.deserialize_any(V)
}

/// A duration: `"200ms"`, `"2m"`, `"1m30s"`, or an integer of milliseconds.
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Nanos, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Nanos;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration (\"200ms\", \"30s\", \"2m\") or an integer of milliseconds")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Nanos, E> {
            parse_duration(s).ok_or_else(|| {
                E::custom(format!(
                    "{s:?}: not a duration (e.g. \"200ms\", \"30s\", \"2m\", \"1m30s\", or an \
                     integer of milliseconds)"
                ))
            })
        }
        fn visit_i64<E: de::Error>(self, ms: i64) -> Result<Nanos, E> {
            u64::try_from(ms)
                .ok()
                .and_then(|ms| ms.checked_mul(1_000_000))
                .map(Nanos)
                .ok_or_else(|| E::custom(format!("{ms}: not a duration in milliseconds")))
        }
        fn visit_u64<E: de::Error>(self, ms: u64) -> Result<Nanos, E> {
            ms.checked_mul(1_000_000)
                .map(Nanos)
                .ok_or_else(|| E::custom(format!("{ms}: not a duration in milliseconds")))
        }
    }
    d.deserialize_any(V)
}

/// `"auto"` (`None`) or a duration as [`duration`] reads it.
pub(super) fn auto_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Nanos>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<Nanos>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("\"auto\", a duration (\"450s\", \"10m\") or an integer of milliseconds")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Option<Nanos>, E> {
            if s == "auto" {
                return Ok(None);
            }
            parse_duration(s).map(Some).ok_or_else(|| {
                E::custom(format!(
                    "{s:?}: not a duration (e.g. \"450s\", \"10m\", or an integer of \
                     milliseconds) nor \"auto\""
                ))
            })
        }
        fn visit_i64<E: de::Error>(self, ms: i64) -> Result<Option<Nanos>, E> {
            u64::try_from(ms)
                .ok()
                .and_then(|ms| ms.checked_mul(1_000_000))
                .map(|n| Some(Nanos(n)))
                .ok_or_else(|| E::custom(format!("{ms}: not a duration in milliseconds")))
        }
        fn visit_u64<E: de::Error>(self, ms: u64) -> Result<Option<Nanos>, E> {
            self.visit_i64(i64::try_from(ms).unwrap_or(-1))
        }
    }
    d.deserialize_any(V)
}

/// Units of a duration string, in nanoseconds.
const UNITS: [(&str, u64); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// Parses `"1m30s"`-style durations: one or more `<integer><unit>` parts.
pub fn parse_duration(s: &str) -> Option<Nanos> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0u64;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let letters = rest[digits..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        if digits == 0 || letters == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        let unit = &rest[digits..digits + letters];
        let (_, scale) = UNITS.iter().find(|(u, _)| *u == unit)?;
        total = total.checked_add(n.checked_mul(*scale)?)?;
        rest = &rest[digits + letters..];
    }
    Some(Nanos(total))
}

/// Shows a duration the way it is written in the file (`2m`, `1m30s`, `200ms`).
pub(super) struct Human(pub(super) Nanos);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut n = self.0 .0;
        if n == 0 {
            return f.write_str("0s");
        }
        for (unit, scale) in UNITS.iter().rev() {
            if n >= *scale && (n % scale == 0 || *scale >= 1_000_000_000) {
                write!(f, "{}{unit}", n / scale)?;
                n %= scale;
            }
        }
        Ok(())
    }
}

// ---- Locating errors in the file ---------------------------------------------------------

/// 1-based line and column of byte `pos` in `text`.
fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// A TOML key as written in a key path (quoted unless bare).
fn key_segment(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

/// The key path of the deepest key or value whose span holds byte `pos`.
fn path_at(v: &DeValue<'_>, pos: usize, path: &str) -> Option<String> {
    let contains = |r: Range<usize>| r.start <= pos && pos < r.end.max(r.start + 1);
    match v {
        DeValue::Table(t) => t.iter().find_map(|(k, v)| {
            let sub = if path.is_empty() {
                key_segment(k.get_ref())
            } else {
                format!("{path}.{}", key_segment(k.get_ref()))
            };
            path_at(v.get_ref(), pos, &sub)
                .or_else(|| (contains(k.span()) || contains(v.span())).then_some(sub))
        }),
        DeValue::Array(a) => a.iter().enumerate().find_map(|(i, v)| {
            let sub = format!("{path}[{i}]");
            path_at(v.get_ref(), pos, &sub).or_else(|| contains(v.span()).then_some(sub))
        }),
        _ => None,
    }
}

/// The span of the value at `path` (`port[1].addresses[0]`), or of its deepest existing parent.
fn span_of(root: &DeValue<'_>, path: &str) -> Option<Range<usize>> {
    let mut v = root;
    let mut span = None;
    for part in path.split('.') {
        let (name, indices) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        let DeValue::Table(t) = v else { break };
        let Some((k, next)) = t.iter().find(|(k, _)| k.get_ref() == name) else {
            break;
        };
        // A table's own span is its header; a key's span is better for a leaf.
        span = Some(match next.get_ref() {
            DeValue::Table(_) | DeValue::Array(_) => k.span(),
            _ => next.span(),
        });
        v = next.get_ref();
        for idx in indices
            .split(['[', ']'])
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse::<usize>().ok())
        {
            let DeValue::Array(a) = v else { return span };
            let Some(item) = a.get(idx) else {
                return span;
            };
            span = Some(item.span());
            v = item.get_ref();
        }
    }
    span
}

/// A TOML syntax or deserialization error, placed in the file (line, column, key path).
pub fn from_toml(e: &toml::de::Error, text: &str, origin: &str) -> ConfigError {
    let message = e.message().trim_end();
    let span = e.span();
    let mut key = span
        .clone()
        .and_then(|s| {
            let root = DeTable::parse(text).ok()?.into_inner();
            path_at(&DeValue::Table(root), s.start, "")
        })
        .unwrap_or_default();
    // serde says "field"; name the key, and put a missing one in the path.
    let reason = if let Some(rest) = message.strip_prefix("unknown field ") {
        let expected = rest.split_once(", ").map_or("", |(_, e)| e);
        format!("unknown key ({expected})")
    } else if let Some(rest) = message.strip_prefix("missing field ") {
        let name = rest.trim_matches('`');
        key = if key.is_empty() {
            name.to_string()
        } else {
            format!("{key}.{name}")
        };
        "missing required key".to_string()
    } else if let Some(rest) = message.strip_prefix("unknown variant ") {
        format!("unknown value {rest}")
    } else {
        message.to_string()
    };
    ConfigError {
        origin: origin.to_string(),
        position: span.map(|s| line_col(text, s.start)),
        key,
        reason,
    }
}

/// A validation failure, placed in the file at the key it names.
pub fn locate(e: Invalid, text: &str, origin: &str) -> ConfigError {
    let position = DeTable::parse(text)
        .ok()
        .and_then(|root| span_of(&DeValue::Table(root.into_inner()), &e.key))
        .map(|s| line_col(text, s.start));
    ConfigError {
        origin: origin.to_string(),
        position,
        key: e.key,
        reason: e.reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2m"), Some(Nanos::from_secs(120)));
        assert_eq!(parse_duration("200ms"), Some(Nanos::from_millis(200)));
        assert_eq!(parse_duration("30s"), Some(Nanos::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Some(Nanos::from_secs(90)));
        assert_eq!(parse_duration("1h"), Some(Nanos::from_secs(3600)));
        assert_eq!(parse_duration("5us"), Some(Nanos::from_micros(5)));
        for bad in [
            "",
            "2",
            "m",
            "2x",
            "-2s",
            "1.5s",
            "2 m",
            "99999999999999999999s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(Human(Nanos::from_secs(90)).to_string(), "1m30s");
        assert_eq!(Human(Nanos::from_millis(200)).to_string(), "200ms");
    }
}
