//! The [`AppRunner`]: one per worker, it turns the worker's socket readiness into [`Event`]s
//! for the app, fires its timers and publishes its counters; and [`run`], the entry point of
//! an application binary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use burst_port::{Nanos, Queue};
use burst_stack::timer::{TimerId, TimerWheel};
use burst_tcp::{Events, ListenerHandle, SocketHandle};

use super::{App, AppError, Cx, Event};
use crate::worker::Worker;

/// Application limits (`[app]`) and the TCP settings an app's calls use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppConfig {
    /// Timers pending at once per worker (`[app] max_timers`).
    pub max_timers: usize,
    /// Datagrams waiting in each worker's steering queue (`[app] handoff_queue`).
    pub handoff_queue: usize,
    /// Accept queue of [`Cx::listen`] (`[tcp] backlog`).
    pub backlog: usize,
    /// Ephemeral ports for active opens and UDP port 0 (`[tcp] ephemeral_ports`).
    pub ephemeral: (u16, u16),
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            max_timers: 4096,
            handoff_queue: 1024,
            backlog: 128,
            ephemeral: burst_tcp::stack::DEFAULT_EPHEMERAL_PORTS,
        }
    }
}

/// Timer resolution: fine enough for request timeouts and pacing, coarse enough that a
/// level-0 slot spans 25.6 ms.
const TIMER_TICK: Nanos = Nanos::from_micros(100);

/// What the runner keeps for its app's calls (listeners, timers, port choice).
pub(crate) struct AppState {
    pub(super) listeners: Vec<ListenerHandle>,
    pub(super) timers: TimerWheel<u64>,
    pub(super) fired: Vec<(TimerId, u64)>,
    pub(super) finished: bool,
    pub(super) workers: usize,
    pub(super) backlog: usize,
    pub(super) ephemeral: (u16, u16),
    pub(super) udp_next: u16,
    /// Per connection slot: accepted and its CONNECTED not yet seen (it is not an active
    /// open's `Connected`).
    passive: Vec<bool>,
}

/// An app's counters as the control thread reads them (names fixed at start).
#[derive(Debug, Default)]
pub struct AppStats {
    names: Vec<&'static str>,
    values: Vec<AtomicU64>,
}

impl AppStats {
    /// Names (prefixed `app.`) and current values.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        self.names
            .iter()
            .zip(&self.values)
            .map(|(n, v)| (format!("app.{n}"), v.load(Ordering::Relaxed)))
            .collect()
    }
}

/// One worker's app and its state.
pub struct AppRunner<A> {
    app: A,
    st: AppState,
    stats: Arc<AppStats>,
    last_publish: Nanos,
    unpublished: bool,
}

impl<A> AppRunner<A> {
    /// A runner for `app` on one of `workers` workers.
    pub fn new(
        app: A,
        cfg: &AppConfig,
        workers: usize,
        max_connections: usize,
        now: Nanos,
    ) -> Self {
        AppRunner {
            app,
            st: AppState {
                listeners: Vec::new(),
                timers: TimerWheel::new(cfg.max_timers.max(1), TIMER_TICK, now),
                fired: Vec::with_capacity(cfg.max_timers.max(1)),
                finished: false,
                workers: workers.max(1),
                backlog: cfg.backlog,
                ephemeral: cfg.ephemeral,
                udp_next: cfg.ephemeral.0,
                passive: vec![false; max_connections],
            },
            stats: Arc::new(AppStats::default()),
            last_publish: Nanos::ZERO,
            unpublished: true,
        }
    }

    /// The app.
    pub fn app(&self) -> &A {
        &self.app
    }

    /// The app, mutably (tests drive it between steps).
    pub fn app_mut(&mut self) -> &mut A {
        &mut self.app
    }

    /// Whether the app called [`Cx::finish`].
    pub fn finished(&self) -> bool {
        self.st.finished
    }

    /// The app's published counters.
    pub fn stats(&self) -> Arc<AppStats> {
        self.stats.clone()
    }

