#!/usr/bin/env bash
# burst gen's stateful HTTP client against the Linux kernel (issue 14's two live acceptance lines):
#
#   1. nginx (Debian nginx-light, its own config, one worker) in namespace S behind the kernel;
#      burst gen's client on an af_packet vdev on one end of a veth pair whose other end is in S,
#      and wrk in namespace W on a second veth pair into S, through the kernel. In the same run,
#      alternating rounds: burst gen and wrk against the same nginx, with Connection: close (CPS)
#      and with keep-alive; figures side by side (medians), and every burst gen round checks that
#      the access-log lines of its source addresses equal its count of successful responses.
#   2. Responses of 1 KiB, 64 KiB and 1 MiB at concurrency 1,000, every body byte checked (nginx
#      serves files holding burst's pattern), with 3 % random loss each way on the path (nftables
#      `numgen random` in S, on the client's veth): responses, bytes, failures by reason (no
#      bad_response allowed), duration.
#
# Usage: sudo scripts/lab-gen-nginx.sh [--check]
#   lab (default): ROUNDS (3) alternating rounds of SECONDS_PER_RUN (5) s at CONNS (100)
#   connections per variant, then the loss runs (LOSS_SECONDS, 5 s each). Prints figures.
#   --check: the short variant for scripts/test.sh: one round of 2 s per tool (close only), the
#   access-log equality, and the 64 KiB loss run of 2 s; fails on a count mismatch, any failure
#   without loss, and under loss on a bad response, a differing body byte or a non-2xx.
# CPUs (2): nginx on CPU 0, burst gen or wrk (one at a time) on CPU 1.
# Its own namespaces, veth pairs, file prefix and temp dir; everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=lab
[ "${1:-}" = "--check" ] && mode=check
burst=${BURST:-target/release/burst}
[ -x "$burst" ] || cargo build -q --release -p burst --features dpdk
for t in nginx wrk nft ethtool python3; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { echo "lab-gen-nginx: $t missing (scripts/setup.sh installs it)"; exit 1; }
done
nginx=$(command -v nginx || echo /usr/sbin/nginx)
if [ $mode = check ]; then
  rounds=1 secs=2 conns=100 loss_secs=2 sizes="64k"
else
  rounds=${ROUNDS:-3} secs=${SECONDS_PER_RUN:-5} conns=${CONNS:-100} loss_secs=${LOSS_SECONDS:-5} sizes="1k 64k 1m"
