//! Aging: unused and maximum lifetimes, confirmation by the neighbour.

use super::*;

#[test]
fn an_unused_entry_is_removed_after_two_minutes() {
    let (mut c, mut f) = ready(ArpConfig::default());
    let reader = c.reader();
    learn(&mut c, &mut f, H1, H1_MAC, s(10));
    assert_eq!(c.poll(s(10), &mut f), Some(s(130)));
    c.poll(s(130) - Nanos(1), &mut f);
    assert!(reader.pin().get(P0, H1).is_some());
    assert_eq!(c.poll(s(130), &mut f), None);
    assert!(reader.pin().get(P0, H1).is_none());
    assert_eq!(c.stats().aged_unused, 1);
    assert_eq!(c.stats().aged_max, 0);
}

#[test]
fn a_used_entry_is_removed_after_ten_minutes_and_one_used_briefly_after_its_last_use() {
    let (mut c, mut f) = ready(ArpConfig::default());
    let reader = c.reader();
    learn(&mut c, &mut f, H1, H1_MAC, s(0));
    learn(&mut c, &mut f, H2, H2_MAC, s(0));
    // A worker transmits to H1 every 30 s for ever, to H2 until 60 s; control polls each second.
    for t in 0..=600u64 {
        if t % 30 == 0 {
            assert_eq!(reader.lookup(P0, H1, s(t)), Some(H1_MAC), "t={t}");
            if t <= 60 {
                assert_eq!(reader.lookup(P0, H2, s(t)), Some(H2_MAC));
            }
        }
        c.poll(s(t), &mut f);
        let h2 = c.neighbor(P0, H2).is_some();
        assert_eq!(h2, t < 180, "H2 at t={t}");
        let h1 = c.neighbor(P0, H1).is_some();
        assert_eq!(h1, t < 600, "H1 at t={t}");
    }
    let st = c.stats();
    assert_eq!((st.aged_unused, st.aged_max), (1, 1));
    assert_eq!(reader.lookup(P0, H1, s(601)), None);
}

#[test]
fn confirmation_by_the_neighbour_extends_the_maximum_life() {
    let (mut c, mut f) = ready(ArpConfig::default());
    learn(&mut c, &mut f, H1, H1_MAC, s(0));
    let reader = c.reader();
    for t in 0..=700u64 {
        if t % 30 == 0 {
            reader.lookup(P0, H1, s(t));
        }
        if t == 300 {
            // H1 asks for us again: the mapping is confirmed.
            learn(&mut c, &mut f, H1, H1_MAC, s(t));
        }
        c.poll(s(t), &mut f);
        assert_eq!(c.neighbor(P0, H1).is_some(), t < 900, "t={t}");
    }
}
