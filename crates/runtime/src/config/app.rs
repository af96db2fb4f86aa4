//! `[app]`: limits of the applications running on the workers (`burst_runtime::app`): timers
//! per worker and the queue through which workers hand each other the flows they own.

use serde::Deserialize;

use super::de::range;

/// `[app]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct AppTunables {
    /// Timers an application may have pending per worker (`Cx::set_timer`; more fail with a
    /// "timer table full" error). No seed value; 4096.
    #[serde(deserialize_with = "range::<_, _, 1, 1048576>")]
    pub max_timers: u32,
    /// Datagrams each worker's steering queue holds: replies for connections and sockets
    /// another worker owns, when the ports' receive hash cannot be computed (af_packet,
    /// af_xdp, tap). Beyond it they are dropped and counted (`ipv4.drop_handoff_full`). No
    /// seed value; 1024.
    #[serde(deserialize_with = "range::<_, _, 1, 1048576>")]
    pub handoff_queue: u32,
}

impl Default for AppTunables {
    fn default() -> Self {
        AppTunables {
            max_timers: 4096,
            handoff_queue: 1024,
        }
    }
}
