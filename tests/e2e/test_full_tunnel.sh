#!/usr/bin/env bash
# qvpn up with AllowedIPs 0.0.0.0/0 and ::/0: everything A sends goes through the tunnel to
# B (here: addresses that only B has, standing for "the internet behind B"), while the
# tunnel's own packets and A's LAN keep using the main table; qvpn down removes the rules.
set -uo pipefail  # so: never `producer | grep -q` (SIGPIPE on the producer fails the pipe)
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
lab_init
QVPN=${QVPN_BIN:?QVPN_BIN is not set (CTest sets it)}

A="$LAB_PREFIX-a"
B="$LAB_PREFIX-b"
lab_ns "$A"
lab_ns "$B"
lab_link "$A" "$B" 192.168.244.1/24,fd00:244::1/64 192.168.244.2/24,fd00:244::2/64
ip -n "$B" addr add 198.18.0.9/32 dev lo || fail "address on B's lo"
ip -n "$B" -6 addr add 2001:db8:9::9/128 dev lo nodad || fail "IPv6 address on B's lo"
IFA=$(lab_ifname a)
IFB=$(lab_ifname b)
LAB_IFACES+=("$IFA" "$IFB")

ping_ok "$A" 198.18.0.9 1 >/dev/null 2>&1 && fail "A reaches 198.18.0.9 before the tunnel"
pass "without the tunnel A has no route to B's far addresses"

PUB_A=$(qvpn_key a)
PUB_B=$(qvpn_key b)
qvpn_toml "$LAB_TMP/a.toml" "$IFA" a - 10.244.0.1/24,fd10:244::1/64 \
  "$PUB_B" 192.168.244.2:51931 0.0.0.0/0,::/0
qvpn_toml "$LAB_TMP/b.toml" "$IFB" b 51931 10.244.0.2/24,fd10:244::2/64 \
  "$PUB_A" - 10.244.0.1/32,fd10:244::1/128

bg_run up-b ip netns exec "$B" "$QVPN" up -c "$LAB_TMP/b.toml"
bg_run up-a ip netns exec "$A" "$QVPN" up -c "$LAB_TMP/a.toml"
PID_A=$BG_PID
for _ in $(seq 50); do grep -q "is up" "$LAB_TMP/up-a.log" 2>/dev/null && break; sleep 0.1; done
grep -q "is up" "$LAB_TMP/up-a.log" || fail "qvpn up on A did not come up"

ip -n "$A" rule show | grep "not from all fwmark 0xca6c lookup 51820" >/dev/null \
  || { ip -n "$A" rule show >&2; fail "no 'not fwmark' rule on A"; }
ip -n "$A" rule show | grep "lookup main suppress_prefixlength 0" >/dev/null \
  || fail "no suppress_prefixlength rule on A"
ip -n "$A" -6 rule show | grep "lookup 51820" >/dev/null || fail "no IPv6 rule on A"
pass "policy rules for IPv4 and IPv6 in place"

ping_until "$A" 198.18.0.9 10 || fail "A does not reach 198.18.0.9 through the tunnel"
ping_ok "$A" 2001:db8:9::9 || fail "A does not reach 2001:db8:9::9 through the tunnel"
ip netns exec "$B" "$QVPN" status --json "$IFB" >"$LAB_TMP/b.json" || fail "status on B"
"$LAB_PY" - "$LAB_TMP/b.json" <<'PY' || fail "B saw no tunnel traffic from A"
import json, sys
peer = json.load(open(sys.argv[1]))["interfaces"][0]["peers"][0]
assert peer["rx_bytes"] > 0 and peer["latest_handshake_age_seconds"] is not None, peer
PY
pass "traffic to B's far addresses, IPv4 and IPv6, goes through the tunnel"

ping_ok "$A" 192.168.244.2 || fail "A lost its LAN (suppress_prefixlength)"
pass "the LAN stays reachable outside the tunnel"

ip netns exec "$A" "$QVPN" down "$IFA" || fail "qvpn down"
for _ in $(seq 50); do lab_alive "$PID_A" || break; sleep 0.1; done
ip -n "$A" rule show | grep "51820\|suppress_prefixlength" >/dev/null \
  && { ip -n "$A" rule show >&2; fail "qvpn down left policy rules behind"; }
ip -n "$A" -6 rule show | grep "51820\|suppress_prefixlength" >/dev/null && fail "IPv6 rules left behind"
ping_ok "$A" 198.18.0.9 1 >/dev/null 2>&1 && fail "198.18.0.9 still reachable after qvpn down"
pass "qvpn down removed the rules and the routes"
