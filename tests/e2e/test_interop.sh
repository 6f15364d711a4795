#!/usr/bin/env bash
# Interop matrix: qvpn-wg <-> qvpn-wg, qvpn-wg <-> wireguard-go, wireguard-go <-> qvpn-wg, each
# with side A and then side B sending the first packet (being the handshake initiator).
#
# Per case, in two namespaces A and B joined by a veth (192.168.241.0/24, fd00:241::/64):
#   - only the initiator is given the peer's endpoint, so the responder must learn it from the
#     handshake; the outer transport is IPv4 when A initiates and IPv6 when B initiates;
#   - handshake, then pings over IPv4 and IPv6 inside the tunnel (10.241.0.0/24, fd10:241::/64)
#     in both directions;
#   - a TCP transfer (200 MB by default) A -> B whose sha256 matches on both ends, over the
#     inner IPv4 address when A initiates and the inner IPv6 address when B initiates;
#   - `wg show IFACE dump` on both sides lists the peer with a handshake < 30 s old and rx/tx
#     byte counts that account for the transfer.
#
# qvpn-wg runs with its kernel offloads (TUN TSO/GRO, UDP GSO/GRO) unless QVPN_OFFLOAD=0 is
# set, as test_interop_no_offload.sh does; each case checks the daemon's log says which.
# E2E_IMPL_OVERRIDE=/usr/bin/wireguard-go runs the matrix with wireguard-go in place of qvpn-wg.
# E2E_XFER_BYTES (default 200000000) sets the size of each transfer.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

lab_init
lab_impls
need_cmd ping iputils-ping

XFER_PORT=24101
BYTES=${E2E_XFER_BYTES:-200000000}
A=$LAB_PREFIX-a
B=$LAB_PREFIX-b
lab_ns "$A"
lab_ns "$B"
lab_link "$A" "$B" 192.168.241.1/24,fd00:241::1/64 192.168.241.2/24,fd00:241::2/64
assert_cmd "underlay ping A -> B (IPv4)" ping_ok "$A" 192.168.241.2 1
assert_cmd "underlay ping A -> B (IPv6)" ping_ok "$A" fd00:241::2 1

impl_path() {  # qvpn | wggo
  if [[ $1 == qvpn ]]; then printf '%s\n' "$QVPN_WG_IMPL"; else printf '%s\n' "$WGGO_IMPL"; fi
}
# The data path line qvpn-wg logs at start must show the offloads as asked.
check_offload() {  # IMPL IFACE
  [[ $1 == qvpn && $QVPN_WG_IMPL != */wireguard-go ]] || return 0
  local want=on
  [[ ${QVPN_OFFLOAD:-1} =~ ^(0|off|false|no)$ ]] && want=off
  grep "data path: tun offload $want, udp gso $want, udp gro $want" \
    "$LAB_TMP/daemon-$2.log" >/dev/null || fail "$2: offloads not $want: $(grep 'data path' "$LAB_TMP/daemon-$2.log")"
  pass "$2: offloads $want"
}

impl_label() {
  if [[ $1 == qvpn ]]; then printf 'qvpn-wg'; else printf 'wireguard-go'; fi
}

# run_case N IMPL_A IMPL_B INITIATOR(a|b)
run_case() {
  local n=$1 ia=$2 ib=$3 init=$4
  local if_a if_b pub_a pub_b port_a=$((51800 + 2 * n)) port_b=$((51801 + 2 * n))
  local ns_i ns_r if_i if_r pub_i pub_r inner_r ep hs_a hs_b endpoints dst
  if_a=$(lab_ifname "a$n")
  if_b=$(lab_ifname "b$n")
  log "=== case $n: A=$(impl_label "$ia") B=$(impl_label "$ib"), initiator $init ==="

  pub_a=$(wg_genkey "a$n")
  pub_b=$(wg_genkey "b$n")
  start_wg "$(impl_path "$ia")" "$A" "$if_a"
  start_wg "$(impl_path "$ib")" "$B" "$if_b"
  check_offload "$ia" "$if_a"
  check_offload "$ib" "$if_b"

  local ep_a=- ep_b=-
  if [[ $init == a ]]; then
    ep_a="192.168.241.2:$port_b"   # A knows B (IPv4 underlay)
  else
    ep_b="[fd00:241::1]:$port_a"   # B knows A (IPv6 underlay)
  fi
  wg_conf "$A" "$if_a" "$(wg_keyfile "a$n")" "$port_a" "$pub_b" "$ep_a" 10.241.0.2/32 fd10:241::2/128
  wg_conf "$B" "$if_b" "$(wg_keyfile "b$n")" "$port_b" "$pub_a" "$ep_b" 10.241.0.1/32 fd10:241::1/128
  tun_up "$A" "$if_a" 10.241.0.1/24 fd10:241::1/64
  tun_up "$B" "$if_b" 10.241.0.2/24 fd10:241::2/64

  if [[ $init == a ]]; then
    ns_i=$A ns_r=$B if_i=$if_a if_r=$if_b pub_i=$pub_a pub_r=$pub_b
    inner_r=10.241.0.2 ep="192.168.241.1:$port_a"
  else
    ns_i=$B ns_r=$A if_i=$if_b if_r=$if_a pub_i=$pub_b pub_r=$pub_a
    inner_r=10.241.0.1 ep="[fd00:241::2]:$port_b"
  fi
  # Nothing may have been sent yet: no handshake before the initiator's first packet.
  assert_eq "case $n: no handshake before the first packet" 0 "$(handshake_time "$ns_r" "$if_r" "$pub_i")"

  ping_until "$ns_i" "$inner_r" 20 || fail "case $n: initiator's ping to $inner_r never answered"
  wait_handshake "$ns_i" "$if_i" "$pub_r" 10
  hs_a=$HS_TIME
  wait_handshake "$ns_r" "$if_r" "$pub_i" 10
  hs_b=$HS_TIME
  pass "case $n: handshake (initiator $hs_a, responder $hs_b)"
  endpoints=$(wgx "$ns_r" show "$if_r" endpoints)
  assert_eq "case $n: responder learnt the initiator's endpoint" "$pub_i	$ep" "$endpoints"

  assert_cmd "case $n: ping A -> B inner IPv4" ping_ok "$A" 10.241.0.2
  assert_cmd "case $n: ping A -> B inner IPv6" ping_ok "$A" fd10:241::2
  assert_cmd "case $n: ping B -> A inner IPv4" ping_ok "$B" 10.241.0.1
  assert_cmd "case $n: ping B -> A inner IPv6" ping_ok "$B" fd10:241::1

  if [[ $init == a ]]; then dst=10.241.0.2; else dst=fd10:241::2; fi
  xfer "$B" "$dst" "$A" "$BYTES"

  check_peer_dump "$A" "$if_a" "$pub_b" 30 1 "$BYTES"
  check_peer_dump "$B" "$if_b" "$pub_a" 30 "$BYTES" 1
  log "case $n done"

  stop_wg "$if_a"
  stop_wg "$if_b"
}

n=0
for pair in "qvpn qvpn" "qvpn wggo" "wggo qvpn"; do
  read -r ia ib <<<"$pair"
  for init in a b; do
    n=$((n + 1))
    run_case "$n" "$ia" "$ib" "$init"
  done
done
