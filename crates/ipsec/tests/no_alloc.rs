//! The per-packet path allocates nothing: a counting global allocator, armed on this thread
//! only around encryption, decryption (including the drop paths), the SAD lookup and the SPD
//! lookup, must count zero allocations for every transform, mode and ESN setting.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::Ipv4Addr;

use burst_ipsec::esp::{decrypt, encrypt};
use burst_ipsec::spd::{Action, Flow, Policy, Selector, Spd};
use burst_ipsec::{Algorithm, DfPolicy, Mode, PacketBuf, Sa, SaParams, Sad, Tunnel};
use burst_wire::ipv4::{self, Protocol};

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

struct Counting;

fn note() {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    let _ = ARMED.try_with(|a| {
        if a.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every method forwards to the system allocator with the caller's arguments, so the
// GlobalAlloc contract holds exactly as it does for `System`; counting touches only
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller upholds `alloc`'s contract (non-zero size), passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: as for `dealloc`, and the caller upholds `realloc`'s size contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    COUNT.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    COUNT.with(|c| c.get())
}

fn datagram(len: usize) -> Vec<u8> {
    let mut d = vec![0x42u8; len];
    d[..20].fill(0);
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

#[test]
fn the_counter_sees_allocations() {
    // Otherwise the zero below would prove nothing.
    assert_eq!(allocations(|| drop(std::hint::black_box(vec![1u8; 10]))), 1);
}

#[test]
fn encrypt_and_decrypt_do_not_allocate() {
    for alg in Algorithm::ALL {
        for tunnel in [false, true] {
            for esn in [false, true] {
                let mode = if tunnel {
                    Mode::Tunnel(Tunnel {
                        src: Ipv4Addr::new(198, 18, 200, 1),
                        dst: Ipv4Addr::new(198, 18, 200, 2),
                        ttl: 64,
                        df: DfPolicy::Copy,
                    })
                } else {
                    Mode::Transport
                };
                let p = SaParams {
                    spi: 0x1000,
                    protocol: burst_ipsec::IpsecProtocol::Esp,
                    mode,
                    algorithm: alg,
                    key: vec![1; alg.key_len()],
                    auth_key: vec![2; alg.auth_key_len()],
                    esn,
                    replay_window: 1024,
                    max_packets: 0,
                };
                let mut out = Sa::new(&p).unwrap();
                let mut sad = Sad::new();
                sad.insert_inbound(Sa::new(&p).unwrap());
                let mut spd = Spd::new(vec![
                    Policy {
                        selector: Selector {
                            protocol: Some(6),
                            ..Selector::ANY
                        },
                        action: Action::Discard,
                    },
                    Policy {
                        selector: Selector::ANY,
                        action: Action::Protect(0x1000),
                    },
                ]);
                let plain = datagram(1000);
                let mut buf = vec![0u8; 2048];
                let mut copy = vec![0u8; 2048];
                let n = allocations(|| {
                    for _ in 0..50 {
                        buf[100..1100].copy_from_slice(&plain);
                        let flow = Flow::from_ipv4(&buf[100..1100]).unwrap();
                        assert_eq!(spd.decide_outbound(&flow), Action::Protect(0x1000));
                        let mut pkt = PacketBuf::new(&mut buf, 100, 1100);
                        encrypt(&mut out, &mut pkt).unwrap();
                        let (s, e) = (pkt.start(), pkt.end());
                        copy[..e - s].copy_from_slice(&buf[s..e]);
                        let mut pkt = PacketBuf::new(&mut buf, s, e);
                        sad.decrypt(&mut pkt).unwrap();
                        // Drop paths: the same packet again (replay), a flipped ICV byte.
                        let mut pkt = PacketBuf::new(&mut copy, 0, e - s);
                        assert!(sad.decrypt(&mut pkt).is_err());
                        let mut again = PacketBuf::new(&mut copy, 0, e - s);
                        again.packet_mut()[e - s - 1] ^= 1;
                        let sa = sad.inbound_mut(0x1000).unwrap();
                        assert!(decrypt(sa, &mut again).is_err());
                    }
                });
                assert_eq!(n, 0, "{} tunnel={tunnel} esn={esn}", alg.name());
                assert_eq!(sad.inbound(0x1000).unwrap().stats.in_packets, 50);
            }
        }
    }
}
