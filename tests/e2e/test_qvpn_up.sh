#!/usr/bin/env bash
# qvpn up / status / down in two namespaces: one node from a TOML config, one from a wg-quick
# .conf (named after its interface, as wg-quick does); ping over IPv4 and IPv6; `qvpn status --json`; `qvpn down` and SIGTERM remove the
# interface; bad configs and loose key files are refused before anything is created; the
# first run without a config creates a 0600 key and a default config.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
lab_init
QVPN=${QVPN_BIN:?QVPN_BIN is not set (CTest sets it)}

A="$LAB_PREFIX-a"
B="$LAB_PREFIX-b"
lab_ns "$A"
lab_ns "$B"
lab_link "$A" "$B" 192.168.242.1/24 192.168.242.2/24
IFA=$(lab_ifname a)
IFB=$(lab_ifname b)
LAB_IFACES+=("$IFA" "$IFB")

PUB_A=$(qvpn_key a)
PUB_B=$(qvpn_key b)
assert_eq "qvpn pubkey agrees with wg pubkey" "$(wg pubkey <"$LAB_TMP/a.key")" "$PUB_A"

qvpn_toml "$LAB_TMP/a.toml" "$IFA" a 51900 10.242.0.1/24,fd10:242::1/64 \
  "$PUB_B" 192.168.242.2:51901 10.242.0.2/32,fd10:242::2/128
cat >"$LAB_TMP/$IFB.conf" <<CONF
[Interface]
PrivateKey = $(cat "$LAB_TMP/b.key")
ListenPort = 51901
Address = 10.242.0.2/24, fd10:242::2/64

[Peer]
PublicKey = $PUB_A
AllowedIPs = 10.242.0.1/32, fd10:242::1/128
Endpoint = 192.168.242.1:51900
CONF
chmod 600 "$LAB_TMP/$IFB.conf"

