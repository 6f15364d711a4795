#!/usr/bin/env bash
# NAT lab case 6: two nodes behind hard NATs talk through the relay; the relay restarts
# mid-session; both reconnect and traffic resumes on the same WireGuard session.
set -uo pipefail
# shellcheck source=tests/natlab/natlab.sh
source "$(dirname "$0")/natlab.sh"
natlab_pair hard hard
assert_eq "relayed" relay "$(natlab_path 1 2)"
handshakes=$(natlab_counter 1 handshakes_completed)

natlab_relay_stop
log "relay stopped"
ip netns exec "${NL_NS[1]}" ping -n -q -c 1 -W 1 10.77.0.2 >/dev/null 2>&1 && fail "a ping went through with the relay down"
pass "no path while the relay is down"
t0=$EPOCHREALTIME
natlab_relay_start
log "relay restarted"
natlab_ping 1 2
log "traffic resumed $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s after the relay came back"
assert_eq "both nodes are clients of the new relay" 2 "$(natlab_health clients)"
assert_eq "the same WireGuard session carried on (no new handshake)" "$handshakes" "$(natlab_counter 1 handshakes_completed)"
XFER_PORT=24106 xfer "${NL_NS[2]}" 10.77.0.2 "${NL_NS[1]}" 10000000
