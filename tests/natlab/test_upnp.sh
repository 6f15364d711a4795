#!/usr/bin/env bash
# NAT lab case 3: node 1 behind a hard NAT whose router runs the real miniupnpd (UPnP IGD,
# NAT-PMP, PCP). The node maps its WireGuard port, announces the mapped address, and the
# pair connects directly — where two hard NATs without port mapping stay on the relay.
set -uo pipefail
# shellcheck source=tests/natlab/natlab.sh
source "$(dirname "$0")/natlab.sh"
natlab_pair upnp easy
t0=$EPOCHREALTIME
natlab_wait_path 2 1 direct 15
log "time to direct (node 2 -> node 1): $NL_WAITED s"
natlab_wait_path 1 2 direct 5
mapping=$("$QVPN" status "${NL_IF[1]}" --json >/dev/null; grep -m1 'port mapping' "$LAB_TMP/node1.log")
log "node 1: $mapping"
[[ -n $mapping ]] || fail "node 1 logged no port mapping"
rules=$(ip netns exec "$LAB_PREFIX-r1" iptables-legacy -t nat -L MINIUPNPD -n)
grep -q "udp dpt:" <<<"$rules" || fail "miniupnpd has no UDP mapping: $rules"
pass "miniupnpd holds the mapping: $(grep 'udp dpt:' <<<"$rules" | tr -s ' ')"
report=$(ip netns exec "${NL_NS[1]}" timeout 20 "$QVPN" netcheck -c "$LAB_TMP/n1.toml" --json) \
  || fail "netcheck failed: $report"
answered=$("$LAB_PY" -c 'import json,sys; m=json.load(sys.stdin)["port_mapping"]; print(m["upnp"], m["natpmp"], m["pcp"], m["gateway"])' <<<"$report")
assert_eq "netcheck: the gateway answers UPnP, NAT-PMP and PCP" "True True True 192.168.1.1" "$answered"
assert_eq "node 2 reaches node 1 at its router's address" "44.1.0.2" "$(natlab_path 2 1 endpoint | cut -d: -f1)"
XFER_PORT=24103 xfer "${NL_NS[2]}" 10.77.0.2 "${NL_NS[1]}" 20000000
assert_eq "still direct" direct "$(natlab_path 1 2)"
"$QVPN" down "${NL_IF[1]}" >/dev/null 2>&1 || kill "${NL_PID[1]}"
for ((i = 0; i < 50; i++)); do lab_alive "${NL_PID[1]}" || break; sleep 0.1; done
rules=$(ip netns exec "$LAB_PREFIX-r1" iptables-legacy -t nat -L MINIUPNPD -n)
grep -q "udp dpt:" <<<"$rules" && fail "the mapping outlived the node: $rules"
pass "the node deleted its mapping on shutdown"
