//! ESP transforms: the algorithms an SA can use and their keyed state.
//!
//! | algorithm | RFC | key material | IV | ICV | alignment |
//! | --- | --- | --- | --- | --- | --- |
//! | AES-GCM-128 | 4106 | 16-byte key ‖ 4-byte salt | 8 | 16 | 4 |
//! | AES-GCM-256 | 4106 | 32-byte key ‖ 4-byte salt | 8 | 16 | 4 |
//! | ChaCha20-Poly1305 | 7634 | 32-byte key ‖ 4-byte salt | 8 | 16 | 4 |
//! | AES-CBC-128 + HMAC-SHA-256-128 | 3602, 4868 | 16 + 32-byte auth key | 16 | 16 | 16 |
//! | AES-CBC-256 + HMAC-SHA-256-128 | 3602, 4868 | 32 + 32-byte auth key | 16 | 16 | 16 |
//! | NULL + HMAC-SHA-256-128 (debugging) | 2410, 4868 | 32-byte auth key | 0 | 16 | 4 |
//!
//! A [`Cipher`] works on one packet's ESP region in place, `[SPI, seq][IV][text][ICV]`: `seal`
//! encrypts the text (payload and trailer) and writes the ICV, `open` verifies the ICV and
//! decrypts. For the AEADs the nonce is salt ‖ IV and the AAD is SPI ‖ sequence number, with
//! the high 32 bits between them under ESN (RFC 4106 §5, RFC 7634 §2.1). For HMAC the ICV
//! covers the ESP header, IV and ciphertext, followed by the high 32 bits of the sequence
//! number under ESN (RFC 4303 §2.2.1).
//!
//! IVs are never random (sans-IO): the AEADs use the 64-bit sequence number, unique per SA
//! (RFC 4106 §3.1 suggests a counter); AES-CBC uses the sequence number encrypted under the
//! SA's own key, unpredictable to anyone without it (NIST SP 800-38A Appendix C).
//!
//! Each SA's keyed state is one [`Transform`] (a small trait: IV, seal, open), boxed once when
//! the SA is made; no call here allocates. The software transforms, chosen by measurement
//! (`cargo bench -p burst-ipsec --bench esp`, figures in docs/ipsec.md):
//!
//! * AES-GCM and ChaCha20-Poly1305 on `ring` (`LessSafeKey`, in place, explicit nonce and
//!   AAD): its assembly picks AES-NI/CLMUL, AVX2 VAES/VPCLMULQDQ and the stitched AVX2
//!   ChaCha20-Poly1305 paths at run time, 4–5× faster than RustCrypto's `aes-gcm` and
//!   `chacha20poly1305` at 1420 bytes (AES-GCM-128: about 0.22 µs a packet, ~6 GB/s);
//! * with the `ipsec-mb` feature (on with DPDK), AES-GCM on intel-ipsec-mb instead
//!   (`imb`: the AVX-512 VAES/VPCLMULQDQ code ipsec-secgw runs), `ring` remaining the
//!   fallback; [`aes_gcm_backend`] says which one SAs get;
//! * AES-CBC on RustCrypto's `aes` + `cbc` (AES-NI detected at run time; `ring` has no CBC,
//!   and CBC encryption is serial whatever the crate);
//! * HMAC-SHA-256 on RustCrypto's `hmac` + `sha2` (SHA-NI detected at run time), 4–20 %
//!   faster than `ring::hmac` on the same CPU.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{
    BlockCipher, BlockDecryptMut, BlockEncrypt, BlockEncryptMut, InnerIvInit, KeyInit,
};
use aes::{Aes128, Aes256};
use hmac::{Hmac, Mac};
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};
use serde::Deserialize;
use sha2::Sha256;

#[cfg(feature = "ipsec-mb")]
mod imb;

/// Length of the ICV of every supported algorithm.
pub const ICV_LEN: usize = 16;
/// Length of the ESP header (SPI and sequence number).
pub const ESP_HEADER_LEN: usize = burst_wire::ipsec::ESP_HEADER_LEN;
/// Length of the salt at the end of an AEAD's key material (RFC 4106 §8.1, RFC 7634 §4).
pub const SALT_LEN: usize = 4;
const AUTH_KEY_LEN: usize = 32;

