//! The AVX2 sum, selected at run time on x86_64: the only `unsafe` code in burst-wire.
//!
//! Method: XOR each 16-bit word with 0x8000, which turns the unsigned word `w` into the signed
//! `w - 32768` exactly; `vpmaddwd` against a vector of ones then adds adjacent signed words into
//! eight 32-bit lanes, and `vpaddd` accumulates them: three instructions per 32 bytes. The
//! 32768 taken from every word is added back once at the end. Four accumulators per 128-byte
//! step keep the loads in flight. A lane gains at most 65,536 in magnitude per vector, so the
//! lanes are reduced (into an `i64`) at least every 64 KiB, long before an `i32` could overflow.
//!
//! Tails: an odd final byte is added separately, and the last 2..=30 bytes of the even part are
//! taken by re-reading the buffer's final 32 bytes with the already-counted bytes masked to zero
//! (a masked word counts as 0 - 32768, added back like every other word), so there is no scalar
//! tail loop.
//!
//! Unsafe code: the `avx2` functions may only be called once `detect()` returned true
//! (`cpuid`/`xgetbv`, cached); loads and stores go through `&[u8; 32]` references so every
//! memory access is in bounds by construction.

// Rust 1.86/1.87 made `#[target_feature]` functions safe to declare and most intrinsics safe to
// call from functions with the same features; the workspace's minimum Rust is 1.85, where both
// need `unsafe`. The blocks around intrinsic calls are required there and redundant later.
#![allow(unused_unsafe)]

use core::arch::x86_64::{
    __cpuid, __cpuid_count, __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_castsi256_si128,
    _mm256_extracti128_si256, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_set1_epi16,
    _mm256_setzero_si256, _mm256_storeu_si256, _mm256_xor_si256, _mm_add_epi32, _mm_cvtsi128_si32,
    _mm_shuffle_epi32, _xgetbv,
};
use core::sync::atomic::{AtomicU8, Ordering};

/// Detection not run yet.
const UNKNOWN: u8 = 0;
/// The CPU (and OS) cannot run AVX2 code.
const ABSENT: u8 = 1;
/// AVX2 is usable.
const PRESENT: u8 = 2;

/// Cached result of [`detect`]: racing first calls both detect and store the same value.
static AVX2: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Bytes covered by one reduction of the vector lanes (see the module doc for the bound).
const BLOCK: usize = 64 * 1024;

/// `[0; 32]` then `[0xff; 32]`: the 32 bytes from offset `32 - n` mask all but the last `n`.
static TAIL_MASK: [u8; 64] = {
    let mut m = [0u8; 64];
    let mut i = 32;
    while i < 64 {
        m[i] = 0xff;
        i += 1;
    }
    m
};

/// Runs the CPUID/XCR0 checks and caches the answer.
#[cold]
#[inline(never)]
fn detect() -> bool {
    /// CPUID.1:ECX: the OS enabled XSAVE (so `xgetbv` exists) / AVX.
    const OSXSAVE_AVX: u32 = (1 << 27) | (1 << 28);
    /// XCR0: the OS saves and restores XMM and YMM state.
    const XCR0_SSE_AVX: u64 = 0b110;
    /// CPUID.(7,0):EBX: AVX2.
    const AVX2_BIT: u32 = 1 << 5;
    // SAFETY: `cpuid` exists on every x86_64 CPU, and leaf 7 is read only when leaf 0 reports
    // it. `xgetbv` requires XSAVE enabled by the OS, which CPUID.1:ECX.OSXSAVE (checked first)
    // reports.
    let yes = unsafe {
        __cpuid(0).eax >= 7
            && __cpuid(1).ecx & OSXSAVE_AVX == OSXSAVE_AVX
            && _xgetbv(0) & XCR0_SSE_AVX == XCR0_SSE_AVX
            && __cpuid_count(7, 0).ebx & AVX2_BIT != 0
    };
    AVX2.store(if yes { PRESENT } else { ABSENT }, Ordering::Relaxed);
    yes
}

/// The sum of `bytes` as native-endian 16-bit words (an odd final byte padded with zero): the
/// AVX2 kernel where the CPU has AVX2 and `bytes` holds at least 32 bytes, else the portable loop.
///
/// Every path ends in a tail call, so the caller's fast path saves no registers.
#[inline]
pub(super) fn sum_words(bytes: &[u8]) -> u64 {
    if bytes.len() < 32 {
        return portable(bytes);
    }
    match AVX2.load(Ordering::Relaxed) {
        // SAFETY: AVX2 is available (detected and cached by `detect`).
        PRESENT => unsafe { sum_avx2(bytes) },
        ABSENT => portable(bytes),
        _ => sum_words_first(bytes),
    }
}

/// [`sum_words`] on the first call: detects, then sums.
#[cold]
#[inline(never)]
fn sum_words_first(bytes: &[u8]) -> u64 {
    if detect() {
        // SAFETY: AVX2 is available (just detected).
        unsafe { sum_avx2(bytes) }
    } else {
        portable(bytes)
    }
}

