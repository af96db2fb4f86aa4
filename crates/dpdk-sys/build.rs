//! Generates the bindings to the system DPDK (found with pkg-config) and compiles the C shim
//! with DPDK's own cflags, so its inline functions are built exactly as the library expects.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=csrc/wrapper.h");
    println!("cargo:rerun-if-changed=csrc/shim.h");
    println!("cargo:rerun-if-changed=csrc/shim.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    // Link flags: every library `pkg-config --libs libdpdk` names (shared). The poll-mode
    // drivers are not among them: EAL dlopen()s every plugin in its compiled-in driver
    // directory (RTE_EAL_PMD_PATH, .../dpdk/pmds-23.0) at rte_eal_init, so they need no link.
    let lib = pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
        .expect("libdpdk not found by pkg-config (install libdpdk-dev 22.11)");
    // The version is exported for reports (dpdk_sys::DPDK_VERSION).
    println!("cargo:rustc-env=BURST_DPDK_VERSION={}", lib.version);
    // rte_eth_from_rings (used to cross-connect net_ring ports) lives in the net_ring PMD.
    println!("cargo:rustc-link-lib=dylib=rte_net_ring");

    // Compile flags exactly as DPDK asks: include paths, `-include rte_config.h`, `-march=`.
    let pc = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
    let out = Command::new(pc)
        .args(["--cflags", "libdpdk"])
        .output()
        .expect("run pkg-config --cflags libdpdk");
    assert!(out.status.success(), "pkg-config --cflags libdpdk failed");
    let cflags: Vec<String> = String::from_utf8(out.stdout)
        .expect("pkg-config output is UTF-8")
        .split_whitespace()
        .map(str::to_owned)
        .collect();

    let mut build = cc::Build::new();
    build
        .file("csrc/shim.c")
        .include("csrc")
        .opt_level(3)
        .warnings(true);
    // `-include x.h` is two tokens; cc::Build::flag takes them one at a time, in order.
    for f in &cflags {
        build.flag(f);
    }
    build.compile("burst_dpdk_shim");

    let mut bg = bindgen::Builder::default()
        .header("csrc/wrapper.h")
        .clang_arg("-Icsrc")
        .clang_args(&cflags)
        // Only the API families the backend uses (types they need follow automatically):
        // allowlisting all of rte_.* doubles the bindings for nothing.
        .allowlist_function(FUNCTIONS)
        .allowlist_function("burst_.*")
        .allowlist_var(VARS)
        .allowlist_var("burst_.*")
        .allowlist_type("rte_eth_.*|rte_mbuf|rte_mempool|rte_ring|rte_ether_addr")
        // Tracepoint and internal helpers we never call.
        .blocklist_function("rte_.*_trace_.*|__rte_.*|rte_eth_.*_callback.*")
        .derive_default(true)
        .derive_debug(false)
        .layout_tests(true)
        .prepend_enum_name(false)
        .default_enum_style(bindgen::EnumVariation::Consts)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    // Packed structs holding an aligned member (rte_ether_addr is __rte_aligned(2)) cannot be
    // expressed in Rust (E0588: packed type cannot transitively contain a #[repr(align)] type).
    for t in OPAQUE {
        bg = bg.opaque_type(t);
    }
    let bindings = bg.generate().expect("bindgen over the DPDK headers");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("bindings.rs");
    bindings.write_to_file(out).expect("write bindings.rs");
    let _ = lib;
}

/// Types bindgen must treat as opaque blobs (see the E0588 note in `main`).
const OPAQUE: &[&str] = &["rte_arp_hdr", "rte_arp_ipv4", "rte_l2tpv2_combined_msg_hdr"];

/// The C functions bound: EAL, ethdev control, mbuf/mempool/ring management, lcores, time.
const FUNCTIONS: &str = "rte_eal_.*|rte_eth_.*|rte_pktmbuf_.*|rte_mempool_.*|rte_mbuf_.*|\
rte_lcore_.*|rte_socket_id|rte_socket_count|rte_get_main_lcore|rte_get_tsc_hz|rte_strerror|\
rte_ring_create|rte_ring_free|rte_ring_lookup|rte_dev_probe|rte_dev_remove|rte_exit|\
rte_thread_register|rte_thread_unregister";

/// The macros bound (bindgen only evaluates object-like ones; RTE_BIT64(n) ones are skipped or
/// typed u32, which is why `flags.rs` defines the 64-bit flags by hand).
const VARS: &str = "RTE_ETH_.*|RTE_MBUF_.*|RTE_PTYPE_.*|RTE_MAX_.*|RTE_ETHER_.*|\
RTE_PKTMBUF_.*|RTE_CACHE_LINE_SIZE|SOCKET_ID_ANY|LCORE_ID_ANY|RTE_MEMPOOL_.*|RING_F_.*|\
RTE_RING_.*";
