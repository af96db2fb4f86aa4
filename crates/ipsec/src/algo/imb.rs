//! AES-GCM-128/256 on intel-ipsec-mb (feature `ipsec-mb`), the library DPDK's `crypto_aesni_mb`
//! PMD and ipsec-secgw's `cpu-crypto` mode run: on a CPU with AVX-512 VAES/VPCLMULQDQ it
//! encrypts and hashes 16 blocks per loop where `ring` (AVX2 VAES) does 8.
//!
//! The library's direct API: a key expanded once per SA (`gcm_key_data`: round keys and the
//! powers of the hash key, [`KeyData`]) and one call per packet that encrypts or decrypts in
//! place and computes the tag (`aes_gcm_enc_128` and friends, with a `gcm_context_data` on
//! the stack). Which implementation (SSE, AVX2, AVX-512, VAES AVX-512) is chosen by
//! `init_mb_mgr_auto` from the CPU; the multi-buffer manager holds only those function
//! pointers for this API (its job queues are not used), so one manager is made per process,
//! its pointers copied by csrc/imb_shim.c and the manager freed: the pointers are plain code
//! addresses in the library, called from any worker without locks or per-core state. If the
//! library cannot be initialised, or `BURST_AES_GCM=ring` is set, the SAs use `ring`.

use core::ffi::{c_char, c_int, c_void, CStr};
use core::mem::MaybeUninit;
use std::sync::OnceLock;

use super::{aead_parts, split_salt, IcvMismatch, Transform, AEAD_IV_LEN, ESP_HEADER_LEN, ICV_LEN};

/// `struct gcm_key_data` of intel-ipsec-mb 1.3: 240 bytes of round keys and up to 768 of
/// hash-key powers, 64-byte aligned (1024 bytes). The shim reports the header's size and
/// alignment and the backend refuses to start if they do not fit.
#[repr(C, align(64))]
struct KeyData([u8; 1024]);

/// `struct gcm_context_data` (88 bytes in 1.3), per call, on the stack.
#[repr(C, align(16))]
struct Context([u8; 128]);

type PreFn = unsafe extern "C" fn(key: *const c_void, key_data: *mut KeyData);
type EncDecFn = unsafe extern "C" fn(
    key_data: *const KeyData,
    ctx: *mut Context,
    out: *mut u8,
    input: *const u8,
    len: u64,
    iv: *const u8,
    aad: *const u8,
    aad_len: u64,
    tag: *mut u8,
    tag_len: u64,
);

/// `struct burst_imb_gcm` of csrc/imb_shim.c.
#[repr(C)]
struct ShimGcm {
    arch: c_int,
    key_size: usize,
    key_align: usize,
    ctx_size: usize,
    ctx_align: usize,
    pre128: Option<PreFn>,
    enc128: Option<EncDecFn>,
    dec128: Option<EncDecFn>,
    pre256: Option<PreFn>,
    enc256: Option<EncDecFn>,
    dec256: Option<EncDecFn>,
    version: *const c_char,
}

extern "C" {
    fn burst_imb_gcm_init(out: *mut ShimGcm) -> c_int;
}

/// The library's AES-GCM functions for one key size.
#[derive(Clone, Copy)]
struct Fns {
    pre: PreFn,
    enc: EncDecFn,
    dec: EncDecFn,
}

/// The functions `init_mb_mgr_auto` picked, for AES-128 and AES-256.
struct Engine {
    aes128: Fns,
    aes256: Fns,
    name: String,
}

static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();

fn arch_name(arch: c_int) -> &'static str {
    // IMB_ARCH of intel-ipsec-mb.h.
    match arch {
        1 => "no-aesni",
        2 => "sse",
        3 => "avx",
        4 => "avx2",
        5 => "avx512",
        _ => "unknown",
    }
}

