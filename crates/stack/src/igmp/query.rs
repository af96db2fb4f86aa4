//! The receive side of the host: queries (response timers under RFC 3376 §5.2, or RFC 2236
//! §3's per-group delays in the compatibility modes, which queries also switch) and other
//! hosts' reports (v1/v2 report suppression).

use core::net::Ipv4Addr;

use burst_port::clock::Nanos;
use burst_wire::igmp::{self, Version};
use burst_wire::ChecksumCheck;

use super::*;

impl IgmpHost {
    /// Parses and handles one received IGMP message (the IPv4 payload) from `src` to `dst`.
    pub fn on_message(&mut self, msg: &[u8], src: Ipv4Addr, dst: Ipv4Addr, now: Nanos) {
        self.stats.in_msgs += 1;
        let repr = match igmp::Packet::new_checked(msg)
            .and_then(|p| igmp::Repr::parse(&p, ChecksumCheck::Verify))
        {
            Ok(r) => r,
            Err(e) => {
                debug!(port = %self.port, %src, error = ?e, "bad IGMP message dropped");
                self.stats.in_errors += 1;
                return;
            }
        };
        match repr {
            igmp::Repr::MembershipQuery { .. } => self.on_query(&repr, dst, now),
            _ => self.on_report(&repr, src, now),
        }
    }

    /// Handles a membership query sent to `dst`: notes older queriers, adopts QRV/QQI and
    /// schedules the responses. Anything but a query is ignored.
    pub fn on_query(&mut self, query: &igmp::Repr<'_>, dst: Ipv4Addr, now: Nanos) {
        let igmp::Repr::MembershipQuery {
            version,
            group_addr,
            qrv,
            ..
        } = *query
        else {
            return;
        };
        match version {
            Version::V1 => self.stats.in_queries_v1 += 1,
            Version::V2 => self.stats.in_queries_v2 += 1,
            Version::V3 => self.stats.in_queries_v3 += 1,
        }
        // A v1 query's group field is unused: every v1 query is general.
        let general = version == Version::V1 || group_addr.is_unspecified();
        if (general && dst != ALL_SYSTEMS) || (!general && !group_addr.is_multicast()) {
            // RFC 3376 §9.1: hosts ignore general queries sent anywhere but 224.0.0.1.
            self.stats.in_queries_bad += 1;
            return;
        }
        match version {
            Version::V1 => {
                let t = if self.cfg.version == Version::V2 {
                    self.cfg.v1_router_present_timeout
                } else {
                    self.older_querier_timeout()
                };
                self.v1_querier_until = Some(now + t);
            }
            Version::V2 => {
                if self.cfg.version == Version::V3 {
                    self.v2_querier_until = Some(now + self.older_querier_timeout());
                }
            }
            Version::V3 => {
                if qrv != 0 {
                    self.qrv = Some(qrv);
                }
                if let Some(qqi) = query.qqi().filter(|&q| q != 0) {
                    self.qqi = Some(Nanos::from_secs(u64::from(qqi)));
                }
            }
        }
        self.refresh_mode(now);
        let max = Nanos(
            u64::from(
                query
                    .max_resp_time()
                    .unwrap_or(igmp::V1_QUERY_MAX_RESP_TIME),
            ) * TENTH,
        );
        if self.mode == Version::V3 {
            self.schedule_v3(general, group_addr, max, now);
        } else {
            self.schedule_old(general, group_addr, max, now);
        }
    }

    /// RFC 3376 §5.2's four rules.
    pub(super) fn schedule_v3(&mut self, general: bool, group: Ipv4Addr, max: Nanos, now: Nanos) {
        let at = now + rand_upto(&mut self.rng, max);
        // 1. A general response due sooner covers this query.
        if self.general_at.is_some_and(|g| g <= at) {
            return;
        }
        // 2. General query: (re)arm the interface timer.
        if general {
            self.general_at = Some(at);
            return;
        }
        // 3./4. Group-specific: arm the group timer, or keep the sooner one.
        match self.find(group) {
            Some(i) if self.groups[i].refs > 0 => {
                let g = &mut self.groups[i];
                g.report_at = min_opt(g.report_at, Some(at));
            }
            _ => self.stats.in_queries_not_member += 1,
        }
    }

    /// RFC 2236 §3: start each queried group's delay timer, or shorten it if it would fire
    /// after the new max resp time.
    pub(super) fn schedule_old(&mut self, general: bool, group: Ipv4Addr, max: Nanos, now: Nanos) {
        let mut hit = false;
        for g in &mut self.groups {
            if g.refs == 0 || !(general || g.addr == group) {
                continue;
            }
            hit = true;
            if g.report_at.is_none_or(|t| t > now + max) {
                g.report_at = Some(now + rand_upto(&mut self.rng, max));
            }
            g.reports_left = g.reports_left.max(1);
        }
        if !general && !hit {
            self.stats.in_queries_not_member += 1;
        }
    }

    /// Handles a report or leave from `src`: in v1/v2 mode, another host's v1/v2 report for a
    /// group cancels our pending report for it (suppression) and makes that host the last
    /// reporter. v3 reports and leaves need nothing from a host.
    pub fn on_report(&mut self, msg: &igmp::Repr<'_>, src: Ipv4Addr, now: Nanos) {
        if src == self.our_addr && !src.is_unspecified() {
            self.stats.in_own += 1;
            return;
        }
        let group = match *msg {
            igmp::Repr::MembershipReportV1 { group_addr }
            | igmp::Repr::MembershipReportV2 { group_addr } => group_addr,
            igmp::Repr::MembershipReportV3 { .. } => {
                self.stats.in_reports += 1;
                return;
            }
            igmp::Repr::LeaveGroup { .. } => {
                self.stats.in_leaves += 1;
                return;
            }
            igmp::Repr::MembershipQuery { .. } => return,
        };
        self.stats.in_reports += 1;
        self.refresh_mode(now);
        if self.mode == Version::V3 {
            // RFC 3376 §5.2: no suppression in v3.
            return;
        }
        if let Some(i) = self.find(group) {
            let g = &mut self.groups[i];
            if g.report_at.take().is_some() {
                debug!(port = %self.port, %group, %src, "IGMP report suppressed");
                self.stats.reports_suppressed += 1;
            }
            g.reports_left = 0;
            g.last_reporter = false;
        }
    }
}
