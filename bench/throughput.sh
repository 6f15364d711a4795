#!/usr/bin/env bash
# bench/throughput.sh — tunnel throughput, latency and memory in two network namespaces.
# A benchmark, not a test: it asserts nothing about speed. See bench/README.md.
#
# Two namespaces A (iperf3 client) and B (iperf3 server) joined by one veth. Configurations:
#   raw          the veth itself (192.168.250.0/24)
#   wggo-wggo    wireguard-go <-> wireguard-go       (the reference)
#   qvpn-qvpn    qvpn-wg <-> qvpn-wg
#   qvpn-qvpn-nooffload   the same with QVPN_OFFLOAD=0 (no TUN/UDP offloads; batches only)
#   qvpn-wggo    qvpn-wg in A <-> wireguard-go in B  (forward: qvpn encrypts; -R: qvpn decrypts)
# For each: iperf3 with 1 stream and with -P N, each forward and reverse (-R); the median of
# 100 pings at -i 0.01; the CPU time the daemons used during each iperf3 run; and each daemon's
# VmRSS when idle (after the handshake) and at the end of the load. Prints a table and the
# ratios qvpn/wireguard-go and qvpn/raw; -o FILE writes everything as JSON.
# A qvpn-wg that is missing or does not start is reported as not measured; the rest still runs.
#
# Usage: bench/throughput.sh [-t SECONDS] [-P STREAMS] [-n PINGS] [-o FILE.json]
#          [--qvpn-wg PATH] [--wireguard-go PATH] [--configs raw,wggo-wggo,qvpn-qvpn,qvpn-wggo,qvpn-qvpn-nooffload]
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
LAB_NAME=throughput
LAB_SUMMARY=0
E2E_LOG_LEVEL=${E2E_LOG_LEVEL:-error}   # the daemons' LOG_LEVEL: no debug logging while measuring
# shellcheck source=../tests/e2e/lib.sh
source "$REPO/tests/e2e/lib.sh"

DURATION=10
STREAMS=4
PINGS=100
OUT=""
QVPN_WG=${QVPN_WG_BIN:-${QVPN_BUILD:-$REPO/build}/qvpn-wg}
WGGO=${E2E_WIREGUARD_GO:-$(command -v wireguard-go || true)}
CONFIGS=raw,wggo-wggo,qvpn-qvpn,qvpn-wggo,qvpn-qvpn-nooffload

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    -t) DURATION=$2; shift 2 ;;
    -P) STREAMS=$2; shift 2 ;;
    -n) PINGS=$2; shift 2 ;;
    -o) OUT=$2; shift 2 ;;
    --qvpn-wg) QVPN_WG=$2; shift 2 ;;
    --wireguard-go) WGGO=$2; shift 2 ;;
    --configs) CONFIGS=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "throughput.sh: unknown argument $1" >&2; usage 2 ;;
  esac
