//! `[[filter]]`: packet filter rules, each appended to its port's inbound or outbound list in file
//! order, checked as `burst ctl filter add` checks them.

use burst_stack::filter::{self, Action, Direction, PortRange, Rule, RuleError};
use burst_stack::PortId;
use burst_wire::ipv4::Cidr;
use serde::Deserialize;

use super::de::{invalid, port_range, protocol, Invalid, SynFlag, Text};
use super::port::{port_named, PortConfig};

/// `[[filter]]`: one packet filter rule, appended to its port's list for its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterConfig {
    /// The port whose list holds the rule.
    pub port: PortId,
    /// Inbound or outbound list.
    pub direction: Direction,
    /// The rule (matches and action).
    pub rule: Rule,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawFilter {
    port: String,
    direction: Text<Direction>,
    action: Text<Action>,
    #[serde(default)]
    src: Option<Text<Cidr>>,
    #[serde(default)]
    dst: Option<Text<Cidr>>,
    #[serde(default, deserialize_with = "protocol")]
    proto: Option<u8>,
    #[serde(default, deserialize_with = "port_range")]
    sport: Option<PortRange>,
    #[serde(default, deserialize_with = "port_range")]
    dport: Option<PortRange>,
    #[serde(default)]
    flags: Option<Text<SynFlag>>,
}

