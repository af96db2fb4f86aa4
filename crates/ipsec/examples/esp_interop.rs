//! burst's side of the scapy interoperability check (`scripts/check-ipsec-scapy.sh`).
//!
//! `esp_interop IN OUT` reads the cases `scripts/ipsec_scapy.py gen` wrote to IN: for each, an
//! SA (algorithm, mode, ESN, SPI, keys) and datagrams with scapy's ESP encryption of them.
//! burst decrypts every ESP datagram and compares it with the plain one, then encrypts every
//! plain datagram itself and writes the case and its ESP datagrams to OUT, for
//! `ipsec_scapy.py check OUT`. Exits with status 1 if any datagram differs.

use std::io::Write;
use std::net::Ipv4Addr;

use burst_ipsec::esp::{decrypt, encrypt};
use burst_ipsec::{Algorithm, DfPolicy, Mode, PacketBuf, Sa, SaParams, Tunnel};

const ROOM: usize = 128;

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

struct Case {
    name: String,
    line: String,
    inbound: Sa,
    outbound: Sa,
}

fn case(line: &str) -> Case {
    let f: Vec<&str> = line.split_whitespace().collect();
    let [_, name, alg, mode, esn, spi, key, auth, esn_hi] = f[..] else {
        panic!("bad case line: {line}");
    };
    let algorithm = Algorithm::from_name(alg).expect("algorithm");
    let mode = match mode {
        "transport" => Mode::Transport,
        _ => Mode::Tunnel(Tunnel {
            src: Ipv4Addr::new(198, 18, 200, 1),
            dst: Ipv4Addr::new(198, 18, 200, 2),
            ttl: 64,
            df: DfPolicy::Copy,
        }),
    };
    let esn = esn == "1";
    let p = SaParams {
        spi: u32::from_str_radix(spi.trim_start_matches("0x"), 16).expect("spi"),
        protocol: burst_ipsec::IpsecProtocol::Esp,
        mode,
        algorithm,
        key: unhex(key),
        auth_key: unhex(auth),
        esn,
        replay_window: 64,
        max_packets: 0,
    };
    let (mut inbound, mut outbound) = (Sa::new(&p).unwrap(), Sa::new(&p).unwrap());
    // The ESN cases number their packets ESN_HI × 2^32 + 1, 2, ...
    let base = if esn {
        esn_hi.parse::<u64>().unwrap() << 32
    } else {
        0
    };
    inbound.replay_mut().restart_at(base);
    outbound.set_last_seq_out(base);
    Case {
        name: name.to_string(),
        line: line.to_string(),
        inbound,
        outbound,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = &args[..] else {
        eprintln!("usage: esp_interop IN OUT");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(input).expect("read IN");
    let mut out = std::fs::File::create(output).expect("create OUT");
    let (mut passed, mut failed) = (0, 0);
    let mut cur: Option<Case> = None;
    let mut plain = Vec::new();
    for line in text.lines() {
        let (word, rest) = line.split_once(' ').expect("line");
        match word {
            "case" => {
                let c = case(line);
                writeln!(out, "{}", c.line).unwrap();
                cur = Some(c);
            }
            "plain" => {
                plain = unhex(rest);
                let c = cur.as_mut().expect("case first");
                let mut buf = vec![0u8; ROOM + plain.len() + ROOM];
                buf[ROOM..ROOM + plain.len()].copy_from_slice(&plain);
                let end = ROOM + plain.len();
                let mut pkt = PacketBuf::new(&mut buf, ROOM, end);
                encrypt(&mut c.outbound, &mut pkt).expect("burst encrypts");
                writeln!(out, "plain {rest}\nesp {}", hex(pkt.packet())).unwrap();
            }
            "esp" => {
                let c = cur.as_mut().expect("case first");
                let mut buf = unhex(rest);
                let len = buf.len();
                let mut pkt = PacketBuf::new(&mut buf, 0, len);
                match decrypt(&mut c.inbound, &mut pkt) {
                    Ok(_) if pkt.packet() == &plain[..] => passed += 1,
                    r => {
                        failed += 1;
                        println!(
                            "FAIL {}: burst could not recover scapy's datagram: {r:?}",
                            c.name
                        );
                    }
                }
            }
            _ => panic!("bad line: {line}"),
        }
    }
    println!("burst decrypts scapy: {passed} passed, {failed} failed");
    std::process::exit(if failed == 0 && passed > 0 { 0 } else { 1 });
}
