//! Packet traces of loss recovery beyond RFC 6675: RACK (RFC 8985 §6) finding a lost
//! retransmission and tolerating reordering, tail loss probes (§7), proportional rate reduction
//! (RFC 6937), and undoing spurious retransmissions (Eifel, RFC 3522 / 4015; D-SACK, RFC 3708).
//! One connection with a SACK-capable peer; every segment the peer sends is written out.

mod common;
