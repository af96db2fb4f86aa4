//! Frame sizes: fixed, a list (cycled), a random range, IMIX presets, a varied field, or the
//! frames of a raw/pcap stream; and the per-core generator that picks each packet's size.
//!
//! Sizes are Ethernet frame sizes with the FCS (RFC 2544's 64..1518); a buffer holds the frame
//! without its FCS (4 bytes less), which the NIC appends.

use burst_port::clock::SplitMix64;

use crate::config::{Op, Vary};

/// The IMIX presets: (name, [(frame size, weight)]).
///
/// * `imix`: the "simple IMIX", 7:4:1 of 64/594/1518-byte frames (40/576/1500-byte IP
///   datagrams), mean 361.83 bytes;
/// * `imix-ietf`: 7:4:1 of 64/576/1500-byte frames (58.33 % / 33.33 % / 8.33 %), as test
///   equipment names the IETF mix;
/// * `imix-agilent`: 64/100/576/1500-byte frames at 58.67 % / 2.00 % / 23.66 % / 15.67 %.
pub const IMIX: [(&str, &[(u16, u32)]); 3] = [
    ("imix", &[(64, 7), (594, 4), (1518, 1)]),
    ("imix-ietf", &[(64, 7), (576, 4), (1500, 1)]),
    (
        "imix-agilent",
        &[(64, 5867), (100, 200), (576, 2366), (1500, 1567)],
    ),
];

/// Which sizes a stream sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeSpec {
    /// One size.
    Fixed(u16),
    /// These sizes in turn.
    List(Vec<u16>),
    /// Uniformly random in `min..=max`.
    Range(u16, u16),
    /// A weighted mix (IMIX), interleaved smoothly (not in blocks).
    Mix(Vec<(u16, u32)>),
    /// A size field varied like any other field (`vary = [{ field = "size", ... }]`).
    Varied(Vary),
    /// The sizes of a raw/pcap stream's frames, in turn (frame `i` has size `i`).
    Frames(Vec<u16>),
}

impl SizeSpec {
    /// Parses `"64-1518"` or an IMIX preset name.
    pub fn parse(s: &str) -> Result<SizeSpec, String> {
        if let Some((_, mix)) = IMIX.iter().find(|(n, _)| n.eq_ignore_ascii_case(s.trim())) {
            return Ok(SizeSpec::Mix(mix.to_vec()));
        }
        let bad = || {
            format!(
                "{s:?}: expected a size (64), a list ([64, 1518]), a range \"MIN-MAX\" \
                 (\"64-1518\") or an IMIX preset (\"imix\", \"imix-ietf\", \"imix-agilent\")"
            )
        };
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let a: u16 = a.trim().parse().map_err(|_| bad())?;
        let b: u16 = b.trim().parse().map_err(|_| bad())?;
        if a > b {
            return Err(format!("{s:?}: the range's minimum is above its maximum"));
        }
        Ok(SizeSpec::Range(a, b))
    }

    /// Every size to check against the port's limits (a range's ends).
    pub fn all_sizes(&self) -> Vec<u16> {
        match self {
            SizeSpec::Fixed(s) => vec![*s],
            SizeSpec::List(v) | SizeSpec::Frames(v) => v.clone(),
            SizeSpec::Range(a, b) => vec![*a, *b],
            SizeSpec::Mix(m) => m.iter().map(|&(s, _)| s).collect(),
            SizeSpec::Varied(v) => vec![v.min as u16, v.max as u16],
        }
    }

    /// The smallest size.
    pub fn min(&self) -> u16 {
        self.all_sizes().into_iter().min().unwrap_or(64)
    }

    /// The largest size.
    pub fn max(&self) -> u16 {
        self.all_sizes().into_iter().max().unwrap_or(64)
    }