done
[[ $DURATION =~ ^[0-9]+$ && $STREAMS =~ ^[0-9]+$ && $PINGS =~ ^[0-9]+$ ]] || usage 2
[[ -z $OUT || $OUT == /* ]] || OUT="$PWD/$OUT"

lab_init
need_cmd iperf3 iperf3
need_cmd ping iputils-ping
need_cmd ss iproute2
[[ -n $WGGO && -x $WGGO ]] || fail "wireguard-go not found (apt-get install wireguard-go, or --wireguard-go PATH)"

RES=$LAB_TMP/results.tsv   # config  key  value
: >"$RES"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"; }
record meta started "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
record meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
record meta duration_s "$DURATION"
record meta streams "$STREAMS"
record meta pings "$PINGS"
record meta kernel "$(uname -r)"
record meta cpus "$(nproc)"
record meta cpu_model "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
record meta wireguard_go "$WGGO ($("$WGGO" --version 2>/dev/null | head -n1))"
record meta iperf3 "$(iperf3 --version | head -n1)"
record meta qvpn_wg "$QVPN_WG"
read -r LOAD1 _ </proc/loadavg
if awk -v l="$LOAD1" -v n="$(nproc)" 'BEGIN { exit !(l > n * 0.5) }'; then
  log "WARNING: load average $LOAD1 on $(nproc) CPUs: other work is running, figures will be noisy"
fi

A=$LAB_PREFIX-ba
B=$LAB_PREFIX-bb
lab_ns "$A"
lab_ns "$B"
lab_link "$A" "$B" 192.168.250.1/24,fd00:250::1/64 192.168.250.2/24,fd00:250::2/64
ping_ok "$A" 192.168.250.2 1 >/dev/null || fail "the veth does not work"

CLK_TCK=$(getconf CLK_TCK)
DAEMONS=()   # pids of the daemons of the current configuration

cpu_ticks() {  # total utime+stime of DAEMONS
  local pid sum=0 f
  for pid in "${DAEMONS[@]}"; do
    f=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    read -r -a f <<<"${f##*) }"   # fields after "PID (COMM) ": [11] utime, [12] stime
    sum=$((sum + f[11] + f[12]))
  done
  echo "$sum"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo ""; }

# iperf CONFIG MODE ADDR: one iperf3 run A -> B (MODE: 1, P, R1, RP).
iperf() {
  local cfg=$1 mode=$2 addr=$3 i json c0 c1 t0 t1
  local -a args=(-c "$addr" -p 5201 -t "$DURATION" -J)
  [[ $mode == *P ]] && args+=(-P "$STREAMS")
  [[ $mode == R* ]] && args+=(-R)
  bg_run "iperf3-server-$cfg-$mode" ip netns exec "$B" iperf3 -s -1 -p 5201
  for ((i = 0; i < 50; i++)); do
    [[ -n $(ip netns exec "$B" ss -Hltn 'sport = :5201') ]] && break
    sleep 0.1
  done
  local spid=$BG_PID
  json="$LAB_TMP/iperf3-$cfg-$mode.log"
  c0=$(cpu_ticks)
  t0=$EPOCHREALTIME
  bg_run "iperf3-$cfg-$mode" timeout $((DURATION + 30)) ip netns exec "$A" iperf3 "${args[@]}"
  wait "$BG_PID" || true
  t1=$EPOCHREALTIME
  c1=$(cpu_ticks)
  for ((i = 0; i < 30; i++)); do lab_alive "$spid" || break; sleep 0.1; done
  kill "$spid" 2>/dev/null || true   # still there if the client never connected
  wait "$spid" 2>/dev/null || true
  local parsed
  parsed=$("$LAB_PY" - "$json" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print("error\tunreadable iperf3 output"); sys.exit()
if "error" in d:
    print("error\t" + d["error"].replace("\t", " ")); sys.exit()
e = d["end"]
print("bps\t%.0f" % e["sum_received"]["bits_per_second"])
print("retransmits\t%s" % e.get("sum_sent", {}).get("retransmits", ""))
EOF
)
  local k v
  while IFS=$'\t' read -r k v; do record "$cfg" "iperf.$mode.$k" "$v"; done <<<"$parsed"
  if [[ ${#DAEMONS[@]} -gt 0 ]]; then
    record "$cfg" "iperf.$mode.daemon_cpu_pct" \
      "$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", c / hz / (b - a) * 100 }')"
  fi
  log "$cfg iperf3 $mode: $(tr '\n' ' ' <<<"$parsed")"
}

# ping_median CONFIG ADDR
ping_median() {
  local out med
  out=$(ip netns exec "$A" ping -n -c "$PINGS" -i 0.01 -W 1 "$2" 2>&1 || true)
  med=$(grep -o 'time=[0-9.]*' <<<"$out" | cut -d= -f2 | sort -n \
        | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
  record "$1" ping_median_ms "$med"
  record "$1" ping_replies "$(grep -c 'time=' <<<"$out" || true)"
  log "$1 ping median over $PINGS: ${med:-none} ms"
}

measure_all() {  # CONFIG ADDR
  local m
  for m in 1 P R1 RP; do iperf "$1" "$m" "$2"; done
}

# tunnel CONFIG IMPL_A IMPL_B
tunnel() {
  local cfg=$1 ia=$2 ib=$3 if_a if_b pub_a pub_b pa pb
  local l=${cfg%%-*} r=${cfg#*-}
  local tag=${l:0:1}${r:0:1}
  if_a=$(lab_ifname "a$tag")
  if_b=$(lab_ifname "b$tag")
  for impl in "$ia" "$ib"; do
    if [[ ! -x $impl ]]; then
      record "$cfg" status "not measured: $impl is not built"
      log "$cfg: not measured ($impl is not built)"
      return 0
    fi
  done
  pub_a=$(wg_genkey "$if_a")
  pub_b=$(wg_genkey "$if_b")
  if ! start_wg_soft "$ia" "$A" "$if_a" || ! start_wg_soft "$ib" "$B" "$if_b"; then
    record "$cfg" status "not measured: a daemon did not start"
    stop_wg "$if_a"; stop_wg "$if_b"
    return 0
  fi
  pa=$(daemon_pid "$if_a")
  pb=$(daemon_pid "$if_b")
  DAEMONS=("$pa" "$pb")
  if ! wgx "$A" set "$if_a" private-key "$(wg_keyfile "$if_a")" listen-port 51901 \
         peer "$pub_b" endpoint 192.168.250.2:51902 allowed-ips 10.250.0.2/32 \
     || ! wgx "$B" set "$if_b" private-key "$(wg_keyfile "$if_b")" listen-port 51902 \
         peer "$pub_a" endpoint 192.168.250.1:51901 allowed-ips 10.250.0.1/32; then
    record "$cfg" status "not measured: wg set failed"
    stop_wg "$if_a"; stop_wg "$if_b"; DAEMONS=()
    return 0
  fi
  tun_up "$A" "$if_a" 10.250.0.1/24
  tun_up "$B" "$if_b" 10.250.0.2/24
  if ! ping_until "$A" 10.250.0.2 15; then
    record "$cfg" status "not measured: no traffic through the tunnel"
    stop_wg "$if_a"; stop_wg "$if_b"; DAEMONS=()
    return 0
  fi
  sleep 2
  record "$cfg" rss_kb.a.idle "$(rss_kb "$pa")"
  record "$cfg" rss_kb.b.idle "$(rss_kb "$pb")"
  measure_all "$cfg" 10.250.0.2
  record "$cfg" rss_kb.a.load "$(rss_kb "$pa")"
  record "$cfg" rss_kb.b.load "$(rss_kb "$pb")"
  ping_median "$cfg" 10.250.0.2
  record "$cfg" status ok
  record "$cfg" impl_a "$ia"
  record "$cfg" impl_b "$ib"
  stop_wg "$if_a"
  stop_wg "$if_b"
  DAEMONS=()
}

IFS=, read -r -a WANT <<<"$CONFIGS"
for cfg in "${WANT[@]}"; do
  log "=== $cfg ==="
  case $cfg in
    raw)
      measure_all raw 192.168.250.2
      ping_median raw 192.168.250.2
      record raw status ok ;;
    wggo-wggo) tunnel wggo-wggo "$WGGO" "$WGGO" ;;
    qvpn-qvpn) tunnel qvpn-qvpn "$QVPN_WG" "$QVPN_WG" ;;
    qvpn-qvpn-nooffload)
      export QVPN_OFFLOAD=0
      tunnel qvpn-qvpn-nooffload "$QVPN_WG" "$QVPN_WG"
      unset QVPN_OFFLOAD ;;
    qvpn-wggo) tunnel qvpn-wggo "$QVPN_WG" "$WGGO" ;;
    *) fail "unknown configuration $cfg (raw, wggo-wggo, qvpn-qvpn, qvpn-qvpn-nooffload, qvpn-wggo)" ;;
  esac
done
record meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"

"$LAB_PY" - "$RES" "$OUT" "$CONFIGS" <<'EOF'
import json, sys
res, out, order = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
data = {}
for line in open(res):
    cfg, key, val = line.rstrip("\n").split("\t", 2)
    node = data.setdefault(cfg, {})
    *path, last = key.split(".")
    for p in path:
        node = node.setdefault(p, {})
    try:
        val = float(val) if "." in val or "e" in val else int(val)
    except ValueError:
        pass
    node[last] = val
meta = data.pop("meta", {})
modes = [("1", "1 stream"), ("P", f"-P {meta.get('streams')}"), ("R1", "1 stream -R"),
         ("RP", f"-P {meta.get('streams')} -R")]
names = {"raw": "raw veth", "wggo-wggo": "wireguard-go <-> wireguard-go",
         "qvpn-qvpn": "qvpn-wg <-> qvpn-wg", "qvpn-wggo": "qvpn-wg <-> wireguard-go",
         "qvpn-qvpn-nooffload": "qvpn-wg <-> qvpn-wg, no offload"}

def mbit(cfg, m):
    v = data.get(cfg, {}).get("iperf", {}).get(m, {}).get("bps")
    return v / 1e6 if isinstance(v, (int, float)) else None

def fmt(v, f="{:.0f}"):
    return f.format(v) if isinstance(v, (int, float)) else "-"

print()
print(f"Throughput (Mbit/s, iperf3 -t {meta.get('duration_s')}), load average at start "
      f"{meta.get('loadavg_start')}, at end {meta.get('loadavg_end')}")
hdr = f"{'configuration':32}" + "".join(f"{label:>16}" for _, label in modes) + f"{'ping ms':>10}"
print(hdr)
for cfg in order:
    d = data.get(cfg, {})
    if d.get("status") != "ok":
        print(f"{names.get(cfg, cfg):32}  {d.get('status', 'not measured')}")
        continue
    row = f"{names.get(cfg, cfg):32}"
    for m, _ in modes:
        v = mbit(cfg, m)
        cpu = d.get("iperf", {}).get(m, {}).get("daemon_cpu_pct")
        cell = fmt(v) + (f" ({cpu}%)" if cpu is not None else "")
        row += f"{cell:>16}"
    row += f"{fmt(d.get('ping_median_ms'), '{:.3f}'):>10}"
    print(row)
print("(nn%) = CPU used by the two daemons during the run, 100% = one core")
print()
print("Resident memory (VmRSS, KiB)        A idle   A load   B idle   B load")
for cfg in order:
    r = data.get(cfg, {}).get("rss_kb")
    if r:
        print(f"{names.get(cfg, cfg):32}" + "".join(
            f"{fmt(r.get(s, {}).get(w)):>9}" for s in "ab" for w in ("idle", "load")))
ratios = {}
for num, den in (("qvpn-qvpn", "wggo-wggo"), ("qvpn-qvpn", "raw"), ("qvpn-wggo", "wggo-wggo"),
                 ("qvpn-wggo", "raw"), ("wggo-wggo", "raw"), ("qvpn-qvpn-nooffload", "wggo-wggo")):
    r = {}
    for m, _ in modes:
        a, b = mbit(num, m), mbit(den, m)
        if a is not None and b:
            r[m] = round(a / b, 3)
    if r:
        ratios[f"{num}/{den}"] = r
print()
print("Throughput ratios" + ("" if ratios else ": none (a side is not measured)"))
for k, r in ratios.items():
    print(f"  {k:24}" + "".join(f"{label}: {r.get(m, '-')}   " for m, label in modes))
for cfg in order:
    if data.get(cfg, {}).get("status", "").startswith("not measured") and cfg.startswith("qvpn"):
        print(f"  {cfg}: not measured yet -> no qvpn ratios")
if out:
    with open(out, "w") as f:
        json.dump({"meta": meta, "results": data, "ratios": ratios}, f, indent=2)
    print(f"\nJSON written to {out}")
EOF
