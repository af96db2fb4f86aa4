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
//! The RustCrypto implementations pick AES-NI, CLMUL and AVX2 at run time. No call here
//! allocates; the keyed state is boxed once, when the SA is made.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecryptMut, BlockEncrypt, BlockEncryptMut, InnerIvInit, KeyInit};
use aes::{Aes128, Aes256};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

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

/// The keyed state of one SA's transform.
pub struct Cipher {
    algorithm: Algorithm,
    state: State,
}

enum State {
    AesGcm128(Box<Aes128Gcm>, [u8; SALT_LEN]),
    AesGcm256(Box<Aes256Gcm>, [u8; SALT_LEN]),
    ChaCha(Box<ChaCha20Poly1305>, [u8; SALT_LEN]),
    Cbc128(Box<Aes128>, Box<Hmac<Sha256>>),
    Cbc256(Box<Aes256>, Box<Hmac<Sha256>>),
    Null(Box<Hmac<Sha256>>),
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

fn hmac_key(k: &[u8]) -> Box<Hmac<Sha256>> {
    // HMAC takes keys of any length; the length was checked by the caller.
    Box::new(<Hmac<Sha256> as KeyInit>::new_from_slice(k).expect("HMAC accepts any key length"))
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

fn nonce(salt: &[u8; SALT_LEN], iv: &[u8]) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..SALT_LEN].copy_from_slice(salt);
    n[SALT_LEN..].copy_from_slice(iv);
    n
}

/// HMAC-SHA-256-128 over the ESP header, IV and ciphertext, then the ESN high half.
fn hmac_icv(mac: &Hmac<Sha256>, covered: &[u8], seq_hi: Option<u32>) -> Hmac<Sha256> {
    let mut m = mac.clone();
    m.update(covered);
    if let Some(hi) = seq_hi {
        m.update(&hi.to_be_bytes());
    }
    m
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
        let state = match algorithm {
            Algorithm::AesGcm128 => {
                let (k, salt) = split_salt(key);
                State::AesGcm128(Box::new(Aes128Gcm::new(GenericArray::from_slice(k))), salt)
            }
            Algorithm::AesGcm256 => {
                let (k, salt) = split_salt(key);
                State::AesGcm256(Box::new(Aes256Gcm::new(GenericArray::from_slice(k))), salt)
            }
            Algorithm::ChaCha20Poly1305 => {
                let (k, salt) = split_salt(key);
                State::ChaCha(
                    Box::new(ChaCha20Poly1305::new(GenericArray::from_slice(k))),
                    salt,
                )
            }
            Algorithm::AesCbc128HmacSha256 => State::Cbc128(
                Box::new(Aes128::new(GenericArray::from_slice(key))),
                hmac_key(auth_key),
            ),
            Algorithm::AesCbc256HmacSha256 => State::Cbc256(
                Box::new(Aes256::new(GenericArray::from_slice(key))),
                hmac_key(auth_key),
            ),
            Algorithm::NullHmacSha256 => State::Null(hmac_key(auth_key)),
        };
        Ok(Cipher { algorithm, state })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Writes the IV for the packet with 64-bit sequence number `seq` of SA `spi` into `iv`
    /// (`iv_len` bytes).
    pub fn write_iv(&self, spi: u32, seq: u64, iv: &mut [u8]) {
        match &self.state {
            State::AesGcm128(..) | State::AesGcm256(..) | State::ChaCha(..) => {
                iv.copy_from_slice(&seq.to_be_bytes())
            }
            State::Cbc128(aes, _) => cbc_iv(&**aes, spi, seq, iv),
            State::Cbc256(aes, _) => cbc_iv(&**aes, spi, seq, iv),
            State::Null(_) => {}
        }
    }

    /// Encrypts in place and writes the ICV. `esp` is the whole ESP region: header, IV (already
    /// written), plaintext (payload and trailer, aligned) and room for the ICV at the end.
    /// `seq_hi` is the high half of the sequence number under ESN.
    pub fn seal(&self, esp: &mut [u8], seq_hi: Option<u32>) {
        let iv_len = self.algorithm.iv_len();
        let text_end = esp.len() - ICV_LEN;
        let (covered, icv) = esp.split_at_mut(text_end);
        let (head, text) = covered.split_at_mut(ESP_HEADER_LEN + iv_len);
        let (hdr, iv) = head.split_at(ESP_HEADER_LEN);
        match &self.state {
            State::AesGcm128(aead, salt) => aead_seal(&**aead, salt, hdr, iv, text, icv, seq_hi),
            State::AesGcm256(aead, salt) => aead_seal(&**aead, salt, hdr, iv, text, icv, seq_hi),
            State::ChaCha(aead, salt) => aead_seal(&**aead, salt, hdr, iv, text, icv, seq_hi),
            State::Cbc128(aes, mac) => {
                cbc_encrypt(&**aes, iv, text);
                hmac_write(mac, covered, icv, seq_hi);
            }
            State::Cbc256(aes, mac) => {
                cbc_encrypt(&**aes, iv, text);
                hmac_write(mac, covered, icv, seq_hi);
            }
            State::Null(mac) => hmac_write(mac, covered, icv, seq_hi),
        }
    }

    /// Verifies the ICV of the ESP region `esp` (laid out as for [`Cipher::seal`]) and, if it
    /// verifies, decrypts the text in place. On a mismatch the text is left as it was or
    /// garbled, never trustworthy.
    pub fn open(&self, esp: &mut [u8], seq_hi: Option<u32>) -> Result<(), IcvMismatch> {
        let iv_len = self.algorithm.iv_len();
        let text_end = esp.len() - ICV_LEN;
        let (covered, icv) = esp.split_at_mut(text_end);
        let icv: &[u8] = icv;
        match &self.state {
            State::AesGcm128(aead, salt) => aead_open(&**aead, salt, covered, iv_len, icv, seq_hi),
            State::AesGcm256(aead, salt) => aead_open(&**aead, salt, covered, iv_len, icv, seq_hi),
            State::ChaCha(aead, salt) => aead_open(&**aead, salt, covered, iv_len, icv, seq_hi),
            State::Cbc128(aes, mac) => {
                hmac_verify(mac, covered, icv, seq_hi)?;
                cbc_decrypt(&**aes, covered, iv_len);
                Ok(())
            }
            State::Cbc256(aes, mac) => {
                hmac_verify(mac, covered, icv, seq_hi)?;
                cbc_decrypt(&**aes, covered, iv_len);
                Ok(())
            }
            State::Null(mac) => hmac_verify(mac, covered, icv, seq_hi),
        }
    }
}

