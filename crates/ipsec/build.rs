//! With the `ipsec-mb` feature: compiles the shim that reads intel-ipsec-mb's AES-GCM entry
//! points (csrc/imb_shim.c) and links libIPSec_MB (Debian's libipsec-mb-dev, which
//! libdpdk-dev depends on). Without it there is nothing to build.

fn main() {
    #[cfg(feature = "ipsec-mb")]
    {
        println!("cargo:rerun-if-changed=csrc/imb_shim.c");
        cc::Build::new()
            .file("csrc/imb_shim.c")
            .warnings(true)
            .compile("burst_imb_shim");
        println!("cargo:rustc-link-lib=dylib=IPSec_MB");
    }
}
