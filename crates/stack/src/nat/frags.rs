//! Fragments of translated datagrams: a later fragment carries no ports, so NAT translates it
//! as the first fragment of its datagram was (the issue's "translate using the first
//! fragment's ports"), found by (source, destination, protocol, identification). A later
//! fragment that arrives before its first waits in a small bounded buffer until the first
//! comes or its time is up (counted either way).
//!
//! Both tables are fixed arrays sized at start; nothing allocates.

use core::net::Ipv4Addr;

use burst_port::Nanos;

use crate::conntrack::{Dir, SessionId};

/// A datagram's fragment key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragKey {
    /// Source as received.
    pub src: Ipv4Addr,
    /// Destination as received.
    pub dst: Ipv4Addr,
    /// Protocol.
    pub proto: u8,
    /// IP identification.
    pub ident: u16,
}

impl FragKey {
    fn slot(&self, n: usize) -> usize {
        let x = (u64::from(self.src.to_bits()) << 32 | u64::from(self.dst.to_bits()))
            ^ (u64::from(self.ident) << 8 | u64::from(self.proto))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (x.wrapping_mul(0xbf58_476d_1ce4_e5b9) >> 32) as usize % n
    }
}

/// How long a first fragment's translation is kept for the rest of its datagram, and how long
/// a later fragment waits for its first (RFC 791's reassembly timers are 15 s upwards; a NAT
/// needs less, the fragments of one datagram travel together).
pub const FRAG_TIMEOUT: Nanos = Nanos::from_secs(2);

#[derive(Debug, Clone, Copy)]
struct Known {
    key: FragKey,
    session: SessionId,
    dir: Dir,
    until: Nanos,
}

/// The translations of datagrams whose first fragment passed: a direct-mapped table (a
/// collision replaces the older entry; its datagram's later fragments are then refused,
/// counted).
#[derive(Debug)]
pub struct FragTable {
    slots: Box<[Option<Known>]>,
}

impl FragTable {
    /// A table of `n` entries.
    pub fn new(n: usize) -> FragTable {
        FragTable {
            slots: vec![None; n.max(1)].into_boxed_slice(),
        }
    }

    /// Remembers that the datagram `key` belongs to `session`, travelling `dir`.
    pub fn learn(&mut self, key: FragKey, session: SessionId, dir: Dir, now: Nanos) {
        let i = key.slot(self.slots.len());
        self.slots[i] = Some(Known {
            key,
            session,
            dir,
            until: now + FRAG_TIMEOUT,
        });
    }

    /// The session of a later fragment of `key`, if its first fragment passed recently.
    pub fn find(&self, key: &FragKey, now: Nanos) -> Option<(SessionId, Dir)> {
        let i = key.slot(self.slots.len());
        match self.slots[i] {
            Some(k) if k.key == *key && now < k.until => Some((k.session, k.dir)),
            _ => None,
        }
    }

    /// Forgets every entry of `session` (it was removed; its id may be reused).
    pub fn forget(&mut self, session: SessionId) {
        for s in self.slots.iter_mut() {
            if s.is_some_and(|k| k.session == session) {
                *s = None;
            }
        }
    }
}

/// Later fragments waiting for their first: at most `n`, each for [`FRAG_TIMEOUT`].
#[derive(Debug)]
pub struct HeldFragments<B> {
    held: Box<[Option<(FragKey, Nanos, B)>]>,
    count: usize,
}

impl<B> HeldFragments<B> {
    /// Room for `n` fragments.
    pub fn new(n: usize) -> HeldFragments<B> {
        HeldFragments {
            held: (0..n).map(|_| None).collect(),
            count: 0,
        }
    }

    /// Fragments waiting.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Keeps `buf`, a later fragment of `key`; gives it back when full.
    pub fn hold(&mut self, key: FragKey, buf: B, now: Nanos) -> Result<(), B> {
        match self.held.iter_mut().find(|s| s.is_none()) {
            Some(s) => {
                *s = Some((key, now + FRAG_TIMEOUT, buf));
                self.count += 1;
                Ok(())
            }
            None => Err(buf),
        }
    }

    /// Takes one fragment of `key` that waited (call until `None` once its first passed).
    pub fn take(&mut self, key: &FragKey) -> Option<B> {
        if self.count == 0 {
            return None;
        }
        let s = self
            .held
            .iter_mut()
            .find(|s| s.as_ref().is_some_and(|(k, _, _)| k == key))?;
        self.count -= 1;
        s.take().map(|(_, _, b)| b)
    }

    /// Drops fragments whose first did not come in time; returns how many.
    pub fn expire(&mut self, now: Nanos) -> usize {
        if self.count == 0 {
            return 0;
        }
        let mut n = 0;
        for s in self.held.iter_mut() {
            if s.as_ref().is_some_and(|(_, until, _)| *until <= now) {
                *s = None;
                n += 1;
            }
        }
        self.count -= n;
        n
    }

    /// Drops every held fragment.
    pub fn clear(&mut self) {
        self.held.iter_mut().for_each(|s| *s = None);
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ident: u16) -> FragKey {
        FragKey {
            src: Ipv4Addr::new(198, 18, 1, 1),
            dst: Ipv4Addr::new(198, 18, 2, 1),
            proto: 17,
            ident,
        }
    }

    #[test]
    fn a_first_fragment_teaches_the_rest_for_a_while() {
        let mut t = FragTable::new(64);
        t.learn(key(1), SessionId(5), Dir::Orig, Nanos::ZERO);
        assert_eq!(
            t.find(&key(1), Nanos::ZERO),
            Some((SessionId(5), Dir::Orig))
        );
        assert_eq!(t.find(&key(2), Nanos::ZERO), None);
        assert_eq!(t.find(&key(1), FRAG_TIMEOUT), None);
        t.forget(SessionId(5));
        assert_eq!(t.find(&key(1), Nanos::ZERO), None);
    }

    #[test]
    fn held_fragments_are_bounded_and_expire() {
        let mut h = HeldFragments::new(2);
        h.hold(key(1), 10, Nanos::ZERO).unwrap();
        h.hold(key(1), 11, Nanos::ZERO).unwrap();
        assert_eq!(h.hold(key(2), 12, Nanos::ZERO), Err(12));
        assert_eq!(h.take(&key(1)), Some(10));
        assert_eq!(h.len(), 1);
        assert_eq!(h.expire(FRAG_TIMEOUT), 1);
        assert!(h.is_empty() && h.take(&key(1)).is_none());
    }
}
