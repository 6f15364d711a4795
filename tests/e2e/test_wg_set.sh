#!/usr/bin/env bash
# wg set on qvpn-wg, each change read back with `wg show`/`wg showconf` and, where it
# changes the protocol, proven against wireguard-go: a preshared key (mismatched, then
# matched), persistent keepalive, fwmark, replace-allowed-ips, peer removal, a new listen
# port, and removing the private key.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
lab_init
lab_impls

A="$LAB_PREFIX-a"
B="$LAB_PREFIX-b"
lab_ns "$A"
lab_ns "$B"
lab_link "$A" "$B" 192.168.243.1/24 192.168.243.2/24
IFA=$(lab_ifname a)   # qvpn-wg
IFB=$(lab_ifname b)   # wireguard-go
start_wg "$QVPN_WG_IMPL" "$A" "$IFA"
start_wg "$WGGO_IMPL" "$B" "$IFB"
PUB_A=$(wg_genkey a)
PUB_B=$(wg_genkey b)
wg_conf "$A" "$IFA" "$(wg_keyfile a)" 51910 "$PUB_B" 192.168.243.2:51911 10.243.0.2/32
wg_conf "$B" "$IFB" "$(wg_keyfile b)" 51911 "$PUB_A" 192.168.243.1:51910 10.243.0.1/32
tun_up "$A" "$IFA" 10.243.0.1/24
tun_up "$B" "$IFB" 10.243.0.2/24

showconf_has() {  # WHAT TEXT: `wg showconf` of A contains TEXT
  wgx "$A" showconf "$IFA" | grep -F -- "$2" >/dev/null || { wgx "$A" showconf "$IFA" >&2; fail "$1"; }
  pass "$1"
}
showconf_lacks() {
  ! wgx "$A" showconf "$IFA" | grep -F -- "$2" >/dev/null || { wgx "$A" showconf "$IFA" >&2; fail "$1"; }
  pass "$1"
}

# Preshared key: set on one side only, the handshake cannot complete; on both, it does.
(umask 077 && wg genpsk >"$LAB_TMP/psk")
wgx "$A" set "$IFA" peer "$PUB_B" preshared-key "$LAB_TMP/psk" || fail "wg set preshared-key"
showconf_has "showconf lists the preshared key" "PresharedKey = $(cat "$LAB_TMP/psk")"
ping_until "$A" 10.243.0.2 3 && fail "a handshake completed with mismatched preshared keys"
pass "mismatched preshared keys: no tunnel"
wgx "$B" set "$IFB" peer "$PUB_A" preshared-key "$LAB_TMP/psk" || fail "wg set psk on B"
ping_until "$A" 10.243.0.2 20 || fail "no tunnel with matching preshared keys"
pass "matching preshared keys: tunnel up"

# Persistent keepalive: shown, and keepalives arrive at wireguard-go without traffic.
wgx "$A" set "$IFA" peer "$PUB_B" persistent-keepalive 1 || fail "wg set persistent-keepalive"
showconf_has "showconf lists the keepalive" "PersistentKeepalive = 1"
rx0=$(wg_dump_peer "$B" "$IFB" "$PUB_A" | awk '{ print $6 }')
sleep 3.5
rx1=$(wg_dump_peer "$B" "$IFB" "$PUB_A" | awk '{ print $6 }')
assert_ge "wireguard-go received persistent keepalives (bytes)" $((rx0 + 2 * 32)) "$rx1"
wgx "$A" set "$IFA" peer "$PUB_B" persistent-keepalive off || fail "keepalive off"
showconf_lacks "keepalive off removes it" "PersistentKeepalive"

# fwmark.
wgx "$A" set "$IFA" fwmark 0x2a || fail "wg set fwmark"
showconf_has "showconf lists the fwmark" "FwMark = 0x2a"
ping_ok "$A" 10.243.0.2 || fail "ping with a fwmark set"
wgx "$A" set "$IFA" fwmark 0 || fail "wg set fwmark 0"
showconf_lacks "fwmark 0 removes it" "FwMark"

# Allowed IPs: add, then replace.
wgx "$A" set "$IFA" peer "$PUB_B" allowed-ips 10.243.0.2/32,10.99.0.0/16 || fail "allowed-ips"
showconf_has "both allowed IPs listed" "10.99.0.0/16"
wgx "$A" set "$IFA" peer "$PUB_B" allowed-ips 10.243.0.2/32 || fail "replace allowed-ips"
showconf_lacks "replace-allowed-ips dropped 10.99.0.0/16" "10.99.0.0/16"
ping_ok "$A" 10.243.0.2 || fail "ping after replacing allowed IPs"

# A new listen port: the peer follows us (roaming) after we send from it.
wgx "$A" set "$IFA" listen-port 51920 || fail "wg set listen-port"
assert_eq "listen port" 51920 "$(wgx "$A" show "$IFA" listen-port)"
ping_until "$A" 10.243.0.2 10 || fail "no tunnel after changing the listen port"
ep=$(wgx "$B" show "$IFB" endpoints | awk '{ print $2 }')
assert_eq "wireguard-go roamed to the new port" 192.168.243.1:51920 "$ep"

# Removing the peer: gone from the config, and traffic stops.
wgx "$A" set "$IFA" peer "$PUB_B" remove || fail "wg set peer remove"
showconf_lacks "removed peer is gone" "$PUB_B"
ping_ok "$A" 10.243.0.2 1 && fail "traffic still flows to a removed peer"
pass "no traffic to a removed peer"

# Removing the private key.
wgx "$A" set "$IFA" private-key /dev/null || fail "wg set private-key /dev/null"
wgx "$A" show "$IFA" private-key | grep "(none)" >/dev/null || fail "private key still set"
pass "private key removed"