fn aead_seal<A: AeadInPlace>(
    aead: &A,
    salt: &[u8; SALT_LEN],
    hdr: &[u8],
    iv: &[u8],
    text: &mut [u8],
    icv: &mut [u8],
    seq_hi: Option<u32>,
) {
    let (a, alen) = aad(hdr, seq_hi);
    let n = nonce(salt, iv);
    let tag = aead
        .encrypt_in_place_detached(GenericArray::from_slice(&n), &a[..alen], text)
        // Only fails beyond 2^36 bytes of text; an IPv4 datagram is at most 65535.
        .expect("ESP payload within AEAD limits");
    icv.copy_from_slice(&tag);
}

fn aead_open<A: AeadInPlace>(
    aead: &A,
    salt: &[u8; SALT_LEN],
    covered: &mut [u8],
    iv_len: usize,
    icv: &[u8],
    seq_hi: Option<u32>,
) -> Result<(), IcvMismatch> {
    let (head, text) = covered.split_at_mut(ESP_HEADER_LEN + iv_len);
    let (hdr, iv) = head.split_at(ESP_HEADER_LEN);
    let (a, alen) = aad(hdr, seq_hi);
    let n = nonce(salt, iv);
    aead.decrypt_in_place_detached(
        GenericArray::from_slice(&n),
        &a[..alen],
        text,
        GenericArray::from_slice(icv),
    )
    .map_err(|_| IcvMismatch)
}

fn hmac_write(mac: &Hmac<Sha256>, covered: &[u8], icv: &mut [u8], seq_hi: Option<u32>) {
    let full = hmac_icv(mac, covered, seq_hi).finalize().into_bytes();
    icv.copy_from_slice(&full[..ICV_LEN]);
}

fn hmac_verify(
    mac: &Hmac<Sha256>,
    covered: &[u8],
    icv: &[u8],
    seq_hi: Option<u32>,
) -> Result<(), IcvMismatch> {
    // Constant time, on the leftmost 128 bits (RFC 4868 §2.3).
    hmac_icv(mac, covered, seq_hi)
        .verify_truncated_left(icv)
        .map_err(|_| IcvMismatch)
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
    C: BlockEncryptMut + aes::cipher::BlockCipher + Clone,
{
    let len = text.len();
    cbc::Encryptor::<C>::inner_iv_init(aes.clone(), GenericArray::from_slice(iv))
        .encrypt_padded_mut::<NoPadding>(text, len)
        // The caller aligned the text to the block size.
        .expect("CBC text is whole blocks");
}

fn cbc_decrypt<C>(aes: &C, covered: &mut [u8], iv_len: usize)
where
    C: BlockDecryptMut + aes::cipher::BlockCipher + Clone,
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
            let mac = hmac_key(&key);
            let mut icv = [0u8; ICV_LEN];
            hmac_write(&mac, &data, &mut icv, None);
            assert_eq!(icv[..], hex(want)[..]);
            assert_eq!(hmac_verify(&mac, &data, &icv, None), Ok(()));
            icv[15] ^= 1;
            assert_eq!(hmac_verify(&mac, &data, &icv, None), Err(IcvMismatch));
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