/// An ESP transform (encryption and integrity together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Algorithm {
    /// AES-GCM with a 128-bit key and a 16-byte ICV (RFC 4106).
    #[serde(rename = "aes-gcm-128")]
    AesGcm128,
    /// AES-GCM with a 256-bit key and a 16-byte ICV (RFC 4106).
    #[serde(rename = "aes-gcm-256")]
    AesGcm256,
    /// ChaCha20-Poly1305 (RFC 7634).
    #[serde(rename = "chacha20-poly1305")]
    ChaCha20Poly1305,
    /// AES-CBC with a 128-bit key (RFC 3602) and HMAC-SHA-256-128 (RFC 4868).
    #[serde(rename = "aes-cbc-128-hmac-sha256")]
    AesCbc128HmacSha256,
    /// AES-CBC with a 256-bit key (RFC 3602) and HMAC-SHA-256-128 (RFC 4868).
    #[serde(rename = "aes-cbc-256-hmac-sha256")]
    AesCbc256HmacSha256,
    /// No encryption (RFC 2410), HMAC-SHA-256-128: the payload stays readable, for debugging.
    #[serde(rename = "null-hmac-sha256")]
    NullHmacSha256,
}

impl Algorithm {
    /// Every algorithm.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::AesGcm128,
        Algorithm::AesGcm256,
        Algorithm::ChaCha20Poly1305,
        Algorithm::AesCbc128HmacSha256,
        Algorithm::AesCbc256HmacSha256,
        Algorithm::NullHmacSha256,
    ];

    /// Length of the encryption key material (the salt included for the AEADs).
    pub const fn key_len(self) -> usize {
        match self {
            Algorithm::AesGcm128 => 16 + SALT_LEN,
            Algorithm::AesGcm256 | Algorithm::ChaCha20Poly1305 => 32 + SALT_LEN,
            Algorithm::AesCbc128HmacSha256 => 16,
            Algorithm::AesCbc256HmacSha256 => 32,
            Algorithm::NullHmacSha256 => 0,
        }
    }

    /// Length of the integrity key (0 for the AEADs).
    pub const fn auth_key_len(self) -> usize {
        match self {
            Algorithm::AesGcm128 | Algorithm::AesGcm256 | Algorithm::ChaCha20Poly1305 => 0,
            _ => AUTH_KEY_LEN,
        }
    }

    /// Length of the IV on the wire.
    pub const fn iv_len(self) -> usize {
        match self {
            Algorithm::AesGcm128 | Algorithm::AesGcm256 | Algorithm::ChaCha20Poly1305 => 8,
            Algorithm::AesCbc128HmacSha256 | Algorithm::AesCbc256HmacSha256 => 16,
            Algorithm::NullHmacSha256 => 0,
        }
    }

    /// Length of the ICV.
    pub const fn icv_len(self) -> usize {
        ICV_LEN
    }

    /// What payload ‖ padding ‖ pad length ‖ next header must be a multiple of: the cipher's
    /// block, at least the 4 bytes ESP requires (RFC 4303 §2.4).
    pub const fn align(self) -> usize {
        match self {
            Algorithm::AesCbc128HmacSha256 | Algorithm::AesCbc256HmacSha256 => 16,
            _ => 4,
        }
    }

    /// Whether a receiver must find the ciphertext a whole number of blocks.
    pub const fn is_block_cipher(self) -> bool {
        matches!(
            self,
            Algorithm::AesCbc128HmacSha256 | Algorithm::AesCbc256HmacSha256
        )
    }

    /// The algorithm of a configuration name ([`Algorithm::name`]).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The name used in configuration files.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::AesGcm128 => "aes-gcm-128",
            Algorithm::AesGcm256 => "aes-gcm-256",
            Algorithm::ChaCha20Poly1305 => "chacha20-poly1305",
            Algorithm::AesCbc128HmacSha256 => "aes-cbc-128-hmac-sha256",
            Algorithm::AesCbc256HmacSha256 => "aes-cbc-256-hmac-sha256",
            Algorithm::NullHmacSha256 => "null-hmac-sha256",
        }
    }
}

/// Key material of the wrong length for an algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadKeyLength {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Which key: "key" or "auth_key".
    pub which: &'static str,
    /// Length expected.
    pub want: usize,
    /// Length given.
    pub got: usize,
}

/// The ICV did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcvMismatch;