/// The portable loop, out of line for the paths above.
#[inline(never)]
fn portable(bytes: &[u8]) -> u64 {
    super::accumulate_portable(0, bytes)
}

/// Copies `src` into `dst` (equal lengths) and returns what [`sum_words`] returns for `src`.
#[inline]
pub(super) fn copy_and_sum_words(dst: &mut [u8], src: &[u8]) -> u64 {
    let avx2 = match AVX2.load(Ordering::Relaxed) {
        PRESENT => true,
        ABSENT => false,
        _ => detect(),
    };
    if avx2 && src.len() >= 32 {
        // SAFETY: AVX2 is available (checked just now).
        unsafe { copy_and_sum_avx2(dst, src) }
    } else {
        dst.copy_from_slice(src);
        portable(src)
    }
}

/// The AVX2 kernel alone, for tests: `None` without AVX2 or under 32 bytes.
#[cfg(test)]
pub(super) fn sum_words_avx2(bytes: &[u8]) -> Option<u64> {
    // SAFETY: AVX2 is available (checked first).
    (bytes.len() >= 32 && detect()).then(|| unsafe { sum_avx2(bytes) })
}

/// Loads 32 bytes.
///
/// # Safety
///
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load(bytes: &[u8; 32]) -> __m256i {
    // SAFETY: reads exactly the 32 bytes `bytes` refers to (`loadu`: any alignment); AVX2 as
    // this function requires.
    unsafe { _mm256_loadu_si256(bytes.as_ptr().cast()) }
}

/// Stores 32 bytes.
///
/// # Safety
///
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store(bytes: &mut [u8; 32], v: __m256i) {
    // SAFETY: writes exactly the 32 bytes `bytes` exclusively refers to (`storeu`: any
    // alignment); AVX2 as this function requires.
    unsafe { _mm256_storeu_si256(bytes.as_mut_ptr().cast(), v) }
}

/// The 32 bytes at `at` of `bytes` (in bounds: callers index within a checked length).
#[inline(always)]
fn at32(bytes: &[u8], at: usize) -> &[u8; 32] {
    bytes[at..at + 32].try_into().expect("32 bytes")
}

/// The 32 bytes at `at` of `bytes`, writable.
#[inline(always)]
fn at32_mut(bytes: &mut [u8], at: usize) -> &mut [u8; 32] {
    (&mut bytes[at..at + 32]).try_into().expect("32 bytes")
}

/// The four accumulators of a 128-byte step.
type Acc4 = (__m256i, __m256i, __m256i, __m256i);

/// Adds the 16 words of `v`, each minus 32768, into the lanes of `acc`.
///
/// # Safety
///
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn step(acc: __m256i, v: __m256i) -> __m256i {
    // SAFETY: register-only AVX2 operations; AVX2 as this function requires.
    unsafe {
        let signed = _mm256_xor_si256(v, _mm256_set1_epi16(i16::MIN));
        _mm256_add_epi32(acc, _mm256_madd_epi16(signed, _mm256_set1_epi16(1)))
    }
}

/// Four zero accumulators.
///
/// # Safety
///
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn zero4() -> Acc4 {
    // SAFETY: a register-only AVX operation; AVX2 (which implies AVX) as this function requires.
    let z = unsafe { _mm256_setzero_si256() };
    (z, z, z, z)
}

/// The sum of the eight lanes of four accumulators (in range: see [`BLOCK`]).
///
/// # Safety
///
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn reduce((a, b, c, d): Acc4) -> i64 {
    // SAFETY: register-only AVX2 operations; AVX2 as this function requires.
    unsafe {
        let s = _mm256_add_epi32(_mm256_add_epi32(a, b), _mm256_add_epi32(c, d));
        let s = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
        i64::from(_mm_cvtsi128_si32(s))
    }
}

/// Adds 128 bytes to the four accumulators.
///
/// # Safety
///
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn sum_step4((a, b, c, d): Acc4, q: &[u8]) -> Acc4 {
    // SAFETY: AVX2 as this function requires.
    unsafe {
        (
            step(a, load(at32(q, 0))),
            step(b, load(at32(q, 32))),
            step(c, load(at32(q, 64))),
            step(d, load(at32(q, 96))),
        )
    }
}

/// Copies 128 bytes from `q` to `o`, adding them to the four accumulators.
///
/// # Safety
///
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn copy_step4((a, b, c, d): Acc4, q: &[u8], o: &mut [u8]) -> Acc4 {
    // SAFETY: AVX2 as this function requires.
    unsafe {
        let (v0, v1) = (load(at32(q, 0)), load(at32(q, 32)));
        let (v2, v3) = (load(at32(q, 64)), load(at32(q, 96)));
        store(at32_mut(o, 0), v0);
        store(at32_mut(o, 32), v1);
        store(at32_mut(o, 64), v2);
        store(at32_mut(o, 96), v3);
        (step(a, v0), step(b, v1), step(c, v2), step(d, v3))
    }
}

