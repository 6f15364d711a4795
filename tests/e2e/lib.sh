# shellcheck shell=bash
# tests/e2e/lib.sh — helpers for the network-namespace labs (and bench/throughput.sh).
#
# Source it, then call lab_init. Everything the lab creates (namespaces, veths, daemons, helper
# processes, temp files) is registered here and torn down by one trap on EXIT/INT/TERM/HUP,
# whether the test passes, fails, hits an unexpected error or is interrupted.
#
# Names: every namespace is "$LAB_PREFIX-<name>" (LAB_PREFIX = qe<PID>), every veth
# "ve<PID><n>a|b", and tests name WireGuard interfaces with lab_ifname ("q<PID><tag>", <= 15
# chars). The PID keeps names unique across concurrent labs; /var/run/wireguard is global, so
# interface names must differ per daemon even in different namespaces.
#
# Environment understood by every lab:
#   QVPN_BIN, QVPN_WG_BIN, QVPN_BUILD   set by CTest (paths to qvpn, qvpn-wg, the build dir)
#   E2E_IMPL_OVERRIDE=PATH  run PATH wherever a lab would run qvpn-wg (e.g. /usr/bin/wireguard-go,
#                           to check the labs themselves while qvpn-wg is not ready)
#   E2E_WIREGUARD_GO=PATH   the reference peer (default: wireguard-go from PATH)
#   E2E_LOG_LEVEL=LEVEL     LOG_LEVEL given to the daemons (default debug)
#   E2E_KEEP_TMP=1          keep the temp dir (daemon logs, keys) after the test
#   E2E_LOG_LINES=N         lines of each log printed on failure (default 150)

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_ID=$$
LAB_PREFIX="qe${LAB_ID}"
LAB_NAME=${LAB_NAME:-$(basename "$0" .sh)}
WG_SOCK_DIR=/var/run/wireguard
LAB_NS=()          # namespaces created by this lab
LAB_PIDS=()        # background processes started by this lab
LAB_IFACES=()      # WireGuard interface names used by this lab
declare -A LAB_DAEMON_PID=()   # iface -> pid of its daemon
LAB_PASSED=0
LAB_FAILED=0
LAB_TMP=""
LAB_FAIL_MSG=""
LAB_ERR=""
LAB_LINKS=0
LAB_SUMMARY=${LAB_SUMMARY:-1}
LAB_T0=${EPOCHREALTIME}
LAB_MTU=${E2E_MTU:-1420}
LAB_PY=${E2E_PYTHON:-python3}

# ---------------------------------------------------------------------------------------------
# messages, assertions

lab_elapsed() { awk -v a="$LAB_T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '[%6ss] %s\n' "$(lab_elapsed)" "$*"; }

# fail MESSAGE: the test fails here; the EXIT trap prints the daemon logs and cleans up.
fail() {
  LAB_FAILED=$((LAB_FAILED + 1))
  LAB_FAIL_MSG="$*"
  printf '[%6ss] FAIL: %s\n' "$(lab_elapsed)" "$*" >&2
  exit 1
}

pass() {
  LAB_PASSED=$((LAB_PASSED + 1))
  log "ok: $*"
}

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() {
  if [[ "$2" == "$3" ]]; then
    pass "$1 ($3)"
  else
    fail "$1: expected '$2', got '$3'"
  fi
}

# assert_ge WHAT MIN ACTUAL (integers)
assert_ge() {
  [[ "$3" =~ ^-?[0-9]+$ ]] || fail "$1: not an integer: '$3'"
  if (( $3 >= $2 )); then pass "$1 ($3 >= $2)"; else fail "$1: expected >= $2, got $3"; fi
}

# assert_cmd WHAT CMD...: the command must succeed (its output is shown when it does not)
assert_cmd() {
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then
    pass "$what"
  else
    printf '%s\n' "$out" >&2
    fail "$what: command failed: $*"
  fi
}

# need_cmd CMD [DEBIAN_PACKAGE]: a missing tool is a failure (install it), never a skip.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 || fail "missing tool '$1' (apt-get install ${2:-$1}; see scripts/install-deps.sh)"
}

# ---------------------------------------------------------------------------------------------
# life cycle

