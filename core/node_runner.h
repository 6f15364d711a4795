#pragma once
// Runs a node until SIGINT/SIGTERM or until its interface is deleted: the Asio loop, the
// UAPI socket and the signal handling shared by `qvpn up` and `qvpn-wg`.
#include <functional>
#include <optional>
#include <string>

#include "core/config.h"

namespace qvpn::core {

struct NodeRunOptions {
  std::string ifname;                   // exact name or pattern; "" = qvpn%d
  std::optional<Config> config;         // applied before ready (qvpn up); none for qvpn-wg
  std::function<void(const std::string& ifname, uint16_t port)> on_ready;  // may be empty
};

// Returns the process exit code. Errors before ready are printed and return 1.
int run_node(const NodeRunOptions& options);

}  // namespace qvpn::core