/// Splits off an odd final byte: the even-length body and the byte as a native-endian word.
#[inline(always)]
fn split_odd(bytes: &[u8]) -> (&[u8], u64) {
    match bytes.split_last() {
        Some((&last, body)) if bytes.len() % 2 == 1 => {
            (body, u64::from(u16::from_ne_bytes([last, 0])))
        }
        _ => (bytes, 0),
    }
}

/// The true word sum from the lane total of `body_len` even bytes: every 32-byte vector, the
/// masked tail included, took 32768 from each of its 16 words.
#[inline(always)]
fn unbias(lanes: i64, body_len: usize) -> u64 {
    let vectors = body_len.div_ceil(32) as u64;
    lanes.wrapping_add((vectors << 19) as i64) as u64
}

/// The AVX2 sum of `bytes`.
///
/// # Safety
///
/// The CPU must support AVX2. (`bytes` shorter than 32 bytes panics.)
#[target_feature(enable = "avx2")]
unsafe fn sum_avx2(bytes: &[u8]) -> u64 {
    let (body, odd) = split_odd(bytes);
    // SAFETY: the helpers need AVX2 only, as this function requires.
    let lanes = unsafe {
        let mut acc = zero4();
        let mut lanes: i64 = 0;
        let mut rest = body;
        while rest.len() > BLOCK {
            let (block, r) = rest.split_at(BLOCK);
            for q in block.chunks_exact(128) {
                acc = sum_step4(acc, q);
            }
            lanes += reduce(acc);
            acc = zero4();
            rest = r;
        }
        let mut quads = rest.chunks_exact(128);
        for q in &mut quads {
            acc = sum_step4(acc, q);
        }
        let mut r = quads.remainder();
        if r.len() >= 64 {
            acc.0 = step(acc.0, load(at32(r, 0)));
            acc.1 = step(acc.1, load(at32(r, 32)));
            r = &r[64..];
        }
        if r.len() >= 32 {
            acc.2 = step(acc.2, load(at32(r, 0)));
            r = &r[32..];
        }
        if !r.is_empty() {
            // The final 32 bytes of the body end with `r`; its even start keeps words aligned.
            let mask = load(at32(&TAIL_MASK, r.len()));
            let last = load(at32(body, body.len() - 32));
            acc.3 = step(acc.3, _mm256_and_si256(mask, last));
        }
        lanes + reduce(acc)
    };
    unbias(lanes, body.len()) + odd
}

/// The AVX2 copy-and-sum.
///
/// # Safety
///
/// The CPU must support AVX2. (Lengths that differ or are under 32 bytes panic.)
#[target_feature(enable = "avx2")]
unsafe fn copy_and_sum_avx2(dst: &mut [u8], src: &[u8]) -> u64 {
    assert_eq!(dst.len(), src.len());
    let (body, odd) = split_odd(src);
    let n = body.len();
    if n != src.len() {
        dst[n] = src[n];
    }
    let dst = &mut dst[..n];
    // SAFETY: the helpers need AVX2 only, as this function requires.
    let lanes = unsafe {
        let mut acc = zero4();
        let mut lanes: i64 = 0;
        // Same blocking and tail as `sum_avx2`, `to` following `from`.
        let (mut from, mut to) = (body, &mut *dst);
        while from.len() > BLOCK {
            let (block, f) = from.split_at(BLOCK);
            let (out, t) = to.split_at_mut(BLOCK);
            for (q, o) in block.chunks_exact(128).zip(out.chunks_exact_mut(128)) {
                acc = copy_step4(acc, q, o);
            }
            lanes += reduce(acc);
            acc = zero4();
            (from, to) = (f, t);
        }
        let mut quads = from.chunks_exact(128);
        let mut outs = to.chunks_exact_mut(128);
        for (q, o) in (&mut quads).zip(&mut outs) {
            acc = copy_step4(acc, q, o);
        }
        let (mut r, mut o) = (quads.remainder(), outs.into_remainder());
        if r.len() >= 64 {
            let (v0, v1) = (load(at32(r, 0)), load(at32(r, 32)));
            store(at32_mut(o, 0), v0);
            store(at32_mut(o, 32), v1);
            acc.0 = step(acc.0, v0);
            acc.1 = step(acc.1, v1);
            (r, o) = (&r[64..], &mut o[64..]);
        }
        if r.len() >= 32 {
            let v = load(at32(r, 0));
            store(at32_mut(o, 0), v);
            acc.2 = step(acc.2, v);
            r = &r[32..];
        }
        if !r.is_empty() {
            let mask = load(at32(&TAIL_MASK, r.len()));
            let last = load(at32(body, n - 32));
            // Rewrites up to 30 bytes already copied, with the same values.
            store(at32_mut(dst, n - 32), last);
            acc.3 = step(acc.3, _mm256_and_si256(mask, last));
        }
        lanes + reduce(acc)
    };
    unbias(lanes, n) + odd
}