fi
tag=$$
dir=$(mktemp -d /tmp/lab-gen-nginx.XXXXXX)
chmod 755 "$dir"
nsg=lgng$tag nss=lgns$tag nsw=lgnw$tag
ngx_pid=
cleanup() {
  if [ -n "$ngx_pid" ] && kill -0 "$ngx_pid" 2>/dev/null; then kill "$ngx_pid"; wait "$ngx_pid" 2>/dev/null || true; fi
  for n in "$nsg" "$nss" "$nsw"; do ip netns del "$n" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
fail() { echo "lab-gen-nginx: FAIL: $*" >&2; [ -f "$dir/error.log" ] && tail -5 "$dir/error.log" >&2; exit 1; }
py() { python3 - "$@"; }

# --- topology: G (af_packet, no address) -- S (nginx: 198.18.1.1, 198.18.2.1) -- W (wrk: 198.18.2.2)
ip netns add "$nsg"
ip netns add "$nss"
ip netns add "$nsw"
ip link add lgn0 netns "$nsg" type veth peer name lgn1 netns "$nss"
ip link add lgw0 netns "$nsw" type veth peer name lgw1 netns "$nss"
for x in "$nsg lgn0" "$nss lgn1" "$nsw lgw0" "$nss lgw1"; do
  set -- $x
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  # Whole frames with their checksums for af_packet, and the same for wrk's path.
  ip netns exec "$1" ethtool -K "$2" tx off rx off sg off tso off gso off gro off >/dev/null 2>&1 || true
  ip netns exec "$1" ip link set "$2" up
done
ip -n "$nss" link set lo up
ip -n "$nss" addr add 198.18.1.1/24 dev lgn1
ip -n "$nss" addr add 198.18.2.1/24 dev lgw1
ip -n "$nsw" link set lo up
ip -n "$nsw" addr add 198.18.2.2/24 dev lgw0
# Closed loops of short connections: the client side's ports and the server's backlog.
ip netns exec "$nsw" sysctl -qw net.ipv4.ip_local_port_range="10000 60999" net.ipv4.tcp_tw_reuse=1
ip netns exec "$nss" sysctl -qw net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192

# --- nginx: own config, pid file, logs; bodies with burst's pattern (http::body_byte).
mkdir -p "$dir/www" "$dir/tmp"
py "$dir/www" <<'EOF'
import sys
ALPHA = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
def byte(i):
    i %= 1 << 20
    rot = (((i // 64) * 0x9E3779B97F4A7C15) % (1 << 64)) >> 58
    return ALPHA[((i % 64) + rot) % 64]
period = bytes(byte(i) for i in range(1 << 20))
for name, n in (("1k", 1024), ("64k", 65536), ("1m", 1 << 20)):
    open(f"{sys.argv[1]}/{name}.bin", "wb").write(period[:n])
EOF
chmod -R a+rX "$dir/www"
cat > "$dir/nginx.conf" <<EOF
worker_processes 1;
worker_cpu_affinity 01;
worker_rlimit_nofile 16384;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
  log_format lab '\$remote_addr \$status \$body_bytes_sent';
  access_log $dir/access.log lab;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
  keepalive_requests 100000000;
  keepalive_timeout 10s;
  server {
    listen 198.18.1.1:80 backlog=8192;
    listen 198.18.2.1:80 backlog=8192;
    root $dir/www;
  }
}
EOF
ip netns exec "$nss" "$nginx" -p "$dir" -c "$dir/nginx.conf" 2> "$dir/nginx.out" &
ngx_pid=$!
for _ in $(seq 1 50); do [ -s "$dir/nginx.pid" ] && break; kill -0 "$ngx_pid" 2>/dev/null || break; sleep 0.1; done
[ -s "$dir/nginx.pid" ] || { cat "$dir/nginx.out"; fail "nginx did not start"; }
ip netns exec "$nsw" wrk -t1 -c1 -d1s http://198.18.2.1/1k.bin > /dev/null || fail "wrk cannot reach nginx"

# Each burst gen run has its own 16 source addresses (198.18.1.<lo>-<lo+15>, 800,000 tuples):
# nginx closes first (Connection: close), so the kernel holds every earlier connection's
# 4-tuple in TIME-WAIT for 60 s, and a new SYN on such a tuple is taken for an old duplicate
# unless its sequence number is above the old one's (RFC 6191 without timestamps): half the
# connections of a second run on the same tuples would wait for a SYN retransmission.
run_no=0
# client_toml PATH CONC SECS REQS_PER_CONN [TCP-EXTRA]: burst gen's client config for this lab.
client_toml() {
  cat <<EOF
[eal]
args = ["--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "-m", "2048",
        "--file-prefix=lgn-$tag", "--vdev=net_af_packet0,iface=lgn0,framecnt=32768"]
cores = 1
cpus = [1]

[[port]]
name = "c"
device = "net_af_packet0"
addresses = ["198.18.1.2/24"]
offloads = false

[[client]]
sources = { addresses = "198.18.1.$lo-198.18.1.$((lo + 15))", ports = "10000-60000" }
servers = ["198.18.1.1:80"]
concurrency = $2
duration = "${3}s"
timeout = "${TIMEOUT:-2s}"
check_body = true
http = { path = "/$1", requests_per_conn = $4 }

[tcp]
max_connections = ${MAXC:-65536}
${5:-}

[test]
duration = "${3}s"
drain = "0s"
EOF
}

# Access-log lines of this run's sources (198.18.1.<lo>-<lo+15>) with status 200.
log_count() {
  awk -v lo="$lo" '{ split($1, a, ".") } a[1] a[2] a[3] == "198181" && a[4] >= lo && a[4] < lo + 16 && $2 == 200 { n++ }
    END { print n + 0 }' "$dir/access.log"
}

# burst_run NAME PATH CONC SECS REQS_PER_CONN [TCP-EXTRA]: one burst gen run; checks the
# access log against its successful responses; prints "cps rps p50 p90 p99" (latency in µs).
burst_run() {
  local n=$1
  run_no=$((run_no + 1))
  lo=$((16 * run_no))
  [ "$lo" -le 240 ] || fail "more runs than source blocks in 198.18.1.0/24"
  client_toml "$2" "$3" "$4" "$5" "${6:-}" > "$dir/$n.toml"
  : > "$dir/access.log"
  timeout $(($4 + 60)) ip netns exec "$nsg" "$burst" gen -c "$dir/$n.toml" --plain --json "$dir/$n.json" \
    > "$dir/$n.txt" 2> "$dir/$n.log" || { cat "$dir/$n.log" >&2; fail "burst gen run $n"; }
  # nginx logs a request when it has handed the response's last byte to the kernel, before
  # the client has it: by the time the client is done, every line is written.
  local logged resp
  logged=$(log_count)
  resp=$(py "$dir/$n.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))["client"]
print(c["responses"])
EOF
)
  echo "$n: access log $logged lines of status 200 from burst gen's sources, burst gen $resp successful responses" >&2
  # A request answered by nginx whose client gave up (a timeout under loss) is logged but not
  # a success: the counts are equal when nothing failed.
  if [ "$(py "$dir/$n.json" <<<'import json, sys; print(json.load(open(sys.argv[1]))["client"]["failures_total"])')" -eq 0 ]; then
    [ "$logged" -eq "$resp" ] || fail "$n: nginx logged $logged requests, burst gen counted $resp"
  else
    [ "$logged" -ge "$resp" ] || fail "$n: nginx logged $logged requests, fewer than burst gen's $resp"
  fi
  py "$dir/$n.json" "${LOSSY:-}" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))["client"]
# Under loss (LOSSY): failures are reported by reason, only bad responses are fatal.
allowed = c["failures_total"] - c["failures"]["bad_response"] if sys.argv[2] else 0
if c["failures_total"] > allowed or c["body_mismatches"] or c["non_2xx"]:
    print(f"failures {c['failures']} mismatches {c['body_mismatches']} non_2xx {c['non_2xx']}", file=sys.stderr)
    sys.exit(1)
l = c["latency_ns"]
print(f"{c['cps']:.0f} {c['rps']:.0f} {l['p50']/1e3:.0f} {l['p90']/1e3:.0f} {l['p99']/1e3:.0f}")
EOF
}

# wrk_run NAME PATH CONC SECS [HEADER]: prints "cps rps p50 p90 p99" (cps = rps with close, else 0).
wrk_run() {
  local hdr=()
  [ -n "${5:-}" ] && hdr=(-H "$5")
  ip netns exec "$nsw" taskset -c 1 wrk -t1 -c"$3" -d"${4}s" --latency "${hdr[@]}" "http://198.18.2.1/$2" > "$dir/$1.wrk" 2>&1 ||
    { cat "$dir/$1.wrk" >&2; fail "wrk run $1"; }
  py "$dir/$1.wrk" "${5:-}" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
def us(v):
    m = re.match(r"([\d.]+)(us|ms|s)$", v)
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", t, re.M))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
err = re.search(r"Socket errors: (.*)", t) or re.search(r"Non-2xx.*", t)
if err:
    print(f"wrk: {err.group(0)}", file=sys.stderr)
cps = rps if sys.argv[2] else 0
print(f"{cps:.0f} {rps:.0f} {us(pct['50']):.0f} {us(pct['90']):.0f} {us(pct['99']):.0f}")
EOF
}

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
# col N: the Nth figure of each line on stdin, median.
col() { awk -v k="$1" '{print $k}' | median; }

echo "lab-gen-nginx: nginx $("$nginx" -v 2>&1 | sed 's/.*\///'), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), burst $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $rounds round(s) of ${secs}s, $conns connections, 1 KiB body"
variants="close keepalive"
[ $mode = check ] && variants="close"
# SIZES / LOSS_ONLY: the loss runs alone, for one or more sizes.
[ -n "${SIZES:-}" ] && sizes=$SIZES
[ -n "${LOSS_ONLY:-}" ] && variants= rounds=0
for v in $variants; do
  b=() w=()
  for r in $(seq 1 "$rounds"); do
    if [ $v = close ]; then
      burst_run "b-$v-$r" 1k.bin "$conns" "$secs" 1 > "$dir/fig"
      w+=("$(wrk_run "w-$v-$r" 1k.bin "$conns" "$secs" "Connection: close")")
    else
      burst_run "b-$v-$r" 1k.bin "$conns" "$secs" 1000000 > "$dir/fig"
      w+=("$(wrk_run "w-$v-$r" 1k.bin "$conns" "$secs")")
    fi
    b+=("$(cat "$dir/fig")")
    echo "round $r $v: burst gen cps/rps/p50/p90/p99(µs) ${b[-1]} | wrk ${w[-1]}"
  done
  printf '%s\n' "${b[@]}" > "$dir/b-$v.fig"
  printf '%s\n' "${w[@]}" > "$dir/w-$v.fig"
done
[ -n "$variants" ] && echo && printf '%-22s %10s %10s %8s %8s %8s\n' "median ($conns conns)" "conn/s" "req/s" "p50 µs" "p90 µs" "p99 µs"
for v in $variants; do
  for t in b w; do
    name="burst gen, $v"; [ $t = w ] && name="wrk, $v"
    printf '%-22s %10s %10s %8s %8s %8s\n' "$name" $(for k in 1 2 3 4 5; do col $k < "$dir/$t-$v.fig"; done)
  done
done

# --- 2: 1 KiB / 64 KiB / 1 MiB at concurrency 1,000 with 3 % loss each way on lgn1.
ip netns exec "$nss" nft -f - <<EOF
table inet lgnloss {
  chain in {
    type filter hook input priority -10; policy accept;
    iifname "lgn1" meta l4proto tcp numgen random mod 100 < 3 counter drop
  }
  chain out {
    type filter hook output priority -10; policy accept;
    oifname "lgn1" meta l4proto tcp numgen random mod 100 < 3 counter drop
  }
}
EOF
cap_pid=
if [ -n "${CAPTURE:-}" ]; then
  ip netns exec "$nss" tcpdump -q -i lgn1 -s 96 -B 65536 -w "$dir/loss.pcap" 2>/dev/null &
  cap_pid=$!
  sleep 1
fi
echo
echo "3 % loss each way, concurrency 1000, Connection: close, every body byte checked:"
printf '%-6s %10s %14s %9s %8s %s\n' size responses "body bytes" "req/s" seconds failures
for s in $sizes; do
  # 64 KiB rings: a window of several segments, so losses are repaired by fast retransmit.
  # syn_retries = 6, Linux's: with the seed's 2, a SYN exchange lost three times in a row
  # fails a few of 25,000 connections at 3 % each way. Failures other than bad_response are
  # reported, not fatal: now and then Linux resets a connection (docs/benchmarks.md).
  LOSSY=1 TIMEOUT=30s MAXC=16384 burst_run "loss-$s" "$s.bin" 1000 "$loss_secs" 1 \
    $'send_buffer = "64KiB"\nrecv_buffer = "64KiB"\nsyn_retries = 6' > /dev/null
  py "$dir/loss-$s.json" "$s" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); c = r["client"]
size = {"1k": 1024, "64k": 65536, "1m": 1 << 20}[sys.argv[2]]
assert c["body_bytes"] == c["responses"] * size, "body bytes are not responses x size"
assert c["peak_open"] == 1000, f"concurrency 1000 not reached ({c['peak_open']})"
f = ", ".join(f"{k} {v}" for k, v in c["failures"].items())
print(f"{sys.argv[2]:<6} {c['responses']:>10} {c['body_bytes']:>14} {c['rps']:>9.0f} {r['seconds']:>8.1f} {f}")
EOF
done
[ -n "$cap_pid" ] && { sleep 1; kill "$cap_pid"; wait "$cap_pid" 2>/dev/null || true; }
ip netns exec "$nss" nft list table inet lgnloss | awk '/counter/ { for (i = 1; i <= NF; i++) if ($i == "packets") printf "dropped %s packets %s; ", $(i + 1), ($0 ~ /iifname/ ? "in" : "out") } END { print "" }'
echo "lab-gen-nginx: ok"
