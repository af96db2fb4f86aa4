//! Per-core pacing: when each packet of a stream's share is due, against the core's cycle
//! counter (TSC ticks on DPDK, nanoseconds on the virtual wire).
//!
//! * **constant**: packet `k`'s slot is the exact integer time `start + Σ cost_i · hz / rate`,
//!   kept without drift by carrying the division's remainder (Bresenham): no rounding error
//!   accumulates, so 10 Mpps is 10,000,000 slots in every second of ticks;
//! * **poisson**: exponential gaps of the same mean (inverse transform of a seeded uniform);
//! * **max**: every packet is due at once; the port's back-pressure sets the pace.
//!
//! The cost of a packet is 1 for packet rates, its L1 bits (frame + 20 bytes of preamble, SFD
//! and gap, × 8) for L1 bit rates and its L2 bits (frame with FCS × 8) for L2 bit rates.
//!
//! **Catch-up policy.** A core that falls behind (a stall: preemption, an interrupt, a full tx
//! ring) sends what is due back to back, as fast as the port takes it, as long as it is at most
//! `catch_up` (a duration, default 10 ms) behind: slots older than that are skipped (counted
//! as `skipped`, so the report's intended rate exceeds the achieved one) and the schedule goes
//! on from there. A stall therefore costs at most `catch_up` of traffic sent at once
//! afterwards (a bounded burst), never a flood, and stalls shorter than it leave every
//! second's count exact. The end of a share is a point of the same schedule
//! ([`Pacer::catch_up_before`]): slots due before it are sent up to `catch_up` late or
//! skipped, never lost uncounted.

use burst_port::clock::SplitMix64;
use burst_port::Nanos;

use crate::config::{frame_bits, Mode, Pattern, Rate};

/// What a packet costs against the rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cost {
    Packets,
    L1Bits,
    L2Bits,
}

/// The pacing state of one stream share on one core.
#[derive(Debug, Clone)]
pub struct Pacer {
    /// When the next packet is due (ticks).
    pub next: u64,
    cost: Cost,
    /// Rate units (packets or bits) per second; 0 = as fast as possible.
    units: u64,
    hz: u64,
    /// Remainder carried between slots (< `units`).
    carry: u64,
    /// Precomputed interval (ticks, remainder) when every packet costs the same.
    fixed: Option<(u64, u64)>,
    poisson: bool,
    /// Mean ticks per cost unit, for Poisson gaps.
    mean_per_unit: f64,
    /// Bursts: packets per burst, bursts left, gap ticks, packets left in this burst.
    burst: Option<(u64, u64, u64, u64)>,
    /// Most ticks a due packet may be late before older slots are skipped.
    catch_up_ticks: u64,
}

