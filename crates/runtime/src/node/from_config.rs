//! `NodeConfig` from a parsed configuration file: every key on its way into the node (the
//! documented-keys test checks that each one arrives).

use super::*;

impl From<&crate::config::Config> for NodeConfig {
    fn from(c: &crate::config::Config) -> NodeConfig {
        let arp = ArpConfig {
            cache_life_unused: c.arp.cache_life_unused,
            cache_life_max: c.arp.cache_life_max,
            retry_count: c.arp.retry_count,
            duplicate_detection: c.arp.duplicate_detection,
            retry_interval: c.arp.retry_interval,
            // RFC 1122 §2.3.2.1 recommends at most one request per second per neighbour; a
            // shorter `retry_interval` is the operator's explicit choice and the limit follows
            // it (left at 1 s it would space the retries a second apart whatever the key says).
            request_rate_limit: c
                .arp
                .retry_interval
                .min(ArpConfig::default().request_rate_limit),
            pending_per_neighbor: usize::from(c.arp.pending_per_neighbor),
            max_entries: c.arp.max_entries as usize,
            ..ArpConfig::default()
        };
        NodeConfig {
            ports: c
                .ports
                .iter()
                .map(|p| NodePort {
                    name: p.name.clone(),
                    addrs: p.addresses.clone(),
                    groups: p.groups.clone(),
                    partial_checksums: p.partial_checksums,
                })
                .collect(),
            routes: c
                .routes
                .iter()
                .map(|r| NodeRoute {
                    prefix: r.prefix,
                    via: r.via,
                    port: r.port,
                    metric: r.metric,
                })
                .collect(),
            static_arp: c
                .static_arp
                .iter()
                .map(|a| (c.ports[usize::from(a.port.0)].name.clone(), a.ip, a.mac))
                .collect(),
            workers: usize::from(c.eal.cores),
            idle_sleep: c.eal.idle_sleep,
            arp,
            ipv4: Ipv4Config {
                default_ttl: c.ipv4.default_ttl,
                accept_source_route: c.ipv4.accept_source_route,
                forwarding: c.ipv4.forwarding,
                multicast_ttl: c.ipv4.multicast_ttl,
            },
            icmp: IcmpConfig {
                // 0 means unlimited in the configuration.
                echo_rate: if c.icmp.echo_rate_limit == 0 {
                    u32::MAX / 2
                } else {
                    c.icmp.echo_rate_limit
                },
                echo_burst: if c.icmp.echo_rate_limit == 0 {
                    u32::MAX / 2
                } else {
                    c.icmp.echo_rate_limit.max(1)
                },
                error_rate: if c.icmp.error_rate_limit == 0 {
                    u32::MAX / 2
                } else {
                    c.icmp.error_rate_limit
                },
                // Unlimited means no bucket at all: a burst of errors within one poll would
                // otherwise still stop at `error_burst`.
                error_burst: if c.icmp.error_rate_limit == 0 {
                    u32::MAX / 2
                } else {
                    c.icmp.error_burst.max(1)
                },
            },
            lpm_tbl8_groups: 4096,
            max_next_hops: 4096,
            services: {
                use burst_stack::udp::Service;
                let s = &c.services;
                [
                    (s.echo, Service::Echo),
                    (s.discard, Service::Discard),
                    (s.daytime, Service::Daytime),
                    (s.qotd, Service::Qotd),
                    (s.chargen, Service::Chargen),
                ]
                .into_iter()
                .filter(|(on, _)| *on)
                .map(|(_, svc)| svc)
                .collect()
            },
            qotd: c.services.qotd_text.clone(),
            filtering: burst_stack::udp::Filtering {
                tcp_ports: c.filtering.tcp_ports.clone(),
                udp_ports: c.filtering.udp_ports.clone(),
                protocols: c.filtering.protocols.clone(),
            },
            send_redirects: c.icmp.send_redirects,
            tcp: crate::config::node_tcp(c),
            app: AppConfig {
                max_timers: c.app.max_timers as usize,
                handoff_queue: c.app.handoff_queue as usize,
                backlog: c.tcp.backlog as usize,
                ephemeral: c.tcp.ephemeral_ports,
            },
            buffers: Some(Buffers {
                count: c.eal.mbufs as usize,
                size: usize::from(c.eal.mbuf_data_room) + 128,
            }),
            redirects: burst_stack::redirect::RedirectConfig {
                // RFC 1812 §5.2.7.2: a router does not learn routes from redirects unless told
                // to; a host does (the seeds).
                enabled: c.icmp.accept_redirects.unwrap_or(!c.ipv4.forwarding),
                lifetime: c.icmp.redirect_lifetime,
                ..Default::default()
            },
            rdisc: crate::control::RdiscSetup {
                host: c.router_discovery.host(),
                advertise: c.router_discovery.advertise(),
                ports: c
                    .ports
                    .iter()
                    .filter(|p| p.router_advertisements)
                    .map(|p| (p.id, p.router_preference))
                    .collect(),
            },
            firewall: crate::config::node_firewall(c),
            ipsec: c.ipsec.clone(),
            filters: c
                .filters
                .iter()
                .map(|f| {
                    (
                        c.ports[usize::from(f.port.0)].name.clone(),
                        f.direction,
                        f.rule,
                    )
                })
                .collect(),
        }
    }
}
