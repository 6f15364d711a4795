# shellcheck shell=bash
# tests/natlab/natlab.sh — the NAT-traversal lab (CTest label natlab), on top of tests/e2e/lib.sh.
#
#   inet   "the internet": a core router, and the relay (`qvpn relay serve`) on two
#          addresses of its lo, 44.0.0.1 and 44.0.0.2 (public-looking, as miniupnpd
#          insists; the lab has no route off the machine)
#   rN     node N's home router: WAN 44.N.0.2/24 towards inet (44.N.0.1), LAN 192.168.N.1/24,
#          iptables NAT on the WAN: "easy" = MASQUERADE (endpoint-independent mapping),
#          "hard" = MASQUERADE --random-fully (a new port per destination), "upnp" = that
#          hard NAT plus the real miniupnpd (UPnP IGD, NAT-PMP, PCP) on the LAN
#   nN     node N's LAN namespace, 192.168.N.2/24, running `qvpn up` with tunnel address
#          10.77.0.N; a second node on the same LAN (natlab_lan_node) is 192.168.N.3
# Packets between two routers cross inet, one router hop, as LAB-NOTES.md requires for
# Linux NAT to behave as it does on the real Internet.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

NL_INET="$LAB_PREFIX-inet"
NL_RELAY="44.0.0.1:8443"
NL_PORT=41641
declare -A NL_WAN=() NL_LAN=() NL_NS=() NL_IF=() NL_PUB=() NL_PID=()
QVPN=${QVPN_BIN:?QVPN_BIN is not set (CTest sets it)}

natlab_init() {
  lab_init
  need_cmd iptables iptables
  need_cmd curl curl
  lab_ns "$NL_INET"
  ip netns exec "$NL_INET" sysctl -qw net.ipv4.ip_forward=1
  lab_addrs "$NL_INET" lo 44.0.0.1/32,44.0.0.2/32
}

# natlab_router N easy|hard: router rN behind inet, with node namespace nN on its LAN.
natlab_router() {
  local n=$1 kind=$2 r="$LAB_PREFIX-r$1" node="$LAB_PREFIX-n$1"
  lab_ns "$r"
  lab_ns "$node"
  lab_link "$NL_INET" "$r" "44.$n.0.1/24" "44.$n.0.2/24"
  NL_WAN[$n]=$LAB_LINK_IF2
  # The LAN is a bridge inside the router, so a second node can join it (natlab_lan_node).
  ip -n "$r" link add br0 type bridge || fail "bridge in $r"
  lab_addrs "$r" br0 "192.168.$n.1/24"
  ip -n "$r" link set br0 up || fail "br0 up in $r"
  lab_link "$r" "$node" "" "192.168.$n.2/24"
  ip -n "$r" link set "$LAB_LINK_IF1" master br0 || fail "LAN port on br0 in $r"
  NL_LAN[$n]=br0
  ip -n "$r" route add default via "44.$n.0.1" || fail "default route in $r"
  ip -n "$node" route add default via "192.168.$n.1" || fail "default route in $node"
  ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
  local -a masq=(-t nat -A POSTROUTING -o "${NL_WAN[$n]}" -j MASQUERADE)
  [[ $kind != easy ]] && masq+=(--random-fully)
  if [[ $kind == upnp ]]; then
    natlab_miniupnpd "$n" "${masq[@]}"
  else
    ip netns exec "$r" iptables "${masq[@]}" || fail "NAT on $r"
  fi
  NL_NS[$n]=$node
}

# natlab_miniupnpd N MASQUERADE-RULE...: miniupnpd on router N (LAB-NOTES.md). It writes its
# rules with iptables-legacy, so its chains are made there, and the hard NAT goes there too,
# after miniupnpd's POSTROUTING chain: then a mapped port keeps its number on the way out
# (miniupnpd adds a MASQUERADE --to-ports for it), which an nft rule would take first.
natlab_miniupnpd() {
  local n=$1 r="$LAB_PREFIX-r$1" wan=${NL_WAN[$1]} conf="$LAB_TMP/miniupnpd$1.conf"
  shift
  need_cmd miniupnpd miniupnpd-iptables
  need_cmd iptables-legacy iptables
  local -a ipt=(ip netns exec "$r" iptables-legacy)
  "${ipt[@]}" -t nat -N MINIUPNPD &&
    "${ipt[@]}" -t nat -A PREROUTING -i "$wan" -j MINIUPNPD &&
    "${ipt[@]}" -t filter -N MINIUPNPD &&
    "${ipt[@]}" -t filter -A FORWARD -i "$wan" ! -o "$wan" -j MINIUPNPD &&
    "${ipt[@]}" -t nat -N MINIUPNPD-POSTROUTING &&
    "${ipt[@]}" -t nat -I POSTROUTING -o "$wan" -j MINIUPNPD-POSTROUTING &&
    "${ipt[@]}" "$@" || fail "miniupnpd's chains on $r"
  cat >"$conf" <<CONF
ext_ifname=$wan
listening_ip=br0
port=5000
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=yes
uuid=3d3cec3a-8cf0-11e0-98ee-00000000000$n
allow 1024-65535 192.168.$n.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
  bg_run "miniupnpd$n" ip netns exec "$r" miniupnpd -f "$conf" -d -P "$LAB_TMP/miniupnpd$n.pid"
  sleep 0.5
  lab_alive "$BG_PID" || fail "miniupnpd did not start: $(cat "$LAB_TMP/miniupnpd$n.log")"
}