/// The keyed transform of one SA: seals and opens one packet's ESP region in place. A
/// software implementation for every [`Algorithm`] is chosen by [`Cipher::new`]; another (a
/// crypto device) can be put behind [`Cipher::with_transform`].
pub trait Transform: Send + Sync {
    /// Writes the IV for the packet with 64-bit sequence number `seq` of SA `spi` into `iv`.
    fn write_iv(&self, spi: u32, seq: u64, iv: &mut [u8]);
    /// Encrypts in place and writes the ICV (the layout of [`Cipher::seal`]).
    fn seal(&self, esp: &mut [u8], seq_hi: Option<u32>);
    /// Verifies the ICV and decrypts in place (the layout of [`Cipher::open`]).
    fn open(&self, esp: &mut [u8], seq_hi: Option<u32>) -> Result<(), IcvMismatch>;
}

/// The keyed state of one SA's transform.
pub struct Cipher {
    algorithm: Algorithm,
    transform: Box<dyn Transform>,
}

impl core::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the keys.
        f.debug_struct("Cipher")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn split_salt(key: &[u8]) -> (&[u8], [u8; SALT_LEN]) {
    let (k, s) = key.split_at(key.len() - SALT_LEN);
    (k, [s[0], s[1], s[2], s[3]])
}

/// The AAD of RFC 4106 §5 / RFC 7634 §2.1: SPI ‖ [seq hi ‖] seq lo.
fn aad(esp_header: &[u8], seq_hi: Option<u32>) -> ([u8; 12], usize) {
    let mut a = [0u8; 12];
    a[..4].copy_from_slice(&esp_header[..4]);
    match seq_hi {
        Some(hi) => {
            a[4..8].copy_from_slice(&hi.to_be_bytes());
            a[8..12].copy_from_slice(&esp_header[4..8]);
            (a, 12)
        }
        None => {
            a[4..8].copy_from_slice(&esp_header[4..8]);
            (a, 8)
        }
    }
}

/// An AEAD ESP packet (RFC 4106 §3, RFC 7634 §2) cut into what the cipher takes: the
/// additional data built from the header, the IV as on the wire, the text, and the ICV.
struct AeadParts<'a> {
    /// SPI ‖ (ESN high half) ‖ sequence number, `aad_len` bytes used.
    aad: [u8; 12],
    aad_len: usize,
    wire_iv: &'a [u8],
    text: &'a mut [u8],
    icv: &'a mut [u8],
}

/// Cuts `esp` (header ‖ 8-byte IV ‖ text ‖ 16-byte ICV) into its AEAD parts; the caller
/// checked it holds at least the header, IV and ICV.
fn aead_parts(esp: &mut [u8], seq_hi: Option<u32>) -> AeadParts<'_> {
    let text_end = esp.len() - ICV_LEN;
    let (covered, icv) = esp.split_at_mut(text_end);
    let (head, text) = covered.split_at_mut(ESP_HEADER_LEN + AEAD_IV_LEN);
    let (hdr, wire_iv) = head.split_at(ESP_HEADER_LEN);
    let (aad, aad_len) = aad(hdr, seq_hi);
    AeadParts {
        aad,
        aad_len,
        wire_iv,
        text,
        icv,
    }
}

fn nonce(salt: &[u8; SALT_LEN], iv: &[u8]) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[..SALT_LEN].copy_from_slice(salt);
    n[SALT_LEN..].copy_from_slice(iv);
    // Unique per key: the IV is the SA's sequence number, which never repeats (RFC 4106 §3.1).
    Nonce::assume_unique_for_key(n)
}

