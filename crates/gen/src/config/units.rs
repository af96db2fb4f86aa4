//! Rates and sizes with units: parsing (`5Mpps`, `1Gbit/s`, `40%`) and the text a user reads.

use super::*;

// ---- Value parsers ---------------------------------------------------------------------------

/// Splits `"1.5Mpps"` into `(1.5, "Mpps")`.
pub(super) fn number_and_unit(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let n: f64 = s[..end].parse().ok()?;
    Some((n, s[end..].trim()))
}

/// Bits per second from `"10Gbps"`, `"100Mbps"`, `"1.5Gbit/s"`, or a bare number of bit/s.
pub fn parse_bps(s: &str) -> Option<u64> {
    let (n, unit) = number_and_unit(s)?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" | "bps" | "bit/s" => 1e0,
        "kbps" | "kbit/s" => 1e3,
        "mbps" | "mbit/s" => 1e6,
        "gbps" | "gbit/s" => 1e9,
        "tbps" | "tbit/s" => 1e12,
        _ => return None,
    };
    let v = (n * scale).round();
    (1.0..1e15).contains(&v).then_some(v as u64)
}

/// A rate as written: `"5Mpps"`, `"100kpps"`, `"1Gbps"`, `"50%"`, `"max"` or a bare number of
/// packets per second. `layer_l2` makes bit rates count frames without preamble and gap.
pub(super) fn parse_rate(v: &NumOrText, layer_l2: bool, line_rate: u64) -> Result<Rate, String> {
    let s = match v {
        NumOrText::Num(n) => return Ok(Rate::Pps(*n)),
        NumOrText::Text(s) => s.trim(),
    };
    if s.eq_ignore_ascii_case("max") {
        return Ok(Rate::Max);
    }
    let bad = || {
        format!(
            "{s:?}: not a rate (e.g. \"5Mpps\", \"250kpps\", \"1000pps\", \"1Gbps\", \"50%\" of \
             line_rate, or \"max\")"
        )
    };
    if let Some(p) = s.strip_suffix('%') {
        let p: f64 = p.trim().parse().map_err(|_| bad())?;
        if !(p > 0.0 && p <= 100.0) {
            return Err(format!(
                "{s}: a percentage of the line rate must be in (0, 100]"
            ));
        }
        let bps = (line_rate as f64 * p / 100.0).round() as u64;
        return Ok(if layer_l2 {
            Rate::L2Bps(bps)
        } else {
            Rate::L1Bps(bps)
        });
    }
    let (n, unit) = number_and_unit(s).ok_or_else(bad)?;
    let pps_scale = match unit.to_ascii_lowercase().as_str() {
        "" | "pps" => Some(1e0),
        "kpps" => Some(1e3),
        "mpps" => Some(1e6),
        "gpps" => Some(1e9),
        _ => None,
    };
    if let Some(scale) = pps_scale {
        // Below one packet a second is refused by validation, not rounded up to one.
        let v = n * scale;
        return Ok(Rate::Pps(if v < 1.0 { 0 } else { v.round() as u64 }));
    }
    let bps = parse_bps(s).ok_or_else(bad)?;
    Ok(if layer_l2 {
        Rate::L2Bps(bps)
    } else {
        Rate::L1Bps(bps)
    })
}

/// Bits a frame of `size` bytes (FCS included) costs at layer 1 and layer 2.
pub fn frame_bits(size: u16) -> (u64, u64) {
    let s = u64::from(size);
    ((s + L1_OVERHEAD) * 8, s * 8)
}

/// Packets per second of a rate for frames of mean size `mean_size` (FCS included).
pub fn rate_pps(rate: Rate, mean_size: f64) -> f64 {
    match rate {
        Rate::Pps(p) => p as f64,
        Rate::L1Bps(b) => b as f64 / ((mean_size + L1_OVERHEAD as f64) * 8.0),
        Rate::L2Bps(b) => b as f64 / (mean_size * 8.0),
        Rate::Max => f64::INFINITY,
    }
}

/// Human text for bit/s.
pub fn bps_text(b: f64) -> String {
    if b >= 1e9 {
        format!("{:.2} Gbit/s", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.2} Mbit/s", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.2} kbit/s", b / 1e3)
    } else {
        format!("{b:.0} bit/s")
    }
}

/// Human text for packets per second.
pub fn pps_text(p: f64) -> String {
    if p >= 1e6 {
        format!("{:.3} Mpps", p / 1e6)
    } else if p >= 1e3 {
        format!("{:.3} kpps", p / 1e3)
    } else {
        format!("{p:.0} pps")
    }
}

/// A rate as a user reads it.
pub fn rate_text(r: Rate) -> String {
    match r {
        Rate::Pps(p) => pps_text(p as f64),
        Rate::L1Bps(b) => format!("{} (L1)", bps_text(b as f64)),
        Rate::L2Bps(b) => format!("{} (L2)", bps_text(b as f64)),
        Rate::Max => "max".to_string(),
    }
}