    /// Runs `f` with the app and a context on `w` at `now`: a test's way to make calls
    /// between steps as the app would.
    pub fn with<Q: Queue, R>(
        &mut self,
        w: &mut Worker<Q>,
        now: Nanos,
        f: impl FnOnce(&mut A, &mut Cx<'_, Q>) -> R,
    ) -> R {
        let mut cx = Cx {
            w,
            st: &mut self.st,
            now,
        };
        let r = f(&mut self.app, &mut cx);
        w.flush_app(now);
        r
    }

    /// Starts the app on worker `w`; fixes the names of its counters.
    pub fn start<Q: Queue>(&mut self, w: &mut Worker<Q>, now: Nanos) -> Result<(), AppError>
    where
        A: App<Q>,
    {
        let mut names = Vec::new();
        self.app.counters(&mut |n, _| names.push(n));
        self.stats = Arc::new(AppStats {
            values: names.iter().map(|_| AtomicU64::new(0)).collect(),
            names,
        });
        let r = {
            let mut cx = Cx {
                w: &mut *w,
                st: &mut self.st,
                now,
            };
            self.app.start(&mut cx)
        };
        w.flush_app(now);
        r
    }

    /// One round after a poll of `w`: accepted connections, socket events, expired timers,
    /// then [`App::poll`]; what the app queued is sent. Returns the events delivered.
    pub fn round<Q: Queue>(&mut self, w: &mut Worker<Q>, now: Nanos) -> usize
    where
        A: App<Q>,
    {
        let mut n = 0;
        let mut cx = Cx {
            w: &mut *w,
            st: &mut self.st,
            now,
        };
        // Accept on the app's listeners (a handful; their queues were filled by the poll).
        let mut i = 0;
        while i < cx.st.listeners.len() {
            let l = cx.st.listeners[i];
            while let Some(conn) = cx.w.tcp().accept(l) {
                if let Some(p) = cx.st.passive.get_mut(conn.index()) {
                    *p = true;
                }
                n += 1;
                self.app
                    .on_event(&mut cx, Event::Accepted { listener: l, conn });
            }
            i += 1;
        }
        while let Some((h, ev)) = cx.w.tcp_take_ready() {
            n += 1;
            deliver_tcp(&mut self.app, &mut cx, h, ev);
        }
        while let Some(s) = cx.w.udp.next_ready() {
            n += 1;
            self.app.on_event(&mut cx, Event::Datagram(s));
        }
        if cx.st.timers.next_deadline().is_some_and(|d| d <= now) {
            let mut fired = core::mem::take(&mut cx.st.fired);
            cx.st
                .timers
                .advance(now, |id, token| fired.push((id, token)));
            for (id, token) in fired.drain(..) {
                n += 1;
                self.app.on_event(&mut cx, Event::Timer { id, token });
            }
            cx.st.fired = fired;
        }
        self.app.poll(&mut cx);
        w.flush_app(now);
        // Like the worker's counters: a few times a second, and once things calm down so
        // what an operator reads after a burst is current.
        self.unpublished |= n > 0;
        if now >= self.last_publish + Nanos::from_millis(50) || (n == 0 && self.unpublished) {
            self.last_publish = now;
            self.unpublished = false;
            let values = &self.stats.values;
            let mut k = 0;
            self.app.counters(&mut |_, v| {
                if let Some(slot) = values.get(k) {
                    slot.store(v, Ordering::Relaxed);
                }
                k += 1;
            });
        }
        n
    }

    /// Stops the app (its last calls are sent).
    pub fn stop<Q: Queue>(&mut self, w: &mut Worker<Q>, now: Nanos)
    where
        A: App<Q>,
    {
        let mut cx = Cx {
            w: &mut *w,
            st: &mut self.st,
            now,
        };
        self.app.stop(&mut cx);
        w.flush_app(now);
    }
}

/// One connection's merged events, in their natural order. A handle the app closed during an
/// earlier event of the same batch gets no more.
fn deliver_tcp<Q: Queue, A: App<Q>>(app: &mut A, cx: &mut Cx<'_, Q>, h: SocketHandle, ev: Events) {
    let live = |cx: &Cx<'_, Q>| cx.w.tcp_ref().state(h).is_ok();
    if ev.contains(Events::CONNECTED) {
        let passive = cx
            .st
            .passive
            .get_mut(h.index())
            .map(core::mem::take)
            .unwrap_or(false);
        if !passive {
            app.on_event(cx, Event::Connected(h));
        }
    }
    if ev.contains(Events::READABLE) && live(cx) {
        app.on_event(cx, Event::Readable(h));
    }
    if ev.contains(Events::WRITABLE) && live(cx) {
        app.on_event(cx, Event::Writable(h));
    }
    if ev.contains(Events::READ_CLOSED) && live(cx) {
        app.on_event(cx, Event::PeerClosed(h));
    }
    if (ev.contains(Events::CLOSED) || ev.contains(Events::ERROR)) && live(cx) {
        let error = cx.w.tcp_ref().error(h).ok().flatten();
        let closed = ev.contains(Events::CLOSED)
            || cx
                .w
                .tcp_ref()
                .state(h)
                .is_ok_and(|s| s == burst_tcp::State::Closed);
        if closed {
            app.on_event(cx, Event::Closed { conn: h, error });
        }
    }
}

/// Runs an application binary: loads the configuration at `config` (the same file as
/// `burst run`), opens its DPDK ports, starts `make(worker)` on every worker and serves `burst
/// ctl`, until SIGINT/SIGTERM or until every worker's app called [`Cx::finish`].
#[cfg(feature = "dpdk")]
pub fn run<A, F>(config: &std::path::Path, make: F) -> Result<(), String>
where
    A: App<burst_port::dpdk::DpdkQueue> + Send + 'static,
    F: FnMut(&crate::config::Config, usize) -> A,
{
    let cfg = crate::config::Config::load(config).map_err(|e| e.to_string())?;
    if cfg.backend != crate::config::Backend::Dpdk {
        return Err(format!(
            "{}: [backend] kind must be \"dpdk\" to run an application on ports",
            config.display()
        ));
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    crate::daemon::on_signals(&stop)?;
    crate::daemon::run_app(&cfg, stop, make)
}

/// Without DPDK there are no ports to run on: says how to build.
#[cfg(not(feature = "dpdk"))]
pub fn run<A, F>(config: &std::path::Path, make: F) -> Result<(), String>
where
    F: FnMut(&crate::config::Config, usize) -> A,
{
    let _ = make;
    Err(format!(
        "{}: this build has no DPDK: build with `--features dpdk` to run on ports",
        config.display()
    ))
}

/// Set by [`run`]'s signal handlers; also usable to stop a node from another thread.
pub type Stopper = Arc<std::sync::atomic::AtomicBool>;