impl Pacer {
    /// A pacer for `rate` (this core's share) starting at `start`, for packets of a fixed size
    /// (`fixed_size`, FCS included) or varying sizes (`None`, `mean_size` on average); a stream
    /// more than `catch_up` behind skips its oldest slots.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rate: Rate,
        pattern: Pattern,
        mode: Mode,
        hz: u64,
        start: u64,
        fixed_size: Option<u16>,
        mean_size: f64,
        catch_up: Nanos,
    ) -> Pacer {
        let (cost, units) = match rate {
            Rate::Pps(p) => (Cost::Packets, p),
            Rate::L1Bps(b) => (Cost::L1Bits, b),
            Rate::L2Bps(b) => (Cost::L2Bits, b),
            Rate::Max => (Cost::Packets, 0),
        };
        let mut p = Pacer {
            next: start,
            cost,
            units,
            hz,
            carry: 0,
            fixed: None,
            poisson: pattern == Pattern::Poisson,
            mean_per_unit: if units == 0 {
                0.0
            } else {
                hz as f64 / units as f64
            },
            burst: match mode {
                Mode::Continuous => None,
                Mode::Bursts {
                    packets,
                    bursts,
                    gap,
                } => Some((
                    packets,
                    bursts,
                    (u128::from(gap.0) * u128::from(hz) / 1_000_000_000) as u64,
                    packets,
                )),
            },
            catch_up_ticks: (u128::from(catch_up.0) * u128::from(hz) / 1_000_000_000) as u64,
        };
        if units > 0 {
            if let Some(s) = fixed_size {
                let c = p.cost_of(s) * hz;
                p.fixed = c.checked_div(units).zip(c.checked_rem(units));
            }
            let _ = mean_size;
        }
        p
    }

    #[inline]
    fn cost_of(&self, size: u16) -> u64 {
        match self.cost {
            Cost::Packets => 1,
            Cost::L1Bits => frame_bits(size).0,
            Cost::L2Bits => frame_bits(size).1,
        }
    }

    /// Whether packets are sent as fast as possible.
    pub fn is_max(&self) -> bool {
        self.units == 0
    }

    /// Whether the burst schedule is over (always false without bursts).
    pub fn bursts_done(&self) -> bool {
        matches!(self.burst, Some((_, 0, _, _)))
    }

    /// Moves the schedule on after a packet of `size` was sent at `now` in the current slot.
    #[inline]
    pub fn advance(&mut self, size: u16, now: u64, rng: &mut SplitMix64) {
        if self.units > 0 {
            if self.poisson {
                // Inverse transform: -ln(U) is exponential with mean 1; U in (0, 1].
                let u = ((rng.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64);
                let mean = self.cost_of(size) as f64 * self.mean_per_unit;
                self.next += (-u.ln() * mean) as u64;
            } else {
                let (q, r) = match self.fixed {
                    Some(f) => f,
                    None => {
                        let c = self.cost_of(size) * self.hz;
                        // units > 0 here: the checks cannot fail.
                        (
                            c.checked_div(self.units).unwrap_or(0),
                            c.checked_rem(self.units).unwrap_or(0),
                        )
                    }
                };
                self.next += q;
                self.carry += r;
                if self.carry >= self.units {
                    self.carry -= self.units;
                    self.next += 1;
                }
            }
        }
        if let Some((per, left, gap, in_burst)) = &mut self.burst {
            *in_burst -= 1;
            if *in_burst == 0 {
                *left -= 1;
                *in_burst = *per;
                if self.units == 0 {
                    // As fast as possible: the gap runs from the burst's last packet.
                    self.next = self.next.max(now);
                }
                self.next += *gap;
            }
        }
    }

    /// Before sending at `now`: if the oldest due slot is more than the catch-up window late,
    /// skips slots up to the window's start; returns how many were skipped.
    #[inline]
    pub fn catch_up(&mut self, now: u64, mean_size: u16) -> u64 {
        if self.units == 0 || now <= self.next + self.catch_up_ticks {
            return 0;
        }
        let target = now - self.catch_up_ticks;
        // Whole slots only, so that every slot moved past is counted as skipped.
        let (per, rem) = match self.fixed {
            Some((q, r)) => (q, r),
            None => {
                let c = self.cost_of(mean_size) * self.hz;
                (c / self.units, c % self.units)
            }
        };
        let skipped = (target - self.next).div_ceil(per.max(1));
        self.next += skipped * per;
        let carry = u128::from(self.carry) + u128::from(skipped) * u128::from(rem);
        self.next += (carry / u128::from(self.units)) as u64;
        self.carry = (carry % u128::from(self.units)) as u64;
        // Bursts: a skipped slot still counts against its burst.
        if let Some((per_burst, left, gap, in_burst)) = &mut self.burst {
            let mut k = skipped;
            while k > 0 && *left > 0 {
                let take = k.min(*in_burst);
                *in_burst -= take;
                k -= take;
                if *in_burst == 0 {
                    *left -= 1;
                    *in_burst = *per_burst;
                    self.next += *gap;
                }
            }
        }
        skipped
    }

    /// [`Pacer::catch_up`] for a share whose schedule ends at `stop`: slots at or after `stop`
    /// are never skipped (they were never due), so after a stall across the stop every slot
    /// before it is either sent (at most `catch_up` late) or counted as skipped.
    pub fn catch_up_before(&mut self, now: u64, stop: u64, mean_size: u16) -> u64 {
        self.catch_up(now.min(stop.saturating_add(self.catch_up_ticks)), mean_size)
    }

    /// The stream's packets per second as ticks for one packet of `size` (for tests).
    pub fn interval(&self, size: u16) -> f64 {
        if self.units == 0 {
            0.0
        } else {
            self.cost_of(size) as f64 * self.mean_per_unit
        }
    }
}

