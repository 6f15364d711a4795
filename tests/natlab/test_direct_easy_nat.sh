#!/usr/bin/env bash
# NAT lab case 1: both nodes behind endpoint-independent NAT (plain MASQUERADE). Traffic
# starts on the relay and moves to a direct path within 5 s; a transfer then runs direct,
# so the relay's byte counters stop growing.
set -uo pipefail
# shellcheck source=tests/natlab/natlab.sh
source "$(dirname "$0")/natlab.sh"
natlab_pair easy easy
pass "the tunnel carries traffic (path from node 1: $(natlab_path 1 2))"
natlab_wait_path 1 2 direct 5
log "time to direct (node 1, from the first tunnel ping): $NL_WAITED s"
natlab_wait_path 2 1 direct 5
assert_eq "node 1 reaches node 2 at its router's WAN address" "44.2.0.2" "$(natlab_path 1 2 endpoint | cut -d: -f1)"
assert_eq "node 2 reaches node 1 at its router's WAN address" "44.1.0.2" "$(natlab_path 2 1 endpoint | cut -d: -f1)"

pong=$("$QVPN" ping "${NL_PUB[2]}" -c 2 --json) || fail "qvpn ping failed: $pong"
assert_eq "qvpn ping: 2 replies over the direct path" "2 direct 44.2.0.2" "$("$LAB_PY" -c '
import json, sys
r = json.load(sys.stdin)
print(r["received"], r["replies"][-1]["path"], r["replies"][-1]["endpoint"].split(":")[0])' <<<"$pong")"
before=$(natlab_health bytes_forwarded)
XFER_PORT=24101 xfer "${NL_NS[2]}" 10.77.0.2 "${NL_NS[1]}" 50000000
after=$(natlab_health bytes_forwarded)
log "relay bytes_forwarded: $before before the 50 MB transfer, $after after"
(( after - before < 65536 )) || fail "the relay forwarded $((after - before)) bytes during a direct transfer"
pass "the relay's byte counter grew by $((after - before)) bytes during the direct transfer"
assert_eq "still direct after the transfer" direct "$(natlab_path 1 2)"
