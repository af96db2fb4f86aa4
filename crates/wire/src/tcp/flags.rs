//! The TCP control bits.

use core::{fmt, ops};

/// The TCP control bits: the 8 flag bits of byte 13 plus NS (RFC 3540; AccECN's AE) from
/// byte 12. The three reserved bits are kept apart (see [`Packet::reserved`]).
///
/// `Display` follows tcpdump: one letter per set flag in the order
/// `F S R P . U E W e` (FIN SYN RST PSH ACK URG ECE CWR NS), `none` when empty; so a SYN-ACK
/// prints `S.` and a pure ACK `.`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub(super) u16);

impl Flags {
    /// No more data from sender.
    pub const FIN: Flags = Flags(0x001);
    /// Synchronize sequence numbers.
    pub const SYN: Flags = Flags(0x002);
    /// Reset the connection.
    pub const RST: Flags = Flags(0x004);
    /// Push function.
    pub const PSH: Flags = Flags(0x008);
    /// Acknowledgment field is significant.
    pub const ACK: Flags = Flags(0x010);
    /// Urgent pointer field is significant.
    pub const URG: Flags = Flags(0x020);
    /// ECN-Echo (RFC 3168).
    pub const ECE: Flags = Flags(0x040);
    /// Congestion Window Reduced (RFC 3168).
    pub const CWR: Flags = Flags(0x080);
    /// ECN nonce sum (RFC 3540, historic), the AE bit of Accurate ECN.
    pub const NS: Flags = Flags(0x100);
    /// Every bit this type holds.
    pub const ALL: Flags = Flags(0x1ff);

    /// No flags.
    pub const fn empty() -> Flags {
        Flags(0)
    }

    /// The bits (NS is bit 8, FIN bit 0).
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Flags from bits; bits above NS are dropped.
    pub const fn from_bits_truncate(bits: u16) -> Flags {
        Flags(bits & Flags::ALL.0)
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set.
    pub const fn intersects(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }

    /// Both sets of flags (a `const` form of `|`).
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: Flags) {
        self.0 |= other.0;
    }

    /// Clears the flags of `other`.
    pub fn remove(&mut self, other: Flags) {
        self.0 &= !other.0;
    }

    /// Sets or clears the flags of `other`.
    pub fn set(&mut self, other: Flags, on: bool) {
        if on {
            self.insert(other)
        } else {
            self.remove(other)
        }
    }
}

impl ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl ops::BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

impl ops::BitAnd for Flags {
    type Output = Flags;
    fn bitand(self, rhs: Flags) -> Flags {
        Flags(self.0 & rhs.0)
    }
}

impl ops::BitAndAssign for Flags {
    fn bitand_assign(&mut self, rhs: Flags) {
        self.0 &= rhs.0;
    }
}

impl ops::Not for Flags {
    type Output = Flags;
    fn not(self) -> Flags {
        Flags(!self.0 & Flags::ALL.0)
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        // tcpdump's tcp_flag_values order, bit 0 upwards.
        const LETTERS: [char; 9] = ['F', 'S', 'R', 'P', '.', 'U', 'E', 'W', 'e'];
        for (bit, c) in LETTERS.iter().enumerate() {
            if self.0 & (1 << bit) != 0 {
                fmt::Write::write_char(f, *c)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags({self})")
    }
}
