//! Bounded randomized robustness: arbitrary bytes, every prefix of every Linux-captured frame,
//! and seeded random mutations of them, through every parser (`support/exercise.rs`, the same
//! code the fuzz targets run). Any panic or failed round trip is a bug.

mod support;

use proptest::prelude::*;
use support::{exercise, fixtures};

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..160)) {
        exercise::all(&data);
    }

    #[test]
    fn mutated_linux_frames_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let frames = linux_frames();
        let mut data = frames[pick.index(frames.len())].clone();
        for (at, v) in edits {
            let i = at.index(data.len());
            data[i] = v;
        }
        // Half of the cases also cut the frame short somewhere.
        if cut.index(2) == 0 {
            let len = cut.index(data.len() + 1);
            data.truncate(len);
        }
        exercise::all(&data);
    }
}

fn linux_frames() -> &'static [Vec<u8>] {
    static FRAMES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    FRAMES.get_or_init(|| fixtures::all().into_iter().map(|c| c.data).collect())
}

#[test]
fn every_prefix_of_every_linux_frame() {
    let frames = linux_frames();
    assert!(
        frames.len() >= 50,
        "expected the Linux fixtures, found {} frames",
        frames.len()
    );
    for f in frames {
        for len in 0..=f.len() {
            exercise::all(&f[..len]);
        }
    }
}
