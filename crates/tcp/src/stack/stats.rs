//! The stack's counters for `netstat -s`.

/// Counters of a stack for `netstat -s` (RFC 4022 names where one exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpStackStats {
    /// Active opens (`connect` calls that created a connection; tcpActiveOpens).
    pub active_opens: u64,
    /// Passive opens (connections that completed the handshake on a listener; tcpPassiveOpens).
    pub passive_opens: u64,
    /// Connections that failed during the handshake (SYN-SENT / SYN-RECEIVED to CLOSED;
    /// tcpAttemptFails).
    pub attempt_fails: u64,
    /// Connections that went from ESTABLISHED / CLOSE-WAIT straight to CLOSED (tcpEstabResets).
    pub estab_resets: u64,
    /// Connections in ESTABLISHED or CLOSE-WAIT now (tcpCurrEstab).
    pub curr_estab: u64,
    /// Segments received (tcpInSegs).
    pub segs_in: u64,
    /// Segments sent (tcpOutSegs, retransmissions included).
    pub segs_out: u64,
    /// Segments retransmitted (tcpRetransSegs).
    pub retrans_segs: u64,
    /// Retransmission timeouts (Linux `TCPTimeouts`).
    pub rto_timeouts: u64,
    /// Fast recoveries begun (dup-ACK, SACK or RACK triggered).
    pub fast_recoveries: u64,
    /// Segments RACK marked lost (RFC 8985).
    pub rack_losses: u64,
    /// Retransmissions found lost again by RACK and resent without a timeout (Linux
    /// `TCPLostRetransmit`).
    pub lost_retransmits: u64,
    /// Tail loss probes sent (Linux `TCPLossProbes`).
    pub tlp_probes: u64,
    /// Losses repaired by a tail loss probe (Linux `TCPLossProbeRecovery`).
    pub tlp_recoveries: u64,
    /// Retransmission timeouts found spurious and undone (Linux `TCPLossUndo`).
    pub spurious_rtos_undone: u64,
    /// Fast recoveries found spurious and undone (Linux `TCPFullUndo` + `TCPDSACKUndo`).
    pub spurious_recoveries_undone: u64,
    /// D-SACK blocks received (Linux `TCPDSACKRecv`).
    pub dsacks_received: u64,
    /// Times a connection's transmission log was full and RACK fell back to duplicate-ACK
    /// detection until the flight was acknowledged (SACK blocks cut it into more pieces than
    /// the log holds).
    pub rack_log_overflows: u64,
    /// Super-segments sent for segmentation offload (their pieces count in `segs_out`).
    pub tso_segments: u64,
    /// Segments sent with RST (tcpOutRsts).
    pub out_rsts: u64,
    /// Segments received with RST.
    pub in_rsts: u64,
    /// Dropped: a segment for no connection or listener, answered with a reset (RFC 9293
    /// §3.10.7.1).
    pub no_port: u64,
    /// Dropped: a reset for no connection (never answered: never RST a RST).
    pub no_port_rst: u64,
    /// Dropped: a non-SYN segment for a listener without a valid cookie (answered with RST).
    pub listen_bad_segment: u64,
    /// SYN-ACKs with a SYN cookie sent.
    pub syn_cookies_sent: u64,
    /// Connections created from a valid cookie ACK.
    pub syn_cookies_validated: u64,
    /// ACKs to a listener whose cookie did not check (forged or expired).
    pub syn_cookies_failed: u64,
    /// Dropped: a SYN while the SYN queue was full and cookies off, or the accept queue full
    /// (ListenDrops).
    pub listen_drops: u64,
    /// Completed handshakes reset because the accept queue was full (ListenOverflows).
    pub listen_overflows: u64,
    /// Dropped: a SYN or cookie ACK when the connection table was full.
    pub table_full: u64,
    /// Dropped: a stateless reply (reset, cookie SYN-ACK) when the reply queue was full.
    pub reply_queue_full: u64,
    /// Failed `connect` calls: no ephemeral port.
    pub port_exhausted: u64,
    /// ICMP errors passed to a connection.
    pub icmp_delivered: u64,
    /// Dropped: ICMP errors quoting no connection of ours, or too short.
    pub icmp_no_conn: u64,
    /// Orphaned connections reset after `fin_wait2_timeout` in FIN-WAIT-2.
    pub orphan_timeouts: u64,
    /// Connections freed.
    pub conns_freed: u64,
    /// TIME-WAIT connections whose 4-tuple a new SYN took over (`StackConfig::time_wait_reuse`).
    pub time_wait_reused: u64,
    /// Connections replaced by a compact TIME-WAIT record (their slot freed).
    pub time_wait_records: u64,
    /// Connections kept whole through TIME-WAIT because every record was in use
    /// (`StackConfig::max_time_wait`; Linux `TCPTimeWaitOverflow`).
    pub time_wait_overflow: u64,
}

impl TcpStackStats {
    /// The counters with their names, for `netstat -s` and the counter export.
    pub fn named(&self) -> [(&'static str, u64); 39] {
        [
            ("active_opens", self.active_opens),
            ("passive_opens", self.passive_opens),
            ("attempt_fails", self.attempt_fails),
            ("estab_resets", self.estab_resets),
            ("curr_estab", self.curr_estab),
            ("segs_in", self.segs_in),
            ("segs_out", self.segs_out),
            ("retrans_segs", self.retrans_segs),
            ("rto_timeouts", self.rto_timeouts),
            ("fast_recoveries", self.fast_recoveries),
            ("rack_losses", self.rack_losses),
            ("lost_retransmits", self.lost_retransmits),
            ("tlp_probes", self.tlp_probes),
            ("tlp_recoveries", self.tlp_recoveries),
            ("spurious_rtos_undone", self.spurious_rtos_undone),
            (
                "spurious_recoveries_undone",
                self.spurious_recoveries_undone,
            ),
            ("dsacks_received", self.dsacks_received),
            ("rack_log_overflows", self.rack_log_overflows),
            ("tso_segments", self.tso_segments),
            ("out_rsts", self.out_rsts),
            ("in_rsts", self.in_rsts),
            ("no_port", self.no_port),
            ("no_port_rst", self.no_port_rst),
            ("listen_bad_segment", self.listen_bad_segment),
            ("syn_cookies_sent", self.syn_cookies_sent),
            ("syn_cookies_validated", self.syn_cookies_validated),
            ("syn_cookies_failed", self.syn_cookies_failed),
            ("listen_drops", self.listen_drops),
            ("listen_overflows", self.listen_overflows),
            ("table_full", self.table_full),
            ("reply_queue_full", self.reply_queue_full),
            ("port_exhausted", self.port_exhausted),
            ("icmp_delivered", self.icmp_delivered),
            ("icmp_no_conn", self.icmp_no_conn),
            ("orphan_timeouts", self.orphan_timeouts),
            ("conns_freed", self.conns_freed),
            ("time_wait_reused", self.time_wait_reused),
            ("time_wait_records", self.time_wait_records),
            ("time_wait_overflow", self.time_wait_overflow),
        ]
    }
}