fn init() -> Result<Engine, String> {
    if std::env::var("BURST_AES_GCM").is_ok_and(|v| v == "ring") {
        return Err("BURST_AES_GCM=ring".into());
    }
    let mut s = MaybeUninit::<ShimGcm>::zeroed();
    // SAFETY: the shim writes every field of the struct it is given (the layout above mirrors
    // csrc/imb_shim.c's) and keeps no pointer to it; all-zero is a valid `ShimGcm` (null
    // pointers, `None` functions), so it is initialised whatever the shim returns.
    let rc = unsafe { burst_imb_gcm_init(s.as_mut_ptr()) };
    // SAFETY: zeroed above and possibly overwritten by the shim with valid values.
    let s = unsafe { s.assume_init() };
    if rc != 0 {
        return Err(format!("intel-ipsec-mb initialisation failed ({rc})"));
    }
    if s.key_size > size_of::<KeyData>()
        || s.key_align > align_of::<KeyData>()
        || s.ctx_size > size_of::<Context>()
        || s.ctx_align > align_of::<Context>()
    {
        return Err(format!(
            "intel-ipsec-mb structures larger than expected (key {} / {}, context {} / {})",
            s.key_size, s.key_align, s.ctx_size, s.ctx_align
        ));
    }
    let version = if s.version.is_null() {
        "?".to_string()
    } else {
        // SAFETY: `imb_get_version_str` returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(s.version) }
            .to_string_lossy()
            .into_owned()
    };
    let fns = |pre, enc, dec| {
        Some(Fns {
            pre: pre?,
            enc: enc?,
            dec: dec?,
        })
    };
    let (Some(aes128), Some(aes256)) = (
        fns(s.pre128, s.enc128, s.dec128),
        fns(s.pre256, s.enc256, s.dec256),
    ) else {
        return Err("intel-ipsec-mb without AES-GCM functions".into());
    };
    Ok(Engine {
        aes128,
        aes256,
        name: format!("intel-ipsec-mb {version} ({})", arch_name(s.arch)),
    })
}

fn engine() -> Result<&'static Engine, &'static str> {
    ENGINE.get_or_init(init).as_ref().map_err(|e| e.as_str())
}

/// The AES-GCM implementation SAs get: `intel-ipsec-mb VERSION (ARCH)`, or why not.
pub(super) fn backend() -> Result<&'static str, &'static str> {
    engine().map(|e| e.name.as_str())
}

/// One SA's AES-GCM key on intel-ipsec-mb: the expanded key, the salt, the functions.
pub(super) struct ImbGcm {
    key: KeyData,
    salt: [u8; 4],
    fns: Fns,
}

impl ImbGcm {
    /// Keys AES-GCM from `key` (16 or 32 bytes and the 4-byte salt), or `None` if the library
    /// is not in use.
    pub(super) fn new(key: &[u8]) -> Option<Box<ImbGcm>> {
        let e = engine().ok()?;
        let (k, salt) = split_salt(key);
        let fns = match k.len() {
            16 => e.aes128,
            32 => e.aes256,
            _ => return None,
        };
        let mut g = Box::new(ImbGcm {
            key: KeyData([0; 1024]),
            salt,
            fns,
        });
        // SAFETY: `k` holds the 16 or 32 key bytes the chosen function reads; `g.key` is a
        // `gcm_key_data` (size and alignment checked in `init`) that it fills.
        unsafe { (fns.pre)(k.as_ptr().cast(), &mut g.key) };
        Some(g)
    }

    fn iv(&self, wire_iv: &[u8]) -> [u8; 12] {
        let mut iv = [0u8; 12];
        iv[..4].copy_from_slice(&self.salt);
        iv[4..].copy_from_slice(wire_iv);
        iv
    }
}

impl Drop for ImbGcm {
    fn drop(&mut self) {
        // The round keys are the key: not left in freed memory.
        for b in self.key.0.iter_mut() {
            // SAFETY: a valid, aligned byte of `self`; volatile so the stores are not elided.
            unsafe { core::ptr::write_volatile(b, 0) };
        }
    }
}

impl Transform for ImbGcm {
    fn write_iv(&self, _spi: u32, seq: u64, iv: &mut [u8]) {
        iv.copy_from_slice(&seq.to_be_bytes())
    }

    fn seal(&self, esp: &mut [u8], seq_hi: Option<u32>) {
        let p = aead_parts(esp, seq_hi);
        self.crypt(self.fns.enc, p.text, p.wire_iv, &p.aad[..p.aad_len], p.icv);
    }

    fn open(&self, esp: &mut [u8], seq_hi: Option<u32>) -> Result<(), IcvMismatch> {
        if esp.len() < ESP_HEADER_LEN + AEAD_IV_LEN + ICV_LEN {
            return Err(IcvMismatch);
        }
        let p = aead_parts(esp, seq_hi);
        let mut tag = [0u8; ICV_LEN];
        self.crypt(
            self.fns.dec,
            p.text,
            p.wire_iv,
            &p.aad[..p.aad_len],
            &mut tag,
        );
        // The text is already decrypted (one pass, as ipsec-secgw does): on a mismatch it is
        // garbage the caller drops, as `Cipher::open` allows.
        if tags_equal(&tag, p.icv) {
            Ok(())
        } else {
            Err(IcvMismatch)
        }
    }
}

