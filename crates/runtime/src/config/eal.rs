//! `[eal]`: the DPDK EAL arguments, the worker count, the packet buffers and the CPUs the workers
//! are pinned to, with the check of those CPUs against the worker count.

use serde::Deserialize;

use burst_port::Nanos;

use super::de::{duration, invalid, range, Human, Invalid};
use super::MAX_CORES;

/// `[eal]`: the DPDK Environment Abstraction Layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EalConfig {
    /// Arguments passed to `rte_eal_init` (after the program name); ignored by the mem backend.
    pub args: Vec<String>,
    /// Number of workers (one per core), `1..=MAX_CORES`.
    pub cores: u16,
    /// Data bytes per packet buffer (mbuf data room, headroom excluded). Frames larger than
    /// this arrive chained or not at all (af_packet truncates to its `framesz`). Default 2048.
    pub mbuf_data_room: u16,
    /// Packet buffers in the pool. Default 16383.
    pub mbufs: u32,
    /// CPUs the workers are pinned to, worker `i` on `cpus[i]`; `None` = the first CPUs the
    /// process may run on, one each (if there are enough); empty = no pinning.
    pub cpus: Option<Vec<usize>>,
    /// CPUs the other threads (main, control, metrics; `burst gen`'s supervisor) run on;
    /// `None` = the allowed CPUs no worker has. Two processes sharing a machine (a generator
    /// and its DUT) set it so one's housekeeping does not preempt the other's busy-polling core.
    pub control_cpus: Option<Vec<usize>>,
    /// How long a worker sleeps after a round that found nothing to do; zero (the default)
    /// spins. A worker that shares its CPU with kernel work (a veth's threaded NAPI in a lab)
    /// leaves it the CPU while idle, at the cost of latency.
    pub idle_sleep: Nanos,
}

/// The longest `idle_sleep`: beyond it a burst arriving during the sleep overflows a
/// 1,024-descriptor ring at 1 Mpps.
pub(super) const MAX_IDLE_SLEEP: Nanos = Nanos(1_000_000);

/// `[eal]` as written in the file, before [`validate_eal`].
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
pub struct RawEal {
    args: Vec<String>,
    #[serde(deserialize_with = "range::<_, _, 1, { MAX_CORES as i64 }>")]
    cores: u16,
    #[serde(deserialize_with = "range::<_, _, 256, 65000>")]
    pub(super) mbuf_data_room: u16,
    #[serde(deserialize_with = "range::<_, _, 1023, 16777215>")]
    mbufs: u32,
    cpus: Option<Vec<u16>>,
    control_cpus: Option<Vec<u16>>,
    #[serde(deserialize_with = "duration")]
    idle_sleep: Nanos,
}

impl Default for RawEal {
    fn default() -> Self {
        RawEal {
            args: Vec::new(),
            cores: 1,
            mbuf_data_room: 2048,
            mbufs: 16383,
            cpus: None,
            control_cpus: None,
            idle_sleep: Nanos(0),
        }
    }
}

/// `[eal]` validated: `cpus` checked against `cores` (one per worker, none listed twice).
pub fn validate_eal(eal: RawEal) -> Result<EalConfig, Invalid> {
    let cpus = match eal.cpus {
        None => None,
        Some(c) => {
            if !c.is_empty() && c.len() < usize::from(eal.cores) {
                return Err(invalid(
                    "eal.cpus",
                    format!(
                        "{} CPUs for {} workers: list one per worker (eal.cores), or none \
                         (cpus = []) not to pin",
                        c.len(),
                        eal.cores
                    ),
                ));
            }
            for (i, cpu) in c.iter().enumerate() {
                if c[..i].contains(cpu) {
                    return Err(invalid(
                        format!("eal.cpus[{i}]"),
                        format!("CPU {cpu} is listed twice: each worker needs its own"),
                    ));
                }
            }
            Some(c.into_iter().map(usize::from).collect())
        }
    };
    if eal.control_cpus.as_ref().is_some_and(|c| c.is_empty()) {
        return Err(invalid(
            "eal.control_cpus",
            "an empty list: name at least one CPU, or leave the key out (the CPUs no worker has)",
        ));
    }
    if eal.idle_sleep > MAX_IDLE_SLEEP {
        return Err(invalid(
            "eal.idle_sleep",
            format!(
                "{} is longer than {}: packets arriving during the sleep would overflow the \
                 receive rings; use a few microseconds (\"20us\"), or 0 to spin",
                Human(eal.idle_sleep),
                Human(MAX_IDLE_SLEEP)
            ),
        ));
    }
    Ok(EalConfig {
        args: eal.args,
        cores: eal.cores,
        mbuf_data_room: eal.mbuf_data_room,
        mbufs: eal.mbufs,
        cpus,
        control_cpus: eal
            .control_cpus
            .map(|c| c.into_iter().map(usize::from).collect()),
        idle_sleep: eal.idle_sleep,
    })
}

#[cfg(test)]
mod tests {
    use burst_port::Nanos;

    use crate::config::tests::{err, BASE, ORIGIN};
    use crate::config::Config;

    #[test]
    fn idle_sleep_is_bounded() {
        let c = Config::parse(BASE, ORIGIN).unwrap();
        assert_eq!(c.eal.idle_sleep, Nanos(0));
        let c = Config::parse(
            &BASE.replace("cores = 2", "cores = 2\nidle_sleep = \"1us\""),
            ORIGIN,
        )
        .unwrap();
        assert_eq!(c.eal.idle_sleep, Nanos::from_micros(1));
        let e = err(&BASE.replace("cores = 2", "cores = 2\nidle_sleep = \"2ms\""));
        assert!(
            e.contains("eal.idle_sleep: 2ms is longer than 1ms") && e.contains("or 0 to spin"),
            "{e}"
        );
    }
}