pub(super) fn validate_filters(
    raw: Vec<RawFilter>,
    ports: &[PortConfig],
) -> Result<Vec<FilterConfig>, Invalid> {
    let mut filters: Vec<FilterConfig> = Vec::with_capacity(raw.len());
    for (i, f) in raw.into_iter().enumerate() {
        let key = format!("filter[{i}]");
        let port = port_named(ports, &f.port, &format!("{key}.port"), "filter")?.id;
        let rule = Rule {
            // Host bits play no part in matching; keep the prefix as `filter list` shows it.
            src: f.src.map(|Text(c)| c.network()),
            dst: f.dst.map(|Text(c)| c.network()),
            proto: f.proto,
            sport: f.sport,
            dport: f.dport,
            syn: f.flags.is_some(),
            action: f.action.0,
        };
        if let Err(e) = rule.validate() {
            let field = match e {
                RuleError::FlagsNeedTcp(_) => "flags",
                _ if f.dport.is_some() => "dport",
                _ => "sport",
            };
            return Err(invalid(format!("{key}.{field}"), e.to_string()));
        }
        let direction = f.direction.0;
        let same = filters
            .iter()
            .filter(|o| o.port == port && o.direction == direction)
            .count();
        if same >= filter::MAX_RULES {
            return Err(invalid(
                key,
                format!(
                    "more than {} rules for port {} {direction}",
                    filter::MAX_RULES,
                    f.port
                ),
            ));
        }
        filters.push(FilterConfig {
            port,
            direction,
            rule,
        });
    }
    Ok(filters)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{err_with, BASE, ORIGIN};
    use crate::config::Config;

    #[test]
    fn the_filter_example_in_the_docs_parses() {
        let doc = include_str!("../../../../docs/configuration.md");
        let section = &doc[doc.find("## `[[filter]]`").unwrap()..];
        let start = section.find("```toml\n").unwrap() + "```toml\n".len();
        let end = start + section[start..].find("```").unwrap();
        let example = &section[start..end];
        let c = Config::parse(&format!("{BASE}{example}"), "docs/configuration.md").unwrap();
        // Each rule is the `burst ctl` line in the comment above it.
        let ctl: Vec<&str> = example
            .lines()
            .filter_map(|l| l.strip_prefix("# filter add "))
            .collect();
        let got: Vec<String> = c
            .filters
            .iter()
            .map(|f| {
                format!(
                    "{} {} {}",
                    c.ports[usize::from(f.port.0)].name,
                    f.direction,
                    f.rule
                )
            })
            .collect();
        assert_eq!(got, ctl);
    }

    #[test]
    fn filters_parse_in_file_order() {
        let c = Config::parse(
            &format!(
                "{BASE}
[[filter]]
port = \"p1\"
direction = \"in\"
dst = \"198.18.2.0/24\"
proto = \"tcp\"
dport = 80
action = \"deny\"
[[filter]]
port = \"p0\"
direction = \"out\"
src = \"198.18.0.7/24\"
proto = 47
action = \"count\"
[[filter]]
port = \"p0\"
direction = \"out\"
proto = \"udp\"
sport = \"1000-2000\"
dport = \"53\"
action = \"permit\"
[[filter]]
port = \"p1\"
direction = \"in\"
flags = \"syn\"
action = \"deny\"
"
            ),
            ORIGIN,
        )
        .unwrap();
        let got: Vec<(PortId, Direction, String)> = c
            .filters
            .iter()
            .map(|f| (f.port, f.direction, f.rule.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    PortId(1),
                    Direction::In,
                    "--dst 198.18.2.0/24 --proto tcp --dport 80 deny".to_string()
                ),
                (
                    PortId(0),
                    Direction::Out,
                    "--src 198.18.0.0/24 --proto 47 count".to_string()
                ),
                (
                    PortId(0),
                    Direction::Out,
                    "--proto udp --sport 1000-2000 --dport 53 permit".to_string()
                ),
                (PortId(1), Direction::In, "--flags syn deny".to_string()),
            ]
        );
        assert!(Config::parse(BASE, ORIGIN).unwrap().filters.is_empty());
    }

    #[test]
    fn filter_errors() {
        let f = |body: &str| err_with(&format!("[[filter]]\n{body}"));
        let e = f("port = \"p9\"\ndirection = \"in\"\naction = \"deny\"\n");
        assert_eq!(
            e,
            "test.toml:16:8: filter[0].port: filter port p9 does not exist"
        );
        let e =
            f("port = \"p0\"\ndirection = \"in\"\nsrc = \"198.18.0.300/24\"\naction = \"deny\"\n");
        assert_eq!(
            e,
            "test.toml:18:7: filter[0].src: 198.18.0.300/24: not an IPv4 prefix (expected a.b.c.d/len)"
        );
        let e = f("port = \"p0\"\ndirection = \"in\"\ndport = \"10-5\"\naction = \"deny\"\n");
        assert_eq!(
            e,
            "test.toml:18:9: filter[0].dport: port range 10-5 is reversed"
        );
        let e = f("port = \"p0\"\ndirection = \"in\"\naction = \"drop\"\n");
        assert_eq!(
            e,
            "test.toml:18:10: filter[0].action: unknown action drop (expected permit, deny or count)"
        );
        let e = f("port = \"p0\"\ndirection = \"both\"\naction = \"deny\"\n");
        assert!(
            e.ends_with("filter[0].direction: bad direction both (expected in or out)"),
            "{e}"
        );
        let e = f("port = \"p0\"\ndirection = \"in\"\nproto = 300\naction = \"deny\"\n");
        assert!(
            e.ends_with(
                "filter[0].proto: bad protocol 300 (expected tcp, udp, icmp or a number 0..=255)"
            ),
            "{e}"
        );
        let e = f("port = \"p0\"\ndirection = \"in\"\nproto = \"gre\"\naction = \"deny\"\n");
        assert!(
            e.ends_with(
                "filter[0].proto: bad protocol gre (expected tcp, udp, icmp or a number 0..=255)"
            ),
            "{e}"
        );
        let e = f("port = \"p0\"\ndirection = \"in\"\nsport = 70000\naction = \"deny\"\n");
        assert!(
            e.ends_with("filter[0].sport: bad port 70000 (expected N or A-B, ports 0..=65535)"),
            "{e}"
        );
        let e = f(
            "port = \"p0\"\ndirection = \"in\"\nproto = \"icmp\"\ndport = 80\naction = \"deny\"\n",
        );
        assert_eq!(
            e,
            "test.toml:19:9: filter[0].dport: port ranges need --proto tcp or udp (or no --proto), not icmp"
        );
        let e = f("port = \"p0\"\ndirection = \"in\"\nproto = \"udp\"\nflags = \"syn\"\naction = \"deny\"\n");
        assert!(
            e.ends_with("filter[0].flags: --flags syn needs --proto tcp (or no --proto), not udp"),
            "{e}"
        );
        let e = f("port = \"p0\"\ndirection = \"in\"\nflags = \"ack\"\naction = \"deny\"\n");
        assert!(
            e.ends_with("filter[0].flags: bad flags ack (only syn is supported)"),
            "{e}"
        );
        let e = f("port = \"p0\"\ndirection = \"in\"\n");
        assert_eq!(e, "test.toml:15:1: filter[0].action: missing required key");
        let e = f("port = \"p0\"\ndirection = \"in\"\naction = \"deny\"\nsyn = true\n");
        assert!(
            e.starts_with("test.toml:19:1: filter[0].syn: unknown key (expected one of `port`, `direction`, `action`"),
            "{e}"
        );
    }
}
