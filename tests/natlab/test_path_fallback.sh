#!/usr/bin/env bash
# NAT lab case 5: a direct path blocked mid-transfer (UDP dropped on a router, the relay's
# TCP still passing): traffic falls back to the relay within 5 s and the TCP stream
# survives; unblocked, the pair goes direct again.
set -uo pipefail
# shellcheck source=tests/natlab/natlab.sh
source "$(dirname "$0")/natlab.sh"
natlab_pair easy easy
natlab_wait_path 1 2 direct 5
log "time to direct: $NL_WAITED s"

# A 25 s stream of 64 KiB every 20 ms; the receiver checks every byte.
port=24105
bg_run stream-server ip netns exec "${NL_NS[2]}" "$LAB_PY" "$LAB_DIR/xfer.py" stream-server 10.77.0.2 $port
srv=$BG_PID
bg_run stream-client ip netns exec "${NL_NS[1]}" "$LAB_PY" "$LAB_DIR/xfer.py" stream-client 10.77.0.2 $port 25 65536 0.02
cli=$BG_PID
sleep 4
r1="$LAB_PREFIX-r1"
ip netns exec "$r1" iptables -I FORWARD -p udp -j DROP || fail "block UDP on r1"
log "blocked UDP through router 1"
natlab_wait_path 1 2 relay 5
log "time to fall back to the relay: node 1 $NL_WAITED s"
natlab_wait_path 2 1 relay 5
log "time to fall back to the relay: node 2 (after node 1) $NL_WAITED s"
sleep 5
ip netns exec "$r1" iptables -D FORWARD -p udp -j DROP || fail "unblock UDP on r1"
log "unblocked"
natlab_wait_path 1 2 direct 20
log "time back to direct: $NL_WAITED s"
wait "$cli" || fail "stream client failed: $(cat "$LAB_TMP/stream-client.log")"
wait "$srv" || fail "stream server failed: $(cat "$LAB_TMP/stream-server.log")"
log "client: $(cat "$LAB_TMP/stream-client.log")"
grep -q '^ok ' "$LAB_TMP/stream-server.log" || fail "the stream was not intact: $(cat "$LAB_TMP/stream-server.log")"
pass "the TCP stream survived both path changes: $(cat "$LAB_TMP/stream-server.log")"
