#!/usr/bin/env bash
# ESP interoperability with an independent implementation: scapy's SecurityAssociation
# (Debian python3-scapy with python3-cryptography) encrypts datagrams that burst-ipsec must
# decrypt, and decrypts the ones burst-ipsec encrypts, for AES-GCM-128/256, ChaCha20-Poly1305,
# AES-CBC + HMAC-SHA-256-128 and NULL + HMAC-SHA-256-128, transport and tunnel mode, with and
# without ESN (scripts/ipsec_scapy.py lists the cases), with `ring`'s AES-GCM and, where
# libipsec-mb-dev is installed, again with intel-ipsec-mb's (feature `ipsec-mb`, the one
# `--features dpdk` builds use). No network, no root.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 -c 'import scapy.layers.ipsec, cryptography' 2>/dev/null || {
    echo "check-ipsec-scapy: FAIL: needs python3-scapy and python3-cryptography"; exit 1; }
/usr/bin/python3 scripts/ipsec_scapy.py gen "$dir/scapy.txt"
features=("")
[ -e /usr/include/intel-ipsec-mb.h ] && features+=(ipsec-mb)
for f in "${features[@]}"; do
    echo "check-ipsec-scapy: AES-GCM on ${f:-ring}"
    cargo run -q -p burst-ipsec ${f:+--features "$f"} --example esp_interop -- "$dir/scapy.txt" "$dir/burst.txt"
    /usr/bin/python3 scripts/ipsec_scapy.py check "$dir/burst.txt"
done