impl ImbGcm {
    /// Runs `f` (this key size's encrypt or decrypt) over `text` in place, writing the tag
    /// it computes over the ciphertext into `tag`.
    fn crypt(&self, f: EncDecFn, text: &mut [u8], wire_iv: &[u8], aad: &[u8], tag: &mut [u8]) {
        assert_eq!(tag.len(), ICV_LEN, "GCM tag of 16 bytes");
        let iv = self.iv(wire_iv);
        let mut ctx = MaybeUninit::<Context>::uninit();
        let p = text.as_mut_ptr();
        // SAFETY: the key was expanded by this key size's `pre`; the context is scratch the
        // function initialises itself (large and aligned enough, checked in `init`); `p` is
        // `text.len()` bytes, processed in place (the library supports out == in); the IV is
        // 12 bytes, the AAD `aad.len()` bytes, the tag 16 bytes (asserted above).
        unsafe {
            f(
                &self.key,
                ctx.as_mut_ptr(),
                p,
                p,
                text.len() as u64,
                iv.as_ptr(),
                aad.as_ptr(),
                aad.len() as u64,
                tag.as_mut_ptr(),
                ICV_LEN as u64,
            )
        };
    }
}

/// Compares two 16-byte tags in constant time: one 128-bit XOR, no early exit on the first
/// differing byte (which would tell a forger how many bytes of a guess were right).
fn tags_equal(a: &[u8; ICV_LEN], b: &[u8]) -> bool {
    let mut bb = [0u8; ICV_LEN];
    bb.copy_from_slice(b);
    let d = u128::from_ne_bytes(*a) ^ u128::from_ne_bytes(bb);
    core::hint::black_box(d) == 0
}

#[cfg(test)]
mod tests {
    use super::super::{Aead, ESP_HEADER_LEN, ICV_LEN};
    use super::*;
    use ring::aead;

    #[test]
    fn the_library_initialises_on_this_machine() {
        // The feature is on only where libipsec-mb is installed; its AES-GCM runs on any
        // x86-64 (the "no-aesni" code at worst).
        let name = backend().expect("intel-ipsec-mb");
        assert!(name.starts_with("intel-ipsec-mb "), "{name}");
    }

    #[test]
    fn tags_compare_whole() {
        let a = [7u8; 16];
        assert!(tags_equal(&a, &[7u8; 16]));
        for i in 0..16 {
            let mut b = a;
            b[i] ^= 0x80;
            assert!(!tags_equal(&a, &b));
        }
    }

    /// intel-ipsec-mb and `ring` agree byte for byte on every length from 0 to 3 blocks past
    /// a jumbo frame's worth of partial blocks, with and without ESN, for both key sizes; each
    /// opens what the other sealed, and a flipped ICV byte fails.
    #[test]
    fn agrees_with_ring_at_every_length() {
        for (alg, klen) in [(&aead::AES_128_GCM, 16), (&aead::AES_256_GCM, 32)] {
            let key: Vec<u8> = (0..klen as u8 + 4).map(|i| i.wrapping_mul(37)).collect();
            let imb = ImbGcm::new(&key).unwrap();
            let ring = Aead::new(alg, &key);
            let lens = (0..=300).chain([511, 512, 513, 1024, 1400, 1452, 1500, 2048, 9000]);
            for len in lens {
                for esn in [None, Some(0xdead_beef)] {
                    let mut esp = vec![0u8; ESP_HEADER_LEN + 8];
                    esp[..8].copy_from_slice(&[0x10, 0, 0, 5, 0, 0, 1, 2]);
                    imb.write_iv(0x1000_0005, 0x0102, &mut esp[8..]);
                    esp.extend((0..len).map(|i| (i * 7 + 3) as u8));
                    esp.extend_from_slice(&[0; ICV_LEN]);
                    let plain = esp.clone();
                    let mut a = plain.clone();
                    let mut b = plain.clone();
                    imb.seal(&mut a, esn);
                    ring.seal(&mut b, esn);
                    assert_eq!(a, b, "len {len} esn {esn:?}");
                    let mut x = a.clone();
                    ring.open(&mut x, esn).unwrap();
                    assert_eq!(x[..x.len() - ICV_LEN], plain[..plain.len() - ICV_LEN]);
                    let mut y = a.clone();
                    imb.open(&mut y, esn).unwrap();
                    assert_eq!(y[..y.len() - ICV_LEN], plain[..plain.len() - ICV_LEN]);
                    let mut z = a.clone();
                    let last = z.len() - 1 - (len % ICV_LEN);
                    z[last] ^= 0x01;
                    assert_eq!(imb.open(&mut z, esn), Err(IcvMismatch), "len {len}");
                }
            }
        }
    }
}
