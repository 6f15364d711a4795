#!/usr/bin/env bash
# Rekey under traffic: a steady TCP stream (64 KiB every 100 ms, every byte verified by the
# receiver) runs for ~145 s through a qvpn-wg <-> wireguard-go tunnel, across the 120 s
# REKEY_AFTER_TIME. Two pairs run at the same time, so both roles are covered in one run:
#   pair 1: qvpn-wg is the initiator (it must start the rekey) and sends the stream;
#   pair 2: wireguard-go is the initiator and sends the stream, qvpn-wg answers the rekey.
# Asserted on both sides of both pairs: a second handshake happened, not before ~120 s after the
# first (110 s allowing for the one-second resolution of latest-handshake), and the stream
# arrived complete and intact.
#
# E2E_IMPL_OVERRIDE=/usr/bin/wireguard-go runs it with wireguard-go in place of qvpn-wg.
# E2E_REKEY_SECONDS (default 145) sets the stream's duration; below 130 the rekey is not reached.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

lab_init
lab_impls
need_cmd ping iputils-ping

SECS=${E2E_REKEY_SECONDS:-145}
PORT=24103
declare -A NS_I NS_R IF_I IF_R PUB_I PUB_R HS0 SRV CLI HS_SEEN

# setup_pair N INITIATOR_IMPL RESPONDER_IMPL: namespaces, daemons, first handshake.
setup_pair() {
  local n=$1 impl_i=$2 impl_r=$3 a b
  a=$LAB_PREFIX-${n}i
  b=$LAB_PREFIX-${n}r
  NS_I[$n]=$a NS_R[$n]=$b
  lab_ns "$a"
  lab_ns "$b"
  lab_link "$a" "$b" 192.168.246.1/24,fd00:246::1/64 192.168.246.2/24,fd00:246::2/64
  IF_I[$n]=$(lab_ifname "i$n")
  IF_R[$n]=$(lab_ifname "r$n")
  PUB_I[$n]=$(wg_genkey "i$n")
  PUB_R[$n]=$(wg_genkey "r$n")
  start_wg "$impl_i" "$a" "${IF_I[$n]}"
  start_wg "$impl_r" "$b" "${IF_R[$n]}"
  wg_conf "$a" "${IF_I[$n]}" "$(wg_keyfile "i$n")" 51861 "${PUB_R[$n]}" 192.168.246.2:51862 10.246.0.2/32
  wg_conf "$b" "${IF_R[$n]}" "$(wg_keyfile "r$n")" 51862 "${PUB_I[$n]}" - 10.246.0.1/32
  tun_up "$a" "${IF_I[$n]}" 10.246.0.1/24
  tun_up "$b" "${IF_R[$n]}" 10.246.0.2/24
  ping_until "$a" 10.246.0.2 20 || fail "pair $n: no ping answer through the tunnel"
  wait_handshake "$a" "${IF_I[$n]}" "${PUB_R[$n]}" 10
  HS0[$n.i]=$HS_TIME
  wait_handshake "$b" "${IF_R[$n]}" "${PUB_I[$n]}" 10
  HS0[$n.r]=$HS_TIME
  HS_SEEN[$n.i]=${HS0[$n.i]}
  HS_SEEN[$n.r]=${HS0[$n.r]}
  pass "pair $n ($(basename "$impl_i") initiator -> $(basename "$impl_r")): first handshake at ${HS0[$n.i]}"
}

setup_pair 1 "$QVPN_WG_IMPL" "$WGGO_IMPL"
setup_pair 2 "$WGGO_IMPL" "$QVPN_WG_IMPL"

for n in 1 2; do
  bg_run "stream-server-$n" ip netns exec "${NS_R[$n]}" "$LAB_PY" "$LAB_DIR/xfer.py" stream-server 10.246.0.2 "$PORT" "$n"
  SRV[$n]=$BG_PID
done
for n in 1 2; do
  bg_run "stream-client-$n" timeout $((SECS + 90)) ip netns exec "${NS_I[$n]}" \
    "$LAB_PY" "$LAB_DIR/xfer.py" stream-client 10.246.0.2 "$PORT" "$SECS" 65536 0.1 "$n"
  CLI[$n]=$BG_PID
done
log "streams running for $SECS s (64 KiB every 100 ms); watching latest-handshake once a second"

# record every distinct handshake time seen on each side while the streams run
while lab_alive "${CLI[1]}" || lab_alive "${CLI[2]}"; do
  for n in 1 2; do
    for side in i r; do
      if [[ $side == i ]]; then
        ns=${NS_I[$n]} ifc=${IF_I[$n]} peer=${PUB_R[$n]}
      else
        ns=${NS_R[$n]} ifc=${IF_R[$n]} peer=${PUB_I[$n]}
      fi
      lab_alive "$(daemon_pid "$ifc")" || fail "pair $n: the daemon of $ifc died during the stream"
      t=$(handshake_time "$ns" "$ifc" "$peer") || fail "pair $n: wg show $ifc latest-handshakes failed"
      last=${HS_SEEN[$n.$side]##* }
      if [[ $t != "$last" ]]; then
        HS_SEEN[$n.$side]+=" $t"
        log "pair $n side $side ($ifc): new handshake at $t (+$((t - ${HS0[$n.$side]})) s)"
      fi
    done
  done
  sleep 1
done

for n in 1 2; do
  wait "${CLI[$n]}" || fail "pair $n: stream client failed: $(cat "$LAB_TMP/stream-client-$n.log")"
  for ((i = 0; i < 100; i++)); do lab_alive "${SRV[$n]}" || break; sleep 0.1; done
  wait "${SRV[$n]}" || fail "pair $n: stream server failed: $(cat "$LAB_TMP/stream-server-$n.log")"
  line=$(grep '^sent ' "$LAB_TMP/stream-client-$n.log" || true)
  [[ -n $line ]] || fail "pair $n: stream client printed no summary: $(cat "$LAB_TMP/stream-client-$n.log")"
  read -r _ sent _ chunks _ maxsend <<<"$line"
  got=$(awk '$1 == "ok" { print $2 }' "$LAB_TMP/stream-server-$n.log")
  log "pair $n: client sent $sent bytes in $chunks chunks (slowest send ${maxsend} s)"
  assert_ge "pair $n: stream length" $((SECS * 10 * 65536 * 9 / 10)) "$sent"
  assert_eq "pair $n: receiver verified every byte" "$sent" "$got"
  for side in i r; do
    read -r -a seen <<<"${HS_SEEN[$n.$side]}"
    (( ${#seen[@]} >= 2 )) || fail "pair $n side $side: no second handshake during the ${SECS} s stream (seen: ${seen[*]})"
    first_rekey=$((seen[1] - seen[0]))
    (( first_rekey >= 110 )) || fail "pair $n side $side: rekey after only $first_rekey s (REKEY_AFTER_TIME is 120 s); seen: ${seen[*]}"
    pass "pair $n side $side: handshake advanced ${seen[0]} -> ${seen[*]:1} (first rekey after $first_rekey s, ${#seen[@]} handshakes)"
  done
done
