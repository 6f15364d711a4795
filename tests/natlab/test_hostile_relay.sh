#!/usr/bin/env bash
# NAT lab case 8: hostile input — garbage on the relay port, a client that cannot prove
# its key, an oversized frame, malformed STUN, disco with bad boxes — is rejected and
# counted; the relay and the nodes carry on.
set -uo pipefail
# shellcheck source=tests/natlab/natlab.sh
source "$(dirname "$0")/natlab.sh"
natlab_pair hard hard
hostile=$(dirname "$0")/hostile.py

assert_cmd "hostile relay clients" ip netns exec "${NL_NS[1]}" timeout 30 "$LAB_PY" "$hostile" relay 44.0.0.1 8443
assert_cmd "malformed STUN" ip netns exec "${NL_NS[1]}" timeout 10 "$LAB_PY" "$hostile" stun 44.0.0.1 3478
# From node 1's router, on its LAN: the node's port is reachable there.
assert_cmd "disco with bad boxes" ip netns exec "$LAB_PREFIX-r1" timeout 10 "$LAB_PY" "$hostile" disco 192.168.1.2 "$NL_PORT" "${NL_PUB[2]}"
sleep 0.5
log "relay: $(natlab_health)"
assert_ge "relay http_rejected" 2 "$(natlab_health http_rejected)"
assert_ge "relay auth_failures" 1 "$(natlab_health auth_failures)"
assert_ge "relay frames_rejected" 1 "$(natlab_health frames_rejected)"
assert_ge "relay stun_rejected" 4 "$(natlab_health stun_rejected)"
assert_ge "node 1 drop_disco_malformed (bad boxes from its peer's key)" 5 "$(natlab_counter 1 drop_disco_malformed)"
assert_ge "node 1 drop_disco_unknown_sender" 5 "$(natlab_counter 1 drop_disco_unknown_sender)"
assert_ge "node 1 drop_unknown_protocol" 3 "$(natlab_counter 1 drop_unknown_protocol)"
assert_eq "the relay still has both clients" 2 "$(natlab_health clients)"
lab_alive "${NL_PID[1]}" || fail "node 1 died"
lab_alive "$NL_RELAY_PID" || fail "the relay died"
natlab_ping 1 2
pass "the nodes still talk through the relay"
