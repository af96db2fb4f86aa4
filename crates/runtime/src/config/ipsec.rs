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
            IpsecError::Algorithm(i, burst_ipsec::IpsecProtocol::Esp) => invalid(
                format!("ipsec.sa[{i}].algorithm"),
                "an ESP SA needs `algorithm` (aes-gcm-128, aes-gcm-256, chacha20-poly1305, \
                 aes-cbc-128-hmac-sha256, aes-cbc-256-hmac-sha256 or null-hmac-sha256)",
            ),
            IpsecError::Algorithm(i, burst_ipsec::IpsecProtocol::Ah) => invalid(
                format!("ipsec.sa[{i}].algorithm"),
                "protocol = \"ah\" is HMAC-SHA-256-128 with `auth_key` (32 bytes): remove \
                 `algorithm` and `key`",
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

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const BASE: &str = "[backend]\nkind = \"mem\"\n\
        [[port]]\nname = \"p0\"\naddresses = [\"198.18.0.2/24\"]\n";
    const SA: &str = "[[ipsec.sa]]\nspi = 0x1001\ndirection = \"in\"\n\
        algorithm = \"aes-gcm-128\"\nkey = \"000102030405060708090a0b0c0d0e0f10111213\"\n";

    fn err(sections: &str) -> String {
        Config::parse(&format!("{BASE}{sections}"), "t.toml")
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn a_section_is_read_and_its_mistakes_say_what_to_change() {
        let ok = format!(
            "{SA}[[ipsec.policy]]\ndirection = \"in\"\nsrc = \"198.18.0.1/32\"\naction = \"secure\"\nsa = 0x1001\n\
             [[ipsec.policy]]\ndirection = \"in\"\naction = \"permit\"\n"
        );
        let c = Config::parse(&format!("{BASE}{ok}"), "t.toml").unwrap();
        let i = c.ipsec.unwrap();
        assert_eq!((i.sa.len(), i.policy.len()), (1, 2));
        assert!(Config::parse(BASE, "t.toml").unwrap().ipsec.is_none());
        // A short key: where, and how long it must be.
        let e = err(&SA.replace("10111213", ""));
        assert!(e.starts_with("t.toml:") && e.contains("ipsec.sa[0]"), "{e}");
        assert!(e.contains("20"), "{e}");
        // An inbound SA and no inbound policy.
        let e = err(SA);
        assert!(e.contains("ipsec.policy") && e.contains("catch-all"), "{e}");
        // The last rule of a direction must match everything.
        let e = err(&format!(
            "{SA}[[ipsec.policy]]\ndirection = \"in\"\nsrc = \"198.18.0.1/32\"\naction = \"permit\"\n"
        ));
        assert!(
            e.contains("ipsec.policy[0]") && e.contains("match everything"),
            "{e}"
        );
        // secure without an SA of its direction.
        let e = err(&format!(
            "{SA}[[ipsec.policy]]\ndirection = \"out\"\naction = \"secure\"\nsa = 0x1001\n\
             [[ipsec.policy]]\ndirection = \"in\"\naction = \"permit\"\n"
        ));
        assert!(e.contains("ipsec.policy[0].sa"), "{e}");
        // Tunnel mode without its addresses; tunnel addresses in transport mode.
        let e = err(&SA.replace("direction", "mode = \"tunnel\"\ndirection"));
        assert!(
            e.contains("ipsec.sa[0].mode") && e.contains("tunnel_src"),
            "{e}"
        );
        let e = err(&SA.replace("direction", "tunnel_dst = \"198.18.0.1\"\ndirection"));
        assert!(
            e.contains("mode = \\\"tunnel\\\"") || e.contains("mode = \"tunnel\""),
            "{e}"
        );
        // A bad prefix, a duplicate SPI, an unknown key.
        let e = err(&format!(
            "{SA}[[ipsec.policy]]\ndirection = \"in\"\ndst = \"198.18.0.300/24\"\naction = \"permit\"\n"
        ));
        assert!(e.contains("ipsec.policy[0].dst"), "{e}");
        let e = err(&format!(
            "{SA}{SA}[[ipsec.policy]]\ndirection = \"in\"\naction = \"permit\"\n"
        ));
        assert!(e.contains("ipsec.sa[1].spi") && e.contains("0x1001"), "{e}");
        let e = err("[[ipsec.sa]]\nspi = 0x1001\nwindow = 3\n");
        assert!(e.contains("unknown key"), "{e}");
        // ESP needs an algorithm; AH has none and takes a 32-byte auth_key only.
        let e = err(&SA.replace("algorithm = \"aes-gcm-128\"\n", ""));
        assert!(
            e.contains("ipsec.sa[0].algorithm") && e.contains("ESP"),
            "{e}"
        );
        let e = err(&SA.replace("direction", "protocol = \"ah\"\ndirection"));
        assert!(
            e.contains("ipsec.sa[0].algorithm") && e.contains("auth_key"),
            "{e}"
        );
        let ah = "[[ipsec.sa]]\nspi = 0x1001\ndirection = \"in\"\nprotocol = \"ah\"\n";
        let e = err(&format!("{ah}auth_key = \"0102\"\n"));
        assert!(
            e.contains("ipsec.sa[0]") && e.contains("32 bytes, not 2"),
            "{e}"
        );
        let e = err(&ah.replace("\"ah\"", "\"esp-ah\""));
        assert!(e.contains("protocol"), "{e}");
    }
}