    /// The mean size over a long run.
    pub fn mean(&self) -> f64 {
        match self {
            SizeSpec::Fixed(s) => f64::from(*s),
            SizeSpec::List(v) | SizeSpec::Frames(v) => {
                v.iter().map(|&s| f64::from(s)).sum::<f64>() / v.len() as f64
            }
            SizeSpec::Range(a, b) => (f64::from(*a) + f64::from(*b)) / 2.0,
            SizeSpec::Mix(m) => {
                let w: f64 = m.iter().map(|&(_, w)| f64::from(w)).sum();
                m.iter()
                    .map(|&(s, w)| f64::from(s) * f64::from(w))
                    .sum::<f64>()
                    / w
            }
            SizeSpec::Varied(v) => {
                // inc/dec visit min, min+step, ... up to max; random is uniform.
                match v.op {
                    Op::Random => (f64::from(v.min) + f64::from(v.max)) / 2.0,
                    _ => {
                        let n = (v.max - v.min) / v.step + 1;
                        let last = v.min + (n - 1) * v.step;
                        (f64::from(v.min) + f64::from(last)) / 2.0
                    }
                }
            }
        }
    }

    /// Whether every packet has the same size.
    pub fn is_fixed(&self) -> bool {
        match self {
            SizeSpec::Fixed(_) => true,
            SizeSpec::List(v) | SizeSpec::Frames(v) => v.iter().all(|&s| s == v[0]),
            _ => false,
        }
    }
}

/// A varied value's generator: `inc`, `dec` or `random` over `min..=max`.
#[derive(Debug, Clone)]
pub struct Stepper {
    v: Vary,
    cur: u32,
}

impl Stepper {
    /// Starts at `min` (`inc`), `max` (`dec`), or anywhere (`random`).
    pub fn new(v: Vary) -> Stepper {
        let cur = if v.op == Op::Dec { v.max } else { v.min };
        Stepper { v, cur }
    }

    /// The next value.
    #[inline]
    pub fn next(&mut self, rng: &mut SplitMix64) -> u32 {
        let v = &self.v;
        match v.op {
            Op::Random => v.min + rng.below(u64::from(v.max - v.min) + 1) as u32,
            Op::Inc => {
                let x = self.cur;
                self.cur = match x.checked_add(v.step) {
                    Some(n) if n <= v.max => n,
                    _ => v.min,
                };
                x
            }
            Op::Dec => {
                let x = self.cur;
                self.cur = match x.checked_sub(v.step) {
                    Some(n) if n >= v.min => n,
                    _ => v.max,
                };
                x
            }
        }
    }
}

/// Per-core size picker: returns a frame size (FCS included) and, for raw/pcap streams, the
/// frame's index.
#[derive(Debug, Clone)]
pub enum SizeGen {
    /// One size.
    Fixed(u16),
    /// A list or raw frames in turn.
    Cycle(Vec<u16>, usize),
    /// Uniform in a range.
    Range(u16, u16),
    /// Smooth weighted round robin (nginx's): each pick adds every weight to its entry's
    /// credit, takes the largest and subtracts the total, so a 7:4:1 mix never sends a block of
    /// seven 64-byte frames in a row.
    Mix(Vec<(u16, i64)>, Vec<i64>, i64),
    /// A varied field.
    Varied(Stepper),
}

impl SizeGen {
    /// The generator for a stream's sizes.
    pub fn new(spec: &SizeSpec) -> SizeGen {
        match spec {
            SizeSpec::Fixed(s) => SizeGen::Fixed(*s),
            SizeSpec::List(v) | SizeSpec::Frames(v) => SizeGen::Cycle(v.clone(), 0),
            SizeSpec::Range(a, b) => SizeGen::Range(*a, *b),
            SizeSpec::Mix(m) => {
                let m: Vec<(u16, i64)> = m.iter().map(|&(s, w)| (s, i64::from(w))).collect();
                let total = m.iter().map(|&(_, w)| w).sum();
                SizeGen::Mix(m.clone(), vec![0; m.len()], total)
            }
            SizeSpec::Varied(v) => SizeGen::Varied(Stepper::new(*v)),
        }
    }

