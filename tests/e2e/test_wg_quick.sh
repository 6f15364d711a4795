#!/usr/bin/env bash
# wg-quick drives qvpn-wg exactly as it drives wireguard-go:
#   WG_QUICK_USERSPACE_IMPLEMENTATION=$QVPN_WG_BIN wg-quick up ./IFACE.conf
# in namespace Q (wg-quick itself runs `ip link/addr/route` and `wg setconf`; the daemon forks to
# the background), to a wireguard-go peer in namespace P. Checks: the interface, addresses and
# routes exist, `wg show`/`wg showconf` answer, pings over IPv4 and IPv6 both ways, `wg syncconf`
# applies a change, and `wg-quick down` removes the interface, the UAPI socket and the daemon.
# AllowedIPs are specific prefixes, so wg-quick touches neither resolvconf nor src_valid_mark.
#
# E2E_IMPL_OVERRIDE=/usr/bin/wireguard-go runs it with wireguard-go in place of qvpn-wg.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

lab_init
lab_impls
need_cmd ping iputils-ping
need_cmd wg-quick wireguard-tools

Q=$LAB_PREFIX-q
P=$LAB_PREFIX-p
lab_ns "$Q"
lab_ns "$P"
lab_link "$Q" "$P" 192.168.245.1/24,fd00:245::1/64 192.168.245.2/24,fd00:245::2/64

IFQ=$(lab_ifname w)   # the wg-quick interface: named after its .conf file
IFP=$(lab_ifname p)
PUB_Q=$(wg_genkey q)
PUB_P=$(wg_genkey p)
LAB_IFACES+=("$IFQ")

# The reference peer: wireguard-go, no endpoint configured (it learns Q's from the handshake).
start_wg "$WGGO_IMPL" "$P" "$IFP"
wg_conf "$P" "$IFP" "$(wg_keyfile p)" 51846 "$PUB_Q" - 10.245.0.1/32 fd10:245::1/128
tun_up "$P" "$IFP" 10.245.0.2/24 fd10:245::2/64

CONF="$LAB_TMP/$IFQ.conf"
(umask 077 && cat >"$CONF" <<EOF
[Interface]
PrivateKey = $(cat "$(wg_keyfile q)")
Address = 10.245.0.1/32, fd10:245::1/128
ListenPort = 51845

[Peer]
PublicKey = $PUB_P
Endpoint = 192.168.245.2:51846
AllowedIPs = 10.245.0.2/32, fd10:245::2/128
EOF
)

# wg-quick's output goes to a file, never to a pipe: the forked daemon inherits it.
log "wg-quick up $CONF (userspace implementation: $QVPN_WG_IMPL)"
if ! timeout 30 ip netns exec "$Q" env WG_QUICK_USERSPACE_IMPLEMENTATION="$QVPN_WG_IMPL" \
    LOG_LEVEL="${E2E_LOG_LEVEL:-debug}" wg-quick up "$CONF" >"$LAB_TMP/wg-quick-up.log" 2>&1; then
  fail "wg-quick up failed"
fi
pass "wg-quick up exited 0"
sed 's/^/  wg-quick: /' "$LAB_TMP/wg-quick-up.log" | grep -F '[#]' || true