impl Cipher {
    /// Keys a transform. `key` is the encryption key material (the salt last for the AEADs),
    /// `auth_key` the integrity key (empty for the AEADs).
    pub fn new(algorithm: Algorithm, key: &[u8], auth_key: &[u8]) -> Result<Cipher, BadKeyLength> {
        let bad = |which, want, got| BadKeyLength {
            algorithm,
            which,
            want,
            got,
        };
        if key.len() != algorithm.key_len() {
            return Err(bad("key", algorithm.key_len(), key.len()));
        }
        if auth_key.len() != algorithm.auth_key_len() {
            return Err(bad("auth_key", algorithm.auth_key_len(), auth_key.len()));
        }
        let transform: Box<dyn Transform> = match algorithm {
            Algorithm::AesGcm128 => {
                fast_gcm(key).unwrap_or_else(|| Box::new(Aead::new(&aead::AES_128_GCM, key)))
            }
            Algorithm::AesGcm256 => {
                fast_gcm(key).unwrap_or_else(|| Box::new(Aead::new(&aead::AES_256_GCM, key)))
            }
            Algorithm::ChaCha20Poly1305 => Box::new(Aead::new(&aead::CHACHA20_POLY1305, key)),
            Algorithm::AesCbc128HmacSha256 => Box::new(CbcHmac {
                aes: Aes128::new(GenericArray::from_slice(key)),
                mac: HmacKey::new(auth_key),
            }),
            Algorithm::AesCbc256HmacSha256 => Box::new(CbcHmac {
                aes: Aes256::new(GenericArray::from_slice(key)),
                mac: HmacKey::new(auth_key),
            }),
            Algorithm::NullHmacSha256 => Box::new(NullHmac(HmacKey::new(auth_key))),
        };
        Ok(Cipher {
            algorithm,
            transform,
        })
    }

    /// Wraps another implementation of `algorithm` (its key lengths are its own to check).
    pub fn with_transform(algorithm: Algorithm, transform: Box<dyn Transform>) -> Cipher {
        Cipher {
            algorithm,
            transform,
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Writes the IV for the packet with 64-bit sequence number `seq` of SA `spi` into `iv`
    /// (`iv_len` bytes).
    #[inline]
    pub fn write_iv(&self, spi: u32, seq: u64, iv: &mut [u8]) {
        self.transform.write_iv(spi, seq, iv)
    }

    /// Encrypts in place and writes the ICV. `esp` is the whole ESP region: header, IV (already
    /// written), plaintext (payload and trailer, aligned) and room for the ICV at the end.
    /// `seq_hi` is the high half of the sequence number under ESN.
    #[inline]
    pub fn seal(&self, esp: &mut [u8], seq_hi: Option<u32>) {
        self.transform.seal(esp, seq_hi)
    }

    /// Verifies the ICV of the ESP region `esp` (laid out as for [`Cipher::seal`]) and, if it
    /// verifies, decrypts the text in place. On a mismatch the text is left as it was or
    /// garbled, never trustworthy.
    #[inline]
    pub fn open(&self, esp: &mut [u8], seq_hi: Option<u32>) -> Result<(), IcvMismatch> {
        self.transform.open(esp, seq_hi)
    }
}

/// AES-GCM on intel-ipsec-mb when the `ipsec-mb` feature is on and the library started.
fn fast_gcm(key: &[u8]) -> Option<Box<dyn Transform>> {
    #[cfg(feature = "ipsec-mb")]
    if let Some(g) = imb::ImbGcm::new(key) {
        return Some(g);
    }
    let _ = key;
    None
}

/// The AES-GCM implementation the SAs of this process get (ChaCha20-Poly1305 is always
/// `ring`'s): `intel-ipsec-mb VERSION (ARCH)` with the `ipsec-mb` feature, unless the library
/// failed to start or `BURST_AES_GCM=ring` is set, else `ring`. For the start-up log and
/// `burst ctl ipsec`.
pub fn aes_gcm_backend() -> String {
    #[cfg(feature = "ipsec-mb")]
    return match imb::backend() {
        Ok(name) => name.to_string(),
        Err(why) => format!("ring ({why})"),
    };
    #[cfg(not(feature = "ipsec-mb"))]
    "ring".to_string()
}

/// An AEAD of RFC 4106 / RFC 7634 on `ring`: 8-byte IV, nonce salt ‖ IV.
struct Aead {
    key: LessSafeKey,
    salt: [u8; SALT_LEN],
}

impl Aead {
    fn new(alg: &'static aead::Algorithm, key: &[u8]) -> Aead {
        let (k, salt) = split_salt(key);
        Aead {
            // The length was checked against the algorithm by the caller.
            key: LessSafeKey::new(UnboundKey::new(alg, k).expect("AEAD key of its length")),
            salt,
        }
    }
}

const AEAD_IV_LEN: usize = 8;

impl Transform for Aead {
    fn write_iv(&self, _spi: u32, seq: u64, iv: &mut [u8]) {
        iv.copy_from_slice(&seq.to_be_bytes())
    }

    fn seal(&self, esp: &mut [u8], seq_hi: Option<u32>) {
        let p = aead_parts(esp, seq_hi);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                nonce(&self.salt, p.wire_iv),
                Aad::from(&p.aad[..p.aad_len]),
                p.text,
            )
            // Only fails beyond 2^36 bytes of text; an IPv4 datagram is at most 65535.
            .expect("ESP payload within AEAD limits");
        p.icv.copy_from_slice(tag.as_ref());
    }

    fn open(&self, esp: &mut [u8], seq_hi: Option<u32>) -> Result<(), IcvMismatch> {
        // `ring` wants ciphertext ‖ tag contiguous: ESP's ICV follows the ciphertext.
        let (head, text_icv) = esp.split_at_mut(ESP_HEADER_LEN + AEAD_IV_LEN);
        let (hdr, iv) = head.split_at(ESP_HEADER_LEN);
        let (a, alen) = aad(hdr, seq_hi);
        self.key
            .open_in_place(nonce(&self.salt, iv), Aad::from(&a[..alen]), text_icv)
            .map(|_| ())
            .map_err(|_| IcvMismatch)
    }
}

/// HMAC-SHA-256 keyed once: the inner and outer states after the padded key, cloned per
/// packet (RustCrypto: a little faster than `ring::hmac` here, both with SHA-NI).
struct HmacKey(Hmac<Sha256>);

impl HmacKey {
    fn new(k: &[u8]) -> HmacKey {
        // HMAC takes keys of any length; the length was checked by the caller.
        HmacKey(<Hmac<Sha256> as KeyInit>::new_from_slice(k).expect("HMAC accepts any key length"))
    }

