//! Loads the frames of the Linux-captured pcap fixtures under `tests/data/linux/`.

#![allow(dead_code, unreachable_pub)]

use std::fs::File;
use std::path::{Path, PathBuf};

use pcap_file::pcap::PcapReader;

/// One captured frame: file name, 1-based frame number, bytes.
pub struct Captured {
    /// The pcap file name (no directory).
    pub file: String,
    /// Frame number within the file, from 1 (as tshark numbers them).
    pub number: usize,
    /// The whole frame.
    pub data: Vec<u8>,
}

/// The fixture directory.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/linux")
}

/// Every frame of one fixture file.
pub fn load(file: &str) -> Vec<Captured> {
    let path = dir().join(file);
    let f = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = PcapReader::new(f).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            p.orig_len as usize,
            p.data.len(),
            "{file}: frame {} was cut by the snaplen",
            out.len() + 1
        );
        out.push(Captured {
            file: file.to_string(),
            number: out.len() + 1,
            data: p.data.into_owned(),
        });
    }
    out
}

/// Every frame of every fixture file, in file-name order.
pub fn all() -> Vec<Captured> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("fixture directory exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    names.sort();
    names.iter().flat_map(|n| load(n)).collect()
}