wait_link() {  # NS IFACE: until the interface exists (5 s)
  local i
  for i in $(seq 50); do
    ip -n "$1" link show "$2" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
wait_gone() {  # NS IFACE PID: until the interface is gone and PID has exited (10 s)
  local i
  for i in $(seq 100); do
    if ! ip -n "$1" link show "$2" >/dev/null 2>&1 && ! lab_alive "$3"; then return 0; fi
    sleep 0.1
  done
  return 1
}

bg_run up-a ip netns exec "$A" "$QVPN" up -c "$LAB_TMP/a.toml"
PID_A=$BG_PID
bg_run up-b ip netns exec "$B" "$QVPN" up -c "$LAB_TMP/$IFB.conf"
PID_B=$BG_PID
wait_link "$A" "$IFA" || fail "qvpn up (TOML) did not create $IFA"
wait_link "$B" "$IFB" || fail "qvpn up (wg-quick .conf) did not create $IFB"
pass "qvpn up created both interfaces"

assert_cmd "MTU 1420 set through rtnetlink" \
  bash -c "ip -n $A link show $IFA | grep -q 'mtu 1420'"
assert_cmd "route for the peer's allowed IPs installed" \
  bash -c "ip -n $A route show dev $IFA | grep -q '10.242.0.2'"

ping_until "$A" 10.242.0.2 10 || fail "no IPv4 ping through the tunnel"
ping_ok "$A" 10.242.0.2 || fail "IPv4 ping A -> B"
ping_ok "$B" fd10:242::1 || fail "IPv6 ping B -> A"
pass "ping over IPv4 and IPv6"

ip netns exec "$A" "$QVPN" status --json "$IFA" >"$LAB_TMP/status.json" \
  || fail "qvpn status --json failed"
"$LAB_PY" - "$LAB_TMP/status.json" "$PUB_B" <<'PY' || fail "qvpn status --json content"
import json, sys
s = json.load(open(sys.argv[1]))
iface = s["interfaces"][0]
peer = iface["peers"][0]
assert peer["public_key"] == sys.argv[2], peer
assert peer["latest_handshake_age_seconds"] is not None and peer["latest_handshake_age_seconds"] < 30, peer
assert peer["rx_bytes"] > 0 and peer["tx_bytes"] > 0, peer
assert iface["counters"]["handshakes_completed"] >= 1, iface["counters"]
assert iface["listen_port"] == 51900, iface
PY
pass "qvpn status --json shows the peer with a recent handshake and traffic"
ip netns exec "$A" "$QVPN" status "$IFA" | grep "latest handshake" >/dev/null \
  || fail "qvpn status (text) shows no handshake"
ip netns exec "$A" wg show "$IFA" | grep "$PUB_B" >/dev/null || fail "wg show does not list the peer"
pass "qvpn status (text) and wg show"

ip netns exec "$A" "$QVPN" down "$IFA" || fail "qvpn down $IFA failed"
wait_gone "$A" "$IFA" "$PID_A" || fail "qvpn down left $IFA or the process behind"
[[ ! -e $WG_SOCK_DIR/$IFA.sock ]] || fail "qvpn down left the UAPI socket"
pass "qvpn down removed the interface, the socket and the process"

kill -TERM "$PID_B"
wait_gone "$B" "$IFB" "$PID_B" || fail "SIGTERM left $IFB or the process behind"
pass "SIGTERM removed the interface"

# Bad input: refused with file, line and key; nothing created.
IFC=$(lab_ifname c)
LAB_IFACES+=("$IFC")
printf '[interface]\nname = "%s"\nprivate_key_file = "a.key"\nlisten_prot = 5\n' "$IFC" \
  >"$LAB_TMP/bad.toml"
out=$(ip netns exec "$A" "$QVPN" up -c "$LAB_TMP/bad.toml" 2>&1) && fail "bad config accepted"
[[ $out == *bad.toml:4* && $out == *listen_prot* ]] || fail "error does not name file:line and key: $out"
ip -n "$A" link show "$IFC" >/dev/null 2>&1 && fail "a refused config still created $IFC"
pass "unknown key refused with file:line and key: $out"

cp "$LAB_TMP/a.key" "$LAB_TMP/loose.key"
chmod 644 "$LAB_TMP/loose.key"
sed "s/a.key/loose.key/; s/$IFA/$IFC/" "$LAB_TMP/a.toml" >"$LAB_TMP/loose.toml"
out=$(ip netns exec "$A" "$QVPN" up -c "$LAB_TMP/loose.toml" 2>&1) && fail "loose key accepted"
[[ $out == *"chmod 600"* && $out == *loose.key* ]] || fail "loose key error lacks the fix: $out"
ip -n "$A" link show "$IFC" >/dev/null 2>&1 && fail "a refused key file still created $IFC"
pass "key file readable by others refused with the fix"

# First run: no config yet. The default name is the first free qvpnN in this namespace,
# but UAPI sockets are global: hold the names whose sockets nodes elsewhere already use.
n=0
while [[ -e $WG_SOCK_DIR/qvpn$n.sock ]]; do
  ip -n "$A" tuntap add "qvpn$n" mode tun || fail "placeholder qvpn$n"
  n=$((n + 1))
done
bg_run first-run ip netns exec "$A" "$QVPN" up -c "$LAB_TMP/fresh/qvpn.toml"
PID_F=$BG_PID
for _ in $(seq 50); do grep -q "is up" "$LAB_TMP/first-run.log" && break; sleep 0.1; done
grep -q "public key" "$LAB_TMP/first-run.log" || fail "first run printed no public key"
grep -q "\[\[peer\]\]" "$LAB_TMP/first-run.log" || fail "first run did not say how to add a peer"
assert_eq "first-run key file mode" 600 "$(stat -c %a "$LAB_TMP/fresh/private.key")"
IFF=$(sed -n 's/^qvpn: \([^ ]*\) is up.*/\1/p' "$LAB_TMP/first-run.log")
[[ -n $IFF ]] || fail "first run did not report its interface"
LAB_IFACES+=("$IFF")
kill -INT "$PID_F"
wait_gone "$A" "$IFF" "$PID_F" || fail "SIGINT left $IFF behind"
pass "first run created a 0600 key and a default config; SIGINT cleaned up"