/// Splits `total` over `n` shares as evenly as integers allow (the first shares get the
/// remainder): rates and counts of a stream over its cores.
pub fn split(total: u64, n: usize, i: usize) -> u64 {
    let n = n as u64;
    total / n + u64::from((i as u64) < total % n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(p: &mut Pacer, size: u16, n: usize) -> Vec<u64> {
        let mut rng = SplitMix64::new(1);
        (0..n)
            .map(|_| {
                let t = p.next;
                p.advance(size, t, &mut rng);
                t
            })
            .collect()
    }

    #[test]
    fn constant_rate_has_no_drift() {
        // 3 pps on a 1 GHz clock: 333,333,333.33 ticks apart; exactly 3 per second forever.
        let mut p = Pacer::new(
            Rate::Pps(3),
            Pattern::Constant,
            Mode::Continuous,
            1_000_000_000,
            0,
            Some(64),
            64.0,
            Nanos::from_micros(8),
        );
        let s = slots(&mut p, 64, 300_001);
        assert_eq!(s[3], 1_000_000_000);
        assert_eq!(s[300_000], 100_000_000_000_000);
        // 10 Mpps at 2.5 GHz ticks: 250 ticks each.
        let mut p = Pacer::new(
            Rate::Pps(10_000_000),
            Pattern::Constant,
            Mode::Continuous,
            2_500_000_000,
            7,
            Some(64),
            64.0,
            Nanos::from_micros(8),
        );
        let s = slots(&mut p, 64, 10_000_001);
        assert_eq!(s[10_000_000] - s[0], 2_500_000_000);
    }

    #[test]
    fn bit_rates_count_l1_and_l2_bits() {
        // 1 Gbit/s L1 of 64-byte frames: 672 bits each, 672 ns apart.
        let mut p = Pacer::new(
            Rate::L1Bps(1_000_000_000),
            Pattern::Constant,
            Mode::Continuous,
            1_000_000_000,
            0,
            None,
            64.0,
            Nanos::from_micros(8),
        );
        let s = slots(&mut p, 64, 3);
        assert_eq!(s, [0, 672, 1344]);
        let mut p = Pacer::new(
            Rate::L2Bps(1_000_000_000),
            Pattern::Constant,
            Mode::Continuous,
            1_000_000_000,
            0,
            None,
            1518.0,
            Nanos::from_micros(8),
        );
        let s = slots(&mut p, 1518, 2);
        assert_eq!(s, [0, 12_144]);
    }

    #[test]
    fn poisson_keeps_the_mean() {
        let mut p = Pacer::new(
            Rate::Pps(1_000_000),
            Pattern::Poisson,
            Mode::Continuous,
            1_000_000_000,
            0,
            Some(64),
            64.0,
            Nanos::from_micros(8),
        );
        let s = slots(&mut p, 64, 100_001);
        let mean = s[100_000] as f64 / 100_000.0;
        assert!((mean - 1000.0).abs() < 15.0, "{mean}");
        // Exponential gaps: the standard deviation equals the mean.
        let gaps: Vec<f64> = s.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        assert!((var.sqrt() - 1000.0).abs() < 30.0, "{}", var.sqrt());
    }

    #[test]
    fn bursts_with_gaps_and_catch_up_skips() {
        let mode = Mode::Bursts {
            packets: 3,
            bursts: 2,
            gap: Nanos(1000),
        };
        let mut p = Pacer::new(
            Rate::Pps(10_000_000),
            Pattern::Constant,
            mode,
            1_000_000_000,
            0,
            Some(64),
            64.0,
            Nanos::from_micros(8),
        );
        let s = slots(&mut p, 64, 6);
        assert_eq!(s, [0, 100, 200, 1300, 1400, 1500]);
        assert!(p.bursts_done());
        // 1 Mpps (1000 ticks), catch-up of 8 packets: a stall of 100 slots skips 92.
        let mut p = Pacer::new(
            Rate::Pps(1_000_000),
            Pattern::Constant,
            Mode::Continuous,
            1_000_000_000,
            0,
            Some(64),
            64.0,
            Nanos::from_micros(8),
        );
        assert_eq!(p.catch_up(5_000, 64), 0, "within the window");
        assert_eq!(p.catch_up(100_000, 64), 92);
        assert_eq!(p.next, 92_000);
        // A lag just past the window skips one whole slot, never part of one.
        assert_eq!(p.catch_up(100_100, 64), 1);
        assert_eq!(p.next, 93_000);
        assert_eq!(split(10, 3, 0), 4);
        assert_eq!(split(10, 3, 2), 3);
    }
}