# lab_init: skip (77) only when not root or /dev/net/tun is missing; create the temp dir; set the
# cleanup trap; remove leftovers of labs whose shell died without cleaning up (SIGKILL).
lab_init() {
  if [[ $EUID -ne 0 ]]; then
    echo "SKIP: $LAB_NAME needs root (network namespaces, TUN)"
    exit 77
  fi
  if [[ ! -c /dev/net/tun ]]; then
    echo "SKIP: $LAB_NAME needs /dev/net/tun"
    exit 77
  fi
  need_cmd ip iproute2
  need_cmd wg wireguard-tools
  need_cmd "$LAB_PY" python3
  need_cmd timeout coreutils
  LAB_TMP=$(mktemp -d "/tmp/${LAB_NAME}.XXXXXX")
  trap lab_cleanup EXIT
  trap 'lab_on_signal INT 130' INT
  trap 'lab_on_signal TERM 143' TERM
  trap 'lab_on_signal HUP 129' HUP
  set -E
  trap 'LAB_ERR="${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND"' ERR
  lab_sweep_stale
  log "$LAB_NAME: pid $LAB_ID, names ${LAB_PREFIX}-*, temp dir $LAB_TMP"
}

lab_on_signal() {
  LAB_FAIL_MSG="interrupted by SIG$1"
  echo "$LAB_NAME: interrupted by SIG$1" >&2
  exit "$2"
}

lab_alive() {  # PID: running (not a zombie)
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }   # the state follows "PID (COMM) ", and COMM may hold spaces
  st=${st%% *}
  [[ -n $st && $st != Z && $st != X ]]
}

# lab_kill_all SIG: signal every tracked pid and every process inside our namespaces.
lab_kill_all() {
  local pid ns
  for pid in "${LAB_PIDS[@]}"; do kill "-$1" "$pid" 2>/dev/null; done
  for ns in "${LAB_NS[@]}"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill "-$1" 2>/dev/null
  done
}

lab_any_alive() {
  local pid ns
  for pid in "${LAB_PIDS[@]}"; do lab_alive "$pid" && return 0; done
  for ns in "${LAB_NS[@]}"; do
    [[ -n $(ip netns pids "$ns" 2>/dev/null) ]] && return 0
  done
  return 1
}

lab_teardown() {
  local i ns iface pid
  lab_kill_all TERM
  for ((i = 0; i < 50; i++)); do lab_any_alive || break; sleep 0.1; done
  if lab_any_alive; then
    echo "$LAB_NAME: cleanup: processes survived SIGTERM for 5 s, sending SIGKILL" >&2
    lab_kill_all KILL
    for ((i = 0; i < 30; i++)); do lab_any_alive || break; sleep 0.1; done
  fi
  for pid in "${LAB_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for ns in "${LAB_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  # A daemon killed with SIGKILL leaves its UAPI socket behind; the names carry our PID.
  for iface in "${LAB_IFACES[@]}"; do rm -f "$WG_SOCK_DIR/$iface.sock"; done
  LAB_PIDS=()
  LAB_NS=()
}

lab_dump_logs() {
  local f
  [[ -n $LAB_TMP && -d $LAB_TMP ]] || return 0
  for f in "$LAB_TMP"/*.log; do
    [[ -e $f ]] || continue
    echo "----- ${f##*/} (last ${E2E_LOG_LINES:-150} lines) -----" >&2
    tail -n "${E2E_LOG_LINES:-150}" "$f" >&2
  done
  echo "----- end of logs -----" >&2
}

lab_cleanup() {
  local rc=$?
  set +e +E
  trap - ERR EXIT INT TERM HUP
  if [[ $rc -ne 0 && $rc -ne 77 ]]; then
    [[ -n $LAB_FAIL_MSG ]] || echo "FAIL: unexpected error (exit $rc) at ${LAB_ERR:-unknown command}" >&2
    [[ $LAB_FAILED -gt 0 ]] || LAB_FAILED=1
    lab_dump_logs
  fi
  lab_teardown
  if [[ -n $LAB_TMP ]]; then
    if [[ ${E2E_KEEP_TMP:-0} == 1 ]]; then echo "kept $LAB_TMP"; else rm -rf "$LAB_TMP"; fi
  fi
  if [[ $LAB_SUMMARY == 1 ]]; then
    printf '%s: %d passed, %d failed (%s s)\n' "$LAB_NAME" "$LAB_PASSED" "$LAB_FAILED" "$(lab_elapsed)"
  fi
  exit "$rc"
}

