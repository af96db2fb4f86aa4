//! The control socket server: accepts `burst ctl` connections on a UNIX socket and relays each
//! request to the control thread, streaming its response lines back.

use std::io::BufReader;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::control::{Command, Reply};
use crate::ctl::{self, Response};

/// Captured frame bytes (hex, as sent) a connection may have queued but not yet written: 64
/// MiB, twice the frame bytes one worker's capture slots hold.
pub const BACKLOG_BYTES: u64 = 2 * crate::capture::SLOT_BYTES as u64;

/// Serves `path` until `stop` is set; removes the socket file when it ends.
pub fn serve(
    path: &Path,
    commands: mpsc::Sender<Command>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is in use by another burst", path.display()),
            ));
        }
        // A stale socket left by a crash.
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    listener.set_nonblocking(true)?;
    let path: PathBuf = path.to_path_buf();
    std::thread::Builder::new()
        .name("burst-ctl".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let commands = commands.clone();
                        let _ = std::thread::Builder::new()
                            .name("burst-ctl-conn".into())
                            .spawn(move || {
                                if let Err(e) = connection(s, &commands) {
                                    tracing::debug!("control connection: {e}");
                                }
                            });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        // Not the packet path: a short sleep keeps accept latency low and the core free.
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => {
                        tracing::warn!("control socket: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
            let _ = std::fs::remove_file(&path);
        })
}

fn connection(s: UnixStream, commands: &mpsc::Sender<Command>) -> std::io::Result<()> {
    s.set_nonblocking(false)?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    let Some(req) = ctl::read_request(&mut r)? else {
        return Ok(());
    };
    let (tx, rx) = mpsc::channel();
    // Captured frames sent to us but not yet written to the client: a capture pauses its
    // draining past the limit instead of queueing without bound for a slow reader.
    let backlog = Arc::new(AtomicU64::new(0));
    let reply = Reply::with_backlog(tx, backlog.clone(), BACKLOG_BYTES);
    if commands.send(Command { req, reply }).is_err() {
        return ctl::write_response(
            &mut w,
            &Response::Error {
                message: "burst is shutting down".into(),
            },
        );
    }
    let r = relay(rx, &mut w, &backlog);
    // The client is gone or served, and `rx` with it: a capture paused on this backlog
    // resumes, finds the channel closed and ends (instead of waiting for its deadline).
    backlog.store(0, Ordering::Relaxed);
    r
}

/// Writes the response lines from `rx` to the client until the final one.
fn relay(
    rx: mpsc::Receiver<Response>,
    w: &mut UnixStream,
    backlog: &AtomicU64,
) -> std::io::Result<()> {
    loop {
        match rx.recv_timeout(Duration::from_secs(600)) {
            Ok(resp) => {
                ctl::write_response(w, &resp)?;
                backlog.fetch_sub(resp.backlog_bytes(), Ordering::Relaxed);
                if resp.is_final() {
                    return Ok(());
                }
            }
            Err(_) => {
                return ctl::write_response(
                    w,
                    &Response::Error {
                        message: "no answer from the control thread".into(),
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::ctl::Request;

    /// `[control] socket`: the control socket is served at the path the file names (not at
    /// the default), a client's request reaches the control thread through it, and the file
    /// goes when the server stops.
    #[test]
    fn the_socket_is_served_at_the_configured_path() {
        let dir = std::env::temp_dir().join(format!("burst-server-test-{}", std::process::id()));
        let path = dir.join("ctl.sock");
        let base = "[backend]\nkind = \"mem\"\n[[port]]\nname = \"p0\"\n\
            addresses = [\"198.18.0.2/24\"]\n";
        let default = Config::parse(base, "t.toml").unwrap().control.socket;
        let text = format!("{base}[control]\nsocket = \"{}\"\n", path.display());
        let c = Config::parse(&text, "t.toml").unwrap();
        assert_eq!(c.control.socket, path);
        assert_ne!(default, path);
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let server = serve(&c.control.socket, tx, stop.clone()).unwrap();
        assert!(path.exists());
        // The control thread's side: one request, one final answer.
        let control = std::thread::spawn(move || {
            let cmd: Command = rx.recv().unwrap();
            assert_eq!(cmd.req, Request::ArpShow);
            cmd.reply
                .send(Response::Arp {
                    entries: Vec::new(),
                })
                .unwrap();
        });
        let mut got = Vec::new();
        ctl::request(&path, &Request::ArpShow, |r| {
            got.push(matches!(r, Response::Arp { entries } if entries.is_empty()));
        })
        .unwrap();
        control.join().unwrap();
        assert_eq!(got, [true]);
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap();
        assert!(!path.exists(), "removed when the server ends");
        let _ = std::fs::remove_dir(&dir);
    }
}
