//! Reclamation domains: which threads a table's writer waits for before it frees or reuses
//! what readers may still be looking at.
//!
//! The shared, read-mostly tables (routes, their LPM, neighbours, packet filters) are read
//! without locks under a crossbeam-epoch [`Guard`]; a writer frees an old version, or reuses a
//! tbl8 group or a next-hop id, only once every reader pinned before the change has unpinned.
//! A [`Domain`] is the set of threads taking part: one node's workers and control thread. It is
//! deliberately *not* crossbeam's process-wide default collector, on which any thread of the
//! process (another node, a test, a user's application using crossbeam for its own purposes)
//! would hold back this node's reclamation by staying pinned.
//!
//! [`Domain::pin`] registers the calling thread with the domain on first use (kept in a small
//! thread-local list) and is as cheap as `crossbeam_epoch::pin()` afterwards: no lock, no
//! allocation.

use core::cell::RefCell;
use core::fmt;
use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_epoch::{Atomic, Collector, Guard, LocalHandle, Owned};

/// At most this many domains keep a registration per thread; beyond it the oldest one is
/// dropped (and re-made if that domain is used again). A worker uses one.
const HANDLES_PER_THREAD: usize = 8;

/// Flushes tried before a writer's wait looks at the clock: enough for a domain where no
/// reader is pinned to advance twice and run the deferred functions (crossbeam-epoch frees a
/// bag two epochs after it was sealed).
const MIN_FLUSHES: usize = 4;

thread_local! {
    static HANDLES: RefCell<Vec<(Collector, LocalHandle)>> = const { RefCell::new(Vec::new()) };
}

/// A reclamation domain shared by one node's tables, readers and writers (see the module docs).
///
/// Cloning gives another handle on the same domain.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Domain {
    collector: Collector,
}

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Domain").finish_non_exhaustive()
    }
}

impl Domain {
    /// A new domain with no participants.
    pub fn new() -> Domain {
        Domain::default()
    }

    /// Pins the calling thread: what the returned guard can reach is not freed (nor a group or
    /// id reused) until it is dropped. Hold it for one burst at most.
    #[inline]
    pub fn pin(&self) -> Guard {
        let pinned = HANDLES.try_with(|h| {
            let mut h = h.borrow_mut();
            if let Some((_, local)) = h.iter().find(|(c, _)| *c == self.collector) {
                return local.pin();
            }
            if h.len() == HANDLES_PER_THREAD {
                // A guard still alive keeps its participant alive: dropping the handle is safe.
                h.remove(0);
            }
            let local = self.collector.register();
            let guard = local.pin();
            h.push((self.collector.clone(), local));
            guard
        });
        // During thread-local destruction: a one-off registration.
        pinned.unwrap_or_else(|_| self.collector.register().pin())
    }

    /// Whether `guard` was pinned on this domain.
    #[inline]
    pub fn owns(&self, guard: &Guard) -> bool {
        guard.collector() == Some(&self.collector)
    }

    /// Pushes this thread's deferred functions to the domain and tries to advance its epoch
    /// (which runs deferred functions whose readers are all gone).
    pub fn flush(&self) {
        self.pin().flush();
    }

    /// Calls `ready` until it gives a value, flushing between calls so that deferred functions
    /// (a released id or group going back to its free list) get to run: at least a few times,
    /// then until `wait` has passed since the call. `None` means readers stayed pinned all
    /// along (a reader thread descheduled in the middle of a burst, or the caller itself
    /// holding a guard).
    pub fn reclaim<T>(&self, wait: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
        let start = Instant::now();
        let mut flushes = 0usize;
        loop {
            if let Some(v) = ready() {
                return Some(v);
            }
            if flushes >= MIN_FLUSHES && start.elapsed() >= wait {
                return None;
            }
            self.flush();
            flushes += 1;
            if flushes > MIN_FLUSHES {
                // Someone is pinned: give it the CPU rather than spinning against it.
                std::thread::yield_now();
            }
        }
    }
}

/// A value one writer replaces as a whole and readers of a [`Domain`] read without locks: the
/// pattern of the route, neighbour and filter tables, for smaller read-mostly state (path
/// MTUs, router-discovery results). The writer publishes a new immutable version; readers pinned
/// before keep the old one until they unpin.
pub struct Published<T: Send + Sync + 'static> {
    shared: Arc<PublishedShared<T>>,
}

/// A reader's handle on a [`Published`] value: `Clone + Send + Sync`.
pub struct View<T: Send + Sync + 'static> {
    shared: Arc<PublishedShared<T>>,
}

struct PublishedShared<T> {
    current: Atomic<T>,
    domain: Domain,
}

