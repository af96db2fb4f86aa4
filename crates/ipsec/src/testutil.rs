//! Helpers shared by the unit tests.

/// Bytes from hex, ignoring whitespace.
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let d: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(d.len() % 2 == 0, "odd hex length");
    d.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}
