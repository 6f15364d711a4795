#pragma once
// Runs a node until SIGINT/SIGTERM or until its interface is deleted: the Asio loop, the
// UAPI socket and the signal handling shared by `qvpn up` and `qvpn-wg`.
#include <functional>
#include <optional>
#include <string>

#include "core/config.h"
#include "core/node.h"

namespace qvpn::core {

struct NodeRunOptions {
  std::string ifname;                   // exact name or pattern; "" = qvpn%d
  std::optional<Config> config;         // applied before ready (qvpn up); none for qvpn-wg
  std::function<void(const std::string& ifname, uint16_t port)> on_ready;  // may be empty
};

// The data path options: the config's (defaults without one), overridden by the
// environment: QVPN_OFFLOAD=0 switches the offloads off, QVPN_THREADS=N sets the crypto cores.
DataPathOptions data_path_options(const std::optional<Config>& config);

// Returns the process exit code. Errors before ready are printed and return 1.
int run_node(const NodeRunOptions& options);

}  // namespace qvpn::core
