#pragma once
// `qvpn ping` (disco ping through a running node, on the peer's current path) and
// `qvpn netcheck` (this machine's view of the network: STUN mappings, NAT kind, relays).
#include "cli/commands.h"

namespace qvpn::cli {

int cmd_ping(const Args& args);
int cmd_netcheck(const Args& args);

}  // namespace qvpn::cli
