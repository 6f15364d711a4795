#!/usr/bin/env bash
# NAT lab case 4: two nodes on one LAN behind one router: they go direct over their LAN
# addresses (the router does not hairpin, so the mapped addresses would not work).
set -uo pipefail
# shellcheck source=tests/natlab/natlab.sh
source "$(dirname "$0")/natlab.sh"
natlab_init
natlab_router 1 easy
natlab_lan_node 1 3
natlab_relay_start
natlab_keys 1 3
natlab_config 1 3
natlab_config 3 1
natlab_node 1
natlab_node 3
natlab_ping 1 3
natlab_wait_path 1 3 direct 5
log "time to direct: $NL_WAITED s"
assert_eq "node 1 reaches node 3 at its LAN address" "192.168.1.3:$NL_PORT" "$(natlab_path 1 3 endpoint)"
natlab_wait_path 3 1 direct 5
assert_eq "node 3 reaches node 1 at its LAN address" "192.168.1.2:$NL_PORT" "$(natlab_path 3 1 endpoint)"
XFER_PORT=24104 xfer "${NL_NS[3]}" 10.77.0.3 "${NL_NS[1]}" 20000000
