#!/usr/bin/env bash
# NAT lab case 7: STUN against coturn, both ways. Our STUN server (the relay's) answers
# coturn's turnutils_stunclient with the client's mapping through its NAT; `qvpn netcheck`
# reads the right mapping from coturn's turnserver, and tells an easy NAT from a hard one
# with the relay's two addresses.
set -uo pipefail
# shellcheck source=tests/natlab/natlab.sh
source "$(dirname "$0")/natlab.sh"
natlab_init
need_cmd turnserver coturn
need_cmd turnutils_stunclient coturn
natlab_router 1 easy
natlab_router 2 hard
natlab_relay_start
lab_addrs "$NL_INET" lo 44.0.0.3/32
bg_run coturn ip netns exec "$NL_INET" turnserver --stun-only -L 44.0.0.3 --listening-port 3479 \
  --no-cli --log-file stdout --simple-log
sleep 1

out=$(ip netns exec "${NL_NS[1]}" timeout 10 turnutils_stunclient -p 3478 44.0.0.1 2>&1)
log "turnutils_stunclient -> our STUN server: $(grep -m1 'reflexive' <<<"$out")"
grep -q 'UDP reflexive addr: 44.1.0.2:' <<<"$out" || fail "coturn's client did not get node 1's mapping from us: $out"
pass "our STUN server answers turnutils_stunclient with the router's WAN address"

natlab_keys 1 2
netcheck() {  # N STUN...: qvpn netcheck --json in node N's namespace against those servers
  local n=$1 list
  shift
  list=$(printf '"%s", ' "$@")
  printf '[interface]\nprivate_key_file = "n%s.key"\n\n[[relay]]\nname = "lab"\naddress = "%s"\nstun = [%s]\n' \
    "$n" "$NL_RELAY" "${list%, }" >"$LAB_TMP/netcheck$n.toml"
  ip netns exec "${NL_NS[$n]}" timeout 20 "$QVPN" netcheck -c "$LAB_TMP/netcheck$n.toml" --json
}
field() { "$LAB_PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

report=$(netcheck 1 44.0.0.3:3479) || fail "netcheck against coturn failed: $report"
log "netcheck via coturn: $(tr -d '\n ' <<<"$report")"
assert_eq "our STUN client reads node 1's mapping from coturn" 44.1.0.2 "$(field mapped_endpoint <<<"$report" | cut -d: -f1)"

report=$(netcheck 1 44.0.0.1:3478 44.0.0.2:3478) || fail "netcheck failed: $report"
assert_eq "easy NAT: the mapping does not vary by destination" False "$(field mapping_varies_by_destination <<<"$report")"
report=$(netcheck 2 44.0.0.1:3478 44.0.0.2:3478) || fail "netcheck failed: $report"
log "netcheck behind the hard NAT: $(tr -d '\n ' <<<"$report")"
assert_eq "hard NAT: the mapping varies by destination" True "$(field mapping_varies_by_destination <<<"$report")"