# Namespaces "qe<PID>-*" whose creator is gone are leftovers of a killed lab: remove them.
lab_sweep_stale() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
    [[ $ns =~ ^qe([0-9]+)- ]] || continue
    pid=${BASH_REMATCH[1]}
    [[ $pid == "$LAB_ID" ]] && continue
    lab_alive "$pid" && continue
    echo "$LAB_NAME: removing stale namespace $ns (its lab, pid $pid, is gone)" >&2
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    rm -f "$WG_SOCK_DIR/q${pid}"[a-z]*.sock   # its daemons' UAPI sockets (lab_ifname names)
  done
}

# bg_run LOGNAME CMD...: run CMD in the background, output to $LAB_TMP/LOGNAME.log, tracked;
# the pid is left in BG_PID.
bg_run() {
  local name=$1
  shift
  "$@" >"$LAB_TMP/$name.log" 2>&1 &
  BG_PID=$!
  LAB_PIDS+=("$BG_PID")
}

# ---------------------------------------------------------------------------------------------
# namespaces and links

# lab_ns NAME: create namespace NAME (which must start with "$LAB_PREFIX-"), lo up.
lab_ns() {
  [[ $1 == "$LAB_PREFIX"-* ]] || fail "lab_ns: namespace name '$1' must start with $LAB_PREFIX-"
  ip netns add "$1" || fail "ip netns add $1"
  LAB_NS+=("$1")
  ip -n "$1" link set lo up || fail "lo up in $1"
}

# lab_addrs NS DEV ADDR[,ADDR...]: add addresses (IPv6 with nodad) to DEV.
lab_addrs() {
  local ns=$1 dev=$2 a
  local -a list
  IFS=, read -r -a list <<<"$3"
  for a in "${list[@]}"; do
    if [[ $a == *:* ]]; then
      ip -n "$ns" -6 addr add "$a" dev "$dev" nodad || fail "add $a to $dev in $ns"
    else
      ip -n "$ns" addr add "$a" dev "$dev" || fail "add $a to $dev in $ns"
    fi
  done
}

# lab_link NS1 NS2 ADDRS1 ADDRS2: a veth pair between NS1 and NS2; ADDRS are comma-separated,
# e.g. 192.168.241.1/24,fd00:241::1/64. The device names are left in LAB_LINK_IF1/LAB_LINK_IF2.
lab_link() {
  local ns1=$1 ns2=$2 if1 if2
  LAB_LINKS=$((LAB_LINKS + 1))
  if1="ve${LAB_ID}${LAB_LINKS}a"
  if2="ve${LAB_ID}${LAB_LINKS}b"
  ip link add "$if1" netns "$ns1" type veth peer name "$if2" netns "$ns2" \
    || fail "veth $if1/$if2 between $ns1 and $ns2"
  lab_addrs "$ns1" "$if1" "$3"
  lab_addrs "$ns2" "$if2" "$4"
  ip -n "$ns1" link set "$if1" up || fail "$if1 up"
  ip -n "$ns2" link set "$if2" up || fail "$if2 up"
  # shellcheck disable=SC2034  # for the caller
  LAB_LINK_IF1=$if1 LAB_LINK_IF2=$if2
}

# ---------------------------------------------------------------------------------------------
# WireGuard daemons