    /// HMAC-SHA-256 over the ESP header, IV and ciphertext, then the ESN high half
    /// (RFC 4303 §2.2.1).
    fn mac(&self, covered: &[u8], seq_hi: Option<u32>) -> Hmac<Sha256> {
        let mut m = self.0.clone();
        m.update(covered);
        if let Some(hi) = seq_hi {
            m.update(&hi.to_be_bytes());
        }
        m
    }

    /// Writes HMAC-SHA-256-128, the leftmost 128 bits (RFC 4868 §2.1).
    fn write(&self, covered: &[u8], icv: &mut [u8], seq_hi: Option<u32>) {
        icv.copy_from_slice(&self.mac(covered, seq_hi).finalize().into_bytes()[..ICV_LEN]);
    }

    /// Checks the ICV in constant time, on the leftmost 128 bits (RFC 4868 §2.3).
    fn verify(&self, covered: &[u8], icv: &[u8], seq_hi: Option<u32>) -> Result<(), IcvMismatch> {
        self.mac(covered, seq_hi)
            .verify_truncated_left(icv)
            .map_err(|_| IcvMismatch)
    }
}

/// AES-CBC (RFC 3602) with HMAC-SHA-256-128 (RFC 4868): encrypt, then MAC.
struct CbcHmac<C> {
    aes: C,
    mac: HmacKey,
}

const CBC_IV_LEN: usize = 16;

impl<C> Transform for CbcHmac<C>
where
    C: BlockEncrypt + BlockEncryptMut + BlockDecryptMut + BlockCipher + Clone + Send + Sync,
{
    fn write_iv(&self, spi: u32, seq: u64, iv: &mut [u8]) {
        cbc_iv(&self.aes, spi, seq, iv)
    }

    fn seal(&self, esp: &mut [u8], seq_hi: Option<u32>) {
        let text_end = esp.len() - ICV_LEN;
        let (covered, icv) = esp.split_at_mut(text_end);
        let (head, text) = covered.split_at_mut(ESP_HEADER_LEN + CBC_IV_LEN);
        cbc_encrypt(&self.aes, &head[ESP_HEADER_LEN..], text);
        self.mac.write(covered, icv, seq_hi);
    }

    fn open(&self, esp: &mut [u8], seq_hi: Option<u32>) -> Result<(), IcvMismatch> {
        let text_end = esp.len() - ICV_LEN;
        let (covered, icv) = esp.split_at_mut(text_end);
        self.mac.verify(covered, icv, seq_hi)?;
        cbc_decrypt(&self.aes, covered, CBC_IV_LEN);
        Ok(())
    }
}

/// NULL encryption (RFC 2410) with HMAC-SHA-256-128.
struct NullHmac(HmacKey);

impl Transform for NullHmac {
    fn write_iv(&self, _spi: u32, _seq: u64, _iv: &mut [u8]) {}

