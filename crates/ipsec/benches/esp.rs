//! ESP crypto per packet, through the public API: `Cipher::seal` and `Cipher::open` on one ESP
//! region in place, and `esp::encrypt` / `esp::decrypt` of a whole tunnel-mode datagram, for
//! every algorithm at 64, 512 and 1420 bytes.
//!
//! `cargo bench -p burst-ipsec --bench esp`. For `cipher/*` the size is the encrypted text
//! (payload and trailer; rounded up to 16 for AES-CBC, so 1424 there), for `esp/*` the plain
//! IPv4 datagram (UDP) that the tunnel carries. Throughput is in those bytes.

use std::hint::black_box;
use std::net::Ipv4Addr;

use burst_ipsec::algo::{Cipher, ESP_HEADER_LEN, ICV_LEN};
use burst_ipsec::esp::{decrypt, encrypt};
use burst_ipsec::{Algorithm, DfPolicy, IpsecProtocol, Mode, PacketBuf, Sa, SaParams, Tunnel};
use burst_wire::ipv4::{self, Protocol};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const SIZES: [usize; 3] = [64, 512, 1420];
const SPI: u32 = 0x1000;

fn key(alg: Algorithm) -> (Vec<u8>, Vec<u8>) {
    (
        (0..alg.key_len()).map(|i| i as u8 ^ 0x3c).collect(),
        (0..alg.auth_key_len()).map(|i| i as u8 ^ 0x5c).collect(),
    )
}

/// An ESP region `[SPI, seq][IV][text][ICV]` with `text` bytes of text.
fn region(c: &Cipher, text: usize) -> Vec<u8> {
    let alg = c.algorithm();
    let mut esp = vec![0u8; ESP_HEADER_LEN + alg.iv_len() + text + ICV_LEN];
    esp[..4].copy_from_slice(&SPI.to_be_bytes());
    esp[4..8].copy_from_slice(&7u32.to_be_bytes());
    c.write_iv(
        SPI,
        7,
        &mut esp[ESP_HEADER_LEN..ESP_HEADER_LEN + alg.iv_len()],
    );
    for (i, b) in esp[ESP_HEADER_LEN + alg.iv_len()..][..text]
        .iter_mut()
        .enumerate()
    {
        *b = i as u8;
    }
    esp
}

fn cipher(cr: &mut Criterion) {
    for alg in Algorithm::ALL {
        let (k, a) = key(alg);
        let c = Cipher::new(alg, &k, &a).unwrap();
        let mut g = cr.benchmark_group(format!("cipher/{}", alg.name()));
        for size in SIZES {
            let text = size.div_ceil(alg.align()) * alg.align();
            g.throughput(Throughput::Bytes(text as u64));
            let mut esp = region(&c, text);
            g.bench_function(format!("seal/{size}"), |b| {
                b.iter(|| c.seal(black_box(&mut esp), None))
            });
            let mut sealed = region(&c, text);
            c.seal(&mut sealed, None);
            g.bench_function(format!("open/{size}"), |b| {
                b.iter_batched_ref(
                    || sealed.clone(),
                    |e| c.open(black_box(e), None).unwrap(),
                    BatchSize::SmallInput,
                )
            });
        }
        g.finish();
    }
}

/// A UDP datagram of `len` bytes between two hosts of 198.18.0.0/15.
fn datagram(len: usize) -> Vec<u8> {
    let mut d = vec![0u8; len];
    for (i, b) in d[28..].iter_mut().enumerate() {
        *b = i as u8;
    }
    d[20..22].copy_from_slice(&4000u16.to_be_bytes());
    d[22..24].copy_from_slice(&5000u16.to_be_bytes());
    d[24..26].copy_from_slice(&((len - 20) as u16).to_be_bytes());
    let mut ip = ipv4::Packet::new_unchecked(&mut d[..]);
    ip.set_version_and_header_len(20);
    ip.set_total_len(len as u16);
    ip.set_ttl(64);
    ip.set_protocol(Protocol::UDP);
    ip.set_src_addr(Ipv4Addr::new(198, 18, 0, 1));
    ip.set_dst_addr(Ipv4Addr::new(198, 19, 0, 1));
    ip.fill_checksum();
    d
}

fn sa(alg: Algorithm) -> Sa {
    let (key, auth_key) = key(alg);
    Sa::new(&SaParams {
        spi: SPI,
        protocol: IpsecProtocol::Esp,
        mode: Mode::Tunnel(Tunnel {
            src: Ipv4Addr::new(198, 18, 200, 1),
            dst: Ipv4Addr::new(198, 18, 200, 2),
            ttl: 64,
            df: DfPolicy::Copy,
        }),
        algorithm: alg,
        key,
        auth_key,
        esn: false,
        replay_window: 64,
        max_packets: 0,
    })
    .unwrap()
}

const HEAD: usize = 128;
const TAIL: usize = 64;

fn esp(cr: &mut Criterion) {
    for alg in Algorithm::ALL {
        let mut g = cr.benchmark_group(format!("esp/{}", alg.name()));
        for size in SIZES {
            g.throughput(Throughput::Bytes(size as u64));
            let mut buf = vec![0u8; HEAD + size + TAIL];
            buf[HEAD..HEAD + size].copy_from_slice(&datagram(size));
            let mut out = sa(alg);
            g.bench_function(format!("encrypt/{size}"), |b| {
                b.iter_batched_ref(
                    || buf.clone(),
                    |bu| {
                        let mut p = PacketBuf::new(black_box(bu), HEAD, HEAD + size);
                        encrypt(&mut out, &mut p).unwrap()
                    },
                    BatchSize::SmallInput,
                )
            });
            let (mut out, mut inb) = (sa(alg), sa(alg));
            g.bench_function(format!("decrypt/{size}"), |b| {
                b.iter_batched_ref(
                    || {
                        let mut bu = buf.clone();
                        let mut p = PacketBuf::new(&mut bu, HEAD, HEAD + size);
                        encrypt(&mut out, &mut p).unwrap();
                        let (s, e) = (p.start(), p.end());
                        (bu, s, e)
                    },
                    |(bu, s, e)| {
                        let mut p = PacketBuf::new(black_box(bu), *s, *e);
                        decrypt(&mut inb, &mut p).unwrap()
                    },
                    BatchSize::SmallInput,
                )
            });
        }
        g.finish();
    }
}

/// HMAC-SHA-256 alone, per packet from a key keyed once, in both crates considered: `ring`
/// and RustCrypto's `hmac` + `sha2` (kept; both use SHA-NI when the CPU has it).
fn hmac_sha256(cr: &mut Criterion) {
    use hmac::Mac;
    let key = [0x5cu8; 32];
    let rk = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let hk = <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(&key).unwrap();
    let mut g = cr.benchmark_group("hmac-sha256");
    for size in SIZES {
        // The covered bytes of an AES-CBC packet: ESP header, IV and text.
        let data = vec![0xa5u8; ESP_HEADER_LEN + 16 + size];
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(format!("ring/{size}"), |b| {
            b.iter(|| {
                let mut m = ring::hmac::Context::with_key(&rk);
                m.update(black_box(&data));
                m.sign()
            })
        });
        g.bench_function(format!("rustcrypto/{size}"), |b| {
            b.iter(|| {
                let mut m = hk.clone();
                m.update(black_box(&data));
                m.finalize().into_bytes()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, cipher, esp, hmac_sha256);
criterion_main!(benches);
