//! The whole-node fuzz harness (`support/node_fuzz/mod.rs`, the code the `node_host` and
//! `node_router` fuzz targets run) in plain `cargo test`: every seed script, seeded random
//! inputs and seeded mutations of the seeds, each checked for panics, leaked buffers and
//! counters that do not balance. Also keeps the seed corpus in `fuzz/seeds/` in step with the
//! scripts (`BURST_WRITE_SEEDS=1` rewrites it).

#[path = "support/node_fuzz/mod.rs"]
mod node_fuzz;

use burst_port::clock::SplitMix64;

fn run(target: &str, data: &[u8]) {
    match target {
        "host" => node_fuzz::host(data),
        _ => node_fuzz::router(data),
    }
}

#[test]
fn seed_scripts_pass() {
    for (name, target, data) in node_fuzz::seeds() {
        eprintln!("seed {target}/{name}: {} bytes", data.len());
        run(target, &data);
    }
}

#[test]
fn the_seed_corpus_matches_the_scripts() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let write = std::env::var_os("BURST_WRITE_SEEDS").is_some();
    for (name, target, data) in node_fuzz::seeds() {
        let dir = root.join(format!("node_{target}"));
        let path = dir.join(name);
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &data).unwrap();
        }
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (BURST_WRITE_SEEDS=1 cargo test --test node_fuzz writes it)",
                path.display()
            )
        });
        assert_eq!(
            on_disk,
            data,
            "{} differs from its script (BURST_WRITE_SEEDS=1 rewrites it)",
            path.display()
        );
    }
}

/// Random bytes: mostly zeros (ordinary choices) with random ones in between, as the
/// encoding reads zeros as the common case.
fn random_input(rng: &mut SplitMix64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            let r = rng.next_u64();
            if r % 3 == 0 {
                0
            } else {
                (r >> 8) as u8
            }
        })
        .collect()
}

#[test]
fn random_inputs_on_a_host() {
    let mut rng = SplitMix64::new(0x5eed_0001);
    for _ in 0..40 {
        let len = (rng.next_u64() % 300) as usize;
        let data = random_input(&mut rng, len);
        node_fuzz::host(&data);
    }
}

#[test]
fn random_inputs_on_a_router() {
    let mut rng = SplitMix64::new(0x5eed_0002);
    for _ in 0..40 {
        let len = (rng.next_u64() % 300) as usize;
        let data = random_input(&mut rng, len);
        node_fuzz::router(&data);
    }
}

#[test]
fn mutated_seed_scripts() {
    let mut rng = SplitMix64::new(0x5eed_0003);
    let seeds = node_fuzz::seeds();
    for _ in 0..60 {
        let (_, target, data) = &seeds[(rng.next_u64() % seeds.len() as u64) as usize];
        let mut d = data.clone();
        for _ in 0..1 + rng.next_u64() % 4 {
            if d.is_empty() {
                break;
            }
            let i = (rng.next_u64() % d.len() as u64) as usize;
            d[i] = rng.next_u64() as u8;
        }
        run(target, &d);
    }
}

/// An input the fuzzer found (fuzz/seeds/node_host/reset-in-accept-queue): a connection reset
/// while still in the application listener's accept queue stays Closed there until accepted;
/// the harness's ending application accepts and closes it, and the node ends idle.
#[test]
fn a_connection_reset_in_the_accept_queue_is_released_when_accepted() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds/node_host/reset-in-accept-queue");
    node_fuzz::host(&std::fs::read(&path).expect("the committed input"));
}

/// An input the fuzzer found (fuzz/seeds/node_host/finwait1-zero-window-silent-peer): an
/// active-open connection closed by the application behind the peer's zero window, the peer
/// then silent; its zero-window probes time out after `data_retries` unanswered ones instead
/// of keeping FIN-WAIT-1 for ever.
#[test]
fn a_closed_connection_behind_a_silent_zero_window_times_out() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds/node_host/finwait1-zero-window-silent-peer");
    node_fuzz::host(&std::fs::read(&path).expect("the committed input"));
}