assert_cmd "interface $IFQ exists in Q" ip -n "$Q" link show "$IFQ"
[[ -S $WG_SOCK_DIR/$IFQ.sock ]] || fail "no UAPI socket $WG_SOCK_DIR/$IFQ.sock after wg-quick up"
pass "UAPI socket $WG_SOCK_DIR/$IFQ.sock exists"
mapfile -t DAEMON_PIDS < <(ip netns pids "$Q")
[[ ${#DAEMON_PIDS[@]} -ge 1 ]] || fail "no daemon process left running in Q after wg-quick up"
for pid in "${DAEMON_PIDS[@]}"; do
  log "daemon in Q: pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
done

addrs=$(ip -n "$Q" addr show dev "$IFQ")
[[ $addrs == *"inet 10.245.0.1/32"* && $addrs == *"inet6 fd10:245::1/128"* ]] \
  || fail "wg-quick did not set the addresses on $IFQ: $addrs"
pass "addresses 10.245.0.1/32 and fd10:245::1/128 on $IFQ"
assert_cmd "route to 10.245.0.2 via $IFQ" bash -c "ip -n '$Q' route get 10.245.0.2 | grep -q 'dev $IFQ'"
assert_cmd "route to fd10:245::2 via $IFQ" bash -c "ip -n '$Q' -6 route get fd10:245::2 | grep -q 'dev $IFQ'"
assert_eq "listen port" 51845 "$(wgx "$Q" show "$IFQ" listen-port)"
# allowed_ips: "PEER<TAB>PREFIX..." with the prefixes sorted (the UAPI promises no order)
allowed_ips() {
  local out peer list
  out=$(wgx "$Q" show "$IFQ" allowed-ips) || fail "wg show $IFQ allowed-ips failed"
  read -r peer list <<<"$out"
  printf '%s\t%s\n' "$peer" "$(tr ' ' '\n' <<<"$list" | sort | tr '\n' ' ' | sed 's/ $//')"
}
assert_eq "peer and its allowed IPs" "$PUB_P	10.245.0.2/32 fd10:245::2/128" "$(allowed_ips)"

showconf=$(wgx "$Q" showconf "$IFQ") || fail "wg showconf $IFQ failed"
[[ $showconf == *"PublicKey = $PUB_P"* && $showconf == *"Endpoint = 192.168.245.2:51846"* \
   && $showconf == *"ListenPort = 51845"* ]] || fail "wg showconf $IFQ is incomplete: $showconf"
pass "wg showconf lists the interface and the peer"

ping_until "$Q" 10.245.0.2 20 || fail "no answer to ping 10.245.0.2 through $IFQ"
wait_handshake "$Q" "$IFQ" "$PUB_P" 10
wait_handshake "$P" "$IFP" "$PUB_Q" 10
pass "handshake Q -> P"
assert_cmd "ping Q -> P inner IPv4" ping_ok "$Q" 10.245.0.2
assert_cmd "ping Q -> P inner IPv6" ping_ok "$Q" fd10:245::2
assert_cmd "ping P -> Q inner IPv4" ping_ok "$P" 10.245.0.1
assert_cmd "ping P -> Q inner IPv6" ping_ok "$P" fd10:245::1
check_peer_dump "$Q" "$IFQ" "$PUB_P" 30 1 1

# wg syncconf: the same file plus one more allowed prefix.
ip netns exec "$Q" wg-quick strip "$CONF" >"$LAB_TMP/stripped.conf" || fail "wg-quick strip"
sed -i 's|^AllowedIPs = .*|&, 10.245.9.0/24|' "$LAB_TMP/stripped.conf"
wgx "$Q" syncconf "$IFQ" "$LAB_TMP/stripped.conf" || fail "wg syncconf $IFQ failed"
assert_eq "allowed IPs after wg syncconf" "$PUB_P	10.245.0.2/32 10.245.9.0/24 fd10:245::2/128" "$(allowed_ips)"
assert_cmd "ping Q -> P inner IPv4 after syncconf" ping_ok "$Q" 10.245.0.2

log "wg-quick down $CONF"
if ! timeout 30 ip netns exec "$Q" wg-quick down "$CONF" >"$LAB_TMP/wg-quick-down.log" 2>&1; then
  fail "wg-quick down failed: $(cat "$LAB_TMP/wg-quick-down.log")"
fi
pass "wg-quick down exited 0"
if ip -n "$Q" link show "$IFQ" >/dev/null 2>&1; then fail "$IFQ still exists after wg-quick down"; fi
pass "interface $IFQ removed"
gone=0
for ((i = 0; i < 50; i++)); do
  gone=1
  for pid in "${DAEMON_PIDS[@]}"; do lab_alive "$pid" && gone=0; done
  [[ $gone == 1 ]] && break
  sleep 0.1
done
[[ $gone == 1 ]] || fail "the daemon (pid ${DAEMON_PIDS[*]}) still runs 5 s after wg-quick down"
pass "daemon exited after wg-quick down"
[[ -z $(ip netns pids "$Q") ]] || fail "processes left in Q after wg-quick down: $(ip netns pids "$Q" | tr '\n' ' ')"
[[ ! -e $WG_SOCK_DIR/$IFQ.sock ]] || fail "UAPI socket $WG_SOCK_DIR/$IFQ.sock left after wg-quick down"
pass "UAPI socket removed"
