//! The configuration file's raw form, as serde reads it, before validation.

use core::net::Ipv4Addr;

use burst_port::Nanos;
use burst_runtime::config::shared::{duration, range, RawEal, RawPort, Text};
use burst_runtime::config::Backend;
use burst_wire::ethernet::MacAddr;
use serde::{Deserialize, Deserializer};

use super::*;
use crate::stateful::config::{RawClient, RawServer, RawTcp};

// ---- Raw form ------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawGen {
    #[serde(default)]
    pub(super) eal: RawEal,
    #[serde(default)]
    pub(super) port: Vec<RawPort>,
    #[serde(default)]
    pub(super) stream: Vec<RawStream>,
    #[serde(default)]
    pub(super) client: Vec<RawClient>,
    #[serde(default)]
    pub(super) server: Vec<RawServer>,
    #[serde(default)]
    pub(super) tcp: RawTcp,
    #[serde(default)]
    pub(super) test: RawTest,
    #[serde(default)]
    pub(super) backend: RawBackend,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawBackend {
    #[serde(default)]
    pub(super) kind: Backend,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub(super) struct RawTest {
    #[serde(deserialize_with = "duration")]
    pub(super) duration: Nanos,
    #[serde(deserialize_with = "duration")]
    pub(super) drain: Nanos,
    #[serde(deserialize_with = "duration")]
    pub(super) latency_bias: Nanos,
    pub(super) co_correction: bool,
    #[serde(deserialize_with = "duration")]
    pub(super) catch_up: Nanos,
    #[serde(deserialize_with = "range::<_, _, 64, 1048576>")]
    pub(super) reorder_window: u32,
    #[serde(deserialize_with = "duration")]
    pub(super) arp_timeout: Nanos,
    pub(super) seed: u64,
    pub(super) rx_ports: Option<Vec<String>>,
    pub(super) rfc2544: RawRfc2544,
}

impl Default for RawTest {
    fn default() -> Self {
        let t = TestConfig::default();
        RawTest {
            duration: t.duration,
            drain: t.drain,
            latency_bias: t.latency_bias,
            co_correction: t.co_correction,
            catch_up: t.catch_up,
            reorder_window: t.reorder_window,
            arp_timeout: t.arp_timeout,
            seed: t.seed,
            rx_ports: None,
            rfc2544: RawRfc2544::default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub(super) struct RawRfc2544 {
    pub(super) sizes: Vec<u16>,
    #[serde(deserialize_with = "duration")]
    pub(super) trial: Nanos,
    #[serde(deserialize_with = "duration")]
    pub(super) warmup: Nanos,
    pub(super) loss_tolerance: f64,
    pub(super) resolution: f64,
    #[serde(deserialize_with = "range::<_, _, 1, 64>")]
    pub(super) max_trials: u32,
    #[serde(deserialize_with = "range::<_, _, 0, 10>")]
    pub(super) retries: u32,
    #[serde(deserialize_with = "range::<_, _, 0, 100>")]
    pub(super) loss_steps: u32,
    #[serde(deserialize_with = "range::<_, _, 0, 100>")]
    pub(super) back_to_back: u32,
    pub(super) back_to_back_max: u64,
    #[serde(deserialize_with = "duration")]
    pub(super) settle: Nanos,
}

impl Default for RawRfc2544 {
    fn default() -> Self {
        let r = Rfc2544Config::default();
        RawRfc2544 {
            sizes: r.sizes,
            trial: r.trial,
            warmup: r.warmup,
            loss_tolerance: r.loss_tolerance,
            resolution: r.resolution,
            max_trials: r.max_trials,
            retries: r.retries,
            loss_steps: r.loss_steps,
            back_to_back: r.back_to_back,
            back_to_back_max: r.back_to_back_max,
            settle: r.settle,
        }
    }
}

/// A `size` value: a number, a list, `"MIN-MAX"` or an IMIX preset name.
#[derive(Debug)]
pub(super) enum RawSize {
    One(u16),
    List(Vec<u16>),
    Text(String),
}

impl<'de> Deserialize<'de> for RawSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(
            untagged,
            expecting = "a frame size (64), a list ([64, 1518]), a range \
                                       (\"64-1518\") or an IMIX preset (\"imix\", \
                                       \"imix-ietf\", \"imix-agilent\")"
        )]
        enum U {
            One(u16),
            List(Vec<u16>),
            Text(String),
        }
        Ok(match U::deserialize(d)? {
            U::One(n) => RawSize::One(n),
            U::List(v) => RawSize::List(v),
            U::Text(s) => RawSize::Text(s),
        })
    }
}

/// An integer or a string (rates, counts written with units).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum NumOrText {
    Num(u64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawVary {
    pub(super) field: String,
    #[serde(default)]
    pub(super) op: Option<String>,
    #[serde(default)]
    pub(super) min: Option<NumOrText>,
    #[serde(default)]
    pub(super) max: Option<NumOrText>,
    #[serde(default)]
    pub(super) count: Option<u32>,
    #[serde(default)]
    pub(super) step: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub(super) struct RawStream {
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) port: Option<String>,
    #[serde(default)]
    pub(super) protocol: Option<String>,
    #[serde(default)]
    pub(super) src: Option<Text<Ipv4Addr>>,
    #[serde(default)]
    pub(super) dst: Option<Text<Ipv4Addr>>,
    #[serde(default)]
    pub(super) src_mac: Option<Text<MacAddr>>,
    #[serde(default)]
    pub(super) dst_mac: Option<Text<MacAddr>>,
    #[serde(default)]
    pub(super) gateway: Option<Text<Ipv4Addr>>,
    #[serde(default, deserialize_with = "opt_range::<_, 0, 4095>")]
    pub(super) vlan: Option<u16>,
    #[serde(default, deserialize_with = "opt_range::<_, 0, 7>")]
    pub(super) vlan_pcp: Option<u16>,
    #[serde(default, deserialize_with = "opt_range::<_, 0, 65535>")]
    pub(super) src_port: Option<u16>,
    #[serde(default, deserialize_with = "opt_range::<_, 0, 65535>")]
    pub(super) dst_port: Option<u16>,
    #[serde(default, deserialize_with = "opt_range::<_, 0, 255>")]
    pub(super) tos: Option<u16>,
    #[serde(default, deserialize_with = "opt_range::<_, 1, 255>")]
    pub(super) ttl: Option<u16>,
    #[serde(default, deserialize_with = "opt_range::<_, 0, 65535>")]
    pub(super) ip_id: Option<u16>,
    #[serde(default)]
    pub(super) df: Option<bool>,
    #[serde(default)]
    pub(super) tcp_flags: Option<String>,
    #[serde(default)]
    pub(super) payload: Option<String>,
    #[serde(default)]
    pub(super) pcap: Option<String>,
    #[serde(default)]
    pub(super) size: Option<RawSize>,
    #[serde(default)]
    pub(super) vary: Vec<RawVary>,
    #[serde(default)]
    pub(super) rate: Option<NumOrText>,
    #[serde(default)]
    pub(super) rate_layer: Option<String>,
    #[serde(default)]
    pub(super) line_rate: Option<String>,
    #[serde(default)]
    pub(super) pattern: Option<String>,
    #[serde(default)]
    pub(super) count: Option<u64>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub(super) duration: Option<Nanos>,
    #[serde(default)]
    pub(super) burst: Option<u64>,
    #[serde(default)]
    pub(super) bursts: Option<u64>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub(super) gap: Option<Nanos>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub(super) start_delay: Option<Nanos>,
    #[serde(default)]
    pub(super) signature: Option<bool>,
    #[serde(default)]
    pub(super) cores: Option<Vec<u16>>,
}

pub(super) fn opt_range<'de, D: Deserializer<'de>, const LO: i64, const HI: i64>(
    d: D,
) -> Result<Option<u16>, D::Error> {
    range::<D, u16, LO, HI>(d).map(Some)
}

pub(super) fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Nanos>, D::Error> {
    duration(d).map(Some)
}
