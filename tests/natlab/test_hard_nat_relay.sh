#!/usr/bin/env bash
# NAT lab case 2: both nodes behind hard NAT (MASQUERADE --random-fully): no direct path
# exists, so traffic stays on the relay, and a 100 MB transfer completes intact.
set -uo pipefail
# shellcheck source=tests/natlab/natlab.sh
source "$(dirname "$0")/natlab.sh"
natlab_pair hard hard
assert_eq "node 1's path to node 2" relay "$(natlab_path 1 2)"
sleep 6  # long enough for any direct path to have been proven
assert_eq "still relayed after the punching window" relay "$(natlab_path 1 2)"
reason=$(natlab_path 1 2 reason)
log "why relayed: $reason"
[[ $reason == "both sides behind hard NAT, no port mapping" ]] || fail "unexpected reason: $reason"
pass "status says why: $reason"
pong=$("$QVPN" ping "${NL_PUB[2]}" -c 1 --json) || fail "qvpn ping failed: $pong"
assert_eq "qvpn ping: a reply through the relay" "1 relay lab" "$("$LAB_PY" -c '
import json, sys
r = json.load(sys.stdin)
print(r["received"], r["replies"][0]["path"], r["replies"][0]["relay"])' <<<"$pong")"
before=$(natlab_health bytes_forwarded)
XFER_TIMEOUT=240 XFER_PORT=24102 xfer "${NL_NS[2]}" 10.77.0.2 "${NL_NS[1]}" 100000000
after=$(natlab_health bytes_forwarded)
assert_ge "the relay forwarded the transfer (bytes)" 100000000 $((after - before))
assert_eq "still relayed after the transfer" relay "$(natlab_path 1 2)"