# lab_ifname TAG: a unique interface name "q<PID><TAG>" (at most 15 characters).
lab_ifname() {
  local n="q${LAB_ID}$1"
  (( ${#n} <= 15 )) || fail "interface name $n is longer than 15 characters"
  printf '%s\n' "$n"
}

# lab_impls: resolve the two implementations into QVPN_WG_IMPL and WGGO_IMPL.
# E2E_IMPL_OVERRIDE replaces qvpn-wg (to run a lab with wireguard-go alone).
lab_impls() {
  WGGO_IMPL=${E2E_WIREGUARD_GO:-$(command -v wireguard-go || true)}
  [[ -n $WGGO_IMPL && -x $WGGO_IMPL ]] \
    || fail "wireguard-go not found (apt-get install wireguard-go, or set E2E_WIREGUARD_GO)"
  if [[ -n ${E2E_IMPL_OVERRIDE:-} ]]; then
    QVPN_WG_IMPL=$E2E_IMPL_OVERRIDE
    log "E2E_IMPL_OVERRIDE: running $QVPN_WG_IMPL wherever qvpn-wg would run"
  else
    QVPN_WG_IMPL=${QVPN_WG_BIN:-}
  fi
  [[ -n $QVPN_WG_IMPL ]] \
    || fail "QVPN_WG_BIN is not set (CTest sets it; by hand: QVPN_WG_BIN=build/qvpn-wg, or E2E_IMPL_OVERRIDE=/usr/bin/wireguard-go)"
  [[ -x $QVPN_WG_IMPL ]] || fail "qvpn-wg implementation '$QVPN_WG_IMPL' is not an executable file"
  log "implementations: qvpn-wg side = $QVPN_WG_IMPL, reference side = $WGGO_IMPL"
}

# start_wg_soft IMPL NS IFACE: like start_wg but returns 1 (with a message) instead of failing.
start_wg_soft() {
  local impl=$1 ns=$2 iface=$3 i pid log
  log="$LAB_TMP/daemon-$iface.log"
  LAB_IFACES+=("$iface")
  rm -f "$WG_SOCK_DIR/$iface.sock"   # a stale socket with our PID in its name is ours
  ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL="${E2E_LOG_LEVEL:-debug}" \
    "$impl" "$iface" >"$log" 2>&1 &
  pid=$!
  LAB_PIDS+=("$pid")
  LAB_DAEMON_PID[$iface]=$pid
  for ((i = 0; i < 200; i++)); do
    [[ -S $WG_SOCK_DIR/$iface.sock ]] && break
    if ! lab_alive "$pid"; then
      echo "start_wg: $impl $iface exited before creating its UAPI socket; its log:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.05
  done
  if [[ ! -S $WG_SOCK_DIR/$iface.sock ]]; then
    echo "start_wg: no $WG_SOCK_DIR/$iface.sock 10 s after starting $impl" >&2
    return 1
  fi
  if ! ip -n "$ns" link show "$iface" >/dev/null 2>&1; then
    echo "start_wg: $impl did not create interface $iface in $ns" >&2
    return 1
  fi
  log "started ${impl##*/} $iface in $ns (pid $pid)"
}

# start_wg IMPL NS IFACE: run IMPL (wireguard-go or qvpn-wg) in the foreground mode in the
# background inside NS, log to $LAB_TMP/daemon-IFACE.log; wait for its UAPI socket.
start_wg() {
  start_wg_soft "$@" || fail "could not start $1 $3 in $2"
}

daemon_pid() { printf '%s\n' "${LAB_DAEMON_PID[$1]:-}"; }

# stop_wg IFACE: SIGTERM its daemon, wait for the exit (SIGKILL after 5 s).
stop_wg() {
  local pid=${LAB_DAEMON_PID[$1]:-} i
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do lab_alive "$pid" || break; sleep 0.1; done
  if lab_alive "$pid"; then
    echo "stop_wg: daemon of $1 (pid $pid) ignored SIGTERM for 5 s, killing it" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null || true
  rm -f "$WG_SOCK_DIR/$1.sock"
  unset "LAB_DAEMON_PID[$1]"
}

# wgx NS ARGS...: `wg ARGS` inside NS, bounded in time (a hung daemon fails the test, not hangs it).
wgx() {
  local ns=$1
  shift
  timeout 10 ip netns exec "$ns" wg "$@"
}

# wg_genkey NAME: write $LAB_TMP/NAME.key (0600), print the public key.
wg_genkey() {
  local f="$LAB_TMP/$1.key"
  (umask 077 && wg genkey >"$f") || fail "wg genkey"
  wg pubkey <"$f"
}
wg_keyfile() { printf '%s\n' "$LAB_TMP/$1.key"; }

# qvpn_key NAME: write $LAB_TMP/NAME.key (0600) with `qvpn genkey`, print its public key
# from `qvpn pubkey` ($QVPN_BIN).
qvpn_key() {
  local f="$LAB_TMP/$1.key"
  (umask 077 && "${QVPN_BIN:?}" genkey >"$f") || fail "qvpn genkey"
  "$QVPN_BIN" pubkey <"$f" || fail "qvpn pubkey"
}

# qvpn_toml FILE IFACE KEYNAME PORT ADDRS PEERPUB ENDPOINT ALLOWED: a one-peer qvpn TOML
# config naming "KEYNAME.key" relative to FILE's folder (so keep FILE in $LAB_TMP). ADDRS and ALLOWED are comma-separated; PORT or
# ENDPOINT "-" leaves the line out.
qvpn_toml() {
  local file=$1 iface=$2 key=$3 port=$4 addrs=$5 peer=$6 ep=$7 allowed=$8
  toml_list() { sed 's/[^,][^,]*/"&"/g; s/,/, /g' <<<"$1"; }
  {
    printf '[interface]\nname = "%s"\nprivate_key_file = "%s"\n' "$iface" "$key.key"
    [[ $port == - ]] || printf 'listen_port = %s\n' "$port"
    printf 'address = [%s]\n\n[[peer]]\npublic_key = "%s"\n' "$(toml_list "$addrs")" "$peer"
    [[ $ep == - ]] || printf 'endpoint = "%s"\n' "$ep"
    printf 'allowed_ips = [%s]\n' "$(toml_list "$allowed")"
  } >"$file"
}

# wg_conf NS IFACE KEYFILE PORT PEERPUB ENDPOINT ALLOWED...: configure the interface and its one
# peer with `wg set`. ENDPOINT "-" means none (the peer's endpoint is learnt from its packets).
wg_conf() {
  local ns=$1 iface=$2 key=$3 port=$4 peer=$5 ep=$6 allowed
  shift 6
  allowed=$(IFS=,; printf '%s' "$*")
  local -a args=(set "$iface" private-key "$key" listen-port "$port" peer "$peer")
  [[ $ep == - || -z $ep ]] || args+=(endpoint "$ep")
  [[ -z $allowed ]] || args+=(allowed-ips "$allowed")
  wgx "$ns" "${args[@]}" || fail "wg ${args[*]} (in $ns)"
}

# tun_up NS IFACE ADDR...: addresses on the tunnel interface (IPv6 with nodad), MTU, up.
tun_up() {
  local ns=$1 iface=$2 a
  shift 2
  for a in "$@"; do lab_addrs "$ns" "$iface" "$a"; done
  ip -n "$ns" link set "$iface" mtu "$LAB_MTU" up || fail "$iface up in $ns"
}

# handshake_time NS IFACE PEERPUB: the peer's latest handshake (unix seconds, 0 = never).
handshake_time() {
  local out
  out=$(wgx "$1" show "$2" latest-handshakes) || return 1
  awk -v k="$3" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }' <<<"$out"
}

# wait_handshake NS IFACE PEERPUB TIMEOUT [AFTER]: wait until the latest handshake with PEERPUB
# is newer than AFTER (default 0 = any); its time is left in HS_TIME.
wait_handshake() {
  local ns=$1 iface=$2 peer=$3 timeout=$4 after=${5:-0} t end
  end=$((SECONDS + timeout))
  while :; do
    t=$(handshake_time "$ns" "$iface" "$peer") || t=0
    if [[ $t =~ ^[0-9]+$ ]] && (( t > after )); then
      # shellcheck disable=SC2034  # for the caller
      HS_TIME=$t
      return 0
    fi
    if (( SECONDS >= end )); then
      wgx "$ns" show "$iface" >&2 || true
      fail "no handshake on $iface (in $ns) with ${peer:0:8}… within ${timeout} s (newer than $after)"
    fi
    sleep 0.2
  done
}

# wg_dump_peer NS IFACE PEERPUB: the peer's line of `wg show IFACE dump`:
# pubkey psk endpoint allowed-ips latest-handshake rx-bytes tx-bytes keepalive
wg_dump_peer() {
  local out
  out=$(wgx "$1" show "$2" dump) || fail "wg show $2 dump (in $1) failed"
  awk -v k="$3" 'NR > 1 && $1 == k' <<<"$out"
}

# check_peer_dump NS IFACE PEERPUB MAXAGE MINRX MINTX: the dump lists the peer with a handshake
# younger than MAXAGE seconds and at least MINRX/MINTX bytes received/sent.
check_peer_dump() {
  local ns=$1 iface=$2 peer=$3 line hs rx tx now
  line=$(wg_dump_peer "$ns" "$iface" "$peer")
  [[ -n $line ]] || fail "wg show $iface dump does not list peer $peer"
  read -r _ _ _ _ hs rx tx _ <<<"$line"
  now=$(date +%s)
  [[ $hs =~ ^[0-9]+$ && $rx =~ ^[0-9]+$ && $tx =~ ^[0-9]+$ ]] || fail "$iface dump: unparsable peer line: $line"
  (( hs > 0 && now - hs < $4 )) || fail "$iface dump: handshake $((now - hs)) s old (want < $4 s): $line"
  (( rx >= $5 )) || fail "$iface dump: rx $rx bytes < $5: $line"
  (( tx >= $6 )) || fail "$iface dump: tx $tx bytes < $6: $line"
  pass "$iface dump: peer ${peer:0:8}… handshake $((now - hs)) s ago, rx $rx, tx $tx"
}

# ---------------------------------------------------------------------------------------------
# traffic

# ping_ok NS ADDR [COUNT]: COUNT (3) pings must all be answered.
ping_ok() {
  ip netns exec "$1" ping -n -q -c "${3:-3}" -i 0.2 -W 2 "$2"
}

# ping_until NS ADDR TIMEOUT: ping once a second until one answer (e.g. to trigger a handshake).
ping_until() {
  local end=$((SECONDS + $3))
  while (( SECONDS < end )); do
    ip netns exec "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

# xfer NS_SRV SRV_ADDR NS_CLI BYTES: a TCP transfer of BYTES deterministic pseudo-random bytes
# from NS_CLI to SRV_ADDR:XFER_PORT in NS_SRV; the sha256 and byte count seen by the receiver
# must equal those of the sender. Set XFER_PORT per test.
xfer() {
  local ns_srv=$1 addr=$2 ns_cli=$3 bytes=$4 port=${XFER_PORT:-24000} spid t0 t1 cli srv mbit
  XFER_N=$((${XFER_N:-0} + 1))
  bg_run "xfer-server-$XFER_N" ip netns exec "$ns_srv" "$LAB_PY" "$LAB_DIR/xfer.py" server "$addr" "$port"
  spid=$BG_PID
  t0=$EPOCHREALTIME
  # in the background + wait: a signal to the test interrupts the wait at once
  bg_run "xfer-client-$XFER_N" timeout "${XFER_TIMEOUT:-300}" ip netns exec "$ns_cli" \
    "$LAB_PY" "$LAB_DIR/xfer.py" client "$addr" "$port" "$bytes" "$XFER_N"
  wait "$BG_PID" || fail "xfer: client $ns_cli -> $addr:$port failed: $(cat "$LAB_TMP/xfer-client-$XFER_N.log")"
  cli=$(grep -E '^[0-9a-f]{64} [0-9]+$' "$LAB_TMP/xfer-client-$XFER_N.log" || true)
  [[ -n $cli ]] || fail "xfer: the client printed no digest: $(cat "$LAB_TMP/xfer-client-$XFER_N.log")"
  t1=$EPOCHREALTIME
  local i
  for ((i = 0; i < 100; i++)); do lab_alive "$spid" || break; sleep 0.1; done
  wait "$spid" || fail "xfer: server in $ns_srv failed: $(cat "$LAB_TMP/xfer-server-$XFER_N.log")"
  srv=$(grep -E '^[0-9a-f]{64} [0-9]+$' "$LAB_TMP/xfer-server-$XFER_N.log" || true)
  mbit=$(awk -v n="$bytes" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n * 8 / (b - a) / 1e6 }')
  log "xfer: $bytes bytes $ns_cli -> $addr in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s (~$mbit Mbit/s)"
  assert_eq "xfer $bytes B to $addr: receiver sha256+count = sender's" "$cli" "$srv"
}
