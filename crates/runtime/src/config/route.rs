//! `[[route]]`: static routes, each resolved to its outgoing port (given, or the port whose subnet
//! holds the next hop) and checked for host bits, on-link next hops and duplicates.

use core::net::Ipv4Addr;

use burst_stack::PortId;
use burst_wire::ipv4::Cidr;
use serde::Deserialize;

use super::de::{invalid, Invalid, Text};
use super::port::{is_unicast, own_address, port_named, port_on_link, PortConfig};

/// `[[route]]`: a static route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteConfig {
    /// Destination prefix (host bits zero).
    pub prefix: Cidr,
    /// Next hop; `None` for a route straight out of `port` (destinations on-link).
    pub via: Option<Ipv4Addr>,
    /// Outgoing port (given, or the port whose subnet holds `via`).
    pub port: PortId,
    /// Preference among equally long prefixes; lower wins.
    pub metric: u32,
}

fn default_metric() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawRoute {
    prefix: Text<Cidr>,
    #[serde(default)]
    via: Option<Text<Ipv4Addr>>,
    #[serde(default)]
    port: Option<String>,
    /// Seed: "The default value for the metric is 1" (default gateways), 1.
    #[serde(default = "default_metric")]
    metric: u32,
}

pub(super) fn validate_routes(
    raw: Vec<RawRoute>,
    ports: &[PortConfig],
) -> Result<Vec<RouteConfig>, Invalid> {
    let mut routes: Vec<RouteConfig> = Vec::with_capacity(raw.len());
    // (prefix, metric) -> index, so duplicates are found in O(1): generated tables with
    // hundreds of thousands of routes (scripts/bench-l3fwd.sh) must not load in O(n²).
    let mut seen: std::collections::HashMap<(Cidr, u32), usize> =
        std::collections::HashMap::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let key = format!("route[{i}]");
        let prefix = r.prefix.0;
        if prefix.network() != prefix {
            return Err(invalid(
                format!("{key}.prefix"),
                format!(
                    "{prefix}: host bits set (did you mean {}?)",
                    prefix.network()
                ),
            ));
        }
        let named = match &r.port {
            Some(name) => Some(port_named(ports, name, &format!("{key}.port"), "route")?),
            None => None,
        };
        let via = r.via.map(|Text(v)| v);
        let port = match (via, named) {
            (None, None) => {
                return Err(invalid(key, "a route needs `via`, `port` or both"));
            }
            (None, Some(p)) => p,
            (Some(v), _) if !is_unicast(v) => {
                return Err(invalid(
                    format!("{key}.via"),
                    format!("{v}: not a unicast address"),
                ));
            }
            (Some(v), _) if own_address(ports, v).is_some() => {
                let p = own_address(ports, v).map_or("", |p| p.name.as_str());
                return Err(invalid(
                    format!("{key}.via"),
                    format!("route via {v} is an address of port {p} itself"),
                ));
            }
            (Some(v), Some(p)) if !p.on_link(v) => {
                return Err(invalid(
                    format!("{key}.via"),
                    format!("route via {v} is not on port {}'s subnet", p.name),
                ));
            }
            (Some(_), Some(p)) => p,
            (Some(v), None) => port_on_link(ports, v).ok_or_else(|| {
                invalid(
                    format!("{key}.via"),
                    format!("route via {v} is not on any port's subnet"),
                )
            })?,
        };
        if let Some(&j) = seen.get(&(prefix, r.metric)) {
            return Err(invalid(
                key,
                format!(
                    "duplicate route {prefix} metric {} (also route[{j}])",
                    r.metric
                ),
            ));
        }
        seen.insert((prefix, r.metric), routes.len());
        routes.push(RouteConfig {
            prefix,
            via,
            port: port.id,
            metric: r.metric,
        });
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use crate::config::tests::err_with;

    #[test]
    fn route_errors() {
        let e = err_with("[[route]]\nprefix = \"0.0.0.0/0\"\nvia = \"198.19.0.1\"\n");
        assert_eq!(
            e,
            "test.toml:17:7: route[0].via: route via 198.19.0.1 is not on any port's subnet"
        );
        let e =
            err_with("[[route]]\nprefix = \"0.0.0.0/0\"\nvia = \"198.18.0.1\"\nport = \"p1\"\n");
        assert!(
            e.ends_with("route[0].via: route via 198.18.0.1 is not on port p1's subnet"),
            "{e}"
        );
        let e = err_with("[[route]]\nprefix = \"198.19.0.1/16\"\nport = \"p1\"\n");
        assert_eq!(
            e,
            "test.toml:16:10: route[0].prefix: 198.19.0.1/16: host bits set (did you mean 198.19.0.0/16?)"
        );
        let e = err_with("[[route]]\nprefix = \"198.19.0.0/16\"\n");
        assert_eq!(
            e,
            "test.toml:15:1: route[0]: a route needs `via`, `port` or both"
        );
        let e = err_with("[[route]]\nprefix = \"198.19.0.0/16\"\nport = \"p7\"\n");
        assert!(
            e.ends_with("route[0].port: route port p7 does not exist"),
            "{e}"
        );
        let e = err_with("[[route]]\nprefix = \"198.19.0.0/16\"\nvia = \"198.18.0.2\"\n");
        assert!(
            e.ends_with("route[0].via: route via 198.18.0.2 is an address of port p0 itself"),
            "{e}"
        );
        let twice = "[[route]]\nprefix = \"0.0.0.0/0\"\nvia = \"198.18.0.1\"\n";
        let e = err_with(&format!("{twice}{twice}"));
        assert!(
            e.ends_with("route[1]: duplicate route 0.0.0.0/0 metric 1 (also route[0])"),
            "{e}"
        );
    }
}
