#pragma once
// `qvpn relay serve`: runs a relay (core/relay_server.h) and its STUN port.
#include "cli/commands.h"

namespace qvpn::cli {

int cmd_relay(const Args& args);

}  // namespace qvpn::cli
