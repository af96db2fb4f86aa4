//! Every `[section] key` that docs/configuration.md documents has a reader, and a test proves
//! it: [`BEHAVIOUR`] names, for each documented key, a test that changes the key and observes
//! what the node (or the part that reads the key) does differently. A key that is parsed but
//! never used, or a setting whose documentation outlives its code, fails here instead of in
//! production.
//!
//! Checked, in both directions:
//! - every documented key has a row, and every row is a documented key;
//! - each named test exists in the named file as a `#[test]` function that is not ignored;
//! - every key the configuration parser accepts is documented (read off the parser's own
//!   "unknown key (expected one of ...)" error for a bogus key in each section).
//!
//! A key may have several rows: where the behaviour test drives the part that reads the key
//! directly (a `NodeConfig`, a `TcpConfig`), a second row names the test that shows the key
//! reaching that field from the file, so a key cannot be parsed and then dropped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// (section as the heading writes it, key, test file relative to the repository root, test
/// function): a test that changes the key and observes the behaviour change.
#[rustfmt::skip]
const BEHAVIOUR: &[(&str, &str, &str, &str)] = &[
    // [backend]
    ("[backend]", "kind", "crates/burst/src/main.rs", "backend_kind_picks_the_port_layer"),
    // [eal]
    ("[eal]", "args", "crates/runtime/src/devices.rs", "af_packet_rings_are_sized_for_64k_frames_unless_told_otherwise"),
    ("[eal]", "args", "crates/runtime/src/devices.rs", "port_keys_shape_how_the_port_is_opened"),
    ("[eal]", "cores", "crates/runtime/tests/node_mem/arp.rs", "an_arp_answer_on_one_worker_releases_packets_another_queued"),
    ("[eal]", "cores", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[eal]", "cores", "crates/runtime/src/devices.rs", "port_keys_shape_how_the_port_is_opened"),
    ("[eal]", "mbuf_data_room", "crates/runtime/src/devices.rs", "port_keys_shape_how_the_port_is_opened"),
    ("[eal]", "mbuf_data_room", "crates/runtime/src/config/port.rs", "kernel_peer_port_keys_and_worker_cpus"),
    ("[eal]", "mbuf_data_room", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[eal]", "mbufs", "crates/runtime/tests/node_mem/ip.rs", "mbufs_bound_what_unread_sockets_hold"),
    ("[eal]", "cpus", "crates/runtime/src/cpu.rs", "configured_placement_and_its_errors"),
    ("[eal]", "cpus", "crates/runtime/src/config/port.rs", "kernel_peer_port_keys_and_worker_cpus"),
    ("[eal]", "control_cpus", "crates/runtime/src/cpu.rs", "control_cpus_move_the_other_threads"),
    ("[eal]", "idle_sleep", "crates/runtime/src/node/tests.rs", "idle_sleep_makes_an_idle_worker_sleep"),
    ("[eal]", "idle_sleep", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[eal]", "idle_sleep", "crates/runtime/src/config/eal.rs", "idle_sleep_is_bounded"),
    // [[port]]
    ("[[port]]", "name", "crates/runtime/tests/router_mem.rs", "configured_routes_neighbours_and_addresses_decide_the_next_hop"),
    ("[[port]]", "device", "crates/runtime/src/devices.rs", "port_keys_shape_how_the_port_is_opened"),
    ("[[port]]", "device", "crates/runtime/src/devices.rs", "af_packet_rings_are_sized_for_64k_frames_unless_told_otherwise"),
    ("[[port]]", "addresses", "crates/runtime/tests/router_mem.rs", "configured_routes_neighbours_and_addresses_decide_the_next_hop"),
    ("[[port]]", "addresses", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[[port]]", "mtu", "crates/runtime/src/devices.rs", "port_keys_shape_how_the_port_is_opened"),
    ("[[port]]", "mtu", "crates/port/tests/dpdk_null.rs", "mtu_and_mac_are_applied_or_refused"),
    ("[[port]]", "mac", "crates/runtime/src/devices.rs", "port_keys_shape_how_the_port_is_opened"),
    ("[[port]]", "mac", "crates/port/tests/dpdk_null.rs", "mtu_and_mac_are_applied_or_refused"),
    ("[[port]]", "offloads", "crates/runtime/src/devices.rs", "port_keys_shape_how_the_port_is_opened"),
    ("[[port]]", "offloads", "crates/port/tests/dpdk_null.rs", "offloads_negotiated_or_forced_off"),
    ("[[port]]", "queues", "crates/runtime/src/devices.rs", "port_keys_shape_how_the_port_is_opened"),
    ("[[port]]", "groups", "crates/runtime/tests/node_mem/ip.rs", "igmp_join_report_multicast_delivery_and_query_answer"),
    ("[[port]]", "groups", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[[port]]", "partial_checksums", "crates/runtime/tests/kernel_peer_mem.rs", "partial_checksums_are_completed_on_forwarding_and_accepted_locally"),
    ("[[port]]", "partial_checksums", "crates/runtime/tests/kernel_peer_mem.rs", "with_partial_checksums_off_they_are_bad_locally_and_untouched_in_transit"),
    ("[[port]]", "partial_checksums", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[[port]]", "max_frame", "crates/runtime/src/devices.rs", "af_packet_rings_are_sized_for_64k_frames_unless_told_otherwise"),
    ("[[port]]", "router_advertisements", "crates/runtime/tests/rdisc_mem.rs", "a_router_advertises_on_the_ports_that_enable_it"),
    ("[[port]]", "router_advertisements", "crates/runtime/tests/rdisc_mem.rs", "the_configuration_reaches_router_discovery"),
    ("[[port]]", "router_preference", "crates/runtime/tests/rdisc_mem.rs", "a_router_advertises_on_the_ports_that_enable_it"),
    ("[[port]]", "router_preference", "crates/runtime/tests/rdisc_mem.rs", "the_configuration_reaches_router_discovery"),
    // [[route]]
    ("[[route]]", "prefix", "crates/runtime/tests/router_mem.rs", "configured_routes_neighbours_and_addresses_decide_the_next_hop"),
    ("[[route]]", "prefix", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[[route]]", "via", "crates/runtime/tests/router_mem.rs", "configured_routes_neighbours_and_addresses_decide_the_next_hop"),
    ("[[route]]", "via", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[[route]]", "port", "crates/runtime/tests/router_mem.rs", "configured_routes_neighbours_and_addresses_decide_the_next_hop"),
    ("[[route]]", "port", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[[route]]", "metric", "crates/runtime/tests/router_mem.rs", "configured_routes_neighbours_and_addresses_decide_the_next_hop"),
    ("[[route]]", "metric", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    // [[arp]]
    ("[[arp]]", "ip", "crates/runtime/tests/router_mem.rs", "configured_routes_neighbours_and_addresses_decide_the_next_hop"),
    ("[[arp]]", "ip", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[[arp]]", "mac", "crates/runtime/tests/router_mem.rs", "configured_routes_neighbours_and_addresses_decide_the_next_hop"),
    ("[[arp]]", "mac", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[[arp]]", "port", "crates/runtime/tests/router_mem.rs", "configured_routes_neighbours_and_addresses_decide_the_next_hop"),
    ("[[arp]]", "port", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    // [control]
    ("[control]", "socket", "crates/runtime/src/server.rs", "the_socket_is_served_at_the_configured_path"),
    // [arp_tunables]
    ("[arp_tunables]", "cache_life_unused", "crates/runtime/tests/node_mem/arp.rs", "cache_life_unused_and_cache_life_max_age_the_neighbours"),
    ("[arp_tunables]", "cache_life_max", "crates/runtime/tests/node_mem/arp.rs", "cache_life_unused_and_cache_life_max_age_the_neighbours"),
    ("[arp_tunables]", "retry_count", "crates/runtime/tests/node_mem/arp.rs", "retry_count_and_retry_interval_pace_the_resolution"),
    ("[arp_tunables]", "retry_interval", "crates/runtime/tests/node_mem/arp.rs", "retry_count_and_retry_interval_pace_the_resolution"),
    ("[arp_tunables]", "pending_per_neighbor", "crates/runtime/tests/node_mem/arp.rs", "pending_per_neighbor_bounds_what_waits_for_resolution"),
    ("[arp_tunables]", "max_entries", "crates/runtime/tests/node_mem/arp.rs", "max_entries_bounds_the_neighbour_table"),
    ("[arp_tunables]", "duplicate_detection", "crates/runtime/tests/node_mem/arp.rs", "duplicate_detection_off_uses_the_address_without_probing"),
    // [ipv4]
    ("[ipv4]", "default_ttl", "crates/runtime/tests/ipv4_settings_mem.rs", "default_ttl_is_the_ttl_of_what_we_originate"),
    ("[ipv4]", "multicast_ttl", "crates/runtime/tests/ipv4_settings_mem.rs", "multicast_ttl_sets_the_ttl_of_multicast_datagrams_we_send"),
    ("[ipv4]", "multicast_ttl", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[ipv4]", "accept_source_route", "crates/stack/src/ipv4.rs", "refusals_name_the_reason"),
    ("[ipv4]", "accept_source_route", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[ipv4]", "forwarding", "crates/runtime/tests/ipv4_settings_mem.rs", "forwarding_decides_whether_transit_datagrams_are_forwarded"),
    // [icmp]
    ("[icmp]", "echo_rate_limit", "crates/runtime/tests/ipv4_settings_mem.rs", "echo_rate_limit_caps_the_replies"),
    ("[icmp]", "error_rate_limit", "crates/runtime/tests/ipv4_settings_mem.rs", "error_rate_limit_and_error_burst_cap_icmp_errors"),
    ("[icmp]", "error_burst", "crates/runtime/tests/ipv4_settings_mem.rs", "error_rate_limit_and_error_burst_cap_icmp_errors"),
    ("[icmp]", "accept_redirects", "crates/runtime/tests/ipv4_settings_mem.rs", "accept_redirects_and_redirect_lifetime_change_what_a_redirect_does"),
    ("[icmp]", "redirect_lifetime", "crates/runtime/tests/ipv4_settings_mem.rs", "accept_redirects_and_redirect_lifetime_change_what_a_redirect_does"),
    ("[icmp]", "redirect_lifetime", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[icmp]", "send_redirects", "crates/runtime/tests/router_mem.rs", "same_link_next_hop_gets_a_redirect_and_is_still_forwarded"),
    ("[icmp]", "send_redirects", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    // [app]
    ("[app]", "max_timers", "crates/apps/tests/apps_mem.rs", "bad_calls_are_typed_errors"),
    ("[app]", "max_timers", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[app]", "handoff_queue", "crates/apps/tests/apps_mem.rs", "udp_responder_answers_clients_on_both_workers_and_full_steering_queues_are_counted"),
    ("[app]", "handoff_queue", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    // [metrics]
    ("[metrics]", "listen", "crates/runtime/tests/metrics_mem.rs", "metrics_listen_serves_the_endpoint_only_when_set"),
    // [router_discovery]
    ("[router_discovery]", "enabled", "crates/runtime/tests/rdisc_mem.rs", "a_host_solicits_at_start_three_times_600ms_apart_to_all_routers"),
    ("[router_discovery]", "enabled", "crates/runtime/tests/rdisc_mem.rs", "advertisements_are_ignored_when_router_discovery_is_off"),
    ("[router_discovery]", "enabled", "crates/runtime/tests/rdisc_mem.rs", "the_configuration_reaches_router_discovery"),
    ("[router_discovery]", "solicitations", "crates/runtime/tests/rdisc_mem.rs", "a_host_solicits_at_start_three_times_600ms_apart_to_all_routers"),
    ("[router_discovery]", "solicitations", "crates/runtime/tests/rdisc_mem.rs", "the_configuration_reaches_router_discovery"),
    ("[router_discovery]", "solicitation_broadcast", "crates/runtime/tests/rdisc_mem.rs", "a_host_solicits_at_start_three_times_600ms_apart_to_all_routers"),
    ("[router_discovery]", "solicitation_broadcast", "crates/runtime/tests/rdisc_mem.rs", "the_configuration_reaches_router_discovery"),
    ("[router_discovery]", "solicitation_interval", "crates/runtime/tests/rdisc_mem.rs", "solicitation_interval_spaces_the_solicitations"),
    ("[router_discovery]", "solicitation_interval", "crates/runtime/tests/rdisc_mem.rs", "the_configuration_reaches_router_discovery"),
    ("[router_discovery]", "max_routers", "crates/runtime/tests/rdisc_mem.rs", "max_routers_caps_the_routers_learned"),
    ("[router_discovery]", "max_routers", "crates/runtime/tests/rdisc_mem.rs", "the_configuration_reaches_router_discovery"),
    ("[router_discovery]", "advertise_interval", "crates/runtime/tests/rdisc_mem.rs", "a_router_advertises_on_the_ports_that_enable_it"),
    ("[router_discovery]", "advertise_interval", "crates/runtime/tests/rdisc_mem.rs", "min_advertise_interval_is_the_shortest_gap"),
    ("[router_discovery]", "advertise_interval", "crates/runtime/tests/rdisc_mem.rs", "the_configuration_reaches_router_discovery"),
    ("[router_discovery]", "min_advertise_interval", "crates/runtime/tests/rdisc_mem.rs", "min_advertise_interval_is_the_shortest_gap"),
    ("[router_discovery]", "min_advertise_interval", "crates/runtime/tests/rdisc_mem.rs", "the_configuration_reaches_router_discovery"),
    ("[router_discovery]", "advertise_lifetime", "crates/runtime/tests/rdisc_mem.rs", "a_router_advertises_on_the_ports_that_enable_it"),
    ("[router_discovery]", "advertise_lifetime", "crates/runtime/tests/rdisc_mem.rs", "the_configuration_reaches_router_discovery"),
    ("[router_discovery]", "advertise_broadcast", "crates/runtime/tests/rdisc_mem.rs", "advertisements_can_be_broadcast"),
    ("[router_discovery]", "advertise_broadcast", "crates/runtime/tests/rdisc_mem.rs", "the_configuration_reaches_router_discovery"),
    // [tcp]
    ("[tcp]", "mss", "crates/tcp/tests/settings.rs", "mss_is_the_segment_size_we_advertise"),
    ("[tcp]", "mss", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "window_scaling", "crates/tcp/tests/settings.rs", "window_scaling_off_answer_offer"),
    ("[tcp]", "window_scaling", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "timestamps", "crates/tcp/tests/settings.rs", "timestamps_off_answer_offer"),
    ("[tcp]", "timestamps", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "sack", "crates/tcp/tests/settings.rs", "sack_off_neither_offers_nor_answers_it"),
    ("[tcp]", "sack", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "recv_buffer", "crates/tcp/tests/settings.rs", "recv_buffer_is_the_window_we_advertise"),
    ("[tcp]", "recv_buffer", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "recv_autotune", "crates/tcp/tests/autotune.rs", "with_autotune_off_the_window_is_fixed"),
    ("[tcp]", "recv_autotune", "crates/tcp/tests/autotune.rs", "the_window_grows_with_a_fast_reader_up_to_the_ceiling"),
    ("[tcp]", "recv_autotune", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "recv_buffer_max", "crates/tcp/tests/autotune.rs", "the_window_grows_with_a_fast_reader_up_to_the_ceiling"),
    ("[tcp]", "recv_buffer_max", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "send_buffer", "crates/tcp/tests/settings.rs", "send_buffer_bounds_what_send_accepts"),
    ("[tcp]", "send_buffer", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "delayed_ack", "crates/tcp/tests/settings.rs", "delayed_ack_sets_when_a_lone_segment_is_acknowledged"),
    ("[tcp]", "delayed_ack", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "ack_every", "crates/tcp/tests/settings.rs", "ack_every_counts_the_segments_before_an_immediate_ack"),
    ("[tcp]", "ack_every", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "nagle", "crates/tcp/tests/settings.rs", "nagle_off_sends_small_writes_at_once"),
    ("[tcp]", "nagle", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "initial_rto", "crates/tcp/tests/settings.rs", "initial_rto_times_the_first_syn_retransmission"),
    ("[tcp]", "initial_rto", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "min_rto", "crates/tcp/tests/settings.rs", "min_rto_floors_the_retransmission_timer"),
    ("[tcp]", "min_rto", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "max_rto", "crates/tcp/tests/settings.rs", "max_rto_caps_the_backoff"),
    ("[tcp]", "max_rto", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "syn_retries", "crates/tcp/tests/settings.rs", "syn_retries_counts_the_syns_before_connect_fails"),
    ("[tcp]", "syn_retries", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "data_retries", "crates/tcp/tests/settings.rs", "data_retries_counts_the_retransmissions_before_the_abort"),
    ("[tcp]", "data_retries", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "dup_acks", "crates/tcp/tests/settings.rs", "dup_acks_is_the_fast_retransmit_threshold"),
    ("[tcp]", "dup_acks", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "loss_detection", "crates/tcp/tests/recovery.rs", "with_duplicate_ack_detection_a_lost_retransmission_waits_for_the_rto"),
    ("[tcp]", "loss_detection", "crates/tcp/tests/recovery.rs", "with_duplicate_ack_detection_reordering_causes_a_spurious_retransmission"),
    ("[tcp]", "loss_detection", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "tlp", "crates/tcp/tests/recovery.rs", "without_tail_loss_probes_the_tail_waits_for_the_rto"),
    ("[tcp]", "tlp", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "tlp_new_data", "crates/tcp/tests/recovery.rs", "a_probe_resending_the_last_segment_gets_the_lost_ack_back_at_once"),
    ("[tcp]", "tlp_new_data", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "undo", "crates/tcp/tests/recovery.rs", "without_undo_a_spurious_rto_restarts_from_one_segment"),
    ("[tcp]", "undo", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "keepalive", "crates/tcp/tests/settings.rs", "keepalive_time_interval_and_probes"),
    ("[tcp]", "keepalive", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "keepalive_time", "crates/tcp/tests/settings.rs", "keepalive_time_interval_and_probes"),
    ("[tcp]", "keepalive_time", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "keepalive_interval", "crates/tcp/tests/settings.rs", "keepalive_time_interval_and_probes"),
    ("[tcp]", "keepalive_interval", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "keepalive_probes", "crates/tcp/tests/settings.rs", "keepalive_time_interval_and_probes"),
    ("[tcp]", "keepalive_probes", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "time_wait", "crates/tcp/tests/settings.rs", "time_wait_is_how_long_an_active_close_waits"),
    ("[tcp]", "time_wait", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "time_wait_reuse", "crates/tcp/tests/time_wait.rs", "a_new_syn_takes_over_the_servers_time_wait_tuple"),
    ("[tcp]", "time_wait_reuse", "crates/tcp/tests/time_wait.rs", "with_reuse_off_a_new_syn_only_gets_the_time_wait_ack"),
    ("[tcp]", "time_wait_reuse", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "initial_window", "crates/tcp/tests/settings.rs", "initial_window_is_the_first_flight"),
    ("[tcp]", "initial_window", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "congestion", "crates/tcp/tests/settings.rs", "congestion_sets_the_reduction_on_loss"),
    ("[tcp]", "congestion", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "pmtu_discovery", "crates/tcp/tests/settings.rs", "pmtu_discovery_off_uses_536_beyond_the_local_subnets"),
    ("[tcp]", "pmtu_discovery", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "pmtu_blackhole_detection", "crates/tcp/tests/settings.rs", "pmtu_blackhole_detection_falls_back_to_536_after_two_timeouts"),
    ("[tcp]", "pmtu_blackhole_detection", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "syn_cookies", "crates/tcp/tests/stack/conn.rs", "syn_flood_without_cookies_drops_and_counts"),
    ("[tcp]", "syn_cookies", "crates/tcp/tests/stack/conn.rs", "syn_flood_fills_the_syn_queue_then_cookies_let_a_real_client_in"),
    ("[tcp]", "syn_cookies", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "ephemeral_ports", "crates/tcp/tests/stack/conn.rs", "port_exhaustion_and_time_wait_ports_skipped_then_reused"),
    ("[tcp]", "ephemeral_ports", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "max_connections", "crates/tcp/tests/stack/limits.rs", "max_connections_bounds_the_connection_table"),
    ("[tcp]", "max_connections", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "syn_backlog", "crates/tcp/tests/stack/conn.rs", "syn_flood_without_cookies_drops_and_counts"),
    ("[tcp]", "syn_backlog", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "backlog", "crates/tcp/tests/stack/limits.rs", "services_backlog_is_each_listeners_accept_queue"),
    ("[tcp]", "backlog", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    ("[tcp]", "tso", "crates/tcp/tests/tso.rs", "super_segments_equal_one_by_one_clean"),
    ("[tcp]", "tso", "crates/runtime/src/config/tcp.rs", "tcp_section_defaults_and_values"),
    // [services]
    ("[services]", "echo", "crates/runtime/tests/node_mem/ip.rs", "udp_services_follow_the_configuration"),
    ("[services]", "echo", "crates/runtime/tests/tcp_mem/http.rs", "tcp_services_follow_the_configuration"),
    ("[services]", "discard", "crates/runtime/tests/node_mem/ip.rs", "udp_services_follow_the_configuration"),
    ("[services]", "discard", "crates/runtime/tests/tcp_mem/http.rs", "tcp_services_follow_the_configuration"),
    ("[services]", "daytime", "crates/runtime/tests/node_mem/ip.rs", "udp_services_follow_the_configuration"),
    ("[services]", "daytime", "crates/runtime/tests/tcp_mem/http.rs", "tcp_services_follow_the_configuration"),
    ("[services]", "qotd", "crates/runtime/tests/node_mem/ip.rs", "udp_services_follow_the_configuration"),
    ("[services]", "qotd", "crates/runtime/tests/tcp_mem/http.rs", "tcp_services_follow_the_configuration"),
    ("[services]", "chargen", "crates/runtime/tests/node_mem/ip.rs", "udp_services_follow_the_configuration"),
    ("[services]", "chargen", "crates/runtime/tests/tcp_mem/http.rs", "tcp_services_follow_the_configuration"),
    ("[services]", "qotd_text", "crates/runtime/tests/node_mem/ip.rs", "udp_services_follow_the_configuration"),
    ("[services]", "qotd_text", "crates/runtime/tests/tcp_mem/http.rs", "tcp_services_follow_the_configuration"),
    ("[services]", "http", "crates/runtime/tests/tcp_mem/http.rs", "tcp_services_follow_the_configuration"),
    ("[services]", "http_port", "crates/runtime/tests/tcp_mem/http.rs", "tcp_services_follow_the_configuration"),
    ("[services]", "http_body", "crates/runtime/tests/tcp_mem/http.rs", "tcp_services_follow_the_configuration"),
    ("[services]", "http_path", "crates/runtime/tests/tcp_mem/http.rs", "tcp_services_follow_the_configuration"),
    // [conntrack], [nat], [[nat_static]], [[port_forward]], [firewall], [[exception]]
    ("[conntrack]", "max_sessions", "crates/runtime/tests/router_firewall.rs", "a_full_table_refuses_new_flows_and_established_ones_keep_working"),
    ("[conntrack]", "tcp_established", "crates/runtime/tests/router_firewall.rs", "timeouts_age_sessions_by_class"),
    ("[conntrack]", "tcp_transitory", "crates/runtime/tests/router_firewall.rs", "timeouts_age_sessions_by_class"),
    ("[conntrack]", "tcp_closed", "crates/runtime/tests/router_firewall.rs", "timeouts_age_sessions_by_class"),
    ("[conntrack]", "udp", "crates/runtime/tests/router_firewall.rs", "timeouts_age_sessions_by_class"),
    ("[conntrack]", "icmp", "crates/runtime/tests/router_firewall.rs", "timeouts_age_sessions_by_class"),
    ("[conntrack]", "expire_per_poll", "crates/runtime/tests/router_firewall.rs", "timeouts_age_sessions_by_class"),
    ("[nat]", "outside", "crates/runtime/tests/router_nat.rs", "napt_translates_both_ways_keeps_the_mapping_and_preserves_the_port"),
    ("[nat]", "pool", "crates/runtime/tests/router_nat.rs", "a_dedicated_pool_address_drops_what_has_no_mapping"),
    ("[nat]", "ports", "crates/runtime/tests/router_nat.rs", "ports_decide_the_public_port_when_the_inside_one_is_taken_or_outside_the_range"),
    ("[nat]", "filtering", "crates/runtime/tests/router_nat.rs", "filtering_decides_who_reaches_a_mapping"),
    ("[nat]", "hairpinning", "crates/runtime/tests/router_nat.rs", "hairpinning_reaches_an_inside_host_through_its_public_address"),
    ("[nat]", "mss_clamp", "crates/runtime/tests/router_nat.rs", "mss_clamp_lowers_the_mss_of_syns"),
    ("[nat]", "max_mappings", "crates/runtime/tests/router_nat.rs", "max_mappings_bounds_the_mappings"),
    ("[nat]", "held_fragments", "crates/runtime/tests/router_nat.rs", "fragments_are_translated_as_their_first_and_held_until_it_comes"),
    ("[[nat_static]]", "inside", "crates/runtime/tests/router_nat.rs", "port_forwards_and_static_mappings_reach_inside_hosts"),
    ("[[nat_static]]", "outside", "crates/runtime/tests/router_nat.rs", "port_forwards_and_static_mappings_reach_inside_hosts"),
    ("[[port_forward]]", "proto", "crates/runtime/tests/router_nat.rs", "port_forwards_and_static_mappings_reach_inside_hosts"),
    ("[[port_forward]]", "outside", "crates/runtime/tests/router_nat.rs", "port_forwards_and_static_mappings_reach_inside_hosts"),
    ("[[port_forward]]", "inside", "crates/runtime/tests/router_nat.rs", "port_forwards_and_static_mappings_reach_inside_hosts"),
    ("[firewall]", "ports", "crates/runtime/tests/router_firewall.rs", "the_firewall_drops_unsolicited_inbound_and_lets_exceptions_and_replies_in"),
    ("[firewall]", "block_icmp", "crates/runtime/tests/router_firewall.rs", "the_firewall_drops_unsolicited_inbound_and_lets_exceptions_and_replies_in"),
    ("[[exception]]", "port", "crates/runtime/tests/router_firewall.rs", "configured_exceptions_match_on_their_fields"),
    ("[[exception]]", "src", "crates/runtime/tests/router_firewall.rs", "configured_exceptions_match_on_their_fields"),
    ("[[exception]]", "dst", "crates/runtime/tests/router_firewall.rs", "configured_exceptions_match_on_their_fields"),
    ("[[exception]]", "proto", "crates/runtime/tests/router_firewall.rs", "configured_exceptions_match_on_their_fields"),
    ("[[exception]]", "sport", "crates/runtime/tests/router_firewall.rs", "configured_exceptions_match_on_their_fields"),
    ("[[exception]]", "dport", "crates/runtime/tests/router_firewall.rs", "configured_exceptions_match_on_their_fields"),
    ("[conntrack]", "max_sessions", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[nat]", "pool", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[firewall]", "ports", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    // [ipsec], [[ipsec.sa]], [[ipsec.policy]]
    ("[ipsec]", "sa", "crates/runtime/tests/router_ipsec.rs", "transport_mode_ping_and_udp_both_ways"),
    ("[ipsec]", "sa", "crates/runtime/src/config/ipsec.rs", "a_section_is_read_and_its_mistakes_say_what_to_change"),
    ("[ipsec]", "policy", "crates/runtime/tests/router_ipsec.rs", "replayed_forged_unknown_and_plain_packets_are_dropped_and_counted"),
    ("[ipsec]", "policy", "crates/runtime/src/config/ipsec.rs", "a_section_is_read_and_its_mistakes_say_what_to_change"),
    ("[[ipsec.sa]]", "spi", "crates/runtime/tests/router_ipsec.rs", "replayed_forged_unknown_and_plain_packets_are_dropped_and_counted"),
    ("[[ipsec.sa]]", "spi", "crates/runtime/tests/router_ipsec.rs", "esp_is_decrypted_by_the_worker_owning_its_sa"),
    ("[[ipsec.sa]]", "direction", "crates/runtime/tests/router_ipsec.rs", "transport_mode_ping_and_udp_both_ways"),
    ("[[ipsec.sa]]", "protocol", "crates/runtime/tests/router_ipsec_keys.rs", "protocol_ah_authenticates_both_ways_in_transport_and_tunnel_mode"),
    ("[[ipsec.sa]]", "protocol", "crates/runtime/src/config/ipsec.rs", "a_section_is_read_and_its_mistakes_say_what_to_change"),
    ("[[ipsec.sa]]", "mode", "crates/runtime/tests/router_ipsec.rs", "tunnel_mode_between_protected_subnets_both_ways"),
    ("[[ipsec.sa]]", "tunnel_src", "crates/runtime/tests/router_ipsec.rs", "tunnel_mode_between_protected_subnets_both_ways"),
    ("[[ipsec.sa]]", "tunnel_dst", "crates/runtime/tests/router_ipsec.rs", "tunnel_mode_between_protected_subnets_both_ways"),
    ("[[ipsec.sa]]", "ttl", "crates/runtime/tests/router_ipsec_keys.rs", "ttl_df_and_algorithm_shape_the_tunnel_packets"),
    ("[[ipsec.sa]]", "df", "crates/runtime/tests/router_ipsec_keys.rs", "ttl_df_and_algorithm_shape_the_tunnel_packets"),
    ("[[ipsec.sa]]", "algorithm", "crates/runtime/tests/router_ipsec_keys.rs", "ttl_df_and_algorithm_shape_the_tunnel_packets"),
    ("[[ipsec.sa]]", "algorithm", "crates/runtime/tests/router_ipsec_keys.rs", "cbc_with_auth_key_and_esn_both_ways"),
    ("[[ipsec.sa]]", "key", "crates/runtime/tests/router_ipsec.rs", "replayed_forged_unknown_and_plain_packets_are_dropped_and_counted"),
    ("[[ipsec.sa]]", "key", "crates/runtime/tests/router_ipsec_keys.rs", "ttl_df_and_algorithm_shape_the_tunnel_packets"),
    ("[[ipsec.sa]]", "auth_key", "crates/runtime/tests/router_ipsec_keys.rs", "cbc_with_auth_key_and_esn_both_ways"),
    ("[[ipsec.sa]]", "esn", "crates/runtime/tests/router_ipsec_keys.rs", "cbc_with_auth_key_and_esn_both_ways"),
    ("[[ipsec.sa]]", "replay_window", "crates/runtime/tests/router_ipsec_keys.rs", "replay_window_decides_how_late_a_packet_may_come"),
    ("[[ipsec.sa]]", "max_packets", "crates/runtime/tests/router_ipsec_keys.rs", "max_packets_ends_an_outbound_sa"),
    ("[[ipsec.policy]]", "direction", "crates/runtime/tests/router_ipsec.rs", "an_outbound_block_policy_drops_what_it_covers"),
    ("[[ipsec.policy]]", "src", "crates/runtime/tests/router_ipsec.rs", "tunnel_mode_between_protected_subnets_both_ways"),
    ("[[ipsec.policy]]", "dst", "crates/runtime/tests/router_ipsec.rs", "an_outbound_block_policy_drops_what_it_covers"),
    ("[[ipsec.policy]]", "protocol", "crates/runtime/tests/router_ipsec.rs", "an_outbound_block_policy_drops_what_it_covers"),
    ("[[ipsec.policy]]", "protocol", "crates/runtime/tests/router_ipsec_keys.rs", "policy_selectors_pick_the_traffic_to_secure"),
    ("[[ipsec.policy]]", "src_port", "crates/runtime/tests/router_ipsec_keys.rs", "policy_selectors_pick_the_traffic_to_secure"),
    ("[[ipsec.policy]]", "dst_port", "crates/runtime/tests/router_ipsec_keys.rs", "policy_selectors_pick_the_traffic_to_secure"),
    ("[[ipsec.policy]]", "action", "crates/runtime/tests/router_ipsec.rs", "an_outbound_block_policy_drops_what_it_covers"),
    ("[[ipsec.policy]]", "action", "crates/runtime/tests/router_ipsec.rs", "replayed_forged_unknown_and_plain_packets_are_dropped_and_counted"),
    ("[[ipsec.policy]]", "sa", "crates/runtime/tests/router_ipsec_keys.rs", "policy_selectors_pick_the_traffic_to_secure"),
    ("[[ipsec.policy]]", "sa", "crates/runtime/src/config/ipsec.rs", "a_section_is_read_and_its_mistakes_say_what_to_change"),
    // [filtering]
    ("[filtering]", "tcp_ports", "crates/runtime/tests/tcp_mem/conn.rs", "tcp_filtering_drops_silently"),
    ("[filtering]", "tcp_ports", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[filtering]", "udp_ports", "crates/runtime/tests/node_mem/ip.rs", "udp_sockets_services_and_filtering"),
    ("[filtering]", "udp_ports", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    ("[filtering]", "protocols", "crates/runtime/tests/node_mem/ip.rs", "udp_sockets_services_and_filtering"),
    ("[filtering]", "protocols", "crates/runtime/src/node/tests.rs", "every_key_reaches_the_node_config"),
    // [[filter]]
    ("[[filter]]", "port", "crates/runtime/tests/router_mem.rs", "filters_deny_in_and_out_count_hits_and_change_at_run_time"),
    ("[[filter]]", "port", "crates/runtime/tests/node_mem/ctl.rs", "configured_filters_reach_the_node"),
    ("[[filter]]", "port", "crates/runtime/src/config/filter.rs", "filters_parse_in_file_order"),
    ("[[filter]]", "direction", "crates/runtime/tests/router_mem.rs", "filters_deny_in_and_out_count_hits_and_change_at_run_time"),
    ("[[filter]]", "direction", "crates/runtime/tests/node_mem/ctl.rs", "configured_filters_reach_the_node"),
    ("[[filter]]", "direction", "crates/runtime/src/config/filter.rs", "filters_parse_in_file_order"),
    ("[[filter]]", "action", "crates/stack/src/filter/tests.rs", "evaluation_order_count_deny_permit_and_default"),
    ("[[filter]]", "action", "crates/runtime/tests/router_mem.rs", "filters_deny_in_and_out_count_hits_and_change_at_run_time"),
    ("[[filter]]", "action", "crates/runtime/src/config/filter.rs", "filters_parse_in_file_order"),
    ("[[filter]]", "src", "crates/stack/src/filter/tests.rs", "each_field_matches_on_real_packets"),
    ("[[filter]]", "src", "crates/runtime/src/config/filter.rs", "filters_parse_in_file_order"),
    ("[[filter]]", "dst", "crates/stack/src/filter/tests.rs", "each_field_matches_on_real_packets"),
    ("[[filter]]", "dst", "crates/runtime/src/config/filter.rs", "filters_parse_in_file_order"),
    ("[[filter]]", "proto", "crates/stack/src/filter/tests.rs", "each_field_matches_on_real_packets"),
    ("[[filter]]", "proto", "crates/runtime/src/config/filter.rs", "filters_parse_in_file_order"),
    ("[[filter]]", "sport", "crates/stack/src/filter/tests.rs", "each_field_matches_on_real_packets"),
    ("[[filter]]", "sport", "crates/runtime/src/config/filter.rs", "filters_parse_in_file_order"),
    ("[[filter]]", "dport", "crates/stack/src/filter/tests.rs", "each_field_matches_on_real_packets"),
    ("[[filter]]", "dport", "crates/runtime/src/config/filter.rs", "filters_parse_in_file_order"),
    ("[[filter]]", "flags", "crates/stack/src/filter/tests.rs", "syn_means_a_connection_attempt"),
    ("[[filter]]", "flags", "crates/runtime/src/config/filter.rs", "filters_parse_in_file_order"),
];

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One documented key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Documented {
    /// The section as its heading writes it: `[ipv4]`, `[[port]]`.
    section: String,
    /// The key.
    key: String,
    /// 1-based line of its table row in docs/configuration.md.
    line: usize,
}

/// The section a `## ` heading opens, if it is one: "## `[[port]]` (one or more)" → `[[port]]`.
fn section_of(heading: &str) -> Option<String> {
    let rest = heading.strip_prefix("## `")?;
    let name = &rest[..rest.find('`')?];
    let inner = name.strip_prefix('[')?.strip_suffix(']')?;
    let bare = inner.trim_start_matches('[').trim_end_matches(']');
    let valid = !bare.is_empty()
        && bare
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    valid.then(|| name.to_owned())
}

/// Every `| `key` | ...` row under a "## `[section]`" heading of docs/configuration.md.
fn documented() -> Vec<Documented> {
    let path = root().join("docs/configuration.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut section: Option<String> = None;
    let mut out = Vec::new();
    let mut in_code = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if line.starts_with("## ") {
            // Any other level-2 heading ("Conventions", "Example") ends the section.
            section = section_of(line);
            continue;
        }
        let (Some(s), Some(rest)) = (&section, line.strip_prefix("| `")) else {
            continue;
        };
        let Some(end) = rest.find('`') else { continue };
        out.push(Documented {
            section: s.clone(),
            key: rest[..end].to_owned(),
            line: i + 1,
        });
    }
    out
}

/// The bare name of a section heading: `[[port]]` → `port`.
fn bare(section: &str) -> &str {
    section.trim_start_matches('[').trim_end_matches(']')
}

/// A valid configuration on the in-memory backend with `bogus` placed in section `section`
/// (a heading such as `[ipv4]`, or `` for the top level).
fn with_bogus_key(section: &str) -> String {
    let backend = "[backend]\nkind = \"mem\"\n";
    let port = "[[port]]\nname = \"p0\"\naddresses = [\"198.18.0.2/24\"]\n";
    let bogus = "zz_bogus = 1\n";
    match section {
        "" => format!("{bogus}{backend}{port}"),
        "[backend]" => format!("{backend}{bogus}{port}"),
        "[[port]]" => format!("{backend}{port}{bogus}"),
        s => format!("{backend}{port}{s}\n{bogus}"),
    }
}

/// The keys the parser accepts where `text` put its bogus key, from its "unknown key
/// (expected one of `a`, `b`, ...)" error (serde's wording: "expected `a`", "expected `a` or
/// `b`", "there are no fields").
fn accepted_keys(text: &str) -> Vec<String> {
    let e = burst_runtime::config::Config::parse(text, "t.toml")
        .expect_err("a bogus key is an error")
        .to_string();
    let at = e
        .find("unknown key (")
        .unwrap_or_else(|| panic!("not an unknown-key error: {e}\nfor:\n{text}"));
    let list = &e[at..];
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Where `name` is defined in `file` as a test: the line of `fn name(` if an attribute block
/// right above it holds `#[test]` and no `#[ignore]`, or why not.
fn find_test(file: &str, name: &str) -> Result<usize, String> {
    let path = root().join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!("cannot read {file} ({e}): fix the path (relative to the repository root)")
    })?;
    let lines: Vec<&str> = text.lines().collect();
    let wanted = format!("fn {name}(");
    let at = lines
        .iter()
        .position(|l| {
            let t = l.trim_start();
            t.starts_with(&wanted) || t.starts_with(&format!("pub {wanted}"))
        })
        .ok_or_else(|| format!("{file} has no `{wanted}`: fix the name or the file"))?;
    let mut is_test = false;
    let mut ignored = false;
    for l in lines[..at].iter().rev() {
        let t = l.trim();
        if t.starts_with("#[") {
            is_test |= t == "#[test]";
            ignored |= t.starts_with("#[ignore");
        } else if !(t.starts_with("///") || t.starts_with("//") || t.is_empty()) {
            break;
        }
    }
    if !is_test {
        return Err(format!(
            "{file}:{}: `{name}` is not a #[test] function: name the test itself, not a helper",
            at + 1
        ));
    }
    if ignored {
        return Err(format!(
            "{file}:{}: `{name}` is #[ignore]d: name a test that runs",
            at + 1
        ));
    }
    Ok(at + 1)
}

#[test]
fn the_parser_finds_the_documented_sections() {
    let docs = documented();
    let sections: BTreeSet<&str> = docs.iter().map(|d| d.section.as_str()).collect();
    // A guard on the parser itself: if the headings change shape, it must not silently find
    // nothing.
    for s in ["[backend]", "[eal]", "[[port]]", "[ipv4]", "[tcp]"] {
        assert!(
            sections.contains(s),
            "docs/configuration.md: no \"## `{s}`\" section with `| `key` |` rows found; the \
             heading or table format changed: update documented() in this file"
        );
    }
    let mut seen = BTreeSet::new();
    for d in &docs {
        assert!(
            seen.insert((&d.section, &d.key)),
            "docs/configuration.md:{}: {} {} is documented twice: keep one row",
            d.line,
            d.section,
            d.key
        );
    }
}

#[test]
fn every_documented_key_has_a_behaviour_test() {
    let docs = documented();
    let mut problems = Vec::new();
    for d in &docs {
        if !BEHAVIOUR
            .iter()
            .any(|(s, k, _, _)| *s == d.section && *k == d.key)
        {
            problems.push(format!(
                "docs/configuration.md:{} documents {} {} but BEHAVIOUR in {} names no test for \
                 it: add a test that sets {} to two different values and observes what changes \
                 (packets sent, routes, timers, counters; not only that it parses), then a row \
                 (\"{}\", \"{}\", \"<test file>\", \"<test fn>\")",
                d.line,
                d.section,
                d.key,
                file!(),
                d.key,
                d.section,
                d.key
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn every_behaviour_row_is_a_documented_key() {
    let docs = documented();
    let mut problems = Vec::new();
    for (s, k, file, test) in BEHAVIOUR {
        if !docs.iter().any(|d| d.section == *s && d.key == *k) {
            problems.push(format!(
                "BEHAVIOUR row ({s:?}, {k:?}, {file:?}, {test:?}) names a key docs/configuration.md \
                 does not document under \"## `{s}`\": remove the row if the key is gone, or \
                 document the key"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn every_named_test_exists_and_is_a_test() {
    let mut problems = Vec::new();
    for (s, k, file, test) in BEHAVIOUR {
        if let Err(e) = find_test(file, test) {
            problems.push(format!("BEHAVIOUR row for {s} {k}: {e}"));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn every_key_the_parser_accepts_is_documented() {
    let docs = documented();
    let sections: BTreeSet<&str> = docs.iter().map(|d| d.section.as_str()).collect();
    let mut problems = Vec::new();
    // The top level: every section the parser accepts has a documented heading.
    for name in accepted_keys(&with_bogus_key("")) {
        if !sections.iter().any(|s| bare(s) == name) {
            problems.push(format!(
                "the parser accepts a section `{name}` that docs/configuration.md does not \
                 document: add a \"## `[{name}]`\" (or `[[{name}]]`) section with a row per key"
            ));
        }
    }
    for section in &sections {
        for key in accepted_keys(&with_bogus_key(section)) {
            if !docs.iter().any(|d| d.section == *section && d.key == key) {
                problems.push(format!(
                    "the parser accepts {section} {key} but docs/configuration.md does not \
                     document it: add a row \"| `{key}` | type | default | meaning |\" under \
                     \"## `{section}`\" (then a BEHAVIOUR row in {})",
                    file!()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}
