//! `[services]` and `[filtering]`: the simple TCP/IP services (seed 004) and the TCP/IP filtering
//! of traffic to this host (seed 000). Both are read as written; `[services]`' HTTP keys are
//! checked with `[tcp]` (`tcp.rs`).

use serde::Deserialize;

use super::de::range;

/// `[services]`: the simple TCP/IP services (echo 7, discard 9, daytime 13, quote of the day 17,
/// character generator 19), each over both UDP and TCP, and a minimal HTTP/1.1 server. Seed
/// 004: installed only on request; all off.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct ServicesConfig {
    /// Echo (port 7, RFC 862).
    pub echo: bool,
    /// Discard (port 9, RFC 863).
    pub discard: bool,
    /// Daytime (port 13, RFC 867).
    pub daytime: bool,
    /// Quote of the day (port 17, RFC 865).
    pub qotd: bool,
    /// Character generator (port 19, RFC 864).
    pub chargen: bool,
    /// The quote the qotd service sends (at most 512 bytes, RFC 865).
    pub qotd_text: String,
    /// HTTP/1.1 server (TCP only): `GET`/`HEAD` of `http_path` answer `http_body`.
    pub http: bool,
    /// Its port.
    #[serde(deserialize_with = "range::<_, _, 1, 65535>")]
    pub http_port: u16,
    /// The body served.
    pub http_body: String,
    /// The path served (others get 404); absent: every path gets the body.
    pub http_path: Option<String>,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            echo: false,
            discard: false,
            daytime: false,
            qotd: false,
            chargen: false,
            qotd_text: "Packets are never lost; they are only counted.\r\n".into(),
            http: false,
            http_port: 80,
            http_body: "<html><body>burst</body></html>\n".into(),
            http_path: Some("/".into()),
        }
    }
}

/// `[filtering]`: TCP/IP filtering (seed 000) of traffic to this host. A missing list permits
/// everything; a list permits only what it names; the rest is dropped silently and counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct FilteringConfig {
    /// Permitted TCP destination ports.
    pub tcp_ports: Option<Vec<u16>>,
    /// Permitted UDP destination ports.
    pub udp_ports: Option<Vec<u16>>,
    /// Permitted IP protocol numbers.
    pub protocols: Option<Vec<u8>>,
}