impl<T> Drop for PublishedShared<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self` in drop means no `Published` or `View` is left, and every
        // reference a reader got borrowed one of them, so nothing reads the current value. It
        // is never null (set in `Published::new`, only ever swapped for another).
        unsafe {
            drop(
                self.current
                    .load(Relaxed, crossbeam_epoch::unprotected())
                    .into_owned(),
            )
        }
    }
}

impl<T: Send + Sync + 'static> Published<T> {
    /// `initial`, read under guards of `domain`.
    pub fn new(initial: T, domain: &Domain) -> Published<T> {
        Published {
            shared: Arc::new(PublishedShared {
                current: Atomic::new(initial),
                domain: domain.clone(),
            }),
        }
    }

    /// Replaces the value; the old one is freed once every reader pinned before has unpinned.
    pub fn publish(&mut self, value: T) {
        let guard = self.shared.domain.pin();
        let old = self.shared.current.swap(Owned::new(value), AcqRel, &guard);
        // SAFETY: `old` is unlinked (only this single, `&mut` writer stores to `current`), so
        // it is destroyed exactly once; readers reach values only through `current` while
        // pinned on the domain (checked in `View::get`), and `defer_destroy` waits until every
        // guard pinned before the swap is gone.
        unsafe { guard.defer_destroy(old) };
    }

    /// A handle for readers.
    pub fn view(&self) -> View<T> {
        View {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Send + Sync + 'static> Clone for View<T> {
    fn clone(&self) -> Self {
        View {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Send + Sync + 'static> fmt::Debug for View<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("View").finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> View<T> {
    /// The current value.
    ///
    /// # Panics
    /// If `guard` is not pinned on the value's [`Domain`].
    #[inline]
    pub fn get<'g>(&'g self, guard: &'g Guard) -> &'g T {
        assert!(
            self.shared.domain.owns(guard),
            "a published value needs a guard pinned on its domain"
        );
        // SAFETY: never null (set in `Published::new`, only swapped for another value); a
        // replaced value is destroyed only after every guard pinned on this domain when it was
        // replaced is gone, and `guard` is such a guard (checked above), so the value outlives
        // 'g; `&'g self` keeps the shared part, hence the current value, alive for 'g.
        unsafe { self.shared.current.load(Acquire, guard).deref() }
    }

    /// The domain to pin on.
    pub fn domain(&self) -> &Domain {
        &self.shared.domain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;

    fn deferred_counter(d: &Domain) -> Arc<AtomicUsize> {
        let ran = Arc::new(AtomicUsize::new(0));
        let r = Arc::clone(&ran);
        let g = d.pin();
        g.defer(move || {
            r.fetch_add(1, Relaxed);
        });
        g.flush();
        ran
    }

    #[test]
    fn deferred_work_runs_after_a_few_flushes_when_nobody_is_pinned() {
        let d = Domain::new();
        let ran = deferred_counter(&d);
        let got = d.reclaim(Duration::ZERO, || (ran.load(Relaxed) == 1).then_some(()));
        assert_eq!(got, Some(()));
    }

    #[test]
    fn a_pinned_reader_holds_reclamation_back_only_in_its_own_domain() {
        let (d, other) = (Domain::new(), Domain::new());
        // A guard on another domain (or on crossbeam's default collector) is irrelevant.
        let elsewhere = other.pin();
        let default = crossbeam_epoch::pin();
        let ran = deferred_counter(&d);
        assert!(d
            .reclaim(Duration::ZERO, || (ran.load(Relaxed) == 1).then_some(()))
            .is_some());
        drop((elsewhere, default));
        // A reader of this domain on another thread, pinned across the whole wait: nothing runs.
        let (pinned_tx, pinned_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let reader = {
            let d = d.clone();
            std::thread::spawn(move || {
                let g = d.pin();
                pinned_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                drop(g);
            })
        };
        pinned_rx.recv().unwrap();
        let ran = deferred_counter(&d);
        let got = d.reclaim(Duration::from_millis(1), || {
            (ran.load(Relaxed) == 1).then_some(())
        });
        assert_eq!(got, None);
        release_tx.send(()).unwrap();
        reader.join().unwrap();
        assert!(d
            .reclaim(Duration::ZERO, || (ran.load(Relaxed) == 1).then_some(()))
            .is_some());
    }

    #[test]
    fn published_values_are_replaced_and_old_ones_freed_after_readers_leave() {
        struct Counted(u32, Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.1.fetch_add(1, Relaxed);
            }
        }
        let d = Domain::new();
        let freed = Arc::new(AtomicUsize::new(0));
        let mut p = Published::new(Counted(1, Arc::clone(&freed)), &d);
        let v = p.view();
        let g = v.domain().pin();
        let old = v.get(&g);
        assert_eq!(old.0, 1);
        p.publish(Counted(2, Arc::clone(&freed)));
        // The reader pinned before keeps version 1 (not freed under it); a new read sees 2.
        assert_eq!((old.0, v.get(&g).0), (1, 2));
        assert!(d
            .reclaim(Duration::ZERO, || (freed.load(Relaxed) == 1).then_some(()))
            .is_none());
        drop(g);
        assert!(d
            .reclaim(Duration::ZERO, || (freed.load(Relaxed) == 1).then_some(()))
            .is_some());
        assert_eq!(v.get(&d.pin()).0, 2);
        drop((p, v));
        assert_eq!(
            freed.load(Relaxed),
            2,
            "the last value goes with the last handle"
        );
    }

    #[test]
    fn guards_know_their_domain_and_threads_register_once() {
        let d = Domain::new();
        let g = d.pin();
        assert!(d.owns(&g));
        assert!(!Domain::new().owns(&g));
        assert!(!d.owns(&crossbeam_epoch::pin()));
        drop(g);
        // Many domains on one thread: registrations stay bounded and still work.
        let many: Vec<Domain> = (0..3 * HANDLES_PER_THREAD).map(|_| Domain::new()).collect();
        for d in &many {
            assert!(d.owns(&d.pin()));
        }
        HANDLES.with(|h| assert!(h.borrow().len() <= HANDLES_PER_THREAD));
        assert_eq!(d.clone(), d);
        assert_ne!(Domain::new(), d);
    }
}
