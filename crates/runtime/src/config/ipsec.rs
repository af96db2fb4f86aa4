//! `[ipsec]`: `[[ipsec.sa]]` manually keyed security associations and `[[ipsec.policy]]` ordered
//! rules (docs/ipsec.md). The types and their checks are burst-ipsec's
//! ([`burst_ipsec::config`]); this file places its errors at the key that is wrong and adds
//! the checks only the whole file can make.

use burst_ipsec::config::{ConfigError as IpsecError, Direction, IpsecConfig};

use super::de::{invalid, Invalid};

/// Checks `[ipsec]`: every SA and policy builds (keys, windows, tunnel addresses, selectors,
/// `secure` naming an SA of its direction), and each direction that has rules ends with one
/// that matches everything, so that no datagram falls through the table by accident.
pub(super) fn validate_ipsec(raw: Option<IpsecConfig>) -> Result<Option<IpsecConfig>, Invalid> {
    let Some(c) = raw else {
        return Ok(None);
    };
    if let Err(e) = c.build() {
        return Err(match e {
            IpsecError::Sa(i, e) => invalid(format!("ipsec.sa[{i}]"), e.to_string()),
            IpsecError::TunnelAddresses(i) => invalid(
                format!("ipsec.sa[{i}].mode"),
                "tunnel mode needs tunnel_src and tunnel_dst (the outer addresses)",
            ),
            IpsecError::DuplicateSpi(spi) => {
                let i = c.sa.iter().rposition(|s| s.spi == spi).unwrap_or(0);
                invalid(
                    format!("ipsec.sa[{i}].spi"),
                    format!("another SA of this direction already uses SPI {spi:#x}: pick another"),
                )
            }
            IpsecError::Selector(i, what) => invalid(
                format!("ipsec.policy[{i}].{what}"),
                match what {
                    "src" | "dst" => "not an IPv4 prefix (e.g. \"198.18.1.0/24\")",
                    _ => "not a port selector: a port, \"LO-HI\" with LO <= HI, or \"any\"",
                },
            ),
            IpsecError::MissingSa(i) => invalid(
                format!("ipsec.policy[{i}].sa"),
                "action \"secure\" needs `sa`, the SPI of a configured [[ipsec.sa]] of the same \
                 direction",
            ),
        });
    }
    for (i, s) in c.sa.iter().enumerate() {
        let tunnel = s.tunnel_src.is_some() || s.tunnel_dst.is_some();
        if tunnel && s.mode == burst_ipsec::config::ModeName::Transport {
            return Err(invalid(
                format!("ipsec.sa[{i}].tunnel_src"),
                "tunnel_src/tunnel_dst are for mode = \"tunnel\": set the mode or remove them",
            ));
        }
    }
    for dir in [Direction::In, Direction::Out] {
        let rules: Vec<usize> = (0..c.policy.len())
            .filter(|&i| c.policy[i].direction == dir)
            .collect();
        let uses_sa = c.sa.iter().any(|s| s.direction == dir);
        let Some(&last) = rules.last() else {
            if uses_sa {
                let name = if dir == Direction::In { "in" } else { "out" };
                return Err(invalid(
                    "ipsec.policy",
                    format!(
                        "there are direction = \"{name}\" SAs but no {name} policies: add \
                         [[ipsec.policy]] rules for them, the last a catch-all (action = \
                         \"permit\" without selectors)"
                    ),
                ));
            }
            continue;
        };
        let p = &c.policy[last];
        let catch_all = p.src.is_none()
            && p.dst.is_none()
            && p.protocol.is_none()
            && p.src_port.is_none()
            && p.dst_port.is_none();
        if !catch_all {
            return Err(invalid(
                format!("ipsec.policy[{last}]"),
                "the last policy of each direction must match everything (no src, dst, \
                 protocol or ports; usually action = \"permit\"): datagrams no rule matches \
                 would be dropped",
            ));
        }
    }
    Ok(Some(c))
}