# natlab_lan_node N M: node M joins node N's LAN as 192.168.N.M (behind the same router).
natlab_lan_node() {
  local n=$1 m=$2 r="$LAB_PREFIX-r$1" node="$LAB_PREFIX-n$2"
  lab_ns "$node"
  lab_link "$r" "$node" "" "192.168.$n.$m/24"
  ip -n "$r" link set "$LAB_LINK_IF1" master br0 || fail "LAN port on br0 in $r"
  ip -n "$node" route add default via "192.168.$n.1" || fail "default route in $node"
  NL_NS[$m]=$node
}

# natlab_relay_start: the relay in inet; waits until it answers /healthz.
natlab_relay_start() {
  bg_run relay ip netns exec "$NL_INET" "$QVPN" relay serve --listen "$NL_RELAY" --stun-port 3478
  NL_RELAY_PID=$BG_PID
  local i
  for ((i = 0; i < 50; i++)); do
    natlab_health >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "the relay did not come up: $(cat "$LAB_TMP/relay.log")"
}

natlab_relay_stop() {
  kill "$NL_RELAY_PID" 2>/dev/null
  wait "$NL_RELAY_PID" 2>/dev/null
}

# natlab_health [FIELD]: the relay's /healthz JSON, or one field of it.
natlab_health() {
  local json
  json=$(ip netns exec "$NL_INET" curl -sf --max-time 2 "http://$NL_RELAY/healthz") || return 1
  if [[ -n ${1:-} ]]; then
    "$LAB_PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" <<<"$json"
  else
    printf '%s\n' "$json"
  fi
}

# natlab_keys N...: a key pair for each node.
natlab_keys() {
  local n
  for n in "$@"; do
    NL_PUB[$n]=$(qvpn_key "n$n")
    NL_IF[$n]=$(lab_ifname "n$n")
    LAB_IFACES+=("${NL_IF[$n]}")
  done
}

# natlab_config N PEER[:POLICY]...: node N's TOML, one [[peer]] per PEER.
natlab_config() {
  local n=$1 spec peer policy
  shift
  {
    printf '[interface]\nname = "%s"\nprivate_key_file = "n%s.key"\nlisten_port = %s\n' \
      "${NL_IF[$n]}" "$n" "$NL_PORT"
    printf 'address = ["10.77.0.%s/24"]\n\n' "$n"
    printf '[[relay]]\nname = "lab"\naddress = "%s"\nstun = ["44.0.0.1:3478", "44.0.0.2:3478"]\n\n' "$NL_RELAY"
    for spec in "$@"; do
      peer=${spec%%:*}
      policy=auto
      [[ $spec == *:* ]] && policy=${spec#*:}
      printf '[[peer]]\npublic_key = "%s"\nallowed_ips = ["10.77.0.%s/32"]\npath = "%s"\n\n' \
        "${NL_PUB[$peer]}" "$peer" "$policy"
    done
  } >"$LAB_TMP/n$n.toml"
}

# natlab_node N: runs node N's qvpn up in its namespace (natlab_config first).
natlab_node() {
  local n=$1 i
  bg_run "node$n" ip netns exec "${NL_NS[$n]}" "$QVPN" up -c "$LAB_TMP/n$n.toml"
  NL_PID[$n]=$BG_PID
  for ((i = 0; i < 100; i++)); do
    grep -q " is up" "$LAB_TMP/node$n.log" 2>/dev/null && return 0
    lab_alive "${NL_PID[$n]}" || break
    sleep 0.1
  done
  fail "node $n did not come up: $(cat "$LAB_TMP/node$n.log")"
}

# natlab_path N PEER [FIELD]: node N's path to PEER, as "type" (default) or another field.
natlab_path() {
  "$QVPN" status "${NL_IF[$1]}" --json 2>/dev/null | "$LAB_PY" -c '
import json, sys
key, field = sys.argv[1], sys.argv[2]
for i in json.load(sys.stdin)["interfaces"]:
    for p in i["peers"]:
        if p["public_key"] == key:
            print((p.get("path") or {}).get(field, ""))
' "${NL_PUB[$2]}" "${3:-type}"
}

# natlab_counter N NAME: one of node N's counters.
natlab_counter() {
  "$QVPN" status "${NL_IF[$1]}" --json 2>/dev/null | "$LAB_PY" -c '
import json, sys
print(json.load(sys.stdin)["interfaces"][0]["counters"].get(sys.argv[1], ""))' "$2"
}

# natlab_wait_path N PEER TYPE SECONDS: until node N's path to PEER is TYPE; the time it took
# is left in NL_WAITED (seconds, one decimal).
natlab_wait_path() {
  local n=$1 peer=$2 want=$3 limit=$4 t0=$EPOCHREALTIME got=""
  while :; do
    got=$(natlab_path "$n" "$peer")
    [[ $got == "$want" ]] && break
    if awk -v a="$t0" -v b="$EPOCHREALTIME" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
      fail "node $n -> $peer: path still '$got' after ${limit}s, want $want ($(natlab_path "$n" "$peer" reason))"
    fi
    sleep 0.1
  done
  NL_WAITED=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
}

# natlab_ping N PEER: the tunnel works from node N to PEER (ICMP over the tunnel, 10 s).
natlab_ping() {
  ping_until "${NL_NS[$1]}" "10.77.0.$2" 10 || fail "no ping over the tunnel from node $1 to 10.77.0.$2"
}

# natlab_pair KIND1 KIND2: the usual lab — nodes 1 and 2 behind routers of those kinds, the
# relay, each node the other's only peer, both up and the tunnel carrying traffic.
natlab_pair() {
  natlab_init
  natlab_router 1 "$1"
  natlab_router 2 "$2"
  natlab_relay_start
  natlab_keys 1 2
  natlab_config 1 2
  natlab_config 2 1
  natlab_node 1
  natlab_node 2
  natlab_ping 1 2
}
