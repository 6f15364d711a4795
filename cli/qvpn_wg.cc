// qvpn-wg IFACE: a drop-in for `wireguard-go IFACE`. It creates the interface, serves the
// UAPI socket and is configured only through it (wg, wg-quick), e.g.
//   WG_QUICK_USERSPACE_IMPLEMENTATION=qvpn-wg wg-quick up wg0
#include <fmt/core.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "core/node_runner.h"
#include "platform/daemon.h"

namespace {

void usage() {
  fmt::print(stderr, "Usage: qvpn-wg [-f/--foreground] INTERFACE-NAME\n");
}

}  // namespace

int main(int argc, char** argv) {
  bool foreground = false;
  std::string ifname;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-f" || a == "--foreground") {
      foreground = true;
    } else if (a == "--version") {
      fmt::print("qvpn-wg 0.1.0 (WireGuard cross-platform userspace API)\n");
      return 0;
    } else if (ifname.empty() && !a.starts_with('-')) {
      ifname = a;
    } else {
      usage();
      return 1;
    }
  }
  if (ifname.empty()) {
    usage();
    return 1;
  }
  if (const char* env = std::getenv("WG_PROCESS_FOREGROUND"); env && std::strcmp(env, "1") == 0) {
    foreground = true;
  }

  std::optional<qvpn::platform::Daemon> daemon;
  if (!foreground) daemon = qvpn::platform::Daemon::start();
  qvpn::core::NodeRunOptions options;
  options.ifname = ifname;
  options.on_ready = [&](const std::string& name, uint16_t) {
    fmt::print(stderr, "qvpn-wg: {} is up\n", name);
    if (daemon) daemon->ready();
  };
  return qvpn::core::run_node(options);
}
