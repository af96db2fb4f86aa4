//! Turning `burst ctl` words into control requests (route, filter, firewall, ipsec), with usage errors.

use anyhow::{bail, Context, Result};
use burst_runtime::ctl::Request;

pub(super) const FIREWALL_USAGE: &str = "usage: firewall list | firewall add PORT [--src PREFIX] \
    [--dst PREFIX] [--proto tcp|udp|icmp|N] [--sport A[-B]] [--dport A[-B]] | \
    firewall delete PORT INDEX";

pub(super) fn firewall_request(args: &[String]) -> Result<Request> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(match a.as_slice() {
        ["list"] => Request::FirewallList,
        ["add", port, rest @ ..] => Request::FirewallAdd {
            port: port.to_string(),
            rule: rest.join(" "),
        },
        ["delete", port, i] => Request::FirewallDelete {
            port: port.to_string(),
            index: i
                .parse()
                .with_context(|| format!("{i}: not an exception index"))?,
        },
        _ => bail!("{FIREWALL_USAGE}"),
    })
}

pub(super) fn route_request(args: &[String]) -> Result<Request> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(match a.as_slice() {
        ["print"] => Request::RoutePrint,
        ["add", prefix, "via", gw] => Request::RouteAdd {
            prefix: prefix.to_string(),
            via: gw
                .parse()
                .with_context(|| format!("{gw}: not an IPv4 address"))?,
            metric: None,
        },
        ["add", prefix, "via", gw, "metric", m] => Request::RouteAdd {
            prefix: prefix.to_string(),
            via: gw
                .parse()
                .with_context(|| format!("{gw}: not an IPv4 address"))?,
            metric: Some(m.parse().with_context(|| format!("{m}: not a metric"))?),
        },
        ["delete", prefix] => Request::RouteDelete {
            prefix: prefix.to_string(),
        },
        _ => bail!("usage: route print | route add PREFIX via GW [metric N] | route delete PREFIX"),
    })
}

pub(super) const FILTER_USAGE: &str = "usage: filter list | filter add PORT in|out [--src PREFIX] \
    [--dst PREFIX] [--proto tcp|udp|icmp|N] [--sport A[-B]] [--dport A[-B]] [--flags syn] \
    [--index N] permit|deny|count | filter delete PORT in|out INDEX";

/// `filter ...`: the rule words go to the daemon as they are (it parses and explains errors);
/// only `--index N`, which says where to insert, is taken out here.
pub(super) fn filter_request(args: &[String]) -> Result<Request> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let dir = |d: &str| -> Result<String> {
        match d {
            "in" | "out" => Ok(d.to_string()),
            _ => bail!("{d}: expected in or out\n{FILTER_USAGE}"),
        }
    };
    Ok(match a.as_slice() {
        ["list"] => Request::FilterList,
        ["add", port, d, rest @ ..] if !rest.is_empty() => {
            let mut index = None;
            let mut words = Vec::new();
            let mut it = rest.iter();
            while let Some(w) = it.next() {
                if *w == "--index" {
                    let n = it.next().context("--index needs a value")?;
                    if index.is_some() {
                        bail!("--index given twice");
                    }
                    index = Some(
                        n.parse::<usize>()
                            .with_context(|| format!("--index {n}: not an index"))?,
                    );
                } else {
                    words.push(*w);
                }
            }
            Request::FilterAdd {
                port: port.to_string(),
                dir: dir(d)?,
                rule: words.join(" "),
                index,
            }
        }
        ["delete", port, d, i] => Request::FilterDelete {
            port: port.to_string(),
            dir: dir(d)?,
            index: i
                .parse()
                .with_context(|| format!("{i}: not a rule index"))?,
        },
        _ => bail!("{FILTER_USAGE}"),
    })
}

/// `ipsec [sa add KEY=VALUE... | sa delete SPI [in|out]]`.
pub(super) fn ipsec_request(args: &[String]) -> Result<Request> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] | ["list"] => Ok(Request::Ipsec),
        ["sa", "add", kv @ ..] if !kv.is_empty() => {
            let mut lines = String::new();
            for item in kv {
                let Some((k, v)) = item.split_once('=') else {
                    bail!("{item}: expected KEY=VALUE (the keys of an [[ipsec.sa]] table)");
                };
                // Keys are hex strings even when all their digits are decimal.
                let v = if k.ends_with("key") {
                    format!("\"{v}\"")
                } else {
                    toml_value(v)
                };
                lines.push_str(&format!("{k} = {v}\n"));
            }
            Ok(Request::IpsecSaAdd { sa: lines })
        }
        ["sa", "delete", spi, rest @ ..] if rest.len() <= 1 => Ok(Request::IpsecSaDelete {
            spi: parse_spi(spi)?,
            direction: rest.first().map(|d| d.to_string()),
        }),
        _ => bail!("usage: ipsec | ipsec sa add KEY=VALUE... | ipsec sa delete SPI [in|out]"),
    }
}

/// A command-line value as TOML: numbers (decimal or 0x) and booleans as they are, the rest
/// quoted.
pub(super) fn toml_value(v: &str) -> String {
    let number = v.parse::<u64>().is_ok()
        || v.strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && u64::from_str_radix(h, 16).is_ok() && h.len() <= 8);
    if number || v == "true" || v == "false" {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

pub(super) fn parse_spi(s: &str) -> Result<u32> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.with_context(|| format!("{s}: not an SPI (decimal or 0x hex)"))
}