    /// The next size and its index (the frame index for raw/pcap streams, else 0).
    #[inline]
    pub fn next(&mut self, rng: &mut SplitMix64) -> (u16, usize) {
        match self {
            SizeGen::Fixed(s) => (*s, 0),
            SizeGen::Cycle(v, i) => {
                let at = *i;
                *i = if at + 1 == v.len() { 0 } else { at + 1 };
                (v[at], at)
            }
            SizeGen::Range(a, b) => (*a + rng.below(u64::from(*b - *a) + 1) as u16, 0),
            SizeGen::Mix(m, credit, total) => {
                let mut best = 0;
                for (k, c) in credit.iter_mut().enumerate() {
                    *c += m[k].1;
                }
                for k in 1..credit.len() {
                    if credit[k] > credit[best] {
                        best = k;
                    }
                }
                credit[best] -= *total;
                (m[best].0, 0)
            }
            SizeGen::Varied(s) => (s.next(rng) as u16, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Field;

    #[test]
    fn simple_imix_is_7_4_1_and_interleaved() {
        let spec = SizeSpec::parse("imix").unwrap();
        assert!((spec.mean() - 361.833).abs() < 0.01, "{}", spec.mean());
        let mut g = SizeGen::new(&spec);
        let mut rng = SplitMix64::new(1);
        let seq: Vec<u16> = (0..12).map(|_| g.next(&mut rng).0).collect();
        assert_eq!(seq.iter().filter(|&&s| s == 64).count(), 7);
        assert_eq!(seq.iter().filter(|&&s| s == 594).count(), 4);
        assert_eq!(seq.iter().filter(|&&s| s == 1518).count(), 1);
        // Never more than two 64-byte frames in a row.
        assert!(
            !seq.windows(3).any(|w| w.iter().all(|&s| s == 64)),
            "{seq:?}"
        );
        let ag = SizeSpec::parse("imix-agilent").unwrap();
        let mut g = SizeGen::new(&ag);
        let n: Vec<u16> = (0..10_000).map(|_| g.next(&mut rng).0).collect();
        assert_eq!(n.iter().filter(|&&s| s == 100).count(), 200);
    }

    #[test]
    fn ranges_lists_and_steppers() {
        assert_eq!(
            SizeSpec::parse("64-1518").unwrap(),
            SizeSpec::Range(64, 1518)
        );
        assert!(SizeSpec::parse("1518-64").is_err());
        assert!(SizeSpec::parse("big").unwrap_err().contains("IMIX preset"));
        let mut rng = SplitMix64::new(3);
        let mut g = SizeGen::new(&SizeSpec::Range(64, 70));
        let v: Vec<u16> = (0..1000).map(|_| g.next(&mut rng).0).collect();
        assert!(v.iter().all(|s| (64..=70).contains(s)));
        assert!((64..=70).all(|s| v.contains(&s)));
        let mut g = SizeGen::new(&SizeSpec::List(vec![64, 128]));
        assert_eq!(
            (0..3).map(|_| g.next(&mut rng).0).collect::<Vec<_>>(),
            [64, 128, 64]
        );
        let vary = |op| Vary {
            field: Field::Size,
            op,
            min: 10,
            max: 16,
            step: 3,
        };
        let mut s = Stepper::new(vary(Op::Inc));
        assert_eq!(
            (0..4).map(|_| s.next(&mut rng)).collect::<Vec<_>>(),
            [10, 13, 16, 10]
        );
        let mut s = Stepper::new(vary(Op::Dec));
        assert_eq!(
            (0..4).map(|_| s.next(&mut rng)).collect::<Vec<_>>(),
            [16, 13, 10, 16]
        );
        assert_eq!(SizeSpec::Varied(vary(Op::Inc)).mean(), 13.0);
    }
}