    fn seal(&self, esp: &mut [u8], seq_hi: Option<u32>) {
        let text_end = esp.len() - ICV_LEN;
        let (covered, icv) = esp.split_at_mut(text_end);
        self.0.write(covered, icv, seq_hi);
    }

    fn open(&self, esp: &mut [u8], seq_hi: Option<u32>) -> Result<(), IcvMismatch> {
        let text_end = esp.len() - ICV_LEN;
        let (covered, icv) = esp.split_at(text_end);
        self.0.verify(covered, icv, seq_hi)
    }
}

fn cbc_iv<C: BlockEncrypt>(aes: &C, spi: u32, seq: u64, iv: &mut [u8]) {
    let mut block = GenericArray::default();
    block[..8].copy_from_slice(&seq.to_be_bytes());
    block[8..12].copy_from_slice(&spi.to_be_bytes());
    aes.encrypt_block(&mut block);
    iv.copy_from_slice(&block);
}

fn cbc_encrypt<C>(aes: &C, iv: &[u8], text: &mut [u8])
where
    C: BlockEncryptMut + BlockCipher + Clone,
{
    let len = text.len();
    cbc::Encryptor::<C>::inner_iv_init(aes.clone(), GenericArray::from_slice(iv))
        .encrypt_padded_mut::<NoPadding>(text, len)
        // The caller aligned the text to the block size.
        .expect("CBC text is whole blocks");
}

fn cbc_decrypt<C>(aes: &C, covered: &mut [u8], iv_len: usize)
where
    C: BlockDecryptMut + BlockCipher + Clone,
{
    let (head, text) = covered.split_at_mut(ESP_HEADER_LEN + iv_len);
    let iv = &head[ESP_HEADER_LEN..];
    cbc::Decryptor::<C>::inner_iv_init(aes.clone(), GenericArray::from_slice(iv))
        .decrypt_padded_mut::<NoPadding>(text)
        // The caller checked the text is whole blocks.
        .expect("CBC text is whole blocks");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::hex;

    /// RFC 4868 §2.7.2.1, the HMAC-SHA-256-128 authentication test vectors (32-byte keys).
    #[test]
    fn rfc4868_auth256_vectors() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 4] = [
            (
                vec![0x0b; 32],
                b"Hi There".to_vec(),
                "198a607eb44bfbc69903a0f1cf2bbdc5",
            ),
            (
                b"JefeJefeJefeJefeJefeJefeJefeJefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "167f928588c5cc2eef8e3093caa0e87c",
            ),
            (
                vec![0xaa; 32],
                vec![0xdd; 50],
                "cdcb1220d1ecccea91e53aba3092f962",
            ),
            (
                (1..=32).collect(),
                vec![0xcd; 50],
                "372efcf9b40b35c2115b1346903d2ef4",
            ),
        ];
        for (key, data, want) in cases {
            let mac = HmacKey::new(&key);
            let mut icv = [0u8; ICV_LEN];
            mac.write(&data, &mut icv, None);
            assert_eq!(icv[..], hex(want)[..]);
            assert_eq!(mac.verify(&data, &icv, None), Ok(()));
            icv[15] ^= 1;
            assert_eq!(mac.verify(&data, &icv, None), Err(IcvMismatch));
        }
    }

    /// RFC 3602 §4, AES-CBC-128 cases 1 to 4 (encryption, then decryption back).
    #[test]
    fn rfc3602_aes_cbc_vectors() {
        let cases = [
            (
                "06a9214036b8a15b512e03d534120006",
                "3dafba429d9eb430b422da802c9fac41",
                b"Single block msg".to_vec(),
                "e353779c1079aeb82708942dbe77181a",
            ),
            (
                "c286696d887c9aa0611bbb3e2025a45a",
                "562e17996d093d28ddb3ba695a2e6f58",
                (0u8..32).collect(),
                "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1",
            ),
            (
                "6c3ea0477630ce21a2ce334aa746c2cd",
                "c782dc4c098c66cbd9cd27d825682c81",
                b"This is a 48-byte message (exactly 3 AES blocks)".to_vec(),
                "d0a02b3836451753d493665d33f0e8862dea54cdb293abc7506939276772f8d5\
                 021c19216bad525c8579695d83ba2684",
            ),
            (
                "56e47a38c5598974bc46903dba290349",
                "8ce82eefbea0da3c44699ed7db51b7d9",
                (0xa0u8..=0xdf).collect(),
                "c30e32ffedc0774e6aff6af0869f71aa0f3af07a9a31a9c684db207eb0ef8e4e\
                 35907aa632c3ffdf868bb7b29d3d46ad83ce9f9a102ee99d49a53e87f4c3da55",
            ),
        ];
        for (key, iv, plain, cipher) in cases {
            let aes = Aes128::new(GenericArray::from_slice(&hex(key)));
            let iv = hex(iv);
            let mut text = plain.clone();
            cbc_encrypt(&aes, &iv, &mut text);
            assert_eq!(text, hex(cipher));
            let mut covered = [0u8; ESP_HEADER_LEN].to_vec();
            covered.extend_from_slice(&iv);
            covered.extend_from_slice(&text);
            cbc_decrypt(&aes, &mut covered, 16);
            assert_eq!(covered[24..], plain[..]);
        }
    }

    #[test]
    fn key_lengths_are_checked() {
        for alg in Algorithm::ALL {
            let key = vec![7u8; alg.key_len()];
            let auth = vec![9u8; alg.auth_key_len()];
            assert!(Cipher::new(alg, &key, &auth).is_ok(), "{}", alg.name());
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
            let long = vec![7u8; alg.key_len() + 1];
            assert_eq!(
                Cipher::new(alg, &long, &auth).unwrap_err(),
                BadKeyLength {
                    algorithm: alg,
                    which: "key",
                    want: alg.key_len(),
                    got: alg.key_len() + 1
                }
            );
            let auth_bad = vec![9u8; alg.auth_key_len() + 4];
            assert_eq!(
                Cipher::new(alg, &key, &auth_bad).unwrap_err().which,
                "auth_key"
            );
        }
    }

    #[test]
    fn ivs_are_unique_per_sequence_number_and_the_debug_form_hides_keys() {
        for alg in Algorithm::ALL {
            let c =
                Cipher::new(alg, &vec![1; alg.key_len()], &vec![2; alg.auth_key_len()]).unwrap();
            let mut a = vec![0u8; alg.iv_len()];
            let mut b = vec![0u8; alg.iv_len()];
            c.write_iv(0x100, 1, &mut a);
            c.write_iv(0x100, 2, &mut b);
            assert!(alg.iv_len() == 0 || a != b, "{}", alg.name());
            let dbg = format!("{c:?}");
            assert!(!dbg.contains("1, 1") && dbg.contains("algorithm"), "{dbg}");
        }
    }

    #[test]
    fn seal_then_open_restores_the_text_and_any_flipped_bit_fails() {
        for alg in Algorithm::ALL {
            let c =
                Cipher::new(alg, &vec![3; alg.key_len()], &vec![4; alg.auth_key_len()]).unwrap();
            for esn in [None, Some(0x0102_0304)] {
                let text: Vec<u8> = (0..32u8).collect();
                let mut esp = vec![0u8; ESP_HEADER_LEN + alg.iv_len()];
                esp[..8].copy_from_slice(&[0, 0, 1, 0, 0, 0, 0, 9]);
                c.write_iv(0x100, 9, &mut esp[8..]);
                esp.extend_from_slice(&text);
                esp.extend_from_slice(&[0xa5; ICV_LEN]);
                c.seal(&mut esp, esn);
                let sealed = esp.clone();
                if alg != Algorithm::NullHmacSha256 {
                    assert_ne!(&esp[8 + alg.iv_len()..][..32], &text[..], "{}", alg.name());
                }
                c.open(&mut esp, esn).unwrap();
                assert_eq!(&esp[8 + alg.iv_len()..][..32], &text[..]);
                // The high half of an ESN enters the ICV.
                let mut e = sealed.clone();
                assert_eq!(
                    c.open(&mut e, esn.map_or(Some(1), |h| Some(h + 1))),
                    Err(IcvMismatch)
                );
                for bit in [0, 5 * 8 + 3, sealed.len() * 8 - 1, (sealed.len() - 20) * 8] {
                    let mut e = sealed.clone();
                    e[bit / 8] ^= 1 << (bit % 8);
                    assert_eq!(
                        c.open(&mut e, esn),
                        Err(IcvMismatch),
                        "{} bit {bit}",
                        alg.name()
                    );
                }
            }
        }
    }
}
